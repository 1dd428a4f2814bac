//! The opcode catalog: every `IORING_OP_*`, the ringwise builder(s) that
//! prepare it, the liburing helpers they replace, and the kernel release that
//! added it. `docs/opcodes.md` prints it with this kernel's probe result, and
//! [`check`](super::check) names the release in its "unsupported" error.

/// One opcode's entry in [`CATALOG`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpInfo {
    /// `IORING_OP_*` number.
    pub opcode: u8,
    /// The kernel's name without `IORING_OP_`.
    pub name: &'static str,
    /// The `ringwise::op` builders that prepare it.
    pub builders: &'static [&'static str],
    /// The liburing `io_uring_prep_*` helpers they replace (empty: liburing
    /// has none).
    pub liburing: &'static [&'static str],
    /// The Linux release that added the opcode.
    pub since: &'static str,
}

impl OpInfo {
    /// The entry for `opcode`, if the catalog knows it.
    pub fn get(opcode: u8) -> Option<&'static OpInfo> {
        CATALOG.get(opcode as usize).filter(|info| info.opcode == opcode)
    }
}

macro_rules! catalog {
    ($($code:literal $name:literal $since:literal [$($b:literal),*] [$($l:literal),*];)*) => {
        /// Every opcode through the newest UAPI ringwise knows, indexed by number.
        pub const CATALOG: &[OpInfo] = &[$(OpInfo {
            opcode: $code,
            name: $name,
            builders: &[$($b),*],
            liburing: &[$(concat!("io_uring_prep_", $l)),*],
            since: $since,
        }),*];
    };
}

