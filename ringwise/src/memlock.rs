//! The exact `RLIMIT_MEMLOCK` charge of a ring and of each registration that
//! pins memory, computed without a syscall.
//!
//! Over 700 lines because the measured accounting rules (this doc) and the
//! unit and property tests (the last ~140 lines) live with the arithmetic.
//!
//! Running out of `RLIMIT_MEMLOCK` is the most common io_uring failure in
//! production: setup or registration fails with `ENOMEM`. This module says
//! how many pages a ring configuration or a registration will be charged, so
//! that a limit can be sized (and an `ENOMEM` explained) with numbers.
//!
//! # How Linux 6.18 charges io_uring memory
//!
//! Read from the 6.18 sources and measured on this kernel (the proof is
//! `tests/memlock.rs`: for every configuration there, setup under a limit of
//! exactly [`MemlockCharge::bytes`] succeeds and one page less fails with
//! `ENOMEM`, as a fresh unprivileged uid).
//!
//! **Who is charged.** At setup (`io_uring_create`, `io_uring/io_uring.c`)
//! the ring records `ctx->user = current_user()` only when the creating task
//! lacks `CAP_IPC_LOCK` in the initial user namespace
//! (`ns_capable_noaudit(&init_user_ns, CAP_IPC_LOCK)`); with the capability
//! `ctx->user` stays NULL and nothing of this module applies: no charge, no
//! limit. `current_user()` is the `user_struct` of the task's real uid, shared
//! by every process of that uid. It also records `ctx->mm_account` (the
//! creating process's `mm`), whatever the capability.
//!
//! **The counter and the check.** `__io_account_mem` (`io_uring/rsrc.c`)
//! adds `nr_pages` to `user->locked_vm` with a compare-and-swap loop and
//! refuses with `ENOMEM` when the new total would exceed
//! `rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT`, the soft limit of the task doing
//! the charging, rounded *down* to whole pages. So a charge of `n` pages
//! needs a limit of `n * PAGE_SIZE` bytes on top of what the uid already has
//! charged (any limit byte short of a whole page is useless). The same
//! `user->locked_vm` counter is shared with other subsystems that charge
//! the user rather than the process (perf ring buffers, AF_XDP umem, and
//! every other io_uring ring of that uid, in any process). It is *not*
//! `mm->locked_vm` (mlock, `VmLck` in `/proc/<pid>/status`): io_uring never
//! touches `VmLck`.
//!
//! **What is charged, rounded how:**
//!
//! * **Ring regions** (`io_allocate_scq_urings` → `io_create_region`,
//!   `io_uring/memmap.c`): the rings region, `PAGE_ALIGN(rings_size)`, and
//!   the SQE region, `PAGE_ALIGN(sq_entries * sqe_size)`, each charged
//!   `size >> PAGE_SHIFT` pages before its memory is allocated or pinned,
//!   and charged **the same whether the kernel allocates the pages
//!   (kernel-mapped ring) or pins the caller's (`NO_MMAP`)**, on normal or
//!   huge pages alike (the region code counts pages of its own size, never
//!   folios). The two regions are charged one after the other: the rings
//!   region can fit and the SQE region then fail; the rings region's charge
//!   is then given back at once. Ring regions go to `user->locked_vm` only,
//!   never to `mm->pinned_vm`. See [`ring`].
//! * **Registered buffers** (`io_sqe_buffer_register` →
//!   `io_buffer_account_pin` → `io_account_mem`, `io_uring/rsrc.c`): every
//!   page of `[addr, addr + len)` rounded out to page boundaries is pinned;
//!   each base page counts 1; a page inside a compound folio (hugetlb page,
//!   transparent huge page, or any large folio) counts the **whole folio**
//!   (`page_size(head) >> PAGE_SHIFT`, 512 for a 2 MiB page) and that folio
//!   is counted once: skipped when it is the previous folio counted in this
//!   registration call (`last_hpage`), when an earlier page of the same
//!   buffer is in it, or when a buffer already in the ring's table uses it
//!   (`headpage_already_acct`). Buffers registered in one call are not in the
//!   table yet, so `A, B, A` with `A` and `B` in two huge pages charges `A`'s
//!   folio twice. Registered buffers are charged to `user->locked_vm`
//!   (when `ctx->user` is set) **and**, always, to the creating process's
//!   `mm->pinned_vm`, which `/proc/<pid>/status` shows as `VmPin`. Cloned
//!   buffers (`IORING_REGISTER_CLONE_BUFFERS`) are not charged again. See
//!   [`registered_buffers`].
//! * **Provided-buffer rings** (`io_register_pbuf_ring` →
//!   `io_create_region_mmap_safe`, `io_uring/kbuf.c`):
//!   `PAGE_ALIGN(entries * 16)` bytes, charged the same for kernel-allocated
//!   (`IOU_PBUF_RING_MMAP`) and user memory. Only the ring of entries: the
//!   buffers it points to are not pinned and not charged. See [`buf_ring`].
//! * **Memory regions and registered wait regions**
//!   (`io_register_mem_region` → `io_create_region`, `io_uring/register.c`):
//!   `size >> PAGE_SHIFT` pages, kernel or user memory alike (the size must be
//!   a whole number of pages). See [`mem_region`].
//! * **Resizing** (`io_register_resize_rings`): the new regions are charged
//!   before the old ones are released, so the peak is old plus new. See
//!   [`resize_peak`].
//! * Not charged: the SQPOLL thread, io-wq, registered files, eventfds, the
//!   kernel's own bookkeeping (that goes to the memory cgroup through
//!   `GFP_KERNEL_ACCOUNT`, not to `RLIMIT_MEMLOCK`).
//!
//! **When it is released.** Each charge is given back with the memory it
//! covers (`io_free_region` and `io_buffer_unmap` call `__io_unaccount_mem` /
//! `io_unaccount_mem`):
//!
//! * unregistering buffers, a buffer ring, or an update that replaces a
//!   buffer releases synchronously, inside the `io_uring_register` call
//!   (unless an in-flight op still holds a buffer: then when that op
//!   completes);
//! * the ring regions, the parameter region and everything still registered
//!   are released in `io_ring_ctx_free`, which runs at the end of
//!   `io_ring_exit_work`: a work item queued on the `iou_exit` workqueue when
//!   the last reference to the ring file goes (`close` of the last fd *and*
//!   `munmap` of kernel-mapped rings, whose mappings hold the file). It first
//!   cancels and waits for every request of the ring, and for the ring's
//!   reference count to die (`percpu_ref_kill`, which takes an RCU grace
//!   period). Measured here on an idle 4096-entry ring: the charge is still
//!   all there right after `close` returns and comes back 15 to 55 ms later.
//!   A new setup under a tight limit fails with `ENOMEM` in the meantime:
//!   back to back under twice one ring's charge, 198 of 200 setups failed.
//!   That is the "consecutive runs fail at random" effect.
//!
//! **What a process can observe of the release** (6.18): the user's
//! `locked_vm` is shown nowhere (not in `/proc/<pid>/status`, not in the
//! ring's fdinfo, which has ring indexes and the registered buffers but no
//! charge, and disappears at `close` anyway). Two things do move when
//! `io_ring_ctx_free` runs, within a fraction of a millisecond of each
//! other: `VmPin` (but only by the pages of registered buffers the ring
//! still had, and summed over the whole process), and the headroom under
//! the limit, which [`headroom`] measures exactly by charging and giving
//! back buffer rings on a probe ring. [`wait_for_release`] polls it: 1,000
//! setup/close cycles under twice one ring's charge all succeed when each
//! setup first waits for it (about 10 ms a cycle here).
//! [`Builder::wait_for_memlock_release`](crate::Builder::wait_for_memlock_release)
//! makes every drop of a ring wait that way, and
//! [`Builder::memlock`](crate::Builder::memlock) gives the charge of the
//! ring a builder would set up.
//!
//! Kernel versions: only 6.18 was read and measured here. Older kernels
//! differ (ring memory was not always charged to `RLIMIT_MEMLOCK`; regions,
//! buffer rings in kernel memory and wait regions are recent); registered
//! buffers have been charged per page, huge pages once, for a long time.
//! The arithmetic here is the 6.18 rule.

