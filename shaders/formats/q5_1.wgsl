// Q5_1: 24 bytes per 32 values. f16 d, f16 m, a u32 of fifth bits, then nibbles as in
// Q4_0; value = d * q + m.
const BLOCK: u32 = 32u;
const BLOCK_BYTES: u32 = 24u;

fn block_group8(off: u32, j: u32) -> Eight {
    let d = f16_at(off);
    let m = f16_at(off + 2u);
    let high = u32_at(off + 4u) >> (j * 8u);
    let q = off + 8u + (j & 1u) * 8u;
    let shift = (j >> 1u) * 4u;
    let a = (u32_at(q) >> shift) & 0x0f0f0f0fu;
    let b = (u32_at(q + 4u) >> shift) & 0x0f0f0f0fu;
    return Eight(
        d * (bytes4(a) + fifth_bits(high)) + m,
        d * (bytes4(b) + fifth_bits(high >> 4u)) + m,
    );
}
