//! Reads, writes and syncs: `READ`, `WRITE`, `READV`, `WRITEV` and their
//! fixed-buffer forms (`READ_FIXED`, `WRITE_FIXED`, `READV_FIXED`,
//! `WRITEV_FIXED`), reads into provided buffers, `READ_MULTISHOT`, `FSYNC`.
//!
//! A write then a read of a temporary file. The buffers are pointers the
//! kernel uses while the op runs, so the ops go through `push_unchecked`;
//! the pattern that makes that sound is to keep the buffer in a local that
//! outlives the reaping of the CQE:
//!
//! ```
//! use ringwise::op::{Fsync, Read, Target, Write};
//! use ringwise::Ring;
//! use std::os::fd::AsRawFd;
//!
//! let path = std::env::temp_dir().join(format!("ringwise-doc-rw-{}", std::process::id()));
//! let file = std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path)?;
//! let mut ring = Ring::new(8)?;
//! // SAFETY: `file` stays open until the end of the example, after every
//! // op's CQE is reaped.
//! let fd = unsafe { Target::fd(file.as_raw_fd()) };
//!
//! let data = *b"hello, ring";
//! // SAFETY: `data` lives (unmoved) until the write's CQE is reaped below.
//! unsafe { ring.submission().push_unchecked(Write::new(fd, data.as_ptr(), data.len() as u32).offset(0).user_data(1)) }
//!     .unwrap();
//! ring.submission().push(Fsync::new(fd).user_data(2)).unwrap();
//! ring.submit_and_wait(2)?;
//! let res: Vec<_> = ring.completions()?.map(|c| c.res).collect();
//! assert_eq!(res, [data.len() as i32, 0]);
//!
//! let mut back = [0u8; 32];
//! // SAFETY: `back` lives (unmoved, not otherwise borrowed) until the CQE.
//! unsafe { ring.submission().push_unchecked(Read::new(fd, back.as_mut_ptr(), 32).offset(0).user_data(3)) }.unwrap();
//! ring.submit_and_wait(1)?;
//! let n = ring.completion().next().unwrap().res as usize;
//! assert_eq!(&back[..n], b"hello, ring");
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{base, Common, Iovec, PrepareSqe, SafeOp, Target};
use crate::entry::Sqe;
use crate::flags::SqeFlags;

bitflags::bitflags! {
    /// `RWF_*` flags of `preadv2`/`pwritev2`, for reads and writes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct RwFlags: u32 {
        /// Poll for completion (`RWF_HIPRI`; `IOPOLL` rings).
        const HIPRI = linux_raw_sys::general::RWF_HIPRI;
        /// Per-I/O `O_DSYNC`.
        const DSYNC = linux_raw_sys::general::RWF_DSYNC;
        /// Per-I/O `O_SYNC`.
        const SYNC = linux_raw_sys::general::RWF_SYNC;
        /// Fail with `-EAGAIN` instead of blocking.
        const NOWAIT = linux_raw_sys::general::RWF_NOWAIT;
        /// Per-I/O `O_APPEND`.
        const APPEND = linux_raw_sys::general::RWF_APPEND;
        /// Ignore `O_APPEND` for this write (Linux 6.9).
        const NOAPPEND = 0x20;
        /// Write all or nothing (Linux 6.11).
        const ATOMIC = 0x40;
        /// Buffered I/O that drops the pages after it (Linux 6.14).
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

/// The options every read and write shares: where, and the `RWF_*` flags.
#[derive(Debug, Clone, Copy)]
struct RwOpts {
    offset: u64,
    rw_flags: RwFlags,
}

impl Default for RwOpts {
    fn default() -> RwOpts {
        RwOpts { offset: CURRENT_POSITION, rw_flags: RwFlags::empty() }
    }
}

/// `IORING_OP_READ` (Linux 5.6), or `READ_FIXED` (5.1) with a registered
/// buffer: like `pread(2)`/`preadv2(2)` into one buffer; `res` is the bytes
/// read (0 at end of file).
#[derive(Debug, Clone, Copy)]
pub struct Read {
    pub(crate) common: Common,
    target: Target,
    buf: *mut u8,
    len: u32,
    opts: RwOpts,
    fixed_buffer: Option<u16>,
}

impl Read {
    /// Read up to `len` bytes from `target` into `buf`, at the file position
    /// unless [`offset`](Self::offset) says where. `buf` must be valid for
    /// `len` bytes of writes, and stay valid and unmoved (and not otherwise
    /// accessed) until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, buf: *mut u8, len: u32) -> Read {
        Read { common: Common::default(), target: target.into(), buf, len, opts: RwOpts::default(), fixed_buffer: None }
    }
}

