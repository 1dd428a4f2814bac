//! The core path against the real kernel: pushing up to a full SQ, every
//! submit and wait variant, reaping in batches, partial submission (nothing
//! lost, nothing doubled), CQ overflow without loss, the registered ring fd
//! from the creating thread and the plain fd from another one.

mod common;

use common::*;
use ringwise::op::{Nop, Read};
use ringwise::{Builder, Cqe, Cqe16, CqeSize, Ring, SetupFlags, SqFull, Sqe64, SqeSize, Submitted};
use std::time::{Duration, Instant};

const EINVAL: i32 = 22;

#[test]
fn push_until_full_then_sq_full() {
    let mut ring = Ring::new(8).unwrap();
    let mut sq = ring.submission();
    assert_eq!(sq.capacity(), 8);
    assert!(sq.is_empty());
    for i in 0..8 {
        assert_eq!(sq.space(), 8 - i);
        sq.push(Nop::new().user_data(i as u64)).unwrap();
    }
    assert_eq!(sq.len(), 8);
    assert_eq!(sq.push(Nop::new()), Err(SqFull));
    assert_eq!(sq.push_iter((0..4).map(|_| Nop::new())), 0, "push_iter into a full SQ");
    let s = ring.submit().unwrap();
    assert_eq!(s, Submitted { consumed: 8, remaining: 0, stopped_after: None });
    // Room again at once: the kernel consumed the SQEs at submit.
    let pushed = ring.submission().push_iter((8..100u64).map(|i| Nop::new().user_data(i)));
    assert_eq!(pushed, 8);
    assert_eq!(ring.submission().push(Nop::new()), Err(SqFull));
    let s = ring.submit_and_wait(8).unwrap();
    assert_eq!(s.consumed, 8);
    // 16 CQEs fit exactly in the default CQ of 16.
    assert_eq!(ring.completion().len(), 16);
    assert_eq!(reap_user_data(&mut ring, 16), (0..16).collect::<Vec<_>>());
    assert_eq!(ring.submission().dropped(), 0);
}

#[test]
fn push_or_submit_submits_when_full_and_loses_nothing() {
    // 8 SQ slots, 64 CQ slots: 40 pushes force four submits on the way.
    let mut ring: Ring = Builder::new(8).cq_entries(64).build().unwrap();
    for i in 0..40u64 {
        ring.push_or_submit(Nop::new().user_data(i)).unwrap();
    }
    assert_eq!(ring.submission().len(), 8, "the last batch waits for the next submit (submits happen only when full)");
    let s = ring.submit_and_wait(40).unwrap();
    assert_eq!(s.remaining, 0);
    let seen: Vec<u64> = ring.completions().unwrap().map(|c| c.user_data).collect();
    assert_eq!(seen, (0..40).collect::<Vec<_>>(), "every NOP once, in order");

    // The SQ stays full when the kernel consumes nothing: a disabled ring
    // refuses the submit, and the error says so instead of spinning.
    let mut ring: Ring = Builder::new(2).disabled().build().unwrap();
    ring.submission().push(Nop::new()).unwrap();
    ring.submission().push(Nop::new()).unwrap();
    let err = ring.push_or_submit(Nop::new()).unwrap_err();
    assert_eq!(err.errno_name(), "EBADFD", "the submit's own error comes back: {err}");
    ring.enable().unwrap();
    ring.push_or_submit(Nop::new().user_data(9)).unwrap();
    ring.submit_and_wait(3).unwrap();
    assert_eq!(ring.completions().unwrap().count(), 3);
}

