//! The enter call: which fd or registered index `io_uring_enter` goes
//! through from the calling thread ([`EnterTarget`]), the call itself, the
//! ring's `io_uring_register`, and the sentences their errors carry.
//!
//! The route is precomputed so that the submit path (see `wait.rs`)
//! compares one thread token, for a plain ring as for a ring whose fd this
//! thread registered. Ownership of the fd and of the registered index
//! is [`RingFd`]'s; this module only decides which of them an enter names.

use super::Ring;
use crate::abi;
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::flags::SetupFlags;
use crate::raw::{thread_token, thread_token_if_any, RingFd, NO_THREAD};
use crate::sys;
use rustix::io::Errno;
use std::cell::{Cell, OnceCell};
use std::ffi::c_void;

/// This process's id (a syscall: for set-up and teardown only).
pub(super) fn current_pid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

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
/// precomputed whenever the route changes (at setup, in
/// [`register_here`](Self::register_here), and when a plain ring is entered
/// from a new thread, in [`adopt_thread`](Self::adopt_thread)).
#[derive(Debug)]
pub(super) struct EnterTarget {
    /// The ring fd (or, for a `REGISTERED_FD_ONLY` ring, its index): what
    /// an enter passes where no registered index of this thread applies.
    pub(super) fd: u32,
    /// The registered ring index while `thread` is set; until then the
    /// ring fd. Either way what the direct route passes.
    index: Cell<u32>,
    /// Token of the thread in whose table `index` lives, or [`NO_THREAD`].
    thread: Cell<u64>,
    /// The one thread that may take the direct route, or [`NO_THREAD`]:
    /// for a registered ring the registering thread, for a plain ring the
    /// thread that entered it last (any thread may use the fd; the general
    /// route hands the direct one to each new thread), never for a polled
    /// or unusable ring or one whose fd is still to be registered. One
    /// compare with this thread's token picks the route, whichever kind of
    /// ring it is.
    fast_thread: Cell<u64>,
    /// `IORING_ENTER_REGISTERED_RING` where `index` is a registered index
    /// (the direct route is then the registering thread's), else 0.
    direct_reg: Cell<u32>,
    /// `IORING_ENTER_GETEVENTS | direct_reg`: the flags of a plain
    /// `submit_and_wait` on the direct route, one load.
    direct_wait: Cell<u32>,
    /// Not polled, no index in play and nothing to register: the plain fd,
    /// usable from any thread (the general route then re-points
    /// `fast_thread`).
    plain: Cell<bool>,
    /// Register the fd at the next enter (set once, at setup).
    register_on_enter: Cell<bool>,
    /// The ring's setup flags.
    pub(super) setup: SetupFlags,
    /// SQPOLL or IOPOLL: submission takes the longer path.
    pub(super) polled: bool,
    /// The process that set the ring up (a forked child is another).
    pub(super) pid: u32,
    /// Set when the ring can no longer be used, with why: every enter and
    /// registration is then refused ([`Error::RingUnusable`]).
    unusable: OnceCell<String>,
}

impl EnterTarget {
    /// The target for a ring set up with `setup`: `registered` is the
    /// index of a `REGISTERED_FD_ONLY` ring (registered by the calling
    /// thread, in setup); `register_on_enter` asks for the fd to be
    /// registered at the first enter.
    pub(super) fn new(fd: u32, setup: SetupFlags, registered: Option<u32>, register_on_enter: bool) -> EnterTarget {
        let polled = setup.intersects(SetupFlags::SQPOLL | SetupFlags::IOPOLL);
        let register_on_enter = register_on_enter && registered.is_none();
        let target = EnterTarget {
            fd,
            index: Cell::new(fd),
            thread: Cell::new(NO_THREAD),
            fast_thread: Cell::new(NO_THREAD),
            direct_reg: Cell::new(0),
            direct_wait: Cell::new(abi::IORING_ENTER_GETEVENTS),
            plain: Cell::new(!polled && !register_on_enter && registered.is_none()),
            register_on_enter: Cell::new(register_on_enter),
            setup,
            polled,
            pid: current_pid(),
            unusable: OnceCell::new(),
        };
        if let Some(index) = registered {
            target.set_registered(index, thread_token());
        }
        target.adopt_thread();
        target
    }

