//! Codecs that need an allocator: comma-joined string lists, JSON lists and dicts (feature
//! `json`), and [`FieldValue`], a value of any codec chosen at run time (for hash keyspaces
//! whose fields have codecs of their own, as RedPipe's `Hash.fields`).

use alloc::string::String;
use alloc::vec::Vec;

use super::field::{Ascii, Binary, Boolean, Field, FieldBuf, FieldError, Float, Integer, Text};

/// A list of strings, stored comma-joined (`a,b,c`), as RedPipe's `StringListField`.
///
/// Items that are empty or hold a comma cannot be written ([`FieldError::StringListItem`]):
/// RedPipe would read them back changed. An empty list is the empty string, read back as an empty
/// list (RedPipe reads it as `None`).
#[derive(Debug, Clone, Copy)]
pub struct StringList;

impl Field for StringList {
    type Value = [String];
    type Output<'a> = Vec<String>;
    type Owned = Vec<String>;
    const NAME: &'static str = "string list";

    fn encode<'b>(value: &'b [String], buf: &'b mut FieldBuf) -> Result<&'b [u8], FieldError> {
        if value.iter().any(|v| v.is_empty() || v.contains(',')) {
            return Err(FieldError::StringListItem);
        }
        Ok(buf.take(value.join(",").into_bytes()))
    }

    fn decode(bytes: &[u8]) -> Result<Vec<String>, FieldError> {
        let text =
            core::str::from_utf8(bytes).map_err(|_| FieldError::Invalid { codec: Self::NAME })?;
        Ok(text
            .split(',')
            .filter(|v| !v.is_empty())
            .map(String::from)
            .collect())
    }

    fn into_owned<'a>(
        value: Self::Output<'a>,
    ) -> <Self::Owned as crate::codec::from_reply::FromReply>::Output<'a> {
        value
    }
}

#[cfg(feature = "json")]
mod json {
    use super::*;
    use serde_json::{Map, Value};

