//! Readiness, timeouts, links and cancellation, with real pipes and
//! eventfds and measured times.

mod common;

use common::*;
use ringwise::op::{
    self, AsyncCancel, EpollCtl, EpollEvent, EpollWait, LinkTimeout, LinkTimeoutUpdate, Nop, PollAdd, PollEvents,
    PollRemove, PollUpdate, Read, Target, Timeout, TimeoutFlags, TimeoutRemove, TimeoutUpdate, Timespec,
};
use ringwise::{Ring, SqeFlags};
use rustix::io::Errno;
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn ts(ms: u64) -> Timespec {
    Duration::from_millis(ms).into()
}

#[test]
fn oneshot_poll_reports_the_ready_mask() {
    let efd = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).unwrap();
    let mut ring = Ring::new(4).unwrap();
    // SAFETY: `efd` stays open until this test has reaped the op's CQE.
    ring.submission().push(PollAdd::new(unsafe { Target::from_fd(efd.as_fd()) }, PollEvents::IN).user_data(1)).unwrap();
    assert_quiet(&mut ring, 20);
    rustix::io::write(&efd, &1u64.to_ne_bytes()).unwrap();
    let c = collect(&mut ring, 1)[0];
    assert_eq!(c.user_data, 1);
    assert!(PollEvents::from_bits_retain(c.res as u32).contains(PollEvents::IN), "{c:?}");
    assert!(!c.more());
}

#[test]
fn multishot_poll_fires_per_event_and_is_removed() {
    let (r, w) = rustix::pipe::pipe().unwrap();
    let mut ring = Ring::new(4).unwrap();
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(PollAdd::new(unsafe { Target::from_fd(r.as_fd()) }, PollEvents::IN).multishot().user_data(7))
        .unwrap();
    ring.submit().unwrap();
    let mut sink = [0u8; 8];
    for _ in 0..3 {
        rustix::io::write(&w, b"x").unwrap();
        let c = collect(&mut ring, 1)[0];
        assert_eq!(c.user_data, 7);
        assert!(c.more(), "{c:?}");
        assert!(PollEvents::from_bits_retain(c.res as u32).contains(PollEvents::IN));
        assert_eq!(rustix::io::read(&r, &mut sink).unwrap(), 1);
    }
    ring.submission().push(PollRemove::new(7).user_data(8)).unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 8).res, 0);
    assert_eq!(by_ud(&cqes, 7).res, errno(Errno::CANCELED));
    assert!(!by_ud(&cqes, 7).more());
}

#[test]
fn level_triggered_poll_sees_data_already_there() {
    let (r, w) = rustix::pipe::pipe().unwrap();
    rustix::io::write(&w, b"waiting").unwrap();
    let mut ring = Ring::new(4).unwrap();
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(PollAdd::new(unsafe { Target::from_fd(r.as_fd()) }, PollEvents::IN).level().user_data(1))
        .unwrap();
    let c = run(&mut ring, 1)[0];
    if c.res == errno(Errno::INVAL) {
        // Linux 6.18's io_poll_add_prep accepts only IORING_POLL_ADD_MULTI.
        return skip("this kernel refuses IORING_POLL_ADD_LEVEL in POLL_ADD (EINVAL)");
    }
    assert!(PollEvents::from_bits_retain(c.res as u32).contains(PollEvents::IN), "{c:?}");
}

#[test]
fn poll_update_changes_events_and_user_data() {
    let (r, _w) = rustix::pipe::pipe().unwrap();
    let (_r2, w2) = rustix::pipe::pipe().unwrap();
    let mut ring = Ring::new(4).unwrap();
    // Armed for IN on an empty pipe: nothing happens.
    // SAFETY: `w2` stays open until this test has reaped the op's CQE.
    ring.submission().push(PollAdd::new(unsafe { Target::from_fd(w2.as_fd()) }, PollEvents::IN).user_data(10)).unwrap();
    assert_quiet(&mut ring, 20);
    // The write end is always writable: switching to OUT fires at once.
    ring.submission().push(PollUpdate::new(10).events(PollEvents::OUT).new_user_data(11).user_data(12)).unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 12).res, 0);
    let fired = by_ud(&cqes, 11);
    assert!(PollEvents::from_bits_retain(fired.res as u32).contains(PollEvents::OUT), "{fired:?}");
    // Updating a poll that does not exist: ENOENT.
    ring.submission().push(PollUpdate::new(999).events(PollEvents::IN).user_data(13)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::NOENT));
    drop(r);
}

