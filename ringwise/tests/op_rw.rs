//! Reads and writes against real files and pipes, with data checks: plain,
//! at offsets and at the file position, vectored, fixed buffers, provided
//! buffers, multishot reads, fsync; NOP variants; the op checks.

mod common;

use common::*;
use ringwise::op::Target;
use ringwise::op::{
    self, check, Fsync, FsyncFlags, Iovec, Limits, Nop, ProvideBuffers, Read, ReadMulti, ReadProvided, Readv,
    RemoveBuffers, RwFlags, Write, Writev,
};
use ringwise::register::BufRingConfig;
use ringwise::{Builder, Cqe32, Error, Ring, Sqe64, SqeFlags};
use std::io::{Read as _, Seek, Write as _};
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::time::Duration;

fn temp_file(dir: &TempDir, name: &str, content: &[u8]) -> std::fs::File {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.path().join(name))
        .unwrap();
    f.write_all(content).unwrap();
    f
}

#[test]
fn write_then_read_round_trip_at_offsets() {
    let dir = TempDir::new("rw");
    let file = temp_file(&dir, "f", &[]);
    let mut ring = Ring::new(8).unwrap();
    let data = b"hello, io_uring world";
    push!(
        ring,
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        Write::new(unsafe { Target::from_fd(file.as_fd()) }, data.as_ptr(), data.len() as u32)
            .offset(100)
            .user_data(1)
            .flags(SqeFlags::IO_LINK)
    );
    let mut back = [0u8; 21];
    push!(
        ring,
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        Read::new(unsafe { Target::from_fd(file.as_fd()) }, back.as_mut_ptr(), back.len() as u32)
            .offset(100)
            .user_data(2)
    );
    let cqes = run(&mut ring, 2);
    assert_eq!(cqes[0].user_data, 1, "linked ops complete in order");
    assert_eq!(by_ud(&cqes, 1).res, data.len() as i32);
    assert_eq!(by_ud(&cqes, 2).res, data.len() as i32);
    assert_eq!(&back, data);
    assert_eq!(std::fs::metadata(dir.path().join("f")).unwrap().len(), 121);
}

#[test]
fn read_at_file_position_advances_it() {
    let dir = TempDir::new("pos");
    let mut file = temp_file(&dir, "f", b"abcdefgh");
    file.rewind().unwrap();
    let mut ring = Ring::new(4).unwrap();
    let mut a = [0u8; 3];
    let mut b = [0u8; 3];
    push!(
        ring,
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        Read::new(unsafe { Target::from_fd(file.as_fd()) }, a.as_mut_ptr(), 3).user_data(1).flags(SqeFlags::IO_LINK)
    );
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    push!(ring, Read::new(unsafe { Target::from_fd(file.as_fd()) }, b.as_mut_ptr(), 3).user_data(2));
    let cqes = run(&mut ring, 2);
    assert!(cqes.iter().all(|c| c.res == 3), "{cqes:?}");
    assert_eq!((&a, &b), (b"abc", b"def"));
}

#[test]
fn vectored_write_and_read() {
    let dir = TempDir::new("vec");
    let file = temp_file(&dir, "f", &[]);
    let mut ring = Ring::new(4).unwrap();
    let parts: [&[u8]; 3] = [b"one ", b"two ", b"three"];
    let iovs: Vec<_> = parts.iter().map(|p| iov(p)).collect();
    push!(
        ring,
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        Writev::new(unsafe { Target::from_fd(file.as_fd()) }, iovs.as_ptr(), 3)
            .offset(0)
            .rw_flags(RwFlags::DSYNC)
            .user_data(1)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 13);
    let mut x = [0u8; 6];
    let mut y = [0u8; 7];
    let out = [iov(&x), iov(&y)];
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    push!(ring, Readv::new(unsafe { Target::from_fd(file.as_fd()) }, out.as_ptr(), 2).offset(0).user_data(2));
    assert_eq!(run(&mut ring, 1)[0].res, 13);
    let _ = (&mut x, &mut y);
    assert_eq!(&x, b"one tw");
    assert_eq!(&y, b"o three");
}

