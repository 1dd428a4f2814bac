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
//! The region lives in caller memory here: page-aligned, a whole number of
//! pages ([`RegWaitRegion::bytes_for`]), checked before the call, pinned by
//! the kernel and owned by the ring until it is closed.

use super::{explain, keep_key, opcode};
use crate::abi;
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Error, Region, Result};
use crate::memory::{check_region, round_up, RingMemory};
use crate::ring::Submitted;
use crate::Ring;
use linux_raw_sys::io_uring::__kernel_timespec;
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

/// The ring's wait-argument region: slots the application fills and waits
/// name by index.
pub struct RegWaitRegion {
    base: *mut u8,
    slots: u32,
    _owner: Arc<Mutex<Box<dyn RingMemory>>>,
}

// SAFETY: `base` points into memory the region (and the ring) own; slots are
// written only through `&mut self`.
unsafe impl Send for RegWaitRegion {}

impl fmt::Debug for RegWaitRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegWaitRegion").field("base", &self.base).field("slots", &self.slots).finish()
    }
}

impl RegWaitRegion {
    /// Bytes of caller memory for `slots` wait arguments (whole pages).
    pub fn bytes_for(slots: u32) -> usize {
        round_up((slots as usize * REG_WAIT_BYTES).max(1), crate::sys::page_size())
    }

    /// Number of slots.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// Fill slot `index`.
    pub fn set(&mut self, index: u32, wait: RegWait) -> Result<()> {
        if index >= self.slots {
            return Err(Error::LengthMismatch {
                what: "wait slot index out of range",
                expected: self.slots as usize,
                given: index as usize + 1,
            });
        }
        let ts = wait.timeout.unwrap_or_default();
        let value = io_uring_reg_wait {
            ts: __kernel_timespec {
                tv_sec: ts.as_secs().min(i64::MAX as u64) as i64,
                tv_nsec: ts.subsec_nanos() as i64,
            },
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
    /// `IORING_MEM_REGION_REG_WAIT_ARG`). The ring must still be disabled;
    /// `memory` must be page-aligned and hold `RegWaitRegion::bytes_for(slots)`.
    pub fn register_wait_region<M: RingMemory>(&mut self, mut memory: M, slots: u32) -> Result<RegWaitRegion> {
        let size = RegWaitRegion::bytes_for(slots);
        let base = memory.as_mut_ptr();
        check_region(Region::MemRegion, base, memory.len(), size)?;
        // SAFETY: checked to be writable and `size` long; owned here.
        unsafe { std::ptr::write_bytes(base, 0, size) };
        let mut desc = io_uring_region_desc {
            user_addr: base as u64,
            size: size as u64,
            flags: IORING_MEM_REGION_TYPE_USER as u32,
            id: 0,
            mmap_offset: 0,
            __resv: [0; 4],
        };
        let reg = io_uring_mem_region_reg {
            region_uptr: &mut desc as *mut io_uring_region_desc as u64,
            flags: IORING_MEM_REGION_REG_WAIT_ARG as u64,
            __resv: [0; 2],
        };
        // SAFETY: `reg` and `desc` are valid for the call; the region they
        // name is owned by the ring from here on (kept below) until closed.
        unsafe { self.register_raw(opcode::REGISTER_MEM_REGION, (&reg as *const io_uring_mem_region_reg).cast(), 1) }
            .map_err(|e| {
            explain(e, |errno| {
                Some(match errno {
                    Errno::BUSY => "this ring already has a parameter region".into(),
                    Errno::INVAL => "the kernel refused the region: wait-argument regions need a ring that \
                                         is still disabled (Builder::disabled, before enable), and page-aligned \
                                         whole pages"
                        .into(),
                    Errno::FAULT => "the region cannot be pinned".into(),
                    _ => return None,
                })
            })
        })?;
        let owner: Arc<Mutex<Box<dyn RingMemory>>> = Arc::new(Mutex::new(Box::new(memory)));
        self.keep.push((keep_key::MEM_REGION, Box::new(Arc::clone(&owner))));
        Ok(RegWaitRegion { base, slots: (size / REG_WAIT_BYTES) as u32, _owner: owner })
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
        if slot >= region.slots {
            return Err(Error::LengthMismatch {
                what: "wait slot index out of range",
                expected: region.slots as usize,
                given: slot as usize + 1,
            });
        }
        let before = self.sq.cached_head();
        let to_submit = self.sq.publish();
        let flags = abi::IORING_ENTER_GETEVENTS | abi::IORING_ENTER_EXT_ARG | abi::IORING_ENTER_EXT_ARG_REG;
        let offset = slot as usize * REG_WAIT_BYTES;
        // SAFETY: with EXT_ARG_REG the "pointer" is an offset into the
        // registered region, which the kernel bounds-checks; SQEs published
        // were pushed under the queue's contracts.
        let ret = unsafe { self.enter_raw(to_submit, want, flags, offset as *const std::ffi::c_void, REG_WAIT_BYTES) };
        let head = self.sq.sync_head();
        let submitted = Submitted {
            consumed: head.wrapping_sub(before),
            remaining: self.sq.local_tail().wrapping_sub(head),
            stopped_after: None,
        };
        match ret {
            Ok(_) | Err(Errno::TIME) | Err(Errno::INTR) => Ok((submitted, self.cq.len())),
            // The submission stands even if the wait failed afterwards.
            Err(_) if submitted.consumed > 0 => Ok((submitted, self.cq.len())),
            Err(errno) => Err(Error::kernel(
                "io_uring_enter",
                errno,
                match errno {
                    Errno::FAULT => "the wait slot lies outside the registered wait region",
                    Errno::INVAL => "the kernel refused the registered wait (bad flags in the slot, or no region)",
                    _ => "",
                },
            )),
        }
    }
}
