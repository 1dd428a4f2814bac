//! The driver: a ring, the op table, and the rules that keep what the kernel
//! uses alive until the kernel is done with it.

use super::handle::{Op, Stream};
use super::sharing::{sealed::Sealed, Local, Sharing, Threads};
use super::slab::{set_of, Entry, Key, Slab, IGNORED_USER_DATA, SET_BIT};
use super::{Orphan, OwnedOp, OwnedStream};
use crate::abi::{IORING_CQE_F_MORE, IORING_SQ_CQ_OVERFLOW, IORING_SQ_TASKRUN};
use crate::entry::{Cqe, Sqe};
use crate::error::{Error, Result};
use crate::flags::SetupFlags;
use crate::op::AsyncCancel;
use crate::{Builder, Errno, Ring};
use std::fmt;
use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// How long teardown waits for the kernel to give back ops in flight, by
/// default ([`Driver::set_teardown_timeout`]).
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// The most SQEs one owned op takes ([`OwnedOp::SQES`]).
pub(crate) const MAX_SQES: usize = 4;

/// The longest a blocking wait sleeps in the kernel before looking at the
/// table again (another thread may have moved its CQE to its slot).
pub(crate) const WAIT_SLICE: Duration = Duration::from_millis(10);

/// How often teardown repeats its cancel request while ops remain.
const CANCEL_EVERY: Duration = Duration::from_millis(50);

/// A ring that runs owned ops: [`submit`](Self::submit) an op, then take
/// its result and its buffer back from the returned [`Op`], by waiting on
/// it or awaiting it.
///
/// `Driver` is a cheap handle (`Clone`, `Send`, `Sync`): every clone and
/// every op handle share one ring and one op table behind a mutex, taken
/// once per submit, per drive and per result (uncontended when one thread
/// uses the ring, which is the fast way to use it: one driver per thread).
/// The ring uses 64-byte SQEs and 16-byte CQEs.
///
/// # One thread: `Driver<Local>`
///
/// A ring used by one thread only needs no mutex: [`Driver::local`] makes a
/// `Driver<Local>`, the same API whose clones and handles share the state
/// through an `Rc` and a `RefCell` ([`Local`]). They are `!Send`, so the
/// compiler keeps them on their thread, and an op costs no atomic
/// operation (an async 4 KiB read on tokio: about 100 fewer user-space
/// instructions, and 1.03-1.06 times the reads per second of the default
/// driver in `ringwise-bench`'s `file_reads`, 2026). The default,
/// `Driver<Threads>`, is what `Driver` names.
///
/// # Driving
///
/// The kernel completes ops, but someone has to enter the kernel to submit
/// them and to move completions to their handles:
/// * synchronously, [`Op::wait`] and [`Driver::wait`] do it (they block the
///   thread in the kernel until a completion arrives);
/// * asynchronously, an executor calls [`drive`](Self::drive) whenever the
///   ring's fd ([`as_raw_fd`](AsRawFd::as_raw_fd), pollable: readable when
///   completions are waiting) is readable, and when the waker set by
///   [`set_drive_waker`](Self::set_drive_waker) fires (ops were pushed);
///   [`block_on`](Self::block_on) does that on the current thread, and the
///   `ringwise-tokio` crate from tokio's reactor.
///
/// # Teardown
///
/// When the last `Driver` clone is dropped, the driver refuses new ops,
/// asks the kernel to cancel everything in flight (`ASYNC_CANCEL` with
/// `ANY | ALL`, repeated every 50 ms), and reaps until every op has given
/// its final CQE: buffers of dropped handles are freed then, and live
/// handles get their results (usually `ECANCELED`). That takes as long as
/// the slowest op takes to stop: most stop at once; a read already running
/// in an io-wq worker finishes first. It is bounded by the teardown timeout
/// (10 s unless [`set_teardown_timeout`](Self::set_teardown_timeout) says
/// otherwise): whatever the kernel still holds then is leaked, never freed
/// ([`DriverStats::leaked`]). The ring itself is closed when the last op
/// handle is gone too.
///
/// ```
/// use ringwise::owned::{ops, Driver, SharedFd};
/// use std::io::Write;
///
/// let (a, b) = std::os::unix::net::UnixStream::pair()?;
/// let (a, b) = (SharedFd::from(a), SharedFd::from(b));
/// let driver = Driver::new(8)?;
/// let recv = driver.submit(ops::Recv::new(&b, Vec::with_capacity(16)))?;
/// let (sent, _) = driver.submit(ops::Send::new(&a, b"ping".to_vec()))?.wait()?;
/// assert_eq!(sent?, 4);
/// let (got, buf) = recv.wait()?;
/// assert_eq!(&buf[..got?], b"ping");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Driver<S: Sharing = Threads> {
    shared: SharedPtr<S>,
}

/// How a driver and its handles own the shared state: an `Arc`
/// ([`Threads`]) or an `Rc` ([`Local`]).
pub(crate) type SharedPtr<S> = <S as Sealed>::Ptr<Shared<S>>;

/// What the op handles share with the driver.
pub(crate) struct Shared<S: Sharing> {
    state: S::Cell<State>,
    /// Live `Driver` clones: the last one tears the ring down.
    drivers: AtomicUsize,
    ring_fd: RawFd,
    /// The driver's identity ([`DriverId`]): the address of this
    /// allocation, which buffer groups and fixed-buffer pools hold weakly so
    /// that no other driver can get it while they live (a `Weak` of its
    /// own, because one of the whole state would make them `!Send` with a
    /// [`Local`] driver).
    id_token: Arc<u8>,
    /// The address of `id_token`'s allocation, kept at hand: every submit
    /// checks its op against it.
    id: DriverId,
}

