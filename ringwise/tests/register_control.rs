//! Personalities, restrictions, io-wq settings, registered ring fds and
//! synchronous cancellation, each checked for its effect on the running
//! kernel; a CPU number too big for the affinity mask is an error, and a
//! ring's own registered slot cannot be unregistered by hand.

mod common;

use common::*;
use ringwise::op::Target;
use ringwise::op::{Nop, Read};
use ringwise::raw::{abi, sys};
use ringwise::register::iowq::MaxWorkers;
use ringwise::register::{CancelSpec, Restriction};
use ringwise::{Builder, Cqe16, Error, Pages, Ring, Sqe, Sqe64, SqeFlags};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

const OP_NOP: u8 = 0;

const OP_OPENAT: u8 = 18;

const OP_READ: u8 = 22;

const AT_FDCWD: i32 = -100;

/// Queue a READ of `buf` from `fd` (a pipe: it waits for data).
fn push_read(ring: &mut Ring, fd: &OwnedFd, buf: &mut [u8], user_data: u64, flags: SqeFlags) {
    // SAFETY: every caller keeps `buf` alive until the op's CQE is reaped.
    unsafe {
        ring.submission().push_unchecked(
            // The target: `fd` stays open until this test has reaped the op's CQE.
            Read::new(Target::fd(fd.as_raw_fd()), buf.as_mut_ptr(), buf.len() as u32).user_data(user_data).flags(flags),
        )
    }
    .unwrap();
}

fn openat(ring: &mut Ring, path: &std::ffi::CStr, personality: u16) -> i32 {
    // SAFETY: `path` outlives the op (we wait for the CQE).
    unsafe {
        ring.submission().push_raw(|sqe| {
            *sqe = Sqe { opcode: OP_OPENAT, fd: AT_FDCWD, addr: path.as_ptr() as u64, personality, ..Sqe::default() }
        })
    }
    .unwrap();
    ring.submit_and_wait(1).unwrap();
    let res = ring.completion().next().unwrap().res;
    if res >= 0 {
        // SAFETY: the CQE returned a new descriptor that nothing else owns.
        drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(res) });
    }
    res
}

#[test]
fn personality_carries_the_credentials_it_was_registered_with() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to register root credentials and drop them in a thread");
        return;
    }
    let path = std::env::temp_dir().join(format!("ringwise-personality-{}", std::process::id()));
    std::fs::File::create(&path).unwrap().write_all(b"secret").unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut ring = Ring::new(8).unwrap();
    let id = ring.register_personality().unwrap();
    let results = std::thread::spawn(move || {
        // This thread alone becomes `nobody` (per-thread setresuid) and
        // loses its capabilities.
        rustix::thread::set_thread_res_uid(
            rustix::process::Uid::from_raw(65534),
            rustix::process::Uid::from_raw(65534),
            rustix::process::Uid::from_raw(65534),
        )
        .unwrap();
        let plain = openat(&mut ring, &cpath, 0);
        let with_root = openat(&mut ring, &cpath, id);
        ring.unregister_personality(id).unwrap();
        let after = openat(&mut ring, &cpath, id);
        let err = ring.unregister_personality(id).unwrap_err();
        (plain, with_root, after, err.errno_name())
    })
    .join()
    .unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(results.0, -13, "EACCES as nobody");
    assert!(results.1 >= 0, "the registered root personality opens it: {}", results.1);
    assert_eq!(results.2, -22, "EINVAL: the personality is gone");
    assert_eq!(results.3, "EINVAL");
}

#[test]
fn restricted_ring_refuses_what_is_not_allowed() {
    let (r, _w) = rustix::pipe::pipe().unwrap();
    let mut ring: Ring = Builder::new(8).disabled().build().unwrap();
    let err = Ring::new(4).unwrap().register_restrictions(&[Restriction::SqeOp(OP_NOP)]).unwrap_err();
    assert_eq!(err.errno_name(), "EBADFD", "{err}");
    assert!(err.to_string().contains("disabled"), "{err}");

    ring.register_restrictions(&[
        Restriction::SqeOp(OP_NOP),
        Restriction::RegisterOp(abi::register_op::REGISTER_PROBE as u8),
        Restriction::SqeFlagsAllowed(SqeFlags::IO_LINK),
    ])
    .unwrap();
    let err = ring.register_restrictions(&[Restriction::SqeOp(OP_READ)]).unwrap_err();
    assert_eq!(err.errno_name(), "EBUSY", "{err}");
    ring.enable().unwrap();

    let mut buf = [0u8; 8];
    let mut got = Vec::new();
    // One at a time: a refused SQE stops the submission there.
    for i in 1..=4u64 {
        match i {
            1 => ring.submission().push(Nop::new().user_data(1)).unwrap(),
            2 => push_read(&mut ring, &r, &mut buf, 2, SqeFlags::empty()),
            3 => ring.submission().push(Nop::new().user_data(3).flags(SqeFlags::ASYNC)).unwrap(),
            _ => ring.submission().push(Nop::new().user_data(4).flags(SqeFlags::IO_LINK)).unwrap(),
        }
        ring.submit_and_wait(1).unwrap();
        got.extend(ring.completions().unwrap().map(|c| (c.user_data, c.res)));
    }
    assert_eq!(
        got,
        vec![(1, 0), (2, -13), (3, -13), (4, 0)],
        "NOP and IO_LINK allowed; READ and the ASYNC flag refused (EACCES)"
    );
    ringwise::probe::Probe::of(&ring).unwrap();
    let err = ring.register_personality().unwrap_err();
    assert_eq!(err.errno_name(), "EACCES", "{err}");
}

