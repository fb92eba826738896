// A handle dropped unread: its command's result (and any error) is lost.
#![deny(unused_must_use)]
use redpipe::Pipe;
use redpipe::prelude::*;

fn main() {
    let mut p = Pipe::new();
    p.incr("hits");
}
