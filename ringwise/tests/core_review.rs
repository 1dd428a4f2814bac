//! Adversarial review of the library core (builder, memory, layout, entry,
//! probe, error), against the running kernel:
//!
//! * Kernel mappings longer than the kernel's region are refused, not left
//!   to raise SIGBUS at the first CQE past it (an adopted fd with parameters
//!   that claim bigger entries).
//! * Layout arithmetic cannot overflow, whatever page size it is asked for.
//! * A CQE whose `res` is not an errno (injected by a NOP) does not panic.
//! * Every errno has its name.
//! * Setup-flag rules agree with the kernel, errno for errno, for every
//!   combination of up to three flags; setup errors name the CPU of SQ_AFF
//!   and the SQPOLL needs of ATTACH_WQ.
//! * `&'static mut [u8]` is ring memory, as documented.
//! * The `NO_SQARRAY` probe keeps no answer from a transient failure.
//! * The huge page error reports the 2 MiB pool.
//! * Queue handles are borrows: swapping the handles of two rings leaves
//!   both rings intact (swapping the queues themselves no longer compiles:
//!   the `compile_fail` doctest on `Ring::submission`).
//! * A forked child does not enter a ring through the parent's registered
//!   index, which in the child's table names one of the child's own rings,
//!   and dropping an inherited ring there does not cancel the parent's
//!   requests.

mod common;

use common::{nop_round_trip, skip};
use ringwise::layout::{Layout, RingSpec};
use ringwise::op::Nop;
use ringwise::raw::abi;
use ringwise::{errno_name, Builder, Cqe, Cqe16, Cqe32, Error, Mapping, Ring, SetupFlags, Sqe128, Sqe64};
use rustix::io::Errno;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// A ring with nothing in flight, dropped so that only a duplicate of its
/// fd keeps it alive: (that fd, the parameters the kernel returned).
fn orphaned_ring(entries: u32) -> (OwnedFd, abi::io_uring_params) {
    let ring: Ring = Ring::builder(entries).register_ring_fd(false).build().expect("ring");
    let fd = ring.fd().expect("fd").try_clone_to_owned().expect("dup");
    let params = *ring.params();
    drop(ring);
    (fd, params)
}

/// Parameters that claim `extra` size flags the ring was not set up with,
/// with the SQ array offset the bigger layout would have: consistent enough
/// to pass every check on the parameters themselves.
fn params_claiming(mut p: abi::io_uring_params, extra: SetupFlags) -> abi::io_uring_params {
    p.flags |= extra.bits();
    let flags = SetupFlags::from_bits_retain(p.flags) - SetupFlags::CQSIZE;
    let layout = RingSpec::new(p.sq_entries).flags(flags).layout().expect("layout");
    p.sq_off.array = layout.sq_array_offset().unwrap_or(0) as u32;
    p
}

#[test]
fn adopt_with_params_of_bigger_entries_is_refused_not_a_sigbus() {
    // 1024 entries: the rings region is 9 or 10 pages; claiming CQE32 makes
    // the layout about twice that. 6.18 maps the longer range without
    // complaint and leaves the pages past its region empty (SIGBUS on
    // access), so ringwise must notice before it reads a CQE there.
    let (fd, params) = orphaned_ring(1024);
    let lie = params_claiming(params, SetupFlags::CQE32);
    // SAFETY: nothing else uses this ring (its only other owner was dropped
    // in `orphaned_ring`); the parameters lie in a way adopt checks (this
    // test is about that check) before it uses the ring.
    let err = unsafe { Ring::<Sqe64, Cqe32>::adopt(fd, lie) }.expect_err("a rings region twice the kernel's");
    let text = err.to_string();
    assert!(text.contains("rings region") && text.contains("layout"), "{text}");

    // The same for the SQE region (SQE128 doubles it).
    let (fd, params) = orphaned_ring(1024);
    let lie = params_claiming(params, SetupFlags::SQE128);
    // SAFETY: as above.
    let err = unsafe { Ring::<Sqe128, Cqe16>::adopt(fd, lie) }.expect_err("an SQE region twice the kernel's");
    assert!(err.to_string().contains("SQE region"), "{err}");

    // The truth is still accepted, and the adopted ring works.
    let (fd, params) = orphaned_ring(1024);
    // SAFETY: as above.
    let mut ring = unsafe { Ring::<Sqe64, Cqe16>::adopt(fd, params) }.expect("adopt with the kernel's parameters");
    nop_round_trip(&mut ring, 64, 0x10);
}

