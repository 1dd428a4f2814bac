//! io-wq settings: the CPUs the ring's async workers may run on
//! (`IORING_REGISTER_IOWQ_AFF`, Linux 5.14) and how many workers it may
//! start (`IORING_REGISTER_IOWQ_MAX_WORKERS`, Linux 5.15).
//!
//! Both apply to the io-wq of the calling thread (each thread that submits
//! to a ring has its own), or to the SQPOLL thread's for an SQPOLL ring.

use super::opcode;
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::Ring;
use rustix::io::Errno;

/// Worker limits: bounded workers (regular file and block I/O) and
/// unbounded ones (sockets, pipes, anything that may block for long).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MaxWorkers {
    /// Most bounded workers (0: leave as it is). The kernel's default is
    /// about the number of CPUs.
    pub bounded: u32,
    /// Most unbounded workers (0: leave as it is). The kernel's default is
    /// `RLIMIT_NPROC`.
    pub unbounded: u32,
}

/// CPU numbers at or above this are refused: the mask is `max / 8 + 1`
/// bytes, so a stray `usize::MAX` would otherwise ask for 2^61 bytes. Linux
/// supports at most 8192 CPUs; the kernel ignores mask bits past its own.
const MAX_CPU_INDEX: usize = 1 << 16;

/// What an errno of an io-wq call means (`cpus`: the affinity asked for).
fn iowq_context(errno: Errno, cpus: Option<&[usize]>) -> Option<String> {
    Some(match (errno, cpus) {
        (Errno::INVAL, Some(cpus)) => format!("none of the CPUs {cpus:?} is online and allowed"),
        (Errno::INVAL, None) => "a limit above INT_MAX".into(),
        _ => return None,
    })
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Let io-wq workers run only on `cpus` (opcode 17, Linux 5.14).
    ///
    /// ```
    /// use ringwise::register::MaxWorkers;
    /// use ringwise::Ring;
    ///
    /// use rustix::thread::{sched_getaffinity, CpuSet};
    ///
    /// let ring = Ring::new(4)?;
    /// // Only the first CPU this thread may run on.
    /// let allowed = sched_getaffinity(None)?;
    /// let cpu = (0..CpuSet::MAX_CPU).find(|&c| allowed.is_set(c)).expect("a CPU");
    /// ring.set_iowq_affinity(&[cpu])?;
    /// ring.clear_iowq_affinity()?;
    /// // At most 2 bounded and 4 unbounded workers; the old limits come back.
    /// let before = ring.set_iowq_max_workers(MaxWorkers { bounded: 2, unbounded: 4 })?;
    /// assert!(before.bounded > 0 && before.unbounded > 0);
    /// assert_eq!(ring.set_iowq_max_workers(MaxWorkers::default())?, MaxWorkers { bounded: 2, unbounded: 4 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_iowq_affinity(&self, cpus: &[usize]) -> Result<()> {
        let Some(&max) = cpus.iter().max() else {
            return Err(Error::InvalidArgument {
                what: "an empty io-wq CPU set".into(),
                why: "workers need at least one CPU; use clear_iowq_affinity to allow all".into(),
            });
        };
        if max >= MAX_CPU_INDEX {
            return Err(Error::InvalidArgument {
                what: format!("an io-wq CPU set naming CPU {max}"),
                why: format!(
                    "CPU numbers must be below {MAX_CPU_INDEX} (Linux builds for at most 8192 CPUs); \
                     see /sys/devices/system/cpu/possible"
                ),
            });
        }
        let mut mask = vec![0u8; max / 8 + 1];
        for &cpu in cpus {
            mask[cpu / 8] |= 1 << (cpu % 8);
        }
        let context = |errno| iowq_context(errno, Some(cpus));
        // SAFETY: the kernel reads mask.len() bytes of CPU mask.
        unsafe { self.register(opcode::REGISTER_IOWQ_AFF, mask.as_ptr().cast(), mask.len() as u32, context) }
            .map(|_| ())
    }

    /// Let io-wq workers run on any CPU again (opcode 18, Linux 5.14).
    pub fn clear_iowq_affinity(&self) -> Result<()> {
        // SAFETY: no argument.
        unsafe { self.register(opcode::UNREGISTER_IOWQ_AFF, std::ptr::null(), 0, |_| None) }.map(|_| ())
    }

    /// Set the worker limits (a 0 leaves that limit as it is) and return
    /// the previous ones (opcode 19, Linux 5.15). `MaxWorkers::default()`
    /// only reads.
    pub fn set_iowq_max_workers(&self, limits: MaxWorkers) -> Result<MaxWorkers> {
        let mut counts = [limits.bounded, limits.unbounded];
        let arg = counts.as_mut_ptr().cast();
        // SAFETY: the kernel reads and writes two u32s during the call.
        unsafe { self.register(opcode::REGISTER_IOWQ_MAX_WORKERS, arg, 2, |errno| iowq_context(errno, None)) }?;
        Ok(MaxWorkers { bounded: counts[0], unbounded: counts[1] })
    }
}