/// `IORING_OP_WRITE` (Linux 5.6), or `WRITE_FIXED` (5.1) with a registered
/// buffer: like `pwrite(2)`/`pwritev2(2)` from one buffer; `res` is the bytes
/// written.
#[derive(Debug, Clone, Copy)]
pub struct Write {
    pub(crate) common: Common,
    target: Target,
    buf: *const u8,
    len: u32,
    opts: RwOpts,
    fixed_buffer: Option<u16>,
}

impl Write {
    /// Write `len` bytes from `buf` to `target`, at the file position unless
    /// [`offset`](Self::offset) says where. `buf` must be valid for `len`
    /// bytes of reads and stay valid and unmoved until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, buf: *const u8, len: u32) -> Write {
        Write {
            common: Common::default(),
            target: target.into(),
            buf,
            len,
            opts: RwOpts::default(),
            fixed_buffer: None,
        }
    }
}

/// `IORING_OP_READV` (Linux 5.1), or `READV_FIXED` (6.15) with a registered
/// buffer: `preadv2(2)` into several buffers; `res` is the bytes read.
#[derive(Debug, Clone, Copy)]
pub struct Readv {
    pub(crate) common: Common,
    target: Target,
    iovecs: *const Iovec,
    count: u32,
    opts: RwOpts,
    fixed_buffer: Option<u16>,
    group: Option<u16>,
}

impl Readv {
    /// Read from `target` into the `count` buffers described by the iovec
    /// array `iovecs`. The array and every buffer it names must stay valid
    /// and unmoved until the CQE is reaped (the kernel may read the array
    /// late, when the read goes async).
    #[inline]
    pub fn new(target: impl Into<Target>, iovecs: *const Iovec, count: u32) -> Readv {
        Readv {
            common: Common::default(),
            target: target.into(),
            iovecs,
            count,
            opts: RwOpts::default(),
            fixed_buffer: None,
            group: None,
        }
    }

    /// Read from `target` into a buffer the kernel picks from provided-buffer
    /// group `group` (`IOSQE_BUFFER_SELECT` on `READV`, Linux 5.7; buffer
    /// rings 5.19); the CQE's [`buffer_id`](crate::Cqe::buffer_id) says
    /// which.
    ///
    /// The kernel's rules for a vectored read with a buffer group: exactly
    /// one iovec (the count is 1 here; any other count is `-EINVAL`), whose
    /// `iov_len` caps the read (at most the picked buffer's size) and whose
    /// `iov_base` is ignored. The kernel copies that iovec when it prepares
    /// the op, so `*iovec` must stay valid until `submit` returns (until the
    /// CQE is the simple rule); the data lands in the provided buffer, not
    /// in caller memory. Not combinable with
    /// [`fixed_buffer`](Readv::fixed_buffer) ([`check`](fn@super::check)
    /// refuses it).
    #[inline]
    pub fn provided(target: impl Into<Target>, iovec: *const Iovec, group: u16) -> Readv {
        Readv { group: Some(group), ..Readv::new(target, iovec, 1) }
    }
}

/// `IORING_OP_WRITEV` (Linux 5.1), or `WRITEV_FIXED` (6.15) with a
/// registered buffer: `pwritev2(2)` from several buffers; `res` is the bytes
/// written.
#[derive(Debug, Clone, Copy)]
pub struct Writev {
    pub(crate) common: Common,
    target: Target,
    iovecs: *const Iovec,
    count: u32,
    opts: RwOpts,
    fixed_buffer: Option<u16>,
}

impl Writev {
    /// Write the `count` buffers described by the iovec array `iovecs` to
    /// `target`. The array and every buffer it names must stay valid and
    /// unmoved until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, iovecs: *const Iovec, count: u32) -> Writev {
        Writev {
            common: Common::default(),
            target: target.into(),
            iovecs,
            count,
            opts: RwOpts::default(),
            fixed_buffer: None,
        }
    }
}

setters!(impl Read, Write, Readv, Writev, ReadProvided {
    /// File offset; the default is the file position ([`CURRENT_POSITION`],
    /// which streams such as pipes and sockets need).
    #[inline]
    pub fn offset(mut self, offset: u64) -> Self {
        self.opts.offset = offset;
        self
    }
    /// `RWF_*` flags, as `preadv2`/`pwritev2` take them.
    #[inline]
    pub fn rw_flags(mut self, flags: RwFlags) -> Self {
        self.opts.rw_flags = flags;
        self
    }
});

setters!(impl Read, Write, Readv, Writev {
    /// Use registered buffer `index` (the `*_FIXED` opcode, `FIXED_CODE`):
    /// the memory must lie inside that buffer, and the kernel skips pinning
    /// it per I/O. [`check`](fn@super::check) catches an index past the table.
    #[inline]
    pub fn fixed_buffer(mut self, index: u16) -> Self {
        self.fixed_buffer = Some(index);
        self
    }
});

