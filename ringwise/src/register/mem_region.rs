//! Registered memory regions (`IORING_REGISTER_MEM_REGION`, Linux 6.13) and
//! the registered wait arguments they carry (`IORING_ENTER_EXT_ARG_REG`).
//!
//! A ring may have one parameter region: memory shared with the kernel once,
//! so that later calls pass an offset into it instead of a pointer the kernel
//! must copy from. With `IORING_MEM_REGION_REG_WAIT_ARG` the region is an
//! array of `struct io_uring_reg_wait` (64 bytes each: timeout, minimum wait,
//! signal mask), and a wait names a slot ([`Ring::submit_and_wait_registered`]).
//! The kernel only accepts that on a ring that is still disabled
//! ([`Builder::disabled`](crate::Builder::disabled)), so no waiter can race
//! the registration.
//!
//! The region's memory comes from one of two places:
//!
//! * **Caller memory** ([`Ring::register_wait_region`]): page-aligned, a whole
//!   number of pages ([`RegWaitRegion::bytes_for`]), checked before the call,
//!   pinned by the kernel (`IORING_MEM_REGION_TYPE_USER`) and owned by the
//!   ring until it is closed.
//! * **Kernel memory** ([`Ring::register_wait_region_kernel`]): the region
//!   descriptor names no address and leaves `IORING_MEM_REGION_TYPE_USER`
//!   clear. Linux 6.18 supports this for `IORING_REGISTER_MEM_REGION`:
//!   `io_register_mem_region` (`io_uring/register.c`) hands the descriptor
//!   to the region code in `io_uring/memmap.c`, which allocates zeroed pages
//!   when the flag is clear (it refuses a non-zero `user_addr` without the
//!   flag with `-EFAULT`, and a non-zero `mmap_offset` or `id` with
//!   `-EINVAL`), writes the offset to map them at into the descriptor's
//!   `mmap_offset` and copies the descriptor back. `mmap` of that offset on
//!   the ring fd maps the same pages (the kernel refuses it for
//!   caller-provided regions). The mapping is owned like caller memory: the
//!   ring and the [`RegWaitRegion`] share it and the last one unmaps it. The
//!   mapped pages hold their own references, so the mapping stays valid even
//!   after the ring is closed. A ring made with `REGISTERED_FD_ONLY` has no
//!   fd to map from and is refused before the call.
//!
//! **The last 64 bytes of a region are never a slot.** The kernel's bounds
//! check for a registered wait (6.18 `io_get_ext_arg_reg`: offset + 64 must
//! not pass the region's end, then `array_index_nospec(offset, size - 64)`)
//! lets the last slot's offset through and then clamps it to 0, since
//! `array_index_nospec(i, n)` yields 0 unless `i < n`. A wait naming the
//! last slot silently uses slot 0's timeout (measured here: slot 0 at 60 ms,
//! the last slot at 300 ms, the wait ends after 60 ms; with slot 0 empty it
//! never times out). [`RegWaitRegion::slots`] therefore leaves the last slot
//! out, and [`RegWaitRegion::bytes_for`] reserves room for it.

use super::{explain, opcode, timespec};
use crate::abi;
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Error, Region, Result};
use crate::memlock::{self, RingMemoryKind};
use crate::memory::{check_region, round_up, KernelMap, RingMemory};
use crate::ring::Submitted;
use crate::Ring;
use linux_raw_sys::io_uring::{
    io_uring_mem_region_reg, io_uring_reg_wait, io_uring_region_desc, IORING_MEM_REGION_REG_WAIT_ARG,
    IORING_MEM_REGION_TYPE_USER, IORING_REG_WAIT_TS,
};
use rustix::io::Errno;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bytes of one registered wait argument.
pub const REG_WAIT_BYTES: usize = std::mem::size_of::<io_uring_reg_wait>();

/// What one wait slot says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegWait {
    /// Give up waiting after this long (`IORING_REG_WAIT_TS`).
    pub timeout: Option<Duration>,
    /// Wait at least this long for more than one CQE before returning with
    /// fewer (`min_wait_usec`, microsecond resolution).
    pub min_wait: Option<Duration>,
}

