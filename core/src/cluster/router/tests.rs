use super::fake::FakeCluster;
use super::*;
use crate::cmd::ScanOptions;
use crate::prelude::*;
use crate::{Failure, SlotError};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;

#[test]
fn keys_across_every_node_resolve_in_call_order() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    let mut p = VecPipeline::new();
    let sets: Vec<_> = (0..300)
        .map(|i| p.set(format!("k{i}"), i).unwrap())
        .collect();
    let gets: Vec<_> = (0..300)
        .map(|i| p.get::<i64>(format!("k{i}")).unwrap())
        .collect();
    let pong = p.ping().unwrap();
    assert_eq!(
        cluster.execute(&mut p, &mut map),
        1,
        "one round trip per node"
    );
    for (i, (s, g)) in sets.iter().zip(&gets).enumerate() {
        assert_eq!(s.read(&p), Ok(()));
        assert_eq!(g.read(&p), Ok(i as i64));
    }
    assert_eq!(pong.read(&p), Ok("PONG"));
    assert!(
        cluster.log.iter().all(|l| l.len() > 150),
        "every node got its share"
    );
}

#[test]
fn scan_walks_every_primary_under_one_cursor() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    let mut p = VecPipeline::new();
    for i in 0..50 {
        let _ = p.set(format!("k{i}"), i).unwrap();
    }
    cluster.execute(&mut p, &mut map);
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut pages = 0;
    loop {
        p.reset();
        let opts = ScanOptions {
            count: Some(7),
            ..ScanOptions::default()
        };
        let page = p.scan::<Vec<String>>(cursor, opts).unwrap();
        let pong = p.ping().unwrap();
        cluster.execute(&mut p, &mut map);
        let (next, keys) = page.read(&p).unwrap();
        assert_eq!(
            pong.read(&p),
            Ok("PONG"),
            "a scan page beside other commands"
        );
        seen.extend(keys);
        pages += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
        assert!(pages < 50, "no progress");
    }
    seen.sort();
    let mut want: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
    want.sort();
    assert_eq!(seen, want, "every key once");
    for (node, log) in cluster.log.iter().enumerate() {
        let scans: Vec<&String> = log.iter().filter(|c| c.starts_with("SCAN")).collect();
        assert!(scans.len() >= 2, "node {node} scanned in pages: {scans:?}");
        assert!(
            scans[0].starts_with("SCAN 0 "),
            "node {node} starts at 0: {scans:?}"
        );
    }
}

#[test]
fn whole_keyspace_commands_go_to_every_primary_and_come_back_as_one() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    let mut p = VecPipeline::new();
    for i in 0..40 {
        let _ = p.set(format!("k{i}"), i).unwrap();
    }
    let size = p.dbsize().unwrap();
    let keys = p.keys::<Vec<String>>("*").unwrap();
    let pong = p.ping().unwrap();
    assert_eq!(cluster.execute(&mut p, &mut map), 1, "one round trip");
    assert_eq!(size.read(&p), Ok(40));
    let mut keys = keys.read(&p).unwrap();
    keys.sort();
    let mut want: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(pong.read(&p), Ok("PONG"));
    let pings: usize = cluster
        .log
        .iter()
        .map(|l| l.iter().filter(|c| *c == "PING").count())
        .sum();
    assert_eq!(pings, 1, "other keyless commands go to one node");

    p.reset();
    let flushed = p.flushdb().unwrap();
    let size = p.dbsize().unwrap();
    cluster.execute(&mut p, &mut map);
    assert_eq!(flushed.read(&p), Ok(()));
    assert_eq!(size.read(&p), Ok(0));
    assert!(cluster.data.iter().all(BTreeMap::is_empty));
}

#[test]
fn a_primary_refusing_its_part_fails_the_whole_keyspace_command() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    cluster.scripted.push((1, "DBSIZE", b"-ERR not now\r\n"));
    cluster.scripted.push((2, "KEYS", b"+not an array\r\n"));
    let mut p = VecPipeline::new();
    let size = p.dbsize().unwrap();
    let keys = p.keys::<Vec<String>>("*").unwrap();
    cluster.execute(&mut p, &mut map);
    assert!(size.read(&p).is_err(), "a part's error is the result");
    assert!(keys.read(&p).is_err(), "a part that is not a key list");
}

