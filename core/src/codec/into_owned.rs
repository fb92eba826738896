//! `IntoOwned`: a reply shape read as one type and handed to the user as another.
//!
//! Keyspaces and structs read stored values through field codecs (`Option<Decoded<Integer>>`:
//! a bulk string written as RedPipe writes integers). The engine's handles keep that shape as
//! their type: it says how to read, and no allocator is needed. A `Pipe`'s handles are typed
//! by what the user gets instead (`Handle<Option<i64>>`, `Handle<Vec<String>>`), as every other
//! command's are: the shape is read as before, then made owned by this trait, so that a user's
//! function returning a keyspace handle never names a codec.

use crate::codec::from_reply::FromReply;

/// A reply shape with the type a `Pipe` handle of it is read as.
///
/// Implemented for the field codecs' `Decoded` and for `Option`, `Vec` and pairs of shapes; the
/// scalars keep their type, and without `alloc` every shape reads as itself.
pub trait IntoOwned: FromReply {
    /// What a `Pipe` handle of this shape reads: owned where an allocator can make it so.
    type Owned: FromReply;

    /// The value read through this shape, as [`Owned`](Self::Owned) reads it.
    fn into_owned<'a>(value: Self::Output<'a>) -> <Self::Owned as FromReply>::Output<'a>;
}

/// Scalars read as themselves.
macro_rules! as_itself {
    ($($t:ty),*) => {$(
        impl IntoOwned for $t {
            type Owned = $t;
            fn into_owned<'a>(value: Self::Output<'a>) -> <$t as FromReply>::Output<'a> {
                value
            }
        }
    )*};
}
as_itself!((), bool, i64, u64, f64);

impl<T: IntoOwned> IntoOwned for Option<T> {
    type Owned = Option<T::Owned>;
    fn into_owned<'a>(value: Self::Output<'a>) -> <Self::Owned as FromReply>::Output<'a> {
        value.map(T::into_owned)
    }
}

impl<A: IntoOwned, B: IntoOwned> IntoOwned for (A, B) {
    type Owned = (A::Owned, B::Owned);
    fn into_owned<'a>((a, b): Self::Output<'a>) -> <Self::Owned as FromReply>::Output<'a> {
        (A::into_owned(a), B::into_owned(b))
    }
}

#[cfg(feature = "alloc")]
mod owned {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;

    impl IntoOwned for &str {
        type Owned = String;
        fn into_owned<'a>(value: Self::Output<'a>) -> <String as FromReply>::Output<'a> {
            value.into()
        }
    }

    impl IntoOwned for &[u8] {
        type Owned = Vec<u8>;
        fn into_owned<'a>(value: Self::Output<'a>) -> <Vec<u8> as FromReply>::Output<'a> {
            value.into()
        }
    }

    impl<T: IntoOwned> IntoOwned for Vec<T> {
        type Owned = Vec<T::Owned>;
        fn into_owned<'a>(value: Self::Output<'a>) -> <Self::Owned as FromReply>::Output<'a> {
            value.into_iter().map(T::into_owned).collect()
        }
    }
}

#[cfg(not(feature = "alloc"))]
mod borrowed {
    use super::*;

    impl IntoOwned for &str {
        type Owned = Self;
        fn into_owned<'a>(value: Self::Output<'a>) -> <Self as FromReply>::Output<'a> {
            value
        }
    }

    impl IntoOwned for &[u8] {
        type Owned = Self;
        fn into_owned<'a>(value: Self::Output<'a>) -> <Self as FromReply>::Output<'a> {
            value
        }
    }
}
