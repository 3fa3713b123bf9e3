//! Finds the line of a `Cargo.toml` that declares a dependency, so a layer diagnostic points at it.
//!
//! `cargo metadata` says which dependencies a package has but not where they are written, so this
//! scans the manifest's text. It follows TOML far enough to be exact on what manifests hold: table
//! headers with quoted parts (`[target.'cfg(unix)'.dependencies]`, `[dependencies.name]`), dotted keys
//! (`name.workspace = true`), strings and comments, and values that span lines (arrays, multi-line
//! strings and inline tables), whose inner lines are never taken for keys.

use cargo_metadata::DependencyKind;

use crate::diagnostic::line_at;

/// The 1-based line declaring dependency `key` of `kind` for `target` in the manifest `text`.
///
/// `key` is the name the manifest uses: the `rename` that `cargo metadata` reports if the dependency
/// is renamed with `package = "…"`, else its name. `target` is the platform of a
/// `[target.'…'.dependencies]` section as `cargo metadata` prints it; spaces are ignored when comparing,
/// since cargo reformats `cfg(…)` expressions. Returns the first line of the declaration (a
/// `[dependencies.name]` header, or the line of its key), or `None` if no section declares it.
pub(crate) fn dependency_line(text: &str, key: &str, kind: DependencyKind, target: Option<&str>) -> Option<usize> {
    let target = target.map(without_spaces);
    let mut table: Vec<String> = Vec::new();
    for (offset, statement) in statements(text) {
        let path = if let Some(header) = statement.strip_prefix('[') {
            let header = header.strip_prefix('[').unwrap_or(header);
            let Some(parts) = dotted_key(header, ']') else { continue };
            table = parts;
            table.clone()
        } else {
            let Some(parts) = dotted_key(statement, '=') else { continue };
            table.iter().cloned().chain(parts).collect()
        };
        if let Some(declared) = declaration(&path)
            && declared.kind == kind
            && declared.name == key
            && declared.target.map(without_spaces) == target
        {
            return Some(line_at(text, offset));
        }
    }
    None
}

/// A dependency declared by a key path such as `target.cfg(unix).dependencies.name.version`.
#[derive(Debug, PartialEq, Eq)]
struct Declaration<'a> {
    /// Normal, build or development.
    kind: DependencyKind,
    /// The platform of a `[target.…]` section, as written.
    target: Option<&'a str>,
    /// The dependency's key in the manifest.
    name: &'a str,
}

/// The dependency a full key path declares, if it lies in a dependency section.
fn declaration(path: &[String]) -> Option<Declaration<'_>> {
    let (target, rest) = match path {
        [first, target, rest @ ..] if first == "target" => (Some(target.as_str()), rest),
        _ => (None, path),
    };
    match rest {
        [section, name, ..] => Some(Declaration { kind: section_kind(section)?, target, name }),
        _ => None,
    }
}

/// The dependency kind of a section name such as `build-dependencies`.
fn section_kind(section: &str) -> Option<DependencyKind> {
    match section {
        "dependencies" => Some(DependencyKind::Normal),
        "build-dependencies" | "build_dependencies" => Some(DependencyKind::Build),
        "dev-dependencies" | "dev_dependencies" => Some(DependencyKind::Development),
        _ => None,
    }
}

/// `text` with all whitespace removed.
fn without_spaces(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The start offset and first line (left-trimmed) of every top-level statement: each table header
/// and each key/value pair, skipping blank lines, comments and the inner lines of multi-line values.
fn statements(text: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    let mut state = Scan::default();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if state.at_top_level() {
            let trimmed = line.trim_start();
            if !trimmed.is_empty() && !trimmed.starts_with('#') {
                let statement = trimmed.trim_end_matches(['\n', '\r']);
                found.push((offset + line.len() - trimmed.len(), statement));
            }
        }
        state.advance(line);
        offset += line.len();
    }
    found
}

/// Where a line-by-line scan stands: how deep in brackets and braces, and whether inside a
/// multi-line string.
#[derive(Debug, Default)]
struct Scan {
    /// Open `[` and `{` not yet closed.
    depth: usize,
    /// Inside a `"""` string (`Some('"')`) or a `'''` string (`Some('\'')`).
    multi_line_string: Option<char>,
}

impl Scan {
    /// Whether the next line starts a new statement.
    fn at_top_level(&self) -> bool {
        self.depth == 0 && self.multi_line_string.is_none()
    }

    /// Moves the scan past one line.
    fn advance(&mut self, line: &str) {
        let mut rest = line;
        while !rest.is_empty() {
            if let Some(quote) = self.multi_line_string {
                let Some(end) = closing_quote(rest, quote, 3) else { return };
                self.multi_line_string = None;
                rest = &rest[end..];
                continue;
            }
            let mut chars = rest.chars();
            let c = chars.next().unwrap_or_default();
            match c {
                '#' => return,
                '"' | '\'' if rest.starts_with(r#"""""#) || rest.starts_with("'''") => {
                    self.multi_line_string = Some(c);
                    rest = &rest[3..];
                }
                '"' | '\'' => match closing_quote(&rest[1..], c, 1) {
                    Some(end) => rest = &rest[1 + end..],
                    None => return,
                },
                '[' | '{' => {
                    self.depth += 1;
                    rest = &rest[1..];
                }
                ']' | '}' => {
                    self.depth = self.depth.saturating_sub(1);
                    rest = &rest[1..];
                }
                _ => rest = chars.as_str(),
            }
        }
    }
}

/// The offset just past the first run of `count` unescaped `quote`s in `text` (backslash escapes
/// apply to `"` strings only), or `None` if the string does not close in `text`.
fn closing_quote(text: &str, quote: char, count: usize) -> Option<usize> {
    let closing: String = std::iter::repeat_n(quote, count).collect();
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if text[index..].starts_with(&closing) {
            return Some(index + closing.len());
        }
    }
    None
}

/// The parts of the dotted key (`a."b.c".'d'`) that `text` starts with, up to `terminator`, or
/// `None` if `text` does not start with such a key.
fn dotted_key(text: &str, terminator: char) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut rest = text.trim_start();
    loop {
        let (part, after) = match rest.chars().next()? {
            quote @ ('"' | '\'') => {
                let end = closing_quote(&rest[1..], quote, 1)?;
                let raw = &rest[1..end];
                let part = if quote == '"' { raw.replace("\\\"", "\"").replace("\\\\", "\\") } else { raw.to_owned() };
                (part, &rest[1 + end..])
            }
            _ => {
                let end =
                    rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(rest.len());
                if end == 0 {
                    return None;
                }
                (rest[..end].to_owned(), &rest[end..])
            }
        };
        parts.push(part);
        rest = after.trim_start();
        match rest.chars().next()? {
            '.' => rest = rest[1..].trim_start(),
            c if c == terminator => return Some(parts),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests;
