//! Guard-page memory: a region of exactly the bytes asked for, followed by a
//! `PROT_NONE` page, so that the kernel faults (`EFAULT`) if it needs even
//! one byte more.

use ringwise::{Error, Layout, Region, RingMemory};
use rustix::io::Errno;
use rustix::mm::{MapFlags, MprotectFlags, ProtFlags};
use std::fmt;
use std::ptr::NonNull;

/// A region of exactly `len` bytes followed by a `PROT_NONE` guard page, so
/// that any access one byte past the region faults (in the kernel: `EFAULT`
/// when it pins the pages).
///
/// As [`RingMemory`] it reports `len` bytes; the guard is not part of it.
/// Dropping it unmaps the region and the guard.
pub struct GuardedRegion {
    base: NonNull<u8>,
    len: usize,
    page: usize,
}

// SAFETY: the mapping is plain memory owned by this value.
unsafe impl Send for GuardedRegion {}

impl GuardedRegion {
    /// Map `len` bytes (rounded up to a page) of zeroed private memory, then
    /// one `PROT_NONE` page right after them.
    pub fn new(len: usize) -> Result<GuardedRegion, Error> {
        let page = ringwise::raw::sys::page_size();
        let Some((len, mapped)) = len.checked_next_multiple_of(page).and_then(|l| Some((l, l.checked_add(page)?)))
        else {
            return Err(kernel_error("mmap", Errno::NOMEM, format!("{len} bytes plus a guard page overflow usize")));
        };
        // SAFETY: a fresh anonymous mapping at a kernel-chosen address
        // aliases nothing.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                mapped,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .map_err(|errno| kernel_error("mmap", errno, format!("mapping {len} bytes plus a guard page failed")))?;
        let Some(base) = NonNull::new(ptr.cast::<u8>()) else {
            return Err(kernel_error("mmap", Errno::NOMEM, "mmap returned address 0"));
        };
        let region = GuardedRegion { base, len, page };
        // SAFETY: the guard page is the last page of the mapping just made;
        // nothing else refers to it.
        unsafe { rustix::mm::mprotect(region.guard_addr() as *mut _, page, MprotectFlags::empty()) }.map_err(
            |errno| kernel_error("mprotect", errno, "making the guard page after a region PROT_NONE failed"),
        )?;
        Ok(region)
    }

    /// Start of the region.
    pub fn addr(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// Bytes of the region (the guard not counted).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region has no bytes (only the guard page is mapped).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Address of the guard page, right after the region.
    pub fn guard_addr(&self) -> usize {
        self.addr() + self.len
    }
}

impl fmt::Debug for GuardedRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedRegion").field("addr", &self.base).field("len", &self.len).finish()
    }
}

impl Drop for GuardedRegion {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly this range (region and guard); the ring
        // that used it (if any) has been closed. Pages the kernel still pins
        // stay the kernel's until it unpins them, they are not reused.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len + self.page) };
    }
}

// SAFETY: the region is private anonymous memory owned by this value, never
// moves, and is unmapped (never reused) on drop.
unsafe impl RingMemory for GuardedRegion {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.base.as_ptr()
    }
    fn len(&self) -> usize {
        self.len
    }
    fn describe(&self) -> String {
        format!("guarded mapping ({} bytes + PROT_NONE guard page)", self.len)
    }
}

/// Region lengths with `short` one page below the layout and the other exact.
pub(crate) fn short_lengths(layout: &Layout, short: Region) -> (usize, usize) {
    let page = layout.page_size();
    match short {
        Region::Sqes => (layout.rings_bytes(), layout.sqes_bytes() - page),
        _ => (layout.rings_bytes() - page, layout.sqes_bytes()),
    }
}

/// The error of a failed memory call, as ringwise reports kernel refusals.
fn kernel_error(call: &'static str, errno: Errno, context: impl Into<String>) -> Error {
    Error::Kernel { call, errno, context: context.into() }
}
