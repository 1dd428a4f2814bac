//! What verification found: one [`Check`] per property, an [`Outcome`] per
//! configuration with its verdict ([`Status`]), and the [`Summary`] line over
//! many.

use crate::configs::spec_label;
use ringwise::{Layout, RingSpec};
use std::fmt;
use std::time::Duration;

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
    /// What the check establishes.
    pub kind: CheckKind,
    /// Whether it held, failed, or did not apply.
    pub result: CheckResult,
    /// A sentence with the numbers.
    pub detail: String,
}

impl Check {
    pub(crate) fn pass(kind: CheckKind, detail: impl Into<String>) -> Check {
        Check { kind, result: CheckResult::Passed, detail: detail.into() }
    }
    pub(crate) fn fail(kind: CheckKind, detail: impl Into<String>) -> Check {
        Check { kind, result: CheckResult::Failed, detail: detail.into() }
    }
    pub(crate) fn skip(kind: CheckKind, detail: impl Into<String>) -> Check {
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

/// Everything [`verify_config`](crate::verify_config) found out about one configuration.
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
    /// Configurations verified.
    pub configs: usize,
    /// Configurations whose every check passed ([`Status::Passed`]).
    pub passed: usize,
    /// Configurations with a failed check ([`Status::Mismatch`]).
    pub mismatches: usize,
    /// Configurations this kernel cannot run ([`Status::Skipped`]).
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
