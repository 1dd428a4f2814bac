//! Readiness: `POLL_ADD` one-shot (Linux 5.1) and multishot (Linux 5.13)
//! on an owned [`Fd`].

use crate::entry::{PrepareSqe, Sqe};
use crate::op::{self, PollEvents};
use crate::owned::{Fd, OwnedOp, OwnedStream};
use crate::Errno;

/// A poll CQE's `res`: the ready events, or the errno.
#[inline(always)]
fn events(res: i32) -> Result<PollEvents, Errno> {
    if res < 0 {
        Err(Errno::from_raw_os_error(-res))
    } else {
        Ok(PollEvents::from_bits_retain(res as u32))
    }
}

/// `IORING_OP_POLL_ADD` (Linux 5.1): like one `poll(2)` on one file:
/// completes when `fd` is ready for one of `events` ([`PollEvents::IN`],
/// [`PollEvents::OUT`], ...). The output is the events that are ready
/// (`ERR` and `HUP` are reported whether asked for or not), or the errno
/// (`ECANCELED` when cancelled).
///
/// ```
/// use ringwise::op::PollEvents;
/// use ringwise::owned::{ops, Driver, SharedFd};
/// use std::io::Write;
///
/// let (mut a, b) = std::os::unix::net::UnixStream::pair()?;
/// let b = SharedFd::from(b);
/// let driver = Driver::new(8)?;
/// let poll = driver.submit(ops::PollAdd::new(&b, PollEvents::IN))?;
/// a.write_all(b"x")?;
/// assert!(poll.wait()??.contains(PollEvents::IN));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PollAdd {
    fd: Fd,
    events: PollEvents,
}

impl PollAdd {
    /// Wait until `fd` reports one of `events`.
    pub fn new(fd: impl Into<Fd>, events: PollEvents) -> PollAdd {
        PollAdd { fd: fd.into(), events }
    }
}

// SAFETY: the SQE carries no pointer; it names the fd `self.fd` keeps open
// (or a fixed slot).
unsafe impl OwnedOp for PollAdd {
    type Output = Result<PollEvents, Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::PollAdd::new(self.fd.target(), self.events).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        events(res)
    }
}

/// `IORING_OP_POLL_ADD` with `IORING_POLL_ADD_MULTI` (Linux 5.13): stays
/// armed and yields the ready events each time `fd` becomes ready for one
/// of `events` (edge-triggered: one item per wakeup of the file, not one
/// per byte), until cancelled ([`Stream::cancel`](crate::owned::Stream::cancel)
/// or dropping the stream) or until the kernel stops it (its last item is
/// then an error, `ECANCELED` after a cancel).
///
/// ```
/// use ringwise::op::PollEvents;
/// use ringwise::owned::{ops, Driver, SharedFd};
/// use std::io::Write;
///
/// let (mut a, b) = std::os::unix::net::UnixStream::pair()?;
/// let b = SharedFd::from(b);
/// let driver = Driver::new(8)?;
/// let mut polls = driver.submit_stream(ops::PollMulti::new(&b, PollEvents::IN))?;
/// a.write_all(b"x")?;
/// let first = polls.wait_next()?.expect("the poll is armed")?;
/// assert!(first.contains(PollEvents::IN));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PollMulti {
    fd: Fd,
    events: PollEvents,
}

impl PollMulti {
    /// Report every time `fd` becomes ready for one of `events`.
    pub fn new(fd: impl Into<Fd>, events: PollEvents) -> PollMulti {
        PollMulti { fd: fd.into(), events }
    }
}

// SAFETY: the SQE carries no pointer; it names the fd `self.fd` keeps open
// until the stream's final CQE (or a fixed slot).
unsafe impl OwnedStream for PollMulti {
    type Item = Result<PollEvents, Errno>;

    #[inline]
    fn prepare(&mut self, sqe: &mut Sqe) {
        op::PollAdd::new(self.fd.target(), self.events).multishot().prepare(sqe);
    }

    #[inline]
    fn item(&mut self, res: i32, _flags: u32) -> Self::Item {
        events(res)
    }
}
