//! Submitting and waiting: the hot submit path, and every way of waiting
//! for completions, all through one typed wait argument, [`WaitArgs`].
//!
//! Over 700 lines because its unit tests (the last ~90 lines) live here
//! with the route decisions they check; the code itself is under 700.
//!
//! The submit path (`submit` → `submit_inner` → `submit_route` →
//! `enter_published`) is written so that, inlined into the caller's loop,
//! it publishes the SQ tail, tests one byte (or one thread token) and
//! issues the `io_uring_enter` syscall inline: keep its `#[inline(always)]`
//! and its shape (`ringwise-bench/callgrind.sh` counts its instructions).
//!
//! Waits with an argument (a timeout, a minimum wait, a signal mask) go
//! through `io_uring_getevents_arg` (`IORING_ENTER_EXT_ARG`, Linux 5.11).
//! What is written once here: the conversion of a [`WaitArgs`] into that
//! structure ([`WaitArgs::with_kernel_arg`]), the feature checks
//! (`check_wait_args`), and the rule that a wait with an argument which ends
//! by timing out or by a signal is not an error (`wait_ended_early`).

use super::{Ring, Submitted};
use crate::abi;
use crate::cqueue::Drain;
use crate::entry::{CqeSize, PrepareSqe, SafeOp, SqeSize};
use crate::error::{Error, Result};
use crate::flags::{Features, SetupFlags};
use crate::sys;
use rustix::io::Errno;
use std::ffi::c_void;
use std::time::{Duration, Instant};

/// How a wait may end besides `want` completions arriving: a timeout or a
/// deadline, a minimum wait, and the signal mask to wait with. The
/// argument of [`Ring::wait_with`] and [`Ring::submit_and_wait_with`], which
/// every wait of the ring goes through.
///
/// The default (all `None`) waits for `want` completions with no time limit
/// and no extended argument, on any kernel. Anything set makes the wait pass
/// `IORING_ENTER_EXT_ARG` (Linux 5.11, `IORING_FEAT_EXT_ARG`); a wait that
/// then times out (`ETIME`) is not an error: it returns the CQEs ready,
/// fewer than asked for. A signal ends only a wait given a signal mask (see
/// below).
///
/// ```
/// use ringwise::{op::Nop, Ring, WaitArgs};
/// use std::time::Duration;
///
/// let mut ring: Ring = Ring::new(8)?;
/// // Nothing queued: the wait ends after 10 ms with no CQE, without an error.
/// let ready = ring.wait_with(1, &WaitArgs::new().timeout(Duration::from_millis(10)))?;
/// assert_eq!(ready, 0);
///
/// ring.submission().push(Nop::new().user_data(1)).unwrap();
/// let args = WaitArgs::new().timeout(Duration::from_secs(1));
/// let (submitted, ready) = ring.submit_and_wait_with(1, &args)?;
/// assert_eq!((submitted.consumed, ready), (1, 1));
/// # Ok::<(), ringwise::Error>(())
/// ```
///
/// # When a wait returns
///
/// A wait for `want` CQEs returns when `want` CQEs are ready, when its time
/// limit ([`WaitArgs::timeout`], [`WaitArgs::deadline`]) has passed, or,
/// for a wait given a signal mask ([`WaitArgs::sigmask`]) only, when a
/// signal arrives. None of these is an error, and nothing else ends a wait:
///
/// * A signal that interrupts a wait without a signal mask (`EINTR`, also
///   after `SIGSTOP`/`SIGCONT` or a debugger's attach) is retried, with
///   what is left of a relative timeout. So `Ok` from
///   [`submit_and_wait(n)`](Ring::submit_and_wait) or [`wait(n)`](Ring::wait)
///   always means `n` CQEs are ready, and a timed wait that returns fewer
///   than `want` ready timed out (or, with [`WaitArgs::min_wait`], ended
///   after its minimum wait with at least one CQE, as asked).
///   Why retry rather than report: the kernel itself hides an interruption
///   whenever the same `io_uring_enter` also submitted SQEs (it returns the
///   count submitted), so only retrying gives one rule that holds for every
///   variant; and a process that is stopped and continued, or traced, did
///   not ask for its waits to end. (liburing leaves `EINTR` to its caller;
///   a program that wants a signal to end its wait says so with a signal
///   mask, as with `ppoll(2)`.)
/// * A wait given a signal mask ends when a signal arrives: it returns the
///   CQEs ready, possibly fewer than `want`, as for a timeout.
/// * `want` larger than the CQ ([`CompletionQueue::capacity`](crate::CompletionQueue::capacity))
///   is refused with [`Error::InvalidArgument`] before any syscall: no wait
///   can see more CQEs ready than the CQ holds (the kernel caps the count at
///   the CQ size, and reads it as a signed int, so `u32::MAX` would return
///   at once).
///
/// Submitting waits count what they submitted in their [`Submitted`]
/// whichever way the wait ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitArgs {
    /// End the wait after this long (relative), or, with `absolute`, when
    /// the ring's clock reads this time since its epoch. `None`: no limit.
    pub timeout: Option<Duration>,
    /// `timeout` is an absolute time on the ring's clock
    /// (`IORING_ENTER_ABS_TIMER`, Linux 6.12; the clock is `CLOCK_MONOTONIC`
    /// unless changed with `IORING_REGISTER_CLOCK`).
    pub absolute: bool,
    /// The minimum wait (`min_wait_usec`, `IORING_FEAT_MIN_TIMEOUT`, Linux
    /// 6.12), in microseconds as the kernel counts it: until it has passed,
    /// only `want` CQEs end the wait; after it, any one CQE does (the
    /// `timeout` still bounds the whole wait). For batching without
    /// stalling when traffic is light.
    pub min_wait: Option<Duration>,
    /// The signal mask to wait with, as `ppoll(2)` takes one: the thread's
    /// mask is replaced by this one for the duration of the wait, so that a
    /// signal blocked elsewhere can interrupt it. Bit `n - 1` is signal `n`
    /// (the kernel's 64-bit `sigset_t`).
    pub sigmask: Option<u64>,
}

