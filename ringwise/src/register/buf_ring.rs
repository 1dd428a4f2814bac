//! Provided-buffer rings (`IORING_REGISTER_PBUF_RING`, Linux 5.19): a group
//! of buffers that ops with `IOSQE_BUFFER_SELECT` (recv, read, ...) pick
//! from when data arrives, instead of each op carrying its own buffer. The
//! CQE names the buffer picked ([`Cqe::buffer_id`]).
//!
//! Over 700 lines (about 320 of them docs): `BufRing` is one owner of one
//! piece of state, which buffer the kernel holds and in which order they
//! were added, and the single-buffer and bundle completions both walk it;
//! splitting them would split that invariant across files.
//!
//! The application and the kernel share a ring of `{addr, len, bid}`
//! entries: the application adds buffers at the tail, the kernel takes them
//! from the head. [`BufRing`] owns both the entries and the buffers, and the
//! [`Ring`] keeps them alive while registered, so adding or recycling a
//! buffer is a safe method call. Each buffer is in exactly one place: in the
//! kernel's ring (added, not yet picked) or with the application (picked,
//! reported by a CQE); `BufRing` tracks which, and only exposes the bytes of
//! buffers the kernel no longer holds.
//!
//! Incremental consumption (`IOU_PBUF_RING_INC`, Linux 6.12): a buffer may
//! take several completions; each CQE but the last has `IORING_CQE_F_BUF_MORE`
//! and the data follows on from the previous CQE's.
//!
//! Bundles (`IORING_RECVSEND_BUNDLE`, Linux 6.10): one receive or send CQE
//! covers several buffers, the CQE's buffer id being the first; its bytes
//! run on through the next entries of the ring, each buffer used to its
//! length but the last. [`BufRing::bundle`] walks them (the ring remembers
//! which buffer it added after which) and hands every one back.
//!
//! The buffers are the caller's to count and number
//! ([`BufRingConfig::buffers`]: fewer than entries, ids from any start) and,
//! while the kernel does not hold them, to fill: [`BufRing::provide`] copies
//! data in and lends the buffer for a send that picks from the group, until
//! that send's CQE.
//!
//! The older way to provide buffers is the `PROVIDE_BUFFERS` op (see
//! `crate::op`): one SQE per batch of buffers, the kernel keeping a list
//! instead of a shared ring. It works on kernels before 5.19 and costs an
//! SQE per refill; buffer rings are the better choice where available. A
//! group id is either a list (`PROVIDE_BUFFERS`) or a ring, never both (the
//! kernel answers EEXIST).

use super::opcode;
use crate::entry::{Cqe, CqeSize, SqeSize};
use crate::error::{Error, Region, Result};
use crate::memlock::{self, RingMemoryKind};
use crate::memory::{check_region, round_up, KernelMap, Mapping, RingMemory};
use crate::Ring;
use linux_raw_sys::io_uring::io_uring_register_pbuf_ring_flags::{
    IOU_PBUF_RING_INC as INC, IOU_PBUF_RING_MMAP as MMAP,
};
use linux_raw_sys::io_uring::{io_uring_buf_reg, io_uring_buf_status, IORING_OFF_PBUF_RING, IORING_OFF_PBUF_SHIFT};
use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags};
use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

/// The most entries a buffer ring may have (the kernel refuses 65536 and up;
/// the count must be a power of two).
pub const MAX_ENTRIES: u32 = 32768;
/// Bytes of one ring entry (`struct io_uring_buf`).
pub const ENTRY_BYTES: usize = 16;
/// Offset of the ring's tail (`u16`) inside entry 0, where the kernel
/// overlays it on that entry's reserved field.
const TAIL_OFFSET: usize = 14;

/// How to set up a buffer ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufRingConfig {
    /// Buffer group id, named by ops in `buf_group`.
    pub bgid: u16,
    /// Ring entries (a power of two, at most [`MAX_ENTRIES`]).
    pub entries: u32,
    /// Bytes per buffer.
    pub buf_len: u32,
    /// Let the kernel allocate the entries (`IOU_PBUF_RING_MMAP`, Linux 6.4)
    /// and map them, instead of library or caller memory.
    pub kernel_mapped: bool,
    /// Incremental consumption (`IOU_PBUF_RING_INC`, Linux 6.12).
    pub incremental: bool,
    /// How many buffers the ring owns (1 to `entries`; `new` sets
    /// `entries`). Fewer buffers than entries leave room in the ring, so a
    /// buffer can always be added back without waiting for the kernel.
    pub buffers: u32,
    /// Id of the first buffer; the buffers are `first_bid ..
    /// first_bid + buffers` (`new` sets 0). The kernel copies the id of the
    /// entry it picks into the CQE, so ids are the application's choice:
    /// e.g. disjoint ranges per group make a CQE's id name its group too.
    pub first_bid: u16,
    /// Register with no buffer added: the application holds them all,
    /// fills them and adds them itself (e.g. with [`BufRing::provide`] for
    /// sends that pick from the group). `new` sets `false`: every buffer
    /// is added at registration, in id order.
    pub start_empty: bool,
}

