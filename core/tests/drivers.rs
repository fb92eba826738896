//! The embedded-io drivers against in-memory streams that misbehave the ways real ones do:
//! one byte per read, short writes, interruptions, EOF in the middle of a reply.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report
#![cfg(all(feature = "embedded-io", feature = "alloc"))]

use embedded_io::ErrorKind;
use redpipe_core::ReadBuffer;
use redpipe_core::io::{DriveError, execute};
use redpipe_core::prelude::*;
use redpipe_core::{Entry, Failure, IoKind, SlicePipeline, VecPipeline};

/// A scripted peer: records what is written, serves `replies` once everything expected was
/// written, in reads of at most `read_max` bytes, with an `Interrupted` before every read and
/// write when `interrupt` is set.
struct Peer {
    written: Vec<u8>,
    expect_written: usize,
    replies: Vec<u8>,
    pos: usize,
    read_max: usize,
    write_max: usize,
    interrupt: bool,
    interrupted_last: bool,
    /// Fail reads with this kind once the replies run out (instead of EOF).
    then: Option<ErrorKind>,
}

impl Peer {
    fn new(replies: &[u8]) -> Self {
        Self {
            written: Vec::new(),
            expect_written: 0,
            replies: replies.to_vec(),
            pos: 0,
            read_max: usize::MAX,
            write_max: usize::MAX,
            interrupt: false,
            interrupted_last: false,
            then: None,
        }
    }
    fn interrupt_now(&mut self) -> bool {
        if self.interrupt && !self.interrupted_last {
            self.interrupted_last = true;
            return true;
        }
        self.interrupted_last = false;
        false
    }
}

impl embedded_io::ErrorType for Peer {
    type Error = ErrorKind;
}

impl embedded_io::Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if self.interrupt_now() {
            return Err(ErrorKind::Interrupted);
        }
        assert!(
            self.written.len() >= self.expect_written,
            "read before the whole pipeline was written"
        );
        let rest = &self.replies[self.pos..];
        if rest.is_empty() {
            return match self.then {
                Some(kind) => Err(kind),
                None => Ok(0),
            };
        }
        let n = rest.len().min(buf.len()).min(self.read_max);
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl embedded_io::Write for Peer {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        if self.interrupt_now() {
            return Err(ErrorKind::Interrupted);
        }
        let n = buf.len().min(self.write_max);
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// A scripted peer cannot tell what is waiting: nothing is, between pipelines.
impl embedded_io::ReadReady for Peer {
    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        Ok(false)
    }
}

fn queue(p: &mut VecPipeline) -> (Deferred<i64>, Deferred<Option<String>>, Deferred<i64>) {
    (
        p.incr("a").unwrap(),
        p.get("b").unwrap(),
        p.incrby("c", 10).unwrap(),
    )
}

const REPLIES: &[u8] = b":1\r\n$5\r\nhello\r\n:10\r\n";

#[test]
fn awkward_streams_give_the_same_results() {
    for (read_max, write_max, interrupt) in [
        (usize::MAX, usize::MAX, false),
        (1, usize::MAX, false),
        (usize::MAX, 1, false),
        (1, 1, true),
        (3, 7, true),
    ] {
        let mut p = VecPipeline::new();
        let (a, b, c) = queue(&mut p);
        let mut peer = Peer::new(REPLIES);
        peer.expect_written = p.encoded().len();
        peer.read_max = read_max;
        peer.write_max = write_max;
        peer.interrupt = interrupt;
        let mut buf = ReadBuffer::growable();
        execute(&mut peer, &mut p, &mut buf).unwrap();
        assert_eq!(peer.written, p.encoded());
        assert_eq!(a.read(&p), Ok(1));
        assert_eq!(b.read(&p), Ok(Some("hello".into())));
        assert_eq!(c.read(&p), Ok(10));
    }
}

#[test]
fn eof_mid_reply_fails_the_waiting_slots() {
    let mut p = VecPipeline::new();
    let (a, b, c) = queue(&mut p);
    let mut peer = Peer::new(b":1\r\n$5\r\nhel");
    let mut buf = ReadBuffer::growable();
    let err = execute(&mut peer, &mut p, &mut buf).unwrap_err();
    assert!(matches!(err, DriveError::Closed));
    assert_eq!(a.read(&p), Ok(1));
    assert_eq!(b.read(&p), Err(SlotError::Failed(Failure::Closed)));
    assert_eq!(c.read(&p), Err(SlotError::Failed(Failure::Closed)));
}

#[test]
fn io_errors_keep_their_kind() {
    let mut p = VecPipeline::new();
    let (a, b, _) = queue(&mut p);
    let mut peer = Peer::new(b":1\r\n");
    peer.then = Some(ErrorKind::TimedOut);
    let mut buf = ReadBuffer::growable();
    let err = execute(&mut peer, &mut p, &mut buf).unwrap_err();
    assert!(matches!(err, DriveError::Io(ErrorKind::TimedOut)));
    assert_eq!(a.read(&p), Ok(1));
    assert_eq!(
        b.read(&p),
        Err(SlotError::Failed(Failure::Io(IoKind::TimedOut)))
    );
}

