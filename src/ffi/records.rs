//! The records that cross the FFI (copied field by field, as UniFFI does) and their conversions to the core types.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::frame::{self, ColorRange, CropRect, Plane, Rotation};
use crate::search::{DEFAULT_EF, DEFAULT_TOP_K};
use crate::{catalog, engine, search, shard};

// The `#[uniffi(default = ..)]` literals below must be literals; this keeps them equal to the core's defaults.
const _: () = assert!(DEFAULT_TOP_K == 10 && DEFAULT_EF == 64, "update SearchOptions' uniffi defaults");

/// How the engine runs; every field has a default.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct EngineOptions {
    /// Inference threads; 0 picks the number of cores, at most 4.
    #[uniffi(default = 0)]
    pub threads: u32,
    /// Most bytes the open shards may take together, counted as their decompressed size; `add_shard` refuses a shard
    /// that would go past it with `MemoryBudgetExceeded`. None: no limit.
    #[uniffi(default = None)]
    pub memory_budget_bytes: Option<u64>,
}

/// What to search for and how; every field has a default.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct SearchOptions {
    /// Number of products to return, 1..=1000.
    #[uniffi(default = 10)]
    pub top_k: u32,
    /// Only products in this category or below it (`Home/Kitchen` keeps `Home/Kitchen/Mugs`).
    #[uniffi(default = None)]
    pub category: Option<String>,
    /// Only products at this price or above.
    #[uniffi(default = None)]
    pub min_price: Option<f64>,
    /// Only products at this price or below.
    #[uniffi(default = None)]
    pub max_price: Option<f64>,
    /// Search beam width: higher finds more of the true neighbours, slower.
    #[uniffi(default = 64)]
    pub ef: u32,
}

impl Default for SearchOptions {
    fn default() -> Self {
        search::SearchOptions::default().into()
    }
}

impl From<search::SearchOptions> for SearchOptions {
    fn from(o: search::SearchOptions) -> Self {
        SearchOptions {
            top_k: o.top_k.try_into().unwrap_or(u32::MAX),
            category: o.category,
            min_price: o.min_price,
            max_price: o.max_price,
            ef: o.ef.try_into().unwrap_or(u32::MAX),
        }
    }
}

impl From<SearchOptions> for search::SearchOptions {
    fn from(o: SearchOptions) -> Self {
        search::SearchOptions {
            top_k: o.top_k as usize,
            category: o.category,
            min_price: o.min_price,
            max_price: o.max_price,
            ef: o.ef as usize,
        }
    }
}

/// One product of the shop's catalog.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
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
    pub brand: Option<String>,
    /// Product page.
    pub url: Option<String>,
    /// Free-form attributes (colour, size, ...).
    pub attributes: HashMap<String, String>,
}

impl From<catalog::Product> for Product {
    fn from(p: catalog::Product) -> Self {
        Product {
            id: p.id,
            title: p.title,
            category: p.category,
            price: p.price,
            currency: p.currency,
            brand: p.brand,
            url: p.url,
            attributes: p.attributes.into_iter().collect(),
        }
    }
}

/// One product found.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Match {
    /// The product.
    pub product: Product,
    /// Higher is better: for visual search and similar products the cosine similarity with the product's best view
    /// (estimated from the compressed vectors the shard stores, so it can exceed 1 slightly), for keyword search a
    /// text relevance score.
    pub score: f32,
    /// 1-based position in the results.
    pub rank: u32,
    /// The shard the product came from.
    pub shard_id: String,
}

impl From<search::Match> for Match {
    fn from(m: search::Match) -> Self {
        Match { product: m.product.into(), score: m.score, rank: m.rank, shard_id: m.shard_id }
    }
}

/// Milliseconds spent per stage.
#[derive(Clone, Copy, Debug, PartialEq, uniffi::Record)]
pub struct Timings {
    /// Decoding the photo (zero for camera frames).
    pub decode_ms: f64,
    /// Frame or photo to model input.
    pub preprocess_ms: f64,
    /// Model inference.
    pub embed_ms: f64,
    /// Vector search over the open shards.
    pub search_ms: f64,
}

/// Products found for one photo or frame.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct SearchResults {
    /// Best first.
    pub matches: Vec<Match>,
    /// Time spent per stage.
    pub timings: Timings,
}

