//! Typed flag sets: setup flags, feature bits and per-SQE flags, with the
//! kernel's names. Only the types: the rules on which setup flags go
//! together are in [`layout`](crate::layout) (`SetupFlags::check_companions`),
//! with the kernel's other rules for what `io_uring_setup` accepts.

use crate::abi;
use linux_raw_sys::io_uring as k;

bitflags::bitflags! {
    /// `IORING_SETUP_*`: how a ring is created.
    ///
    /// Names are the kernel's without the `IORING_SETUP_` prefix, so that
    /// `SetupFlags::parse_name("SQE128")` and the CLI's `--flags` agree with the
    /// kernel headers.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SetupFlags: u32 {
        /// Busy-poll for I/O completion (O_DIRECT on polled block devices).
        const IOPOLL = k::IORING_SETUP_IOPOLL;
        /// A kernel thread polls the SQ.
        const SQPOLL = k::IORING_SETUP_SQPOLL;
        /// Pin the SQPOLL thread to `sq_thread_cpu`. Needs `SQPOLL`.
        const SQ_AFF = k::IORING_SETUP_SQ_AFF;
        /// `cq_entries` is given explicitly.
        const CQSIZE = k::IORING_SETUP_CQSIZE;
        /// Clamp too-large entry counts instead of failing.
        const CLAMP = k::IORING_SETUP_CLAMP;
        /// Share the io-wq backend of the ring in `wq_fd`.
        const ATTACH_WQ = k::IORING_SETUP_ATTACH_WQ;
        /// Start disabled; enable with `IORING_REGISTER_ENABLE_RINGS`.
        const R_DISABLED = k::IORING_SETUP_R_DISABLED;
        /// Keep submitting after an SQE fails to prepare.
        const SUBMIT_ALL = k::IORING_SETUP_SUBMIT_ALL;
        /// Run task work only on transitions into the kernel.
        const COOP_TASKRUN = k::IORING_SETUP_COOP_TASKRUN;
        /// Set `IORING_SQ_TASKRUN` when task work is pending. Needs
        /// `COOP_TASKRUN` or `DEFER_TASKRUN`.
        const TASKRUN_FLAG = k::IORING_SETUP_TASKRUN_FLAG;
        /// 128-byte SQEs. Follows from the ring's SQE type, never set by hand.
        const SQE128 = k::IORING_SETUP_SQE128;
        /// 32-byte CQEs. Follows from the ring's CQE type, never set by hand.
        const CQE32 = k::IORING_SETUP_CQE32;
        /// Only one task submits.
        const SINGLE_ISSUER = k::IORING_SETUP_SINGLE_ISSUER;
        /// Defer task work until the issuer waits. Needs `SINGLE_ISSUER`.
        const DEFER_TASKRUN = k::IORING_SETUP_DEFER_TASKRUN;
        /// The rings live in memory the application provides.
        const NO_MMAP = k::IORING_SETUP_NO_MMAP;
        /// Return a registered ring index instead of an fd. Needs `NO_MMAP`.
        const REGISTERED_FD_ONLY = k::IORING_SETUP_REGISTERED_FD_ONLY;
        /// No SQ index array: SQEs are consumed in ring order.
        const NO_SQARRAY = k::IORING_SETUP_NO_SQARRAY;
        /// Hybrid polling for IOPOLL. Needs `IOPOLL`.
        const HYBRID_IOPOLL = k::IORING_SETUP_HYBRID_IOPOLL;
        /// CQ ring of 16-byte slots where a 32-byte CQE takes two (6.18).
        /// Follows from the ring's CQE type.
        const CQE_MIXED = abi::IORING_SETUP_CQE_MIXED;
        /// SQ ring of 64-byte slots where a 128-byte SQE takes two (6.19).
        /// Follows from the ring's SQE type.
        const SQE_MIXED = abi::IORING_SETUP_SQE_MIXED;
    }
}

/// The flags that change entry sizes. They follow from a ring's entry types.
pub const SIZE_FLAGS: SetupFlags =
    SetupFlags::SQE128.union(SetupFlags::CQE32).union(SetupFlags::CQE_MIXED).union(SetupFlags::SQE_MIXED);

impl SetupFlags {
    /// Parse one flag name as the kernel spells it, with or without the
    /// `IORING_SETUP_` prefix, case-insensitively.
    pub fn parse_name(name: &str) -> Option<SetupFlags> {
        let trimmed = name.trim();
        let upper = trimmed.to_ascii_uppercase();
        let bare = upper.strip_prefix("IORING_SETUP_").unwrap_or(&upper);
        SetupFlags::from_name_exact(bare)
    }

    fn from_name_exact(name: &str) -> Option<SetupFlags> {
        <SetupFlags as bitflags::Flags>::from_name(name)
    }

    /// Parse a comma-separated list such as `SQE128,CQE32,CLAMP`.
    pub fn parse_list(list: &str) -> Result<SetupFlags, String> {
        let mut flags = SetupFlags::empty();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match SetupFlags::parse_name(part) {
                Some(f) => flags |= f,
                None => {
                    let known: Vec<&str> = SetupFlags::all().iter_names().map(|(n, _)| n).collect();
                    return Err(format!("unknown setup flag `{part}`; known flags: {}", known.join(", ")));
                }
            }
        }
        Ok(flags)
    }

    /// Comma-separated names, the inverse of [`SetupFlags::parse_list`].
    pub fn names(self) -> String {
        let names: Vec<&str> = self.iter_names().map(|(n, _)| n).collect();
        names.join(",")
    }
}

