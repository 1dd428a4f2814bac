//! What safe op code can make the kernel do: `SafeOp` is implemented
//! exactly by the ops that carry no pointer and close no process
//! descriptor; every builder writes every SQE field, so a reused slot full
//! of garbage gives the kernel nothing stale (64-byte and 128-byte slots);
//! slot numbers at the top of the `u32` range don't wrap into "plain fd 0"
//! or "allocate".

mod common;

use ringwise::op::{
    self, AsyncCancel, Close, CloseFixed, DirectSlot, Fadvise, Fallocate, FixedFdInstall, Fsync, FsyncFlags, Ftruncate,
    Nop, PollAdd, PollEvents, PollRemove, PollUpdate, PrepareBigSqe, PrepareSqe, Read, ReadProvided, RemoveBuffers,
    SafeBigOp, SafeOp, Shutdown, Socket, SocketQueue, SyncFileRange, SyncFileRangeFlags, Target, Timeout,
    TimeoutRemove, Timespec, UringCmd, UringCmd80, Write,
};
use ringwise::{BigSqe, Builder, Cqe, Cqe16, Ring, Sqe, Sqe128, Sqe64, SqeFlags, SubmissionQueue};
use rustix::io::Errno;
use std::ffi::CStr;
use std::io::Write as _;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

fn neg(e: Errno) -> i32 {
    -e.raw_os_error()
}

/// Submit what is queued and wait for one CQE.
fn one_cqe<S: ringwise::SqeSize>(ring: &mut Ring<S, Cqe16>) -> Cqe {
    ring.submit_and_wait(1).expect("submit_and_wait");
    ring.completion().next().expect("a CQE after waiting for one")
}

/// Autoref specialisation: `is_safe!(T)` is true exactly when `T: SafeOp`.
struct Probe<T>(PhantomData<T>);

trait ViaSafe {
    fn is_safe(&self) -> bool {
        true
    }
}

impl<T: SafeOp> ViaSafe for Probe<T> {}
trait ViaBigSafe {
    fn is_safe(&self) -> bool {
        true
    }
}

trait ViaAny {
    fn is_safe(&self) -> bool {
        false
    }
}

impl<T> ViaAny for &Probe<T> {}

macro_rules! is_safe {
    ($t:ty) => {
        (&Probe::<$t>(PhantomData)).is_safe()
    };
}

struct BigProbe<T>(PhantomData<T>);

impl<T: SafeBigOp> ViaBigSafe for BigProbe<T> {}
impl<T> ViaAny for &BigProbe<T> {}

macro_rules! is_big_safe {
    ($t:ty) => {
        (&BigProbe::<$t>(PhantomData)).is_safe()
    };
}

