//! A driver for one thread (`Driver::local`, `Local` sharing), against the
//! kernel: futures, sets, streams and fixed buffers on it, dropped futures
//! kept until their CQE; and the default driver's handles stay `Send` and
//! `Sync`. (The core rules run on both drivers in `owned_core`.)

use ringwise::op::PollEvents;
use ringwise::owned::{ops, Driver, FixedBufPool, Local, Op, OpSet, SharedFd, Stream, Threads};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

#[path = "common/counted.rs"]
mod counted;
use counted::Counted;

fn pair() -> (SharedFd, SharedFd) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    (SharedFd::from(a), SharedFd::from(b))
}

/// A file of `len` bytes where byte `i` is `i % 251`, removed when dropped.
struct TempFile {
    path: std::path::PathBuf,
    fd: SharedFd,
}

impl TempFile {
    fn new(name: &str, len: usize) -> TempFile {
        let path = std::env::temp_dir().join(format!("ringwise-owned-local-{name}-{}", std::process::id()));
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let fd = SharedFd::from(std::fs::File::open(&path).unwrap());
        TempFile { path, fd }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[test]
fn the_default_drivers_handles_stay_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Driver>();
    send_sync::<Driver<Threads>>();
    send::<Op<ops::Read<Vec<u8>>>>();
    send::<Stream<ops::PollMulti>>();
    send::<OpSet<ops::Read<Vec<u8>>>>();
    send_sync::<FixedBufPool>();
}

/// 32 reads in flight at once, awaited out of order on `block_on`: each
/// buffer comes back with its own block.
#[test]
fn many_futures_in_flight_each_get_their_own_data() {
    const BLOCK: usize = 512;
    let file = TempFile::new("futures", 64 * BLOCK);
    let driver = Driver::local(64).unwrap();
    let got = driver
        .block_on(async {
            let mut ops: Vec<_> = (0..32u64)
                .map(|i| driver.submit(ops::Read::at(&file.fd, vec![0u8; BLOCK], i * 2 * BLOCK as u64)).unwrap())
                .collect();
            let mut out = Vec::new();
            // Newest first: completion order does not matter to the handles.
            while let Some(op) = ops.pop() {
                out.push(op.await);
            }
            out
        })
        .unwrap();
    for (k, (res, buf)) in got.into_iter().enumerate() {
        let i = 31 - k;
        assert_eq!(res, Ok(BLOCK), "read {i}");
        let start = i * 2 * BLOCK;
        assert!(buf.iter().enumerate().all(|(j, &b)| b == ((start + j) % 251) as u8), "read {i} has its own block");
    }
    assert_eq!(driver.stats().in_flight, 0);
}

#[test]
fn a_dropped_future_mid_flight_is_kept_until_its_cqe() {
    let (a, b) = pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let driver = Driver::local(8).unwrap();
    driver
        .block_on(async {
            let mut recv = driver
                .submit(ops::Recv::new(&b, Counted { data: Vec::with_capacity(8), drops: drops.clone() }))
                .unwrap();
            // Polled once (its waker is registered), then dropped.
            let pending = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut recv).poll(cx).is_pending())).await;
            assert!(pending, "nothing was sent yet");
            drop(recv);
        })
        .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 0, "the kernel may still write the buffer");
    // Data sent now finds no recv, or the cancelled one: either way the
    // buffer is freed once, after the recv's CQE.
    let (sent, _) = driver.submit(ops::Send::new(&a, b"late".to_vec())).unwrap().wait().unwrap();
    assert_eq!(sent, Ok(4));
    let deadline = Instant::now() + Duration::from_secs(5);
    while driver.stats().in_flight > 0 && Instant::now() < deadline {
        driver.wait(1).unwrap();
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_set_on_a_local_driver_hands_every_op_back() {
    const BLOCK: usize = 256;
    let file = TempFile::new("set", 16 * BLOCK);
    let driver = Driver::local(16).unwrap();
    let mut set: OpSet<ops::Read<Vec<u8>>, Local> = OpSet::new(&driver);
    for i in 0..16u64 {
        set.submit(ops::Read::at(&file.fd, vec![0u8; BLOCK], i * BLOCK as u64), i).unwrap();
    }
    let mut seen = [false; 16];
    while !set.is_empty() {
        set.wait(1, |tag, (res, buf)| {
            assert_eq!(res, Ok(BLOCK));
            let start = tag as usize * BLOCK;
            assert_eq!(buf[0], (start % 251) as u8, "op {tag}");
            seen[tag as usize] = true;
        })
        .unwrap();
    }
    assert!(seen.iter().all(|&s| s));
}

#[test]
fn a_stream_on_a_local_driver_reports_each_readiness_and_ends_when_cancelled() {
    let (a, b) = pair();
    let driver = Driver::local(8).unwrap();
    let mut polls = driver.submit_stream(ops::PollMulti::new(&b, PollEvents::IN)).unwrap();
    let (sent, _) = driver.submit(ops::Send::new(&a, b"x".to_vec())).unwrap().wait().unwrap();
    assert_eq!(sent, Ok(1));
    let first = polls.wait_next().unwrap().expect("an item");
    assert!(first.unwrap().contains(PollEvents::IN));
    polls.cancel();
    // Whatever arrived before the cancel, then the end.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match polls.wait_next().unwrap() {
            None => break,
            Some(_) => assert!(Instant::now() < deadline, "the stream never ended"),
        }
    }
    assert_eq!(driver.stats().in_flight, 0);
}

