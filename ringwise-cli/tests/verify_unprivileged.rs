//! `ringwise verify` as an unprivileged user with a small RLIMIT_MEMLOCK:
//! configurations the limit cannot hold are skipped with the reason, never
//! counted as layout mismatches, and the verdict is the same run after run
//! (rings torn down asynchronously still count against the limit, so which
//! configurations fit may vary, but never into a mismatch).

use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::process::Command;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A uid no account uses, different for each run and each call.
fn fresh_uid(i: u32) -> u32 {
    40_000_000 + (std::process::id() % 100_000) * 10 + i
}

fn verify_as(uid: u32, memlock: u64) -> (Option<i32>, Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringwise"));
    cmd.args(["verify", "--json"]).uid(uid).gid(uid);
    // SAFETY: the closure runs in the forked child before exec and only
    // makes one async-signal-safe system call (setrlimit).
    unsafe {
        cmd.pre_exec(move || {
            use rustix::process::{setrlimit, Resource, Rlimit};
            setrlimit(Resource::Memlock, Rlimit { current: Some(memlock), maximum: Some(memlock) })
                .map_err(std::io::Error::from)
        });
    }
    let out = cmd.output().expect("run ringwise as an unprivileged uid");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let v: Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text}{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v, String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn memlock_limit_is_a_skip_never_a_mismatch() {
    if !is_root() {
        println!("skipped: not root; this test runs the binary as another uid with a small RLIMIT_MEMLOCK");
        return;
    }
    for (i, limit) in [(0u32, 256u64 << 10), (1, 256 << 10), (2, 1 << 20)] {
        let (code, v, err) = verify_as(fresh_uid(i), limit);
        let s = &v["summary"];
        let failed: Vec<String> = v["configs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "MISMATCH")
            .map(|c| c.to_string())
            .collect();
        assert!(failed.is_empty(), "limit {limit}: mismatches under a memlock limit:\n{}", failed.join("\n"));
        assert_eq!(s["mismatches"], 0, "{s}");
        assert!(s["passed"].as_u64().unwrap() > 0, "limit {limit}: nothing verified: {s}");
        assert!(s["skipped"].as_u64().unwrap() > 0, "limit {limit}: a {limit}-byte limit cannot hold every ring: {s}");
        for c in v["configs"].as_array().unwrap().iter().filter(|c| c["status"] == "skipped") {
            let reason = c["skip_reason"].as_str().unwrap_or_default();
            assert!(reason.contains("RLIMIT_MEMLOCK"), "skipped without the limit as reason: {c}");
        }
        assert_eq!(code, Some(0), "limit {limit}: {s} {err}");
        // The memlock proof needs root: skipped, with the reason.
        let m = &v["memlock"];
        assert!(m["skipped"].as_str().is_some_and(|r| r.contains("root")), "{m}");
    }
}
