//! The submission queue: a local tail the application fills, published to
//! the kernel with one release store when submitting.
//!
//! Over 700 lines because about a third of the file is its unit tests: the
//! index arithmetic against a fake kernel (`fake_ring`), property-tested
//! through wrap-around past 2^32, kept next to the code they check.

use crate::entry::{PrepareSqe, SafeOp};
use crate::entry::{Sqe, SqeSize};
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

/// A batch did not fit the SQ's free slots, so none of it was queued (see
/// [`SubmissionQueue::push_all`]): submit (and reap completions) first, or
/// push a smaller batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqNoRoom {
    /// Slots the batch needed, as far as it was known: the exact length of
    /// an iterator that reports one, else at least this many.
    pub needed: u32,
    /// Slots that were free.
    pub free: u32,
}

impl fmt::Display for SqNoRoom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the batch needs {} SQ slots but {} are free, so none of it was queued; submit (and reap completions) \
             first, or push a smaller batch",
            self.needed, self.free
        )
    }
}

impl std::error::Error for SqNoRoom {}

/// Pointers into the rings region for the SQ.
pub(crate) struct SqPointers {
    pub head: *const AtomicU32,
    pub tail: *const AtomicU32,
    pub flags: *const AtomicU32,
    pub dropped: *const AtomicU32,
    pub sqes: *mut u8,
    pub entries: u32,
}

/// The submission side's state: raw pointers into the ring's memory and the
/// local indices. Crate-private on purpose: safe code only ever reaches it
/// through a [`SubmissionQueue`] handle, which borrows it from its `Ring`, so
/// it cannot be swapped into another ring (its pointers would then outlive
/// their memory) or moved out of it.
pub(crate) struct SqState<S: SqeSize> {
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
    /// The tail at which the SQ is full as far as we know: `entries` past
    /// the head as read when the SQ last looked full (never more than the
    /// true limit).
    limit: u32,
    /// The slot of ring index `local_tail`: `sqes + (local_tail & mask) *
    /// S::SLOT_BYTES`, kept so that a push neither masks nor scales.
    next: *mut u8,
    /// Where pushing stops taking the inline path: the slot at which the
    /// room known (`limit - local_tail`) runs out, or the end of the SQE
    /// array (the wrap), whichever comes first. `next == stop` sends a push
    /// out of line (`reserve_refreshed`), which re-reads the head or wraps
    /// `next` and moves `stop` on. One compare per push, of two pointers
    /// that stay in the state, whatever the ring's size. Always within
    /// `[next, sqes + entries * S::SLOT_BYTES]` (see `resync`).
    stop: *mut u8,
    /// Set when the ring can no longer be used: every push fails.
    sealed: bool,
    _size: PhantomData<S>,
}

// SAFETY: the queue only touches ring memory that its owning `Ring` keeps
// alive, through atomics for the shared indices; moving it to another thread
// moves that exclusive access with it.
unsafe impl<S: SqeSize> Send for SqState<S> {}

impl<S: SqeSize> SqState<S> {
    /// # Safety
    /// The pointers must point into live ring memory laid out for `entries`
    /// SQEs of `S::SLOT_BYTES`, and stay valid for the queue's life.
    pub(crate) unsafe fn new(p: SqPointers) -> SqState<S> {
        // SAFETY: the caller guarantees the pointers.
        let (head, tail) = unsafe { ((*p.head).load(Ordering::Acquire), (*p.tail).load(Ordering::Relaxed)) };
        debug_assert_eq!(head, tail, "a new ring's SQ is empty");
        let mut q = SqState {
            head: p.head,
            tail: p.tail,
            flags: p.flags,
            dropped: p.dropped,
            sqes: p.sqes,
            mask: p.entries - 1,
            entries: p.entries,
            local_tail: tail,
            cached_head: head,
            limit: head.wrapping_add(p.entries),
            next: p.sqes,
            stop: p.sqes,
            sealed: false,
            _size: PhantomData,
        };
        q.resync();
        q
    }

