//! Ring resizing against the running kernel: pending CQEs and queued SQEs
//! survive, the ring then takes more entries, in kernel and in caller
//! memory, with the same exact-layout refusal of short memory as at setup,
//! and refusals (too small for what is pending, no DEFER_TASKRUN) leave a
//! working ring.

use ringwise::op::Nop;
use ringwise::register::ResizeSpec;
use ringwise::{Builder, Cqe16, Cqe32, CqeSize, Errno, Error, Mapping, Pages, Region, Ring, Sqe128, Sqe64, SqeSize};

fn builder<S: SqeSize, C: CqeSize>(entries: u32) -> Builder<S, C> {
    Builder::new(entries).single_issuer().defer_taskrun()
}

fn push_nops<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, ids: std::ops::Range<u64>) {
    for i in ids {
        ring.submission().push(Nop::new().user_data(i)).unwrap();
    }
}

fn reap<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>) -> Vec<u64> {
    ring.completions().unwrap().map(|c| C::base(&c).user_data).collect()
}

/// Pending CQEs and queued SQEs survive; more entries fit afterwards.
fn keeps_pending_and_grows<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, resize: impl FnOnce(&mut Ring<S, C>)) {
    assert_eq!((ring.submission().capacity(), ring.completion().capacity()), (4, 8));
    push_nops(ring, 0..4);
    ring.submit_and_wait(4).unwrap();
    push_nops(ring, 4..6); // queued, not submitted
    resize(ring);
    assert_eq!((ring.submission().capacity(), ring.completion().capacity()), (64, 128));
    assert_eq!((ring.layout().sq_entries(), ring.layout().cq_entries()), (64, 128));
    assert_eq!(ring.params().sq_entries, 64);
    assert_eq!(reap(ring), vec![0, 1, 2, 3], "CQEs pending before the resize");
    let s = ring.submit_and_wait(2).unwrap();
    assert_eq!((s.consumed, s.remaining), (2, 0), "SQEs queued before the resize");
    assert_eq!(reap(ring), vec![4, 5]);
    // 64 SQEs at once, 100 CQEs pending: impossible in the old 4/8 ring.
    push_nops(ring, 100..164);
    assert_eq!(ring.submit().unwrap().consumed, 64);
    push_nops(ring, 164..200);
    ring.submit_and_wait(100).unwrap();
    assert_eq!(reap(ring), (100..200).collect::<Vec<_>>());
    assert_eq!(ring.submission().dropped(), 0);
}

#[test]
fn kernel_ring_keeps_pending_entries_and_grows() {
    let mut ring: Ring = builder(4).build().unwrap();
    let before = ring.memory_report();
    keeps_pending_and_grows(&mut ring, |r| r.resize(ResizeSpec::new(64)).unwrap());
    let after = ring.memory_report();
    assert_ne!(before.rings_addr, after.rings_addr, "new mappings");
    assert_eq!(after.rings_bytes, ring.layout().rings_bytes());
}

#[test]
fn kernel_ring_with_sq_array_and_big_entries_resizes() {
    let mut ring: Ring<Sqe128, Cqe32> = builder(4).keep_sq_array().build().unwrap();
    assert!(ring.layout().sq_array_offset().is_some());
    keeps_pending_and_grows(&mut ring, |r| r.resize(ResizeSpec::new(64)).unwrap());
}

#[test]
fn caller_memory_ring_keeps_pending_entries_and_grows() {
    let mut ring: Ring = builder(4).build_allocated(Pages::Normal).unwrap();
    let layout = ring.resize_layout(ResizeSpec::new(64)).unwrap();
    let memory = Mapping::anonymous(layout.total_bytes()).unwrap();
    let addr = memory.as_ptr() as usize;
    keeps_pending_and_grows(&mut ring, move |r| r.resize_in(ResizeSpec::new(64), memory).unwrap());
    let report = ring.memory_report();
    assert_eq!(report.rings_addr, addr, "the rings region moved into the new memory");
    assert_eq!(report.sqes_addr, addr + layout.sqes_offset_in_buffer());
}

