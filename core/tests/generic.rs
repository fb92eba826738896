//! The extension points, each used by code written once over the traits and run on the core
//! `Pipeline` (fed by hand, as any transport would) and on the `Pipe` model (over the in-memory
//! `Loopback` transport).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report
#![cfg(all(feature = "alloc", feature = "transactions", feature = "scripting"))]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use redpipe_core::prelude::*;
use redpipe_core::{
    CapacityError, Connector, Failure, Joined, Loopback, Pipe, ReadBuffer, ResolveError, Script,
    SlotError, VecPipeline,
};

/// A record stored as a hash.
#[derive(Debug, Clone, PartialEq)]
struct User {
    id: u32,
    name: String,
}

/// A wrapper handle: the `HGETALL` handle of a record, read as the record. Written over the
/// traits, so it reads the inner handle whatever pipeline queued it.
struct Loaded<Q: Queue> {
    id: u32,
    fields: Q::Handle<Vec<(String, String)>>,
}

impl<Q: Queue> Loaded<Q> {
    fn read<'r>(&'r self, from: &'r Q::Results<'_>) -> Result<User, SlotError<'r>> {
        let fields = Q::read(&self.fields, from)?;
        let name = fields
            .into_iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v)
            .unwrap_or_default();
        Ok(User { id: self.id, name })
    }
}

/// What a reusable function hands back: handles of every kind.
struct Saved<Q: Queue + OnExecute> {
    user: Loaded<Q>,
    visits: Q::Handle<i64>,
    doubled: Q::Computed<i64>,
    flag: Q::Handle<bool>,
    script: Q::Handle<i64>,
}

/// Saves a user inside a transaction under a key built from parts (no allocation), counts a
/// visit on the connection named "stats", and derives a value in a callback that reads a handle
/// generically. The same code for every pipeline.
fn save<Q>(q: &mut Q, id: u32, name: &str) -> Saved<Q>
where
    Q: Transact + OnExecute,
    Q::Handle<i64>: Clone + Send + Sync + 'static,
{
    let key = Joined(("user{", id, "}"));
    let user = q
        .transaction(|q| {
            let _ = q.query::<()>(cmd("HSET").arg(key).arg("name").arg(name));
            Ok::<_, CapacityError>(Loaded {
                id,
                fields: q.query(cmd("HGETALL").arg(key)),
            })
        })
        .unwrap();
    let Ok(visits) = q.on("stats", |q| Ok::<_, Infallible>(q.incr("visits")));
    let seen = visits.clone();
    let doubled = q.on_execute(move |r| Q::read(&seen, r).map_or(-1, |n| n * 2));
    let flag = q.query(cmd("SET").arg("flag").arg(true));
    let script = q.eval_script(&Script::new("return 7"), ["k"], ());
    Saved {
        user,
        visits,
        doubled,
        flag,
        script,
    }
}

/// A tiny in-memory server for the `Loopback` transport: just what `save` sends, with
/// MULTI/EXEC. Each command is logged with the connection name, so that a test sees where it
/// went; "stats" answers INCR with 21, other connections with 1.
fn server(name: &str, log: Arc<Mutex<Vec<String>>>) -> impl FnMut(&[&[u8]]) -> Vec<u8> + Send {
    let name = name.to_string();
    let mut hashes = Hashes::new();
    let mut multi: Option<Vec<Vec<Vec<u8>>>> = None;
    move |words: &[&[u8]]| {
        let text: Vec<String> = words
            .iter()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        log.lock()
            .unwrap()
            .push(format!("{name}: {}", text.join(" ")));
        match (words, &mut multi) {
            ([b"MULTI"], _) => {
                multi = Some(Vec::new());
                b"+OK\r\n".to_vec()
            }
            ([b"EXEC"], _) => {
                let queued = multi.take().unwrap_or_default();
                let mut out = format!("*{}\r\n", queued.len()).into_bytes();
                for c in queued {
                    let words: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
                    out.extend(reply(&name, &words, &mut hashes));
                }
                out
            }
            (_, Some(queue)) => {
                queue.push(words.iter().map(|w| w.to_vec()).collect());
                b"+QUEUED\r\n".to_vec()
            }
            (_, None) => reply(&name, words, &mut hashes),
        }
    }
}

/// One named connection's in-memory server.
type Server = Box<dyn FnMut(&[&[u8]]) -> Vec<u8> + Send>;

type Hashes = BTreeMap<Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>>;

fn reply(name: &str, words: &[&[u8]], hashes: &mut Hashes) -> Vec<u8> {
    let bulk = |b: &[u8]| [format!("${}\r\n", b.len()).as_bytes(), b, b"\r\n"].concat();
    match words {
        [b"HSET", key, field, value] => {
            hashes
                .entry(key.to_vec())
                .or_default()
                .push((field.to_vec(), value.to_vec()));
            b":1\r\n".to_vec()
        }
        [b"HGETALL", key] => {
            let fields = hashes.get(*key).cloned().unwrap_or_default();
            let mut out = format!("*{}\r\n", fields.len() * 2).into_bytes();
            for (f, v) in fields {
                out.extend(bulk(&f));
                out.extend(bulk(&v));
            }
            out
        }
        [b"INCR", _] if name == "stats" => b":21\r\n".to_vec(),
        [b"INCR", _] => b":1\r\n".to_vec(),
        [b"SET", _, b"1"] => b"+OK\r\n".to_vec(),
        [b"EVALSHA", ..] => b"-NOSCRIPT No matching script.\r\n".to_vec(),
        [b"EVAL", b"return 7", b"1", b"k"] => b":7\r\n".to_vec(),
        _ => b"-ERR unexpected command\r\n".to_vec(),
    }
}