    /// Recompute `next` and `stop` from the local tail and the limit: the
    /// slot of the local tail, and the slot past the last one a push may
    /// take without looking again (the room known, cut at the end of the
    /// SQE array). A limit that is not ahead of the tail by at most
    /// `entries` (ring memory written by someone else, or a sealed queue)
    /// leaves no room: the next push goes out of line and finds out.
    fn resync(&mut self) {
        let index = self.local_tail & self.mask;
        let room = self.limit.wrapping_sub(self.local_tail);
        let room = if room > self.entries { 0 } else { room };
        let run = room.min(self.entries - index);
        // SAFETY: index < entries and index + run <= entries, so both
        // pointers lie in the SQE array or one past its end.
        unsafe {
            self.next = self.sqes.add(index as usize * S::SLOT_BYTES);
            self.stop = self.next.add(run as usize * S::SLOT_BYTES);
        }
    }

    /// Point the queue at a resized ring (`IORING_REGISTER_RESIZE_RINGS`):
    /// the kernel copied the queued SQEs to the same ring indices, so the
    /// local tail and cached head stay as they are.
    ///
    /// # Safety
    /// As for [`new`](Self::new), for the new memory.
    pub(crate) unsafe fn repoint(&mut self, p: SqPointers) {
        self.head = p.head;
        self.tail = p.tail;
        self.flags = p.flags;
        self.dropped = p.dropped;
        self.sqes = p.sqes;
        self.mask = p.entries - 1;
        self.entries = p.entries;
        // Never past the true limit, even when the SQ shrank.
        self.limit = self.cached_head.wrapping_add(p.entries);
        self.resync();
    }

    /// Refuse every further push (the ring can no longer be used): the
    /// limit is pulled to the local tail, so the next push takes the
    /// out-of-line path, which sees the seal.
    pub(crate) fn seal(&mut self) {
        self.sealed = true;
        self.limit = self.local_tail;
        self.resync();
    }

    /// Number of SQ slots.
    #[inline]
    pub(crate) fn capacity(&self) -> u32 {
        self.entries
    }

    /// SQEs pushed and not yet consumed by the kernel (as last seen), at
    /// most `entries`: a head past our tail (ring memory written by someone
    /// else) must not read as four billion queued SQEs.
    #[inline]
    pub(crate) fn len(&self) -> u32 {
        self.local_tail.wrapping_sub(self.kernel_head()).min(self.entries)
    }

    /// Whether nothing is queued.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free slots.
    #[inline]
    pub(crate) fn space(&self) -> u32 {
        // Saturating as well as clamped: never an underflow, whatever the
        // shared head says.
        self.entries.saturating_sub(self.len())
    }

    /// SQEs the kernel dropped because their SQ array slot held an invalid
    /// index. Always 0 for rings ringwise set up; a non-zero value means the
    /// ring memory was corrupted.
    pub(crate) fn dropped(&self) -> u32 {
        // SAFETY: pointer into live ring memory.
        unsafe { (*self.dropped).load(Ordering::Relaxed) }
    }

