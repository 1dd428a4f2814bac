//! Attaching a kernel ring to a [`Ring`]: from what `io_uring_setup`
//! returned (setup, in `builder.rs`) or from an adopted fd, map the ring's
//! memory if the kernel holds it, check the kernel's parameters and the
//! ring header it wrote against ringwise's layout, and point the queues
//! into the regions.
//!
//! Every check here guards the memory the queues will touch: a ring whose
//! numbers disagree with the layout is closed (its [`RingFd`] dropped)
//! rather than used.

use super::enter::EnterTarget;
use super::{Backing, Ring};
use crate::abi;
use crate::cqueue::{CqPointers, CqState};
use crate::entry::{size_flags, CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::flags::{Features, SetupFlags, SIZE_FLAGS};
use crate::layout::{Layout, RingSpec};
use crate::memory::KernelMap;
use crate::raw::RingFd;
use crate::squeue::{SqPointers, SqState};
use rustix::io::Errno;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// The ring `fd` names, set up with `params` in memory laid out as
    /// `layout` and held by `backing`: mapped (for kernel memory), checked,
    /// and with its queues pointed into the regions. On error everything
    /// is released: `fd` first (closing the ring, or unregistering a
    /// `REGISTERED_FD_ONLY` ring's index, its only reference), then the
    /// memory. `register_ring_fd` asks for the fd to be registered at the
    /// first enter.
    pub(crate) fn from_setup(
        fd: RingFd,
        params: abi::io_uring_params,
        layout: Layout,
        backing: Backing,
        register_ring_fd: bool,
    ) -> Result<Ring<S, C>> {
        let setup = SetupFlags::from_bits_retain(params.flags);
        let registered_only = fd.registered_index().filter(|_| setup.contains(SetupFlags::REGISTERED_FD_ONLY));
        let raw = match (fd.fd(), registered_only) {
            (Some(f), _) => f.as_raw_fd() as u32,
            (None, Some(index)) => index,
            (None, None) => return Err(Error::NoRingFd { what: "a ring without an fd or a registered index" }),
        };
        let enter = EnterTarget::new(raw, setup, registered_only, register_ring_fd);
        // An error from here on drops `fd` (a local) before `backing` (an
        // argument): the ring is closed before its memory is released.
        let (rings, sqes, kernel_maps) = map_and_check(&params, &layout, &backing, &fd)?;
        // SAFETY: both regions were checked against the layout and the
        // kernel's offsets (map_and_check), and the ring keeps them alive.
        let (sq, cq) = unsafe { queue_pointers(rings, sqes, &params, &layout) };
        // SAFETY: as above.
        let (sq, cq) = unsafe { (SqState::new(sq), CqState::new(cq)) };
        Ok(Ring {
            sq,
            cq,
            enter,
            layout,
            params,
            fd,
            kernel_maps,
            backing,
            registrations: Default::default(),
            release_wait: None,
        })
    }

    /// Take over a ring set up elsewhere (its fd and the parameters setup
    /// returned). The entry-size flags must match `S` and `C`, the parameters
    /// must agree with the exact layout, and the fd must be an io_uring;
    /// rings in caller memory (`NO_MMAP`) cannot be adopted.
    ///
    /// # Safety
    /// An [`OwnedFd`] owns a descriptor, not the kernel ring behind it: `dup`
    /// gives two fds to one ring. So the caller must guarantee that, while
    /// the returned `Ring` lives, no other code and no other `Ring` submits
    /// to, reaps from, or maps and writes the memory of this kernel ring,
    /// through this fd or any other fd or registered index naming it (in
    /// particular: not the `Ring` whose [`fd`](Self::fd) was duplicated, and
    /// not a second `adopt` of a duplicate). Two owners keep separate SQ
    /// tails: the kernel then runs SQE slots one of them filled as if the
    /// other had queued them, again, with whatever pointers they carry.
    ///
    /// `params` must be the parameters `io_uring_setup` returned for this
    /// ring. ringwise refuses the mismatches it can see (entry-size flags
    /// against `S` and `C`, entry counts and masks against the ring's
    /// header, offsets and mapping lengths against the layout), but some
    /// flags leave no trace it can check: a ring without `NO_SQARRAY`
    /// adopted with that flag claimed would run the SQEs its stale SQ array
    /// names instead of those ringwise queued.
    ///
    /// Safe code cannot do it (the only error is E0133, a call to an unsafe
    /// function):
    ///
    /// ```compile_fail,E0133
    /// use ringwise::Ring;
    /// let a: Ring = Ring::new(4)?;
    /// let dup = a.fd().unwrap().try_clone_to_owned().unwrap();
    /// let _b: Ring = Ring::adopt(dup, *a.params())?; // error[E0133]
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub unsafe fn adopt(fd: OwnedFd, params: abi::io_uring_params) -> Result<Ring<S, C>> {
        let setup = SetupFlags::from_bits_retain(params.flags);
        let want = size_flags::<S, C>();
        if setup & SIZE_FLAGS != want {
            return Err(Error::EntryTypeMismatch { types_imply: want, found: setup & SIZE_FLAGS });
        }
        if setup.contains(SetupFlags::NO_MMAP) {
            return Err(Error::NoMmapMisuse {
                what: "adopting a NO_MMAP ring",
                fix: "its memory belongs to whoever set it up and ringwise cannot own it; adopt only rings in \
                      kernel memory",
            });
        }
        match std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) {
            Ok(link) if link.to_string_lossy() != "anon_inode:[io_uring]" => {
                return Err(Error::kernel(
                    "adopt",
                    Errno::BADF,
                    format!("fd {} is {}, not an io_uring", fd.as_raw_fd(), link.display()),
                ));
            }
            Ok(_) => {}
            // Without /proc the mmap of a non-ring fd fails below instead.
            Err(e) if std::path::Path::new("/proc/self/fd").is_dir() => {
                return Err(Error::kernel("adopt", Errno::BADF, format!("fd {} is not open: {e}", fd.as_raw_fd())));
            }
            Err(_) => {}
        }
        let mut spec = RingSpec::new(params.sq_entries).flags(setup - SetupFlags::CQSIZE);
        if setup.contains(SetupFlags::CQSIZE) || Some(params.cq_entries) != params.sq_entries.checked_mul(2) {
            spec = spec.cq_entries(params.cq_entries);
        }
        let layout = spec.layout()?;
        Ring::from_setup(RingFd::from_fd(fd), params, layout, Backing::Kernel, true)
    }
}

