//! Kernel-verified layout: proof, on the running kernel, that
//! [`crate::Layout`] gives exactly the bytes the kernel uses.
//!
//! The kernel is never told how long caller memory is (`IORING_SETUP_NO_MMAP`
//! passes only addresses), so a layout that is a page too small goes unnoticed
//! wherever the next page happens to be mapped. Here every region is placed in
//! a [`GuardedRegion`]: exactly the layout's bytes, followed by a `PROT_NONE`
//! page. Then, per configuration:
//!
//! * **exact**: the ring is built in regions of exactly the layout's size and
//!   runs I/O (the whole SQ filled with NOPs, every CQE matched, the CQ
//!   wrapped, nothing dropped). The kernel would have faulted on the guard if
//!   it needed a byte more.
//! * **ringwise refuses short**: each region one page short is refused by
//!   ringwise with [`Error::MemoryTooSmall`] naming both numbers, before any
//!   syscall.
//! * **kernel refuses short**: the same short region forced through the raw
//!   syscall fails with `EFAULT` (the kernel needed the page that is the guard),
//!   so the kernel needs no fewer bytes than the layout says either.
//! * **kernel offsets**: a kernel-mapped ring of the same shape returns the
//!   entry counts, `cq_off.cqes` and `sq_off.array` the layout computed.
//!
//! A configuration the layout refuses is instead checked to be refused by the
//! kernel with the same errno. Configurations the kernel refuses for reasons
//! that have nothing to do with memory (a flag it does not know, missing
//! privileges) are skipped with the reason; they never count as passed.
//!
//! [`verify_config`] returns an [`Outcome`] with each check's result and a
//! sentence; it never panics. The `ringwise verify` command and the test suite
//! both run [`default_configs`].