    /// The SQ ring flags (`IORING_SQ_NEED_WAKEUP`, `CQ_OVERFLOW`, `TASKRUN`).
    #[inline]
    pub(crate) fn ring_flags(&self) -> u32 {
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

    /// Reserve the slot for the next SQE: a pointer into the SQE array, or
    /// `SqFull`. A raw pointer (no null niche) leaves one test in the hot
    /// loop, the one that matters: is there room (before `stop`).
    ///
    /// The slot comes from `next` rather than from the tail masked and
    /// scaled, and the tail is only counted up: with the three fields in
    /// ring state that the SQE writes may alias (so they are loaded and
    /// stored on every push), this is two instructions per push fewer than
    /// masking the tail (callgrind, `ringwise bench nop`, batch 32).
    #[inline(always)]
    fn reserve(&mut self) -> Result<*mut Sqe, SqFull> {
        let slot = self.next;
        if slot == self.stop {
            return self.reserve_refreshed();
        }
        Ok(self.take(slot))
    }

    /// Hand out `slot` (`next`, short of `stop`) and move the local tail
    /// and `next` past it.
    #[inline(always)]
    fn take(&mut self, slot: *mut u8) -> *mut Sqe {
        self.local_tail = self.local_tail.wrapping_add(1);
        // SAFETY: `slot` is short of `stop`, which is at most one past the
        // SQE array's end, so one slot further is too.
        self.next = unsafe { slot.add(S::SLOT_BYTES) };
        // The slot lies in the SQE array (`resync` puts `next` and `stop`
        // there, each computed from a masked index); the kernel has
        // consumed it (the room known is counted from the kernel's head),
        // so nobody else reads it while we write.
        slot.cast::<Sqe>()
    }

    /// The SQ looked full, or `next` reached the end of the SQE array:
    /// re-read the kernel's head, and reserve the slot if there is room.
    /// Out of line as a whole, so that nothing of the caller's has to
    /// survive the call (a call in the push loop would otherwise keep the
    /// slot pointer in a callee-saved register).
    #[cold]
    #[inline(never)]
    fn reserve_refreshed(&mut self) -> Result<*mut Sqe, SqFull> {
        // Here at the end of the room known or at the end of the SQE array
        // (the slots go on at its start): `resync` handles both, from the
        // head read anew. Only the limit (and with it `next` and `stop`)
        // moves: the cached head is the submit path's "head as last
        // accounted for", and SQEs an SQPOLL thread consumed since must
        // still be counted by the next submit (`Submitted::consumed`).
        if self.sealed {
            return Err(SqFull);
        }
        let head = self.kernel_head();
        self.limit = head.wrapping_add(self.entries);
        self.resync();
        let slot = self.next;
        if slot == self.stop {
            // No room: `tail - head` is `entries` (or the head is corrupt).
            return Err(SqFull);
        }
        Ok(self.take(slot))
    }

    /// The slot for the next SQE, or `None` when full.
    #[inline(always)]
    fn next_slot(&mut self) -> Option<&mut Sqe> {
        // SAFETY: `reserve` returned a slot of the SQE array that only we
        // write until it is published, valid and aligned for `Sqe`.
        self.reserve().ok().map(|sqe| unsafe { &mut *sqe })
    }

    /// In a ring with 128-byte slots, zero the second half of a slot that a
    /// 64-byte op fills: it would otherwise keep what an earlier 128-byte op
    /// wrote there, and a `URING_CMD`'s driver reads it as command bytes
    /// (possibly as a pointer). Compiles to nothing for 64-byte slots.
    #[inline(always)]
    fn clear_slot_tail(sqe: *mut Sqe) {
        let head = std::mem::size_of::<Sqe>();
        if S::SLOT_BYTES > head {
            // SAFETY: `sqe` is a slot from `reserve`, S::SLOT_BYTES long and
            // ours until published.
            unsafe { sqe.cast::<u8>().add(head).write_bytes(0, S::SLOT_BYTES - head) };
        }
    }

    /// Queue an op that gives the kernel no memory to keep (e.g. [`Nop`](crate::op::Nop)).
    #[inline]
    pub(crate) fn push<O: SafeOp>(&mut self, op: O) -> Result<(), SqFull> {
        let sqe = self.reserve()?;
        Self::clear_slot_tail(sqe);
        // SAFETY: `reserve` returned a slot of the SQE array that only we
        // write until it is published, valid and aligned for `Sqe`.
        op.prepare(unsafe { &mut *sqe });
        Ok(())
    }

    /// Queue any op.
    ///
    /// # Safety
    /// Every pointer the op carries (buffers, iovecs, paths, ...) must stay
    /// valid, and not be used in ways the op forbids (a read's buffer must not
    /// be read or written by others), until the op's CQE has been reaped. A
    /// descriptor the op closes ([`Close`](crate::op::Close) of a plain fd)
    /// must be the caller's to close, and not used by anything afterwards.
    #[inline]
    pub(crate) unsafe fn push_unchecked<O: PrepareSqe>(&mut self, op: O) -> Result<(), SqFull> {
        let sqe = self.reserve()?;
        Self::clear_slot_tail(sqe);
        // SAFETY: as in `push`.
        op.prepare(unsafe { &mut *sqe });
        Ok(())
    }

    /// Queue ops from an iterator while there is room; returns how many were
    /// queued. The rest of the iterator is left unconsumed.
    pub(crate) fn push_iter<O: SafeOp>(&mut self, ops: impl IntoIterator<Item = O>) -> u32 {
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

    /// Queue every op of `ops`, or none of them: see
    /// [`SubmissionQueue::push_all`].
    pub(crate) fn push_all<O: SafeOp>(&mut self, ops: impl IntoIterator<Item = O>) -> Result<u32, SqNoRoom> {
        let ops = ops.into_iter();
        let free = self.space();
        let at_least = u32::try_from(ops.size_hint().0).unwrap_or(u32::MAX);
        if at_least > free {
            return Err(SqNoRoom { needed: at_least, free });
        }
        // Queued SQEs are ours until published: taking the local tail back
        // un-queues them (the kernel never saw them).
        let start = self.local_tail;
        let mut pushed = 0u32;
        let mut ops = ops;
        while let Some(op) = ops.next() {
            if pushed == free || self.push(op).is_err() {
                self.local_tail = start;
                self.resync();
                let rest = u32::try_from(ops.size_hint().0).unwrap_or(u32::MAX);
                return Err(SqNoRoom { needed: pushed.saturating_add(1).saturating_add(rest), free });
            }
            pushed += 1;
        }
        Ok(pushed)
    }

    /// Fill the next SQE by hand.
    ///
    /// # Safety
    /// `fill` must leave a valid SQE whose pointers follow the contract of
    /// [`push_unchecked`](Self::push_unchecked).
    #[inline]
    pub(crate) unsafe fn push_raw(&mut self, fill: impl FnOnce(&mut Sqe)) -> Result<(), SqFull> {
        let sqe = self.reserve()?;
        Self::clear_slot_tail(sqe);
        // SAFETY: as in `push`.
        fill(unsafe { &mut *sqe });
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
        // `limit` is left behind on purpose: a stale limit is only lower
        // than the true one (the head never moves back), so the next push
        // that reaches it re-reads the head in `reserve_refreshed`. That
        // keeps the submit path shorter.
        self.cached_head = self.kernel_head();
        self.cached_head
    }

    /// The kernel consumed every SQE published, `to_submit` of them (what
    /// [`publish`](Self::publish) returned; the enter returned that count):
    /// the head is at our tail, known without reading it back. Added to
    /// the cached head rather than copied from the tail: one instruction
    /// with the count still in a register.
    #[inline(always)]
    pub(crate) fn consumed_all(&mut self, to_submit: u32) {
        self.cached_head = self.cached_head.wrapping_add(to_submit);
        debug_assert_eq!(self.cached_head, self.local_tail);
    }

    #[inline(always)]
    pub(crate) fn cached_head(&self) -> u32 {
        self.cached_head
    }
}

/// 128-byte entries: ops that use the 80-byte command area (or the 128-byte
/// opcodes) can only be pushed on a ring whose slots are that big.
impl SqState<crate::entry::Sqe128> {
    /// Queue a 128-byte op that carries no pointer (e.g. [`Nop128`](crate::op::Nop128)).
    #[inline]
    pub(crate) fn push_big<O: crate::entry::SafeBigOp>(&mut self, op: O) -> Result<(), SqFull> {
        let sqe = self.next_slot().ok_or(SqFull)?;
        // SAFETY: in an SQE128 ring every slot is 128 bytes (S::SLOT_BYTES),
        // so the slot `next_slot` handed out extends to a whole `BigSqe`.
        op.prepare_big(unsafe { &mut *(sqe as *mut Sqe).cast::<crate::entry::BigSqe>() });
        Ok(())
    }

    /// Queue any 128-byte op (e.g. [`UringCmd80`](crate::op::UringCmd80)).
    ///
    /// # Safety
    /// As for [`push_unchecked`](Self::push_unchecked): every pointer the op
    /// carries, including any inside its command area, must stay valid until
    /// the op's CQE has been reaped.
    #[inline]
    pub(crate) unsafe fn push_big_unchecked<O: crate::entry::PrepareBigSqe>(&mut self, op: O) -> Result<(), SqFull> {
        let sqe = self.next_slot().ok_or(SqFull)?;
        // SAFETY: as in `push_big`: the slot is 128 bytes long.
        op.prepare_big(unsafe { &mut *(sqe as *mut Sqe).cast::<crate::entry::BigSqe>() });
        Ok(())
    }
}

impl<S: SqeSize> fmt::Debug for SqState<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmissionQueue")
            .field("entries", &self.entries)
            .field("queued", &self.len())
            .field("dropped", &self.dropped())
            .finish()
    }
}