impl BufRingConfig {
    /// `entries` buffers of `buf_len` bytes for group `bgid`, ids from 0,
    /// all added at registration.
    pub fn new(bgid: u16, entries: u32, buf_len: u32) -> BufRingConfig {
        BufRingConfig {
            bgid,
            entries,
            buf_len,
            kernel_mapped: false,
            incremental: false,
            buffers: entries,
            first_bid: 0,
            start_empty: false,
        }
    }
    /// Kernel-allocated entries (`IOU_PBUF_RING_MMAP`).
    pub fn kernel_mapped(mut self) -> BufRingConfig {
        self.kernel_mapped = true;
        self
    }
    /// Incremental consumption (`IOU_PBUF_RING_INC`).
    pub fn incremental(mut self) -> BufRingConfig {
        self.incremental = true;
        self
    }
    /// `count` buffers with ids `first_bid .. first_bid + count` (at most
    /// `entries` of them), instead of one per entry from id 0.
    pub fn buffers(mut self, count: u32, first_bid: u16) -> BufRingConfig {
        self.buffers = count;
        self.first_bid = first_bid;
        self
    }
    /// Register with no buffer in the kernel (see [`BufRingConfig::start_empty`]).
    pub fn start_empty(mut self) -> BufRingConfig {
        self.start_empty = true;
        self
    }

    fn check(&self) -> Result<()> {
        if self.entries == 0 || self.entries > MAX_ENTRIES || !self.entries.is_power_of_two() {
            return Err(Error::BufRingEntries { entries: self.entries, max: MAX_ENTRIES });
        }
        if self.buf_len == 0 {
            return Err(Error::InvalidArgument {
                what: "a buffer ring with 0-byte buffers".into(),
                why: "the kernel needs room to put data".into(),
            });
        }
        if self.buffers == 0 || self.buffers > self.entries {
            return Err(Error::InvalidArgument {
                what: format!("a buffer ring of {} entries with {} buffers", self.entries, self.buffers),
                why: "a ring holds 1 to `entries` buffers: each buffer in the kernel takes one entry".into(),
            });
        }
        if self.first_bid as u32 + self.buffers > 1 << 16 {
            return Err(Error::InvalidArgument {
                what: format!("buffer ids {} .. {}", self.first_bid, self.first_bid as u32 + self.buffers),
                why: "a buffer id is 16 bits (the CQE carries it in the upper half of its flags): the last id \
                      must be at most 65535"
                    .into(),
            });
        }
        (self.buffers as usize).checked_mul(self.buf_len as usize).ok_or_else(|| Error::InvalidArgument {
            what: format!("{} buffers of {} bytes", self.buffers, self.buf_len),
            why: "their total size overflows the address space".into(),
        })?;
        Ok(())
    }

    /// Bytes the kernel uses for the entries: it pins or allocates whole pages.
    pub fn ring_bytes(&self) -> usize {
        round_up(self.entries as usize * ENTRY_BYTES, crate::sys::page_size())
    }
}

