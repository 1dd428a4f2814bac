//! 4 KiB buffered reads at queue depth 32 from a warm 64 MiB temporary file:
//! ringwise, the `io-uring` crate, C liburing (and the raw C floor for
//! reference). Each round submits 32 reads and waits for all 32. Elements =
//! reads.

mod common;
#[path = "../clients/iouring_crate.rs"]
mod iouring_crate;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringwise_bench::c::CReader;
use ringwise_bench::ringwise_client::{Memory, RingwiseReader};
use ringwise_bench::workload::ReadFile;
use ringwise_bench::{read_checksum, Mode, ReadClient, Unavailable};
use std::time::Duration;

const SIZE: u32 = 4096;
const DEPTH: u32 = 32;

fn open(client: &str, file: &ReadFile) -> Result<Box<dyn ReadClient>, Unavailable> {
    let f = file.clone();
    Ok(match client {
        "raw" => Box::new(CReader::raw(f, Mode::Default)?),
        "liburing" => Box::new(CReader::liburing(f, Mode::Default)?),
        "io-uring" => Box::new(iouring_crate::IoUringCrateReader::new(f, Mode::Default)?),
        _ => Box::new(RingwiseReader::new(f, Mode::Default, Memory::Kernel)?),
    })
}

fn read(c: &mut Criterion) {
    let file = match ReadFile::temp(64 << 20, SIZE, DEPTH) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("skipped: cannot create the temporary file: {e}");
            return;
        }
    };
    let mut group = c.benchmark_group(format!("read{SIZE}/qd{DEPTH}"));
    group.throughput(Throughput::Elements(DEPTH as u64));
    for name in ["raw", "liburing", "io-uring", "ringwise"] {
        let mut client = match open(name, &file) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("read/{name}: {e}");
                continue;
            }
        };
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|rounds| {
                let want = read_checksum(DEPTH, SIZE, rounds);
                common::timed(name, "short or lost reads", want, || client.read_rounds(rounds))
            })
        });
    }
    group.finish();
}

// In a private module: `criterion_group!` makes a `pub fn`, which would
// otherwise be a public item of this bench crate without a doc.
mod group {
    use super::*;

    criterion_group! {
        name = benches;
        config = common::config(Duration::from_secs(3));
        targets = read
    }
}
criterion_main!(group::benches);