#[test]
fn layout_with_a_page_size_near_usize_max_is_an_error_not_an_overflow() {
    // 2^63-byte pages: each region rounds to 2^63 and the sum to 2^64.
    let err = Layout::compute(&RingSpec::new(8), 1 << (usize::BITS - 1)).expect_err("regions overflow usize");
    assert!(err.to_string().contains(&(1usize << (usize::BITS - 1)).to_string()), "{err}");
    // 2^62: the sum is 2^63, which fits.
    let l = Layout::compute(&RingSpec::new(8), 1 << (usize::BITS - 2)).expect("fits");
    assert_eq!(l.total_bytes(), 1 << (usize::BITS - 1));
}

#[test]
fn cqe_result_outside_the_errno_range_is_erange_not_a_panic() {
    // Plain values first: the method must not panic on any i32.
    for (res, want) in [
        (7, Ok(7)),
        (0, Ok(0)),
        (-22, Err(Errno::INVAL)),
        (-4095, Err(Errno::from_raw_os_error(4095))),
        (-4096, Err(Errno::RANGE)),
        (i32::MIN, Err(Errno::RANGE)),
        (i32::MAX, Ok(i32::MAX as u32)),
    ] {
        assert_eq!(Cqe { user_data: 0, res, flags: 0 }.result(), want, "res {res}");
    }
    // And from the kernel: a NOP with an injected result (Linux 6.10), a
    // safe op, so any safe caller can produce these CQEs.
    let mut ring: Ring = Ring::new(8).expect("ring");
    let injected = [-5000, i32::MIN, -22];
    for (i, &res) in injected.iter().enumerate() {
        ring.submission().push(Nop::new().inject_result(res).user_data(i as u64)).expect("room");
    }
    ring.submit_and_wait(injected.len() as u32).expect("submit");
    let cqes: Vec<Cqe> = ring.completion().drain().collect();
    assert_eq!(cqes.len(), injected.len());
    if cqes.iter().any(|c| c.res != injected[c.user_data as usize]) {
        skip(format!("this kernel does not inject NOP results (CQEs {cqes:?}); NOP_INJECT_RESULT needs Linux 6.10"));
        return;
    }
    let results: Vec<_> = cqes.iter().map(Cqe::result).collect();
    assert_eq!(results, [Err(Errno::RANGE), Err(Errno::RANGE), Err(Errno::INVAL)]);
}

#[test]
fn every_linux_errno_has_a_name() {
    // 41 and 58 are unused numbers on x86_64 and aarch64 (and every
    // architecture with the generic errno table).
    let unnamed: Vec<i32> = (1..=133)
        .filter(|n| ![41, 58].contains(n))
        .filter(|&n| errno_name(Errno::from_raw_os_error(n)) == "E?")
        .collect();
    assert!(unnamed.is_empty(), "errnos without a name: {unnamed:?}");
    for (errno, name) in [
        (Errno::CONNREFUSED, "ECONNREFUSED"),
        (Errno::PIPE, "EPIPE"),
        (Errno::TIMEDOUT, "ETIMEDOUT"),
        (Errno::CONNRESET, "ECONNRESET"),
        (Errno::NOTSOCK, "ENOTSOCK"),
        (Errno::AGAIN, "EAGAIN"),
        (Errno::OPNOTSUPP, "EOPNOTSUPP"),
        (Errno::from_raw_os_error(524), "ENOTSUPP"),
        (Errno::from_raw_os_error(4000), "E?"),
    ] {
        assert_eq!(errno_name(errno), name);
    }
    // Names are unique: no number was listed twice under different names.
    let mut names: Vec<&str> =
        (1..=133).map(|n| errno_name(Errno::from_raw_os_error(n))).filter(|n| *n != "E?").collect();
    let total = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), total);
}

