//! `IORING_OP_WAITID` (Linux 6.7): `waitid(2)` for child processes.

use super::{base, common_setters, opcode, Common, PrepareSqe};
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
        const NOHANG = g::WNOHANG;
        const STOPPED = g::WSTOPPED;
        const EXITED = g::WEXITED;
        const CONTINUED = g::WCONTINUED;
        /// Leave the child waitable.
        const NOWAIT = g::WNOWAIT;
    }
}

/// `siginfo_t`, filled by [`WaitId`].
pub type SigInfo = g::siginfo_t;

/// Wait for a child state change; the kernel fills `info` (may be null) when
/// it happens, and `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct WaitId {
    common: Common,
    which: IdType,
    options: WaitOptions,
    info: *mut SigInfo,
}

impl WaitId {
    #[inline]
    pub fn new(which: IdType, options: WaitOptions, info: *mut SigInfo) -> WaitId {
        WaitId { common: Common::default(), which, options, info }
    }
}

common_setters!(WaitId);

impl PrepareSqe for WaitId {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let (idtype, id) = self.which.encode();
        *sqe = Sqe {
            len: idtype,
            off: self.info as u64,
            file_index: self.options.bits(),
            ..base(&self.common, opcode::WAITID, id)
        };
    }
}
