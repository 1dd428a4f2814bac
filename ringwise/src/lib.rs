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
//! * [`verify`]: proof on the running kernel that [`layout`] is exact (each
//!   region in exactly its bytes before a guard page works; a page less is
//!   refused by ringwise and faults in the kernel). `ringwise verify` runs it.
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
pub mod probe;
pub mod raw;
pub mod register;
mod ring;
pub mod squeue;
pub mod verify;

pub(crate) use raw::{abi, sys};

pub use builder::Builder;
pub use cqueue::CompletionQueue;
pub use entry::{BigCqe, BigSqe, Cqe, Cqe16, Cqe32, CqeMixed, CqeSize, Sqe, Sqe128, Sqe64, SqeMixed, SqeSize};
pub use errno::errno_name;
pub use error::{Error, Region, Result, Table};
pub use flags::{Features, SetupFlags, SqeFlags};
pub use layout::{Layout, RingSpec};
pub use memory::{Arena, CallerMemory, Carve, Mapping, Pages, RingMemory};
pub use ring::{MemoryReport, Ring, Submitted};
pub use squeue::{SqFull, SubmissionQueue};

/// The errno type of [`Cqe::result`] and [`Error::errno`] (rustix's), so
/// that results can be compared by name: `Err(Errno::NOBUFS)`.
pub use rustix::io::Errno;
