//! Provided-buffer rings (`IORING_REGISTER_PBUF_RING`, Linux 5.19): a group
//! of buffers that ops with `IOSQE_BUFFER_SELECT` (recv, read, ...) pick
//! from when data arrives, instead of each op carrying its own buffer. The
//! CQE names the buffer picked ([`Cqe::buffer_id`]).
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
//! The older way to provide buffers is the `PROVIDE_BUFFERS` op (see
//! `crate::op`): one SQE per batch of buffers, the kernel keeping a list
//! instead of a shared ring. It works on kernels before 5.19 and costs an
//! SQE per refill; buffer rings are the better choice where available. A
//! group id is either a list (`PROVIDE_BUFFERS`) or a ring, never both (the
//! kernel answers EEXIST).

use super::opcode;
use crate::entry::{Cqe, CqeSize, SqeSize};
use crate::error::{Error, Region, Result};
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
    /// Ring entries and buffers (a power of two, at most [`MAX_ENTRIES`]).
    pub entries: u32,
    /// Bytes per buffer.
    pub buf_len: u32,
    /// Let the kernel allocate the entries (`IOU_PBUF_RING_MMAP`, Linux 6.4)
    /// and map them, instead of library or caller memory.
    pub kernel_mapped: bool,
    /// Incremental consumption (`IOU_PBUF_RING_INC`, Linux 6.12).
    pub incremental: bool,
}

impl BufRingConfig {
    /// `entries` buffers of `buf_len` bytes for group `bgid`.
    pub fn new(bgid: u16, entries: u32, buf_len: u32) -> BufRingConfig {
        BufRingConfig { bgid, entries, buf_len, kernel_mapped: false, incremental: false }
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
    /// Whether each buffer is in the kernel's ring (added, not yet reported).
    in_kernel: Vec<bool>,
    /// Incremental mode: bytes of each buffer already reported.
    consumed: Vec<u32>,
}

impl fmt::Debug for BufRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufRing")
            .field("config", &self.config)
            .field("local_tail", &self.local_tail)
            .field("in_kernel", &self.in_kernel.iter().filter(|b| **b).count())
            .finish()
    }
}

