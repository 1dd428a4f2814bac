//! Every Linux 6.18 setup flag builds a working ring (NOP round trips with
//! user_data checks, past the SQ and CQ wrap), and the companion-flag rules
//! are refused before the syscall with errors that name the flags; the
//! library's rules agree with the kernel, errno for errno, for every
//! combination of up to three flags.

mod common;

use common::*;
use ringwise::layout::RingSpec;
use ringwise::op::Target;
use ringwise::op::{Fsync, Nop, Read, Write};
use ringwise::probe::setup_flags_accepted;
use ringwise::raw::abi;
use ringwise::{
    errno_name, Arena, Builder, Cqe16, Cqe32, CqeMixed, CqeSize, Error, Mapping, Pages, Ring, SetupFlags, Sqe128,
    Sqe64, SqeFlags, SqeSize,
};
use rustix::io::Errno;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Several round trips, together more than the SQ and CQ sizes, so that the
/// indices wrap.
fn exercise<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>) {
    let cap = ring.submission().capacity();
    let batch = cap.min(16);
    let rounds = (2 * ring.completion().capacity() / batch + 2).min(64);
    for r in 0..rounds {
        nop_round_trip(ring, batch, (r as u64) << 32);
    }
}

fn kernel_has(flags: SetupFlags) -> bool {
    if setup_flags_accepted(flags) {
        true
    } else {
        skip(format!("this kernel does not accept setup flags [{}]", flags.names()));
        false
    }
}

fn read_file(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Poll `cond` every millisecond for up to `limit`.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn default_ring() {
    let mut ring = Ring::new(8).unwrap();
    assert_eq!(ring.params().sq_entries, 8);
    assert_eq!(ring.params().cq_entries, 16);
    exercise(&mut ring);
    assert!(ring.registered_index().is_some(), "the ring fd is registered by default");
}

#[test]
fn iopoll_accepts_nop_refuses_unpolled_ops() {
    if !kernel_has(SetupFlags::IOPOLL) {
        return;
    }
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).iopoll().build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::IOPOLL));
    exercise(&mut ring);

    // What else IOPOLL accepts: ops without polling support (FSYNC) are
    // refused with EINVAL when prepared; READ is accepted by opcode, but a
    // file that cannot be polled (no O_DIRECT on a pollable device) fails
    // with EOPNOTSUPP when issued.
    let file = TempFile::with_contents("iopoll", b"data");
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    ring.submission().push(Fsync::new(unsafe { Target::from_fd(file.as_fd()) }).user_data(1)).unwrap();
    let s = ring.submit().unwrap();
    assert_eq!(s.consumed, 1);
    let got = reap_all(&mut ring, 1, Duration::from_secs(5));
    assert_eq!(got, vec![(1, -libc_errno::EINVAL)], "FSYNC on an IOPOLL ring");

    let mut buf = [0u8; 4];
    // SAFETY: `buf` outlives the op: its CQE is reaped below.
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission()
            .push_unchecked(Read::new(Target::from_fd(file.as_fd()), buf.as_mut_ptr(), 4).offset(0).user_data(2))
    }
    .unwrap();
    ring.submit().unwrap();
    let got = reap_all(&mut ring, 1, Duration::from_secs(5));
    assert_eq!(got, vec![(2, -libc_errno::EOPNOTSUPP)], "buffered READ on an IOPOLL ring");

    // Ops that never poll a device are refused when prepared: POLL_ADD (6),
    // TIMEOUT (11), SEND (26), RECV (27), SPLICE (30).
    for opcode in [6u8, 11, 26, 27, 30] {
        // SAFETY: the SQE carries no pointers the kernel would use (it is
        // refused at prepare).
        unsafe {
            ring.submission().push_raw(|sqe| {
                *sqe = Default::default();
                sqe.opcode = opcode;
                sqe.fd = -1;
                sqe.user_data = opcode as u64;
            })
        }
        .unwrap();
        assert_eq!(ring.submit().unwrap().consumed, 1);
        let got = reap_all(&mut ring, 1, Duration::from_secs(5));
        assert_eq!(got, vec![(opcode as u64, -libc_errno::EINVAL)], "opcode {opcode} on an IOPOLL ring");
    }

    // O_DIRECT READ is what IOPOLL is for; it completes only where the block
    // device has poll queues, and is refused with EOPNOTSUPP elsewhere.
    use std::os::unix::fs::OpenOptionsExt;
    let data = TempFile::with_contents("iopoll-direct", &pattern(8192, 1));
    match std::fs::OpenOptions::new().read(true).custom_flags(0o40000).open(&data.path) {
        Ok(direct_file) => {
            let map = RawMap::new(4096, false).unwrap();
            // SAFETY: `map` (page-aligned, as O_DIRECT needs) outlives the
            // op, reaped below.
            // SAFETY: `direct_file` stays open until this test has reaped the op's CQE.
            unsafe {
                ring.submission().push_unchecked(
                    Read::new(Target::from_fd(direct_file.as_fd()), map.ptr, 4096).offset(0).user_data(3),
                )
            }
            .unwrap();
            ring.submit().unwrap();
            let got = reap_all(&mut ring, 1, Duration::from_secs(5));
            match got[..] {
                [(3, 4096)] => {
                    // SAFETY: the read completed; 4096 bytes of our mapping.
                    let read = unsafe { std::slice::from_raw_parts(map.ptr, 4096) };
                    assert_eq!(read, &pattern(8192, 1)[..4096]);
                    eprintln!("O_DIRECT READ polled to completion");
                }
                [(3, res)] if res == -libc_errno::EOPNOTSUPP => {
                    eprintln!("O_DIRECT READ: EOPNOTSUPP (the device of the temp dir has no poll queues)")
                }
                _ => panic!("O_DIRECT READ on an IOPOLL ring: {got:?}"),
            }
        }
        Err(e) => skip(format!("the temp dir does not support O_DIRECT ({e}); polled read not tried")),
    }
    exercise(&mut ring);
}

