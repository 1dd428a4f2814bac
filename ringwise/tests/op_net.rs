//! Socket ops over loopback TCP/UDP and Unix socketpairs: connect, accept
//! (multishot, direct), send and receive (messages, provided buffers,
//! bundles), zero-copy sends (also from a registered buffer).

mod common;

use common::*;
use ringwise::op::{
    self, zc_notification_copied, Accept, AcceptFlags, AcceptFrom, AsyncCancel, Bind, Connect, DirectSlot, Listen,
    MsgHdr, Recv, RecvMsg, RecvMsgMulti, RecvMsgOut, RecvProvided, RecvZc, Send, SendMsg, SendMsgZc, SendProvided,
    SendZc, Shutdown, Socket, Target,
};
use ringwise::register::BufRingConfig;
use ringwise::{Features, Ring, SqeFlags};
use rustix::io::Errno;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

fn v4(addr: std::net::SocketAddr) -> SocketAddrV4 {
    match addr {
        std::net::SocketAddr::V4(a) => a,
        other => panic!("not v4: {other}"),
    }
}

const SIN_LEN: u32 = std::mem::size_of::<linux_raw_sys::net::sockaddr_in>() as u32;

#[test]
fn tcp_socket_bind_listen_connect_accept_send_recv_shutdown() {
    let mut ring = Ring::new(8).unwrap();
    let (af, st) =
        (linux_raw_sys::net::AF_INET as i32, linux_raw_sys::net::SOCK_STREAM | linux_raw_sys::general::O_CLOEXEC);
    ring.submission().push(Socket::new(af, st, 0).user_data(1)).unwrap();
    ring.submission().push(Socket::new(af, st, 0).user_data(2)).unwrap();
    let cqes = run(&mut ring, 2);
    let server = owned(by_ud(&cqes, 1).res);
    let client = owned(by_ud(&cqes, 2).res);
    let any = sockaddr_in("127.0.0.1:0".parse().unwrap());
    if supports(op::opcode::BIND) {
        push!(
            ring,
            // SAFETY: `server` stays open until this test has reaped the op's CQE.
            Bind::new(unsafe { Target::from_fd(server.as_fd()) }, &any as *const _ as *const u8, SIN_LEN)
                .user_data(3)
                .flags(SqeFlags::IO_LINK)
        );
        // SAFETY: `server` stays open until this test has reaped the op's CQE.
        ring.submission().push(Listen::new(unsafe { Target::from_fd(server.as_fd()) }, 16).user_data(4)).unwrap();
        let cqes = run(&mut ring, 2);
        assert_eq!((by_ud(&cqes, 3).res, by_ud(&cqes, 4).res), (0, 0), "{cqes:?}");
    } else {
        return skip("BIND/LISTEN need Linux 6.11");
    }
    let listener = TcpListener::from(server);
    let addr = v4(listener.local_addr().unwrap());
    assert_ne!(addr.port(), 0, "bind gave the socket a port");
    let dest = sockaddr_in(addr);
    push!(
        ring,
        // SAFETY: `client` stays open until this test has reaped the op's CQE.
        Connect::new(unsafe { Target::from_fd(client.as_fd()) }, &dest as *const _ as *const u8, SIN_LEN).user_data(5)
    );
    let mut peer = linux_raw_sys::net::sockaddr_in {
        sin_family: 0,
        sin_port: 0,
        sin_addr: linux_raw_sys::net::in_addr { s_addr: 0 },
        __pad: [0; 8],
    };
    let mut peer_len = SIN_LEN;
    push!(
        ring,
        // SAFETY: `listener` stays open until this test has reaped the op's CQE.
        AcceptFrom::new(unsafe { Target::from_fd(listener.as_fd()) }, &mut peer as *mut _ as *mut u8, &mut peer_len)
            .accept_flags(AcceptFlags::CLOEXEC)
            .user_data(6)
    );
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 5).res, 0);
    let conn = owned(by_ud(&cqes, 6).res);
    let client = TcpStream::from(client);
    assert_eq!(u16::from_be(peer.sin_port), client.local_addr().unwrap().port(), "accept reported the peer address");
    assert_eq!(peer_len, SIN_LEN);

    let msg = b"over loopback tcp";
    push!(
        ring,
        // SAFETY: `client` stays open until this test has reaped the op's CQE.
        Send::new(unsafe { Target::from_fd(client.as_fd()) }, msg.as_ptr(), msg.len() as u32)
            .user_data(7)
            .flags(SqeFlags::IO_LINK)
    );
    // SAFETY: `client` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(Shutdown::new(unsafe { Target::from_fd(client.as_fd()) }, linux_raw_sys::net::SHUT_WR).user_data(8))
        .unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!((by_ud(&cqes, 7).res, by_ud(&cqes, 8).res), (msg.len() as i32, 0));
    let mut buf = [0u8; 64];
    push!(
        ring,
        // SAFETY: `conn` stays open until this test has reaped the op's CQE.
        Recv::new(unsafe { Target::from_fd(conn.as_fd()) }, buf.as_mut_ptr(), 64)
            .msg_flags(op::MsgFlags::WAITALL)
            .user_data(9)
    );
    assert_eq!(run(&mut ring, 1)[0].res, msg.len() as i32, "WAITALL stops at the shutdown's EOF");
    assert_eq!(&buf[..msg.len()], msg);
    // SAFETY: `conn` stays open until this test has reaped the op's CQE.
    push!(ring, Recv::new(unsafe { Target::from_fd(conn.as_fd()) }, buf.as_mut_ptr(), 64).user_data(10));
    assert_eq!(run(&mut ring, 1)[0].res, 0, "EOF after SHUT_WR");
}

