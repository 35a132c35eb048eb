//! Any bytes into the shard reader: it must return `Err` or a shard that searches, never panic or run out of memory.
//!
//! `cargo fuzz` builds with `--cfg fuzzing`, which makes the reader skip its checksums so inputs reach the section
//! decoders. Seed it with a real shard: `cargo test --test shard_hostile -- --ignored write_fuzz_seed`, then
//! `cargo +nightly fuzz run shard_reader -- -rss_limit_mb=2048`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoplens::Shard;

fuzz_target!(|data: &[u8]| {
    if let Ok(shard) = Shard::from_bytes(data) {
        let q: Vec<f32> = (0..shard.index.dim()).map(|i| (i % 5) as f32 - 2.0).collect();
        let _ = shard.index.search(&q, 10, 32, &|p| p % 3 != 0);
        let _ = shard.index.exact_search(&q, 5, &|_| true);
        if let Some(v) = shard.index.product_vector(0) {
            let _ = shard.index.search(&v, 3, 8, &|_| true);
        }
    }
});
