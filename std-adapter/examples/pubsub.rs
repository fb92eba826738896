//! Pub/Sub: a subscriber on a channel and a pattern, messages published from one pipeline, read
//! typed, then what a dropped connection looks like (a gap marker, and the subscriber back by
//! itself); then a keyspace hearing its own keys change (keyspace notifications).
//!
//! Run it with `REDIS_URL=redis://127.0.0.1:6379 cargo run -p redpipe --example pubsub`
//! (`cargo xtask test` runs it against a throwaway server). Its channels and keys carry the
//! process id; it turns `notify-keyspace-events` on for a moment and puts it back as it was.

use std::time::Duration;

use redpipe::keyspace::{Integer, Keyspace};
use redpipe::prelude::*;
use redpipe::pubsub::{Event, KeyEvent, Kind, Subscriber};

redpipe::keyspace! {
    /// Stock per item.
    struct Stock: String { prefix: "stock", template: "%s:%s", value: Integer }
}

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
        alert.channel(),
        alert.pattern().unwrap_or_default(),
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

    // Keyspace notifications: the server publishes them only when told to.
    let config = |value: &str| {
        let value = value.to_string();
        redpipe::autoexec(None, move |p| {
            Ok(p.query::<()>(cmd("CONFIG").arg(("SET", "notify-keyspace-events", value))))
        })
    };
    let before = redpipe::autoexec(None, |p| {
        Ok(p.query::<(String, String)>(cmd("CONFIG").arg(("GET", "notify-keyspace-events"))))
    })?
    .result()?
    .1;
    config("K$")?.result()?;
    let mut changes = Stock::notifications(&["incrby"])?;
    let item = format!("{id}-widget");
    let stock = redpipe::autoexec(None, |p| Ok(Stock::with(p).incrby(&item, 5)?))?;
    assert_eq!(stock.result()?, 5);
    let Some(KeyEvent::Key(n)) = changes.next_event(WAIT)? else {
        return Err("expected a notification".into());
    };
    assert_eq!(n.key()?, item); // the key inside `stock:...`, as the keyspace reads it
    println!("{} on {}", n.event(), n.key()?);
    config(&before)?.result()?;
    Ok(())
}
