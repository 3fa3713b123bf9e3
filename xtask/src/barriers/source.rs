//! Reads one Rust file with `syn` and finds where it uses the names `check-barriers` watches
//! (`host_read_barrier`, `read_storage`, the memory store's read methods), and in which function.
//!
//! A use is a method call `x.name(..)`, a path call `name(..)` / `module::name(..)` /
//! `Type::name(..)`, or a path naming the function without calling it (`.map(read_storage)`).
//! Each use belongs to the innermost function around it: a free `fn` (keyed by its name), a method
//! of an `impl` block (keyed `Type::method`, with `Type` the last path segment of the impl's self
//! type, trait impls included), or a trait's default method (keyed `Trait::method`). Closures and
//! blocks belong to their function; a `fn` nested in another one is a function of its own. Uses
//! outside every function (in a `const` or `static`) are kept apart.
//!
//! Macro bodies are token streams `syn` does not parse. A macro whose body parses as a
//! comma-separated list of expressions (`write!`, `format!`, `assert!`, `vec![a, b]`, …) is read like
//! code; any other macro body (`vec![x; n]`, `macro_rules!`, custom syntax) is not looked into, so a
//! call hidden there goes unseen.

#[cfg(test)]
mod tests;

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Expr, Token, Type};

use crate::diagnostic::line_at;

/// One use of a watched name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Use {
    /// The watched name used.
    pub(crate) name: &'static str,
    /// The byte offset of the name in the file, which orders uses by source position.
    pub(crate) offset: usize,
    /// The 1-based line of the name.
    pub(crate) line: usize,
    /// Whether it is called, rather than only named.
    pub(crate) called: bool,
}

/// One function or method with a body, and the watched names its body uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Function {
    /// `Type::method`, `Trait::method` for a trait's default method, or a free function's name.
    pub(crate) key: String,
    /// The function's own name.
    pub(crate) name: String,
    /// The 1-based line of its name.
    pub(crate) line: usize,
    /// The uses in its body, outside nested functions, in source order.
    pub(crate) uses: Vec<Use>,
}

/// What one file uses: per function, and outside every function.
#[derive(Debug, Default)]
pub(crate) struct Uses {
    /// Every function with a body, in source order of its name.
    pub(crate) functions: Vec<Function>,
    /// Uses outside every function, in source order.
    pub(crate) loose: Vec<Use>,
}

/// A file `syn` cannot parse: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// The 1-based line of the error (1 when `syn` cannot place it).
    pub(crate) line: usize,
    /// `syn`'s message.
    pub(crate) message: String,
}

/// Parses the Rust source `text`.
///
/// A byte-order mark and a `#!` line are blanked out rather than cut off, so every span's byte offset
/// is an offset into `text` itself.
pub(crate) fn parse(text: &str) -> Result<syn::File, ParseError> {
    let mut source = text.to_owned();
    let mut start = 0;
    if source.starts_with('\u{feff}') {
        start = '\u{feff}'.len_utf8();
        source.replace_range(..start, &" ".repeat(start));
    }
    if let Some(rest) = source[start..].strip_prefix("#!")
        && !rest.trim_start().starts_with('[')
    {
        let end = source.find('\n').unwrap_or(source.len());
        source.replace_range(start..end, &" ".repeat(end - start));
    }
    syn::parse_file(&source)
        .map_err(|error| ParseError { line: line_at(text, offset(error.span())), message: error.to_string() })
}

/// The uses of the names in `watched` in `file`, parsed from `text`.
pub(crate) fn uses(file: &syn::File, text: &str, watched: &'static [&'static str]) -> Uses {
    let mut finder = Finder { text, watched, owners: Vec::new(), open: Vec::new(), uses: Uses::default() };
    finder.visit_file(file);
    finder.uses.functions.sort_by_key(|function| function.line);
    finder.uses
}

/// The byte offset where `span` starts.
fn offset(span: Span) -> usize {
    span.byte_range().start
}

/// The name a self type goes by in a registry key: the last segment of its path, through references,
/// parentheses and groups; `_` for any other type, which no key can name.
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Path(path) => {
            path.path.segments.last().map_or_else(|| "_".to_owned(), |segment| segment.ident.to_string())
        }
        Type::Reference(reference) => type_name(&reference.elem),
        Type::Paren(paren) => type_name(&paren.elem),
        Type::Group(group) => type_name(&group.elem),
        _ => "_".to_owned(),
    }
}

