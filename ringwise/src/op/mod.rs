//! Typed SQE builders, one file per family.
//!
//! Every op is a small struct: required arguments go to `new`, optional ones
//! are methods, and the common SQE fields (`user_data`, `flags`,
//! `personality`) come from [`Common`] through the same three methods on every
//! op. [`PrepareSqe::prepare`] writes every field of the SQE in place, so a
//! reused slot never carries a previous op's values and no temporary SQE is
//! built and copied.
//!
//! Ops that hand the kernel memory it uses after `push` returns (buffers,
//! iovecs, paths) can only be pushed with the `unsafe`
//! [`SubmissionQueue::push_unchecked`](crate::SubmissionQueue::push_unchecked);
//! ops without such memory implement [`SafeOp`] and go through the safe
//! [`SubmissionQueue::push`](crate::SubmissionQueue::push).

use crate::entry::Sqe;
use crate::flags::SqeFlags;

mod nop;
mod rw;

pub use nop::Nop;
pub use rw::{Fsync, FsyncFlags, Read, Readv, RwFlags, Write, Writev};

/// `struct iovec`, as the vectored ops take it. `std::io::IoSlice` and
/// `IoSliceMut` have the same layout on Linux.
pub type Iovec = linux_raw_sys::general::iovec;

/// Write an op into an SQE slot.
pub trait PrepareSqe {
    /// Fill every field of `sqe`.
    fn prepare(self, sqe: &mut Sqe);
}

/// Marker for ops that give the kernel no memory to use after the push (no
/// buffer, iovec, path or other pointer), so pushing them is safe.
pub trait SafeOp: PrepareSqe {}

/// The file an op works on: a plain descriptor, or an index into the ring's
/// registered file table (sets `IOSQE_FIXED_FILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A file descriptor of this process.
    Fd(std::os::fd::RawFd),
    /// A registered (fixed) file index.
    Fixed(u32),
}

impl Target {
    /// The `fd` field and the extra SQE flag this target needs.
    #[inline(always)]
    pub(crate) fn encode(self) -> (i32, SqeFlags) {
        match self {
            Target::Fd(fd) => (fd, SqeFlags::empty()),
            Target::Fixed(index) => (index as i32, SqeFlags::FIXED_FILE),
        }
    }
}

impl From<std::os::fd::RawFd> for Target {
    fn from(fd: std::os::fd::RawFd) -> Target {
        Target::Fd(fd)
    }
}

impl From<std::os::fd::BorrowedFd<'_>> for Target {
    fn from(fd: std::os::fd::BorrowedFd<'_>) -> Target {
        use std::os::fd::AsRawFd;
        Target::Fd(fd.as_raw_fd())
    }
}

impl<T: std::os::fd::AsFd> From<&T> for Target {
    fn from(file: &T) -> Target {
        Target::from(file.as_fd())
    }
}

/// The SQE fields every op shares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Common {
    pub user_data: u64,
    pub flags: SqeFlags,
    pub personality: u16,
}

/// Give an op struct (with a `common: Common` field) the shared setters.
macro_rules! common_setters {
    ($($op:ty),* $(,)?) => {$(
        impl $op {
            /// Value echoed in this op's CQE.
            #[inline]
            pub fn user_data(mut self, user_data: u64) -> Self {
                self.common.user_data = user_data;
                self
            }
            /// `IOSQE_*` flags: link, drain, async, skip-success, ...
            #[inline]
            pub fn flags(mut self, flags: $crate::flags::SqeFlags) -> Self {
                self.common.flags = flags;
                self
            }
            /// Issue with registered credentials `personality`.
            #[inline]
            pub fn personality(mut self, personality: u16) -> Self {
                self.common.personality = personality;
                self
            }
        }
    )*};
}
pub(crate) use common_setters;

/// The arguments an op writes; `prepare` helpers build one with every field
/// set and store it in one go.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn fill(sqe: &mut Sqe, common: &Common, opcode: u8, fd: i32, off: u64, addr: u64, len: u32, op_flags: u32) {
    *sqe = Sqe {
        opcode,
        flags: common.flags.bits(),
        ioprio: 0,
        fd,
        off,
        addr,
        len,
        op_flags,
        user_data: common.user_data,
        buf_index: 0,
        personality: common.personality,
        file_index: 0,
        addr3: 0,
        pad2: 0,
    };
}
