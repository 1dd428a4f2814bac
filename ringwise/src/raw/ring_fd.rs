//! [`RingFd`]: the one owner of what names a kernel ring, its file
//! descriptor and/or its index in a thread's registered-ring table, and the
//! thread identity that tells which thread's table an index lives in.
//!
//! Why a type of its own: a ring can be named three ways (a plain fd; a
//! registered index, `IORING_REGISTER_RING_FDS`, Linux 5.18; or only an
//! index, `IORING_SETUP_REGISTERED_FD_ONLY`, Linux 6.5), and each is released
//! differently. The fd is closed; the index is unregistered, but only from
//! the thread that registered it (the kernel's table is per thread: the same
//! number means another ring, or nothing, in any other thread). Setup, the
//! probe's trial rings and [`Ring`](crate::Ring) all hold their ring through
//! this type so that the rule is written once.

use crate::raw::{abi, sys};
use rustix::io::Errno;
use std::cell::Cell;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    /// This thread's token; 0 until [`thread_token`] first runs here.
    static TOKEN: Cell<u64> = const { Cell::new(0) };
}

/// A thread identity that is cheap to read and never reused (0 is never
/// handed out). Registering a ring index records it, so that only the
/// registering thread uses or unregisters the index.
pub(crate) fn thread_token() -> u64 {
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

/// This thread's token if it has one, else 0: one thread-local load, no
/// lazy set-up on the enter path. Exact for "is this the registering
/// thread?": registering gives the thread a token, so a thread without one
/// never registered, and 0 matches no stored token.
#[inline(always)]
pub(crate) fn thread_token_if_any() -> u64 {
    TOKEN.with(Cell::get)
}

/// The token stored for an index that is not registered. Tokens count up
/// from 1 (reaching this one would take 2^64 - 1 threads), and a thread
/// without a token reads 0, so no thread ever matches it.
pub(crate) const NO_THREAD: u64 = u64::MAX;

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
/// skips the handler: see "Forking" on [`Ring`](crate::Ring).
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

/// Owns a kernel ring's name: its fd, its registered ring index, or both.
///
/// Dropping it releases both: the index is unregistered
/// (`IORING_UNREGISTER_RING_FDS`, Linux 5.18) when the drop runs on the
/// thread that registered it, and the fd is closed. On any other thread the
/// index cannot be reached (the kernel's table is per thread, and only its
/// own thread can change it), so it stays until that thread exits, and with
/// it the kernel ring: the fd's close then only drops one reference.
///
/// For a `REGISTERED_FD_ONLY` ring the index is the only reference: dropped
/// on the creating thread the ring is freed, dropped anywhere else it lives
/// on until the creating thread exits.
///
/// `RingFd` is `Send` (it can be dropped on another thread, with the effect
/// above) but not `Sync`: registering changes it through `&self`.
///
/// ```
/// use ringwise::raw::{abi, sys, RingFd};
/// let mut params = abi::zeroed_params();
/// // SAFETY: no NO_MMAP, so the kernel reads nothing but `params`.
/// let ret = unsafe { sys::io_uring_setup(4, &mut params) }?;
/// // SAFETY: `ret` is the fd io_uring_setup just returned for these flags.
/// let ring = unsafe { RingFd::from_setup(ret, params.flags) };
/// let index = ring.register()?; // this thread's table now names the ring
/// assert_eq!(ring.registered_index(), Some(index));
/// drop(ring); // unregisters the index, then closes the fd
/// # Ok::<(), ringwise::Errno>(())
/// ```
pub struct RingFd {
    /// The ring fd; `None` for a `REGISTERED_FD_ONLY` ring.
    fd: Option<OwnedFd>,
    /// The registered index, meaningful while `thread` is not [`NO_THREAD`].
    index: Cell<u32>,
    /// Token of the thread whose table holds `index`, or [`NO_THREAD`].
    thread: Cell<u64>,
}

impl RingFd {
    /// Own a ring's fd (not yet registered anywhere).
    pub fn from_fd(fd: OwnedFd) -> RingFd {
        RingFd { fd: Some(fd), index: Cell::new(0), thread: Cell::new(NO_THREAD) }
    }

    /// Own a ring's registered index in the calling thread's table, for a
    /// ring that has no fd (`IORING_SETUP_REGISTERED_FD_ONLY`).
    ///
    /// # Safety
    /// `index` must name a ring in the calling thread's registered-ring
    /// table, and nothing else may unregister it or treat it as its own:
    /// dropping the `RingFd` unregisters it (for a ring without an fd, that
    /// frees the ring).
    pub unsafe fn from_registered_index(index: u32) -> RingFd {
        RingFd { fd: None, index: Cell::new(index), thread: Cell::new(thread_token()) }
    }

    /// Own what `io_uring_setup` returned on this thread for a ring set up
    /// with `setup_flags`: a registered index with
    /// `IORING_SETUP_REGISTERED_FD_ONLY`, else an fd.
    ///
    /// # Safety
    /// `ret` must be the value `io_uring_setup` just returned on the calling
    /// thread for those flags, owned by nothing else.
    pub unsafe fn from_setup(ret: u32, setup_flags: u32) -> RingFd {
        if setup_flags & linux_raw_sys::io_uring::IORING_SETUP_REGISTERED_FD_ONLY != 0 {
            // SAFETY: with REGISTERED_FD_ONLY, setup registered the ring at
            // `ret` in this thread's table (the caller's contract).
            unsafe { RingFd::from_registered_index(ret) }
        } else {
            // SAFETY: a new fd that nothing else owns (the caller's contract).
            RingFd::from_fd(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
        }
    }

    /// The ring fd, or `None` for a `REGISTERED_FD_ONLY` ring.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|f| f.as_fd())
    }

    /// The registered index, if the ring is registered (in whichever
    /// thread's table; see [`is_registered_here`](Self::is_registered_here)).
    pub fn registered_index(&self) -> Option<u32> {
        self.registration().map(|(index, _)| index)
    }

    /// Whether the ring's index lives in the calling thread's table, so that
    /// `IORING_ENTER_REGISTERED_RING` may use it from here.
    pub fn is_registered_here(&self) -> bool {
        self.thread.get() == thread_token_if_any()
    }

    /// The registered index and its thread's token, if registered.
    pub(crate) fn registration(&self) -> Option<(u32, u64)> {
        let thread = self.thread.get();
        (thread != NO_THREAD).then(|| (self.index.get(), thread))
    }

    /// Enter the fd in the calling thread's registered-ring table
    /// (`IORING_REGISTER_RING_FDS`, Linux 5.18) and return the index the
    /// kernel chose. From then on `io_uring_enter` and `io_uring_register`
    /// on this thread can name the ring by index, which skips the fd-table
    /// lookup.
    ///
    /// Fails with `EEXIST` if already registered, `EBADF` without an fd, and
    /// with the kernel's errno otherwise (`EINVAL` before 5.18, `EBUSY` or
    /// `EINVAL` when the thread's 16 slots are taken).
    pub fn register(&self) -> Result<u32, Errno> {
        if self.registration().is_some() {
            return Err(Errno::EXIST);
        }
        let Some(fd) = &self.fd else {
            return Err(Errno::BADF);
        };
        let fd = fd.as_raw_fd() as u32;
        let mut update = abi::io_uring_rsrc_update { offset: u32::MAX, resv: 0, data: fd as u64 };
        // SAFETY: `update` is valid for one io_uring_rsrc_update, which the
        // kernel reads and writes (the chosen index) during the call only.
        let ret = unsafe {
            sys::io_uring_register(
                fd,
                abi::register_op::REGISTER_RING_FDS,
                (&mut update as *mut abi::io_uring_rsrc_update).cast(),
                1,
            )
        };
        match ret {
            Ok(1) => {
                self.index.set(update.offset);
                self.thread.set(thread_token());
                Ok(update.offset)
            }
            Ok(_) => Err(Errno::INVAL),
            Err(errno) => Err(errno),
        }
    }

    /// The `fd` argument for `io_uring_enter` or `io_uring_register` from
    /// the calling thread, and whether it is a registered index (then pass
    /// `IORING_ENTER_REGISTERED_RING`, or OR `IORING_REGISTER_USE_REGISTERED_RING`
    /// into the register opcode): the index on the registering thread, the
    /// fd anywhere else, and for a ring without an fd on another thread
    /// `u32::MAX`, which the kernel refuses with `EBADF` (the index would
    /// name another ring, or none, there).
    #[inline(always)]
    pub fn target(&self) -> (u32, bool) {
        route(self.thread.get(), self.index.get(), self.fd.as_ref().map(|fd| fd.as_raw_fd() as u32))
    }
}

/// The routing rule (of [`RingFd::target`]; the ring's enter route,
/// `EnterTarget::target_with`, spells out the same rule for codegen): a ring registered at `index` by the thread
/// with token `thread` is named by that index on that thread; anywhere else
/// by its `fd`, or, without one, by `u32::MAX`, which the kernel refuses
/// with `EBADF` rather than entering whatever ring the index names there.
/// The `bool` says whether the number is a registered index.
#[inline(always)]
fn route(thread: u64, index: u32, fd: Option<u32>) -> (u32, bool) {
    if thread == thread_token_if_any() {
        (index, true)
    } else {
        (fd.unwrap_or(u32::MAX), false)
    }
}

impl Drop for RingFd {
    fn drop(&mut self) {
        if let Some((index, thread)) = self.registration() {
            if thread == thread_token_if_any() {
                unregister_ring_index(index);
            }
        }
        // `fd` closes next, as the field drops.
    }
}

impl AsRawFd for RingFd {
    /// The ring fd, or -1 for a `REGISTERED_FD_ONLY` ring.
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_ref().map_or(-1, |f| f.as_raw_fd())
    }
}

