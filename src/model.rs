//! The embedding model: a tract plan optimized once per input shape (fixed input facts); tensor in, unit vector out.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

mod depthwise;
mod dequant;
mod pool;
mod profile;

use crate::error::{Error, Result};
use crate::frame::CameraFrame;
use crate::preprocess::{InputSpec, Layout, WIDE_ASPECT};

pub use profile::OpTime;

/// The manifest format this build reads.
pub const MANIFEST_FORMAT: &str = "shoplens-model";
/// The manifest version this build reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The JSON file beside a model that says what it wants and gives, so apps can bring their own model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelManifest {
    /// Always `shoplens-model`.
    pub format: String,
    /// Manifest version, 1.
    pub format_version: u32,
    /// Names the vector space: shards built with another model id are refused.
    pub model_id: String,
    /// The model file name, relative to the manifest.
    pub file: String,
    /// SHA-256 of the model file, hex; checked when present.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The input tensor.
    pub input: InputManifest,
    /// The output tensor.
    pub output: OutputManifest,
    /// An optional second output: the feature map the embedding pools, for the object vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<RegionsManifest>,
}

/// The feature map behind the embedding (NCHW, batch 1): its strongest `window` x `window` cells, pooled, give
/// more query vectors for the object in a cluttered photo, without a second inference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionsManifest {
    /// Output node name in the graph.
    pub name: String,
    /// Channels: the embedding dimension.
    pub channels: u32,
    /// Map height in cells, at the manifest's input size (a wide input widens the map).
    pub height: u32,
    /// Map width in cells, at the manifest's input size.
    pub width: u32,
    /// Side of the pooled window, in cells.
    pub window: u32,
    /// How many of the strongest windows become object vectors, strongest first (1..=4; default 1). Each is one more
    /// graph search per query; two make the choice robust where two windows are nearly as strong, which a small
    /// change of framing or colour otherwise flips.
    #[serde(default = "one_window")]
    pub windows: u32,
}

fn one_window() -> u32 {
    1
}

/// The model's input: size, layout, colours, normalization, crop policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputManifest {
    /// Input node name in the graph.
    pub name: String,
    /// `NCHW` or `NHWC`.
    pub layout: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `RGB` or `BGR`.
    pub color: String,
    /// Per-channel mean on the 0..=255 scale, in R, G, B order.
    pub mean: [f32; 3],
    /// Per-channel standard deviation on the 0..=255 scale, in R, G, B order.
    pub std: [f32; 3],
    /// Share of the short side kept by the centre crop.
    #[serde(default = "one")]
    pub crop_fraction: f32,
    /// Long side of a second input shape for wide and tall pictures (a square model only; see
    /// [`crate::preprocess::WIDE_ASPECT`]). Its plan is optimized on the first such picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wide: Option<u32>,
}

fn one() -> f32 {
    1.0
}

/// The model's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputManifest {
    /// Output node name in the graph.
    pub name: String,
    /// Embedding dimension.
    pub dim: u32,
}

impl ModelManifest {
    /// Parses and checks a manifest.
    pub fn from_json(json: &str) -> Result<Self> {
        let m: ModelManifest = serde_json::from_str(json)?;
        m.input_spec()?;
        if m.format != MANIFEST_FORMAT || m.format_version != MANIFEST_VERSION {
            return Err(Error::Manifest(format!(
                "format {} version {} is not {MANIFEST_FORMAT} version {MANIFEST_VERSION}",
                m.format, m.format_version
            )));
        }
        if let Some(r) = &m.regions {
            if r.channels != m.output.dim || !(1..=64).contains(&r.height) || !(1..=64).contains(&r.width) {
                return Err(Error::Manifest(format!("regions {r:?} do not fit output dim {}", m.output.dim)));
            }
            if r.window == 0 || r.window > r.height.min(r.width) {
                return Err(Error::Manifest(format!("region window {} does not fit the map", r.window)));
            }
            let positions = (r.height - r.window + 1) * (r.width - r.window + 1);
            if !(1..=4.min(positions)).contains(&r.windows) {
                return Err(Error::Manifest(format!("region windows {} is not in 1..=4 (and the map's)", r.windows)));
            }
        }
        if m.output.dim == 0 || m.output.dim > 65536 {
            return Err(Error::Manifest(format!("output dim {} is not in 1..=65536", m.output.dim)));
        }
        if m.model_id.is_empty() {
            return Err(Error::Manifest("model_id is empty".into()));
        }
        Ok(m)
    }

