//! Echo benchmark: 1 KiB ping-pong against single-threaded servers, one
//! load generator for all of them.
//!
//! Servers (each a child process of this program, pinned to CPU 1); the
//! default run has the ones the issue compares (`ringwise-sync`,
//! `ringwise-tokio`, `ringwise-tokio-local`, `tokio`, `monoio`),
//! `--servers all` every variant:
//!
//! - `ringwise-sync`: ringwise's owned ops, synchronously: one [`OpSet`]
//!   holds every accept, receive and send in flight (one `io_uring_enter`
//!   per loop, no scan of the connections); per connection, a receive into
//!   an owned `Vec` whose data is sent straight back while the next receive
//!   (into a second buffer, `poll_first`: the socket is empty until the
//!   client has the echo) is already armed. Ring with `SINGLE_ISSUER |
//!   DEFER_TASKRUN`. Variant `ringwise-sync-fixed`: each connection moved
//!   into a slot of the ring's file table at accept (ops name the slot: no
//!   descriptor lookup per op in the kernel, no refcount in user space).
//! - `ringwise-multi`: the same loop with a multishot receive per
//!   connection into a shared [`BufGroup`], each [`RingBuf`] sent back as
//!   it is (like `ringwise/examples/echo.rs`).
//! - `ringwise-tokio`: a tokio `current_thread` runtime, one task per
//!   connection awaiting ringwise's owned `Recv`/`Send` with a reused `Vec`
//!   (`ring.submit(op)?.await` on `ringwise_tokio::current()`'s ring,
//!   default flags: the drive task submits every op queued since its last
//!   run in one enter). Variants: `ringwise-tokio-tuned`, a ring of its own
//!   with `SINGLE_ISSUER`; `ringwise-tokio-coop`, a ring with
//!   `COOP_TASKRUN | TASKRUN_FLAG` (completions that need the thread wait
//!   for its next system call instead of interrupting it);
//!   `ringwise-tokio-send-now`, each send submitted at once (`ring.drive()`
//!   after its submit, so that it is done before its future is polled: one
//!   task wake-up per request instead of two, but one enter per send);
//!   `ringwise-tokio-pipe`, each echo's send not awaited before the next
//!   receive is armed (two buffers per connection): one wake-up per
//!   request, sends still batched. (`DEFER_TASKRUN` rings are refused by
//!   ringwise-tokio: their completions never make the ring fd readable.)
//! - `ringwise-tokio-local`: the `ringwise-tokio` server on a `LocalSet`:
//!   a `ringwise_tokio::LocalUring` (`Driver<Local>`: `!Send` op futures,
//!   no lock per op; default flags, the same entries) and `spawn_local`
//!   per connection.
//! - `tokio`: tokio's own epoll `TcpStream` (`read` / `write_all`) on a
//!   `current_thread` runtime.
//! - `monoio`: monoio's io_uring runtime, its `TcpStream` with owned
//!   `read` / `write_all`.
//!
//! The load generator (this process, pinned to CPU 0) is one ring driven by
//! ringwise's owned [`OpSet`]: N connections, each sending 1 KiB and
//! receiving the 1 KiB echo in a loop, for a fixed time after a warm-up,
//! each request's latency (from the send's submission to the echo's last
//! byte) in a log-linear histogram. It is io_uring with batched
//! submission and its connections in the ring's file table (no descriptor
//! lookup or refcount per op: every server measured 3-5 % more requests/s
//! against it than against the same generator on `SharedFd`s), but on
//! loopback much of the kernel's TCP work lands on the sender's CPU, so it
//! runs near a full CPU as well (the table prints both CPU shares):
//! requests/s measure the pair, requests per second of server CPU the
//! server alone.
//!
//! Rounds are interleaved (each round runs every server once per connection
//! count, the starting server rotating); the table gives the median of the
//! rounds and the medians of the per-round ratios against tokio and monoio,
//! the machine's load average before and after, and which of the issue's
//! targets the ringwise servers met. `--quick` is 3 rounds of 1 s.
//!
//! ```text
//! cargo run --release -p ringwise-bench --example echo_servers -- \
//!     [--rounds 5] [--secs 2] [--quick] [--conns 10,100,250] [--servers a,b,...|all] [--json]
//! ```

use ringwise::owned::{ops, BufGroup, Driver, Fd, IoBuf, OpSet, OwnedOp, RingBuf, SharedFd, Sharing, Slice, Stream};
use ringwise::register::files::FileSlot;
use ringwise::register::BufRingConfig;
use ringwise::{Builder, Errno, Sqe};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bytes per request and per echo.
const MSG: usize = 1024;
/// Receive buffer of the servers.
const BUF: usize = 4096;
/// CPU of the servers; the load generator runs on `CLIENT_CPU`.
const SERVER_CPU: usize = 1;
const CLIENT_CPU: usize = 0;
const WARMUP: Duration = Duration::from_millis(300);

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

#[path = "common/pin.rs"]
mod pin;
use pin::pin;

/// The servers the issue compares (`--servers all` runs every variant).
const DEFAULT_SERVERS: [&str; 5] = ["ringwise-sync", "ringwise-tokio", "ringwise-tokio-local", "tokio", "monoio"];

const SERVERS: [&str; 11] = [
    "ringwise-sync",
    "ringwise-sync-fixed",
    "ringwise-multi",
    "ringwise-tokio",
    "ringwise-tokio-local",
    "ringwise-tokio-send-now",
    "ringwise-tokio-coop",
    "ringwise-tokio-tuned",
    "ringwise-tokio-pipe",
    "tokio",
    "monoio",
];

