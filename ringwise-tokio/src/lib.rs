//! Run ringwise's owned io_uring ops on tokio: every op is a future, and
//! tokio's reactor drives the ring through the ring's pollable fd.
//!
//! [`ringwise::owned`] is executor-agnostic: an op's [`Op`] handle is a
//! future, and someone has to call [`Driver::drive`] when the ring's fd is
//! readable and when ops were pushed (its "Driving" section). This crate
//! does that with one tokio task per ring ([`Drive`]), which sleeps in
//! tokio's reactor (an [`AsyncFd`] on the ring fd) between completions:
//!
//! * [`current()`] gives the ring of the current runtime thread, made on
//!   first use (256 entries): on a `current_thread` runtime one ring, on a
//!   `multi_thread` runtime one ring per worker. Op futures are `Send`: a
//!   task that moves to another worker still completes, woken through its
//!   waker by the ring it submitted to.
//! * [`Uring::new`] / [`Uring::with_builder`] make a ring of your own (other
//!   sizes, setup flags) with its own drive task.
//! * [`LocalUring`] ([`Uring::local`]) is a ring for the tasks of one
//!   `LocalSet`, on a [`Driver<Local>`](ringwise::owned::Driver::local):
//!   `!Send` op futures that take no lock, for programs that keep their
//!   tasks on one thread (1.03-1.06 times a `Uring`'s 4 KiB reads per
//!   second in `ringwise-bench`'s `file_reads`, 2026).
//!
//! ```
//! use ringwise::owned::{ops, SharedFd};
//!
//! # fn main() -> std::io::Result<()> {
//! let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
//! rt.block_on(async {
//!     let (a, b) = std::os::unix::net::UnixStream::pair()?;
//!     let (a, b) = (SharedFd::from(a), SharedFd::from(b));
//!     let ring = ringwise_tokio::current()?;
//!     let recv = ring.submit(ops::Recv::new(&b, Vec::with_capacity(64)))?;
//!     let (sent, _) = ring.submit(ops::Send::new(&a, b"hello".to_vec()))?.await;
//!     assert_eq!(sent?, 5);
//!     let (got, buf) = recv.await;
//!     assert_eq!(&buf[..got?], b"hello");
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Lifetime
//!
//! A ring lives as long as its drive task and its [`Uring`] handles: when
//! the runtime shuts down (its tasks are dropped) or the last `Uring` clone
//! is dropped, the ring is shut down ([`Driver::shutdown`]: ops still in
//! flight are cancelled and reaped, their futures return `ECANCELED`, new
//! ops are refused). Nothing hangs at runtime drop: shutting down takes as
//! long as the slowest op in flight takes to stop, and is bounded by the
//! driver's teardown timeout.
//!
//! # Setup flags
//!
//! The drive task is an ordinary tokio task: on a `multi_thread` runtime
//! any worker may run it, so rings made with `SINGLE_ISSUER` belong on a
//! `current_thread` runtime (or a `LocalSet` with [`Drive`] spawned
//! locally). `DEFER_TASKRUN` rings are refused (an `InvalidInput` error):
//! their completions wait until the submitting thread enters the kernel,
//! and the ring's fd never becomes readable for them, so a reactor could not
//! drive them. `SQPOLL` rings work anywhere.
//! `COOP_TASKRUN` rings are not tested here: the kernel does not interrupt
//! the thread for their task work, so completions may wait until the
//! submitting thread next enters the kernel; prefer default flags.
//!
//! [`Op`]: ringwise::owned::Op
//! [`AsyncFd`]: tokio::io::unix::AsyncFd

use ringwise::owned::{Driver, Local, Sharing, Threads};
use ringwise::Builder;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::runtime::Handle;
use tokio::task::{AbortHandle, LocalSet};

/// SQ entries of the rings [`current()`] makes.
pub const DEFAULT_ENTRIES: u32 = 256;

/// Rounds of "drive, clear readiness" one poll of [`Drive`] makes before it
/// yields to other tasks (a ring that never goes quiet must not starve the
/// worker).
const DRIVE_BUDGET: u32 = 64;

