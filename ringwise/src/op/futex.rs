//! Futexes (Linux 6.7): `FUTEX_WAIT`, `FUTEX_WAKE`, `FUTEX_WAITV`, with the
//! `futex2` flags. The futex words are read (and waited on) by the kernel
//! while the op is in flight, so these ops are pushed with `push_unchecked`.

use super::{base, common_setters, opcode, Common, PrepareSqe};
use crate::entry::Sqe;
use linux_raw_sys::general as g;

/// Match any bit: the mask of a plain (non-bitset) wait or wake.
pub const FUTEX_BITSET_MATCH_ANY: u64 = 0xffff_ffff;

bitflags::bitflags! {
    /// `FUTEX2_*` flags: the word size and scope.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FutexFlags: u32 {
        const SIZE_U8 = g::FUTEX2_SIZE_U8;
        const SIZE_U16 = g::FUTEX2_SIZE_U16;
        /// A 32-bit futex word, the classic one.
        const SIZE_U32 = g::FUTEX2_SIZE_U32;
        const SIZE_U64 = g::FUTEX2_SIZE_U64;
        const NUMA = g::FUTEX2_NUMA;
        /// Process-private futex (faster; not shared across processes).
        const PRIVATE = g::FUTEX2_PRIVATE;
    }
}

/// One entry of a [`FutexWaitv`] array, `struct futex_waitv`.
pub type FutexWaitvEntry = g::futex_waitv;

/// Wait until `*futex != value` or a wake on it; `res` 0 when woken,
/// `-EAGAIN` when the word did not hold `value` at submit.
#[derive(Debug, Clone, Copy)]
pub struct FutexWait {
    common: Common,
    futex: *const u32,
    value: u64,
    mask: u64,
    flags: FutexFlags,
}

impl FutexWait {
    /// A 32-bit private futex wait; change size/scope with [`futex_flags`](Self::futex_flags).
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
    #[inline]
    pub fn futex_flags(mut self, flags: FutexFlags) -> FutexWait {
        self.flags = flags;
        self
    }
}

/// Wake up to `count` waiters of `futex`; `res` is how many woke.
#[derive(Debug, Clone, Copy)]
pub struct FutexWake {
    common: Common,
    futex: *const u32,
    count: u64,
    mask: u64,
    flags: FutexFlags,
}

impl FutexWake {
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
    #[inline]
    pub fn futex_flags(mut self, flags: FutexFlags) -> FutexWake {
        self.flags = flags;
        self
    }
}

/// Wait on several futexes at once (`futex_waitv(2)`); `res` is the index
/// of the one that woke. Each entry carries its own value and `FUTEX2_*`
/// flags.
#[derive(Debug, Clone, Copy)]
pub struct FutexWaitv {
    common: Common,
    entries: *const FutexWaitvEntry,
    count: u32,
}

impl FutexWaitv {
    #[inline]
    pub fn new(entries: *const FutexWaitvEntry, count: u32) -> FutexWaitv {
        FutexWaitv { common: Common::default(), entries, count }
    }
}

common_setters!(FutexWait, FutexWake, FutexWaitv);

impl PrepareSqe for FutexWait {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.futex as u64,
            off: self.value,
            addr3: self.mask,
            ..base(&self.common, opcode::FUTEX_WAIT, self.flags.bits() as i32)
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
            ..base(&self.common, opcode::FUTEX_WAKE, self.flags.bits() as i32)
        };
    }
}

impl PrepareSqe for FutexWaitv {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.entries as u64, len: self.count, ..base(&self.common, opcode::FUTEX_WAITV, 0) };
    }
}
