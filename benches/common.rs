//! Shared helpers for the benches: devices to run on and seeded inputs.

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

/// Waits for queued GPU work so timings include it.
pub fn sync(dev: Device) {
    if dev.is_gpu() {
        let _ = rustdl::backend::wgpu::synchronize();
    }
}
