//! `ringwise bench read`: reads of `--size` bytes from a file with
//! `--depth` of them in flight at all times, the loop of fio's `t/io_uring`:
//! prepare up to `--batch` new reads whenever fewer than `--depth` are in
//! flight, submit them with one `io_uring_enter` that also waits for
//! `--batch` completions once the queue is full, reap whatever is ready,
//! repeat.
//!
//! The command line is checked and turned into [`ReadSettings`] once; each
//! `--api` is one function from `&ReadSettings` to [`Measured`] (see
//! [`read_loop`]), so another API's loop slots in without touching the
//! checks or the output.

use super::{fits_sq, max_buffer_bytes, max_rw_count, op_failed, progress, sq_bound, Measured, MAX_OPS};
use crate::error::{at_least, at_most, parse_setup_flags, CliError};
use ringwise::op::{Read, Target};
use ringwise::register::files::FileSlot;
use ringwise::{Builder, Ring, SetupFlags};
use serde_json::json;
use std::alloc::Layout;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::ptr::NonNull;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct ReadArgs {
    /// The file (or block device) to read.
    #[arg(long)]
    pub file: PathBuf,
    /// Bytes per read: 1 to 2147479552 (the most one read op transfers on
    /// 4 KiB pages), with `--size` x `--depth` at most half this machine's RAM.
    /// Reads start at multiples of `--size`.
    #[arg(long, default_value_t = 4096)]
    pub size: u32,
    /// Reads kept in flight, 1 to 32768 (the ring has this many SQ entries).
    #[arg(long, default_value_t = 32)]
    pub depth: u32,
    /// New reads per submit, and completions waited for per enter once
    /// `--depth` are in flight (t/io_uring's -s and -c): 1 to `--depth`
    /// (default: 32, or `--depth` if smaller).
    #[arg(long)]
    pub batch: Option<u32>,
    /// Reads in total (exactly this many run).
    #[arg(long, default_value_t = 500_000)]
    pub ops: u64,
    /// Random offsets (multiples of `--size`, from a xorshift generator)
    /// instead of consecutive ones wrapping at the end of the file.
    #[arg(long)]
    pub random: bool,
    /// Register the read buffers with the ring and read with READ_FIXED.
    #[arg(long)]
    pub fixed_buffers: bool,
    /// Register the file with the ring and name it by its index.
    #[arg(long)]
    pub register_files: bool,
    /// Enter the ring through a registered ring fd (t/io_uring's -X).
    #[arg(long)]
    pub register_ring: bool,
    /// All three of `--fixed-buffers`, `--register-files`, `--register-ring`.
    #[arg(long)]
    pub tuned: bool,
    /// Open the file with O_DIRECT (bypassing the page cache): `--size`
    /// must be a multiple of the file's direct-I/O alignment, and its
    /// filesystem must do direct I/O (tmpfs does not).
    #[arg(long)]
    pub direct: bool,
    /// Setup flags for the ring, comma-separated (`single_issuer,
    /// defer_taskrun,coop_taskrun` are what t/io_uring sets).
    #[arg(long, default_value = "")]
    pub setup_flags: String,
    /// Which API drives the loop: `core` (the ring's SQ and CQ, reads pushed
    /// with `push_unchecked`), `owned`, `async` or `async-local`
    /// (owned-buffer I/O; `async-local` on a driver for one thread).
    #[arg(long, value_enum, default_value_t = Api::Core)]
    pub api: Api,
    /// Print one JSON object instead of the text summary.
    #[arg(long)]
    pub json: bool,
}

/// The API a read loop goes through.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Core,
    Owned,
    Async,
    /// `async` on a [`Local`](ringwise::owned::Local) driver: `!Send` op
    /// futures on a `LocalSet`, no lock per op.
    AsyncLocal,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Core => "core",
            Api::Owned => "owned",
            Api::Async => "async",
            Api::AsyncLocal => "async-local",
        }
    }
}

