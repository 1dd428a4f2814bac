//! A stress test of the owned-I/O layer against the kernel: a seeded random
//! mix of reads (into owned and into registered buffers), writes, socket
//! sends and receives, timeouts, explicit
//! cancels, handles and futures dropped at random points, `OpSet`s of reads
//! and of receives that never finish (kept, dropped mid-flight, or kept past
//! their driver's shutdown), and drivers dropped (or shut down) with ops in
//! flight, including a receive that waits on a socket nobody writes to.
//!
//! It ends with:
//! * the process's descriptor count (`/proc/self/fd`) as it was at the start;
//! * every buffer dropped exactly once (a counting buffer type: created ==
//!   dropped, and nothing dropped that was not created), and every
//!   registered buffer back in its pool;
//! * no CQE lost: every op whose handle was kept gave its output exactly
//!   once (submitted == outputs + abandoned), every driver reported
//!   `in_flight == 0` and `leaked == 0` after teardown;
//! * no data lost or duplicated: every message a kept send reported sent was
//!   received exactly once (by a kept receive, by a receive whose handle was
//!   dropped, seen when its buffer is dropped, or left in the socket), no
//!   message whose send was cancelled was received, and every byte a read or
//!   receive returned is what was written;
//! * an explicit cancel gives either the op's real result with its data, or
//!   `ECANCELED` with the buffer untouched.
//!
//! It runs on default drivers (`Driver<Threads>`) and, with a fifth of the
//! ops, on drivers for one thread (`Driver<Local>`).
//!
//! Ops: `RINGWISE_STRESS_OPS` (default 1,000,000, and 200,000 on local
//! drivers); seed: `RINGWISE_STRESS_SEED`. CI runs 100,000 ops of each
//! under valgrind.
//!
//! Adding an op to the mix is one [`Action`] variant, its weight in
//! [`ACTIONS`], one arm in [`World::act`], and (for a kept handle) one
//! [`Pending`] variant with its check in [`World::check`].

use ringwise::owned::{ops, Driver, FixedBufPool, Local, Op, OpSet, SharedFd, Sharing, Threads};

// Drivers of either sharing, made by type.
#[path = "common/sharing.rs"]
mod sharing;
use sharing::MakeDriver;

// For `forward_io_buf!` only: this file's `Counted` keeps its own counts.
#[allow(dead_code)]
#[macro_use]
#[path = "common/counted.rs"]
mod counted;
use ringwise::{Builder, Errno};
use std::collections::HashMap;
use std::future::Future;
use std::os::fd::AsFd;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// The counting buffer.

static CREATED: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);
/// Messages found in receive buffers dropped by the driver (a receive whose
/// handle was dropped after data arrived).
static ORPHAN_MSGS: Mutex<Vec<u64>> = Mutex::new(Vec::new());
/// Held by a stress run: the counters above, the descriptor count and the
/// watchdog are the process's, so the runs take turns.
static SERIAL: Mutex<()> = Mutex::new(());
/// Bumped by every op: the watchdog aborts when it stops moving.
static PROGRESS: AtomicU64 = AtomicU64::new(0);

/// What an untouched buffer byte holds.
const FILL: u8 = 0xEE;
/// Receive buffers: room for the largest message.
const RECV_CAP: usize = 320;

/// A buffer that counts creations and drops. Receive buffers (`recv`) that
/// are dropped by the driver report the message they hold.
struct Counted {
    data: Vec<u8>,
    recv: bool,
}

impl Counted {
    fn new(data: Vec<u8>) -> Counted {
        CREATED.fetch_add(1, Ordering::Relaxed);
        Counted { data, recv: false }
    }
    /// A buffer of `len` bytes, all `FILL` (every byte is initialized, so a
    /// cancelled op's buffer can be checked for being untouched).
    fn filled(len: usize) -> Counted {
        Counted::new(vec![FILL; len])
    }
    fn for_recv() -> Counted {
        let mut b = Counted::filled(RECV_CAP);
        b.recv = true;
        b
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        if self.recv {
            // Dropped by the driver: a receive whose handle was dropped. If
            // data arrived, it is accounted for here.
            if self.data.iter().all(|&b| b == FILL) {
                return;
            }
            let (seq, len) = parse_msg(&self.data).unwrap_or_else(|e| panic!("orphaned receive buffer: {e}"));
            assert!(self.data[len..].iter().all(|&b| b == FILL), "bytes past the message were written");
            ORPHAN_MSGS.lock().unwrap().push(seq);
        }
    }
}

forward_io_buf!(Counted, data);

// ---------------------------------------------------------------------------
// Data: the file's pattern and self-checking messages.

const FILE_LEN: u64 = 64 * 1024;

/// Byte `i` of the test file.
fn file_byte(i: u64) -> u8 {
    (i.wrapping_mul(7) ^ (i >> 8)) as u8
}

const MAGIC: u32 = 0x5354_5253;

/// A message: magic, total length, channel, sequence number, then a body
/// derived from the sequence number.
fn make_msg(seq: u64, chan: usize, len: usize) -> Vec<u8> {
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&MAGIC.to_le_bytes());
    m.extend_from_slice(&(len as u16).to_le_bytes());
    m.extend_from_slice(&(chan as u16).to_le_bytes());
    m.extend_from_slice(&seq.to_le_bytes());
    for i in 16..len {
        m.push((seq as u8).wrapping_mul(31).wrapping_add(i as u8));
    }
    m
}

