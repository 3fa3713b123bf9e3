use super::{Row, parse};

/// An `ARCHITECTURE.md` whose table body is `rows`, with the table's header on line 4.
fn document(rows: &str) -> String {
    format!(
        "# Architecture\n\n<!-- layer-table:begin -->\n\
         | crate | may depend on | may use (external) |\n|---|---|---|\n{rows}<!-- layer-table:end -->\n\nAfter.\n"
    )
}

/// The diagnostics of parsing `text`, rendered as `path:line: message`.
fn problems(text: &str) -> Vec<String> {
    parse(text).1.iter().map(ToString::to_string).collect()
}

#[test]
fn rows_are_parsed_in_table_order_with_their_lines() {
    let text = document(
        "| `low` | — | `bytemuck`, `half` |\n\
         | `high` | `low` | — |\n\
         | `top` |`low`,`high`| `thiserror` |\n",
    );
    let (table, diagnostics) = parse(&text);
    assert_eq!(diagnostics, []);
    let strings = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        table.rows,
        [
            Row { name: "low".into(), may_depend_on: vec![], may_use: strings(&["bytemuck", "half"]), line: 6 },
            Row { name: "high".into(), may_depend_on: strings(&["low"]), may_use: vec![], line: 7 },
            Row {
                name: "top".into(),
                may_depend_on: strings(&["low", "high"]),
                may_use: strings(&["thiserror"]),
                line: 8,
            },
        ]
    );
    assert_eq!(table.row("high").map(|row| row.line), Some(7));
    assert_eq!(table.row("absent"), None);
}

#[test]
fn the_real_architecture_file_parses() {
    let text = include_str!("../../../../ARCHITECTURE.md");
    let (table, diagnostics) = parse(text);
    assert_eq!(diagnostics, []);
    assert!(table.row("xtask").is_some_and(|row| row.may_depend_on.is_empty()), "xtask depends on no kb crate");
}

#[test]
fn missing_markers_are_reported() {
    assert_eq!(
        problems("# Architecture\n\nno table here\n"),
        ["ARCHITECTURE.md:1: no `<!-- layer-table:begin -->` line — put the layer table between \
          `<!-- layer-table:begin -->` and `<!-- layer-table:end -->`"]
    );
    assert_eq!(
        problems("# Architecture\n\n<!-- layer-table:begin -->\n| crate | may depend on | may use (external) |\n"),
        ["ARCHITECTURE.md:3: `<!-- layer-table:begin -->` is never closed — end the layer table with a \
          `<!-- layer-table:end -->` line"]
    );
}

#[test]
fn a_table_without_rows_is_reported() {
    assert_eq!(
        problems(&document("")),
        ["ARCHITECTURE.md:3: the layer table has no rows — add one row per workspace crate"]
    );
    assert_eq!(
        problems("<!-- layer-table:begin -->\n\n<!-- layer-table:end -->\n"),
        ["ARCHITECTURE.md:1: the layer table is empty — add its header, separator and one row per workspace crate"]
    );
}

#[test]
fn a_wrong_header_or_separator_is_reported() {
    let text = "<!-- layer-table:begin -->\n| crate | depends on |\n| a | b | c |\n| `a` | — | — |\n\
                <!-- layer-table:end -->\n";
    assert_eq!(
        problems(text),
        [
            "ARCHITECTURE.md:2: the layer table's header is `| crate | depends on |` — make it \
             | crate | may depend on | may use (external) |",
            "ARCHITECTURE.md:3: `| a | b | c |` is not the layer table's separator row — make it |---|---|---|",
        ]
    );
}

#[test]
fn malformed_rows_are_reported_and_left_out() {
    let text = document(
        "| `a` | — |\n\
         | `b` | kb-mem | — |\n\
         | `c` |  | — |\n\
         `d` | — | — |\n\
         | `e f` | — | — |\n\
         | `g` | — | `x`, |\n\
         | `ok` | — | — |\n",
    );
    let (table, _) = parse(&text);
    assert_eq!(table.rows.iter().map(|row| row.name.as_str()).collect::<Vec<_>>(), ["ok"]);
    let fix = "write each row as | `crate` | `internal`, … or — | `external`, … or — |";
    assert_eq!(
        problems(&text),
        [
            format!("ARCHITECTURE.md:6: the row has 2 cells instead of 3 — {fix}"),
            format!("ARCHITECTURE.md:7: kb-mem is not a backquoted crate name — {fix}"),
            format!("ARCHITECTURE.md:8: a cell or list item is empty (write — for none) — {fix}"),
            format!("ARCHITECTURE.md:9: the line is not a layer-table row (it must start and end with |) — {fix}"),
            format!("ARCHITECTURE.md:10: `e f` is not a backquoted crate name — {fix}"),
            format!("ARCHITECTURE.md:11: a cell or list item is empty (write — for none) — {fix}"),
        ]
    );
}

#[test]
fn a_repeated_row_is_reported() {
    assert_eq!(
        problems(&document("| `a` | — | — |\n| `b` | — | — |\n| `a` | — | `x` |\n")),
        ["ARCHITECTURE.md:8: a has a second row in the layer table (the first is on line 6) — merge the two rows"]
    );
}

#[test]
fn rows_may_only_depend_on_rows_above_them() {
    let text = document(
        "| `low` | `high` | — |\n\
         | `high` | `low` | — |\n\
         | `loop` | `loop` | — |\n\
         | `top` | `low`, `nowhere` | — |\n",
    );
    assert_eq!(
        problems(&text),
        [
            "ARCHITECTURE.md:6: low may depend on high, whose row comes after it — move high's row above \
             low's (the table lists the bottom layer first)",
            "ARCHITECTURE.md:8: loop may depend on itself — remove loop from its own row",
            "ARCHITECTURE.md:9: top may depend on nowhere, which has no row in the layer table — add a row \
             for nowhere above this one, or remove it from this row",
        ]
    );
}
