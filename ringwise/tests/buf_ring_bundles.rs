//! Bundles over a provided-buffer ring, against the running kernel: one
//! bundle receive takes several queued messages across several buffers, and
//! every byte and every buffer comes back to the application (to read and
//! recycle), so the group never runs dry; a bundle send sends several
//! buffers the application filled; incremental rings continue a buffer
//! across CQEs inside a bundle; a 0-byte bundle (end of stream) consumes
//! nothing. After each CQE, the buffers the library thinks the kernel holds
//! are exactly the kernel's own count (published tail minus the kernel's
//! head, `IORING_REGISTER_PBUF_STATUS`).

use ringwise::op::{RecvProvided, SendProvided, Target};
use ringwise::register::{BufRing, BufRingConfig, BundlePart};
use ringwise::{Cqe, Features, Ring};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

/// A ring, or the reason bundles cannot be tested here.
fn bundle_ring() -> Option<Ring> {
    let ring = Ring::new(8).unwrap();
    if !ring.features().contains(Features::RECVSEND_BUNDLE) {
        println!("skipped: this kernel has no bundles (IORING_FEAT_RECVSEND_BUNDLE, Linux 6.10)");
        return None;
    }
    Some(ring)
}

fn wait_one(ring: &mut Ring, user_data: u64) -> Cqe {
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!(cqe.user_data, user_data);
    cqe
}

fn recv_bundle(ring: &mut Ring, fd: BorrowedFd<'_>, bgid: u16) -> Cqe {
    // SAFETY: `fd` is borrowed for this call, which reaps the op's CQE
    // (`wait_one`) before it returns.
    let target = unsafe { Target::from_fd(fd) };
    ring.submission().push(RecvProvided::new(target, bgid).bundle().user_data(7)).unwrap();
    wait_one(ring, 7)
}

/// The library's count of buffers in the kernel equals the kernel's: with
/// no op in flight, every buffer it holds is in its ring, between its head
/// and the published tail.
fn assert_in_step(ring: &Ring, br: &BufRing) {
    let head = ring.buf_ring_head(br.bgid()).unwrap();
    let in_ring = br.published_tail().wrapping_sub(head) as usize;
    let in_kernel = br.buffers() as usize - br.held();
    assert_eq!(in_kernel, in_ring, "library and kernel disagree on the buffers in the ring (head {head})");
}

#[test]
fn bundle_recv_hands_back_every_buffer_in_order() {
    let Some(mut ring) = bundle_ring() else { return };
    let mut br = ring.register_buf_ring(BufRingConfig::new(3, 8, 16)).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut sent = Vec::new();
    let mut received = Vec::new();
    let (mut next_bid, mut bundles, mut multi) = (0u16, 0usize, 0usize);
    // 20 rounds of 3 messages (37 bytes, 3 buffers each): 60 buffers
    // through a group of 8, so a buffer that did not come back would dry it.
    for round in 0..20u8 {
        for (n, len) in [(0u8, 10usize), (1, 20), (2, 7)] {
            let msg = vec![round.wrapping_mul(3).wrapping_add(n); len];
            tx.write_all(&msg).unwrap();
            sent.extend_from_slice(&msg);
        }
        // The kernel may take the 37 bytes in more than one bundle (it
        // limits the first try of a bundle receive): take bundles until all
        // arrived.
        let mut got = 0;
        while got < 37 {
            let cqe = recv_bundle(&mut ring, rx.as_fd(), 3);
            assert!(cqe.res > 0, "round {round}: recv failed: {}", cqe.res);
            got += cqe.res as usize;
            // SAFETY: the kernel's CQE of the bundle receive above, which
            // picked from group 3; taken once.
            let bundle = unsafe { br.bundle(&cqe) }.expect("the bundle's buffers");
            assert_eq!(bundle.len(), cqe.res as usize);
            let parts = bundle.parts();
            for (k, p) in parts.iter().enumerate() {
                assert_eq!(p.bid, next_bid, "round {round}: consecutive ring entries");
                next_bid = (next_bid + 1) % 8;
                if k + 1 < parts.len() {
                    assert_eq!(p.len, 16, "round {round}: every buffer but the last is full");
                }
                assert!(p.returned);
            }
            bundles += 1;
            multi += (parts.len() > 1) as usize;
            received.extend_from_slice(&bundle.to_vec());
            let returned: Vec<u16> = bundle.returned().collect();
            for bid in returned {
                br.recycle(bid).expect("every buffer of the bundle is the application's");
            }
        }
        assert_eq!(br.held(), 0);
        assert_in_step(&ring, &br);
    }
    assert_eq!(received, sent, "every byte reachable, in order");
    assert!(multi > 0, "no CQE of {bundles} spanned several buffers: nothing was tested");
    ring.unregister_buf_ring(br).unwrap();
}

