//! Reads and writes with owned buffers: `READ`, `WRITE` (Linux 5.6),
//! `READV`, `WRITEV` (5.1) over several buffers, and `READ_FIXED`,
//! `WRITE_FIXED` (5.1) with registered buffers ([`FixedBuf`]).

use super::{check_iovecs, count, filled, filled_in_order, len32};
use crate::entry::{PrepareSqe, Sqe};
use crate::error::Result;
use crate::op::{self, Iovec};
use crate::owned::{Fd, FixedBuf, IoBuf, IoBufMut, OwnedOp};
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

    #[inline]
    fn validate(&self) -> Result<()> {
        len32("read", self.buf.bytes_total()).map(drop)
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let len = self.buf.bytes_total() as u32;
        op::Read::new(self.fd.target(), self.buf.stable_mut_ptr(), len).offset(self.offset).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        // The fd goes by value (`Fd::release`): dropped in place, it would
        // give the op's address away, and the op would then be kept in
        // memory and copied on every move.
        let Read { fd, buf, .. } = self;
        fd.release();
        // SAFETY: a read's `res` is the bytes the kernel wrote at the start
        // of the buffer (at most the length given).
        unsafe { filled(buf, res) }
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

    #[inline]
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
        let Self { fd, buf, .. } = self;
        fd.release();
        (count(res), buf)
    }
}

/// An iovec array of `n` empty entries, filled by `prepare`.
fn iovec_array(n: usize) -> Box<[Iovec]> {
    vec![Iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; n].into_boxed_slice()
}

/// `IORING_OP_READV` (Linux 5.1) into several owned buffers, in order: like
/// `preadv(2)` (or `readv(2)` at the file position, [`Readv::new`]). Each
/// buffer offers its [`bytes_total`](IoBuf::bytes_total) (a `Vec`'s
/// capacity); the output is `(bytes read, buffers)`, the data spread over
/// the buffers in order (each buffer's data extended to cover what landed in
/// it: the first ones full, then one partly, the rest untouched).
///
/// The iovec array lives in a `Box` inside the op: the kernel may read it
/// after `submit` returns (when the read goes to an io-wq worker, or with
/// `SQPOLL`).
///
/// ```
/// use ringwise::owned::{ops, Driver, SharedFd};
///
/// let path = std::env::temp_dir().join(format!("ringwise-doc-readv-{}", std::process::id()));
/// std::fs::write(&path, b"header:body")?;
/// let file = SharedFd::from(std::fs::File::open(&path)?);
/// let driver = Driver::new(8)?;
/// let bufs = vec![Vec::with_capacity(7), Vec::with_capacity(64)];
/// let (n, bufs) = driver.submit(ops::Readv::at(&file, bufs, 0))?.wait()?;
/// assert_eq!(n?, 11);
/// assert_eq!((&bufs[0][..], &bufs[1][..]), (&b"header:"[..], &b"body"[..]));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Readv<B> {
    fd: Fd,
    bufs: Vec<B>,
    iovecs: Box<[Iovec]>,
    offset: u64,
}

// SAFETY: the iovec array holds only addresses and lengths of buffers the
// op owns; it is never dereferenced by this code.
unsafe impl<B: Send> Send for Readv<B> {}

impl<B: IoBufMut> Readv<B> {
    /// The buffers back (an op refused by `submit`, say).
    pub fn into_bufs(self) -> Vec<B> {
        self.bufs
    }

    /// Read at `offset` of the file into `bufs`, in order.
    pub fn at(fd: impl Into<Fd>, bufs: Vec<B>, offset: u64) -> Readv<B> {
        let iovecs = iovec_array(bufs.len());
        Readv { fd: fd.into(), bufs, iovecs, offset }
    }

    /// Read at the file position (and move it), as `readv(2)` does.
    pub fn new(fd: impl Into<Fd>, bufs: Vec<B>) -> Readv<B> {
        Readv::at(fd, bufs, op::CURRENT_POSITION)
    }
}

