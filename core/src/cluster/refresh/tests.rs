//! Two nodes answering different maps, as byte fixtures: the refresh keeps the one that has
//! seen the change.

use super::*;
use crate::codec::decode::decode_reply;
use alloc::format;
use alloc::string::String;

/// `CLUSTER SLOTS` of a node that has not seen the failover: 7000 (replica 7003) owns
/// 0-5460, 7001 and 7002 the rest.
const STALE_SLOTS: &[u8] = b"*3\r\n\
    *4\r\n:0\r\n:5460\r\n*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n*2\r\n$9\r\n127.0.0.1\r\n:7003\r\n\
    *3\r\n:5461\r\n:10922\r\n*2\r\n$9\r\n127.0.0.1\r\n:7001\r\n\
    *3\r\n:10923\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:7002\r\n";

/// `CLUSTER NODES` of that node: epochs 1, 2, 3; 7000 only suspected (`fail?`).
const STALE_NODES: &str = "\
a0 127.0.0.1:7000@17000 master,fail? - 0 0 1 connected 0-5460\n\
a1 127.0.0.1:7001@17001 myself,master - 0 0 2 connected 5461-10922\n\
a2 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383\n\
a3 127.0.0.1:7003@17003 slave a0 0 0 1 connected\n";

/// `CLUSTER SLOTS` of the replica that took over: 7003 owns 0-5460.
const FRESH_SLOTS: &[u8] = b"*3\r\n\
    *3\r\n:0\r\n:5460\r\n*2\r\n$9\r\n127.0.0.1\r\n:7003\r\n\
    *3\r\n:5461\r\n:10922\r\n*2\r\n$9\r\n127.0.0.1\r\n:7001\r\n\
    *3\r\n:10923\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:7002\r\n";

/// `CLUSTER NODES` of that replica: it won the election at epoch 4.
const FRESH_NODES: &str = "\
a0 127.0.0.1:7000@17000 master,fail - 0 0 1 disconnected\n\
a1 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922\n\
a2 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383\n\
a3 127.0.0.1:7003@17003 myself,master - 0 0 4 connected 0-5460\n";

fn map(bytes: &[u8]) -> SlotMap {
    let (reply, _) = decode_reply(bytes, &Default::default()).unwrap().unwrap();
    SlotMap::from_reply(&reply).unwrap()
}

fn freshness(text: &str) -> Result<Freshness, TopologyError> {
    let bytes = format!("${}\r\n{text}\r\n", text.len());
    let (reply, _) = decode_reply(bytes.as_bytes(), &Default::default())
        .unwrap()
        .unwrap();
    Freshness::from_reply(&reply)
}

fn node(port: u16) -> Node {
    Node {
        host: "127.0.0.1".into(),
        port,
    }
}

fn owner_port(map: &SlotMap, slot: u16) -> u16 {
    map.node(map.owner(HashSlot::new(slot).unwrap()).unwrap())
        .port
}

#[test]
fn freshness_sums_the_owners_epochs_over_their_slots() {
    let stale = freshness(STALE_NODES).unwrap();
    let fresh = freshness(FRESH_NODES).unwrap();
    assert_eq!(stale, Freshness(5461 + 5462 * 2 + 5461 * 3));
    assert_eq!(fresh, Freshness(5461 * 4 + 5462 * 2 + 5461 * 3));
    assert!(fresh > stale);
    // Migration markers are not owners; single slots count once; replicas own nothing.
    let text = "x 1.2.3.4:1@2 master - 0 0 9 connected 7 10-11 [12->-y] [13-<-y]\n\
                y 1.2.3.4:3@4 slave x 0 0 9 connected\n";
    assert_eq!(freshness(text), Ok(Freshness(27)));
    // RESP3 sends the text as a verbatim string.
    let verbatim = format!("={}\r\ntxt:{text}\r\n", text.len() + 4);
    let (reply, _) = decode_reply(verbatim.as_bytes(), &Default::default())
        .unwrap()
        .unwrap();
    assert_eq!(Freshness::from_reply(&reply), Ok(Freshness(27)));
}

#[test]
fn freshness_of_a_bad_reply_is_an_error() {
    assert_eq!(
        freshness("x 1.2.3.4:1@2 master - 0 0 nine connected 0-5\n"),
        Err(TopologyError::Malformed)
    );
    assert_eq!(
        freshness("x 1.2.3.4:1@2 master - 0 0 1 connected 0-16384\n"),
        Err(TopologyError::Malformed)
    );
    let (refused, _) = decode_reply(b"-NOPERM no\r\n", &Default::default())
        .unwrap()
        .unwrap();
    assert_eq!(Freshness::from_reply(&refused), Err(TopologyError::Refused));
    let (int, _) = decode_reply(b":1\r\n", &Default::default())
        .unwrap()
        .unwrap();
    assert_eq!(Freshness::from_reply(&int), Err(TopologyError::Malformed));
}

/// Runs `refresh` over the map `known`, each node answering as `answer` says (`None`: it
/// fails); the ports asked, in order.
fn run(
    refresh: &mut Refresh,
    known: &SlotMap,
    seeds: &[Node],
    answer: impl Fn(u16) -> Option<(&'static [u8], Option<&'static str>)>,
) -> Vec<u16> {
    refresh.start(known, seeds);
    let mut asked = Vec::new();
    while let Some(n) = refresh.poll_node() {
        asked.push(n.port);
        assert!(asked.len() < 10, "the refresh ends");
        if let Some((slots, nodes)) = answer(n.port) {
            refresh.handle_answer(map(slots), nodes.map(|t| freshness(t).unwrap()));
        }
    }
    asked
}

