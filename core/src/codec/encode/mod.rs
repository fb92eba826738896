//! Commands to RESP: arrays of bulk strings, written into caller storage.
//!
//! A command is built without allocating: [`cmd`] starts one, [`Cmd::arg`] appends anything that
//! implements [`Args`] (a single [`ToArg`] value, a tuple, a slice, an `Option`), and the pipeline
//! encodes it in one pass. The array header `*N\r\n` is known only at the end, so the encoder
//! leaves four bytes for it (enough for up to 9 arguments) and shifts the body only for longer
//! commands. A command that does not fit is removed whole and the error says how many bytes the
//! store would need.
//!
//! ```
//! use redpipe_core::{cmd, encode_command, SliceStore, Storage};
//! let mut backing = [0u8; 64];
//! let mut out = SliceStore::new(&mut backing);
//! encode_command(&mut out, &cmd("SET").arg("k").arg(42)).unwrap();
//! assert_eq!(out.as_slice(), b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n42\r\n");
//! ```

use crate::codec::error::{CapacityError, Store};
use crate::codec::storage::{Storage, copy_small, shift_within};

/// Stack space a [`ToArg`] implementation may format into (integers, floats, short text).
pub struct Scratch {
    /// Filled on use only: a fresh `Scratch` (one per command) writes a length, not 40 zero
    /// bytes, which on small targets would be a `memset` call per command.
    buf: heapless::Vec<u8, { Scratch::LEN }>,
}

impl Scratch {
    /// Bytes available: enough for any integer (an `i128` takes 40), float or UUID.
    pub const LEN: usize = 40;

    pub(crate) const fn new() -> Self {
        Self {
            buf: heapless::Vec::new(),
        }
    }

    /// The whole space, [`LEN`](Self::LEN) zero bytes to format into; return the prefix you
    /// wrote.
    pub fn space(&mut self) -> &mut [u8] {
        self.buf.clear();
        // Cannot fail: `LEN` is the capacity.
        let _ = self.buf.resize(Self::LEN, 0);
        &mut self.buf
    }

    /// Keeps a copy of `s` (at most [`LEN`](Self::LEN) bytes) and returns it.
    fn keep(&mut self, s: &[u8]) -> &[u8] {
        self.buf.clear();
        // Cannot fail: every formatter used here writes at most `LEN` bytes.
        let _ = self.buf.extend_from_slice(s);
        &self.buf
    }

    /// Formats an integer and returns its digits.
    pub fn int<I: itoa::Integer>(&mut self, i: I) -> &[u8] {
        self.keep(itoa::Buffer::new().format(i).as_bytes())
    }

    /// Formats a word-sized integer given as sign and magnitude.
    #[cfg(feature = "small")]
    fn word(&mut self, negative: bool, magnitude: usize) -> &[u8] {
        let sign = usize::from(negative);
        let end = sign + digit_count(magnitude);
        self.buf.clear();
        // Cannot fail: a `usize` has at most 20 digits.
        let _ = self.buf.resize(end, b'-');
        write_digits(&mut self.buf[sign..], magnitude);
        &self.buf
    }

    /// Formats a float the shortest way that parses back to the same value (`inf`, `-inf` too).
    pub fn float<F: ryu::Float>(&mut self, f: F) -> &[u8] {
        self.keep(ryu::Buffer::new().format(f).as_bytes())
    }
}

/// A value that becomes one command argument (one bulk string).
///
/// Implemented for text, bytes, every integer type but `u8` (so that `&[u8]` is bytes, not a list
/// of numbers) and floats. Implement it for your own types: return bytes you hold, or format into
/// the [`Scratch`] space.
///
/// ```
/// use redpipe_core::{Scratch, ToArg};
/// struct UserId(u32);
/// impl ToArg for UserId {
///     fn to_arg<'s>(&'s self, scratch: &'s mut Scratch) -> &'s [u8] {
///         scratch.int(self.0)
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as a Redis argument",
    label = "not a `ToArg` value",
    note = "arguments are text, bytes, integers (not `u8`), floats, or your own type implementing `redpipe::ToArg`",
    note = "several values (a slice, tuple, Vec) go where a builder takes `impl Args`"
)]
pub trait ToArg {
    /// The argument's bytes, borrowed from `self` or formatted into `scratch`.
    fn to_arg<'s>(&'s self, scratch: &'s mut Scratch) -> &'s [u8];
}

