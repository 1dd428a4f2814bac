//! Vectored and message reads from a provided-buffer group (issue 9, gap
//! in `op/`): `Readv::provided` (`READV` + `IOSQE_BUFFER_SELECT`) and
//! `RecvMsg::provided` (`RECVMSG` + `IOSQE_BUFFER_SELECT`), against the
//! kernel: the data lands in the picked buffer, the CQE carries `F_BUFFER`
//! with its id, and the kernel's rule of one iovec is kept (and refused
//! otherwise, by `op::check` and by the kernel).

use ringwise::op::{self, Iovec, Limits, MsgHdr, Readv, RecvMsg, Target};
use ringwise::register::{BufRing, BufRingConfig};
use ringwise::{Error, Ring, SqeFlags};
use std::io::Write as _;
use std::net::UdpSocket;
use std::os::fd::{AsFd, AsRawFd};

const GROUP: u16 = 3;

/// A ring with a 4 x 64-byte buffer ring in group `GROUP`, or the reason
/// this kernel has none.
fn ring_with_group() -> Option<(Ring, BufRing)> {
    let mut ring = Ring::new(8).unwrap();
    match ring.register_buf_ring(BufRingConfig::new(GROUP, 4, 64)) {
        Ok(bufs) => Some((ring, bufs)),
        Err(e) => {
            eprintln!("skipped: no provided-buffer rings on this kernel (Linux 5.19): {e}");
            None
        }
    }
}

fn iovec(len: usize) -> Iovec {
    Iovec { iov_base: std::ptr::null_mut(), iov_len: len as _ }
}

