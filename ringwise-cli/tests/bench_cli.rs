//! `ringwise bench` end to end, with tiny op counts: the JSON object has the
//! promised fields with consistent values, the text summary is printed, and
//! bad input fails with a message. Timings are never checked (benchmarks are
//! not tests).

use serde_json::Value;
use std::process::{Command, Output};

fn ringwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringwise")).args(args).output().expect("run ringwise")
}

fn json_of(args: &[&str]) -> Value {
    let out = ringwise(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{args:?} failed: {}{}", stdout, String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "--json prints exactly one line: {stdout}");
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// The fields every bench object has, consistent with each other.
fn check_common(v: &Value, ops: u64) {
    assert_eq!(v["ops"].as_u64(), Some(ops), "{v}");
    let secs = v["secs"].as_f64().expect("secs");
    let ops_per_s = v["ops_per_s"].as_f64().expect("ops_per_s");
    let ns_per_op = v["ns_per_op"].as_f64().expect("ns_per_op");
    assert!(secs > 0.0 && ops_per_s > 0.0 && ns_per_op > 0.0, "{v}");
    let rel = |a: f64, b: f64| ((a - b) / b).abs();
    assert!(rel(ops_per_s, ops as f64 / secs) < 1e-6, "ops_per_s = ops / secs: {v}");
    assert!(rel(ns_per_op, secs * 1e9 / ops as f64) < 1e-6, "ns_per_op = secs / ops: {v}");
}

#[test]
fn nop_json_default_and_fast() {
    let v = json_of(&["bench", "nop", "--batch", "8", "--ops", "800", "--json"]);
    check_common(&v, 800);
    assert_eq!(v["bench"], "nop");
    assert_eq!(v["batch"], 8);
    assert_eq!(v["mode"], "default");
    assert_eq!(v["memory"], "kernel");

    let v = json_of(&["bench", "nop", "--batch", "1", "--ops", "50", "--mode", "fast", "--memory", "user", "--json"]);
    check_common(&v, 50);
    assert_eq!(v["mode"], "fast");
    assert_eq!(v["memory"], "user");
}

#[test]
fn nop_rounds_down_to_whole_batches() {
    let v = json_of(&["bench", "nop", "--batch", "32", "--ops", "100", "--json"]);
    check_common(&v, 96);
    // Less than one batch is refused (tests/bench_bounds.rs), never raised.
    let v = json_of(&["bench", "nop", "--batch", "32", "--ops", "32", "--json"]);
    check_common(&v, 32);
}

#[test]
fn nop_huge_memory_reports_what_it_got() {
    let v = json_of(&["bench", "nop", "--batch", "4", "--ops", "40", "--memory", "huge", "--json"]);
    check_common(&v, 40);
    let detail = v["memory_detail"].as_str().expect("memory_detail");
    // Either real huge pages, or the fallback with its reason.
    assert!(detail.contains("huge") || detail.contains("2 MiB"), "{detail}");
}

#[test]
fn nop_text_summary() {
    let out = ringwise(&["bench", "nop", "--batch", "4", "--ops", "40"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("40 NOPs in batches of 4"), "{text}");
    assert!(text.contains("M ops/s") && text.contains("ns/op"), "{text}");
}

#[test]
fn read_json_from_a_temp_file() {
    let path = std::env::temp_dir().join(format!("ringwise-bench-cli-{}.dat", std::process::id()));
    std::fs::write(&path, vec![7u8; 64 * 1024]).unwrap();
    let p = path.to_str().unwrap();
    let v = json_of(&["bench", "read", "--file", p, "--depth", "8", "--ops", "64", "--json"]);
    check_common(&v, 64);
    assert_eq!(v["bench"], "read");
    assert_eq!(v["size"], 4096);
    assert_eq!(v["depth"], 8);
    // 64 reads over 16 pieces: the offsets wrap, nothing is short.
    let v = json_of(&["bench", "read", "--file", p, "--size", "512", "--depth", "4", "--ops", "400", "--json"]);
    check_common(&v, 400);
    let text = ringwise(&["bench", "read", "--file", p, "--ops", "32"]);
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains("MB/s"));
    std::fs::remove_file(&path).unwrap();
}

/// A file of `len` bytes (byte i is i mod 251) in the target's temp dir,
/// on the disk rather than tmpfs, so that O_DIRECT can be tried.
fn data_file(name: &str, len: usize) -> std::path::PathBuf {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    std::fs::write(&path, (0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>()).unwrap();
    path
}

#[test]
fn read_keeps_depth_in_flight_and_runs_exactly_ops() {
    let path = data_file("bench-read-depth", 256 * 1024);
    let p = path.to_str().unwrap();
    // Not a multiple of --depth or --batch: exactly --ops reads run.
    let v = json_of(&["bench", "read", "--file", p, "--depth", "8", "--batch", "3", "--ops", "13", "--json"]);
    check_common(&v, 13);
    assert_eq!(v["depth"], 8);
    assert_eq!(v["batch"], 3);
    assert_eq!(v["api"], "core");
    assert_eq!(v["random"], false);
    assert_eq!(v["direct"], false);
    // 13 reads in batches of at most 3: at least 5 enters, at most 13.
    let enters = v["enters"].as_u64().unwrap();
    assert!((5..=13).contains(&enters), "{v}");
    // The default batch is 32, or --depth if smaller.
    let v = json_of(&["bench", "read", "--file", p, "--depth", "4", "--ops", "100", "--json"]);
    assert_eq!(v["batch"], 4);
    let v = json_of(&["bench", "read", "--file", p, "--depth", "128", "--ops", "1000", "--json"]);
    assert_eq!(v["batch"], 32);
    check_common(&v, 1000);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn read_random_and_tuned_modes() {
    // Three whole pieces and a partial one: random offsets stay on whole
    // pieces (a read past them would come back short and fail the run).
    let path = data_file("bench-read-modes", 3 * 4096 + 100);
    let p = path.to_str().unwrap();
    let v = json_of(&["bench", "read", "--file", p, "--random", "--depth", "16", "--ops", "2000", "--json"]);
    check_common(&v, 2000);
    assert_eq!(v["random"], true);
    let v = json_of(&["bench", "read", "--file", p, "--tuned", "--depth", "8", "--ops", "500", "--json"]);
    check_common(&v, 500);
    for field in ["fixed_buffers", "register_files", "register_ring"] {
        assert_eq!(v[field], true, "{field}: {v}");
    }
    let v = json_of(&[
        "bench",
        "read",
        "--file",
        p,
        "--fixed-buffers",
        "--random",
        "--setup-flags",
        "single_issuer,defer_taskrun,coop_taskrun",
        "--ops",
        "300",
        "--json",
    ]);
    check_common(&v, 300);
    assert_eq!(v["fixed_buffers"], true);
    assert_eq!(v["register_files"], false);
    let flags = v["setup_flags"].as_str().unwrap();
    assert!(flags.contains("DEFER_TASKRUN") && flags.contains("SINGLE_ISSUER"), "{v}");
    let out = ringwise(&["bench", "read", "--file", p, "--register-files", "--register-ring", "--ops", "64"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("registered file, registered ring fd") && text.contains("reads per enter"), "{text}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn read_direct_where_the_filesystem_allows_it() {
    let path = data_file("bench-read-direct", 1 << 20);
    let p = path.to_str().unwrap();
    let out =
        ringwise(&["bench", "read", "--file", p, "--direct", "--random", "--depth", "8", "--ops", "200", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() {
        let v: Value = serde_json::from_str(stdout.trim()).unwrap();
        check_common(&v, 200);
        assert_eq!(v["direct"], true);
        // Not a multiple of the direct-I/O alignment: refused before reading.
        let out = ringwise(&["bench", "read", "--file", p, "--direct", "--size", "100", "--ops", "10"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("--size must be a multiple of"), "{err}");
    } else {
        assert!(stdout.contains("O_DIRECT"), "a refusal names O_DIRECT: {stdout}");
        println!("skipped: {} does not take O_DIRECT here: {stdout}", env!("CARGO_TARGET_TMPDIR"));
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn read_direct_on_tmpfs_is_refused_naming_it() {
    let dir = std::path::Path::new("/dev/shm");
    // `f_type`'s type differs between architectures (i64 on x86-64).
    #[allow(clippy::unnecessary_cast)]
    let is_tmpfs = rustix::fs::statfs(dir).is_ok_and(|s| s.f_type as i64 == 0x0102_1994);
    if !is_tmpfs {
        println!("skipped: /dev/shm is not a tmpfs on this machine");
        return;
    }
    let path = dir.join(format!("ringwise-bench-direct-{}", std::process::id()));
    std::fs::write(&path, vec![1u8; 64 * 1024]).unwrap();
    let out = ringwise(&["bench", "read", "--file", path.to_str().unwrap(), "--direct", "--ops", "10", "--json"]);
    std::fs::remove_file(&path).unwrap();
    assert!(!out.status.success());
    let v: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("tmpfs") && msg.contains("O_DIRECT"), "{v}");
    assert_eq!(v["errno"], "EINVAL");
}

#[test]
fn read_apis_owned_and_async_read_every_op() {
    let path = data_file("bench-read-api", 64 * 1024);
    let p = path.to_str().unwrap();
    for api in ["core", "owned", "async"] {
        for extra in [&[][..], &["--tuned", "--random"][..]] {
            let mut args = vec!["bench", "read", "--file", p, "--api", api, "--ops", "100", "--depth", "8", "--json"];
            args.extend_from_slice(extra);
            let out = ringwise(&args);
            assert!(out.status.success(), "--api {api} {extra:?}: {}", String::from_utf8_lossy(&out.stderr));
            let v: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
            assert_eq!(v["ops"], 100, "--api {api} {extra:?}: {v}");
        }
    }
    // Deeper than a fixed-buffer table: refused with the reason, not a panic.
    let out =
        ringwise(&["bench", "read", "--file", p, "--api", "owned", "--depth", "20000", "--ops", "20000", "--json"]);
    assert!(!out.status.success());
    let v: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("16384"), "{v}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn bad_input_fails_with_a_message() {
    let cases: &[&[&str]] = &[
        &["bench", "nop", "--batch", "0"],
        &["bench", "nop", "--batch", "64", "--entries", "1", "--ops", "64"],
        &["bench", "read", "--file", "/nonexistent/ringwise-bench"],
        &["bench", "read", "--file", "/dev/null"],
        &["bench", "read", "--file", "/dev/null", "--batch", "0"],
        &["bench", "read", "--file", "/dev/null", "--depth", "8", "--batch", "9"],
        &["bench", "read", "--file", "/dev/null", "--setup-flags", "nope"],
    ];
    for args in cases {
        let out = ringwise(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains("ringwise bench:"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}
