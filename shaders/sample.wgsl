// Temperature and top-p (nucleus) sampling on the GPU: the chosen id goes where argmax.wgsl
// writes the greedy one (the next step's input, and the answer list), so a sampled answer
// never reads its logits back either. A NaN or infinite logit writes NON_FINITE.
//
// weights[i] = exp((logits[i] - max) / temperature). The nucleus is every token whose weight
// is at least tau, for the largest tau (found by bisection, 30 halvings) whose tokens hold
// top_p of the total weight: the smallest set of most likely tokens, as the CPU sampler keeps.
// The token is where u * (the nucleus' weight) falls in the nucleus, walked in id order
// (the CPU walks it by weight: the same distribution, another token for the same u).
//
// logits [n] f32; out as argmax.wgsl; weights [n] f32 scratch. Each of the 256 threads owns a
// contiguous slice of ids, so no thread reads another's weights. Dispatch (1, 1, 1).

struct Params {
    n: u32,
    temperature: f32,
    top_p: f32,
    // Uniform in [0, 1), drawn by the host's generator for this step.
    u: f32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<storage, read_write> weights: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> step: Step;

const WG: u32 = 256u;
const NON_FINITE: u32 = 0xfffffffeu;

var<workgroup> broken: atomic<u32>;
var<workgroup> chosen: atomic<u32>;
var<workgroup> last_candidate: atomic<u32>;

fn is_finite(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

// The weight of this thread's tokens at or above `tau`.
fn mass_from(lo: u32, hi: u32, tau: f32) -> f32 {
    var s = 0.0;
    for (var i = lo; i < hi; i++) {
        let w = weights[i];
        if w >= tau {
            s += w;
        }
    }
    return s;
}

@compute @workgroup_size(256)
fn sample(@builtin(local_invocation_index) tid: u32) {
    if tid == 0u {
        atomicStore(&broken, 0u);
        atomicStore(&chosen, 0xffffffffu);
        atomicStore(&last_candidate, 0u);
    }
    workgroupBarrier();
    let per = (p.n + WG - 1u) / WG;
    let lo = min(tid * per, p.n);
    let hi = min(lo + per, p.n);
    var m = -3.4e38;
    for (var i = lo; i < hi; i++) {
        let v = logits[i];
        if !is_finite(v) {
            atomicStore(&broken, 1u);
        }
        m = max(m, v);
    }
    m = reduce(tid, m, true);
    if workgroupUniformLoad(&broken) != 0u {
        if tid == 0u {
            out[0] = NON_FINITE;
            out[1u + step.index] = NON_FINITE;
        }
        return;
    }
    var z = 0.0;
    for (var i = lo; i < hi; i++) {
        let w = exp((logits[i] - m) / p.temperature);
        weights[i] = w;
        z += w;
    }
    let wanted = p.top_p * reduce(tid, z, false);
    // The largest weight is exp(0) = 1, so tau lies in (0, 1].
    var below = 0.0;
    var above = 1.0;
    for (var halving = 0u; halving < 30u; halving++) {
        let mid = 0.5 * (below + above);
        if reduce(tid, mass_from(lo, hi, mid), false) >= wanted {
            below = mid;
        } else {
            above = mid;
        }
    }
    let tau = below;
    let own = mass_from(lo, hi, tau);
    let goal = p.u * reduce(tid, own, false);
    red[tid] = own;
    workgroupBarrier();
    // Thread 0 turns the slices' weights into their starts, in id order.
    if tid == 0u {
        var start = 0.0;
        for (var i = 0u; i < WG; i++) {
            let w = red[i];
            red[i] = start;
            start += w;
        }
    }
    workgroupBarrier();
    if own > 0.0 {
        var at = red[tid];
        var last = lo;
        for (var i = lo; i < hi; i++) {
            let w = weights[i];
            if w >= tau {
                last = i;
                at += w;
                if at > goal {
                    atomicMin(&chosen, i);
                    break;
                }
            }
        }
        atomicMax(&last_candidate, last);
    }
    // Rounding can leave `goal` past every candidate: then the last one.
    let found = workgroupUniformLoad(&chosen);
    if tid == 0u {
        var token = found;
        if token == 0xffffffffu {
            token = atomicLoad(&last_candidate);
        }
        out[0] = token;
        out[1u + step.index] = token;
    }
}
