//! The ring: fd, submission and completion queues, the enter variants
//! (submit, wait, timeouts, SQPOLL wakeup), and teardown.

use crate::abi;
use crate::cqueue::{CompletionQueue, CqPointers, CqState, Drain};
use crate::entry::{size_flags, Cqe16, CqeSize, Sqe64, SqeSize};
use crate::entry::{PrepareSqe, SafeOp};
use crate::error::{Error, Result};
use crate::flags::{Features, SetupFlags, SIZE_FLAGS};
use crate::layout::{Layout, RingSpec};
use crate::memory::{KernelMap, RingMemory};
use crate::squeue::{SqPointers, SqState, SubmissionQueue};
use crate::sys;
use crate::Builder;
use rustix::io::Errno;
use std::cell::Cell;
use std::ffi::c_void;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

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
/// ```no_run
/// use ringwise::{Ring, op::Nop};
/// let mut ring: Ring = Ring::new(8)?;
/// ring.submission().push(Nop::new().user_data(7)).unwrap();
/// ring.submit_and_wait(1)?;
/// let cqe = ring.completion().next().unwrap();
/// assert_eq!(cqe.user_data, 7);
/// # Ok::<(), ringwise::Error>(())
/// ```
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
    pub(crate) sq: SqState<S>,
    pub(crate) cq: CqState<C>,
    enter: EnterTarget,
    pub(crate) layout: Layout,
    pub(crate) params: abi::io_uring_params,
    /// The ring fd (`None` with `REGISTERED_FD_ONLY`). Closed before the
    /// memory below is released.
    fd: Option<OwnedFd>,
    pub(crate) kernel_maps: Option<(KernelMap, KernelMap)>,
    pub(crate) backing: Backing,
    /// Memory the kernel was handed by registrations (fixed buffers, buffer
    /// rings, regions), keyed by `register`; released on unregistration or
    /// after the fd is closed.
    pub(crate) registrations: crate::register::Registrations,
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

thread_local! {
    /// This thread's token; 0 until [`thread_token`] first runs here.
    static TOKEN: Cell<u64> = const { Cell::new(0) };
}

/// A thread identity that is cheap to read and never reused (0 is never
/// handed out).
fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    TOKEN.with(|t| {
        let v = t.get();
        if v != 0 {
            v
        } else {
            forget_token_after_fork();
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            t.set(n);
            n
        }
    })
}

extern "C" {
    /// glibc's and musl's `pthread_atfork(3)`: handlers `fork(3)` runs
    /// around the fork (in libc, which std links anyway; no dependency).
    fn pthread_atfork(
        prepare: Option<unsafe extern "C" fn()>,
        parent: Option<unsafe extern "C" fn()>,
        child: Option<unsafe extern "C" fn()>,
    ) -> std::ffi::c_int;
}

/// After `fork(3)` the child's forking thread still holds the parent
/// thread's token, but none of the parent's registered ring indices: the
/// child's io_uring table starts empty, and its own rings take the same
/// numbers. Without this, a ring the parent registered would enter through
/// its index in the child and reach whichever ring of the child holds that
/// number. Clearing the child's token (from a `pthread_atfork` handler,
/// installed before the first token exists) sends such a ring the general
/// way, through its fd; the hot path is unchanged. A fork by raw syscall
/// skips the handler: see "Forking" on [`Ring`].
fn forget_token_after_fork() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    /// Runs in the child, where only the forking thread exists; the token
    /// is a plain `Cell` with no destructor, so touching it is async-signal
    /// safe.
    unsafe extern "C" fn child() {
        let _ = TOKEN.try_with(|t| t.set(0));
    }
    ONCE.call_once(|| {
        // SAFETY: registers a child handler that only stores to this
        // thread's token. If registration fails (ENOMEM), forked children
        // keep the stale token, as documented.
        let _ = unsafe { pthread_atfork(None, None, Some(child)) };
    });
}

/// This thread's token if it has one, else 0: one thread-local load, no
/// lazy set-up on the enter path. Exact for "is this the registering
/// thread?": registering gives the thread a token, so a thread without one
/// never registered, and 0 matches no stored token.
#[inline(always)]
fn thread_token_if_any() -> u64 {
    TOKEN.with(Cell::get)
}

/// This process's id (a syscall: for set-up and teardown only).
fn current_pid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// The `thread` of an [`EnterTarget`] whose fd is not registered. Tokens
/// count up from 1 (reaching this one would take 2^64 - 1 threads), and a
/// thread without a token reads 0, so no thread ever matches it.
const NO_THREAD: u64 = u64::MAX;

/// Which fd `io_uring_enter` gets: the registered ring index from the
/// thread that registered it (the kernel's table is per thread), the plain fd
/// from anywhere else.
///
/// The fd is registered at the first enter, not at setup: the kernel's table
/// belongs to the registering thread and only that thread can unregister, so
/// a ring registered by the thread that built it and then moved to a worker
/// would stay alive (requests and all) after being dropped there, until the
/// building thread exits. Registering on first use puts the entry in the
/// table of the thread that submits.
///
/// The submit path picks its target in [`direct`](Self::direct) from state
/// precomputed whenever the registration changes (at setup and in
/// [`register_here`](Self::register_here), both through
/// [`set_registered`](Self::set_registered) where an index is involved).
#[derive(Debug)]
struct EnterTarget {
    fd: u32,
    /// The registered ring index while `thread` is set; until then the
    /// ring fd. Either way what the direct route passes, so both of its arms
    /// load the same field.
    index: Cell<u32>,
    /// Token of the thread in whose table `index` lives, or [`NO_THREAD`].
    thread: Cell<u64>,
    /// `thread` for a ring that is not polled, [`NO_THREAD`] for one that
    /// is: the one thread that may take the direct route through `index`.
    fast_thread: Cell<u64>,
    /// Not polled, no index in play and nothing to register: the direct
    /// route with the plain fd, decided by one byte.
    plain: Cell<bool>,
    /// Register the fd at the next enter (set once, at setup).
    register_on_enter: Cell<bool>,
    setup: SetupFlags,
    /// SQPOLL or IOPOLL: submission takes the longer path.
    polled: bool,
    /// The process that set the ring up (a forked child is another).
    pid: u32,
}

