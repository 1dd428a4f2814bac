//! Where ring memory lives and who owns it.
//!
//! * [`Mapping`]: anonymous memory the library maps (page-aligned, zeroed),
//!   on normal or 2 MiB huge pages.
//! * [`Arena`] and [`Carve`]: one mapping split into page-aligned pieces, one
//!   ring each (e.g. many small rings in one huge page).
//! * [`RingMemory`]: the contract for any buffer a ring may live in:
//!   mappings, carves, `&'static mut [u8]` and [`CallerMemory`] (a raw region
//!   under an `unsafe` contract). The ring takes ownership, so safe code cannot
//!   free, shrink or reuse the memory while the kernel uses it.
//!
//! Why no `Vec<u8>` or `Box<[u8]>`: closing a ring fd does not stop the
//! kernel at once. Its teardown runs asynchronously and may still post
//! cancellation CQEs into the (pinned) ring pages after `close` returns. Memory
//! that is unmapped is safe (the pinned pages go back to the kernel, not to the
//! process), and `'static` memory is never reused, but a heap buffer goes back
//! to the allocator and its pages could be handed out again while the kernel
//! still writes to them.
//!
//! "Unmapping is safe" rests on the kernel *pinning* the pages, which it does
//! for ring regions, registered buffers and registered regions. Memory the
//! kernel reaches through user addresses instead (provided buffers of a buffer
//! ring) is different: a late write after unmapping would land in whatever is
//! mapped there next, so `register::BufRing` keeps that address range reserved
//! (`PROT_NONE`) after drop instead of unmapping it.
//!
//! Validation ([`check_region`]) happens before any syscall: a region that is
//! short, misaligned, unmapped or read-only is refused with the numbers.

use crate::error::{Error, Region, Result};
use crate::layout::Layout;
use rustix::mm::{MapFlags, ProtFlags};
use std::ffi::c_void;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

/// Bytes of an x86_64/aarch64 (4 KiB base page) PMD huge page.
pub const HUGE_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// Which pages to allocate ring memory on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pages {
    /// Ordinary pages of the system page size.
    #[default]
    Normal,
    /// 2 MiB hugetlb pages (`MAP_HUGETLB`), falling back to normal pages with
    /// the reason recorded when none can be had.
    Huge,
    /// 2 MiB hugetlb pages or an error: no fallback.
    HugeOnly,
}

/// Memory a ring can live in.
///
/// # Safety
/// Implementors promise that `as_mut_ptr()` returns the same pointer for as
/// long as the value lives, moves included (the memory must not be inside
/// the value itself, as an array field would be), that `len()` bytes from it
/// are writable private
/// memory owned by this value, that no other code reads or writes that memory
/// while the value is alive, and that after the value is dropped the process
/// never reuses those pages for other data (unmap them, or never free them):
/// the kernel may write to them until its asynchronous teardown of the ring
/// has finished.
pub unsafe trait RingMemory: Send + 'static {
    /// Start of the memory.
    fn as_mut_ptr(&mut self) -> *mut u8;
    /// Length in bytes.
    fn len(&self) -> usize;
    /// Whether `len()` is 0.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A description for memory reports (`"library mapping on normal pages"`).
    fn describe(&self) -> String {
        "caller memory".to_string()
    }
}

/// A raw region of the caller's, handed over under an `unsafe` contract.
#[derive(Debug)]
pub struct CallerMemory {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the contract of `CallerMemory::new` makes the region exclusively
// the ring's.
unsafe impl Send for CallerMemory {}

impl CallerMemory {
    /// Wrap `len` bytes at `ptr`.
    ///
    /// # Safety
    /// The region must be writable private (or hugetlb) memory, used by
    /// nothing else from now on, and must stay mapped and unused by anything
    /// else until the process has unmapped it after the ring was dropped (the
    /// kernel may post CQEs into it during its asynchronous teardown).
    pub unsafe fn new(ptr: *mut u8, len: usize) -> CallerMemory {
        CallerMemory { ptr, len }
    }
}

// SAFETY: forwarded from the contract of `CallerMemory::new`.
unsafe impl RingMemory for CallerMemory {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }
    fn len(&self) -> usize {
        self.len
    }
}

