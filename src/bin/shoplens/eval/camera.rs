//! Query photos turned into what a phone camera delivers: an NV21 frame at a phone resolution, sensor-oriented with
//! a rotation, an optional crop box around the object, and optionally camera-like changes (perspective, light, blur,
//! sensor noise, JPEG). Seeded per query, so every run sees the same frames.

use image::{imageops, Rgb, RgbImage};
use shoplens::frame::encode_nv21;
use shoplens::{CameraFrame, CropRect, Error, Rotation};

/// Sensor sizes (landscape, as phones deliver them) the queries cycle through: mostly 4:3, the sensor's own aspect
/// and CameraX's analysis default (640x480), and one 16:9 preview size, which cuts a 4:3 scene's top and bottom.
pub const SENSOR_SIZES: [(u32, u32); 4] = [(640, 480), (1280, 960), (1920, 1080), (1440, 1080)];

/// A box in pixel coordinates: x, y, width, height.
pub type BoxF = [f64; 4];

/// A small seeded generator (SplitMix64): reproducible queries without another crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal (sum of four uniforms), mean 0, standard deviation 1.
    fn normal(&mut self) -> f64 {
        ((0..4).map(|_| self.range(0.0, 1.0)).sum::<f64>() - 2.0) * 3f64.sqrt()
    }
}

/// An NV21 frame owned by the eval, with how the phone would describe it.
pub struct RenderedFrame {
    pub nv21: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub rotation: Rotation,
    /// The object's box in sensor coordinates, if the query knows where the object is.
    pub crop: Option<CropRect>,
    /// The upright picture the frame was encoded from (RGB, before NV21): the same view as a photo.
    pub view: RgbImage,
}

impl RenderedFrame {
    /// Borrows the frame; with `crop`, restricted to the object's box.
    pub fn frame(&self, crop: bool) -> Result<CameraFrame<'_>, Error> {
        let (w, h) = (self.width as usize, self.height as usize);
        let (y, vu) = self.nv21.split_at(w * h);
        let frame = CameraFrame::nv21(self.width, self.height, y, w, vu, w)?.with_rotation(self.rotation);
        match (crop, self.crop) {
            (true, Some(c)) => frame.with_crop(c),
            _ => Ok(frame),
        }
    }
}

/// Renders an upright photo as a frame of sensor size `sensor` (landscape): scaled to cover the frame and centred,
/// as a camera preview frames a scene; portrait photos become a landscape sensor frame with rotation 90. With
/// `camera`, perspective and light change before framing, blur, noise and JPEG after.
pub fn render(
    photo: &RgbImage,
    object: Option<BoxF>,
    sensor: (u32, u32),
    camera: Option<&mut Rng>,
) -> Result<RenderedFrame, Error> {
    let portrait = photo.height() > photo.width();
    let (uw, uh) = if portrait { (sensor.1, sensor.0) } else { sensor };
    let (mut object, mut camera) = (object, camera);
    // Only camera changes need a copy of the photo.
    let changed = camera.as_deref_mut().map(|rng| {
        let (mut warped, moved) = perspective(photo, object, rng);
        object = moved;
        light(&mut warped, rng);
        warped
    });
    let photo = changed.as_ref().unwrap_or(photo);
    let scale = (uw as f64 / photo.width() as f64).max(uh as f64 / photo.height() as f64);
    let (sw, sh) = ((photo.width() as f64 * scale).round() as u32, (photo.height() as f64 * scale).round() as u32);
    let resized = imageops::resize(photo, sw.max(uw), sh.max(uh), imageops::FilterType::Triangle);
    let (ox, oy) = ((resized.width() - uw) / 2, (resized.height() - uh) / 2);
    let mut upright = imageops::crop_imm(&resized, ox, oy, uw, uh).to_image();
    let object = object.map(|[x, y, w, h]| [x * scale - ox as f64, y * scale - oy as f64, w * scale, h * scale]);
    if let Some(rng) = camera {
        let sigma = rng.range(0.3, 1.8) as f32;
        upright = imageops::blur(&upright, sigma);
        noise(&mut upright, rng.range(2.0, 7.0), rng);
        upright = jpeg_round_trip(&upright, rng.range(50.0, 90.0) as u8)?;
    }
    let crop = object.and_then(|b| clip(b, uw, uh));
    let (sensor_img, rotation, crop) = if portrait {
        // The sensor is the upright picture turned 90 degrees counter-clockwise; turning it clockwise restores it.
        let crop = crop.map(|c| CropRect { x: c.y, y: uw - c.x - c.width, width: c.height, height: c.width });
        (imageops::rotate270(&upright), Rotation::Deg90, crop)
    } else {
        (upright, Rotation::Deg0, crop)
    };
    let nv21 = encode_nv21(sensor_img.as_raw(), sensor.0, sensor.1)?;
    let view = if portrait { imageops::rotate90(&sensor_img) } else { sensor_img };
    Ok(RenderedFrame { nv21, width: sensor.0, height: sensor.1, rotation, crop, view })
}

