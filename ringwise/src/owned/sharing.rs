//! How a driver's state is shared by its handles: between threads behind a
//! mutex ([`Threads`], the default), or by one thread in a cell ([`Local`]).
//!
//! Every submit, every drive and every result taken goes through the
//! driver's state. Shared between threads, that is a mutex: an atomic
//! compare-and-swap to lock and an atomic swap to unlock, each a full
//! barrier on x86 (measured: 3-4 % of an async 4 KiB read's wall time at
//! queue depth 32, when the lock was made non-atomic). A program whose
//! ring is used by one thread (a thread-per-core server, a
//! `current_thread` runtime, a `LocalSet`) pays that for nothing: a
//! [`Local`] driver keeps its state in a `RefCell` instead, and its
//! handles are `!Send` so that the compiler, not a runtime check, keeps
//! them on that thread.

use std::cell::{RefCell, RefMut};
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// How a [`Driver`](super::Driver) and its handles share the driver's
/// state: [`Threads`] (the default: `Send` and `Sync` handles, a mutex) or
/// [`Local`] (`!Send` handles, no atomic operation per op). Sealed: these
/// two are the only ones.
pub trait Sharing: sealed::Sealed + Sized + 'static {}

/// Driver state shared between threads behind a mutex: the driver and its
/// handles are `Send` and `Sync` (the default of [`Driver`](super::Driver)).
#[derive(Debug)]
pub enum Threads {}

/// Driver state used by one thread only: the driver and its handles are
/// `!Send` and `!Sync`, they share the state through an `Rc` instead of an
/// `Arc`, and taking it is a non-atomic borrow flag instead of a mutex: no
/// atomic operation per op. Made by [`Driver::local`](super::Driver::local).
///
/// What needs a `Send` handle will not take a local one:
///
/// ```compile_fail,E0277
/// use ringwise::owned::{ops, Driver};
/// fn needs_send<T: Send>(_: T) {}
/// let driver = Driver::local(8).unwrap();
/// let op = driver.submit(ops::Timeout::after(std::time::Duration::from_millis(1))).unwrap();
/// needs_send(op); // error: the op's handle is !Send
/// ```
#[derive(Debug)]
pub enum Local {}

impl Sharing for Threads {}
impl Sharing for Local {}

pub(crate) mod sealed {
    use std::ops::{Deref, DerefMut};

    /// The cell a driver's state lives in, how it is taken, and the
    /// pointer its handles share it through.
    pub trait Sealed {
        /// A shared owner of a `T`: `Arc` or `Rc` (an op handle clones
        /// one at submit and drops it with the output: two atomic updates
        /// per op for an `Arc`, two plain ones for an `Rc`).
        type Ptr<T>: Clone + Deref<Target = T>;
        /// A shared owner of `value`.
        fn ptr<T>(value: T) -> Self::Ptr<T>;
        /// The cell holding a `T`.
        type Cell<T>;
        /// The guard of a taken cell.
        type Guard<'a, T: 'a>: DerefMut<Target = T>;
        /// A cell holding `value`.
        fn cell<T>(value: T) -> Self::Cell<T>;
        /// Take the cell (one holder at a time).
        fn take<T>(cell: &Self::Cell<T>) -> Self::Guard<'_, T>;
    }
}

impl sealed::Sealed for Threads {
    type Ptr<T> = Arc<T>;
    type Cell<T> = Mutex<T>;

    fn ptr<T>(value: T) -> Arc<T> {
        Arc::new(value)
    }

    type Guard<'a, T: 'a> = MutexGuard<'a, T>;

    fn cell<T>(value: T) -> Mutex<T> {
        Mutex::new(value)
    }

    /// A panic elsewhere while holding the lock leaves the state
    /// consistent (every change under it is a few field writes), so a
    /// poisoned lock is used as is.
    #[inline(always)]
    fn take<T>(cell: &Mutex<T>) -> MutexGuard<'_, T> {
        cell.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl sealed::Sealed for Local {
    type Ptr<T> = Rc<T>;
    type Cell<T> = RefCell<T>;

    fn ptr<T>(value: T) -> Rc<T> {
        Rc::new(value)
    }

    type Guard<'a, T: 'a> = RefMut<'a, T>;

    fn cell<T>(value: T) -> RefCell<T> {
        RefCell::new(value)
    }

    /// The library never takes the state while holding it (it releases it
    /// before waking a waker or running an op's `complete`), so the borrow
    /// flag is always free here; an `OwnedOp` implementation whose
    /// `prepare` submitted to its own driver would find it taken, which
    /// with a mutex would deadlock and here panics.
    #[inline(always)]
    fn take<T>(cell: &RefCell<T>) -> RefMut<'_, T> {
        cell.borrow_mut()
    }
}