#[test]
fn hybrid_iopoll() {
    if !kernel_has(SetupFlags::IOPOLL | SetupFlags::HYBRID_IOPOLL) {
        return;
    }
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).hybrid_iopoll().build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::IOPOLL | SetupFlags::HYBRID_IOPOLL));
    exercise(&mut ring);
}

/// The SQPOLL thread of this process whose allowed CPU list is `cpus`.
fn sqpoll_threads() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return out };
    for task in tasks.flatten() {
        let dir = task.path();
        let comm = read_file(&format!("{}/comm", dir.display()));
        if comm.starts_with("iou-sqp") {
            let status = read_file(&format!("{}/status", dir.display()));
            let cpus = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            out.push((comm.trim().to_string(), cpus));
        }
    }
    out
}

/// The SQPOLL thread sleeps after `idle`, sets NEED_WAKEUP, and `submit`
/// wakes it: the CQE then appears without any further syscall from us.
fn check_sqpoll_sleep_and_wake<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>) {
    for round in 0..3u64 {
        let need_wakeup =
            eventually(Duration::from_secs(5), || ring.submission().ring_flags() & abi::IORING_SQ_NEED_WAKEUP != 0);
        assert!(need_wakeup, "the SQPOLL thread never went to sleep (NEED_WAKEUP not set)");
        ring.submission().push(Nop::new().user_data(1000 + round)).unwrap();
        ring.submit().unwrap();
        // No wait: only the woken SQPOLL thread can consume and complete it.
        let mut seen = None;
        let arrived = eventually(Duration::from_secs(5), || {
            seen = ring.completion().next().map(|c| C::base(&c).user_data);
            seen.is_some()
        });
        assert!(arrived, "submit did not wake the SQPOLL thread");
        assert_eq!(seen, Some(1000 + round));
        assert!(ring.submission().is_empty());
    }
    assert_eq!(ring.submission().dropped(), 0);
}

