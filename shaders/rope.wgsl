// Rotary embeddings on adjacent pairs.
//
// rope_llm: LLaMA's (llama.cpp stores attn_q/attn_k permuted for it), fused with writing
// keys and values into the f16 KV cache.
// q [t, heads, head_dim] is rotated in place; k [t, kv_heads, head_dim] is rotated into the
// cache; v is copied into the cache. Cache rows are [kv_heads, head_dim / 2] u32, each a
// pack2x16float pair, at position past + t; with kv_f32, [kv_heads, head_dim] f32 bits. cos and sin are [context, head_dim / 2] f32,
// computed on the CPU exactly as the reference computes them.
// One thread per pair: dispatch (ceil((heads + kv_heads) * head_dim / 2 / 64), t).
//
// rope_rows: the vision tower's 2-D RoPE. q [t, heads, head_dim] is rotated in place by
// row t of the table (the CLS row turns by 0). Dispatch (ceil(heads * head_dim / 2 / 64), t).

struct Params {
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    kv_f32: u32,
}

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> k_cache: array<u32>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<u32>;
@group(0) @binding(5) var<storage, read> cos_sin: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;
@group(0) @binding(7) var<uniform> step: Step;

@compute @workgroup_size(64)
fn rope_llm(@builtin(global_invocation_id) id: vec3<u32>) {
    let pairs = p.head_dim / 2u;
    let i = id.x;
    let t = id.y;
    if i >= (p.heads + p.kv_heads) * pairs {
        return;
    }
    let pos = step.past + t;
    let pair = i % pairs;
    // cos for every position first, then sin.
    let table = arrayLength(&cos_sin) / 2u;
    let c = cos_sin[pos * pairs + pair];
    let s = cos_sin[table + pos * pairs + pair];
    if i < p.heads * pairs {
        let at = t * p.heads * p.head_dim + i * 2u;
        let x0 = q[at];
        let x1 = q[at + 1u];
        q[at] = x0 * c - x1 * s;
        q[at + 1u] = x0 * s + x1 * c;
        return;
    }
    let kv = i - p.heads * pairs;
    let at = t * p.kv_heads * p.head_dim + kv * 2u;
    let x0 = k[at];
    let x1 = k[at + 1u];
    let row = pos * p.kv_heads * pairs + kv;
    let key = vec2<f32>(x0 * c - x1 * s, x0 * s + x1 * c);
    let value = vec2<f32>(v[at], v[at + 1u]);
    if p.kv_f32 != 0u {
        k_cache[2u * row] = bitcast<u32>(key.x);
        k_cache[2u * row + 1u] = bitcast<u32>(key.y);
        v_cache[2u * row] = bitcast<u32>(value.x);
        v_cache[2u * row + 1u] = bitcast<u32>(value.y);
    } else {
        k_cache[row] = pack2x16float(key);
        v_cache[row] = pack2x16float(value);
    }
}

@compute @workgroup_size(64)
fn rope_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    let pairs = p.head_dim / 2u;
    let i = id.x;
    let t = id.y;
    if i >= p.heads * pairs {
        return;
    }
    let pair = i % pairs;
    let table = arrayLength(&cos_sin) / 2u;
    let c = cos_sin[t * pairs + pair];
    let s = cos_sin[table + t * pairs + pair];
    let at = t * p.heads * p.head_dim + i * 2u;
    let x0 = q[at];
    let x1 = q[at + 1u];
    q[at] = x0 * c - x1 * s;
    q[at + 1u] = x0 * s + x1 * c;
}
