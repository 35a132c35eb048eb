//! Browsing over several shards: newest catalog wins, paging neither skips nor repeats, counts add up.

use std::collections::HashSet;

use super::*;
use crate::catalog::tests::product;
use crate::index::tests::clustered;
use crate::index::{IndexParams, VectorIndex};
use crate::shard::{encode_shard, ShardMeta};

const CATEGORIES: [&str; 5] = ["Home/Kitchen/Mugs", "Home/Kitchen/Pans", "Home/Garden", "Toys", "home/kitchen"];

fn products(ids: std::ops::Range<usize>, title_prefix: &str) -> Vec<Product> {
    ids.map(|i| Product {
        title: format!("{title_prefix} {}", (i * 7919) % 101),
        category: CATEGORIES[i % CATEGORIES.len()].into(),
        // Repeated prices, so ties must be broken consistently.
        price: ((i * 31) % 17) as f64,
        ..product(i)
    })
    .collect()
}

fn open(id: &str, version: &str, products: Vec<Product>) -> Arc<Shard> {
    let vectors: Vec<(u32, Vec<f32>)> =
        clustered(products.len(), 32, 4, 3).into_iter().enumerate().map(|(i, v)| (i as u32, v)).collect();
    let params = IndexParams { projected_dim: 0, ef_construction: 32, ..IndexParams::default() };
    let index = VectorIndex::build(&vectors, &params).unwrap();
    let meta = ShardMeta {
        shard_id: id.into(),
        model_id: "m".into(),
        model_sha256: "0".repeat(64),
        catalog_version: version.into(),
        created_at: 1,
    };
    Arc::new(Shard::from_bytes(&encode_shard(&meta, &products, &index).unwrap().1).unwrap())
}

/// Products 0..60 in "old" (v9), 40..100 in "new" (v10): 40..60 are in both, and the newer copy must win.
fn two_shards() -> ShardSet {
    ShardSet::new(vec![open("new", "v10", products(40..100, "New")), open("old", "v9", products(0..60, "Old"))])
}

#[test]
fn catalog_versions_compare_numbers_as_numbers() {
    let h = |v: &str, t: u64| ShardHeader { catalog_version: v.into(), created_at: t, ..shard_header() };
    assert_eq!(newer(&h("v10", 0), &h("v9", 5)), Ordering::Greater);
    assert_eq!(newer(&h("2024-06-01", 0), &h("2024-05-31", 0)), Ordering::Greater);
    assert_eq!(newer(&h("v1", 2), &h("v1", 1)), Ordering::Greater);
    assert_eq!(newer(&h("v1.2", 0), &h("v1.10", 0)), Ordering::Less);
    assert_eq!(newer(&h("", 0), &h("a", 0)), Ordering::Less);
}

fn shard_header() -> ShardHeader {
    open("x", "1", products(0..3, "T")).header.clone()
}

#[test]
fn the_newest_catalog_owns_a_shared_id() {
    let set = two_shards();
    let (p, shard) = set.product("sku-00050").unwrap();
    assert_eq!((p.title.starts_with("New"), shard.as_str()), (true, "new"));
    assert_eq!(set.product("sku-00010").unwrap().1, "old");
    assert!(matches!(set.product("sku-00100"), Err(Error::UnknownProduct(_))));
    // Added in the other order: same owner.
    let flipped =
        ShardSet::new(vec![open("old", "v9", products(0..60, "Old")), open("new", "v10", products(40..100, "New"))]);
    assert_eq!(flipped.product("sku-00050").unwrap().1, "new");
}

#[test]
fn paging_neither_skips_nor_repeats_in_any_order() {
    let set = two_shards();
    for sort in [SortOrder::Relevance, SortOrder::PriceAsc, SortOrder::PriceDesc, SortOrder::Title] {
        for size in [1, 7, 20, 200] {
            let mut seen = Vec::new();
            for page in 1.. {
                let got = set.category_page("Home", &PageRequest { page, page_size: size, sort }).unwrap();
                assert_eq!(got.total, 80, "100 products, 4 of 5 categories under Home");
                if got.products.is_empty() {
                    break;
                }
                assert!(got.products.len() <= size as usize);
                seen.extend(got.products);
            }
            let ids: HashSet<_> = seen.iter().map(|p| p.id.clone()).collect();
            assert_eq!((seen.len(), ids.len()), (80, 80), "{sort:?} by {size}");
            assert!(seen.iter().all(|p| p.category.to_lowercase().starts_with("home")));
            assert!(seen.iter().filter(|p| p.id.as_str() >= "sku-00040").all(|p| p.title.starts_with("New")));
            let ordered = seen.windows(2).all(|w| match sort {
                SortOrder::PriceAsc => w[0].price <= w[1].price,
                SortOrder::PriceDesc => w[0].price >= w[1].price,
                SortOrder::Title => w[0].title.to_lowercase() <= w[1].title.to_lowercase(),
                SortOrder::Relevance => true,
            });
            assert!(ordered, "{sort:?}");
        }
    }
}

