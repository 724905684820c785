// Appended to linear.wgsl for Q8_0: a block's 32 values times x, its scale read once.
fn block_dot(off: u32, xo: u32) -> f32 {
    var qx = 0.0;
    for (var i = 0u; i < 4u; i++) {
        let v = x8(xo + i * 8u);
        let q = off + 2u + i * 8u;
        qx += dot(sbytes4(u32_at(q)), v.lo) + dot(sbytes4(u32_at(q + 4u)), v.hi);
    }
    return f16_at(off) * qx;
}
