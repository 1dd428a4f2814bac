//! A socket's life: `SOCKET`, `BIND`, `LISTEN`, `CONNECT`, `ACCEPT`,
//! `SHUTDOWN`.

use super::AcceptFlags;
use crate::entry::Sqe;
use crate::op::{base, Common, DirectSlot, PrepareSqe, SafeOp, Target};
use linux_raw_sys::io_uring as k;

/// `IORING_OP_SOCKET` (Linux 5.19): `socket(2)`, optionally as a direct
/// descriptor; `res` is the new fd (or, with [`direct`](Self::direct), 0 or
/// the allocated slot). Carries no pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct Socket {
    pub(crate) common: Common,
    domain: i32,
    ty: u32,
    protocol: u32,
    direct: Option<DirectSlot>,
}

impl Socket {
    /// A socket of `domain` (`AF_*`), type `ty` (`SOCK_*`, may include
    /// `SOCK_CLOEXEC`/`SOCK_NONBLOCK`) and `protocol` (0: the default).
    #[inline]
    pub fn new(domain: i32, ty: u32, protocol: u32) -> Socket {
        Socket { common: Common::default(), domain, ty, protocol, direct: None }
    }
    /// Install the socket in the registered file table (Linux 5.19).
    #[inline]
    pub fn direct(mut self, slot: DirectSlot) -> Socket {
        self.direct = Some(slot);
        self
    }
}

/// `IORING_OP_CONNECT` (Linux 5.5): `connect(2)`; `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct Connect {
    pub(crate) common: Common,
    target: Target,
    addr: *const u8,
    len: u32,
}

impl Connect {
    /// Connect socket `target` to the `len`-byte `sockaddr_*` at `addr`.
    /// The kernel copies the address when it prepares the op (at submit);
    /// keeping it valid until the CQE is reaped is the simple rule.
    #[inline]
    pub fn new(target: impl Into<Target>, addr: *const u8, len: u32) -> Connect {
        Connect { common: Common::default(), target: target.into(), addr, len }
    }
}

/// `IORING_OP_BIND` (Linux 6.11): `bind(2)`; `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct Bind {
    pub(crate) common: Common,
    target: Target,
    addr: *const u8,
    len: u32,
}

impl Bind {
    /// Bind socket `target` to the `len`-byte `sockaddr_*` at `addr`, which
    /// must stay valid until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, addr: *const u8, len: u32) -> Bind {
        Bind { common: Common::default(), target: target.into(), addr, len }
    }
}

/// `IORING_OP_LISTEN` (Linux 6.11): `listen(2)`; `res` is 0. Carries no
/// pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct Listen {
    pub(crate) common: Common,
    target: Target,
    backlog: u32,
}

impl Listen {
    /// Make socket `target` accept connections, queueing up to `backlog`.
    #[inline]
    pub fn new(target: impl Into<Target>, backlog: u32) -> Listen {
        Listen { common: Common::default(), target: target.into(), backlog }
    }
}

/// Options shared by [`Accept`] and [`AcceptFrom`].
#[derive(Debug, Clone, Copy, Default)]
struct AcceptOpts {
    flags: AcceptFlags,
    ioprio: u16,
    direct: Option<DirectSlot>,
}

/// `IORING_OP_ACCEPT` (Linux 5.5): `accept4(2)` without the peer address
/// (use [`AcceptFrom`] to get it); `res` is the new fd (or the slot). Carries
/// no pointer, so it is a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct Accept {
    pub(crate) common: Common,
    target: Target,
    opts: AcceptOpts,
}

impl Accept {
    /// Accept a connection on listening socket `target`.
    #[inline]
    pub fn new(target: impl Into<Target>) -> Accept {
        Accept { common: Common::default(), target: target.into(), opts: AcceptOpts::default() }
    }
}

/// `IORING_OP_ACCEPT` (Linux 5.5) that writes the peer address: `accept4(2)`
/// with its address arguments; `res` is the new fd (or the slot).
#[derive(Debug, Clone, Copy)]
pub struct AcceptFrom {
    pub(crate) common: Common,
    target: Target,
    addr: *mut u8,
    addrlen: *mut u32,
    opts: AcceptOpts,
}

