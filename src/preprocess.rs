//! Frames to the model's input tensor: pure functions, no model in sight.
//!
//! One pass from the app's buffers to the tensor, never a full-resolution RGB copy:
//! 1. the region used is the crop box (or the whole frame); within it, the centred rectangle with the model's aspect
//!    ratio, scaled by `crop_fraction`, as the frame will look once turned upright;
//! 2. each channel (Y, U, V or R, G, B) is resampled separably to the model's size, area-averaging when shrinking and
//!    interpolating linearly when enlarging, reading only the rows and columns that region covers;
//! 3. per output pixel: YUV to RGB (BT.601, full or video range), then rotation, mirroring, normalization, layout.
//!
//! Averaging YUV before converting equals converting before averaging, since BT.601 is affine; the two differ only
//! where a pixel's RGB would leave 0..=255, in the clamping.

use crate::frame::{CameraFrame, Channels, ColorRange, Plane, Rotation};

/// Memory layout of the input tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Batch, channel, height, width.
    Nchw,
    /// Batch, height, width, channel.
    Nhwc,
}

/// A picture more than this many times wider than tall (or taller than wide) gets the model's wide (or tall) input,
/// when the model has one. A square window keeps 75 % of a 4:3 picture's width but only 56 % of a 16:9 frame's,
/// which often cuts the product off; the wide input's 9:7 window (288x224 for a 224 model) at the same scale keeps
/// 72 % (measured in docs/benchmarks.md). 4:3 pictures stay square: the wide input costs about 20 % more inference
/// (29 % more pixels) and did not help them measurably.
pub const WIDE_ASPECT: f64 = 1.4;

/// What the model wants as input: size, channel order, normalization and crop policy.
#[derive(Clone, Debug, PartialEq)]
pub struct InputSpec {
    /// Input width in pixels.
    pub width: u32,
    /// Input height in pixels.
    pub height: u32,
    /// Tensor layout.
    pub layout: Layout,
    /// `true` for B, G, R channel order.
    pub bgr: bool,
    /// Subtracted from each 0..=255 channel value (R, G, B order).
    pub mean: [f32; 3],
    /// Divides each channel value after the mean is subtracted (R, G, B order).
    pub std: [f32; 3],
    /// Share of the region's short side (relative to the model's aspect) kept by the centre crop, in (0, 1].
    pub crop_fraction: f32,
    /// Long side of the model's wide input, for a square model that also runs on wider (or taller) pictures:
    /// `wide` x `height` for landscape pictures past [`WIDE_ASPECT`], `width` x `wide` for portrait ones.
    pub wide: Option<u32>,
}

impl InputSpec {
    /// Number of floats in the tensor.
    pub fn len(&self) -> usize {
        3 * self.width as usize * self.height as usize
    }

    /// The tensor's shape in its layout, batch 1: `[1, 3, height, width]` or `[1, height, width, 3]`.
    pub fn shape(&self) -> [usize; 4] {
        let (w, h) = (self.width as usize, self.height as usize);
        match self.layout {
            Layout::Nchw => [1, 3, h, w],
            Layout::Nhwc => [1, h, w, 3],
        }
    }

    /// Whether the tensor is empty (never, for a valid spec).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The input for this frame: `self`, or its wide (or tall) shape when the frame's region, turned upright, is
    /// more than [`WIDE_ASPECT`] times wider (or taller) and the model has a wide input.
    pub fn fit(&self, frame: &CameraFrame<'_>) -> InputSpec {
        let region = frame.region();
        match frame.rotation().swaps_axes() {
            true => self.fit_size(region.height, region.width),
            false => self.fit_size(region.width, region.height),
        }
    }

    /// The input for an upright picture of `width` x `height` pixels: see [`InputSpec::fit`].
    pub fn fit_size(&self, width: u32, height: u32) -> InputSpec {
        let mut spec = self.clone();
        if let Some(long) = self.wide {
            let (w, h) = (f64::from(width), f64::from(height));
            if w > h * WIDE_ASPECT {
                spec.width = long;
            } else if h > w * WIDE_ASPECT {
                spec.height = long;
            }
        }
        spec
    }
}

/// The frame as the model's input tensor, `spec.len()` floats in `spec.layout`.
pub fn frame_to_tensor(frame: &CameraFrame<'_>, spec: &InputSpec) -> Vec<f32> {
    let (w, h) = (spec.width as usize, spec.height as usize);
    let mut tensor = vec![0f32; spec.len()];
    let scale = spec.std.map(|s| 1.0 / s);
    for_each_rgb(frame, spec.width, spec.height, spec.crop_fraction, |x, y, rgb| {
        for (c, value) in rgb.into_iter().enumerate() {
            let channel = if spec.bgr { 2 - c } else { c };
            let index = match spec.layout {
                Layout::Nchw => (channel * h + y) * w + x,
                Layout::Nhwc => (y * w + x) * 3 + channel,
            };
            tensor[index] = (value - spec.mean[c]) * scale[c];
        }
    });
    tensor
}

