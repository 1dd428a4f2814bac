//! Owned timeouts, linked timeouts, polls, cancel by fd and messages
//! between rings, against the kernel.

use ringwise::op::PollEvents;
use ringwise::owned::{ops, Driver, Mailbox, SharedFd};
use ringwise::{Builder, Errno};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

#[path = "common/counted.rs"]
mod counted;
use counted::Counted;

fn pair() -> (UnixStream, SharedFd) {
    let (a, b) = UnixStream::pair().unwrap();
    (a, SharedFd::from(b))
}

fn skip(reason: impl std::fmt::Display) {
    eprintln!("skipped: {reason}");
}

/// Run `f` on a thread and fail (instead of hanging the suite) if it does
/// not return within `limit`.
fn within<R: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(r) => r,
        Err(_) => panic!("{what} did not return within {limit:?}"),
    }
}

#[test]
fn timeouts_fire_after_at_and_on_count() {
    let driver = Driver::new(8).unwrap();
    let start = Instant::now();
    assert_eq!(driver.submit(ops::Timeout::after(Duration::from_millis(20))).unwrap().wait().unwrap(), Ok(()));
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(20) && took < Duration::from_secs(2), "{took:?}");

    let start = Instant::now();
    let deadline = start + Duration::from_millis(20);
    assert_eq!(driver.submit(ops::Timeout::at(deadline)).unwrap().wait().unwrap(), Ok(()));
    assert!(Instant::now() >= deadline);

    let start = Instant::now();
    let when = SystemTime::now() + Duration::from_millis(20);
    assert_eq!(driver.submit(ops::Timeout::at_system(when)).unwrap().wait().unwrap(), Ok(()));
    assert!(SystemTime::now() >= when && start.elapsed() < Duration::from_secs(2));

    // A deadline in the past fires at once.
    let start = Instant::now();
    let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap_or(start);
    assert_eq!(driver.submit(ops::Timeout::at(past)).unwrap().wait().unwrap(), Ok(()));
    assert!(start.elapsed() < Duration::from_secs(1));

    // Count: fires after 2 other completions, long before its 10 s.
    let start = Instant::now();
    let counting = driver.submit(ops::Timeout::after(Duration::from_secs(10)).count(2)).unwrap();
    driver.wait(0).unwrap();
    // (Expired timeouts do not count: two polls that complete at once.)
    let (_a, b) = pair();
    for _ in 0..2 {
        driver.submit(ops::PollAdd::new(&b, PollEvents::OUT)).unwrap().wait().unwrap().unwrap();
    }
    assert_eq!(counting.wait().unwrap(), Ok(()));
    assert!(start.elapsed() < Duration::from_secs(5), "the count fired it, not the time");

    // Cancelled: ECANCELED.
    let t = driver.submit(ops::Timeout::after(Duration::from_secs(10))).unwrap();
    driver.wait(0).unwrap();
    t.cancel();
    assert_eq!(t.wait().unwrap(), Err(Errno::CANCELED));
}

#[test]
fn linked_timeout_cancels_a_recv_that_gets_nothing() {
    let (_a, b) = pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let driver = Driver::new(8).unwrap();
    let buf = Counted { data: vec![9u8; 4], drops: drops.clone() };
    let start = Instant::now();
    let op = ops::WithTimeout::new(ops::Recv::new(&b, buf), Duration::from_millis(20));
    let (res, buf) = driver.submit(op).unwrap().wait().unwrap();
    assert_eq!(res, Err(Errno::CANCELED));
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(buf.data, [9u8; 4], "the buffer comes back untouched");
    drop(buf);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // The linked timeout's own CQE is ignored and counts nothing in flight.
    driver.wait(0).unwrap();
    assert_eq!(driver.stats().in_flight, 0);
}

#[test]
fn linked_timeout_leaves_a_recv_that_gets_data() {
    let (mut a, b) = pair();
    let driver = Driver::new(8).unwrap();
    // Data already there.
    a.write_all(b"early").unwrap();
    let op = ops::WithTimeout::new(ops::Recv::new(&b, Vec::with_capacity(16)), Duration::from_secs(5));
    let start = Instant::now();
    let (res, buf) = driver.submit(op).unwrap().wait().unwrap();
    assert_eq!(res, Ok(5));
    assert_eq!(buf, b"early");
    // Data that comes while the recv waits, well within the limit.
    let op = ops::WithTimeout::new(ops::Recv::new(&b, Vec::with_capacity(16)), Duration::from_secs(5));
    let pending = driver.submit(op).unwrap();
    driver.wait(0).unwrap();
    std::thread::sleep(Duration::from_millis(10));
    a.write_all(b"late").unwrap();
    let (res, buf) = pending.wait().unwrap();
    assert_eq!(res, Ok(4));
    assert_eq!(buf, b"late");
    assert!(start.elapsed() < Duration::from_secs(4), "the timeouts did not fire");
}

