//! One error type for the whole crate. Variants carry the numbers a person
//! needs to act (bytes needed vs given, the missing flag, the kernel errno and
//! what it means in context); `Display` turns them into a sentence.

use crate::errno::errno_name;
use crate::flags::SetupFlags;
use rustix::io::Errno;
use std::fmt;

/// Which ring memory region an error speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// The SQE array (`sq_off.user_addr`).
    Sqes,
    /// The rings region: header, CQE array and SQ index array (`cq_off.user_addr`).
    Rings,
    /// Both regions, placed one after the other in one buffer.
    Both,
    /// The entries of a provided-buffer ring (`io_uring_buf_reg.ring_addr`).
    BufRing,
    /// A registered memory region (`IORING_REGISTER_MEM_REGION`).
    MemRegion,
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Region::Sqes => "SQE region",
            Region::Rings => "rings region (header, CQEs, SQ array)",
            Region::Both => "ring memory (rings + SQE regions)",
            Region::BufRing => "provided-buffer ring",
            Region::MemRegion => "registered memory region",
        })
    }
}

/// A table of resources registered with a ring, as errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Table {
    /// The registered (fixed) file table (`IORING_REGISTER_FILES`).
    Files,
    /// The registered (fixed) buffer table (`IORING_REGISTER_BUFFERS`).
    Buffers,
}

impl Table {
    /// The errno the kernel gives for an index past this table's end:
    /// EBADF for files, EFAULT for buffers.
    pub fn out_of_range_errno(self) -> Errno {
        match self {
            Table::Files => Errno::BADF,
            Table::Buffers => Errno::FAULT,
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Table::Files => "registered files",
            Table::Buffers => "registered buffers",
        })
    }
}

