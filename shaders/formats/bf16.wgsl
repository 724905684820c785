// BF16: the high 16 bits of an f32.
const BLOCK: u32 = 8u;
const BLOCK_BYTES: u32 = 16u;

fn bf16_pair(x: u32) -> vec2<f32> {
    return vec2<f32>(bitcast<f32>(x << 16u), bitcast<f32>(x & 0xffff0000u));
}

fn block_group8(off: u32, j: u32) -> Eight {
    return Eight(
        vec4<f32>(bf16_pair(u32_at(off)), bf16_pair(u32_at(off + 4u))),
        vec4<f32>(bf16_pair(u32_at(off + 8u)), bf16_pair(u32_at(off + 12u))),
    );
}
