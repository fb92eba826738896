//! Pub/Sub: a subscriber on a channel and a pattern, messages published from one pipeline, read
//! typed, then what a dropped connection looks like (a gap marker, and the subscriber back by
//! itself).
//!
//! Run it with `REDIS_URL=redis://127.0.0.1:6379 cargo run -p redpipe --example pubsub`
//! (`cargo xtask test` runs it against a throwaway server). Its channels carry the process id.

use std::time::Duration;

use redpipe::prelude::*;
use redpipe::pubsub::{Event, Kind, Subscriber};

const WAIT: Option<Duration> = Some(Duration::from_secs(5));

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").map_err(|_| "REDIS_URL is not set")?;
    redpipe::connect(&url)?;
    let id = std::process::id();
    let orders = format!("pubsub:{id}:orders");
    let alerts = format!("pubsub:{id}:alerts.*");

    // A connection of its own; each call returns once the server confirmed.
    let mut sub = Subscriber::new(redpipe::DEFAULT)?;
    sub.subscribe(&[&orders])?;
    sub.psubscribe(&[&alerts])?;

    // Publishing is a command like any other: three messages, one round trip.
    let receivers = redpipe::autoexec(None, |p| {
        Ok([
            p.publish(&orders, 17),
            p.publish(&orders, 18),
            p.publish(format!("pubsub:{id}:alerts.disk"), "90% full"),
        ])
    })?;
    for r in &receivers {
        assert_eq!(r.result()?, 1); // one subscriber got each
    }

    let mut total = 0;
    for _ in 0..2 {
        let Some(Event::Message(m)) = sub.next_event(WAIT)? else {
            return Err("expected an order".into());
        };
        total += m.payload::<i64>()?; // typed as a reply is
    }
    assert_eq!(total, 35);
    let Some(Event::Message(alert)) = sub.next_event(WAIT)? else {
        return Err("expected an alert".into());
    };
    println!(
        "orders: {total}; alert on {} (matched {:?}): {}",
        alert.channel,
        alert.pattern.as_deref().unwrap_or_default(),
        alert.payload::<String>()?
    );

    // The server drops the subscriber: it reconnects, resubscribes, and says messages may
    // have been missed.
    let killed = redpipe::autoexec(None, |p| {
        Ok(p.query::<i64>(cmd("CLIENT").arg(("KILL", "TYPE", "pubsub"))))
    })?;
    assert!(killed.result()? >= 1);
    assert_eq!(sub.next_event(WAIT)?, Some(Event::Gap));
    println!(
        "reconnected; subscribed again to {:?}",
        sub.subscriptions(Kind::Channel)
    );
    Ok(())
}
