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

/// `shoplens eval` on the sample catalog: every variant and search is reported, the known-good queries are found,
/// and the `.npy` dump has the catalog's shape.
#[test]
fn eval_reports_every_variant_and_dumps_vectors() {
    let root = common::root();
    let dir = std::env::temp_dir().join(format!("shoplens-eval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let catalog = root.join("tests/data/catalog");
    // Absolute paths, so the dataset folder holds only the two feeds; every query gets a box of its central part.
    let feed: String = std::fs::read_to_string(catalog.join("catalog.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let image = catalog.join("images").join(v["image"].as_str().unwrap());
            v["image"] = image.to_str().unwrap().into();
            format!("{v}\n")
        })
        .collect();
    std::fs::write(dir.join("catalog.jsonl"), feed).unwrap();
    let queries: String = std::fs::read_to_string(catalog.join("queries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let path = catalog.join(v["query"].as_str().unwrap());
            let (w, h) = shoplens::Photo::decode(&std::fs::read(&path).unwrap()).unwrap().upright_size();
            v["query"] = path.to_str().unwrap().into();
            v["box"] = serde_json::json!([w / 8, h / 8, w * 3 / 4, h * 3 / 4]);
            format!("{v}\n")
        })
        .collect();
    std::fs::write(dir.join("queries.jsonl"), queries).unwrap();
    let json = dir.join("report.json");
    let dump = dir.join("dump");
    let d = dir.to_str().unwrap();
    let out = shoplens(&[
        "eval",
        "--dataset",
        d,
        "--model",
        "models/shoplens-effnet-lite0-int8.onnx",
        "--dims",
        "64",
        "--timed",
        "2",
        "--json",
        json.to_str().unwrap(),
        "--dump",
        dump.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let model = &report["models"][0];
    let row = |variant: &str, method: &str| {
        let rows = model["results"].as_array().unwrap();
        rows.iter().find(|r| r["variant"] == variant && r["method"] == method && r["kind"] == "all").unwrap().clone()
    };
    for variant in ["photo", "frame", "frame-crop", "camera", "camera-crop"] {
        for method in ["hnsw", "shard-exact", "fp32-exact"] {
            let r = row(variant, method);
            assert_eq!(r["queries"], 8, "{variant} {method}");
            // The sample's queries are all found in the top 5 by the photo path; frames may lose one.
            assert!(r["r10"].as_f64().unwrap() >= 0.875, "{variant} {method}: {r}");
        }
    }
    assert_eq!(row("photo", "hnsw")["r5"], 1.0);
    assert!(model["latency"]["inference_ms"].as_f64().unwrap() > 0.0);
    // PCA 64 with its fitted residual weight and with the term off, then the f32 vectors.
    let dims = model["dims"].as_array().unwrap();
    let rows: Vec<(u64, bool)> =
        dims.iter().map(|d| (d["projected_dim"].as_u64().unwrap(), d["residual_fitted"].as_bool().unwrap())).collect();
    assert_eq!(rows, [(64, true), (64, false), (320, true)]);
    assert_eq!(dims[1]["residual_weight"], 0.0);
    let id = model["model_id"].as_str().unwrap();
    let npy = std::fs::read(dump.join(id).join("catalog.npy")).unwrap();
    let header = String::from_utf8_lossy(&npy[10..128]);
    assert!(header.contains("'shape': (30, 320)"), "{header}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inspect_prints_the_header_and_sections() {
    let out = shoplens(&["inspect", "tests/data/catalog/sample.shard", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(h["format_version"], 4);
    assert_eq!(
        (h["product_count"].as_u64(), h["model_dim"].as_u64(), h["stored_dim"].as_u64()),
        (Some(30), Some(320), Some(320))
    );
    // 30 products keep all 320 dims: nothing dropped, nothing to weigh.
    assert_eq!(h["residual_weight"], 0.0);
    let names: Vec<&str> = h["sections"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["projection", "vectors", "vector map", "graph", "products", "text"]);
    let out = shoplens(&["inspect", "tests/data/SOURCES.md"]);
    assert_eq!(out.status.code(), Some(1));
}
