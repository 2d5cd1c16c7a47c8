//! Where a tensor lives: the host or one GPU adapter.

use crate::error::{Error, Result};

/// A compute device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    /// Host memory, native kernels.
    Cpu,
    /// A GPU adapter through wgpu, by index.
    Gpu(usize),
}

impl Device {
    /// Parses `cpu`, `gpu`, `gpu:N` (also `cuda`/`cuda:N` as an alias users type by habit).
    pub fn parse(s: &str) -> Result<Device> {
        let s = s.trim();
        if s == "cpu" {
            return Ok(Device::Cpu);
        }
        for prefix in ["gpu", "cuda", "vulkan", "wgpu"] {
            if s == prefix {
                return Ok(Device::Gpu(0));
            }
            if let Some(rest) = s.strip_prefix(prefix).and_then(|r| r.strip_prefix(':')) {
                return rest
                    .parse::<usize>()
                    .map(Device::Gpu)
                    .map_err(|_| Error::Value(format!("invalid device string '{s}'")));
            }
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
