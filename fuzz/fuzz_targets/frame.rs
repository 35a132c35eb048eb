//! Frame parsing: arbitrary geometry, strides, crop and bytes must give a frame that converts, or an error.
//! Half the inputs go through the packed constructors, half through Android's `YUV_420_888` planes with their own
//! row and pixel strides (planes may overlap, as U and V do in a real NV21 buffer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoplens::preprocess::{frame_to_tensor, InputSpec, Layout};
use shoplens::{CameraFrame, ColorRange, CropRect, PixelFormat, Plane, Rotation};

fuzz_target!(|data: &[u8]| {
    if data.len() < 40 {
        return;
    }
    let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    let (w, h) = (word(1) % 300, word(5) % 300);
    let pixels = &data[40..];
    let frame = if data[0] & 0x80 == 0 {
        let format = [PixelFormat::Nv21, PixelFormat::Nv12, PixelFormat::I420, PixelFormat::Rgba8888, PixelFormat::Bgra8888]
            [data[0] as usize % 5];
        let stride = if data[9] & 1 == 1 { Some(word(10) as usize) } else { None };
        CameraFrame::packed(format, w, h, pixels, stride)
    } else {
        // Each plane starts at an offset into the same buffer, with its own strides.
        let plane = |at: usize| -> Plane<'_> {
            let start = (word(at) as usize) % (pixels.len() + 1);
            Plane { data: &pixels[start..], row_stride: (data[at + 4] as usize) * 2, pixel_stride: data[at + 5] as usize % 10 }
        };
        CameraFrame::yuv_420_888(w, h, plane(10), plane(16), plane(22))
            .map(|f| f.with_range(if data[9] & 1 == 1 { ColorRange::Video } else { ColorRange::Full }))
    };
    let Ok(frame) = frame else { return };
    let crop = CropRect { x: word(28) % 320, y: data[32] as u32, width: data[33] as u32 + 1, height: data[34] as u32 };
    let Ok(rotation) = Rotation::from_degrees(90 * data[35] as i32) else { return };
    let frame = frame.with_rotation(rotation).with_mirrored(data[36] & 1 == 1);
    let frame = if data[37] & 1 == 1 { frame.with_crop(crop).unwrap_or(frame) } else { frame };
    let spec = InputSpec { width: 8, height: 8, layout: Layout::Nchw, bgr: false, mean: [0.0; 3], std: [1.0; 3], crop_fraction: 1.0, wide: Some(10) };
    let spec = if data[38] & 1 == 1 { spec.fit(&frame) } else { spec };
    assert_eq!(frame_to_tensor(&frame, &spec).len(), spec.len());
});
