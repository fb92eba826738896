//! Encode a pipeline and resolve it from reply bytes with redpipe-core: no allocator at all.
//!
//! There is no `#[global_allocator]` in this image, so if anything in the core needed `alloc`,
//! the link would fail. The reply bytes stand in for what a UART or TCP stack would deliver.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use panic_halt as _;
use redpipe_core::prelude::*;
use redpipe_core::{HeaplessPipeline, Limits};

/// What the server answers to the pipeline below.
static REPLIES: &[u8] = b"+OK\r\n:7\r\n$5\r\nhello\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n:1\r\n";

#[entry]
fn main() -> ! {
    let mut p: HeaplessPipeline<256, 128, 8> = HeaplessPipeline::new();
    p.set_limits(Limits {
        max_depth: 4,
        ..Limits::default()
    });
    let ok = p.set("sensor:1", black_box(2150u32)); // centi-degrees: no float formatting
    let n = p.incr("boots");
    let greeting = p.get::<Option<&str>>("greeting");
    let list = p.lrange::<heapless::Vec<&str, 4>>("log", 0, -1);
    let added = p.sadd("seen", &["device-1"]);
    let (Ok(ok), Ok(n), Ok(greeting), Ok(list), Ok(added)) = (ok, n, greeting, list, added) else {
        loop {}
    };

    // "Send" the commands.
    let sent = black_box(p.poll_output()).len();
    p.consume_output(sent);

    // "Receive" the replies in small chunks, as a UART would deliver them.
    let replies = black_box(REPLIES);
    let mut buf: heapless::Vec<u8, 64> = heapless::Vec::new();
    for chunk in replies.chunks(7) {
        if buf.extend_from_slice(chunk).is_err() {
            loop {}
        }
        let used = p.handle_input(&buf).unwrap_or(buf.len());
        // Keep the unused tail (a partial reply) at the front. A byte loop: `copy_within` would
        // link the compiler's 1.5 KiB `memmove` to move a few bytes.
        let rest = buf.len() - used;
        for i in 0..rest {
            buf[i] = buf[used + i];
        }
        buf.truncate(rest);
    }

    let score = u32::from(ok.read(&p).is_ok())
        + n.read(&p).unwrap_or(0) as u32
        + greeting
            .read(&p)
            .ok()
            .flatten()
            .map_or(0, |s| s.len() as u32)
        + list.read(&p).map_or(0, |l| l.len() as u32)
        + added.read(&p).unwrap_or(0) as u32;
    black_box(score);
    loop {
        cortex_m::asm::wfi();
    }
}
