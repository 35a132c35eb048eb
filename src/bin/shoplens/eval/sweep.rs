//! The eval's measurements beyond recall: per-stage latency one query at a time, the HNSW beam-width sweep against
//! the exact scans, the PCA-dimension sweep (bytes per product against recall), and the `.npy` dump.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use shoplens::{encode_shard, Error, IndexParams, Photo, Shard, ShardMeta, VectorIndex};

use super::camera::{render, SENSOR_SIZES};
use super::metrics::{median_ms, merged, rank_in, write_npy, Scores, CUTOFF};
use super::report::ModelReport;
use super::{ModelRun, QueryLine, QueryVectors, Variant, VARIANTS};

/// Median milliseconds per stage, one query at a time on one thread.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    pub queries: usize,
    pub decode_ms: f64,
    pub photo_preprocess_ms: f64,
    pub frame_to_tensor_ms: f64,
    pub frame_crop_to_tensor_ms: f64,
    pub inference_ms: f64,
    pub search_hnsw_ms: f64,
    pub search_shard_exact_ms: f64,
    pub search_fp32_exact_ms: f64,
    /// Frame (with crop box) to results: preprocess + inference + HNSW search.
    pub frame_to_results_ms: f64,
}

pub fn latency(run: &ModelRun, dataset: &Path, queries: &[QueryLine], n: usize, ef: usize) -> Result<Latency, Error> {
    let mut s: [Vec<f64>; 9] = Default::default();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let index = &run.shard.index;
    for (i, q) in queries.iter().enumerate().take(n) {
        let bytes = crate::read(&dataset.join(&q.query))?;
        let photo = run.engine.embed_photo(&bytes)?;
        s[0].push(ms(photo.timings.decode));
        s[1].push(ms(photo.timings.preprocess));
        s[4].push(ms(photo.timings.embed));
        let frame = render(&Photo::decode(&bytes)?.to_rgb_image(), q.object, SENSOR_SIZES[2], None)?;
        s[2].push(ms(run.engine.embed_frame(&frame.frame(false)?)?.timings.preprocess));
        let cropped = run.engine.embed_frame(&frame.frame(true)?)?;
        s[3].push(ms(cropped.timings.preprocess));
        let v = &cropped.vector;
        let start = Instant::now();
        std::hint::black_box(index.search(v, CUTOFF, ef, &|_| true)?);
        s[5].push(ms(start.elapsed()));
        let start = Instant::now();
        std::hint::black_box(index.exact_search(v, CUTOFF, &|_| true)?);
        s[6].push(ms(start.elapsed()));
        let start = Instant::now();
        std::hint::black_box(run.reference.top(v, CUTOFF));
        s[7].push(ms(start.elapsed()));
        s[8].push(ms(cropped.timings.preprocess + cropped.timings.embed) + s[5][i]);
    }
    let [a, b, c, d, e, f, g, h, t] = s.each_mut().map(|v| median_ms(v));
    Ok(Latency {
        queries: n.min(queries.len()),
        decode_ms: a,
        photo_preprocess_ms: b,
        frame_to_tensor_ms: c,
        frame_crop_to_tensor_ms: d,
        inference_ms: e,
        search_hnsw_ms: f,
        search_shard_exact_ms: g,
        search_fp32_exact_ms: h,
        frame_to_results_ms: t,
    })
}

