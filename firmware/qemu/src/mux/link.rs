//! [`Link`]: the one connection under the mux. What [`Mux::poll_transmit`] commits goes to the
//! UART, what the UART received goes to [`Mux::handle_input`], and nothing ever waits: a task's
//! turn comes after each pump, whatever the UART is doing.

use embedded_io::{Read, ReadReady, Write, WriteReady};
use redpipe_core::io::io_failure;
use redpipe_core::mux::{Mux, Ring, Submitted};
use redpipe_core::{CapacityError, Failure, ReadBuffer, SliceStore, Storage, Store};

/// A stream shared through a mux, with its two fixed buffers.
pub(crate) struct Link<'b, T> {
    io: T,
    /// What the last [`Mux::poll_transmit`] committed; written from `written` on.
    out: SliceStore<'b, u8>,
    written: usize,
    /// Bytes read but not used yet: a reply still arriving. It MUST hold the largest reply.
    input: ReadBuffer<SliceStore<'b, u8>>,
    /// Writes that carried committed bytes, for the report: fewer than the pipelines means
    /// that pipelines of both tasks went out together.
    pub(crate) writes: u32,
}

impl<'b, T: Read + Write + ReadReady + WriteReady> Link<'b, T> {
    /// A link over `io`, writing through `out` (the most one write carries: a command larger
    /// than it fails its pipeline) and reading into `input`.
    pub(crate) fn new(io: T, out: &'b mut [u8], input: ReadBuffer<SliceStore<'b, u8>>) -> Self {
        Self {
            io,
            out: SliceStore::new(out),
            written: 0,
            input,
            writes: 0,
        }
    }

    /// Does what the stream allows now without waiting: once the last write is out, takes
    /// everything ready to go (every task's pipelines, in submission order) into one; writes
    /// what the UART takes; reads what it received and hands it to the mux. A failed
    /// connection fails the mux, and so every pipeline on it.
    pub(crate) fn pump<S, Q>(&mut self, mux: &mut Mux<S, Q>)
    where
        S: Submitted,
        Q: Ring<S>,
    {
        if mux.failure().is_some() {
            return;
        }
        if let Err(failure) = self.turn(mux) {
            // `handle_input` fails the mux itself on a protocol error.
            if mux.failure().is_none() {
                mux.fail(failure);
            }
        }
    }

    fn turn<S, Q>(&mut self, mux: &mut Mux<S, Q>) -> Result<(), Failure>
    where
        S: Submitted,
        Q: Ring<S>,
    {
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
            // Committed: these bytes MUST all be written, or the mux failed.
            if mux.poll_transmit(&mut self.out) > 0 {
                self.writes += 1;
            }
        }
        let io = &mut self.io;
        while self.written < self.out.len() && io.write_ready().map_err(|e| io_failure(&e))? {
            match io.write(&self.out.as_slice()[self.written..]) {
                Ok(0) => return Err(Failure::Closed),
                Ok(n) => self.written += n,
                Err(e) => return Err(io_failure(&e)),
            }
        }
        while io.read_ready().map_err(|e| io_failure(&e))? {
            let n = self.input.read_with(|spare| io.read(spare));
            match n {
                // The end of the stream (never, on a UART).
                Ok(0) if self.input.filled().len() < self.input.size() => {
                    return Err(Failure::Closed);
                }
                Ok(0) => {
                    // Full, without one whole reply in it: a reply larger than the buffer.
                    let capacity = self.input.size();
                    return Err(Failure::Capacity(CapacityError {
                        store: Store::ReadBuffer,
                        needed: capacity + 1,
                        capacity,
                    }));
                }
                Ok(_) => {}
                Err(e) => return Err(io_failure(&e)),
            }
            let used = mux
                .handle_input(self.input.filled())
                .map_err(Failure::Protocol)?;
            self.input.consume(used);
        }
        Ok(())
    }
}