use crate::abi;
use crate::abi::zeroed_params;
use crate::entry::{Cqe16, Cqe32, CqeMixed, CqeSize, Sqe128, Sqe64, SqeMixed, SqeSize};
use crate::errno::errno_name;
use crate::error::{Error, Region};
use crate::flags::{SetupFlags, SIZE_FLAGS};
use crate::layout::{Layout, RingSpec, MAX_CQ_ENTRIES, MAX_SQ_ENTRIES};
use crate::memory::RingMemory;
use crate::op::Nop;
use crate::{sys, Builder, Ring};
use rustix::io::Errno;
use rustix::mm::{MapFlags, MprotectFlags, ProtFlags};
use std::fmt;
use std::os::fd::{FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long an SQPOLL thread of a verification ring idles before sleeping:
/// short, so that it does not spin on a shared machine after each check.
const SQPOLL_IDLE: Duration = Duration::from_millis(10);

/// How long to wait for the NOPs of one round before calling it a failure
/// (NOPs complete at once; a missing CQE means the kernel dropped an SQE).
const ROUND_TIMEOUT: Duration = Duration::from_secs(5);

/// NOP rounds on an exact ring: at least this many, and always enough for
/// the CQ to wrap.
const MIN_ROUNDS: u64 = 3;

/// A deterministic spread of ring configurations covering every size rule:
/// entry counts from 1 to 32768 (powers of two, one off either side, and
/// arbitrary numbers), clamping above the maxima, explicit CQ sizes, 128-byte
/// SQEs, 32-byte and mixed CQEs, with and without the SQ index array, and
/// the companion-flag sets that change how a ring is driven.
pub fn default_configs() -> Vec<RingSpec> {
    let f = SetupFlags::empty;
    let no_array = SetupFlags::NO_SQARRAY;
    let mut out = Vec::new();
    let mut add = |entries: u32, cq: Option<u32>, flags: SetupFlags| {
        out.push(RingSpec { entries, cq_entries: cq, flags });
    };

    // Entry counts around every power of two where a region crosses a page
    // boundary, with the SQ index array.
    const PLAIN: [u32; 42] = [
        1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 511, 512, 513,
        1000, 1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097, 8192, 10000, 16384, 20000, 32767, 32768,
    ];
    for e in PLAIN {
        add(e, None, f());
    }
    // The same without the SQ index array.
    const NO_ARRAY: [u32; 20] =
        [1, 2, 3, 5, 7, 8, 64, 100, 127, 128, 129, 255, 256, 1000, 1023, 1024, 1025, 4096, 16384, 32768];
    for e in NO_ARRAY {
        add(e, None, no_array);
    }
    // Above the SQ maximum: clamped to 32768.
    for e in [MAX_SQ_ENTRIES + 1, 40_000, 100_000, u32::MAX] {
        add(e, None, SetupFlags::CLAMP);
    }
    add(65_536, None, SetupFlags::CLAMP | no_array);
    // Explicit CQ sizes, including non-powers of two, CQ == SQ, and CQ counts
    // clamped to 65536.
    const CQSIZE: [(u32, u32); 17] = [
        (1, 1),
        (1, 3),
        (2, 2),
        (4, 5),
        (8, 8),
        (8, 100),
        (16, 1000),
        (32, 4097),
        (128, 129),
        (100, 1000),
        (1000, 1023),
        (1024, 1024),
        (1024, 5000),
        (2048, 65_536),
        (4096, 8191),
        (32_768, 32_768),
        (32_768, 65_536),
    ];
    for (e, cq) in CQSIZE {
        add(e, Some(cq), f());
    }
    add(128, Some(128), no_array);
    add(1000, Some(3000), no_array);
    add(256, Some(MAX_CQ_ENTRIES + 1), SetupFlags::CLAMP);
    add(512, Some(1_000_000), SetupFlags::CLAMP | no_array);
    add(32_768, Some(u32::MAX), SetupFlags::CLAMP);
    add(50_000, Some(70_000), SetupFlags::CLAMP);
    // 128-byte SQEs.
    for (e, flags) in [
        (1, f()),
        (3, f()),
        (8, no_array),
        (64, f()),
        (100, f()),
        (128, no_array),
        (1000, f()),
        (1024, no_array),
        (4096, f()),
        (32_768, f()),
    ] {
        add(e, None, SetupFlags::SQE128 | flags);
    }
    // 32-byte CQEs: the whole header-plus-CQEs size doubles.
    for (e, flags) in [
        (1, f()),
        (2, no_array),
        (7, f()),
        (64, f()),
        (100, no_array),
        (128, f()),
        (255, f()),
        (1000, f()),
        (1024, no_array),
        (4096, f()),
        (32_768, f()),
    ] {
        add(e, None, SetupFlags::CQE32 | flags);
    }
    add(8, Some(100), SetupFlags::CQE32);
    add(1024, Some(2049), SetupFlags::CQE32 | no_array);
    // Both big entry types.
    for (e, flags) in [(1, f()), (64, no_array), (1024, f()), (4096, no_array), (2000, f())] {
        add(e, None, SetupFlags::SQE128 | SetupFlags::CQE32 | flags);
    }
    // Mixed 16/32-byte CQEs (Linux 6.18).
    for (e, flags) in [(1, f()), (2, no_array), (8, f()), (100, f()), (128, no_array), (1024, f()), (32_768, f())] {
        add(e, None, SetupFlags::CQE_MIXED | flags);
    }
    add(1, Some(2), SetupFlags::CQE_MIXED);
    add(4, Some(5), SetupFlags::CQE_MIXED | no_array);
    add(64, Some(1000), SetupFlags::CQE_MIXED);
    add(16, None, SetupFlags::CQE_MIXED | SetupFlags::SQE128);
    // Companion sets: they change how the ring is driven, not its size.
    let si_dt = SetupFlags::SINGLE_ISSUER | SetupFlags::DEFER_TASKRUN;
    for (e, flags) in [(1, f()), (128, f()), (1000, no_array), (4096, f())] {
        add(e, None, si_dt | flags);
    }
    add(64, None, si_dt | SetupFlags::TASKRUN_FLAG | SetupFlags::CQE32);
    let coop = SetupFlags::COOP_TASKRUN | SetupFlags::TASKRUN_FLAG;
    for (e, flags) in [(8, f()), (256, no_array), (1024, f())] {
        add(e, None, coop | flags);
    }
    add(32, None, SetupFlags::COOP_TASKRUN);
    add(64, None, SetupFlags::SINGLE_ISSUER);
    for (e, flags) in [(4, f()), (100, no_array), (2048, f())] {
        add(e, None, SetupFlags::SUBMIT_ALL | flags);
    }
    add(512, Some(4096), SetupFlags::SUBMIT_ALL | si_dt);
    for (e, flags) in [(8, f()), (128, f()), (256, no_array), (1024, SetupFlags::SQE128)] {
        add(e, None, SetupFlags::SQPOLL | flags);
    }
    // Many small SQPOLL rounds: the SQ thread races the waiter on every one.
    add(2, Some(2048), SetupFlags::SQPOLL);
    out
}

/// A region of exactly `len` bytes followed by a `PROT_NONE` guard page, so
/// that any access one byte past the region faults (in the kernel: `EFAULT`
/// when it pins the pages).
///
/// As [`RingMemory`] it reports `len` bytes; the guard is not part of it.
/// Dropping it unmaps the region and the guard.
pub struct GuardedRegion {
    base: NonNull<u8>,
    len: usize,
    page: usize,
}

// SAFETY: the mapping is plain memory owned by this value.
unsafe impl Send for GuardedRegion {}

impl GuardedRegion {
    /// Map `len` bytes (rounded up to a page) of zeroed private memory, then
    /// one `PROT_NONE` page right after them.
    pub fn new(len: usize) -> Result<GuardedRegion, Error> {
        let page = sys::page_size();
        let Some((len, mapped)) = len.checked_next_multiple_of(page).and_then(|l| Some((l, l.checked_add(page)?)))
        else {
            return Err(Error::kernel("mmap", Errno::NOMEM, format!("{len} bytes plus a guard page overflow usize")));
        };
        // SAFETY: a fresh anonymous mapping at a kernel-chosen address
        // aliases nothing.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                mapped,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .map_err(|errno| Error::kernel("mmap", errno, format!("mapping {len} bytes plus a guard page failed")))?;
        let Some(base) = NonNull::new(ptr.cast::<u8>()) else {
            return Err(Error::kernel("mmap", Errno::NOMEM, "mmap returned address 0"));
        };
        let region = GuardedRegion { base, len, page };
        // SAFETY: the guard page is the last page of the mapping just made;
        // nothing else refers to it.
        unsafe { rustix::mm::mprotect(region.guard_addr() as *mut _, page, MprotectFlags::empty()) }.map_err(
            |errno| Error::kernel("mprotect", errno, "making the guard page after a region PROT_NONE failed"),
        )?;
        Ok(region)
    }

    /// Start of the region.
    pub fn addr(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// Bytes of the region (the guard not counted).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region has no bytes (only the guard page is mapped).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Address of the guard page, right after the region.
    pub fn guard_addr(&self) -> usize {
        self.addr() + self.len
    }
}

impl fmt::Debug for GuardedRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedRegion").field("addr", &self.base).field("len", &self.len).finish()
    }
}

