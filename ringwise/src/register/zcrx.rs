//! Zero-copy receive (`IORING_REGISTER_ZCRX_IFQ`, Linux 6.15): a network
//! card's hardware receive queue writes packet payloads straight into an
//! area of the application's memory; `RECV_ZC` completions say where
//! (`struct io_uring_zcrx_cqe` in the second half of a 32-byte CQE), and the
//! application hands the pieces back through a refill ring.
//!
//! It needs a NIC with header/data split and flow steering, CAP_NET_ADMIN,
//! and a ring with `DEFER_TASKRUN` and 32-byte CQEs. This module provides the
//! UAPI types and the registration, with the area and refill ring owned by
//! the ring; driving the refill ring is left to the caller through the raw
//! offsets (`ZcrxIfq::offsets`).

use super::opcode;
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::flags::SetupFlags;
use crate::memory::{round_up, Mapping};
use crate::Ring;
use rustix::io::Errno;
use std::sync::Arc;

pub use linux_raw_sys::io_uring::{
    io_uring_region_desc as RegionDesc, io_uring_zcrx_area_reg as ZcrxAreaReg, io_uring_zcrx_cqe as ZcrxCqe,
    io_uring_zcrx_ifq_reg as ZcrxIfqReg, io_uring_zcrx_offsets as ZcrxOffsets, io_uring_zcrx_rqe as ZcrxRqe,
    IORING_ZCRX_AREA_SHIFT,
};

/// What to register ([`Ring::register_zcrx_ifq`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZcrxConfig {
    /// Network interface index (`if_nametoindex`).
    pub if_idx: u32,
    /// Hardware receive queue of that interface.
    pub rxq: u32,
    /// Refill ring entries (rounded up to a power of two by the kernel).
    pub rq_entries: u32,
    /// Bytes of the receive area (rounded up to a page).
    pub area_len: usize,
}

/// A registered zero-copy receive queue ([`Ring::register_zcrx_ifq`]).
///
/// The handle shares the receive area and the refill ring with the ring:
/// the pointers it gives stay valid while the handle lives, and the kernel
/// and the NIC use the memory until the ring is torn down.
#[derive(Debug)]
pub struct ZcrxIfq {
    /// Id to name in `RECV_ZC` SQEs (`zcrx_ifq_idx`).
    pub id: u32,
    /// Refill ring entries the kernel settled on.
    pub rq_entries: u32,
    /// Offsets of head, tail and entries inside the refill ring region.
    pub offsets: ZcrxOffsets,
    /// Token to put in refill entries' offsets (`rq_area_token`).
    pub area_token: u64,
    memory: Arc<ZcrxMemory>,
}

impl ZcrxIfq {
    /// Start of the receive area.
    pub fn area_ptr(&self) -> *mut u8 {
        self.memory.area.as_ptr()
    }
    /// Start of the refill ring region.
    pub fn refill_ring_ptr(&self) -> *mut u8 {
        self.memory.refill.as_ptr()
    }
}

/// The memory of a queue, shared by the ring (`Registrations`) and the
/// [`ZcrxIfq`] handle: the kernel keeps both until the ring is torn down.
#[derive(Debug)]
pub(super) struct ZcrxMemory {
    /// The receive area the NIC writes payloads into.
    area: Mapping,
    /// The refill ring region (header, then entries).
    refill: Mapping,
}

