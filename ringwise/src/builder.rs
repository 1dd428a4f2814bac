//! Setting a ring up: flags and parameters, companion-flag checks, and the
//! three homes for ring memory (kernel-mapped, library-allocated, caller's).
//!
//! Every check that can be made before `io_uring_setup` is made here, so the
//! kernel is never handed parameters or memory that could corrupt anything.

use crate::abi;
use crate::entry::{size_flags, Cqe16, CqeSize, Sqe64, SqeSize};
use crate::error::{Error, Region, Result};
use crate::flags::{SetupFlags, SIZE_FLAGS};
use crate::layout::{Layout, RingSpec};
use crate::memlock::{self, MemlockCharge, RingMemoryKind};
use crate::memory::{check_region, Mapping, Pages, RingMemory};
use crate::raw::RingFd;
use crate::ring::{Backing, ReleaseWait, Ring};
use crate::sys;
use rustix::io::Errno;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

/// Whether to use `IORING_SETUP_NO_SQARRAY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SqArray {
    /// Drop the SQ array where the kernel supports it (6.6+).
    Auto,
    Keep,
    Drop,
}

impl Ring<Sqe64, Cqe16> {
    /// A ring of `entries` SQ entries (rounded up to a power of two; twice
    /// as many CQ entries) in kernel memory, with 64-byte SQEs, 16-byte
    /// CQEs and the default flags: `Builder::new(entries).build()`.
    pub fn new(entries: u32) -> Result<Ring> {
        Builder::new(entries).build()
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// A [`Builder`] for a ring with these entry types, for flags, caller
    /// memory or library-allocated (huge) pages.
    pub fn builder(entries: u32) -> Builder<S, C> {
        Builder::new(entries)
    }
}

/// Builds a [`Ring`]. Entry sizes come from the type parameters
/// (`Builder<Sqe128, Cqe32>` sets `SQE128 | CQE32`); flags come from the
/// methods, each checked against the kernel's companion rules before any
/// syscall. Three homes for the ring's memory:
///
/// * [`build`](Self::build): kernel memory, mapped with `mmap` (the
///   classic ring);
/// * [`build_allocated`](Self::build_allocated): pages ringwise maps for
///   the ring (`IORING_SETUP_NO_MMAP`, Linux 6.5), 2 MiB huge pages when
///   asked and available;
/// * [`build_in`](Self::build_in) / [`build_in_regions`](Self::build_in_regions):
///   memory the caller provides (any [`RingMemory`]), checked to be long
///   enough, page-aligned and writable before the kernel sees it.
///
/// ```
/// use ringwise::{op::Nop, Builder, Cqe32, Mapping, Pages, Sqe128, Sqe64, Cqe16};
///
/// // Kernel memory, with flags.
/// let mut ring = Builder::<Sqe64, Cqe16>::new(32).submit_all().build()?;
/// ring.submission().push(Nop::new().user_data(1)).unwrap();
/// ring.submit_and_wait(1)?;
///
/// // Pages ringwise maps for the ring (huge pages if it can get them).
/// let ring = Builder::<Sqe128, Cqe32>::new(64).build_allocated(Pages::Huge)?;
/// println!("{}", ring.memory_report().kind);
///
/// // Caller memory: exactly the bytes the layout says.
/// let builder = Builder::<Sqe64, Cqe16>::new(16);
/// let memory = Mapping::anonymous(builder.layout()?.total_bytes())?;
/// let mut ring = builder.build_in(memory)?;
/// ring.submission().push(Nop::new().user_data(2)).unwrap();
/// ring.submit_and_wait(1)?;
/// assert_eq!(ring.completion().next().map(|c| c.user_data), Some(2));
/// # Ok::<(), ringwise::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder<S: SqeSize = Sqe64, C: CqeSize = Cqe16> {
    entries: u32,
    cq_entries: Option<u32>,
    flags: SetupFlags,
    sq_thread_cpu: u32,
    sq_thread_idle_ms: u32,
    wq_fd: u32,
    sq_array: SqArray,
    register_ring_fd: bool,
    release_wait: Option<Duration>,
    _sizes: PhantomData<(S, C)>,
}

impl<S: SqeSize, C: CqeSize> Builder<S, C> {
    /// A ring with `entries` SQ entries (rounded up to a power of two).
    pub fn new(entries: u32) -> Builder<S, C> {
        Builder {
            entries,
            cq_entries: None,
            flags: SetupFlags::empty(),
            sq_thread_cpu: 0,
            sq_thread_idle_ms: 0,
            wq_fd: 0,
            sq_array: SqArray::Auto,
            register_ring_fd: true,
            release_wait: None,
            _sizes: PhantomData,
        }
    }

