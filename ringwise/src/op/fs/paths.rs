//! Names: `RENAMEAT`, `UNLINKAT`, `MKDIRAT`, `SYMLINKAT`, `LINKAT`. Every op
//! here takes paths, read by the kernel when the op runs: keep them valid
//! until the CQE is reaped.

use super::{cstr, AtFlags, Mode, RenameFlags};
use crate::entry::Sqe;
use crate::op::{base, Common, PrepareSqe};
use std::ffi::CStr;
use std::os::fd::RawFd;

/// `IORING_OP_RENAMEAT` (Linux 5.11): `renameat2(2)`; `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct RenameAt {
    pub(crate) common: Common,
    old_dirfd: RawFd,
    old: u64,
    new_dirfd: RawFd,
    new: u64,
    flags: RenameFlags,
}

impl RenameAt {
    /// Rename `old` (relative to `old_dirfd`) to `new` (relative to
    /// `new_dirfd`). Both paths are read when the op runs: keep them valid
    /// until the CQE is reaped.
    #[inline]
    pub fn new(old_dirfd: RawFd, old: &CStr, new_dirfd: RawFd, new: &CStr) -> RenameAt {
        RenameAt {
            common: Common::default(),
            old_dirfd,
            old: cstr(old),
            new_dirfd,
            new: cstr(new),
            flags: RenameFlags::empty(),
        }
    }
    /// `RENAME_*` flags (no-replace, exchange, whiteout).
    #[inline]
    pub fn rename_flags(mut self, flags: RenameFlags) -> RenameAt {
        self.flags = flags;
        self
    }
}

/// `IORING_OP_UNLINKAT` (Linux 5.11): `unlinkat(2)` (with
/// [`dir`](Self::dir), `rmdir(2)`); `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct UnlinkAt {
    pub(crate) common: Common,
    dirfd: RawFd,
    path: u64,
    flags: AtFlags,
}

impl UnlinkAt {
    /// Remove the name `path` (relative to `dirfd`); `path` must stay valid
    /// until the CQE is reaped.
    #[inline]
    pub fn new(dirfd: RawFd, path: &CStr) -> UnlinkAt {
        UnlinkAt { common: Common::default(), dirfd, path: cstr(path), flags: AtFlags::empty() }
    }
    /// Remove a directory (`AT_REMOVEDIR`).
    #[inline]
    pub fn dir(mut self) -> UnlinkAt {
        self.flags |= AtFlags::REMOVEDIR;
        self
    }
}

/// `IORING_OP_MKDIRAT` (Linux 5.15): `mkdirat(2)`; `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct MkdirAt {
    pub(crate) common: Common,
    dirfd: RawFd,
    path: u64,
    mode: Mode,
}

impl MkdirAt {
    /// Create directory `path` (relative to `dirfd`) with permissions `mode`
    /// (less the umask); `path` must stay valid until the CQE is reaped.
    #[inline]
    pub fn new(dirfd: RawFd, path: &CStr, mode: Mode) -> MkdirAt {
        MkdirAt { common: Common::default(), dirfd, path: cstr(path), mode }
    }
}

/// `IORING_OP_SYMLINKAT` (Linux 5.15): `symlinkat(2)`: make `link` (relative to `dirfd`)
/// point at `target`.
#[derive(Debug, Clone, Copy)]
pub struct SymlinkAt {
    pub(crate) common: Common,
    target: u64,
    dirfd: RawFd,
    link: u64,
}

impl SymlinkAt {
    /// A symlink `link` (relative to `dirfd`) whose content is `target`;
    /// both strings must stay valid until the CQE is reaped.
    #[inline]
    pub fn new(target: &CStr, dirfd: RawFd, link: &CStr) -> SymlinkAt {
        SymlinkAt { common: Common::default(), target: cstr(target), dirfd, link: cstr(link) }
    }
}

/// `IORING_OP_LINKAT` (Linux 5.15): `linkat(2)`, a hard link; `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct LinkAt {
    pub(crate) common: Common,
    old_dirfd: RawFd,
    old: u64,
    new_dirfd: RawFd,
    new: u64,
    flags: AtFlags,
}

impl LinkAt {
    /// A new name `new` (relative to `new_dirfd`) for the file `old`
    /// (relative to `old_dirfd`); both paths must stay valid until the CQE is
    /// reaped.
    #[inline]
    pub fn new(old_dirfd: RawFd, old: &CStr, new_dirfd: RawFd, new: &CStr) -> LinkAt {
        LinkAt {
            common: Common::default(),
            old_dirfd,
            old: cstr(old),
            new_dirfd,
            new: cstr(new),
            flags: AtFlags::empty(),
        }
    }
    /// `AT_SYMLINK_FOLLOW` / `AT_EMPTY_PATH`.
    #[inline]
    pub fn at_flags(mut self, flags: AtFlags) -> LinkAt {
        self.flags = flags;
        self
    }
}

impl PrepareSqe for RenameAt {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.old,
            len: self.new_dirfd as u32,
            off: self.new,
            op_flags: self.flags.bits(),
            ..base(&self.common, Self::CODE, self.old_dirfd)
        };
    }
}

impl PrepareSqe for UnlinkAt {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.path, op_flags: self.flags.bits(), ..base(&self.common, Self::CODE, self.dirfd) };
    }
}

impl PrepareSqe for MkdirAt {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.path, len: self.mode.bits(), ..base(&self.common, Self::CODE, self.dirfd) };
    }
}

impl PrepareSqe for SymlinkAt {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.target, off: self.link, ..base(&self.common, Self::CODE, self.dirfd) };
    }
}

impl PrepareSqe for LinkAt {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.old,
            len: self.new_dirfd as u32,
            off: self.new,
            op_flags: self.flags.bits(),
            ..base(&self.common, Self::CODE, self.old_dirfd)
        };
    }
}
