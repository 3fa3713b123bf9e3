//! The layer table: parsed from `ARCHITECTURE.md`, between `<!-- layer-table:begin -->` and
//! `<!-- layer-table:end -->`, the one place the layering rule is written down.
//!
//! The table is a markdown table with the columns `| crate | may depend on | may use (external) |`.
//! Cells hold backquoted crate names separated by commas, or `—` for none. Rows go bottom layer first:
//! a row may only depend on crates whose rows come above it, so the layers have no cycle.

use crate::diagnostic::Diagnostic;

/// The file holding the table, relative to the workspace root.
pub(crate) const TABLE_FILE: &str = "ARCHITECTURE.md";

/// The line opening the table.
const BEGIN: &str = "<!-- layer-table:begin -->";
/// The line closing the table.
const END: &str = "<!-- layer-table:end -->";
/// The header row's cells, in order.
const HEADER: [&str; 3] = ["crate", "may depend on", "may use (external)"];
/// The cell meaning "none".
const NONE: &str = "—";
/// How a row is written, appended to every malformed-row diagnostic.
const ROW_FIX: &str = "write each row as | `crate` | `internal`, … or — | `external`, … or — |";

/// One row of the layer table: a workspace crate and what it may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// The crate the row is about.
    pub(crate) name: String,
    /// Workspace crates it may depend on, each with a row above this one.
    pub(crate) may_depend_on: Vec<String>,
    /// External crates it may use.
    pub(crate) may_use: Vec<String>,
    /// The row's 1-based line in `ARCHITECTURE.md`.
    pub(crate) line: usize,
}

/// The well-formed rows of the layer table, bottom layer first.
#[derive(Debug, Default)]
pub(crate) struct LayerTable {
    /// Rows in table order; a malformed or repeated row is left out (and diagnosed).
    pub(crate) rows: Vec<Row>,
}

impl LayerTable {
    /// The row of crate `name`, if the table has one.
    pub(crate) fn row(&self, name: &str) -> Option<&Row> {
        self.rows.iter().find(|row| row.name == name)
    }
}

/// Parses the layer table out of the text of `ARCHITECTURE.md`.
///
/// Returns the well-formed rows and a diagnostic for each problem: a missing marker, a wrong header,
/// a malformed or repeated row, a row depending on a crate whose row is not above it, or a table
/// with no rows at all. The diagnostics are empty only if the table has at least one row.
pub(crate) fn parse(text: &str) -> (LayerTable, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let lines = numbered_lines(text);
    let Some(begin) = lines.iter().position(|(_, line)| line.trim() == BEGIN) else {
        let message = format!("no `{BEGIN}` line — put the layer table between `{BEGIN}` and `{END}`");
        return (LayerTable::default(), vec![Diagnostic::new(TABLE_FILE, 1, message)]);
    };
    let begin_line = lines[begin].0;
    let Some(end) = lines[begin..].iter().position(|(_, line)| line.trim() == END) else {
        let message = format!("`{BEGIN}` is never closed — end the layer table with a `{END}` line");
        return (LayerTable::default(), vec![Diagnostic::new(TABLE_FILE, begin_line, message)]);
    };
    let mut body = lines[begin + 1..begin + end].iter().filter(|(_, line)| !line.trim().is_empty());

    match body.next() {
        Some(&(number, line)) => {
            let header = split_cells(line);
            if header.as_deref() != Some(&HEADER[..]) {
                let message =
                    format!("the layer table's header is `{}` — make it | {} |", line.trim(), HEADER.join(" | "));
                diagnostics.push(Diagnostic::new(TABLE_FILE, number, message));
            }
        }
        None => {
            let message = "the layer table is empty — add its header, separator and one row per workspace crate";
            return (LayerTable::default(), vec![Diagnostic::new(TABLE_FILE, begin_line, message)]);
        }
    }
    if let Some(&(number, line)) = body.next() {
        let is_separator = split_cells(line)
            .is_some_and(|cells| cells.len() == HEADER.len() && cells.iter().all(|cell| is_separator_cell(cell)));
        if !is_separator {
            let message = format!("`{}` is not the layer table's separator row — make it |---|---|---|", line.trim());
            diagnostics.push(Diagnostic::new(TABLE_FILE, number, message));
        }
    }

    let mut table = LayerTable::default();
    for &(number, line) in body {
        match parse_row(line, number) {
            Ok(row) => match table.row(&row.name) {
                Some(first) => {
                    let message = format!(
                        "{} has a second row in the layer table (the first is on line {}) — merge the two rows",
                        row.name, first.line
                    );
                    diagnostics.push(Diagnostic::new(TABLE_FILE, number, message));
                }
                None => table.rows.push(row),
            },
            Err(problem) => {
                diagnostics.push(Diagnostic::new(TABLE_FILE, number, format!("{problem} — {ROW_FIX}")));
            }
        }
    }
    for (position, row) in table.rows.iter().enumerate() {
        for dependency in &row.may_depend_on {
            let at = table.rows.iter().position(|other| other.name == *dependency);
            let message = match at {
                Some(at) if at < position => continue,
                Some(at) if at == position => {
                    format!("{} may depend on itself — remove {} from its own row", row.name, row.name)
                }
                Some(_) => format!(
                    "{} may depend on {dependency}, whose row comes after it — move {dependency}'s row \
                     above {}'s (the table lists the bottom layer first)",
                    row.name, row.name
                ),
                None => format!(
                    "{} may depend on {dependency}, which has no row in the layer table — add a row for \
                     {dependency} above this one, or remove it from this row",
                    row.name
                ),
            };
            diagnostics.push(Diagnostic::new(TABLE_FILE, row.line, message));
        }
    }

    if table.rows.is_empty() && diagnostics.is_empty() {
        let message = "the layer table has no rows — add one row per workspace crate";
        diagnostics.push(Diagnostic::new(TABLE_FILE, begin_line, message));
    }
    (table, diagnostics)
}

