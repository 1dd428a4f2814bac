//! Bad input never panics and never reaches the kernel: each case returns the
//! typed error, with the numbers in its message, and memory handed to a
//! refused build is left untouched.

mod common;

use common::*;
use ringwise::raw::abi;
use ringwise::{
    Arena, Builder, CallerMemory, Cqe16, Cqe32, CqeMixed, Error, Mapping, Pages, Region, Ring, SetupFlags, Sqe128,
    Sqe64, SqeMixed,
};
use rustix::mm::MprotectFlags;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

type B = Builder<Sqe64, Cqe16>;

fn page() -> usize {
    ringwise::raw::sys::page_size()
}

/// The error must come from ringwise, not from the kernel, and its message
/// must contain every one of `numbers`.
fn refused(err: Error, numbers: &[&str]) -> Error {
    assert!(!matches!(err, Error::Kernel { .. }), "must be refused before the syscall: {err:?}");
    let msg = err.to_string();
    for n in numbers {
        assert!(msg.contains(n), "{msg:?} must contain {n}");
    }
    err
}

/// Try all three ways of building; each must give the same kind of error.
fn all_builds(b: B) -> Vec<Error> {
    let mut errs = vec![b.clone().build().unwrap_err(), b.clone().build_allocated(Pages::Normal).unwrap_err()];
    errs.push(b.build_in(Mapping::anonymous(1 << 20).unwrap()).unwrap_err());
    errs
}

#[test]
fn zero_entries() {
    for err in all_builds(B::new(0)) {
        let err = refused(err, &["at least 1"]);
        assert!(matches!(err, Error::ZeroEntries), "{err:?}");
        assert_eq!(err.errno_name(), "EINVAL");
    }
    assert!(matches!(B::new(0).layout(), Err(Error::ZeroEntries)));
}

#[test]
fn huge_entries() {
    for requested in [32769u32, 100_000, u32::MAX] {
        for err in all_builds(B::new(requested)) {
            let err = refused(err, &[&requested.to_string(), "32768", "CLAMP"]);
            assert!(matches!(err, Error::TooManyEntries { requested: r, max: 32768 } if r == requested), "{err:?}");
        }
    }
    for requested in [65537u32, u32::MAX] {
        for err in all_builds(B::new(8).cq_entries(requested)) {
            let err = refused(err, &[&requested.to_string(), "65536"]);
            assert!(matches!(err, Error::TooManyCqEntries { requested: r, max: 65536 } if r == requested), "{err:?}");
        }
    }
    // With CLAMP the same counts work.
    let ring = B::new(u32::MAX).cq_entries(u32::MAX).clamp().build().unwrap();
    assert_eq!((ring.params().sq_entries, ring.params().cq_entries), (32768, 65536));
}

#[test]
fn cq_smaller_than_sq_and_cq_zero() {
    for err in all_builds(B::new(64).cq_entries(10)) {
        let err = refused(err, &["16", "64"]);
        assert!(matches!(err, Error::CqSmallerThanSq { cq: 16, sq: 64 }), "{err:?}");
    }
    for err in all_builds(B::new(8).cq_entries(0)) {
        let err = refused(err, &["CQ entries"]);
        assert!(matches!(err, Error::ZeroCqEntries), "{err:?}");
    }
    // CQSIZE by hand without a count.
    let err = B::new(8).setup_flags(SetupFlags::CQSIZE).build().unwrap_err();
    assert!(matches!(refused(err, &[]), Error::ZeroCqEntries));
    // A mixed CQ needs two slots for a big CQE.
    let err = Builder::<Sqe64, CqeMixed>::new(1).cq_entries(1).build().unwrap_err();
    let err = refused(err, &["2", "1", "EOVERFLOW"]);
    assert!(matches!(err, Error::MixedCqTooSmall { cq: 1 }), "{err:?}");
}

