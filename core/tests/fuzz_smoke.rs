//! The fuzz targets' invariants under proptest, on stable, on every test run; plus the seed
//! replies captured from redis-server.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use proptest::prelude::*;
use redpipe_core::fuzzing;

fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds");
    let mut all: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    all.sort();
    assert!(all.len() > 30, "seed corpus missing");
    all
}

#[test]
fn seed_replies_pass_every_target() {
    for seed in seeds() {
        fuzzing::decode(&seed);
        for cut in [0u8, 5, 200] {
            let mut input = vec![cut];
            input.extend_from_slice(&seed);
            fuzzing::between(&input);
        }
        for plan in [0u8, 1, 6] {
            let mut input = vec![9, plan];
            input.extend_from_slice(&seed);
            fuzzing::shared(&input);
        }
        for plan in [0u8, 7, 31] {
            let mut input = vec![3, plan];
            input.extend_from_slice(&seed);
            fuzzing::subscribed(&input);
        }
        for (n, step) in [(0u8, 0u8), (3, 4), (7, 15)] {
            let mut input = vec![n, step];
            input.extend_from_slice(&seed);
            fuzzing::pipeline(&input);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::decode(&data);
    }

    #[test]
    fn decode_mutated_seeds(i in any::<prop::sample::Index>(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let all = seeds();
        let mut data = i.get(&all).clone();
        for (at, b) in flips {
            if !data.is_empty() {
                let k = at.index(data.len());
                data[k] = b;
            }
        }
        fuzzing::decode(&data);
        let mut input = vec![5, 3];
        input.extend_from_slice(&data);
        fuzzing::pipeline(&input);
    }

    #[test]
    fn pipeline_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::pipeline(&data);
    }

    #[test]
    fn shared_connection_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::shared(&data);
    }

    #[test]
    fn shared_connection_answers_pushes_and_a_tail(
        cut in any::<u8>(),
        plan in any::<u8>(),
        parts in proptest::collection::vec(0usize..5, 0..12),
        tail in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        // Frames a shared connection with a subscriber sees, in any order, then noise.
        let frames: [&[u8]; 5] = [
            b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n",
            b"$13\r\nredpipe:fence\r\n",
            b"-NOPERM no\r\n",
            b"+PONG\r\n",
            b"|1\r\n+a\r\n+b\r\n>2\r\n$7\r\nmessage\r\n$1\r\nc\r\n",
        ];
        let mut data = vec![cut, plan];
        for i in parts {
            data.extend_from_slice(frames[i]);
        }
        data.extend_from_slice(&tail);
        fuzzing::shared(&data);
    }

    #[test]
    fn subscribed_connection_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::subscribed(&data);
    }

    #[test]
    fn subscribed_connection_frames_in_any_order_cut_and_altered(
        cut in any::<u8>(),
        plan in any::<u8>(),
        parts in proptest::collection::vec(0usize..10, 0..14),
        flip in proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
    ) {
        // What a subscribed connection hears, RESP2 and RESP3, in any order.
        let frames: [&[u8]; 10] = [
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n",
            b">3\r\n$10\r\npsubscribe\r\n$2\r\nh*\r\n:2\r\n",
            b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$5\r\nhello\r\n",
            b">4\r\n$8\r\npmessage\r\n$2\r\nh*\r\n$2\r\nhi\r\n$0\r\n\r\n",
            b">3\r\n$8\r\nsmessage\r\n$4\r\ns{1}\r\n$1\r\nx\r\n",
            b">3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:0\r\n",
            b"+PONG\r\n",
            b"-NOPERM this user has no permissions to access the 'c' channel\r\n",
            b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n",
            b"|1\r\n+a\r\n+b\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\n1\r\n",
        ];
        let mut data = vec![cut, plan];
        for i in parts {
            data.extend_from_slice(frames[i]);
        }
        if let Some((at, b)) = flip.filter(|_| data.len() > 2) {
            let k = 2 + at.index(data.len() - 2);
            data[k] = b;
        }
        fuzzing::subscribed(&data);
    }

    #[test]
    fn between_pipelines_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::between(&data);
    }

    #[test]
    fn between_pipelines_pushes_and_a_tail(cut in any::<u8>(), n in 0usize..6, tail in proptest::collection::vec(any::<u8>(), 0..40)) {
        let push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";
        let mut data = vec![cut];
        for _ in 0..n {
            data.extend_from_slice(push);
        }
        data.extend_from_slice(&tail);
        fuzzing::between(&data);
    }
}
