//! Side-by-side io_uring benchmarks: ringwise, the `io-uring` crate, C
//! liburing, and a minimal raw-syscall C client as the floor.
//!
//! Every client runs the same loops: `rounds` rounds of `batch` NOPs (fill
//! `batch` SQEs, one `io_uring_enter(batch, batch, GETEVENTS)`, reap `batch`
//! CQEs), or `rounds` rounds of `depth` buffered reads. Each loop returns a
//! checksum of the CQEs it reaped (`user_data + res`), so nothing is optimised
//! away and a client that loses or invents completions is caught
//! ([`nop_checksum`], [`read_checksum`]).
//!
//! The `io-uring` crate client lives in `clients/iouring_crate.rs` (the crate
//! is a dev-dependency) and is included by the benches and examples.

pub mod c;
pub mod ringwise_client;
pub mod workload;

use std::fmt;

/// Ring setup flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No setup flags (and no registered ring fd where the client can help it).
    Default,
    /// `SINGLE_ISSUER | DEFER_TASKRUN` and a registered ring fd.
    Fast,
}

impl Mode {
    /// Both modes, for tables.
    pub const ALL: [Mode; 2] = [Mode::Default, Mode::Fast];

    /// Parse `default` / `fast`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "default" => Some(Mode::Default),
            "fast" => Some(Mode::Fast),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Default => "default",
            Mode::Fast => "fast",
        })
    }
}

/// Why a client cannot run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Built without liburing-dev.
    NoLiburing,
    /// Setup failed (kernel refused a flag, out of memory, ...).
    Setup(String),
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::NoLiburing => f.write_str("skipped: liburing-dev not installed"),
            Unavailable::Setup(why) => write!(f, "skipped: setup failed: {why}"),
        }
    }
}

impl std::error::Error for Unavailable {}

/// A client that runs the NOP loop.
pub trait NopClient {
    /// Run `rounds` rounds of `batch` NOPs; returns the CQE checksum.
    fn nop_rounds(&mut self, batch: u32, rounds: u64) -> u64;
}

/// A client that runs the read loop.
pub trait ReadClient {
    /// Run `rounds` rounds of `depth` reads; returns the CQE checksum.
    fn read_rounds(&mut self, rounds: u64) -> u64;
}

/// The checksum every correct client returns from `rounds` NOP rounds of
/// `batch`: the sum of `user_data` (0..batch) per round, `res` being 0.
pub fn nop_checksum(batch: u32, rounds: u64) -> u64 {
    let b = batch as u64;
    rounds * (b * (b - 1) / 2)
}

/// The checksum of `rounds` full read rounds of `depth` reads of `size`
/// bytes each (every read returns `size`).
pub fn read_checksum(depth: u32, size: u32, rounds: u64) -> u64 {
    let d = depth as u64;
    rounds * (d * (d - 1) / 2 + d * size as u64)
}

/// The median of a non-empty sample (sorted in place).
pub fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Arguments of the per-client `nop_*` examples: `OPS [BATCH] [default|fast]`
/// (defaults: 1000000, 32, default). Used for callgrind instruction counts.
pub fn example_args() -> (u64, u32, Mode) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: nop_<client> OPS [BATCH] [default|fast]";
    let ops = args.first().map_or(1_000_000, |s| s.parse().expect(usage));
    let batch = args.get(1).map_or(32, |s| s.parse().expect(usage));
    let mode = args.get(2).map_or(Mode::Default, |s| Mode::parse(s).expect(usage));
    (ops, batch, mode)
}

/// Run an example's NOPs (rounds = ops / batch) and check the checksum.
pub fn run_example(client: &mut dyn NopClient, ops: u64, batch: u32) {
    let rounds = ops / batch as u64;
    let sum = client.nop_rounds(batch, rounds);
    assert_eq!(sum, nop_checksum(batch, rounds), "completions lost or invented");
    println!("{} NOPs in batches of {batch}", rounds * batch as u64);
}
