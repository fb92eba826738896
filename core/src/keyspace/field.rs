//! Field codecs: how a Rust value becomes the bytes stored in Redis and back, byte for byte as
//! Python RedPipe writes them, so that both read the same data.

pub use crate::codec::error::FieldError;
use crate::codec::from_reply::FromReply;
use crate::codec::into_owned::IntoOwned;

/// Room a codec formats into: a small inline buffer, and with an allocator a growable one.
#[derive(Debug, Default)]
pub struct FieldBuf {
    inline: heapless::Vec<u8, 64>,
    #[cfg(feature = "alloc")]
    heap: alloc::vec::Vec<u8>,
}

impl FieldBuf {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self {
            inline: heapless::Vec::new(),
            #[cfg(feature = "alloc")]
            heap: alloc::vec::Vec::new(),
        }
    }

    /// Keeps a copy of `bytes` and returns it.
    pub fn keep(&mut self, bytes: &[u8]) -> Result<&[u8], FieldError> {
        self.inline.clear();
        if self.inline.extend_from_slice(bytes).is_ok() {
            return Ok(&self.inline);
        }
        #[cfg(feature = "alloc")]
        {
            self.heap.clear();
            self.heap.extend_from_slice(bytes);
            Ok(&self.heap)
        }
        #[cfg(not(feature = "alloc"))]
        Err(FieldError::TooLong)
    }

    /// Takes `bytes` built elsewhere (with an allocator) and returns them.
    #[cfg(feature = "alloc")]
    pub fn take(&mut self, bytes: alloc::vec::Vec<u8>) -> &[u8] {
        self.heap = bytes;
        &self.heap
    }
}

/// How a value of a field is written to and read from Redis.
///
/// | codec | Rust value | stored as (RedPipe's format) |
/// |---|---|---|
/// | [`Integer`] | `i64` | decimal digits: `42`, `-7` |
/// | [`Float`] | `f64` | Python's `repr` without a trailing `.0`: `1.5`, `2`, `1e+16`, `1e-05`, `inf` |
/// | [`Text`] | `str` | UTF-8 |
/// | [`Ascii`] | `str` | printable ASCII (`' '` to `'~'`) only |
/// | [`Binary`] | `[u8]` | the bytes |
/// | [`Boolean`] | `bool` | `1` for true, the empty string for false |
/// | `StringList` (alloc) | `[String]` | the items joined with `,` |
/// | `List`, `Dict` (feature `json`) | JSON values | Python's `json.dumps`: `[1, "a"]`, `{"x": 1}` |
///
/// Where RedPipe's format loses data, redpipe writes only what RedPipe reads back unchanged,
/// reads everything RedPipe writes, and refuses the rest:
/// - **Integers** within ±2^53 are written as their digits; beyond, writing is refused
///   ([`FieldError::InexactInteger`]): RedPipe reads integers through a float and would read back
///   another number. Read back, integer text is exact (whatever its size) and float text (`1.9`,
///   `1e3`) is truncated as RedPipe does.
/// - **Booleans** are written `1` and the empty string; read back, as RedPipe reads them: the
///   empty string is false, any other value true (even `0` and `false`, which RedPipe reads as
///   true), so both sides agree on every stored value.
/// - **String lists**: RedPipe drops empty items and splits items that hold a comma; redpipe
///   refuses to write such items ([`FieldError::StringListItem`]) and reads as RedPipe does.
///
/// A codec of your own implements this trait:
///
/// ```
/// use redpipe_core::FromReply;
/// use redpipe_core::keyspace::{Field, FieldBuf, FieldError};
/// /// Temperatures stored as whole tenths of a degree: `215` for 21.5.
/// struct Tenths;
/// impl Field for Tenths {
///     type Value = f64;
///     type Output<'a> = f64;
///     type Owned = f64;
///     const NAME: &'static str = "tenths";
///     fn encode<'b>(value: &f64, buf: &'b mut FieldBuf) -> Result<&'b [u8], FieldError> {
///         let mut digits = itoa::Buffer::new();
///         buf.keep(digits.format((value * 10.0).round() as i64).as_bytes())
///     }
///     fn decode(bytes: &[u8]) -> Result<f64, FieldError> {
///         let text = core::str::from_utf8(bytes).map_err(|_| FieldError::Invalid { codec: Self::NAME })?;
///         text.parse::<i64>().map(|t| t as f64 / 10.0).map_err(|_| FieldError::Invalid { codec: Self::NAME })
///     }
///     fn into_owned<'a>(value: Self::Output<'a>) -> <Self::Owned as FromReply>::Output<'a> {
///         value
///     }
/// }
/// let mut buf = FieldBuf::new();
/// assert_eq!(Tenths::encode(&21.5, &mut buf), Ok(&b"215"[..]));
/// assert_eq!(Tenths::decode(b"215"), Ok(21.5));
/// ```
pub trait Field {
    /// The Rust value written.
    type Value: ?Sized;
    /// The value read back; may borrow from the reply.
    type Output<'a>;
    /// What a `Pipe` handle of this codec's values reads as, the type a user's function
    /// names (`Handle<Option<i64>>` for [`Integer`]): the value owned (`String` for [`Text`]).
    /// A codec whose value is no reply type of its own says `Decoded<Self>`.
    type Owned: FromReply;