    // JSON laid out as Python's `json.dumps` writes it by default: `", "` and `": "` between
    // items, everything outside printable ASCII escaped (`\uXXXX`, UTF-16), floats as Python's
    // `repr`. Written here because serde_json's formatter hooks need `std`. With serde_json's
    // `float_roundtrip` every float reads back as the f64 Python wrote, and with
    // `preserve_order` objects keep their stored key order: what was read is written back byte
    // for byte.
    fn write(value: &Value, out: &mut Vec<u8>) {
        match value {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(true) => out.extend_from_slice(b"true"),
            Value::Bool(false) => out.extend_from_slice(b"false"),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
                } else if let Some(u) = n.as_u64() {
                    out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
                } else {
                    let mut text = super::super::field::PyFloat::default();
                    super::super::field::py_repr(n.as_f64().unwrap_or(f64::NAN), &mut text);
                    out.extend_from_slice(text.as_bytes());
                }
            }
            Value::String(s) => string(s, out),
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    write(item, out);
                }
                out.push(b']');
            }
            Value::Object(map) => object(map, out),
        }
    }

    fn object(map: &Map<String, Value>, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in map.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            string(k, out);
            out.extend_from_slice(b": ");
            write(v, out);
        }
        out.push(b'}');
    }

    /// A JSON string as Python's `json.dumps` (with `ensure_ascii`) writes it.
    fn string(s: &str, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push(b'"');
        for c in s.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\u{8}' => out.extend_from_slice(b"\\b"),
                '\u{c}' => out.extend_from_slice(b"\\f"),
                ' '..='~' => out.push(c as u8),
                _ => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        let u = usize::from(*unit);
                        out.extend_from_slice(&[
                            b'\\',
                            b'u',
                            HEX[u >> 12 & 15],
                            HEX[u >> 8 & 15],
                            HEX[u >> 4 & 15],
                            HEX[u & 15],
                        ]);
                    }
                }
            }
        }
        out.push(b'"');
    }

    fn parse(bytes: &[u8], codec: &'static str) -> Result<Value, FieldError> {
        serde_json::from_slice(bytes).map_err(|_| FieldError::Invalid { codec })
    }

    /// A JSON list, as RedPipe's `ListField` (`json.dumps`): `[1, "a", {"b": true}]`.
    #[derive(Debug, Clone, Copy)]
    pub struct List;

    impl Field for List {
        type Value = [Value];
        type Output<'a> = Vec<Value>;
        type Owned = crate::keyspace::Decoded<Self>;
        const NAME: &'static str = "list";

        fn encode<'b>(value: &'b [Value], buf: &'b mut FieldBuf) -> Result<&'b [u8], FieldError> {
            let mut out = Vec::from(&b"["[..]);
            for (i, item) in value.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write(item, &mut out);
            }
            out.push(b']');
            Ok(buf.take(out))
        }

        fn decode(bytes: &[u8]) -> Result<Vec<Value>, FieldError> {
            match parse(bytes, Self::NAME)? {
                Value::Array(items) => Ok(items),
                _ => Err(FieldError::Invalid { codec: Self::NAME }),
            }
        }

        fn into_owned<'a>(
            value: Self::Output<'a>,
        ) -> <Self::Owned as crate::codec::from_reply::FromReply>::Output<'a> {
            value
        }
    }

    /// A JSON object, as RedPipe's `DictField` (`json.dumps`): `{"x": 1, "y": [1, 2]}`.
    #[derive(Debug, Clone, Copy)]
    pub struct Dict;

    impl Field for Dict {
        type Value = Map<String, Value>;
        type Output<'a> = Map<String, Value>;
        type Owned = crate::keyspace::Decoded<Self>;
        const NAME: &'static str = "dict";

        fn encode<'b>(
            value: &'b Map<String, Value>,
            buf: &'b mut FieldBuf,
        ) -> Result<&'b [u8], FieldError> {
            let mut out = Vec::new();
            object(value, &mut out);
            Ok(buf.take(out))
        }

        fn decode(bytes: &[u8]) -> Result<Map<String, Value>, FieldError> {
            match parse(bytes, Self::NAME)? {
                Value::Object(map) => Ok(map),
                _ => Err(FieldError::Invalid { codec: Self::NAME }),
            }
        }

        fn into_owned<'a>(
            value: Self::Output<'a>,
        ) -> <Self::Owned as crate::codec::from_reply::FromReply>::Output<'a> {
            value
        }
    }
}

#[cfg(feature = "json")]
pub use json::{Dict, List};

/// The codec of a field, chosen at run time: what RedPipe's `Hash.fields` maps a member to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Codec {
    /// [`Integer`].
    Integer,
    /// [`Float`].
    Float,
    /// [`Text`].
    Text,
    /// [`Ascii`].
    Ascii,
    /// [`Binary`].
    Binary,
    /// [`Boolean`].
    Boolean,
    /// [`StringList`].
    StringList,
    /// `List` (feature `json`).
    #[cfg(feature = "json")]
    List,
    /// `Dict` (feature `json`).
    #[cfg(feature = "json")]
    Dict,
}

/// A value of any codec, owned: what a hash keyspace with per-field codecs reads and writes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FieldValue {
    /// An [`Integer`].
    Int(i64),
    /// A [`Float`].
    Float(f64),
    /// [`Text`] or [`Ascii`].
    Text(String),
    /// [`Binary`].
    Bytes(Vec<u8>),
    /// A [`Boolean`].
    Bool(bool),
    /// A [`StringList`].
    StringList(Vec<String>),
    /// A JSON `List` or `Dict` (feature `json`).
    #[cfg(feature = "json")]
    Json(serde_json::Value),
}

/// A reply read as a field value by its own kind, for the handles of
/// [`hget_field`](crate::keyspace::View::hget_field), whose conversion is the member's codec:
/// an integer is `Int`, a double `Float`, a boolean `Bool`, a string `Text` (`Bytes` when not
/// UTF-8).
impl crate::FromReply for FieldValue {
    type Output<'a> = FieldValue;

