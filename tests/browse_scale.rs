//! Offline browsing at scale: keyword and category-page latency, open time and text-index bytes on a synthetic
//! catalog with titles from realistic vocabularies. Ignored by default; run:
//!
//! ```sh
//! cargo test --release --test browse_scale -- --ignored --nocapture        # BROWSE_N=100000 by default
//! ```

mod common;

use common::Rng;
use std::collections::BTreeMap;
use std::time::Instant;

use shoplens::text::TextIndex;
use shoplens::{encode_shard, IndexParams, PageRequest, Product, SearchOptions, ShardMeta, SortOrder, VectorIndex};

const COLOURS: &[&str] = &[
    "black",
    "white",
    "grey",
    "navy",
    "blue",
    "red",
    "green",
    "olive",
    "beige",
    "brown",
    "pink",
    "yellow",
    "orange",
    "purple",
    "silver",
    "gold",
    "cream",
    "crème",
    "bordeaux",
    "turquoise",
    "charcoal",
    "ivory",
    "mint",
    "sand",
];
const MATERIALS: &[&str] = &[
    "cotton",
    "linen",
    "wool",
    "leather",
    "suede",
    "denim",
    "stoneware",
    "porcelain",
    "glass",
    "steel",
    "stainless",
    "aluminium",
    "oak",
    "walnut",
    "bamboo",
    "rattan",
    "ceramic",
    "velvet",
    "silk",
    "cashmere",
    "recycled",
    "organic",
];
const STYLES: &[&str] = &[
    "classic",
    "slim",
    "relaxed",
    "vintage",
    "modern",
    "compact",
    "deluxe",
    "essential",
    "premium",
    "lightweight",
    "waterproof",
    "handmade",
    "nordic",
    "rustic",
    "minimal",
    "oversized",
    "cropped",
    "retro",
    "café",
    "naïve",
];
/// (category path, nouns of its products).
const LEAVES: &[(&str, &[&str])] = &[
    ("Home/Kitchen/Mugs", &["mug", "cup", "beaker"]),
    ("Home/Kitchen/Cookware", &["saucepan", "frying pan", "casserole", "wok"]),
    ("Home/Kitchen/Tableware", &["plate", "bowl", "platter", "teapot"]),
    ("Home/Lighting/Lamps", &["table lamp", "floor lamp", "desk lamp"]),
    ("Home/Lighting/Pendants", &["pendant light", "lampshade", "chandelier"]),
    ("Home/Textiles", &["blanket", "cushion", "throw", "duvet cover", "towel"]),
    ("Home/Furniture/Chairs", &["chair", "armchair", "stool", "bench"]),
    ("Home/Furniture/Tables", &["coffee table", "side table", "desk", "console"]),
    ("Home/Decor", &["vase", "candle holder", "mirror", "picture frame", "planter"]),
    ("Fashion/Women/Dresses", &["dress", "maxi dress", "shirt dress"]),
    ("Fashion/Women/Tops", &["blouse", "t-shirt", "tank top", "cardigan", "sweater"]),
    ("Fashion/Men/Shirts", &["shirt", "oxford shirt", "polo shirt", "overshirt"]),
    ("Fashion/Men/Trousers", &["chinos", "jeans", "trousers", "joggers"]),
    ("Fashion/Shoes/Sneakers", &["sneaker", "trainer", "running shoe", "high-top"]),
    ("Fashion/Shoes/Boots", &["boot", "chelsea boot", "ankle boot", "hiking boot"]),
    ("Fashion/Accessories/Bags", &["backpack", "tote bag", "crossbody bag", "wallet"]),
    ("Fashion/Accessories/Jewellery", &["necklace", "bracelet", "earrings", "ring"]),
    ("Sports/Outdoor/Camping", &["tent", "sleeping bag", "camping stove", "headlamp"]),
    ("Sports/Fitness", &["yoga mat", "dumbbell", "kettlebell", "resistance band"]),
    ("Sports/Cycling", &["bike helmet", "bike light", "cycling jersey", "water bottle"]),
    ("Electronics/Audio", &["headphones", "earbuds", "speaker", "soundbar"]),
    ("Electronics/Accessories", &["charger", "cable", "power bank", "phone case"]),
    ("Toys/Building", &["building set", "blocks", "marble run"]),
    ("Toys/Plush", &["teddy bear", "plush bunny", "soft toy"]),
    ("Garden/Tools", &["spade", "pruner", "watering can", "rake"]),
    ("Garden/Plants", &["olive tree", "monstera", "cactus", "lavender"]),
    ("Beauty/Skincare", &["moisturiser", "serum", "cleanser", "face mask"]),
    ("Grocery/Coffee", &["coffee beans", "espresso", "ground coffee", "café crème"]),
];
const SYLLABLES: &[&str] = &["ka", "lo", "mi", "ne", "ra", "to", "vu", "sel", "mar", "den", "ik", "ös", "bri", "zen"];

