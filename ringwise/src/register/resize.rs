//! Resizing a live ring (`IORING_REGISTER_RESIZE_RINGS`, Linux 6.13).
//!
//! What the kernel does, and what this module relies on:
//! * Only rings set up with `DEFER_TASKRUN` can be resized (EINVAL
//!   otherwise); the argument is a `struct io_uring_params` whose `flags` may
//!   hold only `CQSIZE` and `CLAMP`. The size flags, `NO_SQARRAY` and
//!   `NO_MMAP` are inherited from the ring, and the new counts are normalised
//!   exactly as at setup, so [`RingSpec::layout`] gives the new sizes.
//! * The kernel allocates (or, with `NO_MMAP`, pins the caller's memory at
//!   `sq_off.user_addr` / `cq_off.user_addr` for) new regions, copies the SQEs
//!   between the SQ head and tail and the CQEs between the CQ head and tail
//!   to the same ring indices, copies head, tail, flags, `sq_dropped` and the
//!   overflow count, switches over and frees (unpins) the old regions before
//!   returning. If the pending SQEs or CQEs do not fit: EOVERFLOW, nothing
//!   changed.
//! * The new SQ index array is not copied: ringwise fills it again (slot i
//!   names SQE i).
//! * Kernel-mapped rings must be mapped again at the same offsets; existing
//!   mappings keep the old pages alive until unmapped.
//! * Kernels before the fix "don't bypass resizing" returned 0 without doing
//!   anything when the sizes did not change; with `NO_MMAP` that is detected
//!   (the kernel never wrote the new header) and the old memory kept.
//!
//! In caller memory the new regions are checked against the layout before
//! the call ([`check_region`]), just as at setup, so the kernel is never
//! handed memory shorter than it will use.

use super::{explain, opcode};
use crate::abi::zeroed_params;
use crate::abi::{self, rings_off};
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Error, Region, Result};
use crate::flags::SetupFlags;
use crate::layout::{Layout, RingSpec};
use crate::memory::{check_region, KernelMap, RingMemory};
use crate::ring::Backing;
use crate::Ring;
use rustix::io::Errno;
use std::sync::atomic::{AtomicU32, Ordering};

/// Flags a resized ring inherits from the old one (the kernel's `COPY_FLAGS`).
const COPY_FLAGS: SetupFlags = SetupFlags::NO_SQARRAY
    .union(SetupFlags::SQE128)
    .union(SetupFlags::CQE32)
    .union(SetupFlags::NO_MMAP)
    .union(SetupFlags::CQE_MIXED)
    .union(SetupFlags::SQE_MIXED);

/// The new size of a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizeSpec {
    /// SQ entries (rounded up to a power of two like at setup).
    pub sq_entries: u32,
    /// CQ entries; `None` means twice the SQ entries.
    pub cq_entries: Option<u32>,
    /// Clamp counts above the kernel's maximum instead of failing.
    pub clamp: bool,
}

impl ResizeSpec {
    /// `sq_entries` SQ entries and the default CQ size.
    pub fn new(sq_entries: u32) -> ResizeSpec {
        ResizeSpec { sq_entries, cq_entries: None, clamp: false }
    }
    /// Set the CQ size.
    pub fn cq_entries(mut self, cq: u32) -> ResizeSpec {
        self.cq_entries = Some(cq);
        self
    }
    /// Clamp to the kernel's maxima.
    pub fn clamp(mut self) -> ResizeSpec {
        self.clamp = true;
        self
    }
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// The exact layout this ring would have after resizing to `spec`
    /// (what [`resize_in`](Self::resize_in) needs in caller memory).
    pub fn resize_layout(&self, spec: ResizeSpec) -> Result<Layout> {
        let mut flags = self.setup_flags() & COPY_FLAGS;
        if spec.clamp {
            flags |= SetupFlags::CLAMP;
        }
        RingSpec { entries: spec.sq_entries, cq_entries: spec.cq_entries, flags }.layout()
    }