/// Where the entries live.
enum EntryMemory {
    Library(#[allow(dead_code)] Mapping),
    Caller(#[allow(dead_code)] Box<dyn RingMemory>),
    Kernel(#[allow(dead_code)] KernelMap),
}

/// The buffers' memory: a [`Mapping`] whose address range is never given
/// back to the process.
///
/// The kernel writes provided buffers through their user addresses, without
/// pinning them. An op that picked a buffer keeps writing after the ring's
/// fd is closed (teardown is asynchronous: an io-wq worker finishes a read
/// it started) or after the group is unregistered. Unmapping the buffers
/// then would let the next `mmap` (an allocator, another thread) get the
/// same addresses and receive the late data: measured here, a 64 MiB
/// buffered read let the kernel write 60 MiB into a mapping made after the
/// ring and its `BufRing` were dropped. So on drop the range is replaced in
/// place by an inaccessible `PROT_NONE` mapping: its memory is freed, a
/// late write faults (the op fails with EFAULT), and no new mapping can land
/// there. The cost is address space only (one reserved range per dropped
/// buffer ring, no memory).
struct Buffers(ManuallyDrop<Mapping>);

impl Buffers {
    fn as_ptr(&self) -> *mut u8 {
        self.0.as_ptr()
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        let (ptr, len) = (self.0.as_ptr(), self.0.len());
        // SAFETY: `[ptr, ptr + len)` is the mapping this value owns; the last
        // `BufRing` handle and the ring's `Registrations` are gone, so no reference into
        // it exists any more. MAP_FIXED replaces it in one step, so the range
        // is never unmapped in between. If that fails (no memory for a new
        // VMA), the old mapping is left as it is: a leak, never a reuse. The
        // inner `Mapping` is not dropped either way (it would munmap).
        let _ = unsafe {
            rustix::mm::mmap_anonymous(
                ptr.cast(),
                len,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::FIXED | MapFlags::NORESERVE,
            )
        };
    }
}

/// Entries and buffers, shared by the [`BufRing`] handle and the ring that
/// keeps them alive while registered (`Registrations`).
pub(super) struct Shared {
    entries: *mut u8,
    buffers: Buffers,
    _entry_memory: EntryMemory,
}

// SAFETY: the raw pointer points into memory `Shared` owns; the only writer
// is the `BufRing` handle (`&mut self` methods), the ring only holds it.
unsafe impl Send for Shared {}
// SAFETY: as above; `&Shared` gives no access to the memory by itself.
unsafe impl Sync for Shared {}

/// A registered provided-buffer ring with its buffers
/// ([`Ring::register_buf_ring`], `IORING_REGISTER_PBUF_RING`, Linux 5.19).
///
/// The handle and the ring share the entries and the buffers: the ring keeps
/// them while the group is registered (the kernel reads the entries and
/// writes the buffers through their addresses), the handle gives the
/// application its side. Dropping the handle alone does not unregister the
/// group; [`Ring::unregister_buf_ring`] does. The buffers' address range is
/// never given back to the process, so a late write of the kernel cannot
/// land in someone else's memory.
///
/// A receive that picks from the group, its data, and the buffer given back:
///
/// ```
/// use ringwise::op::RecvProvided;
/// use ringwise::register::BufRingConfig;
/// use ringwise::Ring;
/// use std::io::Write;
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
///
/// let mut ring = Ring::new(8)?;
/// // Group 7: four buffers of 64 bytes, all handed to the kernel.
/// let mut bufs = ring.register_buf_ring(BufRingConfig::new(7, 4, 64))?;
/// assert_eq!(bufs.held(), 0);
///
/// let (mut tx, rx) = UnixStream::pair()?;
/// tx.write_all(b"hello")?;
/// // SAFETY: `rx` stays open until the end of the example, after the CQE.
/// let rx_fd = unsafe { ringwise::op::Target::fd(rx.as_raw_fd()) };
/// ring.submission().push(RecvProvided::new(rx_fd, 7).user_data(1)).unwrap();
/// ring.submit_and_wait(1)?;
/// let cqe = ring.completion().next().unwrap();
/// assert_eq!(cqe.buffer_id(), Some(0), "the kernel picked buffer 0");
///
/// // Taking the data is the one unsafe step: a `Cqe` is plain data, and
/// // only the kernel's own CQE proves that it let go of the buffer.
/// // SAFETY: this CQE was posted by `ring`, for the receive above, which
/// // picked from group 7; it is passed once.
/// let (bid, data) = unsafe { bufs.completion(&cqe) }.unwrap();
/// assert_eq!(data, b"hello");
/// assert_eq!(bufs.held(), 1);
///
/// // Give it back; the kernel may pick it again.
/// bufs.recycle(bid)?;
/// assert!(bufs.in_kernel(bid));
/// ring.unregister_buf_ring(bufs)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BufRing {
    shared: Arc<Shared>,
    config: BufRingConfig,
    mask: u32,
    /// Next entry to fill; published to the kernel by [`advance`](Self::advance).
    local_tail: u16,
    /// Per buffer (index = id - first id): where it is and what it holds.
    state: Vec<BufState>,
    /// Index of the buffer added last, whose `next` the next add sets.
    last_added: u32,
}

/// `next` of a buffer no buffer was added after yet.
const NO_NEXT: u32 = u32::MAX;

/// What the application knows of one buffer.
#[derive(Debug, Clone, Copy)]
struct BufState {
    /// In the kernel's ring or lent to an op (added, not yet reported).
    in_kernel: bool,
    /// Bytes offered to the kernel in its entry (`buf_len`, or less for a
    /// buffer added with [`BufRing::add_len`]).
    len: u32,
    /// Incremental mode: bytes of it already reported.
    consumed: u32,
    /// Index of the buffer added right after this one (the next entry of
    /// the ring), which a bundle that ends in this buffer continues into.
    next: u32,
}

/// One buffer of a completion: its id and the bytes the CQE reports in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundlePart {
    /// Buffer id.
    pub bid: u16,
    /// Offset of the reported bytes in the buffer (non-zero only in
    /// incremental mode, where a buffer fills over several CQEs).
    pub offset: u32,
    /// Bytes reported.
    pub len: u32,
    /// Whether the buffer came back to the application with this CQE (it
    /// can be recycled). `false` only for the last buffer of an incremental
    /// ring that the kernel keeps filling (`IORING_CQE_F_BUF_MORE`).
    pub returned: bool,
}

/// The buffers one bundle completion consumed, in order, with their bytes:
/// what [`BufRing::bundle`] returns.
pub struct Bundle<'a> {
    ring: &'a BufRing,
    parts: Vec<BundlePart>,
}

