//! `IORING_OP_URING_CMD` (Linux 5.19): a command for the file's driver
//! (`->uring_cmd`), such as NVMe passthrough or the socket commands (Linux
//! 6.7: `SIOCINQ`, `SIOCOUTQ`, `getsockopt`, `setsockopt`). In a 64-byte SQE
//! the command area is 16 bytes; in a 128-byte SQE (`Ring<Sqe128, _>`) it
//! is 80 bytes ([`UringCmd80`], pushed with `push_big_unchecked`). The
//! 128-byte opcodes of newer kernels ([`Nop128`], [`UringCmd128`], Linux
//! 6.19) are here too; on older kernels [`check`](fn@super::check) refuses them.
//! Typed commands: the socket ones ([`SocketQueue`], [`GetSockOpt`],
//! [`SetSockOpt`], [`GetSockName`]) and the block device's [`BlockDiscard`].
//!
//! The socket commands on a loopback connection: bytes waiting to be read,
//! and `SO_TYPE` through `getsockopt`:
//!
//! ```
//! use ringwise::op::{GetSockOpt, SocketQueue, Target};
//! use std::os::fd::AsFd;
//! use ringwise::Ring;
//! use std::io::Write;
//! use std::net::{TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let mut client = TcpStream::connect(listener.local_addr()?)?;
//! let (server, _) = listener.accept()?;
//! client.write_all(b"1234567")?;
//! std::thread::sleep(std::time::Duration::from_millis(20));
//!
//! let mut ring = Ring::new(8)?;
//! // SAFETY: `server` stays open until the end of the example, after both
//! // CQEs are reaped.
//! let server_fd = unsafe { Target::from_fd(server.as_fd()) };
//! ring.submission().push(SocketQueue::inq(server_fd).user_data(1)).unwrap();
//! ring.submit_and_wait(1)?;
//! assert_eq!(ring.completion().next().unwrap().res, 7);
//!
//! let mut ty = 0i32;
//! let (sol_socket, so_type) = (linux_raw_sys::net::SOL_SOCKET, linux_raw_sys::net::SO_TYPE);
//! let op = GetSockOpt::new(server_fd, sol_socket, so_type, (&mut ty as *mut i32).cast(), 4).user_data(2);
//! // SAFETY: `ty` stays valid and unmoved until the CQE is reaped.
//! unsafe { ring.submission().push_unchecked(op) }.unwrap();
//! ring.submit_and_wait(1)?;
//! assert_eq!(ring.completion().next().unwrap().res, 4);
//! assert_eq!(ty, linux_raw_sys::net::SOCK_STREAM as i32);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{base, Common, PrepareBigSqe, PrepareSqe, SafeBigOp, SafeOp, Target};
use crate::entry::{BigSqe, Sqe};
use linux_raw_sys::io_uring as k;

/// Bytes of the command area of a 128-byte SQE.
pub const CMD80_BYTES: usize = 80;

/// Options shared by the generic commands.
#[derive(Debug, Clone, Copy, Default)]
struct CmdOpts {
    fixed_buffer: Option<u16>,
}

setters!(impl UringCmd, UringCmd80, UringCmd128 {
    /// The command's data lies in registered buffer `index`
    /// (`IORING_URING_CMD_FIXED`, Linux 6.1).
    #[inline]
    pub fn fixed_buffer(mut self, index: u16) -> Self {
        self.opts.fixed_buffer = Some(index);
        self
    }
});

/// `IORING_OP_URING_CMD` (Linux 5.19): a driver command with the 16-byte
/// command area of a 64-byte SQE, like an `ioctl(2)` the driver runs
/// asynchronously; `res` is the driver's. What the area holds is the
/// driver's business (it may hold pointers), so this is not a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct UringCmd {
    pub(crate) common: Common,
    target: Target,
    cmd_op: u32,
    cmd: [u8; 16],
    opts: CmdOpts,
}

