//! Whether the CQ eventfd is signalled: `IORING_CQ_EVENTFD_DISABLED` in the
//! CQ ring's flags (Linux 5.8), read and written through the completion
//! queue, checked against a registered eventfd (whose counter tells whether a
//! signal arrived: the kernel signals it once per batch of CQEs it posts).

use ringwise::op::Nop;
use ringwise::Ring;
use rustix::event::{eventfd, EventfdFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

/// `IORING_CQ_EVENTFD_DISABLED`.
const DISABLED: u32 = 1;

/// The eventfd's counter, reset to 0; 0 when it was not signalled.
fn take_count(efd: &OwnedFd) -> u64 {
    let mut buf = [0u8; 8];
    match rustix::io::read(efd, &mut buf) {
        Ok(8) => u64::from_ne_bytes(buf),
        Err(rustix::io::Errno::AGAIN) => 0,
        other => panic!("eventfd read: {other:?}"),
    }
}

/// The CQ ring's flags word as the kernel reads it.
fn kernel_cq_flags(ring: &Ring) -> u32 {
    let at = ring.memory_report().rings_addr + ring.params().cq_off.flags as usize;
    // SAFETY: `cq_off.flags` is the offset of the CQ flags in the rings
    // region, mapped while the ring lives; a shared atomic load only.
    unsafe { (*(at as *const AtomicU32)).load(Ordering::Acquire) }
}

fn nops(ring: &mut Ring, n: u32) {
    for i in 0..n {
        ring.submission().push(Nop::new().user_data(i as u64)).unwrap();
    }
    ring.submit_and_wait(n).unwrap();
    assert_eq!(ring.completions().unwrap().count(), n as usize);
}

#[test]
fn eventfd_enabled_reads_and_writes_the_cq_flag() {
    let mut ring: Ring = Ring::new(8).expect("ring");
    let efd = eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC).unwrap();
    ring.register_eventfd(efd.as_fd(), false).expect("register_eventfd");
    assert!(ring.completion().eventfd_enabled(), "enabled by default");
    assert_eq!(kernel_cq_flags(&ring) & DISABLED, 0);
    nops(&mut ring, 1);
    assert_eq!(take_count(&efd), 1, "enabled: one signal for the completion");

    ring.completion().set_eventfd_enabled(false);
    assert!(!ring.completion().eventfd_enabled());
    assert_eq!(kernel_cq_flags(&ring) & DISABLED, DISABLED, "the kernel sees the bit");
    nops(&mut ring, 3);
    assert_eq!(take_count(&efd), 0, "disabled: no signal");
    ring.completion().set_eventfd_enabled(false);
    assert!(!ring.completion().eventfd_enabled(), "disabling twice keeps it disabled");

    ring.completion().set_eventfd_enabled(true);
    assert!(ring.completion().eventfd_enabled());
    assert_eq!(kernel_cq_flags(&ring) & DISABLED, 0);
    nops(&mut ring, 1);
    assert_eq!(take_count(&efd), 1, "enabled again: signalled");
}