fn main() -> Result {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        let kind = args.get(1).ok_or("serve: which server?")?;
        return serve(kind);
    }
    if args.first().map(String::as_str) == Some("client") {
        // The load generator alone, against a server started elsewhere (say
        // under callgrind): `client PORT CONNS SECS`.
        let num = |i: usize| args.get(i).ok_or("client PORT CONNS SECS");
        let port: u16 = num(1)?.parse()?;
        let conns: usize = num(2)?.parse()?;
        let secs: f64 = num(3)?.parse()?;
        pin(CLIENT_CPU)?;
        let s = load(SocketAddr::from(([127, 0, 0, 1], port)), conns, Duration::from_secs_f64(secs), None)?;
        println!(
            "{} requests in all, {:.0} req/s measured, p50 {:.1} us, p99 {:.1} us",
            s.total,
            s.rps,
            s.p50_ns / 1e3,
            s.p99_ns / 1e3
        );
        return Ok(());
    }
    let mut rounds = 5;
    let mut secs = 2.0;
    let mut conns = vec![10, 100, 250];
    let mut servers: Vec<String> = DEFAULT_SERVERS.iter().map(|s| s.to_string()).collect();
    let mut json = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--rounds" => rounds = value()?.parse()?,
            "--secs" => secs = value()?.parse()?,
            "--conns" => conns = value()?.split(',').map(str::parse).collect::<std::result::Result<_, _>>()?,
            "--servers" => {
                servers = match value()?.as_str() {
                    "all" => SERVERS.iter().map(|s| s.to_string()).collect(),
                    list => list.split(',').map(str::to_owned).collect(),
                }
            }
            "--quick" => (rounds, secs) = (3, 1.0),
            "--json" => json = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    for s in &servers {
        if !SERVERS.contains(&s.as_str()) {
            return Err(format!("unknown server {s} (one of {SERVERS:?})").into());
        }
    }
    pin(CLIENT_CPU)?;
    let duration = Duration::from_secs_f64(secs);
    let cells = rounds * conns.len() * servers.len();
    eprintln!(
        "{cells} cells of {:.1} s (with the warm-up): about {:.0} s; load average {}",
        secs + WARMUP.as_secs_f64(),
        cells as f64 * (secs + WARMUP.as_secs_f64() + 0.1),
        loadavg()
    );
    let load_before = loadavg();
    // results[conns][server] = one Sample per round.
    let mut results: Vec<Vec<Vec<Sample>>> = vec![vec![Vec::new(); servers.len()]; conns.len()];
    for round in 0..rounds {
        for (ci, &n) in conns.iter().enumerate() {
            for k in 0..servers.len() {
                let si = (k + round) % servers.len();
                let sample = cell(&servers[si], n, duration)?;
                eprintln!(
                    "round {round} conns {n:>3} {:<23} {:>9.0} req/s  p50 {:>6.1} us  p99 {:>6.1} us  \
                     server cpu {:.2} client cpu {:.2}",
                    servers[si],
                    sample.rps,
                    sample.p50_ns / 1e3,
                    sample.p99_ns / 1e3,
                    sample.server_cpu,
                    sample.client_cpu
                );
                results[ci][si].push(sample);
            }
        }
    }
    let load = Load { before: load_before, after: loadavg() };
    report(&servers, &conns, &results, rounds, secs, &load, json);
    Ok(())
}

/// The machine's load average (`/proc/loadavg`: 1, 5 and 15 minutes), or
/// `?` where it cannot be read.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

/// The load average before and after the run: the other work on the
/// machine, which every wall-clock number here depends on.
struct Load {
    before: String,
    after: String,
}

// ---------------------------------------------------------------- runner

/// One round's result for one server at one connection count.
#[derive(Clone, Copy, Debug)]
struct Sample {
    rps: f64,
    p50_ns: f64,
    p99_ns: f64,
    /// CPU time of the server process (user + system, all its threads) per
    /// second of the measured time: 1.0 is one CPU busy throughout.
    server_cpu: f64,
    /// The same for the load generator.
    client_cpu: f64,
    /// Requests completed, the warm-up's included.
    total: u64,
}

/// User + system CPU time of process `pid` so far, in seconds (from
/// `/proc/PID/stat`, in clock ticks).
fn cpu_secs(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').ok_or("bad /proc stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        f.get(11).ok_or("bad /proc stat")?.parse::<u64>()? + f.get(12).ok_or("bad /proc stat")?.parse::<u64>()?;
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Ok(ticks as f64 / hz.max(1) as f64)
}

