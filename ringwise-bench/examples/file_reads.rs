//! Async file reads: 4 KiB random reads from a warm file by 32 concurrent
//! tasks on one runtime thread, for a fixed time.
//!
//! - `ringwise-tokio`: a tokio `current_thread` runtime, each task awaiting
//!   ringwise's owned `ops::Read` (a reused `Vec`) on
//!   `ringwise_tokio::current()`'s ring, the file named by an `Fd::Static`
//!   (it is open for the whole run: no refcount per read, as monoio's
//!   `Rc`'d file has none);
//! - `ringwise-tokio-now`: the same, but each read submitted at once
//!   (`uring.drive()` after the submit: a cached page is read during the
//!   enter, and the read is done before its future is polled; the future
//!   wrapped in `tokio::task::coop::cooperative` so that the tasks take
//!   turns);
//! - `ringwise-tokio-local`: the `ringwise-tokio` workload on a
//!   `LocalSet`: a `ringwise_tokio::LocalUring` (`Driver<Local>`: `!Send`
//!   op futures, no lock per op; default entries and flags) and
//!   `spawn_local` tasks;
//! - `tokio-fs`: `tokio::fs::File`, one per task, `seek` + `read_exact`
//!   (tokio's idiomatic path: every call goes through `spawn_blocking`);
//! - `tokio-pread`: one `std::fs::File` shared by the tasks, each read a
//!   `FileExt::read_at` inside `spawn_blocking` (the cheapest tokio path:
//!   one blocking-pool trip per read instead of two);
//! - `monoio`: monoio's io_uring runtime, one shared `monoio::fs::File`,
//!   `read_at`.
//!
//! Each task counts its own reads (no shared counter on the hot path).
//! Rounds are interleaved (the starting contender rotating); the table
//! gives the median of the rounds and the median of the per-round ratios.
//! The process is not pinned unless `--cpu N` says so: tokio's blocking
//! pool may then use both CPUs while the io_uring runtimes read on one
//! (a warm buffered read completes inline in `io_uring_enter`).
//!
//! ```text
//! cargo run --release -p ringwise-bench --example file_reads -- \
//!     [--rounds 5] [--secs 2] [--quick] [--tasks 32] [--mib 256] [--dir /var/tmp] [--cpu N] [--json]
//! ```

use ringwise::owned::{ops, Fd, Sharing};
use std::io::{Read, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BLOCK: usize = 4096;
const WARMUP: Duration = Duration::from_millis(200);
const CONTENDERS: [&str; 6] =
    ["ringwise-tokio", "ringwise-tokio-now", "ringwise-tokio-local", "tokio-fs", "tokio-pread", "monoio"];

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

#[path = "common/pin.rs"]
mod pin;
use pin::pin;

/// The parameters of one run of one contender.
#[derive(Clone)]
struct Job {
    path: PathBuf,
    /// The file, open for the rest of the process (ringwise's `Fd::Static`).
    file: &'static std::fs::File,
    blocks: u64,
    tasks: usize,
    duration: Duration,
}

/// A per-task xorshift: the block to read next.
fn next_block(state: &mut u64, blocks: u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state % blocks
}

fn seed(task: usize) -> u64 {
    0x9e37_79b9_7f4a_7c15u64.wrapping_mul(task as u64 + 1) | 1
}

/// Remove the file when the run ends, also on an error.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn main() -> Result {
    let mut rounds = 5;
    let mut secs = 2.0;
    let mut tasks = 32;
    let mut mib = 256u64;
    let mut dir = PathBuf::from("/var/tmp");
    let mut cpu = None;
    let mut json = false;
    let mut contenders: Vec<String> = CONTENDERS.iter().map(|s| s.to_string()).collect();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--rounds" => rounds = value()?.parse()?,
            "--secs" => secs = value()?.parse()?,
            "--tasks" => tasks = value()?.parse()?,
            "--mib" => mib = value()?.parse()?,
            "--dir" => dir = PathBuf::from(value()?),
            "--cpu" => cpu = Some(value()?.parse::<usize>()?),
            "--contenders" => contenders = value()?.split(',').map(str::to_owned).collect(),
            "--quick" => (rounds, secs) = (3, 1.0),
            "--json" => json = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    for c in &contenders {
        if !CONTENDERS.contains(&c.as_str()) {
            return Err(format!("unknown contender {c} (one of {CONTENDERS:?})").into());
        }
    }
    if let Some(cpu) = cpu {
        pin(cpu)?;
    }
    let file = TempFile(dir.join(format!("ringwise-file-reads-{}.dat", std::process::id())));
    make_warm_file(&file.0, mib << 20)?;
    let job = Job {
        path: file.0.clone(),
        file: Box::leak(Box::new(std::fs::File::open(&file.0)?)),
        blocks: (mib << 20) / BLOCK as u64,
        tasks,
        duration: Duration::from_secs_f64(secs),
    };

    let load_before = loadavg();
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for round in 0..rounds {
        for k in 0..contenders.len() {
            let ci = (k + round) % contenders.len();
            let reads_per_s = match contenders[ci].as_str() {
                "ringwise-tokio" => ringwise_tokio_reads(&job, false)?,
                "ringwise-tokio-now" => ringwise_tokio_reads(&job, true)?,
                "ringwise-tokio-local" => ringwise_tokio_local_reads(&job)?,
                "tokio-fs" => tokio_fs_reads(&job)?,
                "tokio-pread" => tokio_pread_reads(&job)?,
                "monoio" => monoio_reads(&job)?,
                _ => unreachable!("checked above"),
            };
            eprintln!("round {round} {:<20} {:>10.0} reads/s", contenders[ci], reads_per_s);
            results[ci].push(reads_per_s);
        }
    }
    let load = [load_before, loadavg()];
    report(&contenders, &results, &job, (rounds, secs), cpu, &load, json);
    Ok(())
}

