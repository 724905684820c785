//! A counting global allocator: the fuzz binary and tests install it with
//! `#[global_allocator] static A: CountingAlloc = CountingAlloc;` and the engine reads, per
//! execution, the largest single allocation, the peak of live bytes above the level at the
//! start, and the number of allocations (a cheap proxy for the path taken).
//!
//! Allocations over [`LIMIT`] are let through (so that the input can be reported) and
//! recorded; allocations over [`HARD_LIMIT`] (or past [`LIVE_HARD_LIMIT`] of live memory)
//! are refused after calling the oversize hook (which saves the input), and the process then
//! aborts as any failed allocation does.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// The bound: no single allocation, and no peak of live memory, above 1 GiB.
pub const LIMIT: usize = 1 << 30;
/// Requests above this, or that would take live memory above [`LIVE_HARD_LIMIT`], are
/// refused (the machine would swap or the process be killed).
pub const HARD_LIMIT: usize = 6 << 30;
pub const LIVE_HARD_LIMIT: usize = 12 << 30;

pub struct CountingAlloc;

static INSTALLED: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static HOOK: AtomicUsize = AtomicUsize::new(0);
static IN_HOOK: AtomicBool = AtomicBool::new(false);

impl CountingAlloc {
    #[inline]
    fn admit(size: usize) -> bool {
        if size <= HARD_LIMIT && LIVE.load(Relaxed).saturating_add(size) <= LIVE_HARD_LIMIT {
            return true;
        }
        let hook = HOOK.load(Relaxed);
        if hook != 0 && !IN_HOOK.swap(true, Relaxed) {
            // SAFETY: only `set_oversize_hook` stores here, always a `fn(usize)`.
            let f: fn(usize) = unsafe { std::mem::transmute::<usize, fn(usize)>(hook) };
            f(size);
            IN_HOOK.store(false, Relaxed);
        }
        false
    }

    #[inline]
    fn grew(size: usize, added: usize) {
        INSTALLED.store(true, Relaxed);
        COUNT.fetch_add(1, Relaxed);
        LARGEST.fetch_max(size, Relaxed);
        let live = LIVE.fetch_add(added, Relaxed) + added;
        PEAK.fetch_max(live, Relaxed);
    }
}

// SAFETY: every call is forwarded to `System`; only counters are added.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::admit(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Self::grew(layout.size(), layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Self::admit(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Self::grew(layout.size(), layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !Self::admit(new_size) {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                Self::grew(new_size, new_size - layout.size());
            } else {
                COUNT.fetch_add(1, Relaxed);
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

/// Whether a [`CountingAlloc`] is the global allocator (it has seen an allocation).
pub fn installed() -> bool {
    INSTALLED.load(Relaxed)
}

/// Called with the size of a request over [`HARD_LIMIT`] before it is refused.
pub fn set_oversize_hook(f: fn(usize)) {
    HOOK.store(f as usize, Relaxed);
}

/// Counters of one measured section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Largest single allocation (or reallocation target) in bytes.
    pub largest: usize,
    /// Peak of live bytes above the level at [`Section::start`].
    pub peak: usize,
    /// Number of allocations and reallocations.
    pub count: usize,
}

/// A measured section: the counters are process-wide, so sections must not overlap
/// (the engine runs one execution at a time; tests serialise measured sections).
pub struct Section {
    base: usize,
}

impl Section {
    pub fn start() -> Self {
        let base = LIVE.load(Relaxed);
        PEAK.store(base, Relaxed);
        LARGEST.store(0, Relaxed);
        COUNT.store(0, Relaxed);
        Section { base }
    }

    pub fn stats(&self) -> AllocStats {
        AllocStats {
            largest: LARGEST.load(Relaxed),
            peak: PEAK.load(Relaxed).saturating_sub(self.base),
            count: COUNT.load(Relaxed),
        }
    }
}
