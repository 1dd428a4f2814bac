//! Sockets: create, bind, listen, connect, accept, send and receive (plain,
//! provided buffers, multishot, bundles, zero-copy), `sendmsg`/`recvmsg`,
//! shutdown, zero-copy receive; and the helpers to read their completions
//! (multishot `recvmsg` output, zero-copy notifications).
//!
//! Receives that pick a provided buffer are built from a buffer group
//! ([`RecvProvided`], [`RecvMsgMulti`]), never from a pointer, so a multishot
//! receive without a buffer group cannot be written.
//!
//! The family is split in three files: the socket's life (`socket.rs`:
//! socket, bind, listen, connect, accept, shutdown), moving data
//! (`transfer.rs`: send, receive, `sendmsg`, `recvmsg`) and zero-copy
//! (`zerocopy.rs`: `SEND_ZC`, `SENDMSG_ZC`, `RECV_ZC`).
//!
//! A loopback TCP connection made and used entirely through the ring:
//!
//! ```
//! use ringwise::op::{Accept, AcceptFlags, Bind, Connect, Listen, Recv, Send, Socket, Target};
//! use ringwise::Ring;
//! use std::os::fd::{AsFd, FromRawFd, OwnedFd};
//!
//! use linux_raw_sys::net::{sockaddr_in, AF_INET, SOCK_STREAM};
//! fn loopback(port: u16) -> sockaddr_in {
//!     // SAFETY: sockaddr_in is plain data; all-zero is valid.
//!     let mut sa: sockaddr_in = unsafe { std::mem::zeroed() };
//!     sa.sin_family = AF_INET as u16;
//!     sa.sin_port = port.to_be();
//!     sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
//!     sa
//! }
//! fn socket(ring: &mut Ring) -> Result<OwnedFd, Box<dyn std::error::Error>> {
//!     ring.submission().push(Socket::new(AF_INET as i32, SOCK_STREAM | AcceptFlags::CLOEXEC.bits(), 0)).unwrap();
//!     ring.submit_and_wait(1)?;
//!     let fd = ring.completion().next().unwrap().result()?;
//!     // SAFETY: the CQE handed us a new descriptor nobody else owns.
//!     Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
//! }
//! let mut ring = Ring::new(8)?;
//! let (server, client) = (socket(&mut ring)?, socket(&mut ring)?);
//! // SAFETY: both sockets stay open until the end of the example, after
//! // every op's CQE is reaped.
//! let (server_fd, client_fd) = unsafe { (Target::from_fd(server.as_fd()), Target::from_fd(client.as_fd())) };
//!
//! // Bind to an ephemeral loopback port and listen (Linux 6.11; with a
//! // plain std listener this example would run on older kernels too).
//! let any = loopback(0);
//! let size = std::mem::size_of::<sockaddr_in>() as u32;
//! // SAFETY: `any` outlives the CQE reaped right after.
//! unsafe { ring.submission().push_unchecked(Bind::new(server_fd, (&any as *const sockaddr_in).cast(), size)) }.unwrap();
//! ring.submission().push(Listen::new(server_fd, 8)).unwrap();
//! ring.submit_and_wait(2)?;
//! assert!(ring.completions()?.all(|c| c.res == 0));
//! let port = std::net::TcpListener::from(server.try_clone()?).local_addr()?.port();
//!
//! // Accept and connect in one submission.
//! let to = loopback(port);
//! ring.submission().push(Accept::new(server_fd).user_data(1)).unwrap();
//! // SAFETY: `to` outlives the CQEs reaped below.
//! unsafe { ring.submission().push_unchecked(Connect::new(client_fd, (&to as *const sockaddr_in).cast(), size).user_data(2)) }
//!     .unwrap();
//! ring.submit_and_wait(2)?;
//! let cqes: Vec<_> = ring.completions()?.collect();
//! let accepted = cqes.iter().find(|c| c.user_data == 1).unwrap().result()?;
//! // SAFETY: as above, a new descriptor.
//! let conn = unsafe { OwnedFd::from_raw_fd(accepted as i32) };
//! // SAFETY: `conn` stays open until the end of the example, after the CQE.
//! let conn_fd = unsafe { Target::from_fd(conn.as_fd()) };
//!
//! // Send one way, receive the other.
//! let (msg, mut got) = (*b"ping", [0u8; 8]);
//! // SAFETY: `msg` and `got` stay valid and unmoved until both CQEs are reaped.
//! unsafe {
//!     ring.submission().push_unchecked(Send::new(client_fd, msg.as_ptr(), 4).user_data(3)).unwrap();
//!     ring.submission().push_unchecked(Recv::new(conn_fd, got.as_mut_ptr(), 8).user_data(4)).unwrap();
//! }
//! ring.submit_and_wait(2)?;
//! assert!(ring.completions()?.all(|c| c.res == 4));
//! assert_eq!(&got[..4], b"ping");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod socket;
mod transfer;
mod zerocopy;