use crate::layout::Layout;
use std::fmt;
use std::ops::{Add, AddAssign};

/// A number of pages charged to `RLIMIT_MEMLOCK` (the user's `locked_vm`),
/// with the part also charged to the process's `pinned_vm` (`VmPin`).
///
/// Charges add up: the limit a process needs is the sum of the charges of
/// everything its uid holds at once (in every process of that uid), plus
/// what rings dropped a moment ago still hold until the kernel's
/// asynchronous teardown finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemlockCharge {
    /// Pages added to the user's `locked_vm`, checked against
    /// `RLIMIT_MEMLOCK`.
    pub pages: usize,
    /// Pages added to the process's `mm->pinned_vm` (shown as `VmPin` in
    /// `/proc/self/status`): registered buffers only, the same pages as in
    /// `pages`. Unlike `pages`, charged with `CAP_IPC_LOCK` too (and never
    /// limited).
    pub pinned_pages: usize,
    /// The page size the pages are of.
    pub page_size: usize,
}

impl MemlockCharge {
    /// No charge, for `page_size`-byte pages.
    pub const fn none(page_size: usize) -> MemlockCharge {
        MemlockCharge { pages: 0, pinned_pages: 0, page_size }
    }

    /// `pages` pages charged to `locked_vm` only.
    pub const fn locked(pages: usize, page_size: usize) -> MemlockCharge {
        MemlockCharge { pages, pinned_pages: 0, page_size }
    }

