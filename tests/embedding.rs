//! End to end on real photos: photo and camera-frame paths, rotation, EXIF, model agreement.

mod common;

use common::*;
use shoplens::frame::encode_nv21;
use shoplens::preprocess::{frame_to_tensor, InputSpec};
use shoplens::{cosine, CameraFrame, CropRect, Rotation};

fn nv21_frame(nv21: &[u8], w: u32, h: u32) -> CameraFrame<'_> {
    let (y, vu) = nv21.split_at((w * h) as usize);
    CameraFrame::nv21(w, h, y, w as usize, vu, w as usize).unwrap()
}

#[test]
fn jpeg_nv21_and_rotated_nv21_agree() {
    let engine = engine("int8");
    let jpeg = engine.embed_photo(&data("coffee.jpg")).unwrap().vector;
    let (px, w, h) = rgb("coffee.jpg");
    let nv21 = encode_nv21(&px, w, h).unwrap();
    let from_frame = engine.embed_frame(&nv21_frame(&nv21, w, h)).unwrap().vector;
    // The sensor saw the scene turned a quarter counter-clockwise; rotation 90 turns it back.
    let sideways = encode_nv21(&rotate_ccw(&px, w, h), h, w).unwrap();
    let frame = nv21_frame(&sideways, h, w).with_rotation(Rotation::Deg90);
    let from_rotated = engine.embed_frame(&frame).unwrap().vector;
    let (c1, c2) = (cosine(&jpeg, &from_frame), cosine(&jpeg, &from_rotated));
    println!("jpeg~nv21 {c1:.4}, jpeg~rotated nv21 {c2:.4}");
    assert!(c1 >= 0.98 && c2 >= 0.98, "{c1} {c2}");
    // Without its rotation flag the sideways frame is a different picture to the model.
    let unrotated = engine.embed_frame(&nv21_frame(&sideways, h, w)).unwrap().vector;
    assert!(cosine(&jpeg, &unrotated) < c2);
}

#[test]
fn exif_orientation_is_honoured() {
    let engine = engine("int8");
    let upright = engine.embed_photo(&data("coffee.jpg")).unwrap().vector;
    let exif = engine.embed_photo(&data("coffee_exif6.jpg")).unwrap().vector;
    let c = cosine(&upright, &exif);
    assert!(c >= 0.98, "{c}");
}

#[test]
fn crop_box_selects_the_object() {
    let engine = engine("int8");
    // The coffee photo pasted on the left of a wide frame whose right side is another photo.
    let (coffee, cw, ch) = rgb("coffee.jpg");
    let (other, ow, _) = rgb("aero1.jpg");
    let (w, h) = (1200u32, 400u32);
    let mut px = vec![0u8; (w * h * 3) as usize];
    for y in 0..h {
        let row = (y * w * 3) as usize;
        let c = crop_rgb(&coffee, cw, 0, y.min(ch - 1), 600, 1);
        px[row..row + 1800].copy_from_slice(&c);
        let o = crop_rgb(&other, ow, 0, y, 600, 1);
        px[row + 1800..row + 3600].copy_from_slice(&o);
    }
    let nv21 = encode_nv21(&px, w, h).unwrap();
    let crop = CropRect { x: 0, y: 0, width: 600, height: 400 };
    let cropped = engine.embed_frame(&nv21_frame(&nv21, w, h).with_crop(crop).unwrap()).unwrap().vector;
    let whole = engine.embed_photo(&data("coffee.jpg")).unwrap().vector;
    let c = cosine(&cropped, &whole);
    assert!(c >= 0.98, "{c}");
}