/// Everything a read loop needs, checked: the open file and the numbers.
pub struct ReadSettings {
    /// The file's path, for messages.
    pub path: PathBuf,
    /// The file, open for reading (with O_DIRECT when `direct`).
    pub file: File,
    /// Whole reads of `size` bytes in the file (at least 1).
    pub pieces: u64,
    /// Bytes per read.
    pub size: u32,
    /// Reads in flight (at most the SQ).
    pub depth: u32,
    /// Reads per submit and completions per wait (1 to `depth`).
    pub batch: u32,
    /// Reads in total.
    pub ops: u64,
    /// Random offsets instead of sequential.
    pub random: bool,
    /// Registered buffers and READ_FIXED.
    pub fixed_buffers: bool,
    /// The file registered, ops naming its index.
    pub register_files: bool,
    /// A registered ring fd for the enters.
    pub register_ring: bool,
    /// Opened with O_DIRECT.
    pub direct: bool,
    /// Opened with O_NOATIME (refused to anyone but the file's owner).
    pub noatime: bool,
    /// Extra setup flags for the ring.
    pub setup_flags: SetupFlags,
}

/// One API's read loop.
pub type ReadLoop = fn(&ReadSettings) -> Result<Measured, CliError>;

/// The loop for `api`.
pub fn read_loop(api: Api) -> ReadLoop {
    match api {
        Api::Core => core_loop,
        Api::Owned => super::read_owned::owned_loop,
        Api::Async => super::read_owned::async_loop,
        Api::AsyncLocal => super::read_owned::async_local_loop,
    }
}

pub fn run(args: &ReadArgs) -> Result<(), CliError> {
    let s = settings(args)?;
    let m = read_loop(args.api)(&s)?;
    report(args, &s, &m);
    Ok(())
}

/// The largest buffer one registration entry may span (the kernel's and
/// ringwise's limit: 1 GiB).
const MAX_FIXED_BUFFER: u64 = 1 << 30;

/// Check the command line, open the file, size it.
fn settings(args: &ReadArgs) -> Result<ReadSettings, CliError> {
    at_least("--size", args.size.into(), 1)?;
    let max_rw = max_rw_count();
    at_most("--size", args.size.into(), max_rw, || {
        format!(
            "one read op transfers at most {max_rw} bytes (the kernel's MAX_RW_COUNT, INT_MAX rounded down to a \
             page; a CQE's result is a 32-bit int), so a larger read would come back short"
        )
    })?;
    at_least("--depth", args.depth.into(), 1)?;
    sq_bound("--depth", args.depth)?;
    let batch = args.batch.unwrap_or(args.depth.min(32));
    at_least("--batch", batch.into(), 1)?;
    at_most("--batch", batch.into(), args.depth.into(), || "a batch is at most the reads in flight (--depth)".into())?;
    let max_buffers = max_buffer_bytes();
    at_most("--size x --depth", args.size as u64 * args.depth as u64, max_buffers, || {
        format!("the read buffers are allocated up front, and {max_buffers} bytes is half this machine's RAM; lower --size or --depth")
    })?;
    at_least("--ops", args.ops, 1)?;
    at_most("--ops", args.ops, MAX_OPS, || "a bound on the run's length (about 11 days at 1 M ops/s)".into())?;
    let fixed_buffers = args.fixed_buffers || args.tuned;
    if fixed_buffers {
        at_most("--size", args.size.into(), MAX_FIXED_BUFFER, || {
            "with --fixed-buffers every buffer is registered, and one registered buffer spans at most 1 GiB".into()
        })?;
    }
    let setup_flags = parse_setup_flags(&args.setup_flags)?;
    let file_error = |action, source| CliError::File { path: args.file.clone(), action, source };
    let open = |noatime: bool| {
        let mut flags = rustix::fs::OFlags::empty();
        flags.set(rustix::fs::OFlags::DIRECT, args.direct);
        flags.set(rustix::fs::OFlags::NOATIME, noatime);
        std::fs::OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(&args.file)
    };
    // O_NOATIME as t/io_uring opens its files: otherwise every buffered
    // read checks whether to update the access time (`touch_atime`,
    // `atime_needs_update`, `current_time`: 4.7 % of the CPU samples of
    // 4 KiB reads from the page cache, perf on Linux 6.18). Only the owner
    // (or CAP_FOWNER) may ask for it; anyone else reads without.
    let (opened, noatime) = match open(true) {
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) => (open(false), false),
        r => (r, true),
    };
    let mut file = match opened {
        Err(e) if args.direct && e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
            let why = "the kernel refuses to open it with O_DIRECT (EINVAL)".into();
            return Err(CliError::DirectUnsupported { path: args.file.clone(), why });
        }
        r => r.map_err(|e| file_error("open", e))?,
    };
    if args.direct {
        check_direct(&args.file, &file, args.size)?;
    }
    // The end, not the metadata's length: a block device has length 0 there.
    let len = file.seek(SeekFrom::End(0)).map_err(|e| file_error("find the end of", e))?;
    let pieces = len / args.size as u64;
    if pieces == 0 {
        return Err(CliError::FileTooShort { path: args.file.clone(), len, size: args.size });
    }
    Ok(ReadSettings {
        path: args.file.clone(),
        file,
        pieces,
        size: args.size,
        depth: args.depth,
        batch,
        ops: args.ops,
        random: args.random,
        fixed_buffers,
        register_files: args.register_files || args.tuned,
        register_ring: args.register_ring || args.tuned,
        direct: args.direct,
        noatime,
        setup_flags,
    })
}

