//! Money amounts as backends send them: non-negative decimal strings,
//! never floats.

use crate::error::{DomainError, ProfileProblem};

/// A non-negative decimal amount (`19.99`): at most 15 digits before the
/// point and 4 after, as given but trimmed.
pub fn amount(v: &str, field: &'static str) -> Result<String, DomainError> {
    let v = v.trim();
    let (whole, fraction) = v.split_once('.').unwrap_or((v, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let ok = (1..=15).contains(&whole.len())
        && digits(whole)
        && fraction.len() <= 4
        && digits(fraction)
        && !(v.contains('.') && fraction.is_empty());
    if ok {
        Ok(v.to_string())
    } else {
        Err(DomainError::Profile {
            field,
            problem: ProfileProblem::Invalid,
        })
    }
}

/// A checked amount in ten-thousandths (at most 4 decimals).
pub fn units(amount: &str) -> i128 {
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let fraction = format!("{fraction:0<4}");
    whole.parse::<i128>().unwrap_or(0) * 10_000 + fraction[..4].parse::<i128>().unwrap_or(0)
}
