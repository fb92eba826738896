//! What a connection must check before sending or finishing a pipeline, shared by the blocking
//! and the tokio connection so that both keep the same rules.

use redpipe_core::holds_reply;
use redpipe_core::io::ReadBuffer;
use redpipe_core::{DecodeError, Failure, Limits, VecPipeline};

use crate::config::ConnectionInfo;
use crate::error::{Error, Result};

/// Whether a connection is usable, and whether a pipeline is between `send` and `finish`.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// A failure (or a run that did not complete) left the stream at an unknown position.
    pub(crate) broken: bool,
    in_flight: bool,
}

/// Whether bytes that arrived since the last pipeline, already in `buf` or read now by
/// `read_pending` (which must not block), hold a reply the next pipeline would take as its own.
/// RESP3 pushes do not count: they stay in `buf`, and the pipeline reads and sets them aside.
pub(crate) fn stray_reply(
    buf: &mut ReadBuffer<Vec<u8>>,
    limits: &Limits,
    read_pending: impl FnOnce(&mut [u8]) -> std::io::Result<usize>,
) -> bool {
    // A failed read shows again, with its reason, on the pipeline's own write or read.
    let _ = buf.read_with(read_pending);
    holds_reply(buf.filled(), limits)
}

impl State {
    /// Before sending `p`: refuses (failing `p`'s slots) on a broken connection, while another
    /// pipeline is in flight, or when `stray()` finds bytes that would be read as `p`'s first
    /// reply. Marks the connection broken until [`sent`](Self::sent) says otherwise, so that a
    /// dropped future leaves it broken.
    pub(crate) fn before_send(
        &mut self,
        p: &mut VecPipeline,
        info: &ConnectionInfo,
        stray: impl FnOnce() -> bool,
    ) -> Result<()> {
        if self.in_flight {
            p.fail(Failure::Cancelled);
            return Err(Error::Config(
                "a pipeline is still in flight on this connection: finish it first".into(),
            ));
        }
        if !self.broken && stray() {
            self.broken = true;
            p.fail(Failure::Protocol(DecodeError::UnexpectedReply));
            return Err(Error::Protocol(DecodeError::UnexpectedReply));
        }
        if self.broken {
            p.fail(Failure::Closed);
            return Err(Error::Closed);
        }
        p.set_window(info.window);
        p.set_limits(info.limits);
        self.broken = true;
        self.in_flight = true;
        Ok(())
    }

    /// After sending: in flight if it worked, broken if not.
    pub(crate) fn sent<E: Into<Error>>(
        &mut self,
        result: std::result::Result<(), E>,
    ) -> Result<()> {
        self.broken = result.is_err();
        self.in_flight = result.is_ok();
        result.map_err(Into::into)
    }

    /// Before finishing `p`: refuses (failing its slots) on a broken connection.
    pub(crate) fn before_finish(&mut self, p: &mut VecPipeline) -> Result<()> {
        self.in_flight = false;
        if self.broken {
            p.fail(Failure::Closed);
            return Err(Error::Closed);
        }
        self.broken = true;
        Ok(())
    }

    /// After finishing: broken if it failed.
    pub(crate) fn finished<E: Into<Error>>(
        &mut self,
        result: std::result::Result<(), E>,
    ) -> Result<()> {
        self.broken = result.is_err();
        result.map_err(Into::into)
    }
}
