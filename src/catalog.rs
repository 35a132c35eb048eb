//! Product records: what a search hit points at, and their JSON-lines encoding inside a shard.

use std::collections::{BTreeMap, HashSet};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest encoded product record, in bytes: bounds what a hostile shard can make the reader allocate per product.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// One product of a shop's catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// The shop's product id, unique within a shard.
    pub id: String,
    /// Display title.
    pub title: String,
    /// Category path, like `Home/Kitchen/Mugs`.
    pub category: String,
    /// Price in `currency`.
    pub price: f64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Brand name.
    #[serde(default)]
    pub brand: Option<String>,
    /// Product page.
    #[serde(default)]
    pub url: Option<String>,
    /// Free-form attributes (colour, size, ...); a sorted map so encoding is deterministic.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// Encodes products as JSON lines: compact, readable after `zstd -d`, and tolerant of new optional fields.
pub(crate) fn encode_records(products: &[Product]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut ids = HashSet::with_capacity(products.len());
    for (i, p) in products.iter().enumerate() {
        if !p.price.is_finite() {
            return Err(Error::Catalog(format!("product {:?} has price {}", p.id, p.price)));
        }
        if !ids.insert(p.id.as_str()) {
            return Err(Error::Catalog(format!("product id {:?} appears twice", p.id)));
        }
        let start = out.len();
        serde_json::to_writer(&mut out, p)?;
        if out.len() - start > MAX_RECORD_BYTES {
            return Err(Error::Catalog(format!(
                "product {i} ({:?}) encodes to more than {MAX_RECORD_BYTES} bytes",
                p.id
            )));
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// Decodes exactly `count` JSON lines, each at most [`MAX_RECORD_BYTES`], with unique ids.
pub(crate) fn decode_records(bytes: &[u8], count: usize) -> Result<Vec<Product>> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let lines = if bytes.is_empty() { 0 } else { body.split(|&b| b == b'\n').count() };
    if lines != count || (count > 0 && !bytes.ends_with(b"\n")) {
        return Err(Error::shard(format!("products: {lines} records, the header says {count}")));
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    // JSON parsing is most of the time a shard takes to open (~1.5 us a record): use every core.
    let products: Vec<Product> = lines
        .par_iter()
        .enumerate()
        .map(|(i, line)| {
            if line.len() > MAX_RECORD_BYTES {
                return Err(Error::shard(format!("products: record {i} is longer than {MAX_RECORD_BYTES} bytes")));
            }
            serde_json::from_slice(line).map_err(|e| Error::shard(format!("products: record {i}: {e}")))
        })
        .collect::<Result<_>>()?;
    let mut ids = HashSet::with_capacity(count);
    if let Some(p) = products.iter().find(|p| !ids.insert(p.id.as_str())) {
        return Err(Error::shard(format!("products: id {:?} appears twice", p.id)));
    }
    Ok(products)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn product(i: usize) -> Product {
        Product {
            id: format!("sku-{i:05}"),
            title: format!("Stoneware mug no. {i}"),
            category: "Home/Kitchen/Mugs".into(),
            price: 4.5 + i as f64,
            currency: "EUR".into(),
            brand: (i % 2 == 0).then(|| "Acme".into()),
            url: None,
            attributes: [("colour".to_string(), "blue\nand \"white\"".to_string())].into(),
        }
    }

    #[test]
    fn records_round_trip() {
        let products: Vec<_> = (0..5).map(product).collect();
        let bytes = encode_records(&products).unwrap();
        assert_eq!(decode_records(&bytes, 5).unwrap(), products);
        assert_eq!(decode_records(b"", 0).unwrap(), vec![]);
    }

    #[test]
    fn bad_records_are_errors() {
        let products: Vec<_> = (0..3).map(product).collect();
        let bytes = encode_records(&products).unwrap();
        assert!(decode_records(&bytes, 2).is_err());
        assert!(decode_records(&bytes, 4).is_err());
        assert!(decode_records(&bytes[..bytes.len() - 1], 3).is_err());
        assert!(decode_records(b"\n", 1).is_err());
        let twice = [bytes.clone(), bytes].concat();
        assert!(matches!(decode_records(&twice, 6), Err(Error::Shard(_))));
        let mut nan = product(0);
        nan.price = f64::NAN;
        assert!(matches!(encode_records(&[nan]), Err(Error::Catalog(_))));
        assert!(matches!(encode_records(&[product(1), product(1)]), Err(Error::Catalog(_))));
    }
}
