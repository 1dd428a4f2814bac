//! What the kernel supports, asked directly (`IORING_REGISTER_QUERY`,
//! Linux 6.18; works without a ring): the number of SQE and register
//! opcodes, and the feature, setup, enter and SQE flag bits it knows.

use super::{opcode, register_ringless};
use crate::error::{Error, Result};
use rustix::io::Errno;

/// `struct io_uring_query_hdr`.
#[repr(C)]
#[derive(Debug, Default)]
struct QueryHdr {
    next_entry: u64,
    query_data: u64,
    query_op: u32,
    size: u32,
    result: i32,
    resv: [u32; 3],
}

/// How errors name the call.
const CALL: &str = "io_uring_register(QUERY)";

/// `IO_URING_QUERY_OPCODES`.
const QUERY_OPCODES: u32 = 0;

/// The answer to `IO_URING_QUERY_OPCODES` (`struct io_uring_query_opcode`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryOpcodes {
    /// SQE opcodes known (`IORING_OP_LAST`).
    pub nr_request_opcodes: u32,
    /// Register opcodes known (`IORING_REGISTER_LAST`).
    pub nr_register_opcodes: u32,
    /// `IORING_FEAT_*` bits.
    pub feature_flags: u64,
    /// `IORING_SETUP_*` bits.
    pub ring_setup_flags: u64,
    /// `IORING_ENTER_*` bits.
    pub enter_flags: u64,
    /// `IOSQE_*` bits.
    pub sqe_flags: u64,
    /// Query opcodes known (newer kernels; 0 where not reported).
    pub nr_query_opcodes: u32,
    pad: u32,
}

/// Ask the kernel for its opcode counts and flag sets
/// (`IORING_REGISTER_QUERY` with `IO_URING_QUERY_OPCODES`, Linux 6.18; no
/// ring needed). Older kernels answer EINVAL.
///
/// ```
/// use ringwise::register::query_opcodes;
///
/// match query_opcodes() {
///     Ok(q) => {
///         assert!(q.nr_request_opcodes > 0 && q.nr_register_opcodes > 0);
///         println!("{} SQE opcodes, setup flags {:#x}", q.nr_request_opcodes, q.ring_setup_flags);
///     }
///     Err(e) => assert_eq!(e.errno_name(), "EINVAL", "a kernel before 6.18: {e}"),
/// }
/// ```
pub fn query_opcodes() -> Result<QueryOpcodes> {
    let mut data = QueryOpcodes::default();
    let mut hdr = QueryHdr {
        query_data: &mut data as *mut QueryOpcodes as u64,
        query_op: QUERY_OPCODES,
        size: std::mem::size_of::<QueryOpcodes>() as u32,
        ..QueryHdr::default()
    };
    let arg = (&mut hdr as *mut QueryHdr).cast();
    let context =
        |errno| (errno == Errno::INVAL).then(|| "this kernel predates IORING_REGISTER_QUERY (Linux 6.18)".to_string());
    // SAFETY: `hdr` and `data` are valid for the call (the kernel writes
    // both).
    unsafe { register_ringless(CALL, opcode::REGISTER_QUERY, arg, 0, context) }?;
    if hdr.result < 0 {
        let errno = Errno::from_raw_os_error(-hdr.result);
        return Err(Error::kernel(CALL, errno, "the kernel does not answer IO_URING_QUERY_OPCODES"));
    }
    Ok(data)
}