// SAFETY: a `'static` exclusive borrow is never given back: nothing else can
// read or write these bytes again, and they are never freed (`Box::leak`,
// `Vec::leak`, a `static`), so a late write of the kernel's lands in memory
// no one uses. The slice neither moves nor shrinks while borrowed. Only the
// page-aligned, page-rounded part the layout asks for is handed to the
// kernel ([`check_region`] refuses anything else before the syscall).
unsafe impl RingMemory for &'static mut [u8] {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        <[u8]>::as_mut_ptr(self)
    }
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn describe(&self) -> String {
        "a leaked (`'static`) buffer".to_string()
    }
}

/// An anonymous private mapping owned by the library: page-aligned, zeroed,
/// unmapped on drop.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    huge: bool,
    fallback: Option<String>,
}

// SAFETY: the mapping is plain memory owned by this value.
unsafe impl Send for Mapping {}
// SAFETY: `&Mapping` only exposes the address and length.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Map `len` bytes (rounded up to a page) of zeroed anonymous memory.
    pub fn anonymous(len: usize) -> Result<Mapping> {
        let len = round_up(len.max(1), crate::sys::page_size());
        let ptr = map_anonymous(len, MapFlags::PRIVATE)
            .map_err(|errno| Error::kernel("mmap", errno, format!("could not map {len} bytes of anonymous memory")))?;
        Ok(Mapping { ptr, len, huge: false, fallback: None })
    }

    /// Map `len` bytes (rounded up to 2 MiB) on hugetlb pages; the error says
    /// why there are none, with the 2 MiB pool's free and total pages
    /// (usually: none reserved).
    pub fn huge(len: usize) -> Result<Mapping> {
        let len = round_up(len.max(1), HUGE_PAGE_BYTES);
        let flags = MapFlags::PRIVATE | MapFlags::HUGETLB | MapFlags::HUGE_2MB;
        let ptr = map_anonymous(len, flags)
            .map_err(|errno| Error::kernel("mmap(MAP_HUGETLB)", errno, huge_pool_report(len)))?;
        Ok(Mapping { ptr, len, huge: true, fallback: None })
    }

    /// Map `len` bytes on the pages asked for. With [`Pages::Huge`] a failure
    /// to get huge pages falls back to normal pages; the reason is kept in
    /// [`Mapping::fallback_reason`].
    pub fn allocate(len: usize, pages: Pages) -> Result<Mapping> {
        match pages {
            Pages::Normal => Mapping::anonymous(len),
            Pages::HugeOnly => Mapping::huge(len),
            Pages::Huge => match Mapping::huge(len) {
                Ok(m) => Ok(m),
                Err(e) => {
                    let mut m = Mapping::anonymous(len)?;
                    m.fallback = Some(e.to_string());
                    Ok(m)
                }
            },
        }
    }

    /// Start address.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    /// Length in bytes (a whole number of pages).
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the length is 0 (never, for a live mapping).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Whether the mapping is on 2 MiB hugetlb pages.
    pub fn is_huge(&self) -> bool {
        self.huge
    }
    /// Why huge pages were asked for but normal pages were used.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("addr", &self.ptr)
            .field("len", &self.len)
            .field("huge", &self.huge)
            .field("fallback", &self.fallback)
            .finish()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly this range and nothing else refers to it
        // once the owner is dropped (rings own their memory).
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

// SAFETY: the mapping is owned, private, writable and never moves.
unsafe impl RingMemory for Mapping {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    fn len(&self) -> usize {
        self.len
    }
    fn describe(&self) -> String {
        match (&self.huge, &self.fallback) {
            (true, _) => "library mapping on 2 MiB huge pages".into(),
            (false, Some(why)) => format!("library mapping on normal pages (huge pages unavailable: {why})"),
            (false, None) => "library mapping on normal pages".into(),
        }
    }
}

/// One mapping from which several rings are carved, each carve page-aligned.
///
/// The mapping lives until the arena and every carve are dropped, so a ring
/// in a carve keeps its memory alive by itself.
#[derive(Debug)]
pub struct Arena {
    map: Arc<Mapping>,
    next: usize,
}

impl Arena {
    /// An arena of at least `len` bytes on the pages asked for.
    pub fn new(len: usize, pages: Pages) -> Result<Arena> {
        Ok(Arena { map: Arc::new(Mapping::allocate(len, pages)?), next: 0 })
    }