/// Where a region's memory lives; shared by the ring (`Registrations`) and
/// the [`RegWaitRegion`] handle.
pub(super) enum RegionMemory {
    /// Caller memory the kernel pinned.
    Caller(#[allow(dead_code)] Mutex<Box<dyn RingMemory>>),
    /// Pages the kernel allocated, mapped from the ring fd.
    Kernel(#[allow(dead_code)] KernelMap),
}

/// The ring's wait-argument region: slots the application fills and waits
/// name by index ([`Ring::register_wait_region`], Linux 6.13).
///
/// The handle and the ring share the memory: the kernel reads a slot
/// during every wait that names it, for as long as the ring lives (a region
/// cannot be unregistered), so the ring keeps it; the last of the two to go
/// releases it.
///
/// ```
/// use ringwise::op::Nop;
/// use ringwise::register::{RegWait, RegWaitRegion};
/// use ringwise::{Builder, Mapping, Ring};
/// use std::time::Duration;
///
/// // The region must be registered before the ring is enabled.
/// let mut ring: Ring = Builder::new(8).disabled().build()?;
/// let memory = Mapping::anonymous(RegWaitRegion::bytes_for(4))?;
/// let mut region = match ring.register_wait_region(memory, 4) {
///     Ok(region) => region,
///     Err(e) => {
///         assert_eq!(e.errno_name(), "EINVAL", "a kernel before 6.13: {e}");
///         return Ok(());
///     }
/// };
/// ring.enable()?;
/// region.set(0, RegWait { timeout: Some(Duration::from_millis(10)), min_wait: None })?;
/// region.set(1, RegWait::default())?; // no timeout: wait for the CQE
///
/// // Nothing to wait for: slot 0's timeout ends the wait, without error.
/// let (_, ready) = ring.submit_and_wait_registered(1, &region, 0)?;
/// assert_eq!(ready, 0);
/// ring.submission().push(Nop::new().user_data(3)).unwrap();
/// let (submitted, ready) = ring.submit_and_wait_registered(1, &region, 1)?;
/// assert_eq!((submitted.consumed, ready), (1, 1));
/// # Ok::<(), ringwise::Error>(())
/// ```
pub struct RegWaitRegion {
    base: *mut u8,
    slots: u32,
    mmap_offset: Option<u64>,
    _owner: Arc<RegionMemory>,
}

// SAFETY: `base` points into memory the region (and the ring) own; slots are
// written only through `&mut self`.
unsafe impl Send for RegWaitRegion {}

impl fmt::Debug for RegWaitRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegWaitRegion")
            .field("base", &self.base)
            .field("slots", &self.slots)
            .field("mmap_offset", &self.mmap_offset)
            .finish()
    }
}

impl RegWaitRegion {
    /// Bytes of region for `slots` usable wait arguments: whole pages, with
    /// room for the unusable last slot (see the module docs).
    pub fn bytes_for(slots: u32) -> usize {
        round_up((slots as usize + 1) * REG_WAIT_BYTES, crate::sys::page_size())
    }

    /// The usable slots of a region of `size` bytes: all but the last.
    fn usable(size: usize) -> u32 {
        (size / REG_WAIT_BYTES).saturating_sub(1) as u32
    }

    /// Number of usable slots: every 64 bytes of the region but the last
    /// (see the module docs), at least the number asked for.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// For a kernel-allocated region, the ring-fd offset the kernel returned
    /// and the region is mapped from; `None` for caller memory.
    pub fn mmap_offset(&self) -> Option<u64> {
        self.mmap_offset
    }

    /// Refuse a slot past the region's usable slots.
    fn check_slot(&self, slot: u32) -> Result<()> {
        if slot >= self.slots {
            return Err(Error::LengthMismatch {
                what: "wait slot index out of range",
                expected: self.slots as usize,
                given: slot as usize + 1,
            });
        }
        Ok(())
    }

