//! The projection from the model's space to the stored space: identity, or PCA learned at build time.
//!
//! A stored vector is `x' = P (x - mean)` with `P` the top principal directions (orthonormal rows). Its
//! reconstruction is `x^ = mean + P^T x'`, so the score against a query is `x^ . q = mean . q + x' . (P q)`:
//! one `k x d` product per query, then `k` multiplies per candidate.
//!
//! What PCA drops, `r = x - x^`, is orthogonal to the kept directions, so the exact score is that plus `q_perp . r`
//! (`q_perp` the query's part outside them). Its direction is lost but its length is not: for a unit `x`,
//! `|r|^2 = 1 - |x^|^2` up to the mean's own dropped part, so it is known from the stored vector at no cost in bytes.
//! Near neighbours' residuals point alike, so `residual_weight * |q_perp| * |r|` estimates the dropped term; the
//! weight is fitted at build time on the catalog's own neighbours (`index::residual`) and stored here.

use half::f16;

use crate::error::Result;
use crate::wire::{put_f32, put_u32, ByteReader};

/// Vectors sampled to estimate the covariance: plenty for a few hundred directions, bounded build time.
const MAX_SAMPLES: usize = 8192;
/// Block power iterations; the directions near the cut carry nearly equal variance, so exact convergence is moot.
const ITERATIONS: usize = 8;

/// Largest magnitude of a mean or matrix entry in a valid file (1, plus rounding).
const MAX_ENTRY: f32 = 1.01;

const IDENTITY: u32 = 0;
/// PCA without the residual term (format 2 and 3 shards): read as a residual weight of 0.
const PCA: u32 = 1;
/// PCA followed by its residual weight (format 4).
const PCA_RESIDUAL: u32 = 2;
/// Largest residual weight a file may hold: the weight estimates a cosine between residuals.
const MAX_RESIDUAL_WEIGHT: f32 = 1.0;

/// Maps model-space vectors to stored vectors and back.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Projection {
    /// Stored vectors are the model's vectors.
    Identity { dim: usize },
    /// `matrix` is `out` rows of `dim`, each rounded to f16 as stored in the file; `residual_weight` in `0..=1`.
    Pca { dim: usize, out: usize, mean: Vec<f32>, matrix: Vec<f32>, residual_weight: f32 },
}

impl Projection {
    /// Learns the top `out` principal directions of `count` vectors of `dim` (`vector(i)` gives one), deterministically
    /// from `seed`. The vectors come through a function so the caller need not hold a second normalized copy.
    pub(crate) fn learn(count: usize, vector: impl Fn(usize) -> Vec<f32>, dim: usize, out: usize, seed: u64) -> Self {
        let mut mean = vec![0f64; dim];
        for i in 0..count {
            mean.iter_mut().zip(vector(i)).for_each(|(m, x)| *m += f64::from(x));
        }
        let mean: Vec<f32> = mean.iter().map(|m| (m / count.max(1) as f64) as f32).collect();
        let step = count.div_ceil(MAX_SAMPLES).max(1);
        let samples: Vec<Vec<f32>> =
            (0..count).step_by(step).map(|i| vector(i).iter().zip(&mean).map(|(x, m)| x - m).collect()).collect();
        let cov = Covariance::new(&samples, dim, out);

        let mut rng = SplitMix(seed);
        let mut basis: Vec<Vec<f32>> = (0..out).map(|_| rng.start_vec(dim)).collect();
        orthonormalize(&mut basis, &mut rng);
        for _ in 0..ITERATIONS {
            basis = basis.iter().map(|q| cov.apply(q)).collect();
            orthonormalize(&mut basis, &mut rng);
        }
        // Largest variance first: readable, and the order no longer depends on the random start.
        let mut ranked: Vec<(f32, Vec<f32>)> = basis.into_iter().map(|q| (dot(&q, &cov.apply(&q)), q)).collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let matrix = ranked.into_iter().flat_map(|(_, q)| q).map(|x| f16::from_f32(x).to_f32()).collect();
        Projection::Pca { dim, out, mean, matrix, residual_weight: 0.0 }
    }

    /// The weight of the residual term in scores (0 for the identity, which drops nothing).
    pub(crate) fn residual_weight(&self) -> f32 {
        match self {
            Projection::Identity { .. } => 0.0,
            Projection::Pca { residual_weight, .. } => *residual_weight,
        }
    }

