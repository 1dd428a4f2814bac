//! Owned stand-ins for the parts of ring memory a queue points into, and a
//! stand-in op, for the index-arithmetic unit tests of `squeue` and
//! `cqueue`. The tests play the kernel's side themselves; the kernel-backed
//! tests are in `tests/`. The core's tests use [`TestNop`] rather than
//! `op::Nop` so that the core never depends on `op/` (see `lib.rs`).

use crate::entry::{PrepareSqe, SafeOp, Sqe};
use std::sync::atomic::AtomicU32;

/// `IORING_OP_NOP` with a `user_data`, every other field zero (what
/// `op::Nop::new().user_data(..)` writes).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TestNop(pub u64);

/// The NOP opcode.
pub(crate) const NOP: u8 = linux_raw_sys::io_uring::io_uring_op::IORING_OP_NOP as u8;

impl PrepareSqe for TestNop {
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { opcode: NOP, user_data: self.0, ..Sqe::default() };
    }
}

impl SafeOp for TestNop {}

/// The u32 words of one queue's part of a rings region's header, on a cache
/// line of their own as in the kernel's layout. The SQ uses `head`, `tail`,
/// `flags` and `dropped`; the CQ `head`, `tail`, `flags` and `overflow`.
#[repr(C, align(64))]
pub(crate) struct Header {
    pub head: AtomicU32,
    pub tail: AtomicU32,
    pub flags: AtomicU32,
    pub dropped: AtomicU32,
    pub overflow: AtomicU32,
}

impl Header {
    /// An empty queue whose free-running head and tail start at `start`.
    pub fn new(start: u32) -> Box<Header> {
        Box::new(Header {
            head: AtomicU32::new(start),
            tail: AtomicU32::new(start),
            flags: AtomicU32::new(0),
            dropped: AtomicU32::new(0),
            overflow: AtomicU32::new(0),
        })
    }
}

/// An entry array of `entries` slots of `slot_bytes`, 8-byte aligned, freed
/// on drop. Held as a raw pointer, not a `Box`, because the queue under test
/// and the fake kernel both write through pointers into it while the owner
/// moves around.
pub(crate) struct Slots {
    words: *mut [u64],
}

impl Slots {
    /// Slots that start as garbage (all ones), as in a reused ring.
    pub fn new(entries: u32, slot_bytes: usize) -> Slots {
        let words = entries as usize * slot_bytes / 8;
        Slots { words: Box::into_raw(vec![u64::MAX; words].into_boxed_slice()) }
    }

    /// The first byte of the array.
    pub fn ptr(&self) -> *mut u8 {
        self.words.cast::<u8>()
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        // SAFETY: made by Box::into_raw in `new` and freed only here; the
        // owner drops its queue (which has no Drop) with it and uses no
        // pointer into the array afterwards.
        drop(unsafe { Box::from_raw(self.words) });
    }
}
