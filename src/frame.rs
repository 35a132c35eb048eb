//! Camera frames as phones deliver them, validated once at construction.
//!
//! A [`CameraFrame`] borrows the app's buffers (no copy) and describes them: pixel format, planes with their row and
//! pixel strides, how far to turn the frame to make it upright, an optional crop box and the YUV range. Every size,
//! stride and buffer length is checked in the constructors, so a `CameraFrame` that exists can be read without
//! further checks.

use crate::error::{Error, Result};

/// Largest accepted width or height, in pixels.
pub const MAX_SIDE: u32 = 16384;

/// How the pixels of a frame are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    /// Y plane, then interleaved V/U at half resolution (Android's camera default).
    Nv21,
    /// Y plane, then interleaved U/V at half resolution (iOS `420YpCbCr8BiPlanar`).
    Nv12,
    /// Y, U and V planes, chroma at half resolution; also Android's `YUV_420_888` with any strides.
    I420,
    /// 8-bit R, G, B, A per pixel.
    Rgba8888,
    /// 8-bit B, G, R, A per pixel (iOS `32BGRA`).
    Bgra8888,
    /// 8-bit R, G, B per pixel (decoded photos).
    Rgb888,
}

impl PixelFormat {
    /// Whether the format is YUV 4:2:0 (and so needs even sides).
    pub fn is_yuv420(self) -> bool {
        matches!(self, PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420)
    }
}

/// Degrees clockwise the frame must be turned to be upright (Android's `rotationDegrees`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rotation {
    /// Already upright.
    #[default]
    Deg0,
    /// Turn 90 degrees clockwise.
    Deg90,
    /// Turn upside down.
    Deg180,
    /// Turn 270 degrees clockwise (90 counter-clockwise).
    Deg270,
}

impl Rotation {
    /// Parses degrees; any multiple of 90, negative ones too (-90 is 270).
    pub fn from_degrees(degrees: i32) -> Result<Self> {
        match degrees.rem_euclid(360) {
            0 => Ok(Rotation::Deg0),
            90 => Ok(Rotation::Deg90),
            180 => Ok(Rotation::Deg180),
            270 => Ok(Rotation::Deg270),
            _ => Err(Error::frame(format!("rotation must be a multiple of 90 degrees, got {degrees}"))),
        }
    }

    /// The rotation in degrees clockwise: 0, 90, 180 or 270.
    pub fn degrees(self) -> u32 {
        match self {
            Rotation::Deg0 => 0,
            Rotation::Deg90 => 90,
            Rotation::Deg180 => 180,
            Rotation::Deg270 => 270,
        }
    }

    /// Whether turning swaps width and height.
    pub fn swaps_axes(self) -> bool {
        matches!(self, Rotation::Deg90 | Rotation::Deg270)
    }
}

/// The range of YUV samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorRange {
    /// Y and chroma use 0..=255 (Android camera default, JPEG).
    #[default]
    Full,
    /// Y uses 16..=235 and chroma 16..=240 (video, iOS `VideoRange` buffers).
    Video,
}

/// A rectangle in the frame's own (unrotated) pixel coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropRect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width, at least 1.
    pub width: u32,
    /// Height, at least 1.
    pub height: u32,
}

/// One plane of pixel data: the bytes and how to step through them.
#[derive(Clone, Copy, Debug)]
pub struct Plane<'a> {
    /// The plane's bytes, starting at its first sample.
    pub data: &'a [u8],
    /// Bytes from one row to the next.
    pub row_stride: usize,
    /// Bytes from one sample to the next within a row (2 for interleaved chroma).
    pub pixel_stride: usize,
}

impl<'a> Plane<'a> {
    /// A plane whose samples are adjacent.
    pub fn new(data: &'a [u8], row_stride: usize) -> Self {
        Plane { data, row_stride, pixel_stride: 1 }
    }

