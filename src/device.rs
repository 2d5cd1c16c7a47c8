//! Where a tensor lives: the host or one GPU adapter.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the spelling `cuda` means the host: set by the PyTorch-compatibility runner where
/// scripts' "cuda" requests must land on the CPU (no GPU, a software adapter, or the CPU forced;
/// see `rustdl.cuda`). `gpu` and the other spellings always mean the GPU.
static CUDA_ON_CPU: AtomicBool = AtomicBool::new(false);

/// Makes `cuda` / `cuda:N` parse as the CPU (`on`) or as the GPU (the default).
pub fn set_cuda_on_cpu(on: bool) {
    CUDA_ON_CPU.store(on, Ordering::Relaxed);
}

/// Whether the spelling `meta` means the host: set by the PyTorch-compatibility runner, where
/// code builds modules "on the meta device" only to fill them afterwards (accelerate's
/// `init_empty_weights`, a loader's `map_location="meta"`). rustdl has no data-less tensors, so
/// those are ordinary CPU tensors there; elsewhere `meta` is refused.
static META_ON_CPU: AtomicBool = AtomicBool::new(false);

/// Makes `meta` parse as the CPU (`on`) or be refused (the default).
pub fn set_meta_on_cpu(on: bool) {
    META_ON_CPU.store(on, Ordering::Relaxed);
}

/// A compute device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    /// Host memory, native kernels.
    Cpu,
    /// A GPU adapter through wgpu, by index.
    Gpu(usize),
}

impl Device {
    /// Parses `cpu`, `gpu`, `gpu:N` (also `cuda`/`cuda:N` as an alias users type by habit;
    /// the CPU while [`set_cuda_on_cpu`] is on).
    pub fn parse(s: &str) -> Result<Device> {
        let s = s.trim();
        if s == "meta" && META_ON_CPU.load(Ordering::Relaxed) {
            return Ok(Device::Cpu);
        }
        // `cpu:N` is the one CPU as well (PyTorch accepts an index there)
        if s == "cpu"
            || s.strip_prefix("cpu:")
                .is_some_and(|r| r.parse::<usize>().is_ok())
        {
            return Ok(Device::Cpu);
        }
        for prefix in ["gpu", "cuda", "vulkan", "wgpu"] {
            let index = if s == prefix {
                0
            } else if let Some(rest) = s.strip_prefix(prefix).and_then(|r| r.strip_prefix(':')) {
                rest.parse::<usize>()
                    .map_err(|_| Error::Value(format!("invalid device string '{s}'")))?
            } else {
                continue;
            };
            if prefix == "cuda" && CUDA_ON_CPU.load(Ordering::Relaxed) {
                return Ok(Device::Cpu);
            }
            return Ok(Device::Gpu(index));
        }
        Err(Error::Value(format!(
            "invalid device string '{s}': expected 'cpu', 'gpu' or 'gpu:N'"
        )))
    }

    /// True for a GPU device.
    pub fn is_gpu(self) -> bool {
        matches!(self, Device::Gpu(_))
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Gpu(i) => write!(f, "gpu:{i}"),
        }
    }
}