/// Everything that can go wrong in ringwise.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `entries` was 0 (the kernel says EINVAL).
    ZeroEntries,
    /// More SQ entries than the kernel allows and `CLAMP` not set (EINVAL).
    TooManyEntries {
        /// The SQ entries asked for.
        requested: u32,
        /// The kernel's maximum (`IORING_MAX_ENTRIES`, 32768).
        max: u32,
    },
    /// `CQSIZE` with 0 CQ entries (EINVAL).
    ZeroCqEntries,
    /// More CQ entries than the kernel allows and `CLAMP` not set (EINVAL).
    TooManyCqEntries {
        /// The CQ entries asked for.
        requested: u32,
        /// The kernel's maximum (`IORING_MAX_CQ_ENTRIES`, 65536).
        max: u32,
    },
    /// Fewer CQ entries than SQ entries after rounding (EINVAL).
    CqSmallerThanSq {
        /// CQ entries after rounding.
        cq: u32,
        /// SQ entries after rounding.
        sq: u32,
    },
    /// A `CQE_MIXED` ring needs at least two CQ slots (EOVERFLOW).
    MixedCqTooSmall {
        /// CQ slots after rounding.
        cq: u32,
    },
    /// `flag` needs one of `needs` (EINVAL).
    MissingCompanion {
        /// The flag that was set.
        flag: SetupFlags,
        /// The flags of which it needs one.
        needs: SetupFlags,
    },
    /// Two flags that the kernel refuses together (EINVAL).
    FlagConflict {
        /// One of the two flags.
        flag: SetupFlags,
        /// The flag it excludes.
        conflicts_with: SetupFlags,
    },
    /// Bits that are not setup flags at all (EINVAL).
    UnknownFlags {
        /// The unknown bits.
        bits: u32,
    },
    /// A size flag was set by hand that the ring's entry types do not imply,
    /// or an adopted ring's flags disagree with the types.
    EntryTypeMismatch {
        /// The entry-size flags the ring's types imply.
        types_imply: SetupFlags,
        /// The entry-size flags found (set by hand, or the adopted ring's).
        found: SetupFlags,
    },
    /// The running kernel lacks a feature bit (`IORING_FEAT_*`) that `what`
    /// needs (EOPNOTSUPP). `since` is the Linux release that added it.
    FeatureMissing {
        /// What needs the feature.
        what: &'static str,
        /// The feature bit's name, e.g. `"IORING_FEAT_EXT_ARG"`.
        feature: &'static str,
        /// The Linux release that added it, e.g. `"5.11"`.
        since: &'static str,
    },
    /// `IORING_SETUP_NO_MMAP` asked for, or implied, where it cannot apply:
    /// it follows from where the ring memory lives, so it is never set by
    /// hand, and a ring in someone else's memory cannot be adopted or moved
    /// (EINVAL). `fix` says what to do instead.
    NoMmapMisuse {
        /// What was attempted.
        what: &'static str,
        /// What to do instead.
        fix: &'static str,
    },
    /// `what` needs the ring's file descriptor (to `mmap` kernel memory from
    /// it), and a `REGISTERED_FD_ONLY` ring has none (EBADF).
    NoRingFd {
        /// What needs the fd.
        what: &'static str,
    },
    /// The kernel's answer disagrees with ringwise's layout: `field` is
    /// `kernel` in the returned parameters where the layout computed `ours`.
    /// The ring is closed rather than used with memory of the wrong size
    /// (EPROTO).
    LayoutMismatch {
        /// The parameter that disagrees, e.g. `"sq_entries"`.
        field: &'static str,
        /// The kernel's value.
        kernel: u64,
        /// The value ringwise's layout computed.
        ours: u64,
    },
    /// An adopted ring's header in shared memory disagrees with the
    /// parameters given for it (`field` is `header` in the ring and `params`
    /// in the parameters): they describe another ring (EINVAL).
    ForeignRingHeader {
        /// The header field that disagrees, e.g. `"sq_ring_entries"`.
        field: &'static str,
        /// Its value in the ring's header.
        header: u64,
        /// The value the parameters imply.
        params: u64,
    },
    /// A kernel mapping of the ring's `what` is backed for only
    /// `backed_bytes` of the `expected_bytes` the layout says: the parameters
    /// do not describe this ring, and touching the rest would SIGBUS
    /// (EFAULT).
    UnbackedMapping {
        /// The region mapped, e.g. `"rings region"`.
        what: &'static str,
        /// Bytes of the mapping the kernel backs.
        backed_bytes: usize,
        /// Bytes the layout says the region has.
        expected_bytes: usize,
    },
    /// A page size the layout cannot use: not a power of two of at least
    /// 4096 bytes, or so large the regions overflow the address space
    /// (EINVAL).
    BadPageSize {
        /// The page size given.
        page_size: usize,
        /// Why it cannot be used.
        why: &'static str,
    },
    /// An argument the caller gave is outside what the kernel accepts:
    /// `what` names it, `why` says what is accepted (EINVAL).
    InvalidArgument {
        /// The argument (or what was attempted with it).
        what: String,
        /// What is accepted instead.
        why: String,
    },
    /// Buffer `bid` of provided-buffer group `bgid` is held by the kernel
    /// and cannot be added again until the CQE that reports it (EBUSY).
    BufferInKernel {
        /// The buffer group.
        bgid: u16,
        /// The buffer id.
        bid: u16,
    },
    /// A memory region is shorter than the kernel will use.
    MemoryTooSmall {
        /// The region that is short.
        region: Region,
        /// Bytes the kernel will use.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// A memory region does not start on a page boundary.
    MemoryMisaligned {
        /// The misaligned region.
        region: Region,
        /// Its start address.
        addr: usize,
        /// The alignment required (the page size).
        align: usize,
    },
    /// A memory region is not mapped, not writable or not private memory.
    MemoryUnusable {
        /// The unusable region.
        region: Region,
        /// Its start address.
        addr: usize,
        /// Its length in bytes.
        len: usize,
        /// What is wrong with it.
        why: String,
    },
    /// The two regions overlap.
    MemoryOverlap {
        /// The SQE region, `[start, end)`.
        sqes: (usize, usize),
        /// The rings region, `[start, end)`.
        rings: (usize, usize),
    },
    /// An arena has fewer bytes left than a carve needs.
    ArenaExhausted {
        /// Bytes the carve needs.
        needed: usize,
        /// Bytes left in the arena.
        remaining: usize,
        /// The arena's size.
        capacity: usize,
    },
    /// The SQ stayed full after a submit: the kernel consumed none of the
    /// `capacity` queued SQEs (an SQPOLL thread behind, or requests the
    /// kernel could not allocate).
    SubmissionQueueFull {
        /// The SQ's entries.
        capacity: u32,
    },
    /// The running kernel's probe lacks this opcode (it would fail the SQE
    /// with `-EINVAL`). `last_op` is the highest opcode the kernel knows.
    OpcodeUnsupported {
        /// The opcode number.
        opcode: u8,
        /// Its name without `IORING_OP_`.
        name: &'static str,
        /// The Linux release that added it.
        since: &'static str,
        /// The highest opcode the running kernel knows.
        last_op: u8,
    },
    /// An op names a slot past the end of a registered table.
    OpIndexOutOfRange {
        /// The op's name.
        op: &'static str,
        /// The table indexed.
        table: Table,
        /// The index the op names.
        index: u32,
        /// The table's length.
        len: u32,
    },
    /// An op's arguments form a combination the kernel refuses.
    OpInvalid {
        /// The op's name.
        op: &'static str,
        /// What the kernel refuses.
        why: &'static str,
    },
    /// Two lists that go together (e.g. files and their tags) differ in
    /// length, or an index lies past the end of a list.
    LengthMismatch {
        /// The lists (or list) concerned.
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        given: usize,
    },
    /// A provided-buffer ring's entry count must be a power of two from 1 to
    /// `max` (EINVAL from the kernel).
    BufRingEntries {
        /// The entries asked for.
        entries: u32,
        /// The largest count the kernel accepts.
        max: u32,
    },
    /// A resize would leave fewer slots than entries still pending in that
    /// queue (`queue` is `"SQ"` or `"CQ"`; the kernel says EOVERFLOW).
    ResizeTooSmall {
        /// `"SQ"` or `"CQ"`.
        queue: &'static str,
        /// Entries pending in that queue.
        pending: u32,
        /// The new entry count asked for.
        entries: u32,
    },
    /// The ring can no longer be used, and refuses every submit, wait and
    /// registration (EBADFD): `why` says what left it so (for one, the
    /// kernel accepted a resize whose new memory could then not be mapped,
    /// so the ring's view of its queues is gone). Drop it and set up another.
    RingUnusable {
        /// What left the ring unusable.
        why: String,
    },
    /// The kernel refused a call. `context` says what ringwise was doing and
    /// what the errno means there.
    Kernel {
        /// The call, e.g. `"io_uring_enter"`.
        call: &'static str,
        /// The kernel's errno.
        errno: Errno,
        /// What ringwise was doing and what the errno means there (may be
        /// empty).
        context: String,
    },
}