    /// CQ entries (`IORING_SETUP_CQSIZE`, Linux 5.5); the default is twice
    /// the SQ entries.
    pub fn cq_entries(mut self, cq: u32) -> Self {
        self.cq_entries = Some(cq);
        self
    }
    /// Clamp entry counts to the kernel's maximum instead of failing
    /// (`CLAMP`, Linux 5.6).
    pub fn clamp(mut self) -> Self {
        self.flags |= SetupFlags::CLAMP;
        self
    }
    /// Busy-poll completions (`IOPOLL`, Linux 5.1), for O_DIRECT on polled
    /// devices.
    pub fn iopoll(mut self) -> Self {
        self.flags |= SetupFlags::IOPOLL;
        self
    }
    /// Hybrid polling (`IOPOLL | HYBRID_IOPOLL`, Linux 6.13).
    pub fn hybrid_iopoll(mut self) -> Self {
        self.flags |= SetupFlags::IOPOLL | SetupFlags::HYBRID_IOPOLL;
        self
    }
    /// A kernel thread polls the SQ (`SQPOLL`, Linux 5.1), sleeping after
    /// `idle` without work.
    pub fn sqpoll(mut self, idle: Duration) -> Self {
        self.flags |= SetupFlags::SQPOLL;
        self.sq_thread_idle_ms = idle.as_millis().min(u32::MAX as u128) as u32;
        self
    }
    /// Pin the SQPOLL thread to `cpu` (`SQ_AFF`; needs [`sqpoll`](Self::sqpoll)).
    pub fn sq_thread_cpu(mut self, cpu: u32) -> Self {
        self.flags |= SetupFlags::SQ_AFF;
        self.sq_thread_cpu = cpu;
        self
    }
    /// Share the io-wq workers (and SQPOLL thread) of another ring
    /// (`ATTACH_WQ`, Linux 5.6).
    /// With [`sqpoll`](Self::sqpoll) this ring uses the other ring's SQPOLL
    /// thread, so the other ring must have been set up with `SQPOLL` too.
    pub fn attach_wq(mut self, other: BorrowedFd<'_>) -> Self {
        self.flags |= SetupFlags::ATTACH_WQ;
        self.wq_fd = other.as_raw_fd() as u32;
        self
    }
    /// Start disabled (`R_DISABLED`, Linux 5.10): register restrictions,
    /// then [`Ring::enable`]. A `SINGLE_ISSUER` ring built disabled belongs
    /// to the thread that enables it, not the one that built it.
    pub fn disabled(mut self) -> Self {
        self.flags |= SetupFlags::R_DISABLED;
        self
    }
    /// Keep submitting after an SQE fails to prepare (`SUBMIT_ALL`, Linux
    /// 5.18).
    pub fn submit_all(mut self) -> Self {
        self.flags |= SetupFlags::SUBMIT_ALL;
        self
    }
    /// Run task work only when entering the kernel (`COOP_TASKRUN`, Linux
    /// 5.19).
    pub fn coop_taskrun(mut self) -> Self {
        self.flags |= SetupFlags::COOP_TASKRUN;
        self
    }
    /// Flag pending task work in the SQ flags (`TASKRUN_FLAG`, Linux 5.19;
    /// needs `COOP_TASKRUN` or `DEFER_TASKRUN`).
    pub fn taskrun_flag(mut self) -> Self {
        self.flags |= SetupFlags::TASKRUN_FLAG;
        self
    }
    /// Only one thread submits (`SINGLE_ISSUER`, Linux 6.0): the thread
    /// that creates the ring, or with [`disabled`](Self::disabled) the one
    /// that enables it. See "Threads" on [`Ring`].
    pub fn single_issuer(mut self) -> Self {
        self.flags |= SetupFlags::SINGLE_ISSUER;
        self
    }
    /// Defer task work until the issuer waits (`DEFER_TASKRUN`, Linux 6.1;
    /// needs `SINGLE_ISSUER`).
    pub fn defer_taskrun(mut self) -> Self {
        self.flags |= SetupFlags::DEFER_TASKRUN;
        self
    }
    /// Keep no ring fd, only a registered ring index (`REGISTERED_FD_ONLY`,
    /// Linux 6.5).
    /// Needs caller or library memory (`NO_MMAP`). The ring can then only be
    /// used from the thread that created it.
    ///
    /// **Drop it on that thread too.** Its index in the creating thread's
    /// table is the only thing that names the ring, and only that thread
    /// can unregister it: dropped anywhere else, the ring cannot be reached
    /// to cancel its requests, so they keep running (and the buffers they
    /// use must stay valid) until the creating thread exits, when the kernel
    /// drops the index. See "Dropping" on [`Ring`].
    pub fn registered_fd_only(mut self) -> Self {
        self.flags |= SetupFlags::REGISTERED_FD_ONLY;
        self
    }
    /// Keep the SQ index array even where the kernel could do without
    /// (the default drops it with `NO_SQARRAY` on 6.6+).
    pub fn keep_sq_array(mut self) -> Self {
        self.sq_array = SqArray::Keep;
        self
    }
    /// Require `NO_SQARRAY` (Linux 6.6; fail on kernels without it).
    pub fn no_sq_array(mut self) -> Self {
        self.sq_array = SqArray::Drop;
        self
    }
    /// Register the ring fd so that `io_uring_enter` skips the fd lookup
    /// (default on; `IORING_REGISTER_RING_FDS`, Linux 5.18). The kernel's table is per thread: the fd is registered
    /// at the first submit or wait, by that thread, and used from it; other
    /// threads use the plain fd.
    pub fn register_ring_fd(mut self, yes: bool) -> Self {
        self.register_ring_fd = yes;
        self
    }
    /// Make dropping the ring wait, for at most `timeout`, until the kernel
    /// has given its `RLIMIT_MEMLOCK` charge back, so that a program that
    /// closes and sets up rings under a tight limit does not fail at random
    /// with `ENOMEM`.
    ///
    /// Why: closing a ring returns before the kernel tears it down (a work
    /// item that cancels its requests and waits an RCU grace period), and
    /// the ring's pages stay charged to the user until then: 15 to 55 ms
    /// after close, measured on Linux 6.18. A setup in the meantime is
    /// refused with `ENOMEM` when the limit holds no second ring (back to
    /// back under twice one ring's charge, 198 of 200 setups failed here).
    ///
    /// What it waits for: until the dropping thread's user could take this
    /// ring's charge ([`memlock`](Self::memlock), brought up to date after a
    /// resize) again, measured by [`memlock::wait_for_release`] on a probe
    /// ring of the thread's own (see
    /// [`memlock::wait_for_release_on_this_thread`]). It cannot tell this
    /// ring's release from another's: with plenty of headroom it returns at
    /// once (a new ring would fit anyway), and when the user's other rings
    /// hold the rest it waits the whole `timeout`, then gives up silently
    /// (use [`Ring::close_and_wait_release`] to see that).
    ///
    /// Cost: nothing while the ring lives. At drop, the first time on a
    /// thread, a one-entry probe ring (2 pages of the limit and one fd, kept
    /// until the thread exits); then polling, each poll a few
    /// `io_uring_register` calls (about 10 ms a drop in all on this machine,
    /// most of it sleeping between polls). Nothing at all when
    /// `RLIMIT_MEMLOCK` is unlimited. A thread with `CAP_IPC_LOCK` is
    /// charged nothing, and its wait ends at the first poll.
    pub fn wait_for_memlock_release(mut self, timeout: Duration) -> Self {
        self.release_wait = Some(timeout);
        self
    }
    /// Add raw setup flags. Entry-size flags are refused (they follow from
    /// the ring's types); `NO_SQARRAY` here is the same as [`no_sq_array`](Self::no_sq_array).
    pub fn setup_flags(mut self, flags: SetupFlags) -> Self {
        if flags.contains(SetupFlags::NO_SQARRAY) {
            self.sq_array = SqArray::Drop;
        }
        self.flags |= flags - SetupFlags::NO_SQARRAY;
        self
    }

