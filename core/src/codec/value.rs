//! `Value`: an owned reply of any shape (feature `alloc`), and conversions to `redis-protocol`
//! frames (feature `redis-protocol`).

use alloc::string::String;
use alloc::vec::Vec;

use crate::codec::error::ConvertError;
use crate::codec::from_reply::FromReply;
use crate::codec::reply::{Aggregate, Reply};

/// Deepest nesting [`Value`] converts; the scanner's limit is lower by default.
const MAX_CONVERT_DEPTH: usize = crate::codec::decode::MAX_DEPTH;

/// Any reply, owned. Errors nested in aggregates are kept as [`Value::Error`].
///
/// A `Value` costs far more memory than the reply's bytes (an enum and an allocation per
/// element: a million 7-byte bulk strings take about 80 MB), so one conversion stops at
/// [`Value::MAX_ELEMENTS`] values with [`ConvertError::Capacity`]. Read larger replies as typed
/// sequences (`Vec<String>`, or `Seq<&str>`, which allocates nothing).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `+OK`.
    Simple(String),
    /// An error's text, e.g. `ERR unknown command`.
    Error(String),
    /// `:42`.
    Int(i64),
    /// `$n`: bytes.
    Bulk(Vec<u8>),
    /// Null.
    Nil,
    /// `*n`.
    Array(Vec<Value>),
    /// `%n`, in the order the server sent it.
    Map(Vec<(Value, Value)>),
    /// `~n`.
    Set(Vec<Value>),
    /// `>n`.
    Push(Vec<Value>),
    /// `,d`.
    Double(f64),
    /// `#t`/`#f`.
    Bool(bool),
    /// `(digits`.
    BigNumber(String),
    /// `=n`: format and text.
    Verbatim {
        /// Three-byte format such as `txt`.
        format: String,
        /// The text.
        text: Vec<u8>,
    },
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Value {
    /// The most values one reply converts to (every element of every aggregate counts).
    pub const MAX_ELEMENTS: usize = 1 << 20;
}

/// Converts `reply`; `left` counts down the values still allowed.
fn convert(reply: Reply<'_>, depth: usize, left: &mut usize) -> Result<Value, ConvertError> {
    if depth > MAX_CONVERT_DEPTH {
        return Err(ConvertError::TooDeep);
    }
    *left = left.checked_sub(1).ok_or(ConvertError::Capacity)?;
    let mut list = |a: Aggregate<'_>| -> Result<Vec<Value>, ConvertError> {
        if a.len() > *left {
            return Err(ConvertError::Capacity);
        }
        a.iter().map(|r| convert(r, depth + 1, left)).collect()
    };
    Ok(match reply {
        Reply::Simple(s) => Value::Simple(lossy(s)),
        Reply::Error(e) => Value::Error(lossy(e.text())),
        Reply::Int(i) => Value::Int(i),
        Reply::Bulk(b) => Value::Bulk(b.to_vec()),
        Reply::Nil => Value::Nil,
        Reply::Array(a) => Value::Array(list(a)?),
        Reply::Set(a) => Value::Set(list(a)?),
        Reply::Push(a) => Value::Push(list(a)?),
        Reply::Map(a) => {
            if a.len() > *left {
                return Err(ConvertError::Capacity);
            }
            Value::Map(
                a.pairs()
                    .map(|(k, v)| Ok((convert(k, depth + 1, left)?, convert(v, depth + 1, left)?)))
                    .collect::<Result<_, ConvertError>>()?,
            )
        }
        Reply::Double(d) => Value::Double(d.value()),
        Reply::Bool(b) => Value::Bool(b),
        Reply::BigNumber(b) => Value::BigNumber(lossy(b)),
        Reply::Verbatim { format, text } => Value::Verbatim {
            format: lossy(&format),
            text: text.to_vec(),
        },
    })
}

impl FromReply for Value {
    type Output<'a> = Value;
    fn from_reply(reply: Reply<'_>) -> Result<Value, ConvertError> {
        let mut left = Value::MAX_ELEMENTS;
        convert(reply, 0, &mut left)
    }
}

#[cfg(feature = "redis-protocol")]
mod frames {
    use super::*;
    use redis_protocol::resp2::types::OwnedFrame as Resp2;
    use redis_protocol::resp3::types::{OwnedFrame as Resp3, VerbatimStringFormat};

