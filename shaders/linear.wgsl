// Linear layers on GGUF weights: y[t, n] = sum_k W[n, k] * x[t, k], then an epilogue.
//
// W row n starts at byte n * row_bytes of `w` (one chunk of rows of a split tensor, whose
// outputs start at column y_offset of y); x is [x_row + t, k] and y [y_row + t, y_stride],
// both f32: the step's rows start at x_row and y_row (the resampler writes its latents
// after the image tokens). The weight's format file (shaders/formats/) is prepended and
// supplies `w_group8`; its dot file (shaders/formats/dot/) is appended and supplies
// `block_dot`.
//
// Epilogue flags (fused so that no extra pass reads y again):
//   1 BIAS     + bias[y_offset + n]
//   2 ADD      y += result (the residual)
//   4 SILU_MUL result * silu(aux[t, n])   (aux: the gate projection, laid out as y)
//   8 GELU     gelu(result) (exact, erf-based, after the bias)
//
// Entry points:
//   matvec: decode (a few tokens). 256 threads = 4 rows x 64 lanes; each lane sums groups
//           of 8 values strided by 64, the row's lanes reduce in workgroup memory.
//           Dispatch (ceil(n / 4), t).
//   matvec_rows: decode on a software adapter (lavapipe, SwiftShader), which runs a
//           workgroup's invocations as SIMD lanes of one CPU thread and pays a context switch
//           per barrier: one invocation per row, no barrier. Dispatch (ceil(n / 64), t).
//   matmul_rows: prefill and the vision tower on a software adapter: one invocation per row
//           and 16 tokens, dequantizing each group of 8 once for the 16.
//           Dispatch (ceil(n / 64), ceil(t / 16)).
//   matmul: prefill and the vision tower. A 32-token x 64-row tile per workgroup, k in steps
//           of 32 through workgroup memory; each thread owns 2 tokens x 4 rows.
//           Dispatch (ceil(n / 64), ceil(t / 32)).

struct Params {
    k: u32,
    n: u32,
    row_bytes: u32,
    y_stride: u32,
    y_offset: u32,
    epilogue: u32,
    x_row: u32,
    y_row: u32,
}

@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
@group(0) @binding(6) var<uniform> step: Step;

const BIAS: u32 = 1u;
const ADD: u32 = 2u;
const SILU_MUL: u32 = 4u;
const GELU: u32 = 8u;

fn erf_approx(v: f32) -> f32 {
    // Abramowitz & Stegun 7.1.26 is too coarse for parity; this is the 1.2e-7 rational
    // approximation of erfc (Numerical Recipes' erfcc).
    let z = abs(v);
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277)))))))));
    return select(r - 1.0, 1.0 - r, v >= 0.0);
}

fn store(t: u32, n: u32, acc: f32) {
    let i = (p.y_row + t) * p.y_stride + p.y_offset + n;
    var v = acc;
    if (p.epilogue & BIAS) != 0u {
        v += bias[p.y_offset + n];
    }
    if (p.epilogue & GELU) != 0u {
        v = 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752));
    }
    if (p.epilogue & SILU_MUL) != 0u {
        let g = aux[i];
        v *= g / (1.0 + exp(-g));
    }
    if (p.epilogue & ADD) != 0u {
        v += y[i];
    }
    y[i] = v;
}

fn x8(at: u32) -> Eight {
    return Eight(
        vec4<f32>(x[at], x[at + 1u], x[at + 2u], x[at + 3u]),
        vec4<f32>(x[at + 4u], x[at + 5u], x[at + 6u], x[at + 7u]),
    );
}

const LANES: u32 = 64u;
const ROWS: u32 = 4u;
var<workgroup> partial: array<f32, 256>;

