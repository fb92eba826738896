//! One reusable function written over the core traits, run against real redis-servers on the
//! three ways a std program runs pipelines: the `Pipe` model blocking, the `Pipe` model on
//! tokio, and a raw `VecPipeline` on one `Connection`. The model routes the "stats" commands to
//! their own server; the raw pipeline is one connection.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::convert::Infallible;

use redpipe::core::VecPipeline;
use redpipe::error::{CapacityError, SlotError};
use redpipe::prelude::*;
use redpipe::{Connection, Connections, Joined, Pipe};
use redpipe_tests::RedisServer;

/// A wrapper handle over an `HGETALL`, read generically.
struct Profile<Q: Queue> {
    fields: Q::Handle<Vec<(String, String)>>,
}

impl<Q: Queue> Profile<Q> {
    fn name<'r>(&'r self, from: &'r Q::Results<'_>) -> Result<String, SlotError<'r>> {
        let fields = Q::read(&self.fields, from)?;
        Ok(fields
            .into_iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v)
            .unwrap_or_default())
    }
}

struct Visit<Q: Queue + OnExecute> {
    profile: Profile<Q>,
    count: Q::Handle<i64>,
    label: Q::Computed<String>,
}

/// Records a visit of user `id`: the profile in a transaction on the default connection, the
/// counter on "stats", a label computed from both once the pipeline ran.
fn visit<Q>(q: &mut Q, id: u32, name: &str) -> Visit<Q>
where
    Q: Transact + OnExecute,
    Q::Handle<i64>: Clone + Send + Sync + 'static,
{
    let key = Joined(("profile{", id, "}"));
    let profile = q
        .transaction(|q| {
            let _ = q.query::<()>(cmd("HSET").arg(key).arg("name").arg(name));
            Ok::<_, CapacityError>(Profile {
                fields: q.query(cmd("HGETALL").arg(key)),
            })
        })
        .unwrap();
    let Ok(count) = q.on("stats", |q| {
        Ok::<_, Infallible>(q.query(cmd("INCR").arg(Joined(("visits:", id)))))
    });
    let seen = count.clone();
    let label = q.on_execute(move |r| match Q::read(&seen, r) {
        Ok(n) => format!("visit #{n}"),
        Err(e) => format!("no count: {e}"),
    });
    Visit {
        profile,
        count,
        label,
    }
}

fn registry(main: &RedisServer, stats: &RedisServer) -> Connections {
    let r = Connections::new();
    r.register(redpipe::DEFAULT, main.info()).unwrap();
    r.register("stats", stats.info()).unwrap();
    r
}

#[test]
fn on_the_pipe_model_blocking() {
    let (main, stats) = (RedisServer::start(), RedisServer::start());
    let r = registry(&main, &stats);
    for round in 1..=2 {
        let mut p = r.pipe();
        let v = visit(&mut p, 7, "Ann");
        p.execute().unwrap();
        let ran = p.results();
        assert_eq!(v.profile.name(ran).unwrap(), "Ann");
        assert_eq!(v.count.result().unwrap(), round);
        assert_eq!(
            Pipe::read_computed(&v.label, ran).unwrap(),
            &format!("visit #{round}")
        );
    }
    // Each command went to its own server.
    assert_eq!(stats.cli(&["GET", "visits:7"]).trim(), "2");
    assert_eq!(main.cli(&["EXISTS", "visits:7"]).trim(), "0");
    assert_eq!(main.cli(&["HGET", "profile{7}", "name"]).trim(), "Ann");
}

#[tokio::test]
async fn on_the_pipe_model_with_tokio() {
    let (main, stats) = (RedisServer::start(), RedisServer::start());
    let r = registry(&main, &stats);
    let mut p = r.pipe();
    let v = visit(&mut p, 8, "Bob");
    p.execute_async().await.unwrap();
    assert_eq!(v.profile.name(p.results()).unwrap(), "Bob");
    assert_eq!(v.count.result().unwrap(), 1);
    assert_eq!(v.label.result().unwrap(), "visit #1");
    assert_eq!(stats.cli(&["GET", "visits:8"]).trim(), "1");
}

#[test]
fn on_a_raw_pipeline_and_one_connection() {
    let server = RedisServer::start();
    let mut conn = Connection::open(&server.info()).unwrap();
    let mut p = VecPipeline::new();
    let v = visit(&mut p, 9, "Cy");
    conn.execute(&mut p).unwrap();
    let r = p.results();
    assert_eq!(v.profile.name(r).unwrap(), "Cy");
    assert_eq!(VecPipeline::read(&v.count, r), Ok(1));
    assert_eq!(
        VecPipeline::read_computed(&v.label, r).map(String::as_str),
        Ok("visit #1")
    );
    // One connection: "stats" is the same server.
    assert_eq!(server.cli(&["GET", "visits:9"]).trim(), "1");
}
