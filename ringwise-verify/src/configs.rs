//! The configurations `ringwise verify` checks, and their short labels.
//!
//! [`default_configs`] is a fixed list, the same on every run, chosen so that
//! every size rule of the layout is crossed: where a region grows by a page,
//! where the kernel clamps or refuses, and every entry size and companion set.

use ringwise::layout::{MAX_CQ_ENTRIES, MAX_SQ_ENTRIES};
use ringwise::{RingSpec, SetupFlags};

/// A deterministic spread of ring configurations covering every size rule:
/// entry counts from 1 to 32768 (powers of two, one off either side, and
/// arbitrary numbers), clamping above the maxima, explicit CQ sizes, 128-byte
/// SQEs, 32-byte and mixed CQEs, with and without the SQ index array, and
/// the companion-flag sets that change how a ring is driven.
pub fn default_configs() -> Vec<RingSpec> {
    let f = SetupFlags::empty;
    let no_array = SetupFlags::NO_SQARRAY;
    let mut out = Vec::new();
    let mut add = |entries: u32, cq: Option<u32>, flags: SetupFlags| {
        out.push(RingSpec { entries, cq_entries: cq, flags });
    };

    // Entry counts around every power of two where a region crosses a page
    // boundary, with the SQ index array.
    const PLAIN: [u32; 42] = [
        1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 511, 512, 513,
        1000, 1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097, 8192, 10000, 16384, 20000, 32767, 32768,
    ];
    for e in PLAIN {
        add(e, None, f());
    }
    // The same without the SQ index array.
    const NO_ARRAY: [u32; 20] =
        [1, 2, 3, 5, 7, 8, 64, 100, 127, 128, 129, 255, 256, 1000, 1023, 1024, 1025, 4096, 16384, 32768];
    for e in NO_ARRAY {
        add(e, None, no_array);
    }
    // Above the SQ maximum: clamped to 32768.
    for e in [MAX_SQ_ENTRIES + 1, 40_000, 100_000, u32::MAX] {
        add(e, None, SetupFlags::CLAMP);
    }
    add(65_536, None, SetupFlags::CLAMP | no_array);
    // Explicit CQ sizes, including non-powers of two, CQ == SQ, and CQ counts
    // clamped to 65536.
    const CQSIZE: [(u32, u32); 17] = [
        (1, 1),
        (1, 3),
        (2, 2),
        (4, 5),
        (8, 8),
        (8, 100),
        (16, 1000),
        (32, 4097),
        (128, 129),
        (100, 1000),
        (1000, 1023),
        (1024, 1024),
        (1024, 5000),
        (2048, 65_536),
        (4096, 8191),
        (32_768, 32_768),
        (32_768, 65_536),
    ];
    for (e, cq) in CQSIZE {
        add(e, Some(cq), f());
    }
    add(128, Some(128), no_array);
    add(1000, Some(3000), no_array);
    add(256, Some(MAX_CQ_ENTRIES + 1), SetupFlags::CLAMP);
    add(512, Some(1_000_000), SetupFlags::CLAMP | no_array);
    add(32_768, Some(u32::MAX), SetupFlags::CLAMP);
    add(50_000, Some(70_000), SetupFlags::CLAMP);
    // 128-byte SQEs.
    for (e, flags) in [
        (1, f()),
        (3, f()),
        (8, no_array),
        (64, f()),
        (100, f()),
        (128, no_array),
        (1000, f()),
        (1024, no_array),
        (4096, f()),
        (32_768, f()),
    ] {
        add(e, None, SetupFlags::SQE128 | flags);
    }
    // 32-byte CQEs: the whole header-plus-CQEs size doubles.
    for (e, flags) in [
        (1, f()),
        (2, no_array),
        (7, f()),
        (64, f()),
        (100, no_array),
        (128, f()),
        (255, f()),
        (1000, f()),
        (1024, no_array),
        (4096, f()),
        (32_768, f()),
    ] {
        add(e, None, SetupFlags::CQE32 | flags);
    }
    add(8, Some(100), SetupFlags::CQE32);
    add(1024, Some(2049), SetupFlags::CQE32 | no_array);
    // Both big entry types.
    for (e, flags) in [(1, f()), (64, no_array), (1024, f()), (4096, no_array), (2000, f())] {
        add(e, None, SetupFlags::SQE128 | SetupFlags::CQE32 | flags);
    }
    // Mixed 16/32-byte CQEs (Linux 6.18).
    for (e, flags) in [(1, f()), (2, no_array), (8, f()), (100, f()), (128, no_array), (1024, f()), (32_768, f())] {
        add(e, None, SetupFlags::CQE_MIXED | flags);
    }
    add(1, Some(2), SetupFlags::CQE_MIXED);
    add(4, Some(5), SetupFlags::CQE_MIXED | no_array);
    add(64, Some(1000), SetupFlags::CQE_MIXED);
    add(16, None, SetupFlags::CQE_MIXED | SetupFlags::SQE128);
    // Companion sets: they change how the ring is driven, not its size.
    let si_dt = SetupFlags::SINGLE_ISSUER | SetupFlags::DEFER_TASKRUN;
    for (e, flags) in [(1, f()), (128, f()), (1000, no_array), (4096, f())] {
        add(e, None, si_dt | flags);
    }
    add(64, None, si_dt | SetupFlags::TASKRUN_FLAG | SetupFlags::CQE32);
    let coop = SetupFlags::COOP_TASKRUN | SetupFlags::TASKRUN_FLAG;
    for (e, flags) in [(8, f()), (256, no_array), (1024, f())] {
        add(e, None, coop | flags);
    }
    add(32, None, SetupFlags::COOP_TASKRUN);
    add(64, None, SetupFlags::SINGLE_ISSUER);
    for (e, flags) in [(4, f()), (100, no_array), (2048, f())] {
        add(e, None, SetupFlags::SUBMIT_ALL | flags);
    }
    add(512, Some(4096), SetupFlags::SUBMIT_ALL | si_dt);
    for (e, flags) in [(8, f()), (128, f()), (256, no_array), (1024, SetupFlags::SQE128)] {
        add(e, None, SetupFlags::SQPOLL | flags);
    }
    // Many small SQPOLL rounds: the SQ thread races the waiter on every one.
    add(2, Some(2048), SetupFlags::SQPOLL);
    out
}

/// A short name of a configuration: `entries=128 cq=256 [NO_SQARRAY]`.
pub fn spec_label(spec: &RingSpec) -> String {
    let mut s = format!("entries={}", spec.entries);
    if let Some(cq) = spec.cq_entries {
        s.push_str(&format!(" cq={cq}"));
    }
    let flags = spec.flags - SetupFlags::CQSIZE;
    if !flags.is_empty() {
        s.push_str(&format!(" [{}]", flags.names()));
    }
    s
}
