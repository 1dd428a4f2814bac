//! `URING_CMD` ops: socket commands (queue sizes, socket options,
//! getsockname/getpeername), the block discard command on a loop device,
//! 80-byte commands in 128-byte SQEs, the encoding of each builder, and the
//! refusal of opcodes newer than this kernel.

mod common;

use common::*;
use ringwise::op::{
    self, BlockDiscard, GetSockName, GetSockOpt, MsgHdr, Nop, Nop128, SendMsgZc, SetSockOpt, SocketQueue, Target,
    UringCmd128, UringCmd80,
};
use ringwise::{Builder, Cqe16, Ring, Sqe128};
use rustix::io::Errno;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A connected loopback TCP pair: (client, server).
fn tcp_pair() -> (TcpStream, TcpStream, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server, listener)
}

/// Decode an IPv4/IPv6 `sockaddr` the kernel wrote.
fn decode(buf: &[u8], len: u32) -> SocketAddr {
    let family = u16::from_ne_bytes([buf[0], buf[1]]);
    let port = u16::from_be_bytes([buf[2], buf[3]]);
    match family as u32 {
        linux_raw_sys::net::AF_INET => {
            assert_eq!(len as usize, std::mem::size_of::<linux_raw_sys::net::sockaddr_in>());
            SocketAddr::from(([buf[4], buf[5], buf[6], buf[7]], port))
        }
        linux_raw_sys::net::AF_INET6 => {
            let ip: [u8; 16] = buf[8..24].try_into().unwrap();
            SocketAddr::from((ip, port))
        }
        other => panic!("unexpected family {other}"),
    }
}

#[test]
fn getsockname_and_getpeername_as_socket_commands() {
    let (client, _server, listener) = tcp_pair();
    let mut ring = Ring::new(8).unwrap();
    let mut local = [0u8; 128];
    let mut local_len = local.len() as u32;
    let mut peer = [0u8; 128];
    let mut peer_len = peer.len() as u32;
    push!(
        ring,
        // SAFETY: `client` stays open until this test has reaped the op's CQE.
        GetSockName::new(unsafe { Target::from_fd(client.as_fd()) }, local.as_mut_ptr(), &mut local_len).user_data(1)
    );
    push!(
        ring,
        // SAFETY: `client` stays open until this test has reaped the op's CQE.
        GetSockName::new(unsafe { Target::from_fd(client.as_fd()) }, peer.as_mut_ptr(), &mut peer_len)
            .peer()
            .user_data(2)
    );
    let cqes = run(&mut ring, 2);
    let (a, b) = (by_ud(&cqes, 1), by_ud(&cqes, 2));
    if a.res == errno(Errno::OPNOTSUPP) {
        // 6.18's io_uring_cmd_sock() has no SOCKET_URING_OP_GETSOCKNAME case
        // and answers unknown commands with -EOPNOTSUPP (Linux 6.19 adds it).
        assert_eq!(b.res, a.res, "{b:?}");
        assert_eq!((local_len, peer_len), (128, 128), "a refused command leaves the lengths alone");
        skip(format!(
            "Linux {} has no SOCKET_URING_OP_GETSOCKNAME (6.19 adds it); the refusal is -EOPNOTSUPP",
            ringwise::probe::kernel_release()
        ));
        return;
    }
    assert_eq!((a.res, b.res), (0, 0), "{cqes:?}");
    assert_eq!(decode(&local, local_len), client.local_addr().unwrap());
    assert_eq!(decode(&peer, peer_len), listener.local_addr().unwrap());

    // A short buffer gets a truncated address and the full length.
    let mut short = [0u8; 4];
    let mut short_len = 4u32;
    push!(
        ring,
        // SAFETY: `client` stays open until this test has reaped the op's CQE.
        GetSockName::new(unsafe { Target::from_fd(client.as_fd()) }, short.as_mut_ptr(), &mut short_len).user_data(3)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    assert_eq!(short_len, local_len);
    assert_eq!(short, local[..4]);

    // getpeername on an unconnected socket: -ENOTCONN.
    let lone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    push!(
        ring,
        // SAFETY: `lone` stays open until this test has reaped the op's CQE.
        GetSockName::new(unsafe { Target::from_fd(lone.as_fd()) }, peer.as_mut_ptr(), &mut peer_len)
            .peer()
            .user_data(4)
    );
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::NOTCONN));
}

