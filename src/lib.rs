#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod engine;
pub mod error;
pub mod frame;
pub mod model;
pub mod photo;
pub mod preprocess;

pub use engine::{Embedding, ShopLens, Timings};
pub use error::{Error, Result};
pub use frame::{CameraFrame, ColorRange, CropRect, PixelFormat, Plane, Rotation};
pub use model::{cosine, Embedder, ModelManifest};
pub use photo::Photo;
