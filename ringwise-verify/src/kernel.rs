//! The checks that go straight to the kernel through [`ringwise::raw`],
//! bypassing every check of ringwise's: a kernel-mapped ring returns the
//! layout's offsets, a region one page short makes the kernel fault, and a
//! configuration the layout refuses is refused by the kernel alike. Also the
//! kernel capabilities those checks depend on, probed once.

use crate::guard::{short_lengths, GuardedRegion};
use crate::report::{Check, CheckKind, Outcome};
use ringwise::raw::abi::{self, zeroed_params};
use ringwise::raw::sys;
use ringwise::{errno_name, Errno, Error, Layout, Region, RingSpec, SetupFlags};
use std::sync::OnceLock;
use std::time::Duration;

/// How every check that meets `ENOMEM` starts its detail: a resource
/// limit, which makes the configuration skipped, never a mismatch.
pub(crate) const RESOURCE_LIMIT: &str = "resource limit: ";

/// Why a setup of `layout`'s ring failed with `ENOMEM`: almost always
/// `RLIMIT_MEMLOCK` (a user without `CAP_IPC_LOCK` is charged the ring's
/// pages), with the charge and the limit. Starts with [`RESOURCE_LIMIT`].
pub(crate) fn enomem_skip(layout: &Layout) -> String {
    let charge = ringwise::memlock::ring(layout, ringwise::memlock::RingMemoryKind::Kernel);
    let limit = rustix::process::getrlimit(rustix::process::Resource::Memlock).current;
    let limit = limit.map_or("unlimited".to_string(), |l| format!("{l} bytes"));
    format!(
        "{RESOURCE_LIMIT}the kernel refused the ring with ENOMEM: it charges {} bytes of RLIMIT_MEMLOCK ({}) and the \
         limit is {limit}, shared with this user's other rings, including rings closed a moment ago that the kernel \
         is still tearing down; not a layout mismatch (run as root, or raise `ulimit -l`)",
        charge.bytes(),
        charge
    )
}

/// How long an SQPOLL thread of a verification ring idles before sleeping:
/// short, so that it does not spin on a shared machine after each check.
pub(crate) const SQPOLL_IDLE: Duration = Duration::from_millis(10);

/// Whether this kernel takes rings in caller memory at all (6.5+), probed
/// once.
pub(crate) fn no_mmap_supported() -> Result<(), String> {
    static SUPPORTED: OnceLock<Result<(), String>> = OnceLock::new();
    SUPPORTED
        .get_or_init(|| match ringwise::probe::try_setup_flags(SetupFlags::NO_MMAP) {
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
        ringwise::probe::setup_flag_support()
            .into_iter()
            .filter(|s| s.result.is_err())
            .fold(SetupFlags::empty(), |acc, s| acc | s.flag)
    })
}

/// Parameters for a raw `io_uring_setup` of `spec` with `flags`.
pub(crate) fn raw_params(spec: &RingSpec, flags: SetupFlags) -> abi::io_uring_params {
    let mut p = zeroed_params();
    p.flags = flags.bits();
    p.cq_entries = spec.cq_entries.unwrap_or(0);
    if flags.contains(SetupFlags::SQPOLL) {
        p.sq_thread_idle = SQPOLL_IDLE.as_millis() as u32;
    }
    p
}

/// Release what a successful raw setup returned on this thread: close the
/// fd, or with `REGISTERED_FD_ONLY` unregister the ring index (there is no fd
/// to close). Dropping ringwise's [`RingFd`](ringwise::raw::RingFd), the one
/// owner of a raw ring fd and its registered index, does exactly that.
///
/// # Safety
/// `ret` must be what `io_uring_setup` just returned on this thread for a
/// ring set up with `flags`, owned by nothing else.
pub(crate) unsafe fn release_raw_ring(ret: u32, flags: SetupFlags) {
    // SAFETY: the caller's contract is RingFd::from_setup's.
    drop(unsafe { ringwise::raw::RingFd::from_setup(ret, flags.bits()) });
}

