//! What a search asks for (options and filters) and what it finds (matches); the merging lives in `browse`.

use crate::catalog::Product;
use crate::error::{Error, Result};

/// Default number of results.
pub const DEFAULT_TOP_K: usize = 10;
pub use crate::index::DEFAULT_EF;
/// Most results one query may ask for.
pub const MAX_TOP_K: usize = 1000;

/// What to search for and how; every field has a default.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchOptions {
    /// Number of products to return.
    pub top_k: usize,
    /// Only products in this category or below it (`Home/Kitchen` matches `Home/Kitchen/Mugs`).
    pub category: Option<String>,
    /// Only products at this price or above.
    pub min_price: Option<f64>,
    /// Only products at this price or below.
    pub max_price: Option<f64>,
    /// HNSW beam width: higher finds more of the true neighbours, slower.
    pub ef: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions { top_k: DEFAULT_TOP_K, category: None, min_price: None, max_price: None, ef: DEFAULT_EF }
    }
}

impl SearchOptions {
    /// Checks the options before any work is done.
    pub fn validate(&self) -> Result<()> {
        if self.top_k == 0 || self.top_k > MAX_TOP_K {
            return Err(Error::InvalidArgument(format!("top_k {} is not in 1..={MAX_TOP_K}", self.top_k)));
        }
        for p in [self.min_price, self.max_price].into_iter().flatten() {
            if !p.is_finite() {
                return Err(Error::InvalidArgument(format!("price bound {p} is not a number")));
            }
        }
        Ok(())
    }

    /// Whether a product passes the category and price filters.
    pub fn keeps(&self, p: &Product) -> bool {
        self.category.as_deref().is_none_or(|c| in_category(&p.category, c))
            && self.min_price.is_none_or(|min| p.price >= min)
            && self.max_price.is_none_or(|max| p.price <= max)
    }
}

/// Whether `category` is `prefix` or lies below it, comparing whole path segments, ignoring case and stray slashes.
pub fn in_category(category: &str, prefix: &str) -> bool {
    let mut have = category.split('/').map(str::trim).filter(|s| !s.is_empty());
    prefix.split('/').map(str::trim).filter(|s| !s.is_empty()).all(|want| {
        have.next()
            .is_some_and(|h| h.chars().flat_map(char::to_lowercase).eq(want.chars().flat_map(char::to_lowercase)))
    })
}

/// One product found.
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    /// The product.
    pub product: Product,
    /// Higher is better: for visual search the cosine similarity of the query with the product's best view (as
    /// stored: estimated from its PCA projection, docs/shard-format.md), for keyword search a BM25 score.
    pub score: f32,
    /// 1-based position in the results.
    pub rank: u32,
    /// The shard the product came from.
    pub shard_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_prefix_matches_whole_segments() {
        assert!(in_category("Home/Kitchen/Mugs", "Home/Kitchen"));
        assert!(in_category("Home/Kitchen/Mugs", "home/kitchen/"));
        assert!(in_category("Home/Kitchen", "Home/Kitchen"));
        assert!(in_category("Home/Kitchen", ""));
        assert!(!in_category("Home/Kitchenware", "Home/Kitchen"));
        assert!(!in_category("Home", "Home/Kitchen"));
    }

    #[test]
    fn options_are_checked() {
        assert!(SearchOptions::default().validate().is_ok());
        assert!(SearchOptions { top_k: 0, ..Default::default() }.validate().is_err());
        assert!(SearchOptions { min_price: Some(f64::NAN), ..Default::default() }.validate().is_err());
    }
}