/// Every op type, and whether safe code may push it. An op is safe only if
/// the kernel gets no pointer from it and it closes no process descriptor
/// (`Close` of a plain fd ends someone else's `OwnedFd`: I/O safety).
#[test]
fn safe_op_is_exactly_the_pointer_free_ops() {
    use op::*;
    let table: &[(&str, bool, bool)] = &[
        // (name, is SafeOp, must be)
        ("Nop", is_safe!(Nop), true),
        ("Fsync", is_safe!(Fsync), true),
        ("ReadProvided", is_safe!(ReadProvided), true),
        ("ReadMulti", is_safe!(ReadMulti), true),
        ("PollAdd", is_safe!(PollAdd), true),
        ("PollRemove", is_safe!(PollRemove), true),
        ("PollUpdate", is_safe!(PollUpdate), true),
        ("AsyncCancel", is_safe!(AsyncCancel), true),
        ("TimeoutRemove", is_safe!(TimeoutRemove), true),
        ("RemoveBuffers", is_safe!(RemoveBuffers), true),
        ("CloseFixed", is_safe!(CloseFixed), true),
        ("Fallocate", is_safe!(Fallocate), true),
        ("Fadvise", is_safe!(Fadvise), true),
        ("Ftruncate", is_safe!(Ftruncate), true),
        ("SyncFileRange", is_safe!(SyncFileRange), true),
        ("FixedFdInstall", is_safe!(FixedFdInstall), true),
        ("MsgRingData", is_safe!(MsgRingData), true),
        ("MsgRingFd", is_safe!(MsgRingFd), true),
        ("Socket", is_safe!(Socket), true),
        ("Listen", is_safe!(Listen), true),
        ("Accept", is_safe!(Accept), true),
        ("SendProvided", is_safe!(SendProvided), true),
        ("RecvProvided", is_safe!(RecvProvided), true),
        ("Shutdown", is_safe!(Shutdown), true),
        ("RecvZc", is_safe!(RecvZc), true),
        ("SocketQueue", is_safe!(SocketQueue), true),
        ("Splice", is_safe!(Splice), true),
        ("Tee", is_safe!(Tee), true),
        // Closing a plain fd.
        ("Close", is_safe!(Close), false),
        // Pointers.
        ("Read", is_safe!(Read), false),
        ("Write", is_safe!(Write), false),
        ("Readv", is_safe!(Readv), false),
        ("Writev", is_safe!(Writev), false),
        ("ProvideBuffers", is_safe!(ProvideBuffers), false),
        ("FilesUpdate", is_safe!(FilesUpdate), false),
        ("OpenAt", is_safe!(OpenAt), false),
        ("OpenAt2", is_safe!(OpenAt2), false),
        ("Statx", is_safe!(Statx), false),
        ("Madvise", is_safe!(Madvise), false),
        ("RenameAt", is_safe!(RenameAt), false),
        ("UnlinkAt", is_safe!(UnlinkAt), false),
        ("MkdirAt", is_safe!(MkdirAt), false),
        ("SymlinkAt", is_safe!(SymlinkAt), false),
        ("LinkAt", is_safe!(LinkAt), false),
        ("FGetXattr", is_safe!(FGetXattr), false),
        ("FSetXattr", is_safe!(FSetXattr), false),
        ("GetXattr", is_safe!(GetXattr), false),
        ("SetXattr", is_safe!(SetXattr), false),
        ("Pipe", is_safe!(Pipe), false),
        ("FutexWait", is_safe!(FutexWait), false),
        ("FutexWake", is_safe!(FutexWake), false),
        ("FutexWaitv", is_safe!(FutexWaitv), false),
        ("Connect", is_safe!(Connect), false),
        ("Bind", is_safe!(Bind), false),
        ("AcceptFrom", is_safe!(AcceptFrom), false),
        ("Send", is_safe!(Send), false),
        ("Recv", is_safe!(Recv), false),
        ("SendMsg", is_safe!(SendMsg), false),
        ("RecvMsg", is_safe!(RecvMsg), false),
        ("RecvMsgMulti", is_safe!(RecvMsgMulti), false),
        ("SendZc", is_safe!(SendZc), false),
        ("SendMsgZc", is_safe!(SendMsgZc), false),
        ("EpollCtl", is_safe!(EpollCtl), false),
        ("EpollWait", is_safe!(EpollWait), false),
        ("WaitId", is_safe!(WaitId), false),
        ("Timeout", is_safe!(Timeout), false),
        ("TimeoutUpdate", is_safe!(TimeoutUpdate), false),
        ("LinkTimeout", is_safe!(LinkTimeout), false),
        ("LinkTimeoutUpdate", is_safe!(LinkTimeoutUpdate), false),
        ("UringCmd", is_safe!(UringCmd), false),
        ("GetSockOpt", is_safe!(GetSockOpt), false),
        ("SetSockOpt", is_safe!(SetSockOpt), false),
        // 128-byte ops.
        ("Nop128 (big)", is_big_safe!(Nop128), true),
        ("UringCmd80 (big)", is_big_safe!(UringCmd80), false),
        ("UringCmd128 (big)", is_big_safe!(UringCmd128), false),
        ("Nop (big)", is_big_safe!(Nop), true),
        ("Read (big)", is_big_safe!(Read), false),
    ];
    let wrong: Vec<&str> = table.iter().filter(|(_, is, must)| is != must).map(|(name, ..)| *name).collect();
    assert!(wrong.is_empty(), "SafeOp markers wrong for {wrong:?}");
}

fn sqe_bytes(sqe: &Sqe) -> [u8; 64] {
    // SAFETY: `Sqe` is 64 bytes of plain integers without padding.
    unsafe { std::mem::transmute_copy(sqe) }
}

fn garbage_sqe() -> Sqe {
    // SAFETY: every bit pattern is a valid `Sqe` (integers only).
    unsafe { std::mem::transmute([0xffu8; 64]) }
}