    /// Fill slot `index`.
    pub fn set(&mut self, index: u32, wait: RegWait) -> Result<()> {
        self.check_slot(index)?;
        let value = io_uring_reg_wait {
            ts: timespec(wait.timeout.unwrap_or_default()),
            min_wait_usec: wait.min_wait.map_or(0, |d| d.as_micros().min(u32::MAX as u128) as u32),
            flags: if wait.timeout.is_some() { IORING_REG_WAIT_TS as u32 } else { 0 },
            sigmask: 0,
            sigmask_sz: 0,
            pad: [0; 3],
            pad2: [0; 2],
        };
        // SAFETY: the slot lies inside the region, which stays mapped while
        // `self` lives. The kernel reads a slot only during an enter that
        // names it (the ring is not `Sync`, so not during this call).
        unsafe { std::ptr::write_volatile(self.base.add(index as usize * REG_WAIT_BYTES).cast(), value) };
        Ok(())
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Register `memory` as this ring's wait-argument region (opcode 34 with
    /// `IORING_MEM_REGION_REG_WAIT_ARG`, Linux 6.13). The ring must still be
    /// disabled; `memory` must be page-aligned and hold
    /// `RegWaitRegion::bytes_for(slots)`. The kernel pins it for the rest of
    /// the ring's life (a region cannot be unregistered), so it moves into
    /// the ring, shared with the returned handle. See [`RegWaitRegion`] for
    /// an example.
    pub fn register_wait_region<M: RingMemory>(&mut self, mut memory: M, slots: u32) -> Result<RegWaitRegion> {
        let size = RegWaitRegion::bytes_for(slots);
        let base = memory.as_mut_ptr();
        check_region(Region::MemRegion, base, memory.len(), size)?;
        // SAFETY: checked to be writable and `size` long; owned here.
        unsafe { std::ptr::write_bytes(base, 0, size) };
        let desc = region_desc(base as u64, size, IORING_MEM_REGION_TYPE_USER as u32);
        // The region named is owned by the ring from here on (kept below)
        // until it is closed.
        self.register_param_region(desc, IORING_MEM_REGION_REG_WAIT_ARG as u64)?;
        let owner = Arc::new(RegionMemory::Caller(Mutex::new(Box::new(memory))));
        self.registrations.hold_mem_region(Arc::clone(&owner) as _);
        Ok(RegWaitRegion { base, slots: RegWaitRegion::usable(size), mmap_offset: None, _owner: owner })
    }

    /// Register a wait-argument region of at least `slots` slots in memory
    /// the kernel allocates (zeroed), and map it from the ring fd at the
    /// offset the kernel returns ([`RegWaitRegion::mmap_offset`]). As for
    /// [`register_wait_region`](Self::register_wait_region), the ring must
    /// still be disabled; the size is `RegWaitRegion::bytes_for(slots)`.
    ///
    /// If the mapping fails after the kernel accepted the region, the
    /// region stays registered (a ring has one, and it cannot be removed)
    /// and the error says so.
    pub fn register_wait_region_kernel(&mut self, slots: u32) -> Result<RegWaitRegion> {
        let size = RegWaitRegion::bytes_for(slots);
        let no_fd = || Error::NoRingFd { what: "a kernel-allocated wait region" };
        if self.fd().is_none() {
            return Err(no_fd());
        }
        let desc = self.register_param_region(region_desc(0, size, 0), IORING_MEM_REGION_REG_WAIT_ARG as u64)?;
        let fd = self.fd().ok_or_else(no_fd)?;
        let map = KernelMap::map(fd, size, desc.mmap_offset, "kernel-allocated wait region").map_err(|e| {
            explain(e, |_| {
                Some(format!(
                    "the kernel registered the region ({size} bytes at offset {:#x}) but mapping it failed; \
                     it stays registered and this ring cannot register another",
                    desc.mmap_offset
                ))
            })
        })?;
        let base = map.as_ptr();
        let owner = Arc::new(RegionMemory::Kernel(map));
        self.registrations.hold_mem_region(Arc::clone(&owner) as _);
        Ok(RegWaitRegion {
            base,
            slots: RegWaitRegion::usable(size),
            mmap_offset: Some(desc.mmap_offset),
            _owner: owner,
        })
    }

    /// `IORING_REGISTER_MEM_REGION` with `desc` and region `flags`; returns
    /// the descriptor as the kernel wrote it back (`mmap_offset`).
    fn register_param_region(&mut self, mut desc: io_uring_region_desc, flags: u64) -> Result<io_uring_region_desc> {
        let kernel_memory = desc.flags & IORING_MEM_REGION_TYPE_USER as u32 == 0;
        let reg = io_uring_mem_region_reg {
            region_uptr: &mut desc as *mut io_uring_region_desc as u64,
            flags,
            __resv: [0; 2],
        };
        let arg = (&reg as *const io_uring_mem_region_reg).cast();
        // SAFETY: `reg` and `desc` are valid for the call (the kernel writes
        // `desc` back); a caller-memory region is kept alive by the caller of
        // this function for as long as the ring.
        unsafe { self.register(opcode::REGISTER_MEM_REGION, arg, 1, |errno| region_context(errno, kernel_memory)) }
            .map_err(|e| {
                let kind = if kernel_memory { RingMemoryKind::Kernel } else { RingMemoryKind::User };
                let page = crate::sys::page_size();
                let charge = memlock::mem_region(desc.size as usize, kind, page);
                super::memlock_enomem(e, &format!("a {}-byte memory region", desc.size), charge)
            })?;
        Ok(desc)
    }

    /// Submit, then wait for `want` CQEs with the arguments in `slot` of the
    /// ring's wait region (`IORING_ENTER_EXT_ARG_REG`, Linux 6.13). A timeout
    /// is not an error: the CQEs ready are returned with the submission.
    pub fn submit_and_wait_registered(
        &mut self,
        want: u32,
        region: &RegWaitRegion,
        slot: u32,
    ) -> Result<(Submitted, u32)> {
        region.check_slot(slot)?;
        let flags = abi::IORING_ENTER_GETEVENTS | abi::IORING_ENTER_EXT_ARG | abi::IORING_ENTER_EXT_ARG_REG;
        let offset = slot as usize * REG_WAIT_BYTES;
        // SAFETY: with EXT_ARG_REG the "pointer" is an offset into the
        // registered region, which the kernel bounds-checks.
        unsafe { self.submit_and_wait_ext(want, flags, offset as *const std::ffi::c_void, REG_WAIT_BYTES) }
            .map_err(|e| explain(e, wait_context))
    }
}

/// What an errno of `REGISTER_MEM_REGION` means (`kernel_memory`: the
/// kernel was to allocate the pages).
fn region_context(errno: Errno, kernel_memory: bool) -> Option<String> {
    Some(match errno {
        Errno::BUSY => "this ring already has a parameter region".into(),
        Errno::INVAL => "the kernel refused the region: wait-argument regions need a ring that is still disabled \
                         (Builder::disabled, before enable), and page-aligned whole pages"
            .into(),
        Errno::FAULT if kernel_memory => "the kernel could not copy the region descriptor".into(),
        Errno::FAULT => "the region cannot be pinned".into(),
        _ => return None,
    })
}

/// What an errno of a wait naming a slot of the region means.
fn wait_context(errno: Errno) -> Option<String> {
    Some(match errno {
        Errno::FAULT => "the wait slot lies outside the registered wait region".into(),
        Errno::INVAL => "the kernel refused the registered wait (bad flags in the slot, or no region)".into(),
        _ => return None,
    })
}

/// A region descriptor: `user_addr` with `IORING_MEM_REGION_TYPE_USER` for
/// caller memory, 0 and no flag for kernel memory.
fn region_desc(user_addr: u64, size: usize, flags: u32) -> io_uring_region_desc {
    io_uring_region_desc { user_addr, size: size as u64, flags, id: 0, mmap_offset: 0, __resv: [0; 4] }
}