    /// Checks that `cols` x `rows` samples fit in the buffer with these strides.
    fn check(&self, name: &str, cols: u32, rows: u32) -> Result<()> {
        let (cols, rows) = (cols as usize, rows as usize);
        if self.pixel_stride == 0 || self.pixel_stride > 8 {
            return Err(Error::frame(format!("{name} pixel stride {} is not in 1..=8", self.pixel_stride)));
        }
        // The bytes one row spans; rows may not overlap.
        let row_span = (cols - 1) * self.pixel_stride + 1;
        if self.row_stride < row_span {
            return Err(Error::frame(format!(
                "{name} row stride {} is smaller than a row of {cols} samples ({row_span} bytes)",
                self.row_stride
            )));
        }
        // The last row need not be padded to the full stride (Android omits it).
        let needed = (rows - 1)
            .checked_mul(self.row_stride)
            .and_then(|n| n.checked_add(row_span))
            .ok_or_else(|| Error::frame(format!("{name} plane size overflows")))?;
        if self.data.len() < needed {
            return Err(Error::frame(format!(
                "{name} plane has {} bytes, its size and strides need {needed}",
                self.data.len()
            )));
        }
        Ok(())
    }
}

/// How the three channels of a frame are to be read: colour model and one view per channel.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Channels<'a> {
    /// Y, U, V; U and V at half resolution in both directions.
    Yuv420([Plane<'a>; 3], ColorRange),
    /// R, G, B at full resolution.
    Rgb([Plane<'a>; 3]),
}

/// A camera frame: borrowed pixel buffers plus how to read and turn them.
#[derive(Clone, Copy, Debug)]
pub struct CameraFrame<'a> {
    format: PixelFormat,
    width: u32,
    height: u32,
    channels: Channels<'a>,
    rotation: Rotation,
    mirrored: bool,
    crop: Option<CropRect>,
}

impl<'a> CameraFrame<'a> {
    /// NV21: a Y plane and an interleaved V/U plane.
    pub fn nv21(
        width: u32,
        height: u32,
        y: &'a [u8],
        y_row_stride: usize,
        vu: &'a [u8],
        vu_row_stride: usize,
    ) -> Result<Self> {
        let (v, u) = interleaved_pair(PixelFormat::Nv21, width, height, "VU", vu, vu_row_stride)?;
        Self::yuv(PixelFormat::Nv21, width, height, [Plane::new(y, y_row_stride), u, v], ColorRange::Full)
    }

    /// NV12: a Y plane and an interleaved U/V plane.
    pub fn nv12(
        width: u32,
        height: u32,
        y: &'a [u8],
        y_row_stride: usize,
        uv: &'a [u8],
        uv_row_stride: usize,
    ) -> Result<Self> {
        let (u, v) = interleaved_pair(PixelFormat::Nv12, width, height, "UV", uv, uv_row_stride)?;
        Self::yuv(PixelFormat::Nv12, width, height, [Plane::new(y, y_row_stride), u, v], ColorRange::Full)
    }

    /// Android's `YUV_420_888` (and I420): three planes, each with its own row and pixel stride.
    pub fn yuv_420_888(width: u32, height: u32, y: Plane<'a>, u: Plane<'a>, v: Plane<'a>) -> Result<Self> {
        Self::yuv(PixelFormat::I420, width, height, [y, u, v], ColorRange::Full)
    }

    /// RGBA8888 with the given row stride in bytes.
    pub fn rgba(width: u32, height: u32, data: &'a [u8], row_stride: usize) -> Result<Self> {
        Self::interleaved(PixelFormat::Rgba8888, width, height, data, row_stride, 4, [0, 1, 2])
    }

    /// BGRA8888 with the given row stride in bytes.
    pub fn bgra(width: u32, height: u32, data: &'a [u8], row_stride: usize) -> Result<Self> {
        Self::interleaved(PixelFormat::Bgra8888, width, height, data, row_stride, 4, [2, 1, 0])
    }

    /// RGB888 with the given row stride in bytes.
    pub fn rgb(width: u32, height: u32, data: &'a [u8], row_stride: usize) -> Result<Self> {
        Self::interleaved(PixelFormat::Rgb888, width, height, data, row_stride, 3, [0, 1, 2])
    }

    /// A raw dump as apps save it: the planes of `format` tightly packed one after another in `data`.
    ///
    /// `row_stride` is the Y (or RGBA) row stride in bytes and defaults to the width; chroma rows of NV21/NV12 use
    /// the same stride, I420 chroma rows half of it (rounded up).
    pub fn packed(
        format: PixelFormat,
        width: u32,
        height: u32,
        data: &'a [u8],
        row_stride: Option<usize>,
    ) -> Result<Self> {
        check_sides(format, width, height)?;
        let (w, h) = (width as usize, height as usize);
        let bpp = match format {
            PixelFormat::Rgba8888 | PixelFormat::Bgra8888 => 4,
            PixelFormat::Rgb888 => 3,
            _ => 1,
        };
        let stride = row_stride.unwrap_or(w * bpp);
        // Saturating: an absurd stride then fails the plane length checks instead of overflowing.
        let y_len = stride.saturating_mul(h);
        let split = |at: usize| -> (&'a [u8], &'a [u8]) { data.split_at(at.min(data.len())) };
        match format {
            PixelFormat::Rgba8888 => Self::rgba(width, height, data, stride),
            PixelFormat::Bgra8888 => Self::bgra(width, height, data, stride),
            PixelFormat::Rgb888 => Self::rgb(width, height, data, stride),
            PixelFormat::Nv21 => {
                let (y, vu) = split(y_len);
                Self::nv21(width, height, y, stride, vu, stride)
            }
            PixelFormat::Nv12 => {
                let (y, uv) = split(y_len);
                Self::nv12(width, height, y, stride, uv, stride)
            }
            PixelFormat::I420 => {
                let c_stride = stride.div_ceil(2);
                let (y, rest) = split(y_len);
                let (u, v) = rest.split_at(c_stride.saturating_mul(h / 2).min(rest.len()));
                Self::yuv_420_888(
                    width,
                    height,
                    Plane::new(y, stride),
                    Plane::new(u, c_stride),
                    Plane::new(v, c_stride),
                )
            }
        }
    }

    fn yuv(format: PixelFormat, width: u32, height: u32, planes: [Plane<'a>; 3], range: ColorRange) -> Result<Self> {
        check_sides(format, width, height)?;
        planes[0].check("Y", width, height)?;
        planes[1].check("U", width / 2, height / 2)?;
        planes[2].check("V", width / 2, height / 2)?;
        Ok(Self::with_channels(format, width, height, Channels::Yuv420(planes, range)))
    }

    fn interleaved(
        format: PixelFormat,
        width: u32,
        height: u32,
        data: &'a [u8],
        row_stride: usize,
        bpp: usize,
        rgb_offsets: [usize; 3],
    ) -> Result<Self> {
        check_sides(format, width, height)?;
        let whole = Plane { data, row_stride, pixel_stride: bpp };
        // Check the whole pixel (all of its bytes), then view each channel from its offset.
        Plane { data, row_stride, pixel_stride: 1 }.check("pixel", width * bpp as u32, height)?;
        let channel = |offset: usize| Plane { data: &data[offset..], ..whole };
        let planes = rgb_offsets.map(channel);
        Ok(Self::with_channels(format, width, height, Channels::Rgb(planes)))
    }

    fn with_channels(format: PixelFormat, width: u32, height: u32, channels: Channels<'a>) -> Self {
        CameraFrame { format, width, height, channels, rotation: Rotation::Deg0, mirrored: false, crop: None }
    }

    /// Sets how far the frame must be turned clockwise to be upright.
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = rotation;
        self
    }

    /// Mirrors the upright image left to right (front cameras).
    pub fn with_mirrored(mut self, mirrored: bool) -> Self {
        self.mirrored = mirrored;
        self
    }

    /// Sets the YUV range; ignored for RGB formats.
    pub fn with_range(mut self, range: ColorRange) -> Self {
        if let Channels::Yuv420(planes, _) = self.channels {
            self.channels = Channels::Yuv420(planes, range);
        }
        self
    }

    /// Restricts the frame to a crop box in its own (unrotated) pixel coordinates; it must lie inside the frame.
    pub fn with_crop(mut self, crop: CropRect) -> Result<Self> {
        let fits = |start: u32, len: u32, side: u32| len > 0 && start.checked_add(len).is_some_and(|end| end <= side);
        if !fits(crop.x, crop.width, self.width) || !fits(crop.y, crop.height, self.height) {
            return Err(Error::frame(format!(
                "crop {}x{} at ({}, {}) is empty or outside the {}x{} frame",
                crop.width, crop.height, crop.x, crop.y, self.width, self.height
            )));
        }
        self.crop = Some(crop);
        Ok(self)
    }

    /// The pixel format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Width of the buffers, before rotation.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height of the buffers, before rotation.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Degrees clockwise to turn the frame upright.
    pub fn rotation(&self) -> Rotation {
        self.rotation
    }

    /// Whether the upright image is mirrored left to right.
    pub fn mirrored(&self) -> bool {
        self.mirrored
    }

    /// The region that is used: the crop box, or the whole frame.
    pub fn region(&self) -> CropRect {
        self.crop.unwrap_or(CropRect { x: 0, y: 0, width: self.width, height: self.height })
    }

    pub(crate) fn channels(&self) -> Channels<'a> {
        self.channels
    }
}

/// The two chroma planes of an interleaved buffer: the first at byte 0, the second at byte 1, both stepping by 2.
/// The buffer is checked whole first, so an error names the plane the app passed (`VU`), with its own length.
fn interleaved_pair<'a>(
    format: PixelFormat,
    width: u32,
    height: u32,
    name: &str,
    data: &'a [u8],
    row_stride: usize,
) -> Result<(Plane<'a>, Plane<'a>)> {
    check_sides(format, width, height)?;
    Plane::new(data, row_stride).check(name, width, height / 2)?;
    let first = Plane { data, row_stride, pixel_stride: 2 };
    Ok((first, Plane { data: data.get(1..).unwrap_or(&[]), ..first }))
}

