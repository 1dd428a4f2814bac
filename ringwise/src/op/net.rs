//! Sockets: create, bind, listen, connect, accept, send and receive (plain,
//! provided buffers, multishot, bundles, zero-copy), `sendmsg`/`recvmsg`,
//! shutdown, zero-copy receive; and the helpers to read their completions
//! (multishot `recvmsg` output, zero-copy notifications).
//!
//! Receives that pick a provided buffer are built from a buffer group
//! ([`RecvProvided`], [`RecvMsgMulti`]), never from a pointer, so a multishot
//! receive without a buffer group cannot be written.

use super::{base_on, common_setters, opcode, Common, DirectSlot, PrepareSqe, SafeOp, Target};
use crate::entry::{Cqe, Sqe};
use crate::flags::SqeFlags;
use linux_raw_sys::io_uring as k;
use linux_raw_sys::net as n;

/// `struct msghdr` for [`SendMsg`], [`RecvMsg`] and their variants (the
/// same layout as `libc::msghdr`).
pub type MsgHdr = n::msghdr;

bitflags::bitflags! {
    /// `MSG_*` flags of `send(2)`/`recv(2)`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MsgFlags: u32 {
        const OOB = n::MSG_OOB;
        const PEEK = n::MSG_PEEK;
        const DONTROUTE = n::MSG_DONTROUTE;
        const CTRUNC = n::MSG_CTRUNC;
        const TRUNC = n::MSG_TRUNC;
        const DONTWAIT = n::MSG_DONTWAIT;
        const EOR = n::MSG_EOR;
        const WAITALL = n::MSG_WAITALL;
        const CONFIRM = n::MSG_CONFIRM;
        const ERRQUEUE = n::MSG_ERRQUEUE;
        const NOSIGNAL = n::MSG_NOSIGNAL;
        const MORE = n::MSG_MORE;
        const CMSG_CLOEXEC = n::MSG_CMSG_CLOEXEC;
    }
}

bitflags::bitflags! {
    /// `SOCK_*` flags for accepted and created sockets.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct AcceptFlags: u32 {
        const CLOEXEC = linux_raw_sys::general::O_CLOEXEC;
        const NONBLOCK = linux_raw_sys::general::O_NONBLOCK;
    }
}

/// `IORING_OP_SOCKET` (Linux 5.19): `socket(2)`, optionally as a direct
/// descriptor.
#[derive(Debug, Clone, Copy)]
pub struct Socket {
    common: Common,
    domain: i32,
    ty: u32,
    protocol: u32,
    direct: Option<DirectSlot>,
}

impl Socket {
    /// `domain` (`AF_*`), `ty` (`SOCK_*`, may include `SOCK_CLOEXEC`), `protocol`.
    #[inline]
    pub fn new(domain: i32, ty: u32, protocol: u32) -> Socket {
        Socket { common: Common::default(), domain, ty, protocol, direct: None }
    }
    /// Install the socket in the registered file table.
    #[inline]
    pub fn direct(mut self, slot: DirectSlot) -> Socket {
        self.direct = Some(slot);
        self
    }
}

macro_rules! addr_op {
    ($(#[$doc:meta])* $name:ident, $opcode:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name {
            common: Common,
            target: Target,
            addr: *const u8,
            len: u32,
        }

        impl $name {
            /// `addr` points to a `sockaddr_*` of `len` bytes, read at submit.
            #[inline]
            pub fn new(target: impl Into<Target>, addr: *const u8, len: u32) -> $name {
                $name { common: Common::default(), target: target.into(), addr, len }
            }
        }

        common_setters!($name);

        impl PrepareSqe for $name {
            #[inline(always)]
            fn prepare(self, sqe: &mut Sqe) {
                *sqe = Sqe { addr: self.addr as u64, off: self.len as u64, ..base_on(&self.common, $opcode, self.target) };
            }
        }
    };
}

addr_op!(
    /// `IORING_OP_CONNECT`: `connect(2)`.
    Connect,
    opcode::CONNECT
);
addr_op!(
    /// `IORING_OP_BIND` (Linux 6.11): `bind(2)`.
    Bind,
    opcode::BIND
);

/// `IORING_OP_LISTEN` (Linux 6.11): `listen(2)`.
#[derive(Debug, Clone, Copy)]
pub struct Listen {
    common: Common,
    target: Target,
    backlog: u32,
}

impl Listen {
    #[inline]
    pub fn new(target: impl Into<Target>, backlog: u32) -> Listen {
        Listen { common: Common::default(), target: target.into(), backlog }
    }
}

