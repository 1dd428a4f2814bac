//! Criterion setup and the timed sample that every bench shares.

use criterion::Criterion;
use std::time::{Duration, Instant};

/// Half a second of warm-up, `measurement` per benchmark and 20 samples:
/// enough to rank the clients while a full run stays within minutes.
pub fn config(measurement: Duration) -> Criterion {
    Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(measurement).sample_size(20)
}

/// Time one sample of `client`, `run`, then check the checksum it returns
/// against `want` (outside the timing), so that a client that loses or
/// invents completions fails the bench with `failure` instead of looking
/// fast.
pub fn timed(client: &str, failure: &str, want: u64, run: impl FnOnce() -> u64) -> Duration {
    let t = Instant::now();
    let sum = run();
    let elapsed = t.elapsed();
    assert_eq!(sum, want, "{client}: {failure}");
    elapsed
}