/// The scenario of the review: a bundle CQE given to `completion` (which
/// takes one buffer) is refused without losing anything, and `bundle` then
/// takes it.
#[test]
fn completion_refuses_a_bundle_without_losing_it() {
    let Some(mut ring) = bundle_ring() else { return };
    let mut br = ring.register_buf_ring(BufRingConfig::new(4, 4, 8)).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"0123456789abc").unwrap();
    let cqe = recv_bundle(&mut ring, rx.as_fd(), 4);
    assert_eq!(cqe.res, 13);
    // SAFETY: the kernel's CQE of the receive above (group 4); `completion`
    // returns None and takes nothing, so `bundle` is its one taking.
    unsafe {
        assert!(br.completion(&cqe).is_none(), "13 bytes do not fit one 8-byte buffer");
        let bundle = br.bundle(&cqe).expect("the bundle");
        assert_eq!(bundle.iter().collect::<Vec<_>>(), vec![(0, &b"01234567"[..]), (1, &b"89abc"[..])]);
    }
    br.recycle(0).unwrap();
    br.recycle(1).unwrap();
    assert_in_step(&ring, &br);
}

#[test]
fn bundle_send_from_filled_buffers() {
    let Some(mut ring) = bundle_ring() else { return };
    // Fewer buffers (4) than entries (8), ids 100..104, none in the kernel
    // at first: the application fills them.
    let config = BufRingConfig::new(5, 8, 32).buffers(4, 100).start_empty();
    let mut br = ring.register_buf_ring(config).unwrap();
    assert_eq!(br.held(), 4);
    assert_eq!(br.bids(), 100..104);
    let (tx, mut rx) = UnixStream::pair().unwrap();
    for round in 0..5 {
        br.provide(100, b"hello ").unwrap();
        br.provide(101, b"bundle ").unwrap();
        br.provide(102, b"world").unwrap();
        assert!(br.buffer_mut(100).is_none(), "a provided buffer is lent: no access");
        assert!(br.provide(100, b"x").is_err(), "nor a second provide");
        // SAFETY: `tx` is a socket this test owns; it stays open until the op's CQE is reaped below.
        let target = unsafe { Target::from_fd(tx.as_fd()) };
        ring.submission().push(SendProvided::new(target, 5).bundle().user_data(9)).unwrap();
        let cqe = wait_one(&mut ring, 9);
        assert_eq!(cqe.res, 18, "round {round}: the three buffers went out in one send");
        // SAFETY: the kernel's CQE of the bundle send above (group 5), taken once.
        let bundle = unsafe { br.bundle(&cqe) }.expect("the bundle");
        assert_eq!(
            bundle.parts(),
            [
                BundlePart { bid: 100, offset: 0, len: 6, returned: true },
                BundlePart { bid: 101, offset: 0, len: 7, returned: true },
                BundlePart { bid: 102, offset: 0, len: 5, returned: true },
            ]
        );
        let mut got = [0u8; 18];
        rx.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello bundle world");
        assert_eq!(br.held(), 4, "every sent buffer is back");
        assert_in_step(&ring, &br);
    }
    // A single (non-bundle) send from a provided buffer.
    br.provide(103, b"single").unwrap();
    // SAFETY: `tx` is a socket this test owns; it stays open until the op's CQE is reaped below.
    let target = unsafe { Target::from_fd(tx.as_fd()) };
    ring.submission().push(SendProvided::new(target, 5).user_data(10)).unwrap();
    let cqe = wait_one(&mut ring, 10);
    // SAFETY: the kernel's CQE of the send above (group 5), taken once.
    let (bid, data) = unsafe { br.completion(&cqe) }.expect("the buffer sent");
    assert_eq!((bid, data), (103, &b"single"[..]));
    let mut got = [0u8; 6];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"single");
    // Ids outside the ring are refused with a typed error.
    assert!(br.provide(99, b"x").is_err());
    assert!(br.provide(104, b"x").is_err());
    assert!(br.provide(100, &[0; 33]).is_err(), "longer than a buffer");
    ring.unregister_buf_ring(br).unwrap();
}

