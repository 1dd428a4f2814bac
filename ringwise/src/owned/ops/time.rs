//! Timeouts: `TIMEOUT` (Linux 5.4).

use crate::entry::{PrepareSqe, Sqe};
use crate::op::{self, Timespec};
use crate::owned::OwnedOp;
use crate::Errno;
use std::time::Duration;

/// `IORING_OP_TIMEOUT` (Linux 5.4): completes after a duration. The output
/// is `Ok(())` when the time passed (the kernel's `-ETIME`), or the errno
/// (`ECANCELED` when cancelled).
#[derive(Debug)]
pub struct Timeout {
    ts: Box<Timespec>,
}

impl Timeout {
    /// Complete after `after`.
    pub fn after(after: Duration) -> Timeout {
        Timeout { ts: Box::new(Timespec::from(after)) }
    }
}

// SAFETY: the SQE points at the boxed timespec, which stays at its heap
// address while the op moves; no fd.
unsafe impl OwnedOp for Timeout {
    type Output = std::result::Result<(), Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::Timeout::new(&*self.ts).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        match res {
            0 => Ok(()),
            r if r == -Errno::TIME.raw_os_error() => Ok(()),
            r => Err(Errno::from_raw_os_error(-r)),
        }
    }
}
