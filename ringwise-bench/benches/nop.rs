//! NOP throughput, all four clients side by side: batch 1/8/32/128 through a
//! 256-entry ring, default flags and fast flags (SINGLE_ISSUER +
//! DEFER_TASKRUN + registered ring fd). Elements = NOPs.

mod common;
#[path = "../clients/iouring_crate.rs"]
mod iouring_crate;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringwise_bench::c::{Liburing, Raw};
use ringwise_bench::ringwise_client::{Memory, Ringwise};
use ringwise_bench::{nop_checksum, Mode, NopClient, Unavailable};
use std::time::Duration;

const ENTRIES: u32 = 256;
const BATCHES: [u32; 4] = [1, 8, 32, 128];

fn open(client: &str, mode: Mode) -> Result<Box<dyn NopClient>, Unavailable> {
    Ok(match client {
        "raw" => Box::new(Raw::open(ENTRIES, mode)?),
        "liburing" => Box::new(Liburing::open(ENTRIES, mode)?),
        "io-uring" => Box::new(iouring_crate::IoUringCrate::open(ENTRIES, mode)?),
        _ => Box::new(Ringwise::open(ENTRIES, mode, Memory::Kernel)?),
    })
}

fn nop(c: &mut Criterion) {
    for mode in Mode::ALL {
        for batch in BATCHES {
            let mut group = c.benchmark_group(format!("nop/{mode}/batch{batch}"));
            group.throughput(Throughput::Elements(batch as u64));
            for name in ["raw", "liburing", "io-uring", "ringwise"] {
                let mut client = match open(name, mode) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("nop/{mode}/batch{batch}/{name}: {e}");
                        continue;
                    }
                };
                group.bench_function(BenchmarkId::from_parameter(name), |b| {
                    b.iter_custom(|rounds| {
                        let want = nop_checksum(batch, rounds);
                        common::timed(name, "completions lost or invented", want, || client.nop_rounds(batch, rounds))
                    })
                });
            }
            group.finish();
        }
    }
}

// In a private module: `criterion_group!` makes a `pub fn`, which would
// otherwise be a public item of this bench crate without a doc.
mod group {
    use super::*;

    criterion_group! {
        name = benches;
        config = common::config(Duration::from_secs(2));
        targets = nop
    }
}
criterion_main!(group::benches);
