//! End to end on the bundled sample catalog: build a shard from real photos, then search it with held-out views.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::*;
use shoplens::builder::{build_shard, BuildOptions};
use shoplens::frame::encode_nv21;
use shoplens::{CameraFrame, Error, IndexParams, SearchOptions, ShopLens};

fn catalog_dir() -> PathBuf {
    root().join("tests/data/catalog")
}

fn build_options() -> BuildOptions {
    BuildOptions {
        shard_id: None,
        catalog_version: "test".into(),
        created_at: 1,
        strict: true,
        index: IndexParams::default(),
    }
}

/// Builds the sample shard once per test run into a temporary folder.
fn sample_shard() -> &'static PathBuf {
    static SHARD: OnceLock<PathBuf> = OnceLock::new();
    SHARD.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("shoplens-catalog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("sample.shard");
        let options = build_options();
        let c = catalog_dir();
        let report =
            build_shard(&engine("int8"), &c.join("catalog.jsonl"), &c.join("images"), &out, &options, &|_, _| {})
                .unwrap();
        assert_eq!(report.product_count, 30);
        out
    })
}

fn queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(catalog_dir().join("queries.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["query"].as_str().unwrap().to_string(), v["expected"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn second_views_find_their_product() {
    let engine = engine("int8");
    engine.add_shard(sample_shard()).unwrap();
    let mut top1 = 0;
    for (query, expected) in queries() {
        let bytes = std::fs::read(catalog_dir().join(&query)).unwrap();
        let found = engine.search_photo(&bytes, &SearchOptions { top_k: 3, ..Default::default() }).unwrap();
        let ids: Vec<&str> = found.matches.iter().map(|m| m.product.id.as_str()).collect();
        println!("{query}: {ids:?}");
        assert!(ids.contains(&expected.as_str()), "{query}: {expected} not in {ids:?}");
        top1 += (ids[0] == expected) as usize;
        assert!(found.matches.windows(2).all(|w| w[0].score >= w[1].score));
    }
    assert!(top1 >= 7, "top-1 {top1}/8");
}

#[test]
fn camera_frame_with_crop_finds_the_product() {
    let engine = engine("int8");
    engine.add_shard(sample_shard()).unwrap();
    // The whale photo shown sideways on a 2x larger NV21 frame, cropped back to the photo.
    let img = shoplens::Photo::decode(&std::fs::read(catalog_dir().join("queries/rubberwhale2.jpg")).unwrap())
        .unwrap()
        .to_rgb_image();
    let (w, h) = (img.width() & !1, img.height() & !1);
    let px = crop_rgb(img.as_raw(), img.width(), 0, 0, w, h);
    let sideways = rotate_ccw(&px, w, h);
    let (fw, fh) = (h * 2, w);
    let mut frame_px = vec![40u8; (fw * fh * 3) as usize];
    for y in 0..fh {
        let dst = (y * fw * 3) as usize;
        frame_px[dst..dst + (h * 3) as usize]
            .copy_from_slice(&sideways[(y * h * 3) as usize..((y + 1) * h * 3) as usize]);
    }
    let nv21 = encode_nv21(&frame_px, fw, fh).unwrap();
    let (y, vu) = nv21.split_at((fw * fh) as usize);
    let frame = CameraFrame::nv21(fw, fh, y, fw as usize, vu, fw as usize)
        .unwrap()
        .with_rotation(shoplens::Rotation::Deg90)
        .with_crop(shoplens::CropRect { x: 0, y: 0, width: h, height: w })
        .unwrap();
    let found = engine.search_frame(&frame, &SearchOptions::default()).unwrap();
    assert_eq!(found.matches[0].product.id, "rubber-whale-set");
}

#[test]
fn filters_keep_returning_top_k() {
    let engine = engine("int8");
    engine.add_shard(sample_shard()).unwrap();
    let bytes = std::fs::read(catalog_dir().join("queries/aloeR.jpg")).unwrap();
    let prints = SearchOptions { top_k: 5, category: Some("Art/Prints".into()), ..Default::default() };
    let found = engine.search_photo(&bytes, &prints).unwrap().matches;
    assert_eq!(found.len(), 5);
    assert!(found.iter().all(|m| m.product.category.starts_with("Art/Prints/")));
    let cheap = SearchOptions { top_k: 4, max_price: Some(2.0), ..Default::default() };
    let found = engine.search_photo(&bytes, &cheap).unwrap().matches;
    assert_eq!(found.len(), 4);
    assert!(found.iter().all(|m| m.product.price <= 2.0));
    let none = SearchOptions { min_price: Some(1e9), ..Default::default() };
    assert!(engine.search_photo(&bytes, &none).unwrap().matches.is_empty());
}

#[test]
fn shards_merge_and_replace_by_id() {
    let engine = engine("int8");
    let first = engine.add_shard(sample_shard()).unwrap();
    // The same file again replaces the open shard with that id instead of doubling its products.
    engine.add_shard(sample_shard()).unwrap();
    assert_eq!(engine.shards().len(), 1);
    let bytes = std::fs::read(catalog_dir().join("queries/graf3.jpg")).unwrap();
    let found = engine.search_photo(&bytes, &SearchOptions { top_k: 30, ..Default::default() }).unwrap().matches;
    assert_eq!(found.len(), 30);
    engine.remove_shard(&first.shard_id).unwrap();
    assert!(matches!(engine.remove_shard(&first.shard_id), Err(Error::UnknownShard(_))));
    assert!(engine.search_photo(&bytes, &SearchOptions::default()).unwrap().matches.is_empty());
}

#[test]
fn the_memory_budget_refuses_a_shard_that_does_not_fit() {
    let size = shoplens::Shard::open(sample_shard()).unwrap().memory_bytes();
    let tight = engine("int8").with_memory_budget(Some(size - 1));
    let err = tight.add_shard(sample_shard()).unwrap_err();
    assert!(matches!(err, Error::MemoryBudget { needed, available, .. } if needed == size && available == size - 1));
    assert!(tight.shards().is_empty());
    let exact = engine("int8").with_memory_budget(Some(size));
    exact.add_shard(sample_shard()).unwrap();
    // Replacing a shard by one with the same id frees the old one's share first.
    exact.add_shard(sample_shard()).unwrap();
    assert_eq!(exact.shards().len(), 1);
}

#[test]
fn a_shard_from_another_model_is_refused() {
    let fp32 = ShopLens::open(model_path("fp32")).unwrap();
    let err = fp32.add_shard(sample_shard()).unwrap_err();
    assert!(matches!(err, Error::ModelMismatch(_)), "{err}");
    assert!(err.to_string().contains("rebuild"), "{err}");
}

#[test]
fn builds_are_reproducible() {
    let dir = sample_shard().parent().unwrap().join("again");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("sample.shard");
    let c = catalog_dir();
    let options = build_options();
    build_shard(&engine("int8"), &c.join("catalog.jsonl"), &c.join("images"), &out, &options, &|_, _| {}).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(sample_shard()).unwrap());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["product_count"], 30);
    assert_eq!(manifest["file"], "sample.shard");
}

#[test]
fn the_committed_sample_shard_matches_the_bundled_model() {
    // README's main command searches this file: it must open with the bundled model (rebuild it with
    // `shoplens build --catalog tests/data/catalog/catalog.jsonl --images tests/data/catalog/images
    //  --out tests/data/catalog/sample.shard --created-at 1764000000` when the model or the format changes).
    let engine = engine("int8");
    let header = engine.add_shard(catalog_dir().join("sample.shard")).unwrap();
    assert_eq!(header.product_count, 30);
    let bytes = std::fs::read(catalog_dir().join("queries/aloeR.jpg")).unwrap();
    assert_eq!(engine.search_photo(&bytes, &SearchOptions::default()).unwrap().matches[0].product.id, "aloe-pot");
}