impl WaitArgs {
    /// No timeout, no minimum wait, the thread's own signal mask.
    pub const fn new() -> WaitArgs {
        WaitArgs { timeout: None, absolute: false, min_wait: None, sigmask: None }
    }

    /// End the wait after `timeout`.
    pub const fn timeout(mut self, timeout: Duration) -> WaitArgs {
        self.timeout = Some(timeout);
        self.absolute = false;
        self
    }

    /// End the wait when the ring's clock reads `deadline` (an absolute time
    /// since that clock's epoch; `IORING_ENTER_ABS_TIMER`, Linux 6.12).
    pub const fn deadline(mut self, deadline: Duration) -> WaitArgs {
        self.timeout = Some(deadline);
        self.absolute = true;
        self
    }

    /// Wait at least `min_wait` for `want` CQEs before settling for any one
    /// (`IORING_FEAT_MIN_TIMEOUT`, Linux 6.12).
    pub const fn min_wait(mut self, min_wait: Duration) -> WaitArgs {
        self.min_wait = Some(min_wait);
        self
    }

    /// Wait with this signal mask (bit `n - 1` blocks signal `n`).
    pub const fn sigmask(mut self, mask: u64) -> WaitArgs {
        self.sigmask = Some(mask);
        self
    }

    /// Nothing set: a plain `GETEVENTS` wait, with no extended argument.
    pub const fn is_plain(&self) -> bool {
        self.timeout.is_none() && self.min_wait.is_none() && self.sigmask.is_none()
    }

    /// These arguments for a wait resumed `elapsed` after it began: a
    /// relative timeout shrinks by `elapsed` (`None` when it has run out);
    /// a deadline, a minimum wait and a signal mask stay as they are.
    fn resumed_after(&self, elapsed: Duration) -> Option<WaitArgs> {
        match self.timeout {
            Some(t) if !self.absolute => {
                let left = t.checked_sub(elapsed).filter(|left| !left.is_zero())?;
                Some(WaitArgs { timeout: Some(left), ..*self })
            }
            _ => Some(*self),
        }
    }

    /// Call `f` with the enter flags this wait adds (`EXT_ARG`, and
    /// `ABS_TIMER` for a deadline) and a pointer to the kernel's
    /// `io_uring_getevents_arg` with its size. The structure, and the
    /// timespec and signal mask it points to, live on this frame: valid for
    /// the duration of `f` only, which is when the kernel reads them.
    fn with_kernel_arg<R>(&self, f: impl FnOnce(u32, *const c_void, usize) -> R) -> R {
        let ts = self.timeout.map(|t| linux_raw_sys::general::__kernel_timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: t.subsec_nanos() as i64,
        });
        let mask = self.sigmask.unwrap_or(0);
        let arg = abi::io_uring_getevents_arg {
            sigmask: if self.sigmask.is_some() { std::ptr::from_ref(&mask) as u64 } else { 0 },
            sigmask_sz: if self.sigmask.is_some() { std::mem::size_of::<u64>() as u32 } else { 0 },
            min_wait_usec: self.min_wait.map_or(0, |d| d.as_micros().min(u32::MAX as u128) as u32),
            ts: ts.as_ref().map_or(0, |ts| std::ptr::from_ref(ts) as u64),
        };
        let mut flags = abi::IORING_ENTER_EXT_ARG;
        if self.absolute && self.timeout.is_some() {
            flags |= abi::IORING_ENTER_ABS_TIMER;
        }
        f(flags, std::ptr::from_ref(&arg).cast(), std::mem::size_of::<abi::io_uring_getevents_arg>())
    }
}

/// A cold path's result on the submit path, passed on as a value of its own
/// (through `black_box`, an identity function the optimiser cannot see
/// through). Returned as is, a cold function writes straight into the
/// caller's result, so the inlined hot path has to keep its own `Ok` in
/// that memory too, on every submit: two stores the optimiser does not
/// remove, and a register of the caller's loop kept for the result's address
/// (callgrind, `ringwise bench nop`, batch 1). Only the cold branches pay the
/// copy.
#[inline(always)]
fn detached(result: Result<Submitted>) -> Result<Submitted> {
    std::hint::black_box(result)
}