#[test]
fn multishot_accept_yields_one_cqe_per_connection_with_more() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: `listener` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(Accept::new(unsafe { Target::from_fd(listener.as_fd()) }).multishot().user_data(42))
        .unwrap();
    ring.submit().unwrap();
    let mut clients = Vec::new();
    let mut accepted = Vec::new();
    for _ in 0..3 {
        clients.push(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        let c = collect(&mut ring, 1)[0];
        assert_eq!(c.user_data, 42);
        assert!(c.more(), "multishot accept stays armed: {c:?}");
        accepted.push(owned(c.res));
    }
    // Each accepted fd is the server side of the matching client.
    for (client, server) in clients.iter().zip(&accepted) {
        let server_peer = TcpStream::from(server.try_clone().unwrap()).peer_addr().unwrap();
        assert_eq!(server_peer, client.local_addr().unwrap());
    }
    ring.submission().push(AsyncCancel::user_data_of(42).user_data(43)).unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 43).res, 0);
    let end = by_ud(&cqes, 42);
    assert_eq!(end.res, errno(Errno::CANCELED));
    assert!(!end.more(), "the final CQE clears MORE");
}

#[test]
fn accept_into_allocated_direct_slots_and_send_by_slot() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ring = Ring::new(8).unwrap();
    register_files(&ring, &[-1; 4]);
    // SAFETY: `listener` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(
            Accept::new(unsafe { Target::from_fd(listener.as_fd()) })
                .multishot()
                .direct(DirectSlot::Alloc)
                .user_data(1),
        )
        .unwrap();
    ring.submit().unwrap();
    let mut a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let s1 = collect(&mut ring, 1)[0];
    let mut b = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let s2 = collect(&mut ring, 1)[0];
    assert!(s1.more() && s2.more());
    assert!((0..4).contains(&s1.res) && (0..4).contains(&s2.res) && s1.res != s2.res, "{s1:?} {s2:?}");
    let (m1, m2) = (b"to a", b"to b");
    push!(ring, Send::new(Target::fixed(s1.res as u32), m1.as_ptr(), 4).user_data(2));
    push!(ring, Send::new(Target::fixed(s2.res as u32), m2.as_ptr(), 4).user_data(3));
    let cqes = run(&mut ring, 2);
    assert!(cqes.iter().all(|c| c.res == 4), "{cqes:?}");
    let mut buf = [0u8; 4];
    a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, m1);
    b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, m2);
    // A plain direct accept into a given slot.
    ring.submission().push(AsyncCancel::user_data_of(1).user_data(9)).unwrap();
    let _ = run(&mut ring, 2);
    let idx = (0..4).find(|i| *i != s1.res && *i != s2.res).unwrap() as u32;
    // SAFETY: `listener` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(Accept::new(unsafe { Target::from_fd(listener.as_fd()) }).direct(DirectSlot::Index(idx)).user_data(4))
        .unwrap();
    ring.submit().unwrap();
    let mut c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    assert_eq!(collect(&mut ring, 1)[0].res, 0);
    push!(ring, Send::new(Target::fixed(idx), m1.as_ptr(), 4).user_data(5));
    assert_eq!(run(&mut ring, 1)[0].res, 4);
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, m1);
}

