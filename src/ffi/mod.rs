//! The UniFFI surface for Kotlin, Swift and Python: every `#[uniffi::export]` of the crate lives under this module.
//!
//! Thin by design: records in, core calls, records out. The core modules never see UniFFI; this module converts
//! (`records`), maps the internal error onto the public one (`error`), forwards `log` records to the app
//! (`logging`) and moves blocking calls off the caller's thread for the async variants (`offload`); `browse` holds
//! the offline browsing exports.
//!
//! What is copied: UniFFI copies every argument and result across the boundary, so a photo's or a frame's bytes
//! are copied once into Rust (then read in place: no decoded full-size RGB copy of a frame is made), and results
//! are copied out. Embedding vectors never cross for search; only `embed_photo` returns one, for batch work.

mod browse;
mod error;
mod logging;
mod offload;
mod records;

use std::sync::Arc;

pub use browse::{CategoryCount, PageOptions, ProductPage, SortOrder};
use error::guard;
pub use error::ShopLensError;
pub use logging::{set_logger, LogLevel, Logger};
pub use records::{
    CameraFrame, CropBox, EngineOptions, FrameFormat, FramePlane, Match, Product, SearchOptions, SearchResults,
    ShardInfo, Timings,
};

use crate::model::{Embedder, EmbedderOptions, ModelManifest};
use crate::{engine, search};
use offload::offload;

/// The engine: one model plus the open catalog shards. Thread-safe: share one instance across the app and call it
/// from any thread; searches run in parallel and never wait for a shard being added.
///
/// Every async method runs on a worker thread and never blocks the caller (Kotlin `suspend`, Swift `async`,
/// Python coroutine); the plain ones block, which suits a camera analyzer's own background thread. Every failure,
/// a caught panic included, is a `ShopLensError`.
#[derive(Debug, uniffi::Object)]
pub struct ShopLens {
    engine: engine::ShopLens,
}

type Result<T, E = ShopLensError> = std::result::Result<T, E>;

#[uniffi::export]
impl ShopLens {
    /// Loads the model at `model_path` (an ONNX file with its `.json` manifest beside it) with default options.
    #[uniffi::constructor]
    pub fn new(model_path: String) -> Result<Arc<Self>> {
        Self::with_options(model_path, EngineOptions::default())
    }

    /// Loads the model at `model_path` with the given options.
    #[uniffi::constructor(default(options))]
    pub fn with_options(model_path: String, options: EngineOptions) -> Result<Arc<Self>> {
        guard(|| {
            let engine = engine::ShopLens::open_with(model_path, embedder_options(&options))?;
            Ok(Self::wrap(engine, &options))
        })
    }

    /// Loads a model from memory (say, an Android asset): the ONNX bytes and the text of its JSON manifest.
    #[uniffi::constructor(default(options))]
    pub fn from_bytes(model: Vec<u8>, manifest_json: String, options: EngineOptions) -> Result<Arc<Self>> {
        guard(|| {
            let manifest = ModelManifest::from_json(&manifest_json)?;
            let embedder = Embedder::from_bytes(&model, manifest, embedder_options(&options))?;
            Ok(Self::wrap(engine::ShopLens::with_embedder(embedder), &options))
        })
    }

    /// Opens a shard file and adds it to the searched catalog; an open shard with the same id is replaced.
    /// Fails with `Shard` for a damaged file or one built with another model, `MemoryBudgetExceeded` past the
    /// budget.
    pub fn add_shard(&self, path: String) -> Result<ShardInfo> {
        guard(|| Ok(self.engine.add_shard(path)?.into()))
    }

    /// `add_shard` on a ShopLens worker thread: the caller never waits (opening a large shard takes a while).
    pub async fn add_shard_async(&self, path: String) -> Result<ShardInfo> {
        let engine = self.engine.clone();
        offload(move || Ok(engine.add_shard(path)?.into())).await
    }

    /// Closes the shard with this id; `NotFound` if none is open.
    pub fn remove_shard(&self, shard_id: String) -> Result<()> {
        guard(|| Ok(self.engine.remove_shard(&shard_id)?))
    }