#[test]
fn sqpoll_sleeps_and_wakes() {
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).sqpoll(Duration::from_millis(5)).build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::SQPOLL));
    exercise(&mut ring);
    check_sqpoll_sleep_and_wake(&mut ring);
    exercise(&mut ring);
}

#[test]
fn sqpoll_with_cpu_affinity() {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let cpu = (cpus - 1) as u32;
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).sqpoll(Duration::from_millis(5)).sq_thread_cpu(cpu).build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::SQPOLL | SetupFlags::SQ_AFF));
    exercise(&mut ring);
    // The kernel pins its SQPOLL thread ("iou-sqp-<pid>") to that CPU.
    let threads = sqpoll_threads();
    if cpus > 1 {
        assert!(
            threads.iter().any(|(_, allowed)| allowed == &cpu.to_string()),
            "no SQPOLL thread pinned to CPU {cpu}: {threads:?}"
        );
    }
    check_sqpoll_sleep_and_wake(&mut ring);
}

#[test]
fn cqsize() {
    let mut ring = Builder::<Sqe64, Cqe16>::new(4).cq_entries(100).build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::CQSIZE));
    assert_eq!(ring.params().sq_entries, 4);
    assert_eq!(ring.params().cq_entries, 128);
    assert_eq!(ring.completion().capacity(), 128);
    exercise(&mut ring);
}

#[test]
fn clamp() {
    let mut ring = Builder::<Sqe64, Cqe16>::new(100_000).clamp().build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::CLAMP));
    assert_eq!(ring.params().sq_entries, 32768);
    assert_eq!(ring.params().cq_entries, 65536);
    assert_eq!(ring.layout().sq_entries(), 32768);
    nop_round_trip(&mut ring, 32768, 0);
    nop_round_trip(&mut ring, 32768, 1 << 32);
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).cq_entries(1_000_000).clamp().build().unwrap();
    assert_eq!(ring.params().cq_entries, 65536);
    exercise(&mut ring);
}

#[test]
fn attach_wq() {
    let mut first = Ring::new(8).unwrap();
    let mut second = Builder::<Sqe64, Cqe16>::new(8).attach_wq(first.fd().unwrap()).build().unwrap();
    assert!(second.setup_flags().contains(SetupFlags::ATTACH_WQ));
    // ASYNC NOPs run on the shared io-wq workers.
    for ring in [&mut first, &mut second] {
        for i in 0..8 {
            ring.submission().push(Nop::new().user_data(i).flags(SqeFlags::ASYNC)).unwrap();
        }
        assert_eq!(ring.submit_and_wait(8).unwrap().consumed, 8);
        let mut got = reap_user_data(ring, 8);
        got.sort_unstable();
        assert_eq!(got, (0..8).collect::<Vec<_>>());
    }
    exercise(&mut second);
    // Attaching to something that is not a ring is refused by the kernel.
    let (r, _w) = pipe();
    let err = Builder::<Sqe64, Cqe16>::new(8).attach_wq(r.as_fd()).build().unwrap_err();
    assert!(matches!(err, Error::Kernel { .. }), "{err}");
    assert!(err.to_string().contains("ATTACH_WQ"), "{err}");
}

#[test]
fn r_disabled_refuses_until_enabled() {
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).disabled().build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::R_DISABLED));
    ring.submission().push(Nop::new().user_data(7)).unwrap();
    let err = ring.submit().unwrap_err();
    assert_eq!(err.errno(), rustix::io::Errno::BADFD, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("R_DISABLED") && msg.contains("enable"), "the error must say what to do: {msg}");
    assert_eq!(ring.submission().len(), 1, "the NOP stays queued");
    ring.enable().unwrap();
    // The NOP queued before enabling goes now, exactly once.
    let s = ring.submit_and_wait(1).unwrap();
    assert_eq!((s.consumed, s.remaining), (1, 0));
    assert_eq!(reap_user_data(&mut ring, 1), vec![7]);
    exercise(&mut ring);
    // Enabling twice is refused by the kernel.
    assert!(ring.enable().is_err());
}

