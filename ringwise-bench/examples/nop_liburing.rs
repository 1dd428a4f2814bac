//! `nop_liburing OPS [BATCH] [default|fast]`: NOPs through C liburing.
use ringwise_bench::c::Liburing;
use ringwise_bench::{example_args, run_example};

fn main() {
    let (ops, batch, mode) = example_args();
    match Liburing::open(256, mode) {
        Ok(mut c) => run_example(&mut c, ops, batch),
        Err(e) => eprintln!("liburing: {e}"),
    }
}
