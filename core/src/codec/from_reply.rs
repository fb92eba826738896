//! `FromReply`: how a [`Reply`] becomes the value a [`Deferred`](crate::Deferred) asks for.
//!
//! The trait has a generic associated type so that one handle type can yield owned values
//! (`i64`, `String`) and values borrowed from the pipeline (`&str`, `&[u8]`, [`Reply`]).
//! Conversions are lenient where Redis is: `GET` of a counter is a bulk string `"5"` and reads as
//! an integer; RESP2 flat arrays and RESP3 maps both read as key/value pairs.

use crate::codec::error::ConvertError;
use crate::codec::lex::{parse_double, parse_i64, parse_u64};
use crate::codec::reply::{Aggregate, AggregateIter, Reply};

/// A type a reply converts to.
///
/// Implemented for `()`, `bool`, every integer type but `u8`, floats, text and bytes (borrowed
/// and owned), `Option`, tuples, sequences and maps, [`Reply`] and `Value`. `u8` is left out on
/// purpose, as in [`ToArg`](crate::ToArg): `Vec<u8>` and `heapless::Vec<u8, N>` read a byte
/// string, which a `u8` element type would make ambiguous; read a small number as `u16` or `i8`.
///
/// ```
/// use redpipe_core::{ConvertError, FromReply, Reply};
/// struct Celsius(f64);
/// impl FromReply for Celsius {
///     type Output<'a> = Celsius;
///     fn from_reply(reply: Reply<'_>) -> Result<Celsius, ConvertError> {
///         f64::from_reply(reply).map(Celsius)
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "a Redis reply cannot be read as `{Self}`",
    label = "not a reply type",
    note = "replies read as (), bool, integers (not `u8`), floats, String/&str, Vec<u8>/&[u8], Option, tuples, Vec, maps and sets of those, or your own type implementing `FromReply`",
    note = "to read a command's reply as another type, cast its handle: `p.get(\"k\").cast::<Option<i64>>()`"
)]
pub trait FromReply {
    /// The value produced; borrows from the reply for borrowed types.
    type Output<'a>;

    /// Converts one reply (never a top-level error reply: those become
    /// [`SlotError::Server`](crate::SlotError::Server) before conversion).
    fn from_reply(reply: Reply<'_>) -> Result<Self::Output<'_>, ConvertError>;

    /// Whether this type is a key/value pair, so that sequences of it read a flat RESP2 array or
    /// a RESP3 map two elements at a time.
    #[doc(hidden)]
    const PAIR: bool = false;

    /// Builds a pair from two elements; only pair types implement it.
    #[doc(hidden)]
    fn from_pair<'a>(key: Reply<'a>, value: Reply<'a>) -> Result<Self::Output<'a>, ConvertError> {
        let _ = value;
        Err(mismatch("a pair", &key))
    }
}

pub(crate) fn mismatch(expected: &'static str, got: &Reply<'_>) -> ConvertError {
    ConvertError::Type {
        expected,
        got: got.kind(),
    }
}

impl FromReply for Reply<'_> {
    type Output<'a> = Reply<'a>;
    #[inline]
    fn from_reply(reply: Reply<'_>) -> Result<Reply<'_>, ConvertError> {
        Ok(reply)
    }
}

/// Accepts any reply and discards it: for `SET`, `EXPIRE` and friends when only success matters.
impl FromReply for () {
    type Output<'a> = ();
    #[inline]
    fn from_reply(_: Reply<'_>) -> Result<(), ConvertError> {
        Ok(())
    }
}

/// The text of a reply that carries text.
#[inline]
fn text<'a>(reply: &Reply<'a>) -> Option<&'a [u8]> {
    match *reply {
        Reply::Bulk(b) | Reply::Simple(b) | Reply::BigNumber(b) => Some(b),
        Reply::Verbatim { text, .. } => Some(text),
        _ => None,
    }
}

