//! Provided-buffer memory is sound: it is never handed back to the process
//! while the kernel may still write it (asynchronous teardown,
//! unregistration), and a CQE that claims a provided buffer can be forged
//! by a safe op (`MSG_RING`), which is why `BufRing::completion` is
//! `unsafe`.

mod common;

use ringwise::op::Target;
use ringwise::op::{self, MsgRingData, ReadProvided};
use ringwise::raw::abi;
use ringwise::register::BufRingConfig;
use ringwise::{Cqe, Cqe16, Ring, SqeFlags};
use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags};
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Submit what is queued and wait for one CQE.
fn one_cqe<S: ringwise::SqeSize>(ring: &mut Ring<S, Cqe16>) -> Cqe {
    ring.submit_and_wait(1).expect("submit_and_wait");
    ring.completion().next().expect("a CQE after waiting for one")
}

/// Whether `[addr, addr + len)` can be mapped again (the range was given
/// back to the process). If it can, the fresh zeroed mapping is watched for
/// `watch` and the bytes the kernel wrote into it are returned.
fn remap_and_watch(addr: usize, len: usize, watch: Duration) -> Result<usize, Errno> {
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping: it
    // either creates a fresh one at exactly `addr` or fails with EEXIST.
    let p = unsafe {
        rustix::mm::mmap_anonymous(
            addr as *mut _,
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE | MapFlags::FIXED_NOREPLACE,
        )
    }?;
    assert_eq!(p as usize, addr, "FIXED_NOREPLACE maps at the address asked for");
    std::thread::sleep(watch);
    // SAFETY: the mapping was just made, `len` bytes, readable.
    let dirty = unsafe { std::slice::from_raw_parts(p as *const u8, len) }.iter().filter(|b| **b != 0).count();
    // SAFETY: unmapping the mapping made above.
    unsafe { rustix::mm::munmap(p, len) }.unwrap();
    Ok(dirty)
}

/// The address of buffer 0 of a buffer ring: entry 0's `addr` field.
fn first_buffer_addr(entries_addr: usize) -> usize {
    // SAFETY: `entries_addr` is the start of the live entries memory of a
    // registered buffer ring; entry 0 starts with its buffer's u64 address.
    unsafe { (entries_addr as *const u64).read_volatile() as usize }
}

/// An op that picked a provided buffer keeps writing into it after the ring
/// is dropped (an io-wq worker finishing a buffered read of a cold file).
/// Before the fix the buffers were unmapped on drop, so the next mapping at
/// that address received the data (measured: 60 MiB of a 64 MiB read landed
/// in a mapping made after the drop). Now the range stays reserved and
/// inaccessible: nothing can be mapped there, and the late write faults.
#[test]
fn dropped_buf_ring_buffers_are_never_handed_back_while_a_read_runs() {
    const LEN: usize = 16 << 20;
    let dir = std::env::temp_dir();
    let path = dir.join(format!("ringwise-soundness-cold-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0xabu8; 1 << 20];
        for _ in 0..LEN >> 20 {
            f.write_all(&chunk).unwrap();
        }
        f.sync_all().unwrap();
    }
    let file = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    // Drop the file from the page cache so that the read waits for the disk
    // (on tmpfs this does nothing and the read may finish early; the check
    // below holds either way).
    let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed);

    let mut ring = Ring::new(4).unwrap();
    let br = ring.register_buf_ring(BufRingConfig::new(3, 1, LEN as u32)).unwrap();
    let addr = first_buffer_addr(br.entries_addr());
    // ASYNC sends the read to an io-wq worker, which keeps running after
    // the ring's fd is closed.
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    let read = ReadProvided::new(unsafe { Target::fd(file.as_raw_fd()) }, 3, LEN as u32)
        .offset(0)
        .flags(SqeFlags::ASYNC)
        .user_data(1);
    ring.submission().push(read).unwrap();
    ring.submit().unwrap();
    std::thread::sleep(Duration::from_millis(5));
    drop(ring);
    drop(br);
    match remap_and_watch(addr, LEN, Duration::from_millis(500)) {
        Err(e) => assert_eq!(e, Errno::EXIST, "the buffer range must stay reserved"),
        Ok(dirty) => panic!(
            "the buffer range was given back while a read into it was in flight ({dirty} bytes landed in a \
             mapping made after the drop)"
        ),
    }
    assert_quiet_maps(addr, LEN);
}