/// Prepare `op` into a zeroed and into a garbage-filled SQE: the bytes must
/// be the same, so no field is left to what the slot held before.
fn assert_writes_all<O: PrepareSqe + Copy>(name: &str, op: O) {
    let mut clean = Sqe::default();
    let mut dirty = garbage_sqe();
    op.prepare(&mut clean);
    op.prepare(&mut dirty);
    assert_eq!(sqe_bytes(&clean), sqe_bytes(&dirty), "{name} leaves bytes of a reused slot unwritten");
}

fn assert_writes_all_big<O: PrepareBigSqe + Copy>(name: &str, op: O) {
    let mut clean = BigSqe { sqe: Sqe::default(), extra: [0; 64] };
    let mut dirty = BigSqe { sqe: garbage_sqe(), extra: [0xff; 64] };
    op.prepare_big(&mut clean);
    op.prepare_big(&mut dirty);
    assert_eq!(sqe_bytes(&clean.sqe), sqe_bytes(&dirty.sqe), "{name}: first 64 bytes");
    assert_eq!(clean.extra, dirty.extra, "{name}: last 64 bytes");
}

/// Every builder, with its optional settings, writes all 64 (or 128) bytes.
#[test]
fn every_builder_writes_every_sqe_field() {
    use op::*;
    let p = std::ptr::null_mut::<u8>();
    let path: &CStr = c"p";
    let how: OpenHow = OpenHow { flags: 0, mode: 0, resolve: 0 };
    let ts = Timespec::default();
    let fx = Target::fixed(3);
    macro_rules! all {
        ($($op:expr),* $(,)?) => {$(
            assert_writes_all(stringify!($op), $op.user_data(7).flags(SqeFlags::IO_LINK).personality(2));
            assert_writes_all_big(stringify!($op), $op);
        )*};
    }
    all!(
        Nop::new(),
        Nop::new().inject_result(-3).big_cqe_extra(1, 2).file(fx).fixed_buffer(1).task_work(),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Read::new(unsafe { Target::fd(0) }, p, 8).offset(4).rw_flags(RwFlags::NOWAIT).fixed_buffer(1),
        Write::new(fx, p, 8),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Readv::new(unsafe { Target::fd(0) }, std::ptr::null(), 1),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Writev::new(unsafe { Target::fd(0) }, std::ptr::null(), 1).fixed_buffer(0),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Fsync::new(unsafe { Target::fd(0) }).fsync_flags(FsyncFlags::DATASYNC).range(1, 2),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        ReadProvided::new(unsafe { Target::fd(0) }, 1, 8).offset(3).rw_flags(RwFlags::HIPRI),
        ReadMulti::new(fx, 1).len(9).offset(1),
        ProvideBuffers::new(p, 8, 2, 1, 0),
        RemoveBuffers::new(2, 1),
        AsyncCancel::user_data_of(5),
        AsyncCancel::fd(fx).and_opcode(1).and_user_data(2).all(),
        AsyncCancel::opcode(3),
        AsyncCancel::any(),
        FilesUpdate::new(std::ptr::null_mut(), 1, UpdateAt::Alloc),
        FilesUpdate::new(std::ptr::null_mut(), 1, UpdateAt::Offset(2)),
        OpenAt::new(AT_FDCWD, path, OFlags::RDONLY).mode(Mode::RUSR).direct(DirectSlot::Alloc),
        OpenAt2::new(AT_FDCWD, path, &how).direct(DirectSlot::Index(1)),
        // SAFETY: descriptor 3 is only encoded here: the op is prepared or checked, never pushed.
        Close::new(unsafe { Target::fd(3) }),
        Close::new(fx),
        CloseFixed::new(u32::MAX),
        Statx::new(AT_FDCWD, path, 1, std::ptr::null_mut()).at_flags(AtFlags::EMPTY_PATH),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Fallocate::new(unsafe { Target::fd(0) }, 1, 2).mode(1),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Fadvise::new(unsafe { Target::fd(0) }, 1, u64::MAX, Advice::Random),
        Madvise::new(p, 1 << 40, 4),
        Ftruncate::new(fx, 9),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        SyncFileRange::new(unsafe { Target::fd(0) }, 1, 2, SyncFileRangeFlags::WRITE),
        RenameAt::new(AT_FDCWD, path, AT_FDCWD, path).rename_flags(RenameFlags::NOREPLACE),
        UnlinkAt::new(AT_FDCWD, path).dir(),
        MkdirAt::new(AT_FDCWD, path, Mode::RWXU),
        SymlinkAt::new(path, AT_FDCWD, path),
        LinkAt::new(AT_FDCWD, path, AT_FDCWD, path).at_flags(AtFlags::SYMLINK_FOLLOW),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        FGetXattr::new(unsafe { Target::fd(0) }, path, p, 4),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        FSetXattr::new(unsafe { Target::fd(0) }, path, p, 4).xattr_flags(XattrFlags::CREATE),
        GetXattr::new(path, path, p, 4),
        SetXattr::new(path, path, p, 4).xattr_flags(XattrFlags::REPLACE),
        FixedFdInstall::new(1).no_cloexec(),
        Pipe::new(std::ptr::null_mut()).pipe_flags(OFlags::CLOEXEC).direct(DirectSlot::Index(u32::MAX)),
        FutexWait::new(std::ptr::null(), 1).mask(3).futex_flags(FutexFlags::SIZE_U32),
        FutexWake::new(std::ptr::null(), 1).mask(3),
        FutexWaitv::new(std::ptr::null(), 2),
        // SAFETY: descriptor 3 is only encoded here: the op is prepared or checked, never pushed.
        MsgRingData::new(unsafe { Target::fd(3) }, 1, 2).cqe_flags(0x40).unwrap(),
        MsgRingFd::new(fx, 1, DirectSlot::Alloc, 5).skip_target_cqe(),
        Socket::new(1, 1, 0).direct(DirectSlot::Index(2)),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Connect::new(unsafe { Target::fd(0) }, p, 16),
        Bind::new(fx, p, 16),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Listen::new(unsafe { Target::fd(0) }, 5),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Accept::new(unsafe { Target::fd(0) })
            .accept_flags(AcceptFlags::CLOEXEC)
            .multishot()
            .dontwait()
            .poll_first()
            .direct(DirectSlot::Alloc),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        AcceptFrom::new(unsafe { Target::fd(0) }, p, std::ptr::null_mut()),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Send::new(unsafe { Target::fd(0) }, p, 3).to(p, 16).msg_flags(MsgFlags::MORE).poll_first(),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        SendProvided::new(unsafe { Target::fd(0) }, 1).bundle().len(3),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Recv::new(unsafe { Target::fd(0) }, p, 3).msg_flags(MsgFlags::WAITALL),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        RecvProvided::new(unsafe { Target::fd(0) }, 1).multishot().bundle().len(4),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        SendMsg::new(unsafe { Target::fd(0) }, std::ptr::null()),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        RecvMsg::new(unsafe { Target::fd(0) }, std::ptr::null_mut()),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        RecvMsgMulti::new(unsafe { Target::fd(0) }, std::ptr::null(), 1),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        SendZc::new(unsafe { Target::fd(0) }, p, 3).fixed_buffer(1).report_usage().to(p, 16),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        SendMsgZc::new(unsafe { Target::fd(0) }, std::ptr::null()).report_usage(),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Shutdown::new(unsafe { Target::fd(0) }, 1),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        RecvZc::new(unsafe { Target::fd(0) }, 1).len(5),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        PollAdd::new(unsafe { Target::fd(0) }, PollEvents::IN).multishot(),
        PollRemove::new(4),
        PollUpdate::new(4).events(PollEvents::OUT).new_user_data(5).multishot(),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        EpollCtl::new(unsafe { Target::fd(0) }, 1, 1, std::ptr::null()),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        EpollWait::new(unsafe { Target::fd(0) }, std::ptr::null_mut(), 4),
        WaitId::new(IdType::Pid(1), WaitOptions::EXITED, std::ptr::null_mut()),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        Splice::new(unsafe { Target::fd(0) }, Some(1), fx, None, 4).splice_flags(SpliceFlags::MOVE),
        // SAFETY: descriptor 1 is only encoded here: the op is prepared or checked, never pushed.
        Splice::new(fx, None, unsafe { Target::fd(1) }, Some(2), 4),
        // SAFETY: descriptor 1 is only encoded here: the op is prepared or checked, never pushed.
        Tee::new(fx, unsafe { Target::fd(1) }, 4).splice_flags(SpliceFlags::NONBLOCK),
        Timeout::new(&ts).count(2).timeout_flags(TimeoutFlags::ABS),
        Timeout::new(&ts).multishot(3),
        TimeoutRemove::new(1),
        TimeoutUpdate::new(1, &ts).timeout_flags(TimeoutFlags::BOOTTIME),
        LinkTimeout::new(&ts).timeout_flags(TimeoutFlags::REALTIME),
        LinkTimeoutUpdate::new(1, &ts),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        UringCmd::new(unsafe { Target::fd(0) }, 1).cmd([0x5a; 16]).fixed_buffer(2),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        SocketQueue::inq(unsafe { Target::fd(0) }),
        SocketQueue::outq(fx),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        GetSockOpt::new(unsafe { Target::fd(0) }, 1, 2, p, 4),
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        SetSockOpt::new(unsafe { Target::fd(0) }, 1, 2, p, 4),
    );
    for (name, big) in [
        // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
        ("UringCmd80", UringCmd80::new(unsafe { Target::fd(0) }, 1, [0x11; 80]).fixed_buffer(1).user_data(3)),
        ("UringCmd80 (fixed target)", UringCmd80::new(fx, 1, [0; 80])),
    ] {
        assert_writes_all_big(name, big);
    }
    // SAFETY: descriptor 0 is only encoded here: the op is prepared or checked, never pushed.
    assert_writes_all_big("UringCmd128", UringCmd128::new(unsafe { Target::fd(0) }, 1, [0x22; 80]).user_data(3));
    assert_writes_all_big("Nop128", Nop128::new().user_data(3));
}

