//! Spans of time for expiries and blocking timeouts: whole seconds as Redis takes them (`60`),
//! or a [`Duration`], so that `expire(key, Duration::from_millis(1500))` needs no unit
//! arithmetic by the caller.

use core::time::Duration;

use crate::codec::encode::{ArgSink, Args};

/// A span of time: an integer is whole seconds (as `EXPIRE` takes them), a float is seconds
/// with a fraction (as `BLPOP` takes them), a [`Duration`] is what it says.
///
/// A span of whole seconds goes out as seconds (`EXPIRE key 60`, `SET .. EX 60`); one with a
/// fraction goes out in milliseconds (`PEXPIRE key 1500`, `SET .. PX 1500`), so nothing is
/// rounded away. Negative spans (an expiry already past) are kept, as Redis takes them.
pub trait Span: Copy {
    /// The span in milliseconds, saturating at `i64`'s bounds.
    fn millis(self) -> i64;
}

macro_rules! whole_seconds {
    ($($t:ty)*) => {$(
        impl Span for $t {
            #[inline]
            fn millis(self) -> i64 {
                i64::try_from(self).unwrap_or(i64::MAX).saturating_mul(1000)
            }
        }
    )*};
}
whole_seconds!(i32 i64 u32 u64 usize);

impl Span for f64 {
    #[inline]
    fn millis(self) -> i64 {
        // `as` saturates, and reads NaN as 0.
        libm_round(self * 1000.0) as i64
    }
}

impl Span for Duration {
    #[inline]
    fn millis(self) -> i64 {
        i64::try_from(self.as_millis()).unwrap_or(i64::MAX)
    }
}

/// Rounds half away from zero without `std` (`f64::round` needs it).
fn libm_round(x: f64) -> f64 {
    let t = x as i64 as f64;
    if (x - t).abs() >= 0.5 {
        t + x.signum()
    } else {
        t
    }
}

/// A span as a command sends it: the command's seconds form or its milliseconds form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ttl {
    Seconds(i64),
    Millis(i64),
}

impl Ttl {
    pub(crate) fn of(span: impl Span) -> Self {
        let ms = span.millis();
        if ms % 1000 == 0 {
            Self::Seconds(ms / 1000)
        } else {
            Self::Millis(ms)
        }
    }

    /// `seconds` or `millis`, the command name for this span's unit.
    pub(crate) fn pick(self, seconds: &'static str, millis: &'static str) -> &'static str {
        match self {
            Self::Seconds(_) => seconds,
            Self::Millis(_) => millis,
        }
    }

    /// The number in the span's unit.
    pub(crate) fn value(self) -> i64 {
        match self {
            Self::Seconds(n) | Self::Millis(n) => n,
        }
    }
}

/// A blocking command's timeout argument: seconds, with a fraction when there is one (`0`:
/// wait forever).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Timeout(pub(crate) i64);

impl Timeout {
    pub(crate) fn of(span: impl Span) -> Self {
        Self(span.millis().max(0))
    }
}

impl Args for Timeout {
    fn write_args<W: ArgSink + ?Sized>(&self, out: &mut W) {
        let ms = self.0;
        if ms % 1000 == 0 {
            out.arg(&(ms / 1000));
        } else {
            out.arg(&(ms as f64 / 1000.0));
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::codec::encode::cmd;

    fn words(a: impl Args) -> alloc::vec::Vec<alloc::vec::Vec<u8>> {
        let mut out = alloc::vec::Vec::new();
        cmd("X").arg(a).for_each_arg(|p| out.push(p.concat()));
        out.remove(0);
        out
    }

    #[test]
    fn whole_seconds_stay_seconds_and_fractions_go_to_milliseconds() {
        assert_eq!(Ttl::of(60), Ttl::Seconds(60));
        assert_eq!(Ttl::of(Duration::from_secs(2)), Ttl::Seconds(2));
        assert_eq!(Ttl::of(Duration::from_millis(1500)), Ttl::Millis(1500));
        assert_eq!(Ttl::of(-1), Ttl::Seconds(-1));
        assert_eq!(Ttl::of(0.25), Ttl::Millis(250));
        assert_eq!(Ttl::of(u64::MAX), Ttl::Millis(i64::MAX), "saturates");
    }

    #[test]
    fn timeouts_are_seconds_with_a_fraction_when_there_is_one() {
        assert_eq!(words(Timeout::of(0)), [b"0".to_vec()]);
        assert_eq!(
            words(Timeout::of(Duration::from_millis(250))),
            [b"0.25".to_vec()]
        );
        assert_eq!(words(Timeout::of(1.5)), [b"1.5".to_vec()]);
        assert_eq!(words(Timeout::of(-3)), [b"0".to_vec()], "never negative");
    }
}