/// The CPUs allowed for this thread's io-wq worker threads (`iou-wrk-<tid>`).
fn worker_cpus() -> Vec<String> {
    let name = format!("iou-wrk-{}", rustix::thread::gettid().as_raw_nonzero());
    let mut cpus = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            if let Some(line) = status.lines().find(|l| l.starts_with("Cpus_allowed_list:")) {
                cpus.push(line.split_whitespace().nth(1).unwrap_or("").to_string());
            }
        }
    }
    cpus
}

#[test]
fn iowq_affinity_and_limits_reach_the_workers() {
    let (r, w) = rustix::pipe::pipe().unwrap();
    let mut ring = Ring::new(8).unwrap();
    // A first submission creates this thread's io-wq (no worker yet: the
    // NOP completes inline).
    ring.submission().push(Nop::new()).unwrap();
    ring.submit_and_wait(1).unwrap();
    ring.completion().next().unwrap();

    let before = ring.set_iowq_max_workers(MaxWorkers { bounded: 3, unbounded: 5 }).unwrap();
    assert!(before.bounded > 0 && before.unbounded > 0, "{before:?}");
    let now = ring.set_iowq_max_workers(MaxWorkers::default()).unwrap();
    assert_eq!(now, MaxWorkers { bounded: 3, unbounded: 5 }, "reading back what was set");

    ring.set_iowq_affinity(&[0]).unwrap();
    let mut buf = [0u8; 4];
    push_read(&mut ring, &r, &mut buf, 7, SqeFlags::ASYNC); // blocks in a worker
    ring.submit().unwrap();
    let mut cpus = Vec::new();
    for _ in 0..100 {
        cpus = worker_cpus();
        if !cpus.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!cpus.is_empty(), "an io-wq worker of this thread exists");
    assert!(cpus.iter().all(|c| c == "0"), "workers pinned to CPU 0: {cpus:?}");
    // Clearing lets later workers use every CPU (workers already running
    // keep theirs, so only the call is checked here).
    ring.clear_iowq_affinity().unwrap();
    rustix::io::write(&w, b"done").unwrap();
    ring.submit_and_wait(1).unwrap();
    let got: Vec<(u64, i32)> = ring.completions().unwrap().map(|c| (c.user_data, c.res)).collect();
    assert_eq!(got, vec![(7, 4)]);
    assert_eq!(&buf, b"done");
    let err = ring.set_iowq_affinity(&[]).unwrap_err();
    assert!(err.to_string().contains("at least one CPU"), "{err}");
}

#[test]
fn registered_ring_fds_name_other_rings() {
    let a = Ring::new(4).unwrap();
    let b: Ring = Builder::new(4).register_ring_fd(false).build().unwrap();
    let c: Ring = Builder::new(4).register_ring_fd(false).build().unwrap();
    let slots = a.register_ring_fds(&[b.fd().unwrap(), c.fd().unwrap()]).unwrap();
    assert_eq!(slots.len(), 2);
    assert_ne!(slots[0], slots[1]);
    assert_ne!(Some(slots[0]), a.registered_index());
    // Register a personality on B through its slot: B (not A) then has it.
    // SAFETY: PERSONALITY takes no argument.
    let id =
        unsafe { sys::io_uring_register(slots[0], 9 | abi::register_op::USE_REGISTERED_RING, std::ptr::null(), 0) }
            .unwrap();
    b.unregister_personality(id as u16).unwrap();
    assert_eq!(a.unregister_ring_fds(&slots).unwrap(), 2);
    // SAFETY: as above.
    let gone =
        unsafe { sys::io_uring_register(slots[0], 9 | abi::register_op::USE_REGISTERED_RING, std::ptr::null(), 0) };
    assert!(gone.is_err(), "the slot is empty after unregistering");
    // A slot this thread did not register through register_ring_fds (here
    // one already removed) is refused before the call.
    let err = a.unregister_ring_fds(&[slots[0]]).unwrap_err();
    assert!(err.to_string().contains("only slots returned by register_ring_fds"), "{err}");
    let (r, _w) = rustix::pipe::pipe().unwrap();
    let err = a.register_ring_fds(&[r.as_fd()]).unwrap_err();
    assert_eq!(err.errno_name(), "EOPNOTSUPP", "{err}");
}