/// A message's sequence number and length, checking every byte of it.
fn parse_msg(b: &[u8]) -> Result<(u64, usize), String> {
    if b.len() < 16 {
        return Err(format!("{} bytes: too short", b.len()));
    }
    let magic = u32::from_le_bytes(b[0..4].try_into().unwrap());
    let len = u16::from_le_bytes(b[4..6].try_into().unwrap()) as usize;
    let seq = u64::from_le_bytes(b[8..16].try_into().unwrap());
    if magic != MAGIC || !(16..=b.len()).contains(&len) {
        return Err(format!("bad header {:02x?}", &b[..16]));
    }
    for (i, &x) in b.iter().enumerate().take(len).skip(16) {
        if x != (seq as u8).wrapping_mul(31).wrapping_add(i as u8) {
            return Err(format!("message {seq}: byte {i} is {x:#x}"));
        }
    }
    Ok((seq, len))
}

fn msg_chan(b: &[u8]) -> usize {
    u16::from_le_bytes(b[6..8].try_into().unwrap()) as usize
}

// ---------------------------------------------------------------------------
// The PRNG (xorshift64*), a no-op waker, descriptor counting.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

// ---------------------------------------------------------------------------
// The workload.

/// One kept handle in flight.
enum Pending<S: Sharing> {
    Read(Op<ops::Read<Counted>, S>, u64),
    ReadFixed(Op<ops::ReadFixed, S>, u64),
    Write(Op<ops::Write<Counted>, S>, u64),
    Recv(Op<ops::Recv<Counted>, S>, usize),
    Send(Op<ops::Send<Counted>, S>, u64),
    Timeout(Op<ops::Timeout, S>, bool),
}

/// A kept handle's output.
enum Done {
    Read(<ops::Read<Counted> as ringwise::owned::OwnedOp>::Output, u64),
    ReadFixed(<ops::ReadFixed as ringwise::owned::OwnedOp>::Output, u64),
    Write(<ops::Write<Counted> as ringwise::owned::OwnedOp>::Output, u64),
    Recv(<ops::Recv<Counted> as ringwise::owned::OwnedOp>::Output, usize),
    Send(<ops::Send<Counted> as ringwise::owned::OwnedOp>::Output, u64),
    Timeout(<ops::Timeout as ringwise::owned::OwnedOp>::Output, bool),
}

impl<S: Sharing> Pending<S> {
    fn cancel(&self) {
        match self {
            Pending::Read(op, _) => op.cancel(),
            Pending::ReadFixed(op, _) => op.cancel(),
            Pending::Write(op, _) => op.cancel(),
            Pending::Recv(op, _) => op.cancel(),
            Pending::Send(op, _) => op.cancel(),
            Pending::Timeout(op, _) => op.cancel(),
        }
    }

    fn wait(self) -> Done {
        match self {
            Pending::Read(op, x) => Done::Read(op.wait().expect("wait"), x),
            Pending::ReadFixed(op, x) => Done::ReadFixed(op.wait().expect("wait"), x),
            Pending::Write(op, x) => Done::Write(op.wait().expect("wait"), x),
            Pending::Recv(op, x) => Done::Recv(op.wait().expect("wait"), x),
            Pending::Send(op, x) => Done::Send(op.wait().expect("wait"), x),
            Pending::Timeout(op, x) => Done::Timeout(op.wait().expect("wait"), x),
        }
    }

    fn try_take(self) -> Result<Done, Pending<S>> {
        match self {
            Pending::Read(op, x) => op.try_take().map(|o| Done::Read(o, x)).map_err(|op| Pending::Read(op, x)),
            Pending::ReadFixed(op, x) => {
                op.try_take().map(|o| Done::ReadFixed(o, x)).map_err(|op| Pending::ReadFixed(op, x))
            }
            Pending::Write(op, x) => op.try_take().map(|o| Done::Write(o, x)).map_err(|op| Pending::Write(op, x)),
            Pending::Recv(op, x) => op.try_take().map(|o| Done::Recv(o, x)).map_err(|op| Pending::Recv(op, x)),
            Pending::Send(op, x) => op.try_take().map(|o| Done::Send(o, x)).map_err(|op| Pending::Send(op, x)),
            Pending::Timeout(op, x) => op.try_take().map(|o| Done::Timeout(o, x)).map_err(|op| Pending::Timeout(op, x)),
        }
    }

    /// Whether a plain wait is sure to end (the op does not wait for a peer
    /// or for an hour).
    fn finishes_alone(&self) -> bool {
        matches!(self, Pending::Read(..) | Pending::ReadFixed(..) | Pending::Write(..) | Pending::Timeout(_, false))
    }
}

/// What the workload does next. One variant per action; its weight is in
/// [`ACTIONS`] and its code in [`World::act`].
#[derive(Clone, Copy, Debug)]
enum Action {
    Read,
    /// A read into a registered buffer of the driver's pool.
    ReadFixed,
    Write,
    Recv,
    Send,
    Timeout,
    /// Move completions to their handles without blocking; take every
    /// finished op.
    Reap,
    /// Wait for one op (cancelling it first if it might wait forever).
    WaitOne,
    /// Cancel one op, then wait for it.
    CancelWait,
    /// Cancel one op and keep its handle.
    CancelKeep,
    /// Drop one handle.
    DropHandle,
    /// Submit an op, poll its future once or twice, drop the future.
    DropFuture,
    /// A few ops run as futures on `Driver::block_on`.
    Async,
    /// A set of reads and a set of receives on the idle pair: some reads
    /// taken, then both sets kept for later or dropped with ops in flight.
    Set,
}