#[test]
fn direct_socket_is_usable_by_slot() {
    let mut ring = Ring::new(4).unwrap();
    register_files(&ring, &[-1; 2]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ring.submission()
        .push(
            Socket::new(linux_raw_sys::net::AF_INET as i32, linux_raw_sys::net::SOCK_STREAM, 0)
                .direct(DirectSlot::Index(1))
                .user_data(1),
        )
        .unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    let dest = sockaddr_in(v4(listener.local_addr().unwrap()));
    push!(ring, Connect::new(Target::fixed(1), &dest as *const _ as *const u8, SIN_LEN).user_data(2));
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    let (mut server, _) = listener.accept().unwrap();
    push!(ring, Send::new(Target::fixed(1), b"slot".as_ptr(), 4).user_data(3));
    assert_eq!(run(&mut ring, 1)[0].res, 4);
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"slot");
}

#[test]
fn udp_sendto_and_recvmsg_report_the_source() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut ring = Ring::new(4).unwrap();
    let dest = sockaddr_in(v4(rx.local_addr().unwrap()));
    let msg = b"datagram";
    push!(
        ring,
        // SAFETY: `tx` stays open until this test has reaped the op's CQE.
        Send::new(unsafe { Target::from_fd(tx.as_fd()) }, msg.as_ptr(), 8)
            .to(&dest as *const _ as *const u8, SIN_LEN as u16)
            .user_data(1)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 8);
    let mut name = [0u8; 16];
    let mut data = [0u8; 32];
    let mut iovs = [iov(&data)];
    // SAFETY: `msghdr` is integers and raw pointers; all-zero bytes are a valid
    // value (null pointers, zero lengths).
    let mut hdr: MsgHdr = unsafe { std::mem::zeroed() };
    hdr.msg_name = name.as_mut_ptr().cast();
    hdr.msg_namelen = 16;
    hdr.msg_iov = iovs.as_mut_ptr().cast();
    hdr.msg_iovlen = 1;
    // SAFETY: `rx` stays open until this test has reaped the op's CQE.
    push!(ring, RecvMsg::new(unsafe { Target::from_fd(rx.as_fd()) }, &mut hdr).user_data(2));
    assert_eq!(run(&mut ring, 1)[0].res, 8);
    let _ = &mut data;
    assert_eq!(&data[..8], msg);
    let port = u16::from_be_bytes([name[2], name[3]]);
    assert_eq!(port, tx.local_addr().unwrap().port());
    // sendmsg with an explicit destination.
    let mut sdata = *b"via sendmsg";
    let mut siov = [iov(&sdata)];
    // SAFETY: `msghdr` is integers and raw pointers; all-zero bytes are a valid
    // value (null pointers, zero lengths).
    let mut shdr: MsgHdr = unsafe { std::mem::zeroed() };
    shdr.msg_name = &dest as *const _ as *mut _;
    shdr.msg_namelen = SIN_LEN as i32;
    shdr.msg_iov = siov.as_mut_ptr().cast();
    shdr.msg_iovlen = 1;
    // SAFETY: `tx` stays open until this test has reaped the op's CQE.
    push!(ring, SendMsg::new(unsafe { Target::from_fd(tx.as_fd()) }, &shdr).user_data(3));
    assert_eq!(run(&mut ring, 1)[0].res, 11);
    let _ = &mut sdata;
    let mut got = [0u8; 32];
    let n = rx.recv(&mut got).unwrap();
    assert_eq!(&got[..n], b"via sendmsg");
}

