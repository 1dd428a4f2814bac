//! Registered (fixed) buffers for owned ops: a [`FixedBufPool`] registered
//! on a [`Driver`]'s ring, handing out [`FixedBuf`]s for
//! [`ReadFixed`](super::ops::ReadFixed) and
//! [`WriteFixed`](super::ops::WriteFixed) (`READ_FIXED`/`WRITE_FIXED`, Linux
//! 5.1), which skip pinning the pages on every op.
//!
//! # Who owns the memory
//!
//! The pool maps one anonymous region, `count` buffers of `size` bytes, and
//! registers it with the ring through
//! [`Ring::register_buffers_owned`](crate::Ring::register_buffers_owned),
//! in as few table entries as the kernel's 1 GiB per entry allows (one for
//! a pool of up to 1 GiB; [`FixedBuf::buf_index`] names a buffer's entry).
//! Fewer entries are cheaper for the kernel: a read names its entry and an
//! address inside it, and with one entry per buffer every read touches an
//! entry (and its page vector) of its own; `ringwise bench read --tuned`
//! measured one entry per 4 KiB buffer at 0.98 of one entry for all. The
//! ring holds a share of the region until the buffers are unregistered
//! or the ring is closed, the pool holds one, and every [`FixedBuf`] holds
//! one. So the region lives as long as any of them does:
//!
//! * the pool dropped while buffers are checked out or in flight: the
//!   buffers keep the region (and the pool's free list) alive, and go back
//!   to nobody when dropped;
//! * the driver (ring) dropped first: its teardown reaps every op before
//!   the ring goes, so each buffer has come back to its owner (or, when the
//!   kernel never gave an op back, was leaked with the op: never freed);
//!   buffers outlive the ring safely, their memory is the pool's.
//!
//! Each [`FixedBuf`] is an exclusive slice of the region (the free list
//! hands out each index once), so safe code can read and write a buffer
//! only while no op holds it, and the kernel writes it only while an op
//! that owns it is in flight.

use super::{Driver, IoBuf, IoBufMut, Sharing};
use crate::error::{Error, Result};
use crate::memory::{Mapping, RingMemory};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// The registered region: one mapping, shared by the ring (through
/// [`Piece`]s), the pool and the buffers.
struct Region {
    map: Mapping,
}

/// One table entry as the ring holds it: a share of the region and where
/// the entry's buffers lie in it.
struct Piece {
    region: Arc<Region>,
    offset: usize,
    len: usize,
}

// SAFETY: the pointer is into the mapping, which stays mapped at the same
// address while any `Arc<Region>` lives (so for as long as this piece
// lives, moves included), `offset + len` lies within the mapping (checked in
// `FixedBufPool::register`), and it is private, writable anonymous memory.
// The pages are unmapped (never reused) when the last owner drops. The
// contract's "no other code reads or writes the memory" holds in the sense
// the kernel needs: besides the kernel, only the one `FixedBuf` that owns
// buffer `i` touches that buffer's bytes of its piece, and only while no op
// holds that `FixedBuf` (an op takes it by value until its CQE), so the
// process and the kernel never use a buffer's bytes at the same time.
unsafe impl RingMemory for Piece {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.region.map.as_ptr().wrapping_add(self.offset)
    }
    fn len(&self) -> usize {
        self.len
    }
    fn describe(&self) -> String {
        "owned fixed-buffer pool (library mapping)".into()
    }
}

/// What the pool and its buffers share.
struct PoolInner {
    region: Arc<Region>,
    size: usize,
    count: u16,
    /// Buffers per table entry (entry `i / per_entry` holds buffer `i`).
    per_entry: u16,
    /// Indices not checked out.
    free: Mutex<Vec<u16>>,
    /// The identity of the driver whose ring registered the buffers
    /// ([`DriverId`](super::DriverId)). A `Weak` keeps the allocation's
    /// address from being reused, so comparing addresses identifies that
    /// driver for as long as the pool lives.
    driver: Weak<u8>,
}

/// Buffers of `size` bytes per table entry for a pool of `count`: as many
/// as fit in the kernel's 1 GiB per entry (at least one: a buffer is at
/// most 1 GiB), at most `count`.
fn per_entry(count: usize, size: usize) -> usize {
    (crate::register::buffers::MAX_BUFFER_BYTES / size).clamp(1, count.max(1))
}

impl PoolInner {
    fn is_registered_on<S: Sharing>(&self, driver: &Driver<S>) -> bool {
        self.driver_id() == driver.id()
    }

