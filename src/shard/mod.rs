//! Catalog shards: one downloadable file with a catalog's products and their vector index.
//!
//! The layout is in docs/shard-format.md. Reading trusts nothing: a damaged, truncated or crafted file gives an
//! [`Error::Shard`] (or [`Error::ShardVersion`]), never a panic, and never makes the reader allocate more than the
//! header's counts imply, nor more than [`format::MAX_RAW_TOTAL`] in all.

pub mod format;
mod reader;
mod writer;

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use crate::catalog::Product;
use crate::category::CategoryTable;
use crate::error::{Error, Result};
use crate::index::VectorIndex;
use crate::text::TextIndex;

pub use writer::{encode_shard, write_shard};

/// What a shard says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardHeader {
    /// File format version: [`format::OLDEST_READ_VERSION`] to [`format::FORMAT_VERSION`] (what this build writes).
    pub format_version: u32,
    /// Names the shard (e.g. a shop and a region).
    pub shard_id: String,
    /// Number of product records.
    pub product_count: u32,
    /// Number of stored vectors (product views).
    pub vector_count: u32,
    /// The model's embedding dimension: queries must have it.
    pub model_dim: u32,
    /// The dimension vectors are stored in (after PCA).
    pub stored_dim: u32,
    /// The model whose vector space the shard is in.
    pub model_id: String,
    /// SHA-256 of that model file, lowercase hex.
    pub model_sha256: String,
    /// The catalog's own version label.
    pub catalog_version: String,
    /// Build time, Unix seconds, as the builder gave it (so rebuilds are byte-identical).
    pub created_at: u64,
}

/// What the builder supplies for a new shard; counts and dims come from the products and the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardMeta {
    /// See [`ShardHeader::shard_id`].
    pub shard_id: String,
    /// See [`ShardHeader::model_id`].
    pub model_id: String,
    /// See [`ShardHeader::model_sha256`]; 64 hex digits.
    pub model_sha256: String,
    /// See [`ShardHeader::catalog_version`].
    pub catalog_version: String,
    /// See [`ShardHeader::created_at`].
    pub created_at: u64,
}

/// One section of a shard file, for `inspect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionInfo {
    /// `projection`, `vectors`, `vector map`, `graph`, `products` or `text`.
    pub name: &'static str,
    /// Bytes in the file (zstd).
    pub compressed_bytes: u64,
    /// Bytes after decompression.
    pub raw_bytes: u64,
}

/// A loaded shard: searchable index plus product records.
#[derive(Clone, Debug)]
pub struct Shard {
    /// What the shard says about itself.
    pub header: ShardHeader,
    /// The vectors; hits' `product` index [`Shard::products`].
    pub index: VectorIndex,
    /// Product records.
    pub products: Vec<Product>,
    /// Keyword and id dictionaries over the products.
    pub text: TextIndex,
    sections: Vec<SectionInfo>,
    categories: OnceLock<CategoryTable>,
}

impl Shard {
    pub(crate) fn assemble(
        header: ShardHeader,
        index: VectorIndex,
        products: Vec<Product>,
        text: TextIndex,
        sections: Vec<SectionInfo>,
    ) -> Self {
        Shard { header, index, products, text, sections, categories: OnceLock::new() }
    }

    /// The index of the product with this id.
    pub fn find(&self, id: &str) -> Option<u32> {
        self.text.find(id).filter(|&p| self.products.get(p as usize).is_some_and(|p| p.id == id))
    }

    /// The shard's categories, tabulated on first use (tens of milliseconds at 100k products).
    pub fn categories(&self) -> &CategoryTable {
        self.categories.get_or_init(|| CategoryTable::build(&self.products))
    }

    /// Reads a shard file (at most [`format::MAX_FILE_BYTES`]).
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut bytes = Vec::new();
        file.take(format::MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
        if bytes.len() as u64 > format::MAX_FILE_BYTES {
            return Err(Error::shard(format!("{} is larger than {} bytes", path.display(), format::MAX_FILE_BYTES)));
        }
        Self::from_bytes(&bytes)
    }

    /// Decodes a shard from memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        reader::read(bytes)
    }

    /// Fails with [`Error::ModelMismatch`] unless the shard was built with this model: vectors from another model
    /// live in another space, and searching them gives confident nonsense.
    pub fn check_model(&self, model_id: &str, model_sha256: &str) -> Result<()> {
        let h = &self.header;
        if h.model_id == model_id && h.model_sha256.eq_ignore_ascii_case(model_sha256) {
            return Ok(());
        }
        Err(Error::ModelMismatch(format!(
            "shard {:?} was built with model {:?} (sha256 {}), but the loaded model is {model_id:?} (sha256 {model_sha256}); \
             rebuild the shard with this model or load that one",
            h.shard_id, h.model_id, h.model_sha256
        )))
    }

    /// The file's sections: name, compressed and raw sizes.
    pub fn sections(&self) -> &[SectionInfo] {
        &self.sections
    }

    /// The shard's decompressed size: what opening it costs in memory, near enough to budget with (the decoded
    /// structures are within a small factor of the raw sections they come from).
    pub fn memory_bytes(&self) -> u64 {
        self.sections.iter().map(|s| s.raw_bytes).sum()
    }
}

#[cfg(test)]
mod tests;
