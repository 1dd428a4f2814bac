//! `cp` and `cat` on owned I/O, synchronously and without `unsafe`: the
//! buffers move into the ops and come back with the results.
//!
//! - `cp SRC DST`: open both through the ring (`OpenAt`), size the source
//!   (`Statx`), then keep up to `DEPTH` chunk reads in flight; each chunk
//!   that arrives goes straight out as a write at the same offset, and its
//!   buffer returns to the reads when the write completes. Two
//!   [`OpSet`]s hold the ops in flight.
//! - `cat FILE...`: the same reads, written to standard output in order.
//!
//! Run: `cargo run --release -p ringwise --example cp -- cp SRC DST` or
//! `cargo run --release -p ringwise --example cp -- cat FILE...`.

use ringwise::op::{Mode, OFlags};
use ringwise::owned::{ops, Driver, OpSet, SharedFd};
use std::collections::BTreeMap;
use std::error::Error;
use std::io::Write as _;
use std::os::fd::AsFd;

/// Bytes per read.
const CHUNK: usize = 128 * 1024;
/// Reads in flight.
const DEPTH: usize = 8;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn open(driver: &Driver, path: &str, flags: OFlags) -> Result<SharedFd> {
    let fd = driver.submit(ops::OpenAt::path(path, flags, Mode::from_bits_truncate(0o644)))?.wait()?;
    Ok(SharedFd::from(fd.map_err(|e| format!("{path}: {e}"))?))
}

fn size(driver: &Driver, fd: &SharedFd) -> Result<u64> {
    Ok(driver.submit(ops::Statx::fd(fd))?.wait()??.stx_size)
}

/// Read `src` in chunks, `DEPTH` at a time, handing each chunk (offset,
/// bytes) to `sink` in offset order. `sink` keeps the buffer (a write owns
/// it until its completion); a new one takes its place among the reads.
fn copy(driver: &Driver, src: &SharedFd, len: u64, mut sink: impl FnMut(u64, Vec<u8>) -> Result<()>) -> Result<()> {
    let mut reads = OpSet::new(driver);
    let mut next = 0u64;
    let mut spare: Vec<Vec<u8>> = (0..DEPTH).map(|_| Vec::with_capacity(CHUNK)).collect();
    let mut arrived = BTreeMap::new();
    let mut emitted = 0u64;
    while emitted < len {
        while next < len {
            let Some(mut buf) = spare.pop() else { break };
            buf.clear();
            reads.submit(ops::Read::at(src, buf, next), next)?;
            next += CHUNK as u64;
        }
        let mut failed = None;
        reads.wait(1, |offset, (res, buf)| match res {
            Ok(_) => {
                arrived.insert(offset, buf);
            }
            Err(e) => failed = Some(format!("read at {offset}: {e}")),
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        // Hand chunks on in order; a short read ends the file early.
        while let Some(buf) = arrived.remove(&emitted) {
            let n = buf.len() as u64;
            let at = emitted;
            emitted = if n == 0 { len } else { emitted + n };
            if n > 0 {
                sink(at, buf)?;
            }
            spare.push(Vec::with_capacity(CHUNK));
        }
    }
    Ok(())
}

fn cp(src: &str, dst: &str) -> Result<()> {
    let driver = Driver::new(2 * DEPTH as u32)?;
    let from = open(&driver, src, OFlags::RDONLY)?;
    let to = open(&driver, dst, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC)?;
    let len = size(&driver, &from)?;
    let mut writes = OpSet::new(&driver);
    copy(&driver, &from, len, |offset, buf| {
        writes.submit(ops::Write::at(&to, buf, offset), offset)?;
        // Keep at most DEPTH writes in flight.
        let mut failed = None;
        writes.wait(writes.len().saturating_sub(DEPTH), |offset, (res, buf)| {
            if res != Ok(buf.len()) {
                failed = Some(format!("write at {offset}: {res:?}"));
            }
        })?;
        failed.map_or(Ok(()), |e| Err(e.into()))
    })?;
    let mut failed = None;
    while !writes.is_empty() {
        writes.wait(1, |offset, (res, buf)| {
            if res != Ok(buf.len()) {
                failed = Some(format!("write at {offset}: {res:?}"));
            }
        })?;
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    driver.submit(ops::Fsync::new(&to))?.wait()??;
    eprintln!("cp: {len} bytes from {src} to {dst}");
    Ok(())
}

fn cat(paths: &[String]) -> Result<()> {
    let driver = Driver::new(2 * DEPTH as u32)?;
    // Our own descriptor for standard output (a duplicate), owned by the op
    // that writes to it.
    let stdout = SharedFd::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    std::io::stdout().flush()?;
    for path in paths {
        let file = open(&driver, path, OFlags::RDONLY)?;
        let len = size(&driver, &file)?;
        copy(&driver, &file, len, |_, mut buf| {
            // Writes to a pipe or terminal may be short: write the rest.
            while !buf.is_empty() {
                let (res, back) = driver.submit(ops::Write::new(&stdout, buf))?.wait()?;
                let n = res?;
                buf = back;
                buf.drain(..n);
            }
            Ok(())
        })?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("cp") if args.len() == 3 => cp(&args[1], &args[2]),
        Some("cat") if args.len() >= 2 => cat(&args[1..]),
        _ => Err("usage: cp SRC DST | cat FILE...".into()),
    }
}
