//! The core I/O ops against temp files and pipes, with data checks, and the
//! SQE flags that order or hide completions: IO_LINK, IO_HARDLINK, IO_DRAIN,
//! ASYNC and CQE_SKIP_SUCCESS.

mod common;

use common::*;
use ringwise::op::{Fsync, FsyncFlags, Iovec, Nop, Read, Readv, Write, Writev};
use ringwise::{Ring, SqeFlags};
use std::time::Duration;

const EBADF: i32 = 9;
const ECANCELED: i32 = 125;

fn iovec(buf: &[u8]) -> Iovec {
    Iovec { iov_base: buf.as_ptr() as *mut _, iov_len: buf.len() as _ }
}

fn iovec_mut(buf: &mut [u8]) -> Iovec {
    Iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() as _ }
}

/// Submit what is queued and collect `n` CQEs as (user_data, res).
fn run(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
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
    // SAFETY (all pushes below): the buffers outlive the ops, whose CQEs are
    // reaped by `run` before the buffers go out of scope.
    unsafe {
        ring.submission().push_unchecked(Write::new(&file, a.as_ptr(), a.len() as u32).offset(0).user_data(1)).unwrap();
        ring.submission()
            .push_unchecked(Write::new(&file, b.as_ptr(), b.len() as u32).offset(20_000).user_data(2))
            .unwrap();
    }
    let mut got = run(&mut ring, 2);
    got.sort_unstable();
    assert_eq!(got, vec![(1, 10_000), (2, 5_000)]);
    let on_disk = file.contents();
    assert_eq!(on_disk.len(), 25_000);
    assert_eq!(&on_disk[..10_000], &a[..]);
    assert!(on_disk[10_000..20_000].iter().all(|&x| x == 0));
    assert_eq!(&on_disk[20_000..], &b[..]);

    // Read back at an offset.
    let mut back = vec![0u8; 3000];
    unsafe {
        ring.submission()
            .push_unchecked(Read::new(&file, back.as_mut_ptr(), 3000).offset(20_500).user_data(3))
            .unwrap();
    }
    assert_eq!(run(&mut ring, 1), vec![(3, 3000)]);
    assert_eq!(&back[..], &b[500..3500]);

    // Reading past the end gives 0.
    unsafe {
        ring.submission()
            .push_unchecked(Read::new(&file, back.as_mut_ptr(), 100).offset(1 << 30).user_data(4))
            .unwrap();
    }
    assert_eq!(run(&mut ring, 1), vec![(4, 0)]);

    // The default offset is the file position, which advances.
    let cur = TempFile::new("cur");
    let chunks: Vec<Vec<u8>> = (0..4).map(|i| pattern(1000, 10 + i)).collect();
    for (i, c) in chunks.iter().enumerate() {
        // One at a time: the position is only well defined between ops.
        unsafe { ring.submission().push_unchecked(Write::new(&cur, c.as_ptr(), 1000).user_data(i as u64)).unwrap() };
        assert_eq!(run(&mut ring, 1), vec![(i as u64, 1000)]);
    }
    assert_eq!(cur.contents(), chunks.concat());
    use std::io::Seek;
    let mut f = cur.file.try_clone().unwrap();
    f.seek(std::io::SeekFrom::Start(0)).unwrap();
    for (i, c) in chunks.iter().enumerate() {
        let mut buf = vec![0u8; 1000];
        unsafe {
            ring.submission().push_unchecked(Read::new(&cur, buf.as_mut_ptr(), 1000).user_data(i as u64)).unwrap()
        };
        assert_eq!(run(&mut ring, 1), vec![(i as u64, 1000)]);
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
    // SAFETY: the iovecs and what they point to outlive the op (reaped in run).
    unsafe { ring.submission().push_unchecked(Writev::new(&file, iov.as_ptr(), 3).offset(10).user_data(1)).unwrap() };
    assert_eq!(run(&mut ring, 1), vec![(1, 4203)]);
    let disk = file.contents();
    assert_eq!(&disk[10..], &parts.concat()[..]);

    let mut x = vec![0u8; 3000];
    let mut y = vec![0u8; 1203];
    let mut z = vec![0u8; 100];
    let iov = [iovec_mut(&mut x), iovec_mut(&mut y), iovec_mut(&mut z)];
    // SAFETY: as above; x, y, z are not touched until the CQE is reaped.
    unsafe { ring.submission().push_unchecked(Readv::new(&file, iov.as_ptr(), 3).offset(10).user_data(2)).unwrap() };
    assert_eq!(run(&mut ring, 1), vec![(2, 4203)], "the third iovec gets nothing: EOF");
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
        ring.submission().push_unchecked(Read::new(&r, buf.as_mut_ptr(), 4096).user_data(1)).unwrap();
    }
    ring.submit().unwrap();
    assert!(ring.completion().is_empty());
    unsafe {
        ring.submission().push_unchecked(Write::new(&w, msg.as_ptr(), 3000).user_data(2)).unwrap();
    }
    let mut got = run(&mut ring, 2);
    got.sort_unstable();
    assert_eq!(got, vec![(1, 3000), (2, 3000)]);
    assert_eq!(&buf[..3000], &msg[..]);

    // Vectored on a pipe.
    let parts = [b"abc".to_vec(), b"defgh".to_vec()];
    let iov: Vec<Iovec> = parts.iter().map(|p| iovec(p)).collect();
    unsafe { ring.submission().push_unchecked(Writev::new(&w, iov.as_ptr(), 2).user_data(3)).unwrap() };
    assert_eq!(run(&mut ring, 1), vec![(3, 8)]);
    let mut a = [0u8; 4];
    let mut b = [0u8; 4];
    let iov = [iovec_mut(&mut a), iovec_mut(&mut b)];
    unsafe { ring.submission().push_unchecked(Readv::new(&r, iov.as_ptr(), 2).user_data(4)).unwrap() };
    assert_eq!(run(&mut ring, 1), vec![(4, 8)]);
    assert_eq!((&a, &b), (b"abcd", b"efgh"));

    // Reading the write end fails with EBADF.
    unsafe { ring.submission().push_unchecked(Read::new(&w, buf.as_mut_ptr(), 4).user_data(5)).unwrap() };
    assert_eq!(run(&mut ring, 1), vec![(5, -EBADF)]);
}

