//! The owned-I/O driver's core rules, against the kernel: results and
//! buffers come back, dropped handles are kept until their CQE and
//! cancelled, teardown reaps everything before freeing, nothing is freed
//! twice. The rules that do not depend on the sharing run on both a
//! default and a `Local` driver.

use ringwise::owned::{ops, Driver, Local, SharedFd, Threads};
use ringwise::Errno;
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

// The rules hold for both sharings of the driver: each rule's test runs
// on a `Driver<Threads>` (the default) and on a `Driver<Local>`.
#[path = "common/sharing.rs"]
mod sharing;
use sharing::MakeDriver;

/// `#[test]`s running `$rule::<Threads>` and `$rule::<Local>`.
macro_rules! on_both_drivers {
    ($($rule:ident => $threads:ident, $local:ident;)*) => {$(
        #[test]
        fn $threads() {
            $rule::<Threads>();
        }
        #[test]
        fn $local() {
            $rule::<Local>();
        }
    )*};
}

on_both_drivers! {
    read_and_write_give_back => read_and_write_give_the_buffer_back, local_read_and_write_give_the_buffer_back;
    dropped_recv_is_cancelled_and_freed_once_after_the_cqe
        => dropped_recv_is_cancelled_and_its_buffer_freed_once_after_the_cqe,
           local_dropped_recv_is_cancelled_and_its_buffer_freed_once_after_the_cqe;
    dropping_the_driver_cancels_and_reaps
        => dropping_the_driver_cancels_and_reaps_before_freeing, local_dropping_the_driver_cancels_and_reaps_before_freeing;
}

fn read_and_write_give_back<S: MakeDriver>() {
    let path = std::env::temp_dir().join(format!("ringwise-owned-core-{}-{}", std::process::id(), S::driver_name()));
    let file = std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
    let file = SharedFd::from(file);
    let driver = S::driver(8);
    let (n, buf) = driver.submit(ops::Write::at(&file, b"0123456789".to_vec(), 0)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(10));
    assert_eq!(buf, b"0123456789");
    let (n, buf) = driver.submit(ops::Read::at(&file, Vec::with_capacity(4), 3)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(4));
    assert_eq!(buf, b"3456", "the Vec's length covers what was read");
    std::fs::remove_file(&path).unwrap();
}

fn dropped_recv_is_cancelled_and_freed_once_after_the_cqe<S: MakeDriver>() {
    let (_a, b) = pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let driver = S::driver(8);
    let buf = Counted { data: Vec::with_capacity(64), drops: drops.clone() };
    let op = driver.submit(ops::Recv::new(&b, buf)).unwrap();
    driver.wait(0).unwrap();
    assert_eq!(driver.stats().in_flight, 1);
    drop(op);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "the kernel still has the buffer");
    // The cancel goes out at the next enter; the recv's CQE frees the buffer.
    let deadline = Instant::now() + Duration::from_secs(5);
    while driver.stats().in_flight > 0 && Instant::now() < deadline {
        driver.wait(1).unwrap();
    }
    assert_eq!(driver.stats().in_flight, 0);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn explicit_cancel_returns_the_buffer_with_the_result() {
    let (_a, b) = pair();
    let driver = Driver::new(8).unwrap();
    let op = driver.submit(ops::Recv::new(&b, vec![7u8; 8])).unwrap();
    driver.wait(0).unwrap();
    op.cancel();
    let (res, buf) = op.wait().unwrap();
    assert_eq!(res, Err(Errno::CANCELED));
    assert_eq!(buf, [7u8; 8], "the buffer comes back, untouched");
}

#[test]
fn cancel_after_data_arrived_keeps_the_data() {
    let (a, b) = pair();
    let driver = Driver::new(8).unwrap();
    let op = driver.submit(ops::Recv::new(&b, Vec::with_capacity(8))).unwrap();
    let (sent, _) = driver.submit(ops::Send::new(&a, b"data".to_vec())).unwrap().wait().unwrap();
    assert_eq!(sent, Ok(4));
    driver.wait(0).unwrap();
    op.cancel();
    let (res, buf) = op.wait().unwrap();
    assert_eq!(res, Ok(4), "the recv finished before the cancel: its result stands");
    assert_eq!(buf, b"data");
}

