//! Damaged and crafted shards: every one must be an `Err`, or a shard that searches, never a panic.
//!
//! The helpers below re-implement the layout from docs/shard-format.md, independently of the reader, so mutated
//! files can be resealed (checksums recomputed) and reach the section decoders instead of stopping at a checksum.

mod common;

use common::Rng;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

use sha2::{Digest, Sha256};
use shoplens::{encode_shard, Error, IndexParams, Product, Shard, ShardMeta, VectorIndex};

const PRELUDE: usize = 20;
const ENTRY: usize = 64;
const SECTIONS: usize = 6;

/// Mutations per corpus: 1000, or `HOSTILE_ITERATIONS` for a longer soak.
fn iterations() -> usize {
    std::env::var("HOSTILE_ITERATIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000)
}

/// A small valid shard: 150 products, two views each, 24-d vectors projected to 8, int8.
fn sample() -> Vec<u8> {
    let mut rng = Rng(5);
    let mut vectors = Vec::new();
    for p in 0..150u32 {
        for _ in 0..2 {
            let v: Vec<f32> = (0..24).map(|_| (rng.next() % 1000) as f32 / 1000.0 - 0.3).collect();
            vectors.push((p, v));
        }
    }
    let params = IndexParams { projected_dim: 8, ef_construction: 16, ..IndexParams::default() };
    let index = VectorIndex::build(&vectors, &params).unwrap();
    let products: Vec<Product> = (0..150)
        .map(|i| Product {
            id: format!("p{i}"),
            title: format!("Product {i}"),
            category: "A/B".into(),
            price: i as f64,
            currency: "EUR".into(),
            brand: None,
            url: None,
            attributes: Default::default(),
        })
        .collect();
    let meta = ShardMeta {
        shard_id: "s".into(),
        model_id: "m".into(),
        model_sha256: "ab".repeat(32),
        catalog_version: "v".into(),
        created_at: 7,
    };
    encode_shard(&meta, &products, &index).unwrap().1
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Offset of the section table and of the front checksum.
fn table(b: &[u8]) -> (usize, usize) {
    let start = PRELUDE + u32_at(b, 12) as usize;
    (start, start + ENTRY * u32_at(b, 16) as usize)
}

/// Recomputes every checksum that can be, so only the mutation itself is left to catch.
fn reseal(b: &mut [u8]) {
    if b.len() < PRELUDE {
        return;
    }
    let (start, sum_at) = table(b);
    if sum_at + 32 > b.len() {
        return;
    }
    for i in 0..u32_at(b, 16) as usize {
        let e = start + i * ENTRY;
        let (off, len) = (u64_at(b, e + 8) as usize, u64_at(b, e + 16) as usize);
        if let Some(section) = off.checked_add(len).and_then(|end| b.get(off..end)) {
            let sum = Sha256::digest(section);
            b[e + 32..e + 64].copy_from_slice(&sum);
        }
    }
    let sum = Sha256::digest(&b[..sum_at]);
    b[sum_at..sum_at + 32].copy_from_slice(&sum);
}

/// The raw (decompressed) sections of a valid shard.
fn raw_sections(b: &[u8]) -> Vec<Vec<u8>> {
    let (start, _) = table(b);
    (0..SECTIONS)
        .map(|i| {
            let e = start + i * ENTRY;
            let (off, len) = (u64_at(b, e + 8) as usize, u64_at(b, e + 16) as usize);
            zstd::decode_all(&b[off..off + len]).unwrap()
        })
        .collect()
}

/// A shard with `b`'s header and the given compressed sections and claimed raw lengths, sealed.
fn with_sections(b: &[u8], stored: &[Vec<u8>], raw_lens: &[u64]) -> Vec<u8> {
    let (start, sum_at) = table(b);
    let mut out = b[..sum_at + 32].to_vec();
    let mut off = out.len() as u64;
    for (i, s) in stored.iter().enumerate() {
        let e = start + i * ENTRY;
        out[e + 8..e + 16].copy_from_slice(&off.to_le_bytes());
        out[e + 16..e + 24].copy_from_slice(&(s.len() as u64).to_le_bytes());
        out[e + 24..e + 32].copy_from_slice(&raw_lens[i].to_le_bytes());
        off += s.len() as u64;
    }
    stored.iter().for_each(|s| out.extend_from_slice(s));
    reseal(&mut out);
    out
}

fn recompressed(b: &[u8], raw: &[Vec<u8>]) -> Vec<u8> {
    let stored: Vec<Vec<u8>> = raw.iter().map(|r| zstd::encode_all(&r[..], 3).unwrap()).collect();
    let lens: Vec<u64> = raw.iter().map(|r| r.len() as u64).collect();
    with_sections(b, &stored, &lens)
}

/// Reads `bytes` without letting a panic escape; a shard that opens must also search.
fn read(bytes: &[u8], what: &str) -> Result<Shard, Error> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let shard = Shard::from_bytes(bytes)?;
        let dim = shard.index.dim();
        let q: Vec<f32> = (0..dim).map(|i| (i % 7) as f32 - 3.0).collect();
        shard.index.search(&q, 10, 16, &|p| p % 2 == 0)?;
        shard.index.exact_search(&q, 3, &|_| true)?;
        for p in 0..shard.header.product_count.min(5) {
            if let Some(v) = shard.index.product_vector(p) {
                shard.index.search(&v, 5, 8, &|_| true)?;
            }
            let _ = shard.find(&shard.products[p as usize].id);
        }
        // Longer than any valid id: deeper than the dictionary walk at open went.
        let _ = shard.find(&"x".repeat(1000));
        for q in ["mug", "stoneware mug no", "stonewere ", "5"] {
            shard.text.search(&shoplens::TextQuery::parse(q), 10, &|_| true)?;
        }
        Ok(shard)
    }));
    result.unwrap_or_else(|_| panic!("the reader panicked on {what}"))
}