impl EnterTarget {
    /// The target for a ring set up with `setup`: `registered` is the
    /// index of a `REGISTERED_FD_ONLY` ring (registered by the calling
    /// thread, in setup); `register_on_enter` asks for the fd to be
    /// registered at the first enter.
    fn new(fd: u32, setup: SetupFlags, registered: Option<u32>, register_on_enter: bool) -> EnterTarget {
        let polled = setup.intersects(SetupFlags::SQPOLL | SetupFlags::IOPOLL);
        let register_on_enter = register_on_enter && registered.is_none();
        let target = EnterTarget {
            fd,
            index: Cell::new(fd),
            thread: Cell::new(NO_THREAD),
            fast_thread: Cell::new(NO_THREAD),
            plain: Cell::new(!polled && !register_on_enter && registered.is_none()),
            register_on_enter: Cell::new(register_on_enter),
            setup,
            polled,
            pid: current_pid(),
        };
        if let Some(index) = registered {
            target.set_registered(index, thread_token());
        }
        target
    }

    /// Record that `index` in `thread`'s table names this ring.
    fn set_registered(&self, index: u32, thread: u64) {
        self.index.set(index);
        self.thread.set(thread);
        self.fast_thread.set(if self.polled { NO_THREAD } else { thread });
        self.plain.set(false);
    }

    /// The registered index and its thread's token, if the fd is registered.
    fn registered(&self) -> Option<(u32, u64)> {
        let thread = self.thread.get();
        (thread != NO_THREAD).then(|| (self.index.get(), thread))
    }

    /// The target of the direct submit route, for a ring that is not
    /// polled and has nothing to register: the plain fd where no index is in
    /// play (one byte tested), the registered index from its own thread (one
    /// thread-local load and compare more). `None`: take the general route
    /// (polled, still to register, or an index registered by another
    /// thread). Flags are merged per arm, so the inlined caller loads one
    /// constant.
    #[inline(always)]
    fn direct(&self, flags: u32) -> Option<(u32, u32)> {
        if self.plain.get() {
            Some((self.index.get(), flags))
        } else if self.fast_thread.get() == thread_token_if_any() {
            Some((self.index.get(), flags | abi::IORING_ENTER_REGISTERED_RING))
        } else {
            None
        }
    }

    /// The fd to pass, and `IORING_ENTER_REGISTERED_RING` or 0.
    #[inline(always)]
    fn get(&self) -> (u32, u32) {
        self.target_with(0)
    }

    /// The fd to pass, and `flags` plus the registered-ring flag where the
    /// fd is a registered index.
    #[inline(always)]
    fn target_with(&self, flags: u32) -> (u32, u32) {
        let thread = self.thread.get();
        if thread == thread_token_if_any() {
            (self.index.get(), flags | abi::IORING_ENTER_REGISTERED_RING)
        } else if thread != NO_THREAD && self.setup.contains(SetupFlags::REGISTERED_FD_ONLY) {
            // A REGISTERED_FD_ONLY ring has no fd, and its index means
            // another ring (or nothing) in this thread's table: -1 makes the
            // kernel answer EBADF instead of entering someone else's ring.
            (u32::MAX, flags)
        } else {
            (self.fd, flags)
        }
    }

    /// The fd and flags for `io_uring_enter`: as [`target_with`](Self::target_with),
    /// but registering the fd first if that is still to be done (only the
    /// enter path registers, not `register_raw`, which often runs on a
    /// set-up thread before the ring moves to its worker).
    #[inline(always)]
    fn enter_args(&self, flags: u32) -> (u32, u32) {
        if self.register_on_enter.get() {
            let (fd, reg) = self.register_here();
            return (fd, flags | reg);
        }
        self.target_with(flags)
    }

    /// Register the ring fd in this thread's table. Kernels before 5.18
    /// lack it, and a full table (16 per thread) refuses it: then the plain
    /// fd is used (and the direct route takes it, unless the ring is polled).
    #[cold]
    #[inline(never)]
    fn register_here(&self) -> (u32, u32) {
        self.register_on_enter.set(false);
        let mut update = abi::io_uring_rsrc_update { offset: u32::MAX, resv: 0, data: self.fd as u64 };
        // SAFETY: `update` is valid for one io_uring_rsrc_update; the kernel
        // writes the chosen index into it.
        let ret = unsafe {
            sys::io_uring_register(
                self.fd,
                abi::register_op::REGISTER_RING_FDS,
                (&mut update as *mut abi::io_uring_rsrc_update).cast(),
                1,
            )
        };
        if ret == Ok(1) {
            self.set_registered(update.offset, thread_token());
            (update.offset, abi::IORING_ENTER_REGISTERED_RING)
        } else {
            self.plain.set(!self.polled);
            (self.fd, 0)
        }
    }
}

