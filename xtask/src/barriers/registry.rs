//! Reads the host-read registry, `const HOST_READ_REGISTRY: &[&str] = &["Type::method", …];`, from
//! the parsed `barrier.rs`.
//!
//! Only a `const` at the top level of the file counts. Its value must be a reference to an array of
//! string literals; each entry is `Type::method` or a free function's bare name. Whatever breaks that
//! shape is a problem to report at its line, not a reason to stop: the entries that do parse are
//! still checked.

#[cfg(test)]
mod tests;

use syn::spanned::Spanned;
use syn::{Expr, Item, Lit};

use crate::diagnostic::line_at;

/// The name of the registry constant.
pub(crate) const NAME: &str = "HOST_READ_REGISTRY";

/// One registry entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// `Type::method`, or a free function's name.
    pub(crate) name: String,
    /// The 1-based line of its literal.
    pub(crate) line: usize,
}

/// The registry, as far as it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registry {
    /// The 1-based line of the constant's name.
    pub(crate) line: usize,
    /// The well-formed entries, in source order, each once.
    pub(crate) entries: Vec<Entry>,
    /// What is wrong with the registry's shape, as `(line, message — how to fix)`.
    pub(crate) problems: Vec<(usize, String)>,
}

/// The registry in `file` (parsed from `text`), or `None` if the file defines no [`NAME`] constant.
pub(crate) fn find(file: &syn::File, text: &str) -> Option<Registry> {
    let line = |span: proc_macro2::Span| line_at(text, span.byte_range().start);
    let mut consts = file.items.iter().filter_map(|item| match item {
        Item::Const(item) if item.ident == NAME => Some(item),
        _ => None,
    });
    let first = consts.next()?;
    let mut registry = Registry { line: line(first.ident.span()), entries: Vec::new(), problems: Vec::new() };
    for again in consts {
        registry.problems.push((line(again.ident.span()), format!("{NAME} is defined twice — keep one registry")));
    }
    let array = match &*first.expr {
        Expr::Reference(reference) => match &*reference.expr {
            Expr::Array(array) => Some(array),
            _ => None,
        },
        _ => None,
    };
    let Some(array) = array else {
        let message = format!("{NAME} is not a list of string literals — write it as `&[\"Type::method\", …]`");
        registry.problems.push((line(first.expr.span()), message));
        return Some(registry);
    };
    for element in &array.elems {
        let Expr::Lit(syn::ExprLit { lit: Lit::Str(literal), .. }) = element else {
            let message = "a registry entry is not a string literal — write each entry as \"Type::method\"";
            registry.problems.push((line(element.span()), message.to_owned()));
            continue;
        };
        let entry = Entry { name: literal.value(), line: line(literal.span()) };
        if !well_formed(&entry.name) {
            let message = format!(
                "registry entry `{}` is not `Type::method` or a function name — write it as `Type::method`, \
                 or as a free function's bare name",
                entry.name
            );
            registry.problems.push((entry.line, message));
        } else if registry.entries.iter().any(|earlier| earlier.name == entry.name) {
            let message = format!("registry entry `{}` is listed twice — remove the repeat", entry.name);
            registry.problems.push((entry.line, message));
        } else {
            registry.entries.push(entry);
        }
    }
    Some(registry)
}

/// Whether `entry` is `Type::method` or a bare name, each part an identifier.
fn well_formed(entry: &str) -> bool {
    let parts: Vec<&str> = entry.split("::").collect();
    parts.len() <= 2 && parts.iter().all(|part| syn::parse_str::<syn::Ident>(part).is_ok())
}
