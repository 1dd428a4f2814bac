//! File-system ops with owned paths and descriptors: `OPENAT`, `CLOSE`,
//! `STATX`, `FALLOCATE` (Linux 5.6), `FSYNC` (5.1), `FTRUNCATE` (6.9).
//!
//! Paths are owned `CString`s inside the op (the kernel reads them when it
//! prepares the op, which with `SQPOLL` or io-wq is after `submit`
//! returns); the directory an `*at` op is relative to is an [`Fd`] the op
//! keeps open, or the current directory ([`OpenAt::path`]): no raw fd
//! number, not even `AT_FDCWD`, is taken. An opened file comes back as an
//! `OwnedFd`; nobody taking it (the handle dropped) closes it.

use super::count;
use crate::entry::{PrepareSqe, Sqe};
use crate::error::{Error, Result};
use crate::op::{self, AtFlags, Mode, OFlags, StatxBuf, Target};
use crate::owned::{Fd, OwnedOp};
use crate::Errno;
use std::ffi::{CStr, CString, NulError};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A CQE's `res` as success or the errno.
#[inline(always)]
fn unit(res: i32) -> std::result::Result<(), Errno> {
    count(res).map(drop)
}

/// A path as the kernel reads it: NUL-terminated, owned (heap memory that
/// stays put when the op moves). A path with a NUL byte inside is kept as
/// the error and refused by `validate`.
#[derive(Debug)]
struct OwnedPath(std::result::Result<CString, NulError>);

impl OwnedPath {
    fn new(path: &Path) -> OwnedPath {
        OwnedPath(CString::new(path.as_os_str().as_bytes()))
    }

    fn empty() -> OwnedPath {
        OwnedPath(Ok(CString::default()))
    }

    fn validate(&self, op: &'static str) -> Result<()> {
        match &self.0 {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::InvalidArgument {
                what: format!("the path of {op}, with a NUL byte at {}", e.nul_position()),
                why: "the kernel reads a path up to its first NUL byte: a path cannot contain one".into(),
            }),
        }
    }

    /// The string; a refused path (never prepared) reads as empty.
    fn as_c(&self) -> &CStr {
        match &self.0 {
            Ok(p) => p,
            Err(_) => c"",
        }
    }
}

/// The directory of an `*at` op: the current directory, or a descriptor
/// the op keeps open.
#[derive(Debug, Clone)]
enum Dir {
    Cwd,
    At(Fd),
}

impl Dir {
    /// Refuse a fixed-file slot: the kernel's `openat` and `statx` take
    /// only a plain directory fd (a fixed one fails with `EBADF`).
    fn validate(&self, op: &'static str) -> Result<()> {
        match self {
            Dir::At(Fd::Fixed(slot)) => Err(Error::InvalidArgument {
                what: format!("{op} relative to fixed-file slot {slot}"),
                why: "the kernel resolves paths only against a plain directory fd (a fixed file fails with \
                      EBADF); use a SharedFd"
                    .into(),
            }),
            _ => Ok(()),
        }
    }

    /// The raw directory fd for the SQE: `AT_FDCWD`, or the fd `self`
    /// keeps open (a fixed slot was refused by `validate`).
    fn raw(&self) -> RawFd {
        match self {
            Dir::Cwd => op::AT_FDCWD,
            Dir::At(fd) => fd.target().raw_fd().unwrap_or(op::AT_FDCWD),
        }
    }
}

/// `IORING_OP_OPENAT` (Linux 5.6): `openat(2)`. The output is the new
/// descriptor as an `OwnedFd`, or the errno. `O_CLOEXEC` is always added
/// (as `std::fs::File::open` does). If the handle is dropped before the
/// result is taken, the library closes the descriptor when the CQE comes.
///
/// ```
/// use ringwise::owned::{ops, Driver, SharedFd};
/// use ringwise::op::{Mode, OFlags};
///
/// let path = std::env::temp_dir().join(format!("ringwise-doc-ownfs-{}", std::process::id()));
/// let driver = Driver::new(8)?;
/// let open = ops::OpenAt::path(&path, OFlags::CREATE | OFlags::RDWR | OFlags::TRUNC, Mode::from_bits_truncate(0o600));
/// let file = SharedFd::from(driver.submit(open)?.wait()??);
/// let (n, _) = driver.submit(ops::Write::at(&file, b"twelve bytes".to_vec(), 0))?.wait()?;
/// assert_eq!(n?, 12);
/// driver.submit(ops::Fsync::new(&file))?.wait()??;
/// let st = driver.submit(ops::Statx::fd(&file))?.wait()??;
/// assert_eq!(st.stx_size, 12);
/// // Closing through the ring: the op owns the descriptor until its CQE.
/// let owned = file.try_into_owned().expect("no op holds it any more");
/// driver.submit(ops::Close::new(owned))?.wait()??;
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct OpenAt {
    dir: Dir,
    path: OwnedPath,
    flags: OFlags,
    mode: Mode,
}