/// Refuse O_DIRECT where the filesystem does not do it, or `size` is not
/// a multiple of its alignment (`statx` `STATX_DIOALIGN`, Linux 6.1; where
/// the kernel does not say, reads that break the rule fail with EINVAL).
///
/// tmpfs is refused by name: since Linux 6.6 it opens files with O_DIRECT
/// and serves the reads from the page cache (and reports no direct-I/O
/// alignment), so a `--direct` number there would not measure direct I/O.
fn check_direct(path: &std::path::Path, file: &File, size: u32) -> Result<(), CliError> {
    use rustix::fs::{fstatfs, statx, AtFlags, StatxFlags};
    /// `TMPFS_MAGIC` from `linux/magic.h`.
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    // `f_type`'s type differs between architectures (i64 on x86-64).
    #[allow(clippy::unnecessary_cast)]
    if fstatfs(file.as_fd()).is_ok_and(|fs| fs.f_type as i64 == TMPFS_MAGIC) {
        let why = "it is on tmpfs, which accepts O_DIRECT but reads through the page cache (no block device \
                   below it), so the number would not be of direct I/O"
            .into();
        return Err(CliError::DirectUnsupported { path: path.to_path_buf(), why });
    }
    let Ok(st) = statx(file.as_fd(), "", AtFlags::EMPTY_PATH, StatxFlags::DIOALIGN) else {
        return Ok(());
    };
    if st.stx_mask & StatxFlags::DIOALIGN.bits() == 0 {
        return Ok(());
    }
    if st.stx_dio_offset_align == 0 {
        let why = "its filesystem does not do direct I/O (statx reports no direct-I/O alignment)".into();
        return Err(CliError::DirectUnsupported { path: path.to_path_buf(), why });
    }
    let align = st.stx_dio_offset_align as u64;
    if size as u64 % align != 0 {
        return Err(CliError::NotMultiple {
            option: "--size",
            value: size.into(),
            of: align,
            why: format!(
                "with --direct, offsets and lengths are multiples of the file's direct-I/O alignment ({align} bytes)"
            ),
        });
    }
    Ok(())
}

