//! Provided-buffer rings for owned ops: a [`BufGroup`] registered on a
//! [`Driver`], and [`RingBuf`], one received buffer lent to the application
//! as an owned value that goes back to the kernel when dropped.
//!
//! The core's [`BufRing`] tracks which buffer the kernel holds; taking a
//! buffer from a CQE is `unsafe` there because only the kernel's own CQE, for
//! an op that picked from that group on that ring, proves the kernel let go
//! of it. Here the ops that pick from a group ([`ops::RecvProvided`],
//! [`ops::RecvMulti`], [`ops::RecvBundle`], [`ops::RecvBundleMulti`],
//! [`ops::ReadProvided`]) are submitted by the library on the driver the
//! group is registered with, and each CQE reaches the group exactly once
//! (the driver's op table), so the whole path is safe code for the user.
//!
//! [`ops::RecvProvided`]: super::ops::RecvProvided
//! [`ops::RecvMulti`]: super::ops::RecvMulti
//! [`ops::RecvBundle`]: super::ops::RecvBundle
//! [`ops::RecvBundleMulti`]: super::ops::RecvBundleMulti
//! [`ops::ReadProvided`]: super::ops::ReadProvided

use super::{Driver, DriverId, IoBuf, Sharing};
use crate::entry::Cqe;
use crate::error::{Error, Result};
use crate::register::{BufRing, BufRingConfig};
use crate::Errno;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

/// A provided-buffer ring (`IORING_REGISTER_PBUF_RING`, Linux 5.19)
/// registered on a [`Driver`]: `buffers` buffers of `buf_len` bytes that
/// receives and reads pick from when data arrives, instead of each op
/// carrying a buffer of its own. Memory then scales with the data in
/// flight, not with the number of sockets waiting.
///
/// A received buffer comes out as a [`RingBuf`], owned by the application
/// until it is dropped, which hands it back to the kernel at once. The group
/// runs dry (the kernel answers `ENOBUFS`) only while the application holds
/// every buffer.
///
/// `BufGroup` is a cheap handle (`Clone`, `Send`, `Sync`); the group's state
/// is shared, behind a mutex, by the handles, the ops that pick from it and
/// the buffers lent out, each of which keeps it alive.
///
/// ```
/// use ringwise::owned::{ops, BufGroup, Driver, SharedFd};
/// use ringwise::register::BufRingConfig;
/// use std::io::Write;
///
/// let driver = Driver::new(8)?;
/// // Group 1: eight buffers of 64 bytes, all handed to the kernel.
/// let group = BufGroup::register(&driver, BufRingConfig::new(1, 8, 64))?;
/// let (mut tx, rx) = std::os::unix::net::UnixStream::pair()?;
/// let rx = SharedFd::from(rx);
///
/// tx.write_all(b"hello")?;
/// let buf = ops::RecvProvided::submit(&driver, &rx, &group)?.wait()??;
/// let buf = buf.expect("data, not end of stream");
/// assert_eq!(&buf[..], b"hello");
/// assert_eq!(group.held(), 1);
/// drop(buf); // back to the kernel
/// assert_eq!(group.held(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BufGroup {
    inner: Arc<Group>,
}

/// What the handles, the ops and the lent buffers share.
pub(crate) struct Group {
    pool: Mutex<Pool>,
    /// Keeps the identity allocation of the driver the group is registered
    /// with (never upgraded), so that no other driver can get its address,
    /// and with it `driver_id`, while the group lives.
    _driver: Weak<u8>,
    driver_id: DriverId,
    bgid: u16,
    buf_len: u32,
    buffers: u32,
}

/// The state behind the group's lock.
struct Pool {
    ring: BufRing,
    /// Per buffer (index = id - first id): lent out as a [`RingBuf`].
    lent: Vec<bool>,
}

