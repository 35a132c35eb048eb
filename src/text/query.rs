//! Keyword queries: which dictionary terms each typed word reaches, and BM25-like ranking of the products.

use std::cmp::Ordering;

use fst::automaton::{Levenshtein, Str};
use fst::{Automaton, IntoStreamer, Streamer};

use super::fold::{self, MAX_TERM_BYTES};
use super::{Budget, TextIndex};
use crate::error::{Error, Result};
use crate::wire::ByteReader;

/// Most words of a query that count; the rest are ignored.
pub const MAX_QUERY_WORDS: usize = 16;
/// Most dictionary terms one prefix or one typo may expand to (the most frequent win): bounds the work per keystroke.
const MAX_EXPANSIONS: usize = 48;
/// Words this long (in characters) or longer may carry one typo.
const TYPO_MIN_CHARS: usize = 5;
/// BM25 parameters: the usual saturation; less length normalization than usual, since product records are short and
/// a long title is not a sign of a less relevant product.
const K1: f32 = 1.2;
const B: f32 = 0.6;

/// How a query word reached a term; better kinds rank first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
enum Kind {
    Typo = 1,
    Prefix = 2,
    Exact = 3,
}

/// A parsed keyword query.
///
/// Words are folded like the catalog (case, accents, compatibility forms). Every word must match a term of the
/// product exactly; the last word may also be the start of a term while the shopper is still typing (the query does
/// not end in a space); words of five or more characters also match terms one edit away. Products are ranked by how
/// many words they match, then by how well (exact over prefix over typo), then by a BM25 score in which title words
/// weigh most. When no product matches every word, those that match the most words are returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextQuery {
    words: Vec<String>,
    last_is_prefix: bool,
}

impl TextQuery {
    /// Parses what the shopper typed.
    pub fn parse(text: &str) -> Self {
        let mut words: Vec<String> = Vec::new();
        for w in fold::terms(text) {
            if !words.contains(&w) && words.len() < MAX_QUERY_WORDS {
                words.push(w);
            }
        }
        let last_is_prefix = text.chars().last().is_some_and(char::is_alphanumeric);
        TextQuery { words, last_is_prefix }
    }

    /// The folded words.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Whether nothing searchable was typed.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// One product found by keywords, with its ranking key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TextHit {
    /// Index into the shard's products.
    pub product: u32,
    /// Query words matched.
    pub words: u32,
    /// Sum of match kinds over the matched words (exact 3, prefix 2, typo 1).
    pub quality: u32,
    /// BM25 score.
    pub score: f32,
}

impl TextHit {
    /// Best first: more words, better kinds, higher score.
    pub fn rank_cmp(&self, other: &TextHit) -> Ordering {
        (other.words, other.quality).cmp(&(self.words, self.quality)).then(other.score.total_cmp(&self.score))
    }
}

/// Per-query scratch, one slot per product.
struct Scratch {
    mask: Vec<u32>,
    quality: Vec<u32>,
    score: Vec<f32>,
    touched: Vec<u32>,
    word_kind: Vec<u8>,
    word_score: Vec<f32>,
    word_touched: Vec<u32>,
}

pub(super) fn run(index: &TextIndex, query: &TextQuery, k: usize, keep: &dyn Fn(u32) -> bool) -> Result<Vec<TextHit>> {
    let n = index.doc_len.len();
    if query.is_empty() || n == 0 || k == 0 {
        return Ok(Vec::new());
    }
    let mut s = Scratch {
        mask: vec![0; n],
        quality: vec![0; n],
        score: vec![0.0; n],
        touched: Vec::new(),
        word_kind: vec![0; n],
        word_score: vec![0.0; n],
        word_touched: Vec::new(),
    };
    let last = query.words.len() - 1;
    for (w, word) in query.words.iter().enumerate() {
        for (offset, kind) in candidates(index, word, w == last && query.last_is_prefix)? {
            add_postings(index, offset, kind, &mut s)?;
        }
        for &p in &s.word_touched {
            let p = p as usize;
            if s.mask[p] == 0 {
                s.touched.push(p as u32);
            }
            s.mask[p] |= 1 << w;
            s.quality[p] += u32::from(s.word_kind[p]);
            s.score[p] += s.word_score[p];
            s.word_kind[p] = 0;
            s.word_score[p] = 0.0;
        }
        s.word_touched.clear();
    }
    let mut hits: Vec<TextHit> = s
        .touched
        .iter()
        .filter(|&&p| keep(p))
        .map(|&p| {
            let i = p as usize;
            TextHit { product: p, words: s.mask[i].count_ones(), quality: s.quality[i], score: s.score[i] }
        })
        .collect();
    // All words if any product has them all; otherwise the most any product has.
    let most = hits.iter().map(|h| h.words).max().unwrap_or(0);
    hits.retain(|h| h.words == most);
    let cmp = |a: &TextHit, b: &TextHit| a.rank_cmp(b).then(a.product.cmp(&b.product));
    if hits.len() > k {
        hits.select_nth_unstable_by(k - 1, cmp);
        hits.truncate(k);
    }
    hits.sort_unstable_by(cmp);
    Ok(hits)
}

