//! Moving data: `SEND`, `RECV` (into a caller buffer or a provided buffer,
//! multishot, bundles), `SENDMSG`, `RECVMSG` (one-shot and multishot), and
//! [`RecvMsgOut`] to read a multishot `recvmsg` completion.

use super::{IoOpts, MsgFlags, MsgHdr};
use crate::entry::Sqe;
use crate::flags::SqeFlags;
use crate::op::{base, Common, PrepareSqe, SafeOp, Target};
use linux_raw_sys::io_uring as k;

/// `IORING_OP_SEND` (Linux 5.6): `send(2)`, or `sendto(2)` with
/// [`to`](Self::to); `res` is the bytes sent.
#[derive(Debug, Clone, Copy)]
pub struct Send {
    pub(crate) common: Common,
    target: Target,
    buf: *const u8,
    len: u32,
    dest: *const u8,
    dest_len: u16,
    pub(super) io: IoOpts,
}

impl Send {
    /// Send `len` bytes from `buf` on socket `target`. `buf` must stay valid
    /// and unmoved until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, buf: *const u8, len: u32) -> Send {
        Send {
            common: Common::default(),
            target: target.into(),
            buf,
            len,
            dest: std::ptr::null(),
            dest_len: 0,
            io: IoOpts::default(),
        }
    }
    /// Send to `addr` (`len` bytes of `sockaddr_*`), like `sendto(2)` (Linux
    /// 6.0); the address must stay valid until the CQE is reaped.
    #[inline]
    pub fn to(mut self, addr: *const u8, len: u16) -> Send {
        self.dest = addr;
        self.dest_len = len;
        self
    }
}

/// `IORING_OP_SEND` from provided-buffer group `group` (Linux 6.10): the
/// kernel sends the next buffer of the group, or with
/// [`bundle`](Self::bundle) as many as are queued. Needs a buffer *ring*.
/// Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct SendProvided {
    pub(crate) common: Common,
    target: Target,
    group: u16,
    len: u32,
    pub(super) io: IoOpts,
}

impl SendProvided {
    /// Send the next buffer(s) of buffer-ring group `group` on `target`; the
    /// CQE's buffer id says which buffer went out.
    #[inline]
    pub fn new(target: impl Into<Target>, group: u16) -> SendProvided {
        SendProvided { common: Common::default(), target: target.into(), group, len: 0, io: IoOpts::default() }
    }
    /// Send several buffers in one go (`IORING_RECVSEND_BUNDLE`, Linux 6.10);
    /// the CQE's buffer id is the first of them.
    #[inline]
    pub fn bundle(mut self) -> SendProvided {
        self.io.ioprio |= k::IORING_RECVSEND_BUNDLE as u16;
        self
    }
    /// Send at most `len` bytes (0, the default: whole buffers).
    #[inline]
    pub fn len(mut self, len: u32) -> SendProvided {
        self.len = len;
        self
    }
}

/// `IORING_OP_RECV` (Linux 5.6): `recv(2)` into one caller buffer; `res` is
/// the bytes received (0: the peer shut down).
#[derive(Debug, Clone, Copy)]
pub struct Recv {
    pub(crate) common: Common,
    target: Target,
    buf: *mut u8,
    len: u32,
    pub(super) io: IoOpts,
}

impl Recv {
    /// Receive up to `len` bytes from socket `target` into `buf`, which must
    /// stay valid and unmoved (and not otherwise accessed) until the CQE is
    /// reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, buf: *mut u8, len: u32) -> Recv {
        Recv { common: Common::default(), target: target.into(), buf, len, io: IoOpts::default() }
    }
}

/// `IORING_OP_RECV` into a buffer of provided-buffer group `group`
/// (`IOSQE_BUFFER_SELECT`, Linux 5.7); [`multishot`](Self::multishot) keeps it
/// armed and [`bundle`](Self::bundle) fills several buffers per CQE. No
/// pointer, so a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct RecvProvided {
    pub(crate) common: Common,
    target: Target,
    group: u16,
    len: u32,
    pub(super) io: IoOpts,
}

impl RecvProvided {
    /// Receive from `target` into a buffer the kernel picks from group
    /// `group`; the CQE's [`buffer_id`](crate::Cqe::buffer_id) says which
    /// (`-ENOBUFS`: the group was empty).
    #[inline]
    pub fn new(target: impl Into<Target>, group: u16) -> RecvProvided {
        RecvProvided { common: Common::default(), target: target.into(), group, len: 0, io: IoOpts::default() }
    }
    /// One CQE per receive while armed (`IORING_RECV_MULTISHOT`, Linux 6.0).
    #[inline]
    pub fn multishot(mut self) -> RecvProvided {
        self.io.ioprio |= k::IORING_RECV_MULTISHOT as u16;
        self
    }
    /// Fill several buffers per CQE (`IORING_RECVSEND_BUNDLE`, Linux 6.10;
    /// needs a buffer ring). `res` is the bytes over all of them, starting
    /// at the CQE's buffer id.
    #[inline]
    pub fn bundle(mut self) -> RecvProvided {
        self.io.ioprio |= k::IORING_RECVSEND_BUNDLE as u16;
        self
    }
    /// Receive at most `len` bytes per CQE (0, the default: the buffer size).
    #[inline]
    pub fn len(mut self, len: u32) -> RecvProvided {
        self.len = len;
        self
    }
}

