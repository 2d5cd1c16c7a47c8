//! Shader sources, kernel descriptions and the pipeline cache.
//!
//! A shader's source is assembled at load: the constants generated from Rust (op codes, dtype
//! codes, workgroup size; see `codes`) and the parameter structs (see `params`), then `shaders/prelude.wgsl`, then the family's file.
//! Every entry point Rust dispatches is described once by an [`Entry`] (shader, name,
//! workgroup size, override names, storage bindings, parameter struct); pipelines are built
//! with bind group layouts made from that description, and `tests/shader_contract.rs` checks
//! it against the WGSL by naga reflection. Specialization is through WGSL
//! pipeline-overridable constants (op code, dtype codes, layout fast paths), so one source
//! yields a branch-free pipeline per combination actually used.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use super::params::ParamBlock;
use crate::error::{Error, Result};

/// One WGSL file of `shaders/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shader {
    Elementwise,
    Reduce,
    Matmul,
    MatmulWide,
    Conv,
    Softmax,
    Index,
    Random,
    Optim,
    Scan,
    Recurrent,
    Attention,
    ClassLoss,
    Channel,
}

macro_rules! shader_source {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/shaders/",
            $name,
            ".wgsl"
        ))
    };
}

/// The code every shader shares, placed after the generated constants.
pub(crate) const PRELUDE: &str = shader_source!("prelude");
/// The declarations both matmul kernels share, placed before each one's file.
pub(crate) const MATMUL_COMMON: &str = shader_source!("matmul_common");

impl Shader {
    /// Every shader file.
    pub const ALL: [Shader; 14] = [
        Shader::Elementwise,
        Shader::Reduce,
        Shader::Matmul,
        Shader::MatmulWide,
        Shader::Conv,
        Shader::Softmax,
        Shader::Index,
        Shader::Random,
        Shader::Optim,
        Shader::Scan,
        Shader::Recurrent,
        Shader::Attention,
        Shader::ClassLoss,
        Shader::Channel,
    ];

    /// The file name in `shaders/` without `.wgsl`.
    pub fn name(self) -> &'static str {
        match self {
            Shader::Elementwise => "elementwise",
            Shader::Reduce => "reduce",
            Shader::Matmul => "matmul",
            Shader::MatmulWide => "matmul_wide",
            Shader::Conv => "conv",
            Shader::Softmax => "softmax",
            Shader::Index => "index",
            Shader::Random => "random",
            Shader::Optim => "optim",
            Shader::Scan => "scan",
            Shader::Recurrent => "recurrent",
            Shader::Attention => "attention",
            Shader::ClassLoss => "class_loss",
            Shader::Channel => "channel",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Shader::Elementwise => shader_source!("elementwise"),
            Shader::Reduce => shader_source!("reduce"),
            Shader::Matmul => shader_source!("matmul"),
            Shader::MatmulWide => shader_source!("matmul_wide"),
            Shader::Conv => shader_source!("conv"),
            Shader::Softmax => shader_source!("softmax"),
            Shader::Index => shader_source!("index"),
            Shader::Random => shader_source!("random"),
            Shader::Optim => shader_source!("optim"),
            Shader::Scan => shader_source!("scan"),
            Shader::Recurrent => shader_source!("recurrent"),
            Shader::Attention => shader_source!("attention"),
            Shader::ClassLoss => shader_source!("class_loss"),
            Shader::Channel => shader_source!("channel"),
        }
    }

    /// The WGSL compiled for this shader: generated constants and parameter structs, the
    /// prelude, then the file (after `matmul_common.wgsl` for the two matmul kernels; for `optim`,
    /// followed by its generated multi-parameter entry point).
    pub fn source(self) -> String {
        #[cfg(feature = "shader-dev")]
        let file: &str = &self.dev_file();
        #[cfg(not(feature = "shader-dev"))]
        let file = self.file();
        let generated = match self {
            Shader::Optim => super::optim::multi_source(file),
            _ => String::new(),
        };
        let common = match self {
            Shader::Matmul | Shader::MatmulWide => MATMUL_COMMON,
            _ => "",
        };
        format!(
            "{}{}\n{PRELUDE}\n{common}{}{generated}",
            super::codes::wgsl_constants(),
            super::params::wgsl_structs(),
            file
        )
    }

    /// Kernel tuning builds (feature `shader-dev`): `$RUSTDL_SHADER_DIR/<name>.wgsl` in place of
    /// the built-in file where that file exists.
    #[cfg(feature = "shader-dev")]
    fn dev_file(self) -> String {
        std::env::var_os("RUSTDL_SHADER_DIR")
            .map(|d| std::path::PathBuf::from(d).join(format!("{}.wgsl", self.name())))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_else(|| self.file().to_string())
    }

    /// Whether the module is compiled without wgpu's runtime bounds checks: only a shader whose
    /// every access is guarded by sizes the host checks against the bound buffers (see the
    /// header of `matmul_wide.wgsl`).
    fn unchecked(self) -> bool {
        self == Shader::MatmulWide
    }

    /// The hand-written WGSL of this shader: its file, without anything generated or the
    /// prelude.
    pub fn file_source(self) -> &'static str {
        self.file()
    }
}

