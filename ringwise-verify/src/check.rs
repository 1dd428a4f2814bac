//! [`verify_config`], and the checks that go through ringwise itself: a ring
//! built in exactly the layout's bytes runs I/O, and one page less is refused
//! before any syscall.
//!
//! The checks that bypass ringwise and talk to the kernel directly are in
//! `kernel`.

use crate::guard::{short_lengths, GuardedRegion};
use crate::kernel::{
    enomem_skip, kernel_offsets, kernel_refuses_short, no_mmap_supported, refused_alike, KernelVerdict, RESOURCE_LIMIT,
    SQPOLL_IDLE,
};
use crate::report::{Check, CheckKind, CheckResult, Outcome};
use ringwise::flags::SIZE_FLAGS;
use ringwise::op::Nop;
use ringwise::{
    Builder, Cqe16, Cqe32, CqeMixed, CqeSize, Error, Layout, Region, Ring, RingSpec, SetupFlags, Sqe128, Sqe64,
    SqeMixed, SqeSize,
};
use std::time::{Duration, Instant};

/// How long to wait for the NOPs of one round before calling it a failure
/// (NOPs complete at once; a missing CQE means the kernel dropped an SQE).
const ROUND_TIMEOUT: Duration = Duration::from_secs(5);

/// NOP rounds on an exact ring: at least this many, and always enough for
/// the CQ to wrap.
const MIN_ROUNDS: u64 = 3;

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
    // A check that met a resource limit (ENOMEM) makes the configuration
    // skipped with that reason: the limit, not the layout, decided it.
    if let Some(c) =
        out.checks.iter().find(|c| c.result == CheckResult::Skipped && c.detail.starts_with(RESOURCE_LIMIT))
    {
        out.skip_reason.get_or_insert_with(|| c.detail.clone());
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
        Err(e) if e.errno() == ringwise::Errno::NOMEM => return Check::skip(kind, enomem_skip(layout)),
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
    // SQPOLL: SQEs the kernel thread consumed after one submit's snapshot
    // are counted by a later submit, so only the running total is exact.
    let mut consumed_total = 0u64;
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
        // snapshot: every SQE is counted by exactly one submit, so the
        // running total plus what is still queued is what was pushed; the
        // head catching up is checked below.
        consumed_total += u64::from(submitted.consumed);
        let complete = if sqpoll {
            consumed_total + u64::from(submitted.remaining) == (round + 1) * u64::from(sq)
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
