//! The raw system calls: `io_uring_setup`, `io_uring_enter`,
//! `io_uring_register`, plus the page size. Memory mapping goes through rustix
//! (see `memory`).
//!
//! The three io_uring calls are issued with inline assembly on x86_64 and
//! aarch64 so that `io_uring_enter` inlines into the caller's submit loop: an
//! out-of-line function that returns right after the `syscall` instruction
//! pays for the kernel's return-stack mitigations on every call (measured at
//! about 45 ns on the development machine). Other architectures are refused
//! at compile time (a port needs its own `syscall6`).

use crate::abi;
use rustix::io::Errno;
use std::ffi::c_void;

/// The system page size, read once.
pub fn page_size() -> usize {
    rustix::param::page_size()
}

/// A raw syscall result as a count or an errno.
#[inline(always)]
pub(crate) fn check(ret: isize) -> Result<u32, Errno> {
    if (-4095..0).contains(&ret) {
        Err(Errno::from_raw_os_error(-ret as i32))
    } else {
        Ok(ret as u32)
    }
}

/// # Safety
/// The caller must pass arguments valid for syscall `nr`: every pointer must
/// be valid for the accesses the kernel makes through it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn syscall6(nr: usize, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the x86_64 Linux syscall convention; rcx and r11 are clobbered
    // by `syscall`; the caller guarantees the arguments are valid.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    ret
}

/// # Safety
/// As for the x86_64 version.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
unsafe fn syscall6(nr: usize, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the aarch64 Linux syscall convention (number in x8, arguments
    // in x0..x5, result in x0); the caller guarantees the arguments.
    unsafe {
        std::arch::asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") a[0] as isize => ret,
            in("x1") a[1],
            in("x2") a[2],
            in("x3") a[3],
            in("x4") a[4],
            in("x5") a[5],
            options(nostack)
        );
    }
    ret
}

/// # Safety
/// As for the x86_64 version.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn syscall6(nr: usize, a: [usize; 6]) -> isize {
    compile_error!("ringwise issues io_uring syscalls with inline assembly on x86_64 and aarch64 only");
}

/// `io_uring_setup(entries, params)`: returns the ring fd, or with
/// `REGISTERED_FD_ONLY` the registered ring index.
///
/// # Safety
/// `params` must be valid; with `IORING_SETUP_NO_MMAP`, `sq_off.user_addr`
/// and `cq_off.user_addr` must point to writable memory at least as long as
/// the kernel's layout for these parameters, which must stay allocated and
/// unused by anything else until the ring is closed.
pub unsafe fn io_uring_setup(entries: u32, params: &mut abi::io_uring_params) -> Result<u32, Errno> {
    // SAFETY: forwarded contract.
    check(unsafe { syscall6(abi::SYS_IO_URING_SETUP, [entries as usize, params as *mut _ as usize, 0, 0, 0, 0]) })
}

/// `io_uring_enter(fd, to_submit, min_complete, flags, arg, argsz)`.
///
/// # Safety
/// `arg` must be null or valid for `argsz` bytes as `flags` dictate, and the
/// SQEs published to the kernel must point to memory valid for their ops.
#[inline(always)]
pub unsafe fn io_uring_enter(
    fd: u32,
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: *const c_void,
    argsz: usize,
) -> Result<u32, Errno> {
    // SAFETY: forwarded contract.
    check(unsafe { io_uring_enter_ret(fd, to_submit, min_complete, flags, arg, argsz) })
}

/// [`io_uring_enter`] with the kernel's return left raw: a count, or a
/// negated errno in `-4095..0` (see [`check`]). For the submit path, which
/// compares the count with what it asked for before anything else: one
/// compare then covers "no error" and "all consumed".
///
/// # Safety
/// As for [`io_uring_enter`].
#[inline(always)]
pub(crate) unsafe fn io_uring_enter_ret(
    fd: u32,
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: *const c_void,
    argsz: usize,
) -> isize {
    #[cfg(test)]
    ENTERS.with(|n| n.set(n.get() + 1));
    // SAFETY: forwarded contract.
    unsafe {
        syscall6(
            abi::SYS_IO_URING_ENTER,
            [fd as usize, to_submit as usize, min_complete as usize, flags as usize, arg as usize, argsz],
        )
    }
}

#[cfg(test)]
thread_local! {
    /// `io_uring_enter` calls made by this thread (unit tests only: the
    /// syscall count that tells whether a call entered the kernel).
    pub(crate) static ENTERS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The number of `io_uring_enter` calls this thread has made (unit tests
/// only).
#[cfg(test)]
pub(crate) fn enters() -> u64 {
    ENTERS.with(|n| n.get())
}

/// `mincore(addr, len, vec)`: one byte per page of `[addr, addr + len)`,
/// bit 0 set where the page is resident. rustix has no wrapper; the ring
/// mappings use it to find pages of a mapping that nothing backs.
///
/// # Safety
/// `vec` must be valid for writes of `len.div_ceil(page_size())` bytes.
pub(crate) unsafe fn mincore(addr: *const c_void, len: usize, vec: *mut u8) -> Result<u32, Errno> {
    let nr = linux_raw_sys::general::__NR_mincore as usize;
    // SAFETY: mincore only writes `vec`, which the caller vouches for; the
    // range itself is only looked up, never accessed.
    check(unsafe { syscall6(nr, [addr as usize, len, vec as usize, 0, 0, 0]) })
}

/// `io_uring_register(fd, opcode, arg, nr_args)`.
///
/// # Safety
/// `arg` must be valid for what `opcode` makes the kernel read or write, and
/// for as long as the kernel keeps it (some registrations keep pointers).
pub unsafe fn io_uring_register(fd: u32, opcode: u32, arg: *const c_void, nr_args: u32) -> Result<u32, Errno> {
    // SAFETY: forwarded contract.
    check(unsafe {
        syscall6(abi::SYS_IO_URING_REGISTER, [fd as usize, opcode as usize, arg as usize, nr_args as usize, 0, 0])
    })
}