impl Ring<Sqe64, Cqe16> {
    /// A default ring of `entries` in kernel memory.
    pub fn new(entries: u32) -> Result<Ring> {
        Builder::new(entries).build()
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// A builder for a ring with these entry types.
    pub fn builder(entries: u32) -> Builder<S, C> {
        Builder::new(entries)
    }

    pub(crate) fn from_setup(
        raw: u32,
        params: abi::io_uring_params,
        layout: Layout,
        backing: Backing,
        register_ring_fd: bool,
    ) -> Result<Ring<S, C>> {
        let setup = SetupFlags::from_bits_retain(params.flags);
        let registered_only = setup.contains(SetupFlags::REGISTERED_FD_ONLY);
        let fd = if registered_only {
            None
        } else {
            // SAFETY: io_uring_setup returned a new fd that nothing else owns.
            Some(unsafe { OwnedFd::from_raw_fd(raw as RawFd) })
        };
        let enter = EnterTarget::new(raw, setup, registered_only.then_some(raw), register_ring_fd);
        // From here on, an error drops `fd` (closing the ring) before
        // `backing`. A REGISTERED_FD_ONLY ring has no fd: its index in this
        // thread's table is its only reference, so an error must unregister
        // it, or the ring would live on until this thread exits.
        let (rings, sqes, kernel_maps) = match map_and_check(&params, &layout, &backing, fd.as_ref()) {
            Ok(regions) => regions,
            Err(e) => {
                if registered_only {
                    unregister_ring_index(raw);
                }
                return Err(e);
            }
        };
        // SAFETY: both regions were checked against the layout and the
        // kernel's offsets (map_and_check), and the ring keeps them alive.
        let (sq, cq) = unsafe { queue_pointers(rings, sqes, &params, &layout) };
        // SAFETY: as above.
        let (sq, cq) = unsafe { (SqState::new(sq), CqState::new(cq)) };
        Ok(Ring { sq, cq, enter, layout, params, fd, kernel_maps, backing, registrations: Default::default() })
    }

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

    /// The CQEs ready now. When the CQ looks empty but the kernel holds
    /// overflowed CQEs or pending task work, they are flushed in first, so no
    /// CQE is ever left behind.
    #[inline]
    pub fn completions(&mut self) -> Result<Drain<'_, C>> {
        if self.cq.is_empty() && self.sq.ring_flags() & (abi::IORING_SQ_CQ_OVERFLOW | abi::IORING_SQ_TASKRUN) != 0 {
            self.get_events()?;
        }
        Ok(self.cq.drain())
    }

    /// Enter the kernel only to flush overflowed CQEs and run task work.
    pub fn get_events(&mut self) -> Result<()> {
        self.enter(0, 0, abi::IORING_ENTER_GETEVENTS, std::ptr::null(), 0).map(|_| ())
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
        self.fd.as_ref().map(|f| f.as_fd())
    }

    /// The registered ring index, if the fd is registered (which happens
    /// at the first submit or wait, in the thread that makes it).
    pub fn registered_index(&self) -> Option<u32> {
        self.enter.registered().map(|(i, _)| i)
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

    /// `io_uring_enter` on this ring's fd (registered where possible).
    ///
    /// # Safety
    /// `arg`/`argsz` must be valid for `flags` (see io_uring_enter(2)).
    #[inline(always)]
    pub(crate) unsafe fn enter_raw(
        &self,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        arg: *const c_void,
        argsz: usize,
    ) -> std::result::Result<u32, Errno> {
        let (fd, flags) = self.enter.enter_args(flags);
        // SAFETY: forwarded contract; every SQE published was pushed through
        // the typed API whose safety contract covers its pointers.
        unsafe { sys::io_uring_enter(fd, to_submit, min_complete, flags, arg, argsz) }
    }

    /// The `Error` for a failed enter, built out of line: the hot path
    /// carries only the errno.
    #[cold]
    #[inline(never)]
    fn enter_error(&self, errno: Errno) -> Error {
        explain_enter_error(errno, &self.enter)
    }

    #[inline(always)]
    fn enter(&self, to_submit: u32, min_complete: u32, flags: u32, arg: *const c_void, argsz: usize) -> Result<u32> {
        // SAFETY: the callers in this module pass null or a valid EXT_ARG.
        unsafe { self.enter_raw(to_submit, min_complete, flags, arg, argsz) }.map_err(|errno| self.enter_error(errno))
    }

    /// Queue `op`, first submitting what is queued when the SQ is full: the
    /// loop every server writes around [`SubmissionQueue::push`]. Fails with
    /// [`Error::SubmissionQueueFull`] only when that submit consumed nothing.
    pub fn push_or_submit<O: SafeOp>(&mut self, op: O) -> Result<()> {
        self.make_room()?;
        self.submission().push(op).map_err(|_| Error::SubmissionQueueFull { capacity: self.sq.capacity() })
    }

    /// [`push_or_submit`](Self::push_or_submit) for any op.
    ///
    /// # Safety
    /// As for [`SubmissionQueue::push_unchecked`]: every pointer the op
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
    #[inline]
    pub fn submit(&mut self) -> Result<Submitted> {
        self.submit_and_wait(0)
    }

    /// Submit, then wait until at least `want` CQEs are ready.
    #[inline]
    pub fn submit_and_wait(&mut self, want: u32) -> Result<Submitted> {
        self.submit_inner(want, abi::IORING_ENTER_GETEVENTS, std::ptr::null(), 0)
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
        // Most rings take the direct route: one byte for a plain ring, one
        // thread-token compare more for the thread that registered the fd.
        if let Some((fd, flags)) = self.enter.direct(flags) {
            return self.enter_published(to_submit, want, flags, arg, argsz, |_, _| (fd, flags));
        }
        if self.enter.polled {
            // Publishes again (the same tail) and counts for itself.
            return self.submit_polled(want, wait_flags, arg, argsz);
        }
        // The fd is still to be registered, or the ring is entered from
        // another thread than the one that registered it.
        self.enter_published(to_submit, want, flags, arg, argsz, EnterTarget::enter_args)
    }

    /// Enter for `to_submit` published SQEs with the fd and flags `target`
    /// picks (called only if there is something to enter for), and account
    /// for what was consumed.
    #[inline(always)]
    fn enter_published(
        &mut self,
        to_submit: u32,
        want: u32,
        flags: u32,
        arg: *const c_void,
        argsz: usize,
        target: impl FnOnce(&EnterTarget, u32) -> (u32, u32),
    ) -> Result<Submitted> {
        if to_submit == 0 && flags == 0 {
            return Ok(Submitted { consumed: 0, remaining: 0, stopped_after: None });
        }
        let (fd, flags) = target(&self.enter, flags);
        // The result stays a bare errno until it is known to be an error:
        // the `Error` is built out of line, off the hot path.
        // SAFETY: the callers in this module pass null or a valid EXT_ARG;
        // every SQE published was pushed through the typed API whose safety
        // contract covers its pointers.
        let result = unsafe { sys::io_uring_enter(fd, to_submit, want, flags, arg, argsz) };
        // The head as last read is still cached (read here rather than kept
        // in a register across the syscall, which clobbers most of them).
        let before = self.sq.cached_head();
        let head = self.sq.sync_head();
        let consumed = head.wrapping_sub(before);
        let remaining = self.sq.local_tail().wrapping_sub(head);
        if let Err(errno) = result {
            // A wait that timed out or was interrupted after submitting: the
            // submission stands.
            if consumed == 0 {
                return Err(self.enter_error(errno));
            }
        }
        let stopped_after = (remaining > 0 && consumed > 0).then(|| self.sq.sqe_at(head.wrapping_sub(1)).user_data);
        Ok(Submitted { consumed, remaining, stopped_after })
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
            return match result {
                Err(e) if consumed == 0 => Err(e),
                _ => {
                    let stopped_after =
                        (remaining > 0 && consumed > 0).then(|| self.sq.sqe_at(head.wrapping_sub(1)).user_data);
                    Ok(Submitted { consumed, remaining, stopped_after })
                }
            };
        }
        let mut flags = 0;
        // The SQPOLL thread consumes on its own; wake it if it sleeps.
        if self.sq.ring_flags_seqcst() & abi::IORING_SQ_NEED_WAKEUP != 0 {
            flags |= abi::IORING_ENTER_SQ_WAKEUP;
        }
        if want > 0 {
            flags |= wait_flags;
        }
        if flags != 0 {
            self.enter(to_submit, want, flags, arg, argsz)?;
        }
        let head = self.sq.sync_head();
        Ok(Submitted {
            consumed: head.wrapping_sub(before),
            remaining: self.sq.local_tail().wrapping_sub(head),
            stopped_after: None,
        })
    }

