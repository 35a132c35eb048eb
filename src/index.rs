//! The vector index of a shard: catalog vectors projected (PCA) and quantized (int8), a graph to search them, and
//! which product each vector shows.
//!
//! Stored vectors are ordered by product, so a product's views are neighbours in storage, the vector -> product
//! map compresses to almost nothing, and exact scans collapse views without a lookup table.

mod graph;
mod hnsw;
mod pca;
mod residual;
mod store;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use self::graph::{Graph, Scored};
use self::pca::Projection;
use self::store::Store;
use crate::error::{Error, Result};
use crate::wire::{put_varint, ByteReader};

pub use self::graph::MAX_DEGREE;

/// A good `ef` for [`VectorIndex::search`]: at 100k vectors the graph finds ~99% of the top 10 an exact scan of the
/// stored vectors finds, in ~0.1 ms (docs/shard-format.md).
pub const DEFAULT_EF: usize = 64;
/// Most vectors one index holds.
pub const MAX_VECTORS: usize = 1 << 24;
/// Largest model dimension (as the model manifest allows).
pub const MAX_DIM: usize = 65536;
/// Product indices are below this.
pub const MAX_PRODUCTS: usize = 1 << 24;

/// How to build a [`VectorIndex`].
#[derive(Clone, Debug, PartialEq)]
pub struct IndexParams {
    /// Dimension kept by PCA; 0 (or the model's dimension or more) keeps the model's vectors as they are.
    pub projected_dim: usize,
    /// Store int8 codes with one scale per vector instead of f32: a quarter of the bytes or less, about 0.01 recall.
    pub quantize: bool,
    /// Largest int8 code, `1..=127`: each vector's codes span `-code_max..=code_max`. Fewer levels compress better
    /// (about one bit per coordinate for each halving) and rank real embeddings' neighbours about as well.
    pub code_max: u8,
    /// HNSW build beam width: higher builds slower and searches better.
    pub ef_construction: usize,
    /// Seeds PCA and HNSW, so the same vectors always build the same index.
    pub seed: u64,
    /// Most graph neighbours kept per vector, `1..=MAX_DEGREE`; the build's neighbour selection keeps ~10 on
    /// average, so this only trims the longest lists.
    pub max_neighbors: usize,
}

impl Default for IndexParams {
    /// Chosen by measurement on real embeddings of the bundled model and on synthetic clustered vectors
    /// (docs/shard-format.md): PCA to 256, int8 codes in -45..=45 and the fitted residual term find 0.96-0.98 of the
    /// exact top 10 of real embeddings at about 160 B/product of vectors (PCA 192 with codes in -127..=127 and no
    /// residual term: 0.865-0.945 at 163 B).
    fn default() -> Self {
        IndexParams {
            projected_dim: 256,
            quantize: true,
            code_max: 45,
            ef_construction: 100,
            seed: 0x5eed,
            max_neighbors: 32,
        }
    }
}

/// A search result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// Index of the product in the shard's product list.
    pub product: u32,
    /// Cosine similarity of the query with the product's best view, as estimated from the stored vectors (PCA,
    /// int8 and the residual term: it can exceed 1 slightly); higher is better.
    pub score: f32,
}

/// Hits of several query vectors over one index merged: one hit per product with its best score, best first (equal
/// scores by product). How a query with an embedding and object vectors ranks products.
pub fn best_per_product(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.product.cmp(&b.product)));
    let mut seen = std::collections::HashSet::new();
    hits.retain(|h| seen.insert(h.product));
    hits
}

/// Searchable catalog vectors. `Send + Sync`; searches allocate their own scratch, so share one behind an `Arc`.
#[derive(Clone, PartialEq)]
pub struct VectorIndex {
    projection: Projection,
    store: Store,
    graph: Graph,
    /// Product of each stored vector, non-decreasing.
    products: Vec<u32>,
    /// Each stored vector's length dropped by PCA (`index::residual`); empty when the residual weight is 0.
    residuals: Vec<f32>,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("vectors", &self.len())
            .field("dim", &self.dim())
            .field("stored_dim", &self.stored_dim())
            .field("quantized", &self.is_quantized())
            .field("edges", &self.graph.edges())
            .field("residual_weight", &self.projection.residual_weight())
            .finish()
    }
}

