//! The search graph: HNSW's bottom layer as adjacency lists, a sample of entry points, and the beam search.
//!
//! Only the bottom layer is kept. In this many dimensions the upper layers mostly pick a starting point, and scoring
//! a few hundred sampled entry points does that as well for a fraction of the bytes (instant-distance's upper layers
//! hold ~40% of the nodes again). Neighbour lists are stored sorted, as gaps, so they compress.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::error::Result;
use crate::wire::{put_varint, ByteReader};

/// Most graph neighbours a vector may have: instant-distance's bottom layer holds `2 M = 64`.
pub const MAX_DEGREE: usize = 64;

/// A node and its score against the query; orders by score, then lower node first, so results are deterministic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Scored {
    pub(crate) score: f32,
    pub(crate) node: u32,
}

impl Eq for Scored {}

impl Ord for Scored {
    /// `a > b` when `a` is the better hit.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score.total_cmp(&other.score).then_with(|| other.node.cmp(&self.node))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Adjacency lists over nodes `0..len`, every id checked `< len`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Graph {
    /// `neighbours[offsets[n]..offsets[n + 1]]` are node `n`'s neighbours, ascending.
    offsets: Vec<u32>,
    neighbours: Vec<u32>,
    /// Where every search starts, ascending; never empty when there are nodes.
    entries: Vec<u32>,
}

impl Graph {
    /// A graph from neighbour lists and entry points, all ids `< lists.len()` (the builder's invariant); lists are
    /// sorted, deduplicated, stripped of self-loops and cut to [`MAX_DEGREE`].
    pub(crate) fn new(lists: Vec<Vec<u32>>, mut entries: Vec<u32>) -> Self {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        let mut neighbours = Vec::new();
        offsets.push(0);
        for (n, mut list) in lists.into_iter().enumerate() {
            list.truncate(MAX_DEGREE);
            list.sort_unstable();
            list.dedup();
            neighbours.extend(list.into_iter().filter(|&m| m as usize != n));
            offsets.push(neighbours.len() as u32);
        }
        entries.sort_unstable();
        entries.dedup();
        Graph { offsets, neighbours, entries }
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Total number of edges.
    pub(crate) fn edges(&self) -> usize {
        self.neighbours.len()
    }

    fn neighbours(&self, n: u32) -> &[u32] {
        let (start, end) = (self.offsets[n as usize] as usize, self.offsets[n as usize + 1] as usize);
        &self.neighbours[start..end]
    }

    /// The `ef` best nodes a beam search finds, best first. `score` is called once per visited node.
    pub(crate) fn search(&self, ef: usize, mut score: impl FnMut(u32) -> f32) -> Vec<Scored> {
        let ef = ef.max(1);
        let mut visited = vec![0u64; self.len().div_ceil(64)];
        let mut candidates = BinaryHeap::new();
        let mut results: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(ef + 1);
        let mut visit = |node: u32, candidates: &mut BinaryHeap<Scored>, results: &mut BinaryHeap<Reverse<Scored>>| {
            let (word, bit) = (node as usize / 64, 1u64 << (node % 64));
            if visited[word] & bit != 0 {
                return;
            }
            visited[word] |= bit;
            let s = Scored { score: score(node), node };
            if results.len() < ef || results.peek().is_some_and(|w| s > w.0) {
                candidates.push(s);
                results.push(Reverse(s));
                if results.len() > ef {
                    results.pop();
                }
            }
        };
        for &e in &self.entries {
            visit(e, &mut candidates, &mut results);
        }
        while let Some(c) = candidates.pop() {
            if results.len() >= ef && results.peek().is_some_and(|w| c < w.0) {
                break;
            }
            for &m in self.neighbours(c.node) {
                visit(m, &mut candidates, &mut results);
            }
        }
        results.into_sorted_vec().into_iter().map(|Reverse(s)| s).collect()
    }

    /// Section bytes, all varints: entry count and ascending entries as gaps; then per node its degree, its first
    /// neighbour as a zig-zag offset from the node, and the rest as gaps minus one.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, self.entries.len() as u32);
        put_gaps(&mut out, &self.entries, 0);
        for n in 0..self.len() as u32 {
            let list = self.neighbours(n);
            put_varint(&mut out, list.len() as u32);
            put_gaps(&mut out, list, n);
        }
        out
    }

    /// The largest graph section for `count` nodes: every varint at its longest.
    pub(crate) fn max_encoded_len(count: usize) -> Option<usize> {
        count.checked_mul(MAX_DEGREE + 2)?.checked_add(1)?.checked_mul(5)
    }

