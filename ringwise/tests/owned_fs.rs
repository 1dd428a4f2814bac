//! Owned file ops against the kernel: vectored and fixed-buffer reads and
//! writes, open/close/statx/fsync/fallocate/ftruncate, splice and tee; the
//! buffers and descriptors come back (or are closed), and bad input is
//! refused with a typed error before the kernel sees it.

use ringwise::op::{Mode, OFlags};
use ringwise::owned::{ops, Driver, Fd, FixedBufPool, IoBuf, IoBufMut, SharedFd};
use ringwise::{Errno, Error};
use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A unique temporary path for one test.
fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ringwise-owned-fs-{}-{name}", std::process::id()))
}

/// A file opened read-write, created empty.
fn rw_file(path: &Path) -> SharedFd {
    let f = std::fs::File::options().read(true).write(true).create(true).truncate(true).open(path).unwrap();
    SharedFd::from(f)
}

/// How many of this process's descriptors name `path` (other tests of this
/// binary run in parallel, so counting all of /proc/self/fd would be racy).
fn fds_naming(path: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| std::fs::read_link(e.path()).map(|t| t == path).unwrap_or(false))
        .count()
}

/// A buffer that claims more bytes than it has: only for checking that
/// `validate` refuses it before any pointer reaches the kernel.
struct Huge {
    backing: Vec<u8>,
}

const HUGE: usize = u32::MAX as usize + 1;

// SAFETY: NOT honoured on purpose: the buffer claims `HUGE` bytes but owns
// one. Every op it is given is refused by `validate` (the tests check that),
// so the pointer never reaches the kernel and nothing reads or writes
// through it.
unsafe impl IoBuf for Huge {
    fn stable_ptr(&self) -> *const u8 {
        self.backing.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        HUGE
    }
    fn bytes_total(&self) -> usize {
        HUGE
    }
}

// SAFETY: as above: never handed to the kernel.
unsafe impl IoBufMut for Huge {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.backing.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _n: usize) {}
}

fn is_invalid_argument(e: &Error) -> bool {
    matches!(e, Error::InvalidArgument { .. })
}

