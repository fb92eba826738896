//! The same job with redis-protocol, for comparison: it needs an allocator (here a 16 KiB heap),
//! hashbrown and libm. Encodes the same commands and decodes the same replies into frames.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::hint::black_box;
use core::mem::MaybeUninit;

use cortex_m_rt::entry;
use embedded_alloc::LlffHeap as Heap;
use panic_halt as _;
use redis_protocol::resp2::encode::encode;
use redis_protocol::resp2::types::OwnedFrame;
use redis_protocol::resp3::decode::complete::decode;
use redis_protocol::resp3::types::OwnedFrame as Frame3;

#[global_allocator]
static HEAP: Heap = Heap::empty();

static REPLIES: &[u8] = b"+OK\r\n:7\r\n$5\r\nhello\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n:1\r\n";

fn command(args: &[&[u8]]) -> OwnedFrame {
    OwnedFrame::Array(
        args.iter()
            .map(|a| OwnedFrame::BulkString(a.to_vec()))
            .collect(),
    )
}

#[entry]
fn main() -> ! {
    {
        const HEAP_SIZE: usize = 16 * 1024;
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: called once, before any allocation; the memory is used by nothing else.
        #[allow(static_mut_refs)]
        unsafe {
            HEAP.init(HEAP_MEM.as_ptr() as usize, HEAP_SIZE)
        }
    }
    let mut out: Vec<u8> = alloc::vec![0; 256];
    let mut pos = 0;
    let value: &[u8] = black_box(b"2150");
    for c in [
        command(&[b"SET", b"sensor:1", value]),
        command(&[b"INCR", b"boots"]),
        command(&[b"GET", b"greeting"]),
        command(&[b"LRANGE", b"log", b"0", b"-1"]),
        command(&[b"SADD", b"seen", b"device-1"]),
    ] {
        pos += encode(&mut out[pos..], &c, false).unwrap_or(0);
    }
    black_box(&out[..pos]);

    let mut buf = black_box(REPLIES);
    let mut score = 0u32;
    while let Ok(Some((frame, used))) = decode(buf) {
        score += match frame {
            Frame3::Number { data, .. } => data as u32,
            Frame3::BlobString { data, .. } => data.len() as u32,
            Frame3::Array { data, .. } => data.len() as u32,
            _ => 1,
        };
        buf = &buf[used..];
    }
    black_box(score);
    loop {
        cortex_m::asm::wfi();
    }
}
