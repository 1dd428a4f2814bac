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

mod unprivileged;

use ringwise::memlock::{self, BufferSpan, MemlockCharge, RingMemoryKind};
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
    let base = 600_000 + (std::process::id() % 20_000) * 1000;
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
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unprivileged::on_thread_as_uid(uid, f)));
    setrlimit(Resource::Memlock, old).expect("restore RLIMIT_MEMLOCK");
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
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
            proven.push((
                name.clone(),
                prove_ring(&name, Builder::<Sqe64, Cqe16>::new(entries).cq_entries(cq).keep_sq_array(), at),
            ));
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

/// The ring the registration cases register on: 8 entries, kernel memory.
fn small_ring() -> Builder<Sqe64, Cqe16> {
    Builder::new(8).keep_sq_array()
}

/// Registering on a fresh `ring` works under exactly the ring's charge plus
/// `extra`, and fails with ENOMEM (the ring itself set up fine) under one
/// page less. `register` returns the errno of the registration, if any.
fn prove_registration<F>(name: &str, ring: Builder<Sqe64, Cqe16>, extra: MemlockCharge, register: F)
where
    F: Fn(&mut Ring<Sqe64, Cqe16>) -> Option<Errno> + Clone + Send + 'static,
{
    let base = memlock::ring(&ring.layout().unwrap(), RingMemoryKind::Kernel);
    let total = base + extra;
    let run = |limit: u64| {
        let (ring, register) = (ring.clone(), register.clone());
        as_fresh_user(limit, move || {
            let mut r = ring.build().map_err(|e| e.to_string())?;
            Ok::<_, String>(register(&mut r))
        })
    };
    assert_eq!(run(total.bytes()), Ok(None), "{name}: registration under exactly {total} must work");
    assert_eq!(
        run(total.bytes() - PAGE as u64),
        Ok(Some(Errno::NOMEM)),
        "{name}: registration one page under {total} must fail with ENOMEM"
    );
    eprintln!("proven: {name}: {extra} (with the ring: {total})");
}

/// `VmPin` of this process in pages.
fn vm_pin_pages() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmPin:")).expect("VmPin in /proc/self/status");
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024 / PAGE
}