#[test]
fn submit_wait_and_every_reaping_style() {
    let mut ring = Ring::new(32).unwrap();
    // Nothing queued: submit is a no-op.
    assert_eq!(ring.submit().unwrap(), Submitted { consumed: 0, remaining: 0, stopped_after: None });
    // wait(0) returns at once.
    assert_eq!(ring.wait(0).unwrap(), 0);

    for i in 0..32 {
        ring.submission().push(Nop::new().user_data(i)).unwrap();
    }
    let s = ring.submit().unwrap();
    assert_eq!(s.consumed, 32);
    assert_eq!(ring.wait(32).unwrap(), 32);

    // peek does not consume.
    let p = ring.completion().peek().unwrap();
    assert_eq!(p.user_data, 0);
    assert_eq!(ring.completion().peek().unwrap().user_data, 0);
    assert_eq!(ring.completion().len(), 32);
    // next consumes one.
    assert_eq!(ring.completion().next().unwrap().user_data, 0);
    assert_eq!(ring.completion().len(), 31);
    // copy_into in batches of 5.
    let mut out = [Cqe::default(); 5];
    let mut seen = vec![0u64];
    loop {
        let n = ring.completion().copy_into(&mut out[..]);
        seen.extend(out[..n].iter().map(|c| c.user_data));
        if n < out.len() {
            break;
        }
        // Only the copied ones were consumed.
        assert_eq!(ring.completion().len() as usize, 32 - seen.len());
    }
    assert_eq!(seen, (0..32).collect::<Vec<_>>());
    assert!(ring.completion().next().is_none());
    assert!(ring.completion().peek().is_none());

    // drain, stopped half way: the rest stays queued.
    for i in 100..120 {
        ring.submission().push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(20).unwrap();
    let first: Vec<u64> = ring.completion().drain().take(7).map(|c| c.user_data).collect();
    assert_eq!(first, (100..107).collect::<Vec<_>>());
    assert_eq!(ring.completion().len(), 13);
    let rest: Vec<u64> = ring.completion().drain().map(|c| c.user_data).collect();
    assert_eq!(rest, (107..120).collect::<Vec<_>>());

    // submit_and_wait_timeout with CQEs to come.
    for i in 200..210 {
        ring.submission().push(Nop::new().user_data(i)).unwrap();
    }
    let (s, ready) = ring.submit_and_wait_timeout(10, Duration::from_secs(5)).unwrap();
    assert_eq!((s.consumed, s.remaining), (10, 0));
    assert_eq!(ready, 10);
    assert_eq!(reap_user_data(&mut ring, 10), (200..210).collect::<Vec<_>>());
    assert_eq!(ring.submission().dropped(), 0);
}

#[test]
fn wait_timeout_times_out_and_returns_early() {
    let mut ring = Ring::new(8).unwrap();
    // Nothing in flight: times out after about the given time, 0 ready.
    let t = Instant::now();
    assert_eq!(ring.wait_timeout(1, Duration::from_millis(150)).unwrap(), 0);
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(140), "returned after {took:?}");
    assert!(took < Duration::from_millis(1500), "returned after {took:?}");

    // submit_and_wait_timeout with nothing to submit: same.
    let t = Instant::now();
    let (s, ready) = ring.submit_and_wait_timeout(1, Duration::from_millis(100)).unwrap();
    assert_eq!((s.consumed, ready), (0, 0));
    assert!(t.elapsed() >= Duration::from_millis(90), "{:?}", t.elapsed());

    // A read that completes after 50 ms: the wait returns then, not at 5 s.
    let (r, w) = pipe();
    let mut buf = [0u8; 4];
    // SAFETY: `buf` outlives the op; its CQE is reaped below.
    unsafe { ring.submission().push_unchecked(Read::new(&r, buf.as_mut_ptr(), 4).user_data(5)) }.unwrap();
    assert_eq!(ring.submit().unwrap().consumed, 1);
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        rustix::io::write(&w, b"ping").unwrap();
        w
    });
    let t = Instant::now();
    assert_eq!(ring.wait_timeout(1, Duration::from_secs(5)).unwrap(), 1);
    let took = t.elapsed();
    assert!(took < Duration::from_secs(2), "waited {took:?} for a CQE that came after 50 ms");
    let _w = writer.join().unwrap();
    assert_eq!(reap_all(&mut ring, 1, Duration::from_secs(1)), vec![(5, 4)]);
    assert_eq!(&buf, b"ping");

    // A CQE already there: returns at once.
    ring.submission().push(Nop::new().user_data(6)).unwrap();
    ring.submit().unwrap();
    let t = Instant::now();
    assert_eq!(ring.wait_timeout(1, Duration::from_secs(5)).unwrap(), 1);
    assert!(t.elapsed() < Duration::from_secs(1));

    // submit_and_wait_timeout that submits, then times out waiting for more
    // than will come: the submission still counts.
    let t = Instant::now();
    ring.submission().push(Nop::new().user_data(7)).unwrap();
    let (s, ready) = ring.submit_and_wait_timeout(5, Duration::from_millis(100)).unwrap();
    assert_eq!(s.consumed, 1, "{s:?}");
    assert_eq!(ready, 2);
    assert!(t.elapsed() >= Duration::from_millis(90), "{:?}", t.elapsed());
    assert_eq!(reap_user_data(&mut ring, 2), vec![6, 7]);
}

