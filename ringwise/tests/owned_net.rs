//! Owned socket ops against the kernel: a TCP echo made entirely through
//! the ring, UDP messages with addresses, control data, multishot and
//! dropped accepts that leak no descriptor, non-socket descriptors giving
//! `ENOTSOCK` as the op's result, zero-copy sends whose buffer is kept
//! until the notification, and cancels that keep data that arrived.

mod common;

use common::{skip, supports};
use ringwise::op::{opcode, MsgFlags};
use ringwise::owned::{ops, Driver, SharedFd};
use ringwise::Errno;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "common/counted.rs"]
mod counted;
use counted::Counted;

/// Open descriptors of this process (the directory handle is counted
/// every time, so counts compare).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Reap until nothing is in flight (or 5 s passed).
fn drain(driver: &Driver) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while driver.stats().in_flight > 0 && Instant::now() < deadline {
        driver.wait(1).unwrap();
    }
    assert_eq!(driver.stats().in_flight, 0, "the kernel gave every op back");
}

/// A connected loopback TCP pair (std), as shared fds.
fn tcp_pair() -> (SharedFd, SharedFd) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (SharedFd::from(c), SharedFd::from(s))
}

fn dup(fd: &SharedFd) -> OwnedFd {
    fd.as_fd().try_clone_to_owned().unwrap()
}

#[test]
fn tcp_echo_through_the_ring() {
    for code in [opcode::SOCKET, opcode::BIND, opcode::LISTEN] {
        if !supports(code) {
            return skip(format!(
                "{} is not supported (SOCKET: 5.19, BIND/LISTEN: 6.11)",
                ringwise::op::name(code).unwrap_or("?")
            ));
        }
    }
    let driver = Driver::new(16).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = SharedFd::from(driver.submit(ops::Socket::tcp_for(&any)).unwrap().wait().unwrap().unwrap());
    driver.submit(ops::Bind::new(&server, any)).unwrap().wait().unwrap().unwrap();
    driver.submit(ops::Listen::new(&server, 16)).unwrap().wait().unwrap().unwrap();
    let addr = TcpListener::from(dup(&server)).local_addr().unwrap();
    assert_ne!(addr.port(), 0, "bind gave the socket a port");

    let client = SharedFd::from(driver.submit(ops::Socket::tcp_for(&addr)).unwrap().wait().unwrap().unwrap());
    let accept = driver.submit(ops::Accept::new(&server)).unwrap();
    driver.submit(ops::Connect::new(&client, addr)).unwrap().wait().unwrap().unwrap();
    let (conn, peer) = accept.wait().unwrap().unwrap();
    let client_addr = TcpStream::from(dup(&client)).local_addr().unwrap();
    assert_eq!(peer, Some(client_addr), "accept gives the peer's address");
    let conn = SharedFd::from(conn);

    // Client -> server -> client.
    let (sent, buf) = driver.submit(ops::Send::new(&client, b"hello ring".to_vec())).unwrap().wait().unwrap();
    assert_eq!(sent, Ok(10));
    assert_eq!(buf, b"hello ring", "the buffer comes back");
    let (got, buf) = driver.submit(ops::Recv::new(&conn, Vec::with_capacity(64))).unwrap().wait().unwrap();
    assert_eq!(got, Ok(10));
    let (echoed, _) = driver.submit(ops::Send::new(&conn, buf)).unwrap().wait().unwrap();
    assert_eq!(echoed, Ok(10));
    let (got, buf) = driver.submit(ops::Recv::new(&client, Vec::with_capacity(64))).unwrap().wait().unwrap();
    assert_eq!((got, &buf[..]), (Ok(10), &b"hello ring"[..]));

    // The client stops sending: the server reads end of stream.
    driver.submit(ops::Shutdown::new(&client, Shutdown::Write)).unwrap().wait().unwrap().unwrap();
    let (got, _) = driver.submit(ops::Recv::new(&conn, Vec::with_capacity(8))).unwrap().wait().unwrap();
    assert_eq!(got, Ok(0), "end of stream after the peer's shutdown");
    assert_eq!(driver.stats().in_flight, 0);
}