/// `VmLck` of this process in KiB (mlock's `mm->locked_vm`).
fn vm_lck_kb() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmLck:")).expect("VmLck in /proc/self/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Wait until no pinned pages of earlier cases (rings the kernel is still
/// tearing down) remain, so that a VmPin difference is this case's.
fn settle_vm_pin() {
    let start = std::time::Instant::now();
    while vm_pin_pages() != 0 && start.elapsed() < std::time::Duration::from_secs(2) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Register `spans` (which must lie in memory alive until the ring is
/// dropped) and check the VmPin difference.
fn register_spans(ring: &mut Ring<Sqe64, Cqe16>, spans: &[BufferSpan]) -> Option<Errno> {
    let iovecs: Vec<Iovec> = spans.iter().map(|s| Iovec { iov_base: s.addr as *mut _, iov_len: s.len as _ }).collect();
    settle_vm_pin();
    let before = vm_pin_pages();
    // SAFETY: the callers keep the memory mapped until after the ring is
    // dropped, and unmapped pages the kernel still pins stay the kernel's.
    let r = unsafe { ring.register_buffers(&iovecs) };
    if r.is_ok() {
        let expected = memlock::registered_buffers(spans, PAGE).pinned_pages;
        assert_eq!(vm_pin_pages() - before, expected, "VmPin grows by the pinned pages");
    }
    errno_of(r)
}

fn no_thp(m: &Mapping) {
    // SAFETY: advice on our own mapping; it changes no contents.
    unsafe { rustix::mm::madvise(m.as_ptr().cast(), m.len(), rustix::mm::Advice::LinuxNoHugepage) }.unwrap();
}

#[test]
fn registered_buffers_on_base_pages() {
    skip_unless_root!();
    // 4 pages: a buffer from byte 100 over two pages (pins 3), one byte of the
    // last page (pins 1), and two buffers in one page (each counts it).
    let spans = |base: usize| {
        vec![
            BufferSpan::new(base + 100, 2 * PAGE),
            BufferSpan::new(base + 3 * PAGE, 1),
            BufferSpan::new(base + 3 * PAGE + 10, 10),
        ]
    };
    let extra = memlock::registered_buffers(&spans(0), PAGE);
    assert_eq!(extra.pages, 5);
    prove_registration("registered buffers, base pages", small_ring(), extra, move |ring| {
        let m = Mapping::anonymous(4 * PAGE).unwrap();
        no_thp(&m);
        let r = register_spans(ring, &spans(m.as_ptr() as usize));
        std::mem::forget(m); // the kernel may pin it until teardown; keep it mapped
        r
    });
    // Owned whole-mapping buffers: 3 + 1 pages.
    let extra = memlock::registered_buffers(&[BufferSpan::new(0, 3 * PAGE), BufferSpan::new(0, PAGE)], PAGE);
    prove_registration("register_buffers_owned, base pages", small_ring(), extra, move |ring| {
        let (a, b) = (Mapping::anonymous(3 * PAGE).unwrap(), Mapping::anonymous(PAGE).unwrap());
        no_thp(&a);
        no_thp(&b);
        errno_of(ring.register_buffers_owned(vec![a, b]))
    });
}

const HUGE: usize = 2 * 1024 * 1024;

/// `n` transparent huge pages, 2 MiB-aligned, faulted in, or why not.
fn thp(n: usize) -> Result<usize, String> {
    let m = Mapping::anonymous((n + 1) * HUGE).map_err(|e| e.to_string())?;
    let start = (m.as_ptr() as usize).next_multiple_of(HUGE);
    // SAFETY: the advised range lies inside `m`, which is leaked below (the
    // kernel pins it until a ring's teardown).
    unsafe { rustix::mm::madvise(start as *mut _, n * HUGE, rustix::mm::Advice::LinuxHugepage) }
        .map_err(|e| format!("madvise(MADV_HUGEPAGE): {e}"))?;
    for i in 0..n {
        // SAFETY: inside the mapping, writable.
        unsafe { ((start + i * HUGE) as *mut u8).write_volatile(1) };
    }
    std::mem::forget(m);
    let smaps = std::fs::read_to_string("/proc/self/smaps").map_err(|e| e.to_string())?;
    let mut in_vma = false;
    for line in smaps.lines() {
        if let Some((range, _)) = line.split_once(' ') {
            if let Some((lo, hi)) = range.split_once('-') {
                if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16)) {
                    in_vma = lo <= start && start < hi;
                    continue;
                }
            }
        }
        if in_vma && line.starts_with("AnonHugePages:") {
            let kb: usize = line.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0);
            return if kb * 1024 >= n * HUGE {
                Ok(start)
            } else {
                Err(format!(
                    "the kernel gave {kb} kB of transparent huge pages, not {} (THP disabled or memory fragmented)",
                    n * HUGE / 1024
                ))
            };
        }
    }
    Err("no smaps entry for the mapping".into())
}

