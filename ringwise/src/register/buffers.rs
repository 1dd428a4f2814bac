//! Registered (fixed) buffers: memory the kernel pins once, so that
//! `READ_FIXED`/`WRITE_FIXED` and the other `*_FIXED` ops skip pinning and
//! unpinning pages on every op.
//!
//! The kernel keeps the pinned pages until the buffers are unregistered (and
//! no op uses them) or the ring is closed, and ops write into them. Memory
//! registered through [`Ring::register_buffers_owned`] is owned by the ring
//! for that long, so this is safe. [`Ring::register_buffers`] takes raw
//! iovecs under an `unsafe` contract.
//!
//! Cloning ([`Ring::clone_buffers_from`], Linux 6.13) makes another ring's
//! table (or a range of it) this ring's, sharing the same pinned pages; the
//! memory the source ring owns is then kept alive by both.

use super::opcode;
use super::rsrc::RsrcTable as _;
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Error, Result, Table};
use crate::memlock::{self, BufferSpan};
use crate::memory::RingMemory;
use crate::op::Iovec;
use crate::Ring;
use linux_raw_sys::io_uring::{io_uring_clone_buffers, IORING_REGISTER_DST_REPLACE, IORING_REGISTER_SRC_REGISTERED};
use rustix::io::Errno;
use std::sync::{Arc, Mutex};

/// Owned memory behind fixed buffers (one registration or update call's
/// worth), shared by rings that cloned it. The mutex only makes the boxed
/// memory `Sync` for the `Arc`; nothing locks it.
pub(crate) type OwnedBuffers = Arc<Mutex<Vec<Box<dyn RingMemory>>>>;

/// What an errno of a call on the buffer table means: the one place for
/// this family (`clone` for [`Ring::clone_buffers_from`], which names
/// another ring's table).
pub(super) fn buffers_context(errno: Errno, clone: Option<&CloneBuffers>) -> Option<String> {
    Some(match (errno, clone) {
        (Errno::BUSY, Some(_)) => "this ring already has buffers; use CloneBuffers::replace".into(),
        (Errno::BUSY, None) => "buffers are already registered on this ring; unregister them or update slots".into(),
        (Errno::NXIO, Some(_)) => "the source ring has no registered buffers".into(),
        (Errno::NXIO, None) => "no buffers are registered on this ring".into(),
        (Errno::INVAL, Some(what)) => format!(
            "the range (source {}+{}, destination {}) does not fit the tables, or flags unknown",
            what.src_offset, what.count, what.dst_offset
        ),
        (Errno::INVAL, None) => "no buffers or more than 16384 (IORING_MAX_REG_BUFFERS), or the slots an update \
                                 names lie outside the registered table"
            .into(),
        (Errno::OPNOTSUPP | Errno::BADF, Some(_)) => "the source is not an io_uring".into(),
        (Errno::FAULT, None) => "a buffer is not mapped memory the kernel can pin (file-backed shared mappings \
                                 can't be; PROT_NONE or unmapped pages neither), or its address and length \
                                 disagree (a null address with a length, a length 0 with an address); the \
                                 kernel also answers EFAULT for a buffer over 1 GiB, which ringwise refuses \
                                 before the call"
            .into(),
        (Errno::NOMEM, Some(_)) => "out of memory cloning the table".into(),
        (Errno::OVERFLOW, Some(_)) => "the range overflows".into(),
        (Errno::OVERFLOW, None) => "a buffer's address plus its length rounded up to a page overflows the \
                                    address space, or an update's offset plus count overflows 32 bits"
            .into(),
        _ => return None,
    })
}

/// The kernel's limit on one registered buffer (`SZ_1G` in
/// `io_validate_user_buf_range`, `io_uring/rsrc.c`; Linux 5.1 on).
pub const MAX_BUFFER_BYTES: usize = 1 << 30;
/// The most buffers one table holds (`IORING_MAX_REG_BUFFERS`, Linux 5.1 on).
pub const MAX_BUFFERS: usize = 1 << 14;