fn report(args: &ReadArgs, s: &ReadSettings, m: &Measured) {
    let mb_per_s = m.ops_per_s() * s.size as f64 / 1e6;
    let per_enter = m.ops as f64 / m.enters.max(1) as f64;
    if args.json {
        let mut o = m.json();
        o.insert("bench".into(), json!("read"));
        o.insert("file".into(), json!(s.path.display().to_string()));
        o.insert("size".into(), json!(s.size));
        o.insert("depth".into(), json!(s.depth));
        o.insert("batch".into(), json!(s.batch));
        o.insert("random".into(), json!(s.random));
        o.insert("fixed_buffers".into(), json!(s.fixed_buffers));
        o.insert("register_files".into(), json!(s.register_files));
        o.insert("register_ring".into(), json!(s.register_ring));
        o.insert("direct".into(), json!(s.direct));
        o.insert("noatime".into(), json!(s.noatime));
        o.insert("setup_flags".into(), json!(flag_names(s.setup_flags)));
        o.insert("api".into(), json!(args.api.name()));
        // The async loop does not count enters (the ring is driven by its
        // reactor task): null there.
        o.insert("enters".into(), if m.enters > 0 { json!(m.enters) } else { json!(null) });
        o.insert("ops_per_enter".into(), if m.enters > 0 { json!(per_enter) } else { json!(null) });
        o.insert("mb_per_s".into(), json!(mb_per_s));
        outln!("{}", serde_json::Value::Object(o));
    } else {
        let mut tuning: Vec<&str> = Vec::new();
        for (on, name) in [
            (s.direct, "O_DIRECT"),
            (s.fixed_buffers, "fixed buffers"),
            (s.register_files, "registered file"),
            (s.register_ring, "registered ring fd"),
        ] {
            if on {
                tuning.push(name);
            }
        }
        let tuning = if tuning.is_empty() { "buffered".to_string() } else { tuning.join(", ") };
        outln!(
            "read: {} {} reads of {} bytes, {} in flight, batches of {}, from {} ({tuning}; api {})",
            m.ops,
            if s.random { "random" } else { "sequential" },
            s.size,
            s.depth,
            s.batch,
            s.path.display(),
            args.api.name()
        );
        if m.enters > 0 {
            outln!("  {}, {:.0} MB/s, {:.1} reads per enter", m.human(), mb_per_s, per_enter);
        } else {
            outln!("  {}, {:.0} MB/s", m.human(), mb_per_s);
        }
        if let Some(cpu) = m.cpu {
            outln!(
                "  {:.3} s of CPU, {:.2} M ops per CPU second",
                cpu.as_secs_f64(),
                m.ops as f64 / cpu.as_secs_f64().max(1e-9) / 1e6
            );
        }
    }
}

/// Setup flag names, comma-separated ("" for none).
fn flag_names(flags: SetupFlags) -> String {
    flags.iter_names().map(|(n, _)| n).collect::<Vec<_>>().join(",")
}

/// The ring for `s`: `depth` SQ entries, its setup flags, the ring fd
/// registered or not.
pub fn ring_for(s: &ReadSettings) -> Result<Ring, CliError> {
    let mut ring: Ring = Builder::new(s.depth)
        .setup_flags(s.setup_flags)
        .register_ring_fd(s.register_ring)
        .build()
        .map_err(|source| CliError::RingSetup { entries: s.depth, source })?;
    fits_sq("--depth", s.depth, ring.submission().capacity())?;
    Ok(ring)
}

/// `depth` read buffers of `size` bytes, page-aligned (the kernel copies
/// into a buffer 16 bytes off a page boundary measurably slower), in one
/// allocation whose pages are touched up front.
pub struct Buffers {
    ptr: NonNull<u8>,
    layout: Layout,
    size: usize,
    /// Buffers per registered region (regions span at most 1 GiB).
    per_region: u32,
}

impl Buffers {
    /// Allocate (and touch) `depth` x `size` bytes.
    pub fn new(size: u32, depth: u32) -> Result<Buffers, CliError> {
        let bytes = size as usize * depth as usize;
        let oom = || CliError::OutOfMemory { bytes };
        let layout = Layout::from_size_align(bytes.max(1), 4096).map_err(|_| oom())?;
        // SAFETY: `layout` has a non-zero size.
        let ptr = NonNull::new(unsafe { std::alloc::alloc(layout) }).ok_or_else(oom)?;
        // SAFETY: `ptr` is a fresh allocation of `layout.size()` bytes.
        unsafe { ptr.as_ptr().write_bytes(0, layout.size()) };
        let per_region = (MAX_FIXED_BUFFER / size as u64).clamp(1, depth as u64) as u32;
        Ok(Buffers { ptr, layout, size: size as usize, per_region })
    }

