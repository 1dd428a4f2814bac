//! Owned provided-buffer rings against the kernel: received buffers come out
//! as owned `RingBuf`s that go back to the kernel when dropped, so a group
//! smaller than the traffic never runs dry; a group the application holds
//! entirely gives a typed `ENOBUFS`; bundles come back in order; dropped
//! streams, cancelled ops and dropped drivers return (or keep valid) every
//! buffer. After each scenario the buffers the library thinks the kernel
//! holds are the kernel's own count (published tail minus the kernel's
//! head, `IORING_REGISTER_PBUF_STATUS`, Linux 6.8).

use ringwise::owned::{ops, BufGroup, Driver, RingBuf, SharedFd};
use ringwise::register::BufRingConfig;
use ringwise::{Errno, Error, Features};
use std::io::Write;
use std::os::unix::net::UnixStream;

fn pair() -> (UnixStream, SharedFd) {
    let (tx, rx) = UnixStream::pair().unwrap();
    (tx, SharedFd::from(rx))
}

/// With no op holding a picked buffer, the kernel's count of buffers in the
/// ring equals the library's.
fn assert_in_step(driver: &Driver, group: &BufGroup) {
    let head = match driver.with_ring(|r| r.buf_ring_head(group.bgid())) {
        Ok(h) => h,
        Err(e) => {
            println!("skipped the kernel-side count: IORING_REGISTER_PBUF_STATUS (Linux 6.8) failed: {e}");
            return;
        }
    };
    let in_ring = group.published_tail().wrapping_sub(head) as usize;
    assert_eq!(group.buffers() as usize - group.held(), in_ring, "library and kernel disagree (head {head})");
}

fn has_bundles(driver: &Driver) -> bool {
    let yes = driver.with_ring(|r| r.features().contains(Features::RECVSEND_BUNDLE));
    if !yes {
        println!("skipped: this kernel has no bundles (IORING_FEAT_RECVSEND_BUNDLE, Linux 6.10)");
    }
    yes
}

#[test]
fn ring_buf_is_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RingBuf>();
    send_sync::<BufGroup>();
    send_sync::<ringwise::owned::RingBundle>();
}

#[test]
fn multishot_recv_of_100_messages_recycles_dropped_buffers() {
    let driver = Driver::new(16).unwrap();
    // 4 buffers of 64 bytes; 100 messages of 100 bytes: 10000 bytes, about
    // 200 buffers' worth through a group of 4.
    let group = BufGroup::register(&driver, BufRingConfig::new(1, 4, 64)).unwrap();
    let (mut tx, rx) = pair();
    let mut stream = ops::RecvMulti::submit(&driver, &rx, &group).unwrap();
    let (mut sent, mut received, mut items) = (Vec::new(), Vec::new(), 0usize);
    for i in 0..100u32 {
        let msg: Vec<u8> = (0..100u32).map(|k| (i * 7 + k) as u8).collect();
        tx.write_all(&msg).unwrap();
        sent.extend_from_slice(&msg);
        while received.len() < sent.len() {
            let buf = stream.wait_next().unwrap().expect("stream still armed").expect("a buffer");
            let buf = buf.expect("data, not end of stream");
            assert!(buf.len() <= 64);
            received.extend_from_slice(&buf);
            items += 1;
            // Dropped here: back to the kernel.
        }
        assert_eq!(group.lent(), 0);
    }
    assert_eq!(received, sent, "every byte, in order");
    assert!(items >= 100 * 2, "each 100-byte message needs 2 buffers of 64: {items} items");
    drop(tx);
    assert!(matches!(stream.wait_next().unwrap(), Some(Ok(None))), "peer closed: Ok(None)");
    assert!(stream.wait_next().unwrap().is_none(), "the stream ends after the final CQE");
    assert_eq!(group.held(), 0);
    assert_in_step(&driver, &group);
}