catalog! {
    0 "NOP" "5.1" ["Nop"] ["nop"];
    1 "READV" "5.1" ["Readv"] ["readv", "readv2"];
    2 "WRITEV" "5.1" ["Writev"] ["writev", "writev2"];
    3 "FSYNC" "5.1" ["Fsync"] ["fsync"];
    4 "READ_FIXED" "5.1" ["Read::fixed_buffer"] ["read_fixed"];
    5 "WRITE_FIXED" "5.1" ["Write::fixed_buffer"] ["write_fixed"];
    6 "POLL_ADD" "5.1" ["PollAdd"] ["poll_add", "poll_multishot"];
    7 "POLL_REMOVE" "5.1" ["PollRemove", "PollUpdate"] ["poll_remove", "poll_update"];
    8 "SYNC_FILE_RANGE" "5.2" ["SyncFileRange"] ["sync_file_range"];
    9 "SENDMSG" "5.3" ["SendMsg"] ["sendmsg"];
    10 "RECVMSG" "5.3" ["RecvMsg", "RecvMsgMulti"] ["recvmsg", "recvmsg_multishot"];
    11 "TIMEOUT" "5.4" ["Timeout"] ["timeout"];
    12 "TIMEOUT_REMOVE" "5.5" ["TimeoutRemove", "TimeoutUpdate", "LinkTimeoutUpdate"] ["timeout_remove", "timeout_update"];
    13 "ACCEPT" "5.5" ["Accept", "AcceptFrom"] ["accept", "accept_direct", "multishot_accept", "multishot_accept_direct"];
    14 "ASYNC_CANCEL" "5.5" ["AsyncCancel"] ["cancel", "cancel64", "cancel_fd"];
    15 "LINK_TIMEOUT" "5.5" ["LinkTimeout"] ["link_timeout"];
    16 "CONNECT" "5.5" ["Connect"] ["connect"];
    17 "FALLOCATE" "5.6" ["Fallocate"] ["fallocate"];
    18 "OPENAT" "5.6" ["OpenAt"] ["openat", "openat_direct", "open", "open_direct"];
    19 "CLOSE" "5.6" ["Close", "CloseFixed"] ["close", "close_direct"];
    20 "FILES_UPDATE" "5.6" ["FilesUpdate"] ["files_update"];
    21 "STATX" "5.6" ["Statx"] ["statx"];
    22 "READ" "5.6" ["Read", "ReadProvided"] ["read"];
    23 "WRITE" "5.6" ["Write"] ["write"];
    24 "FADVISE" "5.6" ["Fadvise"] ["fadvise", "fadvise64"];
    25 "MADVISE" "5.6" ["Madvise"] ["madvise", "madvise64"];
    26 "SEND" "5.6" ["Send", "SendProvided"] ["send", "sendto", "send_set_addr", "send_bundle"];
    27 "RECV" "5.6" ["Recv", "RecvProvided"] ["recv", "recv_multishot"];
    28 "OPENAT2" "5.6" ["OpenAt2"] ["openat2", "openat2_direct"];
    29 "EPOLL_CTL" "5.6" ["EpollCtl"] ["epoll_ctl"];
    30 "SPLICE" "5.7" ["Splice"] ["splice"];
    31 "PROVIDE_BUFFERS" "5.7" ["ProvideBuffers"] ["provide_buffers"];
    32 "REMOVE_BUFFERS" "5.7" ["RemoveBuffers"] ["remove_buffers"];
    33 "TEE" "5.8" ["Tee"] ["tee"];
    34 "SHUTDOWN" "5.11" ["Shutdown"] ["shutdown"];
    35 "RENAMEAT" "5.11" ["RenameAt"] ["renameat", "rename"];
    36 "UNLINKAT" "5.11" ["UnlinkAt"] ["unlinkat", "unlink"];
    37 "MKDIRAT" "5.15" ["MkdirAt"] ["mkdirat", "mkdir"];
    38 "SYMLINKAT" "5.15" ["SymlinkAt"] ["symlinkat", "symlink"];
    39 "LINKAT" "5.15" ["LinkAt"] ["linkat", "link"];
    40 "MSG_RING" "5.18" ["MsgRingData", "MsgRingFd"] ["msg_ring", "msg_ring_cqe_flags", "msg_ring_fd", "msg_ring_fd_alloc"];
    41 "FSETXATTR" "5.19" ["FSetXattr"] ["fsetxattr"];
    42 "SETXATTR" "5.19" ["SetXattr"] ["setxattr"];
    43 "FGETXATTR" "5.19" ["FGetXattr"] ["fgetxattr"];
    44 "GETXATTR" "5.19" ["GetXattr"] ["getxattr"];
    45 "SOCKET" "5.19" ["Socket"] ["socket", "socket_direct", "socket_direct_alloc"];
    46 "URING_CMD" "5.19" ["UringCmd", "UringCmd80", "SocketQueue", "GetSockOpt", "SetSockOpt", "GetSockName", "BlockDiscard"]
        ["cmd_sock", "uring_cmd", "cmd_getsockname", "cmd_discard"];
    47 "SEND_ZC" "6.0" ["SendZc"] ["send_zc", "send_zc_fixed"];
    48 "SENDMSG_ZC" "6.1" ["SendMsgZc"] ["sendmsg_zc", "sendmsg_zc_fixed"];
    49 "READ_MULTISHOT" "6.7" ["ReadMulti"] ["read_multishot"];
    50 "WAITID" "6.7" ["WaitId"] ["waitid"];
    51 "FUTEX_WAIT" "6.7" ["FutexWait"] ["futex_wait"];
    52 "FUTEX_WAKE" "6.7" ["FutexWake"] ["futex_wake"];
    53 "FUTEX_WAITV" "6.7" ["FutexWaitv"] ["futex_waitv"];
    54 "FIXED_FD_INSTALL" "6.8" ["FixedFdInstall"] ["fixed_fd_install"];
    55 "FTRUNCATE" "6.9" ["Ftruncate"] ["ftruncate"];
    56 "BIND" "6.11" ["Bind"] ["bind"];
    57 "LISTEN" "6.11" ["Listen"] ["listen"];
    58 "RECV_ZC" "6.15" ["RecvZc"] [];
    59 "EPOLL_WAIT" "6.15" ["EpollWait"] ["epoll_wait"];
    60 "READV_FIXED" "6.15" ["Readv::fixed_buffer"] ["readv_fixed"];
    61 "WRITEV_FIXED" "6.15" ["Writev::fixed_buffer"] ["writev_fixed"];
    62 "PIPE" "6.16" ["Pipe"] ["pipe", "pipe_direct"];
    63 "NOP128" "6.19" ["Nop128"] ["nop128"];
    64 "URING_CMD128" "6.19" ["UringCmd128"] ["uring_cmd128"];
}

/// A liburing `io_uring_prep_*` helper with no ringwise builder of its own,
/// and why none is needed. With [`CATALOG`]'s `liburing` lists this covers
/// every helper of the newest liburing release (`docs/opcodes.md`, "liburing
/// helpers without a separate builder").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiburingWithoutBuilder {
    /// The helper's full name.
    pub helper: &'static str,
    /// Why ringwise has no builder for it.
    pub why: &'static str,
}

