//! Setup parameters the kernel would refuse (zero or too many entries, CQ
//! smaller than SQ, conflicting, unknown or unsupported flags) never panic
//! and never reach the kernel: each case returns the typed error, with the
//! numbers in its message, whichever build method is used.

mod common;

use common::*;
use ringwise::{Builder, Cqe16, Cqe32, CqeMixed, Error, Mapping, Pages, SetupFlags, Sqe128, Sqe64, SqeMixed};
use std::time::Duration;

type B = Builder<Sqe64, Cqe16>;

/// The error must come from ringwise, not from the kernel, and its message
/// must contain every one of `numbers`.
fn refused(err: Error, numbers: &[&str]) -> Error {
    assert!(!matches!(err, Error::Kernel { .. }), "must be refused before the syscall: {err:?}");
    let msg = err.to_string();
    for n in numbers {
        assert!(msg.contains(n), "{msg:?} must contain {n}");
    }
    err
}

/// Try all three ways of building; each must give the same kind of error.
fn all_builds(b: B) -> Vec<Error> {
    let mut errs = vec![b.clone().build().unwrap_err(), b.clone().build_allocated(Pages::Normal).unwrap_err()];
    errs.push(b.build_in(Mapping::anonymous(1 << 20).unwrap()).unwrap_err());
    errs
}

#[test]
fn zero_entries() {
    for err in all_builds(B::new(0)) {
        let err = refused(err, &["at least 1"]);
        assert!(matches!(err, Error::ZeroEntries), "{err:?}");
        assert_eq!(err.errno_name(), "EINVAL");
    }
    assert!(matches!(B::new(0).layout(), Err(Error::ZeroEntries)));
}

#[test]
fn huge_entries() {
    for requested in [32769u32, 100_000, u32::MAX] {
        for err in all_builds(B::new(requested)) {
            let err = refused(err, &[&requested.to_string(), "32768", "CLAMP"]);
            assert!(matches!(err, Error::TooManyEntries { requested: r, max: 32768 } if r == requested), "{err:?}");
        }
    }
    for requested in [65537u32, u32::MAX] {
        for err in all_builds(B::new(8).cq_entries(requested)) {
            let err = refused(err, &[&requested.to_string(), "65536"]);
            assert!(matches!(err, Error::TooManyCqEntries { requested: r, max: 65536 } if r == requested), "{err:?}");
        }
    }
    // With CLAMP the same counts work.
    let ring = B::new(u32::MAX).cq_entries(u32::MAX).clamp().build().unwrap();
    assert_eq!((ring.params().sq_entries, ring.params().cq_entries), (32768, 65536));
}

#[test]
fn cq_smaller_than_sq_and_cq_zero() {
    for err in all_builds(B::new(64).cq_entries(10)) {
        let err = refused(err, &["16", "64"]);
        assert!(matches!(err, Error::CqSmallerThanSq { cq: 16, sq: 64 }), "{err:?}");
    }
    for err in all_builds(B::new(8).cq_entries(0)) {
        let err = refused(err, &["CQ entries"]);
        assert!(matches!(err, Error::ZeroCqEntries), "{err:?}");
    }
    // CQSIZE by hand without a count.
    let err = B::new(8).setup_flags(SetupFlags::CQSIZE).build().unwrap_err();
    assert!(matches!(refused(err, &[]), Error::ZeroCqEntries));
    // A mixed CQ needs two slots for a big CQE.
    let err = Builder::<Sqe64, CqeMixed>::new(1).cq_entries(1).build().unwrap_err();
    let err = refused(err, &["2", "1", "EOVERFLOW"]);
    assert!(matches!(err, Error::MixedCqTooSmall { cq: 1 }), "{err:?}");
}

#[test]
fn conflicting_and_unknown_flags() {
    let cases: Vec<(B, &[&str])> = vec![
        (B::new(8).sqpoll(Duration::from_millis(1)).coop_taskrun(), &["SQPOLL", "COOP_TASKRUN"]),
        (B::new(8).sqpoll(Duration::from_millis(1)).single_issuer().defer_taskrun(), &["SQPOLL", "DEFER_TASKRUN"]),
        (B::new(8).sq_thread_cpu(1), &["SQ_AFF", "SQPOLL"]),
        (B::new(8).taskrun_flag(), &["TASKRUN_FLAG"]),
        (B::new(8).defer_taskrun(), &["DEFER_TASKRUN", "SINGLE_ISSUER"]),
        (B::new(8).setup_flags(SetupFlags::HYBRID_IOPOLL), &["HYBRID_IOPOLL", "IOPOLL"]),
        (B::new(8).setup_flags(SetupFlags::from_bits_retain(1 << 30)), &["0x40000000"]),
        (B::new(8).setup_flags(SetupFlags::SQE128), &["SQE128"]),
        (B::new(8).setup_flags(SetupFlags::CQE32 | SetupFlags::CQE_MIXED), &["CQE32", "CQE_MIXED"]),
    ];
    for (b, names) in cases {
        for err in all_builds(b) {
            let err = refused(err, names);
            assert_eq!(err.errno_name(), "EINVAL", "{err}");
        }
    }
    let err = Builder::<Sqe128, Cqe32>::new(8).setup_flags(SetupFlags::CQE_MIXED).build().unwrap_err();
    refused(err, &["CQE_MIXED"]);
    // Kernel memory cannot be REGISTERED_FD_ONLY.
    let err = B::new(8).registered_fd_only().build().unwrap_err();
    assert!(matches!(refused(err, &["REGISTERED_FD_ONLY", "NO_MMAP"]), Error::MissingCompanion { .. }));
    // NO_MMAP by hand with kernel memory would hand the kernel address 0.
    let err = B::new(8).setup_flags(SetupFlags::NO_MMAP).build().unwrap_err();
    refused(err, &["NO_MMAP", "build_in"]);
    // With caller memory it is what build_in sets anyway.
    let mut ring = B::new(8).setup_flags(SetupFlags::NO_MMAP).build_allocated(Pages::Normal).unwrap();
    assert!(ring.setup_flags().contains(SetupFlags::NO_MMAP));
    ring.submission().push(ringwise::op::Nop::new()).unwrap();
    assert_eq!(ring.submit_and_wait(1).unwrap().consumed, 1);
}

#[test]
fn flags_this_kernel_lacks_are_explained() {
    // SQE_MIXED is newer than 6.18: the kernel refuses it, and the error
    // says which flags were asked for.
    if ringwise::probe::setup_flags_accepted(SetupFlags::SQE_MIXED) {
        skip("this kernel accepts SQE_MIXED; nothing to refuse");
        return;
    }
    let err = Builder::<SqeMixed, Cqe16>::new(8).build().unwrap_err();
    assert!(matches!(err, Error::Kernel { call: "io_uring_setup", .. }), "{err:?}");
    assert_eq!(err.errno_name(), "EINVAL");
    assert!(err.to_string().contains("SQE_MIXED"), "{err}");
}
