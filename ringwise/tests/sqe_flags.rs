//! The SQE flags that order or hide completions: IO_LINK, IO_HARDLINK,
//! IO_DRAIN, ASYNC and CQE_SKIP_SUCCESS.

mod common;

use common::*;
use ringwise::op::Target;
use ringwise::op::{Fsync, Nop, Read, Write};
use ringwise::{Ring, SqeFlags};
use std::os::fd::AsFd;
use std::time::Duration;

const EBADF: i32 = 9;

const ECANCELED: i32 = 125;

/// Submit what is queued and collect `n` CQEs as (user_data, res).
fn run(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    ring.submit_and_wait(n as u32).unwrap();
    let got = reap_all(ring, n, Duration::from_secs(10));
    assert_eq!(got.len(), n, "{got:?}");
    got
}

#[test]
fn link_chain_runs_in_order() {
    let mut ring = Ring::new(8).unwrap();
    let file = TempFile::new("link");
    let data = pattern(6000, 5);
    let mut back = vec![0u8; 6000];
    // write -> fsync -> read: each starts after the previous succeeded, so
    // the read sees what the write wrote.
    // SAFETY: both buffers outlive the ops, reaped by `run`.
    unsafe {
        let mut sq = ring.submission();
        // The target: `file` stays open until this test has reaped the op's CQE.
        sq.push_unchecked(
            Write::new(Target::from_fd(file.as_fd()), data.as_ptr(), 6000)
                .offset(0)
                .user_data(1)
                .flags(SqeFlags::IO_LINK),
        )
        .unwrap();
        // The target: `file` stays open until this test has reaped the op's CQE.
        sq.push(Fsync::new(Target::from_fd(file.as_fd())).user_data(2).flags(SqeFlags::IO_LINK)).unwrap();
        // The target: `file` stays open until this test has reaped the op's CQE.
        sq.push_unchecked(Read::new(Target::from_fd(file.as_fd()), back.as_mut_ptr(), 6000).offset(0).user_data(3))
            .unwrap();
    }
    let got = run(&mut ring, 3);
    assert_eq!(got, vec![(1, 6000), (2, 0), (3, 6000)], "CQEs in chain order");
    assert_eq!(back, data);
}

#[test]
fn failing_link_cancels_the_rest() {
    let mut ring = Ring::new(8).unwrap();
    let (r, w) = pipe();
    let mut buf = [0u8; 8];
    // A read of the pipe's write end fails at issue time (EBADF).
    // SAFETY: `buf` outlives the ops.
    unsafe {
        let mut sq = ring.submission();
        // The target: `w` stays open until this test has reaped the op's CQE.
        sq.push_unchecked(
            Read::new(Target::from_fd(w.as_fd()), buf.as_mut_ptr(), 8).user_data(1).flags(SqeFlags::IO_LINK),
        )
        .unwrap();
        sq.push(Nop::new().user_data(2).flags(SqeFlags::IO_LINK)).unwrap();
        sq.push(Nop::new().user_data(3)).unwrap();
        sq.push(Nop::new().user_data(4)).unwrap(); // not in the chain
    }
    let mut got = run(&mut ring, 4);
    got.sort_unstable();
    assert_eq!(got, vec![(1, -EBADF), (2, -ECANCELED), (3, -ECANCELED), (4, 0)]);
    drop(r);
}

#[test]
fn hardlink_continues_after_a_failure() {
    let mut ring = Ring::new(8).unwrap();
    let (_r, w) = pipe();
    let mut buf = [0u8; 8];
    // SAFETY: `buf` outlives the ops.
    unsafe {
        let mut sq = ring.submission();
        // The target: `w` stays open until this test has reaped the op's CQE.
        sq.push_unchecked(
            Read::new(Target::from_fd(w.as_fd()), buf.as_mut_ptr(), 8).user_data(1).flags(SqeFlags::IO_HARDLINK),
        )
        .unwrap();
        sq.push(Nop::new().user_data(2).flags(SqeFlags::IO_HARDLINK)).unwrap();
        sq.push(Nop::new().user_data(3)).unwrap();
    }
    let got = run(&mut ring, 3);
    assert_eq!(got, vec![(1, -EBADF), (2, 0), (3, 0)]);
}