/// The submission side of a ring, borrowed from it by
/// [`Ring::submission`](crate::Ring::submission) (or
/// [`Ring::queues`](crate::Ring::queues)).
///
/// A handle, not the queue itself: it holds only a borrow of the ring's
/// queue state, so swapping two handles swaps two borrows and leaves both
/// rings as they were. Bind it with `let mut sq = ring.submission();` to
/// push several SQEs through one borrow.
pub struct SubmissionQueue<'a, S: SqeSize> {
    state: &'a mut SqState<S>,
}

impl<'a, S: SqeSize> SubmissionQueue<'a, S> {
    #[inline(always)]
    pub(crate) fn new(state: &'a mut SqState<S>) -> SubmissionQueue<'a, S> {
        SubmissionQueue { state }
    }

    /// Number of SQ slots.
    #[inline]
    pub fn capacity(&self) -> u32 {
        self.state.capacity()
    }

    /// SQEs pushed and not yet consumed by the kernel (as last seen); never
    /// more than [`capacity`](Self::capacity).
    #[inline]
    pub fn len(&self) -> u32 {
        self.state.len()
    }

    /// Whether nothing is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// Free slots: `capacity() - len()`.
    #[inline]
    pub fn space(&self) -> u32 {
        self.state.space()
    }

    /// SQEs the kernel dropped because their SQ array slot held an invalid
    /// index. Always 0 for rings ringwise set up; a non-zero value means the
    /// ring memory was corrupted.
    pub fn dropped(&self) -> u32 {
        self.state.dropped()
    }

    /// The SQ ring flags (`IORING_SQ_NEED_WAKEUP`, `CQ_OVERFLOW`, `TASKRUN`).
    #[inline]
    pub fn ring_flags(&self) -> u32 {
        self.state.ring_flags()
    }

    /// Queue an op that gives the kernel no memory to keep (e.g. [`Nop`](crate::op::Nop)).
    /// The SQE is written into the next free slot; the kernel sees it at the
    /// next submit. Fails with [`SqFull`] (and queues nothing) when every
    /// slot is taken: submit, or use [`Ring::push_or_submit`](crate::Ring::push_or_submit).
    ///
    /// ```
    /// use ringwise::{op::Nop, Ring};
    /// let mut ring: Ring = Ring::new(2)?;
    /// let mut sq = ring.submission();
    /// sq.push(Nop::new().user_data(1)).unwrap();
    /// sq.push(Nop::new().user_data(2)).unwrap();
    /// assert!(sq.push(Nop::new().user_data(3)).is_err(), "two entries, both taken");
    /// assert_eq!(ring.submit()?.consumed, 2);
    /// # Ok::<(), ringwise::Error>(())
    /// ```
    #[inline(always)]
    pub fn push<O: SafeOp>(&mut self, op: O) -> Result<(), SqFull> {
        self.state.push(op)
    }

    /// Queue any op.
    ///
    /// # Safety
    /// Every pointer the op carries (buffers, iovecs, paths, ...) must stay
    /// valid, and not be used in ways the op forbids (a read's buffer must not
    /// be read or written by others), until the op's CQE has been reaped. A
    /// descriptor the op closes ([`Close`](crate::op::Close) of a plain fd)
    /// must be the caller's to close, and not used by anything afterwards.
    #[inline(always)]
    pub unsafe fn push_unchecked<O: PrepareSqe>(&mut self, op: O) -> Result<(), SqFull> {
        // SAFETY: forwarded contract.
        unsafe { self.state.push_unchecked(op) }
    }

    /// Queue ops from an iterator while there is room; returns how many were
    /// queued. The rest of the iterator is left unconsumed.
    #[inline]
    pub fn push_iter<O: SafeOp>(&mut self, ops: impl IntoIterator<Item = O>) -> u32 {
        self.state.push_iter(ops)
    }

    /// Queue every op of `ops` or none of them: the batch is queued only if
    /// all of it fits the free slots; otherwise nothing is queued (the SQ is
    /// as it was) and [`SqNoRoom`] says how many slots the batch needed and
    /// how many were free. Returns how many were queued.
    ///
    /// For a batch that must go to the kernel together (say, a chain of
    /// `IO_LINK` ops, which a partial push would cut short). An iterator
    /// that reports its length (`ExactSizeIterator`, a slice's or a `Vec`'s)
    /// is checked before any op is taken from it; another one is consumed
    /// up to the op that no longer fits, and the ops taken are dropped.
    ///
    /// ```
    /// use ringwise::{op::Nop, Ring, SqNoRoom};
    /// let mut ring: Ring = Ring::new(4)?;
    /// let mut sq = ring.submission();
    /// sq.push(Nop::new()).unwrap();
    /// let five = (0..5).map(|i| Nop::new().user_data(i));
    /// assert_eq!(sq.push_all(five), Err(SqNoRoom { needed: 5, free: 3 }));
    /// assert_eq!(sq.len(), 1, "none of the five was queued");
    /// assert_eq!(sq.push_all((0..3).map(|i| Nop::new().user_data(i))), Ok(3));
    /// # Ok::<(), ringwise::Error>(())
    /// ```
    #[inline]
    pub fn push_all<O: SafeOp>(&mut self, ops: impl IntoIterator<Item = O>) -> Result<u32, SqNoRoom> {
        self.state.push_all(ops)
    }

    /// Fill the next SQE by hand.
    ///
    /// # Safety
    /// `fill` must leave a valid SQE whose pointers follow the contract of
    /// [`push_unchecked`](Self::push_unchecked).
    #[inline(always)]
    pub unsafe fn push_raw(&mut self, fill: impl FnOnce(&mut Sqe)) -> Result<(), SqFull> {
        // SAFETY: forwarded contract.
        unsafe { self.state.push_raw(fill) }
    }
}

/// 128-byte entries: ops that use the 80-byte command area (or the 128-byte
/// opcodes) can only be pushed on a ring whose slots are that big.
impl SubmissionQueue<'_, crate::entry::Sqe128> {
    /// Queue a 128-byte op that carries no pointer (e.g. [`Nop128`](crate::op::Nop128)).
    #[inline(always)]
    pub fn push_big<O: crate::entry::SafeBigOp>(&mut self, op: O) -> Result<(), SqFull> {
        self.state.push_big(op)
    }

