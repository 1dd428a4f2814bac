//! The builders that close the gap to liburing 2.15's `io_uring_prep_*`
//! helpers, each checked for its effect on the running kernel:
//! `sendmsg_zc_fixed` (`SendMsgZc::fixed_buffer`), `cmd_getsockname`
//! (`GetSockName`), `cmd_discard` (`BlockDiscard`), and `open` /
//! `open_direct` (`OpenAt` with `AT_FDCWD`).

mod op_util;

use op_util::*;
use ringwise::op::{
    self, BlockDiscard, DirectSlot, GetSockName, MsgHdr, OFlags, OpenAt, SendMsgZc, Target, Write, AT_FDCWD,
};
use ringwise::Ring;
use rustix::io::Errno;
use std::ffi::CString;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;

fn errno(e: Errno) -> i32 {
    -e.raw_os_error()
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
    push!(ring, SendMsgZc::new(&client, &hdr).fixed_buffer(0).user_data(1));
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
    push!(ring, SendMsgZc::new(&client, &hdr).fixed_buffer(0).user_data(2));
    let cqe = zc_result(&mut ring);
    assert_eq!(cqe.res, errno(Errno::FAULT), "an iovec outside the registered buffer: {cqe:?}");
    // So is a buffer index past the table.
    push!(ring, SendMsgZc::new(&client, &hdr).fixed_buffer(1).user_data(3));
    let cqe = zc_result(&mut ring);
    assert_eq!(cqe.res, errno(Errno::FAULT), "buffer index 1 of a one-entry table: {cqe:?}");
    // ... and `check` says so before the push.
    let err = op::check(
        &SendMsgZc::new(&client, &hdr).fixed_buffer(1),
        &op::Limits { fixed_buffers: Some(1), ..Default::default() },
    )
    .unwrap_err();
    assert!(matches!(err, ringwise::Error::OpIndexOutOfRange { index: 1, len: 1, .. }), "{err}");
    // The same memory without the flag goes out.
    push!(ring, SendMsgZc::new(&client, &hdr).user_data(4));
    let cqes = run(&mut ring, 2);
    assert_eq!(cqes[0].res, 64, "{cqes:?}");
    let mut got = [0u8; 64];
    server.read_exact(&mut got).unwrap();
    assert_eq!(got, [0x5a; 64]);
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
    push!(ring, GetSockName::new(&client, local.as_mut_ptr(), &mut local_len).user_data(1));
    push!(ring, GetSockName::new(&client, peer.as_mut_ptr(), &mut peer_len).peer().user_data(2));
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
    push!(ring, GetSockName::new(&client, short.as_mut_ptr(), &mut short_len).user_data(3));
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    assert_eq!(short_len, local_len);
    assert_eq!(short, local[..4]);

    // getpeername on an unconnected socket: -ENOTCONN.
    let lone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    push!(ring, GetSockName::new(&lone, peer.as_mut_ptr(), &mut peer_len).peer().user_data(4));
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
    push!(ring, GetSockName::new(&a, buf.as_mut_ptr(), &mut len).user_data(1));
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
    ring.submission().push(BlockDiscard::new(&dev, 64 * 1024, 128 * 1024).user_data(1)).unwrap();
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
    ring.submission().push(BlockDiscard::new(&dev, 100, 4096).user_data(2)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::INVAL), "unaligned offset");
    let ro = File::open(&lo.dev).unwrap();
    ring.submission().push(BlockDiscard::new(&ro, 0, 4096).user_data(3)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::BADF), "a read-only device");
    // A regular file is no block device: its file system has no uring_cmd.
    let plain = File::open(&backing).unwrap();
    ring.submission().push(BlockDiscard::new(&plain, 0, 4096).user_data(4)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::OPNOTSUPP), "a regular file");
    dev.flush().unwrap();
}

/// `path` relative to the current directory (climbing to `/` first), so an
/// open that resolves it from anywhere but the cwd fails.
fn relative_to_cwd(path: &Path) -> CString {
    let cwd = std::env::current_dir().unwrap();
    let up = "../".repeat(cwd.components().count().saturating_sub(1));
    let rel = format!("{up}{}", path.strip_prefix("/").unwrap().display());
    assert!(!rel.starts_with('/'));
    CString::new(rel).unwrap()
}

