//! Restrictions (`IORING_REGISTER_RESTRICTIONS`, Linux 5.10): an allow-list
//! of SQE opcodes, SQE flags and register opcodes, for handing a ring to less
//! trusted code. They can only be registered once, on a ring created
//! disabled ([`Builder::disabled`](crate::Builder::disabled), `R_DISABLED`),
//! and take effect with [`Ring::enable`] (`IORING_REGISTER_ENABLE_RINGS`,
//! opcode 12). A forbidden SQE completes with `-EACCES`; a forbidden
//! register call fails with EACCES.

use super::{count, opcode};
use crate::entry::{CqeSize, SqeSize};
use crate::error::Result;
use crate::flags::SqeFlags;
use crate::Ring;
use linux_raw_sys::io_uring::io_uring_register_restriction_op as rop;
use rustix::io::Errno;

/// One entry of the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restriction {
    /// Allow this register opcode.
    RegisterOp(u8),
    /// Allow this SQE opcode.
    SqeOp(u8),
    /// Allow only these SQE flags (others fail with EACCES).
    SqeFlagsAllowed(SqeFlags),
    /// Require these SQE flags on every SQE.
    SqeFlagsRequired(SqeFlags),
}

/// `struct io_uring_restriction`: opcode, a one-byte union, padding.
#[repr(C)]
struct RawRestriction {
    opcode: u16,
    arg: u8,
    resv: u8,
    resv2: [u32; 3],
}

const _: () = assert!(std::mem::size_of::<RawRestriction>() == 16);

impl Restriction {
    fn raw(self) -> RawRestriction {
        let (opcode, arg) = match self {
            Restriction::RegisterOp(op) => (rop::IORING_RESTRICTION_REGISTER_OP, op),
            Restriction::SqeOp(op) => (rop::IORING_RESTRICTION_SQE_OP, op),
            Restriction::SqeFlagsAllowed(f) => (rop::IORING_RESTRICTION_SQE_FLAGS_ALLOWED, f.bits()),
            Restriction::SqeFlagsRequired(f) => (rop::IORING_RESTRICTION_SQE_FLAGS_REQUIRED, f.bits()),
        };
        RawRestriction { opcode: opcode as u16, arg, resv: 0, resv2: [0; 3] }
    }
}

/// What an errno of `REGISTER_RESTRICTIONS` means.
fn restrictions_context(errno: Errno) -> Option<String> {
    Some(match errno {
        Errno::BADFD => "restrictions need a ring built disabled (Builder::disabled) and not yet enabled".into(),
        Errno::BUSY => "restrictions were already registered on this ring".into(),
        Errno::INVAL => "an opcode in the list is unknown to this kernel, or the list is empty or too long".into(),
        _ => return None,
    })
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Register the allow-list (opcode 11, Linux 5.10). The ring must have
    /// been built disabled and not yet enabled; only one call is allowed.
    /// The kernel copies the list.
    ///
    /// ```
    /// use ringwise::op::{opcode, Fsync, Nop};
    /// use ringwise::register::Restriction;
    /// use ringwise::{Builder, Ring};
    /// use std::os::fd::AsRawFd;
    ///
    /// let mut ring: Ring = Builder::new(4).disabled().build()?;
    /// ring.register_restrictions(&[Restriction::SqeOp(opcode::NOP)])?;
    /// ring.enable()?;
    /// let stdin = std::io::stdin();
    /// ring.submission().push(Nop::new().user_data(1)).unwrap();
    /// ring.submit_and_wait(1)?;
    /// // SAFETY: stdin stays open for the whole process.
    /// let stdin_fd = unsafe { ringwise::op::Target::fd(stdin.as_raw_fd()) };
    /// ring.submission().push(Fsync::new(stdin_fd).user_data(2)).unwrap();
    /// ring.submit_and_wait(1)?;
    /// let got: Vec<(u64, i32)> = ring.completions()?.map(|c| (c.user_data, c.res)).collect();
    /// assert_eq!(got, [(1, 0), (2, -13)], "NOP allowed, FSYNC refused with EACCES");
    /// # Ok::<(), ringwise::Error>(())
    /// ```
    pub fn register_restrictions(&self, restrictions: &[Restriction]) -> Result<()> {
        let raw: Vec<RawRestriction> = restrictions.iter().map(|r| r.raw()).collect();
        let n = count("restrictions", raw.len())?;
        // SAFETY: the kernel reads `n` 16-byte restrictions during the call.
        unsafe { self.register(opcode::REGISTER_RESTRICTIONS, raw.as_ptr().cast(), n, restrictions_context) }
            .map(|_| ())
    }
}
