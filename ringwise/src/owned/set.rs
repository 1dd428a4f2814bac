//! Many ops of one type in flight, taken back as they complete: the sync
//! form of "keep N ops going".

use super::driver::{Driver, Refused, Shared, State, WAIT_SLICE};
use super::slab::{Entry, Key};
use super::{OrphanOp, OwnedOp};
use crate::error::Result;
use std::fmt;
use std::sync::Arc;

/// Ops of one type in flight on one driver, each with a caller's tag, whose
/// outputs come back as they complete ([`wait`](Self::wait)): what a server
/// or a queue-depth-N reader needs synchronously, without a handle per op.
///
/// The driver logs the completions of a set's ops, so taking them costs
/// the same whether the set holds 2 ops or 2000 (no scan). Dropping the set
/// drops every op still in it the way dropping its [`Op`](super::Op) handle
/// would (cancelled, kept by the driver until its CQE).
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
pub struct OpSet<T: OwnedOp> {
    shared: Arc<Shared>,
    inner: Inner<T>,
}

/// The set's own state, borrowed apart from the driver's lock guard.
struct Inner<T: OwnedOp> {
    id: u32,
    /// The ops, each at its own index for its whole stay in the set: put
    /// there by `submit`, prepared there, taken out when handed back.
    slots: Vec<SetSlot<T>>,
    /// The first slot holding no op ([`NO_SLOT`]: none); each free slot's
    /// `key.index` is the next free slot's (an intrusive free list: taking
    /// and giving back a slot is a load and a store or two).
    free: u32,
    len: usize,
    /// Indices of ops submitted to the set and not yet pushed to the SQ:
    /// the next `wait` or `flush` pushes them all under one lock.
    queued: Vec<u32>,
    /// Ops the driver refused when they were pushed (it was shut down).
    refused: Vec<Refused<T>>,
    /// Completions taken from the driver's log under the lock (set id, index
    /// in `slots`, result, flags), handed out after it. Swapped with the
    /// driver's log when every entry there is this set's, so both keep
    /// their capacity and taking a batch moves nothing.
    done: Vec<(u32, u32, i32, u32)>,
}

/// One op of a set.
struct SetSlot<T> {
    /// `None`: free.
    op: Option<T>,
    tag: u64,
    /// Its slot in the driver's table once pushed ([`UNPUSHED`] before);
    /// while the slot is free, `index` is the next free slot's.
    key: Key,
}

/// The key of an op not pushed yet: no slot of the driver's table has index
/// `u32::MAX`, so no lookup finds it.
const UNPUSHED: Key = Key { index: u32::MAX, generation: 0 };

/// The end of a set's free list: no slot has index `u32::MAX` (a set that
/// large could not be pushed to any ring).
const NO_SLOT: u32 = u32::MAX;

impl<T: OwnedOp> OpSet<T> {
    /// An empty set for ops on `driver`.
    pub fn new(driver: &Driver) -> OpSet<T> {
        let shared = driver.shared().clone();
        let id = {
            let mut st = shared.lock();
            let id = st.next_set;
            // Ids wrap after four billion sets; 0 is "no set".
            st.next_set = st.next_set.checked_add(1).unwrap_or(1);
            id
        };
        let inner = Inner {
            id,
            slots: Vec::new(),
            free: NO_SLOT,
            len: 0,
            queued: Vec::new(),
            refused: Vec::new(),
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
        if let Err(error) = op.validate().and_then(|()| op.validate_for(self.shared.id())) {
            return Err(Refused { error, op });
        }
        let set = &mut self.inner;
        let index = set.free;
        let index = match set.slots.get_mut(index as usize) {
            // `NO_SLOT` is no index of `slots`: one lookup for both cases.
            Some(slot) => {
                set.free = slot.key.index;
                // A free slot holds no op: nothing to drop.
                std::mem::forget(slot.op.replace(op));
                slot.tag = tag;
                slot.key = UNPUSHED;
                index
            }
            None => set.grow(op, tag),
        };
        set.queued.push(index);
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
            Shared::submit_and_dispatch(&mut st)?;
            inner.collect(&mut st);
            shared.unlock_and_bury(st);
            if inner.done.is_empty() && handed < min {
                shared.block(WAIT_SLICE)?;
                continue;
            }
            let Inner { slots, free, done, .. } = &mut *inner;
            for (_, index, res, flags) in done.drain(..) {
                let Some(slot) = slots.get_mut(index as usize) else { continue };
                let Some(op) = slot.op.take() else { continue };
                slot.key.index = *free;
                *free = index;
                handed += 1;
                f(slot.tag, op.complete(res, flags));
            }
            if handed >= min {
                return Ok(handed);
            }
        }
    }
}

