//! Scripted peers: a one-connection fake server that runs a script on its socket, for faults a
//! real redis-server does not produce on demand (stray replies, trickled bytes, garbage).

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use redpipe::ConnectionInfo;

/// A one-connection fake server on a free loopback port: accepts one connection and runs
/// `script` on it. The settings have 2 s timeouts.
pub fn fake_server(script: impl FnOnce(TcpStream) + Send + 'static) -> ConnectionInfo {
    let listener = TcpListener::bind("127.0.0.1:0").expect("no free loopback port");
    let port = listener.local_addr().expect("bound").port();
    std::thread::spawn(move || {
        if let Ok((s, _)) = listener.accept() {
            script(s);
        }
    });
    ConnectionInfo::tcp("127.0.0.1", port).timeout(Duration::from_secs(2))
}

/// A fake server that runs `scripts` on its connections, one script per connection in the order
/// they come.
pub fn fake_servers(scripts: Vec<Box<dyn FnOnce(TcpStream) + Send>>) -> ConnectionInfo {
    let listener = TcpListener::bind("127.0.0.1:0").expect("no free loopback port");
    let port = listener.local_addr().expect("bound").port();
    std::thread::spawn(move || {
        for script in scripts {
            match listener.accept() {
                Ok((s, _)) => {
                    std::thread::spawn(move || script(s));
                }
                Err(_) => return,
            }
        }
    });
    ConnectionInfo::tcp("127.0.0.1", port).timeout(Duration::from_secs(2))
}

/// Reads until `n` commands (arrays) have arrived; returns their bytes.
pub fn read_commands(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got
        .windows(2)
        .filter(|w| w[0] == b'\n' && w[1] == b'*')
        .count()
        + 1
        < n
        || !got.ends_with(b"\r\n")
    {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => got.extend_from_slice(&buf[..k]),
        }
    }
    got
}

/// Runs `f` on a thread and returns what it returns; panics if it has not finished after
/// `limit`: a guard that turns a hang into a failed test instead of a stuck suite.
pub fn finishes_within<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => panic!("still running after {limit:?}: it hangs"),
    }
}

/// Reads whole commands (arrays of bulk strings) from a client socket.
#[derive(Debug, Default)]
pub struct Commands {
    buf: Vec<u8>,
}

impl Commands {
    /// The next command's words, or `None` when the client closed or the socket failed.
    pub fn next(&mut self, s: &mut TcpStream) -> Option<Vec<Vec<u8>>> {
        let limits = redpipe::core::Limits::default();
        loop {
            if let Ok(Some((redpipe::Reply::Array(words), used))) =
                redpipe::core::decode_reply(&self.buf, &limits)
            {
                let words = words
                    .iter()
                    .map(|w| match w {
                        redpipe::Reply::Bulk(b) => b.to_vec(),
                        _ => Vec::new(),
                    })
                    .collect();
                self.buf.drain(..used);
                return Some(words);
            }
            let mut chunk = [0u8; 65536];
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}