/// Start the server `kind`, load it with `conns` connections for
/// `duration`, stop it.
fn cell(kind: &str, conns: usize, duration: Duration) -> Result<Sample> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", kind])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()?;
    let port = {
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("no child stdout")?).read_line(&mut line)?;
        line.trim().parse::<u16>().map_err(|e| format!("{kind}: no port from the server ({e}): {line:?}"))
    };
    let pid = child.id();
    let result = port
        .map_err(Into::into)
        .and_then(|port| load(SocketAddr::from(([127, 0, 0, 1], port)), conns, duration, Some(pid)));
    // The child is ours; killing it by its own handle.
    let _ = child.kill();
    let _ = child.wait();
    result.map_err(|e| format!("{kind} with {conns} connections: {e}").into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Requests per second of server CPU time.
fn per_cpu(x: &Sample) -> f64 {
    x.rps / x.server_cpu.max(1e-9)
}

#[allow(clippy::too_many_arguments)]
fn report(
    servers: &[String],
    conns: &[usize],
    results: &[Vec<Vec<Sample>>],
    rounds: usize,
    secs: f64,
    load: &Load,
    json: bool,
) {
    let tokio = servers.iter().position(|s| s == "tokio");
    let monoio = servers.iter().position(|s| s == "monoio");
    // The median over the rounds of `f(this server) / f(base)`.
    let ratio = |ci: usize, si: usize, base: Option<usize>, f: fn(&Sample) -> f64| -> Option<f64> {
        let b = base?;
        Some(median(results[ci][si].iter().zip(&results[ci][b]).map(|(x, t)| f(x) / f(t)).collect()))
    };
    let rps = |x: &Sample| x.rps;
    let p99 = |x: &Sample| x.p99_ns;
    let med = |ci: usize, si: usize, f: fn(&Sample) -> f64| median(results[ci][si].iter().map(f).collect());
    if json {
        let num = |v: Option<f64>| v.map_or("null".to_owned(), |v| format!("{v:.4}"));
        let mut cells = Vec::new();
        for (ci, &n) in conns.iter().enumerate() {
            for (si, s) in servers.iter().enumerate() {
                cells.push(format!(
                    "{{\"server\":\"{s}\",\"conns\":{n},\"rps\":{:.0},\"p50_us\":{:.2},\"p99_us\":{:.2},\
                     \"rps_vs_tokio\":{},\"rps_vs_monoio\":{},\"p99_vs_tokio\":{},\"p99_vs_monoio\":{},\
                     \"server_cpu\":{:.3},\"client_cpu\":{:.3},\"req_per_server_cpu_s\":{:.0},\
                     \"per_cpu_vs_tokio\":{},\"rounds_rps\":[{}],\"rounds_p99_us\":[{}]}}",
                    med(ci, si, rps),
                    med(ci, si, |x| x.p50_ns) / 1e3,
                    med(ci, si, p99) / 1e3,
                    num(ratio(ci, si, tokio, rps)),
                    num(ratio(ci, si, monoio, rps)),
                    num(ratio(ci, si, tokio, p99)),
                    num(ratio(ci, si, monoio, p99)),
                    med(ci, si, |x| x.server_cpu),
                    med(ci, si, |x| x.client_cpu),
                    med(ci, si, per_cpu),
                    num(ratio(ci, si, tokio, per_cpu)),
                    results[ci][si].iter().map(|x| format!("{:.0}", x.rps)).collect::<Vec<_>>().join(","),
                    results[ci][si].iter().map(|x| format!("{:.1}", x.p99_ns / 1e3)).collect::<Vec<_>>().join(",")
                ));
            }
        }
        println!(
            "{{\"bench\":\"echo\",\"msg_bytes\":{MSG},\"rounds\":{rounds},\"secs_per_cell\":{secs},\
             \"server_cpu_id\":{SERVER_CPU},\"client_cpu_id\":{CLIENT_CPU},\"loadavg_before\":\"{}\",\
             \"loadavg_after\":\"{}\",\"cells\":[{}]}}",
            load.before,
            load.after,
            cells.join(",")
        );
        return;
    }
    println!(
        "1 KiB echo, {rounds} interleaved rounds of {secs} s per cell; server on CPU {SERVER_CPU}, load generator on \
         CPU {CLIENT_CPU}; load average before {}, after {}\n",
        load.before, load.after
    );
    println!("Ratios are medians of the per-round ratios.\n");
    println!(
        "| conns | server | requests/s | p50 | p99 | req/s ÷ tokio | req/s ÷ monoio | p99 ÷ tokio | server CPU | \
         client CPU | req per server CPU-s | ÷ tokio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
    for (ci, &n) in conns.iter().enumerate() {
        for (si, s) in servers.iter().enumerate() {
            println!(
                "| {n} | {s} | {:.1} k | {:.1} µs | {:.1} µs | {} | {} | {} | {:.2} | {:.2} | {:.1} k | {} |",
                med(ci, si, rps) / 1e3,
                med(ci, si, |x| x.p50_ns) / 1e3,
                med(ci, si, p99) / 1e3,
                f(ratio(ci, si, tokio, rps)),
                f(ratio(ci, si, monoio, rps)),
                f(ratio(ci, si, tokio, p99)),
                med(ci, si, |x| x.server_cpu),
                med(ci, si, |x| x.client_cpu),
                med(ci, si, per_cpu) / 1e3,
                f(ratio(ci, si, tokio, per_cpu)),
            );
        }
    }
    // The issue's targets, for the ringwise servers measured.
    let at = |n: usize| conns.iter().position(|&c| c == n);
    let mut lines = Vec::new();
    for (si, s) in servers.iter().enumerate().filter(|(_, s)| s.starts_with("ringwise")) {
        let mut checks = Vec::new();
        if let Some(ci) = at(100) {
            if let Some(r) = ratio(ci, si, tokio, rps) {
                checks.push(format!("100 conns req/s {r:.3} × tokio (≥ 1.10: {})", pass(r >= 1.10)));
            }
            if let Some(r) = ratio(ci, si, monoio, rps) {
                checks.push(format!("{r:.3} × monoio (≥ 1.00: {})", pass(r >= 1.0)));
            }
        }
        if let Some(ci) = at(10) {
            if let Some(r) = ratio(ci, si, tokio, p99) {
                checks.push(format!("10 conns p99 {r:.3} × tokio (≤ 1.20: {})", pass(r <= 1.2)));
            }
        }
        if !checks.is_empty() {
            lines.push(format!("- {s}: {}", checks.join("; ")));
        }
    }
    if !lines.is_empty() {
        println!("\nTargets (issue 12, item 2):\n{}", lines.join("\n"));
    }
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "missed"
    }
}

// ------------------------------------------------- one ring, several ops

/// The ops the sync server and the load generator keep in one [`OpSet`].
enum Io {
    Accept(ops::Accept),
    Recv(ops::Recv<Slice<Vec<u8>>>),
    Send(ops::Send<Slice<Vec<u8>>>),
}

/// What an [`Io`] gives back.
enum IoOut {
    Accept(<ops::Accept as OwnedOp>::Output),
    Recv(<ops::Recv<Slice<Vec<u8>>> as OwnedOp>::Output),
    Send(<ops::Send<Slice<Vec<u8>>> as OwnedOp>::Output),
}

// Every variant is one SQE, as `Io` declares.
const _: () = assert!(
    <ops::Accept as OwnedOp>::SQES == 1
        && <ops::Recv<Slice<Vec<u8>>> as OwnedOp>::SQES == 1
        && <ops::Send<Slice<Vec<u8>>> as OwnedOp>::SQES == 1
);

// SAFETY: each variant is one of the library's owned ops, which keep the
// trait's promises; `Io` forwards `validate`, `prepare` and `complete` to
// it unchanged (the SQE points into memory the inner op owns, on the heap,
// and names the fd it keeps open), and every variant takes one SQE
// (checked above), the default `SQES`.
unsafe impl OwnedOp for Io {
    type Output = IoOut;

    fn validate(&self) -> ringwise::Result<()> {
        match self {
            Io::Accept(op) => op.validate(),
            Io::Recv(op) => op.validate(),
            Io::Send(op) => op.validate(),
        }
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        match self {
            Io::Accept(op) => op.prepare(sqes),
            Io::Recv(op) => op.prepare(sqes),
            Io::Send(op) => op.prepare(sqes),
        }
    }

    #[inline]
    fn complete(self, res: i32, flags: u32) -> IoOut {
        match self {
            Io::Accept(op) => IoOut::Accept(op.complete(res, flags)),
            Io::Recv(op) => IoOut::Recv(op.complete(res, flags)),
            Io::Send(op) => IoOut::Send(op.complete(res, flags)),
        }
    }
}

fn submit(set: &mut OpSet<Io>, op: Io, tag: u64) -> Result {
    set.submit(op, tag).map_err(|r| format!("op refused: {}", r.error))?;
    Ok(())
}

/// The op tag: connection index and which op.
const TAG_RECV: u64 = 0;
const TAG_SEND: u64 = 1;
const TAG_ACCEPT: u64 = u64::MAX;
fn tag(conn: usize, what: u64) -> u64 {
    (conn as u64) << 1 | what
}

fn tuned_driver(entries: u32) -> Result<Driver> {
    Ok(Driver::with_builder(Builder::new(entries).single_issuer().defer_taskrun())?)
}

// ------------------------------------------------------ load generator

/// Log-linear latency histogram in nanoseconds: 32 sub-buckets per power
/// of two (about 3 % wide).
struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

const SUB_BITS: u32 = 5;

impl Histogram {
    fn new() -> Histogram {
        Histogram { counts: vec![0; (64 - SUB_BITS as usize + 1) << SUB_BITS], total: 0 }
    }
    #[inline]
    fn index(v: u64) -> usize {
        if v < (1 << SUB_BITS) {
            return v as usize;
        }
        let exp = 63 - v.leading_zeros();
        let sub = (v >> (exp - SUB_BITS)) & ((1 << SUB_BITS) - 1);
        (((exp - SUB_BITS + 1) as u64) << SUB_BITS | sub) as usize
    }
    /// The middle of bucket `i`.
    fn value(i: usize) -> f64 {
        if i < (1 << SUB_BITS) {
            return i as f64;
        }
        let exp = (i >> SUB_BITS) as u32 + SUB_BITS - 1;
        let sub = (i & ((1 << SUB_BITS) - 1)) as u64;
        let low = (1u64 << exp) | (sub << (exp - SUB_BITS));
        low as f64 + (1u64 << (exp - SUB_BITS)) as f64 / 2.0
    }
    #[inline]
    fn record(&mut self, ns: u64) {
        self.counts[Histogram::index(ns)] += 1;
        self.total += 1;
    }
    fn quantile(&self, q: f64) -> f64 {
        let want = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return Histogram::value(i);
            }
        }
        f64::NAN
    }
}