#[test]
fn conflicting_and_unknown_flags() {
    let cases: Vec<(B, &[&str])> = vec![
        (B::new(8).sqpoll(Duration::from_millis(1)).coop_taskrun(), &["SQPOLL", "COOP_TASKRUN"]),
        (B::new(8).sqpoll(Duration::from_millis(1)).single_issuer().defer_taskrun(), &["SQPOLL", "DEFER_TASKRUN"]),
        (B::new(8).sq_thread_cpu(1), &["SQ_AFF", "SQPOLL"]),
        (B::new(8).taskrun_flag(), &["TASKRUN_FLAG"]),
        (B::new(8).defer_taskrun(), &["DEFER_TASKRUN", "SINGLE_ISSUER"]),
        (B::new(8).setup_flags(SetupFlags::HYBRID_IOPOLL), &["HYBRID_IOPOLL", "IOPOLL"]),
        (B::new(8).setup_flags(SetupFlags::from_bits_retain(1 << 30)), &["0x40000000"]),
        (B::new(8).setup_flags(SetupFlags::SQE128), &["SQE128"]),
        (B::new(8).setup_flags(SetupFlags::CQE32 | SetupFlags::CQE_MIXED), &["CQE32", "CQE_MIXED"]),
    ];
    for (b, names) in cases {
        for err in all_builds(b) {
            let err = refused(err, names);
            assert_eq!(err.errno_name(), "EINVAL", "{err}");
        }
    }
    let err = Builder::<Sqe128, Cqe32>::new(8).setup_flags(SetupFlags::CQE_MIXED).build().unwrap_err();
    refused(err, &["CQE_MIXED"]);
    // Kernel memory cannot be REGISTERED_FD_ONLY.
    let err = B::new(8).registered_fd_only().build().unwrap_err();
    assert!(matches!(refused(err, &["REGISTERED_FD_ONLY", "NO_MMAP"]), Error::MissingCompanion { .. }));
    // NO_MMAP by hand with kernel memory would hand the kernel address 0.
    let err = B::new(8).setup_flags(SetupFlags::NO_MMAP).build().unwrap_err();
    refused(err, &["NO_MMAP", "build_in"]);
    // With caller memory it is what build_in sets anyway.
    let mut ring = B::new(8).setup_flags(SetupFlags::NO_MMAP).build_allocated(Pages::Normal).unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::NO_MMAP));
    ring.submission().push(ringwise::op::Nop::new()).unwrap();
    assert_eq!(ring.submit_and_wait(1).unwrap().consumed, 1);
}

#[test]
fn flags_this_kernel_lacks_are_explained() {
    // SQE_MIXED is newer than 6.18: the kernel refuses it, and the error
    // says which flags were asked for.
    if ringwise::probe::setup_flags_accepted(SetupFlags::SQE_MIXED) {
        skip("this kernel accepts SQE_MIXED; nothing to refuse");
        return;
    }
    let err = Builder::<SqeMixed, Cqe16>::new(8).build().unwrap_err();
    assert!(matches!(err, Error::Kernel { call: "io_uring_setup", .. }), "{err:?}");
    assert_eq!(err.errno_name(), "EINVAL");
    assert!(err.to_string().contains("SQE_MIXED"), "{err}");
}

#[test]
fn short_memory() {
    let b = B::new(128);
    let l = b.layout().unwrap();
    let total = l.total_bytes();
    // The page after the short buffer is mapped and writable: exactly the
    // case where the kernel would write into it.
    let map = RawMap::new(total + page(), false).unwrap();
    map.fill(0, map.len, 0x5A);
    for given in [total - page(), total - 1, page(), 1, 0] {
        // SAFETY: inside our mapping; the build is refused.
        let mem = unsafe { CallerMemory::new(map.ptr, given) };
        let err = b.clone().build_in(mem).unwrap_err();
        let err = refused(err, &[&total.to_string(), &given.to_string()]);
        assert!(
            matches!(err, Error::MemoryTooSmall { region: Region::Both, needed, given: g } if needed == total && g == given),
            "{err:?}"
        );
        assert_eq!(err.errno_name(), "EFAULT");
    }
    assert_eq!(map.first_not(0, map.len, 0x5A), None, "a refused build wrote to the memory");

    // Separate regions, each one page short.
    let rings = Mapping::anonymous(l.rings_bytes() - page()).unwrap();
    let sqes = Mapping::anonymous(l.sqes_bytes()).unwrap();
    let err = b.clone().build_in_regions(rings, sqes).unwrap_err();
    assert!(matches!(refused(err, &[]), Error::MemoryTooSmall { region: Region::Rings, .. }));
    let rings = Mapping::anonymous(l.rings_bytes()).unwrap();
    let sqes = Mapping::anonymous(l.sqes_bytes() - page()).unwrap();
    let err = b.clone().build_in_regions(rings, sqes).unwrap_err();
    assert!(matches!(refused(err, &[]), Error::MemoryTooSmall { region: Region::Sqes, .. }));

    // An arena carve too small for the ring it is used for.
    let mut arena = Arena::new(1 << 20, Pages::Normal).unwrap();
    let carve = arena.carve_bytes(page()).unwrap();
    let err = b.build_in(carve).unwrap_err();
    assert!(matches!(refused(err, &[]), Error::MemoryTooSmall { .. }));
}