    /// The preprocessing this manifest asks for.
    pub fn input_spec(&self) -> Result<InputSpec> {
        let i = &self.input;
        let layout = match i.layout.as_str() {
            "NCHW" => Layout::Nchw,
            "NHWC" => Layout::Nhwc,
            other => return Err(Error::Manifest(format!("layout {other:?} is not NCHW or NHWC"))),
        };
        let bgr = match i.color.as_str() {
            "RGB" => false,
            "BGR" => true,
            other => return Err(Error::Manifest(format!("color {other:?} is not RGB or BGR"))),
        };
        if !(1..=4096).contains(&i.width) || !(1..=4096).contains(&i.height) {
            return Err(Error::Manifest(format!("input size {}x{} is not within 1..=4096", i.width, i.height)));
        }
        if i.std.iter().chain(&i.mean).any(|v| !v.is_finite()) || i.std.contains(&0.0) {
            return Err(Error::Manifest("mean and std must be finite, std non-zero".into()));
        }
        if !(i.crop_fraction > 0.0 && i.crop_fraction <= 1.0) {
            return Err(Error::Manifest(format!("crop_fraction {} is not in (0, 1]", i.crop_fraction)));
        }
        if let Some(long) = i.wide {
            // Past WIDE_ASPECT a picture would be cut top and bottom at a smaller scale than the square input's.
            if i.width != i.height || long <= i.width || f64::from(long) > f64::from(i.width) * WIDE_ASPECT {
                return Err(Error::Manifest(format!(
                    "wide {long} needs a square input, wider than it by at most {WIDE_ASPECT}x (input {}x{})",
                    i.width, i.height
                )));
            }
        }
        Ok(InputSpec {
            width: i.width,
            height: i.height,
            layout,
            bgr,
            mean: i.mean,
            std: i.std,
            crop_fraction: i.crop_fraction,
            wide: i.wide,
        })
    }
}

/// How the model runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmbedderOptions {
    /// Threads for inference; 0 picks the number of cores, at most 4 (more rarely helps a phone's big cores).
    pub threads: usize,
    /// Run depthwise convolutions (and the 1x1 convolutions on large maps) with tract's own kernels instead of
    /// ShopLens's (`model/depthwise.rs`, faster here): for comparing the two on a device (`shoplens bench` reports
    /// both).
    pub tract_depthwise: bool,
}

impl EmbedderOptions {
    /// The thread count these options resolve to on this device.
    pub fn resolved_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()).min(4),
            n => n,
        }
    }
}

/// An optimized, runnable model plus its manifest. `Send + Sync`: share one behind an `Arc`.
pub struct Embedder {
    /// The plan for the manifest's input shape, optimized and run once at load.
    plan: Arc<TypedSimplePlan>,
    /// Plans for the wide and the tall input ([`InputManifest::wide`]), optimized on first use: an app whose
    /// frames are all 4:3 never builds them (each is a second copy of the packed weights and ~0.25 s to optimize).
    /// A failure is kept too, so a model that cannot run wide is tried once and its pictures then go square.
    shaped: [OnceLock<std::result::Result<Arc<TypedSimplePlan>, String>>; 2],
    /// The model file, kept only when the manifest has a wide input, to optimize those plans from (its ~3 MB stay in
    /// memory even if no wide picture comes).
    onnx: Option<Arc<[u8]>>,
    /// Whether a failed wide or tall plan has been logged.
    wide_warned: AtomicBool,
    /// tract's matrix products run on this pool when there is more than one thread.
    pool: Option<pool::Pool>,
    threads: usize,
    options: EmbedderOptions,
    manifest: ModelManifest,
    spec: InputSpec,
    sha256: String,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("model_id", &self.manifest.model_id).finish()
    }
}

