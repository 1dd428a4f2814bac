//! Provided-buffer rings against the running kernel: recvs on a socketpair
//! pick buffers in order and report their ids, recycled buffers come back,
//! the kernel's head follows, incremental rings fill one buffer over several
//! CQEs, and bad input is refused with typed errors on a ring that keeps
//! working.

use ringwise::register::buf_ring::MAX_ENTRIES;
use ringwise::register::{BufRing, BufRingConfig};
use ringwise::{CallerMemory, Cqe, Error, Mapping, Region, Ring, Sqe, SqeFlags};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

const OP_RECV: u8 = 27;

/// Submit a RECV on `fd` that picks a buffer from group `bgid`, wait for its CQE.
fn recv(ring: &mut Ring, fd: i32, bgid: u16, user_data: u64) -> Cqe {
    // SAFETY: the op carries no pointer: the kernel picks the buffer.
    unsafe {
        ring.submission().push_raw(|sqe| {
            *sqe = Sqe {
                opcode: OP_RECV,
                flags: SqeFlags::BUFFER_SELECT.bits(),
                fd,
                buf_index: bgid,
                user_data,
                ..Sqe::default()
            }
        })
    }
    .unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!(cqe.user_data, user_data);
    cqe
}

/// Send `msg`, recv it into a provided buffer; returns (bid, data).
fn round_trip(ring: &mut Ring, br: &mut BufRing, pair: &mut (UnixStream, UnixStream), msg: &[u8]) -> (u16, Vec<u8>) {
    pair.0.write_all(msg).unwrap();
    let cqe = recv(ring, pair.1.as_raw_fd(), br.bgid(), 1);
    assert!(cqe.res >= 0, "recv failed: {}", cqe.res);
    // SAFETY: `cqe` is the kernel's completion of the recv above, which
    // picked from this group, and is passed once.
    let (bid, data) = unsafe { br.completion(&cqe) }.expect("a CQE with a buffer of this ring");
    (bid, data.to_vec())
}

fn picks_in_order(config: BufRingConfig) {
    let mut ring = Ring::new(8).unwrap();
    let mut br = ring.register_buf_ring(config).unwrap();
    let mut pair = UnixStream::pair().unwrap();
    let mut got = Vec::new();
    for i in 0..4u8 {
        got.push(round_trip(&mut ring, &mut br, &mut pair, &[b'a' + i; 5]));
    }
    assert_eq!(
        got,
        vec![(0, b"aaaaa".to_vec()), (1, b"bbbbb".to_vec()), (2, b"ccccc".to_vec()), (3, b"ddddd".to_vec())]
    );
    assert_eq!(ring.buf_ring_head(br.bgid()).unwrap(), 4, "the kernel took four entries");
    assert_eq!(br.held(), 4, "the application holds the four buffers the CQEs reported");
    // Every buffer is out: the next recv finds none.
    pair.0.write_all(b"zz").unwrap();
    let cqe = recv(&mut ring, pair.1.as_raw_fd(), br.bgid(), 2);
    assert_eq!(cqe.res, -105, "ENOBUFS with every buffer out");
    // Recycling buffer 2 makes it the next one picked.
    assert_eq!(br.buffer(2).unwrap()[..5], *b"ccccc");
    br.recycle(2).unwrap();
    assert!(br.buffer(2).is_none(), "the kernel holds it again");
    assert_eq!(br.held(), 3);
    assert_eq!(round_trip(&mut ring, &mut br, &mut pair, b""), (2, b"zz".to_vec()));
    assert_eq!(ring.buf_ring_head(br.bgid()).unwrap(), 5);
    ring.unregister_buf_ring(br).unwrap();
    let err = ring.buf_ring_head(config.bgid).unwrap_err();
    assert!(err.errno_name() == "ENOENT" || err.errno_name() == "EINVAL", "{err}");
}

#[test]
fn recv_picks_library_memory_buffers_in_order() {
    picks_in_order(BufRingConfig::new(7, 4, 64));
}

#[test]
fn recv_picks_kernel_mapped_buffers_in_order() {
    picks_in_order(BufRingConfig::new(8, 4, 64).kernel_mapped());
}

