//! Topologies: the directed links between a cluster's devices, numbered, and routes over them.
//!
//! A ring is laid out as a torus of `ranks × 1`, so both share one numbering and one router.
//! Link ids and routes are computed arithmetically: [`ClusterSpec::route`] never builds the
//! link list.

use std::fmt;

use super::{ClusterSpec, ConfigError};

/// How the devices of a cluster are joined. Device `r` is rank `r`.
///
/// Links are directed; [`ClusterSpec::links`] lists them in this order (a link's index is its
/// id):
///
/// - `Ring` of `n` ranks: for each rank `i` in order, the link `i → i+1` then `i → i−1`
///   (mod `n`), so link `2i` goes forward and `2i+1` backward. With `n = 2` the two are the same,
///   so there is one link per rank: link 0 is `0 → 1`, link 1 is `1 → 0`. With `n = 1` there are
///   none.
/// - `Switch`: for each rank `r` in order, its up link `r → switch` (id `2r`) then its down link
///   `switch → r` (id `2r+1`).
/// - `Torus2d { dims: [x, y] }`: rank `r` sits at `(r % x, r / x)`. For each rank in order, its
///   links to its `+x`, `−x`, `+y` and `−y` neighbours (with wrap-around), leaving out a
///   dimension of size 1 (its neighbour is itself) and the `−` link of a dimension of size 2 (it
///   is the same neighbour as `+`). Every rank has the same number `k` of links, and rank `r`'s
///   links are ids `k·r .. k·r+k`. A ring of `n` is exactly the torus `[n, 1]`.
///
/// Routes ([`ClusterSpec::route`]): on a ring, the shorter way round, going forward (to
/// increasing ranks) on a tie; through a switch, up from the source then down to the
/// destination; on a torus, dimension-ordered: along x first, then along y, each the shorter
/// way with ties forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topology {
    /// Each device is linked to its two neighbours on a ring (`topology = "ring"`).
    Ring,
    /// Each device has a link up to a central switch and a link down from it
    /// (`topology = "switch"`).
    Switch,
    /// A 2-D grid with wrap-around (`topology = "torus2d"`, `torus_dims = [x, y]`).
    Torus2d {
        /// Size of the grid along x and along y; their product is the number of ranks.
        dims: [u32; 2],
    },
}

impl Topology {
    /// The name used for `cluster.topology` in a config: "ring", "switch" or "torus2d".
    pub fn name(&self) -> &'static str {
        match self {
            Topology::Ring => "ring",
            Topology::Switch => "switch",
            Topology::Torus2d { .. } => "torus2d",
        }
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topology::Torus2d { dims: [x, y] } => write!(f, "torus2d {x}x{y}"),
            _ => f.write_str(self.name()),
        }
    }
}

/// One end of a [`Link`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// The device of this rank.
    Device(u32),
    /// The central switch of a [`Topology::Switch`] cluster.
    Switch,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Device(rank) => write!(f, "device {rank}"),
            Endpoint::Switch => f.write_str("switch"),
        }
    }
}

/// A directed link: data crosses it from `from` to `to`, at the cluster's link bandwidth and
/// latency. The other direction is a different link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Link {
    /// Where data enters the link.
    pub from: Endpoint,
    /// Where data leaves the link.
    pub to: Endpoint,
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.from, self.to)
    }
}

/// Why [`ClusterSpec::route`] found no route.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// An endpoint is not a rank of the cluster.
    #[error("no route from rank {from} to rank {to}: rank {rank} is out of range for a cluster of {ranks} ranks")]
    RankOutOfRange {
        /// The source rank asked for.
        from: u32,
        /// The destination rank asked for.
        to: u32,
        /// The one of them that is out of range (the source if both are).
        rank: u32,
        /// The number of ranks.
        ranks: u32,
    },
    /// The cluster spec does not validate, so its links are not defined.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A `dims[0] × dims[1]` torus: coordinates, link ids and neighbours.
struct Grid {
    dims: [u32; 2],
    /// Distinct neighbours along each axis: 0 for size 1, 1 for size 2, else 2.
    degree: [usize; 2],
}

impl Grid {
    fn new(dims: [u32; 2]) -> Grid {
        Grid { dims, degree: dims.map(|n| (n as usize).saturating_sub(1).min(2)) }
    }

    /// Links per node.
    fn per_node(&self) -> usize {
        self.degree[0] + self.degree[1]
    }