/// Options shared by [`Accept`] and [`AcceptFrom`].
#[derive(Debug, Clone, Copy, Default)]
struct AcceptOpts {
    flags: AcceptFlags,
    ioprio: u16,
    direct: Option<DirectSlot>,
}

macro_rules! accept_setters {
    ($($name:ident),*) => {$(
        impl $name {
            /// `SOCK_CLOEXEC` / `SOCK_NONBLOCK` for the new socket.
            #[inline]
            pub fn accept_flags(mut self, flags: AcceptFlags) -> $name {
                self.opts.flags = flags;
                self
            }
            /// Stay armed: one CQE per connection, each with
            /// [`more`](crate::Cqe::more) set while armed (Linux 5.19). With
            /// [`direct`](Self::direct) the slot must be [`DirectSlot::Alloc`]
            /// ([`check`](super::check) refuses a fixed slot).
            #[inline]
            pub fn multishot(mut self) -> $name {
                self.opts.ioprio |= k::IORING_ACCEPT_MULTISHOT as u16;
                self
            }
            /// Fail with `-EAGAIN` instead of arming a poll when no
            /// connection is pending (`IORING_ACCEPT_DONTWAIT`, Linux 6.10).
            #[inline]
            pub fn dontwait(mut self) -> $name {
                self.opts.ioprio |= k::IORING_ACCEPT_DONTWAIT as u16;
                self
            }
            /// Arm the poll before trying (`IORING_ACCEPT_POLL_FIRST`, 6.10).
            #[inline]
            pub fn poll_first(mut self) -> $name {
                self.opts.ioprio |= k::IORING_ACCEPT_POLL_FIRST as u16;
                self
            }
            /// Install the connection in the registered file table.
            #[inline]
            pub fn direct(mut self, slot: DirectSlot) -> $name {
                self.opts.direct = Some(slot);
                self
            }
        }
    )*};
}

/// `IORING_OP_ACCEPT`: `accept4(2)` without the peer address (use
/// [`AcceptFrom`] to get it). Carries no pointer, so it is a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct Accept {
    common: Common,
    target: Target,
    opts: AcceptOpts,
}

impl Accept {
    #[inline]
    pub fn new(target: impl Into<Target>) -> Accept {
        Accept { common: Common::default(), target: target.into(), opts: AcceptOpts::default() }
    }
}

/// `IORING_OP_ACCEPT` that writes the peer address to `addr` (`*addrlen`
/// bytes of room; the kernel stores the real length back).
#[derive(Debug, Clone, Copy)]
pub struct AcceptFrom {
    common: Common,
    target: Target,
    addr: *mut u8,
    addrlen: *mut u32,
    opts: AcceptOpts,
}

impl AcceptFrom {
    #[inline]
    pub fn new(target: impl Into<Target>, addr: *mut u8, addrlen: *mut u32) -> AcceptFrom {
        AcceptFrom { common: Common::default(), target: target.into(), addr, addrlen, opts: AcceptOpts::default() }
    }
}

accept_setters!(Accept, AcceptFrom);

fn accept_sqe(common: &Common, target: Target, addr: u64, addrlen: u64, opts: AcceptOpts) -> Sqe {
    Sqe {
        addr,
        off: addrlen,
        op_flags: opts.flags.bits(),
        ioprio: opts.ioprio,
        file_index: DirectSlot::encode(opts.direct),
        ..base_on(common, opcode::ACCEPT, target)
    }
}

/// Options shared by the send and receive builders: `MSG_*` flags and the
/// `IORING_RECVSEND_*` bits in `ioprio`.
#[derive(Debug, Clone, Copy, Default)]
struct IoOpts {
    msg_flags: MsgFlags,
    ioprio: u16,
}

macro_rules! msg_setters {
    ($($name:ident),*) => {$(
        impl $name {
            /// `MSG_*` flags.
            #[inline]
            pub fn msg_flags(mut self, flags: MsgFlags) -> $name {
                self.io.msg_flags = flags;
                self
            }
            /// Arm a poll before the first attempt, for sockets expected to be
            /// empty/full (`IORING_RECVSEND_POLL_FIRST`).
            #[inline]
            pub fn poll_first(mut self) -> $name {
                self.io.ioprio |= k::IORING_RECVSEND_POLL_FIRST as u16;
                self
            }
        }
    )*};
}

/// `IORING_OP_SEND`: `send(2)`, or `sendto(2)` with [`to`](Self::to).
#[derive(Debug, Clone, Copy)]
pub struct Send {
    common: Common,
    target: Target,
    buf: *const u8,
    len: u32,
    dest: *const u8,
    dest_len: u16,
    io: IoOpts,
}