#[test]
fn a_scan_cursor_past_the_last_primary_ends_the_scan_without_sending() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    let mut p = VecPipeline::new();
    let page = p
        .scan::<Vec<String>>(7 << 48, ScanOptions::default())
        .unwrap();
    cluster.execute(&mut p, &mut map);
    assert_eq!(page.read(&p), Ok((0, Vec::new())));
    assert!(cluster.log.iter().all(Vec::is_empty));
}

#[test]
fn a_scan_reply_that_is_not_a_page_fails_its_handle() {
    let mut cluster = FakeCluster::new(2);
    let mut map = cluster.map();
    cluster.scripted.push((0, "SCAN", b"+OK\r\n"));
    cluster
        .scripted
        .push((1, "SCAN", b"*2\r\n$16\r\n9999999999999999\r\n*0\r\n"));
    let mut p = VecPipeline::new();
    let first = p.scan::<Vec<String>>(0, ScanOptions::default()).unwrap();
    let second = p
        .scan::<Vec<String>>(1 << 48, ScanOptions::default())
        .unwrap();
    cluster.execute(&mut p, &mut map);
    assert!(first.read(&p).is_err());
    assert!(second.read(&p).is_err(), "a node cursor over 48 bits");
}

#[test]
fn a_reused_run_with_a_shared_map_copies_the_map_only_after_moved() {
    let mut cluster = FakeCluster::new(3);
    let mut shared = Arc::new(cluster.map());
    let mut run = ClusterRun::new();
    for round in 1..=3 {
        let mut p = VecPipeline::new();
        let counters: Vec<_> = (0..50).map(|i| p.incr(format!("r{i}")).unwrap()).collect();
        let before = shared.clone();
        while run.next_round(&mut p, &shared) {
            cluster.serve(&mut run, &shared);
            run.absorb_shared(&mut p, &mut shared);
        }
        assert!(Arc::ptr_eq(&before, &shared), "no MOVED: no copy");
        for c in &counters {
            assert_eq!(c.read(&p), Ok(round));
        }
        run.reset();
    }
    let slot = HashSlot::for_key(b"r7");
    let old = cluster.owner[usize::from(slot.get())];
    cluster.owner[usize::from(slot.get())] = (old + 1) % 3;
    let mut p = VecPipeline::new();
    let n = p.incr("r7").unwrap();
    let before = shared.clone();
    while run.next_round(&mut p, &shared) {
        cluster.serve(&mut run, &shared);
        run.absorb_shared(&mut p, &mut shared);
    }
    assert_eq!(n.read(&p), Ok(1), "the fake new owner starts empty");
    assert!(
        !Arc::ptr_eq(&before, &shared),
        "MOVED: a copy with the new owner"
    );
    assert_eq!(
        before.owner(slot),
        Some(old),
        "the shared map is left alone"
    );
    assert_ne!(shared.owner(slot), Some(old));
}

#[test]
fn multi_key_commands_are_split_and_put_back_together() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    let mut p = VecPipeline::new();
    let keys: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    let pairs: Vec<(&str, usize)> = keys.iter().map(String::as_str).zip(0..).collect();
    let mset = p
        .query::<()>(
            cmd("MSET").arg(
                pairs
                    .iter()
                    .map(|&(k, v)| (k, v))
                    .collect::<Vec<_>>()
                    .as_slice(),
            ),
        )
        .unwrap();
    let mut asked: Vec<&str> = keys.iter().map(String::as_str).rev().collect();
    asked.push("missing");
    let mget = p
        .query::<Vec<Option<i64>>>(cmd("MGET").arg(asked.as_slice()))
        .unwrap();
    let del = p.del(&keys[..10]).unwrap();
    cluster.execute(&mut p, &mut map);
    assert_eq!(mset.read(&p), Ok(()));
    let mut want: Vec<Option<i64>> = (0..20).rev().map(Some).collect();
    want.push(None);
    assert_eq!(mget.read(&p), Ok(want), "values in the order asked");
    assert_eq!(del.read(&p), Ok(10), "counts summed");
    let sent: usize = cluster
        .log
        .iter()
        .map(|l| l.iter().filter(|c| c.starts_with("MGET")).count())
        .sum();
    let mut slots: Vec<u16> = asked
        .iter()
        .map(|k| HashSlot::for_key(k.as_bytes()).get())
        .collect();
    slots.sort_unstable();
    slots.dedup();
    // Redis wants one slot per command, even on one node.
    assert_eq!(sent, slots.len(), "one MGET per slot");
}

