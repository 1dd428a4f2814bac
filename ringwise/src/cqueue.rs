//! The completion queue: read the kernel's tail with acquire, read CQEs,
//! publish the head with release once per batch.
//!
//! The index of the next CQE to hand out (the *cursor*) lives in the
//! queue's state, not in the [`Drain`] that reads: each CQE a drain yields
//! moves the cursor at once, and the head the kernel sees is published
//! from it when the drain drops. So a drain that is never dropped
//! (`mem::forget`) cannot make a CQE come out twice; only the kernel's view
//! lags, until the next access publishes it.
//!
//! Whatever the ring memory says, the cursor never moves past the tail read
//! with acquire: an entry claiming more slots than are published is cut at
//! the tail, so a corrupt CQE cannot make the queue run off into billions
//! of phantom entries.
//!
//! Over 700 lines because about a third of the file is its unit tests: the
//! index arithmetic against a fake kernel (`fake_ring`), property-tested
//! through wrap-around past 2^32, kept next to the code they check.

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

/// The completion side's state: raw pointers into the ring's memory.
/// Crate-private on purpose: safe code only reaches it through a
/// [`CompletionQueue`] handle or a [`Drain`], both of which borrow it from
/// its `Ring`, so it cannot be swapped into another ring (its pointers would
/// then outlive their memory).
pub(crate) struct CqState<C: CqeSize> {
    /// The head the kernel reads (published with release).
    head: *const AtomicU32,
    tail: *const AtomicU32,
    overflow: *const AtomicU32,
    flags: *const AtomicU32,
    cqes: *const u8,
    mask: u32,
    entries: u32,
    /// The cursor: index of the next CQE to hand out. At or ahead of the
    /// published head (ahead only while a [`Drain`] is open, or after one
    /// was forgotten), never past the tail.
    local_head: u32,
    _size: PhantomData<C>,
}

// SAFETY: as for the SQ: exclusive access to live ring memory through atomics.
unsafe impl<C: CqeSize> Send for CqState<C> {}

impl<C: CqeSize> CqState<C> {
    /// # Safety
    /// The pointers must point into live ring memory laid out for `entries`
    /// CQE slots of `C::SLOT_BYTES`, valid for the queue's life.
    pub(crate) unsafe fn new(p: CqPointers) -> CqState<C> {
        // SAFETY: the caller guarantees `head` points into live ring memory.
        let local_head = unsafe { (*p.head).load(Ordering::Acquire) };
        CqState {
            head: p.head,
            tail: p.tail,
            overflow: p.overflow,
            flags: p.flags,
            cqes: p.cqes,
            mask: p.entries - 1,
            entries: p.entries,
            local_head,
            _size: PhantomData,
        }
    }

    /// Point the queue at a resized ring: the kernel copied the CQEs from
    /// its head to its tail to the same ring indices (`index & new_mask`),
    /// head and tail included, so the cursor stays valid as it is (it lies
    /// between the two; ahead of the kernel's head only after a forgotten
    /// drain, whose CQEs the kernel then copied too).
    ///
    /// # Safety
    /// As for [`new`](Self::new), for the new memory.
    pub(crate) unsafe fn repoint(&mut self, p: CqPointers) {
        let cursor = self.local_head;
        // SAFETY: forwarded contract.
        *self = unsafe { CqState::new(p) };
        self.local_head = cursor;
        self.publish();
    }

    /// Number of CQ slots.
    pub(crate) fn capacity(&self) -> u32 {
        self.entries
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

    /// Tell the kernel which slots are free: publish the cursor as the
    /// head. A no-op store unless a [`Drain`] was forgotten.
    #[inline(always)]
    fn publish(&self) {
        self.store_head(self.local_head);
    }

    /// CQ slots filled and not yet reaped (a 32-byte CQE of a mixed ring
    /// counts two). Also publishes the head (see [`publish`](Self::publish)),
    /// so that a wait that follows, which the kernel measures from the head
    /// it sees, counts from the right place.
    #[inline]
    pub(crate) fn len(&self) -> u32 {
        self.publish();
        self.pending()
    }

    /// `len` without the publish.
    #[inline(always)]
    pub(crate) fn pending(&self) -> u32 {
        self.load_tail().wrapping_sub(self.local_head)
    }

    /// Whether no CQE is waiting.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pending() == 0
    }