const ACTIONS: &[(Action, u64)] = &[
    (Action::Read, 12),
    (Action::ReadFixed, 6),
    (Action::Write, 8),
    (Action::Recv, 14),
    (Action::Send, 14),
    (Action::Timeout, 6),
    (Action::Reap, 12),
    (Action::WaitOne, 6),
    (Action::CancelWait, 5),
    (Action::CancelKeep, 4),
    (Action::DropHandle, 6),
    (Action::DropFuture, 4),
    (Action::Async, 2),
    (Action::Set, 3),
];

/// Channel (pair, direction) numbers: pair `p`'s side 0 sends to side 1 on
/// channel `2p`, side 1 to side 0 on `2p + 1`.
const ASYNC_PAIR: usize = 0;
/// Nobody ever sends on this pair: a receive on it waits until cancelled.
const IDLE_PAIR: usize = 1;
const PAIRS: usize = 5;
/// Kept handles in flight at most.
const MAX_PENDING: usize = 64;

/// What happened to a message's send, as far as the test knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    InFlight,
    Sent,
    Cancelled,
    /// Its handle was dropped: it may or may not have gone.
    Abandoned,
}

struct Msg {
    chan: usize,
    fate: Fate,
    received: u32,
}

#[derive(Default, Debug)]
struct Stats {
    submitted: u64,
    outputs: u64,
    abandoned: u64,
    cancel_got_result: u64,
    cancel_got_ecanceled: u64,
    received_kept: u64,
    received_orphan: u64,
    received_drained: u64,
    drivers: u64,
    sets_dropped: u64,
    sets_finished: u64,
    refused_after_shutdown: u64,
    driver_drops_in_flight: u64,
    in_flight_at_drop: u64,
}

/// A kept pair of sets: reads (tag: offset) and receives on the idle pair
/// (tag: channel), which finish only when cancelled.
type Sets<S> = (OpSet<ops::Read<Counted>, S>, OpSet<ops::Recv<Counted>, S>);

struct World<S: MakeDriver> {
    rng: Rng,
    /// Sets kept across actions (at most 4).
    sets: Vec<Sets<S>>,
    driver: Driver<S>,
    /// Registered buffers on `driver`'s ring.
    pool: FixedBufPool,
    /// The pools of the drivers before, checked at the end: every buffer
    /// back.
    old_pools: Vec<FixedBufPool>,
    file: SharedFd,
    pairs: Vec<[SharedFd; 2]>,
    /// Kept handles in flight, and whether a cancel was asked for.
    pending: Vec<(Pending<S>, bool)>,
    msgs: HashMap<u64, Msg>,
    /// Sends submitted minus messages known received, per channel: an upper
    /// bound of what sits in the socket.
    queued: Vec<i64>,
    next_seq: u64,
    stats: Stats,
    noop: Waker,
}

fn new_driver<S: MakeDriver>(rng: &mut Rng) -> Driver<S> {
    let entries = [4u32, 16, 64, 256][rng.below(4) as usize];
    let builder: Builder = Builder::new(entries);
    let builder = match rng.below(3) {
        0 => builder,
        1 => builder.coop_taskrun(),
        _ => builder.single_issuer().defer_taskrun(),
    };
    match S::with_builder(builder) {
        Ok(d) => d,
        // An old kernel without these flags: the plain ring (said once).
        Err(e) => {
            static SAID: AtomicBool = AtomicBool::new(false);
            if !SAID.swap(true, Ordering::Relaxed) {
                eprintln!("owned_stress: skipping COOP_TASKRUN/DEFER_TASKRUN rings ({e}); default rings only");
            }
            S::with_builder(Builder::new(entries)).expect("a ring")
        }
    }
}

/// Registered buffers for `driver`: few, so that reads sometimes find none
/// free.
fn new_pool<S: Sharing>(driver: &Driver<S>) -> FixedBufPool {
    FixedBufPool::register(driver, 8, 4096).expect("a fixed-buffer pool")
}

fn new_file() -> SharedFd {
    let path = std::env::temp_dir().join(format!("ringwise-owned-stress-{}", std::process::id()));
    let data: Vec<u8> = (0..FILE_LEN).map(file_byte).collect();
    std::fs::write(&path, &data).unwrap();
    let file = std::fs::File::options().read(true).write(true).open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    SharedFd::from(file)
}

fn new_pairs() -> Vec<[SharedFd; 2]> {
    (0..PAIRS)
        .map(|_| {
            let (a, b) = rustix::net::socketpair(
                rustix::net::AddressFamily::UNIX,
                rustix::net::SocketType::SEQPACKET,
                rustix::net::SocketFlags::CLOEXEC,
                None,
            )
            .unwrap();
            [SharedFd::new(a), SharedFd::new(b)]
        })
        .collect()
}

impl<S: MakeDriver> World<S> {
    fn new(seed: u64) -> World<S> {
        let mut rng = Rng(seed | 1);
        let driver = new_driver(&mut rng);
        let pool = new_pool(&driver);
        World {
            rng,
            sets: Vec::new(),
            driver,
            pool,
            old_pools: Vec::new(),
            file: new_file(),
            pairs: new_pairs(),
            pending: Vec::new(),
            msgs: HashMap::new(),
            queued: vec![0; PAIRS * 2],
            next_seq: 1,
            stats: Stats { drivers: 1, ..Stats::default() },
            noop: Waker::from(Arc::new(Noop)),
        }
    }