bitflags::bitflags! {
    /// `IORING_FEAT_*`: what the running kernel reports in `params.features`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Features: u32 {
        /// One mmap maps both the SQ and CQ rings (Linux 5.4).
        const SINGLE_MMAP = k::IORING_FEAT_SINGLE_MMAP;
        /// CQEs are never dropped on CQ overflow; they wait in the kernel (5.5).
        const NODROP = k::IORING_FEAT_NODROP;
        /// SQE data is consumed at submit, so it need not outlive the submit (5.5).
        const SUBMIT_STABLE = k::IORING_FEAT_SUBMIT_STABLE;
        /// Offset -1 reads and writes at the file position (5.6).
        const RW_CUR_POS = k::IORING_FEAT_RW_CUR_POS;
        /// Requests run with the submitting task's credentials (5.6).
        const CUR_PERSONALITY = k::IORING_FEAT_CUR_PERSONALITY;
        /// Pollable files are polled internally instead of using a worker (5.7).
        const FAST_POLL = k::IORING_FEAT_FAST_POLL;
        /// Poll masks are 32 bits wide (`EPOLLEXCLUSIVE` and more) (5.9).
        const POLL_32BITS = k::IORING_FEAT_POLL_32BITS;
        /// SQPOLL works with plain, non-registered files (5.11).
        const SQPOLL_NONFIXED = k::IORING_FEAT_SQPOLL_NONFIXED;
        /// `io_uring_enter` takes `io_uring_getevents_arg` (`IORING_ENTER_EXT_ARG`): waits with a timeout (5.11).
        const EXT_ARG = k::IORING_FEAT_EXT_ARG;
        /// Async workers are threads of the submitting process (5.12).
        const NATIVE_WORKERS = k::IORING_FEAT_NATIVE_WORKERS;
        /// Registered files and buffers can carry tags (5.13).
        const RSRC_TAGS = k::IORING_FEAT_RSRC_TAGS;
        /// `IOSQE_CQE_SKIP_SUCCESS` is supported (5.17).
        const CQE_SKIP = k::IORING_FEAT_CQE_SKIP;
        /// Linked requests resolve their files when they run (5.17).
        const LINKED_FILE = k::IORING_FEAT_LINKED_FILE;
        /// `io_uring_register` takes a registered ring index (6.3).
        const REG_REG_RING = k::IORING_FEAT_REG_REG_RING;
        /// Send and receive bundles from provided buffers (6.10).
        const RECVSEND_BUNDLE = k::IORING_FEAT_RECVSEND_BUNDLE;
        /// Waits take a minimum wait time (`min_wait_usec`) (6.12).
        const MIN_TIMEOUT = k::IORING_FEAT_MIN_TIMEOUT;
        /// Reads and writes take attributes (e.g. protection information) (6.15).
        const RW_ATTR = k::IORING_FEAT_RW_ATTR;
        /// `IORING_ENTER_NO_IOWAIT`: waits need not count as iowait (6.15).
        const NO_IOWAIT = k::IORING_FEAT_NO_IOWAIT;
        // Bits a newer kernel reports stay visible in `bits()`.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// `IOSQE_*`: per-SQE flags.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SqeFlags: u8 {
        /// `fd` is an index into the registered file table.
        const FIXED_FILE = 1 << k::io_uring_sqe_flags_bit::IOSQE_FIXED_FILE_BIT as u8;
        /// Start only after every earlier SQE has completed.
        const IO_DRAIN = 1 << k::io_uring_sqe_flags_bit::IOSQE_IO_DRAIN_BIT as u8;
        /// The next SQE starts only after this one succeeds.
        const IO_LINK = 1 << k::io_uring_sqe_flags_bit::IOSQE_IO_LINK_BIT as u8;
        /// Like `IO_LINK`, but the chain continues whatever this one returns.
        const IO_HARDLINK = 1 << k::io_uring_sqe_flags_bit::IOSQE_IO_HARDLINK_BIT as u8;
        /// Always issue asynchronously (io-wq).
        const ASYNC = 1 << k::io_uring_sqe_flags_bit::IOSQE_ASYNC_BIT as u8;
        /// Pick a buffer from the buffer group in `buf_group`.
        const BUFFER_SELECT = 1 << k::io_uring_sqe_flags_bit::IOSQE_BUFFER_SELECT_BIT as u8;
        /// Post no CQE when this SQE succeeds.
        const CQE_SKIP_SUCCESS = 1 << k::io_uring_sqe_flags_bit::IOSQE_CQE_SKIP_SUCCESS_BIT as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (name, flag) in SetupFlags::all().iter_names() {
            assert_eq!(SetupFlags::parse_name(name), Some(flag));
            assert_eq!(SetupFlags::parse_name(&format!("ioring_setup_{}", name.to_lowercase())), Some(flag));
        }
        let list = SetupFlags::parse_list("SQE128, cqe32,CLAMP").unwrap();
        assert_eq!(list, SetupFlags::SQE128 | SetupFlags::CQE32 | SetupFlags::CLAMP);
        assert_eq!(SetupFlags::parse_list(&list.names()).unwrap(), list);
        let err = SetupFlags::parse_list("SQE256").unwrap_err();
        assert!(err.contains("SQE256") && err.contains("SQE128"), "{err}");
    }
}
