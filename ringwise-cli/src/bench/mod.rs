//! `ringwise bench`: measure ringwise on this machine.
//!
//! - `nop`: NOP round trips in batches (fill `batch` SQEs, one
//!   `submit_and_wait(batch)`, reap `batch` CQEs): the library's and the
//!   kernel's per-op overhead, with default or fast flags and the ring in
//!   kernel, user or huge-page memory.
//! - `read`: reads of `size` bytes from a file, `depth` kept in flight and
//!   submitted in batches (the loop of fio's `t/io_uring`), sequential or
//!   random, buffered or `O_DIRECT`, optionally with registered buffers,
//!   file and ring fd (`read.rs`).
//!
//! A progress bar goes to stderr (hidden when stderr is not a terminal); the
//! summary goes to stdout, as text or, with `--json`, as one JSON object.

mod read;
mod read_owned;

use crate::error::{at_least, at_most, CliError};
use crate::output::finish;
use indicatif::{ProgressBar, ProgressStyle};
use ringwise::op::Nop;
use ringwise::{Builder, Pages, Ring};
use serde_json::json;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// NOP throughput: batches of NOPs through one submit_and_wait each.
    Nop(NopArgs),
    /// Read throughput from a file: `depth` reads kept in flight, submitted
    /// in batches.
    Read(read::ReadArgs),
}

#[derive(clap::Args, Debug)]
pub struct NopArgs {
    /// NOPs per submit_and_wait.
    #[arg(long, default_value_t = 32)]
    pub batch: u32,
    /// NOPs in total, at least one batch (rounded down to whole batches;
    /// the output says how many ran).
    #[arg(long, default_value_t = 2_000_000)]
    pub ops: u64,
    /// `default`: no setup flags; `fast`: SINGLE_ISSUER + DEFER_TASKRUN and a
    /// registered ring fd.
    #[arg(long, value_enum, default_value_t = Mode::Default)]
    pub mode: Mode,
    /// Where the ring lives: kernel-mapped, user (library-allocated normal
    /// pages) or huge (2 MiB pages; falls back to normal pages when none are
    /// reserved, and says why).
    #[arg(long, value_enum, default_value_t = MemoryKind::Kernel)]
    pub memory: MemoryKind,
    /// SQ entries, 1 to 32768 and at least the batch (default: 256, or the
    /// batch if larger).
    #[arg(long)]
    pub entries: Option<u32>,
    /// Print one JSON object instead of the text summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Default,
    Fast,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    Kernel,
    User,
    Huge,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Default => "default",
            Mode::Fast => "fast",
        }
    }
}

impl MemoryKind {
    fn name(self) -> &'static str {
        match self {
            MemoryKind::Kernel => "kernel",
            MemoryKind::User => "user",
            MemoryKind::Huge => "huge",
        }
    }
}

pub fn run(cmd: Command) -> ExitCode {
    let (json, result) = match cmd {
        Command::Nop(args) => (args.json, nop(&args)),
        Command::Read(args) => (args.json, read::run(&args)),
    };
    finish("bench", json, result)
}

/// The most SQ entries a ring has (the kernel refuses more without CLAMP).
const MAX_SQ: u32 = ringwise::layout::MAX_SQ_ENTRIES;

/// The most ops one run does: at a million ops a second, 11 days.
const MAX_OPS: u64 = 1_000_000_000_000;

/// The most bytes one read op transfers: the kernel clamps every read to
/// `MAX_RW_COUNT` (`INT_MAX & PAGE_MASK`, 2147479552 on 4 KiB pages, in
/// `rw_verify_area`), and a CQE's result is an `i32` anyway. A larger
/// `--size` used to read that much and then report a short read.
fn max_rw_count() -> u64 {
    let page = ringwise::raw::sys::page_size() as u64;
    i32::MAX as u64 & !(page - 1)
}

/// The most bytes of read buffers (`--size` x `--depth`): half this
/// machine's RAM (the buffers are allocated and touched up front).
fn max_buffer_bytes() -> u64 {
    let info = rustix::system::sysinfo();
    let ram = (info.totalram as u64).saturating_mul(info.mem_unit.max(1) as u64);
    (ram / 2).max(1 << 20)
}

/// Refuse `--ops` of 0, above [`MAX_OPS`], or below one round of `per`.
fn check_ops(ops: u64, per_option: &'static str, per: u32) -> Result<(), CliError> {
    at_least("--ops", ops, 1)?;
    at_most("--ops", ops, MAX_OPS, || "a bound on the run's length (about 11 days at 1 M ops/s)".into())?;
    if ops < per as u64 {
        return Err(CliError::LessThanOneRound { option: "--ops", value: ops, per_option, per });
    }
    Ok(())
}

fn sq_bound(option: &'static str, value: u32) -> Result<(), CliError> {
    at_most(option, value.into(), MAX_SQ.into(), || {
        format!("a ring's SQ holds at most {MAX_SQ} entries (the kernel refuses more)")
    })
}

/// What one run measured.
pub struct Measured {
    /// Ops completed.
    pub ops: u64,
    /// Wall time of the measured loop (set-up excluded).
    pub elapsed: Duration,
    /// `io_uring_enter` calls the loop made (0 where not counted).
    pub enters: u64,
    /// CPU time of the whole process (all threads, user and system) over
    /// the loop, where measured: unlike wall time, it does not count time
    /// the loop spent preempted by other work on the machine.
    pub cpu: Option<Duration>,
}

/// CPU time used so far by this process (all its threads, io_uring's
/// workers included; user and system).
pub fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

