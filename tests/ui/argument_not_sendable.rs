// A value that has no Redis argument form.
use redpipe::Pipe;
use redpipe::prelude::*;

fn main() {
    let mut p = Pipe::new();
    let _ = p.set("k", std::time::Instant::now());
}