/// The guard of a driver's state.
pub(crate) type Guard<'a, S> = <S as Sealed>::Guard<'a, State>;

/// Everything behind the lock.
pub(crate) struct State {
    pub(crate) ring: Ring,
    pub(crate) slab: Slab,
    /// No new ops: the last `Driver` was dropped.
    pub(crate) closed: bool,
    /// Woken (once) when an SQE is pushed: the executor's driving task.
    drive_waker: Option<Waker>,
    /// Orphans whose final CQE arrived, finished outside the lock.
    graveyard: Vec<(Box<dyn Orphan>, i32, u32)>,
    /// Orphans teardown gave up on (leaked, never freed).
    leaked: usize,
    /// CQEs of [`OpSet`](super::OpSet)s' ops (`user_data`, result, flags),
    /// in arrival order, for their sets to take: while one set lives, all
    /// of them are its own, and it takes the log whole.
    pub(crate) ready_log: Vec<Cqe>,
    teardown_timeout: Duration,
    defer_taskrun: bool,
}

/// An op [`Driver::submit`] could not queue, given back with the reason:
/// nothing the op owned is lost.
pub struct Refused<T> {
    /// Why.
    pub error: Error,
    /// The op, with everything it owned.
    pub op: T,
}

impl<T> Refused<T> {
    /// The op back.
    pub fn into_inner(self) -> T {
        self.op
    }
}

impl<T> fmt::Debug for Refused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused").field("error", &self.error).finish_non_exhaustive()
    }
}

impl<T> fmt::Display for Refused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op not submitted: {}", self.error)
    }
}

impl<T> std::error::Error for Refused<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<T> From<Refused<T>> for Error {
    fn from(r: Refused<T>) -> Error {
        r.error
    }
}

impl<T> From<Refused<T>> for std::io::Error {
    fn from(r: Refused<T>) -> std::io::Error {
        r.error.into()
    }
}

/// Which driver an op is submitted to ([`Driver::id`]), for ops whose
/// validity depends on it ([`OwnedOp::validate_for`]): equal for clones of
/// one driver, different for drivers alive at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DriverId(usize);

impl DriverId {
    /// The id of the driver whose identity allocation is at `token` (the
    /// address [`Shared::id`] gives).
    #[inline]
    pub(crate) fn of(token: *const u8) -> DriverId {
        DriverId(token as usize)
    }
}

/// Counters of a driver ([`Driver::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverStats {
    /// Ops whose final CQE has not arrived.
    pub in_flight: usize,
    /// Slots of the op table (its high-water mark): the table allocates only
    /// when more ops are in flight at once than ever before.
    pub slots: usize,
    /// Ops teardown gave up waiting for: their memory was leaked, never
    /// freed.
    pub leaked: usize,
}

impl Driver {
    /// A driver on a new ring of `entries` SQEs (default flags).
    pub fn new(entries: u32) -> Result<Driver> {
        Driver::with_builder(Builder::new(entries))
    }

    /// A driver on a ring set up by `builder` (any flags; `SQPOLL`,
    /// `DEFER_TASKRUN` and `SINGLE_ISSUER` included: with `SINGLE_ISSUER`
    /// only the creating thread may submit and wait, and so only it can
    /// tear the ring down: dropped elsewhere, the driver cannot enter the
    /// kernel, and what is in flight is leaked, never freed, and counted in
    /// [`DriverStats::leaked`]).
    pub fn with_builder(builder: Builder) -> Result<Driver> {
        Driver::from_ring(builder.build()?)
    }

    /// A driver on an existing ring, which must have nothing in flight (its
    /// CQEs would reach ops they are not for): it is refused if its SQ or
    /// CQ holds entries.
    pub fn from_ring(ring: Ring) -> Result<Driver> {
        Driver::on_ring(ring)
    }
}

/// A driver for one thread: [`Local`] sharing (see its docs), the same API.
impl Driver<Local> {
    /// A driver for this thread only, on a new ring of `entries` SQEs
    /// (default flags): its handles are `!Send`, and submitting, driving
    /// and taking a result take no lock (no atomic operation).
    ///
    /// ```
    /// use ringwise::owned::{ops, Driver, SharedFd};
    ///
    /// let file = SharedFd::from(std::fs::File::open("/proc/self/exe")?);
    /// let driver = Driver::local(8)?;
    /// let (res, buf) = driver.block_on(async {
    ///     driver.submit(ops::Read::at(&file, vec![0u8; 4], 0)).unwrap().await
    /// })?;
    /// assert_eq!(res?, 4);
    /// assert_eq!(&buf[..], b"\x7fELF");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local(entries: u32) -> Result<Driver<Local>> {
        Driver::local_with_builder(Builder::new(entries))
    }

    /// A driver for this thread only, on a ring set up by `builder` (any
    /// flags: `SINGLE_ISSUER` and `DEFER_TASKRUN` suit it, the ring being
    /// used by one thread anyway).
    pub fn local_with_builder(builder: Builder) -> Result<Driver<Local>> {
        Driver::on_ring(builder.build()?)
    }

    /// A driver for this thread only, on an existing ring with nothing in
    /// flight (as [`from_ring`](Driver::from_ring)).
    pub fn local_from_ring(ring: Ring) -> Result<Driver<Local>> {
        Driver::on_ring(ring)
    }
}