    /// Resize a ring in kernel memory (`IORING_REGISTER_RESIZE_RINGS`,
    /// opcode 33, Linux 6.13). Pending SQEs and CQEs are kept; the ring is
    /// then used through new mappings, and the old ones are unmapped (the
    /// kernel freed the old regions before returning).
    ///
    /// Only rings set up with `DEFER_TASKRUN` can be resized.
    ///
    /// ```
    /// use ringwise::op::Nop;
    /// use ringwise::register::ResizeSpec;
    /// use ringwise::{Builder, Ring};
    ///
    /// let mut ring: Ring = Builder::new(4).single_issuer().defer_taskrun().build()?;
    /// ring.submission().push(Nop::new().user_data(1)).unwrap();
    /// match ring.resize(ResizeSpec::new(64).cq_entries(256)) {
    ///     Ok(()) => {
    ///         assert_eq!(ring.submission().capacity(), 64);
    ///         assert_eq!(ring.completion().capacity(), 256);
    ///     }
    ///     Err(e) => assert_eq!(e.errno_name(), "EINVAL", "a kernel before 6.13: {e}"),
    /// }
    /// // The queued NOP survived the resize.
    /// ring.submit_and_wait(1)?;
    /// assert_eq!(ring.completion().next().unwrap().user_data, 1);
    /// # Ok::<(), ringwise::Error>(())
    /// ```
    pub fn resize(&mut self, spec: ResizeSpec) -> Result<()> {
        if self.setup_flags().contains(SetupFlags::NO_MMAP) {
            return Err(Error::NoMmapMisuse {
                what: "resizing a ring in caller memory without new memory",
                fix: "give the new memory with resize_in (resize_layout says how much)",
            });
        }
        self.resize_with(spec, None)
    }

    /// Resize a ring in caller or library memory (`NO_MMAP`) into `memory`,
    /// which holds both new regions (rings region first, then SQEs; see
    /// [`Layout::total_bytes`]). Opcode 33, Linux 6.13. `memory` is checked
    /// against the exact new layout before the call and moves into the ring,
    /// which keeps it for as long as the kernel uses it; the old memory is
    /// released once the kernel has let go of it (it unpins the old regions
    /// before returning).
    pub fn resize_in<M: RingMemory>(&mut self, spec: ResizeSpec, mut memory: M) -> Result<()> {
        if !self.setup_flags().contains(SetupFlags::NO_MMAP) {
            return Err(Error::NoMmapMisuse {
                what: "resizing a kernel-mapped ring into caller memory",
                fix: "the kernel keeps a ring where it was set up (kernel or caller memory); use resize",
            });
        }
        let layout = self.resize_layout(spec)?;
        let base = memory.as_mut_ptr();
        check_region(Region::Both, base, memory.len(), layout.total_bytes())?;
        let new = (base as usize, base as usize + layout.total_bytes());
        if let Backing::User { rings, sqes, .. } = &self.backing {
            for (start, len, is_rings) in
                [(*rings as usize, self.layout.rings_bytes(), true), (*sqes as usize, self.layout.sqes_bytes(), false)]
            {
                if start < new.1 && new.0 < start + len {
                    let old = (start, start + len);
                    return Err(if is_rings {
                        Error::MemoryOverlap { sqes: new, rings: old }
                    } else {
                        Error::MemoryOverlap { sqes: old, rings: new }
                    });
                }
            }
        }
        // SAFETY: checked to be writable and `total_bytes` long; owned here.
        unsafe { std::ptr::write_bytes(base, 0, layout.total_bytes()) };
        self.resize_with(spec, Some((base, Box::new(memory))))
    }

