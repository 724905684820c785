// Appended to linear.wgsl for Q4_0: a block's 32 values times x, its scale read once:
// d * (sum q x - 8 sum x).
fn block_dot(off: u32, xo: u32) -> f32 {
    var qx = 0.0;
    var sx = 0.0;
    for (var i = 0u; i < 2u; i++) {
        let lo = u32_at(off + 2u + i * 8u);
        let hi = u32_at(off + 6u + i * 8u);
        let first = x8(xo + i * 8u);
        let second = x8(xo + 16u + i * 8u);
        qx += dot(bytes4(lo & 0x0f0f0f0fu), first.lo) + dot(bytes4(hi & 0x0f0f0f0fu), first.hi);
        qx += dot(bytes4((lo >> 4u) & 0x0f0f0f0fu), second.lo)
            + dot(bytes4((hi >> 4u) & 0x0f0f0f0fu), second.hi);
        sx += dot(first.lo + first.hi + second.lo + second.hi, vec4<f32>(1.0));
    }
    return f16_at(off) * (qx - 8.0 * sx);
}
