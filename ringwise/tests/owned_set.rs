//! `OpSet` against the kernel: many ops in flight on one driver, each
//! handed back once with its tag; several sets (and `Op` handles) on one
//! driver, each getting its own completions; a set dropped with ops in
//! flight leaves them to the driver until their CQEs (freed once, after
//! them); ops queued but never pushed are dropped at once; shutdown gives
//! queued ops back and cancels pushed ones; a zero-copy send's two CQEs.

mod common;

use common::{skip, supports};
use ringwise::op::opcode;
use ringwise::owned::{ops, Driver, Fd, OpSet, SharedFd};
use ringwise::Errno;
use std::collections::HashMap;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "common/counted.rs"]
mod counted;
use counted::Counted;

fn pair() -> (SharedFd, SharedFd) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    (SharedFd::from(a), SharedFd::from(b))
}

/// A file of `len` bytes, byte `i` being `i % 251`.
fn pattern_file(name: &str, len: usize) -> (SharedFd, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("ringwise-owned-set-{name}-{}", std::process::id()));
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    (SharedFd::from(std::fs::File::open(&path).unwrap()), path)
}

fn drain(driver: &Driver) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while driver.stats().in_flight > 0 && Instant::now() < deadline {
        driver.wait_timeout(1, Duration::from_millis(100)).unwrap();
    }
    assert_eq!(driver.stats().in_flight, 0, "the kernel gave every op back");
}

fn check_pattern(offset: usize, buf: &[u8]) {
    for (i, &b) in buf.iter().enumerate() {
        assert_eq!(b, ((offset + i) % 251) as u8, "byte {} of the read at {offset}", i);
    }
}

/// Submit 64 reads of 1 KiB of `fd` (read `i` at `i` KiB, tagged `i`) to
/// `reads` and take every one back, each checked against the pattern:
/// how many times each tag came back.
fn read_64_back(reads: &mut OpSet<ops::Read<Vec<u8>>>, fd: impl Into<Fd> + Clone) -> HashMap<u64, usize> {
    for i in 0..64u64 {
        reads.submit(ops::Read::at(fd.clone(), Vec::with_capacity(1024), i * 1024), i).unwrap();
    }
    assert_eq!(reads.len(), 64);
    let mut seen = HashMap::new();
    while !reads.is_empty() {
        reads
            .wait(1, |tag, (res, buf)| {
                assert_eq!(res, Ok(1024), "read {tag}");
                check_pattern(tag as usize * 1024, &buf);
                *seen.entry(tag).or_insert(0) += 1;
            })
            .unwrap();
    }
    seen
}