impl UringCmd {
    /// Command `cmd_op` of `target`'s driver, with a zero command area (set
    /// it with [`cmd`](Self::cmd)). Memory the command names must stay valid
    /// as the driver documents it, at least until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, cmd_op: u32) -> UringCmd {
        UringCmd { common: Common::default(), target: target.into(), cmd_op, cmd: [0; 16], opts: CmdOpts::default() }
    }
    /// The command area's bytes.
    #[inline]
    pub fn cmd(mut self, cmd: [u8; 16]) -> UringCmd {
        self.cmd = cmd;
        self
    }
}

/// `IORING_OP_URING_CMD` (Linux 5.19) with the 80-byte command area of a
/// 128-byte SQE (what NVMe passthrough needs). Push it on a
/// `Ring<Sqe128, _>` with `push_big_unchecked`.
#[derive(Debug, Clone, Copy)]
pub struct UringCmd80 {
    pub(crate) common: Common,
    target: Target,
    cmd_op: u32,
    cmd: [u8; CMD80_BYTES],
    opts: CmdOpts,
}

impl UringCmd80 {
    /// Command `cmd_op` of `target`'s driver with command area `cmd`; memory
    /// the command names must stay valid until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, cmd_op: u32, cmd: [u8; CMD80_BYTES]) -> UringCmd80 {
        UringCmd80 { common: Common::default(), target: target.into(), cmd_op, cmd, opts: CmdOpts::default() }
    }
}

/// `IORING_OP_URING_CMD128` (Linux 6.19): the 80-byte command as one
/// 128-byte entry. The kernel takes it in a mixed-size SQ (`SQE_MIXED`) or
/// an `SQE128` ring; ringwise pushes 128-byte entries only into `SQE128`
/// rings (`push_big`), not into [`SqeMixed`](crate::SqeMixed) rings.
#[derive(Debug, Clone, Copy)]
pub struct UringCmd128 {
    pub(crate) common: Common,
    target: Target,
    cmd_op: u32,
    cmd: [u8; CMD80_BYTES],
    opts: CmdOpts,
}

impl UringCmd128 {
    /// Command `cmd_op` of `target`'s driver with command area `cmd`; memory
    /// the command names must stay valid until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, cmd_op: u32, cmd: [u8; CMD80_BYTES]) -> UringCmd128 {
        UringCmd128 { common: Common::default(), target: target.into(), cmd_op, cmd, opts: CmdOpts::default() }
    }
}

/// `IORING_OP_NOP128` (Linux 6.19): a NOP that takes a 128-byte entry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nop128 {
    pub(crate) common: Common,
}

impl Nop128 {
    /// A 128-byte NOP that completes with `res` 0.
    #[inline]
    pub fn new() -> Nop128 {
        Nop128::default()
    }
}

/// Which socket queue [`SocketQueue`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queue {
    In,
    Out,
}

/// `IORING_OP_URING_CMD` with `SOCKET_URING_OP_SIOCINQ` / `SIOCOUTQ`
/// (Linux 6.7), `ioctl(SIOCINQ/SIOCOUTQ)`: `res` is the bytes
/// waiting in the socket's receive queue (unread) or send queue (unsent or,
/// for TCP, unacknowledged). Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct SocketQueue {
    pub(crate) common: Common,
    target: Target,
    queue: Queue,
}

impl SocketQueue {
    /// Bytes ready to read (`SIOCINQ`, `FIONREAD`).
    #[inline]
    pub fn inq(target: impl Into<Target>) -> SocketQueue {
        SocketQueue { common: Common::default(), target: target.into(), queue: Queue::In }
    }
    /// Bytes not yet sent/acknowledged (`SIOCOUTQ`).
    #[inline]
    pub fn outq(target: impl Into<Target>) -> SocketQueue {
        SocketQueue { common: Common::default(), target: target.into(), queue: Queue::Out }
    }
}

/// `IORING_OP_URING_CMD` with `SOCKET_URING_OP_GETSOCKOPT` (Linux 6.7,
/// `SOL_SOCKET` options only):
/// like `getsockopt(2)`; `res` is the option's length, the value is in
/// `optval`.
#[derive(Debug, Clone, Copy)]
pub struct GetSockOpt {
    pub(crate) common: Common,
    target: Target,
    level: u32,
    optname: u32,
    optval: *mut u8,
    optlen: u32,
}

