//! Helpers shared by the integration tests: NOP round trips with user_data
//! checks, temporary files, pipes, a guard that raises the huge page pool
//! for a test and restores it afterwards, test-owned mappings; the op
//! helpers (`ops`) and a raw provided-buffer ring for the bundle tests
//! (`raw_buf_ring`). Each test file uses part of it.
#![allow(dead_code)]

mod ops;
mod raw_buf_ring;

// Each test crate uses part of these; the rest would be "unused".
#[allow(unused_imports)]
pub use ops::*;
#[allow(unused_imports)]
pub use raw_buf_ring::RawBufRing;

use ringwise::op::Nop;
use ringwise::{CqeSize, Ring, SqeSize};
use rustix::io::Errno;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Run the calling test's body alone in a child process, where no other
/// test thread can map memory into an address range the test has just
/// unmapped (a test that hands the library an unmapped range is otherwise
/// racing every other test thread's `mmap`), and where the test may change
/// process-wide state (one-time caches) or fork.
///
/// Returns `true` in the child: run the body there. In the parent it
/// re-executes this test binary with `--exact name --test-threads=1`,
/// asserts that the child passed, echoes its `skipped:` lines, and returns
/// `false`: return at once.
/// `name` is the test function's name (integration tests have no module
/// path).
pub fn in_own_process(name: &str) -> bool {
    const VAR: &str = "RINGWISE_TEST_ALONE";
    if std::env::var(VAR).as_deref() == Ok(name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new(exe)
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(VAR, name)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("re-run the test binary");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name} failed in its own process:\n{text}");
    assert!(text.contains("1 passed"), "{name} did not run in its own process:\n{text}");
    for line in text.lines().filter(|l| l.starts_with("skipped:")) {
        eprintln!("{line}");
    }
    false
}

/// Print why a test does not run its checks on this machine.
pub fn skip(reason: impl std::fmt::Display) {
    eprintln!("skipped: {reason}");
}

/// The page size of this machine.
pub fn page() -> usize {
    ringwise::raw::sys::page_size()
}

/// A CQE result for `e` (the negated errno).
pub fn errno(e: Errno) -> i32 {
    -e.raw_os_error()
}

/// Take ownership of an fd a CQE returned, asserting that it is one.
pub fn owned(fd: i32) -> OwnedFd {
    assert!(fd >= 0, "expected an fd, got {fd}");
    // SAFETY: the kernel just returned this fd to the test; nothing else
    // owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Push `n` NOPs (user_data `base..base + n`), submit them in one call,
/// wait for all, and check that every CQE came back once, in order, with
/// result 0. `n` must fit the SQ.
pub fn nop_round_trip<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, n: u32, base: u64) {
    let sqpoll = ring.setup_flags().contains(ringwise::SetupFlags::SQPOLL);
    if sqpoll {
        // Settle the count of SQEs the SQ thread consumed after an earlier
        // submit looked (each is counted by exactly one later submit), so
        // that the sum below is this round's alone.
        let settled = ring.submit().expect("submit");
        assert_eq!(settled.remaining, 0, "nop_round_trip starts with an empty SQ: {settled:?}");
    }
    for i in 0..n as u64 {
        ring.submission().push(Nop::new().user_data(base + i)).expect("SQ has room");
    }
    let s = ring.submit_and_wait(n).expect("submit_and_wait");
    if sqpoll {
        // On SQPOLL one `Submitted` is a snapshot (the SQ thread may post
        // CQEs before it moves the SQ head); what the library promises is
        // that the counts add up to what was queued once the SQ drains.
        let mut consumed = s.consumed;
        let mut last = s;
        let deadline = Instant::now() + Duration::from_secs(10);
        while last.remaining > 0 {
            assert!(Instant::now() < deadline, "the SQ thread never drained the SQ: {last:?}");
            std::thread::yield_now();
            last = ring.submit().expect("submit");
            consumed += last.consumed;
        }
        assert_eq!(consumed, n, "the consumed counts must add up to every queued NOP: {last:?}");
        assert_eq!(last.stopped_after, None, "{last:?}");
    } else {
        assert_eq!(s.consumed, n, "the kernel must consume every queued NOP: {s:?}");
        assert_eq!(s.remaining, 0, "{s:?}");
        assert_eq!(s.stopped_after, None, "{s:?}");
    }
    let got = reap_user_data(ring, n as usize);
    let want: Vec<u64> = (base..base + n as u64).collect();
    assert_eq!(got, want);
    assert_eq!(ring.submission().dropped(), 0, "sq_dropped");
    assert_eq!(ring.completion().overflow(), 0, "cq_overflow");
}

