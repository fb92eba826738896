//! [`Loopback`]: an in-memory transport whose "server" is a function of each command. For unit
//! tests of code written over the model, and as the smallest example of a transport: it only
//! moves bytes between the pipeline and something that answers.

use alloc::vec::Vec;

use super::backend::{AsyncTransport, Transport};
use super::error::{Error, Result};
use crate::codec::decode::{Limits, decode_reply};
use crate::codec::error::DecodeError;
use crate::codec::reply::Reply;
use crate::engine::VecPipeline;
use crate::engine::read_buffer::ReadBuffer;

/// A transport that answers each command with `answer(words)`, which returns the raw RESP reply
/// (several replies for one command, or none, desynchronize the stream as a real server would).
///
/// ```
/// use redpipe_core::{prelude::*, Loopback, Transport, VecPipeline};
/// let mut server = Loopback::new(|words: &[&[u8]]| match words {
///     [b"ECHO", text] => [&b"$"[..], text.len().to_string().as_bytes(), b"\r\n", text, b"\r\n"].concat(),
///     _ => b"-ERR unknown command\r\n".to_vec(),
/// });
/// let mut p = VecPipeline::new();
/// let hi = p.echo::<String>("hi").unwrap();
/// server.run(&mut p).unwrap();
/// assert_eq!(hi.read(&p).unwrap(), "hi");
/// ```
pub struct Loopback<F> {
    answer: F,
    buf: ReadBuffer<Vec<u8>>,
}

impl<F> core::fmt::Debug for Loopback<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Loopback").finish_non_exhaustive()
    }
}

impl<F: FnMut(&[&[u8]]) -> Vec<u8>> Loopback<F> {
    /// A transport answering with `answer`.
    pub fn new(answer: F) -> Self {
        Self {
            answer,
            buf: ReadBuffer::new(Vec::new()),
        }
    }

    fn exchange(&mut self, p: &mut VecPipeline) -> Result<()> {
        let limits = Limits::default();
        loop {
            let out = p.poll_output();
            let sent = out.len();
            let mut replies = Vec::new();
            let mut rest = out;
            while !rest.is_empty() {
                // Our own encoding: a RESP array of bulk strings, which the reply reader reads.
                let Ok(Some((Reply::Array(command), used))) = decode_reply(rest, &limits) else {
                    return Err(Error::Protocol(DecodeError::UnexpectedReply));
                };
                let words: Vec<&[u8]> = command
                    .iter()
                    .filter_map(|w| match w {
                        Reply::Bulk(b) => Some(b),
                        _ => None,
                    })
                    .collect();
                replies.extend((self.answer)(&words));
                rest = &rest[used..];
            }
            p.consume_output(sent);
            if p.is_done() && replies.is_empty() {
                return Ok(());
            }
            if let Err(failure) = self.buf.feed(p, &replies) {
                return Err(failure.into());
            }
            if sent == 0 && !p.is_done() {
                // The answers ran out before the replies did.
                p.fail(crate::codec::error::Failure::Closed);
                return Err(Error::Closed);
            }
        }
    }
}

impl<F: FnMut(&[&[u8]]) -> Vec<u8>> Transport for Loopback<F> {
    fn run(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.exchange(p)
    }
}

impl<F: FnMut(&[&[u8]]) -> Vec<u8>> AsyncTransport for Loopback<F> {
    async fn run_async(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.exchange(p)
    }
}