#[test]
fn one_generic_function_on_the_core_pipeline() {
    let mut p = VecPipeline::new();
    let saved = save(&mut p, 42, "Ann");
    let log = Arc::new(Mutex::new(Vec::new()));
    // The core pipeline is one connection: "stats" routes nowhere else.
    let mut transport = Loopback::new(server("", log.clone()));
    redpipe_core::Transport::run(&mut transport, &mut p).unwrap();
    let r = p.results();
    assert_eq!(
        saved.user.read(r),
        Ok(User {
            id: 42,
            name: "Ann".into()
        })
    );
    assert_eq!(VecPipeline::read(&saved.visits, r), Ok(1));
    assert_eq!(VecPipeline::read_computed(&saved.doubled, r), Ok(&2));
    assert_eq!(VecPipeline::read(&saved.flag, r), Ok(true));
    // EVALSHA answered NOSCRIPT; the fallback EVAL filled the same handle.
    assert_eq!(VecPipeline::read(&saved.script, r), Ok(7));
    let log = log.lock().unwrap();
    assert!(
        log.contains(&": HSET user{42} name Ann".to_string()),
        "{log:?}"
    );
    assert!(log.iter().any(|l| l.starts_with(": EVALSHA")), "{log:?}");
}

#[test]
fn the_same_function_on_the_pipe_model_routes_by_name() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let servers: Arc<Mutex<BTreeMap<String, Server>>> = Arc::default();
    for name in ["", "stats"] {
        servers
            .lock()
            .unwrap()
            .insert(name.into(), Box::new(server(name, log.clone())));
    }
    let backend = Connector(move |name: &str| {
        let servers = servers.clone();
        let name = name.to_string();
        Ok(Loopback::new(move |words: &[&[u8]]| {
            (servers.lock().unwrap().get_mut(&name).unwrap())(words)
        }))
    });
    let mut p = Pipe::with_backend(backend);
    let saved = save(&mut p, 7, "Bob");
    p.execute().unwrap();
    let r = p.results();
    assert_eq!(saved.user.read(r).unwrap().name, "Bob");
    // "stats" is its own connection, which answers 21.
    assert_eq!(saved.visits.result().unwrap(), 21);
    assert_eq!(*saved.doubled.result().unwrap(), 42);
    assert!(saved.flag.result().unwrap());
    assert_eq!(saved.script.result().unwrap(), 7);
    let log = log.lock().unwrap();
    assert!(log.contains(&"stats: INCR visits".to_string()), "{log:?}");
    assert!(!log.contains(&": INCR visits".to_string()), "{log:?}");
}

#[test]
fn an_outside_queue_gets_every_builder_and_eval_by_body() {
    /// A queue that only records commands: it writes `query`, `results` and `read`, nothing for
    /// scripts, and still gets `eval` (as `EVAL` with the body).
    #[derive(Default)]
    struct Recorder(Vec<Vec<Vec<u8>>>);
    impl Queue for Recorder {
        type Handle<T: FromReply + ?Sized> = usize;
        type OwnedHandle<D: redpipe_core::IntoOwned> = usize;
        type Results<'r> = ();
        fn owned<D: redpipe_core::IntoOwned>(handle: usize) -> usize {
            handle
        }
        fn query<T: FromReply + ?Sized>(&mut self, c: Cmd<impl ToArg, impl Args>) -> usize {
            let mut words = Vec::new();
            c.for_each_arg(|pieces| words.push(pieces.concat()));
            self.0.push(words);
            self.0.len() - 1
        }
        fn results(&self) -> &() {
            &()
        }
        fn read<'r, T: FromReply + ?Sized>(
            _: &'r usize,
            _: &'r (),
        ) -> Result<T::Output<'r>, SlotError<'r>> {
            Err(SlotError::Pending)
        }
    }
    use redpipe_core::{Args, Cmd, ToArg};
    let mut q = Recorder::default();
    q.set("k", 1.5);
    q.eval::<i64>(&Script::new("return 1"), &["a"], ("x",));
    q.query::<()>(cmd("GET").arg(Joined(("p:", 7u64, ":", "name"))));
    let words: Vec<Vec<String>> =
        q.0.iter()
            .map(|c| {
                c.iter()
                    .map(|w| String::from_utf8_lossy(w).into_owned())
                    .collect()
            })
            .collect();
    assert_eq!(
        words,
        [
            vec!["SET", "k", "1.5"],
            vec!["EVAL", "return 1", "1", "a", "x"],
            vec!["GET", "p:7:name"],
        ]
    );
}

