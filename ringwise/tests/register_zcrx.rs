//! Zero-copy receive needs a NIC with header/data split: registration is
//! attempted on every interface's queue 0 and, where none can do it (as on
//! this machine), the test prints why and checks that the refusal is typed
//! and leaves the ring usable. A refill ring size that is not a power of two
//! is an error.

mod common;

use common::*;
use ringwise::op::Nop;
use ringwise::register::zcrx::{ZcrxIfqReg, ZcrxRqe};
use ringwise::register::ZcrxConfig;
use ringwise::{Builder, Cqe32, Error, Ring, Sqe64};

fn interfaces() -> Vec<(String, u32)> {
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let index = std::fs::read_to_string(e.path().join("ifindex")).ok()?.trim().parse().ok()?;
            Some((name, index))
        })
        .collect()
}

#[test]
fn uapi_sizes_match_the_kernel_headers() {
    assert_eq!(std::mem::size_of::<ZcrxIfqReg>(), 96);
    assert_eq!(std::mem::size_of::<ZcrxRqe>(), 16);
}

#[test]
fn zcrx_registers_or_says_why_not() {
    let mut ring: Ring<Sqe64, Cqe32> = Builder::new(8).single_issuer().defer_taskrun().build().unwrap();
    let mut reasons = Vec::new();
    for (name, index) in interfaces() {
        let config = ZcrxConfig { if_idx: index, rxq: 0, rq_entries: 64, area_len: 1 << 20 };
        match ring.register_zcrx_ifq(config) {
            Ok(ifq) => {
                assert!(ifq.rq_entries >= 64);
                println!("zero-copy receive registered on {name} queue 0: id {}", ifq.id);
                return;
            }
            Err(e) => {
                assert!(matches!(e, Error::Kernel { .. }), "{e}");
                reasons.push(format!("{name} (index {index}): {e}"));
            }
        }
    }
    eprintln!("skipped: no interface here can do zero-copy receive:\n  {}", reasons.join("\n  "));
    ring.submission().push(Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completion().next().unwrap().user_data, 1);

    // A ring without DEFER_TASKRUN and big CQEs is refused before the kernel.
    let mut plain = Ring::new(4).unwrap();
    let err = plain.register_zcrx_ifq(ZcrxConfig { if_idx: 1, rxq: 0, rq_entries: 64, area_len: 4096 }).unwrap_err();
    assert!(err.to_string().contains("DEFER_TASKRUN"), "{err}");
}

/// A refill-ring size past 2^31 panicked in `next_power_of_two` (debug).
#[test]
fn zcrx_refill_count_without_a_power_of_two_is_an_error() {
    let ring: Result<Ring<Sqe64, Cqe32>, _> = Builder::new(4).single_issuer().defer_taskrun().build();
    let mut ring = match ring {
        Ok(r) => r,
        Err(e) => return skip(format!("no DEFER_TASKRUN + CQE32 ring here: {e}")),
    };
    let config = ZcrxConfig { if_idx: 1, rxq: 0, rq_entries: u32::MAX, area_len: 4096 };
    let err = ring.register_zcrx_ifq(config).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    assert!(err.to_string().contains("power of two"), "{err}");
}
