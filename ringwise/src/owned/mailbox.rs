//! Mailboxes: receiving `MSG_RING` messages (Linux 5.18) from other rings.
//!
//! (The rules are on [`Mailbox`].)

use super::driver::{Shared, State, WAIT_SLICE};
use super::sharing::Threads;
use super::slab::{Entry, Key};
use super::Driver;
use crate::error::{Error, Result};
use crate::op::Target;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// The slot behind a mailbox and its addresses; freeing it (the last of
/// them dropped) frees the table slot.
struct Slot {
    shared: Arc<Shared<Threads>>,
    key: Key,
    /// The ring's fd, open while `shared` lives (a `Ring` closes its fd
    /// only when dropped).
    ring_fd: RawFd,
    /// The `Mailbox` is alive.
    open: AtomicBool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The entry (its queue and waker) is dropped outside the lock.
        let old = self.shared.lock().slab.remove(self.key);
        drop(old);
    }
}

/// A receiver of `MSG_RING` messages (Linux 5.18) on a [`Driver`]'s ring:
/// other rings send it `i32` values with [`ops::MsgRing`](super::ops::MsgRing)
/// to its [`address`](Self::address), and they come out in the order the
/// kernel posted them, through [`try_recv`](Self::try_recv),
/// [`wait_recv`](Self::wait_recv), [`poll_recv`](Self::poll_recv) or
/// `recv().await`. The section below says why a message can never reach
/// an op instead.
///
/// A mailbox is a slot of its driver's op table that no op uses (not
/// counted in flight): the kernel posts a CQE with the slot's `user_data`
/// for each message, and the driver queues those CQEs in the slot as it
/// reaps them, without bound (a receiver that stops receiving lets them
/// pile up). A [`MailboxAddr`] names it for senders.
///
/// A mailbox lives on a [`Threads`] driver (the default):
/// its addresses go to other threads, and the last one frees the table
/// slot, so they reach the driver's state from there.
///
/// ```
/// use ringwise::owned::{ops, Driver, Mailbox};
///
/// let receiver = Driver::new(8)?;
/// let mut mailbox = Mailbox::new(&receiver)?;
/// let addr = mailbox.address();
/// std::thread::spawn(move || {
///     let sender = Driver::new(8).unwrap();
///     for v in 1..=3 {
///         sender.submit(ops::MsgRing::new(&addr, v)).unwrap().wait().unwrap().unwrap();
///     }
/// });
/// for v in 1..=3 {
///     assert_eq!(mailbox.wait_recv()?, v);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Why a message can only reach a mailbox
///
/// A message's CQE carries whatever `user_data` the sender chose, and the
/// driver hands a CQE to the op whose key (slot index and generation) it
/// names. A CQE that reached an op still in flight would make its handle
/// return the op's buffer while the kernel may still write it. So the only
/// safe way to name a `user_data` on another ring is a [`MailboxAddr`], and
/// an address keeps its slot from being reused: the slot is freed only when
/// the `Mailbox`, every `MailboxAddr` clone and every [`MsgRing`] op (which
/// holds one until its own CQE) are gone. While any of them lives, the slot
/// stays a mailbox (after the `Mailbox` is dropped, a dead one whose
/// messages are discarded when the slot is freed; [`MsgRing`] refuses to
/// send to it).
///
/// A message can still arrive after its `MsgRing` op completed: a target
/// ring set up with `SINGLE_ISSUER` (or `DEFER_TASKRUN`) receives it
/// through task work that runs when the target's thread next enters the
/// kernel. By then the slot may have been freed and reused by an op; the
/// slot's generation moved on when it was freed, so the late CQE's key
/// names no live slot and the driver ignores it. (A collision would need
/// the slot's generation to wrap, 2^32 reuses, with an op in flight in it
/// at that generation, all before the target runs its task work, which
/// every blocking wait of the driver does.)
///
/// Raw access to a driver's ring (the core's `MsgRingData` aimed at
/// [`Driver`]'s fd) goes through `unsafe`
/// [`Target::fd`](crate::op::Target::fd), whose contract this reasoning
/// relies on.
///
/// [`MsgRing`]: super::ops::MsgRing
pub struct Mailbox {
    slot: Arc<Slot>,
}

/// Where to send messages for a [`Mailbox`]: `Clone` and `Send`, for other
/// threads' drivers. It keeps the mailbox's ring open (and its table slot
/// reserved) while it lives, so a message never goes to a closed or reused
/// ring fd.
#[derive(Clone)]
pub struct MailboxAddr {
    slot: Arc<Slot>,
}

impl Mailbox {
    /// A new mailbox on `driver`'s ring.
    pub fn new(driver: &Driver) -> Result<Mailbox> {
        let shared = driver.shared().clone();
        let mut st = shared.lock();
        let Some(ring_fd) = st.ring.fd().map(|fd| fd.as_raw_fd()) else {
            return Err(Error::InvalidArgument {
                what: "a mailbox on a ring without an fd".into(),
                why: "messages are sent to the ring's fd".into(),
            });
        };
        let key = st.slab.insert(Entry::Mailbox { queue: VecDeque::new(), waker: None });
        drop(st);
        Ok(Mailbox { slot: Arc::new(Slot { shared, key, ring_fd, open: AtomicBool::new(true) }) })
    }