/// The same pipeline as [`frame_to_tensor`] to upright 8-bit RGB (row-major, 3 bytes a pixel): what the model sees.
pub fn frame_to_rgb(frame: &CameraFrame<'_>, width: u32, height: u32, crop_fraction: f32) -> Vec<u8> {
    let mut out = vec![0u8; 3 * width as usize * height as usize];
    for_each_rgb(frame, width, height, crop_fraction, |x, y, rgb| {
        let at = (y * width as usize + x) * 3;
        for c in 0..3 {
            out[at + c] = rgb[c].round() as u8;
        }
    });
    out
}

/// Converts one resampled pixel's three channels to RGB.
type ToRgb = fn([f32; 3]) -> [f32; 3];

/// Resamples the frame to `out_w` x `out_h` upright pixels and calls `put(x, y, [r, g, b])`, values in 0..=255.
fn for_each_rgb(
    frame: &CameraFrame<'_>,
    out_w: u32,
    out_h: u32,
    crop_fraction: f32,
    mut put: impl FnMut(usize, usize, [f32; 3]),
) {
    let rotation = frame.rotation();
    let swaps = rotation.swaps_axes();
    // Outputs along the source's x and y axes.
    let (nx, ny) = if swaps { (out_h as usize, out_w as usize) } else { (out_w as usize, out_h as usize) };
    let (x0, y0, sw, sh) = source_box(frame, out_w, out_h, crop_fraction);
    let (grid, convert): ([Vec<f32>; 3], ToRgb) = match frame.channels() {
        Channels::Rgb(planes) => {
            let (fw, fh) = (frame.width() as usize, frame.height() as usize);
            let (tx, ty) = (taps(x0, sw, nx, fw, sw >= nx as f64), taps(y0, sh, ny, fh, sh >= ny as f64));
            (planes.map(|p| resample(&p, &tx, &ty)), |rgb| rgb)
        }
        Channels::Yuv420([y, u, v], range) => {
            let (fw, fh) = (frame.width() as usize, frame.height() as usize);
            let (shrink_x, shrink_y) = (sw >= nx as f64, sh >= ny as f64);
            let (tx, ty) = (taps(x0, sw, nx, fw, shrink_x), taps(y0, sh, ny, fh, shrink_y));
            // Chroma covers 2x2 luma pixels: the same box in half-resolution coordinates, resampled the way luma is
            // (so at 1:1 each pixel takes its own chroma sample, as if chroma were upsampled by replication).
            let (cx, cy) =
                (taps(x0 / 2.0, sw / 2.0, nx, fw / 2, shrink_x), taps(y0 / 2.0, sh / 2.0, ny, fh / 2, shrink_y));
            let grid = [resample(&y, &tx, &ty), resample(&u, &cx, &cy), resample(&v, &cx, &cy)];
            let convert: ToRgb = match range {
                ColorRange::Full => yuv_full_to_rgb,
                ColorRange::Video => yuv_video_to_rgb,
            };
            (grid, convert)
        }
    };
    for oy in 0..out_h as usize {
        for ox in 0..out_w as usize {
            let u = if frame.mirrored() { out_w as usize - 1 - ox } else { ox };
            // Upright (u, oy) back to the source grid (i along source x, j along source y).
            let (i, j) = match rotation {
                Rotation::Deg0 => (u, oy),
                Rotation::Deg90 => (oy, ny - 1 - u),
                Rotation::Deg180 => (nx - 1 - u, ny - 1 - oy),
                Rotation::Deg270 => (nx - 1 - oy, u),
            };
            let at = j * nx + i;
            put(ox, oy, convert([grid[0][at], grid[1][at], grid[2][at]]));
        }
    }
}

/// The source-space box `(x0, y0, width, height)` that becomes the model input once turned upright.
fn source_box(frame: &CameraFrame<'_>, out_w: u32, out_h: u32, crop_fraction: f32) -> (f64, f64, f64, f64) {
    let region = frame.region();
    let (rw, rh) = (region.width as f64, region.height as f64);
    let swaps = frame.rotation().swaps_axes();
    let (uw, uh) = if swaps { (rh, rw) } else { (rw, rh) };
    let aspect = out_w as f64 / out_h as f64;
    let f = (crop_fraction as f64).clamp(0.01, 1.0);
    let (cw, ch) = if uw / uh > aspect { (uh * f * aspect, uh * f) } else { (uw * f, uw * f / aspect) };
    let (sw, sh) = if swaps { (ch, cw) } else { (cw, ch) };
    (region.x as f64 + (rw - sw) / 2.0, region.y as f64 + (rh - sh) / 2.0, sw, sh)
}