impl Drop for GuardedRegion {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly this range (region and guard); the ring
        // that used it (if any) has been closed. Pages the kernel still pins
        // stay the kernel's until it unpins them, they are not reused.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len + self.page) };
    }
}

// SAFETY: the region is private anonymous memory owned by this value, never
// moves, and is unmapped (never reused) on drop.
unsafe impl RingMemory for GuardedRegion {
    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.base.as_ptr()
    }
    fn len(&self) -> usize {
        self.len
    }
    fn describe(&self) -> String {
        format!("guarded mapping ({} bytes + PROT_NONE guard page)", self.len)
    }
}

/// What one check establishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// Regions of exactly the layout's bytes work: setup succeeds and NOPs
    /// fill the SQ, complete, and wrap the CQ, with nothing dropped.
    Exact,
    /// A rings region one page short is refused by ringwise before any syscall.
    RingwiseRefusesShortRings,
    /// An SQE region one page short is refused by ringwise before any syscall.
    RingwiseRefusesShortSqes,
    /// The kernel faults (`EFAULT`) on a rings region one page short.
    KernelRefusesShortRings,
    /// The kernel faults (`EFAULT`) on an SQE region one page short.
    KernelRefusesShortSqes,
    /// A kernel-mapped ring returns the counts and offsets of the layout.
    KernelOffsets,
    /// The layout refuses the configuration, and the kernel refuses it with
    /// the same errno.
    RefusedAlike,
}

impl CheckKind {
    /// A short name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::Exact => "exact",
            CheckKind::RingwiseRefusesShortRings => "ringwise-refuses-short-rings",
            CheckKind::RingwiseRefusesShortSqes => "ringwise-refuses-short-sqes",
            CheckKind::KernelRefusesShortRings => "kernel-efault-short-rings",
            CheckKind::KernelRefusesShortSqes => "kernel-efault-short-sqes",
            CheckKind::KernelOffsets => "kernel-offsets",
            CheckKind::RefusedAlike => "refused-alike",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckResult {
    /// The kernel and ringwise agree.
    Passed,
    /// They disagree: the layout (or ringwise's handling of it) is wrong on
    /// this kernel.
    Failed,
    /// Not applicable to this configuration or kernel (the detail says why).
    Skipped,
}

/// One check and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub kind: CheckKind,
    pub result: CheckResult,
    /// A sentence with the numbers.
    pub detail: String,
}

impl Check {
    fn pass(kind: CheckKind, detail: impl Into<String>) -> Check {
        Check { kind, result: CheckResult::Passed, detail: detail.into() }
    }
    fn fail(kind: CheckKind, detail: impl Into<String>) -> Check {
        Check { kind, result: CheckResult::Failed, detail: detail.into() }
    }
    fn skip(kind: CheckKind, detail: impl Into<String>) -> Check {
        Check { kind, result: CheckResult::Skipped, detail: detail.into() }
    }
}

/// The verdict on one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Every check that ran passed, and at least one ran.
    Passed,
    /// At least one check failed.
    Mismatch,
    /// The kernel cannot run this configuration for reasons unrelated to
    /// memory; see [`Outcome::skip_reason`].
    Skipped,
}

impl Status {
    /// `"ok"`, `"MISMATCH"` or `"skipped"`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Passed => "ok",
            Status::Mismatch => "MISMATCH",
            Status::Skipped => "skipped",
        }
    }
}

/// Everything [`verify_config`] found out about one configuration.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The configuration as asked.
    pub spec: RingSpec,
    /// The layout of the ring in caller memory (flags include `NO_MMAP`), or
    /// `None` when the layout refuses the configuration.
    pub layout: Option<Layout>,
    /// The layout's refusal, with its errno name, when it refuses.
    pub refusal: Option<(String, &'static str)>,
    /// Each check that ran (or was skipped), in order.
    pub checks: Vec<Check>,
    /// Why the whole configuration was skipped.
    pub skip_reason: Option<String>,
    /// Wall-clock time the checks took.
    pub elapsed: Duration,
}