    fn pick_action(&mut self) -> Action {
        let total: u64 = ACTIONS.iter().map(|a| a.1).sum();
        let mut r = self.rng.below(total);
        for &(a, w) in ACTIONS {
            if r < w {
                return a;
            }
            r -= w;
        }
        unreachable!()
    }

    /// A traffic channel (not the async or idle pair's).
    fn traffic_chan(&mut self) -> usize {
        let pairs = (PAIRS - 2) as u64;
        4 + self.rng.below(pairs * 2) as usize
    }

    fn recv_fd(&self, chan: usize) -> &SharedFd {
        &self.pairs[chan / 2][1 - chan % 2]
    }

    fn send_fd(&self, chan: usize) -> &SharedFd {
        &self.pairs[chan / 2][chan % 2]
    }

    // -- making ops ---------------------------------------------------------

    fn read_op(&mut self) -> (ops::Read<Counted>, u64) {
        let offset = self.rng.below(FILE_LEN + 64);
        let len = 1 + self.rng.below(2048) as usize;
        (ops::Read::at(&self.file, Counted::filled(len), offset), offset)
    }

    fn write_op(&mut self) -> (ops::Write<Counted>, u64) {
        // Writes put back the bytes the file already holds, so reads in
        // flight at the same time still see the pattern.
        let offset = self.rng.below(FILE_LEN - 1);
        let len = 1 + self.rng.below(1024.min(FILE_LEN - offset));
        let data: Vec<u8> = (offset..offset + len).map(file_byte).collect();
        (ops::Write::at(&self.file, Counted::new(data), offset), offset)
    }

    fn send_op(&mut self, chan: usize) -> (ops::Send<Counted>, u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let len = 16 + self.rng.below((RECV_CAP - 16) as u64 + 1) as usize;
        self.msgs.insert(seq, Msg { chan, fate: Fate::InFlight, received: 0 });
        self.queued[chan] += 1;
        (ops::Send::new(self.send_fd(chan), Counted::new(make_msg(seq, chan, len))), seq)
    }

    fn recv_op(&mut self, chan: usize) -> ops::Recv<Counted> {
        ops::Recv::new(self.recv_fd(chan), Counted::for_recv())
    }

    fn timeout_op(&mut self) -> (ops::Timeout, bool) {
        let long = self.rng.chance(30);
        let after = if long { Duration::from_secs(3600) } else { Duration::from_micros(self.rng.below(200)) };
        (ops::Timeout::after(after), long)
    }

    /// Submit `op` (counted); a refusal is a failure here (the driver is
    /// open and the buffers small).
    fn submit<T: ringwise::owned::OwnedOp>(&mut self, op: T) -> Op<T, S> {
        self.stats.submitted += 1;
        PROGRESS.fetch_add(1, Ordering::Relaxed);
        match self.driver.submit(op) {
            Ok(h) => h,
            Err(r) => panic!("submit refused: {}", r.error),
        }
    }

    fn keep(&mut self, p: Pending<S>) {
        self.pending.push((p, false));
        if self.pending.len() > MAX_PENDING {
            self.reap();
            if self.pending.len() > MAX_PENDING {
                let i = self.rng.below(self.pending.len() as u64) as usize;
                let (p, _) = self.pending.swap_remove(i);
                p.cancel();
                let d = p.wait();
                self.check(d, true);
            }
        }
    }

    // -- the actions --------------------------------------------------------

    fn act(&mut self, action: Action) {
        match action {
            Action::Read => {
                let (op, off) = self.read_op();
                let h = self.submit(op);
                self.keep(Pending::Read(h, off));
            }
            Action::ReadFixed => {
                let Some(buf) = self.pool.checkout() else { return self.reap() };
                let offset = self.rng.below(FILE_LEN + 64);
                let op = ops::ReadFixed::at(&self.file, buf, offset);
                let h = self.submit(op);
                self.keep(Pending::ReadFixed(h, offset));
            }
            Action::Write => {
                let (op, off) = self.write_op();
                let h = self.submit(op);
                self.keep(Pending::Write(h, off));
            }
            Action::Recv => {
                let chan = self.traffic_chan();
                let op = self.recv_op(chan);
                let h = self.submit(op);
                self.keep(Pending::Recv(h, chan));
            }
            Action::Send => {
                let chan = self.traffic_chan();
                if self.queued[chan] > 64 {
                    // The socket may be full: receive instead.
                    return self.act(Action::Recv);
                }
                let (op, seq) = self.send_op(chan);
                let h = self.submit(op);
                self.keep(Pending::Send(h, seq));
            }
            Action::Timeout => {
                let (op, long) = self.timeout_op();
                let h = self.submit(op);
                self.keep(Pending::Timeout(h, long));
            }
            Action::Reap => self.reap(),
            Action::WaitOne | Action::CancelWait => {
                if self.pending.is_empty() {
                    return;
                }
                let i = self.rng.below(self.pending.len() as u64) as usize;
                let (p, was) = self.pending.swap_remove(i);
                let alone = match &p {
                    // A send goes unless the socket is full.
                    Pending::Send(_, seq) => self.queued[self.msgs[seq].chan] < 32,
                    p => p.finishes_alone(),
                };
                let cancel = was || matches!(action, Action::CancelWait) || !alone;
                if cancel {
                    p.cancel();
                }
                let d = p.wait();
                self.check(d, cancel);
            }
            Action::CancelKeep => {
                if self.pending.is_empty() {
                    return;
                }
                let i = self.rng.below(self.pending.len() as u64) as usize;
                let (p, was) = &mut self.pending[i];
                p.cancel();
                *was = true;
                if self.rng.chance(50) {
                    let _ = self.driver.wait(0).unwrap();
                }
            }
            Action::DropHandle => {
                if self.pending.is_empty() {
                    return;
                }
                let i = self.rng.below(self.pending.len() as u64) as usize;
                let (p, _) = self.pending.swap_remove(i);
                if self.rng.chance(50) {
                    // Let it reach the kernel first.
                    let _ = self.driver.wait(0).unwrap();
                }
                self.abandon(p);
            }
            Action::DropFuture => self.drop_future(),
            Action::Async => self.run_async(),
            Action::Set => self.run_set(),
        }
    }

