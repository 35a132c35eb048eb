//! Each matching and ranking rule of keyword search, on a small catalog with accents, mixed case and several scripts.

use super::*;
use crate::catalog::tests::product;

fn item(title: &str, brand: Option<&str>, category: &str, attributes: &[(&str, &str)]) -> Product {
    Product {
        title: title.into(),
        brand: brand.map(Into::into),
        category: category.into(),
        attributes: attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..product(0)
    }
}

/// Titles a European shop with a few imported goods might have.
fn catalog() -> Vec<Product> {
    let mut ps = vec![
        item("Café Crème MUG, stoneware", Some("Kaffeehaus"), "Home/Kitchen/Mugs", &[("colour", "Crème")]),
        item("Stainless steel travel mug", None, "Home/Kitchen/Mugs", &[("colour", "silver")]),
        item("Table lamp", Some("Lumière"), "Home/Lighting", &[]),
        item("Lampshade in linen", None, "Home/Lighting", &[]),
        item("Desk organiser", None, "Office/Desk", &[("material", "lamp black lacquer")]),
        item("Чашка белая", None, "Home/Kitchen/Mugs", &[]),
        item("Κούπα καφέ", None, "Home/Kitchen/Mugs", &[]),
        item("马克杯 white", None, "Home/Kitchen/Mugs", &[]),
        item("Straßenkarte Berlin", None, "Books/Maps", &[]),
        item("Levi's denim jacket", Some("Levi's"), "Fashion/Jackets", &[]),
        item("Kettle", Some("Stainless Co"), "Home/Kitchen", &[]),
    ];
    for (i, p) in ps.iter_mut().enumerate() {
        p.id = format!("p{i}");
        p.price = 10.0 + i as f64;
    }
    ps
}

fn search_in(index: &TextIndex, q: &str) -> Vec<u32> {
    index.search(&TextQuery::parse(q), 20, &|_| true).unwrap().iter().map(|h| h.product).collect()
}

fn index() -> TextIndex {
    TextIndex::build(&catalog()).unwrap()
}

#[test]
fn case_accents_and_scripts_fold() {
    let ix = index();
    assert_eq!(search_in(&ix, "cafe creme "), [0]);
    assert_eq!(search_in(&ix, "CAFÉ"), [0]);
    assert_eq!(search_in(&ix, "ЧАШКА "), [5]);
    assert_eq!(search_in(&ix, "καφε "), [6]);
    assert_eq!(search_in(&ix, "杯"), [7]);
    assert_eq!(search_in(&ix, "strasse"), [8]);
    assert_eq!(search_in(&ix, "levis "), [9]);
    assert_eq!(search_in(&ix, "lumiere "), [2]);
}

#[test]
fn last_word_is_a_prefix_while_typing() {
    let ix = index();
    assert_eq!(search_in(&ix, "trav"), [1]);
    assert_eq!(search_in(&ix, "trav "), Vec::<u32>::new());
    // Only the last word: "trav mug" needs an exact "trav".
    assert_eq!(search_in(&ix, "trav mug"), search_in(&ix, "mug"));
    assert_eq!(search_in(&ix, "mug trav"), [1]);
}

#[test]
fn one_typo_in_words_of_five_letters_or_more() {
    let ix = index();
    assert_eq!(search_in(&ix, "stainles steel "), [1]);
    assert_eq!(search_in(&ix, "stanless "), [1, 10]);
    assert_eq!(search_in(&ix, "kettel "), Vec::<u32>::new(), "a transposition is two edits");
    assert_eq!(search_in(&ix, "ketle "), [10]);
    // Four letters: no typo allowed ("lamb" is not "lamp").
    assert_eq!(search_in(&ix, "lamb "), Vec::<u32>::new());
    // Two typos are too many.
    assert_eq!(search_in(&ix, "stanles "), Vec::<u32>::new());
}

#[test]
fn exact_words_rank_above_prefixes_above_typos() {
    let ix = index();
    // "lamp" typed: the table lamp (exact) first; the lacquer (exact, in an attribute) next; the lampshade (prefix)
    // last.
    let found = search_in(&ix, "lamp");
    assert_eq!(found, [2, 4, 3]);
    let hits = ix.search(&TextQuery::parse("lamp"), 10, &|_| true).unwrap();
    assert!(hits[0].quality > hits[2].quality);
    // The same kind of match in both: the title (p1) ranks above the brand (p10).
    assert_eq!(search_in(&ix, "stainless "), [1, 10]);
}

#[test]
fn title_words_weigh_more_than_other_fields() {
    let ix = index();
    // "lamp" is in the title of p2 and in an attribute of p4: both exact, the title wins.
    let hits = ix.search(&TextQuery::parse("lamp "), 10, &|_| true).unwrap();
    assert_eq!(hits.iter().map(|h| h.product).collect::<Vec<_>>(), [2, 4]);
    assert!(hits[0].score > hits[1].score);
}

#[test]
fn every_word_must_match_unless_none_matches_all() {
    let ix = index();
    assert_eq!(search_in(&ix, "steel mug "), [1]);
    // No product has both: the ones with the most words come back.
    let found = search_in(&ix, "kettle jacket ");
    assert_eq!(found.len(), 2);
    assert!(search_in(&ix, "").is_empty());
    assert!(search_in(&ix, " ,. ").is_empty());
    assert!(search_in(&ix, "zzzzzz").is_empty());
}

#[test]
fn filters_and_k_apply() {
    let ix = index();
    let mugs = ix.search(&TextQuery::parse("mug "), 20, &|p| p != 0).unwrap();
    assert_eq!(mugs.iter().map(|h| h.product).collect::<Vec<_>>(), [1]);
    // While typing, "mug" also reaches the category name "Mugs".
    let mut typing = search_in(&ix, "mug");
    assert_eq!(typing[..2].iter().min(), Some(&0), "the exact matches first");
    typing.sort();
    assert_eq!(typing, [0, 1, 5, 6, 7]);
    assert_eq!(ix.search(&TextQuery::parse("home "), 3, &|_| true).unwrap().len(), 3);
}

#[test]
fn ids_are_found() {
    let ix = index();
    assert_eq!(ix.find("p3"), Some(3));
    assert_eq!(ix.find("p"), None);
    assert_eq!(ix.find("p30"), None);
}

#[test]
fn the_section_round_trips_and_damage_is_an_error_never_a_panic() {
    let ix = index();
    let bytes = ix.encode();
    let back = TextIndex::decode(&bytes, 11).unwrap();
    assert_eq!(back.encode(), bytes);
    assert_eq!(search_in(&back, "cafe"), [0]);
    assert!(TextIndex::decode(&bytes, 12).is_err());
    for cut in 0..bytes.len() {
        assert!(TextIndex::decode(&bytes[..cut], 11).is_err());
    }
    // Flip every bit, one at a time: decoding fails or gives an index whose queries succeed or fail cleanly.
    for i in 0..bytes.len() * 8 {
        let mut bad = bytes.clone();
        bad[i / 8] ^= 1 << (i % 8);
        if let Ok(ix) = TextIndex::decode(&bad, 11) {
            for q in ["cafe", "stainles ", "lamp", "p"] {
                let _ = ix.search(&TextQuery::parse(q), 5, &|_| true);
            }
            let _ = ix.find("p3");
        }
    }
}