impl Outcome {
    /// The verdict.
    pub fn status(&self) -> Status {
        if self.checks.iter().any(|c| c.result == CheckResult::Failed) {
            Status::Mismatch
        } else if self.skip_reason.is_some() || !self.checks.iter().any(|c| c.result == CheckResult::Passed) {
            Status::Skipped
        } else {
            Status::Passed
        }
    }

    /// The check of a kind, if it ran.
    pub fn check(&self, kind: CheckKind) -> Option<&Check> {
        self.checks.iter().find(|c| c.kind == kind)
    }

    /// The combined result of several checks: failed if any failed, passed
    /// if all that ran passed, skipped if none ran.
    pub fn combined(&self, kinds: &[CheckKind]) -> Option<CheckResult> {
        let found: Vec<CheckResult> = kinds.iter().filter_map(|&k| self.check(k)).map(|c| c.result).collect();
        if found.is_empty() {
            None
        } else if found.contains(&CheckResult::Failed) {
            Some(CheckResult::Failed)
        } else if found.contains(&CheckResult::Passed) {
            Some(CheckResult::Passed)
        } else {
            Some(CheckResult::Skipped)
        }
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.result == CheckResult::Failed)
    }

    /// A short name of the configuration: `entries=128 cq=256 [NO_SQARRAY]`.
    pub fn label(&self) -> String {
        spec_label(&self.spec)
    }
}

/// A short name of a configuration: `entries=128 cq=256 [NO_SQARRAY]`.
pub fn spec_label(spec: &RingSpec) -> String {
    let mut s = format!("entries={}", spec.entries);
    if let Some(cq) = spec.cq_entries {
        s.push_str(&format!(" cq={cq}"));
    }
    let flags = spec.flags - SetupFlags::CQSIZE;
    if !flags.is_empty() {
        s.push_str(&format!(" [{}]", flags.names()));
    }
    s
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.label(), self.status().name())?;
        if let Some(reason) = &self.skip_reason {
            write!(f, " ({reason})")?;
        }
        for c in &self.checks {
            let mark = match c.result {
                CheckResult::Passed => "ok",
                CheckResult::Failed => "FAILED",
                CheckResult::Skipped => "skipped",
            };
            write!(f, "\n  {:<30} {:<7} {}", c.kind.name(), mark, c.detail)?;
        }
        Ok(())
    }
}

/// Counts over many outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub configs: usize,
    pub passed: usize,
    pub mismatches: usize,
    pub skipped: usize,
}

impl Summary {
    /// Count the verdicts.
    pub fn of(outcomes: &[Outcome]) -> Summary {
        let mut s = Summary { configs: outcomes.len(), ..Summary::default() };
        for o in outcomes {
            match o.status() {
                Status::Passed => s.passed += 1,
                Status::Mismatch => s.mismatches += 1,
                Status::Skipped => s.skipped += 1,
            }
        }
        s
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "verified {} configurations: {} exact, {} mismatches, {} skipped",
            self.configs, self.passed, self.mismatches, self.skipped
        )
    }
}

/// Run every check on one configuration against the running kernel.
pub fn verify_config(spec: &RingSpec) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome {
        spec: *spec,
        layout: None,
        refusal: None,
        checks: Vec::new(),
        skip_reason: None,
        elapsed: Duration::ZERO,
    };
    run_checks(spec, &mut outcome);
    outcome.elapsed = started.elapsed();
    outcome
}

fn run_checks(spec: &RingSpec, out: &mut Outcome) {
    if let Err(reason) = no_mmap_supported() {
        out.skip_reason = Some(reason);
        return;
    }
    // Verification places the ring in caller memory; sizes do not depend on
    // NO_MMAP, but companion rules (REGISTERED_FD_ONLY) do.
    let user_spec = RingSpec { flags: spec.flags | SetupFlags::NO_MMAP, ..*spec };
    let layout = match user_spec.layout() {
        Ok(layout) => layout,
        Err(err) => {
            out.refusal = Some((err.to_string(), err.errno_name()));
            refused_alike(&user_spec, &err, out);
            return;
        }
    };
    out.layout = Some(layout);

    // A kernel-mapped ring first: if the kernel cannot run this shape at
    // all, the memory checks would only measure that.
    match kernel_offsets(spec, &layout) {
        KernelVerdict::Check(check) => out.checks.push(check),
        KernelVerdict::Skip(reason) => {
            out.skip_reason = Some(reason);
            return;
        }
    }
    let typed = dispatch(&user_spec, &layout);
    out.checks.extend(typed);
    for region in [Region::Rings, Region::Sqes] {
        out.checks.push(kernel_refuses_short(&user_spec, &layout, region));
    }
}

/// Whether this kernel takes rings in caller memory at all (6.5+), probed
/// once.
fn no_mmap_supported() -> Result<(), String> {
    static SUPPORTED: OnceLock<Result<(), String>> = OnceLock::new();
    SUPPORTED
        .get_or_init(|| match crate::probe::try_setup_flags(SetupFlags::NO_MMAP) {
            Ok(()) => Ok(()),
            Err(errno) => Err(format!(
                "this kernel refuses IORING_SETUP_NO_MMAP with {} (rings in caller memory need Linux 6.5)",
                errno_name(errno)
            )),
        })
        .clone()
}