impl Measured {
    fn secs(&self) -> f64 {
        self.elapsed.as_secs_f64()
    }
    fn ops_per_s(&self) -> f64 {
        self.ops as f64 / self.secs().max(1e-9)
    }
    fn ns_per_op(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.ops.max(1) as f64
    }
    /// The fields every `--json` object has.
    fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("ops".into(), json!(self.ops));
        m.insert("secs".into(), json!(self.secs()));
        m.insert("ops_per_s".into(), json!(self.ops_per_s()));
        m.insert("ns_per_op".into(), json!(self.ns_per_op()));
        if let Some(cpu) = self.cpu {
            m.insert("cpu_secs".into(), json!(cpu.as_secs_f64()));
            m.insert("ops_per_cpu_s".into(), json!(self.ops as f64 / cpu.as_secs_f64().max(1e-9)));
        }
        m
    }
    fn human(&self) -> String {
        format!("{:.3} s, {:.2} M ops/s, {:.1} ns/op", self.secs(), self.ops_per_s() / 1e6, self.ns_per_op())
    }
}

fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// Rounds between progress updates: about 200 updates per run, so the bar
/// costs nothing measurable.
fn chunk(rounds: u64) -> u64 {
    (rounds / 200).max(1)
}

fn nop(args: &NopArgs) -> Result<(), CliError> {
    at_least("--batch", args.batch.into(), 1)?;
    sq_bound("--batch", args.batch)?;
    let entries = match args.entries {
        Some(entries) => {
            at_least("--entries", entries.into(), 1)?;
            sq_bound("--entries", entries)?;
            fits_sq("--batch", args.batch, entries)?;
            entries
        }
        None => args.batch.max(256),
    };
    check_ops(args.ops, "--batch", args.batch)?;
    let mut b: Builder = Builder::new(entries);
    b = match args.mode {
        Mode::Default => b,
        Mode::Fast => b.single_issuer().defer_taskrun().register_ring_fd(true),
    };
    let ring = match args.memory {
        MemoryKind::Kernel => b.build(),
        MemoryKind::User => b.build_allocated(Pages::Normal),
        MemoryKind::Huge => b.build_allocated(Pages::Huge),
    };
    let mut ring = ring.map_err(|source| CliError::RingSetup { entries, source })?;
    fits_sq("--batch", args.batch, ring.submission().capacity())?;
    let rounds = args.ops / args.batch as u64;
    let bar = progress(rounds * args.batch as u64, "nop");
    let step = chunk(rounds);
    let start = Instant::now();
    let mut done = 0;
    while done < rounds {
        let n = step.min(rounds - done);
        nop_rounds(&mut ring, args.batch, n)?;
        done += n;
        bar.set_position(done * args.batch as u64);
    }
    let m = Measured { ops: rounds * args.batch as u64, elapsed: start.elapsed(), enters: rounds, cpu: None };
    bar.finish_and_clear();
    let memory = ring.memory_report().kind;
    if args.json {
        let mut o = m.json();
        o.insert("bench".into(), json!("nop"));
        o.insert("batch".into(), json!(args.batch));
        o.insert("mode".into(), json!(args.mode.name()));
        o.insert("memory".into(), json!(args.memory.name()));
        o.insert("memory_detail".into(), json!(memory));
        o.insert("entries".into(), json!(ring.submission().capacity()));
        outln!("{}", serde_json::Value::Object(o));
    } else {
        outln!(
            "nop: {} NOPs in batches of {} ({} flags, {}-entry ring, memory: {})",
            m.ops,
            args.batch,
            args.mode.name(),
            ring.submission().capacity(),
            memory
        );
        outln!("  {}", m.human());
    }
    Ok(())
}

/// `rounds` rounds of: push `batch` NOPs, submit_and_wait(batch), reap them.
///
/// Out of line: inlined into `nop`, its cost per NOP swung by ±8
/// instructions with unrelated library changes (register pressure in the
/// big caller); out of line it is the loop a user writes, measured alone.
#[inline(never)]
fn nop_rounds(ring: &mut Ring, batch: u32, rounds: u64) -> Result<(), CliError> {
    let capacity = ring.submission().capacity();
    for _ in 0..rounds {
        let mut sq = ring.submission();
        for i in 0..batch {
            sq.push(Nop::new().user_data(i as u64)).map_err(|_| CliError::SqFull { capacity })?;
        }
        ring.submit_and_wait(batch).map_err(|source| CliError::Ring { call: "submit_and_wait", source })?;
        reap(ring, batch, |cqe| if cqe.res < 0 { Err(op_failed("NOP", cqe)) } else { Ok(()) })?;
    }
    Ok(())
}

/// Reap exactly `n` CQEs, waiting for stragglers; `check` vets each.
#[inline(always)]
fn reap(
    ring: &mut Ring,
    n: u32,
    mut check: impl FnMut(&ringwise::Cqe) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut got = 0;
    loop {
        for cqe in ring.completion().drain() {
            check(&cqe)?;
            got += 1;
        }
        if got >= n {
            return Ok(());
        }
        ring.wait(n - got).map_err(|source| CliError::Ring { call: "wait", source })?;
    }
}

/// Refuse an option asking for more SQEs at once than the ring's SQ holds.
fn fits_sq(option: &'static str, value: u32, sq: u32) -> Result<(), CliError> {
    if value > sq {
        Err(CliError::ExceedsSq { option, value, sq })
    } else {
        Ok(())
    }
}

/// The error of a CQE whose result is a negative errno.
#[cold]
fn op_failed(op: &'static str, cqe: &ringwise::Cqe) -> CliError {
    CliError::OpFailed { op, user_data: cqe.user_data, errno: ringwise::Errno::from_raw_os_error(-cqe.res) }
}
