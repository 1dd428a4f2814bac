//! File-system ops against a temporary directory: every result is checked
//! on disk (or through another syscall), not just by `res >= 0`.

mod common;

use common::*;
use ringwise::op::{
    self, Advice, AtFlags, Close, CloseFixed, DirectSlot, FGetXattr, FSetXattr, Fadvise, Fallocate, FilesUpdate,
    FixedFdInstall, Ftruncate, GetXattr, LinkAt, Madvise, MkdirAt, Mode, OFlags, OpenAt, OpenAt2, OpenHow, Pipe, Read,
    RenameAt, SetXattr, Splice, Statx, StatxBuf, SymlinkAt, SyncFileRange, SyncFileRangeFlags, Target, Tee, UnlinkAt,
    UpdateAt, Write, XattrFlags, AT_FDCWD,
};
use ringwise::{Ring, SqeFlags};
use rustix::io::Errno;
use std::ffi::CString;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsFd;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

#[test]
fn openat_write_statx_close() {
    let dir = TempDir::new("open");
    let path = dir.c("new.txt");
    let mut ring = Ring::new(8).unwrap();
    push!(
        ring,
        OpenAt::new(AT_FDCWD, &path, OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC)
            .mode(Mode::from_bits_truncate(0o640))
            .user_data(1)
    );
    let fd = owned(run(&mut ring, 1)[0].res);
    let data = b"written through io_uring";
    push!(
        ring,
        // SAFETY: `fd` stays open until this test has reaped the op's CQE.
        Write::new(unsafe { Target::from_fd(fd.as_fd()) }, data.as_ptr(), data.len() as u32).offset(0).user_data(2)
    );
    assert_eq!(run(&mut ring, 1)[0].res, data.len() as i32);
    // SAFETY: `statx` is plain integers; all-zero bytes are a valid value.
    let mut stx: StatxBuf = unsafe { std::mem::zeroed() };
    push!(ring, Statx::new(AT_FDCWD, &path, linux_raw_sys::general::STATX_BASIC_STATS, &mut stx).user_data(3));
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    assert_eq!(stx.stx_size, data.len() as u64);
    assert_eq!(stx.stx_mode as u32 & 0o777, 0o640);
    // statx on the fd itself with AT_EMPTY_PATH.
    // SAFETY: `statx` is plain integers; all-zero bytes are a valid value.
    let mut stx2: StatxBuf = unsafe { std::mem::zeroed() };
    push!(
        ring,
        Statx::new(fd.as_raw_fd(), c"", linux_raw_sys::general::STATX_SIZE, &mut stx2)
            .at_flags(AtFlags::EMPTY_PATH)
            .user_data(4)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    assert_eq!(stx2.stx_size, data.len() as u64);
    let ours = rustix::fs::fstat(&fd).unwrap();
    let raw = std::os::fd::IntoRawFd::into_raw_fd(fd);
    // SAFETY: `raw` came from into_raw_fd: this test owns it and never uses
    // it again (below only to see that it no longer names our file).
    unsafe { ring.submission().push_unchecked(Close::new(Target::fd(raw)).user_data(5)) }.unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    // The number is closed, or (tests run in parallel threads) already
    // reused by another test's open: either way it no longer names our file.
    // SAFETY: only fstat through the number, which stays open or closed as
    // the other test left it.
    match rustix::fs::fstat(unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) }) {
        Err(e) => assert_eq!(e, Errno::BADF, "the fd is closed"),
        Ok(now) => {
            assert!((now.st_dev, now.st_ino) != (ours.st_dev, ours.st_ino), "fd {raw} still names the file after CLOSE")
        }
    }
    assert_eq!(std::fs::read(dir.path().join("new.txt")).unwrap(), data);
    // Opening a missing file without CREATE: ENOENT.
    let missing = dir.c("missing");
    push!(ring, OpenAt::new(AT_FDCWD, &missing, OFlags::RDONLY).user_data(6));
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::NOENT));
}