fn dropping_the_driver_cancels_and_reaps<S: MakeDriver>() {
    let (_a, b) = pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let driver = S::driver(8);
    let kept =
        driver.submit(ops::Recv::new(&b, Counted { data: Vec::with_capacity(8), drops: drops.clone() })).unwrap();
    let dropped =
        driver.submit(ops::Recv::new(&b, Counted { data: Vec::with_capacity(8), drops: drops.clone() })).unwrap();
    driver.wait(0).unwrap();
    drop(dropped);
    drop(driver);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the dropped handle's buffer was freed after its CQE");
    let (res, buf) = kept.wait().unwrap();
    assert_eq!(res, Err(Errno::CANCELED), "teardown cancelled the live op");
    drop(buf);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn a_closed_driver_refuses_new_ops_and_gives_them_back() {
    let (a, _b) = pair();
    let driver = Driver::new(8).unwrap();
    driver.shutdown();
    let refused = driver.submit(ops::Send::new(&a, b"x".to_vec())).unwrap_err();
    assert_eq!(refused.error.errno(), Errno::BADFD);
    assert_eq!(refused.into_inner().into_buf(), b"x");
}

#[test]
fn forgotten_handle_leaks_and_never_frees() {
    let (_a, b) = pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let driver = Driver::new(8).unwrap();
    let op = driver.submit(ops::Recv::new(&b, Counted { data: Vec::with_capacity(8), drops: drops.clone() })).unwrap();
    std::mem::forget(op);
    drop(driver);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "a forgotten op's buffer is leaked, never freed");
}

#[test]
fn futures_run_on_block_on() {
    let (a, b) = pair();
    let driver = Driver::new(8).unwrap();
    let got = driver
        .block_on(async {
            let recv = driver.submit(ops::Recv::new(&b, Vec::with_capacity(16))).unwrap();
            let (sent, _) = driver.submit(ops::Send::new(&a, b"async".to_vec())).unwrap().await;
            sent.unwrap();
            let (n, buf) = recv.await;
            buf[..n.unwrap()].to_vec()
        })
        .unwrap();
    assert_eq!(got, b"async");
}

/// Teardown with the kernel's own threads holding ops: an SQPOLL ring (the
/// SQ thread submits) and a splice blocked in an io-wq worker (an empty
/// pipe: splice cannot poll, so the worker blocks in it). Dropping the
/// driver must cancel both, reap them, and free each buffer once, promptly.
#[test]
fn teardown_with_sqpoll_and_io_wq_work_in_flight() {
    use ringwise::Builder;
    let drivers =
        [("sqpoll", Builder::new(8).sqpoll(Duration::from_millis(100)).build()), ("default", Builder::new(8).build())];
    for (name, ring) in drivers {
        let ring = match ring {
            Ok(ring) => ring,
            Err(e) => {
                println!("skipped: {name} ring: {e}");
                continue;
            }
        };
        let driver = Driver::from_ring(ring).unwrap();
        let (_a, b) = pair();
        let drops = Arc::new(AtomicUsize::new(0));
        let recv =
            driver.submit(ops::Recv::new(&b, Counted { data: Vec::with_capacity(8), drops: drops.clone() })).unwrap();
        drop(recv);
        // A splice out of an empty pipe runs in an io-wq worker until data
        // comes (none will).
        let (pipe_r, _pipe_w) = std::io::pipe().unwrap();
        let sink = SharedFd::from(std::fs::File::options().write(true).open("/dev/null").unwrap());
        let splice = driver
            .submit(ops::Splice::new(SharedFd::from(std::os::fd::OwnedFd::from(pipe_r)), None, &sink, None, 4096))
            .unwrap();
        let kept =
            driver.submit(ops::Recv::new(&b, Counted { data: Vec::with_capacity(8), drops: drops.clone() })).unwrap();
        driver.wait(0).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let start = Instant::now();
        drop(driver);
        let took = start.elapsed();
        assert!(took < Duration::from_secs(3), "{name}: teardown took {took:?}");
        assert_eq!(drops.load(Ordering::SeqCst), 1, "{name}: the dropped recv's buffer was freed once, after its CQE");
        let (res, buf) = kept.wait().unwrap();
        assert_eq!(res, Err(Errno::CANCELED), "{name}");
        drop(buf);
        assert_eq!(drops.load(Ordering::SeqCst), 2, "{name}");
        // Cancelled before a worker took it: ECANCELED; interrupted in the
        // worker: EINTR (the kernel says ERESTARTSYS, 512, which the owned
        // layer reports as the EINTR it means).
        let res = splice.wait().unwrap();
        assert!(matches!(res, Err(Errno::CANCELED) | Err(Errno::INTR)), "{name}: splice ended with {res:?}");
    }
}