    /// Sets the residual weight (clamped to `0..=1`; NaN and -0 are 0, so every weight set is one readers take,
    /// in one byte form); the identity has none.
    pub(crate) fn set_residual_weight(&mut self, weight: f32) {
        if let Projection::Pca { residual_weight, .. } = self {
            *residual_weight = if weight > 0.0 { weight.min(MAX_RESIDUAL_WEIGHT) } else { 0.0 };
        }
    }

    /// The model's dimension.
    pub(crate) fn model_dim(&self) -> usize {
        match self {
            Projection::Identity { dim } | Projection::Pca { dim, .. } => *dim,
        }
    }

    /// The stored dimension.
    pub(crate) fn stored_dim(&self) -> usize {
        match self {
            Projection::Identity { dim } => *dim,
            Projection::Pca { out, .. } => *out,
        }
    }

    /// `P (x - mean)`: a catalog vector as stored.
    pub(crate) fn project(&self, x: &[f32]) -> Vec<f32> {
        match self {
            Projection::Identity { .. } => x.to_vec(),
            Projection::Pca { dim, mean, matrix, .. } => {
                let centred: Vec<f32> = x.iter().zip(mean).map(|(a, m)| a - m).collect();
                matrix.chunks_exact(*dim).map(|row| dot(row, &centred)).collect()
            }
        }
    }

    /// A query as `(P q, mean . q)`: the stored-space vector to dot with, and the constant to add.
    pub(crate) fn query(&self, q: &[f32]) -> (Vec<f32>, f32) {
        match self {
            Projection::Identity { .. } => (q.to_vec(), 0.0),
            Projection::Pca { dim, mean, matrix, .. } => {
                (matrix.chunks_exact(*dim).map(|row| dot(row, q)).collect(), dot(mean, q))
            }
        }
    }

    /// `|q_perp|` for a unit query whose projection is `projected` (`P q`): the length PCA drops.
    pub(crate) fn dropped_len(projected: &[f32]) -> f32 {
        (1.0 - dot(projected, projected)).max(0.0).sqrt()
    }

    /// `mean . mean` and `P mean`: what node-to-node scores on reconstructions need (see `index::hnsw`).
    pub(crate) fn mean_terms(&self) -> (f32, Vec<f32>) {
        match self {
            Projection::Identity { dim } => (0.0, vec![0.0; *dim]),
            Projection::Pca { mean, .. } => {
                let (pm, mm) = self.query(mean);
                (mm, pm)
            }
        }
    }

    /// `mean + P^T x'`: a stored vector back in the model's space.
    pub(crate) fn reconstruct(&self, stored: &[f32]) -> Vec<f32> {
        match self {
            Projection::Identity { .. } => stored.to_vec(),
            Projection::Pca { dim, mean, matrix, .. } => {
                let mut x = mean.clone();
                for (row, &s) in matrix.chunks_exact(*dim).zip(stored) {
                    x.iter_mut().zip(row).for_each(|(x, r)| *x += s * r);
                }
                x
            }
        }
    }

    /// Section bytes: `u32` kind, then for PCA the mean (f32), the matrix (f16) and the residual weight (f32),
    /// little-endian.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Projection::Identity { .. } => put_u32(&mut out, IDENTITY),
            Projection::Pca { mean, matrix, residual_weight, .. } => {
                put_u32(&mut out, PCA_RESIDUAL);
                mean.iter().for_each(|&m| put_f32(&mut out, m));
                matrix.iter().for_each(|&x| out.extend_from_slice(&f16::from_f32(x).to_le_bytes()));
                put_f32(&mut out, *residual_weight);
            }
        }
        out
    }

    /// The longest section these dimensions allow; identity exactly when nothing is projected away.
    pub(crate) fn max_encoded_len(model_dim: usize, stored_dim: usize) -> usize {
        match stored_dim == model_dim {
            true => 4,
            false => 4 + 4 * model_dim + 2 * stored_dim * model_dim + 4,
        }
    }

    /// Reads what [`Projection::encode`] wrote, for the header's dimensions; every value must be finite.
    pub(crate) fn decode(bytes: &[u8], model_dim: usize, stored_dim: usize) -> Result<Self> {
        let mut r = ByteReader::new(bytes, "projection");
        let kind = r.u32()?;
        let p = match (kind, stored_dim == model_dim) {
            (IDENTITY, true) => Projection::Identity { dim: model_dim },
            (PCA | PCA_RESIDUAL, false) => {
                let mean = r.take(4 * model_dim)?.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                let mean: Vec<f32> = mean.collect();
                let matrix = r.take(2 * stored_dim * model_dim)?;
                let matrix: Vec<f32> =
                    matrix.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect();
                // Rows are unit vectors and the mean is a mean of unit vectors: entries beyond 1 mean damage, and
                // the bound keeps every score finite.
                if !mean.iter().chain(&matrix).all(|x| x.abs() <= MAX_ENTRY) {
                    return Err(r.error("value outside [-1, 1] or not finite"));
                }
                let residual_weight = if kind == PCA_RESIDUAL { f32::from_bits(r.u32()?) } else { 0.0 };
                if !(0.0..=MAX_RESIDUAL_WEIGHT).contains(&residual_weight) {
                    return Err(r.error(format!("residual weight {residual_weight} is not in [0, 1]")));
                }
                Projection::Pca { dim: model_dim, out: stored_dim, mean, matrix, residual_weight }
            }
            _ => return Err(r.error(format!("kind {kind} does not fit dims {model_dim} -> {stored_dim}"))),
        };
        r.finish()?;
        Ok(p)
    }
}

