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
//! [`SubmissionQueue::push`](crate::SubmissionQueue::push). Files are a
//! [`Target`]: safe code can name only a slot of the ring's registered file
//! table; a plain descriptor goes through the `unsafe` [`Target::fd`] or
//! [`Target::from_fd`], whose contract (the descriptor stays open until the
//! op's CQE) is what keeps a safe op from acting on another owner's file. The contract of
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
//! [`check`](fn@check) before the op is pushed.
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
//!   [`Target::fixed`], everything else zero). `prepare` is
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

/// The file an op works on: an index into the ring's registered file table
/// (sets `IOSQE_FIXED_FILE`, Linux 5.1), or a plain descriptor of this
/// process.
///
/// # I/O safety
///
/// A safe op acts only on files its caller provably owns for the op's
/// lifetime. The kernel looks the descriptor number up when it *issues* the
/// op: at `submit` for most ops, but later for a linked, drained or
/// `IOSQE_ASYNC` op, and ops that keep the file (polls, multishot receives,
/// accepts) hold it until their last CQE. A descriptor number alone proves
/// nothing over that span: if its owner closes it before then and the number
/// is reused, a `Ftruncate` truncates, a `Shutdown` shuts down and a
/// `MsgRingData` posts into whatever file now has that number. A borrow
/// ([`BorrowedFd`](std::os::fd::BorrowedFd), `&File`) proves ownership only until the op is built,
/// not until the kernel resolves it. So:
///
/// * [`Target::fixed`] is safe: the slot belongs to the ring's registered
///   file table, which only this ring changes, and the kernel takes its own
///   reference to the slot's file when it issues the op.
/// * [`Target::fd`] (a raw number) and [`Target::from_fd`] (a borrow) are
///   `unsafe`: the caller promises the descriptor stays open and names the
///   same file until the op's CQE (the last CQE for multishot ops) is reaped.
///
/// This is the core layer's minimal sound answer; an owned-I/O layer on top
/// of it is where safe ops over owned descriptors (an `OwnedFd` kept alive
/// with the op) belong.
///
/// A raw number or a borrowed file no longer reaches a safe op:
///
/// ```compile_fail,E0277
/// use ringwise::op::Ftruncate;
/// let _ = Ftruncate::new(3, 0);
/// ```
///
/// ```compile_fail,E0277
/// use ringwise::op::Ftruncate;
/// let file = std::fs::File::open("/dev/null").unwrap();
/// let _ = Ftruncate::new(&file, 0);
/// ```
///
/// ```compile_fail,E0277
/// use ringwise::op::Shutdown;
/// use std::os::fd::AsFd;
/// let (socket, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
/// let _ = Shutdown::new(socket.as_fd(), 2);
/// ```
///
/// ```compile_fail,E0133
/// use ringwise::op::{Fsync, Target};
/// // Building a plain-descriptor target is `unsafe`.
/// let _ = Fsync::new(Target::fd(3));
/// ```
///
/// With the contract kept:
///
/// ```
/// use ringwise::op::{Fsync, Target};
/// use ringwise::Ring;
///
/// let file = std::fs::File::create(std::env::temp_dir().join("ringwise-target-doc"))?;
/// let mut ring = Ring::new(4)?;
/// // SAFETY: `file` lives until the end of this example, after the CQE is
/// // reaped below.
/// let target = unsafe { Target::fd(std::os::fd::AsRawFd::as_raw_fd(&file)) };
/// ring.submission().push(Fsync::new(target).user_data(1)).unwrap();
/// ring.submit_and_wait(1)?;
/// assert_eq!(ring.completion().next().unwrap().res, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target(Kind);

/// What a [`Target`] holds, for the crate's encoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A file descriptor of this process.
    Fd(std::os::fd::RawFd),
    /// A registered (fixed) file index.
    Fixed(u32),
}

impl Target {
    /// Slot `index` of the ring's registered file table (`IOSQE_FIXED_FILE`,
    /// Linux 5.1; see [`Ring::register_files`](crate::Ring::register_files)).
    /// Safe: the table is the ring's own.
    #[inline(always)]
    pub const fn fixed(index: u32) -> Target {
        Target(Kind::Fixed(index))
    }

    /// Plain descriptor `fd` of this process.
    ///
    /// # Safety
    ///
    /// For every op built with this target that is pushed to a ring, `fd`
    /// must be open, and name a file the caller owns and means, from the
    /// push until that op's CQE (the last CQE of a multishot op) has been
    /// reaped: the kernel resolves the number when it issues the op, which
    /// can be after `submit` returns (linked, drained and `IOSQE_ASYNC`
    /// ops), and ops that keep the file hold it until then. Closing it
    /// earlier and letting the number be reused makes the op act on another
    /// owner's file (the [type docs](Target#io-safety)). A negative number
    /// names no file (the kernel answers `-EBADF`) and is always allowed, as
    /// is a target whose ops are only prepared or checked, never pushed.
    #[inline(always)]
    pub const unsafe fn fd(fd: std::os::fd::RawFd) -> Target {
        Target(Kind::Fd(fd))
    }

    /// The descriptor `fd` borrows.
    ///
    /// # Safety
    ///
    /// As [`Target::fd`]: the borrow proves the file open only while it
    /// lasts, and the target outlives it, so the caller keeps the file open
    /// until the ops' CQEs are reaped.
    #[inline(always)]
    pub unsafe fn from_fd(fd: std::os::fd::BorrowedFd<'_>) -> Target {
        use std::os::fd::AsRawFd;
        Target(Kind::Fd(fd.as_raw_fd()))
    }

    /// The registered-file index, for a [`fixed`](Target::fixed) target.
    #[inline]
    pub const fn fixed_index(self) -> Option<u32> {
        match self.0 {
            Kind::Fixed(index) => Some(index),
            Kind::Fd(_) => None,
        }
    }

    /// The descriptor number, for a plain-descriptor target.
    #[inline]
    pub const fn raw_fd(self) -> Option<std::os::fd::RawFd> {
        match self.0 {
            Kind::Fd(fd) => Some(fd),
            Kind::Fixed(_) => None,
        }
    }

    /// What the target holds, for the crate's encoders.
    #[inline(always)]
    pub(crate) const fn kind(self) -> Kind {
        self.0
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
        match self.0 {
            Kind::Fd(fd) => (fd, SqeFlags::empty()),
            Kind::Fixed(index) => (index as i32, SqeFlags::FIXED_FILE),
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
