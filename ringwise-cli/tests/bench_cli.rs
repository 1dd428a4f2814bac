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

#[test]
fn bad_input_fails_with_a_message() {
    let cases: &[&[&str]] = &[
        &["bench", "nop", "--batch", "0"],
        &["bench", "nop", "--batch", "64", "--entries", "1", "--ops", "64"],
        &["bench", "read", "--file", "/nonexistent/ringwise-bench"],
        &["bench", "read", "--file", "/dev/null"],
    ];
    for args in cases {
        let out = ringwise(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains("ringwise bench:"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}
