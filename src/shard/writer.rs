//! Writing a shard: the sections compressed, the table and checksums, in one deterministic byte string.

use std::io::Write;

use sha2::{Digest, Sha256};

use super::format::{self, Entry, SectionKind, FORMAT_VERSION, MAX_RAW_TOTAL};
use super::{ShardHeader, ShardMeta};
use crate::catalog::{encode_records, Product};
use crate::error::{Error, Result};
use crate::index::VectorIndex;
use crate::text::TextIndex;

/// zstd level for every section: shards are built once and downloaded often, so compression may be slow.
const LEVEL: i32 = 19;

/// Writes a shard of `products` and `index` to `out`; returns its header. Fails on anything a reader would refuse
/// (every product index of the index must be `< products.len()`). The same inputs always give the same bytes.
pub fn write_shard(
    meta: &ShardMeta,
    products: &[Product],
    index: &VectorIndex,
    out: &mut impl Write,
) -> Result<ShardHeader> {
    let (header, bytes) = encode_shard(meta, products, index)?;
    out.write_all(&bytes).and_then(|()| out.flush()).map_err(Error::ShardWrite)?;
    Ok(header)
}

/// The shard [`write_shard`] writes, as bytes, with its header.
pub fn encode_shard(meta: &ShardMeta, products: &[Product], index: &VectorIndex) -> Result<(ShardHeader, Vec<u8>)> {
    let count = |n: usize, what: &str| u32::try_from(n).map_err(|_| Error::Catalog(format!("{n} {what} is too many")));
    let header = ShardHeader {
        format_version: FORMAT_VERSION,
        shard_id: meta.shard_id.clone(),
        product_count: count(products.len(), "products")?,
        vector_count: count(index.len(), "vectors")?,
        model_dim: count(index.dim(), "dimensions")?,
        stored_dim: count(index.stored_dim(), "dimensions")?,
        model_id: meta.model_id.clone(),
        model_sha256: meta.model_sha256.to_ascii_lowercase(),
        catalog_version: meta.catalog_version.clone(),
        created_at: meta.created_at,
    };
    format::check_header(&header).map_err(|e| Error::Catalog(e.to_string()))?;
    if let Some(p) = index.max_product().filter(|&p| p as usize >= products.len()) {
        return Err(Error::Catalog(format!("the index refers to product {p}, there are {} products", products.len())));
    }
    let s = index.encode();
    let text = TextIndex::build(products)?.encode();
    let raw = [s.projection, s.vectors, s.map, s.graph, encode_records(products)?, text];

    let max_raw = format::max_raw_lens(&header)?;
    let header_bytes = format::encode_header(&header);
    let mut offset = format::front_len(header_bytes.len(), raw.len()) as u64;
    let mut entries = Vec::with_capacity(raw.len());
    let mut stored = Vec::with_capacity(raw.len());
    let mut raw_total = 0u64;
    for ((kind, raw), max) in SectionKind::ALL.into_iter().zip(&raw).zip(max_raw) {
        raw_total += raw.len() as u64;
        if raw.len() as u64 > max || raw_total > MAX_RAW_TOTAL {
            return Err(Error::Catalog(format!(
                "section {} of {} bytes is too large for a shard",
                kind.name(),
                raw.len()
            )));
        }
        let bytes = zstd::bulk::compress(raw, LEVEL).map_err(Error::ShardWrite)?;
        let e = Entry {
            kind,
            offset,
            stored_len: bytes.len() as u64,
            raw_len: raw.len() as u64,
            sha256: Sha256::digest(&bytes).into(),
        };
        offset += e.stored_len;
        entries.push(e);
        stored.push(bytes);
    }
    let mut file = format::encode_front(&header_bytes, &entries);
    stored.iter().for_each(|s| file.extend_from_slice(s));
    Ok((header, file))
}
