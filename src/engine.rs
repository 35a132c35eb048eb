//! `ShopLens`: the plain-Rust API the CLI and the bindings share.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::frame::CameraFrame;
use crate::model::Embedder;
use crate::photo::Photo;
use crate::preprocess::frame_to_tensor;

/// How long each stage of one embedding took.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timings {
    /// Decoding the photo (zero for camera frames).
    pub decode: Duration,
    /// Frame to model tensor.
    pub preprocess: Duration,
    /// Model inference.
    pub embed: Duration,
}

/// An embedding and how it was made.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    /// L2-normalized vector.
    pub vector: Vec<f32>,
    /// Time spent per stage.
    pub timings: Timings,
}

/// The engine: one model, shared across threads (`Clone` is cheap).
#[derive(Clone, Debug)]
pub struct ShopLens {
    embedder: Arc<Embedder>,
}

impl ShopLens {
    /// Opens the model at `model` (an ONNX file with its `.json` manifest beside it).
    pub fn open(model: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::with_embedder(Embedder::from_path(model)?))
    }

    /// Wraps an already loaded model.
    pub fn with_embedder(embedder: Embedder) -> Self {
        ShopLens { embedder: Arc::new(embedder) }
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

    /// Embeds a camera frame (its crop box, rotation and range applied).
    pub fn embed_frame(&self, frame: &CameraFrame<'_>) -> Result<Embedding> {
        let start = Instant::now();
        let tensor = frame_to_tensor(frame, self.embedder.input_spec());
        let preprocess = start.elapsed();
        let vector = self.embedder.embed_tensor(tensor)?;
        let embed = start.elapsed() - preprocess;
        Ok(Embedding { vector, timings: Timings { decode: Duration::ZERO, preprocess, embed } })
    }
}