/// A normalized query, ready to score stored vectors.
struct Query {
    projected: Vec<f32>,
    offset: f32,
    /// The residual weight times the query's length dropped by PCA: what a stored vector's dropped length adds.
    residual: f32,
}

impl VectorIndex {
    /// Builds an index. `vectors` are `(product index, vector of the model's dim)`; several vectors may show one
    /// product (views). Vectors are normalized; all must have one dimension, be finite and non-zero.
    pub fn build(vectors: &[(u32, Vec<f32>)], params: &IndexParams) -> Result<Self> {
        let dim = vectors.first().map(|(_, v)| v.len()).ok_or_else(|| Error::index("no vectors to index"))?;
        if vectors.len() > MAX_VECTORS {
            return Err(Error::index(format!("{} vectors, at most {MAX_VECTORS}", vectors.len())));
        }
        if dim == 0 || dim > MAX_DIM {
            return Err(Error::index(format!("dimension {dim} is not in 1..={MAX_DIM}")));
        }
        if params.ef_construction == 0
            || !(1..=MAX_DEGREE).contains(&params.max_neighbors)
            || !(1..=127).contains(&params.code_max)
        {
            return Err(Error::index(format!(
                "ef_construction must be positive, max_neighbors in 1..={MAX_DEGREE} and code_max in 1..=127: \
                 {params:?}"
            )));
        }
        let mut inv_norms = Vec::with_capacity(vectors.len());
        for (i, (product, v)) in vectors.iter().enumerate() {
            if v.len() != dim {
                return Err(Error::index(format!("vector {i} has dimension {}, vector 0 has {dim}", v.len())));
            }
            if *product as usize >= MAX_PRODUCTS {
                return Err(Error::index(format!("vector {i}: product {product} is not below {MAX_PRODUCTS}")));
            }
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if !norm.is_finite() || norm == 0.0 {
                return Err(Error::index(format!("vector {i} has norm {norm}")));
            }
            inv_norms.push(1.0 / norm);
        }
        // Node order: by product, views in input order.
        let mut order: Vec<usize> = (0..vectors.len()).collect();
        order.sort_by_key(|&i| vectors[i].0);
        let unit = |node: usize| {
            let i = order[node];
            vectors[i].1.iter().map(|x| x * inv_norms[i]).collect::<Vec<f32>>()
        };

        let projection = match params.projected_dim {
            k if k == 0 || k >= dim => Projection::Identity { dim },
            k => Projection::learn(order.len(), unit, dim, k, params.seed),
        };
        let projected: Vec<Vec<f32>> = (0..order.len()).map(|n| projection.project(&unit(n))).collect();
        let store = Store::new(&projected, projection.stored_dim(), params.quantize.then_some(params.code_max));
        drop(projected);

        // The graph is built on what is stored, so it matches what searches score.
        let rows: Vec<Vec<f32>> = (0..store.len()).map(|n| store.get(n)).collect();
        let (mean_sq, projected_mean) = projection.mean_terms();
        let biases: Vec<f32> = rows.iter().map(|r| pca::dot(r, &projected_mean) + mean_sq / 2.0).collect();
        let graph_params = hnsw::GraphParams {
            ef_construction: params.ef_construction,
            seed: params.seed,
            max_neighbors: params.max_neighbors,
        };
        let graph = hnsw::build(&rows, &biases, &graph_params)?;
        drop(rows);
        let products = order.iter().map(|&i| vectors[i].0).collect();
        let mut index = VectorIndex { projection, store, graph, products, residuals: Vec::new() };
        index.fit_residual_weight(unit, params.seed);
        Ok(index)
    }

    /// The model dimension queries must have.
    pub fn dim(&self) -> usize {
        self.projection.model_dim()
    }

    /// The dimension vectors are stored in (the PCA output, or the model dimension).
    pub fn stored_dim(&self) -> usize {
        self.projection.stored_dim()
    }

    /// How much a vector's length dropped by PCA counts in scores (`0..=1`, fitted at build time on the catalog's
    /// own neighbours; 0 without PCA): see docs/shard-format.md.
    pub fn residual_weight(&self) -> f32 {
        self.projection.residual_weight()
    }

