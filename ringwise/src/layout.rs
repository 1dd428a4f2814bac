//! Ring memory arithmetic: from entries, CQ size and setup flags to the exact
//! bytes of each region the kernel uses. Pure: no syscalls.
//!
//! This is the single source of truth for sizes. The builder, memory
//! allocation, arenas, verification and the CLI all ask this module; nothing
//! else multiplies entry counts.
//!
//! The rules, as Linux 6.18 applies them (`io_uring_fill_params` and
//! `rings_size`):
//!
//! * SQ entries: 0 is refused; more than [`MAX_SQ_ENTRIES`] is refused, or
//!   clamped with `CLAMP`; then rounded up to a power of two.
//! * CQ entries: twice the SQ entries, or with `CQSIZE` the requested count
//!   (0 refused; more than [`MAX_CQ_ENTRIES`] refused or clamped; rounded up
//!   to a power of two; fewer than SQ entries refused).
//! * SQE region: `sq * (64 | 128 with SQE128)`, rounded up to a page.
//! * Rings region: a cache-line-aligned header (`struct io_rings`), then the CQE
//!   array (16-byte CQEs; with `CQE32` the whole header-plus-CQEs size doubles),
//!   rounded up to a cache line, then unless `NO_SQARRAY` one `u32` per SQ
//!   entry; the total rounded up to a page.
//! * Flags: unknown bits are refused, and so are flags without their
//!   companions or with flags they exclude
//!   ([`SetupFlags::check_companions`]).

use crate::abi::{IO_RINGS_FIELDS_BYTES, SMP_CACHE_BYTES, SQE_BYTES};
use crate::error::{Error, Result};
use crate::flags::SetupFlags;

/// The kernel's maximum SQ entries (`IORING_MAX_ENTRIES`).
pub const MAX_SQ_ENTRIES: u32 = 32768;
/// The kernel's maximum CQ entries (`IORING_MAX_CQ_ENTRIES`).
pub const MAX_CQ_ENTRIES: u32 = 2 * MAX_SQ_ENTRIES;

/// Bytes of `struct io_rings` up to its CQE array: the header fields,
/// rounded up to the cache line the kernel aligns the CQE array to.
pub const RINGS_HEADER_BYTES: usize = align_up(IO_RINGS_FIELDS_BYTES, SMP_CACHE_BYTES);

const fn align_up(value: usize, align: usize) -> usize {
    (value + align - 1) & !(align - 1)
}

/// The companion rules live here, with the kernel's other rules for what
/// `io_uring_setup` accepts, rather than in `flags` (which holds only the
/// flag types, so that `error` can name flags without a cycle).
impl SetupFlags {
    /// Check the kernel's rules for flags that need or exclude each other
    /// (as Linux 6.18 enforces them in `io_uring_setup`). The error names the
    /// flag and what it needs or conflicts with.
    pub fn check_companions(self) -> Result<()> {
        let needs: &[(SetupFlags, SetupFlags)] = &[
            (SetupFlags::SQ_AFF, SetupFlags::SQPOLL),
            (SetupFlags::DEFER_TASKRUN, SetupFlags::SINGLE_ISSUER),
            (SetupFlags::REGISTERED_FD_ONLY, SetupFlags::NO_MMAP),
            (SetupFlags::HYBRID_IOPOLL, SetupFlags::IOPOLL),
        ];
        for &(flag, needed) in needs {
            if self.contains(flag) && !self.contains(needed) {
                return Err(Error::MissingCompanion { flag, needs: needed });
            }
        }
        if self.contains(SetupFlags::TASKRUN_FLAG)
            && !self.intersects(SetupFlags::COOP_TASKRUN | SetupFlags::DEFER_TASKRUN)
        {
            return Err(Error::MissingCompanion {
                flag: SetupFlags::TASKRUN_FLAG,
                needs: SetupFlags::COOP_TASKRUN | SetupFlags::DEFER_TASKRUN,
            });
        }
        let excludes: &[(SetupFlags, SetupFlags)] = &[
            (SetupFlags::SQPOLL, SetupFlags::COOP_TASKRUN),
            (SetupFlags::SQPOLL, SetupFlags::DEFER_TASKRUN),
            (SetupFlags::CQE32, SetupFlags::CQE_MIXED),
            (SetupFlags::SQE128, SetupFlags::SQE_MIXED),
        ];
        for &(a, b) in excludes {
            if self.contains(a | b) {
                return Err(Error::FlagConflict { flag: a, conflicts_with: b });
            }
        }
        Ok(())
    }
}

/// What a ring is asked to be: the input of the layout computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingSpec {
    /// Requested SQ entries (before clamping and rounding).
    pub entries: u32,
    /// Requested CQ entries; `Some` implies `CQSIZE`.
    pub cq_entries: Option<u32>,
    /// Setup flags, including the entry-size flags.
    pub flags: SetupFlags,
}