impl ToArg for [u8] {
    #[inline]
    fn to_arg<'s>(&'s self, _: &'s mut Scratch) -> &'s [u8] {
        self
    }
}
impl<const N: usize> ToArg for [u8; N] {
    #[inline]
    fn to_arg<'s>(&'s self, _: &'s mut Scratch) -> &'s [u8] {
        self
    }
}
impl ToArg for str {
    #[inline]
    fn to_arg<'s>(&'s self, _: &'s mut Scratch) -> &'s [u8] {
        self.as_bytes()
    }
}
impl<T: ToArg + ?Sized> ToArg for &T {
    #[inline]
    fn to_arg<'s>(&'s self, scratch: &'s mut Scratch) -> &'s [u8] {
        (**self).to_arg(scratch)
    }
}
#[cfg(feature = "alloc")]
impl ToArg for alloc::string::String {
    #[inline]
    fn to_arg<'s>(&'s self, _: &'s mut Scratch) -> &'s [u8] {
        self.as_bytes()
    }
}
#[cfg(feature = "alloc")]
impl ToArg for alloc::vec::Vec<u8> {
    #[inline]
    fn to_arg<'s>(&'s self, _: &'s mut Scratch) -> &'s [u8] {
        self
    }
}
#[cfg(feature = "alloc")]
impl ToArg for alloc::borrow::Cow<'_, str> {
    #[inline]
    fn to_arg<'s>(&'s self, _: &'s mut Scratch) -> &'s [u8] {
        self.as_bytes()
    }
}
#[cfg(feature = "alloc")]
impl ToArg for alloc::borrow::Cow<'_, [u8]> {
    #[inline]
    fn to_arg<'s>(&'s self, _: &'s mut Scratch) -> &'s [u8] {
        self
    }
}

macro_rules! int_arg {
    ($($t:ty => $magnitude:expr),*) => {$(
        impl ToArg for $t {
            #[inline]
            fn to_arg<'s>(&'s self, scratch: &'s mut Scratch) -> &'s [u8] {
                // Feature `small`: word-sized values take a plain digit loop, so that images
                // which format no wide integer link no `itoa` code and tables.
                #[cfg(feature = "small")]
                #[allow(irrefutable_let_patterns, unused_comparisons)]
                if let Ok(magnitude) = usize::try_from($magnitude(*self)) {
                    return scratch.word(*self < 0, magnitude);
                }
                scratch.int(*self)
            }
        }
    )*};
}
int_arg!(
    i8 => i8::unsigned_abs, i16 => i16::unsigned_abs, i32 => i32::unsigned_abs,
    i64 => i64::unsigned_abs, i128 => i128::unsigned_abs, isize => isize::unsigned_abs,
    u16 => u16::from, u32 => u32::from, u64 => u64::from, u128 => u128::from,
    usize => usize::from
);

/// `1` or `0`, as Redis writes booleans (`SETBIT`, `HSET` flags); read back with `bool`.
impl ToArg for bool {
    #[inline]
    fn to_arg<'s>(&'s self, _: &'s mut Scratch) -> &'s [u8] {
        if *self { b"1" } else { b"0" }
    }
}

impl ToArg for f32 {
    #[inline]
    fn to_arg<'s>(&'s self, scratch: &'s mut Scratch) -> &'s [u8] {
        scratch.float(*self)
    }
}
impl ToArg for f64 {
    #[inline]
    fn to_arg<'s>(&'s self, scratch: &'s mut Scratch) -> &'s [u8] {
        scratch.float(*self)
    }
}

/// How many arguments `args` writes: the count some commands send before a list (`EVAL`'s and
/// `ZUNIONSTORE`'s `numkeys`).
///
/// ```
/// use redpipe_core::count_args;
/// assert_eq!(count_args(&["a", "b"]), 2);
/// assert_eq!(count_args(&("k", 1, None::<&str>)), 2);
/// ```
pub fn count_args<A: Args + ?Sized>(args: &A) -> usize {
    struct Count(usize);
    impl ArgSink for Count {
        fn bytes(&mut self, _: &[u8]) {
            self.0 += 1;
        }
        fn parts(&mut self, _: &[&[u8]]) {
            self.0 += 1;
        }
        fn arg<T: ToArg + ?Sized>(&mut self, _: &T) {
            self.0 += 1;
        }
    }
    let mut n = Count(0);
    args.write_args(&mut n);
    n.0
}