impl From<engine::SearchResults> for SearchResults {
    fn from(r: engine::SearchResults) -> Self {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let t = r.timings;
        SearchResults {
            matches: r.matches.into_iter().map(Into::into).collect(),
            timings: Timings {
                decode_ms: ms(t.decode),
                preprocess_ms: ms(t.preprocess),
                embed_ms: ms(t.embed),
                search_ms: ms(t.search),
            },
        }
    }
}

/// An open catalog shard.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ShardInfo {
    /// Names the shard; `remove_shard` takes it.
    pub shard_id: String,
    /// The catalog's own version label.
    pub catalog_version: String,
    /// Number of products.
    pub product_count: u32,
    /// Number of product photos indexed.
    pub vector_count: u32,
    /// The model the shard was built with.
    pub model_id: String,
    /// Build time, Unix seconds.
    pub created_at: u64,
}

impl From<shard::ShardHeader> for ShardInfo {
    fn from(h: shard::ShardHeader) -> Self {
        ShardInfo {
            shard_id: h.shard_id,
            catalog_version: h.catalog_version,
            product_count: h.product_count,
            vector_count: h.vector_count,
            model_id: h.model_id,
            created_at: h.created_at,
        }
    }
}

/// How a camera frame's pixels are laid out, and which planes it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum FrameFormat {
    /// Two planes: Y, then interleaved V/U (Android's camera default).
    Nv21,
    /// Two planes: Y, then interleaved U/V (iOS `420YpCbCr8BiPlanar*`: CVPixelBuffer planes 0 and 1).
    Nv12,
    /// Three planes Y, U, V, each with its own row and pixel stride: Android `ImageProxy` / `Image` in
    /// `YUV_420_888` (`planes[0..3]` as they are), and I420.
    Yuv420888,
    /// One plane of R, G, B, A bytes.
    Rgba8888,
    /// One plane of B, G, R, A bytes (iOS `32BGRA`).
    Bgra8888,
}

/// One plane of a camera frame.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FramePlane {
    /// The plane's bytes from its first sample; the last row may stop at its last sample.
    pub bytes: Vec<u8>,
    /// Bytes from one row to the next (Android `rowStride`, iOS `bytesPerRowOfPlane`).
    pub row_stride: u32,
    /// Bytes from one sample to the next within a row (Android `pixelStride`). None: the format's own (1 for Y and
    /// I420 chroma, 2 for interleaved chroma, 4 for RGBA/BGRA); only `Yuv420888` allows another value.
    #[uniffi(default = None)]
    pub pixel_stride: Option<u32>,
}

/// A rectangle in the frame's own, unrotated pixel coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CropBox {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width, at least 1.
    pub width: u32,
    /// Height, at least 1.
    pub height: u32,
}

/// A camera frame as the platform delivers it. Every size, stride and plane length is checked before use.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CameraFrame {
    /// Pixel layout; it fixes how many planes there are.
    pub format: FrameFormat,
    /// Width of the buffers in pixels, before rotation.
    pub width: u32,
    /// Height of the buffers in pixels, before rotation.
    pub height: u32,
    /// The planes in the format's order.
    pub planes: Vec<FramePlane>,
    /// Degrees clockwise the frame must be turned to be upright (Android `imageInfo.rotationDegrees`); a multiple
    /// of 90.
    #[uniffi(default = 0)]
    pub rotation_degrees: i32,
    /// Mirror the upright image left to right (front cameras).
    #[uniffi(default = false)]
    pub mirrored: bool,
    /// Only this part of the frame, in its unrotated coordinates (Android `cropRect`).
    #[uniffi(default = None)]
    pub crop: Option<CropBox>,
    /// YUV samples use 0..=255 (Android cameras, iOS `FullRange` buffers); false for video range (16..=235, iOS
    /// `VideoRange`). Ignored for RGBA/BGRA.
    #[uniffi(default = true)]
    pub full_range: bool,
}