    /// Wait until at least `want` CQEs are ready (submitting nothing).
    pub fn wait(&mut self, want: u32) -> Result<u32> {
        if self.cq.len() >= want {
            return Ok(self.cq.len());
        }
        self.enter(0, want, abi::IORING_ENTER_GETEVENTS, std::ptr::null(), 0)?;
        Ok(self.cq.len())
    }

    /// Submit, then wait until `want` CQEs are ready or `timeout` passes
    /// (`IORING_ENTER_EXT_ARG`, Linux 5.11). Returns the submission and the
    /// CQEs ready; a timeout is not an error.
    pub fn submit_and_wait_timeout(&mut self, want: u32, timeout: Duration) -> Result<(Submitted, u32)> {
        if !self.features().contains(Features::EXT_ARG) {
            return Err(Error::Unsupported {
                what: "waiting with a timeout".into(),
                why: "this kernel lacks IORING_FEAT_EXT_ARG (Linux 5.11)".into(),
            });
        }
        let ts = linux_raw_sys::general::__kernel_timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: timeout.subsec_nanos() as i64,
        };
        let arg =
            abi::io_uring_getevents_arg { sigmask: 0, sigmask_sz: 0, min_wait_usec: 0, ts: &ts as *const _ as u64 };
        let flags = abi::IORING_ENTER_GETEVENTS | abi::IORING_ENTER_EXT_ARG;
        let argp = (&arg as *const abi::io_uring_getevents_arg).cast::<c_void>();
        let argsz = std::mem::size_of::<abi::io_uring_getevents_arg>();
        // SAFETY: `arg` and the timespec it points to live until the call returns.
        unsafe { self.submit_and_wait_ext(want, flags, argp, argsz) }
    }

    /// Submit (if anything is queued), then wait for `want` CQEs with an
    /// extended argument (`flags` holds `EXT_ARG` and maybe `EXT_ARG_REG`).
    /// A timeout or a signal ends the wait without an error: the CQEs ready
    /// are returned with the submission. Shared by the timed and the
    /// registered-region waits.
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
                match self.enter(0, want, flags, arg, argsz) {
                    Ok(_) => {}
                    Err(e) if e.errno() == Errno::TIME || e.errno() == Errno::INTR => {}
                    Err(e) => return Err(e),
                }
                Submitted { consumed: 0, remaining: 0, stopped_after: None }
            } else {
                match self.submit_inner(want, flags, arg, argsz) {
                    Ok(s) => s,
                    Err(e) if e.errno() == Errno::TIME || e.errno() == Errno::INTR => {
                        Submitted { consumed: 0, remaining: self.sq.len(), stopped_after: None }
                    }
                    Err(e) => return Err(e),
                }
            };
        Ok((submitted, self.cq.len()))
    }

    /// Wait until `want` CQEs are ready or `timeout` passes; returns the CQEs
    /// ready (possibly fewer than `want` after a timeout).
    pub fn wait_timeout(&mut self, want: u32, timeout: Duration) -> Result<u32> {
        if self.cq.len() >= want {
            return Ok(self.cq.len());
        }
        // to_submit is 0: queued SQEs stay queued.
        let ts = linux_raw_sys::general::__kernel_timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: timeout.subsec_nanos() as i64,
        };
        let arg =
            abi::io_uring_getevents_arg { sigmask: 0, sigmask_sz: 0, min_wait_usec: 0, ts: &ts as *const _ as u64 };
        if !self.features().contains(Features::EXT_ARG) {
            return Err(Error::Unsupported {
                what: "waiting with a timeout".into(),
                why: "this kernel lacks IORING_FEAT_EXT_ARG (Linux 5.11)".into(),
            });
        }
        match self.enter(
            0,
            want,
            abi::IORING_ENTER_GETEVENTS | abi::IORING_ENTER_EXT_ARG,
            (&arg as *const abi::io_uring_getevents_arg).cast(),
            std::mem::size_of::<abi::io_uring_getevents_arg>(),
        ) {
            Ok(_) => {}
            Err(e) if e.errno() == Errno::TIME || e.errno() == Errno::INTR => {}
            Err(e) => return Err(e),
        }
        Ok(self.cq.len())
    }

    /// Enable a ring created with [`Builder::disabled`] (`R_DISABLED`).
    pub fn enable(&mut self) -> Result<()> {
        // SAFETY: ENABLE_RINGS takes no argument.
        unsafe { self.register_raw(abi::register_op::REGISTER_ENABLE_RINGS, std::ptr::null(), 0) }.map(|_| ())
    }

    /// `io_uring_register` on this ring (registered index where possible).
    ///
    /// # Safety
    /// `arg` must be valid for `opcode` with `nr_args`, and stay valid for as
    /// long as the kernel keeps it.
    pub unsafe fn register_raw(&self, opcode: u32, arg: *const c_void, nr_args: u32) -> Result<u32> {
        let (fd, reg) = self.enter.get();
        let opcode = if reg != 0 { opcode | abi::register_op::USE_REGISTERED_RING } else { opcode };
        // SAFETY: forwarded contract.
        unsafe { sys::io_uring_register(fd, opcode, arg, nr_args) }.map_err(|errno| {
            Error::kernel(
                "io_uring_register",
                errno,
                register_context(opcode & !abi::register_op::USE_REGISTERED_RING, errno),
            )
        })
    }

    /// Take over a ring set up elsewhere (its fd and the parameters setup
    /// returned). The entry-size flags must match `S` and `C`, the parameters
    /// must agree with the exact layout, and the fd must be an io_uring;
    /// rings in caller memory (`NO_MMAP`) cannot be adopted.
    ///
    /// # Safety
    /// An [`OwnedFd`] owns a descriptor, not the kernel ring behind it: `dup`
    /// gives two fds to one ring. So the caller must guarantee that, while
    /// the returned `Ring` lives, no other code and no other `Ring` submits
    /// to, reaps from, or maps and writes the memory of this kernel ring,
    /// through this fd or any other fd or registered index naming it (in
    /// particular: not the `Ring` whose [`fd`](Self::fd) was duplicated, and
    /// not a second `adopt` of a duplicate). Two owners keep separate SQ
    /// tails: the kernel then runs SQE slots one of them filled as if the
    /// other had queued them, again, with whatever pointers they carry.
    ///
    /// `params` must be the parameters `io_uring_setup` returned for this
    /// ring. ringwise refuses the mismatches it can see (entry-size flags
    /// against `S` and `C`, entry counts and masks against the ring's
    /// header, offsets and mapping lengths against the layout), but some
    /// flags leave no trace it can check: a ring without `NO_SQARRAY`
    /// adopted with that flag claimed would run the SQEs its stale SQ array
    /// names instead of those ringwise queued.
    ///
    /// Safe code cannot do it (the only error is E0133, a call to an unsafe
    /// function):
    ///
    /// ```compile_fail,E0133
    /// use ringwise::Ring;
    /// let a: Ring = Ring::new(4)?;
    /// let dup = a.fd().unwrap().try_clone_to_owned().unwrap();
    /// let _b: Ring = Ring::adopt(dup, *a.params())?; // error[E0133]
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub unsafe fn adopt(fd: OwnedFd, params: abi::io_uring_params) -> Result<Ring<S, C>> {
        let setup = SetupFlags::from_bits_retain(params.flags);
        let want = size_flags::<S, C>();
        if setup & SIZE_FLAGS != want {
            return Err(Error::EntryTypeMismatch { types_imply: want, found: setup & SIZE_FLAGS });
        }
        if setup.contains(SetupFlags::NO_MMAP) {
            return Err(Error::Unsupported {
                what: "adopting a NO_MMAP ring".into(),
                why: "its memory belongs to whoever set it up; ringwise cannot own it".into(),
            });
        }
        match std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) {
            Ok(link) if link.to_string_lossy() != "anon_inode:[io_uring]" => {
                return Err(Error::kernel(
                    "adopt",
                    Errno::BADF,
                    format!("fd {} is {}, not an io_uring", fd.as_raw_fd(), link.display()),
                ));
            }
            Ok(_) => {}
            // Without /proc the mmap of a non-ring fd fails below instead.
            Err(e) if std::path::Path::new("/proc/self/fd").is_dir() => {
                return Err(Error::kernel("adopt", Errno::BADF, format!("fd {} is not open: {e}", fd.as_raw_fd())));
            }
            Err(_) => {}
        }
        let mut spec = RingSpec::new(params.sq_entries).flags(setup - SetupFlags::CQSIZE);
        if setup.contains(SetupFlags::CQSIZE) || Some(params.cq_entries) != params.sq_entries.checked_mul(2) {
            spec = spec.cq_entries(params.cq_entries);
        }
        let layout = spec.layout()?;
        let raw = std::os::fd::IntoRawFd::into_raw_fd(fd) as u32;
        Ring::from_setup(raw, params, layout, Backing::Kernel, true)
    }
}