    /// The charge in bytes: the smallest `RLIMIT_MEMLOCK` (soft limit) under
    /// which a uid with nothing else charged can take it.
    pub const fn bytes(&self) -> u64 {
        self.pages as u64 * self.page_size as u64
    }

    /// Whether a uid that has `already` pages charged can take this charge
    /// under a limit of `limit_bytes` (the kernel's test in
    /// `__io_account_mem`).
    pub const fn fits(&self, already: usize, limit_bytes: u64) -> bool {
        let limit_pages = limit_bytes / self.page_size as u64;
        (already as u64).saturating_add(self.pages as u64) <= limit_pages
    }
}

impl Add for MemlockCharge {
    type Output = MemlockCharge;
    /// Sum of two charges of the same page size (panics otherwise: adding
    /// pages of different sizes is a bug).
    fn add(self, other: MemlockCharge) -> MemlockCharge {
        assert_eq!(self.page_size, other.page_size, "adding charges of different page sizes");
        MemlockCharge {
            pages: self.pages + other.pages,
            pinned_pages: self.pinned_pages + other.pinned_pages,
            page_size: self.page_size,
        }
    }
}

impl AddAssign for MemlockCharge {
    fn add_assign(&mut self, other: MemlockCharge) {
        *self = *self + other;
    }
}

impl fmt::Display for MemlockCharge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} pages ({} KiB) of RLIMIT_MEMLOCK", self.pages, self.bytes() / 1024)?;
        if self.pinned_pages != 0 {
            write!(f, ", {} of them also in VmPin", self.pinned_pages)?;
        }
        Ok(())
    }
}

/// Where a ring's regions (or a region-backed registration's memory) live.
///
/// On Linux 6.18 the charge is the same for all of them: the region code
/// charges the region's size in pages before allocating or pinning. The kind
/// is an input anyway so that callers state it, and so that a kernel that
/// charges them differently changes one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RingMemoryKind {
    /// Pages the kernel allocates and the process maps from the ring fd.
    #[default]
    Kernel,
    /// Caller or library memory on base pages (`IORING_SETUP_NO_MMAP`, or a
    /// user-memory buffer ring or region).
    User,
    /// Caller or library memory on huge pages: charged by the region's size,
    /// not by the huge page (unlike registered buffers).
    UserHuge,
}

/// How the memory under a registered buffer is backed, which decides how
/// the kernel counts its pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PageKind {
    /// Base pages (4 KiB on x86_64): one page each. Anonymous memory without
    /// transparent huge pages (`MADV_NOHUGEPAGE`, or THP `never`/`madvise`
    /// without `MADV_HUGEPAGE`), and without multi-size THP.
    #[default]
    Base,
    /// Naturally aligned compound folios of `bytes` bytes (a power of two,
    /// a multiple of the page size): hugetlb pages (2 MiB, 1 GiB),
    /// transparent huge pages (2 MiB), or multi-size THP folios (16 KiB to
    /// 1 MiB). Each folio touched counts whole, once.
    Folio {
        /// Bytes of one folio.
        bytes: usize,
    },
}

impl PageKind {
    /// A 2 MiB huge page (hugetlb or THP).
    pub const HUGE_2M: PageKind = PageKind::Folio { bytes: 2 * 1024 * 1024 };
}

/// One buffer given to `IORING_REGISTER_BUFFERS`(2) or a buffer update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferSpan {
    /// Start address (any alignment).
    pub addr: usize,
    /// Length in bytes; 0 is an empty (sparse) slot, charged nothing.
    pub len: usize,
    /// What backs the memory.
    pub pages: PageKind,
}

impl BufferSpan {
    /// A buffer on base pages.
    pub fn new(addr: usize, len: usize) -> BufferSpan {
        BufferSpan { addr, len, pages: PageKind::Base }
    }
    /// A buffer on folios of `folio_bytes` (e.g. 2 MiB huge pages).
    pub fn on_folios(addr: usize, len: usize, folio_bytes: usize) -> BufferSpan {
        BufferSpan { addr, len, pages: PageKind::Folio { bytes: folio_bytes } }
    }
}