impl CameraFrame {
    /// The core frame borrowing this record's planes; every inconsistency is an [`Error::InvalidFrame`].
    pub(crate) fn to_core(&self) -> Result<frame::CameraFrame<'_>> {
        use FrameFormat::*;
        let (w, h) = (self.width, self.height);
        let frame = match (self.format, &self.planes[..]) {
            (Nv21, [y, vu]) => {
                fixed_pixel_stride("Y", y, 1)?;
                fixed_pixel_stride("VU", vu, 2)?;
                frame::CameraFrame::nv21(w, h, &y.bytes, y.row_stride as usize, &vu.bytes, vu.row_stride as usize)?
            }
            (Nv12, [y, uv]) => {
                fixed_pixel_stride("Y", y, 1)?;
                fixed_pixel_stride("UV", uv, 2)?;
                frame::CameraFrame::nv12(w, h, &y.bytes, y.row_stride as usize, &uv.bytes, uv.row_stride as usize)?
            }
            (Yuv420888, [y, u, v]) => frame::CameraFrame::yuv_420_888(w, h, plane(y), plane(u), plane(v))?,
            (Rgba8888, [p]) => {
                fixed_pixel_stride("RGBA", p, 4)?;
                frame::CameraFrame::rgba(w, h, &p.bytes, p.row_stride as usize)?
            }
            (Bgra8888, [p]) => {
                fixed_pixel_stride("BGRA", p, 4)?;
                frame::CameraFrame::bgra(w, h, &p.bytes, p.row_stride as usize)?
            }
            (format, planes) => {
                let wanted = match format {
                    Nv21 | Nv12 => 2,
                    Yuv420888 => 3,
                    Rgba8888 | Bgra8888 => 1,
                };
                return Err(Error::frame(format!("{format:?} has {wanted} planes, the frame gives {}", planes.len())));
            }
        };
        let range = if self.full_range { ColorRange::Full } else { ColorRange::Video };
        let frame = frame
            .with_rotation(Rotation::from_degrees(self.rotation_degrees)?)
            .with_mirrored(self.mirrored)
            .with_range(range);
        match self.crop {
            Some(c) => frame.with_crop(CropRect { x: c.x, y: c.y, width: c.width, height: c.height }),
            None => Ok(frame),
        }
    }
}

fn plane(p: &FramePlane) -> Plane<'_> {
    Plane { data: &p.bytes, row_stride: p.row_stride as usize, pixel_stride: p.pixel_stride.unwrap_or(1) as usize }
}

/// Formats with a fixed pixel stride accept none or exactly that one, so a wrong guess is an error, not a skew.
fn fixed_pixel_stride(name: &str, p: &FramePlane, stride: u32) -> Result<()> {
    match p.pixel_stride {
        Some(s) if s != stride => Err(Error::frame(format!(
            "{name} pixel stride {s} is not supported by this format (it is {stride}; use Yuv420888 for other strides)"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nv21(w: u32, h: u32) -> CameraFrame {
        let (w_, h_) = (w as usize, h as usize);
        CameraFrame {
            format: FrameFormat::Nv21,
            width: w,
            height: h,
            planes: vec![
                FramePlane { bytes: vec![0; w_ * h_], row_stride: w, pixel_stride: None },
                FramePlane { bytes: vec![128; w_ * h_ / 2], row_stride: w, pixel_stride: Some(2) },
            ],
            rotation_degrees: -90,
            mirrored: true,
            crop: Some(CropBox { x: 2, y: 2, width: 4, height: 4 }),
            full_range: false,
        }
    }

    fn frame_error(f: &CameraFrame) -> String {
        match f.to_core() {
            Err(Error::InvalidFrame(m)) => m,
            other => panic!("expected InvalidFrame, got {other:?}"),
        }
    }

    #[test]
    fn frame_fields_reach_the_core() {
        let f = nv21(8, 6);
        let core = f.to_core().unwrap();
        assert_eq!(core.format(), frame::PixelFormat::Nv21);
        assert_eq!(core.rotation(), Rotation::Deg270);
        assert!(core.mirrored());
        assert_eq!(core.region(), CropRect { x: 2, y: 2, width: 4, height: 4 });
    }

    #[test]
    fn plane_count_and_fixed_strides_are_checked() {
        let mut f = nv21(8, 6);
        f.planes.pop();
        assert_eq!(frame_error(&f), "Nv21 has 2 planes, the frame gives 1");
        let mut f = nv21(8, 6);
        f.planes[1].pixel_stride = Some(1);
        assert!(frame_error(&f).starts_with("VU pixel stride 1 is not supported"));
        let mut f = nv21(8, 6);
        f.rotation_degrees = 45;
        assert!(frame_error(&f).contains("multiple of 90"));
    }
}
