//! Offline browsing over the open shards: a product by id, the category tree, category pages, keyword search and
//! similar products, merged across shards.
//!
//! When several shards hold the same product id, the one with the newest catalog version owns it (catalog versions
//! compare with numbers as numbers, then build times; on a tie the shard added last wins): the others' copies are
//! hidden from every call, visual search included.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::catalog::Product;
use crate::category::{self, SortOrder};
use crate::error::{Error, Result};
use crate::index::best_per_product;
use crate::search::{Match, SearchOptions, MAX_TOP_K};
use crate::shard::{Shard, ShardHeader};
use crate::text::{TextHit, TextQuery};

/// Default products per category page.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Most products one page may hold.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// One node of the category tree, with the products at it and below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategoryCount {
    /// The full path, like `Home/Kitchen/Mugs`.
    pub path: String,
    /// The last segment, like `Mugs`.
    pub name: String,
    /// 0 for top-level categories.
    pub depth: u32,
    /// Products in this category and every category below it.
    pub count: u32,
}

/// Which page of a category, in which order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u32,
    /// Products per page, 1 to [`MAX_PAGE_SIZE`].
    pub page_size: u32,
    /// Order of the listing.
    pub sort: SortOrder,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest { page: 1, page_size: DEFAULT_PAGE_SIZE, sort: SortOrder::Relevance }
    }
}

/// One page of a category listing.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductPage {
    /// The products on this page (fewer than `page_size` on the last page, none past it).
    pub products: Vec<Product>,
    /// The page number asked for.
    pub page: u32,
    /// The page size asked for.
    pub page_size: u32,
    /// Products in the category, on all pages.
    pub total: u32,
}

/// The open shards, newest catalog first: the merge rules of every multi-shard call.
pub(crate) struct ShardSet {
    shards: Vec<Arc<Shard>>,
}

/// Compares catalog versions with digit runs as numbers (`v10` > `v9`), then build times.
fn newer(a: &ShardHeader, b: &ShardHeader) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out: Vec<(bool, &str)> = Vec::new();
        let mut start = 0;
        for (i, c) in s.char_indices().skip(1) {
            let prev = s[..i].chars().next_back().is_some_and(|p| p.is_ascii_digit());
            if c.is_ascii_digit() != prev {
                out.push((prev, &s[start..i]));
                start = i;
            }
        }
        if start < s.len() {
            out.push((s[start..].starts_with(|c: char| c.is_ascii_digit()), &s[start..]));
        }
        out
    }
    let cmp_chunk = |x: &(bool, &str), y: &(bool, &str)| match (x, y) {
        ((true, x), (true, y)) => {
            let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
            x.len().cmp(&y.len()).then(x.cmp(y))
        }
        ((_, x), (_, y)) => x.cmp(y),
    };
    let (ca, cb) = (chunks(&a.catalog_version), chunks(&b.catalog_version));
    let by_version = ca.iter().zip(&cb).map(|(x, y)| cmp_chunk(x, y)).find(|o| o.is_ne());
    by_version.unwrap_or(ca.len().cmp(&cb.len())).then(a.created_at.cmp(&b.created_at))
}

impl ShardSet {
    /// Orders `shards` (in the order they were added) newest first.
    pub(crate) fn new(mut shards: Vec<Arc<Shard>>) -> Self {
        shards.reverse();
        shards.sort_by(|a, b| newer(&b.header, &a.header));
        ShardSet { shards }
    }

    /// Whether product `p` of shard `s` is the one shown for its id (no newer shard has the id).
    fn visible(&self, s: usize, p: u32) -> bool {
        s == 0
            || self.shards[s]
                .products
                .get(p as usize)
                .is_some_and(|prod| self.shards[..s].iter().all(|newer| newer.find(&prod.id).is_none()))
    }

    fn locate(&self, id: &str) -> Result<(usize, u32)> {
        self.shards
            .iter()
            .enumerate()
            .find_map(|(s, shard)| shard.find(id).map(|p| (s, p)))
            .ok_or_else(|| Error::UnknownProduct(id.to_string()))
    }

    /// The product with this id.
    pub(crate) fn product(&self, id: &str) -> Result<(Product, String)> {
        let (s, p) = self.locate(id)?;
        let shard = &self.shards[s];
        Ok((shard.products[p as usize].clone(), shard.header.shard_id.clone()))
    }

    /// The category tree in depth-first order (parents before children, siblings by name), with product counts.
    pub(crate) fn categories(&self) -> Vec<CategoryCount> {
        // key -> (displayed path, count); keys sort parents first.
        let mut tree: BTreeMap<String, (String, u32)> = BTreeMap::new();
        for (s, shard) in self.shards.iter().enumerate() {
            let table = shard.categories();
            let mut counts: Vec<(String, String, u32)> =
                table.entries().map(|(k, name, c)| (k.to_string(), name.to_string(), c)).collect();
            if s > 0 {
                counts.iter_mut().for_each(|c| c.2 = 0);
                for p in 0..shard.products.len() as u32 {
                    if let Some(c) = table.of(p).filter(|_| self.visible(s, p)) {
                        counts[c as usize].2 += 1;
                    }
                }
            }
            for (key, name, count) in counts.into_iter().filter(|c| c.2 > 0) {
                let (keys, names): (Vec<&str>, Vec<&str>) = (key.split('\0').collect(), name.split('/').collect());
                for depth in 1..=keys.len() {
                    let node = tree.entry(keys[..depth].join("\0")).or_insert_with(|| (names[..depth].join("/"), 0));
                    node.1 += count;
                }
            }
        }
        tree.into_values()
            .map(|(path, count)| {
                let depth = path.matches('/').count() as u32;
                let name = path.rsplit('/').next().unwrap_or_default().to_string();
                CategoryCount { path, name, depth, count }
            })
            .collect()
    }

