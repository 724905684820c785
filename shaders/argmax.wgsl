// Greedy sampling on the GPU: the index of the largest logit (the first one on ties, as
// the CPU's argmax), written where the next step's embedding gather reads its token, and
// appended to the answer's token list. A NaN or infinite logit writes NON_FINITE instead,
// so the host learns of broken values from the same 4 bytes it reads anyway.
//
// logits [n] f32. out[0] = the token; out[1 + step.index] = the token too (the answer so far).
// One workgroup of 256 threads: dispatch (1, 1, 1).

struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> step: Step;

var<workgroup> best_value: array<f32, 256>;
var<workgroup> best_index: array<u32, 256>;
var<workgroup> non_finite: atomic<u32>;

const NON_FINITE: u32 = 0xfffffffeu;

// WGSL lets compilers assume values are finite, so `v != v` may fold away: the exponent
// bits say it instead.
fn is_finite(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(256)
fn argmax(@builtin(local_invocation_index) tid: u32) {
    if tid == 0u {
        atomicStore(&non_finite, 0u);
    }
    workgroupBarrier();
    var bv = -3.4e38;
    var bi = 0xffffffffu;
    for (var i = tid; i < p.n; i += 256u) {
        let v = logits[i];
        if !is_finite(v) {
            atomicStore(&non_finite, 1u);
        }
        if v > bv || bi == 0xffffffffu {
            bv = v;
            bi = i;
        }
    }
    best_value[tid] = bv;
    best_index[tid] = bi;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if tid < s {
            let ov = best_value[tid + s];
            let oi = best_index[tid + s];
            let mv = best_value[tid];
            let mi = best_index[tid];
            if oi != 0xffffffffu && (mi == 0xffffffffu || ov > mv || (ov == mv && oi < mi)) {
                best_value[tid] = ov;
                best_index[tid] = oi;
            }
        }
        workgroupBarrier();
    }
    if tid == 0u {
        var token = best_index[0];
        if atomicLoad(&non_finite) != 0u {
            token = NON_FINITE;
        }
        out[0] = token;
        out[1u + step.index] = token;
    }
}
