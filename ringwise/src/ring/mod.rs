//! The ring: the [`Ring`] struct, its accessors and its queue handles.
//!
//! A ring is one kernel io_uring instance plus the memory it shares with the
//! kernel. This module holds the type and what reads it; the rest of the
//! ring's behaviour is split by concern:
//!
//! * [`enter`]: the one call into the kernel (`io_uring_enter`) and which fd
//!   or registered index it goes through from the calling thread;
//!   `io_uring_register` on the ring; the errors both can return.
//! * [`wait`]: submitting (the hot path) and every way of waiting for
//!   completions, through one typed wait argument, [`WaitArgs`].
//! * [`attach`]: turning what `io_uring_setup` returned (or an adopted fd)
//!   into a ring: mapping its memory and checking the kernel's parameters
//!   and ring header against ringwise's layout.
//! * [`teardown`]: what dropping a ring does before its fields are released.

mod attach;
mod enter;
mod held;
mod teardown;
mod wait;

pub(crate) use attach::{params_layout_mismatch, queue_pointers};
pub(crate) use teardown::ReleaseWait;
pub use wait::WaitArgs;

use crate::abi;
use crate::cqueue::{CompletionQueue, CqState};
use crate::entry::{Cqe16, CqeSize, Sqe64, SqeSize};
use crate::flags::{Features, SetupFlags};
use crate::layout::Layout;
use crate::memory::{KernelMap, RingMemory};
use crate::raw::RingFd;
use crate::squeue::{SqState, SubmissionQueue};
use enter::EnterTarget;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

/// Where the ring's memory lives; dropped after the fd is closed.
pub(crate) enum Backing {
    /// Kernel memory, mapped by the ring.
    Kernel,
    /// Caller or library memory (`NO_MMAP`); the owners keep it alive.
    User { rings: *mut u8, sqes: *mut u8, owners: Vec<Box<dyn RingMemory>> },
}

/// How the ring's memory is held, as a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryReport {
    /// `"kernel"`, or a description of the caller/library memory.
    pub kind: String,
    /// Address of the rings region.
    pub rings_addr: usize,
    /// Address of the SQE region.
    pub sqes_addr: usize,
    /// Bytes of the rings region the kernel uses (page-rounded).
    pub rings_bytes: usize,
    /// Bytes of the SQE region the kernel uses (page-rounded).
    pub sqes_bytes: usize,
}

