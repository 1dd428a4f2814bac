//! Socket transfers with owned buffers: `RECV`, `SEND` (Linux 5.6),
//! `RECVMSG`, `SENDMSG` (5.3) and `SEND_ZC` (6.0).

use super::socket::AddrStorage;
use super::{check_iovecs, count, filled, filled_in_order, len32};
use crate::entry::{PrepareSqe, Sqe};
use crate::error::Result;
use crate::op::{self, MsgFlags, MsgHdr};
use crate::owned::{Fd, IoBuf, IoBufMut, OwnedOp};
use crate::Errno;
use linux_raw_sys::general::iovec;
use std::net::SocketAddr;

/// `IORING_OP_RECV` (Linux 5.6) into an owned buffer: like `recv(2)`. Fills
/// up to the buffer's [`bytes_total`](IoBuf::bytes_total) from its start;
/// the output is `(bytes received, buffer)` (0: the peer closed).
#[derive(Debug)]
pub struct Recv<B> {
    fd: Fd,
    buf: B,
    flags: MsgFlags,
    poll_first: bool,
}

impl<B: IoBufMut> Recv<B> {
    /// The buffer back (an op refused by `submit`, say).
    pub fn into_buf(self) -> B {
        self.buf
    }

    /// Receive from the socket `fd`.
    pub fn new(fd: impl Into<Fd>, buf: B) -> Recv<B> {
        Recv { fd: fd.into(), buf, flags: MsgFlags::empty(), poll_first: false }
    }

    /// `MSG_*` flags of `recv(2)` (say, `MSG_WAITALL`).
    pub fn flags(mut self, flags: MsgFlags) -> Recv<B> {
        self.flags = flags;
        self
    }

    /// Wait for data before trying to receive (`IORING_RECVSEND_POLL_FIRST`,
    /// Linux 5.19): for a socket known to be empty, such as a server's
    /// receive armed before it has answered the request just received. The
    /// kernel then skips the receive attempt that would fail with `EAGAIN`
    /// before arming its poll. (Data that is already there is still
    /// received: the poll fires at once.)
    pub fn poll_first(mut self) -> Recv<B> {
        self.poll_first = true;
        self
    }
}

// SAFETY: the SQE points at the buffer's stable memory for `bytes_total`
// bytes of writes, and names the fd `self.fd` keeps open.
unsafe impl<B: IoBufMut> OwnedOp for Recv<B> {
    type Output = (std::result::Result<usize, Errno>, B);

    fn validate(&self) -> Result<()> {
        len32("recv", self.buf.bytes_total()).map(drop)
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let len = self.buf.bytes_total() as u32;
        let recv = op::Recv::new(self.fd.target(), self.buf.stable_mut_ptr(), len).msg_flags(self.flags);
        if self.poll_first { recv.poll_first() } else { recv }.prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        // SAFETY: a recv's `res` is the bytes the kernel wrote at the
        // buffer's start.
        unsafe { filled(self.buf, res) }
    }
}

/// `IORING_OP_SEND` (Linux 5.6) from an owned buffer: like `send(2)`.
/// Sends the buffer's data ([`bytes_init`](IoBuf::bytes_init)); the output
/// is `(bytes sent, buffer)`.
#[derive(Debug)]
pub struct Send<B> {
    fd: Fd,
    buf: B,
    flags: MsgFlags,
}

impl<B: IoBuf> Send<B> {
    /// The buffer back (an op refused by `submit`, say).
    pub fn into_buf(self) -> B {
        self.buf
    }

    /// Send on the socket `fd`.
    pub fn new(fd: impl Into<Fd>, buf: B) -> Send<B> {
        Send { fd: fd.into(), buf, flags: MsgFlags::empty() }
    }

    /// `MSG_*` flags of `send(2)` (say, `MSG_NOSIGNAL`).
    pub fn flags(mut self, flags: MsgFlags) -> Send<B> {
        self.flags = flags;
        self
    }
}

// SAFETY: the SQE points at the buffer's stable memory for `bytes_init`
// bytes of reads, and names the fd `self.fd` keeps open.
unsafe impl<B: IoBuf> OwnedOp for Send<B> {
    type Output = (std::result::Result<usize, Errno>, B);

    fn validate(&self) -> Result<()> {
        len32("send", self.buf.bytes_init()).map(drop)
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let len = self.buf.bytes_init() as u32;
        op::Send::new(self.fd.target(), self.buf.stable_ptr(), len).msg_flags(self.flags).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        (count(res), self.buf)
    }
}