#[test]
fn fixed_buffers_read_write_and_vectored() {
    let dir = TempDir::new("fixed");
    let file = temp_file(&dir, "f", &[]);
    let mut ring = Ring::new(8).unwrap();
    let mut bufs = [vec![0u8; 4096], vec![0u8; 4096]];
    bufs[0][..5].copy_from_slice(b"fixed");
    let table: Vec<_> = bufs.iter().map(|b| iov(b)).collect();
    register_buffers(&ring, &table);
    push!(
        ring,
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        Write::new(unsafe { Target::from_fd(file.as_fd()) }, bufs[0].as_ptr(), 5)
            .offset(0)
            .fixed_buffer(0)
            .user_data(1)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 5);
    push!(
        ring,
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        Read::new(unsafe { Target::from_fd(file.as_fd()) }, bufs[1].as_mut_ptr(), 5)
            .offset(0)
            .fixed_buffer(1)
            .user_data(2)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 5);
    assert_eq!(&bufs[1][..5], b"fixed");

    // READV_FIXED / WRITEV_FIXED (6.15): iovecs inside a registered buffer.
    if !supports(op::opcode::WRITEV_FIXED) {
        return skip("READV_FIXED/WRITEV_FIXED need Linux 6.15");
    }
    bufs[0][100..104].copy_from_slice(b"ABCD");
    bufs[0][200..204].copy_from_slice(b"EFGH");
    let wv = [iov(&bufs[0][100..104]), iov(&bufs[0][200..204])];
    push!(
        ring,
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        Writev::new(unsafe { Target::from_fd(file.as_fd()) }, wv.as_ptr(), 2).offset(10).fixed_buffer(0).user_data(3)
    );
    let c = run(&mut ring, 1)[0];
    assert_eq!((c.user_data, c.res), (3, 8));
    let rv = [iov(&bufs[1][300..302]), iov(&bufs[1][400..406])];
    push!(
        ring,
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        Readv::new(unsafe { Target::from_fd(file.as_fd()) }, rv.as_ptr(), 2).offset(10).fixed_buffer(1).user_data(4)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 8);
    assert_eq!(&bufs[1][300..302], b"AB");
    assert_eq!(&bufs[1][400..406], b"CDEFGH");
    let mut check_back = String::new();
    std::fs::File::open(dir.path().join("f")).unwrap().read_to_string(&mut check_back).unwrap();
    assert_eq!(&check_back[10..18], "ABCDEFGH");
}

#[test]
fn check_refuses_fixed_buffer_past_the_table_and_unknown_opcodes() {
    let limits = Limits { fixed_buffers: Some(2), fixed_files: Some(1), probe: None };
    let mut b = [0u8; 8];
    // SAFETY: descriptor 3 is only encoded here: the op is prepared or checked, never pushed.
    let op = Read::new(unsafe { Target::fd(3) }, b.as_mut_ptr(), 8).fixed_buffer(2);
    let err = check(&op, &limits).unwrap_err();
    assert!(matches!(err, Error::OpIndexOutOfRange { index: 2, len: 2, .. }), "{err}");
    assert!(err.to_string().contains("index 2") && err.to_string().contains("registered buffers"), "{err}");
    // SAFETY: descriptor 3 is only encoded here: the op is prepared or checked, never pushed.
    assert!(check(&Read::new(unsafe { Target::fd(3) }, b.as_mut_ptr(), 8).fixed_buffer(1), &limits).is_ok());
    let err = check(&Fsync::new(ringwise::op::Target::fixed(5)), &limits).unwrap_err();
    assert!(matches!(err, Error::OpIndexOutOfRange { index: 5, len: 1, .. }), "{err}");
    assert_eq!(err.errno(), rustix::io::Errno::BADF);
    // SAFETY: descriptor 3 is only encoded here: the op is prepared or checked, never pushed.
    let err = check(
        &op::Accept::new(unsafe { Target::fd(3) }).multishot().direct(op::DirectSlot::Index(0)),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::OpInvalid { .. }), "{err}");
    assert!(check(
        // SAFETY: descriptor 3 is only encoded here: the op is prepared or checked, never pushed.
        &op::Accept::new(unsafe { Target::fd(3) }).multishot().direct(op::DirectSlot::Alloc),
        &Limits::default()
    )
    .is_ok());

    let probe = ringwise::probe::Probe::new().unwrap();
    let limits = Limits { probe: Some(&probe), ..Limits::default() };
    assert!(check(&Nop::new(), &limits).is_ok());
    if probe.supports(op::opcode::NOP128) {
        return skip("this kernel has NOP128; the refusal path cannot be shown");
    }
    let err = check(&op::Nop128::new(), &limits).unwrap_err();
    assert!(matches!(err, Error::OpcodeUnsupported { opcode: 63, since: "6.19", .. }), "{err}");
    assert!(err.to_string().contains("NOP128") && err.to_string().contains("6.19"), "{err}");
}