impl<'a> Bundle<'a> {
    /// The buffers, in the order the data fills them.
    pub fn parts(&self) -> &[BundlePart] {
        &self.parts
    }
    /// Each buffer's id and bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u16, &'a [u8])> + '_ {
        let ring = self.ring;
        self.parts.iter().map(move |p| (p.bid, ring.reported(p)))
    }
    /// Total bytes (the CQE's `res`).
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.len as usize).sum()
    }
    /// Whether the CQE reported no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// All the bytes, concatenated.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for (_, data) in self.iter() {
            v.extend_from_slice(data);
        }
        v
    }
    /// Ids of the buffers the application got back (to recycle).
    pub fn returned(&self) -> impl Iterator<Item = u16> + '_ {
        self.parts.iter().filter(|p| p.returned).map(|p| p.bid)
    }
}

impl fmt::Debug for Bundle<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bundle").field("parts", &self.parts).finish()
    }
}

impl fmt::Debug for BufRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufRing")
            .field("config", &self.config)
            .field("local_tail", &self.local_tail)
            .field("in_kernel", &self.state.iter().filter(|b| b.in_kernel).count())
            .finish()
    }
}

impl BufRing {
    /// Group id.
    pub fn bgid(&self) -> u16 {
        self.config.bgid
    }
    /// Number of entries of the ring.
    pub fn entries(&self) -> u32 {
        self.config.entries
    }
    /// Number of buffers (at most [`entries`](Self::entries)).
    pub fn buffers(&self) -> u32 {
        self.config.buffers
    }
    /// The buffer ids, `first .. first + buffers`.
    pub fn bids(&self) -> std::ops::Range<u32> {
        let first = self.config.first_bid as u32;
        first..first + self.config.buffers
    }
    /// Bytes per buffer.
    pub fn buf_len(&self) -> u32 {
        self.config.buf_len
    }
    /// The setup this ring was registered with.
    pub fn config(&self) -> BufRingConfig {
        self.config
    }
    /// Address of the entries (kernel, library or caller memory).
    pub fn entries_addr(&self) -> usize {
        self.shared.entries as usize
    }

    /// The index of buffer `bid`, if this ring has it.
    fn index(&self, bid: u16) -> Option<usize> {
        let i = bid.wrapping_sub(self.config.first_bid) as u32;
        (bid >= self.config.first_bid && i < self.config.buffers).then_some(i as usize)
    }

    fn bid_of(&self, index: usize) -> u16 {
        self.config.first_bid + index as u16
    }

    fn buffer_ptr(&self, index: usize) -> *mut u8 {
        // SAFETY: callers pass index < buffers; the mapping holds
        // buffers * buf_len bytes.
        unsafe { self.shared.buffers.as_ptr().add(index * self.config.buf_len as usize) }
    }

    fn check_bid(&self, bid: u16) -> Result<usize> {
        // Out of range: the ids end at `expected` (exclusive); ids below
        // `first_bid` are out of range too.
        self.index(bid).ok_or(Error::LengthMismatch {
            what: "buffer id out of range for this buffer ring (its ids are first_bid .. first_bid + buffers)",
            expected: self.config.first_bid as usize + self.config.buffers as usize,
            given: bid as usize + 1,
        })
    }

    /// Queue buffer `bid` for the kernel (whole buffer); visible to the
    /// kernel after [`advance`](Self::advance). Refused when the kernel holds
    /// it already.
    pub fn add(&mut self, bid: u16) -> Result<()> {
        self.add_len(bid, self.config.buf_len)
    }

    /// Queue the first `len` bytes of buffer `bid` (1 to `buf_len`): a
    /// receive fills at most that much, a send that picks the buffer sends
    /// exactly that much. Visible to the kernel after
    /// [`advance`](Self::advance); refused when the kernel holds it already.
    pub fn add_len(&mut self, bid: u16, len: u32) -> Result<()> {
        let i = self.check_bid(bid)?;
        if self.state[i].in_kernel {
            return Err(Error::BufferInKernel { bgid: self.config.bgid, bid });
        }
        if len == 0 || len > self.config.buf_len {
            return Err(Error::InvalidArgument {
                what: format!("adding {len} bytes of buffer {bid} (group {})", self.config.bgid),
                why: format!(
                    "a buffer offers 1 to {} bytes (its size); the kernel treats a 0-length entry as \
                     unusable",
                    self.config.buf_len
                ),
            });
        }
        let slot = (self.local_tail as u32 & self.mask) as usize;
        let addr = self.buffer_ptr(i) as u64;
        // SAFETY: slot < entries, so the entry lies in the entries memory; the
        // kernel only reads entries between its head and the published tail,
        // and this one is past the published tail (a ring never holds more
        // buffers than entries). Fields are written one by one so that entry
        // 0's reserved field, which holds the tail, is left alone.
        unsafe {
            let entry = self.shared.entries.add(slot * ENTRY_BYTES);
            entry.cast::<u64>().write(addr);
            entry.add(8).cast::<u32>().write(len);
            entry.add(12).cast::<u16>().write(bid);
        }
        self.local_tail = self.local_tail.wrapping_add(1);
        if let Some(last) = self.state.get_mut(self.last_added as usize) {
            last.next = i as u32;
        }
        self.last_added = i as u32;
        self.state[i] = BufState { in_kernel: true, len, consumed: 0, next: NO_NEXT };
        Ok(())
    }