#[test]
fn multishot_recvmsg_output_is_parsed() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut ring = Ring::new(8).unwrap();
    let mut bufs = ring.register_buf_ring(BufRingConfig::new(5, 8, 256)).unwrap();
    // SAFETY: `msghdr` is integers and raw pointers; all-zero bytes are a valid
    // value (null pointers, zero lengths).
    let mut hdr: MsgHdr = unsafe { std::mem::zeroed() };
    hdr.msg_namelen = SIN_LEN as i32;
    // SAFETY: `rx` stays open until this test has reaped the op's CQE.
    push!(ring, RecvMsgMulti::new(unsafe { Target::from_fd(rx.as_fd()) }, &hdr, 5).user_data(1));
    ring.submit().unwrap();
    for payload in [&b"first datagram"[..], b"second"] {
        tx.send_to(payload, rx.local_addr().unwrap()).unwrap();
        let c = collect(&mut ring, 1)[0];
        assert!(c.more(), "{c:?}");
        let id = c.buffer_id().unwrap();
        // SAFETY: `c` is this ring's CQE for the multishot receive, which
        // picks from group 5, and it is passed once.
        let (bid, data) = unsafe { bufs.completion(&c) }.expect("a buffer of group 5");
        assert_eq!((bid, data.len()), (id, c.res as usize));
        let out = RecvMsgOut::parse(data, SIN_LEN, 0).expect("parse");
        assert_eq!(out.payload(), payload);
        assert_eq!(out.payload_len() as usize, payload.len());
        assert_eq!(out.name_len(), SIN_LEN);
        assert_eq!(u16::from_be_bytes([out.name()[2], out.name()[3]]), tx.local_addr().unwrap().port());
        assert!(out.control().is_empty());
    }
    ring.submission().push(AsyncCancel::user_data_of(1).user_data(2)).unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 1).res, errno(Errno::CANCELED));
}

#[test]
fn provided_buffers_multishot_recv_and_bundles() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let mut bufs = ring.register_buf_ring(BufRingConfig::new(1, 8, 16)).unwrap();
    // SAFETY: `a` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(RecvProvided::new(unsafe { Target::from_fd(a.as_fd()) }, 1).multishot().user_data(1))
        .unwrap();
    ring.submit().unwrap();
    for msg in [&b"alpha"[..], b"beta", b"gamma!"] {
        b.write_all(msg).unwrap();
        let c = collect(&mut ring, 1)[0];
        assert!(c.more(), "{c:?}");
        let id = c.buffer_id().unwrap();
        // SAFETY: `c` is this ring's CQE for the multishot receive, which
        // picks from group 1, and it is passed once.
        let (bid, data) = unsafe { bufs.completion(&c) }.expect("a buffer of group 1");
        assert_eq!((bid, data), (id, msg));
    }
    ring.submission().push(AsyncCancel::user_data_of(1).user_data(2)).unwrap();
    let _ = run(&mut ring, 2);

    if !ring.features().contains(Features::RECVSEND_BUNDLE) {
        return skip("bundles need IORING_FEAT_RECVSEND_BUNDLE (Linux 6.10)");
    }
    // A bundle receive fills several 16-byte buffers in one CQE.
    let (c, mut d) = UnixStream::pair().unwrap();
    // Bundles need raw access to the buffers (see `RawBufRing`).
    let bufs2 = RawBufRing::new(&ring, 2, 8, 16);
    let payload: Vec<u8> = (0..40u8).collect();
    d.write_all(&payload).unwrap();
    // SAFETY: `c` stays open until this test has reaped the op's CQE.
    ring.submission().push(RecvProvided::new(unsafe { Target::from_fd(c.as_fd()) }, 2).bundle().user_data(3)).unwrap();
    let mut joined = Vec::new();
    let mut next_id = None;
    while joined.len() < 40 {
        // SAFETY: `c` stays open until this test has reaped the op's CQE.
        ring.submission()
            .push(RecvProvided::new(unsafe { Target::from_fd(c.as_fd()) }, 2).bundle().user_data(3))
            .unwrap();
        let cqe = run(&mut ring, 1)[0];
        assert!(cqe.res > 0, "{cqe:?}");
        let first = cqe.buffer_id().unwrap();
        if let Some(expected) = next_id {
            assert_eq!(first, expected, "bundles take buffers in ring order");
        }
        let used = (cqe.res as usize).div_ceil(16) as u16;
        if joined.is_empty() {
            assert!(used >= 2, "the first bundle spans several buffers: {cqe:?}");
        }
        for i in 0..used {
            let n = (cqe.res as usize - i as usize * 16).min(16);
            joined.extend_from_slice(&bufs2.buf((first + i) % 8)[..n]);
        }
        next_id = Some((first + used) % 8);
    }
    assert_eq!(joined, payload, "bundles deliver the stream in order across buffers");

    // A bundle send sends every queued buffer of a group.
    let (e, mut f) = UnixStream::pair().unwrap();
    let mut out = RawBufRing::new(&ring, 3, 4, 8);
    for (i, chunk) in out.data.chunks_mut(8).enumerate() {
        chunk.fill(b'a' + i as u8);
    }
    // SAFETY: `e` stays open until this test has reaped the op's CQE.
    ring.submission().push(SendProvided::new(unsafe { Target::from_fd(e.as_fd()) }, 3).bundle().user_data(4)).unwrap();
    let c = run(&mut ring, 1)[0];
    assert_eq!(c.res, 32, "{c:?}");
    let mut got = [0u8; 32];
    f.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"aaaaaaaabbbbbbbbccccccccdddddddd");
    let _ = &mut out;
}