impl BufRing {
    /// Group id.
    pub fn bgid(&self) -> u16 {
        self.config.bgid
    }
    /// Number of entries and buffers.
    pub fn entries(&self) -> u32 {
        self.config.entries
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

    fn buffer_ptr(&self, bid: u16) -> *mut u8 {
        // SAFETY: callers check bid < entries; the mapping holds
        // entries * buf_len bytes.
        unsafe { self.shared.buffers.as_ptr().add(bid as usize * self.config.buf_len as usize) }
    }

    fn check_bid(&self, bid: u16) -> Result<()> {
        if bid as u32 >= self.config.entries {
            return Err(Error::LengthMismatch {
                what: "buffer id out of range for this buffer ring",
                expected: self.config.entries as usize,
                given: bid as usize + 1,
            });
        }
        Ok(())
    }

    /// Queue buffer `bid` for the kernel (whole buffer); visible to the
    /// kernel after [`advance`](Self::advance). Refused when the kernel holds
    /// it already.
    pub fn add(&mut self, bid: u16) -> Result<()> {
        self.check_bid(bid)?;
        if self.in_kernel[bid as usize] {
            return Err(Error::BufferInKernel { bgid: self.config.bgid, bid });
        }
        let slot = (self.local_tail as u32 & self.mask) as usize;
        let addr = self.buffer_ptr(bid) as u64;
        // SAFETY: slot < entries, so the entry lies in the entries memory; the
        // kernel only reads entries between its head and the published tail,
        // and this one is past the published tail. Fields are written one by
        // one so that entry 0's reserved field, which holds the tail, is left
        // alone.
        unsafe {
            let entry = self.shared.entries.add(slot * ENTRY_BYTES);
            entry.cast::<u64>().write(addr);
            entry.add(8).cast::<u32>().write(self.config.buf_len);
            entry.add(12).cast::<u16>().write(bid);
        }
        self.local_tail = self.local_tail.wrapping_add(1);
        self.in_kernel[bid as usize] = true;
        self.consumed[bid as usize] = 0;
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

    /// The tail as published to the kernel.
    pub fn published_tail(&self) -> u16 {
        // SAFETY: as in `advance`.
        unsafe { (*self.shared.entries.add(TAIL_OFFSET).cast::<AtomicU16>()).load(Ordering::Relaxed) }
    }

    /// Take the data a completion reports: the buffer id and the bytes the
    /// kernel put there for this CQE. `None` when the CQE used no buffer of
    /// a ring (no `IORING_CQE_F_BUFFER`) or names a buffer this ring does not
    /// have out. After this, the buffer is the application's until
    /// [`recycle`](Self::recycle)d (in incremental mode, only once a CQE
    /// without `BUF_MORE` reported its last bytes).
    ///
    /// # Safety
    /// If `cqe` has `IORING_CQE_F_BUFFER` set, it must be a completion the
    /// kernel posted on the ring this group is registered with, for an op
    /// that picked its buffer from this group, and each such CQE must be
    /// passed at most once. The CQE is the only
    /// evidence that the kernel has let go of the buffer, and a `Cqe` is
    /// plain data: one built by hand, copied, taken from another ring, or
    /// posted by another ring's `MSG_RING` with `IORING_MSG_RING_FLAGS_PASS`
    /// (`MsgRingData::cqe_flags_unchecked` can put `IORING_CQE_F_BUFFER` and
    /// any buffer id in the flags)
    /// would mark a buffer the kernel still holds as the application's, and
    /// [`buffer_mut`](Self::buffer_mut) or a recycle would then alias memory
    /// the kernel writes.
    pub unsafe fn completion(&mut self, cqe: &Cqe) -> Option<(u16, &[u8])> {
        let bid = cqe.buffer_id()?;
        if bid as u32 >= self.config.entries || !self.in_kernel[bid as usize] {
            return None;
        }
        let len = cqe.res.max(0) as u32;
        let start = if self.config.incremental { self.consumed[bid as usize] } else { 0 };
        if start.checked_add(len)? > self.config.buf_len {
            return None;
        }
        if self.config.incremental && cqe.buf_more() {
            self.consumed[bid as usize] = start + len;
        } else {
            self.in_kernel[bid as usize] = false;
            self.consumed[bid as usize] = 0;
        }
        // SAFETY: [start, start + len) lies inside buffer `bid` (checked
        // against buf_len above). By the caller's contract the CQE is the
        // kernel's report for this buffer, posted after it filled these bytes,
        // and the kernel no longer writes them: it moved past them
        // (incremental) or handed the buffer over.
        let data = unsafe { std::slice::from_raw_parts(self.buffer_ptr(bid).add(start as usize), len as usize) };
        Some((bid, data))
    }

    /// The whole of buffer `bid`, when the application holds it.
    pub fn buffer(&self, bid: u16) -> Option<&[u8]> {
        if bid as u32 >= self.config.entries || self.in_kernel[bid as usize] {
            return None;
        }
        // SAFETY: the buffer lies in the mapping and the kernel does not hold it.
        Some(unsafe { std::slice::from_raw_parts(self.buffer_ptr(bid), self.config.buf_len as usize) })
    }

    /// The whole of buffer `bid`, writable, when the application holds it
    /// (e.g. to fill it for a send that picks from the group).
    pub fn buffer_mut(&mut self, bid: u16) -> Option<&mut [u8]> {
        if bid as u32 >= self.config.entries || self.in_kernel[bid as usize] {
            return None;
        }
        // SAFETY: as in `buffer`, and `&mut self` makes the access exclusive.
        Some(unsafe { std::slice::from_raw_parts_mut(self.buffer_ptr(bid), self.config.buf_len as usize) })
    }

    /// Whether the kernel holds buffer `bid` (added and not yet reported).
    pub fn in_kernel(&self, bid: u16) -> bool {
        self.in_kernel.get(bid as usize).copied().unwrap_or(false)
    }

    /// How many buffers the application holds (reported by a CQE, not yet
    /// added back). When it holds all of them, a receive that got ENOBUFS
    /// can only succeed after a recycle; otherwise it can be re-armed at once.
    pub fn held(&self) -> usize {
        self.in_kernel.iter().filter(|&&k| !k).count()
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
        Errno::NOMEM => "out of memory, or RLIMIT_MEMLOCK reached when pinning the entries".into(),
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
        let buffers = Mapping::anonymous(config.entries as usize * config.buf_len as usize)?;
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
        unsafe { self.register_pbuf(opcode::REGISTER_PBUF_RING, &reg) }?;
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
        let n = config.entries as usize;
        let mut ring = BufRing {
            shared,
            config,
            mask: config.entries - 1,
            local_tail: 0,
            in_kernel: vec![false; n],
            consumed: vec![0; n],
        };
        for bid in 0..config.entries {
            ring.add(bid as u16)?;
        }
        ring.advance();
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
