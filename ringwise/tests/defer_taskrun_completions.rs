//! `completions()` leaves no CQE behind on a `SINGLE_ISSUER |
//! DEFER_TASKRUN` ring without `TASKRUN_FLAG` (issue 9, item 8): there the
//! SQ flags never say that completions wait as task work.

use ringwise::op::{Timeout, Timespec};
use ringwise::{Builder, Cqe16, Sqe64};
use std::time::Duration;

#[test]
fn completions_runs_deferred_task_work() {
    let mut ring = match Builder::<Sqe64, Cqe16>::new(8).single_issuer().defer_taskrun().build() {
        Ok(ring) => ring,
        Err(e) => {
            println!("skipped: this kernel refuses SINGLE_ISSUER | DEFER_TASKRUN (Linux 6.1): {e}");
            return;
        }
    };
    // Timer completions are posted as task work, which DEFER_TASKRUN runs
    // only when this thread enters with GETEVENTS.
    let ts = Timespec::from(Duration::from_millis(1));
    for ud in [1, 2] {
        // SAFETY: `ts` outlives the submit below, which reads it.
        unsafe { ring.submission().push_unchecked(Timeout::new(&ts).user_data(ud)) }.expect("room");
    }
    assert_eq!(ring.submit().expect("submit").consumed, 2);
    std::thread::sleep(Duration::from_millis(100));
    let mut got: Vec<u64> = ring.completions().expect("completions").map(|c| c.user_data).collect();
    got.extend(ring.completions().expect("completions").map(|c| c.user_data));
    got.sort_unstable();
    assert_eq!(got, [1, 2], "both timers fired 100 ms ago; completions() must run the deferred task work");
}
