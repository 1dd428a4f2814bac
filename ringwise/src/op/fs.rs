//! File-system ops: open, close, stat, allocate, advise, truncate, sync
//! ranges, rename, unlink, mkdir, symlink, link, extended attributes,
//! installing a direct descriptor as a normal one, and pipe creation.
//!
//! Paths are `&CStr` (`c"name"`); the kernel reads them when it prepares the
//! SQE (at submit), so every op here except the fd-only ones is pushed with
//! `push_unchecked`, which promises the strings live that long.

use super::{base, base_on, common_setters, opcode, Common, DirectSlot, PrepareSqe, SafeOp, Target};
use crate::entry::Sqe;
use crate::flags::SqeFlags;
use std::ffi::CStr;
use std::os::fd::RawFd;

pub use rustix::fs::{Mode, OFlags};

/// `struct open_how` for [`OpenAt2`].
pub type OpenHow = linux_raw_sys::general::open_how;
/// `struct statx`, filled by [`Statx`].
pub type StatxBuf = linux_raw_sys::general::statx;

/// The directory fd meaning "the current directory".
pub const AT_FDCWD: RawFd = linux_raw_sys::general::AT_FDCWD;

bitflags::bitflags! {
    /// `AT_*` flags of the `*at` calls.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct AtFlags: u32 {
        const SYMLINK_NOFOLLOW = linux_raw_sys::general::AT_SYMLINK_NOFOLLOW;
        /// `unlinkat`: remove a directory.
        const REMOVEDIR = linux_raw_sys::general::AT_REMOVEDIR;
        /// `linkat`: follow a symlink in the old path.
        const SYMLINK_FOLLOW = linux_raw_sys::general::AT_SYMLINK_FOLLOW;
        const NO_AUTOMOUNT = linux_raw_sys::general::AT_NO_AUTOMOUNT;
        /// An empty path means the directory fd itself.
        const EMPTY_PATH = linux_raw_sys::general::AT_EMPTY_PATH;
        const STATX_FORCE_SYNC = linux_raw_sys::general::AT_STATX_FORCE_SYNC;
        const STATX_DONT_SYNC = linux_raw_sys::general::AT_STATX_DONT_SYNC;
    }
}

bitflags::bitflags! {
    /// `RENAME_*` flags of `renameat2`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct RenameFlags: u32 {
        const NOREPLACE = linux_raw_sys::general::RENAME_NOREPLACE;
        const EXCHANGE = linux_raw_sys::general::RENAME_EXCHANGE;
        const WHITEOUT = linux_raw_sys::general::RENAME_WHITEOUT;
    }
}

bitflags::bitflags! {
    /// `XATTR_*` flags of `setxattr`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct XattrFlags: u32 {
        /// Fail if the attribute exists.
        const CREATE = linux_raw_sys::general::XATTR_CREATE;
        /// Fail if the attribute does not exist.
        const REPLACE = linux_raw_sys::general::XATTR_REPLACE;
    }
}

bitflags::bitflags! {
    /// `SYNC_FILE_RANGE_*`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SyncFileRangeFlags: u32 {
        const WAIT_BEFORE = linux_raw_sys::general::SYNC_FILE_RANGE_WAIT_BEFORE;
        const WRITE = linux_raw_sys::general::SYNC_FILE_RANGE_WRITE;
        const WAIT_AFTER = linux_raw_sys::general::SYNC_FILE_RANGE_WAIT_AFTER;
    }
}

/// `posix_fadvise` advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Advice {
    Normal = linux_raw_sys::general::POSIX_FADV_NORMAL,
    Random = linux_raw_sys::general::POSIX_FADV_RANDOM,
    Sequential = linux_raw_sys::general::POSIX_FADV_SEQUENTIAL,
    WillNeed = linux_raw_sys::general::POSIX_FADV_WILLNEED,
    DontNeed = linux_raw_sys::general::POSIX_FADV_DONTNEED,
    NoReuse = linux_raw_sys::general::POSIX_FADV_NOREUSE,
}

fn cstr(path: &CStr) -> u64 {
    path.as_ptr() as u64
}

/// A 64-bit length that old kernels only read from the 32-bit `len`: small
/// lengths go there, large ones into the 64-bit field (Linux 6.10+).
fn split_len(len: u64) -> (u32, u64) {
    match u32::try_from(len) {
        Ok(short) => (short, 0),
        Err(_) => (0, len),
    }
}

/// `IORING_OP_OPENAT`: `openat(2)`, optionally into a direct descriptor slot.
#[derive(Debug, Clone, Copy)]
pub struct OpenAt {
    common: Common,
    dirfd: RawFd,
    path: u64,
    flags: OFlags,
    mode: Mode,
    direct: Option<DirectSlot>,
}

