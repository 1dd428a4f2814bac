//! The two C clients behind safe wrappers: the raw-syscall floor
//! (`csrc/raw_floor.c`) and liburing (`csrc/liburing_client.c`, only with
//! `cfg(has_liburing)`).

use crate::workload::{ring_entries_for, Buffers, ReadFile};
use crate::{Mode, NopClient, ReadClient, Unavailable};
use std::ffi::{c_int, c_longlong, c_uchar, c_uint, c_ulonglong, c_void};
use std::os::fd::AsRawFd;

extern "C" {
    fn rwb_raw_open(entries: c_uint, fast: c_int) -> *mut c_void;
    fn rwb_raw_close(r: *mut c_void);
    fn rwb_raw_nop(r: *mut c_void, batch: c_uint, rounds: c_ulonglong) -> c_longlong;
    fn rwb_raw_read(
        r: *mut c_void,
        fd: c_int,
        bufs: *mut c_uchar,
        size: c_uint,
        depth: c_uint,
        file_size: c_ulonglong,
        rounds: c_ulonglong,
    ) -> c_longlong;
}

#[cfg(has_liburing)]
extern "C" {
    fn rwb_uring_open(entries: c_uint, fast: c_int) -> *mut c_void;
    fn rwb_uring_close(r: *mut c_void);
    fn rwb_uring_nop(r: *mut c_void, batch: c_uint, rounds: c_ulonglong) -> c_longlong;
    fn rwb_uring_read(
        r: *mut c_void,
        fd: c_int,
        bufs: *mut c_uchar,
        size: c_uint,
        depth: c_uint,
        file_size: c_ulonglong,
        rounds: c_ulonglong,
    ) -> c_longlong;
}

/// The context a C `*_open` returned, or why setup failed (a null return
/// leaves `errno` set).
fn opened(ptr: *mut c_void) -> Result<*mut c_void, Unavailable> {
    if ptr.is_null() {
        return Err(Unavailable::Setup(std::io::Error::last_os_error().to_string()));
    }
    Ok(ptr)
}

fn checked(what: &str, ret: c_longlong) -> u64 {
    if ret < 0 {
        panic!("{what}: {}", std::io::Error::from_raw_os_error(-ret as i32));
    }
    ret as u64
}

/// The raw-syscall C floor.
#[derive(Debug)]
pub struct Raw {
    ptr: *mut c_void,
    entries: u32,
}

impl Raw {
    /// A ring of `entries` (kernel memory).
    pub fn open(entries: u32, mode: Mode) -> Result<Raw, Unavailable> {
        // SAFETY: plain values; returns an owned context or null.
        let ptr = opened(unsafe { rwb_raw_open(entries, (mode == Mode::Fast) as c_int) })?;
        Ok(Raw { ptr, entries })
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from rwb_raw_open and is closed once.
        unsafe { rwb_raw_close(self.ptr) }
    }
}

impl NopClient for Raw {
    fn nop_rounds(&mut self, batch: u32, rounds: u64) -> u64 {
        assert!(batch >= 1 && batch <= self.entries, "batch must be 1..=entries");
        // SAFETY: a live context; batch fits the ring.
        checked("raw nop", unsafe { rwb_raw_nop(self.ptr, batch, rounds) })
    }
}

/// The C liburing client.
#[derive(Debug)]
pub struct Liburing {
    #[cfg_attr(not(has_liburing), allow(dead_code))]
    ptr: *mut c_void,
    #[cfg_attr(not(has_liburing), allow(dead_code))]
    entries: u32,
}

impl Liburing {
    /// Whether this build has the liburing client.
    pub const AVAILABLE: bool = cfg!(has_liburing);

    /// The liburing version the client was built against, if any.
    pub fn version() -> Option<String> {
        if !Self::AVAILABLE {
            return None;
        }
        let out =
            std::process::Command::new("dpkg-query").args(["-W", "-f", "${Version}", "liburing-dev"]).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A ring of `entries`.
    #[cfg(has_liburing)]
    pub fn open(entries: u32, mode: Mode) -> Result<Liburing, Unavailable> {
        // SAFETY: plain values; returns an owned ring or null.
        let ptr = opened(unsafe { rwb_uring_open(entries, (mode == Mode::Fast) as c_int) })?;
        Ok(Liburing { ptr, entries })
    }

    /// Not built: liburing-dev was missing.
    #[cfg(not(has_liburing))]
    pub fn open(_entries: u32, _mode: Mode) -> Result<Liburing, Unavailable> {
        Err(Unavailable::NoLiburing)
    }
}

impl Drop for Liburing {
    fn drop(&mut self) {
        #[cfg(has_liburing)]
        // SAFETY: `ptr` came from rwb_uring_open and is closed once.
        unsafe {
            rwb_uring_close(self.ptr)
        }
    }
}

impl NopClient for Liburing {
    #[cfg(has_liburing)]
    fn nop_rounds(&mut self, batch: u32, rounds: u64) -> u64 {
        assert!(batch >= 1 && batch <= self.entries, "batch must be 1..=entries");
        // SAFETY: a live ring; batch fits it.
        checked("liburing nop", unsafe { rwb_uring_nop(self.ptr, batch, rounds) })
    }

    #[cfg(not(has_liburing))]
    fn nop_rounds(&mut self, _batch: u32, _rounds: u64) -> u64 {
        unreachable!("Liburing::open fails without liburing")
    }
}

/// A C client bound to a read workload (owns its buffers).
#[derive(Debug)]
pub struct CReader<T> {
    client: T,
    file: ReadFile,
    bufs: Buffers,
}

impl CReader<Raw> {
    /// The raw floor reading `file`.
    pub fn raw(file: ReadFile, mode: Mode) -> Result<CReader<Raw>, Unavailable> {
        let client = Raw::open(ring_entries_for(file.depth), mode)?;
        let bufs = Buffers::new(file.depth, file.size);
        Ok(CReader { client, file, bufs })
    }
}

impl CReader<Liburing> {
    /// liburing reading `file`.
    pub fn liburing(file: ReadFile, mode: Mode) -> Result<CReader<Liburing>, Unavailable> {
        let client = Liburing::open(ring_entries_for(file.depth), mode)?;
        let bufs = Buffers::new(file.depth, file.size);
        Ok(CReader { client, file, bufs })
    }
}

impl ReadClient for CReader<Raw> {
    fn read_rounds(&mut self, rounds: u64) -> u64 {
        let f = &self.file;
        // SAFETY: bufs holds depth * size bytes and outlives the call, which
        // reaps every read before returning; the fd is open.
        checked("raw read", unsafe {
            rwb_raw_read(self.client.ptr, f.file.as_raw_fd(), self.bufs.as_mut_ptr(), f.size, f.depth, f.len, rounds)
        })
    }
}

impl ReadClient for CReader<Liburing> {
    #[cfg(has_liburing)]
    fn read_rounds(&mut self, rounds: u64) -> u64 {
        let f = &self.file;
        // SAFETY: as for the raw client.
        checked("liburing read", unsafe {
            rwb_uring_read(self.client.ptr, f.file.as_raw_fd(), self.bufs.as_mut_ptr(), f.size, f.depth, f.len, rounds)
        })
    }

    #[cfg(not(has_liburing))]
    fn read_rounds(&mut self, _rounds: u64) -> u64 {
        unreachable!("Liburing::open fails without liburing")
    }
}
