// Appended to linear.wgsl where the adapter has subgroups (with subgroups of at most 64
// lanes): decode's mat-vec without the shared-memory reduction tree.
//
// matvec_subgroup: 256 threads = 4 rows x 64 lanes, as `matvec`. Each subgroup sums its
// lanes with subgroupAdd; its first lane leaves the sum in `leaders`, and after one barrier
// the row's first lane adds its 64 slots. Subgroups are consecutive invocations of at most
// 64, so none spans two rows. Dispatch (ceil(n / 4), t).

var<workgroup> leaders: array<f32, 256>;

@compute @workgroup_size(256)
fn matvec_subgroup(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) sg_lane: u32,
) {
    let lane = tid % LANES;
    let n = wg.x * ROWS + tid / LANES;
    let t = wg.y;
    var acc = 0.0;
    if n < p.n {
        acc = lane_dot(n, t, lane, LANES);
    }
    let total = subgroupAdd(acc);
    leaders[tid] = select(0.0, total, sg_lane == 0u);
    workgroupBarrier();
    if lane == 0u && n < p.n {
        var sum = 0.0;
        for (var i = tid; i < tid + LANES; i++) {
            sum += leaders[i];
        }
        store(t, n, sum);
    }
}
