// Reading GGUF weights byte for byte from `w: array<u32>`, which the kernel declares.
//
// GGUF packs a row's blocks back to back (18 bytes per 32 values for Q4_0, 34 for Q8_0,
// 210 per 256 for Q6_K), so a field can sit at an even offset that is not a multiple of 4.
// Every read here takes an even byte offset; each format file (one of the other files in
// this folder, appended after this one) defines:
//   const BLOCK: u32         values per block (8 for the plain formats);
//   const BLOCK_BYTES: u32   bytes per block;
//   fn block_group8(off: u32, j: u32) -> Eight   values [8j, 8j + 8) of the block at `off`.

struct Eight {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

fn byte_at(off: u32) -> u32 {
    return (w[off >> 2u] >> ((off & 3u) * 8u)) & 0xffu;
}

fn u16_at(off: u32) -> u32 {
    return (w[off >> 2u] >> ((off & 2u) * 8u)) & 0xffffu;
}

fn u32_at(off: u32) -> u32 {
    let i = off >> 2u;
    if (off & 2u) == 0u {
        return w[i];
    }
    return (w[i] >> 16u) | (w[i + 1u] << 16u);
}

fn f16_at(off: u32) -> f32 {
    return unpack2x16float(u16_at(off)).x;
}

fn i8_at(off: u32) -> f32 {
    return f32(i32(byte_at(off) << 24u) >> 24u);
}

// The four bytes of `x` as unsigned values, lowest byte first.
fn bytes4(x: u32) -> vec4<f32> {
    return vec4<f32>(f32(x & 0xffu), f32((x >> 8u) & 0xffu), f32((x >> 16u) & 0xffu), f32(x >> 24u));
}

// The four bytes of `x` as signed values, lowest byte first.
fn sbytes4(x: u32) -> vec4<f32> {
    return vec4<f32>(
        f32(i32(x << 24u) >> 24u),
        f32(i32(x << 16u) >> 24u),
        f32(i32(x << 8u) >> 24u),
        f32(i32(x) >> 24u),
    );
}

// Fifth bits of Q5_0 and Q5_1: bits 0..3 of `bits` as 0 or 16.
fn fifth_bits(bits: u32) -> vec4<f32> {
    return vec4<f32>(vec4<u32>(bits, bits >> 1u, bits >> 2u, bits >> 3u) & vec4<u32>(1u)) * 16.0;
}

// The K-quants' 6-bit scale and min of sub-block `s` from the 12 packed bytes at `off`.
fn k_scale_min(off: u32, s: u32) -> vec2<f32> {
    if s < 4u {
        return vec2<f32>(f32(byte_at(off + s) & 63u), f32(byte_at(off + s + 4u) & 63u));
    }
    let packed = byte_at(off + s + 4u);
    return vec2<f32>(
        f32((packed & 0xfu) | ((byte_at(off + s - 4u) >> 6u) << 4u)),
        f32((packed >> 4u) | ((byte_at(off + s) >> 6u) << 4u)),
    );
}

// Q4_K and Q5_K: d * scale and dmin * min of the sub-block of 32 that holds group `j` of
// the block at `off` (d, dmin, then the 12 packed bytes).
fn k_group_scale_min(off: u32, j: u32) -> vec2<f32> {
    let sm = k_scale_min(off + 4u, (j >> 3u) * 2u + ((j >> 2u) & 1u));
    return vec2<f32>(f16_at(off) * sm.x, f16_at(off + 2u) * sm.y);
}

// Values [8g, 8g + 8) of the row whose first block starts at byte `row`.
fn w_group8(row: u32, g: u32) -> Eight {
    let per_block = BLOCK / 8u;
    return block_group8(row + (g / per_block) * BLOCK_BYTES, g % per_block);
}

// Value `k` of the row at byte `row` (for rows whose length is not a multiple of 8).
fn w_at(row: u32, k: u32) -> f32 {
    let e = w_group8(row, k >> 3u);
    let half = select(e.lo, e.hi, (k & 4u) != 0u);
    return half[k & 3u];
}
