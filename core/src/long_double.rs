//! The x87 80-bit `long double` of INCRBYFLOAT and HINCRBYFLOAT, computed exactly in software so
//! that every target (wasm included) replies with redis-server's bytes on x86-64.
//!
//! Redis reads both operands with `strtold`, adds them in `long double` (a 64-bit significand
//! with an explicit integer bit, exponents -16382..=16383, subnormals down to 2^-16445, rounding
//! to nearest, ties to even) and prints the sum with `%.17Lf`, trailing zeros cut (`ld2string` in
//! `LD_STR_HUMAN` mode). glibc's `strtold` and `printf` are exact (correctly rounded), so each
//! step here is the exact result rounded once: parsing and adding go through [`round`] on an
//! exact big integer, printing rounds the exact binary value to 17 decimals, ties to even.
//! Rust has no f80 and `f64` would lose 11 bits, so no step uses a hardware float.

use std::cmp::Ordering;

/// Redis's `MAX_LONG_DOUBLE_CHARS`: `string2ld` refuses input this long or longer.
pub const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// Exponent of the least significant bit of the smallest subnormal (2^-16445).
const MIN_LSB_EXP: i64 = -16445;
/// Largest exponent of the least significant bit: the maximum is (2^64 - 1) * 2^16320.
const MAX_LSB_EXP: i64 = 16320;
/// Decimal digits `%.17Lf` prints after the point.
const DECIMALS: u32 = 17;

/// An x87 extended-precision value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongDouble {
    /// `mant * 2^exp`. Normal values have bit 63 of `mant` set; subnormals have
    /// `exp == -16445`; zero is `mant == 0, exp == 0` (with its sign). So each value has one form.
    Finite {
        neg: bool,
        mant: u64,
        exp: i32,
    },
    Infinite {
        neg: bool,
    },
    Nan,
}

impl LongDouble {
    /// Positive zero: the value of a missing key or field.
    pub const ZERO: LongDouble = LongDouble::Finite {
        neg: false,
        mant: 0,
        exp: 0,
    };

