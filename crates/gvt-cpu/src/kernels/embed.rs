//! Embedding rows gathered from a matrix in any format.

use crate::{CpuError, Result, Weight};

/// Rows `tokens` of `table` into `out` (`[tokens.len(), table.cols]`).
pub fn embed(table: &Weight, tokens: &[u32], out: &mut [f32]) -> Result<()> {
    for (&token, out) in tokens.iter().zip(out.chunks_exact_mut(table.cols)) {
        let r = token as usize;
        if r >= table.rows {
            return Err(CpuError::InvalidInput(format!(
                "token {token} is outside the vocabulary of {}",
                table.rows
            )));
        }
        table.decode_row(r, out);
    }
    Ok(())
}