/// The liburing helpers that map to no builder (see [`LiburingWithoutBuilder`]).
pub const LIBURING_WITHOUT_BUILDER: &[LiburingWithoutBuilder] = &[LiburingWithoutBuilder {
    helper: "io_uring_prep_rw",
    why: "liburing's generic base that the other helpers call: it stores opcode, fd, addr, len and off and \
          nothing else, so it is no SQE encoding of its own. Every ringwise builder writes all 64 bytes of its \
          SQE itself; an SQE filled by hand goes through the unsafe SubmissionQueue::push_raw.",
}];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every `io_uring_prep_*` helper that liburing 2.15 exports, without the
    /// prefix: the public inline functions of `src/include/liburing.h` (equal
    /// to the `io_uring_prep_*` symbols of `src/liburing-ffi.map`) at tag
    /// `liburing-2.15`, commit d41bf9220ec39277ff235379e9089d9e0fd6c2a5 (the
    /// newest release on 2026-08-19; master then also had
    /// `cmd_zone_reset_all`, unreleased). 103 helpers.
    #[rustfmt::skip]
    const LIBURING_2_15: &[&str] = &[
        "accept", "accept_direct", "bind", "cancel", "cancel64", "cancel_fd", "close", "close_direct", "cmd_discard",
        "cmd_getsockname", "cmd_sock", "connect", "epoll_ctl", "epoll_wait", "fadvise", "fadvise64", "fallocate",
        "fgetxattr", "files_update", "fixed_fd_install", "fsetxattr", "fsync", "ftruncate", "futex_wait",
        "futex_waitv", "futex_wake", "getxattr", "link", "link_timeout", "linkat", "listen", "madvise", "madvise64",
        "mkdir", "mkdirat", "msg_ring", "msg_ring_cqe_flags", "msg_ring_fd", "msg_ring_fd_alloc", "multishot_accept",
        "multishot_accept_direct", "nop", "nop128", "open", "open_direct", "openat", "openat2", "openat2_direct",
        "openat_direct", "pipe", "pipe_direct", "poll_add", "poll_multishot", "poll_remove", "poll_update",
        "provide_buffers", "read", "read_fixed", "read_multishot", "readv", "readv2", "readv_fixed", "recv",
        "recv_multishot", "recvmsg", "recvmsg_multishot", "remove_buffers", "rename", "renameat", "rw", "send",
        "send_bundle", "send_set_addr", "send_zc", "send_zc_fixed", "sendmsg", "sendmsg_zc", "sendmsg_zc_fixed",
        "sendto", "setxattr", "shutdown", "socket", "socket_direct", "socket_direct_alloc", "splice", "statx",
        "symlink", "symlinkat", "sync_file_range", "tee", "timeout", "timeout_remove", "timeout_update", "unlink",
        "unlinkat", "uring_cmd", "uring_cmd128", "waitid", "write", "write_fixed", "writev", "writev2",
        "writev_fixed",
    ];

    fn mapped() -> Vec<&'static str> {
        CATALOG.iter().flat_map(|info| info.liburing.iter().copied()).collect()
    }

    #[test]
    fn liburing_helpers_are_each_accounted_for_once() {
        let mut seen = BTreeSet::new();
        let listed = LIBURING_WITHOUT_BUILDER.iter().map(|h| h.helper);
        for name in mapped().into_iter().chain(listed) {
            assert!(name.starts_with("io_uring_prep_"), "{name}");
            assert!(seen.insert(name), "{name} appears twice (catalog and/or the without-builder list)");
        }
        let release: BTreeSet<String> = LIBURING_2_15.iter().map(|h| format!("io_uring_prep_{h}")).collect();
        assert_eq!(release.len(), LIBURING_2_15.len(), "the hard-coded list repeats a name");
        assert_eq!(release.len(), 103);
        let ours: BTreeSet<String> = seen.iter().map(|s| s.to_string()).collect();
        let missing: Vec<_> = release.difference(&ours).collect();
        let unknown: Vec<_> = ours.difference(&release).collect();
        assert!(missing.is_empty(), "liburing 2.15 helpers neither in CATALOG nor listed: {missing:?}");
        assert!(unknown.is_empty(), "helpers that liburing 2.15 does not have: {unknown:?}");
        assert_eq!(mapped().len(), 102, "helpers with a builder");
    }

    #[test]
    fn the_opcode_doc_lists_every_helper_where_the_catalog_puts_it() {
        let doc = include_str!("../../../docs/opcodes.md");
        let heading = "## liburing helpers without a separate builder";
        let (table, rest) = doc.split_once(heading).expect("docs/opcodes.md lacks the without-builder section");
        let section = rest.split("\n## ").next().unwrap_or(rest);
        for h in LIBURING_WITHOUT_BUILDER {
            assert!(section.contains(&format!("`{}`", h.helper)), "{} missing from the doc section", h.helper);
        }
        for info in CATALOG {
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("| {} | `{}` |", info.opcode, info.name)))
                .unwrap_or_else(|| panic!("no row for {} in docs/opcodes.md", info.name));
            for helper in info.liburing {
                let found = row.split(['|', ',']).any(|cell| cell.trim() == *helper);
                assert!(found, "the doc row of {} lacks {helper}", info.name);
            }
            for builder in info.builders {
                assert!(row.contains(&format!("`op::{builder}`")), "the doc row of {} lacks {builder}", info.name);
            }
        }
    }

    #[test]
    fn catalog_is_indexed_by_opcode_and_agrees_with_the_abi_names() {
        assert_eq!(CATALOG.len(), crate::abi::OPCODE_NAMES.len());
        for (i, info) in CATALOG.iter().enumerate() {
            assert_eq!(info.opcode as usize, i);
            assert_eq!(info.name, crate::abi::OPCODE_NAMES[i]);
            assert!(!info.builders.is_empty(), "{} has no builder", info.name);
            assert_eq!(OpInfo::get(info.opcode), Some(info));
        }
        assert_eq!(OpInfo::get(200), None);
    }
}
