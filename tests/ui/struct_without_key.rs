use redpipe::Struct;

#[derive(Struct)]
#[redpipe(keyspace = "U")]
struct User {
    id: String,
    name: String,
}

fn main() {}