/// After the group is unregistered (ring alive) and the handle dropped, the
/// range is likewise reserved: an op that picked a buffer before the
/// unregistration may still be writing.
#[test]
fn unregistered_buf_ring_buffers_stay_reserved() {
    let mut ring = Ring::new(4).unwrap();
    let br = ring.register_buf_ring(BufRingConfig::new(5, 4, 4096)).unwrap();
    let addr = first_buffer_addr(br.entries_addr());
    ring.unregister_buf_ring(br).unwrap();
    assert_eq!(remap_and_watch(addr, 4 * 4096, Duration::ZERO), Err(Errno::EXIST));
    assert_quiet_maps(addr, 4 * 4096);
    // The ring and the group id still work.
    let mut br = ring.register_buf_ring(BufRingConfig::new(5, 2, 64)).unwrap();
    let mut pair = UnixStream::pair().unwrap();
    pair.0.write_all(b"again").unwrap();
    // SAFETY: `pair.1` stays open until this test has reaped the op's CQE.
    ring.submission().push(op::RecvProvided::new(unsafe { Target::fd(pair.1.as_raw_fd()) }, 5).user_data(9)).unwrap();
    let cqe = one_cqe(&mut ring);
    // SAFETY: the kernel's completion of the recv above, from this group,
    // passed once.
    let (bid, data) = unsafe { br.completion(&cqe) }.expect("a buffer of group 5");
    assert_eq!((bid, data), (0, &b"again"[..]));
}

/// The reserved range holds no memory: `/proc/self/maps` shows it as an
/// inaccessible private mapping.
fn assert_quiet_maps(addr: usize, len: usize) {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let covering = maps.lines().find(|line| {
        let range = line.split_whitespace().next().unwrap_or("");
        let (lo, hi) = range.split_once('-').unwrap_or(("0", "0"));
        let (lo, hi) = (usize::from_str_radix(lo, 16).unwrap(), usize::from_str_radix(hi, 16).unwrap());
        lo <= addr && addr + len <= hi
    });
    let line = covering.unwrap_or_else(|| panic!("no mapping covers {addr:#x}+{len:#x}"));
    assert!(line.split_whitespace().nth(1) == Some("---p"), "reserved as PROT_NONE: {line}");
}

/// A `MSG_RING` with `cqe_flags_unchecked` can post a CQE that claims a
/// provided buffer the kernel still holds: the kernel passes the flags
/// through unchanged. This is why `BufRing::completion`, which trusts that
/// claim, is `unsafe` (and why the safe `cqe_flags` refuses these bits:
/// tests/io_safety.rs).
#[test]
fn msg_ring_forges_a_buffer_completion() {
    let mut ring = Ring::new(4).unwrap();
    let br = ring.register_buf_ring(BufRingConfig::new(6, 2, 64)).unwrap();
    let fd = ring.as_raw_fd();
    let forged = abi::IORING_CQE_F_BUFFER | (1 << abi::IORING_CQE_BUFFER_SHIFT);
    // SAFETY: the ring's own fd stays open until this test has reaped the
    // CQE; the forged flags are only inspected, never passed to
    // `BufRing::completion`.
    let op = unsafe { MsgRingData::new(Target::fd(fd), 64, 0xf00d).cqe_flags_unchecked(forged) };
    ring.submission().push(op.user_data(1)).unwrap();
    ring.submit_and_wait(2).unwrap();
    let cqes: Vec<Cqe> = ring.completion().drain().collect();
    let fake = cqes.iter().find(|c| c.user_data == 0xf00d).expect("the message CQE");
    assert_eq!(fake.buffer_id(), Some(1), "the kernel passed the buffer flag and id through: {fake:?}");
    assert!(br.in_kernel(1), "yet buffer 1 was never picked");
    assert_eq!(ring.buf_ring_head(6).unwrap(), 0, "the kernel took no entry");
}
