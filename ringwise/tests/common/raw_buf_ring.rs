//! A test-only provided-buffer ring with raw access to its buffers, for
//! the bundle tests (see [`RawBufRing`]).

use linux_raw_sys::io_uring::io_uring_register_op as reg;
use ringwise::{CqeSize, Mapping, Ring, SqeSize};
use std::sync::atomic::{AtomicU16, Ordering};

/// A provided-buffer ring (`IORING_REGISTER_PBUF_RING`) of `count` buffers
/// of `size` bytes, all handed to the kernel at creation, with raw access to
/// the buffers.
///
/// Tests use the library's `BufRing` wherever they can. This one is for the
/// bundle tests, which need what the library's handle (rightly) does not
/// give: a bundle receive reports several buffers in one CQE, which
/// `BufRing::completion` does not split (it hands out one buffer per CQE),
/// and a bundle send reads buffers the application filled while the kernel
/// holds them, which `BufRing::buffer_mut` refuses.
pub struct RawBufRing {
    ring_mem: Mapping,
    pub data: Vec<u8>,
    pub size: usize,
    pub count: u16,
    pub group: u16,
    tail: u16,
}

#[repr(C)]
struct BufReg {
    ring_addr: u64,
    ring_entries: u32,
    bgid: u16,
    flags: u16,
    resv: [u64; 3],
}

impl RawBufRing {
    pub fn new<S: SqeSize, C: CqeSize>(ring: &Ring<S, C>, group: u16, count: u16, size: usize) -> RawBufRing {
        assert!(count.is_power_of_two());
        let ring_mem = Mapping::anonymous((count as usize * 16).max(4096)).expect("mmap buffer ring");
        let reg = BufReg {
            ring_addr: ring_mem.as_ptr() as u64,
            ring_entries: count as u32,
            bgid: group,
            flags: 0,
            resv: [0; 3],
        };
        // SAFETY: `reg` describes a page-aligned mapping of `count` entries
        // that lives as long as the RawBufRing, which the tests keep until the
        // ring is dropped or the group is unregistered.
        unsafe { ring.register_raw(reg::IORING_REGISTER_PBUF_RING as u32, (&reg as *const BufReg).cast(), 1) }
            .expect("register buffer ring");
        let mut b = RawBufRing { ring_mem, data: vec![0u8; size * count as usize], size, count, group, tail: 0 };
        for id in 0..count {
            b.add(id);
        }
        b.publish();
        b
    }

    /// Put buffer `id` back at the tail (not yet visible to the kernel).
    pub fn add(&mut self, id: u16) {
        let slot = (self.tail & (self.count - 1)) as usize;
        let addr = self.data.as_mut_ptr() as u64 + id as u64 * self.size as u64;
        // SAFETY: slot < count entries of 16 bytes each in our mapping.
        unsafe {
            let e = self.ring_mem.as_ptr().add(slot * 16);
            e.cast::<u64>().write(addr);
            e.add(8).cast::<u32>().write(self.size as u32);
            e.add(12).cast::<u16>().write(id);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Make added buffers visible (release store of the tail, which lives
    /// in the `resv` field of entry 0, at byte 14).
    pub fn publish(&self) {
        // SAFETY: byte 14 of the mapping is the u16 tail, 2-aligned.
        let tail = unsafe { &*self.ring_mem.as_ptr().add(14).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    /// The bytes of buffer `id`.
    pub fn buf(&self, id: u16) -> &[u8] {
        &self.data[id as usize * self.size..(id as usize + 1) * self.size]
    }
}
