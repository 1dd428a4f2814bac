//! The kernel's io_uring ABI.
//!
//! Structures and constants come from `linux-raw-sys` (generated from the
//! kernel's UAPI headers). Constants that its release lacks are defined here,
//! each with the kernel version that added it. Nothing in this module has
//! behaviour: it is the vocabulary the rest of the crate speaks to the kernel.

pub use linux_raw_sys::io_uring::{
    io_cqring_offsets, io_sqring_offsets, io_uring_getevents_arg, io_uring_params, io_uring_probe_op,
    io_uring_rsrc_update, IORING_CQE_F_BUFFER, IORING_CQE_F_BUF_MORE, IORING_CQE_F_MORE, IORING_CQE_F_NOTIF,
    IORING_CQE_F_SOCK_NONEMPTY, IORING_ENTER_ABS_TIMER, IORING_ENTER_EXT_ARG, IORING_ENTER_EXT_ARG_REG,
    IORING_ENTER_GETEVENTS, IORING_ENTER_NO_IOWAIT, IORING_ENTER_REGISTERED_RING, IORING_ENTER_SQ_WAIT,
    IORING_ENTER_SQ_WAKEUP, IORING_FSYNC_DATASYNC, IORING_OFF_SQES, IORING_OFF_SQ_RING, IORING_SQ_CQ_OVERFLOW,
    IORING_SQ_NEED_WAKEUP, IORING_SQ_TASKRUN,
};

/// The syscall number of `io_uring_setup(2)`. The three io_uring numbers
/// are the same on every architecture (added in Linux 5.1 to the unified
/// syscall table).
pub const SYS_IO_URING_SETUP: usize = 425;
/// The syscall number of `io_uring_enter(2)` (Linux 5.1).
pub const SYS_IO_URING_ENTER: usize = 426;
/// The syscall number of `io_uring_register(2)` (Linux 5.1).
pub const SYS_IO_URING_REGISTER: usize = 427;

/// Setup flags that `linux-raw-sys` 0.12 does not carry yet.
/// Linux 6.18: CQ ring holding both 16- and 32-byte CQEs.
pub const IORING_SETUP_CQE_MIXED: u32 = 1 << 18;
/// Linux 6.19: SQ ring holding both 64- and 128-byte SQEs.
pub const IORING_SETUP_SQE_MIXED: u32 = 1 << 19;

/// Linux 6.18: a filler CQE in a `CQE_MIXED` ring; skip it.
pub const IORING_CQE_F_SKIP: u32 = 1 << 5;
/// Linux 6.18: in a `CQE_MIXED` ring, this CQE is 32 bytes (two slots).
pub const IORING_CQE_F_32: u32 = 1 << 15;
/// The buffer id of a provided-buffer CQE sits in the upper 16 bits of `flags`.
pub const IORING_CQE_BUFFER_SHIFT: u32 = 16;

/// `IORING_OP_NOP` flag (Linux 6.10): complete with the result in `len`.
pub const IORING_NOP_INJECT_RESULT: u32 = 1 << 0;
/// `IORING_OP_NOP` flag (Linux 6.10): look up the file in `fd`.
pub const IORING_NOP_FILE: u32 = 1 << 1;
/// `IORING_OP_NOP` flag (Linux 6.10): `fd` is a fixed-file index.
pub const IORING_NOP_FIXED_FILE: u32 = 1 << 2;
/// `IORING_OP_NOP` flag (Linux 6.10): look up the fixed buffer in `buf_index`.
pub const IORING_NOP_FIXED_BUFFER: u32 = 1 << 3;
/// `IORING_OP_NOP` flag (Linux 6.10): complete through task work.
pub const IORING_NOP_TASK_WORK: u32 = 1 << 4;
/// `IORING_OP_NOP` flag (Linux 6.18): post a 32-byte CQE.
pub const IORING_NOP_CQE32: u32 = 1 << 5;

