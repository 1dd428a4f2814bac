//! Descriptors: `OPENAT`, `OPENAT2`, `CLOSE` (plain and fixed),
//! `FIXED_FD_INSTALL` and `PIPE`.

use super::{cstr, Mode, OFlags, OpenHow};
use crate::entry::Sqe;
use crate::flags::SqeFlags;
use crate::op::{base, Common, DirectSlot, Kind, PrepareSqe, SafeOp, Target};
use std::ffi::CStr;
use std::os::fd::RawFd;

/// `IORING_OP_OPENAT` (Linux 5.6): `openat(2)`, optionally into a direct
/// descriptor slot (Linux 5.15); `res` is the new fd (or, with
/// [`direct`](Self::direct), 0 or the allocated slot).
#[derive(Debug, Clone, Copy)]
pub struct OpenAt {
    pub(crate) common: Common,
    dirfd: RawFd,
    path: u64,
    flags: OFlags,
    mode: Mode,
    direct: Option<DirectSlot>,
}

impl OpenAt {
    /// Open `path` relative to `dirfd` ([`AT_FDCWD`](super::AT_FDCWD) for the
    /// working directory) with `O_*` `flags`. `path` is read when the op
    /// runs: keep it valid until the CQE is reaped.
    #[inline]
    pub fn new(dirfd: RawFd, path: &CStr, flags: OFlags) -> OpenAt {
        OpenAt { common: Common::default(), dirfd, path: cstr(path), flags, mode: Mode::empty(), direct: None }
    }
    /// Permissions for a created file.
    #[inline]
    pub fn mode(mut self, mode: Mode) -> OpenAt {
        self.mode = mode;
        self
    }
    /// Install the file in the registered table instead of returning an fd.
    #[inline]
    pub fn direct(mut self, slot: DirectSlot) -> OpenAt {
        self.direct = Some(slot);
        self
    }
}

/// `IORING_OP_OPENAT2` (Linux 5.6): `openat2(2)` with a `struct open_how`
/// (resolve flags), optionally into a direct descriptor slot; `res` is the
/// new fd (or the slot).
#[derive(Debug, Clone, Copy)]
pub struct OpenAt2 {
    pub(crate) common: Common,
    dirfd: RawFd,
    path: u64,
    how: *const OpenHow,
    direct: Option<DirectSlot>,
}

impl OpenAt2 {
    /// Open `path` relative to `dirfd` as `how` says (flags, mode,
    /// `RESOLVE_*`). `path` and `how` are read when the op runs: keep both
    /// valid until the CQE is reaped.
    #[inline]
    pub fn new(dirfd: RawFd, path: &CStr, how: &OpenHow) -> OpenAt2 {
        OpenAt2 { common: Common::default(), dirfd, path: cstr(path), how, direct: None }
    }
    /// Install the file in the registered table instead of returning an fd.
    #[inline]
    pub fn direct(mut self, slot: DirectSlot) -> OpenAt2 {
        self.direct = Some(slot);
        self
    }
}

/// `IORING_OP_CLOSE` (Linux 5.6): `close(2)` of an fd, or (for
/// [`Target::fixed`], Linux 5.15) removal of a registered file from the
/// table; `res` is 0.
///
/// Not a [`SafeOp`]: closing a plain descriptor ends whatever owns it (a
/// `File`, an `OwnedFd`, a mapping's backing fd), which would then use or
/// close a number that may already name another file (I/O safety). Push it
/// with `push_unchecked`, which here also promises that the caller owns the
/// fd and nothing uses it afterwards. To remove a registered file with the
/// safe `push`, use [`CloseFixed`].
#[derive(Debug, Clone, Copy)]
pub struct Close {
    pub(crate) common: Common,
    target: Target,
}

impl Close {
    /// Close `target`. Pushing it promises the caller owns the fd and
    /// nothing uses it afterwards (see above).
    #[inline]
    pub fn new(target: impl Into<Target>) -> Close {
        Close { common: Common::default(), target: target.into() }
    }
}

/// `IORING_OP_CLOSE` of a registered file (Linux 5.15,
/// `io_uring_prep_close_direct`):
/// empties that slot of the ring's file table. It touches no descriptor of
/// the process, so it is a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct CloseFixed {
    pub(crate) common: Common,
    index: u32,
}

