//! The `owned` and `async` loops of `ringwise bench read`: the same reads
//! as the `core` loop (t/io_uring's shape: `--depth` in flight, `--batch`
//! new reads per enter), through ringwise's owned-I/O layer, without
//! `unsafe`.
//!
//! - `owned`: an [`OpSet`] of reads; each read owns its buffer (a
//!   page-aligned piece of a [`FixedBufPool`], registered with the ring, so
//!   `--fixed-buffers` can use `READ_FIXED` on the same memory) and comes
//!   back with it.
//! - `async`: `--depth` tokio tasks on a current-thread runtime, each
//!   awaiting one read at a time, the ring driven from tokio's reactor by
//!   `ringwise-tokio`: what an async program does.
//! - `async-local`: the same tasks on a tokio `LocalSet`, on a driver for
//!   one thread (`Driver<Local>`, `ringwise_tokio::LocalUring`): `!Send`
//!   futures, no lock per op; the tasks share their offset generator and
//!   count through a `RefCell` and a `Cell` where `async`'s use a mutex and
//!   an atomic, as a program of each kind would.
//!
//! Both name the file by an `Fd::Static` (or its fixed slot with
//! `--register-files`), as the core loop names it by its raw number: no
//! refcount per read.

use super::read::{Clock, ReadSettings, Ticker};
use super::Measured;
use crate::error::CliError;
use ringwise::owned::{ops, Driver, Fd, FixedBuf, FixedBufPool, Local, OpSet, OwnedOp, Sharing};
use ringwise::register::files::FileSlot;
use ringwise::Errno;
use ringwise::Ring;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The most buffers a fixed-buffer table holds.
const MAX_BUFFERS: u32 = 16384;

/// A driver on the ring `--setup-flags` and `--register-ring` ask for, the
/// buffers and the file as the settings say.
fn setup(s: &ReadSettings) -> Result<(Driver, FixedBufPool, Fd), CliError> {
    setup_with(s, Driver::from_ring)
}

/// [`setup`] with a driver of either sharing, made by `driver_on`.
fn setup_with<S: Sharing>(
    s: &ReadSettings,
    driver_on: fn(Ring) -> ringwise::Result<Driver<S>>,
) -> Result<(Driver<S>, FixedBufPool, Fd), CliError> {
    if s.depth > MAX_BUFFERS {
        return Err(CliError::TooLarge {
            option: "--depth",
            value: s.depth.into(),
            max: MAX_BUFFERS.into(),
            why: "the owned APIs read into registered buffers, and a ring's table holds at most 16384".into(),
        });
    }
    let ring = super::read::ring_for(s)?;
    let driver = driver_on(ring).map_err(|source| CliError::Ring { call: "Driver::from_ring", source })?;
    let pool = FixedBufPool::register(&driver, s.depth as usize, s.size as usize)
        .map_err(|source| CliError::Register { what: "the read buffers", source })?;
    let file =
        s.file.try_clone().map_err(|e| CliError::File { path: s.path.clone(), action: "duplicate", source: e })?;
    let fd = if s.register_files {
        driver
            .with_ring(|ring| ring.register_files(&[FileSlot::file(file.as_fd())]))
            .map_err(|source| CliError::Register { what: "the file", source })?;
        Fd::fixed(0)
    } else {
        // The file stays open for the rest of the process (a bench runs
        // once per process): leaked, it is a `BorrowedFd<'static>`, which
        // ops name without the two atomic refcount updates per read a
        // `SharedFd` costs (see `Fd`).
        let file: &'static std::fs::File = Box::leak(Box::new(file));
        Fd::from(file.as_fd())
    };
    Ok((driver, pool, fd))
}

/// The failure of one read, if it did not read `size` bytes.
fn check(res: Result<usize, Errno>, size: u32) -> Option<CliError> {
    match res {
        Ok(n) if n == size as usize => None,
        Ok(n) => Some(CliError::ShortRead { got: n as u32, size }),
        Err(errno) => Some(CliError::OpFailed { op: "read", user_data: 0, errno }),
    }
}

pub fn owned_loop(s: &ReadSettings) -> Result<Measured, CliError> {
    let (driver, pool, fd) = setup(s)?;
    let bufs = (0..s.depth).filter_map(|_| pool.checkout()).collect::<Vec<_>>();
    if s.fixed_buffers {
        owned_rounds(s, &driver, bufs, |buf, offset| ops::ReadFixed::at(fd.clone(), buf, offset))
    } else {
        owned_rounds(s, &driver, bufs, |buf, offset| ops::Read::at(fd.clone(), buf, offset))
    }
}

fn owned_rounds<T>(
    s: &ReadSettings,
    driver: &Driver,
    mut idle: Vec<FixedBuf>,
    read: impl Fn(FixedBuf, u64) -> T,
) -> Result<Measured, CliError>
where
    T: OwnedOp<Output = (Result<usize, Errno>, FixedBuf)>,
{
    let (size, depth, batch, ops) = (s.size, s.depth, s.batch, s.ops);
    let mut reads = OpSet::new(driver);
    let mut offsets = super::read::Offsets::new(s);
    let mut ticker = Ticker::new(ops);
    let (mut inflight, mut issued, mut done, mut enters) = (0u32, 0u64, 0u64, 0u64);
    let mut failure = None;
    let clock = Clock::start();
    while done < ops {
        let prep = if failure.is_some() {
            0
        } else {
            (depth - inflight).min(batch).min((ops - issued).min(batch as u64) as u32)
        };
        for _ in 0..prep {
            let Some(buf) = idle.pop() else { break };
            reads
                .submit(read(buf, offsets.next_offset()), 0)
                .map_err(|r| CliError::Ring { call: "submit", source: r.error })?;
            inflight += 1;
            issued += 1;
        }
        // As the core loop: no wait while filling up to `depth`, then a
        // batch of completions per enter.
        let want = if prep > 0 && inflight + prep <= depth { 0 } else { inflight.min(batch) };
        reads
            .wait(want as usize, |_, (res, buf)| {
                if let Some(e) = check(res, size) {
                    failure.get_or_insert(e);
                }
                idle.push(buf);
                inflight -= 1;
                done += 1;
            })
            .map_err(|source| CliError::Ring { call: "OpSet::wait", source })?;
        enters += 1;
        if failure.is_some() && inflight == 0 {
            break;
        }
        ticker.at(done);
    }
    clock.stop(&ticker, done, enters, failure)
}

