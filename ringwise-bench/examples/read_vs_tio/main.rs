//! `ringwise bench read` side by side with fio's `t/io_uring` at the same
//! settings: both keep `QD` reads in flight and submit in batches of 32
//! (t/io_uring's `-s32 -c32`), pinned to one CPU, rounds interleaved with
//! the order rotating, medians of ops/s and of the per-round ratios.
//!
//!   cargo run --release -p ringwise-bench --example read_vs_tio -- [OPTIONS]
//!
//! Options (all optional):
//! - `--file PATH`: the file to read (default: a 256 MiB file created in
//!   the target directory, written in 1 MiB writes and read once to warm it)
//! - `--out DIR`: where `report.md`, `chart.svg` and `rounds.csv` go
//!   (default `target/bench-report`)
//! - `--rounds N` (default 5), `--secs S` (measured seconds per run, 2 to
//!   600, default 2; t/io_uring runs S + 1 and its first second is dropped,
//!   and its CPU time is taken between its per-second lines, so it needs two)
//! - `--cpu N`: the CPU both clients are pinned to (default: the last one)
//! - `--rt PRIO`: run both clients SCHED_RR at PRIO (`chrt -r`), so that
//!   other work on the machine cannot preempt them on their CPU (it gets
//!   the CPU only in the kernel's RT throttling slice, the same for both
//!   clients); for a machine shared with other load, where plain wall-time
//!   rounds swing by ±20 %. Round-robin, not FIFO: t/io_uring's submitting
//!   thread never blocks, and under SCHED_FIFO on one CPU its reporting
//!   thread, which ends the run, would never run again (the run hung)
//! - `--io buffered,direct`, `--modes plain,tuned`, `--patterns seq,random`,
//!   `--depths 32,128`: which cells to run (default: all)
//!
//! Settings. *plain*: t/io_uring `-B0 -F0 -X0`, ringwise without
//! registrations; *tuned*: `-B1 -F1 -X1`, ringwise `--tuned` (fixed
//! buffers, registered file, registered ring fd). t/io_uring always sets
//! up its ring with `COOP_TASKRUN | SINGLE_ISSUER | DEFER_TASKRUN |
//! NO_SQARRAY`, so ringwise gets the same (`--setup-flags`; `NO_SQARRAY` is
//! ringwise's default). Always `-p0` (no polling), `-t0`, one thread.
//! O_DIRECT cells run only when `ringwise bench read --direct` accepts the
//! file (a filesystem on a block device); otherwise the reason is printed.
//!
//! t/io_uring comes from fio's sources, never kept in this repository:
//! `FIO_SRC` (a source tree or a git repository) if set, else a shallow
//! clone of https://github.com/axboe/fio, into `target/fio-src`, built
//! there with `./configure && make t/io_uring`. When neither works the
//! runner says why and measures ringwise alone. `RINGWISE_BIN` names the
//! `ringwise` binary; by default the runner builds it (`cargo build
//! --release -p ringwise-cli`).

mod report;
mod tio;

use report::{median, Cell};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use tio::Setting;

/// The setup flags t/io_uring gives its ring (besides `NO_SQARRAY`, which
/// ringwise sets by default).
const TIO_FLAGS: &str = "coop_taskrun,single_issuer,defer_taskrun";
const SIZE: u32 = 4096;
const BATCH: u32 = 32;

struct Options {
    file: Option<PathBuf>,
    out: PathBuf,
    rounds: usize,
    secs: u32,
    cpu: Option<usize>,
    rt: Option<u32>,
    io: Vec<String>,
    modes: Vec<String>,
    patterns: Vec<String>,
    depths: Vec<u32>,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("read_vs_tio: {msg}");
    std::process::exit(2)
}

