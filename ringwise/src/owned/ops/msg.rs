//! Messages between rings: `MSG_RING` data (Linux 5.18) to a
//! [`Mailbox`](crate::owned::Mailbox).

use super::count;
use crate::entry::{PrepareSqe, Sqe};
use crate::error::{Error, Result};
use crate::op;
use crate::owned::{MailboxAddr, OwnedOp};
use crate::Errno;

/// `IORING_OP_MSG_RING` with `IORING_MSG_DATA` (Linux 5.18): post `value`
/// to a [`Mailbox`](crate::owned::Mailbox) of another (or the same) ring,
/// submitted on the sender's driver. The output is `Ok(())` once the
/// kernel posted the message (`EOVERFLOW`: the target's CQ had no room).
///
/// The op holds the address until its CQE, which keeps the target ring
/// open and its mailbox slot reserved (the [`mailbox`](crate::owned::Mailbox)
/// docs say why a message cannot reach anything but a mailbox). A message
/// to a mailbox already dropped is refused by `submit`; one whose mailbox
/// is dropped while it travels is discarded.
#[derive(Debug)]
pub struct MsgRing {
    to: MailboxAddr,
    value: i32,
}

impl MsgRing {
    /// Send `value` to the mailbox at `to`.
    pub fn new(to: &MailboxAddr, value: i32) -> MsgRing {
        MsgRing { to: to.clone(), value }
    }
}

// SAFETY: the SQE carries no pointer; the ring fd it names is kept open by
// the address `self.to` holds until the CQE, and its `user_data` is a
// mailbox slot's, which the address keeps from being reused.
unsafe impl OwnedOp for MsgRing {
    type Output = std::result::Result<(), Errno>;

    fn validate(&self) -> Result<()> {
        if !self.to.is_open() {
            return Err(Error::InvalidArgument {
                what: "a message to a dropped mailbox".into(),
                why: "nobody receives it".into(),
            });
        }
        Ok(())
    }

    #[inline]
    fn prepare(&mut self, sqes: &mut [Sqe]) {
        op::MsgRingData::new(self.to.target(), self.value, self.to.user_data()).prepare(&mut sqes[0]);
    }

    #[inline]
    fn complete(self, res: i32, _flags: u32) -> Self::Output {
        count(res).map(drop)
    }
}