#[test]
fn other_commands_across_slots_get_crossslot_and_are_not_sent() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    let mut p = VecPipeline::new();
    let (a, b) = ("a", "b"); // slots 15495 and 3300: different nodes
    assert_ne!(
        map.owner(HashSlot::for_key(a.as_bytes())),
        map.owner(HashSlot::for_key(b.as_bytes()))
    );
    let rename = p.query::<()>(cmd("RENAME").arg(a).arg(b)).unwrap();
    let tagged = p
        .query::<()>(cmd("RENAME").arg("{u}a").arg("{u}b"))
        .unwrap();
    cluster.execute(&mut p, &mut map);
    match rename.read(&p) {
        Err(SlotError::Server(e)) => assert_eq!(e.kind(), ServerErrorKind::CrossSlot),
        other => panic!("{other:?}"),
    }
    // Same hash tag: sent (the fake server does not know RENAME).
    assert!(matches!(tagged.read(&p), Err(SlotError::Server(e)) if e.code() == "ERR"));
    let renames: usize = cluster
        .log
        .iter()
        .map(|l| l.iter().filter(|c| c.starts_with("RENAME")).count())
        .sum();
    assert_eq!(renames, 1);
}

#[test]
fn moved_updates_the_map_and_resends_only_the_moved_command() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    let slot = HashSlot::for_key(b"counter");
    let old = cluster.owner[usize::from(slot.get())];
    let new = (old + 1) % 3;
    cluster.owner[usize::from(slot.get())] = new; // resharded; the client's map is stale
    let mut p = VecPipeline::new();
    let n = p.incr("counter").unwrap();
    let other = p.incr("other").unwrap();
    let mut run = ClusterRun::new();
    assert!(run.next_round(&mut p, &map));
    cluster.serve(&mut run, &map);
    run.absorb(&mut p, &mut map);
    assert!(run.wants_refresh());
    assert_eq!(map.owner(slot), Some(map.find(&cluster.node(new)).unwrap()));
    assert!(run.next_round(&mut p, &map));
    assert_eq!(
        run.batches_mut().iter().map(Batch::len).sum::<usize>(),
        1,
        "only the moved command"
    );
    cluster.serve(&mut run, &map);
    run.absorb(&mut p, &mut map);
    assert!(!run.next_round(&mut p, &map));
    assert_eq!((n.read(&p), other.read(&p)), (Ok(1), Ok(1)));
    let incrs: usize = cluster
        .log
        .iter()
        .map(|l| l.iter().filter(|c| *c == "INCR counter").count())
        .sum();
    assert_eq!(
        incrs, 2,
        "sent to the old owner (refused) and the new one: run once"
    );
}

#[test]
fn the_refresh_after_a_round_asks_the_moved_target_first_and_a_failed_node_last() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    let slot = HashSlot::for_key(b"counter");
    let old = cluster.owner[usize::from(slot.get())];
    let new = (old + 1) % 3;
    cluster.owner[usize::from(slot.get())] = new;
    let mut p = VecPipeline::new();
    let _ = p.incr("counter").unwrap();
    let mut run = ClusterRun::new();
    assert!(run.next_round(&mut p, &map));
    cluster.serve(&mut run, &map);
    run.absorb(&mut p, &mut map);
    let refresh = run.refresh(&map);
    assert!(refresh.after_trouble());
    assert_eq!(refresh.order(&map, &[])[0], cluster.node(new));

    // A round whose batch fails: its node is asked last.
    let mut p = VecPipeline::new();
    let _ = p.incr("counter").unwrap();
    run.reset();
    assert!(run.next_round(&mut p, &map));
    for b in run.batches_mut() {
        b.pipeline_mut()
            .fail(Failure::Io(crate::IoKind::ConnectionRefused));
    }
    run.absorb(&mut p, &mut map);
    assert!(run.wants_refresh());
    let order = run.refresh(&map).order(&map, &[]);
    assert_eq!(order.last(), Some(&cluster.node(new)));
    assert_eq!(order.len(), 3);
    run.reset();
    assert!(!run.refresh(&map).after_trouble());
}