    /// Publish the buffers added since the last call (one release store).
    pub fn advance(&mut self) {
        // SAFETY: the tail lies in entry 0 of the entries memory; release
        // orders the entry writes before the kernel sees the new tail.
        unsafe {
            (*self.shared.entries.add(TAIL_OFFSET).cast::<AtomicU16>()).store(self.local_tail, Ordering::Release)
        };
    }

    /// Give buffer `bid` back to the kernel at once (`add` + `advance`).
    pub fn recycle(&mut self, bid: u16) -> Result<()> {
        self.add(bid)?;
        self.advance();
        Ok(())
    }

    /// Fill buffer `bid`, which the application holds, with `data` and hand
    /// it to the kernel at once with exactly that many bytes (`add_len` +
    /// `advance`): the next op that picks from the group (a
    /// [`SendProvided`](crate::op::SendProvided), a bundle send) sends
    /// `data`. The buffer stays lent until that op's CQE comes back through
    /// [`completion`](Self::completion) or [`bundle`](Self::bundle).
    /// Refused when the kernel holds the buffer, and when `data` is empty or
    /// longer than a buffer.
    pub fn provide(&mut self, bid: u16, data: &[u8]) -> Result<()> {
        let i = self.check_bid(bid)?;
        if self.state[i].in_kernel {
            return Err(Error::BufferInKernel { bgid: self.config.bgid, bid });
        }
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        if len == 0 || len > self.config.buf_len {
            return Err(Error::LengthMismatch {
                what: "bytes to provide in one buffer (at most its size, at least 1)",
                expected: self.config.buf_len as usize,
                given: data.len(),
            });
        }
        // SAFETY: the buffer lies in the mapping, holds buf_len >= len bytes,
        // and the kernel does not hold it (checked above); `&mut self` makes
        // the write exclusive.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.buffer_ptr(i), data.len()) };
        self.add_len(bid, len)?;
        self.advance();
        Ok(())
    }

    /// The tail as published to the kernel.
    pub fn published_tail(&self) -> u16 {
        // SAFETY: as in `advance`.
        unsafe { (*self.shared.entries.add(TAIL_OFFSET).cast::<AtomicU16>()).load(Ordering::Relaxed) }
    }

    /// The bytes `part` reports.
    fn reported(&self, part: &BundlePart) -> &[u8] {
        let i = self.index(part.bid).expect("a part names a buffer of this ring");
        // SAFETY: [offset, offset + len) lies inside the buffer (checked when
        // the part was built); the CQE it came from is the kernel's report
        // that it filled (or sent) these bytes and no longer touches them.
        unsafe { std::slice::from_raw_parts(self.buffer_ptr(i).add(part.offset as usize), part.len as usize) }
    }

    /// Take the data a completion of a *single-buffer* op reports: the
    /// buffer id and the bytes the kernel put there (or sent from there)
    /// for this CQE. `None` when the CQE used no buffer of a ring (no
    /// `IORING_CQE_F_BUFFER`), names a buffer this ring does not have out,
    /// or reports more bytes than that buffer has left: a bundle, which
    /// spans several buffers and must go through [`bundle`](Self::bundle)
    /// (nothing changes on `None`, so the same CQE can be passed there).
    /// After this, the buffer is the application's until
    /// [`recycle`](Self::recycle)d (in incremental mode, only once a CQE
    /// without `BUF_MORE` reported its last bytes).
    ///
    /// # Safety
    /// If `cqe` has `IORING_CQE_F_BUFFER` set, it must be a completion the
    /// kernel posted on the ring this group is registered with, for an op
    /// that picked its buffer from this group without
    /// `IORING_RECVSEND_BUNDLE`, and each such CQE must be taken at most
    /// once (by a call of this or [`bundle`](Self::bundle) that returned
    /// `Some`). The CQE is the only
    /// evidence that the kernel has let go of the buffer, and a `Cqe` is
    /// plain data: one built by hand, copied, taken from another ring, or
    /// posted by another ring's `MSG_RING` with `IORING_MSG_RING_FLAGS_PASS`
    /// (`MsgRingData::cqe_flags_unchecked` can put `IORING_CQE_F_BUFFER` and
    /// any buffer id in the flags)
    /// would mark a buffer the kernel still holds as the application's, and
    /// [`buffer_mut`](Self::buffer_mut) or a recycle would then alias memory
    /// the kernel writes.
    pub unsafe fn completion(&mut self, cqe: &Cqe) -> Option<(u16, &[u8])> {
        let parts = self.parts(cqe, false)?;
        let [part] = parts[..] else { return None };
        self.take(&parts);
        Some((part.bid, self.reported(&part)))
    }

