//! Which function a use belongs to, what counts as a use, and where it is.

use super::{Function, ParseError, Use, Uses, parse, uses};

/// The names these tests watch.
const WATCHED: &[&str] = &["host_read_barrier", "read_storage", "read_region"];

/// The uses in `text`.
fn scan(text: &str) -> Uses {
    uses(&parse(text).expect("the test source parses"), text, WATCHED)
}

/// Each function of `text` as `key@line: name@line…`, with `()` after a called name.
fn summary(text: &str) -> Vec<String> {
    let found = scan(text);
    let describe = |found: &Use| format!("{}{}@{}", found.name, if found.called { "()" } else { "" }, found.line);
    let mut lines: Vec<String> = found
        .functions
        .iter()
        .map(|function: &Function| {
            let uses: Vec<String> = function.uses.iter().map(describe).collect();
            format!("{}@{}: {}", function.key, function.line, uses.join(" "))
        })
        .collect();
    if !found.loose.is_empty() {
        lines.push(format!("loose: {}", found.loose.iter().map(describe).collect::<Vec<_>>().join(" ")));
    }
    lines
}

#[test]
fn methods_are_keyed_by_the_last_segment_of_their_self_type() {
    let text = "\
impl Tensor {
    fn to_vec(&self) { self.host_read_barrier(); barrier::read_storage(self); }
}
impl fmt::Debug for crate::tensor::Tensor<f32> {
    fn fmt(&self) { read_storage(self); }
}
impl<'a> fmt::Display for &'a Tensor {
    fn fmt(&self) {}
}
impl<T> Reader for [T] {
    fn read(&self) { read_storage(self); }
}
";
    assert_eq!(
        summary(text),
        [
            "Tensor::to_vec@2: host_read_barrier()@2 read_storage()@2",
            "Tensor::fmt@5: read_storage()@5",
            "Tensor::fmt@8: ",
            "_::read@11: read_storage()@11",
        ]
    );
}

#[test]
fn free_functions_trait_defaults_and_nested_functions_are_functions_of_their_own() {
    let text = "\
fn snapshot() {
    host_read_barrier();
    fn helper() { read_storage(); }
    let read = |t| t.read_storage();
}
trait HostRead {
    fn declared(&self);
    fn provided(&self) { Self::read_storage(self) }
}
impl Tensor {
    fn outer(&self) {
        fn inner() { read_region(); }
    }
}
";
    assert_eq!(
        summary(text),
        [
            "snapshot@1: host_read_barrier()@2 read_storage()@4",
            "helper@3: read_storage()@3",
            "HostRead::provided@8: read_storage()@8",
            "Tensor::outer@11: ",
            "inner@12: read_region()@12",
        ]
    );
}

#[test]
fn a_path_naming_a_function_is_a_use_but_not_a_call() {
    let text = "\
fn gather(store: &Store) {
    regions.map(MemoryStore::read_region);
    let barrier = host_read_barrier;
    store.read_region(&r);
    read_storage::<f32>(&t);
    x.read_storage;
}
static READ: fn() = read_storage;
";
    assert_eq!(
        summary(text),
        ["gather@1: read_region@2 host_read_barrier@3 read_region()@4 read_storage()@5", "loose: read_storage@8",]
    );
}

#[test]
fn macro_bodies_are_read_when_they_are_expressions() {
    let text = "\
fn fmt(&self, f: &mut Formatter) -> Result {
    write!(f, \"{:?}\", read_storage(self))?;
    assert!(self.host_read_barrier().is_ok(), \"drained\");
    let zeros = vec![read_region(); 4];
    host_read_barrier()
}
";
    assert_eq!(summary(text), ["fmt@1: read_storage()@2 host_read_barrier()@3 host_read_barrier()@5"]);
}

#[test]
fn uses_are_in_source_order_with_byte_offsets_into_the_text() {
    let text = "fn f() {\n    let a = { read_storage() }; host_read_barrier(read_region());\n}\n";
    let found = scan(text);
    let offsets: Vec<(&str, usize)> = found.functions[0].uses.iter().map(|found| (found.name, found.offset)).collect();
    let at = |name: &str| text.find(name).expect("in the text");
    assert_eq!(
        offsets,
        [
            ("read_storage", at("read_storage")),
            ("host_read_barrier", at("host_read_barrier")),
            ("read_region", at("read_region"))
        ]
    );
}

#[test]
fn a_byte_order_mark_and_a_shebang_keep_offsets_and_lines() {
    let text = "\u{feff}#!/usr/bin/env run-cargo-script\n\nfn main() { read_storage(); }\n";
    let found = scan(text);
    let read = &found.functions[0].uses[0];
    assert_eq!((read.line, read.offset), (3, text.find("read_storage").expect("in the text")));
    let attribute = "#![allow(unused)]\nfn main() { read_storage(); }\n";
    assert_eq!(summary(attribute), ["main@2: read_storage()@2"], "an inner attribute is no shebang");
}

#[test]
fn a_syntax_error_is_placed_at_its_line() {
    let Err(error) = parse("fn ok() {}\n\nfn broken() {\n    let x = 1 +;\n}\n") else { panic!("parsed") };
    assert_eq!(error, ParseError { line: 4, message: "expected an expression".to_owned() });
    let Err(error) = parse("fn ok() {}\n\nfn broken( {\n}\n") else { panic!("parsed") };
    assert_eq!(error.line, 3, "an unbalanced delimiter is placed too: {error:?}");
}