#[test]
fn enobufs_when_the_application_holds_every_buffer() {
    let driver = Driver::new(16).unwrap();
    let group = BufGroup::register(&driver, BufRingConfig::new(2, 4, 16)).unwrap();
    let (mut tx, rx) = pair();
    let data: Vec<u8> = (0..100u8).collect();
    tx.write_all(&data).unwrap();
    let mut stream = ops::RecvMulti::submit(&driver, &rx, &group).unwrap();
    let mut held = Vec::new();
    let err = loop {
        match stream.wait_next().unwrap().expect("an item before the end") {
            Ok(Some(buf)) => held.push(buf),
            Ok(None) => panic!("unexpected end of stream"),
            Err(e) => break e,
        }
    };
    assert_eq!(err, Errno::NOBUFS, "the group ran dry: a typed ENOBUFS item");
    assert!(stream.wait_next().unwrap().is_none(), "ENOBUFS ends the multishot");
    assert_eq!(held.len(), 4);
    assert_eq!((group.held(), group.lent()), (4, 4));
    assert_in_step(&driver, &group);
    let mut received: Vec<u8> = held.iter().flat_map(|b| b.iter().copied()).collect();
    drop(held);
    assert_eq!(group.held(), 0, "dropped RingBufs went back");
    // Resubmit: the rest of the data was left in the socket.
    let mut stream = ops::RecvMulti::submit(&driver, &rx, &group).unwrap();
    while received.len() < data.len() {
        let buf = stream.wait_next().unwrap().unwrap().unwrap().unwrap();
        received.extend_from_slice(&buf);
    }
    assert_eq!(received, data);
    stream.cancel();
    while let Some(item) = stream.wait_next().unwrap() {
        assert_eq!(item.unwrap_err(), Errno::CANCELED);
    }
    assert_eq!(group.held(), 0);
    assert_in_step(&driver, &group);
}

#[test]
fn a_group_with_no_buffers_gives_enobufs_then_works_once_provided() {
    let driver = Driver::new(8).unwrap();
    let group = BufGroup::register(&driver, BufRingConfig::new(3, 4, 32).start_empty()).unwrap();
    assert_eq!(group.held(), 4);
    let (mut tx, rx) = pair();
    tx.write_all(b"nobody home").unwrap();
    let res = ops::RecvProvided::submit(&driver, &rx, &group).unwrap().wait().unwrap();
    assert_eq!(res.unwrap_err(), Errno::NOBUFS);
    assert_in_step(&driver, &group);
    assert_eq!(group.provide_idle(), 4);
    assert_eq!(group.held(), 0);
    let buf = ops::RecvProvided::submit(&driver, &rx, &group).unwrap().wait().unwrap().unwrap().unwrap();
    assert_eq!(&buf[..], b"nobody home");
    assert_eq!(group.provide_idle(), 0, "a lent buffer is not provided again");
    drop(buf);
    assert_in_step(&driver, &group);
}

#[test]
fn one_shot_recv_eof_cancel_and_enotsock() {
    let driver = Driver::new(8).unwrap();
    let group = BufGroup::register(&driver, BufRingConfig::new(4, 2, 32)).unwrap();
    let (tx, rx) = pair();
    // Cancel before data: the real result, no buffer consumed.
    let op = ops::RecvProvided::submit(&driver, &rx, &group).unwrap();
    driver.wait(0).unwrap();
    op.cancel();
    assert_eq!(op.wait().unwrap().unwrap_err(), Errno::CANCELED);
    assert_eq!(group.held(), 0);
    // End of stream: Ok(None).
    drop(tx);
    assert!(ops::RecvProvided::submit(&driver, &rx, &group).unwrap().wait().unwrap().unwrap().is_none());
    assert_eq!(group.held(), 0);
    // Not a socket: the kernel's ENOTSOCK as the op's result.
    let file = SharedFd::from(std::fs::File::open("/dev/null").unwrap());
    let res = ops::RecvProvided::submit(&driver, &file, &group).unwrap().wait().unwrap();
    assert_eq!(res.unwrap_err(), Errno::NOTSOCK);
    assert_eq!(group.held(), 0);
    assert_in_step(&driver, &group);
}