// SAFETY: the SQE points at the boxed iovec array (heap memory that stays
// put when the op moves), whose entries point at the buffers' stable heap
// memory for at most `bytes_total` bytes each (the `IoBufMut` contract);
// the fd is kept open by `self.fd` (or is a fixed slot).
unsafe impl<B: IoBufMut> OwnedOp for Readv<B> {
    type Output = (std::result::Result<usize, Errno>, Vec<B>);

    #[inline]
    fn validate(&self) -> Result<()> {
        check_iovecs("readv", self.bufs.iter().map(IoBuf::bytes_total))
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        for (v, b) in self.iovecs.iter_mut().zip(self.bufs.iter_mut()) {
            *v = Iovec { iov_base: b.stable_mut_ptr().cast(), iov_len: b.bytes_total() as _ };
        }
        // `validate` kept the count at most 1024.
        let n = self.iovecs.len() as u32;
        op::Readv::new(self.fd.target(), self.iovecs.as_ptr(), n).offset(self.offset).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(mut self, res: i32, _flags: u32) -> Self::Output {
        let n = count(res);
        if let Ok(n) = n {
            // SAFETY: the kernel filled the iovecs built from `bufs`, in
            // order, with `n` bytes.
            unsafe { filled_in_order(&mut self.bufs, n) };
        }
        (n, self.bufs)
    }
}

/// `IORING_OP_WRITEV` (Linux 5.1) from several owned buffers, in order:
/// like `pwritev(2)` (or `writev(2)` at the file position,
/// [`Writev::new`]). Each buffer's data ([`bytes_init`](IoBuf::bytes_init))
/// is written; the output is `(bytes written, buffers)`.
///
/// The iovec array lives in a `Box` inside the op (see [`Readv`]).
#[derive(Debug)]
pub struct Writev<B> {
    fd: Fd,
    bufs: Vec<B>,
    iovecs: Box<[Iovec]>,
    offset: u64,
}

// SAFETY: as for `Readv`.
unsafe impl<B: Send> Send for Writev<B> {}

impl<B: IoBuf> Writev<B> {
    /// The buffers back (an op refused by `submit`, say).
    pub fn into_bufs(self) -> Vec<B> {
        self.bufs
    }

    /// Write `bufs`, in order, at `offset` of the file.
    pub fn at(fd: impl Into<Fd>, bufs: Vec<B>, offset: u64) -> Writev<B> {
        let iovecs = iovec_array(bufs.len());
        Writev { fd: fd.into(), bufs, iovecs, offset }
    }

    /// Write at the file position (and move it), as `writev(2)` does.
    pub fn new(fd: impl Into<Fd>, bufs: Vec<B>) -> Writev<B> {
        Writev::at(fd, bufs, op::CURRENT_POSITION)
    }
}

// SAFETY: the SQE points at the boxed iovec array, whose entries point at
// the buffers' stable heap memory for `bytes_init` bytes each; the fd is
// kept open by `self.fd`.
unsafe impl<B: IoBuf> OwnedOp for Writev<B> {
    type Output = (std::result::Result<usize, Errno>, Vec<B>);

    #[inline]
    fn validate(&self) -> Result<()> {
        check_iovecs("writev", self.bufs.iter().map(IoBuf::bytes_init))
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        for (v, b) in self.iovecs.iter_mut().zip(self.bufs.iter()) {
            *v = Iovec { iov_base: b.stable_ptr().cast_mut().cast(), iov_len: b.bytes_init() as _ };
        }
        let n = self.iovecs.len() as u32;
        op::Writev::new(self.fd.target(), self.iovecs.as_ptr(), n).offset(self.offset).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        (count(res), self.bufs)
    }
}

/// `IORING_OP_READ_FIXED` (Linux 5.1) into a registered buffer
/// ([`FixedBuf`], from a [`FixedBufPool`](crate::owned::FixedBufPool)):
/// like [`Read`], without the kernel pinning the pages on every read. Reads
/// up to the buffer's [`capacity`](FixedBuf::capacity); the output is
/// `(bytes read, buffer)` with the buffer's length set to what was read.
///
/// The buffer must come from a pool registered on the driver the op is
/// submitted to: on another ring its entry index names that ring's buffer,
/// whose range does not hold this memory, and the kernel fails the read with
/// `EFAULT` (memory stays safe either way; see
/// [`FixedBuf::check_driver`] for the check before submitting).
#[derive(Debug)]
pub struct ReadFixed {
    fd: Fd,
    buf: FixedBuf,
    offset: u64,
}

impl ReadFixed {
    /// The buffer back (an op refused by `submit`, say).
    pub fn into_buf(self) -> FixedBuf {
        self.buf
    }

