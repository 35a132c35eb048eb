//! README's Kotlin, Swift and Python examples are copies of a marked region of each language's binding tests, which
//! run them (bindings/test.sh); this keeps the copies identical, so the README cannot go stale.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The lines between `README-BEGIN <lang>` and `README-END`, without their common indentation.
fn test_region(file: &str, lang: &str) -> String {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.trim_end().ends_with(&format!("README-BEGIN {lang}")))
        .skip(1)
        .take_while(|l| !l.contains("README-END"))
        .collect();
    assert!(!lines.is_empty(), "{file} has no README-BEGIN {lang} region");
    let indent = lines.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap();
    lines.iter().map(|l| l.get(indent..).unwrap_or("").trim_end()).collect::<Vec<_>>().join("\n")
}

/// README's fenced block tagged `lang`.
fn readme_block(lang: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find(&format!("```{lang}\n")).unwrap_or_else(|| panic!("README has no {lang} block"));
    let body = &readme[start + lang.len() + 4..];
    body[..body.find("```").unwrap()].trim_end().to_string()
}

#[test]
fn readme_examples_are_the_binding_tests() {
    for (lang, file) in [
        ("kotlin", "bindings/kotlin/src/test/kotlin/dev/shoplens/ShopLensTest.kt"),
        ("swift", "bindings/swift/Tests/ShopLensKitTests/ShopLensKitTests.swift"),
        ("python", "bindings/python/test_shoplens.py"),
    ] {
        let (test, readme) = (test_region(file, lang), readme_block(lang));
        assert_eq!(readme, test, "README's {lang} example differs from {file}'s README-BEGIN region: copy it over");
    }
}
