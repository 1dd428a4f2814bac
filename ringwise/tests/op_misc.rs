//! Ring-to-ring messages, futexes, child processes, 128-byte SQEs, and the
//! opcode catalog checked against this kernel's probe.

mod op_util;

use op_util::*;
use ringwise::op::{
    self, DirectSlot, FutexWait, FutexWaitv, FutexWaitvEntry, FutexWake, IdType, MsgRingData, MsgRingFd, Nop, Nop128,
    Read, SigInfo, Target, UringCmd128, UringCmd80, WaitId, WaitOptions, CATALOG,
};
use ringwise::{Builder, Cqe16, Ring, Sqe128};
use rustix::io::Errno;
use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicU32;

fn errno(e: Errno) -> i32 {
    -e.raw_os_error()
}

#[test]
fn msg_ring_posts_data_with_flags_and_can_skip_the_source_cqe() {
    let mut a = Ring::new(4).unwrap();
    let mut b = Ring::new(4).unwrap();
    let b_fd = b.fd().unwrap().as_raw_fd();
    a.submission().push(MsgRingData::new(b_fd, 1234, 0xabc).user_data(1)).unwrap();
    assert_eq!(run(&mut a, 1)[0].res, 0);
    let got = collect(&mut b, 1)[0];
    assert_eq!((got.user_data, got.res), (0xabc, 1234));
    a.submission()
        .push(
            MsgRingData::new(b_fd, -7, 0xdef)
                .cqe_flags(0x5 << 16)
                .flags(ringwise::SqeFlags::CQE_SKIP_SUCCESS)
                .user_data(2),
        )
        .unwrap();
    assert_quiet(&mut a, 20);
    let got = collect(&mut b, 1)[0];
    assert_eq!((got.user_data, got.res, got.flags), (0xdef, -7, 0x5 << 16), "flags passed through");
    // A target that is not a ring.
    let (r, _w) = rustix::pipe::pipe().unwrap();
    a.submission().push(MsgRingData::new(&r, 0, 0).user_data(3)).unwrap();
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
    a.submission().push(MsgRingFd::new(b_fd, 0, DirectSlot::Index(1), 0x77).user_data(1)).unwrap();
    assert_eq!(run(&mut a, 1)[0].res, 0);
    let got = collect(&mut b, 1)[0];
    assert_eq!(got.user_data, 0x77);
    let mut buf = [0u8; 12];
    push!(b, Read::new(Target::Fixed(1), buf.as_mut_ptr(), 12).offset(0).user_data(2));
    assert_eq!(run(&mut b, 1)[0].res, 12);
    assert_eq!(&buf, b"passed along");
    a.submission().push(MsgRingFd::new(b_fd, 0, DirectSlot::Alloc, 0x78).user_data(2)).unwrap();
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

#[test]
fn big_sqes_carry_the_80_byte_command_and_newer_opcodes_refuse_cleanly() {
    let mut ring: Ring<Sqe128, Cqe16> = Builder::new(4).build().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut b = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (a, _) = listener.accept().unwrap();
    std::io::Write::write_all(&mut b, b"12345").unwrap();
    while rustix::io::ioctl_fionread(&a).unwrap() < 5 {
        std::thread::yield_now();
    }
    // SIOCINQ through the generic 80-byte command builder: the command area
    // is unused by socket commands, but the whole 128-byte slot is written.
    let mut cmd = [0u8; op::CMD80_BYTES];
    cmd[79] = 0xff;
    let siocinq = linux_raw_sys::io_uring::io_uring_socket_op::SOCKET_URING_OP_SIOCINQ as u32;
    // SAFETY: the command area holds no pointers.
    unsafe { ring.submission().push_big_unchecked(UringCmd80::new(&a, siocinq, cmd).user_data(1)) }.unwrap();
    ring.submission().push(Nop::new().user_data(2)).unwrap();
    let cqes = run(&mut ring, 2);
    assert_eq!(by_ud(&cqes, 1).res, 5, "SIOCINQ via a 128-byte SQE");
    assert_eq!(by_ud(&cqes, 2).res, 0);

    let probe = ringwise::probe::Probe::of(&ring).unwrap();
    if probe.supports(op::opcode::NOP128) {
        ring.submission().push_big(Nop128::new().user_data(3)).unwrap();
        assert_eq!(run(&mut ring, 1)[0].res, 0);
        return skip("this kernel has NOP128; its refusal cannot be shown");
    }
    // Each fails to prepare, which ends that submit (no SUBMIT_ALL), so one
    // at a time.
    ring.submission().push_big(Nop128::new().user_data(3)).unwrap();
    let c = run(&mut ring, 1)[0];
    assert_eq!((c.user_data, c.res), (3, errno(Errno::INVAL)), "NOP128 is unknown to this kernel");
    // SAFETY: no pointers in the command.
    unsafe { ring.submission().push_big_unchecked(UringCmd128::new(&a, siocinq, [0; 80]).user_data(4)) }.unwrap();
    let c = run(&mut ring, 1)[0];
    assert_eq!((c.user_data, c.res), (4, errno(Errno::INVAL)), "URING_CMD128 is unknown to this kernel");
    let limits = op::Limits { probe: Some(&probe), ..Default::default() };
    let err = op::check(&UringCmd128::new(&a, siocinq, [0; 80]), &limits).unwrap_err();
    assert!(err.to_string().contains("URING_CMD128") && err.to_string().contains("6.19"), "{err}");
}

fn release_at_least(since: &str, release: (u32, u32)) -> bool {
    let mut it = since.split('.').map(|p| p.parse::<u32>().unwrap());
    let want = (it.next().unwrap(), it.next().unwrap());
    release >= want
}

#[test]
fn catalog_matches_the_kernel_probe() {
    let probe = ringwise::probe::Probe::new().unwrap();
    let rel = ringwise::probe::kernel_release();
    let mut parts =
        rel.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).map(|p| p.parse::<u32>().unwrap());
    let release = (parts.next().unwrap(), parts.next().unwrap());
    assert_eq!(CATALOG.len(), 65);
    let mut table = String::from(
        "| # | opcode | ringwise builder | liburing helpers | since | this kernel |\n|---|---|---|---|---|---|\n",
    );
    for info in CATALOG {
        let supported = probe.supports(info.opcode);
        assert_eq!(
            supported,
            release_at_least(info.since, release),
            "{} (since {}) vs probe on {rel}",
            info.name,
            info.since
        );
        let helpers = if info.liburing.is_empty() { "(none)".to_string() } else { info.liburing.join(", ") };
        let builders: Vec<String> = info.builders.iter().map(|b| format!("`op::{b}`")).collect();
        table += &format!(
            "| {} | `{}` | {} | {} | {} | {} |\n",
            info.opcode,
            info.name,
            builders.join(", "),
            helpers,
            info.since,
            if supported { "yes" } else { "no" }
        );
    }
    assert_eq!(probe.last_op() as usize + 1, CATALOG.iter().filter(|i| probe.supports(i.opcode)).count());
    if let Ok(path) = std::env::var("RINGWISE_OPCODE_TABLE") {
        std::fs::write(path, format!("Probed on Linux {rel}.\n\n{table}")).unwrap();
    }
}
