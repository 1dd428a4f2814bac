//! The op table: one slot per op in flight, keyed by `user_data`.
//!
//! A slot's key is its index in the table (the low 32 bits of the SQE's
//! `user_data`) and a generation (the high 32 bits) that changes every time
//! the slot is reused, so a CQE can only ever reach the op it was submitted
//! for. The table is a `Vec` with a free list: after it has grown to the
//! most ops ever in flight at once, taking and freeing a slot allocates
//! nothing.

use super::Orphan;
use std::collections::VecDeque;
use std::task::Waker;

/// `user_data` of SQEs whose CQEs nobody waits for (cancel requests, linked
/// timeouts). No slot has it: a slot index is below `u32::MAX`.
pub const IGNORED_USER_DATA: u64 = u64::MAX;

/// A slot's key: its index and generation, as packed into `user_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl Key {
    #[inline(always)]
    pub(crate) fn user_data(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    #[inline(always)]
    pub(crate) fn from_user_data(user_data: u64) -> Key {
        Key { index: user_data as u32, generation: (user_data >> 32) as u32 }
    }
}

/// What a slot holds. (An explicit tag byte: telling the variants apart
/// is one load and compare, where a niche in a field would take several.)
#[repr(u8)]
pub(crate) enum Entry {
    /// Free; the next free slot's index (`u32::MAX`: none).
    Vacant(u32),
    /// A one-shot op in flight whose handle is alive. `first` is the result
    /// of a CQE that said more were coming (a zero-copy send's result,
    /// whose buffer comes back with the notification). `set` is the id of
    /// the [`OpSet`](super::OpSet) holding the op (0: an `Op` handle): its
    /// completion is logged for that set, with `local`, the op's index in
    /// the set.
    Waiting { waker: Option<Waker>, first: Option<(i32, u32)>, set: u32, local: u32 },
    /// A one-shot op's final result, waiting for its handle.
    Ready { res: i32, flags: u32 },
    /// A multishot op whose handle is alive: its CQEs in arrival order, and
    /// whether the final one (without `F_MORE`) has arrived.
    Streaming { queue: VecDeque<(i32, u32)>, waker: Option<Waker>, finished: bool },
    /// A mailbox for `MSG_RING` messages from other rings: CQEs the kernel
    /// posts with this key and no SQE of ours; it never finishes and is not
    /// in flight.
    Mailbox { queue: VecDeque<(i32, u32)>, waker: Option<Waker> },
    /// An op whose handle was dropped while the kernel still had it: what it
    /// handed the kernel, kept until its final CQE.
    Orphaned(Box<dyn Orphan>),
}

pub(crate) struct Slot {
    pub(crate) generation: u32,
    pub(crate) entry: Entry,
}

/// The table.
pub(crate) struct Slab {
    slots: Vec<Slot>,
    free: u32,
    /// Slots whose final CQE has not arrived (`Waiting`, `Streaming` not
    /// finished, `Orphaned`).
    pub(crate) in_flight: usize,
    /// Mailbox slots (not in flight, but a wait may be for them).
    pub(crate) mailboxes: usize,
}

const NONE: u32 = u32::MAX;

impl Slab {
    pub(crate) fn new() -> Slab {
        Slab { slots: Vec::new(), free: NONE, in_flight: 0, mailboxes: 0 }
    }

    /// Take a free slot for `entry` (growing the table when none is free).
    #[inline]
    pub(crate) fn insert(&mut self, entry: Entry) -> Key {
        if matches!(entry, Entry::Mailbox { .. }) {
            self.mailboxes += 1;
        } else {
            self.in_flight += 1;
        }
        if self.free != NONE {
            let index = self.free;
            let slot = &mut self.slots[index as usize];
            if let Entry::Vacant(next) = slot.entry {
                self.free = next;
            }
            // `Vacant` owns nothing: skip its drop glue.
            std::mem::forget(std::mem::replace(&mut slot.entry, entry));
            return Key { index, generation: slot.generation };
        }
        self.grow(entry)
    }

    /// [`insert`](Self::insert) of an op just pushed (`Waiting`, no waker,
    /// no first result; `set` 0 for an `Op` handle's), the hot path of
    /// every submit: the entry is built in the free slot, not moved there.
    #[inline(always)]
    pub(crate) fn insert_waiting(&mut self, set: u32, local: u32) -> Key {
        self.in_flight += 1;
        if self.free != NONE {
            let index = self.free;
            let slot = &mut self.slots[index as usize];
            if let Entry::Vacant(next) = slot.entry {
                self.free = next;
            }
            // SAFETY: `slot.entry` is a valid, aligned place (from a `&mut`);
            // overwriting it without a drop leaks nothing, since a free slot
            // holds `Vacant`, which owns nothing.
            unsafe { std::ptr::write(&mut slot.entry, Entry::Waiting { waker: None, first: None, set, local }) };
            return Key { index, generation: slot.generation };
        }
        self.grow(Entry::Waiting { waker: None, first: None, set, local })
    }

    #[cold]
    fn grow(&mut self, entry: Entry) -> Key {
        // Index u32::MAX would make `IGNORED_USER_DATA` a key; a table of
        // four billion ops in flight is beyond any ring anyway.
        let index = self.slots.len() as u32;
        debug_assert!(index < NONE);
        self.slots.push(Slot { generation: 0, entry });
        Key { index, generation: 0 }
    }

