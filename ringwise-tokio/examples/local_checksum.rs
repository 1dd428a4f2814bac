//! Checksum a file with 16 reads in flight on a `LocalUring`: a ring for
//! the tasks of one tokio `LocalSet` (`!Send` op futures, no lock per op),
//! shared by `spawn_local` tasks that hand out offsets through a `Cell`.
//! The result is checked against `std::fs::read` of the same file.
//!
//! ```text
//! cargo run -p ringwise-tokio --example local_checksum            # this program's binary
//! cargo run -p ringwise-tokio --example local_checksum -- FILE
//! ```

use ringwise::owned::{ops, SharedFd};
use std::cell::Cell;
use std::io;
use std::rc::Rc;

/// Bytes per read.
const CHUNK: usize = 64 * 1024;
/// Reads in flight (one per task).
const TASKS: usize = 16;

/// A checksum that does not depend on the order chunks arrive in: each
/// byte weighted by its position in the file.
fn weigh(offset: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .enumerate()
        .fold(0u64, |sum, (i, &b)| sum.wrapping_add(u64::from(b).wrapping_mul(offset + i as u64 + 1)))
}

fn main() -> io::Result<()> {
    let path = match std::env::args().nth(1) {
        Some(p) => std::path::PathBuf::from(p),
        None => std::env::current_exe()?,
    };
    let file = std::fs::File::open(&path)?;
    let len = file.metadata()?.len();
    let file = SharedFd::from(file);
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let local = tokio::task::LocalSet::new();
    let sum = local.block_on(&rt, async {
        // Inside the runtime (its reactor watches the ring); the drive task
        // runs on `local`, with the tasks below.
        let ring = ringwise_tokio::LocalUring::local(64, &local)?;
        let next = Rc::new(Cell::new(0u64));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..TASKS {
            let (ring, file, next) = (ring.clone(), file.clone(), next.clone());
            tasks.spawn_local(async move {
                let mut sum = 0u64;
                let mut buf = Vec::with_capacity(CHUNK);
                loop {
                    let offset = next.get();
                    if offset >= len {
                        return io::Result::Ok(sum);
                    }
                    next.set(offset + CHUNK as u64);
                    let want = (len - offset).min(CHUNK as u64) as usize;
                    let mut got = 0;
                    // A read may return less than asked: read the rest.
                    while got < want {
                        buf.clear();
                        let read = ops::Read::at(&file, buf, offset + got as u64);
                        let (n, b) = ring.submit(read)?.await;
                        buf = b;
                        let n = n?;
                        if n == 0 {
                            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank"));
                        }
                        sum = sum.wrapping_add(weigh(offset + got as u64, &buf[..n.min(want - got)]));
                        got += n;
                    }
                }
            });
        }
        let mut sum = 0u64;
        while let Some(task) = tasks.join_next().await {
            sum = sum.wrapping_add(task.map_err(io::Error::other)??);
        }
        io::Result::Ok(sum)
    })?;
    let expected = weigh(0, &std::fs::read(&path)?);
    println!("{}: {len} bytes, checksum {sum:016x} ({TASKS} reads of {CHUNK} bytes in flight)", path.display());
    if sum != expected {
        return Err(io::Error::other(format!("checksum {sum:016x}, but std::fs::read gives {expected:016x}")));
    }
    Ok(())
}