    /// The id of the driver the pool was registered on, without reaching
    /// it: the address of its identity, which the pool's weak reference
    /// keeps allocated (so no other driver can have it) even after that
    /// driver is gone, when no live driver's id equals it. (No upgrade of
    /// the reference, which costs two atomic updates per fixed op.)
    #[inline]
    fn driver_id(&self) -> super::DriverId {
        super::DriverId::of(self.driver.as_ptr())
    }
}

/// A set of equal-sized buffers registered with one driver's ring: check
/// one out with [`checkout`](Self::checkout), fill it or read into it with
/// [`WriteFixed`](super::ops::WriteFixed) /
/// [`ReadFixed`](super::ops::ReadFixed); it comes back to the pool when
/// dropped.
///
/// A ring has one fixed-buffer table: registering a pool on a driver whose
/// ring already has buffers is refused (`EBUSY`, with the reason).
/// Registered memory counts against `RLIMIT_MEMLOCK` for unprivileged users.
///
/// ```
/// use ringwise::owned::{ops, Driver, FixedBufPool, SharedFd};
///
/// let path = std::env::temp_dir().join(format!("ringwise-doc-fixed-{}", std::process::id()));
/// let file = SharedFd::from(std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path)?);
/// let driver = Driver::new(8)?;
/// let pool = FixedBufPool::register(&driver, 4, 4096)?;
///
/// let mut buf = pool.checkout().expect("a free buffer");
/// buf.extend_from_slice(b"registered");
/// let (n, buf) = driver.submit(ops::WriteFixed::at(&file, buf, 0))?.wait()?;
/// assert_eq!(n?, 10);
/// drop(buf); // back to the pool
///
/// let (n, buf) = driver.submit(ops::ReadFixed::at(&file, pool.checkout().unwrap(), 0))?.wait()?;
/// assert_eq!(&buf[..n?], b"registered");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct FixedBufPool {
    inner: Arc<PoolInner>,
}

impl FixedBufPool {
    /// Map `count` buffers of `size` bytes each and register them as the
    /// fixed buffers of `driver`'s ring (`IORING_REGISTER_BUFFERS`, Linux
    /// 5.1): table entries of up to 1 GiB, each holding as many whole
    /// buffers as fit (one entry for a pool of up to 1 GiB).
    ///
    /// Refused before any syscall when `count` is 0 or more than 16384 (the
    /// kernel's table limit), or `size` is 0 or more than 1 GiB (the kernel's
    /// limit per buffer); `EBUSY` when the ring already has fixed buffers.
    pub fn register<S: Sharing>(driver: &Driver<S>, count: usize, size: usize) -> Result<FixedBufPool> {
        let max_count = crate::register::buffers::MAX_BUFFERS;
        if count == 0 || count > max_count {
            return Err(Error::InvalidArgument {
                what: format!("a fixed-buffer pool of {count} buffers"),
                why: format!("a ring's buffer table holds 1 to {max_count} buffers (IORING_MAX_REG_BUFFERS)"),
            });
        }
        let max_size = crate::register::buffers::MAX_BUFFER_BYTES;
        if size == 0 || size > max_size {
            return Err(Error::InvalidArgument {
                what: format!("fixed buffers of {size} bytes"),
                why: format!("the kernel registers buffers of 1 byte to 1 GiB ({max_size} bytes)"),
            });
        }
        let total = count.checked_mul(size).ok_or_else(|| Error::InvalidArgument {
            what: format!("a fixed-buffer pool of {count} buffers of {size} bytes"),
            why: "the total overflows the address space".into(),
        })?;
        let region = Arc::new(Region { map: Mapping::anonymous(total)? });
        let per_entry = per_entry(count, size);
        let pieces: Vec<Piece> = (0..count.div_ceil(per_entry))
            .map(|e| {
                let first = e * per_entry;
                let n = per_entry.min(count - first);
                Piece { region: region.clone(), offset: first * size, len: n * size }
            })
            .collect();
        // SAFETY: the closure only registers buffers; it pushes no SQE and
        // consumes no CQE, so the driver's bookkeeping is untouched.
        unsafe { driver.with_ring_mut(|ring| ring.register_buffers_owned(pieces)) }?;
        // `count` ≤ 16384 fits u16; the free list hands out low indices first.
        let free = (0..count as u16).rev().collect();
        let inner = PoolInner {
            region,
            size,
            count: count as u16,
            // At most `count`, so at most 16384.
            per_entry: per_entry as u16,
            free: Mutex::new(free),
            driver: driver.shared().id_token(),
        };
        Ok(FixedBufPool { inner: Arc::new(inner) })
    }