impl OpenAt {
    /// Open `path` relative to `dirfd` ([`AT_FDCWD`] for the working directory).
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

/// `IORING_OP_OPENAT2`: `openat2(2)` with a `struct open_how` (resolve flags),
/// optionally into a direct descriptor slot. The `how` is read at submit.
#[derive(Debug, Clone, Copy)]
pub struct OpenAt2 {
    common: Common,
    dirfd: RawFd,
    path: u64,
    how: *const OpenHow,
    direct: Option<DirectSlot>,
}

impl OpenAt2 {
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

/// `IORING_OP_CLOSE`: close an fd, or (for [`Target::Fixed`]) remove a
/// registered file from the table.
///
/// Not a [`SafeOp`]: closing a plain descriptor ends whatever owns it (a
/// `File`, an `OwnedFd`, a mapping's backing fd), which would then use or
/// close a number that may already name another file (I/O safety). Push it
/// with `push_unchecked`, which here also promises that the caller owns the
/// fd and nothing uses it afterwards. To remove a registered file with the
/// safe `push`, use [`CloseFixed`].
#[derive(Debug, Clone, Copy)]
pub struct Close {
    common: Common,
    target: Target,
}

impl Close {
    #[inline]
    pub fn new(target: impl Into<Target>) -> Close {
        Close { common: Common::default(), target: target.into() }
    }
}

/// `IORING_OP_CLOSE` of registered file `index` (`io_uring_prep_close_direct`):
/// empties that slot of the ring's file table. It touches no descriptor of
/// the process, so it is a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct CloseFixed {
    common: Common,
    index: u32,
}

impl CloseFixed {
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
    let (fd, slot) = match target {
        Target::Fd(fd) => (fd, 0),
        Target::Fixed(i) => (0, i.saturating_add(1)),
    };
    Sqe { file_index: slot, ..base(common, opcode::CLOSE, fd) }
}

/// `IORING_OP_STATX`: `statx(2)` into `buf`.
#[derive(Debug, Clone, Copy)]
pub struct Statx {
    common: Common,
    dirfd: RawFd,
    path: u64,
    buf: *mut StatxBuf,
    mask: u32,
    flags: AtFlags,
}

impl Statx {
    /// `mask` is the `STATX_*` fields wanted (e.g. `STATX_BASIC_STATS`).
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

/// `IORING_OP_FALLOCATE`: `fallocate(2)`.
#[derive(Debug, Clone, Copy)]
pub struct Fallocate {
    common: Common,
    target: Target,
    offset: u64,
    len: u64,
    mode: u32,
}

impl Fallocate {
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

/// `IORING_OP_FADVISE`: `posix_fadvise(2)`.
#[derive(Debug, Clone, Copy)]
pub struct Fadvise {
    common: Common,
    target: Target,
    offset: u64,
    len: u64,
    advice: Advice,
}

impl Fadvise {
    #[inline]
    pub fn new(target: impl Into<Target>, offset: u64, len: u64, advice: Advice) -> Fadvise {
        Fadvise { common: Common::default(), target: target.into(), offset, len, advice }
    }
}

/// `IORING_OP_MADVISE`: `madvise(2)` on this process's memory.
#[derive(Debug, Clone, Copy)]
pub struct Madvise {
    common: Common,
    addr: *mut u8,
    len: u64,
    advice: u32,
}

impl Madvise {
    /// `advice` is an `MADV_*` value.
    #[inline]
    pub fn new(addr: *mut u8, len: u64, advice: u32) -> Madvise {
        Madvise { common: Common::default(), addr, len, advice }
    }
}

/// `IORING_OP_FTRUNCATE` (Linux 6.9): `ftruncate(2)`.
#[derive(Debug, Clone, Copy)]
pub struct Ftruncate {
    common: Common,
    target: Target,
    len: u64,
}

impl Ftruncate {
    #[inline]
    pub fn new(target: impl Into<Target>, len: u64) -> Ftruncate {
        Ftruncate { common: Common::default(), target: target.into(), len }
    }
}

/// `IORING_OP_SYNC_FILE_RANGE`: `sync_file_range(2)`.
#[derive(Debug, Clone, Copy)]
pub struct SyncFileRange {
    common: Common,
    target: Target,
    offset: u64,
    len: u32,
    flags: SyncFileRangeFlags,
}

impl SyncFileRange {
    #[inline]
    pub fn new(target: impl Into<Target>, offset: u64, len: u32, flags: SyncFileRangeFlags) -> SyncFileRange {
        SyncFileRange { common: Common::default(), target: target.into(), offset, len, flags }
    }
}

/// `IORING_OP_RENAMEAT`: `renameat2(2)`.
#[derive(Debug, Clone, Copy)]
pub struct RenameAt {
    common: Common,
    old_dirfd: RawFd,
    old: u64,
    new_dirfd: RawFd,
    new: u64,
    flags: RenameFlags,
}

impl RenameAt {
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
    #[inline]
    pub fn rename_flags(mut self, flags: RenameFlags) -> RenameAt {
        self.flags = flags;
        self
    }
}

/// `IORING_OP_UNLINKAT`: `unlinkat(2)` (with `REMOVEDIR`, `rmdir`).
#[derive(Debug, Clone, Copy)]
pub struct UnlinkAt {
    common: Common,
    dirfd: RawFd,
    path: u64,
    flags: AtFlags,
}

impl UnlinkAt {
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

/// `IORING_OP_MKDIRAT`: `mkdirat(2)`.
#[derive(Debug, Clone, Copy)]
pub struct MkdirAt {
    common: Common,
    dirfd: RawFd,
    path: u64,
    mode: Mode,
}

impl MkdirAt {
    #[inline]
    pub fn new(dirfd: RawFd, path: &CStr, mode: Mode) -> MkdirAt {
        MkdirAt { common: Common::default(), dirfd, path: cstr(path), mode }
    }
}

/// `IORING_OP_SYMLINKAT`: `symlinkat(2)`: make `link` (relative to `dirfd`)
/// point at `target`.
#[derive(Debug, Clone, Copy)]
pub struct SymlinkAt {
    common: Common,
    target: u64,
    dirfd: RawFd,
    link: u64,
}

impl SymlinkAt {
    #[inline]
    pub fn new(target: &CStr, dirfd: RawFd, link: &CStr) -> SymlinkAt {
        SymlinkAt { common: Common::default(), target: cstr(target), dirfd, link: cstr(link) }
    }
}

/// `IORING_OP_LINKAT`: `linkat(2)`.
#[derive(Debug, Clone, Copy)]
pub struct LinkAt {
    common: Common,
    old_dirfd: RawFd,
    old: u64,
    new_dirfd: RawFd,
    new: u64,
    flags: AtFlags,
}

impl LinkAt {
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

/// `IORING_OP_FGETXATTR`: `fgetxattr(2)`; `res` is the value's length.
#[derive(Debug, Clone, Copy)]
pub struct FGetXattr {
    common: Common,
    target: Target,
    name: u64,
    value: *mut u8,
    len: u32,
}

impl FGetXattr {
    #[inline]
    pub fn new(target: impl Into<Target>, name: &CStr, value: *mut u8, len: u32) -> FGetXattr {
        FGetXattr { common: Common::default(), target: target.into(), name: cstr(name), value, len }
    }
}

/// `IORING_OP_FSETXATTR`: `fsetxattr(2)`.
#[derive(Debug, Clone, Copy)]
pub struct FSetXattr {
    common: Common,
    target: Target,
    name: u64,
    value: *const u8,
    len: u32,
    flags: XattrFlags,
}

impl FSetXattr {
    #[inline]
    pub fn new(target: impl Into<Target>, name: &CStr, value: *const u8, len: u32) -> FSetXattr {
        FSetXattr {
            common: Common::default(),
            target: target.into(),
            name: cstr(name),
            value,
            len,
            flags: XattrFlags::empty(),
        }
    }
    #[inline]
    pub fn xattr_flags(mut self, flags: XattrFlags) -> FSetXattr {
        self.flags = flags;
        self
    }
}

/// `IORING_OP_GETXATTR`: `getxattr(2)` by path; `res` is the value's length.
#[derive(Debug, Clone, Copy)]
pub struct GetXattr {
    common: Common,
    path: u64,
    name: u64,
    value: *mut u8,
    len: u32,
}

impl GetXattr {
    #[inline]
    pub fn new(path: &CStr, name: &CStr, value: *mut u8, len: u32) -> GetXattr {
        GetXattr { common: Common::default(), path: cstr(path), name: cstr(name), value, len }
    }
}

/// `IORING_OP_SETXATTR`: `setxattr(2)` by path.
#[derive(Debug, Clone, Copy)]
pub struct SetXattr {
    common: Common,
    path: u64,
    name: u64,
    value: *const u8,
    len: u32,
    flags: XattrFlags,
}

impl SetXattr {
    #[inline]
    pub fn new(path: &CStr, name: &CStr, value: *const u8, len: u32) -> SetXattr {
        SetXattr {
            common: Common::default(),
            path: cstr(path),
            name: cstr(name),
            value,
            len,
            flags: XattrFlags::empty(),
        }
    }
    #[inline]
    pub fn xattr_flags(mut self, flags: XattrFlags) -> SetXattr {
        self.flags = flags;
        self
    }
}

/// `IORING_OP_FIXED_FD_INSTALL` (Linux 6.8): turn registered file `index`
/// into a normal fd of this process (`res`), close-on-exec unless
/// [`no_cloexec`](Self::no_cloexec). The index is the only argument, so a
/// plain fd cannot be passed by mistake.
#[derive(Debug, Clone, Copy)]
pub struct FixedFdInstall {
    common: Common,
    index: u32,
    flags: u32,
}

impl FixedFdInstall {
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
/// (or, with [`direct`](Self::direct), the two slots) to `fds`.
#[derive(Debug, Clone, Copy)]
pub struct Pipe {
    common: Common,
    fds: *mut [RawFd; 2],
    flags: OFlags,
    direct: Option<DirectSlot>,
}

impl Pipe {
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

common_setters!(
    OpenAt,
    OpenAt2,
    Close,
    CloseFixed,
    Statx,
    Fallocate,
    Fadvise,
    Madvise,
    Ftruncate,
    SyncFileRange,
    RenameAt,
    UnlinkAt,
    MkdirAt,
    SymlinkAt,
    LinkAt,
    FGetXattr,
    FSetXattr,
    GetXattr,
    SetXattr,
    FixedFdInstall,
    Pipe,
);

impl PrepareSqe for OpenAt {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.path,
            len: self.mode.bits(),
            op_flags: self.flags.bits(),
            file_index: DirectSlot::encode(self.direct),
            ..base(&self.common, opcode::OPENAT, self.dirfd)
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
            ..base(&self.common, opcode::OPENAT2, self.dirfd)
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
        *sqe = close_sqe(&self.common, Target::Fixed(self.index));
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
            ..base(&self.common, opcode::STATX, self.dirfd)
        };
    }
}

impl PrepareSqe for Fallocate {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            off: self.offset,
            addr: self.len,
            len: self.mode,
            ..base_on(&self.common, opcode::FALLOCATE, self.target)
        };
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
            ..base_on(&self.common, opcode::FADVISE, self.target)
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
            ..base(&self.common, opcode::MADVISE, -1)
        };
    }
}

impl PrepareSqe for Ftruncate {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { off: self.len, ..base_on(&self.common, opcode::FTRUNCATE, self.target) };
    }
}

impl PrepareSqe for SyncFileRange {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            off: self.offset,
            len: self.len,
            op_flags: self.flags.bits(),
            ..base_on(&self.common, opcode::SYNC_FILE_RANGE, self.target)
        };
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
            ..base(&self.common, opcode::RENAMEAT, self.old_dirfd)
        };
    }
}