    /// The flags and counts this builder will hand the kernel: for caller or
    /// library memory with `user_memory` (adds `NO_MMAP`), else for kernel
    /// memory.
    pub fn spec(&self, user_memory: bool) -> Result<RingSpec> {
        let hand_set = self.flags & SIZE_FLAGS;
        if !hand_set.is_empty() {
            return Err(Error::EntryTypeMismatch { types_imply: size_flags::<S, C>(), found: hand_set });
        }
        let mut flags = self.flags | size_flags::<S, C>();
        let drop_array = match self.sq_array {
            SqArray::Keep => false,
            SqArray::Drop => true,
            SqArray::Auto => kernel_has_no_sqarray(),
        };
        if drop_array {
            flags |= SetupFlags::NO_SQARRAY;
        }
        if user_memory {
            flags |= SetupFlags::NO_MMAP;
        } else if flags.contains(SetupFlags::NO_MMAP) {
            // The kernel would get no address at all and answer EFAULT.
            return Err(Error::NoMmapMisuse {
                what: "NO_MMAP with kernel-allocated ring memory",
                fix: "NO_MMAP follows from where the memory lives: use build_in, build_in_regions or \
                      build_allocated instead of setting the flag by hand",
            });
        } else if flags.contains(SetupFlags::REGISTERED_FD_ONLY) {
            return Err(Error::MissingCompanion { flag: SetupFlags::REGISTERED_FD_ONLY, needs: SetupFlags::NO_MMAP });
        }
        Ok(RingSpec { entries: self.entries, cq_entries: self.cq_entries, flags })
    }