/// Set up a ring in the given regions with the raw syscall (no ringwise
/// checks), close it at once if that succeeds, and return the errno if not.
pub(crate) fn raw_setup_in(
    spec: &RingSpec,
    flags: SetupFlags,
    rings: &GuardedRegion,
    sqes: &GuardedRegion,
) -> Result<(), Errno> {
    let mut p = raw_params(spec, flags | SetupFlags::NO_MMAP);
    p.cq_off.user_addr = rings.addr() as u64;
    p.sq_off.user_addr = sqes.addr() as u64;
    // SAFETY: `p` is valid. The regions are private anonymous mappings that
    // outlive the ring: if setup succeeds the ring is closed right here,
    // before the regions are unmapped (the kernel's pinned pages are not
    // reused by the process after that).
    let ret = unsafe { sys::io_uring_setup(spec.entries, &mut p) }?;
    // SAFETY: `ret` was just returned by setup on this thread for `p.flags`.
    unsafe { release_raw_ring(ret, SetupFlags::from_bits_retain(p.flags)) };
    Ok(())
}

/// The layout refuses `spec`; the kernel must refuse it with the same errno.
/// It is handed one guarded page per region: a kernel that accepted the
/// parameters would fault on the guard, which tells the two apart.
pub(crate) fn refused_alike(spec: &RingSpec, err: &Error, out: &mut Outcome) {
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
        Err(Errno::NOMEM) if ours != Errno::NOMEM => {
            let reason = format!(
                "{RESOURCE_LIMIT}the kernel answered ENOMEM (RLIMIT_MEMLOCK or memory), so whether it refuses \
                 with {} could not be seen",
                errno_name(ours)
            );
            out.checks.push(Check::skip(kind, reason.clone()));
            out.skip_reason = Some(reason);
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

/// What the kernel-mapped comparison found: a check, or a reason to skip
/// the whole configuration.
pub(crate) enum KernelVerdict {
    /// The comparison ran (or was not applicable).
    Check(Check),
    /// The kernel cannot run this shape at all, for a reason unrelated to
    /// memory.
    Skip(String),
}

/// Set up a kernel-mapped ring of the same shape and compare the counts and
/// offsets the kernel returns with the layout.
pub(crate) fn kernel_offsets(spec: &RingSpec, layout: &Layout) -> KernelVerdict {
    let kind = CheckKind::KernelOffsets;
    let flags = layout.flags() - SetupFlags::NO_MMAP;
    if flags.contains(SetupFlags::REGISTERED_FD_ONLY) {
        return KernelVerdict::Check(Check::skip(kind, "REGISTERED_FD_ONLY rings exist only in caller memory"));
    }
    let mut p = raw_params(spec, flags);
    // SAFETY: `p` is valid and asks for kernel memory (no NO_MMAP).
    let ret = match unsafe { sys::io_uring_setup(spec.entries, &mut p) } {
        Ok(ret) => ret,
        Err(Errno::NOMEM) => return KernelVerdict::Skip(enomem_skip(layout)),
        Err(errno) => return kernel_refusal(flags, errno),
    };
    // SAFETY: `ret` was just returned by setup on this thread for `flags`.
    unsafe { release_raw_ring(ret, flags) };
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
        _ => KernelVerdict::Check(Check::fail(
            CheckKind::KernelOffsets,
            format!(
                "ringwise computes a layout for this configuration, but the kernel refuses it with {}",
                errno_name(errno)
            ),
        )),
    }
}

/// One region a page short forced through the raw syscall: the kernel
/// must fault on the guard page, i.e. need every byte the layout says.
pub(crate) fn kernel_refuses_short(spec: &RingSpec, layout: &Layout, region: Region) -> Check {
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
        Err(Errno::NOMEM) => Check::skip(kind, enomem_skip(layout)),
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
