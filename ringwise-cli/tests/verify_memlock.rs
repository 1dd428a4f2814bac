//! `ringwise verify`'s memlock section: for a spread of configurations,
//! setup as a fresh unprivileged uid under RLIMIT_MEMLOCK = the predicted
//! charge succeeds and one page less fails with ENOMEM.

use ringwise::memlock::{self, RingMemoryKind};
use ringwise::RingSpec;
use serde_json::Value;
use std::process::Command;

#[test]
fn verify_proves_the_memlock_charge() {
    let out = Command::new(env!("CARGO_BIN_EXE_ringwise")).args(["verify", "--count", "2", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &v["memlock"];
    if !rustix::process::geteuid().is_root() {
        assert!(m["skipped"].as_str().is_some_and(|r| r.contains("root")), "{m}");
        println!("skipped: not root; the memlock proof switches to unused uids");
        return;
    }
    let cases = m["configs"].as_array().unwrap_or_else(|| panic!("{m}"));
    assert!(cases.len() >= 10, "{m}");
    assert_eq!(m["failed"], 0, "{m}");
    assert_eq!(m["proved"].as_u64().unwrap() as usize, cases.len(), "{m}");
    for c in cases {
        let spec = RingSpec {
            entries: c["entries"].as_u64().unwrap() as u32,
            cq_entries: c["cq_entries"].as_u64().map(|n| n as u32),
            flags: ringwise::SetupFlags::from_bits_retain(c["flags_bits"].as_u64().unwrap() as u32),
        };
        let charge = memlock::ring(&spec.layout().unwrap(), RingMemoryKind::Kernel);
        assert_eq!(c["charge_bytes"], charge.bytes(), "{c}");
        assert_eq!(c["result"], "proved", "{c}");
    }

    let out = Command::new(env!("CARGO_BIN_EXE_ringwise")).args(["verify", "--count", "2"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("memlock:")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(&format!("proved {} configurations", cases.len())) && line.contains("0 failed"), "{line}");
}