#[test]
fn protocol_errors_fail_the_pipeline() {
    let mut p = VecPipeline::new();
    let (a, b, _) = queue(&mut p);
    let mut peer = Peer::new(b":1\r\n$5\r\nhello\r\n:1\r\n:2\r\n");
    let mut buf = ReadBuffer::growable();
    let err = execute(&mut peer, &mut p, &mut buf).unwrap_err();
    // The stray fourth reply arrived in the same read as the third: still refused.
    assert!(matches!(err, DriveError::Protocol(_)), "{err:?}");
    assert_eq!(a.read(&p), Ok(1));
    let _ = b;
}

#[test]
fn fixed_buffers_without_allocator_and_a_reply_too_large() {
    let (mut out, mut replies, mut table) = ([0u8; 128], [0u8; 128], [Entry::EMPTY; 4]);
    let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
    let a = p.incr("a").unwrap();
    let b = p.get::<&str>("b").unwrap();
    let mut storage = [0u8; 8];
    let mut buf = ReadBuffer::fixed(&mut storage);
    let mut peer = Peer::new(b":1\r\n$5\r\nhello\r\n");
    peer.read_max = 3;
    let err = execute(&mut peer, &mut p, &mut buf).unwrap_err();
    assert!(matches!(err, DriveError::ReplyTooLarge(_)), "{err:?}");
    assert_eq!(a.read(&p), Ok(1));
    assert!(matches!(
        b.read(&p),
        Err(SlotError::Failed(Failure::Capacity(_)))
    ));

    // With room for the largest reply the same stream works one byte at a time.
    let (mut out, mut replies, mut table) = ([0u8; 128], [0u8; 128], [Entry::EMPTY; 4]);
    let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
    let a = p.incr("a").unwrap();
    let b = p.get::<&str>("b").unwrap();
    let mut storage = [0u8; 16];
    let mut buf = ReadBuffer::fixed(&mut storage);
    let mut peer = Peer::new(b":1\r\n$5\r\nhello\r\n");
    peer.read_max = 1;
    execute(&mut peer, &mut p, &mut buf).unwrap();
    assert_eq!((a.read(&p), b.read(&p)), (Ok(1), Ok("hello")));
}

#[test]
fn empty_pipeline_does_no_io_and_runs_callbacks() {
    let mut p = VecPipeline::new();
    let c = p.on_execute(|_| "ran");
    let mut peer = Peer::new(b"");
    peer.then = Some(ErrorKind::Other);
    let mut buf = ReadBuffer::growable();
    execute(&mut peer, &mut p, &mut buf).unwrap();
    assert_eq!(c.read(&p), Ok(&"ran"));
    assert!(peer.written.is_empty());
}

#[cfg(feature = "embedded-io-async")]
mod async_driver {
    use super::*;
    use redpipe_core::io::execute_async;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    impl embedded_io_async::Read for Peer {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
            embedded_io::Read::read(self, buf)
        }
    }
    impl embedded_io_async::Write for Peer {
        async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
            embedded_io::Write::write(self, buf)
        }
        async fn flush(&mut self) -> Result<(), ErrorKind> {
            Ok(())
        }
    }

    /// The peer is always ready, so the future completes without a real executor.
    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn async_driver_matches_the_blocking_one() {
        for (read_max, write_max, interrupt) in [(usize::MAX, usize::MAX, false), (1, 2, true)] {
            let mut p = VecPipeline::new();
            let (a, b, c) = queue(&mut p);
            let mut peer = Peer::new(REPLIES);
            peer.expect_written = p.encoded().len();
            (peer.read_max, peer.write_max, peer.interrupt) = (read_max, write_max, interrupt);
            let mut buf = ReadBuffer::growable();
            block_on(execute_async(&mut peer, &mut p, &mut buf)).unwrap();
            assert_eq!(a.read(&p), Ok(1));
            assert_eq!(b.read(&p), Ok(Some("hello".into())));
            assert_eq!(c.read(&p), Ok(10));
        }
        let mut p = VecPipeline::new();
        let (a, b, _) = queue(&mut p);
        let mut peer = Peer::new(b":1\r\n$5\r\nhel");
        let mut buf = ReadBuffer::growable();
        let err = block_on(execute_async(&mut peer, &mut p, &mut buf)).unwrap_err();
        assert!(matches!(err, DriveError::Closed));
        assert_eq!(a.read(&p), Ok(1));
        assert_eq!(b.read(&p), Err(SlotError::Failed(Failure::Closed)));
    }
}

#[test]
fn a_driver_gives_back_the_memory_of_a_large_reply() {
    use redpipe_core::INITIAL_READ_BUFFER;
    use redpipe_core::io::Driver;
    let big = "x".repeat(4 << 20);
    let reply = [
        format!("${}\r\n", big.len()).as_bytes(),
        big.as_bytes(),
        b"\r\n",
    ]
    .concat();
    let mut p = VecPipeline::new();
    let value = p.get::<String>("big").unwrap();
    let mut peer = Peer::new(&reply);
    peer.expect_written = p.encoded().len();
    let mut driver = Driver::new(peer, ReadBuffer::growable());
    driver.execute(&mut p).unwrap();
    assert_eq!(value.read(&p).map(|v| v.len()), Ok(big.len()));
    // It grew to hold the reply whole, and shrank back once it was used.
    assert_eq!(driver.read_buffer().size(), INITIAL_READ_BUFFER);
}
