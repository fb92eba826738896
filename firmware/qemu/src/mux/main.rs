//! Two tasks share one connection, with no allocator: the core's multiplexer (`mux::Mux`) over
//! the board's UART, on the Cortex-M4 and the RISC-V 32 board of the other image.
//!
//! The image sets the connection up with the blocking driver (`io::Driver::setup`: `SELECT 1`
//! and a client name, RESP3 on RISC-V), then takes the UART and the read buffer back from it and
//! hands the connection to a [`Mux`] over a ring of [`RING`] slots. Two tasks ([`tasks`]),
//! polled in turn by the library's `executor::join`, each queue their pipelines in their own
//! fixed storage (a `SlicePipeline` over arrays on `main`'s stack) and submit them; between
//! their turns the [`Link`] writes what `poll_transmit` committed to the UART and feeds what it
//! received to `handle_input`. Each task checks its own results; the image prints each check
//! through semihosting and exits with status 0 when all passed, 1 when any failed (101 on a
//! panic).
#![no_std]
#![no_main]

mod link;
mod tasks;

use core::cell::RefCell;

use redpipe_core::ReadBuffer;
use redpipe_core::io::Driver;
use redpipe_core::mux::{Mux, Slot};
use redpipe_core::session::Setup;
use semihosting::println;

use redpipe_firmware_qemu::board::{self, BOARD, RESP3};
use redpipe_firmware_qemu::executor::join;
use redpipe_firmware_qemu::report::Report;
use redpipe_firmware_qemu::serial::{Port, Serial};

use link::Link;
use tasks::{RING, Shared, Space};

/// The handshake, as in the other image, under a name of its own.
const SETUP: Setup<'static> = Setup {
    resp3: RESP3,
    username: None,
    password: None,
    client_name: Some("redpipe-firmware-mux"),
    db: 1,
};

/// The pipelines both tasks submit in all: a1, a2, a3, b1, b2, b3.
const PIPELINES: u32 = 6;

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    let status = run(board::uart());
    semihosting::process::exit(status)
}

/// Runs everything over `port`; the exit status (see [`Report::finish`]).
fn run<P: Port>(port: P) -> i32 {
    println!(
        "redpipe-qemu-mux on {BOARD}: RESP{}, db {}, two tasks on one connection",
        if RESP3 { 3 } else { 2 },
        SETUP.db
    );
    let mut report = Report::new();
    // Every buffer is here, for the whole run: the read buffer, the write buffer, and the
    // storage of the four pipelines (two per task).
    let mut input = [0u8; 256];
    let mut output = [0u8; 512];
    let mut spaces = [Space::EMPTY; 4];

    let mut driver = Driver::new(Serial::new(port), ReadBuffer::fixed(&mut input));
    {
        let mut p = spaces[0].pipeline();
        match driver.setup(&SETUP, &mut p) {
            Ok(()) => report.record(
                if RESP3 {
                    "setup (blocking driver): HELLO 3 SETNAME, SELECT 1"
                } else {
                    "setup (blocking driver): CLIENT SETNAME, SELECT 1"
                },
                None,
            ),
            Err(e) => {
                report.record("setup", Some(&e));
                return report.finish();
            }
        }
    }
    // The connection is set up: from here on it is shared.
    let (serial, input) = driver.into_parts();
    let mut link = Link::new(serial, &mut output, input);

    let [a1, a2, b1, b2] = &mut spaces;
    let (mut a1, mut a2, mut b1, mut b2) =
        (a1.pipeline(), a2.pipeline(), b1.pipeline(), b2.pipeline());
    let mux: Shared<'_, '_> = RefCell::new(Mux::new([Slot::VACANT; RING]));
    let (a, b) = join(
        tasks::counter(&mux, &mut a1, &mut a2),
        tasks::strings(&mux, &mut b1, &mut b2),
        || link.pump(&mut mux.borrow_mut()),
    );
    report.add(a);
    report.add(b);

    let mux = mux.borrow();
    match mux.failure() {
        None => report.record("link: no failure", None),
        Some(f) => report.record("link", Some(&f)),
    }
    if mux.is_empty() {
        report.record("mux: every pipeline taken back", None);
    } else {
        report.record("mux: every pipeline taken back", Some(&*mux));
    }
    // The first write carries a1, a2 and b1 (see `tasks`): fewer writes than pipelines.
    let writes = link.writes;
    println!("link: {PIPELINES} pipelines in {writes} writes");
    if writes < PIPELINES {
        report.record("link: several pipelines per write", None);
    } else {
        report.record("link: several pipelines per write", Some(&writes));
    }
    report.finish()
}
