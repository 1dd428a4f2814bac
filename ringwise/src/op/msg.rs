//! `IORING_OP_MSG_RING` (Linux 5.18): post a CQE to another ring, or pass
//! it a registered file.

use super::{base_on, common_setters, opcode, Common, DirectSlot, PrepareSqe, SafeOp, Target};
use crate::entry::Sqe;
use linux_raw_sys::io_uring as k;

/// Post a CQE with `res` and `user_data` to the ring `ring` (its fd, or its
/// index in this ring's registered files). This op's own `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct MsgRingData {
    common: Common,
    ring: Target,
    res: i32,
    data: u64,
    cqe_flags: Option<u32>,
}

impl MsgRingData {
    #[inline]
    pub fn new(ring: impl Into<Target>, res: i32, user_data: u64) -> MsgRingData {
        MsgRingData { common: Common::default(), ring: ring.into(), res, data: user_data, cqe_flags: None }
    }
    /// Set the target CQE's `flags` (`IORING_MSG_RING_FLAGS_PASS`, Linux 6.3).
    #[inline]
    pub fn cqe_flags(mut self, flags: u32) -> MsgRingData {
        self.cqe_flags = Some(flags);
        self
    }
}

/// Install registered file `source_index` of this ring into the table of
/// ring `ring` at `slot`, and post a CQE with `user_data` there (its `res`
/// is the slot).
#[derive(Debug, Clone, Copy)]
pub struct MsgRingFd {
    common: Common,
    ring: Target,
    source_index: u32,
    slot: DirectSlot,
    data: u64,
    skip: bool,
}

impl MsgRingFd {
    #[inline]
    pub fn new(ring: impl Into<Target>, source_index: u32, slot: DirectSlot, user_data: u64) -> MsgRingFd {
        MsgRingFd { common: Common::default(), ring: ring.into(), source_index, slot, data: user_data, skip: false }
    }
    /// Post no CQE in the target ring (`IORING_MSG_RING_CQE_SKIP`).
    #[inline]
    pub fn skip_target_cqe(mut self) -> MsgRingFd {
        self.skip = true;
        self
    }
}

common_setters!(MsgRingData, MsgRingFd);

impl PrepareSqe for MsgRingData {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        // (`IORING_MSG_RING_CQE_SKIP` only applies to fd passing: a data
        // message without its target CQE would carry nothing. To drop this
        // ring's own CQE, use `SqeFlags::CQE_SKIP_SUCCESS`.)
        let flags = if self.cqe_flags.is_some() { k::IORING_MSG_RING_FLAGS_PASS } else { 0 };
        *sqe = Sqe {
            addr: k::io_uring_msg_ring_flags::IORING_MSG_DATA as u64,
            len: self.res as u32,
            off: self.data,
            op_flags: flags,
            file_index: self.cqe_flags.unwrap_or(0),
            ..base_on(&self.common, opcode::MSG_RING, self.ring)
        };
    }
}

impl PrepareSqe for MsgRingFd {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: k::io_uring_msg_ring_flags::IORING_MSG_SEND_FD as u64,
            off: self.data,
            addr3: self.source_index as u64,
            file_index: DirectSlot::encode(Some(self.slot)),
            op_flags: if self.skip { k::IORING_MSG_RING_CQE_SKIP } else { 0 },
            ..base_on(&self.common, opcode::MSG_RING, self.ring)
        };
    }
}

impl SafeOp for MsgRingData {}
impl SafeOp for MsgRingFd {}