    /// See [`Action::Set`]. Kept sets' finished reads are taken first.
    fn run_set(&mut self) {
        let mut outs = Vec::new();
        for (reads, _) in &mut self.sets {
            reads.wait(0, |off, out| outs.push((out, off))).expect("a kept set's wait");
        }
        let mut reads = OpSet::new(&self.driver);
        let mut idle = OpSet::new(&self.driver);
        let n = 1 + self.rng.below(8);
        for _ in 0..n {
            let (op, off) = self.read_op();
            self.stats.submitted += 1;
            reads.submit(op, off).unwrap_or_else(|r| panic!("a set refused a read: {}", r.error));
        }
        for _ in 0..1 + self.rng.below(3) {
            let chan = IDLE_PAIR * 2 + self.rng.below(2) as usize;
            let op = self.recv_op(chan);
            self.stats.submitted += 1;
            idle.submit(op, chan as u64).unwrap_or_else(|r| panic!("a set refused a recv: {}", r.error));
        }
        idle.flush().expect("flush");
        let want = self.rng.below(n + 1) as usize;
        reads.wait(want, |off, out| outs.push((out, off))).expect("a set's wait");
        for (out, off) in outs {
            self.check(Done::Read(out, off), false);
        }
        if self.sets.len() < 4 && self.rng.chance(60) {
            self.sets.push((reads, idle));
        } else {
            self.drop_sets(vec![(reads, idle)]);
        }
    }

    /// Drop sets with what is left in them (the idle receives at least):
    /// the driver keeps those ops until their CQEs.
    fn drop_sets(&mut self, sets: Vec<Sets<S>>) {
        for (reads, idle) in sets {
            self.stats.abandoned += (reads.len() + idle.len()) as u64;
            self.stats.sets_dropped += 1;
        }
    }

    /// Ops a shut-down driver refused and gave back: each counts as its
    /// output (it came back exactly once), its buffer untouched.
    fn refused(&mut self, bufs: impl Iterator<Item = Counted>) {
        for buf in bufs {
            assert!(buf.data.iter().all(|&b| b == FILL), "a refused op's buffer was touched");
            self.stats.outputs += 1;
            self.stats.refused_after_shutdown += 1;
        }
    }

    /// Every op of kept sets, after their driver's shutdown: each comes
    /// back (reads done or cancelled, receives cancelled).
    fn finish_sets(&mut self, sets: Vec<Sets<S>>) {
        for (mut reads, mut idle) in sets {
            let mut outs = Vec::new();
            let mut recvs = Vec::new();
            // Ops still queued in a set (the SQ had no room for them) are
            // refused by the shut-down driver and given back whole.
            while !reads.is_empty() {
                if let Err(e) = reads.wait(reads.len(), |off, out| outs.push((out, off))) {
                    assert!(matches!(e, ringwise::Error::RingUnusable { .. }), "a set's wait after shutdown: {e}");
                    self.refused(reads.take_refused().into_iter().map(|r| r.op.into_buf()));
                }
            }
            while !idle.is_empty() {
                if let Err(e) = idle.wait(idle.len(), |chan, out| recvs.push((out, chan as usize))) {
                    assert!(matches!(e, ringwise::Error::RingUnusable { .. }), "a set's wait after shutdown: {e}");
                    self.refused(idle.take_refused().into_iter().map(|r| r.op.into_buf()));
                }
            }
            for (out, off) in outs {
                self.check(Done::Read(out, off), true);
            }
            for (out, chan) in recvs {
                self.check(Done::Recv(out, chan), true);
            }
            self.stats.sets_finished += 1;
        }
    }

    /// Drop a kept handle.
    fn abandon(&mut self, p: Pending<S>) {
        self.stats.abandoned += 1;
        if let Pending::Send(_, seq) = &p {
            self.msgs.get_mut(seq).unwrap().fate = Fate::Abandoned;
        }
        drop(p);
    }

    fn reap(&mut self) {
        let _ = self.driver.wait(0).unwrap();
        let mut i = 0;
        while i < self.pending.len() {
            let (p, cancelled) = self.pending.swap_remove(i);
            match p.try_take() {
                Ok(d) => self.check(d, cancelled),
                Err(p) => {
                    self.pending.push((p, cancelled));
                    let last = self.pending.len() - 1;
                    self.pending.swap(i, last);
                    i += 1;
                }
            }
        }
    }