pub fn async_loop(s: &ReadSettings) -> Result<Measured, CliError> {
    let runtime = current_thread_runtime()?;
    runtime.block_on(async {
        let (driver, pool, fd) = setup(s)?;
        let uring = ringwise_tokio::Uring::from_driver(driver)
            .map_err(|source| CliError::Runtime { what: "drive the ring from tokio", source })?;
        let offsets = Arc::new(Mutex::new(super::read::Offsets::new(s)));
        let issued = Arc::new(AtomicU64::new(0));
        let mut ticker = Ticker::new(s.ops);
        let clock = Clock::start();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..s.depth {
            let Some(buf) = pool.checkout() else { break };
            let (offsets, issued, ops) = (offsets.clone(), issued.clone(), s.ops);
            let next = move || {
                (issued.fetch_add(1, Ordering::Relaxed) < ops)
                    .then(|| offsets.lock().map(|mut o| o.next_offset()).unwrap_or(0))
            };
            tasks.spawn(read_task(uring.clone(), fd.clone(), buf, (s.size, s.fixed_buffers), next));
        }
        let (done, failure) = join_reads(tasks, &mut ticker).await;
        clock.stop(&ticker, done, 0, failure)
    })
}

/// The `async` loop's tasks on a `LocalSet`, on a driver for one thread.
pub fn async_local_loop(s: &ReadSettings) -> Result<Measured, CliError> {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    let runtime = current_thread_runtime()?;
    let local = tokio::task::LocalSet::new();
    runtime.block_on(local.run_until(async {
        let (driver, pool, fd) = setup_with(s, Driver::<Local>::local_from_ring)?;
        let uring = ringwise_tokio::LocalUring::from_local_driver(driver, &local)
            .map_err(|source| CliError::Runtime { what: "drive the ring from tokio", source })?;
        let offsets = Rc::new(RefCell::new(super::read::Offsets::new(s)));
        let issued = Rc::new(Cell::new(0u64));
        let mut ticker = Ticker::new(s.ops);
        let clock = Clock::start();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..s.depth {
            let Some(buf) = pool.checkout() else { break };
            let (offsets, issued, ops) = (offsets.clone(), issued.clone(), s.ops);
            let next = move || (issued.replace(issued.get() + 1) < ops).then(|| offsets.borrow_mut().next_offset());
            tasks.spawn_local(read_task(uring.clone(), fd.clone(), buf, (s.size, s.fixed_buffers), next));
        }
        let (done, failure) = join_reads(tasks, &mut ticker).await;
        clock.stop(&ticker, done, 0, failure)
    }))
}

/// The async loops' runtime: tokio's `current_thread`, with I/O.
fn current_thread_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|source| CliError::Runtime { what: "start a tokio runtime", source })
}

/// One task of the async loops: reads of `size` bytes (`READ_FIXED` if
/// `fixed`) into `buf` at the offsets `next` gives, one at a time, until it
/// gives none; returns how many.
async fn read_task<S: Sharing>(
    uring: ringwise_tokio::Uring<S>,
    fd: Fd,
    mut buf: FixedBuf,
    (size, fixed): (u32, bool),
    mut next: impl FnMut() -> Option<u64>,
) -> Result<u64, CliErrorOrRing> {
    let mut done = 0u64;
    while let Some(offset) = next() {
        let (res, back) = if fixed {
            uring.submit(ops::ReadFixed::at(fd.clone(), buf, offset)).map_err(|r| r.error)?.await
        } else {
            uring.submit(ops::Read::at(fd.clone(), buf, offset)).map_err(|r| r.error)?.await
        };
        buf = back;
        if let Some(e) = check(res, size) {
            return Err(CliErrorOrRing::Cli(e));
        }
        done += 1;
    }
    Ok(done)
}

/// Wait for every read task: the reads they did, and the first failure.
async fn join_reads(
    mut tasks: tokio::task::JoinSet<Result<u64, CliErrorOrRing>>,
    ticker: &mut Ticker,
) -> (u64, Option<CliError>) {
    let mut done = 0;
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(n)) => done += n,
            Ok(Err(e)) => {
                failure.get_or_insert(e.into_cli());
            }
            Err(e) => {
                failure.get_or_insert(CliError::Runtime {
                    what: "run a read task",
                    source: std::io::Error::other(e.to_string()),
                });
            }
        }
        ticker.at(done);
    }
    (done, failure)
}

/// A read task's failure: a bad read, or the ring refusing the op.
enum CliErrorOrRing {
    Cli(CliError),
    Ring(ringwise::Error),
}

impl From<ringwise::Error> for CliErrorOrRing {
    fn from(e: ringwise::Error) -> CliErrorOrRing {
        CliErrorOrRing::Ring(e)
    }
}

impl CliErrorOrRing {
    fn into_cli(self) -> CliError {
        match self {
            CliErrorOrRing::Cli(e) => e,
            CliErrorOrRing::Ring(source) => CliError::Ring { call: "submit", source },
        }
    }
}
