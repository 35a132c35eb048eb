//! Product records: what a search hit points at, and their encoding inside a shard.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::wire::{put_u32, put_varint, ByteReader};

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

/// Longest product id, in bytes: ids are keys (SKUs, slugs), and the id dictionary's open-time check scales with it.
pub const MAX_ID_BYTES: usize = 256;

/// Most distinct category or currency strings one shard may hold.
const MAX_DISTINCT: usize = 1 << 20;

/// Encodes products column by column (ids, titles, ... each together): like values sit side by side so zstd finds
/// them, category and currency strings are stored once, and decoding is a few string copies per product, about ten
/// times faster than the JSON lines of format 1.
pub(crate) fn encode_records(products: &[Product]) -> Result<Vec<u8>> {
    let mut ids = HashSet::with_capacity(products.len());
    for (i, p) in products.iter().enumerate() {
        if !p.price.is_finite() {
            return Err(Error::Catalog(format!("product {:?} has price {}", p.id, p.price)));
        }
        if !ids.insert(p.id.as_str()) {
            return Err(Error::Catalog(format!("product id {:?} appears twice", p.id)));
        }
        if p.id.is_empty() || p.id.len() > MAX_ID_BYTES {
            return Err(Error::Catalog(format!("product {i}: id must be 1 to {MAX_ID_BYTES} bytes")));
        }
        if record_len(p) > MAX_RECORD_BYTES {
            return Err(Error::Catalog(format!("product {i} ({:?}) is larger than {MAX_RECORD_BYTES} bytes", p.id)));
        }
    }
    let mut out = Vec::new();
    put_u32(&mut out, products.len() as u32);
    for column in [(|p| &p.id) as fn(&Product) -> &String, |p| &p.title] {
        products.iter().for_each(|p| put_str(&mut out, column(p)));
    }
    for column in [(|p| &p.category) as fn(&Product) -> &String, |p| &p.currency] {
        let mut table: Vec<&str> = products.iter().map(|p| column(p).as_str()).collect();
        table.sort_unstable();
        table.dedup();
        put_varint(&mut out, table.len() as u32);
        table.iter().for_each(|s| put_str(&mut out, s));
        for p in products {
            // `table` holds every value, so the search always finds it.
            put_varint(&mut out, table.binary_search(&column(p).as_str()).unwrap_or_default() as u32);
        }
    }
    products.iter().for_each(|p| out.extend_from_slice(&p.price.to_le_bytes()));
    for column in [(|p| &p.brand) as fn(&Product) -> &Option<String>, |p| &p.url] {
        for p in products {
            match column(p) {
                None => put_varint(&mut out, 0),
                Some(s) => {
                    put_varint(&mut out, s.len() as u32 + 1);
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
    }
    for p in products {
        put_varint(&mut out, p.attributes.len() as u32);
        for (k, v) in &p.attributes {
            put_str(&mut out, k);
            put_str(&mut out, v);
        }
    }
    Ok(out)
}

/// Bytes of a product's strings: what [`MAX_RECORD_BYTES`] bounds.
fn record_len(p: &Product) -> usize {
    let strings = [&p.id, &p.title, &p.category, &p.currency].into_iter().chain(&p.brand).chain(&p.url);
    strings.map(String::len).sum::<usize>() + p.attributes.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

fn str_at(r: &mut ByteReader<'_>) -> Result<String> {
    let len = r.varint()? as usize;
    if len > MAX_RECORD_BYTES {
        return Err(r.error(format!("string of {len} bytes is longer than a record may be")));
    }
    let bytes = r.take(len)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| r.error("string is not UTF-8"))
}

/// Decodes exactly `count` products with unique ids; every length and table index is checked before use.
pub(crate) fn decode_records(bytes: &[u8], count: usize) -> Result<Vec<Product>> {
    let mut r = ByteReader::new(bytes, "products");
    let n = r.u32()? as usize;
    if n != count {
        return Err(r.error(format!("{n} records, the header says {count}")));
    }
    // Each product takes at least 12 bytes (8 of price, one length or index per other column).
    if count > r.remaining() / 12 {
        return Err(r.error(format!("{} bytes cannot hold {count} records", r.remaining())));
    }
    let ids = (0..count).map(|_| str_at(&mut r)).collect::<Result<Vec<_>>>()?;
    if let Some(id) = ids.iter().find(|id| id.is_empty() || id.len() > MAX_ID_BYTES) {
        return Err(r.error(format!("an id of {} bytes (1 to {MAX_ID_BYTES} allowed)", id.len())));
    }
    let titles = (0..count).map(|_| str_at(&mut r)).collect::<Result<Vec<_>>>()?;
    let mut tabled = || -> Result<Vec<String>> {
        let distinct = r.varint()? as usize;
        if distinct > MAX_DISTINCT.min(count.max(1)) {
            return Err(r.error(format!("{distinct} distinct values for {count} records")));
        }
        let table = (0..distinct).map(|_| str_at(&mut r)).collect::<Result<Vec<_>>>()?;
        (0..count)
            .map(|_| {
                let i = r.varint()? as usize;
                table.get(i).cloned().ok_or_else(|| r.error(format!("value {i} of a table of {distinct}")))
            })
            .collect()
    };
    let categories = tabled()?;
    let currencies = tabled()?;
    let mut prices = Vec::with_capacity(count);
    for _ in 0..count {
        let price = f64::from_le_bytes(r.take(8)?.try_into().map_err(|_| r.error("short price"))?);
        if !price.is_finite() {
            return Err(r.error(format!("price {price} is not a number")));
        }
        prices.push(price);
    }
    let mut optional = || -> Result<Vec<Option<String>>> {
        (0..count)
            .map(|_| {
                let len = r.varint()? as usize;
                if len == 0 {
                    return Ok(None);
                }
                if len - 1 > MAX_RECORD_BYTES {
                    return Err(r.error(format!("string of {} bytes is longer than a record may be", len - 1)));
                }
                let bytes = r.take(len - 1)?;
                String::from_utf8(bytes.to_vec()).map(Some).map_err(|_| r.error("string is not UTF-8"))
            })
            .collect()
    };
    let brands = optional()?;
    let urls = optional()?;
    let mut products = Vec::with_capacity(count);
    let columns = ids.into_iter().zip(titles).zip(categories).zip(currencies).zip(prices).zip(brands).zip(urls);
    for (i, ((((((id, title), category), currency), price), brand), url)) in columns.enumerate() {
        let pairs = r.varint()? as usize;
        if pairs > r.remaining() / 2 {
            return Err(r.error(format!("record {i}: {pairs} attributes in {} bytes", r.remaining())));
        }
        let mut attributes = BTreeMap::new();
        for _ in 0..pairs {
            attributes.insert(str_at(&mut r)?, str_at(&mut r)?);
        }
        let p = Product { id, title, category, price, currency, brand, url, attributes };
        if record_len(&p) > MAX_RECORD_BYTES {
            return Err(r.error(format!("record {i} is larger than {MAX_RECORD_BYTES} bytes")));
        }
        products.push(p);
    }
    r.finish()?;
    let mut seen = HashSet::with_capacity(count);
    if let Some(p) = products.iter().find(|p| !seen.insert(p.id.as_str())) {
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
            brand: i.is_multiple_of(2).then(|| "Acme".into()),
            url: None,
            attributes: [("colour".to_string(), "blue\nand \"white\"".to_string())].into(),
        }
    }

    #[test]
    fn records_round_trip() {
        let products: Vec<_> = (0..5).map(product).collect();
        let bytes = encode_records(&products).unwrap();
        assert_eq!(decode_records(&bytes, 5).unwrap(), products);
        assert_eq!(decode_records(&encode_records(&[]).unwrap(), 0).unwrap(), vec![]);
    }

    #[test]
    fn bad_records_are_errors() {
        let products: Vec<_> = (0..3).map(product).collect();
        let bytes = encode_records(&products).unwrap();
        assert!(decode_records(&bytes, 2).is_err());
        assert!(decode_records(&bytes, 4).is_err());
        assert!(decode_records(&bytes[..bytes.len() - 1], 3).is_err());
        assert!(decode_records(&[bytes.clone(), vec![0]].concat(), 3).is_err());
        assert!(decode_records(b"\n", 1).is_err());
        let mut twice = encode_records(&[product(1), product(2)]).unwrap();
        let at = twice.windows(9).position(|w| w == b"sku-00002").unwrap();
        twice[at + 8] = b'1';
        assert!(matches!(decode_records(&twice, 2), Err(Error::Shard(_))));
        // Every truncation is an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(decode_records(&bytes[..cut], 3).is_err());
        }
        let mut nan = product(0);
        nan.price = f64::NAN;
        assert!(matches!(encode_records(&[nan]), Err(Error::Catalog(_))));
        assert!(matches!(encode_records(&[product(1), product(1)]), Err(Error::Catalog(_))));
    }
}