/// The queues' pointers into a ring's regions, from the kernel's offsets,
/// after filling the SQ index array (if the layout has one) so that slot i
/// names SQE i: ringwise consumes SQEs in ring order. Shared by setup and
/// resize, the two places a ring gets (new) memory.
///
/// # Safety
/// `rings` and `sqes` must be live regions laid out as `layout`, whose
/// header offsets in `params` were checked against it, and must stay alive
/// as long as the queues built from the pointers.
pub(crate) unsafe fn queue_pointers(
    rings: *mut u8,
    sqes: *mut u8,
    params: &abi::io_uring_params,
    layout: &Layout,
) -> (SqPointers, CqPointers) {
    let at = |off: u32| -> *const AtomicU32 {
        // SAFETY: the offsets were checked to lie in the header of the
        // rings region.
        unsafe { rings.add(off as usize).cast() }
    };
    if let Some(array_off) = layout.sq_array_offset() {
        // SAFETY: the SQ array lies in the rings region (layout); the kernel
        // reads it only when entered, after this.
        unsafe {
            let array = rings.add(array_off).cast::<u32>();
            for i in 0..layout.sq_entries() {
                array.add(i as usize).write(i);
            }
        }
    }
    let (so, co) = (&params.sq_off, &params.cq_off);
    let sq = SqPointers {
        head: at(so.head),
        tail: at(so.tail),
        flags: at(so.flags),
        dropped: at(so.dropped),
        sqes,
        entries: params.sq_entries,
    };
    let cq = CqPointers {
        head: at(co.head),
        tail: at(co.tail),
        overflow: at(co.overflow),
        flags: at(co.flags),
        // SAFETY: cq_off.cqes was checked to equal the layout's offset.
        cqes: unsafe { rings.add(co.cqes as usize) as *const u8 },
        entries: params.cq_entries,
    };
    (sq, cq)
}

