//! The tokio integration against the kernel: op futures complete on
//! `current_thread` and `multi_thread` runtimes (one ring per worker),
//! dropped futures are cancelled and their buffers freed once, runtimes
//! shut down promptly with ops in flight, and a ring outlives nothing it
//! should not.

use ringwise::owned::{ops, Driver, SharedFd};
use ringwise::Errno;
use ringwise_tokio::{current, Uring};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinSet;

// The drop-counting buffer the core's owned-I/O tests use.
#[path = "../../ringwise/tests/common/counted.rs"]
mod counted;
use counted::Counted;

/// An empty counted buffer of `cap` bytes.
fn counted(cap: usize, drops: &Arc<AtomicUsize>) -> Counted {
    Counted { data: Vec::with_capacity(cap), drops: drops.clone() }
}

const BLOCK: usize = 4096;

/// A temp file of `blocks` blocks, block `i` filled with `i % 251`.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, blocks: usize) -> TempFile {
        let path = std::env::temp_dir().join(format!("ringwise-tokio-{name}-{}", std::process::id()));
        let mut data = Vec::with_capacity(blocks * BLOCK);
        for i in 0..blocks {
            data.extend(std::iter::repeat_n((i % 251) as u8, BLOCK));
        }
        std::fs::write(&path, data).unwrap();
        TempFile(path)
    }
    fn open(&self) -> SharedFd {
        SharedFd::from(std::fs::File::open(&self.0).unwrap())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn pair() -> (SharedFd, SharedFd) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    (SharedFd::from(a), SharedFd::from(b))
}

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

fn multi_thread(workers: usize) -> Runtime {
    Builder::new_multi_thread().worker_threads(workers).enable_all().build().unwrap()
}

/// Read block `i` of `file` through the current thread's ring and check it.
async fn read_block(file: SharedFd, i: usize) -> i32 {
    let ring = current().unwrap();
    let (n, buf) = ring.submit(ops::Read::at(&file, Vec::with_capacity(BLOCK), (i * BLOCK) as u64)).unwrap().await;
    assert_eq!(n.unwrap(), BLOCK, "block {i}");
    assert!(buf.iter().all(|&b| b == (i % 251) as u8), "block {i} holds its pattern");
    ring.as_raw_fd()
}

#[test]
fn current_thread_runs_a_thousand_concurrent_reads() {
    let file = TempFile::new("thousand", 1000);
    let fd = file.open();
    let rt = current_thread();
    rt.block_on(async {
        let mut set = JoinSet::new();
        for i in 0..1000 {
            set.spawn(read_block(fd.clone(), i));
        }
        let mut rings = std::collections::HashSet::new();
        while let Some(ring) = set.join_next().await {
            rings.insert(ring.unwrap());
        }
        assert_eq!(rings.len(), 1, "one ring for the current_thread runtime");
        let ring = current().unwrap();
        assert_eq!(ring.stats().in_flight, 0);
        assert!(ring.stats().slots <= 1000, "the op table never outgrows the ops in flight");
    });
}

#[test]
fn more_ops_in_flight_than_cq_slots_all_complete() {
    // A 4-entry ring has 8 CQ slots: 200 reads in flight overflow the CQ,
    // and the overflowed CQEs must still reach their futures.
    let file = TempFile::new("overflow", 200);
    let fd = file.open();
    current_thread().block_on(async {
        let ring = Uring::new(4).unwrap();
        let mut set = JoinSet::new();
        for i in 0..200 {
            let op = ring.submit(ops::Read::at(&fd, Vec::with_capacity(BLOCK), (i * BLOCK) as u64)).unwrap();
            set.spawn(async move {
                let (n, buf) = op.await;
                assert_eq!(n.unwrap(), BLOCK);
                assert!(buf.iter().all(|&b| b == (i % 251) as u8));
            });
        }
        let all = async {
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(10), all).await.expect("every overflowed CQE arrived");
        assert_eq!(ring.stats().in_flight, 0);
    });
}

#[test]
fn current_thread_runs_timeouts_and_socket_ops() {
    current_thread().block_on(async {
        let ring = current().unwrap();
        let (a, b) = pair();
        let start = Instant::now();
        let t = ring.submit(ops::Timeout::after(Duration::from_millis(20))).unwrap();
        let recv = ring.submit(ops::Recv::new(&b, Vec::with_capacity(16))).unwrap();
        let (sent, _) = ring.submit(ops::Send::new(&a, b"ping".to_vec())).unwrap().await;
        assert_eq!(sent.unwrap(), 4);
        let (got, buf) = recv.await;
        assert_eq!(&buf[..got.unwrap()], b"ping");
        t.await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(20));
    });
}

