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