    /// CQEs the kernel had to drop because the CQ was full (only kernels
    /// without `IORING_FEAT_NODROP`; newer kernels keep them on an overflow
    /// list, which the ring flushes when it waits).
    pub(crate) fn overflow(&self) -> u32 {
        // SAFETY: pointer into live ring memory.
        unsafe { (*self.overflow).load(Ordering::Relaxed) }
    }

    /// Whether the registered eventfd is signalled
    /// (`IORING_CQ_EVENTFD_DISABLED` clear in the CQ ring's flags).
    pub(crate) fn eventfd_enabled(&self) -> bool {
        let bit = linux_raw_sys::io_uring::IORING_CQ_EVENTFD_DISABLED;
        // SAFETY: pointer into live ring memory.
        unsafe { (*self.flags).load(Ordering::Relaxed) & bit == 0 }
    }

    /// Disable or enable eventfd notifications (`IORING_CQ_EVENTFD_DISABLED`).
    pub(crate) fn set_eventfd_enabled(&mut self, enabled: bool) {
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
    pub(crate) fn next(&mut self) -> Option<C::Entry> {
        let mut batch = self.drain();
        let entry = batch.next();
        drop(batch);
        entry
    }

    /// The entry at `head` (`head != tail`, both as read) and the index
    /// after it, never past `tail` whatever the memory holds.
    ///
    /// # Safety
    /// `tail` must have been read with acquire ([`load_tail`](Self::load_tail))
    /// after `head` was published by the kernel, and `head` must lie in
    /// `[cursor, tail)`: the slots in between hold published CQEs.
    #[inline(always)]
    unsafe fn step(&self, head: u32, tail: u32) -> (C::Entry, u32) {
        let avail = tail.wrapping_sub(head);
        // SAFETY: head is before the tail, so its slot holds a published
        // CQE; `read` reads a second slot only for a 32-byte CQE of a mixed
        // ring, at `(slot + 1) & mask`, inside the array.
        let (entry, slots) = unsafe { C::read(self.cqes, head & self.mask, self.mask) };
        // A CQE never claims more slots than are published, unless the
        // memory is corrupt: then stop at the tail rather than past it. (For
        // 16- and 32-byte rings `slots` is the constant 1 and this folds.)
        (entry, head.wrapping_add(slots.min(avail)))
    }

    /// Look at the next CQE without consuming it.
    pub(crate) fn peek(&self) -> Option<C::Entry> {
        self.iter().next()
    }

    /// The CQEs ready now, without consuming them.
    pub(crate) fn iter(&self) -> Iter<'_, C> {
        let tail = self.load_tail();
        Iter { head: self.local_head, tail, queue: self }
    }

    /// Iterate over the CQEs ready now. The tail is read once; the head is
    /// published once, when the iterator is dropped (and, should it be
    /// forgotten, at the next access). CQEs not iterated stay queued.
    #[inline]
    pub(crate) fn drain(&mut self) -> Drain<'_, C> {
        let tail = self.load_tail();
        Drain { tail, queue: self }
    }

    /// Copy up to `out.len()` CQEs into `out`; returns how many.
    pub(crate) fn copy_into(&mut self, out: &mut [C::Entry]) -> usize {
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

impl CqState<crate::entry::Cqe16> {
    /// Append every CQE ready to `out`, consuming them, with one copy per
    /// run of the ring (one, or two where it wraps) and the head published
    /// once: the slots of a 16-byte ring are its entries, as they are.
    /// Returns how many.
    pub(crate) fn take_into(&mut self, out: &mut Vec<crate::entry::Cqe>) -> usize {
        let head = self.local_head;
        // Never more than the ring holds, whatever the memory says.
        let n = self.load_tail().wrapping_sub(head).min(self.entries) as usize;
        let start = (head & self.mask) as usize;
        let first = n.min(self.entries as usize - start);
        let cqes = self.cqes.cast::<crate::entry::Cqe>();
        // SAFETY: the `n` slots from the cursor on hold CQEs the kernel
        // published (the tail was read with acquire) and leaves alone until
        // the head passes them; they are `start..start + first` and then
        // `0..n - first` of the array of `entries` 16-byte slots, each a
        // `Cqe` (`repr(C)`, 16 bytes, any bits valid), 8-byte aligned as
        // the kernel lays the array out.
        unsafe {
            out.extend_from_slice(std::slice::from_raw_parts(cqes.add(start), first));
            out.extend_from_slice(std::slice::from_raw_parts(cqes, n - first));
        }
        self.local_head = head.wrapping_add(n as u32);
        self.publish();
        n
    }
}

impl CompletionQueue<'_, crate::entry::Cqe16> {
    /// Append every CQE ready to `out` and consume them (see
    /// `CqState::take_into`); returns how many.
    #[inline]
    pub(crate) fn take_into(&mut self, out: &mut Vec<crate::entry::Cqe>) -> usize {
        self.state.take_into(out)
    }
}

