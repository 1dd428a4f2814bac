//! Shared by the echo and file-read examples (included with `#[path]`).

/// Pin the calling thread (and the threads it spawns after) to `cpu`.
pub fn pin(cpu: usize) -> Result<(), Box<dyn std::error::Error>> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(format!("cpu {cpu} out of range").into());
    }
    // SAFETY: a zeroed cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below the set's size (checked above); CPU_SET writes
    // only inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t of
    // the size passed.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(format!("sched_setaffinity({cpu}): {}", std::io::Error::last_os_error()).into());
    }
    Ok(())
}
