//! The handles of ops in flight: [`Op`] (one result) and [`Stream`]
//! (multishot), each usable synchronously and as a future.

use super::driver::{SharedPtr, State, WAIT_SLICE};
use super::sharing::{Sharing, Threads};
use super::slab::{Entry, Key};
use super::{OrphanOp, OrphanStream, OwnedOp, OwnedStream};
use crate::error::Result;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// An owned op in flight, from [`Driver::submit`](super::Driver::submit):
/// its output (result and what it owned) comes back from
/// [`wait`](Self::wait), [`try_take`](Self::try_take) or `.await`.
///
/// Dropping the handle before the output was taken is safe at any point:
/// the op moves to the driver, which sends an async cancel, keeps
/// everything the op owns until its final CQE, and then drops it (closing a
/// descriptor the op produced). `mem::forget` leaks the op, never frees it
/// early.
///
/// A buffer in flight cannot be touched: the op owns it until the output is
/// taken.
///
/// ```compile_fail
/// use ringwise::owned::{ops, Driver, SharedFd};
/// let driver = Driver::new(8).unwrap();
/// let fd = SharedFd::new(std::fs::File::open("/dev/zero").unwrap());
/// let mut buf = vec![0u8; 16];
/// let op = driver.submit(ops::Read::at(&fd, buf, 0)).unwrap();
/// buf[0] = 1; // error: `buf` was moved into the op
/// let _ = op.wait();
/// ```
///
/// And no owned op takes a raw fd number (I/O safety):
///
/// ```compile_fail
/// use ringwise::owned::{ops, Driver};
/// let driver = Driver::new(8).unwrap();
/// let op = driver.submit(ops::Read::at(0, vec![0u8; 16], 0)); // error: i32 is not an Fd
/// ```
#[must_use = "dropping an Op cancels it"]
pub struct Op<T: OwnedOp, S: Sharing = Threads> {
    shared: SharedPtr<S>,
    key: Key,
    op: Option<T>,
}

impl<T: OwnedOp, S: Sharing> Op<T, S> {
    pub(crate) fn new(shared: SharedPtr<S>, key: Key, op: T) -> Op<T, S> {
        Op { shared, key, op: Some(op) }
    }

    /// The SQE's `user_data` of this op (unique among ops in flight on its
    /// driver).
    pub fn user_data(&self) -> u64 {
        self.key.user_data()
    }

    /// Whether the op's final CQE has arrived (and been moved to this handle
    /// by a wait or a drive).
    pub fn is_done(&self) -> bool {
        let mut st = self.shared.lock();
        matches!(st.slab.get_mut(self.key), Some(Entry::Ready { .. }))
    }