#[test]
fn fsync_and_datasync_complete_on_a_written_file() {
    let dir = TempDir::new("fsync");
    let file = temp_file(&dir, "f", b"data to sync");
    let mut ring = Ring::new(4).unwrap();
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    ring.submission().push(Fsync::new(unsafe { Target::from_fd(file.as_fd()) }).user_data(1)).unwrap();
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(Fsync::new(unsafe { Target::from_fd(file.as_fd()) }).fsync_flags(FsyncFlags::DATASYNC).user_data(2))
        .unwrap();
    // SAFETY: a negative number names no file (the kernel answers -EBADF).
    ring.submission().push(Fsync::new(unsafe { Target::fd(-1) }).user_data(3)).unwrap();
    let cqes = run(&mut ring, 3);
    assert_eq!(by_ud(&cqes, 1).res, 0);
    assert_eq!(by_ud(&cqes, 2).res, 0);
    assert_eq!(by_ud(&cqes, 3).res, -libc_ebadf(), "a bad fd is refused: the op really reaches the file");
}

fn libc_ebadf() -> i32 {
    rustix::io::Errno::BADF.raw_os_error()
}

#[test]
fn legacy_provided_buffers_feed_reads_and_are_removed() {
    let dir = TempDir::new("pbuf");
    let file = temp_file(&dir, "f", b"0123456789abcdef");
    let mut ring = Ring::new(8).unwrap();
    let mut pool = vec![0u8; 4 * 8];
    push!(ring, ProvideBuffers::new(pool.as_mut_ptr(), 8, 4, 7, 10).user_data(1));
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(ReadProvided::new(unsafe { Target::from_fd(file.as_fd()) }, 7, 8).offset(0).user_data(2))
        .unwrap();
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(ReadProvided::new(unsafe { Target::from_fd(file.as_fd()) }, 7, 8).offset(8).user_data(3))
        .unwrap();
    let cqes = run(&mut ring, 2);
    let mut seen = Vec::new();
    for c in &cqes {
        assert_eq!(c.res, 8, "{c:?}");
        let id = c.buffer_id().expect("a provided-buffer CQE names its buffer");
        assert!((10..14).contains(&id));
        let data = &pool[(id - 10) as usize * 8..][..8];
        seen.push((c.user_data, data.to_vec()));
    }
    seen.sort();
    assert_eq!(seen, vec![(2, b"01234567".to_vec()), (3, b"89abcdef".to_vec())]);
    // Two buffers are left; removing 10 returns 2.
    ring.submission().push(RemoveBuffers::new(10, 7).user_data(4)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, 2);
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(ReadProvided::new(unsafe { Target::from_fd(file.as_fd()) }, 7, 8).offset(0).user_data(5))
        .unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, -rustix::io::Errno::NOBUFS.raw_os_error(), "group is empty");
}

#[test]
fn multishot_read_from_a_pipe_yields_one_cqe_per_write() {
    if !supports(op::opcode::READ_MULTISHOT) {
        return skip("READ_MULTISHOT needs Linux 6.7");
    }
    let mut ring = Ring::new(8).unwrap();
    let mut bufs = ring.register_buf_ring(BufRingConfig::new(3, 8, 64)).unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    ring.submission().push(ReadMulti::new(unsafe { Target::fd(r.as_raw_fd()) }, 3).user_data(9)).unwrap();
    ring.submit().unwrap();
    let mut got = Vec::new();
    for msg in [&b"first"[..], b"second", b"third!"] {
        rustix::io::write(&w, msg).unwrap();
        let c = collect(&mut ring, 1)[0];
        assert_eq!(c.user_data, 9);
        assert!(c.more(), "multishot read stays armed: {c:?}");
        let id = c.buffer_id().unwrap();
        // SAFETY: `c` is this ring's CQE for the multishot read, which picks
        // from group 3, and it is passed once.
        let (bid, data) = unsafe { bufs.completion(&c) }.expect("a buffer of group 3");
        assert_eq!(bid, id);
        assert_eq!(data.len(), c.res as usize);
        got.push(data.to_vec());
    }
    assert_eq!(got, vec![b"first".to_vec(), b"second".to_vec(), b"third!".to_vec()]);
    drop(w);
    let last = collect(&mut ring, 1)[0];
    assert_eq!(last.res, 0, "EOF ends the multishot read");
    assert!(!last.more());
}

