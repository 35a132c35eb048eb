//! The residual term of PCA scores: each stored vector's dropped length, and the weight that turns
//! `|q_perp| * |r|` into an estimate of the dropped part of the score (see `index::pca`).
//!
//! The weight is the one that best reproduces the exact top 10 of the catalog's own vectors: a sample of them is
//! searched as queries (each without its own product's views), and every weight on a grid re-ranks the same
//! candidates. A catalog
//! whose neighbours are near-copies (views, crops) fits a high weight; one of unrelated products fits a low one, and
//! a weight of 0 is the plain PCA score.

use rayon::prelude::*;

use super::pca::{dot, Projection, SplitMix};
use super::store::Store;
use super::VectorIndex;

/// Catalog vectors searched to fit the weight: enough to tell weights 1/16 apart, a few milliseconds of build.
const SAMPLES: usize = 256;
/// Candidates each sample re-ranks: the exact top 10 is among the PCA score's best 128 in practice.
const CANDIDATES: usize = 128;
/// Weights tried: `0, 1/16, ..., 1`.
const STEPS: usize = 16;
/// Neighbours the fit reproduces (recall@10, what docs/shard-format.md reports).
const TOP: usize = 10;

/// `|r|` of every stored vector, or nothing for the identity (which drops nothing).
pub(super) fn lengths(projection: &Projection, store: &Store) -> Vec<f32> {
    if matches!(projection, Projection::Identity { .. }) {
        return Vec::new();
    }
    let (mean_sq, projected_mean) = projection.mean_terms();
    // In parallel: this runs when a shard opens (about 15 ms for 100k vectors of 256 on one core, half on two).
    // `|r| <= |x - mean| <= 2` for a valid build; the bound keeps a crafted file's scores within a valid one's order.
    (0..store.len())
        .into_par_iter()
        .map(|n| {
            let stored_sq = store.self_dot(n);
            (1.0 - mean_sq - 2.0 * store.dot(n, &projected_mean) - stored_sq).max(0.0).sqrt().min(2.0)
        })
        .collect()
}

impl VectorIndex {
    /// Fits and sets the residual weight; `unit(n)` is node `n`'s model vector, normalized. Leaves the weight at 0
    /// for the identity, or when the catalog is too small to have ten neighbours.
    pub(super) fn fit_residual_weight(&mut self, unit: impl Fn(usize) -> Vec<f32>, seed: u64) {
        let lens = lengths(&self.projection, &self.store);
        if lens.is_empty() || self.len() <= TOP {
            return;
        }
        let mut rng = SplitMix(seed ^ 0x7e51_d0a1);
        let mut hits = [0usize; STEPS + 1];
        for _ in 0..SAMPLES.min(self.len()) {
            let s = (rng.next_u64() % self.len() as u64) as usize;
            let q = unit(s);
            let (projected, offset) = self.projection.query(&q);
            let dropped = Projection::dropped_len(&projected);
            let found = self.graph.search(CANDIDATES, |n| offset + self.store.dot(n as usize, &projected));
            // (exact score, PCA score, dropped part) of each candidate not of the sample's product: a search
            // collapses a product's views into one hit, so how the term orders them does not matter.
            let scored: Vec<(f32, f32, f32)> = found
                .iter()
                .filter(|c| self.products[c.node as usize] != self.products[s])
                .map(|c| (dot(&unit(c.node as usize), &q), c.score, dropped * lens[c.node as usize]))
                .collect();
            let truth = top(&scored, |c| c.0);
            for (step, hit) in hits.iter_mut().enumerate() {
                let w = step as f32 / STEPS as f32;
                *hit += top(&scored, |c| c.1 + w * c.2).iter().filter(|i| truth.contains(i)).count();
            }
        }
        // The first best: ties keep the smaller weight, the closer to plain PCA.
        let best = (0..=STEPS).fold(0, |b, step| if hits[step] > hits[b] { step } else { b });
        self.residuals = lens;
        self.set_residual_weight(best as f32 / STEPS as f32);
    }
}

/// Positions of the [`TOP`] largest keys (ties by position).
fn top<T>(items: &[T], key: impl Fn(&T) -> f32) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| key(&items[b]).total_cmp(&key(&items[a])).then(a.cmp(&b)));
    order.truncate(TOP);
    order
}