/// Queue [NOP, bad, NOP, NOP]: the kernel stops after the bad one.
fn queue_with_bad_second<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, bad: impl FnOnce(&mut ringwise::Sqe)) {
    let mut sq = ring.submission();
    sq.push(Nop::new().user_data(1)).unwrap();
    // SAFETY: the filled SQE carries no pointers.
    unsafe {
        sq.push_raw(|sqe| {
            *sqe = Default::default();
            bad(sqe);
            sqe.user_data = 2;
        })
    }
    .unwrap();
    sq.push(Nop::new().user_data(3)).unwrap();
    sq.push(Nop::new().user_data(4)).unwrap();
}

fn count_cqes<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, want: usize) -> Vec<(u64, i32)> {
    let mut got = reap_all(ring, want, Duration::from_secs(5));
    // Anything extra would be a doubled submission: give it a moment.
    std::thread::sleep(Duration::from_millis(20));
    got.extend(ring.completions().unwrap().map(|c| (C::base(&c).user_data, C::base(&c).res)));
    got
}

#[test]
fn partial_submission_is_accounted_exactly() {
    type Fill = fn(&mut ringwise::Sqe);
    let bad_opcode: Fill = |sqe| sqe.opcode = 250;
    let bad_nop_flags: Fill = |sqe| {
        sqe.opcode = 0;
        sqe.op_flags = 1 << 30;
    };
    for (name, bad) in [("opcode 250", bad_opcode), ("unknown NOP flags", bad_nop_flags)] {
        for keep_array in [false, true] {
            let b = Builder::<Sqe64, Cqe16>::new(8);
            let mut ring = if keep_array { b.keep_sq_array() } else { b }.build().unwrap();
            queue_with_bad_second(&mut ring, bad);
            let s = ring.submit().unwrap();
            assert_eq!(
                s,
                Submitted { consumed: 2, remaining: 2, stopped_after: Some(2) },
                "{name}, sq array kept: {keep_array}"
            );
            assert_eq!(ring.submission().len(), 2);
            let got = count_cqes(&mut ring, 2);
            assert_eq!(got, vec![(1, 0), (2, -EINVAL)], "{name}: the bad SQE's CQE carries the error");
            // The next submit sends the remaining two, once.
            let s = ring.submit_and_wait(2).unwrap();
            assert_eq!(s, Submitted { consumed: 2, remaining: 0, stopped_after: None }, "{name}");
            let got = count_cqes(&mut ring, 2);
            assert_eq!(got, vec![(3, 0), (4, 0)], "{name}: nothing lost, nothing doubled");
            assert!(ring.submission().is_empty());
            assert_eq!(ring.submit().unwrap().consumed, 0);
            assert_eq!(ring.submission().dropped(), 0);
            // The ring keeps working, past the SQ wrap.
            for r in 0..5 {
                nop_round_trip(&mut ring, 8, 100 + 8 * r);
            }
        }
    }
}

#[test]
fn partial_submission_with_a_bad_first_sqe() {
    let mut ring = Ring::new(4).unwrap();
    // SAFETY: no pointers.
    unsafe {
        ring.submission().push_raw(|sqe| {
            *sqe = Default::default();
            sqe.opcode = 250;
            sqe.user_data = 9;
        })
    }
    .unwrap();
    ring.submission().push(Nop::new().user_data(10)).unwrap();
    let s = ring.submit().unwrap();
    assert_eq!(s, Submitted { consumed: 1, remaining: 1, stopped_after: Some(9) });
    assert_eq!(count_cqes(&mut ring, 1), vec![(9, -EINVAL)]);
    let s = ring.submit_and_wait(1).unwrap();
    assert_eq!(s, Submitted { consumed: 1, remaining: 0, stopped_after: None });
    assert_eq!(count_cqes(&mut ring, 1), vec![(10, 0)]);
}

