//! Timeouts: `TIMEOUT` (relative, absolute, counting, multishot,
//! ETIME-as-success), timeout update and remove, `LINK_TIMEOUT` and its
//! update. The kernel reads the [`Timespec`] when the SQE is submitted, so
//! these ops are pushed with `push_unchecked`; keep the timespec alive until
//! `submit` returns (until the CQE is the simple rule).
//!
//! A 10 ms timeout, and a read on an empty pipe that a linked timeout
//! cancels:
//!
//! ```
//! use ringwise::op::{LinkTimeout, Read, Target, Timeout, Timespec};
//! use std::os::fd::AsFd;
//! use ringwise::{Errno, Ring, SqeFlags};
//! use std::time::Duration;
//!
//! let mut ring = Ring::new(8)?;
//! let ts = Timespec::from(Duration::from_millis(10));
//! // SAFETY: `ts` outlives the submit below (the kernel copies it then).
//! unsafe { ring.submission().push_unchecked(Timeout::new(&ts).user_data(1)) }.unwrap();
//! ring.submit_and_wait(1)?;
//! assert_eq!(ring.completion().next().unwrap().result(), Err(Errno::TIME));
//!
//! let (reader, _writer) = std::io::pipe()?;
//! // SAFETY: `reader` stays open until the end of the example, after the
//! // read's CQE is reaped.
//! let reader_fd = unsafe { Target::from_fd(reader.as_fd()) };
//! let mut buf = [0u8; 16];
//! // SAFETY: `buf` and `ts` stay valid and unmoved until both CQEs are reaped.
//! unsafe {
//!     let mut sq = ring.submission();
//!     sq.push_unchecked(Read::new(reader_fd, buf.as_mut_ptr(), 16).flags(SqeFlags::IO_LINK).user_data(2)).unwrap();
//!     sq.push_unchecked(LinkTimeout::new(&ts).user_data(3)).unwrap();
//! }
//! ring.submit_and_wait(2)?;
//! let mut res: Vec<_> = ring.completions()?.map(|c| (c.user_data, c.result())).collect();
//! res.sort_by_key(|r| r.0);
//! assert_eq!(res, [(2, Err(Errno::CANCELED)), (3, Err(Errno::TIME))]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{base, Common, PrepareSqe, SafeOp};
use crate::entry::Sqe;
use linux_raw_sys::io_uring as k;
use std::time::Duration;

/// `struct __kernel_timespec`: seconds and nanoseconds, relative or absolute
/// depending on the op's flags.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timespec {
    /// Whole seconds.
    pub tv_sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub tv_nsec: i64,
}

impl From<Duration> for Timespec {
    fn from(d: Duration) -> Timespec {
        Timespec { tv_sec: d.as_secs().min(i64::MAX as u64) as i64, tv_nsec: d.subsec_nanos() as i64 }
    }
}

bitflags::bitflags! {
    /// `IORING_TIMEOUT_*`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct TimeoutFlags: u32 {
        /// The timespec is an absolute time on the clock.
        const ABS = k::IORING_TIMEOUT_ABS;
        /// `CLOCK_BOOTTIME` instead of `CLOCK_MONOTONIC`.
        const BOOTTIME = k::IORING_TIMEOUT_BOOTTIME;
        /// `CLOCK_REALTIME` instead of `CLOCK_MONOTONIC`.
        const REALTIME = k::IORING_TIMEOUT_REALTIME;
        /// Complete with `res` 0 instead of `-ETIME` on expiry, so a linked
        /// chain continues (Linux 5.16).
        const ETIME_SUCCESS = k::IORING_TIMEOUT_ETIME_SUCCESS;
        /// Fire repeatedly (Linux 6.4); `count` expiries, 0 = until removed.
        const MULTISHOT = k::IORING_TIMEOUT_MULTISHOT;
    }
}

/// `IORING_OP_TIMEOUT` (Linux 5.4): complete after `ts` (res `-ETIME`), or
/// earlier (res 0) once [`count`](Self::count) other CQEs have been posted;
/// a kernel-side timer, as `timerfd` plus a read would be.
#[derive(Debug, Clone, Copy)]
pub struct Timeout {
    pub(crate) common: Common,
    ts: *const Timespec,
    count: u32,
    flags: TimeoutFlags,
}

impl Timeout {
    /// Expire after the relative time `*ts` on `CLOCK_MONOTONIC` (flags
    /// change the clock or make it absolute). `ts` is read at submit: keep
    /// it valid until `submit` returns.
    #[inline]
    pub fn new(ts: *const Timespec) -> Timeout {
        Timeout { common: Common::default(), ts, count: 0, flags: TimeoutFlags::empty() }
    }
    /// Also complete once `count` CQEs have been posted (0: only on time).
    #[inline]
    pub fn count(mut self, count: u32) -> Timeout {
        self.count = count;
        self
    }
    /// `IORING_TIMEOUT_*` flags (absolute time, clock, ETIME success).
    #[inline]
    pub fn timeout_flags(mut self, flags: TimeoutFlags) -> Timeout {
        self.flags |= flags;
        self
    }
    /// Fire every `ts`, `times` times (0 = until removed); each CQE but the
    /// last has [`more`](crate::Cqe::more) set (`IORING_TIMEOUT_MULTISHOT`).
    #[inline]
    pub fn multishot(mut self, times: u32) -> Timeout {
        self.flags |= TimeoutFlags::MULTISHOT;
        self.count = times;
        self
    }
}