#[test]
fn bundle_recv_at_end_of_stream_consumes_nothing() {
    let Some(mut ring) = bundle_ring() else { return };
    let mut br = ring.register_buf_ring(BufRingConfig::new(6, 4, 8)).unwrap();
    let (tx, rx) = UnixStream::pair().unwrap();
    tx.shutdown(Shutdown::Write).unwrap();
    let cqe = recv_bundle(&mut ring, rx.as_fd(), 6);
    assert_eq!(cqe.res, 0);
    // SAFETY: the kernel's CQE of the receive above (group 6), taken once.
    if let Some(bundle) = unsafe { br.bundle(&cqe) } {
        assert!(bundle.parts().is_empty(), "0 bytes span no buffer");
    }
    assert_in_step(&ring, &br);
}

#[test]
fn incremental_bundle_continues_a_buffer() {
    let Some(mut ring) = bundle_ring() else { return };
    let mut br = match ring.register_buf_ring(BufRingConfig::new(8, 4, 16).incremental()) {
        Ok(br) => br,
        Err(e) if e.errno_name() == "EINVAL" => {
            println!("skipped: incremental buffer rings (IOU_PBUF_RING_INC, Linux 6.12) refused: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let data: Vec<u8> = (0..50u8).collect();
    tx.write_all(&data[..20]).unwrap();
    let cqe = recv_bundle(&mut ring, rx.as_fd(), 8);
    if cqe.res == -libc_einval() {
        println!("skipped: this kernel refuses bundles on incremental rings");
        return;
    }
    assert_eq!(cqe.res, 20);
    assert!(cqe.buf_more(), "the last buffer is only partly used");
    // SAFETY: the kernel's CQE of the receive above (group 8), taken once.
    let bundle = unsafe { br.bundle(&cqe) }.expect("the bundle");
    assert_eq!(
        bundle.parts(),
        [
            BundlePart { bid: 0, offset: 0, len: 16, returned: true },
            BundlePart { bid: 1, offset: 0, len: 4, returned: false },
        ]
    );
    let mut got = bundle.to_vec();
    br.recycle(0).unwrap();
    assert!(br.recycle(1).is_err(), "the kernel goes on filling buffer 1");
    assert_in_step(&ring, &br);

    tx.write_all(&data[20..]).unwrap();
    let cqe = recv_bundle(&mut ring, rx.as_fd(), 8);
    assert_eq!(cqe.res, 30);
    // SAFETY: as above.
    let bundle = unsafe { br.bundle(&cqe) }.expect("the bundle");
    assert_eq!(
        bundle.parts(),
        [
            BundlePart { bid: 1, offset: 4, len: 12, returned: true },
            BundlePart { bid: 2, offset: 0, len: 16, returned: true },
            BundlePart { bid: 3, offset: 0, len: 2, returned: false },
        ]
    );
    got.extend_from_slice(&bundle.to_vec());
    assert_eq!(got, data);
    for bid in [1, 2] {
        br.recycle(bid).unwrap();
    }
    assert_in_step(&ring, &br);
}

fn libc_einval() -> i32 {
    rustix::io::Errno::INVAL.raw_os_error()
}

/// The same end of stream without a bundle: whether or not the kernel names
/// a buffer in a 0-byte CQE (6.18 names none: it puts the buffer back),
/// the library's count stays the kernel's.
#[test]
fn single_recv_at_end_of_stream() {
    for incremental in [false, true] {
        let mut ring = Ring::new(8).unwrap();
        let config = BufRingConfig::new(9, 4, 8);
        let config = if incremental { config.incremental() } else { config };
        let mut br = match ring.register_buf_ring(config) {
            Ok(br) => br,
            Err(e) if incremental && e.errno_name() == "EINVAL" => {
                println!("skipped: incremental buffer rings (Linux 6.12) refused: {e}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let (tx, rx) = UnixStream::pair().unwrap();
        tx.shutdown(Shutdown::Write).unwrap();
        // SAFETY: `rx` is a socket this test owns; it stays open until the op's CQE is reaped below.
        let target = unsafe { Target::from_fd(rx.as_fd()) };
        ring.submission().push(RecvProvided::new(target, 9).user_data(3)).unwrap();
        let cqe = wait_one(&mut ring, 3);
        assert_eq!(cqe.res, 0);
        // SAFETY: the kernel's CQE of the receive above (group 9), taken once.
        if let Some((_, data)) = unsafe { br.completion(&cqe) } {
            assert!(data.is_empty());
        }
        assert_in_step(&ring, &br);
    }
}