impl GetSockOpt {
    /// Read option `optname` of `level` of socket `target` into `optval`,
    /// which must be valid for `optlen` bytes of writes and stay valid and
    /// unmoved until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, level: u32, optname: u32, optval: *mut u8, optlen: u32) -> GetSockOpt {
        GetSockOpt { common: Common::default(), target: target.into(), level, optname, optval, optlen }
    }
}

/// `IORING_OP_URING_CMD` with `SOCKET_URING_OP_SETSOCKOPT` (Linux 6.7): like
/// `setsockopt(2)`; `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct SetSockOpt {
    pub(crate) common: Common,
    target: Target,
    level: u32,
    optname: u32,
    optval: *const u8,
    optlen: u32,
}

impl SetSockOpt {
    /// Set option `optname` of `level` of socket `target` to the `optlen`
    /// bytes at `optval`, which must stay valid until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, level: u32, optname: u32, optval: *const u8, optlen: u32) -> SetSockOpt {
        SetSockOpt { common: Common::default(), target: target.into(), level, optname, optval, optlen }
    }
}

/// `IORING_OP_URING_CMD` with `SOCKET_URING_OP_GETSOCKNAME` (Linux 6.19):
/// `getsockname(2)`, or with
/// [`peer`](Self::peer) `getpeername(2)`. `*len` gives the room at `addr`
/// (read at issue); the kernel writes at most that many bytes of the address
/// and stores its full length in `*len`. `res` is 0. Kernels before 6.19
/// answer `-EOPNOTSUPP` (an unknown socket command), as do sockets whose
/// protocol has no `ioctl` (Unix sockets).
#[derive(Debug, Clone, Copy)]
pub struct GetSockName {
    pub(crate) common: Common,
    target: Target,
    addr: *mut u8,
    len: *mut u32,
    peer: bool,
}

impl GetSockName {
    /// The local address of `target` into `addr`, whose room is `*len`.
    /// Both must stay valid and unmoved until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, addr: *mut u8, len: *mut u32) -> GetSockName {
        GetSockName { common: Common::default(), target: target.into(), addr, len, peer: false }
    }
    /// The connected peer's address instead (`getpeername(2)`).
    #[inline]
    pub fn peer(mut self) -> GetSockName {
        self.peer = true;
        self
    }
}

/// `IORING_OP_URING_CMD` with `BLOCK_URING_CMD_DISCARD` (Linux 6.12):
/// discard `len` bytes at `offset`
/// of a block device, like `ioctl(BLKDISCARD)` but without blocking the
/// submitter. The device must be open for writing and support discard
/// (else `-EBADF` / `-EOPNOTSUPP`); `offset` and `len` must be multiples of
/// its logical block size (else `-EINVAL`). The page cache over the range
/// is dropped first, so later buffered reads see what the device returns.
/// Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct BlockDiscard {
    pub(crate) common: Common,
    target: Target,
    offset: u64,
    len: u64,
}

impl BlockDiscard {
    /// Discard `len` bytes at byte `offset` of block device `target`.
    #[inline]
    pub fn new(target: impl Into<Target>, offset: u64, len: u64) -> BlockDiscard {
        BlockDiscard { common: Common::default(), target: target.into(), offset, len }
    }
}

