//! Kernel-verified layout: every default configuration is placed in exactly
//! the layout's bytes followed by a guard page, runs I/O, and one page less
//! is refused by ringwise and by the kernel (see the `ringwise_verify` crate).

use ringwise::{Builder, Cqe32, Error, Region, RingSpec, SetupFlags, Sqe64};
use ringwise_verify::{default_configs, verify_config, CheckKind, CheckResult, Outcome, Status, Summary};
use std::time::Instant;

fn report(outcomes: &[Outcome]) -> Summary {
    let summary = Summary::of(outcomes);
    for o in outcomes.iter().filter(|o| o.status() != Status::Passed) {
        eprintln!("{o}");
    }
    eprintln!("{summary}");
    summary
}

#[test]
fn every_default_config_is_exact_on_this_kernel() {
    let configs = default_configs();
    assert!(configs.len() >= 130, "only {} default configurations", configs.len());
    let started = Instant::now();
    let outcomes: Vec<Outcome> = configs.iter().map(verify_config).collect();
    let summary = report(&outcomes);
    eprintln!("ran in {:.2?}", started.elapsed());
    let slowest = outcomes.iter().max_by_key(|o| o.elapsed).expect("configs");
    eprintln!("slowest: {} in {:.2?}", slowest.label(), slowest.elapsed);
    assert_eq!(summary.mismatches, 0, "{summary}");
    if summary.skipped > 0 {
        eprintln!("skipped: {} configurations (reasons above)", summary.skipped);
    }
    // Skips are for features this kernel lacks; the bulk must run.
    assert!(summary.passed >= 100, "{summary}");
    for o in outcomes.iter().filter(|o| o.status() == Status::Passed) {
        for kind in [
            CheckKind::Exact,
            CheckKind::RingwiseRefusesShortRings,
            CheckKind::RingwiseRefusesShortSqes,
            CheckKind::KernelRefusesShortRings,
            CheckKind::KernelRefusesShortSqes,
            CheckKind::KernelOffsets,
        ] {
            let check = o.check(kind).unwrap_or_else(|| panic!("{}: no {} check", o.label(), kind.name()));
            assert_eq!(check.result, CheckResult::Passed, "{o}");
        }
    }
}

fn verify_one(spec: RingSpec) -> Outcome {
    let o = verify_config(&spec);
    eprintln!("{o}");
    assert_eq!(o.status(), Status::Passed, "{o}");
    o
}

/// 128 entries without SQ array: 256 CQEs fill exactly one page, the 64-byte
/// header makes it two. One page short, CQEs 252..=255 would land in the
/// next page: the kernel must fault there.
#[test]
fn header_makes_two_pages_and_the_kernel_faults_one_short() {
    let o = verify_one(RingSpec::new(128).flags(SetupFlags::NO_SQARRAY));
    let layout = o.layout.expect("layout");
    assert_eq!(layout.rings_bytes(), 2 * layout.page_size());
    let kernel = o.check(CheckKind::KernelRefusesShortRings).unwrap();
    assert!(kernel.detail.contains("EFAULT"), "{}", kernel.detail);
}

/// 1024 entries with the SQ array: the array pushes the rings region from 9
/// to 10 pages (the liburing 2.11-2.14 bug forgot it).
#[test]
fn sq_array_at_1024_needs_the_tenth_page() {
    let o = verify_one(RingSpec::new(1024));
    let layout = o.layout.expect("layout");
    assert_eq!(layout.rings_bytes(), 10 * 4096);
    assert_eq!(layout.sq_array_offset(), Some(64 + 2048 * 16));
}

/// CQE32 with one entry: a ring whose rings region is one page; short by a
/// page means no rings memory at all.
#[test]
fn cqe32_with_one_entry() {
    let o = verify_one(RingSpec::new(1).flags(SetupFlags::CQE32));
    let layout = o.layout.expect("layout");
    assert_eq!(layout.rings_bytes(), layout.page_size());
    assert_eq!(layout.cqe_slot_bytes(), 32);
}

/// The refusal names both numbers and happens before any syscall (the short
/// region is followed by a guard page; a setup that reached the kernel would
/// have come back as EFAULT, not as `MemoryTooSmall`).
#[test]
fn ringwise_names_needed_and_given() {
    let b = Builder::<Sqe64, Cqe32>::new(128).keep_sq_array();
    let layout = b.layout().unwrap();
    let page = layout.page_size();
    let rings = ringwise_verify::GuardedRegion::new(layout.rings_bytes() - page).unwrap();
    let sqes = ringwise_verify::GuardedRegion::new(layout.sqes_bytes()).unwrap();
    let err = b.build_in_regions(rings, sqes).unwrap_err();
    let msg = err.to_string();
    match err {
        Error::MemoryTooSmall { region: Region::Rings, needed, given } => {
            assert_eq!(needed, layout.rings_bytes());
            assert_eq!(given, layout.rings_bytes() - page);
            assert!(msg.contains(&needed.to_string()) && msg.contains(&given.to_string()), "{msg}");
        }
        other => panic!("expected MemoryTooSmall, got {other}"),
    }
}

