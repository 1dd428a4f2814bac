//! `IORING_OP_SPLICE` (Linux 5.7) and `IORING_OP_TEE` (Linux 5.8): move or
//! duplicate data between a pipe and another file without copying through
//! user space. Both carry only fds and offsets, so they are [`SafeOp`]s.
//!
//! Duplicating a pipe's data into a second pipe, then moving it out:
//!
//! ```
//! use ringwise::op::{Splice, Target, Tee};
//! use std::os::fd::AsFd;
//! use ringwise::Ring;
//! use std::io::{Read, Write};
//!
//! let (r1, mut w1) = std::io::pipe()?;
//! let (mut r2, w2) = std::io::pipe()?;
//! let (mut r3, w3) = std::io::pipe()?;
//! w1.write_all(b"twice")?;
//! let mut ring = Ring::new(8)?;
//! // SAFETY: the three pipes stay open until the end of the example, after
//! // both CQEs are reaped.
//! let (r1_fd, w2_fd, w3_fd) = unsafe { (Target::from_fd(r1.as_fd()), Target::from_fd(w2.as_fd()), Target::from_fd(w3.as_fd())) };
//! ring.submission().push(Tee::new(r1_fd, w2_fd, 5).user_data(1)).unwrap();
//! ring.submit_and_wait(1)?;
//! ring.submission().push(Splice::new(r1_fd, None, w3_fd, None, 5).user_data(2)).unwrap();
//! ring.submit_and_wait(2)?;
//! assert!(ring.completions()?.all(|c| c.res == 5));
//! let (mut a, mut b) = ([0u8; 5], [0u8; 5]);
//! r2.read_exact(&mut a)?;
//! r3.read_exact(&mut b)?;
//! assert_eq!((&a, &b), (b"twice", b"twice"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{base, Common, Kind, PrepareSqe, SafeOp, Target};
use crate::entry::Sqe;
use linux_raw_sys::general as g;
use linux_raw_sys::io_uring as k;

bitflags::bitflags! {
    /// `SPLICE_F_*`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SpliceFlags: u32 {
        /// Move pages instead of copying (a hint).
        const MOVE = g::SPLICE_F_MOVE;
        /// Do not block on the pipes.
        const NONBLOCK = g::SPLICE_F_NONBLOCK;
        /// More data follows (a hint for sockets).
        const MORE = g::SPLICE_F_MORE;
        /// Unused by splice (vmsplice only).
        const GIFT = g::SPLICE_F_GIFT;
    }
}

/// No offset: use (and advance) the file position; required for pipes.
const NO_OFFSET: u64 = u64::MAX;

/// Encode the input side: its fd and, for a fixed file, `SPLICE_F_FD_IN_FIXED`.
fn input(target: Target) -> (u32, u32) {
    match target.kind() {
        Kind::Fd(fd) => (fd as u32, 0),
        Kind::Fixed(i) => (i, k::SPLICE_F_FD_IN_FIXED),
    }
}

/// `IORING_OP_SPLICE` (Linux 5.7): `splice(2)`: move up to `len` bytes from
/// `input` to `output`; one of them must be a pipe. `res` is the bytes moved
/// (0: end of input).
#[derive(Debug, Clone, Copy)]
pub struct Splice {
    pub(crate) common: Common,
    input: Target,
    input_offset: u64,
    output: Target,
    output_offset: u64,
    len: u32,
    flags: SpliceFlags,
}

impl Splice {
    /// Move up to `len` bytes from `input` (at `input_offset`) to `output`
    /// (at `output_offset`); an offset `None` uses the file position (always
    /// for a pipe). A fixed `input` sets `SPLICE_F_FD_IN_FIXED`.
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
    /// `SPLICE_F_*` flags.
    #[inline]
    pub fn splice_flags(mut self, flags: SpliceFlags) -> Splice {
        self.flags = flags;
        self
    }
}

/// `IORING_OP_TEE` (Linux 5.8): `tee(2)`: duplicate up to `len` bytes from
/// pipe `input` to pipe `output` without consuming them. `res` is the bytes
/// duplicated.
#[derive(Debug, Clone, Copy)]
pub struct Tee {
    pub(crate) common: Common,
    input: Target,
    output: Target,
    len: u32,
    flags: SpliceFlags,
}

impl Tee {
    /// Duplicate up to `len` bytes from pipe `input` into pipe `output`.
    #[inline]
    pub fn new(input: impl Into<Target>, output: impl Into<Target>, len: u32) -> Tee {
        Tee { common: Common::default(), input: input.into(), output: output.into(), len, flags: SpliceFlags::empty() }
    }
    /// `SPLICE_F_*` flags.
    #[inline]
    pub fn splice_flags(mut self, flags: SpliceFlags) -> Tee {
        self.flags = flags;
        self
    }
}

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
            ..base(&self.common, Self::CODE, self.output)
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
            ..base(&self.common, Self::CODE, self.output)
        };
    }
}

impl SafeOp for Splice {}
impl SafeOp for Tee {}