#[test]
fn ask_sends_asking_and_the_command_to_the_importing_node_once() {
    let mut cluster = FakeCluster::new(2);
    let mut map = cluster.map();
    let slot = HashSlot::for_key(b"moving");
    let from = cluster.owner[usize::from(slot.get())];
    let to = 1 - from;
    cluster.migrating.push((slot.get(), to));
    let mut p = VecPipeline::new();
    let set = p.set("moving", 1).unwrap();
    let rounds = cluster.execute(&mut p, &mut map);
    assert_eq!(rounds, 2);
    assert_eq!(set.read(&p), Ok(()));
    assert_eq!(cluster.log[to], ["ASKING", "SET moving 1"]);
    assert_eq!(
        map.owner(slot),
        Some(map.find(&cluster.node(from)).unwrap()),
        "ASK leaves the map alone"
    );
}

#[test]
fn ask_to_a_node_the_map_does_not_know_goes_to_that_node() {
    let mut cluster = FakeCluster::new(2);
    let mut map = cluster.map();
    // A third node joins after the map was read; a slot migrates to it.
    cluster.data.push(Default::default());
    cluster.log.push(Vec::new());
    let slot = HashSlot::for_key(b"moving");
    cluster.migrating.push((slot.get(), 2));
    assert_eq!(map.find(&cluster.node(2)), None);
    let mut p = VecPipeline::new();
    let set = p.set("moving", 1).unwrap();
    assert_eq!(cluster.execute(&mut p, &mut map), 2);
    assert_eq!(set.read(&p), Ok(()));
    assert_eq!(cluster.log[2], ["ASKING", "SET moving 1"]);
    assert!(
        map.find(&cluster.node(2)).is_some(),
        "the map learned the node"
    );
}

#[test]
fn retries_are_bounded_by_the_budget_and_the_last_error_is_the_result() {
    let mut cluster = FakeCluster::new(1);
    let mut map = cluster.map();
    for _ in 0..MAX_ATTEMPTS {
        cluster.scripted.push((
            0,
            "GET",
            b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
        ));
    }
    let mut p = VecPipeline::new();
    let g = p.get::<String>("k").unwrap();
    let mut run = ClusterRun::new();
    run.set_retry_budget(1_000);
    let mut delays = Vec::new();
    while run.next_round(&mut p, &map) {
        delays.push(run.delay_ms());
        cluster.serve(&mut run, &map);
        run.absorb(&mut p, &mut map);
    }
    assert!(
        delays.windows(2).all(|w| w[1] >= w[0]) && delays[1] > 0,
        "{delays:?}"
    );
    let waited: u32 = delays.iter().sum();
    assert!(
        (1_000..1_000 + MAX_BACKOFF_MS).contains(&waited),
        "retried until the budget was spent, not longer: {delays:?}"
    );
    assert_eq!(run.counts().waited_ms, u64::from(waited));
    assert_eq!(run.counts().retries, delays.len() as u64 - 1);
    assert!(
        matches!(g.read(&p), Err(SlotError::Server(e)) if e.kind() == ServerErrorKind::TryAgain)
    );
}

/// During a failover the nodes disagree for a while: the old owner says the new one has the
/// slot, the new one (not promoted yet) says the old one. The run follows, waiting more each
/// time, until the new owner accepts: nothing fails, nothing is applied twice.
#[cfg(feature = "transactions")]
#[test]
fn a_transaction_goes_whole_to_its_slot_or_not_at_all() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    let mut p = VecPipeline::new();
    let (a, b) = p
        .transaction(|p| Ok::<_, crate::CapacityError>((p.incr("{t}a")?, p.incr("{t}b")?)))
        .unwrap();
    let (x, y) = p
        .transaction(|p| Ok::<_, crate::CapacityError>((p.incr("a")?, p.incr("b")?)))
        .unwrap();
    cluster.execute(&mut p, &mut map);
    assert_eq!((a.read(&p), b.read(&p)), (Ok(1), Ok(1)));
    for h in [x, y] {
        assert!(
            matches!(h.read(&p), Err(SlotError::Server(e)) if e.kind() == ServerErrorKind::CrossSlot)
        );
    }
    let node = cluster.owner[usize::from(HashSlot::for_key(b"t").get())];
    assert_eq!(
        cluster.log[node],
        ["MULTI", "INCR {t}a", "INCR {t}b", "EXEC"]
    );
}