/// The completion side of a ring, borrowed from it by
/// [`Ring::completion`](crate::Ring::completion) (or
/// [`Ring::queues`](crate::Ring::queues)).
///
/// A handle, not the queue itself: it holds only a borrow of the ring's
/// queue state, so swapping two handles swaps two borrows and leaves both
/// rings as they were.
///
/// Reading it never enters the kernel: it yields the CQEs the kernel has
/// posted so far, and each one taken frees its slot (at once with
/// [`next`](Self::next), when the iterator is dropped with
/// [`drain`](Self::drain)). [`peek`](Self::peek) and [`iter`](Self::iter)
/// look without taking. To also flush
/// CQEs the kernel holds back (overflow, deferred task work), use
/// [`Ring::completions`](crate::Ring::completions).
///
/// ```
/// use ringwise::{op::Nop, Ring};
/// let mut ring: Ring = Ring::new(8)?;
/// for ud in 1..=3 {
///     ring.submission().push(Nop::new().user_data(ud)).unwrap();
/// }
/// ring.submit_and_wait(3)?;
/// let mut cq = ring.completion();
/// assert_eq!(cq.len(), 3);
/// assert_eq!(cq.peek().map(|c| c.user_data), Some(1), "peek leaves it queued");
/// assert_eq!(cq.iter().map(|c| c.user_data).collect::<Vec<_>>(), [1, 2, 3], "so does iter");
/// assert_eq!(cq.next().map(|c| c.user_data), Some(1));
/// let rest: Vec<u64> = cq.drain().map(|c| c.user_data).collect();
/// assert_eq!(rest, [2, 3]);
/// assert!(ring.completion().is_empty());
/// # Ok::<(), ringwise::Error>(())
/// ```
pub struct CompletionQueue<'a, C: CqeSize> {
    state: &'a mut CqState<C>,
}

impl<'a, C: CqeSize> CompletionQueue<'a, C> {
    #[inline(always)]
    pub(crate) fn new(state: &'a mut CqState<C>) -> CompletionQueue<'a, C> {
        CompletionQueue { state }
    }

    /// Number of CQ slots.
    #[inline]
    pub fn capacity(&self) -> u32 {
        self.state.capacity()
    }

    /// CQ slots filled and not yet reaped (a 32-byte CQE of a mixed ring
    /// counts two, a filler one). At most [`capacity`](Self::capacity)
    /// with a kernel that keeps its side of the ring.
    #[inline]
    pub fn len(&self) -> u32 {
        self.state.len()
    }

    /// Whether no CQE is waiting.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// CQEs the kernel had to drop because the CQ was full (only kernels
    /// without `IORING_FEAT_NODROP`; newer kernels keep them on an overflow
    /// list, which the ring flushes when it waits).
    pub fn overflow(&self) -> u32 {
        self.state.overflow()
    }

    /// Whether the eventfd registered with
    /// [`Ring::register_eventfd`](crate::Ring::register_eventfd) is
    /// signalled for new CQEs: `IORING_CQ_EVENTFD_DISABLED` (Linux 5.8) is
    /// clear in the CQ ring's flags. True for a new ring; read from the
    /// ring memory, where the kernel reads it.
    pub fn eventfd_enabled(&self) -> bool {
        self.state.eventfd_enabled()
    }

    /// Stop (`false`) or resume (`true`) signalling the registered eventfd
    /// for new CQEs, without unregistering it: sets or clears
    /// `IORING_CQ_EVENTFD_DISABLED` (Linux 5.8) in the CQ ring's flags,
    /// which the kernel checks before each signal. For a loop that reaps
    /// by polling for a while and wants no wake-ups meanwhile. Kernels
    /// before 5.8 ignore the bit and keep signalling.
    pub fn set_eventfd_enabled(&mut self, enabled: bool) {
        self.state.set_eventfd_enabled(enabled)
    }

    /// Take the next CQE, freeing its slot at once (the head is published
    /// per call; [`drain`](Self::drain) publishes once per batch). `None`
    /// when nothing is ready now.
    // Not `Iterator`: the queue refills as the kernel posts, so `None` is
    // not the end; `drain()` is the iterator over what is ready now.
    #[allow(clippy::should_implement_trait)]
    #[inline(always)]
    pub fn next(&mut self) -> Option<C::Entry> {
        self.state.next()
    }

    /// Look at the next CQE without consuming it: the same CQE comes out
    /// of the next `peek`, [`next`](Self::next) or [`drain`](Self::drain).
    #[inline]
    pub fn peek(&self) -> Option<C::Entry> {
        self.state.peek()
    }

    /// Look at every CQE ready now without consuming any (the CQ head does
    /// not move; see [`Iter`]). The tail is read once, so CQEs the kernel
    /// posts meanwhile show at the next look. To consume, use
    /// [`drain`](Self::drain) or [`next`](Self::next), or copy what to keep.
    #[inline]
    pub fn iter(&self) -> Iter<'_, C> {
        self.state.iter()
    }

