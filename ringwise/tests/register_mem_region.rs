//! Registered wait arguments (`IORING_REGISTER_MEM_REGION` with
//! `REG_WAIT_ARG`, waits with `IORING_ENTER_EXT_ARG_REG`) against the
//! running kernel: the timeout in a slot ends the wait, a slot without one
//! waits for the CQE, and bad regions and slots are refused. Both region
//! kinds: caller memory the kernel pins, and kernel memory mapped from the
//! ring fd.

use ringwise::op::{Nop, Timeout, Timespec};
use ringwise::register::mem_region::REG_WAIT_BYTES;
use ringwise::register::{RegWait, RegWaitRegion};
use ringwise::{Builder, CallerMemory, Error, Mapping, Region, Ring};
use std::time::{Duration, Instant};

#[test]
fn registered_wait_arguments_drive_the_wait() {
    let mut ring: Ring = Builder::new(8).disabled().build().unwrap();
    let bytes = RegWaitRegion::bytes_for(4);
    assert_eq!(bytes, ringwise::raw::sys::page_size());
    let mut region = match ring.register_wait_region(Mapping::anonymous(bytes).unwrap(), 4) {
        Ok(r) => r,
        Err(e)
            if e.errno_name() == "EINVAL"
                && ringwise::register::query_opcodes().map_or(true, |q| q.nr_register_opcodes <= 34) =>
        {
            eprintln!("skipped: this kernel refuses registered wait regions: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert_eq!(region.slots() as usize, bytes / REG_WAIT_BYTES - 1, "the page but its last slot is usable");
    ring.enable().unwrap();

    region.set(1, RegWait { timeout: Some(Duration::from_millis(60)), min_wait: None }).unwrap();
    region.set(2, RegWait::default()).unwrap();
    let start = Instant::now();
    let (s, ready) = ring.submit_and_wait_registered(1, &region, 1).unwrap();
    let waited = start.elapsed();
    assert_eq!((s.consumed, ready), (0, 0));
    assert!(waited >= Duration::from_millis(50) && waited < Duration::from_secs(2), "slot 1's timeout: {waited:?}");

    ring.submission().push(Nop::new().user_data(9)).unwrap();
    let (s, ready) = ring.submit_and_wait_registered(1, &region, 2).unwrap();
    assert_eq!((s.consumed, ready), (1, 1));
    assert_eq!(ring.completion().next().unwrap().user_data, 9);

    // Changing a slot changes the next wait.
    region.set(2, RegWait { timeout: Some(Duration::from_millis(20)), min_wait: None }).unwrap();
    let start = Instant::now();
    ring.submit_and_wait_registered(1, &region, 2).unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));

    assert!(matches!(region.set(region.slots(), RegWait::default()), Err(Error::LengthMismatch { .. })));
    assert!(matches!(ring.submit_and_wait_registered(1, &region, region.slots()), Err(Error::LengthMismatch { .. })));
    let err = ring.register_wait_region(Mapping::anonymous(bytes).unwrap(), 4).unwrap_err();
    assert_eq!(err.errno_name(), "EBUSY", "{err}");
}

#[test]
fn bad_regions_are_refused_and_the_ring_keeps_working() {
    let page = ringwise::raw::sys::page_size();
    // An enabled ring refuses a wait region.
    let mut ring: Ring = Ring::new(8).unwrap();
    let err = ring.register_wait_region(Mapping::anonymous(page).unwrap(), 4).unwrap_err();
    assert_eq!(err.errno_name(), "EINVAL", "{err}");
    assert!(err.to_string().contains("disabled"), "{err}");
    // Short and unaligned memory is refused before the kernel sees it.
    let mut ring: Ring = Builder::new(8).disabled().build().unwrap();
    let err = ring.register_wait_region(Mapping::anonymous(page).unwrap(), 100).unwrap_err();
    assert!(
        matches!(err, Error::MemoryTooSmall { region: Region::MemRegion, needed, given } if needed == 2 * page && given == page),
        "{err}"
    );
    let backing = Mapping::anonymous(2 * page).unwrap();
    // SAFETY: inside `backing`, which outlives the ring; refused before use.
    let unaligned = unsafe { CallerMemory::new(backing.as_ptr().add(8), page) };
    let err = ring.register_wait_region(unaligned, 4).unwrap_err();
    assert!(matches!(err, Error::MemoryMisaligned { region: Region::MemRegion, .. }), "{err}");
    ring.enable().unwrap();
    ring.submission().push(Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completion().next().unwrap().user_data, 1);
}

/// Whether `e` says the kernel has no wait regions at all (before 6.13).
fn no_wait_regions(e: &Error) -> bool {
    e.errno_name() == "EINVAL" && ringwise::register::query_opcodes().map_or(true, |q| q.nr_register_opcodes <= 34)
}

#[test]
fn kernel_allocated_wait_region_is_mapped_and_drives_the_wait() {
    let page = ringwise::raw::sys::page_size();
    let mut ring: Ring = Builder::new(8).disabled().build().unwrap();
    let mut region = match ring.register_wait_region_kernel(70) {
        Ok(r) => r,
        Err(e) if no_wait_regions(&e) => {
            eprintln!("skipped: this kernel refuses registered wait regions: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    // 70 slots (and the reserved last one) of 64 bytes round up to two pages.
    assert_eq!(RegWaitRegion::bytes_for(70), 2 * page);
    assert_eq!(region.slots() as usize, 2 * page / REG_WAIT_BYTES - 1);
    let offset = region.mmap_offset().expect("a kernel region has an mmap offset");
    assert!(offset != 0 && offset % page as u64 == 0, "offset {offset:#x}");
    eprintln!("kernel wait region: {} slots, mmap offset {offset:#x}", region.slots());
    ring.enable().unwrap();

    // A backstop timer, so a region the kernel does not read (our writes
    // landing elsewhere) fails the test after 3 s instead of hanging it.
    let backstop = Timespec::from(Duration::from_secs(3));
    // SAFETY: `backstop` outlives the ring (declared before it is dropped at
    // the end of the test); the timer is cancelled with the ring.
    unsafe { ring.submission().push_unchecked(Timeout::new(&backstop).user_data(77)) }.unwrap();

    // The slot is written through our mapping; the kernel reads it through
    // its own: the 60 ms timeout ends the wait, with the timer still running.
    let last = region.slots() - 1;
    region.set(last, RegWait { timeout: Some(Duration::from_millis(60)), min_wait: None }).unwrap();
    let start = Instant::now();
    let (s, ready) = ring.submit_and_wait_registered(1, &region, last).unwrap();
    let waited = start.elapsed();
    assert_eq!((s.consumed, ready), (1, 0), "the backstop was submitted and has not fired");
    assert!(
        waited >= Duration::from_millis(50) && waited < Duration::from_secs(2),
        "the slot's timeout (in the second page) ended the wait: {waited:?}"
    );

    // A slot without a timeout waits for the CQE.
    region.set(0, RegWait::default()).unwrap();
    ring.submission().push(Nop::new().user_data(9)).unwrap();
    let (s, ready) = ring.submit_and_wait_registered(1, &region, 0).unwrap();
    assert_eq!((s.consumed, ready), (1, 1));
    assert_eq!(ring.completion().next().unwrap().user_data, 9);

    // Changing the slot changes the next wait (20 ms now).
    region.set(last, RegWait { timeout: Some(Duration::from_millis(20)), min_wait: None }).unwrap();
    let start = Instant::now();
    ring.submit_and_wait_registered(1, &region, last).unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(15) && waited < Duration::from_secs(2), "{waited:?}");

    // One parameter region per ring, whatever its memory.
    let err = ring.register_wait_region_kernel(4).unwrap_err();
    assert_eq!(err.errno_name(), "EBUSY", "{err}");
    let err = ring.register_wait_region(Mapping::anonymous(page).unwrap(), 4).unwrap_err();
    assert_eq!(err.errno_name(), "EBUSY", "{err}");
}

#[test]
fn kernel_region_stays_usable_after_the_ring_is_gone() {
    let mut ring: Ring = Builder::new(4).disabled().build().unwrap();
    let mut region = match ring.register_wait_region_kernel(1) {
        Ok(r) => r,
        Err(e) if no_wait_regions(&e) => {
            eprintln!("skipped: this kernel refuses registered wait regions: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    drop(ring);
    // The handle's mapping holds the pages: writing every slot after the
    // ring (and its reference to the region) is gone touches only them.
    for slot in 0..region.slots() {
        region.set(slot, RegWait { timeout: Some(Duration::from_secs(1)), min_wait: None }).unwrap();
    }
    assert!(matches!(region.set(region.slots(), RegWait::default()), Err(Error::LengthMismatch { .. })));
}

#[test]
fn kernel_region_needs_a_disabled_ring() {
    let mut ring: Ring = Ring::new(8).unwrap();
    let err = ring.register_wait_region_kernel(4).unwrap_err();
    assert_eq!(err.errno_name(), "EINVAL", "{err}");
    assert!(err.to_string().contains("disabled"), "{err}");
    // The refusal registered nothing: the ring works and a disabled ring
    // made afterwards still takes a region.
    ring.submission().push(Nop::new().user_data(3)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completion().next().unwrap().user_data, 3);
    let mut ring: Ring = Builder::new(8).disabled().build().unwrap();
    match ring.register_wait_region_kernel(4) {
        Ok(region) => assert!(region.mmap_offset().is_some()),
        Err(e) if no_wait_regions(&e) => eprintln!("skipped: this kernel refuses registered wait regions: {e}"),
        Err(e) => panic!("{e}"),
    }
}

/// Both kinds of region, registered on a fresh disabled ring and enabled.
fn both_kinds(slots: u32) -> Vec<(&'static str, Ring, RegWaitRegion)> {
    let mut out = Vec::new();
    for kernel in [false, true] {
        let mut ring: Ring = Builder::new(8).disabled().build().unwrap();
        let region = if kernel {
            ring.register_wait_region_kernel(slots)
        } else {
            ring.register_wait_region(Mapping::anonymous(RegWaitRegion::bytes_for(slots)).unwrap(), slots)
        };
        match region {
            Ok(region) => {
                ring.enable().unwrap();
                out.push((if kernel { "kernel memory" } else { "caller memory" }, ring, region));
            }
            Err(e) if no_wait_regions(&e) => eprintln!("skipped: this kernel refuses registered wait regions: {e}"),
            Err(e) => panic!("{e}"),
        }
    }
    out
}

#[test]
fn every_slot_handed_out_is_read_as_itself() {
    // The kernel reads a wait naming a region's very last slot from slot 0
    // (see the mem_region module docs); the region keeps that slot out of
    // `slots()`. Give slot 0 a long timeout and every other slot a short one:
    // a wait that took slot 0's would last 1 s.
    let page = ringwise::raw::sys::page_size();
    for slots in [4u32, (page / REG_WAIT_BYTES) as u32 - 1, 70] {
        for (kind, mut ring, mut region) in both_kinds(slots) {
            assert!(region.slots() >= slots, "{kind}: asked for {slots}, got {}", region.slots());
            assert_eq!(RegWaitRegion::bytes_for(region.slots()), RegWaitRegion::bytes_for(slots));
            region.set(0, RegWait { timeout: Some(Duration::from_secs(1)), min_wait: None }).unwrap();
            let short = RegWait { timeout: Some(Duration::from_millis(10)), min_wait: None };
            for slot in [1, region.slots() / 2, region.slots() - 1] {
                region.set(slot, short).unwrap();
                let start = Instant::now();
                let (_, ready) = ring.submit_and_wait_registered(1, &region, slot).unwrap();
                let waited = start.elapsed();
                assert_eq!(ready, 0);
                assert!(
                    waited < Duration::from_millis(500),
                    "{kind}, {slots} slots: slot {slot} waited {waited:?}, slot 0's timeout"
                );
            }
            // The reserved slot is refused before the kernel sees it.
            let last = region.slots();
            assert!(matches!(region.set(last, short), Err(Error::LengthMismatch { .. })), "{kind}");
            let err = ring.submit_and_wait_registered(1, &region, last).unwrap_err();
            assert!(matches!(err, Error::LengthMismatch { .. }), "{kind}: {err}");
        }
    }
}
