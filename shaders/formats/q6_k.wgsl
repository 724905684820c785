// Q6_K: 210 bytes per 256 values. 128 bytes of low nibbles, 64 bytes of 2-bit highs,
// 16 signed 8-bit scales (one per 16 values), f16 d; value = d * scale * (q - 32).
// Within each half of 128 values, quarter `qd` of 32 takes the low (qd < 2) or high
// nibbles of bytes 32 * (qd & 1) + l, and bits 2 * qd of high byte l.
const BLOCK: u32 = 256u;
const BLOCK_BYTES: u32 = 210u;

fn block_group8(off: u32, j: u32) -> Eight {
    let half = j >> 4u;
    let qd = (j >> 2u) & 3u;
    let l = (j & 3u) * 8u;
    let scale = f16_at(off + 208u) * i8_at(off + 192u + half * 8u + (l >> 4u) + qd * 2u);
    let low = off + half * 64u + (qd & 1u) * 32u + l;
    let high = off + 128u + half * 32u + l;
    let lshift = (qd >> 1u) * 4u;
    let a = ((u32_at(low) >> lshift) & 0x0f0f0f0fu) | (((u32_at(high) >> (qd * 2u)) & 0x03030303u) << 4u);
    let b = ((u32_at(low + 4u) >> lshift) & 0x0f0f0f0fu) | (((u32_at(high + 4u) >> (qd * 2u)) & 0x03030303u) << 4u);
    return Eight(scale * (bytes4(a) - 32.0), scale * (bytes4(b) - 32.0));
}
