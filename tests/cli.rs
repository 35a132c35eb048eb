//! The `shoplens` binary: output shapes and exit codes.

mod common;

use std::process::Command;

fn shoplens(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shoplens")).args(args).current_dir(common::root()).output().unwrap()
}

#[test]
fn embed_photo_json_is_a_unit_vector() {
    let out = shoplens(&["embed", "tests/data/orange.jpg", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Vec<f32> = serde_json::from_slice(&out.stdout).unwrap();
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3 && v.len() > 100);
}

#[test]
fn embed_raw_frame_dump() {
    let px = shoplens::Photo::decode(&common::data("orange.jpg")).unwrap().to_rgb_image();
    let nv21 = shoplens::frame::encode_nv21(px.as_raw(), px.width(), px.height()).unwrap();
    let dir = std::env::temp_dir().join(format!("shoplens-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("frame.nv21");
    std::fs::write(&file, &nv21).unwrap();
    let size = format!("{}x{}", px.width(), px.height());
    let f = file.to_str().unwrap();
    let out = shoplens(&[
        "embed",
        "--frame",
        "nv21",
        "--size",
        &size,
        "--rotation",
        "90",
        "--crop",
        "10,10,400,400",
        f,
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A dump one byte short is a one-line error and exit code 1, not a panic (101).
    std::fs::write(&file, &nv21[..nv21.len() - 1]).unwrap();
    let out = shoplens(&["embed", "--frame", "nv21", "--size", &size, f]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("shoplens: invalid camera frame") && err.trim().lines().count() == 1, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_inputs_exit_non_zero_without_panicking() {
    for args in [
        &["embed", "tests/data/SOURCES.md"][..],
        &["embed", "no/such/file.jpg"],
        &["embed", "--frame", "nv21", "--size", "641x480", "tests/data/orange.jpg"],
        &["embed", "--frame", "nv21", "--size", "64x48", "--crop", "60,0,10,10", "tests/data/orange.jpg"],
        &["embed", "--frame", "rgba", "--size", "nonsense", "tests/data/orange.jpg"],
        &["embed", "--model", "tests/data/orange.jpg", "tests/data/orange.jpg"],
    ] {
        let out = shoplens(args);
        let code = out.status.code();
        assert!(
            code.is_some_and(|c| c != 0 && c != 101),
            "{args:?}: {code:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
