//! The one public error of the bindings, and the one place the internal error maps onto it.

use crate::error::Error;

/// What went wrong, in a few kinds an app can act on; the message says exactly what and where.
///
/// Kotlin sees `ShopLensException.InvalidInput` and so on (with `message`), Swift `ShopLensError.InvalidInput`,
/// Python `ShopLensError.InvalidInput`.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum ShopLensError {
    /// A photo that does not decode, a camera frame whose sizes, strides or planes do not add up, or an option out
    /// of range: fix the call.
    #[error("{0}")]
    InvalidInput(String),
    /// The model or its manifest could not be loaded or run.
    #[error("{0}")]
    Model(String),
    /// A shard file that is damaged, of an unsupported format version, or built with another model: download or
    /// rebuild it.
    #[error("{0}")]
    Shard(String),
    /// No open shard has that id.
    #[error("{0}")]
    NotFound(String),
    /// A file could not be read (missing, permissions).
    #[error("{0}")]
    Io(String),
    /// Opening the shard would take the open shards past `EngineOptions.memory_budget_bytes`: remove one first.
    #[error("{0}")]
    MemoryBudgetExceeded(String),
    /// A bug in ShopLens (a panic caught before it reached the app); please report the message.
    #[error("{0}")]
    Internal(String),
}

impl From<Error> for ShopLensError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        // Exhaustive on purpose: a new internal error must be given a public kind here.
        match e {
            Error::InvalidFrame(_)
            | Error::Decode(_)
            | Error::InvalidPhoto(_)
            | Error::InvalidArgument(_)
            | Error::Catalog(_) => ShopLensError::InvalidInput(message),
            Error::Manifest(_) | Error::Model(_) | Error::Json(_) => ShopLensError::Model(message),
            Error::Shard(_) | Error::ShardVersion { .. } | Error::ModelMismatch(_) | Error::Index(_) => {
                ShopLensError::Shard(message)
            }
            Error::UnknownShard(_) => ShopLensError::NotFound(message),
            Error::Io { .. } | Error::ShardWrite(_) => ShopLensError::Io(message),
            Error::MemoryBudget { .. } => ShopLensError::MemoryBudgetExceeded(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_internal_message() {
        let e = ShopLensError::from(Error::UnknownShard("shop-a".into()));
        assert!(matches!(&e, ShopLensError::NotFound(m) if m == "no shard \"shop-a\" is open"), "{e:?}");
        let e = ShopLensError::from(Error::ShardVersion { found: 9, supported: 1 });
        assert!(matches!(&e, ShopLensError::Shard(m) if m.contains("version 9")), "{e:?}");
    }
}
