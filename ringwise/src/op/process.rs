//! `IORING_OP_WAITID` (Linux 6.7): `waitid(2)` for child processes.
//!
//! Reaping a child that exits with status 3:
//!
//! ```
//! use ringwise::op::{IdType, SigInfo, WaitId, WaitOptions};
//! use ringwise::Ring;
//!
//! let child = std::process::Command::new("sh").args(["-c", "exit 3"]).spawn()?;
//! let mut ring = Ring::new(8)?;
//! // SAFETY: siginfo_t is plain data; all-zero is a valid value.
//! let mut info: SigInfo = unsafe { std::mem::zeroed() };
//! let op = WaitId::new(IdType::Pid(child.id() as i32), WaitOptions::EXITED, &mut info).user_data(1);
//! // SAFETY: `info` stays valid and unmoved until the CQE is reaped.
//! unsafe { ring.submission().push_unchecked(op) }.unwrap();
//! ring.submit_and_wait(1)?;
//! assert_eq!(ring.completion().next().unwrap().res, 0);
//! // SAFETY: the kernel filled the SIGCHLD member of the union.
//! let status = unsafe { info.__bindgen_anon_1.__bindgen_anon_1._sifields._sigchld._status };
//! assert_eq!(status, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{base, Common, PrepareSqe};
use crate::entry::Sqe;
use linux_raw_sys::general as g;

/// Which processes [`WaitId`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdType {
    /// Any child (the id is ignored).
    All,
    /// The child with this pid.
    Pid(i32),
    /// Any child in this process group.
    Pgid(i32),
    /// The child this pidfd refers to.
    PidFd(i32),
}

impl IdType {
    fn encode(self) -> (u32, i32) {
        match self {
            IdType::All => (g::P_ALL, 0),
            IdType::Pid(id) => (g::P_PID, id),
            IdType::Pgid(id) => (g::P_PGID, id),
            IdType::PidFd(fd) => (g::P_PIDFD, fd),
        }
    }
}

bitflags::bitflags! {
    /// `W*` options of `waitid`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct WaitOptions: u32 {
        /// Do not wait if no child changed state.
        const NOHANG = g::WNOHANG;
        /// Children stopped by a signal.
        const STOPPED = g::WSTOPPED;
        /// Children that exited.
        const EXITED = g::WEXITED;
        /// Stopped children resumed by `SIGCONT`.
        const CONTINUED = g::WCONTINUED;
        /// Leave the child waitable.
        const NOWAIT = g::WNOWAIT;
    }
}

/// `siginfo_t`, filled by [`WaitId`].
pub type SigInfo = g::siginfo_t;

/// `IORING_OP_WAITID` (Linux 6.7): `waitid(2)`: wait for a child state change
/// without blocking a thread; `res` is 0 (or `-ECHILD`, ...).
#[derive(Debug, Clone, Copy)]
pub struct WaitId {
    pub(crate) common: Common,
    which: IdType,
    options: WaitOptions,
    info: *mut SigInfo,
}

impl WaitId {
    /// Wait for `which` child(ren) to reach a state in `options` (`EXITED`,
    /// `STOPPED`, `CONTINUED`; `NOWAIT` leaves it waitable). The kernel
    /// fills `info` (may be null) when it happens: keep it valid and
    /// unmoved until the CQE is reaped.
    #[inline]
    pub fn new(which: IdType, options: WaitOptions, info: *mut SigInfo) -> WaitId {
        WaitId { common: Common::default(), which, options, info }
    }
}

impl PrepareSqe for WaitId {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let (idtype, id) = self.which.encode();
        *sqe = Sqe {
            len: idtype,
            off: self.info as u64,
            file_index: self.options.bits(),
            ..base(&self.common, Self::CODE, id)
        };
    }
}
