//! The clock of waits (`IORING_REGISTER_CLOCK`, Linux 6.12): which clock the
//! timeouts of `io_uring_enter` waits are measured on, `CLOCK_MONOTONIC`
//! (the default) or `CLOCK_BOOTTIME` (which keeps counting across suspend).
//! With [`Ring::wait_until`] (`IORING_ENTER_ABS_TIMER`, Linux 6.12) the
//! timeout is an absolute time on that clock.

use super::{opcode, timespec};
use crate::abi;
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::flags::Features;
use crate::Ring;
use linux_raw_sys::general::{CLOCK_BOOTTIME, CLOCK_MONOTONIC};
use linux_raw_sys::io_uring::io_uring_clock_register;
use rustix::io::Errno;
use std::time::Duration;

/// A clock waits can be measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// `CLOCK_MONOTONIC`: stops while the machine is suspended.
    #[default]
    Monotonic,
    /// `CLOCK_BOOTTIME`: includes time suspended.
    Boottime,
}

impl Clock {
    /// The clock id.
    pub fn id(self) -> u32 {
        match self {
            Clock::Monotonic => CLOCK_MONOTONIC,
            Clock::Boottime => CLOCK_BOOTTIME,
        }
    }
}

/// What an errno of `REGISTER_CLOCK` means for clock id `clockid`.
fn clock_context(errno: Errno, clockid: u32) -> Option<String> {
    (errno == Errno::INVAL)
        .then(|| format!("clock id {clockid} refused: only CLOCK_MONOTONIC (1) and CLOCK_BOOTTIME (7) work"))
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Measure wait timeouts on `clock` (opcode 29, Linux 6.12).
    ///
    /// ```
    /// use ringwise::register::Clock;
    /// use ringwise::Ring;
    /// use rustix::time::{clock_gettime, ClockId};
    /// use std::time::Duration;
    ///
    /// let mut ring = Ring::new(4)?;
    /// if let Err(e) = ring.register_clock(Clock::Boottime) {
    ///     assert_eq!(e.errno_name(), "EINVAL", "a kernel before 6.12: {e}");
    ///     return Ok(());
    /// }
    /// // Wait until 10 ms from now on CLOCK_BOOTTIME: nothing arrives, and
    /// // passing the deadline is not an error.
    /// let now = clock_gettime(ClockId::Boottime);
    /// let deadline = Duration::new(now.tv_sec as u64, now.tv_nsec as u32) + Duration::from_millis(10);
    /// assert_eq!(ring.wait_until(1, deadline)?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_clock(&self, clock: Clock) -> Result<()> {
        self.register_clock_id(clock.id())
    }

    /// [`register_clock`](Self::register_clock) with a raw clock id; the
    /// kernel accepts `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` only.
    pub fn register_clock_id(&self, clockid: u32) -> Result<()> {
        let reg = io_uring_clock_register { clockid, __resv: [0; 3] };
        let arg = (&reg as *const io_uring_clock_register).cast();
        // SAFETY: `reg` is valid for the call.
        unsafe { self.register(opcode::REGISTER_CLOCK, arg, 0, |errno| clock_context(errno, clockid)) }.map(|_| ())
    }

    /// Wait until `want` CQEs are ready or the ring's clock reads `deadline`
    /// (an absolute time since that clock's epoch; `IORING_ENTER_ABS_TIMER`,
    /// Linux 6.12). Returns the CQEs ready; passing the deadline is not an
    /// error.
    pub fn wait_until(&mut self, want: u32, deadline: Duration) -> Result<u32> {
        if !self.features().contains(Features::EXT_ARG) {
            return Err(Error::FeatureMissing {
                what: "waiting until a deadline",
                feature: "IORING_FEAT_EXT_ARG",
                since: "5.11",
            });
        }
        if self.cq.len() >= want {
            return Ok(self.cq.len());
        }
        let ts = timespec(deadline);
        let arg =
            abi::io_uring_getevents_arg { sigmask: 0, sigmask_sz: 0, min_wait_usec: 0, ts: &ts as *const _ as u64 };
        let flags = abi::IORING_ENTER_GETEVENTS | abi::IORING_ENTER_EXT_ARG | abi::IORING_ENTER_ABS_TIMER;
        // SAFETY: `arg` and `ts` are valid for the call, as EXT_ARG needs.
        let ret = unsafe {
            self.enter_raw(
                0,
                want,
                flags,
                (&arg as *const abi::io_uring_getevents_arg).cast(),
                std::mem::size_of::<abi::io_uring_getevents_arg>(),
            )
        };
        match ret {
            Ok(_) | Err(Errno::TIME) | Err(Errno::INTR) => Ok(self.cq.len()),
            Err(errno) => Err(Error::kernel(
                "io_uring_enter",
                errno,
                if errno == Errno::INVAL {
                    "IORING_ENTER_ABS_TIMER refused: this kernel may predate it (Linux 6.12)"
                } else {
                    ""
                },
            )),
        }
    }
}