    /// The open shards, in the order they were added.
    pub fn shards(&self) -> Vec<ShardInfo> {
        self.engine.shards().into_iter().map(Into::into).collect()
    }

    /// Finds the products that look like an encoded photo (JPEG, PNG or WebP; EXIF orientation is honoured).
    #[uniffi::method(default(options = None))]
    pub fn search_photo(&self, photo: Vec<u8>, options: Option<SearchOptions>) -> Result<SearchResults> {
        guard(|| search_photo(&self.engine, &photo, options))
    }

    /// `search_photo` on a ShopLens worker thread: the caller never waits.
    #[uniffi::method(default(options = None))]
    pub async fn search_photo_async(&self, photo: Vec<u8>, options: Option<SearchOptions>) -> Result<SearchResults> {
        let engine = self.engine.clone();
        offload(move || search_photo(&engine, &photo, options)).await
    }

    /// Finds the products that look like a camera frame (its crop box, rotation and range applied).
    #[uniffi::method(default(options = None))]
    pub fn search_frame(&self, frame: CameraFrame, options: Option<SearchOptions>) -> Result<SearchResults> {
        guard(|| search_frame(&self.engine, &frame, options))
    }

    /// `search_frame` on a ShopLens worker thread: the caller never waits.
    #[uniffi::method(default(options = None))]
    pub async fn search_frame_async(
        &self,
        frame: CameraFrame,
        options: Option<SearchOptions>,
    ) -> Result<SearchResults> {
        let engine = self.engine.clone();
        offload(move || search_frame(&engine, &frame, options)).await
    }

    /// Gets the model ready for the camera's pictures now, so the first frame does not wait for it (about a
    /// tenth of a second on a desktop core, more on a phone): `width` x `height` is the frame size as the shopper
    /// sees it, after rotation (1080 x 1920 for a portrait 1080p stream). Optional; call it when the camera screen opens (`prepare_async` keeps the caller's
    /// thread free). 4:3 pictures need nothing; without it, the first 16:9 (or 9:16) picture pays once.
    pub fn prepare(&self, width: u32, height: u32) -> Result<()> {
        guard(|| Ok(self.engine.prepare(width, height).map(drop)?))
    }

    /// `prepare` on a ShopLens worker thread: the caller never waits.
    pub async fn prepare_async(&self, width: u32, height: u32) -> Result<()> {
        let engine = self.engine.clone();
        offload(move || Ok(engine.prepare(width, height).map(drop)?)).await
    }

    /// The photo's embedding: a unit-length vector, for batch and data work (deduplication, clustering, checking a
    /// catalog's photos). Searching never needs it. It is the query-side vector; a shard stores each catalog photo as
    /// the mean of this and its mirror image's embedding, so its cosine with the stored vector is close to 1, not 1.
    pub fn embed_photo(&self, photo: Vec<u8>) -> Result<Vec<f32>> {
        guard(|| Ok(self.engine.embed_photo(&photo)?.vector))
    }
}

impl ShopLens {
    fn wrap(engine: engine::ShopLens, options: &EngineOptions) -> Arc<Self> {
        Arc::new(ShopLens { engine: engine.with_memory_budget(options.memory_budget_bytes) })
    }
}

fn embedder_options(options: &EngineOptions) -> EmbedderOptions {
    EmbedderOptions { threads: options.threads as usize, ..Default::default() }
}

fn search_photo(engine: &engine::ShopLens, photo: &[u8], options: Option<SearchOptions>) -> Result<SearchResults> {
    let options: search::SearchOptions = options.unwrap_or_default().into();
    Ok(engine.search_photo(photo, &options)?.into())
}

fn search_frame(
    engine: &engine::ShopLens,
    frame: &CameraFrame,
    options: Option<SearchOptions>,
) -> Result<SearchResults> {
    let options: search::SearchOptions = options.unwrap_or_default().into();
    Ok(engine.search_frame(&frame.to_core()?, &options)?.into())
}