#[test]
fn category_pages_check_their_arguments() {
    let set = two_shards();
    assert!(matches!(set.category_page("Garden", &PageRequest::default()), Err(Error::UnknownCategory(_))));
    assert!(matches!(set.category_page("Home/Kit", &PageRequest::default()), Err(Error::UnknownCategory(_))));
    for (page, page_size) in [(0, 10), (1, 0), (1, MAX_PAGE_SIZE + 1)] {
        let r = set.category_page("Home", &PageRequest { page, page_size, ..Default::default() });
        assert!(matches!(r, Err(Error::InvalidArgument(_))));
    }
    let far =
        set.category_page("toys", &PageRequest { page: u32::MAX, page_size: MAX_PAGE_SIZE, ..Default::default() });
    assert!(far.unwrap().products.is_empty());
    // Every product, from the root.
    assert_eq!(set.category_page("", &PageRequest::default()).unwrap().total, 100);
}

#[test]
fn the_tree_counts_each_product_once_at_every_level() {
    let tree = two_shards().categories();
    let count = |path: &str| tree.iter().find(|c| c.path.eq_ignore_ascii_case(path)).map(|c| c.count);
    assert_eq!(count("Home"), Some(80));
    assert_eq!(count("Home/Kitchen"), Some(60));
    assert_eq!(count("Home/Kitchen/Mugs"), Some(20));
    assert_eq!(count("Toys"), Some(20));
    let paths: Vec<_> = tree.iter().map(|c| (c.depth, c.name.as_str())).collect();
    assert_eq!(paths, [(0, "Home"), (1, "Garden"), (1, "kitchen"), (2, "Mugs"), (2, "Pans"), (0, "Toys")]);
}

#[test]
fn keyword_search_merges_shards_and_filters() {
    let set = two_shards();
    let all = SearchOptions { top_k: 200, ..Default::default() };
    let found = set.search_text("blue white", &all).unwrap();
    assert_eq!(found.len(), 100, "every product once");
    assert_eq!(found.iter().map(|m| &m.product.id).collect::<HashSet<_>>().len(), 100);
    assert!(found.iter().zip(1..).all(|(m, r)| m.rank == r));
    let new = set.search_text("new", &all).unwrap();
    assert_eq!(new.len(), 60);
    let old = set.search_text("old", &all).unwrap();
    assert_eq!(old.len(), 40, "the old copies of 40..60 are hidden");
    let toys = SearchOptions { category: Some("Toys".into()), max_price: Some(8.0), ..all.clone() };
    let found = set.search_text("blue", &toys).unwrap();
    assert!(!found.is_empty() && found.iter().all(|m| m.product.category == "Toys" && m.product.price <= 8.0));
    assert!(set.search_text("mug", &SearchOptions { top_k: 0, ..all }).is_err());
}

#[test]
fn similar_products_leave_the_product_out_and_use_the_owner() {
    let set = two_shards();
    let options = SearchOptions { top_k: 5, ..Default::default() };
    let found = set.similar("sku-00050", &options).unwrap();
    assert_eq!(found.len(), 5);
    assert!(found.iter().all(|m| m.product.id != "sku-00050"));
    assert!(found.windows(2).all(|w| w[0].score >= w[1].score));
    let ids: HashSet<_> = found.iter().map(|m| (&m.product.id, &m.shard_id)).collect();
    assert!(ids.iter().all(|(id, shard)| id.as_str() < "sku-00040" || shard.as_str() == "new"));
    assert!(matches!(set.similar("nope", &options), Err(Error::UnknownProduct(_))));
}