/// Where [`Args`] put their arguments: the [`Encoder`], or a reader of a command's arguments
/// ([`Cmd::for_each_arg`]).
pub trait ArgSink {
    /// One argument made of raw bytes.
    fn bytes(&mut self, bytes: &[u8]);

    /// One argument made of several pieces, sent as one bulk string (see [`Joined`]).
    fn parts(&mut self, parts: &[&[u8]]);

    /// One argument formatted by its [`ToArg`] implementation.
    #[inline]
    fn arg<T: ToArg + ?Sized>(&mut self, value: &T) {
        let mut scratch = Scratch::new();
        self.bytes(value.to_arg(&mut scratch));
    }
}

/// Zero or more arguments: a [`ToArg`] value, a tuple, a slice, an array, a `Vec`, an `Option`
/// (nothing when `None`), an [`Iter`], a [`Joined`] argument, or a whole [`Cmd`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as Redis arguments",
    label = "not `Args`",
    note = "arguments are one `ToArg` value, a slice, array, Vec or tuple of them, an `Option`, or a `Cmd`"
)]
pub trait Args {
    /// Writes every argument with [`ArgSink::arg`], [`ArgSink::bytes`] or [`ArgSink::parts`].
    fn write_args<W: ArgSink + ?Sized>(&self, out: &mut W);
}

impl<T: ToArg + ?Sized> Args for T {
    #[inline]
    fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
        enc.arg(self);
    }
}
impl<A: Args> Args for [A] {
    #[inline]
    fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
        for a in self {
            a.write_args(enc);
        }
    }
}
impl<A: Args> Args for &[A] {
    #[inline]
    fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
        (**self).write_args(enc);
    }
}
impl<A: Args, const N: usize> Args for &[A; N] {
    #[inline]
    fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
        self.as_slice().write_args(enc);
    }
}
impl<A: Args, const N: usize> Args for [A; N] {
    #[inline]
    fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
        self.as_slice().write_args(enc);
    }
}
#[cfg(feature = "alloc")]
impl<A: Args> Args for alloc::vec::Vec<A> {
    #[inline]
    fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
        self.as_slice().write_args(enc);
    }
}
#[cfg(feature = "alloc")]
impl<A: Args> Args for &alloc::vec::Vec<A> {
    #[inline]
    fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
        self.as_slice().write_args(enc);
    }
}
impl<A: Args> Args for Option<A> {
    #[inline]
    fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
        if let Some(a) = self {
            a.write_args(enc);
        }
    }
}

macro_rules! tuple_args {
    ($($name:ident)*) => {
        impl<$($name: Args),*> Args for ($($name,)*) {
            #[inline]
            #[allow(non_snake_case, unused_variables)]
            fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
                let ($($name,)*) = self;
                $($name.write_args(enc);)*
            }
        }
    };
}
tuple_args!();
tuple_args!(A);
tuple_args!(A B);
tuple_args!(A B C);
tuple_args!(A B C D);
tuple_args!(A B C D E);
tuple_args!(A B C D E F);
tuple_args!(A B C D E F G);
tuple_args!(A B C D E F G H);
tuple_args!(A B C D E F G H I);
tuple_args!(A B C D E F G H I J);
tuple_args!(A B C D E F G H I J K);
tuple_args!(A B C D E F G H I J K L);

/// Arguments from an iterator, for variadic commands: `Iter(keys.iter())`.
///
/// The iterator is cloned for each encoding, so pass a cheap one (a slice or map iterator).
#[derive(Debug, Clone)]
pub struct Iter<I>(pub I);

impl<I> Args for Iter<I>
where
    I: Iterator + Clone,
    I::Item: Args,
{
    #[inline]
    fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
        for a in self.0.clone() {
            a.write_args(enc);
        }
    }
}

/// One argument written from several pieces without joining them in memory first: keys such as
/// `user{42}` built from a prefix, an id and a brace (up to 5 pieces, each a [`ToArg`]).
///
/// ```
/// use redpipe_core::{cmd, encode_command, Joined, SliceStore, Storage};
/// let mut backing = [0u8; 64];
/// let mut out = SliceStore::new(&mut backing);
/// encode_command(&mut out, &cmd("GET").arg(Joined(("user{", 42, "}")))).unwrap();
/// assert_eq!(out.as_slice(), b"*2\r\n$3\r\nGET\r\n$8\r\nuser{42}\r\n");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Joined<T>(pub T);