/// Resampling weights along one axis: for each output, the first source index and its weights.
struct Taps {
    first: Vec<usize>,
    /// Offsets into `weights` of each output's weights; `len() == outputs + 1`.
    bounds: Vec<usize>,
    weights: Vec<f32>,
}

impl Taps {
    fn get(&self, o: usize) -> (usize, &[f32]) {
        (self.first[o], &self.weights[self.bounds[o]..self.bounds[o + 1]])
    }

    /// The source indices any output reads: `lo..hi`.
    fn span(&self) -> (usize, usize) {
        let lo = self.first.iter().copied().min().unwrap_or(0);
        let hi = (0..self.first.len()).map(|o| self.first[o] + self.get(o).1.len()).max().unwrap_or(0);
        (lo, hi)
    }
}

/// Weights mapping source samples `origin..origin + extent` (of `len`) onto `n` outputs: area coverage when
/// `shrink`, else linear interpolation.
fn taps(origin: f64, extent: f64, n: usize, len: usize, shrink: bool) -> Taps {
    let scale = extent / n as f64;
    let last = len.saturating_sub(1) as f64;
    let mut t = Taps { first: Vec::with_capacity(n), bounds: vec![0], weights: Vec::new() };
    for o in 0..n {
        let lo = origin + o as f64 * scale;
        let hi = lo + scale;
        let start = t.weights.len();
        let first;
        if shrink {
            // Shrinking: each source pixel weighs by how much of it the output pixel covers.
            let i0 = lo.floor().clamp(0.0, last);
            let i1 = hi.ceil().clamp(i0 + 1.0, last + 1.0);
            first = i0 as usize;
            for i in first..i1 as usize {
                let overlap = (hi.min(i as f64 + 1.0) - lo.max(i as f64)).max(0.0);
                t.weights.push(overlap as f32);
            }
        } else {
            // Enlarging: linear interpolation between the two nearest sample centres.
            let c = ((lo + hi) / 2.0 - 0.5).clamp(0.0, last);
            let i0 = c.floor();
            let frac = (c - i0) as f32;
            first = i0 as usize;
            t.weights.push(1.0 - frac);
            if (first as f64) < last {
                t.weights.push(frac);
            }
        }
        let sum: f32 = t.weights[start..].iter().sum();
        if sum > 0.0 {
            t.weights[start..].iter_mut().for_each(|w| *w /= sum);
        } else {
            t.weights[start] = 1.0;
        }
        t.first.push(first);
        t.bounds.push(t.weights.len());
    }
    t
}

/// Separable resampling of one plane: `ty.len() x tx.len()` values, rows along source y.
fn resample(plane: &Plane<'_>, tx: &Taps, ty: &Taps) -> Vec<f32> {
    let nx = tx.first.len();
    let (row_lo, row_hi) = ty.span();
    // Horizontal pass over only the rows some output reads.
    let mut rows = vec![0f32; (row_hi - row_lo) * nx];
    let ps = plane.pixel_stride;
    for r in row_lo..row_hi {
        let line = &plane.data[r * plane.row_stride..];
        let out = &mut rows[(r - row_lo) * nx..(r - row_lo + 1) * nx];
        for (i, slot) in out.iter_mut().enumerate() {
            let (first, w) = tx.get(i);
            *slot = w.iter().enumerate().map(|(k, &wk)| wk * line[(first + k) * ps] as f32).sum();
        }
    }
    let ny = ty.first.len();
    let mut grid = vec![0f32; ny * nx];
    for j in 0..ny {
        let (first, w) = ty.get(j);
        let out = &mut grid[j * nx..(j + 1) * nx];
        for (k, &wk) in w.iter().enumerate() {
            let src = &rows[(first + k - row_lo) * nx..(first + k - row_lo + 1) * nx];
            out.iter_mut().zip(src).for_each(|(o, s)| *o += wk * s);
        }
    }
    grid
}

/// BT.601 full range (JPEG, Android camera): Y, Cb, Cr in 0..=255.
fn yuv_full_to_rgb([y, u, v]: [f32; 3]) -> [f32; 3] {
    let (cb, cr) = (u - 128.0, v - 128.0);
    [y + 1.402 * cr, y - 0.344_136 * cb - 0.714_136 * cr, y + 1.772 * cb].map(|c| c.clamp(0.0, 255.0))
}