#[test]
fn submit_all() {
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).submit_all().build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::SUBMIT_ALL));
    exercise(&mut ring);
    let mut sq = ring.submission();
    sq.push(Nop::new().user_data(1)).unwrap();
    // SAFETY: an SQE with an unknown opcode and no pointers.
    unsafe {
        sq.push_raw(|sqe| {
            *sqe = Default::default();
            sqe.opcode = 250;
            sqe.user_data = 2;
        })
    }
    .unwrap();
    sq.push(Nop::new().user_data(3)).unwrap();
    let s = ring.submit_and_wait(3).unwrap();
    assert_eq!((s.consumed, s.remaining, s.stopped_after), (3, 0, None));
    let got = reap_all(&mut ring, 3, Duration::from_secs(5));
    assert_eq!(got, vec![(1, 0), (2, -libc_errno::EINVAL), (3, 0)]);
}

/// A pipe read completes through task work; with TASKRUN_FLAG the kernel
/// flags it in the SQ flags, and `completions()` runs it.
fn pipe_read_through_task_work<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, expect_flag: bool) {
    let (r, w) = pipe();
    let mut buf = [0u8; 8];
    // SAFETY: `buf` outlives the op; the CQE is reaped below.
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission().push_unchecked(Read::new(Target::from_fd(r.as_fd()), buf.as_mut_ptr(), 8).user_data(42))
    }
    .unwrap();
    assert_eq!(ring.submit().unwrap().consumed, 1);
    assert!(ring.completion().is_empty(), "the pipe is empty: no CQE yet");
    rustix::io::write(&w, b"hello").unwrap();
    if expect_flag {
        let flagged = eventually(Duration::from_secs(5), || {
            ring.submission().ring_flags() & abi::IORING_SQ_TASKRUN != 0 || !ring.completion().is_empty()
        });
        assert!(flagged, "TASKRUN_FLAG: IORING_SQ_TASKRUN never set");
    }
    let got = reap_all(ring, 1, Duration::from_secs(5));
    assert_eq!(got, vec![(42, 5)]);
    assert_eq!(&buf[..5], b"hello");
}

#[test]
fn coop_taskrun_and_taskrun_flag() {
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).coop_taskrun().build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::COOP_TASKRUN));
    exercise(&mut ring);
    pipe_read_through_task_work(&mut ring, false);

    let mut ring = Builder::<Sqe64, Cqe16>::new(8).coop_taskrun().taskrun_flag().build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::COOP_TASKRUN | SetupFlags::TASKRUN_FLAG));
    exercise(&mut ring);
    pipe_read_through_task_work(&mut ring, true);
    exercise(&mut ring);
}

#[test]
fn sqe128() {
    let mut ring = Builder::<Sqe128, Cqe16>::new(8).build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::SQE128));
    assert_eq!(ring.layout().sqe_bytes(), 128);
    exercise(&mut ring);
}

#[test]
fn cqe32() {
    let mut ring = Builder::<Sqe64, Cqe32>::new(8).build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::CQE32));
    assert_eq!(ring.layout().cqe_slot_bytes(), 32);
    exercise(&mut ring);
    let mut ring = Builder::<Sqe128, Cqe32>::new(8).build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::CQE32 | SetupFlags::SQE128));
    exercise(&mut ring);
}

