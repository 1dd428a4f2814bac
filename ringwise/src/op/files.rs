//! `IORING_OP_FILES_UPDATE` (Linux 5.6): change the registered file table
//! from inside the ring, ordered with the other SQEs.

use super::{base, common_setters, opcode, Common, PrepareSqe};
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

/// Replace `count` entries of the registered file table with the fds at
/// `fds` (`-1` clears a slot). `res` is the number updated. The array is
/// read (and with [`UpdateAt::Alloc`], written) while the op runs.
#[derive(Debug, Clone, Copy)]
pub struct FilesUpdate {
    common: Common,
    fds: *mut RawFd,
    count: u32,
    at: UpdateAt,
}

impl FilesUpdate {
    #[inline]
    pub fn new(fds: *mut RawFd, count: u32, at: UpdateAt) -> FilesUpdate {
        FilesUpdate { common: Common::default(), fds, count, at }
    }
}

common_setters!(FilesUpdate);

impl PrepareSqe for FilesUpdate {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let off = match self.at {
            UpdateAt::Offset(o) => o as u64,
            UpdateAt::Alloc => linux_raw_sys::io_uring::IORING_FILE_INDEX_ALLOC as u32 as u64,
        };
        *sqe = Sqe { addr: self.fds as u64, len: self.count, off, ..base(&self.common, opcode::FILES_UPDATE, -1) };
    }
}
