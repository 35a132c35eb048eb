//! `shoplens bench`: per-stage timings, median of repeated runs after a warm-up.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use shoplens::frame::encode_nv21;
use shoplens::preprocess::frame_to_tensor;
use shoplens::{cosine, CameraFrame, CropRect, Embedder, EmbedderOptions, Error, Photo};

use crate::{read, ModelArg};

/// Options of `shoplens bench`.
#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArg,
    /// The photo to decode and embed [default: the bundled tests/data/coffee.jpg].
    #[arg(long)]
    photo: Option<PathBuf>,
    /// Timed runs per stage (after one warm-up run).
    #[arg(long, default_value_t = 20)]
    iters: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Also time the square plan op by op (tract's ops, summed per kind; `ops` in the JSON).
    #[arg(long)]
    ops: bool,
    /// With `--ops`: one line per node rather than per op kind, with tract's description of it (shapes, kernel).
    #[arg(long, requires = "ops")]
    nodes: bool,
}

/// Median and minimum of a stage, in milliseconds.
#[derive(serde::Serialize)]
struct Stat {
    median_ms: f64,
    min_ms: f64,
}

fn time<T>(iters: usize, mut f: impl FnMut() -> Result<T, Error>) -> Result<Stat, Error> {
    std::hint::black_box(f()?);
    let mut runs: Vec<Duration> = Vec::with_capacity(iters);
    for _ in 0..iters.max(1) {
        let start = Instant::now();
        std::hint::black_box(f()?);
        runs.push(start.elapsed());
    }
    Ok(stat(runs))
}

/// Two stages timed in alternation, after a warm-up run of each.
fn time_pair<A, B>(
    iters: usize,
    mut a: impl FnMut() -> Result<A, Error>,
    mut b: impl FnMut() -> Result<B, Error>,
) -> Result<(Stat, Stat), Error> {
    let (mut runs_a, mut runs_b) = (Vec::new(), Vec::new());
    for i in 0..=iters.max(1) {
        let start = Instant::now();
        std::hint::black_box(a()?);
        let mid = Instant::now();
        std::hint::black_box(b()?);
        if i > 0 {
            runs_a.push(mid - start);
            runs_b.push(mid.elapsed());
        }
    }
    Ok((stat(runs_a), stat(runs_b)))
}

fn stat(mut runs: Vec<Duration>) -> Stat {
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Stat { median_ms: ms(runs[runs.len() / 2]), min_ms: ms(runs[0]) }
}