/// Refuse, before the call, iovecs the kernel would refuse with an errno
/// that does not say why: a buffer over 1 GiB (the kernel answers EFAULT, as
/// for unmapped memory), an address range that wraps (EOVERFLOW), and (for a
/// registration, `table`) more than 16384 buffers (EINVAL). Lengths 0 and
/// null addresses are left to the kernel (a null address with length 0 is an
/// empty slot; the EFAULT of the others is explained by `buffers_context`).
pub(super) fn check_iovecs(iovecs: &[Iovec], table: bool) -> Result<()> {
    if table && iovecs.len() > MAX_BUFFERS {
        return Err(Error::InvalidArgument {
            what: format!("registering {} fixed buffers", iovecs.len()),
            why: format!("a ring's buffer table holds at most {MAX_BUFFERS} (IORING_MAX_REG_BUFFERS)"),
        });
    }
    let page = crate::sys::page_size();
    for (i, v) in iovecs.iter().enumerate() {
        let (addr, len) = (v.iov_base as usize, v.iov_len as usize);
        let what = || format!("fixed buffer {i} ({len} bytes at {addr:#x})");
        let why = if len > MAX_BUFFER_BYTES {
            format!(
                "the kernel refuses a registered buffer of more than 1 GiB ({MAX_BUFFER_BYTES} bytes; SZ_1G in \
                 io_uring/rsrc.c, answered with EFAULT); split it into buffers of at most 1 GiB"
            )
        } else if addr.checked_add(len.div_ceil(page) * page).is_none() {
            "its address plus its length rounded up to a page overflows the address space".into()
        } else {
            continue;
        };
        return Err(Error::InvalidArgument { what: what(), why });
    }
    Ok(())
}

/// What [`Ring::clone_buffers_from`] copies (`struct io_uring_clone_buffers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloneBuffers {
    /// First slot of the source table.
    pub src_offset: u32,
    /// First slot of this ring's table.
    pub dst_offset: u32,
    /// Number of slots; 0 means the whole source table.
    pub count: u32,
    /// Replace this ring's existing table (`IORING_REGISTER_DST_REPLACE`);
    /// without it, a ring that has buffers refuses with EBUSY.
    pub replace: bool,
}