/// The setup flags this kernel refuses even alone (with their companions),
/// probed once: a configuration using one is skipped, not failed.
fn unsupported_flags() -> SetupFlags {
    static UNSUPPORTED: OnceLock<SetupFlags> = OnceLock::new();
    *UNSUPPORTED.get_or_init(|| {
        crate::probe::setup_flag_support()
            .into_iter()
            .filter(|s| s.result.is_err())
            .fold(SetupFlags::empty(), |acc, s| acc | s.flag)
    })
}

/// Parameters for a raw `io_uring_setup` of `spec` with `flags`.
fn raw_params(spec: &RingSpec, flags: SetupFlags) -> abi::io_uring_params {
    let mut p = zeroed_params();
    p.flags = flags.bits();
    p.cq_entries = spec.cq_entries.unwrap_or(0);
    if flags.contains(SetupFlags::SQPOLL) {
        p.sq_thread_idle = SQPOLL_IDLE.as_millis() as u32;
    }
    p
}

/// Close what a successful raw setup returned: an fd, or with
/// `REGISTERED_FD_ONLY` a registered ring index.
fn close_raw(ret: u32, flags: SetupFlags) {
    if flags.contains(SetupFlags::REGISTERED_FD_ONLY) {
        let mut update = abi::io_uring_rsrc_update { offset: ret, resv: 0, data: 0 };
        // SAFETY: unregisters our own index with a valid update; dropping
        // the only reference frees the ring.
        let _ = unsafe {
            sys::io_uring_register(
                ret,
                abi::register_op::UNREGISTER_RING_FDS | abi::register_op::USE_REGISTERED_RING,
                (&mut update as *mut abi::io_uring_rsrc_update).cast(),
                1,
            )
        };
    } else {
        // SAFETY: io_uring_setup just returned this fd; nothing else owns it.
        drop(unsafe { OwnedFd::from_raw_fd(ret as i32) });
    }
}

/// Set up a ring in the given regions with the raw syscall (no ringwise
/// checks), close it at once if that succeeds, and return the errno if not.
fn raw_setup_in(spec: &RingSpec, flags: SetupFlags, rings: &GuardedRegion, sqes: &GuardedRegion) -> Result<(), Errno> {
    let mut p = raw_params(spec, flags | SetupFlags::NO_MMAP);
    p.cq_off.user_addr = rings.addr() as u64;
    p.sq_off.user_addr = sqes.addr() as u64;
    // SAFETY: `p` is valid. The regions are private anonymous mappings that
    // outlive the ring: if setup succeeds the ring is closed right here,
    // before the regions are unmapped (the kernel's pinned pages are not
    // reused by the process after that).
    let ret = unsafe { sys::io_uring_setup(spec.entries, &mut p) }?;
    close_raw(ret, SetupFlags::from_bits_retain(p.flags));
    Ok(())
}

/// The layout refuses `spec`; the kernel must refuse it with the same errno.
/// It is handed one guarded page per region: a kernel that accepted the
/// parameters would fault on the guard, which tells the two apart.
fn refused_alike(spec: &RingSpec, err: &Error, out: &mut Outcome) {
    let kind = CheckKind::RefusedAlike;
    let ours = err.errno();
    let (rings, sqes) = match (GuardedRegion::new(1), GuardedRegion::new(1)) {
        (Ok(r), Ok(q)) => (r, q),
        (Err(e), _) | (_, Err(e)) => {
            out.checks.push(Check::fail(kind, format!("could not map test memory: {e}")));
            return;
        }
    };
    let flags = spec.effective_flags();
    match raw_setup_in(spec, flags, &rings, &sqes) {
        Err(theirs) if theirs == ours => out
            .checks
            .push(Check::pass(kind, format!("ringwise and the kernel both refuse with {}: {err}", errno_name(ours)))),
        Err(theirs) if !flags.intersection(unsupported_flags()).is_empty() => {
            out.skip_reason = Some(format!(
                "this kernel does not support [{}] (refused with {})",
                flags.intersection(unsupported_flags()).names(),
                errno_name(theirs)
            ));
        }
        Err(Errno::FAULT) => out.checks.push(Check::fail(
            kind,
            format!(
                "ringwise refuses with {} ({err}), but the kernel accepted the parameters and only failed to pin \
                 the one-page test regions (EFAULT)",
                errno_name(ours)
            ),
        )),
        Err(theirs) => out.checks.push(Check::fail(
            kind,
            format!("ringwise refuses with {} ({err}), the kernel with {}", errno_name(ours), errno_name(theirs)),
        )),
        Ok(()) => out.checks.push(Check::fail(
            kind,
            format!("ringwise refuses with {} ({err}), but the kernel set the ring up", errno_name(ours)),
        )),
    }
}

enum KernelVerdict {
    Check(Check),
    Skip(String),
}