impl CloseFixed {
    /// Empty slot `index` of the registered file table (`-EBADF` if it is
    /// empty).
    #[inline]
    pub fn new(index: u32) -> CloseFixed {
        CloseFixed { common: Common::default(), index }
    }
}

/// The SQE of a close: `fd` for a plain descriptor, or `file_index` = slot + 1
/// with `fd` 0 for a registered file (the kernel refuses `IOSQE_FIXED_FILE`
/// on CLOSE). A slot of `u32::MAX` has no `slot + 1`: it saturates to a slot
/// the kernel refuses (EINVAL) rather than wrapping to 0, which would close
/// plain fd 0.
#[inline(always)]
fn close_sqe(common: &Common, target: Target) -> Sqe {
    let (fd, slot) = match target.kind() {
        Kind::Fd(fd) => (fd, 0),
        Kind::Fixed(i) => (0, i.saturating_add(1)),
    };
    Sqe { file_index: slot, ..base(common, Close::CODE, fd) }
}

/// `IORING_OP_FIXED_FD_INSTALL` (Linux 6.8): turn registered file `index`
/// into a normal fd of this process (`res`), close-on-exec unless
/// [`no_cloexec`](Self::no_cloexec). The index is the only argument, so a
/// plain fd cannot be passed by mistake. Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct FixedFdInstall {
    pub(crate) common: Common,
    index: u32,
    flags: u32,
}

impl FixedFdInstall {
    /// Install registered file `index` as a new descriptor.
    #[inline]
    pub fn new(index: u32) -> FixedFdInstall {
        FixedFdInstall { common: Common::default(), index, flags: 0 }
    }
    /// Leave `O_CLOEXEC` off the new fd (`IORING_FIXED_FD_NO_CLOEXEC`).
    #[inline]
    pub fn no_cloexec(mut self) -> FixedFdInstall {
        self.flags = linux_raw_sys::io_uring::IORING_FIXED_FD_NO_CLOEXEC;
        self
    }
}

/// `IORING_OP_PIPE` (Linux 6.16): `pipe2(2)`; the kernel writes the two fds
/// (or, with [`direct`](Self::direct), the two slots) to `fds`; `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct Pipe {
    pub(crate) common: Common,
    fds: *mut [RawFd; 2],
    flags: OFlags,
    direct: Option<DirectSlot>,
}

impl Pipe {
    /// Create a pipe and write its read and write ends to `fds`, which must
    /// stay valid and unmoved until the CQE is reaped.
    #[inline]
    pub fn new(fds: *mut [RawFd; 2]) -> Pipe {
        Pipe { common: Common::default(), fds, flags: OFlags::empty(), direct: None }
    }
    /// `O_CLOEXEC`, `O_NONBLOCK`, `O_DIRECT`.
    #[inline]
    pub fn pipe_flags(mut self, flags: OFlags) -> Pipe {
        self.flags = flags;
        self
    }
    /// Put both ends in the registered table: at `slot` and `slot + 1`, or
    /// in two allocated slots.
    #[inline]
    pub fn direct(mut self, slot: DirectSlot) -> Pipe {
        self.direct = Some(slot);
        self
    }
}

impl PrepareSqe for OpenAt {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.path,
            len: self.mode.bits(),
            op_flags: self.flags.bits(),
            file_index: DirectSlot::encode(self.direct),
            ..base(&self.common, Self::CODE, self.dirfd)
        };
    }
}

impl PrepareSqe for OpenAt2 {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.path,
            len: std::mem::size_of::<OpenHow>() as u32,
            off: self.how as u64,
            file_index: DirectSlot::encode(self.direct),
            ..base(&self.common, Self::CODE, self.dirfd)
        };
    }
}

impl PrepareSqe for Close {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = close_sqe(&self.common, self.target);
    }
}

impl PrepareSqe for CloseFixed {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = close_sqe(&self.common, Target::fixed(self.index));
    }
}

impl PrepareSqe for FixedFdInstall {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let common = self.common.with(SqeFlags::FIXED_FILE);
        *sqe = Sqe { op_flags: self.flags, ..base(&common, Self::CODE, self.index as i32) };
    }
}

impl PrepareSqe for Pipe {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.fds as u64,
            op_flags: self.flags.bits(),
            file_index: DirectSlot::encode(self.direct),
            ..base(&self.common, Self::CODE, 0)
        };
    }
}

impl SafeOp for CloseFixed {}

impl SafeOp for FixedFdInstall {}
