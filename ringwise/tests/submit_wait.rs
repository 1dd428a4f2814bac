//! Submitting and waiting against the real kernel: pushing up to a full SQ,
//! every submit and wait variant, reaping in batches, timeouts, CQ overflow
//! without loss, SQPOLL, index wrap-around; and queue handles are borrows
//! (swapping the handles of two rings leaves both rings intact; swapping
//! the queues themselves does not compile, see the `compile_fail` doctest on
//! `Ring::submission`).

mod common;

use common::*;
use ringwise::op::Target;
use ringwise::op::{Nop, Read};
use ringwise::{Builder, Cqe, Cqe16, Ring, SetupFlags, SqFull, Sqe64, Submitted};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

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
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission().push_unchecked(Read::new(Target::from_fd(r.as_fd()), buf.as_mut_ptr(), 4).user_data(5))
    }
    .unwrap();
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
fn sqpoll_submit_and_wait() {
    let mut ring = Builder::<Sqe64, Cqe16>::new(16).sqpoll(Duration::from_millis(2)).build().unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::SQPOLL));
    let mut seq = 0;
    let mut consumed_total = 0u64;
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
        // A submit's count is a snapshot on SQPOLL (SQEs the thread takes
        // later are counted by a later submit): only the running total is
        // exact, and with what is still queued it is everything pushed.
        consumed_total += u64::from(s.consumed);
        assert_eq!(consumed_total + u64::from(s.remaining), seq, "{s:?}");
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
