//! Registered (fixed, "direct") files: a per-ring table of files that ops
//! name by index with `IOSQE_FIXED_FILE` ([`Target::fixed`](crate::op::Target::fixed)),
//! skipping the fd-table lookup and its reference counting on every op.
//!
//! The kernel takes its own reference to each file when it is registered, so
//! closing the descriptor afterwards is fine: the slot keeps the file open
//! until it is replaced or unregistered. A list of descriptors is a list of
//! [`FileSlot`]s: a descriptor borrowed for the call, [`EMPTY`] (leave the
//! slot empty) or, in updates, [`SKIP`] (leave the slot as it is).
//!
//! I/O safety: a slot is what safe ops act on ([`Target::fixed`](crate::op::Target::fixed)),
//! so a table must only ever receive files the caller owns. A `FileSlot` is
//! built from a [`BorrowedFd`] (or anything `AsFd`), which proves the
//! descriptor is open and the caller's for the registration call, which is
//! all the kernel needs: it takes its own reference during the call. A bare
//! number goes through the `unsafe` [`FileSlot::from_raw_fd`].
//!
//! Tags: a non-zero tag given with a file is posted as the `user_data` of a
//! CQE (`res` 0) once the kernel has let go of that file, i.e. after the slot
//! was replaced or the table unregistered and no op still uses it.

use super::opcode;
use super::rsrc::RsrcTable as _;
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Result, Table};
use crate::Ring;
use linux_raw_sys::io_uring::{io_uring_file_index_range, io_uring_files_update};
use rustix::io::Errno;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// One entry of a file table handed to the kernel: a descriptor borrowed for
/// the registration call, an empty slot ([`EMPTY`]), or, in updates, "leave
/// this slot as it is" ([`SKIP`]).
///
/// It has the layout of the `int` the kernel reads, so a `&[FileSlot]` is
/// passed as it is. The lifetime ties a slot built from a descriptor to the
/// borrow of that descriptor, so the descriptor is open (and names the
/// caller's file) while the kernel reads it.
///
/// ```
/// use ringwise::register::files::{FileSlot, EMPTY};
/// use std::os::fd::AsFd;
///
/// let file = std::fs::File::open("/dev/null")?;
/// let ring = ringwise::Ring::new(4)?;
/// ring.register_files(&[FileSlot::from(&file), EMPTY])?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSlot<'fd> {
    raw: RawFd,
    _fd: PhantomData<BorrowedFd<'fd>>,
}

/// In a list of descriptors to register or update: leave this slot empty
/// (`-1`).
pub const EMPTY: FileSlot<'static> = FileSlot { raw: -1, _fd: PhantomData };
/// In an update: leave this slot as it is (`IORING_REGISTER_FILES_SKIP`,
/// Linux 5.12).
pub const SKIP: FileSlot<'static> =
    FileSlot { raw: linux_raw_sys::io_uring::IORING_REGISTER_FILES_SKIP, _fd: PhantomData };

impl<'fd> FileSlot<'fd> {
    /// The slot for the file behind `fd`, borrowed for the registration.
    pub fn file(fd: BorrowedFd<'fd>) -> FileSlot<'fd> {
        FileSlot { raw: fd.as_raw_fd(), _fd: PhantomData }
    }

    /// A slot from a bare number.
    ///
    /// # Safety
    /// `fd` must be negative (the sentinels [`EMPTY`] and [`SKIP`] are; any
    /// other negative number names no file and the kernel refuses it with
    /// EBADF), or a descriptor that is open and names the caller's own file
    /// until the registration call that takes this slot returns (the kernel then holds its own
    /// reference). A stale number would put another owner's file in the
    /// table, where safe ops act on it.
    pub unsafe fn from_raw_fd(fd: RawFd) -> FileSlot<'fd> {
        FileSlot { raw: fd, _fd: PhantomData }
    }

    /// The number the kernel reads.
    pub fn raw(self) -> RawFd {
        self.raw
    }
}

impl<'fd> From<BorrowedFd<'fd>> for FileSlot<'fd> {
    fn from(fd: BorrowedFd<'fd>) -> FileSlot<'fd> {
        FileSlot::file(fd)
    }
}

impl<'fd, T: AsFd> From<&'fd T> for FileSlot<'fd> {
    fn from(file: &'fd T) -> FileSlot<'fd> {
        FileSlot::file(file.as_fd())
    }
}

