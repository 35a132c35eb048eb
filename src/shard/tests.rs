//! Shard round trips; tests/shard_hostile.rs throws damaged and crafted files at the reader.

use super::*;
use crate::catalog::tests::product;
use crate::index::tests::clustered;
use crate::index::{IndexParams, DEFAULT_EF};

const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn meta() -> ShardMeta {
    ShardMeta {
        shard_id: "acme-eu".into(),
        model_id: "effnet-lite0-v1".into(),
        model_sha256: SHA.to_uppercase(),
        catalog_version: "2024-06-01".into(),
        created_at: 1_717_200_000,
    }
}

fn sample(views: usize) -> (Vec<Product>, VectorIndex) {
    let products: Vec<Product> = (0..200).map(product).collect();
    let vectors = clustered(200 * views, 48, 6, 2);
    let vectors: Vec<(u32, Vec<f32>)> = vectors.into_iter().enumerate().map(|(i, v)| ((i / views) as u32, v)).collect();
    let params = IndexParams { projected_dim: 16, ef_construction: 32, ..IndexParams::default() };
    (products, VectorIndex::build(&vectors, &params).unwrap())
}

#[test]
fn shards_round_trip_byte_identically() {
    let (products, index) = sample(2);
    let (header, bytes) = encode_shard(&meta(), &products, &index).unwrap();
    assert_eq!((header.product_count, header.vector_count, header.model_dim, header.stored_dim), (200, 400, 48, 16));
    assert_eq!(header.model_sha256, SHA);

    let shard = Shard::from_bytes(&bytes).unwrap();
    assert_eq!(shard.header, header);
    assert_eq!(shard.products, products);
    assert_eq!(shard.index, index);
    let names: Vec<_> = shard.sections().iter().map(|s| s.name).collect();
    assert_eq!(names, ["projection", "vectors", "vector map", "graph", "products", "text"]);
    let stored: u64 = shard.sections().iter().map(|s| s.compressed_bytes).sum();
    assert!(stored < bytes.len() as u64);

    // Rebuilt from the same input: the same bytes.
    let (products2, index2) = sample(2);
    assert_eq!(encode_shard(&meta(), &products2, &index2).unwrap().1, bytes);

    let q = index.product_vector(17).unwrap();
    assert_eq!(shard.index.search(&q, 5, DEFAULT_EF, &|_| true).unwrap()[0].product, 17);
}

#[test]
fn open_reads_what_write_wrote() {
    let (products, index) = sample(1);
    let path = std::env::temp_dir().join(format!("shoplens-shard-test-{}.shard", std::process::id()));
    let mut file = std::fs::File::create(&path).unwrap();
    write_shard(&meta(), &products, &index, &mut file).unwrap();
    drop(file);
    let shard = Shard::open(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(shard.unwrap().products.len(), 200);
    assert!(matches!(Shard::open(Path::new("/nonexistent/x.shard")), Err(Error::Io { .. })));
}

#[test]
fn model_mismatch_and_other_versions_are_clear_errors() {
    let (products, index) = sample(1);
    let (_, mut bytes) = encode_shard(&meta(), &products, &index).unwrap();
    let shard = Shard::from_bytes(&bytes).unwrap();
    shard.check_model("effnet-lite0-v1", SHA).unwrap();
    shard.check_model("effnet-lite0-v1", &SHA.to_uppercase()).unwrap();
    let err = shard.check_model("effnet-lite0-v2", SHA).unwrap_err();
    assert!(matches!(err, Error::ModelMismatch(_)));
    assert!(err.to_string().contains("effnet-lite0-v1"), "{err}");
    assert!(matches!(shard.check_model("effnet-lite0-v1", &"0".repeat(64)), Err(Error::ModelMismatch(_))));

    bytes[8] = 1;
    assert!(matches!(Shard::from_bytes(&bytes), Err(Error::ShardVersion { found: 1, oldest: 2, newest: 4 })));
}

#[test]
fn writer_refuses_what_readers_would() {
    let (products, index) = sample(1);
    let bad_sha = ShardMeta { model_sha256: "abc".into(), ..meta() };
    assert!(matches!(encode_shard(&bad_sha, &products, &index), Err(Error::Catalog(_))));
    let long_id = ShardMeta { shard_id: "x".repeat(2000), ..meta() };
    assert!(matches!(encode_shard(&long_id, &products, &index), Err(Error::Catalog(_))));
    assert!(matches!(encode_shard(&meta(), &products[..199], &index), Err(Error::Catalog(_))));
}
