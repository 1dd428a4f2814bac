//! `ringwise verify`: prove on this kernel that the layout arithmetic is
//! exact, with the checks of the `ringwise-verify` crate over its default
//! configurations: each region in exactly the layout's bytes before a guard
//! page runs I/O, and one page less is refused by ringwise and by the kernel.
//! Then the memlock section: for a spread of configurations, setup by an
//! unprivileged uid under `RLIMIT_MEMLOCK` = the predicted charge succeeds and
//! one page less fails with `ENOMEM` (needs root; skipped with the reason
//! otherwise).
//!
//! A configuration the kernel refuses for lack of a resource (`ENOMEM`,
//! e.g. a user's `RLIMIT_MEMLOCK`) is skipped with that reason, never counted
//! as a mismatch.

use crate::error::{at_most, CliError};
use crate::output::report;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ringwise::RingSpec;
use ringwise_verify::{
    default_configs, memlock_configs, verify_config, verify_memlock, CheckKind, CheckResult, MemlockProof, Outcome,
    Status, Summary,
};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Verify this many configurations, spread evenly over the default set
    /// (default: all of them; more than the set holds is refused, with its
    /// size).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,
    /// Print one JSON object with every outcome instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Print only mismatches and the summary line.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(args: Args) -> ExitCode {
    let all = default_configs();
    if let Some(count) = args.count {
        let n = all.len() as u64;
        if let Err(e) = at_most("--count", count.into(), n, || {
            format!("there are {n} configurations to verify; give --count {n} or less (or leave it out for all)")
        }) {
            return report("verify", args.json, &e, ExitCode::FAILURE);
        }
    }
    let configs = pick(all, args.count);
    let bar = progress_bar(configs.len() as u64, args.quiet);
    let started = Instant::now();
    let outcomes: Vec<Outcome> = configs
        .iter()
        .map(|spec| {
            bar.set_message(ringwise_verify::spec_label(spec));
            let o = verify_config(spec);
            bar.inc(1);
            o
        })
        .collect();
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let summary = Summary::of(&outcomes);
    let memlock = verify_memlock(&memlock_configs());
    let memlock_failed = memlock.as_ref().map_or(0, |m| count(m, CheckResult::Failed));
    let nothing = (summary.passed == 0).then_some(CliError::NothingVerified);

    if args.json {
        let configs: Vec<Value> = outcomes.iter().map(outcome_json).collect();
        let mut out = json!({
            "kernel": ringwise::probe::kernel_release(),
            "page_size": ringwise::raw::sys::page_size(),
            "elapsed_ms": elapsed.as_secs_f64() * 1e3,
            "summary": {
                "configs": summary.configs,
                "passed": summary.passed,
                "mismatches": summary.mismatches,
                "skipped": summary.skipped,
            },
            "configs": configs,
            "memlock": memlock_json(&memlock),
        });
        if let Some(e) = &nothing {
            out["error"] = json!(e.to_string());
            out["errno"] = json!(e.errno_name());
        }
        outln!("{out}");
    } else {
        if !args.quiet {
            print_table(&outcomes);
            outln!();
        }
        for o in outcomes.iter().filter(|o| o.status() == Status::Mismatch) {
            outln!("{o}");
        }
        if !args.quiet {
            for o in outcomes.iter().filter(|o| o.status() == Status::Skipped) {
                outln!("skipped {}: {}", o.label(), o.skip_reason.as_deref().unwrap_or("no check could run"));
            }
        }
        outln!("{summary} (in {:.2?} on Linux {})", elapsed, ringwise::probe::kernel_release());
        print_memlock(&memlock, args.quiet);
        if let Some(e) = &nothing {
            report("verify", false, e, ExitCode::FAILURE);
        }
    }
    if summary.mismatches > 0 || memlock_failed > 0 || nothing.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn count(proofs: &[MemlockProof], result: CheckResult) -> usize {
    proofs.iter().filter(|p| p.result == result).count()
}

/// The memlock section: each configuration (unless `quiet`, failures
/// always) and the summary line, or why it was skipped.
fn print_memlock(memlock: &Result<Vec<MemlockProof>, String>, quiet: bool) {
    let proofs = match memlock {
        Ok(p) => p,
        Err(reason) => {
            outln!("memlock: skipped: {reason}");
            return;
        }
    };
    for p in proofs {
        if !quiet || p.result == CheckResult::Failed {
            outln!("memlock {:<34} {:<7} {}", ringwise_verify::spec_label(&p.spec), cell(Some(p.result)), p.detail);
        }
    }
    outln!(
        "memlock: proved {} configurations: setup under RLIMIT_MEMLOCK = the predicted charge succeeds, one page less \
         fails with ENOMEM; {} failed, {} skipped",
        count(proofs, CheckResult::Passed),
        count(proofs, CheckResult::Failed),
        count(proofs, CheckResult::Skipped)
    );
}

