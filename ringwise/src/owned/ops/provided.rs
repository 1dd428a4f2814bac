//! Receives and reads into provided buffers ([`BufGroup`]): `RECV` and
//! `READ` with `IOSQE_BUFFER_SELECT` (Linux 5.7; buffer rings 5.19),
//! multishot `RECV` (Linux 6.0) and bundles (`IORING_RECVSEND_BUNDLE`,
//! Linux 6.10).
//!
//! These ops carry no buffer: the kernel picks one from the group when data
//! arrives, and the output is the picked buffer as a [`RingBuf`] (handed
//! back to the kernel when dropped) or, for a bundle, several of them in a
//! [`RingBundle`]. `Ok(None)` means 0 bytes: the peer closed (or, for a
//! read, end of file).
//!
//! They are submitted by their `submit` functions, which check that the
//! driver is the one the group is registered with, rather than built and
//! passed to [`Driver::submit`]: an op sent to another ring would pick from
//! *that* ring's group of the same id, and its CQE would name buffers this
//! group may have lent out. (The one-shot ops check again in
//! `validate_for`; a multishot op taken back from its ended
//! [`Stream`] with `into_inner` and submitted again does nothing but end
//! with `EINVAL`, for the same reason.)

use crate::entry::{PrepareSqe, Sqe};
use crate::error::{Error, Result};
use crate::op::{self, MsgFlags};
use crate::owned::{BufGroup, Driver, DriverId, Fd, Op, OwnedOp, OwnedStream, RingBuf, RingBundle, Sharing, Stream};
use crate::{Errno, Features};

/// Submit `op` on `driver`, after checking that it is `group`'s driver.
fn submit_on<T: OwnedOp, S: Sharing>(driver: &Driver<S>, group: &BufGroup, op: T) -> Result<Op<T, S>> {
    group.check_driver(driver)?;
    driver.submit(op).map_err(|refused| refused.error)
}

/// Submit the multishot `op` on `driver`, after checking that it is
/// `group`'s driver.
fn submit_stream_on<T: OwnedStream, S: Sharing>(driver: &Driver<S>, group: &BufGroup, op: T) -> Result<Stream<T, S>> {
    group.check_driver(driver)?;
    driver.submit_stream(op).map_err(|refused| refused.error)
}

/// Refused when the kernel has no bundles.
fn check_bundles<S: Sharing>(driver: &Driver<S>) -> Result<()> {
    if driver.with_ring(|ring| ring.features().contains(Features::RECVSEND_BUNDLE)) {
        return Ok(());
    }
    Err(Error::FeatureMissing { what: "a bundle receive", feature: "IORING_FEAT_RECVSEND_BUNDLE", since: "6.10" })
}

/// Where a multishot op is in its one life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arm {
    /// Built, not prepared.
    Fresh,
    /// Prepared once: its CQEs name buffers of its group.
    Armed,
    /// Prepared again (resubmitted after its stream ended, perhaps on
    /// another driver): it was sent as a NOP and its CQEs are ignored.
    Spent,
}

impl Arm {
    /// Advance at `prepare`; whether the op may pick from its group.
    fn arm(&mut self) -> bool {
        *self = match self {
            Arm::Fresh => Arm::Armed,
            _ => Arm::Spent,
        };
        *self == Arm::Armed
    }
}

/// The SQE of a spent op: does nothing, fails with EINVAL.
fn spent_sqe(sqe: &mut Sqe) {
    op::Nop::new().inject_result(-Errno::INVAL.raw_os_error()).prepare(sqe);
}

/// `IORING_OP_RECV` into a buffer the kernel picks from a [`BufGroup`]
/// (`IOSQE_BUFFER_SELECT`, Linux 5.7; buffer rings 5.19): like `recv(2)`
/// without a buffer until data arrives. The output is the buffer
/// (`Ok(Some)`, at least one byte), `Ok(None)` when the peer closed, or the
/// errno: `ENOBUFS` when the group had no buffer (the application holds
/// them all), `ENOTSOCK` when the fd is not a socket.
#[derive(Debug)]
pub struct RecvProvided {
    fd: Fd,
    group: BufGroup,
    flags: MsgFlags,
}

impl RecvProvided {
    /// Receive once from the socket `fd` into a buffer of `group`, on
    /// `group`'s driver.
    pub fn submit<S: Sharing>(driver: &Driver<S>, fd: impl Into<Fd>, group: &BufGroup) -> Result<Op<RecvProvided, S>> {
        RecvProvided::submit_with_flags(driver, fd, group, MsgFlags::empty())
    }

    /// As [`submit`](Self::submit), with `MSG_*` flags of `recv(2)`.
    pub fn submit_with_flags<S: Sharing>(
        driver: &Driver<S>,
        fd: impl Into<Fd>,
        group: &BufGroup,
        flags: MsgFlags,
    ) -> Result<Op<RecvProvided, S>> {
        submit_on(driver, group, RecvProvided { fd: fd.into(), group: group.clone(), flags })
    }
}