#[test]
fn epoll_ctl_and_epoll_wait() {
    use rustix::event::epoll;
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).unwrap();
    let efd = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).unwrap();
    let mut ring = Ring::new(4).unwrap();
    let ev = EpollEvent { events: linux_raw_sys::general::EPOLLIN, data: 77 };
    push!(
        ring,
        EpollCtl::new(
            // SAFETY: `ep` stays open until this test has reaped the op's CQE.
            unsafe { Target::from_fd(ep.as_fd()) },
            efd.as_raw_fd(),
            linux_raw_sys::general::EPOLL_CTL_ADD,
            &ev
        )
        .user_data(1)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    if !supports(op::opcode::EPOLL_WAIT) {
        return skip("EPOLL_WAIT needs Linux 6.15");
    }
    let mut out = [EpollEvent { events: 0, data: 0 }; 4];
    // SAFETY: `ep` stays open until this test has reaped the op's CQE.
    push!(ring, EpollWait::new(unsafe { Target::from_fd(ep.as_fd()) }, out.as_mut_ptr(), 4).user_data(2));
    assert_quiet(&mut ring, 20);
    rustix::io::write(&efd, &1u64.to_ne_bytes()).unwrap();
    let c = collect(&mut ring, 1)[0];
    assert_eq!((c.user_data, c.res), (2, 1));
    let (events, data) = (out[0].events, out[0].data);
    assert_eq!(data, 77);
    assert!(events & linux_raw_sys::general::EPOLLIN != 0);
    push!(
        ring,
        EpollCtl::new(
            // SAFETY: `ep` stays open until this test has reaped the op's CQE.
            unsafe { Target::from_fd(ep.as_fd()) },
            efd.as_raw_fd(),
            linux_raw_sys::general::EPOLL_CTL_DEL,
            std::ptr::null()
        )
        .user_data(3)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    let mut events = Vec::with_capacity(4);
    let n = epoll::wait(
        &ep,
        rustix::buffer::spare_capacity(&mut events),
        Some(&rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 }),
    )
    .unwrap();
    assert_eq!(n, 0, "the fd is no longer registered");
}

#[test]
fn relative_absolute_and_counting_timeouts() {
    let mut ring = Ring::new(8).unwrap();
    let t = ts(30);
    let start = Instant::now();
    push!(ring, Timeout::new(&t).user_data(1));
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::TIME));
    assert!(start.elapsed() >= Duration::from_millis(29), "{:?}", start.elapsed());

    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let deadline = Timespec { tv_sec: now.tv_sec, tv_nsec: now.tv_nsec + 30_000_000 };
    let deadline = if deadline.tv_nsec >= 1_000_000_000 {
        Timespec { tv_sec: deadline.tv_sec + 1, tv_nsec: deadline.tv_nsec - 1_000_000_000 }
    } else {
        deadline
    };
    let start = Instant::now();
    push!(ring, Timeout::new(&deadline).timeout_flags(TimeoutFlags::ABS).user_data(2));
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::TIME));
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(25) && took < Duration::from_secs(5), "{took:?}");

    // A counting timeout completes with 0 once one other CQE is posted.
    let long = ts(10_000);
    push!(ring, Timeout::new(&long).count(1).user_data(3));
    ring.submission().push(Nop::new().user_data(4)).unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 3).res, 0);
}

