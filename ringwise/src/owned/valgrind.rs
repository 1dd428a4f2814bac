//! Telling valgrind's memcheck about bytes the kernel wrote through the
//! ring.
//!
//! Memcheck sees the syscalls a program makes, but not the kernel writing
//! a read's data into a buffer when an io_uring op completes: bytes of a
//! buffer that were never initialized (a `Vec`'s spare capacity) would stay
//! "undefined" to it after the read, and every use of them would be
//! reported. Owned buffers therefore mark what a completed op wrote as
//! defined, with memcheck's `MAKE_MEM_DEFINED` client request: a special
//! instruction sequence that does nothing outside valgrind (the rotations
//! add up to 128 bits, leaving the register as it was, and `xchg rbx, rbx`
//! is a no-op), and that valgrind recognises.

/// `VG_USERREQ__MAKE_MEM_DEFINED`: ('M' << 24) | ('C' << 16) + 2.
#[cfg(target_arch = "x86_64")]
const MAKE_MEM_DEFINED: usize = 0x4D43_0002;

/// Mark `len` bytes at `ptr` as defined for memcheck (no effect outside
/// valgrind, and on architectures other than x86_64).
#[inline]
pub(crate) fn kernel_wrote(ptr: *const u8, len: usize) {
    if len == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let args: [usize; 6] = [MAKE_MEM_DEFINED, ptr as usize, len, 0, 0, 0];
        let mut result: usize = 0;
        // SAFETY: the client-request sequence reads the argument array
        // through rax, leaves rdi as it was (its rotations total 128 bits)
        // and writes only rdx (the result, left as is outside valgrind);
        // it touches no memory of the program's and no flags it relies on.
        unsafe {
            std::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                in("rax") args.as_ptr(),
                inout("rdx") result,
                in("rdi") 0usize,
                options(nostack, preserves_flags),
            );
        }
        let _ = result;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}
