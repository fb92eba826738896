//! How a struct's Rust fields become hash members: [`StructField`] gives each common Rust type
//! its RedPipe codec, so a derived struct reads and writes what a RedPipe `Struct` with the
//! matching `fields` does; `#[redpipe(codec = X)]` picks any other [`Field`] codec
//! ([`encode_with`], [`decode_with`]); [`ExtraFields`] keeps the members a struct does not
//! declare; [`Lenient`] loads a field whatever another writer stored in it.
//!
//! | Rust type | codec (RedPipe field) |
//! |---|---|
//! | `String` | [`Text`] (`TextField`) |
//! | `i8` … `i64`, `isize`, `u8` … `u64`, `usize` | [`Integer`] (`IntegerField`) |
//! | `f64`, `f32` | [`Float`] (`FloatField`) |
//! | `bool` | [`Boolean`] (`BooleanField`) |
//! | `Vec<u8>` | [`Binary`] (`BinaryField`) |
//! | `Vec<String>` | [`StringList`] (`StringListField`) |
//! | `serde_json::Value` (an array or object), `Vec<Value>`, `Map<String, Value>` (feature `json`) | [`List`](crate::keyspace::List) / [`Dict`](crate::keyspace::Dict) (`ListField` / `DictField`) |

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::keyspace::{Binary, Boolean, Field, FieldBuf, FieldError, Float, Integer, StringList};

/// A Rust type stored as one hash member. `Option<T>` fields of a derived struct are `T`'s
/// member, absent when `None`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a field of a `#[derive(Struct)]` struct",
    label = "no codec stores this type",
    note = "fields are String, bool, integers, f64, Vec<u8>, Vec<String>, serde_json values, `record::Lenient<T>`, or Option of those",
    note = "give the field a codec of its own with #[redpipe(codec = ...)], or implement `redpipe::record::StructField` for it"
)]
pub trait StructField: Sized {
    /// The bytes stored for `self`.
    fn encode_member(&self) -> Result<Vec<u8>, FieldError>;

    /// The value of stored `bytes`.
    fn decode_member(bytes: &[u8]) -> Result<Self, FieldError>;
}

/// The bytes codec `F` stores for `value`: what `#[redpipe(codec = F)]` writes.
pub fn encode_with<F: Field + ?Sized>(value: &F::Value) -> Result<Vec<u8>, FieldError> {
    let mut buf = FieldBuf::new();
    F::encode(value, &mut buf).map(<[u8]>::to_vec)
}

/// The value codec `F` reads from `bytes`, as the field's type: what `#[redpipe(codec = F)]`
/// reads.
pub fn decode_with<F, T>(bytes: &[u8]) -> Result<T, FieldError>
where
    F: Field + ?Sized,
    for<'a> F::Output<'a>: Into<T>,
{
    F::decode(bytes).map(Into::into)
}

impl StructField for String {
    fn encode_member(&self) -> Result<Vec<u8>, FieldError> {
        Ok(self.as_bytes().to_vec())
    }

    fn decode_member(bytes: &[u8]) -> Result<Self, FieldError> {
        decode_with::<crate::keyspace::Text, _>(bytes)
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl StructField for $t {
            fn encode_member(&self) -> Result<Vec<u8>, FieldError> {
                let value = i64::try_from(*self).map_err(|_| FieldError::OutOfRange)?;
                encode_with::<Integer>(&value)
            }

            fn decode_member(bytes: &[u8]) -> Result<Self, FieldError> {
                <$t>::try_from(Integer::decode(bytes)?).map_err(|_| FieldError::OutOfRange)
            }
        }
    )*};
}

integers!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl StructField for f64 {
    fn encode_member(&self) -> Result<Vec<u8>, FieldError> {
        encode_with::<Float>(self)
    }

    fn decode_member(bytes: &[u8]) -> Result<Self, FieldError> {
        Float::decode(bytes)
    }
}

/// Stored as the `f64` it widens to (`0.1f32` is `0.10000000149011612`), read back exactly.
impl StructField for f32 {
    fn encode_member(&self) -> Result<Vec<u8>, FieldError> {
        encode_with::<Float>(&f64::from(*self))
    }

    fn decode_member(bytes: &[u8]) -> Result<Self, FieldError> {
        // Narrowing is the point: the value was written from an `f32`.
        #[allow(clippy::cast_possible_truncation)]
        Ok(Float::decode(bytes)? as f32)
    }
}

impl StructField for bool {
    fn encode_member(&self) -> Result<Vec<u8>, FieldError> {
        encode_with::<Boolean>(self)
    }

    fn decode_member(bytes: &[u8]) -> Result<Self, FieldError> {
        Boolean::decode(bytes)
    }
}

