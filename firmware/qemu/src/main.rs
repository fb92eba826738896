//! redpipe-core on two embedded ISAs against a real Redis: a Cortex-M4 image for QEMU's
//! `mps2-an386` and a RISC-V 32 image for QEMU's `virt`, with no allocator. (The other image,
//! `redpipe-qemu-mux`, shares the connection between two tasks: `src/mux/`.)
//!
//! The board's first UART is the connection: QEMU's `-serial tcp:127.0.0.1:PORT` connects it to a
//! redis-server, so the bytes the firmware writes are RESP on the server's socket and the
//! replies come back through the emulated UART. The image sets the connection up, runs one
//! pipeline with the core's blocking `io::Driver` and one with its async twin (polled by the
//! library's `executor::block_on`), checks every result against the value it must have, prints
//! each check through semihosting and exits through semihosting with status 0 when all passed,
//! 1 when any failed (101 on a panic).
//!
//! The target picks the board (see the library's `board`): `--target thumbv7em-none-eabihf` or
//! `--target riscv32imc-unknown-none-elf`.
#![no_std]
#![no_main]

mod scenario;

use redpipe_firmware_qemu::board;

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    let status = scenario::run(board::uart());
    semihosting::process::exit(status)
}
