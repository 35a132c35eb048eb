//! `shoplens eval`: retrieval quality and per-stage latency on a dataset of catalog photos and query photos, for
//! each model, on the photo path and the camera-frame path (with and without a crop box, clean and with camera-like
//! changes), searched three ways: the shard's HNSW (what apps run), an exact scan of the shard's stored vectors, and
//! an exact scan of the raw fp32 model vectors (the reference).

mod camera;
mod metrics;
mod report;
mod sweep;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use shoplens::builder::{embed_feed, encode_feed, BuildOptions};
use shoplens::{CameraFrame, EmbedderOptions, Error, Photo, Shard, ShopLens};

use self::camera::{render, Rng, SENSOR_SIZES};
use self::metrics::{merged, rank_in, Reference, Scores, CUTOFF};

/// Options of `shoplens eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// Dataset folder: `catalog.jsonl` (the build feed), `queries.jsonl` (`query`, `expected`, optional `box`
    /// `[x, y, w, h]` and `kind`) and their photos [default: target/eval-data, made by benches/eval/make_eval_set.py].
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// Models to evaluate, each an ONNX file with its manifest [default: the bundled int8 and fp32 models].
    #[arg(long = "model")]
    models: Vec<PathBuf>,
    /// HNSW beam width for the shard searches.
    #[arg(long, default_value_t = shoplens::search::DEFAULT_EF)]
    ef: usize,
    /// Queries timed one at a time on one thread for the per-stage latency.
    #[arg(long, default_value_t = 40)]
    timed: usize,
    /// Use only the first N queries (0: all).
    #[arg(long, default_value_t = 0)]
    max_queries: usize,
    /// Seed of the camera-like changes.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// PCA dimensions to sweep for bytes per product against recall (first model only; empty: no sweep).
    #[arg(long, value_delimiter = ',', default_value = "32,64,96,128,192,256,320")]
    dims: Vec<usize>,
    /// Write the whole report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Query with the embedding alone, leaving out the object vector (the strongest feature-map window).
    #[arg(long)]
    single_vector: bool,
    /// Write catalog and query vectors as `.npy` (one folder per model) for benches/ann_compare.py.
    #[arg(long)]
    dump: Option<PathBuf>,
}

/// One line of `queries.jsonl`.
#[derive(Clone, Debug, Deserialize)]
pub struct QueryLine {
    query: String,
    expected: String,
    #[serde(rename = "box")]
    object: Option<[f64; 4]>,
    #[serde(default = "default_kind")]
    kind: String,
}

fn default_kind() -> String {
    "query".into()
}

/// How a query reaches the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// The encoded photo, as an upload.
    Photo,
    /// The picture of the camera frame (the photo framed at a phone resolution) as an RGB photo: `frame` minus the
    /// NV21 encoding, so `photo -> view` is the framing and `view -> frame` the camera pipeline.
    View,
    /// The photo as an NV21 camera frame at a phone resolution, whole frame.
    Frame,
    /// That frame with a crop box around the object.
    FrameCrop,
    /// The frame after camera-like changes (perspective, light, blur, noise, JPEG), whole frame.
    Camera,
    /// The changed frame with the crop box.
    CameraCrop,
}

pub const VARIANTS: [Variant; 6] =
    [Variant::Photo, Variant::View, Variant::Frame, Variant::FrameCrop, Variant::Camera, Variant::CameraCrop];

/// How the catalog is searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The shard's graph search, as apps run it.
    Hnsw,
    /// Every stored (projected, quantized) vector of the shard.
    ShardExact,
    /// Every raw fp32 model vector: the reference.
    Fp32Exact,
}

/// A query's vectors: the embedding, then the object vector when the model gives one (and it is not turned off).
pub type Query = Vec<Vec<f32>>;

/// Query embeddings of one model, per variant (`None`: the variant does not apply, e.g. crop without a box).
type QueryVectors = Vec<[Option<Query>; VARIANTS.len()]>;

/// One model's catalog, shard and reference.
pub struct ModelRun {
    pub engine: ShopLens,
    pub file: PathBuf,
    pub shard: Shard,
    pub shard_bytes: usize,
    pub reference: Reference,
    pub build_s: f64,
}

