//! `ShopLens`: the plain-Rust API the CLI and the bindings share.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::browse::{CategoryCount, PageRequest, ProductPage, ShardSet};
use crate::catalog::Product;
use crate::error::{Error, Result};
use crate::frame::CameraFrame;
use crate::model::{Embedder, EmbedderOptions};
use crate::photo::Photo;
use crate::preprocess::frame_to_tensor;
use crate::search::{Match, SearchOptions};
use crate::shard::{Shard, ShardHeader};

/// How long each stage of one embedding took.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timings {
    /// Decoding the photo (zero for camera frames).
    pub decode: Duration,
    /// Frame to model tensor.
    pub preprocess: Duration,
    /// Model inference.
    pub embed: Duration,
    /// Vector search over the shards (zero for plain embeddings).
    pub search: Duration,
}

/// An embedding and how it was made.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    /// L2-normalized vector.
    pub vector: Vec<f32>,
    /// The object vectors (the strongest windows of the model's feature map, normalized, strongest first), when the
    /// model has a region output: searches query with these and the embedding and keep each product's best score,
    /// which finds an object that fills only part of a cluttered photo.
    pub objects: Vec<Vec<f32>>,
    /// Time spent per stage.
    pub timings: Timings,
}

/// Products found for one photo or frame.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResults {
    /// Best first.
    pub matches: Vec<Match>,
    /// Time spent per stage.
    pub timings: Timings,
}

/// The engine: one model plus the open shards, shared across threads (`Clone` is cheap and shares both).
#[derive(Clone, Debug)]
pub struct ShopLens {
    embedder: Arc<Embedder>,
    shards: Arc<RwLock<Vec<Arc<Shard>>>>,
    /// Most bytes the open shards may take together ([`Shard::memory_bytes`]); `None` is unlimited.
    memory_budget: Option<u64>,
}

impl ShopLens {
    /// Opens the model at `model` (an ONNX file with its `.json` manifest beside it) with default options.
    pub fn open(model: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(model, EmbedderOptions::default())
    }

    /// Opens the model at `model` with the given options.
    pub fn open_with(model: impl AsRef<Path>, options: EmbedderOptions) -> Result<Self> {
        let model = model.as_ref();
        let start = Instant::now();
        let embedder = Embedder::from_path(model, options)?;
        log::info!(
            "loaded model {:?} from {} ({} threads) in {} ms",
            embedder.manifest().model_id,
            model.display(),
            embedder.threads(),
            start.elapsed().as_millis()
        );
        Ok(Self::with_embedder(embedder))
    }

    /// Wraps an already loaded model.
    pub fn with_embedder(embedder: Embedder) -> Self {
        ShopLens { embedder: Arc::new(embedder), shards: Arc::default(), memory_budget: None }
    }

    /// Caps the memory the open shards may take together: [`ShopLens::add_shard`] then refuses a shard that would
    /// go past it ([`Error::MemoryBudget`]). `None` (the default) is unlimited.
    pub fn with_memory_budget(mut self, bytes: Option<u64>) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Gets the model's plan for upright pictures of `width` x `height` ready now rather than on the first frame:
    /// [`Embedder::prepare`]. Returns the input shape they run as, `(width, height)`.
    pub fn prepare(&self, width: u32, height: u32) -> Result<(u32, u32)> {
        let start = Instant::now();
        let spec = self.embedder.prepare(width, height)?;
        log::info!(
            "{width}x{height} pictures run as {}x{}, ready in {} ms",
            spec.width,
            spec.height,
            start.elapsed().as_millis()
        );
        Ok((spec.width, spec.height))
    }

    /// The model.
    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// Embeds an encoded photo (JPEG, PNG, WebP), honouring its EXIF orientation.
    pub fn embed_photo(&self, bytes: &[u8]) -> Result<Embedding> {
        let start = Instant::now();
        let photo = Photo::decode(bytes)?;
        let decode = start.elapsed();
        let mut e = self.embed_frame(&photo.as_frame()?)?;
        e.timings.decode = decode;
        Ok(e)
    }

    /// The vector a catalog stores for a product photo: the mean of the embeddings of the photo and of its mirror
    /// image, so a product also matches photos taken from its other side (a left shoe against a right one, a handle
    /// on either side). Costs two inferences per photo at build time and nothing at search time; measured in
    /// docs/benchmarks.md.
    pub fn embed_catalog_photo(&self, bytes: &[u8]) -> Result<Vec<f32>> {
        let photo = Photo::decode(bytes)?;
        let frame = photo.as_frame()?;
        let spec = self.embedder.fit(&frame);
        let mirror = frame.with_mirrored(!frame.mirrored());
        self.embedder.embed_mean([frame_to_tensor(&frame, &spec), frame_to_tensor(&mirror, &spec)], &spec)
    }

