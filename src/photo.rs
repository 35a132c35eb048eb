//! Encoded photos (JPEG, PNG, WebP) to pixels, with EXIF orientation turned into a frame rotation (no pixel copy).

use std::io::Cursor;

use image::metadata::Orientation;
use image::{ImageDecoder, ImageReader, Limits, RgbImage};

use crate::error::{Error, Result};
use crate::frame::{CameraFrame, Rotation, MAX_SIDE};

/// Decoded memory the decoder may allocate; a 16384 x 16384 RGBA image fits.
const MAX_DECODE_BYTES: u64 = 1 << 30;

/// A decoded photo: RGB pixels as stored, plus how to turn them upright.
#[derive(Debug)]
pub struct Photo {
    pixels: RgbImage,
    orientation: Orientation,
    rotation: Rotation,
    mirrored: bool,
}

impl Photo {
    /// Decodes JPEG, PNG or WebP bytes, recognised by their content; honours EXIF orientation.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| Error::InvalidPhoto(e.to_string()))?;
        if reader.format().is_none() {
            return Err(Error::InvalidPhoto("not a JPEG, PNG or WebP image".into()));
        }
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        limits.max_alloc = Some(MAX_DECODE_BYTES);
        reader.limits(limits);
        if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
            // The JPEG decoder fills a cut-off scan with grey and reports success; a half-received upload must fail.
            return Err(Error::InvalidPhoto("the JPEG is truncated (no end-of-image marker after its scan)".into()));
        }
        let mut decoder = reader.into_decoder()?;
        // A photo without EXIF, or with a broken EXIF block, is shown as stored.
        let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
        let pixels = image::DynamicImage::from_decoder(decoder)?.into_rgb8();
        if pixels.width() == 0 || pixels.height() == 0 {
            return Err(Error::InvalidPhoto("the image has no pixels".into()));
        }
        let (rotation, mirrored) = match orientation {
            Orientation::NoTransforms => (Rotation::Deg0, false),
            Orientation::Rotate90 => (Rotation::Deg90, false),
            Orientation::Rotate180 => (Rotation::Deg180, false),
            Orientation::Rotate270 => (Rotation::Deg270, false),
            Orientation::FlipHorizontal => (Rotation::Deg0, true),
            Orientation::FlipVertical => (Rotation::Deg180, true),
            Orientation::Rotate90FlipH => (Rotation::Deg90, true),
            Orientation::Rotate270FlipH => (Rotation::Deg270, true),
        };
        Ok(Photo { pixels, orientation, rotation, mirrored })
    }

    /// Width and height once turned upright.
    pub fn upright_size(&self) -> (u32, u32) {
        let (w, h) = self.pixels.dimensions();
        if self.rotation.swaps_axes() {
            (h, w)
        } else {
            (w, h)
        }
    }

    /// An upright copy of the pixels (for tools; the embedding path reads the stored pixels in place).
    pub fn to_rgb_image(&self) -> RgbImage {
        let mut image = image::DynamicImage::ImageRgb8(self.pixels.clone());
        image.apply_orientation(self.orientation);
        image.into_rgb8()
    }

    /// The pixels as a frame, turned upright by its rotation and mirroring.
    pub fn as_frame(&self) -> Result<CameraFrame<'_>> {
        let (w, h) = self.pixels.dimensions();
        let stride = w as usize * 3;
        Ok(CameraFrame::rgb(w, h, self.pixels.as_raw(), stride)?
            .with_rotation(self.rotation)
            .with_mirrored(self.mirrored))
    }
}

/// Whether a JPEG has an end-of-image marker after its first scan. Walks the marker segments by their lengths (so
/// EXIF thumbnails, which carry their own markers inside APP1, are skipped); entropy-coded data cannot contain
/// `FF D9` because every `FF` in it is stuffed. Data after the marker (motion photos, vendor trailers) is allowed.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut i = 2;
    while i + 1 < bytes.len() {
        if bytes[i] != 0xFF {
            return false;
        }
        let marker = bytes[i + 1];
        match marker {
            0xFF => i += 1, // fill byte
            0xDA => return bytes[i..].windows(2).any(|w| w == [0xFF, 0xD9]),
            0x01 | 0xD0..=0xD7 => i += 2,
            _ => {
                let Some(len) = bytes.get(i + 2..i + 4) else { return false };
                i += 2 + u16::from_be_bytes([len[0], len[1]]) as usize;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: &[u8] = include_bytes!("../tests/data/coffee.jpg");

    #[test]
    fn decodes_formats_alike() {
        let jpeg = Photo::decode(JPEG).unwrap();
        let png = Photo::decode(include_bytes!("../tests/data/coffee.png")).unwrap();
        let webp = Photo::decode(include_bytes!("../tests/data/coffee.webp")).unwrap();
        assert_eq!(jpeg.upright_size(), (600, 400));
        // PNG and WebP are lossless copies of the same pixels.
        assert_eq!(png.pixels, webp.pixels);
    }

    #[test]
    fn exif_orientation_becomes_rotation() {
        let p = Photo::decode(include_bytes!("../tests/data/coffee_exif6.jpg")).unwrap();
        assert_eq!(p.pixels.dimensions(), (400, 600));
        assert_eq!((p.rotation, p.mirrored), (Rotation::Deg90, false));
        assert_eq!(p.upright_size(), (600, 400));
    }

    #[test]
    fn corrupt_and_truncated_bytes_are_errors() {
        assert!(matches!(Photo::decode(b"not an image"), Err(Error::InvalidPhoto(_))));
        assert!(Photo::decode(&[]).is_err());
        for cut in [2, 100, 1000, JPEG.len() / 2] {
            assert!(Photo::decode(&JPEG[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = JPEG.to_vec();
        for b in flipped[20..400].iter_mut() {
            *b ^= 0x5a;
        }
        assert!(Photo::decode(&flipped).is_err());
    }

    #[test]
    fn oversized_header_is_refused_before_allocating() {
        // A PNG header claiming 100000 x 100000 pixels.
        let mut png = include_bytes!("../tests/data/coffee.png")[..33].to_vec();
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(Photo::decode(&png).is_err());
    }
}
