//! kb-ccl integration tests: one file per behaviour.

mod algorithms;
mod all_reduce;
mod all_to_all;
mod collectives;
mod errors;
mod gather_list;
mod groups;
mod p2p;
mod reference;
mod timing;
