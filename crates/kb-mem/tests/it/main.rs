//! Integration tests of kb-mem's public API, one file per behaviour.

mod allocate_and_store;
