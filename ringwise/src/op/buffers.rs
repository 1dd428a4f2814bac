//! Legacy provided buffers: `PROVIDE_BUFFERS` and `REMOVE_BUFFERS` (Linux
//! 5.7). Buffer *rings* (`IORING_REGISTER_PBUF_RING`) are a registration and
//! live in `register`; both kinds feed the same buffer-select ops.

use super::{base, common_setters, opcode, Common, PrepareSqe, SafeOp};
use crate::entry::Sqe;

/// Hand the kernel `count` buffers of `len` bytes each, contiguous from
/// `addr`, as group `group` with ids `first_id`, `first_id + 1`, ... The
/// memory is the kernel's to fill until each buffer comes back in a CQE
/// (or is removed), hence not a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct ProvideBuffers {
    common: Common,
    addr: *mut u8,
    len: u32,
    count: u32,
    group: u16,
    first_id: u16,
}

impl ProvideBuffers {
    #[inline]
    pub fn new(addr: *mut u8, len: u32, count: u32, group: u16, first_id: u16) -> ProvideBuffers {
        ProvideBuffers { common: Common::default(), addr, len, count, group, first_id }
    }
}

/// Take back up to `count` unused buffers of group `group`; `res` is how
/// many were removed.
#[derive(Debug, Clone, Copy)]
pub struct RemoveBuffers {
    common: Common,
    count: u32,
    group: u16,
}

impl RemoveBuffers {
    #[inline]
    pub fn new(count: u32, group: u16) -> RemoveBuffers {
        RemoveBuffers { common: Common::default(), count, group }
    }
}

common_setters!(ProvideBuffers, RemoveBuffers);

impl PrepareSqe for ProvideBuffers {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.addr as u64,
            len: self.len,
            off: self.first_id as u64,
            buf_index: self.group,
            ..base(&self.common, opcode::PROVIDE_BUFFERS, self.count as i32)
        };
    }
}

impl PrepareSqe for RemoveBuffers {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { buf_index: self.group, ..base(&self.common, opcode::REMOVE_BUFFERS, self.count as i32) };
    }
}

impl SafeOp for RemoveBuffers {}
