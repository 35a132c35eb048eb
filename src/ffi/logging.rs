//! ShopLens' `log` records forwarded to a logger the app implements (Logcat, `os_log`, Python `logging`).
//!
//! `log` takes one global logger per process, set once: a forwarding logger is installed on the first
//! [`set_logger`] and the app's logger behind it can then be replaced or removed at any time.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use super::ShopLensError;

/// Severity of a log message, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    /// Something failed.
    Error,
    /// Something looks wrong but work goes on.
    Warn,
    /// Rare, useful events: model loaded, shard opened or closed, with sizes and timings.
    Info,
    /// Details for debugging ShopLens.
    Debug,
    /// Everything.
    Trace,
}

/// Receives ShopLens' log messages; implemented by the app. Called from any thread, so it must be thread-safe and
/// quick; an exception thrown by it is dropped.
#[uniffi::export(foreign)]
pub trait Logger: Send + Sync {
    /// One message; `target` names the module it comes from (`shoplens::engine`).
    fn log(&self, level: LogLevel, target: String, message: String);
}

/// Sends ShopLens' messages up to `max_level` to `logger`, replacing the previous one; `None` stops logging.
///
/// Messages of ShopLens' own modules are forwarded, and warnings and errors of its dependencies.
#[uniffi::export]
pub fn set_logger(logger: Option<Arc<dyn Logger>>, max_level: LogLevel) -> Result<(), ShopLensError> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| log::set_logger(&FORWARDER).map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| ShopLensError::Internal(format!("another logger owns this library's `log` facade: {e}")))?;
    let level = if logger.is_some() { max_level.into() } else { log::LevelFilter::Off };
    *FORWARDER.target.write().unwrap_or_else(PoisonError::into_inner) = logger;
    log::set_max_level(level);
    Ok(())
}

static FORWARDER: Forwarder = Forwarder { target: RwLock::new(None) };

struct Forwarder {
    target: RwLock<Option<Arc<dyn Logger>>>,
}

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        // tract and the decoders are chatty at debug level; an app wants ShopLens' story, and others' problems.
        metadata.level() <= log::max_level()
            && (metadata.target().starts_with("shoplens") || metadata.level() <= log::Level::Warn)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Cloned out so the app's logger runs without the lock held: it may call set_logger itself.
        let Some(logger) = self.target.read().unwrap_or_else(PoisonError::into_inner).clone() else {
            return;
        };
        let (level, target, message) = (record.level().into(), record.target().to_string(), record.args().to_string());
        // A foreign logger that throws surfaces in Rust as a panic; logging must never fail the call that logged.
        let _ = catch_unwind(AssertUnwindSafe(|| logger.log(level, target, message)));
    }

    fn flush(&self) {}
}

impl From<log::Level> for LogLevel {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        }
    }
}

impl From<LogLevel> for log::LevelFilter {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<(LogLevel, String, String)>>);
    impl Logger for Collect {
        fn log(&self, level: LogLevel, target: String, message: String) {
            self.0.lock().unwrap().push((level, target, message));
        }
    }

    struct Throws;
    impl Logger for Throws {
        fn log(&self, _: LogLevel, _: String, _: String) {
            panic!("the app's logger failed");
        }
    }

    // The only test that touches the process-wide logger.
    #[test]
    fn forwards_filters_replaces_and_survives_a_failing_logger() {
        let first = Arc::new(Collect::default());
        set_logger(Some(first.clone()), LogLevel::Info).unwrap();
        log::info!(target: "shoplens::engine", "opened");
        log::debug!(target: "shoplens::engine", "too detailed for Info");
        log::info!(target: "tract_core::optim", "not ours");
        log::warn!(target: "tract_core::optim", "ours to pass on");
        let second = Arc::new(Collect::default());
        set_logger(Some(second.clone()), LogLevel::Debug).unwrap();
        log::debug!(target: "shoplens::search", "now wanted");
        set_logger(Some(Arc::new(Throws)), LogLevel::Info).unwrap();
        log::info!(target: "shoplens::engine", "dropped, and no panic escapes");
        set_logger(None, LogLevel::Trace).unwrap();
        log::error!(target: "shoplens::engine", "nobody listens");

        let got =
            |c: &Collect| c.0.lock().unwrap().iter().map(|(l, t, m)| format!("{l:?} {t} {m}")).collect::<Vec<_>>();
        assert_eq!(got(&first), ["Info shoplens::engine opened", "Warn tract_core::optim ours to pass on"]);
        assert_eq!(got(&second), ["Debug shoplens::search now wanted"]);
    }
}
