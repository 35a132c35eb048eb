//! `build`, `inspect` and `search`: the shard commands.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use shoplens::builder::{build_shard, BuildOptions};
use shoplens::{EmbedderOptions, Error, IndexParams, Match, SearchOptions, Shard, ShopLens};

use crate::frame_args::FrameArgs;
use crate::{read, ModelArg};

/// Options of `shoplens build`.
#[derive(Args)]
pub struct BuildArgs {
    /// The product feed: one JSON object per line.
    #[arg(long)]
    catalog: PathBuf,
    /// Folder the feed's image paths are relative to.
    #[arg(long)]
    images: PathBuf,
    /// The shard file to write; manifest.json is written beside it.
    #[arg(long)]
    out: PathBuf,
    /// The catalog's version.
    #[arg(long, default_value = "1")]
    catalog_version: String,
    /// Shard id [default: the output file's stem].
    #[arg(long)]
    shard_id: Option<String>,
    /// Creation time, unix seconds [default: $SOURCE_DATE_EPOCH, else now].
    #[arg(long)]
    created_at: Option<u64>,
    /// Stop at the first bad line instead of skipping it.
    #[arg(long)]
    strict: bool,
    /// PCA dimension stored in the shard; 0 keeps the model's [default: 256; the model's for catalogs with fewer
    /// photos than twice its dimension, 640 for the bundled model]
    #[arg(long)]
    projected_dim: Option<usize>,
    /// Largest int8 code, 1..=127: fewer levels make a smaller shard at some cost in ranking [default: 45]
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=127))]
    code_max: Option<u8>,
    #[command(flatten)]
    model: ModelArg,
}

pub fn build(args: BuildArgs) -> Result<(), Error> {
    // One inference thread per photo, photos in parallel on every core.
    let engine = ShopLens::open_with(args.model.path(), EmbedderOptions { threads: 1, ..Default::default() })?;
    let created_at = args
        .created_at
        .or_else(|| std::env::var("SOURCE_DATE_EPOCH").ok()?.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    let mut index = IndexParams::default();
    if let Some(d) = args.projected_dim {
        index.projected_dim = d;
    }
    if let Some(c) = args.code_max {
        index.code_max = c;
    }
    let options = BuildOptions {
        shard_id: args.shard_id,
        catalog_version: args.catalog_version,
        created_at,
        strict: args.strict,
        index,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("embedding {bar:40} {pos}/{len} photos, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let report = build_shard(&engine, &args.catalog, &args.images, &args.out, &options, &progress);
    bar.finish_and_clear();
    let report = report?;
    for s in &report.skipped {
        eprintln!("{}:{}: skipped: {}", args.catalog.display(), s.line, s.reason);
    }
    println!(
        "{}: {} products, {} views, {} bytes ({:.0} bytes/product), model {}",
        args.out.display(),
        report.product_count,
        report.vector_count,
        report.size,
        report.size as f64 / report.product_count.max(1) as f64,
        report.model_id
    );
    Ok(())
}

pub fn inspect(path: PathBuf, json: bool) -> Result<(), Error> {
    let shard = Shard::open(&path)?;
    let h = &shard.header;
    let sections: Vec<_> = shard
        .sections()
        .iter()
        .map(|s| serde_json::json!({"name": s.name, "compressed_bytes": s.compressed_bytes, "raw_bytes": s.raw_bytes}))
        .collect();
    let header = serde_json::json!({
        "format_version": h.format_version, "shard_id": h.shard_id, "product_count": h.product_count,
        "vector_count": h.vector_count, "model_dim": h.model_dim, "stored_dim": h.stored_dim,
        "model_id": h.model_id, "model_sha256": h.model_sha256, "catalog_version": h.catalog_version,
        "created_at": h.created_at, "residual_weight": shard.index.residual_weight(), "sections": sections,
    });
    if json {
        println!("{header}");
        return Ok(());
    }
    println!("{}", serde_json::to_string_pretty(&header)?);
    Ok(())
}

/// Options of `shoplens search`.
#[derive(Args)]
pub struct SearchArgs {
    /// Shard files to search (repeatable).
    #[arg(long = "shard", required = true)]
    shards: Vec<PathBuf>,
    /// The photo, or the raw frame with --frame.
    file: PathBuf,
    #[command(flatten)]
    frame: FrameArgs,
    #[command(flatten)]
    filters: Filters,
    /// HNSW beam width.
    #[arg(long, default_value_t = shoplens::search::DEFAULT_EF)]
    ef: usize,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArg,
}

pub fn search(args: SearchArgs) -> Result<(), Error> {
    let engine = args.model.open()?;
    for s in &args.shards {
        engine.add_shard(s)?;
    }
    let options = SearchOptions { ef: args.ef, ..args.filters.options() };
    let bytes = read(&args.file)?;
    let results = match args.frame.to_frame(&bytes)? {
        Some(f) => engine.search_frame(&f, &options)?,
        None => engine.search_photo(&bytes, &options)?,
    };
    print_matches(&results.matches, args.json)?;
    if !args.json {
        let t = results.timings;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        eprintln!(
            "decode {:.1} ms, preprocess {:.1} ms, embed {:.1} ms, search {:.2} ms",
            ms(t.decode),
            ms(t.preprocess),
            ms(t.embed),
            ms(t.search)
        );
    }
    Ok(())
}

/// Prints matches as a table, or as a JSON array of product objects with their score.
pub fn print_matches(matches: &[Match], json: bool) -> Result<(), Error> {
    if json {
        let items: Vec<_> = matches
            .iter()
            .map(|m| {
                let mut v = product_json(&m.product);
                if let Some(o) = v.as_object_mut() {
                    o.insert("score".into(), serde_json::json!(m.score));
                    o.insert("rank".into(), serde_json::json!(m.rank));
                    o.insert("shard".into(), serde_json::json!(m.shard_id));
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string(&items)?);
        return Ok(());
    }
    for m in matches {
        let p = &m.product;
        println!(
            "{:>2}. {:.3}  {:<24} {:<44} {:>9.2} {}  [{}]",
            m.rank, m.score, p.id, p.title, p.price, p.currency, p.category
        );
    }
    Ok(())
}

/// A product as a JSON object (the fields of the catalog feed).
pub fn product_json(p: &shoplens::Product) -> serde_json::Value {
    serde_json::to_value(p).unwrap_or_default()
}

/// Result count and the filters of visual search, shared by `search` and `browse`.
#[derive(Args)]
pub struct Filters {
    /// Number of results.
    #[arg(long, default_value_t = shoplens::search::DEFAULT_TOP_K)]
    top_k: usize,
    /// Only this category and below.
    #[arg(long)]
    category: Option<String>,
    /// Lowest price.
    #[arg(long)]
    min_price: Option<f64>,
    /// Highest price.
    #[arg(long)]
    max_price: Option<f64>,
}

impl Filters {
    pub fn options(self) -> SearchOptions {
        let Filters { top_k, category, min_price, max_price } = self;
        SearchOptions { top_k, category, min_price, max_price, ..Default::default() }
    }
}