#[test]
fn single_issuer() {
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).single_issuer().build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::SINGLE_ISSUER));
    exercise(&mut ring);
    // Another thread may not submit: the kernel says EEXIST.
    let ring = std::thread::spawn(move || {
        ring.submission().push(Nop::new().user_data(1)).unwrap();
        let err = ring.submit().unwrap_err();
        assert_eq!(err.errno(), rustix::io::Errno::EXIST, "{err}");
        assert!(err.to_string().contains("SINGLE_ISSUER"), "{err}");
        ring
    })
    .join()
    .unwrap();
    drop(ring);
}

#[test]
fn defer_taskrun() {
    if !kernel_has(SetupFlags::SINGLE_ISSUER | SetupFlags::DEFER_TASKRUN) {
        return;
    }
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).single_issuer().defer_taskrun().build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::DEFER_TASKRUN | SetupFlags::SINGLE_ISSUER));
    exercise(&mut ring);
    // A pipe read's completion is deferred until the issuer waits.
    let (r, w) = pipe();
    let mut buf = [0u8; 8];
    // SAFETY: `buf` outlives the op; the CQE is reaped below.
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission().push_unchecked(Read::new(Target::from_fd(r.as_fd()), buf.as_mut_ptr(), 8).user_data(9))
    }
    .unwrap();
    ring.submit().unwrap();
    rustix::io::write(&w, b"abc").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert!(ring.completion().is_empty(), "DEFER_TASKRUN posts nothing until the issuer waits");
    assert_eq!(ring.wait(1).unwrap(), 1);
    assert_eq!(reap_all(&mut ring, 1, Duration::from_secs(1)), vec![(9, 3)]);

    let mut ring = Builder::<Sqe64, Cqe16>::new(8).single_issuer().defer_taskrun().taskrun_flag().build().unwrap();
    pipe_read_through_task_work(&mut ring, true);
    exercise(&mut ring);
}

#[test]
fn no_mmap_in_caller_and_library_memory() {
    let b = Builder::<Sqe64, Cqe16>::new(16);
    let layout = b.layout().unwrap();
    let mut ring = b.build_in(Mapping::anonymous(layout.total_bytes()).unwrap()).unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::NO_MMAP));
    assert_eq!(ring.memory_report().rings_bytes, layout.rings_bytes());
    exercise(&mut ring);

    let mut ring = Builder::<Sqe128, Cqe32>::new(64).build_allocated(Pages::Normal).unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::NO_MMAP));
    assert!(ring.memory_report().kind.contains("normal pages"), "{:?}", ring.memory_report());
    exercise(&mut ring);

    let b = Builder::<Sqe64, Cqe16>::new(32);
    let l = b.layout().unwrap();
    let mut ring = b
        .build_in_regions(Mapping::anonymous(l.rings_bytes()).unwrap(), Mapping::anonymous(l.sqes_bytes()).unwrap())
        .unwrap();
    exercise(&mut ring);

    // Huge pages where there are some, normal pages (with the reason kept)
    // where not: either way the ring works.
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).build_allocated(Pages::Huge).unwrap();
    eprintln!("Pages::Huge gave: {}", ring.memory_report().kind);
    exercise(&mut ring);

    // Several rings carved from one arena, each in its own page-aligned
    // piece, used side by side.
    let mut arena = Arena::new(1 << 21, Pages::Huge).unwrap();
    let mut rings = Vec::new();
    for _ in 0..4 {
        let b = Builder::<Sqe64, CqeMixed>::new(32);
        let carve = arena.carve(&b.layout().unwrap()).unwrap();
        rings.push(b.build_in(carve).unwrap());
    }
    for (i, ring) in rings.iter_mut().enumerate() {
        nop_round_trip(ring, 32, (i as u64) << 32);
    }
    let addrs: Vec<usize> = rings.iter().map(|r| r.memory_report().rings_addr).collect();
    for w in addrs.windows(2) {
        assert!(w[1] >= w[0] + rings[0].layout().total_bytes(), "carves overlap: {addrs:x?}");
    }
    for (i, ring) in rings.iter_mut().enumerate() {
        exercise(ring);
        nop_round_trip(ring, 32, (i as u64) << 40);
    }
}

