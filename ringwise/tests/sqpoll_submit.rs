//! SQPOLL submission accounting and CQ-overflow flushing (issue 9, items 5
//! and 6): every SQE the SQ thread consumes is counted in exactly one
//! `Submitted`, and `submit()` flushes overflowed CQEs back into the CQ.

use ringwise::op::Nop;
use ringwise::raw::abi;
use ringwise::{Builder, Cqe16, Ring, Sqe64};
use std::time::{Duration, Instant};

/// An SQPOLL ring, or `None` (printing why) where the kernel refuses one.
fn sqpoll_ring(sq: u32, cq: u32) -> Option<Ring<Sqe64, Cqe16>> {
    match Builder::<Sqe64, Cqe16>::new(sq).cq_entries(cq).sqpoll(Duration::from_millis(50)).build() {
        Ok(ring) => Some(ring),
        Err(e) => {
            println!("skipped: this kernel refuses an SQPOLL ring: {e}");
            None
        }
    }
}

/// 20 NOPs through an 8-entry SQ, pushing whenever there is room and
/// submitting when it looks full: the consumed counts add up to 20 exactly,
/// however the SQ thread's consumption interleaves with the pushes.
#[test]
fn every_consumed_sqe_is_counted_once() {
    for round in 0..20 {
        let Some(mut ring) = sqpoll_ring(8, 64) else { return };
        let total = 20u32;
        let mut pushed = 0u32;
        let mut consumed = 0u32;
        let deadline = Instant::now() + Duration::from_secs(10);
        while pushed < total {
            if ring.submission().push(Nop::new().user_data(pushed as u64)).is_ok() {
                pushed += 1;
                // Publish each one, so that the SQ thread consumes while we push.
                if pushed % 3 == 0 {
                    consumed += ring.submit().expect("submit").consumed;
                }
            } else {
                consumed += ring.submit().expect("submit").consumed;
                assert!(Instant::now() < deadline, "round {round}: the SQ never drained");
                std::thread::yield_now();
            }
        }
        // Drain: the sum over submits is exact once the SQ is empty.
        loop {
            let s = ring.submit().expect("submit");
            consumed += s.consumed;
            if s.remaining == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "round {round}: the SQ never drained");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(consumed, total, "round {round}: consumed counts must add up to what was pushed");
        // And every NOP completes.
        let mut seen = 0;
        while seen < total {
            seen += ring.completions().expect("completions").count() as u32;
            if seen < total {
                assert!(Instant::now() < deadline, "round {round}: {seen} of {total} CQEs");
                ring.wait_timeout(1, Duration::from_millis(100)).expect("wait");
            }
        }
    }
}

/// A full CQ on an SQPOLL ring: the kernel keeps the rest on its overflow
/// list and sets `IORING_SQ_CQ_OVERFLOW`; reaping with `completion()` (no
/// syscall) and calling `submit()` must bring every CQE back.
#[test]
fn submit_flushes_overflowed_cqes() {
    let Some(mut ring) = sqpoll_ring(16, 16) else { return };
    let cq = ring.completion().capacity();
    let total = 2 * cq;
    // Let the SQ thread consume all of them without reaping any: the CQ
    // fills, the rest goes to the overflow list.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pushed = 0;
    let mut consumed = 0;
    while consumed < total {
        while pushed < total && ring.submission().push(Nop::new().user_data(pushed as u64)).is_ok() {
            pushed += 1;
        }
        consumed += ring.submit().expect("submit").consumed;
        assert!(Instant::now() < deadline, "the SQ thread consumed only {consumed} of {total}");
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut got: Vec<u64> = Vec::new();
    let mut overflow_seen = false;
    while got.len() < total as usize {
        let mut cq = ring.completion();
        while let Some(cqe) = cq.next() {
            got.push(cqe.user_data);
        }
        overflow_seen |= ring.submission().ring_flags() & abi::IORING_SQ_CQ_OVERFLOW != 0;
        ring.submit().expect("submit");
        assert!(
            Instant::now() < deadline,
            "reaped {} of {total} CQEs (overflow flag seen: {overflow_seen}); submit() must flush the overflow list",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    got.sort_unstable();
    assert_eq!(got, (0..total as u64).collect::<Vec<_>>());
    assert!(overflow_seen, "the CQ never overflowed: the test did not exercise the flush");
}