impl<S: Sharing> Driver<S> {
    /// A driver of either sharing on `ring` (see `from_ring`).
    fn on_ring(mut ring: Ring) -> Result<Driver<S>> {
        if !ring.submission().is_empty() || !ring.completion().is_empty() {
            return Err(Error::InvalidArgument {
                what: "a ring with queued SQEs or unreaped CQEs".into(),
                why: "an owned-I/O driver needs a ring with nothing in flight, so that every CQE is one of its ops'"
                    .into(),
            });
        }
        let ring_fd = match ring.fd() {
            Some(fd) => fd.as_raw_fd(),
            None => {
                return Err(Error::InvalidArgument {
                    what: "a ring whose fd was closed after registering it".into(),
                    why: "the driver polls the ring's fd; keep it open".into(),
                })
            }
        };
        let defer_taskrun = ring.setup_flags().contains(SetupFlags::DEFER_TASKRUN);
        let state = State {
            ring,
            slab: Slab::new(),
            closed: false,
            drive_waker: None,
            graveyard: Vec::new(),
            leaked: 0,
            ready_log: Vec::new(),
            teardown_timeout: TEARDOWN_TIMEOUT,
            defer_taskrun,
        };
        let id_token = Arc::new(0);
        let id = DriverId::of(Arc::as_ptr(&id_token));
        let shared = Shared { state: S::cell(state), drivers: AtomicUsize::new(1), ring_fd, id_token, id };
        Ok(Driver { shared: S::ptr(shared) })
    }

    /// Queue `op`: it is in the SQ when this returns, and goes to the kernel
    /// at the next enter (a wait, a drive, or when the SQ is full). The
    /// handle gives the op's output back ([`Op::wait`], or `.await`).
    ///
    /// Refused (with the op given back) when the driver is closed, when the
    /// op is invalid (say, a buffer longer than the kernel's 32-bit length
    /// field), or when the SQ stays full after a submit.
    #[inline]
    pub fn submit<T: OwnedOp>(&self, op: T) -> std::result::Result<Op<T, S>, Refused<T>> {
        match self.shared.push_op(op) {
            Ok((key, op)) => Ok(Op::new(self.shared.clone(), key, op)),
            Err(refused) => Err(refused),
        }
    }

    /// Queue a multishot op; its CQEs come out of the returned [`Stream`].
    pub fn submit_stream<T: OwnedStream>(&self, mut op: T) -> std::result::Result<Stream<T, S>, Refused<T>> {
        let mut st = self.shared.lock();
        if let Err(error) = st.ready_for(1) {
            return Err(Refused { error, op });
        }
        let key =
            st.slab.insert(Entry::Streaming { queue: std::collections::VecDeque::new(), waker: None, finished: false });
        let ud = key.user_data();
        // SAFETY: the OwnedStream contract: the SQE's pointers are into
        // memory `op` owns, stable across moves; `op` stays in the handle
        // (or, dropped, in the table) until its final CQE.
        let pushed = unsafe {
            st.ring.submission().push_raw(|sqe| {
                op.prepare(sqe);
                sqe.user_data = ud;
            })
        };
        debug_assert!(pushed.is_ok(), "ready_for made room");
        let waker = st.drive_waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(Stream::new(self.shared.clone(), key, op))
    }

    /// Submit what is queued and move every completion that arrived to its
    /// handle (waking its future), without blocking. Returns how many CQEs
    /// were handled. The executor's part of [driving](Self#driving).
    pub fn drive(&self) -> Result<usize> {
        let mut st = self.shared.lock();
        let mut n = 0;
        let entered = State::submit_and_dispatch_counting(&mut st, &mut n);
        self.shared.unlock_and_bury(st);
        entered.map(|()| n)
    }

    /// [`drive`](Self::drive), after remembering `waker` as
    /// [`set_drive_waker`](Self::set_drive_waker) does, under one lock: what
    /// an executor's driving task does on every poll.
    pub fn drive_with_waker(&self, waker: &Waker) -> Result<usize> {
        let mut st = self.shared.lock();
        match &st.drive_waker {
            Some(w) if w.will_wake(waker) => {}
            _ => st.drive_waker = Some(waker.clone()),
        }
        let mut n = 0;
        let entered = State::submit_and_dispatch_counting(&mut st, &mut n);
        self.shared.unlock_and_bury(st);
        entered.map(|()| n)
    }

    /// Submit what is queued and block until at least `min` CQEs have
    /// arrived (0: do not block), then move them to their handles. Returns
    /// how many CQEs were handled.
    pub fn wait(&self, min: u32) -> Result<usize> {
        self.wait_until(min, None)
    }

    /// As [`wait`](Self::wait), but returns after `timeout` even if fewer
    /// than `min` CQEs arrived: the event loop of a program that also has
    /// other work (or a deadline).
    pub fn wait_timeout(&self, min: u32, timeout: Duration) -> Result<usize> {
        self.wait_until(min, Some(Instant::now() + timeout))
    }