/// Fill the (only) SQ slot with 0xff garbage through `push_raw` (a NOP, so
/// that the kernel consumes it and answers), and reap its CQE.
fn dirty_the_slot(ring: &mut Ring) {
    // SAFETY: the SQE is a NOP: whatever the other fields hold, the kernel
    // reads no memory for it (it refuses the unknown flag bits).
    unsafe {
        ring.submission().push_raw(|sqe| {
            *sqe = garbage_sqe();
            sqe.opcode = op::opcode::NOP;
        })
    }
    .unwrap();
    let cqe = one_cqe(ring);
    assert_eq!(cqe.user_data, u64::MAX, "the garbage NOP completed: {cqe:?}");
}

/// The fds the kernel-level slot test runs its ops on.
struct Fixture {
    file: std::fs::File,
    _file_path: std::path::PathBuf,
    pair: (UnixStream, UnixStream),
    ready: OwnedFd,
}

impl Fixture {
    fn new() -> Fixture {
        let path = std::env::temp_dir().join(format!("ringwise-soundness-slot-{}", std::process::id()));
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
        (&file).write_all(&[7u8; 8192]).unwrap();
        let ready = rustix::event::eventfd(1, rustix::event::EventfdFlags::CLOEXEC).unwrap();
        Fixture { file, _file_path: path, pair: UnixStream::pair().unwrap(), ready }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self._file_path);
    }
}

