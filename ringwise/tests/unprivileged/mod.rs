//! Running a closure as an unprivileged user, for the RLIMIT_MEMLOCK tests:
//! the kernel charges pinned memory to the calling thread's real uid, and
//! only when that thread lacks CAP_IPC_LOCK, so each case runs on a new
//! thread that drops its own uid, gid and groups (raw per-thread syscalls,
//! not libc's process-wide setuid), which also clears its capabilities.

/// Run `f` on a new thread switched to `uid` (and gid `uid`, no groups) and
/// return what it returned, re-raising its panic.
pub fn on_thread_as_uid<R: Send + 'static>(uid: u32, f: impl FnOnce() -> R + Send + 'static) -> R {
    let result = std::thread::spawn(move || {
        let (u, g) = (rustix::process::Uid::from_raw(uid), rustix::process::Gid::from_raw(uid));
        rustix::thread::set_thread_groups(&[]).expect("setgroups");
        rustix::thread::set_thread_res_gid(g, g, g).expect("setresgid");
        rustix::thread::set_thread_res_uid(u, u, u).expect("setresuid");
        f()
    })
    .join();
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
