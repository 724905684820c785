// Q8_0: 34 bytes per 32 values. f16 d, then 32 signed bytes; value = d * q.
const BLOCK: u32 = 32u;
const BLOCK_BYTES: u32 = 34u;

fn block_group8(off: u32, j: u32) -> Eight {
    let d = f16_at(off);
    let q = off + 2u + j * 8u;
    return Eight(d * sbytes4(u32_at(q)), d * sbytes4(u32_at(q + 4u)));
}