    /// On a plain ring, give the direct route to the calling thread (the
    /// plain fd works from any thread). Nothing on any other ring.
    #[inline]
    pub(super) fn adopt_thread(&self) {
        if self.plain.get() {
            self.fast_thread.set(thread_token());
        }
    }

    /// Refuse every further enter and registration, saying `why`. The
    /// direct route is closed (so the submit path reaches the check in the
    /// general route, off the hot path); the registered index, if any, stays
    /// with the `RingFd` that owns it, for teardown.
    pub(super) fn make_unusable(&self, why: String) {
        let _ = self.unusable.set(why);
        self.plain.set(false);
        self.fast_thread.set(NO_THREAD);
        self.register_on_enter.set(false);
    }

    /// The refusal of a ring made unusable, if it is.
    #[cold]
    #[inline(never)]
    pub(super) fn unusable(&self) -> Option<Error> {
        self.unusable.get().map(|why| Error::RingUnusable { why: why.clone() })
    }

    /// Whether the ring was made unusable (one load; see [`unusable`](Self::unusable)).
    #[inline(always)]
    pub(super) fn is_unusable(&self) -> bool {
        self.unusable.get().is_some()
    }

    /// Record that `index` in `thread`'s table names this ring.
    pub(super) fn set_registered(&self, index: u32, thread: u64) {
        self.index.set(index);
        self.thread.set(thread);
        self.plain.set(false);
        self.direct_reg.set(abi::IORING_ENTER_REGISTERED_RING);
        self.direct_wait.set(abi::IORING_ENTER_GETEVENTS | abi::IORING_ENTER_REGISTERED_RING);
        self.fast_thread.set(if self.polled { NO_THREAD } else { thread });
    }

    /// The registered index and its thread's token, if the fd is registered
    /// (the route's copy of what the ring's `RingFd` holds).
    #[cfg(test)]
    pub(super) fn registered(&self) -> Option<(u32, u64)> {
        let thread = self.thread.get();
        (thread != NO_THREAD).then(|| (self.index.get(), thread))
    }

    /// The target of the direct submit route, for a ring that is not
    /// polled and has nothing to register, from the one thread it is set
    /// up for (`fast_thread`): the registered index from the registering
    /// thread, the plain fd from the thread that entered a plain ring last.
    /// One thread-local load and compare either way. `None`: take the
    /// general route (polled, still to register, unusable, an index
    /// registered by another thread, or a plain ring new to this thread).
    /// Flags are merged from precomputed fields, so the inlined caller
    /// loads one word for a plain wait.
    #[inline(always)]
    pub(super) fn direct(&self, flags: u32) -> Option<(u32, u32)> {
        if self.fast_thread.get() != thread_token_if_any() {
            return None;
        }
        let flags =
            if flags == abi::IORING_ENTER_GETEVENTS { self.direct_wait.get() } else { flags | self.direct_reg.get() };
        Some((self.index.get(), flags))
    }

    /// The fd to pass, and `IORING_ENTER_REGISTERED_RING` or 0.
    #[inline(always)]
    pub(super) fn get(&self) -> (u32, u32) {
        self.target_with(0)
    }

    /// The fd to pass, and `flags` plus the registered-ring flag where the
    /// fd is a registered index.
    #[inline(always)]
    pub(super) fn target_with(&self, flags: u32) -> (u32, u32) {
        // The rule of `raw::ring_fd::route`, spelled out here: written
        // through that function, this general branch (inlined into the
        // submit loop) cost the direct route one instruction per submit
        // (callgrind, batch 1). A REGISTERED_FD_ONLY ring has no fd, and its
        // index means another ring (or nothing) in another thread's table:
        // -1 makes the kernel answer EBADF instead of entering someone
        // else's ring.
        let thread = self.thread.get();
        if thread == thread_token_if_any() {
            (self.index.get(), flags | abi::IORING_ENTER_REGISTERED_RING)
        } else if thread != NO_THREAD && self.setup.contains(SetupFlags::REGISTERED_FD_ONLY) {
            (u32::MAX, flags)
        } else {
            (self.fd, flags)
        }
    }