    /// The start of buffer `i` (below `depth`).
    #[inline(always)]
    pub fn ptr(&self, i: u32) -> *mut u8 {
        // In bounds: `i < depth`, so the offset is inside the allocation.
        self.ptr.as_ptr().wrapping_add(i as usize * self.size)
    }

    /// The registered region that holds buffer `i`.
    #[inline(always)]
    pub fn region(&self, i: u32) -> u16 {
        (i / self.per_region) as u16
    }

    /// Register the buffers with `ring`, in regions of at most 1 GiB.
    ///
    /// # Safety
    /// `self` must outlive the ring, or the ring must unregister them first.
    pub unsafe fn register(&self, ring: &Ring) -> Result<(), CliError> {
        let depth = (self.layout.size() / self.size) as u32;
        let iovecs: Vec<ringwise::op::Iovec> = (0..depth.div_ceil(self.per_region))
            .map(|r| {
                let first = r * self.per_region;
                let n = self.per_region.min(depth - first);
                ringwise::op::Iovec { iov_base: self.ptr(first).cast(), iov_len: (n as usize * self.size) as _ }
            })
            .collect();
        // SAFETY: each iovec lies inside this allocation, which the caller
        // keeps alive as long as the ring may use it.
        unsafe { ring.register_buffers(&iovecs) }
            .map_err(|source| CliError::Register { what: "the read buffers", source })
    }

    /// Give up the allocation without freeing it: for when reads into it
    /// may still be in flight and cannot be waited for.
    pub fn leak(self) {
        std::mem::forget(self);
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// Read offsets: consecutive pieces wrapping at the end of the file, or
/// random ones (xorshift64*, fixed seed: the same sequence every run).
pub struct Offsets {
    next: u64,
    pieces: u64,
    size: u64,
    random: bool,
}

impl Offsets {
    pub fn new(s: &ReadSettings) -> Offsets {
        Offsets {
            next: if s.random { 0x9E37_79B9_7F4A_7C15 } else { 0 },
            pieces: s.pieces,
            size: s.size.into(),
            random: s.random,
        }
    }

    #[inline(always)]
    pub fn next_offset(&mut self) -> u64 {
        let piece = if self.random {
            let mut x = self.next;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.next = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D) % self.pieces
        } else {
            let p = self.next;
            self.next = if p + 1 == self.pieces { 0 } else { p + 1 };
            p
        };
        piece * self.size
    }
}

/// Progress updates about 200 times a run.
/// When a read loop started, in wall and process CPU time.
pub struct Clock {
    start: Instant,
    cpu0: std::time::Duration,
}

impl Clock {
    /// Start timing (after setup, before the first read).
    pub fn start() -> Clock {
        Clock { cpu0: super::process_cpu(), start: Instant::now() }
    }

