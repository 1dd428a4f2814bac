//! Ops that synchronise rings, threads and processes: ring-to-ring
//! messages (data and registered files), futex wait/wake/waitv, and waitid
//! on a child process.

mod common;

use common::*;
use ringwise::op::{
    self, DirectSlot, FutexWait, FutexWaitv, FutexWaitvEntry, FutexWake, IdType, MsgRingData, MsgRingFd, Read, SigInfo,
    Target, WaitId, WaitOptions,
};
use ringwise::Ring;
use rustix::io::Errno;
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicU32;

#[test]
fn msg_ring_posts_data_with_flags_and_can_skip_the_source_cqe() {
    let mut a = Ring::new(4).unwrap();
    let mut b = Ring::new(4).unwrap();
    let b_fd = b.fd().unwrap().as_raw_fd();
    // SAFETY: `b_fd` stays open until this test has reaped the op's CQE.
    a.submission().push(MsgRingData::new(unsafe { Target::fd(b_fd) }, 1234, 0xabc).user_data(1)).unwrap();
    assert_eq!(run(&mut a, 1)[0].res, 0);
    let got = collect(&mut b, 1)[0];
    assert_eq!((got.user_data, got.res), (0xabc, 1234));
    a.submission()
        .push(
            // SAFETY: `b_fd` stays open until this test has reaped the op's CQE.
            MsgRingData::new(unsafe { Target::fd(b_fd) }, -7, 0xdef)
                .cqe_flags(0x1c0)
                .unwrap()
                .flags(ringwise::SqeFlags::CQE_SKIP_SUCCESS)
                .user_data(2),
        )
        .unwrap();
    assert_quiet(&mut a, 20);
    let got = collect(&mut b, 1)[0];
    assert_eq!((got.user_data, got.res, got.flags), (0xdef, -7, 0x1c0), "flags passed through");
    // A target that is not a ring.
    let (r, _w) = rustix::pipe::pipe().unwrap();
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    a.submission().push(MsgRingData::new(unsafe { Target::from_fd(r.as_fd()) }, 0, 0).user_data(3)).unwrap();
    assert_eq!(run(&mut a, 1)[0].res, errno(Errno::BADFD));
}

#[test]
fn msg_ring_passes_a_registered_file_to_another_ring() {
    let dir = TempDir::new("msgfd");
    std::fs::write(dir.path().join("f"), b"passed along").unwrap();
    let file = std::fs::File::open(dir.path().join("f")).unwrap();
    let mut a = Ring::new(4).unwrap();
    let mut b = Ring::new(4).unwrap();
    register_files(&a, &[file.as_raw_fd()]);
    register_files(&b, &[-1, -1]);
    drop(file);
    let b_fd = b.fd().unwrap().as_raw_fd();
    // SAFETY: `b_fd` stays open until this test has reaped the op's CQE.
    a.submission()
        .push(MsgRingFd::new(unsafe { Target::fd(b_fd) }, 0, DirectSlot::Index(1), 0x77).user_data(1))
        .unwrap();
    assert_eq!(run(&mut a, 1)[0].res, 0);
    let got = collect(&mut b, 1)[0];
    assert_eq!(got.user_data, 0x77);
    let mut buf = [0u8; 12];
    push!(b, Read::new(Target::fixed(1), buf.as_mut_ptr(), 12).offset(0).user_data(2));
    assert_eq!(run(&mut b, 1)[0].res, 12);
    assert_eq!(&buf, b"passed along");
    // SAFETY: `b_fd` stays open until this test has reaped the op's CQE.
    a.submission().push(MsgRingFd::new(unsafe { Target::fd(b_fd) }, 0, DirectSlot::Alloc, 0x78).user_data(2)).unwrap();
    assert_eq!(run(&mut a, 1)[0].res, 0);
    let got = collect(&mut b, 1)[0];
    assert_eq!((got.user_data, got.res), (0x78, 0), "the only free slot, 0, was allocated");
}