#[test]
fn readv_from_a_buffer_group_lands_in_the_picked_buffer() {
    let Some((mut ring, mut bufs)) = ring_with_group() else { return };
    let (reader, mut writer) = std::io::pipe().unwrap();
    writer.write_all(b"vectored, provided").unwrap();
    // The kernel reads only iov_len (the cap), never iov_base.
    let iov = iovec(10);
    // SAFETY: `reader` stays open until the end of the test, after the CQE.
    let fd = unsafe { Target::from_fd(reader.as_fd()) };
    let op = Readv::provided(fd, &iov, GROUP).user_data(1);
    op::check(&op, &Limits::default()).expect("a one-iovec buffer-select readv is well formed");
    // SAFETY: `iov` outlives the CQE reaped below.
    unsafe { ring.submission().push_unchecked(op) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!((cqe.user_data, cqe.res), (1, 10), "iov_len capped the read");
    let bid = cqe.buffer_id().expect("F_BUFFER with the picked id");
    // SAFETY: the CQE was just posted by the kernel on this ring for a read
    // from this group, and is passed once.
    let (got_bid, data) = unsafe { bufs.completion(&cqe) }.expect("a buffer of the group");
    assert_eq!((got_bid, data), (bid, &b"vectored, "[..]));
    bufs.recycle(bid).unwrap();
}

#[test]
fn readv_from_a_buffer_group_takes_exactly_one_iovec() {
    let Some((mut ring, _bufs)) = ring_with_group() else { return };
    let (reader, mut writer) = std::io::pipe().unwrap();
    writer.write_all(b"x").unwrap();
    let iovs = [iovec(8), iovec(8)];
    // SAFETY: `reader` stays open until the end of the test, after the CQE.
    let fd = unsafe { Target::from_fd(reader.as_fd()) };
    // Two iovecs with BUFFER_SELECT, spelled by hand (group 0 here: the rule
    // is about the count).
    let op = Readv::new(fd, iovs.as_ptr(), 2).flags(SqeFlags::BUFFER_SELECT).user_data(2);
    match op::check(&op, &Limits::default()) {
        Err(Error::OpInvalid { op: "READV", why }) => assert!(why.contains("Readv::provided"), "{why}"),
        other => panic!("op::check must refuse a two-iovec buffer-select readv, got {other:?}"),
    }
    // SAFETY: `iovs` outlives the CQE reaped below.
    unsafe { ring.submission().push_unchecked(op) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!((cqe.user_data, cqe.res), (2, -22), "the kernel refuses it with EINVAL");
}

/// UDP, so the kernel also writes the source address into the caller's
/// name buffer while the payload goes to the provided buffer.
#[test]
fn recvmsg_from_a_buffer_group_lands_in_the_picked_buffer() {
    let Some((mut ring, mut bufs)) = ring_with_group() else { return };
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(b"a datagram", rx.local_addr().unwrap()).unwrap();
    let mut name = [0u8; 128];
    let mut iov = iovec(64);
    // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
    let mut msg: MsgHdr = unsafe { std::mem::zeroed() };
    msg.msg_name = name.as_mut_ptr().cast();
    msg.msg_namelen = name.len() as _;
    msg.msg_iov = (&mut iov as *mut Iovec).cast();
    msg.msg_iovlen = 1;
    // SAFETY: `rx` stays open until the end of the test, after the CQE.
    let fd = unsafe { Target::fd(rx.as_raw_fd()) };
    let op = RecvMsg::provided(fd, &mut msg, GROUP).user_data(3);
    op::check(&op, &Limits::default()).unwrap();
    // SAFETY: `msg`, `name` and `iov` stay valid and unmoved until the CQE.
    unsafe { ring.submission().push_unchecked(op) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!((cqe.user_data, cqe.res), (3, 10));
    assert!(cqe.buffer_id().is_some(), "F_BUFFER: {cqe:?}");
    // SAFETY: the kernel's CQE for a receive from this group, passed once.
    let (bid, data) = unsafe { bufs.completion(&cqe) }.expect("a buffer of the group");
    assert_eq!(data, b"a datagram");
    bufs.recycle(bid).unwrap();
    assert_eq!(msg.msg_namelen, 16, "a sockaddr_in was written to the caller's name buffer");
    let port = tx.local_addr().unwrap().port();
    assert_eq!(&name[2..4], &port.to_be_bytes(), "the source port");
}

#[test]
fn recvmsg_from_a_buffer_group_refuses_two_iovecs() {
    let Some((mut ring, _bufs)) = ring_with_group() else { return };
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(b"x", rx.local_addr().unwrap()).unwrap();
    let mut iovs = [iovec(8), iovec(8)];
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: MsgHdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iovs.as_mut_ptr().cast();
    msg.msg_iovlen = 2;
    // SAFETY: `rx` stays open until the end of the test, after the CQE.
    let fd = unsafe { Target::fd(rx.as_raw_fd()) };
    // SAFETY: `msg` and `iovs` outlive the CQE reaped below.
    unsafe { ring.submission().push_unchecked(RecvMsg::provided(fd, &mut msg, GROUP).user_data(4)) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!((cqe.user_data, cqe.res), (4, -22), "the kernel takes at most one iovec with a buffer group");
}

/// The SQEs carry what the kernel reads: the group in `buf_group`,
/// `BUFFER_SELECT`, one iovec for the readv.
#[test]
fn the_buffer_group_forms_encode_group_and_flag() {
    let iov = iovec(1);
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: MsgHdr = unsafe { std::mem::zeroed() };
    let mut sqe = ringwise::Sqe::default();
    ringwise::op::PrepareSqe::prepare(Readv::provided(Target::fixed(2), &iov, 9), &mut sqe);
    assert_eq!((sqe.len, sqe.buf_index, sqe.addr), (1, 9, &iov as *const Iovec as u64));
    let flags = SqeFlags::from_bits_retain(sqe.flags);
    assert!(flags.contains(SqeFlags::BUFFER_SELECT | SqeFlags::FIXED_FILE), "{flags:?}");
    ringwise::op::PrepareSqe::prepare(RecvMsg::provided(Target::fixed(2), &mut msg, 9), &mut sqe);
    assert_eq!((sqe.len, sqe.buf_index, sqe.opcode), (1, 9, op::opcode::RECVMSG));
    assert!(SqeFlags::from_bits_retain(sqe.flags).contains(SqeFlags::BUFFER_SELECT));
}
