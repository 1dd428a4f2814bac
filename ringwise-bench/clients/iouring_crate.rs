//! The `io-uring` crate client (a dev-dependency, so this file is included by
//! the benches and examples with `#[path]`). Idiomatic use: build entries with
//! `opcode::*`, `push`, `sync`, `submit_and_wait`, iterate the CQ. The ring is
//! split so that the registered ring fd (kept by the `Submitter`) is used.

#![allow(dead_code)]

use io_uring::{opcode, types, IoUring};
use ringwise_bench::workload::{ring_entries_for, Buffers, ReadFile};
use ringwise_bench::{Mode, NopClient, ReadClient, Unavailable};
use std::os::fd::AsRawFd;

/// An `io_uring::IoUring` set up for the benchmarks.
pub struct IoUringCrate {
    ring: IoUring,
    mode: Mode,
    entries: u32,
}

impl IoUringCrate {
    pub fn open(entries: u32, mode: Mode) -> Result<IoUringCrate, Unavailable> {
        let mut b = IoUring::builder();
        if mode == Mode::Fast {
            b.setup_single_issuer().setup_defer_taskrun();
        }
        let ring = b.build(entries).map_err(|e| Unavailable::Setup(e.to_string()))?;
        let entries = ring.params().sq_entries();
        Ok(IoUringCrate { ring, mode, entries })
    }

    /// Run `fill(i)` to build each round of `n` entries, submit, wait and
    /// reap; returns the checksum.
    ///
    /// The SQ head is read once per round (at `sync`), so it may be a round
    /// old when the next round pushes: `n` must be at most half the SQ.
    fn rounds(&mut self, n: u32, rounds: u64, mut fill: impl FnMut(u32) -> io_uring::squeue::Entry) -> u64 {
        let (mut submitter, mut sq, mut cq) = self.ring.split();
        if self.mode == Mode::Fast {
            submitter.register_ring_fd().expect("register_ring_fd");
        }
        let mut sum = 0u64;
        for _ in 0..rounds {
            for i in 0..n {
                // SAFETY: the entries' buffers (if any) outlive the round,
                // which reaps every completion before the next.
                unsafe { sq.push(&fill(i)) }.expect("SQ full");
            }
            sq.sync();
            submitter.submit_and_wait(n as usize).expect("submit_and_wait");
            let mut got = 0;
            loop {
                cq.sync();
                for cqe in &mut cq {
                    sum = sum.wrapping_add(cqe.user_data().wrapping_add(cqe.result() as i64 as u64));
                    got += 1;
                }
                if got >= n {
                    break;
                }
                submitter.submit_and_wait((n - got) as usize).expect("wait");
            }
        }
        cq.sync();
        if self.mode == Mode::Fast {
            submitter.unregister_ring_fd().expect("unregister_ring_fd");
        }
        sum
    }
}

impl NopClient for IoUringCrate {
    fn nop_rounds(&mut self, batch: u32, rounds: u64) -> u64 {
        assert!(batch >= 1 && 2 * batch <= self.entries, "batch {batch} needs an SQ of at least {}", 2 * batch);
        self.rounds(batch, rounds, |i| opcode::Nop::new().build().user_data(i as u64))
    }
}

/// The crate bound to a read workload.
pub struct IoUringCrateReader {
    client: IoUringCrate,
    file: ReadFile,
    bufs: Buffers,
}

impl IoUringCrateReader {
    pub fn new(file: ReadFile, mode: Mode) -> Result<IoUringCrateReader, Unavailable> {
        let client = IoUringCrate::open(ring_entries_for(file.depth), mode)?;
        let bufs = Buffers::new(file.depth, file.size);
        Ok(IoUringCrateReader { client, file, bufs })
    }
}

impl ReadClient for IoUringCrateReader {
    fn read_rounds(&mut self, rounds: u64) -> u64 {
        let fd = types::Fd(self.file.file.as_raw_fd());
        let (size, len) = (self.file.size, self.file.len);
        let base = self.bufs.as_mut_ptr();
        let mut off = 0u64;
        self.client.rounds(self.file.depth, rounds, |i| {
            // SAFETY: buffer i lies inside `bufs`.
            let buf = unsafe { base.add(i as usize * size as usize) };
            let e = opcode::Read::new(fd, buf, size).offset(off).build().user_data(i as u64);
            off += size as u64;
            if off + size as u64 > len {
                off = 0;
            }
            e
        })
    }
}