#[test]
fn nop_variants_inject_file_lookup_and_big_cqe_extras() {
    let mut ring = Ring::new(8).unwrap();
    ring.submission().push(Nop::new().inject_result(-5).user_data(1)).unwrap();
    // SAFETY: a negative number names no file (the kernel answers -EBADF).
    ring.submission().push(Nop::new().file(unsafe { Target::fd(-1) }).user_data(2)).unwrap();
    // SAFETY: descriptor 0 is the test process's stdin, open for its whole
    // life; a NOP only looks the file up.
    ring.submission().push(Nop::new().file(unsafe { Target::fd(0) }).task_work().user_data(3)).unwrap();
    let cqes = run(&mut ring, 3);
    assert_eq!(by_ud(&cqes, 1).res, -5);
    assert_eq!(by_ud(&cqes, 2).res, -rustix::io::Errno::BADF.raw_os_error());
    assert_eq!(by_ud(&cqes, 3).res, 0);

    let mut big: Ring<Sqe64, Cqe32> = Builder::new(4).build().unwrap();
    big.submission().push(Nop::new().big_cqe_extra(0xdead_beef, 42).user_data(7)).unwrap();
    big.submit_and_wait(1).unwrap();
    let c = big.completions().unwrap().next().unwrap();
    assert_eq!((c.user_data, c.res), (7, 0));
    assert_eq!(c.extra, [0xdead_beef, 42], "the 32-byte CQE carries the extra words");
}

const EBADF: i32 = 9;

fn iovec(buf: &[u8]) -> Iovec {
    Iovec { iov_base: buf.as_ptr() as *mut _, iov_len: buf.len() as _ }
}

fn iovec_mut(buf: &mut [u8]) -> Iovec {
    Iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() as _ }
}

/// Submit what is queued and collect `n` CQEs as (user_data, res).
fn run_results(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    ring.submit_and_wait(n as u32).unwrap();
    let got = reap_all(ring, n, Duration::from_secs(10));
    assert_eq!(got.len(), n, "{got:?}");
    got
}