/// The ring's regions, mapped if the kernel holds them, after checking the
/// kernel's parameters and ring header against the layout: (rings region,
/// SQE region, the kernel mappings if any).
#[allow(clippy::type_complexity)]
fn map_and_check(
    params: &abi::io_uring_params,
    layout: &Layout,
    backing: &Backing,
    fd: &RingFd,
) -> Result<(*mut u8, *mut u8, Option<(KernelMap, KernelMap)>)> {
    check_params_against_layout(params, layout)?;
    let (rings, sqes, kernel_maps) = match backing {
        Backing::User { rings, sqes, .. } => (*rings, *sqes, None),
        Backing::Kernel => {
            let features = Features::from_bits_retain(params.features);
            if !features.contains(Features::SINGLE_MMAP) {
                return Err(Error::FeatureMissing {
                    what: "a kernel-mapped ring",
                    feature: "IORING_FEAT_SINGLE_MMAP",
                    since: "5.4",
                });
            }
            let Some(fd) = fd.fd() else {
                return Err(Error::NoRingFd { what: "a kernel-mapped ring" });
            };
            let rings_map = KernelMap::map(fd, layout.rings_bytes(), abi::IORING_OFF_SQ_RING as u64, "rings region")?;
            let sqes_map = KernelMap::map(fd, layout.sqes_bytes(), abi::IORING_OFF_SQES as u64, "SQE region")?;
            (rings_map.as_ptr(), sqes_map.as_ptr(), Some((rings_map, sqes_map)))
        }
    };
    check_header_against_params(rings, params)?;
    Ok((rings, sqes, kernel_maps))
}

/// The kernel's returned parameters must agree with our layout, or the
/// memory we handed over (or mapped) is not what the kernel uses.
fn check_params_against_layout(p: &abi::io_uring_params, layout: &Layout) -> Result<()> {
    match params_layout_mismatch(p, layout) {
        None => Ok(()),
        Some((field, kernel, ours)) => Err(Error::LayoutMismatch { field, kernel, ours }),
    }
}

/// The first of the kernel's parameters that disagrees with `layout`: what
/// it is, the kernel's number, ours. Checked at setup and after a resize.
pub(crate) fn params_layout_mismatch(p: &abi::io_uring_params, layout: &Layout) -> Option<(&'static str, u64, u64)> {
    if p.sq_entries != layout.sq_entries() {
        return Some(("sq_entries", p.sq_entries as u64, layout.sq_entries() as u64));
    }
    if p.cq_entries != layout.cq_entries() {
        return Some(("cq_entries", p.cq_entries as u64, layout.cq_entries() as u64));
    }
    if p.cq_off.cqes as usize != layout.cqes_offset() {
        return Some(("cq_off.cqes", p.cq_off.cqes as u64, layout.cqes_offset() as u64));
    }
    if let Some(array) = layout.sq_array_offset() {
        if p.sq_off.array as usize != array {
            return Some(("sq_off.array", p.sq_off.array as u64, array as u64));
        }
    }
    let header = [
        p.sq_off.head,
        p.sq_off.tail,
        p.sq_off.flags,
        p.sq_off.dropped,
        p.cq_off.head,
        p.cq_off.tail,
        p.cq_off.overflow,
        p.cq_off.flags,
    ];
    if let Some(&bad) = header.iter().find(|&&off| off as usize + 4 > layout.cqes_offset()) {
        return Some(("a ring header offset", bad as u64, layout.cqes_offset() as u64));
    }
    None
}

