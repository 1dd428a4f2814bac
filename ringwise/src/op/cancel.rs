//! `IORING_OP_ASYNC_CANCEL`: cancel in-flight requests by `user_data`, by
//! file (plain or fixed), by opcode, or any; one match or all of them.
//!
//! Cancelling a poll that waits on an empty pipe:
//!
//! ```
//! use ringwise::op::{AsyncCancel, PollAdd, PollEvents, Target};
//! use std::os::fd::AsFd;
//! use ringwise::{Errno, Ring};
//!
//! let (reader, _writer) = std::io::pipe()?;
//! let mut ring = Ring::new(8)?;
//! // SAFETY: `reader` stays open until the end of the example, after the
//! // cancelled poll's CQE is reaped.
//! let reader_fd = unsafe { Target::from_fd(reader.as_fd()) };
//! ring.submission().push(PollAdd::new(reader_fd, PollEvents::IN).user_data(1)).unwrap();
//! ring.submit()?;
//! ring.submission().push(AsyncCancel::user_data_of(1).user_data(2)).unwrap();
//! ring.submit_and_wait(2)?;
//! let mut res: Vec<_> = ring.completions()?.map(|c| (c.user_data, c.result())).collect();
//! res.sort_by_key(|r| r.0);
//! assert_eq!(res, [(1, Err(Errno::CANCELED)), (2, Ok(0))]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{base, Common, Kind, PrepareSqe, SafeOp, Target};
use crate::entry::Sqe;
use linux_raw_sys::io_uring as k;

/// `IORING_OP_ASYNC_CANCEL` (Linux 5.5): cancel requests in flight, as
/// `io_cancel(2)` does for AIO. The cancelled ones complete with
/// `-ECANCELED`; this op's
/// `res` is 0 (one cancelled), the count (with [`all`](Self::all)),
/// `-ENOENT` (nothing matched) or `-EALREADY` (found but already running).
/// Carries no pointer: a [`SafeOp`].
///
/// Matching keys combine: `AsyncCancel::fd(f).and_opcode(op)` cancels only
/// requests on `f` with that opcode.
#[derive(Debug, Clone, Copy)]
pub struct AsyncCancel {
    pub(crate) common: Common,
    user_data: u64,
    fd: i32,
    op: u8,
    flags: u32,
}

impl AsyncCancel {
    fn with(flags: u32) -> AsyncCancel {
        AsyncCancel { common: Common::default(), user_data: 0, fd: -1, op: 0, flags }
    }
    /// The request(s) submitted with `user_data`.
    #[inline]
    pub fn user_data_of(user_data: u64) -> AsyncCancel {
        AsyncCancel { user_data, ..AsyncCancel::with(0) }
    }
    /// Requests on `file` (`IORING_ASYNC_CANCEL_FD`, Linux 5.19; a fixed
    /// target adds `IORING_ASYNC_CANCEL_FD_FIXED`).
    #[inline]
    pub fn fd(file: impl Into<Target>) -> AsyncCancel {
        match file.into().kind() {
            Kind::Fd(fd) => AsyncCancel { fd, ..AsyncCancel::with(k::IORING_ASYNC_CANCEL_FD) },
            Kind::Fixed(i) => AsyncCancel {
                fd: i as i32,
                ..AsyncCancel::with(k::IORING_ASYNC_CANCEL_FD | k::IORING_ASYNC_CANCEL_FD_FIXED)
            },
        }
    }
    /// Requests with opcode `op` (`IORING_ASYNC_CANCEL_OP`, Linux 6.6).
    #[inline]
    pub fn opcode(op: u8) -> AsyncCancel {
        AsyncCancel { op, ..AsyncCancel::with(k::IORING_ASYNC_CANCEL_OP) }
    }
    /// Any request (`IORING_ASYNC_CANCEL_ANY`, Linux 5.19).
    #[inline]
    pub fn any() -> AsyncCancel {
        AsyncCancel::with(k::IORING_ASYNC_CANCEL_ANY)
    }
    /// Also require opcode `op`.
    #[inline]
    pub fn and_opcode(mut self, op: u8) -> AsyncCancel {
        self.op = op;
        self.flags |= k::IORING_ASYNC_CANCEL_OP;
        self
    }
    /// Also require `user_data` (`IORING_ASYNC_CANCEL_USERDATA`, Linux 6.6).
    #[inline]
    pub fn and_user_data(mut self, user_data: u64) -> AsyncCancel {
        self.user_data = user_data;
        self.flags |= k::IORING_ASYNC_CANCEL_USERDATA;
        self
    }
    /// Cancel every match, not just the first (`IORING_ASYNC_CANCEL_ALL`,
    /// Linux 5.19); `res` is how many.
    #[inline]
    pub fn all(mut self) -> AsyncCancel {
        self.flags |= k::IORING_ASYNC_CANCEL_ALL;
        self
    }
}

impl PrepareSqe for AsyncCancel {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.user_data,
            len: self.op as u32,
            op_flags: self.flags,
            ..base(&self.common, Self::CODE, self.fd)
        };
    }
}

impl SafeOp for AsyncCancel {}
