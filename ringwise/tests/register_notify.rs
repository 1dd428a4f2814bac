//! Eventfd notification (sync and async), messages from no ring, the wait
//! clock, NAPI settings and the kernel query, against the running kernel.

use ringwise::op::Nop;
use ringwise::probe::Probe;
use ringwise::register::{query_opcodes, send_msg_ring, Clock, NapiSettings, NapiTracking};
use ringwise::{Builder, Ring, SqeFlags};
use rustix::event::{eventfd, EventfdFlags};
use rustix::time::{clock_gettime, ClockId};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The eventfd's counter, reset to 0; 0 when it was not signalled.
fn take_count(efd: &OwnedFd) -> u64 {
    let mut buf = [0u8; 8];
    match rustix::io::read(efd, &mut buf) {
        Ok(8) => u64::from_ne_bytes(buf),
        Err(rustix::io::Errno::AGAIN) => 0,
        other => panic!("eventfd read: {other:?}"),
    }
}

fn nop(ring: &mut Ring, flags: SqeFlags) {
    ring.submission().push(Nop::new().user_data(1).flags(flags)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completion().next().unwrap().res, 0);
}

#[test]
fn eventfd_is_signalled_per_completion() {
    let mut ring = Ring::new(8).unwrap();
    let efd = eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC).unwrap();
    ring.register_eventfd(efd.as_fd(), false).unwrap();
    nop(&mut ring, SqeFlags::empty());
    assert_eq!(take_count(&efd), 1);
    // Paused through the CQ flag, then resumed.
    ring.completion().set_eventfd_enabled(false);
    nop(&mut ring, SqeFlags::empty());
    assert_eq!(take_count(&efd), 0);
    ring.completion().set_eventfd_enabled(true);

    let err = ring.register_eventfd(efd.as_fd(), false).unwrap_err();
    assert_eq!(err.errno_name(), "EBUSY", "{err}");
    ring.unregister_eventfd().unwrap();
    nop(&mut ring, SqeFlags::empty());
    assert_eq!(take_count(&efd), 0, "no signal after unregistering");
    let err = ring.unregister_eventfd().unwrap_err();
    assert_eq!(err.errno_name(), "ENXIO", "{err}");
}

#[test]
fn async_eventfd_is_signalled_only_for_worker_completions() {
    let mut ring = Ring::new(8).unwrap();
    let efd = eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC).unwrap();
    ring.register_eventfd(efd.as_fd(), true).unwrap();
    nop(&mut ring, SqeFlags::empty());
    assert_eq!(take_count(&efd), 0, "an inline completion does not signal");
    nop(&mut ring, SqeFlags::ASYNC);
    assert_eq!(take_count(&efd), 1, "a completion from an io-wq worker signals");
}

#[test]
fn message_from_no_ring_posts_a_cqe() {
    let mut target = Ring::new(8).unwrap();
    let fd = target.fd().unwrap();
    send_msg_ring(fd, 0xfeed, 77, 0).unwrap();
    send_msg_ring(fd, 0xbeef, -5, 0x8000).unwrap();
    target.wait(2).unwrap();
    let got: Vec<(u64, i32, u32)> = target.completions().unwrap().map(|c| (c.user_data, c.res, c.flags)).collect();
    assert_eq!(got, vec![(0xfeed, 77, 0), (0xbeef, -5, 0x8000)]);
    let (r, _w) = rustix::pipe::pipe().unwrap();
    let err = send_msg_ring(r.as_fd(), 1, 1, 0).unwrap_err();
    assert!(err.errno_name() == "EBADFD" || err.errno_name() == "EBADF", "{err}");
}

