//! Submission and completion entries, and the marker types that carry entry
//! sizes in a ring's type (`Ring<Sqe128, Cqe32>`), so that the setup flags
//! follow from the types and a mismatch cannot be written.

use crate::abi;
use crate::flags::SetupFlags;

/// A 64-byte submission queue entry, `struct io_uring_sqe`.
///
/// Fields are the kernel's; where the kernel has a union, the field carries
/// the first name and the doc lists the others. Op builders (`crate::op`)
/// fill every field, so a reused slot never leaks a previous op's values.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sqe {
    /// `IORING_OP_*`.
    pub opcode: u8,
    /// `IOSQE_*` bits.
    pub flags: u8,
    /// Request priority; also per-op flags (accept, recv, send, poll).
    pub ioprio: u16,
    /// File descriptor, or fixed-file index with `IOSQE_FIXED_FILE`.
    pub fd: i32,
    /// `off` / `addr2` / `cmd_op`.
    pub off: u64,
    /// `addr` / `splice_off_in` / level+optname of socket commands.
    pub addr: u64,
    /// Buffer length or count.
    pub len: u32,
    /// The per-op flags union (`rw_flags`, `fsync_flags`, `poll32_events`,
    /// `timeout_flags`, `msg_flags`, `open_flags`, `uring_cmd_flags`, ...).
    pub op_flags: u32,
    /// Echoed in the CQE.
    pub user_data: u64,
    /// `buf_index` (fixed buffer) / `buf_group` (provided buffers).
    pub buf_index: u16,
    /// Registered credentials to issue with.
    pub personality: u16,
    /// `splice_fd_in` / `file_index` / `optlen` / `addr_len`.
    pub file_index: u32,
    /// `addr3` (first 8 bytes of the command area of URING_CMD).
    pub addr3: u64,
    /// Reserved / rest of the command area.
    pub pad2: u64,
}

const _: () = assert!(std::mem::size_of::<Sqe>() == abi::SQE_BYTES);

/// A 128-byte SQE slot (`IORING_SETUP_SQE128`): a normal SQE followed by 64
/// more bytes that, with `addr3` and `pad2`, form the 80-byte command area of
/// `IORING_OP_URING_CMD`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BigSqe {
    /// The normal 64-byte SQE.
    pub sqe: Sqe,
    /// The second 64 bytes: the rest of the command area.
    pub extra: [u8; 64],
}

const _: () = assert!(std::mem::size_of::<BigSqe>() == 2 * abi::SQE_BYTES);

/// A 16-byte completion queue entry, `struct io_uring_cqe`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cqe {
    /// The `user_data` of the SQE this completes.
    pub user_data: u64,
    /// Result: what the equivalent syscall returns, or `-errno`.
    pub res: i32,
    /// `IORING_CQE_F_*`.
    pub flags: u32,
}

impl Cqe {
    /// The result as `Ok(value)` or `Err(errno)`.
    ///
    /// A negative `res` below -4095 is not an errno: only a result injected
    /// by a NOP (`Nop::inject_result`) or the data of a `MSG_RING` can be
    /// one, and it maps to `ERANGE` (the value stays in `res`).
    pub fn result(&self) -> Result<u32, rustix::io::Errno> {
        match self.res {
            // `Errno::from_raw_os_error` asserts 1..=4095 (and `-i32::MIN`
            // overflows), so anything else must not reach it.
            -4095..=-1 => Err(rustix::io::Errno::from_raw_os_error(-self.res)),
            i32::MIN..=-4096 => Err(rustix::io::Errno::RANGE),
            _ => Ok(self.res as u32),
        }
    }
    /// More CQEs will come for this SQE (multishot).
    pub fn more(&self) -> bool {
        self.flags & abi::IORING_CQE_F_MORE != 0
    }
    /// The id of the provided buffer used, if any.
    pub fn buffer_id(&self) -> Option<u16> {
        (self.flags & abi::IORING_CQE_F_BUFFER != 0).then_some((self.flags >> abi::IORING_CQE_BUFFER_SHIFT) as u16)
    }
    /// A notification CQE of a zero-copy send (the buffer may be reused).
    pub fn is_notification(&self) -> bool {
        self.flags & abi::IORING_CQE_F_NOTIF != 0
    }
    /// The socket had more data after this receive.
    pub fn sock_nonempty(&self) -> bool {
        self.flags & abi::IORING_CQE_F_SOCK_NONEMPTY != 0
    }
    /// The provided buffer was only partly consumed (incremental buffer rings).
    pub fn buf_more(&self) -> bool {
        self.flags & abi::IORING_CQE_F_BUF_MORE != 0
    }
}

/// A 32-byte CQE (`IORING_SETUP_CQE32`, or a big CQE in a `CQE_MIXED` ring).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BigCqe {
    /// The normal 16-byte CQE.
    pub cqe: Cqe,
    /// `big_cqe[2]`: extra result words (e.g. NVMe passthrough).
    pub extra: [u64; 2],
}

impl std::ops::Deref for BigCqe {
    type Target = Cqe;
    fn deref(&self) -> &Cqe {
        &self.cqe
    }
}