/// Pages of a region of `bytes` bytes, as the region code counts them
/// (`PAGE_ALIGN(size) >> PAGE_SHIFT`).
pub const fn region_pages(bytes: usize, page_size: usize) -> usize {
    bytes.div_ceil(page_size)
}

/// The charge of setting up a ring with this layout, by a task without
/// `CAP_IPC_LOCK`: the rings region's pages plus the SQE region's pages,
/// wherever they live (see [`RingMemoryKind`]).
///
/// A 4096-entry ring with the default CQ size (8192) on 4 KiB pages: 37
/// pages for the rings region with an SQ array (33 with `NO_SQARRAY`), 64
/// for the SQEs: 101 pages or 404 KiB in all (97 pages, 388 KiB, without the
/// SQ array).
pub fn ring(layout: &Layout, memory: RingMemoryKind) -> MemlockCharge {
    let _ = memory; // Charged alike on 6.18; see the type's docs.
    MemlockCharge::locked(layout.rings_pages() + layout.sqes_pages(), layout.page_size())
}

/// The peak charge of `IORING_REGISTER_RESIZE_RINGS` from `old` to `new`:
/// the new regions are charged before the old are released, so both are
/// held for a moment. After the call the ring holds `ring(new)`.
pub fn resize_peak(old: &Layout, new: &Layout) -> MemlockCharge {
    ring(old, RingMemoryKind::Kernel) + ring(new, RingMemoryKind::Kernel)
}

/// The charge of registering a provided-buffer ring of `entries` entries
/// (16 bytes each): `PAGE_ALIGN(entries * 16)`, kernel-allocated
/// (`IOU_PBUF_RING_MMAP`) or in user memory alike. The buffers the entries
/// point to are not pinned and not charged.
pub fn buf_ring(entries: u32, memory: RingMemoryKind, page_size: usize) -> MemlockCharge {
    let _ = memory; // Charged alike on 6.18.
    MemlockCharge::locked(region_pages(entries as usize * 16, page_size), page_size)
}

/// The charge of `IORING_REGISTER_MEM_REGION` (a parameter region, e.g.
/// registered wait arguments) of `bytes` bytes, which the kernel requires
/// to be a whole number of pages: `bytes / page_size` pages, kernel or user
/// memory alike.
pub fn mem_region(bytes: usize, memory: RingMemoryKind, page_size: usize) -> MemlockCharge {
    let _ = memory; // Charged alike on 6.18.
    MemlockCharge::locked(region_pages(bytes, page_size), page_size)
}

/// The charge of registering `buffers` in one `IORING_REGISTER_BUFFERS`(2)
/// call on a ring with no buffers yet, replaying the kernel's count
/// (`io_buffer_account_pin`): base pages one each; a folio counted whole,
/// skipped when it is the folio counted just before in this call or when an
/// earlier page of the same buffer lies in it. The whole charge also goes to
/// the process's `VmPin`.
pub fn registered_buffers(buffers: &[BufferSpan], page_size: usize) -> MemlockCharge {
    registered_buffers_update(&[], buffers, page_size)
}

/// The charge of a buffer update (`IORING_REGISTER_BUFFERS_UPDATE`) adding
/// `buffers` to a ring whose table already holds `table`: as
/// [`registered_buffers`], and a folio that a buffer in the table already
/// uses is not counted again. (The kernel checks the table before removing
/// the buffers an update replaces, so a replaced buffer's folios count as
/// "already there", and releasing it later gives back its own count: the
/// charge of updates can drift from the pages actually pinned.)
pub fn registered_buffers_update(table: &[BufferSpan], buffers: &[BufferSpan], page_size: usize) -> MemlockCharge {
    let in_table = |head: usize| table.iter().any(|t| folios(t, page_size).any(|(h, _)| h == Some(head)));
    let mut last_head: Option<usize> = None;
    let mut pages = 0usize;
    for buffer in buffers {
        let mut seen: Vec<usize> = Vec::new();
        for (head, count) in folios(buffer, page_size) {
            let Some(head) = head else {
                pages += count;
                continue;
            };
            if last_head == Some(head) {
                continue;
            }
            last_head = Some(head);
            if seen.contains(&head) || in_table(head) {
                continue;
            }
            seen.push(head);
            pages += count;
        }
    }
    MemlockCharge { pages, pinned_pages: pages, page_size }
}