#[test]
fn tcp_accept_and_connect_over_ipv6() {
    if !supports(opcode::SOCKET) {
        return skip("SOCKET needs Linux 5.19");
    }
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        return skip("no IPv6 loopback on this machine");
    };
    let addr = listener.local_addr().unwrap();
    let listener = SharedFd::from(listener);
    let client = SharedFd::from(tcp_socket_for(&addr));
    let driver = Driver::new(8).unwrap();
    let accept = driver.submit(ops::Accept::new(&listener)).unwrap();
    driver.submit(ops::Connect::new(&client, addr)).unwrap().wait().unwrap().unwrap();
    let (_conn, peer) = accept.wait().unwrap().unwrap();
    assert_eq!(peer, Some(TcpStream::from(dup(&client)).local_addr().unwrap()));
}

/// An unconnected TCP socket of `addr`'s family, made through the ring
/// (std has no unconnected socket).
fn tcp_socket_for(addr: &SocketAddr) -> OwnedFd {
    let driver = Driver::new(2).unwrap();
    driver.submit(ops::Socket::tcp_for(addr)).unwrap().wait().unwrap().unwrap()
}

#[test]
fn udp_sendmsg_recvmsg_carry_addresses_and_scatter() {
    for (a, b) in [("127.0.0.1:0", "127.0.0.1:0"), ("[::1]:0", "[::1]:0")] {
        let (Ok(a), Ok(b)) = (UdpSocket::bind(a), UdpSocket::bind(b)) else {
            skip(format!("cannot bind UDP on {a}"));
            continue;
        };
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let (a, b) = (SharedFd::from(a), SharedFd::from(b));
        let driver = Driver::new(8).unwrap();
        let recv = driver.submit(ops::RecvMsg::new(&b, vec![Vec::with_capacity(3), Vec::with_capacity(16)])).unwrap();
        let msg = ops::SendMsg::new(&a, vec![b"hel".to_vec(), b"lo world".to_vec()]).to(b_addr);
        let (sent, back) = driver.submit(msg).unwrap().wait().unwrap();
        assert_eq!(sent, Ok(11));
        assert_eq!(back.bufs, [b"hel".to_vec(), b"lo world".to_vec()], "the buffers come back");
        let (got, bufs) = recv.wait().unwrap();
        let got = got.unwrap();
        assert_eq!(got.len, 11);
        assert_eq!(got.from, Some(a_addr), "recvmsg gives the sender's address");
        assert!(!got.flags.contains(MsgFlags::TRUNC));
        assert_eq!(bufs.bufs[0], b"hel", "the data is scattered in order");
        assert_eq!(bufs.bufs[1], b"lo world");
        assert!(bufs.control.is_empty());

        // A datagram longer than the buffers: MSG_TRUNC, the buffer full.
        let recv = driver.submit(ops::RecvMsg::new(&b, vec![Vec::with_capacity(4)])).unwrap();
        let (sent, _) =
            driver.submit(ops::SendMsg::new(&a, vec![b"0123456789".to_vec()]).to(b_addr)).unwrap().wait().unwrap();
        assert_eq!(sent, Ok(10));
        let (got, bufs) = recv.wait().unwrap();
        let got = got.unwrap();
        assert_eq!((got.len, &bufs.bufs[0][..]), (4, &b"0123"[..]));
        assert!(got.flags.contains(MsgFlags::TRUNC), "{:?}", got.flags);

        // SEND_ZC to an address (Linux 6.0), on the unconnected socket.
        if supports(opcode::SEND_ZC) {
            let recv = driver.submit(ops::RecvMsg::new(&b, vec![Vec::with_capacity(16)])).unwrap();
            let (sent, buf) =
                driver.submit(ops::SendZc::new(&a, b"zc dgram".to_vec()).to(b_addr)).unwrap().wait().unwrap();
            assert_eq!((sent, &buf[..]), (Ok(8), &b"zc dgram"[..]));
            let (got, bufs) = recv.wait().unwrap();
            assert_eq!(got.unwrap().from, Some(a_addr));
            assert_eq!(bufs.bufs[0], b"zc dgram");
        }
    }
}