impl Send {
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
    /// Send to `addr` (`len` bytes of `sockaddr_*`), like `sendto(2)` (Linux 6.0).
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
#[derive(Debug, Clone, Copy)]
pub struct SendProvided {
    common: Common,
    target: Target,
    group: u16,
    len: u32,
    io: IoOpts,
}

impl SendProvided {
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

/// `IORING_OP_RECV` into one caller buffer.
#[derive(Debug, Clone, Copy)]
pub struct Recv {
    common: Common,
    target: Target,
    buf: *mut u8,
    len: u32,
    io: IoOpts,
}

impl Recv {
    #[inline]
    pub fn new(target: impl Into<Target>, buf: *mut u8, len: u32) -> Recv {
        Recv { common: Common::default(), target: target.into(), buf, len, io: IoOpts::default() }
    }
}

/// `IORING_OP_RECV` into a buffer of provided-buffer group `group`
/// (`IOSQE_BUFFER_SELECT`); [`multishot`](Self::multishot) keeps it armed and
/// [`bundle`](Self::bundle) fills several buffers per CQE. No pointer, so a
/// [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct RecvProvided {
    common: Common,
    target: Target,
    group: u16,
    len: u32,
    io: IoOpts,
}

impl RecvProvided {
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

/// `IORING_OP_SENDMSG`: `sendmsg(2)`.
#[derive(Debug, Clone, Copy)]
pub struct SendMsg {
    common: Common,
    target: Target,
    msg: *const MsgHdr,
    io: IoOpts,
}

impl SendMsg {
    #[inline]
    pub fn new(target: impl Into<Target>, msg: *const MsgHdr) -> SendMsg {
        SendMsg { common: Common::default(), target: target.into(), msg, io: IoOpts::default() }
    }
}

/// `IORING_OP_RECVMSG`: `recvmsg(2)` into the iovecs of `msg`.
#[derive(Debug, Clone, Copy)]
pub struct RecvMsg {
    common: Common,
    target: Target,
    msg: *mut MsgHdr,
    io: IoOpts,
}

impl RecvMsg {
    #[inline]
    pub fn new(target: impl Into<Target>, msg: *mut MsgHdr) -> RecvMsg {
        RecvMsg { common: Common::default(), target: target.into(), msg, io: IoOpts::default() }
    }
}

/// Multishot `IORING_OP_RECVMSG` (Linux 6.0): each CQE's provided buffer
/// (group `group`) holds an `io_uring_recvmsg_out` header, the source
/// address (room: `msg.msg_namelen`), control data (room:
/// `msg.msg_controllen`) and the payload; parse it with [`RecvMsgOut`]. `msg`
/// only gives those sizes (its iovecs are unused) and is read at submit.
#[derive(Debug, Clone, Copy)]
pub struct RecvMsgMulti {
    common: Common,
    target: Target,
    msg: *const MsgHdr,
    group: u16,
    io: IoOpts,
}

impl RecvMsgMulti {
    #[inline]
    pub fn new(target: impl Into<Target>, msg: *const MsgHdr, group: u16) -> RecvMsgMulti {
        RecvMsgMulti { common: Common::default(), target: target.into(), msg, group, io: IoOpts::default() }
    }
}

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

/// `IORING_OP_SEND_ZC` (Linux 6.0): send without copying. Two CQEs come
/// back: the result (with [`more`](crate::Cqe::more) set) and later a
/// notification ([`is_notification`](crate::Cqe::is_notification)) after
/// which the buffer may be reused. With
/// [`report_usage`](Self::report_usage), the notification's `res` says
/// whether the kernel fell back to copying ([`zc_notification_copied`]).
#[derive(Debug, Clone, Copy)]
pub struct SendZc {
    common: Common,
    target: Target,
    buf: *const u8,
    len: u32,
    dest: *const u8,
    dest_len: u16,
    io: IoOpts,
    zc: ZcOpts,
}

impl SendZc {
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
    /// The buffer lies inside registered buffer `index`.
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
    /// Send to `addr`, like `sendto(2)`.
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
    common: Common,
    target: Target,
    msg: *const MsgHdr,
    io: IoOpts,
    zc: ZcOpts,
}

impl SendMsgZc {
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
    /// Report whether data was copied (`IORING_SEND_ZC_REPORT_USAGE`).
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

/// `IORING_OP_SHUTDOWN`: `shutdown(2)`; `how` is `SHUT_RD`/`SHUT_WR`/`SHUT_RDWR`.
#[derive(Debug, Clone, Copy)]
pub struct Shutdown {
    common: Common,
    target: Target,
    how: u32,
}

impl Shutdown {
    #[inline]
    pub fn new(target: impl Into<Target>, how: u32) -> Shutdown {
        Shutdown { common: Common::default(), target: target.into(), how }
    }
}

/// `IORING_OP_RECV_ZC` (Linux 6.15): zero-copy receive into the area of a
/// registered zero-copy receive interface queue (`ifq`, registered with
/// `IORING_REGISTER_ZCRX_IFQ` on a NIC queue with header split). Always
/// multishot; completions are 32-byte CQEs whose extra words locate the data
/// in the area.
#[derive(Debug, Clone, Copy)]
pub struct RecvZc {
    common: Common,
    target: Target,
    ifq: u32,
    len: u32,
    ioprio: u16,
}

impl RecvZc {
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

msg_setters!(Send, SendProvided, Recv, RecvProvided, SendMsg, RecvMsg, RecvMsgMulti, SendZc, SendMsgZc);
common_setters!(
    Socket,
    Listen,
    Accept,
    AcceptFrom,
    Send,
    SendProvided,
    Recv,
    RecvProvided,
    SendMsg,
    RecvMsg,
    RecvMsgMulti,
    SendZc,
    SendMsgZc,
    Shutdown,
    RecvZc
);

impl PrepareSqe for Socket {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            off: self.ty as u64,
            len: self.protocol,
            file_index: DirectSlot::encode(self.direct),
            ..super::base(&self.common, opcode::SOCKET, self.domain)
        };
    }
}

impl PrepareSqe for Listen {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { len: self.backlog, ..base_on(&self.common, opcode::LISTEN, self.target) };
    }
}

impl PrepareSqe for Accept {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = accept_sqe(&self.common, self.target, 0, 0, self.opts);
    }
}

