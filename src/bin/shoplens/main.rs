//! The `shoplens` command line: the same plain Rust API the bindings use.

mod bench;
mod browse;
mod eval;
mod frame_args;
mod shards;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shoplens::{Error, ShopLens};

use frame_args::FrameArgs;

/// On-device visual product search.
#[derive(Parser)]
#[command(name = "shoplens", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the embedding of a photo (JPEG, PNG, WebP) or of a raw camera frame dump.
    Embed {
        /// The photo, or the raw frame with --frame.
        file: PathBuf,
        #[command(flatten)]
        frame: FrameArgs,
        #[command(flatten)]
        model: ModelArg,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
        /// Also write the model's input tensor to this file (little-endian f32, the manifest's layout) and its shape
        /// (`1 3 H W` or `1 H W 3`: square, or wide for a wide picture) to the same path plus `.shape`.
        #[arg(long)]
        dump_tensor: Option<PathBuf>,
    },
    /// Build a shard from a product feed and its photos.
    Build(shards::BuildArgs),
    /// Print a shard's header and section sizes.
    Inspect {
        /// The shard file.
        shard: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Find the products that look like a photo or a raw camera frame.
    Search(shards::SearchArgs),
    /// Browse the catalog offline: a product by id, categories, a category's pages, keywords, similar products.
    Browse(browse::BrowseArgs),
    /// Time each stage: photo decode, 1920x1080 NV21 frame to tensor, inference, photo to embedding.
    Bench(bench::BenchArgs),
    /// Measure retrieval quality and per-stage latency on a dataset of catalog and query photos.
    Eval(eval::EvalArgs),
}

/// Which model to load.
#[derive(clap::Args)]
struct ModelArg {
    /// ONNX model with its .json manifest beside it [default: the bundled int8 model].
    #[arg(long, env = "SHOPLENS_MODEL")]
    model: Option<PathBuf>,
    /// Inference threads; 0 = one per core, at most 4.
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

impl ModelArg {
    fn open(&self) -> Result<ShopLens, Error> {
        ShopLens::open_with(self.path(), shoplens::EmbedderOptions { threads: self.threads, ..Default::default() })
    }

    fn path(&self) -> PathBuf {
        self.model.clone().unwrap_or_else(default_model)
    }
}

/// A bundled file: relative to the working directory, else to the source tree this binary was built from.
fn bundled(name: &str) -> PathBuf {
    if Path::new(name).exists() {
        return PathBuf::from(name);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn default_model() -> PathBuf {
    bundled("models/shoplens-effnet-lite0-int8.onnx")
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Embed { file, frame, model, json, dump_tensor } => {
            let engine = model.open()?;
            let bytes = read(&file)?;
            // A raw frame borrows the file's bytes; a photo is decoded first and its pixels borrowed.
            let photo = if frame.frame.is_none() { Some(shoplens::Photo::decode(&bytes)?) } else { None };
            let frame = match (&photo, frame.to_frame(&bytes)?) {
                (Some(p), _) => p.as_frame()?,
                (None, Some(f)) => f,
                (None, None) => return Err(Error::InvalidArgument("--frame needs --size".into())),
            };
            if let Some(path) = dump_tensor {
                // The tensor the model runs (square, or wide for a wide picture), and its shape beside it.
                let spec = engine.embedder().fit(&frame);
                let tensor = shoplens::preprocess::frame_to_tensor(&frame, &spec);
                let raw: Vec<u8> = tensor.iter().flat_map(|v| v.to_le_bytes()).collect();
                std::fs::write(&path, raw).map_err(|e| Error::io(&path, e))?;
                let shape = spec.shape().map(|d| d.to_string()).join(" ") + "\n";
                let mut shape_path = path.clone().into_os_string();
                shape_path.push(".shape");
                let shape_path = PathBuf::from(shape_path);
                std::fs::write(&shape_path, shape).map_err(|e| Error::io(&shape_path, e))?;
            }
            let embedding = engine.embed_frame(&frame)?;
            if json {
                println!("{}", serde_json::to_string(&embedding.vector)?);
            } else {
                let values: Vec<String> = embedding.vector.iter().map(|v| format!("{v:.6}")).collect();
                println!("# {} dims, model {}", embedding.vector.len(), engine.embedder().manifest().model_id);
                println!("{}", values.join(" "));
            }
            Ok(())
        }
        Command::Build(args) => shards::build(args),
        Command::Inspect { shard, json } => shards::inspect(shard, json),
        Command::Search(args) => shards::search(args),
        Command::Browse(args) => browse::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Eval(args) => eval::run(args),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shoplens: {e}");
            ExitCode::from(1)
        }
    }
}