fn catalog(n: usize) -> (Vec<Product>, Vec<String>) {
    let mut rng = Rng(7);
    let brands: Vec<String> = (0..400)
        .map(|_| {
            let s: String = (0..2 + rng.next() % 2).map(|_| rng.pick(SYLLABLES)).collect();
            let mut c = s.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
        })
        .collect();
    let brand_refs: Vec<&str> = brands.iter().map(String::as_str).collect();
    let products = (0..n)
        .map(|i| {
            let (category, nouns) = LEAVES[(rng.next() % LEAVES.len() as u64) as usize];
            let noun = rng.pick(nouns);
            let brand = rng.skewed(&brand_refs);
            let colour = rng.skewed(COLOURS);
            let material = rng.skewed(MATERIALS);
            let title = match rng.next() % 4 {
                0 => format!("{} {material} {noun}", rng.skewed(STYLES)),
                1 => format!("{brand} {} {noun} in {colour}", rng.skewed(STYLES)),
                2 => format!("{material} {noun}, {colour}, {} cm", 10 + rng.next() % 90),
                _ => format!("{} {noun} {} {}", rng.skewed(STYLES), rng.skewed(MATERIALS), rng.next() % 1000),
            };
            let mut chars = title.chars();
            let title: String = chars.next().map(|f| f.to_uppercase().chain(chars).collect()).unwrap_or_default();
            Product {
                id: format!("SKU-{:07}", 1_000_000 + i * 7),
                title,
                category: category.into(),
                price: (99 + rng.next() % 30000) as f64 / 100.0,
                currency: "EUR".into(),
                brand: Some(brand.into()),
                url: Some(format!("https://shop.example.com/p/{}", 1_000_000 + i * 7)),
                attributes: BTreeMap::from([
                    ("colour".to_string(), colour.to_string()),
                    ("material".to_string(), material.to_string()),
                ]),
            }
        })
        .collect();
    (products, brands)
}

/// What shoppers type, per kind: (label, queries).
fn queries(brands: &[String]) -> Vec<(&'static str, Vec<String>)> {
    let mut rng = Rng(11);
    let nouns: Vec<&str> = LEAVES.iter().flat_map(|(_, n)| n.iter().copied()).collect();
    let typo = |rng: &mut Rng, w: &str| {
        let mut c: Vec<char> = w.chars().collect();
        let at = 1 + (rng.next() as usize % (c.len() - 1));
        c[at] = if c[at] == 'e' { 'a' } else { 'e' };
        c.into_iter().collect::<String>()
    };
    let long: Vec<&str> = nouns.iter().chain(MATERIALS).copied().filter(|w| w.len() >= 5 && !w.contains(' ')).collect();
    let q = 200;
    vec![
        ("1 word", (0..q).map(|_| rng.pick(&nouns).split(' ').next_back().unwrap_or("mug").to_string()).collect()),
        ("2 words", (0..q).map(|_| format!("{} {}", rng.pick(COLOURS), rng.pick(&nouns))).collect()),
        (
            "3 words",
            (0..q)
                .map(|_| format!("{} {} {}", brands[rng.next() as usize % 40], rng.pick(MATERIALS), rng.pick(&nouns)))
                .collect(),
        ),
        (
            "typo",
            (0..q)
                .map(|_| {
                    let word = rng.pick(&long);
                    format!("{} ", typo(&mut rng, word))
                })
                .collect(),
        ),
        ("prefix (2-3 letters)", (0..q).map(|_| rng.pick(&nouns)[..2 + rng.next() as usize % 2].to_string()).collect()),
    ]
}

fn percentiles(mut us: Vec<f64>) -> (f64, f64) {
    us.sort_by(f64::total_cmp);
    (us[us.len() / 2], us[(us.len() * 99 / 100).min(us.len() - 1)])
}