    /// An arena over an existing mapping.
    pub fn from_mapping(map: Mapping) -> Arena {
        Arena { map: Arc::new(map), next: 0 }
    }

    /// Carve the memory one ring with this layout needs (both regions).
    pub fn carve(&mut self, layout: &Layout) -> Result<Carve> {
        self.carve_bytes(layout.total_bytes())
    }

    /// Carve `len` bytes, rounded up to a page.
    pub fn carve_bytes(&mut self, len: usize) -> Result<Carve> {
        let len = round_up(len, crate::sys::page_size());
        if len > self.remaining() {
            return Err(Error::ArenaExhausted { needed: len, remaining: self.remaining(), capacity: self.capacity() });
        }
        let carve = Carve { map: Arc::clone(&self.map), offset: self.next, len };
        self.next += len;
        Ok(carve)
    }

    /// Bytes carved so far.
    pub fn used(&self) -> usize {
        self.next
    }
    /// Bytes still free.
    pub fn remaining(&self) -> usize {
        self.map.len() - self.next
    }
    /// Bytes in all.
    pub fn capacity(&self) -> usize {
        self.map.len()
    }
    /// The underlying mapping (to ask whether it is on huge pages).
    pub fn mapping(&self) -> &Mapping {
        &self.map
    }
}

/// A page-aligned piece of an [`Arena`]; keeps the whole mapping alive.
#[derive(Debug)]
pub struct Carve {
    map: Arc<Mapping>,
    offset: usize,
    len: usize,
}

impl Carve {
    /// Offset of this carve in its arena.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

// SAFETY: carves of one arena never overlap (the arena hands out each byte
// once), the mapping never moves, and the Arc keeps it mapped.
unsafe impl RingMemory for Carve {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        // SAFETY: offset + len <= map.len() by construction.
        unsafe { self.map.as_ptr().add(self.offset) }
    }
    fn len(&self) -> usize {
        self.len
    }
    fn describe(&self) -> String {
        format!("carve [{:#x}, +{:#x}) of an arena ({})", self.offset, self.len, self.map.as_ref().describe_ref())
    }
}

impl Mapping {
    fn describe_ref(&self) -> &'static str {
        if self.huge {
            "2 MiB huge pages"
        } else {
            "normal pages"
        }
    }
}

/// Check that `[addr, addr + given)` can hold a region of `needed` bytes:
/// page-aligned, long enough, mapped and writable. Runs before any syscall.
pub fn check_region(region: Region, addr: *const u8, given: usize, needed: usize) -> Result<()> {
    let page = crate::sys::page_size();
    let addr_usize = addr as usize;
    if addr.is_null() {
        return Err(Error::MemoryUnusable { region, addr: 0, len: given, why: "the address is null".into() });
    }
    if addr_usize % page != 0 {
        return Err(Error::MemoryMisaligned { region, addr: addr_usize, align: page });
    }
    if given < needed {
        return Err(Error::MemoryTooSmall { region, needed, given });
    }
    if addr_usize.checked_add(needed).is_none() {
        return Err(Error::MemoryUnusable {
            region,
            addr: addr_usize,
            len: given,
            why: format!("{needed} bytes from there run past the end of the address space"),
        });
    }
    check_mapped_writable(region, addr_usize, needed)
}

/// Walk `/proc/self/maps` and require every byte of the range to be in a
/// writable mapping. Where `/proc` is not mounted the check is skipped (the
/// kernel's EFAULT is then translated by the builder).
fn check_mapped_writable(region: Region, addr: usize, len: usize) -> Result<()> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Ok(());
    };
    let end = addr + len;
    let mut cursor = addr;
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((lo, hi)) = range.split_once('-') else {
            continue;
        };
        let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16)) else {
            continue;
        };
        if hi <= cursor {
            continue;
        }
        if lo > cursor {
            break; // a hole at `cursor`: maps are sorted by address
        }
        if !perms.starts_with("rw") {
            return Err(Error::MemoryUnusable {
                region,
                addr,
                len,
                why: format!("the pages at {cursor:#x} are mapped `{perms}`, not readable and writable"),
            });
        }
        cursor = hi;
        if cursor >= end {
            return Ok(());
        }
    }
    Err(Error::MemoryUnusable {
        region,
        addr,
        len,
        why: format!("the bytes from {cursor:#x} to {end:#x} are not mapped"),
    })
}

