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
pub use rw::{Read, ReadFixed, Readv, Write, WriteFixed, Writev, MAX_IOVECS};
pub use socket::{Accept, AcceptMulti, Bind, Connect, Listen, Shutdown, Socket};
pub use splice::{Splice, Tee};
pub use time::{Timeout, WithTimeout};
pub use transfer::{MsgBufs, Received, Recv, RecvMsg, Send, SendMsg, SendZc};

use crate::error::{Error, Result};
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
    u32::try_from(len).map_err(|_| Error::InvalidArgument {
        what: format!("a {what} buffer of {len} bytes"),
        why: format!(
            "an SQE's length field is 32 bits: at most {} bytes per op; split the I/O or slice the buffer",
            u32::MAX
        ),
    })
}
