//! Errors name their errno once, and with `--json` every error (argument
//! errors from clap included) is one JSON object `{"error", "errno"}` on
//! stdout with a non-zero exit.

use serde_json::Value;
use std::process::{Command, Output};

fn ringwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringwise")).args(args).output().expect("run ringwise")
}

#[test]
fn errno_appears_once() {
    for (args, errno) in [
        (&["layout", "--entries", "0"][..], "EINVAL"),
        (&["layout", "--entries", "1", "--cq-entries", "1", "--flags", "CQE_MIXED"][..], "EOVERFLOW"),
        (&["layout", "--entries", "8", "--flags", "NOPE"][..], "EINVAL"),
    ] {
        let out = ringwise(args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.matches(errno).count(), 1, "{args:?}: {err}");
    }
}

fn json_error(args: &[&str], errno: &str, needle: &str) {
    let out = ringwise(args);
    assert!(!out.status.success(), "{args:?} should fail");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: one JSON line on stdout, got: {stdout} / {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout}"));
    let obj = v.as_object().unwrap();
    assert_eq!(v["errno"], errno, "{args:?}: {v}");
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains(needle), "{args:?}: {v}");
    assert_eq!(msg.matches(errno).count().min(1), msg.matches(errno).count(), "{v}");
    assert!(obj.keys().all(|k| k == "error" || k == "errno"), "{args:?}: {v}");
}

#[test]
fn json_errors_from_every_command() {
    json_error(&["layout", "--json", "--entries", "x"], "EINVAL", "--entries");
    json_error(&["layout", "--json"], "EINVAL", "--entries");
    json_error(&["layout", "--json", "--entries", "0"], "EINVAL", "at least 1");
    json_error(&["bench", "nop", "--json", "--batch", "0"], "EINVAL", "--batch must be at least 1");
    json_error(&["bench", "nop", "--json", "--bogus"], "EINVAL", "--bogus");
    json_error(&["bench", "read", "--json", "--file", "/nonexistent/ringwise"], "ENOENT", "cannot open");
    json_error(&["bench", "read", "--json"], "EINVAL", "--file");
    json_error(&["verify", "--json", "--count", "0"], "EINVAL", "--count");
    json_error(&["probe", "--json", "--bogus"], "EINVAL", "--bogus");
}

#[test]
fn without_json_errors_stay_text_on_stderr() {
    let out = ringwise(&["bench", "nop", "--batch", "0"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("ringwise bench: --batch must be at least 1"), "{err}");
    assert_eq!(err.matches("EINVAL").count(), 1, "{err}");
}
