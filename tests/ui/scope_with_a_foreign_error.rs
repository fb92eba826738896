// A scope's closure returns redpipe::Result: an error of your own goes through Error::other.
use redpipe::Pipe;

fn main() {
    let mut p = Pipe::new();
    let _ = p.scope(|_| Err::<(), std::fmt::Error>(std::fmt::Error));
}