impl StructField for Vec<u8> {
    fn encode_member(&self) -> Result<Vec<u8>, FieldError> {
        Ok(self.clone())
    }

    fn decode_member(bytes: &[u8]) -> Result<Self, FieldError> {
        decode_with::<Binary, _>(bytes)
    }
}

impl StructField for Vec<String> {
    fn encode_member(&self) -> Result<Vec<u8>, FieldError> {
        encode_with::<StringList>(self)
    }

    fn decode_member(bytes: &[u8]) -> Result<Self, FieldError> {
        StringList::decode(bytes)
    }
}

#[cfg(feature = "json")]
mod json {
    use super::*;
    use crate::keyspace::{Dict, List};
    use serde_json::{Map, Value};

    /// An array as a `ListField`, an object as a `DictField`; anything else cannot be
    /// written (RedPipe has no field for a bare JSON number or string).
    impl StructField for Value {
        fn encode_member(&self) -> Result<Vec<u8>, FieldError> {
            match self {
                Value::Array(items) => encode_with::<List>(items),
                Value::Object(map) => encode_with::<Dict>(map),
                _ => Err(FieldError::Invalid {
                    codec: "list or dict",
                }),
            }
        }

        fn decode_member(bytes: &[u8]) -> Result<Self, FieldError> {
            match serde_json::from_slice(bytes) {
                Ok(v @ (Value::Array(_) | Value::Object(_))) => Ok(v),
                _ => Err(FieldError::Invalid {
                    codec: "list or dict",
                }),
            }
        }
    }

    impl StructField for Vec<Value> {
        fn encode_member(&self) -> Result<Vec<u8>, FieldError> {
            encode_with::<List>(self)
        }

        fn decode_member(bytes: &[u8]) -> Result<Self, FieldError> {
            List::decode(bytes)
        }
    }

    impl StructField for Map<String, Value> {
        fn encode_member(&self) -> Result<Vec<u8>, FieldError> {
            encode_with::<Dict>(self)
        }

        fn decode_member(bytes: &[u8]) -> Result<Self, FieldError> {
            Dict::decode(bytes)
        }
    }
}

/// A field that loads whatever is stored in it: the value when `T` reads the bytes, else the
/// bytes as they are with the reason `T` cannot read them. Written back, an unreadable member is
/// stored unchanged, so loading a record and writing it again changes nothing.
///
/// A record loads only when every field does: one member written by another program in a form
/// `T` refuses (Python RedPipe writes `NaN` and `Infinity` into a `ListField`, which is not
/// JSON) fails the whole load with [`StructError::Field`](super::StructError::Field), naming
/// the field. Declare such a field `Lenient<T>` (or `Option<Lenient<T>>`) and the record loads,
/// its other fields readable and this one reporting its error.
///
/// ```
/// use redpipe_core::record::{Lenient, StructField};
///
/// let odd = <Lenient<Vec<String>>>::decode_member(b"a,b").unwrap();
/// assert_eq!(odd.value(), Some(&vec!["a".to_string(), "b".to_string()]));
/// # #[cfg(feature = "json")] {
/// let nan = <Lenient<Vec<serde_json::Value>>>::decode_member(b"[NaN, 1]").unwrap();
/// assert!(nan.value().is_none() && nan.error().is_some());
/// assert_eq!(nan.encode_member().unwrap(), b"[NaN, 1]"); // kept as it was
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Lenient<T> {
    /// The value, read by `T`'s codec.
    Read(T),
    /// Bytes `T`'s codec cannot read, kept as they are.
    Unreadable {
        /// The stored bytes.
        bytes: Vec<u8>,
        /// Why `T` cannot read them.
        error: FieldError,
    },
}

impl<T> Lenient<T> {
    /// The value, when it could be read.
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Read(v) => Some(v),
            Self::Unreadable { .. } => None,
        }
    }

    /// Why the stored bytes cannot be read, when they cannot.
    pub fn error(&self) -> Option<&FieldError> {
        match self {
            Self::Read(_) => None,
            Self::Unreadable { error, .. } => Some(error),
        }
    }

    /// The value, or the reason it could not be read.
    pub fn into_result(self) -> Result<T, FieldError> {
        match self {
            Self::Read(v) => Ok(v),
            Self::Unreadable { error, .. } => Err(error),
        }
    }
}

impl<T> From<T> for Lenient<T> {
    fn from(value: T) -> Self {
        Self::Read(value)
    }
}

impl<T: StructField> StructField for Lenient<T> {
    fn encode_member(&self) -> Result<Vec<u8>, FieldError> {
        match self {
            Self::Read(v) => v.encode_member(),
            Self::Unreadable { bytes, .. } => Ok(bytes.clone()),
        }
    }

