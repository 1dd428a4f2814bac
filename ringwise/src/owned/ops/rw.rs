//! Reads and writes with owned buffers: `READ`, `WRITE` (Linux 5.6).

use super::{count, len32};
use crate::entry::{PrepareSqe, Sqe};
use crate::error::Result;
use crate::op;
use crate::owned::{Fd, IoBuf, IoBufMut, OwnedOp};
use crate::Errno;

/// `IORING_OP_READ` (Linux 5.6) into an owned buffer: like `pread(2)` (or
/// `read(2)` at the file position, [`Read::new`]). Reads up to the buffer's
/// [`bytes_total`](IoBuf::bytes_total) (a `Vec`'s capacity) into its start;
/// the output is `(bytes read, buffer)`, the buffer's data extended to cover
/// what was read.
#[derive(Debug)]
pub struct Read<B> {
    fd: Fd,
    buf: B,
    offset: u64,
}

impl<B: IoBufMut> Read<B> {
    /// The buffer back (an op refused by `submit`, say).
    pub fn into_buf(self) -> B {
        self.buf
    }

    /// Read at `offset` of the file.
    pub fn at(fd: impl Into<Fd>, buf: B, offset: u64) -> Read<B> {
        Read { fd: fd.into(), buf, offset }
    }

    /// Read at the file position (and move it), as `read(2)` does; for
    /// pipes, sockets and terminals too.
    pub fn new(fd: impl Into<Fd>, buf: B) -> Read<B> {
        Read { fd: fd.into(), buf, offset: op::CURRENT_POSITION }
    }
}

// SAFETY: the SQE points at the buffer's stable heap memory (the `IoBufMut`
// contract), for at most `bytes_total` bytes, and names the fd `self.fd`
// keeps open (or a fixed slot).
unsafe impl<B: IoBufMut> OwnedOp for Read<B> {
    type Output = (std::result::Result<usize, Errno>, B);

    fn validate(&self) -> Result<()> {
        len32("read", self.buf.bytes_total()).map(drop)
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let len = self.buf.bytes_total() as u32;
        op::Read::new(self.fd.target(), self.buf.stable_mut_ptr(), len).offset(self.offset).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(mut self, res: i32, _flags: u32) -> Self::Output {
        let n = count(res);
        if let Ok(n) = n {
            // SAFETY: the kernel wrote `n` bytes (at most the length given)
            // at the start of the buffer.
            unsafe { self.buf.set_init(n) };
        }
        (n, self.buf)
    }
}

/// `IORING_OP_WRITE` (Linux 5.6) from an owned buffer: like `pwrite(2)` (or
/// `write(2)` at the file position, [`Write::new`]). Writes the buffer's
/// data ([`bytes_init`](IoBuf::bytes_init): a `Vec`'s length); the output
/// is `(bytes written, buffer)`.
#[derive(Debug)]
pub struct Write<B> {
    fd: Fd,
    buf: B,
    offset: u64,
}

impl<B: IoBuf> Write<B> {
    /// The buffer back (an op refused by `submit`, say).
    pub fn into_buf(self) -> B {
        self.buf
    }

    /// Write at `offset` of the file.
    pub fn at(fd: impl Into<Fd>, buf: B, offset: u64) -> Write<B> {
        Write { fd: fd.into(), buf, offset }
    }

    /// Write at the file position (and move it), as `write(2)` does.
    pub fn new(fd: impl Into<Fd>, buf: B) -> Write<B> {
        Write { fd: fd.into(), buf, offset: op::CURRENT_POSITION }
    }
}

// SAFETY: the SQE points at the buffer's stable heap memory for
// `bytes_init` bytes, and names the fd `self.fd` keeps open.
unsafe impl<B: IoBuf> OwnedOp for Write<B> {
    type Output = (std::result::Result<usize, Errno>, B);

    fn validate(&self) -> Result<()> {
        len32("write", self.buf.bytes_init()).map(drop)
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let len = self.buf.bytes_init() as u32;
        op::Write::new(self.fd.target(), self.buf.stable_ptr(), len).offset(self.offset).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        (count(res), self.buf)
    }
}
