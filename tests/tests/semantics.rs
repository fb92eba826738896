//! The semantics a RedPipe user relies on, against a real redis-server: scopes that fail leave
//! nothing behind, a nested `execute` joins its parent, callbacks run only after a pipeline that
//! ran, connections go back to the pool clean, named connections refuse conflicts.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redpipe::prelude::*;
use redpipe::{Connections, Error, Handle, Pipe};
use redpipe_tests::RedisServer;

fn registry(server: &RedisServer) -> Connections {
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info());
    r
}

#[test]
fn a_failed_scope_leaves_nothing_behind_even_after_an_inner_execute() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let kept = p.incr("kept");
    let ran = Arc::new(AtomicBool::new(false));
    let mut inside: Option<(Handle<i64>, Handle<i64>)> = None;
    let failed: Result<(), Error> = p.scope(|p| {
        let a = p.incr("a");
        p.execute()?; // inside a scope: joins the enclosing pipeline, sends nothing
        let b = p.incr("b");
        let flag = ran.clone();
        let _ = p.on_execute(move |_| flag.store(true, Ordering::Relaxed));
        inside = Some((a, b));
        Err(Error::Config("changed my mind".into()))
    });
    assert!(failed.is_err());
    p.execute().unwrap();
    assert_eq!(kept.result().unwrap(), 1);
    let (a, b) = inside.unwrap();
    // Never sent, never resolved, the callback never ran.
    assert!(matches!(a.result(), Err(Error::Stale)), "{:?}", a.result());
    assert!(matches!(b.result(), Err(Error::Stale)), "{:?}", b.result());
    assert!(!ran.load(Ordering::Relaxed));
    assert_eq!(server.cli(&["EXISTS", "a", "b"]), "0");
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().pipelines, 1);
}

/// A RedPipe-style reusable function: it calls `execute` itself, which on a pipe it was handed
/// joins the caller's pipeline.
fn add_visit(r: &Connections, pipe: Option<&mut Pipe>) -> redpipe::Result<Handle<i64>> {
    r.autoexec(pipe, |p| {
        let n = p.incr("visits");
        p.execute()?;
        Ok(n)
    })
}

#[test]
fn execute_in_a_function_handed_the_callers_pipe_joins_it() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let a = add_visit(&r, p.nested()).unwrap();
    let b = add_visit(&r, p.nested()).unwrap();
    // Nothing was sent: the caller's scope has not ended.
    assert!(matches!(a.result(), Err(Error::Pending)));
    assert_eq!(r.stats(redpipe::DEFAULT).map_or(0, |s| s.pipelines), 0);
    p.execute().unwrap();
    assert_eq!((a.result().unwrap(), b.result().unwrap()), (1, 2));
    assert_eq!(
        r.stats(redpipe::DEFAULT).unwrap().pipelines,
        1,
        "one round trip"
    );
    // Alone, the same function runs on its own.
    assert_eq!(add_visit(&r, None).unwrap().result().unwrap(), 3);
}

#[test]
fn callbacks_do_not_run_when_execute_fails() {
    let mut server = RedisServer::start();
    let r = registry(&server);
    // Warm a pooled connection, then lose the server.
    add_visit(&r, None).unwrap();
    server.kill();
    let mut p = r.pipe();
    let n = p.incr("visits");
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let h = n.clone();
    // A README-style callback that unwraps its handles: it must not panic out of `execute`.
    let doubled = p.on_execute(move |_| {
        flag.store(true, Ordering::Relaxed);
        h.result().unwrap() * 2
    });
    assert!(p.execute().is_err());
    assert!(!ran.load(Ordering::Relaxed));
    assert!(n.result().is_err());
    assert!(
        matches!(doubled.result(), Err(Error::Failed(_))),
        "{doubled:?}"
    );

    // A server error in one slot is a result: callbacks run and see it.
    server.restart();
    server.cli(&["SET", "text", "not a number"]);
    let mut p = r.pipe();
    let bad = p.incr("text");
    let seen = p.on_execute(move |_| bad.result().is_err());
    p.execute().unwrap();
    assert!(*seen.result().unwrap());
}
