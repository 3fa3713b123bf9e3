//! Integration tests of kb-tp, one file per behaviour. Numbers are checked against the plain-loop
//! reference in [`reference`], never against kb-tp itself.

mod layers;
mod mappings;
mod mlp;
mod parallel_state;
mod reference;
mod timing;
