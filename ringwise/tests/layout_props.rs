//! Property tests of `Layout::compute`: the invariants of the size rules over
//! random specs. Agreement with the running kernel, through the guard-page
//! checks, is tested in `ringwise-verify/tests/kernel_props.rs`.

use proptest::prelude::*;
use ringwise::layout::{MAX_CQ_ENTRIES, MAX_SQ_ENTRIES};
use ringwise::{Error, Layout, RingSpec, SetupFlags};

const PAGE: usize = 4096;

/// `cases` cases, no regression files (proptest cannot locate this
/// workspace's sources to put them next to).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Flags that change sizes or entry-count rules, plus a few companions.
fn size_flags() -> impl Strategy<Value = SetupFlags> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(sqe128, cqe32, no_array, clamp, mixed)| {
            let mut f = SetupFlags::empty();
            if sqe128 {
                f |= SetupFlags::SQE128;
            }
            if cqe32 && !mixed {
                f |= SetupFlags::CQE32;
            }
            if mixed && !cqe32 {
                f |= SetupFlags::CQE_MIXED;
            }
            if no_array {
                f |= SetupFlags::NO_SQARRAY;
            }
            if clamp {
                f |= SetupFlags::CLAMP;
            }
            f
        },
    )
}

/// Entry counts weighted towards the interesting edges.
fn entries() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 1u32..=MAX_SQ_ENTRIES,
        2 => (0u32..=15).prop_map(|s| 1 << s),
        1 => (0u32..=15).prop_flat_map(|s| prop_oneof![Just((1u32 << s).saturating_sub(1).max(1)), Just((1u32 << s) + 1)]),
        1 => Just(0u32),
        1 => (MAX_SQ_ENTRIES + 1)..=u32::MAX,
    ]
}

fn cq_entries() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![
        3 => Just(None),
        3 => (1u32..=MAX_CQ_ENTRIES).prop_map(Some),
        1 => Just(Some(0)),
        1 => ((MAX_CQ_ENTRIES + 1)..=u32::MAX).prop_map(Some),
    ]
}

fn spec() -> impl Strategy<Value = RingSpec> {
    (entries(), cq_entries(), size_flags()).prop_map(|(entries, cq_entries, flags)| RingSpec {
        entries,
        cq_entries,
        flags,
    })
}

/// The kernel's rules, written independently of `layout.rs` as a reference:
/// `Some((sq, cq))` when the kernel accepts the counts.
fn kernel_counts(spec: &RingSpec) -> Option<(u32, u32)> {
    let clamp = spec.flags.contains(SetupFlags::CLAMP);
    let mut e = spec.entries;
    if e == 0 || (e > MAX_SQ_ENTRIES && !clamp) {
        return None;
    }
    e = e.min(MAX_SQ_ENTRIES);
    let sq = e.next_power_of_two();
    let cq = match spec.cq_entries {
        None => 2 * sq,
        Some(0) => return None,
        Some(c) if c > MAX_CQ_ENTRIES && !clamp => return None,
        Some(c) => {
            let cq = c.min(MAX_CQ_ENTRIES).next_power_of_two();
            if cq < sq {
                return None;
            }
            cq
        }
    };
    if spec.flags.contains(SetupFlags::CQE_MIXED) && cq < 2 {
        return None;
    }
    Some((sq, cq))
}

