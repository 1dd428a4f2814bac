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
    18 "OPENAT" "5.6" ["OpenAt"] ["openat", "openat_direct"];
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
    46 "URING_CMD" "5.19" ["UringCmd", "UringCmd80", "SocketQueue", "GetSockOpt", "SetSockOpt"] ["cmd_sock", "uring_cmd"];
    47 "SEND_ZC" "6.0" ["SendZc"] ["send_zc", "send_zc_fixed"];
    48 "SENDMSG_ZC" "6.1" ["SendMsgZc"] ["sendmsg_zc"];
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

#[cfg(test)]
mod tests {
    use super::*;

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
