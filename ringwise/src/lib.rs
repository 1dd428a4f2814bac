//! # ringwise
//!
//! Linux io_uring with exact ring memory, entry sizes in the types, and the
//! hot path at the syscall floor.
//!
//! * [`layout`]: the exact bytes of each region the kernel needs, for any
//!   entries, CQ size and flags, without a syscall.
//! * [`Builder`]: set a ring up in kernel memory, in library-allocated (huge)
//!   pages, or in the caller's memory; short, misaligned or unusable memory is
//!   refused before any syscall, with the numbers.
//! * [`Ring<S, C>`](Ring): the SQE and CQE sizes are type parameters
//!   ([`Sqe64`], [`Sqe128`], [`SqeMixed`]; [`Cqe16`], [`Cqe32`],
//!   [`CqeMixed`]), and the setup flags follow from them.
//! * [`op`]: typed SQE builders, one per opcode ([`op::CATALOG`] maps them
//!   to the kernel's opcodes and liburing's `io_uring_prep_*` helpers).
//! * [`register`]: every `io_uring_register` operation, with the memory the
//!   kernel keeps owned by the ring.
//! * [`probe`]: what the running kernel supports.
//!
//! ```
//! use ringwise::op::Nop;
//! use ringwise::{Builder, Cqe32, Mapping, Sqe128};
//!
//! // 128-byte SQEs and 32-byte CQEs: the types choose SQE128 | CQE32.
//! let builder = Builder::<Sqe128, Cqe32>::new(64).single_issuer();
//! let layout = builder.layout()?;
//! assert_eq!(layout.sqes_bytes(), 64 * 128);
//!
//! // A page short is refused before any syscall, with the numbers.
//! let short = Mapping::anonymous(layout.total_bytes() - 4096)?;
//! let err = builder.clone().build_in(short).unwrap_err();
//! assert!(err.to_string().contains(&layout.total_bytes().to_string()));
//!
//! // Exactly enough works.
//! let mut ring = builder.build_in(Mapping::anonymous(layout.total_bytes())?)?;
//! ring.submission().push(Nop::new().user_data(1)).unwrap();
//! ring.submit_and_wait(1)?;
//! let cqe = ring.completion().next().unwrap();
//! assert_eq!((cqe.user_data, cqe.res), (1, 0));
//! # Ok::<(), ringwise::Error>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]

mod builder;
pub mod cqueue;
pub mod entry;
mod errno;
mod error;
#[cfg(test)]
mod fake_ring;
pub mod flags;
pub mod layout;
pub mod memlock;
pub mod memory;
pub mod op;
pub mod owned;
pub mod probe;
pub mod raw;
pub mod register;
mod ring;
pub mod squeue;

pub(crate) use raw::{abi, sys};

pub use builder::Builder;
pub use cqueue::CompletionQueue;
pub use entry::{BigCqe, BigSqe, Cqe, Cqe16, Cqe32, CqeMixed, CqeSize, Sqe, Sqe128, Sqe64, SqeMixed, SqeSize};
pub use errno::errno_name;
pub use error::{Error, Region, Result, Table};
pub use flags::{Features, SetupFlags, SqeFlags};
pub use layout::{Layout, RingSpec};
pub use memory::{Arena, CallerMemory, Carve, Mapping, Pages, RingMemory};
pub use ring::{MemoryReport, Ring, Submitted, WaitArgs};
pub use squeue::{SqFull, SqNoRoom, SubmissionQueue};

/// The errno type of [`Cqe::result`] and [`Error::errno`] (rustix's), so
/// that results can be compared by name: `Err(Errno::NOBUFS)`.
pub use rustix::io::Errno;

/// The README's code runs as doc tests, so the tour stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod architecture {
    //! The core of the crate (the raw layer, layout, memory, entries, the
    //! queues, the ring, the builder, errors and flags) never depends on the
    //! op builders or the registrations: `op/` and `register/` build on the
    //! core, never the other way round (the op traits the queues take live
    //! in `entry.rs` for that reason). This test reads the core's sources
    //! and fails on any `crate::op` or `crate::register` path outside doc
    //! comments, so the rule stays enforced.

    use std::path::{Path, PathBuf};

    /// The core's files and directories, relative to `src/`.
    const CORE: &[&str] = &[
        "raw",
        "layout.rs",
        "memory.rs",
        "entry.rs",
        "squeue.rs",
        "cqueue.rs",
        "ring",
        "builder.rs",
        "error.rs",
        "errno.rs",
        "flags.rs",
    ];

    /// The modules the core must not name.
    const FORBIDDEN: &[&str] = &["op", "register"];

    fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).expect("read_dir") {
                rust_files(&entry.expect("dir entry").path(), out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.to_path_buf());
        }
    }

    /// The forbidden modules `code` names through `crate::`: as a path
    /// (`crate::op::Nop`) or in a group (`crate::{op, ...}`).
    fn forbidden_paths(code: &str) -> Vec<&'static str> {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        let mut found = Vec::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or("").split(',').map(str::trim).collect(),
                None => vec![rest],
            };
            for name in names {
                for &module in FORBIDDEN {
                    if name.starts_with(module) && !name[module.len()..].starts_with(ident) {
                        found.push(module);
                    }
                }
            }
        }
        found
    }

    #[test]
    fn core_does_not_import_op_or_register() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        for part in CORE {
            rust_files(&src.join(part), &mut files);
        }
        assert!(files.len() >= CORE.len(), "core files not found under {}", src.display());
        let mut offences = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).expect("read a core file");
            for (n, line) in text.lines().enumerate() {
                let trimmed = line.trim_start();
                if trimmed.starts_with("///") || trimmed.starts_with("//!") {
                    continue;
                }
                for module in forbidden_paths(line) {
                    offences.push(format!("{}:{}: crate::{module} in `{}`", file.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(offences.is_empty(), "the core imports op/ or register/:\n{}", offences.join("\n"));
    }

    #[test]
    fn the_check_sees_what_it_must() {
        assert_eq!(forbidden_paths("use crate::op::Nop;"), ["op"]);
        assert_eq!(forbidden_paths("let x = crate::register::files::SKIP;"), ["register"]);
        assert_eq!(forbidden_paths("use crate::{abi, op};"), ["op"]);
        assert!(forbidden_paths("use crate::abi::register_op;").is_empty());
        assert!(forbidden_paths("use crate::opcodes; use crate::registers;").is_empty());
    }
}
