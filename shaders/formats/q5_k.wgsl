// Q5_K: 176 bytes per 256 values. As Q4_K, with 32 bytes of fifth bits after the scales:
// bit (2 * chunk + upper) of byte l is the fifth bit of value l of that 32.
const BLOCK: u32 = 256u;
const BLOCK_BYTES: u32 = 176u;

fn block_group8(off: u32, j: u32) -> Eight {
    let chunk = j >> 3u;
    let upper = (j >> 2u) & 1u;
    let sm = k_group_scale_min(off, j);
    let scale = sm.x;
    let min = sm.y;
    let l = (j & 3u) * 8u;
    let bit = chunk * 2u + upper;
    let ha = ((u32_at(off + 16u + l) >> bit) & 0x01010101u) << 4u;
    let hb = ((u32_at(off + 20u + l) >> bit) & 0x01010101u) << 4u;
    let q = off + 48u + chunk * 32u + l;
    let a = ((u32_at(q) >> (upper * 4u)) & 0x0f0f0f0fu) | ha;
    let b = ((u32_at(q + 4u) >> (upper * 4u)) & 0x0f0f0f0fu) | hb;
    return Eight(scale * bytes4(a) - min, scale * bytes4(b) - min);
}
