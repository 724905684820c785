// Appended to linear.wgsl for a format without a dot product of its own: a block's values
// times x, a group of 8 at a time.
fn block_dot(off: u32, xo: u32) -> f32 {
    var acc = 0.0;
    for (var j = 0u; j < BLOCK / 8u; j++) {
        let e = block_group8(off, j);
        let v = x8(xo + j * 8u);
        acc += dot(e.lo, v.lo) + dot(e.hi, v.hi);
    }
    return acc;
}
