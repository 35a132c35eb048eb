//! The eval's report: a JSON document and the same figures as markdown tables (pasted into docs/benchmarks.md).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use shoplens::cosine;

use super::sweep::{AnnPoint, DimPoint, ExactPoint, Latency};
use super::{ModelRun, QueryLine, QueryVectors, ResultRow, Variant, VARIANTS};

/// Everything measured for one model.
#[derive(Serialize)]
pub struct ModelReport {
    pub model_id: String,
    pub file: String,
    /// Catalog embedding plus index build, all cores.
    pub build_s: f64,
    pub projected_dim: usize,
    pub shard_bytes: usize,
    pub bytes_per_product: f64,
    pub index_bytes_per_product: f64,
    pub results: Vec<ResultRow>,
    pub latency: Latency,
    pub ann: Vec<AnnPoint>,
    pub exact: Vec<ExactPoint>,
    pub dims: Vec<DimPoint>,
}

impl ModelReport {
    pub fn new(
        run: &ModelRun,
        results: Vec<ResultRow>,
        latency: Latency,
        ann: Vec<AnnPoint>,
        exact: Vec<ExactPoint>,
        dims: Vec<DimPoint>,
    ) -> Self {
        let products = run.shard.products.len().max(1) as f64;
        let index_bytes = super::sweep::index_bytes(&run.shard);
        ModelReport {
            model_id: run.engine.embedder().manifest().model_id.clone(),
            file: run.file.display().to_string(),
            build_s: run.build_s,
            projected_dim: run.shard.index.stored_dim(),
            shard_bytes: run.shard_bytes,
            bytes_per_product: run.shard_bytes as f64 / products,
            index_bytes_per_product: index_bytes as f64 / products,
            results,
            latency,
            ann,
            exact,
            dims,
        }
    }
}

/// How closely two models' query vectors agree, per variant.
#[derive(Serialize)]
pub struct Agreement {
    pub variant: Variant,
    pub queries: usize,
    pub cosine_mean: f64,
    pub cosine_min: f64,
}

pub fn agreement(a: &QueryVectors, b: &QueryVectors) -> Vec<Agreement> {
    VARIANTS
        .iter()
        .enumerate()
        .filter_map(|(v, variant)| {
            let c: Vec<f64> = a
                .iter()
                .zip(b)
                .filter_map(|(x, y)| Some(cosine(&x[v].as_ref()?[0], &y[v].as_ref()?[0]) as f64))
                .collect();
            (!c.is_empty()).then(|| Agreement {
                variant: *variant,
                queries: c.len(),
                cosine_mean: c.iter().sum::<f64>() / c.len() as f64,
                cosine_min: c.iter().copied().fold(f64::INFINITY, f64::min),
            })
        })
        .collect()
}

/// The whole eval.
#[derive(Serialize)]
pub struct Report {
    pub dataset: String,
    pub catalog_products: usize,
    pub catalog_vectors: usize,
    pub queries: usize,
    pub query_kinds: BTreeMap<String, usize>,
    pub queries_with_box: usize,
    pub ef: usize,
    pub machine: String,
    pub models: Vec<ModelReport>,
    /// First model against the second (int8 against fp32 by default).
    pub agreement: Option<Vec<Agreement>>,
}

impl Report {
    pub fn new(
        dataset: &Path,
        queries: &[QueryLine],
        runs: &[ModelRun],
        models: Vec<ModelReport>,
        agreement: Option<Vec<Agreement>>,
        ef: usize,
    ) -> Self {
        let mut query_kinds = BTreeMap::new();
        for q in queries {
            *query_kinds.entry(q.kind.clone()).or_insert(0) += 1;
        }
        Report {
            dataset: dataset.display().to_string(),
            catalog_products: runs.first().map_or(0, |r| r.reference.products),
            catalog_vectors: runs.first().map_or(0, |r| r.reference.vectors.len()),
            queries: queries.len(),
            query_kinds,
            queries_with_box: queries.iter().filter(|q| q.object.is_some()).count(),
            ef,
            machine: machine(),
            models,
            agreement,
        }
    }

