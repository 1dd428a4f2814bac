//! A socket's life with owned addresses and owned results: `SOCKET` (Linux
//! 5.19), `BIND` and `LISTEN` (6.11), `CONNECT` and `ACCEPT` (5.5),
//! multishot `ACCEPT` (5.19), `SHUTDOWN` (5.11).
//!
//! Addresses are [`std::net::SocketAddr`]s: the op converts them to the
//! kernel's `sockaddr_in`/`sockaddr_in6` in a box it owns. Descriptors the
//! kernel creates come back as `OwnedFd`s, and one nobody takes (a dropped
//! handle, an item left in a dropped stream) is closed by the library.

use super::count;
use crate::entry::{PrepareSqe, Sqe};
use crate::op::{self, AcceptFlags};
use crate::owned::{Fd, OwnedOp, OwnedStream};
use crate::Errno;
use linux_raw_sys::net as n;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{FromRawFd, OwnedFd};

/// `sizeof(struct sockaddr_in)`.
const SIN_LEN: usize = std::mem::size_of::<n::sockaddr_in>();
/// `sizeof(struct sockaddr_in6)`.
const SIN6_LEN: usize = std::mem::size_of::<n::sockaddr_in6>();
/// `sizeof(struct sockaddr_storage)`: room for any address.
const STORAGE_LEN: usize = n::_K_SS_MAXSIZE as usize;
const _: () = assert!(SIN_LEN == 16 && SIN6_LEN == 28 && STORAGE_LEN == 128);

/// A socket address as the kernel reads and writes it (a `sockaddr_in`,
/// `sockaddr_in6`, or room for any address), and its length. Ops keep it
/// in a `Box` so that it stays put while the op moves.
#[repr(C, align(8))]
pub(super) struct AddrStorage {
    pub(super) bytes: [u8; STORAGE_LEN],
    /// The address's length (for the kernel to read, or written back by it).
    pub(super) len: u32,
}

impl std::fmt::Debug for AddrStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_addr(self.len as usize) {
            Some(a) => write!(f, "{a}"),
            None => write!(f, "AddrStorage(len {})", self.len),
        }
    }
}

impl AddrStorage {
    /// Room for an address the kernel writes.
    pub(super) fn room() -> Box<AddrStorage> {
        Box::new(AddrStorage { bytes: [0; STORAGE_LEN], len: STORAGE_LEN as u32 })
    }

    /// `addr` in the kernel's layout (`sockaddr_in`: family in host order,
    /// port in network order, the 4 address bytes; `sockaddr_in6`: family,
    /// port, flow info, the 16 address bytes, scope id). Flow info and scope
    /// id are stored as `std` stores them (the `u32` as given), so an
    /// address round-trips with `std`'s sockets.
    pub(super) fn from_addr(addr: &SocketAddr) -> Box<AddrStorage> {
        let mut s = AddrStorage::room();
        let b = &mut s.bytes;
        match addr {
            SocketAddr::V4(a) => {
                b[0..2].copy_from_slice(&(n::AF_INET as u16).to_ne_bytes());
                b[2..4].copy_from_slice(&a.port().to_be_bytes());
                b[4..8].copy_from_slice(&a.ip().octets());
                s.len = SIN_LEN as u32;
            }
            SocketAddr::V6(a) => {
                b[0..2].copy_from_slice(&(n::AF_INET6 as u16).to_ne_bytes());
                b[2..4].copy_from_slice(&a.port().to_be_bytes());
                b[4..8].copy_from_slice(&a.flowinfo().to_ne_bytes());
                b[8..24].copy_from_slice(&a.ip().octets());
                b[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
                s.len = SIN6_LEN as u32;
            }
        }
        s
    }

    /// The first `len` bytes as an IPv4 or IPv6 address; `None` for other
    /// families (a Unix-domain peer, an unnamed socket) or a short length.
    pub(super) fn to_addr(&self, len: usize) -> Option<SocketAddr> {
        let b = &self.bytes[..len.min(STORAGE_LEN)];
        let family = u16::from_ne_bytes(b.get(0..2)?.try_into().ok()?);
        let word = |r: std::ops::Range<usize>| -> Option<[u8; 4]> { b.get(r)?.try_into().ok() };
        let port = u16::from_be_bytes(b.get(2..4)?.try_into().ok()?);
        if u32::from(family) == n::AF_INET && b.len() >= 8 {
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(word(4..8)?), port)))
        } else if u32::from(family) == n::AF_INET6 && b.len() >= SIN6_LEN {
            let ip: [u8; 16] = b[8..24].try_into().ok()?;
            let flow = u32::from_ne_bytes(word(4..8)?);
            let scope = u32::from_ne_bytes(word(24..28)?);
            Some(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, flow, scope)))
        } else {
            None
        }
    }
}