    /// [`wait`](Self::wait) until `deadline`, if any.
    fn wait_until(&self, min: u32, deadline: Option<Instant>) -> Result<usize> {
        let mut handled = 0;
        loop {
            let mut st = self.shared.lock();
            State::submit_and_dispatch_counting(&mut st, &mut handled)?;
            let idle = st.slab.in_flight == 0 && st.mailboxes() == 0;
            self.shared.unlock_and_bury(st);
            if handled >= min as usize || idle {
                return Ok(handled);
            }
            let slice = match deadline {
                None => WAIT_SLICE,
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(WAIT_SLICE),
                    _ => return Ok(handled),
                },
            };
            self.shared.block(slice)?;
        }
    }

    /// Remember `waker` and wake it (once) when the next op is pushed, so
    /// that the executor's driving task calls [`drive`](Self::drive).
    pub fn set_drive_waker(&self, waker: &Waker) {
        let mut st = self.shared.lock();
        match &st.drive_waker {
            Some(w) if w.will_wake(waker) => {}
            _ => st.drive_waker = Some(waker.clone()),
        }
    }

    /// Whether SQEs are queued that the kernel has not been handed yet.
    pub fn has_unsubmitted(&self) -> bool {
        !self.shared.lock().ring.submission().is_empty()
    }

    /// Run `future` to completion on this thread, driving this ring while it
    /// waits: the simplest executor for owned ops.
    ///
    /// Between polls it blocks in the kernel until a completion arrives. A
    /// future that also waits on something else (a channel fed by another
    /// thread) is woken through its waker, and seen within 10 ms while ops of
    /// this ring are in flight.
    ///
    /// ```
    /// use ringwise::owned::{ops, Driver};
    /// use std::time::Duration;
    ///
    /// let driver = Driver::new(8)?;
    /// let res = driver.block_on(async {
    ///     let a = driver.submit(ops::Timeout::after(Duration::from_millis(2))).unwrap();
    ///     let b = driver.submit(ops::Timeout::after(Duration::from_millis(1))).unwrap();
    ///     (b.await, a.await)
    /// })?;
    /// assert!(res.0.is_ok() && res.1.is_ok());
    /// # Ok::<(), ringwise::Error>(())
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> Result<F::Output> {
        struct Flag(AtomicBool, std::thread::Thread);
        impl Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.wake_by_ref();
            }
            fn wake_by_ref(self: &Arc<Self>) {
                self.0.store(true, Ordering::Release);
                self.1.unpark();
            }
        }
        let flag = Arc::new(Flag(AtomicBool::new(false), std::thread::current()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            flag.0.store(false, Ordering::Release);
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return Ok(out);
            }
            self.drive()?;
            if flag.0.load(Ordering::Acquire) {
                continue;
            }
            let waiting = {
                let st = self.shared.lock();
                st.slab.in_flight > 0 || st.mailboxes() > 0
            };
            if waiting {
                self.shared.block(WAIT_SLICE)?;
            } else {
                // Nothing of ours can wake it: wait for the waker.
                while !flag.0.load(Ordering::Acquire) {
                    std::thread::park();
                }
            }
        }
    }

    /// Run `f` with the ring, for registrations (files, buffers) and
    /// queries. Only a shared borrow: pushing SQEs or reaping CQEs behind
    /// the driver's back would break its bookkeeping.
    pub fn with_ring<R>(&self, f: impl FnOnce(&Ring) -> R) -> R {
        let st = self.shared.lock();
        f(&st.ring)
    }

    /// Run `f` with the ring mutably, for the registrations that need it
    /// (provided-buffer rings, resizing).
    ///
    /// # Safety
    /// `f` must not push SQEs or consume CQEs: a CQE whose `user_data` names
    /// an op of the driver would hand that op's buffer back while the kernel
    /// may still write it, and a CQE taken from the queue leaves its op
    /// waiting forever.
    pub unsafe fn with_ring_mut<R>(&self, f: impl FnOnce(&mut Ring) -> R) -> R {
        let mut st = self.shared.lock();
        f(&mut st.ring)
    }

    /// The state the driver shares with its handles (for handles made
    /// outside this file: mailboxes, buffer groups).
    pub(crate) fn shared(&self) -> &SharedPtr<S> {
        &self.shared
    }

    /// This driver's identity (shared by its clones).
    pub fn id(&self) -> DriverId {
        self.shared.id()
    }

    /// The driver's counters.
    pub fn stats(&self) -> DriverStats {
        let st = self.shared.lock();
        DriverStats { in_flight: st.slab.in_flight, slots: st.slab.capacity(), leaked: st.leaked }
    }

    /// How long teardown waits for the kernel before leaking what it still
    /// holds ([`Driver`]'s "Teardown").
    pub fn set_teardown_timeout(&self, timeout: Duration) {
        self.shared.lock().teardown_timeout = timeout;
    }

    /// Cancel everything in flight and reap until the kernel has given every
    /// op back (or the teardown timeout passed), then refuse new ops: what
    /// dropping the last `Driver` does, here for any clone to call. Returns
    /// the driver's counters after it.
    pub fn shutdown(&self) -> DriverStats {
        self.shared.teardown();
        self.stats()
    }
}

impl<S: Sharing> Clone for Driver<S> {
    fn clone(&self) -> Driver<S> {
        self.shared.drivers.fetch_add(1, Ordering::Relaxed);
        Driver { shared: self.shared.clone() }
    }
}

impl<S: Sharing> Drop for Driver<S> {
    fn drop(&mut self) {
        if self.shared.drivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.teardown();
        }
    }
}

