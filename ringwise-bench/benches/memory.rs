//! Where the ring lives: kernel-mapped vs library-allocated normal pages vs
//! 2 MiB huge pages (`IORING_SETUP_NO_MMAP`), ringwise NOPs at batch 1 and 32,
//! default and fast flags. Huge pages need some reserved
//! (`echo 4 > /proc/sys/vm/nr_hugepages`); without them the "huge" ring falls
//! back to normal pages and the bench says so.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringwise_bench::ringwise_client::{Memory, Ringwise};
use ringwise_bench::{nop_checksum, Mode, NopClient};
use std::time::Duration;

fn memory(c: &mut Criterion) {
    for mode in Mode::ALL {
        for batch in [1u32, 32] {
            let mut group = c.benchmark_group(format!("memory/{mode}/batch{batch}"));
            group.throughput(Throughput::Elements(batch as u64));
            for memory in Memory::ALL {
                let mut client = match Ringwise::open(256, mode, memory) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("memory/{}: {e}", memory.name());
                        continue;
                    }
                };
                let note = client.memory_note();
                let id = if memory == Memory::Huge && !note.contains("on 2 MiB huge pages") {
                    eprintln!("memory/huge: {note}");
                    "huge-fell-back-to-normal-pages"
                } else {
                    memory.name()
                };
                group.bench_function(BenchmarkId::from_parameter(id), |b| {
                    b.iter_custom(|rounds| {
                        let want = nop_checksum(batch, rounds);
                        common::timed(id, "completions lost or invented", want, || client.nop_rounds(batch, rounds))
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
        targets = memory
    }
}
criterion_main!(group::benches);
