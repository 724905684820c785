// Causal attention of t new positions over the f16 KV cache (prefill and decode alike),
// with grouped-query heads.
//
// q [t, heads, head_dim] f32; caches [context, kv_heads, head_dim / 2] pack2x16float (with
// kv_f32, [context, kv_heads, head_dim] f32 bits);
// out [t, heads, head_dim] f32. probs [t, heads, context] f32 holds the softmax of every
// (position, head) row: the scores live there between the passes, and attention capture
// copies the last position's rows out.
// attend: one workgroup of 64 threads per (head, position): dispatch (heads, t).
// attend_rows: one invocation per (position, head), no barrier (software adapters):
//   dispatch (ceil(t * heads / 64), 1).
// attend_split + attend_combine: decode (t = 1) over a long cache. Workgroup (h, s) takes
//   the s-th of SPLITS slices of the keys, and leaves its maximum, its sum of exponentials
//   and its unnormalised share of the output after the probs row (at heads * context,
//   [heads, SPLITS, head_dim + 2]); then one workgroup per head rescales the slices to the
//   common maximum, sums them and normalises the probs row.
//   Dispatch (heads, SPLITS), then (heads, 1).
// Position i attends to cache rows 0..=past + i.

struct Params {
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    context: u32,
    scale: f32,
    kv_f32: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k_cache: array<u32>;
@group(0) @binding(2) var<storage, read> v_cache: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
@group(0) @binding(6) var<uniform> step: Step;

const WG: u32 = 64u;

// Pair `i` (a cache row's pair index) of the keys and of the values.
fn key_pair(i: u32) -> vec2<f32> {
    if p.kv_f32 != 0u {
        return vec2<f32>(bitcast<f32>(k_cache[2u * i]), bitcast<f32>(k_cache[2u * i + 1u]));
    }
    return unpack2x16float(k_cache[i]);
}

fn value_pair(i: u32) -> vec2<f32> {
    if p.kv_f32 != 0u {
        return vec2<f32>(bitcast<f32>(v_cache[2u * i]), bitcast<f32>(v_cache[2u * i + 1u]));
    }
    return unpack2x16float(v_cache[i]);
}
var<workgroup> q_row: array<f32, 256>;

// The scaled score of the query in q_row against key j of kv head kvh.
fn key_score(kvh: u32, j: u32) -> f32 {
    let pairs = p.head_dim / 2u;
    let kr = (j * p.kv_heads + kvh) * pairs;
    var s = 0.0;
    for (var i = 0u; i < pairs; i++) {
        let kk = key_pair(kr + i);
        s += q_row[2u * i] * kk.x + q_row[2u * i + 1u] * kk.y;
    }
    return s * p.scale;
}

// Component d of the values of kv head kvh for keys j0..j1, weighted by probs[row + j].
fn weighted_value(kvh: u32, row: u32, j0: u32, j1: u32, d: u32) -> f32 {
    let pairs = p.head_dim / 2u;
    var acc = 0.0;
    for (var j = j0; j < j1; j++) {
        let vv = value_pair((j * p.kv_heads + kvh) * pairs + d / 2u);
        acc += probs[row + j] * select(vv.x, vv.y, (d & 1u) == 1u);
    }
    return acc;
}

@compute @workgroup_size(64)
fn attend(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let h = wg.x;
    let t = wg.y;
    let kvh = h / (p.heads / p.kv_heads);
    let n = step.past + t + 1u;
    let q_at = (t * p.heads + h) * p.head_dim;
    for (var d = tid; d < p.head_dim; d += WG) {
        q_row[d] = q[q_at + d];
    }
    workgroupBarrier();
    let row = (t * p.heads + h) * p.context;

    var m = -3.4e38;
    for (var j = tid; j < n; j += WG) {
        let s = key_score(kvh, j);
        probs[row + j] = s;
        m = max(m, s);
    }
    m = reduce(tid, m, true);
    var sum = 0.0;
    for (var j = tid; j < n; j += WG) {
        let e = exp(probs[row + j] - m);
        probs[row + j] = e;
        sum += e;
    }
    let inv = 1.0 / reduce(tid, sum, false);
    for (var j = tid; j < n; j += WG) {
        probs[row + j] *= inv;
    }
    storageBarrier();
    workgroupBarrier();
    for (var d = tid; d < p.head_dim; d += WG) {
        out[q_at + d] = weighted_value(kvh, row, 0u, n, d);
    }
}

@compute @workgroup_size(64)
fn attend_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    let t = id.x / p.heads;
    let h = id.x % p.heads;
    if t >= step.t {
        return;
    }
    let kvh = h / (p.heads / p.kv_heads);
    let pairs = p.head_dim / 2u;
    let n = step.past + t + 1u;
    let q_at = (t * p.heads + h) * p.head_dim;
    let row = (t * p.heads + h) * p.context;
    var m = -3.4e38;
    for (var j = 0u; j < n; j++) {
        let kr = (j * p.kv_heads + kvh) * pairs;
        var s = 0.0;
        for (var i = 0u; i < pairs; i++) {
            let kk = key_pair(kr + i);
            s += q[q_at + 2u * i] * kk.x + q[q_at + 2u * i + 1u] * kk.y;
        }
        s *= p.scale;
        probs[row + j] = s;
        m = max(m, s);
    }
    var sum = 0.0;
    for (var j = 0u; j < n; j++) {
        let e = exp(probs[row + j] - m);
        probs[row + j] = e;
        sum += e;
    }
    let inv = 1.0 / sum;
    for (var j = 0u; j < n; j++) {
        probs[row + j] *= inv;
    }
    for (var i = 0u; i < pairs; i++) {
        var acc = vec2<f32>(0.0);
        for (var j = 0u; j < n; j++) {
            acc += probs[row + j] * value_pair((j * p.kv_heads + kvh) * pairs + i);
        }
        out[q_at + 2u * i] = acc.x;
        out[q_at + 2u * i + 1u] = acc.y;
    }
}