impl<S: Sharing> AsRawFd for Driver<S> {
    /// The ring's fd: poll it for readability (completions waiting).
    fn as_raw_fd(&self) -> RawFd {
        self.shared.ring_fd
    }
}

impl<S: Sharing> fmt::Debug for Driver<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").field("ring_fd", &self.shared.ring_fd).field("stats", &self.stats()).finish()
    }
}

impl<S: Sharing> Shared<S> {
    /// The driver's identity: the address of its identity allocation,
    /// which no other driver has while any handle of this one, or a weak
    /// reference to it, lives.
    #[inline(always)]
    pub(crate) fn id(&self) -> DriverId {
        self.id
    }

    /// The identity allocation, for what must keep it from being reused
    /// ([`DriverId`]).
    pub(crate) fn id_token(&self) -> std::sync::Weak<u8> {
        Arc::downgrade(&self.id_token)
    }

    /// The state, taken: a mutex ([`Threads`]) or a borrow flag ([`Local`]).
    #[inline(always)]
    pub(crate) fn lock(&self) -> Guard<'_, S> {
        S::take(&self.state)
    }

    /// Release the lock, then finish orphans whose final CQE arrived (their
    /// outputs may close descriptors or give ring buffers back, which must
    /// not happen under the lock).
    #[inline(always)]
    pub(crate) fn unlock_and_bury(&self, mut st: Guard<'_, S>) {
        if st.graveyard.is_empty() {
            return;
        }
        let mut dead = std::mem::take(&mut st.graveyard);
        drop(st);
        for (mut orphan, res, flags) in dead.drain(..) {
            orphan.cqe(res, flags);
        }
        // Keep the capacity, so that freeing orphans allocates only while
        // the graveyard grows.
        let mut st = self.lock();
        if st.graveyard.is_empty() {
            st.graveyard = dead;
        }
    }

    #[inline]
    pub(crate) fn push_op<T: OwnedOp>(&self, mut op: T) -> std::result::Result<(Key, T), Refused<T>> {
        if let Err(error) = op.validate().and_then(|()| op.validate_for(self.id())) {
            return Err(Refused { error, op });
        }
        let mut st = self.lock();
        match st.push_locked(&mut op) {
            Ok(key) => {
                let waker = st.drive_waker.take();
                drop(st);
                if let Some(w) = waker {
                    w.wake();
                }
                Ok((key, op))
            }
            Err(error) => Err(Refused { error, op }),
        }
    }

    /// Block in the kernel, without the lock, until a CQE is in the CQ or
    /// `slice` passes. Waiting without the lock lets other threads submit
    /// (the send a waited-for recv needs) and tear down meanwhile; the slice
    /// bounds how long a waiter sleeps when another thread moved its CQE
    /// to its slot first.
    pub(crate) fn block(&self, slice: Duration) -> Result<()> {
        let ts = linux_raw_sys::general::__kernel_timespec {
            tv_sec: slice.as_secs() as i64,
            tv_nsec: i64::from(slice.subsec_nanos()),
        };
        let arg = crate::abi::io_uring_getevents_arg {
            sigmask: 0,
            sigmask_sz: 0,
            min_wait_usec: 0,
            ts: std::ptr::from_ref(&ts) as u64,
        };
        let flags = crate::abi::IORING_ENTER_GETEVENTS | crate::abi::IORING_ENTER_EXT_ARG;
        // SAFETY: the fd is the ring's, open while `self` lives (the `Ring`
        // in the state owns it); `arg` and the timespec it points to live
        // on this frame for the call; nothing is submitted.
        let res = unsafe {
            crate::sys::io_uring_enter(
                self.ring_fd as u32,
                0,
                1,
                flags,
                std::ptr::from_ref(&arg).cast(),
                std::mem::size_of::<crate::abi::io_uring_getevents_arg>(),
            )
        };
        match res {
            Ok(_) => Ok(()),
            Err(e) if e == Errno::TIME || e == Errno::INTR || e == Errno::AGAIN || e == Errno::BUSY => Ok(()),
            Err(errno) => Err(Error::Kernel {
                call: "io_uring_enter",
                errno,
                context: "waiting for a completion of the owned-I/O driver".into(),
            }),
        }
    }

    /// See [`Driver`]'s "Teardown".
    fn teardown(&self) {
        let mut st = self.lock();
        st.closed = true;
        let start = Instant::now();
        let timeout = st.teardown_timeout;
        let mut last_cancel: Option<Instant> = None;
        loop {
            st.dispatch();
            if !st.graveyard.is_empty() {
                self.unlock_and_bury(st);
                st = self.lock();
                continue;
            }
            if st.slab.in_flight == 0 {
                break;
            }
            let now = Instant::now();
            if now.duration_since(start) >= timeout {
                // The kernel still has these: never free them.
                let orphans = st.slab.take_orphans();
                st.leaked += orphans.len();
                std::mem::forget(orphans);
                break;
            }
            if last_cancel.map_or(true, |t| now.duration_since(t) >= CANCEL_EVERY) {
                if st.ring.submission().space() == 0 {
                    let _ = st.ring.submit();
                }
                let all = AsyncCancel::any().all().user_data(IGNORED_USER_DATA);
                let _ = st.ring.submission().push(all);
                last_cancel = Some(now);
            }
            let entered = State::submit_and_dispatch(&mut st);
            drop(st);
            let blocked = entered.and_then(|()| self.block(Duration::from_millis(10)));
            st = self.lock();
            if blocked.is_err() {
                // The ring cannot be entered any more: nothing will come
                // back, so nothing may be freed.
                let orphans = st.slab.take_orphans();
                st.leaked += orphans.len();
                std::mem::forget(orphans);
                break;
            }
        }
    }
}