#[test]
fn zero_copy_sends_post_a_notification() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let msg = vec![7u8; 3000];
    push!(
        ring,
        // SAFETY: `client` stays open until this test has reaped the op's CQE.
        SendZc::new(unsafe { Target::from_fd(client.as_fd()) }, msg.as_ptr(), 3000).report_usage().user_data(1)
    );
    let cqes = run(&mut ring, 2);
    assert_eq!(cqes[0].res, 3000);
    assert!(cqes[0].more() && !cqes[0].is_notification(), "{:?}", cqes[0]);
    assert!(cqes[1].is_notification() && !cqes[1].more(), "{:?}", cqes[1]);
    assert_eq!(cqes[1].user_data, 1);
    eprintln!("send_zc over loopback: copied = {}", zc_notification_copied(&cqes[1]));
    let mut got = vec![0u8; 3000];
    server.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);

    // From a registered buffer.
    let fixed = vec![9u8; 4096];
    register_buffers(&ring, &[iov(&fixed)]);
    push!(
        ring,
        // SAFETY: `client` stays open until this test has reaped the op's CQE.
        SendZc::new(unsafe { Target::from_fd(client.as_fd()) }, fixed[100..].as_ptr(), 500)
            .fixed_buffer(0)
            .user_data(2)
    );
    let cqes = run(&mut ring, 2);
    assert_eq!((cqes[0].res, cqes[1].is_notification()), (500, true), "{cqes:?}");
    let mut got = vec![0u8; 500];
    server.read_exact(&mut got).unwrap();
    assert!(got.iter().all(|&b| b == 9));

    let mut data = *b"zero copy sendmsg";
    let mut iovs = [iov(&data)];
    // SAFETY: `msghdr` is integers and raw pointers; all-zero bytes are a valid
    // value (null pointers, zero lengths).
    let mut hdr: MsgHdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = iovs.as_mut_ptr().cast();
    hdr.msg_iovlen = 1;
    // SAFETY: `client` stays open until this test has reaped the op's CQE.
    push!(ring, SendMsgZc::new(unsafe { Target::from_fd(client.as_fd()) }, &hdr).user_data(3));
    let cqes = run(&mut ring, 2);
    assert_eq!(cqes[0].res, 17);
    assert!(cqes[1].is_notification());
    let _ = &mut data;
    let mut got = [0u8; 17];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"zero copy sendmsg");
}

#[test]
fn recv_zc_without_a_registered_ifq_is_refused() {
    if !supports(op::opcode::RECV_ZC) {
        return skip("RECV_ZC needs Linux 6.15");
    }
    // Zero-copy receive needs a NIC queue with header split registered as an
    // ifq; loopback has none, so the kernel must refuse interface 0.
    let (a, _b) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(2).unwrap();
    // SAFETY: `a` stays open until this test has reaped the op's CQE.
    ring.submission().push(RecvZc::new(unsafe { Target::from_fd(a.as_fd()) }, 0).user_data(1)).unwrap();
    let c = run(&mut ring, 1)[0];
    assert_eq!(c.res, errno(Errno::INVAL), "{c:?}");
    skip("RECV_ZC data path: needs a zcrx-capable NIC queue (not loopback)");
}

/// A connected loopback TCP pair: (client, server).
fn tcp_pair() -> (TcpStream, TcpStream, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server, listener)
}

/// A `msghdr` over `iovs` (no name, no control data).
fn msghdr(iovs: &mut [op::Iovec]) -> MsgHdr {
    // SAFETY: msghdr is plain data; all-zero is "no name, no control".
    let mut hdr: MsgHdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = iovs.as_mut_ptr().cast();
    hdr.msg_iovlen = iovs.len() as _;
    hdr
}