#[test]
fn openat2_resolve_beneath_refuses_escapes() {
    let dir = TempDir::new("open2");
    std::fs::write(dir.path().join("inside"), b"x").unwrap();
    let dirfd = std::fs::File::open(dir.path()).unwrap();
    let mut ring = Ring::new(4).unwrap();
    let how = OpenHow {
        flags: (OFlags::RDONLY | OFlags::CLOEXEC).bits() as u64,
        mode: 0,
        resolve: linux_raw_sys::general::RESOLVE_BENEATH as u64,
    };
    push!(ring, OpenAt2::new(dirfd.as_raw_fd(), c"inside", &how).user_data(1));
    push!(ring, OpenAt2::new(dirfd.as_raw_fd(), c"../", &how).user_data(2));
    let cqes = run(&mut ring, 2);
    drop(owned(by_ud(&cqes, 1).res));
    assert_eq!(by_ud(&cqes, 2).res, errno(Errno::XDEV), "RESOLVE_BENEATH stops ..");
}

#[test]
fn direct_open_read_by_slot_and_close_slot() {
    let dir = TempDir::new("direct");
    std::fs::write(dir.path().join("f"), b"direct descriptor").unwrap();
    let path = dir.c("f");
    let mut ring = Ring::new(8).unwrap();
    register_files(&ring, &[-1, -1, -1, -1]);
    push!(ring, OpenAt::new(AT_FDCWD, &path, OFlags::RDONLY).direct(DirectSlot::Index(2)).user_data(1));
    assert_eq!(run(&mut ring, 1)[0].res, 0, "a direct open into a given slot returns 0");
    let mut buf = [0u8; 17];
    push!(ring, Read::new(Target::fixed(2), buf.as_mut_ptr(), 17).offset(0).user_data(2));
    assert_eq!(run(&mut ring, 1)[0].res, 17);
    assert_eq!(&buf, b"direct descriptor");
    let how = OpenHow { flags: OFlags::RDONLY.bits() as u64, mode: 0, resolve: 0 };
    push!(ring, OpenAt2::new(AT_FDCWD, &path, &how).direct(DirectSlot::Alloc).user_data(3));
    let slot = run(&mut ring, 1)[0].res;
    assert!((0..4).contains(&slot) && slot != 2, "allocated slot {slot}");
    ring.submission().push(CloseFixed::new(2).user_data(4)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    push!(ring, Read::new(Target::fixed(2), buf.as_mut_ptr(), 17).offset(0).user_data(5));
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::BADF), "the slot is empty after a fixed close");
}

#[test]
fn mkdir_rename_symlink_link_unlink_change_the_tree() {
    let dir = TempDir::new("tree");
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("a"), b"AAA").unwrap();
    let mut ring = Ring::new(8).unwrap();
    let (sub, a, b, sym, hard) = (dir.c("sub"), dir.c("a"), dir.c("b"), dir.c("sym"), dir.c("hard"));
    push!(ring, MkdirAt::new(AT_FDCWD, &sub, Mode::from_bits_truncate(0o750)).user_data(1).flags(SqeFlags::IO_LINK));
    push!(ring, RenameAt::new(AT_FDCWD, &a, AT_FDCWD, &b).user_data(2).flags(SqeFlags::IO_LINK));
    push!(ring, SymlinkAt::new(c"b", AT_FDCWD, &sym).user_data(3).flags(SqeFlags::IO_LINK));
    push!(ring, LinkAt::new(AT_FDCWD, &b, AT_FDCWD, &hard).user_data(4));
    let cqes = run(&mut ring, 4);
    assert_eq!(cqes.iter().map(|c| (c.user_data, c.res)).collect::<Vec<_>>(), vec![(1, 0), (2, 0), (3, 0), (4, 0)]);
    assert!(p("sub").is_dir());
    assert!(!p("a").exists());
    assert_eq!(std::fs::read(p("b")).unwrap(), b"AAA");
    assert_eq!(std::fs::read_link(p("sym")).unwrap(), std::path::Path::new("b"));
    assert_eq!(std::fs::read(p("sym")).unwrap(), b"AAA");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(p("hard")).unwrap().ino(), std::fs::metadata(p("b")).unwrap().ino());
    assert_eq!(std::fs::metadata(p("b")).unwrap().nlink(), 2);

    // RENAME_NOREPLACE refuses to overwrite.
    push!(ring, RenameAt::new(AT_FDCWD, &b, AT_FDCWD, &hard).rename_flags(op::RenameFlags::NOREPLACE).user_data(5));
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::EXIST));

    push!(ring, UnlinkAt::new(AT_FDCWD, &hard).user_data(6));
    push!(ring, UnlinkAt::new(AT_FDCWD, &sub).dir().user_data(7));
    push!(ring, UnlinkAt::new(AT_FDCWD, &b).dir().user_data(8));
    let cqes = run(&mut ring, 3);
    assert_eq!(by_ud(&cqes, 6).res, 0);
    assert_eq!(by_ud(&cqes, 7).res, 0);
    assert_eq!(by_ud(&cqes, 8).res, errno(Errno::NOTDIR), "REMOVEDIR on a file");
    assert!(!p("hard").exists() && !p("sub").exists() && p("b").exists());
}