#[test]
fn sendmsg_recvmsg_pass_control_data() {
    // SCM_RIGHTS over a Unix socket: one descriptor in the control data.
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let (a, b) = (SharedFd::from(a), SharedFd::from(b));
    let passed = std::fs::File::open("/dev/null").unwrap();
    // struct cmsghdr { size_t len; int level; int type; } then the int fd,
    // padded to 8 bytes (the kernel ABI on 64-bit Linux).
    let mut cmsg = Vec::new();
    cmsg.extend_from_slice(&(16usize + 4).to_ne_bytes());
    cmsg.extend_from_slice(&1i32.to_ne_bytes()); // SOL_SOCKET
    cmsg.extend_from_slice(&1i32.to_ne_bytes()); // SCM_RIGHTS
    cmsg.extend_from_slice(&passed.as_raw_fd().to_ne_bytes());
    cmsg.extend_from_slice(&[0; 4]);
    let driver = Driver::new(8).unwrap();
    let recv = ops::RecvMsg::new(&b, vec![Vec::with_capacity(8)])
        .control(Vec::with_capacity(64))
        .flags(MsgFlags::CMSG_CLOEXEC);
    let recv = driver.submit(recv).unwrap();
    let (sent, back) =
        driver.submit(ops::SendMsg::new(&a, vec![b"fd".to_vec()]).control(cmsg.clone())).unwrap().wait().unwrap();
    assert_eq!(sent, Ok(2));
    assert_eq!(back.control, cmsg, "the control buffer comes back");
    let (got, bufs) = recv.wait().unwrap();
    let got = got.unwrap();
    assert_eq!((got.len, &bufs.bufs[0][..]), (2, &b"fd"[..]));
    assert_eq!(got.from, None, "an unnamed Unix peer has no IP address");
    let c = &bufs.control;
    assert_eq!(c.len(), 24, "msg_controllen: one cmsg for one fd, padded");
    assert_eq!(usize::from_ne_bytes(c[0..8].try_into().unwrap()), 20);
    assert_eq!(i32::from_ne_bytes(c[8..12].try_into().unwrap()), 1);
    assert_eq!(i32::from_ne_bytes(c[12..16].try_into().unwrap()), 1);
    let fd = i32::from_ne_bytes(c[16..20].try_into().unwrap());
    assert!(fd >= 0 && fd != passed.as_raw_fd());
    // SAFETY: SCM_RIGHTS installed this new descriptor for the test.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let meta = std::fs::File::from(fd).metadata().unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::rdev(&meta),
        std::os::unix::fs::MetadataExt::rdev(&passed.metadata().unwrap())
    );
}

#[test]
fn a_message_of_too_many_buffers_is_refused_with_the_buffers() {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let a = SharedFd::from(a);
    let driver = Driver::new(8).unwrap();
    let bufs = vec![vec![1u8]; 1025];
    let refused = driver.submit(ops::SendMsg::new(&a, bufs)).unwrap_err();
    assert!(matches!(refused.error, ringwise::Error::InvalidArgument { .. }), "{}", refused.error);
    assert_eq!(refused.into_inner().into_bufs().bufs.len(), 1025, "nothing is lost");
    assert_eq!(driver.stats().in_flight, 0);
}