#[test]
fn recv_picks_caller_memory_buffers_in_order() {
    let mut ring = Ring::new(8).unwrap();
    let config = BufRingConfig::new(3, 4, 32);
    let memory = Mapping::anonymous(config.ring_bytes()).unwrap();
    let addr = memory.as_ptr() as usize;
    let mut br = ring.register_buf_ring_in(config, memory).unwrap();
    assert_eq!(br.entries_addr(), addr, "the entries live in the caller's memory");
    let mut pair = UnixStream::pair().unwrap();
    assert_eq!(round_trip(&mut ring, &mut br, &mut pair, b"first"), (0, b"first".to_vec()));
    assert_eq!(round_trip(&mut ring, &mut br, &mut pair, b"second"), (1, b"second".to_vec()));
    // Buffer 0 goes back behind 2 and 3.
    br.recycle(0).unwrap();
    let ids: Vec<u16> =
        ["x", "y", "z"].iter().map(|m| round_trip(&mut ring, &mut br, &mut pair, m.as_bytes()).0).collect();
    assert_eq!(ids, vec![2, 3, 0]);
}

#[test]
fn incremental_ring_fills_one_buffer_over_several_cqes() {
    let mut ring = Ring::new(8).unwrap();
    let mut br = ring.register_buf_ring(BufRingConfig::new(9, 2, 4096).incremental()).unwrap();
    let mut pair = UnixStream::pair().unwrap();
    let mut cqes = Vec::new();
    for msg in [&b"hello "[..], b"incremental ", b"world"] {
        pair.0.write_all(msg).unwrap();
        let cqe = recv(&mut ring, pair.1.as_raw_fd(), 9, 1);
        // SAFETY: the kernel's completion of a recv from this group, passed once.
        let (bid, data) = unsafe { br.completion(&cqe) }.unwrap();
        cqes.push((bid, data.to_vec(), cqe.buf_more()));
    }
    assert_eq!(
        cqes,
        vec![(0, b"hello ".to_vec(), true), (0, b"incremental ".to_vec(), true), (0, b"world".to_vec(), true)],
        "one buffer, consumed piece by piece"
    );
    // The pieces are contiguous in buffer 0, which the kernel still holds.
    assert!(br.in_kernel(0));
    assert_eq!(ring.buf_ring_head(9).unwrap(), 0, "buffer 0 is not used up yet");
}

#[test]
fn bad_input_gets_typed_errors_and_the_ring_keeps_working() {
    let mut ring = Ring::new(8).unwrap();
    for entries in [0, 3, 100, MAX_ENTRIES * 2] {
        let err = ring.register_buf_ring(BufRingConfig::new(1, entries, 64)).unwrap_err();
        assert!(matches!(err, Error::BufRingEntries { entries: e, max: MAX_ENTRIES } if e == entries), "{err}");
        assert!(err.to_string().contains("power of two"), "{err}");
    }

    let page = ringwise::raw::sys::page_size();
    let config = BufRingConfig::new(1, 512, 64); // 512 * 16 bytes = two pages
    assert_eq!(config.ring_bytes(), 2 * page);
    let short = Mapping::anonymous(page).unwrap();
    let err = ring.register_buf_ring_in(config, short).unwrap_err();
    assert!(
        matches!(err, Error::MemoryTooSmall { region: Region::BufRing, needed, given } if needed == 2 * page && given == page),
        "{err}"
    );

    let backing = Mapping::anonymous(4 * page).unwrap();
    // SAFETY: the region lies inside `backing`, which outlives the ring; the
    // call refuses it before the kernel sees it.
    let unaligned = unsafe { CallerMemory::new(backing.as_ptr().add(64), 2 * page) };
    let err = ring.register_buf_ring_in(config, unaligned).unwrap_err();
    assert!(matches!(err, Error::MemoryMisaligned { region: Region::BufRing, .. }), "{err}");

    // Registering a group twice.
    let mut br = ring.register_buf_ring(BufRingConfig::new(1, 4, 64)).unwrap();
    let err = ring.register_buf_ring(BufRingConfig::new(1, 8, 64)).unwrap_err();
    assert_eq!(err.errno_name(), "EEXIST", "{err}");
    assert!(err.to_string().contains("group 1 is already registered"), "{err}");

    // Adding a buffer the kernel holds, or one past the end.
    assert!(br.add(0).is_err(), "buffer 0 is in the kernel's ring already");
    assert!(matches!(br.add(4), Err(Error::LengthMismatch { .. })));

    // The first registration still works.
    let mut pair = UnixStream::pair().unwrap();
    assert_eq!(round_trip(&mut ring, &mut br, &mut pair, b"ok"), (0, b"ok".to_vec()));
    // A CQE of another kind is not mistaken for a buffer.
    // SAFETY: a CQE without IORING_CQE_F_BUFFER claims no buffer.
    assert!(unsafe { br.completion(&Cqe { user_data: 0, res: 3, flags: 0 }) }.is_none());
}