macro_rules! joined_args {
    ($($name:ident $scratch:ident)*) => {
        impl<$($name: ToArg),*> Args for Joined<($($name,)*)> {
            #[inline]
            #[allow(non_snake_case)]
            fn write_args<W: ArgSink + ?Sized>(&self, out: &mut W) {
                let ($($name,)*) = &self.0;
                $(let mut $scratch = Scratch::new();)*
                out.parts(&[$($name.to_arg(&mut $scratch)),*]);
            }
        }
    };
}
joined_args!(A a B b);
joined_args!(A a B b C c);
joined_args!(A a B b C c D d);
joined_args!(A a B b C c D d E e);

/// A command under construction: its name and the arguments so far, all borrowed, none copied.
///
/// Built with [`cmd`]; queue it with [`Queue::query`](crate::Queue::query) or encode it with
/// [`encode_command`]. A `Cmd` always has its name, so it never encodes an empty array (which
/// Redis would skip without a reply, shifting every later reply onto the wrong command).
#[derive(Debug, Clone, Copy)]
#[must_use = "a command does nothing until it is queued"]
pub struct Cmd<N, A> {
    name: N,
    args: A,
}

/// Starts a command: `cmd("SET").arg(key).arg(value)`.
#[inline]
pub fn cmd<N: ToArg>(name: N) -> Cmd<N, ()> {
    Cmd { name, args: () }
}

impl<N: ToArg, A: Args> Cmd<N, A> {
    /// Appends arguments (one value, or a tuple, slice, `Option`, [`Iter`]).
    #[inline]
    pub fn arg<B: Args>(self, more: B) -> Cmd<N, (A, B)> {
        Cmd {
            name: self.name,
            args: (self.args, more),
        }
    }
}

impl<N, A> Cmd<N, A> {
    /// The command's name (its first word).
    pub fn name(&self) -> &N {
        &self.name
    }

    /// The arguments after the name.
    pub fn args(&self) -> &A {
        &self.args
    }
}

impl<N: ToArg, A: Args> Cmd<N, A> {
    /// Calls `f` with each word of the command, the name first, as the pieces it is written
    /// from (one piece, unless built with [`Joined`]); for routing a command by its keys without
    /// encoding it.
    ///
    /// ```
    /// use redpipe_core::{cmd, Joined};
    /// let mut words = Vec::new();
    /// cmd("SET").arg(Joined(("u{", 7, "}"))).arg(1.5).for_each_arg(|pieces| words.push(pieces.concat()));
    /// assert_eq!(words, [&b"SET"[..], b"u{7}", b"1.5"]);
    /// ```
    pub fn for_each_arg(&self, f: impl FnMut(&[&[u8]])) {
        struct Visit<F>(F);
        impl<F: FnMut(&[&[u8]])> ArgSink for Visit<F> {
            fn bytes(&mut self, bytes: &[u8]) {
                (self.0)(&[bytes]);
            }
            fn parts(&mut self, parts: &[&[u8]]) {
                (self.0)(parts);
            }
        }
        self.write_args(&mut Visit(f));
    }
}

impl<N: ToArg, A: Args> Args for Cmd<N, A> {
    #[inline]
    fn write_args<W: ArgSink + ?Sized>(&self, enc: &mut W) {
        enc.arg(&self.name);
        self.args.write_args(enc);
    }
}

/// Writes one command's arguments into storage; given to [`Args::write_args`].
///
/// After the store fills up it keeps counting bytes without writing, so the final
/// [`CapacityError`] can say how many bytes the whole command needs.
pub struct Encoder<'b, S: Storage<u8> + ?Sized> {
    out: &'b mut S,
    start: usize,
    argc: usize,
    /// Bytes of all arguments so far, written or not.
    body_len: usize,
    full: bool,
    scratch: Scratch,
}