#[test]
fn fsync_datasync_and_range() {
    let mut ring = Ring::new(8).unwrap();
    let file = TempFile::new("sync");
    let data = pattern(8192, 4);
    // SAFETY: `data` outlives the op.
    unsafe { ring.submission().push_unchecked(Write::new(&file, data.as_ptr(), 8192).offset(0).user_data(1)).unwrap() };
    assert_eq!(run(&mut ring, 1), vec![(1, 8192)]);
    ring.submission().push(Fsync::new(&file).user_data(2)).unwrap();
    ring.submission().push(Fsync::new(&file).fsync_flags(FsyncFlags::DATASYNC).user_data(3)).unwrap();
    ring.submission().push(Fsync::new(&file).range(0, 4096).user_data(4)).unwrap();
    let mut got = run(&mut ring, 3);
    got.sort_unstable();
    assert_eq!(got, vec![(2, 0), (3, 0), (4, 0)]);
    // fsync of a bad fd.
    ring.submission().push(Fsync::new(-1).user_data(5)).unwrap();
    assert_eq!(run(&mut ring, 1), vec![(5, -EBADF)]);
    assert_eq!(file.contents(), data);
}

#[test]
fn link_chain_runs_in_order() {
    let mut ring = Ring::new(8).unwrap();
    let file = TempFile::new("link");
    let data = pattern(6000, 5);
    let mut back = vec![0u8; 6000];
    // write -> fsync -> read: each starts after the previous succeeded, so
    // the read sees what the write wrote.
    // SAFETY: both buffers outlive the ops, reaped by `run`.
    unsafe {
        let mut sq = ring.submission();
        sq.push_unchecked(Write::new(&file, data.as_ptr(), 6000).offset(0).user_data(1).flags(SqeFlags::IO_LINK))
            .unwrap();
        sq.push(Fsync::new(&file).user_data(2).flags(SqeFlags::IO_LINK)).unwrap();
        sq.push_unchecked(Read::new(&file, back.as_mut_ptr(), 6000).offset(0).user_data(3)).unwrap();
    }
    let got = run(&mut ring, 3);
    assert_eq!(got, vec![(1, 6000), (2, 0), (3, 6000)], "CQEs in chain order");
    assert_eq!(back, data);
}

#[test]
fn failing_link_cancels_the_rest() {
    let mut ring = Ring::new(8).unwrap();
    let (r, w) = pipe();
    let mut buf = [0u8; 8];
    // A read of the pipe's write end fails at issue time (EBADF).
    // SAFETY: `buf` outlives the ops.
    unsafe {
        let mut sq = ring.submission();
        sq.push_unchecked(Read::new(&w, buf.as_mut_ptr(), 8).user_data(1).flags(SqeFlags::IO_LINK)).unwrap();
        sq.push(Nop::new().user_data(2).flags(SqeFlags::IO_LINK)).unwrap();
        sq.push(Nop::new().user_data(3)).unwrap();
        sq.push(Nop::new().user_data(4)).unwrap(); // not in the chain
    }
    let mut got = run(&mut ring, 4);
    got.sort_unstable();
    assert_eq!(got, vec![(1, -EBADF), (2, -ECANCELED), (3, -ECANCELED), (4, 0)]);
    drop(r);
}

