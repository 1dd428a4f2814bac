//! Heap allocations per owned op in steady state, counted by a global
//! allocator (this test binary only): after a warm-up (the op table has
//! grown to the most ops in flight), submitting an op and taking its output
//! allocates nothing, synchronously, through an `OpSet` and through
//! `Driver::block_on`, for reads, writes, receives and sends, cancelled or
//! not. A timeout allocates exactly its boxed timespec.

use ringwise::owned::{ops, Driver, OpSet, SharedFd};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

/// Counts the allocations (and reallocations) of the thread that makes
/// them, so that the test harness's other threads do not count.
struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: forwards every call to the system allocator unchanged; the
// counter is a const-initialized thread-local without a destructor, which
// allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|n| n.get())
}

/// Allocations `f` makes on this thread.
fn count(f: impl FnOnce()) -> u64 {
    let before = allocs();
    f();
    allocs() - before
}

const N: u64 = 2000;

struct Fixture {
    driver: Driver,
    file: SharedFd,
    a: SharedFd,
    b: SharedFd,
    path: std::path::PathBuf,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let path = std::env::temp_dir().join(format!("ringwise-owned-alloc-{name}-{}", std::process::id()));
        std::fs::write(&path, vec![0x5a; 4096]).unwrap();
        let file = std::fs::File::options().read(true).write(true).open(&path).unwrap();
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        Fixture { driver: Driver::new(64).unwrap(), file: SharedFd::from(file), a: a.into(), b: b.into(), path }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One round of the four buffer ops, submit + wait each, buffers reused.
fn sync_round(f: &Fixture, bufs: &mut [Option<Vec<u8>>; 4]) {
    let d = &f.driver;
    let w = bufs[0].take().unwrap();
    let (n, w) = d.submit(ops::Write::at(&f.file, w, 0)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(64));
    let mut r = bufs[1].take().unwrap();
    r.clear();
    let (n, r) = d.submit(ops::Read::at(&f.file, r, 0)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(64));
    let s = bufs[2].take().unwrap();
    let (n, s) = d.submit(ops::Send::new(&f.a, s)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(64));
    let mut v = bufs[3].take().unwrap();
    v.clear();
    let (n, v) = d.submit(ops::Recv::new(&f.b, v)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(64));
    *bufs = [Some(w), Some(r), Some(s), Some(v)];
}

fn buffers() -> [Option<Vec<u8>>; 4] {
    [Some(vec![1u8; 64]), Some(Vec::with_capacity(64)), Some(vec![2u8; 64]), Some(Vec::with_capacity(64))]
}

#[test]
fn sync_read_write_send_recv_allocate_nothing_per_op() {
    let f = Fixture::new("sync");
    let mut bufs = buffers();
    for _ in 0..100 {
        sync_round(&f, &mut bufs);
    }
    let n = count(|| {
        for _ in 0..N {
            sync_round(&f, &mut bufs);
        }
    });
    eprintln!("sync: {n} allocations in {} ops", 4 * N);
    assert_eq!(n, 0, "allocations per op in steady state (sync submit + wait)");
}

#[test]
fn ops_in_flight_together_allocate_nothing_per_op() {
    // Several ops in flight at once, taken by `Driver::wait` + `try_take`.
    let f = Fixture::new("batch");
    let mut bufs: Vec<Vec<u8>> = (0..8).map(|_| Vec::with_capacity(64)).collect();
    let round = |bufs: &mut Vec<Vec<u8>>| {
        let d = &f.driver;
        let recvs: [_; 4] = std::array::from_fn(|_| d.submit(ops::Recv::new(&f.b, bufs.pop().unwrap())).unwrap());
        let reads: [_; 4] = std::array::from_fn(|_| d.submit(ops::Read::at(&f.file, bufs.pop().unwrap(), 0)).unwrap());
        // One send of 4 x 16 bytes could land in one recv: send 4 messages
        // whose receipt order does not matter, and cancel what is left.
        let mut sent = [0u8; 16];
        sent[0] = 1;
        let (n, _) = d.submit(ops::Send::new(&f.a, Box::<[u8]>::from(&sent[..]))).unwrap().wait().unwrap();
        assert_eq!(n, Ok(16));
        for r in &recvs {
            r.cancel();
        }
        d.wait(0).unwrap();
        for op in recvs {
            let (_, mut b) = op.wait().unwrap();
            b.clear();
            bufs.push(b);
        }
        for op in reads {
            let (n, mut b) = op.wait().unwrap();
            assert_eq!(n, Ok(64));
            b.clear();
            bufs.push(b);
        }
    };
    for _ in 0..50 {
        round(&mut bufs);
    }
    // The Box<[u8]> of each send is one allocation the test makes itself;
    // count it apart.
    let n = count(|| {
        for _ in 0..N / 4 {
            round(&mut bufs);
        }
    });
    let own = N / 4;
    eprintln!("batch: {} allocations besides the test's own in {} ops", n - own, 9 * (N / 4));
    assert_eq!(n, own, "only the test's own send buffer allocates (one per round)");
}

#[test]
fn a_timeout_allocates_its_timespec_only() {
    let f = Fixture::new("timeout");
    let d = &f.driver;
    for _ in 0..100 {
        d.submit(ops::Timeout::after(Duration::ZERO)).unwrap().wait().unwrap().unwrap();
    }
    let n = count(|| {
        for _ in 0..N {
            d.submit(ops::Timeout::after(Duration::ZERO)).unwrap().wait().unwrap().unwrap();
        }
    });
    eprintln!("timeout: {n} allocations in {N} ops");
    assert_eq!(n, N, "exactly one allocation per timeout: its boxed timespec");
}

#[test]
fn cancelled_ops_allocate_nothing_per_op() {
    let f = Fixture::new("cancel");
    let d = &f.driver;
    let mut buf = Some(vec![0u8; 64]);
    let mut round = || {
        let op = d.submit(ops::Recv::new(&f.b, buf.take().unwrap())).unwrap();
        d.wait(0).unwrap();
        op.cancel();
        let (res, b) = op.wait().unwrap();
        assert_eq!(res, Err(ringwise::Errno::CANCELED));
        buf = Some(b);
    };
    for _ in 0..100 {
        round();
    }
    let n = count(|| {
        for _ in 0..N {
            round();
        }
    });
    eprintln!("cancel: {n} allocations in {N} cancelled ops");
    assert_eq!(n, 0, "allocations per cancelled op");
}

#[test]
fn dropped_handles_allocations_per_op() {
    // A dropped handle moves its op into the driver's table (a Box of the
    // orphan): at least that one allocation. This measures it and holds it
    // to that bound.
    let f = Fixture::new("dropped");
    let d = &f.driver;
    let round = || {
        let op = d.submit(ops::Recv::new(&f.b, vec![0u8; 64])).unwrap();
        d.wait(0).unwrap();
        drop(op);
        while d.stats().in_flight > 0 {
            d.wait(1).unwrap();
        }
    };
    for _ in 0..100 {
        round();
    }
    // The test allocates the 64-byte buffer itself each round.
    let n = count(|| {
        for _ in 0..N {
            round();
        }
    });
    let per_op = (n - N) as f64 / N as f64;
    eprintln!("dropped handle: {per_op:.2} allocations per op besides the buffer");
    assert!(n - N <= N, "a dropped handle allocates only the orphan's box: {per_op} per op");
}

/// One round of the four buffer ops as futures, in flight at once and
/// awaited in turn.
async fn async_round(f: &Fixture, bufs: &mut [Option<Vec<u8>>; 4]) {
    let d = &f.driver;
    let mut r = bufs[1].take().unwrap();
    r.clear();
    let mut v = bufs[3].take().unwrap();
    v.clear();
    let recv = d.submit(ops::Recv::new(&f.b, v)).unwrap();
    let read = d.submit(ops::Read::at(&f.file, r, 0)).unwrap();
    let write = d.submit(ops::Write::at(&f.file, bufs[0].take().unwrap(), 0)).unwrap();
    let send = d.submit(ops::Send::new(&f.a, bufs[2].take().unwrap())).unwrap();
    let (n0, w) = write.await;
    let (n2, s) = send.await;
    let (n1, r) = read.await;
    let (n3, v) = recv.await;
    assert_eq!((n0, n1, n2, n3), (Ok(64), Ok(64), Ok(64), Ok(64)));
    *bufs = [Some(w), Some(r), Some(s), Some(v)];
}

#[test]
fn futures_on_block_on_allocate_nothing_per_op() {
    let f = Fixture::new("async");
    let d = &f.driver;
    let n = d
        .block_on(async {
            let mut bufs = buffers();
            for _ in 0..100 {
                async_round(&f, &mut bufs).await;
            }
            let before = allocs();
            for _ in 0..N {
                async_round(&f, &mut bufs).await;
            }
            allocs() - before
        })
        .unwrap();
    // And the cost of one block_on call itself.
    for _ in 0..10 {
        d.block_on(async {}).unwrap();
    }
    let per_call = count(|| d.block_on(async {}).unwrap());
    eprintln!("async: {n} allocations in {} ops inside one block_on; {per_call} per block_on call", 4 * N);
    assert_eq!(n, 0, "allocations per op through block_on");
}

#[test]
fn ops_of_a_set_allocate_nothing_per_op() {
    // 16 reads kept in flight by a set, as a queue-depth-16 reader does.
    let f = Fixture::new("set");
    let mut reads = OpSet::new(&f.driver);
    let mut idle: Vec<Vec<u8>> = (0..16).map(|_| Vec::with_capacity(512)).collect();
    let mut run = |rounds: u64| {
        for _ in 0..rounds {
            while let Some(mut buf) = idle.pop() {
                buf.clear();
                reads.submit(ops::Read::at(&f.file, buf, 0), 0).unwrap();
            }
            reads
                .wait(8, |_, (res, buf)| {
                    assert_eq!(res, Ok(512));
                    idle.push(buf);
                })
                .unwrap();
        }
    };
    run(50);
    let n = count(|| run(N / 8));
    eprintln!("set: {n} allocations in about {N} reads");
    assert_eq!(n, 0);
}
