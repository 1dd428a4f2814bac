//! Registered ring fds (`IORING_REGISTER_RING_FDS`, Linux 5.18): ring
//! descriptors entered in the calling thread's private table, so that
//! `io_uring_enter` and `io_uring_register` with
//! `IORING_ENTER_REGISTERED_RING` / `IORING_REGISTER_USE_REGISTERED_RING`
//! skip the fd-table lookup. The table is per thread and has 16 slots.
//!
//! Every ringwise ring registers its own fd at its first submit or wait (see
//! [`Builder::register_ring_fd`](crate::Builder::register_ring_fd)); these
//! calls register any ring fds, e.g. of rings this thread messages often.
//!
//! # How these calls and the ring's own registration share the table
//!
//! - A ring (unless built with `Builder::register_ring_fd(false)`) enters
//!   its own fd at the **first submit or wait**, on the thread that makes
//!   it, at the lowest free slot ([`Ring::registered_index`] tells which).
//!   It is not entered at setup, nor by these calls.
//! - [`Ring::register_ring_fds`] takes free slots too; a caller who wants a
//!   known slot names it with [`Ring::register_ring_fd_at`], and the kernel
//!   answers `EBUSY` when the slot is taken (by a ring's own registration or
//!   an earlier call) and `EINVAL` for a slot past the 16th: both come back
//!   as [`Error::Kernel`] with that errno and a sentence saying which.
//! - When callers fill the table, a ring's own registration at its first
//!   enter finds no slot and the ring quietly uses its plain fd (one fd
//!   lookup per enter more, nothing else changes). Register a ring's own
//!   slot first (submit once) to keep it.
//! - The same ring fd may sit in several slots: the kernel does not look for
//!   duplicates (registering a ring this thread registered already is no
//!   error), each slot holds its own reference.
//!
//! Only slots entered through [`Ring::register_ring_fds`] or
//! [`Ring::register_ring_fd_at`] on this thread can
//! be removed with [`Ring::unregister_ring_fds`]. A ring's own slot is not
//! one of them: removing it would free a `REGISTERED_FD_ONLY` ring under its
//! owner, and once the slot was reused the owner would submit to, register
//! on (buffer rings, resizes) and wait on whichever ring took the slot.

use super::{count, opcode};
use crate::abi::io_uring_rsrc_update;
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::Ring;
use rustix::io::Errno;
use std::cell::RefCell;
use std::os::fd::{AsRawFd, BorrowedFd};

thread_local! {
    /// Slots of this thread's ring table entered by `register_ring_fds` and
    /// not yet removed (the kernel's table is per thread, and so is this).
    static USER_SLOTS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// Slots in each thread's ring table (`IO_RINGFD_REG_MAX`).
pub const RING_FD_SLOTS: u32 = 16;

fn ring_fds_context(errno: Errno) -> Option<String> {
    Some(match errno {
        Errno::BUSY => "that slot of this thread's ring table is taken".into(),
        Errno::INVAL => "a slot index is out of range (16 per thread) or a slot to unregister is empty".into(),
        Errno::OPNOTSUPP => "a descriptor is not an io_uring".into(),
        Errno::BADF => "a descriptor is not open".into(),
        _ => return None,
    })
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Enter ring descriptors in this thread's table at free slots; returns
    /// the slot of each, in order (opcode 20, Linux 5.18). The kernel holds
    /// its own reference to each ring until the slot is removed or the
    /// thread exits. A partial success registers
    /// the first ones; the error says how the next one failed.
    pub fn register_ring_fds(&self, rings: &[BorrowedFd<'_>]) -> Result<Vec<u32>> {
        let mut updates: Vec<io_uring_rsrc_update> = rings
            .iter()
            .map(|fd| io_uring_rsrc_update { offset: u32::MAX, resv: 0, data: fd.as_raw_fd() as u64 })
            .collect();
        let n = count("ring fds", updates.len())?;
        // SAFETY: the kernel reads and writes `n` updates during the call.
        let done =
            unsafe { self.register(opcode::REGISTER_RING_FDS, updates.as_mut_ptr().cast(), n, ring_fds_context) }?;
        let slots: Vec<u32> = updates.iter().take(done as usize).map(|u| u.offset).collect();
        USER_SLOTS.with(|s| s.borrow_mut().extend_from_slice(&slots));
        Ok(slots)
    }

    /// Enter ring descriptor `ring` at slot `slot` of this thread's table
    /// (opcode 20 with an explicit offset, Linux 5.18); returns the slot.
    /// The kernel answers `EBUSY` when the slot is taken (see the module
    /// docs for the ring's own slot) and `EINVAL` when `slot` is not below
    /// [`RING_FD_SLOTS`]; both are returned as they are, explained. Remove it
    /// with [`unregister_ring_fds`](Self::unregister_ring_fds).
    pub fn register_ring_fd_at(&self, ring: BorrowedFd<'_>, slot: u32) -> Result<u32> {
        let mut update = io_uring_rsrc_update { offset: slot, resv: 0, data: ring.as_raw_fd() as u64 };
        // SAFETY: the kernel reads and writes one update during the call.
        unsafe {
            self.register(opcode::REGISTER_RING_FDS, (&mut update as *mut io_uring_rsrc_update).cast(), 1, |e| {
                Some(match e {
                    Errno::BUSY => format!(
                        "slot {slot} of this thread's ring table is taken (by a ring's own registration at its \
                         first submit, or an earlier registration); pick another or let the kernel choose \
                         (register_ring_fds)"
                    ),
                    Errno::INVAL => {
                        format!("slot {slot} does not exist: each thread's table has {RING_FD_SLOTS} (0 to 15)")
                    }
                    other => return ring_fds_context(other),
                })
            })
        }?;
        USER_SLOTS.with(|s| s.borrow_mut().push(update.offset));
        Ok(update.offset)
    }

    /// Remove slots from this thread's table (opcode 21, Linux 5.18); returns how many.
    /// Every slot must have come from [`register_ring_fds`](Self::register_ring_fds)
    /// on this thread and not been removed since; others (a ring's own slot,
    /// slots of other code) are refused before the call.
    pub fn unregister_ring_fds(&self, slots: &[u32]) -> Result<u32> {
        let ours = USER_SLOTS.with(|s| s.borrow().clone());
        if let Some(&bad) = slots.iter().find(|slot| !ours.contains(slot)) {
            return Err(Error::InvalidArgument {
                what: format!("unregistering ring slot {bad}"),
                why: "only slots returned by register_ring_fds on this thread can be removed; a ring's own slot \
                      (Ring::registered_index) is removed when that ring is dropped"
                    .into(),
            });
        }
        let updates: Vec<io_uring_rsrc_update> =
            slots.iter().map(|&offset| io_uring_rsrc_update { offset, resv: 0, data: 0 }).collect();
        let n = count("ring fds", updates.len())?;
        // SAFETY: the kernel reads `n` updates during the call.
        let done = unsafe { self.register(opcode::UNREGISTER_RING_FDS, updates.as_ptr().cast(), n, ring_fds_context) }?;
        // The kernel removes the slots in order and stops at the first it
        // cannot remove.
        let removed = &slots[..(done as usize).min(slots.len())];
        USER_SLOTS.with(|s| s.borrow_mut().retain(|slot| !removed.contains(slot)));
        Ok(done)
    }
}