#[test]
fn the_sample_is_valid() {
    let b = sample();
    let shard = read(&b, "the sample").unwrap();
    assert_eq!(shard.products.len(), 150);
    assert!(shard.products.iter().enumerate().all(|(i, p)| shard.find(&p.id) == Some(i as u32)));
    read(&recompressed(&b, &raw_sections(&b)), "the recompressed sample").unwrap();
}

#[test]
fn every_truncation_is_an_error() {
    let b = sample();
    for len in 0..b.len() {
        assert!(read(&b[..len], &format!("truncation to {len}")).is_err(), "truncation to {len}");
    }
    let mut longer = b.clone();
    longer.push(0);
    assert!(read(&longer, "one extra byte").is_err());
}

#[test]
fn every_sampled_bit_flip_is_an_error() {
    let b = sample();
    let mut rng = Rng(1);
    for i in 0..3000 {
        let mut m = b.clone();
        let at = if i < 800 { i % b.len() } else { rng.below(b.len()) };
        m[at] ^= 1 << rng.below(8);
        assert!(read(&m, &format!("bit flip at {at}")).is_err(), "bit flip at {at}");
    }
}

#[test]
fn resealed_mutations_never_panic() {
    let b = sample();
    let mut rng = Rng(2);
    let mut opened = 0;
    for i in 0..iterations() {
        let mut m = b.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(m.len());
            match rng.below(5) {
                0 => m[at] ^= 1 << rng.below(8),
                1 => m[at] = rng.next() as u8,
                2 => m[at] = [0x00, 0xff, 0x7f, 0x80][rng.below(4)],
                3 => m.truncate(at.max(1)),
                _ => m.insert(at, rng.next() as u8),
            }
        }
        reseal(&mut m);
        opened += read(&m, &format!("resealed mutation {i}")).is_ok() as usize;
    }
    // Mutations in the padding-free format rarely survive, but those that do must search; this just reports.
    println!("{opened} of {} resealed mutations opened", iterations());
}

