//! NAPI busy polling (`IORING_REGISTER_NAPI`, Linux 6.9): while waiting for
//! completions, poll the network devices the ring's sockets receive from
//! instead of sleeping until an interrupt, trading CPU for latency.
//!
//! Tracking says which device queues to poll: `Dynamic` learns them from
//! the sockets the ring uses; `Static` polls only ids added with
//! [`Ring::napi_add_id`] (Linux 6.13). Settings can be made without a
//! network card; they only take effect for sockets on NAPI devices.

use super::opcode;
use crate::entry::{CqeSize, SqeSize};
use crate::error::Result;
use crate::Ring;
use linux_raw_sys::io_uring::io_uring_napi;
use linux_raw_sys::io_uring::io_uring_napi_op as napi_op;
use linux_raw_sys::io_uring::io_uring_napi_tracking_strategy as track;
use rustix::io::Errno;

/// How the ring finds the device queues to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NapiTracking {
    /// From the sockets the ring's requests use.
    #[default]
    Dynamic,
    /// Only the ids added by hand (Linux 6.13).
    Static,
    /// Busy polling is off (reported after unregistering; not settable).
    Inactive,
}

impl NapiTracking {
    fn from_raw(raw: u32) -> NapiTracking {
        match raw {
            x if x == track::IO_URING_NAPI_TRACKING_DYNAMIC as u32 => NapiTracking::Dynamic,
            x if x == track::IO_URING_NAPI_TRACKING_STATIC as u32 => NapiTracking::Static,
            _ => NapiTracking::Inactive,
        }
    }
    fn raw(self) -> u32 {
        (match self {
            NapiTracking::Dynamic => track::IO_URING_NAPI_TRACKING_DYNAMIC,
            NapiTracking::Static => track::IO_URING_NAPI_TRACKING_STATIC,
            NapiTracking::Inactive => track::IO_URING_NAPI_TRACKING_INACTIVE,
        }) as u32
    }
}

/// Busy-poll settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NapiSettings {
    /// How long to busy-poll, in microseconds.
    pub busy_poll_timeout_us: u32,
    /// Ask the device to prefer busy polling over interrupts.
    pub prefer_busy_poll: bool,
    /// Which queues to poll.
    pub tracking: NapiTracking,
}

fn napi_context(errno: Errno) -> Option<String> {
    Some(match errno {
        Errno::INVAL => "the kernel refused the NAPI settings: tracking must be Dynamic or Static, and ids can \
                         only be added or removed with Static tracking"
            .into(),
        Errno::NOENT => "that NAPI id is not tracked by this ring".into(),
        Errno::EXIST => "that NAPI id is already tracked".into(),
        _ => return None,
    })
}

impl<S: SqeSize, C: CqeSize> Ring<S, C> {
    fn napi_call(&self, opcode: u32, napi: &mut io_uring_napi) -> Result<NapiSettings> {
        // SAFETY: `napi` is valid for the call; the kernel writes the
        // previous settings into it.
        unsafe { self.register(opcode, (napi as *mut io_uring_napi).cast(), 1, napi_context) }?;
        Ok(NapiSettings {
            busy_poll_timeout_us: napi.busy_poll_to,
            prefer_busy_poll: napi.prefer_busy_poll != 0,
            tracking: NapiTracking::from_raw(napi.op_param),
        })
    }

    /// Turn busy polling on with `settings`; returns the settings before
    /// (opcode 27, Linux 6.9). Works without a network card: it only takes
    /// effect for sockets on NAPI devices.
    ///
    /// ```
    /// use ringwise::register::{NapiSettings, NapiTracking};
    /// use ringwise::Ring;
    ///
    /// let ring = Ring::new(4)?;
    /// let settings = NapiSettings { busy_poll_timeout_us: 50, prefer_busy_poll: true, ..NapiSettings::default() };
    /// match ring.register_napi(settings) {
    ///     Ok(_before) => {
    ///         let now = ring.unregister_napi()?;
    ///         assert_eq!((now.busy_poll_timeout_us, now.prefer_busy_poll), (50, true));
    ///         assert_eq!(settings.tracking, NapiTracking::Dynamic);
    ///     }
    ///     Err(e) => assert_eq!(e.errno_name(), "EINVAL", "a kernel before 6.9: {e}"),
    /// }
    /// # Ok::<(), ringwise::Error>(())
    /// ```
    pub fn register_napi(&self, settings: NapiSettings) -> Result<NapiSettings> {
        let mut napi = io_uring_napi {
            busy_poll_to: settings.busy_poll_timeout_us,
            prefer_busy_poll: settings.prefer_busy_poll as u8,
            opcode: napi_op::IO_URING_NAPI_REGISTER_OP as u8,
            pad: [0; 2],
            op_param: settings.tracking.raw(),
            resv: 0,
        };
        self.napi_call(opcode::REGISTER_NAPI, &mut napi)
    }

    fn napi_id(&self, op: napi_op, id: u32) -> Result<()> {
        let mut napi = io_uring_napi {
            busy_poll_to: 0,
            prefer_busy_poll: 0,
            opcode: op as u8,
            pad: [0; 2],
            op_param: id,
            resv: 0,
        };
        self.napi_call(opcode::REGISTER_NAPI, &mut napi).map(|_| ())
    }

    /// Poll NAPI id `id` (a socket's `SO_INCOMING_NAPI_ID`) with `Static`
    /// tracking (Linux 6.13).
    pub fn napi_add_id(&self, id: u32) -> Result<()> {
        self.napi_id(napi_op::IO_URING_NAPI_STATIC_ADD_ID, id)
    }

    /// Stop polling NAPI id `id` (Linux 6.13).
    pub fn napi_del_id(&self, id: u32) -> Result<()> {
        self.napi_id(napi_op::IO_URING_NAPI_STATIC_DEL_ID, id)
    }

    /// Turn busy polling off; returns the timeout and preference before
    /// (opcode 28, Linux 6.9). The kernel does not report the tracking mode here (it
    /// reads as `Dynamic`); `/proc/self/fdinfo` of the ring shows it.
    pub fn unregister_napi(&self) -> Result<NapiSettings> {
        // SAFETY: plain old data; zero is valid.
        let mut napi: io_uring_napi = unsafe { std::mem::zeroed() };
        self.napi_call(opcode::UNREGISTER_NAPI, &mut napi)
    }
}
