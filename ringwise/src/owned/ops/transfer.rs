//! Socket transfers with owned buffers: `RECV`, `SEND` (Linux 5.6).

use super::{count, len32};
use crate::entry::{PrepareSqe, Sqe};
use crate::error::Result;
use crate::op::{self, MsgFlags};
use crate::owned::{Fd, IoBuf, IoBufMut, OwnedOp};
use crate::Errno;

/// `IORING_OP_RECV` (Linux 5.6) into an owned buffer: like `recv(2)`. Fills
/// up to the buffer's [`bytes_total`](IoBuf::bytes_total) from its start;
/// the output is `(bytes received, buffer)` (0: the peer closed).
#[derive(Debug)]
pub struct Recv<B> {
    fd: Fd,
    buf: B,
    flags: MsgFlags,
}

impl<B: IoBufMut> Recv<B> {
    /// The buffer back (an op refused by `submit`, say).
    pub fn into_buf(self) -> B {
        self.buf
    }

    /// Receive from the socket `fd`.
    pub fn new(fd: impl Into<Fd>, buf: B) -> Recv<B> {
        Recv { fd: fd.into(), buf, flags: MsgFlags::empty() }
    }

    /// `MSG_*` flags of `recv(2)` (say, `MSG_WAITALL`).
    pub fn flags(mut self, flags: MsgFlags) -> Recv<B> {
        self.flags = flags;
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
        op::Recv::new(self.fd.target(), self.buf.stable_mut_ptr(), len).msg_flags(self.flags).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(mut self, res: i32, _flags: u32) -> Self::Output {
        let n = count(res);
        if let Ok(n) = n {
            // SAFETY: the kernel wrote `n` bytes at the buffer's start.
            unsafe { self.buf.set_init(n) };
        }
        (n, self.buf)
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