#[test]
fn read_and_write_at_offsets_and_at_the_file_position() {
    let mut ring = Ring::new(8).unwrap();
    let file = TempFile::new("rw");
    let a = pattern(10_000, 1);
    let b = pattern(5_000, 2);
    // Two writes at fixed offsets, the second leaving a hole before it.
    // SAFETY: the buffers outlive the ops: `run_results` reaps their CQEs
    // before the buffers go out of scope.
    unsafe {
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        ring.submission()
            .push_unchecked(
                Write::new(Target::from_fd(file.as_fd()), a.as_ptr(), a.len() as u32).offset(0).user_data(1),
            )
            .unwrap();
        ring.submission()
            // The target: `file` stays open until this test has reaped the op's CQE.
            .push_unchecked(
                Write::new(Target::from_fd(file.as_fd()), b.as_ptr(), b.len() as u32).offset(20_000).user_data(2),
            )
            .unwrap();
    }
    let mut got = run_results(&mut ring, 2);
    got.sort_unstable();
    assert_eq!(got, vec![(1, 10_000), (2, 5_000)]);
    let on_disk = file.contents();
    assert_eq!(on_disk.len(), 25_000);
    assert_eq!(&on_disk[..10_000], &a[..]);
    assert!(on_disk[10_000..20_000].iter().all(|&x| x == 0));
    assert_eq!(&on_disk[20_000..], &b[..]);

    // Read back at an offset.
    let mut back = vec![0u8; 3000];
    // SAFETY: `back` outlives the read: `run_results` reaps its CQE on the
    // next line, before `back` is looked at.
    unsafe {
        ring.submission()
            // The target: `file` stays open until this test has reaped the op's CQE.
            .push_unchecked(
                Read::new(Target::from_fd(file.as_fd()), back.as_mut_ptr(), 3000).offset(20_500).user_data(3),
            )
            .unwrap();
    }
    assert_eq!(run_results(&mut ring, 1), vec![(3, 3000)]);
    assert_eq!(&back[..], &b[500..3500]);

    // Reading past the end gives 0.
    // SAFETY: as above, `back` outlives the read, reaped on the next line.
    unsafe {
        ring.submission()
            // The target: `file` stays open until this test has reaped the op's CQE.
            .push_unchecked(
                Read::new(Target::from_fd(file.as_fd()), back.as_mut_ptr(), 100).offset(1 << 30).user_data(4),
            )
            .unwrap();
    }
    assert_eq!(run_results(&mut ring, 1), vec![(4, 0)]);

    // The default offset is the file position, which advances.
    let cur = TempFile::new("cur");
    let chunks: Vec<Vec<u8>> = (0..4).map(|i| pattern(1000, 10 + i)).collect();
    for (i, c) in chunks.iter().enumerate() {
        // One at a time: the position is only well defined between ops.
        // SAFETY: `chunks` outlives the write, reaped on the next line.
        // SAFETY: `cur` stays open until this test has reaped the op's CQE.
        unsafe {
            ring.submission()
                .push_unchecked(Write::new(Target::from_fd(cur.as_fd()), c.as_ptr(), 1000).user_data(i as u64))
                .unwrap()
        };
        assert_eq!(run_results(&mut ring, 1), vec![(i as u64, 1000)]);
    }
    assert_eq!(cur.contents(), chunks.concat());
    use std::io::Seek;
    let mut f = cur.file.try_clone().unwrap();
    f.seek(std::io::SeekFrom::Start(0)).unwrap();
    for (i, c) in chunks.iter().enumerate() {
        let mut buf = vec![0u8; 1000];
        // SAFETY: `buf` outlives the read, reaped on the next line, before
        // `buf` is looked at.
        unsafe {
            // SAFETY: `cur` stays open until this test has reaped the op's CQE.
            ring.submission()
                .push_unchecked(Read::new(Target::from_fd(cur.as_fd()), buf.as_mut_ptr(), 1000).user_data(i as u64))
                .unwrap()
        };
        assert_eq!(run_results(&mut ring, 1), vec![(i as u64, 1000)]);
        assert_eq!(&buf, c, "chunk {i} read at the file position");
    }
    assert_eq!(f.stream_position().unwrap(), 4000, "the reads advanced the shared position");
}

#[test]
fn readv_and_writev_scatter_gather() {
    let mut ring = Ring::new(8).unwrap();
    let file = TempFile::new("vec");
    let parts = [pattern(100, 1), pattern(4096, 2), pattern(7, 3)];
    let iov: Vec<Iovec> = parts.iter().map(|p| iovec(p)).collect();
    // SAFETY: the iovecs and what they point to outlive the op, reaped by
    // `run_results` on the next line.
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission()
            .push_unchecked(Writev::new(Target::from_fd(file.as_fd()), iov.as_ptr(), 3).offset(10).user_data(1))
            .unwrap()
    };
    assert_eq!(run_results(&mut ring, 1), vec![(1, 4203)]);
    let disk = file.contents();
    assert_eq!(&disk[10..], &parts.concat()[..]);

    let mut x = vec![0u8; 3000];
    let mut y = vec![0u8; 1203];
    let mut z = vec![0u8; 100];
    let iov = [iovec_mut(&mut x), iovec_mut(&mut y), iovec_mut(&mut z)];
    // SAFETY: as above; x, y, z are not touched until the CQE is reaped.
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission()
            .push_unchecked(Readv::new(Target::from_fd(file.as_fd()), iov.as_ptr(), 3).offset(10).user_data(2))
            .unwrap()
    };
    assert_eq!(run_results(&mut ring, 1), vec![(2, 4203)], "the third iovec gets nothing: EOF");
    let all = parts.concat();
    assert_eq!(&x[..], &all[..3000]);
    assert_eq!(&y[..], &all[3000..]);
    assert!(z.iter().all(|&b| b == 0));
}

