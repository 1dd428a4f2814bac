//! `IORING_OP_MSG_RING` (Linux 5.18): post a CQE to another ring, or pass
//! it a registered file.
//!
//! One ring posts a CQE into another:
//!
//! ```
//! use ringwise::op::{MsgRingData, Target};
//! use ringwise::Ring;
//!
//! let mut sender = Ring::new(8)?;
//! let mut receiver = Ring::new(8)?;
//! // SAFETY: `receiver` lives until the end of the example, after the
//! // message's CQE is reaped, so its fd names it for the op's lifetime.
//! let target = unsafe { Target::from_fd(receiver.fd().expect("a ring with an fd")) };
//! sender.submission().push(MsgRingData::new(target, 42, 0xabc).user_data(1)).unwrap();
//! sender.submit_and_wait(1)?;
//! assert_eq!(sender.completion().next().unwrap().res, 0);
//! receiver.submit_and_wait(1)?;
//! let cqe = receiver.completion().next().unwrap();
//! assert_eq!((cqe.user_data, cqe.res), (0xabc, 42));
//! # Ok::<(), ringwise::Error>(())
//! ```
//!
//! The target ring is a [`Target`], so its descriptor goes through `unsafe`
//! [`Target::fd`] / [`Target::from_fd`]: the caller keeps the receiver open
//! until the message's CQE (a guessed or stale number would post into
//! whatever ring now has it). A fixed target names a slot of this ring's
//! file table, but the kernel refuses to register an io_uring fd there
//! (`-EBADF`, measured on 6.18), so in practice a message goes to a ring fd
//! kept open by its owner.
//!
//! # CQE flags a safe message may set
//!
//! The kernel copies a message's CQE flags into the target's CQE unchanged
//! (`IORING_MSG_RING_FLAGS_PASS`), and receivers trust the flags the kernel
//! assigns: `F_BUFFER` with the buffer id (bits 16-31) makes a
//! provided-buffer consumer hand out a buffer the kernel may still be
//! filling, `F_MORE` / `F_BUF_MORE` keep a multishot or incremental-buffer
//! consumer waiting or holding a buffer, `F_NOTIF` tells a zero-copy sender
//! its buffer is free while the kernel still reads it, `F_SOCK_NONEMPTY`
//! claims data that is not there, and on a `CQE_MIXED` ring `F_SKIP` makes
//! the CQE vanish as a filler while `F_32` makes the reader take the next,
//! real, CQE as this one's second half. So [`MsgRingData::cqe_flags`]
//! accepts only [`MsgRingData::SAFE_CQE_FLAGS`], the bits Linux 6.18 gives
//! no meaning (6 to 14), and refuses the rest with a typed error;
//! [`MsgRingData::cqe_flags_unchecked`] sets any under `unsafe`, for a
//! sender that knows what the receiver does with them.

use super::{base, Common, DirectSlot, PrepareSqe, SafeOp, Target};
use crate::abi;
use crate::entry::Sqe;
use crate::error::{Error, Result};
use linux_raw_sys::io_uring as k;

/// `IORING_OP_MSG_RING` with `IORING_MSG_DATA` (Linux 5.18): post a CQE to
/// another ring, a cross-ring wakeup with a payload. This op's own `res` is
/// 0 (`-EOVERFLOW` when the target's CQ is full). Carries no pointer, and
/// its target ring and CQE flags are limited as the module docs say: a
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
    /// The CQE flag bits a safe message may set: bits 6 to 14, which Linux
    /// 6.18 assigns no meaning. Every other bit is the kernel's
    /// (`IORING_CQE_F_BUFFER`, `F_MORE`, `F_SOCK_NONEMPTY`, `F_NOTIF`,
    /// `F_BUF_MORE`, `F_SKIP` are bits 0 to 5, `F_32` is bit 15, the buffer
    /// id bits 16 to 31), and a receiver trusts them (the module docs).
    pub const SAFE_CQE_FLAGS: u32 = 0x7fc0;

    /// Post a CQE with `res` and `user_data` to ring `ring`: its fd under
    /// the contract of [`Target::fd`] (the module docs say why a fixed slot
    /// cannot hold a ring).
    #[inline]
    pub fn new(ring: impl Into<Target>, res: i32, user_data: u64) -> MsgRingData {
        MsgRingData { common: Common::default(), ring: ring.into(), res, data: user_data, cqe_flags: None }
    }
    /// Set the target CQE's `flags` (`IORING_MSG_RING_FLAGS_PASS`, Linux
    /// 6.3), limited to [`SAFE_CQE_FLAGS`](Self::SAFE_CQE_FLAGS): a flag the
    /// kernel gives a meaning is refused with [`Error::OpInvalid`], since a
    /// forged one breaks the receiver (the module docs).
    #[inline]
    pub fn cqe_flags(self, flags: u32) -> Result<MsgRingData> {
        if flags & !Self::SAFE_CQE_FLAGS != 0 {
            return Err(Error::OpInvalid {
                op: "MSG_RING",
                why: "a safe message may set only the CQE flag bits the kernel gives no meaning \
                      (MsgRingData::SAFE_CQE_FLAGS, bits 6-14); F_BUFFER, F_MORE, F_SOCK_NONEMPTY, F_NOTIF, \
                      F_BUF_MORE, F_SKIP, F_32 and the buffer-id bits would make the receiver trust a \
                      completion the kernel never posted: use the unsafe cqe_flags_unchecked if the receiver \
                      expects them",
            });
        }
        // SAFETY: only bits the kernel assigns no meaning, which no receiver
        // interprets as a kernel claim.
        Ok(unsafe { self.cqe_flags_unchecked(flags) })
    }
    /// Set the target CQE's `flags` to any value (`IORING_MSG_RING_FLAGS_PASS`,
    /// Linux 6.3), kernel-defined bits included.
    ///
    /// # Safety
    ///
    /// The receiving ring's code must be prepared for these flags on a CQE
    /// the kernel did not produce: no provided buffer is behind `F_BUFFER`
    /// and its id, no further CQE behind `F_MORE`, no finished zero-copy
    /// send behind `F_NOTIF`, and on a `CQE_MIXED` receiver `F_SKIP` hides
    /// the CQE and `F_32` makes the reader consume the next CQE as its
    /// second half. (For example, a sender forwarding a buffer id to a
    /// receiver that treats the message as its own protocol.)
    #[inline]
    pub unsafe fn cqe_flags_unchecked(mut self, flags: u32) -> MsgRingData {
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
    /// table of ring `ring` (a [`Target`], as for [`MsgRingData::new`]) at `slot` (or an allocated slot), and post a CQE
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

const _: () = assert!(
    MsgRingData::SAFE_CQE_FLAGS
        & (abi::IORING_CQE_F_BUFFER
            | abi::IORING_CQE_F_MORE
            | abi::IORING_CQE_F_SOCK_NONEMPTY
            | abi::IORING_CQE_F_NOTIF
            | abi::IORING_CQE_F_BUF_MORE
            | abi::IORING_CQE_F_SKIP
            | abi::IORING_CQE_F_32
            | (u16::MAX as u32) << abi::IORING_CQE_BUFFER_SHIFT)
        == 0
);