#[test]
fn resolve_fills_slots_from_outside_in_any_order() {
    let mut p = VecPipeline::new();
    let a = p.incr("a").unwrap();
    let (x, y) = p
        .transaction(|p| {
            Ok::<_, CapacityError>((p.incr("x").unwrap(), p.get::<String>("y").unwrap()))
        })
        .unwrap();
    let b = p.get::<Option<String>>("b").unwrap();
    assert_eq!(p.len(), 6); // a, MULTI, x, y, EXEC, b
    // Each command's bytes, as a router would send them elsewhere.
    assert_eq!(p.command(0), Some(&b"*2\r\n$4\r\nINCR\r\n$1\r\na\r\n"[..]));
    assert_eq!(p.command(1), Some(&b"*1\r\n$5\r\nMULTI\r\n"[..]));
    assert_eq!(p.command(6), None);

    p.resolve(5, b"$-1\r\n").unwrap();
    assert_eq!(b.read(&p), Ok(None));
    assert!(!p.is_done());
    p.resolve(1, b"+OK\r\n").unwrap();
    p.resolve(2, b"+QUEUED\r\n").unwrap();
    p.resolve(3, b"+QUEUED\r\n").unwrap();
    // The EXEC reply fills the transaction's slots.
    p.resolve(4, b"*2\r\n:5\r\n$2\r\nyy\r\n").unwrap();
    assert_eq!((x.read(&p), y.read(&p).as_deref()), (Ok(5), Ok("yy")));
    assert!(!p.is_done());
    // Bad input is refused and changes nothing.
    assert_eq!(
        p.resolve(0, b":1\r\n:2\r\n"),
        Err(ResolveError::Invalid(
            redpipe_core::DecodeError::UnexpectedReply
        ))
    );
    assert_eq!(p.resolve(0, b"$3\r\nab"), Err(ResolveError::Incomplete));
    assert!(matches!(
        p.resolve(0, b"?\r\n"),
        Err(ResolveError::Invalid(_))
    ));
    assert_eq!(p.resolve(9, b":1\r\n"), Err(ResolveError::NoSuchCommand));
    assert_eq!(a.read(&p), Err(SlotError::Pending));
    p.resolve(0, b":1\r\n").unwrap();
    assert!(p.is_done());
    assert_eq!(a.read(&p), Ok(1));
    assert_eq!(p.resolve(0, b":1\r\n"), Err(ResolveError::NotWaiting));
}

#[test]
fn a_message_transport_feeds_messages_cut_anywhere() {
    let stream: &[u8] =
        b"+OK\r\n:42\r\n$5\r\nhello\r\n*2\r\n$1\r\na\r\n:7\r\n>2\r\n$1\r\np\r\n$1\r\nq\r\n_\r\n";
    for cut in 0..=stream.len() {
        for fixed in [false, true] {
            let mut p = VecPipeline::new();
            let ok = p.query::<()>(cmd("SET").arg("k").arg("v")).unwrap();
            let n = p.incr("n").unwrap();
            let s = p.get::<String>("s").unwrap();
            let pair = p.query::<(String, i64)>(cmd("X")).unwrap();
            let nil = p.get::<Option<String>>("nil").unwrap();
            let sent = p.poll_output().len();
            p.consume_output(sent);
            let (head, tail) = stream.split_at(cut);
            let mut space = [0u8; 24];
            if fixed {
                let mut buf = ReadBuffer::fixed(&mut space);
                buf.feed(&mut p, head).unwrap();
                buf.feed(&mut p, tail).unwrap();
            } else {
                let mut buf = ReadBuffer::new(Vec::new());
                buf.feed(&mut p, head).unwrap();
                buf.feed(&mut p, tail).unwrap();
            }
            assert!(p.is_done(), "cut at {cut}");
            assert_eq!(ok.read(&p), Ok(()));
            assert_eq!(n.read(&p), Ok(42));
            assert_eq!(s.read(&p).as_deref(), Ok("hello"));
            assert_eq!(pair.read(&p), Ok(("a".to_string(), 7)));
            assert_eq!(nil.read(&p), Ok(None));
            assert_eq!(p.pushes_seen(), 1);
        }
    }
    // A reply larger than a fixed buffer fails the pipeline instead of overflowing.
    let mut p = VecPipeline::new();
    let big = p.get::<String>("big").unwrap();
    let sent = p.poll_output().len();
    p.consume_output(sent);
    let mut space = [0u8; 8];
    let mut buf = ReadBuffer::fixed(&mut space);
    let e = buf.feed(&mut p, b"$20\r\n0123").unwrap_err();
    assert!(matches!(e, Failure::Capacity(_)), "{e:?}");
    assert!(matches!(
        big.read(&p),
        Err(SlotError::Failed(Failure::Capacity(_)))
    ));
}

#[test]
fn bool_arguments_are_one_and_zero() {
    let mut p = VecPipeline::new();
    let _ = p.query::<()>(cmd("SET").arg("a").arg(true)).unwrap();
    let _ = p.query::<()>(cmd("SET").arg("b").arg(false)).unwrap();
    assert_eq!(
        p.encoded(),
        b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n0\r\n"
    );
}