impl<T: OwnedOp> Inner<T> {
    /// A new slot holding `op`: its index.
    #[cold]
    fn grow(&mut self, op: T, tag: u64) -> u32 {
        self.slots.push(SetSlot { op: Some(op), tag, key: UNPUSHED });
        (self.slots.len() - 1) as u32
    }

    /// Push the queued ops to the SQ from their slots; ops the driver
    /// refuses go to `refused` (the first refusal's error is returned).
    #[inline]
    fn push_queued(&mut self, st: &mut State) -> Result<()> {
        if self.queued.is_empty() {
            return Ok(());
        }
        let Inner { id, slots, free, len, queued, refused, .. } = self;
        if st.room_for::<T>(queued.len()) {
            // Room for all: no per-op checks.
            for &index in queued.iter() {
                if let Some(SetSlot { op: Some(op), key, .. }) = slots.get_mut(index as usize) {
                    *key = st.push_ready(op, *id, index);
                }
            }
            queued.clear();
            return Ok(());
        }
        let mut failed = None;
        for &index in queued.iter() {
            let Some(slot) = slots.get_mut(index as usize) else { continue };
            let Some(op) = slot.op.as_mut() else { continue };
            match st.push_locked(op, *id, index) {
                Ok(key) => slot.key = key,
                Err(error) => {
                    if let Some(op) = slot.op.take() {
                        slot.key.index = *free;
                        *free = index;
                        *len -= 1;
                        if failed.is_none() {
                            failed = Some(error.to_string());
                        }
                        refused.push(Refused { error, op });
                    }
                }
            }
        }
        queued.clear();
        match failed {
            None => Ok(()),
            Some(why) => Err(crate::Error::RingUnusable {
                why: format!("ops of the set were refused ({why}); take_refused() gives them back"),
            }),
        }
    }

    /// Move this set's logged completions from the driver into `done`.
    #[inline]
    fn collect(&mut self, st: &mut State) {
        if st.ready_log.is_empty() {
            return;
        }
        let Inner { id, len, done, .. } = self;
        if st.log_set == *id && done.is_empty() {
            // Every logged op is this set's (one set per driver, the usual
            // case): take the log whole, leaving it `done`'s empty buffer.
            std::mem::swap(&mut st.ready_log, done);
            *len -= done.len();
            return;
        }
        let before = done.len();
        st.ready_log.retain(|&entry| {
            if entry.0 != *id {
                return true;
            }
            done.push(entry);
            false
        });
        *len -= done.len() - before;
        // What is left is other sets' (possibly several).
        st.log_set = 0;
    }
}

impl<T: OwnedOp> Drop for OpSet<T> {
    fn drop(&mut self) {
        if self.inner.len == 0 {
            return;
        }
        let OpSet { shared, inner } = self;
        let mut st = shared.lock();
        st.dispatch();
        inner.collect(&mut st);
        let Inner { slots, done, .. } = inner;
        let mut outputs = Vec::new();
        // Completed ops: their outputs are dropped outside the lock (they
        // may hold descriptors the ops produced).
        for (_, index, res, flags) in done.drain(..) {
            if let Some(op) = slots.get_mut(index as usize).and_then(|s| s.op.take()) {
                outputs.push(op.complete(res, flags));
            }
        }
        let mut unsent = Vec::new();
        for slot in slots.iter_mut() {
            let Some(op) = slot.op.take() else { continue };
            let key = slot.key;
            match st.slab.get_mut(key) {
                Some(entry @ Entry::Waiting { .. }) => {
                    let first = match entry {
                        Entry::Waiting { first, .. } => first.take(),
                        _ => None,
                    };
                    *entry = Entry::Orphaned(Box::new(OrphanOp { op: Some(op), first }));
                    Shared::push_cancel(&mut st, key);
                }
                // Never pushed (`UNPUSHED` is no slot's key), or its final
                // CQE arrived and its slot was freed (a slot's generation
                // moves on only then) while its log entry was lost to a
                // panic in the caller's `f`: the kernel does not have it.
                _ => unsent.push(op),
            }
        }
        let waker = Shared::wake_driver(&mut st);
        drop(st);
        drop(outputs);
        drop(unsent);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T: OwnedOp> fmt::Debug for OpSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpSet").field("len", &self.inner.len).finish_non_exhaustive()
    }
}