/// The part of a box inside a `w` x `h` picture, in whole pixels; `None` if almost nothing is left.
fn clip([x, y, bw, bh]: BoxF, w: u32, h: u32) -> Option<CropRect> {
    let (x0, y0) = (x.max(0.0).round() as u32, y.max(0.0).round() as u32);
    let (x1, y1) = (((x + bw).round().max(0.0) as u32).min(w), ((y + bh).round().max(0.0) as u32).min(h));
    (x1 >= x0 + 8 && y1 >= y0 + 8).then(|| CropRect { x: x0, y: y0, width: x1 - x0, height: y1 - y0 })
}

/// A hand-held view: each corner moves up to 6% of the side; the object box follows its corners.
fn perspective(src: &RgbImage, object: Option<BoxF>, rng: &mut Rng) -> (RgbImage, Option<BoxF>) {
    let (w, h) = (src.width() as f64, src.height() as f64);
    let corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
    let moved: Vec<(f64, f64)> =
        corners.iter().map(|&(x, y)| (x + rng.range(-0.06, 0.06) * w, y + rng.range(-0.06, 0.06) * h)).collect();
    // Output pixel -> source pixel: the homography taking the moved corners back to the original ones.
    let Some(back) = homography(&moved, &corners) else { return (src.clone(), object) };
    let Some(fwd) = homography(&corners, &moved) else { return (src.clone(), object) };
    let mut out = RgbImage::new(src.width(), src.height());
    for (x, y, px) in out.enumerate_pixels_mut() {
        let (sx, sy) = apply(&back, x as f64 + 0.5, y as f64 + 0.5);
        *px = bilinear(src, sx - 0.5, sy - 0.5);
    }
    let object = object.map(|[x, y, bw, bh]| {
        let pts = [(x, y), (x + bw, y), (x + bw, y + bh), (x, y + bh)].map(|(px, py)| apply(&fwd, px, py));
        let (x0, x1) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
        let (y0, y1) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
        [x0, y0, x1 - x0, y1 - y0]
    });
    (out, object)
}

/// The 3x3 homography (h33 = 1) mapping four points `from` onto `to`, by solving the 8x8 linear system.
fn homography(from: &[(f64, f64)], to: &[(f64, f64)]) -> Option<[f64; 9]> {
    let mut a = [[0f64; 9]; 8];
    for i in 0..4 {
        let ((x, y), (u, v)) = (from[i], to[i]);
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                row.iter_mut().zip(&pivot_row).skip(col).for_each(|(x, p)| *x -= f * p);
            }
        }
    }
    let mut h = [1.0; 9];
    for i in 0..8 {
        h[i] = a[i][8] / a[i][i];
    }
    Some(h)
}

fn apply(h: &[f64; 9], x: f64, y: f64) -> (f64, f64) {
    let d = h[6] * x + h[7] * y + h[8];
    ((h[0] * x + h[1] * y + h[2]) / d, (h[3] * x + h[4] * y + h[5]) / d)
}