impl RingSpec {
    /// A spec with default CQ size and no flags.
    pub fn new(entries: u32) -> RingSpec {
        RingSpec { entries, cq_entries: None, flags: SetupFlags::empty() }
    }

    /// Set the CQ size (implies `CQSIZE`).
    pub fn cq_entries(mut self, cq: u32) -> RingSpec {
        self.cq_entries = Some(cq);
        self
    }

    /// Add setup flags.
    pub fn flags(mut self, flags: SetupFlags) -> RingSpec {
        self.flags |= flags;
        self
    }

    /// The flags as the kernel receives them (`CQSIZE` added when a CQ size
    /// is given).
    pub fn effective_flags(&self) -> SetupFlags {
        if self.cq_entries.is_some() {
            self.flags | SetupFlags::CQSIZE
        } else {
            self.flags
        }
    }

    /// The layout for this machine's page size.
    pub fn layout(&self) -> Result<Layout> {
        Layout::compute(self, crate::sys::page_size())
    }
}

/// The exact memory a ring occupies, region by region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    flags: SetupFlags,
    sq_entries: u32,
    cq_entries: u32,
    sqe_bytes: usize,
    cqe_slot_bytes: usize,
    page_size: usize,
    cqes_offset: usize,
    sq_array_offset: Option<usize>,
    rings_used: usize,
    sqes_used: usize,
}

impl Layout {
    /// Compute the layout, or the error the kernel would give, for
    /// `page_size`-byte pages.
    pub fn compute(spec: &RingSpec, page_size: usize) -> Result<Layout> {
        if !page_size.is_power_of_two() || page_size < 4096 {
            return Err(Error::BadPageSize { page_size, why: "page sizes are powers of two of at least 4096 bytes" });
        }
        let flags = spec.effective_flags();
        if flags.bits() & !SetupFlags::all().bits() != 0 {
            return Err(Error::UnknownFlags { bits: flags.bits() & !SetupFlags::all().bits() });
        }
        flags.check_companions()?;
        let (sq_entries, cq_entries) = normalise_entries(spec.entries, spec.cq_entries, flags)?;
        if flags.contains(SetupFlags::CQE_MIXED) && cq_entries < 2 {
            return Err(Error::MixedCqTooSmall { cq: cq_entries });
        }

        let sqe_bytes = if flags.contains(SetupFlags::SQE128) { 2 * SQE_BYTES } else { SQE_BYTES };
        let cqe32 = flags.contains(SetupFlags::CQE32);
        let cqe_slot_bytes = if cqe32 { 32 } else { 16 };

        // struct_size(rings, cqes, cq) counts 16-byte CQEs; CQE32 doubles the
        // whole (header included), then the kernel aligns to a cache line.
        let header_and_cqes = (RINGS_HEADER_BYTES + 16 * cq_entries as usize) << (cqe32 as u32);
        let header_and_cqes = align_up(header_and_cqes, SMP_CACHE_BYTES);
        let (sq_array_offset, rings_used) = if flags.contains(SetupFlags::NO_SQARRAY) {
            (None, header_and_cqes)
        } else {
            (Some(header_and_cqes), header_and_cqes + 4 * sq_entries as usize)
        };
        let sqes_used = sqe_bytes * sq_entries as usize;
        // Both regions rounded to the page, and their sum, must be
        // representable: a page size near the top of `usize` (only possible
        // through this function's argument) would otherwise overflow in
        // `total_bytes`.
        let rounded = |used: usize| used.checked_next_multiple_of(page_size);
        if rounded(rings_used).zip(rounded(sqes_used)).and_then(|(r, q)| r.checked_add(q)).is_none() {
            return Err(Error::BadPageSize {
                page_size,
                why: "the ring's regions rounded up to it do not fit the address space",
            });
        }
        Ok(Layout {
            flags,
            sq_entries,
            cq_entries,
            sqe_bytes,
            cqe_slot_bytes,
            page_size,
            cqes_offset: RINGS_HEADER_BYTES,
            sq_array_offset,
            rings_used,
            sqes_used,
        })
    }

