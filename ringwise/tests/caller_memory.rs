//! Rings in memory the caller provides (`build_in`, `build_in_regions`,
//! `&'static mut [u8]`).
//!
//! The reported failure: rings in caller memory with
//! `COOP_TASKRUN | TASKRUN_FLAG | SINGLE_ISSUER | SQE128 | CLAMP` returned
//! garbage CQEs and `submit` consumed fewer SQEs than were queued. The cause
//! was ring memory sized short of what the kernel uses (it is never told the
//! length): the kernel wrote CQEs into, and read the SQ array from, the page
//! after the buffer. Here every region is placed in exactly the bytes the
//! layout asks for, followed by a canary page; the memory is pre-filled with
//! garbage (the library must zero it); each ring runs many batches of NOPs
//! whose user_data are sequence numbers. Every submit must consume exactly
//! what was queued, every CQE must match its SQE, `sq_dropped` and CQ
//! overflow must stay 0, and the canaries must be untouched. A region one
//! page short must be refused before the kernel sees it.
//!
//! Bad caller memory (short, misaligned, read-only, unmapped, null,
//! file-backed shared, overlapping regions) is refused before the syscall
//! with the typed error and its numbers, and memory handed to a refused
//! build is left untouched.

mod common;

use common::*;
use ringwise::op::Nop;
use ringwise::{
    Arena, Builder, CallerMemory, Cqe16, Error, Layout, Mapping, Pages, Region, Ring, SetupFlags, Sqe128, Sqe64,
    Submitted,
};
use rustix::mm::MprotectFlags;
use std::time::Instant;

const CANARY: u8 = 0xA5;

const GARBAGE: u8 = 0xEE;

const HUGE: usize = 2 * 1024 * 1024;

/// Entry counts, powers of two and not, up to 4096, and 40000 (clamped).
const ENTRIES: &[u32] = &[1, 2, 3, 5, 8, 31, 100, 128, 255, 1000, 1024, 2047, 3000, 4096, 40_000];

fn builder(entries: u32, keep_sq_array: bool) -> Builder<Sqe128, Cqe16> {
    let b = Builder::<Sqe128, Cqe16>::new(entries).coop_taskrun().taskrun_flag().single_issuer().clamp();
    if keep_sq_array {
        b.keep_sq_array()
    } else {
        b
    }
}

/// Where the two regions and their canaries sit in one mapping:
/// `[rings][canary page][sqes][canary page]`.
struct Placement {
    rings: usize,
    rings_canary: usize,
    sqes: usize,
    sqes_canary: usize,
    end: usize,
}

impl Placement {
    fn new(l: &Layout, page: usize) -> Placement {
        let rings_canary = l.rings_bytes();
        let sqes = rings_canary + page;
        let sqes_canary = sqes + l.sqes_bytes();
        Placement { rings: 0, rings_canary, sqes, sqes_canary, end: sqes_canary + page }
    }