impl BufGroup {
    /// Register a provided-buffer ring on `driver` (`IORING_REGISTER_PBUF_RING`,
    /// Linux 5.19; see [`BufRingConfig`] for the options: group id, entries,
    /// buffer size and count, kernel-mapped entries).
    ///
    /// Incremental consumption (`IOU_PBUF_RING_INC`) is refused with
    /// [`Error::InvalidArgument`]: a buffer then carries several CQEs'
    /// data, which one owned [`RingBuf`] per buffer cannot express yet.
    ///
    /// The group stays registered until [`unregister`](Self::unregister) or
    /// until the driver's ring is closed; dropping every handle without
    /// unregistering keeps the group id taken on that ring (its memory is
    /// freed with the ring).
    pub fn register<S: Sharing>(driver: &Driver<S>, config: BufRingConfig) -> Result<BufGroup> {
        if config.incremental {
            return Err(Error::InvalidArgument {
                what: format!("an incremental buffer ring (group {}) for owned ops", config.bgid),
                why: "an owned RingBuf is one whole buffer; register without incremental()".into(),
            });
        }
        // SAFETY: registering a buffer ring makes the register syscall and
        // maps memory; it pushes no SQE and takes no CQE.
        let ring = unsafe { driver.with_ring_mut(|ring| ring.register_buf_ring(config)) }?;
        let pool = Pool { lent: vec![false; ring.buffers() as usize], ring };
        let inner = Group {
            bgid: config.bgid,
            buf_len: config.buf_len,
            buffers: config.buffers,
            pool: Mutex::new(pool),
            _driver: driver.shared().id_token(),
            driver_id: driver.id(),
        };
        Ok(BufGroup { inner: Arc::new(inner) })
    }

    /// Unregister the group (`IORING_UNREGISTER_PBUF_RING`, Linux 5.19),
    /// freeing its id for a new group on this driver.
    ///
    /// Only the last user can: refused ([`Error::InvalidArgument`], with
    /// this handle dropped and the group left registered) while another
    /// `BufGroup` clone, an op that picks from the group or a [`RingBuf`] is
    /// alive ([`users`](Self::users) says how many), or when `driver` is not
    /// the driver the group was registered with.
    pub fn unregister<S: Sharing>(self, driver: &Driver<S>) -> Result<()> {
        self.check_driver(driver)?;
        let inner = Arc::try_unwrap(self.inner).map_err(|inner| Error::InvalidArgument {
            what: format!("unregistering buffer group {} while it has {} users", inner.bgid, Arc::strong_count(&inner)),
            why: "ops that pick from the group and lent RingBufs keep it; drop them (and other BufGroup clones) first"
                .into(),
        })?;
        let pool = inner.pool.into_inner().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: unregistering makes the register syscall; it pushes no SQE
        // and takes no CQE.
        unsafe { driver.with_ring_mut(|ring| ring.unregister_buf_ring(pool.ring)) }
    }

    /// Group id.
    pub fn bgid(&self) -> u16 {
        self.inner.bgid
    }

    /// Bytes per buffer.
    pub fn buf_len(&self) -> u32 {
        self.inner.buf_len
    }

    /// Number of buffers.
    pub fn buffers(&self) -> u32 {
        self.inner.buffers
    }

    /// How many buffers the application holds (lent out as [`RingBuf`]s,
    /// or, after a `start_empty` registration, never provided): the kernel
    /// has `buffers() - held()` to fill.
    pub fn held(&self) -> usize {
        self.inner.lock().ring.held()
    }

    /// How many buffers are lent out as [`RingBuf`]s.
    pub fn lent(&self) -> usize {
        self.inner.lock().lent.iter().filter(|&&l| l).count()
    }

    /// The ring tail as published to the kernel; with the kernel's head
    /// ([`Ring::buf_ring_head`](crate::Ring::buf_ring_head), through
    /// [`Driver::with_ring`]) it gives the kernel's own count of the
    /// buffers in the ring (`tail - head`), which, with no op holding a
    /// picked buffer, equals `buffers() - held()`.
    pub fn published_tail(&self) -> u16 {
        self.inner.lock().ring.published_tail()
    }

