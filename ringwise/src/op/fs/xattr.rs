//! Extended attributes: `FGETXATTR`, `FSETXATTR`, `GETXATTR`, `SETXATTR`
//! (Linux 5.19). Names, paths and values are read or written while the op
//! runs: keep them valid until the CQE is reaped.

use super::{cstr, XattrFlags};
use crate::entry::Sqe;
use crate::op::{base, Common, PrepareSqe, Target};
use std::ffi::CStr;

/// `IORING_OP_FGETXATTR` (Linux 5.19): `fgetxattr(2)`; `res` is the value's
/// length.
#[derive(Debug, Clone, Copy)]
pub struct FGetXattr {
    pub(crate) common: Common,
    target: Target,
    name: u64,
    value: *mut u8,
    len: u32,
}

impl FGetXattr {
    /// Read attribute `name` of `target` into `value` (room: `len` bytes; 0
    /// asks only for the length). `name` and `value` must stay valid and
    /// unmoved until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, name: &CStr, value: *mut u8, len: u32) -> FGetXattr {
        FGetXattr { common: Common::default(), target: target.into(), name: cstr(name), value, len }
    }
}

/// `IORING_OP_FSETXATTR` (Linux 5.19): `fsetxattr(2)`; `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct FSetXattr {
    pub(crate) common: Common,
    target: Target,
    name: u64,
    value: *const u8,
    len: u32,
    flags: XattrFlags,
}

impl FSetXattr {
    /// Set attribute `name` of `target` to the `len` bytes at `value`; both
    /// must stay valid until the CQE is reaped.
    #[inline]
    pub fn new(target: impl Into<Target>, name: &CStr, value: *const u8, len: u32) -> FSetXattr {
        FSetXattr {
            common: Common::default(),
            target: target.into(),
            name: cstr(name),
            value,
            len,
            flags: XattrFlags::empty(),
        }
    }
    /// `XATTR_CREATE` / `XATTR_REPLACE`.
    #[inline]
    pub fn xattr_flags(mut self, flags: XattrFlags) -> FSetXattr {
        self.flags = flags;
        self
    }
}

/// `IORING_OP_GETXATTR` (Linux 5.19): `getxattr(2)` by path; `res` is the
/// value's length.
#[derive(Debug, Clone, Copy)]
pub struct GetXattr {
    pub(crate) common: Common,
    path: u64,
    name: u64,
    value: *mut u8,
    len: u32,
}

impl GetXattr {
    /// Read attribute `name` of the file at `path` into `value` (room: `len`
    /// bytes). `path`, `name` and `value` must stay valid and unmoved until the
    /// CQE is reaped.
    #[inline]
    pub fn new(path: &CStr, name: &CStr, value: *mut u8, len: u32) -> GetXattr {
        GetXattr { common: Common::default(), path: cstr(path), name: cstr(name), value, len }
    }
}

/// `IORING_OP_SETXATTR` (Linux 5.19): `setxattr(2)` by path; `res` is 0.
#[derive(Debug, Clone, Copy)]
pub struct SetXattr {
    pub(crate) common: Common,
    path: u64,
    name: u64,
    value: *const u8,
    len: u32,
    flags: XattrFlags,
}

impl SetXattr {
    /// Set attribute `name` of the file at `path` to the `len` bytes at
    /// `value`; all three must stay valid until the CQE is reaped.
    #[inline]
    pub fn new(path: &CStr, name: &CStr, value: *const u8, len: u32) -> SetXattr {
        SetXattr {
            common: Common::default(),
            path: cstr(path),
            name: cstr(name),
            value,
            len,
            flags: XattrFlags::empty(),
        }
    }
    /// `XATTR_CREATE` / `XATTR_REPLACE`.
    #[inline]
    pub fn xattr_flags(mut self, flags: XattrFlags) -> SetXattr {
        self.flags = flags;
        self
    }
}

impl PrepareSqe for FGetXattr {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.name,
            len: self.len,
            off: self.value as u64,
            ..base(&self.common, Self::CODE, self.target)
        };
    }
}

impl PrepareSqe for FSetXattr {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.name,
            len: self.len,
            off: self.value as u64,
            op_flags: self.flags.bits(),
            ..base(&self.common, Self::CODE, self.target)
        };
    }
}

impl PrepareSqe for GetXattr {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.name,
            len: self.len,
            off: self.value as u64,
            addr3: self.path,
            ..base(&self.common, Self::CODE, 0)
        };
    }
}

impl PrepareSqe for SetXattr {
    #[inline(always)]
    fn prepare(self, sqe: &mut Sqe) {
        *sqe = Sqe {
            addr: self.name,
            len: self.len,
            off: self.value as u64,
            addr3: self.path,
            op_flags: self.flags.bits(),
            ..base(&self.common, Self::CODE, 0)
        };
    }
}