/// How an entry point accesses one storage binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `var<storage, read>`
    Read,
    /// `var<storage, read_write>`
    ReadWrite,
}

/// The host's description of one WGSL entry point: what Rust dispatches and binds.
///
/// Binding 0 of group 0 is always the uniform parameter block of type `params`; `bindings`
/// lists the storage buffers the entry point uses, in the order dispatches pass them.
#[derive(Debug)]
pub struct Entry {
    pub shader: Shader,
    pub name: &'static str,
    pub workgroup: [u32; 3],
    /// Names of the pipeline-overridable constants the host may set.
    pub overrides: &'static [&'static str],
    /// (binding, access) of each storage buffer, in dispatch order.
    pub bindings: &'static [(u32, Access)],
    /// Name of the WGSL struct of the parameter block (a [`ParamBlock`]'s `WGSL_NAME`).
    pub params: &'static str,
}

impl Entry {
    /// The description of entry point `name` of `shader`, taking the parameter block `P`.
    pub const fn new<P: ParamBlock>(
        shader: Shader,
        name: &'static str,
        workgroup: [u32; 3],
        overrides: &'static [&'static str],
        bindings: &'static [(u32, Access)],
    ) -> Entry {
        Entry {
            shader,
            name,
            workgroup,
            overrides,
            bindings,
            params: P::WGSL_NAME,
        }
    }

    /// A 1-D kernel's entry point: `WG` invocations per workgroup (see `launch::dispatch_threads`).
    pub const fn threads<P: ParamBlock>(
        shader: Shader,
        name: &'static str,
        overrides: &'static [&'static str],
        bindings: &'static [(u32, Access)],
    ) -> Entry {
        Entry::new::<P>(shader, name, [super::codes::WG, 1, 1], overrides, bindings)
    }
}

