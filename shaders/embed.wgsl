// Token embedding gather from GGUF blocks: y[t] = W[ids[t]], for ids that live on the GPU
// (the prompt's, or the last sampled token's).
//
// W is one chunk of rows first..first + rows of token_embd (its format file is
// prepended); an id outside the chunk, or 0xffffffff (a row the visual tokens fill), leaves
// y's row alone. ids[i] is read at ids_offset + i.
// One thread per group of 8 values: dispatch (ceil(width / 8 / 64), t).

struct Params {
    width: u32,
    row_bytes: u32,
    first: u32,
    rows: u32,
    ids_offset: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> step: Step;

@compute @workgroup_size(64)
fn embed(@builtin(global_invocation_id) id: vec3<u32>) {
    let g = id.x;
    let t = id.y;
    let token = ids[p.ids_offset + t];
    if g * 8u >= p.width || token < p.first || token - p.first >= p.rows {
        return;
    }
    let row = (token - p.first) * p.row_bytes;
    let out = t * p.width + g * 8u;
    if g * 8u + 8u <= p.width {
        let e = w_group8(row, g);
        y[out] = e.lo.x;
        y[out + 1u] = e.lo.y;
        y[out + 2u] = e.lo.z;
        y[out + 3u] = e.lo.w;
        y[out + 4u] = e.hi.x;
        y[out + 5u] = e.hi.y;
        y[out + 6u] = e.hi.z;
        y[out + 7u] = e.hi.w;
    } else {
        for (var k = g * 8u; k < p.width; k++) {
            y[t * p.width + k] = w_at(row, k);
        }
    }
}