    /// Iterate over the CQEs ready now, consuming each as it is yielded.
    /// The tail is read once; the head the kernel sees is published once,
    /// when the iterator is dropped (see [`Drain`] for a forgotten one).
    /// CQEs not iterated stay queued.
    #[inline(always)]
    pub fn drain(&mut self) -> Drain<'_, C> {
        self.state.drain()
    }

    /// Copy up to `out.len()` CQEs into `out`; returns how many.
    pub fn copy_into(&mut self, out: &mut [C::Entry]) -> usize {
        self.state.copy_into(out)
    }
}

impl<C: CqeSize> fmt::Debug for CompletionQueue<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.state, f)
    }
}

/// CQEs ready at the time [`CompletionQueue::drain`] was called, each
/// consumed as it is yielded.
///
/// The CQ head the kernel sees is published once, when the drain is
/// dropped. A drain that is never dropped (`mem::forget`) still never
/// hands out a CQE twice: what it yielded is consumed in the queue's own
/// state, and the next access to the queue publishes the head.
pub struct Drain<'a, C: CqeSize> {
    tail: u32,
    queue: &'a mut CqState<C>,
}

impl<C: CqeSize> fmt::Debug for Drain<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain").field("head", &self.queue.local_head).field("tail", &self.tail).finish()
    }
}

impl<C: CqeSize> Iterator for Drain<'_, C> {
    type Item = C::Entry;

    #[inline(always)]
    fn next(&mut self) -> Option<C::Entry> {
        if C::ONE_SLOT {
            // The cursor moves before the entry is read: it is ours (the
            // kernel sees it only when published), and with the store first
            // a caller that uses part of the entry only on a cold path (an
            // error's `user_data`) does not load the rest on the hot one.
            let head = self.queue.local_head;
            if head == self.tail {
                return None;
            }
            let (cqes, mask) = (self.queue.cqes, self.queue.mask);
            self.queue.local_head = head.wrapping_add(1);
            // SAFETY: `tail` was read with acquire when the drain was made,
            // and the cursor lies in [cursor at creation, tail): the slot
            // holds a published CQE, not reused before the head is published.
            let (entry, _) = unsafe { C::read(cqes, head & mask, mask) };
            return Some(entry);
        }
        loop {
            let head = self.queue.local_head;
            if head == self.tail {
                return None;
            }
            // SAFETY: `tail` was read with acquire when the drain was made,
            // and the cursor lies in [cursor at creation, tail).
            let (entry, next) = unsafe { self.queue.step(head, self.tail) };
            self.queue.local_head = next;
            if !C::is_filler(&entry) {
                return Some(entry);
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.tail.wrapping_sub(self.queue.local_head) as usize))
    }
}

impl<C: CqeSize> Drop for Drain<'_, C> {
    #[inline(always)]
    fn drop(&mut self) {
        self.queue.publish();
    }
}

/// The CQEs ready at the time [`CompletionQueue::iter`] was called, looked
/// at without consuming them: the CQ head does not move, and the same CQEs
/// come out of the next `iter`, [`peek`](CompletionQueue::peek) or
/// [`drain`](CompletionQueue::drain). Fillers of a `CqeMixed` ring are
/// skipped, as when reaping.
///
/// A look is a copy of each entry: the kernel does not reuse the slots of
/// CQEs that are not consumed, so what was seen stays valid until reaped.
pub struct Iter<'a, C: CqeSize> {
    head: u32,
    tail: u32,
    queue: &'a CqState<C>,
}

