// Q4_K: 144 bytes per 256 values. f16 d, f16 dmin, 12 bytes of 6-bit scales and mins for
// 8 sub-blocks of 32, then 128 bytes: each 64 values take 32 bytes, low nibbles first.
// value = d * scale * q - dmin * min.
const BLOCK: u32 = 256u;
const BLOCK_BYTES: u32 = 144u;

fn block_group8(off: u32, j: u32) -> Eight {
    let chunk = j >> 3u;
    let upper = (j >> 2u) & 1u;
    let sm = k_group_scale_min(off, j);
    let scale = sm.x;
    let min = sm.y;
    let q = off + 16u + chunk * 32u + (j & 3u) * 8u;
    let a = (u32_at(q) >> (upper * 4u)) & 0x0f0f0f0fu;
    let b = (u32_at(q + 4u) >> (upper * 4u)) & 0x0f0f0f0fu;
    return Eight(scale * bytes4(a) - min, scale * bytes4(b) - min);
}
