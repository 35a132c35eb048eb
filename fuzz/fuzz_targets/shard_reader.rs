//! Any bytes into the shard reader: it must return `Err` or a shard that searches, never panic or run out of memory.
//!
//! Built with `--cfg fuzzing`, the reader skips its checksums so inputs reach the section decoders. Run it with
//! `fuzz/run.sh` (stable toolchain), or `cargo +nightly fuzz run shard_reader -- -rss_limit_mb=2048`; the seed is
//! the bundled sample shard.
#![no_main]

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use shoplens::text::TextQuery;
use shoplens::Shard;

static HOOK: Once = Once::new();

thread_local! {
    /// The last panic's message and place: printed only if that panic escapes the reader.
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

fuzz_target!(|data: &[u8]| {
    // The reader walks the fst dictionaries (a crate that trusts its bytes) inside `catch_unwind` and turns a panic
    // there into an error; libfuzzer-sys's own hook aborts on every panic, caught or not. This hook only remembers
    // the message; a panic that escapes the reader is printed and aborts below.
    HOOK.call_once(|| std::panic::set_hook(Box::new(|info| LAST_PANIC.with(|m| *m.borrow_mut() = info.to_string()))));
    if catch_unwind(AssertUnwindSafe(|| exercise(data))).is_err() {
        LAST_PANIC.with(|m| eprintln!("panic escaped the reader: {}", m.borrow()));
        std::process::abort();
    }
});

fn exercise(data: &[u8]) {
    if let Ok(shard) = Shard::from_bytes(data) {
        let q: Vec<f32> = (0..shard.index.dim()).map(|i| (i % 5) as f32 - 2.0).collect();
        let _ = shard.index.search(&q, 10, 32, &|p| p % 3 != 0);
        let _ = shard.index.exact_search(&q, 5, &|_| true);
        if let Some(v) = shard.index.product_vector(0) {
            let _ = shard.index.search(&v, 3, 8, &|_| true);
        }
        // What browsing does after open: ids (also longer than any valid one), keywords (exact, prefix and typo
        // paths), the category tree.
        for p in shard.products.iter().take(3) {
            let _ = shard.find(&p.id);
            let _ = shard.find(&p.id.repeat(300));
            let _ = shard.text.search(&TextQuery::parse(&p.title), 5, &|_| true);
        }
        let _ = shard.find("no-such-id");
        for text in ["mug", "ceramik te", "a"] {
            let _ = shard.text.search(&TextQuery::parse(text), 5, &|_| true);
        }
        let _ = shard.categories();
    }
}