impl<S: Sharing> Drop for Shared<S> {
    fn drop(&mut self) {
        // Ops dropped after the driver closed, or a driver forgotten while
        // its handles lived: reap them before the ring (and with it the
        // registrations) goes.
        self.teardown();
    }
}

impl State {
    /// Submit what is queued (a non-blocking enter) and move completions to
    /// their slots, under the lock.
    #[inline]
    pub(crate) fn submit_and_dispatch(st: &mut State) -> Result<()> {
        let mut n = 0;
        State::submit_and_dispatch_counting(st, &mut n)
    }

    /// [`submit_and_dispatch`](Self::submit_and_dispatch), adding the CQEs
    /// handled to `handled` (parked completions included: see
    /// [`flush_parked`](Self::flush_parked)).
    fn submit_and_dispatch_counting(st: &mut State, handled: &mut usize) -> Result<()> {
        State::submit_and_reap(st, handled, State::dispatch)
    }

    /// Submit what is queued, `reap` the CQ (returning how many CQEs it
    /// handled) even if the enter failed (EBUSY: the CQ is full; reaping is
    /// how it drains), then flush what the kernel parked.
    #[inline(always)]
    fn submit_and_reap(st: &mut State, handled: &mut usize, reap: impl FnOnce(&mut State) -> usize) -> Result<()> {
        let entered = State::enter_queued(st);
        *handled += reap(st);
        State::flush_parked(st, handled)?;
        State::entered(entered)
    }

    /// [`submit_and_dispatch`](Self::submit_and_dispatch) for a set's
    /// wait: while every op in flight is that set's
    /// ([`State::one_set_only`]), the CQEs go straight into the set's
    /// `done`, as they are, with no dispatch and no log (the set checks
    /// each when it hands them out).
    #[inline(always)]
    pub(crate) fn submit_and_take(st: &mut State, done: &mut Vec<Cqe>) -> Result<()> {
        if !st.one_set_only() {
            return State::submit_and_dispatch(st);
        }
        // Parked CQEs are rare: the general dispatch logs them for the set.
        State::submit_and_reap(st, &mut 0, |st| st.take_set_cqes(done))
    }

    /// Submit what is queued (a non-blocking enter), or, with nothing
    /// queued on a `DEFER_TASKRUN` ring, run its task work (which posts
    /// the CQEs it holds).
    #[inline(always)]
    fn enter_queued(st: &mut State) -> Result<()> {
        if !st.ring.submission().is_empty() {
            st.ring.submit().map(drop)
        } else if st.defer_taskrun {
            st.ring.get_events()
        } else {
            Ok(())
        }
    }

    /// Flush completions the kernel parked (its CQ overflow list, or task
    /// work waiting to post them) with `GETEVENTS` enters, dispatching
    /// them, until none are left: without it, an executor polling the
    /// ring's fd would never hear of them.
    #[inline]
    fn flush_parked(st: &mut State, handled: &mut usize) -> Result<()> {
        loop {
            let parked = IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN;
            if st.ring.submission().ring_flags() & parked == 0 {
                return Ok(());
            }
            st.ring.get_events()?;
            let more = st.dispatch();
            *handled += more;
            if more == 0 {
                return Ok(());
            }
        }
    }

    /// The outcome of [`enter_queued`](Self::enter_queued) once the CQ was
    /// reaped: a full CQ (`EBUSY`) or a kernel short of memory (`EAGAIN`)
    /// is not an error, reaping was the cure.
    #[inline(always)]
    fn entered(entered: Result<()>) -> Result<()> {
        match entered {
            Err(e) if e.errno() == Errno::BUSY || e.errno() == Errno::AGAIN => Ok(()),
            other => other,
        }
    }

    /// Push a cancel request for the op of `user_data` (its CQE is
    /// ignored), making room first if needed. Best effort: the op's own CQE
    /// is what matters.
    pub(crate) fn push_cancel(st: &mut State, user_data: u64) {
        if st.ring.submission().space() == 0 {
            let _ = st.ring.submit();
        }
        let cancel = AsyncCancel::user_data_of(user_data).user_data(IGNORED_USER_DATA);
        let _ = st.ring.submission().push(cancel);
        if st.closed {
            // Nobody drives a closed driver: send it now.
            let _ = st.ring.submit();
        }
    }

    /// Wake the driving task: an SQE was pushed outside `submit`.
    pub(crate) fn wake_driver(st: &mut State) -> Option<Waker> {
        st.drive_waker.take()
    }

    /// Queue `op`'s SQEs (making room, refusing when closed) under a new
    /// slot of the table. The op itself stays where the caller keeps it; by
    /// the `OwnedOp` contract it may move afterwards.
    // Always inlined into `push_op`, its one caller (left to the
    // heuristics, it went out of line once `Shared` became generic: 14
    // more instructions per op).
    #[inline(always)]
    pub(crate) fn push_locked<T: OwnedOp>(&mut self, op: &mut T) -> Result<Key> {
        check_sqes::<T>()?;
        self.ready_for(T::SQES as u32)?;
        let key = self.slab.insert_waiting();
        self.push_ready(op, key.user_data());
        Ok(key)
    }