#[test]
fn pipes_read_and_write() {
    let mut ring = Ring::new(8).unwrap();
    let (r, w) = pipe();
    let msg = pattern(3000, 9);
    let mut buf = vec![0u8; 4096];
    // A read waiting on an empty pipe, then the write that feeds it.
    // SAFETY: both buffers outlive the ops, reaped below.
    unsafe {
        // The target: `r` stays open until this test has reaped the op's CQE.
        ring.submission()
            .push_unchecked(Read::new(Target::from_fd(r.as_fd()), buf.as_mut_ptr(), 4096).user_data(1))
            .unwrap();
    }
    ring.submit().unwrap();
    assert!(ring.completion().is_empty());
    // SAFETY: `msg` outlives the write, and `buf` the read queued above:
    // `run_results` reaps both CQEs below, before `buf` is looked at.
    unsafe {
        // The target: `w` stays open until this test has reaped the op's CQE.
        ring.submission()
            .push_unchecked(Write::new(Target::from_fd(w.as_fd()), msg.as_ptr(), 3000).user_data(2))
            .unwrap();
    }
    let mut got = run_results(&mut ring, 2);
    got.sort_unstable();
    assert_eq!(got, vec![(1, 3000), (2, 3000)]);
    assert_eq!(&buf[..3000], &msg[..]);

    // Vectored on a pipe.
    let parts = [b"abc".to_vec(), b"defgh".to_vec()];
    let iov: Vec<Iovec> = parts.iter().map(|p| iovec(p)).collect();
    // SAFETY: `iov` and `parts`, which it points to, outlive the write,
    // reaped on the next line.
    // SAFETY: `w` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission().push_unchecked(Writev::new(Target::from_fd(w.as_fd()), iov.as_ptr(), 2).user_data(3)).unwrap()
    };
    assert_eq!(run_results(&mut ring, 1), vec![(3, 8)]);
    let mut a = [0u8; 4];
    let mut b = [0u8; 4];
    let iov = [iovec_mut(&mut a), iovec_mut(&mut b)];
    // SAFETY: `iov` and `a`, `b`, which it points to, outlive the read,
    // reaped on the next line, before `a` and `b` are looked at.
    // SAFETY: `r` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission().push_unchecked(Readv::new(Target::from_fd(r.as_fd()), iov.as_ptr(), 2).user_data(4)).unwrap()
    };
    assert_eq!(run_results(&mut ring, 1), vec![(4, 8)]);
    assert_eq!((&a, &b), (b"abcd", b"efgh"));

    // Reading the write end fails with EBADF.
    // SAFETY: `buf` outlives the read (which fails with EBADF), reaped on the
    // next line.
    // SAFETY: `w` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission()
            .push_unchecked(Read::new(Target::from_fd(w.as_fd()), buf.as_mut_ptr(), 4).user_data(5))
            .unwrap()
    };
    assert_eq!(run_results(&mut ring, 1), vec![(5, -EBADF)]);
}

#[test]
fn fsync_datasync_and_range() {
    let mut ring = Ring::new(8).unwrap();
    let file = TempFile::new("sync");
    let data = pattern(8192, 4);
    // SAFETY: `data` outlives the op.
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    unsafe {
        ring.submission()
            .push_unchecked(Write::new(Target::from_fd(file.as_fd()), data.as_ptr(), 8192).offset(0).user_data(1))
            .unwrap()
    };
    assert_eq!(run_results(&mut ring, 1), vec![(1, 8192)]);
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    ring.submission().push(Fsync::new(unsafe { Target::from_fd(file.as_fd()) }).user_data(2)).unwrap();
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(Fsync::new(unsafe { Target::from_fd(file.as_fd()) }).fsync_flags(FsyncFlags::DATASYNC).user_data(3))
        .unwrap();
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    ring.submission().push(Fsync::new(unsafe { Target::from_fd(file.as_fd()) }).range(0, 4096).user_data(4)).unwrap();
    let mut got = run_results(&mut ring, 3);
    got.sort_unstable();
    assert_eq!(got, vec![(2, 0), (3, 0), (4, 0)]);
    // fsync of a bad fd.
    // SAFETY: a negative number names no file (the kernel answers -EBADF).
    ring.submission().push(Fsync::new(unsafe { Target::fd(-1) }).user_data(5)).unwrap();
    assert_eq!(run_results(&mut ring, 1), vec![(5, -EBADF)]);
    assert_eq!(file.contents(), data);
}