fn options() -> Options {
    let mut o = Options {
        file: None,
        out: target_dir().join("bench-report"),
        rounds: 5,
        secs: 2,
        cpu: None,
        rt: None,
        io: vec!["buffered".into(), "direct".into()],
        modes: vec!["plain".into(), "tuned".into()],
        patterns: vec!["seq".into(), "random".into()],
        depths: vec![32, 128],
    };
    let list = |v: &str| v.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect::<Vec<_>>();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let Some(v) = args.next() else { fail(format!("{a} needs a value")) };
        let num = |v: &str| v.parse::<u64>().unwrap_or_else(|_| fail(format!("{a}: not a number: {v}")));
        match a.as_str() {
            "--file" => o.file = Some(PathBuf::from(v)),
            "--out" => o.out = PathBuf::from(v),
            "--rounds" => o.rounds = num(&v).clamp(1, 1000) as usize,
            "--secs" => o.secs = num(&v).clamp(2, 600) as u32,
            "--cpu" => o.cpu = Some(num(&v) as usize),
            "--rt" => o.rt = Some(num(&v).clamp(1, 99) as u32),
            "--io" => o.io = list(&v),
            "--modes" => o.modes = list(&v),
            "--patterns" => o.patterns = list(&v),
            "--depths" => o.depths = list(&v).iter().map(|d| num(d).clamp(1, 32768) as u32).collect(),
            _ => fail(format!("unknown option {a} (see the top of examples/read_vs_tio/main.rs)")),
        }
    }
    for (what, got, known) in [
        ("--io", &o.io, &["buffered", "direct"][..]),
        ("--modes", &o.modes, &["plain", "tuned"][..]),
        ("--patterns", &o.patterns, &["seq", "random"][..]),
    ] {
        if let Some(bad) = got.iter().find(|g| !known.contains(&g.as_str())) {
            fail(format!("{what}: unknown value {bad} (known: {})", known.join(", ")));
        }
    }
    o
}

/// The `ringwise` binary: `RINGWISE_BIN`, or built now.
fn ringwise_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("RINGWISE_BIN") {
        return PathBuf::from(bin);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building ringwise (cargo build --release -p ringwise-cli) ...");
    let ok = Command::new(cargo)
        .args(["build", "--release", "-p", "ringwise-cli", "--bin", "ringwise"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        fail("could not build ringwise-cli (or set RINGWISE_BIN)");
    }
    target_dir().join("release/ringwise")
}

/// The default data file: 256 MiB written in 1 MiB writes (how a file is
/// written decides its page-cache folio sizes, which move buffered read
/// speed by tens of per cent), then read once so it is cached.
fn data_file(given: Option<PathBuf>) -> PathBuf {
    let path = given.unwrap_or_else(|| target_dir().join("read_vs_tio.dat"));
    const LEN: u64 = 256 << 20;
    if !path.exists() {
        let mut f = std::fs::File::create(&path).unwrap_or_else(|e| fail(format!("create {}: {e}", path.display())));
        let mut chunk = vec![0u8; 1 << 20];
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..LEN >> 20 {
            for b in chunk.chunks_exact_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&chunk).unwrap_or_else(|e| fail(format!("write {}: {e}", path.display())));
        }
        f.sync_all().unwrap_or_else(|e| fail(format!("fsync {}: {e}", path.display())));
    }
    let mut f = std::fs::File::open(&path).unwrap_or_else(|e| fail(format!("open {}: {e}", path.display())));
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf).unwrap_or_else(|e| fail(format!("read {}: {e}", path.display()))) > 0 {}
    path
}

/// How the clients run: pinned to a CPU (taskset), and maybe SCHED_FIFO.
#[derive(Clone, Copy)]
struct Placement {
    cpu: Option<usize>,
    rt: Option<u32>,
}

/// `program` run as `at` says.
fn pinned(at: Placement, program: &Path) -> Command {
    let mut argv: Vec<std::ffi::OsString> = Vec::new();
    if let Some(prio) = at.rt {
        argv.extend(["chrt".into(), "-r".into(), prio.to_string().into()]);
    }
    if let Some(cpu) = at.cpu {
        argv.extend(["taskset".into(), "-c".into(), cpu.to_string().into()]);
    }
    argv.push(program.into());
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..]);
    c
}

fn output_of(mut cmd: Command, what: &str) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(stdout)
}

/// A number field of ringwise's one-line JSON object.
fn json_number(line: &str, key: &str) -> Option<f64> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn ringwise_args(s: &Setting, file: &Path, ops: u64) -> Vec<String> {
    let mut v: Vec<String> = ["bench", "read", "--file"].map(String::from).to_vec();
    v.push(file.display().to_string());
    for (k, val) in
        [("--size", s.size as u64), ("--depth", s.depth.into()), ("--batch", s.batch.into()), ("--ops", ops)]
    {
        v.push(k.into());
        v.push(val.to_string());
    }
    v.push("--setup-flags".into());
    v.push(TIO_FLAGS.into());
    for (on, flag) in [(s.random, "--random"), (s.tuned, "--tuned"), (s.direct, "--direct")] {
        if on {
            v.push(flag.into());
        }
    }
    v.push("--json".into());
    v
}