/// `IORING_OP_SENDMSG` (Linux 5.3): `sendmsg(2)`; `res` is the bytes sent.
#[derive(Debug, Clone, Copy)]
pub struct SendMsg {
    pub(crate) common: Common,
    target: Target,
    msg: *const MsgHdr,
    pub(super) io: IoOpts,
}

impl SendMsg {
    /// Send the message `msg` describes (iovecs, destination, control data)
    /// on `target`. The `msghdr` and everything it points to must stay valid
    /// and unmoved until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, msg: *const MsgHdr) -> SendMsg {
        SendMsg { common: Common::default(), target: target.into(), msg, io: IoOpts::default() }
    }
}

/// `IORING_OP_RECVMSG` (Linux 5.3): `recvmsg(2)` into the iovecs of `msg`;
/// `res` is the bytes received.
#[derive(Debug, Clone, Copy)]
pub struct RecvMsg {
    pub(crate) common: Common,
    target: Target,
    msg: *mut MsgHdr,
    group: Option<u16>,
    pub(super) io: IoOpts,
}

impl RecvMsg {
    /// Receive from `target` into the buffers, name and control room `msg`
    /// describes; the kernel writes the lengths and flags back into `*msg`.
    /// The `msghdr` and everything it points to must stay valid and unmoved
    /// until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, msg: *mut MsgHdr) -> RecvMsg {
        RecvMsg { common: Common::default(), target: target.into(), msg, group: None, io: IoOpts::default() }
    }

    /// Receive one message from `target` with its payload in a buffer the
    /// kernel picks from provided-buffer group `group` (`IOSQE_BUFFER_SELECT`
    /// on `RECVMSG`, Linux 5.7; buffer rings 5.19); the CQE's
    /// [`buffer_id`](crate::Cqe::buffer_id) says which, and `res` is the
    /// payload bytes in it.
    ///
    /// The kernel's rules: `msg.msg_iovlen` is 0 or 1 (more is `-EINVAL`);
    /// with 1, that iovec's `iov_len` caps the payload (at most the picked
    /// buffer's size) and its `iov_base` is ignored. The name and control
    /// buffers of `msg` are still the caller's: the kernel writes them and
    /// the lengths and flags of `*msg` when the message arrives, so `msg`
    /// and everything it points to must stay valid and unmoved until the
    /// CQE is reaped. For one CQE per message with the name and control data
    /// in the provided buffer too, see [`RecvMsgMulti`].
    #[inline]
    pub fn provided(target: impl Into<Target>, msg: *mut MsgHdr, group: u16) -> RecvMsg {
        RecvMsg { group: Some(group), ..RecvMsg::new(target, msg) }
    }
}

/// Multishot `IORING_OP_RECVMSG` (Linux 6.0): each CQE's provided buffer
/// (group `group`) holds an `io_uring_recvmsg_out` header, the source
/// address (room: `msg.msg_namelen`), control data (room:
/// `msg.msg_controllen`) and the payload; parse it with [`RecvMsgOut`].
#[derive(Debug, Clone, Copy)]
pub struct RecvMsgMulti {
    pub(crate) common: Common,
    target: Target,
    msg: *const MsgHdr,
    group: u16,
    pub(super) io: IoOpts,
}

impl RecvMsgMulti {
    /// Receive from `target` into buffers of group `group`, one CQE per
    /// message while armed. `msg` only gives the name and control room (its
    /// iovecs are unused); the kernel reads it when the op is prepared, so
    /// it must stay valid until `submit` returns (until the last CQE is the
    /// simple rule).
    #[inline]
    pub fn new(target: impl Into<Target>, msg: *const MsgHdr, group: u16) -> RecvMsgMulti {
        RecvMsgMulti { common: Common::default(), target: target.into(), msg, group, io: IoOpts::default() }
    }
}

impl PrepareSqe for Send {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.buf as u64,
            len: self.len,
            op_flags: self.io.msg_flags.bits(),
            ioprio: self.io.ioprio,
            off: self.dest as u64,
            file_index: self.dest_len as u32,
            ..base(&self.common, Self::CODE, self.target)
        };
    }
}