mod sealed {
    pub trait Sealed {}
}

/// The SQE size of a ring, as a type. Implemented by [`Sqe64`], [`Sqe128`]
/// and [`SqeMixed`].
pub trait SqeSize: sealed::Sealed + Send + Sync + 'static {
    /// The setup flag this size implies.
    const FLAGS: SetupFlags;
    /// Bytes of one slot in the SQE array.
    const SLOT_BYTES: usize;
    /// Name for messages.
    const NAME: &'static str;
}

/// The CQE size of a ring, as a type. Implemented by [`Cqe16`], [`Cqe32`] and
/// [`CqeMixed`].
pub trait CqeSize: sealed::Sealed + Send + Sync + 'static {
    /// The setup flag this size implies.
    const FLAGS: SetupFlags;
    /// Bytes of one slot in the CQE array.
    const SLOT_BYTES: usize;
    /// What the completion queue yields.
    type Entry: Copy + std::fmt::Debug;
    /// Name for messages.
    const NAME: &'static str;
    /// Read the entry at `slot` (an index already masked) from the CQE array.
    /// Returns the entry and how many slots it took (a 32-byte CQE of a
    /// mixed ring takes two, its second half at `(slot + 1) & mask`, which
    /// wraps to slot 0 after a resize; the caller cuts the count at the
    /// tail).
    ///
    /// # Safety
    /// `cqes` must point to the ring's CQE array of `mask + 1` slots and
    /// `slot` must hold a CQE published by the kernel (before the tail).
    unsafe fn read(cqes: *const u8, slot: u32, mask: u32) -> (Self::Entry, u32);
    /// Every entry takes exactly one slot (and none is a filler): the
    /// queue knows where the next entry starts before reading this one.
    /// False for `CQE_MIXED`.
    const ONE_SLOT: bool = true;
    /// A filler entry the queue skips (only `CQE_MIXED` rings have them).
    #[inline(always)]
    fn is_filler(_entry: &Self::Entry) -> bool {
        false
    }
    /// The 16-byte part every entry has.
    fn base(entry: &Self::Entry) -> &Cqe;
}

/// 64-byte SQEs (the default).
#[derive(Debug, Clone, Copy)]
pub enum Sqe64 {}
/// 128-byte SQEs (`IORING_SETUP_SQE128`), for URING_CMD passthrough.
#[derive(Debug, Clone, Copy)]
pub enum Sqe128 {}
/// 64-byte slots where, in the kernel, a 128-byte SQE takes two
/// (`IORING_SETUP_SQE_MIXED`, Linux 6.19; Linux 6.18 refuses the flag).
/// ringwise queues only 64-byte ops on such a ring, one slot each: pushing
/// 128-byte entries into it (two slots, never starting on the last one) is
/// not implemented; use an [`Sqe128`] ring and `push_big` for those.
#[derive(Debug, Clone, Copy)]
pub enum SqeMixed {}
/// 16-byte CQEs (the default).
#[derive(Debug, Clone, Copy)]
pub enum Cqe16 {}
/// 32-byte CQEs (`IORING_SETUP_CQE32`).
#[derive(Debug, Clone, Copy)]
pub enum Cqe32 {}
/// 16-byte slots where a 32-byte CQE (flag `IORING_CQE_F_32`) takes two
/// (`IORING_SETUP_CQE_MIXED`, Linux 6.18).
#[derive(Debug, Clone, Copy)]
pub enum CqeMixed {}

impl sealed::Sealed for Sqe64 {}
impl sealed::Sealed for Sqe128 {}
impl sealed::Sealed for SqeMixed {}
impl sealed::Sealed for Cqe16 {}
impl sealed::Sealed for Cqe32 {}
impl sealed::Sealed for CqeMixed {}

impl SqeSize for Sqe64 {
    const FLAGS: SetupFlags = SetupFlags::empty();
    const SLOT_BYTES: usize = 64;
    const NAME: &'static str = "64-byte SQEs";
}
impl SqeSize for Sqe128 {
    const FLAGS: SetupFlags = SetupFlags::SQE128;
    const SLOT_BYTES: usize = 128;
    const NAME: &'static str = "128-byte SQEs (SQE128)";
}
impl SqeSize for SqeMixed {
    const FLAGS: SetupFlags = SetupFlags::SQE_MIXED;
    const SLOT_BYTES: usize = 64;
    const NAME: &'static str = "mixed 64/128-byte SQEs (SQE_MIXED)";
}