impl fmt::Debug for RingFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingFd")
            .field("fd", &self.as_raw_fd())
            .field("registered_index", &self.registered_index())
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An enter that submits and waits for nothing, through this thread's
    /// index: fine while the index names a ring, EBADF once it does not.
    fn enters(index: u32) -> bool {
        // SAFETY: no SQEs, no argument.
        unsafe { sys::io_uring_enter(index, 0, 0, abi::IORING_ENTER_REGISTERED_RING, std::ptr::null(), 0).is_ok() }
    }

    fn setup() -> RingFd {
        let mut params = abi::zeroed_params();
        // SAFETY: a plain ring; the kernel reads only `params`.
        let ret = unsafe { sys::io_uring_setup(2, &mut params) }.expect("io_uring_setup");
        // SAFETY: just returned on this thread for these flags.
        unsafe { RingFd::from_setup(ret, params.flags) }
    }

    #[test]
    fn drop_unregisters_on_the_registering_thread() {
        let ring = setup();
        assert_eq!(ring.registered_index(), None);
        assert!(!ring.is_registered_here());
        let Ok(index) = ring.register() else {
            eprintln!("skipped: this kernel cannot register ring fds");
            return;
        };
        assert_eq!(ring.register(), Err(Errno::EXIST), "registered once");
        assert!(ring.is_registered_here());
        assert_eq!(ring.target(), (index, true));
        assert!(enters(index));
        drop(ring);
        assert!(!enters(index), "the index was left registered");
    }

    #[test]
    fn elsewhere_the_fd_is_the_target_and_drop_leaves_the_index() {
        let ring = setup();
        let Ok(index) = ring.register() else {
            eprintln!("skipped: this kernel cannot register ring fds");
            return;
        };
        let fd = ring.as_raw_fd() as u32;
        let ring = std::thread::spawn(move || {
            assert!(!ring.is_registered_here());
            assert_eq!(ring.target(), (fd, false));
            ring
        })
        .join()
        .unwrap();
        // Dropped on another thread: the index stays in this thread's table
        // (only this thread can remove it), so the ring lives on.
        std::thread::spawn(move || drop(ring)).join().unwrap();
        assert!(enters(index), "another thread cannot have unregistered this thread's index");
        unregister_ring_index(index);
        assert!(!enters(index));
    }
}