/// One ringwise run: (ops/s, ops per CPU second).
fn run_ringwise(bin: &Path, at: Placement, s: &Setting, file: &Path, ops: u64) -> Result<(f64, f64), String> {
    let mut cmd = pinned(at, bin);
    cmd.args(ringwise_args(s, file, ops));
    let out = output_of(cmd, "ringwise bench read")?;
    let field = |k| json_number(&out, k).ok_or_else(|| format!("no {k} in ringwise's output: {out}"));
    Ok((field("ops_per_s")?, field("ops_per_cpu_s")?))
}

/// One t/io_uring run: (ops/s, ops per CPU second). Through `stdbuf -oL`:
/// its per-second lines must arrive as it prints them (the CPU time is
/// read then), not all at its exit as a pipe's full buffering would have it.
fn run_tio(bin: &Path, at: Placement, s: &Setting, secs: u32, file: &Path) -> Result<(f64, f64), String> {
    let mut cmd = pinned(at, Path::new("stdbuf"));
    cmd.arg("-oL").arg(bin).args(tio::args(s, secs, file));
    tio::measure(cmd, s.size)
}

fn main() {
    let o = options();
    let cpu = if Command::new("taskset").arg("-V").output().is_ok_and(|x| x.status.success()) {
        Some(o.cpu.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()) - 1))
    } else {
        eprintln!("taskset not found: the clients run unpinned");
        None
    };
    let at = Placement { cpu, rt: o.rt };
    let bin = ringwise_bin();
    let file = data_file(o.file.clone());
    let tio = match tio::build(&target_dir()) {
        Ok(t) => {
            eprintln!("t/io_uring: {} (from {})", t.binary.display(), t.origin);
            Some(t)
        }
        Err(why) => {
            eprintln!("skipped t/io_uring: {why}; measuring ringwise alone");
            None
        }
    };
    let direct_probe = Setting { depth: 1, batch: 1, size: SIZE, random: false, tuned: false, direct: true };
    let direct_ok = match run_ringwise(&bin, at, &direct_probe, &file, 64) {
        Ok(_) => true,
        Err(why) => {
            if o.io.iter().any(|i| i == "direct") {
                eprintln!("skipped O_DIRECT cells: {why}");
            }
            false
        }
    };
    let mut cells = Vec::new();
    let mut skipped = Vec::new();
    for io in o.io.iter().filter(|io| *io == "buffered" || direct_ok) {
        for mode in &o.modes {
            for pattern in &o.patterns {
                for &depth in &o.depths {
                    let s = Setting {
                        depth,
                        batch: BATCH.min(depth),
                        size: SIZE,
                        random: pattern == "random",
                        tuned: mode == "tuned",
                        direct: io == "direct",
                    };
                    let io: &'static str = if s.direct { "O_DIRECT" } else { "buffered" };
                    let mode: &'static str = if s.tuned { "tuned" } else { "plain" };
                    let pattern: &'static str = if s.random { "random" } else { "seq" };
                    let label = format!("{io} {mode} {pattern} QD{depth}");
                    eprint!("{label}:");
                    match measure_cell(&o, &bin, tio.as_ref(), at, &s, &file) {
                        Ok(m) => {
                            eprintln!();
                            cells.push(Cell {
                                label,
                                io,
                                mode,
                                pattern,
                                depth,
                                tio: m.tio,
                                ringwise: m.ringwise,
                                tio_cpu: m.tio_cpu,
                                ringwise_cpu: m.ringwise_cpu,
                            });
                        }
                        Err(why) => {
                            eprintln!(" skipped: {why}");
                            skipped.push(format!("{label}: {why}"));
                        }
                    }
                }
            }
        }
    }
    write_report(&o, &cells, &skipped, tio.as_ref(), at, &file, direct_ok);
}

/// The interleaved rounds of one cell: per-round ops/s of t/io_uring (empty
/// without it) and of ringwise.
fn measure_cell(
    o: &Options,
    bin: &Path,
    tio: Option<&tio::Tio>,
    at: Placement,
    s: &Setting,
    file: &Path,
) -> Result<Measured, String> {
    // Size ringwise's runs to about `secs` seconds from a short first run.
    let mut rate = run_ringwise(bin, at, s, file, 20_000)?.0;
    let mut m = Measured::default();
    for round in 0..o.rounds {
        let ops = (rate * o.secs as f64) as u64;
        let tio_first = round % 2 == 0;
        let run_t = |m: &mut Measured| -> Result<(), String> {
            if let Some(tio) = tio {
                let (wall, cpu) = run_tio(&tio.binary, at, s, o.secs, file)?;
                m.tio.push(wall);
                m.tio_cpu.push(cpu);
            }
            Ok(())
        };
        if tio_first {
            run_t(&mut m)?;
        }
        let (wall, cpu) = run_ringwise(bin, at, s, file, ops.max(1000))?;
        rate = wall;
        m.ringwise.push(wall);
        m.ringwise_cpu.push(cpu);
        if !tio_first {
            run_t(&mut m)?;
        }
        match m.tio_cpu.last() {
            Some(t) => eprint!(" {:.3}", cpu / t),
            None => eprint!(" {:.2}M", cpu / 1e6),
        }
    }
    Ok(m)
}

