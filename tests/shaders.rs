//! Parses and validates every shader as compiled (the generated constants, then
//! `shaders/prelude.wgsl`, then the file) with naga, so a WGSL error fails `cargo test` on a
//! machine without a GPU. The reflection checks of the host/shader contract are in
//! `shader_contract.rs`.

use std::path::Path;

#[test]
fn every_shader_parses_and_validates() {
    let mut failures = Vec::new();
    for (name, src) in rustdl::backend::wgpu::contract::shaders() {
        let res = naga::front::wgsl::parse_str(&src)
            .map_err(|e| e.emit_to_string(&src))
            .and_then(|module| {
                naga::valid::Validator::new(
                    naga::valid::ValidationFlags::all(),
                    naga::valid::Capabilities::default(),
                )
                .validate(&module)
                .map(|_| module)
                .map_err(|e| e.emit_to_string(&src))
            });
        match res {
            Ok(m) if m.entry_points.is_empty() => failures.push(format!("{name}: no entry points")),
            Ok(_) => {}
            Err(e) => failures.push(format!("{name}:\n{e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "invalid shaders:\n{}",
        failures.join("\n")
    );
    // one file per kernel family, all present, plus the shared prelude
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for name in [
        "prelude",
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
            dir.join(format!("{name}.wgsl")).is_file(),
            "shaders/{name}.wgsl is missing"
        );
    }
}
