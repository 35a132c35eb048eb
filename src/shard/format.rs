//! The shard file layout (docs/shard-format.md): magic, version, header, section table, checksum, sections.
//!
//! This file only turns the fixed parts into values and back; every count, length and offset is checked here, before
//! the reader allocates or slices anything by it.

use sha2::{Digest, Sha256};

use super::ShardHeader;
use crate::error::{Error, Result};
use crate::index::{IndexDims, MAX_DIM, MAX_PRODUCTS, MAX_VECTORS};
use crate::wire::{put_string, put_u32, put_u64, ByteReader};

/// First bytes of every shard: a non-ASCII byte, a name, and CR LF / ^Z / LF to catch text-mode mangling.
pub const MAGIC: [u8; 8] = *b"\x89SLS\r\n\x1a\n";
/// The format version this build writes; it reads [`OLDEST_READ_VERSION`] to this one.
pub const FORMAT_VERSION: u32 = 4;
/// The oldest format version this build reads. Version 3 only widened what version 2 allowed (int8 codes of any
/// span up to 127, so larger per-vector scales); version 4 added PCA's residual weight (a new projection kind, which
/// older files read as a weight of 0). Each new number makes a file an older reader would misread a clear version
/// error for it instead of "damaged".
pub const OLDEST_READ_VERSION: u32 = 2;
/// Most bytes all sections may decompress to together: bounds what any file can make the reader allocate.
pub const MAX_RAW_TOTAL: u64 = 1 << 30;
/// Largest shard file [`super::Shard::open`] reads.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Longest string field in the header, in bytes.
pub const MAX_STRING: usize = 1024;
/// Largest zstd window a section may use (`2^24` = 16 MiB): bounds the decoder's memory; level 19 uses `2^23`.
pub(crate) const WINDOW_LOG_MAX: u32 = 24;

/// magic, version, header length, section count.
pub(crate) const PRELUDE_LEN: usize = 8 + 4 + 4 + 4;
/// kind, codec, offset, stored length, raw length, SHA-256.
pub(crate) const ENTRY_LEN: usize = 4 + 4 + 8 + 8 + 8 + 32;
const MAX_HEADER_LEN: usize = 4 * 4 + 8 + 4 * (4 + MAX_STRING);
/// Sections are zstd frames; the only codec so far.
pub(crate) const CODEC_ZSTD: u32 = 1;

/// The sections of a shard, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SectionKind {
    Projection = 1,
    Vectors = 2,
    Map = 3,
    Graph = 4,
    Products = 5,
    Text = 6,
}

impl SectionKind {
    pub(crate) const ALL: [SectionKind; 6] = [
        SectionKind::Projection,
        SectionKind::Vectors,
        SectionKind::Map,
        SectionKind::Graph,
        SectionKind::Products,
        SectionKind::Text,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            SectionKind::Projection => "projection",
            SectionKind::Vectors => "vectors",
            SectionKind::Map => "vector map",
            SectionKind::Graph => "graph",
            SectionKind::Products => "products",
            SectionKind::Text => "text",
        }
    }
}

/// One row of the section table.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub(crate) kind: SectionKind,
    pub(crate) offset: u64,
    pub(crate) stored_len: u64,
    pub(crate) raw_len: u64,
    pub(crate) sha256: [u8; 32],
}

/// A parsed prelude, header and table whose checksum matched and whose sections tile the rest of the file.
pub(crate) struct Layout {
    pub(crate) header: ShardHeader,
    pub(crate) entries: Vec<Entry>,
}

/// Header bytes (between the prelude and the table).
pub(crate) fn encode_header(h: &ShardHeader) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [h.product_count, h.vector_count, h.model_dim, h.stored_dim] {
        put_u32(&mut out, v);
    }
    put_u64(&mut out, h.created_at);
    for s in [&h.shard_id, &h.model_id, &h.model_sha256, &h.catalog_version] {
        put_string(&mut out, s);
    }
    out
}

