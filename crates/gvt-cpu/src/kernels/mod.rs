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

    /// `y[t, r0 + i] = values[i]` for `i` below `n`.
    #[inline]
    pub fn put_rows<const N: usize>(&self, r0: usize, t: usize, values: &[f32; N], n: usize) {
        let i = t * self.ld + r0;
        assert!(n <= N && r0 + n <= self.ld && i + n <= self.len);
        let p = self.ptr.wrapping_add(i);
        if n == N {
            // SAFETY: in bounds, and no other thread writes these rows. A fixed size, so a
            // few vector moves rather than a call to memcpy.
            let y = unsafe { &mut *p.cast::<[f32; N]>() };
            *y = if self.add {
                std::array::from_fn(|i| y[i] + values[i])
            } else {
                *values
            };
        } else {
            for (i, v) in values.iter().enumerate().take(n) {
                self.put(r0 + i, t, *v);
            }
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