// SAFETY: the SQE carries no pointer (the kernel picks a buffer of the
// group, whose memory the ring keeps mapped while the group is registered)
// and names the fd `self.fd` keeps open. The op is only submitted by
// `submit*`, on the group's driver, and its one CQE reaches `complete` once.
unsafe impl OwnedOp for RecvProvided {
    type Output = std::result::Result<Option<RingBuf>, Errno>;

    fn validate_for(&self, driver: DriverId) -> Result<()> {
        self.group.check_driver_id(driver)
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::RecvProvided::new(self.fd.target(), self.group.bgid()).msg_flags(self.flags).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, flags: u32) -> Self::Output {
        // SAFETY: the kernel's CQE of this op, which picked from the group
        // without a bundle on the group's driver (checked at submit); the
        // driver hands it to `complete` once.
        unsafe { self.group.take_one(res, flags) }
    }
}

/// Multishot `IORING_OP_RECV` into buffers of a [`BufGroup`]
/// (`IORING_RECV_MULTISHOT`, Linux 6.0): one item per receive while the
/// socket has data, from one SQE.
///
/// Items are as for [`RecvProvided`]; the stream ends after `Ok(None)`
/// (the peer closed), after an error, or after a cancel. `Err(ENOBUFS)`
/// means the group ran dry (the application held every buffer when data
/// arrived): the kernel stops the multishot there, and the application
/// drops some [`RingBuf`]s and submits a new one; no data is lost (it stays
/// in the socket).
#[derive(Debug)]
pub struct RecvMulti {
    fd: Fd,
    group: BufGroup,
    flags: MsgFlags,
    arm: Arm,
}

impl RecvMulti {
    /// Receive from the socket `fd` into buffers of `group` until it
    /// closes, fails or is cancelled, on `group`'s driver.
    pub fn submit<S: Sharing>(driver: &Driver<S>, fd: impl Into<Fd>, group: &BufGroup) -> Result<Stream<RecvMulti, S>> {
        RecvMulti::submit_with_flags(driver, fd, group, MsgFlags::empty())
    }

    /// As [`submit`](Self::submit), with `MSG_*` flags of `recv(2)`.
    pub fn submit_with_flags<S: Sharing>(
        driver: &Driver<S>,
        fd: impl Into<Fd>,
        group: &BufGroup,
        flags: MsgFlags,
    ) -> Result<Stream<RecvMulti, S>> {
        submit_stream_on(driver, group, RecvMulti { fd: fd.into(), group: group.clone(), flags, arm: Arm::Fresh })
    }
}

// SAFETY: as for `RecvProvided`; a second `prepare` (the op taken back from
// its ended stream and submitted again, perhaps elsewhere) sends a NOP and
// its CQEs never reach the group.
unsafe impl OwnedStream for RecvMulti {
    type Item = std::result::Result<Option<RingBuf>, Errno>;

    #[inline]
    fn prepare(&mut self, sqe: &mut Sqe) {
        if !self.arm.arm() {
            return spent_sqe(sqe);
        }
        op::RecvProvided::new(self.fd.target(), self.group.bgid()).multishot().msg_flags(self.flags).prepare(sqe);
    }

    #[inline]
    fn item(&mut self, res: i32, flags: u32) -> Self::Item {
        if self.arm != Arm::Armed {
            return Err(Errno::INVAL);
        }
        // SAFETY: a CQE of this op's one submission, which picks from the
        // group without a bundle on the group's driver; the driver hands
        // each CQE to `item` once.
        unsafe { self.group.take_one(res, flags) }
    }
}

/// `IORING_OP_RECV` of a bundle (`IORING_RECVSEND_BUNDLE`, Linux 6.10):
/// one receive that fills as many buffers of a [`BufGroup`] as the data
/// takes, returned in order as a [`RingBundle`] (`Ok(None)`: the peer
/// closed). Errors as for [`RecvProvided`]; a kernel without bundles is
/// refused at submit ([`Error::FeatureMissing`]).
#[derive(Debug)]
pub struct RecvBundle {
    fd: Fd,
    group: BufGroup,
    flags: MsgFlags,
}

impl RecvBundle {
    /// Receive a bundle once from the socket `fd` into buffers of `group`,
    /// on `group`'s driver.
    pub fn submit<S: Sharing>(driver: &Driver<S>, fd: impl Into<Fd>, group: &BufGroup) -> Result<Op<RecvBundle, S>> {
        RecvBundle::submit_with_flags(driver, fd, group, MsgFlags::empty())
    }

    /// As [`submit`](Self::submit), with `MSG_*` flags of `recv(2)`.
    pub fn submit_with_flags<S: Sharing>(
        driver: &Driver<S>,
        fd: impl Into<Fd>,
        group: &BufGroup,
        flags: MsgFlags,
    ) -> Result<Op<RecvBundle, S>> {
        check_bundles(driver)?;
        submit_on(driver, group, RecvBundle { fd: fd.into(), group: group.clone(), flags })
    }
}

// SAFETY: as for `RecvProvided`; the bundle is selected inline (no
// IOSQE_ASYNC) on a socket, as `BufRing::bundle` requires.
unsafe impl OwnedOp for RecvBundle {
    type Output = std::result::Result<Option<RingBundle>, Errno>;

