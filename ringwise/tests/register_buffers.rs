//! Registered buffers against the running kernel: READ_FIXED lands in the
//! registered memory, tags post CQEs when a buffer is replaced, clones share
//! the source's buffers (whole table and ranges) and outlive the source,
//! and bad input gets typed errors on a ring that keeps working.

mod common;

use common::TempFile;
use ringwise::op::Target;
use ringwise::op::{Iovec, Nop, Read};
use ringwise::register::CloneBuffers;
use ringwise::{Error, Mapping, Ring};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

/// READ_FIXED of `len` bytes at file offset 0 into `addr`, inside fixed buffer `index`.
fn read_fixed(ring: &mut Ring, fd: &OwnedFd, addr: *mut u8, len: u32, index: u16) -> i32 {
    // SAFETY: `addr` lies in memory that outlives the op (the tests keep it
    // alive and wait for the CQE).
    unsafe {
        ring.submission()
            // The target: `fd` stays open until this test has reaped the op's CQE.
            .push_unchecked(Read::new(Target::fd(fd.as_raw_fd()), addr, len).offset(0).fixed_buffer(index).user_data(5))
    }
    .unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!(cqe.user_data, 5);
    cqe.res
}

/// The first `len` bytes at `addr`.
fn bytes(addr: *mut u8, len: usize) -> Vec<u8> {
    // SAFETY: the callers pass memory they keep mapped, with no op in flight.
    unsafe { std::slice::from_raw_parts(addr, len).to_vec() }
}

fn iov(m: &Mapping) -> Iovec {
    Iovec { iov_base: m.as_ptr().cast(), iov_len: m.len() as _ }
}

fn nop_works(ring: &mut Ring) {
    ring.submission().push(Nop::new().user_data(99)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completion().next().unwrap().res, 0);
}

#[test]
fn owned_buffers_receive_read_fixed() {
    let f = TempFile::with_contents("owned", b"into a fixed buffer");
    let fd = f.open_read();
    let mut ring = Ring::new(8).unwrap();
    let bufs = vec![Mapping::anonymous(4096).unwrap(), Mapping::anonymous(8192).unwrap()];
    let iovecs = ring.register_buffers_owned(bufs).unwrap();
    assert_eq!(iovecs.len(), 2);
    assert_eq!(iovecs[1].iov_len, 8192);
    let addr = iovecs[1].iov_base.cast::<u8>();
    // SAFETY: +100 stays inside the 8 KiB buffer.
    let inside = unsafe { addr.add(100) };
    assert_eq!(read_fixed(&mut ring, &fd, inside, 64, 1), 19);
    assert_eq!(bytes(inside, 19), b"into a fixed buffer");
    // Memory outside buffer 0 is refused by the kernel.
    assert_eq!(read_fixed(&mut ring, &fd, inside, 64, 0), -14, "EFAULT: not inside buffer 0");
    ring.unregister_buffers().unwrap();
    assert_eq!(read_fixed(&mut ring, &fd, inside, 8, 1), -14, "EFAULT: no buffers any more");
}

#[test]
fn tags_post_cqes_when_buffers_are_replaced() {
    let f = TempFile::with_contents("tags", b"tagged");
    let fd = f.open_read();
    let (m0, m1, m2) =
        (Mapping::anonymous(4096).unwrap(), Mapping::anonymous(4096).unwrap(), Mapping::anonymous(4096).unwrap());
    // The mappings outlive the ring (declared first, dropped last).
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: the mappings stay mapped until after the ring is dropped.
    unsafe { ring.register_buffers_tagged(&[iov(&m0), iov(&m1)], &[0xb0, 0xb1]) }.unwrap();
    assert_eq!(read_fixed(&mut ring, &fd, m1.as_ptr(), 16, 1), 6);
    // SAFETY: as above.
    assert_eq!(unsafe { ring.update_buffers(1, &[iov(&m2)], &[0xb2]) }.unwrap(), 1);
    ring.wait_timeout(1, Duration::from_secs(2)).unwrap();
    let tags: Vec<(u64, i32)> = ring.completions().unwrap().map(|c| (c.user_data, c.res)).collect();
    assert_eq!(tags, vec![(0xb1, 0)], "the replaced buffer's tag");
    assert_eq!(read_fixed(&mut ring, &fd, m2.as_ptr(), 16, 1), 6);
    assert_eq!(bytes(m2.as_ptr(), 6), b"tagged");
    assert_eq!(read_fixed(&mut ring, &fd, m1.as_ptr(), 16, 1), -14, "old memory is no longer buffer 1");
    ring.unregister_buffers().unwrap();
    ring.wait_timeout(2, Duration::from_secs(2)).unwrap();
    let mut tags: Vec<u64> = ring.completions().unwrap().map(|c| c.user_data).collect();
    tags.sort();
    assert_eq!(tags, vec![0xb0, 0xb2]);
}