/// Set up a ring with exactly `flags` through the raw syscall, with what
/// each flag needs to be tried (a CQ size, caller memory, a ring to attach
/// to, SQPOLL if the flags have it), and close it again: the kernel's own
/// verdict, without any of ringwise's checks.
fn kernel_verdict(flags: SetupFlags) -> Result<(), Errno> {
    let mut p: abi::io_uring_params = ringwise_zeroed_params();
    p.flags = flags.bits();
    if flags.contains(SetupFlags::CQSIZE) {
        p.cq_entries = 2;
    }
    let mut _other = None;
    if flags.contains(SetupFlags::ATTACH_WQ) {
        let mut b = Builder::<Sqe64, Cqe16>::new(1).register_ring_fd(false);
        if flags.contains(SetupFlags::SQPOLL) {
            b = b.sqpoll(Duration::from_millis(10));
        }
        let other = b.build().expect("ring to attach to");
        p.wq_fd = other.as_raw_fd() as u32;
        _other = Some(other);
    }
    // Room for any one-entry ring: 64 KiB for each region.
    let memory = Mapping::anonymous(128 << 10).expect("memory");
    if flags.contains(SetupFlags::NO_MMAP) {
        p.cq_off.user_addr = memory.as_ptr() as u64;
        p.sq_off.user_addr = memory.as_ptr() as u64 + (64 << 10);
    }
    // SAFETY: `p` is valid; with NO_MMAP both regions lie in `memory`, far
    // longer than a one-entry ring needs, which outlives the ring (closed
    // below, before `memory` is unmapped).
    let ret = unsafe { ringwise::raw::sys::io_uring_setup(1, &mut p) }?;
    if flags.contains(SetupFlags::REGISTERED_FD_ONLY) {
        let mut update = abi::io_uring_rsrc_update { offset: ret, resv: 0, data: 0 };
        // SAFETY: unregistering the index setup just returned, with a valid update.
        unsafe {
            ringwise::raw::sys::io_uring_register(
                ret,
                abi::register_op::UNREGISTER_RING_FDS | abi::register_op::USE_REGISTERED_RING,
                (&mut update as *mut abi::io_uring_rsrc_update).cast(),
                1,
            )
        }
        .expect("unregister the ring index");
    } else {
        // SAFETY: setup just returned this fd; nothing else owns it.
        drop(unsafe { OwnedFd::from_raw_fd(ret as i32) });
    }
    Ok(())
}

fn ringwise_zeroed_params() -> abi::io_uring_params {
    // SAFETY: plain old data; all-zero is its valid default.
    unsafe { std::mem::zeroed() }
}

#[test]
fn setup_flag_rules_agree_with_the_kernel_for_every_three_flags() {
    // Every combination of up to three setup flags, one entry: ringwise's
    // layout must accept exactly what the kernel accepts and refuse the rest
    // with the kernel's errno. SQE_MIXED is left out where this kernel lacks
    // it (it is refused alone; what it combines with cannot be seen).
    let sqe_mixed = kernel_verdict(SetupFlags::SQE_MIXED).is_ok();
    let flags: Vec<SetupFlags> =
        SetupFlags::all().iter().filter(|&f| sqe_mixed || f != SetupFlags::SQE_MIXED).collect();
    if !sqe_mixed {
        eprintln!("note: SQE_MIXED is not supported here (Linux 6.19); left out of the combinations");
    }
    let sqpoll_ok = kernel_verdict(SetupFlags::SQPOLL).is_ok();
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for i in 0..flags.len() {
        for j in i..flags.len() {
            for k in j..flags.len() {
                let set = flags[i] | flags[j] | flags[k];
                if !sqpoll_ok && set.contains(SetupFlags::SQPOLL) {
                    continue;
                }
                let spec =
                    RingSpec { entries: 1, cq_entries: set.contains(SetupFlags::CQSIZE).then_some(2), flags: set };
                let ours = spec.layout().map(|_| ()).map_err(|e| e.errno());
                let theirs = kernel_verdict(set);
                if ours != theirs {
                    disagreements.push(format!(
                        "[{}]: ringwise {:?}, kernel {:?}",
                        set.names(),
                        ours.map_err(errno_name),
                        theirs.map_err(errno_name)
                    ));
                }
                checked += 1;
            }
        }
    }
    if !sqpoll_ok {
        skip("SQPOLL is refused for this process; combinations with it were left out");
    }
    assert!(checked > 1000, "only {checked} combinations ran");
    assert!(disagreements.is_empty(), "{} of {checked} disagree:\n{}", disagreements.len(), disagreements.join("\n"));
}

