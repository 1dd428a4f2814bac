//! `IORING_OP_NOP`.

use super::{common_setters, fill, Common, PrepareSqe, SafeOp};
use crate::abi;
use crate::entry::Sqe;

/// Do nothing; completes with `res` 0 (or an injected result).
#[derive(Debug, Clone, Copy, Default)]
pub struct Nop {
    common: Common,
    nop_flags: u32,
    inject: i32,
}

impl Nop {
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

    /// Post a 32-byte CQE in a `CQE_MIXED` ring (`IORING_NOP_CQE32`, Linux 6.18).
    #[inline]
    pub fn big_cqe(mut self) -> Nop {
        self.nop_flags |= abi::IORING_NOP_CQE32;
        self
    }
}

common_setters!(Nop);

impl PrepareSqe for Nop {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        fill(
            sqe,
            &self.common,
            linux_raw_sys::io_uring::io_uring_op::IORING_OP_NOP as u8,
            -1,
            0,
            0,
            self.inject as u32,
            self.nop_flags,
        );
    }
}

impl SafeOp for Nop {}