#[test]
fn multishot_timeout_fires_the_requested_times() {
    let mut ring = Ring::new(4).unwrap();
    let t = ts(5);
    push!(ring, Timeout::new(&t).multishot(3).user_data(1));
    let cqes = run(&mut ring, 3);
    assert!(cqes.iter().all(|c| c.user_data == 1 && c.res == errno(Errno::TIME)), "{cqes:?}");
    assert_eq!(cqes.iter().map(|c| c.more()).collect::<Vec<_>>(), vec![true, true, false]);
    assert_quiet(&mut ring, 30);
}

#[test]
fn etime_success_lets_a_linked_chain_continue() {
    let mut ring = Ring::new(4).unwrap();
    let t = ts(5);
    push!(ring, Timeout::new(&t).user_data(1).flags(SqeFlags::IO_LINK));
    ring.submission().push(Nop::new().user_data(2)).unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 2).res, errno(Errno::CANCELED), "without the flag -ETIME breaks the link");
    push!(ring, Timeout::new(&t).timeout_flags(TimeoutFlags::ETIME_SUCCESS).user_data(3).flags(SqeFlags::IO_LINK));
    ring.submission().push(Nop::new().user_data(4)).unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 3).res, errno(Errno::TIME));
    assert_eq!(by_ud(&cqes, 4).res, 0, "with ETIME_SUCCESS the linked NOP runs");
}

#[test]
fn timeout_update_and_remove() {
    let mut ring = Ring::new(4).unwrap();
    let long = ts(10_000);
    let short = ts(1);
    push!(ring, Timeout::new(&long).user_data(1));
    ring.submit().unwrap();
    let start = Instant::now();
    push!(ring, TimeoutUpdate::new(1, &short).user_data(2));
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 2).res, 0);
    assert_eq!(by_ud(&cqes, 1).res, errno(Errno::TIME));
    assert!(start.elapsed() < Duration::from_secs(5), "the update shortened the timeout");

    push!(ring, Timeout::new(&long).user_data(3));
    ring.submit().unwrap();
    ring.submission().push(TimeoutRemove::new(3).user_data(4)).unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 4).res, 0);
    assert_eq!(by_ud(&cqes, 3).res, errno(Errno::CANCELED));
    ring.submission().push(TimeoutRemove::new(3).user_data(5)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::NOENT));
}

#[test]
fn link_timeout_cancels_a_stuck_op_and_is_cancelled_by_a_fast_one() {
    let (r, _w) = rustix::pipe::pipe().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [0u8; 4];
    let t = ts(20);
    push!(
        ring,
        // SAFETY: `r` stays open until this test has reaped the op's CQE.
        Read::new(unsafe { Target::from_fd(r.as_fd()) }, buf.as_mut_ptr(), 4).user_data(1).flags(SqeFlags::IO_LINK)
    );
    push!(ring, LinkTimeout::new(&t).user_data(2));
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 1).res, errno(Errno::CANCELED));
    assert_eq!(by_ud(&cqes, 2).res, errno(Errno::TIME));

    ring.submission().push(Nop::new().user_data(3).flags(SqeFlags::IO_LINK)).unwrap();
    push!(ring, LinkTimeout::new(&t).user_data(4));
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 3).res, 0);
    assert_eq!(by_ud(&cqes, 4).res, errno(Errno::CANCELED));

    // Re-arm a long link timeout to fire almost at once.
    let long = ts(10_000);
    let short = ts(1);
    push!(
        ring,
        // SAFETY: `r` stays open until this test has reaped the op's CQE.
        Read::new(unsafe { Target::from_fd(r.as_fd()) }, buf.as_mut_ptr(), 4).user_data(5).flags(SqeFlags::IO_LINK)
    );
    push!(ring, LinkTimeout::new(&long).user_data(6));
    ring.submit().unwrap();
    let start = Instant::now();
    push!(ring, LinkTimeoutUpdate::new(6, &short).user_data(7));
    let cqes = run(&mut ring, 3);
    assert_eq!(by_ud(&cqes, 7).res, 0);
    assert_eq!(by_ud(&cqes, 5).res, errno(Errno::CANCELED));
    assert_eq!(by_ud(&cqes, 6).res, errno(Errno::TIME));
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn linked_ops_run_in_order_and_a_failure_cancels_the_rest() {
    let mut ring = Ring::new(8).unwrap();
    ring.submission().push(Nop::new().user_data(1).flags(SqeFlags::IO_LINK)).unwrap();
    ring.submission().push(Nop::new().inject_result(-5).user_data(2).flags(SqeFlags::IO_LINK)).unwrap();
    ring.submission().push(Nop::new().user_data(3)).unwrap();
    let cqes = run(&mut ring, 3);
    assert_eq!(
        cqes.iter().map(|c| (c.user_data, c.res)).collect::<Vec<_>>(),
        vec![(1, 0), (2, -5), (3, errno(Errno::CANCELED))]
    );
}

