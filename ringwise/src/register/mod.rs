//! Registrations: everything `io_uring_register(2)` does, one file per family.
//!
//! Each family adds methods to [`Ring`] (or, for the two
//! operations that need no ring, free functions). Where the kernel keeps a
//! pointer into process memory after the call returns (fixed buffers,
//! provided-buffer rings, memory regions, zero-copy receive areas, resized
//! rings in caller memory), the memory is owned: the ring keeps it until the
//! registration is undone or the ring is torn down, so safe code cannot free
//! it under the kernel. The ring holds it in one typed structure (one field
//! per family), dropped after the ring's fd is closed; `ring/held.rs` documents
//! why and when each piece is released. Where the kernel takes its own
//! reference (files, eventfds, ring fds, credentials), a plain descriptor is
//! enough.
//!
//! Every call goes through one funnel, [`Ring::register_raw`]
//! (which uses the ring's registered index where it can), and each family
//! explains what an errno means for it in one function next to its calls:
//! a refused call is an [`Error::Kernel`] whose context
//! says that. Mistakes caught before the call are typed errors
//! ([`InvalidArgument`](crate::Error::InvalidArgument),
//! [`NoRingFd`](crate::Error::NoRingFd), [`BufferInKernel`](crate::Error::BufferInKernel),
//! ...). The opcode numbers come from one place,
//! [`raw::abi::register_op`](crate::raw::abi::register_op).
//!
//! | opcode | name | since | here |
//! |---|---|---|---|
//! | 0, 1 | `REGISTER_BUFFERS`, `UNREGISTER_BUFFERS` | 5.1 | [`buffers`] |
//! | 2, 3, 6 | `REGISTER_FILES`, `UNREGISTER_FILES`, `REGISTER_FILES_UPDATE` | 5.1, 5.5 | [`files`] |
//! | 4, 5, 7 | `REGISTER_EVENTFD`, `UNREGISTER_EVENTFD`, `REGISTER_EVENTFD_ASYNC` | 5.2, 5.6 | [`eventfd`] |
//! | 8 | `REGISTER_PROBE` | 5.6 | [`crate::probe`] |
//! | 9, 10 | `REGISTER_PERSONALITY`, `UNREGISTER_PERSONALITY` | 5.6 | [`personality`] |
//! | 11, 12 | `REGISTER_RESTRICTIONS`, `REGISTER_ENABLE_RINGS` | 5.10 | [`restrictions`] |
//! | 13, 14 | `REGISTER_FILES2`, `REGISTER_FILES_UPDATE2` (tags) | 5.13 | [`files`] |
//! | 15, 16 | `REGISTER_BUFFERS2`, `REGISTER_BUFFERS_UPDATE` (tags) | 5.13 | [`buffers`] |
//! | 17, 18, 19 | `REGISTER_IOWQ_AFF`, `UNREGISTER_IOWQ_AFF`, `REGISTER_IOWQ_MAX_WORKERS` | 5.14, 5.15 | [`iowq`] |
//! | 20, 21 | `REGISTER_RING_FDS`, `UNREGISTER_RING_FDS` | 5.18 | [`ring_fds`] |
//! | 22, 23, 26 | `REGISTER_PBUF_RING`, `UNREGISTER_PBUF_RING`, `REGISTER_PBUF_STATUS` | 5.19, 6.8 | [`buf_ring`] |
//! | 24 | `REGISTER_SYNC_CANCEL` | 6.0 | [`cancel`] |
//! | 25 | `REGISTER_FILE_ALLOC_RANGE` | 6.0 | [`files`] |
//! | 27, 28 | `REGISTER_NAPI`, `UNREGISTER_NAPI` | 6.9 | [`napi`] |
//! | 29 | `REGISTER_CLOCK` | 6.12 | [`clock`] |
//! | 30 | `REGISTER_CLONE_BUFFERS` | 6.13 | [`buffers`] |
//! | 31 | `REGISTER_SEND_MSG_RING` (no ring) | 6.13 | [`msg_ring`] |
//! | 32 | `REGISTER_ZCRX_IFQ` | 6.15 | [`zcrx`] |
//! | 33 | `REGISTER_RESIZE_RINGS` | 6.13 | [`resize`] |
//! | 34 | `REGISTER_MEM_REGION` (and `IORING_ENTER_EXT_ARG_REG`) | 6.13 | [`mem_region`] |
//! | 35 | `REGISTER_QUERY` (no ring) | 6.18 | [`query`] |

pub mod buf_ring;
pub mod buffers;
pub mod cancel;
pub mod clock;
pub mod eventfd;
pub mod files;
pub mod iowq;
pub mod mem_region;
pub mod msg_ring;
pub mod napi;
pub mod personality;
pub mod query;
pub mod resize;
pub mod restrictions;
pub mod ring_fds;
mod rsrc;
pub mod zcrx;

pub use buf_ring::{BufRing, BufRingConfig, Bundle, BundlePart};
pub use buffers::CloneBuffers;
pub use cancel::CancelSpec;
pub use clock::Clock;
pub use iowq::MaxWorkers;
pub use mem_region::{RegWait, RegWaitRegion};
pub use msg_ring::send_msg_ring;
pub use napi::{NapiSettings, NapiTracking};
pub use query::{query_opcodes, QueryOpcodes};
pub use resize::ResizeSpec;
pub use restrictions::Restriction;
pub use zcrx::{ZcrxConfig, ZcrxIfq};

pub(crate) use crate::abi::register_op as opcode;

