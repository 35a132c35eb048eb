//! Inference speed issue, "model form": the bundled model as ONNX against the same graph dumped to NNEF by tract
//! (what a build step would ship instead), on load time, file size and inference. One run, side by side:
//!
//! ```sh
//! cargo run --release --example model_form [-- models/shoplens-effnet-lite0-int8.onnx]
//! ```

use std::time::{Duration, Instant};

use tract_onnx::prelude::*;

const RUNS: usize = 20;

fn median_ms(plan: &Arc<TypedSimplePlan>) -> TractResult<f64> {
    let input: Tensor = tract_ndarray::Array4::<f32>::from_elem((1, 3, 224, 224), 0.1).into();
    plan.run(tvec!(input.clone().into()))?;
    let mut runs = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        plan.run(tvec!(input.clone().into()))?;
        runs.push(start.elapsed());
    }
    runs.sort();
    Ok(runs[RUNS / 2].as_secs_f64() * 1e3)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> TractResult<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "models/shoplens-effnet-lite0-int8.onnx".into());
    let onnx_bytes = std::fs::read(&path)?;

    // ONNX: what the SDK does at load (parse, fix the input, optimize).
    let start = Instant::now();
    let mut model = tract_onnx::onnx().model_for_read(&mut &onnx_bytes[..])?;
    model.select_outputs_by_name(["embedding", "last_block"])?;
    model.set_input_fact(0, f32::fact([1, 3, 224, 224]).into())?;
    // Decluttered, as NNEF needs; the weight-only file's DequantizeLinear is already folded to f32 weights by
    // `into_typed` (an undecluttered dump is as large).
    let typed = model.into_typed()?.into_decluttered()?;
    let decluttered = start.elapsed();
    let onnx_plan = typed.clone().into_optimized()?.into_runnable()?;
    let onnx_load = start.elapsed();

    // NNEF: the decluttered graph written once (a build step), then loaded the way an app would.
    let nnef = tract_nnef::nnef().with_onnx();
    let mut tar = Vec::new();
    nnef.write_to_tar(&typed, &mut tar)?;
    let start = Instant::now();
    let loaded = nnef.model_for_read(&mut &tar[..])?;
    let nnef_parsed = start.elapsed();
    let nnef_plan = loaded.into_optimized()?.into_runnable()?;
    let nnef_load = start.elapsed();

    let (onnx_ms, nnef_ms) = (median_ms(&onnx_plan)?, median_ms(&nnef_plan)?);
    let (onnx_ms2, nnef_ms2) = (median_ms(&onnx_plan)?, median_ms(&nnef_plan)?);
    let zstd = |b: &[u8]| zstd::encode_all(b, 19).map(|z| z.len()).unwrap_or(0);
    println!("model {path}, 1 thread, median of {RUNS} runs, two interleaved rounds");
    println!("| form | file bytes | zstd -19 bytes | load to plan ms (parse/declutter part) | inference ms |");
    println!("|---|---|---|---|---|");
    println!(
        "| ONNX | {} | {} | {:.0} ({:.0}) | {onnx_ms:.2} / {onnx_ms2:.2} |",
        onnx_bytes.len(),
        zstd(&onnx_bytes),
        ms(onnx_load),
        ms(decluttered)
    );
    println!(
        "| NNEF (tar, dumped by tract) | {} | {} | {:.0} ({:.0}) | {nnef_ms:.2} / {nnef_ms2:.2} |",
        tar.len(),
        zstd(&tar),
        ms(nnef_load),
        ms(nnef_parsed)
    );
    Ok(())
}
