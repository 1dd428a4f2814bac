//! A buffer that counts its drops, for the owned-I/O tests: "freed exactly
//! once, and only after the kernel is done" is checked by counting.
//! Included with `#[path]` by the test files that use it.

use ringwise::owned::{IoBuf, IoBufMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A `Vec<u8>` that adds one to `drops` when it is dropped.
pub struct Counted {
    /// The bytes.
    pub data: Vec<u8>,
    /// Incremented by the drop.
    pub drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: forwards to the Vec's heap memory, which stays put when `Counted`
// moves.
unsafe impl IoBuf for Counted {
    fn stable_ptr(&self) -> *const u8 {
        self.data.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.data.bytes_init()
    }
    fn bytes_total(&self) -> usize {
        self.data.bytes_total()
    }
}

// SAFETY: as above.
unsafe impl IoBufMut for Counted {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.data.stable_mut_ptr()
    }
    unsafe fn set_init(&mut self, n: usize) {
        // SAFETY: forwarded.
        unsafe { self.data.set_init(n) }
    }
}