    /// An op's future polled once or twice, then dropped (mid-flight, or
    /// after its completion arrived but before it was taken).
    fn drop_future(&mut self) {
        let noop = self.noop.clone();
        let mut cx = Context::from_waker(&noop);
        match self.rng.below(3) {
            0 => {
                let chan = self.traffic_chan();
                let op = self.recv_op(chan);
                let mut fut = self.submit(op);
                let r = self.poll_then(&mut fut, &mut cx);
                if let Some(out) = r {
                    self.check(Done::Recv(out, chan), false);
                    return;
                }
                self.stats.abandoned += 1;
            }
            1 => {
                let (op, off) = self.read_op();
                let mut fut = self.submit(op);
                if let Some(out) = self.poll_then(&mut fut, &mut cx) {
                    self.check(Done::Read(out, off), false);
                    return;
                }
                self.stats.abandoned += 1;
            }
            _ => {
                // An async block holding two ops, dropped part-way.
                let (r, off) = self.read_op();
                let (t, long) = self.timeout_op();
                let r = self.submit(r);
                let t = self.submit(t);
                let mut fut = pin!(async move { (r.await, t.await) });
                match fut.as_mut().poll(&mut cx) {
                    Poll::Ready(((read, buf), t)) => {
                        self.check(Done::Read((read, buf), off), false);
                        self.check(Done::Timeout(t, long), false);
                        return;
                    }
                    Poll::Pending => {}
                }
                let _ = self.driver.wait(0).unwrap();
                if self.rng.chance(50) {
                    if let Poll::Ready(((read, buf), t)) = fut.as_mut().poll(&mut cx) {
                        self.check(Done::Read((read, buf), off), false);
                        self.check(Done::Timeout(t, long), false);
                        return;
                    }
                }
                // Both ops are dropped with the future (whatever state
                // each is in).
                self.stats.abandoned += 2;
            }
        }
    }

    /// Poll `fut` once; maybe drive and poll again. `None`: still pending
    /// (the caller drops it).
    fn poll_then<F: Future + Unpin>(&mut self, fut: &mut F, cx: &mut Context<'_>) -> Option<F::Output> {
        if let Poll::Ready(o) = std::pin::Pin::new(&mut *fut).poll(cx) {
            return Some(o);
        }
        if self.rng.chance(60) {
            let _ = self.driver.wait(0).unwrap();
            if self.rng.chance(50) {
                if let Poll::Ready(o) = std::pin::Pin::new(&mut *fut).poll(cx) {
                    return Some(o);
                }
            }
        }
        None
    }

    /// A few ops as futures on `block_on`: a message over the async pair,
    /// a read, a short timeout, each awaited.
    fn run_async(&mut self) {
        let k = 1 + self.rng.below(4) as usize;
        let chan = ASYNC_PAIR * 2 + self.rng.below(2) as usize;
        let mut batch = Vec::with_capacity(k);
        for _ in 0..k {
            let (send, seq) = self.send_op(chan);
            let recv = self.recv_op(chan);
            let (read, off) = self.read_op();
            let after = Duration::from_micros(self.rng.below(100));
            batch.push((send, seq, recv, read, off, after));
        }
        self.stats.submitted += 4 * k as u64;
        PROGRESS.fetch_add(4 * k as u64, Ordering::Relaxed);
        let driver = self.driver.clone();
        let outs = driver
            .block_on(async {
                let mut outs = Vec::with_capacity(k);
                for (send, seq, recv, read, off, after) in batch {
                    let recv = driver.submit(recv).unwrap();
                    let read = driver.submit(read).unwrap();
                    let t = driver.submit(ops::Timeout::after(after)).unwrap();
                    let send = driver.submit(send).unwrap();
                    let t = t.await;
                    let send = send.await;
                    let read = read.await;
                    let recv = recv.await;
                    outs.push((Done::Send(send, seq), Done::Recv(recv, chan), Done::Read(read, off), t));
                }
                outs
            })
            .unwrap();
        for (send, recv, read, t) in outs {
            self.stats.outputs += 1;
            t.expect("a short timeout fires");
            for d in [send, recv, read] {
                self.check(d, false);
            }
        }
    }

    // -- checks ---------------------------------------------------------------