struct ClientConn {
    /// The connection's slot in the load generator's registered file table.
    fd: Fd,
    /// The message, while no send of it is in flight.
    msg: Option<Vec<u8>>,
    /// The receive buffer, while no receive is in flight.
    back: Option<Vec<u8>>,
    /// Bytes of the current echo received.
    have: usize,
    /// Bytes of the current message sent.
    sent: usize,
    seq: u8,
    start: Instant,
    /// Stopped after the measured time.
    finished: bool,
}

/// Load `addr` with `conns` ping-pong connections: the warm-up, then
/// `duration` measured.
fn load(addr: SocketAddr, conns: usize, duration: Duration, server: Option<u32>) -> Result<Sample> {
    let driver = tuned_driver(2048)?;
    let mut set: OpSet<Io> = OpSet::new(&driver);
    let mut cs = Vec::with_capacity(conns);
    let mut streams = Vec::with_capacity(conns);
    for _ in 0..conns {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        streams.push(s);
    }
    // The connections live in the ring's file table, ops name their slots:
    // no descriptor lookup in the kernel and no refcount in user space per
    // op, so the load generator spends less per request than any server
    // (whose rate, not the generator's, should set the pace).
    let slots: Vec<FileSlot> = streams.iter().map(|s| FileSlot::file(s.as_fd())).collect();
    driver.with_ring(|ring| ring.register_files(&slots))?;
    drop(slots);
    for i in 0..conns {
        cs.push(ClientConn {
            fd: Fd::fixed(i as u32),
            msg: Some(vec![0x5a; MSG]),
            back: Some(vec![0; MSG]),
            have: 0,
            sent: 0,
            seq: 0,
            start: Instant::now(),
            finished: false,
        });
    }
    let now = Instant::now();
    for (i, c) in cs.iter_mut().enumerate() {
        start_request(&mut set, c, i, now)?;
    }
    let mut hist = Histogram::new();
    let mut measured = 0u64;
    let begin = Instant::now();
    let measure_from = begin + WARMUP;
    let end = measure_from + duration;
    let mut done: Vec<(u64, IoOut)> = Vec::with_capacity(conns * 2);
    let mut in_flight = conns;
    let me = std::process::id();
    let server_cpu = || server.map_or(Ok(0.0), cpu_secs);
    let mut total = 0u64;
    let mut cpu_at_start = None;
    let mut cpu_at_end = None;
    while in_flight > 0 {
        set.wait(1, |t, out| done.push((t, out)))?;
        let now = Instant::now();
        let stopping = now >= end;
        if now >= measure_from && cpu_at_start.is_none() {
            cpu_at_start = Some((server_cpu()?, cpu_secs(me)?, now));
        }
        if stopping && cpu_at_end.is_none() {
            cpu_at_end = Some((server_cpu()?, cpu_secs(me)?, now));
        }
        for (t, out) in done.drain(..) {
            let i = (t >> 1) as usize;
            let c = &mut cs[i];
            match out {
                IoOut::Recv((res, buf)) => {
                    let n = res.map_err(|e| format!("client recv: {e}"))?;
                    if n == 0 {
                        return Err("the server closed a connection".into());
                    }
                    let buf = buf.into_inner();
                    c.have += n;
                    if c.have < MSG {
                        submit(
                            &mut set,
                            Io::Recv(ops::Recv::new(c.fd.clone(), buf.slice(c.have..MSG))),
                            tag(i, TAG_RECV),
                        )?;
                        continue;
                    }
                    if buf[0] != c.seq {
                        return Err(format!("wrong echo on connection {i}").into());
                    }
                    c.back = Some(buf);
                    total += 1;
                    if c.start >= measure_from && now < end {
                        hist.record(now.duration_since(c.start).as_nanos() as u64);
                        measured += 1;
                    }
                }
                IoOut::Send((res, buf)) => {
                    let n = res.map_err(|e| format!("client send: {e}"))?;
                    c.sent += n;
                    let buf = buf.into_inner();
                    if c.sent < MSG {
                        submit(
                            &mut set,
                            Io::Send(ops::Send::new(c.fd.clone(), buf.slice(c.sent..MSG))),
                            tag(i, TAG_SEND),
                        )?;
                        continue;
                    }
                    c.msg = Some(buf);
                }
                IoOut::Accept(_) => return Err("client: unexpected accept".into()),
            }
            // Both the send and the whole echo are back: the next request,
            // or this connection is done.
            if c.msg.is_some() && c.back.is_some() && !c.finished {
                if stopping {
                    c.finished = true;
                    in_flight -= 1;
                } else {
                    start_request(&mut set, c, i, now)?;
                }
            }
        }
    }
    let elapsed = duration.as_secs_f64();
    let ((s0, c0, t0), (s1, c1, t1)) = (cpu_at_start.ok_or("no start")?, cpu_at_end.ok_or("no end")?);
    let wall = t1.duration_since(t0).as_secs_f64();
    Ok(Sample {
        rps: measured as f64 / elapsed,
        p50_ns: hist.quantile(0.50),
        p99_ns: hist.quantile(0.99),
        server_cpu: (s1 - s0) / wall,
        client_cpu: (c1 - c0) / wall,
        total,
    })
}

