//! The cluster harness itself: a real local Redis Cluster starts settled, a slot moves in three
//! steps with the redirections Redis gives at each, a stopped node holds its connections, and a
//! dead primary's replica takes over. Checked with `redis-cli` and raw sockets only, so a failure
//! here is the harness's, not the client's.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use redpipe_tests::{ClusterOptions, RedisCluster};

#[test]
fn a_slot_moves_with_ask_then_moved() {
    let mut cluster = RedisCluster::start_primaries(3);
    assert_eq!(cluster.primaries().len(), 3);
    assert!(cluster.replicas().is_empty());
    assert_eq!(cluster.seeds().len(), 3);
    let any = cluster.primaries()[0];
    assert_eq!(cluster.cli(any, &["-c", "SET", "{k}a", "1"]), "OK");
    let slot = cluster.slot_of("{k}a");
    let from = cluster.port_of_slot(slot);
    let to = *cluster.primaries().iter().find(|&&p| p != from).unwrap();
    let ask = format!("ASK {slot} 127.0.0.1:{to}");

    cluster.migrate_slot_start(slot, from, to);
    // A key still on the source is served there; a missing one is asked of the target.
    assert_eq!(cluster.cli(from, &["GET", "{k}a"]), "1");
    assert_eq!(cluster.cli(from, &["GET", "{k}b"]), ask);
    assert_eq!(cluster.migrate_keys(slot, from, to), 1);
    assert_eq!(cluster.cli(from, &["GET", "{k}a"]), ask);
    cluster.migrate_slot_finish(slot, from, to);
    assert_eq!(cluster.port_of_slot(slot), to);
    assert_eq!(cluster.cli(to, &["GET", "{k}a"]), "1");
    for port in cluster.ports().into_iter().filter(|&p| p != to) {
        assert_eq!(
            cluster.cli(port, &["GET", "{k}a"]),
            format!("MOVED {slot} 127.0.0.1:{to}")
        );
    }

    // And back in one call; then a paused node answers, late.
    cluster.move_slot(slot, to, from);
    assert_eq!(cluster.cli(from, &["GET", "{k}a"]), "1");
    cluster.pause(from, 1000);
    let mut conn = TcpStream::connect(("127.0.0.1", from)).unwrap();
    conn.write_all(b"*2\r\n$3\r\nGET\r\n$4\r\n{k}a\r\n")
        .unwrap();
    conn.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut reply = [0u8; 16];
    let early = conn.read(&mut reply);
    assert!(
        early.as_ref().is_err_and(|e| matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "a paused node does not answer yet: {early:?}"
    );
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n = conn.read(&mut reply).unwrap();
    assert_eq!(
        &reply[..n],
        b"$1\r\n1\r\n",
        "it answers once the pause ends"
    );
}

#[test]
fn a_started_cluster_is_settled_and_a_stopped_node_keeps_its_connections() {
    let mut cluster = RedisCluster::start();
    let (primaries, replicas) = (cluster.primaries(), cluster.replicas());
    assert_eq!((primaries.len(), replicas.len()), (3, 3));
    for port in cluster.ports() {
        let info = cluster.cli(port, &["CLUSTER", "INFO"]);
        assert!(info.contains("cluster_state:ok"), "{port}: {info}");
        assert!(info.contains("cluster_known_nodes:6"), "{port}: {info}");
    }
    for &port in &replicas {
        let role = cluster.cli(port, &["ROLE"]);
        assert!(
            role.starts_with("slave") && role.contains("connected"),
            "{role}"
        );
    }
    for slot in [0, 5000, 16383] {
        assert!(primaries.contains(&cluster.port_of_slot(slot)));
    }

    let port = primaries[1];
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    cluster.stop(port);
    s.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut buf = [0; 16];
    assert!(s.read(&mut buf).is_err(), "a stopped node answered");
    cluster.resume(port);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"+PONG\r\n");
}

#[test]
fn a_dead_primary_fails_over_to_its_replica() {
    // A short node timeout: the failover takes a little more than that.
    let mut cluster = RedisCluster::with(ClusterOptions {
        node_timeout: Duration::from_secs(1),
        ..ClusterOptions::default()
    });
    let replicas = cluster.replicas();
    let any = cluster.primaries()[0];
    assert_eq!(cluster.cli(any, &["-c", "SET", "k", "v"]), "OK");
    let old = cluster.port_of_slot(cluster.slot_of("k"));
    // The write reaches the replica before the crash.
    assert_eq!(cluster.cli(old, &["WAIT", "1", "5000"]), "1");

    cluster.kill(old);
    let new = cluster.wait_failover(old);
    assert!(replicas.contains(&new), "{new} was not a replica");
    assert_eq!(cluster.port_of_slot(cluster.slot_of("k")), new);
    assert_eq!(cluster.cli(new, &["GET", "k"]), "v");
    assert!(!cluster.ports().contains(&old));
    assert!(cluster.primaries().contains(&new));
    assert_eq!(cluster.seeds().len(), 5);

    // A primary stopped past the node timeout is failed over too, and comes back a replica.
    let stopped = *cluster.primaries().iter().find(|&&p| p != new).unwrap();
    cluster.stop(stopped);
    let promoted = cluster.wait_failover(stopped);
    cluster.resume(stopped);
    cluster.wait_settled();
    assert!(cluster.replicas().contains(&stopped));
    assert!(cluster.primaries().contains(&promoted));
}

#[test]
fn a_tls_cluster_with_a_user_serves_tls_only_and_only_to_known_users() {
    let cluster = RedisCluster::with(ClusterOptions {
        primaries: 1,
        replicas: 1,
        tls: true,
        users: vec![("alice".into(), "pw".into())],
        ..ClusterOptions::default()
    });
    let (primary, replica) = (cluster.primaries()[0], cluster.replicas()[0]);
    let ca = cluster.ca_file().unwrap();
    assert_eq!(
        cluster.url(primary, Some(("alice", "pw"))),
        format!(
            "rediss://alice:pw@127.0.0.1:{primary}?tls_ca={}",
            ca.display()
        )
    );
    // The replica follows its primary over TLS, with the harness's password.
    assert_eq!(cluster.cli(primary, &["SET", "k", "v"]), "OK");
    assert_eq!(cluster.cli(primary, &["WAIT", "1", "5000"]), "1");
    let role = cluster.cli(replica, &["ROLE"]);
    assert!(
        role.starts_with("slave") && role.contains("connected"),
        "{role}"
    );

    let tls_cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-p", &primary.to_string(), "--tls", "--cacert"])
            .arg(&ca)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let as_alice = ["--user", "alice", "--pass", "pw", "--no-auth-warning"];
    assert_eq!(tls_cli(&[&as_alice[..], &["GET", "k"]].concat()), "v");
    let anonymous = tls_cli(&["GET", "k"]);
    assert!(anonymous.contains("NOAUTH"), "{anonymous}");

    // Plain TCP on the client port gets no RESP answer: it speaks TLS only.
    let mut s = TcpStream::connect(("127.0.0.1", primary)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut buf = [0u8; 16];
    let answer = s.read(&mut buf).map(|n| buf[..n].to_vec());
    assert!(
        !answer.as_ref().is_ok_and(|a| a.starts_with(b"+PONG")),
        "{answer:?}"
    );
}
