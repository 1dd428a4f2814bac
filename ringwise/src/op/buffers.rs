//! Legacy provided buffers: `PROVIDE_BUFFERS` and `REMOVE_BUFFERS` (Linux
//! 5.7). Buffer *rings* (`IORING_REGISTER_PBUF_RING`) are a registration and
//! live in `register`; both kinds feed the same buffer-select ops.
//!
//! Provide two buffers, let a read pick one, then take the other back:
//!
//! ```
//! use ringwise::op::{ProvideBuffers, ReadProvided, RemoveBuffers, Target};
//! use std::os::fd::AsFd;
//! use ringwise::Ring;
//! use std::io::Write;
//!
//! let (reader, mut writer) = std::io::pipe()?;
//! let mut ring = Ring::new(8)?;
//! let mut pool = vec![0u8; 2 * 64];
//! // SAFETY: `pool` stays allocated, unmoved and untouched by us until its
//! // buffers are back: one in the read's CQE, the other removed below.
//! unsafe { ring.submission().push_unchecked(ProvideBuffers::new(pool.as_mut_ptr(), 64, 2, 7, 0).user_data(1)) }
//!     .unwrap();
//! ring.submit_and_wait(1)?;
//! assert_eq!(ring.completion().next().unwrap().res, 0);
//!
//! writer.write_all(b"picked")?;
//! // SAFETY: `reader` stays open until the end of the example, after the CQE.
//! let reader_fd = unsafe { Target::from_fd(reader.as_fd()) };
//! ring.submission().push(ReadProvided::new(reader_fd, 7, 64).user_data(2)).unwrap();
//! ring.submit_and_wait(1)?;
//! let cqe = ring.completion().next().unwrap();
//! let id = cqe.buffer_id().unwrap() as usize;
//! assert_eq!(&pool[id * 64..id * 64 + cqe.res as usize], b"picked");
//!
//! ring.submission().push(RemoveBuffers::new(8, 7).user_data(3)).unwrap();
//! ring.submit_and_wait(1)?;
//! assert_eq!(ring.completion().next().unwrap().res, 1, "one buffer was left");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{base, Common, PrepareSqe, SafeOp};
use crate::entry::Sqe;

/// `IORING_OP_PROVIDE_BUFFERS` (Linux 5.7): hand the kernel buffers for the
/// buffer-select ops to pick from; `res` is 0 (or the buffers added on
/// older kernels). The memory is the kernel's to fill until each buffer
/// comes back in a CQE (or is removed), hence not a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct ProvideBuffers {
    pub(crate) common: Common,
    addr: *mut u8,
    len: u32,
    count: u32,
    group: u16,
    first_id: u16,
}

impl ProvideBuffers {
    /// `count` buffers of `len` bytes each, contiguous from `addr`, as group
    /// `group` with ids `first_id`, `first_id + 1`, ... `addr` must be valid
    /// for `len * count` bytes of writes and stay valid and unmoved until
    /// every buffer has come back in a CQE or been removed.
    #[inline]
    pub fn new(addr: *mut u8, len: u32, count: u32, group: u16, first_id: u16) -> ProvideBuffers {
        ProvideBuffers { common: Common::default(), addr, len, count, group, first_id }
    }
}

/// `IORING_OP_REMOVE_BUFFERS` (Linux 5.7): take back unused buffers of a
/// group given with [`ProvideBuffers`]; `res` is how many were removed
/// (`-ENOENT`: no such group). Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct RemoveBuffers {
    pub(crate) common: Common,
    count: u32,
    group: u16,
}

impl RemoveBuffers {
    /// Remove up to `count` buffers of group `group`.
    #[inline]
    pub fn new(count: u32, group: u16) -> RemoveBuffers {
        RemoveBuffers { common: Common::default(), count, group }
    }
}

impl PrepareSqe for ProvideBuffers {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.addr as u64,
            len: self.len,
            off: self.first_id as u64,
            buf_index: self.group,
            ..base(&self.common, Self::CODE, self.count as i32)
        };
    }
}

impl PrepareSqe for RemoveBuffers {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { buf_index: self.group, ..base(&self.common, Self::CODE, self.count as i32) };
    }
}

impl SafeOp for RemoveBuffers {}