#[test]
fn every_op_comes_back_once_with_its_tag_when_the_set_outgrows_the_sq() {
    let (file, path) = pattern_file("tags", 64 * 1024);
    // 64 reads on an SQ of 8: the set pushes them in parts as room frees.
    let driver = Driver::new(8).unwrap();
    let mut reads = OpSet::new(&driver);
    let seen = read_64_back(&mut reads, &file);
    assert_eq!(seen.len(), 64);
    assert!(seen.values().all(|&n| n == 1), "each op handed back exactly once");
    assert_eq!(driver.stats().in_flight, 0);
    // The set's ops took no slot of the driver's table of their own.
    assert!(driver.stats().slots <= 2, "slots: {}", driver.stats().slots);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn sets_and_handles_on_one_driver_each_get_their_own_completions() {
    let (file, path) = pattern_file("two", 16 * 1024);
    let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let b = SharedFd::from(b);
    let driver = Driver::new(32).unwrap();
    let mut reads = OpSet::new(&driver);
    let mut recvs = OpSet::new(&driver);
    for i in 0..4u64 {
        recvs.submit(ops::Recv::new(&b, Vec::with_capacity(1)), 100 + i).unwrap();
    }
    recvs.flush().unwrap();
    for i in 0..16u64 {
        reads.submit(ops::Read::at(&file, Vec::with_capacity(1024), i * 1024), i).unwrap();
    }
    let handle = driver.submit(ops::Read::at(&file, Vec::with_capacity(10), 5)).unwrap();
    // The reads' CQEs and the handle's arrive while the recvs wait: the
    // log holds CQEs of two sets, and each set takes only its own.
    let mut got = 0;
    while got < 16 {
        got += reads
            .wait(1, |tag, (res, buf)| {
                assert!(tag < 16, "a read's tag, not a recv's: {tag}");
                assert_eq!(res, Ok(1024));
                check_pattern(tag as usize * 1024, &buf);
            })
            .unwrap();
    }
    let (res, buf) = handle.wait().unwrap();
    assert_eq!(res, Ok(10));
    check_pattern(5, &buf);
    assert_eq!(recvs.len(), 4, "the recvs are still waiting");
    a.write_all(b"wxyz").unwrap();
    let mut bytes = Vec::new();
    while bytes.len() < 4 {
        recvs
            .wait(1, |tag, (res, buf)| {
                assert!((100..104).contains(&tag), "a recv's tag: {tag}");
                assert_eq!(res, Ok(1));
                bytes.extend_from_slice(&buf);
            })
            .unwrap();
    }
    bytes.sort();
    assert_eq!(bytes, b"wxyz");
    assert!(reads.is_empty() && recvs.is_empty());
    assert_eq!(driver.stats().in_flight, 0);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_dropped_set_leaves_its_ops_to_the_driver_until_their_cqes() {
    let (file, path) = pattern_file("dropped", 8 * 1024);
    let (_a, b) = pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let driver = Driver::new(16).unwrap();
    let mut live = OpSet::new(&driver);
    let mut doomed = OpSet::new(&driver);
    for i in 0..4 {
        doomed.submit(ops::Recv::new(&b, Counted { data: Vec::with_capacity(8), drops: drops.clone() }), i).unwrap();
    }
    doomed.flush().unwrap();
    assert_eq!(driver.stats().in_flight, 4);
    drop(doomed);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "the kernel still has the buffers");
    // A live set runs while the dead one's cancelled recvs come back.
    for round in 0..4u64 {
        for i in 0..8u64 {
            live.submit(ops::Read::at(&file, Vec::with_capacity(1024), i * 1024), round * 8 + i).unwrap();
        }
        let mut got = 0;
        while got < 8 {
            got += live
                .wait(1, |tag, (res, buf)| {
                    assert_eq!(res, Ok(1024), "read {tag}");
                    check_pattern((tag % 8) as usize * 1024, &buf);
                })
                .unwrap();
        }
    }
    drain(&driver);
    assert_eq!(drops.load(Ordering::SeqCst), 4, "each buffer freed once, after its CQE");
    // The dead set's slot is free again, and a new set works.
    let mut again = OpSet::new(&driver);
    again.submit(ops::Read::at(&file, Vec::with_capacity(3), 7), 7).unwrap();
    let mut n = 0;
    while n == 0 {
        n = again
            .wait(1, |tag, (res, buf)| {
                assert_eq!((tag, res), (7, Ok(3)));
                check_pattern(7, &buf);
            })
            .unwrap();
    }
    assert!(driver.stats().slots <= 3, "slots: {}", driver.stats().slots);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_set_dropped_before_pushing_drops_its_ops_at_once() {
    let (_a, b) = pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let driver = Driver::new(8).unwrap();
    let mut set = OpSet::new(&driver);
    for i in 0..3 {
        set.submit(ops::Recv::new(&b, Counted { data: Vec::with_capacity(8), drops: drops.clone() }), i).unwrap();
    }
    drop(set);
    assert_eq!(drops.load(Ordering::SeqCst), 3, "never pushed: the kernel never had them");
    assert_eq!(driver.stats().in_flight, 0);
}

#[test]
fn shutdown_gives_queued_ops_back_and_cancels_pushed_ones() {
    let (_a, b) = pair();
    let driver = Driver::new(8).unwrap();
    let mut set = OpSet::new(&driver);
    set.submit(ops::Recv::new(&b, vec![1u8; 4]), 1).unwrap();
    set.flush().unwrap();
    set.submit(ops::Recv::new(&b, vec![2u8; 4]), 2).unwrap();
    let stats = driver.shutdown();
    assert_eq!((stats.in_flight, stats.leaked), (0, 0), "teardown reaped the pushed recv");
    // The pushed recv was cancelled: its result and buffer come back; the
    // queued one is refused with its buffer.
    let mut results = Vec::new();
    let waited = set.wait(2, |tag, (res, buf)| results.push((tag, res, buf)));
    assert!(waited.is_err(), "the queued op could not be pushed");
    let refused = set.take_refused();
    assert_eq!(refused.len(), 1);
    assert!(matches!(refused[0].error, ringwise::Error::RingUnusable { .. }), "{}", refused[0].error);
    set.wait(1, |tag, (res, buf)| results.push((tag, res, buf))).unwrap();
    assert_eq!(results.len(), 1);
    let (tag, res, buf) = &results[0];
    assert_eq!((*tag, *res, &buf[..]), (1, Err(Errno::CANCELED), &[1u8; 4][..]));
    assert!(set.is_empty());
}

#[test]
fn a_zero_copy_send_in_a_set_comes_back_once_after_its_notification() {
    if !supports(opcode::SEND_ZC) {
        return skip("SEND_ZC needs Linux 6.0");
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = SharedFd::from(TcpStream::connect(l.local_addr().unwrap()).unwrap());
    let (mut s, _) = l.accept().unwrap();
    let driver = Driver::new(8).unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut sends = OpSet::new(&driver);
    for i in 0..4u8 {
        let data = vec![b'a' + i; 100];
        sends.submit(ops::SendZc::new(&c, Counted { data, drops: drops.clone() }), u64::from(i)).unwrap();
    }
    let mut back = Vec::new();
    while !sends.is_empty() {
        sends
            .wait(1, |tag, (res, buf)| {
                assert_eq!(res, Ok(100), "send {tag}: the first CQE's result");
                assert_eq!(buf.data, vec![b'a' + tag as u8; 100]);
                back.push(tag);
            })
            .unwrap();
    }
    back.sort();
    assert_eq!(back, [0, 1, 2, 3], "each send handed back once");
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    let mut got = vec![0u8; 400];
    std::io::Read::read_exact(&mut s, &mut got).unwrap();
    assert_eq!(driver.stats().in_flight, 0);
}

/// While a set's ops are all that is in flight, its waits take the CQEs
/// straight from the CQ: a handle's op in flight (or its CQE waiting in
/// the CQ) turns that off, so the handle still gets its result; an ignored
/// CQE (of the cancel a dropped handle sends) passes through a set's wait
/// without being counted as one of its ops.
#[test]
fn a_lone_set_takes_cqes_straight_from_the_cq_and_never_a_handles() {
    let (file, path) = pattern_file("lone", 64 * 1024);
    let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let b = SharedFd::from(b);
    let driver = Driver::new(32).unwrap();
    let mut reads = OpSet::new(&driver);
    let mut next = 0u64;
    let mut read_some = |reads: &mut OpSet<ops::Read<Vec<u8>>>, n: u64| {
        for _ in 0..n {
            reads.submit(ops::Read::at(&file, Vec::with_capacity(512), next % 128 * 512), next % 128).unwrap();
            next += 1;
        }
        let mut got = 0;
        while got < n as usize {
            got += reads
                .wait(1, |tag, (res, buf)| {
                    assert_eq!(res, Ok(512), "read {tag}");
                    check_pattern(tag as usize * 512, &buf);
                })
                .unwrap();
        }
    };
    // Alone: the set's own CQEs, taken from the CQ.
    read_some(&mut reads, 16);
    assert_eq!(driver.stats().in_flight, 0);
    // A handle's recv in flight while the set reads; its CQE arrives
    // while the set waits, and must reach the handle.
    let recv = driver.submit(ops::Recv::new(&b, Vec::with_capacity(8))).unwrap();
    read_some(&mut reads, 16);
    a.write_all(b"ab").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !recv.is_done() {
        assert!(Instant::now() < deadline, "the recv's CQE never reached its handle");
        read_some(&mut reads, 4);
    }
    let Ok((res, buf)) = recv.try_take() else { panic!("the recv is done, its output ready") };
    assert_eq!((res, &buf[..]), (Ok(2), &b"ab"[..]));
    assert_eq!(driver.stats().in_flight, 0);
    // A dropped handle: the driver cancels its recv (an ignored CQE comes
    // with the cancel's) and keeps it until its own CQE.
    drop(driver.submit(ops::Recv::new(&b, Vec::with_capacity(8))).unwrap());
    for _ in 0..8 {
        read_some(&mut reads, 8);
    }
    drain(&driver);
    // Counts still exact: 16 reads pushed, 16 in flight.
    for i in 0..16u64 {
        reads.submit(ops::Read::at(&file, Vec::with_capacity(512), i * 512), i).unwrap();
    }
    reads.flush().unwrap();
    assert_eq!(driver.stats().in_flight, 16, "in flight: the 16 reads, no more and no less");
    let mut got = 0;
    while got < 16 {
        got += reads
            .wait(1, |tag, (res, buf)| {
                assert_eq!(res, Ok(512));
                check_pattern(tag as usize * 512, &buf);
            })
            .unwrap();
    }
    assert_eq!(driver.stats().in_flight, 0);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn reads_on_a_static_fd_come_back_and_leave_it_open() {
    let (_, path) = pattern_file("static", 64 * 1024);
    // A file open for the rest of the test process: its `BorrowedFd<'static>`
    // is an `Fd` with no owner to clone per op.
    let file: &'static std::fs::File = Box::leak(Box::new(std::fs::File::open(&path).unwrap()));
    let fd = Fd::from(file.as_fd());
    let driver = Driver::new(16).unwrap();
    let mut reads = OpSet::new(&driver);
    let seen = read_64_back(&mut reads, fd);
    assert_eq!(seen.len(), 64);
    assert!(seen.values().all(|&n| n == 1), "each op handed back exactly once");
    // Completing the ops closed nothing: the file still reads.
    let mut byte = [0u8; 1];
    std::os::unix::fs::FileExt::read_at(file, &mut byte, 300).unwrap();
    assert_eq!(byte[0], (300 % 251) as u8);
    std::fs::remove_file(path).unwrap();
}