/// The sample covariance, explicit (`d x d`) or applied through the samples, whichever costs fewer multiplies.
enum Covariance<'a> {
    Explicit { dim: usize, matrix: Vec<f32> },
    Implicit { samples: &'a [Vec<f32>], dim: usize },
}

impl<'a> Covariance<'a> {
    fn new(samples: &'a [Vec<f32>], dim: usize, out: usize) -> Self {
        let s = samples.len();
        // Explicit: s d^2 / 2 to form, d^2 per application; implicit: 2 s d per application.
        let applications = (ITERATIONS + 1) * out;
        if s * dim / 2 + applications * dim >= 2 * s * applications {
            return Covariance::Implicit { samples, dim };
        }
        let mut matrix = vec![0f32; dim * dim];
        // Rank-1 updates in blocks of samples keep one row hot in cache while the block streams through.
        for block in samples.chunks(64) {
            for i in 0..dim {
                let row = &mut matrix[i * dim + i..(i + 1) * dim];
                for x in block {
                    let xi = x[i];
                    row.iter_mut().zip(&x[i..]).for_each(|(c, &xj)| *c += xi * xj);
                }
            }
        }
        for i in 0..dim {
            for j in 0..i {
                matrix[i * dim + j] = matrix[j * dim + i];
            }
        }
        let scale = 1.0 / s.max(1) as f32;
        matrix.iter_mut().for_each(|c| *c *= scale);
        Covariance::Explicit { dim, matrix }
    }

    fn apply(&self, q: &[f32]) -> Vec<f32> {
        match self {
            Covariance::Explicit { dim, matrix } => matrix.chunks_exact(*dim).map(|row| dot(row, q)).collect(),
            Covariance::Implicit { samples, dim } => {
                let mut out = vec![0f32; *dim];
                for x in samples.iter() {
                    let t = dot(x, q);
                    out.iter_mut().zip(x).for_each(|(o, &xi)| *o += t * xi);
                }
                let scale = 1.0 / samples.len().max(1) as f32;
                out.iter_mut().for_each(|o| *o *= scale);
                out
            }
        }
    }
}

/// Modified Gram-Schmidt, twice (once is not enough in f32 once power iteration aligns the columns). A column that
/// vanishes (the data has fewer directions than asked for) is replaced by a fresh random one.
fn orthonormalize(basis: &mut [Vec<f32>], rng: &mut SplitMix) {
    for j in 0..basis.len() {
        for attempt in 0..4 {
            let (done, rest) = basis.split_at_mut(j);
            let v = &mut rest[0];
            let before = norm(v);
            for _ in 0..2 {
                for u in done.iter() {
                    let d = dot(u, v);
                    v.iter_mut().zip(u).for_each(|(x, &y)| *x -= d * y);
                }
            }
            let after = norm(v);
            if after > 1e-4 * before && after > 1e-20 {
                v.iter_mut().for_each(|x| *x /= after);
                break;
            }
            // Give up after a few tries: a zero row then only wastes a stored dimension, it cannot break scores.
            *v = if attempt < 3 { rng.start_vec(v.len()) } else { vec![0.0; v.len()] };
        }
    }
}

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums let the compiler vectorize without reassociating floats itself.
    let mut acc = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ac.zip(bc) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn norm(v: &[f32]) -> f32 {
    dot(v, v).sqrt()
}

