//! Eventfd notification (`IORING_REGISTER_EVENTFD`, Linux 5.2): the kernel
//! signals an eventfd when it posts CQEs, so a ring can be waited on by an
//! event loop (epoll, another runtime) that only knows file descriptors.
//!
//! The kernel takes its own reference to the eventfd, so the descriptor may
//! be closed afterwards. With `async_only` (`IORING_REGISTER_EVENTFD_ASYNC`,
//! Linux 5.6) only completions of requests that went to an io-wq worker
//! signal. [`CompletionQueue::set_eventfd_enabled`](crate::CompletionQueue::set_eventfd_enabled)
//! pauses notification without unregistering.

use super::opcode;
use crate::entry::{CqeSize, SqeSize};
use crate::error::{Error, Result};
use crate::Ring;
use rustix::io::Errno;
use std::os::fd::{AsRawFd, BorrowedFd};

fn eventfd_context(errno: Errno) -> Option<String> {
    Some(match errno {
        Errno::BUSY => "an eventfd is already registered on this ring; unregister it first".into(),
        Errno::NXIO => "no eventfd is registered on this ring".into(),
        Errno::BADF => "the descriptor is not open".into(),
        // eventfd_ctx_fdget answers EINVAL for a file that is not an eventfd.
        Errno::INVAL => "the descriptor is not an eventfd (the kernel signals only eventfds; make one with \
                         eventfd(2))"
            .into(),
        _ => return None,
    })
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Signal `eventfd` when CQEs are posted (opcode 4, Linux 5.2), or with
    /// `async_only` only for completions from io-wq workers (opcode 7,
    /// Linux 5.6). The kernel holds its own reference to the eventfd.
    ///
    /// ```
    /// use ringwise::op::Nop;
    /// use ringwise::Ring;
    /// use rustix::event::{eventfd, EventfdFlags};
    /// use std::os::fd::AsFd;
    ///
    /// let mut ring = Ring::new(4)?;
    /// let efd = eventfd(0, EventfdFlags::empty())?;
    /// ring.register_eventfd(efd.as_fd(), false)?;
    /// ring.submission().push(Nop::new()).unwrap();
    /// ring.submit_and_wait(1)?;
    /// let mut count = [0u8; 8];
    /// rustix::io::read(&efd, &mut count)?;
    /// assert_eq!(u64::from_ne_bytes(count), 1, "one CQE, one signal");
    /// ring.unregister_eventfd()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_eventfd(&self, eventfd: BorrowedFd<'_>, async_only: bool) -> Result<()> {
        let fd: i32 = eventfd.as_raw_fd();
        if let Some(what) = not_an_eventfd(fd) {
            return Err(Error::InvalidArgument {
                what: format!("registering fd {fd} as the ring's eventfd"),
                why: format!(
                    "fd {fd} is not an eventfd (it is {what}); the kernel signals only eventfds (it would \
                     answer EINVAL): make one with eventfd(2)"
                ),
            });
        }
        let op = if async_only { opcode::REGISTER_EVENTFD_ASYNC } else { opcode::REGISTER_EVENTFD };
        // SAFETY: the kernel reads one i32 during the call.
        unsafe { self.register(op, (&fd as *const i32).cast(), 1, eventfd_context) }.map(|_| ())
    }

    /// Stop signalling the eventfd (`IORING_UNREGISTER_EVENTFD`, opcode 5, Linux
    /// 5.2).
    pub fn unregister_eventfd(&self) -> Result<()> {
        // SAFETY: no argument.
        unsafe { self.register(opcode::UNREGISTER_EVENTFD, std::ptr::null(), 0, eventfd_context) }.map(|_| ())
    }
}

/// What `fd` is, when `/proc/self/fd` shows it is not an eventfd; `None`
/// when it is one or `/proc` cannot tell (the kernel's answer decides then).
fn not_an_eventfd(fd: i32) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    let link = link.to_string_lossy();
    (link != "anon_inode:[eventfd]").then(|| format!("`{link}`"))
}
