//! Property test against the running kernel: random ring specs (fewer cases
//! than the pure layout properties in `ringwise/tests/layout_props.rs`, each
//! a handful of real setups) go through every guard-page check of
//! [`verify_config`]. A spec the layout accepts must be exact; one it refuses
//! must be refused by the kernel with the same errno.

use proptest::prelude::*;
use ringwise::layout::{MAX_CQ_ENTRIES, MAX_SQ_ENTRIES};
use ringwise::{RingSpec, SetupFlags};
use ringwise_verify::{verify_config, CheckResult, Status};

/// `cases` cases, no regression files (proptest cannot locate this
/// workspace's sources to put them next to).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// SQ entry counts weighted towards the edges: powers of two and their
/// neighbours, 0, and counts above the maximum.
fn entries() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 1u32..=MAX_SQ_ENTRIES,
        2 => (0u32..=15).prop_map(|shift| 1 << shift),
        1 => (1u32..=15).prop_map(|shift| (1 << shift) - 1),
        1 => (0u32..=14).prop_map(|shift| (1 << shift) + 1),
        1 => Just(0u32),
        1 => (MAX_SQ_ENTRIES + 1)..=u32::MAX,
    ]
}

/// CQ entry counts: the default, any valid count, 0, and above the maximum.
fn cq_entries() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![
        3 => Just(None),
        3 => (1u32..=MAX_CQ_ENTRIES).prop_map(Some),
        1 => Just(Some(0)),
        1 => ((MAX_CQ_ENTRIES + 1)..=u32::MAX).prop_map(Some),
    ]
}

/// The flags that change sizes or entry-count rules.
fn size_flags() -> impl Strategy<Value = SetupFlags> {
    let cqe = prop_oneof![Just(SetupFlags::empty()), Just(SetupFlags::CQE32), Just(SetupFlags::CQE_MIXED),];
    let optional = |flag: SetupFlags| prop_oneof![Just(SetupFlags::empty()), Just(flag)];
    (cqe, optional(SetupFlags::SQE128), optional(SetupFlags::NO_SQARRAY), optional(SetupFlags::CLAMP))
        .prop_map(|(a, b, c, d)| a | b | c | d)
}

/// The companions that change how a ring is driven, including two sets the
/// kernel refuses (DEFER_TASKRUN alone, SQPOLL with COOP_TASKRUN).
fn companions() -> impl Strategy<Value = SetupFlags> {
    prop_oneof![
        4 => Just(SetupFlags::empty()),
        1 => Just(SetupFlags::SINGLE_ISSUER | SetupFlags::DEFER_TASKRUN),
        1 => Just(SetupFlags::COOP_TASKRUN | SetupFlags::TASKRUN_FLAG),
        1 => Just(SetupFlags::SUBMIT_ALL),
        1 => Just(SetupFlags::DEFER_TASKRUN),
        1 => Just(SetupFlags::SQPOLL),
        1 => Just(SetupFlags::SQPOLL | SetupFlags::COOP_TASKRUN),
    ]
}

fn kernel_spec() -> impl Strategy<Value = RingSpec> {
    (entries(), cq_entries(), size_flags(), companions()).prop_map(|(entries, cq_entries, size, companions)| RingSpec {
        entries,
        cq_entries,
        flags: size | companions,
    })
}

proptest! {
    #![proptest_config(config(40))]

    /// Each case sets rings up in guarded memory of exactly the layout's
    /// size, one page less (ringwise and the raw syscall), and kernel memory;
    /// refused specs must be refused by the kernel with the same errno.
    #[test]
    fn layout_agrees_with_the_kernel(spec in kernel_spec()) {
        let o = verify_config(&spec);
        let kind = if o.layout.is_some() { "built" } else { "refused" };
        eprintln!("{}: {} {kind}", o.label(), o.status().name());
        prop_assert_ne!(o.status(), Status::Mismatch, "{}", o);
        if o.status() == Status::Skipped {
            eprintln!("skipped: {o}");
        } else {
            prop_assert!(o.checks.iter().all(|c| c.result != CheckResult::Failed));
        }
    }
}
