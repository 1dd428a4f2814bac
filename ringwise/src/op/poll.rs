//! Readiness: `POLL_ADD` (one-shot, multishot, level-triggered), poll
//! update and remove, `EPOLL_CTL` and `EPOLL_WAIT`.
//!
//! A multishot poll on a pipe, fired by a write and then removed:
//!
//! ```
//! use ringwise::op::{PollAdd, PollEvents, PollRemove, Target};
//! use std::os::fd::AsFd;
//! use ringwise::{Errno, Ring};
//! use std::io::Write;
//!
//! let (reader, mut writer) = std::io::pipe()?;
//! let mut ring = Ring::new(8)?;
//! // SAFETY: `reader` stays open until the end of the example, after the
//! // poll's last CQE is reaped.
//! let reader_fd = unsafe { Target::from_fd(reader.as_fd()) };
//! ring.submission().push(PollAdd::new(reader_fd, PollEvents::IN).multishot().user_data(1)).unwrap();
//! ring.submit()?;
//! writer.write_all(b"x")?;
//! ring.submit_and_wait(1)?;
//! let cqe = ring.completion().next().unwrap();
//! assert!(PollEvents::from_bits_retain(cqe.res as u32).contains(PollEvents::IN) && cqe.more());
//!
//! ring.submission().push(PollRemove::new(1).user_data(2)).unwrap();
//! ring.submit_and_wait(2)?;
//! let mut res: Vec<_> = ring.completions()?.map(|c| (c.user_data, c.result())).collect();
//! res.sort_by_key(|r| r.0);
//! assert_eq!(res, [(1, Err(Errno::CANCELED)), (2, Ok(0))]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{base, Common, PrepareSqe, SafeOp, Target};
use crate::entry::Sqe;
use linux_raw_sys::general as g;
use linux_raw_sys::io_uring as k;

/// `struct epoll_event` (packed on x86_64, as the kernel has it).
pub type EpollEvent = g::epoll_event;

bitflags::bitflags! {
    /// `POLL*` event bits.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PollEvents: u32 {
        /// Data to read.
        const IN = g::POLLIN;
        /// Urgent data (TCP out-of-band, ...).
        const PRI = g::POLLPRI;
        /// Writing will not block.
        const OUT = g::POLLOUT;
        /// An error condition (always reported).
        const ERR = g::POLLERR;
        /// Hang-up (always reported).
        const HUP = g::POLLHUP;
        /// The fd is not open.
        const NVAL = g::POLLNVAL;
        /// Normal data to read.
        const RDNORM = g::POLLRDNORM;
        /// Priority-band data to read.
        const RDBAND = g::POLLRDBAND;
        /// Normal data can be written.
        const WRNORM = g::POLLWRNORM;
        /// Priority-band data can be written.
        const WRBAND = g::POLLWRBAND;
        /// Unused by Linux.
        const MSG = g::POLLMSG;
        /// The peer closed its writing side (stream sockets).
        const RDHUP = g::POLLRDHUP;
        // Bits the kernel reports that are not named here stay visible.
        const _ = !0;
    }
}

/// `IORING_OP_POLL_ADD` (Linux 5.1): like one `poll(2)` on one file:
/// complete when `target` is ready for `events`; `res` is the ready mask.
/// Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct PollAdd {
    pub(crate) common: Common,
    target: Target,
    events: PollEvents,
    mode: u32,
}

impl PollAdd {
    /// Wait until `target` reports one of `events` (`POLLIN`, `POLLOUT`,
    /// ...); edge-triggered and one-shot unless [`multishot`](Self::multishot).
    #[inline]
    pub fn new(target: impl Into<Target>, events: PollEvents) -> PollAdd {
        PollAdd { common: Common::default(), target: target.into(), events, mode: 0 }
    }
    /// Stay armed: one CQE per readiness change, with
    /// [`more`](crate::Cqe::more) set while armed (`IORING_POLL_ADD_MULTI`, 5.13).
    #[inline]
    pub fn multishot(mut self) -> PollAdd {
        self.mode |= k::IORING_POLL_ADD_MULTI;
        self
    }
    /// Level-triggered instead of edge-triggered (`IORING_POLL_ADD_LEVEL`).
    /// The flag is in the UAPI, but Linux 6.18's `POLL_ADD` refuses it
    /// with `-EINVAL` (it only accepts `IORING_POLL_ADD_MULTI` in `len`);
    /// kept so a kernel that accepts it can be asked.
    #[inline]
    pub fn level(mut self) -> PollAdd {
        self.mode |= k::IORING_POLL_ADD_LEVEL;
        self
    }
}

