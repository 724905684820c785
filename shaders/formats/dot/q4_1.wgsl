// Appended to linear.wgsl for Q4_1: a block's 32 values times x, its scale and minimum read
// once: d * sum q x + m * sum x.
fn block_dot(off: u32, xo: u32) -> f32 {
    let sums = nibble_dot(off + 4u, xo);
    return f16_at(off) * sums.x + f16_at(off + 2u) * sums.y;
}
