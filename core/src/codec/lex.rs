//! The lexical pieces of RESP that both the [`Scanner`](crate::Scanner) and the reply views
//! read: integers, lengths and doubles. Here so that the reader and the views depend on it, not
//! on each other.

#[inline]
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    // Up to 19 digits cannot overflow: no checks in the loop.
    #[cfg(not(feature = "small"))]
    if (1..=19).contains(&digits.len()) {
        let mut n: u64 = 0;
        for &d in digits {
            let v = d.wrapping_sub(b'0');
            if v > 9 {
                return None;
            }
            n = n * 10 + u64::from(v);
        }
        return Some(n);
    }
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        let v = d.wrapping_sub(b'0');
        if v > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(v))?;
    }
    Some(n)
}

/// A RESP integer: optional `-` or `+`, then digits; fits `i64`.
#[inline]
pub(crate) fn parse_i64(line: &[u8]) -> Option<i64> {
    let (negative, digits) = match line {
        [b'-', digits @ ..] => (true, digits),
        [b'+', digits @ ..] => (false, digits),
        digits => (false, digits),
    };
    let n = parse_u64(digits)?;
    if negative {
        0i64.checked_sub_unsigned(n)
    } else {
        i64::try_from(n).ok()
    }
}

/// Whether `line` is a RESP3 double: `[+-]digits[.digits][e[+-]digits]`, `inf`, `-inf`, `nan`.
/// A syntax check only, so that reading replies never links float parsing.
pub(crate) fn is_double(line: &[u8]) -> bool {
    let unsigned = match line {
        [b'+' | b'-', rest @ ..] => rest,
        _ => line,
    };
    if matches!(unsigned, b"inf" | b"nan") {
        return true;
    }
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let int = digits(unsigned);
    let mut rest = &unsigned[int..];
    let mut frac = 0;
    if let [b'.', after @ ..] = rest {
        frac = digits(after);
        rest = &after[frac..];
    }
    if int + frac == 0 {
        return false;
    }
    match rest {
        [] => true,
        [b'e' | b'E', exp @ ..] => {
            let exp = match exp {
                [b'+' | b'-', e @ ..] => e,
                e => e,
            };
            !exp.is_empty() && digits(exp) == exp.len()
        }
        _ => false,
    }
}

/// A RESP3 double: decimal or exponent form, `inf`, `-inf`, `nan`.
pub(crate) fn parse_double(line: &[u8]) -> Option<f64> {
    let s = core::str::from_utf8(line).ok()?;
    // Rust accepts "infinity" and "+inf" too; the spec's forms are a subset.
    s.parse::<f64>().ok()
}

/// One `<kind><digits>\r\n` line at `at` of `buf`, a length header as encoded commands and
/// frames have them: the number and where the line ends (after its `\n`). One pass over the
/// digits, at most 19 (no overflow); `None` for anything else (no digits, a sign, a longer
/// number, a line not whole), which the general reader judges. For the fast paths that read
/// commands and frames of a known shape at fixed places.
#[cfg(any(feature = "alloc", not(feature = "small")))]
#[inline]
pub(crate) fn length_line(buf: &[u8], at: usize, kind: u8) -> Option<(u64, usize)> {
    let rest = buf.get(at..)?;
    if rest.first() != Some(&kind) {
        return None;
    }
    let mut n: u64 = 0;
    let mut i = 1;
    loop {
        let b = *rest.get(i)?;
        if b == b'\r' {
            break;
        }
        let digit = b.wrapping_sub(b'0');
        if digit > 9 || i > 19 {
            return None;
        }
        n = n * 10 + u64::from(digit);
        i += 1;
    }
    if i == 1 || rest.get(i + 1) != Some(&b'\n') {
        return None;
    }
    Some((n, at + i + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_are_checked_without_parsing() {
        for ok in [
            &b"1"[..],
            b"-1.5",
            b"+2.",
            b".5",
            b"1e10",
            b"1.5E-3",
            b"inf",
            b"-inf",
            b"nan",
        ] {
            assert!(is_double(ok), "{ok:?}");
            assert!(parse_double(ok).is_some(), "{ok:?}");
        }
        for bad in [
            &b""[..],
            b"-",
            b".",
            b"e5",
            b"1e",
            b"1e+",
            b"1.2.3",
            b"abc",
            b"1x",
            b"infinity",
        ] {
            assert!(!is_double(bad), "{bad:?}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_i64(b"-0"), Some(0));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775809"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
    }
}