#[test]
fn linked_timeout_async_and_refusals() {
    let (_a, b) = pair();
    let driver = Driver::new(8).unwrap();
    let (res, _) = driver
        .block_on(async {
            driver
                .submit(ops::WithTimeout::new(ops::Recv::new(&b, Vec::with_capacity(4)), Duration::from_millis(5)))
                .unwrap()
                .await
        })
        .unwrap();
    assert_eq!(res, Err(Errno::CANCELED));

    // A linked timeout around an op of two SQEs is refused, with the op back.
    let inner = ops::WithTimeout::new(ops::Recv::new(&b, vec![1u8; 3]), Duration::from_millis(5));
    let refused = driver.submit(ops::WithTimeout::new(inner, Duration::from_millis(5))).unwrap_err();
    assert_eq!(refused.error.errno(), Errno::INVAL);
    assert_eq!(refused.into_inner().into_inner().into_inner().into_buf(), [1u8; 3]);
}

#[test]
fn poll_reports_a_readable_socket() {
    let (mut a, b) = pair();
    let driver = Driver::new(8).unwrap();
    let poll = driver.submit(ops::PollAdd::new(&b, PollEvents::IN)).unwrap();
    driver.wait(0).unwrap();
    assert!(!poll.is_done(), "nothing to read yet");
    a.write_all(b"x").unwrap();
    let ev = poll.wait().unwrap().unwrap();
    assert!(ev.contains(PollEvents::IN), "{ev:?}");

    // Writable at once.
    let ev = driver.submit(ops::PollAdd::new(&b, PollEvents::OUT)).unwrap().wait().unwrap().unwrap();
    assert!(ev.contains(PollEvents::OUT));

    // Cancelled: ECANCELED.
    let (_c, d) = pair();
    let poll = driver.submit(ops::PollAdd::new(&d, PollEvents::IN)).unwrap();
    driver.wait(0).unwrap();
    poll.cancel();
    assert_eq!(poll.wait().unwrap(), Err(Errno::CANCELED));
}

#[test]
fn multishot_poll_yields_five_events_then_ends_on_cancel() {
    let (mut a, b) = UnixStream::pair().unwrap();
    let mut reader = b.try_clone().unwrap();
    let b = SharedFd::from(b);
    let driver = Driver::new(8).unwrap();
    let mut polls = driver.submit_stream(ops::PollMulti::new(&b, PollEvents::IN)).unwrap();
    for i in 0..5 {
        a.write_all(&[i]).unwrap();
        match polls.wait_next().unwrap() {
            Some(Ok(ev)) => assert!(ev.contains(PollEvents::IN), "{ev:?}"),
            Some(Err(Errno::INVAL)) if i == 0 => return skip("multishot poll (Linux 5.13) refused with EINVAL"),
            other => panic!("event {i}: {other:?}"),
        }
        let mut byte = [0u8; 1];
        reader.read_exact(&mut byte).unwrap();
        assert_eq!(byte, [i]);
    }
    polls.cancel();
    assert_eq!(polls.wait_next().unwrap(), Some(Err(Errno::CANCELED)));
    assert_eq!(polls.wait_next().unwrap(), None);
    assert!(polls.into_inner().is_some(), "the op comes back after the end");
    assert_eq!(driver.stats().in_flight, 0);
}

#[test]
fn cancel_fd_cancels_every_recv_on_the_fd_and_returns_their_buffers() {
    let (_a, b) = pair();
    let (_c, other) = pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let driver = Driver::new(16).unwrap();
    let recvs: Vec<_> = (0..3u8)
        .map(|i| {
            let buf = Counted { data: vec![i; 4], drops: drops.clone() };
            driver.submit(ops::Recv::new(&b, buf)).unwrap()
        })
        .collect();
    let untouched = driver.submit(ops::Recv::new(&other, vec![7u8; 4])).unwrap();
    driver.wait(0).unwrap();
    match driver.submit(ops::CancelFd::new(&b)).unwrap().wait().unwrap() {
        Ok(n) => assert_eq!(n, 3),
        Err(Errno::INVAL) => return skip("ASYNC_CANCEL by fd with ALL (Linux 5.19) refused with EINVAL"),
        Err(e) => panic!("cancel by fd: {e:?}"),
    }
    for (i, op) in recvs.into_iter().enumerate() {
        let (res, buf) = op.wait().unwrap();
        assert_eq!(res, Err(Errno::CANCELED));
        assert_eq!(buf.data, [i as u8; 4], "buffer {i} comes back untouched");
    }
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    assert!(!untouched.is_done(), "an op on another fd is not cancelled");
    // Nothing left on the fd: 0.
    assert_eq!(driver.submit(ops::CancelFd::new(&b)).unwrap().wait().unwrap(), Ok(0));
    untouched.cancel();
    assert_eq!(untouched.wait().unwrap().0, Err(Errno::CANCELED));
}

