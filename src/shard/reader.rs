//! Reading a shard: layout, checksums, bounded decompression, then the sections' own decoders.

use std::io::Read;
use std::time::Instant;

use rayon::prelude::*;

use sha2::{Digest, Sha256};

use super::format::{self, Entry, WINDOW_LOG_MAX};
use super::{SectionInfo, Shard};
use crate::catalog::decode_records;
use crate::error::{Error, Result};
use crate::index::{IndexSections, VectorIndex};
use crate::text::TextIndex;

/// Decodes a whole shard; any damage or inconsistency is an [`Error::Shard`] (or [`Error::ShardVersion`]).
pub(crate) fn read(bytes: &[u8]) -> Result<Shard> {
    let start = Instant::now();
    let format::Layout { header, entries } = format::parse(bytes)?;
    // Sections are independent: checksums, zstd and decoding run on all cores (open time is what users wait for).
    let raw: Vec<Vec<u8>> = entries.par_iter().map(|e| section(bytes, e)).collect::<Result<_>>()?;
    let unpacked = start.elapsed();
    let [projection, vectors, map, graph, products, text] = &raw[..] else {
        return Err(Error::shard("wrong number of sections"));
    };
    let count = header.product_count as usize;
    let sections = IndexSections { projection: &projection[..], vectors, map, graph };
    let (index, (products, text)) = rayon::join(
        || VectorIndex::decode(&sections, format::index_dims(&header)),
        || rayon::join(|| decode_records(products, count), || TextIndex::decode(text, count)),
    );
    let (index, products, text) = (index?, products?, text?);
    log::debug!(
        "shard {:?}: {} products, {} vectors decoded in {:?} (checksums and zstd {:?})",
        header.shard_id,
        header.product_count,
        header.vector_count,
        start.elapsed(),
        unpacked
    );
    let sections = entries
        .iter()
        .map(|e| SectionInfo { name: e.kind.name(), compressed_bytes: e.stored_len, raw_bytes: e.raw_len })
        .collect();
    Ok(Shard::assemble(header, index, products, text, sections))
}

/// A section's raw bytes: checksum first, then zstd with the window and the output both capped.
fn section(file: &[u8], e: &Entry) -> Result<Vec<u8>> {
    let name = e.kind.name();
    // `parse` checked that every section lies inside the file.
    let stored = usize::try_from(e.offset)
        .ok()
        .zip(usize::try_from(e.stored_len).ok())
        .and_then(|(start, len)| file.get(start..start.checked_add(len)?))
        .ok_or_else(|| Error::shard(format!("section {name} is outside the file")))?;
    if Sha256::digest(stored)[..] != e.sha256 && !cfg!(fuzzing) {
        return Err(Error::shard(format!("section {name}: checksum mismatch (the file is damaged)")));
    }
    let fail = |msg: String| Error::shard(format!("section {name}: {msg}"));
    let mut decoder = zstd::stream::read::Decoder::with_buffer(stored).map_err(|e| fail(e.to_string()))?;
    decoder.window_log_max(WINDOW_LOG_MAX).map_err(|e| fail(e.to_string()))?;
    // Grow with what actually comes out rather than trusting the claimed length up front.
    let raw_len = usize::try_from(e.raw_len).map_err(|_| fail("too large".into()))?;
    let mut raw = Vec::with_capacity(raw_len.min(stored.len().saturating_mul(8)));
    decoder.single_frame().take(e.raw_len + 1).read_to_end(&mut raw).map_err(|e| fail(e.to_string()))?;
    if raw.len() != raw_len {
        let got = if raw.len() > raw_len { "more".to_string() } else { raw.len().to_string() };
        return Err(fail(format!("decompresses to {got} bytes, the table says {raw_len}")));
    }
    Ok(raw)
}