    /// Redis's `string2ld`: the whole input must be what glibc's `strtold` reads (decimal or
    /// hexadecimal, `inf`/`infinity`), with no leading space and no NUL; NaN, and a finite input
    /// that overflows to infinity or underflows to zero (`ERANGE`), are refused.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS {
            return None;
        }
        let (neg, rest) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::Infinite { neg });
        }
        let value = match rest {
            [b'0', b'x' | b'X', hex @ ..] => parse_hex(neg, hex)?,
            _ => parse_decimal(neg, rest)?,
        };
        match value {
            // Overflow (strtold returns HUGE_VALL with ERANGE): refused.
            LongDouble::Infinite { .. } | LongDouble::Nan => None,
            v => Some(v),
        }
    }

    /// An integer (Redis reads an int-encoded string as `(long double)` of its `long`): exact.
    pub fn from_i64(n: i64) -> LongDouble {
        let mag = n.unsigned_abs();
        if mag == 0 {
            return LongDouble::ZERO;
        }
        let lz = mag.leading_zeros();
        LongDouble::Finite {
            neg: n < 0,
            mant: mag << lz,
            exp: -(lz as i32),
        }
    }

    /// Neither infinite nor NaN (C's `!isnan(x) && !isinf(x)`).
    pub fn is_finite(self) -> bool {
        matches!(self, LongDouble::Finite { .. })
    }

    /// Redis's `ld2string(..., LD_STR_HUMAN)`: `%.17Lf`, then trailing zeros (and a bare point)
    /// cut, and "-0" written "0".
    pub fn to_human(self) -> String {
        let (neg, mant, exp) = match self {
            LongDouble::Finite { neg, mant, exp } => (neg, mant, i64::from(exp)),
            LongDouble::Infinite { neg: false } => return "inf".into(),
            LongDouble::Infinite { neg: true } => return "-inf".into(),
            LongDouble::Nan => return "nan".into(),
        };
        // The value times 10^17, rounded to an integer (ties to even, as glibc's printf does in
        // the default rounding mode).
        let mut scaled = Big::from_u64(mant);
        scaled.mul_small(10u64.pow(DECIMALS));
        let n = if exp >= 0 {
            scaled.shl(exp as u64)
        } else {
            let s = exp.unsigned_abs();
            let mut q = scaled.shr(s);
            let half = scaled.bit(s - 1);
            if half && (scaled.any_below(s - 1) || q.bit(0)) {
                q.add_small(1);
            }
            q
        };
        let mut digits = n.to_decimal();
        let width = DECIMALS as usize + 1;
        if digits.len() < width {
            digits.insert_str(0, &"0".repeat(width - digits.len()));
        }
        let point = digits.len() - DECIMALS as usize;
        let mut out = String::with_capacity(digits.len() + 2);
        if neg {
            out.push('-');
        }
        out.push_str(&digits[..point]);
        let frac = digits[point..].trim_end_matches('0');
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        if out == "-0" {
            out = "0".into();
        }
        out
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    /// `self + other` as the x87 FPU computes it: the exact sum rounded to nearest, ties to
    /// even; an exact zero sum is +0 unless both operands are -0.
    fn add(self, other: LongDouble) -> LongDouble {
        use LongDouble::*;
        match (self, other) {
            (Nan, _) | (_, Nan) => Nan,
            (Infinite { neg: a }, Infinite { neg: b }) => {
                if a == b {
                    Infinite { neg: a }
                } else {
                    Nan
                }
            }
            (Infinite { neg }, _) | (_, Infinite { neg }) => Infinite { neg },
            (
                Finite {
                    neg: an,
                    mant: am,
                    exp: ae,
                },
                Finite {
                    neg: bn,
                    mant: bm,
                    exp: be,
                },
            ) => {
                if am == 0 && bm == 0 {
                    return Finite {
                        neg: an && bn,
                        mant: 0,
                        exp: 0,
                    };
                }
                if am == 0 {
                    return other;
                }
                if bm == 0 {
                    return self;
                }
                // Both as integers over the smaller exponent: at most ~33,000 bits, exact.
                let e = ae.min(be);
                let a = Big::from_u64(am).shl((ae - e) as u64);
                let b = Big::from_u64(bm).shl((be - e) as u64);
                let e = i64::from(e);
                if an == bn {
                    return round(an, &a.add(&b), e, false);
                }
                match a.cmp(&b) {
                    Ordering::Equal => LongDouble::ZERO,
                    Ordering::Greater => round(an, &a.sub(&b), e, false),
                    Ordering::Less => round(bn, &b.sub(&a), e, false),
                }
            }
        }
    }
}