#[inline]
fn int_of(reply: &Reply<'_>) -> Result<i128, ConvertError> {
    let digits = match reply {
        Reply::Int(i) => return Ok(i128::from(*i)),
        Reply::Bool(b) => return Ok(i128::from(*b)),
        // Redis writes whole doubles without a fraction (`,3`); anything else is not an integer.
        // Read as text, so that integer results never link float parsing.
        Reply::Double(d) => d.text(),
        other => text(other).ok_or_else(|| mismatch("an integer", other))?,
    };
    if let Some(i) = parse_i64(digits) {
        return Ok(i128::from(i));
    }
    parse_u64(digits)
        .map(i128::from)
        .ok_or(ConvertError::InvalidNumber)
}

macro_rules! int_from_reply {
    ($($t:ty)*) => {$(
        impl FromReply for $t {
            type Output<'a> = $t;
            #[inline]
            fn from_reply(reply: Reply<'_>) -> Result<$t, ConvertError> {
                <$t>::try_from(int_of(&reply)?).map_err(|_| ConvertError::InvalidNumber)
            }
        }
    )*};
}
int_from_reply!(i8 i16 i32 i64 i128 isize u16 u32 u64 u128 usize);

impl FromReply for f64 {
    type Output<'a> = f64;
    #[inline]
    fn from_reply(reply: Reply<'_>) -> Result<f64, ConvertError> {
        match reply {
            Reply::Double(d) => Ok(d.value()),
            Reply::Int(i) => Ok(i as f64),
            _ => {
                let t = text(&reply).ok_or_else(|| mismatch("a number", &reply))?;
                parse_double(t).ok_or(ConvertError::InvalidNumber)
            }
        }
    }
}

impl FromReply for f32 {
    type Output<'a> = f32;
    #[inline]
    fn from_reply(reply: Reply<'_>) -> Result<f32, ConvertError> {
        f64::from_reply(reply).map(|d| d as f32)
    }
}

/// `#t`/`#f`, integers (non-zero is true), `"1"` (true), `"0"` and `""` (false), `+OK`
/// (true) and nil (false). `""` is how RedPipe stores `False`; anything else is refused rather
/// than guessed.
impl FromReply for bool {
    type Output<'a> = bool;
    #[inline]
    fn from_reply(reply: Reply<'_>) -> Result<bool, ConvertError> {
        match reply {
            Reply::Bool(b) => Ok(b),
            Reply::Int(i) => Ok(i != 0),
            Reply::Nil => Ok(false),
            Reply::Simple(b"OK") => Ok(true),
            Reply::Bulk(b"1") => Ok(true),
            Reply::Bulk(b"0" | b"") => Ok(false),
            other => Err(mismatch("a boolean", &other)),
        }
    }
}

impl FromReply for &[u8] {
    type Output<'a> = &'a [u8];
    #[inline]
    fn from_reply(reply: Reply<'_>) -> Result<&[u8], ConvertError> {
        text(&reply).ok_or_else(|| mismatch("a string", &reply))
    }
}

impl FromReply for &str {
    type Output<'a> = &'a str;
    #[inline]
    fn from_reply(reply: Reply<'_>) -> Result<&str, ConvertError> {
        let bytes = <&[u8]>::from_reply(reply)?;
        core::str::from_utf8(bytes).map_err(|_| ConvertError::InvalidUtf8)
    }
}

/// `None` for nil, else the inner conversion.
impl<T: FromReply> FromReply for Option<T> {
    type Output<'a> = Option<T::Output<'a>>;
    fn from_reply(reply: Reply<'_>) -> Result<Self::Output<'_>, ConvertError> {
        match reply {
            Reply::Nil => Ok(None),
            other => T::from_reply(other).map(Some),
        }
    }
}

/// The elements of any aggregate reply (array, set, push; a map's keys and values alternate).
fn elements<'a>(reply: &Reply<'a>) -> Result<Aggregate<'a>, ConvertError> {
    match *reply {
        Reply::Array(a) | Reply::Set(a) | Reply::Push(a) | Reply::Map(a) => Ok(a),
        _ => Err(mismatch("an aggregate", reply)),
    }
}