/// The SQE of a provided-buffer send or receive (`BUFFER_SELECT`, the group
/// in `buf_group`).
#[inline(always)]
fn provided_sqe(common: &Common, code: u8, target: Target, group: u16, len: u32, io: IoOpts) -> Sqe {
    Sqe {
        len,
        op_flags: io.msg_flags.bits(),
        ioprio: io.ioprio,
        buf_index: group,
        ..base(&common.with(SqeFlags::BUFFER_SELECT), code, target)
    }
}

impl PrepareSqe for SendProvided {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = provided_sqe(&self.common, Self::CODE, self.target, self.group, self.len, self.io);
    }
}

impl PrepareSqe for Recv {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.buf as u64,
            len: self.len,
            op_flags: self.io.msg_flags.bits(),
            ioprio: self.io.ioprio,
            ..base(&self.common, Self::CODE, self.target)
        };
    }
}

impl PrepareSqe for RecvProvided {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = provided_sqe(&self.common, Self::CODE, self.target, self.group, self.len, self.io);
    }
}

/// The SQE of a `sendmsg`/`recvmsg` family op: the `msghdr` in `addr`, one
/// message.
#[inline(always)]
pub(super) fn msg_sqe(common: &Common, code: u8, target: Target, msg: u64, io: IoOpts) -> Sqe {
    Sqe { addr: msg, len: 1, op_flags: io.msg_flags.bits(), ioprio: io.ioprio, ..base(common, code, target) }
}

impl PrepareSqe for SendMsg {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = msg_sqe(&self.common, Self::CODE, self.target, self.msg as u64, self.io);
    }
}

impl PrepareSqe for RecvMsg {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = match self.group {
            None => msg_sqe(&self.common, Self::CODE, self.target, self.msg as u64, self.io),
            Some(group) => Sqe {
                buf_index: group,
                ..msg_sqe(&self.common.with(SqeFlags::BUFFER_SELECT), Self::CODE, self.target, self.msg as u64, self.io)
            },
        };
    }
}

impl PrepareSqe for RecvMsgMulti {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let io = IoOpts { ioprio: self.io.ioprio | k::IORING_RECV_MULTISHOT as u16, ..self.io };
        *sqe = Sqe { addr: self.msg as u64, ..provided_sqe(&self.common, Self::CODE, self.target, self.group, 0, io) };
    }
}

impl SafeOp for SendProvided {}
impl SafeOp for RecvProvided {}

/// One completion of a multishot [`RecvMsgMulti`], read from its provided
/// buffer: the kernel's `io_uring_recvmsg_out` header, then the source
/// address, control data and payload, each in the room the submitted
/// `msghdr` asked for.
#[derive(Debug, Clone, Copy)]
pub struct RecvMsgOut<'a> {
    header: k::io_uring_recvmsg_out,
    name: &'a [u8],
    control: &'a [u8],
    payload: &'a [u8],
}

impl<'a> RecvMsgOut<'a> {
    /// Parse `buf`, the first `cqe.res` bytes of the CQE's buffer, given the
    /// `msg_namelen` and `msg_controllen` of the submitted `msghdr`. `None`
    /// when `buf` is shorter than the header and the reserved room (a
    /// buffer too small for the name and control room never holds data).
    pub fn parse(buf: &'a [u8], name_room: u32, control_room: u32) -> Option<RecvMsgOut<'a>> {
        let head = std::mem::size_of::<k::io_uring_recvmsg_out>();
        let name_end = head.checked_add(name_room as usize)?;
        let control_end = name_end.checked_add(control_room as usize)?;
        if buf.len() < control_end {
            return None;
        }
        // SAFETY: `buf` holds at least `head` bytes; the header is plain u32s
        // and read unaligned.
        let header = unsafe { buf.as_ptr().cast::<k::io_uring_recvmsg_out>().read_unaligned() };
        let name = &buf[head..head + (header.namelen as usize).min(name_room as usize)];
        let control = &buf[name_end..name_end + (header.controllen as usize).min(control_room as usize)];
        let payload = &buf[control_end..control_end + (header.payloadlen as usize).min(buf.len() - control_end)];
        Some(RecvMsgOut { header, name, control, payload })
    }
    /// The source address bytes (truncated to the room asked for).
    pub fn name(&self) -> &'a [u8] {
        self.name
    }
    /// The address's full length, which may exceed [`name`](Self::name).
    pub fn name_len(&self) -> u32 {
        self.header.namelen
    }
    /// Control messages (truncated to the room asked for).
    pub fn control(&self) -> &'a [u8] {
        self.control
    }
    /// The payload bytes in this buffer.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
    /// The datagram's full length; larger than [`payload`](Self::payload)
    /// when the buffer truncated it (then `MSG_TRUNC` is in [`flags`](Self::flags)).
    pub fn payload_len(&self) -> u32 {
        self.header.payloadlen
    }
    /// `msg_flags` of the receive.
    pub fn flags(&self) -> MsgFlags {
        MsgFlags::from_bits_retain(self.header.flags)
    }
}
