//! One error type for the whole crate. Variants carry the numbers a person
//! needs to act (bytes needed vs given, the missing flag, the kernel errno and
//! what it means in context); `Display` turns them into a sentence.

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

/// Everything that can go wrong in ringwise.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `entries` was 0 (the kernel says EINVAL).
    ZeroEntries,
    /// More SQ entries than the kernel allows and `CLAMP` not set (EINVAL).
    TooManyEntries { requested: u32, max: u32 },
    /// `CQSIZE` with 0 CQ entries (EINVAL).
    ZeroCqEntries,
    /// More CQ entries than the kernel allows and `CLAMP` not set (EINVAL).
    TooManyCqEntries { requested: u32, max: u32 },
    /// Fewer CQ entries than SQ entries after rounding (EINVAL).
    CqSmallerThanSq { cq: u32, sq: u32 },
    /// A `CQE_MIXED` ring needs at least two CQ slots (EOVERFLOW).
    MixedCqTooSmall { cq: u32 },
    /// `flag` needs one of `needs` (EINVAL).
    MissingCompanion { flag: SetupFlags, needs: SetupFlags },
    /// Two flags that the kernel refuses together (EINVAL).
    FlagConflict { flag: SetupFlags, conflicts_with: SetupFlags },
    /// Bits that are not setup flags at all (EINVAL).
    UnknownFlags { bits: u32 },
    /// A size flag was set by hand that the ring's entry types do not imply,
    /// or an adopted ring's flags disagree with the types.
    EntryTypeMismatch { types_imply: SetupFlags, found: SetupFlags },
    /// The option needs a different way of building the ring.
    Unsupported { what: String, why: String },
    /// A memory region is shorter than the kernel will use.
    MemoryTooSmall { region: Region, needed: usize, given: usize },
    /// A memory region does not start on a page boundary.
    MemoryMisaligned { region: Region, addr: usize, align: usize },
    /// A memory region is not mapped, not writable or not private memory.
    MemoryUnusable { region: Region, addr: usize, len: usize, why: String },
    /// The two regions overlap.
    MemoryOverlap { sqes: (usize, usize), rings: (usize, usize) },
    /// An arena has fewer bytes left than a carve needs.
    ArenaExhausted { needed: usize, remaining: usize, capacity: usize },
    /// The SQ stayed full after a submit: the kernel consumed none of the
    /// `capacity` queued SQEs (an SQPOLL thread behind, or requests the
    /// kernel could not allocate).
    SubmissionQueueFull { capacity: u32 },
    /// The running kernel's probe lacks this opcode (it would fail the SQE
    /// with `-EINVAL`). `last_op` is the highest opcode the kernel knows.
    OpcodeUnsupported { opcode: u8, name: &'static str, since: &'static str, last_op: u8 },
    /// An op names a slot past the end of a registered table.
    OpIndexOutOfRange { op: &'static str, table: &'static str, index: u32, len: u32 },
    /// An op's arguments form a combination the kernel refuses.
    OpInvalid { op: &'static str, why: &'static str },
    /// Two lists that go together (e.g. files and their tags) differ in
    /// length, or an index lies past the end of a list.
    LengthMismatch { what: &'static str, expected: usize, given: usize },
    /// A provided-buffer ring's entry count must be a power of two from 1 to
    /// `max` (EINVAL from the kernel).
    BufRingEntries { entries: u32, max: u32 },
    /// A resize would leave fewer slots than entries still pending in that
    /// queue (`queue` is `"SQ"` or `"CQ"`; the kernel says EOVERFLOW).
    ResizeTooSmall { queue: &'static str, pending: u32, entries: u32 },
    /// The kernel refused a call. `context` says what ringwise was doing and
    /// what the errno means there.
    Kernel { call: &'static str, errno: Errno, context: String },
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
            Error::OpIndexOutOfRange { table, .. } if table.contains("buffers") => Errno::FAULT,
            Error::OpIndexOutOfRange { .. } => Errno::BADF,
            Error::Unsupported { .. } => Errno::OPNOTSUPP,
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

/// The symbolic name of an errno (`EINVAL`): every errno Linux defines for
/// user space, and the kernel-internal ones that can reach a CQE
/// (`ENOTSUPP`, 524, from some drivers' `URING_CMD`); `"E?"` for any other
/// number (the `Display` of [`Error::Kernel`] still prints it).
pub fn errno_name(errno: Errno) -> &'static str {
    // Each number once; aliases (EWOULDBLOCK, EDEADLOCK, ENOTSUP) share
    // their number with the name listed.
    const NAMES: &[(Errno, &str)] = &[
        (Errno::PERM, "EPERM"),
        (Errno::NOENT, "ENOENT"),
        (Errno::SRCH, "ESRCH"),
        (Errno::INTR, "EINTR"),
        (Errno::IO, "EIO"),
        (Errno::NXIO, "ENXIO"),
        (Errno::TOOBIG, "E2BIG"),
        (Errno::NOEXEC, "ENOEXEC"),
        (Errno::BADF, "EBADF"),
        (Errno::CHILD, "ECHILD"),
        (Errno::AGAIN, "EAGAIN"),
        (Errno::NOMEM, "ENOMEM"),
        (Errno::ACCESS, "EACCES"),
        (Errno::FAULT, "EFAULT"),
        (Errno::NOTBLK, "ENOTBLK"),
        (Errno::BUSY, "EBUSY"),
        (Errno::EXIST, "EEXIST"),
        (Errno::XDEV, "EXDEV"),
        (Errno::NODEV, "ENODEV"),
        (Errno::NOTDIR, "ENOTDIR"),
        (Errno::ISDIR, "EISDIR"),
        (Errno::INVAL, "EINVAL"),
        (Errno::NFILE, "ENFILE"),
        (Errno::MFILE, "EMFILE"),
        (Errno::NOTTY, "ENOTTY"),
        (Errno::TXTBSY, "ETXTBSY"),
        (Errno::FBIG, "EFBIG"),
        (Errno::NOSPC, "ENOSPC"),
        (Errno::SPIPE, "ESPIPE"),
        (Errno::ROFS, "EROFS"),
        (Errno::MLINK, "EMLINK"),
        (Errno::PIPE, "EPIPE"),
        (Errno::DOM, "EDOM"),
        (Errno::RANGE, "ERANGE"),
        (Errno::DEADLK, "EDEADLK"),
        (Errno::NAMETOOLONG, "ENAMETOOLONG"),
        (Errno::NOLCK, "ENOLCK"),
        (Errno::NOSYS, "ENOSYS"),
        (Errno::NOTEMPTY, "ENOTEMPTY"),
        (Errno::LOOP, "ELOOP"),
        (Errno::NOMSG, "ENOMSG"),
        (Errno::IDRM, "EIDRM"),
        (Errno::CHRNG, "ECHRNG"),
        (Errno::L2NSYNC, "EL2NSYNC"),
        (Errno::L3HLT, "EL3HLT"),
        (Errno::L3RST, "EL3RST"),
        (Errno::LNRNG, "ELNRNG"),
        (Errno::UNATCH, "EUNATCH"),
        (Errno::NOCSI, "ENOCSI"),
        (Errno::L2HLT, "EL2HLT"),
        (Errno::BADE, "EBADE"),
        (Errno::BADR, "EBADR"),
        (Errno::XFULL, "EXFULL"),
        (Errno::NOANO, "ENOANO"),
        (Errno::BADRQC, "EBADRQC"),
        (Errno::BADSLT, "EBADSLT"),
        (Errno::BFONT, "EBFONT"),
        (Errno::NOSTR, "ENOSTR"),
        (Errno::NODATA, "ENODATA"),
        (Errno::TIME, "ETIME"),
        (Errno::NOSR, "ENOSR"),
        (Errno::NONET, "ENONET"),
        (Errno::NOPKG, "ENOPKG"),
        (Errno::REMOTE, "EREMOTE"),
        (Errno::NOLINK, "ENOLINK"),
        (Errno::ADV, "EADV"),
        (Errno::SRMNT, "ESRMNT"),
        (Errno::COMM, "ECOMM"),
        (Errno::PROTO, "EPROTO"),
        (Errno::MULTIHOP, "EMULTIHOP"),
        (Errno::DOTDOT, "EDOTDOT"),
        (Errno::BADMSG, "EBADMSG"),
        (Errno::OVERFLOW, "EOVERFLOW"),
        (Errno::NOTUNIQ, "ENOTUNIQ"),
        (Errno::BADFD, "EBADFD"),
        (Errno::REMCHG, "EREMCHG"),
        (Errno::LIBACC, "ELIBACC"),
        (Errno::LIBBAD, "ELIBBAD"),
        (Errno::LIBSCN, "ELIBSCN"),
        (Errno::LIBMAX, "ELIBMAX"),
        (Errno::LIBEXEC, "ELIBEXEC"),
        (Errno::ILSEQ, "EILSEQ"),
        (Errno::RESTART, "ERESTART"),
        (Errno::STRPIPE, "ESTRPIPE"),
        (Errno::USERS, "EUSERS"),
        (Errno::NOTSOCK, "ENOTSOCK"),
        (Errno::DESTADDRREQ, "EDESTADDRREQ"),
        (Errno::MSGSIZE, "EMSGSIZE"),
        (Errno::PROTOTYPE, "EPROTOTYPE"),
        (Errno::NOPROTOOPT, "ENOPROTOOPT"),
        (Errno::PROTONOSUPPORT, "EPROTONOSUPPORT"),
        (Errno::SOCKTNOSUPPORT, "ESOCKTNOSUPPORT"),
        (Errno::OPNOTSUPP, "EOPNOTSUPP"),
        (Errno::PFNOSUPPORT, "EPFNOSUPPORT"),
        (Errno::AFNOSUPPORT, "EAFNOSUPPORT"),
        (Errno::ADDRINUSE, "EADDRINUSE"),
        (Errno::ADDRNOTAVAIL, "EADDRNOTAVAIL"),
        (Errno::NETDOWN, "ENETDOWN"),
        (Errno::NETUNREACH, "ENETUNREACH"),
        (Errno::NETRESET, "ENETRESET"),
        (Errno::CONNABORTED, "ECONNABORTED"),
        (Errno::CONNRESET, "ECONNRESET"),
        (Errno::NOBUFS, "ENOBUFS"),
        (Errno::ISCONN, "EISCONN"),
        (Errno::NOTCONN, "ENOTCONN"),
        (Errno::SHUTDOWN, "ESHUTDOWN"),
        (Errno::TOOMANYREFS, "ETOOMANYREFS"),
        (Errno::TIMEDOUT, "ETIMEDOUT"),
        (Errno::CONNREFUSED, "ECONNREFUSED"),
        (Errno::HOSTDOWN, "EHOSTDOWN"),
        (Errno::HOSTUNREACH, "EHOSTUNREACH"),
        (Errno::ALREADY, "EALREADY"),
        (Errno::INPROGRESS, "EINPROGRESS"),
        (Errno::STALE, "ESTALE"),
        (Errno::UCLEAN, "EUCLEAN"),
        (Errno::NOTNAM, "ENOTNAM"),
        (Errno::NAVAIL, "ENAVAIL"),
        (Errno::ISNAM, "EISNAM"),
        (Errno::REMOTEIO, "EREMOTEIO"),
        (Errno::DQUOT, "EDQUOT"),
        (Errno::NOMEDIUM, "ENOMEDIUM"),
        (Errno::MEDIUMTYPE, "EMEDIUMTYPE"),
        (Errno::CANCELED, "ECANCELED"),
        (Errno::NOKEY, "ENOKEY"),
        (Errno::KEYEXPIRED, "EKEYEXPIRED"),
        (Errno::KEYREVOKED, "EKEYREVOKED"),
        (Errno::KEYREJECTED, "EKEYREJECTED"),
        (Errno::OWNERDEAD, "EOWNERDEAD"),
        (Errno::NOTRECOVERABLE, "ENOTRECOVERABLE"),
        (Errno::RFKILL, "ERFKILL"),
        (Errno::HWPOISON, "EHWPOISON"),
    ];
    /// Kernel-internal errnos (`include/linux/errno.h`) that are not meant
    /// for user space but do reach it through some paths.
    const INTERNAL: &[(i32, &str)] = &[
        (512, "ERESTARTSYS"),
        (513, "ERESTARTNOINTR"),
        (514, "ERESTARTNOHAND"),
        (515, "ENOIOCTLCMD"),
        (516, "ERESTART_RESTARTBLOCK"),
        (517, "EPROBE_DEFER"),
        (518, "EOPENSTALE"),
        (519, "ENOPARAM"),
        (521, "EBADHANDLE"),
        (522, "ENOTSYNC"),
        (523, "EBADCOOKIE"),
        (524, "ENOTSUPP"),
        (525, "ETOOSMALL"),
        (526, "ESERVERFAULT"),
        (527, "EBADTYPE"),
        (528, "EJUKEBOX"),
        (529, "EIOCBQUEUED"),
        (530, "ERECALLCONFLICT"),
        (531, "ENOGRACE"),
    ];
    if let Some((_, name)) = NAMES.iter().find(|(e, _)| *e == errno) {
        return name;
    }
    let raw = errno.raw_os_error();
    INTERNAL.iter().find(|(n, _)| *n == raw).map(|(_, name)| *name).unwrap_or("E?")
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
            Error::Unsupported { what, why } => write!(f, "{what} is not possible here: {why}"),
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

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        let kind_errno = e.errno();
        std::io::Error::new(std::io::Error::from(kind_errno).kind(), e)
    }
}

/// Crate result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