/// `IORING_OP_NOP128` (Linux 6.19, newer than linux-raw-sys 0.12): a NOP
/// in a 128-byte SQE.
pub const IORING_OP_NOP128: u8 = 63;
/// `IORING_OP_URING_CMD128` (Linux 6.19): a passthrough command in a
/// 128-byte SQE of a `SQE_MIXED` ring.
pub const IORING_OP_URING_CMD128: u8 = 64;

/// `IORING_OP_URING_CMD` command numbers linux-raw-sys 0.12 lacks.
/// Linux 6.12: discard a byte range of a block device (`_IO(0x12, 0)`,
/// `include/uapi/linux/blkdev.h`).
pub const BLOCK_URING_CMD_DISCARD: u32 = 0x1200;
/// Linux 6.19: `getsockname(2)`/`getpeername(2)` as a socket command (the
/// next `SOCKET_URING_OP_*` after `TX_TIMESTAMP` = 4).
pub const SOCKET_URING_OP_GETSOCKNAME: u32 = 5;

/// Size of `struct io_uring_sqe` (one slot; 128-byte SQEs take two).
pub const SQE_BYTES: usize = 64;
/// Size of `struct io_uring_cqe` (one slot; 32-byte CQEs take two).
pub const CQE_BYTES: usize = 16;

/// Bytes of `struct io_rings` before its cache-line-aligned CQE array: SQ and
/// CQ head/tail (16), masks and entry counts (16), `sq_dropped`, `sq_flags`,
/// `cq_flags`, `cq_overflow` (16).
pub const IO_RINGS_FIELDS_BYTES: usize = 48;

/// The kernel's `SMP_CACHE_BYTES`: the CQE array and the SQ array are aligned
/// to it inside the rings region. Checked against a kernel-mapped ring's
/// returned `cq_off.cqes` by the test suite.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
pub const SMP_CACHE_BYTES: usize = 64;
#[cfg(target_arch = "powerpc64")]
pub const SMP_CACHE_BYTES: usize = 128;
/// s390x: `L1_CACHE_BYTES` is 256.
#[cfg(target_arch = "s390x")]
pub const SMP_CACHE_BYTES: usize = 256;
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "powerpc64",
    target_arch = "s390x"
)))]
pub const SMP_CACHE_BYTES: usize = 64;

/// Offsets of the fields of `struct io_rings` (kernel `io_uring_types.h`);
/// used for rings in caller memory, where the kernel's offsets are also
/// returned but the library checks them against these.
pub mod rings_off {
    /// Offset of the SQ head (the kernel advances it).
    pub const SQ_HEAD: usize = 0;
    /// Offset of the SQ tail (the application advances it).
    pub const SQ_TAIL: usize = 4;
    /// Offset of the CQ head (the application advances it).
    pub const CQ_HEAD: usize = 8;
    /// Offset of the CQ tail (the kernel advances it).
    pub const CQ_TAIL: usize = 12;
    /// Offset of the SQ ring mask (entries - 1).
    pub const SQ_RING_MASK: usize = 16;
    /// Offset of the CQ ring mask (entries - 1).
    pub const CQ_RING_MASK: usize = 20;
    /// Offset of the SQ entries.
    pub const SQ_RING_ENTRIES: usize = 24;
    /// Offset of the CQ entries.
    pub const CQ_RING_ENTRIES: usize = 28;
    /// Offset of the SQEs the kernel dropped (invalid SQ array index).
    pub const SQ_DROPPED: usize = 32;
    /// Offset of the SQ flags (`IORING_SQ_*`).
    pub const SQ_FLAGS: usize = 36;
    /// Offset of the CQ flags (`IORING_CQ_*`).
    pub const CQ_FLAGS: usize = 40;
    /// Offset of the CQEs lost to overflow (without `IORING_FEAT_NODROP`).
    pub const CQ_OVERFLOW: usize = 44;
}

/// An all-zero `io_uring_params`, the starting point of every setup: the
/// kernel reads `flags`, `sq_thread_cpu`, `sq_thread_idle`, `cq_entries`,
/// `wq_fd` and (with `IORING_SETUP_NO_MMAP`) the two `user_addr` fields, and
/// requires every reserved field to be zero.
pub fn zeroed_params() -> io_uring_params {
    // SAFETY: io_uring_params is plain old data (integers and arrays of
    // integers); all-zero is a valid value of every field.
    unsafe { std::mem::zeroed() }
}

