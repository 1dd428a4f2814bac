//! The read workload: a warm, unlinked temporary file read in `size`-byte
//! pieces at consecutive offsets that wrap at the file's end.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;

/// A file to read, with the piece size and queue depth.
#[derive(Debug, Clone)]
pub struct ReadFile {
    /// The open file (shared by the clients).
    pub file: Arc<File>,
    /// File length in bytes (a multiple of `size`).
    pub len: u64,
    /// Bytes per read.
    pub size: u32,
    /// Reads in flight per round.
    pub depth: u32,
}

impl ReadFile {
    /// A `len`-byte temporary file (unlinked right away), written and read
    /// once so that its pages are in the page cache.
    pub fn temp(len: u64, size: u32, depth: u32) -> std::io::Result<ReadFile> {
        let len = (len / size as u64).max(depth as u64) * size as u64;
        let path = std::env::temp_dir().join(format!("ringwise-bench-{}-{}.dat", std::process::id(), next_id()));
        let mut file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
        std::fs::remove_file(&path)?;
        let chunk: Vec<u8> = (0..1 << 16).map(|i| (i * 7 + 1) as u8).collect();
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            file.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        let file = Arc::new(file);
        warm(&file)?;
        Ok(ReadFile { file, len, size, depth })
    }

    /// An existing file (read once to warm it).
    pub fn open(path: &std::path::Path, size: u32, depth: u32) -> std::io::Result<ReadFile> {
        let file = Arc::new(File::open(path)?);
        let len = file.metadata()?.len();
        if len < size as u64 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is {len} bytes, shorter than one {size}-byte read", path.display()),
            ));
        }
        warm(&file)?;
        Ok(ReadFile { file, len: len / size as u64 * size as u64, size, depth })
    }
}

fn warm(file: &File) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 1 << 16];
    let mut off = 0;
    loop {
        let n = file.read_at(&mut buf, off)?;
        if n == 0 {
            return Ok(());
        }
        off += n as u64;
    }
}

fn next_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Page-aligned read buffers, the same for every client: the kernel's copy
/// into a buffer 16 bytes off a page boundary (what `malloc` returns for big
/// blocks) runs measurably slower than into an aligned one, which would
/// otherwise decide the read comparison.
#[derive(Debug)]
pub struct Buffers {
    ptr: std::ptr::NonNull<u8>,
    layout: std::alloc::Layout,
}

impl Buffers {
    /// `count` buffers of `size` bytes, zeroed, starting on a page boundary.
    pub fn new(count: u32, size: u32) -> Buffers {
        let len = (count as usize * size as usize).max(1);
        let layout = std::alloc::Layout::from_size_align(len, 4096).expect("buffer size fits");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = std::ptr::NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        Buffers { ptr, layout }
    }

    /// Start of the buffers.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

// SAFETY: the buffers are plain memory owned by this value.
unsafe impl Send for Buffers {}

/// SQ entries for a read client of queue depth `depth`, the same for every
/// client: twice the depth, so that a client whose view of the kernel's head
/// is one round old (the `io-uring` crate's split queue, synced once per
/// round) never sees a full SQ.
pub fn ring_entries_for(depth: u32) -> u32 {
    (2 * depth).max(8)
}