/// What a message op owned, given back with its result: the data buffers
/// (in order) and the control (ancillary data) buffer.
#[derive(Debug)]
pub struct MsgBufs<B> {
    /// The data buffers.
    pub bufs: Vec<B>,
    /// The control buffer: for a receive, its length is the control data
    /// the kernel wrote (`msg_controllen`).
    pub control: Vec<u8>,
}

/// The `msghdr`, its iovecs and the address of a message op, in one box
/// so that they stay put while the op moves (the kernel reads the `msghdr`
/// and writes lengths and flags back into it when the op completes).
struct MsgMem {
    hdr: MsgHdr,
    iovs: Vec<iovec>,
    name: AddrStorage,
}

// SAFETY: the raw pointers in `hdr` and `iovs` point only into memory the
// same op owns (its buffers, `iovs`, `name`); moving the op to another
// thread moves the ownership of all of it, and nothing else shares it.
unsafe impl std::marker::Send for MsgMem {}

impl MsgMem {
    fn new(iovs: usize) -> Box<MsgMem> {
        Box::new(MsgMem {
            hdr: MsgHdr {
                msg_name: std::ptr::null_mut(),
                msg_namelen: 0,
                msg_iov: std::ptr::null_mut(),
                msg_iovlen: 0,
                msg_control: std::ptr::null_mut(),
                msg_controllen: 0,
                msg_flags: 0,
            },
            iovs: Vec::with_capacity(iovs),
            name: *AddrStorage::room(),
        })
    }

    /// Point the header at the iovecs (already filled), `name` (if
    /// `name_len` is not 0) and `control` (`control_len` bytes).
    fn point(&mut self, name_len: u32, control: *mut u8, control_len: usize) {
        let MsgMem { hdr, iovs, name } = self;
        hdr.msg_name = if name_len == 0 { std::ptr::null_mut() } else { name.bytes.as_mut_ptr().cast() };
        hdr.msg_namelen = name_len as i32;
        hdr.msg_iov = iovs.as_mut_ptr().cast();
        hdr.msg_iovlen = iovs.len();
        hdr.msg_control = if control_len == 0 { std::ptr::null_mut() } else { control.cast() };
        hdr.msg_controllen = control_len;
        hdr.msg_flags = 0;
    }
}

impl std::fmt::Debug for MsgMem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgMem").field("iovs", &self.iovs.len()).finish_non_exhaustive()
    }
}

/// What a [`RecvMsg`] received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes of data, spread over the buffers in order.
    pub len: usize,
    /// The sender's address (a datagram socket's peer); `None` when the
    /// kernel gave none (a connected stream) or it is not IPv4 or IPv6.
    pub from: Option<SocketAddr>,
    /// `msg_flags` of the receive (`TRUNC`: the datagram was longer than the
    /// buffers; `CTRUNC`: the control data did not fit).
    pub flags: MsgFlags,
}

/// `IORING_OP_RECVMSG` (Linux 5.3) into owned buffers: like `recvmsg(2)`.
/// Fills the buffers in order (each up to its
/// [`bytes_total`](IoBuf::bytes_total)), writes the sender's address and
/// control data; the output is `(what was received, the buffers)`, each
/// buffer's data extended to cover what it got.
#[derive(Debug)]
pub struct RecvMsg<B> {
    fd: Fd,
    bufs: Vec<B>,
    control: Vec<u8>,
    flags: MsgFlags,
    mem: Box<MsgMem>,
}

impl<B: IoBufMut> RecvMsg<B> {
    /// Receive one message from socket `fd` into `bufs`.
    pub fn new(fd: impl Into<Fd>, bufs: Vec<B>) -> RecvMsg<B> {
        let mem = MsgMem::new(bufs.len());
        RecvMsg { fd: fd.into(), bufs, control: Vec::new(), flags: MsgFlags::empty(), mem }
    }

    /// Receive control data (`cmsg`s) into `control`'s spare room (its
    /// capacity; its old contents are overwritten).
    pub fn control(mut self, control: Vec<u8>) -> RecvMsg<B> {
        self.control = control;
        self
    }

    /// `MSG_*` flags of `recvmsg(2)`.
    pub fn flags(mut self, flags: MsgFlags) -> RecvMsg<B> {
        self.flags = flags;
        self
    }

