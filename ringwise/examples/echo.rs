//! A TCP echo server on loopback with owned I/O: no `unsafe`, no raw fd,
//! no buffer whose lifetime the program has to reason about.
//!
//! - one [`AcceptMulti`] stream hands out each connection as an `OwnedFd`
//!   (set to `TCP_NODELAY`: echoes of messages larger than one buffer go out
//!   at once instead of waiting for Nagle's delayed ACK);
//! - one [`RecvMulti`] stream per connection receives into a shared
//!   [`BufGroup`]: no buffer is tied up in an idle connection;
//! - each received [`RingBuf`] is sent straight back (no copy) by an owned
//!   [`Send`](ops::Send), and goes back to the group when the send is done
//!   (a short send re-sends the rest of the same buffer);
//! - `ENOBUFS` (every buffer is out, being echoed) ends a connection's
//!   receive stream; it is re-armed once its sends gave buffers back.
//!
//! N client threads (std `TcpStream`) each send M messages of up to 9 KB
//! and check the echo; the server stops when every connection closed.
//!
//! Run: `cargo run --release -p ringwise --example echo [-- CLIENTS MESSAGES BUFFERS]`
//! (defaults 4 100 16; try BUFFERS 2 to see ENOBUFS and re-arming).

use ringwise::owned::{ops, BufGroup, Driver, IoBuf, Op, RingBuf, SharedFd, Slice, Stream};
use ringwise::register::BufRingConfig;
use ringwise::Errno;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const GROUP: u16 = 0;
const BUF_LEN: u32 = 4096;
const TIMEOUT: Duration = Duration::from_secs(20);
/// The longest single wait in the kernel. One long wait would do; slices,
/// each followed by a yield, keep the example runnable under valgrind 3.19,
/// which holds every other thread (here: the clients) while one thread
/// blocks in `io_uring_enter`, and lets them run only at a yield.
const WAIT_SLICE: Duration = Duration::from_millis(20);

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// One connection: its receive stream, and the buffers being echoed (the
/// front one is being sent).
struct Conn {
    fd: SharedFd,
    recv: Option<Stream<ops::RecvMulti>>,
    sending: Option<Op<ops::Send<Slice<RingBuf>>>>,
    queued: VecDeque<Slice<RingBuf>>,
    /// The peer closed (or the connection failed): close once every byte
    /// went back.
    done: bool,
}

#[derive(Default, Debug)]
struct Stats {
    accepted: u32,
    closed: u32,
    bytes: u64,
    enobufs: u32,
}

struct Server {
    driver: Driver,
    group: BufGroup,
    accept: Stream<ops::AcceptMulti>,
    listener: SharedFd,
    conns: Vec<Conn>,
    stats: Stats,
}

impl Server {
    /// Everything that completed since the last call.
    fn step(&mut self) -> Result {
        while let Ok(Some(conn)) = self.accept.try_next() {
            // A stream that ended (it should not) is re-armed below.
            let stream = TcpStream::from(conn?);
            stream.set_nodelay(true)?;
            let fd = SharedFd::from(stream);
            let recv = ops::RecvMulti::submit(&self.driver, &fd, &self.group)?;
            self.conns.push(Conn { fd, recv: Some(recv), sending: None, queued: VecDeque::new(), done: false });
            self.stats.accepted += 1;
        }
        if let Ok(None) = self.accept.try_next() {
            self.accept = self.driver.submit_stream(ops::AcceptMulti::new(&self.listener))?;
        }
        for conn in &mut self.conns {
            Server::serve(&self.driver, &self.group, conn, &mut self.stats)?;
        }
        let before = self.conns.len();
        self.conns.retain(|c| !(c.done && c.sending.is_none() && c.queued.is_empty() && c.recv.is_none()));
        self.stats.closed += (before - self.conns.len()) as u32;
        Ok(())
    }

    fn serve(driver: &Driver, group: &BufGroup, conn: &mut Conn, stats: &mut Stats) -> Result {
        // What arrived.
        if let Some(recv) = &mut conn.recv {
            loop {
                match recv.try_next() {
                    Ok(Some(Ok(Some(buf)))) => {
                        stats.bytes += buf.len() as u64;
                        let len = buf.len();
                        conn.queued.push_back(buf.slice(..len));
                    }
                    // The peer closed.
                    Ok(Some(Ok(None))) => conn.done = true,
                    // Every buffer is out: re-armed once sends return some.
                    Ok(Some(Err(Errno::NOBUFS))) => stats.enobufs += 1,
                    Ok(Some(Err(e))) => {
                        eprintln!("echo: receive failed: {e}");
                        conn.done = true;
                    }
                    Ok(None) => {
                        conn.recv = None;
                        break;
                    }
                    Err(()) => break,
                }
            }
        }
        // What was sent.
        if let Some(op) = conn.sending.take() {
            match op.try_take() {
                Ok((Ok(n), buf)) if n < buf.bytes_init() => {
                    // Short send: the rest of the same buffer goes next.
                    let (begin, end) = (buf.begin() + n, buf.end());
                    conn.queued.push_front(buf.into_inner().slice(begin..end));
                }
                // Done: dropping the buffer gives it back to the group.
                Ok((Ok(_), _buf)) => {}
                Ok((Err(e), _)) => {
                    eprintln!("echo: send failed: {e}");
                    conn.done = true;
                    conn.queued.clear();
                }
                Err(op) => conn.sending = Some(op),
            }
        }
        if conn.sending.is_none() {
            if let Some(buf) = conn.queued.pop_front() {
                conn.sending = Some(driver.submit(ops::Send::new(&conn.fd, buf))?);
            }
        }
        // A receive stream that ended on ENOBUFS is re-armed once nothing
        // of this connection is waiting to be sent.
        if conn.recv.is_none() && !conn.done && conn.sending.is_none() && conn.queued.is_empty() {
            conn.recv = Some(ops::RecvMulti::submit(driver, &conn.fd, group)?);
        }
        Ok(())
    }
}

fn client(addr: SocketAddr, id: usize, messages: usize) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut echo = Vec::new();
    for i in 0..messages {
        // Up to 9 KB: more than two of the server's 4 KiB buffers.
        let msg = format!("client {id} message {i} {}\n", "x".repeat((id * 3001 + i * 977) % 9000));
        stream.write_all(msg.as_bytes())?;
        echo.resize(msg.len(), 0);
        stream.read_exact(&mut echo)?;
        if echo != msg.as_bytes() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad echo for message {i}")));
        }
    }
    Ok(())
}

fn main() -> Result {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let clients = args.next().transpose()?.unwrap_or(4);
    let messages = args.next().transpose()?.unwrap_or(100);
    let buffers = args.next().transpose()?.unwrap_or(16) as u32;

    let driver = Driver::new(256)?;
    let group = BufGroup::register(&driver, BufRingConfig::new(GROUP, buffers, BUF_LEN))?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let listener = SharedFd::from(listener);
    let accept = driver.submit_stream(ops::AcceptMulti::new(&listener))?;
    let mut server = Server { driver, group, accept, listener, conns: Vec::new(), stats: Stats::default() };

    let threads: Vec<_> = (0..clients).map(|id| std::thread::spawn(move || client(addr, id, messages))).collect();

    let start = Instant::now();
    while server.stats.closed < clients as u32 {
        let Some(left) = TIMEOUT.checked_sub(start.elapsed()) else {
            return Err(format!("timed out with {} of {clients} connections closed", server.stats.closed).into());
        };
        if server.driver.wait_timeout(1, left.min(WAIT_SLICE))? == 0 {
            std::thread::yield_now();
        }
        server.step()?;
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
