//! YUV to RGB on real photo content against independent reference conversions, and bad frames through the engine.

mod common;

use common::*;
use shoplens::frame::encode_nv21;
use shoplens::preprocess::frame_to_rgb;
use shoplens::{CameraFrame, ColorRange, CropRect, Error, Plane, Rotation};

/// libjpeg's fixed-point full-range YCbCr to RGB (jdcolor.c: 16-bit fractions, round half up).
fn jfif_reference(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    const ONE_HALF: i32 = 1 << 15;
    let fix = |x: f64| (x * 65536.0 + 0.5) as i32;
    let (y, cb, cr) = (y as i32, cb as i32 - 128, cr as i32 - 128);
    let r = y + ((fix(1.40200) * cr + ONE_HALF) >> 16);
    let g = y + ((-fix(0.34414) * cb - fix(0.71414) * cr + ONE_HALF) >> 16);
    let b = y + ((fix(1.77200) * cb + ONE_HALF) >> 16);
    [r, g, b].map(|c| c.clamp(0, 255) as u8)
}

/// The usual limited-range BT.601 equations (as in libyuv's I420ToARGB): 1.164 (Y - 16) + ...
fn video_reference(y: u8, u: u8, v: u8) -> [u8; 3] {
    let (y, u, v) = (1.164 * (y as f64 - 16.0), u as f64 - 128.0, v as f64 - 128.0);
    [y + 1.596 * v, y - 0.391 * u - 0.813 * v, y + 2.018 * u].map(|c| c.round().clamp(0.0, 255.0) as u8)
}

/// Largest channel difference and mean absolute difference between two RGB buffers.
fn diff(a: &[u8], b: &[u8]) -> (u8, f64) {
    let max = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
    let mean = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as f64).sum::<f64>() / a.len() as f64;
    (max, mean)
}

/// The real photo cut to 224x224, as NV21.
fn photo_nv21() -> (Vec<u8>, Vec<u8>) {
    let (px, w, _) = rgb("coffee.jpg");
    let rgb = crop_rgb(&px, w, 150, 100, 224, 224);
    let nv21 = encode_nv21(&rgb, 224, 224).unwrap();
    (rgb, nv21)
}

/// Reference decode of NV21 with nearest chroma (each chroma sample covers its 2x2 luma block).
fn reference_decode(nv21: &[u8], w: usize, h: usize, f: fn(u8, u8, u8) -> [u8; 3]) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let c = w * h + (y / 2) * w + (x / 2) * 2;
            out.extend(f(nv21[y * w + x], nv21[c + 1], nv21[c]));
        }
    }
    out
}

#[test]
fn full_range_matches_libjpeg_within_one_level() {
    let (original, nv21) = photo_nv21();
    let frame = CameraFrame::nv21(224, 224, &nv21[..224 * 224], 224, &nv21[224 * 224..], 224).unwrap();
    let ours = frame_to_rgb(&frame, 224, 224, 1.0);
    let (max, mean) = diff(&ours, &reference_decode(&nv21, 224, 224, jfif_reference));
    assert!(max <= 1, "max {max} mean {mean}");
    // Against the photo itself, the loss is 4:2:0 chroma subsampling.
    let (_, mean) = diff(&ours, &original);
    assert!(mean < 3.0, "mean {mean}");
}

#[test]
fn video_range_matches_libyuv_within_two_levels() {
    let (_, full) = photo_nv21();
    // Squeeze the same samples into video range, as an iOS VideoRange buffer would carry them.
    let nv21: Vec<u8> =
        full.iter()
            .enumerate()
            .map(|(i, &v)| {
                if i < 224 * 224 {
                    16.0 + v as f64 * 219.0 / 255.0
                } else {
                    128.0 + (v as f64 - 128.0) * 224.0 / 255.0
                }
            })
            .map(|v| v.round() as u8)
            .collect();
    let frame = CameraFrame::nv21(224, 224, &nv21[..224 * 224], 224, &nv21[224 * 224..], 224)
        .unwrap()
        .with_range(ColorRange::Video);
    let ours = frame_to_rgb(&frame, 224, 224, 1.0);
    let (max, mean) = diff(&ours, &reference_decode(&nv21, 224, 224, video_reference));
    // libyuv's coefficients are rounded to three decimals, hence two levels.
    assert!(max <= 2, "max {max} mean {mean}");
}

