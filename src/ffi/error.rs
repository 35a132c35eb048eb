//! The one public error of the bindings, and the one place the internal error maps onto it.

use std::panic::{catch_unwind, AssertUnwindSafe};

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
    /// No open shard, product or category has that id or path.
    #[error("{0}")]
    NotFound(String),
    /// A file could not be read (missing, permissions).
    #[error("{0}")]
    Io(String),
    /// Opening the shard would take the open shards past `EngineOptions.memory_budget_bytes`: remove one first.
    #[error("{0}")]
    MemoryBudgetExceeded(String),
    /// A bug in ShopLens: a panic, caught before it reached the app; please report the message.
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
            Error::UnknownShard(_) | Error::UnknownProduct(_) | Error::UnknownCategory(_) => {
                ShopLensError::NotFound(message)
            }
            Error::Io { .. } | Error::ShardWrite(_) => ShopLensError::Io(message),
            Error::MemoryBudget { .. } => ShopLensError::MemoryBudgetExceeded(message),
        }
    }
}

/// Runs an export's body; a panic in it becomes [`ShopLensError::Internal`], so apps catch one error type only.
/// (UniFFI would catch it too, but as its own `InternalException` / `rustPanic` / `InternalError`.)
pub(crate) fn guard<T>(body: impl FnOnce() -> Result<T, ShopLensError>) -> Result<T, ShopLensError> {
    catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|panic| Err(ShopLensError::Internal(format!("panic: {}", panic_message(&*panic)))))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_internal_message() {
        let e = ShopLensError::from(Error::UnknownShard("shop-a".into()));
        assert!(matches!(&e, ShopLensError::NotFound(m) if m == "no shard \"shop-a\" is open"), "{e:?}");
        let e = ShopLensError::from(Error::ShardVersion { found: 9, oldest: 2, newest: 3 });
        assert!(matches!(&e, ShopLensError::Shard(m) if m.contains("version 9")), "{e:?}");
    }

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let out: Result<(), _> = guard(|| panic!("index {} out of range", 7));
        assert!(matches!(out, Err(ShopLensError::Internal(m)) if m == "panic: index 7 out of range"));
        assert!(matches!(guard(|| Ok(3)), Ok(3)));
    }
}