/// Fixed buffers know the driver they were registered on, whichever its
/// sharing: a threaded driver refuses a local driver's buffer (its index
/// would name the other ring's table entry).
#[test]
fn fixed_buffers_of_a_local_driver_are_its_own() {
    let file = TempFile::new("fixed", 4096);
    let local = Driver::local(8).unwrap();
    let threaded = Driver::new(8).unwrap();
    assert_ne!(local.id(), threaded.id());
    let pool = FixedBufPool::register(&local, 2, 4096).unwrap();
    assert!(pool.is_registered_on(&local) && !pool.is_registered_on(&threaded));
    let refused = threaded.submit(ops::ReadFixed::at(&file.fd, pool.checkout().unwrap(), 0)).unwrap_err();
    assert!(matches!(refused.error, ringwise::Error::InvalidArgument { .. }), "{}", refused.error);
    drop(refused); // gives its buffer back to the pool
    let (n, buf) = local.submit(ops::ReadFixed::at(&file.fd, pool.checkout().unwrap(), 100)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(3996));
    assert_eq!(buf[0], 100);
    drop(buf);
    assert_eq!(pool.available(), 2, "both buffers back in the pool");
}

/// A driver's id stays its own while a pool registered on it lives, even
/// after the driver is gone: no driver made later gets it.
#[test]
fn a_pool_keeps_its_drivers_id_from_being_reused() {
    let first = Driver::local(4).unwrap();
    let pool = FixedBufPool::register(&first, 1, 4096).unwrap();
    let id = first.id();
    drop(first);
    for _ in 0..32 {
        let later = Driver::local(4).unwrap();
        assert_ne!(later.id(), id);
        assert!(!pool.is_registered_on(&later));
    }
}

/// A small waker-driven executor: ops polled from a hand-written future
/// are woken by the drive that moves their CQE (not only found by
/// `block_on`'s own loop).
#[test]
fn a_future_is_woken_by_the_drive_that_completes_it() {
    let (a, b) = pair();
    let driver = Driver::local(8).unwrap();
    let mut recv = driver.submit(ops::Recv::new(&b, Vec::with_capacity(8))).unwrap();
    let woken = Arc::new(AtomicUsize::new(0));
    struct Count(Arc<AtomicUsize>);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let waker = std::task::Waker::from(Arc::new(Count(woken.clone())));
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut recv).poll(&mut cx).is_pending());
    driver.submit(ops::Send::new(&a, b"ok".to_vec())).unwrap().wait().unwrap().0.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while woken.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        driver.wait(1).unwrap();
    }
    assert_eq!(woken.load(Ordering::SeqCst), 1, "the drive woke the future once");
    match Pin::new(&mut recv).poll(&mut cx) {
        Poll::Ready((n, buf)) => assert_eq!(&buf[..n.unwrap()], b"ok"),
        Poll::Pending => panic!("woken but not ready"),
    }
}

/// Provided buffers on a local driver: a multishot receive from a group of
/// 4 buffers carries 50 messages of 100 bytes (each buffer back to the
/// kernel when dropped, some after a trip to another thread: a `RingBuf`
/// stays `Send` whatever its driver), then the group unregisters.
#[test]
fn a_buffer_group_on_a_local_driver_recycles_its_buffers() {
    use ringwise::owned::BufGroup;
    use ringwise::register::BufRingConfig;
    use std::io::Write;
    let driver = Driver::local(16).unwrap();
    let group = BufGroup::register(&driver, BufRingConfig::new(7, 4, 64)).unwrap();
    let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
    let rx = SharedFd::from(rx);
    let mut stream = ops::RecvMulti::submit(&driver, &rx, &group).unwrap();
    let (mut sent, mut received) = (Vec::new(), Vec::new());
    for i in 0..50u32 {
        let msg: Vec<u8> = (0..100u32).map(|k| (i * 3 + k) as u8).collect();
        tx.write_all(&msg).unwrap();
        sent.extend_from_slice(&msg);
        while received.len() < sent.len() {
            let buf = stream.wait_next().unwrap().expect("stream armed").expect("a buffer").expect("data");
            received.extend_from_slice(&buf);
            if i % 10 == 0 {
                // Dropped on another thread: back to the kernel from there.
                std::thread::spawn(move || drop(buf)).join().unwrap();
            }
        }
        assert_eq!(group.lent(), 0);
    }
    assert_eq!(received, sent, "every byte, in order");
    drop(tx);
    assert!(matches!(stream.wait_next().unwrap(), Some(Ok(None))), "peer closed");
    assert!(stream.wait_next().unwrap().is_none());
    drop(stream);
    group.unregister(&driver).unwrap();
}