/// Per-round results of one cell.
#[derive(Default)]
struct Measured {
    tio: Vec<f64>,
    tio_cpu: Vec<f64>,
    ringwise: Vec<f64>,
    ringwise_cpu: Vec<f64>,
}

fn write_report(
    o: &Options,
    cells: &[Cell],
    skipped: &[String],
    tio: Option<&tio::Tio>,
    at: Placement,
    file: &Path,
    direct_ok: bool,
) {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let preamble = format!(
        "4 KiB reads from {} (`ringwise bench read` vs fio's t/io_uring {}), batches of {BATCH} (`-s{BATCH} -c{BATCH}`), \
         {} interleaved rounds of {} s each (order rotating), {}; Linux {}. Throughput: median of rounds; ratio: \
         median of per-round ratios ringwise / t/io_uring. Per CPU second: ops over the CPU time the client's \
         process used (all threads, user and system; ringwise from CLOCK_PROCESS_CPUTIME_ID over its loop, t/io_uring \
         from /proc schedstat between its per-second lines), which time taken by other work on the machine does not \
         inflate; wall: ops over elapsed time. plain = `-B0 -F0 -X0` vs no registrations; tuned = \
         `-B1 -F1 -X1` vs `--tuned`; both rings `COOP_TASKRUN | SINGLE_ISSUER | DEFER_TASKRUN | NO_SQARRAY`.",
        file.display(),
        tio.map_or("(not available: ringwise alone)".to_string(), |t| format!("from {}", t.origin)),
        o.rounds,
        o.secs,
        at.cpu.map_or("unpinned".to_string(), |c| format!("both pinned to CPU {c}"))
            + &at.rt.map_or(String::new(), |p| format!(", SCHED_RR priority {p}")),
        kernel.trim()
    );
    let mut md = if tio.is_some() {
        report::markdown(cells, &preamble)
    } else {
        let mut s = format!("{preamble}\n\n| I/O | mode | pattern | QD | ringwise | ringwise per CPU second |\n|---|---|---|---|---|---|\n");
        for c in cells {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.3} M/s | {:.3} M |\n",
                c.io,
                c.mode,
                c.pattern,
                c.depth,
                median(&c.ringwise) / 1e6,
                median(&c.ringwise_cpu) / 1e6
            ));
        }
        s
    };
    if !direct_ok && o.io.iter().any(|i| i == "direct") {
        md.push_str(
            "\nO_DIRECT cells skipped: `ringwise bench read --direct` refused the file (see the runner's output).\n",
        );
    }
    for s in skipped {
        md.push_str(&format!("\nskipped: {s}\n"));
    }
    println!("{md}");
    if let Err(e) = std::fs::create_dir_all(&o.out) {
        fail(format!("create {}: {e}", o.out.display()));
    }
    let mut csv = String::from(
        "label,round,t_io_uring_ops_per_s,ringwise_ops_per_s,t_io_uring_ops_per_cpu_s,ringwise_ops_per_cpu_s\n",
    );
    for c in cells {
        for (i, (r, rc)) in c.ringwise.iter().zip(&c.ringwise_cpu).enumerate() {
            let t = c.tio.get(i).map_or(String::new(), |t| format!("{t:.0}"));
            let tc = c.tio_cpu.get(i).map_or(String::new(), |t| format!("{t:.0}"));
            csv.push_str(&format!("{},{i},{t},{r:.0},{tc},{rc:.0}\n", c.label));
        }
    }
    let title = "4 KiB reads: ringwise bench read vs t/io_uring (ops per CPU second)";
    for (name, text) in [("report.md", md), ("chart.svg", report::svg(cells, title)), ("rounds.csv", csv)] {
        let path = o.out.join(name);
        if let Err(e) = std::fs::write(&path, text) {
            fail(format!("write {}: {e}", path.display()));
        }
    }
    eprintln!("wrote {}/report.md, chart.svg, rounds.csv", o.out.display());
}