#[test]
fn registered_fd_only() {
    if !kernel_has(SetupFlags::NO_MMAP | SetupFlags::REGISTERED_FD_ONLY) {
        return;
    }
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).registered_fd_only().build_allocated(Pages::Normal).unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::REGISTERED_FD_ONLY | SetupFlags::NO_MMAP));
    assert!(ring.fd().is_none(), "no fd");
    assert_eq!(ring.as_raw_fd(), -1);
    assert!(ring.registered_index().is_some());
    exercise(&mut ring);
    drop(ring);
    // A thread can hold at most 16 registered rings: dropping must
    // unregister, or this loop runs out of slots.
    for i in 0..40u64 {
        let mut ring =
            Builder::<Sqe64, Cqe16>::new(4).registered_fd_only().build_allocated(Pages::Normal).unwrap_or_else(|e| {
                panic!("ring {i}: {e} (the previous rings were not unregistered on drop?)");
            });
        nop_round_trip(&mut ring, 4, i);
    }
    // Kept at once, the 17th does not fit the thread's table.
    let mut kept = Vec::new();
    let err = loop {
        match Builder::<Sqe64, Cqe16>::new(4).registered_fd_only().build_allocated(Pages::Normal) {
            Ok(r) => kept.push(r),
            Err(e) => break e,
        }
        assert!(kept.len() <= 16, "more than 16 registered rings in one thread");
    };
    assert_eq!(kept.len(), 16, "{err}");
}

#[test]
fn registered_fd_only_ring_on_another_thread_is_refused() {
    if !kernel_has(SetupFlags::NO_MMAP | SetupFlags::REGISTERED_FD_ONLY) {
        return;
    }
    let ring = Builder::<Sqe64, Cqe16>::new(8).registered_fd_only().build_allocated(Pages::Normal).unwrap();
    let index = ring.registered_index().unwrap();
    let mut moved = std::thread::spawn(move || {
        let mut ring = ring;
        // This thread has its own ring at the same registered index: the
        // moved ring must not reach it.
        let mut own = Builder::<Sqe64, Cqe16>::new(8).registered_fd_only().build_allocated(Pages::Normal).unwrap();
        assert_eq!(own.registered_index(), Some(index));
        ring.submission().push(Nop::new().user_data(1)).unwrap();
        let err = ring.submit().unwrap_err();
        assert!(err.to_string().contains("thread that created it"), "{err}");
        assert!(own.completion().is_empty(), "the moved ring entered this thread's ring");
        nop_round_trip(&mut own, 8, 0);
        ring
    })
    .join()
    .unwrap();
    // Back on its own thread it works again, including the queued NOP.
    let s = moved.submit_and_wait(1).unwrap();
    assert_eq!(s.consumed, 1);
    assert_eq!(reap_user_data(&mut moved, 1), vec![1]);
    exercise(&mut moved);
}

#[test]
fn no_sqarray_by_default_and_kept_on_request() {
    if !kernel_has(SetupFlags::NO_SQARRAY) {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::NO_SQARRAY));
    assert_eq!(ring.layout().sq_array_offset(), None);
    exercise(&mut ring);

    let mut ring = Builder::<Sqe64, Cqe16>::new(8).keep_sq_array().build().unwrap();
    assert!(!ring.setup_flags().contains(SetupFlags::NO_SQARRAY));
    assert_eq!(ring.layout().sq_array_offset(), Some(ring.params().sq_off.array as usize));
    exercise(&mut ring);

    let mut ring = Builder::<Sqe64, Cqe16>::new(8).keep_sq_array().build_allocated(Pages::Normal).unwrap();
    assert!(!ring.setup_flags().contains(SetupFlags::NO_SQARRAY));
    exercise(&mut ring);
}