/// A kernel to run: an entry point and values for its override constants.
#[derive(Debug, Clone)]
pub(crate) struct Kernel {
    pub entry: &'static Entry,
    /// the override constants set, the first `n` of `consts` (held inline: a kernel is made for
    /// every dispatch)
    consts: [(&'static str, f64); MAX_CONSTANTS],
    n: usize,
}

/// Override constants one kernel sets at most.
const MAX_CONSTANTS: usize = 10;

impl Kernel {
    pub fn new(entry: &'static Entry) -> Kernel {
        Kernel {
            entry,
            consts: [("", 0.0); MAX_CONSTANTS],
            n: 0,
        }
    }

    /// The override constants set.
    pub fn constants(&self) -> &[(&'static str, f64)] {
        &self.consts[..self.n]
    }

    /// Adds a pipeline-overridable constant (one of the entry's `overrides`); one set twice
    /// keeps its last value.
    pub fn with(mut self, name: &'static str, value: impl Into<f64>) -> Kernel {
        let value = value.into();
        if let Some(c) = self.consts[..self.n].iter_mut().find(|c| c.0 == name) {
            c.1 = value;
        } else if self.n < MAX_CONSTANTS {
            self.consts[self.n] = (name, value);
            self.n += 1;
        } else {
            // more constants than any entry declares: recorded as an unknown one, which
            // `check` refuses with the entry's name
            self.consts[MAX_CONSTANTS - 1] = ("<too many override constants>", value);
        }
        self
    }

    /// A boolean pipeline-overridable constant.
    pub fn flag(self, name: &'static str, value: bool) -> Kernel {
        self.with(name, if value { 1.0 } else { 0.0 })
    }

    /// Fails unless the parameter block, buffers and constants fit the entry's description.
    pub fn check<P: ParamBlock>(&self, buffers: usize) -> Result<()> {
        let e = self.entry;
        if P::WGSL_NAME != e.params {
            return Err(Error::Gpu(format!(
                "{}: parameter block {} for a kernel taking {}",
                e.name,
                P::WGSL_NAME,
                e.params
            )));
        }
        if buffers != e.bindings.len() {
            return Err(Error::Gpu(format!(
                "{}: {buffers} buffers for a kernel binding {}",
                e.name,
                e.bindings.len()
            )));
        }
        if let Some((n, _)) = self
            .constants()
            .iter()
            .find(|(n, _)| !e.overrides.contains(n))
        {
            return Err(Error::Gpu(format!("{}: no override constant {n}", e.name)));
        }
        Ok(())
    }

    fn key(&self) -> Key {
        let mut k = [(0usize, 0u64); MAX_CONSTANTS];
        for (slot, &(n, v)) in k.iter_mut().zip(self.constants()) {
            *slot = (n.as_ptr() as usize ^ n.len().rotate_left(48), v.to_bits());
        }
        (self.entry as *const Entry as usize, k)
    }
}

/// A compiled pipeline with the layout its bind groups are made for.
#[derive(Clone)]
pub(crate) struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

/// A pipeline's key: its entry point (entries are statics, so the address names one) and its
/// constants. Looked up once per dispatch, hence the fast hash.
type Key = (usize, [(usize, u64); MAX_CONSTANTS]);

/// The bind group layout of `e`: the uniform block at 0, then its storage bindings.
fn bind_group_layout(device: &wgpu::Device, e: &Entry) -> wgpu::BindGroupLayout {
    let buffer = |binding, ty| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: ty == wgpu::BufferBindingType::Uniform,
            min_binding_size: None,
        },
        count: None,
    };
    // the parameter block: one slot of the batch's uniform buffer, picked by dynamic offset
    let mut entries = vec![buffer(0, wgpu::BufferBindingType::Uniform)];
    entries.extend(e.bindings.iter().map(|&(b, a)| {
        buffer(
            b,
            wgpu::BufferBindingType::Storage {
                read_only: a == Access::Read,
            },
        )
    }));
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(e.name),
        entries: &entries,
    })
}

/// Shader modules and pipelines of one device.
#[derive(Default)]
pub(crate) struct PipelineCache {
    modules: HashMap<Shader, wgpu::ShaderModule>,
    /// one bind group layout per entry point, shared by its specialisations (so one cached
    /// bind group serves all of them)
    layouts: HashMap<(Shader, &'static str), wgpu::BindGroupLayout>,
    pipelines: FxHashMap<Key, Pipeline>,
}

impl PipelineCache {
    /// The pipeline for `k`, compiling it (and its module) on first use. Returns whether it was
    /// compiled now, for the `pipelines_compiled` counter.
    pub fn get(&mut self, device: &wgpu::Device, k: &Kernel) -> (Pipeline, bool) {
        let key = k.key();
        if let Some(p) = self.pipelines.get(&key) {
            return (p.clone(), false);
        }
        let e = k.entry;
        let module = self.modules.entry(e.shader).or_insert_with(|| {
            let desc = wgpu::ShaderModuleDescriptor {
                label: Some(e.shader.name()),
                source: wgpu::ShaderSource::Wgsl(e.shader.source().into()),
            };
            if e.shader.unchecked() {
                // SAFETY: the shader guards every buffer access by the product's sizes, which
                // the host checks against the bound buffers before dispatching; its loops are
                // bounded by K, and it divides only by constants and non-zero batch dims.
                unsafe {
                    device
                        .create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked())
                }
            } else {
                device.create_shader_module(desc)
            }
        });
        let layout = self
            .layouts
            .entry((e.shader, e.name))
            .or_insert_with(|| bind_group_layout(device, e))
            .clone();
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(e.name),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(e.name),
            layout: Some(&pipeline_layout),
            module,
            entry_point: Some(e.name),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: k.constants(),
                // every kernel writes its workgroup memory before reading it
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        let p = Pipeline { pipeline, layout };
        self.pipelines.insert(key, p.clone());
        (p, true)
    }
}