    /// Take the data of a *bundle* completion (`IORING_RECVSEND_BUNDLE`,
    /// Linux 6.10, on a receive or a send that picks from this group): every
    /// buffer it consumed, in order, with its bytes. The kernel reports a
    /// bundle as one CQE whose buffer id is the first buffer and whose `res`
    /// bytes run on through the following entries of the ring (the buffers
    /// added after it, in order), each used to its length except the last.
    /// Every buffer a bundle consumed comes back to the application (to
    /// read, refill and recycle), except, in incremental mode
    /// (`IOU_PBUF_RING_INC`), a last buffer the kernel goes on filling
    /// (`IORING_CQE_F_BUF_MORE`): there the first buffer's bytes start where
    /// the previous CQE of that buffer stopped, and a buffer is returned once
    /// its bytes are all used. A CQE with `res` 0 (end of stream) consumed
    /// no buffer: the parts are empty and the buffer stays in the kernel.
    /// A single-buffer CQE is a bundle of one, so this also takes those.
    ///
    /// `None` (nothing changed) when the CQE used no buffer of this ring, or
    /// its bytes run past the buffers this ring has lent to the kernel.
    ///
    /// # Safety
    /// As for [`completion`](Self::completion), for an op with or without
    /// `IORING_RECVSEND_BUNDLE`. An op whose buffers the kernel selected on
    /// an io-wq worker (`IOSQE_ASYNC`, or a file that cannot be polled)
    /// commits every buffer it selected at once; a short transfer then
    /// leaves buffers the CQE does not name: use bundles on sockets without
    /// `IOSQE_ASYNC`.
    pub unsafe fn bundle(&mut self, cqe: &Cqe) -> Option<Bundle<'_>> {
        let parts = self.parts(cqe, true)?;
        self.take(&parts);
        Some(Bundle { ring: self, parts })
    }

    /// The buffers `cqe` reports, without changing anything; `bundle`
    /// allows more than one.
    fn parts(&self, cqe: &Cqe, bundle: bool) -> Option<Vec<BundlePart>> {
        let bid = cqe.buffer_id()?;
        let mut i = self.index(bid)?;
        if !self.state[i].in_kernel {
            return None;
        }
        let inc = self.config.incremental;
        let mut left = cqe.res.max(0) as u32;
        let mut parts = Vec::with_capacity(1);
        if left == 0 {
            // Incremental: nothing consumed, the buffer stays at the head
            // (6.18 omits BUF_MORE here; later kernels set it). A bundle of 0
            // bytes counts 0 buffers. A single buffer named by a 0-byte CQE
            // was committed (the head moved by one); 6.18 names none for a
            // receive at end of stream (it puts the buffer back).
            if inc || bundle {
                return Some(parts);
            }
            parts.push(BundlePart { bid, offset: 0, len: 0, returned: true });
            return Some(parts);
        }
        loop {
            let s = self.state[i];
            let offset = if inc { s.consumed } else { 0 };
            let room = s.len.checked_sub(offset)?;
            let take = left.min(room);
            left -= take;
            let last = left == 0;
            // Incremental: a buffer the data did not use up stays with the
            // kernel when the CQE says so (BUF_MORE; later kernels may also
            // hand back a buffer with a few bytes left, `min_left`).
            let returned = !(inc && last && cqe.buf_more());
            parts.push(BundlePart { bid: self.bid_of(i), offset, len: take, returned });
            if last {
                return Some(parts);
            }
            if !bundle {
                return None;
            }
            i = s.next as usize;
            if s.next == NO_NEXT || !self.state[i].in_kernel {
                return None;
            }
        }
    }

    /// Apply what `parts` report.
    fn take(&mut self, parts: &[BundlePart]) {
        for p in parts {
            let i = self.index(p.bid).expect("a part names a buffer of this ring");
            let s = &mut self.state[i];
            if p.returned {
                s.in_kernel = false;
                s.consumed = 0;
            } else {
                s.consumed = p.offset + p.len;
            }
        }
    }

    /// The whole of buffer `bid`, when the application holds it.
    pub fn buffer(&self, bid: u16) -> Option<&[u8]> {
        let i = self.index(bid)?;
        if self.state[i].in_kernel {
            return None;
        }
        // SAFETY: the buffer lies in the mapping and the kernel does not hold it.
        Some(unsafe { std::slice::from_raw_parts(self.buffer_ptr(i), self.config.buf_len as usize) })
    }

    /// The whole of buffer `bid`, writable, when the application holds it
    /// (e.g. to fill it for a send that picks from the group, then
    /// [`add_len`](Self::add_len) and [`advance`](Self::advance); or in one
    /// step, [`provide`](Self::provide)).
    pub fn buffer_mut(&mut self, bid: u16) -> Option<&mut [u8]> {
        let i = self.index(bid)?;
        if self.state[i].in_kernel {
            return None;
        }
        // SAFETY: as in `buffer`, and `&mut self` makes the access exclusive.
        Some(unsafe { std::slice::from_raw_parts_mut(self.buffer_ptr(i), self.config.buf_len as usize) })
    }

    /// Whether the kernel holds buffer `bid` (added and not yet reported).
    pub fn in_kernel(&self, bid: u16) -> bool {
        self.index(bid).is_some_and(|i| self.state[i].in_kernel)
    }

    /// How many buffers the application holds (reported by a CQE, not yet
    /// added back). When it holds all of them, a receive that got ENOBUFS
    /// can only succeed after a recycle; otherwise it can be re-armed at once.
    pub fn held(&self) -> usize {
        self.state.iter().filter(|s| !s.in_kernel).count()
    }
}

