//! What the QEMU images share: each board's UART ([`board`]), that UART as an embedded-io
//! stream ([`serial`]), the smallest executor ([`executor`]) and the printed report
//! ([`report`]).
//!
//! The images are the binaries beside this library: `redpipe-qemu` (`src/main.rs`: one
//! connection, the blocking and the async driver), `redpipe-qemu-mux` (`src/mux/`: two tasks
//! sharing one connection through the core's multiplexer) and `redpipe-qemu-sub` (`src/sub/`: a
//! subscriber, the core's `pubsub::Subscriptions` over arrays). The target picks the board:
//! `--target thumbv7em-none-eabihf` or `--target riscv32imc-unknown-none-elf`.
#![no_std]

pub mod board;
pub mod executor;
pub mod report;
pub mod serial;