#[test]
fn mutated_sections_never_panic() {
    let b = sample();
    let raw = raw_sections(&b);
    let mut rng = Rng(3);
    for i in 0..iterations() {
        let mut r = raw.clone();
        let s = rng.below(SECTIONS);
        let sec = &mut r[s];
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(sec.len());
            match rng.below(6) {
                0 if !sec.is_empty() => sec[at] ^= 1 << rng.below(8),
                1 if !sec.is_empty() => sec[at] = [0x00, 0xff, 0x7f, 0x80, 0x01][rng.below(5)],
                2 => sec.truncate(at),
                3 => sec.insert(at, rng.next() as u8),
                4 if sec.len() >= 4 => {
                    let at = at.min(sec.len() - 4);
                    sec[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
                }
                _ => sec.extend_from_slice(&[0xff; 9]),
            }
        }
        let _ = read(&recompressed(&b, &r), &format!("section {s} mutation {i}"));
    }
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn set_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn crafted_headers_are_errors() {
    let b = sample();
    let (start, _) = table(&b);
    let crafted = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut m = b.clone();
        f(&mut m);
        reseal(&mut m);
        read(&m, "a crafted header")
    };
    let shard_err = |r: Result<Shard, Error>| matches!(r, Err(Error::Shard(_)));

    assert!(shard_err(crafted(&|m| m[0] = b'P')));
    assert!(matches!(crafted(&|m| set_u32(m, 8, 5)), Err(Error::ShardVersion { found: 5, .. })));
    assert!(matches!(crafted(&|m| set_u32(m, 8, 1)), Err(Error::ShardVersion { found: 1, .. })));
    // Versions 3 and 4 only added to version 2: older files still open.
    assert!(crafted(&|m| set_u32(m, 8, 2)).is_ok());
    assert!(crafted(&|m| set_u32(m, 8, 3)).is_ok());
    assert!(matches!(crafted(&|m| set_u32(m, 8, 0)), Err(Error::ShardVersion { found: 0, .. })));
    assert!(shard_err(crafted(&|m| set_u32(m, 12, u32::MAX))));
    assert!(shard_err(crafted(&|m| set_u32(m, 16, u32::MAX))));
    assert!(shard_err(crafted(&|m| set_u32(m, 16, 4))));
    // Counts: the header starts right after the prelude with products, vectors, model dim, stored dim.
    for (at, v) in [(0, u32::MAX), (4, u32::MAX), (4, 1 << 24), (0, 1 << 24), (8, 0), (8, 1 << 20), (12, 25), (12, 0)] {
        assert!(shard_err(crafted(&|m| set_u32(m, PRELUDE + at, v))), "header field at {at} = {v}");
    }
    for field in 0..SECTIONS {
        let e = start + field * ENTRY;
        assert!(shard_err(crafted(&|m| set_u32(m, e, 9))), "kind of section {field}");
        assert!(shard_err(crafted(&|m| set_u32(m, e + 4, 2))), "codec of section {field}");
        assert!(shard_err(crafted(&|m| set_u64(m, e + 8, u64::MAX - 3))), "offset of section {field}");
        assert!(shard_err(crafted(&|m| set_u64(m, e + 8, b.len() as u64))), "offset of section {field}");
        assert!(shard_err(crafted(&|m| set_u64(m, e + 16, u64::MAX))), "length of section {field}");
        assert!(shard_err(crafted(&|m| set_u64(m, e + 16, 1))), "length of section {field}");
        for raw in [0, 1, u64_at(&b, e + 24) - 1, u64_at(&b, e + 24) + 1, 1 << 29, u64::MAX] {
            assert!(shard_err(crafted(&|m| set_u64(m, e + 24, raw))), "raw length {raw} of section {field}");
        }
    }
}