#[test]
fn probe_tries_sqpoll_attach_wq_against_an_sqpoll_ring() {
    if ringwise::probe::try_setup_flags(SetupFlags::SQPOLL).is_err() {
        skip("SQPOLL is refused for this process");
        return;
    }
    // The kernel shares the other ring's SQPOLL thread: the trial must
    // attach to an SQPOLL ring, or it reports a supported set as EINVAL.
    assert_eq!(ringwise::probe::try_setup_flags(SetupFlags::SQPOLL | SetupFlags::ATTACH_WQ), Ok(()));
}

#[test]
fn setup_einval_names_the_sq_aff_cpu_and_attach_wq_needs() {
    if ringwise::probe::try_setup_flags(SetupFlags::SQPOLL).is_err() {
        skip("SQPOLL is refused for this process");
        return;
    }
    // A CPU that does not exist.
    let err = Builder::<Sqe64, Cqe16>::new(4)
        .sqpoll(Duration::from_millis(10))
        .sq_thread_cpu(100_000)
        .build()
        .expect_err("CPU 100000 does not exist");
    assert_eq!(err.errno(), Errno::INVAL, "{err}");
    assert!(err.to_string().contains("CPU 100000"), "{err}");

    // SQPOLL attached to a ring without an SQPOLL thread.
    let plain: Ring = Ring::new(4).expect("ring");
    let err = Builder::<Sqe64, Cqe16>::new(4)
        .sqpoll(Duration::from_millis(10))
        .attach_wq(plain.fd().expect("fd"))
        .build()
        .expect_err("nothing to share");
    assert_eq!(err.errno(), Errno::INVAL, "{err}");
    assert!(err.to_string().contains("must itself be an SQPOLL ring"), "{err}");

    // Attached to an SQPOLL ring it works, and shares the thread.
    let polled: Ring = Builder::new(4).sqpoll(Duration::from_millis(10)).build().expect("sqpoll ring");
    let mut ring: Ring = Builder::new(4)
        .sqpoll(Duration::from_millis(10))
        .attach_wq(polled.fd().expect("fd"))
        .build()
        .expect("attached to an SQPOLL ring");
    nop_round_trip(&mut ring, 4, 0x20);
}

#[test]
fn static_slice_is_ring_memory() {
    let page = ringwise::raw::sys::page_size();
    let layout = Builder::<Sqe64, Cqe16>::new(64).layout().expect("layout");
    // A leaked buffer, never freed: carve a page-aligned piece out of it.
    let leaked: &'static mut [u8] = Vec::leak(vec![0xa5u8; layout.total_bytes() + 2 * page]);
    let skew = leaked.as_ptr().align_offset(page);
    let (_, rest) = leaked.split_at_mut(skew);
    let (aligned, tail) = rest.split_at_mut(layout.total_bytes());
    let mut ring: Ring = Builder::new(64).build_in(aligned).expect("ring in a leaked buffer");
    assert!(ring.memory_report().kind.contains("leaked"), "{:?}", ring.memory_report());
    for round in 0..20 {
        nop_round_trip(&mut ring, 64, round << 8);
    }
    // A misaligned slice is refused with the numbers, not handed over.
    let (_, misaligned) = tail.split_at_mut(1);
    let err = Builder::<Sqe64, Cqe16>::new(1).build_in(misaligned).expect_err("misaligned");
    assert!(matches!(err, Error::MemoryMisaligned { align, .. } if align == page), "{err}");
}

/// Run this test binary again with only `test` selected and `env` set, so
/// that the test can change process-wide state (limits, one-time caches)
/// without affecting others; panics if the child fails.
fn rerun_alone(test: &str, env: &str) {
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(env, "1")
        .output()
        .expect("run the test binary");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "child run of {test} failed:\n{text}");
    assert!(text.contains("1 passed"), "child run of {test} ran no test:\n{text}");
    for line in text.lines().filter(|l| l.starts_with("skipped:")) {
        eprintln!("{line}");
    }
}

