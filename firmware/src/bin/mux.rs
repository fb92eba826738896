//! The job of the `redpipe` image, done by two submitters sharing one link through the core's
//! multiplexer: what the mux costs in flash, with no allocator.
//!
//! The same five commands as in `redpipe.rs`, split over two pipelines (two tasks' worth), go
//! to one `mux::Mux` over a caller-provided ring; its `poll_transmit` fills one write buffer
//! and the replies, fed in 7-byte chunks to its `handle_input`, go back to each pipeline's own
//! slots. `cargo xtask size` prints this image beside the other: the difference is the mux.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use panic_halt as _;
use redpipe_core::mux::{Mux, Slot};
use redpipe_core::prelude::*;
use redpipe_core::{HeaplessPipeline, Limits};

/// What the server answers to both pipelines, in the order they go out.
static REPLIES: &[u8] = b"+OK\r\n:7\r\n$5\r\nhello\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n:1\r\n";

type Pipeline = HeaplessPipeline<128, 64, 4>;
/// Borrowed: only a pointer moves in and out of the mux.
type Link<'p> = Mux<&'p mut Pipeline, [Slot<&'p mut Pipeline>; 2]>;

/// The first submitter's handles.
struct First {
    ok: Deferred<()>,
    n: Deferred<i64>,
    greeting: Deferred<Option<&'static str>>,
}

/// The second submitter's handles.
struct Second {
    list: Deferred<heapless::Vec<&'static str, 4>>,
    added: Deferred<i64>,
}

#[entry]
fn main() -> ! {
    let (mut a, mut b) = (Pipeline::new(), Pipeline::new());
    for p in [&mut a, &mut b] {
        p.set_limits(Limits {
            max_depth: 4,
            ..Limits::default()
        });
    }
    let (first, second) = (queue_first(&mut a), queue_second(&mut b));
    let (Some(first), Some(second)) = (&first, &second) else {
        halt()
    };
    let mut mux: Link<'_> = Mux::new([Slot::VACANT, Slot::VACANT]);
    let (Ok(ta), Ok(tb)) = (mux.try_submit(&mut a), mux.try_submit(&mut b)) else {
        halt()
    };

    // "Send" both pipelines in one write.
    let mut wire: heapless::Vec<u8, 256> = heapless::Vec::new();
    black_box(mux.poll_transmit(&mut wire));
    black_box(&wire);

    feed(&mut mux, black_box(REPLIES));
    let (Some(a), Some(b)) = (mux.take(ta), mux.take(tb)) else {
        halt()
    };
    black_box(read(a, b, first, second));
    halt()
}

/// Stops here: the job is done, or a store was too small (it is not).
fn halt() -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}

/// Queues (and so encodes) the first submitter's three commands.
#[inline(never)]
fn queue_first(p: &mut Pipeline) -> Option<First> {
    Some(First {
        ok: p.set("sensor:1", black_box(2150u32)).ok()?, // centi-degrees: no float formatting
        n: p.incr("boots").ok()?,
        greeting: p.get("greeting").ok()?,
    })
}

/// Queues the second submitter's two commands.
#[inline(never)]
fn queue_second(p: &mut Pipeline) -> Option<Second> {
    Some(Second {
        list: p.lrange("log", 0, -1).ok()?,
        added: p.sadd("seen", &["device-1"]).ok()?,
    })
}

/// Feeds the replies to the mux in small chunks, as a UART would deliver them.
#[inline(never)]
fn feed(mux: &mut Link<'_>, replies: &[u8]) {
    let mut buf: heapless::Vec<u8, 64> = heapless::Vec::new();
    for chunk in replies.chunks(7) {
        if buf.extend_from_slice(chunk).is_err() {
            return;
        }
        let used = mux.handle_input(&buf).unwrap_or(buf.len());
        // A byte loop, as in `redpipe.rs`: `copy_within` would link `memmove`.
        let rest = buf.len() - used;
        for i in 0..rest {
            buf[i] = buf[used + i];
        }
        buf.truncate(rest);
    }
}

/// Reads every handle as its typed result, each from its own pipeline.
#[inline(never)]
fn read(a: &Pipeline, b: &Pipeline, first: &First, second: &Second) -> u32 {
    u32::from(first.ok.read(a).is_ok())
        + first.n.read(a).unwrap_or(0) as u32
        + first
            .greeting
            .read(a)
            .ok()
            .flatten()
            .map_or(0, |s| s.len() as u32)
        + second.list.read(b).map_or(0, |l| l.len() as u32)
        + second.added.read(b).unwrap_or(0) as u32
}
