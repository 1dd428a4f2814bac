//! A buffer that counts its drops, for the owned-I/O tests: "freed exactly
//! once, and only after the kernel is done" is checked by counting.
//! Included with `#[path]` by the test files that use it.

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

/// `IoBuf` and `IoBufMut` for a test buffer type `$ty` whose bytes are the
/// `Vec<u8>` in its field `$field`: every call forwards to the `Vec`.
macro_rules! forward_io_buf {
    ($ty:ty, $field:ident) => {
        // SAFETY: forwards to the Vec's heap memory, which stays put when
        // the buffer moves and is not touched by anything else while an op
        // owns it.
        unsafe impl ringwise::owned::IoBuf for $ty {
            fn stable_ptr(&self) -> *const u8 {
                ringwise::owned::IoBuf::stable_ptr(&self.$field)
            }
            fn bytes_init(&self) -> usize {
                ringwise::owned::IoBuf::bytes_init(&self.$field)
            }
            fn bytes_total(&self) -> usize {
                ringwise::owned::IoBuf::bytes_total(&self.$field)
            }
        }

        // SAFETY: as above.
        unsafe impl ringwise::owned::IoBufMut for $ty {
            fn stable_mut_ptr(&mut self) -> *mut u8 {
                ringwise::owned::IoBufMut::stable_mut_ptr(&mut self.$field)
            }
            unsafe fn set_init(&mut self, n: usize) {
                // SAFETY: forwarded, with the caller's promise.
                unsafe { ringwise::owned::IoBufMut::set_init(&mut self.$field, n) }
            }
        }
    };
}

forward_io_buf!(Counted, data);