    fn check_canaries(&self, map: &RawMap, page: usize, what: &str) {
        for (name, off) in [("rings", self.rings_canary), ("SQE", self.sqes_canary)] {
            if let Some(at) = map.first_not(off, page, CANARY) {
                panic!("{what}: the canary page after the {name} region was written at byte {}", at - off);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Totals {
    ops: u64,
    submits: u64,
    rings: u32,
}

/// Run `ops` NOPs through one ring in batches of varying size.
fn drive(ring: &mut Ring<Sqe128, Cqe16>, ops: u64, tag: u64, totals: &mut Totals) {
    let cap = ring.submission().capacity() as u64;
    let mut next_sqe = 0u64;
    let mut next_cqe = 0u64;
    let mut round = 0u64;
    while next_sqe < ops {
        // Batch sizes cycle through full, odd and single batches so that
        // the indices wrap at every position.
        let want = match round % 4 {
            0 => cap,
            1 => (cap / 2).max(1) + 1,
            2 => 1,
            _ => 1 + (round * 7919) % cap,
        };
        let n = want.min(cap).min(ops - next_sqe);
        round += 1;
        let mut sq = ring.submission();
        for i in 0..n {
            sq.push(Nop::new().user_data(tag | (next_sqe + i))).expect("SQ has room after a full reap");
        }
        next_sqe += n;
        let s = ring.submit_and_wait(n as u32).expect("submit_and_wait");
        assert_eq!(
            s,
            Submitted { consumed: n as u32, remaining: 0, stopped_after: None },
            "submit must consume exactly the {n} SQEs queued (op {next_sqe} of ring {tag:#x})"
        );
        totals.submits += 1;
        let mut reaped = 0;
        for cqe in ring.completions().expect("completions") {
            assert_eq!(cqe.user_data, tag | next_cqe, "CQE out of sequence: {cqe:?}");
            assert_eq!(cqe.res, 0, "{cqe:?}");
            assert_eq!(cqe.flags, 0, "{cqe:?}");
            next_cqe += 1;
            reaped += 1;
        }
        assert_eq!(reaped, n, "one CQE per SQE");
        assert_eq!(ring.submission().dropped(), 0, "sq_dropped");
        assert_eq!(ring.completion().overflow(), 0, "cq_overflow");
    }
    assert_eq!(next_cqe, ops);
    totals.ops += ops;
    totals.rings += 1;
}

/// Build one ring in `map` (garbage-filled, canaries set), drive it, check
/// the canaries while it lives and after it is dropped.
fn run_in(map: &RawMap, entries: u32, keep_sq_array: bool, ops: u64, tag: u64, totals: &mut Totals) {
    let page = ringwise::raw::sys::page_size();
    let b = builder(entries, keep_sq_array);
    let l = b.layout().unwrap();
    let p = Placement::new(&l, page);
    assert!(p.end <= map.len, "mapping too small for the test's placement");
    map.fill(0, p.end, GARBAGE);
    map.fill(p.rings_canary, page, CANARY);
    map.fill(p.sqes_canary, page, CANARY);
    let what = format!("entries {entries}, SQ array kept {keep_sq_array}");
    // SAFETY: both regions lie inside `map`, which this test owns, outlives
    // the ring (dropped at the end of this function) and is unmapped only
    // after; nothing else touches the ring regions meanwhile.
    let (rings, sqes) = unsafe {
        (
            CallerMemory::new(map.ptr.add(p.rings), l.rings_bytes()),
            CallerMemory::new(map.ptr.add(p.sqes), l.sqes_bytes()),
        )
    };
    let mut ring = b.build_in_regions(rings, sqes).unwrap_or_else(|e| panic!("{what}: {e}"));
    let want = SetupFlags::COOP_TASKRUN
        | SetupFlags::TASKRUN_FLAG
        | SetupFlags::SINGLE_ISSUER
        | SetupFlags::SQE128
        | SetupFlags::CLAMP
        | SetupFlags::NO_MMAP;
    assert!(ring.setup_flags().contains(want), "{what}: {}", ring.setup_flags().names());
    assert_eq!(ring.params().sq_entries, entries.min(32768).next_power_of_two(), "{what}");
    drive(&mut ring, ops, tag, totals);
    p.check_canaries(map, page, &what);
    drop(ring);
    p.check_canaries(map, page, &format!("{what}, after drop"));
}

/// A region one page short is refused before the kernel sees it, and the
/// page after it (where the kernel would have written) stays untouched.
fn short_regions_are_refused(map: &RawMap, entries: u32, keep_sq_array: bool) {
    let page = ringwise::raw::sys::page_size();
    let b = builder(entries, keep_sq_array);
    let l = b.layout().unwrap();
    let p = Placement::new(&l, page);
    map.fill(0, p.end, CANARY);
    // SAFETY: as in `run_in`; the build is refused, so the kernel never
    // sees the memory.
    let (rings, sqes) = unsafe {
        (
            CallerMemory::new(map.ptr.add(p.rings), l.rings_bytes() - page),
            CallerMemory::new(map.ptr.add(p.sqes), l.sqes_bytes()),
        )
    };
    let err = b.clone().build_in_regions(rings, sqes).unwrap_err();
    assert!(
        matches!(err, Error::MemoryTooSmall { region: Region::Rings, needed, given }
            if needed == l.rings_bytes() && given == l.rings_bytes() - page),
        "{err:?}"
    );
    assert!(err.to_string().contains(&l.rings_bytes().to_string()), "{err}");
    // SAFETY: as above.
    let (rings, sqes) = unsafe {
        (
            CallerMemory::new(map.ptr.add(p.rings), l.rings_bytes()),
            CallerMemory::new(map.ptr.add(p.sqes), l.sqes_bytes() - page),
        )
    };
    let err = b.build_in_regions(rings, sqes).unwrap_err();
    assert!(matches!(err, Error::MemoryTooSmall { region: Region::Sqes, .. }), "{err:?}");
    assert_eq!(map.first_not(0, p.end, CANARY), None, "a refused build touched the memory");
}

fn ops_for(entries: u32) -> u64 {
    let cap = entries.min(32768).next_power_of_two() as u64;
    (3 * cap).max(35_000)
}

/// Run every configuration; `None` when huge pages ran out part way (taken
/// by another process), after saying so.
fn run_all(huge: bool) -> Option<Totals> {
    let page = ringwise::raw::sys::page_size();
    let mut totals = Totals::default();
    let mut slowest_teardown = std::time::Duration::ZERO;
    let start = Instant::now();
    for (i, &entries) in ENTRIES.iter().enumerate() {
        for keep_sq_array in [false, true] {
            let l = builder(entries, keep_sq_array).layout().unwrap();
            let need = Placement::new(&l, page).end;
            let len = if huge { need.div_ceil(HUGE) * HUGE } else { need };
            if huge {
                // The kernel unpins a ring's pages in its asynchronous
                // teardown, after the ring is dropped and the mapping gone:
                // wait for the previous ring's huge pages to come back.
                let pages = (len / HUGE) as u64;
                let t = Instant::now();
                while huge_pages_free() < pages && t.elapsed() < std::time::Duration::from_secs(10) {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                slowest_teardown = slowest_teardown.max(t.elapsed());
            }
            let map = match RawMap::new(len, huge) {
                Ok(map) => map,
                Err(e) if huge => {
                    skip(format!("mapping {len} bytes of huge pages failed ({e}); another process took them?"));
                    return None;
                }
                Err(e) => panic!("map {len} bytes: {e}"),
            };
            let tag = ((i as u64) << 56) | ((keep_sq_array as u64) << 55);
            short_regions_are_refused(&map, entries, keep_sq_array);
            run_in(&map, entries, keep_sq_array, ops_for(entries), tag, &mut totals);
        }
    }
    eprintln!(
        "{} pages: {} NOPs through {} rings in {} submits, {:?}",
        if huge { "2 MiB huge" } else { "normal" },
        totals.ops,
        totals.rings,
        totals.submits,
        start.elapsed()
    );
    if huge {
        eprintln!("longest wait for a dropped ring's huge pages to be unpinned: {slowest_teardown:?}");
    }
    Some(totals)
}

fn huge_pages_free() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix("HugePages_Free:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[test]
fn caller_memory_on_normal_pages() {
    let totals = run_all(false).expect("normal pages");
    assert_eq!(totals.rings as usize, 2 * ENTRIES.len());
    assert!(totals.ops >= 1_000_000, "{totals:?}");
}

#[test]
fn caller_memory_on_huge_pages() {
    let page = ringwise::raw::sys::page_size();
    let biggest = ENTRIES
        .iter()
        .map(|&e| Placement::new(&builder(e, true).layout().unwrap(), page).end.div_ceil(HUGE))
        .max()
        .unwrap() as u64;
    let _guard = match HugePagesGuard::reserve(biggest) {
        Ok(g) => g,
        Err(why) => {
            skip(format!("no 2 MiB huge pages for the huge-page half of the regression test: {why}"));
            return;
        }
    };
    // Reserved pages can still be taken by another process between the
    // reservation and the mapping: then say so rather than fail.
    match RawMap::new(biggest as usize * HUGE, true) {
        Ok(probe) => drop(probe),
        Err(e) => {
            skip(format!("mapping {biggest} huge pages failed right after reserving them: {e}"));
            return;
        }
    }
    let Some(totals) = run_all(true) else { return };
    assert_eq!(totals.rings as usize, 2 * ENTRIES.len());
    assert!(totals.ops >= 1_000_000, "{totals:?}");
}

type B = Builder<Sqe64, Cqe16>;

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
fn static_slice_is_ring_memory() {
    let page = ringwise::raw::sys::page_size();
    let layout = Builder::<Sqe64, Cqe16>::new(64).layout().expect("layout");
    // A leaked buffer, never freed: carve a page-aligned piece out of it.
    let leaked: &'static mut [u8] = Vec::leak(vec![0xa5u8; layout.total_bytes() + 2 * page]);
    let skew = leaked.as_ptr().align_offset(page);
    let (_, rest) = leaked.split_at_mut(skew);
    let (aligned, tail) = rest.split_at_mut(layout.total_bytes());
    let mut ring: Ring = Builder::new(64).build_in(aligned).expect("ring in a leaked buffer");
    assert!(ring.memory_report().kind.contains("leaked"), "{:?}", ring.memory_report());
    for round in 0..20 {
        nop_round_trip(&mut ring, 64, round << 8);
    }
    // A misaligned slice is refused with the numbers, not handed over.
    let (_, misaligned) = tail.split_at_mut(1);
    let err = Builder::<Sqe64, Cqe16>::new(1).build_in(misaligned).expect_err("misaligned");
    assert!(matches!(err, Error::MemoryMisaligned { align, .. } if align == page), "{err}");
}