    /// Ask the kernel to cancel the op (`ASYNC_CANCEL`; sent at the next
    /// enter). The handle still returns the op's output, with its real
    /// result: `ECANCELED` if it was cancelled, or what it did if it
    /// finished first (data that arrived is not lost).
    pub fn cancel(&self) {
        let mut st = self.shared.lock();
        if let Some(Entry::Waiting { .. }) = st.slab.get_mut(self.key) {
            State::push_cancel(&mut st, self.key.user_data());
            let waker = State::wake_driver(&mut st);
            drop(st);
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    /// Block until the op completes (submitting what is queued and moving
    /// completions of other ops to their handles meanwhile), and return its
    /// output.
    ///
    /// An error means the ring could not be entered; the op then stays with
    /// the driver until its CQE, as if its handle had been dropped.
    ///
    /// On a handle whose output was already taken (a future polled to the
    /// end), an [`Error::InvalidArgument`](crate::Error::InvalidArgument).
    pub fn wait(mut self) -> Result<T::Output> {
        let mut entered = false;
        loop {
            let mut st = self.shared.lock();
            if let Some(op) = self.op.take() {
                if let Some((res, flags)) = st.slab.take_ready(self.key) {
                    drop(st);
                    return Ok(op.complete(res, flags));
                }
                self.op = Some(op);
            } else {
                return Err(taken());
            }
            if !entered {
                // Submit (the op itself, usually) and look again before
                // sleeping: many ops complete during the submit.
                entered = true;
                State::submit_and_dispatch(&mut st)?;
                self.shared.unlock_and_bury(st);
                continue;
            }
            State::submit_and_dispatch(&mut st)?;
            let done = matches!(st.slab.get_mut(self.key), Some(Entry::Ready { .. }));
            self.shared.unlock_and_bury(st);
            if !done {
                self.shared.block(WAIT_SLICE)?;
            }
        }
    }

    /// The output if the op is done; the handle back otherwise. Does not
    /// enter the kernel (see [`Driver::drive`](super::Driver::drive) and
    /// [`Driver::wait`](super::Driver::wait)).
    /// A handle whose output was already taken is given back as it is.
    pub fn try_take(mut self) -> std::result::Result<T::Output, Op<T, S>> {
        let mut st = self.shared.lock();
        if let Some(Entry::Ready { res, flags }) = st.slab.get_mut(self.key) {
            let (res, flags) = (*res, *flags);
            if let Some(op) = self.op.take() {
                st.slab.remove(self.key);
                drop(st);
                return Ok(op.complete(res, flags));
            }
        }
        drop(st);
        Err(self)
    }
}

fn taken() -> crate::Error {
    crate::Error::InvalidArgument {
        what: "waiting on an op whose output was already taken".into(),
        why: "an op's output is handed out once: by wait, try_take or its future".into(),
    }
}

impl<T: OwnedOp, S: Sharing> Future for Op<T, S> {
    type Output = T::Output;

    // Inlined into the awaiting future: the hot path of every async op
    // (measured: out of line, 60 more instructions per async read).
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = &mut *self;
        if this.op.is_none() {
            // Polled after completion: the output was handed out already.
            return Poll::Pending;
        }
        let mut st = this.shared.lock();
        // Done: the slot is freed without drop glue (a `Ready` entry owns
        // nothing), the hot path of every awaited op.
        if let Some((res, flags)) = st.slab.take_ready(this.key) {
            drop(st);
            return match this.op.take() {
                Some(op) => Poll::Ready(op.complete(res, flags)),
                None => Poll::Pending,
            };
        }
        match st.slab.get_mut(this.key) {
            Some(Entry::Waiting { waker, .. }) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            _ => Poll::Pending,
        }
    }
}

// The op's memory is on the heap (the `OwnedOp` contract), so the handle
// does not need to stay put.
impl<T: OwnedOp, S: Sharing> Unpin for Op<T, S> {}

impl<T: OwnedOp, S: Sharing> Drop for Op<T, S> {
    fn drop(&mut self) {
        let Some(op) = self.op.take() else { return };
        let mut st = self.shared.lock();
        match st.slab.get_mut(self.key) {
            Some(Entry::Ready { res, flags }) => {
                let (res, flags) = (*res, *flags);
                st.slab.remove(self.key);
                drop(st);
                // Dropping the output closes a descriptor the op produced.
                drop(op.complete(res, flags));
            }
            Some(entry @ Entry::Waiting { .. }) => {
                let first = match entry {
                    Entry::Waiting { first, .. } => first.take(),
                    _ => None,
                };
                *entry = Entry::Orphaned(Box::new(OrphanOp { op: Some(op), first }));
                State::push_cancel(&mut st, self.key.user_data());
                let waker = State::wake_driver(&mut st);
                drop(st);
                if let Some(w) = waker {
                    w.wake();
                }
            }
            // Not the handle's slot any more: impossible, but if it were,
            // the kernel might still have the op: never free it.
            _ => std::mem::forget(op),
        }
    }
}

impl<T: OwnedOp, S: Sharing> fmt::Debug for Op<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Op").field("user_data", &self.key.user_data()).finish_non_exhaustive()
    }
}

/// A multishot op in flight, from
/// [`Driver::submit_stream`](super::Driver::submit_stream): one item per
/// CQE, in order, until the op's final CQE.
///
/// Dropping it is safe at any point, as for [`Op`]: items that arrived and
/// were not taken are dropped (their ring buffers go back, their
/// descriptors are closed), the op is cancelled, and the driver keeps it
/// until its final CQE.
#[must_use = "dropping a Stream cancels it"]
pub struct Stream<T: OwnedStream, S: Sharing = Threads> {
    shared: SharedPtr<S>,
    key: Key,
    op: Option<T>,
    finished: bool,
}

impl<T: OwnedStream, S: Sharing> Stream<T, S> {
    pub(crate) fn new(shared: SharedPtr<S>, key: Key, op: T) -> Stream<T, S> {
        Stream { shared, key, op: Some(op), finished: false }
    }