#[test]
fn misaligned_memory() {
    let b = B::new(8);
    let total = b.layout().unwrap().total_bytes();
    let map = RawMap::new(total + page(), false).unwrap();
    map.fill(0, map.len, 0x11);
    for offset in [1usize, 64, 2048, page() - 8] {
        // SAFETY: inside our mapping; the build is refused.
        let mem = unsafe { CallerMemory::new(map.ptr.add(offset), total) };
        let err = refused(b.clone().build_in(mem).unwrap_err(), &[&page().to_string()]);
        assert!(
            matches!(err, Error::MemoryMisaligned { addr, align, .. } if addr == map.ptr as usize + offset && align == page()),
            "{err:?}"
        );
        assert!(err.to_string().contains(&format!("{:#x}", map.ptr as usize + offset)), "{err}");
    }
    assert_eq!(map.first_not(0, map.len, 0x11), None);
}

#[test]
fn read_only_unmapped_and_null_memory() {
    // The holes below are unmapped ranges: alone in a process, no other test
    // thread can map memory into them between the munmap and the check.
    if !in_own_process("read_only_unmapped_and_null_memory") {
        return;
    }
    let b = B::new(8);
    let l = b.layout().unwrap();
    let total = l.total_bytes();

    // Read-only (the last page of the region).
    let map = RawMap::new(total, false).unwrap();
    map.protect(total - page(), page(), MprotectFlags::READ);
    // SAFETY: our mapping; the build is refused.
    let mem = unsafe { CallerMemory::new(map.ptr, total) };
    let err = refused(b.clone().build_in(mem).unwrap_err(), &["r--"]);
    assert!(matches!(err, Error::MemoryUnusable { region: Region::Both, len, .. } if len == total), "{err:?}");
    drop(map);

    // A hole in the middle.
    let map = RawMap::new(total, false).unwrap();
    map.unmap_part(page(), page());
    // SAFETY: our mapping (with a hole); the build is refused.
    let mem = unsafe { CallerMemory::new(map.ptr, total) };
    let err =
        refused(b.clone().build_in(mem).unwrap_err(), &["not mapped", &format!("{:#x}", map.ptr as usize + page())]);
    assert!(matches!(err, Error::MemoryUnusable { .. }), "{err:?}");
    drop(map);

    // Nothing mapped at all.
    let map = RawMap::new(total, false).unwrap();
    let addr = map.ptr;
    drop(map);
    // SAFETY: the range is unmapped; the build must refuse it.
    let mem = unsafe { CallerMemory::new(addr, total) };
    let err = refused(b.clone().build_in(mem).unwrap_err(), &["not mapped"]);
    assert!(matches!(err, Error::MemoryUnusable { .. }), "{err:?}");

    // Null.
    // SAFETY: refused before use.
    let mem = unsafe { CallerMemory::new(std::ptr::null_mut(), total) };
    let err = refused(b.clone().build_in(mem).unwrap_err(), &["null"]);
    assert!(matches!(err, Error::MemoryUnusable { addr: 0, .. }), "{err:?}");

    // A range that would wrap around the end of the address space.
    let top = (usize::MAX - page() + 1) as *mut u8;
    // SAFETY: refused before use.
    let mem = unsafe { CallerMemory::new(top, total) };
    let err = refused(b.clone().build_in(mem).unwrap_err(), &[]);
    assert!(matches!(err, Error::MemoryUnusable { .. }), "{err:?}");
    // SAFETY: refused before use.
    let (r, q) = unsafe { (CallerMemory::new(top, l.rings_bytes()), CallerMemory::new(top, l.sqes_bytes())) };
    assert!(matches!(b.build_in_regions(r, q), Err(Error::MemoryUnusable { .. })));
}

