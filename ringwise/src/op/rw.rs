//! Reads, writes and syncs: `READ`, `WRITE`, `READV`, `WRITEV` and their
//! fixed-buffer forms (`READ_FIXED`, `WRITE_FIXED`, `READV_FIXED`,
//! `WRITEV_FIXED`), reads into provided buffers, `READ_MULTISHOT`, `FSYNC`.

use super::{base_on, common_setters, opcode, Common, PrepareSqe, SafeOp, Target};
use crate::entry::Sqe;
use crate::flags::SqeFlags;
use linux_raw_sys::io_uring::io_uring_op as opc;

bitflags::bitflags! {
    /// `RWF_*` flags of `preadv2`/`pwritev2`, for reads and writes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct RwFlags: u32 {
        const HIPRI = linux_raw_sys::general::RWF_HIPRI;
        const DSYNC = linux_raw_sys::general::RWF_DSYNC;
        const SYNC = linux_raw_sys::general::RWF_SYNC;
        const NOWAIT = linux_raw_sys::general::RWF_NOWAIT;
        const APPEND = linux_raw_sys::general::RWF_APPEND;
        /// Linux 6.9.
        const NOAPPEND = 0x20;
        /// Linux 6.11.
        const ATOMIC = 0x40;
        /// Linux 6.14.
        const DONTCACHE = 0x80;
    }
}

bitflags::bitflags! {
    /// `IORING_FSYNC_*`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FsyncFlags: u32 {
        /// `fdatasync` instead of `fsync`.
        const DATASYNC = crate::abi::IORING_FSYNC_DATASYNC;
    }
}

/// "Read/write at the file position", the offset `-1` of `preadv2`.
pub const CURRENT_POSITION: u64 = u64::MAX;

macro_rules! rw_op {
    ($(#[$doc:meta])* $name:ident, $opcode:expr, $fixed_opcode:expr, $ptr:ty, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name {
            common: Common,
            target: Target,
            addr: $ptr,
            len: u32,
            offset: u64,
            rw_flags: RwFlags,
            fixed_buffer: Option<u16>,
        }

        impl $name {
            #[doc = concat!("An op on `target` with ", $what, " at `addr` (`len` of them). The memory must stay valid until the CQE arrives.")]
            #[inline]
            pub fn new(target: impl Into<Target>, addr: $ptr, len: u32) -> $name {
                $name {
                    common: Common::default(),
                    target: target.into(),
                    addr,
                    len,
                    offset: CURRENT_POSITION,
                    rw_flags: RwFlags::empty(),
                    fixed_buffer: None,
                }
            }
            /// File offset; the default is the file position (offset `-1`).
            #[inline]
            pub fn offset(mut self, offset: u64) -> $name {
                self.offset = offset;
                self
            }
            /// `RWF_*` flags.
            #[inline]
            pub fn rw_flags(mut self, flags: RwFlags) -> $name {
                self.rw_flags = flags;
                self
            }
            /// Use registered buffer `index`; the memory must lie inside it.
            #[inline]
            pub fn fixed_buffer(mut self, index: u16) -> $name {
                self.fixed_buffer = Some(index);
                self
            }
        }

        common_setters!($name);

        impl PrepareSqe for $name {
            #[inline(always)]
            fn prepare(self, sqe: &mut Sqe) {
                let (fd, extra) = self.target.encode();
                let opcode = if self.fixed_buffer.is_some() { $fixed_opcode } else { $opcode };
                *sqe = Sqe {
                    opcode: opcode as u8,
                    flags: (self.common.flags | extra).bits(),
                    ioprio: 0,
                    fd,
                    off: self.offset,
                    addr: self.addr as u64,
                    len: self.len,
                    op_flags: self.rw_flags.bits(),
                    user_data: self.common.user_data,
                    buf_index: self.fixed_buffer.unwrap_or(0),
                    personality: self.common.personality,
                    file_index: 0,
                    addr3: 0,
                    pad2: 0,
                };
            }
        }
    };
}

rw_op!(
    /// `IORING_OP_READ` (`READ_FIXED` with a fixed buffer): like `pread(2)`.
    Read, opc::IORING_OP_READ, opc::IORING_OP_READ_FIXED, *mut u8, "a buffer"
);
rw_op!(
    /// `IORING_OP_WRITE` (`WRITE_FIXED` with a fixed buffer): like `pwrite(2)`.
    Write, opc::IORING_OP_WRITE, opc::IORING_OP_WRITE_FIXED, *const u8, "a buffer"
);
rw_op!(
    /// `IORING_OP_READV` (`READV_FIXED` with a fixed buffer, Linux 6.15): like `preadv2(2)`.
    Readv, opc::IORING_OP_READV, opc::IORING_OP_READV_FIXED, *const super::Iovec, "iovecs"
);
rw_op!(
    /// `IORING_OP_WRITEV` (`WRITEV_FIXED` with a fixed buffer, Linux 6.15): like `pwritev2(2)`.
    Writev, opc::IORING_OP_WRITEV, opc::IORING_OP_WRITEV_FIXED, *const super::Iovec, "iovecs"
);

