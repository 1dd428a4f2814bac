//! `IORING_OP_SPLICE` (Linux 5.7) and `IORING_OP_TEE` (Linux 5.8): move or
//! duplicate data between a pipe and another file without copying through
//! user space. Both carry only fds and offsets, so they are [`SafeOp`]s.

use super::{base_on, common_setters, opcode, Common, PrepareSqe, SafeOp, Target};
use crate::entry::Sqe;
use linux_raw_sys::general as g;
use linux_raw_sys::io_uring as k;

bitflags::bitflags! {
    /// `SPLICE_F_*`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SpliceFlags: u32 {
        const MOVE = g::SPLICE_F_MOVE;
        const NONBLOCK = g::SPLICE_F_NONBLOCK;
        const MORE = g::SPLICE_F_MORE;
        const GIFT = g::SPLICE_F_GIFT;
    }
}

/// No offset: use (and advance) the file position; required for pipes.
const NO_OFFSET: u64 = u64::MAX;

/// Encode the input side: its fd and, for a fixed file, `SPLICE_F_FD_IN_FIXED`.
fn input(target: Target) -> (u32, u32) {
    match target {
        Target::Fd(fd) => (fd as u32, 0),
        Target::Fixed(i) => (i, k::SPLICE_F_FD_IN_FIXED),
    }
}

/// Move up to `len` bytes from `input` to `output`; one of them must be a
/// pipe. `res` is the bytes moved.
#[derive(Debug, Clone, Copy)]
pub struct Splice {
    common: Common,
    input: Target,
    input_offset: u64,
    output: Target,
    output_offset: u64,
    len: u32,
    flags: SpliceFlags,
}

impl Splice {
    /// Offsets `None` use the file position (always for a pipe).
    #[inline]
    pub fn new(
        input: impl Into<Target>,
        input_offset: Option<u64>,
        output: impl Into<Target>,
        output_offset: Option<u64>,
        len: u32,
    ) -> Splice {
        Splice {
            common: Common::default(),
            input: input.into(),
            input_offset: input_offset.unwrap_or(NO_OFFSET),
            output: output.into(),
            output_offset: output_offset.unwrap_or(NO_OFFSET),
            len,
            flags: SpliceFlags::empty(),
        }
    }
    #[inline]
    pub fn splice_flags(mut self, flags: SpliceFlags) -> Splice {
        self.flags = flags;
        self
    }
}

/// Duplicate up to `len` bytes from pipe `input` to pipe `output` without
/// consuming them. `res` is the bytes duplicated.
#[derive(Debug, Clone, Copy)]
pub struct Tee {
    common: Common,
    input: Target,
    output: Target,
    len: u32,
    flags: SpliceFlags,
}

impl Tee {
    #[inline]
    pub fn new(input: impl Into<Target>, output: impl Into<Target>, len: u32) -> Tee {
        Tee { common: Common::default(), input: input.into(), output: output.into(), len, flags: SpliceFlags::empty() }
    }
    #[inline]
    pub fn splice_flags(mut self, flags: SpliceFlags) -> Tee {
        self.flags = flags;
        self
    }
}

common_setters!(Splice, Tee);

impl PrepareSqe for Splice {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let (fd_in, fixed_in) = input(self.input);
        *sqe = Sqe {
            addr: self.input_offset,
            off: self.output_offset,
            len: self.len,
            op_flags: self.flags.bits() | fixed_in,
            file_index: fd_in,
            ..base_on(&self.common, opcode::SPLICE, self.output)
        };
    }
}

impl PrepareSqe for Tee {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let (fd_in, fixed_in) = input(self.input);
        *sqe = Sqe {
            len: self.len,
            op_flags: self.flags.bits() | fixed_in,
            file_index: fd_in,
            ..base_on(&self.common, opcode::TEE, self.output)
        };
    }
}

impl SafeOp for Splice {}
impl SafeOp for Tee {}