#[test]
fn all_layouts_of_one_frame_agree() {
    // The same 224x224 content as NV21, NV12, I420 with padded rows, YUV_420_888 planes and RGBA/BGRA.
    let (rgb, nv21) = photo_nv21();
    let (w, h) = (224usize, 224usize);
    let (y, vu) = nv21.split_at(w * h);
    let reference = frame_to_rgb(&CameraFrame::nv21(224, 224, y, w, vu, w).unwrap(), 224, 224, 1.0);
    let uv: Vec<u8> = vu.chunks(2).flat_map(|p| [p[1], p[0]]).collect();
    let u: Vec<u8> = vu.chunks(2).map(|p| p[1]).collect();
    let v: Vec<u8> = vu.chunks(2).map(|p| p[0]).collect();
    // I420 with rows padded to 256 (Y) and 128 (chroma) bytes.
    let pad = |src: &[u8], cols: usize, stride: usize| -> Vec<u8> {
        src.chunks(cols).flat_map(|r| r.iter().copied().chain(std::iter::repeat_n(7, stride - cols))).collect()
    };
    let (yp, up, vp) = (pad(y, w, 256), pad(&u, w / 2, 128), pad(&v, w / 2, 128));
    let rgba: Vec<u8> = rgb.chunks(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
    let bgra: Vec<u8> = rgb.chunks(3).flat_map(|p| [p[2], p[1], p[0], 255]).collect();
    let frames = [
        CameraFrame::nv12(224, 224, y, w, &uv, w).unwrap(),
        CameraFrame::yuv_420_888(224, 224, Plane::new(&yp, 256), Plane::new(&up, 128), Plane::new(&vp, 128)).unwrap(),
        // YUV_420_888 as Android delivers NV21 memory: pixel stride 2 views into one buffer.
        CameraFrame::yuv_420_888(
            224,
            224,
            Plane::new(y, w),
            Plane { data: &vu[1..], row_stride: w, pixel_stride: 2 },
            Plane { data: vu, row_stride: w, pixel_stride: 2 },
        )
        .unwrap(),
    ];
    for f in &frames {
        assert_eq!(frame_to_rgb(f, 224, 224, 1.0), reference);
    }
    for f in [CameraFrame::rgba(224, 224, &rgba, 896).unwrap(), CameraFrame::bgra(224, 224, &bgra, 896).unwrap()] {
        assert_eq!(frame_to_rgb(&f, 224, 224, 1.0), rgb);
    }
}

#[test]
fn bad_frames_are_typed_errors_never_panics() {
    let engine = engine("int8");
    let buf = vec![128u8; 640 * 480 * 3 / 2];
    let (y, vu) = buf.split_at(640 * 480);
    let cases: Vec<(&str, Result<CameraFrame<'_>, Error>)> = vec![
        ("short Y plane", CameraFrame::nv21(640, 480, &y[..1000], 640, vu, 640)),
        ("short chroma", CameraFrame::nv21(640, 480, y, 640, &vu[..100], 640)),
        ("stride < width", CameraFrame::nv21(640, 480, y, 320, vu, 640)),
        ("odd 4:2:0", CameraFrame::nv21(639, 480, y, 640, vu, 640)),
        ("zero side", CameraFrame::rgba(0, 480, &buf, 0)),
        ("huge side", CameraFrame::rgba(20000, 1, &buf, 80000)),
        (
            "crop outside",
            CameraFrame::nv21(640, 480, y, 640, vu, 640)
                .and_then(|f| f.with_crop(CropRect { x: 600, y: 0, width: 100, height: 100 })),
        ),
        (
            "rotation 45",
            Rotation::from_degrees(45)
                .and_then(|r| CameraFrame::nv21(640, 480, y, 640, vu, 640).map(|f| f.with_rotation(r))),
        ),
    ];
    for (name, result) in cases {
        assert!(matches!(result, Err(Error::InvalidFrame(_))), "{name}: {result:?}");
    }
    // Tiny and extreme-aspect frames still embed.
    let tiny = CameraFrame::nv21(2, 2, &buf[..4], 2, &buf[4..6], 2).unwrap();
    assert_eq!(engine.embed_frame(&tiny).unwrap().vector.len(), engine.embedder().dim());
    let thin = CameraFrame::rgba(1, 480, &buf, 4).unwrap().with_rotation(Rotation::Deg90);
    assert!(engine.embed_frame(&thin).is_ok());
    // Corrupt photo bytes.
    for bad in [&b""[..], b"\xff\xd8\xff garbage", &data("coffee.jpg")[..500]] {
        assert!(engine.embed_photo(bad).is_err());
    }
}