impl Error {
    /// The errno that the kernel gives (or would give) for this error, for
    /// callers that speak errno (the CLI's JSON, C interop).
    pub fn errno(&self) -> Errno {
        match self {
            Error::MixedCqTooSmall { .. } | Error::ResizeTooSmall { .. } => Errno::OVERFLOW,
            Error::MemoryTooSmall { .. } | Error::MemoryUnusable { .. } => Errno::FAULT,
            Error::ArenaExhausted { .. } => Errno::NOMEM,
            Error::SubmissionQueueFull { .. } => Errno::BUSY,
            Error::OpIndexOutOfRange { table, .. } => table.out_of_range_errno(),
            Error::FeatureMissing { .. } => Errno::OPNOTSUPP,
            Error::NoRingFd { .. } => Errno::BADF,
            Error::LayoutMismatch { .. } => Errno::PROTO,
            Error::UnbackedMapping { .. } => Errno::FAULT,
            Error::BufferInKernel { .. } => Errno::BUSY,
            Error::RingUnusable { .. } => Errno::BADFD,
            Error::Kernel { errno, .. } => *errno,
            _ => Errno::INVAL,
        }
    }

    /// The errno's symbolic name, e.g. `"EINVAL"`.
    pub fn errno_name(&self) -> &'static str {
        errno_name(self.errno())
    }

    pub(crate) fn kernel(call: &'static str, errno: Errno, context: impl Into<String>) -> Error {
        Error::Kernel { call, errno, context: context.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroEntries => write!(f, "entries must be at least 1 (the kernel refuses 0 with EINVAL)"),
            Error::TooManyEntries { requested, max } => write!(
                f,
                "{requested} SQ entries is more than the kernel's maximum of {max}; ask for at most {max} or set CLAMP"
            ),
            Error::ZeroCqEntries => write!(f, "CQ entries must be at least 1 when CQSIZE is set"),
            Error::TooManyCqEntries { requested, max } => write!(
                f,
                "{requested} CQ entries is more than the kernel's maximum of {max}; ask for at most {max} or set CLAMP"
            ),
            Error::CqSmallerThanSq { cq, sq } => write!(
                f,
                "the CQ ring ({cq} entries after rounding to a power of two) must be at least as large as the SQ ring ({sq})"
            ),
            Error::MixedCqTooSmall { cq } => write!(
                f,
                "a CQE_MIXED ring needs at least 2 CQ slots so that a 32-byte CQE fits; got {cq} (the kernel says EOVERFLOW)"
            ),
            Error::MissingCompanion { flag, needs } => {
                let needs_names = needs.names().replace(',', " or ");
                write!(f, "setup flag {} needs {needs_names}", flag.names())
            }
            Error::FlagConflict { flag, conflicts_with } => write!(
                f,
                "setup flags {} and {} cannot be used together",
                flag.names(),
                conflicts_with.names()
            ),
            Error::UnknownFlags { bits } => write!(f, "unknown setup flag bits {bits:#x}"),
            Error::EntryTypeMismatch { types_imply, found } => write!(
                f,
                "entry-size flags disagree with the ring's entry types: the types imply [{}], found [{}]; \
                 choose the SQE/CQE types instead of setting SQE128/CQE32/CQE_MIXED/SQE_MIXED by hand",
                types_imply.names(),
                found.names()
            ),
            Error::FeatureMissing { what, feature, since } => write!(
                f,
                "{what} needs {feature} (Linux {since}), which this kernel does not report; upgrade the kernel"
            ),
            Error::NoMmapMisuse { what, fix } => write!(f, "{what}: {fix}"),
            Error::NoRingFd { what } => write!(
                f,
                "{what} needs the ring's file descriptor to map kernel memory, and a REGISTERED_FD_ONLY ring has \
                 none; put that memory in caller memory instead"
            ),
            Error::LayoutMismatch { field, kernel, ours } => write!(
                f,
                "the kernel reports {field} = {kernel} where ringwise's layout computed {ours}; ring memory would be \
                 sized wrongly, so the ring was closed (please report this with `ringwise verify`'s output)"
            ),
            Error::ForeignRingHeader { field, header, params } => write!(
                f,
                "the ring's header says {field} = {header} but the parameters say {params}: the parameters \
                 belong to another ring"
            ),
            Error::UnbackedMapping { what, backed_bytes, expected_bytes } => write!(
                f,
                "the kernel's {what} has {backed_bytes} bytes but ringwise's layout says {expected_bytes}; the \
                 parameters do not describe this ring (an adopted fd with another ring's parameters or entry \
                 sizes?) or the layout is wrong for this kernel"
            ),
            Error::BadPageSize { page_size, why } => write!(f, "a page size of {page_size} bytes cannot be used: {why}"),
            Error::InvalidArgument { what, why } => write!(f, "{what} is refused: {why}"),
            Error::BufferInKernel { bgid, bid } => write!(
                f,
                "buffer {bid} of group {bgid} is held by the kernel; it can be added again after the CQE that reports it"
            ),
            Error::MemoryTooSmall { region, needed, given } => write!(
                f,
                "the {region} needs {needed} bytes but only {given} were given ({} short); \
                 the kernel would have used the {} bytes after the buffer",
                needed - given.min(needed),
                needed - given.min(needed)
            ),
            Error::MemoryMisaligned { region, addr, align } => write!(
                f,
                "the {region} starts at {addr:#x}, which is not aligned to {align} bytes (a page); the kernel requires page-aligned ring memory"
            ),
            Error::MemoryUnusable { region, addr, len, why } => {
                write!(f, "the {region} at {addr:#x} ({len} bytes) cannot hold a ring: {why}")
            }
            Error::MemoryOverlap { sqes, rings } => write!(
                f,
                "the SQE region [{:#x}, {:#x}) and the rings region [{:#x}, {:#x}) overlap",
                sqes.0, sqes.1, rings.0, rings.1
            ),
            Error::ArenaExhausted { needed, remaining, capacity } => write!(
                f,
                "the arena has {remaining} of {capacity} bytes left but this ring needs {needed}"
            ),
            Error::SubmissionQueueFull { capacity } => write!(
                f,
                "the submission queue ({capacity} entries) is still full after submitting: the kernel consumed \
                 nothing; reap completions (or let the SQPOLL thread catch up) and push again"
            ),
            Error::OpcodeUnsupported { opcode, name, since, last_op } => write!(
                f,
                "IORING_OP_{name} (opcode {opcode}, added in Linux {since}) is not supported by this kernel \
                 (its probe knows opcodes up to {last_op}); the kernel would fail the SQE with EINVAL"
            ),
            Error::OpIndexOutOfRange { op, table, index, len } => write!(
                f,
                "{op} uses index {index} of the {table}, which has only {len} entries (valid: 0..{len})"
            ),
            Error::OpInvalid { op, why } => write!(f, "{op}: {why}"),
            Error::LengthMismatch { what, expected, given } => {
                write!(f, "{what}: expected {expected} entries, got {given}")
            }
            Error::BufRingEntries { entries, max } => write!(
                f,
                "a provided-buffer ring has {entries} entries; it needs a power of two from 1 to {max}"
            ),
            Error::RingUnusable { why } => write!(f, "this ring can no longer be used ({why}); drop it and set up another"),
            Error::ResizeTooSmall { queue, pending, entries } => write!(
                f,
                "cannot resize the {queue} to {entries} entries while {pending} entries are pending in it; \
                 reap or submit them first (the kernel would refuse with EOVERFLOW)"
            ),
            Error::Kernel { call, errno, context } => {
                write!(f, "{call} failed with {} ({errno})", errno_name(*errno))?;
                if !context.is_empty() {
                    write!(f, ": {context}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}

/// An error the kernel returned ([`Error::Kernel`]) becomes the OS error
/// itself, so `raw_os_error()` gives the errno (the context sentence is
/// lost: `std::io::Error` holds either an OS code or a payload, not both).
/// Every other error keeps its message and gets the kind of its
/// [`Error::errno`].
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        match e {
            Error::Kernel { errno, .. } => std::io::Error::from_raw_os_error(errno.raw_os_error()),
            e => std::io::Error::new(std::io::Error::from(e.errno()).kind(), e),
        }
    }
}

/// A bare errno from a system call, as [`Error::Kernel`] with no context.
impl From<Errno> for Error {
    fn from(errno: Errno) -> Error {
        Error::kernel("syscall", errno, String::new())
    }
}

/// Crate result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
