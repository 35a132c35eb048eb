//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::PathBuf;

use shoplens::{Photo, ShopLens};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn data(name: &str) -> Vec<u8> {
    let path = root().join("tests/data").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn model_path(kind: &str) -> PathBuf {
    root().join(format!("models/shoplens-effnet-lite0-{kind}.onnx"))
}

pub fn engine(kind: &str) -> ShopLens {
    ShopLens::open(model_path(kind)).expect("bundled model loads")
}

/// Upright RGB pixels of a test photo: (pixels, width, height).
pub fn rgb(name: &str) -> (Vec<u8>, u32, u32) {
    let img = Photo::decode(&data(name)).unwrap().to_rgb_image();
    let (w, h) = img.dimensions();
    (img.into_raw(), w, h)
}

/// Crops RGB pixels to an even-sized box.
pub fn crop_rgb(px: &[u8], width: u32, x: u32, y: u32, w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for row in y..y + h {
        let at = ((row * width + x) * 3) as usize;
        out.extend_from_slice(&px[at..at + (w * 3) as usize]);
    }
    out
}

/// Turns RGB pixels 90 degrees counter-clockwise: what a sensor mounted sideways delivers for an upright scene,
/// which then needs `rotation = 90` (clockwise) to be upright again.
pub fn rotate_ccw(px: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = vec![0u8; px.len()];
    for y in 0..h {
        for x in 0..w {
            // (x, y) goes to (y, w - 1 - x) in the h-wide result.
            let (nx, ny) = (y, w - 1 - x);
            let src = ((y * w + x) * 3) as usize;
            let dst = ((ny * h + nx) * 3) as usize;
            out[dst..dst + 3].copy_from_slice(&px[src..src + 3]);
        }
    }
    out
}

/// SplitMix64: seeded, so every generated test input is the same on every run.
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)] // an infinite generator, not an iterator
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn gaussian(&mut self) -> f32 {
        let u = ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        let v = ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    pub fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }

    /// Zipf-like: early entries are much more common, as in real catalogs.
    pub fn skewed<'a>(&mut self, from: &[&'a str]) -> &'a str {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        from[((u * u) * from.len() as f64) as usize]
    }
}
