//! The core's embedded-io drivers over real sockets to a real redis-server, with fixed buffers
//! and no allocation in the pipeline: what firmware with a TCP stack does.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use embedded_io_adapters::std::FromStd;
use embedded_io_adapters::tokio_1::FromTokio;
use redpipe::core::ReadBuffer;
use redpipe::core::io::{DriveError, execute, execute_async};
use redpipe::core::{Entry, Seq, SlicePipeline};
use redpipe::prelude::*;
use redpipe_tests::RedisServer;

#[test]
fn blocking_driver_with_fixed_buffers() {
    let server = RedisServer::start();
    let mut io = FromStd::new(std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap());
    let (mut out, mut replies, mut table) = ([0u8; 512], [0u8; 256], [Entry::EMPTY; 8]);
    let mut rx = [0u8; 64];
    let mut buf = ReadBuffer::fixed(&mut rx);
    for round in 1..=3 {
        let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
        let set = p.set("greeting", "hello").unwrap();
        let n = p.incr("boots").unwrap();
        let got = p.get::<Option<&str>>("greeting").unwrap();
        let list = p.rpush("log", ["a", "b"]).unwrap();
        let range = p.lrange::<Seq<&str>>("log", 0, 1).unwrap();
        execute(&mut io, &mut p, &mut buf).unwrap();
        assert_eq!(set.read(&p), Ok(()));
        assert_eq!(n.read(&p), Ok(round));
        assert_eq!(got.read(&p), Ok(Some("hello")));
        assert_eq!(list.read(&p), Ok(2 * round));
        let items: Vec<&str> = range.read(&p).unwrap().map(Result::unwrap).collect();
        assert_eq!(items, ["a", "b"]);
    }
}

#[test]
fn a_reply_larger_than_the_fixed_read_buffer_fails_cleanly() {
    let server = RedisServer::start();
    server.cli(&["SET", "big", &"x".repeat(1000)]);
    let mut io = FromStd::new(std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap());
    let (mut out, mut replies, mut table) = ([0u8; 256], [0u8; 2048], [Entry::EMPTY; 4]);
    let mut rx = [0u8; 256];
    let mut buf = ReadBuffer::fixed(&mut rx);
    let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
    let small = p.incr("n").unwrap();
    let big = p.get::<&str>("big").unwrap();
    let err = execute(&mut io, &mut p, &mut buf).unwrap_err();
    assert!(matches!(err, DriveError::ReplyTooLarge(_)), "{err:?}");
    assert_eq!(small.read(&p), Ok(1));
    assert!(matches!(
        big.read(&p),
        Err(SlotError::Failed(redpipe::error::Failure::Capacity(_)))
    ));
}

#[tokio::test]
async fn async_driver_over_tokio() {
    let server = RedisServer::start();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
        .await
        .unwrap();
    let mut io = FromTokio::new(tcp);
    let (mut out, mut replies, mut table) = ([0u8; 256], [0u8; 256], [Entry::EMPTY; 4]);
    let mut rx = [0u8; 32];
    let mut buf = ReadBuffer::fixed(&mut rx);
    let mut p = SlicePipeline::from_slices(&mut out, &mut replies, &mut table);
    let a = p.incr("a").unwrap();
    let b = p.incrby("a", 41).unwrap();
    execute_async(&mut io, &mut p, &mut buf).await.unwrap();
    assert_eq!((a.read(&p), b.read(&p)), (Ok(1), Ok(42)));
}
