//! Little-endian bytes for shard files: a reader that checks every length before it trusts it, and varints.
//!
//! Everything a shard section holds is read through [`ByteReader`], so a short or lying section is an
//! [`Error::Shard`] naming the section, never an out-of-bounds slice.

use crate::error::{Error, Result};

/// Reads values off a byte slice; every read checks that the bytes are there.
pub(crate) struct ByteReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> ByteReader<'a> {
    /// A reader over `bytes`; `what` names them in errors.
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        ByteReader { bytes, pos: 0, what }
    }

    /// An [`Error::Shard`] about these bytes.
    pub(crate) fn error(&self, msg: impl std::fmt::Display) -> Error {
        Error::shard(format!("{}: {msg}", self.what))
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.error(format!("needs {n} more bytes at offset {}, has {}", self.pos, self.remaining())));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn sha256(&mut self) -> Result<[u8; 32]> {
        self.array()
    }

    /// A `u32`-length-prefixed UTF-8 string of at most `max` bytes.
    pub(crate) fn string(&mut self, max: usize) -> Result<String> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(self.error(format!("string of {len} bytes is longer than {max}")));
        }
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.error("string is not UTF-8"))
    }

    /// An unsigned LEB128 varint that must fit a `u32`.
    pub(crate) fn varint(&mut self) -> Result<u32> {
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let [byte] = self.array()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| self.error("varint overflows u32"));
            }
        }
        Err(self.error("varint longer than 5 bytes"))
    }

    /// Fails unless every byte was read: trailing bytes mean the section is not what its header says.
    pub(crate) fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error(format!("{n} unexpected trailing bytes"))),
        }
    }
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_f32(out: &mut Vec<u8>, v: f32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A `u32`-length-prefixed string; callers check the length against the reader's limit first.
pub(crate) fn put_string(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

/// Unsigned LEB128: small numbers (graph gaps, product deltas) take one byte.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_overlong() {
        let mut out = Vec::new();
        for v in [0, 1, 127, 128, 300, u32::MAX] {
            put_varint(&mut out, v);
        }
        let mut r = ByteReader::new(&out, "t");
        for v in [0, 1, 127, 128, 300, u32::MAX] {
            assert_eq!(r.varint().unwrap(), v);
        }
        r.finish().unwrap();
        assert!(ByteReader::new(&[0xff; 6], "t").varint().is_err());
        assert!(ByteReader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f], "t").varint().is_err());
        assert!(ByteReader::new(&[0x80], "t").varint().is_err());
    }

    #[test]
    fn short_reads_are_errors() {
        let mut r = ByteReader::new(&[1, 2, 3], "t");
        assert!(r.u32().is_err());
        assert_eq!(r.take(3).unwrap(), &[1, 2, 3]);
        let mut out = Vec::new();
        put_string(&mut out, "héllo");
        assert_eq!(ByteReader::new(&out, "t").string(16).unwrap(), "héllo");
        assert!(ByteReader::new(&out, "t").string(2).is_err());
        assert!(ByteReader::new(&[9, 0, 0, 0, b'a'], "t").string(16).is_err());
    }
}