/// A ring driven from tokio's reactor: a cheap handle (`Clone`, `Send`,
/// `Sync`) that derefs to its [`Driver`], so `uring.submit(op)?.await`
/// runs an op.
///
/// Made by [`Uring::new`] (or [`with_builder`](Uring::with_builder),
/// [`from_driver`](Uring::from_driver)) inside a runtime, which spawns the
/// ring's drive task on that runtime; [`current()`] keeps one per runtime
/// thread. Dropping the last clone stops the drive task and shuts the ring
/// down (see the crate's "Lifetime"): `Driver` clones taken from it are
/// then closed too, and refuse new ops.
///
/// `Uring<Local>` ([`LocalUring`]) is the same for the tasks of one
/// [`LocalSet`]: its driver is [`Driver<Local>`](Driver::local), whose
/// op futures are `!Send` and take no lock (no atomic operation) to submit
/// an op or take its result.
pub struct Uring<S: Sharing = Threads> {
    inner: Arc<Inner<S>>,
}

/// A ring for the tasks of one [`LocalSet`] (see [`Uring::local`]).
pub type LocalUring = Uring<Local>;

impl<S: Sharing> Clone for Uring<S> {
    fn clone(&self) -> Uring<S> {
        Uring { inner: self.inner.clone() }
    }
}

struct Inner<S: Sharing> {
    driver: Driver<S>,
    task: AbortHandle,
}

impl<S: Sharing> Drop for Inner<S> {
    fn drop(&mut self) {
        // A finished task (runtime shut down) is left alone: aborting it
        // could reach into a runtime that is being torn down.
        if !self.task.is_finished() {
            self.task.abort();
        }
        // Deterministic, in the dropping thread: cancel and reap what is in
        // flight now rather than whenever the aborted task is dropped.
        self.driver.shutdown();
    }
}

impl Uring {
    /// A ring of `entries` SQEs (default setup flags), driven by a task
    /// spawned on the current tokio runtime.
    ///
    /// # Errors
    /// Outside a tokio runtime, or when the ring cannot be made
    /// ([`Builder::build`]'s errors) or registered with the reactor.
    ///
    /// # Panics
    /// As tokio's own I/O types do, when the runtime was built without I/O
    /// (`enable_io`/`enable_all`).
    pub fn new(entries: u32) -> io::Result<Uring> {
        Uring::with_builder(Builder::new(entries))
    }

    /// A ring set up by `builder` (see the crate's "Setup flags"), driven by
    /// a task spawned on the current tokio runtime. Errors and panics as
    /// [`new`](Self::new).
    pub fn with_builder(builder: Builder) -> io::Result<Uring> {
        let handle = runtime()?;
        let driver = Driver::with_builder(builder)?;
        Uring::spawn(&handle, driver)
    }

    /// Drive an existing `driver` from the current tokio runtime: spawns its
    /// drive task. The returned `Uring` then owns the ring's lifetime (its
    /// drop shuts `driver` down). Errors and panics as [`new`](Self::new).
    pub fn from_driver(driver: Driver) -> io::Result<Uring> {
        let handle = runtime()?;
        Uring::spawn(&handle, driver)
    }

    fn spawn(handle: &Handle, driver: Driver) -> io::Result<Uring> {
        let drive = Drive::new(driver.clone())?;
        let task = handle.spawn(drive).abort_handle();
        Ok(Uring::owning(driver, task))
    }
}

