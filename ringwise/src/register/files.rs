//! Registered (fixed, "direct") files: a per-ring table of files that ops
//! name by index with `IOSQE_FIXED_FILE` ([`Target::fixed`](crate::op::Target::fixed)),
//! skipping the fd-table lookup and its reference counting on every op.
//!
//! The kernel takes its own reference to each file when it is registered, so
//! closing the descriptor afterwards is fine: the slot keeps the file open
//! until it is replaced or unregistered. In a list of descriptors, `-1`
//! ([`EMPTY`]) leaves a slot empty and, in updates, [`SKIP`] leaves a slot as
//! it is.
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
use std::os::fd::RawFd;

/// In a list of descriptors to register or update: leave this slot empty.
pub const EMPTY: RawFd = -1;
/// In an update: leave this slot as it is (`IORING_REGISTER_FILES_SKIP`).
pub const SKIP: RawFd = linux_raw_sys::io_uring::IORING_REGISTER_FILES_SKIP;

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
    /// use ringwise::register::files::EMPTY;
    /// use ringwise::Ring;
    /// use std::os::fd::AsRawFd;
    ///
    /// let path = std::env::temp_dir().join(format!("ringwise-doc-files-{}", std::process::id()));
    /// let file = std::fs::File::create(&path)?;
    /// let mut ring = Ring::new(4)?;
    /// // Slot 0: the file; slot 1: empty, to fill later with update_files.
    /// ring.register_files(&[file.as_raw_fd(), EMPTY])?;
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
    pub fn register_files(&self, fds: &[RawFd]) -> Result<()> {
        let n = Table::Files.count(fds.len())?;
        // SAFETY: the kernel reads `n` i32s from `fds` during the call.
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
    pub fn register_files_tagged(&self, fds: &[RawFd], tags: &[u64]) -> Result<()> {
        // SAFETY: `fds` holds `fds.len()` descriptors, read during the call.
        unsafe { self.register_tagged(Table::Files, fds.as_ptr() as u64, fds.len(), tags) }
    }

    /// Replace slots `offset..offset + fds.len()` (`IORING_REGISTER_FILES_UPDATE`,
    /// opcode 6, Linux 5.5). Returns how many slots were updated. [`EMPTY`] clears a
    /// slot, [`SKIP`] leaves it.
    pub fn update_files(&self, offset: u32, fds: &[RawFd]) -> Result<u32> {
        let update = io_uring_files_update { offset, resv: 0, fds: fds.as_ptr() as u64 };
        let n = Table::Files.count(fds.len())?;
        let arg = (&update as *const io_uring_files_update).cast();
        // SAFETY: `update` and `fds` are valid for the call.
        unsafe { self.register(opcode::REGISTER_FILES_UPDATE, arg, n, |e| files_context(e, None)) }
    }

    /// Replace slots with new files and tags (`IORING_REGISTER_FILES_UPDATE2`,
    /// opcode 14, Linux 5.13). Returns how many slots were updated.
    pub fn update_files_tagged(&self, offset: u32, fds: &[RawFd], tags: &[u64]) -> Result<u32> {
        // SAFETY: `fds` holds `fds.len()` descriptors, read during the call.
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