#[test]
fn no_sqarray_probe_does_not_cache_a_transient_failure() {
    const CHILD: &str = "RINGWISE_CORE_REVIEW_CHILD";
    if std::env::var_os(CHILD).is_none() {
        rerun_alone("no_sqarray_probe_does_not_cache_a_transient_failure", CHILD);
        return;
    }
    // In the child: a fresh process, where nothing has probed yet.
    if ringwise::probe::try_setup_flags(SetupFlags::NO_SQARRAY).is_err() {
        skip("this kernel refuses NO_SQARRAY (Linux 6.6)");
        return;
    }
    // (That trial is not the builder's cache.) Make every new fd fail with
    // EMFILE: the lowest free fd number becomes the limit.
    let lowest_free = rustix::io::dup(std::io::stdin().as_fd()).expect("dup");
    let limit = lowest_free.as_raw_fd() as u64;
    drop(lowest_free);
    let old = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit { current: Some(limit), maximum: old.maximum },
    )
    .expect("lower RLIMIT_NOFILE");
    let starved = Builder::<Sqe64, Cqe16>::new(8).layout().expect("layout needs no fd");
    rustix::process::setrlimit(rustix::process::Resource::Nofile, old).expect("restore RLIMIT_NOFILE");
    assert!(!starved.flags().contains(SetupFlags::NO_SQARRAY), "the probe could not run without an fd");
    // With fds to spare again, the probe runs again and finds the flag.
    let layout = Builder::<Sqe64, Cqe16>::new(8).layout().expect("layout");
    assert!(
        layout.flags().contains(SetupFlags::NO_SQARRAY),
        "the EMFILE of the first probe was kept as \"no NO_SQARRAY\": {:?}",
        layout.flags()
    );
    let mut ring: Ring = Ring::new(8).expect("ring");
    assert!(ring.setup_flags().contains(SetupFlags::NO_SQARRAY));
    nop_round_trip(&mut ring, 8, 0);
}

#[test]
fn huge_page_failure_reports_the_2mb_pool() {
    // A terabyte of 2 MiB pages: no pool has that many.
    let err = Mapping::huge(1 << 40).expect_err("no machine reserves 1 TiB of huge pages");
    let text = err.to_string();
    assert!(text.contains("hugepages-2048kB"), "{text}");
    assert!(text.contains("524288 huge pages of 2 MiB were needed"), "{text}");
    if std::path::Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").is_dir() {
        assert!(text.contains(" free "), "{text}");
    }
}

#[test]
// Swapping temporaries is the point: what used to swap two rings' queues.
#[allow(clippy::swap_with_temporary)]
fn swapping_queue_handles_of_two_rings_swaps_only_borrows() {
    // Different sizes, so that a swapped queue would show.
    let mut a: Ring = Ring::new(4).expect("ring a");
    let mut b: Ring = Ring::new(16).expect("ring b");
    std::mem::swap(&mut a.submission(), &mut b.submission());
    std::mem::swap(&mut a.completion(), &mut b.completion());
    std::mem::swap(&mut a.queues(), &mut b.queues());
    assert_eq!((a.submission().capacity(), b.submission().capacity()), (4, 16));
    assert_eq!((a.completion().capacity(), b.completion().capacity()), (8, 32));
    {
        // Bound handles, swapped: each borrows the other ring for as long as
        // both borrows last, and pushes go there.
        let (mut sa, mut ca) = a.queues();
        let (mut sb, mut cb) = b.queues();
        std::mem::swap(&mut sa, &mut sb);
        std::mem::swap(&mut ca, &mut cb);
        assert_eq!((sa.capacity(), ca.capacity(), sb.capacity(), cb.capacity()), (16, 32, 4, 8));
        sa.push(Nop::new().user_data(0xb)).expect("room in b");
        sb.push(Nop::new().user_data(0xa)).expect("room in a");
    }
    assert_eq!((a.submission().len(), b.submission().len()), (1, 1));
    for (ring, want) in [(&mut a, 0xa), (&mut b, 0xb)] {
        let s = ring.submit_and_wait(1).expect("submit");
        assert_eq!((s.consumed, s.remaining), (1, 0));
        assert_eq!(common::reap_user_data(ring, 1), [want]);
    }
    // Dropping one ring leaves the other whole: many laps through all of
    // its slots, its memory and its queues its own.
    drop(b);
    for round in 0..16 {
        nop_round_trip(&mut a, 4, round << 8);
    }
    assert_eq!(a.submission().capacity(), 4);
}

extern "C" {
    /// libc's `fork(3)` (which runs `pthread_atfork` handlers).
    fn fork() -> i32;
    /// Leave the forked child without running anything of the parent's.
    fn _exit(status: i32) -> !;
}