    /// The exact memory the ring will need in caller memory.
    pub fn layout(&self) -> Result<Layout> {
        self.spec(true)?.layout()
    }

    /// The exact `RLIMIT_MEMLOCK` charge of the ring this builder sets up:
    /// the pages of its rings region plus those of its SQE region, as
    /// Linux 6.18 counts them ([`memlock::ring`]; the module's docs give
    /// the rules). The same for every home of the memory: kernel memory
    /// ([`build`](Self::build)), caller memory ([`build_in`](Self::build_in))
    /// and library pages, huge pages included
    /// ([`build_allocated`](Self::build_allocated): a region on a 2 MiB page
    /// is charged by its own size, not the huge page's).
    ///
    /// When it applies: to a thread without `CAP_IPC_LOCK` (with it,
    /// nothing is charged), against the soft `RLIMIT_MEMLOCK`, on top of
    /// what the user's other rings and registrations hold, in any process,
    /// including rings closed a moment ago that the kernel has not finished
    /// tearing down (see [`wait_for_memlock_release`](Self::wait_for_memlock_release)).
    /// Registrations made later (buffers, buffer rings, regions) are charged
    /// on top; [`memlock`] has their arithmetic.
    ///
    /// With the default SQ-array choice the first ring a process builds
    /// asks the kernel whether it takes `NO_SQARRAY` with a one-entry trial
    /// ring (2 pages, released asynchronously like any ring);
    /// [`keep_sq_array`](Self::keep_sq_array) or
    /// [`no_sq_array`](Self::no_sq_array) skip that trial. Calling this
    /// method makes it, if it was not made yet.
    pub fn memlock(&self) -> Result<MemlockCharge> {
        Ok(memlock::ring(&self.layout()?, RingMemoryKind::Kernel))
    }

    /// [`memlock`](Self::memlock) in bytes: the smallest `RLIMIT_MEMLOCK`
    /// under which a user with nothing else charged can set the ring up.
    pub fn memlock_bytes(&self) -> Result<u64> {
        Ok(self.memlock()?.bytes())
    }

    /// Set up the ring in kernel-allocated memory, mapped with `mmap`.
    pub fn build(self) -> Result<Ring<S, C>> {
        let spec = self.spec(false)?;
        let layout = spec.layout()?;
        self.setup(layout, None)
    }

    /// Set up the ring in memory the library maps for it, on huge pages when
    /// asked and available ([`Ring::memory_report`] tells what was used and
    /// why).
    pub fn build_allocated(self, pages: Pages) -> Result<Ring<S, C>> {
        let layout = self.layout()?;
        let mapping = Mapping::allocate(layout.total_bytes(), pages)?;
        self.build_in(mapping)
    }

    /// Set up the ring in one buffer holding both regions: the rings region
    /// first, then the SQE region (see [`Layout::total_bytes`]). The buffer
    /// must be page-aligned and at least `layout().total_bytes()` long; the
    /// ring owns it until dropped.
    pub fn build_in<M: RingMemory>(self, mut memory: M) -> Result<Ring<S, C>> {
        let layout = self.layout()?;
        let base = memory.as_mut_ptr();
        check_region(Region::Both, base, memory.len(), layout.total_bytes())?;
        // SAFETY: the region was checked to hold total_bytes, and the SQE
        // offset is rings_bytes < total_bytes.
        let sqes = unsafe { base.add(layout.sqes_offset_in_buffer()) };
        self.setup(layout, Some(UserRegions { rings: base, sqes, owners: vec![Box::new(memory)] }))
    }

