//! Rings across threads and processes: the kernel's registered-ring table
//! is per thread, so a registered ring fd is used only from the thread that
//! registered it (another thread, or a thread with its own registered ring
//! at the same index, enters through the plain fd); rings built on one
//! thread and used or dropped on another leave nothing behind; a forked
//! child does not enter through the parent's registered index, and a ring
//! dropped in the child leaves the parent's requests alone.

mod common;

use common::*;
use ringwise::op::Target;
use ringwise::op::{Nop, Read};
use ringwise::{Builder, Ring};
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::time::Duration;

#[test]
fn registered_fd_then_another_thread() {
    let mut ring = Ring::new(8).unwrap();
    assert!(ring.registered_index().is_none(), "registered at the first enter, not at setup");
    nop_round_trip(&mut ring, 8, 0);
    assert!(ring.registered_index().is_some(), "registered by default");
    let mut ring = std::thread::spawn(move || {
        let mut ring = ring;
        // Another thread: the registered index is not in its table, so the
        // plain fd is used.
        for r in 0..4 {
            nop_round_trip(&mut ring, 8, 100 * (r + 1));
        }
        ring
    })
    .join()
    .unwrap();
    nop_round_trip(&mut ring, 8, 1000);

    // Not registered at all.
    let mut ring: Ring = Builder::new(8).register_ring_fd(false).build().unwrap();
    assert!(ring.registered_index().is_none());
    nop_round_trip(&mut ring, 8, 0);
}

/// Queue a read on an empty pipe, so that the ring has a request in flight.
fn pending_pipe_read(ring: &mut Ring) -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    let (r, w) = pipe();
    // Leaked: the read may complete after the ring is gone, in the failure
    // this test looks for.
    let buf: &'static mut [u8] = Box::leak(vec![0u8; 16].into_boxed_slice());
    // SAFETY: the buffer is never freed.
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission().push_unchecked(Read::new(Target::from_fd(r.as_fd()), buf.as_mut_ptr(), 16).user_data(1))
    }
    .unwrap();
    assert_eq!(ring.submit().unwrap().consumed, 1);
    (r, w)
}

/// Whether a byte written to the pipe is still there to read: false means
/// a request of a dropped ring took it.
fn byte_survives(r: &std::os::fd::OwnedFd, w: &std::os::fd::OwnedFd) -> bool {
    rustix::io::write(w, b"x").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    rustix::fs::fcntl_setfl(r, rustix::fs::OFlags::NONBLOCK).unwrap();
    let mut b = [0u8; 1];
    rustix::io::read(r, &mut b).is_ok()
}

#[test]
fn ring_dropped_on_another_thread_leaves_nothing_running() {
    // Used (and so registered) here, dropped on another thread: that thread
    // cannot unregister the index from this thread's table, so the kernel
    // ring outlives the drop; its requests must not.
    let mut ring = Ring::new(4).unwrap();
    nop_round_trip(&mut ring, 4, 0);
    assert!(ring.registered_index().is_some());
    let (r, w) = pending_pipe_read(&mut ring);
    std::thread::spawn(move || drop(ring)).join().unwrap();
    assert!(byte_survives(&r, &w), "a request of the dropped ring consumed the pipe's data");

    // Built here, used and dropped on another thread: registered there, so
    // unregistered and freed there.
    let ring = Ring::new(4).unwrap();
    let (r, w) = std::thread::spawn(move || {
        let mut ring = ring;
        let fds = pending_pipe_read(&mut ring);
        assert!(ring.registered_index().is_some(), "registered by the thread that submits");
        drop(ring);
        fds
    })
    .join()
    .unwrap();
    assert!(byte_survives(&r, &w), "a request of the dropped ring consumed the pipe's data");
}

#[test]
fn rings_built_here_and_used_elsewhere_do_not_fill_this_threads_table() {
    // A thread's registered-ring table has 16 slots. Rings built on one
    // thread and handed to workers must not take (and leak) them.
    let rings: Vec<Ring> = (0..20).map(|_| Ring::new(4).unwrap()).collect();
    // Set-up calls on the building thread do not register either.
    let probe = ringwise::probe::Probe::of(&rings[0]).unwrap();
    assert!(probe.supports(0));
    let workers: Vec<_> = rings
        .into_iter()
        .enumerate()
        .map(|(i, mut ring)| {
            std::thread::spawn(move || {
                nop_round_trip(&mut ring, 4, i as u64);
                assert!(ring.registered_index().is_some());
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut ring = Ring::new(4).unwrap();
    nop_round_trip(&mut ring, 4, 0);
    assert!(ring.registered_index().is_some(), "this thread's table was filled by rings it only built");
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
    // Fork from a process of its own, where no other test runs.
    if !in_own_process("forked_child_does_not_enter_through_the_parents_ring_index") {
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
    if !in_own_process("ring_dropped_in_a_forked_child_leaves_the_parents_requests_alone") {
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
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    let read = ringwise::op::Read::new(unsafe { Target::fd(r.as_raw_fd()) }, buf.as_mut_ptr(), buf.len() as u32)
        .user_data(0x5ead);
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

#[test]
fn moved_ring_is_not_entered_through_another_threads_index() {
    let mut ring = Ring::new(8).unwrap();
    // The fd is registered at the first enter.
    nop_round_trip(&mut ring, 4, 0);
    let Some(index) = ring.registered_index() else {
        skip("this kernel cannot register ring fds (Linux 5.18)");
        return;
    };
    let ring = std::thread::spawn(move || {
        let mut moved = ring;
        // This thread registers a ring of its own: it gets a token, and very
        // likely the same index in its own table.
        let mut own = Ring::new(8).unwrap();
        nop_round_trip(&mut own, 4, 5000);
        let own_index = own.registered_index().expect("registered here too");
        eprintln!("moved ring index {index}, this thread's ring index {own_index}");
        for r in 0..3u64 {
            // The moved ring must get its own CQEs, and `own` none.
            nop_round_trip(&mut moved, 4, 100 * (r + 1));
            assert_eq!(own.completion().len(), 0, "CQEs landed in the other ring");
        }
        nop_round_trip(&mut own, 4, 7000);
        moved
    })
    .join()
    .unwrap();
    let mut ring = ring;
    nop_round_trip(&mut ring, 4, 9000);
}