/// The first 64 bytes of a command SQE: `cmd_op` in `off`, the fixed-buffer
/// flag and index, the first 16 command bytes in `addr3`/`pad2`.
fn cmd_sqe(common: &Common, op: u8, target: Target, cmd_op: u32, opts: CmdOpts, head: &[u8]) -> Sqe {
    let word = |i: usize| u64::from_le_bytes(head[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    Sqe {
        off: cmd_op as u64,
        op_flags: if opts.fixed_buffer.is_some() { k::IORING_URING_CMD_FIXED } else { 0 },
        buf_index: opts.fixed_buffer.unwrap_or(0),
        addr3: word(0),
        pad2: word(1),
        ..base(common, op, target)
    }
}

fn big_cmd(
    common: &Common,
    op: u8,
    target: Target,
    cmd_op: u32,
    opts: CmdOpts,
    cmd: &[u8; CMD80_BYTES],
    sqe: &mut BigSqe,
) {
    sqe.sqe = cmd_sqe(common, op, target, cmd_op, opts, &cmd[..16]);
    sqe.extra.copy_from_slice(&cmd[16..]);
}

/// The socket command's SQE: level and option name share `addr`, the value
/// pointer is `addr3` and its length `file_index` (the kernel's union names
/// `level`, `optname`, `optval`, `optlen`).
fn sock_sqe(common: &Common, target: Target, cmd_op: u32, level: u32, optname: u32, optval: u64, optlen: u32) -> Sqe {
    Sqe {
        off: cmd_op as u64,
        addr: (level as u64) | ((optname as u64) << 32),
        addr3: optval,
        file_index: optlen,
        ..base(common, UringCmd::CODE, target)
    }
}

impl PrepareSqe for UringCmd {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = cmd_sqe(&self.common, Self::CODE, self.target, self.cmd_op, self.opts, &self.cmd);
    }
}

impl PrepareBigSqe for UringCmd80 {
    #[inline(always)]
    fn prepare_big(self, sqe: &mut BigSqe) {
        big_cmd(&self.common, Self::CODE, self.target, self.cmd_op, self.opts, &self.cmd, sqe);
    }
}

impl PrepareBigSqe for UringCmd128 {
    #[inline(always)]
    fn prepare_big(self, sqe: &mut BigSqe) {
        big_cmd(&self.common, Self::CODE, self.target, self.cmd_op, self.opts, &self.cmd, sqe);
    }
}

impl PrepareBigSqe for Nop128 {
    #[inline(always)]
    fn prepare_big(self, sqe: &mut BigSqe) {
        sqe.sqe = base(&self.common, Self::CODE, -1);
        sqe.extra = [0; 64];
    }
}

impl SafeBigOp for Nop128 {}

impl PrepareSqe for SocketQueue {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let op = match self.queue {
            Queue::In => k::io_uring_socket_op::SOCKET_URING_OP_SIOCINQ,
            Queue::Out => k::io_uring_socket_op::SOCKET_URING_OP_SIOCOUTQ,
        };
        *sqe = sock_sqe(&self.common, self.target, op as u32, 0, 0, 0, 0);
    }
}

impl SafeOp for SocketQueue {}

impl PrepareSqe for GetSockOpt {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let op = k::io_uring_socket_op::SOCKET_URING_OP_GETSOCKOPT as u32;
        *sqe = sock_sqe(&self.common, self.target, op, self.level, self.optname, self.optval as u64, self.optlen);
    }
}

impl PrepareSqe for SetSockOpt {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        let op = k::io_uring_socket_op::SOCKET_URING_OP_SETSOCKOPT as u32;
        *sqe = sock_sqe(&self.common, self.target, op, self.level, self.optname, self.optval as u64, self.optlen);
    }
}

impl PrepareSqe for GetSockName {
    /// The address pointer in `addr`, the length pointer in `addr3`, the
    /// peer switch in `optlen` (the kernel's union over `file_index`).
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            off: crate::abi::SOCKET_URING_OP_GETSOCKNAME as u64,
            addr: self.addr as u64,
            addr3: self.len as u64,
            file_index: self.peer as u32,
            ..base(&self.common, Self::CODE, self.target)
        };
    }
}

impl PrepareSqe for BlockDiscard {
    /// The byte offset in `addr`, the length in `addr3`; every other field
    /// stays zero, as the block driver requires.
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            off: crate::abi::BLOCK_URING_CMD_DISCARD as u64,
            addr: self.offset,
            addr3: self.len,
            ..base(&self.common, Self::CODE, self.target)
        };
    }
}

impl SafeOp for BlockDiscard {}