#[test]
fn open_and_open_direct_resolve_from_the_current_directory() {
    let dir = TempDir::new("open-cwd");
    let mut ring = Ring::new(8).unwrap();

    // io_uring_prep_open: OPENAT with AT_FDCWD and a relative path.
    let path = dir.path().join("plain");
    let rel = relative_to_cwd(&path);
    let flags = OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC;
    push!(ring, OpenAt::new(AT_FDCWD, &rel, flags).mode(op::Mode::from_bits_retain(0o600)).user_data(1));
    let fd = run(&mut ring, 1)[0].res;
    assert!(fd >= 0, "open: {fd}");
    // SAFETY: the kernel just returned this descriptor to us.
    let file = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut f = File::from(file);
    f.write_all(b"via AT_FDCWD").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"via AT_FDCWD");

    // The same relative path from another directory fd names nothing (one
    // deep enough that the `..`s do not all stop at `/`).
    let deep = dir.path().join("a/b/c/d/e/f/g/h");
    std::fs::create_dir_all(&deep).unwrap();
    let elsewhere = File::open(&deep).unwrap();
    push!(ring, OpenAt::new(elsewhere.as_raw_fd(), &rel, OFlags::RDONLY).user_data(2));
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::NOENT));

    // io_uring_prep_open_direct: into slot 1 of the registered table.
    register_files(&ring, &[-1, -1]);
    let path = dir.path().join("direct");
    let rel = relative_to_cwd(&path);
    push!(
        ring,
        OpenAt::new(AT_FDCWD, &rel, OFlags::CREATE | OFlags::WRONLY)
            .mode(op::Mode::from_bits_retain(0o600))
            .direct(DirectSlot::Index(1))
            .user_data(3)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 0, "open_direct into slot 1");
    let data = *b"written through fixed slot 1";
    push!(ring, Write::new(Target::Fixed(1), data.as_ptr(), data.len() as u32).offset(0).user_data(4));
    assert_eq!(run(&mut ring, 1)[0].res, data.len() as i32);
    assert_eq!(std::fs::read(&path).unwrap(), data);
}

#[test]
fn new_builders_fill_the_sqe_fields_the_kernel_reads() {
    // The kernel rejects stray fields (ioprio, len, op_flags, file_index for
    // the block command), so check the encoding bytes too.
    let mut sqe = ringwise::Sqe::default();
    use ringwise::op::PrepareSqe;
    let mut len = 16u32;
    let mut buf = [0u8; 16];
    GetSockName::new(7, buf.as_mut_ptr(), &mut len).peer().user_data(9).prepare(&mut sqe);
    assert_eq!((sqe.opcode, sqe.fd, sqe.off), (op::opcode::URING_CMD, 7, 5));
    assert_eq!((sqe.addr, sqe.addr3, sqe.file_index), (buf.as_ptr() as u64, &mut len as *mut u32 as u64, 1));
    assert_eq!((sqe.ioprio, sqe.len, sqe.op_flags, sqe.user_data), (0, 0, 0, 9));

    BlockDiscard::new(Target::Fixed(3), 4096, 8192).prepare(&mut sqe);
    assert_eq!((sqe.opcode, sqe.fd, sqe.off, sqe.addr, sqe.addr3), (op::opcode::URING_CMD, 3, 0x1200, 4096, 8192));
    assert_eq!((sqe.ioprio, sqe.len, sqe.op_flags, sqe.file_index, sqe.user_data), (0, 0, 0, 0, 0));
    assert_eq!(sqe.flags, ringwise::SqeFlags::FIXED_FILE.bits());

    // SAFETY: msghdr is plain data; all-zero is valid.
    let hdr: MsgHdr = unsafe { std::mem::zeroed() };
    SendMsgZc::new(4, &hdr).fixed_buffer(2).prepare(&mut sqe);
    assert_eq!((sqe.opcode, sqe.buf_index, sqe.len), (op::opcode::SENDMSG_ZC, 2, 1));
    assert_eq!(sqe.ioprio as u32, linux_raw_sys::io_uring::IORING_RECVSEND_FIXED_BUF);
    SendMsgZc::new(4, &hdr).prepare(&mut sqe);
    assert_eq!((sqe.ioprio, sqe.buf_index), (0, 0));
}
