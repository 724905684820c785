// Appended to linear.wgsl where the adapter has shader-f16: prefill's and the vision
// tower's tiled product with the tiles in f16, which halves the workgroup memory each k
// step reads. Products are f16, sums f32 (a relative error near 1e-3 per product).
//
// matmul_f16: the tile of `matmul` (32 tokens x 64 rows, k in steps of 32, each thread
// 2 tokens x 4 rows). Dispatch (ceil(n / 64), ceil(t / 32)).

var<workgroup> xs16: array<f16, 1056>; // [TT][PAD]
var<workgroup> ws16: array<f16, 2112>; // [TN][PAD]

@compute @workgroup_size(256)
fn matmul_f16(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let n0 = wg.x * TN;
    let t0 = wg.y * TT;
    let ty = tid / 16u;
    let tx = tid % 16u;
    var acc = array<f32, 8>();
    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        let e = tile_group(n0 + tid / 4u, k0 / 8u + tid % 4u);
        let wo = (tid / 4u) * PAD + (tid % 4u) * 8u;
        let lo = vec4<f16>(e.lo);
        let hi = vec4<f16>(e.hi);
        ws16[wo] = lo.x;
        ws16[wo + 1u] = lo.y;
        ws16[wo + 2u] = lo.z;
        ws16[wo + 3u] = lo.w;
        ws16[wo + 4u] = hi.x;
        ws16[wo + 5u] = hi.y;
        ws16[wo + 6u] = hi.z;
        ws16[wo + 7u] = hi.w;
        for (var i = 0u; i < 4u; i++) {
            let idx = tid + i * 256u;
            xs16[(idx / TK) * PAD + idx % TK] = f16(tile_x(t0 + idx / TK, k0 + idx % TK));
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let a0 = xs16[(ty * 2u) * PAD + kk];
            let a1 = xs16[(ty * 2u + 1u) * PAD + kk];
            for (var i = 0u; i < 4u; i++) {
                let b = ws16[(tx + 16u * i) * PAD + kk];
                acc[i] += f32(a0 * b);
                acc[4u + i] += f32(a1 * b);
            }
        }
        workgroupBarrier();
    }
    store_tile(t0, n0, ty, tx, acc);
}