/// Round up to a multiple of `align`; a value too close to `usize::MAX`
/// saturates (no such memory exists, so the mapping or carve then fails with
/// an error instead of the arithmetic panicking).
pub(crate) fn round_up(value: usize, align: usize) -> usize {
    value.div_ceil(align).saturating_mul(align)
}

fn map_anonymous(len: usize, flags: MapFlags) -> std::result::Result<NonNull<u8>, rustix::io::Errno> {
    // SAFETY: a fresh anonymous mapping at a kernel-chosen address aliases
    // nothing.
    let ptr =
        unsafe { rustix::mm::mmap_anonymous(std::ptr::null_mut(), len, ProtFlags::READ | ProtFlags::WRITE, flags)? };
    // Address 0 only with vm.mmap_min_addr = 0 and nothing else free; the
    // caller's error then says the mapping failed.
    NonNull::new(ptr.cast()).ok_or(rustix::io::Errno::NOMEM)
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// The sysfs directory of the 2 MiB huge page pool (the one `MAP_HUGE_2MB`
/// draws from, whatever the default huge page size is).
const HUGE_2MB_POOL: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB";

/// Why `len` bytes of 2 MiB huge pages could not be mapped, with the pool's
/// numbers: `vm.nr_hugepages` counts the default-size pool, which is not
/// always the 2 MiB one, and says nothing about how many pages are free.
fn huge_pool_report(len: usize) -> String {
    let pages = len.div_ceil(HUGE_PAGE_BYTES);
    let read = |name: &str| read_trimmed(&format!("{HUGE_2MB_POOL}/{name}"));
    match (read("nr_hugepages"), read("free_hugepages"), read("resv_hugepages")) {
        (Some(total), Some(free), resv) => format!(
            "{pages} huge pages of 2 MiB were needed; the 2 MiB pool has {free} of {total} free ({} of those \
             reserved by other mappings); reserve more with `echo N > {HUGE_2MB_POOL}/nr_hugepages` as root",
            resv.as_deref().unwrap_or("?")
        ),
        _ => format!(
            "{pages} huge pages of 2 MiB were needed, but this kernel has no 2 MiB huge page pool \
             ({HUGE_2MB_POOL} is missing)"
        ),
    }
}

/// A kernel-mapped region of a ring fd (`mmap(fd, IORING_OFF_*)`), unmapped on drop.
#[derive(Debug)]
pub(crate) struct KernelMap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is only accessed through the ring that owns it.
unsafe impl Send for KernelMap {}
// SAFETY: as above; shared access goes through atomics in the ring.
unsafe impl Sync for KernelMap {}

impl KernelMap {
    /// Map `len` bytes of the ring's region at `offset` (`IORING_OFF_SQ_RING`
    /// or `IORING_OFF_SQES`).
    ///
    /// The kernel does not refuse a mapping longer than its region (6.18
    /// maps the region's pages and leaves the rest of the range empty, where
    /// any access raises SIGBUS), so the mapping is checked to be backed to
    /// its end: a layout longer than the kernel's region (parameters that do
    /// not describe the ring, or a layout wrong for this kernel) is an error
    /// here, not a crash at the first CQE past the region.
    pub(crate) fn map(
        fd: rustix::fd::BorrowedFd<'_>,
        len: usize,
        offset: u64,
        what: &'static str,
    ) -> Result<KernelMap> {
        // SAFETY: mapping a ring fd's region at a kernel-chosen address
        // aliases nothing; whether `len` fits the region is checked below.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED | MapFlags::POPULATE,
                fd,
                offset,
            )
        }
        .map_err(|errno| Error::kernel("mmap", errno, format!("mapping the ring's {what} ({len} bytes) failed")))?;
        let Some(ptr) = NonNull::new(ptr.cast::<u8>()) else {
            return Err(Error::kernel(
                "mmap",
                rustix::io::Errno::NOMEM,
                format!("mapping the ring's {what} returned 0"),
            ));
        };
        // Owned from here: an error below unmaps it.
        let map = KernelMap { ptr, len };
        map.check_backed(what)?;
        Ok(map)
    }

    /// Require every page of the mapping to be backed by the kernel's region.
    ///
    /// `mincore` tells: the kernel inserts all of a region's pages when the
    /// ring fd is mapped, so a page it reports absent has nothing behind it.
    /// Older kernels map ring memory with `remap_pfn_range`, where `mincore`
    /// reports even backed pages absent, and check the length in `mmap`
    /// themselves: a first page reported absent means the check cannot tell
    /// and is skipped, as it is where `mincore` fails.
    fn check_backed(&self, what: &'static str) -> Result<()> {
        let page = crate::sys::page_size();
        let pages = self.len.div_ceil(page);
        let mut resident = vec![0u8; pages];
        // SAFETY: `resident` has one byte per page of the range.
        let ret = unsafe { crate::sys::mincore(self.ptr.as_ptr().cast(), self.len, resident.as_mut_ptr()) };
        if ret.is_err() || !matches!(resident.first(), Some(b) if b & 1 != 0) {
            return Ok(());
        }
        match resident.iter().position(|b| b & 1 == 0) {
            None => Ok(()),
            Some(backed) => Err(Error::UnbackedMapping { what, backed_bytes: backed * page, expected_bytes: self.len }),
        }
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for KernelMap {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly this range; its owner (a ring, or one
        // replacing it after a resize) no longer points into it. The kernel's
        // pages stay the kernel's: unmapping only drops our view of them.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast::<c_void>(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::RingSpec;

    #[test]
    fn arena_carves_page_aligned_pieces() {
        let page = crate::sys::page_size();
        let mut arena = Arena::new(64 * page, Pages::Normal).unwrap();
        let layout = RingSpec::new(8).layout().unwrap();
        let mut a = arena.carve(&layout).unwrap();
        let mut b = arena.carve(&layout).unwrap();
        assert_eq!(a.len(), layout.total_bytes());
        assert_eq!(b.offset(), layout.total_bytes());
        assert_eq!(a.as_mut_ptr() as usize % page, 0);
        assert_eq!(b.as_mut_ptr() as usize % page, 0);
        assert_eq!(arena.used(), 2 * layout.total_bytes());
        let err = arena.carve_bytes(1 << 30).unwrap_err();
        assert!(matches!(err, Error::ArenaExhausted { .. }), "{err}");
    }

    #[test]
    fn region_checks_name_the_numbers() {
        let page = crate::sys::page_size();
        let mut m = Mapping::anonymous(2 * page).unwrap();
        let p = m.as_mut_ptr();
        assert!(check_region(Region::Rings, p, 2 * page, 2 * page).is_ok());
        let err = check_region(Region::Rings, p, page, 2 * page).unwrap_err();
        assert!(matches!(err, Error::MemoryTooSmall { needed, given, .. } if needed == 2 * page && given == page));
        assert!(err.to_string().contains(&format!("needs {}", 2 * page)), "{err}");
        // SAFETY: p + 8 stays inside the mapping.
        let err = check_region(Region::Sqes, unsafe { p.add(8) }, page, page).unwrap_err();
        assert!(matches!(err, Error::MemoryMisaligned { .. }), "{err}");
        let err = check_region(Region::Sqes, std::ptr::null(), page, page).unwrap_err();
        assert!(matches!(err, Error::MemoryUnusable { .. }), "{err}");
    }

    #[test]
    fn read_only_and_unmapped_memory_is_refused() {
        let page = crate::sys::page_size();
        let m = Mapping::anonymous(3 * page).unwrap();
        let p = m.as_ptr();
        // SAFETY: the last page belongs to `m`; making it read-only only
        // affects this test's mapping.
        unsafe {
            rustix::mm::mprotect(p.add(2 * page).cast(), page, rustix::mm::MprotectFlags::READ).unwrap();
        }
        let err = check_region(Region::Rings, p, 3 * page, 3 * page).unwrap_err();
        assert!(err.to_string().contains("not readable and writable"), "{err}");
        assert!(check_region(Region::Rings, p, 2 * page, 2 * page).is_ok());
        // SAFETY: unmapping the last page of our own mapping; Drop unmaps the
        // whole range again, which munmap allows.
        unsafe { rustix::mm::munmap(p.add(2 * page).cast(), page).unwrap() };
        let err = check_region(Region::Rings, p, 3 * page, 3 * page).unwrap_err();
        assert!(err.to_string().contains("not mapped"), "{err}");
    }
}