    fn resize_with(&mut self, spec: ResizeSpec, user: Option<(*mut u8, Box<dyn RingMemory>)>) -> Result<()> {
        let setup = self.setup_flags();
        // A ring without DEFER_TASKRUN goes to the kernel all the same: its
        // EINVAL is the answer (explained in `resize_context`), so that a
        // kernel that one day resizes other rings is not refused here.
        let new_layout = self.resize_layout(spec)?;
        // Queued SQEs go to the kernel's SQ tail so that the kernel copies
        // them; they are not submitted until the next enter.
        self.sq.publish();
        let sq_pending = self.sq.local_tail().wrapping_sub(self.sq.kernel_head());
        if sq_pending > new_layout.sq_entries() {
            return Err(Error::ResizeTooSmall { queue: "SQ", pending: sq_pending, entries: new_layout.sq_entries() });
        }
        let cq_pending = self.cq.len();
        if cq_pending > new_layout.cq_entries() {
            return Err(Error::ResizeTooSmall { queue: "CQ", pending: cq_pending, entries: new_layout.cq_entries() });
        }

        let mut p = zeroed_params();
        p.sq_entries = spec.sq_entries;
        if let Some(cq) = spec.cq_entries {
            p.cq_entries = cq;
            p.flags |= SetupFlags::CQSIZE.bits();
        }
        if spec.clamp {
            p.flags |= SetupFlags::CLAMP.bits();
        }
        if let Some((base, _)) = &user {
            p.cq_off.user_addr = *base as u64;
            p.sq_off.user_addr = *base as u64 + new_layout.sqes_offset_in_buffer() as u64;
        }
        let arg = (&mut p as *mut abi::io_uring_params).cast();
        let pending = (sq_pending, cq_pending);
        let context = |errno| {
            if errno == Errno::INVAL && !setup.contains(SetupFlags::DEFER_TASKRUN) {
                return Some(
                    "the kernel resizes only rings set up with DEFER_TASKRUN (Linux 6.13; build the ring with \
                     Builder::single_issuer().defer_taskrun()), and this ring has no DEFER_TASKRUN"
                        .into(),
                );
            }
            resize_context(errno, pending, &new_layout)
        };
        // SAFETY: `p` is valid for the call; with NO_MMAP the regions it names
        // were checked against the exact new layout and are owned by `user`,
        // which the ring keeps from here on when the kernel switched to it.
        unsafe { self.register(opcode::REGISTER_RESIZE_RINGS, arg, 1, context) }?;
        if let Err(e) = check_resized(&mut p, &new_layout) {
            // The kernel already uses the new memory: keep it for as long as
            // the ring lives, as on success, rather hand it back. The queues
            // still point at the old memory, which the kernel left: the ring
            // must refuse everything from here on.
            if let (Some((_, owner)), Backing::User { owners, .. }) = (user, &mut self.backing) {
                owners.push(owner);
            }
            self.make_unusable(format!("the kernel resized it, but its answer did not match the new layout: {e}"));
            return Err(e);
        }

        let (rings, sqes) = match user {
            Some((base, owner)) => {
                // SAFETY: the header lies in the new rings region.
                let written =
                    unsafe { (*base.add(rings_off::SQ_RING_ENTRIES).cast::<AtomicU32>()).load(Ordering::Acquire) };
                if written == 0 {
                    // The kernel took the old "nothing to do" path: it still
                    // uses the old memory; the new memory was never pinned.
                    return Ok(());
                }
                // SAFETY: offset inside the new buffer (checked length).
                let sqes = unsafe { base.add(new_layout.sqes_offset_in_buffer()) };
                if let Backing::User { rings: r, sqes: q, owners } = &mut self.backing {
                    // The kernel unpinned the old regions before returning:
                    // their owners may go.
                    *r = base;
                    *q = sqes;
                    *owners = vec![owner];
                }
                (base, sqes)
            }
            None => {
                // A kernel-mapped ring always has its fd (REGISTERED_FD_ONLY
                // needs NO_MMAP).
                let fd = self.fd().ok_or(Error::NoRingFd { what: "mapping a resized ring" })?;
                let map = |len, off: u32, what| KernelMap::map(fd, len, off as u64, what);
                let rings_map = if fault::mapping_fails() {
                    Err(Error::kernel("mmap", Errno::NOMEM, "fault injected by a unit test"))
                } else {
                    map(new_layout.rings_bytes(), abi::IORING_OFF_SQ_RING, "resized rings region")
                };
                let sqes_map = map(new_layout.sqes_bytes(), abi::IORING_OFF_SQES, "resized SQE region");
                let (rings_map, sqes_map) = match (rings_map, sqes_map) {
                    (Ok(r), Ok(q)) => (r, q),
                    (Err(e), _) | (_, Err(e)) => {
                        // The kernel has switched to the new memory; the
                        // queues still point at the old, which it no longer
                        // reads or writes: a submit would never be consumed
                        // and a wait never end. Refuse everything instead.
                        let e = explain(e, |_| {
                            Some(
                                "the kernel resized the ring but mapping the new memory failed; the old mappings \
                                 no longer receive completions: drop this ring"
                                    .into(),
                            )
                        });
                        self.make_unusable(format!(
                            "the kernel resized it but mapping the new ring memory failed ({e}); its queues are \
                             no longer reachable"
                        ));
                        return Err(e);
                    }
                };
                let ptrs = (rings_map.as_ptr(), sqes_map.as_ptr());
                // The old mappings are unmapped here, after the new ones exist.
                self.kernel_maps = Some((rings_map, sqes_map));
                ptrs
            }
        };
        // SAFETY: `rings` and `sqes` are the new regions, laid out as
        // `new_layout` (checked against the kernel's answer) and kept alive by
        // the ring.
        unsafe { self.repoint(rings, sqes, &p, &new_layout) };
        self.params.sq_entries = p.sq_entries;
        self.params.cq_entries = p.cq_entries;
        self.params.sq_off = abi::io_sqring_offsets { user_addr: self.params.sq_off.user_addr, ..p.sq_off };
        self.params.cq_off = abi::io_cqring_offsets { user_addr: self.params.cq_off.user_addr, ..p.cq_off };
        if let Some((rings_ptr, sqes_ptr)) = match &self.backing {
            Backing::User { rings, sqes, .. } => Some((*rings as u64, *sqes as u64)),
            Backing::Kernel => None,
        } {
            self.params.cq_off.user_addr = rings_ptr;
            self.params.sq_off.user_addr = sqes_ptr;
        }
        let mut flags = setup;
        if spec.cq_entries.is_some() {
            flags |= SetupFlags::CQSIZE;
        }
        self.layout =
            RingSpec { entries: p.sq_entries, cq_entries: Some(p.cq_entries), flags: flags - SetupFlags::CLAMP }
                .layout()
                .unwrap_or(new_layout);
        Ok(())
    }

