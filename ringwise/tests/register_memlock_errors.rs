//! An `ENOMEM` from a registration that pins or allocates locked memory
//! (fixed buffers, a provided-buffer ring, a memory region) says how much
//! it needed, what `RLIMIT_MEMLOCK` is and how to raise it.
//!
//! Each case runs as a fresh unprivileged uid on its own thread, with the
//! process's `RLIMIT_MEMLOCK` lowered for that moment (the method of
//! `tests/memlock.rs`: credentials are per thread in the kernel, so only the
//! case's thread loses `CAP_IPC_LOCK`; the limit is per process, so cases run
//! one at a time). Without root the cases cannot switch uid and skip.

mod unprivileged;

use ringwise::register::BufRingConfig;
use ringwise::{Builder, Errno, Mapping, Ring};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

const PAGE: usize = 4096;
/// The limit of each case: 3 pages, enough for the 2 pages of a 4-entry ring.
const LIMIT: u64 = 3 * PAGE as u64;

static SERIAL: Mutex<()> = Mutex::new(());

/// A uid no account uses, different per run and per case (rings of an
/// earlier case may still be charged while the kernel tears them down).
fn fresh_uid() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Far above the range tests/memlock.rs uses (600_000 + ...), so that the
    // two test binaries, run side by side, never share a uid.
    1_000_000_000 + std::process::id() * 16 + NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Run `f` on a new thread as a fresh uid with RLIMIT_MEMLOCK at `limit`;
/// `None` (after printing why) when this process cannot switch uid.
fn as_fresh_user<R: Send + 'static>(limit: u64, f: impl FnOnce() -> R + Send + 'static) -> Option<R> {
    if !rustix::process::geteuid().is_root() {
        println!("skipped: not root; the case needs to switch to an unused uid and set RLIMIT_MEMLOCK");
        return None;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The first ring of a process probes the kernel with a trial ring
    // (NO_SQARRAY), whose pages stay charged until the kernel's asynchronous
    // teardown: have that happen here, as root, not under the case's limit.
    drop(Ring::new(1).unwrap());
    let old = getrlimit(Resource::Memlock);
    setrlimit(Resource::Memlock, Rlimit { current: Some(limit), maximum: old.maximum }).expect("setrlimit");
    let uid = fresh_uid();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unprivileged::on_thread_as_uid(uid, f)));
    setrlimit(Resource::Memlock, old).expect("restore RLIMIT_MEMLOCK");
    Some(result.unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
}

/// The error of a registration that needed `pages` pages: ENOMEM, with the
/// charge, the limit and the way to raise it.
fn assert_explained(err: ringwise::Error, pages: usize) {
    let msg = err.to_string();
    assert_eq!(err.errno(), Errno::NOMEM, "{msg}");
    let charge = format!("{pages} pages ({} KiB) of RLIMIT_MEMLOCK", pages * PAGE / 1024);
    assert!(msg.contains(&charge), "names the charge `{charge}`: {msg}");
    assert!(msg.contains(&format!("RLIMIT_MEMLOCK is {} KiB", LIMIT / 1024)), "names the limit: {msg}");
    assert!(msg.contains("ulimit -l") && msg.contains("CAP_IPC_LOCK"), "says how to raise it: {msg}");
}

#[test]
fn fixed_buffers_over_the_limit() {
    let Some(err) = as_fresh_user(LIMIT, || {
        let mut ring = Ring::new(4).unwrap();
        ring.register_buffers_owned(vec![Mapping::anonymous(8 * PAGE).unwrap()]).unwrap_err()
    }) else {
        return;
    };
    assert_explained(err, 8);
}

#[test]
fn buf_ring_over_the_limit() {
    let Some(err) = as_fresh_user(LIMIT, || {
        let mut ring = Ring::new(4).unwrap();
        // 4096 entries of 16 bytes: 16 pages.
        ring.register_buf_ring(BufRingConfig::new(1, 4096, 64)).unwrap_err()
    }) else {
        return;
    };
    assert_explained(err, 16);
}

#[test]
fn mem_region_over_the_limit() {
    let Some(err) = as_fresh_user(LIMIT, || {
        let mut ring: Ring = Builder::new(4).disabled().build().unwrap();
        // 8 pages of 64-byte wait slots.
        ring.register_wait_region_kernel((8 * PAGE / 64 - 1) as u32).unwrap_err()
    }) else {
        return;
    };
    assert_explained(err, 8);
}