    /// The codec's name, for errors.
    const NAME: &'static str;

    /// The stored bytes of `value`: borrowed from it, or formatted into `buf`. Fails, before
    /// anything is queued, for values the format cannot keep.
    fn encode<'b>(value: &'b Self::Value, buf: &'b mut FieldBuf) -> Result<&'b [u8], FieldError>;

    /// The value of stored `bytes`.
    fn decode(bytes: &[u8]) -> Result<Self::Output<'_>, FieldError>;

    /// A value read back, as [`Owned`](Self::Owned) reads it.
    fn into_owned<'a>(value: Self::Output<'a>) -> <Self::Owned as FromReply>::Output<'a>;
}

fn invalid<F: Field + ?Sized>() -> FieldError {
    FieldError::Invalid { codec: F::NAME }
}

fn utf8<F: Field + ?Sized>(bytes: &[u8]) -> Result<&str, FieldError> {
    core::str::from_utf8(bytes).map_err(|_| invalid::<F>())
}

/// Integers, as decimal digits.
#[derive(Debug, Clone, Copy)]
pub struct Integer;

impl Field for Integer {
    type Value = i64;
    type Output<'a> = i64;
    type Owned = i64;
    const NAME: &'static str = "integer";

    fn encode<'b>(value: &'b i64, buf: &'b mut FieldBuf) -> Result<&'b [u8], FieldError> {
        // RedPipe decodes `int(float(text))`: beyond 2^53 the float rounds.
        if value.unsigned_abs() > 1 << 53 {
            return Err(FieldError::InexactInteger);
        }
        buf.keep(itoa::Buffer::new().format(*value).as_bytes())
    }

    fn decode(bytes: &[u8]) -> Result<i64, FieldError> {
        if let Some(i) = crate::codec::lex::parse_i64(bytes) {
            return Ok(i);
        }
        // RedPipe reads integers through a float (`int(float(v))`): text such as `1.9` or `1e3`
        // is truncated toward zero.
        let f = Float::decode(bytes).map_err(|_| invalid::<Self>())?;
        if f.is_finite() && f.abs() < 9.2e18 {
            Ok(f as i64)
        } else {
            Err(invalid::<Self>())
        }
    }

    fn into_owned<'a>(value: Self::Output<'a>) -> <Self::Owned as FromReply>::Output<'a> {
        value
    }
}

/// Floating-point numbers, as Python's `repr` writes them, without a trailing `.0`.
#[derive(Debug, Clone, Copy)]
pub struct Float;

impl Field for Float {
    type Value = f64;
    type Output<'a> = f64;
    type Owned = f64;
    const NAME: &'static str = "float";

    fn encode<'b>(value: &'b f64, buf: &'b mut FieldBuf) -> Result<&'b [u8], FieldError> {
        let mut out = PyFloat::default();
        py_repr(*value, &mut out);
        let text = out.as_bytes();
        let text = text.strip_suffix(b".0").unwrap_or(text);
        buf.keep(text)
    }