    /// The address senders use.
    pub fn address(&self) -> MailboxAddr {
        MailboxAddr { slot: self.slot.clone() }
    }

    /// The oldest message the driver has reaped, or one already in the
    /// ring's CQ; `None` if there is none. Does not enter the kernel.
    pub fn try_recv(&mut self) -> Option<i32> {
        let shared = &self.slot.shared;
        let mut st = shared.lock();
        let mut value = pop(&mut st, self.slot.key);
        if value.is_none() && st.dispatch() > 0 {
            value = pop(&mut st, self.slot.key);
        }
        shared.unlock_and_bury(st);
        value
    }

    /// The next message, blocking until one arrives (submitting what is
    /// queued and moving completions of the driver's ops to their handles
    /// meanwhile, as [`Op::wait`](super::Op::wait) does; like it, it
    /// blocks in the kernel without holding the driver).
    ///
    /// An error if the ring cannot be entered, or if the driver was shut
    /// down and no message is queued.
    pub fn wait_recv(&mut self) -> Result<i32> {
        let shared = &self.slot.shared;
        loop {
            let mut st = shared.lock();
            if let Some(v) = pop(&mut st, self.slot.key) {
                return Ok(v);
            }
            if st.dispatch() > 0 {
                shared.unlock_and_bury(st);
                continue;
            }
            if st.closed {
                return Err(Error::RingUnusable {
                    why: "its owned-I/O driver was shut down (the last Driver was dropped)".into(),
                });
            }
            State::submit_and_dispatch(&mut st)?;
            let arrived = has_message(&mut st, self.slot.key);
            shared.unlock_and_bury(st);
            if !arrived {
                shared.block(WAIT_SLICE)?;
            }
        }
    }

    /// Poll for the next message; the waker is woken when the driver reaps
    /// one (someone must drive the driver, as for any op future).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<i32> {
        let mut st = self.slot.shared.lock();
        match st.slab.get_mut(self.slot.key) {
            Some(Entry::Mailbox { queue, waker }) => match queue.pop_front() {
                Some((res, _)) => Poll::Ready(res),
                None => {
                    match waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => *waker = Some(cx.waker().clone()),
                    }
                    Poll::Pending
                }
            },
            _ => Poll::Pending,
        }
    }

    /// The next message, as a future.
    pub fn recv(&mut self) -> MailboxRecv<'_> {
        MailboxRecv { mailbox: self }
    }
}

/// The oldest message queued in the mailbox `key`.
fn pop(st: &mut State, key: Key) -> Option<i32> {
    match st.slab.get_mut(key) {
        Some(Entry::Mailbox { queue, .. }) => queue.pop_front().map(|(res, _)| res),
        _ => None,
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        self.slot.open.store(false, Ordering::Release);
        // Messages queued now or later are nobody's: let them go now (the
        // slot itself goes with the last address).
        let mut st = self.slot.shared.lock();
        let taken = match st.slab.get_mut(self.slot.key) {
            Some(Entry::Mailbox { queue, waker }) => Some((std::mem::take(queue), waker.take())),
            _ => None,
        };
        drop(st);
        drop(taken);
    }
}

impl MailboxAddr {
    /// Whether the mailbox still exists (it may be dropped right after).
    pub fn is_open(&self) -> bool {
        self.slot.open.load(Ordering::Acquire)
    }

    /// The target ring, for a `MSG_RING` SQE.
    pub(crate) fn target(&self) -> Target {
        // SAFETY: `self.slot.shared` keeps the mailbox's ring, and with it
        // its fd, open while this address lives; an op using this target
        // holds the address until its CQE.
        unsafe { Target::fd(self.slot.ring_fd) }
    }

    /// The `user_data` of the mailbox's messages.
    pub(crate) fn user_data(&self) -> u64 {
        self.slot.key.user_data()
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("ring_fd", &self.slot.ring_fd)
            .field("user_data", &self.slot.key.user_data())
            .finish()
    }
}

impl fmt::Debug for MailboxAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailboxAddr")
            .field("ring_fd", &self.slot.ring_fd)
            .field("user_data", &self.slot.key.user_data())
            .field("open", &self.is_open())
            .finish()
    }
}

/// The future of [`Mailbox::recv`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct MailboxRecv<'a> {
    mailbox: &'a mut Mailbox,
}

impl Future for MailboxRecv<'_> {
    type Output = i32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<i32> {
        self.mailbox.poll_recv(cx)
    }
}

/// Whether the mailbox `key` has a message queued.
fn has_message(st: &mut State, key: Key) -> bool {
    matches!(st.slab.get_mut(key), Some(Entry::Mailbox { queue, .. }) if !queue.is_empty())
}