/// How many decimal digits `n` has.
#[inline]
pub(crate) fn digit_count(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Fills `out` with the last `out.len()` decimal digits of `n` (all of them when `out` is
/// [`digit_count`] long). Written in place: no temporary buffer to clear and copy.
#[inline]
pub(crate) fn write_digits(out: &mut [u8], mut n: usize) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Room left for the `*N\r\n` header: enough for 1..=9 arguments.
const HEADER_GAP: usize = 4;

impl<'b, S: Storage<u8> + ?Sized> Encoder<'b, S> {
    #[inline]
    fn begin(out: &'b mut S) -> Self {
        let start = out.len();
        let full = out.try_extend_from_slice(b"*0\r\n").is_err();
        Self {
            out,
            start,
            argc: 0,
            body_len: 0,
            full,
            scratch: Scratch::new(),
        }
    }

    // Split borrows: `bytes` may point into `self.scratch`.
    #[inline]
    fn put(out: &mut S, full: &mut bool, body_len: &mut usize, bytes: &[u8]) {
        // "$<length>\r\n<bytes>\r\n" (RESP bulk string), written in place in one append.
        let d = digit_count(bytes.len());
        let total = d + 5 + bytes.len();
        *body_len = body_len.saturating_add(total);
        if *full {
            return;
        }
        match out.try_extend_for_write(total) {
            Ok(dst) => {
                let (head, rest) = dst.split_at_mut(d + 3);
                head[0] = b'$';
                write_digits(&mut head[1..=d], bytes.len());
                head[d + 1..].copy_from_slice(b"\r\n");
                let (data, tail) = rest.split_at_mut(bytes.len());
                copy_small(data, bytes);
                tail.copy_from_slice(b"\r\n");
            }
            Err(_) => *full = true,
        }
    }

    /// "$<total length>\r\n<part><part>...\r\n": one bulk string from several pieces.
    fn put_parts(&mut self, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let d = digit_count(len);
        let total = d + 5 + len;
        self.body_len = self.body_len.saturating_add(total);
        self.argc += 1;
        if self.full {
            return;
        }
        match self.out.try_extend_for_write(total) {
            Ok(dst) => {
                dst[0] = b'$';
                write_digits(&mut dst[1..=d], len);
                dst[d + 1..d + 3].copy_from_slice(b"\r\n");
                let mut at = d + 3;
                for part in parts {
                    copy_small(&mut dst[at..at + part.len()], part);
                    at += part.len();
                }
                dst[at..].copy_from_slice(b"\r\n");
            }
            Err(_) => self.full = true,
        }
    }

    /// Writes the header; on failure removes the whole command.
    #[inline]
    fn finish(&mut self) -> Result<usize, CapacityError> {
        let d = digit_count(self.argc);
        let header_len = d + 3;
        let total = header_len.saturating_add(self.body_len);
        let fail = |out: &mut S, start: usize| {
            out.truncate(start);
            Err(CapacityError {
                store: Store::Output,
                needed: start.saturating_add(total),
                capacity: out.capacity(),
            })
        };
        if self.full {
            return fail(self.out, self.start);
        }
        let extra = header_len.saturating_sub(HEADER_GAP);
        if extra > 0 && self.out.try_extend_for_write(extra).is_err() {
            return fail(self.out, self.start);
        }
        let buf = self.out.as_mut_slice();
        let end = buf.len();
        if extra > 0 {
            shift_within(buf, self.start + HEADER_GAP, end - extra, extra, true);
        }
        let head = &mut buf[self.start..self.start + header_len];
        head[0] = b'*';
        write_digits(&mut head[1..1 + d], self.argc);
        head[1 + d..].copy_from_slice(b"\r\n");
        Ok(total)
    }
}

impl<S: Storage<u8> + ?Sized> ArgSink for Encoder<'_, S> {
    #[inline]
    fn arg<T: ToArg + ?Sized>(&mut self, value: &T) {
        let bytes = value.to_arg(&mut self.scratch);
        Self::put(self.out, &mut self.full, &mut self.body_len, bytes);
        self.argc += 1;
    }

    #[inline]
    fn bytes(&mut self, bytes: &[u8]) {
        Self::put(self.out, &mut self.full, &mut self.body_len, bytes);
        self.argc += 1;
    }

    fn parts(&mut self, parts: &[&[u8]]) {
        self.put_parts(parts);
    }
}

/// Encodes `args` as one RESP command at the end of `out`; returns the bytes written.
///
/// On a full store the command is removed whole and the error says how many bytes `out` would
/// need to hold it.
pub fn encode_command<S, A>(out: &mut S, args: &A) -> Result<usize, CapacityError>
where
    S: Storage<u8> + ?Sized,
    A: Args + ?Sized,
{
    let mut enc = Encoder::begin(out);
    args.write_args(&mut enc);
    enc.finish()
}

#[cfg(test)]
mod tests;