/// Parses the model, fixes its input to `spec`'s shape and optimizes it; checks its outputs against the manifest.
fn optimize(
    onnx: &[u8],
    manifest: &ModelManifest,
    spec: &InputSpec,
    options: &EmbedderOptions,
) -> Result<Arc<TypedSimplePlan>> {
    let framework = tract_onnx::onnx();
    let mut proto = framework.proto_model_for_read(&mut &onnx[..])?;
    dequant::fold_weight_dequantize(&mut proto);
    let mut model = framework.model_for_proto_model(&proto)?;
    // The protobuf holds the weights as floats now: free it before tract optimizes.
    drop(proto);
    let inputs = model.input_outlets()?;
    let input_name = match inputs {
        [only] => model.node(only.node).name.clone(),
        _ => return Err(Error::Manifest(format!("the model has {} inputs, ShopLens feeds one", inputs.len()))),
    };
    if input_name != manifest.input.name {
        return Err(Error::Manifest(format!(
            "the model's input is {input_name:?}, the manifest says {:?}",
            manifest.input.name
        )));
    }
    let mut outputs = vec![manifest.output.name.as_str()];
    outputs.extend(manifest.regions.as_ref().map(|r| r.name.as_str()));
    model
        .select_outputs_by_name(outputs.iter().copied())
        .map_err(|_| Error::Manifest(format!("the model lacks one of the outputs {outputs:?}")))?;
    let (width, height) = (spec.width, spec.height);
    model.set_input_fact(0, f32::fact(spec.shape()).into())?;
    let mut model = model.into_typed()?.into_decluttered()?;
    if !options.tract_depthwise {
        depthwise::fuse(&mut model)?;
    }
    let model = model.into_optimized()?;
    let out = model.output_fact(0)?;
    let dims = out.shape.as_concrete().map(|d| d.iter().product::<usize>());
    if dims != Some(manifest.output.dim as usize) || out.datum_type != f32::datum_type() {
        return Err(Error::Manifest(format!(
            "the model's output is {out:?} for a {width}x{height} input, the manifest says {} floats",
            manifest.output.dim
        )));
    }
    if let Some(r) = &manifest.regions {
        let out = model.output_fact(1)?;
        // The manifest's map size is the one at the manifest's input size; a wide input widens the map.
        let fits = match out.shape.as_concrete() {
            Some(&[1, c, mh, mw]) if (width, height) == (manifest.input.width, manifest.input.height) => {
                (c, mh, mw) == (r.channels as usize, r.height as usize, r.width as usize)
            }
            Some(&[1, c, mh, mw]) => c == r.channels as usize && mh.min(mw) >= r.window as usize,
            _ => false,
        };
        if !fits || out.datum_type != f32::datum_type() {
            return Err(Error::Manifest(format!(
                "the model's region output is {out:?} for a {width}x{height} input; the manifest says {r:?} (NCHW, batch 1)"
            )));
        }
    }
    Ok(model.into_runnable()?)
}