    /// The buffers back (an op refused by `submit`, say).
    pub fn into_bufs(self) -> MsgBufs<B> {
        MsgBufs { bufs: self.bufs, control: self.control }
    }
}

// SAFETY: the SQE points at the boxed `msghdr`, which points at the boxed
// iovecs and address room and at the control `Vec`'s heap memory; the
// iovecs at each buffer's stable memory for `bytes_total` bytes. All of it
// is owned by the op, stays put while it moves, and nothing else touches it
// until `complete`. The fd is kept open by `self.fd`.
unsafe impl<B: IoBufMut> OwnedOp for RecvMsg<B> {
    type Output = (std::result::Result<Received, Errno>, MsgBufs<B>);

    fn validate(&self) -> Result<()> {
        check_iovecs("message", self.bufs.iter().map(IoBuf::bytes_total))
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let mem = &mut *self.mem;
        mem.iovs.clear();
        for b in &mut self.bufs {
            mem.iovs.push(iovec { iov_base: b.stable_mut_ptr().cast(), iov_len: b.bytes_total() as _ });
        }
        let room = mem.name.bytes.len() as u32;
        mem.point(room, self.control.as_mut_ptr(), self.control.capacity());
        op::RecvMsg::new(self.fd.target(), &mut mem.hdr).msg_flags(self.flags).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(mut self, res: i32, _flags: u32) -> Self::Output {
        let got = count(res).map(|len| {
            // SAFETY: the kernel filled the iovecs built from `bufs`, in
            // order, with `len` bytes.
            unsafe { filled_in_order(&mut self.bufs, len) };
            let hdr = &self.mem.hdr;
            let control = hdr.msg_controllen.min(self.control.capacity());
            // SAFETY: the kernel wrote `msg_controllen` bytes of control
            // data at the start of the control buffer (at most its
            // capacity, the room it was given).
            unsafe { self.control.set_len(control) };
            let name_len = usize::try_from(hdr.msg_namelen).unwrap_or(0);
            Received { len, from: self.mem.name.to_addr(name_len), flags: MsgFlags::from_bits_retain(hdr.msg_flags) }
        });
        (got, MsgBufs { bufs: self.bufs, control: self.control })
    }
}

/// `IORING_OP_SENDMSG` (Linux 5.3) from owned buffers: like `sendmsg(2)`.
/// Sends the buffers' data ([`bytes_init`](IoBuf::bytes_init)) in order as
/// one message, to the address given by [`to`](Self::to) (a datagram
/// socket) with the control data of [`control`](Self::control); the output
/// is `(bytes sent, the buffers)`.
///
/// A UDP datagram gathered from two buffers and scattered into two, with
/// the sender's address:
///
/// ```
/// use ringwise::owned::{ops, Driver, SharedFd};
/// use std::net::UdpSocket;
///
/// let (a, b) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
/// let (from, to) = (a.local_addr()?, b.local_addr()?);
/// let (a, b) = (SharedFd::from(a), SharedFd::from(b));
/// let driver = Driver::new(8)?;
/// let recv = driver.submit(ops::RecvMsg::new(&b, vec![Vec::with_capacity(2), Vec::with_capacity(8)]))?;
/// let send = ops::SendMsg::new(&a, vec![b"he".to_vec(), b"llo".to_vec()]).to(to);
/// let (sent, _bufs) = driver.submit(send)?.wait()?;
/// assert_eq!(sent?, 5);
/// let (got, bufs) = recv.wait()?;
/// let got = got?;
/// assert_eq!((got.len, got.from), (5, Some(from)));
/// assert_eq!((&bufs.bufs[0][..], &bufs.bufs[1][..]), (&b"he"[..], &b"llo"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SendMsg<B> {
    fd: Fd,
    bufs: Vec<B>,
    control: Vec<u8>,
    to: bool,
    flags: MsgFlags,
    mem: Box<MsgMem>,
}

impl<B: IoBuf> SendMsg<B> {
    /// Send `bufs` as one message on socket `fd`.
    pub fn new(fd: impl Into<Fd>, bufs: Vec<B>) -> SendMsg<B> {
        let mem = MsgMem::new(bufs.len());
        SendMsg { fd: fd.into(), bufs, control: Vec::new(), to: false, flags: MsgFlags::empty(), mem }
    }

