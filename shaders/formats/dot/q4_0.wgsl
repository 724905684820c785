// Appended to linear.wgsl for Q4_0: a block's 32 values times x, its scale read once:
// d * (sum q x - 8 sum x).
fn block_dot(off: u32, xo: u32) -> f32 {
    let sums = nibble_dot(off + 2u, xo);
    return f16_at(off) * (sums.x - 8.0 * sums.y);
}
