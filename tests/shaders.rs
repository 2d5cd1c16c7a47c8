//! Parses and validates every `shaders/*.wgsl` with naga, so a WGSL error fails `cargo test`
//! on a machine without a GPU.

use std::path::Path;

fn validate(path: &Path) -> Result<(), String> {
    let src = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let module = naga::front::wgsl::parse_str(&src).map_err(|e| e.emit_to_string(&src))?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .map_err(|e| e.emit_to_string(&src))?;
    if module.entry_points.is_empty() {
        return Err(format!("{}: no entry points", path.display()));
    }
    Ok(())
}

#[test]
fn every_shader_parses_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("shaders/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wgsl"))
        .collect();
    paths.sort();
    let mut failures = Vec::new();
    for p in &paths {
        if let Err(e) = validate(p) {
            failures.push(format!("{}:\n{e}", p.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "invalid shaders:\n{}",
        failures.join("\n")
    );
    // one file per kernel family, all present
    for name in [
        "elementwise",
        "reduce",
        "matmul",
        "conv",
        "softmax",
        "index",
        "random",
        "optim",
    ] {
        assert!(
            paths
                .iter()
                .any(|p| p.file_stem().is_some_and(|s| s == name)),
            "shaders/{name}.wgsl is missing"
        );
    }
}
