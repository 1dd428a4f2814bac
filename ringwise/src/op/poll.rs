//! Readiness: `POLL_ADD` (one-shot, multishot, level-triggered), poll
//! update and remove, `EPOLL_CTL` and `EPOLL_WAIT`.

use super::{base, base_on, common_setters, opcode, Common, PrepareSqe, SafeOp, Target};
use crate::entry::Sqe;
use linux_raw_sys::general as g;
use linux_raw_sys::io_uring as k;

/// `struct epoll_event` (packed on x86_64, as the kernel has it).
pub type EpollEvent = g::epoll_event;

bitflags::bitflags! {
    /// `POLL*` event bits.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PollEvents: u32 {
        const IN = g::POLLIN;
        const PRI = g::POLLPRI;
        const OUT = g::POLLOUT;
        const ERR = g::POLLERR;
        const HUP = g::POLLHUP;
        const NVAL = g::POLLNVAL;
        const RDNORM = g::POLLRDNORM;
        const RDBAND = g::POLLRDBAND;
        const WRNORM = g::POLLWRNORM;
        const WRBAND = g::POLLWRBAND;
        const MSG = g::POLLMSG;
        const RDHUP = g::POLLRDHUP;
        // Bits the kernel reports that are not named here stay visible.
        const _ = !0;
    }
}

/// `IORING_OP_POLL_ADD`: complete when `target` is ready for `events`; `res`
/// is the ready mask.
#[derive(Debug, Clone, Copy)]
pub struct PollAdd {
    common: Common,
    target: Target,
    events: PollEvents,
    mode: u32,
}

impl PollAdd {
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

/// `IORING_OP_POLL_REMOVE`: cancel the poll whose `user_data` is given; the
/// removed poll completes with `-ECANCELED`.
#[derive(Debug, Clone, Copy)]
pub struct PollRemove {
    common: Common,
    target_user_data: u64,
}

impl PollRemove {
    #[inline]
    pub fn new(target_user_data: u64) -> PollRemove {
        PollRemove { common: Common::default(), target_user_data }
    }
}

/// `IORING_OP_POLL_REMOVE` in update mode (Linux 5.13): change the events
/// and/or the `user_data` of an armed poll in place.
#[derive(Debug, Clone, Copy)]
pub struct PollUpdate {
    common: Common,
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

/// `IORING_OP_EPOLL_CTL`: `epoll_ctl(2)`. `op` is `EPOLL_CTL_ADD`/`MOD`/`DEL`;
/// `event` is read at submit (null for `DEL`).
#[derive(Debug, Clone, Copy)]
pub struct EpollCtl {
    common: Common,
    epfd: Target,
    fd: i32,
    op: u32,
    event: *const EpollEvent,
}

impl EpollCtl {
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
    common: Common,
    epfd: Target,
    events: *mut EpollEvent,
    max: u32,
}

impl EpollWait {
    #[inline]
    pub fn new(epfd: impl Into<Target>, events: *mut EpollEvent, max: u32) -> EpollWait {
        EpollWait { common: Common::default(), epfd: epfd.into(), events, max }
    }
}

common_setters!(PollAdd, PollRemove, PollUpdate, EpollCtl, EpollWait);

impl PrepareSqe for PollAdd {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            op_flags: self.events.bits(),
            len: self.mode,
            ..base_on(&self.common, opcode::POLL_ADD, self.target)
        };
    }
}

impl PrepareSqe for PollRemove {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.target_user_data, ..base(&self.common, opcode::POLL_REMOVE, -1) };
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
            ..base(&self.common, opcode::POLL_REMOVE, -1)
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
            ..base_on(&self.common, opcode::EPOLL_CTL, self.epfd)
        };
    }
}

impl PrepareSqe for EpollWait {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.events as u64, len: self.max, ..base_on(&self.common, opcode::EPOLL_WAIT, self.epfd) };
    }
}

impl SafeOp for PollAdd {}
impl SafeOp for PollRemove {}
impl SafeOp for PollUpdate {}
