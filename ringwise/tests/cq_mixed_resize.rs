//! A `CqeMixed` ring shrunk while a 32-byte CQE is pending.
//!
//! `IORING_REGISTER_RESIZE_RINGS` copies each pending 16-byte CQ slot from
//! index `i & old_mask` to `i & new_mask` (Linux 6.18). A 32-byte CQE the
//! kernel posted at slots 7 and 8 of a 16-slot ring (index 7) lands, after
//! shrinking to 8 slots, at slot 7 with its second half at slot 0: split
//! across the wrap, which the kernel itself never does when posting (it
//! puts a SKIP filler in the last slot instead). The reader must take the
//! second half from slot 0, and whatever the memory says, never move its
//! head past the tail.

use ringwise::op::Nop;
use ringwise::register::ResizeSpec;
use ringwise::{BigCqe, Builder, CqeMixed, Errno, Ring, Sqe64};

/// Bit 47 of the second extra word is bit 15 of the `flags` word when the
/// second half is read as a 16-byte CQE: `IORING_CQE_F_32`. A reader that
/// takes the second half for a CQE of its own then sees a 32-byte CQE that
/// ends one slot past the tail.
const EXTRA2: u64 = (1 << 47) | 0x5eed;
const EXTRA1: u64 = 0x0123_4567_89ab_cdef;

fn skip(reason: impl std::fmt::Display) {
    eprintln!("skipped: {reason}");
}

/// A DEFER_TASKRUN ring with mixed CQEs, 4 SQ entries and 16 CQ slots, or
/// why not.
fn mixed_ring() -> Option<Ring<Sqe64, CqeMixed>> {
    match Builder::<Sqe64, CqeMixed>::new(4).cq_entries(16).single_issuer().defer_taskrun().build() {
        Ok(r) => Some(r),
        Err(e) if e.errno() == Errno::INVAL => {
            skip(format!("this kernel has no IORING_SETUP_CQE_MIXED (Linux 6.18): {e}"));
            None
        }
        Err(e) => panic!("setup: {e}"),
    }
}

fn submit(ring: &mut Ring<Sqe64, CqeMixed>, ops: &[Nop]) {
    for op in ops {
        ring.submission().push(*op).expect("room in the SQ");
    }
    let s = ring.submit_and_wait(ops.len() as u32).expect("submit_and_wait");
    assert_eq!(s.consumed, ops.len() as u32);
}

/// Shrink to 8 CQ slots; `false` (after printing why) when the kernel
/// cannot resize.
fn shrink(ring: &mut Ring<Sqe64, CqeMixed>) -> bool {
    match ring.resize(ResizeSpec::new(4).cq_entries(8)) {
        Ok(()) => true,
        Err(e) if e.errno() == Errno::INVAL => {
            skip(format!("this kernel cannot resize rings (Linux 6.13): {e}"));
            false
        }
        Err(e) => panic!("resize: {e}"),
    }
}

/// Reap at most `limit` CQEs through one drain (a broken reader would
/// yield billions).
fn reap(ring: &mut Ring<Sqe64, CqeMixed>, limit: usize) -> Vec<BigCqe> {
    ring.completion().drain().take(limit).collect()
}

/// Bring the CQ head and tail to index 7: seven 16-byte NOPs, reaped.
fn to_index_7(ring: &mut Ring<Sqe64, CqeMixed>) {
    let nops: Vec<Nop> = (0..7).map(|i| Nop::new().user_data(100 + i)).collect();
    submit(ring, &nops[..4]);
    submit(ring, &nops[4..]);
    let got: Vec<u64> = reap(ring, 16).iter().map(|c| c.user_data).collect();
    assert_eq!(got, (100..107).collect::<Vec<_>>());
    assert!(ring.completion().is_empty());
}

/// The big CQE alone: after the resize it is the last slot of the ring and
/// slot 0. Exactly one CQE comes back, with its extra words, and the ring
/// is empty after it (head == tail).
#[test]
fn big_cqe_split_across_the_wrap_by_a_shrink_reads_whole() {
    let Some(mut ring) = mixed_ring() else { return };
    to_index_7(&mut ring);
    submit(&mut ring, &[Nop::new().user_data(7).big_cqe_extra(EXTRA1, EXTRA2)]);
    assert_eq!(ring.completion().len(), 2, "one 32-byte CQE takes two slots");
    if !shrink(&mut ring) {
        return;
    }
    assert_eq!(ring.completion().capacity(), 8);
    assert_eq!(ring.completion().len(), 2, "the big CQE is still pending after the resize");
    let peeked = ring.completion().peek().expect("the big CQE, peeked");
    assert_eq!((peeked.user_data, peeked.extra), (7, [EXTRA1, EXTRA2]));
    let got = reap(&mut ring, 16);
    assert_eq!(got.len(), 1, "exactly the one real CQE: {got:x?}");
    let big = got[0];
    assert!(big.is_big(), "{big:x?}");
    assert_eq!((big.user_data, big.res, big.extra), (7, 0, [EXTRA1, EXTRA2]));
    let mut cq = ring.completion();
    assert_eq!(cq.len(), 0, "head == tail after the big CQE");
    assert!(cq.is_empty() && cq.next().is_none() && cq.peek().is_none());
    // The ring goes on working across its new wrap, small and big CQEs.
    for round in 0..6u64 {
        let ops = [Nop::new().user_data(round * 10), Nop::new().user_data(round * 10 + 1).big_cqe_extra(round, !round)];
        submit(&mut ring, &ops);
        let got = reap(&mut ring, 16);
        let seen: Vec<(u64, [u64; 2])> = got.iter().map(|c| (c.user_data, c.extra)).collect();
        assert_eq!(seen, [(round * 10, [0, 0]), (round * 10 + 1, [round, !round])], "round {round}");
        assert!(ring.completion().is_empty(), "round {round}: len {}", ring.completion().len());
    }
}

/// The big CQE followed by a 16-byte one: after the resize the big CQE's
/// second half is in slot 0 and the small CQE in slot 1.
#[test]
fn big_cqe_split_by_a_shrink_then_a_small_one() {
    let Some(mut ring) = mixed_ring() else { return };
    to_index_7(&mut ring);
    submit(&mut ring, &[Nop::new().user_data(7).big_cqe_extra(EXTRA1, EXTRA2), Nop::new().user_data(8)]);
    assert_eq!(ring.completion().len(), 3);
    if !shrink(&mut ring) {
        return;
    }
    assert_eq!(ring.completion().len(), 3);
    // Non-consuming look first, then one at a time.
    let pending: Vec<(u64, [u64; 2])> = ring.completion().iter().take(16).map(|c| (c.user_data, c.extra)).collect();
    assert_eq!(pending, [(7, [EXTRA1, EXTRA2]), (8, [0, 0])]);
    let first = ring.completion().next().expect("the big CQE");
    assert_eq!((first.user_data, first.extra), (7, [EXTRA1, EXTRA2]));
    assert_eq!(ring.completion().len(), 1);
    let second = ring.completion().next().expect("the small CQE");
    assert_eq!((second.user_data, second.extra, second.is_big()), (8, [0, 0], false));
    assert!(ring.completion().is_empty());
    assert!(ring.completion().next().is_none());
}
