use ringwise::op::Nop;
use ringwise::{Arena, Builder, Cqe16, Cqe32, CqeMixed, Mapping, Pages, Ring, Sqe128, Sqe64};

fn nop_round_trip<S: ringwise::SqeSize, C: ringwise::CqeSize>(ring: &mut Ring<S, C>, n: u64) {
    for i in 0..n {
        ring.submission().push(Nop::new().user_data(i)).unwrap();
    }
    let s = ring.submit_and_wait(n as u32).unwrap();
    assert_eq!(s.consumed as u64, n);
    assert_eq!(s.remaining, 0);
    let got: Vec<u64> = ring.completions().unwrap().map(|c| C::base(&c).user_data).collect();
    assert_eq!(got, (0..n).collect::<Vec<_>>());
}

#[test]
fn kernel_memory_nops() {
    let mut ring = Ring::new(8).unwrap();
    nop_round_trip(&mut ring, 8);
    nop_round_trip(&mut ring, 5);
    assert!(ring.registered_index().is_some());
}

#[test]
fn caller_memory_nops() {
    let b = Builder::<Sqe128, Cqe32>::new(16);
    let layout = b.layout().unwrap();
    let m = Mapping::anonymous(layout.total_bytes()).unwrap();
    let mut ring = b.build_in(m).unwrap();
    for _ in 0..10 {
        nop_round_trip(&mut ring, 16);
    }
}

#[test]
fn arena_rings() {
    let mut arena = Arena::new(1 << 21, Pages::Huge).unwrap();
    let mut rings = Vec::new();
    for _ in 0..4 {
        let b = Builder::<Sqe64, CqeMixed>::new(32);
        let c = arena.carve(&b.layout().unwrap()).unwrap();
        rings.push(b.build_in(c).unwrap());
    }
    for r in &mut rings {
        nop_round_trip(r, 32);
    }
    let _ = <Cqe16 as ringwise::CqeSize>::NAME;
}
