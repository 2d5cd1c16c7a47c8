//! Parses and validates every shader as compiled (the generated constants and parameter
//! structs, then `shaders/prelude.wgsl`, then the file) with naga, so a WGSL error fails
//! `cargo test` on a machine without a GPU; and, where an adapter exists, checks that the
//! max/min-based float ops propagate NaN as the CPU does. The reflection checks of the
//! host/shader contract are in `shader_contract.rs`.

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
        "scan",
    ] {
        assert!(
            dir.join(format!("{name}.wgsl")).is_file(),
            "shaders/{name}.wgsl is missing"
        );
    }
}

/// relu, maximum, minimum and clamp propagate NaN on the GPU as on the CPU (the shaders test
/// NaN on the bits rather than trust WGSL `max` / `min`, which some drivers let drop a NaN).
/// Skipped without an adapter, unless `RUSTDL_REQUIRE_GPU=1`.
#[test]
fn nan_propagates_through_max_min_ops_as_on_the_cpu() {
    use rustdl::backend::{BinaryOp, UnaryOp};
    use rustdl::{Device, Tensor};

    if !rustdl::backend::wgpu::is_available() {
        let required = std::env::var("RUSTDL_REQUIRE_GPU").is_ok_and(|v| v == "1");
        assert!(!required, "no GPU adapter was found");
        return;
    }
    let d = Device::Gpu(0);
    let nan = f32::NAN;
    let a = Tensor::from_f32(vec![nan, -1.0, 0.0, 2.0, nan, 3.0], &[6]).unwrap();
    let b = Tensor::from_f32(vec![1.0, nan, -0.5, nan, nan, 1.0], &[6]).unwrap();
    let bits = |t: &Tensor| -> Vec<String> {
        // NaN payloads may differ; compare NaN-ness and values
        t.to_f32_vec()
            .unwrap()
            .iter()
            .map(|v| {
                if v.is_nan() {
                    "nan".into()
                } else {
                    format!("{v}")
                }
            })
            .collect()
    };
    let (ag, bg) = (a.to_device(d).unwrap(), b.to_device(d).unwrap());
    for op in [UnaryOp::Relu, UnaryOp::Clamp(-0.5, 0.5)] {
        let cpu = a.unary(op).unwrap();
        let gpu = ag.unary(op).unwrap();
        assert_eq!(bits(&cpu), bits(&gpu), "{op:?}");
    }
    for op in [BinaryOp::Maximum, BinaryOp::Minimum] {
        let cpu = a.binary(&b, op).unwrap();
        let gpu = ag.binary(&bg, op).unwrap();
        assert_eq!(bits(&cpu), bits(&gpu), "{}", op.name());
    }
    for op in [
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
    ] {
        let cpu = a.binary(&b, op).unwrap().to_i64_vec().unwrap();
        let gpu = ag.binary(&bg, op).unwrap().to_i64_vec().unwrap();
        assert_eq!(cpu, gpu, "{}", op.name());
    }
}