/// The pages a buffer pins, folio by folio: `(None, n)` for a run of `n`
/// base pages, `(Some(head), pages_per_folio)` for each folio touched.
fn folios(buffer: &BufferSpan, page_size: usize) -> Box<dyn Iterator<Item = (Option<usize>, usize)>> {
    if buffer.len == 0 {
        return Box::new(std::iter::empty());
    }
    let start = buffer.addr / page_size * page_size;
    let end = (buffer.addr.saturating_add(buffer.len)).div_ceil(page_size) * page_size;
    match buffer.pages {
        PageKind::Base => Box::new(std::iter::once((None, (end - start) / page_size))),
        PageKind::Folio { bytes } => {
            let bytes = bytes.max(page_size);
            let first = start / bytes;
            let last = (end - 1) / bytes;
            Box::new((first..=last).map(move |i| (Some(i * bytes), bytes / page_size)))
        }
    }
}

/// The explanation for an `ENOMEM` from a setup or registration whose
/// charge is `needed`: the charge, the calling process's current
/// `RLIMIT_MEMLOCK`, and how to raise it. Meant for the error message of
/// a setup that failed with `ENOMEM` (reads the limit with `getrlimit`).
pub fn enomem_advice(needed: MemlockCharge) -> String {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Memlock);
    let kib = |v: Option<u64>| v.map_or("unlimited".to_string(), |b| format!("{} KiB", b / 1024));
    let need_kib = needed.bytes().div_ceil(1024);
    let short = match limit.current {
        Some(cur) if cur < needed.bytes() => {
            format!("the limit alone is too small for it ({} KiB short)", (needed.bytes() - cur).div_ceil(1024))
        }
        _ => "the limit would hold it, so other rings or registrations of this user (in any process) hold the rest"
            .to_string(),
    };
    format!(
        "this needs {needed} and RLIMIT_MEMLOCK is {} (hard limit {}): {short}. Without CAP_IPC_LOCK, io_uring \
         charges ring memory and pinned registrations to the user's locked memory. Raise the limit to at least \
         {need_kib} KiB plus what the user's other rings hold (`ulimit -l {need_kib}` in the shell that starts the \
         program, `LimitMEMLOCK={need_kib}K` for a systemd unit, `memlock` in /etc/security/limits.conf, \
         `--ulimit memlock=...` for docker), or give the program CAP_IPC_LOCK (with it nothing is charged, and an \
         ENOMEM means the kernel itself is short of memory). Rings closed a moment ago may still be charged: the \
         kernel gives a ring's charge back only once it has torn the ring down, asynchronously, some milliseconds \
         after the close (Builder::wait_for_memlock_release makes dropping a ring wait for that)",
        kib(limit.current),
        kib(limit.maximum),
    )
}

/// Buffer group ids the probe borrows, from the top of the range down
/// (applications number their groups from 0).
const PROBE_BGID_TOP: u16 = u16::MAX;
/// The largest probe charge of one buffer ring: 32768 entries, 128 pages of
/// 4 KiB (fewer, larger pages elsewhere).
const PROBE_MAX_ENTRIES: u32 = 32768;