    /// How many ops of `T` (at most `ops`) the SQ has room for, after one
    /// submit if it has room for fewer: what a set may then push with
    /// [`push_ready`](Self::push_ready) one after the other. Refused when
    /// closed.
    #[inline]
    pub(crate) fn room_for<T: OwnedOp>(&mut self, ops: usize) -> Result<usize> {
        if self.closed {
            return Err(closed());
        }
        check_sqes::<T>()?;
        let mut room = self.ring.submission().space() as usize / T::SQES;
        if room < ops {
            // Make room. A failed enter (EBUSY while the CQ is full, say)
            // leaves the rest for later: the caller's submit-and-dispatch
            // that follows reaps and reports a lasting error.
            let _ = self.ring.submit();
            room = self.ring.submission().space() as usize / T::SQES;
        }
        Ok(room.min(ops))
    }

    /// Push `op`'s SQEs with `user_data` on the first; the SQ has room for
    /// them ([`ready_for`](Self::ready_for) or [`room_for`](Self::room_for)
    /// said so) and `T::SQES` is 1 to [`MAX_SQES`] (checked there). (A
    /// table op counted as in flight when its slot was taken; a set counts
    /// the ops it pushed.)
    #[inline(always)]
    pub(crate) fn push_ready<T: OwnedOp>(&mut self, op: &mut T, user_data: u64) {
        let mut sq = self.ring.submission();
        if T::SQES == 1 {
            // SAFETY: the OwnedOp contract: every pointer `prepare` writes
            // is into memory `op` owns, which stays put while `op` moves into
            // its handle or set and stays there (or with the driver, once the
            // handle or set is dropped) until the final CQE; the caller made
            // room.
            let pushed = unsafe {
                sq.push_raw(|sqe| {
                    op.prepare(std::slice::from_mut(sqe));
                    sqe.user_data = user_data;
                })
            };
            debug_assert!(pushed.is_ok());
        } else {
            let mut sqes = [Sqe::default(); MAX_SQES];
            let sqes = &mut sqes[..T::SQES.min(MAX_SQES)];
            op.prepare(sqes);
            sqes[0].user_data = user_data;
            for sqe in sqes.iter() {
                // SAFETY: as above; the SQEs are pushed together before the
                // tail is published at the next enter, so a link chain
                // reaches the kernel whole.
                let pushed = unsafe { sq.push_raw(|slot| *slot = *sqe) };
                debug_assert!(pushed.is_ok());
            }
        }
    }

    /// Room for `sqes` SQEs, submitting what is queued if needed; refused
    /// when closed.
    #[inline(always)]
    fn ready_for(&mut self, sqes: u32) -> Result<()> {
        if self.closed {
            return Err(closed());
        }
        if self.ring.submission().space() >= sqes {
            return Ok(());
        }
        self.make_room(sqes)
    }

    #[cold]
    fn make_room(&mut self, sqes: u32) -> Result<()> {
        self.ring.submit()?;
        let capacity = self.ring.submission().capacity();
        if self.ring.submission().space() >= sqes {
            return Ok(());
        }
        Err(Error::SubmissionQueueFull { capacity })
    }

    /// Mailbox slots of the table.
    #[inline(always)]
    pub(crate) fn mailboxes(&self) -> usize {
        self.slab.mailboxes
    }

    /// Whether every op in flight is a set's, and only one set lives (no
    /// table op, stream, mailbox or dead set): then every CQE that can be
    /// in the CQ is that set's, or an ignored one (of a cancel).
    #[inline(always)]
    pub(crate) fn one_set_only(&self) -> bool {
        let slab = &self.slab;
        slab.sets == 1 && slab.dead_sets == 0 && slab.mailboxes == 0 && slab.in_flight == slab.set_in_flight
    }

    /// Move every CQE in the CQ into `done` as it is, taking the final ones
    /// off the ops in flight: the dispatch of the one set when
    /// [`one_set_only`](Self::one_set_only) holds (the set skips ignored
    /// CQEs when it hands its CQEs out).
    #[inline]
    fn take_set_cqes(&mut self, done: &mut Vec<Cqe>) -> usize {
        let State { ring, slab, .. } = self;
        let before = done.len();
        let mut cq = ring.completion();
        // As `dispatch`: the tail is read again until no new CQE came.
        while cq.take_into(done) > 0 {}
        let finals = done[before..]
            .iter()
            .filter(|cqe| cqe.flags & IORING_CQE_F_MORE == 0 && cqe.user_data != IGNORED_USER_DATA)
            .count();
        slab.set_ops_done(finals);
        done.len() - before
    }

