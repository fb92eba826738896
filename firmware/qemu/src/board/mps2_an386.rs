//! QEMU `mps2-an386` (Cortex-M4): UART0, a CMSDK APB UART at `0x4000_4000`.
//!
//! Registers (Arm `CoreLink` CMSDK, APB UART): `DATA` at 0x00; `STATE` at 0x04 (bit 0: TX buffer
//! full, bit 1: RX buffer full); `CTRL` at 0x08 (bit 0: TX enable, bit 1: RX enable); `BAUDDIV`
//! at 0x10. The UART holds one received byte, and QEMU hands it the next only after `DATA` was
//! read: nothing is lost however slowly the firmware reads (TCP holds the rest back).
//!
//! QEMU's model of this UART does not tell the chardev layer when `DATA` was read (no
//! `qemu_chr_fe_accept_input`), so the next byte waits for QEMU's main loop to wake for another
//! reason: up to a second when nothing else happens (seen: 5 runs in 12 took 1.15 s instead of
//! 0.2 s). A running `SysTick` is such a reason: its timer wakes the main loop every 100 us. It
//! raises no interrupt; on real hardware it would only count.

use core::ptr;

use crate::serial::Port;

/// Printed, and stored by the firmware as the value of its greeting key.
pub const BOARD: &str = "cortex-m4 mps2-an386";
/// This image speaks RESP2 (the RISC-V one RESP3), so that both protocols meet a real server.
pub const RESP3: bool = false;

const BASE: usize = 0x4000_4000;
const DATA: usize = BASE;
const STATE: usize = BASE + 0x04;
const CTRL: usize = BASE + 0x08;
const BAUDDIV: usize = BASE + 0x10;

/// `SysTick` (Armv7-M system control space): control and status, reload value, current value.
const SYST_CSR: usize = 0xE000_E010;
const SYST_RVR: usize = 0xE000_E014;
const SYST_CVR: usize = 0xE000_E018;
/// Enabled, counting the processor clock, no interrupt.
const SYST_CSR_ENABLE_CPU_CLOCK: u32 = 0b101;
/// 100 us at the board's 25 MHz processor clock.
const SYST_RELOAD: u32 = 2_500 - 1;

const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;

/// UART0, polled: no interrupt is enabled.
pub struct Uart(());

/// Enables UART0's transmitter and receiver. Call it once: the value owns the UART.
pub fn uart() -> Uart {
    // The smallest divider the UART accepts; QEMU ignores the rate of a socket-backed UART.
    write(BAUDDIV, 16);
    write(CTRL, CTRL_TX_EN | CTRL_RX_EN);
    // Wakes QEMU's main loop often, so that received bytes reach the UART at once (see above).
    write(SYST_RVR, SYST_RELOAD);
    write(SYST_CVR, 0);
    write(SYST_CSR, SYST_CSR_ENABLE_CPU_CLOCK);
    Uart(())
}

impl Port for Uart {
    fn can_read(&self) -> bool {
        read(STATE) & STATE_RX_FULL != 0
    }

    fn read_byte(&mut self) -> u8 {
        // The received byte is the low 8 bits of DATA.
        read(DATA).to_le_bytes()[0]
    }

    fn can_write(&self) -> bool {
        read(STATE) & STATE_TX_FULL == 0
    }

    fn write_byte(&mut self, byte: u8) {
        write(DATA, u32::from(byte));
    }
}

fn read(register: usize) -> u32 {
    // SAFETY: `register` is one of the word-aligned UART0 or SysTick registers above, always
    // mapped on this board; reading them has no effect beyond the device's own (DATA pops the
    // received byte).
    unsafe { ptr::read_volatile(register as *const u32) }
}

fn write(register: usize, value: u32) {
    // SAFETY: as in `read`; nothing else in the image writes these registers.
    unsafe { ptr::write_volatile(register as *mut u32, value) }
}
