//! `nop_raw OPS [BATCH] [default|fast]`: NOPs through the raw-syscall C floor.
use ringwise_bench::c::Raw;
use ringwise_bench::{example_args, run_example};

fn main() {
    let (ops, batch, mode) = example_args();
    let mut c = Raw::open(256, mode).unwrap_or_else(|e| panic!("{e}"));
    run_example(&mut c, ops, batch);
}
