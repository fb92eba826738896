//! [`Serial`]: a polled UART as an embedded-io stream, blocking and async, which is all the
//! core's `io::Driver` needs; it also says when it is ready to read or write, for a link that
//! must never wait (the mux image's).

use core::convert::Infallible;
use core::future::poll_fn;
use core::hint::spin_loop;
use core::task::Poll;

/// A board's UART, byte by byte, without interrupts.
pub trait Port {
    /// Whether a received byte waits.
    fn can_read(&self) -> bool;
    /// Takes the received byte. Called only after [`Self::can_read`] said one waits.
    fn read_byte(&mut self) -> u8;
    /// Whether the transmitter takes a byte now.
    fn can_write(&self) -> bool;
    /// Hands a byte to the transmitter. Called only after [`Self::can_write`] said it may.
    fn write_byte(&mut self, byte: u8);
}

/// A UART as a byte stream. Its errors are [`Infallible`]: a UART cannot tell that the peer
/// went away, so a lost server shows as a read that never returns (the harness's time limit).
pub struct Serial<P>(P);

impl<P: Port> Serial<P> {
    pub fn new(port: P) -> Self {
        Self(port)
    }

    /// Moves the bytes that wait into `buf`; how many (0 when none waits).
    fn take_waiting(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() && self.0.can_read() {
            buf[n] = self.0.read_byte();
            n += 1;
        }
        n
    }

    /// Hands bytes of `buf` to the transmitter while it takes them; how many.
    fn give_accepted(&mut self, buf: &[u8]) -> usize {
        let mut n = 0;
        while n < buf.len() && self.0.can_write() {
            self.0.write_byte(buf[n]);
            n += 1;
        }
        n
    }
}

impl<P> embedded_io::ErrorType for Serial<P> {
    type Error = Infallible;
}

impl<P: Port> embedded_io::Read for Serial<P> {
    /// Blocks until a byte arrived (embedded-io's contract for a non-empty `buf`), then takes
    /// every byte that waits.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        while !self.0.can_read() {
            spin_loop();
        }
        Ok(self.take_waiting(buf))
    }
}

impl<P: Port> embedded_io::ReadReady for Serial<P> {
    /// Between pipelines the driver reads what is ready, to catch a stray reply.
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(self.0.can_read())
    }
}

impl<P: Port> embedded_io::WriteReady for Serial<P> {
    /// A link that must not wait (several tasks on one connection) writes only when the
    /// transmitter takes a byte.
    fn write_ready(&mut self) -> Result<bool, Infallible> {
        Ok(self.0.can_write())
    }
}

impl<P: Port> embedded_io::Write for Serial<P> {
    /// Blocks until the transmitter takes a byte, then gives it every byte it takes at once.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        while !self.0.can_write() {
            spin_loop();
        }
        Ok(self.give_accepted(buf))
    }

    /// Waits until the transmitter took the last byte (QEMU has then passed it to the socket).
    fn flush(&mut self) -> Result<(), Infallible> {
        while !self.0.can_write() {
            spin_loop();
        }
        Ok(())
    }
}

impl<P: Port> embedded_io_async::Read for Serial<P> {
    /// Pending until a byte arrived. Nothing interrupts when one does, so the task asks to be
    /// polled again at once (`wake_by_ref`): right for a busy-polling executor, and still
    /// correct under one that sleeps until woken.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| match self.take_waiting(buf) {
            0 => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            n => Poll::Ready(Ok(n)),
        })
        .await
    }
}

impl<P: Port> embedded_io_async::Write for Serial<P> {
    /// Pending until the transmitter takes a byte, as `read`.
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| match self.give_accepted(buf) {
            0 => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            n => Poll::Ready(Ok(n)),
        })
        .await
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        poll_fn(|cx| {
            if self.0.can_write() {
                Poll::Ready(Ok(()))
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }
}