/// A CQE's `res` as a new descriptor.
#[inline]
fn new_fd(res: i32) -> Result<OwnedFd, Errno> {
    let fd = count(res)?;
    // SAFETY: a successful SOCKET or ACCEPT (without a direct slot, which
    // no owned op asks for) returns a descriptor the kernel just installed
    // in this process's table; nothing else owns it, and this `OwnedFd` is
    // its only owner (dropping it closes it).
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `IORING_OP_SOCKET` (Linux 5.19): `socket(2)`. The output is the new
/// socket, close-on-exec.
///
/// A loopback TCP connection made entirely through the ring, without
/// `unsafe` (`BIND`/`LISTEN` need Linux 6.11):
///
/// ```
/// use ringwise::owned::{ops, Driver, SharedFd};
///
/// let driver = Driver::new(16)?;
/// let any: std::net::SocketAddr = "127.0.0.1:0".parse()?;
/// let server = SharedFd::from(driver.submit(ops::Socket::tcp_for(&any))?.wait()??);
/// driver.submit(ops::Bind::new(&server, any))?.wait()??;
/// driver.submit(ops::Listen::new(&server, 16))?.wait()??;
/// let addr = std::net::TcpListener::from(server.as_fd().try_clone_to_owned()?).local_addr()?;
///
/// let client = SharedFd::from(driver.submit(ops::Socket::tcp_for(&addr))?.wait()??);
/// let accept = driver.submit(ops::Accept::new(&server))?;
/// driver.submit(ops::Connect::new(&client, addr))?.wait()??;
/// let (conn, peer) = accept.wait()??;
/// assert!(peer.is_some());
/// let conn = SharedFd::from(conn);
/// let (sent, _) = driver.submit(ops::Send::new(&client, b"hi".to_vec()))?.wait()?;
/// let (got, buf) = driver.submit(ops::Recv::new(&conn, Vec::with_capacity(8)))?.wait()?;
/// assert_eq!((sent?, &buf[..got?]), (2, &b"hi"[..]));
/// # use std::os::fd::AsFd;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Socket {
    domain: i32,
    ty: u32,
    protocol: u32,
}

impl Socket {
    /// A socket of `domain` (`AF_*`), type `ty` (`SOCK_*`; `SOCK_NONBLOCK`
    /// may be or'ed in) and `protocol` (0: the default), as `socket(2)`
    /// takes them. `SOCK_CLOEXEC` is always added.
    pub fn new(domain: i32, ty: u32, protocol: u32) -> Socket {
        Socket { domain, ty: ty | AcceptFlags::CLOEXEC.bits(), protocol }
    }

    /// A TCP socket of `addr`'s family (IPv4 or IPv6).
    pub fn tcp_for(addr: &SocketAddr) -> Socket {
        Socket::new(family(addr), n::SOCK_STREAM, 0)
    }

    /// A UDP socket of `addr`'s family (IPv4 or IPv6).
    pub fn udp_for(addr: &SocketAddr) -> Socket {
        Socket::new(family(addr), n::SOCK_DGRAM, 0)
    }
}

fn family(addr: &SocketAddr) -> i32 {
    match addr {
        SocketAddr::V4(_) => n::AF_INET as i32,
        SocketAddr::V6(_) => n::AF_INET6 as i32,
    }
}