const SPLITS: u32 = 16u;
var<workgroup> split_scale: array<f32, 16>;

// Where head h's slice s leaves (max, sum, output[head_dim]) after decode's probs rows.
fn split_at(h: u32, s: u32) -> u32 {
    return p.heads * p.context + (h * SPLITS + s) * (p.head_dim + 2u);
}

@compute @workgroup_size(64)
fn attend_split(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let h = wg.x;
    let slice = wg.y;
    let kvh = h / (p.heads / p.kv_heads);
    let n = step.past + 1u;
    let per = (n + SPLITS - 1u) / SPLITS;
    let j0 = min(slice * per, n);
    let j1 = min(j0 + per, n);
    for (var d = tid; d < p.head_dim; d += WG) {
        q_row[d] = q[h * p.head_dim + d];
    }
    workgroupBarrier();
    let row = h * p.context;
    var m = -3.4e38;
    for (var j = j0 + tid; j < j1; j += WG) {
        let s = key_score(kvh, j);
        probs[row + j] = s;
        m = max(m, s);
    }
    m = reduce(tid, m, true);
    var sum = 0.0;
    for (var j = j0 + tid; j < j1; j += WG) {
        let e = exp(probs[row + j] - m);
        probs[row + j] = e;
        sum += e;
    }
    sum = reduce(tid, sum, false);
    storageBarrier();
    workgroupBarrier();
    let at = split_at(h, slice);
    if tid == 0u {
        probs[at] = m;
        probs[at + 1u] = sum;
    }
    for (var d = tid; d < p.head_dim; d += WG) {
        probs[at + 2u + d] = weighted_value(kvh, row, j0, j1, d);
    }
}

@compute @workgroup_size(64)
fn attend_combine(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let h = wg.x;
    let n = step.past + 1u;
    let per = (n + SPLITS - 1u) / SPLITS;
    if tid == 0u {
        // Empty slices hold (-3.4e38, 0): their factor is 0.
        var m = -3.4e38;
        for (var s = 0u; s < SPLITS; s++) {
            m = max(m, probs[split_at(h, s)]);
        }
        var total = 0.0;
        for (var s = 0u; s < SPLITS; s++) {
            let at = split_at(h, s);
            split_scale[s] = exp(probs[at] - m);
            total += probs[at + 1u] * split_scale[s];
        }
        for (var s = 0u; s < SPLITS; s++) {
            split_scale[s] /= total;
        }
    }
    workgroupBarrier();
    let row = h * p.context;
    for (var j = tid; j < n; j += WG) {
        probs[row + j] *= split_scale[j / per];
    }
    for (var d = tid; d < p.head_dim; d += WG) {
        var acc = 0.0;
        for (var s = 0u; s < SPLITS; s++) {
            acc += probs[split_at(h, s) + 2u + d] * split_scale[s];
        }
        out[h * p.head_dim + d] = acc;
    }
}