    fn decode(bytes: &[u8]) -> Result<f64, FieldError> {
        let text = utf8::<Self>(bytes)?.trim();
        // Python's float() takes `inf`, `-Infinity`, `nan`... as Rust's parser does.
        text.parse::<f64>().map_err(|_| invalid::<Self>())
    }

    fn into_owned<'a>(value: Self::Output<'a>) -> <Self::Owned as FromReply>::Output<'a> {
        value
    }
}

/// Python's `repr` of a float, formatted in place (at most 24 bytes).
#[derive(Default)]
pub(crate) struct PyFloat {
    bytes: heapless::Vec<u8, 32>,
}

impl PyFloat {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn push(&mut self, b: u8) {
        // Cannot fail: a float's repr is at most 24 bytes.
        let _ = self.bytes.push(b);
    }

    fn extend(&mut self, bytes: &[u8]) {
        let _ = self.bytes.extend_from_slice(bytes);
    }
}

/// Writes `f` as Python's `repr(f)` does: the shortest digits that read back as `f` (as ryu
/// finds them), laid out in fixed notation when the decimal exponent is in `-4..16`, else as
/// `d.ddde+XX` with at least two exponent digits; `inf`, `-inf`, `nan`.
pub(crate) fn py_repr(f: f64, out: &mut PyFloat) {
    if f.is_nan() {
        return out.extend(b"nan");
    }
    if f.is_infinite() {
        return out.extend(if f < 0.0 { &b"-inf"[..] } else { b"inf" });
    }
    if f.is_sign_negative() {
        out.push(b'-');
    }
    if f == 0.0 {
        return out.extend(b"0.0");
    }
    let mut ryu = ryu::Buffer::new();
    let text = ryu.format_finite(f.abs()).as_bytes();
    // Split ryu's output ("123.45", "1e16", "1.5e-7") into its digits and the decimal exponent
    // of the first digit.
    let (mantissa, exp) = match text.iter().position(|&b| b == b'e') {
        Some(e) => (
            &text[..e],
            core::str::from_utf8(&text[e + 1..])
                .ok()
                .and_then(|x| x.parse::<i32>().ok())
                .unwrap_or(0),
        ),
        None => (text, 0),
    };
    let point = mantissa
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(mantissa.len());
    let mut digits: heapless::Vec<u8, 24> = heapless::Vec::new();
    let mut first = None;
    for (i, &b) in mantissa.iter().enumerate() {
        if b == b'.' || (first.is_none() && b == b'0') {
            continue;
        }
        first.get_or_insert(i);
        let _ = digits.push(b);
    }
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    let first = first.unwrap_or(0);
    // The exponent of the first significant digit.
    let exp10 = exp
        + if first < point {
            (point - first) as i32 - 1
        } else {
            -((first - point) as i32)
        };
    if (-4..16).contains(&exp10) {
        if exp10 >= 0 {
            let whole = exp10 as usize + 1;
            for i in 0..whole {
                out.push(digits.get(i).copied().unwrap_or(b'0'));
            }
            out.push(b'.');
            if digits.len() > whole {
                out.extend(&digits[whole..]);
            } else {
                out.push(b'0');
            }
        } else {
            out.extend(b"0.");
            for _ in 0..(-exp10 - 1) {
                out.push(b'0');
            }
            out.extend(&digits);
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp10 < 0 { b'-' } else { b'+' });
        let e = exp10.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend(itoa::Buffer::new().format(e).as_bytes());
    }
}

/// UTF-8 text.
#[derive(Debug, Clone, Copy)]
pub struct Text;

impl Field for Text {
    type Value = str;
    type Output<'a> = &'a str;
    #[cfg(feature = "alloc")]
    type Owned = alloc::string::String;
    #[cfg(not(feature = "alloc"))]
    type Owned = &'static str;
    const NAME: &'static str = "text";

    fn encode<'b>(value: &'b str, _: &'b mut FieldBuf) -> Result<&'b [u8], FieldError> {
        Ok(value.as_bytes())
    }

    fn decode(bytes: &[u8]) -> Result<&str, FieldError> {
        utf8::<Self>(bytes)
    }