#[test]
fn registered_buffers_on_huge_pages_count_once() {
    skip_unless_root!();
    if let Err(why) = thp(1) {
        eprintln!("SKIPPED: no transparent huge page to register: {why}");
        return;
    }
    // A ring in caller memory on a huge page is charged by its regions'
    // pages, not by the huge page.
    let b = Builder::<Sqe64, Cqe16>::new(8).keep_sq_array();
    let charge = memlock::ring(&b.layout().unwrap(), RingMemoryKind::UserHuge);
    assert_eq!(charge.pages, 2);
    for (limit, expect) in [(charge.bytes(), None), (charge.bytes() - PAGE as u64, Some(Errno::NOMEM))] {
        let b = b.clone();
        let got = as_fresh_user(limit, move || {
            let h = thp(1).expect("THP worked a moment ago");
            // SAFETY: a leaked THP mapping of ours, used by nothing else and
            // never unmapped.
            let memory = unsafe { ringwise::CallerMemory::new(h as *mut u8, HUGE) };
            errno_of(b.build_in(memory))
        });
        assert_eq!(got, expect, "ring in a THP under {limit} bytes");
    }
    eprintln!("proven: ring of 8 entries in caller memory on a 2 MiB THP: {charge}");

    // Two buffers in one huge page, one call: the huge page once (512).
    let same = |h: usize| vec![BufferSpan::on_folios(h, PAGE, HUGE), BufferSpan::on_folios(h + 2 * PAGE, PAGE, HUGE)];
    let extra = memlock::registered_buffers(&same(0), PAGE);
    assert_eq!(extra.pages, 512);
    prove_registration("registered buffers, two in one 2 MiB THP", small_ring(), extra, move |ring| {
        let h = thp(1).expect("THP worked a moment ago");
        register_spans(ring, &same(h))
    });
    // A, B, A over two huge pages: A's huge page is counted twice (1536).
    let aba = |h: usize| {
        vec![
            BufferSpan::on_folios(h, PAGE, HUGE),
            BufferSpan::on_folios(h + HUGE, PAGE, HUGE),
            BufferSpan::on_folios(h + PAGE, PAGE, HUGE),
        ]
    };
    let extra = memlock::registered_buffers(&aba(0), PAGE);
    assert_eq!(extra.pages, 1536);
    prove_registration("registered buffers, A B A over two 2 MiB THPs", small_ring(), extra, move |ring| {
        let h = thp(2).expect("THP worked a moment ago");
        register_spans(ring, &aba(h))
    });
}

#[test]
fn buf_rings_and_regions() {
    skip_unless_root!();
    for (entries, kernel) in [(1u32, true), (256, true), (512, true), (32768, true), (4096, false), (1, false)] {
        let kind = if kernel { RingMemoryKind::Kernel } else { RingMemoryKind::User };
        let extra = memlock::buf_ring(entries, kind, PAGE);
        let name = format!("buffer ring of {entries} entries in {kind:?} memory");
        prove_registration(&name, small_ring(), extra, move |ring| {
            let mut config = BufRingConfig::new(1, entries, 1);
            if kernel {
                config = config.kernel_mapped();
            }
            errno_of(ring.register_buf_ring(config))
        });
    }
    for (slots, kernel) in [(10u32, true), (100, true), (100, false), (300, false)] {
        let bytes = ringwise::register::RegWaitRegion::bytes_for(slots);
        let kind = if kernel { RingMemoryKind::Kernel } else { RingMemoryKind::User };
        let extra = memlock::mem_region(bytes, kind, PAGE);
        let name = format!("wait region of {bytes} bytes in {kind:?} memory");
        prove_registration(&name, small_ring().disabled(), extra, move |ring| {
            let r = if kernel {
                ring.register_wait_region_kernel(slots)
            } else {
                ring.register_wait_region(Mapping::anonymous(bytes).unwrap(), slots)
            };
            errno_of(r)
        });
    }
}

#[test]
fn resize_holds_old_and_new() {
    skip_unless_root!();
    let builder = Builder::<Sqe64, Cqe16>::new(8).keep_sq_array().single_issuer().defer_taskrun();
    let old = builder.layout().unwrap();
    let spec = ResizeSpec::new(8).cq_entries(4096);
    // As root (CAP_IPC_LOCK: nothing charged), only to ask for the layout.
    let new = builder.clone().build().unwrap().resize_layout(spec).unwrap();
    let peak = memlock::resize_peak(&old, &new);
    let extra = MemlockCharge::locked(peak.pages - memlock::ring(&old, RingMemoryKind::Kernel).pages, PAGE);
    prove_registration("resize 8/16 -> 8/4096", builder, extra, move |ring| errno_of(ring.resize(spec)));
}

