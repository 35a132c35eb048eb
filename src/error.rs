//! The internal error: rich, with sources. `ffi` maps it to the few public variants an app can act on.

use std::path::PathBuf;

/// Everything that can go wrong inside ShopLens.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A camera frame whose geometry, strides or buffers do not add up.
    #[error("invalid camera frame: {0}")]
    InvalidFrame(String),

    /// Encoded photo bytes that could not be decoded.
    #[error("cannot decode photo: {0}")]
    Decode(#[from] image::ImageError),

    /// A photo whose size is outside what ShopLens accepts.
    #[error("invalid photo: {0}")]
    InvalidPhoto(String),

    /// The model manifest is malformed or does not describe the model graph.
    #[error("invalid model manifest: {0}")]
    Manifest(String),

    /// tract could not load, optimize or run the model.
    #[error("model error: {0}")]
    Model(String),

    /// An argument out of its allowed range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// No open shard has a product with this id.
    #[error("no product {0:?} in the open shards")]
    UnknownProduct(String),

    /// No open shard has products in this category.
    #[error("no category {0:?} in the open shards")]
    UnknownCategory(String),

    /// No shard with this id is open.
    #[error("no shard {0:?} is open")]
    UnknownShard(String),

    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },

    /// JSON that could not be parsed.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// Vectors, a query or parameters the vector index cannot take (wrong dimension, not finite, too many).
    #[error("vector index: {0}")]
    Index(String),

    /// Product records that cannot go into a shard (duplicate id, field too long, not finite).
    #[error("invalid catalog: {0}")]
    Catalog(String),

    /// Bytes that are not a valid catalog shard: bad magic, checksum, size or contents.
    #[error("invalid shard: {0}")]
    Shard(String),

    /// A shard written in a format version this build does not read.
    #[error("shard format version {found} is not supported (this build reads versions {oldest} to {newest})")]
    ShardVersion {
        /// The version in the file.
        found: u32,
        /// The oldest version this build reads.
        oldest: u32,
        /// The newest version this build reads (and the one it writes).
        newest: u32,
    },

    /// A shard built with another model than the one loaded: its vectors live in another space.
    #[error("{0}")]
    ModelMismatch(String),

    /// Opening a shard would take the open shards past the engine's memory budget.
    #[error(
        "shard {shard_id:?} needs {needed} bytes, but only {available} of the {budget}-byte memory budget are free; \
         remove a shard first"
    )]
    MemoryBudget {
        /// The shard that was refused.
        shard_id: String,
        /// Its decompressed size.
        needed: u64,
        /// What the budget had left (shards replaced by this one not counted).
        available: u64,
        /// The whole budget.
        budget: u64,
    },

    /// Writing a shard to its output failed.
    #[error("cannot write shard: {0}")]
    ShardWrite(#[source] std::io::Error),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// An [`Error::InvalidFrame`] with the given message.
    pub(crate) fn frame(msg: impl Into<String>) -> Self {
        Error::InvalidFrame(msg.into())
    }

    /// An [`Error::Shard`] with the given message.
    pub(crate) fn shard(msg: impl Into<String>) -> Self {
        Error::Shard(msg.into())
    }

    /// An [`Error::Index`] with the given message.
    pub(crate) fn index(msg: impl Into<String>) -> Self {
        Error::Index(msg.into())
    }
}

impl From<tract_onnx::prelude::TractError> for Error {
    fn from(e: tract_onnx::prelude::TractError) -> Self {
        // tract's errors are anyhow chains; keep the whole chain, it names the node that failed.
        Error::Model(format!("{e:#}"))
    }
}

/// Result with the internal [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