// SAFETY: the SQE carries no pointer and names no descriptor; the
// descriptor it creates is owned by the output.
unsafe impl OwnedOp for Socket {
    type Output = Result<OwnedFd, Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::Socket::new(self.domain, self.ty, self.protocol).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        new_fd(res)
    }
}

/// `IORING_OP_CONNECT` (Linux 5.5): `connect(2)` to an owned address. The
/// output is `Ok(())` once connected.
#[derive(Debug)]
pub struct Connect {
    fd: Fd,
    addr: Box<AddrStorage>,
}

impl Connect {
    /// Connect socket `fd` to `addr`.
    pub fn new(fd: impl Into<Fd>, addr: SocketAddr) -> Connect {
        Connect { fd: fd.into(), addr: AddrStorage::from_addr(&addr) }
    }
}

// SAFETY: the SQE points at the boxed address (stable while the op moves,
// kept until the CQE) for its length, and names the fd `self.fd` keeps
// open.
unsafe impl OwnedOp for Connect {
    type Output = Result<(), Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::Connect::new(self.fd.target(), self.addr.bytes.as_ptr(), self.addr.len).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        count(res).map(drop)
    }
}

/// `IORING_OP_BIND` (Linux 6.11): `bind(2)` to an owned address. The
/// output is `Ok(())` once bound.
#[derive(Debug)]
pub struct Bind {
    fd: Fd,
    addr: Box<AddrStorage>,
}

impl Bind {
    /// Bind socket `fd` to `addr` (port 0: the kernel picks one).
    pub fn new(fd: impl Into<Fd>, addr: SocketAddr) -> Bind {
        Bind { fd: fd.into(), addr: AddrStorage::from_addr(&addr) }
    }
}

// SAFETY: as for `Connect`: the boxed address, the fd `self.fd` keeps open.
unsafe impl OwnedOp for Bind {
    type Output = Result<(), Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::Bind::new(self.fd.target(), self.addr.bytes.as_ptr(), self.addr.len).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        count(res).map(drop)
    }
}

/// `IORING_OP_LISTEN` (Linux 6.11): `listen(2)`. The output is `Ok(())`.
#[derive(Debug)]
pub struct Listen {
    fd: Fd,
    backlog: u32,
}

impl Listen {
    /// Make socket `fd` accept connections, queueing up to `backlog`.
    pub fn new(fd: impl Into<Fd>, backlog: u32) -> Listen {
        Listen { fd: fd.into(), backlog }
    }
}

// SAFETY: no pointer; names the fd `self.fd` keeps open.
unsafe impl OwnedOp for Listen {
    type Output = Result<(), Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::Listen::new(self.fd.target(), self.backlog).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        count(res).map(drop)
    }
}

/// `IORING_OP_ACCEPT` (Linux 5.5): `accept4(2)`. The output is the new
/// connection (close-on-exec unless [`flags`](Self::flags) says otherwise)
/// and the peer's address (`None` for a peer that is not IPv4 or IPv6, a
/// Unix-domain one say). If the handle was dropped, the library closes the
/// connection when it arrives.
#[derive(Debug)]
pub struct Accept {
    fd: Fd,
    addr: Box<AddrStorage>,
    flags: AcceptFlags,
}

impl Accept {
    /// Accept a connection on the listening socket `fd`.
    pub fn new(fd: impl Into<Fd>) -> Accept {
        Accept { fd: fd.into(), addr: AddrStorage::room(), flags: AcceptFlags::CLOEXEC }
    }

    /// `SOCK_CLOEXEC` / `SOCK_NONBLOCK` for the new socket (the default:
    /// `CLOEXEC`).
    pub fn flags(mut self, flags: AcceptFlags) -> Accept {
        self.flags = flags;
        self
    }
}