impl CloneBuffers {
    /// The whole source table, into an empty table.
    pub fn all() -> CloneBuffers {
        CloneBuffers::default()
    }
    /// `count` slots from `src_offset` of the source, placed at `dst_offset`.
    pub fn range(src_offset: u32, dst_offset: u32, count: u32) -> CloneBuffers {
        CloneBuffers { src_offset, dst_offset, count, replace: false }
    }
    /// Replace this ring's existing table.
    pub fn replace(mut self) -> CloneBuffers {
        self.replace = true;
        self
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Register fixed buffers (`IORING_REGISTER_BUFFERS`, opcode 0, Linux
    /// 5.1). [`register_buffers_owned`](Self::register_buffers_owned) is the
    /// safe form. At most [`MAX_BUFFERS`] buffers of at most
    /// [`MAX_BUFFER_BYTES`] (1 GiB) each: larger ones are refused before the
    /// call with the reason (the kernel would answer EFAULT, as for unmapped
    /// memory).
    ///
    /// # Safety
    /// Each iovec must describe memory that stays allocated, and is not reused
    /// for other data, until the buffers are unregistered and no op using
    /// them is in flight, or until the ring is closed: the kernel pins the
    /// pages and ops write into them. Reads and writes of the memory while an
    /// op uses it follow that op's rules.
    pub unsafe fn register_buffers(&self, iovecs: &[Iovec]) -> Result<()> {
        check_iovecs(iovecs, true)?;
        let n = Table::Buffers.count(iovecs.len())?;
        // SAFETY: the kernel reads `n` iovecs during the call; the caller
        // guarantees the memory they describe.
        unsafe { self.register(opcode::REGISTER_BUFFERS, iovecs.as_ptr().cast(), n, |e| buffers_context(e, None)) }
            .map(|_| ())
            .map_err(|e| pin_enomem(e, iovecs))
    }

    /// Register fixed buffers with a tag each (`IORING_REGISTER_BUFFERS2`,
    /// opcode 15, Linux 5.13). A non-zero tag is posted as a CQE's `user_data` once the
    /// kernel lets go of that buffer (after an update replaced it or the table
    /// was unregistered).
    ///
    /// # Safety
    /// As for [`register_buffers`](Self::register_buffers).
    pub unsafe fn register_buffers_tagged(&self, iovecs: &[Iovec], tags: &[u64]) -> Result<()> {
        check_iovecs(iovecs, true)?;
        // SAFETY: `iovecs` holds `iovecs.len()` iovecs, read during the
        // call; forwarded contract for the memory they describe.
        unsafe { self.register_tagged(Table::Buffers, iovecs.as_ptr() as u64, iovecs.len(), tags) }
            .map_err(|e| pin_enomem(e, iovecs))
    }

    /// Register a table of `n` empty buffer slots (`IORING_REGISTER_BUFFERS2`
    /// with `IORING_RSRC_REGISTER_SPARSE`, Linux 5.19), to be filled with updates.
    pub fn register_buffers_sparse(&self, n: u32) -> Result<()> {
        self.register_sparse(Table::Buffers, n)
    }

    /// Register each of `buffers` as a fixed buffer (slot `i` = `buffers[i]`),
    /// with the ring owning the memory until [`unregister_buffers`](Self::unregister_buffers)
    /// or until it is closed. Returns the iovecs, for building `*_FIXED` ops.
    ///
    /// Ownership: the kernel pins the pages and `*_FIXED` ops write into
    /// them, so the memory moves into the ring (a [`RingMemory`] never
    /// returns its pages for reuse) and safe code can no longer reach it
    /// except through ops.
    ///
    /// ```
    /// use ringwise::register::CloneBuffers;
    /// use ringwise::{Mapping, Ring};
    ///
    /// let mut ring = Ring::new(4)?;
    /// let iovecs = ring.register_buffers_owned(vec![Mapping::anonymous(4096)?, Mapping::anonymous(8192)?])?;
    /// assert_eq!(iovecs.iter().map(|v| v.iov_len).collect::<Vec<_>>(), [4096, 8192]);
    ///
    /// // Another ring shares the same pinned pages (Linux 6.13).
    /// let mut other = Ring::new(4)?;
    /// match other.clone_buffers_from(&ring, CloneBuffers::all()) {
    ///     Ok(()) => other.unregister_buffers()?,
    ///     Err(e) => assert_eq!(e.errno_name(), "EINVAL", "a kernel before 6.13: {e}"),
    /// }
    /// ring.unregister_buffers()?;
    /// # Ok::<(), ringwise::Error>(())
    /// ```
    pub fn register_buffers_owned<M: RingMemory>(&mut self, buffers: Vec<M>) -> Result<Vec<Iovec>> {
        let (owned, iovecs) = own(buffers);
        // SAFETY: the memory is owned by `owned`, which the ring keeps below
        // until the buffers are unregistered or the fd is closed; RingMemory
        // promises it is never reused after being dropped.
        unsafe { self.register_buffers(&iovecs) }?;
        self.registrations.hold_buffers(owned);
        Ok(iovecs)
    }

    /// Replace buffer slots `offset..` with `iovecs` and their `tags`
    /// (`IORING_REGISTER_BUFFERS_UPDATE`, opcode 16, Linux 5.13). A null, zero-length
    /// iovec empties a slot. Returns how many slots were updated.
    ///
    /// # Safety
    /// As for [`register_buffers`](Self::register_buffers).
    pub unsafe fn update_buffers(&self, offset: u32, iovecs: &[Iovec], tags: &[u64]) -> Result<u32> {
        check_iovecs(iovecs, false)?;
        // SAFETY: `iovecs` holds `iovecs.len()` iovecs, read during the
        // call; forwarded contract for the memory they describe.
        unsafe { self.update_tagged(Table::Buffers, offset, iovecs.as_ptr() as u64, iovecs.len(), tags) }
            .map_err(|e| pin_enomem(e, iovecs))
    }

    /// [`update_buffers`](Self::update_buffers) with owned memory, kept by
    /// the ring like [`register_buffers_owned`](Self::register_buffers_owned)
    /// (the replaced memory stays owned until unregistration: an op may still
    /// use it).
    pub fn update_buffers_owned<M: RingMemory>(
        &mut self,
        offset: u32,
        buffers: Vec<M>,
        tags: &[u64],
    ) -> Result<(u32, Vec<Iovec>)> {
        let (owned, iovecs) = own(buffers);
        // SAFETY: as in `register_buffers_owned`.
        let n = unsafe { self.update_buffers(offset, &iovecs, tags) }?;
        self.registrations.hold_buffers(owned);
        Ok((n, iovecs))
    }

    /// Drop the buffer table (`IORING_UNREGISTER_BUFFERS`, opcode 1, Linux
    /// 5.1) and the owned memory behind it (the kernel keeps its own pin on
    /// pages an op in flight still uses, and the memory is unmapped, never
    /// reused). Tagged buffers post their tag CQEs once no op
    /// uses them.
    pub fn unregister_buffers(&mut self) -> Result<()> {
        // SAFETY: no argument.
        unsafe { self.register(opcode::UNREGISTER_BUFFERS, std::ptr::null(), 0, |e| buffers_context(e, None)) }?;
        // The kernel holds its own pin on pages still used by in-flight ops;
        // owned memory is unmapped (never reused), so releasing it is safe.
        self.registrations.release_buffers();
        Ok(())
    }

    /// Make `src`'s registered buffers (or a range of them) this ring's too
    /// (`IORING_REGISTER_CLONE_BUFFERS`, opcode 30, Linux 6.13). Memory that
    /// `src` owns is then owned by both rings.
    pub fn clone_buffers_from<S2: SqeSize, C2: CqeSize>(
        &mut self,
        src: &Ring<S2, C2>,
        what: CloneBuffers,
    ) -> Result<()> {
        let (src_fd, mut flags) = match (src.fd(), src.registered_index()) {
            (Some(fd), _) => (std::os::fd::AsRawFd::as_raw_fd(&fd) as u32, 0),
            (None, Some(index)) => (index, IORING_REGISTER_SRC_REGISTERED as u32),
            (None, None) => {
                return Err(Error::InvalidArgument {
                    what: "the source ring of a buffer clone".into(),
                    why: "it has neither an fd nor a registered index to name it by".into(),
                })
            }
        };
        if what.replace {
            flags |= IORING_REGISTER_DST_REPLACE as u32;
        }
        let arg = io_uring_clone_buffers {
            src_fd,
            flags,
            src_off: what.src_offset,
            dst_off: what.dst_offset,
            nr: what.count,
            pad: [0; 3],
        };
        let arg_ptr = (&arg as *const io_uring_clone_buffers).cast();
        // SAFETY: `arg` is valid for the call; the pinned pages are shared
        // by the kernel, and the memory src owns is shared below.
        unsafe {
            self.register(opcode::REGISTER_CLONE_BUFFERS, arg_ptr, 1, |errno| buffers_context(errno, Some(&what)))
        }?;
        self.registrations.share_buffers(&src.registrations);
        Ok(())
    }
}

/// An `ENOMEM` from pinning `iovecs`, explained with their charge (as if on
/// base pages: a buffer in a huge page is charged the whole folio, once, so
/// the charge given may be an under- or overestimate there; an update may
/// also reuse folios the table already charged).
fn pin_enomem(err: Error, iovecs: &[Iovec]) -> Error {
    let page = crate::sys::page_size();
    let spans: Vec<BufferSpan> =
        iovecs.iter().map(|v| BufferSpan::new(v.iov_base as usize, v.iov_len as usize)).collect();
    let charge = memlock::registered_buffers(&spans, page);
    super::memlock_enomem(err, &format!("pinning {} fixed buffers", iovecs.len()), charge)
}

/// Take ownership of `buffers` and describe them as iovecs.
fn own<M: RingMemory>(buffers: Vec<M>) -> (OwnedBuffers, Vec<Iovec>) {
    let mut boxed: Vec<Box<dyn RingMemory>> = Vec::with_capacity(buffers.len());
    let mut iovecs = Vec::with_capacity(buffers.len());
    for mut b in buffers {
        iovecs.push(Iovec { iov_base: b.as_mut_ptr().cast(), iov_len: b.len() as _ });
        boxed.push(Box::new(b));
    }
    (Arc::new(Mutex::new(boxed)), iovecs)
}