/// Spin (not block: the peer task must get the other worker) until `n`
/// tasks arrived, so that each of them holds a different worker.
fn rendezvous(arrived: &AtomicUsize, n: usize) {
    arrived.fetch_add(1, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while arrived.load(Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "the tasks never ran on {n} workers at once");
        std::thread::yield_now();
    }
}

#[test]
fn multi_thread_has_one_ring_per_worker_and_ops_complete_on_each() {
    let file = TempFile::new("workers", 64);
    let rt = multi_thread(2);
    let arrived = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..2 {
        let (fd, arrived) = (file.open(), arrived.clone());
        // Spawned from outside the runtime: both go to the shared queue, and
        // the rendezvous keeps each on its own worker.
        tasks.push(rt.spawn(async move {
            rendezvous(&arrived, 2);
            let me = std::thread::current().id();
            let ring = current().unwrap();
            let mut set = JoinSet::new();
            for i in 0..64 {
                set.spawn(read_block(fd.clone(), (i + w) % 64));
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
            // Sequential ops from this task too.
            for i in 0..32 {
                let (n, _) =
                    ring.submit(ops::Read::at(&fd, Vec::with_capacity(BLOCK), (i * BLOCK) as u64)).unwrap().await;
                assert_eq!(n.unwrap(), BLOCK);
            }
            (me, ring.as_raw_fd())
        }));
    }
    let results: Vec<_> = rt.block_on(async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    assert_ne!(results[0].0, results[1].0, "the two tasks started on two workers");
    assert_ne!(results[0].1, results[1].1, "each worker has its own ring");
    let start = Instant::now();
    drop(rt);
    assert!(start.elapsed() < Duration::from_secs(2), "runtime drop took {:?}", start.elapsed());
}

#[test]
fn an_op_submitted_on_a_worker_completes_when_awaited_elsewhere() {
    let rt = multi_thread(2);
    let (a, b) = pair();
    rt.block_on(async {
        // The op goes to a worker's ring; its future is awaited on the
        // block_on thread, woken through its waker by that ring's drive task.
        let recv = tokio::spawn(async move { current().unwrap().submit(ops::Recv::new(&b, Vec::with_capacity(8))) })
            .await
            .unwrap()
            .unwrap();
        let sender = Uring::new(8).unwrap();
        let (sent, _) = sender.submit(ops::Send::new(&a, b"moved".to_vec())).unwrap().await;
        assert_eq!(sent.unwrap(), 5);
        let (got, buf) = tokio::time::timeout(Duration::from_secs(5), recv).await.expect("the recv completes");
        assert_eq!(&buf[..got.unwrap()], b"moved");
    });
}

#[test]
fn ops_pushed_from_a_plain_thread_are_submitted_by_the_drive_task() {
    let rt = current_thread();
    let (a, b) = pair();
    rt.block_on(async {
        let ring = Uring::new(8).unwrap();
        let recv = ring.submit(ops::Recv::new(&b, Vec::with_capacity(8))).unwrap();
        // Let the drive task submit the recv and go to sleep in the reactor.
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        let other = ring.clone();
        // Pushed by a thread tokio knows nothing of: only the drive waker
        // gets it to the kernel.
        let send =
            std::thread::spawn(move || other.submit(ops::Send::new(&a, b"far".to_vec())).unwrap()).join().unwrap();
        let (sent, _) = tokio::time::timeout(Duration::from_secs(5), send).await.expect("the send was submitted");
        assert_eq!(sent.unwrap(), 3);
        let (got, buf) = tokio::time::timeout(Duration::from_secs(5), recv).await.expect("the recv completes");
        assert_eq!(&buf[..got.unwrap()], b"far");
    });
}

#[test]
fn a_dropped_future_is_cancelled_and_its_buffer_freed_once() {
    let rt = current_thread();
    let drops = Arc::new(AtomicUsize::new(0));
    let (_a, b) = pair();
    let ring = rt.block_on(async {
        let ring = current().unwrap();
        let recv = ring.submit(ops::Recv::new(&b, counted(64, &drops))).unwrap();
        let timed_out = tokio::time::timeout(Duration::from_millis(20), recv).await;
        assert!(timed_out.is_err(), "nothing was sent");
        // The future was dropped mid-flight: the driver keeps the buffer
        // until the cancelled recv's CQE, then frees it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while ring.stats().in_flight != 0 || drops.load(Ordering::SeqCst) != 1 {
            assert!(Instant::now() < deadline, "the cancelled recv never came back: {:?}", ring.stats());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(ring.stats().leaked, 0);
        ring
    });
    let start = Instant::now();
    drop(rt);
    assert!(start.elapsed() < Duration::from_secs(1), "runtime drop took {:?}", start.elapsed());
    assert_eq!(drops.load(Ordering::SeqCst), 1, "freed exactly once");
    assert!(!ring.is_running());
}

/// Start `tasks` tasks each awaiting a recv that never gets data, then drop
/// the runtime: it must return promptly, every buffer must be freed once,
/// and the rings must be shut down.
fn runtime_drop_with_ops_in_flight(rt: Runtime, tasks: usize) {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut peers = Vec::new();
    let mut rings = Vec::new();
    let started = Arc::new(AtomicUsize::new(0));
    for _ in 0..tasks {
        let (a, b) = pair();
        peers.push(a);
        let (drops, started) = (drops.clone(), started.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        rt.spawn(async move {
            let ring = current().unwrap();
            let recv = ring.submit(ops::Recv::new(&b, counted(64, &drops))).unwrap();
            tx.send(ring).unwrap();
            started.fetch_add(1, Ordering::SeqCst);
            // Nothing is ever sent: this task is dropped with the runtime
            // (or sees ECANCELED if the ring shuts down first).
            let _ = recv.await;
        });
        rings.push(rx);
    }
    // Let the tasks start (a current_thread runtime runs them only inside
    // block_on) and the drive tasks submit everything.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
    let rings: Vec<Uring> = rings.into_iter().map(|rx| rx.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
    assert_eq!(started.load(Ordering::SeqCst), tasks);
    let in_flight: usize = {
        let mut fds: Vec<_> = rings.iter().map(|r| (r.as_raw_fd(), r.stats().in_flight)).collect();
        fds.sort();
        fds.dedup();
        fds.iter().map(|f| f.1).sum()
    };
    assert_eq!(in_flight, tasks, "every recv is in flight");
    let start = Instant::now();
    drop(rt);
    assert!(start.elapsed() < Duration::from_secs(2), "runtime drop took {:?}", start.elapsed());
    assert_eq!(drops.load(Ordering::SeqCst), tasks, "every buffer freed once");
    for ring in &rings {
        assert!(!ring.is_running());
        let stats = ring.stats();
        assert_eq!((stats.in_flight, stats.leaked), (0, 0));
        let refused = ring.submit(ops::Timeout::after(Duration::from_millis(1)));
        assert!(refused.is_err(), "a shut-down ring refuses new ops");
    }
}

#[test]
fn current_thread_runtime_drop_with_ops_in_flight_returns_promptly() {
    runtime_drop_with_ops_in_flight(current_thread(), 50);
}

#[test]
fn multi_thread_runtime_drop_with_ops_in_flight_returns_promptly() {
    runtime_drop_with_ops_in_flight(multi_thread(2), 50);
}

#[test]
fn dropping_the_uring_cancels_its_ops_and_closes_its_driver() {
    current_thread().block_on(async {
        let (_a, b) = pair();
        let ring = Uring::new(8).unwrap();
        let driver: Driver = ring.driver().clone();
        let recv = ring.submit(ops::Recv::new(&b, Vec::with_capacity(8))).unwrap();
        tokio::task::yield_now().await;
        drop(ring);
        let (res, _buf) = tokio::time::timeout(Duration::from_secs(5), recv).await.expect("shut down at drop");
        assert_eq!(res.unwrap_err(), Errno::CANCELED);
        assert!(driver.submit(ops::Timeout::after(Duration::from_millis(1))).is_err());
    });
}

#[test]
fn a_new_runtime_on_the_same_thread_gets_a_live_ring() {
    let file = TempFile::new("again", 4);
    let fd = file.open();
    let first = current_thread().block_on(async { current().unwrap() });
    // That runtime is gone: its ring was shut down with it.
    assert!(!first.is_running());
    current_thread().block_on(async {
        let ring = current().unwrap();
        assert!(ring.is_running());
        read_block(fd.clone(), 3).await;
    });
}

#[test]
fn outside_a_runtime_is_an_error_not_a_panic() {
    let err = current().unwrap_err();
    assert!(err.to_string().contains("tokio runtime"), "{err}");
    assert!(Uring::new(8).is_err());
    assert!(ringwise_tokio::Drive::new(Driver::new(8).unwrap()).is_err());
}

/// A `DEFER_TASKRUN` ring cannot be driven by fd readiness (its
/// completions are posted only when the submitting thread enters the
/// kernel): refused with a typed error instead of a run that never ends.
#[test]
fn defer_taskrun_rings_are_refused_not_stalled() {
    let rt = current_thread();
    rt.block_on(async {
        let builder = ringwise::Builder::new(8).single_issuer().defer_taskrun();
        match ringwise_tokio::Uring::with_builder(builder) {
            Ok(_) => panic!("a DEFER_TASKRUN ring was accepted"),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                assert!(e.to_string().contains("DEFER_TASKRUN"), "{e}");
            }
            // A kernel without DEFER_TASKRUN refuses the ring itself.
            Err(e) => println!("skipped: no DEFER_TASKRUN ring here: {e}"),
        }
        // SINGLE_ISSUER alone works on a current_thread runtime.
        let uring = ringwise_tokio::Uring::with_builder(ringwise::Builder::new(8).single_issuer()).unwrap();
        let res =
            uring.submit(ringwise::owned::ops::Timeout::after(std::time::Duration::from_millis(1))).unwrap().await;
        assert_eq!(res, Ok(()));
    });
}

// ------------------------------------------------- one LocalSet's ring

/// A `LocalUring`'s reads, from 200 local tasks at once: each gets its own
/// block, woken by the drive task on the same `LocalSet`.
#[test]
fn a_local_ring_runs_concurrent_reads_from_local_tasks() {
    let file = TempFile::new("local", 200);
    let fd = file.open();
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    let ring = rt.block_on(async { ringwise_tokio::LocalUring::local(64, &local) }).unwrap();
    local.block_on(&rt, async {
        let mut handles = Vec::new();
        for i in 0..200usize {
            let (ring, fd) = (ring.clone(), fd.clone());
            handles.push(tokio::task::spawn_local(async move {
                let (n, buf) =
                    ring.submit(ops::Read::at(&fd, Vec::with_capacity(BLOCK), (i * BLOCK) as u64)).unwrap().await;
                assert_eq!(n.unwrap(), BLOCK, "block {i}");
                assert!(buf.iter().all(|&b| b == (i % 251) as u8), "block {i} holds its pattern");
            }));
        }
        let all = async {
            for h in handles {
                h.await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(10), all).await.expect("every read completed");
        assert_eq!(ring.stats().in_flight, 0);
    });
}

/// Sockets on a local ring: a recv waits for the send of another task; a
/// recv whose future is dropped mid-flight is cancelled and its buffer freed
/// once; dropping the `LocalUring` shuts its driver down.
#[test]
fn a_local_ring_cancels_dropped_futures_and_shuts_down_with_its_last_handle() {
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    let ring = rt.block_on(async { ringwise_tokio::LocalUring::local(8, &local) }).unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let (a, b) = pair();
    local.block_on(&rt, async {
        let recv = ring.submit(ops::Recv::new(&b, Vec::with_capacity(16))).unwrap();
        let sender = {
            let (ring, a) = (ring.clone(), a.clone());
            tokio::task::spawn_local(async move { ring.submit(ops::Send::new(&a, b"local".to_vec())).unwrap().await })
        };
        let (got, buf) = tokio::time::timeout(Duration::from_secs(5), recv).await.expect("the recv completes");
        assert_eq!(&buf[..got.unwrap()], b"local");
        assert_eq!(sender.await.unwrap().0.unwrap(), 5);

        let recv = ring.submit(ops::Recv::new(&b, counted(64, &drops))).unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(20), recv).await.is_err(), "nothing was sent");
        let deadline = Instant::now() + Duration::from_secs(5);
        while ring.stats().in_flight != 0 || drops.load(Ordering::SeqCst) != 1 {
            assert!(Instant::now() < deadline, "the cancelled recv never came back: {:?}", ring.stats());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }

        let driver = ring.driver().clone();
        let pending = ring.submit(ops::Recv::new(&b, Vec::with_capacity(8))).unwrap();
        tokio::task::yield_now().await;
        drop(ring);
        let (res, _buf) = tokio::time::timeout(Duration::from_secs(5), pending).await.expect("shut down at drop");
        assert_eq!(res.unwrap_err(), Errno::CANCELED);
        assert!(driver.submit(ops::Timeout::after(Duration::from_millis(1))).is_err(), "a shut-down ring refuses ops");
    });
    assert_eq!(drops.load(Ordering::SeqCst), 1, "freed exactly once");
}
