//! Looking at pending CQEs without consuming them: `CompletionQueue::peek`
//! (the next one) and `CompletionQueue::iter` (all of those ready now),
//! neither of which moves the CQ head.

use ringwise::op::Nop;
use ringwise::{Builder, CqeMixed, Errno, Ring, Sqe64};

#[test]
fn iter_and_peek_leave_the_cqes_queued() {
    let mut ring: Ring = Ring::new(8).expect("ring");
    assert!(ring.completion().iter().next().is_none(), "nothing pending");
    assert!(ring.completion().peek().is_none());
    for ud in 1..=4 {
        ring.submission().push(Nop::new().user_data(ud).inject_result(ud as i32)).unwrap();
    }
    ring.submit_and_wait(4).expect("submit_and_wait");
    let cq = ring.completion();
    let looked: Vec<(u64, i32)> = cq.iter().map(|c| (c.user_data, c.res)).collect();
    assert_eq!(looked, [(1, 1), (2, 2), (3, 3), (4, 4)]);
    assert_eq!(cq.iter().count(), 4, "a second look sees the same");
    assert_eq!(cq.iter().size_hint(), (0, Some(4)));
    assert_eq!(cq.len(), 4, "nothing consumed");
    assert_eq!(cq.peek().map(|c| c.user_data), Some(1));
    // Consuming gives exactly what was looked at.
    assert_eq!(ring.completion().next().map(|c| c.user_data), Some(1));
    let looked: Vec<u64> = ring.completion().iter().map(|c| c.user_data).collect();
    assert_eq!(looked, [2, 3, 4]);
    let reaped: Vec<u64> = ring.completions().unwrap().map(|c| c.user_data).collect();
    assert_eq!(reaped, [2, 3, 4]);
    assert!(ring.completion().iter().next().is_none());
}

/// Each look is of the CQEs ready when `iter` was called; one posted later
/// shows at the next look, after those still queued.
#[test]
fn each_look_sees_what_is_ready_then() {
    let mut ring: Ring = Ring::new(8).expect("ring");
    ring.submission().push(Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let first: Vec<u64> = ring.completion().iter().map(|c| c.user_data).collect();
    ring.submission().push(Nop::new().user_data(2)).unwrap();
    ring.submit_and_wait(2).unwrap();
    let second: Vec<u64> = ring.completion().iter().map(|c| c.user_data).collect();
    assert_eq!((first, second), (vec![1], vec![1, 2]));
}

/// In a `CqeMixed` ring the look skips the kernel's SKIP filler, as
/// reaping does, and shows a 32-byte CQE with its extra words.
#[test]
fn iter_skips_fillers_of_a_mixed_ring() {
    let mut ring = match Builder::<Sqe64, CqeMixed>::new(4).cq_entries(8).build() {
        Ok(r) => r,
        Err(e) if e.errno() == Errno::INVAL => {
            eprintln!("skipped: this kernel has no IORING_SETUP_CQE_MIXED (Linux 6.18): {e}");
            return;
        }
        Err(e) => panic!("setup: {e}"),
    };
    // Seven 16-byte CQEs, reaped: the next 32-byte CQE meets the last slot,
    // so the kernel posts a filler there and the big CQE in slots 0 and 1.
    for batch in [0..4u64, 4..7] {
        let n = batch.end - batch.start;
        for ud in batch {
            ring.submission().push(Nop::new().user_data(ud)).unwrap();
        }
        ring.submit_and_wait(n as u32).unwrap();
        ring.completions().unwrap().for_each(drop);
    }
    ring.submission().push(Nop::new().user_data(7).big_cqe_extra(11, 22)).unwrap();
    ring.submission().push(Nop::new().user_data(8)).unwrap();
    ring.submit_and_wait(2).unwrap();
    let slots = ring.completion().len();
    assert_eq!(slots, 4, "filler + 2 slots of the big CQE + 1");
    let looked: Vec<(u64, bool, [u64; 2])> =
        ring.completion().iter().map(|c| (c.user_data, c.is_skip(), c.extra)).collect();
    assert_eq!(looked, [(7, false, [11, 22]), (8, false, [0, 0])]);
    assert_eq!(ring.completion().peek().map(|c| c.user_data), Some(7), "peek skips the filler too");
    assert_eq!(ring.completion().len(), slots, "looking consumed nothing");
    let reaped: Vec<(u64, [u64; 2])> = ring.completions().unwrap().map(|c| (c.user_data, c.extra)).collect();
    assert_eq!(reaped, [(7, [11, 22]), (8, [0, 0])]);
}
