//! Offline browsing of the bundled sample catalog, through the engine and through `shoplens browse`.

mod common;

use std::process::Command;

use serde_json::Value;
use shoplens::{Error, PageRequest, SearchOptions, SortOrder};

fn engine() -> shoplens::ShopLens {
    let engine = common::engine("int8");
    engine.add_shard(common::root().join("tests/data/catalog/sample.shard")).unwrap();
    engine
}

fn ids(matches: &[shoplens::Match]) -> Vec<&str> {
    matches.iter().map(|m| m.product.id.as_str()).collect()
}

#[test]
fn the_sample_catalog_browses() {
    let e = engine();
    let (p, shard) = e.product("cappuccino-cup").unwrap();
    assert_eq!((p.title.as_str(), shard.as_str()), ("Cappuccino cup and saucer", "sample"));
    assert!(matches!(e.product("Cappuccino-Cup"), Err(Error::UnknownProduct(_))), "ids are exact");

    let tree = e.categories();
    assert_eq!(tree.iter().filter(|c| c.depth == 0).map(|c| c.count).sum::<u32>(), 30);
    let art = tree.iter().find(|c| c.path == "Art/Prints").unwrap();
    assert_eq!((art.count, art.depth, art.name.as_str()), (9, 1, "Prints"));

    let page =
        |n| e.products_in_category("art/prints", &PageRequest { page: n, page_size: 4, sort: SortOrder::PriceAsc });
    let (first, last) = (page(1).unwrap(), page(3).unwrap());
    assert_eq!((first.total, first.products.len(), last.products.len()), (9, 4, 1));
    assert_eq!(first.products[0].price, 19.0);
    assert_eq!(last.products[0].id, "graffiti-print");
}

#[test]
fn keyword_search_as_the_shopper_types() {
    let e = engine();
    let o = SearchOptions::default();
    // Accents and case: the brand is "Caffè Casa".
    assert_eq!(ids(&e.search_text("CAFFE", &o).unwrap()), ["cappuccino-cup"]);
    // Typing: "post" reaches "poster"; a typo in a long word; a finished word is exact.
    let posters = e.search_text("post", &o).unwrap();
    assert_eq!(posters.len(), 4);
    assert!(posters.iter().all(|m| m.product.title.contains("poster")));
    assert_eq!(ids(&e.search_text("motorcyle", &o).unwrap()), ["motorcycle-red"]);
    assert_eq!(ids(&e.search_text("red apple ", &o).unwrap()), ["apple-red"]);
    // Both words needed: "red" alone finds the apple and the motorcycle.
    assert_eq!(e.search_text("red ", &o).unwrap().len(), 2);
    // Filters of visual search.
    let cheap = SearchOptions { max_price: Some(1.0), ..Default::default() };
    assert_eq!(ids(&e.search_text("red ", &cheap).unwrap()), ["apple-red"]);
    let stickers = SearchOptions { category: Some("Kids".into()), ..Default::default() };
    assert_eq!(e.search_text("sticker", &stickers).unwrap().len(), 3);
}

#[test]
fn similar_products_come_from_stored_vectors() {
    let e = engine();
    let found = e.similar_products("orange", &SearchOptions { top_k: 3, ..Default::default() }).unwrap();
    assert_eq!(found.len(), 3);
    assert!(!ids(&found).contains(&"orange"));
    assert!(found.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(matches!(e.similar_products("nope", &SearchOptions::default()), Err(Error::UnknownProduct(_))));
}

fn browse(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shoplens"))
        .args(["browse", "--shard", "tests/data/catalog/sample.shard"])
        .args(args)
        .current_dir(common::root())
        .output()
        .unwrap()
}

fn json(args: &[&str]) -> Vec<Value> {
    let out = browse(&[args, &["--json"]].concat());
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn cli_browse_prints_product_objects() {
    let fields = ["id", "title", "category", "price", "currency"];
    for args in [
        &["get", "orange"][..],
        &["category", "Grocery", "--page-size", "2", "--sort", "price-desc"],
        &["search", "sticker"],
        &["similar", "orange", "--top-k", "2"],
    ] {
        let items = json(args);
        assert!(!items.is_empty(), "{args:?}");
        assert!(items.iter().all(|i| fields.iter().all(|f| i.get(f).is_some())), "{args:?}: {items:?}");
    }
    assert_eq!(json(&["category", "Grocery", "--page-size", "2", "--sort", "price-desc"])[0]["id"], "citrus-mix");
    let tree = json(&["categories"]);
    assert!(tree.iter().any(|c| c["path"] == "Kids/Stickers" && c["count"] == 3));
}

#[test]
fn cli_unknown_ids_and_categories_fail_clearly() {
    for (args, says) in
        [(&["get", "nope"][..], "no product \"nope\""), (&["category", "Garage"], "no category \"Garage\"")]
    {
        let out = browse(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.starts_with("shoplens: ") && err.contains(says), "{err}");
    }
}