/// Set up a kernel-mapped ring of the same shape and compare the counts and
/// offsets the kernel returns with the layout.
fn kernel_offsets(spec: &RingSpec, layout: &Layout) -> KernelVerdict {
    let kind = CheckKind::KernelOffsets;
    let flags = layout.flags() - SetupFlags::NO_MMAP;
    if flags.contains(SetupFlags::REGISTERED_FD_ONLY) {
        return KernelVerdict::Check(Check::skip(kind, "REGISTERED_FD_ONLY rings exist only in caller memory"));
    }
    let mut p = raw_params(spec, flags);
    // SAFETY: `p` is valid and asks for kernel memory (no NO_MMAP).
    let ret = match unsafe { sys::io_uring_setup(spec.entries, &mut p) } {
        Ok(ret) => ret,
        Err(errno) => return kernel_refusal(flags, errno),
    };
    close_raw(ret, flags);
    let array = layout.sq_array_offset().unwrap_or(0);
    let ours = [
        ("sq_entries", layout.sq_entries() as usize),
        ("cq_entries", layout.cq_entries() as usize),
        ("cq_off.cqes", layout.cqes_offset()),
        ("sq_off.array", array),
    ];
    let theirs = [p.sq_entries as usize, p.cq_entries as usize, p.cq_off.cqes as usize, p.sq_off.array as usize];
    let diffs: Vec<String> = ours
        .iter()
        .zip(theirs)
        .filter(|((_, o), t)| o != t)
        .map(|((name, o), t)| format!("{name}: kernel {t}, layout {o}"))
        .collect();
    if diffs.is_empty() {
        KernelVerdict::Check(Check::pass(
            kind,
            format!(
                "kernel returned sq={} cq={} cq_off.cqes={} sq_off.array={}",
                p.sq_entries, p.cq_entries, p.cq_off.cqes, p.sq_off.array
            ),
        ))
    } else {
        KernelVerdict::Check(Check::fail(kind, diffs.join("; ")))
    }
}

/// The kernel refused a shape the layout accepts: skip where the cause is
/// not ours (a flag this kernel lacks, privileges, resources), fail otherwise.
fn kernel_refusal(flags: SetupFlags, errno: Errno) -> KernelVerdict {
    let missing = flags.intersection(unsupported_flags());
    if !missing.is_empty() {
        return KernelVerdict::Skip(format!(
            "this kernel does not support [{}] (refused with {})",
            missing.names(),
            errno_name(errno)
        ));
    }
    match errno {
        Errno::PERM | Errno::ACCESS => KernelVerdict::Skip(format!(
            "the kernel refuses this configuration with {}: not permitted for this process{}",
            errno_name(errno),
            if flags.contains(SetupFlags::SQPOLL) { " (SQPOLL may need privileges)" } else { "" }
        )),
        Errno::NOMEM => KernelVerdict::Skip(
            "the kernel has no memory for this ring (ENOMEM; RLIMIT_MEMLOCK may be too low)".to_string(),
        ),
        _ => KernelVerdict::Check(Check::fail(
            CheckKind::KernelOffsets,
            format!(
                "ringwise computes a layout for this configuration, but the kernel refuses it with {}",
                errno_name(errno)
            ),
        )),
    }
}

/// Pick the entry types from the size flags and run the typed checks.
fn dispatch(spec: &RingSpec, layout: &Layout) -> Vec<Check> {
    let flags = layout.flags();
    if flags.contains(SetupFlags::CQE32) {
        dispatch_sqe::<Cqe32>(spec, layout)
    } else if flags.contains(SetupFlags::CQE_MIXED) {
        dispatch_sqe::<CqeMixed>(spec, layout)
    } else {
        dispatch_sqe::<Cqe16>(spec, layout)
    }
}

fn dispatch_sqe<C: CqeSize>(spec: &RingSpec, layout: &Layout) -> Vec<Check> {
    let flags = layout.flags();
    if flags.contains(SetupFlags::SQE128) {
        typed_checks::<Sqe128, C>(spec, layout)
    } else if flags.contains(SetupFlags::SQE_MIXED) {
        typed_checks::<SqeMixed, C>(spec, layout)
    } else {
        typed_checks::<Sqe64, C>(spec, layout)
    }
}

/// A builder that asks for exactly the spec: the size flags follow from
/// `S` and `C`, the SQ array is kept or dropped as the spec says, and the
/// rest of the flags are passed through.
fn builder_for<S: SqeSize, C: CqeSize>(spec: &RingSpec) -> Builder<S, C> {
    let flags = spec.effective_flags();
    let mut b = Builder::<S, C>::new(spec.entries);
    if let Some(cq) = spec.cq_entries {
        b = b.cq_entries(cq);
    }
    b = if flags.contains(SetupFlags::NO_SQARRAY) { b.no_sq_array() } else { b.keep_sq_array() };
    if flags.contains(SetupFlags::SQPOLL) {
        b = b.sqpoll(SQPOLL_IDLE);
    }
    let passed_through =
        flags - SIZE_FLAGS - SetupFlags::NO_SQARRAY - SetupFlags::CQSIZE - SetupFlags::NO_MMAP - SetupFlags::SQPOLL;
    b.setup_flags(passed_through)
}

