//! Owned I/O: ops that own what they hand the kernel, in safe code.
//!
//! The core ([`Ring`](crate::Ring), [`op`](crate::op)) pushes SQEs whose
//! pointers the caller must keep valid until the CQE: every op that carries
//! a buffer is `unsafe`. This layer makes that class of bug impossible by
//! construction:
//!
//! * **An op owns its memory.** [`Driver::submit`] takes the op by value
//!   (its buffer, iovecs, path, timespec, `msghdr`...), and the buffer comes
//!   back with the result: `let (res, buf) = driver.submit(read)?.wait()?`.
//!   Nothing the kernel may write is reachable from safe code in between.
//! * **An op owns its file.** Ops act on a [`SharedFd`] (a shared owner of
//!   an `OwnedFd`, kept open until the op's last CQE), a descriptor open
//!   for the rest of the program ([`Fd::Static`]) or a fixed-file slot of
//!   the ring ([`Fd::Fixed`]); no safe op takes a raw fd number. Ops that
//!   produce a descriptor (accept, open, socket) return an `OwnedFd`, and if
//!   nobody takes it the library closes it.
//! * **Dropping is always safe.** Dropping (or `mem::forget`ting) an op's
//!   handle or future mid-flight never frees what the kernel may still use:
//!   a dropped handle moves the op into the driver's table, which keeps it
//!   until the final CQE and sends an async cancel; a forgotten one leaks
//!   it. [`Op::cancel`] asks the kernel to stop, and the handle then returns
//!   the op's real result *and* its buffer (data that arrived is not lost).
//! * **Dropping the driver** cancels everything in flight and reaps until
//!   the kernel has returned every op, before anything is freed
//!   ([`Driver`]'s "Teardown").
//!
//! The same [`Op`] handle is used synchronously ([`Op::wait`],
//! [`Op::try_take`], [`Driver::wait`]) and as a `Future`. Op state lives in
//! one table keyed by `user_data` (no allocation per op once the table has
//! grown to the most ops in flight). The driver is executor-agnostic: a
//! future needs someone to call [`Driver::drive`] when the ring's fd is
//! readable and after ops are pushed ([`Driver::set_drive_waker`]);
//! [`Driver::block_on`] does that on the current thread, and the
//! `ringwise-tokio` crate does it from tokio's reactor. A driver used by one
//! thread can drop its lock: [`Driver::local`] (`!Send` handles, no atomic
//! operation per op).
//!
//! ```
//! use ringwise::owned::{Driver, SharedFd, ops};
//!
//! let path = std::env::temp_dir().join(format!("ringwise-owned-doc-{}", std::process::id()));
//! std::fs::write(&path, b"hello, owned ring")?;
//! let file = SharedFd::from(std::fs::File::open(&path)?);
//!
//! let driver = Driver::new(32)?;
//! // The buffer moves into the op and comes back with the result.
//! let (res, buf) = driver.submit(ops::Read::at(&file, vec![0u8; 64], 0))?.wait()?;
//! assert_eq!(&buf[..res?], b"hello, owned ring");
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Writing an owned op
//!
//! An owned op implements [`OwnedOp`] (one result) or [`OwnedStream`]
//! (multishot): `prepare` fills the SQE(s) from the op's own fields,
//! `complete` turns the CQE into the op's output and gives back what it
//! owned. Both traits are `unsafe` to implement: the implementation promises
//! that every pointer it puts in an SQE points into memory the op owns and
//! that stays put while the op value moves (heap memory: a `Vec`'s buffer,
//! a `Box`), and that every descriptor it names is kept open by the op.

mod buf;
mod bufring;
mod driver;
mod fd;
mod fixed;
mod handle;
mod mailbox;
pub mod ops;
mod set;
mod sharing;
mod slab;
mod valgrind;

pub use buf::{IoBuf, IoBufMut, Slice};
pub use bufring::{BufGroup, RingBuf, RingBundle};
pub use driver::{Driver, DriverId, DriverStats, Refused};
pub use fd::{Fd, SharedFd};
pub use fixed::{FixedBuf, FixedBufPool};
pub use handle::{Next, Op, Stream};
pub use mailbox::{Mailbox, MailboxAddr, MailboxRecv};
pub use set::OpSet;
pub use sharing::{Local, Sharing, Threads};
pub use slab::IGNORED_USER_DATA;

