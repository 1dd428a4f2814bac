//! Registered wait arguments (`IORING_REGISTER_MEM_REGION` with
//! `REG_WAIT_ARG`, waits with `IORING_ENTER_EXT_ARG_REG`) against the
//! running kernel: the timeout in a slot ends the wait, a slot without one
//! waits for the CQE, and bad regions and slots are refused.

use ringwise::op::Nop;
use ringwise::register::mem_region::REG_WAIT_BYTES;
use ringwise::register::{RegWait, RegWaitRegion};
use ringwise::{Builder, CallerMemory, Error, Mapping, Region, Ring};
use std::time::{Duration, Instant};

#[test]
fn registered_wait_arguments_drive_the_wait() {
    let mut ring: Ring = Builder::new(8).disabled().build().unwrap();
    let bytes = RegWaitRegion::bytes_for(4);
    assert_eq!(bytes, ringwise::sys::page_size());
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
    assert_eq!(region.slots() as usize, bytes / REG_WAIT_BYTES, "the whole page is usable");
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
    let page = ringwise::sys::page_size();
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