    /// Ask the kernel to stop the op; items that arrived before it stopped
    /// still come out, then the stream ends.
    pub fn cancel(&self) {
        if self.finished {
            return;
        }
        let mut st = self.shared.lock();
        if let Some(Entry::Streaming { finished: false, .. }) = st.slab.get_mut(self.key) {
            State::push_cancel(&mut st, self.key.user_data());
            let waker = State::wake_driver(&mut st);
            drop(st);
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    /// The next item, blocking until it arrives; `None` after the op's final
    /// CQE.
    pub fn wait_next(&mut self) -> Result<Option<T::Item>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            let shared = self.shared.clone();
            let mut st = shared.lock();
            if let Some((res, flags)) = pop(&mut st, self.key, &mut self.finished) {
                drop(st);
                return Ok(self.op.as_mut().map(|op| op.item(res, flags)));
            }
            if self.finished {
                return Ok(None);
            }
            State::submit_and_dispatch(&mut st)?;
            let arrived =
                matches!(st.slab.get_mut(self.key), Some(Entry::Streaming { queue, .. }) if !queue.is_empty());
            shared.unlock_and_bury(st);
            if !arrived {
                shared.block(WAIT_SLICE)?;
            }
        }
    }

    /// The next item if one has arrived (`Ok(None)`: the stream ended);
    /// `Err(())` if none is there yet. Does not enter the kernel.
    #[allow(clippy::result_unit_err)]
    pub fn try_next(&mut self) -> std::result::Result<Option<T::Item>, ()> {
        if self.finished {
            return Ok(None);
        }
        let mut st = self.shared.lock();
        match pop(&mut st, self.key, &mut self.finished) {
            Some((res, flags)) => {
                drop(st);
                Ok(self.op.as_mut().map(|op| op.item(res, flags)))
            }
            None if self.finished => Ok(None),
            None => Err(()),
        }
    }

    /// Poll for the next item (`Ready(None)` after the final CQE).
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        let mut st = self.shared.lock();
        if let Some((res, flags)) = pop(&mut st, self.key, &mut self.finished) {
            drop(st);
            return Poll::Ready(self.op.as_mut().map(|op| op.item(res, flags)));
        }
        if self.finished {
            return Poll::Ready(None);
        }
        if let Some(Entry::Streaming { waker, .. }) = st.slab.get_mut(self.key) {
            match waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *waker = Some(cx.waker().clone()),
            }
        }
        Poll::Pending
    }

    /// The next item, as a future (`None` after the final CQE). (Not an
    /// iterator's `next`: it returns a future.)
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Next<'_, T, S> {
        Next { stream: self }
    }

    /// The op back, once the stream has ended.
    pub fn into_inner(mut self) -> Option<T> {
        if self.finished {
            self.op.take()
        } else {
            None
        }
    }
}

/// The oldest CQE that arrived for the stream `key`; frees the slot (and
/// sets `finished`) after the final one.
fn pop(st: &mut State, key: Key, finished: &mut bool) -> Option<(i32, u32)> {
    let Some(Entry::Streaming { queue, finished: last_arrived, .. }) = st.slab.get_mut(key) else {
        *finished = true;
        return None;
    };
    let cqe = queue.pop_front();
    if queue.is_empty() && *last_arrived {
        st.slab.remove(key);
        *finished = true;
    }
    cqe
}

impl<T: OwnedStream, S: Sharing> Drop for Stream<T, S> {
    fn drop(&mut self) {
        let Some(mut op) = self.op.take() else { return };
        if self.finished {
            return;
        }
        let mut st = self.shared.lock();
        let Some(entry) = st.slab.get_mut(self.key) else {
            std::mem::forget(op);
            return;
        };
        let Entry::Streaming { queue, finished, .. } = entry else {
            std::mem::forget(op);
            return;
        };
        let pending = std::mem::take(queue);
        let done = *finished;
        if done {
            st.slab.remove(self.key);
            drop(st);
            for (res, flags) in pending {
                drop(op.item(res, flags));
            }
            return;
        }
        for (res, flags) in pending {
            drop(op.item(res, flags));
        }
        *entry = Entry::Orphaned(Box::new(OrphanStream(op)));
        State::push_cancel(&mut st, self.key.user_data());
        let waker = State::wake_driver(&mut st);
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T: OwnedStream, S: Sharing> fmt::Debug for Stream<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("user_data", &self.key.user_data())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// The future of [`Stream::next`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Next<'a, T: OwnedStream, S: Sharing = Threads> {
    stream: &'a mut Stream<T, S>,
}

impl<T: OwnedStream, S: Sharing> Future for Next<'_, T, S> {
    type Output = Option<T::Item>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T::Item>> {
        self.stream.poll_next(cx)
    }
}
