//! The board of each target architecture: its UART (the connection to Redis) and how the
//! firmware introduces itself.

#[cfg(target_arch = "arm")]
mod mps2_an386;
#[cfg(target_arch = "arm")]
pub use mps2_an386::{BOARD, RESP3, Uart, uart};

#[cfg(target_arch = "riscv32")]
mod riscv_virt;
#[cfg(target_arch = "riscv32")]
pub use riscv_virt::{BOARD, RESP3, Uart, uart};
