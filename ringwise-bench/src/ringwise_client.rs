//! The ringwise client: the library's ordinary safe API (`push`, then
//! `submit_and_wait`, then `completion().drain()`), nothing hand-tuned.

use crate::workload::{ring_entries_for, Buffers, ReadFile};
use crate::{Mode, NopClient, ReadClient, Unavailable};
use ringwise::op::{Nop, Read};
use ringwise::{Builder, Pages, Ring};
use std::os::fd::AsRawFd;

/// Where the ring's memory lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// Mapped from the kernel (the usual `mmap` of the ring fd).
    Kernel,
    /// Library-allocated normal pages (`IORING_SETUP_NO_MMAP`).
    User,
    /// Library-allocated 2 MiB huge pages (falls back to normal pages, with
    /// the reason in [`Ringwise::memory_note`], when none are reserved).
    Huge,
}

impl Memory {
    /// All three, for tables.
    pub const ALL: [Memory; 3] = [Memory::Kernel, Memory::User, Memory::Huge];

    /// Parse `kernel` / `user` / `huge`.
    pub fn parse(s: &str) -> Option<Memory> {
        match s {
            "kernel" => Some(Memory::Kernel),
            "user" => Some(Memory::User),
            "huge" => Some(Memory::Huge),
            _ => None,
        }
    }

    /// The name `parse` takes.
    pub fn name(self) -> &'static str {
        match self {
            Memory::Kernel => "kernel",
            Memory::User => "user",
            Memory::Huge => "huge",
        }
    }
}

/// A ringwise ring set up for the benchmarks.
#[derive(Debug)]
pub struct Ringwise {
    ring: Ring,
}

impl Ringwise {
    /// A ring of `entries` in `memory`. In [`Mode::Default`] the ring fd is
    /// not registered, like the other clients' default rings.
    pub fn open(entries: u32, mode: Mode, memory: Memory) -> Result<Ringwise, Unavailable> {
        let mut b: Builder = Builder::new(entries);
        b = match mode {
            Mode::Default => b.register_ring_fd(false),
            Mode::Fast => b.single_issuer().defer_taskrun().register_ring_fd(true),
        };
        let ring = match memory {
            Memory::Kernel => b.build(),
            Memory::User => b.build_allocated(Pages::Normal),
            Memory::Huge => b.build_allocated(Pages::Huge),
        }
        .map_err(|e| Unavailable::Setup(e.to_string()))?;
        Ok(Ringwise { ring })
    }

    /// What memory the ring got (e.g. why huge pages fell back).
    pub fn memory_note(&self) -> String {
        self.ring.memory_report().kind
    }

    /// The ring, for callers who want more.
    pub fn ring(&mut self) -> &mut Ring {
        &mut self.ring
    }

    /// Submit what is queued, wait for `n` CQEs and reap them.
    #[inline(always)]
    fn submit_reap(&mut self, n: u32) -> u64 {
        let ring = &mut self.ring;
        if let Err(e) = ring.submit_and_wait(n) {
            failed("submit_and_wait", e);
        }
        let (sum, got) = reap(ring);
        if got >= n {
            sum
        } else {
            sum.wrapping_add(reap_rest(ring, n - got))
        }
    }
}

/// Reap what is ready: (checksum, count).
#[inline(always)]
fn reap(ring: &mut Ring) -> (u64, u32) {
    let mut sum = 0u64;
    let mut got = 0u32;
    for cqe in ring.completion().drain() {
        sum = sum.wrapping_add(cqe.user_data.wrapping_add(cqe.res as i64 as u64));
        got += 1;
    }
    (sum, got)
}

/// Not all `n` CQEs were there after `submit_and_wait` (not seen with NOPs):
/// wait for the rest.
#[cold]
#[inline(never)]
fn reap_rest(ring: &mut Ring, mut n: u32) -> u64 {
    let mut sum = 0u64;
    while n > 0 {
        if let Err(e) = ring.wait(n) {
            failed("wait", e);
        }
        let (s, got) = reap(ring);
        sum = sum.wrapping_add(s);
        n = n.saturating_sub(got);
    }
    sum
}

#[cold]
#[inline(never)]
fn failed(what: &str, e: ringwise::Error) -> ! {
    panic!("ringwise {what}: {e}")
}

impl NopClient for Ringwise {
    fn nop_rounds(&mut self, batch: u32, rounds: u64) -> u64 {
        let mut sum = 0u64;
        for _ in 0..rounds {
            let mut sq = self.ring.submission();
            for i in 0..batch {
                if sq.push(Nop::new().user_data(i as u64)).is_err() {
                    panic!("batch {batch} does not fit the SQ");
                }
            }
            sum = sum.wrapping_add(self.submit_reap(batch));
        }
        sum
    }
}

/// A ringwise ring bound to a read workload.
#[derive(Debug)]
pub struct RingwiseReader {
    client: Ringwise,
    file: ReadFile,
    bufs: Buffers,
}

impl RingwiseReader {
    /// Read `file` through a ring in `memory`.
    pub fn new(file: ReadFile, mode: Mode, memory: Memory) -> Result<RingwiseReader, Unavailable> {
        let client = Ringwise::open(ring_entries_for(file.depth), mode, memory)?;
        let bufs = Buffers::new(file.depth, file.size);
        Ok(RingwiseReader { client, file, bufs })
    }
}

impl ReadClient for RingwiseReader {
    fn read_rounds(&mut self, rounds: u64) -> u64 {
        // SAFETY: `self.file` is open for as long as `self` (and is dropped
        // after `self.client`, its ring), and `submit_reap` reaps every read
        // of a round before it returns.
        let fd = unsafe { ringwise::op::Target::fd(self.file.file.as_raw_fd()) };
        let (size, depth, len) = (self.file.size, self.file.depth, self.file.len);
        let base = self.bufs.as_mut_ptr();
        let mut off = 0u64;
        let mut sum = 0u64;
        for _ in 0..rounds {
            let mut sq = self.client.ring.submission();
            for i in 0..depth {
                // SAFETY: buffer i lies inside `bufs`, which outlives the
                // round: submit_reap reaps every read before it returns.
                let op = Read::new(fd, unsafe { base.add(i as usize * size as usize) }, size)
                    .offset(off)
                    .user_data(i as u64);
                // SAFETY: as above; nothing else touches `bufs` meanwhile.
                if unsafe { sq.push_unchecked(op) }.is_err() {
                    panic!("depth {depth} does not fit the SQ");
                }
                off += size as u64;
                if off + size as u64 > len {
                    off = 0;
                }
            }
            sum = sum.wrapping_add(self.client.submit_reap(depth));
        }
        sum
    }
}