pub fn run(args: BenchArgs) -> Result<(), Error> {
    let photo_path = args.photo.unwrap_or_else(|| crate::bundled("tests/data/coffee.jpg"));
    let bytes = read(&photo_path)?;
    let model_path = args.model.path();
    // Load includes the optimization and the warm-up run the library does before returning.
    let start = Instant::now();
    let engine = args.model.open()?;
    let load = start.elapsed().as_secs_f64() * 1e3;
    let spec = engine.embedder().input_spec().clone();

    // A 1920x1080 NV21 frame with real content: the photo stretched to full HD.
    let rgb = Photo::decode(&bytes)?;
    let (w, h) = (1920u32, 1080u32);
    let big = image::imageops::resize(&rgb.to_rgb_image(), w, h, image::imageops::FilterType::Triangle);
    let nv21 = encode_nv21(big.as_raw(), w, h)?;
    let (y, vu) = nv21.split_at((w * h) as usize);
    let frame = CameraFrame::nv21(w, h, y, w as usize, vu, w as usize)?;
    let cropped = frame.with_crop(CropRect { x: 660, y: 240, width: 600, height: 600 })?;
    // The model's square input, and the wide one the SDK feeds a 16:9 frame (when the model has one).
    let tensor = frame_to_tensor(&cropped, &spec);

    // What the first camera frame after load waits for, before any other timed run.
    let start = Instant::now();
    std::hint::black_box(engine.embedder().embed_tensor(tensor.clone())?);
    let first_inference = start.elapsed().as_secs_f64() * 1e3;

    // The wide plan is optimized on the first wide frame (by `fit`, which falls back to the square input if it
    // cannot be): what that frame waits for.
    let start = Instant::now();
    let wide_spec = engine.embedder().fit(&frame);
    let wide_tensor = frame_to_tensor(&frame, &wide_spec);
    std::hint::black_box(engine.embedder().embed_input(wide_tensor.clone(), &wide_spec)?);
    let first_wide = start.elapsed().as_secs_f64() * 1e3;

    // The same for a portrait stream, its plan made beforehand by `prepare` as a camera screen would on opening:
    // the first tall frame then waits only for its inference.
    let start = Instant::now();
    // The shape prepare settles on: the square one for a model that cannot run tall.
    let tall_spec = engine.embedder().prepare(h, w)?;
    let prepare_tall = start.elapsed().as_secs_f64() * 1e3;
    let tall_tensor = vec![0.5f32; tall_spec.len()];
    let start = Instant::now();
    std::hint::black_box(engine.embedder().embed_input(tall_tensor, &tall_spec)?);
    let first_tall_prepared = start.elapsed().as_secs_f64() * 1e3;

    let n = args.iters;
    let decode = time(n, || Photo::decode(&bytes))?;
    let frame_to_tensor_full = time(n, || Ok(frame_to_tensor(&frame, &wide_spec)))?;
    let frame_to_tensor_crop = time(n, || Ok(frame_to_tensor(&cropped, &spec)))?;
    let inference = time(n, || engine.embedder().embed_tensor(tensor.clone()))?;
    let inference_wide = time(n, || engine.embedder().embed_input(wide_tensor.clone(), &wide_spec))?;
    let photo_to_embedding = time(n, || engine.embed_photo(&bytes))?;
    // The same model with tract's own depthwise kernel, its runs interleaved with the SDK's: one noisy machine
    // slows both alike.
    let tract_dw = Embedder::from_path(
        &model_path,
        EmbedderOptions { threads: engine.embedder().threads(), tract_depthwise: true },
    )?;
    let (ours, theirs) =
        time_pair(n, || engine.embedder().embed_tensor(tensor.clone()), || tract_dw.embed_tensor(tensor.clone()))?;
    let tract_dw_cosine =
        cosine(&engine.embedder().embed_tensor(tensor.clone())?, &tract_dw.embed_tensor(tensor.clone())?);

    let ops = if args.ops { Some(engine.embedder().profile_ops(n, args.nodes)?) } else { None };

    let mut report = serde_json::json!({
        "model": model_path.display().to_string(),
        "model_id": engine.embedder().manifest().model_id,
        "photo": photo_path.display().to_string(),
        "threads": engine.embedder().threads(),
        "iters": n,
        "decode_ms": decode.median_ms,
        "frame_to_tensor_ms": frame_to_tensor_full.median_ms,
        "frame_crop_to_tensor_ms": frame_to_tensor_crop.median_ms,
        "inference_ms": inference.median_ms,
        "inference_wide_ms": inference_wide.median_ms,
        "input": [spec.width, spec.height],
        "input_wide": [wide_spec.width, wide_spec.height],
        "first_wide_inference_ms": first_wide,
        "prepare_tall_ms": prepare_tall,
        "first_tall_inference_after_prepare_ms": first_tall_prepared,
        "load_ms": load,
        "first_inference_ms": first_inference,
        "photo_to_embedding_ms": photo_to_embedding.median_ms,
        "depthwise_ab": {
            "shoplens_ms": ours.median_ms,
            "tract_ms": theirs.median_ms,
            "ratio": theirs.median_ms / ours.median_ms,
            "cosine": tract_dw_cosine,
        },
        "stages": {
            "decode": decode,
            "frame_to_tensor_1920x1080_nv21": frame_to_tensor_full,
            "frame_to_tensor_1920x1080_nv21_crop600": frame_to_tensor_crop,
            "inference": inference,
            "inference_wide": inference_wide,
            "photo_to_embedding": photo_to_embedding,
        },
    });
    if let Some(ops) = &ops {
        report["ops"] = serde_json::json!(ops);
    }
    if args.json {
        println!("{report}");
    } else {
        let threads = engine.embedder().threads();
        println!(
            "model {} ({}), {threads} threads, {n} runs per stage, median (min) ms",
            report["model_id"],
            model_path.display()
        );
        println!("{:<36} {load:>8.2}", "model load (with warm-up run)");
        println!("{:<36} {first_inference:>8.2}", "first inference after load");
        println!("{:<36} {first_wide:>8.2}", "first wide inference (optimizes)");
        println!("{:<36} {prepare_tall:>8.2}", "prepare(1080, 1920): tall plan");
        println!("{:<36} {first_tall_prepared:>8.2}", "first tall inference after prepare");
        for (name, s) in [
            ("photo decode", &decode),
            ("1920x1080 NV21 -> (wide) tensor", &frame_to_tensor_full),
            ("1920x1080 NV21 crop 600 -> tensor", &frame_to_tensor_crop),
            ("inference", &inference),
            ("inference, wide input", &inference_wide),
            ("photo -> embedding", &photo_to_embedding),
        ] {
            println!("{name:<36} {:>8.2} ({:.2})", s.median_ms, s.min_ms);
        }
        println!(
            "{:<36} {:>8.2} against {:.2} with tract's depthwise kernel ({:.2}x, cosine {tract_dw_cosine:.6})",
            "inference, interleaved A/B",
            ours.median_ms,
            theirs.median_ms,
            theirs.median_ms / ours.median_ms
        );
        if let Some(ops) = &ops {
            let total: f64 = ops.iter().map(|o| o.ms).sum();
            println!("op by op, square plan, median ms per run ({total:.2} in all):");
            for o in ops {
                println!("  {:<32} {:>3} nodes {:>8.2} {:>5.1} %", o.op, o.nodes, o.ms, 100.0 * o.ms / total);
            }
        }
    }
    Ok(())
}
