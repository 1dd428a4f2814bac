//! Zero-copy: `SEND_ZC`, `SENDMSG_ZC` and `RECV_ZC`, and
//! [`zc_notification_copied`] to read a send's notification.
//!
//! A zero-copy send posts two CQEs: the result (with
//! [`more`](crate::Cqe::more) set) and later a notification
//! ([`is_notification`](crate::Cqe::is_notification)) once the kernel no
//! longer reads the buffer. The buffer must stay valid and unmodified until
//! the **notification**, not just the result.

use super::transfer::msg_sqe;
use super::{IoOpts, MsgHdr};
use crate::entry::{Cqe, Sqe};
use crate::op::{base, Common, PrepareSqe, SafeOp, Target};
use linux_raw_sys::io_uring as k;

/// Options of the zero-copy sends.
#[derive(Debug, Clone, Copy, Default)]
struct ZcOpts {
    fixed_buffer: Option<u16>,
}

impl ZcOpts {
    /// The `ioprio` bit and the `buf_index` that point the kernel at the
    /// registered buffer, if one was named.
    #[inline(always)]
    fn fixed(self) -> (u16, u16) {
        match self.fixed_buffer {
            Some(index) => (k::IORING_RECVSEND_FIXED_BUF as u16, index),
            None => (0, 0),
        }
    }
}

/// `IORING_OP_SEND_ZC` (Linux 6.0): `send(2)` without copying. Two CQEs come
/// back: the result (`res` the bytes sent, with [`more`](crate::Cqe::more)
/// set) and later a notification
/// ([`is_notification`](crate::Cqe::is_notification)) after which the
/// buffer may be reused. With [`report_usage`](Self::report_usage), the
/// notification's `res` says whether the kernel fell back to copying
/// ([`zc_notification_copied`]).
#[derive(Debug, Clone, Copy)]
pub struct SendZc {
    pub(crate) common: Common,
    target: Target,
    buf: *const u8,
    len: u32,
    dest: *const u8,
    dest_len: u16,
    pub(super) io: IoOpts,
    zc: ZcOpts,
}

impl SendZc {
    /// Send `len` bytes from `buf` on socket `target` without copying them.
    /// `buf` must stay valid, unmoved and unmodified until the
    /// **notification** CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, buf: *const u8, len: u32) -> SendZc {
        SendZc {
            common: Common::default(),
            target: target.into(),
            buf,
            len,
            dest: std::ptr::null(),
            dest_len: 0,
            io: IoOpts::default(),
            zc: ZcOpts::default(),
        }
    }
    /// The buffer lies inside registered buffer `index` (Linux 6.0).
    #[inline]
    pub fn fixed_buffer(mut self, index: u16) -> SendZc {
        self.zc.fixed_buffer = Some(index);
        self
    }
    /// Report in the notification whether data was copied
    /// (`IORING_SEND_ZC_REPORT_USAGE`, Linux 6.2).
    #[inline]
    pub fn report_usage(mut self) -> SendZc {
        self.io.ioprio |= k::IORING_SEND_ZC_REPORT_USAGE as u16;
        self
    }
    /// Send to `addr` (`len` bytes of `sockaddr_*`), like `sendto(2)`; the
    /// address must stay valid until the result CQE is reaped.
    #[inline]
    pub fn to(mut self, addr: *const u8, len: u16) -> SendZc {
        self.dest = addr;
        self.dest_len = len;
        self
    }
}

/// `IORING_OP_SENDMSG_ZC` (Linux 6.1): `sendmsg(2)` without copying; CQEs as
/// for [`SendZc`].
#[derive(Debug, Clone, Copy)]
pub struct SendMsgZc {
    pub(crate) common: Common,
    target: Target,
    msg: *const MsgHdr,
    pub(super) io: IoOpts,
    zc: ZcOpts,
}

impl SendMsgZc {
    /// Send the message `msg` describes on `target` without copying its
    /// data. The `msghdr` and what it points to must stay valid until the
    /// result CQE, and the data buffers unmoved and unmodified until the
    /// **notification** CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, msg: *const MsgHdr) -> SendMsgZc {
        SendMsgZc {
            common: Common::default(),
            target: target.into(),
            msg,
            io: IoOpts::default(),
            zc: ZcOpts::default(),
        }
    }
    /// Every iovec of the `msghdr` lies inside registered buffer `index`
    /// (`IORING_RECVSEND_FIXED_BUF`, Linux 6.15): the kernel resolves the
    /// addresses against the registered pages instead of pinning them per
    /// send. An iovec outside the buffer fails the send with `-EFAULT`.
    #[inline]
    pub fn fixed_buffer(mut self, index: u16) -> SendMsgZc {
        self.zc.fixed_buffer = Some(index);
        self
    }
    /// Report whether data was copied (`IORING_SEND_ZC_REPORT_USAGE`, Linux
    /// 6.2).
    #[inline]
    pub fn report_usage(mut self) -> SendMsgZc {
        self.io.ioprio |= k::IORING_SEND_ZC_REPORT_USAGE as u16;
        self
    }
}

/// Whether a zero-copy notification CQE reports that the kernel copied the
/// data after all (needs `report_usage`; loopback always copies).
pub fn zc_notification_copied(cqe: &Cqe) -> bool {
    cqe.is_notification() && (cqe.res as u32) & k::IORING_NOTIF_USAGE_ZC_COPIED != 0
}

/// `IORING_OP_RECV_ZC` (Linux 6.15): zero-copy receive into the area of a
/// registered zero-copy receive interface queue (`ifq`, registered with
/// `IORING_REGISTER_ZCRX_IFQ` on a NIC queue with header split). Always
/// multishot; completions are 32-byte CQEs whose extra words locate the data
/// in the area. Carries no pointer (the area is the registration's): a
/// [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct RecvZc {
    pub(crate) common: Common,
    target: Target,
    ifq: u32,
    len: u32,
    ioprio: u16,
}

impl RecvZc {
    /// Receive from socket `target` (on the NIC queue of `ifq`) into the
    /// area of registered interface queue `ifq`, until cancelled or an
    /// error; needs a `CQE32` ring.
    #[inline]
    pub fn new(target: impl Into<Target>, ifq: u32) -> RecvZc {
        RecvZc {
            common: Common::default(),
            target: target.into(),
            ifq,
            len: 0,
            ioprio: k::IORING_RECV_MULTISHOT as u16,
        }
    }
    /// Stop after `len` bytes (0, the default: no limit).
    #[inline]
    pub fn len(mut self, len: u32) -> RecvZc {
        self.len = len;
        self
    }
}

impl PrepareSqe for SendZc {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let (fixed, buf_index) = self.zc.fixed();
        *sqe = Sqe {
            addr: self.buf as u64,
            len: self.len,
            op_flags: self.io.msg_flags.bits(),
            ioprio: self.io.ioprio | fixed,
            buf_index,
            off: self.dest as u64,
            file_index: self.dest_len as u32,
            ..base(&self.common, Self::CODE, self.target)
        };
    }
}

impl PrepareSqe for SendMsgZc {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let (fixed, buf_index) = self.zc.fixed();
        let io = IoOpts { ioprio: self.io.ioprio | fixed, ..self.io };
        *sqe = Sqe { buf_index, ..msg_sqe(&self.common, Self::CODE, self.target, self.msg as u64, io) };
    }
}

impl PrepareSqe for RecvZc {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            len: self.len,
            ioprio: self.ioprio,
            file_index: self.ifq,
            ..base(&self.common, Self::CODE, self.target)
        };
    }
}

impl SafeOp for RecvZc {}