/// SplitMix64: a tiny seeded generator, so builds are reproducible without a random-number dependency.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    pub(crate) fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller), for test data.
    #[cfg(test)]
    pub(crate) fn gaussian(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    /// Uniform in (-1, 1]: a power-iteration start needs no more, and it uses no libm function whose last bit
    /// could differ between platforms.
    fn start_vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| (2.0 * self.uniform() - 1.0) as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unit vectors whose variance lives in the first `rank` coordinates.
    fn low_rank(n: usize, dim: usize, rank: usize) -> Vec<Vec<f32>> {
        let mut rng = SplitMix(7);
        (0..n)
            .map(|_| {
                let mut v: Vec<f32> = (0..dim).map(|i| if i < rank { rng.gaussian() } else { 0.0 }).collect();
                let n = norm(&v);
                v.iter_mut().for_each(|x| *x /= n);
                v
            })
            .collect()
    }

    #[test]
    fn pca_captures_a_low_rank_space() {
        let vectors = low_rank(300, 24, 6);
        let p = Projection::learn(vectors.len(), |i| vectors[i].clone(), 24, 6, 1);
        for v in &vectors[..20] {
            let back = p.reconstruct(&p.project(v));
            let err: f32 = back.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt();
            assert!(err < 0.01, "reconstruction error {err}");
            let (pq, offset) = p.query(v);
            let score = offset + dot(&p.project(v), &pq);
            assert!((score - 1.0).abs() < 0.01, "self score {score}");
        }
    }

    #[test]
    fn pca_is_deterministic_and_survives_asking_for_too_many_directions() {
        let vectors = low_rank(10, 16, 3);
        let learn = || Projection::learn(vectors.len(), |i| vectors[i].clone(), 16, 12, 5);
        let a = learn();
        assert_eq!(a, learn());
        assert!(a.encode().len() == Projection::max_encoded_len(16, 12));
        assert!(a.project(&vectors[0]).iter().all(|x| x.is_finite()));
    }

    #[test]
    fn encoding_round_trips_and_checks_dims() {
        let vectors = low_rank(50, 16, 4);
        let p = Projection::learn(vectors.len(), |i| vectors[i].clone(), 16, 4, 1);
        let bytes = p.encode();
        assert_eq!(Projection::decode(&bytes, 16, 4).unwrap(), p);
        assert!(Projection::decode(&bytes, 16, 5).is_err());
        assert!(Projection::decode(&bytes[..bytes.len() - 1], 16, 4).is_err());
        let id = Projection::Identity { dim: 16 };
        assert_eq!(Projection::decode(&id.encode(), 16, 16).unwrap(), id);
        assert!(Projection::decode(&id.encode(), 16, 4).is_err());
        let mut inf = bytes.clone();
        inf[4..8].copy_from_slice(&f32::INFINITY.to_le_bytes());
        assert!(Projection::decode(&inf, 16, 4).is_err());
        let mut big = bytes.clone();
        big[4..8].copy_from_slice(&2f32.to_le_bytes());
        assert!(Projection::decode(&big, 16, 4).is_err());
    }

    #[test]
    fn the_residual_weight_is_stored_checked_and_absent_from_older_files() {
        let vectors = low_rank(50, 16, 4);
        let mut p = Projection::learn(vectors.len(), |i| vectors[i].clone(), 16, 4, 1);
        p.set_residual_weight(0.625);
        let bytes = p.encode();
        assert_eq!(bytes.len(), Projection::max_encoded_len(16, 4));
        assert_eq!(Projection::decode(&bytes, 16, 4).unwrap().residual_weight(), 0.625);
        // Formats 2 and 3: kind 1 and no weight after the matrix.
        let mut old = bytes[..bytes.len() - 4].to_vec();
        old[..4].copy_from_slice(&PCA.to_le_bytes());
        assert_eq!(Projection::decode(&old, 16, 4).unwrap().residual_weight(), 0.0);
        for bad in [f32::NAN, -0.5, 1.5, f32::INFINITY] {
            let mut b = bytes.clone();
            let at = b.len() - 4;
            b[at..].copy_from_slice(&bad.to_le_bytes());
            assert!(Projection::decode(&b, 16, 4).is_err(), "weight {bad}");
        }
        p.set_residual_weight(7.0);
        assert_eq!(p.residual_weight(), 1.0);
        for odd in [f32::NAN, -0.0, -3.0, f32::NEG_INFINITY] {
            p.set_residual_weight(odd);
            assert_eq!(p.residual_weight().to_bits(), 0, "{odd}");
            assert!(Projection::decode(&p.encode(), 16, 4).is_ok());
        }
        p.set_residual_weight(f32::INFINITY);
        assert_eq!(p.residual_weight(), 1.0);
        let mut id = Projection::Identity { dim: 16 };
        id.set_residual_weight(0.5);
        assert_eq!(id.residual_weight(), 0.0);
    }
}