#[test]
fn fallocate_ftruncate_fadvise_sync_range() {
    let dir = TempDir::new("alloc");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.path().join("f"))
        .unwrap();
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(Fallocate::new(unsafe { Target::from_fd(file.as_fd()) }, 0, 65536).user_data(1).flags(SqeFlags::IO_LINK))
        .unwrap();
    ring.submission()
        .push(
            // SAFETY: `file` stays open until this test has reaped the op's CQE.
            Fadvise::new(unsafe { Target::from_fd(file.as_fd()) }, 0, 65536, Advice::Sequential)
                .user_data(2)
                .flags(SqeFlags::IO_LINK),
        )
        .unwrap();
    ring.submission()
        .push(
            SyncFileRange::new(
                // SAFETY: `file` stays open until this test has reaped the op's CQE.
                unsafe { Target::from_fd(file.as_fd()) },
                0,
                4096,
                SyncFileRangeFlags::WRITE | SyncFileRangeFlags::WAIT_AFTER,
            )
            .user_data(3),
        )
        .unwrap();
    let cqes = run(&mut ring, 3);
    assert!(cqes.iter().all(|c| c.res == 0), "{cqes:?}");
    assert_eq!(file.metadata().unwrap().len(), 65536, "fallocate extended the file");
    // KEEP_SIZE allocates without growing.
    ring.submission()
        .push(
            // SAFETY: `file` stays open until this test has reaped the op's CQE.
            Fallocate::new(unsafe { Target::from_fd(file.as_fd()) }, 65536, 4096)
                .mode(linux_raw_sys::general::FALLOC_FL_KEEP_SIZE)
                .user_data(4),
        )
        .unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    assert_eq!(file.metadata().unwrap().len(), 65536);
    if !supports(op::opcode::FTRUNCATE) {
        return skip("FTRUNCATE needs Linux 6.9");
    }
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    ring.submission().push(Ftruncate::new(unsafe { Target::from_fd(file.as_fd()) }, 1234).user_data(5)).unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    assert_eq!(file.metadata().unwrap().len(), 1234);
}

#[test]
fn madvise_dontneed_zeroes_anonymous_memory() {
    let map = ringwise::Mapping::anonymous(2 * 4096).unwrap();
    // SAFETY: our own fresh mapping of two pages.
    let mem = unsafe { std::slice::from_raw_parts_mut(map.as_ptr(), 8192) };
    mem.fill(0xAB);
    let mut ring = Ring::new(2).unwrap();
    push!(ring, Madvise::new(map.as_ptr(), 4096, linux_raw_sys::general::MADV_DONTNEED).user_data(1));
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    assert!(mem[..4096].iter().all(|&b| b == 0), "MADV_DONTNEED dropped the first page");
    assert!(mem[4096..].iter().all(|&b| b == 0xAB), "the second page is untouched");
}