    /// Handles, ops and lent buffers that keep the group alive (this handle
    /// included).
    pub fn users(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    /// Hand the kernel every buffer the application holds that is not lent
    /// out as a [`RingBuf`] (after a `start_empty` registration, all of
    /// them); returns how many.
    pub fn provide_idle(&self) -> usize {
        let mut pool = self.inner.lock();
        let Pool { ring, lent } = &mut *pool;
        let mut n = 0;
        for bid in ring.bids() {
            let bid = bid as u16;
            let i = bid.wrapping_sub(ring.config().first_bid) as usize;
            if !lent[i] && !ring.in_kernel(bid) && ring.add(bid).is_ok() {
                n += 1;
            }
        }
        ring.advance();
        n
    }

    /// Refused unless `driver` is the driver the group is registered with:
    /// an op submitted elsewhere would pick from that ring's group of the
    /// same id, and its CQE would name buffers this group may have lent.
    pub(crate) fn check_driver<S: Sharing>(&self, driver: &Driver<S>) -> Result<()> {
        self.check_driver_id(driver.id())
    }

    /// [`check_driver`](Self::check_driver) by the driver's id (what
    /// [`OwnedOp::validate_for`](super::OwnedOp::validate_for) gets).
    pub(crate) fn check_driver_id(&self, driver: DriverId) -> Result<()> {
        if driver == self.inner.driver_id {
            return Ok(());
        }
        Err(Error::InvalidArgument {
            what: format!("an op on buffer group {} submitted to another driver", self.inner.bgid),
            why: "a buffer group belongs to the driver it was registered with; submit there".into(),
        })
    }

    /// The buffer a single-buffer completion reports, as a [`RingBuf`]:
    /// `Ok(None)` for 0 bytes (end of stream; a buffer the kernel consumed
    /// for it goes straight back), the errno for a failure.
    ///
    /// # Safety
    /// `res` and `flags` are a CQE the kernel posted on this group's ring
    /// for an op that picked from this group without a bundle, and each
    /// such CQE is passed once.
    pub(crate) unsafe fn take_one(&self, res: i32, flags: u32) -> std::result::Result<Option<RingBuf>, Errno> {
        let cqe = Cqe { user_data: 0, res, flags };
        let buf = if cqe.buffer_id().is_some() {
            let mut pool = self.inner.lock();
            // SAFETY: forwarded from the caller.
            let Some((bid, data)) = (unsafe { pool.ring.completion(&cqe) }) else {
                // The group's bookkeeping disagrees with the kernel: the
                // buffer is left where the group thinks it is.
                return Err(Errno::IO);
            };
            let (ptr, len) = (data.as_ptr().cast_mut(), data.len());
            super::valgrind::kernel_wrote(ptr, len);
            let i = pool.index(bid);
            pool.lent[i] = true;
            drop(pool);
            Some(RingBuf { group: self.inner.clone(), ptr, len, bid })
        } else {
            None
        };
        match (res, buf) {
            (r, _) if r < 0 => Err(Errno::from_raw_os_error(-r)),
            (_, Some(buf)) if !buf.is_empty() => Ok(Some(buf)),
            _ => Ok(None),
        }
    }

    /// The buffers a bundle completion reports, in order: `Ok(None)` for 0
    /// bytes (end of stream), the errno for a failure.
    ///
    /// # Safety
    /// As for [`take_one`](Self::take_one), for an op with or without
    /// `IORING_RECVSEND_BUNDLE`, selecting its buffers inline (no
    /// `IOSQE_ASYNC`, on a pollable file).
    pub(crate) unsafe fn take_bundle(&self, res: i32, flags: u32) -> std::result::Result<Option<RingBundle>, Errno> {
        let cqe = Cqe { user_data: 0, res, flags };
        let mut bufs = Vec::new();
        if cqe.buffer_id().is_some() {
            let mut pool = self.inner.lock();
            // SAFETY: forwarded from the caller.
            let Some(bundle) = (unsafe { pool.ring.bundle(&cqe) }) else {
                return Err(Errno::IO);
            };
            let parts: Vec<(u16, *mut u8, usize)> =
                bundle.iter().map(|(bid, data)| (bid, data.as_ptr().cast_mut(), data.len())).collect();
            bufs.reserve_exact(parts.len());
            for (bid, ptr, len) in parts {
                super::valgrind::kernel_wrote(ptr, len);
                let i = pool.index(bid);
                pool.lent[i] = true;
                bufs.push(RingBuf { group: self.inner.clone(), ptr, len, bid });
            }
        }
        if res < 0 {
            return Err(Errno::from_raw_os_error(-res));
        }
        let total = bufs.iter().map(|b| b.len).sum();
        if total == 0 {
            return Ok(None);
        }
        Ok(Some(RingBundle { bufs, total }))
    }
}

impl Group {
    /// The lock; every change under it is a few field writes, so a poisoned
    /// lock is used as is.
    fn lock(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Pool {
    fn index(&self, bid: u16) -> usize {
        bid.wrapping_sub(self.ring.config().first_bid) as usize
    }
}

impl fmt::Debug for BufGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufGroup")
            .field("bgid", &self.inner.bgid)
            .field("buf_len", &self.inner.buf_len)
            .field("buffers", &self.inner.buffers)
            .field("held", &self.held())
            .finish()
    }
}

/// One buffer of a [`BufGroup`] that the kernel filled, lent to the
/// application: it derefs to the received bytes (mutably too: the buffer is
/// this value's alone), and dropping it hands the buffer back to the kernel
/// at once (`recycle`: one ring entry and a tail store, no syscall). It keeps
/// the group alive.
///
/// It is also an [`IoBuf`], so it can be sent on as it is (an echo) with
/// [`ops::Send`](super::ops::Send) and dropped when the send gives it back.
pub struct RingBuf {
    group: Arc<Group>,
    ptr: *mut u8,
    len: usize,
    bid: u16,
}

// SAFETY: `ptr` points at `len` bytes of the group's buffer memory, which
// the group (kept alive by `group`) and its ring keep mapped; the kernel
// does not hold the buffer (its CQE handed it back) and the group never
// touches a lent buffer, so the bytes are this value's alone until it is
// dropped: moving it to another thread, or sharing `&RingBuf`, is as for a
// `Box<[u8]>`.
unsafe impl Send for RingBuf {}
// SAFETY: as above; `&RingBuf` only reads.
unsafe impl Sync for RingBuf {}

impl RingBuf {
    /// The buffer id (which buffer of the group the kernel picked).
    pub fn bid(&self) -> u16 {
        self.bid
    }