    fn decode_member(bytes: &[u8]) -> Result<Self, FieldError> {
        Ok(match T::decode_member(bytes) {
            Ok(v) => Self::Read(v),
            Err(error) => Self::Unreadable {
                bytes: bytes.to_vec(),
                error,
            },
        })
    }
}

/// Serializes as its value (feature `serde`); an unreadable member is a serialization error.
#[cfg(feature = "serde")]
impl<T: serde::Serialize> serde::Serialize for Lenient<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Read(v) => v.serialize(serializer),
            Self::Unreadable { error, .. } => Err(serde::ser::Error::custom(error)),
        }
    }
}

/// Deserializes as `T` (feature `serde`).
#[cfg(feature = "serde")]
impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Lenient<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self::Read)
    }
}

/// Extra members with their bytes.
pub type Stored<'a> = Vec<(&'a str, Vec<u8>)>;

/// The members a struct does not declare, kept in a `#[redpipe(extra)]` field: as text
/// (`BTreeMap<String, String>`, RedPipe's default `TextField`) or as bytes
/// (`BTreeMap<String, Vec<u8>>`).
pub trait ExtraFields: Sized {
    /// The members and their bytes; the first member that cannot be written is the error.
    fn members(&self) -> Result<Stored<'_>, (String, FieldError)>;

    /// The extra members from what a load read.
    fn from_members(members: BTreeMap<String, Vec<u8>>) -> Result<Self, (String, FieldError)>;
}

impl<T: StructField> ExtraFields for BTreeMap<String, T> {
    fn members(&self) -> Result<Stored<'_>, (String, FieldError)> {
        self.iter()
            .map(|(k, v)| match v.encode_member() {
                Ok(b) => Ok((k.as_str(), b)),
                Err(e) => Err((k.clone(), e)),
            })
            .collect()
    }

    fn from_members(members: BTreeMap<String, Vec<u8>>) -> Result<Self, (String, FieldError)> {
        members
            .into_iter()
            .map(|(k, b)| match T::decode_member(&b) {
                Ok(v) => Ok((k, v)),
                Err(e) => Err((k, e)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn round<T: StructField + PartialEq + core::fmt::Debug>(v: T, stored: &[u8]) {
        assert_eq!(v.encode_member().unwrap(), stored);
        assert_eq!(T::decode_member(stored).unwrap(), v);
    }

    #[test]
    fn rust_types_store_as_redpipe_fields() {
        round(String::from("héllo"), "héllo".as_bytes());
        round(-42i64, b"-42");
        round(7u8, b"7");
        round(1u64 << 53, b"9007199254740992");
        round(1.5f64, b"1.5");
        round(2.0f64, b"2");
        round(0.5f32, b"0.5");
        round(true, b"1");
        round(false, b"");
        round(vec![0u8, 255], &[0, 255]);
        round(vec![String::from("a"), String::from("b")], b"a,b");
    }

    #[test]
    fn out_of_range_numbers_are_refused() {
        assert_eq!(u8::decode_member(b"300"), Err(FieldError::OutOfRange));
        assert_eq!(u32::decode_member(b"-1"), Err(FieldError::OutOfRange));
        assert_eq!(u64::MAX.encode_member(), Err(FieldError::OutOfRange));
        // RedPipe would read another number back.
        assert_eq!(
            ((1u64 << 53) + 1).encode_member(),
            Err(FieldError::InexactInteger)
        );
        // Written by others, it reads exactly.
        assert_eq!(
            u64::decode_member(b"9223372036854775807"),
            Ok(9223372036854775807)
        );
        assert_eq!(
            i64::decode_member(b"abc"),
            Err(FieldError::Invalid { codec: "integer" })
        );
    }

    #[test]
    fn extra_members_keep_their_names() {
        let mut stored = BTreeMap::new();
        stored.insert(String::from("color"), b"red".to_vec());
        let extra = BTreeMap::<String, String>::from_members(stored).unwrap();
        assert_eq!(extra["color"], "red");
        assert_eq!(extra.members().unwrap(), vec![("color", b"red".to_vec())]);

        let mut bad = BTreeMap::new();
        bad.insert(String::from("n"), vec![0xff]);
        assert_eq!(
            BTreeMap::<String, String>::from_members(bad).unwrap_err().0,
            "n"
        );
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_values_are_lists_or_dicts() {
        let v: serde_json::Value = serde_json::json!({"a": [1, "x"]});
        round(v, br#"{"a": [1, "x"]}"#);
        assert!(serde_json::Value::from(3).encode_member().is_err());
        assert!(serde_json::Value::decode_member(b"3").is_err());
    }
}