#[test]
fn file_backed_shared_memory_is_explained() {
    // A writable shared mapping of a file passes the mapping check, but the
    // kernel cannot pin it long-term: EFAULT, with the reason spelled out.
    let b = B::new(8);
    let total = b.layout().unwrap().total_bytes();
    let file = TempFile::new("shared");
    file.file.set_len(total as u64).unwrap();
    // SAFETY: a fresh shared mapping of our own file.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            total,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::SHARED,
            &file.file,
            0,
        )
    }
    .unwrap();
    // SAFETY: our mapping, unmapped below after the (refused) build.
    let mem = unsafe { CallerMemory::new(ptr.cast(), total) };
    let err = b.build_in(mem).unwrap_err();
    assert_eq!(err.errno_name(), "EFAULT", "{err}");
    assert!(err.to_string().contains("file-backed"), "{err}");
    // SAFETY: our mapping; the ring was never created.
    unsafe { rustix::mm::munmap(ptr, total) }.unwrap();
}

#[test]
fn overlapping_regions() {
    let b = B::new(512);
    let l = b.layout().unwrap();
    assert!(l.rings_bytes() >= 3 * page());
    let map = RawMap::new(l.total_bytes() + 4 * page(), false).unwrap();
    map.fill(0, map.len, 0x77);
    for sqes_at in [0usize, page(), l.rings_bytes() - page()] {
        // SAFETY: inside our mapping; the build is refused.
        let (r, q) = unsafe {
            (CallerMemory::new(map.ptr, l.rings_bytes()), CallerMemory::new(map.ptr.add(sqes_at), l.sqes_bytes()))
        };
        let err = refused(b.clone().build_in_regions(r, q).unwrap_err(), &[&format!("{:#x}", map.ptr as usize)]);
        assert!(
            matches!(err, Error::MemoryOverlap { rings, sqes } if rings.0 == map.ptr as usize && sqes.0 == map.ptr as usize + sqes_at),
            "{err:?}"
        );
    }
    // SQEs first, rings overlapping their tail.
    // SAFETY: as above.
    let (r, q) = unsafe {
        (
            CallerMemory::new(map.ptr.add(l.sqes_bytes() - page()), l.rings_bytes()),
            CallerMemory::new(map.ptr, l.sqes_bytes()),
        )
    };
    assert!(matches!(b.clone().build_in_regions(r, q), Err(Error::MemoryOverlap { .. })));
    assert_eq!(map.first_not(0, map.len, 0x77), None);
    // Adjacent is fine.
    // SAFETY: inside our mapping, owned by the ring until it is dropped
    // below, before the mapping.
    let (r, q) = unsafe {
        (CallerMemory::new(map.ptr, l.rings_bytes()), CallerMemory::new(map.ptr.add(l.rings_bytes()), l.sqes_bytes()))
    };
    let mut ring = b.build_in_regions(r, q).unwrap();
    nop_round_trip(&mut ring, 8, 0);
    drop(ring);
}

#[test]
fn huge_sizes_do_not_overflow() {
    let mut arena = Arena::new(1 << 16, Pages::Normal).unwrap();
    let err = arena.carve_bytes(usize::MAX).unwrap_err();
    assert!(matches!(err, Error::ArenaExhausted { .. }), "{err:?}");
    assert!(Mapping::anonymous(usize::MAX).is_err());
    assert!(Mapping::allocate(usize::MAX - 4096, Pages::Huge).is_err());
}

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
