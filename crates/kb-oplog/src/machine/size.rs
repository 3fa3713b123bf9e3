//! Byte sizes written with units: `"16GiB"`, `"1.5MiB"`, `"500MB"`, and back.

/// Units a size string may carry, with their sizes in bytes.
const UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
];

/// The reason given for a size string that does not parse.
pub(super) const SIZE_SYNTAX_REASON: &str =
    "must be a byte count: an integer or a string like \"16GiB\" (units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)";

/// Parses `"<number><unit>"`: a decimal number (digits, optionally a fraction) followed, after
/// optional spaces, by one of the [`UNITS`] or by nothing (bytes). The result must be a whole
/// number of bytes that fits in a `u64`. The error is the reason, for a
/// [`super::ConfigError::InvalidValue`].
pub(super) fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim_start());
    let unit_bytes = match unit {
        "" => 1,
        _ => UNITS.iter().find(|(name, _)| *name == unit).map(|&(_, bytes)| bytes).ok_or(SIZE_SYNTAX_REASON)?,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok(whole) || !(fraction.is_empty() || digits_ok(fraction)) || number.ends_with('.') {
        return Err(SIZE_SYNTAX_REASON.into());
    }
    let fraction = fraction.trim_end_matches('0');
    let too_large = || format!("must be at most {} bytes", u64::MAX);
    // value = whole.fraction * unit_bytes = (whole * 10^f + fraction) * unit_bytes / 10^f, exactly.
    let scale = u32::try_from(fraction.len()).ok().and_then(|f| 10u128.checked_pow(f)).ok_or_else(too_large)?;
    let parse = |s: &str| if s.is_empty() { Some(0) } else { s.parse::<u128>().ok() };
    let scaled = parse(whole)
        .and_then(|w| w.checked_mul(scale))
        .and_then(|w| parse(fraction).and_then(|f| w.checked_add(f)))
        .and_then(|n| n.checked_mul(u128::from(unit_bytes)))
        .ok_or_else(too_large)?;
    if !scaled.is_multiple_of(scale) {
        return Err("must be a whole number of bytes".into());
    }
    u64::try_from(scaled / scale).map_err(|_| too_large())
}

/// How a size is written: a string in the largest binary unit that divides it exactly, else an
/// integer (or a `"<n>B"` string above `i64::MAX`, which TOML integers cannot hold).
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub(super) enum SizeOut {
    /// Written as a TOML integer.
    Int(i64),
    /// Written as a TOML string with a unit.
    Text(String),
}

impl SizeOut {
    /// The written form of `bytes`.
    pub(super) fn new(bytes: u64) -> SizeOut {
        let binary = UNITS[1..5].iter().rev().find(|&&(_, unit)| bytes >= unit && bytes.is_multiple_of(unit));
        match (binary, i64::try_from(bytes)) {
            (Some(&(name, unit)), _) => SizeOut::Text(format!("{}{name}", bytes / unit)),
            (None, Ok(int)) => SizeOut::Int(int),
            (None, Err(_)) => SizeOut::Text(format!("{bytes}B")),
        }
    }
}
