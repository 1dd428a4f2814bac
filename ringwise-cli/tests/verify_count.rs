//! `verify --count N` runs N configurations, or refuses N above the number
//! it has, saying how many that is: never a silent cap.

use std::process::Command;

#[test]
fn count_above_the_configurations_is_refused_with_the_number() {
    let n = ringwise_verify::default_configs().len();
    let out = Command::new(env!("CARGO_BIN_EXE_ringwise")).args(["verify", "--count", "1000"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}{err}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("1000") && err.contains(&n.to_string()), "{err}");
    let count = n.to_string();
    let out =
        Command::new(env!("CARGO_BIN_EXE_ringwise")).args(["verify", "--quiet", "--count", &count]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("verified {n} configurations")), "{text}");
}
