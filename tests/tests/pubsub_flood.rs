//! A slow consumer under a real flood: a subscriber that reads nothing for 10 s while a
//! publisher floods its channel at about 100 000 messages a second keeps only what its buffer
//! allows (the process's memory grows by a small part of the flood), counts what it dropped,
//! and then delivers the newest messages in order; the server holds no backlog for it.
//!
//! A file of its own: the process's resident memory is the measure, and no other test's
//! allocations may share it.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::{Duration, Instant};

use redpipe::Connections;
use redpipe::prelude::*;
use redpipe::pubsub::{Event, Overflow, Subscriber};
use redpipe_tests::RedisServer;

/// How long nobody reads, and the flood's pace.
const FLOOD: Duration = Duration::from_secs(10);
const PER_SECOND: f64 = 100_000.0;
const BATCH: u64 = 1_000;
/// The subscriber's buffer: messages, and bytes.
const ROOM: usize = 1_000;
const ROOM_BYTES: usize = 256 << 10;

/// The process's resident memory, in bytes (`/proc/self/statm`, 4 KiB pages).
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn a_subscriber_that_reads_nothing_through_ten_seconds_of_flood_stays_bounded() {
    let server = RedisServer::start();
    let r = Connections::new();
    let url = format!("{}?timeout=5000", server.url());
    r.register(redpipe::DEFAULT, url.as_str()).unwrap();
    let mut sub = Subscriber::on(&r, redpipe::DEFAULT).unwrap();
    sub.buffer(ROOM, ROOM_BYTES, Overflow::DropOldest);
    sub.subscribe(&["flood"]).unwrap();

    let filler = "x".repeat(100);
    let before = resident();
    let mut most = before;
    let (start, mut sent) = (Instant::now(), 0u64);
    while start.elapsed() < FLOOD {
        // Paced: a batch goes once the clock says the flood is due for it.
        if (sent + BATCH) as f64 > start.elapsed().as_secs_f64() * PER_SECOND {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        let handles = r
            .autoexec(None, |p| {
                Ok((sent..sent + BATCH)
                    .map(|n| p.publish("flood", format!("{n:010} {filler}")))
                    .collect::<Vec<_>>())
            })
            .unwrap();
        assert!(handles.iter().all(|h| h.result().unwrap() == 1));
        sent += BATCH;
        most = most.max(resident());
    }
    let rate = sent as f64 / start.elapsed().as_secs_f64();
    eprintln!(
        "published {sent} messages in {:?} ({rate:.0}/s); resident memory grew by at most {} KiB",
        start.elapsed(),
        most.saturating_sub(before) >> 10
    );

    // The reader keeps reading while nobody takes: once it has read everything, all but the
    // buffer's worth were dropped.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sub.dropped() + (ROOM as u64) < sent {
        assert!(
            Instant::now() < deadline,
            "dropped {} of {}",
            sub.dropped(),
            sent - ROOM as u64
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let flood_bytes = sent * (11 + filler.len() as u64);
    let grew = resident().max(most).saturating_sub(before);
    assert!(
        grew < (16 << 20).min(flood_bytes / 4),
        "resident memory grew by {grew} bytes under a flood of {flood_bytes}"
    );
    let dropped = sent - ROOM as u64;
    assert_eq!(sub.dropped(), dropped);

    // What the subscriber says: how many went, then the newest, in order.
    let wait = Some(Duration::from_secs(5));
    assert_eq!(sub.next_event(wait).unwrap(), Some(Event::Dropped(dropped)));
    for n in dropped..sent {
        match sub.next_event(wait).unwrap() {
            Some(Event::Message(m)) => {
                let text = m.payload::<String>().unwrap();
                assert_eq!(text, format!("{n:010} {filler}"));
            }
            other => panic!("message {n}: {other:?}"),
        }
    }
    assert_eq!(
        sub.next_event(Some(Duration::from_millis(50))).unwrap(),
        None
    );
    let clients = server.cli(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert!(clients.contains(" omem=0 "), "{clients}");
}
