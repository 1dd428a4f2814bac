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
#[derive(Clone, Debug)]
pub enum Fd {
    /// A descriptor the op keeps open through a clone of its owner.
    Shared(SharedFd),
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
            Fd::Fixed(slot) => Target::fixed(*slot),
        }
    }
}

impl From<SharedFd> for Fd {
    fn from(fd: SharedFd) -> Fd {
        Fd::Shared(fd)
    }
}

impl From<&SharedFd> for Fd {
    fn from(fd: &SharedFd) -> Fd {
        Fd::Shared(fd.clone())
    }
}
