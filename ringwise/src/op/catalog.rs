//! The opcode table: every `IORING_OP_*`, declared once. Each line gives the
//! opcode's number and kernel name, the ringwise builder(s) that prepare it,
//! the liburing helpers they replace and the Linux release that added it;
//! from it come [`opcode`] (the constants), [`CATALOG`], [`name`], each
//! builder's `CODE` constant and its common setters (`user_data`, `flags`,
//! `personality`). `docs/opcodes.md` prints the table with this kernel's
//! probe result, and [`check`](fn@super::check) names the release in its
//! "unsupported" error.

use super::*;

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

/// The kernel's name of `opcode` without `IORING_OP_` (`name(22) ==
/// Some("READ")`), or `None` for a number the table does not know.
pub fn name(opcode: u8) -> Option<&'static str> {
    OpInfo::get(opcode).map(|info| info.name)
}

/// Expands the table: `number NAME "since" [Builder, Builder::method => CONST]
/// [liburing_helper, ...];`. A plain `Builder` gets `Builder::CODE` and the
/// common setters; `Builder::method => CONST` names a builder option that
/// switches to this opcode and gets `Builder::CONST`.
macro_rules! opcodes {
    ($($code:literal $name:ident $since:literal
        [$($b:ident $(:: $m:ident => $c:ident)?),*] [$($l:ident),*];)*) => {
        /// Opcode numbers, `IORING_OP_*` as `u8`, from the opcode table.
        pub mod opcode {
            $(
                #[doc = concat!("`IORING_OP_", stringify!($name), "` (Linux ", $since, ").")]
                pub const $name: u8 = $code;
            )*
        }

        /// Every opcode through the newest UAPI ringwise knows, indexed by number.
        pub const CATALOG: &[OpInfo] = &[$(OpInfo {
            opcode: $code,
            name: stringify!($name),
            builders: &[$(concat!(stringify!($b) $(, "::", stringify!($m))?)),*],
            liburing: &[$(concat!("io_uring_prep_", stringify!($l))),*],
            since: $since,
        }),*];

        $($(opcodes!(@builder $b $(:: $m => $c)?, $code, $name, $since);)*)*
    };
    (@builder $b:ident, $code:literal, $name:ident, $since:literal) => {
        impl $b {
            #[doc = concat!("`IORING_OP_", stringify!($name), "` (", stringify!($code), ", Linux ", $since,
                "), the opcode this op writes.")]
            pub const CODE: u8 = $code;
        }
        setters!(impl $b {
            /// The value echoed in this op's CQE(s) ([`Cqe::user_data`](crate::Cqe::user_data)).
            #[inline]
            pub fn user_data(mut self, user_data: u64) -> Self {
                self.common.user_data = user_data;
                self
            }
            /// `IOSQE_*` flags: link, drain, async, skip-success, ... (a
            /// fixed-file target adds `FIXED_FILE` itself).
            #[inline]
            pub fn flags(mut self, flags: $crate::flags::SqeFlags) -> Self {
                self.common.flags = flags;
                self
            }
            /// Run with the credentials of registered personality
            /// `personality` (`IORING_REGISTER_PERSONALITY`, Linux 5.6).
            #[inline]
            pub fn personality(mut self, personality: u16) -> Self {
                self.common.personality = personality;
                self
            }
        });
    };
    (@builder $b:ident :: $m:ident => $c:ident, $code:literal, $name:ident, $since:literal) => {
        impl $b {
            #[doc = concat!("`IORING_OP_", stringify!($name), "` (", stringify!($code), ", Linux ", $since,
                "), the opcode this op writes with [`", stringify!($m), "`](Self::", stringify!($m), ").")]
            pub const $c: u8 = $code;
        }
    };
}

