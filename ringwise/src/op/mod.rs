//! Typed SQE builders, one file per family.
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
//! [`SubmissionQueue::push`](crate::SubmissionQueue::push).
//!
//! Combinations the kernel would refuse are made unrepresentable where a type
//! can do it (a multishot receive is built from a buffer group, never from a
//! buffer pointer); what depends on the ring's state (a fixed-buffer index
//! past the registered table, an opcode the kernel lacks) is caught by
//! [`check`] before the op is pushed. [`CATALOG`] maps every opcode to its
//! builder, the liburing helpers it replaces and the kernel that added it.

use crate::flags::SqeFlags;

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
pub use catalog::{LiburingWithoutBuilder, OpInfo, CATALOG, LIBURING_WITHOUT_BUILDER};
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

use crate::entry::Sqe;
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

/// An SQE with the common fields, `opcode` and `fd` set and every other field
/// zero; ops complete it with struct-update syntax, so each `prepare` is one
/// full store of every field.
#[inline(always)]
pub(crate) fn base(common: &Common, opcode: u8, fd: i32) -> Sqe {
    Sqe {
        opcode,
        flags: common.flags.bits(),
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

/// [`base`] for an op on a [`Target`]: a fixed target adds `FIXED_FILE`.
#[inline(always)]
pub(crate) fn base_on(common: &Common, opcode: u8, target: Target) -> Sqe {
    let (fd, extra) = target.encode();
    let mut sqe = base(common, opcode, fd);
    sqe.flags |= extra.bits();
    sqe
}

/// The arguments an op writes; `prepare` helpers build one with every field
/// set and store it in one go.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn fill(sqe: &mut Sqe, common: &Common, opcode: u8, fd: i32, off: u64, addr: u64, len: u32, op_flags: u32) {
    *sqe = Sqe { off, addr, len, op_flags, ..base(common, opcode, fd) };
}

/// Opcode numbers, `IORING_OP_*` as `u8`.
#[allow(missing_docs)]
pub mod opcode {
    use linux_raw_sys::io_uring::io_uring_op as o;
    pub const NOP: u8 = o::IORING_OP_NOP as u8;
    pub const READV: u8 = o::IORING_OP_READV as u8;
    pub const WRITEV: u8 = o::IORING_OP_WRITEV as u8;
    pub const FSYNC: u8 = o::IORING_OP_FSYNC as u8;
    pub const READ_FIXED: u8 = o::IORING_OP_READ_FIXED as u8;
    pub const WRITE_FIXED: u8 = o::IORING_OP_WRITE_FIXED as u8;
    pub const POLL_ADD: u8 = o::IORING_OP_POLL_ADD as u8;
    pub const POLL_REMOVE: u8 = o::IORING_OP_POLL_REMOVE as u8;
    pub const SYNC_FILE_RANGE: u8 = o::IORING_OP_SYNC_FILE_RANGE as u8;
    pub const SENDMSG: u8 = o::IORING_OP_SENDMSG as u8;
    pub const RECVMSG: u8 = o::IORING_OP_RECVMSG as u8;
    pub const TIMEOUT: u8 = o::IORING_OP_TIMEOUT as u8;
    pub const TIMEOUT_REMOVE: u8 = o::IORING_OP_TIMEOUT_REMOVE as u8;
    pub const ACCEPT: u8 = o::IORING_OP_ACCEPT as u8;
    pub const ASYNC_CANCEL: u8 = o::IORING_OP_ASYNC_CANCEL as u8;
    pub const LINK_TIMEOUT: u8 = o::IORING_OP_LINK_TIMEOUT as u8;
    pub const CONNECT: u8 = o::IORING_OP_CONNECT as u8;
    pub const FALLOCATE: u8 = o::IORING_OP_FALLOCATE as u8;
    pub const OPENAT: u8 = o::IORING_OP_OPENAT as u8;
    pub const CLOSE: u8 = o::IORING_OP_CLOSE as u8;
    pub const FILES_UPDATE: u8 = o::IORING_OP_FILES_UPDATE as u8;
    pub const STATX: u8 = o::IORING_OP_STATX as u8;
    pub const READ: u8 = o::IORING_OP_READ as u8;
    pub const WRITE: u8 = o::IORING_OP_WRITE as u8;
    pub const FADVISE: u8 = o::IORING_OP_FADVISE as u8;
    pub const MADVISE: u8 = o::IORING_OP_MADVISE as u8;
    pub const SEND: u8 = o::IORING_OP_SEND as u8;
    pub const RECV: u8 = o::IORING_OP_RECV as u8;
    pub const OPENAT2: u8 = o::IORING_OP_OPENAT2 as u8;
    pub const EPOLL_CTL: u8 = o::IORING_OP_EPOLL_CTL as u8;
    pub const SPLICE: u8 = o::IORING_OP_SPLICE as u8;
    pub const PROVIDE_BUFFERS: u8 = o::IORING_OP_PROVIDE_BUFFERS as u8;
    pub const REMOVE_BUFFERS: u8 = o::IORING_OP_REMOVE_BUFFERS as u8;
    pub const TEE: u8 = o::IORING_OP_TEE as u8;
    pub const SHUTDOWN: u8 = o::IORING_OP_SHUTDOWN as u8;
    pub const RENAMEAT: u8 = o::IORING_OP_RENAMEAT as u8;
    pub const UNLINKAT: u8 = o::IORING_OP_UNLINKAT as u8;
    pub const MKDIRAT: u8 = o::IORING_OP_MKDIRAT as u8;
    pub const SYMLINKAT: u8 = o::IORING_OP_SYMLINKAT as u8;
    pub const LINKAT: u8 = o::IORING_OP_LINKAT as u8;
    pub const MSG_RING: u8 = o::IORING_OP_MSG_RING as u8;
    pub const FSETXATTR: u8 = o::IORING_OP_FSETXATTR as u8;
    pub const SETXATTR: u8 = o::IORING_OP_SETXATTR as u8;
    pub const FGETXATTR: u8 = o::IORING_OP_FGETXATTR as u8;
    pub const GETXATTR: u8 = o::IORING_OP_GETXATTR as u8;
    pub const SOCKET: u8 = o::IORING_OP_SOCKET as u8;
    pub const URING_CMD: u8 = o::IORING_OP_URING_CMD as u8;
    pub const SEND_ZC: u8 = o::IORING_OP_SEND_ZC as u8;
    pub const SENDMSG_ZC: u8 = o::IORING_OP_SENDMSG_ZC as u8;
    pub const READ_MULTISHOT: u8 = o::IORING_OP_READ_MULTISHOT as u8;
    pub const WAITID: u8 = o::IORING_OP_WAITID as u8;
    pub const FUTEX_WAIT: u8 = o::IORING_OP_FUTEX_WAIT as u8;
    pub const FUTEX_WAKE: u8 = o::IORING_OP_FUTEX_WAKE as u8;
    pub const FUTEX_WAITV: u8 = o::IORING_OP_FUTEX_WAITV as u8;
    pub const FIXED_FD_INSTALL: u8 = o::IORING_OP_FIXED_FD_INSTALL as u8;
    pub const FTRUNCATE: u8 = o::IORING_OP_FTRUNCATE as u8;
    pub const BIND: u8 = o::IORING_OP_BIND as u8;
    pub const LISTEN: u8 = o::IORING_OP_LISTEN as u8;
    pub const RECV_ZC: u8 = o::IORING_OP_RECV_ZC as u8;
    pub const EPOLL_WAIT: u8 = o::IORING_OP_EPOLL_WAIT as u8;
    pub const READV_FIXED: u8 = o::IORING_OP_READV_FIXED as u8;
    pub const WRITEV_FIXED: u8 = o::IORING_OP_WRITEV_FIXED as u8;
    pub const PIPE: u8 = o::IORING_OP_PIPE as u8;
    pub const NOP128: u8 = crate::abi::IORING_OP_NOP128;
    pub const URING_CMD128: u8 = crate::abi::IORING_OP_URING_CMD128;
}