fn layout(spec: &RingSpec) -> Result<Layout, Error> {
    Layout::compute(spec, PAGE)
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn errors_exactly_when_the_kernel_rules_say(spec in spec()) {
        match (layout(&spec), kernel_counts(&spec)) {
            (Ok(l), Some((sq, cq))) => {
                prop_assert_eq!(l.sq_entries(), sq);
                prop_assert_eq!(l.cq_entries(), cq);
            }
            (Err(e), None) => {
                let errno = e.errno_name();
                prop_assert!(errno == "EINVAL" || errno == "EOVERFLOW", "{e}: {errno}");
            }
            (Ok(l), None) => prop_assert!(false, "layout accepts {spec:?} as {l:?}; the kernel refuses it"),
            (Err(e), Some(_)) => prop_assert!(false, "layout refuses {spec:?} ({e}); the kernel accepts it"),
        }
    }

    #[test]
    fn regions_are_page_multiples_with_less_than_a_page_slack(spec in spec()) {
        let Ok(l) = layout(&spec) else { return Ok(()) };
        prop_assert_eq!(l.rings_bytes() % PAGE, 0);
        prop_assert_eq!(l.sqes_bytes() % PAGE, 0);
        prop_assert!(l.rings_used_bytes() <= l.rings_bytes());
        prop_assert!(l.rings_bytes() < l.rings_used_bytes() + PAGE);
        prop_assert!(l.sqes_used_bytes() <= l.sqes_bytes());
        prop_assert!(l.sqes_bytes() < l.sqes_used_bytes() + PAGE);
        prop_assert_eq!(l.total_bytes(), l.rings_bytes() + l.sqes_bytes());
        prop_assert_eq!(l.rings_pages() * PAGE, l.rings_bytes());
        prop_assert_eq!(l.sqes_pages() * PAGE, l.sqes_bytes());
        prop_assert_eq!(l.sqes_offset_in_buffer(), l.rings_bytes());
    }

    #[test]
    fn counts_are_powers_of_two_and_clamped(spec in spec()) {
        let Ok(l) = layout(&spec) else { return Ok(()) };
        prop_assert!(l.sq_entries().is_power_of_two());
        prop_assert!(l.cq_entries().is_power_of_two());
        prop_assert!(l.sq_entries() <= MAX_SQ_ENTRIES);
        prop_assert!(l.cq_entries() <= MAX_CQ_ENTRIES);
        prop_assert!(l.cq_entries() >= l.sq_entries());
        let requested = spec.entries.min(MAX_SQ_ENTRIES);
        prop_assert!(l.sq_entries() >= requested && l.sq_entries() / 2 < requested);
        if spec.entries > MAX_SQ_ENTRIES {
            prop_assert!(spec.flags.contains(SetupFlags::CLAMP));
            prop_assert_eq!(l.sq_entries(), MAX_SQ_ENTRIES);
        }
        match spec.cq_entries {
            None => prop_assert_eq!(l.cq_entries(), 2 * l.sq_entries()),
            Some(c) if c > MAX_CQ_ENTRIES => prop_assert_eq!(l.cq_entries(), MAX_CQ_ENTRIES),
            Some(c) => prop_assert!(l.cq_entries() >= c && l.cq_entries() / 2 < c),
        }
        prop_assert!(l.flags().contains(SetupFlags::CQSIZE) == spec.cq_entries.is_some());
    }

    #[test]
    fn the_formula(spec in spec()) {
        let Ok(l) = layout(&spec) else { return Ok(()) };
        let (sq, cq) = (l.sq_entries() as usize, l.cq_entries() as usize);
        let cqe32 = spec.flags.contains(SetupFlags::CQE32);
        let header_and_cqes = ((64 + 16 * cq) << cqe32 as usize).div_ceil(64) * 64;
        let array = if spec.flags.contains(SetupFlags::NO_SQARRAY) { 0 } else { 4 * sq };
        prop_assert_eq!(l.rings_used_bytes(), header_and_cqes + array);
        prop_assert_eq!(l.cqes_offset(), 64);
        prop_assert_eq!(l.sq_array_offset(), (array > 0).then_some(header_and_cqes));
        let sqe = if spec.flags.contains(SetupFlags::SQE128) { 128 } else { 64 };
        prop_assert_eq!(l.sqes_used_bytes(), sqe * sq);
        prop_assert_eq!(l.sqe_bytes(), sqe);
        prop_assert_eq!(l.cqe_slot_bytes(), if cqe32 { 32 } else { 16 });
    }

    #[test]
    fn cqe32_doubles_header_and_cqes(spec in spec()) {
        let plain = RingSpec { flags: spec.flags - SetupFlags::CQE32 - SetupFlags::CQE_MIXED, ..spec };
        let big = RingSpec { flags: plain.flags | SetupFlags::CQE32, ..spec };
        let (Ok(p), Ok(b)) = (layout(&plain), layout(&big)) else { return Ok(()) };
        let array = |l: &Layout| l.sq_array_offset().map_or(0, |_| 4 * l.sq_entries() as usize);
        let p_cq_part = p.rings_used_bytes() - array(&p);
        let b_cq_part = b.rings_used_bytes() - array(&b);
        // The doubling applies to header plus CQEs before the cache-line
        // alignment (it differs from twice the aligned size for cq < 4).
        let raw = 64 + 16 * p.cq_entries() as usize;
        prop_assert_eq!(p_cq_part, raw.div_ceil(64) * 64);
        prop_assert_eq!(b_cq_part, (2 * raw).div_ceil(64) * 64);
        prop_assert!(b_cq_part <= 2 * p_cq_part);
        prop_assert_eq!(b.sqes_bytes(), p.sqes_bytes());
        prop_assert!(b.rings_bytes() >= p.rings_bytes());
    }

    #[test]
    fn cqe_mixed_is_sized_like_16_byte_cqes(spec in spec()) {
        let plain = RingSpec { flags: spec.flags - SetupFlags::CQE32 - SetupFlags::CQE_MIXED, ..spec };
        let mixed = RingSpec { flags: plain.flags | SetupFlags::CQE_MIXED, ..spec };
        let (Ok(p), Ok(m)) = (layout(&plain), layout(&mixed)) else { return Ok(()) };
        prop_assert_eq!(p.rings_bytes(), m.rings_bytes());
        prop_assert_eq!(p.sqes_bytes(), m.sqes_bytes());
    }

    #[test]
    fn sqe128_doubles_sqes(spec in spec()) {
        let plain = RingSpec { flags: spec.flags - SetupFlags::SQE128, ..spec };
        let big = RingSpec { flags: plain.flags | SetupFlags::SQE128, ..spec };
        let (Ok(p), Ok(b)) = (layout(&plain), layout(&big)) else { return Ok(()) };
        prop_assert_eq!(b.sqes_used_bytes(), 2 * p.sqes_used_bytes());
        prop_assert_eq!(b.rings_bytes(), p.rings_bytes());
    }

    #[test]
    fn sq_array_adds_four_bytes_per_entry(spec in spec()) {
        let without = RingSpec { flags: spec.flags | SetupFlags::NO_SQARRAY, ..spec };
        let with = RingSpec { flags: spec.flags - SetupFlags::NO_SQARRAY, ..spec };
        let (Ok(a), Ok(b)) = (layout(&without), layout(&with)) else { return Ok(()) };
        prop_assert_eq!(b.rings_used_bytes(), a.rings_used_bytes() + 4 * a.sq_entries() as usize);
        prop_assert_eq!(a.sq_array_offset(), None);
        prop_assert_eq!(b.sq_array_offset(), Some(a.rings_used_bytes()));
    }

    #[test]
    fn monotone_in_entries(a in 1u32..=MAX_SQ_ENTRIES, b in 1u32..=MAX_SQ_ENTRIES, flags in size_flags()) {
        let (lo, hi) = (a.min(b), a.max(b));
        let l = layout(&RingSpec { entries: lo, cq_entries: None, flags }).unwrap();
        let h = layout(&RingSpec { entries: hi, cq_entries: None, flags }).unwrap();
        prop_assert!(l.rings_bytes() <= h.rings_bytes());
        prop_assert!(l.sqes_bytes() <= h.sqes_bytes());
        prop_assert!(l.rings_used_bytes() <= h.rings_used_bytes());
    }

    #[test]
    fn monotone_in_cq(sq in 1u32..=MAX_SQ_ENTRIES, a in 1u32..=MAX_CQ_ENTRIES, b in 1u32..=MAX_CQ_ENTRIES, flags in size_flags()) {
        let (lo, hi) = (a.min(b), a.max(b));
        let (Ok(l), Ok(h)) = (
            layout(&RingSpec { entries: sq, cq_entries: Some(lo), flags }),
            layout(&RingSpec { entries: sq, cq_entries: Some(hi), flags }),
        ) else { return Ok(()) };
        prop_assert!(l.rings_bytes() <= h.rings_bytes());
        prop_assert!(l.rings_used_bytes() <= h.rings_used_bytes());
        prop_assert_eq!(l.sqes_bytes(), h.sqes_bytes());
    }

    #[test]
    fn larger_pages_never_need_fewer_bytes(spec in spec(), shift in 0u32..=9) {
        let Ok(small) = layout(&spec) else { return Ok(()) };
        let big = Layout::compute(&spec, PAGE << shift).unwrap();
        prop_assert_eq!(big.rings_used_bytes(), small.rings_used_bytes());
        prop_assert!(big.rings_bytes() >= small.rings_bytes());
        prop_assert_eq!(big.rings_bytes() % (PAGE << shift), 0);
    }
}
