//! A TCP echo server on loopback, written the io_uring way with ringwise:
//!
//! - one ring built with `single_issuer().defer_taskrun()` (one thread owns
//!   it; completion work runs only when this thread waits, never as an
//!   interruption);
//! - one multishot [`Accept`], re-armed if the kernel ever ends it;
//! - a provided-buffer ring ([`BufRing`]) feeding one multishot
//!   [`RecvProvided`] per connection: no buffer is tied up in an idle receive;
//! - sends straight out of the provided buffer (no copy): the buffer stays
//!   with the connection until its send completes, then is recycled;
//! - `ENOBUFS` (every buffer out): the receive is parked and re-armed when a
//!   buffer comes back, instead of spinning (a stale `ENOBUFS`, seen after a
//!   recycle, re-arms at once);
//! - `user_data` = op kind (high 32 bits) + connection id (low 32 bits);
//! - connections closed with an io_uring `Close` once the peer hung up and
//!   every byte went back.
//!
//! N client threads (std `TcpStream`) each send M messages and check the echo;
//! the server stops when all connections are closed (or after a timeout).
//!
//! Run: `cargo run --release -p ringwise --example echo [-- CLIENTS MESSAGES BUFFERS]`
//! (defaults 4 100 16; BUFFERS is a power of two, try 2 to see ENOBUFS).

use ringwise::op::{Accept, AcceptFlags, Close, MsgFlags, RecvProvided, Send, Target};
use ringwise::register::{BufRing, BufRingConfig};
use ringwise::{Builder, Cqe, Cqe16, Errno, Ring, Sqe64};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, RawFd};
use std::time::{Duration, Instant};

const ACCEPT: u64 = 1;
const RECV: u64 = 2;
const SEND: u64 = 3;
const CLOSE: u64 = 4;
const GROUP: u16 = 0;
const BUF_LEN: u32 = 4096;
const TIMEOUT: Duration = Duration::from_secs(20);
/// The longest single wait in the kernel. The loop would work with one long
/// wait; slices, each followed by a yield, keep the example runnable under
/// valgrind 3.19, which holds every other thread (here: the clients) while
/// one thread blocks in `io_uring_enter` and lets them run only at a yield.
const WAIT_SLICE: Duration = Duration::from_millis(20);

fn ud(kind: u64, conn: u32) -> u64 {
    kind << 32 | conn as u64
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Default)]
struct Conn {
    fd: RawFd,
    /// Provided buffers received and not yet echoed in full: (bid, len).
    /// The front one is being sent, `sent` bytes of it already.
    pending: VecDeque<(u16, u32)>,
    sent: u32,
    sending: bool,
    recv_armed: bool,
    /// The peer hung up (or the socket failed): close once idle.
    done: bool,
}

struct Server {
    ring: Ring,
    bufs: BufRing,
    listener: TcpListener,
    conns: Vec<Option<Conn>>,
    /// Connections whose receive ended with ENOBUFS, waiting for a buffer.
    starved: Vec<u32>,
    stats: Stats,
}

#[derive(Default)]
struct Stats {
    accepted: u32,
    closed: u32,
    bytes: u64,
    enobufs: u32,
}

impl Server {
    fn arm_accept(&mut self) -> Result {
        // SAFETY: the listener is a field of the server declared after the
        // ring, so it is closed only after the ring (and the multishot
        // accept with it) is gone.
        let listener = unsafe { Target::from_fd(self.listener.as_fd()) };
        let op = Accept::new(listener).accept_flags(AcceptFlags::CLOEXEC).multishot().user_data(ud(ACCEPT, 0));
        Ok(self.ring.push_or_submit(op)?)
    }

    fn arm_recv(&mut self, id: u32) -> Result {
        let conn = self.conns[id as usize].as_mut().expect("live connection");
        conn.recv_armed = true;
        // SAFETY: `conn.fd` came from our accept and is closed only by
        // `maybe_close`, once no receive or send on it is in flight.
        let fd = unsafe { Target::fd(conn.fd) };
        let op = RecvProvided::new(fd, GROUP).multishot().user_data(ud(RECV, id));
        Ok(self.ring.push_or_submit(op)?)
    }

