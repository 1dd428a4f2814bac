//! The README's tour, kept compiling and running: `cargo run --example tour`.

use ringwise::op::Nop;
use ringwise::{Arena, Builder, Cqe16, Cqe32, Mapping, Pages, Ring, Sqe128, Sqe64};

fn main() -> Result<(), ringwise::Error> {
    // A ring in kernel memory (the default).
    let mut ring = Ring::new(64)?;
    ring.submission().push(Nop::new().user_data(42)).expect("an empty SQ has room");
    ring.submit_and_wait(1)?;
    for cqe in ring.completions()? {
        assert_eq!(cqe.user_data, 42);
    }

    // The exact memory a ring with 128-byte SQEs and 32-byte CQEs needs.
    let builder = Builder::<Sqe128, Cqe32>::new(256).single_issuer().defer_taskrun();
    let layout = builder.layout()?;
    println!("{} bytes of rings + {} bytes of SQEs", layout.rings_bytes(), layout.sqes_bytes());

    // The same ring in memory ringwise maps, on 2 MiB huge pages when it can.
    let ring = builder.clone().build_allocated(Pages::Huge)?;
    println!("allocated: {}", ring.memory_report().kind);
    drop(ring);

    // Or in your own memory.
    let memory = Mapping::anonymous(layout.total_bytes())?;
    let ring = builder.build_in(memory)?;
    println!("caller memory: {}", ring.memory_report().kind);

    // Several rings carved from one 2 MiB buffer.
    let mut arena = Arena::new(2 << 20, Pages::Huge)?;
    let mut rings = Vec::new();
    for _ in 0..8 {
        let b = Builder::<Sqe64, Cqe16>::new(32);
        let carve = arena.carve(&b.layout()?)?;
        rings.push(b.build_in(carve)?);
    }
    println!("{} rings in {} of {} bytes", rings.len(), arena.used(), arena.capacity());

    // Too little memory is refused before any syscall.
    let small = Mapping::anonymous(4096)?;
    match Builder::<Sqe64, Cqe16>::new(128).build_in(small) {
        Err(e) => println!("refused: {e}"),
        Ok(_) => unreachable!("a 128-entry ring does not fit in one page"),
    }
    Ok(())
}