#[test]
fn messages_between_two_drivers_on_two_threads_arrive_in_order() {
    const N: i32 = 1000;
    let (addr_tx, addr_rx) = mpsc::channel();
    let receiver = std::thread::spawn(move || {
        let driver = Driver::new(8).unwrap();
        let mut mailbox = Mailbox::new(&driver).unwrap();
        addr_tx.send(mailbox.address()).unwrap();
        let got: Vec<i32> = (0..N).map(|_| mailbox.wait_recv().unwrap()).collect();
        assert_eq!(driver.stats().in_flight, 0);
        got
    });
    let addr = addr_rx.recv().unwrap();
    let sender = std::thread::spawn(move || {
        let driver = Driver::new(32).unwrap();
        let mut batch = Vec::new();
        for v in 0..N {
            batch.push(driver.submit(ops::MsgRing::new(&addr, v)).unwrap());
            if batch.len() == 16 || v == N - 1 {
                for op in batch.drain(..) {
                    op.wait().unwrap().unwrap();
                }
            }
        }
    });
    sender.join().unwrap();
    let got = within(Duration::from_secs(20), "the receiver", move || receiver.join().unwrap());
    assert_eq!(got, (0..N).collect::<Vec<_>>());
}

#[test]
fn mailbox_try_recv_and_messages_to_self() {
    let driver = Driver::new(8).unwrap();
    let mut mailbox = Mailbox::new(&driver).unwrap();
    assert_eq!(mailbox.try_recv(), None);
    let addr = mailbox.address();
    assert_eq!(driver.submit(ops::MsgRing::new(&addr, -5)).unwrap().wait().unwrap(), Ok(()));
    assert_eq!(mailbox.try_recv(), Some(-5), "a message to the sender's own ring");
    assert_eq!(mailbox.try_recv(), None);
    assert_eq!(driver.stats().in_flight, 0, "a mailbox is not in flight");
}

#[test]
fn mailbox_recv_await_with_a_sender_on_another_thread() {
    let driver = Driver::new(8).unwrap();
    let mut mailbox = Mailbox::new(&driver).unwrap();
    let addr = mailbox.address();
    let sender = std::thread::spawn(move || {
        let driver = Driver::new(8).unwrap();
        for v in [10, 20] {
            std::thread::sleep(Duration::from_millis(20));
            driver.submit(ops::MsgRing::new(&addr, v)).unwrap().wait().unwrap().unwrap();
        }
    });
    // Keep an op in flight: `block_on` only waits on the ring while one is
    // (see the report: a mailbox alone does not keep it waiting on the
    // ring).
    let keep = driver.submit(ops::Timeout::after(Duration::from_secs(30))).unwrap();
    let got = driver.block_on(async { (mailbox.recv().await, mailbox.recv().await) }).unwrap();
    assert_eq!(got, (10, 20));
    sender.join().unwrap();
    keep.cancel();
    assert_eq!(keep.wait().unwrap(), Err(Errno::CANCELED));
}

#[test]
fn mailbox_recv_await_with_nothing_else_in_flight() {
    let driver = Driver::new(8).unwrap();
    let mut mailbox = Mailbox::new(&driver).unwrap();
    let addr = mailbox.address();
    let sender = std::thread::spawn(move || {
        let driver = Driver::new(8).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        driver.submit(ops::MsgRing::new(&addr, 7)).unwrap().wait().unwrap().unwrap();
    });
    let got = within(Duration::from_secs(5), "block_on(mailbox.recv())", move || {
        driver.block_on(async { mailbox.recv().await }).unwrap()
    });
    assert_eq!(got, 7);
    sender.join().unwrap();
}

#[test]
fn message_to_a_dropped_mailbox_is_refused_with_the_op_back() {
    let driver = Driver::new(8).unwrap();
    let mailbox = Mailbox::new(&driver).unwrap();
    let addr = mailbox.address();
    drop(mailbox);
    assert!(!addr.is_open());
    let refused = driver.submit(ops::MsgRing::new(&addr, 1)).unwrap_err();
    assert_eq!(refused.error.errno(), Errno::INVAL);
}

