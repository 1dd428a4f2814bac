//! Teardown: what dropping a [`Ring`] does before its fields are released.
//!
//! The release itself is ordered by the fields of [`Ring`]: its [`RingFd`]
//! (unregistering the index on the registering thread, closing the fd) goes
//! before the kernel mappings and the caller's memory, so the kernel never
//! holds a ring whose memory is gone. What this module adds is the one case
//! the fields cannot handle: a ring dropped on another thread than the one
//! that registered its fd, whose index (and so the kernel ring) outlives the
//! `Ring`; its requests are cancelled first, so that none runs on against
//! buffers the caller frees next.
//!
//! And, on request, waiting for the kernel to give the ring's
//! `RLIMIT_MEMLOCK` charge back ([`ReleaseWait`], the ring's last field):
//! the kernel tears a closed ring down asynchronously, and until it has, a
//! new ring of the same user can fail with `ENOMEM` under a tight limit.
//!
//! [`RingFd`]: crate::raw::RingFd

use super::enter::current_pid;
use super::Ring;
use crate::abi;
use crate::entry::{CqeSize, SqeSize};
use crate::error::Result;
use crate::flags::SetupFlags;
use crate::memlock::{self, MemlockCharge, RingMemoryKind};
use crate::raw::thread_token_if_any;
use crate::sys;
use std::time::Duration;

/// What dropping a ring waits for after its fd is closed and its memory
/// released: the kernel giving back `charge` (measured with
/// [`memlock::wait_for_release`] on the dropping thread), for at most
/// `timeout`. A field of the ring, its last, so that its drop runs after
/// everything the ring releases.
#[derive(Debug)]
pub(crate) struct ReleaseWait {
    pub(crate) timeout: Duration,
    /// The ring's charge, brought up to date at drop (a resize changes it).
    pub(crate) charge: Option<MemlockCharge>,
}

impl Drop for ReleaseWait {
    fn drop(&mut self) {
        if let Some(charge) = self.charge {
            // A drop cannot report: after the timeout the ring is gone
            // anyway; `Ring::close_and_wait_release` reports instead.
            let _ = memlock::wait_for_release_on_this_thread(charge, self.timeout);
        }
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Cancel every request in flight and wait (up to a second) until they
    /// are done (`IORING_REGISTER_SYNC_CANCEL` with `IORING_ASYNC_CANCEL_ANY`,
    /// Linux 6.0); errors are ignored, this is best effort at teardown.
    fn cancel_all_quietly(&self) {
        let mut reg: linux_raw_sys::io_uring::io_uring_sync_cancel_reg =
            // SAFETY: plain old data; all-zero is valid (and the kernel
            // requires the padding to be zero).
            unsafe { std::mem::zeroed() };
        reg.flags = linux_raw_sys::io_uring::IORING_ASYNC_CANCEL_ANY;
        reg.timeout.tv_sec = 1;
        // SAFETY: `reg` is a valid io_uring_sync_cancel_reg, read during the
        // call only; the fd is this ring's.
        let _ = unsafe {
            sys::io_uring_register(
                self.enter.fd,
                abi::register_op::REGISTER_SYNC_CANCEL,
                std::ptr::from_ref(&reg).cast(),
                1,
            )
        };
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Close the ring and wait until the kernel has given its
    /// `RLIMIT_MEMLOCK` charge back, for at most `timeout`: what
    /// [`Builder::wait_for_memlock_release`](crate::Builder::wait_for_memlock_release)
    /// makes every drop do, for one ring, with the outcome reported.
    ///
    /// Returns how long it waited (zero when the thread has no limit to
    /// wait for: `RLIMIT_MEMLOCK` unlimited). After `timeout`, an `ENOMEM`
    /// [`Error::Kernel`](crate::Error::Kernel) with the numbers: the user's
    /// other rings (in any process) hold what is missing.
    ///
    /// What is waited for, and its cost, as for
    /// [`Builder::wait_for_memlock_release`](crate::Builder::wait_for_memlock_release).
    pub fn close_and_wait_release(mut self, timeout: Duration) -> Result<Duration> {
        let charge = memlock::ring(&self.layout, RingMemoryKind::Kernel);
        self.release_wait = None;
        drop(self);
        memlock::wait_for_release_on_this_thread(charge, timeout)
    }
}

impl<S: SqeSize, C: CqeSize> Drop for Ring<S, C> {
    fn drop(&mut self) {
        // The charge to wait for is the ring's as it is now (a resize
        // changed it); the wait itself runs last, as the last field drops.
        if let Some(wait) = &mut self.release_wait {
            wait.charge = Some(memlock::ring(&self.layout, RingMemoryKind::Kernel));
        }
        // On the registering thread the `RingFd` field unregisters the index
        // (for REGISTERED_FD_ONLY the only reference, which frees the ring).
        // From another thread the index is not ours to unregister; the kernel
        // drops it when that thread exits. Until then the ring lives on, so
        // cancel its requests now: none may run on (reading a pipe, writing a
        // buffer) after the ring is gone. A REGISTERED_FD_ONLY ring cannot be
        // reached from here at all. In a forked child the kernel ring is the
        // parent's, which goes on using it: leave its requests alone.
        if let Some((_, thread)) = self.fd.registration() {
            if thread != thread_token_if_any()
                && !self.enter.setup.contains(SetupFlags::REGISTERED_FD_ONLY)
                && self.enter.pid == current_pid()
            {
                self.cancel_all_quietly();
            }
        }
        // Fields drop next in declaration order: the `RingFd` (unregister,
        // close) before the kernel maps and caller memory are released, and
        // the `ReleaseWait`, if any, after all of them.
    }
}
