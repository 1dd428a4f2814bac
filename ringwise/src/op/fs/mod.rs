//! File-system ops: open, close, stat, allocate, advise, truncate, sync
//! ranges, rename, unlink, mkdir, symlink, link, extended attributes,
//! installing a direct descriptor as a normal one, and pipe creation.
//!
//! Paths are `&CStr` (`c"name"`); the kernel reads them when it prepares the
//! SQE (at submit), so every op here except the fd-only ones is pushed with
//! `push_unchecked`, which promises the strings live that long. Buffers the
//! kernel writes (`statx`, `getxattr` values, pipe fds) must live until the
//! CQE.
//!
//! The family is split by what the ops act on, one file each: descriptors
//! (`open.rs`: open, close, install, pipe), names (`paths.rs`: rename,
//! unlink, mkdir, symlink, link), metadata (`metadata.rs`: stat, space,
//! advice, truncate, sync ranges) and extended attributes (`xattr.rs`).
//!
//! Create a directory and a file in it, stat the file, then remove both:
//!
//! ```
//! use ringwise::op::{Mode, MkdirAt, OFlags, OpenAt, Statx, StatxBuf, UnlinkAt, AT_FDCWD};
//! use ringwise::{Ring, SqeFlags};
//! use std::ffi::CString;
//! use std::os::fd::{FromRawFd, OwnedFd};
//!
//! let dir = std::env::temp_dir().join(format!("ringwise-doc-fs-{}", std::process::id()));
//! let dir_c = CString::new(dir.to_str().unwrap())?;
//! let file_c = CString::new(dir.join("f").to_str().unwrap())?;
//! let mut ring = Ring::new(8)?;
//!
//! // SAFETY: the path strings outlive the CQEs reaped below.
//! unsafe { ring.submission().push_unchecked(MkdirAt::new(AT_FDCWD, &dir_c, Mode::from_bits_truncate(0o755)).user_data(1)) }
//!     .unwrap();
//! ring.submit_and_wait(1)?;
//! assert_eq!(ring.completion().next().unwrap().res, 0);
//!
//! let open = OpenAt::new(AT_FDCWD, &file_c, OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC)
//!     .mode(Mode::from_bits_truncate(0o644));
//! // SAFETY: as above.
//! unsafe { ring.submission().push_unchecked(open.user_data(2)) }.unwrap();
//! ring.submit_and_wait(1)?;
//! let fd = ring.completion().next().unwrap().result()?;
//! // SAFETY: the CQE handed us a new descriptor nobody else owns.
//! let file = unsafe { OwnedFd::from_raw_fd(fd as i32) };
//!
//! // SAFETY: all-zero is a valid `statx`.
//! let mut st: StatxBuf = unsafe { std::mem::zeroed() };
//! let stat = Statx::new(AT_FDCWD, &file_c, linux_raw_sys::general::STATX_BASIC_STATS, &mut st);
//! // SAFETY: `file_c` and `st` stay valid and unmoved until the CQE is reaped.
//! unsafe { ring.submission().push_unchecked(stat.user_data(3)) }.unwrap();
//! ring.submit_and_wait(1)?;
//! assert_eq!(ring.completion().next().unwrap().res, 0);
//! assert_eq!((st.stx_size, st.stx_mode as u32 & 0o777), (0, 0o644));
//! drop(file);
//!
//! // Linked, so the directory is removed after the file in it.
//! // SAFETY: the paths outlive the CQEs.
//! unsafe {
//!     let mut sq = ring.submission();
//!     sq.push_unchecked(UnlinkAt::new(AT_FDCWD, &file_c).flags(SqeFlags::IO_LINK).user_data(4)).unwrap();
//!     sq.push_unchecked(UnlinkAt::new(AT_FDCWD, &dir_c).dir().user_data(5)).unwrap();
//! }
//! ring.submit_and_wait(2)?;
//! assert!(ring.completions()?.all(|c| c.res == 0));
//! assert!(!dir.exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod metadata;
mod open;
mod paths;
mod xattr;

pub use metadata::{Fadvise, Fallocate, Ftruncate, Madvise, Statx, SyncFileRange};
pub use open::{Close, CloseFixed, FixedFdInstall, OpenAt, OpenAt2, Pipe};
pub use paths::{LinkAt, MkdirAt, RenameAt, SymlinkAt, UnlinkAt};
pub use xattr::{FGetXattr, FSetXattr, GetXattr, SetXattr};

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
        /// Do not follow a final symlink.
        const SYMLINK_NOFOLLOW = linux_raw_sys::general::AT_SYMLINK_NOFOLLOW;
        /// `unlinkat`: remove a directory.
        const REMOVEDIR = linux_raw_sys::general::AT_REMOVEDIR;
        /// `linkat`: follow a symlink in the old path.
        const SYMLINK_FOLLOW = linux_raw_sys::general::AT_SYMLINK_FOLLOW;
        /// Do not trigger an automount.
        const NO_AUTOMOUNT = linux_raw_sys::general::AT_NO_AUTOMOUNT;
        /// An empty path means the directory fd itself.
        const EMPTY_PATH = linux_raw_sys::general::AT_EMPTY_PATH;
        /// `statx`: sync with the server first (network file systems).
        const STATX_FORCE_SYNC = linux_raw_sys::general::AT_STATX_FORCE_SYNC;
        /// `statx`: whatever is cached, without syncing.
        const STATX_DONT_SYNC = linux_raw_sys::general::AT_STATX_DONT_SYNC;
    }
}

bitflags::bitflags! {
    /// `RENAME_*` flags of `renameat2`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct RenameFlags: u32 {
        /// Fail if the new name exists.
        const NOREPLACE = linux_raw_sys::general::RENAME_NOREPLACE;
        /// Swap the two names atomically.
        const EXCHANGE = linux_raw_sys::general::RENAME_EXCHANGE;
        /// Leave a whiteout at the old name (overlay file systems).
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
        /// Wait for writeback already under way first.
        const WAIT_BEFORE = linux_raw_sys::general::SYNC_FILE_RANGE_WAIT_BEFORE;
        /// Start writeback of dirty pages.
        const WRITE = linux_raw_sys::general::SYNC_FILE_RANGE_WRITE;
        /// Wait for the writeback to finish.
        const WAIT_AFTER = linux_raw_sys::general::SYNC_FILE_RANGE_WAIT_AFTER;
    }
}

/// `posix_fadvise` advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Advice {
    /// No special treatment (the default).
    Normal = linux_raw_sys::general::POSIX_FADV_NORMAL,
    /// Random access: little read-ahead.
    Random = linux_raw_sys::general::POSIX_FADV_RANDOM,
    /// Sequential access: more read-ahead.
    Sequential = linux_raw_sys::general::POSIX_FADV_SEQUENTIAL,
    /// Read the range into the page cache now.
    WillNeed = linux_raw_sys::general::POSIX_FADV_WILLNEED,
    /// Drop the range from the page cache.
    DontNeed = linux_raw_sys::general::POSIX_FADV_DONTNEED,
    /// Accessed once.
    NoReuse = linux_raw_sys::general::POSIX_FADV_NOREUSE,
}

/// A path's address, as the SQE carries it.
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