#[test]
fn sync_cancel_removes_requests_and_waits_for_them() {
    let (r, _w) = rustix::pipe::pipe().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let (mut b1, mut b2, mut b3) = ([0u8; 4], [0u8; 4], [0u8; 4]);
    push_read(&mut ring, &r, &mut b1, 41, SqeFlags::empty());
    push_read(&mut ring, &r, &mut b2, 42, SqeFlags::empty());
    push_read(&mut ring, &r, &mut b3, 43, SqeFlags::empty());
    ring.submit().unwrap();
    assert_eq!(ring.cancel_sync(&CancelSpec::user_data(42), Some(Duration::from_secs(1))).unwrap(), 0);
    ring.wait_timeout(1, Duration::from_secs(1)).unwrap();
    let got: Vec<(u64, i32)> = ring.completions().unwrap().map(|c| (c.user_data, c.res)).collect();
    assert_eq!(got, vec![(42, -125)], "only 42, cancelled");
    let err = ring.cancel_sync(&CancelSpec::user_data(42), None).unwrap_err();
    assert_eq!(err.errno_name(), "ENOENT", "{err}");
    // Every request on the pipe.
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    assert_eq!(ring.cancel_sync(&CancelSpec::fd(unsafe { Target::fd(r.as_raw_fd()) }).all(), None).unwrap(), 2);
    ring.wait_timeout(2, Duration::from_secs(1)).unwrap();
    let mut got: Vec<(u64, i32)> = ring.completions().unwrap().map(|c| (c.user_data, c.res)).collect();
    got.sort();
    assert_eq!(got, vec![(41, -125), (43, -125)]);
    // By opcode and user_data together.
    push_read(&mut ring, &r, &mut b1, 50, SqeFlags::empty());
    ring.submit().unwrap();
    let err = ring.cancel_sync(&CancelSpec::user_data(50).and_opcode(OP_OPENAT), None).unwrap_err();
    assert_eq!(err.errno_name(), "ENOENT", "a READ is not an OPENAT");
    assert_eq!(ring.cancel_sync(&CancelSpec::user_data(50).and_opcode(OP_READ), None).unwrap(), 0);
    ring.wait_timeout(1, Duration::from_secs(1)).unwrap();
    assert_eq!(ring.completion().next().unwrap().res, -125);
}

/// A CPU number near `usize::MAX` asked for a 2^61-byte mask (abort).
#[test]
fn iowq_affinity_with_a_huge_cpu_number_is_an_error() {
    let ring = Ring::new(4).unwrap();
    let err = ring.set_iowq_affinity(&[0, usize::MAX]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    assert!(err.to_string().contains("CPU numbers must be below"), "{err}");
    // The ring is untouched and the call still works with real CPUs.
    ring.set_iowq_affinity(&[0]).unwrap();
    ring.clear_iowq_affinity().unwrap();
    let _ = ring.set_iowq_max_workers(MaxWorkers::default()).unwrap();
}

/// `unregister_ring_fds` with the ring's own slot used to succeed: the ring
/// then entered whatever ring took the slot next (here: `other`, which
/// would have received this ring's submissions and registrations).
#[test]
fn a_rings_own_slot_cannot_be_unregistered_by_hand() {
    let mut ring = Ring::new(4).unwrap();
    common::nop_round_trip(&mut ring, 2, 1);
    let Some(own) = ring.registered_index() else {
        return skip("the ring fd was not registered (kernel before 5.18 or a full table)");
    };
    let err = ring.unregister_ring_fds(&[own]).unwrap_err();
    assert!(err.to_string().contains("only slots returned by register_ring_fds"), "{err}");
    // A slot registered by hand can be removed; the ring keeps working on
    // its own slot.
    let other: Ring = Builder::new(4).register_ring_fd(false).build().unwrap();
    let slots = ring.register_ring_fds(&[other.fd().unwrap()]).unwrap();
    assert_ne!(slots[0], own);
    assert_eq!(ring.unregister_ring_fds(&slots).unwrap(), 1);
    let err = ring.unregister_ring_fds(&slots).unwrap_err();
    assert!(err.to_string().contains("only slots"), "a removed slot is not ours any more: {err}");
    common::nop_round_trip(&mut ring, 4, 10);

    // A REGISTERED_FD_ONLY ring lives only in its slot: pulling it would
    // have freed the ring under its owner.
    let only = Builder::<Sqe64, Cqe16>::new(4).registered_fd_only().build_allocated(Pages::Normal);
    let mut only = match only {
        Ok(r) => r,
        Err(e) => return skip(format!("no REGISTERED_FD_ONLY ring here: {e}")),
    };
    let slot = only.registered_index().expect("a REGISTERED_FD_ONLY ring has a slot");
    assert!(only.unregister_ring_fds(&[slot]).is_err());
    common::nop_round_trip(&mut only, 3, 20);
}
