//! What the running kernel supports: the opcode catalog agrees with the
//! kernel's probe, and the setup-flag probes (`NO_SQARRAY`, SQPOLL with
//! ATTACH_WQ) answer correctly and keep no answer from a transient failure.

mod common;

use common::*;
use ringwise::op::CATALOG;
use ringwise::{Builder, Cqe16, Ring, SetupFlags, Sqe64};
use std::os::fd::{AsFd, AsRawFd};

#[test]
fn probe_tries_sqpoll_attach_wq_against_an_sqpoll_ring() {
    if ringwise::probe::try_setup_flags(SetupFlags::SQPOLL).is_err() {
        skip("SQPOLL is refused for this process");
        return;
    }
    // The kernel shares the other ring's SQPOLL thread: the trial must
    // attach to an SQPOLL ring, or it reports a supported set as EINVAL.
    assert_eq!(ringwise::probe::try_setup_flags(SetupFlags::SQPOLL | SetupFlags::ATTACH_WQ), Ok(()));
}

#[test]
fn no_sqarray_probe_does_not_cache_a_transient_failure() {
    if !in_own_process("no_sqarray_probe_does_not_cache_a_transient_failure") {
        return;
    }
    // In the child: a fresh process, where nothing has probed yet.
    if ringwise::probe::try_setup_flags(SetupFlags::NO_SQARRAY).is_err() {
        skip("this kernel refuses NO_SQARRAY (Linux 6.6)");
        return;
    }
    // (That trial is not the builder's cache.) Make every new fd fail with
    // EMFILE: the lowest free fd number becomes the limit.
    let lowest_free = rustix::io::dup(std::io::stdin().as_fd()).expect("dup");
    let limit = lowest_free.as_raw_fd() as u64;
    drop(lowest_free);
    let old = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit { current: Some(limit), maximum: old.maximum },
    )
    .expect("lower RLIMIT_NOFILE");
    let starved = Builder::<Sqe64, Cqe16>::new(8).layout().expect("layout needs no fd");
    rustix::process::setrlimit(rustix::process::Resource::Nofile, old).expect("restore RLIMIT_NOFILE");
    assert!(!starved.flags().contains(SetupFlags::NO_SQARRAY), "the probe could not run without an fd");
    // With fds to spare again, the probe runs again and finds the flag.
    let layout = Builder::<Sqe64, Cqe16>::new(8).layout().expect("layout");
    assert!(
        layout.flags().contains(SetupFlags::NO_SQARRAY),
        "the EMFILE of the first probe was kept as \"no NO_SQARRAY\": {:?}",
        layout.flags()
    );
    let mut ring: Ring = Ring::new(8).expect("ring");
    assert!(ring.setup_flags().contains(SetupFlags::NO_SQARRAY));
    nop_round_trip(&mut ring, 8, 0);
}

fn release_at_least(since: &str, release: (u32, u32)) -> bool {
    let mut it = since.split('.').map(|p| p.parse::<u32>().unwrap());
    let want = (it.next().unwrap(), it.next().unwrap());
    release >= want
}

#[test]
fn catalog_matches_the_kernel_probe() {
    let probe = ringwise::probe::Probe::new().unwrap();
    let rel = ringwise::probe::kernel_release();
    let mut parts =
        rel.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).map(|p| p.parse::<u32>().unwrap());
    let release = (parts.next().unwrap(), parts.next().unwrap());
    assert_eq!(CATALOG.len(), 65);
    let mut table = String::from(
        "| # | opcode | ringwise builder | liburing helpers | since | this kernel |\n|---|---|---|---|---|---|\n",
    );
    for info in CATALOG {
        let supported = probe.supports(info.opcode);
        assert_eq!(
            supported,
            release_at_least(info.since, release),
            "{} (since {}) vs probe on {rel}",
            info.name,
            info.since
        );
        let helpers = if info.liburing.is_empty() { "(none)".to_string() } else { info.liburing.join(", ") };
        let builders: Vec<String> = info.builders.iter().map(|b| format!("`op::{b}`")).collect();
        table += &format!(
            "| {} | `{}` | {} | {} | {} | {} |\n",
            info.opcode,
            info.name,
            builders.join(", "),
            helpers,
            info.since,
            if supported { "yes" } else { "no" }
        );
    }
    assert_eq!(probe.last_op() as usize + 1, CATALOG.iter().filter(|i| probe.supports(i.opcode)).count());
    if let Ok(path) = std::env::var("RINGWISE_OPCODE_TABLE") {
        std::fs::write(path, format!("Probed on Linux {rel}.\n\n{table}")).unwrap();
    }
}
