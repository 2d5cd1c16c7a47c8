//! Compute pipelines, compiled on first use and cached by (shader, entry point, specialization).
//!
//! Shaders are the files in `shaders/`, embedded at build time. Specialization is through
//! WGSL pipeline-overridable constants (op code, dtype codes, layout fast paths), so one
//! source yields a branch-free pipeline per combination actually used.

use std::collections::HashMap;

/// One WGSL file of `shaders/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Shader {
    Elementwise,
    Reduce,
    Matmul,
    Conv,
    Softmax,
    Index,
    Random,
    Optim,
    Scan,
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

impl Shader {
    fn source(self) -> &'static str {
        match self {
            Shader::Elementwise => shader_source!("elementwise"),
            Shader::Reduce => shader_source!("reduce"),
            Shader::Matmul => shader_source!("matmul"),
            Shader::Conv => shader_source!("conv"),
            Shader::Softmax => shader_source!("softmax"),
            Shader::Index => shader_source!("index"),
            Shader::Random => shader_source!("random"),
            Shader::Optim => shader_source!("optim"),
            Shader::Scan => shader_source!("scan"),
        }
    }
}

/// A kernel to run: shader, entry point and override constants.
#[derive(Debug, Clone)]
pub(crate) struct Kernel {
    pub shader: Shader,
    pub entry: &'static str,
    pub constants: Vec<(&'static str, f64)>,
}

impl Kernel {
    pub fn new(shader: Shader, entry: &'static str) -> Kernel {
        Kernel {
            shader,
            entry,
            constants: Vec::new(),
        }
    }

    /// Adds a pipeline-overridable constant.
    pub fn with(mut self, name: &'static str, value: impl Into<f64>) -> Kernel {
        self.constants.push((name, value.into()));
        self
    }

    fn key(&self) -> (Shader, &'static str, Vec<(&'static str, u64)>) {
        (
            self.shader,
            self.entry,
            self.constants
                .iter()
                .map(|&(n, v)| (n, v.to_bits()))
                .collect(),
        )
    }
}

/// A compiled pipeline with the layout its bind groups are made for.
#[derive(Clone)]
pub(crate) struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

type Key = (Shader, &'static str, Vec<(&'static str, u64)>);

/// Shader modules and pipelines of one device.
#[derive(Default)]
pub(crate) struct PipelineCache {
    modules: HashMap<Shader, wgpu::ShaderModule>,
    pipelines: HashMap<Key, Pipeline>,
}

impl PipelineCache {
    /// The pipeline for `k`, compiling it (and its module) on first use. Returns whether it was
    /// compiled now, for the `pipelines_compiled` counter.
    pub fn get(&mut self, device: &wgpu::Device, k: &Kernel) -> (Pipeline, bool) {
        let key = k.key();
        if let Some(p) = self.pipelines.get(&key) {
            return (p.clone(), false);
        }
        let module = self.modules.entry(k.shader).or_insert_with(|| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(k.entry),
                source: wgpu::ShaderSource::Wgsl(k.shader.source().into()),
            })
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(k.entry),
            layout: None,
            module,
            entry_point: Some(k.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &k.constants,
                // every kernel writes its workgroup memory before reading it
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        let layout = pipeline.get_bind_group_layout(0);
        let p = Pipeline { pipeline, layout };
        self.pipelines.insert(key, p.clone());
        (p, true)
    }
}
