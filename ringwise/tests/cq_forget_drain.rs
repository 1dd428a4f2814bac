//! `mem::forget` of a [`Drain`](ringwise::cqueue::Drain) must never hand a CQE out
//! twice: the CQEs it yielded are consumed whether or not its destructor
//! runs, and the kernel is told (the CQ head published) at the next access
//! to the completion queue.

use ringwise::op::Nop;
use ringwise::Ring;
use std::sync::atomic::{AtomicU32, Ordering};

/// The CQ head as the kernel sees it, read from the ring's header.
fn kernel_cq_head(ring: &Ring) -> u32 {
    let at = ring.memory_report().rings_addr + ring.params().cq_off.head as usize;
    // SAFETY: `cq_off.head` is the offset of the CQ head in the rings
    // region, which the ring keeps mapped while it lives; the kernel and
    // the ring access it atomically, and a shared load is all this does.
    unsafe { (*(at as *const AtomicU32)).load(Ordering::Acquire) }
}

fn submit_nops(ring: &mut Ring, ids: std::ops::Range<u64>) {
    let n = ids.end - ids.start;
    for ud in ids {
        ring.submission().push(Nop::new().user_data(ud)).expect("room in the SQ");
    }
    ring.submit_and_wait(n as u32).expect("submit_and_wait");
}

/// Take 2 of 4 CQEs through a drain, forget it: the next look starts at
/// the third, nothing comes back twice, and the head the kernel sees
/// catches up at the next access.
#[test]
fn forgetting_a_drain_after_two_of_four_hands_out_each_cqe_once() {
    let mut ring: Ring = Ring::new(8).expect("ring");
    submit_nops(&mut ring, 1..5);
    let head0 = kernel_cq_head(&ring);
    let mut cq = ring.completion();
    let mut drain = cq.drain();
    let taken: Vec<u64> = drain.by_ref().take(2).map(|c| c.user_data).collect();
    std::mem::forget(drain);
    assert_eq!(taken, [1, 2]);

    assert_eq!(ring.completion().len(), 2, "two of four are consumed");
    assert_eq!(ring.completion().peek().map(|c| c.user_data), Some(3));
    // The next access publishes the head the forgotten drain could not.
    let rest: Vec<u64> = ring.completion().drain().map(|c| c.user_data).collect();
    assert_eq!(rest, [3, 4], "CQEs 1 and 2 must not come back");
    assert_eq!(kernel_cq_head(&ring), head0.wrapping_add(4));
    assert!(ring.completion().is_empty());
}

/// The same through `Ring::completions` and `next`, over several rounds
/// that wrap the 16-slot CQ: every CQE exactly once, in order.
#[test]
fn forgotten_drains_across_the_wrap() {
    let mut ring: Ring = Ring::new(8).expect("ring");
    let mut seen = Vec::new();
    let mut next_id = 0u64;
    for round in 0..20 {
        submit_nops(&mut ring, next_id..next_id + 4);
        next_id += 4;
        let mut drain = ring.completions().expect("completions");
        seen.extend(drain.by_ref().take(round % 4).map(|c| c.user_data));
        std::mem::forget(drain);
        if round % 3 == 0 {
            // A forgotten drain, then `next` one at a time.
            while let Some(c) = ring.completion().next() {
                seen.push(c.user_data);
            }
        } else {
            let mut out = [ringwise::Cqe::default(); 8];
            let n = ring.completion().copy_into(&mut out);
            seen.extend(out[..n].iter().map(|c| c.user_data));
        }
        assert!(ring.completion().is_empty(), "round {round}");
    }
    assert_eq!(seen, (0..next_id).collect::<Vec<_>>());
    // Everything reaped is published: the kernel has the whole CQ free.
    let tail_minus_head = ring.completion().len();
    assert_eq!(tail_minus_head, 0);
    submit_nops(&mut ring, 0..8);
    submit_nops(&mut ring, 8..16);
    assert_eq!(ring.completion().len(), 16, "all 16 CQ slots were free for the kernel");
    let all: Vec<u64> = ring.completion().drain().map(|c| c.user_data).collect();
    assert_eq!(all, (0..16).collect::<Vec<_>>());
}