fn check_sides(format: PixelFormat, width: u32, height: u32) -> Result<()> {
    for (name, side) in [("width", width), ("height", height)] {
        if side == 0 || side > MAX_SIDE {
            return Err(Error::frame(format!("{name} {side} is not in 1..={MAX_SIDE}")));
        }
        if format.is_yuv420() && side % 2 == 1 {
            return Err(Error::frame(format!("{name} {side} is odd; 4:2:0 frames need even sides")));
        }
    }
    Ok(())
}

/// Encodes upright RGB888 pixels (row-major, tightly packed) as a full-range BT.601 NV21 buffer, as an Android
/// camera delivers it: for tests, benchmarks and tools that simulate a camera. Chroma is the 2x2 average.
pub fn encode_nv21(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    check_sides(PixelFormat::Nv21, width, height)?;
    let (w, h) = (width as usize, height as usize);
    if rgb.len() != w * h * 3 {
        return Err(Error::frame(format!("{} RGB bytes for {w}x{h} pixels", rgb.len())));
    }
    let mut out = vec![0u8; w * h + w * h / 2];
    let (luma, chroma) = out.split_at_mut(w * h);
    for (y, px) in luma.iter_mut().zip(rgb.chunks_exact(3)) {
        let [r, g, b] = [px[0], px[1], px[2]].map(f32::from);
        *y = (0.299 * r + 0.587 * g + 0.114 * b).round().clamp(0.0, 255.0) as u8;
    }
    for cy in 0..h / 2 {
        for cx in 0..w / 2 {
            let (mut u, mut v) = (0f32, 0f32);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let at = ((2 * cy + dy) * w + 2 * cx + dx) * 3;
                let [r, g, b] = [rgb[at], rgb[at + 1], rgb[at + 2]].map(f32::from);
                u += -0.168_736 * r - 0.331_264 * g + 0.5 * b;
                v += 0.5 * r - 0.418_688 * g - 0.081_312 * b;
            }
            let at = cy * w + 2 * cx;
            chroma[at] = (v / 4.0 + 128.0).round().clamp(0.0, 255.0) as u8;
            chroma[at + 1] = (u / 4.0 + 128.0).round().clamp(0.0, 255.0) as u8;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<CameraFrame<'_>>) -> String {
        match r {
            Err(Error::InvalidFrame(m)) => m,
            other => panic!("expected InvalidFrame, got {other:?}"),
        }
    }

    #[test]
    fn accepts_android_planes_without_last_row_padding() {
        // 640 px wide rows padded to 704; the last row of each plane stops at its last sample.
        let y = vec![0u8; 704 * 479 + 640];
        let vu = vec![0u8; 704 * 239 + 640];
        let f = CameraFrame::nv21(640, 480, &y, 704, &vu, 704).unwrap();
        assert_eq!((f.width(), f.height()), (640, 480));
    }

    #[test]
    fn rejects_short_planes_and_small_strides() {
        let y = vec![0u8; 640 * 480];
        let vu = vec![0u8; 640 * 240];
        assert!(err(CameraFrame::nv21(640, 480, &y[..640 * 480 - 1], 640, &vu, 640)).contains("Y plane"));
        assert_eq!(
            err(CameraFrame::nv21(640, 480, &y, 640, &vu[..1000], 640)),
            "VU plane has 1000 bytes, its size and strides need 153600"
        );
        assert!(err(CameraFrame::nv21(640, 480, &y, 600, &vu, 640)).contains("row stride"));
        assert!(err(CameraFrame::rgba(10, 10, &y, 39)).contains("row stride"));
        let u = Plane { data: &vu, row_stride: 320, pixel_stride: 0 };
        assert!(err(CameraFrame::yuv_420_888(640, 480, Plane::new(&y, 640), u, u)).contains("pixel stride"));
    }

    #[test]
    fn rejects_bad_sides() {
        let buf = vec![0u8; 64];
        assert!(err(CameraFrame::packed(PixelFormat::Nv21, 5, 4, &buf, None)).contains("odd"));
        assert!(err(CameraFrame::packed(PixelFormat::Rgba8888, 0, 4, &buf, None)).contains("width 0"));
        assert!(err(CameraFrame::packed(PixelFormat::I420, 4, 16386, &buf, None)).contains("height"));
        assert!(err(CameraFrame::packed(PixelFormat::Rgb888, 16385, 1, &buf, None)).contains("width"));
    }

    #[test]
    fn huge_strides_fail_cleanly() {
        let buf = vec![0u8; 64];
        assert!(err(CameraFrame::packed(PixelFormat::Nv12, 4, 4, &buf, Some(usize::MAX))).contains("plane"));
        assert!(err(CameraFrame::packed(PixelFormat::I420, 4, 4, &buf, Some(usize::MAX / 2))).contains("plane"));
        assert!(err(CameraFrame::packed(PixelFormat::Bgra8888, 4, 4, &buf, Some(usize::MAX))).contains("plane"));
    }

    #[test]
    fn crop_must_lie_inside() {
        let buf = vec![0u8; 8 * 8 * 4];
        let f = CameraFrame::rgba(8, 8, &buf, 32).unwrap();
        assert!(f.with_crop(CropRect { x: 2, y: 2, width: 6, height: 6 }).is_ok());
        for c in [
            CropRect { x: 2, y: 2, width: 7, height: 6 },
            CropRect { x: 0, y: 0, width: 0, height: 6 },
            CropRect { x: u32::MAX, y: 0, width: 2, height: 2 },
        ] {
            assert!(matches!(f.with_crop(c), Err(Error::InvalidFrame(_))));
        }
    }

    #[test]
    fn rotation_degrees() {
        assert_eq!(Rotation::from_degrees(-90).unwrap(), Rotation::Deg270);
        assert_eq!(Rotation::from_degrees(450).unwrap(), Rotation::Deg90);
        assert!(Rotation::from_degrees(45).is_err());
    }

    #[test]
    fn packed_i420_splits_planes() {
        let mut buf = vec![10u8; 4 * 4];
        buf.extend([20u8; 4]);
        buf.extend([30u8; 4]);
        let f = CameraFrame::packed(PixelFormat::I420, 4, 4, &buf, None).unwrap();
        let Channels::Yuv420([y, u, v], _) = f.channels() else { panic!("not yuv") };
        assert_eq!((y.data[0], u.data[0], v.data[0]), (10, 20, 30));
    }
}
