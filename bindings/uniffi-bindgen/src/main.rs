//! `cargo run -p uniffi-bindgen -- generate --library target/debug/libshoplens.so --language kotlin --out-dir OUT`
//!
//! Pinned through the workspace's `uniffi` dependency, so the generated code always matches the scaffolding.

fn main() {
    uniffi::uniffi_bindgen_main()
}
