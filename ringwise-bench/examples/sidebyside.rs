//! The side-by-side table for the README: every client measured in the same
//! run, interleaved (each round runs every client once, in a rotating
//! order). Throughputs are medians of the rounds; ratios are medians of the
//! per-round ratios. Wall-clock ratios are only meaningful within one run on
//! this kind of shared machine.
//!
//!   taskset -c 1 cargo run --release -p ringwise-bench --example sidebyside -- [ROUNDS] [SCALE]
//!
//! ROUNDS (default 7) rounds; SCALE (default 1.0) multiplies the op counts;
//! ONLY (`nop`, `read` or `memory`) runs one section.

#[path = "../clients/iouring_crate.rs"]
mod iouring_crate;

use ringwise_bench::c::{CReader, Liburing, Raw};
use ringwise_bench::ringwise_client::{Memory, Ringwise, RingwiseReader};
use ringwise_bench::workload::ReadFile;
use ringwise_bench::{median, nop_checksum, read_checksum, Mode, NopClient, ReadClient};
use std::time::Instant;

const ENTRIES: u32 = 256;
const CLIENTS: [&str; 4] = ["raw", "liburing", "io-uring", "ringwise"];

fn open_nop(name: &str, mode: Mode) -> Option<Box<dyn NopClient>> {
    let r: Result<Box<dyn NopClient>, _> = match name {
        "raw" => Raw::open(ENTRIES, mode).map(|c| Box::new(c) as _),
        "liburing" => Liburing::open(ENTRIES, mode).map(|c| Box::new(c) as _),
        "io-uring" => iouring_crate::IoUringCrate::open(ENTRIES, mode).map(|c| Box::new(c) as _),
        _ => Ringwise::open(ENTRIES, mode, Memory::Kernel).map(|c| Box::new(c) as _),
    };
    r.map_err(|e| eprintln!("{name} ({mode}): {e}")).ok()
}

/// Nanoseconds per op of one timed run.
fn time_nop(c: &mut dyn NopClient, batch: u32, ops: u64) -> f64 {
    let rounds = (ops / batch as u64).max(1);
    let t = Instant::now();
    let sum = c.nop_rounds(batch, rounds);
    let ns = t.elapsed().as_nanos() as f64;
    assert_eq!(sum, nop_checksum(batch, rounds));
    ns / (rounds * batch as u64) as f64
}

fn time_read(c: &mut dyn ReadClient, depth: u32, size: u32, ops: u64) -> f64 {
    let rounds = (ops / depth as u64).max(1);
    let t = Instant::now();
    let sum = c.read_rounds(rounds);
    let ns = t.elapsed().as_nanos() as f64;
    assert_eq!(sum, read_checksum(depth, size, rounds));
    ns / (rounds * depth as u64) as f64
}

/// Per-round times (ns/op) of every client, rounds interleaved.
struct Sampled {
    samples: Vec<Vec<f64>>,
}

impl Sampled {
    /// Median ns/op of client `i`.
    fn median(&self, i: usize) -> f64 {
        median(&mut self.samples[i].clone())
    }

    /// How much faster `fast` is than `slow`: the median over rounds of
    /// time(slow) / time(fast) within the same round. A burst of load from
    /// elsewhere that spans a round slows both alike, so the per-round
    /// ratio shrugs off what skews a ratio of medians.
    fn speedup(&self, fast: usize, slow: usize) -> f64 {
        let mut r: Vec<f64> = self.samples[slow].iter().zip(&self.samples[fast]).map(|(s, f)| s / f).collect();
        median(&mut r)
    }
}

/// Run `rounds` interleaved rounds over `clients` (each round runs every
/// client once, starting with a different one each round).
fn interleave<T: ?Sized>(
    clients: &mut [(String, Box<T>)],
    rounds: usize,
    mut run: impl FnMut(&mut T) -> f64,
) -> Sampled {
    let n = clients.len();
    let mut samples = vec![Vec::new(); n];
    for c in clients.iter_mut() {
        run(&mut *c.1); // warm-up
    }
    for r in 0..rounds {
        for k in 0..n {
            let i = (r + k) % n;
            samples[i].push(run(&mut *clients[i].1));
        }
    }
    Sampled { samples }
}