    /// Move every CQE in the CQ to its op; returns how many there were.
    #[inline]
    pub(crate) fn dispatch(&mut self) -> usize {
        let State { ring, slab, graveyard, ready_log, .. } = self;
        let mut n = 0;
        // Final CQEs of set ops, taken off `in_flight` once at the end.
        let mut set_done = 0;
        let mut cq = ring.completion();
        // A batch per read of the tail, its head published once at its end;
        // the tail is read again until no new CQE came meanwhile.
        loop {
            let before = n;
            for cqe in cq.drain() {
                n += 1;
                let ud = cqe.user_data;
                let more = cqe.flags & IORING_CQE_F_MORE != 0;
                if ud & SET_BIT != 0 {
                    // An op of a set (or an ignored CQE, which has the bit
                    // too): logged for its set, no lookup while no set died
                    // with ops in flight.
                    if ud == IGNORED_USER_DATA {
                        continue;
                    }
                    if slab.dead_sets != 0 && dead_set_cqe(slab, graveyard, ud, cqe.res, cqe.flags) {
                        continue;
                    }
                    set_done += usize::from(!more);
                    ready_log.push(cqe);
                    continue;
                }
                let key = Key::from_user_data(ud);
                let Some((entry, in_flight)) = slab.get_with_count(key) else { continue };
                match entry {
                    Entry::Waiting { waker, first } => {
                        if more {
                            *first = Some((cqe.res, cqe.flags));
                            continue;
                        }
                        let (res, flags) = match first.take() {
                            Some((res, first_flags)) => (res, first_flags | cqe.flags),
                            None => (cqe.res, cqe.flags),
                        };
                        let waker = waker.take();
                        *in_flight -= 1;
                        // The waker was taken and `first` emptied: the old
                        // value owns nothing, so skip its drop glue.
                        std::mem::forget(std::mem::replace(entry, Entry::Ready { res, flags }));
                        if let Some(w) = waker {
                            w.wake();
                        }
                    }
                    Entry::Streaming { queue, waker, finished } => {
                        queue.push_back((cqe.res, cqe.flags));
                        if !more {
                            *finished = true;
                            *in_flight -= 1;
                        }
                        if let Some(w) = waker.take() {
                            w.wake();
                        }
                    }
                    Entry::Orphaned(orphan) => {
                        if more {
                            orphan.cqe(cqe.res, cqe.flags);
                            continue;
                        }
                        *in_flight -= 1;
                        if let Some(Entry::Orphaned(orphan)) = slab.remove(key) {
                            graveyard.push((orphan, cqe.res, cqe.flags));
                        }
                    }
                    Entry::Mailbox { queue, waker } => {
                        queue.push_back((cqe.res, cqe.flags));
                        if let Some(w) = waker.take() {
                            w.wake();
                        }
                    }
                    Entry::Ready { .. } | Entry::Vacant(_) | Entry::Set | Entry::DeadSet { .. } => {}
                }
            }
            if n == before {
                slab.set_ops_done(set_done);
                return n;
            }
        }
    }
}

/// A set op's CQE while some set died with ops in flight: if its set is a
/// dead one, hand the CQE to the op the set left behind (its final CQE
/// moves it to the graveyard, and the last one frees the set's slot) and
/// return true; false if the set is alive (the CQE is logged for it).
#[cold]
fn dead_set_cqe(
    slab: &mut Slab,
    graveyard: &mut Vec<(Box<dyn Orphan>, i32, u32)>,
    user_data: u64,
    res: i32,
    flags: u32,
) -> bool {
    let (set, local) = set_of(user_data);
    let Some(Entry::DeadSet { ops, left }) = slab.at_index(set) else { return false };
    let Some(slot) = ops.get_mut(local as usize) else { return true };
    if flags & IORING_CQE_F_MORE != 0 {
        if let Some(orphan) = slot.as_mut() {
            orphan.cqe(res, flags);
        }
        return true;
    }
    let Some(orphan) = slot.take() else { return true };
    graveyard.push((orphan, res, flags));
    *left -= 1;
    let done = *left == 0;
    slab.set_ops_done(1);
    if done {
        // A dead set's last op: nothing of it is left to drop.
        drop(slab.remove_at(set));
    }
    true
}

/// Refuse an op type whose SQE count the driver cannot push together.
#[inline(always)]
pub(crate) fn check_sqes<T: OwnedOp>() -> Result<()> {
    if T::SQES == 0 || T::SQES > MAX_SQES {
        return Err(Error::InvalidArgument {
            what: format!("an owned op of {} SQEs", T::SQES),
            why: format!("an owned op takes 1 to {MAX_SQES} SQEs"),
        });
    }
    Ok(())
}

/// The error of an op submitted to a closed driver.
pub(crate) fn closed() -> Error {
    Error::RingUnusable { why: "its owned-I/O driver was shut down (the last Driver was dropped)".into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Nop;

    /// `take_set_cqes` moves every CQE as it is, and takes only the set
    /// ops' final CQEs off the counts: not an ignored one (a cancel's), not
    /// one that says more are coming.
    #[test]
    fn taking_a_sets_cqes_counts_only_its_final_ones() {
        let driver = Driver::new(8).unwrap();
        let mut st = driver.shared().lock();
        let set = super::super::slab::set_user_data(0, 3);
        for ud in [set, IGNORED_USER_DATA, set | 1] {
            st.ring.submission().push(Nop::new().user_data(ud)).unwrap();
        }
        st.ring.submit_and_wait(3).unwrap();
        // Three set ops in flight by the counts, two of which completed.
        st.slab.set_ops_pushed(3);
        let mut done = Vec::new();
        st.take_set_cqes(&mut done);
        let uds: Vec<u64> = done.iter().map(|c| c.user_data).collect();
        assert_eq!(uds, [set, IGNORED_USER_DATA, set | 1], "every CQE, in order");
        assert_eq!((st.slab.in_flight, st.slab.set_in_flight), (1, 1), "two finals taken off, not the ignored CQE");
        assert!(st.ring.completion().is_empty());
        st.slab.set_ops_done(1);
    }
}
