//! Seeded random frame geometries, strides, crops and buffer lengths: every one is a frame or an
//! `InvalidFrame` error, and every frame that validates converts without a panic (the same checks as the
//! `frame` fuzz target, run in CI).

use shoplens::preprocess::{frame_to_tensor, InputSpec, Layout};
use shoplens::{CameraFrame, CropRect, Error, PixelFormat, Plane, Rotation};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn spec() -> InputSpec {
    InputSpec {
        width: 16,
        height: 12,
        layout: Layout::Nchw,
        bgr: false,
        mean: [0.0; 3],
        std: [1.0; 3],
        crop_fraction: 0.875,
        wide: None,
    }
}

/// A wide-capable square model's input for this frame converts too: square, wide or tall, never another shape.
/// Returns which: 0 square, 1 wide, 2 tall.
fn check_fitted(frame: &CameraFrame<'_>) -> usize {
    let square = InputSpec { width: 12, height: 12, wide: Some(16), ..spec() };
    let s = square.fit(frame);
    assert_eq!(frame_to_tensor(frame, &s).len(), s.len());
    match (s.width, s.height) {
        (12, 12) => 0,
        (16, 12) => 1,
        (12, 16) => 2,
        other => panic!("fit gave {other:?}"),
    }
}

#[test]
fn random_frames_validate_or_fail_cleanly() {
    let mut rng = Rng(0x5eed_1234);
    let buf = vec![77u8; 64 * 1024];
    let formats =
        [PixelFormat::Nv21, PixelFormat::Nv12, PixelFormat::I420, PixelFormat::Rgba8888, PixelFormat::Bgra8888];
    let (mut ok, mut rejected) = (0, 0);
    let mut shapes = [0usize; 3];
    for _ in 0..4000 {
        let format = formats[rng.below(5) as usize];
        let (w, h) = (rng.below(140) as u32, rng.below(140) as u32);
        let stride = match rng.below(4) {
            0 => None,
            1 => Some(rng.below(600) as usize),
            2 => Some(usize::MAX - rng.below(8) as usize),
            _ => Some(w as usize * 4 + rng.below(64) as usize),
        };
        let len = rng.below(buf.len() as u64) as usize;
        let result = CameraFrame::packed(format, w, h, &buf[..len], stride).and_then(|f| {
            let f = f.with_rotation(Rotation::from_degrees(90 * rng.below(4) as i32)?).with_mirrored(rng.below(2) == 1);
            if rng.below(2) == 0 {
                let crop = CropRect {
                    x: rng.below(150) as u32,
                    y: rng.below(150) as u32,
                    width: rng.below(150) as u32,
                    height: rng.below(150) as u32,
                };
                f.with_crop(crop)
            } else {
                Ok(f)
            }
        });
        match result {
            Ok(frame) => {
                assert_eq!(frame_to_tensor(&frame, &spec()).len(), 3 * 16 * 12);
                shapes[check_fitted(&frame)] += 1;
                ok += 1;
            }
            Err(Error::InvalidFrame(_)) => rejected += 1,
            Err(other) => panic!("unexpected error kind: {other}"),
        }
    }
    // Both outcomes must be common, or the generator tests nothing; so must square, wide and tall inputs.
    assert!(ok > 400 && rejected > 400, "ok {ok}, rejected {rejected}");
    assert!(shapes.iter().all(|&n| n > 50), "square, wide, tall: {shapes:?}");
}

#[test]
fn random_yuv_420_888_strides() {
    let mut rng = Rng(42);
    let buf = vec![200u8; 32 * 1024];
    for _ in 0..3000 {
        let (w, h) = (2 * rng.below(40) as u32, 2 * rng.below(40) as u32);
        let plane = |rng: &mut Rng| Plane {
            data: &buf[rng.below(64) as usize..64 + rng.below(buf.len() as u64 - 64) as usize],
            row_stride: rng.below(200) as usize,
            pixel_stride: rng.below(4) as usize,
        };
        let (y, u, v) = (plane(&mut rng), plane(&mut rng), plane(&mut rng));
        match CameraFrame::yuv_420_888(w, h, y, u, v) {
            Ok(frame) => assert_eq!(frame_to_tensor(&frame, &spec()).len(), 3 * 16 * 12),
            Err(Error::InvalidFrame(_)) => {}
            Err(other) => panic!("unexpected error kind: {other}"),
        }
    }
}