impl AcceptFrom {
    /// Accept a connection on `target` and write the peer's address to
    /// `addr`, which has `*addrlen` bytes of room; the kernel stores the
    /// address's real length back in `*addrlen`. Both must stay valid and
    /// unmoved until the CQE is reaped (with [`multishot`](Self::multishot),
    /// until the last CQE; each connection overwrites them).
    #[inline]
    pub fn new(target: impl Into<Target>, addr: *mut u8, addrlen: *mut u32) -> AcceptFrom {
        AcceptFrom { common: Common::default(), target: target.into(), addr, addrlen, opts: AcceptOpts::default() }
    }
}

setters!(impl Accept, AcceptFrom {
    /// `SOCK_CLOEXEC` / `SOCK_NONBLOCK` for the new socket.
    #[inline]
    pub fn accept_flags(mut self, flags: AcceptFlags) -> Self {
        self.opts.flags = flags;
        self
    }
    /// Stay armed: one CQE per connection, each with
    /// [`more`](crate::Cqe::more) set while armed (Linux 5.19). With
    /// [`direct`](Self::direct) the slot must be [`DirectSlot::Alloc`]
    /// ([`check`](fn@crate::op::check) refuses a fixed slot).
    #[inline]
    pub fn multishot(mut self) -> Self {
        self.opts.ioprio |= k::IORING_ACCEPT_MULTISHOT as u16;
        self
    }
    /// Fail with `-EAGAIN` instead of arming a poll when no
    /// connection is pending (`IORING_ACCEPT_DONTWAIT`, Linux 6.10).
    #[inline]
    pub fn dontwait(mut self) -> Self {
        self.opts.ioprio |= k::IORING_ACCEPT_DONTWAIT as u16;
        self
    }
    /// Arm the poll before trying (`IORING_ACCEPT_POLL_FIRST`, Linux 6.10).
    #[inline]
    pub fn poll_first(mut self) -> Self {
        self.opts.ioprio |= k::IORING_ACCEPT_POLL_FIRST as u16;
        self
    }
    /// Install the connection in the registered file table (Linux 5.15).
    #[inline]
    pub fn direct(mut self, slot: DirectSlot) -> Self {
        self.opts.direct = Some(slot);
        self
    }
});

/// The SQE of an accept, with the peer-address pointers (0 for [`Accept`]).
#[inline(always)]
fn accept_sqe(common: &Common, target: Target, addr: u64, addrlen: u64, opts: AcceptOpts) -> Sqe {
    Sqe {
        addr,
        off: addrlen,
        op_flags: opts.flags.bits(),
        ioprio: opts.ioprio,
        file_index: DirectSlot::encode(opts.direct),
        ..base(common, Accept::CODE, target)
    }
}

/// `IORING_OP_SHUTDOWN` (Linux 5.11): `shutdown(2)`; `res` is 0. Carries no
/// pointer: a [`SafeOp`].
#[derive(Debug, Clone, Copy)]
pub struct Shutdown {
    pub(crate) common: Common,
    target: Target,
    how: u32,
}

impl Shutdown {
    /// Shut down the receiving, sending or both sides (`how`: `SHUT_RD`,
    /// `SHUT_WR`, `SHUT_RDWR`) of socket `target`.
    #[inline]
    pub fn new(target: impl Into<Target>, how: u32) -> Shutdown {
        Shutdown { common: Common::default(), target: target.into(), how }
    }
}

impl PrepareSqe for Socket {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            off: self.ty as u64,
            len: self.protocol,
            file_index: DirectSlot::encode(self.direct),
            ..base(&self.common, Self::CODE, self.domain)
        };
    }
}

impl PrepareSqe for Connect {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.addr as u64, off: self.len as u64, ..base(&self.common, Self::CODE, self.target) };
    }
}

impl PrepareSqe for Bind {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { addr: self.addr as u64, off: self.len as u64, ..base(&self.common, Self::CODE, self.target) };
    }
}

impl PrepareSqe for Listen {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { len: self.backlog, ..base(&self.common, Self::CODE, self.target) };
    }
}

impl PrepareSqe for Accept {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = accept_sqe(&self.common, self.target, 0, 0, self.opts);
    }
}

impl PrepareSqe for AcceptFrom {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = accept_sqe(&self.common, self.target, self.addr as u64, self.addrlen as u64, self.opts);
    }
}

impl PrepareSqe for Shutdown {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe { len: self.how, ..base(&self.common, Self::CODE, self.target) };
    }
}

impl SafeOp for Socket {}
impl SafeOp for Listen {}
impl SafeOp for Accept {}
impl SafeOp for Shutdown {}