/// `IORING_OP_POLL_REMOVE` (Linux 5.1): cancel the poll whose `user_data` is
/// given; the removed poll completes with `-ECANCELED`, this op with 0 (or
/// `-ENOENT` when no such poll is armed).
#[derive(Debug, Clone, Copy)]
pub struct PollRemove {
    pub(crate) common: Common,
    target_user_data: u64,
}

impl PollRemove {
    /// Remove the poll that was submitted with `user_data` `target_user_data`.
    #[inline]
    pub fn new(target_user_data: u64) -> PollRemove {
        PollRemove { common: Common::default(), target_user_data }
    }
}

/// `IORING_OP_POLL_REMOVE` in update mode (Linux 5.13): change the events
/// and/or the `user_data` of an armed poll in place.
#[derive(Debug, Clone, Copy)]
pub struct PollUpdate {
    pub(crate) common: Common,
    old_user_data: u64,
    new_user_data: u64,
    events: PollEvents,
    flags: u32,
}

impl PollUpdate {
    /// Update the poll armed with `old_user_data`; say what with the methods.
    #[inline]
    pub fn new(old_user_data: u64) -> PollUpdate {
        PollUpdate { common: Common::default(), old_user_data, new_user_data: 0, events: PollEvents::empty(), flags: 0 }
    }
    /// Replace the events polled for.
    #[inline]
    pub fn events(mut self, events: PollEvents) -> PollUpdate {
        self.events = events;
        self.flags |= k::IORING_POLL_UPDATE_EVENTS;
        self
    }
    /// Give the poll a new `user_data`.
    #[inline]
    pub fn new_user_data(mut self, user_data: u64) -> PollUpdate {
        self.new_user_data = user_data;
        self.flags |= k::IORING_POLL_UPDATE_USER_DATA;
        self
    }
    /// Make the poll multishot.
    #[inline]
    pub fn multishot(mut self) -> PollUpdate {
        self.flags |= k::IORING_POLL_ADD_MULTI;
        self
    }
}

/// `IORING_OP_EPOLL_CTL` (Linux 5.6): `epoll_ctl(2)`; `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct EpollCtl {
    pub(crate) common: Common,
    epfd: Target,
    fd: i32,
    op: u32,
    event: *const EpollEvent,
}

impl EpollCtl {
    /// Add, change or remove (`op`: `EPOLL_CTL_ADD`/`MOD`/`DEL`) the
    /// interest of epoll instance `epfd` in `fd`. `event` (null for `DEL`)
    /// is read when the op runs: keep it valid until the CQE is reaped.
    #[inline]
    pub fn new(epfd: impl Into<Target>, fd: i32, op: u32, event: *const EpollEvent) -> EpollCtl {
        EpollCtl { common: Common::default(), epfd: epfd.into(), fd, op, event }
    }
}

/// `IORING_OP_EPOLL_WAIT` (Linux 6.15): `epoll_wait(2)` without a timeout
/// (it waits until an event; cancel or link a timeout to bound it); `res` is
/// the number of events written to `events`.
#[derive(Debug, Clone, Copy)]
pub struct EpollWait {
    pub(crate) common: Common,
    epfd: Target,
    events: *mut EpollEvent,
    max: u32,
}

impl EpollWait {
    /// Wait on epoll instance `epfd` and write up to `max` ready events to
    /// `events`, which must be valid for `max` entries of writes and stay
    /// valid and unmoved until the CQE is reaped.
    #[inline]
    pub fn new(epfd: impl Into<Target>, events: *mut EpollEvent, max: u32) -> EpollWait {
        EpollWait { common: Common::default(), epfd: epfd.into(), events, max }
    }
}

impl PrepareSqe for PollAdd {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { op_flags: self.events.bits(), len: self.mode, ..base(&self.common, Self::CODE, self.target) };
    }
}

impl PrepareSqe for PollRemove {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.target_user_data, ..base(&self.common, Self::CODE, -1) };
    }
}

impl PrepareSqe for PollUpdate {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.old_user_data,
            off: self.new_user_data,
            len: self.flags,
            op_flags: self.events.bits(),
            ..base(&self.common, Self::CODE, -1)
        };
    }
}

impl PrepareSqe for EpollCtl {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.event as u64,
            len: self.op,
            off: self.fd as u32 as u64,
            ..base(&self.common, Self::CODE, self.epfd)
        };
    }
}

impl PrepareSqe for EpollWait {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.events as u64, len: self.max, ..base(&self.common, Self::CODE, self.epfd) };
    }
}

impl SafeOp for PollAdd {}
impl SafeOp for PollRemove {}
impl SafeOp for PollUpdate {}
