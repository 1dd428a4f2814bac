//! What the running kernel supports: release, feature bits, opcodes and
//! setup flags. Each answer comes from the kernel itself (a real ring, the
//! `IORING_REGISTER_PROBE` call, or a trial setup), never from a version
//! table.

pub use crate::builder::try_setup_flags;

use crate::abi;
use crate::error::Result;
use crate::flags::{Features, SetupFlags};
use crate::Ring;
use rustix::io::Errno;

/// The kernel release, as `uname -r` prints it.
pub fn kernel_release() -> String {
    rustix::system::uname().release().to_string_lossy().into_owned()
}

/// The opcodes the kernel knows, from `IORING_REGISTER_PROBE` (Linux 5.6).
#[derive(Debug, Clone)]
pub struct Probe {
    last_op: u8,
    supported: [bool; 256],
}

impl Probe {
    /// Probe with a throwaway ring.
    pub fn new() -> Result<Probe> {
        let ring: Ring = Ring::builder(1).register_ring_fd(false).build()?;
        Probe::of(&ring)
    }

    /// Probe with an existing ring.
    pub fn of<S: crate::SqeSize, C: crate::CqeSize>(ring: &Ring<S, C>) -> Result<Probe> {
        #[repr(C)]
        struct ProbeBuf {
            last_op: u8,
            ops_len: u8,
            resv: u16,
            resv2: [u32; 3],
            ops: [abi::io_uring_probe_op; 256],
        }
        // SAFETY: plain old data; zero is valid.
        let mut buf: ProbeBuf = unsafe { std::mem::zeroed() };
        // SAFETY: `buf` holds a probe header and 256 op slots, as nr_args says.
        unsafe { ring.register_raw(abi::register_op::REGISTER_PROBE, (&mut buf as *mut ProbeBuf).cast(), 256) }?;
        let mut supported = [false; 256];
        const IO_URING_OP_SUPPORTED: u16 = 1;
        for op in &buf.ops[..buf.ops_len as usize] {
            supported[op.op as usize] = op.flags & IO_URING_OP_SUPPORTED != 0;
        }
        Ok(Probe { last_op: buf.last_op, supported })
    }

    /// Whether `opcode` is supported.
    pub fn supports(&self, opcode: u8) -> bool {
        self.supported[opcode as usize]
    }

    /// The highest opcode the kernel knows.
    pub fn last_op(&self) -> u8 {
        self.last_op
    }

    /// Supported opcodes in order.
    pub fn opcodes(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=255u8).filter(|&op| self.supported[op as usize])
    }
}

/// Feature bits the kernel reports for a default ring.
pub fn features() -> Result<Features> {
    let ring: Ring = Ring::builder(1).register_ring_fd(false).build()?;
    Ok(ring.features())
}

/// The flags a trial of `flag` needs alongside it (the kernel refuses it alone).
pub fn companions_for_trial(flag: SetupFlags) -> SetupFlags {
    match flag {
        f if f == SetupFlags::SQ_AFF => SetupFlags::SQPOLL,
        f if f == SetupFlags::TASKRUN_FLAG => SetupFlags::COOP_TASKRUN,
        f if f == SetupFlags::DEFER_TASKRUN => SetupFlags::SINGLE_ISSUER,
        f if f == SetupFlags::REGISTERED_FD_ONLY => SetupFlags::NO_MMAP,
        f if f == SetupFlags::HYBRID_IOPOLL => SetupFlags::IOPOLL,
        _ => SetupFlags::empty(),
    }
}

/// Whether the kernel accepts `flags` (see [`try_setup_flags`]).
pub fn setup_flags_accepted(flags: SetupFlags) -> bool {
    try_setup_flags(flags).is_ok()
}

/// One setup flag and whether this kernel accepts it.
#[derive(Debug, Clone)]
pub struct FlagSupport {
    /// The flag tried.
    pub flag: SetupFlags,
    /// Its name without `IORING_SETUP_`.
    pub name: &'static str,
    /// The companions it was tried with.
    pub tried_with: SetupFlags,
    /// `Ok` or the kernel's errno.
    pub result: std::result::Result<(), Errno>,
}

/// Try every setup flag ringwise knows on this kernel.
pub fn setup_flag_support() -> Vec<FlagSupport> {
    SetupFlags::all()
        .iter_names()
        .map(|(name, flag)| {
            let with = companions_for_trial(flag);
            FlagSupport { flag, name, tried_with: with, result: try_setup_flags(flag | with) }
        })
        .collect()
}

/// Everything at once, for reports.
#[derive(Debug, Clone)]
pub struct KernelReport {
    /// The kernel release, as `uname -r` prints it.
    pub release: String,
    /// The feature bits a default ring reports.
    pub features: Features,
    /// The opcodes the kernel supports.
    pub probe: Probe,
    /// Every setup flag and whether the kernel accepts it.
    pub flags: Vec<FlagSupport>,
}

/// Probe release, features, opcodes and setup flags.
pub fn report() -> Result<KernelReport> {
    Ok(KernelReport {
        release: kernel_release(),
        features: features()?,
        probe: Probe::new()?,
        flags: setup_flag_support(),
    })
}