/// A setup refused with ENOMEM leaves nothing charged behind, at once: the
/// rings region, charged before the SQE region failed, is given back inside
/// the failing call (`io_rings_free` on the error path). So retrying a
/// failed setup never makes things worse.
#[test]
fn failed_setup_leaves_no_charge() {
    skip_unless_root!();
    let ring_b = Builder::<Sqe64, Cqe16>::new(4096).keep_sq_array();
    let layout = ring_b.layout().unwrap();
    let c = memlock::ring(&layout, RingMemoryKind::Kernel).pages;
    let probe_pages = memlock::ring(&small_ring().layout().unwrap(), RingMemoryKind::Kernel).pages;
    let limit = ((probe_pages + c - 1) * PAGE) as u64;
    let (err, headroom, advice) = as_fresh_user(limit, move || {
        let probe = small_ring().build().unwrap();
        let err = errno_of(ring_b.build());
        let advice = memlock::enomem_advice(memlock::ring(&layout, RingMemoryKind::Kernel));
        (err, memlock::headroom(&probe, 10_000).unwrap(), advice)
    });
    assert_eq!(err, Some(Errno::NOMEM));
    assert_eq!(headroom, c - 1, "the rings region charged before the SQE region failed is given back");
    assert!(advice.contains("404 KiB") && advice.contains("ulimit -l 404"), "{advice}");
    eprintln!("ENOMEM advice: {advice}");
}

/// With CAP_IPC_LOCK (root here) nothing is charged to the user, but
/// registered buffers still go to the process's VmPin.
#[test]
fn cap_ipc_lock_still_counts_vm_pin() {
    skip_unless_root!();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut ring = small_ring().build().unwrap();
    let m = Mapping::anonymous(3 * PAGE).unwrap();
    no_thp(&m);
    settle_vm_pin();
    let before = vm_pin_pages();
    ring.register_buffers_owned(vec![m]).unwrap();
    assert_eq!(vm_pin_pages() - before, 3);
}

/// What a process can see of the release after dropping a ring (Linux
/// 6.18): nothing at the moment of `close` (the charge stays), then, when
/// the kernel's `io_ring_exit_work` has run `io_ring_ctx_free`, the ring's
/// registered buffers leave `VmPin` and its whole charge leaves the user's
/// `locked_vm` (measured with `memlock::headroom`), together. The ring's
/// fdinfo (while open) reports no charge. Prints the timings.
#[test]
fn release_is_visible_in_vm_pin_and_headroom() {
    skip_unless_root!();
    let ring_b = Builder::<Sqe64, Cqe16>::new(4096).keep_sq_array();
    let c = memlock::ring(&ring_b.layout().unwrap(), RingMemoryKind::Kernel).pages;
    let probe_pages = memlock::ring(&small_ring().layout().unwrap(), RingMemoryKind::Kernel).pages;
    let limit = ((probe_pages + 2 * c + 1) * PAGE) as u64;
    let out = as_fresh_user(limit, move || {
        let probe = small_ring().build().unwrap();
        let h0 = memlock::headroom(&probe, 10_000).unwrap();
        assert_eq!(h0, 2 * c + 1, "headroom = limit - the probe ring's charge");
        let mut lines = Vec::new();
        for i in 0..5 {
            settle_vm_pin();
            let mut ring = ring_b.clone().build().unwrap();
            let m = Mapping::anonymous(PAGE).unwrap();
            no_thp(&m);
            let vm0 = vm_pin_pages();
            let lck0 = vm_lck_kb();
            ring.register_buffers_owned(vec![m]).unwrap();
            assert_eq!(vm_lck_kb(), lck0, "io_uring never charges VmLck (mm->locked_vm)");
            assert_eq!(memlock::headroom(&probe, 10_000).unwrap(), h0 - c - 1, "ring + 1 buffer page charged");
            assert_eq!(vm_pin_pages(), vm0 + 1, "the buffer page is in VmPin");
            if i == 0 {
                let fd = std::os::fd::AsRawFd::as_raw_fd(&ring.fd().unwrap());
                let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
                let keys: Vec<&str> = info.lines().filter_map(|l| l.split(':').next()).collect();
                lines.push(format!("ring fdinfo fields: {}", keys.join(" ")));
            }
            let t = std::time::Instant::now();
            drop(ring);
            let h_after_close = memlock::headroom(&probe, 10_000).unwrap();
            let (mut t_vm, mut t_h) = (None, None);
            while (t_vm.is_none() || t_h.is_none()) && t.elapsed() < std::time::Duration::from_secs(5) {
                if t_vm.is_none() && vm_pin_pages() == vm0 {
                    t_vm = Some(t.elapsed());
                }
                if t_h.is_none() && memlock::headroom(&probe, 10_000).unwrap() == h0 {
                    t_h = Some(t.elapsed());
                }
            }
            assert!(t_vm.is_some() && t_h.is_some(), "the charge is released within 5 s of close");
            lines.push(format!(
                "cycle {i}: headroom right after close {h_after_close} pages (of {h0}); VmPin back after {t_vm:?}, \
                 headroom back after {t_h:?}"
            ));
        }
        lines
    });
    for l in out {
        eprintln!("{l}");
    }
}

