//! Ring fds entered in and removed from this thread's table on demand, at a
//! slot the caller names, with the kernel's answers (EBUSY for a taken slot,
//! EINVAL for one past the 16th) surfaced and explained; and how that
//! shares the table with a ring's own registration at its first submit.
//! Each test runs on a fresh thread: the table is per thread.

use ringwise::op::Nop;
use ringwise::register::ring_fds::RING_FD_SLOTS;
use ringwise::{Error, Ring};

fn on_fresh_thread(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(f).join().unwrap();
}

fn nop(ring: &mut Ring) {
    ring.submission().push(Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completion().next().unwrap().res, 0);
}

#[test]
fn register_at_a_slot_and_unregister() {
    on_fresh_thread(|| {
        let ring = Ring::new(4).unwrap();
        let other = Ring::new(4).unwrap();
        let fd = other.fd().unwrap();
        assert_eq!(ring.register_ring_fd_at(fd, 5).unwrap(), 5);

        let err = ring.register_ring_fd_at(fd, 5).unwrap_err();
        assert_eq!(err.errno_name(), "EBUSY", "{err}");
        assert!(err.to_string().contains("slot 5") && err.to_string().contains("taken"), "{err}");

        let err = ring.register_ring_fd_at(fd, RING_FD_SLOTS).unwrap_err();
        assert_eq!(err.errno_name(), "EINVAL", "{err}");
        assert!(err.to_string().contains("16"), "{err}");

        // The same ring in a second slot is no error: the kernel keeps no
        // uniqueness.
        assert_eq!(ring.register_ring_fd_at(fd, 6).unwrap(), 6);
        assert_eq!(ring.unregister_ring_fds(&[5, 6]).unwrap(), 2);
        // Gone: a second removal is refused before the call, and the slot
        // can be taken again.
        assert!(matches!(ring.unregister_ring_fds(&[5]), Err(Error::InvalidArgument { .. })));
        assert_eq!(ring.register_ring_fd_at(fd, 5).unwrap(), 5);
        assert_eq!(ring.unregister_ring_fds(&[5]).unwrap(), 1);
    });
}

#[test]
fn shares_the_table_with_a_rings_own_slot() {
    on_fresh_thread(|| {
        let mut ring = Ring::new(4).unwrap();
        assert_eq!(ring.registered_index(), None, "not before the first submit");
        nop(&mut ring);
        let Some(own) = ring.registered_index() else {
            println!("skipped: this kernel did not register the ring fd (IORING_REGISTER_RING_FDS, Linux 5.18)");
            return;
        };
        // The ring's own slot is taken, and not the caller's to remove.
        let other = Ring::new(4).unwrap();
        let err = ring.register_ring_fd_at(other.fd().unwrap(), own).unwrap_err();
        assert_eq!(err.errno_name(), "EBUSY", "{err}");
        assert!(matches!(ring.unregister_ring_fds(&[own]), Err(Error::InvalidArgument { .. })));

        // Fill every other slot: a new ring then finds none at its first
        // submit and works through its plain fd.
        let fd = other.fd().unwrap();
        let slots: Vec<u32> = (0..RING_FD_SLOTS).filter(|&s| s != own).collect();
        for &s in &slots {
            assert_eq!(ring.register_ring_fd_at(fd, s).unwrap(), s);
        }
        let mut late = Ring::new(4).unwrap();
        nop(&mut late);
        assert_eq!(late.registered_index(), None, "the table is full: the plain fd");
        nop(&mut ring);
        assert_eq!(ring.unregister_ring_fds(&slots).unwrap(), slots.len() as u32);
        // With room again, a new ring takes a slot at its first submit.
        let mut again = Ring::new(4).unwrap();
        nop(&mut again);
        assert!(again.registered_index().is_some());
    });
}