    /// Read at `offset` of the file.
    pub fn at(fd: impl Into<Fd>, buf: FixedBuf, offset: u64) -> ReadFixed {
        ReadFixed { fd: fd.into(), buf, offset }
    }

    /// Read at the file position (and move it).
    pub fn new(fd: impl Into<Fd>, buf: FixedBuf) -> ReadFixed {
        ReadFixed::at(fd, buf, op::CURRENT_POSITION)
    }
}

// SAFETY: the SQE points at the fixed buffer's slice of the pool's mapping
// (which the buffer keeps alive and which no other `FixedBuf` covers) for at
// most its capacity, naming the table entry that holds it (the kernel
// checks the range lies inside that entry); the fd is kept open by
// `self.fd`.
unsafe impl OwnedOp for ReadFixed {
    type Output = (std::result::Result<usize, Errno>, FixedBuf);

    #[inline]
    fn validate_for(&self, driver: crate::owned::DriverId) -> Result<()> {
        self.buf.check_id(driver)
    }

    #[inline]
    fn validate(&self) -> Result<()> {
        len32("fixed read", self.buf.capacity()).map(drop)
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let len = self.buf.capacity() as u32;
        op::Read::new(self.fd.target(), self.buf.stable_mut_ptr(), len)
            .offset(self.offset)
            .fixed_buffer(self.buf.buf_index())
            .prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        let ReadFixed { fd, mut buf, .. } = self;
        fd.release();
        let n = count(res);
        if let Ok(n) = n {
            buf.truncate_to_read(n);
        }
        (n, buf)
    }
}

/// `IORING_OP_WRITE_FIXED` (Linux 5.1) from a registered buffer
/// ([`FixedBuf`]): like [`Write`], without per-write pinning. Writes the
/// buffer's data (its [`len`](FixedBuf::len)); the output is
/// `(bytes written, buffer)`. The buffer must come from a pool registered on
/// the driver the op is submitted to (see [`ReadFixed`]).
#[derive(Debug)]
pub struct WriteFixed {
    fd: Fd,
    buf: FixedBuf,
    offset: u64,
}

impl WriteFixed {
    /// The buffer back (an op refused by `submit`, say).
    pub fn into_buf(self) -> FixedBuf {
        self.buf
    }

    /// Write at `offset` of the file.
    pub fn at(fd: impl Into<Fd>, buf: FixedBuf, offset: u64) -> WriteFixed {
        WriteFixed { fd: fd.into(), buf, offset }
    }

    /// Write at the file position (and move it).
    pub fn new(fd: impl Into<Fd>, buf: FixedBuf) -> WriteFixed {
        WriteFixed::at(fd, buf, op::CURRENT_POSITION)
    }
}

// SAFETY: as for `ReadFixed`, reading the buffer's first `len` bytes.
unsafe impl OwnedOp for WriteFixed {
    type Output = (std::result::Result<usize, Errno>, FixedBuf);

    #[inline]
    fn validate_for(&self, driver: crate::owned::DriverId) -> Result<()> {
        self.buf.check_id(driver)
    }

    #[inline]
    fn validate(&self) -> Result<()> {
        len32("fixed write", self.buf.len()).map(drop)
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let len = self.buf.len() as u32;
        op::Write::new(self.fd.target(), self.buf.stable_ptr(), len)
            .offset(self.offset)
            .fixed_buffer(self.buf.buf_index())
            .prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        let Self { fd, buf, .. } = self;
        fd.release();
        (count(res), buf)
    }
}