/// How many more pages the calling thread's uid could have charged right
/// now, counted up to `max_pages`: `min(RLIMIT_MEMLOCK / page - locked_vm,
/// max_pages)`, or `max_pages` when the thread has `CAP_IPC_LOCK` (nothing
/// is charged then).
///
/// Linux 6.18 shows a user's `locked_vm` nowhere (not in `/proc`, not in
/// the ring's fdinfo), so this measures it the only way a process can: it
/// registers provided-buffer rings in kernel memory (`IOU_PBUF_RING_MMAP`)
/// on `probe`, largest first (128 pages, then halves down to 1 page), until
/// `max_pages` are charged or the kernel answers `ENOMEM`, then unregisters
/// them all, which gives the charge back at once (`io_put_bl` →
/// `io_free_region`, synchronous). Each registration is one
/// `io_uring_register` call and allocates its pages for that moment, so the
/// cost is about `max_pages / 128 + 8` register/unregister pairs and `max_pages` pages of
/// transient kernel memory.
///
/// `probe` is any ring of the calling thread's uid (its own charge is
/// already counted); buffer group ids from 65535 down are borrowed and
/// skipped when taken. The answer is a snapshot: other threads of the uid
/// can charge or release at any moment, and the kernel's teardown of closed
/// rings releases their charge asynchronously.
pub fn headroom<S: crate::SqeSize, C: crate::CqeSize>(
    probe: &crate::Ring<S, C>,
    max_pages: usize,
) -> crate::Result<usize> {
    use crate::abi::register_op::{REGISTER_PBUF_RING, UNREGISTER_PBUF_RING};
    use linux_raw_sys::io_uring::io_uring_buf_reg;
    use linux_raw_sys::io_uring::io_uring_register_pbuf_ring_flags::IOU_PBUF_RING_MMAP;
    use rustix::io::Errno;

    let page = crate::sys::page_size();
    let entries_per_page = (page / 16) as u32;
    let reg = |bgid: u16, entries: u32| io_uring_buf_reg {
        ring_addr: 0,
        ring_entries: entries,
        bgid,
        flags: IOU_PBUF_RING_MMAP as u16,
        resv: [0; 3],
    };
    let mut held: Vec<u16> = Vec::new();
    let mut charged = 0usize;
    let mut bgid = PROBE_BGID_TOP;
    let mut entries = PROBE_MAX_ENTRIES.max(entries_per_page);
    let mut outcome = Ok(());
    'sizes: while entries >= entries_per_page && charged < max_pages {
        let pages = (entries / entries_per_page) as usize;
        while charged + pages <= max_pages {
            let arg = reg(bgid, entries);
            // SAFETY: `arg` is a valid `io_uring_buf_reg` for the call; with
            // IOU_PBUF_RING_MMAP the kernel allocates the entries itself and
            // touches no memory of ours.
            let r = unsafe { probe.register_raw(REGISTER_PBUF_RING, (&arg as *const io_uring_buf_reg).cast(), 1) };
            match r.map_err(|e| e.errno()) {
                Ok(_) => {
                    held.push(bgid);
                    charged += pages;
                }
                Err(Errno::NOMEM) => break,
                Err(Errno::EXIST) => {}
                Err(errno) => {
                    outcome = Err(crate::Error::Kernel {
                        call: "io_uring_register(IORING_REGISTER_PBUF_RING)",
                        errno,
                        context: format!("probing RLIMIT_MEMLOCK headroom with a {pages}-page buffer ring"),
                    });
                    break 'sizes;
                }
            }
            if bgid == 0 {
                break 'sizes;
            }
            bgid -= 1;
        }
        entries /= 2;
    }
    for bgid in held {
        let arg = reg(bgid, 0);
        let arg = io_uring_buf_reg { flags: 0, ..arg };
        // SAFETY: as above; unregistering a group this function registered.
        let _ = unsafe { probe.register_raw(UNREGISTER_PBUF_RING, (&arg as *const io_uring_buf_reg).cast(), 1) };
    }
    outcome.map(|()| charged)
}

