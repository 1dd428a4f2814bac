//! Timeouts: `TIMEOUT` (Linux 5.4) relative, absolute and counting, and
//! linked timeouts (`LINK_TIMEOUT`, Linux 5.5) bounding another op
//! ([`WithTimeout`]).

use crate::entry::{PrepareSqe, Sqe};
use crate::error::{Error, Result};
use crate::flags::SqeFlags;
use crate::op::{self, TimeoutFlags, Timespec};
use crate::owned::{OwnedOp, IGNORED_USER_DATA};
use crate::Errno;
use std::time::{Duration, Instant, SystemTime};

/// `IORING_OP_TIMEOUT` (Linux 5.4): completes after a duration, at a time,
/// or (with [`count`](Self::count)) once other ops of the ring have
/// completed. The output is `Ok(())` when it fired (the kernel's `-ETIME`
/// for the time, 0 for the count: the two are not told apart), or the
/// errno (`ECANCELED` when cancelled).
///
/// ```
/// use ringwise::owned::{ops, Driver};
/// use std::time::{Duration, Instant};
///
/// let driver = Driver::new(8)?;
/// let start = Instant::now();
/// driver.submit(ops::Timeout::after(Duration::from_millis(5)))?.wait()??;
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Timeout {
    ts: Box<Timespec>,
    count: u32,
    flags: TimeoutFlags,
    /// `Timeout::at`: the deadline, turned into a relative time when the
    /// SQE is written.
    deadline: Option<Instant>,
}

impl Timeout {
    /// Complete after `after` (on `CLOCK_MONOTONIC`, counted from when the
    /// kernel receives the SQE: the next enter after `submit`).
    pub fn after(after: Duration) -> Timeout {
        Timeout { ts: Box::new(Timespec::from(after)), count: 0, flags: TimeoutFlags::empty(), deadline: None }
    }

    /// Complete at `deadline`, or at once if it has passed.
    ///
    /// `Instant` reads `CLOCK_MONOTONIC` on Linux, the clock of the kernel's
    /// timeouts, but std gives no way to turn an `Instant` into that clock's
    /// value, so the time left until `deadline` is measured when `submit`
    /// writes the SQE and handed to the kernel as a relative time: the gap
    /// between `submit` and the next enter (usually none: a wait or a drive
    /// follows) makes it fire that much late. For an exact absolute time
    /// use [`at_system`](Self::at_system).
    pub fn at(deadline: Instant) -> Timeout {
        let mut t = Timeout::after(Duration::ZERO);
        t.deadline = Some(deadline);
        t
    }

    /// Complete at the wall-clock time `when` (`IORING_TIMEOUT_ABS` on
    /// `CLOCK_REALTIME`): exact, and it follows changes to the system clock
    /// (a clock set past `when` fires it). A time before 1970 fires at once.
    pub fn at_system(when: SystemTime) -> Timeout {
        let since_epoch = when.duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Timeout {
            ts: Box::new(Timespec::from(since_epoch)),
            count: 0,
            flags: TimeoutFlags::ABS | TimeoutFlags::REALTIME,
            deadline: None,
        }
    }

    /// Also complete once `n` other CQEs have been posted on the ring (the
    /// kernel's completion-count timeout; 0: only on time). Completions of
    /// ops of the ring count, including cancel requests the driver posts;
    /// timeouts that expire do not (the kernel's rule: the count is of
    /// CQEs posted minus timeouts fired).
    pub fn count(mut self, n: u32) -> Timeout {
        self.count = n;
        self
    }
}

// SAFETY: the SQE points at the boxed timespec, which stays at its heap
// address while the op moves and lives until the op is dropped (after its
// CQE); no fd.
unsafe impl OwnedOp for Timeout {
    type Output = std::result::Result<(), Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        if let Some(deadline) = self.deadline {
            *self.ts = Timespec::from(deadline.saturating_duration_since(Instant::now()));
        }
        op::Timeout::new(&*self.ts).count(self.count).timeout_flags(self.flags).prepare(&mut sqes[0]);
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

/// Any one-SQE owned op bounded by a linked timeout (`IORING_OP_LINK_TIMEOUT`,
/// Linux 5.5): if `op` has not completed within the time, the kernel
/// cancels it and its output carries `ECANCELED` (with its buffer back, as
/// for any cancel); if it completes first, its output is its own.
///
/// The op's SQE gets `IOSQE_IO_LINK` and is followed by the `LINK_TIMEOUT`
/// SQE, pushed together so the kernel sees the chain whole. The timeout's
/// own CQE is not waited for (its `user_data` is
/// [`IGNORED_USER_DATA`]); the timespec is boxed in the wrapper.
///
/// ```
/// use ringwise::owned::{ops, Driver, SharedFd};
/// use ringwise::Errno;
/// use std::time::Duration;
///
/// let (_a, b) = std::os::unix::net::UnixStream::pair()?;
/// let b = SharedFd::from(b);
/// let driver = Driver::new(8)?;
/// let recv = ops::Recv::new(&b, Vec::with_capacity(16));
/// let (res, buf) = driver.submit(ops::WithTimeout::new(recv, Duration::from_millis(5)))?.wait()?;
/// assert_eq!(res, Err(Errno::CANCELED), "nothing came within 5 ms");
/// assert_eq!(buf.capacity(), 16, "the buffer comes back");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct WithTimeout<T> {
    op: T,
    ts: Box<Timespec>,
}

impl<T: OwnedOp> WithTimeout<T> {
    /// Bound `op` to `limit` (relative, `CLOCK_MONOTONIC`, counted from
    /// when the kernel starts the op). `op` must take one SQE (any op but
    /// another `WithTimeout`): `submit` refuses others.
    pub fn new(op: T, limit: Duration) -> WithTimeout<T> {
        WithTimeout { op, ts: Box::new(Timespec::from(limit)) }
    }

    /// The op back (one refused by `submit`, say).
    pub fn into_inner(self) -> T {
        self.op
    }
}

// SAFETY: the first SQE is `op`'s own, under `T`'s contract (its pointers
// are into memory `op` owns, stable across moves; its fds kept open by it),
// with only the link flag added. The second points at the boxed timespec,
// which the kernel reads when it prepares the LINK_TIMEOUT SQE: at submit,
// before it issues `op`, so before `op`'s CQE, after which the box may go.
// The second SQE carries `IGNORED_USER_DATA`, as the contract requires.
unsafe impl<T: OwnedOp> OwnedOp for WithTimeout<T> {
    type Output = T::Output;
    const SQES: usize = 2;

    fn validate(&self) -> Result<()> {
        if T::SQES != 1 {
            return Err(Error::InvalidArgument {
                what: format!("a linked timeout on an op of {} SQEs", T::SQES),
                why: "a linked timeout bounds the one SQE before it: wrap an op that takes one SQE".into(),
            });
        }
        self.op.validate()
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        self.op.prepare(&mut sqes[..1]);
        sqes[0].flags |= SqeFlags::IO_LINK.bits();
        op::LinkTimeout::new(&*self.ts).user_data(IGNORED_USER_DATA).prepare(&mut sqes[1]);
    }

    #[inline]
    fn complete(self, res: i32, flags: u32) -> Self::Output {
        self.op.complete(res, flags)
    }
}
