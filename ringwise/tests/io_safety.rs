//! I/O safety of the op layer (issue 9, item 2 of the review): a safe op
//! acts only on files and rings its caller provably owns for the op's
//! lifetime.
//!
//! The scenarios the review ran: a stale descriptor number made a safe
//! `Ftruncate` truncate, and a safe `Shutdown` shut down, a file another
//! owner had opened under the same number; a safe `MsgRingData` with
//! `cqe_flags` posted `F_BUFFER` (a buffer the kernel still owns) and
//! `F_SKIP` (the CQE vanishes on a `CQE_MIXED` ring) into a receiver. A raw
//! number or a borrow no longer reaches a safe op (compile_fail doctests on
//! `op::Target`); these tests run the same scenarios through what remains
//! safe (a registered slot) and through the unsafe escape hatches.

use ringwise::op::{Ftruncate, MsgRingData, Shutdown, Target};
use ringwise::raw::abi;
use ringwise::register::files::FileSlot;
use ringwise::{Builder, Cqe16, CqeMixed, Error, Ring, Sqe64};
use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

fn tmp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ringwise-iosafety-{}-{name}", std::process::id()))
}

fn one_cqe(ring: &mut Ring) -> (u64, i32) {
    ring.submit_and_wait(1).unwrap();
    let c = ring.completion().next().expect("a CQE");
    (c.user_data, c.res)
}

/// The stale-number scenario, through the safe route that remains: the file
/// lives in the ring's table, so closing the caller's descriptor and another
/// owner reusing its number changes nothing; `Ftruncate` truncates the
/// table's file, never the new owner's.
#[test]
fn ftruncate_through_a_slot_never_reaches_the_file_that_reuses_the_number() {
    let mut ring = Ring::new(4).unwrap();
    let mut mine = std::fs::File::create(tmp("mine")).unwrap();
    mine.write_all(b"mine, to be truncated").unwrap();
    ring.register_files(&[FileSlot::from(&mine)]).unwrap();
    let mut other = std::fs::File::create(tmp("theirs")).unwrap();
    other.write_all(b"another owner's data").unwrap();
    // The number now names another owner's file. dup2 replaces the file
    // behind the number in one step, so no other test thread can take the
    // number in between (closing and reopening would race with them).
    let mut number = OwnedFd::from(mine);
    rustix::io::dup2(&other, &mut number).unwrap();
    drop(other);
    let theirs = std::fs::File::from(number);

    ring.submission().push(Ftruncate::new(Target::fixed(0), 4).user_data(1)).unwrap();
    assert_eq!(one_cqe(&mut ring), (1, 0));
    assert_eq!(theirs.metadata().unwrap().len(), 20, "the new owner's file is untouched");
    assert_eq!(std::fs::metadata(tmp("mine")).unwrap().len(), 4, "the registered file was truncated");
    let _ = std::fs::remove_file(tmp("mine"));
    let _ = std::fs::remove_file(tmp("theirs"));
}

/// The same for `Shutdown`: the registered socket is shut down (its peer
/// reads end of file); the socket that reuses the number is not.
#[test]
fn shutdown_through_a_slot_never_reaches_the_socket_that_reuses_the_number() {
    let mut ring = Ring::new(4).unwrap();
    let (mine, mut my_peer) = UnixStream::pair().unwrap();
    ring.register_files(&[FileSlot::from(&mine)]).unwrap();
    let (other, mut their_peer) = UnixStream::pair().unwrap();
    // The number now names another owner's socket, replaced in one step
    // (see the test above).
    let mut number = OwnedFd::from(mine);
    rustix::io::dup2(&other, &mut number).unwrap();
    drop(other);
    let _theirs = UnixStream::from(number);

    ring.submission().push(Shutdown::new(Target::fixed(0), 2 /* SHUT_RDWR */).user_data(1)).unwrap();
    assert_eq!(one_cqe(&mut ring), (1, 0));
    let mut b = [0u8; 1];
    assert_eq!(my_peer.read(&mut b).unwrap(), 0, "the registered socket was shut down");
    their_peer.set_nonblocking(true).unwrap();
    let r = their_peer.read(&mut b);
    assert!(r.is_err(), "the socket that reuses the number is still connected: {r:?}");
}

/// The unsafe route still works when its contract is kept.
#[test]
fn a_plain_descriptor_kept_open_works_through_the_unsafe_constructor() {
    let mut ring = Ring::new(4).unwrap();
    let mut file = std::fs::File::create(tmp("plain")).unwrap();
    file.write_all(b"0123456789").unwrap();
    // SAFETY: `file` stays open until the end of the test, after the CQE.
    let target = unsafe { Target::fd(file.as_raw_fd()) };
    assert_eq!((target.raw_fd(), target.fixed_index()), (Some(file.as_raw_fd()), None));
    ring.submission().push(Ftruncate::new(target, 3).user_data(1)).unwrap();
    assert_eq!(one_cqe(&mut ring), (1, 0));
    assert_eq!(file.metadata().unwrap().len(), 3);
    let _ = std::fs::remove_file(tmp("plain"));
}