#[test]
fn bundle_recv_returns_the_bytes_in_order_across_buffers() {
    let driver = Driver::new(8).unwrap();
    if !has_bundles(&driver) {
        return;
    }
    let group = BufGroup::register(&driver, BufRingConfig::new(5, 8, 16)).unwrap();
    let (mut tx, rx) = pair();
    let (mut sent, mut received, mut multi) = (Vec::new(), Vec::new(), 0usize);
    // 20 rounds of 37 bytes through 8 buffers of 16: dropped bundles must
    // come back or the group runs dry.
    for round in 0..20u8 {
        for (n, len) in [(0u8, 10usize), (1, 20), (2, 7)] {
            let msg = vec![round.wrapping_mul(3).wrapping_add(n); len];
            tx.write_all(&msg).unwrap();
            sent.extend_from_slice(&msg);
        }
        while received.len() < sent.len() {
            let bundle = ops::RecvBundle::submit(&driver, &rx, &group).unwrap().wait().unwrap().unwrap();
            let bundle = bundle.expect("data");
            let bufs = bundle.bufs();
            for (k, b) in bufs.iter().enumerate() {
                if k + 1 < bufs.len() {
                    assert_eq!(b.len(), 16, "every buffer but the last is full");
                }
            }
            multi += (bufs.len() > 1) as usize;
            assert_eq!(bundle.len(), bufs.iter().map(|b| b.len()).sum::<usize>());
            received.extend_from_slice(&bundle.to_vec());
        }
        assert_eq!(group.held(), 0);
    }
    assert_eq!(received, sent, "every byte, in order");
    assert!(multi > 0, "no bundle spanned several buffers: nothing was tested");
    assert_in_step(&driver, &group);
}

#[test]
fn multishot_bundles_hand_back_every_buffer() {
    let driver = Driver::new(8).unwrap();
    if !has_bundles(&driver) {
        return;
    }
    let group = BufGroup::register(&driver, BufRingConfig::new(6, 8, 16)).unwrap();
    let (mut tx, rx) = pair();
    let mut stream = ops::RecvBundleMulti::submit(&driver, &rx, &group).unwrap();
    let (mut sent, mut received) = (Vec::new(), Vec::new());
    for round in 0..30u32 {
        let msg: Vec<u8> = (0..50u32).map(|k| (round * 13 + k) as u8).collect();
        tx.write_all(&msg).unwrap();
        sent.extend_from_slice(&msg);
        while received.len() < sent.len() {
            let bundle = stream.wait_next().unwrap().expect("armed").expect("no error").expect("data");
            // Keep the buffers a moment, as separate values, in order.
            for buf in bundle.into_bufs() {
                received.extend_from_slice(&buf);
            }
        }
    }
    assert_eq!(received, sent);
    drop(tx);
    assert!(matches!(stream.wait_next().unwrap(), Some(Ok(None))));
    assert!(stream.wait_next().unwrap().is_none());
    assert_eq!(group.held(), 0);
    assert_in_step(&driver, &group);
}