    /// Embeds a camera frame (its crop box, rotation and range applied).
    pub fn embed_frame(&self, frame: &CameraFrame<'_>) -> Result<Embedding> {
        let start = Instant::now();
        // The model's square input, or its wide one for 16:9 frames and other wide pictures; the first wide frame
        // optimizes that plan here, which counts as embedding time.
        let spec = self.embedder.fit(frame);
        let planned = start.elapsed();
        let tensor = frame_to_tensor(frame, &spec);
        let preprocess = start.elapsed() - planned;
        let (vector, objects) = self.embedder.embed_input(tensor, &spec)?;
        let embed = start.elapsed() - preprocess;
        Ok(Embedding {
            vector,
            objects,
            timings: Timings { decode: Duration::ZERO, preprocess, embed, search: Duration::ZERO },
        })
    }

    /// Opens a shard file and adds it; a shard with the same id is replaced. Refuses a shard built by another model,
    /// or one that does not fit in the memory budget.
    pub fn add_shard(&self, path: impl AsRef<Path>) -> Result<ShardHeader> {
        let path = path.as_ref();
        let start = Instant::now();
        let shard = Shard::open(path)?;
        shard.check_model(&self.embedder.manifest().model_id, self.embedder.sha256())?;
        let header = shard.header.clone();
        let needed = shard.memory_bytes();
        let mut shards = self.shards.write().unwrap_or_else(|e| e.into_inner());
        if let Some(budget) = self.memory_budget {
            // Checked under the write lock, so two shards added at once cannot both squeeze in.
            let used: u64 =
                shards.iter().filter(|s| s.header.shard_id != header.shard_id).map(|s| s.memory_bytes()).sum();
            let available = budget.saturating_sub(used);
            if needed > available {
                return Err(Error::MemoryBudget { shard_id: header.shard_id, needed, available, budget });
            }
        }
        shards.retain(|s| s.header.shard_id != header.shard_id);
        shards.push(Arc::new(shard));
        drop(shards);
        log::info!(
            "opened shard {:?} (catalog {:?}) from {}: {} products, {} vectors, {} bytes in memory, in {} ms",
            header.shard_id,
            header.catalog_version,
            path.display(),
            header.product_count,
            header.vector_count,
            needed,
            start.elapsed().as_millis()
        );
        Ok(header)
    }

    /// Closes the shard with this id.
    pub fn remove_shard(&self, shard_id: &str) -> Result<()> {
        let mut shards = self.shards.write().unwrap_or_else(|e| e.into_inner());
        let before = shards.len();
        shards.retain(|s| s.header.shard_id != shard_id);
        if shards.len() == before {
            return Err(Error::UnknownShard(shard_id.to_string()));
        }
        log::info!("closed shard {shard_id:?}");
        Ok(())
    }

    /// Headers of the open shards, in the order they were added.
    pub fn shards(&self) -> Vec<ShardHeader> {
        self.open_shards().iter().map(|s| s.header.clone()).collect()
    }

    /// A snapshot of the open shards: searches hold it, so adding or removing never waits for a search.
    pub(crate) fn open_shards(&self) -> Vec<Arc<Shard>> {
        self.shards.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Finds the products that look like an encoded photo.
    pub fn search_photo(&self, bytes: &[u8], options: &SearchOptions) -> Result<SearchResults> {
        options.validate()?;
        let embedding = self.embed_photo(bytes)?;
        self.search_embedding(embedding, options)
    }

    /// Finds the products that look like a camera frame (its crop box, rotation and range applied).
    pub fn search_frame(&self, frame: &CameraFrame<'_>, options: &SearchOptions) -> Result<SearchResults> {
        options.validate()?;
        let embedding = self.embed_frame(frame)?;
        self.search_embedding(embedding, options)
    }

    fn search_embedding(&self, embedding: Embedding, options: &SearchOptions) -> Result<SearchResults> {
        let start = Instant::now();
        let mut queries = vec![embedding.vector.as_slice()];
        queries.extend(embedding.objects.iter().map(Vec::as_slice));
        let matches = self.shard_set().search_vectors(&queries, options)?;
        let timings = Timings { search: start.elapsed(), ..embedding.timings };
        Ok(SearchResults { matches, timings })
    }

    fn shard_set(&self) -> ShardSet {
        ShardSet::new(self.open_shards())
    }

    /// The product with this id, and the id of the shard it came from (the newest catalog that has it).
    pub fn product(&self, id: &str) -> Result<(Product, String)> {
        self.shard_set().product(id)
    }

    /// The category tree of the open shards, parents before children, with product counts at every level.
    pub fn categories(&self) -> Vec<CategoryCount> {
        self.shard_set().categories()
    }

    /// One page of the products in category `path` and every category below it (`""` lists everything).
    pub fn products_in_category(&self, path: &str, request: &PageRequest) -> Result<ProductPage> {
        self.shard_set().category_page(path, request)
    }

    /// Keyword search over titles, brands, category names and attribute values, as the shopper types (see
    /// [`crate::text::TextQuery`] for the matching rules), with the category and price filters of `options`.
    pub fn search_text(&self, query: &str, options: &SearchOptions) -> Result<Vec<Match>> {
        self.shard_set().search_text(query, options)
    }

    /// Products that look like product `id`, from its stored vector (no model run); the product itself is left out.
    pub fn similar_products(&self, id: &str, options: &SearchOptions) -> Result<Vec<Match>> {
        self.shard_set().similar(id, options)
    }
}
