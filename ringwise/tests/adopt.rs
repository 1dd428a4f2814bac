//! Adopting a ring fd made elsewhere (`Ring::adopt`): the fd and its
//! parameters are checked against the ring's types and against what the
//! kernel reports (fdinfo, page-by-page `mincore` of the mappings) before any
//! memory is touched: a non-ring fd, nonsense parameters, or parameters that
//! claim bigger entries than the kernel made are refused, never left to
//! raise SIGBUS at the first CQE past the kernel's region.

mod common;

use common::*;
use ringwise::layout::RingSpec;
use ringwise::raw::abi;
use ringwise::{Cqe16, Cqe32, CqeSize, Error, Ring, SetupFlags, Sqe128, Sqe64, SqeSize};
use std::os::fd::{FromRawFd, OwnedFd};

fn zeroed_params() -> abi::io_uring_params {
    // SAFETY: plain old data; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

#[test]
fn adopt_refuses_non_rings_and_nonsense_params() {
    let (fd, params) = {
        let mut p = zeroed_params();
        // SAFETY: valid params, kernel memory.
        let fd = unsafe { ringwise::raw::sys::io_uring_setup(8, &mut p) }.unwrap();
        // SAFETY: the fresh fd is ours alone.
        (unsafe { OwnedFd::from_raw_fd(fd as i32) }, p)
    };
    drop(fd);
    // Not rings: a pipe, /dev/null, an eventfd, a regular file.
    let (r, _w) = pipe();
    let null: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    let efd = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).unwrap();
    let file: OwnedFd = TempFile::new("adopt").file.try_clone().unwrap().into();
    for (what, fd) in [("pipe", r), ("/dev/null", null), ("eventfd", efd), ("file", file)] {
        // SAFETY: not a ring at all (adopt checks that first); nothing
        // else uses it.
        let err = unsafe { Ring::<Sqe64, Cqe16>::adopt(fd, params) }.unwrap_err();
        assert_eq!(err.errno_name(), "EBADF", "{what}: {err}");
        assert!(err.to_string().contains("not an io_uring"), "{what}: {err}");
    }
    // A closed fd cannot be passed at all: `adopt` takes an `OwnedFd`, and
    // making one for a closed descriptor violates I/O safety (std aborts).
    // The closest case: the number of a closed ring, reused by a pipe.
    let (fd, params) = {
        let mut p = zeroed_params();
        // SAFETY: as above.
        let fd = unsafe { ringwise::raw::sys::io_uring_setup(8, &mut p) }.unwrap();
        // SAFETY: as above.
        (unsafe { OwnedFd::from_raw_fd(fd as i32) }, p)
    };
    drop(fd);
    let (reused, _w2) = pipe();
    // SAFETY: a pipe, not a ring; nothing else uses it.
    let err = unsafe { Ring::<Sqe64, Cqe16>::adopt(reused, params) }.unwrap_err();
    assert!(err.to_string().contains("not an io_uring"), "{err}");

    // A real ring with nonsense parameters.
    let ring_with = |p: abi::io_uring_params| {
        let mut real = zeroed_params();
        // SAFETY: as above.
        let fd = unsafe { ringwise::raw::sys::io_uring_setup(8, &mut real) }.unwrap();
        // SAFETY: as above.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let mut p2 = p;
        p2.flags = real.flags | p.flags;
        // SAFETY: the fresh ring is ours alone; the parameters are wrong
        // only in ways adopt checks before it uses the ring (this test is
        // about those checks).
        unsafe { Ring::<Sqe64, Cqe16>::adopt(fd, p2) }
    };
    let real = {
        let mut p = zeroed_params();
        // SAFETY: as above.
        let fd = unsafe { ringwise::raw::sys::io_uring_setup(8, &mut p) }.unwrap();
        // SAFETY: as above.
        drop(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        p
    };
    for (what, sq, cq) in [
        ("zero entries", 0, 16),
        ("u32::MAX entries", u32::MAX, u32::MAX),
        ("2^31 entries", 1 << 31, 0),
        ("not a power of two", 6, 12),
        ("too few CQ", 8, 4),
        ("other sizes", 16, 32),
        ("other CQ size", 8, 64),
    ] {
        let mut p = real;
        p.sq_entries = sq;
        p.cq_entries = cq;
        let err = ring_with(p).unwrap_err();
        assert!(!err.to_string().is_empty(), "{what}");
    }
    let mut p = real;
    p.flags |= 1 << 30;
    assert!(matches!(ring_with(p), Err(Error::UnknownFlags { .. })));
    let mut p = real;
    p.flags |= SetupFlags::NO_MMAP.bits();
    assert!(matches!(ring_with(p), Err(Error::NoMmapMisuse { .. })));
    // A ring whose SQ holds SQEs queued by other code and not submitted.
    let mut p = zeroed_params();
    // SAFETY: as above.
    let fd = unsafe { OwnedFd::from_raw_fd(ringwise::raw::sys::io_uring_setup(8, &mut p).unwrap() as i32) };
    // SAFETY: mapping the first page of the ring's own rings region (the
    // header); unmapped right after the store.
    unsafe {
        let ptr = rustix::mm::mmap(
            std::ptr::null_mut(),
            page(),
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::SHARED,
            &fd,
            abi::IORING_OFF_SQ_RING as u64,
        )
        .unwrap();
        ptr.cast::<u8>().add(p.sq_off.tail as usize).cast::<u32>().write_volatile(3);
        rustix::mm::munmap(ptr, page()).unwrap();
    }
    // SAFETY: the ring is ours alone (its header mapping is gone); its
    // parameters are the kernel's.
    let err = unsafe { Ring::<Sqe64, Cqe16>::adopt(fd, p) }.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(err.to_string().contains("3 SQEs"), "{err}");

    // And the real parameters work.
    let mut ring = ring_with(real).unwrap();
    nop_round_trip(&mut ring, 8, 0);
}

/// A ring with nothing in flight, dropped so that only a duplicate of its
/// fd keeps it alive: (that fd, the parameters the kernel returned).
fn orphaned_ring(entries: u32) -> (OwnedFd, abi::io_uring_params) {
    let ring: Ring = Ring::builder(entries).register_ring_fd(false).build().expect("ring");
    let fd = ring.fd().expect("fd").try_clone_to_owned().expect("dup");
    let params = *ring.params();
    drop(ring);
    (fd, params)
}

/// Parameters that claim `extra` size flags the ring was not set up with,
/// with the SQ array offset the bigger layout would have: consistent enough
/// to pass every check on the parameters themselves.
fn params_claiming(mut p: abi::io_uring_params, extra: SetupFlags) -> abi::io_uring_params {
    p.flags |= extra.bits();
    let flags = SetupFlags::from_bits_retain(p.flags) - SetupFlags::CQSIZE;
    let layout = RingSpec::new(p.sq_entries).flags(flags).layout().expect("layout");
    p.sq_off.array = layout.sq_array_offset().unwrap_or(0) as u32;
    p
}

#[test]
fn adopt_with_params_of_bigger_entries_is_refused_not_a_sigbus() {
    // 1024 entries: the rings region is 9 or 10 pages; claiming CQE32 makes
    // the layout about twice that. 6.18 maps the longer range without
    // complaint and leaves the pages past its region empty (SIGBUS on
    // access), so ringwise must notice before it reads a CQE there.
    let (fd, params) = orphaned_ring(1024);
    let lie = params_claiming(params, SetupFlags::CQE32);
    // SAFETY: nothing else uses this ring (its only other owner was dropped
    // in `orphaned_ring`); the parameters lie in a way adopt checks (this
    // test is about that check) before it uses the ring.
    let err = unsafe { Ring::<Sqe64, Cqe32>::adopt(fd, lie) }.expect_err("a rings region twice the kernel's");
    let text = err.to_string();
    assert!(text.contains("rings region") && text.contains("layout"), "{text}");

    // The same for the SQE region (SQE128 doubles it).
    let (fd, params) = orphaned_ring(1024);
    let lie = params_claiming(params, SetupFlags::SQE128);
    // SAFETY: as above.
    let err = unsafe { Ring::<Sqe128, Cqe16>::adopt(fd, lie) }.expect_err("an SQE region twice the kernel's");
    assert!(err.to_string().contains("SQE region"), "{err}");

    // The truth is still accepted, and the adopted ring works.
    let (fd, params) = orphaned_ring(1024);
    // SAFETY: as above.
    let mut ring = unsafe { Ring::<Sqe64, Cqe16>::adopt(fd, params) }.expect("adopt with the kernel's parameters");
    nop_round_trip(&mut ring, 64, 0x10);
}

/// Several round trips, together more than the SQ and CQ sizes, so that the
/// indices wrap.
fn exercise<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>) {
    let cap = ring.submission().capacity();
    let batch = cap.min(16);
    let rounds = (2 * ring.completion().capacity() / batch + 2).min(64);
    for r in 0..rounds {
        nop_round_trip(ring, batch, (r as u64) << 32);
    }
}