impl PrepareSqe for Read {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let code = if self.fixed_buffer.is_some() { Self::FIXED_CODE } else { Self::CODE };
        *sqe = Sqe {
            off: self.opts.offset,
            addr: self.buf as u64,
            len: self.len,
            op_flags: self.opts.rw_flags.bits(),
            buf_index: self.fixed_buffer.unwrap_or(0),
            ..base(&self.common, code, self.target)
        };
    }
}

impl PrepareSqe for Write {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let code = if self.fixed_buffer.is_some() { Self::FIXED_CODE } else { Self::CODE };
        *sqe = Sqe {
            off: self.opts.offset,
            addr: self.buf as u64,
            len: self.len,
            op_flags: self.opts.rw_flags.bits(),
            buf_index: self.fixed_buffer.unwrap_or(0),
            ..base(&self.common, code, self.target)
        };
    }
}

impl PrepareSqe for Readv {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let code = if self.fixed_buffer.is_some() { Self::FIXED_CODE } else { Self::CODE };
        let select = if self.group.is_some() { SqeFlags::BUFFER_SELECT } else { SqeFlags::empty() };
        *sqe = Sqe {
            off: self.opts.offset,
            addr: self.iovecs as u64,
            len: self.count,
            op_flags: self.opts.rw_flags.bits(),
            buf_index: self.group.or(self.fixed_buffer).unwrap_or(0),
            ..base(&self.common.with(select), code, self.target)
        };
    }
}

impl PrepareSqe for Writev {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let code = if self.fixed_buffer.is_some() { Self::FIXED_CODE } else { Self::CODE };
        *sqe = Sqe {
            off: self.opts.offset,
            addr: self.iovecs as u64,
            len: self.count,
            op_flags: self.opts.rw_flags.bits(),
            buf_index: self.fixed_buffer.unwrap_or(0),
            ..base(&self.common, code, self.target)
        };
    }
}

/// `IORING_OP_FSYNC` (Linux 5.1): `fsync(2)` or, with `DATASYNC`,
/// `fdatasync(2)`; `res` is 0. Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct Fsync {
    pub(crate) common: Common,
    target: Target,
    flags: FsyncFlags,
    offset: u64,
    len: u32,
}

impl Fsync {
    /// Flush `target`'s data and metadata to its device.
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

impl PrepareSqe for Fsync {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            off: self.offset,
            len: self.len,
            op_flags: self.flags.bits(),
            ..base(&self.common, Self::CODE, self.target)
        };
    }
}

impl SafeOp for Fsync {}

/// `IORING_OP_READ` into a buffer the kernel picks from provided-buffer group
/// `group` (`IOSQE_BUFFER_SELECT`, Linux 5.7; buffer rings 5.19); the CQE's
/// [`buffer_id`](crate::Cqe::buffer_id) says which. Carries no pointer, so it
/// is a [`SafeOp`]: the buffers' lifetime is the registration's business.
#[derive(Debug, Clone, Copy)]
pub struct ReadProvided {
    pub(crate) common: Common,
    target: Target,
    group: u16,
    len: u32,
    opts: RwOpts,
}

impl ReadProvided {
    /// Read up to `len` bytes (at most the picked buffer's size) from
    /// `target` into a buffer of group `group`. An empty group fails the read
    /// with `-ENOBUFS`.
    #[inline]
    pub fn new(target: impl Into<Target>, group: u16, len: u32) -> ReadProvided {
        ReadProvided { common: Common::default(), target: target.into(), group, len, opts: RwOpts::default() }
    }
}

impl PrepareSqe for ReadProvided {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            off: self.opts.offset,
            len: self.len,
            op_flags: self.opts.rw_flags.bits(),
            buf_index: self.group,
            ..base(&self.common.with(SqeFlags::BUFFER_SELECT), Self::CODE, self.target)
        };
    }
}

impl SafeOp for ReadProvided {}

/// `IORING_OP_READ_MULTISHOT` (Linux 6.7): keep reading from a pollable file
/// (pipe, socket, eventfd, ...) into buffers of provided-buffer group `group`,
/// one CQE per read with [`more`](crate::Cqe::more) set while it stays armed.
/// A multishot read without a buffer group cannot be built: the group is the
/// constructor's argument. Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct ReadMulti {
    pub(crate) common: Common,
    target: Target,
    group: u16,
    len: u32,
    offset: u64,
}

impl ReadMulti {
    /// Read from `target` (which must support polling) into buffers of group
    /// `group` until an error, end of file or a cancel stops it; the last
    /// CQE lacks `more`. An empty group stops it with `-ENOBUFS`.
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

impl PrepareSqe for ReadMulti {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            off: self.offset,
            len: self.len,
            buf_index: self.group,
            ..base(&self.common.with(SqeFlags::BUFFER_SELECT), Self::CODE, self.target)
        };
    }
}

impl SafeOp for ReadMulti {}
