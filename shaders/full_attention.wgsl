// Attention in which every query sees every key, over keys and values held as f32 rows:
// the vision tower's self-attention and the resampler's cross-attention.
//
// q [tq, heads, head_dim] f32 (rows of q_stride values); keys and values are rows of
// kv_stride values, a key at column k_at + h * head_dim, a value at v_at + h * head_dim
// (the resampler's to_kv output holds both: [tk, keys | values]). out [tq, heads, head_dim].
// probs [heads, tq, tk] from probs_at: the softmax rows, kept because the resampler's
// attention capture reads them, and the scores live there between the passes.
// attend_all: one workgroup of 64 threads per (head, query): dispatch (heads, tq).
// attend_all_rows: one invocation per (query, head), no barrier (software adapters):
//   dispatch (ceil(tq * heads / 64), 1).

struct Params {
    heads: u32,
    head_dim: u32,
    tq: u32,
    tk: u32,
    q_stride: u32,
    kv_stride: u32,
    k_at: u32,
    v_at: u32,
    probs_at: u32,
    scale: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const WG: u32 = 64u;
var<workgroup> q_row: array<f32, 256>;

@compute @workgroup_size(64)
fn attend_all(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let h = wg.x;
    let i = wg.y;
    let q_at = i * p.q_stride + h * p.head_dim;
    for (var d = tid; d < p.head_dim; d += WG) {
        q_row[d] = q[q_at + d];
    }
    workgroupBarrier();
    let row = p.probs_at + (h * p.tq + i) * p.tk;
    let k0 = p.k_at + h * p.head_dim;

    var m = -3.4e38;
    for (var j = tid; j < p.tk; j += WG) {
        let kr = j * p.kv_stride + k0;
        var s = 0.0;
        for (var d = 0u; d < p.head_dim; d++) {
            s += q_row[d] * k[kr + d];
        }
        s *= p.scale;
        probs[row + j] = s;
        m = max(m, s);
    }
    m = reduce(tid, m, true);
    var sum = 0.0;
    for (var j = tid; j < p.tk; j += WG) {
        let e = exp(probs[row + j] - m);
        probs[row + j] = e;
        sum += e;
    }
    let inv = 1.0 / reduce(tid, sum, false);
    for (var j = tid; j < p.tk; j += WG) {
        probs[row + j] *= inv;
    }
    storageBarrier();
    workgroupBarrier();
    let v0 = p.v_at + h * p.head_dim;
    let o_at = (i * p.heads + h) * p.head_dim;
    for (var d = tid; d < p.head_dim; d += WG) {
        var acc = 0.0;
        for (var j = 0u; j < p.tk; j++) {
            acc += probs[row + j] * v[j * p.kv_stride + v0 + d];
        }
        out[o_at + d] = acc;
    }
}

@compute @workgroup_size(64)
fn attend_all_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x / p.heads;
    let h = id.x % p.heads;
    if i >= p.tq {
        return;
    }
    let q_at = i * p.q_stride + h * p.head_dim;
    let row = p.probs_at + (h * p.tq + i) * p.tk;
    let k0 = p.k_at + h * p.head_dim;
    var m = -3.4e38;
    for (var j = 0u; j < p.tk; j++) {
        let kr = j * p.kv_stride + k0;
        var s = 0.0;
        for (var d = 0u; d < p.head_dim; d++) {
            s += q[q_at + d] * k[kr + d];
        }
        s *= p.scale;
        probs[row + j] = s;
        m = max(m, s);
    }
    var sum = 0.0;
    for (var j = 0u; j < p.tk; j++) {
        let e = exp(probs[row + j] - m);
        probs[row + j] = e;
        sum += e;
    }
    let inv = 1.0 / sum;
    for (var j = 0u; j < p.tk; j++) {
        probs[row + j] *= inv;
    }
    let v0 = p.v_at + h * p.head_dim;
    let o_at = (i * p.heads + h) * p.head_dim;
    for (var d = 0u; d < p.head_dim; d++) {
        var acc = 0.0;
        for (var j = 0u; j < p.tk; j++) {
            acc += probs[row + j] * v[j * p.kv_stride + v0 + d];
        }
        out[o_at + d] = acc;
    }
}
