//! The cost of one owned read on each path, for callgrind: N reads of 4 KiB
//! from a warm (page-cached) file, one at a time, through
//!
//! * `sync`: `driver.submit(read)?.wait()` (one `io_uring_enter` per read);
//! * `block_on`: `.await` inside ringwise's own `Driver::block_on`;
//! * `tokio`: `.await` on a tokio `current_thread` runtime, the ring driven
//!   by `ringwise_tokio`'s drive task;
//! * `tokio-spawn`: the same in a spawned task (`block_on` only awaits its
//!   join handle): tokio's scheduler then runs the task woken by the ring
//!   without first polling its reactor, as it does between polls of the
//!   `block_on` future;
//! * `tokio-batch`: as `tokio`, 32 reads in flight at a time (submitted
//!   together, awaited in order).
//!
//! ```text
//! cargo build --release -p ringwise-tokio --example read_cost
//! valgrind --tool=callgrind target/release/examples/read_cost tokio 1000
//! valgrind --tool=callgrind target/release/examples/read_cost tokio 11000
//! ```
//!
//! The difference of the two totals divided by 10000 is the per-read cost
//! of the path, setup and teardown subtracted out.

use ringwise::owned::{ops, Driver, SharedFd};
use std::io;

const BLOCK: usize = 4096;
const BLOCKS: u64 = 256;

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("sync", String::as_str).to_owned();
    let n: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);

    let path = std::env::temp_dir().join(format!("ringwise-tokio-read-cost-{}", std::process::id()));
    std::fs::write(&path, vec![7u8; BLOCK * BLOCKS as usize])?;
    let file = SharedFd::from(std::fs::File::open(&path)?);
    std::fs::remove_file(&path)?;
    let offset = |i: u64| (i % BLOCKS) * BLOCK as u64;

    let mut total = 0usize;
    match mode.as_str() {
        "sync" => {
            let driver = Driver::new(64)?;
            let mut buf = Vec::with_capacity(BLOCK);
            for i in 0..n {
                buf.clear();
                let (res, b) = driver.submit(ops::Read::at(&file, buf, offset(i)))?.wait()?;
                total += res?;
                buf = b;
            }
        }
        "block_on" => {
            let driver = Driver::new(64)?;
            total = driver.block_on(async {
                let mut total = 0;
                let mut buf = Vec::with_capacity(BLOCK);
                for i in 0..n {
                    buf.clear();
                    let (res, b) = driver.submit(ops::Read::at(&file, buf, offset(i)))?.await;
                    total += res?;
                    buf = b;
                }
                Ok::<_, io::Error>(total)
            })??;
        }
        "tokio" | "tokio-spawn" | "tokio-batch" => {
            let batch = if mode == "tokio-batch" { 32 } else { 1 };
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let work = async move {
                let ring = ringwise_tokio::Uring::new(64)?;
                let mut total = 0;
                let mut bufs: Vec<Vec<u8>> = (0..batch).map(|_| Vec::with_capacity(BLOCK)).collect();
                let mut ops_ = Vec::with_capacity(batch);
                let mut i = 0;
                while i < n {
                    let k = (batch as u64).min(n - i);
                    for j in 0..k {
                        let mut buf = bufs.pop().unwrap_or_default();
                        buf.clear();
                        ops_.push(ring.submit(ops::Read::at(&file, buf, offset(i + j)))?);
                    }
                    for op in ops_.drain(..) {
                        let (res, b) = op.await;
                        total += res?;
                        bufs.push(b);
                    }
                    i += k;
                }
                Ok::<_, io::Error>(total)
            };
            total = if mode == "tokio-spawn" {
                rt.block_on(async { tokio::spawn(work).await.map_err(io::Error::other) })??
            } else {
                rt.block_on(work)?
            };
        }
        other => {
            eprintln!("unknown mode {other}: sync, block_on, tokio, tokio-spawn or tokio-batch");
            std::process::exit(2);
        }
    }
    assert_eq!(total, n as usize * BLOCK);
    println!("{mode}: {n} reads, {total} bytes");
    Ok(())
}