#[test]
fn cancel_by_fd_fixed_fd_opcode_any_and_all() {
    let (r, w) = rustix::pipe::pipe().unwrap();
    let (r2, _w2) = rustix::pipe::pipe().unwrap();
    let mut ring = Ring::new(16).unwrap();
    register_files(&ring, &[r2.as_raw_fd()]);
    let mut bufs = [[0u8; 4]; 4];
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    push!(ring, Read::new(unsafe { Target::from_fd(r.as_fd()) }, bufs[0].as_mut_ptr(), 4).user_data(1));
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    push!(ring, Read::new(unsafe { Target::from_fd(r.as_fd()) }, bufs[1].as_mut_ptr(), 4).user_data(2));
    push!(ring, Read::new(Target::fixed(0), bufs[2].as_mut_ptr(), 4).user_data(3));
    // SAFETY: `r2` stays open until this test has reaped the op's CQE.
    ring.submission().push(PollAdd::new(unsafe { Target::from_fd(r2.as_fd()) }, PollEvents::IN).user_data(4)).unwrap();
    assert_quiet(&mut ring, 20);

    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    ring.submission().push(AsyncCancel::fd(unsafe { Target::from_fd(r.as_fd()) }).all().user_data(10)).unwrap();
    let cqes = run(&mut ring, 3);
    assert_eq!(by_ud(&cqes, 10).res, 2, "both reads on the fd");
    assert_eq!(by_ud(&cqes, 1).res, errno(Errno::CANCELED));
    assert_eq!(by_ud(&cqes, 2).res, errno(Errno::CANCELED));

    ring.submission().push(AsyncCancel::opcode(op::opcode::POLL_ADD).user_data(11)).unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 11).res, 0);
    assert_eq!(by_ud(&cqes, 4).res, errno(Errno::CANCELED), "only the poll matched the opcode");

    ring.submission().push(AsyncCancel::fd(Target::fixed(0)).user_data(12)).unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 12).res, 0);
    assert_eq!(by_ud(&cqes, 3).res, errno(Errno::CANCELED));

    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    push!(ring, Read::new(unsafe { Target::from_fd(r.as_fd()) }, bufs[3].as_mut_ptr(), 4).user_data(5));
    // SAFETY: `r2` stays open until this test has reaped the op's CQE.
    ring.submission().push(PollAdd::new(unsafe { Target::from_fd(r2.as_fd()) }, PollEvents::IN).user_data(6)).unwrap();
    assert_quiet(&mut ring, 10);
    ring.submission().push(AsyncCancel::any().all().user_data(13)).unwrap();
    let cqes = run(&mut ring, 3);
    assert_eq!(by_ud(&cqes, 13).res, 2);
    ring.submission().push(AsyncCancel::user_data_of(12345).user_data(14)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::NOENT));
    // With ALL the result is a count: nothing is left, so 0.
    ring.submission().push(AsyncCancel::any().all().user_data(15)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, 0, "nothing left in flight");
    assert_quiet(&mut ring, 10);
    drop(w);
}
