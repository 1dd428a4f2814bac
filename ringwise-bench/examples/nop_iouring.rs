//! `nop_iouring OPS [BATCH] [default|fast]`: NOPs through the `io-uring` crate.
#[path = "../clients/iouring_crate.rs"]
mod iouring_crate;
use ringwise_bench::{example_args, run_example};

fn main() {
    let (ops, batch, mode) = example_args();
    let mut c = iouring_crate::IoUringCrate::open(256, mode).unwrap_or_else(|e| panic!("{e}"));
    run_example(&mut c, ops, batch);
}