#[test]
fn submit_all_consumes_everything() {
    let mut ring = Builder::<Sqe64, Cqe16>::new(8).submit_all().build().unwrap();
    queue_with_bad_second(&mut ring, |sqe| sqe.opcode = 250);
    let s = ring.submit_and_wait(4).unwrap();
    assert_eq!(s, Submitted { consumed: 4, remaining: 0, stopped_after: None });
    let got = count_cqes(&mut ring, 4);
    assert_eq!(got, vec![(1, 0), (2, -EINVAL), (3, 0), (4, 0)]);
}

#[test]
fn cq_overflow_loses_nothing() {
    let mut ring = Builder::<Sqe64, Cqe16>::new(4).cq_entries(4).build().unwrap();
    assert_eq!(ring.completion().capacity(), 4);
    assert!(ring.features().contains(ringwise::Features::NODROP));
    for batch in 0..16u64 {
        for i in 0..4 {
            ring.submission().push(Nop::new().user_data(batch * 4 + i)).unwrap();
        }
        let s = ring.submit().unwrap();
        assert_eq!((s.consumed, s.remaining), (4, 0), "batch {batch}");
    }
    assert_eq!(ring.completion().len(), 4, "the CQ is full; 60 CQEs wait on the overflow list");
    assert_ne!(ring.submission().ring_flags() & ringwise::raw::abi::IORING_SQ_CQ_OVERFLOW, 0);
    let mut got = Vec::new();
    loop {
        let batch: Vec<u64> = ring.completions().unwrap().map(|c| c.user_data).collect();
        if batch.is_empty() {
            break;
        }
        got.extend(batch);
    }
    assert_eq!(got, (0..64).collect::<Vec<_>>(), "every CQE once, in order");
    assert_eq!(ring.completion().overflow(), 0, "NODROP: nothing dropped");
    assert_eq!(ring.submission().ring_flags() & ringwise::raw::abi::IORING_SQ_CQ_OVERFLOW, 0);
    assert_eq!(ring.submission().dropped(), 0);
    nop_round_trip(&mut ring, 4, 1000);
}

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

#[test]
fn sqpoll_submit_and_wait() {
    let mut ring = Builder::<Sqe64, Cqe16>::new(16).sqpoll(Duration::from_millis(2)).build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::SQPOLL));
    let mut seq = 0;
    for round in 0..50u32 {
        if round % 10 == 0 {
            // Let the thread go to sleep so that submit must wake it.
            std::thread::sleep(Duration::from_millis(10));
        }
        let n = 1 + round % 16;
        for _ in 0..n {
            ring.submission().push(Nop::new().user_data(seq)).unwrap();
            seq += 1;
        }
        let s = ring.submit_and_wait(n).unwrap();
        assert!(s.consumed <= n);
        let got = reap_user_data(&mut ring, n as usize);
        assert_eq!(got, ((seq - n as u64)..seq).collect::<Vec<_>>());
        // The SQPOLL thread flushes a batch's CQEs before it moves the SQ
        // head past the batch: the head may lag the CQEs for a moment.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while !ring.submission().is_empty() {
            assert!(std::time::Instant::now() < deadline, "SQ head stuck: {:?}", ring.submission());
            std::thread::yield_now();
        }
    }
    assert_eq!(ring.submission().dropped(), 0);
}

#[test]
fn long_run_wraps_indices() {
    // Many wraps of small rings, with user_data checks.
    let mut ring = Ring::new(2).unwrap();
    for r in 0..3000u64 {
        nop_round_trip(&mut ring, 1 + (r % 2) as u32, r << 8);
    }
}

/// Queue a read on an empty pipe, so that the ring has a request in flight.
fn pending_pipe_read(ring: &mut Ring) -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    let (r, w) = pipe();
    // Leaked: the read may complete after the ring is gone, in the failure
    // this test looks for.
    let buf: &'static mut [u8] = Box::leak(vec![0u8; 16].into_boxed_slice());
    // SAFETY: the buffer is never freed.
    unsafe { ring.submission().push_unchecked(Read::new(&r, buf.as_mut_ptr(), 16).user_data(1)) }.unwrap();
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