/// Whether a wait with an extended argument that failed with `errno` merely
/// ended early: it timed out (`ETIME`) or a signal interrupted it (`EINTR`).
/// Such a wait is not an error; the CQEs ready are returned.
fn wait_ended_early(errno: Errno) -> bool {
    errno == Errno::TIME || errno == Errno::INTR
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// The CQEs ready now. When the CQ looks empty but the kernel holds
    /// overflowed CQEs or pending task work, they are flushed in first, so no
    /// CQE is ever left behind.
    ///
    /// The SQ flags say when that is so (`IORING_SQ_CQ_OVERFLOW`, and
    /// `IORING_SQ_TASKRUN` on a `TASKRUN_FLAG` ring), except on a
    /// `DEFER_TASKRUN` ring set up without `TASKRUN_FLAG`: there completions
    /// wait as task work that only an enter with `GETEVENTS` from the owning
    /// thread runs, and nothing in shared memory says that any is pending.
    /// On such a ring an empty CQ always costs one `io_uring_enter` (a
    /// syscall per call that finds nothing; set up with
    /// [`Builder::taskrun_flag`](crate::Builder::taskrun_flag) to avoid it).
    #[inline]
    pub fn completions(&mut self) -> Result<Drain<'_, C>> {
        if self.cq.is_empty()
            && (self.sq.ring_flags() & (abi::IORING_SQ_CQ_OVERFLOW | abi::IORING_SQ_TASKRUN) != 0
                || self.enter.setup & (SetupFlags::DEFER_TASKRUN | SetupFlags::TASKRUN_FLAG)
                    == SetupFlags::DEFER_TASKRUN)
        {
            self.get_events()?;
        }
        Ok(self.cq.drain())
    }

    /// Enter the kernel only to flush overflowed CQEs and run task work.
    pub fn get_events(&mut self) -> Result<()> {
        self.enter(0, 0, abi::IORING_ENTER_GETEVENTS, std::ptr::null(), 0).map(|_| ())
    }

    /// Queue `op`, first submitting what is queued when the SQ is full: the
    /// loop every server writes around [`SubmissionQueue::push`](crate::SubmissionQueue::push). Fails with
    /// [`Error::SubmissionQueueFull`] only when that submit consumed nothing.
    pub fn push_or_submit<O: SafeOp>(&mut self, op: O) -> Result<()> {
        self.make_room()?;
        self.submission().push(op).map_err(|_| Error::SubmissionQueueFull { capacity: self.sq.capacity() })
    }

    /// [`push_or_submit`](Self::push_or_submit) for any op.
    ///
    /// # Safety
    /// As for [`SubmissionQueue::push_unchecked`](crate::SubmissionQueue::push_unchecked): every pointer the op
    /// carries must stay valid until its CQE has been reaped.
    pub unsafe fn push_or_submit_unchecked<O: PrepareSqe>(&mut self, op: O) -> Result<()> {
        self.make_room()?;
        // SAFETY: forwarded contract.
        unsafe { self.submission().push_unchecked(op) }
            .map_err(|_| Error::SubmissionQueueFull { capacity: self.sq.capacity() })
    }

    /// Submit when the SQ has no free slot.
    fn make_room(&mut self) -> Result<()> {
        if self.submission().space() == 0 {
            self.submit()?;
        }
        Ok(())
    }

    /// Publish queued SQEs and tell the kernel. Returns what was consumed.
    ///
    /// With nothing queued this makes no syscall, except on an SQPOLL ring
    /// whose SQ flags report overflowed CQEs or pending task work: then it
    /// enters with `GETEVENTS` (waiting for nothing) so that they reach the
    /// CQ, which nothing else on such a ring would do.
    ///
    /// On an SQPOLL ring the kernel thread consumes SQEs on its own time,
    /// and may even post their CQEs before it moves the SQ head: one
    /// `Submitted` is a snapshot of the head as this call read it. Every SQE
    /// the kernel consumes is counted in exactly one `Submitted` (of this
    /// call or a later one), so the sum over submits is exact once the SQ
    /// has drained (`remaining == 0`).
    #[inline]
    pub fn submit(&mut self) -> Result<Submitted> {
        self.submit_and_wait(0)
    }

    /// Submit, then wait until at least `want` CQEs are ready. `Ok` means
    /// they are: a signal does not end this wait (see [`WaitArgs`](WaitArgs#when-a-wait-returns)).
    /// `want` larger than the CQ is refused with
    /// [`Error::InvalidArgument`]. As for [`submit`](Self::submit), on
    /// SQPOLL the `Submitted` is a snapshot.
    #[inline(always)]
    pub fn submit_and_wait(&mut self, want: u32) -> Result<Submitted> {
        if want > self.cq.capacity() {
            return detached(Err(self.want_refused(want)));
        }
        // Waits cut short are finished where the enter's result is taken
        // apart (`enter_published`, `submit_polled`): checked here, on the
        // returned `Result`, the round trip cost 32 to 36 instructions more
        // (callgrind, batch 1).
        self.submit_inner(want, abi::IORING_ENTER_GETEVENTS, std::ptr::null(), 0)
    }

    /// The enter of a submit failed with `errno` and consumed nothing: a
    /// plain wait interrupted by a signal (`flags` just `GETEVENTS`) waits
    /// on; anything else is the error.
    #[cold]
    #[inline(never)]
    fn enter_failed(&mut self, errno: Errno, want: u32, flags: u32, remaining: u32) -> Result<Submitted> {
        if errno == Errno::INTR && flags == abi::IORING_ENTER_GETEVENTS && want > 0 {
            return self.submit_and_wait_rest(want, Ok(Submitted { consumed: 0, remaining, stopped_after: None }));
        }
        Err(self.enter_error(errno))
    }

    /// `submit_and_wait` whose enter returned before `want` CQEs were ready:
    /// a signal interrupted the wait (the kernel reports that as `EINTR`
    /// only when it submitted nothing), or an IOPOLL wait gave way to the
    /// scheduler. Wait on, submitting nothing more (an SQE the kernel
    /// stopped at stays queued, as without the interruption).
    #[cold]
    #[inline(never)]
    fn submit_and_wait_rest(&mut self, want: u32, first: Result<Submitted>) -> Result<Submitted> {
        let submitted = match first {
            Ok(s) => s,
            // Nothing was consumed (or, on SQPOLL, not yet counted: the next
            // submit counts it).
            Err(e) if e.errno() == Errno::INTR => {
                Submitted { consumed: 0, remaining: self.sq.len(), stopped_after: None }
            }
            Err(e) => return Err(e),
        };
        self.wait_for_want(want)?;
        Ok(submitted)
    }

    /// Plain `GETEVENTS` waits until `want` CQEs are ready, retrying `EINTR`.
    fn wait_for_want(&mut self, want: u32) -> Result<()> {
        while self.cq.len() < want {
            match self.enter(0, want, abi::IORING_ENTER_GETEVENTS, std::ptr::null(), 0) {
                Err(e) if e.errno() != Errno::INTR => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// The error for a `want` no wait can reach (more than the CQ holds).
    #[cold]
    #[inline(never)]
    fn want_refused(&self, want: u32) -> Error {
        let capacity = self.cq.capacity();
        Error::InvalidArgument {
            what: format!("waiting for {want} completions"),
            why: format!(
                "this CQ holds at most {capacity}, so no wait can see more ready (the kernel caps the count at the \
                 CQ size and reads it as a signed int: {} would return at once); wait for at most {capacity}",
                u32::MAX
            ),
        }
    }

    #[inline(always)]
    fn submit_inner(&mut self, want: u32, wait_flags: u32, arg: *const c_void, argsz: usize) -> Result<Submitted> {
        // Two copies, each with its enter flags a constant (and the
        // "anything to do?" test reduced to `to_submit == 0` or to nothing):
        // the caller's loop usually knows which one it takes. Left to
        // itself, the optimiser sometimes merges them into one copy that
        // computes the flags at run time.
        if want > 0 {
            self.submit_route(want, wait_flags, wait_flags, arg, argsz)
        } else {
            self.submit_route(0, 0, wait_flags, arg, argsz)
        }
    }

    /// `submit_inner` with the enter flags decided (`wait_flags` or 0).
    #[inline(always)]
    fn submit_route(
        &mut self,
        want: u32,
        flags: u32,
        wait_flags: u32,
        arg: *const c_void,
        argsz: usize,
    ) -> Result<Submitted> {
        // Publish first, the route after. (Of the equivalent arrangements
        // measured, this one ran fastest at batch 1; see ringwise-bench's
        // README on how much code placement alone moves that number.)
        let to_submit = self.sq.publish();
        // Most rings take the direct route: one thread-token compare, for
        // a plain ring (the thread that entered it last) as for a ring
        // whose fd is registered (the registering thread).
        // The "anything to do?" test in `enter_published` sees the flags as
        // the caller asked for them (0 for a plain submit), not with the
        // registered-ring flag merged in: with it, a submit of nothing made
        // a syscall on every ring whose fd is registered.
        if let Some((fd, merged)) = self.enter.direct(flags) {
            return self.enter_published(to_submit, want, flags, arg, argsz, |_, _| (fd, merged));
        }
        detached(self.submit_other_route(to_submit, want, flags, wait_flags, arg, argsz))
    }

    /// The routes other than the direct one: an unusable ring, a polled
    /// ring, a ring whose fd is still to be registered or that is entered
    /// from another thread than the one that registered it. Out of line:
    /// inlined, its copy of the enter path made the register allocation of
    /// the direct route worse (about 4 instructions per submit, callgrind).
    #[inline(never)]
    fn submit_other_route(
        &mut self,
        to_submit: u32,
        want: u32,
        flags: u32,
        wait_flags: u32,
        arg: *const c_void,
        argsz: usize,
    ) -> Result<Submitted> {
        if self.enter.is_unusable() {
            return Err(self.enter.unusable().expect("unusable"));
        }
        if self.enter.polled {
            // Publishes again (the same tail) and counts for itself.
            return self.submit_polled(want, wait_flags, arg, argsz);
        }
        // The fd is still to be registered, or the ring is entered from
        // another thread than the one that registered it (or, for a plain
        // ring, than the one that entered it last: the direct route is
        // this thread's from now on).
        self.enter.adopt_thread();
        self.enter_published(to_submit, want, flags, arg, argsz, |ring, flags| ring.enter.enter_args(&ring.fd, flags))
    }

    /// Enter for `to_submit` published SQEs with the fd and flags `target`
    /// picks (called only if there is something to enter for: SQEs to
    /// submit, or `flags`, the caller's flags before the route adds its own,
    /// asking for something), and account for what was consumed.
    #[inline(always)]
    fn enter_published(
        &mut self,
        to_submit: u32,
        want: u32,
        flags: u32,
        arg: *const c_void,
        argsz: usize,
        target: impl FnOnce(&Self, u32) -> (u32, u32),
    ) -> Result<Submitted> {
        if to_submit == 0 && flags == 0 {
            return Ok(Submitted { consumed: 0, remaining: 0, stopped_after: None });
        }
        let (fd, enter_flags) = target(self, flags);
        // SAFETY: the callers in this module pass null or a valid EXT_ARG;
        // every SQE published was pushed through the typed API whose safety
        // contract covers its pointers.
        let ret = unsafe { sys::io_uring_enter_ret(fd, to_submit, want, enter_flags, arg, argsz) };
        // The kernel returns how many SQEs it consumed, and an error only
        // when it consumed none (with nothing to submit, 0 is a wait that
        // ended without error). All of them, the usual case: the SQ head is
        // at the tail just published, known without reading it back, and
        // one compare stands for "no error" and "all consumed". Anything
        // else (an error, a partial submission, a count that does not add
        // up) is taken apart out of line, from the head in ring memory.
        if ret != to_submit as isize {
            return detached(self.enter_settle(ret, want, flags));
        }
        self.sq.consumed_all(to_submit);
        let submitted = Submitted { consumed: to_submit, remaining: 0, stopped_after: None };
        if flags == abi::IORING_ENTER_GETEVENTS && self.cq.pending() < want {
            // A plain wait cut short by a signal, which the kernel does not
            // report when the same call submitted (see `WaitArgs`).
            return detached(self.submit_and_wait_rest(want, Ok(submitted)));
        }
        Ok(submitted)
    }

    /// What an enter of the submit path did when it did not simply consume
    /// everything it was given (`ret`, the kernel's raw return, differs
    /// from the count published): an error, a partial submission, or a
    /// count that disagrees with the ring memory (say, SQEs the kernel
    /// dropped). Accounted for from the SQ head the kernel published.
    #[cold]
    #[inline(never)]
    fn enter_settle(&mut self, ret: isize, want: u32, flags: u32) -> Result<Submitted> {
        let result = sys::check(ret);
        let before = self.sq.cached_head();
        let head = self.sq.sync_head();
        let consumed = head.wrapping_sub(before);
        let remaining = self.sq.local_tail().wrapping_sub(head);
        if let Err(errno) = result {
            // A wait that timed out or was interrupted after submitting: the
            // submission stands.
            if consumed == 0 {
                return self.enter_failed(errno, want, flags, remaining);
            }
        }
        let stopped_after = (remaining > 0 && consumed > 0).then(|| self.sq.sqe_at(head.wrapping_sub(1)).user_data);
        let submitted = Submitted { consumed, remaining, stopped_after };
        if flags == abi::IORING_ENTER_GETEVENTS && self.cq.pending() < want {
            // A plain wait cut short by a signal, which the kernel does not
            // report when the same call submitted (see `WaitArgs`).
            return self.submit_and_wait_rest(want, Ok(submitted));
        }
        Ok(submitted)
    }

    /// `submit_inner` for SQPOLL (the kernel thread consumes on its own;
    /// enter only to wake it or to wait) and IOPOLL (always GETEVENTS).
    #[inline(always)]
    fn submit_polled(&mut self, want: u32, wait_flags: u32, arg: *const c_void, argsz: usize) -> Result<Submitted> {
        let before = self.sq.cached_head();
        let to_submit = self.sq.publish();
        let setup = self.enter.setup;
        if !setup.contains(SetupFlags::SQPOLL) {
            // IOPOLL: every enter reaps polled completions.
            let result = self.enter(to_submit, want, wait_flags, arg, argsz);
            let head = self.sq.sync_head();
            let consumed = head.wrapping_sub(before);
            let remaining = self.sq.local_tail().wrapping_sub(head);
            let stopped_after = (remaining > 0 && consumed > 0).then(|| self.sq.sqe_at(head.wrapping_sub(1)).user_data);
            let submitted = Submitted { consumed, remaining, stopped_after };
            return match result {
                Err(e) if consumed == 0 && !(e.errno() == Errno::INTR && wait_flags == abi::IORING_ENTER_GETEVENTS) => {
                    Err(e)
                }
                _ => self.finish_plain_wait(want, wait_flags, submitted),
            };
        }
        let mut flags = 0;
        let ring_flags = self.sq.ring_flags_seqcst();
        // The SQPOLL thread consumes on its own; wake it if it sleeps.
        if ring_flags & abi::IORING_SQ_NEED_WAKEUP != 0 {
            flags |= abi::IORING_ENTER_SQ_WAKEUP;
        }
        let (mut arg, mut argsz) = (arg, argsz);
        if want > 0 {
            flags |= wait_flags;
        } else if ring_flags & (abi::IORING_SQ_CQ_OVERFLOW | abi::IORING_SQ_TASKRUN) != 0 {
            // Nothing else would ever move overflowed CQEs back into the CQ
            // (the SQ thread does not): flush them, and run task work, with
            // a GETEVENTS enter that waits for nothing.
            flags |= abi::IORING_ENTER_GETEVENTS;
            (arg, argsz) = (std::ptr::null(), 0);
        }
        if flags != 0 {
            match self.enter(to_submit, want, flags, arg, argsz) {
                Err(e) if e.errno() == Errno::INTR && want > 0 && wait_flags == abi::IORING_ENTER_GETEVENTS => {}
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        let head = self.sq.sync_head();
        let submitted = Submitted {
            consumed: head.wrapping_sub(before),
            remaining: self.sq.local_tail().wrapping_sub(head),
            stopped_after: None,
        };
        self.finish_plain_wait(want, wait_flags, submitted)
    }

    /// A polled ring's submit: a plain wait (`wait_flags` just `GETEVENTS`)
    /// that returned before `want` CQEs were ready waits on (see `WaitArgs`).
    fn finish_plain_wait(&mut self, want: u32, wait_flags: u32, submitted: Submitted) -> Result<Submitted> {
        if want > 0 && wait_flags == abi::IORING_ENTER_GETEVENTS && self.cq.len() < want {
            return self.submit_and_wait_rest(want, Ok(submitted));
        }
        Ok(submitted)
    }

    /// Wait until at least `want` CQEs are ready (submitting nothing);
    /// returns the CQEs ready, at least `want`: a signal does not end this
    /// wait (see [`WaitArgs`](WaitArgs#when-a-wait-returns)). `want` larger than the CQ is refused with
    /// [`Error::InvalidArgument`].
    pub fn wait(&mut self, want: u32) -> Result<u32> {
        self.wait_with(want, &WaitArgs::new())
    }

    /// Wait until `want` CQEs are ready or `timeout` passes (submitting
    /// nothing; `IORING_ENTER_EXT_ARG`, Linux 5.11); returns the CQEs ready:
    /// fewer than `want` means the time ran out (a timeout is not an error,
    /// and a signal does not end the wait; see [`WaitArgs`](WaitArgs#when-a-wait-returns)).
    pub fn wait_timeout(&mut self, want: u32, timeout: Duration) -> Result<u32> {
        self.wait_with(want, &WaitArgs::new().timeout(timeout))
    }

    /// Submit, then wait until `want` CQEs are ready or `timeout` passes
    /// (`IORING_ENTER_EXT_ARG`, Linux 5.11). Returns the submission and the
    /// CQEs ready: fewer than `want` means the time ran out (see
    /// [`WaitArgs`](WaitArgs#when-a-wait-returns)).
    pub fn submit_and_wait_timeout(&mut self, want: u32, timeout: Duration) -> Result<(Submitted, u32)> {
        self.submit_and_wait_with(want, &WaitArgs::new().timeout(timeout))
    }

    /// Wait (submitting nothing; queued SQEs stay queued) until `want` CQEs
    /// are ready or `args` end the wait; returns the CQEs ready. Returns at
    /// once if `want` are ready already.
    ///
    /// How a wait ends is the same for every wait ([`WaitArgs`](WaitArgs#when-a-wait-returns)): `want`
    /// CQEs ready, the time limit passed (fewer than `want` returned), or,
    /// with a signal mask only, a signal (fewer than `want` returned). A
    /// signal without a signal mask is retried with the time left.
    ///
    /// Fails with [`Error::FeatureMissing`] if `args` need a feature this
    /// kernel lacks (`EXT_ARG` for anything set, `MIN_TIMEOUT` for
    /// `min_wait`), with [`Error::InvalidArgument`] if `want` is more than
    /// the CQ holds, and with the kernel's error otherwise.
    pub fn wait_with(&mut self, want: u32, args: &WaitArgs) -> Result<u32> {
        if want > self.cq.capacity() {
            return Err(self.want_refused(want));
        }
        if self.cq.len() >= want {
            return Ok(self.cq.len());
        }
        if args.is_plain() {
            self.wait_for_want(want)?;
            return Ok(self.cq.len());
        }
        self.check_wait_args(args)?;
        self.wait_timed(want, args, Instant::now())
    }

    /// A wait with an extended argument that began at `start`, resumed
    /// after each signal (unless `args` has a signal mask) with the time
    /// left, until `want` are ready or the time is up.
    fn wait_timed(&mut self, want: u32, args: &WaitArgs, start: Instant) -> Result<u32> {
        let mut now = *args;
        loop {
            let result = now.with_kernel_arg(|flags, arg, argsz| {
                self.enter(0, want, abi::IORING_ENTER_GETEVENTS | flags, arg, argsz)
            });
            match result {
                Err(e) if e.errno() == Errno::INTR && args.sigmask.is_none() => {}
                Err(e) if !wait_ended_early(e.errno()) => return Err(e),
                _ => return Ok(self.cq.len()),
            }
            match args.resumed_after(start.elapsed()) {
                Some(left) => now = left,
                None => return Ok(self.cq.len()),
            }
        }
    }

    /// Submit what is queued, then wait until `want` CQEs are ready or
    /// `args` end the wait. Returns the submission and the CQEs ready.
    /// Ends as every wait does ([`WaitArgs`](WaitArgs#when-a-wait-returns)): fewer than `want` ready
    /// means the time ran out (or, with a signal mask, a signal arrived).
    /// Errors as for [`wait_with`](Self::wait_with); when the wait ends
    /// after the kernel consumed nothing, the submission reports everything
    /// as still queued.
    pub fn submit_and_wait_with(&mut self, want: u32, args: &WaitArgs) -> Result<(Submitted, u32)> {
        if args.is_plain() {
            let submitted = self.submit_and_wait(want)?;
            return Ok((submitted, self.cq.len()));
        }
        if want > self.cq.capacity() {
            return Err(self.want_refused(want));
        }
        self.check_wait_args(args)?;
        let start = Instant::now();
        let (submitted, ready) = args.with_kernel_arg(|flags, arg, argsz| {
            // SAFETY: `arg` is a valid io_uring_getevents_arg for the
            // duration of this call, as EXT_ARG needs.
            unsafe { self.submit_and_wait_ext(want, abi::IORING_ENTER_GETEVENTS | flags, arg, argsz) }
        })?;
        // Fewer than `want` ready: the time ran out, or a signal cut the wait
        // short (which the kernel does not report when it also submitted).
        // Resume with the time left unless the wait was meant to end so.
        let ended_as_asked = args.sigmask.is_some() || (args.min_wait.is_some() && ready > 0);
        if ready >= want || ended_as_asked {
            return Ok((submitted, ready));
        }
        match args.resumed_after(start.elapsed()) {
            Some(left) => Ok((submitted, self.wait_timed(want, &left, start)?)),
            None => Ok((submitted, ready)),
        }
    }

    /// The kernel features `args` need, checked before any enter.
    fn check_wait_args(&self, args: &WaitArgs) -> Result<()> {
        let features = self.features();
        if !features.contains(Features::EXT_ARG) {
            return Err(Error::FeatureMissing {
                what: "waiting with a timeout, minimum wait or signal mask",
                feature: "IORING_FEAT_EXT_ARG",
                since: "5.11",
            });
        }
        if args.min_wait.is_some() && !features.contains(Features::MIN_TIMEOUT) {
            return Err(Error::FeatureMissing {
                what: "waiting with a minimum wait",
                feature: "IORING_FEAT_MIN_TIMEOUT",
                since: "6.12",
            });
        }
        Ok(())
    }

    /// Enter to wait only, with an extended argument: a wait that ends
    /// early ([`wait_ended_early`]) is not an error.
    ///
    /// # Safety
    /// `arg`/`argsz` must be what `flags` make the kernel read.
    unsafe fn wait_only(&self, want: u32, flags: u32, arg: *const c_void, argsz: usize) -> Result<()> {
        match self.enter(0, want, flags, arg, argsz) {
            Err(e) if !wait_ended_early(e.errno()) => Err(e),
            _ => Ok(()),
        }
    }

    /// Submit (if anything is queued), then wait for `want` CQEs with an
    /// extended argument (`flags` holds `EXT_ARG` and maybe `EXT_ARG_REG` or
    /// `ABS_TIMER`). A timeout or a signal ends the wait without an error:
    /// the CQEs ready are returned with the submission. Shared by
    /// [`submit_and_wait_with`](Self::submit_and_wait_with) and the
    /// registered-region waits (`register/mem_region.rs`).
    ///
    /// # Safety
    /// `arg`/`argsz` must be what `flags` make the kernel read: a valid
    /// `io_uring_getevents_arg`, or an offset into the registered wait region.
    pub(crate) unsafe fn submit_and_wait_ext(
        &mut self,
        want: u32,
        flags: u32,
        arg: *const c_void,
        argsz: usize,
    ) -> Result<(Submitted, u32)> {
        let submitted =
            if self.sq.local_tail() == self.sq.cached_head() && !self.enter.setup.contains(SetupFlags::SQPOLL) {
                // Nothing to submit: wait only.
                // SAFETY: forwarded contract.
                unsafe { self.wait_only(want, flags, arg, argsz) }?;
                Submitted { consumed: 0, remaining: 0, stopped_after: None }
            } else {
                match self.submit_inner(want, flags, arg, argsz) {
                    Ok(s) => s,
                    Err(e) if wait_ended_early(e.errno()) => {
                        Submitted { consumed: 0, remaining: self.sq.len(), stopped_after: None }
                    }
                    Err(e) => return Err(e),
                }
            };
        Ok((submitted, self.cq.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_ring::TestNop;
    use crate::{Builder, Cqe16, Sqe64};

    /// `submit()` with nothing queued enters the kernel on no ring whose
    /// SQ flags ask for nothing: neither a plain ring nor one whose fd is
    /// registered (the default), on the thread that registered it (direct
    /// route) or another (general route). Counted by the `io_uring_enter`
    /// calls this thread makes.
    #[test]
    fn submit_of_nothing_makes_no_syscall() {
        for register in [false, true] {
            let mut ring = Builder::<Sqe64, Cqe16>::new(4).register_ring_fd(register).build().expect("ring");
            ring.submission().push(TestNop(1)).expect("room");
            // The first submit registers the fd (where asked) and enters.
            assert_eq!(ring.submit_and_wait(1).expect("submit").consumed, 1);
            assert_eq!(ring.registered_index().is_some(), register, "register_ring_fd({register})");
            let before = sys::enters();
            for _ in 0..3 {
                let s = ring.submit().expect("submit of nothing");
                assert_eq!((s.consumed, s.remaining), (0, 0));
            }
            assert_eq!(sys::enters() - before, 0, "submit() of nothing entered the kernel (registered fd: {register})");
            // And from another thread (the general route).
            let ring = std::thread::scope(|s| {
                s.spawn(move || {
                    let before = sys::enters();
                    ring.submit().expect("submit of nothing elsewhere");
                    assert_eq!(sys::enters() - before, 0, "another thread's submit() of nothing entered");
                    ring
                })
                .join()
                .unwrap()
            });
            // Something to submit still enters, once.
            let mut ring = ring;
            ring.submission().push(TestNop(2)).expect("room");
            let before = sys::enters();
            assert_eq!(ring.submit().expect("submit").consumed, 1);
            assert_eq!(sys::enters() - before, 1);
        }
    }

    /// What `with_kernel_arg` hands the kernel: (flags, the argument, the
    /// timespec it points to, the signal mask it points to).
    #[allow(clippy::type_complexity)]
    fn kernel_view(args: &WaitArgs) -> (u32, abi::io_uring_getevents_arg, Option<(i64, i64)>, Option<u64>) {
        args.with_kernel_arg(|flags, arg, argsz| {
            assert_eq!(argsz, std::mem::size_of::<abi::io_uring_getevents_arg>());
            // SAFETY: `arg` and what it points to are valid during this call.
            unsafe {
                let arg = arg.cast::<abi::io_uring_getevents_arg>().read();
                let ts = (arg.ts != 0).then(|| {
                    let ts = (arg.ts as *const linux_raw_sys::general::__kernel_timespec).read();
                    (ts.tv_sec, ts.tv_nsec)
                });
                let mask = (arg.sigmask != 0).then(|| (arg.sigmask as *const u64).read());
                (flags, arg, ts, mask)
            }
        })
    }

    #[test]
    fn wait_args_become_the_kernels_argument() {
        assert!(WaitArgs::new().is_plain());
        assert!(WaitArgs::default().is_plain());

        let (flags, arg, ts, mask) = kernel_view(&WaitArgs::new().timeout(Duration::new(2, 500)));
        assert_eq!(flags, abi::IORING_ENTER_EXT_ARG);
        assert_eq!(ts, Some((2, 500)));
        assert_eq!((mask, arg.sigmask_sz, arg.min_wait_usec), (None, 0, 0));

        let (flags, _, ts, _) = kernel_view(&WaitArgs::new().deadline(Duration::from_secs(7)));
        assert_eq!(flags, abi::IORING_ENTER_EXT_ARG | abi::IORING_ENTER_ABS_TIMER);
        assert_eq!(ts, Some((7, 0)));

        let args = WaitArgs::new().min_wait(Duration::from_micros(250)).sigmask(1 << 9);
        assert!(!args.is_plain());
        let (flags, arg, ts, mask) = kernel_view(&args);
        assert_eq!(flags, abi::IORING_ENTER_EXT_ARG);
        assert_eq!((ts, arg.min_wait_usec), (None, 250));
        assert_eq!((mask, arg.sigmask_sz), (Some(1 << 9), 8));

        // Durations past what the kernel's fields hold are clamped, not wrapped.
        let (_, arg, ts, _) = kernel_view(&WaitArgs::new().timeout(Duration::MAX).min_wait(Duration::MAX));
        assert_eq!(ts.map(|t| t.0), Some(i64::MAX));
        assert_eq!(arg.min_wait_usec, u32::MAX);
    }
}
