//! kb-ccl integration tests: one file per behaviour.

mod algorithms;
mod all_reduce;
mod collectives;
mod errors;
mod groups;
mod reference;
mod timing;