#[test]
fn xattrs_by_fd_and_by_path() {
    let dir = TempDir::new("xattr");
    std::fs::write(dir.path().join("f"), b"").unwrap();
    let file = std::fs::File::open(dir.path().join("f")).unwrap();
    let path = dir.c("f");
    let mut ring = Ring::new(4).unwrap();
    let v1 = b"value-one";
    push!(
        ring,
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        FSetXattr::new(unsafe { Target::from_fd(file.as_fd()) }, c"user.ringwise", v1.as_ptr(), v1.len() as u32)
            .xattr_flags(XattrFlags::CREATE)
            .user_data(1)
    );
    let res = run(&mut ring, 1)[0].res;
    if res == errno(Errno::OPNOTSUPP) {
        return skip("the temp directory's file system has no user xattrs");
    }
    assert_eq!(res, 0);
    let mut got = [0u8; 32];
    push!(
        ring,
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        FGetXattr::new(unsafe { Target::from_fd(file.as_fd()) }, c"user.ringwise", got.as_mut_ptr(), 32).user_data(2)
    );
    assert_eq!(run(&mut ring, 1)[0].res, v1.len() as i32);
    assert_eq!(&got[..v1.len()], v1);
    let v2 = b"second";
    push!(
        ring,
        SetXattr::new(&path, c"user.ringwise", v2.as_ptr(), v2.len() as u32)
            .xattr_flags(XattrFlags::REPLACE)
            .user_data(3)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    let mut got2 = [0u8; 32];
    push!(ring, GetXattr::new(&path, c"user.ringwise", got2.as_mut_ptr(), 32).user_data(4));
    assert_eq!(run(&mut ring, 1)[0].res, v2.len() as i32);
    assert_eq!(&got2[..v2.len()], v2);
    push!(
        ring,
        // SAFETY: `file` stays open until this test has reaped the op's CQE.
        FSetXattr::new(unsafe { Target::from_fd(file.as_fd()) }, c"user.ringwise", v1.as_ptr(), 1)
            .xattr_flags(XattrFlags::CREATE)
            .user_data(5)
    );
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::EXIST));
}

#[test]
fn fixed_fd_install_gives_a_working_cloexec_fd() {
    if !supports(op::opcode::FIXED_FD_INSTALL) {
        return skip("FIXED_FD_INSTALL needs Linux 6.8");
    }
    let dir = TempDir::new("install");
    std::fs::write(dir.path().join("f"), b"installed").unwrap();
    let file = std::fs::File::open(dir.path().join("f")).unwrap();
    let mut ring = Ring::new(4).unwrap();
    register_files(&ring, &[-1, file.as_raw_fd()]);
    drop(file);
    ring.submission().push(FixedFdInstall::new(1).user_data(1)).unwrap();
    ring.submission().push(FixedFdInstall::new(1).no_cloexec().user_data(2)).unwrap();
    ring.submission().push(FixedFdInstall::new(0).user_data(3)).unwrap();
    let cqes = run(&mut ring, 3);
    let fd = owned(by_ud(&cqes, 1).res);
    let fd2 = owned(by_ud(&cqes, 2).res);
    assert_eq!(by_ud(&cqes, 3).res, errno(Errno::BADF), "an empty slot has nothing to install");
    assert!(rustix::io::fcntl_getfd(&fd).unwrap().contains(rustix::io::FdFlags::CLOEXEC));
    assert!(!rustix::io::fcntl_getfd(&fd2).unwrap().contains(rustix::io::FdFlags::CLOEXEC));
    let mut buf = [0u8; 9];
    assert_eq!(rustix::io::pread(&fd, &mut buf, 0).unwrap(), 9);
    assert_eq!(&buf, b"installed");
}