    /// The slot of `key`, if it is still that op's.
    #[inline(always)]
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut Entry> {
        match self.slots.get_mut(key.index as usize) {
            Some(slot) if slot.generation == key.generation && !matches!(slot.entry, Entry::Vacant(_)) => {
                Some(&mut slot.entry)
            }
            _ => None,
        }
    }

    /// The slot of `key` and the in-flight count, borrowed together.
    #[inline(always)]
    pub(crate) fn get_with_count(&mut self, key: Key) -> Option<(&mut Entry, &mut usize)> {
        match self.slots.get_mut(key.index as usize) {
            Some(slot) if slot.generation == key.generation && !matches!(slot.entry, Entry::Vacant(_)) => {
                Some((&mut slot.entry, &mut self.in_flight))
            }
            _ => None,
        }
    }

    /// Free `key`'s slot (the caller has taken what it needs from it). The
    /// generation moves on, so late CQEs for the old key find nothing.
    #[inline]
    pub(crate) fn remove(&mut self, key: Key) -> Option<Entry> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation || matches!(slot.entry, Entry::Vacant(_)) {
            return None;
        }
        slot.generation = slot.generation.wrapping_add(1);
        let old = std::mem::replace(&mut slot.entry, Entry::Vacant(self.free));
        self.free = key.index;
        if matches!(old, Entry::Mailbox { .. }) {
            self.mailboxes -= 1;
        }
        Some(old)
    }

    /// If `key`'s op is done, free its slot and return its result; the slot
    /// holds nothing to drop then, so this costs no drop glue (the hot path
    /// of every completed op).
    #[inline(always)]
    pub(crate) fn take_ready(&mut self, key: Key) -> Option<(i32, u32)> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        let Entry::Ready { res, flags } = slot.entry else { return None };
        slot.generation = slot.generation.wrapping_add(1);
        // `Ready` owns nothing: overwriting it leaks nothing.
        std::mem::forget(std::mem::replace(&mut slot.entry, Entry::Vacant(self.free)));
        self.free = key.index;
        Some((res, flags))
    }

    /// Free `key`'s slot, whose entry owns nothing any more (a completed
    /// op of a set: waker and first result taken), without drop glue.
    #[inline(always)]
    pub(crate) fn release(&mut self, key: Key) {
        if let Some(slot) = self.slots.get_mut(key.index as usize) {
            if slot.generation == key.generation {
                slot.generation = slot.generation.wrapping_add(1);
                std::mem::forget(std::mem::replace(&mut slot.entry, Entry::Vacant(self.free)));
                self.free = key.index;
            }
        }
    }

    /// The final CQE of a set's op, the hot path of a set: if `key` is a
    /// set's op waiting with nothing else in its slot (no waker, no first
    /// result), free its slot and return the set and the op's index in it.
    /// Anything else (the slow path) is left as it is.
    #[inline(always)]
    pub(crate) fn finish_set_op(&mut self, key: Key) -> Option<(u32, u32)> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        let Entry::Waiting { waker: None, first: None, set, local } = slot.entry else { return None };
        if set == 0 {
            return None;
        }
        slot.generation = slot.generation.wrapping_add(1);
        // A `Waiting` without waker or first result owns nothing: skip its
        // drop glue.
        std::mem::forget(std::mem::replace(&mut slot.entry, Entry::Vacant(self.free)));
        self.free = key.index;
        self.in_flight -= 1;
        Some((set, local))
    }

    /// Every orphan still in the table: what is left when the kernel did not
    /// finish in the time teardown allows (they are leaked, never freed).
    pub(crate) fn take_orphans(&mut self) -> Vec<Box<dyn Orphan>> {
        let mut out = Vec::new();
        for slot in &mut self.slots {
            if matches!(slot.entry, Entry::Orphaned(_)) {
                if let Entry::Orphaned(o) = std::mem::replace(&mut slot.entry, Entry::Ready { res: 0, flags: 0 }) {
                    out.push(o);
                }
            }
        }
        out
    }

    /// Slots in the table (free or not): its high-water mark.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_never_equal_ignored() {
        let k = Key { index: 7, generation: 3 };
        assert_eq!(Key::from_user_data(k.user_data()), k);
        assert_ne!(Key { index: u32::MAX - 1, generation: u32::MAX }.user_data(), IGNORED_USER_DATA);
    }

    #[test]
    fn reuse_moves_the_generation_and_stale_keys_miss() {
        let mut slab = Slab::new();
        let a = slab.insert(Entry::Ready { res: 1, flags: 0 });
        assert!(slab.remove(a).is_some());
        let b = slab.insert(Entry::Ready { res: 2, flags: 0 });
        assert_eq!(a.index, b.index, "the free slot is reused");
        assert_ne!(a.generation, b.generation);
        assert!(slab.get_mut(a).is_none(), "a stale key reaches nothing");
        assert!(slab.remove(a).is_none());
        assert!(matches!(slab.get_mut(b), Some(Entry::Ready { res: 2, .. })));
        assert_eq!(slab.capacity(), 1, "no growth while a slot is free");
    }
}