    /// Flags as the kernel receives them.
    pub fn flags(&self) -> SetupFlags {
        self.flags
    }
    /// SQ entries after clamping and rounding.
    pub fn sq_entries(&self) -> u32 {
        self.sq_entries
    }
    /// CQ entries (slots) after clamping and rounding.
    pub fn cq_entries(&self) -> u32 {
        self.cq_entries
    }
    /// Bytes of one SQE slot (64, or 128 with `SQE128`).
    pub fn sqe_bytes(&self) -> usize {
        self.sqe_bytes
    }
    /// Bytes of one CQE slot (16, or 32 with `CQE32`).
    pub fn cqe_slot_bytes(&self) -> usize {
        self.cqe_slot_bytes
    }
    /// The page size the sizes are rounded to.
    pub fn page_size(&self) -> usize {
        self.page_size
    }
    /// Offset of the CQE array in the rings region (`cq_off.cqes`).
    pub fn cqes_offset(&self) -> usize {
        self.cqes_offset
    }
    /// Offset of the SQ index array in the rings region (`sq_off.array`), or
    /// `None` with `NO_SQARRAY`.
    pub fn sq_array_offset(&self) -> Option<usize> {
        self.sq_array_offset
    }
    /// Bytes of the rings region the kernel touches (not page-rounded).
    pub fn rings_used_bytes(&self) -> usize {
        self.rings_used
    }
    /// Bytes of the SQE region the kernel touches (not page-rounded).
    pub fn sqes_used_bytes(&self) -> usize {
        self.sqes_used
    }
    /// Bytes the kernel pins for the rings region (`cq_off.user_addr`).
    pub fn rings_bytes(&self) -> usize {
        align_up(self.rings_used, self.page_size)
    }
    /// Bytes the kernel pins for the SQE region (`sq_off.user_addr`).
    pub fn sqes_bytes(&self) -> usize {
        align_up(self.sqes_used, self.page_size)
    }
    /// Both regions: what one buffer holding the whole ring must have.
    pub fn total_bytes(&self) -> usize {
        self.rings_bytes() + self.sqes_bytes()
    }
    /// Offset of the SQE region when both regions share one buffer: the
    /// rings region comes first, the SQE region right after it.
    pub fn sqes_offset_in_buffer(&self) -> usize {
        self.rings_bytes()
    }
    /// Pages of the rings region.
    pub fn rings_pages(&self) -> usize {
        self.rings_bytes() / self.page_size
    }
    /// Pages of the SQE region.
    pub fn sqes_pages(&self) -> usize {
        self.sqes_bytes() / self.page_size
    }
}

