//! The submission queue: a local tail the application fills, published to
//! the kernel with one release store when submitting.

use crate::entry::{Sqe, SqeSize};
use crate::op::{PrepareSqe, SafeOp};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};

/// The SQ has no free slot: submit (and reap completions) first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqFull;

impl fmt::Display for SqFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the submission queue is full; submit before pushing more")
    }
}

impl std::error::Error for SqFull {}

/// Pointers into the rings region for the SQ.
pub(crate) struct SqPointers {
    pub head: *const AtomicU32,
    pub tail: *const AtomicU32,
    pub flags: *const AtomicU32,
    pub dropped: *const AtomicU32,
    pub sqes: *mut u8,
    pub entries: u32,
}

/// The submission side of a ring.
pub struct SubmissionQueue<S: SqeSize> {
    head: *const AtomicU32,
    tail: *const AtomicU32,
    flags: *const AtomicU32,
    dropped: *const AtomicU32,
    sqes: *mut u8,
    mask: u32,
    entries: u32,
    /// Next slot to fill (ours; published at submit).
    local_tail: u32,
    /// The kernel's head as last read.
    cached_head: u32,
    _size: PhantomData<S>,
}

// SAFETY: the queue only touches ring memory that its owning `Ring` keeps
// alive, through atomics for the shared indices; moving it to another thread
// moves that exclusive access with it.
unsafe impl<S: SqeSize> Send for SubmissionQueue<S> {}

impl<S: SqeSize> SubmissionQueue<S> {
    /// # Safety
    /// The pointers must point into live ring memory laid out for `entries`
    /// SQEs of `S::SLOT_BYTES`, and stay valid for the queue's life.
    pub(crate) unsafe fn new(p: SqPointers) -> SubmissionQueue<S> {
        // SAFETY: the caller guarantees the pointers.
        let (head, tail) = unsafe { ((*p.head).load(Ordering::Acquire), (*p.tail).load(Ordering::Relaxed)) };
        debug_assert_eq!(head, tail, "a new ring's SQ is empty");
        SubmissionQueue {
            head: p.head,
            tail: p.tail,
            flags: p.flags,
            dropped: p.dropped,
            sqes: p.sqes,
            mask: p.entries - 1,
            entries: p.entries,
            local_tail: tail,
            cached_head: head,
            _size: PhantomData,
        }
    }

    /// Number of SQ slots.
    #[inline]
    pub fn capacity(&self) -> u32 {
        self.entries
    }

    /// SQEs pushed and not yet consumed by the kernel (as last seen).
    #[inline]
    pub fn len(&self) -> u32 {
        self.local_tail.wrapping_sub(self.kernel_head())
    }

    /// Whether nothing is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free slots.
    #[inline]
    pub fn space(&self) -> u32 {
        self.entries - self.len()
    }

    /// SQEs the kernel dropped because their SQ array slot held an invalid
    /// index. Always 0 for rings ringwise set up; a non-zero value means the
    /// ring memory was corrupted.
    pub fn dropped(&self) -> u32 {
        // SAFETY: pointer into live ring memory.
        unsafe { (*self.dropped).load(Ordering::Relaxed) }
    }

    /// The SQ ring flags (`IORING_SQ_NEED_WAKEUP`, `CQ_OVERFLOW`, `TASKRUN`).
    #[inline]
    pub fn ring_flags(&self) -> u32 {
        // SAFETY: pointer into live ring memory.
        unsafe { (*self.flags).load(Ordering::Relaxed) }
    }

    #[inline(always)]
    pub(crate) fn ring_flags_seqcst(&self) -> u32 {
        std::sync::atomic::fence(Ordering::SeqCst);
        // SAFETY: pointer into live ring memory.
        unsafe { (*self.flags).load(Ordering::Relaxed) }
    }

    #[inline(always)]
    pub(crate) fn kernel_head(&self) -> u32 {
        // SAFETY: pointer into live ring memory.
        unsafe { (*self.head).load(Ordering::Acquire) }
    }

