use redpipe::Struct;

#[derive(Struct)]
#[redpipe(keyspace = "U")]
struct User {
    #[redpipe(key)]
    id: String,
    seen: std::time::Instant,
}

fn main() {}