/// Everything before the section data: prelude, header, table and the SHA-256 over them.
pub(crate) fn encode_front(header: &[u8], entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(front_len(header.len(), entries.len()));
    out.extend_from_slice(&MAGIC);
    put_u32(&mut out, FORMAT_VERSION);
    put_u32(&mut out, header.len() as u32);
    put_u32(&mut out, entries.len() as u32);
    out.extend_from_slice(header);
    for e in entries {
        put_u32(&mut out, e.kind as u32);
        put_u32(&mut out, CODEC_ZSTD);
        put_u64(&mut out, e.offset);
        put_u64(&mut out, e.stored_len);
        put_u64(&mut out, e.raw_len);
        out.extend_from_slice(&e.sha256);
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Length of everything before the section data.
pub(crate) fn front_len(header_len: usize, sections: usize) -> usize {
    PRELUDE_LEN + header_len + sections * ENTRY_LEN + 32
}

/// Checks the header's values: what any header must satisfy to be read (and to be written).
pub(crate) fn check_header(h: &ShardHeader) -> Result<()> {
    let fail = |msg: String| Err(Error::shard(format!("header: {msg}")));
    if h.vector_count as usize > MAX_VECTORS || h.product_count as usize > MAX_PRODUCTS {
        return fail(format!("{} vectors and {} products exceed the limits", h.vector_count, h.product_count));
    }
    if h.model_dim == 0 || h.model_dim as usize > MAX_DIM || h.stored_dim == 0 || h.stored_dim > h.model_dim {
        return fail(format!("dims {} -> {} are not valid", h.model_dim, h.stored_dim));
    }
    for (name, s) in [("shard id", &h.shard_id), ("model id", &h.model_id), ("catalog version", &h.catalog_version)] {
        if s.len() > MAX_STRING {
            return fail(format!("{name} is longer than {MAX_STRING} bytes"));
        }
    }
    if h.model_id.is_empty() {
        return fail("model id is empty".into());
    }
    if h.model_sha256.len() != 64 || !h.model_sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return fail(format!("model sha256 {:?} is not 64 lowercase hex digits", h.model_sha256));
    }
    Ok(())
}

/// The index dims a header implies.
pub(crate) fn index_dims(h: &ShardHeader) -> IndexDims {
    IndexDims {
        model_dim: h.model_dim as usize,
        stored_dim: h.stored_dim as usize,
        vector_count: h.vector_count as usize,
        product_count: h.product_count as usize,
    }
}

/// Largest raw length of each section (in [`SectionKind::ALL`] order) a header allows.
pub(crate) fn max_raw_lens(h: &ShardHeader) -> Result<[u64; 6]> {
    let overflow = || Error::shard("header: section sizes overflow");
    let m = index_dims(h).max_lens().ok_or_else(overflow)?;
    // Each string of a record costs at most its bytes plus a 5-byte length, and a record has fewer strings than bytes.
    let records =
        (h.product_count as usize).checked_mul(12 * crate::catalog::MAX_RECORD_BYTES + 64).ok_or_else(overflow)?;
    // The text index holds at most one posting (<= 6 bytes) per word of a record, plus dictionaries no larger.
    let text = records.checked_mul(3).ok_or_else(overflow)?;
    let lens = [m.projection, m.vectors, m.map, m.graph, records, text];
    Ok(lens.map(|l| (l as u64).min(MAX_RAW_TOTAL)))
}

/// Parses and checks everything before the section data of a `file_len`-byte file whose bytes are `bytes`.
pub(crate) fn parse(bytes: &[u8]) -> Result<Layout> {
    let mut r = ByteReader::new(bytes, "shard");
    if r.take(8).ok() != Some(&MAGIC[..]) {
        return Err(Error::shard("not a ShopLens shard (bad magic)"));
    }
    let version = r.u32()?;
    if !(OLDEST_READ_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(Error::ShardVersion { found: version, oldest: OLDEST_READ_VERSION, newest: FORMAT_VERSION });
    }
    let header_len = r.u32()? as usize;
    let sections = r.u32()? as usize;
    if header_len > MAX_HEADER_LEN || sections != SectionKind::ALL.len() {
        return Err(Error::shard(format!("header of {header_len} bytes with {sections} sections")));
    }
    let front = front_len(header_len, sections);
    if bytes.len() < front {
        return Err(Error::shard(format!("file of {} bytes is shorter than its {front}-byte header", bytes.len())));
    }
    let sum: [u8; 32] = Sha256::digest(&bytes[..front - 32]).into();
    if sum[..] != bytes[front - 32..front] && !cfg!(fuzzing) {
        return Err(Error::shard("header checksum mismatch (the file is damaged)"));
    }

    let mut hr = ByteReader::new(r.take(header_len)?, "header");
    let header = ShardHeader {
        format_version: version,
        product_count: hr.u32()?,
        vector_count: hr.u32()?,
        model_dim: hr.u32()?,
        stored_dim: hr.u32()?,
        created_at: hr.u64()?,
        shard_id: hr.string(MAX_STRING)?,
        model_id: hr.string(MAX_STRING)?,
        model_sha256: hr.string(MAX_STRING)?,
        catalog_version: hr.string(MAX_STRING)?,
    };
    hr.finish()?;
    check_header(&header)?;
    let max_raw = max_raw_lens(&header)?;

    let mut entries = Vec::with_capacity(sections);
    let mut next = front as u64;
    let mut raw_total = 0u64;
    for (kind, max_raw) in SectionKind::ALL.into_iter().zip(max_raw) {
        let (k, codec) = (r.u32()?, r.u32()?);
        let e = Entry { kind, offset: r.u64()?, stored_len: r.u64()?, raw_len: r.u64()?, sha256: r.sha256()? };
        let name = kind.name();
        if k != kind as u32 || codec != CODEC_ZSTD {
            return Err(Error::shard(format!(
                "section table: expected {name} (kind {}, zstd), found kind {k} codec {codec}",
                kind as u32
            )));
        }
        if e.offset != next {
            return Err(Error::shard(format!("section {name} starts at {}, expected {next}", e.offset)));
        }
        next = e.offset.checked_add(e.stored_len).filter(|&end| end <= bytes.len() as u64).ok_or_else(|| {
            Error::shard(format!(
                "section {name} ({} bytes at {}) runs past the end of the file",
                e.stored_len, e.offset
            ))
        })?;
        raw_total = raw_total.saturating_add(e.raw_len);
        if e.raw_len > max_raw || raw_total > MAX_RAW_TOTAL {
            return Err(Error::shard(format!("section {name} claims {} raw bytes, at most {max_raw}", e.raw_len)));
        }
        entries.push(e);
    }
    if next != bytes.len() as u64 {
        return Err(Error::shard(format!("{} bytes after the last section", bytes.len() as u64 - next)));
    }
    Ok(Layout { header, entries })
}