impl PrepareSqe for AcceptFrom {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = accept_sqe(&self.common, self.target, self.addr as u64, self.addrlen as u64, self.opts);
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
            ..base_on(&self.common, opcode::SEND, self.target)
        };
    }
}

/// The common form of a provided-buffer send or receive.
fn provided_sqe(common: &Common, op: u8, target: Target, group: u16, len: u32, io: IoOpts) -> Sqe {
    let common = Common { flags: common.flags | SqeFlags::BUFFER_SELECT, ..*common };
    Sqe { len, op_flags: io.msg_flags.bits(), ioprio: io.ioprio, buf_index: group, ..base_on(&common, op, target) }
}

impl PrepareSqe for SendProvided {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = provided_sqe(&self.common, opcode::SEND, self.target, self.group, self.len, self.io);
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
            ..base_on(&self.common, opcode::RECV, self.target)
        };
    }
}

impl PrepareSqe for RecvProvided {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = provided_sqe(&self.common, opcode::RECV, self.target, self.group, self.len, self.io);
    }
}

fn msg_sqe(common: &Common, op: u8, target: Target, msg: u64, io: IoOpts) -> Sqe {
    Sqe { addr: msg, len: 1, op_flags: io.msg_flags.bits(), ioprio: io.ioprio, ..base_on(common, op, target) }
}

impl PrepareSqe for SendMsg {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = msg_sqe(&self.common, opcode::SENDMSG, self.target, self.msg as u64, self.io);
    }
}

impl PrepareSqe for RecvMsg {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = msg_sqe(&self.common, opcode::RECVMSG, self.target, self.msg as u64, self.io);
    }
}

impl PrepareSqe for RecvMsgMulti {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let io = IoOpts { ioprio: self.io.ioprio | k::IORING_RECV_MULTISHOT as u16, ..self.io };
        let mut s = provided_sqe(&self.common, opcode::RECVMSG, self.target, self.group, 0, io);
        s.addr = self.msg as u64;
        *sqe = s;
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
            ..base_on(&self.common, opcode::SEND_ZC, self.target)
        };
    }
}

impl PrepareSqe for SendMsgZc {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let (fixed, buf_index) = self.zc.fixed();
        let io = IoOpts { ioprio: self.io.ioprio | fixed, ..self.io };
        *sqe = Sqe { buf_index, ..msg_sqe(&self.common, opcode::SENDMSG_ZC, self.target, self.msg as u64, io) };
    }
}

impl PrepareSqe for Shutdown {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { len: self.how, ..base_on(&self.common, opcode::SHUTDOWN, self.target) };
    }
}

impl PrepareSqe for RecvZc {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            len: self.len,
            ioprio: self.ioprio,
            file_index: self.ifq,
            ..base_on(&self.common, opcode::RECV_ZC, self.target)
        };
    }
}

impl SafeOp for Socket {}
impl SafeOp for Listen {}
impl SafeOp for Accept {}
impl SafeOp for SendProvided {}
impl SafeOp for RecvProvided {}
impl SafeOp for Shutdown {}
impl SafeOp for RecvZc {}

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