#[test]
fn after_an_unreachable_primary_the_newest_answer_wins_not_the_first() {
    let known = map(STALE_SLOTS);
    let mut refresh = Refresh::new();
    refresh.avoid(node(7000));
    let order: Vec<u16> = refresh.order(&known, &[]).iter().map(|n| n.port).collect();
    assert_eq!(
        order,
        [7003, 7001, 7002, 7000],
        "its replica first (it may have taken over), the node itself last"
    );
    // The nodes learn of the failover at different times: here 7001 has, 7003 and 7002 not.
    let asked = run(&mut refresh, &known, &[], |port| match port {
        7001 => Some((FRESH_SLOTS, Some(FRESH_NODES))),
        _ => Some((STALE_SLOTS, Some(STALE_NODES))),
    });
    assert_eq!(
        asked,
        [7003, 7001, 7002],
        "three answers, not the unreachable node"
    );
    assert_eq!(
        refresh.freshness(),
        freshness(FRESH_NODES).unwrap(),
        "the kept answer's"
    );
    let kept = refresh.finish().unwrap();
    assert_eq!(owner_port(&kept, 0), 7003);
    assert_eq!(owner_port(&kept, 5461), 7001);
}

#[test]
fn an_unreachable_node_is_asked_only_when_no_other_answers() {
    let mut refresh = Refresh::new();
    refresh.avoid(node(7000));
    let asked = run(&mut refresh, &map(STALE_SLOTS), &[], |port| {
        (port == 7000).then_some((STALE_SLOTS, None))
    });
    assert_eq!(asked, [7003, 7001, 7002, 7000]);
    assert_eq!(owner_port(&refresh.finish().unwrap(), 0), 7000);
}

#[test]
fn after_moved_the_named_node_is_asked_first_and_an_agreeing_answer_ends_it() {
    let known = map(STALE_SLOTS);
    let mut refresh = Refresh::new();
    refresh.expect(HashSlot::new(100).unwrap(), node(7003));
    refresh.expect(HashSlot::new(100).unwrap(), node(7003));
    let agreeing = run(&mut refresh.clone(), &known, &[], |_| {
        Some((FRESH_SLOTS, None))
    });
    assert_eq!(agreeing, [7003], "one answer that agrees is enough");
    // The named node fails; a node that disagrees does not end it, one that agrees does. No
    // node tells its epochs (CLUSTER NODES refused): agreement decides.
    let asked = run(&mut refresh, &known, &[], |port| match port {
        7003 => None,
        7000 => Some((STALE_SLOTS, None)),
        _ => Some((FRESH_SLOTS, None)),
    });
    assert_eq!(asked, [7003, 7000, 7001]);
    assert_eq!(owner_port(&refresh.finish().unwrap(), 100), 7003);
}

#[test]
fn a_newer_answer_wins_over_one_that_agrees_with_an_older_moved() {
    // A MOVED from a node that had not seen the failover named the old owner.
    let mut refresh = Refresh::new();
    refresh.expect(HashSlot::new(100).unwrap(), node(7000));
    let asked = run(&mut refresh, &map(STALE_SLOTS), &[], |port| match port {
        7000 => None,
        7001 => Some((FRESH_SLOTS, Some(FRESH_NODES))),
        _ => Some((STALE_SLOTS, Some(STALE_NODES))),
    });
    assert_eq!(
        asked,
        [7000, 7001, 7002, 7003],
        "the newest disagrees: three answers"
    );
    assert_eq!(owner_port(&refresh.finish().unwrap(), 100), 7003);
}

#[test]
fn a_plain_refresh_keeps_the_first_complete_answer() {
    const PARTIAL: &[u8] = b"*1\r\n*3\r\n:0\r\n:99\r\n*2\r\n$9\r\n127.0.0.1\r\n:7009\r\n";
    const EMPTY: &[u8] = b"*0\r\n";
    let mut refresh = Refresh::new();
    assert!(!refresh.after_trouble());
    let seeds = [node(7100), node(7101), node(7102), node(7103)];
    let asked = run(&mut refresh, &SlotMap::new(), &seeds, |port| match port {
        7100 => Some((EMPTY, None)),   // names no node: counts for nothing
        7101 => Some((PARTIAL, None)), // a partial map: ask on
        _ => Some((STALE_SLOTS, Some(STALE_NODES))),
    });
    assert_eq!(asked, [7100, 7101, 7102]);
    assert_eq!(owner_port(&refresh.finish().unwrap(), 0), 7000);
    assert!(Refresh::new().finish().is_none());
    assert_eq!(Refresh::new().freshness(), Freshness(0), "no answer");
    // Seeds come after the map's nodes, each once.
    let order = Refresh::new().order(&map(STALE_SLOTS), &[node(7001), node(7100)]);
    let ports: Vec<u16> = order.iter().map(|n| n.port).collect();
    assert_eq!(ports, [7000, 7001, 7002, 7003, 7100]);
    let text: Vec<String> = order.iter().map(|n| format!("{n}")).collect();
    assert_eq!(text[4], "127.0.0.1:7100");
}