/// Set a ring up with the raw syscall, as other code would.
fn raw_ring(entries: u32, flags: SetupFlags) -> (OwnedFd, abi::io_uring_params) {
    raw_ring_cq(entries, 0, flags)
}

fn raw_ring_cq(entries: u32, cq_entries: u32, flags: SetupFlags) -> (OwnedFd, abi::io_uring_params) {
    // SAFETY: io_uring_params is plain old data; all-zero is its default.
    let mut params: abi::io_uring_params = unsafe { std::mem::zeroed() };
    params.flags = flags.bits();
    params.cq_entries = cq_entries;
    // SAFETY: valid params, kernel memory (no NO_MMAP).
    let fd = unsafe { ringwise::raw::sys::io_uring_setup(entries, &mut params) }.expect("raw io_uring_setup");
    // SAFETY: a fresh fd the kernel just returned; nothing else owns it.
    (unsafe { OwnedFd::from_raw_fd(fd as i32) }, params)
}

#[test]
fn adopt_checks_types_and_fd() {
    let (fd, params) = raw_ring(8, SetupFlags::SQE128);
    // SAFETY: `fd` is the ring set up on the line above, owned by nothing
    // else, and `params` are the parameters the kernel returned for it. (The
    // adopts below each say why; where the parameters are not the kernel's
    // for the fd, they are wrong in ways adopt checks before it uses the
    // ring, which is what this test is about.)
    let mut ring = unsafe { Ring::<Sqe128, Cqe16>::adopt(fd, params) }.unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::SQE128));
    exercise(&mut ring);

    let (fd, params) = raw_ring(16, SetupFlags::CQE32 | SetupFlags::NO_SQARRAY | SetupFlags::SINGLE_ISSUER);
    // SAFETY: `fd` is the ring set up on the line above, owned by nothing else,
    // and `params` are the parameters the kernel returned for it.
    let mut ring = unsafe { Ring::<Sqe64, Cqe32>::adopt(fd, params) }.unwrap();
    exercise(&mut ring);

    let (fd, params) = raw_ring_cq(4, 100, SetupFlags::CQSIZE);
    assert_eq!(params.cq_entries, 128);
    // SAFETY: `fd` is the ring set up above, owned by nothing else, and `params`
    // are the parameters the kernel returned for it.
    let mut ring = unsafe { Ring::<Sqe64, Cqe16>::adopt(fd, params) }.unwrap_or_else(|e| panic!("CQSIZE ring: {e}"));
    exercise(&mut ring);

    let (fd, params) = raw_ring(8, SetupFlags::SQE128);
    // SAFETY: `fd` is the ring set up on the line above, owned by nothing else,
    // with its own parameters; `Sqe64` disagrees with their SQE128 flag, which
    // adopt refuses before it maps the ring.
    let err = unsafe { Ring::<Sqe64, Cqe16>::adopt(fd, params) }.unwrap_err();
    assert!(
        matches!(err, Error::EntryTypeMismatch { types_imply, found } if types_imply.is_empty() && found == SetupFlags::SQE128),
        "{err:?}"
    );
    let (fd, params) = raw_ring(8, SetupFlags::empty());
    // SAFETY: `fd` is the ring set up on the line above, owned by nothing else,
    // with its own parameters; `Cqe32` disagrees with them (no CQE32), which
    // adopt refuses before it maps the ring.
    let err = unsafe { Ring::<Sqe64, Cqe32>::adopt(fd, params) }.unwrap_err();
    assert!(matches!(err, Error::EntryTypeMismatch { .. }), "{err:?}");

    // An fd with another ring's parameters: the ring header disagrees.
    let (_, params8) = raw_ring(8, SetupFlags::empty());
    let (fd64, _) = raw_ring(64, SetupFlags::empty());
    // SAFETY: `fd64` is a ring set up above and owned by nothing else. The
    // contract asks for its own parameters; `params8` are another ring's, a
    // mismatch adopt detects (entry counts and masks against the ring's header)
    // before it uses the ring, which is what this shows.
    let err = unsafe { Ring::<Sqe64, Cqe16>::adopt(fd64, params8) }.unwrap_err();
    assert!(err.to_string().contains("belong to another ring"), "{err}");
    let (_, params64) = raw_ring(64, SetupFlags::empty());
    let (fd8, _) = raw_ring(8, SetupFlags::empty());
    // SAFETY: `fd8` is a ring set up above and owned by nothing else. `params64`
    // are another, bigger ring's: adopt checks the mapping lengths page by page
    // and the header before it uses the ring, and refuses.
    let err = unsafe { Ring::<Sqe64, Cqe16>::adopt(fd8, params64) }.unwrap_err();
    assert!(
        matches!(err, Error::Kernel { .. } | Error::UnbackedMapping { .. } | Error::ForeignRingHeader { .. }),
        "{err:?}"
    );

    let (_, params) = raw_ring(8, SetupFlags::empty());
    let (r, _w) = pipe();
    // SAFETY: `r` is a pipe, not a ring: adopt checks that the fd is an io_uring
    // before it maps anything, and refuses.
    let err = unsafe { Ring::<Sqe64, Cqe16>::adopt(r, params) }.unwrap_err();
    assert_eq!(err.errno(), rustix::io::Errno::BADF, "{err}");
    assert!(err.to_string().contains("not an io_uring"), "{err}");
}