    #[allow(clippy::useless_conversion)]
    fn into_owned<'a>(value: Self::Output<'a>) -> <Self::Owned as FromReply>::Output<'a> {
        value.into() // `String`/`Vec<u8>` with `alloc`; the same borrow without
    }
}

/// Printable ASCII text (`' '` to `'~'`), as RedPipe's `AsciiField` accepts it.
#[derive(Debug, Clone, Copy)]
pub struct Ascii;

impl Field for Ascii {
    type Value = str;
    type Output<'a> = &'a str;
    #[cfg(feature = "alloc")]
    type Owned = alloc::string::String;
    #[cfg(not(feature = "alloc"))]
    type Owned = &'static str;
    const NAME: &'static str = "ascii";

    fn encode<'b>(value: &'b str, _: &'b mut FieldBuf) -> Result<&'b [u8], FieldError> {
        if value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            Ok(value.as_bytes())
        } else {
            Err(FieldError::NotAscii)
        }
    }

    fn decode(bytes: &[u8]) -> Result<&str, FieldError> {
        utf8::<Self>(bytes)
    }

    #[allow(clippy::useless_conversion)]
    fn into_owned<'a>(value: Self::Output<'a>) -> <Self::Owned as FromReply>::Output<'a> {
        value.into() // `String`/`Vec<u8>` with `alloc`; the same borrow without
    }
}

/// Bytes, stored as they are.
#[derive(Debug, Clone, Copy)]
pub struct Binary;

impl Field for Binary {
    type Value = [u8];
    type Output<'a> = &'a [u8];
    #[cfg(feature = "alloc")]
    type Owned = alloc::vec::Vec<u8>;
    #[cfg(not(feature = "alloc"))]
    type Owned = &'static [u8];
    const NAME: &'static str = "binary";

    fn encode<'b>(value: &'b [u8], _: &'b mut FieldBuf) -> Result<&'b [u8], FieldError> {
        Ok(value)
    }

    fn decode(bytes: &[u8]) -> Result<&[u8], FieldError> {
        Ok(bytes)
    }

    #[allow(clippy::useless_conversion)]
    fn into_owned<'a>(value: Self::Output<'a>) -> <Self::Owned as FromReply>::Output<'a> {
        value.into() // `String`/`Vec<u8>` with `alloc`; the same borrow without
    }
}

/// Booleans: `1` for true and the empty string for false, as RedPipe writes them.
#[derive(Debug, Clone, Copy)]
pub struct Boolean;

impl Field for Boolean {
    type Value = bool;
    type Output<'a> = bool;
    type Owned = bool;
    const NAME: &'static str = "boolean";

    fn encode<'b>(value: &'b bool, _: &'b mut FieldBuf) -> Result<&'b [u8], FieldError> {
        Ok(if *value { b"1" } else { b"" })
    }

    fn decode(bytes: &[u8]) -> Result<bool, FieldError> {
        // RedPipe's `bool(value)`: whatever a RedPipe program stored reads the same here.
        Ok(!bytes.is_empty())
    }

    fn into_owned<'a>(value: Self::Output<'a>) -> <Self::Owned as FromReply>::Output<'a> {
        value
    }
}

/// A reply read through a field codec: `Deferred<Decoded<Integer>>` reads an `i64` from a bulk
/// string written as RedPipe writes integers. Nil is an error: read `Option<Decoded<F>>` for
/// values that may be missing.
#[derive(Debug, Clone, Copy)]
pub struct Decoded<F: ?Sized>(core::marker::PhantomData<fn() -> F>);

/// On a `Pipe`, a value read through codec `F` is handed over as `F::Owned`.
impl<F: Field + ?Sized> IntoOwned for Decoded<F> {
    type Owned = F::Owned;
    fn into_owned<'a>(value: Self::Output<'a>) -> <F::Owned as FromReply>::Output<'a> {
        F::into_owned(value)
    }
}

impl<F: Field + ?Sized> crate::codec::from_reply::FromReply for Decoded<F> {
    type Output<'a> = F::Output<'a>;