    /// Overrides the fitted residual weight (clamped to `0..=1`; 0 turns the term off), for comparing scores with
    /// and without it. Kept when the index is written to a shard. Without PCA there is nothing to weigh.
    pub fn set_residual_weight(&mut self, weight: f32) {
        self.projection.set_residual_weight(weight);
        self.residuals = match self.projection.residual_weight() > 0.0 {
            true if self.residuals.is_empty() => residual::lengths(&self.projection, &self.store),
            true => std::mem::take(&mut self.residuals),
            false => Vec::new(),
        };
    }

    /// Whether vectors are stored as int8.
    pub fn is_quantized(&self) -> bool {
        self.store.is_quantized()
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.products.len()
    }

    /// Whether the index holds no vectors (only possible for a decoded empty shard).
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// The largest product index any vector shows.
    pub(crate) fn max_product(&self) -> Option<u32> {
        self.products.last().copied()
    }

    /// Number of graph edges (for size reports).
    pub fn edges(&self) -> usize {
        self.graph.edges()
    }

    /// The `k` best products for `query` (a vector of [`VectorIndex::dim`], normalized here), best first.
    ///
    /// A beam search of width `ef` (raised to `k`) scores stored vectors, so its candidates already carry their
    /// exact stored-vector scores; views collapse to their product's best. Products for which `keep` is false are
    /// skipped; when that leaves fewer than `k`, the search widens, and falls back to an exact scan once the beam
    /// would cost about as much, so a selective filter still gets `k` hits if `k` products pass it.
    pub fn search(&self, query: &[f32], k: usize, ef: usize, keep: &dyn Fn(u32) -> bool) -> Result<Vec<Hit>> {
        let q = self.query(query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let mut ef = ef.max(k);
        // Past this width a beam visits about as many vectors as a scan.
        while ef.saturating_mul(8) < self.len() {
            let found = self.graph.search(ef, |n| self.score(&q, n));
            let mut seen = HashSet::new();
            let hits: Vec<Hit> = found
                .into_iter()
                .filter(|s| seen.insert(self.products[s.node as usize]))
                .map(|s| Hit { product: self.products[s.node as usize], score: s.score })
                .filter(|h| keep(h.product))
                .take(k)
                .collect();
            if hits.len() == k {
                return Ok(hits);
            }
            ef = ef.saturating_mul(4);
        }
        Ok(self.scan(&q, k, keep))
    }

    /// The exact `k` best products: every stored vector scored as [`VectorIndex::search`] scores them.
    pub fn exact_search(&self, query: &[f32], k: usize, keep: &dyn Fn(u32) -> bool) -> Result<Vec<Hit>> {
        let q = self.query(query)?;
        Ok(self.scan(&q, k, keep))
    }

    /// The stored vector of a product's first view, reconstructed in the model's space and normalized: a query for
    /// "similar products". `None` if the product has no vector (or, in a damaged shard, one of zero length).
    pub fn product_vector(&self, product: u32) -> Option<Vec<f32>> {
        let node = self.products.partition_point(|&p| p < product);
        if self.products.get(node) != Some(&product) {
            return None;
        }
        let mut v = self.projection.reconstruct(&self.store.get(node));
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            return None;
        }
        v.iter_mut().for_each(|x| *x /= norm);
        Some(v)
    }

    fn query(&self, query: &[f32]) -> Result<Query> {
        if query.len() != self.dim() {
            return Err(Error::index(format!("query has dimension {}, the index {}", query.len(), self.dim())));
        }
        let norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || norm == 0.0 {
            return Err(Error::index(format!("query has norm {norm}")));
        }
        let unit: Vec<f32> = query.iter().map(|x| x / norm).collect();
        let (projected, offset) = self.projection.query(&unit);
        let residual = self.projection.residual_weight() * Projection::dropped_len(&projected);
        Ok(Query { projected, offset, residual })
    }

    fn score(&self, q: &Query, node: u32) -> f32 {
        let dropped = self.residuals.get(node as usize).map_or(0.0, |r| q.residual * r);
        q.offset + self.store.dot(node as usize, &q.projected) + dropped
    }