use crate::entry::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::sys;
use crate::Ring;
use linux_raw_sys::io_uring::__kernel_timespec;
use rustix::io::Errno;
use std::ffi::c_void;
use std::time::Duration;

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// The one way the families here call the kernel:
    /// [`register_raw`](Ring::register_raw) (which picks the ring fd or its
    /// registered index), with the errno explained by the family's
    /// `context` (see [`explain`]).
    ///
    /// # Safety
    /// As for [`register_raw`](Ring::register_raw): `arg` is valid for
    /// `opcode` with `nr_args`, and stays valid for as long as the kernel
    /// keeps it.
    pub(crate) unsafe fn register(
        &self,
        opcode: u32,
        arg: *const c_void,
        nr_args: u32,
        context: impl FnOnce(Errno) -> Option<String>,
    ) -> Result<u32> {
        // SAFETY: forwarded contract.
        unsafe { self.register_raw(opcode, arg, nr_args) }.map_err(|e| explain(e, context))
    }
}

/// The funnel for the two operations that need no ring
/// (`REGISTER_SEND_MSG_RING`, `REGISTER_QUERY`): `io_uring_register` on fd
/// -1, the error named `call` and explained by `context`.
///
/// # Safety
/// `arg` is valid for `opcode` with `nr_args` during the call.
pub(crate) unsafe fn register_ringless(
    call: &'static str,
    opcode: u32,
    arg: *const c_void,
    nr_args: u32,
    context: impl FnOnce(Errno) -> Option<String>,
) -> Result<u32> {
    // SAFETY: forwarded contract; fd -1 names no ring, which these opcodes
    // accept.
    unsafe { sys::io_uring_register(u32::MAX, opcode, arg, nr_args) }
        .map_err(|errno| Error::kernel(call, errno, context(errno).unwrap_or_default()))
}

/// A duration as the kernel's timespec (seconds saturate at `i64::MAX`).
pub(crate) fn timespec(d: Duration) -> __kernel_timespec {
    __kernel_timespec { tv_sec: d.as_secs().min(i64::MAX as u64) as i64, tv_nsec: d.subsec_nanos() as i64 }
}

/// Replace the generic context of a kernel error with one that says what the
/// errno means for this registration.
pub(crate) fn explain(err: Error, context: impl FnOnce(Errno) -> Option<String>) -> Error {
    match err {
        Error::Kernel { call, errno, context: generic } => {
            let context = context(errno).unwrap_or(generic);
            Error::Kernel { call, errno, context }
        }
        other => other,
    }
}

/// An `ENOMEM` from a registration that pins or allocates `charge` of
/// locked memory, explained with the charge, the current `RLIMIT_MEMLOCK`
/// and how to raise it ([`crate::memlock::enomem_advice`]); other errors
/// pass unchanged. `what` names the registration.
pub(crate) fn memlock_enomem(err: Error, what: &str, charge: crate::memlock::MemlockCharge) -> Error {
    match err {
        Error::Kernel { call, errno: Errno::NOMEM, .. } => Error::Kernel {
            call,
            errno: Errno::NOMEM,
            context: format!(
                "{what}: out of memory, or over the locked-memory limit: {}",
                crate::memlock::enomem_advice(charge)
            ),
        },
        other => other,
    }
}

/// Two slices that must be as long as each other (e.g. fds and their tags).
pub(crate) fn same_len(what: &'static str, expected: usize, given: usize) -> Result<()> {
    if expected != given {
        return Err(Error::LengthMismatch { what, expected, given });
    }
    Ok(())
}

/// A count for `nr_args` (the kernel takes a `u32`).
pub(crate) fn count(what: &'static str, n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::LengthMismatch { what, expected: u32::MAX as usize, given: n })
}

#[cfg(test)]
mod held_tests {
    use crate::memory::Mapping;
    use crate::register::BufRingConfig;
    use crate::Ring;
    use std::sync::Arc;

    /// What the ring holds follows registration and unregistration.
    #[test]
    fn registrations_are_held_until_undone() {
        let mut ring = Ring::new(4).expect("ring");
        assert_eq!(ring.registrations.counts(), (0, 0, 0, 0));
        let page = crate::sys::page_size();
        ring.register_buffers_owned(vec![Mapping::anonymous(page).expect("map")]).expect("buffers");
        assert_eq!(ring.registrations.counts(), (1, 0, 0, 0));

        // A clone shares the same memory, held by both rings.
        let mut other = Ring::new(4).expect("ring");
        other.clone_buffers_from(&ring, crate::register::CloneBuffers::all()).expect("clone");
        assert_eq!(other.registrations.counts(), (1, 0, 0, 0));
        assert_eq!(Arc::strong_count(ring.registrations.buffer_owner(0)), 2);
        other.unregister_buffers().expect("unregister");
        assert_eq!(other.registrations.counts(), (0, 0, 0, 0));
        assert_eq!(Arc::strong_count(ring.registrations.buffer_owner(0)), 1);

        let a = ring.register_buf_ring(BufRingConfig::new(1, 4, 64)).expect("group 1");
        let b = ring.register_buf_ring(BufRingConfig::new(2, 4, 64)).expect("group 2");
        assert_eq!(ring.registrations.counts(), (1, 2, 0, 0));
        ring.unregister_buf_ring(a).expect("unregister group 1");
        assert_eq!(ring.registrations.buf_ring_groups(), vec![2]);
        ring.unregister_buffers().expect("unregister");
        assert_eq!(ring.registrations.counts(), (0, 1, 0, 0));
        drop(b);
        assert_eq!(ring.registrations.counts(), (0, 1, 0, 0), "the ring keeps a registered group");
    }
}