#[test]
fn drain_waits_for_everything_before_it() {
    let mut ring = Ring::new(8).unwrap();
    let (r, w) = pipe();
    let mut buf = [0u8; 8];
    // SAFETY: `buf` outlives the ops.
    unsafe {
        let mut sq = ring.submission();
        // The target: `r` stays open until this test has reaped the op's CQE.
        sq.push_unchecked(Read::new(Target::from_fd(r.as_fd()), buf.as_mut_ptr(), 8).user_data(1)).unwrap();
        sq.push(Nop::new().user_data(2).flags(SqeFlags::IO_DRAIN)).unwrap();
        sq.push(Nop::new().user_data(3)).unwrap();
    }
    assert_eq!(ring.submit().unwrap().consumed, 3);
    // The read waits on the empty pipe; the drained NOP (and what follows
    // it) must wait too.
    assert_eq!(ring.wait_timeout(1, Duration::from_millis(50)).unwrap(), 0);
    assert!(ring.completion().is_empty(), "nothing may complete before the read");
    rustix::io::write(&w, b"go").unwrap();
    let got = reap_all(&mut ring, 3, Duration::from_secs(5));
    assert_eq!(got, vec![(1, 2), (2, 0), (3, 0)]);
    assert_eq!(&buf[..2], b"go");
}

#[test]
fn async_forces_the_worker_pool() {
    let mut ring = Ring::new(16).unwrap();
    let file = TempFile::with_contents("async", &pattern(4096, 6));
    let mut bufs = vec![vec![0u8; 512]; 8];
    for (i, b) in bufs.iter_mut().enumerate() {
        // SAFETY: `bufs` outlives the ops.
        unsafe {
            ring.submission()
                .push_unchecked(
                    // The target: `file` stays open until this test has reaped the op's CQE.
                    Read::new(Target::from_fd(file.as_fd()), b.as_mut_ptr(), 512)
                        .offset(512 * i as u64)
                        .user_data(i as u64)
                        .flags(SqeFlags::ASYNC),
                )
                .unwrap()
        };
    }
    for i in 8..16 {
        ring.submission().push(Nop::new().user_data(i).flags(SqeFlags::ASYNC)).unwrap();
    }
    let mut got = run(&mut ring, 16);
    got.sort_unstable();
    let want: Vec<(u64, i32)> = (0..16).map(|i| (i, if i < 8 { 512 } else { 0 })).collect();
    assert_eq!(got, want);
    let all = pattern(4096, 6);
    for (i, b) in bufs.iter().enumerate() {
        assert_eq!(&b[..], &all[512 * i..512 * (i + 1)]);
    }
}

#[test]
fn cqe_skip_success_posts_only_failures() {
    let mut ring = Ring::new(8).unwrap();
    let (_r, w) = pipe();
    let mut buf = [0u8; 8];
    ring.submission().push(Nop::new().user_data(1).flags(SqeFlags::CQE_SKIP_SUCCESS)).unwrap();
    // A failing op with the flag still posts its CQE.
    // SAFETY: `buf` outlives the op.
    unsafe {
        ring.submission()
            // The target: `w` stays open until this test has reaped the op's CQE.
            .push_unchecked(
                Read::new(Target::from_fd(w.as_fd()), buf.as_mut_ptr(), 8)
                    .user_data(2)
                    .flags(SqeFlags::CQE_SKIP_SUCCESS),
            )
            .unwrap()
    };
    ring.submission().push(Nop::new().user_data(3).flags(SqeFlags::CQE_SKIP_SUCCESS)).unwrap();
    ring.submission().push(Nop::new().user_data(4)).unwrap();
    assert_eq!(ring.submit().unwrap().consumed, 4);
    let got = reap_all(&mut ring, 2, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(20));
    let late: Vec<u64> = ring.completions().unwrap().map(|c| c.user_data).collect();
    assert!(late.is_empty(), "unexpected CQEs {late:?}");
    let mut got = got;
    got.sort_unstable();
    assert_eq!(got, vec![(2, -EBADF), (4, 0)]);
    // The ring's accounting is not confused by the missing CQEs.
    for r in 0..4 {
        nop_round_trip(&mut ring, 8, 100 * r);
    }
}