/// In a forked child: enter the parent's ring `a` after a ring of the
/// child's own took the same registered index. 0 if `a` reached its own
/// kernel ring, 2 if the indices differ (nothing to show).
fn in_forked_child(a: &mut Ring) -> i32 {
    let mut b: Ring = Ring::new(4).expect("child's ring");
    nop_round_trip(&mut b, 1, 0xb0);
    if b.registered_index() != a.registered_index() {
        eprintln!("child: ring b got index {:?}, a has {:?}", b.registered_index(), a.registered_index());
        return 2;
    }
    a.submission().push(Nop::new().user_data(0xa)).expect("room");
    // No wait here: entered through the wrong ring, it would wait forever.
    let s = a.submit().expect("submit a");
    assert_eq!((s.consumed, s.remaining), (1, 0), "a's NOP must reach a's kernel ring, not b's");
    assert_eq!(common::reap_user_data(a, 1), [0xa]);
    assert!(b.completion().is_empty(), "ring b got a CQE");
    0
}

#[test]
fn forked_child_does_not_enter_through_the_parents_ring_index() {
    const CHILD: &str = "RINGWISE_CORE_REVIEW_FORK_CHILD";
    if std::env::var_os(CHILD).is_none() {
        // Fork from a process of its own, where no other test runs.
        rerun_alone("forked_child_does_not_enter_through_the_parents_ring_index", CHILD);
        return;
    }
    let mut a: Ring = Ring::new(4).expect("ring a");
    nop_round_trip(&mut a, 1, 1);
    let Some(index) = a.registered_index() else {
        skip("the ring fd could not be registered (Linux 5.18)");
        return;
    };
    // SAFETY: this process runs this test alone; the child only uses its
    // own copies and leaves with _exit, never returning into the harness.
    let pid = unsafe { fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| in_forked_child(&mut a))).unwrap_or(101);
        // SAFETY: ends the child at once; nothing of the parent's state is
        // torn down twice (no destructors run, ring `a` stays the parent's).
        unsafe { _exit(code) };
    }
    let pid = rustix::process::Pid::from_raw(pid).expect("child pid");
    let (_, status) = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
        .expect("waitpid")
        .expect("the child's status");
    match status.exit_status() {
        Some(0) => {}
        Some(2) => skip(format!("the child's own ring did not take index {index}; nothing to show")),
        other => panic!("the forked child failed ({other:?}, status {status:?}); see its output above"),
    }
}

#[test]
fn ring_dropped_in_a_forked_child_leaves_the_parents_requests_alone() {
    const CHILD: &str = "RINGWISE_CORE_REVIEW_FORK_DROP_CHILD";
    if std::env::var_os(CHILD).is_none() {
        rerun_alone("ring_dropped_in_a_forked_child_leaves_the_parents_requests_alone", CHILD);
        return;
    }
    let mut ring: Ring = Ring::new(4).expect("ring");
    nop_round_trip(&mut ring, 1, 1);
    if ring.registered_index().is_none() {
        skip("the ring fd could not be registered (Linux 5.18)");
        return;
    }
    // A read that waits for the pipe, in flight across the fork.
    let (r, w) = common::pipe();
    let mut buf = [0u8; 8];
    let read = ringwise::op::Read::new(r.as_raw_fd(), buf.as_mut_ptr(), buf.len() as u32).user_data(0x5ead);
    // SAFETY: `buf` outlives the read: its CQE is reaped below before `buf`
    // goes out of scope, and nothing else touches `buf` meanwhile.
    unsafe { ring.submission().push_unchecked(read) }.expect("room");
    assert_eq!(ring.submit().expect("submit").consumed, 1);
    // SAFETY: this process runs this test alone; the child only drops its
    // copy of the ring and leaves with _exit.
    let pid = unsafe { fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // Dropping the inherited ring (another thread's registration, as far
        // as the child can tell) must not cancel the parent's requests.
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(ring))).map_or(101, |()| 0);
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { _exit(code) };
    }
    let pid = rustix::process::Pid::from_raw(pid).expect("child pid");
    let (_, status) = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
        .expect("waitpid")
        .expect("the child's status");
    assert_eq!(status.exit_status(), Some(0), "child {status:?}");
    rustix::io::write(&w, b"parent!\n").expect("write");
    let got = common::reap_all(&mut ring, 1, Duration::from_secs(5));
    assert_eq!(got, [(0x5ead, 8)], "the parent's read was cancelled by the child's drop (-125 is ECANCELED)");
    assert_eq!(&buf, b"parent!\n");
}