#[test]
fn decompression_bombs_are_errors_with_bounded_memory() {
    let b = sample();
    let raw = raw_sections(&b);
    let mut stored: Vec<Vec<u8>> = raw.iter().map(|r| zstd::encode_all(&r[..], 3).unwrap()).collect();
    let mut lens: Vec<u64> = raw.iter().map(|r| r.len() as u64).collect();

    // 64 MiB of zeros in a few KiB, as the products section.
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 1).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    stored[4] = enc.finish().unwrap();
    // Honest about its size: more than 150 products may take, refused before decompressing.
    lens[4] = 64 << 20;
    assert!(matches!(read(&with_sections(&b, &stored, &lens), "an honest bomb"), Err(Error::Shard(_))));
    // Lying about its size: decompression stops one byte past the claim.
    lens[4] = raw[4].len() as u64;
    assert!(matches!(read(&with_sections(&b, &stored, &lens), "a lying bomb"), Err(Error::Shard(_))));

    // A frame that asks for a 128 MiB window.
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 1).unwrap();
    enc.window_log(27).unwrap();
    enc.write_all(&raw[4]).unwrap();
    stored[4] = enc.finish().unwrap();
    assert!(matches!(read(&with_sections(&b, &stored, &lens), "a wide window"), Err(Error::Shard(_))));

    // Not zstd at all, and two frames where one is expected.
    stored[4] = raw[4].clone();
    assert!(read(&with_sections(&b, &stored, &lens), "raw bytes").is_err());
    let half = raw[4].len() / 2;
    stored[4] = [zstd::encode_all(&raw[4][..half], 3).unwrap(), zstd::encode_all(&raw[4][half..], 3).unwrap()].concat();
    assert!(read(&with_sections(&b, &stored, &lens), "two frames").is_err());
}

/// A format 3 file (PCA as projection kind 1, no residual weight) opens as weight 0 and scores as the same
/// vectors with the term off; a weight outside `[0, 1]` in a format 4 file is an error.
#[test]
fn format_3_projections_open_and_bad_residual_weights_are_errors() {
    let b = sample();
    let raw = raw_sections(&b);
    let weighted = read(&b, "the sample").unwrap();
    assert!(weighted.index.residual_weight() > 0.0, "the sample fits a weight: this test needs one");

    let mut old = raw.clone();
    let kind_1_len = old[0].len() - 4;
    old[0].truncate(kind_1_len);
    old[0][..4].copy_from_slice(&1u32.to_le_bytes());
    let mut v3 = recompressed(&b, &old);
    set_u32(&mut v3, 8, 3);
    reseal(&mut v3);
    let shard = read(&v3, "a format 3 file").unwrap();
    assert_eq!(shard.index.residual_weight(), 0.0);
    let mut off = weighted.index.clone();
    off.set_residual_weight(0.0);
    let q: Vec<f32> = (0..24).map(|i| (i % 5) as f32 - 2.0).collect();
    assert_eq!(shard.index.search(&q, 10, 64, &|_| true).unwrap(), off.search(&q, 10, 64, &|_| true).unwrap());

    for bad in [f32::NAN, f32::INFINITY, -0.5, 1.5] {
        let mut r = raw.clone();
        let at = r[0].len() - 4;
        r[0][at..].copy_from_slice(&bad.to_le_bytes());
        assert!(matches!(read(&recompressed(&b, &r), "a bad weight"), Err(Error::Shard(_))), "weight {bad}");
    }
}

/// Writes the sample shard as the fuzzer's seed (`fuzz/corpus/shard_reader/pca.shard`): PCA, int8, a residual
/// weight, which the bundled sample shard (identity) does not reach.
#[test]
#[ignore = "writes a file; run by hand before fuzzing"]
fn write_fuzz_seed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/shard_reader");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pca.shard"), sample()).unwrap();
}

/// Inputs the fuzzer found (`fuzz/run.sh`), resealed so they pass the checksums a normal build checks.
/// `fst-dictionary-panic.bin` makes the `fst` crate panic while the reader walks its text dictionary: the reader
/// must catch that and return an error.
#[test]
fn fuzzer_findings_never_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        reseal(&mut bytes);
        let result = read(&bytes, &path.display().to_string());
        if path.ends_with("fst-dictionary-panic.bin") {
            let Err(err) = result else { panic!("a damaged dictionary must be an error") };
            assert!(err.to_string().contains("text index"), "{err}");
        }
        seen.push(path);
    }
    assert!(seen.iter().any(|p| p.ends_with("fst-dictionary-panic.bin")), "{seen:?}");
}