#[test]
fn reads_go_to_replicas_after_readonly_when_asked() {
    // One shard: 7000 owns every slot, 7001 and 7002 are its replicas.
    let node = |port: u16| alloc::format!("*2\r\n$9\r\n127.0.0.1\r\n:{port}\r\n");
    let reply = alloc::format!(
        "*1\r\n*5\r\n:0\r\n:16383\r\n{}{}{}",
        node(7000),
        node(7001),
        node(7002)
    );
    let (reply, _) = crate::codec::decode::decode_reply(reply.as_bytes(), &Limits::default())
        .unwrap()
        .unwrap();
    let map = SlotMap::from_reply(&reply).unwrap();
    let mut p = VecPipeline::new();
    let _ = p.set("k", 1).unwrap();
    for _ in 0..4 {
        let _ = p.get::<i64>("k").unwrap();
    }
    let mut run = ClusterRun::new();
    run.read_from_replicas(true);
    assert!(run.next_round(&mut p, &map));
    let mut sent: Vec<(u16, String)> = run
        .batches_mut()
        .iter_mut()
        .map(|b| {
            let port = map.node(b.node()).port;
            let text = String::from_utf8_lossy(b.pipeline_mut().encoded()).into_owned();
            (port, text)
        })
        .collect();
    sent.sort();
    assert_eq!(sent.len(), 3);
    assert!(
        sent[0].1.contains("SET") && !sent[0].1.contains("GET"),
        "{sent:?}"
    );
    for (port, text) in &sent[1..] {
        assert!(text.starts_with("*1\r\n$8\r\nREADONLY"), "{port}: {text:?}");
        assert_eq!(
            text.matches("GET").count(),
            2,
            "reads spread over the replicas"
        );
    }
}

#[test]
fn encoded_words_round_trip() {
    let mut p = VecPipeline::new();
    let _ = p
        .query::<()>(cmd("SET").arg("k").arg("").arg(b"a\r\nb".as_slice()))
        .unwrap();
    let w = words(p.command(0).unwrap()).unwrap();
    assert_eq!(w, [&b"SET"[..], b"k", b"", b"a\r\nb"]);
    assert_eq!(words(b"*2\r\n$3\r\nGET\r\n"), None);
    let e = elements(b"*3\r\n$1\r\na\r\n$-1\r\n*1\r\n:1\r\n").unwrap();
    assert_eq!(e, [&b"$1\r\na\r\n"[..], b"$-1\r\n", b"*1\r\n:1\r\n"]);
}

#[test]
fn a_nodes_commands_keep_their_order_around_commands_routed_apart() {
    // Commands that go straight into their batch while planning, then a split command and a
    // keyless one (routed after planning), then more: each node sees them in call order.
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    let mut p = VecPipeline::new();
    let _ = p.set("{x}a", 1).unwrap();
    let _ = p.set("{y}b", 1).unwrap();
    let mset = p
        .query::<()>(cmd("MSET").arg([("{x}a", 2), ("{y}b", 2)].as_slice()))
        .unwrap();
    let pong = p.ping().unwrap();
    let a = p.get::<i64>("{x}a").unwrap();
    let _ = p.set("{x}a", 3).unwrap();
    let b = p.get::<i64>("{y}b").unwrap();
    let a2 = p.get::<i64>("{x}a").unwrap();
    cluster.execute(&mut p, &mut map);
    assert_eq!(mset.read(&p), Ok(()));
    assert_eq!(pong.read(&p), Ok("PONG"));
    assert_eq!((a.read(&p), b.read(&p), a2.read(&p)), (Ok(2), Ok(2), Ok(3)));
    let node = cluster.owner[usize::from(HashSlot::for_key(b"x").get())];
    let log: Vec<&str> = cluster.log[node]
        .iter()
        .map(String::as_str)
        .filter(|c| c.contains("{x}"))
        .collect();
    assert_eq!(
        log,
        [
            "SET {x}a 1",
            "MSET {x}a 2",
            "GET {x}a",
            "SET {x}a 3",
            "GET {x}a"
        ]
    );
}
