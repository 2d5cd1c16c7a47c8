//! The shader contract, checked without a GPU: every shader as compiled (generated constants and
//! parameter structs + prelude + file) parses and validates with naga, and naga's reflection
//! agrees with what the Rust host dispatches — entry points, workgroup sizes, override names,
//! bindings (group, binding, uniform / storage access) and each generated parameter struct's
//! size and member offsets as naga lays them out; no hand-written WGSL declares its own copy
//! of a generated struct.

use std::collections::BTreeSet;

use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use rustdl::backend::wgpu::contract::{self, Access, Entry};

struct Parsed {
    name: &'static str,
    module: naga::Module,
    info: ModuleInfo,
}

fn parse(name: &'static str, src: &str) -> Result<Parsed, String> {
    let module = naga::front::wgsl::parse_str(src)
        .map_err(|e| format!("{name}.wgsl: {}", e.emit_to_string(src)))?;
    let info = Validator::new(ValidationFlags::all(), Capabilities::default())
        .validate(&module)
        .map_err(|e| format!("{name}.wgsl: {}", e.emit_to_string(src)))?;
    Ok(Parsed { name, module, info })
}

fn parsed() -> Vec<Parsed> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (name, src) in contract::shaders() {
        match parse(name, &src) {
            Ok(p) => out.push(p),
            Err(e) => errors.push(e),
        }
    }
    assert!(errors.is_empty(), "invalid shaders:\n{}", errors.join("\n"));
    out
}

/// A binding as (binding, what): "uniform <struct>", "read" or "read_write".
type Binding = (u32, String);

/// The bindings of group 0 the entry point `index` of `p` uses, as naga sees them.
fn used_bindings(p: &Parsed, index: usize) -> Result<BTreeSet<Binding>, String> {
    let fi = p.info.get_entry_point(index);
    let mut out = BTreeSet::new();
    for (h, g) in p.module.global_variables.iter() {
        let Some(rb) = &g.binding else { continue };
        if fi[h].is_empty() {
            continue;
        }
        if rb.group != 0 {
            return Err(format!("{} uses group {}", p.name, rb.group));
        }
        let what = match g.space {
            naga::AddressSpace::Uniform => format!(
                "uniform {}",
                p.module.types[g.ty].name.clone().unwrap_or_default()
            ),
            naga::AddressSpace::Storage { access } => {
                if access.contains(naga::StorageAccess::STORE) {
                    "read_write".into()
                } else {
                    "read".into()
                }
            }
            other => format!("{other:?}"),
        };
        out.insert((rb.binding, what));
    }
    Ok(out)
}

/// The bindings the host's bind group layout for `e` creates.
fn host_bindings(e: &Entry) -> BTreeSet<Binding> {
    let mut out = BTreeSet::from([(0, format!("uniform {}", e.params))]);
    for &(b, a) in e.bindings {
        let what = match a {
            Access::Read => "read",
            Access::ReadWrite => "read_write",
        };
        out.insert((b, what.into()));
    }
    out
}

fn check_entry(e: &Entry, shaders: &[Parsed]) -> Vec<String> {
    let mut errs = Vec::new();
    let Some(p) = shaders.iter().find(|p| p.name == e.shader.name()) else {
        return vec![format!("{}: no shader {:?}", e.name, e.shader)];
    };
    let Some(index) = p
        .module
        .entry_points
        .iter()
        .position(|ep| ep.name == e.name)
    else {
        return vec![format!("{}.wgsl has no entry point {}", p.name, e.name)];
    };
    let ep = &p.module.entry_points[index];
    if ep.stage != naga::ShaderStage::Compute {
        errs.push(format!("{}: not a compute entry point", e.name));
    }
    if ep.workgroup_size != e.workgroup {
        errs.push(format!(
            "{}: workgroup size {:?} in WGSL, {:?} in Rust",
            e.name, ep.workgroup_size, e.workgroup
        ));
    }
    for name in e.overrides {
        let found = p
            .module
            .overrides
            .iter()
            .any(|(_, o)| o.name.as_deref() == Some(*name));
        if !found {
            errs.push(format!(
                "{}: {}.wgsl has no override {name}",
                e.name, p.name
            ));
        }
    }
    match used_bindings(p, index) {
        Ok(used) => {
            let host = host_bindings(e);
            if used != host {
                errs.push(format!(
                    "{}: bindings differ\n  WGSL uses {used:?}\n  Rust binds {host:?}",
                    e.name
                ));
            }
        }
        Err(msg) => errs.push(msg),
    }
    let mut seen = BTreeSet::new();
    for &(b, _) in e.bindings {
        if b == 0 || !seen.insert(b) {
            errs.push(format!("{}: binding {b} repeated or reserved", e.name));
        }
    }
    errs
}

#[test]
fn every_shader_parses_and_validates_with_the_prelude() {
    let shaders = parsed();
    assert_eq!(shaders.len(), contract::Shader::ALL.len());
    for p in &shaders {
        assert!(
            !p.module.entry_points.is_empty(),
            "{}: no entry points",
            p.name
        );
    }
}

#[test]
fn every_dispatched_entry_point_matches_its_wgsl() {
    let shaders = parsed();
    let mut errs = Vec::new();
    for e in contract::entries() {
        errs.extend(check_entry(e, &shaders));
    }
    assert!(errs.is_empty(), "contract broken:\n{}", errs.join("\n"));
}