pub fn run(args: EvalArgs) -> Result<(), Error> {
    let dataset = args.dataset.clone().unwrap_or_else(|| crate::bundled("target/eval-data"));
    let queries = read_queries(&dataset, args.max_queries)?;
    let files = if args.models.is_empty() {
        vec![crate::default_model(), crate::bundled("models/shoplens-effnet-lite0-fp32.onnx")]
    } else {
        args.models.clone()
    };
    let mut runs = Vec::new();
    for file in &files {
        // One inference thread per model; queries run in parallel across cores instead.
        let engine = ShopLens::open_with(file, EmbedderOptions { threads: 1, ..Default::default() })?;
        eprintln!("eval: embedding the catalog with {}", engine.embedder().manifest().model_id);
        runs.push(model_run(engine, file.clone(), &dataset)?);
    }
    let expected: Vec<u32> = queries
        .iter()
        .map(|q| runs[0].shard.find(&q.expected).ok_or_else(|| missing(&q.expected)))
        .collect::<Result<_, _>>()?;

    eprintln!("eval: {} queries x {} variants x {} models", queries.len(), VARIANTS.len(), runs.len());
    let engines: Vec<&ShopLens> = runs.iter().map(|r| &r.engine).collect();
    let per_query: Vec<Vec<[Option<Query>; VARIANTS.len()]>> = queries
        .par_iter()
        .enumerate()
        .map(|(i, q)| embed_query(&engines, &dataset, q, i, args.seed, args.single_vector))
        .collect::<Result<_, _>>()?;
    let vectors: Vec<QueryVectors> =
        (0..runs.len()).map(|m| per_query.iter().map(|per_model| per_model[m].clone()).collect()).collect();
    drop(per_query);

    let mut models = Vec::new();
    for (m, run) in runs.iter().enumerate() {
        eprintln!("eval: scoring {}", run.engine.embedder().manifest().model_id);
        let results = score(run, &queries, &expected, &vectors[m], args.ef);
        let latency = sweep::latency(run, &dataset, &queries, args.timed, args.ef)?;
        // The index sweeps time one vector per query, as the other indexes get.
        let photo: Vec<Vec<f32>> = vectors[m].iter().filter_map(|v| v[0].as_ref().map(|q| q[0].clone())).collect();
        let (ann, exact) = sweep::ann(run, &photo);
        let dims = if m == 0 { sweep::dims(run, &args.dims, &expected, &vectors[m], args.ef)? } else { vec![] };
        let model = report::ModelReport::new(run, results, latency, ann, exact, dims);
        if let Some(dir) = &args.dump {
            sweep::dump(&dir.join(&model.model_id), run, &photo, &expected, &model)?;
        }
        models.push(model);
    }
    let agreement = (vectors.len() == 2).then(|| report::agreement(&vectors[0], &vectors[1]));
    let report = report::Report::new(&dataset, &queries, &runs, models, agreement, args.ef);
    report.print();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

fn missing(id: &str) -> Error {
    Error::InvalidArgument(format!("queries.jsonl expects product {id:?}, which the catalog does not have"))
}

fn read_queries(dataset: &Path, max: usize) -> Result<Vec<QueryLine>, Error> {
    let path = dataset.join("queries.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let mut queries = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let q: QueryLine = serde_json::from_str(line)
            .map_err(|e| Error::InvalidArgument(format!("{}:{}: {e}", path.display(), i + 1)))?;
        queries.push(q);
    }
    if max > 0 {
        queries.truncate(max);
    }
    if queries.is_empty() {
        return Err(Error::InvalidArgument(format!("{} has no queries", path.display())));
    }
    Ok(queries)
}

/// Where the feed's photo paths are rooted: the dataset folder, or its `images/` (the builder's `--images`).
fn images_root(dataset: &Path, catalog: &str) -> PathBuf {
    let first = catalog.lines().find_map(|l| serde_json::from_str::<shoplens::builder::CatalogLine>(l).ok());
    let path = first.and_then(|l| match l.image {
        shoplens::builder::OneOrMany::One(p) => Some(p),
        shoplens::builder::OneOrMany::Many(v) => v.into_iter().next(),
    });
    match path {
        Some(p) if !dataset.join(&p).exists() && dataset.join("images").join(&p).exists() => dataset.join("images"),
        _ => dataset.to_path_buf(),
    }
}

fn model_run(engine: ShopLens, file: PathBuf, dataset: &Path) -> Result<ModelRun, Error> {
    let catalog = dataset.join("catalog.jsonl");
    let text = std::fs::read_to_string(&catalog).map_err(|e| Error::io(&catalog, e))?;
    let start = Instant::now();
    let feed = embed_feed(&engine, &catalog, &images_root(dataset, &text), true, &|_, _| {})?;
    let options = BuildOptions {
        shard_id: Some("eval".into()),
        catalog_version: "eval".into(),
        created_at: 0,
        strict: true,
        index: Default::default(),
    };
    let (_, bytes) = encode_feed(&engine, &feed, &options)?;
    let build_s = start.elapsed().as_secs_f64();
    let shard = Shard::from_bytes(&bytes)?;
    // The reference indexes products in feed order; the shard must agree, or every rank below would be wrong.
    let ids: HashMap<&str, u32> = feed.products.iter().enumerate().map(|(i, p)| (p.id.as_str(), i as u32)).collect();
    if shard.products.iter().enumerate().any(|(i, p)| ids.get(p.id.as_str()) != Some(&(i as u32))) {
        return Err(Error::InvalidArgument("the shard reordered the products".into()));
    }
    let reference = Reference { products: feed.products.len(), vectors: feed.vectors };
    Ok(ModelRun { engine, file, shard_bytes: bytes.len(), shard, reference, build_s })
}

/// Every variant of one query, embedded by every model. Frames are rendered once and shared by the models.
fn embed_query(
    engines: &[&ShopLens],
    dataset: &Path,
    q: &QueryLine,
    index: usize,
    seed: u64,
    single_vector: bool,
) -> Result<Vec<[Option<Query>; VARIANTS.len()]>, Error> {
    let path = dataset.join(&q.query);
    let photo = Photo::decode(&crate::read(&path)?)?;
    let upright = photo.to_rgb_image();
    let sensor = SENSOR_SIZES[index % SENSOR_SIZES.len()];
    let clean = render(&upright, q.object, sensor, None)?;
    let mut rng = Rng::new(seed.wrapping_mul(0x1000_0000_01b3) ^ index as u64);
    let changed = render(&upright, q.object, sensor, Some(&mut rng))?;
    engines
        .iter()
        .map(|engine| {
            let query = |e: shoplens::Embedding| -> Query {
                let mut q = vec![e.vector];
                if !single_vector {
                    q.extend(e.objects);
                }
                q
            };
            let frame = |r: &camera::RenderedFrame, crop: bool| -> Result<Option<Query>, Error> {
                if crop && r.crop.is_none() {
                    return Ok(None);
                }
                Ok(Some(query(engine.embed_frame(&r.frame(crop)?)?)))
            };
            Ok([
                // The photo path minus the decode, done once above for every model and frame.
                Some(query(engine.embed_frame(&photo.as_frame()?)?)),
                Some(query(engine.embed_frame(&CameraFrame::rgb(
                    clean.view.width(),
                    clean.view.height(),
                    clean.view.as_raw(),
                    clean.view.width() as usize * 3,
                )?)?)),
                frame(&clean, false)?,
                frame(&clean, true)?,
                frame(&changed, false)?,
                frame(&changed, true)?,
            ])
        })
        .collect()
}

/// One row of the quality table.
#[derive(Clone, Debug, Serialize)]
pub struct ResultRow {
    pub variant: Variant,
    pub method: Method,
    /// `all`, one query kind of the dataset, or `sensor WxH`: the queries whose frames have that size.
    pub kind: String,
    #[serde(flatten)]
    pub scores: Scores,
}

/// Which queries (by index) belong to a reported subset.
type Member<'a> = Box<dyn Fn(usize) -> bool + Sync + 'a>;

/// Ranks of every query under every variant and method, summarized overall and per query kind.
fn score(run: &ModelRun, queries: &[QueryLine], expected: &[u32], vectors: &QueryVectors, ef: usize) -> Vec<ResultRow> {
    let index = &run.shard.index;
    let mut rows = Vec::new();
    let mut kinds: Vec<&str> = queries.iter().map(|q| q.kind.as_str()).collect();
    kinds.sort();
    kinds.dedup();
    // Subsets reported beside `all`: each query kind, and the queries rendered at each sensor size (the photo row
    // of a size is the same queries' photo path, so the two compare like for like).
    let mut groups: Vec<(String, Member)> = Vec::new();
    if kinds.len() > 1 {
        for kind in kinds {
            groups.push((kind.to_string(), Box::new(move |i: usize| queries[i].kind == kind)));
        }
    }
    for (s, (w, h)) in SENSOR_SIZES.iter().enumerate() {
        groups.push((format!("sensor {w}x{h}"), Box::new(move |i: usize| i % SENSOR_SIZES.len() == s)));
    }
    for (v, variant) in VARIANTS.iter().enumerate() {
        for method in [Method::Hnsw, Method::ShardExact, Method::Fp32Exact] {
            let ranks: Vec<(usize, Option<usize>)> = vectors
                .par_iter()
                .enumerate()
                .filter_map(|(i, per_variant)| {
                    let q = per_variant[v].as_ref()?;
                    let keep = |_: u32| true;
                    let rank = match method {
                        Method::Hnsw => rank_in(&merged(q, |v| index.search(v, CUTOFF, ef, &keep)), expected[i]),
                        Method::ShardExact => {
                            rank_in(&merged(q, |v| index.exact_search(v, CUTOFF, &keep)), expected[i])
                        }
                        Method::Fp32Exact => Some(run.reference.rank(q, expected[i])),
                    };
                    Some((i, rank))
                })
                .collect();
            if ranks.is_empty() {
                continue;
            }
            let all: Vec<Option<usize>> = ranks.iter().map(|r| r.1).collect();
            rows.push(ResultRow { variant: *variant, method, kind: "all".into(), scores: Scores::from_ranks(&all) });
            for (name, member) in &groups {
                let of_group: Vec<Option<usize>> = ranks.iter().filter(|(i, _)| member(*i)).map(|r| r.1).collect();
                if !of_group.is_empty() {
                    let scores = Scores::from_ranks(&of_group);
                    rows.push(ResultRow { variant: *variant, method, kind: name.clone(), scores });
                }
            }
        }
    }
    rows
}
