//! Sizes on the command line: a whole number with an optional `K`, `M` or `G` suffix (powers of
//! 1024, either case), so `4K` is 4096 and `1M` is 1048576. Every size flag parses with
//! [`parse_size`].

/// What a size must look like, for error messages.
const SYNTAX: &str = "expected a whole number with an optional K, M or G suffix (powers of 1024), like 4096 or 4K";

/// Parses a size: digits, then optionally one of `K`/`k` (×1024), `M`/`m` (×1024²), `G`/`g`
/// (×1024³). Zero parses (whether a size may be zero is the caller's rule); overflow of `usize` is
/// an error. The error is a message for clap to show.
pub(crate) fn parse_size(text: &str) -> Result<usize, String> {
    let (digits, scale): (&str, u32) = match text.char_indices().last() {
        Some((i, 'K' | 'k')) => (&text[..i], 10),
        Some((i, 'M' | 'm')) => (&text[..i], 20),
        Some((i, 'G' | 'g')) => (&text[..i], 30),
        _ => (text, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}`: {SYNTAX}"));
    }
    let too_large = || format!("`{text}` is too large (at most {})", usize::MAX);
    let value: usize = digits.parse().map_err(|_| too_large())?;
    value.checked_mul(1usize.checked_shl(scale).ok_or_else(too_large)?).ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn plain_numbers_parse_as_themselves() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("40"), Ok(40));
        assert_eq!(parse_size("007"), Ok(7));
    }

    #[test]
    fn suffixes_are_powers_of_1024_in_either_case() {
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("3M"), Ok(3 << 20));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("0K"), Ok(0));
    }

    #[test]
    fn malformed_sizes_say_what_is_expected() {
        for bad in ["", "K", "-4", "+4", "4KB", "4 K", "1.5K", "4T", "0x10", " 4"] {
            let err = parse_size(bad).expect_err(bad);
            assert!(err.starts_with(&format!("`{bad}`: expected a whole number")), "{bad}: {err}");
        }
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let max = usize::MAX.to_string();
        assert_eq!(parse_size(&max), Ok(usize::MAX));
        let err = parse_size(&format!("{max}0")).unwrap_err();
        assert!(err.contains("is too large"), "{err}");
        let err = parse_size(&format!("{}G", usize::MAX >> 29)).unwrap_err();
        assert!(err.contains("is too large"), "{err}");
        assert_eq!(parse_size(&format!("{}G", usize::MAX >> 30)), Ok((usize::MAX >> 30) << 30));
    }
}