#[test]
fn futex_wait_is_woken_by_futex_wake() {
    if !supports(op::opcode::FUTEX_WAIT) {
        return skip("futex ops need Linux 6.7");
    }
    let word = AtomicU32::new(0);
    let mut ring = Ring::new(8).unwrap();
    push!(ring, FutexWait::new(word.as_ptr(), 0).user_data(1));
    assert_quiet(&mut ring, 30);
    push!(ring, FutexWake::new(word.as_ptr(), 1).user_data(2));
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 2).res, 1, "one waiter woken");
    assert_eq!(by_ud(&cqes, 1).res, 0, "the waiter woke");
    // A stale expected value fails at once.
    push!(ring, FutexWait::new(word.as_ptr(), 5).user_data(3));
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::AGAIN));
    // Bitset masks: a wake with a disjoint mask wakes nobody.
    push!(ring, FutexWait::new(word.as_ptr(), 0).mask(0b01).user_data(4));
    ring.submit().unwrap();
    push!(ring, FutexWake::new(word.as_ptr(), 1).mask(0b10).user_data(5));
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    push!(ring, FutexWake::new(word.as_ptr(), 1).mask(0b01).user_data(6));
    let cqes = run(&mut ring, 2);
    assert_eq!((by_ud(&cqes, 6).res, by_ud(&cqes, 4).res), (1, 0));
}

#[test]
fn futex_wake_from_another_thread_wakes_the_ring() {
    if !supports(op::opcode::FUTEX_WAIT) {
        return skip("futex ops need Linux 6.7");
    }
    let word = Box::leak(Box::new(AtomicU32::new(0)));
    let mut ring = Ring::new(4).unwrap();
    push!(ring, FutexWait::new(word.as_ptr(), 0).user_data(1));
    ring.submit().unwrap();
    let w: &'static AtomicU32 = word;
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(20));
        w.store(1, std::sync::atomic::Ordering::SeqCst);
        rustix::thread::futex::wake(w, rustix::thread::futex::Flags::PRIVATE, 1).unwrap()
    });
    let c = collect(&mut ring, 1)[0];
    assert_eq!(c.res, 0);
    assert_eq!(t.join().unwrap(), 1, "the thread's wake found the ring's waiter");
}

#[test]
fn futex_waitv_reports_which_futex_woke() {
    if !supports(op::opcode::FUTEX_WAITV) {
        return skip("futex ops need Linux 6.7");
    }
    let words = [AtomicU32::new(0), AtomicU32::new(0)];
    let flags = (op::FutexFlags::SIZE_U32 | op::FutexFlags::PRIVATE).bits();
    let entries: Vec<FutexWaitvEntry> =
        words.iter().map(|w| FutexWaitvEntry { val: 0, uaddr: w.as_ptr() as u64, flags, __reserved: 0 }).collect();
    let mut ring = Ring::new(4).unwrap();
    push!(ring, FutexWaitv::new(entries.as_ptr(), 2).user_data(1));
    assert_quiet(&mut ring, 20);
    push!(ring, FutexWake::new(words[1].as_ptr(), 1).user_data(2));
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 2).res, 1);
    assert_eq!(by_ud(&cqes, 1).res, 1, "waitv returns the index of the woken futex");
}

#[test]
fn waitid_reaps_a_child_and_reports_its_status() {
    if !supports(op::opcode::WAITID) {
        return skip("WAITID needs Linux 6.7");
    }
    let child = std::process::Command::new("/bin/sh").args(["-c", "exit 7"]).spawn().unwrap();
    let pid = child.id() as i32;
    // SAFETY: `siginfo_t` is integers (a union of them); all-zero bytes are a
    // valid value.
    let mut info: SigInfo = unsafe { std::mem::zeroed() };
    let mut ring = Ring::new(2).unwrap();
    push!(ring, WaitId::new(IdType::Pid(pid), WaitOptions::EXITED, &mut info).user_data(1));
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    // siginfo for SIGCHLD: signo, errno, code, pad, pid, uid, status (ints).
    // SAFETY: siginfo_t is 128 bytes of plain data.
    let words: [i32; 32] = unsafe { std::mem::transmute(info) };
    assert_eq!(words[0], linux_raw_sys::general::SIGCHLD as i32);
    assert_eq!(words[2], 1, "CLD_EXITED");
    assert_eq!(words[4], pid);
    assert_eq!(words[6], 7, "exit status");
    // The child is reaped: waiting again finds nothing.
    push!(ring, WaitId::new(IdType::Pid(pid), WaitOptions::EXITED | WaitOptions::NOHANG, &mut info).user_data(2));
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::CHILD));
    std::mem::forget(child);
}