    /// Set up the ring with each region in its own buffer (rings region and
    /// SQE region); each must be page-aligned and long enough.
    pub fn build_in_regions<R: RingMemory, Q: RingMemory>(self, mut rings: R, mut sqes: Q) -> Result<Ring<S, C>> {
        let layout = self.layout()?;
        let rings_ptr = rings.as_mut_ptr();
        let sqes_ptr = sqes.as_mut_ptr();
        check_region(Region::Rings, rings_ptr, rings.len(), layout.rings_bytes())?;
        check_region(Region::Sqes, sqes_ptr, sqes.len(), layout.sqes_bytes())?;
        let r = (rings_ptr as usize, rings_ptr as usize + layout.rings_bytes());
        let q = (sqes_ptr as usize, sqes_ptr as usize + layout.sqes_bytes());
        if r.0 < q.1 && q.0 < r.1 {
            return Err(Error::MemoryOverlap { sqes: q, rings: r });
        }
        self.setup(
            layout,
            Some(UserRegions { rings: rings_ptr, sqes: sqes_ptr, owners: vec![Box::new(rings), Box::new(sqes)] }),
        )
    }

    fn setup(self, layout: Layout, user: Option<UserRegions>) -> Result<Ring<S, C>> {
        let mut params = abi::zeroed_params();
        params.flags = layout.flags().bits();
        params.sq_thread_cpu = self.sq_thread_cpu;
        params.sq_thread_idle = self.sq_thread_idle_ms;
        params.wq_fd = self.wq_fd;
        if let Some(cq) = self.cq_entries {
            params.cq_entries = cq;
        }
        if let Some(user) = &user {
            // The kernel never touches the CQE array, SQ array or SQEs at
            // setup and (before 6.18) not even the header: start from zero so
            // that no stale index or CQE is ever read.
            // SAFETY: both regions were checked to be writable and at least
            // this long, and the ring owns them.
            unsafe {
                std::ptr::write_bytes(user.rings, 0, layout.rings_bytes());
                std::ptr::write_bytes(user.sqes, 0, layout.sqes_bytes());
            }
            params.sq_off.user_addr = user.sqes as u64;
            params.cq_off.user_addr = user.rings as u64;
        }
        // SAFETY: params is valid; with NO_MMAP both user regions were
        // checked against the exact layout and are owned by `user`, which the
        // ring keeps until after the fd is closed.
        let ret = unsafe { sys::io_uring_setup(self.entries, &mut params) };
        let ret = ret.map_err(|errno| explain_setup_error(errno, &layout, &params))?;
        // SAFETY: `ret` is what io_uring_setup just returned on this thread
        // for `params.flags`.
        let fd = unsafe { RingFd::from_setup(ret, params.flags) };
        let backing = match user {
            Some(u) => Backing::User { rings: u.rings, sqes: u.sqes, owners: u.owners },
            None => Backing::Kernel,
        };
        let mut ring = Ring::from_setup(fd, params, layout, backing, self.register_ring_fd)?;
        ring.release_wait = self.release_wait.map(|timeout| ReleaseWait { timeout, charge: None });
        Ok(ring)
    }
}

struct UserRegions {
    rings: *mut u8,
    sqes: *mut u8,
    owners: Vec<Box<dyn RingMemory>>,
}

/// Whether this kernel accepts `IORING_SETUP_NO_SQARRAY` (6.6+), probed
/// with a one-entry ring until the kernel gives a definite answer (set up,
/// or EINVAL), which is kept for the life of the process. A failure for any
/// other reason (no fd free, no memory, io_uring disabled for now) answers
/// "no" this time only: caching it would keep every later ring on the
/// larger layout with an SQ array although the kernel could do without.
pub fn kernel_has_no_sqarray() -> bool {
    const UNKNOWN: u8 = 0;
    const NO: u8 = 1;
    const YES: u8 = 2;
    static KNOWN: AtomicU8 = AtomicU8::new(UNKNOWN);
    match KNOWN.load(Ordering::Relaxed) {
        YES => true,
        NO => false,
        _ => match try_setup_flags(SetupFlags::NO_SQARRAY) {
            Ok(()) => {
                KNOWN.store(YES, Ordering::Relaxed);
                true
            }
            Err(Errno::INVAL) => {
                KNOWN.store(NO, Ordering::Relaxed);
                false
            }
            Err(_) => false,
        },
    }
}