#[test]
fn hardlink_continues_after_a_failure() {
    let mut ring = Ring::new(8).unwrap();
    let (_r, w) = pipe();
    let mut buf = [0u8; 8];
    // SAFETY: `buf` outlives the ops.
    unsafe {
        let mut sq = ring.submission();
        sq.push_unchecked(Read::new(&w, buf.as_mut_ptr(), 8).user_data(1).flags(SqeFlags::IO_HARDLINK)).unwrap();
        sq.push(Nop::new().user_data(2).flags(SqeFlags::IO_HARDLINK)).unwrap();
        sq.push(Nop::new().user_data(3)).unwrap();
    }
    let got = run(&mut ring, 3);
    assert_eq!(got, vec![(1, -EBADF), (2, 0), (3, 0)]);
}

#[test]
fn drain_waits_for_everything_before_it() {
    let mut ring = Ring::new(8).unwrap();
    let (r, w) = pipe();
    let mut buf = [0u8; 8];
    // SAFETY: `buf` outlives the ops.
    unsafe {
        let mut sq = ring.submission();
        sq.push_unchecked(Read::new(&r, buf.as_mut_ptr(), 8).user_data(1)).unwrap();
        sq.push(Nop::new().user_data(2).flags(SqeFlags::IO_DRAIN)).unwrap();
        sq.push(Nop::new().user_data(3)).unwrap();
    }
    assert_eq!(ring.submit().unwrap().consumed, 3);
    // The read waits on the empty pipe; the drained NOP (and what follows
    // it) must wait too.
    assert_eq!(ring.wait_timeout(1, Duration::from_millis(50)).unwrap(), 0);
    assert!(ring.completion().is_empty(), "nothing may complete before the read");
    rustix::io::write(&w, b"go").unwrap();
    let got = reap_all(&mut ring, 3, Duration::from_secs(5));
    assert_eq!(got, vec![(1, 2), (2, 0), (3, 0)]);
    assert_eq!(&buf[..2], b"go");
}

#[test]
fn async_forces_the_worker_pool() {
    let mut ring = Ring::new(16).unwrap();
    let file = TempFile::with_contents("async", &pattern(4096, 6));
    let mut bufs = vec![vec![0u8; 512]; 8];
    for (i, b) in bufs.iter_mut().enumerate() {
        // SAFETY: `bufs` outlives the ops.
        unsafe {
            ring.submission()
                .push_unchecked(
                    Read::new(&file, b.as_mut_ptr(), 512)
                        .offset(512 * i as u64)
                        .user_data(i as u64)
                        .flags(SqeFlags::ASYNC),
                )
                .unwrap()
        };
    }
    for i in 8..16 {
        ring.submission().push(Nop::new().user_data(i).flags(SqeFlags::ASYNC)).unwrap();
    }
    let mut got = run(&mut ring, 16);
    got.sort_unstable();
    let want: Vec<(u64, i32)> = (0..16).map(|i| (i, if i < 8 { 512 } else { 0 })).collect();
    assert_eq!(got, want);
    let all = pattern(4096, 6);
    for (i, b) in bufs.iter().enumerate() {
        assert_eq!(&b[..], &all[512 * i..512 * (i + 1)]);
    }
}

#[test]
fn cqe_skip_success_posts_only_failures() {
    let mut ring = Ring::new(8).unwrap();
    let (_r, w) = pipe();
    let mut buf = [0u8; 8];
    ring.submission().push(Nop::new().user_data(1).flags(SqeFlags::CQE_SKIP_SUCCESS)).unwrap();
    // A failing op with the flag still posts its CQE.
    // SAFETY: `buf` outlives the op.
    unsafe {
        ring.submission()
            .push_unchecked(Read::new(&w, buf.as_mut_ptr(), 8).user_data(2).flags(SqeFlags::CQE_SKIP_SUCCESS))
            .unwrap()
    };
    ring.submission().push(Nop::new().user_data(3).flags(SqeFlags::CQE_SKIP_SUCCESS)).unwrap();
    ring.submission().push(Nop::new().user_data(4)).unwrap();
    assert_eq!(ring.submit().unwrap().consumed, 4);
    let got = reap_all(&mut ring, 2, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(20));
    let late: Vec<u64> = ring.completions().unwrap().map(|c| c.user_data).collect();
    assert!(late.is_empty(), "unexpected CQEs {late:?}");
    let mut got = got;
    got.sort_unstable();
    assert_eq!(got, vec![(2, -EBADF), (4, 0)]);
    // The ring's accounting is not confused by the missing CQEs.
    for r in 0..4 {
        nop_round_trip(&mut ring, 8, 100 * r);
    }
}