    /// A free buffer (empty: length 0), or `None` when all are checked out
    /// or in flight.
    pub fn checkout(&self) -> Option<FixedBuf> {
        let index = self.inner.free.lock().unwrap_or_else(PoisonError::into_inner).pop()?;
        let entry = index / self.inner.per_entry;
        Some(FixedBuf { pool: self.inner.clone(), index, entry, len: 0 })
    }

    /// Bytes per buffer.
    pub fn buf_size(&self) -> usize {
        self.inner.size
    }

    /// Buffers in the pool.
    pub fn count(&self) -> usize {
        self.inner.count as usize
    }

    /// Buffers free for [`checkout`](Self::checkout).
    pub fn available(&self) -> usize {
        self.inner.free.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether the pool is registered on `driver`'s ring.
    pub fn is_registered_on<S: Sharing>(&self, driver: &Driver<S>) -> bool {
        self.inner.is_registered_on(driver)
    }
}

impl fmt::Debug for FixedBufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBufPool")
            .field("count", &self.count())
            .field("buf_size", &self.buf_size())
            .field("available", &self.available())
            .finish()
    }
}

/// One registered buffer of a [`FixedBufPool`], checked out: an exclusive
/// slice of the pool's memory, with its number in the pool and the entry of
/// the ring's buffer table that holds it.
/// Its data is the first [`len`](Self::len) bytes (what a
/// [`WriteFixed`](super::ops::WriteFixed) writes; a
/// [`ReadFixed`](super::ops::ReadFixed) sets it to what was read); it
/// derefs to them. Dropped, it goes back to the pool.
///
/// It keeps the pool's memory alive, so it may outlive the pool and the
/// driver. It works with the ring that registered it only
/// ([`check_driver`](Self::check_driver)).
// 16 bytes (the length as a u32): an op holding one, and the output that
// gives it back, are a few bytes smaller to move.
pub struct FixedBuf {
    pool: Arc<PoolInner>,
    index: u16,
    /// The table entry holding it (`index / per_entry`, kept: every fixed
    /// op's SQE names it).
    entry: u16,
    /// At most the capacity, which is at most 1 GiB (checked by `register`).
    len: u32,
}

const _: () = assert!(std::mem::size_of::<FixedBuf>() == 16);

impl FixedBuf {
    /// The buffer's number in its pool (`0..count`): no two checked-out
    /// buffers of a pool share it.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// The entry of the ring's fixed-buffer table that holds this buffer
    /// (what a fixed op's SQE names in `buf_index`, with the buffer's
    /// address inside the entry); buffers of one pool share entries.
    #[inline]
    pub fn buf_index(&self) -> u16 {
        self.entry
    }

    /// Bytes of data.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there is no data.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the buffer holds (the pool's buffer size).
    #[inline]
    pub fn capacity(&self) -> usize {
        self.pool.size
    }

    /// Drop the data (length 0).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Keep only the first `len` bytes of data (no change if there are
    /// fewer).
    pub fn truncate(&mut self, len: usize) {
        self.put_len(self.len().min(len));
    }

    /// Append as much of `data` as fits; returns how many bytes were
    /// appended (fewer than `data.len()` when the buffer is full).
    pub fn extend_from_slice(&mut self, data: &[u8]) -> usize {
        let start = self.len();
        let n = data.len().min(self.capacity() - start);
        self.whole_mut()[start..start + n].copy_from_slice(&data[..n]);
        self.put_len(start + n);
        n
    }

    /// Make the first `len` bytes (at most the capacity) the data, whatever
    /// they hold (the pool's memory starts zeroed, and then holds what was
    /// last written or read there).
    pub fn set_len(&mut self, len: usize) {
        self.put_len(len.min(self.capacity()));
    }

    /// The whole buffer, data and spare room, for filling in place (then
    /// [`set_len`](Self::set_len)).
    pub fn whole_mut(&mut self) -> &mut [u8] {
        let (ptr, len) = (self.stable_mut_ptr(), self.capacity());
        // SAFETY: bytes `index * size ..+ size` of the mapping are this
        // buffer's alone (the free list hands each index to one `FixedBuf`),
        // mapped and initialized (anonymous memory starts zeroed) while the
        // pool's region lives, which `self.pool` ensures; `&mut self` makes
        // the borrow exclusive, and no op holds the buffer (an op owns it by
        // value while in flight).
        unsafe { std::slice::from_raw_parts_mut(ptr, len) }
    }

