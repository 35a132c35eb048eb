//! Shard size and recall at scale, on synthetic clustered vectors. Ignored by default (minutes in debug); run:
//!
//! ```sh
//! cargo test --release --test shard_scale -- --ignored --nocapture
//! SCALE_N=100000 SCALE_PARAMS=128:1:32,64:1:24 cargo test --release --test shard_scale -- --ignored --nocapture
//! ```
//!
//! `SCALE_PARAMS` is a comma list of `projected_dim:quantize(0|1):max_neighbors[:code_max]` (code_max defaults to
//! the builder's); `SCALE_DATA` is `flat` (variance
//! spread over all dimensions, 1/i spectrum: pessimistic for PCA) or `latent` (a 48-d latent space mapped into the
//! model's dimension plus 10% isotropic noise) or `npy:PATH`, real embeddings from a float32 `[rows, dim]` `.npy`
//! file (rows shuffled with a fixed seed, the last 200 held out as queries; `SCALE_N` and `SCALE_DIM` are then
//! the file's); `SCALE_EF` lists search widths; `SCALE_RESIDUAL=0` turns PCA's residual term off (format 3's scores),
//! any other number sets its weight instead of the fitted one.

mod common;

use common::Rng;
use std::collections::BTreeMap;
use std::time::Instant;

use shoplens::index::DEFAULT_EF;
use shoplens::{encode_shard, IndexParams, Product, Shard, ShardMeta, VectorIndex};

fn normalize(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Vectors in `clusters` clusters of a common-mean space: `flat` or `latent` (see the module doc).
fn synthetic(kind: &str, n: usize, dim: usize, clusters: usize) -> Vec<Vec<f32>> {
    let mut fixed = Rng(1);
    let mut rng = Rng(42);
    match kind {
        "latent" => {
            let latent = 48;
            let map: Vec<Vec<f32>> = (0..dim).map(|_| (0..latent).map(|_| fixed.gaussian()).collect()).collect();
            let sigma: Vec<f32> = (0..latent).map(|i| 1.0 / ((i + 1) as f32).sqrt()).collect();
            let mean: Vec<f32> = sigma.iter().map(|s| 0.6 * s * fixed.gaussian()).collect();
            let centres: Vec<Vec<f32>> =
                (0..clusters).map(|_| sigma.iter().map(|s| s * fixed.gaussian()).collect()).collect();
            (0..n)
                .map(|_| {
                    let c = &centres[(rng.next() % clusters as u64) as usize];
                    let z: Vec<f32> = (0..latent).map(|i| mean[i] + c[i] + 0.7 * sigma[i] * rng.gaussian()).collect();
                    let x: Vec<f32> = map.iter().map(|row| row.iter().zip(&z).map(|(a, b)| a * b).sum()).collect();
                    let x = normalize(x);
                    let noise = 0.33 / (dim as f32).sqrt();
                    normalize(x.iter().map(|v| v + noise * rng.gaussian()).collect())
                })
                .collect()
        }
        _ => {
            let sigma: Vec<f32> = (0..dim).map(|i| 1.0 / ((i + 1) as f32).sqrt()).collect();
            let mean: Vec<f32> = sigma.iter().map(|s| 0.6 * s * fixed.gaussian()).collect();
            let centres: Vec<Vec<f32>> =
                (0..clusters).map(|_| sigma.iter().map(|s| s * fixed.gaussian()).collect()).collect();
            (0..n)
                .map(|_| {
                    let c = &centres[(rng.next() % clusters as u64) as usize];
                    normalize((0..dim).map(|i| mean[i] + c[i] + 0.7 * sigma[i] * rng.gaussian()).collect())
                })
                .collect()
        }
    }
}

/// Rows of a little-endian float32, C-order, 2-d `.npy` file, shuffled with a fixed seed and normalized.
fn real(path: &str) -> Vec<Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{path} is not an .npy file");
    assert_eq!(bytes[6], 1, "{path}: only .npy format version 1 is read");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'<f4'") && header.contains("'fortran_order': False"), "{header}");
    let shape = &header[header.find("'shape': (").unwrap() + 10..];
    let dims: Vec<usize> = shape[..shape.find(')').unwrap()].split(',').filter_map(|d| d.trim().parse().ok()).collect();
    let floats: Vec<f32> =
        bytes[10 + header_len..].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert_eq!(floats.len(), dims[0] * dims[1], "{path}: the data does not hold {dims:?} floats");
    let mut rows: Vec<Vec<f32>> = floats.chunks_exact(dims[1]).map(|r| normalize(r.to_vec())).collect();
    let mut rng = Rng(7);
    for i in (1..rows.len()).rev() {
        rows.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    rows
}

/// Product records of a plausible size: id, title, category, price, brand, url, two attributes.
fn products(n: usize) -> Vec<Product> {
    let words = ["Classic", "Organic", "Stoneware", "Linen", "Vintage", "Compact", "Deluxe", "Bamboo", "Steel"];
    let things = ["Mug", "Lamp", "Chair", "Teapot", "Backpack", "Sneaker", "Vase", "Kettle", "Blanket"];
    let cats = ["Home/Kitchen/Mugs", "Home/Lighting", "Furniture/Chairs", "Fashion/Shoes", "Home/Textiles"];
    let colours = ["red", "blue", "black", "white", "green", "oak"];
    let mut rng = Rng(9);
    (0..n)
        .map(|i| {
            let r = rng.next() as usize;
            Product {
                id: format!("SKU-{:07}", 1_000_000 + i * 7),
                title: format!("{} {} {} {}", words[r % 9], words[(r / 9) % 9], things[(r / 81) % 9], r % 1000),
                category: cats[(r / 729) % 5].into(),
                price: ((r % 20000) as f64) / 100.0,
                currency: "EUR".into(),
                brand: Some(format!("Brand{}", r % 300)),
                url: Some(format!("https://shop.example.com/p/{}", 1_000_000 + i * 7)),
                attributes: BTreeMap::from([
                    ("colour".to_string(), colours[r % 6].to_string()),
                    ("size".to_string(), format!("{}", 10 + r % 40)),
                ]),
            }
        })
        .collect()
}

/// The exact top `k` by fp32 cosine on the full vectors, best first.
fn truth(vectors: &[Vec<f32>], q: &[f32], k: usize) -> Vec<u32> {
    let mut s: Vec<(f32, u32)> =
        vectors.iter().enumerate().map(|(i, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum(), i as u32)).collect();
    s.select_nth_unstable_by(k, |a, b| b.0.total_cmp(&a.0));
    s.truncate(k);
    s.sort_by(|a, b| b.0.total_cmp(&a.0));
    s.into_iter().map(|(_, i)| i).collect()
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// Prints the library's debug log (the shard reader's per-stage open times) when `SCALE_LOG` is set.
struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.target().starts_with("shoplens")
    }

    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            eprintln!("  [{}] {}", r.level(), r.args());
        }
    }

    fn flush(&self) {}
}

