//! `IORING_OP_NOP` (Linux 5.1): an op that does nothing, for tests,
//! benchmarks and waking a ring.

use super::{base, Common, Kind, PrepareSqe, SafeOp, Target};
use crate::abi;
use crate::entry::Sqe;

/// `IORING_OP_NOP` (Linux 5.1): do nothing; completes with `res` 0 (or an
/// injected result). The optional file, fixed-buffer and task-work flags
/// (Linux 6.10) make it exercise those kernel paths without doing I/O, which
/// is what tests and benchmarks want. Carries no pointer: a [`SafeOp`].
///
/// ```
/// use ringwise::op::Nop;
/// use ringwise::Ring;
///
/// let mut ring = Ring::new(8)?;
/// ring.submission().push(Nop::new().user_data(7)).unwrap();
/// ring.submission().push(Nop::new().inject_result(-5).user_data(8)).unwrap();
/// ring.submit_and_wait(2)?;
/// let cqes: Vec<_> = ring.completions()?.map(|c| (c.user_data, c.res)).collect();
/// assert_eq!(cqes, [(7, 0), (8, -5)]);
/// # Ok::<(), ringwise::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Nop {
    pub(crate) common: Common,
    nop_flags: u32,
    inject: i32,
    fd: i32,
    buf_index: u16,
    extra: [u64; 2],
}

impl Nop {
    /// A NOP that completes with `res` 0.
    #[inline]
    pub fn new() -> Nop {
        Nop::default()
    }

    /// Complete with `res` instead of 0 (`IORING_NOP_INJECT_RESULT`, Linux 6.10).
    #[inline]
    pub fn inject_result(mut self, res: i32) -> Nop {
        self.nop_flags |= abi::IORING_NOP_INJECT_RESULT;
        self.inject = res;
        self
    }

    /// Post a 32-byte CQE in a `CQE32` or `CQE_MIXED` ring (`IORING_NOP_CQE32`,
    /// Linux 6.18), with zero extra words.
    #[inline]
    pub fn big_cqe(self) -> Nop {
        self.big_cqe_extra(0, 0)
    }

    /// Post a 32-byte CQE whose two extra words are `extra1` and `extra2`
    /// (the kernel echoes them back: a round trip for the big-CQE path).
    #[inline]
    pub fn big_cqe_extra(mut self, extra1: u64, extra2: u64) -> Nop {
        self.nop_flags |= abi::IORING_NOP_CQE32;
        self.extra = [extra1, extra2];
        self
    }

    /// Look up `file` like an I/O op would (`IORING_NOP_FILE`, and
    /// `IORING_NOP_FIXED_FILE` for a fixed target); a bad file gives `-EBADF`.
    #[inline]
    pub fn file(mut self, file: impl Into<Target>) -> Nop {
        self.nop_flags |= abi::IORING_NOP_FILE;
        match file.into().kind() {
            Kind::Fd(fd) => self.fd = fd,
            Kind::Fixed(index) => {
                self.nop_flags |= abi::IORING_NOP_FIXED_FILE;
                self.fd = index as i32;
            }
        }
        self
    }

    /// Look up registered buffer `index` (`IORING_NOP_FIXED_BUFFER`); a
    /// missing buffer gives `-EFAULT`.
    #[inline]
    pub fn fixed_buffer(mut self, index: u16) -> Nop {
        self.nop_flags |= abi::IORING_NOP_FIXED_BUFFER;
        self.buf_index = index;
        self
    }

    /// Complete through task work (`IORING_NOP_TW`).
    #[inline]
    pub fn task_work(mut self) -> Nop {
        self.nop_flags |= abi::IORING_NOP_TASK_WORK;
        self
    }
}

impl PrepareSqe for Nop {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let fd = if self.nop_flags & abi::IORING_NOP_FILE != 0 { self.fd } else { -1 };
        *sqe = Sqe {
            len: self.inject as u32,
            op_flags: self.nop_flags,
            off: self.extra[0],
            addr: self.extra[1],
            buf_index: self.buf_index,
            ..base(&self.common, Self::CODE, fd)
        };
    }
}

impl SafeOp for Nop {}