fn start_request(set: &mut OpSet<Io>, c: &mut ClientConn, i: usize, now: Instant) -> Result {
    let (Some(mut msg), Some(back)) = (c.msg.take(), c.back.take()) else {
        return Err("start_request without both buffers".into());
    };
    c.seq = c.seq.wrapping_add(1);
    msg[0] = c.seq;
    c.have = 0;
    c.sent = 0;
    c.start = now;
    submit(set, Io::Send(ops::Send::new(c.fd.clone(), msg.slice(..))), tag(i, TAG_SEND))?;
    submit(set, Io::Recv(ops::Recv::new(c.fd.clone(), back.slice(..MSG))), tag(i, TAG_RECV))?;
    Ok(())
}

// ---------------------------------------------------------------- servers

fn serve(kind: &str) -> Result {
    pin(SERVER_CPU)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let announce = move || -> Result {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{port}")?;
        out.flush()?;
        Ok(())
    };
    match kind {
        "ringwise-sync" => ringwise_sync::<false>(listener, announce),
        "ringwise-sync-fixed" => ringwise_sync::<true>(listener, announce),
        "ringwise-multi" => ringwise_multi(listener, announce),
        "ringwise-tokio" => ringwise_tokio_server::<false>(listener, announce, RingKind::Current),
        "ringwise-tokio-send-now" => ringwise_tokio_server::<true>(listener, announce, RingKind::Current),
        "ringwise-tokio-coop" => ringwise_tokio_server::<false>(listener, announce, RingKind::Coop),
        "ringwise-tokio-tuned" => ringwise_tokio_server::<false>(listener, announce, RingKind::SingleIssuer),
        "ringwise-tokio-pipe" => ringwise_tokio_pipe_server(listener, announce),
        "ringwise-tokio-local" => ringwise_tokio_local_server(listener, announce),
        "tokio" => tokio_server(listener, announce),
        "monoio" => monoio_server(listener, announce),
        other => Err(format!("unknown server {other}").into()),
    }
}