#[test]
fn writev_then_readv_scatter_over_the_buffers_in_order() {
    let path = temp("vec");
    let file = rw_file(&path);
    let driver = Driver::new(8).unwrap();
    let bufs = vec![b"abc".to_vec(), Vec::new(), b"defgh".to_vec(), b"ij".to_vec()];
    let (n, bufs) = driver.submit(ops::Writev::at(&file, bufs, 0)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(10));
    assert_eq!(bufs.len(), 4, "every buffer comes back");
    assert_eq!(std::fs::read(&path).unwrap(), b"abcdefghij");

    // Capacities 4, 0, 3, 16: the data fills them in order.
    let bufs = vec![Vec::with_capacity(4), Vec::new(), Vec::with_capacity(3), Vec::with_capacity(16)];
    let caps: Vec<usize> = bufs.iter().map(|b| b.capacity()).collect();
    let (n, bufs) = driver.submit(ops::Readv::at(&file, bufs, 0)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(10));
    let mut expect = &b"abcdefghij"[..];
    for (b, cap) in bufs.iter().zip(caps) {
        let here = cap.min(expect.len());
        assert_eq!(&b[..], &expect[..here], "each buffer holds its part");
        expect = &expect[here..];
    }

    // At the file position (no offset), from a fresh descriptor.
    let again = SharedFd::from(std::fs::File::open(&path).unwrap());
    let (n, bufs) = driver
        .submit(ops::Readv::new(&again, vec![Vec::with_capacity(6), Vec::with_capacity(6)]))
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(n, Ok(10));
    assert_eq!((&bufs[0][..], &bufs[1][..]), (&b"abcdef"[..], &b"ghij"[..]));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn readv_of_more_than_uio_maxiov_buffers_is_refused_and_gives_them_back() {
    let (r, _w) = std::io::pipe().unwrap();
    let r = SharedFd::from(OwnedFd::from(r));
    let driver = Driver::new(8).unwrap();
    let bufs: Vec<Vec<u8>> = (0..ops::MAX_IOVECS + 1).map(|_| Vec::with_capacity(1)).collect();
    let refused = driver.submit(ops::Readv::new(&r, bufs)).unwrap_err();
    assert!(is_invalid_argument(&refused.error), "{}", refused.error);
    assert_eq!(refused.into_inner().into_bufs().len(), ops::MAX_IOVECS + 1);
    let bufs: Vec<Vec<u8>> = (0..ops::MAX_IOVECS + 1).map(|_| vec![1]).collect();
    let refused = driver.submit(ops::Writev::new(&r, bufs)).unwrap_err();
    assert!(is_invalid_argument(&refused.error), "{}", refused.error);
    assert_eq!(driver.stats().in_flight, 0);
}

#[test]
fn a_buffer_over_u32_max_is_refused_before_the_kernel_sees_it() {
    let path = temp("huge");
    let file = rw_file(&path);
    let driver = Driver::new(8).unwrap();
    let refused = driver.submit(ops::Read::at(&file, Huge { backing: vec![0] }, 0)).unwrap_err();
    assert!(is_invalid_argument(&refused.error), "{}", refused.error);
    let back = refused.into_inner().into_buf();
    assert_eq!(back.backing.len(), 1, "the buffer comes back");
    let refused = driver.submit(ops::Write::at(&file, Huge { backing: vec![0] }, 0)).unwrap_err();
    assert!(is_invalid_argument(&refused.error), "{}", refused.error);
    // Nothing reached the ring.
    assert!(!driver.has_unsubmitted());
    assert_eq!(driver.stats().in_flight, 0);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn fixed_buffers_round_trip_and_return_to_the_pool() {
    let path = temp("fixed");
    let file = rw_file(&path);
    let driver = Driver::new(8).unwrap();
    let pool = FixedBufPool::register(&driver, 2, 4096).unwrap();
    assert_eq!((pool.count(), pool.buf_size(), pool.available()), (2, 4096, 2));

    let mut buf = pool.checkout().unwrap();
    assert!(buf.is_empty());
    assert_eq!(buf.capacity(), 4096);
    assert_eq!(buf.extend_from_slice(b"fixed buffers"), 13);
    buf.check_driver(&driver).unwrap();
    let (n, buf) = driver.submit(ops::WriteFixed::at(&file, buf, 100)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(13));
    assert_eq!(&buf[..], b"fixed buffers");
    let first = buf.index();
    drop(buf);
    assert_eq!(pool.available(), 2, "dropped buffers go back to the pool");

    let a = pool.checkout().unwrap();
    let b = pool.checkout().unwrap();
    assert_ne!(a.index(), b.index());
    assert!(pool.checkout().is_none(), "both are checked out");
    assert!(a.index() == first || b.index() == first);
    let (n, b) = driver.submit(ops::ReadFixed::at(&file, b, 100)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(13));
    assert_eq!(&b[..], b"fixed buffers");
    let (n, a) = driver.submit(ops::ReadFixed::at(&file, a, 106)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(7));
    assert_eq!(&a[..], b"buffers");
    drop((a, b));
    assert_eq!(pool.available(), 2);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn fixed_reads_into_buffers_sharing_a_table_entry_land_in_their_own() {
    // 16 buffers of 4 KiB: one table entry holds them all, and each read
    // names it with its own buffer's address.
    let path = temp("fixed-entry");
    let data: Vec<u8> = (0..16 * 4096).map(|i| (i / 4096) as u8 ^ (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let file = SharedFd::from(std::fs::File::open(&path).unwrap());
    let driver = Driver::new(32).unwrap();
    let pool = FixedBufPool::register(&driver, 16, 4096).unwrap();
    let bufs: Vec<_> = (0..16).map(|_| pool.checkout().unwrap()).collect();
    assert!(bufs.iter().all(|b| b.buf_index() == 0), "one entry for a 64 KiB pool");
    let mut numbers: Vec<u16> = bufs.iter().map(|b| b.index()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..16).collect::<Vec<u16>>(), "each buffer its own number");
    // Buffer k reads block 15 - k, all in flight at once.
    let reads: Vec<_> = bufs
        .into_iter()
        .enumerate()
        .map(|(k, b)| driver.submit(ops::ReadFixed::at(&file, b, (15 - k as u64) * 4096)).unwrap())
        .collect();
    for (k, read) in reads.into_iter().enumerate() {
        let (n, buf) = read.wait().unwrap();
        assert_eq!(n, Ok(4096));
        let block = 15 - k;
        assert_eq!(&buf[..], &data[block * 4096..(block + 1) * 4096], "read {k} landed in its own buffer");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_fixed_buffer_outlives_its_pool_and_driver_while_in_flight() {
    let (r, mut w) = std::io::pipe().unwrap();
    let r = SharedFd::from(OwnedFd::from(r));
    let driver = Driver::new(8).unwrap();
    let pool = FixedBufPool::register(&driver, 1, 64).unwrap();
    let buf = pool.checkout().unwrap();
    let read = driver.submit(ops::ReadFixed::new(&r, buf)).unwrap();
    driver.wait(0).unwrap();
    drop(pool);
    w.write_all(b"late").unwrap();
    let (n, buf) = read.wait().unwrap();
    assert_eq!(n, Ok(4));
    drop(driver);
    // The ring is gone; the buffer's memory is its own.
    assert_eq!(&buf[..], b"late");
    let mut buf = buf;
    buf.whole_mut()[..2].copy_from_slice(b"ok");
    buf.set_len(2);
    assert_eq!(&buf[..], b"ok");
}

#[test]
fn a_fixed_buffer_from_another_driver_is_refused() {
    let path = temp("fixed-other");
    let file = rw_file(&path);
    let a = Driver::new(8).unwrap();
    let b = Driver::new(8).unwrap();
    let pool_a = FixedBufPool::register(&a, 1, 4096).unwrap();
    // Driver b has its own table, so index 0 names a buffer there too.
    let _pool_b = FixedBufPool::register(&b, 1, 4096).unwrap();
    assert!(FixedBufPool::register(&a, 1, 4096).is_err(), "one table per ring (EBUSY)");
    let mut buf = pool_a.checkout().unwrap();
    buf.extend_from_slice(b"not yours");
    assert!(buf.is_registered_on(&a) && !buf.is_registered_on(&b));
    let err = buf.check_driver(&b).unwrap_err();
    assert!(is_invalid_argument(&err), "{err}");
    // Submitted anyway: refused with the typed error (the op checks itself
    // against the driver it is submitted to), the buffer given back.
    let refused = b.submit(ops::WriteFixed::at(&file, buf, 0)).unwrap_err();
    assert!(is_invalid_argument(&refused.error), "{}", refused.error);
    assert_eq!(&refused.into_inner().into_buf()[..], b"not yours");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "nothing was written");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_pool_of_zero_or_oversized_buffers_is_refused() {
    let driver = Driver::new(4).unwrap();
    for (count, size) in [(0, 4096), (1, 0), (1, (1 << 30) + 1), (16385, 4096)] {
        let e = FixedBufPool::register(&driver, count, size).unwrap_err();
        assert!(is_invalid_argument(&e), "{count} x {size}: {e}");
    }
}

#[test]
fn open_read_close() {
    let path = temp("open");
    std::fs::write(&path, b"opened by the ring").unwrap();
    let driver = Driver::new(8).unwrap();
    let fd = driver.submit(ops::OpenAt::path(&path, OFlags::RDONLY, Mode::empty())).unwrap().wait().unwrap().unwrap();
    assert_eq!(fds_naming(&path), 1);
    let flags = rustix::io::fcntl_getfd(&fd).unwrap();
    assert!(flags.contains(rustix::io::FdFlags::CLOEXEC), "O_CLOEXEC is added");
    let file = SharedFd::from(fd);
    let (n, buf) = driver.submit(ops::Read::at(&file, Vec::with_capacity(64), 0)).unwrap().wait().unwrap();
    assert_eq!(&buf[..n.unwrap()], b"opened by the ring");
    let fd = file.try_into_owned().unwrap();
    let res = driver.submit(ops::Close::new(fd)).unwrap().wait().unwrap();
    assert_eq!(res, Ok(()));
    assert_eq!(fds_naming(&path), 0, "closed");

    // Relative to a directory descriptor.
    let dir = SharedFd::from(std::fs::File::open(path.parent().unwrap()).unwrap());
    let name = path.file_name().unwrap();
    let fd =
        driver.submit(ops::OpenAt::at(&dir, name, OFlags::RDONLY, Mode::empty())).unwrap().wait().unwrap().unwrap();
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).unwrap();
    assert_eq!(s, "opened by the ring");

    let missing = driver.submit(ops::OpenAt::path(temp("missing"), OFlags::RDONLY, Mode::empty())).unwrap().wait();
    assert_eq!(missing.unwrap().unwrap_err(), Errno::NOENT);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn open_with_create_sets_the_mode() {
    let path = temp("create");
    let _ = std::fs::remove_file(&path);
    let driver = Driver::new(8).unwrap();
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY;
    let fd = driver.submit(ops::OpenAt::path(&path, flags, Mode::from_bits_truncate(0o600))).unwrap().wait().unwrap();
    let file = SharedFd::from(fd.unwrap());
    let st = driver.submit(ops::Statx::fd(&file)).unwrap().wait().unwrap().unwrap();
    assert_eq!(st.stx_mode as u32 & 0o777, 0o600);
    let again = driver.submit(ops::OpenAt::path(&path, flags, Mode::from_bits_truncate(0o600))).unwrap().wait();
    assert_eq!(again.unwrap().unwrap_err(), Errno::EXIST);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn bad_paths_and_fixed_directories_are_refused() {
    let driver = Driver::new(8).unwrap();
    let refused = driver.submit(ops::OpenAt::path("a\0b", OFlags::RDONLY, Mode::empty())).unwrap_err();
    assert!(is_invalid_argument(&refused.error), "{}", refused.error);
    let refused = driver.submit(ops::OpenAt::at(Fd::fixed(0), "x", OFlags::RDONLY, Mode::empty())).unwrap_err();
    assert!(is_invalid_argument(&refused.error), "{}", refused.error);
    let refused = driver.submit(ops::Statx::path("nul\0inside")).unwrap_err();
    assert!(is_invalid_argument(&refused.error), "{}", refused.error);
    let refused = driver.submit(ops::Statx::fd(Fd::fixed(3))).unwrap_err();
    assert!(is_invalid_argument(&refused.error), "{}", refused.error);
    assert_eq!(driver.stats().in_flight, 0);
}

#[test]
fn dropped_open_handles_leak_no_descriptor() {
    let path = temp("leak");
    std::fs::write(&path, b"x").unwrap();
    let driver = Driver::new(64).unwrap();
    assert_eq!(fds_naming(&path), 0);
    for i in 0..200 {
        let op = driver.submit(ops::OpenAt::path(&path, OFlags::RDONLY, Mode::empty())).unwrap();
        if i % 2 == 0 {
            // Some reach the kernel before the handle goes, some not.
            driver.drive().unwrap();
        }
        drop(op);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while driver.stats().in_flight > 0 {
        assert!(Instant::now() < deadline, "ops still in flight: {:?}", driver.stats());
        driver.wait(1).unwrap();
    }
    assert_eq!(fds_naming(&path), 0, "every unclaimed descriptor was closed");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn close_of_an_owned_fd_and_of_a_refused_op() {
    let path = temp("close");
    std::fs::write(&path, b"x").unwrap();
    let driver = Driver::new(8).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    assert_eq!(fds_naming(&path), 1);
    assert_eq!(driver.submit(ops::Close::new(f)).unwrap().wait().unwrap(), Ok(()));
    assert_eq!(fds_naming(&path), 0);

    // A dropped close handle still closes.
    let f = std::fs::File::open(&path).unwrap();
    drop(driver.submit(ops::Close::new(f)).unwrap());
    while driver.stats().in_flight > 0 {
        driver.wait(1).unwrap();
    }
    assert_eq!(fds_naming(&path), 0);

    // IORING_OP_CLOSE will not close an io_uring fd (EBADF): the op closes
    // it itself, so it does not leak.
    // The duplicate gets a high number no other test's descriptors reach,
    // so its slot staying empty afterwards means it was closed.
    let other = ringwise::Ring::new(2).unwrap();
    let ring_fd: OwnedFd = rustix::io::fcntl_dupfd_cloexec(other.fd().unwrap(), 900).unwrap();
    let raw = ring_fd.as_raw_fd();
    assert!(std::fs::read_link(format!("/proc/self/fd/{raw}")).unwrap().to_string_lossy().contains("io_uring"));
    let res = driver.submit(ops::Close::new(ring_fd)).unwrap().wait().unwrap();
    assert_eq!(res, Err(Errno::BADF));
    assert!(std::fs::read_link(format!("/proc/self/fd/{raw}")).is_err(), "the duplicated ring fd was closed by the op");

    // Refused by a shut-down driver: the descriptor comes back.
    driver.shutdown();
    let f = std::fs::File::open(&path).unwrap();
    let refused = driver.submit(ops::Close::new(f)).unwrap_err();
    let fd = refused.into_inner().into_fd().expect("the descriptor comes back");
    assert_eq!(fds_naming(&path), 1);
    drop(fd);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn statx_reports_the_size() {
    let path = temp("statx");
    std::fs::write(&path, vec![7u8; 12345]).unwrap();
    let driver = Driver::new(8).unwrap();
    let st = driver.submit(ops::Statx::path(&path)).unwrap().wait().unwrap().unwrap();
    assert_eq!(st.stx_size, 12345);
    assert_eq!(st.stx_mode as u32 & linux_raw_sys::general::S_IFMT, linux_raw_sys::general::S_IFREG);
    let file = SharedFd::from(std::fs::File::open(&path).unwrap());
    let st = driver.submit(ops::Statx::fd(&file)).unwrap().wait().unwrap().unwrap();
    assert_eq!(st.stx_size, 12345);
    let dir = SharedFd::from(std::fs::File::open(path.parent().unwrap()).unwrap());
    let st = driver.submit(ops::Statx::at(&dir, path.file_name().unwrap()).mask(linux_raw_sys::general::STATX_SIZE));
    let st = st.unwrap().wait().unwrap().unwrap();
    assert_ne!(st.stx_mask & linux_raw_sys::general::STATX_SIZE, 0);
    assert_eq!(st.stx_size, 12345);
    let missing = driver.submit(ops::Statx::path(temp("nope"))).unwrap().wait().unwrap();
    assert_eq!(missing.unwrap_err(), Errno::NOENT);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn fsync_fallocate_ftruncate() {
    let path = temp("space");
    let file = rw_file(&path);
    let driver = Driver::new(8).unwrap();
    let (n, _) = driver.submit(ops::Write::at(&file, b"data".to_vec(), 0)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(4));
    assert_eq!(driver.submit(ops::Fsync::new(&file)).unwrap().wait().unwrap(), Ok(()));
    assert_eq!(driver.submit(ops::Fsync::data(&file)).unwrap().wait().unwrap(), Ok(()));
    match driver.submit(ops::Fallocate::new(&file, 0, 8192)).unwrap().wait().unwrap() {
        Ok(()) => assert_eq!(std::fs::metadata(&path).unwrap().len(), 8192),
        Err(Errno::OPNOTSUPP) => eprintln!("skip: the temp file system does not support fallocate"),
        Err(e) => panic!("fallocate: {e}"),
    }
    // FALLOC_FL_KEEP_SIZE: allocate past the end without growing.
    let keep = linux_raw_sys::general::FALLOC_FL_KEEP_SIZE;
    match driver.submit(ops::Fallocate::new(&file, 0, 65536).mode(keep)).unwrap().wait().unwrap() {
        Ok(()) => assert!(std::fs::metadata(&path).unwrap().len() <= 8192),
        Err(Errno::OPNOTSUPP) => eprintln!("skip: no FALLOC_FL_KEEP_SIZE on the temp file system"),
        Err(e) => panic!("fallocate keep size: {e}"),
    }
    match driver.submit(ops::Ftruncate::new(&file, 3)).unwrap().wait().unwrap() {
        Ok(()) => {
            assert_eq!(std::fs::read(&path).unwrap(), b"dat");
        }
        Err(Errno::INVAL) => eprintln!("skip: IORING_OP_FTRUNCATE needs Linux 6.9"),
        Err(e) => panic!("ftruncate: {e}"),
    }
    // Errors come back typed: a read-only descriptor cannot be truncated.
    let ro = SharedFd::from(std::fs::File::open(&path).unwrap());
    let res = driver.submit(ops::Ftruncate::new(&ro, 0)).unwrap().wait().unwrap();
    assert!(matches!(res, Err(Errno::INVAL) | Err(Errno::BADF)), "{res:?}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn splice_from_a_file_through_a_pipe_to_a_file() {
    let src = temp("splice-src");
    let dst = temp("splice-dst");
    std::fs::write(&src, b"0123456789spliced").unwrap();
    let input = SharedFd::from(std::fs::File::open(&src).unwrap());
    let output = rw_file(&dst);
    let (r, w) = std::io::pipe().unwrap();
    let (r, w) = (SharedFd::from(OwnedFd::from(r)), SharedFd::from(OwnedFd::from(w)));
    let driver = Driver::new(8).unwrap();
    let n = driver.submit(ops::Splice::new(&input, Some(10), &w, None, 64)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(7));
    let n = driver.submit(ops::Splice::new(&r, None, &output, Some(2), 64)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(7));
    assert_eq!(std::fs::read(&dst).unwrap(), b"\0\0spliced");
    // Neither side a pipe: the kernel's EINVAL.
    let n = driver.submit(ops::Splice::new(&input, Some(0), &output, Some(0), 4)).unwrap().wait().unwrap();
    assert_eq!(n, Err(Errno::INVAL));
    std::fs::remove_file(&src).unwrap();
    std::fs::remove_file(&dst).unwrap();
}

#[test]
fn tee_duplicates_without_consuming() {
    let (r1, mut w1) = std::io::pipe().unwrap();
    let (mut r2, w2) = std::io::pipe().unwrap();
    w1.write_all(b"twice").unwrap();
    let r1 = SharedFd::from(OwnedFd::from(r1));
    let w2 = SharedFd::from(OwnedFd::from(w2));
    let driver = Driver::new(8).unwrap();
    let n = driver.submit(ops::Tee::new(&r1, &w2, 64)).unwrap().wait().unwrap();
    assert_eq!(n, Ok(5));
    let mut got = [0u8; 5];
    r2.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"twice");
    // Still in the first pipe.
    let (n, buf) = driver.submit(ops::Read::new(&r1, Vec::with_capacity(8))).unwrap().wait().unwrap();
    assert_eq!(&buf[..n.unwrap()], b"twice");
}

#[test]
fn file_ops_as_futures() {
    let path = temp("async");
    std::fs::write(&path, b"awaited").unwrap();
    let driver = Driver::new(8).unwrap();
    let out = driver
        .block_on(async {
            let fd = driver.submit(ops::OpenAt::path(&path, OFlags::RDONLY, Mode::empty())).unwrap().await?;
            let file = SharedFd::from(fd);
            let st = driver.submit(ops::Statx::fd(&file)).unwrap().await?;
            let bufs = vec![Vec::with_capacity(3), Vec::with_capacity(16)];
            let (n, bufs) = driver.submit(ops::Readv::at(&file, bufs, 0)).unwrap().await;
            let fd = file.try_into_owned().unwrap();
            driver.submit(ops::Close::new(fd)).unwrap().await?;
            Ok::<_, Errno>((st.stx_size, n?, bufs))
        })
        .unwrap()
        .unwrap();
    assert_eq!(out.0, 7);
    assert_eq!(out.1, 7);
    assert_eq!((&out.2[0][..], &out.2[1][..]), (&b"awa"[..], &b"ited"[..]));
    assert_eq!(fds_naming(&path), 0);
    std::fs::remove_file(&path).unwrap();
}