    /// One page of the products in `path` and below it.
    pub(crate) fn category_page(&self, path: &str, request: &PageRequest) -> Result<ProductPage> {
        if request.page == 0 || request.page_size == 0 || request.page_size > MAX_PAGE_SIZE {
            return Err(Error::InvalidArgument(format!(
                "page {} of size {}: pages count from 1 and hold 1 to {MAX_PAGE_SIZE} products",
                request.page, request.page_size
            )));
        }
        let ranges: Vec<_> = self.shards.iter().map(|s| s.categories().range(path)).collect();
        if ranges.iter().all(|r| r.is_empty()) {
            return Err(Error::UnknownCategory(path.to_string()));
        }
        let start = (u64::from(request.page) - 1) * u64::from(request.page_size);
        let wanted = (start + u64::from(request.page_size)).min(u64::from(u32::MAX)) as usize;
        let mut total = 0u32;
        // Per shard, its first `wanted` visible products in the category, in order; then merged.
        let mut merged: Vec<(usize, u32)> = Vec::new();
        for (s, (shard, range)) in self.shards.iter().zip(&ranges).enumerate() {
            if range.is_empty() {
                continue;
            }
            let table = shard.categories();
            let inside = |p: u32| table.of(p).is_some_and(|c| range.contains(&c));
            if s == 0 {
                total += table.count(range);
            }
            let mut taken = 0;
            for &p in table.order(&shard.products, request.sort) {
                if !inside(p) || !self.visible(s, p) {
                    continue;
                }
                if s > 0 {
                    total += 1;
                } else if taken >= wanted {
                    break;
                }
                if taken < wanted {
                    merged.push((s, p));
                    taken += 1;
                }
            }
        }
        let product = |&(s, p): &(usize, u32)| &self.shards[s].products[p as usize];
        merged.sort_by(|a, b| category::compare(request.sort, product(a), product(b)).then(a.cmp(b)));
        let products =
            merged.iter().skip(start as usize).take(request.page_size as usize).map(product).cloned().collect();
        Ok(ProductPage { products, page: request.page, page_size: request.page_size, total })
    }

    /// Keyword search (see [`TextQuery`]) with the filters of `options`; `score` is the BM25 score.
    pub(crate) fn search_text(&self, query: &str, options: &SearchOptions) -> Result<Vec<Match>> {
        options.validate()?;
        let query = TextQuery::parse(query);
        let mut all: Vec<(TextHit, usize)> = Vec::new();
        for (s, shard) in self.shards.iter().enumerate() {
            let keep = |p: u32| self.visible(s, p) && shard.products.get(p as usize).is_some_and(|p| options.keeps(p));
            all.extend(shard.text.search(&query, options.top_k, &keep)?.into_iter().map(|h| (h, s)));
        }
        let most = all.iter().map(|(h, _)| h.words).max().unwrap_or(0);
        all.retain(|(h, _)| h.words == most);
        all.sort_by(|(a, sa), (b, sb)| a.rank_cmp(b).then(sa.cmp(sb)).then(a.product.cmp(&b.product)));
        Ok(self.matches(all.into_iter().map(|(h, s)| (h.score, s, h.product)), options.top_k))
    }

    /// Visual search for a model-space vector: best score first, one entry per product id.
    /// The best products for any of `queries` (each product scored by its best query), over every shard.
    pub(crate) fn search_vectors(&self, queries: &[&[f32]], options: &SearchOptions) -> Result<Vec<Match>> {
        options.validate()?;
        let mut all = Vec::new();
        for (s, shard) in self.shards.iter().enumerate() {
            let keep = |p: u32| self.visible(s, p) && shard.products.get(p as usize).is_some_and(|p| options.keeps(p));
            let ef = options.ef.max(options.top_k);
            let mut hits = Vec::new();
            for query in queries {
                hits.extend(shard.index.search(query, options.top_k, ef, &keep)?);
            }
            all.extend(best_per_product(hits).into_iter().map(|h| (h.score, s, h.product)));
        }
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        Ok(self.matches(all.into_iter(), options.top_k))
    }

    /// Products that look like product `id` (its stored vector as the query), the product itself left out.
    pub(crate) fn similar(&self, id: &str, options: &SearchOptions) -> Result<Vec<Match>> {
        options.validate()?;
        let (s, p) = self.locate(id)?;
        let vector = self.shards[s].index.product_vector(p).ok_or_else(|| {
            Error::InvalidArgument(format!("product {id:?} has no stored image vector to compare with"))
        })?;
        let wider = SearchOptions { top_k: (options.top_k + 1).min(MAX_TOP_K), ..options.clone() };
        let mut found = self.search_vectors(&[&vector], &wider)?;
        found.retain(|m| m.product.id != id);
        found.truncate(options.top_k);
        found.iter_mut().zip(1..).for_each(|(m, rank)| m.rank = rank);
        Ok(found)
    }

    /// Ranked matches from (score, shard, product), best first; ids already unique thanks to `visible`.
    fn matches(&self, ranked: impl Iterator<Item = (f32, usize, u32)>, top_k: usize) -> Vec<Match> {
        ranked
            .filter_map(|(score, s, p)| Some((score, &self.shards[s], self.shards[s].products.get(p as usize)?)))
            .take(top_k)
            .zip(1..)
            .map(|((score, shard, p), rank)| Match {
                product: p.clone(),
                score,
                rank,
                shard_id: shard.header.shard_id.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