pub use socket::{Accept, AcceptFrom, Bind, Connect, Listen, Shutdown, Socket};
pub use transfer::{Recv, RecvMsg, RecvMsgMulti, RecvMsgOut, RecvProvided, Send, SendMsg, SendProvided};
pub use zerocopy::{zc_notification_copied, RecvZc, SendMsgZc, SendZc};

use linux_raw_sys::net as n;

/// `struct msghdr` for [`SendMsg`], [`RecvMsg`] and their variants (the
/// same layout as `libc::msghdr`).
pub type MsgHdr = n::msghdr;

bitflags::bitflags! {
    /// `MSG_*` flags of `send(2)`/`recv(2)`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MsgFlags: u32 {
        /// Out-of-band data.
        const OOB = n::MSG_OOB;
        /// Receive without removing the data from the queue.
        const PEEK = n::MSG_PEEK;
        /// Bypass routing (local network only).
        const DONTROUTE = n::MSG_DONTROUTE;
        /// (Received) control data was truncated.
        const CTRUNC = n::MSG_CTRUNC;
        /// Return the real length of a truncated datagram.
        const TRUNC = n::MSG_TRUNC;
        /// Do not block.
        const DONTWAIT = n::MSG_DONTWAIT;
        /// End of record.
        const EOR = n::MSG_EOR;
        /// Wait for the full length (stream receives).
        const WAITALL = n::MSG_WAITALL;
        /// The link layer made progress (ARP confirmation).
        const CONFIRM = n::MSG_CONFIRM;
        /// Read the socket's error queue.
        const ERRQUEUE = n::MSG_ERRQUEUE;
        /// No `SIGPIPE` on a broken stream.
        const NOSIGNAL = n::MSG_NOSIGNAL;
        /// More data follows (cork).
        const MORE = n::MSG_MORE;
        /// Received fds (`SCM_RIGHTS`) get `O_CLOEXEC`.
        const CMSG_CLOEXEC = n::MSG_CMSG_CLOEXEC;
    }
}

bitflags::bitflags! {
    /// `SOCK_*` flags for accepted and created sockets.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct AcceptFlags: u32 {
        /// Close the new socket on `exec`.
        const CLOEXEC = linux_raw_sys::general::O_CLOEXEC;
        /// Make the new socket non-blocking.
        const NONBLOCK = linux_raw_sys::general::O_NONBLOCK;
    }
}

/// Options shared by the send and receive builders: `MSG_*` flags and the
/// `IORING_RECVSEND_*` bits in `ioprio`.
#[derive(Debug, Clone, Copy, Default)]
struct IoOpts {
    msg_flags: MsgFlags,
    ioprio: u16,
}

setters!(impl Send, SendProvided, Recv, RecvProvided, SendMsg, RecvMsg, RecvMsgMulti, SendZc, SendMsgZc {
    /// `MSG_*` flags, as `send(2)`/`recv(2)` take them.
    #[inline]
    pub fn msg_flags(mut self, flags: MsgFlags) -> Self {
        self.io.msg_flags = flags;
        self
    }
    /// Arm a poll before the first attempt, for sockets expected to be
    /// empty/full (`IORING_RECVSEND_POLL_FIRST`, Linux 5.19).
    #[inline]
    pub fn poll_first(mut self) -> Self {
        self.io.ioprio |= linux_raw_sys::io_uring::IORING_RECVSEND_POLL_FIRST as u16;
        self
    }
});
