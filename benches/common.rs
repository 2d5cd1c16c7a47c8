//! Shared helpers for the benches: devices to run on, seeded inputs and an Adam step.

use rustdl::backend::OptimStep;
use rustdl::{DType, Device, Tensor};

/// The CPU, plus the GPU when an adapter exists.
pub fn devices() -> Vec<Device> {
    let mut d = vec![Device::Cpu];
    if rustdl::backend::wgpu::is_available() {
        d.push(Device::Gpu(0));
    }
    d
}

/// Normal random f32 tensor of `shape` on `dev`.
pub fn randn(shape: &[usize], dev: Device) -> Tensor {
    Tensor::randn(shape, DType::F32, Device::Cpu)
        .and_then(|t| t.to_device(dev))
        .expect("randn")
}

/// Adam with PyTorch's defaults (lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay) at step `t`.
pub fn adam(t: u64) -> OptimStep {
    OptimStep::Adam {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        decoupled: false,
        amsgrad: false,
        t,
        maximize: false,
    }
}

/// Waits for queued GPU work so timings include it.
pub fn sync(dev: Device) {
    if dev.is_gpu() {
        let _ = rustdl::backend::wgpu::synchronize();
    }
}