    /// Queue any 128-byte op (e.g. [`UringCmd80`](crate::op::UringCmd80)).
    ///
    /// # Safety
    /// As for [`push_unchecked`](Self::push_unchecked): every pointer the op
    /// carries, including any inside its command area, must stay valid until
    /// the op's CQE has been reaped.
    #[inline(always)]
    pub unsafe fn push_big_unchecked<O: crate::entry::PrepareBigSqe>(&mut self, op: O) -> Result<(), SqFull> {
        // SAFETY: forwarded contract.
        unsafe { self.state.push_big_unchecked(op) }
    }
}

impl<S: SqeSize> fmt::Debug for SubmissionQueue<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.state, f)
    }
}

#[cfg(test)]
mod tests {
    //! Index arithmetic of the SQ over an in-memory stand-in for the rings
    //! region, with the free-running u32 indices started just below 2^32 so
    //! that the cases wrap. These are pure arithmetic tests: the real kernel
    //! cannot be driven through 2^32 submissions in a test, so the "kernel"
    //! here is a few lines doing what the kernel does with the SQ (read the
    //! slot at `head & mask` up to the published tail, then move the head
    //! with a release store). The kernel-backed tests are in `tests/`.
    use super::*;
    use crate::entry::{Sqe128, Sqe64};
    use crate::fake_ring::{Header, Slots, TestNop, NOP};
    use proptest::prelude::*;

