//! The command line's one error type: every way `ringwise` refuses its input
//! or fails, each variant carrying the values its message needs, and a
//! `Display` that says what went wrong and what to do about it.
//!
//! clap parses the shape of the command line (option names, numbers); what
//! clap cannot check (setup flag names, minimums, a file to read, what the
//! ring accepts) is checked here and reported through [`CliError`].

use ringwise::{errno_name, Errno, SetupFlags};
use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything the `ringwise` command can refuse or fail at.
#[derive(Debug)]
pub enum CliError {
    /// `--flags` names something that is not a setup flag.
    UnknownSetupFlag { name: String },
    /// An option is below the smallest value it accepts.
    TooSmall { option: &'static str, value: u64, min: u64 },
    /// An option (or a product of options, `option` names it) is above the
    /// largest value the command can honour; `why` says where the bound
    /// comes from.
    TooLarge { option: &'static str, value: u64, max: u64, why: String },
    /// A count of ops is less than one round of `per` ops (`--ops` below
    /// `--batch` or `--depth`): the command would silently run more.
    LessThanOneRound { option: &'static str, value: u64, per_option: &'static str, per: u32 },
    /// Two options that contradict each other.
    Conflict { first: &'static str, second: &'static str },
    /// The command line itself could not be parsed (clap's message).
    Usage { message: String },
    /// An option asks for more SQEs at once than the ring's SQ holds.
    ExceedsSq { option: &'static str, value: u32, sq: u32 },
    /// A file could not be opened or examined (`action` says which).
    File { path: PathBuf, action: &'static str, source: io::Error },
    /// A file to read holds not even one read of `size` bytes.
    FileTooShort { path: PathBuf, len: u64, size: u32 },
    /// ringwise's layout refuses the ring asked for (the kernel would too).
    Layout(ringwise::Error),
    /// Setting up a ring of `entries` SQ entries failed.
    RingSetup { entries: u32, source: ringwise::Error },
    /// The SQ had no room for a batch that should have fitted.
    SqFull { capacity: u32 },
    /// A ring call (`call` names it) failed.
    Ring { call: &'static str, source: ringwise::Error },
    /// An op completed with an error.
    OpFailed { op: &'static str, user_data: u64, errno: Errno },
    /// The read buffers (`--depth` x `--size` bytes) could not be allocated.
    OutOfMemory { bytes: usize },
    /// A read completed with fewer bytes than asked for.
    ShortRead { got: u32, size: u32 },
    /// `ringwise verify` could not verify a single configuration.
    NothingVerified,
    /// An option value is not a multiple of what it must be a multiple of
    /// (`why` says where the rule comes from).
    NotMultiple { option: &'static str, value: u64, of: u64, why: String },
    /// `--direct` on a file whose filesystem does not do direct I/O
    /// (`why` says how that was found out).
    DirectUnsupported { path: PathBuf, why: String },
    /// Registering a resource with the ring (`what` names it) failed.
    Register { what: &'static str, source: ringwise::Error },
    /// The async loop's runtime failed (`what` says at what).
    Runtime { what: &'static str, source: io::Error },
}

impl CliError {
    /// The errno that best names this error (`"EINVAL"` for input the
    /// command refuses), for JSON output.
    pub fn errno_name(&self) -> &'static str {
        match self {
            CliError::UnknownSetupFlag { .. }
            | CliError::TooSmall { .. }
            | CliError::TooLarge { .. }
            | CliError::LessThanOneRound { .. }
            | CliError::Conflict { .. }
            | CliError::Usage { .. }
            | CliError::ExceedsSq { .. } => "EINVAL",
            CliError::File { source, .. } => {
                source.raw_os_error().map_or("EIO", |raw| errno_name(Errno::from_raw_os_error(raw)))
            }
            CliError::FileTooShort { .. } => "EINVAL",
            CliError::Layout(e) | CliError::RingSetup { source: e, .. } | CliError::Ring { source: e, .. } => {
                e.errno_name()
            }
            CliError::SqFull { .. } => "EBUSY",
            CliError::OpFailed { errno, .. } => errno_name(*errno),
            CliError::OutOfMemory { .. } => "ENOMEM",
            CliError::ShortRead { .. } => "EIO",
            CliError::NothingVerified => "EOPNOTSUPP",
            CliError::NotMultiple { .. } | CliError::DirectUnsupported { .. } => "EINVAL",
            CliError::Register { source, .. } => source.errno_name(),
            CliError::Runtime { source, .. } => {
                source.raw_os_error().map_or("EIO", |e| errno_name(Errno::from_raw_os_error(e)))
            }
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::UnknownSetupFlag { name } => {
                let known: Vec<&str> = SetupFlags::all().iter_names().map(|(n, _)| n).collect();
                write!(
                    f,
                    "unknown setup flag `{name}`; known flags: {} (comma-separated, any case, with or without \
                     the IORING_SETUP_ prefix)",
                    known.join(", ")
                )
            }
            CliError::TooSmall { option, value, min } => write!(f, "{option} must be at least {min}, not {value}"),
            CliError::TooLarge { option, value, max, why } => {
                write!(f, "{option} must be at most {max}, not {value}: {why}")
            }
            CliError::LessThanOneRound { option, value, per_option, per } => write!(
                f,
                "{option} {value} is less than one round of {per_option} {per}; give {option} {per} or more, or a \
                 smaller {per_option}"
            ),
            CliError::Conflict { first, second } => {
                write!(f, "{first} and {second} contradict each other; give one of them")
            }
            CliError::Usage { message } => write!(f, "{message}"),
            CliError::ExceedsSq { option, value, sq } => {
                write!(f, "{option} {value} is larger than the SQ ({sq} entries); give {option} {sq} or less")
            }
            CliError::File { path, action, source } => write!(f, "cannot {action} {}: {source}", path.display()),
            CliError::FileTooShort { path, len, size } => write!(
                f,
                "{} is {len} bytes, shorter than one {size}-byte read; give a larger file or a smaller --size",
                path.display()
            ),
            CliError::Layout(e) => write!(f, "{e}"),
            CliError::RingSetup { entries, source } => write!(f, "could not set up a {entries}-entry ring: {source}"),
            CliError::SqFull { capacity } => write!(
                f,
                "the {capacity}-entry submission queue had no room for the next batch (the kernel has not consumed \
                 the previous one)"
            ),
            CliError::Ring { call, source } => write!(f, "{call} failed: {source}"),
            CliError::OpFailed { op, user_data, errno } => {
                write!(f, "{op} with user_data {user_data} failed: {}", errno_name(*errno))
            }
            CliError::OutOfMemory { bytes } => {
                write!(f, "could not allocate {bytes} bytes of read buffers (--depth x --size); lower either")
            }
            CliError::ShortRead { got, size } => {
                write!(f, "short read: {got} of {size} bytes (did the file shrink while it was read?)")
            }
            CliError::NothingVerified => write!(
                f,
                "no configuration could be verified on this kernel: every one was skipped (the reasons are in the \
                 output; rings in caller memory need Linux 6.5 or later)"
            ),
            CliError::NotMultiple { option, value, of, why } => {
                write!(f, "{option} must be a multiple of {of}, not {value}: {why}")
            }
            CliError::DirectUnsupported { path, why } => write!(
                f,
                "{} cannot be read with O_DIRECT: {why}; put the file on a filesystem backed by a block device \
                 (ext4, xfs, btrfs), or leave out --direct",
                path.display()
            ),
            CliError::Register { what, source } => write!(f, "could not register {what}: {source}"),
            CliError::Runtime { what, source } => write!(f, "the async read loop could not {what}: {source}"),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::File { source, .. } => Some(source),
            CliError::Layout(e)
            | CliError::RingSetup { source: e, .. }
            | CliError::Ring { source: e, .. }
            | CliError::Register { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// Refuse `value` for `option` when it is above `max`, saying `why`.
pub fn at_most(option: &'static str, value: u64, max: u64, why: impl FnOnce() -> String) -> Result<(), CliError> {
    if value > max {
        Err(CliError::TooLarge { option, value, max, why: why() })
    } else {
        Ok(())
    }
}

/// The message of `e` followed by its errno name in parentheses, unless the
/// message already names it (library messages often do: "... (the kernel
/// says EOVERFLOW)"), so that the errno appears exactly once.
pub fn with_errno(e: &CliError) -> String {
    let msg = e.to_string();
    let errno = e.errno_name();
    if msg.contains(errno) {
        msg
    } else {
        format!("{msg} ({errno})")
    }
}

/// Refuse `value` for `option` when it is below `min`.
pub fn at_least(option: &'static str, value: u64, min: u64) -> Result<(), CliError> {
    if value < min {
        Err(CliError::TooSmall { option, value, min })
    } else {
        Ok(())
    }
}

/// Parse a comma-separated list of setup flag names (`SQE128,cqe32`,
/// `IORING_SETUP_CLAMP`); empty entries are ignored, an unknown name is an
/// error naming it.
pub fn parse_setup_flags(list: &str) -> Result<SetupFlags, CliError> {
    let mut flags = SetupFlags::empty();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        flags |= SetupFlags::parse_name(part).ok_or_else(|| CliError::UnknownSetupFlag { name: part.to_string() })?;
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_flag_lists_parse_like_the_kernel_names_them() {
        assert_eq!(parse_setup_flags("").unwrap(), SetupFlags::empty());
        assert_eq!(parse_setup_flags(" , ").unwrap(), SetupFlags::empty());
        assert_eq!(
            parse_setup_flags("sqe128, IORING_SETUP_CQE32,,NO_SQARRAY").unwrap(),
            SetupFlags::SQE128 | SetupFlags::CQE32 | SetupFlags::NO_SQARRAY
        );
        match parse_setup_flags("CLAMP,NOPE") {
            Err(e @ CliError::UnknownSetupFlag { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("`NOPE`") && msg.contains("NO_SQARRAY"), "{msg}");
                assert_eq!(e.errno_name(), "EINVAL");
            }
            other => panic!("expected UnknownSetupFlag, got {other:?}"),
        }
    }

    #[test]
    fn minimums_name_the_option_and_both_values() {
        assert!(at_least("--batch", 1, 1).is_ok());
        let e = at_least("--batch", 0, 1).unwrap_err();
        assert_eq!(e.to_string(), "--batch must be at least 1, not 0");
        assert_eq!(e.errno_name(), "EINVAL");
    }

    #[test]
    fn messages_carry_the_numbers_and_the_errno() {
        let e = CliError::ExceedsSq { option: "--depth", value: 64, sq: 32 };
        assert!(e.to_string().contains("--depth 64") && e.to_string().contains("32"), "{e}");
        let e = CliError::OpFailed { op: "read", user_data: 3, errno: Errno::BADF };
        assert!(e.to_string().contains("EBADF"), "{e}");
        let io = io::Error::from_raw_os_error(2);
        let e = CliError::File { path: "/nope".into(), action: "open", source: io };
        assert_eq!(e.errno_name(), "ENOENT");
        assert!(e.to_string().starts_with("cannot open /nope: "), "{e}");
        let e = CliError::Layout(ringwise::RingSpec::new(0).layout().unwrap_err());
        assert_eq!(e.errno_name(), "EINVAL");
        assert!(e.to_string().contains("at least 1"), "{e}");
    }
}