    /// Scores every vector of every kept product; views are adjacent, so each product is one run.
    fn scan(&self, q: &Query, k: usize, keep: &dyn Fn(u32) -> bool) -> Vec<Hit> {
        let mut best: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(k + 1);
        let mut start = 0;
        while start < self.products.len() && k > 0 {
            let product = self.products[start];
            let end = start + self.products[start..].partition_point(|&p| p == product);
            if keep(product) {
                let score = (start..end).map(|n| self.score(q, n as u32)).fold(f32::NEG_INFINITY, f32::max);
                best.push(Reverse(Scored { score, node: product }));
                if best.len() > k {
                    best.pop();
                }
            }
            start = end;
        }
        best.into_sorted_vec().into_iter().map(|Reverse(s)| Hit { product: s.node, score: s.score }).collect()
    }
}

/// What the shard header says about an index; decoding checks every section against it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IndexDims {
    pub(crate) model_dim: usize,
    pub(crate) stored_dim: usize,
    pub(crate) vector_count: usize,
    pub(crate) product_count: usize,
}

/// The index's four shard sections, raw (before compression).
pub(crate) struct IndexSections<B> {
    pub(crate) projection: B,
    pub(crate) vectors: B,
    pub(crate) map: B,
    pub(crate) graph: B,
}

impl IndexDims {
    /// Largest raw length of each section for these dims (`None` when that overflows): caps decompression.
    pub(crate) fn max_lens(&self) -> Option<IndexSections<usize>> {
        Some(IndexSections {
            projection: Projection::max_encoded_len(self.model_dim, self.stored_dim),
            vectors: Store::max_encoded_len(self.vector_count, self.stored_dim)?,
            map: self.vector_count.checked_mul(5)?,
            graph: Graph::max_encoded_len(self.vector_count)?,
        })
    }
}

impl VectorIndex {
    /// Raw section bytes. The map is the product of each vector as varint deltas (mostly 0 and 1).
    pub(crate) fn encode(&self) -> IndexSections<Vec<u8>> {
        let mut map = Vec::with_capacity(self.products.len());
        let mut prev = 0;
        for &p in &self.products {
            put_varint(&mut map, p - prev);
            prev = p;
        }
        IndexSections {
            projection: self.projection.encode(),
            vectors: self.store.encode(),
            map,
            graph: self.graph.encode(),
        }
    }

    /// Decodes raw sections, checking each against `dims`: a decoded index can be searched without panicking.
    pub(crate) fn decode(s: &IndexSections<&[u8]>, dims: IndexDims) -> Result<Self> {
        let IndexDims { model_dim, stored_dim, vector_count, product_count } = dims;
        if model_dim == 0 || model_dim > MAX_DIM || stored_dim == 0 || stored_dim > model_dim {
            return Err(Error::shard(format!("dims {model_dim} -> {stored_dim} are not valid")));
        }
        if vector_count > MAX_VECTORS || product_count > MAX_PRODUCTS {
            return Err(Error::shard(format!("{vector_count} vectors or {product_count} products is too many")));
        }
        let projection = Projection::decode(s.projection, model_dim, stored_dim)?;
        let store = Store::decode(s.vectors, vector_count, stored_dim)?;
        let graph = Graph::decode(s.graph, vector_count)?;
        let mut r = ByteReader::new(s.map, "vector map");
        if r.remaining() < vector_count {
            return Err(r.error(format!("{} bytes cannot hold {vector_count} products", r.remaining())));
        }
        let mut products = Vec::with_capacity(vector_count);
        let mut prev = 0u32;
        for _ in 0..vector_count {
            let p = prev.checked_add(r.varint()?).filter(|&p| (p as usize) < product_count);
            let p = p.ok_or_else(|| r.error(format!("product index is not below {product_count}")))?;
            products.push(p);
            prev = p;
        }
        r.finish()?;
        // The lengths are derived from the stored vectors, as a build's are: the same setter makes them.
        let weight = projection.residual_weight();
        let mut index = VectorIndex { projection, store, graph, products, residuals: Vec::new() };
        index.set_residual_weight(weight);
        Ok(index)
    }
}

#[cfg(test)]
pub(crate) mod tests;
