//! The host-read barriers: the closed set of ways the host observes device data.
//!
//! Anything that lets the host see a tensor's bytes — reading it into a `Vec` or an `ndarray`,
//! one element, printing it, writing it to `.npy`, the source side of a copy — is one of the
//! methods named in [`HOST_READ_REGISTRY`], and each calls `host_read_barrier` before it reads
//! through `read_storage`, the only function that reads a tensor's bytes from the memory store.
//! `cargo xtask check-barriers` enforces all three facts on the source, both ways: a storage read
//! outside the registry, a registered method without a barrier, and a stale entry all fail.
//!
//! The barrier makes the host wait (in simulated time) until every op that wrote the tensor's
//! storage has ended, then replays Phase 2 just far enough that the bytes are final. A write target takes no barrier:
//! writes are ops, ordered by the log.

use crate::{SchedError, Tensor};

/// Every method through which the host reads tensor data, as `Type::method`.
pub const HOST_READ_REGISTRY: &[&str] =
    &["Tensor::to_vec", "Tensor::to_ndarray", "Tensor::get", "Tensor::fmt", "Tensor::to_npy", "Tensor::copy_from"];

/// Waits until every writer of `tensor`'s storage has ended, then replays the op log up to the
/// last of them. `what` names
/// the host read for errors. In a timing-only runtime this is an error: there is no data.
pub(crate) fn host_read_barrier(tensor: &Tensor, what: &'static str) -> Result<(), SchedError> {
    let rt = tensor.runtime();
    if !rt.keeps_data() {
        return Err(SchedError::TimingOnly { what });
    }
    // Every op that wrote a part of the storage (in recording order; ended ones may be gone).
    let writes: Vec<_> = {
        let inner = rt.inner.borrow();
        inner.storages.get(tensor.storage_id()).map(|s| s.hazards.writes().collect()).unwrap_or_default()
    };
    for &op in &writes {
        rt.wait_op(op)?;
    }
    if let Some(&last) = writes.last() {
        rt.inner.borrow_mut().sim.replay_until(last)?;
    }
    Ok(())
}

/// The bytes of `tensor`, packed row-major. Only the registered host reads call this, after
/// `host_read_barrier`.
pub(crate) fn read_storage(tensor: &Tensor) -> Result<Vec<u8>, SchedError> {
    let region = tensor.region()?;
    let inner = tensor.runtime().inner.borrow();
    Ok(inner.sim.store()?.read_region(&region)?)
}

#[cfg(test)]
mod tests {
    use super::HOST_READ_REGISTRY;

    #[test]
    fn the_registry_names_each_method_once() {
        let mut names = HOST_READ_REGISTRY.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), HOST_READ_REGISTRY.len());
    }
}