    /// The fd and flags for `io_uring_enter`: as [`target_with`](Self::target_with),
    /// but registering `ring`'s fd first if that is still to be done (only
    /// the enter path registers, not `register_raw`, which often runs on a
    /// set-up thread before the ring moves to its worker).
    #[inline(always)]
    pub(super) fn enter_args(&self, ring: &RingFd, flags: u32) -> (u32, u32) {
        if self.register_on_enter.get() {
            let (fd, reg) = self.register_here(ring);
            return (fd, flags | reg);
        }
        self.target_with(flags)
    }

    /// Register `ring`'s fd in this thread's table ([`RingFd::register`],
    /// which then owns the index) and route through it. Kernels before 5.18
    /// lack it, and a full table (16 per thread) refuses it: then the plain
    /// fd is used (and the direct route takes it, unless the ring is polled).
    #[cold]
    #[inline(never)]
    pub(super) fn register_here(&self, ring: &RingFd) -> (u32, u32) {
        self.register_on_enter.set(false);
        match ring.register() {
            Ok(index) => {
                self.set_registered(index, thread_token());
                (index, abi::IORING_ENTER_REGISTERED_RING)
            }
            Err(_) => {
                self.plain.set(!self.polled);
                self.adopt_thread();
                (self.fd, 0)
            }
        }
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Make this ring refuse every further submit, wait and registration
    /// with [`Error::RingUnusable`] saying `why`, and every push with
    /// [`SqFull`](crate::SqFull): for a ring whose view of its own queues
    /// is gone (the kernel accepted a resize whose memory could then not be
    /// mapped). Dropping it still releases everything.
    pub(crate) fn make_unusable(&mut self, why: String) {
        self.enter.make_unusable(why);
        self.sq.seal();
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
        let (fd, flags) = self.enter.enter_args(&self.fd, flags);
        // SAFETY: forwarded contract; every SQE published was pushed through
        // the typed API whose safety contract covers its pointers.
        unsafe { sys::io_uring_enter(fd, to_submit, min_complete, flags, arg, argsz) }
    }

    /// The `Error` for a failed enter, built out of line: the hot path
    /// carries only the errno.
    #[cold]
    #[inline(never)]
    pub(super) fn enter_error(&self, errno: Errno) -> Error {
        explain_enter_error(errno, &self.enter)
    }

    /// [`enter_raw`](Self::enter_raw) with the errno explained.
    #[inline(always)]
    pub(super) fn enter(
        &self,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        arg: *const c_void,
        argsz: usize,
    ) -> Result<u32> {
        if self.enter.is_unusable() {
            return Err(self.enter.unusable().expect("unusable"));
        }
        // SAFETY: the callers in this module pass null or a valid EXT_ARG.
        unsafe { self.enter_raw(to_submit, min_complete, flags, arg, argsz) }.map_err(|errno| self.enter_error(errno))
    }

    /// Enable a ring created with [`Builder::disabled`](crate::Builder::disabled)
    /// (`R_DISABLED`; `IORING_REGISTER_ENABLE_RINGS`, Linux 5.10). A
    /// `SINGLE_ISSUER` ring enabled here belongs to the calling thread: the
    /// way to build a ring on one thread and use it on another.
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
        if let Some(refused) = self.enter.unusable() {
            return Err(refused);
        }
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
        Errno::EXIST if target.setup.contains(SetupFlags::SINGLE_ISSUER) => {
            "SINGLE_ISSUER: this ring was created (or, built disabled, enabled) on another thread, and only that \
             thread may submit to it (or, with DEFER_TASKRUN, wait on it); to use it from this thread, build it \
             with Builder::disabled() and call Ring::enable() on this thread"
        }
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

#[cfg(test)]
mod tests {
    //! The submit route's precomputed state stays in step with the
    //! registration (pure logic; the kernel-backed tests of registered rings
    //! are in `tests/threads_and_fork.rs` and `setup_flags.rs`).
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
        assert_eq!(t.direct(0), Some((7, 0)));
        assert_eq!(t.registered(), None);
    }

    /// A plain ring's direct route belongs to the thread that entered it
    /// last: another thread takes the general route once (which hands the
    /// direct route over), and the plain fd either way.
    #[test]
    fn plain_ring_hands_the_direct_route_to_each_new_thread() {
        let t = EnterTarget::new(7, SetupFlags::empty(), None, false);
        let (t, (before, after)) = elsewhere(move || {
            let before = t.direct(GET);
            assert_eq!(t.target_with(GET), (7, GET), "the general route's fd");
            t.adopt_thread();
            (before, t.direct(GET), t)
        })
        .rotate();
        assert_eq!((before, after), (None, Some((7, GET))));
        assert_eq!(t.direct(GET), None, "the other thread has it now");
        t.adopt_thread();
        assert_eq!(t.direct(GET), Some((7, GET)));
        // A registered ring's route is not handed over.
        let r = EnterTarget::new(7, SetupFlags::empty(), None, true);
        r.set_registered(3, thread_token());
        let (direct, _r) = elsewhere(move || {
            r.adopt_thread();
            (r.direct(GET), r)
        });
        assert_eq!(direct, None, "adopt_thread gave another thread a registered index");
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
        // /dev/null is no ring: IORING_REGISTER_RING_FDS fails (EOPNOTSUPP),
        // and the enter goes through the target's plain fd (u32::MAX here,
        // which is no fd at all: only the route is under test).
        let not_a_ring = RingFd::from_fd(std::fs::File::open("/dev/null").expect("/dev/null").into());
        let t = EnterTarget::new(u32::MAX, SetupFlags::empty(), None, true);
        assert_eq!(t.enter_args(&not_a_ring, GET), (u32::MAX, GET));
        assert!(!t.register_on_enter.get());
        assert_eq!(t.registered(), None);
        assert_eq!(t.direct(GET), Some((u32::MAX, GET)), "plain from now on");
    }

    #[test]
    fn no_thread_sentinel_matches_nobody() {
        assert_ne!(thread_token(), NO_THREAD);
        assert_ne!(thread_token_if_any(), NO_THREAD);
        assert_ne!(elsewhere(thread_token_if_any), NO_THREAD);
    }

    /// The SINGLE_ISSUER refusal names the cause (the ring belongs to the
    /// thread that created or enabled it) and the fix, and the fix works.
    #[test]
    fn single_issuer_elsewhere_says_where_it_belongs_and_how_to_fix_it() {
        use crate::fake_ring::TestNop;
        use crate::{Builder, Cqe16, Sqe64};
        let ring = Builder::<Sqe64, Cqe16>::new(4).single_issuer().build().expect("a SINGLE_ISSUER ring");
        let (ring, err) = elsewhere(move || {
            let mut ring = ring;
            ring.submission().push(TestNop(1)).expect("room");
            let err = ring.submit().expect_err("another thread's SINGLE_ISSUER ring");
            (ring, err)
        });
        assert_eq!(err.errno(), Errno::EXIST, "{err}");
        let text = err.to_string();
        for part in ["SINGLE_ISSUER", "created (or, built disabled, enabled) on another thread", "Builder::disabled()"]
        {
            assert!(text.contains(part), "{part:?} missing from: {text}");
        }
        assert!(text.contains("Ring::enable() on this thread"), "{text}");
        drop(ring);

        // The fix: built disabled here, enabled and used there.
        let ring = Builder::<Sqe64, Cqe16>::new(4).single_issuer().disabled().build().expect("a disabled ring");
        elsewhere(move || {
            let mut ring = ring;
            ring.enable().expect("enable on the user thread");
            ring.submission().push(TestNop(2)).expect("room");
            assert_eq!(ring.submit_and_wait(1).expect("submit on the enabling thread").consumed, 1);
            assert_eq!(ring.completion().next().map(|c| c.user_data), Some(2));
        });
    }
}
