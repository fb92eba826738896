//! redpipe on a Redis Cluster that serves TLS only (`port 0`, `tls-cluster yes`, a CA made at
//! test time) and lets in only an ACL user with a password: a name registered with one
//! `rediss://user:password@...` seed reaches every other node (the slot map's, an `ASK`'s, a
//! `MOVED`'s) over TLS as that user.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use redpipe::prelude::*;
use redpipe::{Connections, Error, Handle};
use redpipe_tests::{ClusterOptions, RedisCluster};

const USER: (&str, &str) = ("alice", "alice-secret");

/// Client connections of `USER` on node `port` (the harness's own are the default user's).
fn user_clients(cluster: &RedisCluster, port: u16) -> usize {
    let list = cluster.cli(port, &["CLIENT", "LIST"]);
    let user = format!(" user={} ", USER.0);
    list.lines().filter(|l| l.contains(&user)).count()
}

fn registry(url: &str) -> Connections {
    let r = Connections::new();
    r.register(redpipe::DEFAULT, &[url][..]).unwrap();
    r
}

#[test]
fn ask_and_moved_reach_new_nodes_over_tls_as_the_user() {
    let cluster = RedisCluster::with(ClusterOptions {
        primaries: 3,
        replicas: 0,
        tls: true,
        users: vec![(USER.0.into(), USER.1.into())],
        ..ClusterOptions::default()
    });
    let slot = cluster.slot_of("{t}");
    let a = cluster.port_of_slot(slot);
    let others: Vec<u16> = cluster
        .primaries()
        .into_iter()
        .filter(|&p| p != a)
        .collect();
    let (b, c) = (others[0], others[1]);
    let r = registry(&cluster.url(a, Some(USER)));

    // Keys of one slot, the seed's: the client has reached the seed only.
    let keys: Vec<String> = (0..100).map(|i| format!("{{t}}{i}")).collect();
    let mut p = r.pipe();
    let sets: Vec<Handle<()>> = keys.iter().enumerate().map(|(i, k)| p.set(k, i)).collect();
    p.execute().unwrap();
    sets.iter().for_each(|s| s.result().unwrap());
    assert!(user_clients(&cluster, a) > 0);
    assert_eq!(
        (user_clients(&cluster, b), user_clients(&cluster, c)),
        (0, 0),
        "only the seed reached so far"
    );

    // ASK: the keys move to b while the slot migrates; the client's map still says a.
    cluster.migrate_slot_start(slot, a, b);
    assert_eq!(cluster.migrate_keys(slot, a, b), keys.len());
    let mut p = r.pipe();
    let reads: Vec<Handle<Option<String>>> = keys.iter().map(|k| p.get(k)).collect();
    p.execute().unwrap();
    for (i, h) in reads.iter().enumerate() {
        assert_eq!(h.result().unwrap(), Some(i.to_string()), "read through ASK");
    }
    assert!(user_clients(&cluster, b) > 0, "b reached as {}", USER.0);
    cluster.migrate_slot_finish(slot, a, b);

    // MOVED: the slot moves on to c, never reached; the map still says a. Keys of every other
    // slot in the same pipeline.
    cluster.move_slot(slot, b, c);
    let mut p = r.pipe();
    let incrs: Vec<Handle<i64>> = keys.iter().map(|k| p.incr(k)).collect();
    let across: Vec<(String, Handle<()>)> = (0..300)
        .map(|i| {
            let k = format!("x{i}");
            let h = p.set(&k, i);
            (k, h)
        })
        .collect();
    p.execute().unwrap();
    for (i, h) in incrs.iter().enumerate() {
        assert_eq!(h.result().unwrap(), i as i64 + 1, "each INCR ran once");
    }
    let mut moved = keys.len() as u64;
    for (i, (k, h)) in across.iter().enumerate() {
        h.result().unwrap();
        let owner = cluster.port_of_slot(cluster.slot_of(k));
        assert_eq!(cluster.get(owner, k), Some(i.to_string()), "{k}");
        moved += u64::from(owner == c && cluster.slot_of(k) == slot);
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(cluster.get(c, k), Some((i + 1).to_string()), "{k} on c");
    }
    assert!(user_clients(&cluster, c) > 0, "c reached as {}", USER.0);
    let counts = r.cluster(redpipe::DEFAULT).unwrap().counts();
    assert_eq!(
        (counts.asked, counts.moved),
        (keys.len() as u64, moved),
        "{counts:?}"
    );

    // The same over tokio connections, from a fresh registry: every node reached anew.
    let fresh = registry(&cluster.url(b, Some(USER)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut p = fresh.pipe();
        let reads: Vec<Handle<Option<i64>>> = keys.iter().map(|k| p.get(k).cast()).collect();
        let others: Vec<Handle<Option<i64>>> =
            (0..300).map(|i| p.get(format!("x{i}")).cast()).collect();
        p.execute_async().await.unwrap();
        for (i, h) in reads.iter().enumerate() {
            assert_eq!(h.result().unwrap(), Some(i as i64 + 1));
        }
        for (i, h) in others.iter().enumerate() {
            assert_eq!(h.result().unwrap(), Some(i as i64));
        }
    });

    // Without the user's password every node refuses: the answers above were the user's.
    let anonymous = registry(&cluster.url(c, None));
    let mut p = anonymous.pipe();
    let refused = p.get("{t}0");
    let ran = p.execute();
    assert!(
        matches!(&ran, Err(Error::Server(e)) if e.code() == "NOAUTH"),
        "{ran:?}"
    );
    assert!(refused.result().is_err());
}