/// A connection of the sync server.
struct SyncConn {
    /// The connection: its `SharedFd`, or (`ringwise-sync-fixed`) its slot
    /// in the ring's file table.
    fd: Fd,
    /// Buffers not in any op.
    spare: Vec<Vec<u8>>,
    /// Received data waiting to go back, the front one next.
    queued: VecDeque<Slice<Vec<u8>>>,
    sending: bool,
    receiving: bool,
    closed: bool,
}

/// Slots of `ringwise-sync-fixed`'s file table: the most connections it
/// serves at once.
const FIXED_SLOTS: u32 = 4096;

fn ringwise_sync<const FIXED: bool>(listener: TcpListener, announce: impl FnOnce() -> Result) -> Result {
    let driver = tuned_driver(1024)?;
    if FIXED {
        driver.with_ring(|ring| ring.register_files_sparse(FIXED_SLOTS))?;
    }
    let listener = SharedFd::from(listener);
    let mut set: OpSet<Io> = OpSet::new(&driver);
    submit(&mut set, Io::Accept(ops::Accept::new(&listener)), TAG_ACCEPT)?;
    announce()?;
    let mut conns: Vec<Option<SyncConn>> = Vec::new();
    let mut done: Vec<(u64, IoOut)> = Vec::new();
    loop {
        set.wait(1, |t, out| done.push((t, out)))?;
        for (t, out) in done.drain(..) {
            if t == TAG_ACCEPT {
                let IoOut::Accept(res) = out else { continue };
                let (fd, _) = res.map_err(|e| format!("accept: {e}"))?;
                let stream = TcpStream::from(fd);
                stream.set_nodelay(true)?;
                let i = conns.iter().position(Option::is_none).unwrap_or_else(|| {
                    conns.push(None);
                    conns.len() - 1
                });
                let fd = if FIXED {
                    // The table takes its own reference; the stream is
                    // closed here, the connection lives on in slot `i`.
                    if i >= FIXED_SLOTS as usize {
                        return Err(format!("more than {FIXED_SLOTS} connections").into());
                    }
                    driver.with_ring(|ring| ring.update_files(i as u32, &[FileSlot::file(stream.as_fd())]))?;
                    Fd::fixed(i as u32)
                } else {
                    Fd::from(SharedFd::from(stream))
                };
                submit(&mut set, Io::Recv(ops::Recv::new(fd.clone(), vec![0; BUF].slice(..))), tag(i, TAG_RECV))?;
                conns[i] = Some(SyncConn {
                    fd,
                    spare: vec![vec![0; BUF]],
                    queued: VecDeque::new(),
                    sending: false,
                    receiving: true,
                    closed: false,
                });
                submit(&mut set, Io::Accept(ops::Accept::new(&listener)), TAG_ACCEPT)?;
                continue;
            }
            let i = (t >> 1) as usize;
            let Some(c) = conns[i].as_mut() else { continue };
            match out {
                IoOut::Recv((Ok(n), buf)) if n > 0 => {
                    c.receiving = false;
                    c.queued.push_back(buf.into_inner().slice(..n));
                }
                IoOut::Recv((_, buf)) => {
                    // Closed by the peer, or failed.
                    c.receiving = false;
                    c.closed = true;
                    c.spare.push(buf.into_inner());
                }
                IoOut::Send((Ok(n), buf)) if n < buf.bytes_init() => {
                    c.sending = false;
                    let (b, e) = (buf.begin() + n, buf.end());
                    c.queued.push_front(buf.into_inner().slice(b..e));
                }
                IoOut::Send((res, buf)) => {
                    c.sending = false;
                    if res.is_err() {
                        c.closed = true;
                        c.queued.clear();
                    }
                    c.spare.push(buf.into_inner());
                }
                IoOut::Accept(_) => {}
            }
            if !c.sending {
                if let Some(buf) = c.queued.pop_front() {
                    submit(&mut set, Io::Send(ops::Send::new(c.fd.clone(), buf)), tag(i, TAG_SEND))?;
                    c.sending = true;
                }
            }
            if !c.receiving && !c.closed {
                let buf = c.spare.pop().unwrap_or_else(|| vec![0; BUF]);
                // Armed before the echo of what just arrived is sent: the
                // socket is empty until the client has that echo, so the
                // kernel may wait for data without trying first.
                let recv = ops::Recv::new(c.fd.clone(), buf.slice(..)).poll_first();
                submit(&mut set, Io::Recv(recv), tag(i, TAG_RECV))?;
                c.receiving = true;
            }
            if c.closed && !c.sending && !c.receiving && c.queued.is_empty() {
                if FIXED {
                    // No op uses the slot any more: close the connection.
                    driver.with_ring(|ring| ring.update_files(i as u32, &[ringwise::register::files::EMPTY]))?;
                }
                conns[i] = None;
            }
        }
    }
}

