//! Synchronous cancellation (`IORING_REGISTER_SYNC_CANCEL`, Linux 6.0):
//! cancel requests and wait until they are gone, in one call, instead of
//! submitting an `ASYNC_CANCEL` SQE and waiting for its CQE. The cancelled
//! requests still post their own CQEs (usually `-ECANCELED`).

use super::{opcode, timespec};
use crate::entry::{CqeSize, SqeSize};
use crate::error::Result;
use crate::op::Target;
use crate::Ring;
use linux_raw_sys::io_uring::__kernel_timespec;
use linux_raw_sys::io_uring::{
    io_uring_sync_cancel_reg, IORING_ASYNC_CANCEL_ALL, IORING_ASYNC_CANCEL_ANY, IORING_ASYNC_CANCEL_FD,
    IORING_ASYNC_CANCEL_FD_FIXED, IORING_ASYNC_CANCEL_OP, IORING_ASYNC_CANCEL_USERDATA,
};
use rustix::io::Errno;
use std::time::Duration;

/// Which requests to cancel. Criteria combine: a request must match all the
/// ones given. Without [`all`](Self::all) only the first match is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CancelSpec {
    user_data: Option<u64>,
    fd: Option<Target>,
    opcode: Option<u8>,
    any: bool,
    all: bool,
}

impl CancelSpec {
    /// Requests with this `user_data`.
    pub fn user_data(user_data: u64) -> CancelSpec {
        CancelSpec { user_data: Some(user_data), ..CancelSpec::default() }
    }
    /// Requests on this file (Linux 5.19).
    pub fn fd(target: impl Into<Target>) -> CancelSpec {
        CancelSpec { fd: Some(target.into()), ..CancelSpec::default() }
    }
    /// Any request (Linux 5.19); with [`all`](Self::all), every request.
    pub fn any() -> CancelSpec {
        CancelSpec { any: true, ..CancelSpec::default() }
    }
    /// Also require this `user_data` (Linux 6.6 when combined).
    pub fn and_user_data(mut self, user_data: u64) -> CancelSpec {
        self.user_data = Some(user_data);
        self
    }
    /// Also require this file.
    pub fn and_fd(mut self, target: impl Into<Target>) -> CancelSpec {
        self.fd = Some(target.into());
        self
    }
    /// Also require this opcode (Linux 6.6).
    pub fn and_opcode(mut self, opcode: u8) -> CancelSpec {
        self.opcode = Some(opcode);
        self
    }
    /// Cancel every match, not only the first (Linux 5.19).
    pub fn all(mut self) -> CancelSpec {
        self.all = true;
        self
    }

    fn reg(&self, timeout: Option<Duration>) -> io_uring_sync_cancel_reg {
        let mut flags = 0;
        let mut fd = 0;
        if let Some(target) = self.fd {
            flags |= IORING_ASYNC_CANCEL_FD;
            if let Some(i) = target.fixed_index() {
                fd = i as i32;
                flags |= IORING_ASYNC_CANCEL_FD_FIXED;
            } else if let Some(f) = target.raw_fd() {
                fd = f;
            }
        }
        if self.opcode.is_some() {
            flags |= IORING_ASYNC_CANCEL_OP;
        }
        if self.user_data.is_some() && flags != 0 {
            flags |= IORING_ASYNC_CANCEL_USERDATA;
        }
        if self.any {
            flags |= IORING_ASYNC_CANCEL_ANY;
        }
        if self.all {
            flags |= IORING_ASYNC_CANCEL_ALL;
        }
        let timeout = match timeout {
            Some(t) => timespec(t),
            None => __kernel_timespec { tv_sec: -1, tv_nsec: -1 },
        };
        io_uring_sync_cancel_reg {
            addr: self.user_data.unwrap_or(0),
            fd,
            flags,
            timeout,
            opcode: self.opcode.unwrap_or(0),
            pad: [0; 7],
            pad2: [0; 3],
        }
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Cancel the requests `spec` names and wait until they are gone, or
    /// until `timeout` (opcode 24, Linux 6.0). Returns what the kernel
    /// returns: 0, or with [`CancelSpec::all`] the number cancelled. ENOENT:
    /// nothing matched; ETIME: the timeout passed first.
    ///
    /// ```
    /// use ringwise::op::{PollAdd, PollEvents};
    /// use ringwise::register::CancelSpec;
    /// use ringwise::Ring;
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::time::Duration;
    ///
    /// let mut ring = Ring::new(4)?;
    /// let (a, _b) = UnixStream::pair()?;
    /// // A poll that nothing will satisfy.
    /// // SAFETY: `a` stays open until the end of the example, after the
    /// // cancelled poll's CQE is reaped.
    /// let a_fd = unsafe { ringwise::op::Target::fd(a.as_raw_fd()) };
    /// ring.submission().push(PollAdd::new(a_fd, PollEvents::IN).user_data(7)).unwrap();
    /// ring.submit()?;
    /// assert_eq!(ring.cancel_sync(&CancelSpec::user_data(7), Some(Duration::from_secs(1)))?, 0);
    /// // It is gone when the call returns; its CQE says ECANCELED.
    /// let cqe = ring.completion().next().unwrap();
    /// assert_eq!((cqe.user_data, cqe.res), (7, -125));
    /// let err = ring.cancel_sync(&CancelSpec::user_data(7), None).unwrap_err();
    /// assert_eq!(err.errno_name(), "ENOENT");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel_sync(&self, spec: &CancelSpec, timeout: Option<Duration>) -> Result<u32> {
        let mut reg = spec.reg(timeout);
        let context = |errno| cancel_context(errno, spec, timeout);
        // SAFETY: `reg` is valid for the call (the kernel reads it, and
        // writes nothing back that outlives it).
        unsafe {
            self.register(opcode::REGISTER_SYNC_CANCEL, (&mut reg as *mut io_uring_sync_cancel_reg).cast(), 1, context)
        }
    }
}

/// What an errno of a synchronous cancel means.
fn cancel_context(errno: Errno, spec: &CancelSpec, timeout: Option<Duration>) -> Option<String> {
    Some(match errno {
        Errno::NOENT => format!("no request matched {spec:?}"),
        Errno::TIME => format!("the requests were not gone within {timeout:?}"),
        Errno::ALREADY => "the request is already running and cannot be interrupted".into(),
        Errno::INVAL => "the combination of criteria is not supported by this kernel".into(),
        _ => return None,
    })
}
