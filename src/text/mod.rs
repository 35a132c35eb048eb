//! The keyword index of a shard: a term dictionary (`fst`) over folded words of titles, brands, category names and
//! attribute values, posting lists with per-field weights, and an id dictionary for products by id.
//!
//! It is built with the shard and stored in it (section `text`): opening then costs a checksum, zstd and a bounded
//! walk of the dictionaries, where building at open time would tokenize and sort the whole catalog on the phone
//! (docs/shard-format.md has the figures).

mod fold;
mod query;

use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};

use fst::{Automaton, IntoStreamer, Map, MapBuilder, Streamer};

use crate::catalog::Product;
use crate::error::{Error, Result};
use crate::wire::{put_u32, put_varint, ByteReader};

pub(crate) use fold::terms;
pub use query::{TextHit, TextQuery};

/// Weights per field, in half occurrences: a title word counts four times a category or attribute word, so it wins
/// over a brand or attribute word even in a longer record.
const TITLE: u32 = 8;
const BRAND: u32 = 3;
const CATEGORY: u32 = 2;
const ATTRIBUTE: u32 = 2;

use crate::catalog::MAX_ID_BYTES;

/// Keyword index over one shard's products.
#[derive(Clone)]
pub struct TextIndex {
    ids: Map<Vec<u8>>,
    terms: Map<Vec<u8>>,
    postings: Vec<u8>,
    /// Weighted word count per product, in half occurrences.
    doc_len: Vec<u16>,
    avg_len: f32,
}

impl std::fmt::Debug for TextIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextIndex")
            .field("products", &self.doc_len.len())
            .field("terms", &self.terms.len())
            .field("postings_bytes", &self.postings.len())
            .finish()
    }
}

fn fst_error(e: fst::Error) -> Error {
    Error::Catalog(format!("text index: {e}"))
}

impl TextIndex {
    /// Indexes `products` (whose ids must be unique).
    pub fn build(products: &[Product]) -> Result<Self> {
        let mut lists: BTreeMap<String, Vec<(u32, u8)>> = BTreeMap::new();
        let mut doc_len = Vec::with_capacity(products.len());
        for (i, p) in products.iter().enumerate() {
            let mut weights: HashMap<String, u32> = HashMap::new();
            let mut add =
                |text: &str, w: u32| terms(text).into_iter().for_each(|t| *weights.entry(t).or_default() += w);
            add(&p.title, TITLE);
            p.brand.iter().for_each(|b| add(b, BRAND));
            p.category.split('/').for_each(|c| add(c, CATEGORY));
            p.attributes.values().for_each(|v| add(v, ATTRIBUTE));
            doc_len.push(weights.values().sum::<u32>().min(u16::MAX.into()) as u16);
            for (t, w) in weights {
                lists.entry(t).or_default().push((i as u32, w.min(255) as u8));
            }
        }
        let mut postings = Vec::new();
        let mut dict = MapBuilder::memory();
        for (term, list) in &lists {
            dict.insert(term, postings.len() as u64).map_err(fst_error)?;
            put_varint(&mut postings, list.len() as u32);
            let mut prev = 0;
            for &(p, w) in list {
                put_varint(&mut postings, p - prev);
                postings.push(w);
                prev = p;
            }
        }
        let mut ids: Vec<(&str, u32)> = products.iter().enumerate().map(|(i, p)| (p.id.as_str(), i as u32)).collect();
        ids.sort_unstable();
        let mut id_dict = MapBuilder::memory();
        for (id, i) in ids {
            id_dict.insert(id, i.into()).map_err(fst_error)?;
        }
        let ids = Map::new(id_dict.into_inner().map_err(fst_error)?).map_err(fst_error)?;
        let terms = Map::new(dict.into_inner().map_err(fst_error)?).map_err(fst_error)?;
        Ok(Self::assemble(ids, terms, postings, doc_len))
    }

    fn assemble(ids: Map<Vec<u8>>, terms: Map<Vec<u8>>, postings: Vec<u8>, doc_len: Vec<u16>) -> Self {
        let total: u64 = doc_len.iter().map(|&l| u64::from(l)).sum();
        let avg_len = (total as f32 / doc_len.len().max(1) as f32).max(1.0);
        TextIndex { ids, terms, postings, doc_len, avg_len }
    }