#[test]
fn multishot_accept_dropped_with_connections_pending_leaks_no_fd() {
    if !common::in_own_process("multishot_accept_dropped_with_connections_pending_leaks_no_fd") {
        return;
    }
    if !supports(opcode::ACCEPT) {
        return skip("ACCEPT is not supported");
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = SharedFd::from(listener);
    let driver = Driver::new(64).unwrap();
    let before = open_fds();

    let mut stream = match driver.submit_stream(ops::AcceptMulti::new(&listener)) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    driver.wait(0).unwrap();
    let clients: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // Take ten, leave the rest queued in the stream or the backlog.
    let mut taken = Vec::new();
    while taken.len() < 10 {
        match stream.wait_next().unwrap() {
            Some(Ok(fd)) => taken.push(fd),
            Some(Err(e)) if e == Errno::INVAL => return skip("multishot accept needs Linux 5.19"),
            other => panic!("unexpected item {other:?}"),
        }
    }
    driver.wait(0).unwrap();
    drop(stream);
    drain(&driver);
    assert_eq!(open_fds(), before + 50 + 10, "50 clients and the 10 taken; every other accepted fd was closed");
    // Connections the kernel did not accept are still in the backlog; the
    // others were accepted into CQEs nobody took and closed by the library.
    let l = TcpListener::from(dup(&listener));
    l.set_nonblocking(true).unwrap();
    let backlog = std::iter::from_fn(|| l.accept().ok()).count();
    let closed = 40 - backlog;
    eprintln!("multishot accept: {closed} connections accepted after the 10 taken and closed by the library, {backlog} left in the backlog");
    assert!(closed > 0, "the test exercised no accepted-but-untaken connection");
    drop(l);

    // The taken connections are real: each talks to one client.
    let peers: Vec<SocketAddr> =
        taken.iter().map(|fd| TcpStream::from(fd.try_clone().unwrap()).peer_addr().unwrap()).collect();
    let locals: Vec<SocketAddr> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    assert!(peers.iter().all(|p| locals.contains(p)));
    drop(taken);
    drop(clients);
    assert_eq!(open_fds(), before);
}

#[test]
fn dropped_accept_closes_the_connection_that_arrives_later() {
    if !common::in_own_process("dropped_accept_closes_the_connection_that_arrives_later") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = SharedFd::from(listener);
    let driver = Driver::new(8).unwrap();
    let before = open_fds();
    let accept = driver.submit(ops::Accept::new(&listener)).unwrap();
    driver.wait(0).unwrap();
    drop(accept);
    let mut client = TcpStream::connect(addr).unwrap();
    drain(&driver);
    assert_eq!(open_fds(), before + 1, "only the client's fd is open: the accepted one was closed");

    // Which way it went: the accept took the connection (and the library
    // closed it: the client reads end of stream), or the cancel won and the
    // connection waits in the backlog.
    let l = TcpListener::from(dup(&listener));
    l.set_nonblocking(true).unwrap();
    match l.accept() {
        Ok(_) => eprintln!("the cancel won: the connection stayed in the backlog"),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut b = [0u8; 1];
            match client.read(&mut b) {
                Ok(0) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                other => panic!("the accepted connection was not closed: {other:?}"),
            }
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn ops_on_a_non_socket_give_enotsock() {
    let (r, w) = rustix::pipe::pipe().unwrap();
    let (r, w) = (SharedFd::from(r), SharedFd::from(w));
    let driver = Driver::new(16).unwrap();
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();

    let (res, buf) = driver.submit(ops::Recv::new(&r, Vec::with_capacity(8))).unwrap().wait().unwrap();
    assert_eq!(res, Err(Errno::NOTSOCK));
    assert_eq!(buf.capacity(), 8, "the buffer comes back");
    let (res, _) = driver.submit(ops::Send::new(&w, b"x".to_vec())).unwrap().wait().unwrap();
    assert_eq!(res, Err(Errno::NOTSOCK));
    let (res, _) = driver.submit(ops::RecvMsg::new(&r, vec![Vec::with_capacity(8)])).unwrap().wait().unwrap();
    assert_eq!(res, Err(Errno::NOTSOCK));
    let (res, _) = driver.submit(ops::SendMsg::new(&w, vec![b"x".to_vec()])).unwrap().wait().unwrap();
    assert_eq!(res, Err(Errno::NOTSOCK));
    assert_eq!(driver.submit(ops::Accept::new(&r)).unwrap().wait().unwrap().err(), Some(Errno::NOTSOCK));
    assert_eq!(driver.submit(ops::Connect::new(&w, addr)).unwrap().wait().unwrap(), Err(Errno::NOTSOCK));
    assert_eq!(driver.submit(ops::Shutdown::new(&w, Shutdown::Both)).unwrap().wait().unwrap(), Err(Errno::NOTSOCK));
    if supports(opcode::BIND) && supports(opcode::LISTEN) {
        assert_eq!(driver.submit(ops::Bind::new(&w, addr)).unwrap().wait().unwrap(), Err(Errno::NOTSOCK));
        assert_eq!(driver.submit(ops::Listen::new(&w, 1)).unwrap().wait().unwrap(), Err(Errno::NOTSOCK));
    } else {
        skip("BIND/LISTEN need Linux 6.11");
    }
    if supports(opcode::SEND_ZC) {
        let (res, buf) = driver.submit(ops::SendZc::new(&w, b"x".to_vec())).unwrap().wait().unwrap();
        assert_eq!((res, &buf[..]), (Err(Errno::NOTSOCK), &b"x"[..]));
    } else {
        skip("SEND_ZC needs Linux 6.0");
    }
    let mut stream = match driver.submit_stream(ops::AcceptMulti::new(&r)) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(stream.wait_next().unwrap().map(|r| r.err()), Some(Some(Errno::NOTSOCK)));
    assert!(stream.wait_next().unwrap().is_none(), "the error ends the stream");
    assert_eq!(driver.stats().in_flight, 0);
}

#[test]
fn send_zc_round_trip() {
    if !supports(opcode::SEND_ZC) {
        return skip("SEND_ZC needs Linux 6.0");
    }
    let (a, b) = tcp_pair();
    let driver = Driver::new(8).unwrap();
    let (sent, buf) = driver.submit(ops::SendZc::new(&a, b"zero copy".to_vec())).unwrap().wait().unwrap();
    assert_eq!((sent, &buf[..]), (Ok(9), &b"zero copy"[..]));
    let mut got = [0u8; 9];
    TcpStream::from(dup(&b)).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"zero copy");

    // On a Unix socket the kernel refuses zero copy; the buffer comes back.
    let (u, _v) = std::os::unix::net::UnixStream::pair().unwrap();
    let (res, buf) = driver.submit(ops::SendZc::new(SharedFd::from(u), b"x".to_vec())).unwrap().wait().unwrap();
    assert_eq!((res, &buf[..]), (Err(Errno::OPNOTSUPP), &b"x"[..]));
}

/// A zero-copy send of more than the peer's window: the result CQE comes
/// when the data is queued, the notification only once the peer has read
/// it (the kernel still reads the buffer meanwhile).
fn big_send_zc(driver: &Driver, a: &SharedFd, drops: &Arc<AtomicUsize>) -> ringwise::owned::Op<ops::SendZc<Counted>> {
    let buf = Counted { data: vec![0x5a; 8 << 20], drops: drops.clone() };
    let op = driver.submit(ops::SendZc::new(a, buf)).unwrap();
    // The first CQE (the result, with F_MORE).
    driver.wait(1).unwrap();
    op
}

/// Read what `b` has until `done` says stop (or 10 s).
fn read_until(b: &SharedFd, driver: &Driver, done: impl Fn() -> bool) -> usize {
    let mut s = TcpStream::from(dup(b));
    s.set_nonblocking(true).unwrap();
    let mut total = 0;
    let mut chunk = vec![0u8; 1 << 20];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() && Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("{e}"),
        }
        driver.drive().unwrap();
    }
    total
}

