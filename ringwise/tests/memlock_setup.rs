//! The exact RLIMIT_MEMLOCK charge in the builder, the ENOMEM explanation
//! of a setup that exceeds the limit, and waiting at drop for the kernel to
//! give a ring's charge back, each as a fresh unprivileged uid.
//!
//! How a case runs unprivileged (as in `tests/memlock.rs`): the kernel
//! charges the calling thread's user and checks the calling thread's
//! `CAP_IPC_LOCK`, and credentials are per thread, so each case runs in a
//! new thread that switches itself (raw `setresuid`, that thread only) to a
//! uid nothing else uses, losing its capabilities. `RLIMIT_MEMLOCK` is per
//! process: set before the case, restored after, one case at a time.

mod unprivileged;

use ringwise::memlock::{self, RingMemoryKind};
use ringwise::{Builder, Cqe16, Errno, Mapping, Pages, Ring, Sqe64};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PAGE: u64 = 4096;

static SERIAL: Mutex<()> = Mutex::new(());

/// A uid no account uses, fresh per case and per run (a range apart from
/// `tests/memlock.rs`'s).
fn fresh_uid() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    1_500_000_000 + (std::process::id() % 100_000) * 100 + NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Whether the cases can run; prints why not.
fn can_switch_uid() -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    eprintln!("skipped: not root; these cases switch to unused uids and set RLIMIT_MEMLOCK");
    false
}

/// Run `f` on a new thread as a fresh unprivileged uid under an
/// RLIMIT_MEMLOCK soft limit of `limit` bytes.
fn as_fresh_user<R: Send + 'static>(limit: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let old = getrlimit(Resource::Memlock);
    if let Some(max) = old.maximum {
        assert!(limit <= max, "the case needs RLIMIT_MEMLOCK {limit}, above the hard limit {max}");
    }
    setrlimit(Resource::Memlock, Rlimit { current: Some(limit), maximum: old.maximum }).expect("setrlimit");
    let uid = fresh_uid();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unprivileged::on_thread_as_uid(uid, f)));
    setrlimit(Resource::Memlock, old).expect("restore RLIMIT_MEMLOCK");
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// `Builder::memlock` is the charge the kernel takes: setup under exactly
/// that limit works and one page less fails, for kernel memory, library
/// pages and huge pages (charged by the regions' size, not the huge page).
#[test]
fn builder_memlock_is_the_kernels_charge() {
    if !can_switch_uid() {
        return;
    }
    for (entries, cq) in [(8u32, None), (256, None), (64, Some(1024))] {
        let mut b = Builder::<Sqe64, Cqe16>::new(entries).keep_sq_array();
        if let Some(cq) = cq {
            b = b.cq_entries(cq);
        }
        let charge = b.memlock().expect("memlock");
        assert_eq!(charge, memlock::ring(&b.layout().unwrap(), RingMemoryKind::Kernel));
        assert_eq!(b.memlock_bytes().unwrap(), charge.bytes());
        for pages in [None, Some(Pages::Normal), Some(Pages::Huge)] {
            for (limit, fits) in [(charge.bytes(), true), (charge.bytes() - PAGE, false)] {
                let b = b.clone();
                let got = as_fresh_user(limit, move || {
                    let r = match pages {
                        None => b.build(),
                        Some(p) => b.build_allocated(p),
                    };
                    r.err().map(|e| e.errno())
                });
                let want = if fits { None } else { Some(Errno::NOMEM) };
                assert_eq!(got, want, "{entries}/{cq:?} in {pages:?} under {limit} bytes ({charge})");
            }
        }
    }
}

