//! A node batch's replies taken into the pipeline's slots in one piece
//! ([`Pipeline::adopt_replies`](crate::Pipeline)), and the batches that must not be: replies
//! cut anywhere, errors and redirections in the middle, a node that dies part-way.

use super::fake::FakeCluster;
use super::*;
use crate::prelude::*;
use crate::{Failure, SlotError};
use alloc::format;
use alloc::string::String;

/// Runs one round as [`FakeCluster::serve`] does, but hands each batch its replies cut at
/// byte `cut` (the rest kept and passed again, as a transport does); with `die`, the node's
/// connection fails after the first `cut` bytes instead.
fn serve_cut(
    cluster: &mut FakeCluster,
    run: &mut ClusterRun,
    map: &SlotMap,
    cut: usize,
    die: bool,
) {
    for batch in run.batches_mut() {
        let replies = cluster.answer(batch, map);
        let p = batch.pipeline_mut();
        let cut = cut.min(replies.len());
        let used = p.handle_input(&replies[..cut]).unwrap();
        if die {
            p.fail(Failure::Closed);
            continue;
        }
        let rest = p.handle_input(&replies[used..]).unwrap();
        assert_eq!(used + rest, replies.len());
    }
}

/// A pipeline of `SET`s then `GET`s of the same keys (set beforehand), spread over 3 nodes.
fn gets(
    cluster: &mut FakeCluster,
    map: &mut SlotMap,
    n: usize,
) -> (VecPipeline, Vec<Deferred<String>>) {
    let mut p = VecPipeline::new();
    for i in 0..n {
        let _ = p.set(format!("k{i}"), format!("value-{i}")).unwrap();
    }
    cluster.execute(&mut p, map);
    p.reset();
    let handles = (0..n)
        .map(|i| p.get::<String>(format!("k{i}")).unwrap())
        .collect();
    (p, handles)
}

#[test]
fn replies_cut_at_every_byte_land_in_their_own_slots() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    for cut in 0..200 {
        let (mut p, handles) = gets(&mut cluster, &mut map, 12);
        let mut run = ClusterRun::new();
        assert!(run.next_round(&mut p, &map));
        serve_cut(&mut cluster, &mut run, &map, cut, false);
        run.absorb(&mut p, &mut map);
        assert!(!run.next_round(&mut p, &map), "cut {cut}: one round");
        for (i, h) in handles.iter().enumerate() {
            assert_eq!(h.read(&p), Ok(format!("value-{i}")), "cut {cut}");
        }
    }
}

#[test]
fn a_node_dying_part_way_leaves_its_replies_and_sends_its_reads_again() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    for cut in 0..200 {
        let (mut p, handles) = gets(&mut cluster, &mut map, 12);
        let mut run = ClusterRun::new();
        assert!(run.next_round(&mut p, &map));
        serve_cut(&mut cluster, &mut run, &map, cut, true);
        run.absorb(&mut p, &mut map);
        // Reads change nothing: those the node did not answer go again.
        while run.next_round(&mut p, &map) {
            cluster.serve(&mut run, &map);
            run.absorb(&mut p, &mut map);
        }
        for (i, h) in handles.iter().enumerate() {
            assert_eq!(h.read(&p), Ok(format!("value-{i}")), "cut {cut}");
        }
    }
}

#[test]
fn a_write_a_dying_node_may_have_run_fails_and_its_answered_neighbours_keep_their_replies() {
    for cut in 0..60 {
        let mut cluster = FakeCluster::new(1);
        let mut map = cluster.map();
        let mut p = VecPipeline::new();
        let incrs: Vec<_> = (0..6).map(|i| p.incr(format!("n{i}")).unwrap()).collect();
        let mut run = ClusterRun::new();
        assert!(run.next_round(&mut p, &map));
        serve_cut(&mut cluster, &mut run, &map, cut, true);
        run.absorb(&mut p, &mut map);
        assert!(!run.next_round(&mut p, &map), "a write is never sent again");
        let answered = incrs.iter().filter(|h| h.read(&p) == Ok(1)).count();
        let failed = incrs
            .iter()
            .filter(|h| h.read(&p) == Err(SlotError::Failed(Failure::Closed)))
            .count();
        assert_eq!(answered + failed, 6, "cut {cut}");
        // Each `:1\r\n` is 4 bytes: the whole replies before the cut are kept, in order.
        assert_eq!(answered, (cut / 4).min(6), "cut {cut}");
        assert!(incrs[..answered].iter().all(|h| h.read(&p) == Ok(1)));
    }
}