fn clock_now(id: ClockId) -> Duration {
    let ts = clock_gettime(id);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[test]
fn waits_end_at_an_absolute_time_on_the_registered_clock() {
    let mut ring: Ring = Builder::new(8).build().unwrap();
    for (clock, id) in [(Clock::Boottime, ClockId::Boottime), (Clock::Monotonic, ClockId::Monotonic)] {
        ring.register_clock(clock).unwrap();
        let start = Instant::now();
        let ready = ring.wait_until(1, clock_now(id) + Duration::from_millis(80)).unwrap();
        let waited = start.elapsed();
        assert_eq!(ready, 0);
        assert!(waited >= Duration::from_millis(70) && waited < Duration::from_secs(2), "{clock:?}: {waited:?}");
        // A deadline in the past returns at once; a CQE that is ready returns too.
        let start = Instant::now();
        ring.wait_until(1, clock_now(id) - Duration::from_millis(500)).unwrap();
        assert!(start.elapsed() < Duration::from_millis(50));
        ring.submission().push(Nop::new().user_data(3)).unwrap();
        ring.submit().unwrap();
        assert_eq!(ring.wait_until(1, clock_now(id) + Duration::from_secs(5)).unwrap(), 1);
        assert_eq!(ring.completion().next().unwrap().user_data, 3);
    }
    println!(
        "note: CLOCK_BOOTTIME - CLOCK_MONOTONIC = {:?} here (no suspend), so the two clocks cannot be told apart",
        clock_now(ClockId::Boottime).saturating_sub(clock_now(ClockId::Monotonic))
    );
    let err = ring.register_clock_id(0).unwrap_err();
    assert_eq!(err.errno_name(), "EINVAL");
    assert!(err.to_string().contains("CLOCK_BOOTTIME"), "{err}");
}

/// The ring's lines in /proc/self/fdinfo that mention NAPI.
fn napi_fdinfo(ring: &Ring) -> String {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", ring.as_raw_fd())).unwrap();
    info.lines().filter(|l| l.to_lowercase().contains("napi")).collect::<Vec<_>>().join("\n")
}

#[test]
fn napi_settings_round_trip_and_show_in_fdinfo() {
    let ring = Ring::new(8).unwrap();
    let first = NapiSettings { busy_poll_timeout_us: 50, prefer_busy_poll: true, tracking: NapiTracking::Dynamic };
    let before = ring.register_napi(first).unwrap();
    assert_eq!(before.busy_poll_timeout_us, 0);
    assert!(!before.prefer_busy_poll);
    let info = napi_fdinfo(&ring);
    println!("fdinfo with NAPI on:\n{info}");
    assert!(info.contains("enabled") || info.contains("50"), "fdinfo shows busy polling: {info}");

    let second = NapiSettings { busy_poll_timeout_us: 100, prefer_busy_poll: false, tracking: NapiTracking::Static };
    assert_eq!(ring.register_napi(second).unwrap(), first, "the previous settings come back");
    assert!(napi_fdinfo(&ring).contains("static"), "{}", napi_fdinfo(&ring));
    // Static tracking takes ids by hand; removing one never added is refused.
    let err = ring.napi_del_id(123_456).unwrap_err();
    assert_eq!(err.errno_name(), "ENOENT", "{err}");
    // Unregistering reports the timeout and preference (the kernel leaves
    // the tracking mode out of this answer).
    let last = ring.unregister_napi().unwrap();
    assert_eq!((last.busy_poll_timeout_us, last.prefer_busy_poll), (100, false));
    let info = napi_fdinfo(&ring);
    assert!(info.contains("disabled") || !info.contains("100"), "fdinfo shows busy polling off: {info}");
    // Adding ids needs Static tracking.
    let err = ring.napi_add_id(123_456).unwrap_err();
    assert_eq!(err.errno_name(), "EINVAL", "{err}");
}

#[test]
fn query_reports_the_kernel_opcode_counts() {
    let q = match query_opcodes() {
        Ok(q) => q,
        Err(e) if e.errno_name() == "EINVAL" => {
            eprintln!("skipped: this kernel has no IORING_REGISTER_QUERY (Linux 6.18): {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let probe = Probe::new().unwrap();
    assert_eq!(q.nr_request_opcodes, probe.last_op() as u32 + 1, "{q:?}");
    assert!(q.nr_register_opcodes >= 36, "6.18 knows register opcodes 0..=35: {q:?}");
    let features = Ring::new(1).unwrap().features().bits() as u64;
    assert_eq!(q.feature_flags & features, features, "every feature a ring reports is listed: {q:?}");
    assert_ne!(q.ring_setup_flags & (1 << 13), 0, "SINGLE_ISSUER listed");
    println!("{q:?}");
}
