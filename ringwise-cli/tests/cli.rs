//! The `ringwise` binary, run as a user would: JSON output checked against
//! the library, error JSON and exit codes, and a short verification run on
//! the real kernel.

use ringwise::{RingSpec, SetupFlags};
use serde_json::Value;
use std::process::{Command, Output};

fn ringwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringwise")).args(args).output().expect("run the ringwise binary")
}

fn json_of(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn check_layout(args: &[&str], spec: RingSpec) {
    let mut full = vec!["layout", "--json"];
    full.extend_from_slice(args);
    // The spec is compared as given: keep the SQ array Builder would drop
    // on this kernel unless the case drops it itself.
    if !spec.flags.contains(SetupFlags::NO_SQARRAY) {
        full.push("--keep-sq-array");
    }
    let out = ringwise(&full);
    assert!(out.status.success(), "{:?}: {}", args, String::from_utf8_lossy(&out.stderr));
    let v = json_of(&out);
    let l = spec.layout().unwrap();
    assert_eq!(v["sq_entries"], l.sq_entries(), "{v}");
    assert_eq!(v["cq_entries"], l.cq_entries(), "{v}");
    assert_eq!(v["sqes_bytes"], l.sqes_bytes(), "{v}");
    assert_eq!(v["rings_bytes"], l.rings_bytes(), "{v}");
    assert_eq!(v["total_bytes"], l.total_bytes(), "{v}");
    assert_eq!(v["rings_used_bytes"], l.rings_used_bytes(), "{v}");
    assert_eq!(v["page_size"], l.page_size(), "{v}");
    assert_eq!(v["offsets"]["cqes"], l.cqes_offset(), "{v}");
    match l.sq_array_offset() {
        Some(off) => assert_eq!(v["offsets"]["sq_array"], off, "{v}"),
        None => assert!(v["offsets"]["sq_array"].is_null(), "{v}"),
    }
    let flags: Vec<&str> = v["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(flags.join(","), l.flags().names());
}

#[test]
fn layout_json_equals_the_library() {
    check_layout(&["--entries", "100"], RingSpec::new(100));
    check_layout(&["--entries", "128", "--flags", "NO_SQARRAY"], RingSpec::new(128).flags(SetupFlags::NO_SQARRAY));
    check_layout(
        &["--entries", "1000", "--cq-entries", "3000", "--flags", "sqe128,IORING_SETUP_CQE32"],
        RingSpec::new(1000).cq_entries(3000).flags(SetupFlags::SQE128 | SetupFlags::CQE32),
    );
    check_layout(
        &["--entries", "100000", "--cq-entries", "100000", "--flags", "CLAMP"],
        RingSpec::new(100_000).cq_entries(100_000).flags(SetupFlags::CLAMP),
    );
    check_layout(&["--entries", "1", "--flags", "CQE_MIXED"], RingSpec::new(1).flags(SetupFlags::CQE_MIXED));
}

#[test]
fn layout_table_shows_both_regions() {
    let out = ringwise(&["layout", "--entries", "1024", "--keep-sq-array"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["header", "CQEs", "SQ array", "SQEs", "40960", "65536", "106496"] {
        assert!(text.contains(needle), "no `{needle}` in:\n{text}");
    }
}

#[test]
fn layout_errors_are_json_with_errno_and_fail() {
    let out = ringwise(&["layout", "--entries", "0", "--json"]);
    assert!(!out.status.success());
    let v = json_of(&out);
    assert_eq!(v["errno"], "EINVAL", "{v}");
    assert!(v["error"].as_str().unwrap().contains("at least 1"), "{v}");

    let out = ringwise(&["layout", "--entries", "1", "--cq-entries", "1", "--flags", "CQE_MIXED", "--json"]);
    assert!(!out.status.success());
    assert_eq!(json_of(&out)["errno"], "EOVERFLOW");

    let out = ringwise(&["layout", "--entries", "8", "--flags", "NOPE", "--json"]);
    assert!(!out.status.success());
    let v = json_of(&out);
    assert_eq!(v["errno"], "EINVAL");
    assert!(v["error"].as_str().unwrap().contains("NOPE"), "{v}");

    let out = ringwise(&["layout", "--entries", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("EINVAL"));
}

#[test]
fn probe_json_parses_and_names_what_the_kernel_has() {
    let out = ringwise(&["probe", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json_of(&out);
    assert!(!v["kernel"].as_str().unwrap().is_empty());
    let features = v["features"]["names"].as_array().expect("feature names");
    assert!(features.iter().any(|f| f == "SINGLE_MMAP"), "{v}");
    let ops = v["opcodes"]["supported"].as_array().expect("opcodes");
    assert_eq!(ops[0]["name"], "NOP");
    assert!(ops.iter().any(|o| o["name"] == "READ"));
    // The opcode catalog: every known opcode with its builder, its liburing
    // helpers and whether this kernel's probe supports it.
    let catalog = v["opcodes"]["catalog"].as_array().expect("opcode catalog");
    assert_eq!(catalog.len(), ringwise::op::CATALOG.len());
    let read = catalog.iter().find(|o| o["name"] == "READ").expect("READ in the catalog");
    assert_eq!(read["supported"], true);
    assert!(read["builders"].as_array().unwrap().iter().any(|b| b == "Read"), "{read}");
    assert!(read["liburing"].as_array().unwrap().iter().any(|h| h == "io_uring_prep_read"), "{read}");
    for op in catalog {
        let supported = ops.iter().any(|o| o["op"] == op["op"]);
        assert_eq!(op["supported"].as_bool().unwrap(), supported, "{op}");
    }
    let flags = v["setup_flags"].as_array().expect("setup flags");
    assert_eq!(flags.len(), SetupFlags::all().iter().count());
    let cqsize = flags.iter().find(|f| f["name"] == "CQSIZE").expect("CQSIZE");
    assert_eq!(cqsize["accepted"], true);
    for f in flags {
        // A refused flag carries the errno, an accepted one none.
        assert_eq!(f["accepted"].as_bool().unwrap(), f["errno"].is_null(), "{f}");
    }
}

#[test]
fn probe_text_lists_flags() {
    let out = ringwise(&["probe"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("kernel:") && text.contains("NO_MMAP") && text.contains("NOP"), "{text}");
}

#[test]
fn verify_count_10_exits_0() {
    let out = ringwise(&["verify", "--count", "10"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("verified 10 configurations: 10 exact, 0 mismatches"), "{text}");
    assert!(text.contains("kernel-EFAULT"), "{text}");
    // stderr is not a terminal here: no progress bar.
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn verify_json_has_every_check() {
    let out = ringwise(&["verify", "--count", "5", "--json"]);
    assert!(out.status.success());
    let v = json_of(&out);
    assert_eq!(v["summary"]["configs"], 5);
    assert_eq!(v["summary"]["mismatches"], 0);
    for c in v["configs"].as_array().unwrap() {
        assert_eq!(c["status"], "ok", "{c}");
        let checks = c["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 6, "{c}");
        assert!(checks.iter().all(|k| k["result"] == "passed"), "{c}");
    }
}

#[test]
fn verify_default_runs_at_least_100() {
    let out = ringwise(&["verify", "--quiet"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let line = text.lines().find(|l| l.starts_with("verified ")).expect("summary line");
    let n: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(n >= 100, "{line}");
    assert!(line.contains(" 0 mismatches"), "{line}");
}

#[test]
fn bad_input_names_the_option_and_what_it_accepts() {
    let out = ringwise(&["layout", "--entries", "8", "--flags", "SQE128,NOPE"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("ringwise layout: unknown setup flag `NOPE`; known flags: "), "{err}");
    assert!(err.contains("IORING_SETUP_") && err.trim_end().ends_with("(EINVAL)"), "{err}");
    assert!(out.stdout.is_empty());

    for (args, needle) in [
        (&["bench", "nop", "--batch", "0"][..], "--batch must be at least 1, not 0"),
        (&["bench", "read", "--file", "/dev/null", "--size", "0"][..], "--size must be at least 1, not 0"),
        (&["bench", "read", "--file", "/dev/null", "--depth", "0"][..], "--depth must be at least 1, not 0"),
        (&["bench", "read", "--file", "/nonexistent/ringwise"][..], "cannot open /nonexistent/ringwise: "),
        (&["bench", "nop", "--batch", "40000"][..], "--batch must be at most 32768, not 40000"),
    ] {
        let out = ringwise(args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("ringwise bench: ") && err.contains(needle), "{args:?}: {err}");
    }
}