    /// A queue over owned fake ring memory, with the kernel's side and a
    /// model of what must be where. SQE k (counting from 0) carries
    /// `user_data` `start + k` as a u64, so its low 32 bits are its ring
    /// index and the whole value shows the order across the wrap.
    struct Fixture<S: SqeSize> {
        q: SqState<S>,
        header: Box<Header>,
        /// The SQE array (8-aligned, so that slots are aligned for `Sqe`).
        sqes: Slots,
        entries: u32,
        start: u64,
        pushed: u64,
        published: u64,
        consumed: u64,
    }

    impl<S: SqeSize> Fixture<S> {
        fn new(entries: u32, start: u32) -> Fixture<S> {
            let header = Header::new(start);
            let sqes = Slots::new(entries, S::SLOT_BYTES);
            // SAFETY: the header and the SQE array are owned by the fixture
            // and freed only when it drops; the array holds `entries` slots
            // of `S::SLOT_BYTES`.
            let q = unsafe {
                SqState::new(SqPointers {
                    head: &header.head,
                    tail: &header.tail,
                    flags: &header.flags,
                    dropped: &header.dropped,
                    sqes: sqes.ptr(),
                    entries,
                })
            };
            Fixture { q, header, sqes, entries, start: start as u64, pushed: 0, published: 0, consumed: 0 }
        }