/// The queues' pointers into a ring's regions, from the kernel's offsets,
/// after filling the SQ index array (if the layout has one) so that slot i
/// names SQE i: ringwise consumes SQEs in ring order. Shared by setup and
/// resize, the two places a ring gets (new) memory.
///
/// # Safety
/// `rings` and `sqes` must be live regions laid out as `layout`, whose
/// header offsets in `params` were checked against it, and must stay alive
/// as long as the queues built from the pointers.
pub(crate) unsafe fn queue_pointers(
    rings: *mut u8,
    sqes: *mut u8,
    params: &abi::io_uring_params,
    layout: &Layout,
) -> (SqPointers, CqPointers) {
    let at = |off: u32| -> *const AtomicU32 {
        // SAFETY: the offsets were checked to lie in the header of the
        // rings region.
        unsafe { rings.add(off as usize).cast() }
    };
    if let Some(array_off) = layout.sq_array_offset() {
        // SAFETY: the SQ array lies in the rings region (layout); the kernel
        // reads it only when entered, after this.
        unsafe {
            let array = rings.add(array_off).cast::<u32>();
            for i in 0..layout.sq_entries() {
                array.add(i as usize).write(i);
            }
        }
    }
    let (so, co) = (&params.sq_off, &params.cq_off);
    let sq = SqPointers {
        head: at(so.head),
        tail: at(so.tail),
        flags: at(so.flags),
        dropped: at(so.dropped),
        sqes,
        entries: params.sq_entries,
    };
    let cq = CqPointers {
        head: at(co.head),
        tail: at(co.tail),
        overflow: at(co.overflow),
        flags: at(co.flags),
        // SAFETY: cq_off.cqes was checked to equal the layout's offset.
        cqes: unsafe { rings.add(co.cqes as usize) as *const u8 },
        entries: params.cq_entries,
    };
    (sq, cq)
}

