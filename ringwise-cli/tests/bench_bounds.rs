//! `ringwise bench` refuses sizes it cannot honour, before allocating or
//! submitting anything, with a message naming the bound: read buffers
//! (`--size` x `--depth`), one read above what the kernel does in one op,
//! `--depth`/`--entries` above the SQ maximum, and zero or absurd counts.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run ringwise with a deadline; a run past it is killed and reported.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringwise"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ringwise");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().expect("kill");
            child.wait().expect("reap");
            panic!("{args:?} still ran after 60 s: nothing bounded it");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.code(), out, err)
}

/// A sparse file of `len` bytes (no disk blocks; reads give zeros).
fn sparse(name: &str, len: u64) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(len).unwrap();
    path
}

fn refused(args: &[&str], needles: &[&str]) {
    let (code, out, err) = run(args);
    assert_ne!(code, Some(0), "{args:?} should be refused: {out}{err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: no `{n}` in: {err}");
    }
}

#[test]
fn read_buffers_of_140_tb_are_refused_naming_the_bound() {
    let file = sparse("bounds-5g", 5 << 30);
    let f = file.to_str().unwrap();
    // The reported scenario: 4294967295 x 32768 = 140 TB of buffers.
    refused(&["bench", "read", "--file", f, "--size", "4294967295", "--depth", "32768"], &["--size", "2147479552"]);
    // Each read within the kernel's limit, but the buffers together too big.
    refused(
        &["bench", "read", "--file", f, "--size", "1073741824", "--depth", "32768"],
        &["--size x --depth", "at most"],
    );
    refused(&["bench", "read", "--file", f, "--depth", "40000"], &["--depth", "32768"]);
    std::fs::remove_file(file).unwrap();
}

#[test]
fn reads_above_what_one_op_can_do_are_refused_not_short() {
    // A read of more than 2147479552 bytes (MAX_RW_COUNT) returns at most
    // that much: it used to run for a long time and then blame the file.
    let file = sparse("bounds-3g", 3 << 30);
    let f = file.to_str().unwrap();
    let (code, out, err) = run(&["bench", "read", "--file", f, "--size", "2147483648", "--depth", "1", "--ops", "1"]);
    assert_ne!(code, Some(0), "{out}{err}");
    assert!(!err.contains("shrink"), "{err}");
    assert!(err.contains("2147479552") && err.contains("--size"), "{err}");
    std::fs::remove_file(file).unwrap();
}

#[test]
fn zero_entries_and_zero_ops_are_refused() {
    refused(&["bench", "nop", "--entries", "0"], &["--entries must be at least 1, not 0"]);
    refused(&["bench", "nop", "--ops", "0"], &["--ops must be at least 1, not 0"]);
    refused(&["bench", "nop", "--ops", "1", "--batch", "32"], &["--ops", "--batch"]);
    refused(&["bench", "nop", "--entries", "16", "--batch", "32"], &["--batch 32", "16"]);
    refused(&["bench", "nop", "--entries", "40000"], &["--entries", "32768"]);
    refused(&["bench", "nop", "--ops", "18446744073709551615"], &["--ops", "at most"]);
    refused(&["bench", "read", "--file", "/dev/null", "--ops", "0"], &["--ops must be at least 1, not 0"]);
}