fn mops(ns: f64) -> String {
    format!("{:.2} M/s", 1e3 / ns)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = args.first().map_or(7, |s| s.parse().expect("ROUNDS"));
    let scale: f64 = args.get(1).map_or(1.0, |s| s.parse().expect("SCALE"));
    let only = args.get(2).cloned();
    let want = |section: &str| only.as_deref().map_or(true, |o| o == section);
    let lib = Liburing::version().unwrap_or_else(|| "not installed".into());
    println!(
        "liburing (Debian liburing-dev): {lib}; io-uring crate 0.7; {rounds} interleaved rounds; medians of \
         throughput and of per-round ratios\n"
    );

    for mode in Mode::ALL.into_iter().filter(|_| want("nop")) {
        println!("### NOP throughput, {mode} flags\n");
        println!("| batch | raw C floor | liburing | io-uring crate | ringwise | ringwise / liburing | ringwise / io-uring | ringwise / raw |");
        println!("|---|---|---|---|---|---|---|---|");
        for batch in [1u32, 8, 32, 128] {
            let ops = ((match batch {
                1 => 200_000.0,
                8 => 600_000.0,
                32 => 1_200_000.0,
                _ => 1_600_000.0,
            }) * scale) as u64;
            let mut clients: Vec<(String, Box<dyn NopClient>)> =
                CLIENTS.iter().filter_map(|n| open_nop(n, mode).map(|c| (n.to_string(), c))).collect();
            let sampled = interleave(&mut clients, rounds, |c| time_nop(c, batch, ops));
            let pos = |name: &str| clients.iter().position(|c| c.0 == name);
            let cell = |name: &str| pos(name).map_or("skipped".to_string(), |i| mops(sampled.median(i)));
            let ratio = |name: &str| match (pos("ringwise"), pos(name)) {
                (Some(rw), Some(other)) => format!("{:.3}", sampled.speedup(rw, other)),
                _ => "-".into(),
            };
            println!(
                "| {batch} | {} | {} | {} | {} | {} | {} | {} |",
                cell("raw"),
                cell("liburing"),
                cell("io-uring"),
                cell("ringwise"),
                ratio("liburing"),
                ratio("io-uring"),
                ratio("raw")
            );
        }
        println!();
    }

    if want("read") {
        read_section(rounds, scale);
    }
    if want("memory") {
        memory_section(rounds, scale);
    }
}

fn read_section(rounds: usize, scale: f64) {
    println!("### 4 KiB buffered reads, queue depth 32, warm 64 MiB file\n");
    match ReadFile::temp(64 << 20, 4096, 32) {
        Err(e) => println!("skipped: {e}\n"),
        Ok(file) => {
            let mut clients: Vec<(String, Box<dyn ReadClient>)> = Vec::new();
            let mut add = |name: &str, r: Result<Box<dyn ReadClient>, ringwise_bench::Unavailable>| match r {
                Ok(c) => clients.push((name.to_string(), c)),
                Err(e) => eprintln!("{name}: {e}"),
            };
            add("raw", CReader::raw(file.clone(), Mode::Default).map(|c| Box::new(c) as _));
            add("liburing", CReader::liburing(file.clone(), Mode::Default).map(|c| Box::new(c) as _));
            add(
                "io-uring",
                iouring_crate::IoUringCrateReader::new(file.clone(), Mode::Default).map(|c| Box::new(c) as _),
            );
            add("ringwise", RingwiseReader::new(file.clone(), Mode::Default, Memory::Kernel).map(|c| Box::new(c) as _));
            let ops = (300_000.0 * scale) as u64;
            let sampled = interleave(&mut clients, rounds, |c| time_read(c, 32, 4096, ops));
            let rw = clients.iter().position(|c| c.0 == "ringwise");
            println!("| client | reads/s | ringwise / client |");
            println!("|---|---|---|");
            for (i, (name, _)) in clients.iter().enumerate() {
                let ratio = rw.map_or("-".into(), |rw| format!("{:.3}", sampled.speedup(rw, i)));
                println!("| {name} | {} | {ratio} |", mops(sampled.median(i)));
            }
            println!();
        }
    }
}

fn memory_section(rounds: usize, scale: f64) {
    println!("### Ring memory (ringwise NOPs)\n");
    println!("| mode | batch | kernel-mapped | user pages | huge pages | user / kernel | huge / kernel |");
    println!("|---|---|---|---|---|---|---|");
    let mut notes = Vec::new();
    for mode in Mode::ALL {
        for batch in [1u32, 32] {
            let ops = ((if batch == 1 { 200_000.0 } else { 1_200_000.0 }) * scale) as u64;
            let mut clients: Vec<(String, Box<dyn NopClient>)> = Vec::new();
            for m in Memory::ALL {
                match Ringwise::open(ENTRIES, mode, m) {
                    Ok(c) => {
                        if m == Memory::Huge && notes.is_empty() {
                            notes.push(c.memory_note());
                        }
                        clients.push((m.name().to_string(), Box::new(c)));
                    }
                    Err(e) => eprintln!("{}: {e}", m.name()),
                }
            }
            if clients.len() < 3 {
                continue;
            }
            let sampled = interleave(&mut clients, rounds, |c| time_nop(c, batch, ops));
            println!(
                "| {mode} | {batch} | {} | {} | {} | {:.3} | {:.3} |",
                mops(sampled.median(0)),
                mops(sampled.median(1)),
                mops(sampled.median(2)),
                sampled.speedup(1, 0),
                sampled.speedup(2, 0)
            );
        }
    }
    for n in notes {
        println!("\nhuge-page ring: {n}");
    }
}