/// The ring's regions, mapped if the kernel holds them, after checking the
/// kernel's parameters and ring header against the layout: (rings region,
/// SQE region, the kernel mappings if any).
#[allow(clippy::type_complexity)]
fn map_and_check(
    params: &abi::io_uring_params,
    layout: &Layout,
    backing: &Backing,
    fd: Option<&OwnedFd>,
) -> Result<(*mut u8, *mut u8, Option<(KernelMap, KernelMap)>)> {
    check_params_against_layout(params, layout)?;
    let (rings, sqes, kernel_maps) = match backing {
        Backing::User { rings, sqes, .. } => (*rings, *sqes, None),
        Backing::Kernel => {
            let features = Features::from_bits_retain(params.features);
            if !features.contains(Features::SINGLE_MMAP) {
                return Err(Error::Unsupported {
                    what: "a kernel-mapped ring".into(),
                    why: "this kernel lacks IORING_FEAT_SINGLE_MMAP (Linux 5.4); ringwise needs 5.4 or newer".into(),
                });
            }
            let Some(fd) = fd else {
                return Err(Error::Unsupported {
                    what: "a kernel-mapped ring".into(),
                    why: "a ring without an fd (REGISTERED_FD_ONLY) cannot be mapped; it needs NO_MMAP".into(),
                });
            };
            let rings_map =
                KernelMap::map(fd.as_fd(), layout.rings_bytes(), abi::IORING_OFF_SQ_RING as u64, "rings region")?;
            let sqes_map = KernelMap::map(fd.as_fd(), layout.sqes_bytes(), abi::IORING_OFF_SQES as u64, "SQE region")?;
            (rings_map.as_ptr(), sqes_map.as_ptr(), Some((rings_map, sqes_map)))
        }
    };
    check_header_against_params(rings, params)?;
    Ok((rings, sqes, kernel_maps))
}

/// Drop this thread's registered ring index `index`
/// (`IORING_UNREGISTER_RING_FDS`); for a `REGISTERED_FD_ONLY` ring that is
/// its last reference, and frees it. Errors are ignored: at worst the kernel
/// drops the index when the thread exits.
fn unregister_ring_index(index: u32) {
    let mut update = abi::io_uring_rsrc_update { offset: index, resv: 0, data: 0 };
    // SAFETY: a valid update naming the index, read during the call only.
    let _ = unsafe {
        sys::io_uring_register(
            index,
            abi::register_op::UNREGISTER_RING_FDS | abi::register_op::USE_REGISTERED_RING,
            (&mut update as *mut abi::io_uring_rsrc_update).cast(),
            1,
        )
    };
}

/// The kernel's returned parameters must agree with our layout, or the
/// memory we handed over (or mapped) is not what the kernel uses.
fn check_params_against_layout(p: &abi::io_uring_params, layout: &Layout) -> Result<()> {
    match params_layout_mismatch(p, layout) {
        None => Ok(()),
        Some((what, kernel, ours)) => Err(Error::Unsupported {
            what: "this ring".into(),
            why: format!(
                "the kernel reports {what} = {kernel} where ringwise's layout computed {ours}; ring memory would \
                 be wrong, so the ring was closed (please report this kernel version)"
            ),
        }),
    }
}

/// The first of the kernel's parameters that disagrees with `layout`: what
/// it is, the kernel's number, ours. Checked at setup and after a resize.
pub(crate) fn params_layout_mismatch(p: &abi::io_uring_params, layout: &Layout) -> Option<(&'static str, u64, u64)> {
    if p.sq_entries != layout.sq_entries() {
        return Some(("sq_entries", p.sq_entries as u64, layout.sq_entries() as u64));
    }
    if p.cq_entries != layout.cq_entries() {
        return Some(("cq_entries", p.cq_entries as u64, layout.cq_entries() as u64));
    }
    if p.cq_off.cqes as usize != layout.cqes_offset() {
        return Some(("cq_off.cqes", p.cq_off.cqes as u64, layout.cqes_offset() as u64));
    }
    if let Some(array) = layout.sq_array_offset() {
        if p.sq_off.array as usize != array {
            return Some(("sq_off.array", p.sq_off.array as u64, array as u64));
        }
    }
    let header = [
        p.sq_off.head,
        p.sq_off.tail,
        p.sq_off.flags,
        p.sq_off.dropped,
        p.cq_off.head,
        p.cq_off.tail,
        p.cq_off.overflow,
        p.cq_off.flags,
    ];
    if let Some(&bad) = header.iter().find(|&&off| off as usize + 4 > layout.cqes_offset()) {
        return Some(("a ring header offset", bad as u64, layout.cqes_offset() as u64));
    }
    None
}