impl Embedder {
    /// Loads `model.onnx` with the manifest beside it (`model.json`).
    pub fn from_path(model: impl AsRef<Path>, options: EmbedderOptions) -> Result<Self> {
        let model = model.as_ref();
        let manifest_path = model.with_extension("json");
        let json = std::fs::read_to_string(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
        let bytes = std::fs::read(model).map_err(|e| Error::io(model, e))?;
        Self::from_bytes(&bytes, ModelManifest::from_json(&json)?, options)
    }

    /// Loads an ONNX model from memory and optimizes it for the manifest's fixed input shape.
    pub fn from_bytes(onnx: &[u8], manifest: ModelManifest, options: EmbedderOptions) -> Result<Self> {
        let spec = manifest.input_spec()?;
        let sha256 = hex(&Sha256::digest(onnx));
        if let Some(expected) = &manifest.sha256 {
            if !expected.eq_ignore_ascii_case(&sha256) {
                return Err(Error::Manifest(format!("model sha256 {sha256} does not match the manifest's {expected}")));
            }
        }
        let plan = optimize(onnx, &manifest, &spec, &options)?;
        let threads = options.resolved_threads();
        let pool = match threads {
            1 => None,
            n => Some(pool::Pool::new(n)?),
        };
        let onnx = spec.wide.map(|_| Arc::from(onnx));
        let shaped = [OnceLock::new(), OnceLock::new()];
        let embedder = Embedder {
            plan,
            shaped,
            onnx,
            wide_warned: AtomicBool::new(false),
            pool,
            threads,
            options,
            manifest,
            spec,
            sha256,
        };
        // One run at load: a model that cannot run fails here rather than on the first camera frame, and the first
        // frame does not pay for the plan's first-run allocations and the thread pool's start.
        embedder.run(vec![0.0; embedder.spec.len()], &embedder.spec)?;
        Ok(embedder)
    }

    /// Runs the model on a tensor made by [`crate::preprocess::frame_to_tensor`] for [`Embedder::input_spec`] (the
    /// square input). Returns the L2-normalized embedding. For a frame, [`Embedder::fit`] and
    /// [`Embedder::embed_input`] give the shape the SDK uses, wide for wide pictures.
    pub fn embed_tensor(&self, tensor: Vec<f32>) -> Result<Vec<f32>> {
        Ok(self.embed_tensor_with_objects(tensor)?.0)
    }

    /// The normalized mean of the embeddings of several tensors made for `spec`, for example a photo and its mirror
    /// image.
    pub fn embed_mean(&self, tensors: impl IntoIterator<Item = Vec<f32>>, spec: &InputSpec) -> Result<Vec<f32>> {
        let mut sum: Option<Vec<f32>> = None;
        for tensor in tensors {
            let v = self.embed_input(tensor, spec)?.0;
            match &mut sum {
                Some(s) => s.iter_mut().zip(&v).for_each(|(a, b)| *a += b),
                None => sum = Some(v),
            }
        }
        let mut v = sum.ok_or_else(|| Error::Model("no tensor to embed".into()))?;
        normalize(&mut v)?;
        Ok(v)
    }

    /// Like [`Embedder::embed_tensor`], plus the object vectors when the model has a region output: the strongest
    /// windows of its feature map, pooled and normalized, strongest first (see [`RegionsManifest`]); empty without.
    pub fn embed_tensor_with_objects(&self, tensor: Vec<f32>) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        self.embed_input(tensor, &self.spec)
    }

