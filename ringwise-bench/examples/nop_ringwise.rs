//! `nop_ringwise OPS [BATCH] [default|fast]`: NOPs through ringwise, for
//! `valgrind --tool=callgrind` instruction counts (see README.md).
use ringwise_bench::ringwise_client::{Memory, Ringwise};
use ringwise_bench::{example_args, run_example};

fn main() {
    let (ops, batch, mode) = example_args();
    let mut c = Ringwise::open(256, mode, Memory::Kernel).unwrap_or_else(|e| panic!("{e}"));
    run_example(&mut c, ops, batch);
}
