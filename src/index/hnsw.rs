//! Builds the search graph with instant-distance, deterministically, and reads its bottom layer out through serde.
//!
//! instant-distance keeps its links private and searches with a build-time `ef`, its own copy of every point and
//! unchecked indexing; it serializes with serde, though. So it builds, we serialize its graph with bincode (in
//! memory, never into a file) into a mirror of its layout, and [`Graph`] stores and searches the bottom layer.

use instant_distance::{Builder, Heuristic, Point};
use serde::{Deserialize, Serialize, Serializer};

use super::graph::Graph;
use super::pca::dot;
use crate::error::{Error, Result};

/// A stored vector as instant-distance sees it. Scores are on reconstructions `x^ = mean + P^T x'`:
/// `x^_a . x^_b = x'_a . x'_b + bias_a + bias_b` with `bias = (P mean) . x' + |mean|^2 / 2`.
#[derive(Clone)]
struct BuildPoint<'a> {
    v: &'a [f32],
    bias: f32,
}

impl Point for BuildPoint<'_> {
    fn distance(&self, other: &Self) -> f32 {
        1.0 - (dot(self.v, other.v) + self.bias + other.bias)
    }
}

impl Serialize for BuildPoint<'_> {
    /// Nothing: instant-distance writes its points into its serialized graph, and we only read the links.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

/// The bincode layout of `instant_distance::Hnsw` 0.6.1 (`=` pinned in Cargo.toml): `ef_search`, points, the
/// bottom layer (2 M = 64 slots per node, `u32::MAX` after the last) and the upper layers (M = 32 slots).
#[derive(Deserialize)]
struct Mirror {
    _ef_search: u64,
    _points: Vec<()>,
    zero: Vec<[[u32; 32]; 2]>,
    _layers: Vec<Vec<[u32; 32]>>,
}

/// What shapes the graph.
pub(crate) struct GraphParams {
    pub(crate) ef_construction: usize,
    pub(crate) seed: u64,
    /// Bottom-layer neighbours kept per node, nearest-diverse first.
    pub(crate) max_neighbors: usize,
}

/// Builds the graph over `rows` (stored vectors as f32) with their biases; node `i` is `rows[i]`.
pub(crate) fn build(rows: &[Vec<f32>], biases: &[f32], params: &GraphParams) -> Result<Graph> {
    let n = rows.len();
    let points: Vec<BuildPoint<'_>> = rows.iter().zip(biases).map(|(v, &bias)| BuildPoint { v, bias }).collect();
    let builder = Builder::default()
        .ef_construction(params.ef_construction)
        .seed(params.seed)
        // keep_pruned fills every list to 64 with near-duplicates; the bytes are better spent elsewhere.
        .select_heuristic(Some(Heuristic { extend_candidates: false, keep_pruned: false }));
    // instant-distance inserts in parallel with rayon, so the graph depends on thread timing; one thread makes the
    // same input give the same bytes.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::index(format!("cannot start the build thread: {e}")))?;
    let (hnsw, pids) = pool.install(|| builder.build_hnsw(points));
    let bytes = bincode::serialize(&hnsw).map_err(|e| Error::index(format!("cannot read the HNSW graph: {e}")))?;
    drop(hnsw);
    let mirror: Mirror =
        bincode::deserialize(&bytes).map_err(|e| Error::index(format!("cannot read the HNSW graph: {e}")))?;
    if mirror.zero.len() != n || pids.len() != n {
        return Err(Error::index(format!("the HNSW graph has {} nodes for {n} vectors", mirror.zero.len())));
    }
    // instant-distance numbers points in a shuffled order; map its ids back to ours.
    let mut node_of = vec![u32::MAX; n];
    for (node, pid) in pids.iter().enumerate() {
        let slot = node_of.get_mut(pid.into_inner() as usize).ok_or_else(|| Error::index("HNSW id out of range"))?;
        *slot = node as u32;
    }
    if node_of.contains(&u32::MAX) {
        return Err(Error::index("HNSW ids are not a permutation"));
    }
    let mut lists = vec![Vec::new(); n];
    for (pid, slots) in mirror.zero.iter().enumerate() {
        let node = node_of[pid] as usize;
        let links = slots.iter().flatten().take_while(|&&id| id != u32::MAX).take(params.max_neighbors);
        lists[node] = links.map(|&id| node_of.get(id as usize).copied().unwrap_or(u32::MAX)).collect();
        if lists[node].iter().any(|&m| m as usize >= n) {
            return Err(Error::index("HNSW link out of range"));
        }
    }
    // instant-distance's first ids are its upper layers' nodes, a random sample: they make good entry points.
    let entries = (n as f64).sqrt().ceil() as usize;
    let entries = node_of.iter().take(entries.clamp(1, n.max(1))).copied().filter(|&m| (m as usize) < n).collect();
    Ok(Graph::new(lists, entries))
}