/// Whether the kernel accepts a ring with exactly `flags` (plus what each
/// needs to be tried: a CQ size for `CQSIZE`, memory for `NO_MMAP`, a ring
/// to attach to for `ATTACH_WQ`), from a one-entry trial ring that is
/// closed again at once. `Err` carries the kernel's errno (or the one
/// ringwise's own checks give, for flags the layout refuses).
///
/// Re-exported as [`probe::try_setup_flags`](crate::probe::try_setup_flags);
/// it lives here because the builder asks it whether `NO_SQARRAY` works.
pub fn try_setup_flags(flags: SetupFlags) -> std::result::Result<(), Errno> {
    let spec = RingSpec { entries: 1, cq_entries: flags.contains(SetupFlags::CQSIZE).then_some(2), flags };
    let layout = match RingSpec::layout(&spec) {
        Ok(l) => l,
        Err(e) => return Err(e.errno()),
    };
    let mut params = abi::zeroed_params();
    params.flags = flags.bits();
    params.cq_entries = spec.cq_entries.unwrap_or(0);
    let _other;
    if flags.contains(SetupFlags::ATTACH_WQ) {
        // An SQPOLL ring attaches to the other ring's SQPOLL thread, so that
        // one must have one (the kernel answers EINVAL otherwise).
        let mut other = Builder::new(1).register_ring_fd(false);
        if flags.contains(SetupFlags::SQPOLL) {
            other = other.sqpoll(Duration::from_millis(10));
        }
        let other: Ring = other.build().map_err(|e| e.errno())?;
        params.wq_fd = other.as_raw_fd() as u32;
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
    let ret = unsafe { sys::io_uring_setup(1, &mut params) }?;
    // SAFETY: just returned on this thread for `params.flags`. Dropping it
    // closes the ring (or unregisters a REGISTERED_FD_ONLY ring's index)
    // before the memory goes.
    drop(unsafe { RingFd::from_setup(ret, params.flags) });
    drop(memory);
    Ok(())
}

/// Turn a setup errno into a sentence about this setup.
fn explain_setup_error(errno: Errno, layout: &Layout, params: &abi::io_uring_params) -> Error {
    let flags = layout.flags();
    let context = match errno {
        Errno::INVAL => {
            // Parameters the kernel checks beyond the flags (ringwise has
            // checked everything else before the call).
            let mut causes = Vec::new();
            if flags.contains(SetupFlags::SQ_AFF) {
                causes.push(format!(
                    "SQ_AFF pins the SQPOLL thread to CPU {}, which must be online and in this process's cpuset",
                    params.sq_thread_cpu
                ));
            }
            if flags.contains(SetupFlags::SQPOLL | SetupFlags::ATTACH_WQ) {
                causes.push(format!(
                    "SQPOLL with ATTACH_WQ shares the SQPOLL thread of the ring with fd {}, which must itself be an \
                     SQPOLL ring",
                    params.wq_fd
                ));
            }
            causes.push("a flag this kernel does not know (`ringwise probe` lists the accepted flags)".into());
            format!(
                "the kernel refused the parameters (flags [{}], {} SQ / {} CQ entries); possible causes: {}",
                flags.names(),
                layout.sq_entries(),
                layout.cq_entries(),
                causes.join("; ")
            )
        }
        Errno::FAULT if flags.contains(SetupFlags::NO_MMAP) => format!(
            "the kernel could not pin the ring memory ({} rings + {} SQE bytes were checked to be mapped and \
             writable): file-backed shared mappings cannot be pinned, and kernels before 6.7 need each region \
             above one page to be one physically contiguous huge page",
            layout.rings_bytes(),
            layout.sqes_bytes()
        ),
        Errno::NOMEM => format!(
            "the kernel could not charge, allocate or pin the ring's {} bytes of memory; {}",
            layout.total_bytes(),
            memlock::enomem_advice(memlock::ring(layout, RingMemoryKind::Kernel))
        ),
        Errno::PERM | Errno::ACCESS => "io_uring is disabled for this process (sysctl kernel.io_uring_disabled, \
             or a seccomp/LSM policy)"
            .to_string(),
        Errno::NOSYS => "this kernel has no io_uring (built without CONFIG_IO_URING)".to_string(),
        Errno::MFILE | Errno::NFILE => "no file descriptor is free for the ring".to_string(),
        Errno::BADF if flags.contains(SetupFlags::ATTACH_WQ) => "ATTACH_WQ names an fd that is not a ring".to_string(),
        _ => String::new(),
    };
    Error::kernel("io_uring_setup", errno, context)
}