#[test]
fn send_zc_keeps_the_buffer_until_the_notification() {
    if !supports(opcode::SEND_ZC) {
        return skip("SEND_ZC needs Linux 6.0");
    }
    let (a, b) = tcp_pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let driver = Driver::new(8).unwrap();

    // A live handle: not done after the result CQE.
    let op = big_send_zc(&driver, &a, &drops);
    std::thread::sleep(Duration::from_millis(20));
    driver.drive().unwrap();
    let op = match op.try_take() {
        Ok((res, _)) => return skip(format!("the notification came with the result ({res:?}): nothing to observe")),
        Err(op) => op,
    };
    assert_eq!(driver.stats().in_flight, 1, "waiting for the notification");
    read_until(&b, &driver, || op.is_done());
    assert!(op.is_done(), "the notification arrives once the peer read the data");
    let (sent, buf) = op.wait().unwrap();
    let sent = sent.unwrap();
    assert!(sent > 0 && sent <= 8 << 20, "{sent}");
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    assert_eq!(buf.data.len(), 8 << 20, "the buffer comes back");
    drop(buf);
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    // A dropped handle: the buffer is freed only after the notification.
    let (a, b) = tcp_pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let op = big_send_zc(&driver, &a, &drops);
    drop(op);
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(10));
        driver.drive().unwrap();
    }
    assert_eq!(drops.load(Ordering::SeqCst), 0, "the kernel may still read the buffer: not freed");
    assert_eq!(driver.stats().in_flight, 1);
    read_until(&b, &driver, || driver.stats().in_flight == 0);
    assert_eq!(driver.stats().in_flight, 0, "the notification arrived");
    assert_eq!(drops.load(Ordering::SeqCst), 1, "freed once, after the notification");
}

/// Block until `done` (or 5 s: every wait here has a CQE coming).
fn wait_until(driver: &Driver, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() && Instant::now() < deadline {
        driver.wait(1).unwrap();
    }
}

