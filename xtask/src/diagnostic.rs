//! Findings shared by every check: a [`Diagnostic`] names a file, a 1-based line and what is wrong
//! there, and an [`Outcome`] is what one check found. One helper, [`line_at`], turns byte offsets
//! into line numbers so every check counts lines the same way.

use std::fmt;

/// One finding, printed as `path:line: message — how to fix`.
///
/// Ordered by path, then line, then message, so a sorted list reads file by file, top to bottom.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Diagnostic {
    /// The file, relative to the workspace root, with `/` separators.
    pub(crate) path: String,
    /// The 1-based line in `path`.
    pub(crate) line: usize,
    /// What is wrong, then ` — ` and how to fix it.
    pub(crate) message: String,
}

impl Diagnostic {
    /// A finding at `path:line`.
    pub(crate) fn new(path: impl Into<String>, line: usize, message: impl Into<String>) -> Self {
        Self { path: path.into(), line, message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.message)
    }
}

/// What one check found: its findings, sorted and without repeats, and what it looked at.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Every finding, sorted; empty when the check passes.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// What was checked, such as `4 crates, 7 dependencies checked`, printed when the check passes.
    pub(crate) checked: String,
}

impl Outcome {
    /// Sorts and de-duplicates `diagnostics`.
    pub(crate) fn new(mut diagnostics: Vec<Diagnostic>, checked: String) -> Self {
        diagnostics.sort();
        diagnostics.dedup();
        Self { diagnostics, checked }
    }
}

/// The 1-based line of the byte at `offset` in `text`; an offset past the end counts as the last line.
pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    1 + text.as_bytes()[..end].iter().filter(|&&byte| byte == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::{Diagnostic, Outcome, line_at};

    #[test]
    fn line_at_counts_newlines_before_the_offset() {
        let text = "first\nsecond\n\nfourth";
        assert_eq!(line_at(text, 0), 1);
        assert_eq!(line_at(text, 5), 1, "the newline itself belongs to its line");
        assert_eq!(line_at(text, 6), 2);
        assert_eq!(line_at(text, 13), 3);
        assert_eq!(line_at(text, 14), 4);
        assert_eq!(line_at(text, 1_000), 4);
        assert_eq!(line_at("", 0), 1);
    }

    #[test]
    fn diagnostics_display_and_sort_by_path_then_line() {
        let outcome = Outcome::new(
            vec![
                Diagnostic::new("crates/b/Cargo.toml", 3, "b — fix b"),
                Diagnostic::new("crates/a/Cargo.toml", 12, "late — fix"),
                Diagnostic::new("crates/a/Cargo.toml", 9, "early — fix"),
                Diagnostic::new("crates/a/Cargo.toml", 9, "early — fix"),
                Diagnostic::new("ARCHITECTURE.md", 40, "table — fix"),
            ],
            String::new(),
        );
        let lines: Vec<String> = outcome.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "ARCHITECTURE.md:40: table — fix",
                "crates/a/Cargo.toml:9: early — fix",
                "crates/a/Cargo.toml:12: late — fix",
                "crates/b/Cargo.toml:3: b — fix b",
            ]
        );
    }
}
