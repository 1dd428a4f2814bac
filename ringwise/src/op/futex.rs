//! Futexes (Linux 6.7): `FUTEX_WAIT`, `FUTEX_WAKE`, `FUTEX_WAITV`, with the
//! `futex2` flags. The futex words are read (and waited on) by the kernel
//! while the op is in flight, so these ops are pushed with `push_unchecked`.
//!
//! A wait woken by a wake from the same ring:
//!
//! ```
//! use ringwise::op::{FutexWait, FutexWake};
//! use ringwise::Ring;
//!
//! let word = 0u32;
//! let mut ring = Ring::new(8)?;
//! // SAFETY: `word` outlives both ops (their CQEs are reaped below).
//! unsafe { ring.submission().push_unchecked(FutexWait::new(&word, 0).user_data(1)) }.unwrap();
//! ring.submit()?;
//! unsafe { ring.submission().push_unchecked(FutexWake::new(&word, 1).user_data(2)) }.unwrap();
//! ring.submit_and_wait(2)?;
//! let mut res: Vec<_> = ring.completions()?.map(|c| (c.user_data, c.res)).collect();
//! res.sort();
//! assert_eq!(res, [(1, 0), (2, 1)], "the wait woke, the wake woke one");
//! # Ok::<(), ringwise::Error>(())
//! ```

use super::{base, Common, PrepareSqe};
use crate::entry::Sqe;
use linux_raw_sys::general as g;

/// Match any bit: the mask of a plain (non-bitset) wait or wake.
pub const FUTEX_BITSET_MATCH_ANY: u64 = 0xffff_ffff;

bitflags::bitflags! {
    /// `FUTEX2_*` flags: the word size and scope.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FutexFlags: u32 {
        /// An 8-bit futex word.
        const SIZE_U8 = g::FUTEX2_SIZE_U8;
        /// A 16-bit futex word.
        const SIZE_U16 = g::FUTEX2_SIZE_U16;
        /// A 32-bit futex word, the classic one.
        const SIZE_U32 = g::FUTEX2_SIZE_U32;
        /// A 64-bit futex word.
        const SIZE_U64 = g::FUTEX2_SIZE_U64;
        /// A NUMA-aware futex (the word is followed by a node id).
        const NUMA = g::FUTEX2_NUMA;
        /// Process-private futex (faster; not shared across processes).
        const PRIVATE = g::FUTEX2_PRIVATE;
    }
}

/// One entry of a [`FutexWaitv`] array, `struct futex_waitv`.
pub type FutexWaitvEntry = g::futex_waitv;

/// `IORING_OP_FUTEX_WAIT` (Linux 6.7): `futex_wait(2)` (futex2): sleep until
/// a wake on the word; `res` 0 when woken, `-EAGAIN` when the word did not
/// hold the expected value when the op ran.
#[derive(Debug, Clone, Copy)]
pub struct FutexWait {
    pub(crate) common: Common,
    futex: *const u32,
    value: u64,
    mask: u64,
    flags: FutexFlags,
}

impl FutexWait {
    /// Wait on the word at `futex` while it holds `value`: a 32-bit private
    /// futex (change size/scope with [`futex_flags`](Self::futex_flags)).
    /// `futex` must stay valid and unmoved until the CQE is reaped.
    #[inline]
    pub fn new(futex: *const u32, value: u64) -> FutexWait {
        FutexWait {
            common: Common::default(),
            futex,
            value,
            mask: FUTEX_BITSET_MATCH_ANY,
            flags: FutexFlags::SIZE_U32 | FutexFlags::PRIVATE,
        }
    }
    /// Only wakes whose mask shares a bit with `mask` wake this waiter.
    #[inline]
    pub fn mask(mut self, mask: u64) -> FutexWait {
        self.mask = mask;
        self
    }
    /// `FUTEX2_*` size and scope flags (default: `SIZE_U32 | PRIVATE`).
    #[inline]
    pub fn futex_flags(mut self, flags: FutexFlags) -> FutexWait {
        self.flags = flags;
        self
    }
}

/// `IORING_OP_FUTEX_WAKE` (Linux 6.7): `futex_wake(2)`; `res` is how many
/// waiters woke.
#[derive(Debug, Clone, Copy)]
pub struct FutexWake {
    pub(crate) common: Common,
    futex: *const u32,
    count: u64,
    mask: u64,
    flags: FutexFlags,
}

impl FutexWake {
    /// Wake up to `count` waiters of the 32-bit private futex at `futex`.
    /// The kernel only uses the address as a key, but it must be a mapped
    /// word of this process (else `-EFAULT`): keep it valid until the CQE.
    #[inline]
    pub fn new(futex: *const u32, count: u64) -> FutexWake {
        FutexWake {
            common: Common::default(),
            futex,
            count,
            mask: FUTEX_BITSET_MATCH_ANY,
            flags: FutexFlags::SIZE_U32 | FutexFlags::PRIVATE,
        }
    }
    /// Only wake waiters whose mask shares a bit with `mask`.
    #[inline]
    pub fn mask(mut self, mask: u64) -> FutexWake {
        self.mask = mask;
        self
    }
    /// `FUTEX2_*` size and scope flags (default: `SIZE_U32 | PRIVATE`).
    #[inline]
    pub fn futex_flags(mut self, flags: FutexFlags) -> FutexWake {
        self.flags = flags;
        self
    }
}

/// `IORING_OP_FUTEX_WAITV` (Linux 6.7): wait on several futexes at once
/// (`futex_waitv(2)`); `res` is the index of the one that woke. Each entry
/// carries its own value and `FUTEX2_*` flags.
#[derive(Debug, Clone, Copy)]
pub struct FutexWaitv {
    pub(crate) common: Common,
    entries: *const FutexWaitvEntry,
    count: u32,
}

impl FutexWaitv {
    /// Wait on the `count` entries of the array at `entries` (at most 128).
    /// The array and every futex word it names must stay valid and unmoved
    /// until the CQE is reaped.
    #[inline]
    pub fn new(entries: *const FutexWaitvEntry, count: u32) -> FutexWaitv {
        FutexWaitv { common: Common::default(), entries, count }
    }
}

impl PrepareSqe for FutexWait {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.futex as u64,
            off: self.value,
            addr3: self.mask,
            ..base(&self.common, Self::CODE, self.flags.bits() as i32)
        };
    }
}

impl PrepareSqe for FutexWake {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.futex as u64,
            off: self.count,
            addr3: self.mask,
            ..base(&self.common, Self::CODE, self.flags.bits() as i32)
        };
    }
}

impl PrepareSqe for FutexWaitv {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.entries as u64, len: self.count, ..base(&self.common, Self::CODE, 0) };
    }
}
