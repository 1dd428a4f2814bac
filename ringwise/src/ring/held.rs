//! The memory a ring holds for its registrations.
//!
//! Some registrations hand the kernel a pointer that it keeps after the
//! `io_uring_register` call returns: the pages of fixed buffers (pinned),
//! the entries and buffers of a provided-buffer ring (the kernel reads the
//! entries and writes the buffers through their user addresses), a
//! parameter region (pinned, or kernel pages mapped from the ring fd) and a
//! zero-copy receive area with its refill ring. The kernel uses that memory
//! until the registration is undone, or, for registrations that cannot be
//! undone one by one, until the ring is torn down; and teardown is
//! asynchronous: an io-wq worker may still finish a request after the ring's
//! fd is closed.
//!
//! So the ring owns that memory in [`Registrations`], one typed field per
//! family, and releases it only when safe:
//!
//! * on unregistration ([`Ring::unregister_buffers`](crate::Ring::unregister_buffers),
//!   [`Ring::unregister_buf_ring`](crate::Ring::unregister_buf_ring)), where
//!   the kernel keeps its own pin on pages that an op in flight still uses,
//!   and the buffer ring's buffers are never given back to the process
//!   (see `register/buf_ring.rs`);
//! * otherwise when the ring is dropped: `Registrations` is the last field of
//!   [`Ring`](crate::Ring), and fields drop in declaration order, so it is
//!   released after the ring's fd has been closed (and its registered index
//!   unregistered, by `Drop for Ring`) and after the ring's own memory. None
//!   of the memory types here ever returns its pages to the allocator for
//!   reuse (they are unmapped, or replaced by `PROT_NONE` reservations), so
//!   a late write of the kernel's teardown lands in memory nobody else uses.
//!
//! Memory shared with a handle ([`BufRing`](crate::register::BufRing),
//! [`RegWaitRegion`](crate::register::RegWaitRegion), [`ZcrxIfq`](crate::register::ZcrxIfq)) or
//! with another ring (cloned buffers) is held through an `Arc`: the last
//! owner releases it.

use std::sync::Arc;

/// An owner of memory the kernel was handed. The ring never looks inside:
/// it only keeps the owner alive (and, for cloned fixed buffers, shares it
/// with another ring), so the concrete types stay in `register/` and the
/// core does not depend on them.
pub(crate) type Owner = Arc<dyn Send + Sync>;

/// The memory a ring keeps alive for the kernel, by registration family.
/// See the [module docs](self) for why and for when it is released.
#[derive(Default)]
pub(crate) struct Registrations {
    /// Memory behind fixed buffers: one entry for each owned registration
    /// or update ([`Ring::register_buffers_owned`](crate::Ring::register_buffers_owned),
    /// [`Ring::update_buffers_owned`](crate::Ring::update_buffers_owned)),
    /// plus those shared by a ring this one cloned its table from. Released
    /// all together by `unregister_buffers` (a replaced slot's memory stays
    /// until then: an op in flight may still use it).
    buffers: Vec<Owner>,
    /// Provided-buffer rings by group id: their entries and buffers.
    buf_rings: Vec<(u16, Owner)>,
    /// The parameter (wait-argument) region. A ring has at most one, and it
    /// cannot be unregistered: it is held until the ring is dropped.
    mem_region: Option<Owner>,
    /// Zero-copy receive queues' areas and refill rings; they cannot be
    /// unregistered either.
    zcrx: Vec<Owner>,
}

// The ring is `Send` on the promise that everything it owns may move
// between threads; this holds it to that.
const _: () = {
    const fn send<T: Send>() {}
    send::<Registrations>()
};

impl Registrations {
    /// Keep fixed buffers' memory until [`release_buffers`](Self::release_buffers).
    pub(crate) fn hold_buffers(&mut self, owned: Owner) {
        self.buffers.push(owned);
    }

    /// Keep, in this ring too, every fixed-buffer memory `other` holds (after
    /// this ring cloned `other`'s table).
    pub(crate) fn share_buffers(&mut self, other: &Registrations) {
        self.buffers.extend(other.buffers.iter().map(Arc::clone));
    }

    /// Let go of the fixed buffers' memory (after the table was
    /// unregistered).
    pub(crate) fn release_buffers(&mut self) {
        self.buffers.clear();
    }

    /// Keep buffer group `bgid`'s ring memory until [`release_buf_ring`](Self::release_buf_ring).
    pub(crate) fn hold_buf_ring(&mut self, bgid: u16, memory: Owner) {
        self.buf_rings.push((bgid, memory));
    }

    /// Let go of buffer group `bgid`'s ring memory (after it was
    /// unregistered).
    pub(crate) fn release_buf_ring(&mut self, bgid: u16) {
        self.buf_rings.retain(|(group, _)| *group != bgid);
    }

    /// Keep the parameter region for the rest of the ring's life.
    pub(crate) fn hold_mem_region(&mut self, memory: Owner) {
        // The kernel accepts one region per ring (a second gets EBUSY before
        // this is reached). Should one be held already, the kernel may still
        // use it: leak it rather than release it.
        if let Some(old) = self.mem_region.replace(memory) {
            std::mem::forget(old);
        }
    }

    /// Keep a zero-copy receive queue's memory for the rest of the ring's life.
    pub(crate) fn hold_zcrx(&mut self, memory: Owner) {
        self.zcrx.push(memory);
    }

    /// How many fixed-buffer registrations, buffer rings, parameter regions
    /// and zero-copy receive queues are held (for tests).
    /// The owner of fixed-buffer set `i`. For tests.
    #[cfg(test)]
    pub(crate) fn buffer_owner(&self, i: usize) -> &Owner {
        &self.buffers[i]
    }

    /// The group ids of the buffer rings held, in registration order. For
    /// tests.
    #[cfg(test)]
    pub(crate) fn buf_ring_groups(&self) -> Vec<u16> {
        self.buf_rings.iter().map(|(g, _)| *g).collect()
    }

    /// How many owners each family holds: (fixed-buffer sets, buffer rings,
    /// memory regions, zero-copy receive queues). For tests.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (usize, usize, usize, usize) {
        (self.buffers.len(), self.buf_rings.len(), self.mem_region.iter().count(), self.zcrx.len())
    }
}