#[test]
fn same_object_is_closer_than_other_objects() {
    let engine = engine("int8");
    let names = [
        "coffee.jpg",
        "chelsea.jpg",
        "orange.jpg",
        "apple.jpg",
        "aero1.jpg",
        "aero3.jpg",
        "rubberwhale1.jpg",
        "rubberwhale2.jpg",
    ];
    let v: Vec<Vec<f32>> = names.iter().map(|n| engine.embed_photo(&data(n)).unwrap().vector).collect();
    let same = [(4, 5), (6, 7)];
    for &(a, b) in &same {
        let pair = cosine(&v[a], &v[b]);
        for (o, name) in names.iter().enumerate() {
            if o == a || o == b {
                continue;
            }
            for x in [a, b] {
                let other = cosine(&v[x], &v[o]);
                println!("{} ~ {}: same {pair:.3}, vs {name} {other:.3}", names[a], names[b]);
                assert!(pair > other + 0.05, "{} vs {}: {pair} not clearly above {other}", names[x], name);
            }
        }
    }
}

#[test]
fn int8_agrees_with_fp32() {
    let (int8, fp32) = (engine("int8"), engine("fp32"));
    let mut worst = 1f32;
    for name in ["coffee.jpg", "chelsea.jpg", "orange.jpg", "aero1.jpg", "rubberwhale1.jpg"] {
        let bytes = data(name);
        let c = cosine(&int8.embed_photo(&bytes).unwrap().vector, &fp32.embed_photo(&bytes).unwrap().vector);
        println!("{name}: int8 ~ fp32 {c:.4}");
        worst = worst.min(c);
    }
    assert!(worst >= 0.95, "{worst}");
}

#[test]
fn engine_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<shoplens::ShopLens>();
    let engine = engine("int8");
    let bytes = data("orange.jpg");
    let alone = engine.embed_photo(&bytes).unwrap().vector;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| engine.embed_photo(&bytes).unwrap().vector)).collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), alone);
        }
    });
}

/// Callers on more threads than the engine's pool has, many runs each: tract's products keep their thread's scratch
/// borrowed while they wait for their parts, so a second inference picked up by a waiting pool thread would panic
/// (and abort while unwinding); runs go through the pool one at a time and all give the same vector.
#[test]
fn many_callers_share_a_two_thread_engine() {
    let engine = shoplens::ShopLens::open_with(
        model_path("int8"),
        shoplens::EmbedderOptions { threads: 2, ..Default::default() },
    )
    .unwrap();
    let bytes = data("orange.jpg");
    let alone = engine.embed_photo(&bytes).unwrap().vector;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..5)
            .map(|_| s.spawn(|| (0..6).map(|_| engine.embed_photo(&bytes).unwrap().vector).collect::<Vec<_>>()))
            .collect();
        for h in handles {
            assert!(h.join().unwrap().iter().all(|v| *v == alone));
        }
    });
}

#[test]
fn embeds_from_inside_a_rayon_pool() {
    use rayon::prelude::*;
    // A multi-threaded engine called from a caller's rayon jobs (as the shard builder does) must not re-enter tract.
    let engine = shoplens::ShopLens::open_with(
        model_path("int8"),
        shoplens::EmbedderOptions { threads: 2, ..Default::default() },
    )
    .unwrap();
    let bytes = data("apple.jpg");
    let alone = engine.embed_photo(&bytes).unwrap().vector;
    let all: Vec<Vec<f32>> = (0..16).into_par_iter().map(|_| engine.embed_photo(&bytes).unwrap().vector).collect();
    assert!(all.iter().all(|v| *v == alone));
}

