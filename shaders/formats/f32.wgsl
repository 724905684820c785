// F32: plain little-endian floats, read as groups of 8.
const BLOCK: u32 = 8u;
const BLOCK_BYTES: u32 = 32u;

fn block_group8(off: u32, j: u32) -> Eight {
    let i = off >> 2u;
    return Eight(
        bitcast<vec4<f32>>(vec4<u32>(w[i], w[i + 1u], w[i + 2u], w[i + 3u])),
        bitcast<vec4<f32>>(vec4<u32>(w[i + 4u], w[i + 5u], w[i + 6u], w[i + 7u])),
    );
}