impl Uring<Local> {
    /// A ring for the tasks of `local` ([`Driver::local`]: `!Send` op
    /// futures, no lock per op) of `entries` SQEs (default setup flags),
    /// its drive task spawned on `local`. Make it inside the runtime that
    /// runs `local` (its reactor watches the ring), and use it from tasks
    /// of `local` (or from its `run_until` future).
    ///
    /// ```
    /// use ringwise::owned::{ops, SharedFd};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// let local = tokio::task::LocalSet::new();
    /// let file = SharedFd::from(std::fs::File::open("/proc/self/exe")?);
    /// // Made inside the runtime (its reactor watches the ring), driven on `local`.
    /// let ring = rt.block_on(async { ringwise_tokio::LocalUring::local(64, &local) })?;
    /// let (res, buf) = local.block_on(&rt, async {
    ///     let read = ring.submit(ops::Read::at(&file, vec![0u8; 4], 0))?;
    ///     std::io::Result::Ok(read.await)
    /// })?;
    /// assert_eq!(res?, 4);
    /// assert_eq!(&buf[..], b"\x7fELF");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// Outside a tokio runtime, or when the ring cannot be made or
    /// registered with the reactor.
    ///
    /// # Panics
    /// As tokio's own I/O types do, when the runtime was built without I/O.
    pub fn local(entries: u32, local: &LocalSet) -> io::Result<LocalUring> {
        Uring::local_with_builder(Builder::new(entries), local)
    }

    /// A ring for the tasks of `local`, set up by `builder` (see the crate's
    /// "Setup flags"; `SINGLE_ISSUER` suits a ring of one thread). Errors
    /// and panics as [`local`](Self::local).
    pub fn local_with_builder(builder: Builder, local: &LocalSet) -> io::Result<LocalUring> {
        runtime()?;
        Uring::from_local_driver(Driver::local_with_builder(builder)?, local)
    }

    /// Drive an existing local `driver` from the tasks of `local`: spawns
    /// its drive task there. Errors and panics as [`local`](Self::local).
    pub fn from_local_driver(driver: Driver<Local>, local: &LocalSet) -> io::Result<LocalUring> {
        let drive = Drive::new(driver.clone())?;
        let task = local.spawn_local(drive).abort_handle();
        Ok(Uring::owning(driver, task))
    }
}

impl<S: Sharing> Uring<S> {
    /// The handle owning `driver` and its drive `task`. (One `Arc` for both
    /// sharings: cloning a `Uring` is rare, an op never does it.)
    fn owning(driver: Driver<S>, task: AbortHandle) -> Uring<S> {
        Uring { inner: Arc::new(Inner { driver, task }) }
    }

    /// The ring's driver (also reached through `Deref`).
    pub fn driver(&self) -> &Driver<S> {
        &self.inner.driver
    }

    /// Whether the ring's drive task is still running: false once its
    /// runtime shut down (the ring is shut down too then).
    pub fn is_running(&self) -> bool {
        !self.inner.task.is_finished()
    }
}

impl<S: Sharing> Deref for Uring<S> {
    type Target = Driver<S>;
    fn deref(&self) -> &Driver<S> {
        &self.inner.driver
    }
}

impl<S: Sharing> fmt::Debug for Uring<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uring").field("driver", &self.inner.driver).field("running", &self.is_running()).finish()
    }
}

/// The current tokio runtime, or the error of being outside one.
/// `DEFER_TASKRUN` rings are refused: their completions wait as task work
/// until the submitting thread enters the kernel with `GETEVENTS`, and
/// nothing makes the ring's fd readable meanwhile, so a ring driven by fd
/// readiness would stall (measured: an echo run on such a ring never
/// finished).
fn refuse_defer_taskrun<S: Sharing>(driver: &Driver<S>) -> io::Result<()> {
    if driver.with_ring(|ring| ring.setup_flags().contains(ringwise::SetupFlags::DEFER_TASKRUN)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a DEFER_TASKRUN ring cannot be driven from tokio's reactor: its completions are posted only when \
             the submitting thread enters the kernel, and its fd never becomes readable for them; use default \
             flags (or SINGLE_ISSUER alone) for a ring driven by tokio",
        ));
    }
    Ok(())
}

fn runtime() -> io::Result<Handle> {
    Handle::try_current().map_err(|e| io::Error::other(format!("ringwise-tokio needs a tokio runtime: {e}")))
}

thread_local! {
    /// The ring of this runtime thread ([`current()`]).
    static CURRENT: RefCell<Option<Uring>> = const { RefCell::new(None) };
}

