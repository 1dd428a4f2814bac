//! `ringwise layout` without flags shows the ring `Builder` would set up on
//! this kernel (which drops the SQ index array with NO_SQARRAY where the
//! kernel has it), says which applies, and gives the exact RLIMIT_MEMLOCK
//! charge of the ring.

use ringwise::memlock::{self, RingMemoryKind};
use ringwise::{Builder, Cqe16, Cqe32, Layout, SetupFlags, Sqe128, Sqe64};
use serde_json::Value;
use std::process::{Command, Output};

fn ringwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringwise")).args(args).output().expect("run ringwise")
}

fn json(args: &[&str]) -> Value {
    let mut full = vec!["layout", "--json"];
    full.extend_from_slice(args);
    let out = ringwise(&full);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn same(v: &Value, l: &Layout) {
    assert_eq!(v["total_bytes"], l.total_bytes(), "{v}");
    assert_eq!(v["rings_bytes"], l.rings_bytes(), "{v}");
    assert_eq!(v["sqes_bytes"], l.sqes_bytes(), "{v}");
    // Builder::layout is the layout in caller memory (NO_MMAP); the sizes
    // are the same in kernel memory, which `ringwise layout` shows.
    assert_eq!(v["flags_bits"], (l.flags() - SetupFlags::NO_MMAP).bits(), "{v}");
    assert_eq!(v["memlock_bytes"], memlock::ring(l, RingMemoryKind::Kernel).bytes(), "{v}");
}

#[test]
fn default_layout_is_the_builders() {
    let l = Builder::<Sqe64, Cqe16>::new(1024).layout().unwrap();
    same(&json(&["--entries", "1024"]), &l);
    let l = Builder::<Sqe128, Cqe32>::new(100).cq_entries(1000).layout().unwrap();
    same(&json(&["--entries", "100", "--cq-entries", "1000", "--flags", "SQE128,CQE32"]), &l);
    let l = Builder::<Sqe64, Cqe16>::new(1024).keep_sq_array().layout().unwrap();
    let v = json(&["--entries", "1024", "--keep-sq-array"]);
    same(&v, &l);
    assert_eq!(v["total_bytes"], 106_496);
    assert!(v["sq_array"].as_str().unwrap().contains("--keep-sq-array"), "{v}");
    let l = Builder::<Sqe64, Cqe16>::new(1024).no_sq_array().layout().unwrap();
    same(&json(&["--entries", "1024", "--flags", "NO_SQARRAY"]), &l);
}

#[test]
fn table_and_help_say_which_applies() {
    let out = ringwise(&["layout", "--entries", "1024"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let l = Builder::<Sqe64, Cqe16>::new(1024).layout().unwrap();
    assert!(text.contains(&l.total_bytes().to_string()), "{text}");
    assert!(text.contains("SQ array:"), "{text}");
    let charge = memlock::ring(&l, RingMemoryKind::Kernel);
    assert!(text.contains("memlock") && text.contains(&charge.bytes().to_string()), "{text}");
    let help = String::from_utf8_lossy(&ringwise(&["layout", "--help"]).stdout).to_string();
    assert!(help.contains("NO_SQARRAY") && help.contains("--keep-sq-array") && help.contains("Builder"), "{help}");
}
