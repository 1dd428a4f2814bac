//! Cancelling every op on one file: `ASYNC_CANCEL` by fd with `ALL`
//! (Linux 5.19). (One op is cancelled through its handle:
//! [`Op::cancel`](crate::owned::Op::cancel).)

use super::count;
use crate::entry::{PrepareSqe, Sqe};
use crate::op;
use crate::owned::{Fd, OwnedOp};
use crate::Errno;

/// `IORING_OP_ASYNC_CANCEL` with `IORING_ASYNC_CANCEL_FD | ALL` (Linux
/// 5.19; `FD_FIXED` for a fixed slot): cancel every op of this driver's
/// ring that acts on `fd`. The output is how many were cancelled (0: none
/// was in flight). Each cancelled op's handle returns its output as after
/// [`Op::cancel`](crate::owned::Op::cancel): `ECANCELED` with its buffer,
/// or its real result if it finished first. Ops of other rings on the same
/// file are not touched. Kernels before 5.19 answer `EINVAL`.
///
/// ```
/// use ringwise::owned::{ops, Driver, SharedFd};
/// use ringwise::Errno;
///
/// let (_a, b) = std::os::unix::net::UnixStream::pair()?;
/// let b = SharedFd::from(b);
/// let driver = Driver::new(8)?;
/// let recv = driver.submit(ops::Recv::new(&b, Vec::with_capacity(16)))?;
/// driver.wait(0)?; // the recv reaches the kernel and waits
/// assert_eq!(driver.submit(ops::CancelFd::new(&b))?.wait()?, Ok(1));
/// let (res, _buf) = recv.wait()?;
/// assert_eq!(res, Err(Errno::CANCELED));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CancelFd {
    fd: Fd,
}

impl CancelFd {
    /// Cancel every op of the ring on `fd`.
    pub fn new(fd: impl Into<Fd>) -> CancelFd {
        CancelFd { fd: fd.into() }
    }
}

// SAFETY: the SQE carries no pointer; the fd it names is only a key to
// match ops by, kept open by `self.fd` anyway (or a fixed slot).
unsafe impl OwnedOp for CancelFd {
    type Output = Result<usize, Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::AsyncCancel::fd(self.fd.target()).all().prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        count(res)
    }
}