/// What a send of a ring buffer gives back.
type SendOut = <ops::Send<Slice<RingBuf>> as OwnedOp>::Output;

/// A connection of the multishot server.
struct MultiConn {
    fd: SharedFd,
    recv: Option<Stream<ops::RecvMulti>>,
    sending: bool,
    queued: VecDeque<Slice<RingBuf>>,
    done: bool,
}

fn ringwise_multi(listener: TcpListener, announce: impl FnOnce() -> Result) -> Result {
    let driver = tuned_driver(1024)?;
    let group = BufGroup::register(&driver, BufRingConfig::new(0, 1024, BUF as u32))?;
    let listener = SharedFd::from(listener);
    let mut accept = driver.submit_stream(ops::AcceptMulti::new(&listener)).map_err(|r| r.error.to_string())?;
    let mut sends: OpSet<ops::Send<Slice<RingBuf>>> = OpSet::new(&driver);
    announce()?;
    let mut conns: Vec<MultiConn> = Vec::new();
    let mut sent: Vec<(u64, SendOut)> = Vec::new();
    let mut idle = false;
    loop {
        // Block for a CQE of anything (the sends, the receive streams, the
        // accept) only when the last pass found nothing to do; the sends'
        // wait pushes and submits the sends queued by the last pass.
        if idle {
            driver.wait(1)?;
        }
        sends.wait(0, |t, out| sent.push((t, out)))?;
        idle = sent.is_empty();
        while let Ok(Some(conn)) = accept.try_next() {
            idle = false;
            let stream = TcpStream::from(conn?);
            stream.set_nodelay(true)?;
            let fd = SharedFd::from(stream);
            let recv = ops::RecvMulti::submit(&driver, &fd, &group)?;
            conns.push(MultiConn { fd, recv: Some(recv), sending: false, queued: VecDeque::new(), done: false });
        }
        if let Ok(None) = accept.try_next() {
            accept = driver.submit_stream(ops::AcceptMulti::new(&listener)).map_err(|r| r.error.to_string())?;
        }
        for (t, (res, buf)) in sent.drain(..) {
            let c = &mut conns[t as usize];
            c.sending = false;
            match res {
                Ok(n) if n < buf.bytes_init() => {
                    let (b, e) = (buf.begin() + n, buf.end());
                    c.queued.push_front(buf.into_inner().slice(b..e));
                }
                Ok(_) => {}
                Err(_) => {
                    c.done = true;
                    c.queued.clear();
                }
            }
        }
        for (i, c) in conns.iter_mut().enumerate() {
            if let Some(recv) = &mut c.recv {
                loop {
                    match recv.try_next() {
                        Ok(Some(Ok(Some(buf)))) => {
                            idle = false;
                            let len = buf.len();
                            c.queued.push_back(buf.slice(..len));
                        }
                        Ok(Some(Ok(None))) => c.done = true,
                        Ok(Some(Err(Errno::NOBUFS))) => {}
                        Ok(Some(Err(_))) => c.done = true,
                        Ok(None) => {
                            c.recv = None;
                            break;
                        }
                        Err(()) => break,
                    }
                }
            }
            if !c.sending {
                if let Some(buf) = c.queued.pop_front() {
                    sends.submit(ops::Send::new(&c.fd, buf), i as u64).map_err(|r| r.error.to_string())?;
                    c.sending = true;
                }
            }
            if c.recv.is_none() && !c.done && !c.sending && c.queued.is_empty() {
                c.recv = Some(ops::RecvMulti::submit(&driver, &c.fd, &group)?);
            }
        }
        // Closed connections stay in the vector (their index is their send
        // tag); a benchmark server lives for one cell only.
    }
}

/// The ring of a tokio-integrated server.
#[derive(Clone, Copy)]
enum RingKind {
    /// `ringwise_tokio::current()`: default flags.
    Current,
    /// `SINGLE_ISSUER`.
    SingleIssuer,
    /// `COOP_TASKRUN | TASKRUN_FLAG`: completions that need the thread run
    /// at its next system call instead of interrupting it.
    Coop,
}

/// Accept connections on `listener` through `ring` (a multishot accept,
/// armed again when it ends), set TCP_NODELAY on each and hand it to
/// `serve`; `announce` once the accept is armed.
async fn accept_each<S: Sharing>(
    ring: &ringwise_tokio::Uring<S>,
    listener: &SharedFd,
    announce: impl FnOnce() -> Result,
    mut serve: impl FnMut(ringwise_tokio::Uring<S>, SharedFd),
) -> Result {
    let mut accept = ring.submit_stream(ops::AcceptMulti::new(listener)).map_err(|r| r.error.to_string())?;
    announce()?;
    loop {
        let conn = match accept.next().await {
            Some(conn) => conn?,
            None => {
                accept = ring.submit_stream(ops::AcceptMulti::new(listener)).map_err(|r| r.error.to_string())?;
                continue;
            }
        };
        let stream = TcpStream::from(conn);
        stream.set_nodelay(true)?;
        serve(ring.clone(), SharedFd::from(stream));
    }
}