impl OpenAt {
    /// Open `path` (relative to the current directory unless absolute) with
    /// `O_*` `flags`, creating it with permissions `mode` (under the umask)
    /// when `flags` has `CREATE`.
    pub fn path(path: impl AsRef<Path>, flags: OFlags, mode: Mode) -> OpenAt {
        OpenAt { dir: Dir::Cwd, path: OwnedPath::new(path.as_ref()), flags, mode }
    }

    /// Open `path` relative to the directory `dir` (kept open by the op; a
    /// fixed-file slot is refused, the kernel cannot resolve paths against
    /// one).
    pub fn at(dir: impl Into<Fd>, path: impl AsRef<Path>, flags: OFlags, mode: Mode) -> OpenAt {
        OpenAt { dir: Dir::At(dir.into()), path: OwnedPath::new(path.as_ref()), flags, mode }
    }
}

// SAFETY: the SQE points at the op's owned `CString` (heap memory that stays
// put when the op moves) and names the directory fd the op keeps open
// (`Dir::At` holds a `SharedFd`; a fixed slot is refused) or `AT_FDCWD`. The
// op closes nothing: the new fd becomes the output's `OwnedFd`.
unsafe impl OwnedOp for OpenAt {
    type Output = std::result::Result<OwnedFd, Errno>;

    fn validate(&self) -> Result<()> {
        self.dir.validate("openat")?;
        self.path.validate("openat")
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::OpenAt::new(self.dir.raw(), self.path.as_c(), self.flags | OFlags::CLOEXEC)
            .mode(self.mode)
            .prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        count(res).map(|fd| {
            // SAFETY: a successful OPENAT's result is a new descriptor of
            // this process that nothing else owns.
            unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
        })
    }
}

/// `IORING_OP_CLOSE` (Linux 5.6): `close(2)` of a descriptor the op owns
/// (it takes the `OwnedFd`, so nothing else can use the number). The output
/// is `Ok(())` or the errno.
///
/// If the kernel did not close it (the op was cancelled before it ran, or
/// the kernel refused it: `ECANCELED`, `EINVAL`, `EBADF`, the latter also for
/// an io_uring fd, which `IORING_OP_CLOSE` will not close), the op closes it
/// with `close(2)` as it completes, so it never leaks; the output still
/// reports the kernel's errno. An op refused by `submit` gives the
/// descriptor back ([`into_fd`](Self::into_fd)).
#[derive(Debug)]
pub struct Close {
    fd: Option<OwnedFd>,
}

impl Close {
    /// Close `fd`.
    pub fn new(fd: impl Into<OwnedFd>) -> Close {
        Close { fd: Some(fd.into()) }
    }

    /// The descriptor back (an op refused by `submit`).
    pub fn into_fd(mut self) -> Option<OwnedFd> {
        self.fd.take()
    }
}

// SAFETY: the SQE names the fd `self.fd` owns, which stays open until the
// CQE (the op holds the `OwnedFd`). The op closes only that descriptor, which
// it owns: the kernel closes it, and `complete` then forgets the `OwnedFd`
// (never closing the number twice), or the kernel did not and the `OwnedFd`
// is dropped.
unsafe impl OwnedOp for Close {
    type Output = std::result::Result<(), Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        // `fd` is always `Some` until `complete` or `into_fd` (which
        // consumes the op).
        let raw = self.fd.as_ref().map_or(-1, std::os::fd::AsRawFd::as_raw_fd);
        // SAFETY: the descriptor is owned by this op until its CQE, and the
        // close is the op's purpose (the op owns the fd: nothing else can use
        // the number afterwards).
        let target = unsafe { Target::fd(raw) };
        op::Close::new(target).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(mut self, res: i32, _flags: u32) -> Self::Output {
        let not_closed = [Errno::CANCELED, Errno::INVAL, Errno::BADF];
        if let Some(fd) = self.fd.take() {
            if res < 0 && not_closed.contains(&Errno::from_raw_os_error(-res)) {
                // The kernel left the descriptor open: close it now.
                drop(fd);
            } else {
                // The kernel removed the fd from the table (even when the
                // close reported an error): the number may already name
                // another file, so it must not be closed again.
                let _ = fd.into_raw_fd();
            }
        }
        unit(res)
    }
}

/// `IORING_OP_STATX` (Linux 5.6): `statx(2)`. The output is the filled
/// `struct statx` or the errno. The buffer the kernel writes is boxed in the
/// op (it stays put when the op moves). Asks for `STATX_BASIC_STATS` unless
/// [`mask`](Self::mask) says otherwise.
#[derive(Debug)]
pub struct Statx {
    dir: Dir,
    path: OwnedPath,
    flags: AtFlags,
    mask: u32,
    buf: Box<StatxBuf>,
}

impl Statx {
    fn make(dir: Dir, path: OwnedPath, flags: AtFlags) -> Statx {
        // SAFETY: `struct statx` is plain integers, for which all-zero is
        // valid.
        let buf: Box<StatxBuf> = Box::new(unsafe { std::mem::zeroed() });
        Statx { dir, path, flags, mask: linux_raw_sys::general::STATX_BASIC_STATS, buf }
    }

