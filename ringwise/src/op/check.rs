//! Checks an op against what the ring and kernel can do, before it is
//! pushed: the opcode is in the kernel's probe, fixed-file and fixed-buffer
//! indices fit the registered tables, and argument combinations the kernel
//! would refuse with a bare `-EINVAL` are named.
//!
//! The check prepares the op into a scratch SQE and reads the fields back,
//! so it judges exactly what would be submitted, for every builder alike.

use super::{opcode, OpInfo, PrepareBigSqe};
use crate::entry::{BigSqe, Sqe};
use crate::error::{Error, Result, Table};
use crate::flags::SqeFlags;
use crate::probe::Probe;
use linux_raw_sys::io_uring as k;

/// What is known about the ring an op is meant for. Unknown (`None`) parts
/// are not checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits<'a> {
    /// The kernel's opcode probe ([`Probe::of`] the ring).
    pub probe: Option<&'a Probe>,
    /// Slots in the registered file table.
    pub fixed_files: Option<u32>,
    /// Entries in the registered buffer table.
    pub fixed_buffers: Option<u32>,
}

fn name(op: u8) -> &'static str {
    super::name(op).unwrap_or("unknown opcode")
}

fn within(op: u8, table: Table, index: u32, len: Option<u32>) -> Result<()> {
    match len {
        Some(len) if index >= len => Err(Error::OpIndexOutOfRange { op: name(op), table, index, len }),
        _ => Ok(()),
    }
}

/// Check `op` against `limits` (see the module docs). `Ok` means the
/// library found nothing wrong; the kernel may still refuse for reasons only
/// it knows (a closed fd, a full CQ, ...).
pub fn check<O: PrepareBigSqe + Copy>(op: &O, limits: &Limits<'_>) -> Result<()> {
    let mut big = BigSqe { sqe: Sqe::default(), extra: [0; 64] };
    op.prepare_big(&mut big);
    check_sqe(&big.sqe, limits)
}

/// [`check`] for an SQE already filled.
pub(crate) fn check_sqe(sqe: &Sqe, limits: &Limits<'_>) -> Result<()> {
    let op = sqe.opcode;
    if let Some(probe) = limits.probe {
        if !probe.supports(op) {
            let (name, since) = OpInfo::get(op).map(|i| (i.name, i.since)).unwrap_or(("unknown opcode", "?"));
            return Err(Error::OpcodeUnsupported { opcode: op, name, since, last_op: probe.last_op() });
        }
    }
    let flags = SqeFlags::from_bits_retain(sqe.flags);
    if flags.contains(SqeFlags::FIXED_FILE) {
        within(op, Table::Files, sqe.fd as u32, limits.fixed_files)?;
    }
    if matches!(op, opcode::SPLICE | opcode::TEE) && sqe.op_flags & k::SPLICE_F_FD_IN_FIXED != 0 {
        within(op, Table::Files, sqe.file_index, limits.fixed_files)?;
    }
    // Ops that create a file may put it in a slot (file_index = slot + 1,
    // all ones = allocate).
    let creates = matches!(op, opcode::OPENAT | opcode::OPENAT2 | opcode::ACCEPT | opcode::SOCKET | opcode::PIPE);
    if (creates || op == opcode::CLOSE) && sqe.file_index != 0 && sqe.file_index != u32::MAX {
        let slot = sqe.file_index - 1;
        within(op, Table::Files, slot, limits.fixed_files)?;
        if op == opcode::PIPE {
            within(op, Table::Files, slot + 1, limits.fixed_files)?;
        }
    }
    if op == opcode::ACCEPT
        && sqe.ioprio & k::IORING_ACCEPT_MULTISHOT as u16 != 0
        && sqe.file_index != 0
        && sqe.file_index != u32::MAX
    {
        return Err(Error::OpInvalid {
            op: name(op),
            why: "a multishot accept into direct descriptors must allocate its slots (DirectSlot::Alloc): \
                  one fixed slot cannot hold every connection",
        });
    }
    let fixed_buffer = match op {
        opcode::READ_FIXED | opcode::WRITE_FIXED | opcode::READV_FIXED | opcode::WRITEV_FIXED => true,
        opcode::SEND_ZC | opcode::SENDMSG_ZC => sqe.ioprio & k::IORING_RECVSEND_FIXED_BUF as u16 != 0,
        opcode::URING_CMD | opcode::URING_CMD128 => sqe.op_flags & k::IORING_URING_CMD_FIXED != 0,
        opcode::NOP => sqe.op_flags & crate::abi::IORING_NOP_FIXED_BUFFER != 0,
        _ => false,
    };
    if fixed_buffer {
        within(op, Table::Buffers, sqe.buf_index as u32, limits.fixed_buffers)?;
    }
    if op == opcode::READV && flags.contains(SqeFlags::BUFFER_SELECT) && sqe.len != 1 {
        return Err(Error::OpInvalid {
            op: name(op),
            why: "a vectored read from a buffer group takes exactly one iovec (its iov_len caps the read): \
                  build it with Readv::provided",
        });
    }
    if flags.contains(SqeFlags::BUFFER_SELECT) && fixed_buffer {
        return Err(Error::OpInvalid {
            op: name(op),
            why: "an op cannot both pick a provided buffer and use a registered (fixed) buffer",
        });
    }
    Ok(())
}