#[test]
fn dropping_a_stream_mid_flight_returns_every_buffer() {
    let driver = Driver::new(8).unwrap();
    let group = BufGroup::register(&driver, BufRingConfig::new(7, 8, 16)).unwrap();
    let (mut tx, rx) = pair();
    let stream = ops::RecvMulti::submit(&driver, &rx, &group).unwrap();
    tx.write_all(&[1u8; 40]).unwrap();
    // Let the CQEs (3 buffers) arrive into the stream's queue, untaken:
    // the kernel's head says when it has picked them.
    let start = std::time::Instant::now();
    loop {
        driver.wait(0).unwrap();
        match driver.with_ring(|r| r.buf_ring_head(7)) {
            Ok(3) => break,
            Ok(_) => assert!(start.elapsed().as_secs() < 5, "the kernel never picked 3 buffers"),
            Err(e) => {
                println!("no IORING_REGISTER_PBUF_STATUS ({e}): waiting 50 ms instead");
                std::thread::sleep(std::time::Duration::from_millis(50));
                driver.wait(0).unwrap();
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(group.lent(), 0, "queued CQEs are not RingBufs yet");
    if let Ok(head) = driver.with_ring(|r| r.buf_ring_head(7)) {
        assert_eq!(group.published_tail().wrapping_sub(head), 5, "the kernel picked 3 of 8");
    }
    drop(stream);
    // The queued items went back at once; the cancel ends the op.
    while driver.stats().in_flight > 0 {
        driver.wait(1).unwrap();
    }
    assert_eq!((group.held(), group.lent()), (0, 0));
    assert_in_step(&driver, &group);
    // Data arriving for the orphan between drop and cancel goes back too.
    let stream = ops::RecvMulti::submit(&driver, &rx, &group).unwrap();
    driver.wait(0).unwrap();
    drop(stream);
    tx.write_all(&[2u8; 40]).unwrap();
    while driver.stats().in_flight > 0 {
        driver.wait(1).unwrap();
    }
    assert_eq!((group.held(), group.lent()), (0, 0));
    assert_in_step(&driver, &group);
}

#[test]
fn ring_bufs_outlive_the_driver_and_move_between_threads() {
    let driver = Driver::new(8).unwrap();
    let group = BufGroup::register(&driver, BufRingConfig::new(8, 4, 16)).unwrap();
    let (mut tx, rx) = pair();
    tx.write_all(b"kept past teardown").unwrap();
    let mut stream = ops::RecvMulti::submit(&driver, &rx, &group).unwrap();
    let a = stream.wait_next().unwrap().unwrap().unwrap().unwrap();
    let b = stream.wait_next().unwrap().unwrap().unwrap().unwrap();
    drop(stream);
    drop(driver);
    // The ring is closed; the buffers' memory lives with the group.
    let joined = std::thread::spawn(move || {
        let mut v = a.to_vec();
        v.extend_from_slice(&b);
        v
    })
    .join()
    .unwrap();
    assert_eq!(joined, b"kept past teardown");
    // Recycled into entries no kernel reads any more: harmless.
    assert_eq!(group.held(), 0);
}

#[test]
fn a_group_belongs_to_its_driver_and_unregisters_when_idle() {
    let driver = Driver::new(8).unwrap();
    let other = Driver::new(8).unwrap();
    let group = BufGroup::register(&driver, BufRingConfig::new(9, 4, 16)).unwrap();
    let (mut tx, rx) = pair();
    let err = ops::RecvProvided::submit(&other, &rx, &group).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    // Registering the same id again on the same driver: EEXIST from the kernel.
    assert!(BufGroup::register(&driver, BufRingConfig::new(9, 4, 16)).is_err());
    // Incremental rings are refused by the owned layer.
    let err = BufGroup::register(&driver, BufRingConfig::new(10, 4, 16).incremental()).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");

    tx.write_all(b"x").unwrap();
    let buf = ops::RecvProvided::submit(&driver, &rx, &group).unwrap().wait().unwrap().unwrap().unwrap();
    assert_eq!(group.users(), 2, "the RingBuf keeps the group");
    let err = group.clone().unregister(&driver).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    drop(buf);
    assert!(group.clone().unregister(&other).is_err(), "another driver cannot unregister it");
    group.unregister(&driver).unwrap();
    // The id is free again.
    let again = BufGroup::register(&driver, BufRingConfig::new(9, 4, 16)).unwrap();
    again.unregister(&driver).unwrap();
}

#[test]
fn a_multishot_op_resubmitted_after_its_stream_ended_picks_nothing() {
    let driver = Driver::new(8).unwrap();
    let group = BufGroup::register(&driver, BufRingConfig::new(11, 4, 16)).unwrap();
    let (tx, rx) = pair();
    let mut stream = ops::RecvMulti::submit(&driver, &rx, &group).unwrap();
    drop(tx);
    assert!(matches!(stream.wait_next().unwrap(), Some(Ok(None))));
    assert!(stream.wait_next().unwrap().is_none());
    let op = stream.into_inner().expect("the op back after its final CQE");
    // Even on the right driver, a second life is refused: the op cannot know
    // which ring it is submitted to.
    let mut again = driver.submit_stream(op).unwrap();
    assert_eq!(again.wait_next().unwrap().unwrap().unwrap_err(), Errno::INVAL);
    assert!(again.wait_next().unwrap().is_none());
    assert_eq!(group.held(), 0);
}

#[test]
fn read_provided_reads_a_file_and_sees_eof() {
    let path = std::env::temp_dir().join(format!("ringwise-owned-bufring-{}", std::process::id()));
    std::fs::write(&path, b"0123456789abcdefXYZ").unwrap();
    let file = SharedFd::from(std::fs::File::open(&path).unwrap());
    let driver = Driver::new(8).unwrap();
    let group = BufGroup::register(&driver, BufRingConfig::new(12, 2, 16)).unwrap();
    let a = ops::ReadProvided::submit_at(&driver, &file, &group, 0).unwrap().wait().unwrap().unwrap().unwrap();
    assert_eq!(&a[..], b"0123456789abcdef");
    let b = ops::ReadProvided::submit_at(&driver, &file, &group, 16).unwrap().wait().unwrap().unwrap().unwrap();
    assert_eq!(&b[..], b"XYZ");
    assert_eq!(group.held(), 2);
    let eof = ops::ReadProvided::submit_at(&driver, &file, &group, 19).unwrap().wait().unwrap();
    // The group is dry, but at end of file the kernel may answer either.
    assert!(matches!(eof, Ok(None) | Err(Errno::NOBUFS)), "{eof:?}");
    drop((a, b));
    let eof = ops::ReadProvided::submit_at(&driver, &file, &group, 19).unwrap().wait().unwrap();
    assert!(matches!(eof, Ok(None)), "{eof:?}");
    assert_eq!(group.held(), 0);
    assert_in_step(&driver, &group);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_ring_buf_can_be_sent_on_as_it_is() {
    let driver = Driver::new(8).unwrap();
    let group = BufGroup::register(&driver, BufRingConfig::new(13, 2, 32)).unwrap();
    let (mut tx, rx) = pair();
    let (echo_tx, echo_rx) = UnixStream::pair().unwrap();
    let echo_tx = SharedFd::from(echo_tx);
    tx.write_all(b"echo me").unwrap();
    let buf = ops::RecvProvided::submit(&driver, &rx, &group).unwrap().wait().unwrap().unwrap().unwrap();
    let (sent, buf) = driver.submit(ops::Send::new(&echo_tx, buf)).unwrap().wait().unwrap();
    assert_eq!(sent, Ok(7));
    assert_eq!(buf.bid(), 0);
    drop(buf);
    let mut got = [0u8; 7];
    std::io::Read::read_exact(&mut &echo_rx, &mut got).unwrap();
    assert_eq!(&got, b"echo me");
    assert_eq!(group.held(), 0);
}

#[test]
fn a_dropped_one_shot_recv_gives_its_buffer_back() {
    let driver = Driver::new(8).unwrap();
    let group = BufGroup::register(&driver, BufRingConfig::new(14, 2, 16)).unwrap();
    let (mut tx, rx) = pair();
    tx.write_all(b"late data").unwrap();
    let op = ops::RecvProvided::submit(&driver, &rx, &group).unwrap();
    // Submitted and (likely) completed, but the handle never takes it.
    driver.wait(1).unwrap();
    drop(op);
    let op = ops::RecvProvided::submit(&driver, &rx, &group).unwrap();
    driver.wait(0).unwrap();
    drop(op); // in flight: orphaned, cancelled
    while driver.stats().in_flight > 0 {
        driver.wait(1).unwrap();
    }
    assert_eq!((group.held(), group.lent()), (0, 0));
    assert_in_step(&driver, &group);
}

#[test]
fn streams_and_ops_work_as_futures() {
    let driver = Driver::new(8).unwrap();
    let group = BufGroup::register(&driver, BufRingConfig::new(15, 4, 8)).unwrap();
    let (mut tx, rx) = pair();
    let got = driver
        .block_on(async {
            let mut stream = ops::RecvMulti::submit(&driver, &rx, &group).unwrap();
            let mut got = Vec::new();
            for i in 0..10u8 {
                tx.write_all(&[i; 12]).unwrap();
                while got.len() < 12 * (i as usize + 1) {
                    let buf = stream.next().await.unwrap().unwrap().unwrap();
                    got.extend_from_slice(&buf);
                }
            }
            drop(tx);
            assert!(stream.next().await.unwrap().unwrap().is_none());
            got
        })
        .unwrap();
    let want: Vec<u8> = (0..10u8).flat_map(|i| [i; 12]).collect();
    assert_eq!(got, want);
    assert_eq!(group.held(), 0);
}
