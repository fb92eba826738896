// On a Pipe every command has its reply type: another one is a cast, not a type argument.
use redpipe::Pipe;

fn main() {
    let mut p = Pipe::new();
    let _ = p.get::<i64>("k");
}
