//! Registration errors that name their real cause: a fixed buffer over the
//! kernel's 1 GiB limit per buffer (refused before the call, with the
//! limit), and an eventfd registration given a descriptor that is not an
//! eventfd.

use ringwise::op::Iovec;
use ringwise::{Error, Mapping, Ring};
use std::os::fd::AsFd;

const GIB: usize = 1 << 30;

#[test]
fn a_buffer_over_one_gib_names_the_limit() {
    let mut ring = Ring::new(4).unwrap();
    // Address space only: the pages are never touched.
    let big = Mapping::anonymous(GIB + 4096).unwrap();
    let err = ring.register_buffers_owned(vec![Mapping::anonymous(4096).unwrap(), big]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::InvalidArgument { .. }), "refused before the call: {msg}");
    assert!(msg.contains("1 GiB") && msg.contains("buffer 1"), "names the limit and the buffer: {msg}");
    assert!(!msg.contains("not mapped"), "does not blame the mapping: {msg}");

    // The raw form too, and exactly 1 GiB is allowed by the check.
    let bad = [Iovec { iov_base: std::ptr::null_mut(), iov_len: (GIB + 1) as _ }];
    // SAFETY: refused before the kernel sees it.
    let err = unsafe { ring.register_buffers(&bad) }.unwrap_err();
    assert!(err.to_string().contains("1 GiB"), "{err}");

    // Exactly 1 GiB passes the check (a null address, so the kernel refuses
    // it cheaply, without pinning a gigabyte).
    let edge = [Iovec { iov_base: std::ptr::null_mut(), iov_len: GIB as _ }];
    // SAFETY: a null address names no memory; the kernel refuses it.
    let err = unsafe { ring.register_buffers(&edge) }.unwrap_err();
    assert_eq!(err.errno_name(), "EFAULT", "the kernel's answer, not the 1 GiB check: {err}");
}

#[test]
fn an_empty_or_too_many_buffers_are_typed_errors() {
    let ring = Ring::new(4).unwrap();
    let page = Mapping::anonymous(4096).unwrap();
    let one = Iovec { iov_base: page.as_ptr().cast(), iov_len: 4096 as _ };
    let many = vec![one; 16385];
    // SAFETY: refused before the kernel sees it.
    let err = unsafe { ring.register_buffers(&many) }.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }) && err.to_string().contains("16384"), "{err}");
    let empty = [Iovec { iov_base: page.as_ptr().cast(), iov_len: 0 as _ }];
    // SAFETY: refused before the kernel sees it.
    let err = unsafe { ring.register_buffers(&empty) }.unwrap_err();
    assert_eq!(err.errno_name(), "EFAULT", "the kernel's answer: {err}");
    assert!(err.to_string().contains("length 0"), "{err}");
}

#[test]
fn register_eventfd_on_a_non_eventfd_says_so() {
    let ring = Ring::new(4).unwrap();
    let (r, _w) = rustix::pipe::pipe().unwrap();
    let err = ring.register_eventfd(r.as_fd(), false).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("not an eventfd"), "{msg}");
    assert!(!msg.contains("opcode"), "does not blame the kernel's opcode support: {msg}");
    // A real eventfd still works.
    let efd = rustix::event::eventfd(0, rustix::event::EventfdFlags::empty()).unwrap();
    ring.register_eventfd(efd.as_fd(), false).unwrap();
    ring.unregister_eventfd().unwrap();
}
