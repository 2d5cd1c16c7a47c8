//! rustdl: tensors, autograd and optimizers in Rust, on the CPU and on any GPU through wgpu.
//!
//! Layers, top to bottom: `python` (PyO3 bindings, feature `python`), `ops` (differentiable ops,
//! each with its backward), `autograd` (graph walk), `backend` (CPU kernels and WGSL shaders).

pub mod autograd;
pub mod backend;
pub mod device;
pub mod dtype;
pub mod error;
pub mod host;
pub mod io;
pub mod ops;
pub mod optim;
pub mod random;
pub mod shape;
pub mod shm;
pub mod storage;
pub mod tensor;

#[cfg(feature = "python")]
mod python;

pub use device::Device;
pub use dtype::DType;
pub use error::{Error, Result};
pub use tensor::Tensor;
