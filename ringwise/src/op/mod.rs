//! Typed SQE builders, one file (or directory) per family.
//!
//! Every op is a small struct: required arguments go to `new` (or a named
//! constructor), optional ones are methods, and the common SQE fields
//! (`user_data`, `flags`, `personality`) come from [`Common`] through the same
//! three methods on every op. [`PrepareSqe::prepare`] writes every field of
//! the SQE in place, so a reused slot never carries a previous op's values and
//! no temporary SQE is built and copied.
//!
//! Ops that hand the kernel memory it uses after `push` returns (buffers,
//! iovecs, paths, timespecs, futex words) can only be pushed with the `unsafe`
//! [`SubmissionQueue::push_unchecked`](crate::SubmissionQueue::push_unchecked),
//! and so does [`Close`] of a plain descriptor (it ends whatever owns the fd);
//! ops without such memory implement [`SafeOp`] and go through the safe
//! [`SubmissionQueue::push`](crate::SubmissionQueue::push). The contract of
//! `push_unchecked` is the one every pointer argument documents: the memory
//! stays valid, and unmoved, until the op's CQE is reaped (for the zero-copy
//! sends, until the notification CQE); memory the kernel only reads at
//! submit (paths, `msghdr`s of sends, timespecs, `open_how`) must live until
//! `submit` returns, and keeping it until the CQE is the simple rule.
//!
//! Combinations the kernel would refuse are made unrepresentable where a type
//! can do it (a multishot receive is built from a buffer group, never from a
//! buffer pointer); what depends on the ring's state (a fixed-buffer index
//! past the registered table, an opcode the kernel lacks) is caught by
//! [`check`] before the op is pushed.
//!
//! # The shape of an op
//!
//! * **One opcode table.** [`CATALOG`] is declared once, in `op/catalog.rs`,
//!   one line per opcode: number, kernel name, builders, the liburing helpers
//!   they replace and the Linux release that added it. From that line come
//!   the [`opcode`] constant (`opcode::READ`), the catalog entry
//!   ([`OpInfo`]), the name lookup ([`name`]), the builder's opcode constant
//!   (an inherent `CODE`, e.g. [`Nop::CODE`], [`Read::CODE`]; the second
//!   opcode of a builder that has two is named in the line, e.g.
//!   [`Read::FIXED_CODE`] for `READ_FIXED`), and the builder's three common
//!   setters. `docs/opcodes.md` is generated from the same table (see
//!   there), and a unit test fails when the two disagree.
//! * **One way to write an SQE.** Every `prepare` is one struct-update
//!   store: `*sqe = Sqe { field: value, .., ..base(&self.common,
//!   Self::CODE, fd) }`, where `base` returns an SQE with every field set
//!   (the common fields, the opcode, `fd` and `IOSQE_FIXED_FILE` for a
//!   [`Target::Fixed`], everything else zero). `prepare` is
//!   `#[inline(always)]`, so a NOP is a handful of stores.
//! * **One setter mechanism.** Methods shared by several ops (the common
//!   fields, or an option group such as the `MSG_*` flags of every send and
//!   receive) are written once and stamped on each type with the crate's
//!   `setters!` macro: `setters!(impl Send, Recv { /* methods */ });`.
//!
//! # Adding an opcode
//!
//! 1. Add its line to the table in `op/catalog.rs` (and its row to
//!    `docs/opcodes.md`; the catalog's unit test prints the row it expects).
//! 2. Write the builder in its family's file: a struct with a
//!    `pub(crate) common: Common` field (the table's setters write it from
//!    `catalog.rs`), a documented constructor (what it does, each argument,
//!    the Linux version, the lifetime of every pointer), its options, and
//!    `impl PrepareSqe` as one `Sqe { .., ..base(&self.common, Self::CODE,
//!    fd) }` (plus `impl SafeOp` if it carries no pointer and closes no fd).
//!    Re-export it below.
//! 3. Test it against the kernel in `ringwise/tests/op_*.rs`.

use crate::entry::Sqe;
use crate::flags::SqeFlags;

/// Stamp one block of methods on several op types: the one setter mechanism
/// of `op` (the common fields and every repeated option group).
///
/// `setters!(impl A, B { /* methods using `self` */ });` writes
/// `impl A { .. }` and `impl B { .. }` with the same methods.
macro_rules! setters {
    (impl $($ty:ident),+ { $($methods:tt)* }) => {
        setters!(@each { $($methods)* } $($ty)+);
    };
    (@each $methods:tt $($ty:ident)+) => {
        $(impl $ty $methods)+
    };
}

mod buffers;
mod cancel;
mod catalog;
mod check;
mod cmd;
mod files;
mod fs;
mod futex;
mod msg;
mod net;
mod nop;
mod poll;
mod process;
mod rw;
mod splice;
mod timeout;