#[test]
#[ignore = "a minute; run in release with --ignored --nocapture"]
fn browse_report() {
    let n: usize = std::env::var("BROWSE_N").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let (products, brands) = catalog(n);
    // Small vectors: this harness measures browsing; tests/shard_scale.rs measures the vector index.
    let vectors: Vec<(u32, Vec<f32>)> = (0..n)
        .map(|i| (i as u32, (0..16).map(|d| ((i * 7919 + d * 104_729) % 1013) as f32 - 506.0).collect()))
        .collect();
    let index = VectorIndex::build(&vectors, &IndexParams { projected_dim: 0, ..IndexParams::default() }).unwrap();
    let engine = common::engine("int8");
    let meta = ShardMeta {
        shard_id: "scale".into(),
        model_id: engine.embedder().manifest().model_id.clone(),
        model_sha256: engine.embedder().sha256().to_string(),
        catalog_version: "1".into(),
        created_at: 0,
    };
    let t = Instant::now();
    let text = TextIndex::build(&products).unwrap();
    let build_ms = t.elapsed().as_secs_f64() * 1e3;
    let raw = text.encode();
    let t = Instant::now();
    TextIndex::decode(&raw, n).unwrap();
    let decode_ms = t.elapsed().as_secs_f64() * 1e3;
    let (_, bytes) = encode_shard(&meta, &products, &index).unwrap();
    let path = std::env::temp_dir().join(format!("shoplens-browse-scale-{}.shard", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let t = Instant::now();
    let header = engine.add_shard(&path).unwrap();
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    std::fs::remove_file(&path).ok();
    let shard = shoplens::Shard::from_bytes(&bytes).unwrap();
    let section = |name: &str| shard.sections().iter().find(|s| s.name == name).map_or(0, |s| s.compressed_bytes);
    println!("{n} products ({} vectors), {} distinct terms", header.vector_count, text.term_count());
    println!(
        "open {open_ms:.0} ms (whole shard; reading the decompressed text section {decode_ms:.0} ms); text section \
         {:.1} B/product compressed, records {:.1} B/product; building the text index at open instead: {build_ms:.0} ms",
        section("text") as f64 / n as f64,
        section("products") as f64 / n as f64
    );
    let options = SearchOptions::default();
    println!("| query kind | p50 | p99 | mean hits |");
    println!("|---|---|---|---|");
    for (kind, qs) in queries(&brands) {
        let mut hits = 0;
        let us: Vec<f64> = qs
            .iter()
            .map(|q| {
                let t = Instant::now();
                hits += std::hint::black_box(engine.search_text(q, &options).unwrap()).len();
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        let (p50, p99) = percentiles(us);
        println!("| {kind} | {:.2} ms | {:.2} ms | {:.1} |", p50 / 1e3, p99 / 1e3, hits as f64 / qs.len() as f64);
    }
    let filtered = SearchOptions { category: Some("Fashion".into()), max_price: Some(50.0), ..Default::default() };
    let us: Vec<f64> = queries(&brands)[1]
        .1
        .iter()
        .map(|q| {
            let t = Instant::now();
            std::hint::black_box(engine.search_text(q, &filtered).unwrap());
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let (p50, p99) = percentiles(us);
    println!("| 2 words, category and price filter | {:.2} ms | {:.2} ms | |", p50 / 1e3, p99 / 1e3);

    let categories = ["Home", "Home/Kitchen", "Fashion/Shoes/Sneakers", "Garden/Plants", ""];
    for sort in [SortOrder::Relevance, SortOrder::PriceAsc, SortOrder::PriceDesc, SortOrder::Title] {
        let t = Instant::now();
        engine.products_in_category("Home", &PageRequest { sort, ..Default::default() }).unwrap();
        let first = t.elapsed().as_secs_f64() * 1e3;
        let mut us = Vec::new();
        for i in 0..200 {
            let request = PageRequest { page: 1 + (i % 10) as u32 * 7, page_size: 20, sort };
            let t = Instant::now();
            std::hint::black_box(engine.products_in_category(categories[i % categories.len()], &request).unwrap());
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let (p50, p99) = percentiles(us);
        println!(
            "| category page, {sort:?} (first call {first:.1} ms: tabulates categories, sorts) | {:.2} ms | {:.2} ms | |",
            p50 / 1e3,
            p99 / 1e3
        );
    }
    let t = Instant::now();
    let tree = engine.categories();
    println!("category tree: {} nodes in {:.1} ms", tree.len(), t.elapsed().as_secs_f64() * 1e3);
    let us: Vec<f64> = products
        .iter()
        .step_by(n / 200)
        .map(|p| {
            let t = Instant::now();
            std::hint::black_box(engine.product(&p.id).unwrap());
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let (p50, p99) = percentiles(us);
    println!("| product by id | {p50:.1} us | {p99:.1} us | |");
}