use crate::entry::Sqe;

/// An op that owns what it hands the kernel and gives it back with its one
/// result.
///
/// # Safety
/// Implementations promise that:
/// * every pointer `prepare` writes into the SQEs points into memory owned
///   by `self` that stays valid, at the same address, however `self` is
///   moved, until `complete` is called or `self` is dropped (heap memory
///   owned through a `Vec`, `Box` or an [`IoBuf`]; never a field of `self`
///   itself), and that nothing else reads or writes it meanwhile;
/// * every file descriptor the SQEs name is kept open by `self` (a
///   [`SharedFd`]) or is a fixed-file slot of the ring;
/// * `prepare` leaves `user_data` of the first SQE to the driver (it is
///   overwritten), and sets [`IGNORED_USER_DATA`] on any further SQE;
/// * the op closes no descriptor it does not own.
pub unsafe trait OwnedOp: Send + 'static {
    /// What the op returns: its result and what it owned.
    type Output;
    /// SQEs the op takes (pushed together, at most 4): 1, or 2 for an op
    /// with a linked timeout.
    const SQES: usize = 1;
    /// Check the op before anything is queued: a refusal here comes back as
    /// [`Refused`] with the op (say, a buffer longer than the SQE's 32-bit
    /// length field).
    fn validate(&self) -> crate::Result<()> {
        Ok(())
    }
    /// Check the op against the driver it is submitted to, before anything
    /// is queued (a refusal comes back as [`Refused`] with the op): for ops
    /// that use something registered on one ring, such as a fixed buffer,
    /// whose index another ring would resolve in its own table.
    fn validate_for(&self, _driver: DriverId) -> crate::Result<()> {
        Ok(())
    }
    /// Fill `sqes` (`Self::SQES` of them, in order).
    fn prepare(&mut self, sqes: &mut [Sqe]);
    /// The op's output from its final CQE (`res`, `flags`; for an op whose
    /// first CQE said more were coming, such as a zero-copy send, the first
    /// CQE's result with the final CQE's flags or'ed in).
    fn complete(self, res: i32, flags: u32) -> Self::Output;
}

/// A multishot op: one SQE, many CQEs, each turned into an item.
///
/// # Safety
/// As for [`OwnedOp`]; the memory stays the op's until its final CQE (the
/// one without `IORING_CQE_F_MORE`).
pub unsafe trait OwnedStream: Send + 'static {
    /// What each CQE becomes.
    type Item;
    /// Fill the SQE.
    fn prepare(&mut self, sqe: &mut Sqe);
    /// One CQE's item.
    fn item(&mut self, res: i32, flags: u32) -> Self::Item;
}

/// What the driver keeps of an op whose handle was dropped: it is handed
/// each remaining CQE (so that descriptors and ring buffers those CQEs carry
/// are closed or given back), and dropped after the final one.
pub(crate) trait Orphan: Send {
    fn cqe(&mut self, res: i32, flags: u32);
}

/// A one-shot op abandoned before its final CQE.
pub(crate) struct OrphanOp<T: OwnedOp> {
    pub(crate) op: Option<T>,
    pub(crate) first: Option<(i32, u32)>,
}

impl<T: OwnedOp> Orphan for OrphanOp<T> {
    fn cqe(&mut self, res: i32, flags: u32) {
        if flags & crate::abi::IORING_CQE_F_MORE != 0 {
            self.first = Some((res, flags));
            return;
        }
        let (res, flags) = match self.first.take() {
            Some((first, first_flags)) => (first, first_flags | flags),
            None => (res, flags),
        };
        if let Some(op) = self.op.take() {
            // The output carries what the op produced (an accepted fd, a
            // ring buffer): dropping it closes or returns it.
            drop(op.complete(res, flags));
        }
    }
}

/// A multishot op abandoned before its final CQE.
pub(crate) struct OrphanStream<T: OwnedStream>(pub(crate) T);

impl<T: OwnedStream> Orphan for OrphanStream<T> {
    fn cqe(&mut self, res: i32, flags: u32) {
        drop(self.0.item(res, flags));
    }
}
