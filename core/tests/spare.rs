//! A pipe's storage carried to the next pipe (`into_spare`, `with_spare`) and dropped commands
//! (`discard`): reuse never lets an old handle read a new run's replies.
#![cfg(feature = "alloc")]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use redpipe_core::prelude::*;
use redpipe_core::{Connector, Error, Failure, Loopback, Pipe, Spare};

/// An in-memory server's answers.
type Answer = Box<dyn FnMut(&[&[u8]]) -> Vec<u8> + Send>;

/// A backend whose server answers every command with the next number, and logs what it got.
fn counting(
    log: Arc<Mutex<Vec<String>>>,
) -> Connector<impl Fn(&str) -> Result<Loopback<Answer>, Error> + Clone> {
    let next = Arc::new(AtomicI64::new(0));
    Connector(move |_name: &str| {
        let (next, log) = (next.clone(), log.clone());
        Ok(Loopback::new(Box::new(move |words: &[&[u8]]| {
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(String::from_utf8_lossy(words[0]).into_owned());
            format!(":{}\r\n", next.fetch_add(1, Ordering::Relaxed) + 1).into_bytes()
        }) as Answer))
    })
}

#[test]
fn a_pipe_made_from_a_spare_never_touches_live_handles() -> Result<(), Error> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let backend = counting(log.clone());
    let mut spare = Spare::default();
    let mut kept = Vec::new();
    for run in 0..6i64 {
        let mut p = Pipe::with_spare(backend.clone(), spare);
        let handles: Vec<_> = (0..50).map(|_| p.incr("n")).collect();
        p.execute()?;
        for (i, h) in handles.iter().enumerate() {
            assert_eq!(h.result()?, run * 50 + i as i64 + 1);
        }
        // Every other run's handles stay alive across the next runs.
        if run % 2 == 0 {
            kept.push((run, handles));
        }
        spare = p.into_spare(usize::MAX);
        for (r, hs) in &kept {
            for (i, h) in hs.iter().enumerate() {
                assert_eq!(h.result()?, r * 50 + i as i64 + 1, "run {r} read again");
            }
        }
    }
    Ok(())
}

#[test]
fn discarded_commands_are_never_sent_and_read_as_cancelled() -> Result<(), Error> {
    let cancelled = |e: Result<_, Error>| matches!(e, Err(Error::Failed(Failure::Cancelled)));
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut p = Pipe::with_backend(counting(log.clone()));
    let dropped = p.incr("dropped");
    let derived = p.on_execute(|_| 7);
    p.discard();
    let sent = p.incr("sent");
    p.execute()?;
    assert_eq!(sent.result()?, 1);
    assert!(cancelled(dropped.result()));
    assert!(cancelled(derived.result().copied()));
    assert_eq!(*log.lock().unwrap_or_else(|e| e.into_inner()), ["INCR"]);
    // What is queued when the pipe becomes a spare is dropped the same way.
    let unsent = p.incr("unsent");
    let spare = p.into_spare(usize::MAX);
    let mut q = Pipe::with_spare(counting(log.clone()), spare);
    q.execute()?;
    assert!(cancelled(unsent.result()));
    // And what is queued when the pipe itself is dropped.
    let never = q.incr("never");
    drop(q);
    assert!(cancelled(never.result()));
    assert_eq!(log.lock().unwrap_or_else(|e| e.into_inner()).len(), 1);
    Ok(())
}
