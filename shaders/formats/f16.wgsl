// F16: IEEE half floats, two per u32 (a row of odd length leaves the next row 2-aligned).
const BLOCK: u32 = 8u;
const BLOCK_BYTES: u32 = 16u;

fn block_group8(off: u32, j: u32) -> Eight {
    return Eight(
        vec4<f32>(unpack2x16float(u32_at(off)), unpack2x16float(u32_at(off + 4u))),
        vec4<f32>(unpack2x16float(u32_at(off + 8u)), unpack2x16float(u32_at(off + 12u))),
    );
}
