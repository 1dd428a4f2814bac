//! Registered files against the running kernel: a fixed file serves a READ
//! with FIXED_FILE after its descriptor is closed, tags post CQEs when a
//! slot is replaced or the table dropped, the allocation range decides the
//! slots ops open into, and bad input gets typed errors on a ring that keeps
//! working.

mod common;

use common::TempFile;
use ringwise::op::{Nop, Read, Target};
use ringwise::register::files::{FileSlot, EMPTY, SKIP};
use ringwise::{Error, Ring, Sqe};
use std::time::Duration;

const OP_OPENAT: u8 = 18;
const AT_FDCWD: i32 = -100;
const FILE_INDEX_ALLOC: u32 = u32::MAX;

/// READ `len` bytes at offset 0 from `target`; returns the CQE result and the bytes.
fn read(ring: &mut Ring, target: Target, len: usize) -> (i32, Vec<u8>) {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` outlives the op: we wait for its CQE below.
    unsafe { ring.submission().push_unchecked(Read::new(target, buf.as_mut_ptr(), len as u32).offset(0).user_data(1)) }
        .unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!(cqe.user_data, 1);
    if cqe.res > 0 {
        buf.truncate(cqe.res as usize);
    }
    (cqe.res, buf)
}

fn nop_works(ring: &mut Ring) {
    ring.submission().push(Nop::new().user_data(99)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!((cqe.user_data, cqe.res), (99, 0));
}

/// All CQEs that arrive within `wait`, as (user_data, res).
fn collect(ring: &mut Ring, want: u32, wait: Duration) -> Vec<(u64, i32)> {
    ring.wait_timeout(want, wait).unwrap();
    ring.completions().unwrap().map(|c| (c.user_data, c.res)).collect()
}

#[test]
fn fixed_file_serves_read_after_close() {
    let a = TempFile::with_contents("fixed-a", b"fixed file contents");
    let mut ring = Ring::new(8).unwrap();
    let fd = a.open_read();
    ring.register_files(&[EMPTY, FileSlot::from(&fd)]).unwrap();
    drop(fd); // the slot holds its own reference
    assert_eq!(read(&mut ring, Target::fixed(1), 64), (19, b"fixed file contents".to_vec()));
    // The empty slot has no file.
    assert_eq!(read(&mut ring, Target::fixed(0), 8).0, -9, "EBADF from an empty slot");
    ring.unregister_files().unwrap();
    assert_eq!(read(&mut ring, Target::fixed(1), 8).0, -9, "EBADF once unregistered");
}

#[test]
fn tags_post_cqes_when_slots_are_replaced_and_dropped() {
    let a = TempFile::with_contents("tag-a", b"AAAA");
    let b = TempFile::with_contents("tag-b", b"BBBBBB");
    let mut ring = Ring::new(8).unwrap();
    let (fa, fb) = (a.open_read(), b.open_read());
    ring.register_files_tagged(&[FileSlot::from(&fa), EMPTY], &[0x7a, 0]).unwrap();
    assert_eq!(read(&mut ring, Target::fixed(0), 16).1, b"AAAA");
    assert!(ring.completion().next().is_none(), "no tag CQE before a release");

    // Replace slot 0: the old file's tag (0x7a) is posted.
    assert_eq!(ring.update_files_tagged(0, &[FileSlot::from(&fb)], &[0x7b]).unwrap(), 1);
    let got = collect(&mut ring, 1, Duration::from_secs(2));
    assert_eq!(got, vec![(0x7a, 0)], "tag CQE for the replaced file");
    assert_eq!(read(&mut ring, Target::fixed(0), 16).1, b"BBBBBB");

    // SKIP leaves slot 0 alone, an untagged file goes into slot 1.
    assert_eq!(ring.update_files(0, &[SKIP, FileSlot::from(&fa)]).unwrap(), 2);
    assert_eq!(read(&mut ring, Target::fixed(0), 16).1, b"BBBBBB");
    assert_eq!(read(&mut ring, Target::fixed(1), 16).1, b"AAAA");
    assert!(ring.completion().next().is_none(), "skipped and untagged slots post nothing");

    // Dropping the table posts the remaining tag.
    ring.unregister_files().unwrap();
    let got = collect(&mut ring, 1, Duration::from_secs(2));
    assert_eq!(got, vec![(0x7b, 0)]);
}

#[test]
fn alloc_range_decides_the_slots_ops_open_into() {
    let a = TempFile::with_contents("alloc", b"allocated slot");
    let path = std::ffi::CString::new(a.path.as_os_str().as_encoded_bytes()).unwrap();
    let mut ring = Ring::new(8).unwrap();
    ring.register_files_sparse(8).unwrap();
    ring.set_file_alloc_range(4, 2).unwrap();
    let mut results = Vec::new();
    for i in 0..3u64 {
        // SAFETY: `path` outlives the op (we wait for the CQE).
        unsafe {
            ring.submission().push_raw(|sqe| {
                *sqe = Sqe {
                    opcode: OP_OPENAT,
                    fd: AT_FDCWD,
                    addr: path.as_ptr() as u64,
                    file_index: FILE_INDEX_ALLOC,
                    user_data: i,
                    ..Sqe::default()
                }
            })
        }
        .unwrap();
        ring.submit_and_wait(1).unwrap();
        results.push(ring.completion().next().unwrap().res);
    }
    assert_eq!(results, vec![4, 5, -23], "slots 4 and 5, then ENFILE: the range is full");
    assert_eq!(read(&mut ring, Target::fixed(5), 32).1, b"allocated slot");

    let err = ring.set_file_alloc_range(6, 4).unwrap_err();
    assert_eq!(err.errno_name(), "EINVAL", "{err}");
    assert!(err.to_string().contains("[6, 6+4)"), "{err}");
}

#[test]
fn bad_input_gets_typed_errors_and_the_ring_keeps_working() {
    let a = TempFile::with_contents("bad", b"still usable");
    let fd = a.open_read();
    let mut ring = Ring::new(8).unwrap();

    let err = ring.unregister_files().unwrap_err();
    assert_eq!(err.errno_name(), "ENXIO", "{err}");

    let err = ring.register_files_tagged(&[FileSlot::from(&fd)], &[1, 2]).unwrap_err();
    assert!(matches!(err, Error::LengthMismatch { expected: 1, given: 2, .. }), "{err}");

    ring.register_files_sparse(4).unwrap();
    let err = ring.register_files(&[FileSlot::from(&fd)]).unwrap_err();
    assert_eq!(err.errno_name(), "EBUSY", "{err}");
    assert!(err.to_string().contains("already registered"), "{err}");

    // A sparse update past the end of the 4-slot table.
    let err = ring.update_files(3, &[FileSlot::from(&fd), FileSlot::from(&fd)]).unwrap_err();
    assert_eq!(err.errno_name(), "EINVAL", "{err}");
    assert!(err.to_string().contains("outside the registered file table"), "{err}");
    let err = ring.update_files(10, &[FileSlot::from(&fd)]).unwrap_err();
    assert_eq!(err.errno_name(), "EINVAL", "{err}");

    // A number that names no file.
    // SAFETY: a negative number other than the two sentinels names no file.
    let err = ring.update_files(0, &[unsafe { FileSlot::from_raw_fd(-3) }]).unwrap_err();
    assert_eq!(err.errno_name(), "EBADF", "{err}");

    // The table is intact and usable.
    assert_eq!(ring.update_files(3, &[FileSlot::from(&fd)]).unwrap(), 1);
    assert_eq!(read(&mut ring, Target::fixed(3), 32).1, b"still usable");
    nop_works(&mut ring);
}
