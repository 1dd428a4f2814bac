//! Many ops of one type in flight, taken back as they complete: the sync
//! form of "keep N ops going".

use super::driver::{check_sqes, closed, Driver, Refused, SharedPtr, State, WAIT_SLICE};
use super::sharing::{Sharing, Threads};
use super::slab::{set_of, set_user_data, Entry};
use super::{Orphan, OrphanOp, OwnedOp};
use crate::abi::IORING_CQE_F_MORE;
use crate::entry::Cqe;
use crate::error::Result;
use std::fmt;

/// Ops of one type in flight on one driver, each with a caller's tag, whose
/// outputs come back as they complete ([`wait`](Self::wait)): what a server
/// or a queue-depth-N reader needs synchronously, without a handle per op.
///
/// A set is the fastest way to run owned ops: it pushes the ops submitted
/// since the last [`wait`](Self::wait) all at once under one lock, and
/// keeps its ops itself
/// (the driver's table holds one slot for the whole set). The driver logs
/// the CQEs of a set's ops, so taking them costs the same whether the set
/// holds 2 ops or 2000 (no scan). Dropping the set drops every op still in
/// it the way dropping its [`Op`](super::Op) handle would (cancelled, kept
/// by the driver until its final CQE).
///
/// ```
/// use ringwise::owned::{ops, Driver, OpSet, SharedFd};
///
/// let file = SharedFd::from(std::fs::File::open("/proc/self/exe")?);
/// let driver = Driver::new(32)?;
/// let mut reads = OpSet::new(&driver);
/// for i in 0..8u64 {
///     reads.submit(ops::Read::at(&file, vec![0u8; 512], i * 512), i)?;
/// }
/// let mut seen = 0;
/// while !reads.is_empty() {
///     reads.wait(1, |tag, (res, buf)| {
///         assert_eq!(res, Ok(512), "read {tag}");
///         assert_eq!(buf.len(), 512);
///         seen += 1;
///     })?;
/// }
/// assert_eq!(seen, 8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OpSet<T: OwnedOp, S: Sharing = Threads> {
    shared: SharedPtr<S>,
    inner: Inner<T>,
}

/// The set's own state, borrowed apart from the driver's lock guard.
struct Inner<T: OwnedOp> {
    /// The set's id: the index of its slot (`Entry::Set`) in the driver's
    /// table, which the `user_data` of its ops carries.
    id: u32,
    /// The ops, each at its own index for its whole stay in the set: put
    /// there by `submit`, taken out when handed back.
    slots: Vec<SetSlot<T>>,
    /// The first slot holding no op ([`NO_SLOT`]: none); each free slot's
    /// `tag` is the next one's index (an intrusive free list: taking and
    /// giving back a slot is a load and a store or two).
    free: u32,
    len: usize,
    /// Indices of ops submitted and not yet pushed to the SQ: the next
    /// `wait` or `flush` pushes them all under one lock.
    queued: Vec<u32>,
    /// Ops the driver refused when they were pushed (it was shut down).
    refused: Vec<Refused<T>>,
    /// Results of CQEs that said more were coming (index in `slots`,
    /// result, flags): a zero-copy send's, whose buffer comes back with the
    /// notification. Rare and short, so kept out of the slots.
    firsts: Vec<(u32, i32, u32)>,
    /// CQEs taken under the lock, handed out after it: from the driver's
    /// log (swapped with it when every entry there is this set's, so both
    /// keep their capacity and taking a batch moves nothing), or straight
    /// from the CQ while every op in flight is this set's
    /// (`State::submit_and_take`).
    done: Vec<Cqe>,
}

/// One op of a set.
struct SetSlot<T> {
    /// `None`: free.
    op: Option<T>,
    /// The caller's tag; while the slot is free, the next free slot's
    /// index. (A slot is kept this small, op and tag, because the set's
    /// slots are what its hot path touches most.)
    tag: u64,
}

/// The end of a set's free list: no slot has index `u32::MAX` (a set that
/// large could not be pushed to any ring).
const NO_SLOT: u32 = u32::MAX;

impl<T: OwnedOp, S: Sharing> OpSet<T, S> {
    /// An empty set for ops on `driver`.
    pub fn new(driver: &Driver<S>) -> OpSet<T, S> {
        let shared = driver.shared().clone();
        let id = shared.lock().slab.insert(Entry::Set).index;
        let inner = Inner {
            id,
            slots: Vec::new(),
            free: NO_SLOT,
            len: 0,
            queued: Vec::new(),
            refused: Vec::new(),
            firsts: Vec::new(),
            done: Vec::new(),
        };
        OpSet { shared, inner }
    }

    /// Ops in the set (in flight, or done and not yet taken).
    pub fn len(&self) -> usize {
        self.inner.len
    }

