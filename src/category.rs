//! Category paths (`Home/Kitchen/Mugs`) and one shard's category table: which category each product is in, and its
//! products in each sort order, built on first use and kept.

use std::cmp::Ordering;
use std::ops::Range;
use std::sync::OnceLock;

use crate::catalog::Product;

/// How a category listing is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// The shop's own order: the catalog feed's order (newest shard first when several hold the category).
    #[default]
    Relevance,
    /// Cheapest first.
    PriceAsc,
    /// Most expensive first.
    PriceDesc,
    /// By title, ignoring case.
    Title,
}

impl SortOrder {
    const ALL: [SortOrder; 4] = [SortOrder::Relevance, SortOrder::PriceAsc, SortOrder::PriceDesc, SortOrder::Title];

    fn slot(self) -> usize {
        self as usize
    }
}

/// The non-empty, trimmed segments of a category path.
pub fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').map(str::trim).filter(|s| !s.is_empty())
}

/// The path as shown: segments trimmed, joined by `/`.
pub fn display(path: &str) -> String {
    segments(path).collect::<Vec<_>>().join("/")
}

/// The comparison key of a path: lower-case segments joined by NUL, so every path below a prefix sorts right after
/// it, before any sibling (`a\0b` < `a\0b\0c` < `a\0b-c`).
pub(crate) fn key(path: &str) -> String {
    segments(path).map(|s| s.replace('\0', "").to_lowercase()).collect::<Vec<_>>().join("\0")
}

/// Orders two products of one shard by `sort` (ties by feed position, so the order is total and stable).
pub(crate) fn compare(sort: SortOrder, a: &Product, b: &Product) -> Ordering {
    match sort {
        SortOrder::Relevance => Ordering::Equal,
        SortOrder::PriceAsc => a.price.total_cmp(&b.price),
        SortOrder::PriceDesc => b.price.total_cmp(&a.price),
        SortOrder::Title => a.title.to_lowercase().cmp(&b.title.to_lowercase()),
    }
}

/// One shard's categories.
#[derive(Debug, Default)]
pub struct CategoryTable {
    /// Distinct keys, sorted.
    keys: Vec<String>,
    /// The displayed path of each key (its first product's spelling).
    names: Vec<String>,
    /// Products per key.
    counts: Vec<u32>,
    /// Each product's key index.
    of_product: Vec<u32>,
    /// Products in each sort order (all categories), built when first asked for.
    orders: [OnceLock<Vec<u32>>; 4],
}

impl Clone for CategoryTable {
    fn clone(&self) -> Self {
        let orders =
            SortOrder::ALL.map(|s| self.orders[s.slot()].get().cloned().map(OnceLock::from).unwrap_or_default());
        CategoryTable {
            keys: self.keys.clone(),
            names: self.names.clone(),
            counts: self.counts.clone(),
            of_product: self.of_product.clone(),
            orders,
        }
    }
}

impl CategoryTable {
    /// Tabulates the products' categories.
    pub fn build(products: &[Product]) -> Self {
        let product_keys: Vec<String> = products.iter().map(|p| key(&p.category)).collect();
        let mut keys = product_keys.clone();
        keys.sort_unstable();
        keys.dedup();
        let mut names = vec![String::new(); keys.len()];
        let mut counts = vec![0u32; keys.len()];
        let of_product = product_keys
            .iter()
            .zip(products)
            .map(|(k, p)| {
                // Every product key is in `keys`.
                let i = keys.binary_search(k).unwrap_or_default();
                if counts[i] == 0 {
                    names[i] = display(&p.category);
                }
                counts[i] += 1;
                i as u32
            })
            .collect();
        CategoryTable { keys, names, counts, of_product, orders: Default::default() }
    }

    /// Key indices of `path` and every category below it; empty when the shard has none of them.
    pub fn range(&self, path: &str) -> Range<u32> {
        let want = key(path);
        let below = format!("{want}\0");
        let lo = self.keys.partition_point(|k| k.as_str() < want.as_str());
        let len = self.keys[lo..].partition_point(|k| want.is_empty() || *k == want || k.starts_with(&below));
        lo as u32..(lo + len) as u32
    }

    /// Distinct categories: (key, displayed path, products), sorted by key (parents before children).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, u32)> {
        self.keys.iter().zip(&self.names).zip(&self.counts).map(|((k, n), &c)| (k.as_str(), n.as_str(), c))
    }

    /// The key index of a product.
    pub fn of(&self, product: u32) -> Option<u32> {
        self.of_product.get(product as usize).copied()
    }

    /// Products in a key range.
    pub fn count(&self, range: &Range<u32>) -> u32 {
        self.counts.get(range.start as usize..range.end as usize).map_or(0, |c| c.iter().sum())
    }

    /// Every product of the shard in `sort` order (ties in feed order).
    pub fn order(&self, products: &[Product], sort: SortOrder) -> &[u32] {
        self.orders[sort.slot()].get_or_init(|| {
            let mut order: Vec<u32> = (0..products.len() as u32).collect();
            match sort {
                SortOrder::Relevance => {}
                SortOrder::Title => order.sort_by_cached_key(|&p| products[p as usize].title.to_lowercase()),
                _ => order.sort_by(|&a, &b| compare(sort, &products[a as usize], &products[b as usize])),
            }
            order
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::product;

    fn in_cat(i: usize, category: &str, price: f64, title: &str) -> Product {
        Product { category: category.into(), price, title: title.into(), ..product(i) }
    }

    #[test]
    fn ranges_cover_a_prefix_and_nothing_else() {
        let ps = [
            in_cat(0, "Home/Kitchen/Mugs", 3.0, "b"),
            in_cat(1, "home / kitchen", 1.0, "A"),
            in_cat(2, "Home/Kitchen-Ware", 2.0, "c"),
            in_cat(3, "Garden", 5.0, "d"),
        ];
        let t = CategoryTable::build(&ps);
        assert_eq!(t.count(&t.range("Home/Kitchen")), 2);
        assert_eq!(t.count(&t.range("HOME")), 3);
        assert_eq!(t.count(&t.range("")), 4);
        assert_eq!(t.count(&t.range("Home/Kit")), 0);
        assert_eq!(
            t.entries().map(|e| e.1).collect::<Vec<_>>(),
            ["Garden", "home/kitchen", "Home/Kitchen/Mugs", "Home/Kitchen-Ware"]
        );
        assert_eq!(t.order(&ps, SortOrder::PriceAsc), [1, 2, 0, 3]);
        assert_eq!(t.order(&ps, SortOrder::PriceDesc), [3, 0, 2, 1]);
        assert_eq!(t.order(&ps, SortOrder::Title), [1, 0, 2, 3]);
        assert_eq!(t.order(&ps, SortOrder::Relevance), [0, 1, 2, 3]);
    }
}