    fn resp3(reply: Reply<'_>, depth: usize) -> Result<Resp3, ConvertError> {
        if depth > MAX_CONVERT_DEPTH {
            return Err(ConvertError::TooDeep);
        }
        let attributes = None;
        Ok(match reply {
            Reply::Simple(s) => Resp3::SimpleString {
                data: s.to_vec(),
                attributes,
            },
            Reply::Error(e) => Resp3::SimpleError {
                data: lossy(e.text()),
                attributes,
            },
            Reply::Int(data) => Resp3::Number { data, attributes },
            Reply::Bulk(b) => Resp3::BlobString {
                data: b.to_vec(),
                attributes,
            },
            Reply::Nil => Resp3::Null,
            Reply::Array(a) => Resp3::Array {
                data: a
                    .iter()
                    .map(|r| resp3(r, depth + 1))
                    .collect::<Result<_, _>>()?,
                attributes,
            },
            Reply::Push(a) => Resp3::Push {
                data: a
                    .iter()
                    .map(|r| resp3(r, depth + 1))
                    .collect::<Result<_, _>>()?,
                attributes,
            },
            Reply::Set(a) => Resp3::Set {
                data: a
                    .iter()
                    .map(|r| key(r, depth + 1))
                    .collect::<Result<_, _>>()?,
                attributes,
            },
            Reply::Map(a) => Resp3::Map {
                data: a
                    .pairs()
                    .map(|(k, v)| Ok((key(k, depth + 1)?, resp3(v, depth + 1)?)))
                    .collect::<Result<_, ConvertError>>()?,
                attributes,
            },
            Reply::Double(d) => Resp3::Double {
                data: d.value(),
                attributes,
            },
            Reply::Bool(data) => Resp3::Boolean { data, attributes },
            Reply::BigNumber(b) => Resp3::BigNumber {
                data: b.to_vec(),
                attributes,
            },
            Reply::Verbatim { format, text } => Resp3::VerbatimString {
                data: text.to_vec(),
                format: if &format == b"mkd" {
                    VerbatimStringFormat::Markdown
                } else {
                    VerbatimStringFormat::Text
                },
                attributes,
            },
        })
    }

    /// A map key or set member: redis-protocol's `Hash` panics on aggregates, so a server that
    /// sends one as a key gets a conversion error instead.
    fn key(reply: Reply<'_>, depth: usize) -> Result<Resp3, ConvertError> {
        if matches!(
            reply,
            Reply::Array(_) | Reply::Map(_) | Reply::Set(_) | Reply::Push(_)
        ) {
            return Err(ConvertError::Type {
                expected: "a hashable map key or set member",
                got: reply.kind(),
            });
        }
        resp3(reply, depth)
    }

    /// The reply as a redis-protocol RESP3 frame (attributes are dropped).
    impl FromReply for Resp3 {
        type Output<'a> = Resp3;
        fn from_reply(reply: Reply<'_>) -> Result<Resp3, ConvertError> {
            resp3(reply, 0)
        }
    }

    fn resp2(reply: Reply<'_>, depth: usize) -> Result<Resp2, ConvertError> {
        if depth > MAX_CONVERT_DEPTH {
            return Err(ConvertError::TooDeep);
        }
        Ok(match reply {
            Reply::Simple(s) => Resp2::SimpleString(s.to_vec()),
            Reply::Error(e) => Resp2::Error(lossy(e.text())),
            Reply::Int(i) => Resp2::Integer(i),
            Reply::Bulk(b) => Resp2::BulkString(b.to_vec()),
            Reply::Nil => Resp2::Null,
            Reply::Array(a) => Resp2::Array(
                a.iter()
                    .map(|r| resp2(r, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                return Err(ConvertError::Type {
                    expected: "a RESP2 reply",
                    got: other.kind(),
                });
            }
        })
    }

    /// The reply as a redis-protocol RESP2 frame; RESP3-only types do not convert.
    impl FromReply for Resp2 {
        type Output<'a> = Resp2;
        fn from_reply(reply: Reply<'_>) -> Result<Resp2, ConvertError> {
            resp2(reply, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_stops_at_max_elements() {
        let limits = crate::Limits::default();
        for (n, ok) in [
            (Value::MAX_ELEMENTS - 1, true),
            (Value::MAX_ELEMENTS, false),
        ] {
            let mut bytes = alloc::format!("*{n}\r\n").into_bytes();
            for _ in 0..n {
                bytes.extend_from_slice(b":1\r\n");
            }
            let (reply, _) = crate::decode_reply(&bytes, &limits).unwrap().unwrap();
            let got = Value::from_reply(reply);
            assert_eq!(got.is_ok(), ok, "{n} elements");
            if !ok {
                assert_eq!(got, Err(ConvertError::Capacity));
            }
        }
    }

    #[test]
    fn nested() {
        let v = Value::from_reply(Reply::parse(
            b"*3\r\n%1\r\n+k\r\n:1\r\n-ERR x\r\n~1\r\n#f\r\n",
        ))
        .unwrap();
        assert_eq!(
            v,
            Value::Array(alloc::vec![
                Value::Map(alloc::vec![(Value::Simple("k".into()), Value::Int(1))]),
                Value::Error("ERR x".into()),
                Value::Set(alloc::vec![Value::Bool(false)]),
            ])
        );
    }
}
