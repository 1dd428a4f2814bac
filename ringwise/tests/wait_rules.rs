//! The one rule for how every wait ends (issue 9, items 7 and 9): `want`
//! CQEs ready, the time limit passed, or (with a signal mask only) a
//! signal; `SIGSTOP`/`SIGCONT` does not cut a wait short, and `want` past
//! what the CQ holds is refused instead of returning at once.

use ringwise::op::{Nop, Timeout, Timespec};
use ringwise::{Error, Ring, WaitArgs};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long the timer op the waits wait for runs.
const TIMER: Duration = Duration::from_millis(400);

/// Stop and continue this whole process several times from a child
/// process, starting now, while the caller waits (a stopped process cannot
/// continue itself, hence the child).
fn stop_and_continue_me() -> Child {
    let pid = std::process::id();
    let script =
        format!("for i in 1 2 3 4 5 6 7 8; do sleep 0.03; kill -STOP {pid}; sleep 0.01; kill -CONT {pid}; done");
    Command::new("sh").arg("-c").arg(script).spawn().expect("sh")
}

/// Queue a timeout op that completes after [`TIMER`].
fn push_timer(ring: &mut Ring, ts: &Timespec, user_data: u64) {
    // SAFETY: `ts` outlives the submit that reads it (every caller submits
    // before `ts` goes out of scope).
    unsafe { ring.submission().push_unchecked(Timeout::new(ts).user_data(user_data)) }.expect("room");
}

/// Every wait without a signal mask rides out stops and continues: `Ok`
/// means `want` CQEs are ready (the documented
/// `submit_and_wait(1)?; completion().next().unwrap()` does not panic).
/// One test function: the signals stop every thread of the process.
#[test]
fn waits_ride_out_stop_and_continue() {
    let mut ring: Ring = Ring::new(8).expect("ring");
    let ts = Timespec::from(TIMER);

    // submit_and_wait: the kernel submits, the wait is interrupted, and it
    // reports the submission without saying so.
    push_timer(&mut ring, &ts, 1);
    let mut child = stop_and_continue_me();
    let submitted = ring.submit_and_wait(1).expect("submit_and_wait");
    let cqe = ring.completion().next();
    assert_eq!(submitted.consumed, 1);
    assert_eq!(cqe.map(|c| c.user_data), Some(1), "submit_and_wait(1) returned Ok with no CQE ready");
    child.wait().expect("child");

    // wait: EINTR is retried.
    push_timer(&mut ring, &ts, 2);
    assert_eq!(ring.submit().expect("submit").consumed, 1);
    let mut child = stop_and_continue_me();
    let ready = ring.wait(1).expect("wait must ride out SIGSTOP/SIGCONT");
    assert!(ready >= 1, "wait(1) returned {ready}");
    assert_eq!(ring.completion().next().map(|c| c.user_data), Some(2));
    child.wait().expect("child");

    // wait_timeout: a signal is no timeout.
    push_timer(&mut ring, &ts, 3);
    ring.submit().expect("submit");
    let mut child = stop_and_continue_me();
    let ready = ring.wait_timeout(1, Duration::from_secs(5)).expect("wait_timeout");
    assert_eq!(ready, 1, "the wait ended before the timer fired or the timeout passed");
    assert_eq!(ring.completion().next().map(|c| c.user_data), Some(3));
    child.wait().expect("child");

    // submit_and_wait_timeout: likewise, after submitting.
    push_timer(&mut ring, &ts, 4);
    let mut child = stop_and_continue_me();
    let (submitted, ready) = ring.submit_and_wait_timeout(1, Duration::from_secs(5)).expect("submit_and_wait_timeout");
    assert_eq!((submitted.consumed, ready), (1, 1));
    assert_eq!(ring.completion().next().map(|c| c.user_data), Some(4));
    child.wait().expect("child");

    // A wait given a signal mask asked to be woken by signals: it ends
    // early, with what is ready (nothing here), long before its timeout.
    let args = WaitArgs::new().timeout(Duration::from_secs(5)).sigmask(0);
    let mut child = stop_and_continue_me();
    let start = Instant::now();
    let ready = ring.wait_with(1, &args).expect("wait_with a signal mask");
    let took = start.elapsed();
    child.wait().expect("child");
    assert_eq!(ready, 0);
    assert!(took < Duration::from_secs(4), "a signal must end a wait that has a signal mask (took {took:?})");
}

/// A timed-out wait is told from a satisfied one by the count: fewer than
/// `want` ready.
#[test]
fn timed_out_wait_returns_fewer_than_want() {
    let mut ring: Ring = Ring::new(8).expect("ring");
    let start = Instant::now();
    assert_eq!(ring.wait_timeout(1, Duration::from_millis(30)).expect("wait_timeout"), 0);
    assert!(start.elapsed() >= Duration::from_millis(25), "returned before the timeout");
    ring.submission().push(Nop::new().user_data(9)).expect("room");
    let (s, ready) = ring.submit_and_wait_timeout(2, Duration::from_millis(30)).expect("timed out, not an error");
    assert_eq!((s.consumed, ready), (1, 1), "one of two ready: the time ran out");
}

/// `want` past what the CQ holds (the kernel reads it as a signed int:
/// `u32::MAX` is -1 and returned at once) is refused, naming the limit.
#[test]
fn want_beyond_the_cq_is_refused() {
    let mut ring: Ring = Ring::new(4).expect("ring");
    let capacity = ring.completion().capacity();
    let check = |what: &str, r: Result<(), Error>| {
        let e = r.expect_err(what);
        assert!(matches!(e, Error::InvalidArgument { .. }), "{what}: {e:?}");
        assert!(e.to_string().contains(&format!("at most {capacity}")), "{what}: {e}");
    };
    ring.submission().push(Nop::new().user_data(1)).expect("room");
    check("submit_and_wait(u32::MAX)", ring.submit_and_wait(u32::MAX).map(|_| ()));
    check("wait(u32::MAX)", ring.wait(u32::MAX).map(|_| ()));
    check("wait(capacity + 1)", ring.wait(capacity + 1).map(|_| ()));
    check("wait_timeout(u32::MAX)", ring.wait_timeout(u32::MAX, Duration::from_millis(1)).map(|_| ()));
    check(
        "submit_and_wait_timeout(i32::MAX + 1)",
        ring.submit_and_wait_timeout(1 << 31, Duration::from_millis(1)).map(|_| ()),
    );
    // Nothing was submitted by the refusals: the NOP is still queued.
    assert_eq!(ring.submission().len(), 1);
    assert_eq!(ring.submit_and_wait(1).expect("submit_and_wait(1)").consumed, 1);
    assert_eq!(ring.completion().next().map(|c| c.user_data), Some(1));
}