/// The machine's load average (`/proc/loadavg`: 1, 5 and 15 minutes), or
/// `?` where it cannot be read.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn report(
    names: &[String],
    results: &[Vec<f64>],
    job: &Job,
    (rounds, secs): (usize, f64),
    cpu: Option<usize>,
    load: &[String; 2],
    json: bool,
) {
    let at = |name: &str| names.iter().position(|s| s == name);
    let (ring, local) = (at("ringwise-tokio"), at("ringwise-tokio-local"));
    // Contender `r` over contender `i`, median of the per-round ratios.
    let ratio = |r: Option<usize>, i: usize| -> Option<f64> {
        let r = r?;
        Some(median(results[r].iter().zip(&results[i]).map(|(a, b)| a / b).collect()))
    };
    let mib = (job.blocks * BLOCK as u64) >> 20;
    if json {
        let cells: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    "{{\"contender\":\"{n}\",\"reads_per_s\":{:.0},\"ringwise_over_this\":{},\
                     \"ringwise_local_over_this\":{},\"rounds\":[{}]}}",
                    median(results[i].clone()),
                    ratio(ring, i).map_or("null".to_owned(), |v| format!("{v:.4}")),
                    ratio(local, i).map_or("null".to_owned(), |v| format!("{v:.4}")),
                    results[i].iter().map(|v| format!("{v:.0}")).collect::<Vec<_>>().join(",")
                )
            })
            .collect();
        println!(
            "{{\"bench\":\"file_reads\",\"block\":{BLOCK},\"file_mib\":{mib},\"tasks\":{},\"rounds\":{rounds},\
             \"secs_per_cell\":{secs},\"cpu\":{},\"loadavg_before\":\"{}\",\"loadavg_after\":\"{}\",\
             \"cells\":[{}]}}",
            job.tasks,
            cpu.map_or("null".to_owned(), |c| c.to_string()),
            load[0],
            load[1],
            cells.join(",")
        );
        return;
    }
    let pinned = cpu.map_or("not pinned".to_owned(), |c| format!("pinned to CPU {c}"));
    println!(
        "4 KiB random reads, warm {mib} MiB file, {} tasks, {rounds} interleaved rounds of {secs} s, {pinned}; \
         load average before {}, after {}\n",
        job.tasks, load[0], load[1]
    );
    println!("Ratios are medians of the per-round ratios.\n");
    println!("| contender | reads/s | ringwise-tokio ÷ this | ringwise-tokio-local ÷ this |");
    println!("|---|---|---|---|");
    let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
    for (i, n) in names.iter().enumerate() {
        println!(
            "| {n} | {:.1} k | {} | {} |",
            median(results[i].clone()) / 1e3,
            f(ratio(ring, i)),
            f(ratio(local, i))
        );
    }
    // The issue's targets, for ringwise-tokio-local.
    let mut checks = Vec::new();
    if let Some(r) = at("tokio-fs").and_then(|i| ratio(local, i)) {
        checks.push(format!("{r:.3} × tokio-fs (≥ 3.00: {})", pass(r >= 3.0)));
    }
    if let Some(r) = at("monoio").and_then(|i| ratio(local, i)) {
        checks.push(format!("{r:.3} × monoio (≥ 1.00: {})", pass(r >= 1.0)));
    }
    if !checks.is_empty() {
        println!("\nTargets:\n- ringwise-tokio-local reads/s: {}", checks.join("; "));
    }
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "missed"
    }
}

