//! The op table: one slot per op in flight, keyed by `user_data`.
//!
//! A slot's key is its index in the table (the low 32 bits of the SQE's
//! `user_data`) and a generation (the high 32 bits) that changes every time
//! the slot is reused, so a CQE can only ever reach the op it was submitted
//! for. The table is a `Vec` with a free list: after it has grown to the
//! most ops ever in flight at once, taking and freeing a slot allocates
//! nothing.
//!
//! `user_data` has two forms, told apart by its top bit:
//! * 0: a slot's key (index, and a 31-bit generation), for ops with an
//!   [`Op`](super::Op) or [`Stream`](super::Stream) handle and mailboxes;
//! * 1: an op of an [`OpSet`](super::OpSet): the set's slot index (31 bits)
//!   and the op's index in the set (32 bits). The set keeps its ops itself;
//!   the table holds one slot per set (`Entry::Set`), so a set's op costs
//!   no slot of its own, and its CQE is logged for the set without a
//!   lookup. A set's index is unique while the set, or anything of it the
//!   kernel still has (`Entry::DeadSet`), lives.

use super::Orphan;
use std::collections::VecDeque;
use std::task::Waker;

/// `user_data` of SQEs whose CQEs nobody waits for (cancel requests, linked
/// timeouts). No op has it: it would be the op `u32::MAX` of the set at
/// index `2^31 - 1`, and neither a set nor the table gets that large.
pub const IGNORED_USER_DATA: u64 = u64::MAX;

/// The top bit of `user_data`: set for an op of an [`OpSet`](super::OpSet).
pub(crate) const SET_BIT: u64 = 1 << 63;

/// Generations are 31 bits, so a slot's key never has [`SET_BIT`].
const GENERATION_MASK: u32 = u32::MAX >> 1;

/// Slot indices stay below this (the 31 bits a set's index has in
/// `user_data`, and never the index of [`IGNORED_USER_DATA`]).
const MAX_SLOTS: u32 = u32::MAX >> 1;

/// The `user_data` of op `local` of the set whose slot index is `set`.
#[inline(always)]
pub(crate) fn set_user_data(set: u32, local: u32) -> u64 {
    SET_BIT | (u64::from(set) << 32) | u64::from(local)
}

/// The set index and op index of a set op's `user_data` (one with
/// [`SET_BIT`]).
#[inline(always)]
pub(crate) fn set_of(user_data: u64) -> (u32, u32) {
    (((user_data >> 32) as u32) & MAX_SLOTS, user_data as u32)
}

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
    /// whose buffer comes back with the notification).
    Waiting { waker: Option<Waker>, first: Option<(i32, u32)> },
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
    /// A live [`OpSet`](super::OpSet): its ops' CQEs are logged for it (the
    /// slot's index is the set's id). Not in flight itself.
    Set,
    /// A dropped set whose ops the kernel still had: each such op by its
    /// index in the set, kept until its final CQE; `left` of them remain.
    /// The slot is freed when none is left.
    DeadSet { ops: Vec<Option<Box<dyn Orphan>>>, left: usize },
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
    /// `Set` slots: while there is one, every set op's CQE in the log is
    /// its set's.
    pub(crate) sets: usize,
    /// `DeadSet` slots: while there are none, a set op's CQE goes to the
    /// log without looking at its set's slot.
    pub(crate) dead_sets: usize,
    /// The set ops among `in_flight` (of live and dead sets): while they
    /// are all of it, no table op can have a CQE coming.
    pub(crate) set_in_flight: usize,
}

const NONE: u32 = u32::MAX;

impl Slab {
    pub(crate) fn new() -> Slab {
        Slab { slots: Vec::new(), free: NONE, in_flight: 0, mailboxes: 0, sets: 0, dead_sets: 0, set_in_flight: 0 }
    }

    /// `n` ops of a set went to the SQ: in flight until their final CQEs.
    #[inline(always)]
    pub(crate) fn set_ops_pushed(&mut self, n: usize) {
        self.in_flight += n;
        self.set_in_flight += n;
    }

