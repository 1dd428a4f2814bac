//! Posting a CQE to a ring without having a ring (`IORING_REGISTER_SEND_MSG_RING`,
//! Linux 6.13): the `MSG_RING` op run synchronously from a thread that has no
//! ring of its own, e.g. to wake an event loop with a message.

use super::{opcode, register_ringless};
use crate::entry::Sqe;
use crate::error::Result;
use linux_raw_sys::io_uring::io_uring_msg_ring_flags::IORING_MSG_DATA;
use linux_raw_sys::io_uring::{io_uring_op, IORING_MSG_RING_FLAGS_PASS};
use rustix::io::Errno;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Post a CQE `{user_data, res, flags}` to the ring `target`; `flags` are
/// the CQE flags (`IORING_MSG_RING_FLAGS_PASS`), or 0. Opcode 31, Linux
/// 6.13; the kernel reads the message during the call only.
///
/// ```
/// use ringwise::register::send_msg_ring;
/// use ringwise::Ring;
///
/// let mut ring = Ring::new(4)?;
/// let target = ring.fd().expect("a ring with an fd");
/// match send_msg_ring(target, 42, 7, 0) {
///     Ok(()) => {
///         let cqe = ring.completion().next().unwrap();
///         assert_eq!((cqe.user_data, cqe.res), (42, 7));
///     }
///     Err(e) => assert_eq!(e.errno_name(), "EINVAL", "a kernel before 6.13: {e}"),
/// }
/// # Ok::<(), ringwise::Error>(())
/// ```
pub fn send_msg_ring(target: BorrowedFd<'_>, user_data: u64, res: i32, flags: u32) -> Result<()> {
    let sqe = Sqe {
        opcode: io_uring_op::IORING_OP_MSG_RING as u8,
        fd: target.as_raw_fd(),
        addr: IORING_MSG_DATA as u64,
        len: res as u32,
        off: user_data,
        op_flags: if flags != 0 { IORING_MSG_RING_FLAGS_PASS } else { 0 },
        file_index: flags,
        ..Sqe::default()
    };
    let (call, arg) = ("io_uring_register(SEND_MSG_RING)", (&sqe as *const Sqe).cast());
    // SAFETY: `sqe` is valid for the call.
    unsafe { register_ringless(call, opcode::REGISTER_SEND_MSG_RING, arg, 1, msg_ring_context) }.map(|_| ())
}

/// What an errno of `REGISTER_SEND_MSG_RING` means.
fn msg_ring_context(errno: Errno) -> Option<String> {
    Some(
        match errno {
            Errno::BADFD | Errno::BADF => "the target is not an io_uring descriptor",
            Errno::OVERFLOW => "the target ring's CQ is full",
            Errno::INVAL => "refused: this kernel may predate SEND_MSG_RING (Linux 6.13)",
            _ => return None,
        }
        .into(),
    )
}