    /// Whether the set holds no op.
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// Add `op` to the set, tagged `tag` for when its output comes back.
    /// It goes to the SQ at the next [`wait`](Self::wait) or
    /// [`flush`](Self::flush), with every other op added since, under one
    /// lock of the driver (and to the kernel at that enter). An invalid op
    /// is refused here, with the op given back.
    #[inline]
    pub fn submit(&mut self, op: T, tag: u64) -> std::result::Result<(), Refused<T>> {
        if let Err(error) =
            check_sqes::<T>().and_then(|()| op.validate()).and_then(|()| op.validate_for(self.shared.id()))
        {
            return Err(Refused { error, op });
        }
        let set = &mut self.inner;
        let index = match set.slots.get(set.free as usize) {
            // `NO_SLOT` is no index of `slots`: one lookup for both cases.
            Some(slot) => std::mem::replace(&mut set.free, slot.tag as u32),
            None => set.grow(),
        };
        set.queued.push(index);
        if let Some(slot) = set.slots.get_mut(index as usize) {
            // A free slot holds no op: nothing to drop.
            std::mem::forget(slot.op.replace(op));
            slot.tag = tag;
        }
        set.len += 1;
        Ok(())
    }

    /// Push the ops added since the last wait to the SQ and submit them to
    /// the kernel, without waiting. (Completions found meanwhile are handed
    /// out by the next [`wait`](Self::wait).)
    pub fn flush(&mut self) -> Result<()> {
        let OpSet { shared, inner } = self;
        let mut st = shared.lock();
        inner.collect(&mut st);
        let pushed = inner.push_queued(&mut st);
        let submitted = if st.ring.submission().is_empty() { Ok(()) } else { st.ring.submit().map(drop) };
        shared.unlock_and_bury(st);
        pushed.and(submitted)
    }

    /// Ops the driver refused when the set pushed them (it had been shut
    /// down), given back whole.
    pub fn take_refused(&mut self) -> Vec<Refused<T>> {
        std::mem::take(&mut self.inner.refused)
    }

    /// Hand every op that is done to `f` (tag, output), after blocking until
    /// at least `min` are (fewer if the set holds fewer); submits what is
    /// queued first. Returns how many were handed out.
    pub fn wait(&mut self, min: usize, mut f: impl FnMut(u64, T::Output)) -> Result<usize> {
        let OpSet { shared, inner } = self;
        let min = min.min(inner.len);
        let mut handed = 0;
        loop {
            let mut st = shared.lock();
            // Completions logged by someone else's dispatch first: then the
            // log is empty (and so cheap to fill) for this dispatch.
            inner.collect(&mut st);
            if let Err(e) = inner.push_queued(&mut st) {
                shared.unlock_and_bury(st);
                return Err(e);
            }
            State::submit_and_take(&mut st, &mut inner.done)?;
            inner.collect(&mut st);
            shared.unlock_and_bury(st);
            if inner.done.is_empty() && handed < min {
                shared.block(WAIT_SLICE)?;
                continue;
            }
            handed += inner.hand_out(&mut f);
            if handed >= min {
                return Ok(handed);
            }
        }
    }
}

impl<T: OwnedOp> Inner<T> {
    /// A new free slot: its index.
    #[cold]
    fn grow(&mut self) -> u32 {
        self.slots.push(SetSlot { op: None, tag: u64::from(NO_SLOT) });
        (self.slots.len() - 1) as u32
    }

    /// Push the queued ops to the SQ from their slots (as many as it has
    /// room for; the rest stay queued for the next call). When the driver
    /// was shut down, every queued op goes to `refused` instead.
    #[inline]
    fn push_queued(&mut self, st: &mut State) -> Result<()> {
        if self.queued.is_empty() {
            return Ok(());
        }
        let Inner { id, slots, free, len, queued, refused, .. } = self;
        match st.room_for::<T>(queued.len()) {
            Ok(n) => {
                let mut pushed = 0;
                // The set's part of the `user_data`, or'ed with each index.
                let base = set_user_data(*id, 0);
                for &index in &queued[..n] {
                    if let Some(SetSlot { op: Some(op), .. }) = slots.get_mut(index as usize) {
                        st.push_ready(op, base | u64::from(index));
                        pushed += 1;
                    }
                }
                // In flight from here to their final CQEs.
                st.slab.set_ops_pushed(pushed);
                queued.drain(..n);
                Ok(())
            }
            Err(error) => {
                let why = error.to_string();
                for &index in queued.iter() {
                    let Some(slot) = slots.get_mut(index as usize) else { continue };
                    let Some(op) = slot.op.take() else { continue };
                    slot.tag = u64::from(std::mem::replace(free, index));
                    *len -= 1;
                    refused.push(Refused { error: closed(), op });
                }
                queued.clear();
                Err(crate::Error::RingUnusable {
                    why: format!("ops of the set were refused ({why}); take_refused() gives them back"),
                })
            }
        }
    }