impl CqeSize for Cqe16 {
    const FLAGS: SetupFlags = SetupFlags::empty();
    const SLOT_BYTES: usize = 16;
    type Entry = Cqe;
    const NAME: &'static str = "16-byte CQEs";
    #[inline(always)]
    unsafe fn read(cqes: *const u8, slot: u32, _mask: u32) -> (Cqe, u32) {
        // SAFETY: the caller guarantees `slot` is a published CQE in the array.
        (unsafe { cqes.cast::<Cqe>().add(slot as usize).read() }, 1)
    }
    #[inline(always)]
    fn base(entry: &Cqe) -> &Cqe {
        entry
    }
}
impl CqeSize for Cqe32 {
    const FLAGS: SetupFlags = SetupFlags::CQE32;
    const SLOT_BYTES: usize = 32;
    type Entry = BigCqe;
    const NAME: &'static str = "32-byte CQEs (CQE32)";
    #[inline(always)]
    unsafe fn read(cqes: *const u8, slot: u32, _mask: u32) -> (BigCqe, u32) {
        // SAFETY: the caller guarantees `slot` is a published CQE in the array.
        (unsafe { cqes.cast::<BigCqe>().add(slot as usize).read() }, 1)
    }
    #[inline(always)]
    fn base(entry: &BigCqe) -> &Cqe {
        &entry.cqe
    }
}
impl CqeSize for CqeMixed {
    const FLAGS: SetupFlags = SetupFlags::CQE_MIXED;
    const SLOT_BYTES: usize = 16;
    type Entry = BigCqe;
    const NAME: &'static str = "mixed 16/32-byte CQEs (CQE_MIXED)";
    const ONE_SLOT: bool = false;
    /// A 32-byte CQE's second half is the next slot, `(slot + 1) & mask`:
    /// slot 0 when the first half is the ring's last slot.
    ///
    /// The kernel never posts a 32-byte CQE there (it fills the last slot
    /// with a SKIP CQE and starts at slot 0), but a resize moves it there:
    /// `IORING_REGISTER_RESIZE_RINGS` copies each pending slot from index
    /// `i & old_mask` to `i & new_mask` (Linux 6.18), so a 32-byte CQE at
    /// index 7 of a 16-slot ring is split between slots 7 and 0 of an 8-slot
    /// one. Reading the second half at the wrapped index handles that, and
    /// costs nothing in the common case; refusing such resizes instead would
    /// refuse a shrink for where the pending CQEs happen to sit.
    #[inline(always)]
    unsafe fn read(cqes: *const u8, slot: u32, mask: u32) -> (BigCqe, u32) {
        // SAFETY: the caller guarantees `slot` is a published CQE of the
        // `mask + 1`-slot array; the second half of a 32-byte CQE is at
        // `(slot + 1) & mask`, also inside the array (published too by a
        // sound kernel: the caller cuts the slot count at the tail).
        unsafe {
            let base = cqes.cast::<Cqe>();
            let cqe = base.add(slot as usize).read();
            if cqe.flags & abi::IORING_CQE_F_32 != 0 {
                let second = (slot.wrapping_add(1) & mask) as usize;
                let extra = base.add(second).cast::<[u64; 2]>().read();
                (BigCqe { cqe, extra }, 2)
            } else {
                (BigCqe { cqe, extra: [0; 2] }, 1)
            }
        }
    }
    #[inline(always)]
    fn is_filler(entry: &BigCqe) -> bool {
        entry.cqe.flags & abi::IORING_CQE_F_SKIP != 0
    }
    #[inline(always)]
    fn base(entry: &BigCqe) -> &Cqe {
        &entry.cqe
    }
}

impl BigCqe {
    /// In a `CQE_MIXED` ring: this CQE took two slots.
    pub fn is_big(&self) -> bool {
        self.cqe.flags & abi::IORING_CQE_F_32 != 0
    }
    /// In a `CQE_MIXED` ring: a filler the kernel posted before wrapping.
    /// The completion queue skips these; callers never see one.
    pub fn is_skip(&self) -> bool {
        self.cqe.flags & abi::IORING_CQE_F_SKIP != 0
    }
}

/// The setup flags implied by a pair of entry types.
pub fn size_flags<S: SqeSize, C: CqeSize>() -> SetupFlags {
    S::FLAGS | C::FLAGS
}

// The op traits live with the entry types they fill: the core queues push
// anything that implements them, and `op/` implements them, never the
// other way round.

/// Write an op into an SQE slot.
pub trait PrepareSqe {
    /// Fill every field of `sqe`.
    fn prepare(self, sqe: &mut Sqe);
}

/// Marker for ops that give the kernel no memory to use after the push (no
/// buffer, iovec, path or other pointer) and close no descriptor of the
/// process, so pushing them is safe. (Their files are `op::Target`s, whose
/// plain-descriptor constructors are `unsafe`: I/O safety.)
pub trait SafeOp: PrepareSqe {}

/// Write an op into a 128-byte SQE slot (`Ring<Sqe128, _>`): the ops that use
/// the 80-byte command area or the 128-byte opcodes.
pub trait PrepareBigSqe {
    /// Fill every byte of `sqe`.
    fn prepare_big(self, sqe: &mut BigSqe);
}

/// Marker for 128-byte ops that carry no pointer, so pushing them is safe.
pub trait SafeBigOp: PrepareBigSqe {}

/// Every 64-byte op also fits a 128-byte slot; the extra 64 bytes are zeroed
/// so nothing stale follows it.
impl<T: PrepareSqe> PrepareBigSqe for T {
    #[inline(always)]
    fn prepare_big(self, sqe: &mut BigSqe) {
        self.prepare(&mut sqe.sqe);
        sqe.extra = [0; 64];
    }
}

impl<T: SafeOp> SafeBigOp for T {}