fn pbuf_context(bgid: u16, errno: Errno) -> Option<String> {
    Some(match errno {
        Errno::EXIST => format!("buffer group {bgid} is already registered (as a ring or by PROVIDE_BUFFERS)"),
        Errno::NOENT => format!("buffer group {bgid} is not registered"),
        Errno::INVAL => "the kernel refused the buffer ring: entries not a power of two below 65536, unknown \
                         flags, memory not page-aligned, or a ring address given with IOU_PBUF_RING_MMAP"
            .into(),
        Errno::FAULT => "the entries memory cannot be pinned".into(),
        _ => return None,
    })
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Register a buffer ring (`IORING_REGISTER_PBUF_RING`, opcode 22, Linux
    /// 5.19) with its entries in library memory (or kernel memory with
    /// [`BufRingConfig::kernel_mapped`], Linux 6.4), and `entries` buffers of
    /// `buf_len` bytes, all added in order (buffer 0 is picked first).
    ///
    /// The entries and buffers are shared by the returned handle and the
    /// ring, which keeps them until [`unregister_buf_ring`](Self::unregister_buf_ring)
    /// or until it is dropped. See [`BufRing`] for an example.
    pub fn register_buf_ring(&mut self, config: BufRingConfig) -> Result<BufRing> {
        config.check()?;
        if config.kernel_mapped {
            return self.register_buf_ring_with(config, None);
        }
        let memory = Mapping::anonymous(config.ring_bytes())?;
        let ptr = memory.as_ptr();
        self.register_buf_ring_with(config, Some((ptr, EntryMemory::Library(memory))))
    }

    /// Register a buffer ring with its entries in caller memory, which must
    /// be page-aligned and hold [`BufRingConfig::ring_bytes`] (the kernel
    /// pins whole pages). The memory moves into the ring, which keeps it
    /// like the library's own.
    pub fn register_buf_ring_in<M: RingMemory>(&mut self, config: BufRingConfig, mut memory: M) -> Result<BufRing> {
        config.check()?;
        if config.kernel_mapped {
            return Err(Error::InvalidArgument {
                what: "a kernel-mapped buffer ring in caller memory".into(),
                why: "IOU_PBUF_RING_MMAP means the kernel allocates the entries; drop kernel_mapped()".into(),
            });
        }
        let ptr = memory.as_mut_ptr();
        check_region(Region::BufRing, ptr, memory.len(), config.ring_bytes())?;
        self.register_buf_ring_with(config, Some((ptr, EntryMemory::Caller(Box::new(memory)))))
    }

    fn register_buf_ring_with(
        &mut self,
        config: BufRingConfig,
        memory: Option<(*mut u8, EntryMemory)>,
    ) -> Result<BufRing> {
        // A plain mapping until registered: the kernel learns the buffers'
        // addresses only from the entries added below.
        let buffers = Mapping::anonymous(config.buffers as usize * config.buf_len as usize)?;
        let mut flags = 0u16;
        if config.kernel_mapped {
            flags |= MMAP as u16;
        }
        if config.incremental {
            flags |= INC as u16;
        }
        let ring_addr = memory.as_ref().map_or(0, |(p, _)| *p as u64);
        if let Some((p, _)) = &memory {
            // SAFETY: the entries memory was checked to hold ring_bytes and is
            // ours; a zero tail is what the kernel expects at registration.
            unsafe { std::ptr::write_bytes(*p, 0, config.ring_bytes()) };
        }
        let reg = io_uring_buf_reg { ring_addr, ring_entries: config.entries, bgid: config.bgid, flags, resv: [0; 3] };
        // SAFETY: `reg` is valid for the call; the entries memory it names is
        // kept alive by the ring (below) until unregistered or closed.
        unsafe { self.register_pbuf(opcode::REGISTER_PBUF_RING, &reg) }.map_err(|e| {
            let kind = if config.kernel_mapped { RingMemoryKind::Kernel } else { RingMemoryKind::User };
            let charge = memlock::buf_ring(config.entries, kind, crate::sys::page_size());
            let what = format!("the {} entries of buffer group {}", config.entries, config.bgid);
            super::memlock_enomem(e, &what, charge)
        })?;
        let (entries, entry_memory) = match memory {
            Some(m) => m,
            None => match self.map_kernel_buf_ring(&config) {
                Ok(map) => (map.as_ptr(), EntryMemory::Kernel(map)),
                Err(e) => {
                    let _ = self.unregister_pbuf(config.bgid);
                    return Err(e);
                }
            },
        };
        let shared =
            Arc::new(Shared { entries, buffers: Buffers(ManuallyDrop::new(buffers)), _entry_memory: entry_memory });
        self.registrations.hold_buf_ring(config.bgid, Arc::clone(&shared) as _);
        let n = config.buffers as usize;
        let idle = BufState { in_kernel: false, len: config.buf_len, consumed: 0, next: NO_NEXT };
        let mut ring = BufRing {
            shared,
            config,
            mask: config.entries - 1,
            local_tail: 0,
            state: vec![idle; n],
            last_added: NO_NEXT,
        };
        if !config.start_empty {
            for bid in ring.bids() {
                ring.add(bid as u16)?;
            }
            ring.advance();
        }
        Ok(ring)
    }

    fn map_kernel_buf_ring(&self, config: &BufRingConfig) -> Result<KernelMap> {
        let Some(fd) = self.fd() else {
            return Err(Error::NoRingFd { what: "a kernel-mapped buffer ring" });
        };
        let offset = IORING_OFF_PBUF_RING as u64 | ((config.bgid as u64) << IORING_OFF_PBUF_SHIFT);
        KernelMap::map(fd, config.ring_bytes(), offset, "provided-buffer ring")
    }

    fn unregister_pbuf(&self, bgid: u16) -> Result<()> {
        let reg = io_uring_buf_reg { ring_addr: 0, ring_entries: 0, bgid, flags: 0, resv: [0; 3] };
        // SAFETY: `reg` is valid for the call and names no memory.
        unsafe { self.register_pbuf(opcode::UNREGISTER_PBUF_RING, &reg) }
    }

    /// `REGISTER_PBUF_RING` or `UNREGISTER_PBUF_RING` with `reg`, the errno
    /// explained for its group.
    ///
    /// # Safety
    /// A ring address in `reg` names entries memory the ring keeps alive
    /// until the group is unregistered or the ring is closed.
    unsafe fn register_pbuf(&self, opcode: u32, reg: &io_uring_buf_reg) -> Result<()> {
        let bgid = reg.bgid;
        // SAFETY: `reg` is valid for the call; forwarded contract for the
        // memory it names.
        unsafe { self.register(opcode, (reg as *const io_uring_buf_reg).cast(), 1, |e| pbuf_context(bgid, e)) }
            .map(|_| ())
    }

    /// Unregister a buffer ring (`IORING_UNREGISTER_PBUF_RING`, opcode 23,
    /// Linux 5.19).
    /// Its memory is released once the handle is gone too.
    pub fn unregister_buf_ring(&mut self, buf_ring: BufRing) -> Result<()> {
        let bgid = buf_ring.config.bgid;
        self.unregister_pbuf(bgid)?;
        self.registrations.release_buf_ring(bgid);
        drop(buf_ring);
        Ok(())
    }

    /// The kernel's head of buffer group `bgid`'s ring: how many entries it
    /// has taken, modulo 2^16 (`IORING_REGISTER_PBUF_STATUS`, opcode 26,
    /// Linux 6.8).
    pub fn buf_ring_head(&self, bgid: u16) -> Result<u16> {
        let mut status = io_uring_buf_status { buf_group: bgid as u32, head: 0, resv: [0; 8] };
        let arg = (&mut status as *mut io_uring_buf_status).cast();
        // SAFETY: `status` is valid for the call; the kernel writes `head`.
        unsafe { self.register(opcode::REGISTER_PBUF_STATUS, arg, 1, |errno| pbuf_context(bgid, errno)) }?;
        Ok(status.head as u16)
    }
}