/// Reap exactly `n` CQEs (waiting as needed), checking that each has
/// result 0; returns their user_data in arrival order.
pub fn reap_user_data<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, n: usize) -> Vec<u64> {
    let mut got = Vec::with_capacity(n);
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < n {
        for cqe in ring.completions().expect("completions") {
            let base = C::base(&cqe);
            assert_eq!(base.res, 0, "CQE {base:?}");
            got.push(base.user_data);
        }
        if got.len() < n {
            assert!(Instant::now() < deadline, "only {} of {n} CQEs arrived: {got:?}", got.len());
            ring.wait_timeout(1, Duration::from_millis(100)).expect("wait_timeout");
        }
    }
    assert_eq!(got.len(), n, "more CQEs than expected: {got:?}");
    got
}

/// Reap every CQE that arrives within `within`, as (user_data, res).
pub fn reap_all<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, n: usize, within: Duration) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    let deadline = Instant::now() + within;
    while got.len() < n && Instant::now() < deadline {
        for cqe in ring.completions().expect("completions") {
            let base = C::base(&cqe);
            got.push((base.user_data, base.res));
        }
        if got.len() < n {
            ring.wait_timeout(1, Duration::from_millis(20)).expect("wait_timeout");
        }
    }
    got
}

/// A file under the system temp directory, removed on drop.
#[derive(Debug)]
pub struct TempFile {
    pub path: PathBuf,
    pub file: File,
}