/// `IORING_OP_FSYNC`: `fsync(2)` or, with `DATASYNC`, `fdatasync(2)`.
#[derive(Debug, Clone, Copy)]
pub struct Fsync {
    common: Common,
    target: Target,
    flags: FsyncFlags,
    offset: u64,
    len: u32,
}

impl Fsync {
    #[inline]
    pub fn new(target: impl Into<Target>) -> Fsync {
        Fsync { common: Common::default(), target: target.into(), flags: FsyncFlags::empty(), offset: 0, len: 0 }
    }
    /// `IORING_FSYNC_*` flags.
    #[inline]
    pub fn fsync_flags(mut self, flags: FsyncFlags) -> Fsync {
        self.flags = flags;
        self
    }
    /// Only sync `len` bytes from `offset` (0 = to the end).
    #[inline]
    pub fn range(mut self, offset: u64, len: u32) -> Fsync {
        self.offset = offset;
        self.len = len;
        self
    }
}

common_setters!(Fsync);

impl PrepareSqe for Fsync {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let (fd, extra) = self.target.encode();
        let common = Common { flags: self.common.flags | extra, ..self.common };
        super::fill(sqe, &common, opc::IORING_OP_FSYNC as u8, fd, self.offset, 0, self.len, self.flags.bits());
    }
}

impl SafeOp for Fsync {}

/// `IORING_OP_READ` into a buffer the kernel picks from provided-buffer group
/// `group` (`IOSQE_BUFFER_SELECT`); the CQE's [`buffer_id`](crate::Cqe::buffer_id)
/// says which. Carries no pointer, so it is a [`SafeOp`]: the buffers'
/// lifetime is the registration's business.
#[derive(Debug, Clone, Copy)]
pub struct ReadProvided {
    common: Common,
    target: Target,
    group: u16,
    len: u32,
    offset: u64,
    rw_flags: RwFlags,
}

impl ReadProvided {
    /// Read up to `len` bytes (at most the buffer's size) from `target`.
    #[inline]
    pub fn new(target: impl Into<Target>, group: u16, len: u32) -> ReadProvided {
        ReadProvided {
            common: Common::default(),
            target: target.into(),
            group,
            len,
            offset: CURRENT_POSITION,
            rw_flags: RwFlags::empty(),
        }
    }
    /// File offset; the default is the file position.
    #[inline]
    pub fn offset(mut self, offset: u64) -> ReadProvided {
        self.offset = offset;
        self
    }
    /// `RWF_*` flags.
    #[inline]
    pub fn rw_flags(mut self, flags: RwFlags) -> ReadProvided {
        self.rw_flags = flags;
        self
    }
}

common_setters!(ReadProvided);

impl PrepareSqe for ReadProvided {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let common = Common { flags: self.common.flags | SqeFlags::BUFFER_SELECT, ..self.common };
        *sqe = Sqe {
            off: self.offset,
            len: self.len,
            op_flags: self.rw_flags.bits(),
            buf_index: self.group,
            ..base_on(&common, opcode::READ, self.target)
        };
    }
}

impl SafeOp for ReadProvided {}

/// `IORING_OP_READ_MULTISHOT` (Linux 6.7): keep reading from a pollable file
/// (pipe, socket, eventfd, ...) into buffers of provided-buffer group `group`,
/// one CQE per read with [`more`](crate::Cqe::more) set while it stays armed.
/// A multishot read without a buffer group cannot be built: the group is the
/// constructor's argument.
#[derive(Debug, Clone, Copy)]
pub struct ReadMulti {
    common: Common,
    target: Target,
    group: u16,
    len: u32,
    offset: u64,
}

impl ReadMulti {
    #[inline]
    pub fn new(target: impl Into<Target>, group: u16) -> ReadMulti {
        ReadMulti { common: Common::default(), target: target.into(), group, len: 0, offset: 0 }
    }
    /// Read at most `len` bytes per CQE (0, the default: the buffer's size).
    #[inline]
    pub fn len(mut self, len: u32) -> ReadMulti {
        self.len = len;
        self
    }
    /// File offset (0 for streams, the default).
    #[inline]
    pub fn offset(mut self, offset: u64) -> ReadMulti {
        self.offset = offset;
        self
    }
}

common_setters!(ReadMulti);

impl PrepareSqe for ReadMulti {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let common = Common { flags: self.common.flags | SqeFlags::BUFFER_SELECT, ..self.common };
        *sqe = Sqe {
            off: self.offset,
            len: self.len,
            buf_index: self.group,
            ..base_on(&common, opcode::READ_MULTISHOT, self.target)
        };
    }
}

impl SafeOp for ReadMulti {}