/// What an errno of `REGISTER_ZCRX_IFQ` means for interface `if_idx`.
fn zcrx_context(errno: Errno, if_idx: u32) -> Option<String> {
    Some(match errno {
        Errno::PERM => "zero-copy receive needs CAP_NET_ADMIN".into(),
        Errno::NODEV => format!("no network interface with index {if_idx}"),
        Errno::OPNOTSUPP => format!(
            "interface {if_idx} cannot do zero-copy receive (it needs header/data split and a page-pool-capable \
             driver; loopback and virtual NICs cannot)"
        ),
        Errno::INVAL => "the kernel refused the zero-copy receive setup (ring flags, queue, or sizes)".into(),
        _ => return None,
    })
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Register a zero-copy receive queue (opcode 32, Linux 6.15). The
    /// receive area and the refill ring are allocated here and owned by the
    /// ring for the rest of its life (the kernel and the NIC keep using them
    /// until the ring is torn down); the returned handle shares them.
    ///
    /// Not run as a test: it needs a NIC with header/data split and flow
    /// steering, and CAP_NET_ADMIN.
    ///
    /// ```no_run
    /// use ringwise::register::ZcrxConfig;
    /// use ringwise::{Builder, Cqe32, Ring, Sqe64};
    ///
    /// let mut ring: Ring<Sqe64, Cqe32> = Builder::new(64).single_issuer().defer_taskrun().build()?;
    /// let if_idx = 2; // if_nametoindex("eth0")
    /// let ifq = ring.register_zcrx_ifq(ZcrxConfig { if_idx, rxq: 1, rq_entries: 4096, area_len: 64 << 20 })?;
    /// println!("queue {} with {} refill entries", ifq.id, ifq.rq_entries);
    /// # Ok::<(), ringwise::Error>(())
    /// ```
    pub fn register_zcrx_ifq(&mut self, config: ZcrxConfig) -> Result<ZcrxIfq> {
        let setup = self.setup_flags();
        if !setup.contains(SetupFlags::DEFER_TASKRUN) || !setup.intersects(SetupFlags::CQE32 | SetupFlags::CQE_MIXED) {
            return Err(Error::InvalidArgument {
                what: "zero-copy receive on this ring".into(),
                why: "it needs DEFER_TASKRUN and 32-byte CQEs (Ring<_, Cqe32> or CqeMixed)".into(),
            });
        }
        let page = crate::sys::page_size();
        // The kernel clamps the refill ring to 32768 entries; a count past
        // 2^31 has no power of two in a u32 (and would panic here).
        let rq_entries =
            config.rq_entries.max(1).checked_next_power_of_two().ok_or_else(|| Error::InvalidArgument {
                what: format!("a zero-copy receive refill ring of {} entries", config.rq_entries),
                why: "the entry count is rounded up to a power of two, and this one has none below 2^32; the kernel \
                  uses at most 32768"
                    .into(),
            })?;
        let area = Mapping::anonymous(round_up(config.area_len.max(1), page))?;
        // The refill ring: a header (head, tail) of at most a page, then the
        // entries.
        let region = Mapping::anonymous(page + rq_entries as usize * std::mem::size_of::<ZcrxRqe>())?;
        let mut area_reg = ZcrxAreaReg {
            addr: area.as_ptr() as u64,
            len: area.len() as u64,
            rq_area_token: 0,
            flags: 0,
            dmabuf_fd: 0,
            __resv2: [0; 2],
        };
        let mut region_desc = RegionDesc {
            user_addr: region.as_ptr() as u64,
            size: region.len() as u64,
            flags: linux_raw_sys::io_uring::IORING_MEM_REGION_TYPE_USER as u32,
            id: 0,
            mmap_offset: 0,
            __resv: [0; 4],
        };
        // SAFETY: plain old data; zero is valid.
        let mut reg: ZcrxIfqReg = unsafe { std::mem::zeroed() };
        reg.if_idx = config.if_idx;
        reg.if_rxq = config.rxq;
        reg.rq_entries = rq_entries;
        reg.area_ptr = &mut area_reg as *mut ZcrxAreaReg as u64;
        reg.region_ptr = &mut region_desc as *mut RegionDesc as u64;
        let arg = (&mut reg as *mut ZcrxIfqReg).cast();
        // SAFETY: the structures are valid for the call; the area and region
        // they name are owned by the ring from here on (kept below).
        unsafe { self.register(opcode::REGISTER_ZCRX_IFQ, arg, 1, |errno| zcrx_context(errno, config.if_idx)) }?;
        let memory = Arc::new(ZcrxMemory { area, refill: region });
        self.registrations.hold_zcrx(Arc::clone(&memory) as _);
        Ok(ZcrxIfq {
            id: reg.zcrx_id,
            rq_entries: reg.rq_entries,
            offsets: reg.offsets,
            area_token: area_reg.rq_area_token,
            memory,
        })
    }
}
