//! Moving data between descriptors without copying through user space:
//! `SPLICE` (Linux 5.7) and `TEE` (Linux 5.8). Both carry only descriptors
//! (kept open by the op) and offsets.

use super::count;
use crate::entry::{PrepareSqe, Sqe};
use crate::op::{self, SpliceFlags};
use crate::owned::{Fd, OwnedOp};
use crate::Errno;

/// `IORING_OP_SPLICE` (Linux 5.7): `splice(2)`: move up to `len` bytes from
/// `input` to `output`, one of which must be a pipe. An offset of `None`
/// (the kernel's `-1`) uses, and moves, the file position; a pipe side must
/// have `None`. The output is the bytes moved (0: end of input) or the
/// errno.
#[derive(Debug)]
pub struct Splice {
    input: Fd,
    input_offset: Option<u64>,
    output: Fd,
    output_offset: Option<u64>,
    len: u32,
    flags: SpliceFlags,
}

impl Splice {
    /// Move up to `len` bytes from `input` (at `input_offset`) to `output`
    /// (at `output_offset`).
    pub fn new(
        input: impl Into<Fd>,
        input_offset: Option<u64>,
        output: impl Into<Fd>,
        output_offset: Option<u64>,
        len: u32,
    ) -> Splice {
        Splice {
            input: input.into(),
            input_offset,
            output: output.into(),
            output_offset,
            len,
            flags: SpliceFlags::empty(),
        }
    }

    /// `SPLICE_F_*` flags (`MOVE`, `NONBLOCK`, `MORE`).
    pub fn flags(mut self, flags: SpliceFlags) -> Splice {
        self.flags = flags;
        self
    }
}

// SAFETY: no pointer; the SQE names the two fds the op keeps open (or
// fixed slots).
unsafe impl OwnedOp for Splice {
    type Output = std::result::Result<usize, Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::Splice::new(self.input.target(), self.input_offset, self.output.target(), self.output_offset, self.len)
            .splice_flags(self.flags)
            .prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        count(res)
    }
}

/// `IORING_OP_TEE` (Linux 5.8): `tee(2)`: duplicate up to `len` bytes from
/// pipe `input` into pipe `output` without consuming them. The output is
/// the bytes duplicated or the errno.
#[derive(Debug)]
pub struct Tee {
    input: Fd,
    output: Fd,
    len: u32,
    flags: SpliceFlags,
}

impl Tee {
    /// Duplicate up to `len` bytes from pipe `input` into pipe `output`.
    pub fn new(input: impl Into<Fd>, output: impl Into<Fd>, len: u32) -> Tee {
        Tee { input: input.into(), output: output.into(), len, flags: SpliceFlags::empty() }
    }

    /// `SPLICE_F_*` flags (`NONBLOCK`).
    pub fn flags(mut self, flags: SpliceFlags) -> Tee {
        self.flags = flags;
        self
    }
}

// SAFETY: no pointer; the SQE names the two fds the op keeps open (or
// fixed slots).
unsafe impl OwnedOp for Tee {
    type Output = std::result::Result<usize, Errno>;

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::Tee::new(self.input.target(), self.output.target(), self.len)
            .splice_flags(self.flags)
            .prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        count(res)
    }
}