/// Submit one zero-copy send and return its result CQE, after reaping the
/// notification that follows it when the result says `MORE` (the kernel
/// posts one even for some failed sends).
fn zc_result(ring: &mut Ring) -> ringwise::Cqe {
    let cqe = run(ring, 1)[0];
    if cqe.more() {
        let notif = collect(ring, 1)[0];
        assert!(notif.is_notification() && notif.user_data == cqe.user_data, "{notif:?}");
    }
    cqe
}

#[test]
fn sendmsg_zc_fixed_sends_from_the_registered_buffer() {
    let (client, mut server, _listener) = tcp_pair();
    let mut ring = Ring::new(8).unwrap();
    let fixed: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
    register_buffers(&ring, &[iov(&fixed)]);

    // Two iovecs at different places inside registered buffer 0.
    let mut iovs = [iov(&fixed[100..400]), iov(&fixed[5000..5100])];
    let hdr = msghdr(&mut iovs);
    // SAFETY: `client` stays open until this test has reaped the op's CQE.
    push!(ring, SendMsgZc::new(unsafe { Target::from_fd(client.as_fd()) }, &hdr).fixed_buffer(0).user_data(1));
    let cqes = run(&mut ring, 1);
    if cqes[0].res == errno(Errno::INVAL) {
        skip("this kernel refuses SENDMSG_ZC with IORING_RECVSEND_FIXED_BUF (Linux 6.15 added it)");
        return;
    }
    assert_eq!(cqes[0].res, 400, "{:?}", cqes[0]);
    assert!(cqes[0].more(), "a zero-copy send announces its notification: {:?}", cqes[0]);
    let notif = collect(&mut ring, 1);
    assert!(notif[0].is_notification() && notif[0].user_data == 1, "{notif:?}");
    let mut got = vec![0u8; 400];
    server.read_exact(&mut got).unwrap();
    let want: Vec<u8> = fixed[100..400].iter().chain(&fixed[5000..5100]).copied().collect();
    assert_eq!(got, want, "the bytes sent are the registered buffer's");

    // The fixed flag is really on the wire: memory outside the registered
    // buffer is refused, although a plain SENDMSG_ZC would send it.
    let outside = vec![0x5au8; 64];
    let mut iovs = [iov(&outside)];
    let hdr = msghdr(&mut iovs);
    // SAFETY: `client` stays open until this test has reaped the op's CQE.
    push!(ring, SendMsgZc::new(unsafe { Target::from_fd(client.as_fd()) }, &hdr).fixed_buffer(0).user_data(2));
    let cqe = zc_result(&mut ring);
    assert_eq!(cqe.res, errno(Errno::FAULT), "an iovec outside the registered buffer: {cqe:?}");
    // So is a buffer index past the table.
    // SAFETY: `client` stays open until this test has reaped the op's CQE.
    push!(ring, SendMsgZc::new(unsafe { Target::from_fd(client.as_fd()) }, &hdr).fixed_buffer(1).user_data(3));
    let cqe = zc_result(&mut ring);
    assert_eq!(cqe.res, errno(Errno::FAULT), "buffer index 1 of a one-entry table: {cqe:?}");
    // ... and `check` says so before the push.
    let err = op::check(
        // SAFETY: `client` stays open until this test has reaped the op's CQE.
        &SendMsgZc::new(unsafe { Target::from_fd(client.as_fd()) }, &hdr).fixed_buffer(1),
        &op::Limits { fixed_buffers: Some(1), ..Default::default() },
    )
    .unwrap_err();
    assert!(matches!(err, ringwise::Error::OpIndexOutOfRange { index: 1, len: 1, .. }), "{err}");
    // The same memory without the flag goes out.
    // SAFETY: `client` stays open until this test has reaped the op's CQE.
    push!(ring, SendMsgZc::new(unsafe { Target::from_fd(client.as_fd()) }, &hdr).user_data(4));
    let cqes = run(&mut ring, 2);
    assert_eq!(cqes[0].res, 64, "{cqes:?}");
    let mut got = [0u8; 64];
    server.read_exact(&mut got).unwrap();
    assert_eq!(got, [0x5a; 64]);
}