fn typed_checks<S: SqeSize, C: CqeSize>(spec: &RingSpec, layout: &Layout) -> Vec<Check> {
    let builder = builder_for::<S, C>(spec);
    match builder.layout() {
        Ok(ours) if ours == *layout => {}
        Ok(ours) => {
            return vec![Check::fail(
                CheckKind::Exact,
                format!(
                    "the builder computes a different layout ({} + {} bytes, flags [{}]) than the spec ({} + {} bytes, \
                     flags [{}])",
                    ours.rings_bytes(),
                    ours.sqes_bytes(),
                    ours.flags().names(),
                    layout.rings_bytes(),
                    layout.sqes_bytes(),
                    layout.flags().names()
                ),
            )]
        }
        Err(e) => return vec![Check::fail(CheckKind::Exact, format!("the builder refuses the spec: {e}"))],
    }
    // `Builder<S, C>` is only `Clone` for `Clone` marker types; build three.
    vec![
        exact::<S, C>(builder, layout),
        ringwise_refuses_short::<S, C>(builder_for(spec), layout, Region::Rings),
        ringwise_refuses_short::<S, C>(builder_for(spec), layout, Region::Sqes),
    ]
}

/// Regions of exactly the layout's size, each followed by a guard page: the
/// ring must set up and run I/O.
fn exact<S: SqeSize, C: CqeSize>(builder: Builder<S, C>, layout: &Layout) -> Check {
    let kind = CheckKind::Exact;
    let (rings, sqes) = match (GuardedRegion::new(layout.rings_bytes()), GuardedRegion::new(layout.sqes_bytes())) {
        (Ok(r), Ok(q)) => (r, q),
        (Err(e), _) | (_, Err(e)) => return Check::fail(kind, format!("could not map test memory: {e}")),
    };
    let needs_enable = layout.flags().contains(SetupFlags::R_DISABLED);
    let mut ring = match builder.build_in_regions(rings, sqes) {
        Ok(ring) => ring,
        Err(e) => {
            return Check::fail(
                kind,
                format!(
                    "setup in exactly {} + {} bytes (each followed by a guard page) failed: {e}",
                    layout.rings_bytes(),
                    layout.sqes_bytes()
                ),
            )
        }
    };
    if needs_enable {
        if let Err(e) = ring.enable() {
            return Check::fail(kind, format!("enabling the R_DISABLED ring failed: {e}"));
        }
    }
    match run_nops(&mut ring) {
        Ok(detail) => Check::pass(
            kind,
            format!(
                "set up in exactly {} + {} bytes before guard pages; {detail}",
                layout.rings_bytes(),
                layout.sqes_bytes()
            ),
        ),
        Err(why) => Check::fail(
            kind,
            format!("set up in {} + {} bytes, but I/O failed: {why}", layout.rings_bytes(), layout.sqes_bytes()),
        ),
    }
}

/// Fill the whole SQ with NOPs of distinct `user_data`, submit, reap and
/// match every CQE; repeat until the CQ has wrapped (at least three rounds).
fn run_nops<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>) -> Result<String, String> {
    let sq = ring.submission().capacity();
    let cq = ring.completion().capacity();
    let rounds = MIN_ROUNDS.max(cq as u64 / sq as u64 + 1);
    let sqpoll = ring.setup_flags().contains(SetupFlags::SQPOLL);
    let mut seen = vec![false; sq as usize];
    for round in 0..rounds {
        for i in 0..sq {
            let user_data = (round << 32) | i as u64;
            if ring.submission().push(Nop::new().user_data(user_data)).is_err() {
                return Err(format!("round {round}: the SQ was full after {i} of {sq} NOPs"));
            }
        }
        let (submitted, _) = ring
            .submit_and_wait_timeout(sq, ROUND_TIMEOUT)
            .map_err(|e| format!("round {round}: submitting {sq} NOPs failed: {e}"))?;
        // With SQPOLL the kernel thread consumes on its own and commits the
        // SQ head only after posting the batch's CQEs, so `consumed` is a
        // snapshot: check it adds up here and that the head caught up below.
        let complete = if sqpoll {
            submitted.consumed + submitted.remaining == sq
        } else {
            submitted.consumed == sq && submitted.remaining == 0
        };
        if !complete {
            return Err(format!(
                "round {round}: queued {sq} NOPs, the kernel consumed {} ({} remaining, {} dropped)",
                submitted.consumed,
                submitted.remaining,
                ring.submission().dropped()
            ));
        }
        seen.iter_mut().for_each(|s| *s = false);
        let mut reaped = 0u32;
        let deadline = Instant::now() + ROUND_TIMEOUT;
        while reaped < sq {
            let drained: Vec<C::Entry> =
                ring.completions().map_err(|e| format!("round {round}: reaping failed: {e}"))?.collect();
            if drained.is_empty() {
                if Instant::now() >= deadline {
                    return Err(format!(
                        "round {round}: only {reaped} of {sq} CQEs arrived ({} SQEs dropped)",
                        ring.submission().dropped()
                    ));
                }
                ring.wait_timeout(sq - reaped, Duration::from_millis(100))
                    .map_err(|e| format!("round {round}: waiting failed: {e}"))?;
                continue;
            }
            for entry in &drained {
                let cqe = C::base(entry);
                let index = (cqe.user_data & 0xffff_ffff) as usize;
                if cqe.user_data >> 32 != round || index >= seen.len() || seen[index] {
                    return Err(format!(
                        "round {round}: unexpected CQE user_data {:#x} (res {}, flags {:#x})",
                        cqe.user_data, cqe.res, cqe.flags
                    ));
                }
                if cqe.res != 0 {
                    return Err(format!("round {round}: NOP {index} completed with res {}", cqe.res));
                }
                seen[index] = true;
            }
            reaped += drained.len() as u32;
        }
        while !ring.submission().is_empty() {
            if Instant::now() >= deadline {
                return Err(format!(
                    "round {round}: all {sq} CQEs arrived but the kernel's SQ head still shows {} unconsumed",
                    ring.submission().len()
                ));
            }
            std::thread::yield_now();
        }
    }
    let dropped = ring.submission().dropped();
    let overflow = ring.completion().overflow();
    if dropped != 0 || overflow != 0 {
        return Err(format!("sq_dropped = {dropped}, cq_overflow = {overflow} after all rounds"));
    }
    let total = rounds * sq as u64;
    Ok(format!("{rounds} rounds of {sq} NOPs ({total} CQEs through a CQ of {cq}), all matched, 0 dropped"))
}