    /// Check a kept handle's output. `cancelled`: a cancel was asked for,
    /// so `ECANCELED` is a fine result (and the buffer must be untouched).
    fn check(&mut self, d: Done, cancelled: bool) {
        self.stats.outputs += 1;
        let was_cancelled = |res: &Result<usize, Errno>, stats: &mut Stats| {
            if cancelled {
                if res.is_ok() {
                    stats.cancel_got_result += 1;
                } else {
                    stats.cancel_got_ecanceled += 1;
                }
            }
        };
        match d {
            Done::Read((res, buf), off) => {
                was_cancelled(&res, &mut self.stats);
                match res {
                    Ok(n) => {
                        let want = (FILE_LEN.saturating_sub(off) as usize).min(buf.data.len());
                        assert_eq!(n, want, "read at {off} of {} bytes", buf.data.len());
                        for (i, &b) in buf.data[..n].iter().enumerate() {
                            assert_eq!(b, file_byte(off + i as u64), "read at {off}: byte {i}");
                        }
                        assert!(buf.data[n..].iter().all(|&b| b == FILL), "read wrote past its result");
                    }
                    Err(e) => {
                        assert!(cancelled && e == Errno::CANCELED, "read: {e:?} (cancelled: {cancelled})");
                        assert!(buf.data.iter().all(|&b| b == FILL), "a cancelled read touched its buffer");
                    }
                }
            }
            Done::ReadFixed((res, buf), off) => {
                was_cancelled(&res, &mut self.stats);
                match res {
                    Ok(n) => {
                        let want = (FILE_LEN.saturating_sub(off) as usize).min(buf.capacity());
                        assert_eq!(n, want, "fixed read at {off}");
                        assert_eq!(buf.len(), n, "a fixed read's buffer holds what was read");
                        for (i, &b) in buf.iter().enumerate() {
                            assert_eq!(b, file_byte(off + i as u64), "fixed read at {off}: byte {i}");
                        }
                    }
                    Err(e) => assert!(cancelled && e == Errno::CANCELED, "fixed read: {e:?} (cancelled: {cancelled})"),
                }
            }
            Done::Write((res, buf), off) => {
                was_cancelled(&res, &mut self.stats);
                match res {
                    Ok(n) => assert_eq!(n, buf.data.len(), "a short write"),
                    Err(e) => assert!(cancelled && e == Errno::CANCELED, "write: {e:?} (cancelled: {cancelled})"),
                }
                for (i, &b) in buf.data.iter().enumerate() {
                    assert_eq!(b, file_byte(off + i as u64), "the write's buffer changed");
                }
            }
            Done::Recv((res, mut buf), chan) => {
                buf.recv = false;
                was_cancelled(&res, &mut self.stats);
                match res {
                    Ok(n) => {
                        let (seq, len) = parse_msg(&buf.data[..n]).unwrap_or_else(|e| panic!("recv: {e}"));
                        assert_eq!(len, n, "a message arrives whole");
                        assert_eq!(msg_chan(&buf.data), chan, "message {seq} on the wrong channel");
                        assert!(buf.data[n..].iter().all(|&b| b == FILL), "recv wrote past its result");
                        self.stats.received_kept += 1;
                        self.received(seq);
                    }
                    Err(e) => {
                        assert!(cancelled && e == Errno::CANCELED, "recv: {e:?} (cancelled: {cancelled})");
                        assert!(buf.data.iter().all(|&b| b == FILL), "a cancelled recv touched its buffer");
                    }
                }
            }
            Done::Send((res, buf), seq) => {
                was_cancelled(&res, &mut self.stats);
                parse_msg(&buf.data).expect("the send's buffer is unchanged");
                let msg = self.msgs.get_mut(&seq).unwrap();
                assert_eq!(msg.fate, Fate::InFlight);
                match res {
                    Ok(n) => {
                        assert_eq!(n, buf.data.len(), "a message goes whole");
                        msg.fate = Fate::Sent;
                    }
                    Err(e) => {
                        assert!(cancelled && e == Errno::CANCELED, "send: {e:?} (cancelled: {cancelled})");
                        msg.fate = Fate::Cancelled;
                        self.queued[msg.chan] -= 1;
                    }
                }
            }
            Done::Timeout(res, long) => match res {
                Ok(()) => assert!(!long, "an hour-long timeout fired"),
                Err(e) => assert!(cancelled && e == Errno::CANCELED, "timeout: {e:?} (cancelled: {cancelled})"),
            },
        }
    }

    fn received(&mut self, seq: u64) {
        let msg = self.msgs.get_mut(&seq).unwrap_or_else(|| panic!("message {seq} was never sent"));
        msg.received += 1;
        assert_eq!(msg.received, 1, "message {seq} received twice");
        self.queued[msg.chan] -= 1;
    }

    /// Take every message the sockets still hold (after the driver is gone).
    fn drain_sockets(&mut self) {
        let mut buf = vec![FILL; RECV_CAP];
        for p in 0..PAIRS {
            for side in 0..2 {
                loop {
                    buf.fill(FILL);
                    match rustix::net::recv(self.pairs[p][side].as_fd(), &mut buf[..], rustix::net::RecvFlags::DONTWAIT)
                    {
                        Ok((n, _)) => {
                            let (seq, len) = parse_msg(&buf[..n]).unwrap();
                            assert_eq!(len, n);
                            self.stats.received_drained += 1;
                            self.received(seq);
                        }
                        Err(e) if e == rustix::io::Errno::AGAIN => break,
                        Err(e) => panic!("drain: {e}"),
                    }
                }
            }
        }
    }