/// Write `len` bytes (each block starting with its index) and read them
/// back once, so every page is in the page cache.
fn make_warm_file(path: &Path, len: u64) -> Result {
    let mut f = std::fs::File::create(path)?;
    let mut chunk = vec![0u8; 1 << 20];
    for off in (0..len).step_by(chunk.len()) {
        for (i, block) in chunk.chunks_mut(BLOCK).enumerate() {
            let index = off / BLOCK as u64 + i as u64;
            block[..8].copy_from_slice(&index.to_le_bytes());
        }
        f.write_all(&chunk)?;
    }
    f.sync_all()?;
    let mut f = std::fs::File::open(path)?;
    while f.read(&mut chunk)? > 0 {}
    Ok(())
}

/// Check a block's first bytes: it is the one asked for.
fn check(buf: &[u8], block: u64) -> std::io::Result<()> {
    if buf.len() != BLOCK || buf[..8] != block.to_le_bytes() {
        return Err(std::io::Error::other(format!("block {block}: wrong data ({} bytes)", buf.len())));
    }
    Ok(())
}

/// A job's measured time: reads before `from` warm up, the run stops at
/// `end`.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    end: Instant,
}

impl Window {
    fn start(job: &Job) -> Window {
        let start = Instant::now();
        Window { from: start + WARMUP, end: start + WARMUP + job.duration }
    }

    /// After a read: true when the run is over; otherwise `count` the read
    /// if it fell in the measured time.
    fn after_read(&self, count: impl FnOnce()) -> bool {
        let now = Instant::now();
        if now >= self.end {
            return true;
        }
        if now >= self.from {
            count();
        }
        false
    }
}

/// Wait for every task of `set`: the reads they counted, or the first
/// failure (or panic) as the error.
async fn join_all(set: &mut tokio::task::JoinSet<std::io::Result<u64>>) -> std::io::Result<u64> {
    let mut counted = 0;
    while let Some(r) = set.join_next().await {
        counted += r.map_err(std::io::Error::other)??;
    }
    Ok(counted)
}

/// Reads per second over the measured window, from the count of reads
/// completed in it.
fn rate(counted: u64, job: &Job) -> f64 {
    counted as f64 / job.duration.as_secs_f64()
}

fn ringwise_tokio_reads(job: &Job, now: bool) -> Result<f64> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let counted = rt.block_on(async {
        let ring = ringwise_tokio::current()?;
        let window = Window::start(job);
        let mut set = tokio::task::JoinSet::new();
        for t in 0..job.tasks {
            set.spawn(ringwise_read_task(ring.clone(), job, t, window, now));
        }
        join_all(&mut set).await
    })?;
    Ok(rate(counted, job))
}

/// `ringwise-tokio`'s workload on a `LocalSet`: a `LocalUring` (default
/// entries and flags, as `current()`'s ring) and `spawn_local` tasks.
fn ringwise_tokio_local_reads(job: &Job) -> Result<f64> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let local = tokio::task::LocalSet::new();
    let counted = rt.block_on(local.run_until(async {
        let ring = ringwise_tokio::LocalUring::local(ringwise_tokio::DEFAULT_ENTRIES, &local)?;
        let window = Window::start(job);
        let mut set = tokio::task::JoinSet::new();
        for t in 0..job.tasks {
            set.spawn_local(ringwise_read_task(ring.clone(), job, t, window, false));
        }
        join_all(&mut set).await
    }))?;
    Ok(rate(counted, job))
}