impl<C: CqeSize> fmt::Debug for Iter<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").field("head", &self.head).field("tail", &self.tail).finish()
    }
}

impl<C: CqeSize> Iterator for Iter<'_, C> {
    type Item = C::Entry;

    fn next(&mut self) -> Option<C::Entry> {
        while self.head != self.tail {
            // SAFETY: `tail` was read with acquire when the iterator was
            // made; `head` started at the cursor and only moves toward it.
            let (entry, next) = unsafe { self.queue.step(self.head, self.tail) };
            self.head = next;
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

impl<C: CqeSize> fmt::Debug for CqState<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionQueue")
            .field("entries", &self.entries)
            .field("ready", &self.len())
            .field("overflow", &self.overflow())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    //! Index arithmetic of the CQ over an in-memory stand-in for the rings
    //! region, with the free-running u32 head and tail started just below
    //! 2^32 so that the cases wrap. These are pure arithmetic tests: the
    //! real kernel cannot be driven through 2^32 completions in a test, so
    //! the "kernel" here is a few lines that post CQEs the way the kernel
    //! does (write the entry at `tail & mask`, then move the tail with a
    //! release store; in a `CQE_MIXED` ring a 32-byte CQE takes two slots and
    //! the kernel never wraps one: a 16-byte SKIP filler takes the last slot
    //! first; only a resize splits one, see `mixed_big_cqe_split_by_a_resize`).
    //! The kernel-backed tests are in `tests/`.
    use super::*;
    use crate::abi;
    use crate::entry::{BigCqe, Cqe, Cqe16, Cqe32, CqeMixed};
    use crate::fake_ring::{Header, Slots};
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// How the fake kernel posts, and what comes back, per CQE type.
    trait Posting: CqeSize {
        /// 32-byte CQEs take two 16-byte slots (`CQE_MIXED`).
        const MIXED: bool;
        /// Every slot is 32 bytes (`CQE32`).
        const ALL_BIG: bool;
        /// The extra words an entry came back with.
        fn extra(entry: &Self::Entry) -> [u64; 2];
    }
    impl Posting for Cqe16 {
        const MIXED: bool = false;
        const ALL_BIG: bool = false;
        fn extra(_: &Cqe) -> [u64; 2] {
            [0; 2]
        }
    }
    impl Posting for Cqe32 {
        const MIXED: bool = false;
        const ALL_BIG: bool = true;
        fn extra(entry: &BigCqe) -> [u64; 2] {
            entry.extra
        }
    }
    impl Posting for CqeMixed {
        const MIXED: bool = true;
        const ALL_BIG: bool = false;
        fn extra(entry: &BigCqe) -> [u64; 2] {
            entry.extra
        }
    }

    /// A CQE the model expects, and the tail right after it was posted.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Posted {
        user_data: u64,
        res: i32,
        flags: u32,
        extra: [u64; 2],
        end: u32,
    }

    /// The kernel's side: raw pointers into memory the fixture owns.
    struct Kernel<C> {
        header: *const Header,
        cqes: *mut u8,
        entries: u32,
        _c: PhantomData<C>,
    }

    impl<C: Posting> Kernel<C> {
        fn header(&self) -> &Header {
            // SAFETY: points to the fixture's boxed header, which outlives
            // the kernel handle (both belong to the fixture).
            unsafe { &*self.header }
        }

        /// Write 16 bytes at byte `offset` of the CQE array.
        fn write<T>(&self, offset: usize, value: T) {
            assert!(offset + std::mem::size_of::<T>() <= self.entries as usize * C::SLOT_BYTES);
            // SAFETY: inside the CQE array (checked above), 8-aligned (slot
            // sizes and the 16-byte offsets are multiples of 8).
            unsafe { self.cqes.add(offset).cast::<T>().write(value) }
        }

        /// Post one CQE (a 32-byte one in two slots if `big` and the ring
        /// mixes sizes) if there is room; returns what the consumer must see.
        fn post(&self, user_data: u64, big: bool) -> Option<Posted> {
            let h = self.header();
            let head = h.head.load(Ordering::Acquire);
            let mut tail = h.tail.load(Ordering::Relaxed);
            let free = self.entries - tail.wrapping_sub(head);
            let mask = self.entries - 1;
            let big = big && C::MIXED;
            let filler = big && tail & mask == mask;
            if free < 1 + big as u32 + filler as u32 {
                return None;
            }
            if filler {
                let skip = Cqe { user_data: 0, res: 0, flags: abi::IORING_CQE_F_SKIP };
                self.write((tail & mask) as usize * C::SLOT_BYTES, skip);
                tail = tail.wrapping_add(1);
            }
            let at = (tail & mask) as usize * C::SLOT_BYTES;
            let res = (user_data as i32) ^ 0x5a5a;
            let flags = if big { abi::IORING_CQE_F_32 } else { 0 };
            self.write(at, Cqe { user_data, res, flags });
            let mut extra = [0; 2];
            if big || C::ALL_BIG {
                extra = [user_data.rotate_left(17), !user_data];
                self.write(at + 16, extra);
            }
            tail = tail.wrapping_add(1 + big as u32);
            h.tail.store(tail, Ordering::Release);
            Some(Posted { user_data, res, flags, extra, end: tail })
        }
    }

    /// A queue over owned fake ring memory, the kernel's side, and the
    /// model: the CQEs posted and not yet reaped, in order.
    struct Fixture<C: Posting> {
        q: CqState<C>,
        kernel: Kernel<C>,
        header: Box<Header>,
        /// Owns the CQE array the queue and the kernel point into.
        _cqes: Slots,
        next_user_data: u64,
        ready: VecDeque<Posted>,
    }

    impl<C: Posting> Fixture<C> {
        fn new(entries: u32, start: u32) -> Fixture<C> {
            let header = Header::new(start);
            let cqes = Slots::new(entries, C::SLOT_BYTES);
            // SAFETY: the header and the CQE array are owned by the fixture
            // and freed only when it drops; the array holds `entries` slots
            // of `C::SLOT_BYTES`.
            let q = unsafe {
                CqState::new(CqPointers {
                    head: &header.head,
                    tail: &header.tail,
                    overflow: &header.overflow,
                    flags: &header.flags,
                    cqes: cqes.ptr(),
                    entries,
                })
            };
            let kernel = Kernel { header: &*header, cqes: cqes.ptr(), entries, _c: PhantomData };
            Fixture { q, kernel, header, _cqes: cqes, next_user_data: start as u64 * 3, ready: VecDeque::new() }
        }

        fn head(&self) -> u32 {
            self.header.head.load(Ordering::Relaxed)
        }

        fn tail(&self) -> u32 {
            self.header.tail.load(Ordering::Relaxed)
        }

        /// Post up to `n` CQEs (big where `big` says, in mixed rings).
        fn post(&mut self, n: u32, big: u32) {
            for i in 0..n {
                let Some(p) = self.kernel.post(self.next_user_data, big >> (i % 32) & 1 != 0) else { break };
                self.next_user_data += 1;
                self.ready.push_back(p);
            }
        }

        /// Compare a CQE the queue handed out with the model's next one.
        fn expect(&mut self, got: Option<C::Entry>) -> Option<Posted> {
            match got {
                None => None,
                Some(e) => {
                    let want = self.ready.pop_front().expect("the queue yielded a CQE nobody posted");
                    let base = C::base(&e);
                    assert_eq!((base.user_data, base.res, base.flags), (want.user_data, want.res, want.flags));
                    assert_eq!(C::extra(&e), want.extra, "extra words of {}", want.user_data);
                    Some(want)
                }
            }
        }

        /// Reap up to `k` CQEs through one `Drain`; if `post_during`, the
        /// kernel posts one more while it is open, which this drain must
        /// not see (its tail was read once).
        fn drain(&mut self, k: u32, post_during: bool) {
            let head0 = self.head();
            let tail0 = self.tail();
            let before = self.ready.len();
            let mut drain = self.q.drain();
            // Its upper bound is the slots it may read: at least one per CQE.
            assert!(drain.size_hint().1.unwrap() >= before);
            let mut got = Vec::new();
            let mut ended = false;
            for i in 0..k {
                if post_during && i == k / 2 {
                    if let Some(p) = self.kernel.post(self.next_user_data, false) {
                        self.next_user_data += 1;
                        self.ready.push_back(p);
                    }
                }
                let e = drain.next();
                // Nothing is published while the drain is open.
                assert_eq!(self.header.head.load(Ordering::Relaxed), head0, "head published mid-drain");
                match e {
                    Some(e) => got.push(e),
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            drop(drain);
            let mut last = None;
            for e in got {
                last = self.expect(Some(e)).or(last);
            }
            // Published once, at the drop: past the last CQE taken, or (the
            // drain ran dry) up to the tail it read, fillers included.
            let want_head = if ended { tail0 } else { last.map_or(head0, |p| p.end) };
            assert_eq!(self.head(), want_head);
            if ended {
                let seen_by_drain =
                    self.ready.iter().filter(|p| p.end.wrapping_sub(head0) <= tail0.wrapping_sub(head0));
                assert_eq!(seen_by_drain.count(), 0, "the drain stopped with CQEs left before its tail");
            }
        }

        fn check(&self) {
            let q = &self.q;
            assert_eq!(q.len(), self.tail().wrapping_sub(self.head()));
            assert!(q.len() <= q.capacity());
            assert_eq!(q.is_empty(), self.tail() == self.head());
            // The slots still queued account for every CQE the model holds.
            let last_end = self.ready.back().map_or(self.head(), |p| p.end);
            assert_eq!(last_end, self.tail());
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Post n CQEs; bit i of the mask makes the i-th a big one.
        Post(u32, u32),
        /// Reap up to k through one drain, maybe with a post while it is open.
        Drain(u32, bool),
        Next,
        Peek,
        CopyInto(u32),
        /// Take up to k through one drain, then `mem::forget` it.
        Forget(u32),
    }

    fn ops(entries: u32) -> impl Strategy<Value = Vec<Op>> {
        let op = prop_oneof![
            3 => (0..=entries + 1, any::<u32>()).prop_map(|(n, big)| Op::Post(n, big)),
            3 => (0..=entries + 1, any::<bool>()).prop_map(|(k, p)| Op::Drain(k, p)),
            1 => Just(Op::Next),
            1 => Just(Op::Peek),
            1 => (0..=entries + 1).prop_map(Op::CopyInto),
            1 => (0..=entries + 1).prop_map(Op::Forget),
        ];
        proptest::collection::vec(op, 1..200)
    }

    fn run<C: Posting>(entries: u32, back: u32, ops: &[Op]) {
        let mut f = Fixture::<C>::new(entries, 0u32.wrapping_sub(back));
        for op in ops {
            match *op {
                Op::Post(n, big) => f.post(n, big),
                Op::Drain(k, post_during) => f.drain(k, post_during),
                Op::Next => {
                    let e = f.q.next();
                    let had = !f.ready.is_empty();
                    let got = f.expect(e);
                    assert_eq!(got.is_some(), had);
                    if let Some(p) = got {
                        assert_eq!(f.head(), p.end);
                    }
                }
                Op::Peek => {
                    let head = f.head();
                    let e = f.q.peek();
                    assert_eq!(f.head(), head, "peek consumed");
                    match (e, f.ready.front()) {
                        (None, None) => {}
                        (Some(e), Some(want)) => assert_eq!(C::base(&e).user_data, want.user_data),
                        (e, want) => panic!("peek gave {e:?}, expected {want:?}"),
                    }
                }
                Op::Forget(k) => {
                    let mut drain = f.q.drain();
                    let got: Vec<_> = drain.by_ref().take(k as usize).collect();
                    std::mem::forget(drain);
                    for e in got {
                        f.expect(Some(e));
                    }
                    // Whatever was taken is never seen again (`expect`
                    // checks every later CQE against the model).
                    let seen: Vec<_> = f.q.iter().map(|e| C::base(&e).user_data).collect();
                    let want: Vec<_> = f.ready.iter().map(|p| p.user_data).collect();
                    assert_eq!(seen, want, "a look after a forgotten drain");
                }
                Op::CopyInto(n) => {
                    let Some(fill) = f.q.peek() else {
                        assert!(f.ready.is_empty());
                        continue;
                    };
                    let mut out = vec![fill; n as usize];
                    let got = f.q.copy_into(&mut out);
                    assert_eq!(got, f.ready.len().min(n as usize));
                    for e in &out[..got] {
                        f.expect(Some(*e));
                    }
                }
            }
            f.check();
        }
        // Whatever is left comes out, in order.
        f.drain(u32::MAX, false);
        assert!(f.ready.is_empty());
        assert!(f.q.is_empty());
    }

    fn config() -> ProptestConfig {
        ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() }
    }

    /// A ring size (`min` to 32 entries), how far below 2^32 the indices
    /// start, and the operations.
    fn cases(min_shift: u32) -> impl Strategy<Value = (u32, u32, Vec<Op>)> {
        (min_shift..6).prop_flat_map(|shift| (Just(1u32 << shift), 0u32..64, ops(1 << shift)))
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn cq16_indices_wrap((entries, back, ops) in cases(0)) {
            run::<Cqe16>(entries, back, &ops);
        }

        #[test]
        fn cq32_indices_wrap((entries, back, ops) in cases(0)) {
            run::<Cqe32>(entries, back, &ops);
        }

        /// Mixed rings have at least 2 entries (the kernel refuses 1).
        #[test]
        fn cq_mixed_indices_wrap((entries, back, ops) in cases(1)) {
            run::<CqeMixed>(entries, back, &ops);
        }
    }

    /// A big CQE that meets the end of a mixed ring right at 2^32: the
    /// filler takes the last slot (index u32::MAX), the big CQE slots 0 and
    /// 1 of the ring (indices 0 and 1), and the queue yields the big one
    /// with its extra words and never the filler.
    #[test]
    fn mixed_big_cqe_at_the_wrap() {
        let mut f = Fixture::<CqeMixed>::new(8, u32::MAX - 6);
        f.post(6, 0); // indices u32::MAX - 6 ..= u32::MAX - 1
        f.drain(6, false);
        f.post(1, 1); // filler at u32::MAX (slot 7), big at 0 and 1
        assert_eq!(f.tail(), 2);
        assert_eq!(f.q.len(), 3);
        f.check();
        let e = f.q.next().expect("the big CQE");
        assert!(e.is_big() && !e.is_skip());
        f.expect(Some(e));
        assert_eq!(f.head(), 2);
        assert!(f.q.next().is_none());
    }

    /// After a shrinking resize the kernel's copy (`index & new_mask`) can
    /// leave a 32-byte CQE in the last slot with its second half in slot 0.
    /// It comes out whole, once, and the head stops at the tail, even when
    /// the extra words look like a CQE flagged 32-byte (bit 47 of the second
    /// word is `IORING_CQE_F_32` of a CQE read there).
    #[test]
    fn mixed_big_cqe_split_by_a_resize() {
        let mut f = Fixture::<CqeMixed>::new(8, 7);
        let extra = [0x1234, 1 << 47 | 5];
        f.kernel.write(7 * 16, Cqe { user_data: 70, res: 3, flags: abi::IORING_CQE_F_32 });
        f.kernel.write(0, extra);
        f.header.tail.store(9, Ordering::Release);
        assert_eq!(f.q.len(), 2);
        let peeked = f.q.iter().collect::<Vec<_>>();
        assert_eq!(peeked.len(), 1);
        assert_eq!((peeked[0].user_data, peeked[0].extra), (70, extra));
        let got: Vec<BigCqe> = f.q.drain().take(10).collect();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].user_data, got[0].res, got[0].extra), (70, 3, extra));
        assert_eq!(f.head(), 9);
        assert_eq!(f.q.len(), 0);
    }

    /// Corrupt memory (a CQE flagged 32-byte in the last published slot)
    /// cannot move the head past the tail: the entry is cut there.
    #[test]
    fn a_cqe_claiming_unpublished_slots_stops_at_the_tail() {
        for start in [3u32, 7, u32::MAX] {
            let mut f = Fixture::<CqeMixed>::new(8, start);
            f.kernel.write((start & 7) as usize * 16, Cqe { user_data: 1, res: 0, flags: abi::IORING_CQE_F_32 });
            f.header.tail.store(start.wrapping_add(1), Ordering::Release);
            let got: Vec<BigCqe> = f.q.drain().take(10).collect();
            assert_eq!(got.len(), 1);
            assert_eq!(f.head(), start.wrapping_add(1), "head at the tail, not past it");
            assert_eq!(f.q.len(), 0);
            assert!(f.q.next().is_none() && f.q.peek().is_none());
        }
    }

    /// A drain that stops early leaves the rest queued, and the next one
    /// starts where it stopped.
    #[test]
    fn partial_drain_leaves_the_rest() {
        let mut f = Fixture::<Cqe16>::new(8, u32::MAX - 2);
        f.post(6, 0);
        f.drain(2, false);
        assert_eq!(f.q.len(), 4);
        assert_eq!(f.head(), u32::MAX);
        f.drain(3, false);
        assert_eq!(f.head(), 2);
        f.drain(8, false);
        assert!(f.ready.is_empty() && f.q.is_empty());
    }
}
