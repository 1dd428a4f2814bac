//! Owned reads against the unsafe core, same loop shape, same buffers:
//! 4 KiB buffered reads at a constant queue depth from a warm file,
//! interleaved rounds; prints ops/s per API and the median per-round
//! ratios. The owned loop runs twice, naming the file by an `Fd::Static`
//! and by a `SharedFd` (whose `Arc` each read clones and drops).
//!
//!   cargo run --release -p ringwise-bench --example read_apis -- [FILE] [ROUNDS] [OPS] [API]
//!
//! FILE defaults to a 64 MiB temporary file; API (`core`, `owned` or
//! `owned-shared`) runs only that loop once (for callgrind).

use ringwise::op::{Read, Target};
use ringwise::owned::{ops, Driver, Fd, OpSet, SharedFd};
use ringwise::Ring;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Instant;

const SIZE: usize = 4096;
const DEPTH: u64 = 32;

fn core(file: &std::fs::File, pieces: u64, ops: u64) -> f64 {
    let mut ring: Ring = Ring::new(64).unwrap();
    let mut bufs: Vec<Vec<u8>> = (0..DEPTH).map(|_| vec![0u8; SIZE]).collect();
    // SAFETY: `file` outlives the ring's use of it: every CQE is reaped below.
    let fd = unsafe { Target::fd(file.as_raw_fd()) };
    let mut next = 0u64;
    let start = Instant::now();
    for (i, buf) in bufs.iter_mut().enumerate() {
        let op = Read::new(fd, buf.as_mut_ptr(), SIZE as u32).offset(next % pieces * SIZE as u64).user_data(i as u64);
        // SAFETY: buffer i is only touched again after its CQE.
        unsafe { ring.submission().push_unchecked(op) }.unwrap();
        next += 1;
    }
    let mut done = 0;
    while done < ops {
        ring.submit_and_wait(1).unwrap();
        let mut again = [0u64; DEPTH as usize];
        let mut n = 0;
        for cqe in ring.completion().drain() {
            assert_eq!(cqe.res, SIZE as i32);
            again[n] = cqe.user_data;
            n += 1;
        }
        done += n as u64;
        let mut sq = ring.submission();
        for &i in &again[..n] {
            let buf = bufs[i as usize].as_mut_ptr();
            let op = Read::new(fd, buf, SIZE as u32).offset(next % pieces * SIZE as u64).user_data(i);
            // SAFETY: as above.
            unsafe { sq.push_unchecked(op) }.unwrap();
            next += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    ring.submit_and_wait(DEPTH as u32).unwrap();
    done as f64 / secs
}

fn owned(file: &Fd, pieces: u64, ops: u64) -> f64 {
    let driver = Driver::new(64).unwrap();
    let mut set = OpSet::new(&driver);
    let mut next = 0u64;
    let start = Instant::now();
    for i in 0..DEPTH {
        set.submit(ops::Read::at(file.clone(), vec![0u8; SIZE], next % pieces * SIZE as u64), i).unwrap();
        next += 1;
    }
    let mut done = 0;
    let mut spare = Vec::with_capacity(DEPTH as usize);
    while done < ops {
        set.wait(1, |_, (res, buf)| {
            assert_eq!(res, Ok(SIZE));
            spare.push(buf);
        })
        .unwrap();
        done += spare.len() as u64;
        for buf in spare.drain(..) {
            set.submit(ops::Read::at(file.clone(), buf, next % pieces * SIZE as u64), 0).unwrap();
            next += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    done as f64 / secs
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let tmp;
    let path = match args.get(1).filter(|a| !a.is_empty() && *a != "-") {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            tmp = std::env::temp_dir().join(format!("ringwise-read-apis-{}", std::process::id()));
            std::fs::write(&tmp, vec![7u8; 64 << 20]).unwrap();
            tmp.clone()
        }
    };
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let ops: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(400_000);
    let only = args.get(4).cloned();
    let file = std::fs::File::open(&path).unwrap();
    let pieces = file.metadata().unwrap().len() / SIZE as u64;
    // The owned loop names the file two ways: a `BorrowedFd<'static>` (the
    // file, leaked, is open for the process) and a `SharedFd` (an `Arc`
    // cloned and dropped per read).
    let open_for_life: &'static std::fs::File = Box::leak(Box::new(file.try_clone().unwrap()));
    let forever = Fd::from(open_for_life.as_fd());
    let shared = Fd::from(SharedFd::from(file.try_clone().unwrap()));
    match only.as_deref() {
        Some("core") => {
            println!("core {:.0}", core(&file, pieces, ops));
            return;
        }
        Some("owned") => {
            println!("owned {:.0}", owned(&forever, pieces, ops));
            return;
        }
        Some("owned-shared") => {
            println!("owned-shared {:.0}", owned(&shared, pieces, ops));
            return;
        }
        _ => {}
    }
    // Per round: core, owned (static fd), owned (SharedFd), the order
    // rotating; ratios to the same round's core.
    let (mut c, mut o, mut s, mut ro, mut rs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut got = [0.0f64; 3];
        for k in 0..3 {
            let which = (k + round) % 3;
            got[which] = match which {
                0 => core(&file, pieces, ops),
                1 => owned(&forever, pieces, ops),
                _ => owned(&shared, pieces, ops),
            };
        }
        c.push(got[0]);
        o.push(got[1]);
        s.push(got[2]);
        ro.push(got[1] / got[0]);
        rs.push(got[2] / got[0]);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    println!(
        "core {:.3} M/s, owned {:.3} M/s (static fd), owned {:.3} M/s (SharedFd); owned/core median per-round ratio \
         {:.3} (static fd), {:.3} (SharedFd) ({rounds} rounds of {ops} reads, QD {DEPTH}, {SIZE} B)",
        med(&mut c) / 1e6,
        med(&mut o) / 1e6,
        med(&mut s) / 1e6,
        med(&mut ro),
        med(&mut rs)
    );
    if only.is_none() && args.get(1).map_or(true, |a| a.is_empty() || a == "-") {
        let _ = std::fs::remove_file(&path);
    }
}
