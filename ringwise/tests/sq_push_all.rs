//! All-or-nothing batch pushes (issue 9, item 9b): `push_all` queues every
//! op of a batch or none, and says how many slots were needed and free.

use ringwise::op::Nop;
use ringwise::{Ring, SqNoRoom};

fn nops(range: std::ops::Range<u64>) -> impl Iterator<Item = Nop> {
    range.map(|i| Nop::new().user_data(i))
}

/// Reap every CQE now ready, as user_data, sorted.
fn reap(ring: &mut Ring) -> Vec<u64> {
    let mut got: Vec<u64> = ring.completions().expect("completions").map(|c| c.user_data).collect();
    got.sort_unstable();
    got
}

#[test]
fn a_batch_is_queued_whole_or_not_at_all() {
    let mut ring: Ring = Ring::new(8).expect("ring");
    for lap in 0..3u64 {
        let base = lap * 100;
        let mut sq = ring.submission();
        assert_eq!(sq.push_all(nops(base..base + 3)), Ok(3));
        // Known length: refused before any op is taken.
        assert_eq!(sq.push_all(nops(base + 10..base + 16)), Err(SqNoRoom { needed: 6, free: 5 }));
        assert_eq!(sq.len(), 3, "lap {lap}: nothing of the refused batch is queued");
        // Unknown length: consumed up to the op that does not fit, then
        // taken back.
        let unknown = nops(base + 20..base + 26).filter(|_| true);
        assert_eq!(sq.push_all(unknown), Err(SqNoRoom { needed: 6, free: 5 }));
        assert_eq!(sq.len(), 3, "lap {lap}: nothing of the refused batch is queued");
        // What fits is queued whole; the kernel sees exactly the accepted ops.
        assert_eq!(sq.push_all(nops(base + 30..base + 35)), Ok(5));
        assert_eq!(sq.space(), 0);
        assert_eq!(sq.push_all(nops(base + 40..base + 40)), Ok(0), "an empty batch always fits");
        let s = ring.submit_and_wait(8).expect("submit_and_wait");
        assert_eq!((s.consumed, s.remaining), (8, 0));
        let mut want: Vec<u64> = (base..base + 3).chain(base + 30..base + 35).collect();
        want.sort_unstable();
        assert_eq!(reap(&mut ring), want, "lap {lap}");
    }
    let e = SqNoRoom { needed: 6, free: 5 };
    assert!(e.to_string().contains("needs 6 SQ slots but 5 are free"), "{e}");
}
