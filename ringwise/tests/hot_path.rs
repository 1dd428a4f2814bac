//! The hot-path shortcuts keep the exactness they replace:
//! - the SQ's room check compares against a limit that may lag behind the
//!   kernel's head after a submit; the push that reaches it re-reads the head,
//!   so partial submissions and wraps give exactly the room the kernel left;
//! - the registered-ring check reads the thread token without setting it up;
//!   a thread that has a token of its own (and its own registered ring at the
//!   same index) still enters the moved ring through its plain fd.

mod common;

use common::*;
use ringwise::op::Nop;
use ringwise::{Ring, SqFull};
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