/// Configurations the layout refuses are refused by the kernel with the
/// same errno.
#[test]
fn refusals_agree_with_the_kernel() {
    for spec in [
        RingSpec::new(0),
        RingSpec::new(32769),
        RingSpec::new(8).cq_entries(0),
        RingSpec::new(8).cq_entries(4),
        RingSpec::new(8).cq_entries(65537),
        RingSpec::new(1).cq_entries(1).flags(SetupFlags::CQE_MIXED),
        RingSpec::new(8).flags(SetupFlags::DEFER_TASKRUN),
        RingSpec::new(8).flags(SetupFlags::TASKRUN_FLAG),
        RingSpec::new(8).flags(SetupFlags::SQPOLL | SetupFlags::COOP_TASKRUN),
        RingSpec::new(8).flags(SetupFlags::CQE32 | SetupFlags::CQE_MIXED),
    ] {
        let o = verify_config(&spec);
        eprintln!("{o}");
        assert_eq!(o.status(), Status::Passed, "{o}");
        assert!(o.layout.is_none());
        assert_eq!(o.check(CheckKind::RefusedAlike).map(|c| c.result), Some(CheckResult::Passed), "{o}");
    }
}

/// A flag this kernel does not know (SQE_MIXED before 6.19) skips the
/// configuration with the reason; it never counts as passed.
#[test]
fn unknown_flags_are_skipped_with_a_reason() {
    let accepted = ringwise::probe::setup_flags_accepted(SetupFlags::SQE_MIXED);
    let o = verify_config(&RingSpec::new(8).flags(SetupFlags::SQE_MIXED));
    eprintln!("{o}");
    if accepted {
        eprintln!("skipped: this kernel supports SQE_MIXED; the skip path is not reachable with it");
        assert_eq!(o.status(), Status::Passed, "{o}");
    } else {
        assert_eq!(o.status(), Status::Skipped, "{o}");
        let reason = o.skip_reason.as_deref().expect("a reason");
        assert!(reason.contains("SQE_MIXED"), "{reason}");
    }
}

/// Shapes outside the default set that change how the ring is driven:
/// started disabled, and known only by a registered index.
#[test]
fn disabled_and_registered_fd_only_rings() {
    let o = verify_one(RingSpec::new(64).flags(SetupFlags::R_DISABLED));
    assert_eq!(o.check(CheckKind::KernelOffsets).map(|c| c.result), Some(CheckResult::Passed));
    let o = verify_one(RingSpec::new(100).cq_entries(300).flags(SetupFlags::REGISTERED_FD_ONLY));
    // Such a ring has no fd to map, so the kernel-mapped comparison is skipped.
    assert_eq!(o.check(CheckKind::KernelOffsets).map(|c| c.result), Some(CheckResult::Skipped));
    assert_eq!(o.check(CheckKind::Exact).map(|c| c.result), Some(CheckResult::Passed));
}

/// The region is readable and writable up to its end and the next page is
/// `PROT_NONE`, as `/proc/self/maps` shows; absurd sizes are an error rather
/// than a panic.
#[test]
fn guarded_region_is_followed_by_a_prot_none_page() {
    use ringwise_verify::GuardedRegion;
    let page = ringwise::raw::sys::page_size();
    let perms_at = |addr: usize| -> String {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        for line in maps.lines() {
            let mut fields = line.split_whitespace();
            let (range, perms) = (fields.next().unwrap(), fields.next().unwrap());
            let (lo, hi) = range.split_once('-').unwrap();
            let (lo, hi) = (usize::from_str_radix(lo, 16).unwrap(), usize::from_str_radix(hi, 16).unwrap());
            if (lo..hi).contains(&addr) {
                return perms.to_string();
            }
        }
        panic!("{addr:#x} is not mapped");
    };
    for pages in [0, 1, 3] {
        let g = GuardedRegion::new(pages * page).unwrap();
        assert_eq!((g.len(), g.guard_addr()), (pages * page, g.addr() + pages * page));
        if pages > 0 {
            assert_eq!(perms_at(g.addr()), "rw-p");
            assert_eq!(perms_at(g.guard_addr() - 1), "rw-p");
        }
        assert_eq!(perms_at(g.guard_addr()), "---p");
        assert_eq!(perms_at(g.guard_addr() + page - 1), "---p");
    }
    assert!(GuardedRegion::new(usize::MAX).is_err());
}