#[test]
fn cqe_mixed_big_and_small_over_wraps() {
    if !kernel_has(SetupFlags::CQE_MIXED) {
        return;
    }
    let mut ring = Builder::<Sqe64, CqeMixed>::new(8).build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::CQE_MIXED));
    let slots = ring.completion().capacity();
    assert_eq!(slots, 16);
    // Simulate the kernel's tail to know where it must post SKIP fillers:
    // a big CQE never starts in the last slot.
    let mut tail: u32 = 0;
    let mut fillers = 0;
    let mut seq = 0u64;
    let big = |n: u64| n % 3 == 0 || n % 7 == 0;
    for round in 0..120u64 {
        let batch = 1 + (round % 5) as u32;
        let mut expect_slots = 0;
        for _ in 0..batch {
            let op = Nop::new().user_data(seq);
            let op = if big(seq) { op.big_cqe() } else { op };
            ring.submission().push(op).unwrap();
            if big(seq) {
                if tail % slots == slots - 1 {
                    tail += 1;
                    expect_slots += 1;
                    fillers += 1;
                }
                tail += 2;
                expect_slots += 2;
            } else {
                tail += 1;
                expect_slots += 1;
            }
            seq += 1;
        }
        let first = seq - batch as u64;
        let s = ring.submit_and_wait(batch).unwrap();
        assert_eq!(s.consumed, batch);
        assert_eq!(ring.completion().len(), expect_slots, "slots used by round {round}, fillers included");
        let got: Vec<(u64, bool, i32)> =
            ring.completions().unwrap().map(|c| (c.user_data, c.is_big(), c.res)).collect();
        let want: Vec<(u64, bool, i32)> = (first..seq).map(|n| (n, big(n), 0)).collect();
        assert_eq!(got, want, "round {round}");
        assert!(ring.completion().is_empty());
    }
    assert!(fillers > 5, "the test must make the kernel post SKIP fillers (saw {fillers})");
    assert_eq!(ring.completion().overflow(), 0);
    // peek skips fillers too: leave a filler at the head.
    let mut t = tail;
    while t % slots != slots - 1 {
        ring.submission().push(Nop::new().user_data(1 << 40)).unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(ring.completion().next().map(|c| c.user_data), Some(1 << 40));
        t += 1;
    }
    ring.submission().push(Nop::new().big_cqe().user_data(77)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completion().len(), 3, "filler + big CQE");
    let peeked = ring.completion().peek().unwrap();
    assert!(peeked.is_big() && !peeked.is_skip());
    assert_eq!(peeked.user_data, 77);
    assert_eq!(ring.completion().next().unwrap().user_data, 77);
    assert!(ring.completion().is_empty());
}

#[test]
fn companion_rules_are_refused_before_the_syscall() {
    fn check<S: SqeSize, C: CqeSize>(b: Builder<S, C>, names: &[&str]) {
        let err = b.build().unwrap_err();
        assert!(
            matches!(err, Error::MissingCompanion { .. } | Error::FlagConflict { .. }),
            "must be refused by ringwise, not the kernel: {err:?}"
        );
        assert_eq!(err.errno_name(), "EINVAL");
        let msg = err.to_string();
        for name in names {
            assert!(msg.contains(name), "{msg:?} must name {name}");
        }
    }
    let b = || Builder::<Sqe64, Cqe16>::new(8);
    check(b().sq_thread_cpu(0), &["SQ_AFF", "SQPOLL"]);
    check(b().taskrun_flag(), &["TASKRUN_FLAG", "COOP_TASKRUN", "DEFER_TASKRUN"]);
    check(b().defer_taskrun(), &["DEFER_TASKRUN", "SINGLE_ISSUER"]);
    check(b().setup_flags(SetupFlags::HYBRID_IOPOLL), &["HYBRID_IOPOLL", "IOPOLL"]);
    check(b().sqpoll(Duration::from_millis(10)).coop_taskrun(), &["SQPOLL", "COOP_TASKRUN"]);
    check(b().sqpoll(Duration::from_millis(10)).single_issuer().defer_taskrun(), &["SQPOLL", "DEFER_TASKRUN"]);
    check(b().registered_fd_only(), &["REGISTERED_FD_ONLY", "NO_MMAP"]);
    // The same rules apply in caller memory (where NO_MMAP is set).
    let err = b().sq_thread_cpu(0).build_allocated(Pages::Normal).unwrap_err();
    assert!(matches!(err, Error::MissingCompanion { flag: SetupFlags::SQ_AFF, .. }), "{err}");
    let err = b().registered_fd_only().build_in(Mapping::anonymous(1 << 16).unwrap());
    assert!(err.is_ok(), "REGISTERED_FD_ONLY is fine in caller memory: {err:?}");
}

