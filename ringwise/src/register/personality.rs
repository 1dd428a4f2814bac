//! Personalities (`IORING_REGISTER_PERSONALITY`, Linux 5.6): a snapshot of
//! the calling thread's credentials, named by a 16-bit id. An SQE with that
//! id in its `personality` field (every op's `.personality(id)`) runs with
//! those credentials instead of the submitter's, e.g. a server that dropped
//! privileges still opening files as the user it registered earlier.

use super::opcode;
use crate::entry::{CqeSize, SqeSize};
use crate::error::Result;
use crate::Ring;
use rustix::io::Errno;

/// What an errno of unregistering personality `id` means.
fn personality_context(errno: Errno, id: u16) -> Option<String> {
    (errno == Errno::INVAL).then(|| format!("personality {id} is not registered"))
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Register the current thread's credentials; returns the id for SQEs
    /// (opcode 9, Linux 5.6). The kernel keeps its own reference to the
    /// credentials until [`unregister_personality`](Self::unregister_personality)
    /// or the ring is closed.
    ///
    /// ```
    /// use ringwise::op::Nop;
    /// use ringwise::Ring;
    ///
    /// let mut ring = Ring::new(4)?;
    /// let id = ring.register_personality()?;
    /// // This SQE runs with the credentials registered above.
    /// ring.submission().push(Nop::new().personality(id).user_data(5)).unwrap();
    /// ring.submit_and_wait(1)?;
    /// assert_eq!(ring.completion().next().unwrap().res, 0);
    /// ring.unregister_personality(id)?;
    /// // Now the id names nothing: the SQE fails with EINVAL.
    /// ring.submission().push(Nop::new().personality(id)).unwrap();
    /// ring.submit_and_wait(1)?;
    /// assert_eq!(ring.completion().next().unwrap().res, -22);
    /// # Ok::<(), ringwise::Error>(())
    /// ```
    pub fn register_personality(&self) -> Result<u16> {
        // SAFETY: no argument.
        let id = unsafe { self.register(opcode::REGISTER_PERSONALITY, std::ptr::null(), 0, |_| None) }?;
        Ok(id as u16)
    }

    /// Forget personality `id` (opcode 10, Linux 5.6); SQEs naming it then fail with
    /// EINVAL.
    pub fn unregister_personality(&self, id: u16) -> Result<()> {
        let context = |errno| personality_context(errno, id);
        // SAFETY: no pointer; the id travels in nr_args.
        unsafe { self.register(opcode::UNREGISTER_PERSONALITY, std::ptr::null(), id as u32, context) }.map(|_| ())
    }
}
