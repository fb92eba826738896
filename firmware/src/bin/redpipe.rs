//! Encode a pipeline and resolve it from reply bytes with redpipe-core: no allocator at all.
//!
//! There is no `#[global_allocator]` in this image, so if anything in the core needed `alloc`,
//! the link would fail. The reply bytes stand in for what a UART or TCP stack would deliver.
//!
//! The three steps are separate functions that are never inlined, so that `cargo xtask size` can
//! report the worst-case stack of each (queue and encode, feed replies, read results) from the
//! image's call graph.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use panic_halt as _;
use redpipe_core::prelude::*;
use redpipe_core::{HeaplessPipeline, Limits};

/// What the server answers to the pipeline below.
static REPLIES: &[u8] = b"+OK\r\n:7\r\n$5\r\nhello\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n:1\r\n";

type Pipeline = HeaplessPipeline<256, 128, 8>;

/// The handles of the queued commands.
struct Handles {
    ok: Deferred<()>,
    n: Deferred<i64>,
    greeting: Deferred<Option<&'static str>>,
    list: Deferred<heapless::Vec<&'static str, 4>>,
    added: Deferred<i64>,
}

#[entry]
fn main() -> ! {
    let mut p = Pipeline::new();
    p.set_limits(Limits {
        max_depth: 4,
        ..Limits::default()
    });
    // Borrowed, not moved out of the `Option`: moving 40 bytes would call `memcpy`.
    let handles = queue(&mut p);
    let Some(handles) = &handles else { loop {} };

    // "Send" the commands.
    let sent = black_box(p.poll_output()).len();
    p.consume_output(sent);

    feed(&mut p, black_box(REPLIES));
    black_box(read(&p, handles));
    loop {
        cortex_m::asm::wfi();
    }
}

/// Queues (and so encodes) five commands.
#[inline(never)]
fn queue(p: &mut Pipeline) -> Option<Handles> {
    Some(Handles {
        ok: p.set("sensor:1", black_box(2150u32)).ok()?, // centi-degrees: no float formatting
        n: p.incr("boots").ok()?,
        greeting: p.get("greeting").ok()?,
        list: p.lrange("log", 0, -1).ok()?,
        added: p.sadd("seen", &["device-1"]).ok()?,
    })
}

/// Feeds the replies in small chunks, as a UART would deliver them.
#[inline(never)]
fn feed(p: &mut Pipeline, replies: &[u8]) {
    let mut buf: heapless::Vec<u8, 64> = heapless::Vec::new();
    for chunk in replies.chunks(7) {
        if buf.extend_from_slice(chunk).is_err() {
            return;
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
}

/// Reads every handle as its typed result.
#[inline(never)]
fn read(p: &Pipeline, h: &Handles) -> u32 {
    u32::from(h.ok.read(p).is_ok())
        + h.n.read(p).unwrap_or(0) as u32
        + h.greeting
            .read(p)
            .ok()
            .flatten()
            .map_or(0, |s| s.len() as u32)
        + h.list.read(p).map_or(0, |l| l.len() as u32)
        + h.added.read(p).unwrap_or(0) as u32
}
