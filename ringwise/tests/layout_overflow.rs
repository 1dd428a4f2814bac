//! Layout arithmetic cannot overflow: entry counts and page sizes at the
//! top of their ranges give typed errors, not wrapped sizes or panics. (The
//! size rules themselves are property-tested in `layout_props.rs`.)

mod common;

use ringwise::layout::{Layout, RingSpec};
use ringwise::{Arena, Error, Mapping, Pages};

#[test]
fn huge_sizes_do_not_overflow() {
    let mut arena = Arena::new(1 << 16, Pages::Normal).unwrap();
    let err = arena.carve_bytes(usize::MAX).unwrap_err();
    assert!(matches!(err, Error::ArenaExhausted { .. }), "{err:?}");
    assert!(Mapping::anonymous(usize::MAX).is_err());
    assert!(Mapping::allocate(usize::MAX - 4096, Pages::Huge).is_err());
}

#[test]
fn layout_with_a_page_size_near_usize_max_is_an_error_not_an_overflow() {
    // 2^63-byte pages: each region rounds to 2^63 and the sum to 2^64.
    let err = Layout::compute(&RingSpec::new(8), 1 << (usize::BITS - 1)).expect_err("regions overflow usize");
    assert!(err.to_string().contains(&(1usize << (usize::BITS - 1)).to_string()), "{err}");
    // 2^62: the sum is 2^63, which fits.
    let l = Layout::compute(&RingSpec::new(8), 1 << (usize::BITS - 2)).expect("fits");
    assert_eq!(l.total_bytes(), 1 << (usize::BITS - 1));
}