/// Each line of `text` with its 1-based number.
fn numbered_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines().enumerate().map(|(index, line)| (index + 1, line)).collect()
}

/// The trimmed cells of a `| a | b |` line, or `None` if it is not framed by `|`.
fn split_cells(line: &str) -> Option<Vec<&str>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split('|').map(str::trim).collect())
}

/// Whether `cell` is a separator cell such as `---` or `:--:`.
fn is_separator_cell(cell: &str) -> bool {
    let dashes = cell.strip_prefix(':').unwrap_or(cell);
    let dashes = dashes.strip_suffix(':').unwrap_or(dashes);
    !dashes.is_empty() && dashes.bytes().all(|byte| byte == b'-')
}

/// Parses one body row, or says what is wrong with it.
fn parse_row(line: &str, number: usize) -> Result<Row, String> {
    let cells = split_cells(line)
        .ok_or_else(|| "the line is not a layer-table row (it must start and end with |)".to_owned())?;
    let [name, may_depend_on, may_use] = cells[..] else {
        return Err(format!("the row has {} cells instead of {}", cells.len(), HEADER.len()));
    };
    let name = crate_name(name)?;
    Ok(Row {
        name: name.to_owned(),
        may_depend_on: crate_list(may_depend_on)?,
        may_use: crate_list(may_use)?,
        line: number,
    })
}

/// A cell holding a comma-separated list of backquoted crate names, or `—` for none.
fn crate_list(cell: &str) -> Result<Vec<String>, String> {
    if cell == NONE {
        return Ok(Vec::new());
    }
    cell.split(',').map(|item| crate_name(item.trim()).map(str::to_owned)).collect()
}

/// The crate name in a backquoted item such as `` `kb-mem` ``.
fn crate_name(item: &str) -> Result<&str, String> {
    item.strip_prefix('`')
        .and_then(|rest| rest.strip_suffix('`'))
        .filter(|name| {
            !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_".contains(&byte))
        })
        .ok_or_else(|| match item {
            "" => "a cell or list item is empty (write — for none)".to_owned(),
            _ => format!("{item} is not a backquoted crate name"),
        })
}

#[cfg(test)]
mod tests;