/// The object vector finds a small product in a cluttered scene better than the whole photo's vector does, against
/// the sample catalog's 30 products as the catalog stores them.
#[test]
fn object_vector_finds_a_small_product_in_a_scene() {
    let engine = engine("int8");
    let catalog = common::root().join("tests/data/catalog");
    let read = |p: &str| std::fs::read(catalog.join(p)).unwrap();
    let mut products: Vec<(String, Vec<f32>)> = std::fs::read_dir(catalog.join("images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .map(|(name, bytes)| (name, engine.embed_catalog_photo(&bytes).unwrap()))
        .collect();
    products.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(products.len(), 30);
    let scene = engine.embed_photo(&read("queries/box_in_scene.jpg")).unwrap();
    let object = scene.objects.first().expect("the bundled model has a region output");
    let norm: f32 = object.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
    let ranked = |q: &[f32]| {
        let mut r: Vec<(f32, &str)> = products.iter().map(|(n, v)| (cosine(q, v), n.as_str())).collect();
        r.sort_by(|a, b| b.0.total_cmp(&a.0));
        r
    };
    let (by_object, by_whole) = (ranked(object), ranked(&scene.vector));
    println!("object: {:?}\nwhole: {:?}", &by_object[..3], &by_whole[..3]);
    // The scene also holds a book, which the strongest window can take for the product; the box still scores higher
    // through the object vector than through the whole photo (0.325 against 0.295).
    let score = |r: &[(f32, &str)]| r.iter().find(|(_, n)| *n == "bastoncini-box").map(|x| x.0).unwrap();
    assert!(score(&by_object) > score(&by_whole) + 0.02, "{by_object:?} {by_whole:?}");
}

/// Catalog photos are stored as the mean of the photo's and its mirror image's embeddings, so the side a product
/// was photographed from does not matter: the photo mirrored gets the same catalog vector (while their plain
/// embeddings differ), EXIF orientation is honoured first, and the catalog vector stays close to the photo's own.
#[test]
fn catalog_vectors_do_not_depend_on_the_side_photographed() {
    let engine = engine("int8");
    let (px, w, h) = rgb("coffee.jpg");
    let mirrored: Vec<u8> =
        px.chunks_exact(w as usize * 3).flat_map(|row| row.chunks_exact(3).rev().flatten().copied()).collect();
    let mut png = Vec::new();
    image::RgbImage::from_raw(w, h, mirrored)
        .unwrap()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let original = data("coffee.jpg");
    let catalog = engine.embed_catalog_photo(&original).unwrap();
    let of_mirror = cosine(&catalog, &engine.embed_catalog_photo(&png).unwrap());
    let of_exif = cosine(&catalog, &engine.embed_catalog_photo(&data("coffee_exif6.jpg")).unwrap());
    let plain = engine.embed_photo(&original).unwrap().vector;
    let plain_of_mirror = cosine(&plain, &engine.embed_photo(&png).unwrap().vector);
    let to_plain = cosine(&catalog, &plain);
    println!("catalog ~ mirrored {of_mirror:.4}, ~ EXIF-rotated {of_exif:.4}, ~ plain {to_plain:.4}; plain ~ plain of mirror {plain_of_mirror:.4}");
    assert!(of_mirror > 0.999, "{of_mirror}");
    assert!(plain_of_mirror < 0.99, "the photo should look different mirrored: {plain_of_mirror}");
    assert!(of_exif >= 0.995, "{of_exif}");
    assert!(to_plain > 0.95, "{to_plain}");
}

/// 16:9 frames and 3:2 photos run the model's wide input: the centred 9:7 window (72 % of a 16:9 frame's width where
/// the square keeps 56 %) through a second plan, whose 7 x 9 feature map gives the object vector. What that buys in
/// retrieval is measured by `shoplens eval` (docs/benchmarks.md).
#[test]
fn wide_pictures_run_the_wide_input() {
    let engine = engine("int8");
    let (px, w, h) = rgb("coffee.jpg");
    let frame = CameraFrame::rgb(w, h, &px, 3 * w as usize).unwrap();
    let spec = engine.embedder().input_spec();
    let wide_spec = spec.fit(&frame);
    assert_eq!((wide_spec.width, wide_spec.height), (288, 224));
    let wide = engine.embed_frame(&frame).unwrap();
    let (square, _) = engine.embedder().embed_input(frame_to_tensor(&frame, spec), spec).unwrap();
    // The same photo, seen wider: close, but not the square's vector.
    let c = cosine(&wide.vector, &square);
    println!("wide vs square input {c:.4}");
    assert!(c > 0.8 && c < 0.99, "{c}");
    let object = wide.objects.first().expect("the bundled model has a region output");
    assert!((object.iter().map(|x| x * x).sum::<f32>().sqrt() - 1.0).abs() < 1e-4);
    // A tensor of another shape is refused, not run.
    assert!(engine.embedder().embed_input(vec![0.0; 3 * 288 * 288], &InputSpec { height: 288, ..wide_spec }).is_err());
}

/// A portrait picture from a landscape sensor (rotation 90) is tall once upright: the tall plan, optimized once even
/// when several threads meet their first tall frame together, and it agrees with the same picture given upright.
#[test]
fn portrait_frames_run_the_tall_input_once() {
    let engine = engine("int8");
    let (px, w, h) = rgb("coffee.jpg");
    // The upright picture is the photo turned on its side (h x w, portrait); the sensor holds it turned back.
    let portrait = rotate_ccw(&px, w, h);
    let upright = CameraFrame::rgb(h, w, &portrait, 3 * h as usize).unwrap();
    let sensor = encode_nv21(&rotate_ccw(&portrait, h, w), w, h).unwrap();
    let frame = nv21_frame(&sensor, w, h).with_rotation(Rotation::Deg90);
    let spec = engine.embedder().input_spec();
    assert_eq!((spec.fit(&frame).width, spec.fit(&frame).height), (224, 288));
    assert_eq!((spec.fit(&upright).width, spec.fit(&upright).height), (224, 288));
    let runs: Vec<Vec<f32>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| engine.embed_frame(&frame).unwrap().vector)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(runs.iter().all(|v| *v == runs[0]));
    let c = cosine(&runs[0], &engine.embed_frame(&upright).unwrap().vector);
    assert!(c >= 0.98, "{c}");
}

/// `prepare` makes the plan a camera's pictures need before the first frame, and frames then run on it.
#[test]
fn prepare_readies_the_plan_for_the_cameras_pictures() {
    let engine = engine("int8");
    assert_eq!(engine.prepare(1920, 1080).unwrap(), (288, 224));
    assert_eq!(engine.prepare(1920, 1080).unwrap(), (288, 224));
    assert_eq!(engine.prepare(1080, 1920).unwrap(), (224, 288));
    assert_eq!(engine.prepare(640, 480).unwrap(), (224, 224));
    assert!(matches!(engine.prepare(0, 480), Err(shoplens::Error::InvalidArgument(_))));
    let (px, w, h) = rgb("coffee.jpg");
    let frame = CameraFrame::rgb(w, h, &px, 3 * w as usize).unwrap();
    let spec = engine.embedder().fit(&frame);
    assert_eq!((spec.width, spec.height), (288, 224));
    assert!(engine.embed_frame(&frame).is_ok());
}

/// ShopLens's depthwise kernel (fused with its ReLU6) computes what tract's own computes: the same embedding and
/// object vectors for a real photo, wide and square, as the same model run with `tract_depthwise`.
#[test]
fn own_depthwise_kernel_agrees_with_tracts() {
    let load = |threads, tract_depthwise| {
        shoplens::Embedder::from_path(model_path("int8"), shoplens::EmbedderOptions { threads, tract_depthwise })
            .unwrap()
    };
    // Two threads split the channels among them.
    let (theirs, ours, ours_2) = (load(1, true), load(1, false), load(2, false));
    let (px, w, h) = rgb("coffee.jpg");
    let frame = CameraFrame::rgb(w, h, &px, 3 * w as usize).unwrap();
    let crop = frame.with_crop(CropRect { x: 100, y: 0, width: 400, height: 400 }).unwrap();
    for (frame, size) in [(frame, (288, 224)), (crop, (224, 224))] {
        let spec = ours.fit(&frame);
        assert_eq!((spec.width, spec.height), size);
        let tensor = frame_to_tensor(&frame, &spec);
        let (b, b_objects) = theirs.embed_input(tensor.clone(), &spec).unwrap();
        for embedder in [&ours, &ours_2] {
            let (a, a_objects) = embedder.embed_input(tensor.clone(), &spec).unwrap();
            assert!(!a_objects.is_empty() && a_objects.len() == b_objects.len());
            for (a, b) in std::iter::once((&a, &b)).chain(a_objects.iter().zip(&b_objects)) {
                let c = cosine(a, b);
                assert!(c > 0.99999, "{size:?}, {} threads: cosine {c}", embedder.threads());
            }
        }
    }
}