    fn coords(&self, node: u32) -> [u32; 2] {
        [node % self.dims[0], node / self.dims[0]]
    }

    fn node(&self, [x, y]: [u32; 2]) -> u32 {
        y * self.dims[0] + x
    }

    /// Whether `node` has a link along `axis` in this direction.
    fn has_link(&self, axis: usize, forward: bool) -> bool {
        self.degree[axis] > usize::from(!forward)
    }

    fn link_id(&self, node: u32, axis: usize, forward: bool) -> usize {
        let offset = if axis == 0 { 0 } else { self.degree[0] };
        node as usize * self.per_node() + offset + usize::from(!forward)
    }

    fn neighbour(&self, node: u32, axis: usize, forward: bool) -> u32 {
        let mut at = self.coords(node);
        let n = self.dims[axis];
        at[axis] = match (forward, at[axis]) {
            (true, a) if a + 1 == n => 0,
            (true, a) => a + 1,
            (false, 0) => n - 1,
            (false, a) => a - 1,
        };
        self.node(at)
    }
}

impl ClusterSpec {
    /// The torus a ring or torus cluster is laid out on; `None` for a switch.
    fn grid(&self) -> Option<Grid> {
        match self.topology {
            Topology::Ring => Some(Grid::new([self.ranks, 1])),
            Topology::Torus2d { dims } => Some(Grid::new(dims)),
            Topology::Switch => None,
        }
    }

    /// The number of links, `links().len()` without building the list (0 if the cluster does
    /// not validate).
    pub fn link_count(&self) -> usize {
        if self.validate().is_err() {
            return 0;
        }
        match self.grid() {
            Some(grid) => self.ranks as usize * grid.per_node(),
            None => 2 * self.ranks as usize,
        }
    }

    /// The directed links, in the order documented on [`Topology`]; a link's index is its id.
    /// Empty if the cluster does not pass [`ClusterSpec::validate`].
    pub fn links(&self) -> Vec<Link> {
        let mut links = Vec::with_capacity(self.link_count());
        if self.validate().is_err() {
            return links;
        }
        match self.grid() {
            Some(grid) => {
                for node in 0..self.ranks {
                    for (axis, forward) in [(0, true), (0, false), (1, true), (1, false)] {
                        if grid.has_link(axis, forward) {
                            let to = grid.neighbour(node, axis, forward);
                            links.push(Link { from: Endpoint::Device(node), to: Endpoint::Device(to) });
                        }
                    }
                }
            }
            None => {
                for rank in 0..self.ranks {
                    links.push(Link { from: Endpoint::Device(rank), to: Endpoint::Switch });
                    links.push(Link { from: Endpoint::Switch, to: Endpoint::Device(rank) });
                }
            }
        }
        links
    }

    /// The ids (indices into [`ClusterSpec::links`]) of the links a transfer from rank `from`
    /// to rank `to` crosses, in hop order, as documented on [`Topology`]; empty when
    /// `from == to`. Errors when a rank is out of range or the cluster does not validate.
    pub fn route(&self, from: u32, to: u32) -> Result<Vec<usize>, RouteError> {
        self.validate()?;
        if let Some(rank) = [from, to].into_iter().find(|&r| r >= self.ranks) {
            return Err(RouteError::RankOutOfRange { from, to, rank, ranks: self.ranks });
        }
        let mut hops = Vec::new();
        self.route_into(from, to, &mut hops);
        Ok(hops)
    }

    /// Appends the route from `from` to `to` to `hops`, for a valid cluster and ranks in range
    /// (what [`ClusterSpec::route`] checks first): the cost model's per-op path.
    pub(crate) fn route_into(&self, from: u32, to: u32, hops: &mut Vec<usize>) {
        if from == to {
            return;
        }
        let Some(grid) = self.grid() else {
            hops.extend([2 * from as usize, 2 * to as usize + 1]);
            return;
        };
        let target = grid.coords(to);
        let mut node = from;
        for (axis, (&n, &t)) in grid.dims.iter().zip(&target).enumerate() {
            let c = grid.coords(node)[axis];
            // Hops going forward; written so no intermediate exceeds `n`.
            let ahead = if t >= c { t - c } else { t + (n - c) };
            let (steps, forward) = if ahead <= n - ahead { (ahead, true) } else { (n - ahead, false) };
            for _ in 0..steps {
                hops.push(grid.link_id(node, axis, forward));
                node = grid.neighbour(node, axis, forward);
            }
        }
    }
}