    /// Reads what [`Graph::encode`] wrote for `count` nodes, checking every id, so searches cannot go out of bounds.
    pub(crate) fn decode(bytes: &[u8], count: usize) -> Result<Self> {
        let mut r = ByteReader::new(bytes, "graph");
        // Every node takes at least one byte: check before allocating for a count the header may have inflated.
        if r.remaining() < count {
            return Err(r.error(format!("{} bytes cannot hold {count} nodes", r.remaining())));
        }
        let entry_count = r.varint()? as usize;
        if entry_count > count || (entry_count == 0) != (count == 0) {
            return Err(r.error(format!("{entry_count} entry points for {count} nodes")));
        }
        let entries = read_gaps(&mut r, entry_count, 0, count)?;
        let mut offsets = Vec::with_capacity(count + 1);
        let mut neighbours = Vec::new();
        offsets.push(0);
        for n in 0..count as u32 {
            let degree = r.varint()? as usize;
            if degree > MAX_DEGREE {
                return Err(r.error(format!("node {n} has {degree} neighbours, more than {MAX_DEGREE}")));
            }
            neighbours.extend(read_gaps(&mut r, degree, n, count)?);
            offsets.push(neighbours.len() as u32);
        }
        r.finish()?;
        Ok(Graph { offsets, neighbours, entries })
    }
}

/// Ascending ids: the first as a zig-zag offset from `base`, the rest as gaps minus one.
fn put_gaps(out: &mut Vec<u8>, ids: &[u32], base: u32) {
    let mut prev = None;
    for &id in ids {
        match prev {
            None => put_varint(out, zigzag(i64::from(id) - i64::from(base))),
            Some(p) => put_varint(out, id - p - 1),
        }
        prev = Some(id);
    }
}

fn read_gaps(r: &mut ByteReader<'_>, len: usize, base: u32, count: usize) -> Result<Vec<u32>> {
    let mut ids = Vec::with_capacity(len.min(r.remaining()));
    let mut prev: Option<i64> = None;
    for _ in 0..len {
        let v = r.varint()?;
        let id = match prev {
            None => i64::from(base) + unzigzag(v),
            Some(p) => p + i64::from(v) + 1,
        };
        if id < 0 || id >= count as i64 {
            return Err(r.error(format!("node id {id} is outside 0..{count}")));
        }
        ids.push(id as u32);
        prev = Some(id);
    }
    Ok(ids)
}

fn zigzag(v: i64) -> u32 {
    ((v << 1) ^ (v >> 63)) as u32
}

fn unzigzag(v: u32) -> i64 {
    i64::from(v >> 1) ^ -i64::from(v & 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring: node n links to n - 1 and n + 1.
    fn ring(n: u32) -> Graph {
        let lists = (0..n).map(|i| vec![(i + n - 1) % n, (i + 1) % n, i]).collect();
        Graph::new(lists, vec![0])
    }

    #[test]
    fn beam_search_walks_to_the_best_node() {
        let g = ring(100);
        assert_eq!(g.edges(), 200);
        let target = 60i32;
        let found = g.search(3, |n| -((n as i32 - target).abs() as f32));
        assert_eq!(found.iter().map(|s| s.node).collect::<Vec<_>>(), vec![60, 59, 61]);
    }

    #[test]
    fn encoding_round_trips_and_checks_ids() {
        let g = ring(50);
        let bytes = g.encode();
        assert!(bytes.len() <= Graph::max_encoded_len(50).unwrap());
        assert_eq!(Graph::decode(&bytes, 50).unwrap(), g);
        assert!(Graph::decode(&bytes, 49).is_err());
        assert!(Graph::decode(&bytes, 51).is_err());
        assert!(Graph::decode(&bytes[..bytes.len() - 1], 50).is_err());
        assert_eq!(Graph::decode(&[0], 0).unwrap().len(), 0);
        // One entry, node 0 with one neighbour at offset +5 from node 0: out of bounds for 2 nodes.
        assert!(Graph::decode(&[1, 0, 1, 10, 0], 2).is_err());
        assert!(Graph::decode(&[1, 0, 1, 2, 0], 2).is_ok());
    }

    #[test]
    fn zigzag_round_trips() {
        for v in [0i64, 1, -1, 5, -5, u32::MAX as i64 / 2, -(u32::MAX as i64 / 2) - 1] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}
