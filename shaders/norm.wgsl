// RMSNorm (LLaMA) and LayerNorm (the vision tower, the resampler), one row per workgroup.
//
// x and y are [t, width] f32 from rows x_row and y_row; weight (and bias, for LayerNorm)
// [width] f32. Flag LAST_ROW: only row t - 1 is normalised, into row 0 of y (the logits
// need only the last position).
//
// rms_norm, layer_norm: 256 threads stride over a row; sums reduce in workgroup memory.
//   Dispatch (1, t, 1), or (1, 1, 1) with LAST_ROW.
// rms_norm_rows, layer_norm_rows: one invocation per row, no barrier (software adapters).
//   Dispatch (ceil(t / 64), 1, 1), or (1, 1, 1) with LAST_ROW.

struct Params {
    width: u32,
    eps: f32,
    flags: u32,
    x_row: u32,
    y_row: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
@group(0) @binding(5) var<uniform> step: Step;

const LAST_ROW: u32 = 1u;
const WG: u32 = 256u;

fn rows(wg: u32) -> vec2<u32> {
    if (p.flags & LAST_ROW) != 0u {
        return vec2<u32>((step.t - 1u) * p.width, 0u);
    }
    return vec2<u32>((p.x_row + wg) * p.width, (p.y_row + wg) * p.width);
}

@compute @workgroup_size(256)
fn rms_norm(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let at = rows(wg.y);
    var ss = 0.0;
    for (var i = tid; i < p.width; i += 256u) {
        let v = x[at.x + i];
        ss += v * v;
    }
    let inv = inverseSqrt(reduce(tid, ss, false) / f32(p.width) + p.eps);
    for (var i = tid; i < p.width; i += 256u) {
        y[at.y + i] = x[at.x + i] * inv * weight[i];
    }
}

@compute @workgroup_size(256)
fn layer_norm(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let at = rows(wg.y);
    var s = 0.0;
    for (var i = tid; i < p.width; i += 256u) {
        s += x[at.x + i];
    }
    let mean = reduce(tid, s, false) / f32(p.width);
    var ss = 0.0;
    for (var i = tid; i < p.width; i += 256u) {
        let d = x[at.x + i] - mean;
        ss += d * d;
    }
    let inv = inverseSqrt(reduce(tid, ss, false) / f32(p.width) + p.eps);
    for (var i = tid; i < p.width; i += 256u) {
        y[at.y + i] = (x[at.x + i] - mean) * inv * weight[i] + bias[i];
    }
}

// The row of invocation `i`, or false past the step's rows.
fn own_row(i: u32) -> vec3<u32> {
    if (p.flags & LAST_ROW) != 0u {
        return vec3<u32>(rows(0u), u32(i == 0u));
    }
    return vec3<u32>(rows(i), u32(i < step.t));
}

@compute @workgroup_size(64)
fn rms_norm_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    let at = own_row(id.x);
    if at.z == 0u {
        return;
    }
    var ss = 0.0;
    for (var i = 0u; i < p.width; i++) {
        let v = x[at.x + i];
        ss += v * v;
    }
    let inv = inverseSqrt(ss / f32(p.width) + p.eps);
    for (var i = 0u; i < p.width; i++) {
        y[at.y + i] = x[at.x + i] * inv * weight[i];
    }
}

@compute @workgroup_size(64)
fn layer_norm_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    let at = own_row(id.x);
    if at.z == 0u {
        return;
    }
    var s = 0.0;
    for (var i = 0u; i < p.width; i++) {
        s += x[at.x + i];
    }
    let mean = s / f32(p.width);
    var ss = 0.0;
    for (var i = 0u; i < p.width; i++) {
        let d = x[at.x + i] - mean;
        ss += d * d;
    }
    let inv = inverseSqrt(ss / f32(p.width) + p.eps);
    for (var i = 0u; i < p.width; i++) {
        y[at.y + i] = (x[at.x + i] - mean) * inv * weight[i] + bias[i];
    }
}
