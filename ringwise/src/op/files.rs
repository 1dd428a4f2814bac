//! `IORING_OP_FILES_UPDATE` (Linux 5.6): change the registered file table
//! from inside the ring, ordered with the other SQEs.
//!
//! Filling slot 1 of a sparse table, then writing through it:
//!
//! ```
//! use ringwise::op::{FilesUpdate, Target, UpdateAt, Write};
//! use ringwise::Ring;
//! use std::io::Read;
//! use std::os::fd::AsRawFd;
//!
//! let (mut reader, writer) = std::io::pipe()?;
//! let mut ring = Ring::new(8)?;
//! ring.register_files_sparse(4)?;
//! let mut fds = [writer.as_raw_fd()];
//! // SAFETY: `fds` stays valid and unmoved until the CQE is reaped.
//! unsafe { ring.submission().push_unchecked(FilesUpdate::new(fds.as_mut_ptr(), 1, UpdateAt::Offset(1)).user_data(1)) }
//!     .unwrap();
//! ring.submit_and_wait(1)?;
//! assert_eq!(ring.completion().next().unwrap().res, 1);
//! let data = *b"fixed";
//! // SAFETY: `data` stays valid until the CQE is reaped.
//! unsafe { ring.submission().push_unchecked(Write::new(Target::fixed(1), data.as_ptr(), 5).user_data(2)) }.unwrap();
//! ring.submit_and_wait(1)?;
//! assert_eq!(ring.completion().next().unwrap().res, 5);
//! let mut got = [0u8; 5];
//! reader.read_exact(&mut got)?;
//! assert_eq!(&got, b"fixed");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{base, Common, PrepareSqe};
use crate::entry::Sqe;
use std::os::fd::RawFd;

/// Where a [`FilesUpdate`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateAt {
    /// Slots `offset..offset + count`.
    Offset(u32),
    /// Free slots the kernel picks; it writes the chosen slots back into the
    /// fd array (`IORING_FILE_INDEX_ALLOC`, Linux 5.19).
    Alloc,
}

/// `IORING_OP_FILES_UPDATE` (Linux 5.6): `IORING_REGISTER_FILES_UPDATE` as an
/// SQE, ordered with the ops around it; `res` is the number of slots
/// updated.
#[derive(Debug, Clone, Copy)]
pub struct FilesUpdate {
    pub(crate) common: Common,
    fds: *mut RawFd,
    count: u32,
    at: UpdateAt,
}

impl FilesUpdate {
    /// Replace `count` entries of the registered file table, at `at`, with
    /// the fds of the array at `fds` (`-1` clears a slot). The array is read
    /// (and with [`UpdateAt::Alloc`], written) while the op runs: keep it
    /// valid and unmoved until the CQE is reaped.
    #[inline]
    pub fn new(fds: *mut RawFd, count: u32, at: UpdateAt) -> FilesUpdate {
        FilesUpdate { common: Common::default(), fds, count, at }
    }
}

impl PrepareSqe for FilesUpdate {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let off = match self.at {
            UpdateAt::Offset(o) => o as u64,
            UpdateAt::Alloc => linux_raw_sys::io_uring::IORING_FILE_INDEX_ALLOC as u32 as u64,
        };
        *sqe = Sqe { addr: self.fds as u64, len: self.count, off, ..base(&self.common, Self::CODE, -1) };
    }
}