/// Iterates the items of a sequence target `T` over a reply: pairs for pair types (from a map, a
/// flat array, or an array of two-element arrays), elements otherwise. Nil is an empty sequence.
pub(crate) fn items<T: FromReply + ?Sized>(reply: Reply<'_>) -> Result<Items<'_, T>, ConvertError> {
    if reply == Reply::Nil {
        return Ok(Items {
            inner: AggregateIter::empty(),
            pairs: false,
            _t: core::marker::PhantomData,
        });
    }
    let agg = elements(&reply)?;
    let flat_pairs = T::PAIR
        && (matches!(reply, Reply::Map(_))
            || !matches!(
                agg.iter().next(),
                Some(Reply::Array(_) | Reply::Set(_) | Reply::Map(_))
            ));
    Ok(Items {
        inner: agg.iter(),
        pairs: flat_pairs,
        _t: core::marker::PhantomData,
    })
}

/// Iterator converting the items of an aggregate reply; see [`Seq`].
pub struct Items<'a, T: ?Sized> {
    inner: AggregateIter<'a>,
    pairs: bool,
    _t: core::marker::PhantomData<fn() -> T>,
}

impl<'a, T: FromReply + ?Sized> Iterator for Items<'a, T> {
    type Item = Result<T::Output<'a>, ConvertError>;
    fn next(&mut self) -> Option<Self::Item> {
        if !self.pairs {
            return self.inner.next().map(T::from_reply);
        }
        let first = self.inner.next()?;
        let Some(second) = self.inner.next() else {
            return Some(Err(ConvertError::Length {
                expected: 2,
                got: 1,
            }));
        };
        Some(T::from_pair(first, second))
    }
}

impl<T: FromReply + ?Sized> core::fmt::Debug for Items<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Items").finish_non_exhaustive()
    }
}

/// A sequence read lazily, without allocating: `Deferred<Seq<&str>>` reads as an iterator of
/// `Result<&str, ConvertError>` borrowed from the pipeline.
pub struct Seq<T: ?Sized>(core::marker::PhantomData<fn() -> T>);

impl<T: FromReply + ?Sized> FromReply for Seq<T> {
    type Output<'a> = Items<'a, T>;
    fn from_reply(reply: Reply<'_>) -> Result<Items<'_, T>, ConvertError> {
        items::<T>(reply)
    }
}

macro_rules! tuple_from_reply {
    ($n:literal: $($name:ident)* $(; $($pair:tt)*)?) => {
        /// From an aggregate of exactly this many elements.
        impl<$($name: FromReply),*> FromReply for ($($name,)*) {
            type Output<'a> = ($($name::Output<'a>,)*);
            #[allow(non_snake_case)]
            fn from_reply(reply: Reply<'_>) -> Result<Self::Output<'_>, ConvertError> {
                let agg = elements(&reply)?;
                if agg.len() != $n {
                    return Err(ConvertError::Length { expected: $n, got: agg.len() });
                }
                let mut it = agg.iter();
                $(let $name = $name::from_reply(it.next().ok_or(ConvertError::Length {
                    expected: $n,
                    got: 0,
                })?)?;)*
                Ok(($($name,)*))
            }
            $($($pair)*)?
        }
    };
}
tuple_from_reply!(1: A);
tuple_from_reply!(2: A B;
    const PAIR: bool = true;
    fn from_pair<'a>(key: Reply<'a>, value: Reply<'a>) -> Result<Self::Output<'a>, ConvertError> {
        Ok((A::from_reply(key)?, B::from_reply(value)?))
    }
);
tuple_from_reply!(3: A B C);
tuple_from_reply!(4: A B C D);
tuple_from_reply!(5: A B C D E);
tuple_from_reply!(6: A B C D E F);
tuple_from_reply!(7: A B C D E F G);
tuple_from_reply!(8: A B C D E F G H);

