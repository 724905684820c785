//! GGUF matrices read where they lie.

use std::sync::Arc;

use crate::{CpuError, Result, WeightFormat};

/// Bytes shared with their owner: a memory-mapped file natively, the downloaded file in
/// the browser.
pub type Shared = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// One GGUF tensor as stored: `shape` in ggml order (`[cols, rows]`, columns contiguous).
#[derive(Debug, Clone, Copy)]
pub struct TensorBytes<'a> {
    pub name: &'a str,
    pub format: WeightFormat,
    pub shape: [usize; 2],
    pub bytes: &'a [u8],
}

impl TensorBytes<'_> {
    /// Bytes per row, when the shape is whole blocks, not empty, and matches the bytes;
    /// otherwise what is wrong.
    pub fn row_bytes(&self) -> Result<usize, String> {
        let [cols, rows] = self.shape;
        let row_bytes = self.format.row_bytes(cols).ok_or_else(|| {
            format!(
                "{cols} columns are not whole {} blocks of {}",
                self.format,
                self.format.block()
            )
        })?;
        if rows == 0 || cols == 0 {
            return Err(format!("empty shape [{cols}, {rows}]"));
        }
        let expected = row_bytes as u64 * rows as u64;
        if self.bytes.len() as u64 != expected {
            return Err(format!(
                "{} bytes for [{cols}, {rows}] in {}, which takes {expected}",
                self.bytes.len(),
                self.format
            ));
        }
        Ok(row_bytes)
    }
}

/// A matrix `[rows, cols]` in its GGUF blocks, row after row.
#[derive(Clone)]
pub struct Weight {
    pub name: String,
    pub format: WeightFormat,
    pub rows: usize,
    pub cols: usize,
    pub row_bytes: usize,
    owner: Shared,
    start: usize,
}

impl Weight {
    /// `t`, read in place when its bytes lie in `owner`, else copied.
    pub fn new(t: TensorBytes<'_>, owner: Option<&Shared>) -> Result<Self> {
        let row_bytes = t.row_bytes().map_err(|problem| CpuError::Shape {
            tensor: t.name.into(),
            problem,
        })?;
        let [cols, rows] = t.shape;
        let inside = owner.and_then(|o| {
            let whole = (*o).as_ref().as_ref();
            let start = (t.bytes.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
            (start + t.bytes.len() <= whole.len()).then(|| (o.clone(), start))
        });
        let (owner, start) = inside.unwrap_or_else(|| (Arc::new(t.bytes.to_vec()) as Shared, 0));
        Ok(Self {
            name: t.name.into(),
            format: t.format,
            rows,
            cols,
            row_bytes,
            owner,
            start,
        })
    }

    /// The same values read as a `[cols, rows]` matrix (a convolution's weights as the
    /// matrix over flattened patches); only for formats without blocks.
    pub fn reshaped(mut self, [cols, rows]: [usize; 2]) -> Result<Self> {
        if self.format.block() != 1 || cols * rows != self.cols * self.rows {
            return Err(CpuError::UnsupportedFormat {
                tensor: self.name.clone(),
                format: format!(
                    "{} (read as [{cols}, {rows}], it must be F32, F16 or BF16 of as many values)",
                    self.format
                ),
            });
        }
        self.row_bytes = self.row_bytes / self.cols * cols;
        (self.cols, self.rows) = (cols, rows);
        Ok(self)
    }

    /// Every row's bytes.
    pub fn bytes(&self) -> &[u8] {
        let all: &[u8] = (*self.owner).as_ref();
        &all[self.start..self.start + self.rows * self.row_bytes]
    }

    /// Row `r`'s bytes.
    pub fn row(&self, r: usize) -> &[u8] {
        &self.bytes()[r * self.row_bytes..(r + 1) * self.row_bytes]
    }

    /// Row `r` as f32 values.
    pub fn decode_row(&self, r: usize, out: &mut [f32]) {
        self.format.decode(self.row(r), &mut out[..self.cols]);
    }
}