#[test]
fn recv_cancelled_after_data_arrived_keeps_the_data() {
    let (a, b) = tcp_pair();
    let mut w = TcpStream::from(dup(&a));
    let driver = Driver::new(8).unwrap();

    let recv = driver.submit(ops::Recv::new(&b, Vec::with_capacity(16))).unwrap();
    driver.wait(0).unwrap();
    w.write_all(b"first").unwrap();
    wait_until(&driver, || recv.is_done());
    recv.cancel();
    let (got, buf) = recv.wait().unwrap();
    assert_eq!((got, &buf[..]), (Ok(5), &b"first"[..]), "the recv finished before the cancel: its data stands");

    let msg = driver.submit(ops::RecvMsg::new(&b, vec![Vec::with_capacity(16)])).unwrap();
    driver.wait(0).unwrap();
    w.write_all(b"second").unwrap();
    wait_until(&driver, || msg.is_done());
    msg.cancel();
    let (got, bufs) = msg.wait().unwrap();
    assert_eq!(got.map(|r| r.len), Ok(6));
    assert_eq!(bufs.bufs[0], b"second");

    // Cancelled before any data: ECANCELED, the buffer back untouched.
    let recv = driver.submit(ops::RecvMsg::new(&b, vec![vec![7u8; 4]])).unwrap();
    driver.wait(0).unwrap();
    recv.cancel();
    let (got, bufs) = recv.wait().unwrap();
    assert_eq!(got, Err(Errno::CANCELED));
    assert_eq!(bufs.bufs[0], [7u8; 4]);
}

#[test]
fn accept_connect_and_multishot_accept_as_futures() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = SharedFd::from(listener);
    let driver = Driver::new(16).unwrap();
    let mut clients = Vec::new();
    let out = driver
        .block_on(async {
            // A one-shot accept, then a send and a receive on the connection.
            let client = SharedFd::from(std::net::TcpStream::connect(addr).unwrap());
            let accept = driver.submit(ops::Accept::new(&listener)).unwrap();
            let (conn, peer) = accept.await.unwrap();
            assert_eq!(peer, Some(TcpStream::from(dup(&client)).local_addr().unwrap()));
            let (n, _) = driver.submit(ops::Send::new(SharedFd::from(conn), b"hi".to_vec())).unwrap().await;
            assert_eq!(n, Ok(2));
            let (n, buf) = driver.submit(ops::Recv::new(&client, Vec::with_capacity(4))).unwrap().await;
            assert_eq!((n, &buf[..]), (Ok(2), &b"hi"[..]));

            // A multishot accept, three connections, then the stream is
            // cancelled and ends.
            let mut stream = driver.submit_stream(ops::AcceptMulti::new(&listener)).map_err(|e| e.error).unwrap();
            let mut got = 0;
            while got < 3 {
                clients.push(TcpStream::connect(addr).unwrap());
                let fd = stream.next().await.unwrap().unwrap();
                let peer = TcpStream::from(fd).peer_addr().unwrap();
                assert_eq!(peer, clients.last().unwrap().local_addr().unwrap());
                got += 1;
            }
            stream.cancel();
            while let Some(item) = stream.next().await {
                assert_eq!(item.err(), Some(Errno::CANCELED), "only the cancel's end is left");
            }
            got
        })
        .unwrap();
    assert_eq!(out, 3);
    assert_eq!(driver.stats().in_flight, 0);
}

#[test]
fn poll_first_recv_waits_for_data_and_takes_what_is_queued() {
    use ringwise::owned::OwnedOp;
    let (a, b) = tcp_pair();
    // The hint reaches the SQE (the kernel's IORING_RECVSEND_POLL_FIRST).
    let mut sqe = [ringwise::Sqe::default()];
    let mut probe = ops::Recv::new(&b, vec![0u8; 8]).poll_first();
    probe.prepare(&mut sqe);
    assert_eq!(sqe[0].opcode, opcode::RECV);
    let poll_first = linux_raw_sys::io_uring::IORING_RECVSEND_POLL_FIRST as u16;
    assert_eq!(sqe[0].ioprio, poll_first, "ioprio carries POLL_FIRST");
    let mut plain = [ringwise::Sqe::default()];
    ops::Recv::new(&b, vec![0u8; 8]).prepare(&mut plain);
    assert_eq!(plain[0].ioprio, 0);

    let driver = Driver::new(8).unwrap();
    // Empty socket: the receive waits for the data.
    let recv = driver.submit(ops::Recv::new(&b, Vec::with_capacity(16)).poll_first()).unwrap();
    driver.wait(0).unwrap();
    assert!(driver.stats().in_flight == 1, "nothing to receive yet");
    let mut writer = TcpStream::from(dup(&a));
    writer.write_all(b"late").unwrap();
    let (n, buf) = recv.wait().unwrap();
    assert_eq!(&buf[..n.unwrap()], b"late");
    // Data already queued: taken at once.
    writer.write_all(b"there").unwrap();
    let (n, buf) = driver.submit(ops::Recv::new(&b, Vec::with_capacity(16)).poll_first()).unwrap().wait().unwrap();
    assert_eq!(&buf[..n.unwrap()], b"there");
}
