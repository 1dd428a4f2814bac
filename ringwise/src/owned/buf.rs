//! Buffers owned ops can own: `Vec<u8>`, `Box<[u8]>`, a [`Slice`] of either,
//! and user types through [`IoBuf`]/[`IoBufMut`].

use std::ops::{Bound, RangeBounds};

/// A buffer an owned op can hand the kernel to read from (a write's data).
///
/// # Safety
/// Implementations promise that `stable_ptr()` is valid for reads of
/// `bytes_init()` bytes, and that the pointer and the memory behind it stay
/// the same while the value is moved (heap memory, not a field of the
/// value) and until it is dropped or mutably accessed.
pub unsafe trait IoBuf: Send + 'static {
    /// Where the bytes start.
    fn stable_ptr(&self) -> *const u8;
    /// Bytes holding data (what a write sends).
    fn bytes_init(&self) -> usize;
    /// Bytes the buffer has room for (what a read may fill).
    fn bytes_total(&self) -> usize;

    /// The part of this buffer in `range` (of `0..bytes_total()`), as an
    /// owned buffer: ops use only that part, and
    /// [`Slice::into_inner`] gives the whole buffer back. A range outside the
    /// buffer is cut to it.
    fn slice(self, range: impl RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        let total = self.bytes_total();
        let begin = match range.start_bound() {
            Bound::Included(&b) => b,
            Bound::Excluded(&b) => b.saturating_add(1),
            Bound::Unbounded => 0,
        }
        .min(total);
        let end = match range.end_bound() {
            Bound::Included(&e) => e.saturating_add(1),
            Bound::Excluded(&e) => e,
            Bound::Unbounded => total,
        }
        .clamp(begin, total);
        Slice { buf: self, begin, end }
    }
}

/// A buffer an owned op can hand the kernel to write into (a read's
/// destination).
///
/// # Safety
/// As for [`IoBuf`], and `stable_mut_ptr()` is valid for writes of
/// `bytes_total()` bytes.
pub unsafe trait IoBufMut: IoBuf {
    /// Where the writable bytes start.
    fn stable_mut_ptr(&mut self) -> *mut u8;
    /// The kernel wrote the first `n` bytes: make them part of the data
    /// (a `Vec`'s length grows to at least `n`). The library's buffers also
    /// tell valgrind's memcheck that those bytes are defined now (it does
    /// not see the kernel write them); a user type may do the same.
    ///
    /// # Safety
    /// The first `n` bytes (at most `bytes_total()`) are initialized.
    unsafe fn set_init(&mut self, n: usize);
}

// SAFETY: a Vec's buffer is heap memory that does not move when the Vec
// does; `as_ptr` is valid for `len` reads and `capacity` writes.
unsafe impl IoBuf for Vec<u8> {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len()
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as for `IoBuf`: the spare capacity is writable heap memory.
unsafe impl IoBufMut for Vec<u8> {
    #[inline]
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    #[inline]
    unsafe fn set_init(&mut self, n: usize) {
        super::valgrind::kernel_wrote(self.as_ptr(), n.min(self.capacity()));
        if n > self.len() {
            // SAFETY: the caller guarantees the first `n` bytes (within the
            // capacity) are initialized.
            unsafe { self.set_len(n.min(self.capacity())) }
        }
    }
}

// SAFETY: a boxed slice is heap memory that does not move with the box (a
// zero-length one is a dangling, never-accessed pointer).
unsafe impl IoBuf for Box<[u8]> {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len()
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: as above; every byte of a boxed slice is initialized.
unsafe impl IoBufMut for Box<[u8]> {
    #[inline]
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    #[inline]
    unsafe fn set_init(&mut self, n: usize) {
        super::valgrind::kernel_wrote(self.as_ptr(), n.min(self.len()));
    }
}

/// A part of an owned buffer, made by [`IoBuf::slice`]: ops use bytes
/// `begin..end` of the buffer.
#[derive(Debug)]
pub struct Slice<B> {
    buf: B,
    begin: usize,
    end: usize,
}

impl<B> Slice<B> {
    /// The whole buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }
    /// The first byte of the part, in the buffer.
    pub fn begin(&self) -> usize {
        self.begin
    }
    /// One past the last byte of the part.
    pub fn end(&self) -> usize {
        self.end
    }
    /// The buffer.
    pub fn get_ref(&self) -> &B {
        &self.buf
    }
}

// SAFETY: a sub-range of a stable buffer is stable; `begin <= end <=
// bytes_total()` by construction, and the initialized part is cut to it.
unsafe impl<B: IoBuf> IoBuf for Slice<B> {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.stable_ptr().wrapping_add(self.begin)
    }
    fn bytes_init(&self) -> usize {
        self.buf.bytes_init().clamp(self.begin, self.end) - self.begin
    }
    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
}

// SAFETY: as above, for writes of the part.
unsafe impl<B: IoBufMut> IoBufMut for Slice<B> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.stable_mut_ptr().wrapping_add(self.begin)
    }
    unsafe fn set_init(&mut self, n: usize) {
        // Only data that joins up with the buffer's own counts: a read into
        // the middle of a `Vec`'s spare capacity must not make the bytes
        // before it part of the data.
        if self.buf.bytes_init() >= self.begin {
            // SAFETY: forwarded: bytes `..begin` were initialized and
            // `begin..begin + n` now are.
            unsafe { self.buf.set_init(self.begin + n) }
        }
    }
}