    /// End the driver's life with ops in flight: kept handles, dropped ones,
    /// a future polled once, and a receive waiting on the idle pair. Every
    /// kept handle must then give its output, every message be accounted
    /// for; then a new driver, file and sockets.
    fn end_driver(&mut self, last: bool) {
        let noop = self.noop.clone();
        let mut cx = Context::from_waker(&noop);
        // A receive nobody will satisfy, kept; one dropped; one as a future
        // polled once and kept past the driver.
        let idle = IDLE_PAIR * 2 + self.rng.below(2) as usize;
        let op = self.recv_op(idle);
        let h = self.submit(op);
        self.pending.push((Pending::Recv(h, idle), false));
        let op = self.recv_op(idle);
        let h = self.submit(op);
        let _ = self.driver.wait(0).unwrap();
        self.stats.abandoned += 1;
        drop(h);
        let op = self.recv_op(idle);
        let mut fut = self.submit(op);
        assert!(std::pin::Pin::new(&mut fut).poll(&mut cx).is_pending(), "nobody sends on the idle pair");
        let _ = self.driver.wait(0).unwrap();

        let in_flight = self.driver.stats().in_flight as u64;
        self.stats.in_flight_at_drop += in_flight;
        let driver = std::mem::replace(&mut self.driver, new_driver(&mut self.rng));
        let pool = std::mem::replace(&mut self.pool, new_pool(&self.driver));
        self.old_pools.push(pool);
        let sets = std::mem::take(&mut self.sets);
        match self.rng.below(3) {
            0 => {
                // The last clone dropped (with the sets, which hold it):
                // teardown.
                self.stats.driver_drops_in_flight += 1;
                self.drop_sets(sets);
                drop(driver);
            }
            1 => {
                // Shut down explicitly, then use it: refused, buffer back.
                // Kept sets get their ops back (cancelled ones too).
                let st = driver.shutdown();
                self.finish_sets(sets);
                assert_eq!((st.in_flight, st.leaked), (0, 0), "after shutdown: {st:?}");
                let (w, _) = self.write_op();
                let r = driver.submit(w).expect_err("a shut-down driver refuses ops");
                assert_eq!(r.error.errno(), Errno::BADFD);
                drop(r.into_inner().into_buf());
                drop(driver);
            }
            _ => {
                // Cancel everything the orderly way, reap, then drop.
                self.drop_sets(sets);
                for (p, _) in &self.pending {
                    p.cancel();
                }
                fut.cancel();
                let deadline = Instant::now() + Duration::from_secs(10);
                while driver.stats().in_flight > 0 {
                    assert!(Instant::now() < deadline, "ops still in flight: {:?}", driver.stats());
                    driver.wait(1).unwrap();
                }
                let st = driver.stats();
                assert_eq!((st.in_flight, st.leaked), (0, 0));
                drop(driver);
            }
        }
        // Every kept handle finishes now (the driver reaped it).
        for (p, _) in std::mem::take(&mut self.pending) {
            let d = p.wait();
            self.check(d, true);
        }
        match std::pin::Pin::new(&mut fut).poll(&mut cx) {
            Poll::Ready(out) => self.check(Done::Recv(out, idle), true),
            Poll::Pending => panic!("a future kept past its driver's teardown did not finish"),
        }
        // Account for every message of this driver's life.
        self.drain_sockets();
        let orphans = std::mem::take(&mut *ORPHAN_MSGS.lock().unwrap());
        for seq in orphans {
            self.stats.received_orphan += 1;
            self.received(seq);
        }
        for (seq, m) in self.msgs.drain() {
            match m.fate {
                Fate::Sent => assert_eq!(m.received, 1, "message {seq} was sent and lost"),
                Fate::Cancelled => assert_eq!(m.received, 0, "message {seq}: its send said ECANCELED"),
                Fate::Abandoned => {}
                Fate::InFlight => panic!("message {seq}: its send never finished"),
            }
        }
        self.queued.iter_mut().for_each(|q| *q = 0);
        self.stats.drivers += 1;
        if last {
            let driver = std::mem::replace(&mut self.driver, S::with_builder(Builder::new(4)).unwrap());
            drop(driver);
        }
        self.file = new_file();
        self.pairs = new_pairs();
    }
}

#[test]
fn a_million_owned_ops_leak_nothing_and_lose_nothing() {
    stress::<Threads>(1_000_000);
}

/// The same mix on drivers for one thread (`Driver<Local>`: a `RefCell`
/// and an `Rc` instead of a mutex and an `Arc`), with a fifth of the ops.
#[test]
fn owned_ops_on_local_drivers_leak_nothing_and_lose_nothing() {
    stress::<Local>(200_000);
}

/// `ops` ops (or `RINGWISE_STRESS_OPS`) of the seeded mix on drivers of
/// sharing `S`, then the checks of the module's docs. (The counters are
/// process-wide: the two tests compare counts taken before and after.)
fn stress<S: MakeDriver>(default_ops: u64) {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let ops: u64 = std::env::var("RINGWISE_STRESS_OPS").ok().and_then(|s| s.parse().ok()).unwrap_or(default_ops);
    let seed: u64 = std::env::var("RINGWISE_STRESS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_1234);
    let fds_before = fd_count();
    let start = Instant::now();

    // A watchdog: a hang is a failure, not a stuck CI job.
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut last = PROGRESS.load(Ordering::Relaxed);
            let mut still = Instant::now();
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let now = PROGRESS.load(Ordering::Relaxed);
                if now != last {
                    last = now;
                    still = Instant::now();
                } else if still.elapsed() > Duration::from_secs(120) {
                    eprintln!("owned_stress: no progress for 120 s after {now} ops: hung");
                    std::process::abort();
                }
            }
        })
    };

    let (created_before, dropped_before) = (CREATED.load(Ordering::Relaxed), DROPPED.load(Ordering::Relaxed));
    let mut w: World<S> = World::new(seed);
    let mut until_end = 200 + w.rng.below(3000);
    while w.stats.submitted < ops {
        let a = w.pick_action();
        w.act(a);
        until_end = until_end.saturating_sub(1);
        if until_end == 0 {
            w.end_driver(false);
            until_end = 200 + w.rng.below(3000);
        }
    }
    w.end_driver(true);
    let World { stats, file, pairs, driver, pool, old_pools, .. } = w;
    drop((file, pairs, driver));
    for (i, pool) in old_pools.iter().chain([&pool]).enumerate() {
        assert_eq!(pool.available(), pool.count(), "pool {i}: every registered buffer came back");
    }
    done.store(true, Ordering::Relaxed);
    watchdog.join().unwrap();

    let elapsed = start.elapsed();
    eprintln!("owned_stress: {} ops in {:.2?} (seed {seed:#x}): {stats:?}", stats.submitted, elapsed);
    assert_eq!(stats.submitted, stats.outputs + stats.abandoned, "every kept op gave its output once");
    let (created, dropped) = (CREATED.load(Ordering::Relaxed), DROPPED.load(Ordering::Relaxed));
    assert_eq!(created - created_before, dropped - dropped_before, "buffers created vs dropped");
    assert_eq!(fd_count(), fds_before, "descriptors open at the end vs the start");
}