#[test]
fn pipe_op_creates_a_working_pipe_plain_and_direct() {
    if !supports(op::opcode::PIPE) {
        return skip("PIPE needs Linux 6.16");
    }
    let mut ring = Ring::new(8).unwrap();
    let mut fds: [RawFd; 2] = [-1, -1];
    push!(ring, Pipe::new(&mut fds).pipe_flags(OFlags::CLOEXEC).user_data(1));
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    let (r, w) = (owned(fds[0]), owned(fds[1]));
    rustix::io::write(&w, b"through the pipe").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(rustix::io::read(&r, &mut buf).unwrap(), 16);
    assert_eq!(&buf, b"through the pipe");
    assert!(rustix::io::fcntl_getfd(&r).unwrap().contains(rustix::io::FdFlags::CLOEXEC));

    register_files(&ring, &[-1; 4]);
    let mut slots: [RawFd; 2] = [-1, -1];
    push!(ring, Pipe::new(&mut slots).direct(DirectSlot::Index(1)).user_data(2));
    assert_eq!(run(&mut ring, 1)[0].res, 0);
    assert_eq!(slots, [1, 2], "the kernel reports the slots");
    let msg = b"direct pipe";
    let mut back = [0u8; 11];
    push!(ring, Write::new(Target::fixed(2), msg.as_ptr(), 11).user_data(3).flags(SqeFlags::IO_LINK));
    push!(ring, Read::new(Target::fixed(1), back.as_mut_ptr(), 11).user_data(4));
    let cqes = run(&mut ring, 2);
    assert!(cqes.iter().all(|c| c.res == 11), "{cqes:?}");
    assert_eq!(&back, msg);
}

#[test]
fn files_update_at_offset_and_alloc() {
    let dir = TempDir::new("upd");
    std::fs::write(dir.path().join("f"), b"updated").unwrap();
    let file = std::fs::File::open(dir.path().join("f")).unwrap();
    let mut ring = Ring::new(4).unwrap();
    register_files(&ring, &[-1; 4]);
    let mut fds = [file.as_raw_fd()];
    push!(ring, FilesUpdate::new(fds.as_mut_ptr(), 1, UpdateAt::Offset(3)).user_data(1));
    assert_eq!(run(&mut ring, 1)[0].res, 1);
    let mut buf = [0u8; 7];
    push!(ring, Read::new(Target::fixed(3), buf.as_mut_ptr(), 7).offset(0).user_data(2));
    assert_eq!(run(&mut ring, 1)[0].res, 7);
    assert_eq!(&buf, b"updated");
    let mut fds2 = [file.as_raw_fd(), file.as_raw_fd()];
    push!(ring, FilesUpdate::new(fds2.as_mut_ptr(), 2, UpdateAt::Alloc).user_data(3));
    assert_eq!(run(&mut ring, 1)[0].res, 2);
    let mut slots = fds2.to_vec();
    slots.sort();
    assert_eq!(slots, vec![0, 1], "the kernel wrote the allocated slots back");
    // Clearing slot 3 with -1.
    let mut clear = [-1];
    push!(ring, FilesUpdate::new(clear.as_mut_ptr(), 1, UpdateAt::Offset(3)).user_data(4));
    assert_eq!(run(&mut ring, 1)[0].res, 1);
    push!(ring, Read::new(Target::fixed(3), buf.as_mut_ptr(), 7).offset(0).user_data(5));
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::BADF));
}