#[test]
fn every_wgsl_entry_point_is_dispatched() {
    let shaders = parsed();
    let entries = contract::entries();
    let mut missing = Vec::new();
    for p in &shaders {
        for ep in &p.module.entry_points {
            let known = entries
                .iter()
                .any(|e| e.shader.name() == p.name && e.name == ep.name);
            if !known {
                missing.push(format!("{}.wgsl: {}", p.name, ep.name));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "entry points without a Rust description:\n{}",
        missing.join("\n")
    );
    let mut names = BTreeSet::new();
    for e in &entries {
        assert!(
            names.insert((e.shader.name(), e.name)),
            "{} described twice",
            e.name
        );
    }
}

#[test]
fn parameter_structs_match_rust_layouts() {
    let shaders = parsed();
    let layouts = contract::param_layouts();
    let mut errs = Vec::new();
    // every entry's parameter block is a known Rust struct
    for e in contract::entries() {
        if !layouts.iter().any(|l| l.name == e.params) {
            errs.push(format!("{}: no Rust parameter block {}", e.name, e.params));
        }
    }
    for l in &layouts {
        let (name, size, fields) = (&l.name, &l.size, &l.fields);
        let mut found = false;
        for p in &shaders {
            let mut layouter = naga::proc::Layouter::default();
            if let Err(e) = layouter.update(p.module.to_ctx()) {
                errs.push(format!("{}: layout failed: {e}", p.name));
                continue;
            }
            for (h, ty) in p.module.types.iter() {
                if ty.name.as_deref() != Some(*name) {
                    continue;
                }
                found = true;
                let naga::TypeInner::Struct { members, .. } = &ty.inner else {
                    errs.push(format!("{}: {name} is not a struct", p.name));
                    continue;
                };
                let wgsl_size = layouter[h].size as usize;
                if wgsl_size != *size {
                    errs.push(format!(
                        "{}: {name} is {wgsl_size} bytes in WGSL, {size} in Rust",
                        p.name
                    ));
                }
                let wgsl: Vec<(String, usize)> = members
                    .iter()
                    .map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize))
                    .collect();
                let rust: Vec<(String, usize)> =
                    fields.iter().map(|&(n, o)| (n.to_string(), o)).collect();
                if wgsl != rust {
                    errs.push(format!(
                        "{}: {name} members differ\n  WGSL {wgsl:?}\n  Rust {rust:?}",
                        p.name
                    ));
                }
            }
        }
        if !found {
            errs.push(format!("no shader declares the struct {name}"));
        }
        for (file, src) in contract::shaders() {
            if !src.contains(&l.wgsl) {
                errs.push(format!("{file}: the generated struct {name} is missing"));
            }
        }
    }
    assert!(errs.is_empty(), "layouts differ:\n{}", errs.join("\n"));
}

#[test]
fn no_shader_declares_a_generated_struct() {
    // the Rust param_block! structs are the only source of the WGSL parameter structs
    let mut errs = Vec::new();
    for (file, src) in contract::shader_files() {
        // most files need the generated declarations to parse; the text check covers them
        let module = naga::front::wgsl::parse_str(src).ok();
        for l in contract::param_layouts() {
            let by_naga = module.as_ref().is_some_and(|m| {
                m.types
                    .iter()
                    .any(|(_, t)| t.name.as_deref() == Some(l.name))
            });
            let by_text = src.lines().any(|line| {
                let mut w = line.split_whitespace();
                w.next() == Some("struct")
                    && w.next().map(|n| n.trim_end_matches('{')) == Some(l.name)
            });
            if by_naga || by_text {
                errs.push(format!("{file}.wgsl declares its own struct {}", l.name));
            }
        }
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

#[test]
fn op_codes_are_generated_for_every_shader() {
    // the codes are defined once in Rust and reach WGSL only through the generated constants
    let tables = [
        contract::UnaryCode::table(),
        contract::BinaryCode::table(),
        contract::ReduceCode::table(),
        contract::OptimCode::table(),
        contract::DtCode::table(),
    ];
    for (name, src) in contract::shaders() {
        for (c, code) in tables.iter().flatten() {
            let line = format!("const {c}: u32 = {code}u;");
            assert!(src.contains(&line), "{name}: missing `{line}`");
        }
        let wg = format!("const WG: u32 = {}u;", contract::WG);
        assert!(src.contains(&wg), "{name}: missing `{wg}`");
    }
    assert_eq!(
        contract::UnaryCode::table()[contract::UnaryCode::Log1p.code() as usize].0,
        "UN_LOG1P"
    );
}

#[test]
fn every_entry_point_compiles_to_spirv() {
    // validation alone misses code naga's backends cannot translate (which would surface only
    // when a pipeline is first built on a device): each dispatched entry point, its overrides
    // at 0, through the SPIR-V writer wgpu uses for Vulkan
    let shaders = parsed();
    let mut errs = Vec::new();
    for e in contract::entries() {
        let Some(p) = shaders.iter().find(|p| p.name == e.shader.name()) else {
            continue;
        };
        let mut constants = naga::back::PipelineConstants::default();
        for name in e.overrides {
            constants.insert((*name).to_string(), 0.0);
        }
        let stage = naga::ShaderStage::Compute;
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let (m, i) = naga::back::pipeline_constants::process_overrides(
                &p.module,
                &p.info,
                Some((stage, e.name)),
                &constants,
            )
            .map_err(|err| format!("{err:?}"))?;
            let options = naga::back::spv::PipelineOptions {
                shader_stage: stage,
                entry_point: e.name.to_string(),
            };
            naga::back::spv::write_vec(&m, &i, &Default::default(), Some(&options))
                .map_err(|err| format!("{err:?}"))
        }));
        match written {
            Ok(Ok(_)) => {}
            Ok(Err(msg)) => errs.push(format!("{}.wgsl {}: {msg}", p.name, e.name)),
            Err(_) => errs.push(format!(
                "{}.wgsl {}: the SPIR-V writer panicked",
                p.name, e.name
            )),
        }
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}
