//! Many ops of one type in flight, taken back as they complete: the sync
//! form of "keep N ops going".

use super::driver::{Driver, Refused, Shared, WAIT_SLICE};
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
    id: u32,
    /// The ops, at their slot's index in the driver's table, with the slot's
    /// generation and the caller's tag.
    ops: Vec<Option<(u32, u64, T)>>,
    len: usize,
    /// Ops submitted to the set and not yet pushed to the SQ: the next
    /// `wait` or `flush` pushes them all under one lock.
    queued: Vec<(u64, T)>,
    /// Ops the driver refused when they were pushed (it was shut down).
    refused: Vec<Refused<T>>,
    /// Completed ops taken out under the lock, handed out after it (kept
    /// between calls so it allocates only while growing).
    done: Vec<(u64, T, i32, u32)>,
}

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
        OpSet { shared, id, ops: Vec::new(), len: 0, queued: Vec::new(), refused: Vec::new(), done: Vec::new() }
    }

    /// Ops in the set (in flight, or done and not yet taken).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds no op.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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
        self.queued.push((tag, op));
        self.len += 1;
        Ok(())
    }

    /// Push the ops added since the last wait to the SQ and submit them to
    /// the kernel, without waiting. (Completions found meanwhile are handed
    /// out by the next [`wait`](Self::wait).)
    pub fn flush(&mut self) -> Result<()> {
        let OpSet { shared, id, ops, queued, refused, len, done } = self;
        let mut st = shared.lock();
        collect(*id, ops, len, done, &mut st);
        let pushed = push_queued(*id, ops, queued, refused, len, &mut st);
        let submitted = if st.ring.submission().is_empty() { Ok(()) } else { st.ring.submit().map(drop) };
        shared.unlock_and_bury(st);
        pushed.and(submitted)
    }

    /// Ops the driver refused when the set pushed them (it had been shut
    /// down), given back whole.
    pub fn take_refused(&mut self) -> Vec<Refused<T>> {
        std::mem::take(&mut self.refused)
    }

    /// Hand every op that is done to `f` (tag, output), after blocking until
    /// at least `min` are (fewer if the set holds fewer); submits what is
    /// queued first. Returns how many were handed out.
    pub fn wait(&mut self, min: usize, mut f: impl FnMut(u64, T::Output)) -> Result<usize> {
        let min = min.min(self.len);
        let mut handed = 0;
        loop {
            let OpSet { shared, id, ops, len, done, queued, refused } = self;
            let mut st = shared.lock();
            // Completions logged by someone else's dispatch first: their
            // slots are free, and a queued op may be placed at one.
            collect(*id, ops, len, done, &mut st);
            if let Err(e) = push_queued(*id, ops, queued, refused, len, &mut st) {
                shared.unlock_and_bury(st);
                return Err(e);
            }
            Shared::submit_and_dispatch(&mut st)?;
            collect(*id, ops, len, done, &mut st);
            shared.unlock_and_bury(st);
            if done.is_empty() && handed < min {
                shared.block(WAIT_SLICE)?;
                continue;
            }
            for (tag, op, res, flags) in done.drain(..) {
                handed += 1;
                f(tag, op.complete(res, flags));
            }
            if handed >= min {
                return Ok(handed);
            }
        }
    }
}

/// Push the queued ops to the SQ and place them at their slots; ops the
/// driver refuses go to `refused` (the first refusal's error is returned).
#[inline]
fn push_queued<T: OwnedOp>(
    id: u32,
    ops: &mut Vec<Option<(u32, u64, T)>>,
    queued: &mut Vec<(u64, T)>,
    refused: &mut Vec<Refused<T>>,
    len: &mut usize,
    st: &mut super::driver::State,
) -> Result<()> {
    let mut failed = None;
    for (tag, mut op) in queued.drain(..) {
        match st.push_locked(&mut op, id) {
            Ok(key) => {
                let index = key.index as usize;
                if index >= ops.len() {
                    ops.resize_with(index + 1, || None);
                }
                // The slot was free (its op was taken): nothing to drop.
                std::mem::forget(ops[index].replace((key.generation, tag, op)));
            }
            Err(error) => {
                *len -= 1;
                if failed.is_none() {
                    failed = Some(error.to_string());
                }
                refused.push(Refused { error, op });
            }
        }
    }
    match failed {
        None => Ok(()),
        Some(why) => Err(crate::Error::RingUnusable {
            why: format!("ops of the set were refused ({why}); take_refused() gives them back"),
        }),
    }
}

/// Move the set `id`'s logged completions from the driver into `done`.
#[inline]
fn collect<T: OwnedOp>(
    id: u32,
    ops: &mut [Option<(u32, u64, T)>],
    len: &mut usize,
    done: &mut Vec<(u64, T, i32, u32)>,
    st: &mut super::driver::State,
) {
    if st.ready_log.is_empty() {
        return;
    }
    let ready_log = &mut st.ready_log;
    let mut take = |key: Key, res: i32, flags: u32| {
        let mine = match ops.get_mut(key.index as usize) {
            Some(slot) if slot.as_ref().is_some_and(|s| s.0 == key.generation) => slot.take(),
            _ => None,
        };
        if let Some((_, tag, op)) = mine {
            *len -= 1;
            done.push((tag, op, res, flags));
        }
    };
    // Usually every logged op is this set's (one set per driver): take them
    // all; otherwise leave the other sets' entries.
    if ready_log.iter().all(|&(set, ..)| set == id) {
        for (_, key, res, flags) in ready_log.drain(..) {
            take(key, res, flags);
        }
    } else {
        ready_log.retain(|&(set, key, res, flags)| {
            if set != id {
                return true;
            }
            take(key, res, flags);
            false
        });
    }
}

impl<T: OwnedOp> Drop for OpSet<T> {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        let OpSet { shared, id, ops, len, done, .. } = self;
        let mut st = shared.lock();
        st.dispatch();
        collect(*id, ops, len, done, &mut st);
        let mut outputs = Vec::new();
        for (index, slot) in ops.iter_mut().enumerate() {
            let Some((generation, _, op)) = slot.take() else { continue };
            let key = Key { index: index as u32, generation };
            match st.slab.get_mut(key) {
                Some(entry @ Entry::Waiting { .. }) => {
                    let first = match entry {
                        Entry::Waiting { first, .. } => first.take(),
                        _ => None,
                    };
                    *entry = Entry::Orphaned(Box::new(OrphanOp { op: Some(op), first }));
                    Shared::push_cancel(&mut st, key);
                }
                // Not in flight and not logged: impossible; never free what
                // the kernel might still have.
                _ => std::mem::forget(op),
            }
        }
        let waker = Shared::wake_driver(&mut st);
        drop(st);
        // Outputs of completed ops (descriptors they produced) are dropped
        // outside the lock.
        for (_, op, res, flags) in done.drain(..) {
            outputs.push(op.complete(res, flags));
        }
        drop(outputs);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T: OwnedOp> fmt::Debug for OpSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpSet").field("len", &self.len).finish_non_exhaustive()
    }
}
