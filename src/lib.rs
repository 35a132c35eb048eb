#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod builder;
pub mod catalog;
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
mod wire;

pub use catalog::Product;
pub use engine::{Embedding, SearchResults, ShopLens, Timings};
pub use error::{Error, Result};
pub use frame::{CameraFrame, ColorRange, CropRect, PixelFormat, Plane, Rotation};
pub use index::{Hit, IndexParams, VectorIndex};
pub use model::{cosine, Embedder, EmbedderOptions, ModelManifest};
pub use photo::Photo;
pub use search::{Match, SearchOptions};
pub use shard::{encode_shard, write_shard, SectionInfo, Shard, ShardHeader, ShardMeta};

// The bindings' scaffolding (namespace `shoplens`); the exports themselves are all in `ffi`.
uniffi::setup_scaffolding!();