    /// Stat `path` (relative to the current directory unless absolute).
    pub fn path(path: impl AsRef<Path>) -> Statx {
        Statx::make(Dir::Cwd, OwnedPath::new(path.as_ref()), AtFlags::empty())
    }

    /// Stat `path` relative to directory `dir` (kept open by the op; a
    /// fixed-file slot is refused).
    pub fn at(dir: impl Into<Fd>, path: impl AsRef<Path>) -> Statx {
        Statx::make(Dir::At(dir.into()), OwnedPath::new(path.as_ref()), AtFlags::empty())
    }

    /// Stat the open file `fd` itself (`AT_EMPTY_PATH` with an empty path,
    /// as `fstat` does).
    pub fn fd(fd: impl Into<Fd>) -> Statx {
        Statx::make(Dir::At(fd.into()), OwnedPath::empty(), AtFlags::EMPTY_PATH)
    }

    /// The `STATX_*` fields wanted (default `STATX_BASIC_STATS`); the
    /// result's `stx_mask` says which were filled.
    pub fn mask(mut self, mask: u32) -> Statx {
        self.mask = mask;
        self
    }

    /// Add `AT_*` flags (`SYMLINK_NOFOLLOW`, `STATX_DONT_SYNC`...).
    pub fn at_flags(mut self, flags: AtFlags) -> Statx {
        self.flags |= flags;
        self
    }
}

// SAFETY: the SQE points at the op's owned path and boxed `statx` buffer
// (heap memory that stays put when the op moves), and names a directory fd
// the op keeps open, or `AT_FDCWD`.
unsafe impl OwnedOp for Statx {
    type Output = std::result::Result<StatxBuf, Errno>;

    fn validate(&self) -> Result<()> {
        self.dir.validate("statx")?;
        self.path.validate("statx")
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let buf: *mut StatxBuf = &mut *self.buf;
        op::Statx::new(self.dir.raw(), self.path.as_c(), self.mask, buf).at_flags(self.flags).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        unit(res).map(|()| *self.buf)
    }
}

/// `IORING_OP_FSYNC` (Linux 5.1): `fsync(2)`, or `fdatasync(2)`
/// ([`Fsync::data`]). The output is `Ok(())` or the errno.
#[derive(Debug)]
pub struct Fsync {
    fd: Fd,
    flags: op::FsyncFlags,
}

impl Fsync {
    /// Flush the file's data and metadata to its device.
    pub fn new(fd: impl Into<Fd>) -> Fsync {
        Fsync { fd: fd.into(), flags: op::FsyncFlags::empty() }
    }

    /// Flush the file's data (and the metadata needed to read it back), as
    /// `fdatasync(2)`.
    pub fn data(fd: impl Into<Fd>) -> Fsync {
        Fsync { fd: fd.into(), flags: op::FsyncFlags::DATASYNC }
    }
}

// SAFETY: no pointer; the SQE names the fd `self.fd` keeps open.
unsafe impl OwnedOp for Fsync {
    type Output = std::result::Result<(), Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::Fsync::new(self.fd.target()).fsync_flags(self.flags).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        unit(res)
    }
}

/// `IORING_OP_FALLOCATE` (Linux 5.6): `fallocate(2)`: allocate `len` bytes
/// at `offset` (extending the file, unless [`mode`](Self::mode) says
/// `FALLOC_FL_KEEP_SIZE` or another mode). The output is `Ok(())` or the
/// errno.
#[derive(Debug)]
pub struct Fallocate {
    fd: Fd,
    offset: u64,
    len: u64,
    mode: u32,
}

impl Fallocate {
    /// Allocate `len` bytes at `offset` of the file.
    pub fn new(fd: impl Into<Fd>, offset: u64, len: u64) -> Fallocate {
        Fallocate { fd: fd.into(), offset, len, mode: 0 }
    }

    /// `FALLOC_FL_*` mode bits (0, the default: allocate and extend).
    pub fn mode(mut self, mode: u32) -> Fallocate {
        self.mode = mode;
        self
    }
}

// SAFETY: no pointer; the SQE names the fd `self.fd` keeps open.
unsafe impl OwnedOp for Fallocate {
    type Output = std::result::Result<(), Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::Fallocate::new(self.fd.target(), self.offset, self.len).mode(self.mode).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        unit(res)
    }
}

/// `IORING_OP_FTRUNCATE` (Linux 6.9): `ftruncate(2)`: set the file's size
/// to `len` bytes. The output is `Ok(())` or the errno (`EINVAL` from a
/// kernel before 6.9, which lacks the opcode).
#[derive(Debug)]
pub struct Ftruncate {
    fd: Fd,
    len: u64,
}

impl Ftruncate {
    /// Truncate or extend the file to `len` bytes.
    pub fn new(fd: impl Into<Fd>, len: u64) -> Ftruncate {
        Ftruncate { fd: fd.into(), len }
    }
}

// SAFETY: no pointer; the SQE names the fd `self.fd` keeps open.
unsafe impl OwnedOp for Ftruncate {
    type Output = std::result::Result<(), Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::Ftruncate::new(self.fd.target(), self.len).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        unit(res)
    }
}
