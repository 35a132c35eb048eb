//! The shop's side: a product feed (JSON lines) and its photos to a shard file plus its `manifest.json`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::Product;
use crate::engine::ShopLens;
use crate::error::{Error, Result};
use crate::index::{IndexParams, VectorIndex};
use crate::shard::{encode_shard, ShardHeader, ShardMeta};

/// One line of the catalog feed: a product record plus its photos. Fields the feed adds beyond these are ignored.
#[derive(Clone, Debug, Deserialize)]
pub struct CatalogLine {
    /// The product's record (id, title, category, price, currency, brand, url, attributes).
    #[serde(flatten)]
    pub product: Product,
    /// A photo path under the images folder, or several (views of one product).
    pub image: OneOrMany,
}

/// A single image path or a list of them.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One photo.
    One(String),
    /// Several views.
    Many(Vec<String>),
}

impl OneOrMany {
    fn paths(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(p) => vec![p.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// How to build a shard.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Shard id; defaults to the output file's stem.
    pub shard_id: Option<String>,
    /// The catalog's version, as the shop names it.
    pub catalog_version: String,
    /// Creation time written into the shard, unix seconds (fixed for reproducible builds).
    pub created_at: u64,
    /// Stop at the first bad line instead of skipping it.
    pub strict: bool,
    /// Index parameters.
    pub index: IndexParams,
}

/// A line of the feed that was left out, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Skipped {
    /// 1-based line number in the feed.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// What a build produced; also written as `manifest.json` beside the shard (without `skipped`).
#[derive(Clone, Debug, Serialize)]
pub struct BuildReport {
    /// The shard's file name.
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Products in the shard.
    pub product_count: u32,
    /// Vectors (views) in the shard.
    pub vector_count: u32,
    /// The model the vectors come from.
    pub model_id: String,
    /// The catalog version.
    pub catalog_version: String,
    /// The shard id.
    pub shard_id: String,
    /// Lines left out.
    #[serde(skip)]
    pub skipped: Vec<Skipped>,
}

/// Builds a shard from `catalog` (JSON lines) with photos under `images`, writes it to `out` and `manifest.json`
/// beside it. Photos are embedded on all cores; `progress(done, total)` is called as they finish.
pub fn build_shard(
    engine: &ShopLens,
    catalog: &Path,
    images: &Path,
    out: &Path,
    options: &BuildOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<BuildReport> {
    let feed = embed_feed(engine, catalog, images, options.strict, progress)?;
    let shard_id = options
        .shard_id
        .clone()
        .unwrap_or_else(|| out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "shard".into()));
    let options = BuildOptions { shard_id: Some(shard_id), ..options.clone() };
    let (header, bytes) = encode_feed(engine, &feed, &options)?;
    write_atomically(out, &bytes)?;
    let report = report(out, &bytes, header, feed.skipped);
    let manifest = out.with_file_name("manifest.json");
    let json = serde_json::to_string_pretty(&report)?;
    write_atomically(&manifest, json.as_bytes())?;
    Ok(report)
}

/// A feed's products with the embeddings of their photos, ready to index.
#[derive(Clone, Debug)]
pub struct EmbeddedFeed {
    /// The products kept, in feed order.
    pub products: Vec<Product>,
    /// One normalized vector per photo, with the index of its product in `products` (a product's views adjacent):
    /// the shape [`VectorIndex::build`] takes.
    pub vectors: Vec<(u32, Vec<f32>)>,
    /// Lines left out.
    pub skipped: Vec<Skipped>,
}

/// Reads a feed and embeds every photo on all cores; a line with a bad photo is skipped (or fatal if `strict`).
pub fn embed_feed(
    engine: &ShopLens,
    catalog: &Path,
    images: &Path,
    strict: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<EmbeddedFeed> {
    let text = std::fs::read_to_string(catalog).map_err(|e| Error::io(catalog, e))?;
    let mut skipped = Vec::new();
    let mut lines = parse_lines(&text, strict, &mut skipped)?;

    // Every view of every product, embedded in parallel.
    let jobs: Vec<(usize, PathBuf)> = lines
        .iter()
        .enumerate()
        .flat_map(|(i, (_, l))| l.image.paths().into_iter().map(move |p| (i, images.join(p))))
        .collect();
    let done = AtomicUsize::new(0);
    let embedded: Vec<(usize, Result<Vec<f32>>)> = jobs
        .par_iter()
        .map(|(i, path)| {
            let v = std::fs::read(path)
                .map_err(|e| Error::io(path, e))
                .and_then(|bytes| engine.embed_catalog_photo(&bytes));
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
            (*i, v)
        })
        .collect();

    // A product with a bad photo is a bad line.
    let mut views: Vec<Vec<Vec<f32>>> = vec![Vec::new(); lines.len()];
    let mut failed = vec![None; lines.len()];
    for (i, v) in embedded {
        match v {
            Ok(v) => views[i].push(v),
            Err(e) => failed[i] = failed[i].take().or(Some(e.to_string())),
        }
    }
    let mut feed = EmbeddedFeed { products: Vec::with_capacity(lines.len()), vectors: Vec::new(), skipped };
    for (i, (line_no, line)) in lines.drain(..).enumerate() {
        if let Some(reason) = failed[i].take() {
            if strict {
                return Err(Error::Catalog(format!("line {line_no}: {reason}")));
            }
            feed.skipped.push(Skipped { line: line_no, reason });
            continue;
        }
        let p = feed.products.len() as u32;
        feed.products.push(line.product);
        feed.vectors.extend(std::mem::take(&mut views[i]).into_iter().map(|v| (p, v)));
    }
    if feed.products.is_empty() {
        return Err(Error::Catalog("no product could be built".into()));
    }
    Ok(feed)
}

/// Indexes an embedded feed and encodes the shard file's bytes (shard id `shard` unless `options` names one).
pub fn encode_feed(engine: &ShopLens, feed: &EmbeddedFeed, options: &BuildOptions) -> Result<(ShardHeader, Vec<u8>)> {
    let vectors = &feed.vectors;
    let mut params = options.index.clone();
    let model_dim = engine.embedder().dim();
    if vectors.len() < 2 * model_dim {
        // Too few vectors to learn a projection from (PCA on n vectors has at most n - 1 useful axes), and the
        // matrix would outweigh the vectors it shrinks: small catalogs keep the model's vectors.
        params.projected_dim = 0;
    }
    let index = VectorIndex::build(vectors, &params)?;
    let embedder = engine.embedder();
    let meta = ShardMeta {
        shard_id: options.shard_id.clone().unwrap_or_else(|| "shard".into()),
        model_id: embedder.manifest().model_id.clone(),
        model_sha256: embedder.sha256().to_string(),
        catalog_version: options.catalog_version.clone(),
        created_at: options.created_at,
    };
    encode_shard(&meta, &feed.products, &index)
}

fn parse_lines(text: &str, strict: bool, skipped: &mut Vec<Skipped>) -> Result<Vec<(usize, CatalogLine)>> {
    let mut seen = HashSet::new();
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<CatalogLine>(raw).map_err(|e| e.to_string()).and_then(|l| {
            if l.product.id.is_empty() || l.product.id.len() > crate::catalog::MAX_ID_BYTES {
                Err(format!("id must be 1 to {} bytes", crate::catalog::MAX_ID_BYTES))
            } else if l.image.paths().is_empty() {
                Err("no image".into())
            } else if !l.product.price.is_finite() || l.product.price < 0.0 {
                Err(format!("price {} is not a non-negative number", l.product.price))
            } else {
                Ok(l)
            }
        });
        match parsed {
            Ok(l) => {
                if !seen.insert(l.product.id.clone()) {
                    return Err(Error::Catalog(format!("line {line_no}: duplicate product id {:?}", l.product.id)));
                }
                lines.push((line_no, l));
            }
            Err(reason) if strict => return Err(Error::Catalog(format!("line {line_no}: {reason}"))),
            Err(reason) => skipped.push(Skipped { line: line_no, reason }),
        }
    }
    Ok(lines)
}

fn report(out: &Path, bytes: &[u8], header: ShardHeader, skipped: Vec<Skipped>) -> BuildReport {
    BuildReport {
        file: out.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        size: bytes.len() as u64,
        sha256: Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect(),
        product_count: header.product_count,
        vector_count: header.vector_count,
        model_id: header.model_id,
        catalog_version: header.catalog_version,
        shard_id: header.shard_id,
        skipped,
    }
}

/// Writes to a temporary file beside `path`, then renames: a crash never leaves half a shard under the real name.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let feed = r#"{"id":"a","title":"A","image":"a.jpg","category":"X","price":1,"currency":"EUR"}

not json
{"id":"b","title":"B","image":["b1.jpg","b2.jpg"],"category":"X/Y","price":-3,"currency":"EUR"}
{"id":"c","title":"C","image":[],"category":"X","price":1,"currency":"EUR"}
"#;
        let mut skipped = Vec::new();
        let lines = parse_lines(feed, false, &mut skipped).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(skipped.iter().map(|s| s.line).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert!(parse_lines(feed, true, &mut Vec::new()).unwrap_err().to_string().contains("line 3"));
    }

    #[test]
    fn duplicate_ids_are_fatal() {
        let line = r#"{"id":"a","title":"A","image":"a.jpg","category":"X","price":1,"currency":"EUR"}"#;
        let feed = format!("{line}\n{line}\n");
        let err = parse_lines(&feed, false, &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("duplicate"), "{err}");
    }
}