#[test]
fn an_error_in_the_middle_of_a_batch_stays_with_its_command() {
    let mut cluster = FakeCluster::new(1);
    let mut map = cluster.map();
    let mut p = VecPipeline::new();
    let a = p.set("a", 1).unwrap();
    let odd = p.query::<()>(crate::cmd("NOSUCH").arg("x")).unwrap();
    let b = p.incr("b").unwrap();
    assert_eq!(cluster.execute(&mut p, &mut map), 1);
    assert_eq!(a.read(&p), Ok(()));
    assert!(matches!(odd.read(&p), Err(SlotError::Server(_))));
    assert_eq!(b.read(&p), Ok(1));
}

#[test]
fn a_redirection_in_the_middle_of_a_batch_resends_that_command_only() {
    let mut cluster = FakeCluster::new(3);
    let mut map = cluster.map();
    let (mut p, handles) = gets(&mut cluster, &mut map, 30);
    // One key's slot moved to another node since the map was read.
    let slot = HashSlot::for_key(b"k7");
    let old = cluster.owner[usize::from(slot.get())];
    let new = (old + 1) % 3;
    let value = cluster.data[old].remove(&b"k7"[..]).unwrap();
    cluster.data[new].insert(b"k7".to_vec(), value);
    cluster.owner[usize::from(slot.get())] = new;
    let before: usize = cluster.log.iter().map(Vec::len).sum();
    assert_eq!(cluster.execute(&mut p, &mut map), 2);
    let sent: usize = cluster.log.iter().map(Vec::len).sum::<usize>() - before;
    assert_eq!(sent, 31, "the 30 commands, and the moved one again");
    for (i, h) in handles.iter().enumerate() {
        assert_eq!(h.read(&p), Ok(format!("value-{i}")));
    }
}

#[test]
fn a_reply_with_attributes_is_read_for_the_error_it_may_hide() {
    let mut cluster = FakeCluster::new(1);
    let mut map = cluster.map();
    cluster.scripted.push((
        0,
        "GET",
        b"|1\r\n+ttl\r\n:3\r\n-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
    ));
    let mut p = VecPipeline::new();
    let _ = p.set("g", "v").unwrap();
    let g = p.get::<String>("g").unwrap();
    assert_eq!(cluster.execute(&mut p, &mut map), 2, "TRYAGAIN: sent again");
    assert_eq!(g.read(&p), Ok("v".into()));
}

#[test]
fn adopt_replies_is_all_or_nothing() {
    let mut batch = VecPipeline::new();
    let _ = batch.push_encoded(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
    let _ = batch.push_encoded(b"*2\r\n$3\r\nGET\r\n$1\r\nb\r\n");
    let out = batch.poll_output().len();
    batch.consume_output(out);
    assert_eq!(batch.handle_input(b"$1\r\nA\r\n$1\r\nB\r\n"), Ok(14));
    let fresh = || {
        let mut p = VecPipeline::new();
        let hs: Vec<Deferred<String>> = (0..3).map(|i| p.get(format!("x{i}")).unwrap()).collect();
        (p, hs)
    };
    // Refused: a target named twice, out of order, one target short, a slot already answered.
    for targets in [&[1, 1][..], &[2, 0], &[0], &[0, 1, 2]] {
        let (mut p, hs) = fresh();
        assert!(!p.adopt_replies(&batch, targets), "{targets:?}");
        assert!(hs.iter().all(|h| h.read(&p) == Err(SlotError::Pending)));
        assert!(p.reply_frame(0).is_none());
    }
    let (mut p, hs) = fresh();
    p.resolve(0, b"$1\r\nZ\r\n").unwrap();
    assert!(!p.adopt_replies(&batch, &[0, 1]));
    assert_eq!(hs[1].read(&p), Err(SlotError::Pending));
    // Taken: each reply in its own slot, after what the arena held.
    assert!(p.adopt_replies(&batch, &[1, 2]));
    let read: Vec<_> = hs.iter().map(|h| h.read(&p)).collect();
    assert_eq!(read, [Ok("Z".into()), Ok("A".into()), Ok("B".into())]);
    assert!(p.is_done());
    // An error among the replies: refused, for the router to read it.
    let mut errs = VecPipeline::new();
    let _ = errs.push_encoded(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
    let _ = errs.push_encoded(b"*2\r\n$3\r\nGET\r\n$1\r\nb\r\n");
    let out = errs.poll_output().len();
    errs.consume_output(out);
    let input = b"$1\r\nA\r\n-MOVED 1 127.0.0.1:7001\r\n";
    assert_eq!(errs.handle_input(input), Ok(input.len()));
    let (mut p, _) = fresh();
    assert!(!p.adopt_replies(&errs, &[0, 1]));
    assert!(p.reply_frame(0).is_none());
}