// SAFETY: the SQE points at the boxed address room and its length word
// (stable while the op moves, kept until the CQE, written only by the
// kernel meanwhile) and names the fd `self.fd` keeps open; the descriptor
// the kernel creates is owned by the output.
unsafe impl OwnedOp for Accept {
    type Output = Result<(OwnedFd, Option<SocketAddr>), Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let addr = &mut *self.addr;
        addr.len = STORAGE_LEN as u32;
        op::AcceptFrom::new(self.fd.target(), addr.bytes.as_mut_ptr(), &mut addr.len)
            .accept_flags(self.flags)
            .prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        let fd = new_fd(res)?;
        Ok((fd, self.addr.to_addr(self.addr.len as usize)))
    }
}

/// Multishot `IORING_OP_ACCEPT` (Linux 5.19), for
/// [`Driver::submit_stream`](crate::owned::Driver::submit_stream): one item
/// per connection, each a new socket (close-on-exec unless
/// [`flags`](Self::flags) says otherwise) or the errno that ended the
/// stream. Connections that arrive after the stream was dropped, and items
/// nobody took, are closed by the library. (No peer address: the kernel
/// would overwrite one shared address per connection; ask the socket with
/// `getpeername`, `TcpStream::peer_addr`.)
#[derive(Debug)]
pub struct AcceptMulti {
    fd: Fd,
    flags: AcceptFlags,
}

impl AcceptMulti {
    /// Accept connections on the listening socket `fd` until cancelled.
    pub fn new(fd: impl Into<Fd>) -> AcceptMulti {
        AcceptMulti { fd: fd.into(), flags: AcceptFlags::CLOEXEC }
    }

    /// `SOCK_CLOEXEC` / `SOCK_NONBLOCK` for the new sockets (the default:
    /// `CLOEXEC`).
    pub fn flags(mut self, flags: AcceptFlags) -> AcceptMulti {
        self.flags = flags;
        self
    }
}

// SAFETY: no pointer; names the fd `self.fd` keeps open until the final
// CQE; each descriptor a CQE carries is owned by its item.
unsafe impl OwnedStream for AcceptMulti {
    type Item = Result<OwnedFd, Errno>;

    #[inline]
    fn prepare(&mut self, sqe: &mut Sqe) {
        op::Accept::new(self.fd.target()).multishot().accept_flags(self.flags).prepare(sqe);
    }

    #[inline]
    fn item(&mut self, res: i32, _flags: u32) -> Self::Item {
        new_fd(res)
    }
}

/// `IORING_OP_SHUTDOWN` (Linux 5.11): `shutdown(2)`. The output is `Ok(())`.
#[derive(Debug)]
pub struct Shutdown {
    fd: Fd,
    how: std::net::Shutdown,
}

impl Shutdown {
    /// Shut down the receiving side, the sending side, or both of socket
    /// `fd`.
    pub fn new(fd: impl Into<Fd>, how: std::net::Shutdown) -> Shutdown {
        Shutdown { fd: fd.into(), how }
    }
}

// SAFETY: no pointer; names the fd `self.fd` keeps open.
unsafe impl OwnedOp for Shutdown {
    type Output = Result<(), Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        let how = match self.how {
            std::net::Shutdown::Read => n::SHUT_RD,
            std::net::Shutdown::Write => n::SHUT_WR,
            std::net::Shutdown::Both => n::SHUT_RDWR,
        };
        op::Shutdown::new(self.fd.target(), how).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        count(res).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for a in ["127.0.0.1:8080", "[::1]:443", "[fe80::1%3]:9"] {
            let a: SocketAddr = a.parse().unwrap();
            let s = AddrStorage::from_addr(&a);
            assert_eq!(s.to_addr(s.len as usize), Some(a));
        }
        let v6 = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 1, 7, 2));
        let s = AddrStorage::from_addr(&v6);
        assert_eq!(s.to_addr(s.len as usize), Some(v6), "flow info and scope id too");
        assert_eq!(AddrStorage::room().to_addr(0), None);
        assert_eq!(AddrStorage::from_addr(&v6).to_addr(10), None, "a short length is not an address");
    }
}