    /// The section bytes: product count, id dictionary, term dictionary, postings, word counts.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_u32(&mut out, self.doc_len.len() as u32);
        for part in [self.ids.as_fst().as_bytes(), self.terms.as_fst().as_bytes(), &self.postings] {
            put_u32(&mut out, part.len() as u32);
            out.extend_from_slice(part);
        }
        self.doc_len.iter().for_each(|l| out.extend_from_slice(&l.to_le_bytes()));
        out
    }

    /// Reads the section of a shard of `count` products. Both dictionaries are walked once here, with their depth
    /// and total steps bounded, so a crafted file cannot make a later lookup loop, read out of bounds or panic.
    pub fn decode(bytes: &[u8], count: usize) -> Result<Self> {
        let mut r = ByteReader::new(bytes, "text index");
        let n = r.u32()? as usize;
        if n != count {
            return Err(r.error(format!("{n} products, the header says {count}")));
        }
        let mut part = || -> Result<&[u8]> {
            let len = r.u32()? as usize;
            r.take(len)
        };
        let (ids, terms, postings) = (part()?.to_vec(), part()?.to_vec(), part()?.to_vec());
        let doc_len: Vec<u16> = r
            .take(count.checked_mul(2).ok_or_else(|| Error::shard("text index: too many products"))?)?
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        r.finish()?;
        let damaged = |what: &str, e: fst::Error| Error::shard(format!("text index: {what} dictionary: {e}"));
        let ids = Map::new(ids).map_err(|e| damaged("id", e))?;
        let terms = Map::new(terms).map_err(|e| damaged("term", e))?;
        walk(&ids, "id", count, MAX_ID_BYTES, count as u64)?;
        walk(&terms, "term", postings.len(), fold::MAX_TERM_BYTES, postings.len() as u64)?;
        Ok(Self::assemble(ids, terms, postings, doc_len))
    }

    /// The product with this id, as the dictionary says; callers compare the record's id (a damaged file could lie).
    pub fn find(&self, id: &str) -> Option<u32> {
        // The dictionary was walked at open only to the longest valid id: a longer lookup could reach unchecked nodes.
        if id.len() > MAX_ID_BYTES {
            return None;
        }
        self.ids.get(id).and_then(|v| u32::try_from(v).ok()).filter(|&v| (v as usize) < self.doc_len.len())
    }

    /// Number of distinct terms.
    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    /// The best `k` products for `query` that `keep` accepts; see [`TextQuery`] for the matching rules.
    pub fn search(&self, query: &TextQuery, k: usize, keep: &dyn Fn(u32) -> bool) -> Result<Vec<TextHit>> {
        query::run(self, query, k, keep)
    }
}

/// Depth-first walk of every key up to `max_key` bytes: counts keys (at most `max_keys`), checks values
/// (`< max_value`), and gives up after a number of steps a valid dictionary of that many keys never needs.
fn walk(map: &Map<Vec<u8>>, what: &str, max_keys: usize, max_key: usize, max_value: u64) -> Result<()> {
    let fail = |msg: String| Error::shard(format!("text index: {what} dictionary: {msg}"));
    let budget = Budget { depth: max_key, steps: std::cell::Cell::new((max_keys + 1).saturating_mul(max_key + 1)) };
    let walked = catch_unwind(AssertUnwindSafe(|| {
        let mut stream = map.search(&budget).into_stream();
        let mut keys = 0usize;
        while let Some((key, value)) = stream.next() {
            keys += 1;
            if keys > max_keys || value >= max_value {
                return Err(fail(format!("key {keys} ({} bytes) maps to {value}", key.len())));
            }
        }
        if budget.steps.get() == 0 {
            return Err(fail("too many paths".into()));
        }
        Ok(())
    }));
    walked.unwrap_or_else(|_| Err(fail("damaged structure".into())))
}

/// An automaton that accepts every key but stops descending below `depth` bytes or after `steps` transitions.
/// Queries intersect theirs with one (depth only): the dictionaries were walked to that depth at open.
pub(crate) struct Budget {
    depth: usize,
    steps: std::cell::Cell<usize>,
}

impl Budget {
    /// No step limit: for queries on a dictionary already walked at open.
    pub(crate) fn depth_only(depth: usize) -> Self {
        Budget { depth, steps: std::cell::Cell::new(usize::MAX) }
    }
}

impl Automaton for &Budget {
    type State = usize;

    fn start(&self) -> usize {
        0
    }

    fn is_match(&self, _: &usize) -> bool {
        true
    }

    fn can_match(&self, depth: &usize) -> bool {
        *depth <= self.depth && self.steps.get() > 0
    }

    fn accept(&self, depth: &usize, _: u8) -> usize {
        self.steps.set(self.steps.get().saturating_sub(1));
        depth + 1
    }
}

#[cfg(test)]
mod tests;
