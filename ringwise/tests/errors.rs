//! Errors are data: every Linux errno has its name, a CQE whose `res` is
//! not an errno does not panic, and setup errors name what the kernel
//! needs (the CPU of SQ_AFF, the SQPOLL needs of ATTACH_WQ, the 2 MiB huge
//! page pool).

mod common;

use common::*;
use ringwise::op::Nop;
use ringwise::{errno_name, Builder, Cqe, Cqe16, Mapping, Ring, SetupFlags, Sqe64};
use rustix::io::Errno;
use std::time::Duration;

#[test]
fn cqe_result_outside_the_errno_range_is_erange_not_a_panic() {
    // Plain values first: the method must not panic on any i32.
    for (res, want) in [
        (7, Ok(7)),
        (0, Ok(0)),
        (-22, Err(Errno::INVAL)),
        (-4095, Err(Errno::from_raw_os_error(4095))),
        (-4096, Err(Errno::RANGE)),
        (i32::MIN, Err(Errno::RANGE)),
        (i32::MAX, Ok(i32::MAX as u32)),
    ] {
        assert_eq!(Cqe { user_data: 0, res, flags: 0 }.result(), want, "res {res}");
    }
    // And from the kernel: a NOP with an injected result (Linux 6.10), a
    // safe op, so any safe caller can produce these CQEs.
    let mut ring: Ring = Ring::new(8).expect("ring");
    let injected = [-5000, i32::MIN, -22];
    for (i, &res) in injected.iter().enumerate() {
        ring.submission().push(Nop::new().inject_result(res).user_data(i as u64)).expect("room");
    }
    ring.submit_and_wait(injected.len() as u32).expect("submit");
    let cqes: Vec<Cqe> = ring.completion().drain().collect();
    assert_eq!(cqes.len(), injected.len());
    if cqes.iter().any(|c| c.res != injected[c.user_data as usize]) {
        skip(format!("this kernel does not inject NOP results (CQEs {cqes:?}); NOP_INJECT_RESULT needs Linux 6.10"));
        return;
    }
    let results: Vec<_> = cqes.iter().map(Cqe::result).collect();
    assert_eq!(results, [Err(Errno::RANGE), Err(Errno::RANGE), Err(Errno::INVAL)]);
}

#[test]
fn every_linux_errno_has_a_name() {
    // 41 and 58 are unused numbers on x86_64 and aarch64 (and every
    // architecture with the generic errno table).
    let unnamed: Vec<i32> = (1..=133)
        .filter(|n| ![41, 58].contains(n))
        .filter(|&n| errno_name(Errno::from_raw_os_error(n)) == "E?")
        .collect();
    assert!(unnamed.is_empty(), "errnos without a name: {unnamed:?}");
    for (errno, name) in [
        (Errno::CONNREFUSED, "ECONNREFUSED"),
        (Errno::PIPE, "EPIPE"),
        (Errno::TIMEDOUT, "ETIMEDOUT"),
        (Errno::CONNRESET, "ECONNRESET"),
        (Errno::NOTSOCK, "ENOTSOCK"),
        (Errno::AGAIN, "EAGAIN"),
        (Errno::OPNOTSUPP, "EOPNOTSUPP"),
        (Errno::from_raw_os_error(524), "ENOTSUPP"),
        (Errno::from_raw_os_error(4000), "E?"),
    ] {
        assert_eq!(errno_name(errno), name);
    }
    // Names are unique: no number was listed twice under different names.
    let mut names: Vec<&str> =
        (1..=133).map(|n| errno_name(Errno::from_raw_os_error(n))).filter(|n| *n != "E?").collect();
    let total = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), total);
}

#[test]
fn setup_einval_names_the_sq_aff_cpu_and_attach_wq_needs() {
    if ringwise::probe::try_setup_flags(SetupFlags::SQPOLL).is_err() {
        skip("SQPOLL is refused for this process");
        return;
    }
    // A CPU that does not exist.
    let err = Builder::<Sqe64, Cqe16>::new(4)
        .sqpoll(Duration::from_millis(10))
        .sq_thread_cpu(100_000)
        .build()
        .expect_err("CPU 100000 does not exist");
    assert_eq!(err.errno(), Errno::INVAL, "{err}");
    assert!(err.to_string().contains("CPU 100000"), "{err}");

    // SQPOLL attached to a ring without an SQPOLL thread.
    let plain: Ring = Ring::new(4).expect("ring");
    let err = Builder::<Sqe64, Cqe16>::new(4)
        .sqpoll(Duration::from_millis(10))
        .attach_wq(plain.fd().expect("fd"))
        .build()
        .expect_err("nothing to share");
    assert_eq!(err.errno(), Errno::INVAL, "{err}");
    assert!(err.to_string().contains("must itself be an SQPOLL ring"), "{err}");

    // Attached to an SQPOLL ring it works, and shares the thread.
    let polled: Ring = Builder::new(4).sqpoll(Duration::from_millis(10)).build().expect("sqpoll ring");
    let mut ring: Ring = Builder::new(4)
        .sqpoll(Duration::from_millis(10))
        .attach_wq(polled.fd().expect("fd"))
        .build()
        .expect("attached to an SQPOLL ring");
    nop_round_trip(&mut ring, 4, 0x20);
}

#[test]
fn huge_page_failure_reports_the_2mb_pool() {
    // A terabyte of 2 MiB pages: no pool has that many.
    let err = Mapping::huge(1 << 40).expect_err("no machine reserves 1 TiB of huge pages");
    let text = err.to_string();
    assert!(text.contains("hugepages-2048kB"), "{text}");
    assert!(text.contains("524288 huge pages of 2 MiB were needed"), "{text}");
    if std::path::Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").is_dir() {
        assert!(text.contains(" free "), "{text}");
    }
}