    fn from_reply(reply: crate::Reply<'_>) -> Result<FieldValue, crate::ConvertError> {
        use crate::Reply;
        Ok(match reply {
            Reply::Int(i) => FieldValue::Int(i),
            Reply::Double(_) => FieldValue::Float(<f64 as crate::FromReply>::from_reply(reply)?),
            Reply::Bool(b) => FieldValue::Bool(b),
            other => {
                let bytes = <&[u8] as crate::FromReply>::from_reply(other)?;
                match core::str::from_utf8(bytes) {
                    Ok(text) => FieldValue::Text(text.into()),
                    Err(_) => FieldValue::Bytes(bytes.to_vec()),
                }
            }
        })
    }
}

impl Codec {
    /// The codec's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Integer => Integer::NAME,
            Self::Float => Float::NAME,
            Self::Text => Text::NAME,
            Self::Ascii => Ascii::NAME,
            Self::Binary => Binary::NAME,
            Self::Boolean => Boolean::NAME,
            Self::StringList => StringList::NAME,
            #[cfg(feature = "json")]
            Self::List => List::NAME,
            #[cfg(feature = "json")]
            Self::Dict => Dict::NAME,
        }
    }

    /// The stored bytes of `value` in this codec; a value of another kind is
    /// [`FieldError::Invalid`] (an integer is accepted where a float is expected, and text where
    /// ASCII is, if it is ASCII).
    pub fn encode<'b>(
        self,
        value: &'b FieldValue,
        buf: &'b mut FieldBuf,
    ) -> Result<&'b [u8], FieldError> {
        let wrong = || FieldError::Invalid { codec: self.name() };
        match (self, value) {
            (Self::Integer, FieldValue::Int(i)) => Integer::encode(i, buf),
            (Self::Float, FieldValue::Float(f)) => Float::encode(f, buf),
            (Self::Float, FieldValue::Int(i)) => {
                let f = *i as f64;
                let mut tmp = FieldBuf::new();
                let bytes = Float::encode(&f, &mut tmp)?.to_vec();
                Ok(buf.take(bytes))
            }
            (Self::Text, FieldValue::Text(t)) => Text::encode(t, buf),
            (Self::Ascii, FieldValue::Text(t)) => Ascii::encode(t, buf),
            (Self::Binary, FieldValue::Bytes(b)) => Binary::encode(b, buf),
            (Self::Boolean, FieldValue::Bool(b)) => Boolean::encode(b, buf),
            (Self::StringList, FieldValue::StringList(l)) => StringList::encode(l, buf),
            #[cfg(feature = "json")]
            (Self::List, FieldValue::Json(serde_json::Value::Array(items))) => {
                List::encode(items, buf)
            }
            #[cfg(feature = "json")]
            (Self::Dict, FieldValue::Json(serde_json::Value::Object(map))) => {
                Dict::encode(map, buf)
            }
            _ => Err(wrong()),
        }
    }

    /// The value of stored `bytes` in this codec.
    pub fn decode(self, bytes: &[u8]) -> Result<FieldValue, FieldError> {
        Ok(match self {
            Self::Integer => FieldValue::Int(Integer::decode(bytes)?),
            Self::Float => FieldValue::Float(Float::decode(bytes)?),
            Self::Text => FieldValue::Text(Text::decode(bytes)?.into()),
            Self::Ascii => FieldValue::Text(Ascii::decode(bytes)?.into()),
            Self::Binary => FieldValue::Bytes(bytes.to_vec()),
            Self::Boolean => FieldValue::Bool(Boolean::decode(bytes)?),
            Self::StringList => FieldValue::StringList(StringList::decode(bytes)?),
            #[cfg(feature = "json")]
            Self::List => FieldValue::Json(serde_json::Value::Array(List::decode(bytes)?)),
            #[cfg(feature = "json")]
            Self::Dict => FieldValue::Json(serde_json::Value::Object(Dict::decode(bytes)?)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn string_lists_refuse_what_redpipe_would_lose() {
        let mut buf = FieldBuf::new();
        let items = vec![String::from("a"), String::from("b")];
        assert_eq!(StringList::encode(&items, &mut buf), Ok(&b"a,b"[..]));
        assert_eq!(StringList::encode(&[], &mut buf), Ok(&b""[..]));
        for bad in [vec![String::new()], vec![String::from("a,b")]] {
            assert_eq!(
                StringList::encode(&bad, &mut buf),
                Err(FieldError::StringListItem)
            );
        }
        assert_eq!(
            StringList::decode(b"a,,b"),
            Ok(vec![String::from("a"), String::from("b")])
        );
        assert_eq!(StringList::decode(b""), Ok(vec![]));
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_is_laid_out_as_python_dumps_it() {
        // From Python RedPipe 4.0.1: ListField.encode / DictField.encode.
        let list: serde_json::Value = serde_json::from_str(
            r#"[1, "a", {"b": [true, null]}, 1.0, 1e20, "\u00e9\u2603\ud83d\ude00"]"#,
        )
        .unwrap_or_default();
        let mut buf = FieldBuf::new();
        let serde_json::Value::Array(items) = &list else {
            panic!("a list");
        };
        assert_eq!(
            List::encode(items, &mut buf),
            Ok(&br#"[1, "a", {"b": [true, null]}, 1.0, 1e+20, "\u00e9\u2603\ud83d\ude00"]"#[..])
        );
        let dict: serde_json::Value =
            serde_json::from_str(r#"{"x": 1, "y": [1, 2], "z": "\u00fc"}"#).unwrap_or_default();
        let serde_json::Value::Object(map) = &dict else {
            panic!("a dict");
        };
        assert_eq!(
            Dict::encode(map, &mut buf),
            Ok(&br#"{"x": 1, "y": [1, 2], "z": "\u00fc"}"#[..])
        );
        assert_eq!(List::decode(br#"[1, 2]"#).map(|l| l.len()), Ok(2));
        assert!(List::decode(br#"{"x": 1}"#).is_err());
        assert!(Dict::decode(b"not json").is_err());
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_written_by_python_is_written_back_unchanged() {
        // `json.dumps` output; read and written back, the bytes must not change (floats that
        // need all 17 digits, the smallest and largest, key order that is not sorted).
        let mut buf = FieldBuf::new();
        for stored in [
            &br#"[0.9999999999999999, 1.0, 1e-07, 5e-324, 1.7976931348623157e+308, -0.0, 0.1]"#[..],
            br#"[2.2250738585072014e-308, 123456789.12345679, 1e+16, 9007199254740993]"#,
            br#"[{"b": 1, "a": 2}, {"z": {"y": 1, "x": 2}, "a": []}]"#,
        ] {
            let items = List::decode(stored);
            let back = items
                .as_deref()
                .map(|items| List::encode(items, &mut buf).map(<[u8]>::to_vec));
            assert_eq!(
                back,
                Ok(Ok(stored.to_vec())),
                "{}",
                String::from_utf8_lossy(stored)
            );
        }
        let stored = br#"{"b": 1, "a": 2, "c": {"d": 0.30000000000000004}}"#;
        let map = Dict::decode(stored);
        let back = map
            .as_ref()
            .map(|m| Dict::encode(m, &mut buf).map(<[u8]>::to_vec));
        assert_eq!(back, Ok(Ok(stored.to_vec())));
    }

    #[test]
    fn codecs_chosen_at_run_time() {
        let mut buf = FieldBuf::new();
        assert_eq!(
            Codec::Boolean.encode(&FieldValue::Bool(false), &mut buf),
            Ok(&b""[..])
        );
        assert_eq!(
            Codec::Float.encode(&FieldValue::Int(3), &mut buf),
            Ok(&b"3"[..])
        );
        assert!(
            Codec::Integer
                .encode(&FieldValue::Text("x".into()), &mut buf)
                .is_err()
        );
        assert_eq!(Codec::Integer.decode(b"7"), Ok(FieldValue::Int(7)));
        assert_eq!(Codec::Text.decode(b"hi"), Ok(FieldValue::Text("hi".into())));
    }
}