pub use buffers::{ProvideBuffers, RemoveBuffers};
pub use cancel::AsyncCancel;
pub use catalog::{name, opcode, LiburingWithoutBuilder, OpInfo, CATALOG, LIBURING_WITHOUT_BUILDER};
pub use check::{check, Limits};
pub use cmd::{
    BlockDiscard, GetSockName, GetSockOpt, Nop128, SetSockOpt, SocketQueue, UringCmd, UringCmd128, UringCmd80,
    CMD80_BYTES,
};
pub use files::{FilesUpdate, UpdateAt};
pub use fs::{
    Advice, AtFlags, Close, CloseFixed, FGetXattr, FSetXattr, Fadvise, Fallocate, FixedFdInstall, Ftruncate, GetXattr,
    LinkAt, Madvise, MkdirAt, Mode, OFlags, OpenAt, OpenAt2, OpenHow, Pipe, RenameAt, RenameFlags, SetXattr, Statx,
    StatxBuf, SymlinkAt, SyncFileRange, SyncFileRangeFlags, UnlinkAt, XattrFlags, AT_FDCWD,
};
pub use futex::{FutexFlags, FutexWait, FutexWaitv, FutexWaitvEntry, FutexWake, FUTEX_BITSET_MATCH_ANY};
pub use msg::{MsgRingData, MsgRingFd};
pub use net::{
    zc_notification_copied, Accept, AcceptFlags, AcceptFrom, Bind, Connect, Listen, MsgFlags, MsgHdr, Recv, RecvMsg,
    RecvMsgMulti, RecvMsgOut, RecvProvided, RecvZc, Send, SendMsg, SendMsgZc, SendProvided, SendZc, Shutdown, Socket,
};
pub use nop::Nop;
pub use poll::{EpollCtl, EpollEvent, EpollWait, PollAdd, PollEvents, PollRemove, PollUpdate};
pub use process::{IdType, SigInfo, WaitId, WaitOptions};
pub use rw::{Fsync, FsyncFlags, Read, ReadMulti, ReadProvided, Readv, RwFlags, Write, Writev, CURRENT_POSITION};
pub use splice::{Splice, SpliceFlags, Tee};
pub use timeout::{LinkTimeout, LinkTimeoutUpdate, Timeout, TimeoutFlags, TimeoutRemove, TimeoutUpdate, Timespec};

/// `struct iovec`, as the vectored ops take it. `std::io::IoSlice` and
/// `IoSliceMut` have the same layout on Linux.
pub type Iovec = linux_raw_sys::general::iovec;

pub use crate::entry::{PrepareBigSqe, PrepareSqe, SafeBigOp, SafeOp};

/// The file an op works on: a plain descriptor, or an index into the ring's
/// registered file table (sets `IOSQE_FIXED_FILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A file descriptor of this process.
    Fd(std::os::fd::RawFd),
    /// A registered (fixed) file index.
    Fixed(u32),
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

/// Where an op that creates a file (open, accept, socket, pipe, msg-ring fd
/// passing) puts it in the registered file table instead of returning a
/// plain descriptor ("direct descriptors", Linux 5.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectSlot {
    /// This slot of the table (replacing what is there).
    Index(u32),
    /// Any free slot in the allocation range; the CQE's `res` is the slot
    /// (`IORING_FILE_INDEX_ALLOC`, Linux 5.19).
    Alloc,
}

impl DirectSlot {
    /// The `file_index` encoding: slot + 1, or all ones for "allocate".
    #[inline(always)]
    pub(crate) fn encode(slot: Option<DirectSlot>) -> u32 {
        match slot {
            None => 0,
            // Slots u32::MAX - 1 and u32::MAX have no `slot + 1` of their
            // own (it would read as "allocate" or wrap to "no slot", making a
            // plain fd nobody tracks): they saturate to a slot no table has,
            // which the kernel refuses.
            Some(DirectSlot::Index(i)) => i.saturating_add(1).min(u32::MAX - 1),
            Some(DirectSlot::Alloc) => u32::MAX,
        }
    }
}

/// The SQE fields every op shares, set through each op's `user_data`,
/// `flags` and `personality` methods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Common {
    /// Echoed in the op's CQE(s) as [`Cqe::user_data`](crate::Cqe::user_data).
    pub user_data: u64,
    /// `IOSQE_*` flags (link, drain, async, skip-success, ...).
    pub flags: SqeFlags,
    /// A personality registered with `IORING_REGISTER_PERSONALITY` whose
    /// credentials the op runs with (0: the submitter's).
    pub personality: u16,
}

impl Common {
    /// The same fields with `extra` added to the SQE flags (the
    /// `BUFFER_SELECT` of provided-buffer ops, the `FIXED_FILE` of ops
    /// that only take a registered file).
    #[inline(always)]
    pub(crate) fn with(self, extra: SqeFlags) -> Common {
        Common { flags: self.flags | extra, ..self }
    }
}

/// What an op puts in the SQE's `fd` field: a [`Target`] (a fixed one adds
/// `IOSQE_FIXED_FILE`) or a raw `i32` (a directory fd, `-1`, or a value the
/// opcode keeps there such as a count or futex flags).
pub(crate) trait FdField {
    /// The `fd` field and the SQE flag it needs.
    fn encode(self) -> (i32, SqeFlags);
}

impl FdField for Target {
    #[inline(always)]
    fn encode(self) -> (i32, SqeFlags) {
        match self {
            Target::Fd(fd) => (fd, SqeFlags::empty()),
            Target::Fixed(index) => (index as i32, SqeFlags::FIXED_FILE),
        }
    }
}

impl FdField for i32 {
    #[inline(always)]
    fn encode(self) -> (i32, SqeFlags) {
        (self, SqeFlags::empty())
    }
}

/// The base of every SQE: the common fields, `opcode` and `fd` set, every
/// other field zero. Ops complete it with struct-update syntax (`Sqe {
/// addr, len, ..base(..) }`), so each `prepare` is one full store of every
/// field (the module docs, "The shape of an op").
#[inline(always)]
pub(crate) fn base(common: &Common, opcode: u8, fd: impl FdField) -> Sqe {
    let (fd, extra) = fd.encode();
    Sqe {
        opcode,
        flags: (common.flags | extra).bits(),
        ioprio: 0,
        fd,
        off: 0,
        addr: 0,
        len: 0,
        op_flags: 0,
        user_data: common.user_data,
        buf_index: 0,
        personality: common.personality,
        file_index: 0,
        addr3: 0,
        pad2: 0,
    }
}