    /// Send the rest of the connection's front buffer, if it is not sending.
    fn send_next(&mut self, id: u32) -> Result {
        let conn = self.conns[id as usize].as_mut().expect("live connection");
        let Some(&(bid, len)) = conn.pending.front() else { return self.maybe_close(id) };
        if conn.sending {
            return Ok(());
        }
        conn.sending = true;
        // The buffer memory lives as long as `self.bufs` (the ring keeps the
        // group registered); `bid` stays with the application until recycled.
        let data = self.bufs.buffer(bid).expect("the application holds this buffer");
        // SAFETY: as in `arm_recv`: the fd stays open until this send's CQE.
        let fd = unsafe { Target::fd(conn.fd) };
        let op = Send::new(fd, data[conn.sent as usize..].as_ptr(), len - conn.sent)
            .msg_flags(MsgFlags::NOSIGNAL)
            .user_data(ud(SEND, id));
        // SAFETY: the pointer is into buffer `bid` of `self.bufs`, whose memory
        // the ring itself keeps alive while the group is registered, and `bid`
        // is recycled (handed back to the kernel) only after this send's CQE.
        Ok(unsafe { self.ring.push_or_submit_unchecked(op) }?)
    }

    /// Close once the peer is gone, nothing is left to send and no receive is armed.
    fn maybe_close(&mut self, id: u32) -> Result {
        let conn = self.conns[id as usize].as_ref().expect("live connection");
        if conn.done && conn.fd >= 0 && !conn.sending && !conn.recv_armed && conn.pending.is_empty() {
            // SAFETY: the fd is open (our accept made it, nothing closed it).
            let fd = unsafe { Target::fd(conn.fd) };
            let op = Close::new(fd).user_data(ud(CLOSE, id));
            // SAFETY: the fd came from our accept and only this connection
            // uses it; no op on it is in flight and the slot forgets it below.
            unsafe { self.ring.push_or_submit_unchecked(op) }?;
            self.conns[id as usize].as_mut().unwrap().fd = -1;
        }
        Ok(())
    }

    fn recycle(&mut self, bid: u16) -> Result {
        self.bufs.recycle(bid)?;
        for id in std::mem::take(&mut self.starved) {
            if self.conns[id as usize].as_ref().is_some_and(|c| !c.done) {
                self.arm_recv(id)?;
            }
        }
        Ok(())
    }