    /// Like [`Embedder::embed_tensor_with_objects`] for a tensor made for `spec`: the input spec itself or its
    /// wide or tall shape ([`Embedder::fit`]).
    pub fn embed_input(&self, tensor: Vec<f32>, spec: &InputSpec) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        if tensor.len() != spec.len() {
            return Err(Error::Model(format!("tensor has {} floats, the model wants {}", tensor.len(), spec.len())));
        }
        let outputs = self.run(tensor, spec)?;
        let out = outputs.first().ok_or_else(|| Error::Model("the model gave no output".into()))?;
        let mut v: Vec<f32> = out.to_plain_array_view::<f32>()?.iter().copied().collect();
        normalize(&mut v)?;
        let objects = match (&self.manifest.regions, outputs.get(1)) {
            (Some(r), Some(map)) => {
                let map = map.to_plain_array_view::<f32>()?;
                match (map.shape(), map.as_slice()) {
                    (&[1, _, h, w], Some(m)) => strongest_windows(m, h, w, r),
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        Ok((v, objects))
    }

    /// The input this frame runs as: [`InputSpec::fit`], or the square input when the model cannot run the wide
    /// or tall shape (a model with a fixed-size pooling or reshape; logged once). Optimizes that shape's plan on its
    /// first use, so the first wide frame waits for it.
    pub fn fit(&self, frame: &CameraFrame<'_>) -> InputSpec {
        let spec = self.spec.fit(frame);
        match self.plan_for(spec.width, spec.height) {
            Ok(_) => spec,
            Err(_) => self.spec.clone(),
        }
    }

    /// Optimizes and warms up, now, the plan that upright pictures of `width` x `height` pixels will run on (the
    /// camera's frame size as the shopper sees it, after rotation: 1080 x 1920 for a portrait 1080p stream), so the
    /// first frame does not wait for it: about 0.1 s on one x86 core, longer on a phone. Call it off the main thread
    /// when the camera screen opens. Returns the input those pictures run as: the square one for 4:3 and square
    /// pictures (made at load, nothing to do), the wide or tall one, or the square one when the model cannot run
    /// that shape. Plans are otherwise made on first use because each holds its own packed weights (about 12 MB).
    pub fn prepare(&self, width: u32, height: u32) -> Result<InputSpec> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidArgument(format!("a {width}x{height} picture has no pixels")));
        }
        let spec = self.spec.fit_size(width, height);
        if self.plan_for(spec.width, spec.height).is_err() {
            return Ok(self.spec.clone());
        }
        if (spec.width, spec.height) != (self.spec.width, self.spec.height) {
            // One run, as at load: the first frame does not pay for the plan's first-run allocations either.
            self.run(vec![0.0; spec.len()], &spec)?;
        }
        Ok(spec)
    }

    /// The plan for a `width` x `height` input: the manifest's, or the wide or tall one, optimized on first use.
    fn plan_for(&self, width: u32, height: u32) -> Result<&Arc<TypedSimplePlan>> {
        let base = (self.spec.width, self.spec.height);
        if (width, height) == base {
            return Ok(&self.plan);
        }
        let (slot, onnx) = match (self.spec.wide, self.onnx.as_deref()) {
            (Some(long), Some(onnx)) if (width, height) == (long, base.1) => (0, onnx),
            (Some(long), Some(onnx)) if (width, height) == (base.0, long) => (1, onnx),
            _ => return Err(Error::Model(format!("the model takes no {width}x{height} input"))),
        };
        let shaped = InputSpec { width, height, ..self.spec.clone() };
        // One thread optimizes; others asking meanwhile wait for it rather than optimizing the same plan again. A
        // panic inside tract is kept as a failure too, so it is met once, not on every wide frame.
        let plan = self.shaped[slot].get_or_init(|| {
            let optimized =
                std::panic::catch_unwind(AssertUnwindSafe(|| optimize(onnx, &self.manifest, &shaped, &self.options)));
            match optimized {
                Ok(Ok(plan)) => Ok(plan),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("tract panicked while optimizing".into()),
            }
        });
        // Logged outside the cell's initializer: an app's log callback may call back into the SDK.
        if let Err(e) = plan {
            if !self.wide_warned.swap(true, Ordering::Relaxed) {
                log::warn!("{}: no {width}x{height} plan, wide pictures run square: {e}", self.manifest.model_id);
            }
        }
        plan.as_ref().map_err(|e| Error::Model(e.clone()))
    }

    /// Runs the plan for `spec`'s shape on a tensor of its size (checked by the caller).
    fn run(&self, tensor: Vec<f32>, spec: &InputSpec) -> Result<TVec<TValue>> {
        let plan = self.plan_for(spec.width, spec.height)?;
        let shape = InputSpec { layout: self.spec.layout, ..spec.clone() }.shape();
        let input =
            tract_ndarray::ArrayD::from_shape_vec(&shape[..], tensor).map_err(|e| Error::Model(e.to_string()))?;
        let inputs = tvec!(Tensor::from(input).into());
        Ok(self.on_pool(|| plan.run(inputs))?)
    }

    /// Runs `f` (a plan's run) on the embedder's threads ([`pool::Pool::run`]), or on this one.
    pub(crate) fn on_pool<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.run(f),
            None => f(),
        }
    }

    /// The preprocessing the model wants.
    pub fn input_spec(&self) -> &InputSpec {
        &self.spec
    }

    /// The manifest the model was loaded with.
    pub fn manifest(&self) -> &ModelManifest {
        &self.manifest
    }

    /// Threads inference runs on.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The embedding dimension.
    pub fn dim(&self) -> usize {
        self.manifest.output.dim as usize
    }

    /// SHA-256 of the model bytes, hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// The mean vectors of the `r.windows` windows of `window` x `window` cells of a CHW feature map whose cells are
