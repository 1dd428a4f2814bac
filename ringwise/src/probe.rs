//! What the running kernel supports: release, feature bits, opcodes and
//! setup flags. Each answer comes from the kernel itself (a real ring, the
//! `IORING_REGISTER_PROBE` call, or a trial setup), never from a version
//! table.

use crate::abi;
use crate::abi::zeroed_params;
use crate::error::{Error, Result};
use crate::flags::{Features, SetupFlags};
use crate::layout::RingSpec;
use crate::memory::Mapping;
use crate::sys;
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

/// Whether the kernel accepts a ring with exactly `flags` (plus what each
/// needs to be tried: a CQ size for `CQSIZE`, memory for `NO_MMAP`, a ring
/// to attach to for `ATTACH_WQ`). `Err` carries the kernel's errno.
pub fn try_setup_flags(flags: SetupFlags) -> std::result::Result<(), Errno> {
    let spec = RingSpec { entries: 1, cq_entries: flags.contains(SetupFlags::CQSIZE).then_some(2), flags };
    let layout = match RingSpec::layout(&spec) {
        Ok(l) => l,
        Err(e) => return Err(e.errno()),
    };
    let mut params = zeroed_params();
    params.flags = flags.bits();
    params.cq_entries = spec.cq_entries.unwrap_or(0);
    let _other;
    if flags.contains(SetupFlags::ATTACH_WQ) {
        // An SQPOLL ring attaches to the other ring's SQPOLL thread, so that
        // one must have one (the kernel answers EINVAL otherwise).
        let mut other = Ring::builder(1).register_ring_fd(false);
        if flags.contains(SetupFlags::SQPOLL) {
            other = other.sqpoll(std::time::Duration::from_millis(10));
        }
        let other: Ring = other.build().map_err(|e| e.errno())?;
        params.wq_fd = std::os::fd::AsRawFd::as_raw_fd(&other) as u32;
        _other = Some(other);
    }
    let memory = if flags.contains(SetupFlags::NO_MMAP) {
        let m = Mapping::anonymous(layout.total_bytes()).map_err(|e| e.errno())?;
        params.cq_off.user_addr = m.as_ptr() as u64;
        // SAFETY: the mapping is total_bytes long; the SQEs follow the rings.
        params.sq_off.user_addr = unsafe { m.as_ptr().add(layout.sqes_offset_in_buffer()) } as u64;
        Some(m)
    } else {
        None
    };
    // SAFETY: params is valid; with NO_MMAP the regions are a fresh mapping
    // of exactly the layout's size, kept until after the ring is closed.
    let fd = unsafe { sys::io_uring_setup(1, &mut params) }?;
    close_trial_ring(fd, flags);
    drop(memory);
    Ok(())
}

fn close_trial_ring(fd: u32, flags: SetupFlags) {
    if flags.contains(SetupFlags::REGISTERED_FD_ONLY) {
        let mut update = abi::io_uring_rsrc_update { offset: fd, resv: 0, data: 0 };
        // SAFETY: unregistering our own index with a valid update.
        let _ = unsafe {
            sys::io_uring_register(
                fd,
                abi::register_op::UNREGISTER_RING_FDS | abi::register_op::USE_REGISTERED_RING,
                (&mut update as *mut abi::io_uring_rsrc_update).cast(),
                1,
            )
        };
    } else {
        // SAFETY: the fd was just returned by io_uring_setup and is ours.
        drop(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) });
    }
}

/// Whether the kernel accepts `flags` (see [`try_setup_flags`]).
pub fn setup_flags_accepted(flags: SetupFlags) -> bool {
    try_setup_flags(flags).is_ok()
}

/// One setup flag and whether this kernel accepts it.
#[derive(Debug, Clone)]
pub struct FlagSupport {
    pub flag: SetupFlags,
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
    pub release: String,
    pub features: Features,
    pub probe: Probe,
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

impl From<Errno> for Error {
    fn from(errno: Errno) -> Error {
        Error::kernel("syscall", errno, String::new())
    }
}