/// The ring header the kernel filled in must describe the ring the
/// parameters describe: an fd adopted with another ring's parameters would
/// otherwise be driven with the wrong masks.
fn check_header_against_params(rings: *const u8, p: &abi::io_uring_params) -> Result<()> {
    use abi::rings_off;
    // SAFETY: `rings` is the start of a rings region at least one header
    // long (checked against the layout); the kernel wrote these fields at
    // setup and never changes them.
    let read = |off: usize| unsafe { (*rings.add(off).cast::<AtomicU32>()).load(Ordering::Relaxed) };
    let fields = [
        ("sq_ring_entries", read(rings_off::SQ_RING_ENTRIES), p.sq_entries),
        ("cq_ring_entries", read(rings_off::CQ_RING_ENTRIES), p.cq_entries),
        ("sq_ring_mask", read(rings_off::SQ_RING_MASK), p.sq_entries.wrapping_sub(1)),
        ("cq_ring_mask", read(rings_off::CQ_RING_MASK), p.cq_entries.wrapping_sub(1)),
    ];
    for (what, ring, params) in fields {
        if ring != params {
            return Err(Error::Unsupported {
                what: "this ring".into(),
                why: format!(
                    "the ring's header says {what} = {ring} but the parameters say {params}: the parameters \
                     belong to another ring"
                ),
            });
        }
    }
    // A ring adopted with SQEs queued but not submitted: they were filled
    // by other code, whose pointers ringwise cannot vouch for.
    let (head, tail) = (read(rings_off::SQ_HEAD), read(rings_off::SQ_TAIL));
    if head != tail {
        return Err(Error::Unsupported {
            what: "adopting this ring".into(),
            why: format!(
                "its SQ holds {} SQEs queued by other code and not yet submitted (head {head}, tail {tail}); \
                 submit them before handing the ring over",
                tail.wrapping_sub(head)
            ),
        });
    }
    Ok(())
}

fn explain_enter_error(errno: Errno, target: &EnterTarget) -> Error {
    let context = match errno {
        Errno::AGAIN => "the kernel could not allocate requests right now; reap completions and submit again",
        Errno::BUSY => "the CQ overflow list is full; reap completions before submitting more",
        Errno::BADF if target.setup.contains(SetupFlags::REGISTERED_FD_ONLY) => {
            "a REGISTERED_FD_ONLY ring can only be entered from the thread that created it"
        }
        Errno::BADR => "completions were lost: the CQ overflowed on a kernel without IORING_FEAT_NODROP",
        Errno::INTR => "interrupted by a signal; try again",
        Errno::TIME => "the wait timed out",
        Errno::NXIO => "the ring is being torn down",
        Errno::OWNERDEAD => "the SQPOLL thread has exited",
        Errno::EXIST => "SINGLE_ISSUER: this ring was first used by another thread",
        Errno::BADFD if target.setup.contains(SetupFlags::R_DISABLED) => {
            "the ring was set up disabled (R_DISABLED): call Ring::enable() before submitting or waiting"
        }
        _ => "",
    };
    Error::kernel("io_uring_enter", errno, context)
}

