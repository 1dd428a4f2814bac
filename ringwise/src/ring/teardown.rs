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
//! [`RingFd`]: crate::raw::RingFd

use super::enter::current_pid;
use super::Ring;
use crate::abi;
use crate::entry::{CqeSize, SqeSize};
use crate::flags::SetupFlags;
use crate::raw::thread_token_if_any;
use crate::sys;

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

impl<S: SqeSize, C: CqeSize> Drop for Ring<S, C> {
    fn drop(&mut self) {
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
        // close) before the kernel maps and caller memory are released.
    }
}
