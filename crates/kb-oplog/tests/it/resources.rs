//! The cost model's resource table: every resource has one index and every index one resource,
//! and within a device the units two-resource stages pair come in the order they acquire them.

use std::collections::HashSet;

use kb_oplog::{CostModel, MachineSpec, Pe, Resource, Topology};

#[test]
fn every_resource_has_one_index_and_two_resource_stages_acquire_unit_hbm_host_in_order() {
    for (topology, ranks, pes) in
        [(Topology::Ring, 3, 2), (Topology::Switch, 4, 1), (Topology::Torus2d { dims: [2, 3] }, 6, 3)]
    {
        let mut spec = MachineSpec::default();
        spec.cluster.ranks = ranks;
        spec.cluster.topology = topology;
        spec.device.pes = pes;
        let model = CostModel::new(&spec);
        let table = model.resource_specs();
        let mut all = Vec::new();
        for device in 0..ranks {
            for pe in 0..pes {
                let pe = Pe { device, pe };
                all.extend([Resource::Dma(pe), Resource::Gemm(pe), Resource::Vector(pe)]);
            }
            all.extend([Resource::Hbm(device), Resource::Host(device)]);
        }
        all.extend((0..spec.links().len()).map(Resource::Link));
        assert_eq!(all.len(), table.len(), "{topology:?}: one table entry per resource");
        let indices: HashSet<_> = all.iter().map(|&r| model.index(r)).collect();
        assert_eq!(indices.len(), all.len(), "{topology:?}: no two resources share an index");
        for &r in &all {
            let i = model.index(r);
            assert!((i as usize) < table.len(), "{topology:?}: {r:?} at {i}");
            assert_eq!(model.resource(i), r, "{topology:?}: index {i} names its resource back");
        }
        for device in 0..ranks {
            let (hbm, host) = (model.index(Resource::Hbm(device)), model.index(Resource::Host(device)));
            assert!(hbm < host, "{topology:?}: an HBM comes before its host channel");
            for pe in 0..pes {
                let pe = Pe { device, pe };
                for unit in [Resource::Dma(pe), Resource::Gemm(pe), Resource::Vector(pe)] {
                    assert!(model.index(unit) < hbm, "{topology:?}: {unit:?} comes before its HBM");
                }
            }
        }
    }
}
