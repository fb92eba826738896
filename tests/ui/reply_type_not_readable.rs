// A reply read as a type no reply converts to.
use redpipe::prelude::*;
use redpipe::{Pipe, cmd};

fn main() {
    let mut p = Pipe::new();
    let _ = p.query::<std::time::Instant>(cmd("GET").arg("k"));
}