impl TempFile {
    /// Create an empty read-write file with a name unique to this process.
    pub fn new(tag: &str) -> TempFile {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("ringwise-{}-{tag}-{n}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("create temp file");
        TempFile { path, file }
    }

    /// Create a file holding `data`.
    pub fn with_contents(tag: &str, data: &[u8]) -> TempFile {
        let t = TempFile::new(tag);
        std::fs::write(&t.path, data).expect("write temp file");
        t
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// A new read-only descriptor of the file with its own offset, for a
    /// test that closes it or hands it to the kernel.
    pub fn open_read(&self) -> OwnedFd {
        File::open(&self.path).expect("open temp file").into()
    }

    pub fn contents(&self) -> Vec<u8> {
        std::fs::read(&self.path).expect("read temp file")
    }
}

impl AsFd for TempFile {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A pipe: (read end, write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe().expect("pipe")
}

/// Deterministic test data.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Raises `vm.nr_hugepages` so that `extra` more 2 MiB pages are free, and
/// writes the old value back when dropped, also when the test fails.
///
/// The pool is one machine-wide setting, so a guard also holds an exclusive
/// `flock` on a lock file for its whole life: two tests (threads of one
/// binary, or two test binaries run at once) otherwise each read the value
/// the other raised, and the last to restore leaves the pool raised.
#[derive(Debug)]
pub struct HugePagesGuard {
    old: Option<u64>,
    _lock: File,
}

const HUGEPAGES_LOCK: &str = "/tmp/ringwise-tests-nr_hugepages.lock";

const NR_HUGEPAGES: &str = "/proc/sys/vm/nr_hugepages";

fn meminfo(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl HugePagesGuard {
    /// Make `pages` free 2 MiB huge pages available, or say why not.
    pub fn reserve(pages: u64) -> Result<HugePagesGuard, String> {
        if meminfo("Hugepagesize:") != Some(2048) {
            return Err("the default huge page size is not 2 MiB".into());
        }
        // Each guard opens the file itself: flock locks belong to the open
        // file description, so this excludes other threads too.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(HUGEPAGES_LOCK)
            .map_err(|e| format!("open {HUGEPAGES_LOCK}: {e}"))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| format!("lock {HUGEPAGES_LOCK}: {e}"))?;
        let free = meminfo("HugePages_Free:").ok_or("no HugePages_Free in /proc/meminfo")?;
        if free >= pages {
            return Ok(HugePagesGuard { old: None, _lock: lock });
        }
        let text = std::fs::read_to_string(NR_HUGEPAGES).map_err(|e| format!("read {NR_HUGEPAGES}: {e}"))?;
        let old: u64 = text.trim().parse().map_err(|e| format!("parse {NR_HUGEPAGES} {text:?}: {e}"))?;
        let guard = HugePagesGuard { old: Some(old), _lock: lock };
        let want = old + (pages - free);
        std::fs::write(NR_HUGEPAGES, want.to_string())
            .map_err(|e| format!("write {want} to {NR_HUGEPAGES} (needs root): {e}"))?;
        let free = meminfo("HugePages_Free:").unwrap_or(0);
        if free < pages {
            return Err(format!("asked the kernel for {pages} free huge pages, it could only provide {free}"));
        }
        Ok(guard)
    }
}

impl Drop for HugePagesGuard {
    fn drop(&mut self) {
        if let Some(old) = self.old {
            if let Err(e) = std::fs::write(NR_HUGEPAGES, old.to_string()) {
                eprintln!("could not restore {NR_HUGEPAGES} to {old}: {e}");
            }
        }
    }
}

/// An anonymous mapping owned by a test, unmapped on drop. Used for rings in
/// caller memory where the test wants the bytes around the ring, too.
#[derive(Debug)]
pub struct RawMap {
    pub ptr: *mut u8,
    pub len: usize,
}

impl RawMap {
    /// `len` bytes of zeroed anonymous memory (`huge`: on 2 MiB hugetlb pages).
    pub fn new(len: usize, huge: bool) -> Result<RawMap, rustix::io::Errno> {
        use rustix::mm::{MapFlags, ProtFlags};
        let flags = if huge { MapFlags::PRIVATE | MapFlags::HUGETLB | MapFlags::HUGE_2MB } else { MapFlags::PRIVATE };
        // SAFETY: a fresh anonymous mapping at an address the kernel picks
        // aliases nothing.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(std::ptr::null_mut(), len, ProtFlags::READ | ProtFlags::WRITE, flags)?
        };
        Ok(RawMap { ptr: ptr.cast(), len })
    }

    /// Change the protection of `[offset, offset + len)`.
    pub fn protect(&self, offset: usize, len: usize, prot: rustix::mm::MprotectFlags) {
        assert!(offset + len <= self.len);
        // SAFETY: the range lies inside our own mapping.
        unsafe { rustix::mm::mprotect(self.ptr.add(offset).cast(), len, prot) }.expect("mprotect");
    }

    /// Unmap `[offset, offset + len)` (leaves a hole inside the mapping).
    pub fn unmap_part(&self, offset: usize, len: usize) {
        assert!(offset + len <= self.len);
        // SAFETY: the range lies inside our own mapping, and nothing refers
        // to it (tests call this before handing any part to a ring).
        unsafe { rustix::mm::munmap(self.ptr.add(offset).cast(), len) }.expect("munmap");
    }

    pub fn fill(&self, offset: usize, len: usize, byte: u8) {
        assert!(offset + len <= self.len);
        // SAFETY: in bounds of our writable mapping.
        unsafe { std::ptr::write_bytes(self.ptr.add(offset), byte, len) };
    }

    /// Whether every byte of `[offset, offset + len)` is `byte`; returns the
    /// first offset that differs.
    pub fn first_not(&self, offset: usize, len: usize, byte: u8) -> Option<usize> {
        assert!(offset + len <= self.len);
        // SAFETY: in bounds of our mapping, readable.
        let s = unsafe { std::slice::from_raw_parts(self.ptr.add(offset), len) };
        s.iter().position(|&b| b != byte).map(|i| offset + i)
    }
}

impl Drop for RawMap {
    fn drop(&mut self) {
        // SAFETY: we mapped this range; any ring that used part of it has
        // been dropped (tests drop rings before their RawMap). Holes made by
        // `unmap_part` are fine to unmap again.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.len) };
    }
}