#[test]
fn socket_commands_need_a_protocol_ioctl() {
    // Independent of the kernel release: a Unix socket's protocol has no
    // ioctl, so every socket command, getsockname included, is refused.
    let (a, _b) = UnixStream::pair().unwrap();
    let mut ring = Ring::new(4).unwrap();
    let mut buf = [0u8; 128];
    let mut len = buf.len() as u32;
    // SAFETY: `a` stays open until this test has reaped the op's CQE.
    push!(ring, GetSockName::new(unsafe { Target::from_fd(a.as_fd()) }, buf.as_mut_ptr(), &mut len).user_data(1));
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::OPNOTSUPP));
    assert_eq!(len, 128);
}

/// A loop device over a file, detached on drop.
struct LoopDev {
    dev: PathBuf,
}

impl LoopDev {
    fn attach(file: &Path) -> Result<LoopDev, String> {
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(file)
            .output()
            .map_err(|e| format!("cannot run losetup: {e}"))?;
        if !out.status.success() {
            return Err(format!("losetup failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(LoopDev { dev: PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()) })
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

#[test]
fn block_discard_zeroes_the_range_of_a_loop_device() {
    const MIB: usize = 1 << 20;
    let dir = TempDir::new("discard");
    let backing = dir.path().join("disk.img");
    std::fs::write(&backing, vec![0xabu8; MIB]).unwrap();
    let lo = match LoopDev::attach(&backing) {
        Ok(lo) => lo,
        Err(why) => {
            skip(format!("no loop device to discard on: {why}"));
            return;
        }
    };
    let mut dev = std::fs::OpenOptions::new().read(true).write(true).open(&lo.dev).unwrap();
    // Fill the page cache over the range, so the test also sees it dropped.
    let mut before = vec![0u8; MIB];
    dev.read_exact(&mut before).unwrap();
    assert!(before.iter().all(|&b| b == 0xab));

    let mut ring = Ring::new(8).unwrap();
    // SAFETY: `dev` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(BlockDiscard::new(unsafe { Target::from_fd(dev.as_fd()) }, 64 * 1024, 128 * 1024).user_data(1))
        .unwrap();
    let cqe = run(&mut ring, 1)[0];
    if cqe.res == errno(Errno::OPNOTSUPP) {
        skip(format!("{} does not support discard (backing file system without hole punching)", lo.dev.display()));
        return;
    }
    assert_eq!(cqe.res, 0, "{cqe:?}");

    let mut after = vec![0u8; MIB];
    dev.seek(SeekFrom::Start(0)).unwrap();
    dev.read_exact(&mut after).unwrap();
    let range = 64 * 1024..192 * 1024;
    assert!(after[range.clone()].iter().all(|&b| b == 0), "the discarded range reads as zeros");
    assert!(after[..range.start].iter().all(|&b| b == 0xab), "bytes before the range are kept");
    assert!(after[range.end..].iter().all(|&b| b == 0xab), "bytes after the range are kept");
    // The loop driver punched a hole in the backing file.
    let mut file = vec![0u8; MIB];
    File::open(&backing).unwrap().read_exact(&mut file).unwrap();
    assert!(file[range.clone()].iter().all(|&b| b == 0), "the backing file has the hole");

    // The kernel's checks: a range not in logical blocks, a device opened
    // read-only.
    // SAFETY: `dev` stays open until this test has reaped the op's CQE.
    ring.submission().push(BlockDiscard::new(unsafe { Target::from_fd(dev.as_fd()) }, 100, 4096).user_data(2)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::INVAL), "unaligned offset");
    let ro = File::open(&lo.dev).unwrap();
    // SAFETY: `ro` stays open until this test has reaped the op's CQE.
    ring.submission().push(BlockDiscard::new(unsafe { Target::from_fd(ro.as_fd()) }, 0, 4096).user_data(3)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::BADF), "a read-only device");
    // A regular file is no block device: its file system has no uring_cmd.
    let plain = File::open(&backing).unwrap();
    // SAFETY: `plain` stays open until this test has reaped the op's CQE.
    ring.submission().push(BlockDiscard::new(unsafe { Target::from_fd(plain.as_fd()) }, 0, 4096).user_data(4)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::OPNOTSUPP), "a regular file");
    dev.flush().unwrap();
}

#[test]
fn new_builders_fill_the_sqe_fields_the_kernel_reads() {
    // The kernel rejects stray fields (ioprio, len, op_flags, file_index for
    // the block command), so check the encoding bytes too.
    let mut sqe = ringwise::Sqe::default();
    use ringwise::op::PrepareSqe;
    let mut len = 16u32;
    let mut buf = [0u8; 16];
    // SAFETY: descriptor 7 is only encoded here: the op is prepared or checked, never pushed.
    GetSockName::new(unsafe { Target::fd(7) }, buf.as_mut_ptr(), &mut len).peer().user_data(9).prepare(&mut sqe);
    assert_eq!((sqe.opcode, sqe.fd, sqe.off), (op::opcode::URING_CMD, 7, 5));
    assert_eq!((sqe.addr, sqe.addr3, sqe.file_index), (buf.as_ptr() as u64, &mut len as *mut u32 as u64, 1));
    assert_eq!((sqe.ioprio, sqe.len, sqe.op_flags, sqe.user_data), (0, 0, 0, 9));

    BlockDiscard::new(Target::fixed(3), 4096, 8192).prepare(&mut sqe);
    assert_eq!((sqe.opcode, sqe.fd, sqe.off, sqe.addr, sqe.addr3), (op::opcode::URING_CMD, 3, 0x1200, 4096, 8192));
    assert_eq!((sqe.ioprio, sqe.len, sqe.op_flags, sqe.file_index, sqe.user_data), (0, 0, 0, 0, 0));
    assert_eq!(sqe.flags, ringwise::SqeFlags::FIXED_FILE.bits());

    // SAFETY: msghdr is plain data; all-zero is valid.
    let hdr: MsgHdr = unsafe { std::mem::zeroed() };
    // SAFETY: descriptor 4 is only encoded here: the op is prepared or checked, never pushed.
    SendMsgZc::new(unsafe { Target::fd(4) }, &hdr).fixed_buffer(2).prepare(&mut sqe);
    assert_eq!((sqe.opcode, sqe.buf_index, sqe.len), (op::opcode::SENDMSG_ZC, 2, 1));
    assert_eq!(sqe.ioprio as u32, linux_raw_sys::io_uring::IORING_RECVSEND_FIXED_BUF);
    // SAFETY: descriptor 4 is only encoded here: the op is prepared or checked, never pushed.
    SendMsgZc::new(unsafe { Target::fd(4) }, &hdr).prepare(&mut sqe);
    assert_eq!((sqe.ioprio, sqe.buf_index), (0, 0));
}

#[test]
fn big_sqes_carry_the_80_byte_command_and_newer_opcodes_refuse_cleanly() {
    let mut ring: Ring<Sqe128, Cqe16> = Builder::new(4).build().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut b = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (a, _) = listener.accept().unwrap();
    std::io::Write::write_all(&mut b, b"12345").unwrap();
    while rustix::io::ioctl_fionread(&a).unwrap() < 5 {
        std::thread::yield_now();
    }
    // SIOCINQ through the generic 80-byte command builder: the command area
    // is unused by socket commands, but the whole 128-byte slot is written.
    let mut cmd = [0u8; op::CMD80_BYTES];
    cmd[79] = 0xff;
    let siocinq = linux_raw_sys::io_uring::io_uring_socket_op::SOCKET_URING_OP_SIOCINQ as u32;
    // SAFETY: the command area holds no pointers.
    // SAFETY: `a` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission().push_big_unchecked(UringCmd80::new(Target::from_fd(a.as_fd()), siocinq, cmd).user_data(1))
    }
    .unwrap();
    ring.submission().push(Nop::new().user_data(2)).unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 1).res, 5, "SIOCINQ via a 128-byte SQE");
    assert_eq!(by_ud(&cqes, 2).res, 0);

    let probe = ringwise::probe::Probe::of(&ring).unwrap();
    if probe.supports(op::opcode::NOP128) {
        ring.submission().push_big(Nop128::new().user_data(3)).unwrap();
        assert_eq!(run(&mut ring, 1)[0].res, 0);
        return skip("this kernel has NOP128; its refusal cannot be shown");
    }
    // Each fails to prepare, which ends that submit (no SUBMIT_ALL), so one
    // at a time.
    ring.submission().push_big(Nop128::new().user_data(3)).unwrap();
    let c = run(&mut ring, 1)[0];
    assert_eq!((c.user_data, c.res), (3, errno(Errno::INVAL)), "NOP128 is unknown to this kernel");
    // SAFETY: no pointers in the command.
    // SAFETY: `a` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission()
            .push_big_unchecked(UringCmd128::new(Target::from_fd(a.as_fd()), siocinq, [0; 80]).user_data(4))
    }
    .unwrap();
    let c = run(&mut ring, 1)[0];
    assert_eq!((c.user_data, c.res), (4, errno(Errno::INVAL)), "URING_CMD128 is unknown to this kernel");
    let limits = op::Limits { probe: Some(&probe), ..Default::default() };
    // SAFETY: `a` stays open until this test has reaped the op's CQE.
    let err =
        op::check(&UringCmd128::new(unsafe { Target::from_fd(a.as_fd()) }, siocinq, [0; 80]), &limits).unwrap_err();
    assert!(err.to_string().contains("URING_CMD128") && err.to_string().contains("6.19"), "{err}");
}