/// One beam width of the HNSW sweep.
#[derive(Clone, Debug, Serialize)]
pub struct AnnPoint {
    pub ef: usize,
    /// Share of the exact fp32 top 10 (raw model vectors) the graph returns: PCA, int8 and graph losses together.
    pub recall10: f64,
    /// Share of the shard's exact top 10 (its stored vectors) the graph returns: the graph's loss alone.
    pub recall10_graph: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// The exact scans, timed the same way.
#[derive(Clone, Debug, Serialize)]
pub struct ExactPoint {
    pub method: &'static str,
    pub recall10: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

fn percentiles(mut us: Vec<f64>) -> (f64, f64) {
    us.sort_by(f64::total_cmp);
    let at = |p: f64| us.get(((us.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
    (at(0.5), at(0.99))
}

fn overlap(a: &[u32], truth: &[u32]) -> f64 {
    let truth: HashSet<&u32> = truth.iter().collect();
    a.iter().filter(|p| truth.contains(p)).count() as f64 / truth.len().max(1) as f64
}

/// Times one search per query (single thread) and scores it against `truth`.
fn timed(queries: &[Vec<f32>], truth: &[Vec<u32>], search: impl Fn(&[f32]) -> Vec<u32>) -> (f64, f64, f64) {
    let mut us = Vec::with_capacity(queries.len());
    let mut recall = 0.0;
    for (q, t) in queries.iter().zip(truth) {
        let start = Instant::now();
        let found = search(q);
        us.push(start.elapsed().as_secs_f64() * 1e6);
        recall += overlap(&found, t);
    }
    let (p50, p99) = percentiles(us);
    (recall / queries.len().max(1) as f64, p50, p99)
}

pub const EFS: [usize; 9] = [8, 12, 16, 24, 32, 48, 64, 128, 256];

/// The beam-width sweep and the exact scans on the photo queries.
pub fn ann(run: &ModelRun, queries: &[Vec<f32>]) -> (Vec<AnnPoint>, Vec<ExactPoint>) {
    let index = &run.shard.index;
    let ids =
        |h: shoplens::Result<Vec<shoplens::Hit>>| h.map(|h| h.iter().map(|h| h.product).collect()).unwrap_or_default();
    let fp32: Vec<Vec<u32>> = queries.iter().map(|q| run.reference.top(q, CUTOFF)).collect();
    let stored: Vec<Vec<u32>> = queries.iter().map(|q| ids(index.exact_search(q, CUTOFF, &|_| true))).collect();
    let points = EFS
        .iter()
        .map(|&ef| {
            let search = |q: &[f32]| ids(index.search(q, CUTOFF, ef, &|_| true));
            let (recall10, p50_us, p99_us) = timed(queries, &fp32, search);
            let recall10_graph = queries.iter().zip(&stored).map(|(q, t)| overlap(&search(q), t)).sum::<f64>()
                / queries.len().max(1) as f64;
            AnnPoint { ef, recall10, recall10_graph, p50_us, p99_us }
        })
        .collect();
    let (r, p50, p99) = timed(queries, &fp32, |q| ids(index.exact_search(q, CUTOFF, &|_| true)));
    let shard = ExactPoint { method: "shard-exact", recall10: r, p50_us: p50, p99_us: p99 };
    let (r, p50, p99) = timed(queries, &fp32, |q| run.reference.top(q, CUTOFF));
    let reference = ExactPoint { method: "fp32-exact", recall10: r, p50_us: p50, p99_us: p99 };
    (points, vec![shard, reference])
}

/// A shard's compressed index sections (projection, vectors, map, graph): all but the records and the text index.
pub fn index_bytes(shard: &Shard) -> u64 {
    shard.sections().iter().filter(|s| !matches!(s.name, "products" | "text")).map(|s| s.compressed_bytes).sum()
}

/// One PCA dimension of the bytes-per-product sweep.
#[derive(Clone, Debug, Serialize)]
pub struct DimPoint {
    /// 0: the model's vectors unprojected.
    pub projected_dim: usize,
    pub quantized: bool,
    /// Weight of PCA's residual term in scores (fitted at build time; each PCA dim also runs with 0).
    pub residual_weight: f32,
    /// Whether the weight is the build's own (false: the comparison row with the term off).
    pub residual_fitted: bool,
    /// Compressed projection, vectors, map and graph sections per product.
    pub index_bytes_per_product: f64,
    /// The whole shard file per product (records and text index too).
    pub bytes_per_product: f64,
    /// Photo queries through HNSW at the eval's ef.
    pub photo: Scores,
    /// Camera frames with the crop box through HNSW.
    pub frame_crop: Scores,
    /// Share of the exact fp32 top 10 the HNSW search returns (photo queries).
    pub recall10: f64,
}

/// Rebuilds the index at each PCA dimension (int8, plus fp32 unprojected) and scores the photo queries on it.
pub fn dims(
    run: &ModelRun,
    dims: &[usize],
    expected: &[u32],
    vectors: &QueryVectors,
    ef: usize,
) -> Result<Vec<DimPoint>, Error> {
    let model_dim = run.engine.embedder().dim();
    let mut settings: Vec<(usize, bool)> = dims.iter().map(|&d| (if d >= model_dim { 0 } else { d }, true)).collect();
    if !dims.is_empty() {
        settings.push((0, false));
    }
    let products = run.shard.products.len() as f64;
    let col = |variant: Variant| VARIANTS.iter().position(|v| *v == variant).unwrap_or(0);
    let mut out = Vec::new();
    // Every PCA dim also runs with the residual term off, on the same build, to show what the term changes.
    let mut indexes = Vec::new();
    for (projected_dim, quantize) in settings {
        let params = IndexParams { projected_dim, quantize, ..IndexParams::default() };
        let index = VectorIndex::build(&run.reference.vectors, &params)?;
        if index.stored_dim() < model_dim {
            let mut off = index.clone();
            off.set_residual_weight(0.0);
            indexes.push((index, quantize, true));
            indexes.push((off, quantize, false));
        } else {
            indexes.push((index, quantize, true));
        }
    }
    for (index, quantize, residual) in indexes {
        let h = &run.shard.header;
        let meta = ShardMeta {
            shard_id: h.shard_id.clone(),
            model_id: h.model_id.clone(),
            model_sha256: h.model_sha256.clone(),
            catalog_version: h.catalog_version.clone(),
            created_at: h.created_at,
        };
        let (_, bytes) = encode_shard(&meta, &run.shard.products, &index)?;
        let index_bytes = index_bytes(&Shard::from_bytes(&bytes)?);
        let ranks = |variant: Variant| -> Vec<Option<usize>> {
            let c = col(variant);
            vectors
                .iter()
                .zip(expected)
                .filter_map(|(v, &e)| v[c].as_ref().map(|q| (q, e)))
                .map(|(q, e)| rank_in(&merged(q, |v| index.search(v, CUTOFF, ef, &|_| true)), e))
                .collect()
        };
        let photo: Vec<&Vec<f32>> = vectors.iter().filter_map(|v| v[0].as_ref().map(|q| &q[0])).collect();
        let recall10 = photo
            .iter()
            .map(|q| {
                let found: Vec<u32> =
                    index.search(q, CUTOFF, ef, &|_| true).unwrap_or_default().iter().map(|h| h.product).collect();
                overlap(&found, &run.reference.top(q, CUTOFF))
            })
            .sum::<f64>()
            / photo.len().max(1) as f64;
        out.push(DimPoint {
            projected_dim: index.stored_dim(),
            quantized: quantize,
            residual_weight: index.residual_weight(),
            residual_fitted: residual,
            index_bytes_per_product: index_bytes as f64 / products,
            bytes_per_product: bytes.len() as f64 / products,
            photo: Scores::from_ranks(&ranks(Variant::Photo)),
            frame_crop: Scores::from_ranks(&ranks(Variant::FrameCrop)),
            recall10,
        });
    }
    Ok(out)
}

/// Writes the catalog's raw vectors, the photo queries and ShopLens's own figures on them for
/// `benches/ann_compare.py`.
pub fn dump(
    dir: &Path,
    run: &ModelRun,
    photo: &[Vec<f32>],
    expected: &[u32],
    model: &ModelReport,
) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let vectors = &run.reference.vectors;
    let dim = vectors.first().map_or(0, |v| v.1.len());
    let flat: Vec<f32> = vectors.iter().flat_map(|v| v.1.iter().copied()).collect();
    write_npy(&dir.join("catalog.npy"), vectors.len(), dim, &flat)?;
    let products: Vec<i32> = vectors.iter().map(|v| v.0 as i32).collect();
    write_npy(&dir.join("catalog_product.npy"), products.len(), 0, &products)?;
    let flat: Vec<f32> = photo.iter().flatten().copied().collect();
    write_npy(&dir.join("queries.npy"), photo.len(), dim, &flat)?;
    let expected: Vec<i32> = expected.iter().map(|&e| e as i32).collect();
    write_npy(&dir.join("queries_expected.npy"), expected.len(), 0, &expected)?;
    let exact = model.exact.iter().find(|e| e.method == "shard-exact");
    let json = serde_json::json!({
        "vectors": vectors.len(),
        "products": run.reference.products,
        "dim": dim,
        "projected_dim": run.shard.index.stored_dim(),
        "exact": exact.map(|e| serde_json::json!({"p50_us": e.p50_us, "p99_us": e.p99_us})),
        "ann": model.ann.iter().map(|a| serde_json::json!({
            "ef": a.ef, "recall10": a.recall10, "p50_us": a.p50_us, "p99_us": a.p99_us
        })).collect::<Vec<_>>(),
        "bytes_per_product": model.bytes_per_product,
        "index_bytes_per_product": model.index_bytes_per_product,
        // What a shop's build does: the rows with the residual term off are left out of the plots.
        "dims": model.dims.iter().filter(|d| d.residual_fitted).map(|d| serde_json::json!({
            "projected_dim": d.projected_dim, "quantized": d.quantized, "residual_weight": d.residual_weight,
            "index_bytes_per_product": d.index_bytes_per_product, "recall10": d.recall10
        })).collect::<Vec<_>>(),
    });
    let path = dir.join("shoplens.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)?).map_err(|e| Error::io(&path, e))
}