/// Bilinear sample with edge clamping (a warped border repeats the edge, as a wider field of view would show more).
fn bilinear(img: &RgbImage, x: f64, y: f64) -> Rgb<u8> {
    let (w, h) = (img.width() as i64 - 1, img.height() as i64 - 1);
    let (x, y) = (x.clamp(0.0, w as f64), y.clamp(0.0, h as f64));
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let at = |xx: i64, yy: i64| img.get_pixel(xx.clamp(0, w) as u32, yy.clamp(0, h) as u32).0;
    let (p00, p10, p01, p11) = (at(x0, y0), at(x0 + 1, y0), at(x0, y0 + 1), at(x0 + 1, y0 + 1));
    Rgb(std::array::from_fn(|c| {
        let top = p00[c] as f64 * (1.0 - fx) + p10[c] as f64 * fx;
        let bottom = p01[c] as f64 * (1.0 - fx) + p11[c] as f64 * fx;
        (top * (1.0 - fy) + bottom * fy).round() as u8
    }))
}

/// Exposure, contrast (gamma) and white balance as a phone's auto modes vary them.
fn light(img: &mut RgbImage, rng: &mut Rng) {
    let gain = rng.range(0.7, 1.3);
    let gamma = rng.range(0.8, 1.25);
    let tint = [rng.range(0.92, 1.08), 1.0, rng.range(0.92, 1.08)];
    let lut: Vec<[u8; 256]> = tint
        .iter()
        .map(|t| {
            std::array::from_fn(|v| ((v as f64 / 255.0).powf(gamma) * 255.0 * gain * t).round().clamp(0.0, 255.0) as u8)
        })
        .collect();
    for px in img.pixels_mut() {
        for c in 0..3 {
            px.0[c] = lut[c][px.0[c] as usize];
        }
    }
}

fn noise(img: &mut RgbImage, sigma: f64, rng: &mut Rng) {
    for v in img.iter_mut() {
        *v = (*v as f64 + sigma * rng.normal()).round().clamp(0.0, 255.0) as u8;
    }
}

fn jpeg_round_trip(img: &RgbImage, quality: u8) -> Result<RgbImage, Error> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(img)
        .map_err(|e| Error::InvalidArgument(format!("jpeg encode: {e}")))?;
    image::load_from_memory(&bytes)
        .map(|i| i.to_rgb8())
        .map_err(|e| Error::InvalidArgument(format!("jpeg decode: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homography_maps_corners() {
        let from = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];
        let to = [(1.0, 0.5), (9.0, 1.0), (10.5, 9.0), (0.0, 10.0)];
        let h = homography(&from, &to).unwrap();
        for (f, t) in from.iter().zip(&to) {
            let (x, y) = apply(&h, f.0, f.1);
            assert!((x - t.0).abs() < 1e-9 && (y - t.1).abs() < 1e-9);
        }
    }

    #[test]
    fn portrait_box_lands_on_the_same_pixels_in_the_sensor_frame() {
        // A portrait photo, black with a white square; the crop of the rendered frame must be (nearly) all white.
        let mut img = RgbImage::new(300, 400);
        for y in 100..200 {
            for x in 50..150 {
                img.put_pixel(x, y, Rgb([255, 255, 255]));
            }
        }
        let r = render(&img, Some([50.0, 100.0, 100.0, 100.0]), (640, 480), None).unwrap();
        assert_eq!(r.rotation, Rotation::Deg90);
        let c = r.crop.unwrap();
        let luma = &r.nv21[..640 * 480];
        let inside: Vec<u8> = (c.y + 4..c.y + c.height - 4)
            .flat_map(|y| (c.x + 4..c.x + c.width - 4).map(move |x| luma[(y * 640 + x) as usize]))
            .collect();
        assert!(inside.iter().all(|&v| v > 240), "crop is not on the object");
    }
}