#[test]
fn clones_share_buffers_whole_and_in_ranges() {
    let f = TempFile::with_contents("clone", b"cloned");
    let fd = f.open_read();
    let mut src = Ring::new(8).unwrap();
    let iovecs =
        src.register_buffers_owned(vec![Mapping::anonymous(4096).unwrap(), Mapping::anonymous(4096).unwrap()]).unwrap();
    let (b0, b1) = (iovecs[0].iov_base.cast::<u8>(), iovecs[1].iov_base.cast::<u8>());

    // The whole table.
    let mut whole = Ring::new(8).unwrap();
    whole.clone_buffers_from(&src, CloneBuffers::all()).unwrap();
    assert_eq!(read_fixed(&mut whole, &fd, b1, 16, 1), 6);
    assert_eq!(bytes(b1, 6), b"cloned");

    // Source slot 1 only, as this ring's slot 0.
    let mut part = Ring::new(8).unwrap();
    part.clone_buffers_from(&src, CloneBuffers::range(1, 0, 1)).unwrap();
    // SAFETY: +512 stays inside b1.
    let inside = unsafe { b1.add(512) };
    assert_eq!(read_fixed(&mut part, &fd, inside, 16, 0), 6);
    assert_eq!(bytes(inside, 6), b"cloned");
    assert_eq!(read_fixed(&mut part, &fd, b0, 16, 0), -14, "b0 is not this ring's slot 0");
    assert!(read_fixed(&mut part, &fd, b0, 16, 1) < 0, "no slot 1 in a one-slot clone");

    // A ring with buffers refuses a clone unless asked to replace them.
    let err = part.clone_buffers_from(&src, CloneBuffers::all()).unwrap_err();
    assert_eq!(err.errno_name(), "EBUSY", "{err}");
    assert!(err.to_string().contains("replace"), "{err}");
    part.clone_buffers_from(&src, CloneBuffers::all().replace()).unwrap();
    assert_eq!(read_fixed(&mut part, &fd, b0, 16, 0), 6);

    // An out-of-range source range.
    let mut bad = Ring::new(8).unwrap();
    let err = bad.clone_buffers_from(&src, CloneBuffers::range(1, 0, 5)).unwrap_err();
    assert_eq!(err.errno_name(), "EINVAL", "{err}");
    nop_works(&mut bad);

    // The clones keep the source's memory alive after it is gone.
    drop(src);
    assert_eq!(read_fixed(&mut whole, &fd, b0, 16, 0), 6);
    assert_eq!(bytes(b0, 6), b"cloned");
}

#[test]
fn bad_input_gets_typed_errors_and_the_ring_keeps_working() {
    let f = TempFile::with_contents("bad", b"works");
    let fd = f.open_read();
    let m = Mapping::anonymous(4096).unwrap();
    let mut ring = Ring::new(8).unwrap();
    let err = ring.unregister_buffers().unwrap_err();
    assert_eq!(err.errno_name(), "ENXIO", "{err}");
    // SAFETY: the mapping outlives the ring.
    let err = unsafe { ring.register_buffers_tagged(&[iov(&m)], &[]) }.unwrap_err();
    assert!(matches!(err, Error::LengthMismatch { expected: 1, given: 0, .. }), "{err}");
    // A zero-length buffer.
    // SAFETY: nothing is pinned for an empty iovec.
    let err = unsafe { ring.register_buffers(&[Iovec { iov_base: m.as_ptr().cast(), iov_len: 0 }]) }.unwrap_err();
    assert_eq!(err.errno_name(), "EFAULT", "{err}");
    assert!(err.to_string().contains("length 0"), "{err}");

    ring.register_buffers_sparse(2).unwrap();
    let err = ring.register_buffers_owned(vec![Mapping::anonymous(4096).unwrap()]).unwrap_err();
    assert_eq!(err.errno_name(), "EBUSY", "{err}");
    // Sparse update past the end.
    let err = ring.update_buffers_owned(2, vec![Mapping::anonymous(4096).unwrap()], &[0]).unwrap_err();
    assert_eq!(err.errno_name(), "EINVAL", "{err}");
    let (n, iovecs) = ring.update_buffers_owned(1, vec![Mapping::anonymous(4096).unwrap()], &[0]).unwrap();
    assert_eq!(n, 1);
    assert_eq!(read_fixed(&mut ring, &fd, iovecs[0].iov_base.cast(), 16, 1), 5);
    assert_eq!(read_fixed(&mut ring, &fd, iovecs[0].iov_base.cast(), 16, 0), -14, "slot 0 is still empty");
    nop_works(&mut ring);
}