// Row n of W times position t of x, over the groups of 8 from `first` in steps of `stride`
// (a lane's share of the row; all of it with first 0 and stride 1).
fn lane_dot(n: u32, t: u32, first: u32, stride: u32) -> f32 {
    let row = n * p.row_bytes;
    let xo = (p.x_row + t) * p.k;
    let groups = p.k / 8u;
    var acc = 0.0;
    for (var g = first; g < groups; g += stride) {
        let e = w_group8(row, g);
        let v = x8(xo + g * 8u);
        acc += dot(e.lo, v.lo) + dot(e.hi, v.hi);
    }
    for (var k = groups * 8u + first; k < p.k; k += stride) {
        acc += w_at(row, k) * x[xo + k];
    }
    return acc;
}

@compute @workgroup_size(256)
fn matvec(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let lane = tid % LANES;
    let n = wg.x * ROWS + tid / LANES;
    let t = wg.y;
    var acc = 0.0;
    if n < p.n {
        acc = lane_dot(n, t, lane, LANES);
    }
    partial[tid] = acc;
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s >>= 1u) {
        if lane < s {
            partial[tid] += partial[tid + s];
        }
        workgroupBarrier();
    }
    if lane == 0u && n < p.n {
        store(t, n, partial[tid]);
    }
}

@compute @workgroup_size(64)
fn matvec_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    let n = id.x;
    let t = id.y;
    if n < p.n {
        store(t, n, row_dot(n, t));
    }
}

// 32 four-bit values times x[xo..xo + 32], as Q4_0 and Q4_1 pack them in the 16 bytes at
// q (value i < 16 in the low nibble of byte i, value i >= 16 in the high nibble of byte
// i - 16): (sum of nibble * x, sum of x), for the format to scale and offset.
fn nibble_dot(q: u32, xo: u32) -> vec2<f32> {
    var qx = 0.0;
    var sx = 0.0;
    for (var i = 0u; i < 2u; i++) {
        let lo = u32_at(q + i * 8u);
        let hi = u32_at(q + 4u + i * 8u);
        let first = x8(xo + i * 8u);
        let second = x8(xo + 16u + i * 8u);
        qx += dot(bytes4(lo & 0x0f0f0f0fu), first.lo) + dot(bytes4(hi & 0x0f0f0f0fu), first.hi);
        qx += dot(bytes4((lo >> 4u) & 0x0f0f0f0fu), second.lo)
            + dot(bytes4((hi >> 4u) & 0x0f0f0f0fu), second.hi);
        sx += dot(first.lo + first.hi + second.lo + second.hi, vec4<f32>(1.0));
    }
    return vec2<f32>(qx, sx);
}

// Row n of W times position t of x, a block at a time (`block_dot`, from the format's dot
// file appended after this one), then the values past the last whole block.
fn row_dot(n: u32, t: u32) -> f32 {
    let row = n * p.row_bytes;
    let xo = (p.x_row + t) * p.k;
    let blocks = p.k / BLOCK;
    var acc = 0.0;
    for (var b = 0u; b < blocks; b++) {
        acc += block_dot(row + b * BLOCK_BYTES, xo + b * BLOCK);
    }
    for (var k = blocks * BLOCK; k < p.k; k++) {
        acc += w_at(row, k) * x[xo + k];
    }
    return acc;
}

const ROW_TOKENS: u32 = 16u;

@compute @workgroup_size(64)
fn matmul_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    let n = id.x;
    let t0 = id.y * ROW_TOKENS;
    if n >= p.n || t0 >= step.t {
        return;
    }
    let tn = min(ROW_TOKENS, step.t - t0);
    let row = n * p.row_bytes;
    let x0 = (p.x_row + t0) * p.k;
    let groups = p.k / 8u;
    var acc = array<f32, 16>();
    for (var g = 0u; g < groups; g++) {
        let e = w_group8(row, g);
        for (var i = 0u; i < tn; i++) {
            let v = x8(x0 + i * p.k + g * 8u);
            acc[i] += dot(e.lo, v.lo) + dot(e.hi, v.hi);
        }
    }
    for (var k = groups * 8u; k < p.k; k++) {
        let wk = w_at(row, k);
        for (var i = 0u; i < tn; i++) {
            acc[i] += wk * x[x0 + i * p.k + k];
        }
    }
    for (var i = 0u; i < tn; i++) {
        store(t0 + i, n, acc[i]);
    }
}