#[test]
fn caller_memory_one_page_short_is_refused_before_the_kernel() {
    let mut ring: Ring = builder(4).build_allocated(Pages::Normal).unwrap();
    let spec = ResizeSpec::new(256).cq_entries(4096);
    let layout = ring.resize_layout(spec).unwrap();
    let page = ringwise::raw::sys::page_size();
    let short = Mapping::anonymous(layout.total_bytes() - page).unwrap();
    let err = ring.resize_in(spec, short).unwrap_err();
    assert!(
        matches!(err, Error::MemoryTooSmall { region: Region::Both, needed, given }
            if needed == layout.total_bytes() && given == layout.total_bytes() - page),
        "{err}"
    );
    // Kernel-mapped resizing of a caller-memory ring is refused too.
    assert!(matches!(ring.resize(spec), Err(Error::NoMmapMisuse { .. })));
    // Unchanged and usable.
    assert_eq!(ring.submission().capacity(), 4);
    push_nops(&mut ring, 0..4);
    ring.submit_and_wait(4).unwrap();
    assert_eq!(reap(&mut ring), vec![0, 1, 2, 3]);
    // The exact size works.
    let exact = Mapping::anonymous(layout.total_bytes()).unwrap();
    ring.resize_in(spec, exact).unwrap();
    assert_eq!((ring.submission().capacity(), ring.completion().capacity()), (256, 4096));
}

#[test]
fn shrinking_below_pending_entries_is_refused_and_the_ring_keeps_working() {
    let mut ring: Ring = builder(16).build().unwrap();
    push_nops(&mut ring, 0..16);
    ring.submit_and_wait(16).unwrap();
    let err = ring.resize(ResizeSpec::new(4).cq_entries(8)).unwrap_err();
    assert!(matches!(err, Error::ResizeTooSmall { queue: "CQ", pending: 16, entries: 8 }), "{err}");
    assert_eq!(err.errno_name(), "EOVERFLOW");
    push_nops(&mut ring, 16..24);
    let err = ring.resize(ResizeSpec::new(4)).unwrap_err();
    assert!(matches!(err, Error::ResizeTooSmall { queue: "SQ", pending: 8, entries: 4 }), "{err}");
    // Still the old ring, everything intact.
    assert_eq!(ring.completion().capacity(), 32);
    assert_eq!(reap(&mut ring), (0..16).collect::<Vec<_>>());
    ring.submit_and_wait(8).unwrap();
    assert_eq!(reap(&mut ring), (16..24).collect::<Vec<_>>());
    // Shrinking an idle ring works.
    ring.resize(ResizeSpec::new(2).cq_entries(4)).unwrap();
    assert_eq!((ring.submission().capacity(), ring.completion().capacity()), (2, 4));
    push_nops(&mut ring, 30..32);
    ring.submit_and_wait(2).unwrap();
    assert_eq!(reap(&mut ring), vec![30, 31]);
}

#[test]
fn rings_without_defer_taskrun_cannot_be_resized() {
    let mut ring: Ring<Sqe64, Cqe16> = Ring::new(4).unwrap();
    let err = ring.resize(ResizeSpec::new(8)).unwrap_err();
    assert!(matches!(err, Error::Kernel { errno: Errno::INVAL, .. }), "{err}");
    assert!(err.to_string().contains("DEFER_TASKRUN"), "{err}");
    // Bad sizes are refused with the setup rules.
    let mut ring: Ring = builder(4).build().unwrap();
    assert!(matches!(ring.resize(ResizeSpec::new(0)), Err(Error::ZeroEntries)));
    assert!(matches!(ring.resize(ResizeSpec::new(8).cq_entries(4)), Err(Error::CqSmallerThanSq { .. })));
    push_nops(&mut ring, 0..1);
    ring.submit_and_wait(1).unwrap();
    assert_eq!(reap(&mut ring), vec![0]);
}