/// Register opcode numbers (`IORING_REGISTER_*`, the `opcode` argument of
/// `io_uring_register(2)`), as `u32`: the one list of them in ringwise.
pub mod register_op {
    use linux_raw_sys::io_uring::io_uring_register_op as op;
    /// `IORING_REGISTER_BUFFERS` (Linux 5.1).
    pub const REGISTER_BUFFERS: u32 = op::IORING_REGISTER_BUFFERS as u32;
    /// `IORING_UNREGISTER_BUFFERS` (Linux 5.1).
    pub const UNREGISTER_BUFFERS: u32 = op::IORING_UNREGISTER_BUFFERS as u32;
    /// `IORING_REGISTER_FILES` (Linux 5.1).
    pub const REGISTER_FILES: u32 = op::IORING_REGISTER_FILES as u32;
    /// `IORING_UNREGISTER_FILES` (Linux 5.1).
    pub const UNREGISTER_FILES: u32 = op::IORING_UNREGISTER_FILES as u32;
    /// `IORING_REGISTER_EVENTFD` (Linux 5.2).
    pub const REGISTER_EVENTFD: u32 = op::IORING_REGISTER_EVENTFD as u32;
    /// `IORING_UNREGISTER_EVENTFD` (Linux 5.2).
    pub const UNREGISTER_EVENTFD: u32 = op::IORING_UNREGISTER_EVENTFD as u32;
    /// `IORING_REGISTER_FILES_UPDATE` (Linux 5.5).
    pub const REGISTER_FILES_UPDATE: u32 = op::IORING_REGISTER_FILES_UPDATE as u32;
    /// `IORING_REGISTER_EVENTFD_ASYNC` (Linux 5.6).
    pub const REGISTER_EVENTFD_ASYNC: u32 = op::IORING_REGISTER_EVENTFD_ASYNC as u32;
    /// `IORING_REGISTER_PERSONALITY` (Linux 5.6).
    pub const REGISTER_PERSONALITY: u32 = op::IORING_REGISTER_PERSONALITY as u32;
    /// `IORING_UNREGISTER_PERSONALITY` (Linux 5.6).
    pub const UNREGISTER_PERSONALITY: u32 = op::IORING_UNREGISTER_PERSONALITY as u32;
    /// `IORING_REGISTER_RESTRICTIONS` (Linux 5.10).
    pub const REGISTER_RESTRICTIONS: u32 = op::IORING_REGISTER_RESTRICTIONS as u32;
    /// `IORING_REGISTER_FILES2` (Linux 5.13).
    pub const REGISTER_FILES2: u32 = op::IORING_REGISTER_FILES2 as u32;
    /// `IORING_REGISTER_FILES_UPDATE2` (Linux 5.13).
    pub const REGISTER_FILES_UPDATE2: u32 = op::IORING_REGISTER_FILES_UPDATE2 as u32;
    /// `IORING_REGISTER_BUFFERS2` (Linux 5.13).
    pub const REGISTER_BUFFERS2: u32 = op::IORING_REGISTER_BUFFERS2 as u32;
    /// `IORING_REGISTER_BUFFERS_UPDATE` (Linux 5.13).
    pub const REGISTER_BUFFERS_UPDATE: u32 = op::IORING_REGISTER_BUFFERS_UPDATE as u32;
    /// `IORING_REGISTER_IOWQ_AFF` (Linux 5.14).
    pub const REGISTER_IOWQ_AFF: u32 = op::IORING_REGISTER_IOWQ_AFF as u32;
    /// `IORING_UNREGISTER_IOWQ_AFF` (Linux 5.14).
    pub const UNREGISTER_IOWQ_AFF: u32 = op::IORING_UNREGISTER_IOWQ_AFF as u32;
    /// `IORING_REGISTER_IOWQ_MAX_WORKERS` (Linux 5.15).
    pub const REGISTER_IOWQ_MAX_WORKERS: u32 = op::IORING_REGISTER_IOWQ_MAX_WORKERS as u32;
    /// `IORING_REGISTER_RING_FDS` (Linux 5.18).
    pub const REGISTER_RING_FDS: u32 = op::IORING_REGISTER_RING_FDS as u32;
    /// `IORING_UNREGISTER_RING_FDS` (Linux 5.18).
    pub const UNREGISTER_RING_FDS: u32 = op::IORING_UNREGISTER_RING_FDS as u32;
    /// `IORING_REGISTER_PBUF_RING` (Linux 5.19).
    pub const REGISTER_PBUF_RING: u32 = op::IORING_REGISTER_PBUF_RING as u32;
    /// `IORING_UNREGISTER_PBUF_RING` (Linux 5.19).
    pub const UNREGISTER_PBUF_RING: u32 = op::IORING_UNREGISTER_PBUF_RING as u32;
    /// `IORING_REGISTER_SYNC_CANCEL` (Linux 6.0).
    pub const REGISTER_SYNC_CANCEL: u32 = op::IORING_REGISTER_SYNC_CANCEL as u32;
    /// `IORING_REGISTER_FILE_ALLOC_RANGE` (Linux 6.0).
    pub const REGISTER_FILE_ALLOC_RANGE: u32 = op::IORING_REGISTER_FILE_ALLOC_RANGE as u32;
    /// `IORING_REGISTER_PBUF_STATUS` (Linux 6.8).
    pub const REGISTER_PBUF_STATUS: u32 = op::IORING_REGISTER_PBUF_STATUS as u32;
    /// `IORING_REGISTER_NAPI` (Linux 6.9).
    pub const REGISTER_NAPI: u32 = op::IORING_REGISTER_NAPI as u32;
    /// `IORING_UNREGISTER_NAPI` (Linux 6.9).
    pub const UNREGISTER_NAPI: u32 = op::IORING_UNREGISTER_NAPI as u32;
    /// `IORING_REGISTER_CLOCK` (Linux 6.12).
    pub const REGISTER_CLOCK: u32 = op::IORING_REGISTER_CLOCK as u32;
    /// `IORING_REGISTER_CLONE_BUFFERS` (Linux 6.12).
    pub const REGISTER_CLONE_BUFFERS: u32 = op::IORING_REGISTER_CLONE_BUFFERS as u32;
    /// `IORING_REGISTER_SEND_MSG_RING` (Linux 6.13).
    pub const REGISTER_SEND_MSG_RING: u32 = op::IORING_REGISTER_SEND_MSG_RING as u32;
    /// `IORING_REGISTER_ZCRX_IFQ` (Linux 6.15).
    pub const REGISTER_ZCRX_IFQ: u32 = op::IORING_REGISTER_ZCRX_IFQ as u32;
    /// `IORING_REGISTER_RESIZE_RINGS` (Linux 6.13).
    pub const REGISTER_RESIZE_RINGS: u32 = op::IORING_REGISTER_RESIZE_RINGS as u32;
    /// `IORING_REGISTER_MEM_REGION` (Linux 6.13).
    pub const REGISTER_MEM_REGION: u32 = op::IORING_REGISTER_MEM_REGION as u32;
    /// `IORING_REGISTER_PROBE` (Linux 5.6).
    pub const REGISTER_PROBE: u32 = op::IORING_REGISTER_PROBE as u32;
    /// `IORING_REGISTER_ENABLE_RINGS` (Linux 5.10).
    pub const REGISTER_ENABLE_RINGS: u32 = op::IORING_REGISTER_ENABLE_RINGS as u32;
    /// Linux 6.18; linux-raw-sys's release lacks it.
    pub const REGISTER_QUERY: u32 = 35;
    /// OR'ed into the opcode: the `fd` argument is a registered ring index
    /// (Linux 6.3).
    pub const USE_REGISTERED_RING: u32 = 1 << 31;
}
