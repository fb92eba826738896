use redpipe::Struct;

#[derive(Struct)]
#[redpipe(keyspace = "U")]
struct User {
    #[redpipe(key)]
    id: String,
    #[redpipe(key)]
    email: String,
}

fn main() {}
