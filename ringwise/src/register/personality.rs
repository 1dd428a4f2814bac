//! Personalities (`IORING_REGISTER_PERSONALITY`, Linux 5.6): a snapshot of
//! the calling thread's credentials, named by a 16-bit id. An SQE with that
//! id in its `personality` field (every op's `.personality(id)`) runs with
//! those credentials instead of the submitter's, e.g. a server that dropped
//! privileges still opening files as the user it registered earlier.

use super::{explain, opcode};
use crate::entry::{CqeSize, SqeSize};
use crate::error::Result;
use crate::Ring;
use rustix::io::Errno;

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    /// Register the current thread's credentials; returns the id for SQEs
    /// (opcode 9).
    pub fn register_personality(&self) -> Result<u16> {
        // SAFETY: no argument.
        let id = unsafe { self.register_raw(opcode::REGISTER_PERSONALITY, std::ptr::null(), 0) }?;
        Ok(id as u16)
    }

    /// Forget personality `id` (opcode 10); SQEs naming it then fail with
    /// EINVAL.
    pub fn unregister_personality(&self, id: u16) -> Result<()> {
        // SAFETY: no pointer; the id travels in nr_args.
        unsafe { self.register_raw(opcode::UNREGISTER_PERSONALITY, std::ptr::null(), id as u32) }.map(|_| ()).map_err(
            |e| explain(e, |errno| (errno == Errno::INVAL).then(|| format!("personality {id} is not registered"))),
        )
    }
}