        fn queued(&self) -> u32 {
            (self.pushed - self.consumed) as u32
        }

        /// The SQE in the slot of ring index `index`, read the way the
        /// kernel reads it.
        fn kernel_read(&self, index: u32) -> Sqe {
            let slot = (index & (self.entries - 1)) as usize;
            // SAFETY: slot < entries, inside the SQE array, aligned.
            unsafe { self.sqes.ptr().add(slot * S::SLOT_BYTES).cast::<Sqe>().read() }
        }

        /// Push `n` NOPs; each must fail exactly when the SQ is full.
        fn push(&mut self, n: u32) {
            for _ in 0..n {
                let full = self.queued() == self.entries;
                let ud = self.start + self.pushed;
                let got = self.q.push(TestNop(ud));
                assert_eq!(got.is_err(), full, "push with {} of {} queued", self.queued(), self.entries);
                if got.is_ok() {
                    self.pushed += 1;
                }
            }
        }

        fn publish(&mut self) {
            let pending = self.q.publish();
            self.published = self.pushed;
            assert_eq!(self.header.tail.load(Ordering::Relaxed), (self.start + self.published) as u32);
            // Counted from the head as last accounted for by a submit (this
            // fixture never syncs it, as an SQPOLL ring between submits):
            // never less than what the kernel has left, and exactly what was
            // pushed since that head.
            assert!(pending >= self.queued(), "pending {pending}");
            assert_eq!(pending, self.q.local_tail().wrapping_sub(self.q.cached_head()), "pending {pending}");
        }

        /// The kernel consumes up to `n` published SQEs, in order.
        fn consume(&mut self, n: u32) {
            let head = self.header.head.load(Ordering::Relaxed);
            let tail = self.header.tail.load(Ordering::Acquire);
            let take = n.min(tail.wrapping_sub(head));
            for i in 0..take {
                let sqe = self.kernel_read(head.wrapping_add(i));
                assert_eq!(sqe.user_data, self.start + self.consumed, "SQE at ring index {}", head.wrapping_add(i));
                assert_eq!(sqe.opcode, NOP);
                self.consumed += 1;
            }
            self.header.head.store(head.wrapping_add(take), Ordering::Release);
        }

        fn check(&self) {
            let q = &self.q;
            assert_eq!(q.len(), self.queued());
            assert!(q.len() <= q.capacity());
            assert_eq!(q.space(), q.capacity() - q.len());
            assert_eq!(q.is_empty(), self.queued() == 0);
            assert_eq!(q.local_tail(), (self.start + self.pushed) as u32);
            // Every slot holds the last SQE pushed for its index.
            let window = self.pushed.min(self.entries as u64);
            for k in self.pushed - window..self.pushed {
                let index = (self.start + k) as u32;
                assert_eq!(q.sqe_at(index).user_data, self.start + k, "sqe_at({index})");
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u32),
        Publish,
        Consume(u32),
        SyncHead,
    }

    fn ops(entries: u32) -> impl Strategy<Value = Vec<Op>> {
        let op = prop_oneof![
            3 => (0..=2 * entries + 1).prop_map(Op::Push),
            2 => Just(Op::Publish),
            2 => (0..=entries + 1).prop_map(Op::Consume),
            1 => Just(Op::SyncHead),
        ];
        proptest::collection::vec(op, 1..200)
    }