/// The terms a query word reaches: (postings offset, kind), exact first, then the most frequent expansions.
fn candidates(index: &TextIndex, word: &str, prefix: bool) -> Result<Vec<(usize, Kind)>> {
    let mut out = Vec::new();
    if let Some(offset) = index.terms.get(word) {
        out.push((offset as usize, Kind::Exact));
    }
    let mut seen: Vec<Vec<u8>> = vec![word.as_bytes().to_vec()];
    let depth = &Budget::depth_only(MAX_TERM_BYTES);
    if prefix {
        let stream = index.terms.search(Str::new(word).starts_with().intersection(depth)).into_stream();
        out.extend(most_frequent(index, stream, &mut seen, Kind::Prefix)?);
    }
    if word.chars().count() >= TYPO_MIN_CHARS {
        // Construction fails only for automata too large to build; such a word then matches without typos.
        if let Ok(lev) = Levenshtein::new(word, 1) {
            let stream = index.terms.search(lev.intersection(depth)).into_stream();
            out.extend(most_frequent(index, stream, &mut seen, Kind::Typo)?);
        }
    }
    Ok(out)
}

fn most_frequent<S: for<'a> Streamer<'a, Item = (&'a [u8], u64)>>(
    index: &TextIndex,
    mut stream: S,
    seen: &mut Vec<Vec<u8>>,
    kind: Kind,
) -> Result<Vec<(usize, Kind)>> {
    let mut found = Vec::new();
    while let Some((term, offset)) = stream.next() {
        if !seen.iter().any(|s| s == term) {
            found.push((term.to_vec(), offset as usize));
        }
    }
    let mut with_df = found
        .into_iter()
        .map(|(term, offset)| Ok((document_frequency(index, offset)?, term, offset)))
        .collect::<Result<Vec<_>>>()?;
    with_df.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    with_df.truncate(MAX_EXPANSIONS);
    Ok(with_df
        .into_iter()
        .map(|(_, term, offset)| {
            seen.push(term);
            (offset, kind)
        })
        .collect())
}

fn postings_at(index: &TextIndex, offset: usize) -> Result<ByteReader<'_>> {
    let bytes = index.postings.get(offset..).ok_or_else(|| Error::shard("text index: postings offset past the end"))?;
    Ok(ByteReader::new(bytes, "text postings"))
}

fn document_frequency(index: &TextIndex, offset: usize) -> Result<u32> {
    postings_at(index, offset)?.varint()
}

/// Scores one term's postings into the current word's slots, keeping each product's best kind and score.
fn add_postings(index: &TextIndex, offset: usize, kind: Kind, s: &mut Scratch) -> Result<()> {
    let n = index.doc_len.len();
    let mut r = postings_at(index, offset)?;
    let df = r.varint()? as usize;
    if df > n {
        return Err(r.error(format!("a term in {df} of {n} products")));
    }
    let idf = (1.0 + (n as f32 - df as f32 + 0.5) / (df as f32 + 0.5)).ln();
    let mut p = 0usize;
    for i in 0..df {
        let gap = r.varint()? as usize;
        p = if i == 0 { gap } else { p.checked_add(gap).filter(|_| gap > 0).unwrap_or(usize::MAX) };
        if p >= n {
            return Err(r.error("posting list out of order or past the last product"));
        }
        let tf = f32::from(r.u8()?) / 2.0;
        let len = f32::from(index.doc_len[p]).max(1.0) / index.avg_len;
        let score = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len));
        let (old_kind, old_score) = (s.word_kind[p], s.word_score[p]);
        if old_kind == 0 {
            s.word_touched.push(p as u32);
        }
        if (kind as u8, score) > (old_kind, old_score) {
            s.word_kind[p] = kind as u8;
            s.word_score[p] = score;
        }
    }
    Ok(())
}