/// One region a page short (the other exact): ringwise must refuse with the
/// numbers before any syscall. The short region is followed by a guard page,
/// so a setup that did reach the kernel would come back as EFAULT instead.
fn ringwise_refuses_short<S: SqeSize, C: CqeSize>(builder: Builder<S, C>, layout: &Layout, region: Region) -> Check {
    let kind = match region {
        Region::Sqes => CheckKind::RingwiseRefusesShortSqes,
        _ => CheckKind::RingwiseRefusesShortRings,
    };
    let page = layout.page_size();
    let (rings_len, sqes_len) = short_lengths(layout, region);
    let needed = if region == Region::Sqes { layout.sqes_bytes() } else { layout.rings_bytes() };
    let given = needed - page;
    let (rings, sqes) = match (GuardedRegion::new(rings_len), GuardedRegion::new(sqes_len)) {
        (Ok(r), Ok(q)) => (r, q),
        (Err(e), _) | (_, Err(e)) => return Check::fail(kind, format!("could not map test memory: {e}")),
    };
    match builder.build_in_regions(rings, sqes) {
        Err(Error::MemoryTooSmall { region: r, needed: n, given: g }) if r == region && n == needed && g == given => {
            Check::pass(kind, format!("refused before setup: needs {n} bytes, given {g}"))
        }
        Err(e) => Check::fail(
            kind,
            format!("expected MemoryTooSmall {{ needed: {needed}, given: {given} }} for the {region}, got: {e}"),
        ),
        Ok(_) => Check::fail(kind, format!("ringwise accepted a {region} of {given} bytes where it needs {needed}")),
    }
}

/// Region lengths with `short` one page below the layout and the other exact.
fn short_lengths(layout: &Layout, short: Region) -> (usize, usize) {
    let page = layout.page_size();
    match short {
        Region::Sqes => (layout.rings_bytes(), layout.sqes_bytes() - page),
        _ => (layout.rings_bytes() - page, layout.sqes_bytes()),
    }
}

/// One region a page short forced through the raw syscall: the kernel
/// must fault on the guard page, i.e. need every byte the layout says.
fn kernel_refuses_short(spec: &RingSpec, layout: &Layout, region: Region) -> Check {
    let kind = match region {
        Region::Sqes => CheckKind::KernelRefusesShortSqes,
        _ => CheckKind::KernelRefusesShortRings,
    };
    let (rings_len, sqes_len) = short_lengths(layout, region);
    let (rings, sqes) = match (GuardedRegion::new(rings_len), GuardedRegion::new(sqes_len)) {
        (Ok(r), Ok(q)) => (r, q),
        (Err(e), _) | (_, Err(e)) => return Check::fail(kind, format!("could not map test memory: {e}")),
    };
    let given = if region == Region::Sqes { sqes_len } else { rings_len };
    match raw_setup_in(spec, layout.flags(), &rings, &sqes) {
        Err(Errno::FAULT) => Check::pass(kind, format!("the kernel faults on a {given}-byte {region} (EFAULT)")),
        Err(errno) => {
            Check::fail(kind, format!("a {given}-byte {region} was refused with {}, not EFAULT", errno_name(errno)))
        }
        Ok(()) => Check::fail(
            kind,
            format!(
                "the kernel accepted a {given}-byte {region}: it needs less than the layout's {} bytes",
                given + layout.page_size()
            ),
        ),
    }
}
