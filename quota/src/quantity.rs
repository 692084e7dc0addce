//! Exact resource quantities (`k8s.io/apimachinery/pkg/api/resource`):
//! parsed into nano-units so sums and comparisons never round, and printed
//! in the canonical form kube-apiserver prints (`1500m`, `1536Mi`, `2`).
//!
//! Quota status and admission messages show sums of user quantities, so the
//! printing has to follow kube's canonicalisation: a binary quantity stays
//! binary only while it is a whole number of at least 1024; otherwise the
//! largest decimal suffix that keeps the mantissa an integer is chosen.

use std::cmp::Ordering;
use std::fmt;

/// How a quantity is printed, taken from the suffix it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `Ki`, `Mi`, ... `Ei`.
    BinarySI,
    /// `n`, `u`, `m`, none, `k`, `M`, ... `E`.
    DecimalSI,
    /// `e3`, `E6`, ...
    DecimalExponent,
}

/// A resource quantity, held exactly in billionths of its unit.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

const NANO: i128 = 1_000_000_000;

impl Default for Quantity {
    fn default() -> Self {
        Quantity::zero()
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Quantity {
    pub const fn zero() -> Self {
        Quantity {
            nanos: 0,
            format: Format::DecimalSI,
        }
    }

    /// A whole number of units (`pods=3`), printed as a decimal number.
    pub fn from_units(n: i64) -> Self {
        Quantity {
            nanos: i128::from(n) * NANO,
            format: Format::DecimalSI,
        }
    }

    /// Parses kube's quantity grammar: an optionally signed decimal number
    /// followed by a binary suffix, a decimal suffix, or an exponent.
    pub fn parse(s: &str) -> Option<Quantity> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(split);
        let (negative, digits) = match number.as_bytes().first() {
            Some(b'-') => (true, &number[1..]),
            Some(b'+') => (false, &number[1..]),
            _ => (false, number),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let (format, multiplier) = suffix_multiplier(suffix)?;
        // The mantissa scaled to nano-units, then the suffix applied exactly.
        let mut mantissa: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(b - b'0'))?;
        }
        let frac_len = u32::try_from(frac.len()).ok()?;
        let nanos = multiplier.apply(mantissa, frac_len)?;
        Some(Quantity {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The value in milli-units, rounded up (as `MilliValue`).
    pub fn milli_value(&self) -> i128 {
        ceil_div(self.nanos, 1_000_000)
    }

    /// The value in units, rounded up (as `Value`).
    pub fn value(&self) -> i128 {
        ceil_div(self.nanos, NANO)
    }

    /// The value as a float, for ratios and percentages.
    pub fn as_f64(&self) -> f64 {
        self.nanos as f64 / NANO as f64
    }

    /// The sum; a zero left-hand side takes the right-hand side's format,
    /// as `Quantity.Add` does.
    pub fn add(self, other: Quantity) -> Quantity {
        let format = if self.nanos == 0 {
            other.format
        } else {
            self.format
        };
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
            format,
        }
    }

    pub fn sub(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: self.format,
        }
    }

    /// The canonical string, as `Quantity.String()`.
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        let whole = self.nanos % NANO == 0;
        if self.format == Format::BinarySI && whole && self.nanos.abs() >= 1024 * NANO {
            return binary_string(self.nanos / NANO);
        }
        decimal_string(self.nanos, self.format == Format::DecimalExponent)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

fn ceil_div(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d > 0 {
        q + 1
    } else {
        q
    }
}

/// What a suffix multiplies the mantissa by.
enum Multiplier {
    /// 1024^k.
    Binary(u32),
    /// 10^k (k may be negative).
    Decimal(i32),
}

impl Multiplier {
    /// `mantissa / 10^frac_len * multiplier`, in nano-units, rounded up to
    /// the nearest nano-unit as kube does for finer precision.
    fn apply(&self, mantissa: i128, frac_len: u32) -> Option<i128> {
        match *self {
            Multiplier::Binary(k) => {
                let scaled = mantissa
                    .checked_mul(1024i128.checked_pow(k)?)?
                    .checked_mul(NANO)?;
                Some(ceil_div(scaled, 10i128.checked_pow(frac_len)?))
            }
            Multiplier::Decimal(k) => {
                let exp = k + 9 - i32::try_from(frac_len).ok()?;
                if exp >= 0 {
                    mantissa.checked_mul(10i128.checked_pow(u32::try_from(exp).ok()?)?)
                } else {
                    let div = 10i128.checked_pow(u32::try_from(-exp).ok()?)?;
                    Some(ceil_div(mantissa, div))
                }
            }
        }
    }
}

fn suffix_multiplier(suffix: &str) -> Option<(Format, Multiplier)> {
    let binary = |k| Some((Format::BinarySI, Multiplier::Binary(k)));
    let decimal = |k| Some((Format::DecimalSI, Multiplier::Decimal(k)));
    match suffix {
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "" => decimal(0),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            let k: i32 = exp.parse().ok()?;
            if !(-30..=30).contains(&k) {
                return None;
            }
            Some((Format::DecimalExponent, Multiplier::Decimal(k)))
        }
    }
}

fn binary_string(units: i128) -> String {
    const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let mut n = units;
    let mut k = 0;
    while k < 6 && n % 1024 == 0 {
        n /= 1024;
        k += 1;
    }
    format!("{n}{}", SUFFIXES[k])
}

/// The largest power of 1000 that leaves an integer mantissa.
fn decimal_string(nanos: i128, exponent: bool) -> String {
    const SUFFIXES: [&str; 10] = ["n", "u", "m", "", "k", "M", "G", "T", "P", "E"];
    let mut n = nanos;
    let mut k = 0;
    while k < 9 && n % 1000 == 0 {
        n /= 1000;
        k += 1;
    }
    if exponent {
        let e = (k as i32 - 3) * 3;
        return if e == 0 {
            n.to_string()
        } else {
            format!("{n}e{e}")
        };
    }
    format!("{n}{}", SUFFIXES[k])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    #[test]
    fn canonical_forms_match_kube() {
        for (input, want) in [
            ("100m", "100m"),
            ("1.5", "1500m"),
            ("0.1", "100m"),
            ("1", "1"),
            ("1000", "1k"),
            ("1Gi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1024", "1024"),
            ("512Mi", "512Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("0", "0"),
            ("0Mi", "0"),
            ("-100m", "-100m"),
            ("500M", "500M"),
            ("1n", "1n"),
        ] {
            assert_eq!(q(input).canonical(), want, "{input}");
        }
    }

    #[test]
    fn sums_keep_the_first_non_zero_format() {
        assert_eq!(q("100m").add(q("200m")).canonical(), "300m");
        assert_eq!(q("1").add(q("500m")).canonical(), "1500m");
        assert_eq!(q("1Gi").add(q("512Mi")).canonical(), "1536Mi");
        assert_eq!(Quantity::zero().add(q("100Mi")).canonical(), "100Mi");
        assert_eq!(q("2").sub(q("500m")).canonical(), "1500m");
    }

    #[test]
    fn comparisons_are_exact_across_formats() {
        assert!(q("1Gi") > q("1G"));
        assert!(q("1000m") == q("1"));
        assert!(q("1Ki") == q("1024"));
        assert_eq!(q("1500m").milli_value(), 1500);
        assert_eq!(q("1500m").value(), 2);
    }

    #[test]
    fn bad_input_is_refused() {
        for bad in ["", "abc", "1.2.3", "1Qi", "--1", "1e999", "."] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
    }
}
