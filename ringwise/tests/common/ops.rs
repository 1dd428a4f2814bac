//! Helpers for the op tests: run SQEs and collect their CQEs, push
//! pointer-carrying ops, temporary directories, and the minimal
//! registrations (files, buffers) the ops need, done with `register_raw`.

use ringwise::op::Iovec;
use ringwise::{Cqe, CqeSize, Ring, SqeSize};
use std::ffi::CString;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use linux_raw_sys::io_uring::io_uring_register_op as reg;

/// Submit what is queued and collect exactly `n` CQEs (16-byte parts),
/// waiting at most 10 s in total.
pub fn run<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, n: usize) -> Vec<Cqe> {
    ring.submit().expect("submit");
    collect(ring, n)
}

/// Collect exactly `n` CQEs without submitting.
pub fn collect<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, n: usize) -> Vec<Cqe> {
    let mut got = Vec::with_capacity(n);
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < n {
        for cqe in ring.completions().expect("completions") {
            got.push(*C::base(&cqe));
            if got.len() == n {
                break;
            }
        }
        if got.len() < n {
            assert!(Instant::now() < deadline, "only {} of {n} CQEs arrived: {got:?}", got.len());
            ring.wait_timeout(1, Duration::from_millis(50)).expect("wait_timeout");
        }
    }
    got
}

/// No CQE arrives within `ms` milliseconds.
pub fn assert_quiet<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, ms: u64) {
    ring.submit().expect("submit");
    let _ = ring.wait_timeout(1, Duration::from_millis(ms));
    let extra: Vec<Cqe> = ring.completions().expect("completions").map(|c| *C::base(&c)).collect();
    assert!(extra.is_empty(), "unexpected CQEs: {extra:?}");
}

/// The CQE with `user_data`, panicking with all of them if absent.
pub fn by_ud(cqes: &[Cqe], user_data: u64) -> Cqe {
    *cqes.iter().find(|c| c.user_data == user_data).unwrap_or_else(|| panic!("no CQE {user_data} in {cqes:?}"))
}

/// Push a pointer-carrying op; the caller keeps the memory alive until the
/// CQE is reaped (every test does, by collecting before returning).
#[macro_export]
macro_rules! push {
    ($ring:expr, $op:expr) => {{
        let op = $op;
        let mut sq = $ring.submission();
        // SAFETY: the test keeps every buffer/path the op names alive until it
        // has collected the op's CQE.
        unsafe { sq.push_unchecked(op) }.expect("SQ has room")
    }};
}

/// A fresh directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "ringwise-op-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    /// `name` inside the directory, as a C string for the path ops.
    pub fn c(&self, name: &str) -> CString {
        CString::new(self.0.join(name).into_os_string().into_encoded_bytes()).expect("no NUL in path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Register `fds` as the fixed file table (`-1` entries are empty slots).
pub fn register_files<S: SqeSize, C: CqeSize>(ring: &Ring<S, C>, fds: &[RawFd]) {
    // SAFETY: `fds` is an array of `fds.len()` ints, copied by the kernel.
    unsafe { ring.register_raw(reg::IORING_REGISTER_FILES as u32, fds.as_ptr().cast(), fds.len() as u32) }
        .expect("register files");
}

/// Register `bufs` as the fixed buffer table. The memory must outlive the
/// registration (the ring).
pub fn register_buffers<S: SqeSize, C: CqeSize>(ring: &Ring<S, C>, bufs: &[Iovec]) {
    // SAFETY: `bufs` is an array of iovecs naming live memory the test keeps
    // until the ring is dropped.
    unsafe { ring.register_raw(reg::IORING_REGISTER_BUFFERS as u32, bufs.as_ptr().cast(), bufs.len() as u32) }
        .expect("register buffers");
}

/// Whether the kernel's probe has `opcode`.
pub fn supports(opcode: u8) -> bool {
    ringwise::probe::Probe::new().expect("probe").supports(opcode)
}

/// An iovec over a slice.
pub fn iov(buf: &[u8]) -> Iovec {
    Iovec { iov_base: buf.as_ptr() as *mut _, iov_len: buf.len() as _ }
}

/// `sockaddr_in` bytes of a loopback address.
pub fn sockaddr_in(addr: std::net::SocketAddrV4) -> linux_raw_sys::net::sockaddr_in {
    linux_raw_sys::net::sockaddr_in {
        sin_family: linux_raw_sys::net::AF_INET as u16,
        sin_port: addr.port().to_be(),
        sin_addr: linux_raw_sys::net::in_addr { s_addr: u32::from_ne_bytes(addr.ip().octets()) },
        __pad: [0; 8],
    }
}
