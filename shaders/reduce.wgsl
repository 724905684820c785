// Added to the families that reduce across a workgroup (each defines WG, its workgroup
// size): a sum or a maximum over the workgroup's threads, returned to every one of them.

var<workgroup> red: array<f32, WG>;

fn reduce(tid: u32, v: f32, is_max: bool) -> f32 {
    red[tid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if tid < s {
            if is_max {
                red[tid] = max(red[tid], red[tid + s]);
            } else {
                red[tid] += red[tid + s];
            }
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}