/// The ring of the current runtime thread, made on first use with
/// [`DEFAULT_ENTRIES`] entries and default flags.
///
/// One ring per thread: on a `current_thread` runtime that is one ring for
/// the runtime, on a `multi_thread` runtime one per worker (and one per
/// `spawn_blocking` thread that asks). A thread whose ring's runtime shut
/// down gets a new ring on the runtime it is in now.
///
/// # Errors
/// Outside a tokio runtime, when the ring cannot be made (`ENOMEM`, a
/// locked-memory limit...), or while the thread is exiting.
///
/// # Panics
/// As tokio's own I/O types do, when the runtime was built without I/O.
pub fn current() -> io::Result<Uring> {
    CURRENT
        .try_with(|slot| {
            let mut slot = slot.borrow_mut();
            if let Some(uring) = slot.as_ref() {
                if uring.is_running() {
                    return Ok(uring.clone());
                }
            }
            let uring = Uring::new(DEFAULT_ENTRIES)?;
            *slot = Some(uring.clone());
            Ok(uring)
        })
        .unwrap_or_else(|_| Err(io::Error::other("ringwise-tokio: the thread is exiting; its ring is gone")))
}

/// The future that drives one ring from tokio's reactor: spawn it (or let
/// [`Uring`] do it) on the runtime whose reactor should watch the ring.
///
/// Each poll registers the task's waker with the driver
/// ([`Driver::set_drive_waker`]: woken when ops are pushed), then
/// [drives](Driver::drive) the ring (submitting what is queued, handing
/// completions to their futures), then waits for the ring fd to turn
/// readable. tokio's readiness is edge-triggered: after clearing it, the
/// future drives again before waiting, so a completion that arrived
/// between the drive and the clear is not left behind.
///
/// It never completes while its runtime runs (it ends when the reactor
/// shuts down). Dropping it shuts the ring down ([`Driver::shutdown`]):
/// nothing would drive it any more.
pub struct Drive<S: Sharing = Threads> {
    fd: AsyncFd<Driver<S>>,
}

impl<S: Sharing> Drive<S> {
    /// The drive future of `driver`, registered with the current runtime's
    /// reactor.
    ///
    /// # Errors
    /// Outside a tokio runtime, or when the reactor refuses the fd.
    ///
    /// # Panics
    /// As tokio's own I/O types do, when the runtime was built without I/O.
    pub fn new(driver: Driver<S>) -> io::Result<Drive<S>> {
        runtime()?;
        refuse_defer_taskrun(&driver)?;
        // SAFETY: `Driver::as_raw_fd` is the fd of the driver's ring, which
        // the driver owns: it is closed only when the driver's shared state
        // is dropped, which cannot happen while this `Driver` (kept inside
        // the `AsyncFd` until it is dropped) lives, and it is the same fd on
        // every call (a driver never changes rings).
        let fd = unsafe { AsyncFd::register_with_interest(driver, Interest::READABLE) };
        let fd = fd.map_err(|e| e.into_parts().1)?;
        Ok(Drive { fd })
    }

    /// The driver this future drives.
    pub fn driver(&self) -> &Driver<S> {
        self.fd.get_ref()
    }
}

impl<S: Sharing> Future for Drive<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let fd = &self.fd;
        let driver = fd.get_ref();
        for _ in 0..DRIVE_BUDGET {
            // Waker and drive under one lock: an op pushed after the
            // drive's submit finds the waker and wakes this task again.
            // (The drive also flushes completions the kernel parked in its
            // CQ overflow list, which no readiness event would announce.)
            match driver.drive_with_waker(cx.waker()) {
                Ok(_) => {}
                Err(_) => {
                    // The enter failed (EINTR, EBUSY while the CQ overflows...):
                    // try again after other tasks ran.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
            match fd.poll_read_ready(cx) {
                // Completions came since the last wait: clear the edge and
                // drive again (they may have been dispatched already, or
                // arrived after the drive).
                Poll::Ready(Ok(mut guard)) => guard.clear_ready(),
                // The reactor is gone: the runtime is shutting down.
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<S: Sharing> Drop for Drive<S> {
    fn drop(&mut self) {
        self.fd.get_ref().shutdown();
    }
}

impl<S: Sharing> fmt::Debug for Drive<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drive").field("driver", self.fd.get_ref()).finish()
    }
}
