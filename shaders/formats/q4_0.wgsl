// Q4_0: 18 bytes per 32 values. f16 d, then 16 bytes: value i < 16 is the low nibble of
// byte i, value i >= 16 the high nibble of byte i - 16; value = d * (q - 8).
const BLOCK: u32 = 32u;
const BLOCK_BYTES: u32 = 18u;

fn block_group8(off: u32, j: u32) -> Eight {
    let d = f16_at(off);
    let q = off + 2u + (j & 1u) * 8u;
    let shift = (j >> 1u) * 4u;
    let a = (u32_at(q) >> shift) & 0x0f0f0f0fu;
    let b = (u32_at(q + 4u) >> shift) & 0x0f0f0f0fu;
    return Eight(d * (bytes4(a) - 8.0), d * (bytes4(b) - 8.0));
}
