//! The host side of the shader contract, for `tests/shader_contract.rs`: every shader as
//! compiled, every entry point Rust dispatches, and every parameter block's layout.
//!
//! The test parses each shader with naga and checks by reflection that the entry points,
//! workgroup sizes, override names, bindings and parameter struct layouts agree with these
//! descriptions, on a machine without a GPU.

pub use super::codes::{BinaryCode, DtCode, OptimCode, ReduceCode, RnnCode, UnaryCode, WG};
pub use super::params::{Dims, ParamBlock, ParamLayout};
pub use super::pipelines::{Access, Entry, Shader};

/// Every shader file: (name, assembled WGSL source as compiled).
pub fn shaders() -> Vec<(&'static str, String)> {
    Shader::ALL.iter().map(|s| (s.name(), s.source())).collect()
}

/// Every hand-written WGSL file: (name, text), the prelude included.
pub fn shader_files() -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        ("prelude", super::pipelines::PRELUDE),
        ("matmul_common", super::pipelines::MATMUL_COMMON),
    ];
    v.extend(Shader::ALL.iter().map(|s| (s.name(), s.file_source())));
    v
}

/// Every entry point Rust dispatches.
pub fn entries() -> Vec<&'static Entry> {
    let mut v: Vec<&'static Entry> = Vec::new();
    v.extend(super::elementwise::ENTRIES);
    v.extend(super::reduce::ENTRIES);
    v.extend(super::softmax::ENTRIES);
    v.extend(super::matmul::ENTRIES);
    v.extend(super::conv::ENTRIES);
    v.extend(super::index::ENTRIES);
    v.extend(super::random::ENTRIES);
    v.extend(super::optim::ENTRIES);
    v.extend(super::scan::ENTRIES);
    v.extend(super::recurrent::ENTRIES);
    v.extend(super::attention::ENTRIES);
    v.extend(super::class_loss::ENTRIES);
    v.extend(super::channel::ENTRIES);
    v
}

/// Every parameter block's Rust layout (`size_of`, each field's `offset_of!`).
pub fn param_layouts() -> Vec<ParamLayout> {
    super::params::layouts()
}