#[cfg(feature = "heapless")]
/// Up to `N` items; more is [`ConvertError::Capacity`].
impl<T: FromReply, const N: usize> FromReply for heapless::Vec<T, N> {
    type Output<'a> = heapless::Vec<T::Output<'a>, N>;
    fn from_reply(reply: Reply<'_>) -> Result<Self::Output<'_>, ConvertError> {
        let mut out = heapless::Vec::new();
        for item in items::<T>(reply)? {
            out.push(item?).map_err(|_| ConvertError::Capacity)?;
        }
        Ok(out)
    }
}

#[cfg(feature = "alloc")]
mod owned {
    use super::*;
    use alloc::collections::{BTreeMap, BTreeSet};
    use alloc::string::String;
    use alloc::vec::Vec;

    impl FromReply for Vec<u8> {
        type Output<'a> = Vec<u8>;
        fn from_reply(reply: Reply<'_>) -> Result<Vec<u8>, ConvertError> {
            <&[u8]>::from_reply(reply).map(<[u8]>::to_vec)
        }
    }

    impl FromReply for String {
        type Output<'a> = String;
        fn from_reply(reply: Reply<'_>) -> Result<String, ConvertError> {
            <&str>::from_reply(reply).map(String::from)
        }
    }

    /// Every item; for pair types, every key/value pair.
    impl<T: FromReply> FromReply for Vec<T> {
        type Output<'a> = Vec<T::Output<'a>>;
        fn from_reply(reply: Reply<'_>) -> Result<Self::Output<'_>, ConvertError> {
            items::<T>(reply)?.collect()
        }
    }

