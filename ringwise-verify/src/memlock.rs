//! Proof on the running kernel that [`ringwise::memlock::ring`] is the
//! exact `RLIMIT_MEMLOCK` charge of a ring: for each configuration of
//! [`memlock_configs`], a setup by an unprivileged user under a limit of
//! exactly the predicted charge succeeds, and under one page less fails with
//! `ENOMEM`, for the ring in kernel memory and in caller memory (`NO_MMAP`)
//! alike.
//!
//! How a setup runs unprivileged inside this process: the kernel charges
//! the calling thread's user (`current_user()`) and checks the calling
//! thread's `CAP_IPC_LOCK`, and credentials are per thread in the kernel.
//! So each setup runs on a new thread that first drops its own credentials
//! (`setgroups`, `setresgid`, `setresuid` on that thread only, through raw
//! syscalls, not libc's process-wide `setuid`) to a uid nothing else uses,
//! which also clears its capabilities. `RLIMIT_MEMLOCK` is per process: it is
//! set before the thread starts and restored after it ends, one setup at a
//! time. A fresh uid per setup means nothing else is charged to it, not even
//! a ring of an earlier setup still being torn down by the kernel (rings
//! are released asynchronously, after `close` returns).
//!
//! Switching uid needs root (`CAP_SETUID`); without it the proof is skipped
//! with that reason. The approach is the one of the library's own
//! `tests/memlock.rs`.

use crate::guard::GuardedRegion;
use crate::kernel::{raw_params, raw_setup_in, release_raw_ring};
use crate::report::CheckResult;
use ringwise::memlock::{self, MemlockCharge, RingMemoryKind};
use ringwise::raw::sys;
use ringwise::{errno_name, Errno, RingSpec, SetupFlags};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// The process's RLIMIT_MEMLOCK is changed for each setup: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The configurations the memlock proof runs: entry counts where a region
/// grows by a page, with and without the SQ index array, explicit CQ sizes,
/// and every entry size.
pub fn memlock_configs() -> Vec<RingSpec> {
    let no_array = SetupFlags::NO_SQARRAY;
    let mut out = Vec::new();
    for entries in [1u32, 8, 64, 100, 1024, 4096, 32768] {
        out.push(RingSpec::new(entries));
        out.push(RingSpec::new(entries).flags(no_array));
    }
    out.push(RingSpec::new(8).cq_entries(4096));
    out.push(RingSpec::new(100).cq_entries(1000).flags(no_array));
    out.push(RingSpec::new(64).flags(SetupFlags::SQE128));
    out.push(RingSpec::new(64).flags(SetupFlags::CQE32 | no_array));
    out.push(RingSpec::new(4096).flags(SetupFlags::SQE128 | SetupFlags::CQE32));
    out.push(RingSpec::new(128).flags(SetupFlags::CQE_MIXED));
    out
}

/// What the memlock proof found for one configuration.
#[derive(Debug, Clone)]
pub struct MemlockProof {
    /// The configuration.
    pub spec: RingSpec,
    /// The predicted charge, when the layout accepts the configuration.
    pub charge: Option<MemlockCharge>,
    /// Proved, failed (the kernel charges otherwise), or skipped (the
    /// kernel cannot set this ring up at all; the detail says why).
    pub result: CheckResult,
    /// A sentence with the numbers.
    pub detail: String,
}

/// Why the memlock proof cannot run in this process, if it cannot: it
/// needs root to switch threads to unused uids.
pub fn memlock_skip_reason() -> Option<String> {
    if rustix::process::geteuid().is_root() {
        None
    } else {
        Some(
            "not root: the memlock proof runs each setup on a thread switched to an unused uid (which needs \
             CAP_SETUID) so that it is charged like an unprivileged user"
                .to_string(),
        )
    }
}

/// Run the memlock proof on each of `specs`, or say why it cannot run.
pub fn verify_memlock(specs: &[RingSpec]) -> Result<Vec<MemlockProof>, String> {
    if let Some(reason) = memlock_skip_reason() {
        return Err(reason);
    }
    Ok(specs.iter().map(prove).collect())
}

/// Where the ring of one setup lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    Kernel,
    Caller,
}

impl Placement {
    fn name(self) -> &'static str {
        match self {
            Placement::Kernel => "kernel memory",
            Placement::Caller => "caller memory",
        }
    }
}

