//! Frame parsing: arbitrary geometry, strides, crop and bytes must give a frame that converts, or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoplens::preprocess::{frame_to_tensor, InputSpec, Layout};
use shoplens::{CameraFrame, CropRect, PixelFormat, Rotation};

fuzz_target!(|data: &[u8]| {
    if data.len() < 24 {
        return;
    }
    let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    let format = [PixelFormat::Nv21, PixelFormat::Nv12, PixelFormat::I420, PixelFormat::Rgba8888, PixelFormat::Bgra8888]
        [data[0] as usize % 5];
    let (w, h) = (word(1) % 300, word(5) % 300);
    let stride = if data[9] & 1 == 1 { Some(word(10) as usize) } else { None };
    let crop = CropRect { x: word(14) % 320, y: data[18] as u32, width: data[19] as u32 + 1, height: data[20] as u32 };
    let Ok(rotation) = Rotation::from_degrees(90 * data[21] as i32) else { return };
    let Ok(frame) = CameraFrame::packed(format, w, h, &data[24..], stride) else { return };
    let frame = frame.with_rotation(rotation).with_mirrored(data[22] & 1 == 1);
    let frame = if data[23] & 1 == 1 { frame.with_crop(crop).unwrap_or(frame) } else { frame };
    let spec = InputSpec { width: 8, height: 8, layout: Layout::Nchw, bgr: false, mean: [0.0; 3], std: [1.0; 3], crop_fraction: 1.0 };
    assert_eq!(frame_to_tensor(&frame, &spec).len(), 192);
});