impl PrepareSqe for UnlinkAt {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.path, op_flags: self.flags.bits(), ..base(&self.common, opcode::UNLINKAT, self.dirfd) };
    }
}

impl PrepareSqe for MkdirAt {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.path, len: self.mode.bits(), ..base(&self.common, opcode::MKDIRAT, self.dirfd) };
    }
}

impl PrepareSqe for SymlinkAt {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.target, off: self.link, ..base(&self.common, opcode::SYMLINKAT, self.dirfd) };
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
            ..base(&self.common, opcode::LINKAT, self.old_dirfd)
        };
    }
}

impl PrepareSqe for FGetXattr {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.name,
            len: self.len,
            off: self.value as u64,
            ..base_on(&self.common, opcode::FGETXATTR, self.target)
        };
    }
}

impl PrepareSqe for FSetXattr {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.name,
            len: self.len,
            off: self.value as u64,
            op_flags: self.flags.bits(),
            ..base_on(&self.common, opcode::FSETXATTR, self.target)
        };
    }
}

impl PrepareSqe for GetXattr {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.name,
            len: self.len,
            off: self.value as u64,
            addr3: self.path,
            ..base(&self.common, opcode::GETXATTR, 0)
        };
    }
}

impl PrepareSqe for SetXattr {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.name,
            len: self.len,
            off: self.value as u64,
            addr3: self.path,
            op_flags: self.flags.bits(),
            ..base(&self.common, opcode::SETXATTR, 0)
        };
    }
}

impl PrepareSqe for FixedFdInstall {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let common = Common { flags: self.common.flags | SqeFlags::FIXED_FILE, ..self.common };
        *sqe = Sqe { op_flags: self.flags, ..base(&common, opcode::FIXED_FD_INSTALL, self.index as i32) };
    }
}

impl PrepareSqe for Pipe {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.fds as u64,
            op_flags: self.flags.bits(),
            file_index: DirectSlot::encode(self.direct),
            ..base(&self.common, opcode::PIPE, 0)
        };
    }
}

impl SafeOp for CloseFixed {}
impl SafeOp for Fallocate {}
impl SafeOp for Fadvise {}
impl SafeOp for Ftruncate {}
impl SafeOp for SyncFileRange {}
impl SafeOp for FixedFdInstall {}
