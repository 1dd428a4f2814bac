//! The raw layer: the kernel's io_uring ABI and the three system calls,
//! with no ownership and no checks.
//!
//! Everything else in ringwise is built on this module, and it is public so
//! that tools (the verification harness, benchmarks, a caller who needs a
//! field ringwise does not wrap yet) can speak to the kernel directly. Using
//! it means taking over every rule the safe layer enforces: the syscalls are
//! `unsafe`, and nothing here knows which ring memory is whose.
//!
//! * [`abi`]: structures and constants of `<linux/io_uring.h>` (from
//!   linux-raw-sys, plus what its release lacks, each with the kernel
//!   version that added it).
//! * [`sys`]: `io_uring_setup`, `io_uring_enter`, `io_uring_register`, inline
//!   so that the enter call sits in the caller's submit loop.

pub mod abi;
pub mod sys;