fn memlock_json(memlock: &Result<Vec<MemlockProof>, String>) -> Value {
    match memlock {
        Err(reason) => json!({ "skipped": reason }),
        Ok(proofs) => {
            let configs: Vec<Value> = proofs
                .iter()
                .map(|p| {
                    let result = match p.result {
                        CheckResult::Passed => "proved",
                        CheckResult::Failed => "failed",
                        CheckResult::Skipped => "skipped",
                    };
                    json!({
                        "config": ringwise_verify::spec_label(&p.spec),
                        "entries": p.spec.entries,
                        "cq_entries": p.spec.cq_entries,
                        "flags_bits": p.spec.flags.bits(),
                        "charge_bytes": p.charge.map(|c| c.bytes()),
                        "charge_pages": p.charge.map(|c| c.pages),
                        "result": result,
                        "detail": p.detail,
                    })
                })
                .collect();
            json!({
                "proved": count(proofs, CheckResult::Passed),
                "failed": count(proofs, CheckResult::Failed),
                "skipped": count(proofs, CheckResult::Skipped),
                "configs": configs,
            })
        }
    }
}

/// `count` configurations spread evenly over `all` (all of them by default),
/// so that a short run still touches every family.
fn pick(all: Vec<RingSpec>, count: Option<u32>) -> Vec<RingSpec> {
    let n = all.len();
    match count {
        Some(c) if (c as usize) < n => {
            let c = c as usize;
            (0..c).map(|i| all[i * n / c]).collect()
        }
        _ => all,
    }
}

/// A bar on stderr while the checks run; hidden when stderr is not a
/// terminal or with `--quiet`.
fn progress_bar(len: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("verifying {bar:30} {pos}/{len} {wide_msg}") {
        bar.set_style(style);
    }
    bar
}

fn cell(result: Option<CheckResult>) -> &'static str {
    match result {
        Some(CheckResult::Passed) => "ok",
        Some(CheckResult::Failed) => "FAIL",
        Some(CheckResult::Skipped) => "skip",
        None => "-",
    }
}

fn print_table(outcomes: &[Outcome]) {
    let width = outcomes.iter().map(|o| o.label().len()).max().unwrap_or(6).max(6);
    outln!(
        "{:<width$} {:>6} {:>6} {:>11} {:>11} {:>6} {:>17} {:>13}  result",
        "config",
        "sq",
        "cq",
        "rings bytes",
        "sqes bytes",
        "exact",
        "ringwise-refuses",
        "kernel-EFAULT"
    );
    for o in outcomes {
        let (sq, cq, rings, sqes) = match &o.layout {
            Some(l) => (
                l.sq_entries().to_string(),
                l.cq_entries().to_string(),
                l.rings_bytes().to_string(),
                l.sqes_bytes().to_string(),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        let exact = o.combined(&[CheckKind::Exact, CheckKind::RefusedAlike]);
        let ours = o.combined(&[CheckKind::RingwiseRefusesShortRings, CheckKind::RingwiseRefusesShortSqes]);
        let kernel = o.combined(&[CheckKind::KernelRefusesShortRings, CheckKind::KernelRefusesShortSqes]);
        outln!(
            "{:<width$} {:>6} {:>6} {:>11} {:>11} {:>6} {:>17} {:>13}  {}",
            o.label(),
            sq,
            cq,
            rings,
            sqes,
            cell(exact),
            cell(ours),
            cell(kernel),
            o.status().name()
        );
    }
}

fn outcome_json(o: &Outcome) -> Value {
    let layout = o.layout.as_ref().map(|l| {
        json!({
            "sq_entries": l.sq_entries(),
            "cq_entries": l.cq_entries(),
            "rings_bytes": l.rings_bytes(),
            "sqes_bytes": l.sqes_bytes(),
            "cqes_offset": l.cqes_offset(),
            "sq_array_offset": l.sq_array_offset(),
        })
    });
    let checks: Vec<Value> = o
        .checks
        .iter()
        .map(|c| {
            let result = match c.result {
                CheckResult::Passed => "passed",
                CheckResult::Failed => "failed",
                CheckResult::Skipped => "skipped",
            };
            json!({ "check": c.kind.name(), "result": result, "detail": c.detail })
        })
        .collect();
    let flags: Vec<&str> = o.spec.flags.iter_names().map(|(n, _)| n).collect();
    json!({
        "config": o.label(),
        "entries": o.spec.entries,
        "cq_entries": o.spec.cq_entries,
        "flags": flags,
        "layout": layout,
        "refusal": o.refusal.as_ref().map(|(msg, errno)| json!({ "error": msg, "errno": errno })),
        "status": o.status().name(),
        "skip_reason": o.skip_reason,
        "checks": checks,
        "elapsed_us": o.elapsed.as_micros() as u64,
    })
}