/// Every CQE flag the kernel gives a meaning is refused by the safe setter,
/// with a message that names the unsafe way out.
#[test]
fn a_safe_message_refuses_every_kernel_cqe_flag() {
    let kernel_bits = [
        ("F_BUFFER", abi::IORING_CQE_F_BUFFER),
        ("F_MORE", abi::IORING_CQE_F_MORE),
        ("F_SOCK_NONEMPTY", abi::IORING_CQE_F_SOCK_NONEMPTY),
        ("F_NOTIF", abi::IORING_CQE_F_NOTIF),
        ("F_BUF_MORE", abi::IORING_CQE_F_BUF_MORE),
        ("F_SKIP", abi::IORING_CQE_F_SKIP),
        ("F_32", abi::IORING_CQE_F_32),
        ("buffer id 1", 1 << abi::IORING_CQE_BUFFER_SHIFT),
        ("buffer id 0x8000", 0x8000 << abi::IORING_CQE_BUFFER_SHIFT),
    ];
    for (name, bit) in kernel_bits {
        let err = MsgRingData::new(Target::fixed(0), 0, 0).cqe_flags(bit).err();
        match err {
            Some(Error::OpInvalid { op: "MSG_RING", why }) => {
                assert!(why.contains("cqe_flags_unchecked"), "{name}: {why}")
            }
            other => panic!("{name} ({bit:#x}) must be refused, got {other:?}"),
        }
        assert!(MsgRingData::new(Target::fixed(0), 0, 0).cqe_flags(bit | 0x40).is_err(), "{name} with a free bit");
    }
    for bit in 6..=14 {
        assert!(MsgRingData::new(Target::fixed(0), 0, 0).cqe_flags(1 << bit).is_ok(), "bit {bit} is free");
    }
    assert_eq!(MsgRingData::SAFE_CQE_FLAGS, 0x7fc0);
}

/// The forgery scenario end to end: a safe message reaches the receiver
/// (a ring fd kept open: the kernel refuses ring fds in a file table) with exactly
/// the free bits it set; the kernel bits only go through the unsafe setter,
/// and there they do what the review saw: `F_BUFFER` and an id the receiver
/// never handed out, and on a `CQE_MIXED` ring an `F_SKIP` CQE that the
/// completion queue drops as a filler.
#[test]
fn only_the_unsafe_setter_can_post_kernel_flags_into_a_receiver() {
    let mut sender = Ring::new(4).unwrap();
    let mut receiver = Builder::<Sqe64, CqeMixed>::new(4).build().unwrap();
    let table = sender.register_files(&[FileSlot::from(receiver.fd().expect("a ring with an fd"))]);
    assert!(table.is_err(), "the kernel refuses to register a ring fd in a file table: {table:?}");
    // SAFETY: `receiver` lives until the end of the test, after every
    // message's CQE is reaped.
    let to = unsafe { Target::from_fd(receiver.fd().expect("a ring with an fd")) };

    let safe = MsgRingData::new(to, 5, 1).cqe_flags(MsgRingData::SAFE_CQE_FLAGS).unwrap();
    sender.submission().push(safe.user_data(10)).unwrap();
    assert_eq!(one_cqe(&mut sender), (10, 0));
    receiver.submit_and_wait(1).unwrap();
    let got: Vec<_> = receiver.completion().drain().map(|c| (c.user_data, c.res, c.flags)).collect();
    assert_eq!(got, [(1, 5, MsgRingData::SAFE_CQE_FLAGS)], "the free bits pass, nothing else");

    let forged = abi::IORING_CQE_F_BUFFER | (3 << abi::IORING_CQE_BUFFER_SHIFT);
    // SAFETY: the receiver below only reads the flags; it has no buffer
    // group that could trust them.
    let op = unsafe { MsgRingData::new(to, 6, 2).cqe_flags_unchecked(forged) };
    sender.submission().push(op.user_data(11)).unwrap();
    assert_eq!(one_cqe(&mut sender), (11, 0));
    receiver.submit_and_wait(1).unwrap();
    let c = receiver.completion().drain().next().expect("the forged CQE");
    assert_eq!((c.user_data, c.buffer_id()), (2, Some(3)), "the unsafe setter passes F_BUFFER and the id");

    // SAFETY: as above; the test expects the CQE to be dropped.
    let op = unsafe { MsgRingData::new(to, 7, 3).cqe_flags_unchecked(abi::IORING_CQE_F_SKIP) };
    sender.submission().push(op.user_data(12)).unwrap();
    assert_eq!(one_cqe(&mut sender), (12, 0), "the message was posted");
    receiver.submit().unwrap();
    assert_eq!(receiver.completion().drain().count(), 0, "an F_SKIP CQE vanishes on a CQE_MIXED ring");
}

/// A message to a ring fd under the unsafe constructor, for the common case
/// of a receiver the sender does not register.
#[test]
fn a_message_to_a_ring_fd_kept_open() {
    let mut sender = Ring::new(4).unwrap();
    let mut receiver: Ring<Sqe64, Cqe16> = Ring::new(4).unwrap();
    // SAFETY: `receiver` lives until the end of the test, after the CQE.
    let to = unsafe { Target::from_fd(receiver.fd().expect("a ring with an fd")) };
    sender.submission().push(MsgRingData::new(to, 9, 0x99).user_data(1)).unwrap();
    assert_eq!(one_cqe(&mut sender), (1, 0));
    assert_eq!(one_cqe(&mut receiver), (0x99, 9));
}
