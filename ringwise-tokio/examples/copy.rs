//! An async file copy on tokio with ringwise's owned `Read`/`Write` ops:
//! several reads in flight, each chunk written as soon as it has arrived,
//! every buffer owned by its op and reused. No `unsafe`.
//!
//! ```text
//! cargo run -p ringwise-tokio --example copy -- SRC DST [CHUNK_KIB] [DEPTH]
//! ```
//!
//! CHUNK_KIB is the size of each read (default 128 KiB), DEPTH how many
//! reads are in flight at once (default 8).

use ringwise::owned::{ops, IoBuf, Op, SharedFd};
use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::time::Instant;

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: copy SRC DST [CHUNK_KIB] [DEPTH]");
        std::process::exit(2);
    }
    let number = |i: usize, default: usize| -> io::Result<usize> {
        args.get(i).map_or(Ok(default), |s| s.parse().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e)))
    };
    let (src, dst) = (PathBuf::from(&args[0]), PathBuf::from(&args[1]));
    let chunk = number(2, 128)?.max(1) * 1024;
    let depth = number(3, 8)?.max(1);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let start = Instant::now();
    let copied = rt.block_on(copy(src, dst, chunk, depth))?;
    let secs = start.elapsed().as_secs_f64();
    println!("copied {copied} bytes in {:.3} s ({:.1} MiB/s)", secs, copied as f64 / secs / (1 << 20) as f64);
    Ok(())
}

/// A read in flight: the offset it reads at, and its op.
type Pending = (u64, Op<ops::Read<Vec<u8>>>);

/// Copy `src` to `dst` in chunks of `chunk` bytes, `depth` reads in flight.
/// Returns the bytes copied.
async fn copy(src: PathBuf, dst: PathBuf, chunk: usize, depth: usize) -> io::Result<u64> {
    let src = std::fs::File::open(src)?;
    let len = src.metadata()?.len();
    let dst = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(dst)?;
    let (src, dst) = (SharedFd::from(src), SharedFd::from(dst));
    let ring = ringwise_tokio::current()?;

    let mut reads: VecDeque<Pending> = VecDeque::with_capacity(depth);
    let mut next = 0u64;
    // Start up to `depth` reads; later ones reuse the buffers of those done.
    while reads.len() < depth && next < len {
        reads.push_back((next, ring.submit(ops::Read::at(&src, Vec::with_capacity(chunk), next))?));
        next += chunk as u64;
    }
    while let Some((offset, read)) = reads.pop_front() {
        let want = chunk.min((len - offset) as usize);
        let (n, mut buf) = read.await;
        n?;
        // A read may return less than asked before the end of the file:
        // read the rest of the chunk into the rest of the buffer.
        while buf.len() < want {
            let have = buf.len();
            let (n, part) = ring.submit(ops::Read::at(&src, buf.slice(have..want), offset + have as u64))?.await;
            buf = part.into_inner();
            if n? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the source file shrank while copying"));
            }
        }
        buf.truncate(want);
        let mut buf = write_all(&dst, buf, offset).await?;
        if next < len {
            buf.clear();
            reads.push_back((next, ring.submit(ops::Read::at(&src, buf, next))?));
            next += chunk as u64;
        }
    }
    Ok(len)
}

/// Write all of `buf`'s data at `offset` of `dst` (a write may take only
/// part of it); the buffer back.
async fn write_all(dst: &SharedFd, mut buf: Vec<u8>, offset: u64) -> io::Result<Vec<u8>> {
    let ring = ringwise_tokio::current()?;
    let len = buf.len();
    let mut done = 0;
    while done < len {
        let (n, part) = ring.submit(ops::Write::at(dst, buf.slice(done..len), offset + done as u64))?.await;
        buf = part.into_inner();
        match n? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => done += n,
        }
    }
    Ok(buf)
}