/// What an errno of a call on the file table means: the one place for this
/// family (`alloc_range` is the range given to [`Ring::set_file_alloc_range`],
/// for the errno that speaks of it).
pub(super) fn files_context(errno: Errno, alloc_range: Option<(u32, u32)>) -> Option<String> {
    Some(match (errno, alloc_range) {
        (Errno::INVAL, Some((offset, len))) => {
            format!("the range [{offset}, {offset}+{len}) does not fit in the registered file table (or it overflows)")
        }
        (_, Some(_)) => return None,
        (Errno::BUSY, None) => "a file table is already registered; unregister it or update slots instead".into(),
        (Errno::NXIO, None) => "no file table is registered on this ring".into(),
        (Errno::BADF, None) => "a descriptor in the list is not open (use -1 for an empty slot)".into(),
        (Errno::MFILE, None) => "more files than RLIMIT_NOFILE allows in one table".into(),
        (Errno::INVAL, None) => "the slots named lie outside the registered file table, or the list is empty".into(),
        (Errno::OVERFLOW, None) => "offset plus count overflows".into(),
        _ => return None,
    })
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Register a file table (`IORING_REGISTER_FILES`, opcode 2, Linux
    /// 5.1): slot `i` holds `fds[i]`, or nothing for [`EMPTY`]. The kernel
    /// takes its own reference to each file; the descriptors may be closed
    /// afterwards.
    ///
    /// ```
    /// use ringwise::op::{Fsync, Target};
    /// use ringwise::register::files::{FileSlot, EMPTY};
    /// use ringwise::Ring;
    ///
    /// let path = std::env::temp_dir().join(format!("ringwise-doc-files-{}", std::process::id()));
    /// let file = std::fs::File::create(&path)?;
    /// let mut ring = Ring::new(4)?;
    /// // Slot 0: the file; slot 1: empty, to fill later with update_files.
    /// ring.register_files(&[FileSlot::from(&file), EMPTY])?;
    /// drop(file); // the table keeps the file open
    /// std::fs::remove_file(&path)?;
    ///
    /// // An op names the file by its slot (IOSQE_FIXED_FILE).
    /// ring.submission().push(Fsync::new(Target::fixed(0)).user_data(1)).unwrap();
    /// ring.submit_and_wait(1)?;
    /// let cqe = ring.completion().next().unwrap();
    /// assert_eq!((cqe.user_data, cqe.res), (1, 0));
    /// ring.unregister_files()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_files(&self, fds: &[FileSlot<'_>]) -> Result<()> {
        let n = Table::Files.count(fds.len())?;
        // SAFETY: `FileSlot` is a transparent `i32`; the kernel reads `n` of
        // them from `fds` during the call, each open or a sentinel (its type).
        unsafe { self.register(opcode::REGISTER_FILES, fds.as_ptr().cast(), n, |e| files_context(e, None)) }.map(|_| ())
    }

    /// Register a table of `n` empty slots (`IORING_REGISTER_FILES2` with
    /// `IORING_RSRC_REGISTER_SPARSE`, Linux 5.19), to fill with updates or with ops that
    /// open straight into a slot.
    pub fn register_files_sparse(&self, n: u32) -> Result<()> {
        self.register_sparse(Table::Files, n)
    }

    /// Register a file table with a tag per slot (`IORING_REGISTER_FILES2`,
    /// opcode 13, Linux 5.13). `tags` must be as long as `fds`; 0 means untagged.
    pub fn register_files_tagged(&self, fds: &[FileSlot<'_>], tags: &[u64]) -> Result<()> {
        // SAFETY: `fds` holds `fds.len()` transparent `i32` slots, read during
        // the call; each is open or a sentinel (the `FileSlot` contract).
        unsafe { self.register_tagged(Table::Files, fds.as_ptr() as u64, fds.len(), tags) }
    }

    /// Replace slots `offset..offset + fds.len()` (`IORING_REGISTER_FILES_UPDATE`,
    /// opcode 6, Linux 5.5). Returns how many slots were updated. [`EMPTY`] clears a
    /// slot, [`SKIP`] leaves it.
    pub fn update_files(&self, offset: u32, fds: &[FileSlot<'_>]) -> Result<u32> {
        let update = io_uring_files_update { offset, resv: 0, fds: fds.as_ptr() as u64 };
        let n = Table::Files.count(fds.len())?;
        let arg = (&update as *const io_uring_files_update).cast();
        // SAFETY: `update` and `fds` (transparent `i32` slots, each open or a
        // sentinel) are valid for the call.
        unsafe { self.register(opcode::REGISTER_FILES_UPDATE, arg, n, |e| files_context(e, None)) }
    }

    /// Replace slots with new files and tags (`IORING_REGISTER_FILES_UPDATE2`,
    /// opcode 14, Linux 5.13). Returns how many slots were updated.
    pub fn update_files_tagged(&self, offset: u32, fds: &[FileSlot<'_>], tags: &[u64]) -> Result<u32> {
        // SAFETY: `fds` holds `fds.len()` transparent `i32` slots, read during
        // the call; each is open or a sentinel (the `FileSlot` contract).
        unsafe { self.update_tagged(Table::Files, offset, fds.as_ptr() as u64, fds.len(), tags) }
    }

    /// Drop the file table (`IORING_UNREGISTER_FILES`, opcode 3, Linux 5.1). Tagged
    /// slots post their tag CQEs once no op uses them.
    pub fn unregister_files(&self) -> Result<()> {
        // SAFETY: no argument.
        unsafe { self.register(opcode::UNREGISTER_FILES, std::ptr::null(), 0, |e| files_context(e, None)) }.map(|_| ())
    }

    /// Restrict the slots that ops opening "into any free slot"
    /// (`IORING_FILE_INDEX_ALLOC`) may pick to `offset..offset + len`
    /// (`IORING_REGISTER_FILE_ALLOC_RANGE`, opcode 25, Linux 6.0).
    pub fn set_file_alloc_range(&self, offset: u32, len: u32) -> Result<()> {
        let range = io_uring_file_index_range { off: offset, len, resv: 0 };
        let arg = (&range as *const io_uring_file_index_range).cast();
        // SAFETY: `range` is valid for the call.
        unsafe {
            self.register(opcode::REGISTER_FILE_ALLOC_RANGE, arg, 0, |errno| files_context(errno, Some((offset, len))))
        }
        .map(|_| ())
    }
}
