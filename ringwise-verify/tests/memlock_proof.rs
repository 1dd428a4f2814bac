//! The memlock proof of `ringwise-verify` on the running kernel: every
//! configuration of `memlock_configs` is proved (setup under exactly the
//! predicted RLIMIT_MEMLOCK charge works, one page less fails with ENOMEM),
//! or, without root, the whole proof is skipped with the reason.

use ringwise::memlock::{self, RingMemoryKind};
use ringwise_verify::{memlock_configs, verify_memlock, CheckResult};

#[test]
fn every_memlock_config_is_proved() {
    let configs = memlock_configs();
    let proofs = match verify_memlock(&configs) {
        Ok(p) => p,
        Err(reason) => {
            assert!(reason.contains("root"), "{reason}");
            println!("skipped: {reason}");
            return;
        }
    };
    assert_eq!(proofs.len(), configs.len());
    for p in &proofs {
        assert_eq!(p.result, CheckResult::Passed, "{:?}: {}", p.spec, p.detail);
        let layout = p.spec.layout().unwrap();
        assert_eq!(p.charge, Some(memlock::ring(&layout, RingMemoryKind::Kernel)), "{:?}", p.spec);
    }
}
