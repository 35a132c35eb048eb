//! Ranks to recall@k and mAP, the exact fp32 reference scan, per-stage medians, and `.npy` dumps.

use std::path::Path;

use serde::Serialize;
use shoplens::Error;

/// Ranks past this count as "not found" in mAP@10 and recall@10.
pub const CUTOFF: usize = 10;

/// Recall@1/5/10 and mAP@10 over a set of queries. Each query has one relevant product, so its average precision
/// is `1 / rank` (0 past rank 10): mAP@10 equals the mean reciprocal rank cut at 10.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Scores {
    pub queries: usize,
    pub r1: f64,
    pub r5: f64,
    pub r10: f64,
    pub map10: f64,
}

impl Scores {
    /// From 1-based ranks (`None`: not in the results).
    pub fn from_ranks(ranks: &[Option<usize>]) -> Self {
        let n = ranks.len().max(1) as f64;
        let within = |k: usize| ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count() as f64 / n;
        let map10 = ranks.iter().map(|r| r.filter(|&r| r <= CUTOFF).map_or(0.0, |r| 1.0 / r as f64)).sum::<f64>() / n;
        Scores { queries: ranks.len(), r1: within(1), r5: within(5), r10: within(CUTOFF), map10 }
    }
}

/// The catalog's raw model vectors (normalized), for the exact fp32 reference: what a brute-force search over the
/// unprojected, unquantized embeddings finds.
pub struct Reference {
    /// `(product index, vector)`, views of one product adjacent.
    pub vectors: Vec<(u32, Vec<f32>)>,
    pub products: usize,
}

impl Reference {
    /// Each product's score (best view) for a normalized query.
    pub fn product_scores(&self, query: &[f32]) -> Vec<f32> {
        let mut best = vec![f32::NEG_INFINITY; self.products];
        for (p, v) in &self.vectors {
            let s: f32 = v.iter().zip(query).map(|(a, b)| a * b).sum();
            let slot = &mut best[*p as usize];
            *slot = slot.max(s);
        }
        best
    }

    /// The products in score order, best first, at most `k`.
    pub fn top(&self, query: &[f32], k: usize) -> Vec<u32> {
        let scores = self.product_scores(query);
        let mut order: Vec<u32> = (0..scores.len() as u32).collect();
        order.sort_by(|&a, &b| scores[b as usize].total_cmp(&scores[a as usize]).then(a.cmp(&b)));
        order.truncate(k);
        order
    }

    /// 1-based rank of `expected` among all products for a query of one or more vectors (each product scored by
    /// its best vector; ties count in its favour).
    pub fn rank(&self, query: &[Vec<f32>], expected: u32) -> usize {
        let mut scores = vec![f32::NEG_INFINITY; self.products];
        for q in query {
            scores.iter_mut().zip(self.product_scores(q)).for_each(|(s, t)| *s = s.max(t));
        }
        let mine = scores[expected as usize];
        1 + scores.iter().filter(|&&s| s > mine).count()
    }
}

/// The top products for a query of several vectors: each vector's hits merged as the SDK merges them.
pub fn merged(query: &[Vec<f32>], search: impl Fn(&[f32]) -> shoplens::Result<Vec<shoplens::Hit>>) -> Vec<u32> {
    let hits = query.iter().flat_map(|v| search(v).unwrap_or_default()).collect();
    shoplens::best_per_product(hits).into_iter().map(|h| h.product).take(CUTOFF).collect()
}

/// 1-based rank of `expected` in a result list.
pub fn rank_in(results: &[u32], expected: u32) -> Option<usize> {
    results.iter().position(|&p| p == expected).map(|i| i + 1)
}

/// Median of samples in milliseconds (`0` when empty).
pub fn median_ms(samples: &mut [f64]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Writes a 2-D little-endian array as NumPy `.npy` (version 1.0), so Python tools read the vectors directly.
pub fn write_npy<T: NpyScalar>(path: &Path, rows: usize, cols: usize, data: &[T]) -> Result<(), Error> {
    let shape = if cols == 0 { format!("({rows},)") } else { format!("({rows}, {cols})") };
    let mut header = format!("{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}", T::DESCR);
    // Magic (6) + version (2) + header length (2) + header + newline, padded to a multiple of 64.
    let pad = 64 - (10 + header.len() + 1) % 64;
    header.extend(std::iter::repeat_n(' ', pad % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.le_bytes());
    }
    std::fs::write(path, out).map_err(|e| Error::io(path, e))
}

/// A scalar type `.npy` files can hold here.
pub trait NpyScalar {
    const DESCR: &'static str;
    fn le_bytes(&self) -> [u8; 4];
}

impl NpyScalar for f32 {
    const DESCR: &'static str = "<f4";
    fn le_bytes(&self) -> [u8; 4] {
        self.to_le_bytes()
    }
}

impl NpyScalar for i32 {
    const DESCR: &'static str = "<i4";
    fn le_bytes(&self) -> [u8; 4] {
        self.to_le_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_count_ranks() {
        let s = Scores::from_ranks(&[Some(1), Some(2), Some(7), None]);
        assert_eq!((s.r1, s.r5, s.r10), (0.25, 0.5, 0.75));
        assert!((s.map10 - (1.0 + 0.5 + 1.0 / 7.0) / 4.0).abs() < 1e-12);
    }

    #[test]
    fn reference_ranks_by_best_view() {
        let r = Reference { vectors: vec![(0, vec![1.0, 0.0]), (1, vec![0.0, 1.0]), (1, vec![0.8, 0.6])], products: 2 };
        assert_eq!(r.top(&[1.0, 0.0], 2), vec![0, 1]);
        assert_eq!(r.rank(&[vec![0.6, 0.8]], 1), 1);
        assert_eq!(r.rank(&[vec![1.0, 0.0]], 1), 2);
        // A second query vector that finds product 1 lifts it.
        assert_eq!(r.rank(&[vec![1.0, 0.0], vec![0.8, 0.6]], 1), 1);
    }

    #[test]
    fn npy_header_is_aligned() {
        let dir = std::env::temp_dir().join(format!("shoplens-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.npy");
        write_npy(&path, 2, 3, &[1f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes.len(), 10 + header_len + 24);
        assert!(std::str::from_utf8(&bytes[10..10 + header_len]).unwrap().contains("'shape': (2, 3)"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