opcodes! {
    0 NOP "5.1" [Nop] [nop];
    1 READV "5.1" [Readv] [readv, readv2];
    2 WRITEV "5.1" [Writev] [writev, writev2];
    3 FSYNC "5.1" [Fsync] [fsync];
    4 READ_FIXED "5.1" [Read::fixed_buffer => FIXED_CODE] [read_fixed];
    5 WRITE_FIXED "5.1" [Write::fixed_buffer => FIXED_CODE] [write_fixed];
    6 POLL_ADD "5.1" [PollAdd] [poll_add, poll_multishot];
    7 POLL_REMOVE "5.1" [PollRemove, PollUpdate] [poll_remove, poll_update];
    8 SYNC_FILE_RANGE "5.2" [SyncFileRange] [sync_file_range];
    9 SENDMSG "5.3" [SendMsg] [sendmsg];
    10 RECVMSG "5.3" [RecvMsg, RecvMsgMulti] [recvmsg, recvmsg_multishot];
    11 TIMEOUT "5.4" [Timeout] [timeout];
    12 TIMEOUT_REMOVE "5.5" [TimeoutRemove, TimeoutUpdate, LinkTimeoutUpdate] [timeout_remove, timeout_update];
    13 ACCEPT "5.5" [Accept, AcceptFrom] [accept, accept_direct, multishot_accept, multishot_accept_direct];
    14 ASYNC_CANCEL "5.5" [AsyncCancel] [cancel, cancel64, cancel_fd];
    15 LINK_TIMEOUT "5.5" [LinkTimeout] [link_timeout];
    16 CONNECT "5.5" [Connect] [connect];
    17 FALLOCATE "5.6" [Fallocate] [fallocate];
    18 OPENAT "5.6" [OpenAt] [openat, openat_direct, open, open_direct];
    19 CLOSE "5.6" [Close, CloseFixed] [close, close_direct];
    20 FILES_UPDATE "5.6" [FilesUpdate] [files_update];
    21 STATX "5.6" [Statx] [statx];
    22 READ "5.6" [Read, ReadProvided] [read];
    23 WRITE "5.6" [Write] [write];
    24 FADVISE "5.6" [Fadvise] [fadvise, fadvise64];
    25 MADVISE "5.6" [Madvise] [madvise, madvise64];
    26 SEND "5.6" [Send, SendProvided] [send, sendto, send_set_addr, send_bundle];
    27 RECV "5.6" [Recv, RecvProvided] [recv, recv_multishot];
    28 OPENAT2 "5.6" [OpenAt2] [openat2, openat2_direct];
    29 EPOLL_CTL "5.6" [EpollCtl] [epoll_ctl];
    30 SPLICE "5.7" [Splice] [splice];
    31 PROVIDE_BUFFERS "5.7" [ProvideBuffers] [provide_buffers];
    32 REMOVE_BUFFERS "5.7" [RemoveBuffers] [remove_buffers];
    33 TEE "5.8" [Tee] [tee];
    34 SHUTDOWN "5.11" [Shutdown] [shutdown];
    35 RENAMEAT "5.11" [RenameAt] [renameat, rename];
    36 UNLINKAT "5.11" [UnlinkAt] [unlinkat, unlink];
    37 MKDIRAT "5.15" [MkdirAt] [mkdirat, mkdir];
    38 SYMLINKAT "5.15" [SymlinkAt] [symlinkat, symlink];
    39 LINKAT "5.15" [LinkAt] [linkat, link];
    40 MSG_RING "5.18" [MsgRingData, MsgRingFd] [msg_ring, msg_ring_cqe_flags, msg_ring_fd, msg_ring_fd_alloc];
    41 FSETXATTR "5.19" [FSetXattr] [fsetxattr];
    42 SETXATTR "5.19" [SetXattr] [setxattr];
    43 FGETXATTR "5.19" [FGetXattr] [fgetxattr];
    44 GETXATTR "5.19" [GetXattr] [getxattr];
    45 SOCKET "5.19" [Socket] [socket, socket_direct, socket_direct_alloc];
    46 URING_CMD "5.19" [UringCmd, UringCmd80, SocketQueue, GetSockOpt, SetSockOpt, GetSockName, BlockDiscard] [cmd_sock, uring_cmd, cmd_getsockname, cmd_discard];
    47 SEND_ZC "6.0" [SendZc] [send_zc, send_zc_fixed];
    48 SENDMSG_ZC "6.1" [SendMsgZc] [sendmsg_zc, sendmsg_zc_fixed];
    49 READ_MULTISHOT "6.7" [ReadMulti] [read_multishot];
    50 WAITID "6.7" [WaitId] [waitid];
    51 FUTEX_WAIT "6.7" [FutexWait] [futex_wait];
    52 FUTEX_WAKE "6.7" [FutexWake] [futex_wake];
    53 FUTEX_WAITV "6.7" [FutexWaitv] [futex_waitv];
    54 FIXED_FD_INSTALL "6.8" [FixedFdInstall] [fixed_fd_install];
    55 FTRUNCATE "6.9" [Ftruncate] [ftruncate];
    56 BIND "6.11" [Bind] [bind];
    57 LISTEN "6.11" [Listen] [listen];
    58 RECV_ZC "6.15" [RecvZc] [];
    59 EPOLL_WAIT "6.15" [EpollWait] [epoll_wait];
    60 READV_FIXED "6.15" [Readv::fixed_buffer => FIXED_CODE] [readv_fixed];
    61 WRITEV_FIXED "6.15" [Writev::fixed_buffer => FIXED_CODE] [writev_fixed];
    62 PIPE "6.16" [Pipe] [pipe, pipe_direct];
    63 NOP128 "6.19" [Nop128] [nop128];
    64 URING_CMD128 "6.19" [UringCmd128] [uring_cmd128];
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
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| #")).collect();
        assert_eq!(rows.len(), CATALOG.len(), "docs/opcodes.md has one row per opcode");
        for (info, row) in CATALOG.iter().zip(rows) {
            // Every column but "this kernel" is derived from the table.
            let builders: Vec<String> = info.builders.iter().map(|b| format!("`op::{b}`")).collect();
            let helpers = if info.liburing.is_empty() { "(none)".to_string() } else { info.liburing.join(", ") };
            let want = format!(
                "| {} | `{}` | {} | {} | {} | ",
                info.opcode,
                info.name,
                builders.join(", "),
                helpers,
                info.since
            );
            assert!(row.starts_with(&want), "docs/opcodes.md row of {}:\n  is   {row}\n  want {want}...", info.name);
        }
    }

    #[test]
    fn catalog_is_indexed_by_opcode_and_agrees_with_the_kernel_numbers() {
        use linux_raw_sys::io_uring::io_uring_op as o;
        // The kernel's numbers, from the UAPI header (linux-raw-sys) and,
        // for the opcodes newer than its release, from `raw::abi`.
        let kernel: &[(u8, u32)] = &[
            (opcode::NOP, o::IORING_OP_NOP as u32),
            (opcode::READV, o::IORING_OP_READV as u32),
            (opcode::WRITEV, o::IORING_OP_WRITEV as u32),
            (opcode::FSYNC, o::IORING_OP_FSYNC as u32),
            (opcode::READ_FIXED, o::IORING_OP_READ_FIXED as u32),
            (opcode::WRITE_FIXED, o::IORING_OP_WRITE_FIXED as u32),
            (opcode::POLL_ADD, o::IORING_OP_POLL_ADD as u32),
            (opcode::POLL_REMOVE, o::IORING_OP_POLL_REMOVE as u32),
            (opcode::SYNC_FILE_RANGE, o::IORING_OP_SYNC_FILE_RANGE as u32),
            (opcode::SENDMSG, o::IORING_OP_SENDMSG as u32),
            (opcode::RECVMSG, o::IORING_OP_RECVMSG as u32),
            (opcode::TIMEOUT, o::IORING_OP_TIMEOUT as u32),
            (opcode::TIMEOUT_REMOVE, o::IORING_OP_TIMEOUT_REMOVE as u32),
            (opcode::ACCEPT, o::IORING_OP_ACCEPT as u32),
            (opcode::ASYNC_CANCEL, o::IORING_OP_ASYNC_CANCEL as u32),
            (opcode::LINK_TIMEOUT, o::IORING_OP_LINK_TIMEOUT as u32),
            (opcode::CONNECT, o::IORING_OP_CONNECT as u32),
            (opcode::FALLOCATE, o::IORING_OP_FALLOCATE as u32),
            (opcode::OPENAT, o::IORING_OP_OPENAT as u32),
            (opcode::CLOSE, o::IORING_OP_CLOSE as u32),
            (opcode::FILES_UPDATE, o::IORING_OP_FILES_UPDATE as u32),
            (opcode::STATX, o::IORING_OP_STATX as u32),
            (opcode::READ, o::IORING_OP_READ as u32),
            (opcode::WRITE, o::IORING_OP_WRITE as u32),
            (opcode::FADVISE, o::IORING_OP_FADVISE as u32),
            (opcode::MADVISE, o::IORING_OP_MADVISE as u32),
            (opcode::SEND, o::IORING_OP_SEND as u32),
            (opcode::RECV, o::IORING_OP_RECV as u32),
            (opcode::OPENAT2, o::IORING_OP_OPENAT2 as u32),
            (opcode::EPOLL_CTL, o::IORING_OP_EPOLL_CTL as u32),
            (opcode::SPLICE, o::IORING_OP_SPLICE as u32),
            (opcode::PROVIDE_BUFFERS, o::IORING_OP_PROVIDE_BUFFERS as u32),
            (opcode::REMOVE_BUFFERS, o::IORING_OP_REMOVE_BUFFERS as u32),
            (opcode::TEE, o::IORING_OP_TEE as u32),
            (opcode::SHUTDOWN, o::IORING_OP_SHUTDOWN as u32),
            (opcode::RENAMEAT, o::IORING_OP_RENAMEAT as u32),
            (opcode::UNLINKAT, o::IORING_OP_UNLINKAT as u32),
            (opcode::MKDIRAT, o::IORING_OP_MKDIRAT as u32),
            (opcode::SYMLINKAT, o::IORING_OP_SYMLINKAT as u32),
            (opcode::LINKAT, o::IORING_OP_LINKAT as u32),
            (opcode::MSG_RING, o::IORING_OP_MSG_RING as u32),
            (opcode::FSETXATTR, o::IORING_OP_FSETXATTR as u32),
            (opcode::SETXATTR, o::IORING_OP_SETXATTR as u32),
            (opcode::FGETXATTR, o::IORING_OP_FGETXATTR as u32),
            (opcode::GETXATTR, o::IORING_OP_GETXATTR as u32),
            (opcode::SOCKET, o::IORING_OP_SOCKET as u32),
            (opcode::URING_CMD, o::IORING_OP_URING_CMD as u32),
            (opcode::SEND_ZC, o::IORING_OP_SEND_ZC as u32),
            (opcode::SENDMSG_ZC, o::IORING_OP_SENDMSG_ZC as u32),
            (opcode::READ_MULTISHOT, o::IORING_OP_READ_MULTISHOT as u32),
            (opcode::WAITID, o::IORING_OP_WAITID as u32),
            (opcode::FUTEX_WAIT, o::IORING_OP_FUTEX_WAIT as u32),
            (opcode::FUTEX_WAKE, o::IORING_OP_FUTEX_WAKE as u32),
            (opcode::FUTEX_WAITV, o::IORING_OP_FUTEX_WAITV as u32),
            (opcode::FIXED_FD_INSTALL, o::IORING_OP_FIXED_FD_INSTALL as u32),
            (opcode::FTRUNCATE, o::IORING_OP_FTRUNCATE as u32),
            (opcode::BIND, o::IORING_OP_BIND as u32),
            (opcode::LISTEN, o::IORING_OP_LISTEN as u32),
            (opcode::RECV_ZC, o::IORING_OP_RECV_ZC as u32),
            (opcode::EPOLL_WAIT, o::IORING_OP_EPOLL_WAIT as u32),
            (opcode::READV_FIXED, o::IORING_OP_READV_FIXED as u32),
            (opcode::WRITEV_FIXED, o::IORING_OP_WRITEV_FIXED as u32),
            (opcode::PIPE, o::IORING_OP_PIPE as u32),
            (opcode::NOP128, crate::abi::IORING_OP_NOP128 as u32),
            (opcode::URING_CMD128, crate::abi::IORING_OP_URING_CMD128 as u32),
        ];
        assert_eq!(kernel.len(), CATALOG.len());
        for (i, info) in CATALOG.iter().enumerate() {
            assert_eq!(info.opcode as usize, i);
            assert_eq!(kernel[i], (info.opcode, info.opcode as u32), "{}", info.name);
            assert!(!info.builders.is_empty(), "{} has no builder", info.name);
            assert_eq!(OpInfo::get(info.opcode), Some(info));
            assert_eq!(name(info.opcode), Some(info.name));
        }
        assert_eq!(o::IORING_OP_LAST as usize, opcode::PIPE as usize + 1, "linux-raw-sys knows an opcode past PIPE");
        assert_eq!(OpInfo::get(200), None);
        assert_eq!(name(65), None);
    }

    #[test]
    fn builders_carry_their_opcode() {
        assert_eq!((Nop::CODE, Read::CODE, Read::FIXED_CODE), (0, 22, 4));
        assert_eq!((Write::CODE, Write::FIXED_CODE), (opcode::WRITE, opcode::WRITE_FIXED));
        assert_eq!((Readv::FIXED_CODE, Writev::FIXED_CODE), (opcode::READV_FIXED, opcode::WRITEV_FIXED));
        assert_eq!((PollUpdate::CODE, LinkTimeoutUpdate::CODE), (opcode::POLL_REMOVE, opcode::TIMEOUT_REMOVE));
        assert_eq!((UringCmd80::CODE, UringCmd128::CODE), (opcode::URING_CMD, opcode::URING_CMD128));
    }
}