/// `IORING_OP_TIMEOUT_REMOVE` (Linux 5.5): cancel the timeout with
/// `user_data`; it completes with `-ECANCELED`, this op with 0 (or `-ENOENT`,
/// `-EALREADY`). Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct TimeoutRemove {
    pub(crate) common: Common,
    target_user_data: u64,
}

impl TimeoutRemove {
    /// Remove the timeout submitted with `user_data` `target_user_data`.
    #[inline]
    pub fn new(target_user_data: u64) -> TimeoutRemove {
        TimeoutRemove { common: Common::default(), target_user_data }
    }
}

/// `IORING_OP_TIMEOUT_REMOVE` with `IORING_TIMEOUT_UPDATE` (Linux 5.11):
/// re-arm the timeout with `user_data` to `ts`.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutUpdate {
    pub(crate) common: Common,
    target_user_data: u64,
    ts: *const Timespec,
    flags: TimeoutFlags,
}

impl TimeoutUpdate {
    /// Re-arm the timeout submitted with `user_data` `target_user_data` to
    /// expire after `*ts` (read at submit: keep it valid until `submit`
    /// returns). `res` is 0, or `-ENOENT` when no such timeout is armed.
    #[inline]
    pub fn new(target_user_data: u64, ts: *const Timespec) -> TimeoutUpdate {
        TimeoutUpdate { common: Common::default(), target_user_data, ts, flags: TimeoutFlags::empty() }
    }
    /// `ABS` and clock flags for the new time.
    #[inline]
    pub fn timeout_flags(mut self, flags: TimeoutFlags) -> TimeoutUpdate {
        self.flags |= flags;
        self
    }
}

/// `IORING_OP_LINK_TIMEOUT` (Linux 5.5): push it right after an op flagged
/// `IO_LINK`; if the op has not completed by `ts` it is cancelled
/// (`-ECANCELED`) and this completes with `-ETIME`, else this completes with
/// `-ECANCELED`.
#[derive(Debug, Clone, Copy)]
pub struct LinkTimeout {
    pub(crate) common: Common,
    ts: *const Timespec,
    flags: TimeoutFlags,
}

impl LinkTimeout {
    /// Bound the op linked before it to the relative time `*ts` (read at
    /// submit: keep it valid until `submit` returns).
    #[inline]
    pub fn new(ts: *const Timespec) -> LinkTimeout {
        LinkTimeout { common: Common::default(), ts, flags: TimeoutFlags::empty() }
    }
    /// `ABS` and clock flags.
    #[inline]
    pub fn timeout_flags(mut self, flags: TimeoutFlags) -> LinkTimeout {
        self.flags |= flags;
        self
    }
}

/// `IORING_OP_TIMEOUT_REMOVE` with `IORING_LINK_TIMEOUT_UPDATE` (Linux
/// 5.15): re-arm the link timeout with `user_data`.
#[derive(Debug, Clone, Copy)]
pub struct LinkTimeoutUpdate {
    pub(crate) common: Common,
    target_user_data: u64,
    ts: *const Timespec,
    flags: TimeoutFlags,
}

impl LinkTimeoutUpdate {
    /// Re-arm the link timeout submitted with `user_data`
    /// `target_user_data` to `*ts` (read at submit: keep it valid until
    /// `submit` returns).
    #[inline]
    pub fn new(target_user_data: u64, ts: *const Timespec) -> LinkTimeoutUpdate {
        LinkTimeoutUpdate { common: Common::default(), target_user_data, ts, flags: TimeoutFlags::empty() }
    }
    /// `ABS` and clock flags for the new time.
    #[inline]
    pub fn timeout_flags(mut self, flags: TimeoutFlags) -> LinkTimeoutUpdate {
        self.flags |= flags;
        self
    }
}

impl PrepareSqe for Timeout {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.ts as u64,
            len: 1,
            off: self.count as u64,
            op_flags: self.flags.bits(),
            ..base(&self.common, Self::CODE, -1)
        };
    }
}

impl PrepareSqe for TimeoutRemove {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.target_user_data, ..base(&self.common, Self::CODE, -1) };
    }
}

impl PrepareSqe for TimeoutUpdate {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.target_user_data,
            off: self.ts as u64,
            op_flags: self.flags.bits() | k::IORING_TIMEOUT_UPDATE,
            ..base(&self.common, Self::CODE, -1)
        };
    }
}

impl PrepareSqe for LinkTimeout {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.ts as u64, len: 1, op_flags: self.flags.bits(), ..base(&self.common, Self::CODE, -1) };
    }
}

impl PrepareSqe for LinkTimeoutUpdate {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.target_user_data,
            off: self.ts as u64,
            // The kernel takes the update path only with TIMEOUT_UPDATE set;
            // LINK_TIMEOUT_UPDATE then picks the link-timeout list.
            op_flags: self.flags.bits() | k::IORING_TIMEOUT_UPDATE | k::IORING_LINK_TIMEOUT_UPDATE,
            ..base(&self.common, Self::CODE, -1)
        };
    }
}

impl SafeOp for TimeoutRemove {}
