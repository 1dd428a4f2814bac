//! The files owned ops act on: a shared owner of a descriptor, or a
//! fixed-file slot of the ring. No owned op takes a raw fd number.

use crate::op::Target;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;

/// A shared owner of an open file descriptor.
///
/// Every op on a `SharedFd` holds a clone until its last CQE, so the
/// descriptor stays open (and keeps meaning the same file) while the kernel
/// uses it, even if every other clone is dropped first. The descriptor is
/// closed when the last clone goes.
///
/// ```
/// use ringwise::owned::SharedFd;
/// let fd = SharedFd::new(std::fs::File::open("/dev/null")?);
/// let also = fd.clone();
/// drop(fd);
/// assert!(also.try_into_owned().is_ok(), "the last owner gets the OwnedFd back");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct SharedFd(Arc<OwnedFd>);

impl SharedFd {
    /// Share `fd` (a `File`, `TcpStream`, `TcpListener`, `OwnedFd`...).
    pub fn new(fd: impl Into<OwnedFd>) -> SharedFd {
        SharedFd(Arc::new(fd.into()))
    }

    /// The descriptor back, if this is the last owner (no op in flight and
    /// no other clone); otherwise `self` back.
    pub fn try_into_owned(self) -> Result<OwnedFd, SharedFd> {
        Arc::try_unwrap(self.0).map_err(SharedFd)
    }

    /// Drop this share of the descriptor by value: what an op's
    /// `complete` does with its fd. (Dropping the `Arc` in place would
    /// hand its address to `Arc::drop_slow`, and with it the address of
    /// the whole op holding it, so the compiler would keep the op, buffer
    /// included, in memory and copy it on every move.)
    #[inline(always)]
    pub(crate) fn release(self) {
        // The descriptor, closed here, if this was its last share.
        drop(Arc::into_inner(self.0));
    }

    /// The ring target: a plain fd, kept open by this owner.
    pub(crate) fn target(&self) -> Target {
        // SAFETY: the op that uses this target holds a clone of `self` until
        // its final CQE, so the descriptor stays open and the same file.
        unsafe { Target::fd(self.0.as_raw_fd()) }
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl fmt::Debug for SharedFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedFd({})", self.0.as_raw_fd())
    }
}

impl From<OwnedFd> for SharedFd {
    fn from(fd: OwnedFd) -> SharedFd {
        SharedFd::new(fd)
    }
}

impl From<std::fs::File> for SharedFd {
    fn from(file: std::fs::File) -> SharedFd {
        SharedFd::new(file)
    }
}

impl From<std::net::TcpStream> for SharedFd {
    fn from(s: std::net::TcpStream) -> SharedFd {
        SharedFd::new(s)
    }
}

impl From<std::net::TcpListener> for SharedFd {
    fn from(s: std::net::TcpListener) -> SharedFd {
        SharedFd::new(s)
    }
}

impl From<std::net::UdpSocket> for SharedFd {
    fn from(s: std::net::UdpSocket) -> SharedFd {
        SharedFd::new(s)
    }
}

impl From<std::os::unix::net::UnixStream> for SharedFd {
    fn from(s: std::os::unix::net::UnixStream) -> SharedFd {
        SharedFd::new(s)
    }
}

/// The file an owned op acts on.
///
/// Which to use: a [`SharedFd`] for descriptors that come and go (sockets,
/// files opened and closed while the program runs); [`Fd::Static`] for one
/// open for the rest of the program (standard input, a file the program
/// opened once and leaked); a fixed slot when the ring's file table holds
/// it. Each op on a `SharedFd` clones and drops its `Arc`: two atomic
/// read-modify-writes, measured at about 8 ns, 1.7 % of a 4 KiB read from
/// the page cache (`ringwise bench read --api owned`, 2026); the other two
/// cost nothing per op.
#[derive(Clone, Debug)]
pub enum Fd {
    /// A descriptor the op keeps open through a clone of its owner.
    Shared(SharedFd),
    /// A descriptor open for the rest of the program: I/O safety promises
    /// that a `BorrowedFd<'static>` is never closed (`std::io::stdin()`'s,
    /// or one from a leaked `File`: `Box::leak(Box::new(file)).as_fd()`),
    /// so ops need no owner to keep it open.
    ///
    /// ```
    /// use ringwise::owned::{ops, Driver, Fd};
    /// use std::os::fd::AsFd;
    ///
    /// let file: &'static std::fs::File = Box::leak(Box::new(std::fs::File::open("/proc/self/exe")?));
    /// let fd = Fd::from(file.as_fd());
    /// let driver = Driver::new(8)?;
    /// let (n, buf) = driver.submit(ops::Read::at(fd, vec![0u8; 4], 0))?.wait()?;
    /// assert_eq!(n?, 4);
    /// assert_eq!(&buf[..], b"\x7fELF");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// A descriptor that may be closed before the program ends is no
    /// `Static` one:
    ///
    /// ```compile_fail,E0597
    /// use ringwise::owned::Fd;
    /// use std::os::fd::AsFd;
    /// let file = std::fs::File::open("/dev/null").unwrap();
    /// let fd = Fd::from(file.as_fd()); // error: `file` does not live long enough
    /// drop(file);
    /// drop(fd);
    /// ```
    Static(BorrowedFd<'static>),
    /// Slot `n` of the ring's registered file table (`IOSQE_FIXED_FILE`):
    /// the ring owns what is in the slot, so the op acts on whatever the
    /// ring's table holds there when the kernel runs it.
    Fixed(u32),
}

impl Fd {
    /// Slot `slot` of the ring's registered file table.
    pub fn fixed(slot: u32) -> Fd {
        Fd::Fixed(slot)
    }

    /// Drop this fd by value ([`SharedFd::release`]).
    #[inline(always)]
    pub(crate) fn release(self) {
        if let Fd::Shared(fd) = self {
            fd.release();
        }
    }

    /// The ring target.
    pub(crate) fn target(&self) -> Target {
        match self {
            Fd::Shared(fd) => fd.target(),
            // SAFETY: a `BorrowedFd<'static>` stays open, and the same
            // file, for the rest of the program (I/O safety), so past any
            // CQE of the op.
            Fd::Static(fd) => unsafe { Target::fd(fd.as_raw_fd()) },
            Fd::Fixed(slot) => Target::fixed(*slot),
        }
    }
}

impl From<SharedFd> for Fd {
    fn from(fd: SharedFd) -> Fd {
        Fd::Shared(fd)
    }
}

impl From<BorrowedFd<'static>> for Fd {
    fn from(fd: BorrowedFd<'static>) -> Fd {
        Fd::Static(fd)
    }
}

impl From<&SharedFd> for Fd {
    fn from(fd: &SharedFd) -> Fd {
        Fd::Shared(fd.clone())
    }
}
