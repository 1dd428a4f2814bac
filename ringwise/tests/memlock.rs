//! Proof on the running kernel that `ringwise::memlock` is exact: for each
//! ring configuration and each kind of pinning registration, an unprivileged
//! user with `RLIMIT_MEMLOCK` set to exactly the predicted charge succeeds,
//! and with one page less fails with `ENOMEM`.
//!
//! How a case runs unprivileged without a child process per case: the
//! kernel charges `current_user()` and checks `CAP_IPC_LOCK` of the
//! *calling thread's* credentials, and credentials are per thread in the
//! kernel. So each case runs in a fresh thread that first drops its own
//! credentials (`setresgid`/`setgroups`/`setresuid` on that thread only) to
//! a uid nothing else uses, which clears its capabilities, including
//! `CAP_IPC_LOCK`. `RLIMIT_MEMLOCK` is per process: it is set by the root
//! thread before the case starts, and cases run one at a time (the root
//! threads of this process have `CAP_IPC_LOCK` and are not limited by it).
//! A fresh uid per case means no other charge (and no ring of an earlier
//! case still being torn down by the kernel) counts against the limit.
//!
//! Without root the cases cannot switch uid: they print why and skip.

use ringwise::memlock::{self, BufferSpan, MemlockCharge, PageKind, RingMemoryKind};
use ringwise::op::Iovec;
use ringwise::register::{BufRingConfig, ResizeSpec};
use ringwise::{Builder, Cqe16, Cqe32, CqeSize, Errno, Layout, Mapping, Ring, Sqe128, Sqe64, SqeSize};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

const PAGE: usize = 4096;

/// Cases change the process's RLIMIT_MEMLOCK: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Next unused uid: a range no account uses, offset by the pid so that two
/// runs back to back never share a uid (the earlier run's rings may still
/// be charged while the kernel tears them down).
fn fresh_uid() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 600_000 + (std::process::id() % 20_000) * 200;
    base + NEXT.fetch_add(1, Ordering::Relaxed)
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

macro_rules! skip_unless_root {
    () => {
        if !is_root() {
            eprintln!("SKIPPED: not root; these tests need to switch to unused uids and set RLIMIT_MEMLOCK");
            return;
        }
    };
}

/// Run `f` on a new thread as a fresh unprivileged uid with RLIMIT_MEMLOCK
/// (the soft limit, which is what the kernel checks) at `limit` bytes.
/// Returns what `f` returned. The hard limit is left alone: raising it
/// back would need CAP_SYS_RESOURCE, which a container's root may lack.
fn as_fresh_user<R: Send + 'static>(limit: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let old = getrlimit(Resource::Memlock);
    if let Some(max) = old.maximum {
        assert!(limit <= max, "a case needs RLIMIT_MEMLOCK {limit}, above the hard limit {max}");
    }
    setrlimit(Resource::Memlock, Rlimit { current: Some(limit), maximum: old.maximum }).expect("setrlimit");
    let uid = fresh_uid();
    let result = std::thread::spawn(move || {
        // The change applies to this thread only (raw syscalls, not libc's
        // process-wide setuid).
        let (u, g) = (rustix::process::Uid::from_raw(uid), rustix::process::Gid::from_raw(uid));
        rustix::thread::set_thread_groups(&[]).expect("setgroups");
        rustix::thread::set_thread_res_gid(g, g, g).expect("setresgid");
        rustix::thread::set_thread_res_uid(u, u, u).expect("setresuid");
        f()
    })
    .join();
    setrlimit(Resource::Memlock, old).expect("restore RLIMIT_MEMLOCK");
    match result {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Where a test ring lives.
#[derive(Debug, Clone, Copy)]
enum Placement {
    Kernel,
    Caller,
}

fn build<S: SqeSize, C: CqeSize>(b: Builder<S, C>, at: Placement) -> ringwise::Result<Ring<S, C>> {
    match at {
        Placement::Kernel => b.build(),
        Placement::Caller => {
            let len = b.layout()?.total_bytes();
            b.build_in(Mapping::anonymous(len)?)
        }
    }
}

fn errno_of<T>(r: ringwise::Result<T>) -> Option<Errno> {
    r.err().map(|e| e.errno())
}

/// Setup under exactly `charge` works, under one page less fails with ENOMEM.
fn prove_ring<S: SqeSize, C: CqeSize>(name: &str, b: Builder<S, C>, at: Placement) -> MemlockCharge
where
    Builder<S, C>: Clone + Send + 'static,
{
    let layout: Layout = b.layout().unwrap();
    let kind = match at {
        Placement::Kernel => RingMemoryKind::Kernel,
        Placement::Caller => RingMemoryKind::User,
    };
    let charge = memlock::ring(&layout, kind);
    let b2 = b.clone();
    let ok = as_fresh_user(charge.bytes(), move || errno_of(build(b2, at)));
    assert_eq!(ok, None, "{name} {at:?}: setup under exactly {charge} must work");
    let short = as_fresh_user(charge.bytes() - PAGE as u64, move || errno_of(build(b, at)));
    assert_eq!(short, Some(Errno::NOMEM), "{name} {at:?}: setup one page under {charge} must fail with ENOMEM");
    charge
}

#[test]
fn ring_setup_charge_is_exact() {
    skip_unless_root!();
    let mut proven = Vec::new();
    for at in [Placement::Kernel, Placement::Caller] {
        for entries in [1u32, 2, 7, 64, 100, 128, 255, 1024, 4096, 32768] {
            for no_sqarray in [false, true] {
                let b = |b: Builder<Sqe64, Cqe16>| if no_sqarray { b.no_sq_array() } else { b.keep_sq_array() };
                let name = format!("entries={entries} no_sqarray={no_sqarray}");
                proven.push((name.clone(), prove_ring(&name, b(Builder::new(entries)), at)));
            }
        }
        for (entries, cq) in [(1u32, 1u32), (8, 4096), (100, 1000), (4096, 65536), (32768, 65536)] {
            let name = format!("entries={entries} cq={cq}");
            proven.push((name.clone(), prove_ring(&name, Builder::<Sqe64, Cqe16>::new(entries).cq_entries(cq).keep_sq_array(), at)));
        }
        for entries in [1u32, 64, 4096, 32768] {
            let name = format!("SQE128 entries={entries}");
            proven.push((name.clone(), prove_ring(&name, Builder::<Sqe128, Cqe16>::new(entries).keep_sq_array(), at)));
            let name = format!("CQE32 entries={entries} no_sqarray");
            proven.push((name.clone(), prove_ring(&name, Builder::<Sqe64, Cqe32>::new(entries).no_sq_array(), at)));
            let name = format!("SQE128|CQE32 entries={entries}");
            proven.push((name.clone(), prove_ring(&name, Builder::<Sqe128, Cqe32>::new(entries).keep_sq_array(), at)));
        }
    }
    for (name, charge) in proven.iter().filter(|(n, _)| n.starts_with("entries=4096 ")) {
        eprintln!("proven: {name}: {charge}");
    }
    eprintln!("proven {} ring configurations", proven.len());
}
