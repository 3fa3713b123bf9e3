//! A file that does not parse fails at the error, rather than being skipped.

use super::{assert_findings, check_barriers};

#[test]
fn a_file_that_does_not_parse_fails() {
    assert_findings(
        &check_barriers("unparsable"),
        &["crates/kb-ccl/src/lib.rs:6: cannot be parsed as Rust (unexpected end of input, expected an \
           expression) — fix the syntax; check-barriers must read every file it scans"],
    );
}