/// One task of the ringwise contenders: owned `ops::Read`s (a reused
/// `Vec`) of the file named by an `Fd::Static`, awaited on `ring`; with
/// `now`, each read submitted at once. The reads it counted.
fn ringwise_read_task<S: Sharing>(
    ring: ringwise_tokio::Uring<S>,
    job: &Job,
    t: usize,
    window: Window,
    now: bool,
) -> impl std::future::Future<Output = std::io::Result<u64>> {
    let (file, blocks) = (Fd::from(job.file.as_fd()), job.blocks);
    async move {
        let mut counted = 0u64;
        let mut state = seed(t);
        let mut buf = Vec::with_capacity(BLOCK);
        loop {
            let block = next_block(&mut state, blocks);
            buf.clear();
            let read = ops::Read::at(file.clone(), buf, block * BLOCK as u64);
            let op = ring.submit(read).map_err(|r| r.error)?;
            let (res, b) = if now {
                // A failed enter leaves the read queued for the drive task.
                let _ = ring.drive();
                tokio::task::coop::cooperative(op).await
            } else {
                op.await
            };
            buf = b;
            res.map_err(std::io::Error::from)?;
            check(&buf, block)?;
            if window.after_read(|| counted += 1) {
                return Ok(counted);
            }
        }
    }
}

fn tokio_fs_reads(job: &Job) -> Result<f64> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let counted = rt.block_on(async {
        let window = Window::start(job);
        let mut set = tokio::task::JoinSet::new();
        for t in 0..job.tasks {
            let (path, blocks) = (job.path.clone(), job.blocks);
            set.spawn(async move {
                let mut counted = 0u64;
                let mut file = tokio::fs::File::open(&path).await?;
                let mut state = seed(t);
                let mut buf = vec![0u8; BLOCK];
                loop {
                    let block = next_block(&mut state, blocks);
                    file.seek(SeekFrom::Start(block * BLOCK as u64)).await?;
                    file.read_exact(&mut buf).await?;
                    check(&buf, block)?;
                    if window.after_read(|| counted += 1) {
                        return Ok::<_, std::io::Error>(counted);
                    }
                }
            });
        }
        join_all(&mut set).await
    })?;
    Ok(rate(counted, job))
}

fn tokio_pread_reads(job: &Job) -> Result<f64> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let counted = rt.block_on(async {
        let file = Arc::new(std::fs::File::open(&job.path)?);
        let window = Window::start(job);
        let mut set = tokio::task::JoinSet::new();
        for t in 0..job.tasks {
            let (file, blocks) = (file.clone(), job.blocks);
            set.spawn(async move {
                let mut counted = 0u64;
                let mut state = seed(t);
                let mut buf = vec![0u8; BLOCK];
                loop {
                    let block = next_block(&mut state, blocks);
                    let f = file.clone();
                    let (res, b) = tokio::task::spawn_blocking(move || {
                        let res = f.read_exact_at(&mut buf, block * BLOCK as u64);
                        (res, buf)
                    })
                    .await
                    .map_err(std::io::Error::other)?;
                    buf = b;
                    res?;
                    check(&buf, block)?;
                    if window.after_read(|| counted += 1) {
                        return Ok::<_, std::io::Error>(counted);
                    }
                }
            });
        }
        join_all(&mut set).await
    })?;
    Ok(rate(counted, job))
}

fn monoio_reads(job: &Job) -> Result<f64> {
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build()?;
    let counted = rt.block_on(async {
        let file = Rc::new(monoio::fs::File::open(&job.path).await?);
        let window = Window::start(job);
        let mut handles = Vec::new();
        for t in 0..job.tasks {
            let (file, blocks) = (file.clone(), job.blocks);
            handles.push(monoio::spawn(async move {
                let mut counted = 0u64;
                let mut state = seed(t);
                let mut buf = Vec::with_capacity(BLOCK);
                loop {
                    let block = next_block(&mut state, blocks);
                    buf.clear();
                    let (res, b) = file.read_at(buf, block * BLOCK as u64).await;
                    buf = b;
                    res?;
                    check(&buf, block)?;
                    if window.after_read(|| counted += 1) {
                        return Ok::<_, std::io::Error>(counted);
                    }
                }
            }));
        }
        let mut counted = 0;
        for h in handles {
            counted += h.await?;
        }
        Ok::<_, std::io::Error>(counted)
    })?;
    Ok(rate(counted, job))
}