    fn from_reply(
        reply: crate::codec::reply::Reply<'_>,
    ) -> Result<F::Output<'_>, crate::ConvertError> {
        let bytes = <&[u8] as crate::codec::from_reply::FromReply>::from_reply(reply)?;
        F::decode(bytes).map_err(crate::ConvertError::Field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc<F: Field + ?Sized>(v: &F::Value) -> Result<heapless::Vec<u8, 64>, FieldError> {
        let mut buf = FieldBuf::new();
        F::encode(v, &mut buf).map(|b| heapless::Vec::from_slice(b).unwrap_or_default())
    }

    #[test]
    fn floats_are_written_as_python_writes_them() {
        // From Python RedPipe 4.0.1: `FloatField.encode(v)`.
        for (v, want) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.5, "1.5"),
            (2.0, "2"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456789.123, "123456789.123"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (-2.5e-7, "-2.5e-07"),
            (1e22, "1e+22"),
            (123.0, "123"),
            (-1.0, "-1"),
            (9007199254740992.0, "9007199254740992"),
            (12345678901234567.0, "1.2345678901234568e+16"),
        ] {
            assert_eq!(enc::<Float>(&v).as_deref(), Ok(want.as_bytes()), "{v:?}");
            assert_eq!(Float::decode(want.as_bytes()), Ok(v), "{want}");
        }
        assert!(Float::decode(b"nan").is_ok_and(f64::is_nan));
        assert_eq!(enc::<Float>(&f64::NAN).as_deref(), Ok(&b"nan"[..]));
        assert!(Float::decode(b"1.2.3").is_err());
    }

    #[test]
    fn integers_are_exact_and_read_float_text_as_redpipe_does() {
        for (v, want) in [
            (0i64, "0"),
            (-5, "-5"),
            (1 << 53, "9007199254740992"),
            (-(1 << 53), "-9007199254740992"),
        ] {
            assert_eq!(enc::<Integer>(&v).as_deref(), Ok(want.as_bytes()));
            assert_eq!(Integer::decode(want.as_bytes()), Ok(v));
        }
        // Beyond 2^53 RedPipe would read another number back: refused, not stored.
        for v in [(1 << 53) + 1, -((1 << 53) + 1), i64::MAX, i64::MIN] {
            assert_eq!(enc::<Integer>(&v), Err(FieldError::InexactInteger));
        }
        // What others wrote beyond it still reads exactly.
        for (text, v) in [
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
            ("9007199254740993", (1 << 53) + 1),
        ] {
            assert_eq!(Integer::decode(text.as_bytes()), Ok(v));
        }
        assert_eq!(Integer::decode(b"1.9"), Ok(1));
        assert_eq!(Integer::decode(b"-1.9"), Ok(-1));
        assert_eq!(Integer::decode(b"1e3"), Ok(1000));
        assert_eq!(
            Integer::decode(b"12345678901234567168"),
            Err(invalid::<Integer>())
        );
        assert!(Integer::decode(b"abc").is_err());
    }

    #[test]
    fn booleans_ascii_text_binary() {
        assert_eq!(enc::<Boolean>(&true).as_deref(), Ok(&b"1"[..]));
        assert_eq!(enc::<Boolean>(&false).as_deref(), Ok(&b""[..]));
        for (bytes, want) in [
            (&b"1"[..], true),
            (b"", false),
            // RedPipe reads any non-empty value as true, even these.
            (b"0", true),
            (b"false", true),
            (b"yes", true),
        ] {
            assert_eq!(Boolean::decode(bytes), Ok(want));
        }
        assert_eq!(enc::<Ascii>("hello ~").as_deref(), Ok(&b"hello ~"[..]));
        assert_eq!(enc::<Ascii>("caf\u{e9}"), Err(FieldError::NotAscii));
        assert_eq!(enc::<Ascii>("tab\t"), Err(FieldError::NotAscii));
        assert_eq!(
            Text::decode("\u{e9}\u{2603}".as_bytes()),
            Ok("\u{e9}\u{2603}")
        );
        assert!(Text::decode(b"\xff").is_err());
        assert_eq!(Binary::decode(b"\xff\x00"), Ok(&b"\xff\x00"[..]));
    }
}