    /// The loop's measurement after `ops` reads and `enters` waits (0: not
    /// counted), or its first failure; clears the progress bar.
    pub fn stop(self, ticker: &Ticker, ops: u64, enters: u64, failure: Option<CliError>) -> Result<Measured, CliError> {
        let elapsed = self.start.elapsed();
        let cpu = super::process_cpu().saturating_sub(self.cpu0);
        ticker.finish();
        match failure {
            Some(e) => Err(e),
            None => Ok(Measured { ops, elapsed, enters, cpu: Some(cpu) }),
        }
    }
}

/// The progress bar of a read loop, moved every 1/200 of the run.
pub struct Ticker {
    bar: indicatif::ProgressBar,
    next: u64,
    step: u64,
}

impl Ticker {
    pub fn new(ops: u64) -> Ticker {
        let step = (ops / 200).max(1);
        Ticker { bar: progress(ops, "read"), next: step, step }
    }
    #[inline(always)]
    pub fn at(&mut self, done: u64) {
        if done >= self.next {
            self.tick(done);
        }
    }
    #[cold]
    fn tick(&mut self, done: u64) {
        self.bar.set_position(done);
        self.next = done + self.step;
    }
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The `core` loop: reads pushed with `push_unchecked` into the SQ, one
/// `submit_and_wait` per batch, completions drained from the CQ.
fn core_loop(s: &ReadSettings) -> Result<Measured, CliError> {
    // Declared before the ring, so dropped after it.
    let bufs = Buffers::new(s.size, s.depth)?;
    let mut ring = ring_for(s)?;
    if s.fixed_buffers {
        // SAFETY: `bufs` is dropped after `ring` (declared before it), or
        // leaked while reads may be in flight.
        unsafe { bufs.register(&ring) }?;
    }
    let target = if s.register_files {
        ring.register_files(&[FileSlot::file(s.file.as_fd())])
            .map_err(|source| CliError::Register { what: "the file", source })?;
        Target::fixed(0)
    } else {
        // SAFETY: `s.file` outlives this function, and so every read's CQE
        // is reaped, or the ring closed, while it is open.
        unsafe { Target::fd(s.file.as_raw_fd()) }
    };
    let mut state = CoreState { inflight: 0, done: 0, enters: 0 };
    let result = core_rounds(s, &mut ring, &bufs, target, &mut state);
    if state.inflight > 0 {
        // Only after a failed ring call: reads may still land in the buffers.
        drop(ring);
        bufs.leak();
    }
    result
}

struct CoreState {
    inflight: u32,
    done: u64,
    enters: u64,
}

fn core_rounds(
    s: &ReadSettings,
    ring: &mut Ring,
    bufs: &Buffers,
    target: Target,
    st: &mut CoreState,
) -> Result<Measured, CliError> {
    let (size, depth, batch, ops) = (s.size, s.depth, s.batch, s.ops);
    let capacity = ring.submission().capacity();
    let mut offsets = Offsets::new(s);
    // Buffers not in a read: a stack of indices (user_data is the index).
    let mut idle: Vec<u32> = (0..depth).rev().collect();
    let mut ticker = Ticker::new(ops);
    let mut issued = 0u64;
    let mut failure = None;
    let clock = Clock::start();
    while st.done < ops {
        let prep = if failure.is_some() {
            0
        } else {
            (depth - st.inflight).min(batch).min((ops - issued).min(batch as u64) as u32)
        };
        if prep > 0 {
            let mut sq = ring.submission();
            // Counted per push, so that an early return knows of every
            // read that may be in flight.
            for _ in 0..prep {
                // Never empty: `idle` holds `depth - inflight` >= `prep`.
                let Some(i) = idle.pop() else { break };
                let mut op = Read::new(target, bufs.ptr(i), size).offset(offsets.next_offset()).user_data(i as u64);
                if s.fixed_buffers {
                    op = op.fixed_buffer(bufs.region(i));
                }
                // SAFETY: buffer `i` is idle: no read uses it until this
                // one's CQE returns it to `idle`; `bufs` outlives every read
                // (see `core_loop`).
                unsafe { sq.push_unchecked(op) }.map_err(|_| CliError::SqFull { capacity })?;
                st.inflight += 1;
                issued += 1;
            }
        }
        // t/io_uring: no wait while filling up to `depth`, then wait for a
        // batch of completions per enter.
        let want = if prep > 0 && st.inflight + prep <= depth { 0 } else { st.inflight.min(batch) };
        ring.submit_and_wait(want).map_err(|source| CliError::Ring { call: "submit_and_wait", source })?;
        st.enters += 1;
        for cqe in ring.completion().drain() {
            if cqe.res != size as i32 && failure.is_none() {
                failure = Some(if cqe.res < 0 {
                    op_failed("read", &cqe)
                } else {
                    CliError::ShortRead { got: cqe.res as u32, size }
                });
            }
            idle.push(cqe.user_data as u32);
            st.inflight -= 1;
            st.done += 1;
        }
        if failure.is_some() && st.inflight == 0 {
            break;
        }
        ticker.at(st.done);
    }
    clock.stop(&ticker, st.done, st.enters, failure)
}