    impl<K: FromReply, V: FromReply> FromReply for BTreeMap<K, V>
    where
        for<'a> K::Output<'a>: Ord,
    {
        type Output<'a> = BTreeMap<K::Output<'a>, V::Output<'a>>;
        fn from_reply(reply: Reply<'_>) -> Result<Self::Output<'_>, ConvertError> {
            items::<(K, V)>(reply)?.collect()
        }
    }

    impl<T: FromReply> FromReply for BTreeSet<T>
    where
        for<'a> T::Output<'a>: Ord,
    {
        type Output<'a> = BTreeSet<T::Output<'a>>;
        fn from_reply(reply: Reply<'_>) -> Result<Self::Output<'_>, ConvertError> {
            items::<T>(reply)?.collect()
        }
    }
}

#[cfg(feature = "std")]
mod hashed {
    use super::*;
    use std::collections::{HashMap, HashSet};
    use std::hash::{BuildHasher, Hash};

    impl<K: FromReply, V: FromReply, S: BuildHasher + Default> FromReply for HashMap<K, V, S>
    where
        for<'a> K::Output<'a>: Eq + Hash,
    {
        type Output<'a> = HashMap<K::Output<'a>, V::Output<'a>, S>;
        fn from_reply(reply: Reply<'_>) -> Result<Self::Output<'_>, ConvertError> {
            items::<(K, V)>(reply)?.collect()
        }
    }

    impl<T: FromReply, S: BuildHasher + Default> FromReply for HashSet<T, S>
    where
        for<'a> T::Output<'a>: Eq + Hash,
    {
        type Output<'a> = HashSet<T::Output<'a>, S>;
        fn from_reply(reply: Reply<'_>) -> Result<Self::Output<'_>, ConvertError> {
            items::<T>(reply)?.collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::error::ReplyKind;

    fn conv<T: FromReply>(frame: &[u8]) -> Result<T::Output<'_>, ConvertError> {
        T::from_reply(Reply::parse(frame))
    }

    #[test]
    fn scalars() {
        assert_eq!(conv::<i64>(b":42\r\n"), Ok(42));
        assert_eq!(conv::<i64>(b"$2\r\n42\r\n"), Ok(42));
        assert_eq!(
            conv::<u64>(b"$20\r\n18446744073709551615\r\n"),
            Ok(u64::MAX)
        );
        assert_eq!(conv::<u16>(b":70000\r\n"), Err(ConvertError::InvalidNumber));
        assert_eq!(conv::<i8>(b":-128\r\n"), Ok(-128));
        assert_eq!(
            conv::<i64>(b"*0\r\n"),
            Err(ConvertError::Type {
                expected: "an integer",
                got: ReplyKind::Array
            })
        );
        assert_eq!(conv::<f64>(b",1.5\r\n"), Ok(1.5));
        assert_eq!(conv::<f64>(b"$4\r\n-inf\r\n"), Ok(f64::NEG_INFINITY));
        assert_eq!(conv::<f64>(b":3\r\n"), Ok(3.0));
        assert_eq!(conv::<bool>(b"#t\r\n"), Ok(true));
        assert_eq!(conv::<bool>(b":0\r\n"), Ok(false));
        assert_eq!(conv::<bool>(b"+OK\r\n"), Ok(true));
        assert_eq!(conv::<bool>(b"$0\r\n\r\n"), Ok(false)); // RedPipe's False
        assert_eq!(conv::<bool>(b"$1\r\n0\r\n"), Ok(false));
        assert_eq!(conv::<bool>(b"$1\r\n1\r\n"), Ok(true));
        assert!(conv::<bool>(b"$3\r\nyes\r\n").is_err());
        assert_eq!(conv::<()>(b"+OK\r\n"), Ok(()));
        assert_eq!(conv::<&str>(b"$3\r\nabc\r\n"), Ok("abc"));
        assert_eq!(conv::<&str>(b"+PONG\r\n"), Ok("PONG"));
        assert_eq!(conv::<&str>(b"=7\r\ntxt:abc\r\n"), Ok("abc"));
        assert_eq!(
            conv::<&str>(b"$1\r\n\xff\r\n"),
            Err(ConvertError::InvalidUtf8)
        );
        assert_eq!(conv::<&[u8]>(b"$1\r\n\xff\r\n"), Ok(&b"\xff"[..]));
        assert_eq!(conv::<Option<&str>>(b"$-1\r\n"), Ok(None));
        assert_eq!(conv::<Option<i64>>(b"_\r\n"), Ok(None));
        assert_eq!(conv::<Option<i64>>(b":1\r\n"), Ok(Some(1)));
    }

    #[test]
    fn aggregates() {
        assert_eq!(
            conv::<(i64, &str)>(b"*2\r\n:1\r\n$1\r\na\r\n"),
            Ok((1, "a"))
        );
        assert_eq!(
            conv::<(i64, i64)>(b"*1\r\n:1\r\n"),
            Err(ConvertError::Length {
                expected: 2,
                got: 1
            })
        );
        let seq: heapless::Vec<Result<&str, ConvertError>, 4> =
            conv::<Seq<&str>>(b"*2\r\n$1\r\na\r\n+b\r\n")
                .unwrap()
                .collect();
        assert_eq!(&seq[..], &[Ok("a"), Ok("b")]);
        assert_eq!(conv::<Seq<&str>>(b"*-1\r\n").unwrap().count(), 0);
    }

    #[cfg(feature = "heapless")]
    #[test]
    fn heapless_sequences_and_pairs() {
        type Pairs = heapless::Vec<(&'static str, f64), 4>;
        let flat = conv::<Pairs>(b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\n2.5\r\n").unwrap();
        let nested =
            conv::<Pairs>(b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n").unwrap();
        let map = conv::<Pairs>(b"%2\r\n$1\r\na\r\n,1\r\n$1\r\nb\r\n,2.5\r\n").unwrap();
        assert_eq!(&flat[..], &[("a", 1.0), ("b", 2.5)]);
        assert_eq!(flat, nested);
        assert_eq!(flat, map);
        assert_eq!(
            conv::<heapless::Vec<i64, 1>>(b"*2\r\n:1\r\n:2\r\n"),
            Err(ConvertError::Capacity)
        );
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn owned_collections() {
        use alloc::collections::BTreeMap;
        use alloc::string::String;
        use alloc::vec::Vec;
        let m =
            conv::<BTreeMap<String, i64>>(b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n")
                .unwrap();
        assert_eq!(m.get("b"), Some(&2));
        let v = conv::<Vec<Option<String>>>(b"*2\r\n$1\r\nx\r\n$-1\r\n").unwrap();
        assert_eq!(v, [Some(String::from("x")), None]);
        assert_eq!(conv::<Vec<u8>>(b"$2\r\nhi\r\n").unwrap(), b"hi");
    }
}