/// An ENOMEM from setup says what the ring needs, what the limit is, how to
/// raise it, and that rings closed a moment ago may still be charged.
#[test]
fn setup_enomem_reports_charge_limit_and_remedy() {
    if !can_switch_uid() {
        return;
    }
    let b = Builder::<Sqe64, Cqe16>::new(256).keep_sq_array();
    let charge = b.memlock().unwrap();
    let limit = charge.bytes() - PAGE;
    for caller_memory in [false, true] {
        let b = b.clone();
        let err = as_fresh_user(limit, move || {
            if caller_memory {
                b.clone().build_in(Mapping::anonymous(b.layout().unwrap().total_bytes()).unwrap()).unwrap_err()
            } else {
                b.build().unwrap_err()
            }
        });
        assert_eq!(err.errno(), Errno::NOMEM, "{err}");
        let text = err.to_string();
        eprintln!("caller memory {caller_memory}: {text}");
        let need_kib = charge.bytes() / 1024;
        for part in [
            format!("{} pages ({need_kib} KiB)", charge.pages),
            format!("RLIMIT_MEMLOCK is {} KiB", limit / 1024),
            format!("ulimit -l {need_kib}"),
            "CAP_IPC_LOCK".to_string(),
            "closed a moment ago may still be charged".to_string(),
            "asynchronously".to_string(),
        ] {
            assert!(text.contains(&part), "the message lacks {part:?}: {text}");
        }
    }
}

/// Back to back under twice one ring's charge, setups fail while the kernel
/// still holds the rings just dropped; with `wait_for_memlock_release` each
/// drop waits for the release and every setup succeeds.
/// `MEMLOCK_CYCLES` sets the number of cycles (default 1,000).
#[test]
fn open_close_cycles_with_wait_for_release() {
    if !can_switch_uid() {
        return;
    }
    let cycles: usize = std::env::var("MEMLOCK_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let b = Builder::<Sqe64, Cqe16>::new(256).keep_sq_array();
    let charge = b.memlock().unwrap();
    assert!(charge.pages >= 4, "a ring larger than the waiting's probe ring (2 pages): {charge}");
    let limit = 2 * charge.bytes();
    let (naive_fail, naive_n, elapsed, longest) = as_fresh_user(limit, move || {
        let naive_n = 200.min(cycles);
        let mut naive_fail = 0;
        for _ in 0..naive_n {
            match b.clone().build() {
                Ok(r) => drop(r),
                Err(e) if e.errno() == Errno::NOMEM => naive_fail += 1,
                Err(e) => panic!("{e}"),
            }
        }
        // Let the last naive ring go before the measured part.
        std::thread::sleep(Duration::from_millis(300));
        let waiting = b.clone().wait_for_memlock_release(Duration::from_secs(5));
        let start = Instant::now();
        let mut longest = Duration::ZERO;
        for i in 0..cycles {
            let ring = waiting.clone().build().unwrap_or_else(|e| panic!("cycle {i}: {e}"));
            let t = Instant::now();
            drop(ring);
            longest = longest.max(t.elapsed());
        }
        // And the explicit form, which reports how long it waited.
        for i in 0..20 {
            let ring = b.clone().build().unwrap_or_else(|e| panic!("explicit cycle {i}: {e}"));
            ring.close_and_wait_release(Duration::from_secs(5)).unwrap_or_else(|e| panic!("explicit cycle {i}: {e}"));
        }
        (naive_fail, naive_n, start.elapsed(), longest)
    });
    eprintln!(
        "under {} KiB (ring {charge}): back to back {naive_fail} of {naive_n} setups refused with ENOMEM; \
         with wait_for_memlock_release {cycles} cycles, none refused, in {elapsed:?} (longest drop {longest:?})",
        limit / 1024
    );
    if naive_fail == 0 {
        eprintln!("note: this run saw no back-to-back refusal (the kernel's teardown kept up)");
    }
}

/// With CAP_IPC_LOCK (root here) nothing is charged: the wait at drop ends
/// at once.
#[test]
fn wait_for_release_is_free_without_a_charge() {
    let b = Builder::<Sqe64, Cqe16>::new(256).keep_sq_array().wait_for_memlock_release(Duration::from_secs(5));
    let ring: Ring = b.build().unwrap();
    let t = Instant::now();
    drop(ring);
    eprintln!("drop with the wait, as {}: {:?}", rustix::process::getuid().as_raw(), t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(1));
}