fn prove(spec: &RingSpec) -> MemlockProof {
    let layout = match spec.layout() {
        Ok(l) => l,
        Err(e) => {
            return MemlockProof {
                spec: *spec,
                charge: None,
                result: CheckResult::Skipped,
                detail: format!("the layout refuses it: {e}"),
            }
        }
    };
    let charge = memlock::ring(&layout, RingMemoryKind::Kernel);
    let page = layout.page_size() as u64;
    let proof = |result, detail| MemlockProof { spec: *spec, charge: Some(charge), result, detail };
    for at in [Placement::Kernel, Placement::Caller] {
        match setup_as_fresh_user(spec, at, charge.bytes()) {
            Ok(None) => {}
            Ok(Some(Errno::NOMEM)) => {
                return proof(
                    CheckResult::Failed,
                    format!("in {}: setup under exactly {charge} failed with ENOMEM", at.name()),
                )
            }
            Ok(Some(errno)) => {
                return proof(
                    CheckResult::Skipped,
                    format!("in {}: the kernel refuses this ring with {}", at.name(), errno_name(errno)),
                )
            }
            Err(reason) => return proof(CheckResult::Skipped, reason),
        }
        match setup_as_fresh_user(spec, at, charge.bytes() - page) {
            Ok(Some(Errno::NOMEM)) => {}
            Ok(None) => {
                return proof(
                    CheckResult::Failed,
                    format!("in {}: setup one page under {charge} succeeded: the charge is smaller", at.name()),
                )
            }
            Ok(Some(errno)) => {
                return proof(
                    CheckResult::Failed,
                    format!(
                        "in {}: setup one page under {charge} failed with {}, not ENOMEM",
                        at.name(),
                        errno_name(errno)
                    ),
                )
            }
            Err(reason) => return proof(CheckResult::Skipped, reason),
        }
    }
    proof(
        CheckResult::Passed,
        format!(
            "{} bytes ({} pages): setup at exactly that limit succeeds and one page less fails with ENOMEM, in kernel \
             and caller memory",
            charge.bytes(),
            charge.pages
        ),
    )
}

/// A uid no account uses, different for each setup and each run (a ring of
/// an earlier run may still be charged to its uid while being torn down).
fn fresh_uid() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    50_000_000 + (std::process::id() % 100_000) * 1000 + NEXT.fetch_add(1, Ordering::Relaxed) % 1000
}

/// Set up (and close at once) the ring of `spec` with the raw syscall, on
/// a thread switched to a fresh uid, under `RLIMIT_MEMLOCK` = `limit`
/// bytes: `Ok(None)` if it set up, `Ok(Some(errno))` if the kernel refused,
/// `Err` if the test itself could not run (limit, uid switch, memory).
fn setup_as_fresh_user(spec: &RingSpec, at: Placement, limit: u64) -> Result<Option<Errno>, String> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let old = getrlimit(Resource::Memlock);
    if old.maximum.is_some_and(|max| limit > max) {
        return Err(format!(
            "the hard RLIMIT_MEMLOCK ({} bytes) is below the {limit} bytes to test",
            old.maximum.unwrap_or(0)
        ));
    }
    let flags = spec.effective_flags();
    let layout = RingSpec { flags: flags | SetupFlags::NO_MMAP, ..*spec }.layout().map_err(|e| e.to_string())?;
    // The caller's regions are mapped before the limit changes: mapping
    // memory is not charged, pinning it at setup is.
    let regions = match at {
        Placement::Kernel => None,
        Placement::Caller => Some((GuardedRegion::new(layout.rings_bytes()), GuardedRegion::new(layout.sqes_bytes()))),
    };
    let regions = match regions {
        None => None,
        Some((Ok(r), Ok(s))) => Some((r, s)),
        Some((Err(e), _)) | Some((_, Err(e))) => return Err(format!("could not map test memory: {e}")),
    };
    setrlimit(Resource::Memlock, Rlimit { current: Some(limit), maximum: old.maximum })
        .map_err(|e| format!("setting RLIMIT_MEMLOCK to {limit} failed: {e}"))?;
    let uid = fresh_uid();
    let spec = *spec;
    let result = std::thread::scope(|s| {
        s.spawn(move || -> Result<Option<Errno>, String> {
            let (u, g) = (rustix::process::Uid::from_raw(uid), rustix::process::Gid::from_raw(uid));
            rustix::thread::set_thread_groups(&[]).map_err(|e| format!("setgroups failed: {e}"))?;
            rustix::thread::set_thread_res_gid(g, g, g).map_err(|e| format!("setresgid({uid}) failed: {e}"))?;
            rustix::thread::set_thread_res_uid(u, u, u).map_err(|e| format!("setresuid({uid}) failed: {e}"))?;
            Ok(match &regions {
                Some((rings, sqes)) => raw_setup_in(&spec, flags, rings, sqes).err(),
                None => raw_kernel_setup(&spec, flags).err(),
            })
        })
        .join()
    });
    let restored = setrlimit(Resource::Memlock, old);
    let result = result.map_err(|_| "the setup thread panicked".to_string())?;
    restored.map_err(|e| format!("restoring RLIMIT_MEMLOCK failed: {e}"))?;
    result
}

/// Set up a kernel-mapped ring with the raw syscall and close it at once.
fn raw_kernel_setup(spec: &RingSpec, flags: SetupFlags) -> Result<(), Errno> {
    let mut p = raw_params(spec, flags);
    // SAFETY: `p` is a valid parameter block asking for kernel memory (no
    // NO_MMAP); the returned fd is released at once.
    let ret = unsafe { sys::io_uring_setup(spec.entries, &mut p) }?;
    // SAFETY: `ret` was just returned by setup on this thread for `p.flags`.
    unsafe { release_raw_ring(ret, SetupFlags::from_bits_retain(p.flags)) };
    Ok(())
}