    fn validate_for(&self, driver: DriverId) -> Result<()> {
        self.group.check_driver_id(driver)
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::RecvProvided::new(self.fd.target(), self.group.bgid()).bundle().msg_flags(self.flags).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, flags: u32) -> Self::Output {
        // SAFETY: the kernel's CQE of this bundle receive, on the group's
        // driver, without IOSQE_ASYNC; handed to `complete` once.
        unsafe { self.group.take_bundle(res, flags) }
    }
}

/// Multishot bundle receive (`IORING_RECV_MULTISHOT` with
/// `IORING_RECVSEND_BUNDLE`, Linux 6.10): one [`RingBundle`] per receive
/// while the socket has data, from one SQE. Items and the end of the stream
/// as for [`RecvMulti`] (`Err(ENOBUFS)`: the group ran dry, resubmit after
/// dropping buffers).
#[derive(Debug)]
pub struct RecvBundleMulti {
    fd: Fd,
    group: BufGroup,
    flags: MsgFlags,
    arm: Arm,
}

impl RecvBundleMulti {
    /// Receive bundles from the socket `fd` into buffers of `group` until it
    /// closes, fails or is cancelled, on `group`'s driver.
    pub fn submit<S: Sharing>(
        driver: &Driver<S>,
        fd: impl Into<Fd>,
        group: &BufGroup,
    ) -> Result<Stream<RecvBundleMulti, S>> {
        RecvBundleMulti::submit_with_flags(driver, fd, group, MsgFlags::empty())
    }

    /// As [`submit`](Self::submit), with `MSG_*` flags of `recv(2)`.
    pub fn submit_with_flags<S: Sharing>(
        driver: &Driver<S>,
        fd: impl Into<Fd>,
        group: &BufGroup,
        flags: MsgFlags,
    ) -> Result<Stream<RecvBundleMulti, S>> {
        check_bundles(driver)?;
        let op = RecvBundleMulti { fd: fd.into(), group: group.clone(), flags, arm: Arm::Fresh };
        submit_stream_on(driver, group, op)
    }
}

// SAFETY: as for `RecvMulti` and `RecvBundle`.
unsafe impl OwnedStream for RecvBundleMulti {
    type Item = std::result::Result<Option<RingBundle>, Errno>;

    #[inline]
    fn prepare(&mut self, sqe: &mut Sqe) {
        if !self.arm.arm() {
            return spent_sqe(sqe);
        }
        op::RecvProvided::new(self.fd.target(), self.group.bgid())
            .multishot()
            .bundle()
            .msg_flags(self.flags)
            .prepare(sqe);
    }

    #[inline]
    fn item(&mut self, res: i32, flags: u32) -> Self::Item {
        if self.arm != Arm::Armed {
            return Err(Errno::INVAL);
        }
        // SAFETY: a CQE of this op's one submission, a bundle receive on
        // the group's driver without IOSQE_ASYNC; each handed over once.
        unsafe { self.group.take_bundle(res, flags) }
    }
}

/// `IORING_OP_READ` into a buffer the kernel picks from a [`BufGroup`]
/// (`IOSQE_BUFFER_SELECT`, Linux 5.7; buffer rings 5.19): like `pread(2)`
/// (or `read(2)` at the file position) of up to one buffer, for files,
/// pipes and other readable fds. The output is the buffer (`Ok(Some)`),
/// `Ok(None)` at end of file, or the errno (`ENOBUFS`: the group was dry).
#[derive(Debug)]
pub struct ReadProvided {
    fd: Fd,
    group: BufGroup,
    offset: u64,
}

impl ReadProvided {
    /// Read at the file position (and move it) from `fd` into a buffer of
    /// `group`, on `group`'s driver.
    pub fn submit<S: Sharing>(driver: &Driver<S>, fd: impl Into<Fd>, group: &BufGroup) -> Result<Op<ReadProvided, S>> {
        ReadProvided::submit_at(driver, fd, group, op::CURRENT_POSITION)
    }

    /// Read at `offset` of the file.
    pub fn submit_at<S: Sharing>(
        driver: &Driver<S>,
        fd: impl Into<Fd>,
        group: &BufGroup,
        offset: u64,
    ) -> Result<Op<ReadProvided, S>> {
        submit_on(driver, group, ReadProvided { fd: fd.into(), group: group.clone(), offset })
    }
}

// SAFETY: as for `RecvProvided` (one buffer per CQE, no bundle).
unsafe impl OwnedOp for ReadProvided {
    type Output = std::result::Result<Option<RingBuf>, Errno>;

    fn validate_for(&self, driver: DriverId) -> Result<()> {
        self.group.check_driver_id(driver)
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::ReadProvided::new(self.fd.target(), self.group.bgid(), self.group.buf_len())
            .offset(self.offset)
            .prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, flags: u32) -> Self::Output {
        // SAFETY: the kernel's CQE of this read, which picked one buffer
        // from the group on the group's driver; handed over once.
        unsafe { self.group.take_one(res, flags) }
    }
}
