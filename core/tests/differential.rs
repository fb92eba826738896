//! Property tests: our encoder and reader against redis-protocol, the reference implementation.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report
#![cfg(feature = "redis-protocol")]

use proptest::prelude::*;
use redis_protocol::resp2::types::OwnedFrame as Resp2;
use redis_protocol::resp3::types::{OwnedFrame as Resp3, Resp3Frame, VerbatimStringFormat};
use redpipe_core::{
    DecodeError, Deferred, Failure, Limits, Reply, Scanner, SlotError, VecPipeline, cmd,
    encode_command,
};

fn hashable_leaf() -> impl Strategy<Value = Resp3> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|data| Resp3::BlobString {
            data,
            attributes: None
        }),
        "[a-zA-Z0-9 _.:-]{0,20}".prop_map(|s| Resp3::SimpleString {
            data: s.into_bytes(),
            attributes: None
        }),
        any::<i64>().prop_map(|data| Resp3::Number {
            data,
            attributes: None
        }),
        any::<bool>().prop_map(|data| Resp3::Boolean {
            data,
            attributes: None
        }),
        "-?[1-9][0-9]{0,40}".prop_map(|s| Resp3::BigNumber {
            data: s.into_bytes(),
            attributes: None
        }),
    ]
}

fn leaf() -> impl Strategy<Value = Resp3> {
    prop_oneof![
        6 => hashable_leaf(),
        1 => Just(Resp3::Null),
        1 => "[A-Z]{1,8} [a-z ]{0,20}".prop_map(|data| Resp3::SimpleError {
            data,
            attributes: None
        }),
        1 => "[A-Z]{1,8} [a-z ]{0,20}".prop_map(|s| Resp3::BlobError {
            data: s.into_bytes(),
            attributes: None
        }),
        1 => prop_oneof![
            any::<f64>().prop_filter("finite", |d| d.is_finite()),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
        ]
        .prop_map(|data| Resp3::Double {
            data,
            attributes: None
        }),
        1 => (proptest::collection::vec(any::<u8>(), 0..30), any::<bool>()).prop_map(
            |(data, md)| Resp3::VerbatimString {
                data,
                format: if md {
                    VerbatimStringFormat::Markdown
                } else {
                    VerbatimStringFormat::Text
                },
                attributes: None
            }
        ),
    ]
}

fn frame() -> impl Strategy<Value = Resp3> {
    leaf().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(|data| Resp3::Array {
                data,
                attributes: None
            }),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|data| Resp3::Push {
                data,
                attributes: None
            }),
            proptest::collection::hash_set(hashable_leaf(), 0..6).prop_map(|data| Resp3::Set {
                data,
                attributes: None
            }),
            proptest::collection::hash_map(hashable_leaf(), inner, 0..6).prop_map(|data| {
                Resp3::Map {
                    data,
                    attributes: None,
                }
            }),
        ]
    })
}

/// RESP3 has simple and blob errors; a reply view keeps only "error", so compare as simple.
fn normalize(f: Resp3) -> Resp3 {
    match f {
        Resp3::BlobError { data, .. } => Resp3::SimpleError {
            data: String::from_utf8_lossy(&data).into_owned(),
            attributes: None,
        },
        Resp3::Array { data, .. } => Resp3::Array {
            data: data.into_iter().map(normalize).collect(),
            attributes: None,
        },
        Resp3::Push { data, .. } => Resp3::Push {
            data: data.into_iter().map(normalize).collect(),
            attributes: None,
        },
        Resp3::Map { data, .. } => Resp3::Map {
            data: data.into_iter().map(|(k, v)| (k, normalize(v))).collect(),
            attributes: None,
        },
        other => other,
    }
}

fn encode3(frame: &Resp3) -> Vec<u8> {
    let mut buf = vec![0u8; frame.encode_len(false)];
    let n = redis_protocol::resp3::encode::complete::encode(&mut buf, frame, false).unwrap();
    buf.truncate(n);
    buf
}