/// The ring header the kernel filled in must describe the ring the
/// parameters describe: an fd adopted with another ring's parameters would
/// otherwise be driven with the wrong masks.
fn check_header_against_params(rings: *const u8, p: &abi::io_uring_params) -> Result<()> {
    use abi::rings_off;
    // SAFETY: `rings` is the start of a rings region at least one header
    // long (checked against the layout); the kernel wrote these fields at
    // setup and never changes them.
    let read = |off: usize| unsafe { (*rings.add(off).cast::<AtomicU32>()).load(Ordering::Relaxed) };
    let fields = [
        ("sq_ring_entries", read(rings_off::SQ_RING_ENTRIES), p.sq_entries),
        ("cq_ring_entries", read(rings_off::CQ_RING_ENTRIES), p.cq_entries),
        ("sq_ring_mask", read(rings_off::SQ_RING_MASK), p.sq_entries.wrapping_sub(1)),
        ("cq_ring_mask", read(rings_off::CQ_RING_MASK), p.cq_entries.wrapping_sub(1)),
    ];
    for (what, ring, params) in fields {
        if ring != params {
            return Err(Error::ForeignRingHeader { field: what, header: ring as u64, params: params as u64 });
        }
    }
    // A ring adopted with SQEs queued but not submitted: they were filled
    // by other code, whose pointers ringwise cannot vouch for.
    let (head, tail) = (read(rings_off::SQ_HEAD), read(rings_off::SQ_TAIL));
    if head != tail {
        return Err(Error::InvalidArgument {
            what: "adopting this ring".into(),
            why: format!(
                "its SQ holds {} SQEs queued by other code and not yet submitted (head {head}, tail {tail}); \
                 submit them before handing the ring over",
                tail.wrapping_sub(head)
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Cqe16, Sqe64};
    use crate::sys;

    /// A `REGISTERED_FD_ONLY` ring whose parameters fail the checks in
    /// `from_setup` is unregistered on that error path: its index is its
    /// only reference, and a leftover index keeps the ring alive until the
    /// thread exits.
    #[test]
    fn registered_fd_only_ring_failing_its_checks_is_unregistered() {
        let flags = SetupFlags::NO_MMAP | SetupFlags::REGISTERED_FD_ONLY;
        let layout = RingSpec::new(8).flags(flags).layout().expect("layout");
        let memory = crate::memory::Mapping::anonymous(layout.total_bytes()).expect("memory");
        let rings = memory.as_ptr();
        // SAFETY: the SQE region's offset lies inside the buffer (the layout
        // says so; the buffer is `total_bytes` long).
        let sqes = unsafe { rings.add(layout.sqes_offset_in_buffer()) };
        let mut p = crate::abi::zeroed_params();
        p.flags = flags.bits();
        p.cq_off.user_addr = rings as u64;
        p.sq_off.user_addr = sqes as u64;
        // SAFETY: both regions lie in `memory`, exactly as the layout says,
        // which stays mapped until after the ring is gone (it moves into the
        // backing below, dropped after the index is unregistered).
        let index = match unsafe { sys::io_uring_setup(8, &mut p) } {
            Ok(index) => index,
            Err(errno) => {
                eprintln!("skipped: this kernel refuses REGISTERED_FD_ONLY rings ({})", crate::errno_name(errno));
                return;
            }
        };
        let registered = || {
            // SAFETY: an enter that submits and waits for nothing, through
            // this thread's index: EBADF once nothing is registered there.
            unsafe { sys::io_uring_enter(index, 0, 0, abi::IORING_ENTER_REGISTERED_RING, std::ptr::null(), 0).is_ok() }
        };
        assert!(registered(), "setup registered the ring at index {index}");
        // The checks fail: these are not the parameters of a 16-entry ring.
        let wrong = RingSpec::new(16).flags(flags).layout().expect("layout");
        let backing = Backing::User { rings, sqes, owners: vec![Box::new(memory)] };
        // SAFETY: setup just returned this index on this thread.
        let fd = unsafe { RingFd::from_setup(index, p.flags) };
        let err = Ring::<Sqe64, Cqe16>::from_setup(fd, p, wrong, backing, false).expect_err("not a 16-entry ring");
        assert!(err.to_string().contains("sq_entries"), "{err}");
        let leaked = registered();
        if leaked {
            // SAFETY: the index is this thread's and nothing else holds it.
            drop(unsafe { RingFd::from_registered_index(index) });
        }
        assert!(!leaked, "the failed ring was left registered at index {index}");
    }
}