/// strongest (highest summed vector length), normalized, strongest first (equals in reading order): where the
/// object most likely is. The map is `height` x `width` cells (the manifest's size, or wider for a wide input);
/// empty if `map` is not that size; all-zero windows are left out.
pub fn strongest_windows(map: &[f32], height: usize, width: usize, r: &RegionsManifest) -> Vec<Vec<f32>> {
    let (c, h, w, k) = (r.channels as usize, height, width, r.window as usize);
    if map.len() != c * h * w || k == 0 || k > h.min(w) {
        return Vec::new();
    }
    let plane = h * w;
    let mut norms = vec![0f32; plane];
    for ch in map.chunks_exact(plane) {
        norms.iter_mut().zip(ch).for_each(|(n, v)| *n += v * v);
    }
    norms.iter_mut().for_each(|n| *n = n.sqrt());
    let cells = |y: usize, x: usize| (y..y + k).flat_map(move |yy| (x..x + k).map(move |xx| yy * w + xx));
    let mut windows: Vec<(f32, usize, usize)> = (0..=h - k)
        .flat_map(|y| (0..=w - k).map(move |x| (y, x)))
        .map(|(y, x)| (cells(y, x).map(|i| norms[i]).sum::<f32>(), y, x))
        .collect();
    // Stable sort: equally strong windows stay in reading order.
    windows.sort_by(|a, b| b.0.total_cmp(&a.0));
    windows
        .iter()
        .take(r.windows as usize)
        .filter_map(|&(_, y, x)| {
            let mut v: Vec<f32> = map.chunks_exact(plane).map(|ch| cells(y, x).map(|i| ch[i]).sum::<f32>()).collect();
            normalize(&mut v).ok().map(|()| v)
        })
        .collect()
}

