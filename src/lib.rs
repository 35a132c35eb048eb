#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod browse;
pub mod builder;
pub mod catalog;
pub mod category;
pub mod engine;
pub mod error;
pub mod ffi;
pub mod frame;
pub mod index;
pub mod model;
pub mod photo;
pub mod preprocess;
pub mod search;
pub mod shard;
pub mod text;
mod wire;

pub use browse::{CategoryCount, PageRequest, ProductPage};
pub use catalog::Product;
pub use category::SortOrder;
pub use engine::{Embedding, SearchResults, ShopLens, Timings};
pub use error::{Error, Result};
pub use frame::{CameraFrame, ColorRange, CropRect, PixelFormat, Plane, Rotation};
pub use index::{best_per_product, Hit, IndexParams, VectorIndex};
pub use model::{cosine, Embedder, EmbedderOptions, ModelManifest};
pub use photo::Photo;
pub use search::{Match, SearchOptions};
pub use shard::{encode_shard, write_shard, SectionInfo, Shard, ShardHeader, ShardMeta};
pub use text::TextQuery;

// The bindings' scaffolding (namespace `shoplens`); the exports themselves are all in `ffi`.
uniffi::setup_scaffolding!();