#[test]
fn splice_file_to_pipe_to_file_and_tee() {
    let dir = TempDir::new("splice");
    std::fs::write(dir.path().join("src"), b"spliced bytes!").unwrap();
    let src = std::fs::File::open(dir.path().join("src")).unwrap();
    let dst = std::fs::File::create(dir.path().join("dst")).unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    let (r2, w2) = rustix::pipe::pipe().unwrap();
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: `w` stays open until this test has reaped the op's CQE. `src` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(
            Splice::new(
                unsafe { Target::from_fd(src.as_fd()) },
                Some(0),
                unsafe { Target::from_fd(w.as_fd()) },
                None,
                14,
            )
            .user_data(1)
            .flags(SqeFlags::IO_LINK),
        )
        .unwrap();
    // SAFETY: `w2` stays open until this test has reaped the op's CQE. `r` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(
            Tee::new(unsafe { Target::from_fd(r.as_fd()) }, unsafe { Target::from_fd(w2.as_fd()) }, 14)
                .user_data(2)
                .flags(SqeFlags::IO_LINK),
        )
        .unwrap();
    // SAFETY: `dst` stays open until this test has reaped the op's CQE. `r` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(
            Splice::new(
                unsafe { Target::from_fd(r.as_fd()) },
                None,
                unsafe { Target::from_fd(dst.as_fd()) },
                Some(0),
                14,
            )
            .user_data(3),
        )
        .unwrap();
    let cqes = run(&mut ring, 3);
    assert_eq!(cqes.iter().map(|c| (c.user_data, c.res)).collect::<Vec<_>>(), vec![(1, 14), (2, 14), (3, 14)]);
    assert_eq!(std::fs::read(dir.path().join("dst")).unwrap(), b"spliced bytes!");
    let mut teed = [0u8; 14];
    assert_eq!(rustix::io::read(&r2, &mut teed).unwrap(), 14);
    assert_eq!(&teed, b"spliced bytes!", "tee duplicated the pipe's content");
    // A fixed input file (SPLICE_F_FD_IN_FIXED).
    register_files(&ring, &[src.as_raw_fd()]);
    // SAFETY: `w` stays open until this test has reaped the op's CQE.
    ring.submission()
        .push(Splice::new(Target::fixed(0), Some(8), unsafe { Target::from_fd(w.as_fd()) }, None, 6).user_data(4))
        .unwrap();
    assert_eq!(run(&mut ring, 1)[0].res, 6);
    let mut tail = [0u8; 6];
    assert_eq!(rustix::io::read(&r, &mut tail).unwrap(), 6);
    assert_eq!(&tail, b"bytes!");
}

/// `path` relative to the current directory (climbing to `/` first), so an
/// open that resolves it from anywhere but the cwd fails.
fn relative_to_cwd(path: &Path) -> CString {
    let cwd = std::env::current_dir().unwrap();
    let up = "../".repeat(cwd.components().count().saturating_sub(1));
    let rel = format!("{up}{}", path.strip_prefix("/").unwrap().display());
    assert!(!rel.starts_with('/'));
    CString::new(rel).unwrap()
}

#[test]
fn open_and_open_direct_resolve_from_the_current_directory() {
    let dir = TempDir::new("open-cwd");
    let mut ring = Ring::new(8).unwrap();

    // io_uring_prep_open: OPENAT with AT_FDCWD and a relative path.
    let path = dir.path().join("plain");
    let rel = relative_to_cwd(&path);
    let flags = OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC;
    push!(ring, OpenAt::new(AT_FDCWD, &rel, flags).mode(op::Mode::from_bits_retain(0o600)).user_data(1));
    let fd = run(&mut ring, 1)[0].res;
    assert!(fd >= 0, "open: {fd}");
    // SAFETY: the kernel just returned this descriptor to us.
    let file = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut f = File::from(file);
    f.write_all(b"via AT_FDCWD").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"via AT_FDCWD");

    // The same relative path from another directory fd names nothing (one
    // deep enough that the `..`s do not all stop at `/`).
    let deep = dir.path().join("a/b/c/d/e/f/g/h");
    std::fs::create_dir_all(&deep).unwrap();
    let elsewhere = File::open(&deep).unwrap();
    push!(ring, OpenAt::new(elsewhere.as_raw_fd(), &rel, OFlags::RDONLY).user_data(2));
    assert_eq!(run(&mut ring, 1)[0].res, errno(Errno::NOENT));

    // io_uring_prep_open_direct: into slot 1 of the registered table.
    register_files(&ring, &[-1, -1]);
    let path = dir.path().join("direct");
    let rel = relative_to_cwd(&path);
    push!(
        ring,
        OpenAt::new(AT_FDCWD, &rel, OFlags::CREATE | OFlags::WRONLY)
            .mode(op::Mode::from_bits_retain(0o600))
            .direct(DirectSlot::Index(1))
            .user_data(3)
    );
    assert_eq!(run(&mut ring, 1)[0].res, 0, "open_direct into slot 1");
    let data = *b"written through fixed slot 1";
    push!(ring, Write::new(Target::fixed(1), data.as_ptr(), data.len() as u32).offset(0).user_data(4));
    assert_eq!(run(&mut ring, 1)[0].res, data.len() as i32);
    assert_eq!(std::fs::read(&path).unwrap(), data);
}