    /// Send to `addr` (an unconnected datagram socket), as `sendto(2)`.
    pub fn to(mut self, addr: SocketAddr) -> SendMsg<B> {
        self.mem.name = *AddrStorage::from_addr(&addr);
        self.to = true;
        self
    }

    /// Send `control` (its bytes: `cmsg`s) as the message's control data.
    pub fn control(mut self, control: Vec<u8>) -> SendMsg<B> {
        self.control = control;
        self
    }

    /// `MSG_*` flags of `sendmsg(2)` (say, `MSG_NOSIGNAL`).
    pub fn flags(mut self, flags: MsgFlags) -> SendMsg<B> {
        self.flags = flags;
        self
    }

    /// The buffers back (an op refused by `submit`, say).
    pub fn into_bufs(self) -> MsgBufs<B> {
        MsgBufs { bufs: self.bufs, control: self.control }
    }
}

// SAFETY: as for `RecvMsg`, for reads: the boxed `msghdr`, iovecs (each
// buffer's stable memory for `bytes_init` bytes), address and the control
// `Vec`'s data, all owned by the op; the fd kept open by `self.fd`.
unsafe impl<B: IoBuf> OwnedOp for SendMsg<B> {
    type Output = (std::result::Result<usize, Errno>, MsgBufs<B>);

    fn validate(&self) -> Result<()> {
        check_iovecs("message", self.bufs.iter().map(IoBuf::bytes_init))
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let mem = &mut *self.mem;
        mem.iovs.clear();
        for b in &self.bufs {
            mem.iovs.push(iovec { iov_base: b.stable_ptr().cast_mut().cast(), iov_len: b.bytes_init() as _ });
        }
        let name_len = if self.to { mem.name.len } else { 0 };
        mem.point(name_len, self.control.as_mut_ptr(), self.control.len());
        op::SendMsg::new(self.fd.target(), &mem.hdr).msg_flags(self.flags).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        (count(res), MsgBufs { bufs: self.bufs, control: self.control })
    }
}

/// `IORING_OP_SEND_ZC` (Linux 6.0) from an owned buffer: `send(2)` without
/// copying the data. The kernel posts the result, then a notification once
/// it no longer reads the buffer; the op completes only at the
/// notification, so the buffer comes back (or, with the handle dropped, is
/// freed) only when the kernel is done with it. The output is `(bytes sent,
/// buffer)`. Needs a socket that supports zero copy (TCP, UDP; not Unix
/// sockets: `EOPNOTSUPP`).
#[derive(Debug)]
pub struct SendZc<B> {
    fd: Fd,
    buf: B,
    flags: MsgFlags,
    to: Option<Box<AddrStorage>>,
}

impl<B: IoBuf> SendZc<B> {
    /// Send `buf`'s data on socket `fd`.
    pub fn new(fd: impl Into<Fd>, buf: B) -> SendZc<B> {
        SendZc { fd: fd.into(), buf, flags: MsgFlags::empty(), to: None }
    }

    /// Send to `addr` (an unconnected datagram socket), as `sendto(2)`.
    pub fn to(mut self, addr: SocketAddr) -> SendZc<B> {
        self.to = Some(AddrStorage::from_addr(&addr));
        self
    }

    /// `MSG_*` flags of `send(2)` (say, `MSG_NOSIGNAL`).
    pub fn flags(mut self, flags: MsgFlags) -> SendZc<B> {
        self.flags = flags;
        self
    }

    /// The buffer back (an op refused by `submit`, say).
    pub fn into_buf(self) -> B {
        self.buf
    }
}

// SAFETY: the SQE points at the buffer's stable memory for `bytes_init`
// bytes of reads and at the boxed destination address, owned by the op
// until its final CQE (the notification, after which the kernel no longer
// reads the buffer: the driver completes a one-shot op whose first CQE has
// `F_MORE` only at the final one); the fd is kept open by `self.fd`.
unsafe impl<B: IoBuf> OwnedOp for SendZc<B> {
    type Output = (std::result::Result<usize, Errno>, B);

    fn validate(&self) -> Result<()> {
        len32("zero-copy send", self.buf.bytes_init()).map(drop)
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let len = self.buf.bytes_init() as u32;
        let mut sqe = op::SendZc::new(self.fd.target(), self.buf.stable_ptr(), len).msg_flags(self.flags);
        if let Some(to) = &self.to {
            sqe = sqe.to(to.bytes.as_ptr(), to.len as u16);
        }
        sqe.prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        (count(res), self.buf)
    }
}
