//! Every command ends quietly when its reader goes away (`ringwise probe |
//! head -1`): stdout is a pipe whose read end is closed before the command
//! writes, so every write gets EPIPE. The command must exit 0 without a
//! panic message.

use std::process::{Command, Stdio};

fn with_closed_stdout(args: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringwise"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ringwise");
    // Close the read end at once: the first write to stdout fails with EPIPE.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
    assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
}

#[test]
fn probe_ends_quietly() {
    with_closed_stdout(&["probe"]);
    with_closed_stdout(&["probe", "--json"]);
}

#[test]
fn verify_ends_quietly() {
    with_closed_stdout(&["verify", "--count", "3"]);
    with_closed_stdout(&["verify", "--count", "3", "--json"]);
}

#[test]
fn layout_and_bench_end_quietly() {
    with_closed_stdout(&["layout", "--entries", "8"]);
    with_closed_stdout(&["layout", "--entries", "8", "--json"]);
    with_closed_stdout(&["bench", "nop", "--batch", "4", "--ops", "8"]);
    with_closed_stdout(&["bench", "nop", "--batch", "4", "--ops", "8", "--json"]);
    with_closed_stdout(&["--help"]);
}
