//! Resizing a ring set up without `DEFER_TASKRUN` gives the kernel's answer
//! (EINVAL, as `Error::Kernel`) with a context that says what the kernel
//! needs (issue 9, item 10b), not a library-made EOPNOTSUPP.

use ringwise::op::Nop;
use ringwise::register::ResizeSpec;
use ringwise::{Error, Ring};
use rustix::io::Errno;

#[test]
fn the_kernel_refuses_with_einval_and_the_error_says_why() {
    let mut ring: Ring = Ring::new(4).expect("ring");
    let err = ring.resize(ResizeSpec::new(8)).expect_err("a ring without DEFER_TASKRUN");
    match &err {
        Error::Kernel { call, errno, context } => {
            assert_eq!((*call, *errno), ("io_uring_register", Errno::INVAL), "{err}");
            for part in ["DEFER_TASKRUN", "single_issuer().defer_taskrun()"] {
                assert!(context.contains(part), "{part:?} missing from: {context}");
            }
        }
        other => panic!("expected the kernel's EINVAL, got {other:?} ({other})"),
    }
    assert_eq!(err.errno(), Errno::INVAL);
    // The ring is untouched and still works.
    assert_eq!(ring.submission().capacity(), 4);
    ring.submission().push(Nop::new().user_data(5)).expect("room");
    assert_eq!(ring.submit_and_wait(1).expect("submit_and_wait").consumed, 1);
    assert_eq!(ring.completion().next().map(|c| c.user_data), Some(5));
}
