use super::*;
use crate::codec::storage::SliceStore;

fn encode<A: Args>(a: &A) -> ([u8; 256], usize) {
    let mut backing = [0u8; 256];
    let mut s = SliceStore::new(&mut backing);
    let n = encode_command(&mut s, a).unwrap();
    assert_eq!(n, s.len());
    (backing, n)
}

#[test]
fn basic_and_numbers() {
    let (b, n) = encode(&cmd("SET").arg("key").arg(-17i64));
    assert_eq!(&b[..n], b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\n-17\r\n");
    let (b, n) = encode(&cmd("ZADD").arg("z").arg(1.5f64).arg(&b"m"[..]));
    assert_eq!(
        &b[..n],
        b"*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\n1.5\r\n$1\r\nm\r\n"
    );
    let (b, n) = encode(&cmd("X").arg(f64::INFINITY).arg(u128::MAX));
    assert_eq!(
        &b[..n],
        b"*3\r\n$1\r\nX\r\n$3\r\ninf\r\n$39\r\n340282366920938463463374607431768211455\r\n"
    );
}

#[test]
fn every_integer_type_formats_in_decimal() {
    fn check<T: ToArg>(v: T, digits: &[u8]) {
        let (b, n) = encode(&cmd("X").arg(v));
        let mut want = [0u8; 256];
        let mut w = SliceStore::new(&mut want);
        let mut len = itoa::Buffer::new();
        let len = len.format(digits.len()).as_bytes();
        for part in [&b"*2\r\n$1\r\nX\r\n$"[..], len, b"\r\n", digits, b"\r\n"] {
            w.try_extend_from_slice(part).unwrap();
        }
        assert_eq!(&b[..n], w.as_slice(), "{:?}", core::str::from_utf8(digits));
    }
    check(0u32, b"0");
    check(-1i8, b"-1");
    check(i16::MIN, b"-32768");
    check(i32::MIN, b"-2147483648");
    check(u32::MAX, b"4294967295");
    check(10u16, b"10");
    check(-9i32, b"-9");
    check(i64::MIN, b"-9223372036854775808");
    check(u64::MAX, b"18446744073709551615");
    check(
        usize::MAX,
        itoa::Buffer::new().format(usize::MAX).as_bytes(),
    );
    check(
        isize::MIN,
        itoa::Buffer::new().format(isize::MIN).as_bytes(),
    );
    check(i128::MIN, b"-170141183460469231731687303715884105728");
}

#[test]
fn long_commands_shift_the_header() {
    let keys = ["a"; 11];
    let (b, n) = encode(&cmd("DEL").arg(&keys[..]));
    let mut want = b"*12\r\n$3\r\nDEL\r\n".to_vec();
    for _ in 0..11 {
        want.extend_from_slice(b"$1\r\na\r\n");
    }
    assert_eq!(&b[..n], &want[..]);
}

#[test]
fn composite_args() {
    let pairs = [(1.0f64, "a"), (2.0, "b")];
    let none: Option<&str> = None;
    let (b, n) = encode(
        &cmd("ZADD")
            .arg("z")
            .arg(none)
            .arg(Some("NX"))
            .arg(&pairs[..]),
    );
    assert_eq!(
        &b[..n],
        &b"*7\r\n$4\r\nZADD\r\n$1\r\nz\r\n$2\r\nNX\r\n$3\r\n1.0\r\n$1\r\na\r\n$3\r\n2.0\r\n$1\r\nb\r\n"[..]
    );
    let (b, n) = encode(&cmd("MGET").arg(Iter(["x", "y"].iter())));
    assert_eq!(&b[..n], b"*3\r\n$4\r\nMGET\r\n$1\r\nx\r\n$1\r\ny\r\n");
}

#[test]
fn full_store_leaves_previous_commands_and_reports_need() {
    let want = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
    for cap in 0..64 {
        let mut backing = [0u8; 64];
        let mut s = SliceStore::new(&mut backing[..cap]);
        s.try_extend_from_slice(b"xy").ok();
        let before = s.len();
        match encode_command(&mut s, &cmd("GET").arg("key")) {
            Ok(_) => assert_eq!(&s.as_slice()[before..], want),
            Err(e) => {
                assert_eq!(s.len(), before, "cap {cap}");
                assert_eq!(e.needed, before + want.len());
                assert_eq!(e.capacity, cap);
                assert!(cap < before + want.len());
            }
        }
    }
    // Long command (header needs shifting) at the exact boundary.
    let args = ["v"; 12];
    let mut big = [0u8; 128];
    let mut s = SliceStore::new(&mut big);
    let need = encode_command(&mut s, &cmd("X").arg(&args[..])).unwrap();
    for cap in 0..need {
        let mut backing = [0u8; 128];
        let mut s = SliceStore::new(&mut backing[..cap]);
        let e = encode_command(&mut s, &cmd("X").arg(&args[..])).unwrap_err();
        assert_eq!((e.needed, s.len()), (need, 0));
    }
}