    /// The slot for the next SQE, or `None` when full.
    #[inline(always)]
    fn next_slot(&mut self) -> Option<&mut Sqe> {
        if self.local_tail.wrapping_sub(self.cached_head) >= self.entries {
            self.cached_head = self.kernel_head();
            if self.local_tail.wrapping_sub(self.cached_head) >= self.entries {
                return None;
            }
        }
        let index = (self.local_tail & self.mask) as usize;
        self.local_tail = self.local_tail.wrapping_add(1);
        // SAFETY: index < entries, the slot lies in the SQE array, and the
        // kernel has consumed it (it is between the kernel's head and our
        // tail's wrap), so nobody else reads it while we write.
        Some(unsafe { &mut *self.sqes.add(index * S::SLOT_BYTES).cast::<Sqe>() })
    }

    /// Queue an op that gives the kernel no memory to keep (e.g. [`Nop`](crate::op::Nop)).
    #[inline]
    pub fn push<O: SafeOp>(&mut self, op: O) -> Result<(), SqFull> {
        let sqe = self.next_slot().ok_or(SqFull)?;
        op.prepare(sqe);
        Ok(())
    }

    /// Queue any op.
    ///
    /// # Safety
    /// Every pointer the op carries (buffers, iovecs, paths, ...) must stay
    /// valid, and not be used in ways the op forbids (a read's buffer must not
    /// be read or written by others), until the op's CQE has been reaped.
    #[inline]
    pub unsafe fn push_unchecked<O: PrepareSqe>(&mut self, op: O) -> Result<(), SqFull> {
        let sqe = self.next_slot().ok_or(SqFull)?;
        op.prepare(sqe);
        Ok(())
    }

    /// Queue ops from an iterator while there is room; returns how many were
    /// queued. The rest of the iterator is left unconsumed.
    pub fn push_iter<O: SafeOp>(&mut self, ops: impl IntoIterator<Item = O>) -> u32 {
        let mut pushed = 0;
        let mut ops = ops.into_iter();
        while self.space() > 0 {
            let Some(op) = ops.next() else { break };
            // Cannot fail: there is space.
            if self.push(op).is_err() {
                break;
            }
            pushed += 1;
        }
        pushed
    }

    /// Fill the next SQE by hand.
    ///
    /// # Safety
    /// `fill` must leave a valid SQE whose pointers follow the contract of
    /// [`push_unchecked`](Self::push_unchecked).
    #[inline]
    pub unsafe fn push_raw(&mut self, fill: impl FnOnce(&mut Sqe)) -> Result<(), SqFull> {
        let sqe = self.next_slot().ok_or(SqFull)?;
        fill(sqe);
        Ok(())
    }

    /// The SQE at a ring index (already consumed by the kernel, or queued).
    pub(crate) fn sqe_at(&self, index: u32) -> Sqe {
        let slot = (index & self.mask) as usize;
        // SAFETY: slot < entries; reading a plain-old-data SQE.
        unsafe { self.sqes.add(slot * S::SLOT_BYTES).cast::<Sqe>().read() }
    }

    /// Publish queued SQEs to the kernel; returns how many are unconsumed.
    #[inline(always)]
    pub(crate) fn publish(&mut self) -> u32 {
        // SAFETY: pointer into live ring memory. Release orders our SQE writes
        // before the kernel sees the new tail.
        unsafe { (*self.tail).store(self.local_tail, Ordering::Release) };
        self.local_tail.wrapping_sub(self.cached_head)
    }

    /// Our tail (published or not).
    #[inline(always)]
    pub(crate) fn local_tail(&self) -> u32 {
        self.local_tail
    }

    /// Re-read the kernel's head after it consumed SQEs.
    #[inline(always)]
    pub(crate) fn sync_head(&mut self) -> u32 {
        self.cached_head = self.kernel_head();
        self.cached_head
    }

    #[inline(always)]
    pub(crate) fn cached_head(&self) -> u32 {
        self.cached_head
    }
}

impl<S: SqeSize> fmt::Debug for SubmissionQueue<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmissionQueue")
            .field("entries", &self.entries)
            .field("queued", &self.len())
            .field("dropped", &self.dropped())
            .finish()
    }
}
