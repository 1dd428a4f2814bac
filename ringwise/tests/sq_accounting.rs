//! The SQ accounts exactly for what the kernel consumed: partial
//! submission (nothing lost, nothing doubled, `stopped_after` names the
//! failing SQE), `SUBMIT_ALL`, and the room check, which compares against a
//! limit that may lag behind the kernel's head after a submit (the push that
//! reaches it re-reads the head, so partial submissions and wraps give
//! exactly the room the kernel left).

mod common;

use common::*;
use ringwise::op::Nop;
use ringwise::{Builder, Cqe16, CqeSize, Ring, SqFull, Sqe64, SqeSize, Submitted};
use std::time::Duration;

const EINVAL: i32 = 22;

/// [NOP 1, invalid opcode 2, NOP 3 .. NOP n]: the kernel consumes two.
fn queue_bad_second(ring: &mut Ring, n: u64) {
    let mut sq = ring.submission();
    sq.push(Nop::new().user_data(1)).unwrap();
    // SAFETY: the SQE carries no pointer.
    unsafe {
        sq.push_raw(|sqe| {
            *sqe = Default::default();
            sqe.opcode = 0xfe;
            sqe.user_data = 2;
        })
    }
    .unwrap();
    for i in 3..=n {
        sq.push(Nop::new().user_data(i)).unwrap();
    }
}

#[test]
fn room_after_partial_submission_is_exact() {
    let mut ring = Ring::new(8).unwrap();
    queue_bad_second(&mut ring, 8);
    assert_eq!(ring.submission().push(Nop::new()), Err(SqFull));
    let s = ring.submit().unwrap();
    assert_eq!((s.consumed, s.remaining, s.stopped_after), (2, 6, Some(2)));
    // Exactly the two consumed slots are free again.
    assert_eq!(ring.submission().space(), 2);
    ring.submission().push(Nop::new().user_data(9)).unwrap();
    ring.submission().push(Nop::new().user_data(10)).unwrap();
    assert_eq!(ring.submission().push(Nop::new()), Err(SqFull));
    let s = ring.submit_and_wait(8).unwrap();
    assert_eq!((s.consumed, s.remaining), (8, 0));
    let mut got = reap_all(&mut ring, 10, Duration::from_secs(5));
    got.sort_unstable();
    let want: Vec<(u64, i32)> = (1..=10).map(|i| (i, if i == 2 { -EINVAL } else { 0 })).collect();
    assert_eq!(got, want, "every SQE completed once; the bad one with EINVAL");
    // After the lagging limit, a full lap still fits exactly.
    for lap in 0..5u64 {
        let pushed = ring.submission().push_iter((0..100).map(|i| Nop::new().user_data(lap * 100 + i)));
        assert_eq!(pushed, 8, "lap {lap}");
        assert_eq!(ring.submit_and_wait(8).unwrap().consumed, 8);
        assert_eq!(reap_user_data(&mut ring, 8), (lap * 100..lap * 100 + 8).collect::<Vec<_>>());
    }
    assert_eq!(ring.submission().dropped(), 0);
}

#[test]
fn room_when_submitting_one_at_a_time_over_many_wraps() {
    // Push one, submit one: the limit is refreshed only when reached, once
    // per lap; every push must succeed and every CQE arrive once.
    let mut ring = Ring::new(4).unwrap();
    for i in 0..10_000u64 {
        ring.submission().push(Nop::new().user_data(i)).unwrap();
        assert_eq!(ring.submit_and_wait(1).unwrap().consumed, 1);
        assert_eq!(reap_user_data(&mut ring, 1), vec![i]);
    }
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