    /// Point both queues at resized memory and refill the SQ index array.
    ///
    /// # Safety
    /// `rings` and `sqes` must be live regions laid out as `layout`, with
    /// the kernel's offsets in `p`, kept alive by the ring.
    unsafe fn repoint(&mut self, rings: *mut u8, sqes: *mut u8, p: &abi::io_uring_params, layout: &Layout) {
        // SAFETY: forwarded contract.
        unsafe {
            let (sq, cq) = crate::ring::queue_pointers(rings, sqes, p, layout);
            self.sq.repoint(sq);
            self.cq.repoint(cq);
        }
    }
}

/// A fault a unit test can inject: the mapping of a resized ring's memory
/// fails after the kernel accepted the resize (a path no real condition
/// reaches on demand). Compiles to `false` outside unit tests.
mod fault {
    #[cfg(test)]
    thread_local! {
        /// Fail the next resize's mapping on this thread.
        pub(super) static FAIL_NEXT_MAPPING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Whether to fail this mapping (and clear the request).
    #[inline(always)]
    pub(super) fn mapping_fails() -> bool {
        #[cfg(test)]
        return FAIL_NEXT_MAPPING.with(|f| f.replace(false));
        #[cfg(not(test))]
        false
    }
}

/// What an errno of `REGISTER_RESIZE_RINGS` means, with the entries
/// pending in each queue and the layout asked for.
fn resize_context(errno: Errno, (sq_pending, cq_pending): (u32, u32), new_layout: &Layout) -> Option<String> {
    Some(match errno {
        Errno::OVERFLOW => format!(
            "the pending entries ({sq_pending} SQEs, {cq_pending} CQEs, plus any the kernel still had to post) do \
             not fit {} SQ / {} CQ entries",
            new_layout.sq_entries(),
            new_layout.cq_entries()
        ),
        Errno::INVAL => "the kernel refused the new sizes (see the setup rules), or it predates \
                         IORING_REGISTER_RESIZE_RINGS (Linux 6.13)"
            .into(),
        Errno::EXIST => "a SINGLE_ISSUER ring can only be resized by its submitter thread".into(),
        Errno::FAULT => "the kernel could not pin the new ring memory".into(),
        Errno::NOMEM => "the kernel could not allocate or pin the new ring memory (RLIMIT_MEMLOCK?)".into(),
        _ => return None,
    })
}

/// The kernel's answer to a resize must agree with the new layout, as at
/// setup: the entry counts, the CQE array's offset, the SQ index array's
/// offset (ringwise refills that array, slot i naming SQE i, at the offset
/// its layout computed) and the header offsets the queues are pointed at.
///
/// Linux 6.18 does not report the SQ array's offset after a resize: it
/// leaves `sq_off.array` as passed in (0, which is never an array offset:
/// the header is there) and puts the array where setup would, which is the
/// layout's offset. So 0 is read as "not reported" and replaced by the
/// layout's offset (so that [`Ring::params`] stays whole); any other value
/// must be the layout's.
fn check_resized(p: &mut abi::io_uring_params, layout: &Layout) -> Result<()> {
    if p.sq_off.array == 0 {
        if let Some(array) = layout.sq_array_offset() {
            p.sq_off.array = array as u32;
        }
    }
    match crate::ring::params_layout_mismatch(p, layout) {
        None => Ok(()),
        Some((field, kernel, ours)) => Err(Error::LayoutMismatch { field, kernel, ours }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Cqe16, Sqe64};
    use crate::Builder;

    /// The kernel accepts a resize, then mapping the new memory fails
    /// (injected): the ring refuses every submit, wait, registration and
    /// push from then on, with an error that says why, instead of
    /// submitting into memory the kernel no longer reads (where
    /// `submit_and_wait(1)` blocked forever).
    #[test]
    fn failed_mapping_after_an_accepted_resize_makes_the_ring_refuse_everything() {
        use crate::fake_ring::TestNop;
        let mut ring = match Builder::<Sqe64, Cqe16>::new(4).single_issuer().defer_taskrun().build() {
            Ok(ring) => ring,
            Err(e) => {
                println!("skipped: no SINGLE_ISSUER | DEFER_TASKRUN ring here (Linux 6.1): {e}");
                return;
            }
        };
        ring.submission().push(TestNop(1)).expect("room");
        fault::FAIL_NEXT_MAPPING.with(|f| f.set(true));
        let result = ring.resize(ResizeSpec::new(8));
        if fault::FAIL_NEXT_MAPPING.with(|f| f.replace(false)) {
            println!("skipped: the kernel refused the resize before any mapping (Linux 6.13 needed): {result:?}");
            return;
        }
        let err = result.expect_err("the injected mapping failure");
        assert!(err.to_string().contains("drop this ring"), "{err}");
        let refused = |what: &str, r: Result<()>| {
            let e = r.expect_err(what);
            assert!(matches!(e, Error::RingUnusable { .. }), "{what}: {e:?}");
            assert_eq!(e.errno(), Errno::BADFD, "{what}");
            let text = e.to_string();
            for part in ["mapping the new ring memory failed", "drop it"] {
                assert!(text.contains(part), "{what}: {part:?} missing from: {text}");
            }
        };
        refused("submit", ring.submit().map(|_| ()));
        refused("submit_and_wait", ring.submit_and_wait(1).map(|_| ()));
        refused("wait", ring.wait(1).map(|_| ()));
        refused("wait_timeout", ring.wait_timeout(1, std::time::Duration::from_millis(1)).map(|_| ()));
        refused("get_events", ring.get_events());
        refused("completions", ring.completions().map(|_| ()));
        // SAFETY: ENABLE_RINGS takes no argument (the call is refused before it).
        refused(
            "register",
            unsafe { ring.register_raw(abi::register_op::REGISTER_ENABLE_RINGS, std::ptr::null(), 0) }.map(|_| ()),
        );
        refused("resize", ring.resize(ResizeSpec::new(16)));
        assert!(ring.submission().push(TestNop(2)).is_err(), "a push must be refused too");
        drop(ring);
    }

    /// The kernel's answer to a resize is checked against the new layout
    /// like setup's, the SQ index array's offset included: ringwise refills
    /// that array at its own offset, so a kernel that put it elsewhere would
    /// read garbage indices (and drop or misroute every SQE).
    #[test]
    fn resize_answer_with_another_sq_array_offset_is_refused() {
        let mut ring: Ring<Sqe64, Cqe16> =
            Builder::new(8).single_issuer().defer_taskrun().keep_sq_array().build().expect("ring");
        match ring.resize(ResizeSpec::new(64)) {
            Ok(()) => {}
            Err(e) if e.errno() == Errno::INVAL => {
                eprintln!("skipped: this kernel cannot resize rings (Linux 6.13): {e}");
                return;
            }
            Err(e) => panic!("resize: {e}"),
        }
        let (p, layout) = (*ring.params(), *ring.layout());
        let array = layout.sq_array_offset().expect("the ring keeps its SQ array");
        assert_eq!(layout.sq_entries(), 64);
        assert_eq!(p.sq_off.array as usize, array, "the ring's parameters name its SQ array");
        // The ring works at its new size, through the array ringwise refilled.
        for round in 0..3u64 {
            for i in 0..64 {
                ring.submission().push(crate::op::Nop::new().user_data(round << 8 | i)).expect("room");
            }
            let s = ring.submit_and_wait(64).expect("submit");
            assert_eq!((s.consumed, s.remaining), (64, 0));
            let got: Vec<u64> = ring.completion().drain().map(|c| c.user_data).collect();
            assert_eq!(got, (0..64).map(|i| round << 8 | i).collect::<Vec<_>>());
            assert_eq!(ring.submission().dropped(), 0);
        }
        // What the kernel returns (6.18 leaves the array's offset 0).
        let mut answer = p;
        answer.sq_off.array = 0;
        check_resized(&mut answer, &layout).expect("an offset not reported");
        assert_eq!(answer.sq_off.array as usize, array, "filled in from the layout");
        check_resized(&mut p.clone(), &layout).expect("the layout's own offset");
        let mut moved = p;
        moved.sq_off.array += 64;
        let err = check_resized(&mut moved, &layout).expect_err("an SQ array elsewhere");
        let text = err.to_string();
        assert!(
            text.contains("sq_off.array")
                && text.contains(&(array + 64).to_string())
                && text.contains(&array.to_string()),
            "{text}"
        );
        // Without an SQ array (NO_SQARRAY) there is no offset to compare.
        let no_array = RingSpec::new(64)
            .cq_entries(layout.cq_entries())
            .flags(layout.flags() | SetupFlags::NO_SQARRAY)
            .layout()
            .expect("layout");
        let mut q = p;
        q.sq_off.array = 0;
        q.cq_off.cqes = no_array.cqes_offset() as u32;
        check_resized(&mut q, &no_array).expect("nothing to compare");
        assert_eq!(q.sq_off.array, 0);
    }
}
