//! The raw layer: the kernel's io_uring ABI, the three system calls, and
//! the one owner at this level, [`RingFd`].
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
//! * [`RingFd`] (in `ring_fd`): owns a ring's fd and/or its registered ring
//!   index, and releases each the right way on drop (close; unregister, on
//!   the registering thread only).

pub mod abi;
mod ring_fd;
pub mod sys;

pub use ring_fd::RingFd;
pub(crate) use ring_fd::{thread_token, thread_token_if_any, NO_THREAD};