    pub fn print(&self) {
        println!(
            "dataset {}: {} products ({} photos), {} queries {:?}, {} with an object box; {}",
            self.dataset,
            self.catalog_products,
            self.catalog_vectors,
            self.queries,
            self.query_kinds,
            self.queries_with_box,
            self.machine
        );
        println!("\n### Retrieval (ef {})\n", self.ef);
        println!("| model | variant | search | kind | queries | R@1 | R@5 | R@10 | mAP@10 |");
        println!("|---|---|---|---|---|---|---|---|---|");
        for m in &self.models {
            for r in &m.results {
                let s = &r.scores;
                println!(
                    "| {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
                    m.model_id,
                    name(&r.variant),
                    name(&r.method),
                    r.kind,
                    s.queries,
                    s.r1,
                    s.r5,
                    s.r10,
                    s.map10
                );
            }
        }
        println!("\n### Latency, median ms, one query at a time, 1 thread\n");
        println!("| model | decode | photo preprocess | 1080p frame -> tensor | with crop | inference | HNSW | shard exact | fp32 exact | frame to results |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for m in &self.models {
            let l = &m.latency;
            println!(
                "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} | {:.2} |",
                m.model_id,
                l.decode_ms,
                l.photo_preprocess_ms,
                l.frame_to_tensor_ms,
                l.frame_crop_to_tensor_ms,
                l.inference_ms,
                l.search_hnsw_ms,
                l.search_shard_exact_ms,
                l.search_fp32_exact_ms,
                l.frame_to_results_ms
            );
        }
        for m in &self.models {
            println!(
                "\n### HNSW beam width, {} ({} products, PCA {}, {:.0} B/product shard, {:.0} B/product index)\n",
                m.model_id, self.catalog_products, m.projected_dim, m.bytes_per_product, m.index_bytes_per_product
            );
            println!("| search | recall@10 vs fp32 exact | recall@10 vs shard exact | p50 µs | p99 µs |");
            println!("|---|---|---|---|---|");
            for a in &m.ann {
                println!(
                    "| HNSW ef {} | {:.3} | {:.3} | {:.1} | {:.1} |",
                    a.ef, a.recall10, a.recall10_graph, a.p50_us, a.p99_us
                );
            }
            for e in &m.exact {
                println!("| {} | {:.3} | | {:.1} | {:.1} |", e.method, e.recall10, e.p50_us, e.p99_us);
            }
            if !m.dims.is_empty() {
                println!("\n### Bytes per product against recall, {} (HNSW ef {})\n", m.model_id, self.ef);
                println!("| stored dim | int8 | residual weight | index B/product | shard B/product | photo R@1 | photo R@10 | frame+crop R@1 | recall@10 vs fp32 exact |");
                println!("|---|---|---|---|---|---|---|---|---|");
                for d in &m.dims {
                    let crop = if d.frame_crop.queries == 0 { "-".into() } else { format!("{:.3}", d.frame_crop.r1) };
                    println!(
                        "| {} | {} | {} | {:.1} | {:.1} | {:.3} | {:.3} | {crop} | {:.3} |",
                        d.projected_dim,
                        if d.quantized { "yes" } else { "no (f32)" },
                        d.residual_weight,
                        d.index_bytes_per_product,
                        d.bytes_per_product,
                        d.photo.r1,
                        d.photo.r10,
                        d.recall10
                    );
                }
            }
        }
        if let Some(agreement) = &self.agreement {
            let (a, b) = (&self.models[0].model_id, &self.models[1].model_id);
            println!("\n### Agreement of query vectors, {a} against {b}\n");
            println!("| variant | queries | cosine mean | cosine min |");
            println!("|---|---|---|---|");
            for g in agreement {
                println!("| {} | {} | {:.4} | {:.4} |", name(&g.variant), g.queries, g.cosine_mean, g.cosine_min);
            }
        }
    }
}

/// The serde name of a variant or method, for the tables.
fn name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {cores} cores")
}
