//! Metadata, space and caching: `STATX`, `FALLOCATE`, `FADVISE`, `MADVISE`,
//! `FTRUNCATE`, `SYNC_FILE_RANGE`.

use super::{cstr, split_len, Advice, AtFlags, StatxBuf, SyncFileRangeFlags};
use crate::entry::Sqe;
use crate::op::{base, Common, PrepareSqe, SafeOp, Target};
use std::ffi::CStr;
use std::os::fd::RawFd;

/// `IORING_OP_STATX` (Linux 5.6): `statx(2)` into `buf`; `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct Statx {
    pub(crate) common: Common,
    dirfd: RawFd,
    path: u64,
    buf: *mut StatxBuf,
    mask: u32,
    flags: AtFlags,
}

impl Statx {
    /// Stat `path` (relative to `dirfd`; with `AT_EMPTY_PATH` and `c""`,
    /// `dirfd` itself) into `buf`. `mask` is the `STATX_*` fields wanted
    /// (e.g. `STATX_BASIC_STATS`). `path` and `buf` must stay valid and
    /// unmoved until the CQE is reaped.
    #[inline]
    pub fn new(dirfd: RawFd, path: &CStr, mask: u32, buf: *mut StatxBuf) -> Statx {
        Statx { common: Common::default(), dirfd, path: cstr(path), buf, mask, flags: AtFlags::empty() }
    }
    /// `AT_*` flags (`EMPTY_PATH` to stat `dirfd` itself, `SYMLINK_NOFOLLOW`).
    #[inline]
    pub fn at_flags(mut self, flags: AtFlags) -> Statx {
        self.flags = flags;
        self
    }
}

/// `IORING_OP_FALLOCATE` (Linux 5.6): `fallocate(2)`; `res` is 0. Carries
/// no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct Fallocate {
    pub(crate) common: Common,
    target: Target,
    offset: u64,
    len: u64,
    mode: u32,
}

impl Fallocate {
    /// Allocate `len` bytes at `offset` of `target` (extending the file
    /// unless [`mode`](Self::mode) says otherwise).
    #[inline]
    pub fn new(target: impl Into<Target>, offset: u64, len: u64) -> Fallocate {
        Fallocate { common: Common::default(), target: target.into(), offset, len, mode: 0 }
    }
    /// `FALLOC_FL_*` mode bits (0: allocate and extend the size).
    #[inline]
    pub fn mode(mut self, mode: u32) -> Fallocate {
        self.mode = mode;
        self
    }
}

/// `IORING_OP_FADVISE` (Linux 5.6): `posix_fadvise(2)`; `res` is 0.
/// Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct Fadvise {
    pub(crate) common: Common,
    target: Target,
    offset: u64,
    len: u64,
    advice: Advice,
}

impl Fadvise {
    /// Tell the kernel how `len` bytes at `offset` of `target` will be used
    /// (0 bytes: to the end); lengths past 4 GiB need Linux 6.10.
    #[inline]
    pub fn new(target: impl Into<Target>, offset: u64, len: u64, advice: Advice) -> Fadvise {
        Fadvise { common: Common::default(), target: target.into(), offset, len, advice }
    }
}

/// `IORING_OP_MADVISE` (Linux 5.6): `madvise(2)` on this process's memory;
/// `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct Madvise {
    pub(crate) common: Common,
    addr: *mut u8,
    len: u64,
    advice: u32,
}

impl Madvise {
    /// Give `advice` (an `MADV_*` value) for `len` bytes at `addr` of this
    /// process's memory (lengths past 4 GiB need Linux 6.10). The range is
    /// only used as an address when the op runs; it must stay mapped (and,
    /// for destructive advice like `MADV_DONTNEED`, hold nothing still in
    /// use) until the CQE is reaped.
    #[inline]
    pub fn new(addr: *mut u8, len: u64, advice: u32) -> Madvise {
        Madvise { common: Common::default(), addr, len, advice }
    }
}

/// `IORING_OP_FTRUNCATE` (Linux 6.9): `ftruncate(2)`; `res` is 0. Carries
/// no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct Ftruncate {
    pub(crate) common: Common,
    target: Target,
    len: u64,
}

impl Ftruncate {
    /// Truncate or extend `target` to `len` bytes.
    #[inline]
    pub fn new(target: impl Into<Target>, len: u64) -> Ftruncate {
        Ftruncate { common: Common::default(), target: target.into(), len }
    }
}

/// `IORING_OP_SYNC_FILE_RANGE` (Linux 5.2): `sync_file_range(2)`; `res` is
/// 0. Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct SyncFileRange {
    pub(crate) common: Common,
    target: Target,
    offset: u64,
    len: u32,
    flags: SyncFileRangeFlags,
}

impl SyncFileRange {
    /// Start and/or wait for writeback (as `flags` say) of `len` bytes at
    /// `offset` of `target` (0 bytes: to the end).
    #[inline]
    pub fn new(target: impl Into<Target>, offset: u64, len: u32, flags: SyncFileRangeFlags) -> SyncFileRange {
        SyncFileRange { common: Common::default(), target: target.into(), offset, len, flags }
    }
}

impl PrepareSqe for Statx {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.path,
            len: self.mask,
            off: self.buf as u64,
            op_flags: self.flags.bits(),
            ..base(&self.common, Self::CODE, self.dirfd)
        };
    }
}

impl PrepareSqe for Fallocate {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { off: self.offset, addr: self.len, len: self.mode, ..base(&self.common, Self::CODE, self.target) };
    }
}

impl PrepareSqe for Fadvise {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let (short, long) = split_len(self.len);
        *sqe = Sqe {
            off: self.offset,
            len: short,
            addr: long,
            op_flags: self.advice as u32,
            ..base(&self.common, Self::CODE, self.target)
        };
    }
}

impl PrepareSqe for Madvise {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let (short, long) = split_len(self.len);
        *sqe = Sqe {
            addr: self.addr as u64,
            len: short,
            off: long,
            op_flags: self.advice,
            ..base(&self.common, Self::CODE, -1)
        };
    }
}

impl PrepareSqe for Ftruncate {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { off: self.len, ..base(&self.common, Self::CODE, self.target) };
    }
}

impl PrepareSqe for SyncFileRange {
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

impl SafeOp for Fallocate {}

impl SafeOp for Fadvise {}

impl SafeOp for Ftruncate {}

impl SafeOp for SyncFileRange {}
