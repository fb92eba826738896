// `u8` is left out on purpose: `Vec<u8>` reads bytes, which a `u8` element would make ambiguous.
use redpipe::Pipe;

fn main() {
    let mut p = Pipe::new();
    let small = p.get("k").cast::<u8>();
    let _ = small.result();
}
