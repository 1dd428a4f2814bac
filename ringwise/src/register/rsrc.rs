//! The tagged-table calls that files and buffers share: both tables are
//! registered with `struct io_uring_rsrc_register` (opcodes 13 and 15) and
//! updated with `struct io_uring_rsrc_update2` (opcodes 14 and 16), and only
//! the opcodes, the element type and what the errors say differ.

use super::{count, same_len};
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Result, Table};
use crate::Ring;
use linux_raw_sys::io_uring::{io_uring_rsrc_register, io_uring_rsrc_update2, IORING_RSRC_REGISTER_SPARSE};
use rustix::io::Errno;

/// One resource table: which one (the typed [`Table`] that errors name),
/// its opcodes and what its errnos mean.
pub(crate) struct RsrcTable {
    /// Files or buffers; the words of length errors follow from it.
    pub kind: Table,
    /// `REGISTER_FILES2` or `REGISTER_BUFFERS2`.
    pub register: u32,
    /// `REGISTER_FILES_UPDATE2` or `REGISTER_BUFFERS_UPDATE`.
    pub update: u32,
    /// What an errno means for this table (the family's one explanation).
    pub context: fn(Errno) -> Option<String>,
}

impl RsrcTable {
    /// What the table's entries are called in a length error.
    fn items(&self) -> &'static str {
        match self.kind {
            Table::Files => "files",
            Table::Buffers => "buffers",
        }
    }

    /// What the tag list is called in a length error.
    fn tags(&self) -> &'static str {
        match self.kind {
            Table::Files => "tags for the files",
            Table::Buffers => "tags for the buffers",
        }
    }

    /// `n` entries as the kernel's `u32` count.
    pub fn count(&self, n: usize) -> Result<u32> {
        count(self.items(), n)
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Register `table` with `len` entries at `data` and a tag each.
    ///
    /// # Safety
    /// `data` points to `len` entries of the table's type, readable for the
    /// call; for buffers, the memory they describe follows
    /// [`register_buffers`](Ring::register_buffers)' contract.
    pub(crate) unsafe fn register_tagged(&self, table: &RsrcTable, data: u64, len: usize, tags: &[u64]) -> Result<()> {
        same_len(table.tags(), len, tags.len())?;
        let reg =
            io_uring_rsrc_register { nr: table.count(len)?, flags: 0, resv2: 0, data, tags: tags.as_ptr() as u64 };
        // SAFETY: forwarded contract; `tags` is as long as the data.
        unsafe { self.register_rsrc(table, &reg) }
    }

    /// Register `table` with `n` empty slots, to fill with updates.
    pub(crate) fn register_sparse(&self, table: &RsrcTable, n: u32) -> Result<()> {
        let reg = io_uring_rsrc_register { nr: n, flags: IORING_RSRC_REGISTER_SPARSE, resv2: 0, data: 0, tags: 0 };
        // SAFETY: a sparse table hands the kernel no memory.
        unsafe { self.register_rsrc(table, &reg) }
    }

    /// # Safety
    /// The arrays `reg` points to are valid for the call, and (buffers) the
    /// memory they describe follows `register_buffers`' contract.
    unsafe fn register_rsrc(&self, table: &RsrcTable, reg: &io_uring_rsrc_register) -> Result<()> {
        let size = std::mem::size_of::<io_uring_rsrc_register>() as u32;
        // SAFETY: `reg` is valid for the call (the kernel copies it and its
        // arrays); forwarded contract for the memory.
        unsafe { self.register(table.register, (reg as *const io_uring_rsrc_register).cast(), size, table.context) }
            .map(|_| ())
    }

    /// Replace slots `offset..offset + len` of `table` with the `len`
    /// entries at `data` and their `tags`. Returns how many slots were
    /// updated.
    ///
    /// # Safety
    /// As for [`register_tagged`](Self::register_tagged).
    pub(crate) unsafe fn update_tagged(
        &self,
        table: &RsrcTable,
        offset: u32,
        data: u64,
        len: usize,
        tags: &[u64],
    ) -> Result<u32> {
        same_len(table.tags(), len, tags.len())?;
        let update = io_uring_rsrc_update2 {
            offset,
            resv: 0,
            data,
            tags: tags.as_ptr() as u64,
            nr: table.count(len)?,
            resv2: 0,
        };
        let size = std::mem::size_of::<io_uring_rsrc_update2>() as u32;
        // SAFETY: `update` and its arrays are valid for the call; forwarded
        // contract for the memory.
        unsafe { self.register(table.update, (&update as *const io_uring_rsrc_update2).cast(), size, table.context) }
    }
}