/// Error replies at the top level become `SlotError::Server`; compare their text instead.
fn read_back(frame: &Resp3, bytes: &[u8], chunk: usize) -> Result<Resp3, String> {
    let mut p = VecPipeline::new();
    let d: Deferred<Resp3> = p.query(cmd("ANY")).unwrap();
    let out = p.poll_output().len();
    p.consume_output(out);
    let mut buf = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        let used = p.handle_input(&buf).map_err(|e| e.to_string())?;
        buf.drain(..used);
    }
    if !buf.is_empty() || !p.is_done() {
        return Err(format!("incomplete: {} bytes left", buf.len()));
    }
    match (d.read(&p), frame) {
        (Ok(f), _) => Ok(f),
        (Err(SlotError::Server(e)), Resp3::SimpleError { .. }) => Ok(Resp3::SimpleError {
            data: e.to_string(),
            attributes: None,
        }),
        (Err(SlotError::Server(e)), Resp3::BlobError { .. }) => Ok(Resp3::BlobError {
            data: e.text().to_vec(),
            attributes: None,
        }),
        (Err(e), _) => Err(e.to_string()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every frame redis-protocol encodes reads back as the same frame, however it is split.
    #[test]
    fn resp3_frames_read_back_identically(f in frame(), chunk in 1usize..64) {
        // A top-level push is out-of-band data, not a reply: covered below.
        prop_assume!(!matches!(f, Resp3::Push { .. }));
        let bytes = encode3(&f);
        let got = read_back(&f, &bytes, chunk).map_err(TestCaseError::fail)?;
        let top_blob_error = matches!(f, Resp3::BlobError { .. });
        prop_assert_eq!(got, if top_blob_error { f } else { normalize(f) });
    }

    /// Our scanner and redis-protocol's decoder agree on where every frame ends, and on every
    /// strict prefix being incomplete.
    #[test]
    fn scanner_agrees_with_redis_protocol_on_frame_extent(f in frame(), cut in any::<prop::sample::Index>()) {
        let bytes = encode3(&f);
        let (_, theirs) = redis_protocol::resp3::decode::complete::decode(&bytes).unwrap().unwrap();
        let ours = Scanner::new().scan(&bytes, &Limits::default()).unwrap();
        prop_assert_eq!(ours, Some(theirs));
        let cut = cut.index(bytes.len());
        prop_assert_eq!(Scanner::new().scan(&bytes[..cut], &Limits::default()), Ok(None));
        prop_assert_eq!(
            redis_protocol::resp3::decode::complete::decode(&bytes[..cut]).unwrap(),
            None
        );
    }

    /// Encoded commands are valid RESP2 arrays of bulk strings holding exactly the arguments.
    #[test]
    fn commands_round_trip_through_redis_protocol(args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 1..20)) {
        let mut out = Vec::new();
        let (name, rest) = args.split_first().unwrap();
        let rest: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
        let n = encode_command(&mut out, &cmd(name.as_slice()).arg(rest.as_slice())).unwrap();
        prop_assert_eq!(n, out.len());
        let (frame, used) = redis_protocol::resp2::decode::decode(&out).unwrap().unwrap();
        prop_assert_eq!(used, out.len());
        let want = Resp2::Array(args.iter().cloned().map(Resp2::BulkString).collect());
        prop_assert_eq!(frame, want);
        // And our own reader sees the same array.
        let Some((Reply::Array(items), _)) = redpipe_core::decode_reply(&out, &Limits::default()).unwrap() else {
            return Err(TestCaseError::fail("not an array"));
        };
        let got: Vec<Vec<u8>> = items.iter().map(|r| match r {
            Reply::Bulk(b) => b.to_vec(),
            other => panic!("{other:?}"),
        }).collect();
        prop_assert_eq!(got, args);
    }

    /// Arbitrary bytes never panic the pipeline: each feed either resolves replies or fails
    /// the connection cleanly, and a failed pipeline resolves every slot.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), commands in 1usize..6, chunk in 1usize..16) {
        let mut p = VecPipeline::new();
        let hs: Vec<Deferred<redpipe_core::Value>> = (0..commands).map(|_| p.query(cmd("X")).unwrap()).collect();
        let out = p.poll_output().len();
        p.consume_output(out);
        let mut buf = Vec::new();
        let mut failed = None;
        for piece in bytes.chunks(chunk) {
            buf.extend_from_slice(piece);
            match p.handle_input(&buf) {
                Ok(used) => { buf.drain(..used); }
                Err(e) => { failed = Some(e); break; }
            }
        }
        if failed.is_none() && !p.is_done() {
            p.fail(Failure::Closed);
        }
        prop_assert!(p.is_done());
        for h in hs {
            match h.read(&p) {
                Ok(_) | Err(SlotError::Server(_)) | Err(SlotError::Convert(_)) => {}
                Err(SlotError::Failed(Failure::Protocol(e))) => prop_assert_eq!(Some(e), failed),
                Err(SlotError::Failed(Failure::Closed)) => prop_assert!(failed.is_none()),
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}

#[test]
fn a_top_level_push_is_not_a_reply() {
    let push = Resp3::Push {
        data: vec![Resp3::SimpleString {
            data: b"invalidate".to_vec(),
            attributes: None,
        }],
        attributes: None,
    };
    let mut bytes = encode3(&push);
    bytes.extend_from_slice(b":1\r\n");
    let mut p = VecPipeline::new();
    let d: Deferred<i64> = p.query(cmd("X")).unwrap();
    let n = p.poll_output().len();
    p.consume_output(n);
    assert_eq!(p.handle_input(&bytes), Ok(bytes.len()));
    assert_eq!(d.read(&p), Ok(1));
}

#[test]
fn aggregate_map_keys_are_a_conversion_error_not_a_panic() {
    let mut p = VecPipeline::new();
    let d: Deferred<Resp3> = p.query(cmd("X")).unwrap();
    let n = p.poll_output().len();
    p.consume_output(n);
    p.handle_input(b"%1\r\n*0\r\n:1\r\n").unwrap();
    assert!(matches!(d.read(&p), Err(SlotError::Convert(_))));
    let _ = DecodeError::TooDeep;
}