/// Clamp, round and check entry counts as the kernel does.
fn normalise_entries(entries: u32, cq: Option<u32>, flags: SetupFlags) -> Result<(u32, u32)> {
    let clamp = flags.contains(SetupFlags::CLAMP);
    if entries == 0 {
        return Err(Error::ZeroEntries);
    }
    let entries = if entries > MAX_SQ_ENTRIES {
        if !clamp {
            return Err(Error::TooManyEntries { requested: entries, max: MAX_SQ_ENTRIES });
        }
        MAX_SQ_ENTRIES
    } else {
        entries
    };
    let sq = entries.next_power_of_two();
    let cq = match (flags.contains(SetupFlags::CQSIZE), cq) {
        (false, _) => 2 * sq,
        (true, None) | (true, Some(0)) => return Err(Error::ZeroCqEntries),
        (true, Some(requested)) => {
            let requested = if requested > MAX_CQ_ENTRIES {
                if !clamp {
                    return Err(Error::TooManyCqEntries { requested, max: MAX_CQ_ENTRIES });
                }
                MAX_CQ_ENTRIES
            } else {
                requested
            };
            let cq = requested.next_power_of_two();
            if cq < sq {
                return Err(Error::CqSmallerThanSq { cq, sq });
            }
            cq
        }
    };
    Ok((sq, cq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn companions_are_named() {
        let err = (SetupFlags::DEFER_TASKRUN).check_companions().unwrap_err();
        assert!(matches!(
            err,
            Error::MissingCompanion { flag: SetupFlags::DEFER_TASKRUN, needs: SetupFlags::SINGLE_ISSUER }
        ));
        assert!(err.to_string().contains("SINGLE_ISSUER"), "{err}");
        let err = (SetupFlags::SQPOLL | SetupFlags::COOP_TASKRUN).check_companions().unwrap_err();
        assert!(matches!(err, Error::FlagConflict { .. }), "{err}");
        assert!(SetupFlags::TASKRUN_FLAG.check_companions().is_err());
        assert!((SetupFlags::TASKRUN_FLAG | SetupFlags::COOP_TASKRUN).check_companions().is_ok());
        assert!((SetupFlags::SQ_AFF | SetupFlags::SQPOLL).check_companions().is_ok());
        assert!(SetupFlags::REGISTERED_FD_ONLY.check_companions().is_err());
        assert!(SetupFlags::HYBRID_IOPOLL.check_companions().is_err());
        assert!((SetupFlags::CQE32 | SetupFlags::CQE_MIXED).check_companions().is_err());
    }

    fn layout(entries: u32, cq: Option<u32>, flags: SetupFlags) -> Result<Layout> {
        Layout::compute(&RingSpec { entries, cq_entries: cq, flags }, 4096)
    }

    #[test]
    fn default_ring_of_eight() {
        let l = layout(8, None, SetupFlags::empty()).unwrap();
        assert_eq!((l.sq_entries(), l.cq_entries()), (8, 16));
        assert_eq!(l.cqes_offset(), 64);
        assert_eq!(l.sq_array_offset(), Some(64 + 16 * 16));
        assert_eq!(l.rings_used_bytes(), 64 + 256 + 32);
        assert_eq!(l.rings_bytes(), 4096);
        assert_eq!(l.sqes_bytes(), 4096);
    }

    #[test]
    fn header_pushes_past_a_page() {
        // 256 CQEs fill exactly one page; the 64-byte header makes it two.
        let l = layout(128, None, SetupFlags::NO_SQARRAY).unwrap();
        assert_eq!(l.rings_used_bytes(), 64 + 256 * 16);
        assert_eq!(l.rings_bytes(), 8192);
    }

    #[test]
    fn sq_array_pushes_past_a_page() {
        // sq=1024 cq=2048: 64 + 32 KiB of CQEs, then 4 KiB of SQ array.
        let l = layout(1024, None, SetupFlags::empty()).unwrap();
        assert_eq!(l.rings_bytes(), 4096 * 10);
        let l = layout(1024, None, SetupFlags::NO_SQARRAY).unwrap();
        assert_eq!(l.rings_bytes(), 4096 * 9);
    }

    #[test]
    fn cqe32_doubles_header_and_cqes() {
        let l = layout(4, None, SetupFlags::CQE32).unwrap();
        assert_eq!(l.cqe_slot_bytes(), 32);
        assert_eq!(l.sq_array_offset(), Some((64 + 8 * 16) * 2));
        let l = layout(64, None, SetupFlags::CQE32 | SetupFlags::NO_SQARRAY).unwrap();
        assert_eq!(l.rings_used_bytes(), (64 + 128 * 16) * 2);
        assert_eq!(l.rings_bytes(), 8192);
    }

    #[test]
    fn sqe128_doubles_sqes() {
        let l = layout(64, None, SetupFlags::SQE128).unwrap();
        assert_eq!(l.sqes_bytes(), 8192);
        assert_eq!(layout(64, None, SetupFlags::empty()).unwrap().sqes_bytes(), 4096);
    }

    #[test]
    fn counts_round_and_clamp() {
        let l = layout(100, None, SetupFlags::empty()).unwrap();
        assert_eq!((l.sq_entries(), l.cq_entries()), (128, 256));
        let l = layout(100_000, None, SetupFlags::CLAMP).unwrap();
        assert_eq!((l.sq_entries(), l.cq_entries()), (32768, 65536));
        let l = layout(4, Some(1_000_000), SetupFlags::CLAMP).unwrap();
        assert_eq!(l.cq_entries(), 65536);
        let l = layout(4, Some(5), SetupFlags::empty()).unwrap();
        assert_eq!(l.cq_entries(), 8);
        assert!(l.flags().contains(SetupFlags::CQSIZE));
    }

    #[test]
    fn bad_page_size_is_an_error_not_a_panic() {
        for page in [0, 1, 4095, 6000] {
            let err = Layout::compute(&RingSpec::new(8), page).unwrap_err();
            assert!(err.to_string().contains(&page.to_string()), "{err}");
        }
        assert_eq!(Layout::compute(&RingSpec::new(8), 16384).unwrap().rings_bytes(), 16384);
    }

    #[test]
    fn kernel_errors() {
        assert!(matches!(layout(0, None, SetupFlags::empty()), Err(Error::ZeroEntries)));
        assert!(matches!(layout(32769, None, SetupFlags::empty()), Err(Error::TooManyEntries { .. })));
        assert!(matches!(layout(8, Some(0), SetupFlags::empty()), Err(Error::ZeroCqEntries)));
        assert!(matches!(layout(8, None, SetupFlags::CQSIZE), Err(Error::ZeroCqEntries)));
        assert!(matches!(layout(8, Some(65537), SetupFlags::empty()), Err(Error::TooManyCqEntries { .. })));
        assert!(matches!(layout(8, Some(4), SetupFlags::empty()), Err(Error::CqSmallerThanSq { cq: 4, sq: 8 })));
        let e = layout(1, Some(1), SetupFlags::CQE_MIXED).unwrap_err();
        assert!(matches!(e, Error::MixedCqTooSmall { cq: 1 }));
        assert_eq!(e.errno_name(), "EOVERFLOW");
        assert!(layout(1, None, SetupFlags::CQE_MIXED).is_ok());
        assert!(layout(8, None, SetupFlags::CQE32 | SetupFlags::CQE_MIXED).is_err());
        assert_eq!(layout(0, None, SetupFlags::empty()).unwrap_err().errno_name(), "EINVAL");
    }
}