/// An io_uring instance with SQEs of type `S` and CQEs of type `C`.
///
/// Queue SQEs with [`submission`](Self::submission), hand them to the
/// kernel with [`submit`](Self::submit) or
/// [`submit_and_wait`](Self::submit_and_wait), and reap CQEs with
/// [`completions`](Self::completions) (or [`completion`](Self::completion),
/// which never enters the kernel). The entry types pick the setup flags:
/// `Ring<Sqe128, Cqe32>` is a ring with `SQE128 | CQE32`. Build one with
/// [`Ring::new`] (kernel memory, defaults) or a [`Builder`](crate::Builder).
///
/// ```
/// use ringwise::{op::Nop, Ring};
/// let mut ring: Ring = Ring::new(8)?;
/// ring.submission().push(Nop::new().user_data(7)).unwrap();
/// let submitted = ring.submit_and_wait(1)?;
/// assert_eq!(submitted.consumed, 1);
/// for cqe in ring.completions()? {
///     assert_eq!((cqe.user_data, cqe.res), (7, 0));
/// }
/// # Ok::<(), ringwise::Error>(())
/// ```
///
/// # Threads
///
/// A `Ring` is `Send` and not `Sync`: move it to the thread that uses it.
/// One ring per thread is the model io_uring is built for (and the fastest:
/// no lock, and the registered ring fd works only from one thread). A ring
/// can be shared behind a `Mutex`, which serialises submitting and reaping;
/// then any thread may reap any CQE, so route completions by `user_data`,
/// not by which thread submitted.
///
/// Three kernel rules are per thread:
///
/// * A `SINGLE_ISSUER` ring ([`Builder::single_issuer`](crate::Builder::single_issuer))
///   accepts submissions only from the thread that created it; from any
///   other the kernel answers `EEXIST`. To create a ring on one thread and
///   use it on another, build it disabled ([`Builder::disabled`](crate::Builder::disabled),
///   `R_DISABLED`) and call [`enable`](Self::enable) on the thread that
///   will use it: enabling binds the ring to that thread.
/// * The ring fd is registered (`IORING_REGISTER_RING_FDS`) in the table of
///   the thread that first submits or waits, and used only from that thread;
///   other threads enter through the plain fd.
/// * A `REGISTERED_FD_ONLY` ring has no fd at all: it can be used, and must
///   be dropped, only on the thread that created it (see "Dropping").
///
/// # Dropping
///
/// Dropping the ring unregisters its fd from the registering thread's table
/// and closes the fd (the kernel then cancels what is still in flight and
/// frees the ring, keeping the pages it uses until it is done), and then
/// releases the ring memory.
/// Dropped on another thread than the one that registered the fd, the ring
/// cannot unregister it (the kernel's table is per thread, and only its own
/// thread can change it), so the kernel keeps the ring until that thread
/// exits; ringwise cancels every request in flight first
/// (`IORING_REGISTER_SYNC_CANCEL`, waiting up to a second), so that none
/// runs on against buffers the caller frees next.
///
/// The kernel gives the ring's `RLIMIT_MEMLOCK` charge back only when its
/// asynchronous teardown ends, some milliseconds after the close: under a
/// tight limit, build with
/// [`Builder::wait_for_memlock_release`](crate::Builder::wait_for_memlock_release)
/// (or close with [`close_and_wait_release`](Self::close_and_wait_release))
/// to wait for that.
///
/// **A [`REGISTERED_FD_ONLY`](crate::Builder::registered_fd_only) ring
/// dropped on another thread than the one that created it cannot even do
/// that**: it has no fd, and its index names it only in the creating
/// thread's table, so nothing can reach it from elsewhere. Its requests keep
/// running, and buffers they use must stay valid, until the creating thread
/// exits. Drop such a ring on the thread that created it (it cannot be used
/// from any other anyway: enters from elsewhere fail with EBADF).
///
/// # Forking
///
/// A ring inherited through `fork` is still the parent's kernel ring, behind
/// the same (duplicated) fd and with the same kernel-mapped memory: using it
/// in the child is sharing one ring between two owners, which
/// [`adopt`](Self::adopt) forbids. As with liburing, don't use a ring in a
/// forked child: `exec`, or `_exit`, or `std::mem::forget` the ring. Two
/// things ringwise does see to: dropping an inherited ring in the child does
/// not cancel the parent's requests, and a child forked with `fork(3)` never
/// enters a ring through a registered index of the parent (the child's
/// table starts empty, and the same number may name one of the child's own
/// rings). A fork by raw `fork`/`clone` syscall skips the `pthread_atfork`
/// handler behind the second.
pub struct Ring<S: SqeSize = Sqe64, C: CqeSize = Cqe16> {
    /// The submission queue's state (pointers into the rings and SQE regions).
    pub(crate) sq: SqState<S>,
    /// The completion queue's state (pointers into the rings region).
    pub(crate) cq: CqState<C>,
    /// Which fd or registered index an enter goes through.
    enter: EnterTarget,
    /// The exact layout of the ring's memory.
    pub(crate) layout: Layout,
    /// The parameters `io_uring_setup` returned (or the adopted ring's).
    pub(crate) params: abi::io_uring_params,
    /// The ring fd and/or its registered index. Released (unregistered on
    /// the registering thread, closed) before the memory below.
    fd: RingFd,
    /// The kernel's regions, mapped by the ring (kernel memory only).
    pub(crate) kernel_maps: Option<(KernelMap, KernelMap)>,
    /// Where the ring memory lives, and its owners.
    pub(crate) backing: Backing,
    /// Memory the kernel was handed by registrations (fixed buffers, buffer
    /// rings, regions): one typed field per family (`held.rs`), released on
    /// unregistration or after the fd is closed. Must come after `fd`.
    pub(crate) registrations: held::Registrations,
    /// Set by [`Builder::wait_for_memlock_release`](crate::Builder::wait_for_memlock_release):
    /// dropped last, it waits until the kernel gave the ring's
    /// RLIMIT_MEMLOCK charge back (`teardown.rs`). Must stay the last field.
    pub(crate) release_wait: Option<teardown::ReleaseWait>,
}

// SAFETY: all raw pointers point into memory the ring owns (kernel mappings
// or `RingMemory` owners, which are `Send`); moving the ring moves that
// ownership. The registered ring index is only used from its own thread.
unsafe impl<S: SqeSize, C: CqeSize> Send for Ring<S, C> {}