#[test]
fn size_flags_by_hand_are_refused() {
    let err = Builder::<Sqe64, Cqe16>::new(8).setup_flags(SetupFlags::SQE128).build().unwrap_err();
    assert!(
        matches!(err, Error::EntryTypeMismatch { found: SetupFlags::SQE128, .. }),
        "SQE128 by hand on Sqe64: {err:?}"
    );
    let err = Builder::<Sqe64, Cqe16>::new(8).setup_flags(SetupFlags::CQE32).build().unwrap_err();
    assert!(matches!(err, Error::EntryTypeMismatch { found: SetupFlags::CQE32, .. }), "{err:?}");
    // Even when the types agree, hand-set size flags are refused: the types
    // are the only source.
    let err = Builder::<Sqe128, Cqe32>::new(8).setup_flags(SetupFlags::SQE128).build().unwrap_err();
    assert!(matches!(err, Error::EntryTypeMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("SQE128"), "{err}");
    let err = Builder::<Sqe64, Cqe16>::new(8).setup_flags(SetupFlags::CQE_MIXED).build_allocated(Pages::Normal);
    assert!(matches!(err, Err(Error::EntryTypeMismatch { .. })), "{err:?}");
}

#[test]
fn ring_write_then_read_works_under_every_flag_set() {
    // A real I/O op (not only NOPs) under the flag sets that change how
    // completions are delivered.
    type B = Builder<Sqe64, Cqe16>;
    let builders: Vec<(&str, B)> = vec![
        ("plain", B::new(4)),
        ("sqpoll", B::new(4).sqpoll(Duration::from_millis(5))),
        ("coop", B::new(4).coop_taskrun().taskrun_flag()),
        ("defer", B::new(4).single_issuer().defer_taskrun()),
        ("submit_all", B::new(4).submit_all()),
    ];
    for (name, b) in builders {
        let mut ring = b.build().unwrap_or_else(|e| panic!("{name}: {e}"));
        let file = TempFile::new(name);
        let data = pattern(4096, 3);
        // SAFETY: `data` outlives the op; its CQE is reaped below.
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        unsafe {
            ring.submission()
                .push_unchecked(Write::new(Target::from_fd(file.as_fd()), data.as_ptr(), 4096).offset(0).user_data(1))
        }
        .unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(reap_all(&mut ring, 1, Duration::from_secs(5)), vec![(1, 4096)], "{name}");
        let mut back = vec![0u8; 4096];
        // SAFETY: `back` outlives the op; its CQE is reaped below.
        unsafe {
            // The target: `file.fd()` stays open until this test has reaped the op's CQE.
            ring.submission()
                .push_unchecked(Read::new(Target::fd(file.fd()), back.as_mut_ptr(), 4096).offset(0).user_data(2))
        }
        .unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(reap_all(&mut ring, 1, Duration::from_secs(5)), vec![(2, 4096)], "{name}");
        assert_eq!(back, data, "{name}");
    }
}

/// errno values as negative CQE results.
mod libc_errno {
    pub const EINVAL: i32 = 22;
    pub const EOPNOTSUPP: i32 = 95;
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