/// Wait until the calling thread's uid could take `needed` more (until the
/// kernel has released enough of what closed rings held), polling
/// [`headroom`] on `probe` with a backoff from 50 µs to 5 ms. Returns how
/// long it waited; after `timeout`, an `ENOMEM` error with the numbers.
///
/// This is the tool for "close a ring, set up the next under a tight limit":
/// closing returns before the kernel's teardown (`io_ring_exit_work`) gives
/// the charge back. It cannot tell a charge still being released from one
/// held elsewhere (another process of the uid): both look like too little
/// headroom until the timeout.
pub fn wait_for_release<S: crate::SqeSize, C: crate::CqeSize>(
    probe: &crate::Ring<S, C>,
    needed: MemlockCharge,
    timeout: std::time::Duration,
) -> crate::Result<std::time::Duration> {
    let start = std::time::Instant::now();
    if needed.pages == 0 || rustix::process::getrlimit(rustix::process::Resource::Memlock).current.is_none() {
        // Nothing to wait for: no charge, or no limit to exceed.
        return Ok(std::time::Duration::ZERO);
    }
    let mut pause = std::time::Duration::from_micros(50);
    loop {
        let have = headroom(probe, needed.pages)?;
        if have >= needed.pages {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= timeout {
            let limit = rustix::process::getrlimit(rustix::process::Resource::Memlock).current;
            return Err(crate::Error::Kernel {
                call: "wait_for_release",
                errno: rustix::io::Errno::NOMEM,
                context: format!(
                    "{needed} needed, only {have} pages free under RLIMIT_MEMLOCK {} after waiting {timeout:?}: \
                     the uid's other rings (in any process) hold the rest; raise the limit (`ulimit -l`, \
                     LimitMEMLOCK= in systemd, memlock in /etc/security/limits.conf) or grant CAP_IPC_LOCK",
                    limit.map_or("unlimited".to_string(), |l| format!("{} KiB", l / 1024)),
                ),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(5));
    }
}

std::thread_local! {
    /// The calling thread's probe ring for [`wait_for_release_on_this_thread`]:
    /// set up at its first wait, by that thread (so charged to the thread's
    /// user, the one whose headroom it measures), kept until the thread ends.
    static PROBE: std::cell::RefCell<Option<crate::Ring>> = const { std::cell::RefCell::new(None) };
}

/// [`wait_for_release`] with a probe ring of the calling thread's own: a
/// one-entry ring (2 pages of `RLIMIT_MEMLOCK`, one fd) set up at the
/// thread's first wait and kept until the thread exits. Behind
/// [`Builder::wait_for_memlock_release`](crate::Builder::wait_for_memlock_release)
/// and [`Ring::close_and_wait_release`](crate::Ring::close_and_wait_release).
///
/// Setting up the probe can itself fail with `ENOMEM` while closed rings
/// are still charged; it is retried, within `timeout`. Returns at once
/// when there is no limit (`RLIMIT_MEMLOCK` unlimited) or nothing to wait
/// for, and when called while the thread's locals are being destroyed.
pub fn wait_for_release_on_this_thread(
    needed: MemlockCharge,
    timeout: std::time::Duration,
) -> crate::Result<std::time::Duration> {
    use std::time::{Duration, Instant};
    if needed.pages == 0 || rustix::process::getrlimit(rustix::process::Resource::Memlock).current.is_none() {
        return Ok(Duration::ZERO);
    }
    let start = Instant::now();
    let outcome = PROBE.try_with(|cell| {
        let mut slot = cell.borrow_mut();
        let mut pause = Duration::from_micros(50);
        while slot.is_none() {
            match crate::Builder::new(1).keep_sq_array().register_ring_fd(false).build() {
                Ok(ring) => *slot = Some(ring),
                Err(e) if e.errno() == rustix::io::Errno::NOMEM && start.elapsed() < timeout => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                Err(e) => return Err(e),
            }
        }
        let probe = slot.as_ref().expect("set up above");
        wait_for_release(probe, needed, timeout.saturating_sub(start.elapsed())).map(|_| start.elapsed())
    });
    // The thread's locals are going away: no probe, no wait.
    outcome.unwrap_or(Ok(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::SetupFlags;
    use crate::layout::RingSpec;
    use proptest::prelude::*;

    const PAGE: usize = 4096;
    const HUGE: usize = 2 * 1024 * 1024;

    fn layout(entries: u32, cq: Option<u32>, flags: SetupFlags) -> Layout {
        Layout::compute(&RingSpec { entries, cq_entries: cq, flags }, PAGE).unwrap()
    }

    #[test]
    fn ring_of_4096_entries() {
        let l = layout(4096, None, SetupFlags::empty());
        let c = ring(&l, RingMemoryKind::Kernel);
        // rings: 64 + 8192 * 16 = 131136, + 4 * 4096 of SQ array = 147520
        // bytes -> 37 pages; SQEs: 4096 * 64 = 64 pages.
        assert_eq!(l.rings_pages(), 37);
        assert_eq!(l.sqes_pages(), 64);
        assert_eq!(c.pages, 101);
        assert_eq!(c.bytes(), 101 * 4096);
        assert_eq!(c.pinned_pages, 0);
        let l = layout(4096, None, SetupFlags::NO_SQARRAY);
        assert_eq!(ring(&l, RingMemoryKind::User).pages, 33 + 64);
    }

    #[test]
    fn smallest_ring_is_two_pages() {
        let c = ring(&layout(1, None, SetupFlags::empty()), RingMemoryKind::UserHuge);
        assert_eq!(c, MemlockCharge::locked(2, PAGE));
        assert!(c.fits(0, 2 * 4096));
        assert!(!c.fits(0, 2 * 4096 - 1));
        assert!(!c.fits(1, 2 * 4096));
    }

    #[test]
    fn resize_holds_both() {
        let old = layout(8, None, SetupFlags::empty());
        let new = layout(8, Some(4096), SetupFlags::empty());
        assert_eq!(resize_peak(&old, &new).pages, 2 + new.rings_pages() + 1);
    }

    #[test]
    fn buf_rings_and_regions() {
        assert_eq!(buf_ring(1, RingMemoryKind::Kernel, PAGE).pages, 1);
        assert_eq!(buf_ring(256, RingMemoryKind::User, PAGE).pages, 1);
        assert_eq!(buf_ring(512, RingMemoryKind::User, PAGE).pages, 2);
        assert_eq!(buf_ring(32768, RingMemoryKind::Kernel, PAGE).pages, 128);
        assert_eq!(mem_region(3 * PAGE, RingMemoryKind::User, PAGE).pages, 3);
    }

    #[test]
    fn registered_buffers_count_pages_touched() {
        // One byte straddling a page boundary pins two pages.
        let c = registered_buffers(&[BufferSpan::new(PAGE - 1, 2)], PAGE);
        assert_eq!((c.pages, c.pinned_pages), (2, 2));
        assert_eq!(registered_buffers(&[BufferSpan::new(0x10000, PAGE)], PAGE).pages, 1);
        assert_eq!(registered_buffers(&[BufferSpan::new(0x10000, 0)], PAGE).pages, 0);
        // Two buffers in the same page: the page is counted twice.
        let two = [BufferSpan::new(0x10000, 100), BufferSpan::new(0x10000 + 200, 100)];
        assert_eq!(registered_buffers(&two, PAGE).pages, 2);
    }

    #[test]
    fn huge_pages_count_once() {
        let base = 64 * HUGE;
        // 4 KiB in a huge page: the whole huge page.
        assert_eq!(registered_buffers(&[BufferSpan::on_folios(base, PAGE, HUGE)], PAGE).pages, 512);
        // Two huge pages in one buffer: 1024.
        assert_eq!(registered_buffers(&[BufferSpan::on_folios(base, HUGE + 1, HUGE)], PAGE).pages, 1024);
        // Two buffers in one huge page, one call: once.
        let same = [BufferSpan::on_folios(base, PAGE, HUGE), BufferSpan::on_folios(base + PAGE, PAGE, HUGE)];
        assert_eq!(registered_buffers(&same, PAGE).pages, 512);
        // A, B, A across two huge pages: A's page counted again.
        let aba = [
            BufferSpan::on_folios(base, PAGE, HUGE),
            BufferSpan::on_folios(base + HUGE, PAGE, HUGE),
            BufferSpan::on_folios(base + PAGE, PAGE, HUGE),
        ];
        assert_eq!(registered_buffers(&aba, PAGE).pages, 3 * 512);
        // An update into a huge page the table already uses: nothing.
        let table = [BufferSpan::on_folios(base, PAGE, HUGE)];
        let update = [BufferSpan::on_folios(base + 8 * PAGE, PAGE, HUGE)];
        assert_eq!(registered_buffers_update(&table, &update, PAGE).pages, 0);
    }

    proptest! {
        #[test]
        fn ring_charge_is_both_regions_rounded_up(
            entries in 1u32..=32768,
            cq_shift in 0u32..=2,
            flags in 0u32..16,
        ) {
            let mut f = SetupFlags::empty();
            if flags & 1 != 0 { f |= SetupFlags::SQE128; }
            if flags & 2 != 0 { f |= SetupFlags::CQE32; }
            if flags & 4 != 0 { f |= SetupFlags::NO_SQARRAY; }
            let cq = (flags & 8 != 0).then(|| entries.next_power_of_two().saturating_mul(1 << cq_shift).min(65536));
            let l = layout(entries, cq, f);
            let c = ring(&l, RingMemoryKind::Kernel);
            prop_assert_eq!(c.pages, l.rings_used_bytes().div_ceil(PAGE) + l.sqes_used_bytes().div_ceil(PAGE));
            // Pages are the least that hold the bytes used.
            prop_assert!(c.bytes() as usize >= l.rings_used_bytes() + l.sqes_used_bytes());
            prop_assert!((c.pages - 2) * PAGE < l.rings_used_bytes() + l.sqes_used_bytes());
            prop_assert!(c.fits(0, c.bytes()));
            prop_assert!(!c.fits(0, c.bytes() - 1));
            prop_assert!(!c.fits(0, c.bytes() - PAGE as u64));
        }

        #[test]
        fn base_page_buffers_count_pages_touched(addr in 0usize..(1 << 40), len in 1usize..(1 << 30)) {
            let c = registered_buffers(&[BufferSpan::new(addr, len)], PAGE);
            let first = addr / PAGE;
            let last = (addr + len - 1) / PAGE;
            prop_assert_eq!(c.pages, last - first + 1);
            prop_assert!(c.pages >= len.div_ceil(PAGE));
            prop_assert!(c.pages <= len.div_ceil(PAGE) + 1);
        }

        #[test]
        fn folio_buffers_count_whole_folios(addr in 0usize..(1 << 40), len in 1usize..(1 << 26), shift in 2u32..=9) {
            let folio = PAGE << shift;
            let c = registered_buffers(&[BufferSpan::on_folios(addr, len, folio)], PAGE);
            let n = (addr + len - 1) / folio - addr / folio + 1;
            prop_assert_eq!(c.pages, n * (folio / PAGE));
            // Never less than the base-page count of the same span.
            prop_assert!(c.pages >= registered_buffers(&[BufferSpan::new(addr, len)], PAGE).pages);
        }

        #[test]
        fn buf_ring_pages_hold_the_entries(shift in 0u32..=15) {
            let entries = 1u32 << shift;
            let c = buf_ring(entries, RingMemoryKind::User, PAGE);
            prop_assert_eq!(c.pages, (entries as usize * 16).div_ceil(PAGE));
            prop_assert_eq!(c, buf_ring(entries, RingMemoryKind::Kernel, PAGE));
        }
    }
}