    fn run<S: SqeSize>(entries: u32, back: u32, ops: &[Op]) {
        let mut f = Fixture::<S>::new(entries, 0u32.wrapping_sub(back));
        f.check();
        for op in ops {
            match *op {
                Op::Push(n) => f.push(n),
                Op::Publish => f.publish(),
                Op::Consume(n) => f.consume(n),
                Op::SyncHead => {
                    assert_eq!(f.q.sync_head(), f.header.head.load(Ordering::Relaxed));
                }
            }
            f.check();
        }
    }

    fn config() -> ProptestConfig {
        ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() }
    }

    /// A ring size (1 to 32 entries), how far below 2^32 the indices
    /// start, and the operations.
    fn cases() -> impl Strategy<Value = (u32, u32, Vec<Op>)> {
        (0u32..6).prop_flat_map(|shift| (Just(1u32 << shift), 0u32..64, ops(1 << shift)))
    }

    proptest! {
        #![proptest_config(config())]

        /// Room, order and slots across the 2^32 wrap, 64-byte slots.
        #[test]
        fn sq_indices_wrap_64((entries, back, ops) in cases()) {
            run::<Sqe64>(entries, back, &ops);
        }

        /// The same with 128-byte slots (`SQE128`): slot `i` starts at
        /// `i * 128`.
        #[test]
        fn sq_indices_wrap_128((entries, back, ops) in cases()) {
            run::<Sqe128>(entries, back, &ops);
        }
    }

    /// Many laps through the wrap, one SQE at a time and in full batches,
    /// with the head as the only thing that frees room (the cached limit
    /// lags behind after every consume).
    #[test]
    fn sq_laps_through_the_wrap() {
        for entries in [1u32, 2, 8] {
            let mut f = Fixture::<Sqe64>::new(entries, u32::MAX - 2 * entries);
            for lap in 0..4 * entries as u64 + 8 {
                let n = if lap % 2 == 0 { 1 } else { entries };
                f.push(n + 1); // one more than fits when the batch is full
                f.publish();
                f.check();
                f.consume(n);
                f.check();
            }
            // Started 2 * entries below 2^32: the tail is now past it.
            assert!(f.pushed > 2 * entries as u64 && (f.q.local_tail() as u64) < f.pushed, "wrapped past 2^32");
        }
    }

    /// A kernel head past our tail (the shared ring memory written by
    /// someone else) reads as a full queue with no room: `len` is clamped to
    /// the capacity and `space` cannot underflow (it used to compute
    /// `entries - len` and wrap, or panic in debug builds).
    #[test]
    fn head_past_the_tail_clamps_len_and_space() {
        for back in [1u32, 100] {
            let mut f = Fixture::<Sqe64>::new(8, 0u32.wrapping_sub(back));
            f.push(3);
            let tail = f.q.local_tail();
            for ahead in [1u32, 5, 9, u32::MAX / 2] {
                f.header.head.store(tail.wrapping_add(ahead), Ordering::Release);
                assert_eq!(f.q.len(), 8, "head {ahead} past the tail");
                assert_eq!(f.q.space(), 0, "head {ahead} past the tail");
                assert!(!f.q.is_empty());
                assert_eq!(f.q.push_iter(std::iter::repeat_with(TestNop::default).take(4)), 0, "no room is no room");
            }
        }
    }

    /// In a 128-byte-slot ring a 64-byte op leaves no stale bytes in the
    /// second half of its slot (the fixture fills slots with 0xff first).
    #[test]
    fn sqe128_second_half_cleared() {
        let mut f = Fixture::<Sqe128>::new(4, u32::MAX - 1);
        f.push(4);
        for k in 0..4u64 {
            let slot = ((f.start + k) as u32 & 3) as usize;
            // SAFETY: slot < 4, inside the array of 4 slots of 128 bytes.
            let half = unsafe { f.sqes.ptr().add(slot * 128 + 64).cast::<[u8; 64]>().read() };
            assert_eq!(half, [0u8; 64], "slot {slot}");
        }
    }
}