/// What the kernel did with a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    /// SQEs the kernel consumed from the SQ (including one whose preparation
    /// failed: its error arrives as a CQE).
    pub consumed: u32,
    /// SQEs still queued, not seen by the kernel; the next submit sends them.
    ///
    /// With `SQPOLL` both counts are a snapshot: every SQE is already
    /// published to the kernel thread, which consumes `remaining` on its own
    /// (it may even have posted their CQEs before moving the SQ head).
    pub remaining: u32,
    /// Set when the kernel stopped before the end of what was queued
    /// (`remaining > 0`) after consuming at least one SQE: the `user_data`
    /// of the last SQE it consumed. `None` with `SQPOLL`, where the kernel
    /// thread consumes on its own time.
    ///
    /// It names the SQE the kernel stopped *after*, not necessarily one that
    /// failed. Usually it did fail: without `SUBMIT_ALL` the kernel stops at
    /// the first SQE whose preparation fails, and that SQE's CQE carries the
    /// error (one flagged `IO_LINK` or `IO_HARDLINK` does not stop it: its
    /// chain fails, the rest of it with ECANCELED, and submission goes on,
    /// as measured on 6.18). But the kernel also stops with no failure at all
    /// when it cannot allocate a request (memory pressure; the rest stays
    /// queued for the next submit), and then the named SQE was submitted like
    /// any other and may well succeed. Its CQE tells which; `remaining` and
    /// `consumed` are exact either way.
    pub stopped_after: Option<u64>,
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// The submission queue, as a handle that borrows it from the ring.
    ///
    /// A handle rather than `&mut` to the queue: the queue holds pointers
    /// into this ring's memory, and a `&mut` would let safe code swap it with
    /// another ring's queue (`std::mem::swap`), then drop that ring and write
    /// SQEs into its freed memory. Swapping the queues themselves does not
    /// compile (the only error is E0308 on the swap: `swap` wants `&mut T`,
    /// the handles are values):
    ///
    /// ```compile_fail,E0308
    /// use ringwise::{op::Nop, Ring};
    /// let mut a: Ring = Ring::new(4)?;
    /// let mut b: Ring = Ring::new(4)?;
    /// std::mem::swap(a.submission(), b.submission()); // error[E0308]
    /// drop(b);
    /// a.submission().push(Nop::new()).unwrap();
    /// # Ok::<(), ringwise::Error>(())
    /// ```
    ///
    /// Swapping handles compiles, and only swaps two borrows:
    ///
    /// ```
    /// use ringwise::{op::Nop, Ring};
    /// let mut a: Ring = Ring::new(4)?;
    /// let mut b: Ring = Ring::new(4)?;
    /// std::mem::swap(&mut a.submission(), &mut b.submission());
    /// drop(b);
    /// a.submission().push(Nop::new()).unwrap();
    /// assert_eq!(a.submit()?.consumed, 1);
    /// # Ok::<(), ringwise::Error>(())
    /// ```
    #[inline(always)]
    pub fn submission(&mut self) -> SubmissionQueue<'_, S> {
        SubmissionQueue::new(&mut self.sq)
    }

    /// The completion queue (no syscall; see [`completions`](Self::completions)),
    /// as a handle that borrows it from the ring (see
    /// [`submission`](Self::submission) for why a handle).
    #[inline(always)]
    pub fn completion(&mut self) -> CompletionQueue<'_, C> {
        CompletionQueue::new(&mut self.cq)
    }

    /// Both queues at once.
    #[inline(always)]
    pub fn queues(&mut self) -> (SubmissionQueue<'_, S>, CompletionQueue<'_, C>) {
        (SubmissionQueue::new(&mut self.sq), CompletionQueue::new(&mut self.cq))
    }

    /// The layout of this ring's memory.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The parameters the kernel returned.
    pub fn params(&self) -> &abi::io_uring_params {
        &self.params
    }

    /// Setup flags in effect.
    pub fn setup_flags(&self) -> SetupFlags {
        SetupFlags::from_bits_retain(self.params.flags)
    }

    /// Kernel feature bits.
    pub fn features(&self) -> Features {
        Features::from_bits_retain(self.params.features)
    }

    /// The ring fd, or `None` for a `REGISTERED_FD_ONLY` ring.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.fd()
    }

    /// The registered ring index, if the fd is registered (which happens
    /// at the first submit or wait, in the thread that makes it).
    pub fn registered_index(&self) -> Option<u32> {
        self.fd.registered_index()
    }

    /// Where the memory lives.
    pub fn memory_report(&self) -> MemoryReport {
        let (kind, rings, sqes) = match &self.backing {
            Backing::Kernel => {
                let (r, q) = self.kernel_maps.as_ref().expect("kernel rings are mapped");
                ("kernel".to_string(), r.as_ptr(), q.as_ptr())
            }
            Backing::User { rings, sqes, owners } => {
                let kinds: Vec<String> = owners.iter().map(|o| o.describe()).collect();
                (kinds.join(" + "), *rings, *sqes)
            }
        };
        MemoryReport {
            kind,
            rings_addr: rings as usize,
            sqes_addr: sqes as usize,
            rings_bytes: self.layout.rings_bytes(),
            sqes_bytes: self.layout.sqes_bytes(),
        }
    }
}

impl<S: SqeSize, C: CqeSize> std::fmt::Debug for Ring<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("sqe", &S::NAME)
            .field("cqe", &C::NAME)
            .field("flags", &self.setup_flags())
            .field("sq", &self.sq)
            .field("cq", &self.cq)
            .finish()
    }
}

impl<S: SqeSize, C: CqeSize> AsRawFd for Ring<S, C> {
    /// The ring fd, or -1 for a `REGISTERED_FD_ONLY` ring.
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
