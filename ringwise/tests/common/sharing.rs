//! Making a driver of either sharing by its type, for the owned-I/O tests
//! that run one body on both (`Driver<Threads>` and `Driver<Local>`).
//! Included with `#[path]` by the test files that use it.

use ringwise::owned::{Driver, Local, Sharing, Threads};
use ringwise::Builder;

/// A driver of sharing `Self`.
pub trait MakeDriver: Sharing {
    /// A driver on a ring set up by `builder`.
    fn with_builder(builder: Builder) -> ringwise::Result<Driver<Self>>;

    /// A driver on a default ring of `entries` SQEs.
    #[allow(dead_code)] // not every including test file uses it
    fn driver(entries: u32) -> Driver<Self> {
        Self::with_builder(Builder::new(entries)).expect("a ring")
    }

    /// `Threads` or `Local`: for names of files the runs on the two
    /// drivers make at the same time.
    #[allow(dead_code)]
    fn driver_name() -> &'static str {
        std::any::type_name::<Self>().rsplit("::").next().unwrap_or("driver")
    }
}

impl MakeDriver for Threads {
    fn with_builder(builder: Builder) -> ringwise::Result<Driver<Threads>> {
        Driver::with_builder(builder)
    }
}

impl MakeDriver for Local {
    fn with_builder(builder: Builder) -> ringwise::Result<Driver<Local>> {
        Driver::local_with_builder(builder)
    }
}