fn register_context(opcode: u32, errno: Errno) -> String {
    match errno {
        Errno::INVAL => format!("register opcode {opcode} refused: this kernel may not know it (see `ringwise probe`)"),
        Errno::BUSY => format!("register opcode {opcode}: already registered"),
        Errno::BADFD => "the ring is not disabled (R_DISABLED) or already enabled".to_string(),
        _ => format!("register opcode {opcode}"),
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Cancel every request in flight and wait (up to a second) until they
    /// are done (`IORING_REGISTER_SYNC_CANCEL` with `IORING_ASYNC_CANCEL_ANY`,
    /// Linux 6.0); errors are ignored, this is best effort at teardown.
    fn cancel_all_quietly(&self) {
        let mut reg: linux_raw_sys::io_uring::io_uring_sync_cancel_reg =
            // SAFETY: plain old data; all-zero is valid (and the kernel
            // requires the padding to be zero).
            unsafe { std::mem::zeroed() };
        reg.flags = linux_raw_sys::io_uring::IORING_ASYNC_CANCEL_ANY;
        reg.timeout.tv_sec = 1;
        // SAFETY: `reg` is a valid io_uring_sync_cancel_reg, read during the
        // call only; the fd is this ring's.
        let _ = unsafe {
            sys::io_uring_register(
                self.enter.fd,
                abi::register_op::REGISTER_SYNC_CANCEL,
                std::ptr::from_ref(&reg).cast(),
                1,
            )
        };
    }
}

impl<S: SqeSize, C: CqeSize> Drop for Ring<S, C> {
    fn drop(&mut self) {
        // Unregister the ring index (for REGISTERED_FD_ONLY this is the only
        // reference and frees the ring). From another thread the index is
        // not ours to unregister; the kernel drops it when that thread exits.
        // Until then the ring lives on, so cancel its requests now: none may
        // run on (reading a pipe, writing a buffer) after the ring is gone.
        // In a forked child the kernel ring is the parent's, which goes on
        // using it: leave its requests alone.
        if let Some((index, thread)) = self.enter.registered() {
            if thread == thread_token() {
                unregister_ring_index(index);
            } else if !self.enter.setup.contains(SetupFlags::REGISTERED_FD_ONLY) && self.enter.pid == current_pid() {
                self.cancel_all_quietly();
            }
        }
        // Fields drop next in declaration order: the fd closes before the
        // kernel maps and caller memory are released.
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
        self.fd.as_ref().map_or(-1, |f| f.as_raw_fd())
    }
}

#[cfg(test)]
mod tests {
    //! The submit route's precomputed state stays in step with the
    //! registration (pure logic; the kernel-backed tests of registered rings
    //! are in `tests/hot_path.rs`, `core_path.rs` and `setup_flags.rs`).
    use super::*;

    const GET: u32 = abi::IORING_ENTER_GETEVENTS;
    const REG: u32 = abi::IORING_ENTER_REGISTERED_RING;

    /// On another thread (which may or may not have a token of its own).
    fn elsewhere<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| s.spawn(f).join().unwrap())
    }

    /// `(a, b, target)` as `(target, (a, b))`.
    trait Rotate<A, B, T> {
        fn rotate(self) -> (T, (A, B));
    }
    impl<A, B, T> Rotate<A, B, T> for (A, B, T) {
        fn rotate(self) -> (T, (A, B)) {
            (self.2, (self.0, self.1))
        }
    }

    #[test]
    fn plain_ring_takes_the_fd() {
        let t = EnterTarget::new(7, SetupFlags::empty(), None, false);
        assert_eq!(t.direct(GET), Some((7, GET)));
        assert_eq!(t.registered(), None);
    }

    #[test]
    fn registered_index_only_from_its_thread() {
        let t = EnterTarget::new(7, SetupFlags::empty(), None, true);
        assert_eq!(t.direct(GET), None, "still to register: the general route");
        t.set_registered(3, thread_token());
        assert_eq!(t.direct(GET), Some((3, GET | REG)));
        assert_eq!(t.registered(), Some((3, thread_token())));
        let (t, (direct, target)) = elsewhere(move || (t.direct(GET), t.target_with(GET), t)).rotate();
        assert_eq!(direct, None, "another thread must not take the direct route");
        assert_eq!(target, (7, GET), "another thread enters through the fd");
        let (t, (direct, target)) = elsewhere(move || {
            thread_token();
            (t.direct(GET), t.target_with(GET), t)
        })
        .rotate();
        assert_eq!((direct, target), (None, (7, GET)), "nor a thread with a token of its own");
        assert_eq!(t.direct(GET), Some((3, GET | REG)), "and back on its own thread");
    }

    #[test]
    fn registered_fd_only_ring_elsewhere_gets_minus_one() {
        let t = EnterTarget::new(5, SetupFlags::REGISTERED_FD_ONLY, Some(5), true);
        assert_eq!(t.direct(0), Some((5, REG)));
        let (_, got) = elsewhere(move || (t.direct(0), t.target_with(0), t)).rotate();
        assert_eq!(got, (None, (u32::MAX, 0)));
    }

    #[test]
    fn polled_rings_never_take_the_direct_route() {
        for setup in [SetupFlags::SQPOLL, SetupFlags::IOPOLL] {
            let t = EnterTarget::new(7, setup, None, false);
            assert_eq!(t.direct(GET), None);
            let t = EnterTarget::new(7, setup, None, true);
            t.set_registered(2, thread_token());
            assert_eq!(t.direct(GET), None, "{setup:?}");
            assert_eq!(t.target_with(GET), (2, GET | REG), "{setup:?} still enters through its index");
        }
    }

    #[test]
    fn failed_registration_falls_back_to_the_plain_fd() {
        // u32::MAX is no fd: IORING_REGISTER_RING_FDS fails (EBADF).
        let t = EnterTarget::new(u32::MAX, SetupFlags::empty(), None, true);
        assert_eq!(t.enter_args(GET), (u32::MAX, GET));
        assert!(!t.register_on_enter.get());
        assert_eq!(t.registered(), None);
        assert_eq!(t.direct(GET), Some((u32::MAX, GET)), "plain from now on");
    }

    /// A `REGISTERED_FD_ONLY` ring whose parameters fail the checks in
    /// `from_setup` is unregistered on that error path: its index is its
    /// only reference, and a leftover index keeps the ring alive until the
    /// thread exits.
    #[test]
    fn registered_fd_only_ring_failing_its_checks_is_unregistered() {
        let flags = SetupFlags::NO_MMAP | SetupFlags::REGISTERED_FD_ONLY;
        let layout = RingSpec::new(8).flags(flags).layout().expect("layout");
        let memory = crate::memory::Mapping::anonymous(layout.total_bytes()).expect("memory");
        let rings = memory.as_ptr();
        // SAFETY: the SQE region's offset lies inside the buffer (the layout
        // says so; the buffer is `total_bytes` long).
        let sqes = unsafe { rings.add(layout.sqes_offset_in_buffer()) };
        let mut p = crate::abi::zeroed_params();
        p.flags = flags.bits();
        p.cq_off.user_addr = rings as u64;
        p.sq_off.user_addr = sqes as u64;
        // SAFETY: both regions lie in `memory`, exactly as the layout says,
        // which stays mapped until after the ring is gone (it moves into the
        // backing below, dropped after the index is unregistered).
        let index = match unsafe { sys::io_uring_setup(8, &mut p) } {
            Ok(index) => index,
            Err(errno) => {
                eprintln!("skipped: this kernel refuses REGISTERED_FD_ONLY rings ({})", crate::errno_name(errno));
                return;
            }
        };
        let registered = || {
            // SAFETY: an enter that submits and waits for nothing, through
            // this thread's index: EBADF once nothing is registered there.
            unsafe { sys::io_uring_enter(index, 0, 0, abi::IORING_ENTER_REGISTERED_RING, std::ptr::null(), 0).is_ok() }
        };
        assert!(registered(), "setup registered the ring at index {index}");
        // The checks fail: these are not the parameters of a 16-entry ring.
        let wrong = RingSpec::new(16).flags(flags).layout().expect("layout");
        let backing = Backing::User { rings, sqes, owners: vec![Box::new(memory)] };
        let err = Ring::<Sqe64, Cqe16>::from_setup(index, p, wrong, backing, false).expect_err("not a 16-entry ring");
        assert!(err.to_string().contains("sq_entries"), "{err}");
        let leaked = registered();
        if leaked {
            unregister_ring_index(index);
        }
        assert!(!leaked, "the failed ring was left registered at index {index}");
    }

    #[test]
    fn no_thread_sentinel_matches_nobody() {
        assert_ne!(thread_token(), NO_THREAD);
        assert_ne!(thread_token_if_any(), NO_THREAD);
        assert_ne!(elsewhere(thread_token_if_any), NO_THREAD);
    }
}
