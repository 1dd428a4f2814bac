//! The tagged-table calls that files and buffers share: both tables are
//! registered with `struct io_uring_rsrc_register` (opcodes 13 and 15) and
//! updated with `struct io_uring_rsrc_update2` (opcodes 14 and 16), and only
//! the opcodes, the element type and what the errors say differ, all of
//! which follow from the typed [`Table`].

use super::buffers::buffers_context;
use super::files::files_context;
use super::{count, opcode, same_len};
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Result, Table};
use crate::Ring;
use linux_raw_sys::io_uring::{io_uring_rsrc_register, io_uring_rsrc_update2, IORING_RSRC_REGISTER_SPARSE};
use rustix::io::Errno;

/// What the calls shared by the two resource tables need to know of each:
/// the opcodes, what an errno means, and the words of length errors, all
/// following from the typed [`Table`] that errors name.
pub(crate) trait RsrcTable: Copy {
    /// `REGISTER_FILES2` or `REGISTER_BUFFERS2` (Linux 5.13).
    fn register_op(self) -> u32;
    /// `REGISTER_FILES_UPDATE2` or `REGISTER_BUFFERS_UPDATE` (Linux 5.13).
    fn update_op(self) -> u32;
    /// What an errno means for this table (the family's one explanation).
    fn context(self, errno: Errno) -> Option<String>;
    /// What the table's entries are called in a length error.
    fn items(self) -> &'static str;
    /// What the tag list is called in a length error.
    fn tags(self) -> &'static str;
    /// `n` entries as the kernel's `u32` count.
    fn count(self, n: usize) -> Result<u32> {
        count(self.items(), n)
    }
}

impl RsrcTable for Table {
    fn register_op(self) -> u32 {
        match self {
            Table::Files => opcode::REGISTER_FILES2,
            Table::Buffers => opcode::REGISTER_BUFFERS2,
        }
    }
    fn update_op(self) -> u32 {
        match self {
            Table::Files => opcode::REGISTER_FILES_UPDATE2,
            Table::Buffers => opcode::REGISTER_BUFFERS_UPDATE,
        }
    }
    fn context(self, errno: Errno) -> Option<String> {
        match self {
            Table::Files => files_context(errno, None),
            Table::Buffers => buffers_context(errno, None),
        }
    }
    fn items(self) -> &'static str {
        match self {
            Table::Files => "files",
            Table::Buffers => "buffers",
        }
    }
    fn tags(self) -> &'static str {
        match self {
            Table::Files => "tags for the files",
            Table::Buffers => "tags for the buffers",
        }
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Register `table` with `len` entries at `data` and a tag each.
    ///
    /// # Safety
    /// `data` points to `len` entries of the table's type, readable for the
    /// call; for buffers, the memory they describe follows
    /// [`register_buffers`](Ring::register_buffers)' contract.
    pub(crate) unsafe fn register_tagged(&self, table: Table, data: u64, len: usize, tags: &[u64]) -> Result<()> {
        same_len(table.tags(), len, tags.len())?;
        let reg =
            io_uring_rsrc_register { nr: table.count(len)?, flags: 0, resv2: 0, data, tags: tags.as_ptr() as u64 };
        // SAFETY: forwarded contract; `tags` is as long as the data.
        unsafe { self.register_rsrc(table, &reg) }
    }

    /// Register `table` with `n` empty slots, to fill with updates.
    pub(crate) fn register_sparse(&self, table: Table, n: u32) -> Result<()> {
        let reg = io_uring_rsrc_register { nr: n, flags: IORING_RSRC_REGISTER_SPARSE, resv2: 0, data: 0, tags: 0 };
        // SAFETY: a sparse table hands the kernel no memory.
        unsafe { self.register_rsrc(table, &reg) }
    }

    /// # Safety
    /// The arrays `reg` points to are valid for the call, and (buffers) the
    /// memory they describe follows `register_buffers`' contract.
    unsafe fn register_rsrc(&self, table: Table, reg: &io_uring_rsrc_register) -> Result<()> {
        let size = std::mem::size_of::<io_uring_rsrc_register>() as u32;
        // SAFETY: `reg` is valid for the call (the kernel copies it and its
        // arrays); forwarded contract for the memory.
        unsafe {
            self.register(table.register_op(), (reg as *const io_uring_rsrc_register).cast(), size, |e| {
                table.context(e)
            })
        }
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
        table: Table,
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
        unsafe {
            self.register(table.update_op(), (&update as *const io_uring_rsrc_update2).cast(), size, |e| {
                table.context(e)
            })
        }
    }
}