#[test]
fn message_in_flight_when_its_mailbox_goes_is_discarded() {
    let receiver = Driver::new(8).unwrap();
    let sender = Driver::new(8).unwrap();
    let mailbox = Mailbox::new(&receiver).unwrap();
    let addr = mailbox.address();
    // Queued on the sender (not yet in the kernel) while the mailbox lives.
    let msg = sender.submit(ops::MsgRing::new(&addr, 3)).unwrap();
    drop(mailbox);
    drop(addr);
    // The op's address keeps the slot a (dead) mailbox: an op on the
    // receiver takes another slot.
    let (_a, b) = pair();
    let recv = receiver.submit(ops::Recv::new(&b, vec![0u8; 4])).unwrap();
    assert_eq!(msg.wait().unwrap(), Ok(()));
    receiver.wait(0).unwrap();
    assert!(!recv.is_done(), "the message completed no op");
    recv.cancel();
    assert_eq!(recv.wait().unwrap().0, Err(Errno::CANCELED));
}

#[test]
fn late_message_to_a_freed_and_reused_slot_completes_no_op() {
    // A SINGLE_ISSUER + DEFER_TASKRUN target gets messages through task
    // work run at its next enter: after the sender's CQE, after the
    // mailbox and its addresses are gone and the slot is reused.
    let receiver = match Driver::with_builder(Builder::new(8).single_issuer().defer_taskrun()) {
        Ok(d) => d,
        Err(e) => return skip(format!("DEFER_TASKRUN (Linux 6.1) ring: {e}")),
    };
    let sender = Driver::new(8).unwrap();
    let mailbox = Mailbox::new(&receiver).unwrap();
    let addr = mailbox.address();
    let stale = addr.clone();
    let old_user_data = format!("{stale:?}");
    drop(stale);
    assert_eq!(sender.submit(ops::MsgRing::new(&addr, 99)).unwrap().wait().unwrap(), Ok(()));
    drop(mailbox);
    drop(addr);
    let (_a, b) = pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let recv =
        receiver.submit(ops::Recv::new(&b, Counted { data: Vec::with_capacity(4), drops: drops.clone() })).unwrap();
    assert_eq!(recv.user_data() as u32, 0, "the recv reuses the mailbox's slot index");
    assert!(!old_user_data.contains(&format!("user_data: {}", recv.user_data())), "with a new generation");
    // Submit the recv and run the task work: the message's CQE is posted.
    receiver.wait(0).unwrap();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(2);
    while seen == 0 && Instant::now() < deadline {
        seen += receiver.drive().unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(seen, 1, "the stale message arrived (and was ignored)");
    assert!(!recv.is_done(), "the stale message did not complete the recv in the reused slot");
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    recv.cancel();
    let (res, buf) = recv.wait().unwrap();
    assert_eq!(res, Err(Errno::CANCELED));
    drop(buf);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn dropping_the_driver_while_a_recv_waits_returns_promptly_and_frees_once() {
    let (_a, b) = pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let driver = Driver::new(8).unwrap();
    let dropped =
        driver.submit(ops::Recv::new(&b, Counted { data: Vec::with_capacity(8), drops: drops.clone() })).unwrap();
    let kept = driver
        .submit(ops::WithTimeout::new(
            ops::Recv::new(&b, Counted { data: Vec::with_capacity(8), drops: drops.clone() }),
            Duration::from_secs(30),
        ))
        .unwrap();
    let poll = driver.submit(ops::PollAdd::new(&b, PollEvents::IN)).unwrap();
    driver.wait(0).unwrap();
    drop(dropped);
    let start = Instant::now();
    drop(driver);
    assert!(start.elapsed() < Duration::from_secs(2), "teardown took {:?}", start.elapsed());
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the dropped handle's buffer was freed, once");
    let (res, buf) = kept.wait().unwrap();
    assert_eq!(res, Err(Errno::CANCELED));
    drop(buf);
    assert_eq!(poll.wait().unwrap(), Err(Errno::CANCELED));
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn dropping_the_driver_while_another_thread_waits_on_a_recv() {
    let (_a, b) = pair();
    let drops = Arc::new(AtomicUsize::new(0));
    let driver = Driver::new(8).unwrap();
    let op = driver.submit(ops::Recv::new(&b, Counted { data: Vec::with_capacity(8), drops: drops.clone() })).unwrap();
    let waiter = std::thread::spawn(move || op.wait().unwrap().0);
    std::thread::sleep(Duration::from_millis(50));
    within(Duration::from_secs(5), "dropping the driver", move || drop(driver));
    let res = within(Duration::from_secs(5), "the waiting thread", move || waiter.join().unwrap());
    assert_eq!(res, Err(Errno::CANCELED));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}
