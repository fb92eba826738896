//! A subscriber on the board's UART, with no allocator: the core's `pubsub::Subscriptions` over
//! caller arrays, on the Cortex-M4 and the RISC-V 32 board of the other images.
//!
//! The image sets the connection up with the blocking driver (`SELECT 1`, a client name, RESP3
//! on RISC-V), takes the UART back from it, subscribes to the channel [`NEWS`] and the pattern
//! [`ALERTS`], and waits for both confirmations. The harness (`cargo xtask qemu`) sees them in
//! `PUBSUB NUMSUB` / `NUMPAT` and publishes [`EXPECTED`]'s messages; the image prints each one
//! it receives (`message CHANNEL [PATTERN]: PAYLOAD`), checks them in order, and exits with
//! status 0 when all came as published after the last one, [`LAST`] (1 when any check failed,
//! 101 on a panic). Frames are read in place from a 256-byte buffer: a message is a borrowed
//! view, never copied.
#![no_std]
#![no_main]

use embedded_io::Read;
use redpipe_core::io::Driver;
use redpipe_core::pubsub::{Event, Kind, Subscriptions};
use redpipe_core::session::Setup;
use redpipe_core::{HeaplessPipeline, ReadBuffer, SliceStore};
use semihosting::println;

use redpipe_firmware_qemu::board::{self, BOARD, RESP3};
use redpipe_firmware_qemu::report::Report;
use redpipe_firmware_qemu::serial::{Port, Serial};

/// The channel subscribed to.
const NEWS: &str = "fw:news";
/// The pattern subscribed to.
const ALERTS: &str = "fw:alerts:*";
/// The payload that ends the run.
const LAST: &[u8] = b"bye";
/// What the harness publishes, in order, as (channel, the pattern it came through, payload).
const EXPECTED: &[(&str, Option<&str>, &[u8])] = &[
    (NEWS, None, b"hello from the harness"),
    ("fw:alerts:temp", Some(ALERTS), b"21.25"),
    (NEWS, None, LAST),
];

/// The handshake, as in the other images, under a name of its own.
const SETUP: Setup<'static> = Setup {
    resp3: RESP3,
    username: None,
    password: None,
    client_name: Some("redpipe-firmware-sub"),
    db: 1,
};

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    let status = run(board::uart());
    semihosting::process::exit(status)
}

/// Runs everything over `port`; the exit status (see [`Report::finish`]).
fn run<P: Port>(port: P) -> i32 {
    println!(
        "redpipe-qemu-sub on {BOARD}: RESP{}, db {}, subscribing to {NEWS} and {ALERTS}",
        if RESP3 { 3 } else { 2 },
        SETUP.db
    );
    let mut report = Report::new();
    let mut space = [0u8; 256];
    let mut driver = Driver::new(Serial::new(port), ReadBuffer::fixed(&mut space));
    let mut p = HeaplessPipeline::<256, 256, 4>::new();
    if let Err(e) = driver.setup(&SETUP, &mut p) {
        report.record("setup", Some(&e));
        return report.finish();
    }
    report.record("setup: client name, SELECT 1", None);
    let (mut serial, _) = driver.into_parts();

    // Every buffer of the subscriber: its commands, its names, the frames read.
    let (mut out, mut names) = ([0u8; 128], [0u8; 128]);
    let mut subs =
        Subscriptions::with_storage(SliceStore::new(&mut out), SliceStore::new(&mut names));
    let queued = subs
        .subscribe(Kind::Channel, &[NEWS])
        .and_then(|_| subs.subscribe(Kind::Pattern, &[ALERTS]));
    if let Err(e) = queued {
        report.record("queue SUBSCRIBE and PSUBSCRIBE", Some(&e));
        return report.finish();
    }
    let out = subs.poll_output();
    let n = out.len();
    if let Err(e) = embedded_io::Write::write_all(&mut serial, out) {
        report.record("send SUBSCRIBE and PSUBSCRIBE", Some(&e));
        return report.finish();
    }
    subs.consume_output(n);

    let mut buf = [0u8; 256];
    let (mut len, mut seen) = (0, 0);
    loop {
        let (event, used) = match subs.handle_input(&buf[..len]) {
            Ok(Some(read)) => read,
            Ok(None) if len == buf.len() => {
                report.record("a frame fits the 256-byte buffer", Some(&len));
                return report.finish();
            }
            Ok(None) => {
                match serial.read(&mut buf[len..]) {
                    Ok(n) => len += n,
                    Err(e) => {
                        report.record("read", Some(&e));
                        return report.finish();
                    }
                }
                continue;
            }
            Err(e) => {
                report.record("a well-formed frame", Some(&e));
                return report.finish();
            }
        };
        let mut last = false;
        match event {
            Event::Subscribed { kind, name, count } => {
                println!(
                    "subscribed ({kind:?}) {}: {count} subscription(s)",
                    text(name)
                );
                if subs.pending() == 0 {
                    // The harness waits for this line's effect (NUMSUB, NUMPAT) to publish.
                    report.record("both subscriptions confirmed", None);
                }
            }
            Event::Message(m) => {
                match m.pattern {
                    Some(p) => println!(
                        "message {} [{}]: {}",
                        text(m.channel),
                        text(p),
                        text(m.payload)
                    ),
                    None => println!("message {}: {}", text(m.channel), text(m.payload)),
                }
                let got = (m.channel, m.pattern, m.payload);
                match EXPECTED.get(seen) {
                    Some(&(c, p, payload))
                        if got == (c.as_bytes(), p.map(str::as_bytes), payload) =>
                    {
                        report.record("a message as published, in order", None)
                    }
                    want => report.record("a message as published, in order", Some(&want)),
                }
                seen += 1;
                last = m.payload == LAST;
            }
            other => report.record("only confirmations and messages", Some(&other)),
        }
        buf.copy_within(used..len, 0);
        len -= used;
        if last {
            break;
        }
    }
    if seen == EXPECTED.len() {
        report.record("every message received", None);
    } else {
        report.record("every message received", Some(&seen));
    }
    report.finish()
}

/// Bytes as text for the report (the test's names and payloads are ASCII).
fn text(bytes: &[u8]) -> &str {
    core::str::from_utf8(bytes).unwrap_or("<not UTF-8>")
}
