//! Reading the registry: its entries and lines, and every way its shape can be wrong.

use super::{Entry, Registry, find};

/// The registry in `text`.
fn registry(text: &str) -> Option<Registry> {
    let file = crate::barriers::source::parse(text).expect("the test source parses");
    find(&file, text)
}

/// `entries` as `Entry` values.
fn entries(entries: &[(&str, usize)]) -> Vec<Entry> {
    entries.iter().map(|&(name, line)| Entry { name: name.to_owned(), line }).collect()
}

#[test]
fn entries_are_read_with_their_lines() {
    let text = "\
//! The barrier.

pub(crate) const HOST_READ_REGISTRY: &[&str] = &[
    \"Tensor::to_vec\",
    \"Tensor::fmt\", // Debug and Display
    \"snapshot\",
];
";
    assert_eq!(
        registry(text),
        Some(Registry {
            line: 3,
            entries: entries(&[("Tensor::to_vec", 4), ("Tensor::fmt", 5), ("snapshot", 6)]),
            problems: Vec::new(),
        })
    );
    let empty = registry("const HOST_READ_REGISTRY: &[&str] = &[];").expect("found");
    assert_eq!((empty.entries, empty.problems), (Vec::new(), Vec::new()));
}

#[test]
fn only_a_top_level_const_of_that_name_is_the_registry() {
    assert_eq!(registry("const HOST_READS: &[&str] = &[\"Tensor::get\"];"), None);
    assert_eq!(registry("static HOST_READ_REGISTRY: &[&str] = &[\"Tensor::get\"];"), None);
    assert_eq!(registry("mod inner { const HOST_READ_REGISTRY: &[&str] = &[\"Tensor::get\"]; }"), None);
    assert_eq!(registry("fn f() { const HOST_READ_REGISTRY: &[&str] = &[]; }"), None);
}

#[test]
fn bad_entries_are_problems_and_good_ones_still_count() {
    let text = "\
const HOST_READ_REGISTRY: &[&str] = &[
    \"Tensor::get\",
    NAME,
    \"crate::Tensor::get\",
    \"Tensor::\",
    \"Tensor::get\",
    \"to_npy\",
];
const HOST_READ_REGISTRY: &[&str] = &[];
";
    let found = registry(text).expect("found");
    assert_eq!(found.entries, entries(&[("Tensor::get", 2), ("to_npy", 7)]));
    let problems: Vec<String> = found.problems.iter().map(|(line, message)| format!("{line}: {message}")).collect();
    assert_eq!(
        problems,
        [
            "9: HOST_READ_REGISTRY is defined twice — keep one registry",
            "3: a registry entry is not a string literal — write each entry as \"Type::method\"",
            "4: registry entry `crate::Tensor::get` is not `Type::method` or a function name — write it as \
             `Type::method`, or as a free function's bare name",
            "5: registry entry `Tensor::` is not `Type::method` or a function name — write it as \
             `Type::method`, or as a free function's bare name",
            "6: registry entry `Tensor::get` is listed twice — remove the repeat",
        ]
    );
}

#[test]
fn a_registry_that_is_not_a_list_is_a_problem() {
    let found = registry("const HOST_READ_REGISTRY: &[&str] =\n    READS;\n").expect("found");
    assert_eq!(found.line, 1);
    assert_eq!(found.entries, Vec::new());
    assert_eq!(
        found.problems,
        [(2, "HOST_READ_REGISTRY is not a list of string literals — write it as `&[\"Type::method\", …]`".to_owned())]
    );
}
