//! `IORING_OP_MSG_RING` (Linux 5.18): post a CQE to another ring, or pass
//! it a registered file.
//!
//! One ring posts a CQE into another:
//!
//! ```
//! use ringwise::op::MsgRingData;
//! use ringwise::Ring;
//!
//! let mut sender = Ring::new(8)?;
//! let mut receiver = Ring::new(8)?;
//! let target = receiver.fd().expect("a ring with an fd");
//! sender.submission().push(MsgRingData::new(target, 42, 0xabc).user_data(1)).unwrap();
//! sender.submit_and_wait(1)?;
//! assert_eq!(sender.completion().next().unwrap().res, 0);
//! receiver.submit_and_wait(1)?;
//! let cqe = receiver.completion().next().unwrap();
//! assert_eq!((cqe.user_data, cqe.res), (0xabc, 42));
//! # Ok::<(), ringwise::Error>(())
//! ```

use super::{base, Common, DirectSlot, PrepareSqe, SafeOp, Target};
use crate::entry::Sqe;
use linux_raw_sys::io_uring as k;

/// `IORING_OP_MSG_RING` with `IORING_MSG_DATA` (Linux 5.18): post a CQE to
/// another ring, a cross-ring wakeup with a payload. This op's own `res` is
/// 0 (`-EOVERFLOW` when the target's CQ is full). Carries no pointer: a
/// [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct MsgRingData {
    pub(crate) common: Common,
    ring: Target,
    res: i32,
    data: u64,
    cqe_flags: Option<u32>,
}

impl MsgRingData {
    /// Post a CQE with `res` and `user_data` to ring `ring` (its fd, or its
    /// index in this ring's registered files).
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

/// `IORING_OP_MSG_RING` with `IORING_MSG_SEND_FD` (Linux 6.0): pass a
/// registered file to another ring. This op's `res` is 0; the target ring
/// gets a CQE whose `res` is the slot. Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct MsgRingFd {
    pub(crate) common: Common,
    ring: Target,
    source_index: u32,
    slot: DirectSlot,
    data: u64,
    skip: bool,
}

impl MsgRingFd {
    /// Install registered file `source_index` of this ring into the file
    /// table of ring `ring` at `slot` (or an allocated slot), and post a CQE
    /// with `user_data` there.
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
            ..base(&self.common, Self::CODE, self.ring)
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
            ..base(&self.common, Self::CODE, self.ring)
        };
    }
}

impl SafeOp for MsgRingData {}
impl SafeOp for MsgRingFd {}