/// Scales `v` to unit length; a zero or non-finite vector is a model error.
fn normalize(v: &mut [f32]) -> Result<()> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return Err(Error::Model(format!("the model produced a vector of norm {norm}")));
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Cosine similarity of two vectors (their dot product, when both are unit length).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(f32::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const MANIFEST: &str = r#"{
        "format": "shoplens-model", "format_version": 1, "model_id": "m", "file": "m.onnx",
        "input": {"name": "input", "layout": "NCHW", "width": 224, "height": 224, "color": "RGB",
                  "mean": [127, 127, 127], "std": [128, 128, 128]},
        "output": {"name": "embedding", "dim": 8}
    }"#;

    fn regions(window: u32, windows: u32) -> RegionsManifest {
        RegionsManifest { name: "map".into(), channels: 2, height: 4, width: 5, window, windows }
    }

    #[test]
    fn strongest_windows_pool_where_the_map_is_strongest() {
        // Two channels on a 4x5 map; a bright 2x2 patch at rows 2-3, columns 3-4 points along channel 1, a weaker
        // one at rows 0-1, columns 0-1 along channel 0.
        let mut map = vec![0.1f32; 2 * 20];
        for (y, x) in [(2, 3), (2, 4), (3, 3), (3, 4)] {
            map[20 + y * 5 + x] = 5.0;
        }
        for (y, x) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            map[y * 5 + x] = 3.0;
        }
        let v = strongest_windows(&map, 4, 5, &regions(2, 1));
        assert_eq!(v.len(), 1);
        assert!(v[0][1] > 0.99 && (v[0][0] * v[0][0] + v[0][1] * v[0][1] - 1.0).abs() < 1e-5, "{v:?}");
        // The second strongest is the weaker patch, after the strongest.
        let v = strongest_windows(&map, 4, 5, &regions(2, 2));
        assert_eq!(v.len(), 2);
        assert!(v[0][1] > 0.99 && v[1][0] > 0.99, "{v:?}");
        // A one-cell window is the strongest cell alone.
        let whole = RegionsManifest { name: "map".into(), channels: 2, height: 1, width: 2, window: 1, windows: 1 };
        let v = strongest_windows(&[3.0, 0.0, 4.0, 1.0], 1, 2, &whole);
        assert!((v[0][0] - 0.6).abs() < 1e-6 && (v[0][1] - 0.8).abs() < 1e-6, "{v:?}");
        // A map of the wrong size, a window too big, or an all-zero map give no vector.
        assert!(strongest_windows(&map[..39], 4, 5, &regions(2, 1)).is_empty());
        assert!(strongest_windows(&map, 4, 5, &regions(5, 1)).is_empty());
        assert!(strongest_windows(&[0.0; 40], 4, 5, &regions(2, 2)).is_empty());
    }

    #[test]
    fn manifest_checks_regions() {
        let with = |r: &str| MANIFEST.replace(r#""dim": 8}"#, &format!(r#""dim": 8}}, "regions": {r}"#));
        let ok = with(r#"{"name": "map", "channels": 8, "height": 7, "width": 7, "window": 3}"#);
        let r = ModelManifest::from_json(&ok).unwrap().regions.unwrap();
        assert_eq!((r.window, r.windows), (3, 1));
        for bad in [
            r#"{"name": "map", "channels": 8, "height": 7, "width": 7, "window": 3, "windows": 0}"#,
            r#"{"name": "map", "channels": 8, "height": 7, "width": 7, "window": 3, "windows": 5}"#,
            r#"{"name": "map", "channels": 8, "height": 2, "width": 2, "window": 2, "windows": 2}"#,
            r#"{"name": "map", "channels": 9, "height": 7, "width": 7, "window": 3}"#,
            r#"{"name": "map", "channels": 8, "height": 7, "width": 7, "window": 8}"#,
            r#"{"name": "map", "channels": 8, "height": 0, "width": 7, "window": 1}"#,
        ] {
            assert!(ModelManifest::from_json(&with(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn manifest_parses_and_defaults_crop() {
        let m = ModelManifest::from_json(MANIFEST).unwrap();
        assert_eq!(m.input_spec().unwrap().crop_fraction, 1.0);
    }

    #[test]
    fn bad_manifests_are_clear_errors() {
        for (from, to) in [
            ("\"NCHW\"", "\"CHW\""),
            ("\"RGB\"", "\"YUV\""),
            ("[128, 128, 128]", "[128, 0, 128]"),
            ("\"width\": 224", "\"width\": 0"),
            ("\"dim\": 8", "\"dim\": 0"),
            ("\"format_version\": 1", "\"format_version\": 2"),
        ] {
            let json = MANIFEST.replace(from, to);
            assert!(matches!(ModelManifest::from_json(&json), Err(Error::Manifest(_))), "{to}");
        }
        assert!(matches!(ModelManifest::from_json("{"), Err(Error::Json(_))));
    }

    #[test]
    fn wide_input_must_widen_a_square_input_moderately() {
        let with = |wide: &str, height: u32| {
            let json = MANIFEST
                .replace("\"std\": [128, 128, 128]", &format!("\"std\": [128, 128, 128], \"wide\": {wide}"))
                .replace("\"height\": 224", &format!("\"height\": {height}"));
            ModelManifest::from_json(&json).map(|m| m.input_spec().unwrap().wide)
        };
        assert_eq!(with("288", 224).unwrap(), Some(288));
        assert_eq!(with("313", 224).unwrap(), Some(313));
        // Not wider, too much wider (a picture past WIDE_ASPECT would be cut at a smaller scale), not square.
        for (wide, height) in [("224", 224), ("200", 224), ("314", 224), ("4096", 224), ("288", 200)] {
            assert!(matches!(with(wide, height), Err(Error::Manifest(_))), "{wide} {height}");
        }
        assert!(matches!(with("-1", 224), Err(Error::Json(_))));
        assert_eq!(ModelManifest::from_json(MANIFEST).unwrap().input_spec().unwrap().wide, None);
    }

    #[test]
    fn garbage_model_bytes_are_an_error() {
        let m = ModelManifest::from_json(MANIFEST).unwrap();
        assert!(Embedder::from_bytes(b"\x08\x07garbage", m, EmbedderOptions::default()).is_err());
    }

    #[test]
    fn normalize_rejects_zero() {
        let mut v = vec![3.0, 4.0];
        normalize(&mut v).unwrap();
        assert_eq!(v, vec![0.6, 0.8]);
        assert!(normalize(&mut [0.0, 0.0]).is_err());
        assert!(normalize(&mut [f32::NAN, 1.0]).is_err());
    }
}
