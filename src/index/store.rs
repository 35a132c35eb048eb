//! The stored vectors: f32, or int8 with one scale per vector (a quarter of the bytes or less). The int8
//! codes of a vector span `-code_max..=code_max` (at most 127): a narrower span compresses better under zstd and,
//! on real embeddings, ranks neighbours as well (docs/shard-format.md).

use half::f16;

use super::pca::dot;
use crate::error::Result;
use crate::wire::{put_f32, put_u32, ByteReader};

/// Largest magnitude of a stored coordinate in a valid file: `|P (x - mean)| <= |x - mean| <= 2` for unit `x`, plus
/// rounding. Checking every coordinate against it (for int8, each vector's largest code times its scale) keeps every
/// score of a decoded index finite and no larger than a valid build's.
const MAX_VALUE: f32 = 2.1;

const F32: u32 = 0;
const I8: u32 = 1;

/// Row-major stored vectors of one dimension.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Store {
    F32 {
        dim: usize,
        data: Vec<f32>,
    },
    /// `vector[n][i] = codes[n * dim + i] * scales[n]`.
    I8 {
        dim: usize,
        codes: Vec<i8>,
        scales: Vec<f32>,
    },
}

impl Store {
    /// Stores `rows` (each of `dim`) as f32, or as int8 codes in `-code_max..=code_max` (clamped to `1..=127`).
    pub(crate) fn new(rows: &[Vec<f32>], dim: usize, code_max: Option<u8>) -> Self {
        let Some(code_max) = code_max else {
            return Store::F32 { dim, data: rows.concat() };
        };
        let span = f32::from(code_max.clamp(1, 127));
        let mut codes = Vec::with_capacity(rows.len() * dim);
        let mut scales = Vec::with_capacity(rows.len());
        for row in rows {
            let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
            // Stored as f16: round first so codes are made with the scale readers will use.
            let scale = f16::from_f32(max / span).to_f32();
            let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            codes.extend(row.iter().map(|x| (x * inv).round().clamp(-span, span) as i8));
            scales.push(scale);
        }
        Store::I8 { dim, codes, scales }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Store::F32 { dim, data } => data.len() / (*dim).max(1),
            Store::I8 { scales, .. } => scales.len(),
        }
    }

    pub(crate) fn is_quantized(&self) -> bool {
        matches!(self, Store::I8 { .. })
    }

    /// `vector[n] . q`; `n < len()` and `q.len() == dim()` are the caller's invariants.
    pub(crate) fn dot(&self, n: usize, q: &[f32]) -> f32 {
        match self {
            Store::F32 { dim, data } => dot(&data[n * dim..(n + 1) * dim], q),
            Store::I8 { dim, codes, scales } => {
                let codes = &codes[n * dim..(n + 1) * dim];
                let mut acc = [0f32; 8];
                let (cc, qc) = (codes.chunks_exact(8), q.chunks_exact(8));
                let tail: f32 = cc.remainder().iter().zip(qc.remainder()).map(|(&c, y)| f32::from(c) * y).sum();
                for (c, y) in cc.zip(qc) {
                    for k in 0..8 {
                        acc[k] += f32::from(c[k]) * y[k];
                    }
                }
                (acc.iter().sum::<f32>() + tail) * scales[n]
            }
        }
    }

    /// `vector[n] . vector[n]`; `n < len()` is the caller's invariant.
    pub(crate) fn self_dot(&self, n: usize) -> f32 {
        match self {
            Store::F32 { dim, data } => {
                let row = &data[n * dim..(n + 1) * dim];
                dot(row, row)
            }
            Store::I8 { dim, codes, scales } => {
                // Exact in integers (at most 128^2 * MAX_DIM = 2^30), then one rounding.
                let sum: i32 = codes[n * dim..(n + 1) * dim].iter().map(|&c| i32::from(c) * i32::from(c)).sum();
                sum as f32 * scales[n] * scales[n]
            }
        }
    }

    /// Vector `n` as f32.
    pub(crate) fn get(&self, n: usize) -> Vec<f32> {
        match self {
            Store::F32 { dim, data } => data[n * dim..(n + 1) * dim].to_vec(),
            Store::I8 { dim, codes, scales } => {
                codes[n * dim..(n + 1) * dim].iter().map(|&c| f32::from(c) * scales[n]).collect()
            }
        }
    }

    /// Section bytes: `u32` encoding, then f32 rows; or all scales (f16), then the codes dimension-major (each
    /// dimension's codes together compress ~3% better: zstd's entropy tables adapt to each dimension's spread).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Store::F32 { data, .. } => {
                put_u32(&mut out, F32);
                data.iter().for_each(|&x| put_f32(&mut out, x));
            }
            Store::I8 { dim, codes, scales } => {
                put_u32(&mut out, I8);
                scales.iter().for_each(|&s| out.extend_from_slice(&f16::from_f32(s).to_le_bytes()));
                for i in 0..*dim {
                    out.extend(codes.iter().skip(i).step_by(*dim).map(|&c| c as u8));
                }
            }
        }
        out
    }

    /// The largest section either encoding of `count` vectors of `dim` takes.
    pub(crate) fn max_encoded_len(count: usize, dim: usize) -> Option<usize> {
        let f32s = count.checked_mul(dim)?.checked_mul(4)?;
        let int8 = count.checked_mul(dim.checked_add(2)?)?;
        f32s.max(int8).checked_add(4)
    }

    /// Reads what [`Store::encode`] wrote: exactly `count` vectors of `dim`, all finite, scales non-negative.
    pub(crate) fn decode(bytes: &[u8], count: usize, dim: usize) -> Result<Self> {
        let mut r = ByteReader::new(bytes, "vectors");
        let values = count.checked_mul(dim).ok_or_else(|| r.error("size overflows"))?;
        let store = match r.u32()? {
            F32 => {
                let data = r.take(values.checked_mul(4).ok_or_else(|| r.error("size overflows"))?)?;
                let data: Vec<f32> =
                    data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                if !data.iter().all(|x| x.abs() <= MAX_VALUE) {
                    return Err(r.error(format!("value outside [-{MAX_VALUE}, {MAX_VALUE}] or not finite")));
                }
                Store::F32 { dim, data }
            }
            I8 => {
                let scales = r.take(count.checked_mul(2).ok_or_else(|| r.error("size overflows"))?)?;
                let scales: Vec<f32> =
                    scales.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect();
                if !scales.iter().all(|s| (0.0..=MAX_VALUE * 1.01).contains(s)) {
                    return Err(r.error("scale negative, too large or not finite"));
                }
                let columns = r.take(values)?;
                let mut codes = vec![0i8; values];
                // Back to rows a block of vectors at a time, so the rows being written stay in cache.
                for start in (0..count).step_by(64) {
                    let end = (start + 64).min(count);
                    for i in 0..dim {
                        for n in start..end {
                            codes[n * dim + i] = columns[i * count + n] as i8;
                        }
                    }
                }
                // Whatever the span, a valid build's largest code times its scale is its largest coordinate. Only
                // rows whose scale could break the bound with a code of 128 need a look (none, in a valid build of
                // unit vectors at the default span), which keeps this off the open time.
                let limit = MAX_VALUE * 1.01;
                for (row, &s) in codes.chunks_exact(dim.max(1)).zip(&scales).filter(|(_, &s)| s * 128.0 > limit) {
                    let largest = row.iter().map(|c| c.unsigned_abs()).max().unwrap_or(0);
                    if f32::from(largest) * s > limit {
                        return Err(r.error(format!("a coordinate outside [-{limit}, {limit}]")));
                    }
                }
                Store::I8 { dim, codes, scales }
            }
            other => return Err(r.error(format!("unknown encoding {other}"))),
        };
        r.finish()?;
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_is_close_and_round_trips() {
        let rows = vec![vec![0.5, -0.25, 0.125, 0.0, 0.3], vec![0.0; 5], vec![-1.0, 1.0, 0.01, 0.2, 0.7]];
        assert_eq!(Store::new(&rows, 5, Some(127)).encode()[4 + 6..4 + 6 + 3], [127, 0, 129]);
        let q = [0.1, 0.2, 0.3, 0.4, 0.5];
        let exact = Store::new(&rows, 5, None);
        let int8 = Store::new(&rows, 5, Some(127));
        for n in 0..3 {
            assert!((exact.dot(n, &q) - int8.dot(n, &q)).abs() < 0.01);
        }
        for s in [exact, int8] {
            assert_eq!(s.len(), 3);
            let bytes = s.encode();
            assert!(bytes.len() <= Store::max_encoded_len(3, 5).unwrap());
            assert_eq!(Store::decode(&bytes, 3, 5).unwrap(), s);
            assert!(Store::decode(&bytes, 3, 4).is_err());
            assert!(Store::decode(&bytes, 4, 5).is_err());
            assert!(Store::decode(&bytes[..bytes.len() - 1], 3, 5).is_err());
        }
    }

    #[test]
    fn narrow_codes_stay_in_their_span_and_close() {
        let rows = vec![vec![0.5, -0.25, 0.125, 0.0, 0.3], vec![-1.0, 1.0, 0.01, 0.2, 0.7]];
        let q = [0.1, 0.2, 0.3, 0.4, 0.5];
        let exact = Store::new(&rows, 5, None);
        for span in [45u8, 1] {
            let store = Store::new(&rows, 5, Some(span));
            let Store::I8 { codes, .. } = &store else { panic!("not int8") };
            assert!(codes.iter().all(|c| c.unsigned_abs() <= span));
            assert!(codes.iter().any(|c| c.unsigned_abs() == span));
            // Half a step per coordinate at most: |error| <= scale / 2 * sum |q|.
            for (n, row) in rows.iter().enumerate() {
                let bound = row.iter().fold(0f32, |m, x| m.max(x.abs())) / f32::from(span) * 0.5 * 1.5 * 1.01;
                assert!((exact.dot(n, &q) - store.dot(n, &q)).abs() <= bound, "span {span}");
            }
            assert_eq!(Store::decode(&store.encode(), 2, 5).unwrap(), store);
        }
    }

    #[test]
    fn the_coordinate_bound_accepts_what_builds_make() {
        // The largest coordinate a valid build stores is about 2 (|x - mean| for unit x): any span must round-trip.
        let rows = vec![vec![2.0, -0.5, 0.001], vec![-2.0, 1.999, 0.0], vec![0.0; 3]];
        for span in [1u8, 2, 45, 127] {
            let store = Store::new(&rows, 3, Some(span));
            assert_eq!(Store::decode(&store.encode(), 3, 3).unwrap(), store, "span {span}");
        }
    }

    #[test]
    fn bad_values_are_errors() {
        let mut bytes = Store::new(&[vec![0.1, 0.2]], 2, Some(127)).encode();
        bytes[4..6].copy_from_slice(&half::f16::from_f32(-1.0).to_le_bytes());
        assert!(Store::decode(&bytes, 1, 2).is_err());
        // A scale allowed for a span of 1 but with a code of 127: a coordinate no build makes.
        bytes[4..6].copy_from_slice(&half::f16::from_f32(2.0).to_le_bytes());
        assert!(Store::decode(&bytes, 1, 2).is_err());
        bytes[6..8].copy_from_slice(&[1, 0]);
        assert!(Store::decode(&bytes, 1, 2).is_ok());
        let mut bytes = Store::new(&[vec![0.1, 0.2]], 2, None).encode();
        bytes[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(Store::decode(&bytes, 1, 2).is_err());
        bytes[4..8].copy_from_slice(&3f32.to_le_bytes());
        assert!(Store::decode(&bytes, 1, 2).is_err());
        assert!(Store::decode(&[7, 0, 0, 0], 0, 2).is_err());
    }
}
