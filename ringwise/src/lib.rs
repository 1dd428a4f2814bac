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
//! * [`op`]: typed SQE builders.
//! * [`probe`]: what the running kernel supports.
//! * [`verify`]: proof on the running kernel that [`layout`] is exact (each
//!   region in exactly its bytes before a guard page works; a page less is
//!   refused by ringwise and faults in the kernel). `ringwise verify` runs it.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]

pub mod abi;
mod builder;
pub mod cqueue;
pub mod entry;
mod error;
pub mod flags;
pub mod layout;
pub mod memory;
pub mod op;
pub mod probe;
pub mod register;
mod ring;
pub mod squeue;
pub mod sys;
pub mod verify;

pub use builder::Builder;
pub use cqueue::CompletionQueue;
pub use entry::{BigCqe, BigSqe, Cqe, Cqe16, Cqe32, CqeMixed, CqeSize, Sqe, Sqe128, Sqe64, SqeMixed, SqeSize};
pub use error::{errno_name, Error, Region, Result};
pub use flags::{Features, SetupFlags, SqeFlags};
pub use layout::{Layout, RingSpec};
pub use memory::{Arena, CallerMemory, Carve, Mapping, Pages, RingMemory};
pub use ring::{MemoryReport, Ring, Submitted};
pub use squeue::{SqFull, SubmissionQueue};
