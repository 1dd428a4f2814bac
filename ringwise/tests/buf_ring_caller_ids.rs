//! Provided-buffer rings whose buffers the caller counts and numbers:
//! fewer buffers than entries, ids not from 0, and buffers the application
//! fills itself (a send's source) while the kernel does not hold them.

use ringwise::op::{RecvProvided, SendProvided, Target};
use ringwise::register::BufRingConfig;
use ringwise::{Cqe, Error, Ring};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

fn wait_one(ring: &mut Ring) -> Cqe {
    ring.submit_and_wait(1).unwrap();
    ring.completion().next().unwrap()
}

#[test]
fn receives_pick_caller_numbered_buffers() {
    let mut ring = Ring::new(8).unwrap();
    // 3 buffers with ids 1000..1003 in a ring of 4 entries.
    let mut br = ring.register_buf_ring(BufRingConfig::new(2, 4, 32).buffers(3, 1000)).unwrap();
    assert_eq!((br.buffers(), br.entries(), br.held()), (3, 4, 0));
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut order = Vec::new();
    for i in 0..9u8 {
        tx.write_all(&[i; 5]).unwrap();
        // SAFETY: `rx` is a socket this test owns; it stays open until the op's CQE is reaped below.
        let target = unsafe { Target::from_fd(rx.as_fd()) };
        ring.submission().push(RecvProvided::new(target, 2).user_data(1)).unwrap();
        let cqe = wait_one(&mut ring);
        assert_eq!(cqe.res, 5);
        // SAFETY: the kernel's CQE of the receive above (group 2), taken once.
        let (bid, data) = unsafe { br.completion(&cqe) }.expect("a buffer of this ring");
        assert_eq!(data, [i; 5]);
        order.push(bid);
        br.recycle(bid).unwrap();
        assert_eq!(ring.buf_ring_head(2).unwrap(), i as u16 + 1);
    }
    assert_eq!(order, [1000, 1001, 1002, 1000, 1001, 1002, 1000, 1001, 1002]);
    // Ids outside 1000..1003 are refused.
    assert!(matches!(br.add(999), Err(Error::LengthMismatch { .. })));
    assert!(matches!(br.add(1003), Err(Error::LengthMismatch { .. })));
    ring.unregister_buf_ring(br).unwrap();
}

#[test]
fn filled_buffers_are_sent_and_stay_lent_until_the_cqe() {
    let mut ring = Ring::new(8).unwrap();
    let config = BufRingConfig::new(3, 2, 64).buffers(2, 40).start_empty();
    let mut br = ring.register_buf_ring(config).unwrap();
    assert_eq!(br.held(), 2);
    let (tx, mut rx) = UnixStream::pair().unwrap();
    // Fill in place, then lend 11 bytes of it.
    br.buffer_mut(41).unwrap()[..11].copy_from_slice(b"from a ring");
    br.add_len(41, 11).unwrap();
    br.advance();
    assert!(br.buffer(41).is_none() && br.buffer_mut(41).is_none(), "lent: no access");
    assert!(matches!(br.add(41), Err(Error::BufferInKernel { bgid: 3, bid: 41 })));
    // SAFETY: `tx` is a socket this test owns; it stays open until the op's CQE is reaped below.
    let target = unsafe { Target::from_fd(tx.as_fd()) };
    ring.submission().push(SendProvided::new(target, 3).user_data(2)).unwrap();
    let cqe = wait_one(&mut ring);
    assert_eq!(cqe.res, 11, "exactly the bytes added");
    // SAFETY: the kernel's CQE of the send above (group 3), taken once.
    let (bid, data) = unsafe { br.completion(&cqe) }.expect("the sent buffer");
    assert_eq!((bid, data), (41, &b"from a ring"[..]));
    assert!(br.buffer_mut(41).is_some(), "back with the application after the CQE");
    let mut got = [0u8; 11];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"from a ring");
    // Nothing to send: the group is empty, the kernel says ENOBUFS.
    // SAFETY: `tx` is a socket this test owns; it stays open until the op's CQE is reaped below.
    let target = unsafe { Target::from_fd(tx.as_fd()) };
    ring.submission().push(SendProvided::new(target, 3).user_data(3)).unwrap();
    assert_eq!(wait_one(&mut ring).res, -105, "ENOBUFS");
    // Bad lengths are typed errors.
    assert!(matches!(br.add_len(40, 0), Err(Error::InvalidArgument { .. })));
    assert!(matches!(br.add_len(40, 65), Err(Error::InvalidArgument { .. })));
}

#[test]
fn bad_counts_and_ids_are_refused_before_the_kernel() {
    let mut ring = Ring::new(4).unwrap();
    for config in [
        BufRingConfig::new(1, 4, 64).buffers(5, 0),
        BufRingConfig::new(1, 4, 64).buffers(0, 0),
        BufRingConfig::new(1, 4, 64).buffers(2, 65535),
    ] {
        let err = ring.register_buf_ring(config).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{config:?}: {err}");
    }
    // Id 65535 as the last one is fine.
    let br = ring.register_buf_ring(BufRingConfig::new(1, 4, 64).buffers(1, 65535)).unwrap();
    assert!(br.in_kernel(65535));
}
