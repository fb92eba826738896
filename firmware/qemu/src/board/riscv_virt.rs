//! QEMU `virt` (RISC-V 32): its NS16550A UART at `0x1000_0000`, byte-wide registers.
//!
//! Registers (16550): `RBR`/`THR` at 0; `IER` at 1; `FCR` at 2; `LCR` at 3; `LSR` at 5 (bit 0:
//! data ready, bit 5: transmit holding register empty). With the FIFO on, QEMU delivers up to
//! 14 received bytes at once instead of one per read.

use core::ptr;

use crate::serial::Port;

/// Printed, and stored by the firmware as the value of its greeting key.
pub const BOARD: &str = "riscv32 virt";
/// This image speaks RESP3 (`HELLO 3`; the Cortex-M4 one RESP2), so that both protocols meet a
/// real server.
pub const RESP3: bool = true;

const BASE: usize = 0x1000_0000;
const RBR_THR: usize = BASE;
const IER: usize = BASE + 1;
const FCR: usize = BASE + 2;
const LCR: usize = BASE + 3;
const LSR: usize = BASE + 5;

const LSR_DATA_READY: u8 = 1 << 0;
const LSR_THR_EMPTY: u8 = 1 << 5;
/// FIFO on, both FIFOs cleared, receive trigger level 14.
const FCR_FIFO_14: u8 = 0xC7;
/// 8 data bits, no parity, one stop bit.
const LCR_8N1: u8 = 0x03;

/// The UART, polled: no interrupt is enabled.
pub struct Uart(());

/// Sets the UART up (8N1, FIFOs on, interrupts off). Call it once: the value owns the UART.
pub fn uart() -> Uart {
    write(IER, 0);
    write(LCR, LCR_8N1);
    write(FCR, FCR_FIFO_14);
    Uart(())
}

impl Port for Uart {
    fn can_read(&self) -> bool {
        read(LSR) & LSR_DATA_READY != 0
    }

    fn read_byte(&mut self) -> u8 {
        read(RBR_THR)
    }

    fn can_write(&self) -> bool {
        read(LSR) & LSR_THR_EMPTY != 0
    }

    fn write_byte(&mut self, byte: u8) {
        write(RBR_THR, byte);
    }
}

fn read(register: usize) -> u8 {
    // SAFETY: `register` is one of the UART's registers above, always mapped on this machine;
    // reading them has no effect beyond the UART's own (RBR pops the received byte).
    unsafe { ptr::read_volatile(register as *const u8) }
}

fn write(register: usize, value: u8) {
    // SAFETY: as in `read`; only `Uart` and `uart()` write these registers.
    unsafe { ptr::write_volatile(register as *mut u8, value) }
}