/// 1,000 set-up/drop cycles as an unprivileged uid under a limit of twice
/// one ring's charge (plus the probe ring's): back to back, setups fail
/// with ENOMEM while the kernel still holds dropped rings' charge; waiting
/// with `memlock::wait_for_release` before each setup makes every one work.
/// `MEMLOCK_CYCLES` sets the number of cycles.
#[test]
fn open_close_cycles_under_twice_the_charge() {
    skip_unless_root!();
    let cycles: usize = std::env::var("MEMLOCK_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let ring_b = Builder::<Sqe64, Cqe16>::new(64).keep_sq_array();
    let charge = memlock::ring(&ring_b.layout().unwrap(), RingMemoryKind::Kernel);
    let probe_charge = memlock::ring(&small_ring().layout().unwrap(), RingMemoryKind::Kernel);
    let limit = probe_charge.bytes() + 2 * charge.bytes();
    let (naive_fail, naive_n, waits) = as_fresh_user(limit, move || {
        let probe = small_ring().build().unwrap();
        // Back to back, no waiting: how often does the kernel refuse?
        let naive_n = 200.min(cycles);
        let mut naive_fail = 0;
        for _ in 0..naive_n {
            match ring_b.clone().build() {
                Ok(r) => drop(r),
                Err(e) if e.errno() == Errno::NOMEM => naive_fail += 1,
                Err(e) => panic!("{e}"),
            }
        }
        // Waiting for the release first: none may fail.
        let mut waits = Vec::with_capacity(cycles);
        for i in 0..cycles {
            let waited = memlock::wait_for_release(&probe, charge, std::time::Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("cycle {i}: {e}"));
            waits.push(waited);
            let ring = ring_b.clone().build().unwrap_or_else(|e| panic!("cycle {i}: setup after waiting: {e}"));
            drop(ring);
        }
        (naive_fail, naive_n, waits)
    });
    let total: std::time::Duration = waits.iter().sum();
    let max = waits.iter().max().copied().unwrap_or_default();
    let waited = waits.iter().filter(|w| **w > std::time::Duration::from_millis(1)).count();
    eprintln!(
        "back to back: {naive_fail} of {naive_n} setups refused with ENOMEM under {} KiB (ring {charge}); \
         with wait_for_release: {} setups, all succeeded, {waited} waited over 1 ms, total wait {total:?}, longest {max:?}",
        limit / 1024,
        waits.len()
    );
}
