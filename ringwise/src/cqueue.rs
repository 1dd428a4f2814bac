//! The completion queue: read the kernel's tail with acquire, read CQEs,
//! publish the head with release once per batch.

use crate::entry::CqeSize;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};

/// Pointers into the rings region for the CQ.
pub(crate) struct CqPointers {
    pub head: *const AtomicU32,
    pub tail: *const AtomicU32,
    pub overflow: *const AtomicU32,
    pub flags: *const AtomicU32,
    pub cqes: *const u8,
    pub entries: u32,
}

/// The completion side of a ring.
pub struct CompletionQueue<C: CqeSize> {
    head: *const AtomicU32,
    tail: *const AtomicU32,
    overflow: *const AtomicU32,
    flags: *const AtomicU32,
    cqes: *const u8,
    mask: u32,
    entries: u32,
    _size: PhantomData<C>,
}

// SAFETY: as for the SQ: exclusive access to live ring memory through atomics.
unsafe impl<C: CqeSize> Send for CompletionQueue<C> {}

impl<C: CqeSize> CompletionQueue<C> {
    /// # Safety
    /// The pointers must point into live ring memory laid out for `entries`
    /// CQE slots of `C::SLOT_BYTES`, valid for the queue's life.
    pub(crate) unsafe fn new(p: CqPointers) -> CompletionQueue<C> {
        CompletionQueue {
            head: p.head,
            tail: p.tail,
            overflow: p.overflow,
            flags: p.flags,
            cqes: p.cqes,
            mask: p.entries - 1,
            entries: p.entries,
            _size: PhantomData,
        }
    }

    /// Point the queue at a resized ring: the kernel copied the pending
    /// CQEs to the same ring indices, head and tail included.
    ///
    /// # Safety
    /// As for [`new`](Self::new), for the new memory.
    pub(crate) unsafe fn repoint(&mut self, p: CqPointers) {
        // SAFETY: forwarded contract; the queue keeps no state besides the
        // pointers (head and tail live in ring memory).
        *self = unsafe { CompletionQueue::new(p) };
    }

    /// Number of CQ slots.
    pub fn capacity(&self) -> u32 {
        self.entries
    }

    #[inline(always)]
    fn load_head(&self) -> u32 {
        // SAFETY: pointer into live ring memory; only we write the head.
        unsafe { (*self.head).load(Ordering::Relaxed) }
    }

    #[inline(always)]
    fn load_tail(&self) -> u32 {
        // SAFETY: pointer into live ring memory; acquire pairs with the
        // kernel's release of the tail after writing CQEs.
        unsafe { (*self.tail).load(Ordering::Acquire) }
    }

    #[inline(always)]
    fn store_head(&self, head: u32) {
        // SAFETY: pointer into live ring memory; release orders our reads of
        // the CQEs before the kernel may overwrite them.
        unsafe { (*self.head).store(head, Ordering::Release) }
    }

    /// CQ slots filled and not yet reaped (a 32-byte CQE of a mixed ring
    /// counts two).
    #[inline]
    pub fn len(&self) -> u32 {
        self.load_tail().wrapping_sub(self.load_head())
    }

    /// Whether no CQE is waiting.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// CQEs the kernel had to drop because the CQ was full (only kernels
    /// without `IORING_FEAT_NODROP`; newer kernels keep them on an overflow
    /// list, which the ring flushes when it waits).
    pub fn overflow(&self) -> u32 {
        // SAFETY: pointer into live ring memory.
        unsafe { (*self.overflow).load(Ordering::Relaxed) }
    }

    /// Disable or enable eventfd notifications (`IORING_CQ_EVENTFD_DISABLED`).
    pub fn set_eventfd_enabled(&mut self, enabled: bool) {
        let bit = linux_raw_sys::io_uring::IORING_CQ_EVENTFD_DISABLED;
        // SAFETY: pointer into live ring memory; only the application writes
        // cq_flags.
        unsafe {
            let flags = (*self.flags).load(Ordering::Relaxed);
            let new = if enabled { flags & !bit } else { flags | bit };
            (*self.flags).store(new, Ordering::Release);
        }
    }

    /// Take the next CQE, or `None` when the queue is empty.
    // Not `Iterator`: the queue refills as the kernel posts, so `None` is
    // not the end; `drain()` is the iterator over what is ready now.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Option<C::Entry> {
        let mut batch = self.drain();
        let entry = batch.next();
        drop(batch);
        entry
    }

    /// Look at the next CQE without consuming it.
    pub fn peek(&self) -> Option<C::Entry> {
        let mut head = self.load_head();
        let tail = self.load_tail();
        while head != tail {
            // SAFETY: head != tail, so the slot holds a published CQE.
            let (entry, slots) = unsafe { C::read(self.cqes, head & self.mask, self.mask) };
            if !C::is_filler(&entry) {
                return Some(entry);
            }
            head = head.wrapping_add(slots);
        }
        None
    }

    /// Iterate over the CQEs ready now. The tail is read once; the head is
    /// published once, when the iterator is dropped. CQEs not iterated stay
    /// queued.
    #[inline]
    pub fn drain(&mut self) -> Drain<'_, C> {
        let head = self.load_head();
        let tail = self.load_tail();
        Drain { head, tail, queue: self }
    }

    /// Copy up to `out.len()` CQEs into `out`; returns how many.
    pub fn copy_into(&mut self, out: &mut [C::Entry]) -> usize {
        let mut n = 0;
        let mut batch = self.drain();
        for slot in out.iter_mut() {
            match batch.next() {
                Some(e) => {
                    *slot = e;
                    n += 1;
                }
                None => break,
            }
        }
        n
    }
}

/// CQEs ready at the time [`CompletionQueue::drain`] was called.
pub struct Drain<'a, C: CqeSize> {
    head: u32,
    tail: u32,
    queue: &'a mut CompletionQueue<C>,
}

impl<C: CqeSize> fmt::Debug for Drain<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain").field("head", &self.head).field("tail", &self.tail).finish()
    }
}

impl<C: CqeSize> Iterator for Drain<'_, C> {
    type Item = C::Entry;

    #[inline(always)]
    fn next(&mut self) -> Option<C::Entry> {
        while self.head != self.tail {
            // SAFETY: head != tail, so the slot holds a CQE the kernel
            // published before the tail we read with acquire.
            let (entry, slots) = unsafe { C::read(self.queue.cqes, self.head & self.queue.mask, self.queue.mask) };
            self.head = self.head.wrapping_add(slots);
            if !C::is_filler(&entry) {
                return Some(entry);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.tail.wrapping_sub(self.head) as usize))
    }
}

impl<C: CqeSize> Drop for Drain<'_, C> {
    #[inline(always)]
    fn drop(&mut self) {
        self.queue.store_head(self.head);
    }
}

impl<C: CqeSize> fmt::Debug for CompletionQueue<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionQueue")
            .field("entries", &self.entries)
            .field("ready", &self.len())
            .field("overflow", &self.overflow())
            .finish()
    }
}
