//! The CPU kernels, named as the GPU engine's kernel families (`shaders/`): `linear`,
//! `norm`, `rope`, `attention`, `embed`. Each is tested against a plain f32 reference.

pub mod attention;
mod dot;
pub mod embed;
pub mod linear;
pub mod norm;
pub mod quantize;
pub mod rope;

/// Output rows `y[t * ld + r]` that threads write disjoint parts of.
#[derive(Clone, Copy)]
pub(crate) struct Out {
    ptr: *mut f32,
    ld: usize,
    len: usize,
    /// Add to what is there (a residual) instead of storing.
    add: bool,
}

// SAFETY: every thread writes other indices (its own rows of the weight).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    pub fn new(y: &mut [f32], ld: usize, add: bool) -> Self {
        Self {
            ptr: y.as_mut_ptr(),
            ld,
            len: y.len(),
            add,
        }
    }

    #[inline]
    pub fn put(&self, r: usize, t: usize, v: f32) {
        let i = t * self.ld + r;
        assert!(i < self.len);
        // SAFETY: in bounds, and no other thread writes row `r`.
        unsafe {
            let p = self.ptr.add(i);
            *p = if self.add { *p + v } else { v };
        }
    }
}