/// BT.601 video range: Y in 16..=235, chroma in 16..=240.
fn yuv_video_to_rgb([y, u, v]: [f32; 3]) -> [f32; 3] {
    let y = (y - 16.0) * (255.0 / 219.0);
    let (u, v) = ((u - 128.0) * (255.0 / 224.0) + 128.0, (v - 128.0) * (255.0 / 224.0) + 128.0);
    yuv_full_to_rgb([y, u, v])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{CropRect, PixelFormat};

    fn spec(w: u32, h: u32) -> InputSpec {
        InputSpec {
            width: w,
            height: h,
            layout: Layout::Nchw,
            bgr: false,
            mean: [0.0; 3],
            std: [1.0; 3],
            crop_fraction: 1.0,
            wide: None,
        }
    }

    /// A 4x2 RGB image whose pixel value encodes its position.
    fn numbered(w: u32, h: u32) -> Vec<u8> {
        (0..w * h).flat_map(|i| [i as u8 * 10, 0, 0]).collect()
    }

    #[test]
    fn taps_sum_to_one_and_cover_the_box() {
        for (origin, extent, n, len) in [(0.0, 1080.0, 224, 1920), (420.0, 1080.0, 224, 1920), (3.5, 100.0, 224, 200)] {
            let t = taps(origin, extent, n, len, extent >= n as f64);
            for o in 0..n {
                let (first, w) = t.get(o);
                assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                assert!(first + w.len() <= len);
            }
        }
    }

    #[test]
    fn identity_size_copies_pixels() {
        let px = numbered(4, 2);
        let f = CameraFrame::rgb(4, 2, &px, 12).unwrap();
        assert_eq!(frame_to_rgb(&f, 4, 2, 1.0), px);
    }

    #[test]
    fn rotation_turns_clockwise() {
        // Source 4x2, values 0..8 row-major: turned 90 degrees clockwise it is 2x4 with the bottom-left first.
        let px = numbered(4, 2);
        let f = CameraFrame::rgb(4, 2, &px, 12).unwrap().with_rotation(Rotation::Deg90);
        let red: Vec<u8> = frame_to_rgb(&f, 2, 4, 1.0).chunks(3).map(|p| p[0] / 10).collect();
        assert_eq!(red, vec![4, 0, 5, 1, 6, 2, 7, 3]);
        let f = f.with_rotation(Rotation::Deg270);
        let red: Vec<u8> = frame_to_rgb(&f, 2, 4, 1.0).chunks(3).map(|p| p[0] / 10).collect();
        assert_eq!(red, vec![3, 7, 2, 6, 1, 5, 0, 4]);
        let f = f.with_rotation(Rotation::Deg180).with_mirrored(true);
        let red: Vec<u8> = frame_to_rgb(&f, 4, 2, 1.0).chunks(3).map(|p| p[0] / 10).collect();
        assert_eq!(red, vec![4, 5, 6, 7, 0, 1, 2, 3]);
    }

    #[test]
    fn centre_crop_and_crop_box() {
        // 4x2 image to 2x2 model input: the centre square is columns 1..3.
        let px = numbered(4, 2);
        let f = CameraFrame::rgb(4, 2, &px, 12).unwrap();
        let red: Vec<u8> = frame_to_rgb(&f, 2, 2, 1.0).chunks(3).map(|p| p[0] / 10).collect();
        assert_eq!(red, vec![1, 2, 5, 6]);
        let f = f.with_crop(CropRect { x: 0, y: 0, width: 2, height: 2 }).unwrap();
        let red: Vec<u8> = frame_to_rgb(&f, 2, 2, 1.0).chunks(3).map(|p| p[0] / 10).collect();
        assert_eq!(red, vec![0, 1, 4, 5]);
    }

    #[test]
    fn wide_pictures_get_the_wide_input_upright() {
        let px = vec![0u8; 16 * 9 * 3];
        let wide = InputSpec { wide: Some(4), ..spec(3, 3) };
        let shape = |f: &CameraFrame<'_>| {
            let s = wide.fit(f);
            (s.width, s.height)
        };
        let landscape = CameraFrame::rgb(16, 9, &px, 48).unwrap();
        assert_eq!(shape(&landscape), (4, 3));
        // A landscape sensor frame held in portrait is tall once upright.
        assert_eq!(shape(&landscape.with_rotation(Rotation::Deg90)), (3, 4));
        assert_eq!(shape(&landscape.with_rotation(Rotation::Deg180)), (4, 3));
        // 4:3 stays square; the crop box decides, not the frame.
        assert_eq!(shape(&landscape.with_crop(CropRect { x: 0, y: 0, width: 12, height: 9 }).unwrap()), (3, 3));
        assert_eq!(shape(&landscape.with_crop(CropRect { x: 2, y: 0, width: 5, height: 9 }).unwrap()), (3, 4));
        // Without a wide input every picture gets the model's shape.
        let s = spec(3, 3).fit(&landscape);
        assert_eq!((s.width, s.height), (3, 3));
        // The wide tensor holds the centred 4:3 window (4 x 3 here) at full height: what a crop to columns 2..14 gives.
        let px: Vec<u8> = (0..16 * 9).flat_map(|i: u32| [(i % 251) as u8, (i / 3) as u8, 7]).collect();
        let f = CameraFrame::rgb(16, 9, &px, 48).unwrap();
        let s = wide.fit(&f);
        let window = f.with_crop(CropRect { x: 2, y: 0, width: 12, height: 9 }).unwrap();
        assert_eq!(frame_to_tensor(&f, &s), frame_to_tensor(&window, &s));
        assert_ne!(
            frame_to_tensor(&f, &s),
            frame_to_tensor(&f.with_crop(CropRect { x: 0, y: 0, width: 12, height: 9 }).unwrap(), &s)
        );
    }

    #[test]
    fn area_average_when_shrinking() {
        let px: Vec<u8> = [0u8, 100, 200, 40].iter().flat_map(|&v| [v, v, v]).collect();
        let f = CameraFrame::rgb(2, 2, &px, 6).unwrap();
        assert_eq!(frame_to_rgb(&f, 1, 1, 1.0), vec![85, 85, 85]);
    }

    #[test]
    fn video_range_stretches_levels() {
        let mut buf = vec![235u8; 4];
        buf.extend([128u8; 2]);
        let f = CameraFrame::packed(PixelFormat::Nv21, 2, 2, &buf, None).unwrap();
        assert_eq!(frame_to_rgb(&f, 2, 2, 1.0)[..3], [235, 235, 235]);
        let f = f.with_range(ColorRange::Video);
        assert_eq!(frame_to_rgb(&f, 2, 2, 1.0)[..3], [255, 255, 255]);
    }

    /// The catalog stores a photo with its mirror image, made by flipping the frame's `mirrored` flag: whatever the
    /// rotation, crop box, resampling and layout, that must be exactly the tensor with its columns reversed.
    #[test]
    fn flipping_mirrored_reverses_the_tensors_columns() {
        let (w, h) = (37u32, 23u32);
        let px: Vec<u8> = (0..w * h * 3).map(|i| (i * 7919 % 251) as u8).collect();
        for layout in [Layout::Nchw, Layout::Nhwc] {
            for rotation in [Rotation::Deg0, Rotation::Deg90, Rotation::Deg180, Rotation::Deg270] {
                for mirrored in [false, true] {
                    for crop in [None, Some(CropRect { x: 3, y: 2, width: 20, height: 17 })] {
                        let mut s = spec(9, 7);
                        s.layout = layout;
                        s.crop_fraction = 0.875;
                        let mut f = CameraFrame::rgb(w, h, &px, w as usize * 3).unwrap();
                        f = f.with_rotation(rotation).with_mirrored(mirrored);
                        if let Some(c) = crop {
                            f = f.with_crop(c).unwrap();
                        }
                        let t = frame_to_tensor(&f, &s);
                        let m = frame_to_tensor(&f.with_mirrored(!mirrored), &s);
                        let at = |t: &[f32], c: usize, y: usize, x: usize| match layout {
                            Layout::Nchw => t[(c * 7 + y) * 9 + x],
                            Layout::Nhwc => t[(y * 9 + x) * 3 + c],
                        };
                        for (c, y, x) in (0..3).flat_map(|c| (0..7).flat_map(move |y| (0..9).map(move |x| (c, y, x)))) {
                            assert_eq!(
                                at(&m, c, y, x),
                                at(&t, c, y, 8 - x),
                                "{layout:?} {rotation:?} {mirrored} {crop:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn tensor_layouts_and_normalization() {
        let px = numbered(2, 1);
        let f = CameraFrame::rgb(2, 1, &px, 6).unwrap();
        let mut s = spec(2, 1);
        s.mean = [5.0, 0.0, 0.0];
        s.std = [5.0, 1.0, 1.0];
        assert_eq!(frame_to_tensor(&f, &s), vec![-1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        s.layout = Layout::Nhwc;
        s.bgr = true;
        assert_eq!(frame_to_tensor(&f, &s), vec![0.0, 0.0, -1.0, 0.0, 0.0, 1.0]);
    }
}