    fn handle(&mut self, cqe: Cqe) -> Result {
        let (kind, id) = (cqe.user_data >> 32, cqe.user_data as u32);
        match kind {
            ACCEPT => {
                match cqe.result() {
                    Ok(fd) => {
                        let id = self.conns.iter().position(Option::is_none).unwrap_or_else(|| {
                            self.conns.push(None);
                            self.conns.len() - 1
                        });
                        self.conns[id] = Some(Conn { fd: fd as RawFd, ..Conn::default() });
                        self.stats.accepted += 1;
                        self.arm_recv(id as u32)?;
                    }
                    Err(e) => eprintln!("accept: {e}"),
                }
                if !cqe.more() {
                    self.arm_accept()?;
                }
            }
            RECV => {
                // SAFETY: a CQE of this ring, for a receive that picked from
                // this group, passed once.
                let got = unsafe { self.bufs.completion(&cqe) };
                let conn = self.conns[id as usize].as_mut().expect("live connection");
                conn.recv_armed = cqe.more();
                match (cqe.res, got) {
                    (n, Some((bid, _))) if n > 0 => {
                        conn.pending.push_back((bid, n as u32));
                        self.stats.bytes += n as u64;
                        if !cqe.more() {
                            self.arm_recv(id)?; // e.g. ended by CQ overflow: keep going
                        }
                        self.send_next(id)?;
                    }
                    (res, _) if res == -Errno::NOBUFS.raw_os_error() => {
                        self.stats.enobufs += 1;
                        // The CQE may predate a recycle already handled: park
                        // only if every buffer is out, so a recycle will come.
                        if self.bufs.held() < self.bufs.entries() as usize {
                            self.arm_recv(id)?;
                        } else {
                            self.starved.push(id);
                        }
                    }
                    (res, _) => {
                        if res < 0 {
                            eprintln!("recv on connection {id}: {}", std::io::Error::from_raw_os_error(-res));
                        }
                        conn.done = true; // 0: the peer hung up
                        self.maybe_close(id)?;
                    }
                }
            }
            SEND => {
                let conn = self.conns[id as usize].as_mut().expect("live connection");
                conn.sending = false;
                match cqe.result() {
                    Ok(n) => {
                        conn.sent += n;
                        let (bid, len) = *conn.pending.front().expect("a send has a buffer");
                        if conn.sent == len {
                            conn.pending.pop_front();
                            conn.sent = 0;
                            self.recycle(bid)?;
                        }
                        self.send_next(id)?; // the rest of a short send, or the next buffer
                    }
                    Err(e) => {
                        eprintln!("send on connection {id}: {e}");
                        conn.done = true;
                        for (bid, _) in std::mem::take(&mut conn.pending) {
                            self.recycle(bid)?;
                        }
                        self.maybe_close(id)?;
                    }
                }
            }
            CLOSE => {
                if let Err(e) = cqe.result() {
                    eprintln!("close on connection {id}: {e}");
                }
                self.conns[id as usize] = None;
                self.stats.closed += 1;
            }
            _ => unreachable!("unknown user_data {:#x}", cqe.user_data),
        }
        Ok(())
    }
}

/// Send `messages` lines of varying length and check each echo.
fn client(addr: SocketAddr, id: usize, messages: usize) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut echo = Vec::new();
    for i in 0..messages {
        let msg = format!("client {id} message {i} {}\n", "x".repeat((id * 31 + i * 7) % 200));
        stream.write_all(msg.as_bytes())?;
        echo.resize(msg.len(), 0);
        stream.read_exact(&mut echo)?;
        if echo != msg.as_bytes() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad echo for {msg:?}")));
        }
    }
    Ok(())
}

fn main() -> Result {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let clients = args.next().transpose()?.unwrap_or(4);
    let messages = args.next().transpose()?.unwrap_or(100);
    let buffers = args.next().transpose()?.unwrap_or(16) as u32;

    let mut ring = Builder::<Sqe64, Cqe16>::new(256).single_issuer().defer_taskrun().build()?;
    let bufs = ring.register_buf_ring(BufRingConfig::new(GROUP, buffers, BUF_LEN))?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut server = Server { ring, bufs, listener, conns: Vec::new(), starved: Vec::new(), stats: Stats::default() };
    server.arm_accept()?;

    let threads: Vec<_> = (0..clients).map(|id| std::thread::spawn(move || client(addr, id, messages))).collect();

    let start = Instant::now();
    let mut batch = [Cqe::default(); 64];
    while server.stats.closed < clients as u32 {
        let Some(left) = TIMEOUT.checked_sub(start.elapsed()) else {
            return Err(format!("timed out with {} of {clients} connections closed", server.stats.closed).into());
        };
        let (_, ready) = server.ring.submit_and_wait_timeout(1, left.min(WAIT_SLICE))?;
        if ready == 0 {
            std::thread::yield_now();
        }
        while let n @ 1.. = server.ring.completion().copy_into(&mut batch) {
            for cqe in &batch[..n] {
                server.handle(*cqe)?;
            }
        }
    }
    let elapsed = start.elapsed();
    for (id, t) in threads.into_iter().enumerate() {
        t.join().map_err(|_| format!("client {id} panicked"))?.map_err(|e| format!("client {id}: {e}"))?;
    }
    let Stats { accepted, bytes, enobufs, .. } = server.stats;
    let msgs = clients * messages;
    println!(
        "echo: {accepted} connections, {msgs} messages, {bytes} bytes echoed, {enobufs} ENOBUFS, in {elapsed:.1?}"
    );
    Ok(())
}
