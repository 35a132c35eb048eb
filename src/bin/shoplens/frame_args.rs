//! The raw camera frame options shared by the commands that take a frame.

use clap::{Args, ValueEnum};
use shoplens::{CameraFrame, ColorRange, CropRect, Error, PixelFormat, Rotation};

/// Pixel formats of raw frame dumps.
#[derive(Clone, Copy, ValueEnum)]
pub enum FrameFormat {
    Nv21,
    Nv12,
    I420,
    Rgba,
    Bgra,
}

/// Options that describe a raw frame dump: planes tightly packed one after another unless --row-stride says otherwise.
#[derive(Args)]
pub struct FrameArgs {
    /// Read FILE as a raw frame in this pixel format instead of an encoded photo.
    #[arg(long, value_enum, requires = "size")]
    pub frame: Option<FrameFormat>,
    /// Frame size, WIDTHxHEIGHT.
    #[arg(long, value_parser = parse_size)]
    pub size: Option<(u32, u32)>,
    /// Bytes per row of the Y (or RGBA) plane.
    #[arg(long)]
    pub row_stride: Option<usize>,
    /// Degrees clockwise to turn the frame upright (0, 90, 180, 270).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub rotation: i32,
    /// Crop box X,Y,W,H in the frame's own (unrotated) pixels.
    #[arg(long, value_parser = parse_crop)]
    pub crop: Option<CropRect>,
    /// YUV samples use video range (16-235) instead of full range.
    #[arg(long)]
    pub video_range: bool,
    /// Mirror the upright image (front camera).
    #[arg(long)]
    pub mirrored: bool,
}

impl FrameArgs {
    /// The frame these options describe over `bytes`, or `None` when no --frame was given.
    pub fn to_frame<'a>(&self, bytes: &'a [u8]) -> Result<Option<CameraFrame<'a>>, Error> {
        let (Some(format), Some((w, h))) = (self.frame, self.size) else { return Ok(None) };
        let format = match format {
            FrameFormat::Nv21 => PixelFormat::Nv21,
            FrameFormat::Nv12 => PixelFormat::Nv12,
            FrameFormat::I420 => PixelFormat::I420,
            FrameFormat::Rgba => PixelFormat::Rgba8888,
            FrameFormat::Bgra => PixelFormat::Bgra8888,
        };
        let range = if self.video_range { ColorRange::Video } else { ColorRange::Full };
        let mut frame = CameraFrame::packed(format, w, h, bytes, self.row_stride)?
            .with_rotation(Rotation::from_degrees(self.rotation)?)
            .with_mirrored(self.mirrored)
            .with_range(range);
        if let Some(crop) = self.crop {
            frame = frame.with_crop(crop)?;
        }
        Ok(Some(frame))
    }
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or("expected WIDTHxHEIGHT, like 1920x1080")?;
    Ok((w.trim().parse().map_err(|e| format!("width: {e}"))?, h.trim().parse().map_err(|e| format!("height: {e}"))?))
}

fn parse_crop(s: &str) -> Result<CropRect, String> {
    let v: Vec<u32> =
        s.split(',').map(|p| p.trim().parse::<u32>()).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    match v[..] {
        [x, y, width, height] => Ok(CropRect { x, y, width, height }),
        _ => Err("expected X,Y,W,H".into()),
    }
}