/// Run the op `push` queues in a fresh ring (the reference) and in a ring
/// whose only slot was just filled with garbage: the kernel must answer the
/// same.
fn same_answer_after_garbage(name: &str, push: &dyn Fn(&mut SubmissionQueue<'_, Sqe64>)) {
    let mut fresh = Ring::new(1).unwrap();
    push(&mut fresh.submission());
    let want = one_cqe(&mut fresh);
    let mut reused = Ring::new(1).unwrap();
    dirty_the_slot(&mut reused);
    push(&mut reused.submission());
    let got = one_cqe(&mut reused);
    assert_eq!((got.user_data, got.res, got.flags), (want.user_data, want.res, want.flags), "{name}");
}

/// The same check against the kernel: after a slot held 0xff garbage, each
/// builder pushed into it gets exactly the answer it gets in a fresh ring.
#[test]
fn reused_slot_gives_the_kernel_nothing_stale() {
    let fx = Fixture::new();
    let file = fx.file.as_raw_fd();
    let sock = fx.pair.0.as_raw_fd();
    let ready = fx.ready.as_raw_fd();
    macro_rules! safe {
        ($name:literal, $op:expr) => {
            same_answer_after_garbage($name, &|sq| sq.push($op.user_data(42)).unwrap())
        };
    }
    safe!("nop", Nop::new());
    safe!("nop inject", Nop::new().inject_result(-7));
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    safe!("fsync", Fsync::new(unsafe { Target::fd(file) }));
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    safe!("fdatasync range", Fsync::new(unsafe { Target::fd(file) }).fsync_flags(FsyncFlags::DATASYNC).range(0, 4096));
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    safe!("fallocate", Fallocate::new(unsafe { Target::fd(file) }, 0, 4096));
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    safe!("fadvise", Fadvise::new(unsafe { Target::fd(file) }, 0, 4096, op::Advice::Sequential));
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    safe!("ftruncate", Ftruncate::new(unsafe { Target::fd(file) }, 8192));
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    safe!("sync_file_range", SyncFileRange::new(unsafe { Target::fd(file) }, 0, 4096, SyncFileRangeFlags::WRITE));
    // SAFETY: `ready` stays open until this test has reaped the op's CQE.
    safe!("poll ready eventfd", PollAdd::new(unsafe { Target::fd(ready) }, PollEvents::IN));
    safe!("poll remove", PollRemove::new(12345));
    safe!("poll update", PollUpdate::new(12345).events(PollEvents::IN));
    safe!("cancel", AsyncCancel::user_data_of(12345));
    safe!("timeout remove", TimeoutRemove::new(12345));
    safe!("remove buffers", RemoveBuffers::new(1, 77));
    // SAFETY: `file` stays open until this test has reaped the op's CQE.
    safe!("read provided, no group", ReadProvided::new(unsafe { Target::fd(file) }, 77, 16));
    safe!("close fixed, no table", CloseFixed::new(0));
    safe!("fixed fd install, no table", FixedFdInstall::new(0));
    safe!("socket direct, no table", Socket::new(1, 1, 0).direct(DirectSlot::Alloc));
    // SAFETY: `sock` stays open until this test has reaped the op's CQE.
    safe!("shutdown", Shutdown::new(unsafe { Target::fd(sock) }, 1));
    // SAFETY: `sock` stays open until this test has reaped the op's CQE.
    safe!("socket queue", SocketQueue::inq(unsafe { Target::fd(sock) }));
    let mut buf = [0u8; 16];
    let bufp = buf.as_mut_ptr();
    same_answer_after_garbage("read", &|sq| {
        // SAFETY: `buf` outlives the ring run, which waits for the CQE.
        // The target: `file` stays open until this test has reaped the op's CQE.
        unsafe { sq.push_unchecked(Read::new(Target::fd(file), bufp, 16).offset(0).user_data(42)) }.unwrap()
    });
    assert_eq!(buf, [7u8; 16]);
    same_answer_after_garbage("write", &|sq| {
        // SAFETY: as above.
        // The target: `file` stays open until this test has reaped the op's CQE.
        unsafe { sq.push_unchecked(Write::new(Target::fd(file), bufp, 16).offset(100).user_data(42)) }.unwrap()
    });
    let ts = Timespec { tv_sec: 0, tv_nsec: 1000 };
    same_answer_after_garbage("timeout", &|sq| {
        // SAFETY: `ts` outlives the run.
        unsafe { sq.push_unchecked(Timeout::new(&ts).user_data(42)) }.unwrap()
    });
}

/// A 64-byte op in a 128-byte slot: the slot's second half (the rest of a
/// command area) must not keep what an earlier 128-byte op wrote there. A
/// driver reads all 80 command bytes of a `URING_CMD` in an `SQE128` ring,
/// and stale bytes may be a pointer the caller no longer vouches for.
#[test]
fn sqe128_slot_tail_is_cleared_for_64_byte_ops() {
    let mut ring: Ring<Sqe128, Cqe16> = Builder::new(1).build().unwrap();
    let slot = ring.memory_report().sqes_addr as *const u8;
    let tail = || {
        // SAFETY: the SQE region is mapped for the ring's life and holds one
        // 128-byte slot; the kernel does not touch it between push and submit.
        unsafe { std::slice::from_raw_parts(slot.add(64), 64) }.to_vec()
    };
    let dirty = |ring: &mut Ring<Sqe128, Cqe16>| {
        // SAFETY: the command goes to fd -1 (EBADF at issue): nothing reads
        // its bytes as pointers.
        // SAFETY: a negative number names no file (the kernel answers -EBADF).
        unsafe { ring.submission().push_big_unchecked(UringCmd80::new(Target::fd(-1), 0, [0xff; 80]).user_data(1)) }
            .unwrap();
        assert_eq!(tail(), vec![0xff; 64]);
        let cqe = one_cqe(ring);
        assert_eq!(cqe.res, neg(Errno::BADF));
    };
    dirty(&mut ring);
    ring.submission().push(Nop::new().user_data(2)).unwrap();
    assert_eq!(tail(), vec![0; 64], "push");
    assert_eq!(one_cqe(&mut ring).res, 0);
    dirty(&mut ring);
    // SAFETY: the command goes to fd -1 and carries no pointer.
    // SAFETY: a negative number names no file (the kernel answers -EBADF).
    unsafe { ring.submission().push_unchecked(UringCmd::new(Target::fd(-1), 0).user_data(3)) }.unwrap();
    assert_eq!(tail(), vec![0; 64], "push_unchecked");
    assert_eq!(one_cqe(&mut ring).res, neg(Errno::BADF));
    dirty(&mut ring);
    // SAFETY: a NOP reads no memory.
    unsafe { ring.submission().push_raw(|sqe| *sqe = Sqe { opcode: op::opcode::NOP, user_data: 4, ..Sqe::default() }) }
        .unwrap();
    assert_eq!(tail(), vec![0; 64], "push_raw");
    assert_eq!(one_cqe(&mut ring).res, 0);
}

/// `CloseFixed(u32::MAX)` used to encode slot + 1 with a wrapping add: 0,
/// i.e. "no slot", so the kernel closed plain fd 0 instead. Now it names a
/// slot no table has and the kernel refuses it; fd 0 stays open.
#[test]
fn close_of_fixed_slot_u32_max_never_closes_fd_0() {
    for (name, sqe) in
        [("CloseFixed", prepared(CloseFixed::new(u32::MAX))), ("Close", prepared(Close::new(Target::fixed(u32::MAX))))]
    {
        assert_ne!(sqe.file_index, 0, "{name}: slot u32::MAX must not read as 'close the plain fd'");
        assert_eq!(sqe.fd, 0, "{name}");
    }
    // Against the kernel: the close is refused (EINVAL), so nothing was
    // closed; a close of plain fd 0 would have answered 0 or EBADF. (Whether
    // fd 0 is open afterwards is not checked: with stdin closed, as under CI,
    // the number belongs to whichever parallel test opened a file last.)
    let mut ring = Ring::new(4).unwrap();
    ring.register_files_sparse(4).unwrap();
    ring.submission().push(CloseFixed::new(u32::MAX).user_data(1)).unwrap();
    let res = one_cqe(&mut ring).res;
    assert_eq!(res, neg(Errno::INVAL), "a slot past a 4-slot table is refused");
}

fn prepared<O: PrepareSqe>(op: O) -> Sqe {
    let mut sqe = garbage_sqe();
    op.prepare(&mut sqe);
    sqe
}

/// `DirectSlot::Index(u32::MAX)` used to encode as 0 ("no direct slot": the
/// op returned a plain fd nobody tracks) and `Index(u32::MAX - 1)` as
/// all-ones ("allocate"). Both are now refused by the kernel.
#[test]
fn direct_slots_at_the_top_of_the_range_are_refused() {
    let mut ring = Ring::new(4).unwrap();
    ring.register_files_sparse(4).unwrap();
    for (ud, slot) in [(1, u32::MAX), (2, u32::MAX - 1)] {
        let op = Socket::new(1 /* AF_UNIX */, 1 /* SOCK_STREAM */, 0).direct(DirectSlot::Index(slot)).user_data(ud);
        let sqe = prepared(op);
        assert!(sqe.file_index != 0 && sqe.file_index != u32::MAX, "Index({slot:#x}) encodes {:#x}", sqe.file_index);
        ring.submission().push(op).unwrap();
        let res = one_cqe(&mut ring).res;
        if res >= 0 {
            // Close what the kernel made before failing the test.
            // SAFETY: a plain fd would be ours (nobody else knows it).
            drop(unsafe { OwnedFd::from_raw_fd(res as RawFd) });
        }
        assert!(res < 0, "Index({slot:#x}) must be refused, got {res}");
    }
}