/// The visitor collecting [`Uses`].
struct Finder<'a> {
    /// The source, for line numbers.
    text: &'a str,
    /// The names to find.
    watched: &'static [&'static str],
    /// The self types of the `impl` blocks and the names of the traits around the current item,
    /// innermost last; `None` for a free function's scope.
    owners: Vec<Option<String>>,
    /// The functions being visited, innermost last.
    open: Vec<Function>,
    /// What has been found.
    uses: Uses,
}

impl Finder<'_> {
    /// Records a use of `ident` if it is a watched name.
    fn record(&mut self, ident: &syn::Ident, called: bool) -> bool {
        let Some(&name) = self.watched.iter().find(|&&name| ident == name) else { return false };
        let offset = offset(ident.span());
        let found = Use { name, offset, line: line_at(self.text, offset), called };
        match self.open.last_mut() {
            Some(function) => function.uses.push(found),
            None => self.uses.loose.push(found),
        }
        true
    }

    /// Visits the body of the function `ident`, whose key has the owner on top of [`Self::owners`].
    fn function(&mut self, ident: &syn::Ident, visit_body: impl FnOnce(&mut Self)) {
        let key = match self.owners.last() {
            Some(Some(owner)) => format!("{owner}::{ident}"),
            _ => ident.to_string(),
        };
        let line = line_at(self.text, offset(ident.span()));
        self.open.push(Function { key, name: ident.to_string(), line, uses: Vec::new() });
        // A free function's body may hold items of its own; none of them is a method of an outer impl.
        self.owners.push(None);
        visit_body(self);
        self.owners.pop();
        let mut function = self.open.pop().expect("pushed above");
        function.uses.sort_by_key(|found| found.offset);
        self.uses.functions.push(function);
    }
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_item_impl(&mut self, node: &'ast syn::ItemImpl) {
        self.owners.push(Some(type_name(&node.self_ty)));
        visit::visit_item_impl(self, node);
        self.owners.pop();
    }

    fn visit_item_trait(&mut self, node: &'ast syn::ItemTrait) {
        self.owners.push(Some(node.ident.to_string()));
        visit::visit_item_trait(self, node);
        self.owners.pop();
    }

    fn visit_item_fn(&mut self, node: &'ast syn::ItemFn) {
        self.owners.push(None);
        self.function(&node.sig.ident, |finder| visit::visit_item_fn(finder, node));
        self.owners.pop();
    }

    fn visit_impl_item_fn(&mut self, node: &'ast syn::ImplItemFn) {
        self.function(&node.sig.ident, |finder| visit::visit_impl_item_fn(finder, node));
    }

    fn visit_trait_item_fn(&mut self, node: &'ast syn::TraitItemFn) {
        if node.default.is_some() {
            self.function(&node.sig.ident, |finder| visit::visit_trait_item_fn(finder, node));
        }
    }

    fn visit_expr_call(&mut self, node: &'ast syn::ExprCall) {
        for attr in &node.attrs {
            self.visit_attribute(attr);
        }
        let recorded = match &*node.func {
            Expr::Path(path) => path.path.segments.last().is_some_and(|segment| self.record(&segment.ident, true)),
            _ => false,
        };
        if !recorded {
            self.visit_expr(&node.func);
        }
        for arg in &node.args {
            self.visit_expr(arg);
        }
    }

    fn visit_expr_method_call(&mut self, node: &'ast syn::ExprMethodCall) {
        self.record(&node.method, true);
        visit::visit_expr_method_call(self, node);
    }

    fn visit_expr_path(&mut self, node: &'ast syn::ExprPath) {
        if let Some(segment) = node.path.segments.last() {
            self.record(&segment.ident, false);
        }
        visit::visit_expr_path(self, node);
    }

    fn visit_macro(&mut self, node: &'ast syn::Macro) {
        if let Ok(args) = node.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            for arg in &args {
                self.visit_expr(arg);
            }
        }
        visit::visit_macro(self, node);
    }
}
