//! The owned ops, one file per family, each in one shape: a struct that
//! owns its fd ([`Fd`](super::Fd)) and memory, a constructor named after
//! what it does, the core builder from [`crate::op`] filling the SQE in
//! `prepare`, and `complete` giving back `(result, what it owned)`.
//!
//! Results are `Result<_, Errno>`: the kernel's answer for this op (bad
//! input refused before the kernel sees it is a
//! [`Refused`](super::Refused) from `submit` instead).

mod cancel;
mod fs;
mod msg;
mod poll;
mod provided;
mod rw;
mod socket;
mod splice;
mod time;
mod transfer;

pub use cancel::CancelFd;
pub use fs::{Close, Fallocate, Fsync, Ftruncate, OpenAt, Statx};
pub use msg::MsgRing;
pub use poll::{PollAdd, PollMulti};
pub use provided::{ReadProvided, RecvBundle, RecvBundleMulti, RecvMulti, RecvProvided};
pub use rw::{Read, ReadFixed, Readv, Write, WriteFixed, Writev};
pub use socket::{Accept, AcceptMulti, Bind, Connect, Listen, Shutdown, Socket};
pub use splice::{Splice, Tee};
pub use time::{Timeout, WithTimeout};
pub use transfer::{MsgBufs, Received, Recv, RecvMsg, Send, SendMsg, SendZc};

use crate::error::{Error, Result};
use crate::owned::IoBufMut;
use crate::Errno;

/// A CQE's `res` as a count or the errno.
#[inline(always)]
pub(crate) fn count(res: i32) -> std::result::Result<usize, Errno> {
    if res < 0 {
        Err(errno(res))
    } else {
        Ok(res as usize)
    }
}

/// The errno of a negative `res`. The kernel-internal `ERESTARTSYS` (512),
/// which an op interrupted in an io-wq worker can complete with (a
/// cancelled splice, Linux 6.18), is reported as the `EINTR` it means.
#[cold]
pub(crate) fn errno(res: i32) -> Errno {
    const ERESTARTSYS: i32 = 512;
    match -res {
        ERESTARTSYS => Errno::INTR,
        e => Errno::from_raw_os_error(e),
    }
}

/// A buffer length for the SQE's 32-bit length field, or the typed refusal
/// (never a silently truncated length).
#[inline(always)]
pub(crate) fn len32(what: &'static str, len: usize) -> Result<u32> {
    match u32::try_from(len) {
        Ok(len) => Ok(len),
        Err(_) => Err(too_long(what, len)),
    }
}

/// [`len32`]'s refusal, out of line: the hot path only compares.
#[cold]
#[inline(never)]
fn too_long(what: &'static str, len: usize) -> Error {
    Error::InvalidArgument {
        what: format!("a {what} buffer of {len} bytes"),
        why: format!(
            "an SQE's length field is 32 bits: at most {} bytes per op; split the I/O or slice the buffer",
            u32::MAX
        ),
    }
}

/// The most iovecs one vectored op may carry: `UIO_MAXIOV` (1024), the
/// kernel's limit in `import_iovec` (more fail the op with `EINVAL`).
pub const MAX_IOVECS: usize = 1024;

/// Refuse iovec lists the kernel would fail with a bare `EINVAL`: more than
/// [`MAX_IOVECS`] buffers, or one buffer longer than `isize::MAX` bytes (the
/// kernel reads `iov_len` as a signed size). A total over the kernel's
/// per-call cap (`MAX_RW_COUNT`, just under 2 GiB) is not refused: the
/// kernel moves that much and reports it, a short count as for `readv(2)`.
pub(crate) fn check_iovecs(what: &'static str, lens: impl ExactSizeIterator<Item = usize>) -> Result<()> {
    let n = lens.len();
    if n > MAX_IOVECS {
        return Err(Error::InvalidArgument {
            what: format!("a {what} of {n} buffers"),
            why: format!(
                "the kernel takes at most {MAX_IOVECS} iovecs per vectored op or message (UIO_MAXIOV; more fail with EINVAL or EMSGSIZE); \
                 split the I/O"
            ),
        });
    }
    for (i, len) in lens.enumerate() {
        if len > isize::MAX as usize {
            return Err(Error::InvalidArgument {
                what: format!("buffer {i} of a {what}, of {len} bytes"),
                why: "the kernel reads an iovec's length as a signed size: at most isize::MAX bytes".into(),
            });
        }
    }
    Ok(())
}

/// The kernel wrote `res` bytes (if `res` is a count) at the start of
/// `buf`: the output of a one-buffer read, with the buffer's data extended
/// over them.
///
/// # Safety
/// A non-negative `res` is the number of bytes the kernel wrote at the
/// start of `buf`, at most its `bytes_total()`.
#[inline(always)]
pub(crate) unsafe fn filled<B: IoBufMut>(mut buf: B, res: i32) -> (std::result::Result<usize, Errno>, B) {
    let n = count(res);
    if let Ok(n) = n {
        // SAFETY: forwarded contract.
        unsafe { buf.set_init(n) };
    }
    (n, buf)
}

/// The kernel filled the iovecs built from `bufs` (in order, each of its
/// `bytes_total()`) with `n` bytes: extend each buffer's data over its part.
///
/// # Safety
/// `n` is the number of bytes the kernel wrote through those iovecs.
pub(crate) unsafe fn filled_in_order<B: IoBufMut>(bufs: &mut [B], n: usize) {
    let mut left = n;
    for b in bufs {
        if left == 0 {
            break;
        }
        let here = left.min(b.bytes_total());
        // SAFETY: the iovecs are filled in order, so this buffer's first
        // `here` bytes were written.
        unsafe { b.set_init(here) };
        left -= here;
    }
}