    /// Whether the buffer belongs to a pool registered on `driver`'s ring.
    pub fn is_registered_on<S: Sharing>(&self, driver: &Driver<S>) -> bool {
        self.pool.is_registered_on(driver)
    }

    /// `Ok` when the buffer belongs to a pool registered on `driver`'s ring;
    /// otherwise the typed refusal: on another ring, its index would name
    /// that ring's buffer (the kernel then fails the op with `EFAULT`,
    /// because the address is not inside it).
    pub fn check_driver<S: Sharing>(&self, driver: &Driver<S>) -> Result<()> {
        self.check_id(driver.id())
    }

    /// [`check_driver`](Self::check_driver) by the driver's id (inlined:
    /// every fixed op's submit runs it).
    #[inline]
    pub(crate) fn check_id(&self, id: super::DriverId) -> Result<()> {
        if self.pool.driver_id() == id {
            return Ok(());
        }
        Err(self.not_on_this_driver())
    }

    #[cold]
    fn not_on_this_driver(&self) -> Error {
        Error::InvalidArgument {
            what: format!("fixed buffer {} used on a driver that did not register its pool", self.index),
            why: "a fixed buffer works only with the ring whose table holds it; use a pool registered on this driver"
                .into(),
        }
    }

    /// After a fixed read of `n` bytes (at most the length asked for).
    #[inline]
    pub(crate) fn truncate_to_read(&mut self, n: usize) {
        // Stored only when it changes (see `set_init`).
        let n = n.min(self.capacity());
        if n != self.len() {
            self.put_len(n);
        }
    }

    /// Store a length of at most the capacity (so at most 1 GiB: it fits).
    #[inline(always)]
    fn put_len(&mut self, len: usize) {
        self.len = len as u32;
    }

    #[inline]
    fn base(&self) -> *mut u8 {
        // `index < count`, so the offset lies inside the mapping.
        self.pool.region.map.as_ptr().wrapping_add(self.index as usize * self.pool.size)
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        self.pool.free.lock().unwrap_or_else(PoisonError::into_inner).push(self.index);
    }
}

impl std::ops::Deref for FixedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: as in `whole_mut`, shared: the first `len` (≤ capacity)
        // bytes of this buffer's own slice, and no op holds the buffer.
        unsafe { std::slice::from_raw_parts(self.base(), self.len()) }
    }
}

impl std::ops::DerefMut for FixedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = self.len();
        &mut self.whole_mut()[..len]
    }
}

impl fmt::Debug for FixedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

// SAFETY: the pointer is into the pool's mapping, which this buffer keeps
// alive (through `pool`) at the same address however the buffer moves;
// `len ≤ capacity` bytes from it are this buffer's data.
unsafe impl IoBuf for FixedBuf {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.base()
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len()
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as above; all `capacity` bytes are this buffer's and writable.
unsafe impl IoBufMut for FixedBuf {
    #[inline]
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.base()
    }
    #[inline]
    unsafe fn set_init(&mut self, n: usize) {
        // Stored only when it grows, as a `Vec`'s: a buffer read into again
        // keeps its length, and a store here would be followed at once by
        // the move of the whole buffer (a stall on store-to-load forwarding).
        let n = n.min(self.capacity());
        if n > self.len() {
            self.put_len(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::per_entry;

    #[test]
    fn entries_hold_whole_buffers_up_to_a_gibibyte() {
        const GIB: usize = 1 << 30;
        // Small pools: one entry for all.
        assert_eq!(per_entry(32, 4096), 32);
        assert_eq!(per_entry(16384, 65536), 16384);
        // 1 GiB of 4 KiB buffers fills one entry; more spill to the next.
        assert_eq!(per_entry(1 << 19, 4096), 1 << 18);
        // Buffers that do not divide 1 GiB: as many whole ones as fit.
        assert_eq!(per_entry(5, 400 << 20), 2);
        // A buffer of more than half a GiB, or of exactly 1 GiB: one each.
        assert_eq!(per_entry(3, 600 << 20), 1);
        assert_eq!(per_entry(2, GIB), 1);
        // Never zero (a zero count is refused before this is asked).
        assert_eq!(per_entry(0, 4096), 1);
    }
}