    /// The group's id.
    pub fn bgid(&self) -> u16 {
        self.group.bgid
    }
}

impl Deref for RingBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: see `unsafe impl Send for RingBuf`: the bytes are mapped
        // and nobody else reads or writes them while `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl DerefMut for RingBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl AsRef<[u8]> for RingBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

// SAFETY: `ptr` is valid for reads of `len` bytes (see `Send` above) and
// does not change when the value moves (it points into the group's
// mapping, not into the value).
unsafe impl IoBuf for RingBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.len
    }
}

impl Drop for RingBuf {
    fn drop(&mut self) {
        let mut pool = self.group.lock();
        let i = pool.index(self.bid);
        pool.lent[i] = false;
        // Cannot fail: the buffer is this group's and the application's.
        let _ = pool.ring.recycle(self.bid);
    }
}

impl fmt::Debug for RingBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingBuf")
            .field("bgid", &self.group.bgid)
            .field("bid", &self.bid)
            .field("len", &self.len)
            .finish()
    }
}

/// The buffers one bundle completion filled (`IORING_RECVSEND_BUNDLE`,
/// Linux 6.10), in the order the data fills them: every one full but the
/// last. Each is a [`RingBuf`], handed back to the kernel when dropped. The
/// list is a `Vec` allocated per bundle.
#[derive(Debug)]
pub struct RingBundle {
    bufs: Vec<RingBuf>,
    total: usize,
}

impl RingBundle {
    /// Total bytes (the CQE's result).
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether it holds no byte (never, for a bundle an op returned).
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The buffers, in order.
    pub fn bufs(&self) -> &[RingBuf] {
        &self.bufs
    }

    /// The buffers, in order, to keep or send on one by one.
    pub fn into_bufs(self) -> Vec<RingBuf> {
        self.bufs
    }

    /// All the bytes, concatenated (a copy).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.total);
        for b in &self.bufs {
            v.extend_from_slice(b);
        }
        v
    }
}