    /// Move this set's logged CQEs from the driver into `done`.
    #[inline]
    fn collect(&mut self, st: &mut State) {
        if st.ready_log.is_empty() {
            return;
        }
        let Inner { id, done, .. } = self;
        if st.slab.sets == 1 && done.is_empty() {
            // Every logged CQE is this set's (one set per driver, the usual
            // case): take the log whole, leaving it `done`'s empty buffer.
            std::mem::swap(&mut st.ready_log, done);
            return;
        }
        st.ready_log.retain(|&entry| {
            if set_of(entry.user_data).0 != *id {
                return true;
            }
            done.push(entry);
            false
        });
    }

    /// Hand the ops whose final CQE is in `done` to `f`; returns how many.
    #[inline]
    fn hand_out(&mut self, f: &mut impl FnMut(u64, T::Output)) -> usize {
        let Inner { id, slots, free, len, firsts, done, .. } = self;
        let mut handed = 0;
        for Cqe { user_data, res, flags } in done.drain(..) {
            let (set, local) = set_of(user_data);
            // An ignored CQE (`IGNORED_USER_DATA`, which `take_set_cqes`
            // passes on) has local index `u32::MAX`, which no slot has.
            let Some(slot) = slots.get_mut(local as usize) else { continue };
            if set != *id || slot.op.is_none() {
                continue;
            }
            if flags & IORING_CQE_F_MORE != 0 {
                firsts.push((local, res, flags));
                continue;
            }
            let (res, flags) = if firsts.is_empty() { (res, flags) } else { take_first(firsts, local, res, flags) };
            let Some(op) = slot.op.take() else { continue };
            let tag = std::mem::replace(&mut slot.tag, u64::from(std::mem::replace(free, local)));
            *len -= 1;
            handed += 1;
            f(tag, op.complete(res, flags));
        }
        handed
    }
}

/// The result an op's final CQE hands out: its first CQE's result (taken
/// from `firsts`) with the final one's flags or'ed in, if it had a first
/// CQE; else the final CQE's own.
#[cold]
fn take_first(firsts: &mut Vec<(u32, i32, u32)>, local: u32, res: i32, flags: u32) -> (i32, u32) {
    match first_of(firsts, local) {
        Some((first, first_flags)) => (first, first_flags | flags),
        None => (res, flags),
    }
}

/// Take op `local`'s first CQE (result, flags) out of `firsts`, if it had
/// one.
fn first_of(firsts: &mut Vec<(u32, i32, u32)>, local: u32) -> Option<(i32, u32)> {
    let i = firsts.iter().position(|&(at, ..)| at == local)?;
    let (_, res, flags) = firsts.swap_remove(i);
    Some((res, flags))
}

impl<T: OwnedOp, S: Sharing> Drop for OpSet<T, S> {
    fn drop(&mut self) {
        let OpSet { shared, inner } = self;
        let mut st = shared.lock();
        st.dispatch();
        inner.collect(&mut st);
        // Completed ops, handed out as `wait` would: their outputs are
        // dropped outside the lock (they may hold descriptors the ops
        // produced).
        let mut outputs = Vec::new();
        inner.hand_out(&mut |_, output| outputs.push(output));
        let Inner { id, slots, queued, firsts, .. } = inner;
        // Ops never pushed: the kernel does not have them.
        let mut unsent = Vec::new();
        for index in queued.drain(..) {
            if let Some(op) = slots.get_mut(index as usize).and_then(|s| s.op.take()) {
                unsent.push(op);
            }
        }
        // The rest are in flight: the driver keeps them until their final
        // CQEs, in the set's slot, and cancels them.
        let mut orphans: Vec<Option<Box<dyn Orphan>>> = Vec::new();
        let mut left = 0;
        let count = slots.len();
        for (local, slot) in slots.iter_mut().enumerate() {
            let Some(op) = slot.op.take() else { continue };
            if orphans.is_empty() {
                orphans.resize_with(count, || None);
            }
            let first = first_of(firsts, local as u32);
            orphans[local] = Some(Box::new(OrphanOp { op: Some(op), first }));
            left += 1;
            State::push_cancel(&mut st, set_user_data(*id, local as u32));
        }
        if left == 0 {
            drop(st.slab.remove_at(*id));
        } else {
            st.slab.end_set(*id, orphans, left);
        }
        let waker = State::wake_driver(&mut st);
        shared.unlock_and_bury(st);
        drop(outputs);
        drop(unsent);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T: OwnedOp, S: Sharing> fmt::Debug for OpSet<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpSet").field("len", &self.inner.len).finish_non_exhaustive()
    }
}