/// The tokio-integrated server: one task per connection awaiting a receive
/// and then the echo's send (`ring.submit(op)?.await`), on the ring `kind`
/// says. With `SEND_NOW`, each send is submitted at once (`ring.drive()`
/// after its submit: the send is usually done before its future is polled)
/// instead of being left for the drive task's next enter, and its future
/// spends tokio's coop budget (`cooperative`).
fn ringwise_tokio_server<const SEND_NOW: bool>(
    listener: TcpListener,
    announce: impl FnOnce() -> Result,
    kind: RingKind,
) -> Result {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    rt.block_on(async move {
        let listener = SharedFd::from(listener);
        let ring = match kind {
            RingKind::Current => ringwise_tokio::current()?,
            // A current_thread runtime: every submit comes from this thread.
            RingKind::SingleIssuer => ringwise_tokio::Uring::with_builder(Builder::new(1024).single_issuer())?,
            RingKind::Coop => ringwise_tokio::Uring::with_builder(Builder::new(1024).coop_taskrun().taskrun_flag())?,
        };
        accept_each(&ring, &listener, announce, |ring, conn| {
            tokio::spawn(echo_conn::<_, SEND_NOW>(ring, conn));
        })
        .await
    })
}

/// `ringwise-tokio` on a `LocalSet`: a `LocalUring` (default flags, the
/// entries of `current()`'s ring) and `spawn_local` per connection.
fn ringwise_tokio_local_server(listener: TcpListener, announce: impl FnOnce() -> Result) -> Result {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let local = tokio::task::LocalSet::new();
    rt.block_on(local.run_until(async {
        let listener = SharedFd::from(listener);
        let ring = ringwise_tokio::LocalUring::local(ringwise_tokio::DEFAULT_ENTRIES, &local)?;
        accept_each(&ring, &listener, announce, |ring, conn| {
            tokio::task::spawn_local(echo_conn::<_, false>(ring, conn));
        })
        .await
    }))
}

/// One connection of the tokio-integrated servers: a receive, then the
/// echo's send, awaited in turn, with one reused `Vec` (see
/// `ringwise_tokio_server` for `SEND_NOW`).
async fn echo_conn<S: Sharing, const SEND_NOW: bool>(ring: ringwise_tokio::Uring<S>, conn: SharedFd) {
    let mut buf = Vec::with_capacity(BUF);
    loop {
        buf.clear();
        let Ok(op) = ring.submit(ops::Recv::new(&conn, buf)) else { return };
        let (n, b) = op.await;
        buf = b;
        match n {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let len = buf.len();
        let mut sent = 0;
        while sent < len {
            let Ok(op) = ring.submit(ops::Send::new(&conn, buf.slice(sent..len))) else { return };
            let (n, part) = if SEND_NOW {
                // A failed enter leaves the send queued for the
                // drive task.
                let _ = ring.drive();
                tokio::task::coop::cooperative(op).await
            } else {
                op.await
            };
            buf = part.into_inner();
            match n {
                Ok(0) | Err(_) => return,
                Ok(n) => sent += n,
            }
        }
    }
}

fn ringwise_tokio_pipe_server(listener: TcpListener, announce: impl FnOnce() -> Result) -> Result {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    rt.block_on(async move {
        let listener = SharedFd::from(listener);
        let ring = ringwise_tokio::current()?;
        accept_each(&ring, &listener, announce, |ring, conn| {
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(BUF);
                let mut spare = Vec::with_capacity(BUF);
                let mut sending = None;
                loop {
                    buf.clear();
                    let Ok(op) = ring.submit(ops::Recv::new(&conn, buf)) else { return };
                    let (n, b) = op.await;
                    buf = b;
                    let n = match n {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    // The last echo's send: done by now (the peer answered
                    // it), so this await does not suspend.
                    if let Some(op) = sending.take() {
                        let (res, part): (std::result::Result<usize, Errno>, Slice<Vec<u8>>) = op.await;
                        let (mut sent, len) = match res {
                            Ok(k) => (k, part.end()),
                            Err(_) => return,
                        };
                        spare = part.into_inner();
                        // A short send: the rest, awaited (rare).
                        while sent < len {
                            let Ok(op) = ring.submit(ops::Send::new(&conn, spare.slice(sent..len))) else { return };
                            let (k, part) = op.await;
                            spare = part.into_inner();
                            match k {
                                Ok(0) | Err(_) => return,
                                Ok(k) => sent += k,
                            }
                        }
                    }
                    let Ok(op) = ring.submit(ops::Send::new(&conn, buf.slice(..n))) else { return };
                    sending = Some(op);
                    buf = std::mem::take(&mut spare);
                    if buf.capacity() < BUF {
                        buf.reserve(BUF);
                    }
                }
            });
        })
        .await
    })
}

fn tokio_server(listener: TcpListener, announce: impl FnOnce() -> Result) -> Result {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    rt.block_on(async move {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        announce()?;
        loop {
            let (mut stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let mut buf = vec![0u8; BUF];
                loop {
                    let n = match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if stream.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    })
}

fn monoio_server(listener: TcpListener, announce: impl FnOnce() -> Result) -> Result {
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build()?;
    rt.block_on(async move {
        let listener = monoio::net::TcpListener::from_std(listener)?;
        announce()?;
        loop {
            let (mut stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            monoio::spawn(async move {
                let mut buf = Vec::with_capacity(BUF);
                loop {
                    buf.clear();
                    let (res, b) = stream.read(buf).await;
                    buf = b;
                    match res {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let (res, b) = stream.write_all(buf).await;
                    buf = b;
                    if res.is_err() {
                        return;
                    }
                }
            });
        }
    })
}