const TT: u32 = 32u;
const TN: u32 = 64u;
const TK: u32 = 32u;
// Rows of the tiles are padded by one so that a column read hits distinct banks.
const PAD: u32 = 33u;
var<workgroup> xs: array<f32, 1056>; // [TT][PAD]
var<workgroup> ws: array<f32, 2112>; // [TN][PAD]

// Group g of W's row n for a tile: zeros past the rows, and past k in a short last group.
fn tile_group(n: u32, g: u32) -> Eight {
    if n >= p.n {
        return Eight(vec4<f32>(0.0), vec4<f32>(0.0));
    }
    let row = n * p.row_bytes;
    if (g + 1u) * 8u <= p.k {
        return w_group8(row, g);
    }
    var tail = array<f32, 8>();
    for (var i = 0u; i < 8u; i++) {
        if g * 8u + i < p.k {
            tail[i] = w_at(row, g * 8u + i);
        }
    }
    return Eight(
        vec4<f32>(tail[0], tail[1], tail[2], tail[3]),
        vec4<f32>(tail[4], tail[5], tail[6], tail[7]),
    );
}

// x at position t, column k for a tile: zero past the step's positions and past k.
fn tile_x(t: u32, k: u32) -> f32 {
    if t < step.t && k < p.k {
        return x[(p.x_row + t) * p.k + k];
    }
    return 0.0;
}

// Stores a thread's 2 positions x 4 rows of a tile.
fn store_tile(t0: u32, n0: u32, ty: u32, tx: u32, acc: array<f32, 8>) {
    for (var a = 0u; a < 2u; a++) {
        let t = t0 + ty * 2u + a;
        for (var i = 0u; i < 4u; i++) {
            let n = n0 + tx + 16u * i;
            if t < step.t && n < p.n {
                store(t, n, acc[a * 4u + i]);
            }
        }
    }
}

@compute @workgroup_size(256)
fn matmul(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let n0 = wg.x * TN;
    let t0 = wg.y * TT;
    let ty = tid / 16u; // tokens 2 * ty and 2 * ty + 1
    let tx = tid % 16u; // rows tx + 16 * i
    var acc = array<f32, 8>();
    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        // The weight tile: 64 rows x 4 groups of 8, one group per thread.
        let e = tile_group(n0 + tid / 4u, k0 / 8u + tid % 4u);
        let wo = (tid / 4u) * PAD + (tid % 4u) * 8u;
        ws[wo] = e.lo.x;
        ws[wo + 1u] = e.lo.y;
        ws[wo + 2u] = e.lo.z;
        ws[wo + 3u] = e.lo.w;
        ws[wo + 4u] = e.hi.x;
        ws[wo + 5u] = e.hi.y;
        ws[wo + 6u] = e.hi.z;
        ws[wo + 7u] = e.hi.w;
        // The activation tile: 32 tokens x 32 values, four per thread.
        for (var i = 0u; i < 4u; i++) {
            let idx = tid + i * 256u;
            xs[(idx / TK) * PAD + idx % TK] = tile_x(t0 + idx / TK, k0 + idx % TK);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let a0 = xs[(ty * 2u) * PAD + kk];
            let a1 = xs[(ty * 2u + 1u) * PAD + kk];
            for (var i = 0u; i < 4u; i++) {
                let b = ws[(tx + 16u * i) * PAD + kk];
                acc[i] += a0 * b;
                acc[4u + i] += a1 * b;
            }
        }
        workgroupBarrier();
    }
    store_tile(t0, n0, ty, tx, acc);
}