    /// `n` set ops' final CQEs were taken off the CQ.
    #[inline(always)]
    pub(crate) fn set_ops_done(&mut self, n: usize) {
        self.in_flight = self.in_flight.saturating_sub(n);
        self.set_in_flight = self.set_in_flight.saturating_sub(n);
    }

    /// Take a free slot for `entry` (growing the table when none is free).
    #[inline]
    pub(crate) fn insert(&mut self, entry: Entry) -> Key {
        match entry {
            Entry::Mailbox { .. } => self.mailboxes += 1,
            Entry::Set => self.sets += 1,
            _ => self.in_flight += 1,
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
    /// no first result), the hot path of every submit: the entry is built
    /// in the free slot, not moved there.
    #[inline(always)]
    pub(crate) fn insert_waiting(&mut self) -> Key {
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
            unsafe { std::ptr::write(&mut slot.entry, Entry::Waiting { waker: None, first: None }) };
            return Key { index, generation: slot.generation };
        }
        self.grow(Entry::Waiting { waker: None, first: None })
    }

    #[cold]
    fn grow(&mut self, entry: Entry) -> Key {
        // A slot index has 31 bits in a set op's `user_data`, and the last
        // would make `IGNORED_USER_DATA` a set's; a table of two billion
        // slots (some 80 GiB) is beyond any machine anyway.
        let index = self.slots.len() as u32;
        debug_assert!(index < MAX_SLOTS);
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
        if self.slots.get(key.index as usize)?.generation != key.generation {
            return None;
        }
        self.remove_at(key.index)
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
        slot.generation = slot.generation.wrapping_add(1) & GENERATION_MASK;
        // `Ready` owns nothing: overwriting it leaks nothing.
        std::mem::forget(std::mem::replace(&mut slot.entry, Entry::Vacant(self.free)));
        self.free = key.index;
        Some((res, flags))
    }

    /// The entry at `index`, whatever its generation: a set's slot, found
    /// by the set index a set op's `user_data` carries.
    #[inline]
    pub(crate) fn at_index(&mut self, index: u32) -> Option<&mut Entry> {
        self.slots.get_mut(index as usize).map(|slot| &mut slot.entry)
    }

    /// Free the slot at `index` whatever its generation (a set's slot,
    /// found by the set index a set op's `user_data` carries), returning
    /// what it held; the counters follow.
    pub(crate) fn remove_at(&mut self, index: u32) -> Option<Entry> {
        let slot = self.slots.get_mut(index as usize)?;
        if matches!(slot.entry, Entry::Vacant(_)) {
            return None;
        }
        slot.generation = slot.generation.wrapping_add(1) & GENERATION_MASK;
        let old = std::mem::replace(&mut slot.entry, Entry::Vacant(self.free));
        self.free = index;
        match old {
            Entry::Mailbox { .. } => self.mailboxes -= 1,
            Entry::Set => self.sets -= 1,
            Entry::DeadSet { .. } => self.dead_sets -= 1,
            _ => {}
        }
        Some(old)
    }

    /// The set at `index` was dropped while the kernel still had `left` of
    /// its ops (`ops`, by their index in the set): keep them until their
    /// final CQEs.
    pub(crate) fn end_set(&mut self, index: u32, ops: Vec<Option<Box<dyn Orphan>>>, left: usize) {
        if let Some(entry @ Entry::Set) = self.at_index(index) {
            *entry = Entry::DeadSet { ops, left };
            self.sets -= 1;
            self.dead_sets += 1;
        }
    }

    /// Every orphan still in the table: what is left when the kernel did not
    /// finish in the time teardown allows (they are leaked, never freed).
    pub(crate) fn take_orphans(&mut self) -> Vec<Box<dyn Orphan>> {
        let mut out = Vec::new();
        for slot in &mut self.slots {
            match &mut slot.entry {
                Entry::Orphaned(_) => {
                    if let Entry::Orphaned(o) = std::mem::replace(&mut slot.entry, Entry::Ready { res: 0, flags: 0 }) {
                        out.push(o);
                    }
                }
                Entry::DeadSet { ops, left } => {
                    out.extend(ops.drain(..).flatten());
                    *left = 0;
                }
                _ => {}
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
