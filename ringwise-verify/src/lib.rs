//! Kernel-verified layout: proof, on the running kernel, that
//! [`ringwise::Layout`] gives exactly the bytes the kernel uses.
//!
//! The kernel is never told how long caller memory is (`IORING_SETUP_NO_MMAP`
//! passes only addresses), so a layout that is a page too small goes unnoticed
//! wherever the next page happens to be mapped. Here every region is placed in
//! a [`GuardedRegion`]: exactly the layout's bytes, followed by a `PROT_NONE`
//! page. Then, per configuration:
//!
//! * **exact**: the ring is built in regions of exactly the layout's size and
//!   runs I/O (the whole SQ filled with NOPs, every CQE matched, the CQ
//!   wrapped, nothing dropped). The kernel would have faulted on the guard if
//!   it needed a byte more.
//! * **ringwise refuses short**: each region one page short is refused by
//!   ringwise with [`ringwise::Error::MemoryTooSmall`] naming both numbers,
//!   before any syscall.
//! * **kernel refuses short**: the same short region forced through the raw
//!   syscall fails with `EFAULT` (the kernel needed the page that is the guard),
//!   so the kernel needs no fewer bytes than the layout says either.
//! * **kernel offsets**: a kernel-mapped ring of the same shape returns the
//!   entry counts, `cq_off.cqes` and `sq_off.array` the layout computed.
//!
//! A configuration the layout refuses is instead checked to be refused by the
//! kernel with the same errno. Configurations the kernel refuses for reasons
//! that have nothing to do with memory (a flag it does not know, missing
//! privileges) are skipped with the reason; they never count as passed.
//!
//! [`verify_config`] returns an [`Outcome`] with each check's result and a
//! sentence; it never panics. The `ringwise verify` command and the test suite
//! both run [`default_configs`].
//!
//! This crate is a workspace member that is not published (`publish =
//! false`): it is the harness behind `ringwise verify` and the layout tests,
//! and it uses only ringwise's public API (the safe builders and, for the
//! checks that must bypass ringwise, [`ringwise::raw`]).
//!
//! The modules, by job:
//!
//! * `configs`: the configuration list and configuration labels;
//! * `guard`: [`GuardedRegion`], memory followed by a `PROT_NONE` page;
//! * `check`: [`verify_config`] and the checks that go through ringwise;
//! * `kernel`: the checks that go straight to the kernel (raw syscalls);
//! * `report`: the results, per check, per configuration and in sum;
//! * `memlock`: the proof that `ringwise::memlock::ring` is the exact
//!   `RLIMIT_MEMLOCK` charge of a ring ([`verify_memlock`]).
//!
//! ```no_run
//! use ringwise_verify::{default_configs, verify_config, Summary};
//!
//! let outcomes: Vec<_> = default_configs().iter().map(verify_config).collect();
//! println!("{}", Summary::of(&outcomes));
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]

mod check;
mod configs;
mod guard;
mod kernel;
mod memlock;
mod report;

pub use check::verify_config;
pub use configs::{default_configs, spec_label};
pub use guard::GuardedRegion;
pub use memlock::{memlock_configs, memlock_skip_reason, verify_memlock, MemlockProof};
pub use report::{Check, CheckKind, CheckResult, Outcome, Status, Summary};