#[test]
fn socket_commands_queue_sizes_and_sockopts() {
    // Unix sockets have no protocol ioctl (EOPNOTSUPP); TCP has both queues.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.set_nonblocking(true).unwrap();
    let chunk = vec![3u8; 65536];
    let mut sent = 0usize;
    // Fill the server's receive queue and the client's send queue.
    for _ in 0..4096 {
        match (&client).write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    // Loopback delivery is asynchronous: wait (bounded) until the receive
    // queue stops growing, so that the two measurements below agree.
    let mut last = usize::MAX;
    for _ in 0..200 {
        let now = rustix::io::ioctl_fionread(&server).unwrap() as usize;
        if now == last {
            break;
        }
        last = now;
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: `server` stays open until this test has reaped the op's CQE.
    ring.submission().push(SocketQueue::inq(unsafe { Target::from_fd(server.as_fd()) }).user_data(1)).unwrap();
    // SAFETY: `client` stays open until this test has reaped the op's CQE.
    ring.submission().push(SocketQueue::outq(unsafe { Target::from_fd(client.as_fd()) }).user_data(2)).unwrap();
    let cqes = run(&mut ring, 2);
    if by_ud(&cqes, 1).res == errno(Errno::OPNOTSUPP) {
        return skip("socket uring_cmd needs Linux 6.7");
    }
    let (inq, outq) = (by_ud(&cqes, 1).res, by_ud(&cqes, 2).res);
    assert_eq!(inq as usize, rustix::io::ioctl_fionread(&server).unwrap() as usize, "SIOCINQ = FIONREAD");
    assert!(inq > 0 && outq > 0, "inq {inq} outq {outq}");
    // Every byte sent is unread at the server or unacknowledged at the client
    // (bytes received but not yet acked count in both).
    assert!(inq as usize <= sent && inq as usize + outq as usize >= sent, "inq {inq} outq {outq} sent {sent}");
    // Drain: both queues empty.
    server.set_nonblocking(false).unwrap();
    let mut sink = vec![0u8; sent];
    (&server).read_exact(&mut sink).unwrap();
    // The client's queue empties once the server's ACKs arrive: poll for it
    // through the ring (bounded), then both queues must read 0.
    let mut queues = (-1, -1);
    for _ in 0..200 {
        // SAFETY: `server` stays open until this test has reaped the op's CQE.
        ring.submission().push(SocketQueue::inq(unsafe { Target::from_fd(server.as_fd()) }).user_data(3)).unwrap();
        // SAFETY: `client` stays open until this test has reaped the op's CQE.
        ring.submission().push(SocketQueue::outq(unsafe { Target::from_fd(client.as_fd()) }).user_data(4)).unwrap();
        let cqes = run(&mut ring, 2);
        queues = (by_ud(&cqes, 3).res, by_ud(&cqes, 4).res);
        if queues == (0, 0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(queues, (0, 0));

    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let want: i32 = 65536;
    push!(
        ring,
        SetSockOpt::new(
            // SAFETY: `tcp` stays open until this test has reaped the op's CQE.
            unsafe { Target::from_fd(tcp.as_fd()) },
            linux_raw_sys::net::SOL_SOCKET,
            linux_raw_sys::net::SO_RCVBUF,
            (&want as *const i32).cast(),
            4
        )
        .user_data(5)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    let mut value: i32 = 0;
    push!(
        ring,
        GetSockOpt::new(
            // SAFETY: `tcp` stays open until this test has reaped the op's CQE.
            unsafe { Target::from_fd(tcp.as_fd()) },
            linux_raw_sys::net::SOL_SOCKET,
            linux_raw_sys::net::SO_RCVBUF,
            (&mut value as *mut i32).cast(),
            4
        )
        .user_data(6)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 4, "getsockopt returns the option length");
    let via_syscall = rustix::net::sockopt::socket_recv_buffer_size(&tcp).unwrap();
    assert_eq!(value as usize, via_syscall);
    assert_eq!(value, 2 * want, "the kernel doubles SO_RCVBUF");
}