/// The representable value nearest to `big * 2^exp` (plus less than one unit of `big`'s last
/// bit when `sticky`), ties to even; infinity past the largest finite value, zero (of that
/// sign) below half the smallest subnormal.
fn round(neg: bool, big: &Big, exp: i64, sticky: bool) -> LongDouble {
    let len = big.bit_len() as i64;
    if len == 0 {
        // Only an exact zero reaches here (callers give 66+ bits with a sticky remainder).
        return LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    // Keep 64 bits, or fewer where the result is subnormal.
    let mut lsb = (exp + len - 64).max(MIN_LSB_EXP);
    let shift = lsb - exp;
    let mant = if shift <= 0 {
        // Exact: `big` has at most 64 + shift bits, so the shifted value fits in 64.
        big.low_u64() << shift.unsigned_abs()
    } else {
        let s = shift.unsigned_abs();
        let q = big.shr(s).low_u64();
        let half = big.bit(s - 1);
        let rest = sticky || big.any_below(s - 1);
        if half && (rest || q & 1 == 1) {
            match q.checked_add(1) {
                Some(m) => m,
                None => {
                    lsb += 1;
                    1 << 63
                }
            }
        } else {
            q
        }
    };
    if mant == 0 {
        return LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    if lsb > MAX_LSB_EXP {
        return LongDouble::Infinite { neg };
    }
    debug_assert!(
        lsb == MIN_LSB_EXP || mant >> 63 == 1,
        "normal results keep 64 bits"
    );
    LongDouble::Finite {
        neg,
        mant,
        exp: lsb as i32,
    }
}

/// `num / den * 2^exp`, rounded: the quotient is taken to 66-68 bits, the remainder kept as the
/// sticky bit, so one rounding gives the correctly rounded result.
fn round_quotient(neg: bool, num: &Big, den: &Big, exp: i64) -> LongDouble {
    let k = 67 - (num.bit_len() as i64 - den.bit_len() as i64);
    let (mut n, d) = if k >= 0 {
        (num.shl(k as u64), den.clone())
    } else {
        (num.clone(), den.shl(k.unsigned_abs()))
    };
    // n / d is in [2^66, 2^68): restoring division, one quotient bit at a time.
    let mut q: u128 = 0;
    for i in (0..68).rev() {
        let t = d.shl(i);
        if n.cmp(&t) != Ordering::Less {
            n = n.sub(&t);
            q |= 1 << i;
        }
    }
    let q = Big::from_u128(q);
    round(neg, &q, exp - k, !n.is_zero())
}

/// Exponent digits, saturated: beyond this every input overflows or underflows anyway (at most
/// 5119 mantissa digits), and the value stays far from i64 overflow.
const EXP_LIMIT: i64 = 1_000_000;

/// `[+-]digits` of an exponent, the whole rest of the input.
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut e: i64 = 0;
    for &c in digits {
        e = (e * 10 + i64::from(c - b'0')).min(EXP_LIMIT);
    }
    Some(if neg { -e } else { e })
}

/// `digits[.digits][(e|E)[+-]digits]` with at least one mantissa digit.
fn parse_decimal(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let mant_end = s
        .iter()
        .position(|&c| c == b'e' || c == b'E')
        .unwrap_or(s.len());
    let (mantissa, exponent) = s.split_at(mant_end);
    let exp = match exponent {
        [] => 0,
        [_, rest @ ..] => parse_exponent(rest)?,
    };
    let (int_part, frac_part) = match mantissa.iter().position(|&c| c == b'.') {
        Some(p) => (&mantissa[..p], &mantissa[p + 1..]),
        None => (mantissa, &mantissa[..0]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.iter().chain(frac_part).all(u8::is_ascii_digit) {
        return None;
    }
    // Significant digits: leading zeros dropped, trailing zeros moved into the exponent.
    let all: Vec<u8> = int_part.iter().chain(frac_part).copied().collect();
    let first = all.iter().position(|&c| c != b'0');
    let Some(first) = first else {
        return Some(LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    };
    let last = all.iter().rposition(|&c| c != b'0').unwrap_or(first);
    let digits = &all[first..=last];
    // value = digits * 10^e10
    let e10 = exp - frac_part.len() as i64 + (all.len() - 1 - last) as i64;
    let magnitude = e10 + digits.len() as i64; // value < 10^magnitude, >= 10^(magnitude - 1)
    if magnitude - 1 > 4933 {
        return Some(LongDouble::Infinite { neg }); // >= 1e4933 > LDBL_MAX (1.19e4932)
    }
    if magnitude < -4952 {
        return None; // < 1e-4952, below half the smallest subnormal (3.6e-4951): ERANGE, 0
    }
    let d = Big::from_decimal(digits);
    let value = if e10 >= 0 {
        let mut n = d;
        n.mul_pow10(e10 as u32);
        round(neg, &n, 0, false)
    } else {
        let mut den = Big::from_u64(1);
        den.mul_pow10(e10.unsigned_abs() as u32);
        round_quotient(neg, &d, &den, 0)
    };
    underflow_check(value)
}

/// `hexdigits[.hexdigits][(p|P)[+-]digits]` after `0x`, at least one hex digit.
fn parse_hex(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let mant_end = s
        .iter()
        .position(|&c| c == b'p' || c == b'P')
        .unwrap_or(s.len());
    let (mantissa, exponent) = s.split_at(mant_end);
    let exp = match exponent {
        [] => 0,
        [_, rest @ ..] => parse_exponent(rest)?,
    };
    let (int_part, frac_part) = match mantissa.iter().position(|&c| c == b'.') {
        Some(p) => (&mantissa[..p], &mantissa[p + 1..]),
        None => (mantissa, &mantissa[..0]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut n = Big::from_u64(0);
    for &c in int_part.iter().chain(frac_part) {
        let v = (c as char).to_digit(16)?;
        n = n.shl(4);
        n.add_small(u64::from(v));
    }
    if n.is_zero() {
        return Some(LongDouble::Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    let value = round(neg, &n, exp - 4 * frac_part.len() as i64, false);
    underflow_check(value)
}

/// A nonzero input that rounded to zero is refused (ERANGE with a zero result).
fn underflow_check(value: LongDouble) -> Option<LongDouble> {
    match value {
        LongDouble::Finite { mant: 0, .. } => None,
        v => Some(v),
    }
}

/// A small unsigned big integer: little-endian 64-bit limbs, no high zero limbs. Only what exact
/// rounding and printing need.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Big(Vec<u64>);

impl Big {
    fn from_u64(n: u64) -> Big {
        let mut b = Big(vec![n]);
        b.trim();
        b
    }

    fn from_u128(n: u128) -> Big {
        let mut b = Big(vec![n as u64, (n >> 64) as u64]);
        b.trim();
        b
    }

    /// ASCII decimal digits, 19 at a time.
    fn from_decimal(digits: &[u8]) -> Big {
        let mut n = Big::from_u64(0);
        for chunk in digits.chunks(19) {
            let mut v = 0u64;
            for &c in chunk {
                v = v * 10 + u64::from(c - b'0');
            }
            n.mul_small(10u64.pow(chunk.len() as u32));
            n.add_small(v);
        }
        n
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn low_u64(&self) -> u64 {
        self.0.first().copied().unwrap_or(0)
    }

    fn bit_len(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() as u64 * 64 - u64::from(top.leading_zeros()),
        }
    }

    fn bit(&self, i: u64) -> bool {
        let limb = (i / 64) as usize;
        self.0.get(limb).is_some_and(|&l| l >> (i % 64) & 1 == 1)
    }

    /// Whether any bit below bit `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let full = ((i / 64) as usize).min(self.0.len());
        if self.0[..full].iter().any(|&l| l != 0) {
            return true;
        }
        let rem = i % 64;
        rem != 0 && self.0.get(full).is_some_and(|&l| l & ((1 << rem) - 1) != 0)
    }

    fn shl(&self, n: u64) -> Big {
        if self.is_zero() {
            return self.clone();
        }
        let limbs = (n / 64) as usize;
        let bits = (n % 64) as u32;
        let mut out = vec![0u64; limbs];
        out.reserve(self.0.len() + 1);
        if bits == 0 {
            out.extend_from_slice(&self.0);
        } else {
            let mut carry = 0u64;
            for &l in &self.0 {
                out.push(l << bits | carry);
                carry = l >> (64 - bits);
            }
            out.push(carry);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn shr(&self, n: u64) -> Big {
        let limbs = (n / 64) as usize;
        if limbs >= self.0.len() {
            return Big(Vec::new());
        }
        let bits = (n % 64) as u32;
        let src = &self.0[limbs..];
        let mut out = Vec::with_capacity(src.len());
        for (i, &l) in src.iter().enumerate() {
            let high = if bits == 0 {
                0
            } else {
                src.get(i + 1).map_or(0, |&h| h << (64 - bits))
            };
            out.push(l >> bits | high);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn mul_small(&mut self, m: u64) {
        let mut carry = 0u128;
        for l in &mut self.0 {
            let v = u128::from(*l) * u128::from(m) + carry;
            *l = v as u64;
            carry = v >> 64;
        }
        if carry != 0 {
            self.0.push(carry as u64);
        }
        self.trim();
    }

    fn mul_pow10(&mut self, mut e: u32) {
        while e > 0 {
            let step = e.min(19);
            self.mul_small(10u64.pow(step));
            e -= step;
        }
    }

    fn add_small(&mut self, a: u64) {
        let mut carry = a;
        for l in &mut self.0 {
            if carry == 0 {
                return;
            }
            let (v, c) = l.overflowing_add(carry);
            *l = v;
            carry = u64::from(c);
        }
        if carry != 0 {
            self.0.push(carry);
        }
    }

    fn add(&self, other: &Big) -> Big {
        let (long, short) = if self.0.len() >= other.0.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut out = Vec::with_capacity(long.0.len() + 1);
        let mut carry = false;
        for (i, &l) in long.0.iter().enumerate() {
            let s = short.0.get(i).copied().unwrap_or(0);
            let (v, c1) = l.overflowing_add(s);
            let (v, c2) = v.overflowing_add(u64::from(carry));
            out.push(v);
            carry = c1 || c2;
        }
        if carry {
            out.push(1);
        }
        Big(out)
    }

    /// `self - other`; `self >= other`.
    fn sub(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = false;
        for (i, &l) in self.0.iter().enumerate() {
            let s = other.0.get(i).copied().unwrap_or(0);
            let (v, b1) = l.overflowing_sub(s);
            let (v, b2) = v.overflowing_sub(u64::from(borrow));
            out.push(v);
            borrow = b1 || b2;
        }
        debug_assert!(!borrow, "Big::sub underflow");
        let mut b = Big(out);
        b.trim();
        b
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// Divides in place; returns the remainder.
    fn div_small(&mut self, d: u64) -> u64 {
        let mut rem = 0u128;
        for l in self.0.iter_mut().rev() {
            let v = rem << 64 | u128::from(*l);
            *l = (v / u128::from(d)) as u64;
            rem = v % u128::from(d);
        }
        self.trim();
        rem as u64
    }

    fn to_decimal(&self) -> String {
        const CHUNK: u64 = 10_000_000_000_000_000_000; // 10^19
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(CHUNK));
        }
        let mut out = chunks
            .pop()
            .map_or_else(|| "0".to_string(), |c| c.to_string());
        for c in chunks.iter().rev() {
            out.push_str(&format!("{c:019}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        let a = LongDouble::parse(a.as_bytes()).expect("a parses");
        let b = LongDouble::parse(b.as_bytes()).expect("b parses");
        (a + b).to_human()
    }

    fn human(s: &str) -> String {
        LongDouble::parse(s.as_bytes()).expect("parses").to_human()
    }

    #[test]
    fn decimal_sums_print_like_redis() {
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("10.6", "-5"), "5.6");
        assert_eq!(incr("5.6", "5.0e3"), "5005.60000000000000009");
        assert_eq!(incr("0", "1e20"), "100000000000000000000");
        assert_eq!(incr("1", "1"), "2");
        assert_eq!(incr("0", "1e-20"), "0");
        assert_eq!(incr("0", "-1e-20"), "0");
        assert_eq!(incr("1.5", "-1.5"), "0");
        assert_eq!(incr("0", "0x10"), "16");
        assert_eq!(incr("0", "0x1p-3"), "0.125");
    }

    #[test]
    fn sums_match_redis_server() {
        // (stored value, INCRBYFLOAT increment, redis-server 7.0.15's reply) on x86-64.
        let cases = [
            ("-1.5e-10", "2.5e-11", "-0.000000000125"),
            ("123456.789", "-0.000001", "123456.788999000000004"),
            ("3.6452e-4951", "3.6452e-4951", "0"),
            ("1e-4940", "1e-4935", "0"),
            ("9007199254740993", "0.5", "9007199254740993.5"),
            ("18446744073709551615", "1", "18446744073709551616"),
            ("-9223372036854775808", "-1", "-9223372036854775809"),
            ("2.5", "0.000000000000000005", "2.5"),
            ("1.00000000000000000005", "0", "1"),
            ("0.000000000000000015", "0", "0.00000000000000002"),
            ("0.000000000000000025", "0", "0.00000000000000002"),
            ("1e17", "0.1", "100000000000000000.1015625"),
            (
                "7.123456789012345678901234567890e5",
                "1e-12",
                "712345.6789012345689116",
            ),
            ("-0.00000000000000000999", "0", "-0.00000000000000001"),
            ("33.3333333333333333333", "66.6666666666666666667", "100"),
            (
                "-7.77337863668639255757e+21",
                "-510216.29239305",
                "-7773378636686393068032",
            ),
            (
                "4.7294e+17",
                "-826122.33474116772413254",
                "472939999999173877.65625",
            ),
            (
                "-9.3643464103643e-21",
                "-534678.213219",
                "-534678.21321899999998095",
            ),
            (
                "-9.4692806063227275360e-14",
                "402649.94718047184869647026",
                "402649.94718047184861121",
            ),
            (
                "-5.5911875591861e+11",
                "618860.91335565",
                "-559118137057.6966443657875061",
            ),
            (
                "5e-16",
                "-319498.9669640162028",
                "-319498.96696401620280881",
            ),
            (
                "-5.6937e+22",
                "-795579.4469603025",
                "-56937000000000000794624",
            ),
            (
                "-8.065672463331e-04",
                "-470958.2655559738632291555",
                "-470958.26636254110957225",
            ),
            ("4.6e+08", "946231.528", "460946231.52799999999115244"),
            (
                "-8.423996038431e-08",
                "237039.50472849211655557156",
                "237039.50472840787659834",
            ),
            ("1.54704290514e+19", "-908351.23", "15470429051399091649"),
            ("5.4613668e-21", "732967.3335105", "732967.3335104999999885"),
        ];
        for (a, b, want) in cases {
            assert_eq!(incr(a, b), want, "{a} + {b}");
        }
        let max = incr("0x1.fffffffffffffffep16383", "0");
        assert!(max.starts_with("118973149535723176502126385303097020516906332229462420044"));
        assert!(max.ends_with("86811989770240"));
        let sum = incr("1e300", "1e-300");
        assert!(sum.starts_with("10000000000000000000089973240795591938705239442732907479"));
        assert!(sum.ends_with("6144"));
    }

    #[test]
    fn printing_rounds_ties_to_even() {
        // 2^-18 = 0.000003814697265625: the 18th decimal is an exact 5 after an even digit.
        assert_eq!(human("3.814697265625e-06"), "0.00000381469726562");
        // 3 * 2^-18 = 0.000011444091796875: after an odd digit.
        assert_eq!(human("1.1444091796875e-05"), "0.00001144409179688");
        assert_eq!(human("1.52587890625e-05"), "0.0000152587890625");
    }

    #[test]
    fn extremes() {
        // LDBL_MAX prints 4933 integer digits.
        let max = LongDouble::Finite {
            neg: false,
            mant: u64::MAX,
            exp: 16320,
        };
        let text = max.to_human();
        assert_eq!(text.len(), 4933);
        assert!(text.starts_with("11897314953572317650"));
        assert_eq!(LongDouble::parse(text.as_bytes()), Some(max));
        assert!(!(max + max).is_finite());
        assert_eq!(LongDouble::parse(b"1e4933"), None);
        assert_eq!(LongDouble::parse(b"1.2e4932"), None);
        // Subnormals parse; values below half the smallest one are refused (ERANGE, zero).
        assert_eq!(
            LongDouble::parse(b"3.6452e-4951"),
            Some(LongDouble::Finite {
                neg: false,
                mant: 1,
                exp: -16445
            })
        );
        assert_eq!(LongDouble::parse(b"1e-4952"), None);
        assert_eq!(LongDouble::parse(b"1e-5000"), None);
        assert_eq!(human("1e-4940"), "0");
        assert_eq!(human("0e999999999999999"), "0");
        assert_eq!(human("-0"), "0");
    }

    #[test]
    fn strtold_syntax() {
        for ok in [
            "1", "+1", "-1", "1.", ".5", "-.5e-3", "1E3", "0x1P4", "0X.8", "0x1.", "inf", "-INF",
            "Infinity", "007", "1e+2",
        ] {
            assert!(LongDouble::parse(ok.as_bytes()).is_some(), "{ok}");
        }
        for bad in [
            "", " 1", "1 ", "abc", ".", "e3", "1e", "1e+", "1.5.5", "nan", "-nan", "NaN(1)", "0x",
            "0xp1", "0x1p", "inff", "in", "1\x00", "\x00", "+", "--1", "1f", "0x1g",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(LongDouble::parse(&[b'1'; 5120]), None);
        assert!(LongDouble::parse(&[b'1'; 4000]).is_some());
        assert!(LongDouble::parse(&[b'1'; 4940]).is_none());
        let mut long = vec![b'0'; 5119];
        long[5118] = b'1';
        assert_eq!(human(std::str::from_utf8(&long).unwrap_or("")), "1");
    }

    #[test]
    fn parsing_rounds_to_64_bits() {
        // 2^64 + 1 needs 65 bits: a tie below, rounds to even (2^64).
        assert_eq!(human("18446744073709551617"), "18446744073709551616");
        // 2^64 + 3 rounds up to 2^64 + 4.
        assert_eq!(human("18446744073709551619"), "18446744073709551620");
        assert_eq!(human("18446744073709551615"), "18446744073709551615");
        // 0.1 in 64 bits: 0.1000000000000000000013552527156068805425...
        assert_eq!(human("0.1"), "0.1");
        assert_eq!(human("1.1"), "1.1");
        assert_eq!(
            LongDouble::parse(b"0.1"),
            Some(LongDouble::Finite {
                neg: false,
                mant: 0xCCCC_CCCC_CCCC_CCCD,
                exp: -67
            })
        );
    }

    #[test]
    fn integers_are_exact() {
        for n in [0, 1, -1, 42, i64::MAX, i64::MIN, 1 << 62] {
            let v = LongDouble::from_i64(n);
            assert_eq!(v.to_human(), n.to_string());
            assert_eq!(LongDouble::parse(n.to_string().as_bytes()), Some(v));
        }
    }

    #[test]
    fn infinities() {
        let inf = LongDouble::Infinite { neg: false };
        let ninf = LongDouble::Infinite { neg: true };
        assert_eq!(LongDouble::parse(b"inf"), Some(inf));
        assert_eq!(inf + LongDouble::from_i64(1), inf);
        assert_eq!(inf + ninf, LongDouble::Nan);
        assert!(!(LongDouble::ZERO + ninf).is_finite());
    }

    #[test]
    fn big_integer_helpers() {
        let mut n = Big::from_decimal(b"123456789012345678901234567890");
        assert_eq!(n.to_decimal(), "123456789012345678901234567890");
        assert_eq!(n.div_small(10), 0);
        assert_eq!(n.shl(100).shr(100), n);
        assert!(n.shl(5).bit(5 + 1) == n.bit(1));
        assert!(!n.shl(70).any_below(70));
        assert!(n.shl(70).any_below(71 + n.0[0].trailing_zeros() as u64));
        let m = n.add(&n);
        assert_eq!(m.sub(&n), n);
        assert_eq!(m.cmp(&n), Ordering::Greater);
        assert_eq!(Big::from_u64(0).to_decimal(), "0");
    }
}