#[test]
#[ignore = "minutes; run in release with --ignored --nocapture"]
fn scale_report() {
    if std::env::var_os("SCALE_LOG").is_some() && log::set_logger(&Stderr).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
    let data = env("SCALE_DATA", "flat");
    let queries = 200;
    let (all, n, dim) = match data.strip_prefix("npy:") {
        Some(path) => {
            let all = real(path);
            let (n, dim) = (all.len() - queries, all[0].len());
            (all, n, dim)
        }
        None => {
            let n: usize = env("SCALE_N", "10000").parse().unwrap();
            let dim: usize = env("SCALE_DIM", "1280").parse().unwrap();
            (synthetic(&data, n + queries, dim, (n / 50).max(10)), n, dim)
        }
    };
    let (vectors, queries) = all.split_at(n);
    let truths: Vec<Vec<u32>> = queries.iter().map(|q| truth(vectors, q, 10)).collect();
    let input: Vec<(u32, Vec<f32>)> = vectors.iter().enumerate().map(|(i, v)| (i as u32, v.clone())).collect();
    let products = products(n);
    let efs: Vec<usize> =
        env("SCALE_EF", &format!("32,{DEFAULT_EF},128")).split(',').map(|s| s.parse().unwrap()).collect();
    println!("{data} data, {n} vectors of {dim}; recall@10 vs exact fp32 on full vectors, {} queries", queries.len());
    println!(
        "params(dim:q:M:code_max) | build s | open ms | bytes/product total = proj+vec+map+graph+records | recall exact-on-stored \
         | recall@ef (graph: vs exact on stored; nn: true nearest in top 10; us/query)"
    );
    for spec in env("SCALE_PARAMS", "64:1:32,128:1:32,256:1:32,128:0:32,128:1:16,128:1:24").split(',') {
        let f: Vec<usize> = spec.split(':').map(|s| s.parse().unwrap()).collect();
        let d = IndexParams::default();
        let code_max = f.get(3).map_or(d.code_max, |&c| u8::try_from(c).expect("code_max is at most 127"));
        let params = IndexParams { projected_dim: f[0], quantize: f[1] == 1, max_neighbors: f[2], code_max, ..d };
        let t = Instant::now();
        let mut index = VectorIndex::build(&input, &params).unwrap();
        if let Ok(w) = std::env::var("SCALE_RESIDUAL") {
            index.set_residual_weight(w.parse().expect("SCALE_RESIDUAL is a number"));
        }
        let build = t.elapsed().as_secs_f64();
        let meta = ShardMeta {
            shard_id: "scale".into(),
            model_id: "m".into(),
            model_sha256: "0".repeat(64),
            catalog_version: "1".into(),
            created_at: 0,
        };
        let (_, bytes) = encode_shard(&meta, &products, &index).unwrap();
        // The best of five opens: the machine may be shared.
        let mut open = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let shard = std::hint::black_box(Shard::from_bytes(&bytes).unwrap());
            open = open.min(t.elapsed().as_secs_f64() * 1e3);
            drop(shard); // not timed: an app opens a shard to keep it
        }
        let shard = Shard::from_bytes(&bytes).unwrap();
        let per: Vec<String> =
            shard.sections().iter().map(|s| format!("{:.1}", s.compressed_bytes as f64 / n as f64)).collect();
        let exact = recall(&truths, |q| shard.index.exact_search(q, 10, &|_| true).unwrap(), queries);
        let mut line = format!(
            "{:>14} | {build:7.1} | {open:7.0} | {:6.1} = {} | {exact:.3} |",
            format!("{}:{}:{}:{code_max}", f[0], f[1], f[2]),
            bytes.len() as f64 / n as f64,
            per.join("+")
        );
        // The graph's own recall: against an exact scan of the same stored vectors.
        let stored_truths: Vec<Vec<u32>> = queries
            .iter()
            .map(|q| shard.index.exact_search(q, 10, &|_| true).unwrap().iter().map(|h| h.product).collect())
            .collect();
        for &ef in &efs {
            let t = Instant::now();
            let r = recall(&truths, |q| shard.index.search(q, 10, ef, &|_| true).unwrap(), queries);
            let us = t.elapsed().as_secs_f64() * 1e6 / queries.len() as f64;
            let g = recall(&stored_truths, |q| shard.index.search(q, 10, ef, &|_| true).unwrap(), queries);
            // How often the true nearest vector is among the 10 hits: what a shopper looking for one product sees.
            let nn = queries
                .iter()
                .zip(&truths)
                .filter(|(q, want)| {
                    shard.index.search(q, 10, ef, &|_| true).unwrap().iter().any(|h| h.product == want[0])
                })
                .count() as f64
                / queries.len() as f64;
            line += &format!(" ef{ef}: {r:.3} (graph {g:.3}, nn {nn:.3}, {us:.0}us)");
        }
        // Per-query latency side by side with the exact scan of the same shard, one thread.
        let (h50, h99) = latency(queries, |q| shard.index.search(q, 10, DEFAULT_EF, &|_| true).unwrap());
        let (e50, e99) = latency(queries, |q| shard.index.exact_search(q, 10, &|_| true).unwrap());
        line += &format!(
            " | hnsw ef{DEFAULT_EF} p50/p99 {h50:.0}/{h99:.0}us, exact p50/p99 {e50:.0}/{e99:.0}us, p50 speed-up {:.0}x",
            e50 / h50
        );
        println!(
            "{line}   [{} edges/vector, residual weight {}]",
            shard.index.edges() as f64 / n as f64,
            shard.index.residual_weight()
        );
    }
}

/// Median and 99th percentile of one query's time, microseconds.
fn latency(queries: &[Vec<f32>], search: impl Fn(&[f32]) -> Vec<shoplens::Hit>) -> (f64, f64) {
    let mut us: Vec<f64> = queries
        .iter()
        .map(|q| {
            let t = Instant::now();
            std::hint::black_box(search(q));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    us.sort_by(f64::total_cmp);
    (us[us.len() / 2], us[(us.len() * 99 / 100).min(us.len() - 1)])
}

fn recall(truths: &[Vec<u32>], search: impl Fn(&[f32]) -> Vec<shoplens::Hit>, queries: &[Vec<f32>]) -> f64 {
    let found: usize = queries
        .iter()
        .zip(truths)
        .map(|(q, want)| search(q).iter().filter(|h| want.contains(&h.product)).count())
        .sum();
    found as f64 / (queries.len() * 10) as f64
}
