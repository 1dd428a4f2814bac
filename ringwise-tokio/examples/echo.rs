//! An async TCP echo server on tokio, whose connections are served with
//! ringwise's owned `Recv`/`Send` ops: no `unsafe`, every op a future, one
//! ring per runtime worker (`ringwise_tokio::current()`).
//!
//! ```text
//! cargo run -p ringwise-tokio --example echo                # serve 127.0.0.1:7878
//! cargo run -p ringwise-tokio --example echo -- 0.0.0.0:9000
//! cargo run -p ringwise-tokio --example echo -- --self-test # serve, and check 16 clients
//! ```
//!
//! Connections come from an owned multishot accept on the ring
//! ([`ops::AcceptMulti`]): each is an `OwnedFd` (set to `TCP_NODELAY`), and
//! one that nobody takes is closed by the library.

use ringwise::owned::{ops, IoBuf, SharedFd};
use std::io;
use std::net::SocketAddr;

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let self_test = args.iter().any(|a| a == "--self-test");
    let default = if self_test { "127.0.0.1:0" } else { "127.0.0.1:7878" };
    let addr = args.iter().find(|a| !a.starts_with("--")).map_or(default, String::as_str).to_owned();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let listener = std::net::TcpListener::bind(&addr)?;
        let local = listener.local_addr()?;
        let listener = SharedFd::from(listener);
        println!("echo server on {local}");
        if self_test {
            tokio::spawn(serve(listener));
            return clients(local, 16, 100).await;
        }
        serve(listener).await
    })
}

/// Accept connections forever, one task per connection.
async fn serve(listener: SharedFd) -> io::Result<()> {
    let ring = ringwise_tokio::current()?;
    let mut accept = ring.submit_stream(ops::AcceptMulti::new(&listener))?;
    loop {
        let conn = match accept.next().await {
            Some(conn) => conn?,
            // The kernel ended the multishot accept (it may): re-arm it.
            None => {
                accept = ring.submit_stream(ops::AcceptMulti::new(&listener))?;
                continue;
            }
        };
        let stream = std::net::TcpStream::from(conn);
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr()?;
        let conn = SharedFd::from(stream);
        tokio::spawn(async move {
            if let Err(e) = echo(conn).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// Send back everything received on `conn` until the peer closes it.
async fn echo(conn: SharedFd) -> io::Result<()> {
    let ring = ringwise_tokio::current()?;
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        buf.clear();
        // The buffer moves into the op and comes back with the result.
        let (n, b) = ring.submit(ops::Recv::new(&conn, buf))?.await;
        buf = b;
        let n = n?;
        if n == 0 {
            return Ok(());
        }
        buf = send_all(&conn, buf).await?;
    }
}

/// Send all of `buf`'s data on `conn` (a send may take only part of it);
/// the buffer back.
async fn send_all(conn: &SharedFd, mut buf: Vec<u8>) -> io::Result<Vec<u8>> {
    let ring = ringwise_tokio::current()?;
    let len = buf.len();
    let mut sent = 0;
    while sent < len {
        let (n, part) = ring.submit(ops::Send::new(conn, buf.slice(sent..len)))?.await;
        buf = part.into_inner();
        match n? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => sent += n,
        }
    }
    Ok(buf)
}

/// `count` clients, each sending `messages` messages of different sizes
/// and checking that each comes back whole.
async fn clients(server: SocketAddr, count: usize, messages: usize) -> io::Result<()> {
    let mut set = tokio::task::JoinSet::new();
    for c in 0..count {
        set.spawn(async move {
            let stream = tokio::task::spawn_blocking(move || std::net::TcpStream::connect(server)).await??;
            let conn = SharedFd::from(stream);
            let ring = ringwise_tokio::current()?;
            let mut back = Vec::with_capacity(64 * 1024);
            for m in 0..messages {
                let len = 1 + (c * 7919 + m * 104_729) % 40_000;
                let msg: Vec<u8> = (0..len).map(|i| (i + c + m) as u8).collect();
                let msg = send_all(&conn, msg).await?;
                back.clear();
                while back.len() < len {
                    let have = back.len();
                    let (n, part) = ring.submit(ops::Recv::new(&conn, back.slice(have..)))?.await;
                    back = part.into_inner();
                    if n? == 0 {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed early"));
                    }
                }
                if back != msg {
                    return Err(io::Error::other(format!("client {c}: message {m} came back different")));
                }
            }
            Ok::<_, io::Error>(())
        });
    }
    while let Some(done) = set.join_next().await {
        done.map_err(io::Error::other)??;
    }
    println!("self-test: {count} clients x {messages} messages echoed intact");
    Ok(())
}
