//! Optimizer family (`shaders/optim.wgsl`): one fused update per parameter and step.

use super::codes::WG;
use super::launch::grid_threads;
use super::params::{param_block, u32_of};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::GpuStorage;
#[cfg(doc)]
use crate::backend::OptimCoefficients;
use crate::backend::OptimStep;
use crate::dtype::DType;
use crate::error::{Error, Result};

param_block! {
    /// Parameters of the optimizer kernels: `n` elements, `maximize`, boolean options `b0..b2`
    /// (documented per entry point in `optim.wgsl`) and the step's [`OptimCoefficients`] as f32.
    pub struct OptimParams {
        pub n: u32,
        pub maximize: u32,
        pub b0: u32,
        pub b1: u32,
        pub b2: u32,
        pub pad0: u32,
        pub pad1: u32,
        pub pad2: u32,
        pub step_size: f32,
        pub step_size2: f32,
        pub l2: f32,
        pub decay: f32,
        pub beta1: f32,
        pub beta2: f32,
        pub eps: f32,
        pub inv_bias2: f32,
    }
}

/// Gradient, parameter, then 1, 2 or 3 state buffers.
const fn entry(name: &'static str, states: usize) -> Entry {
    const ALL: &[(u32, Access)] = &[
        (1, Access::Read),
        (2, Access::ReadWrite),
        (3, Access::ReadWrite),
        (4, Access::ReadWrite),
        (5, Access::ReadWrite),
    ];
    Entry {
        shader: Shader::Optim,
        name,
        workgroup: [WG, 1, 1],
        overrides: &[],
        bindings: ALL.split_at(2 + states).0,
        params: "OptimParams",
    }
}

/// `sgd`: momentum buffer.
pub static SGD: Entry = entry("sgd", 1);
/// `adam`: exp_avg, exp_avg_sq, max_exp_avg_sq.
pub static ADAM: Entry = entry("adam", 3);
/// `rmsprop`: square_avg, momentum_buffer, grad_avg.
pub static RMSPROP: Entry = entry("rmsprop", 3);
/// `adagrad`: sum.
pub static ADAGRAD: Entry = entry("adagrad", 1);
/// `adamax`: exp_avg, exp_inf.
pub static ADAMAX: Entry = entry("adamax", 2);
/// `nadam`: exp_avg, exp_avg_sq.
pub static NADAM: Entry = entry("nadam", 2);
/// `radam`: exp_avg, exp_avg_sq.
pub static RADAM: Entry = entry("radam", 2);
/// `adadelta`: square_avg, acc_delta.
pub static ADADELTA: Entry = entry("adadelta", 2);

/// Every optimizer entry point.
pub(crate) static ENTRIES: [&Entry; 8] = [
    &SGD, &ADAM, &RMSPROP, &ADAGRAD, &ADAMAX, &NADAM, &RADAM, &ADADELTA,
];

/// Fails unless the parameter, gradient and state buffers are float32 of one length.
fn check_operands(p: &GpuStorage, g: &GpuStorage, st: &[&mut GpuStorage]) -> Result<()> {
    if p.dtype != DType::F32 || g.dtype != DType::F32 {
        return Err(Error::DType(format!(
            "optimizer step: parameter {} and gradient {} must be float32 on the GPU",
            p.dtype, g.dtype
        )));
    }
    if p.len != g.len {
        return Err(Error::Shape(format!(
            "optimizer step: gradient of {} elements for a parameter of {}",
            g.len, p.len
        )));
    }
    for s in st.iter() {
        if s.dtype != DType::F32 {
            return Err(Error::DType(format!(
                "optimizer step: state buffer has dtype {}, unlike its parameter",
                s.dtype
            )));
        }
        if s.len != p.len {
            return Err(Error::Shape(format!(
                "optimizer step: state of {} elements for a parameter of {}",
                s.len, p.len
            )));
        }
    }
    Ok(())
}

/// The entry point of `step` and its parameter block (without `n`).
fn params(step: &OptimStep) -> (&'static Entry, OptimParams) {
    let c = step.coefficients();
    let mut w = OptimParams {
        n: 0,
        maximize: step.maximize() as u32,
        b0: 0,
        b1: 0,
        b2: 0,
        pad0: 0,
        pad1: 0,
        pad2: 0,
        step_size: c.step_size as f32,
        step_size2: c.step_size2 as f32,
        l2: c.l2 as f32,
        decay: c.decay as f32,
        beta1: c.beta1 as f32,
        beta2: c.beta2 as f32,
        eps: c.eps as f32,
        inv_bias2: c.inv_bias2 as f32,
    };
    let entry = match *step {
        OptimStep::Sgd {
            momentum,
            nesterov,
            first,
            ..
        } => {
            (w.b0, w.b1, w.b2) = ((momentum != 0.0) as u32, nesterov as u32, first as u32);
            &SGD
        }
        OptimStep::Adam { amsgrad, .. } => {
            w.b1 = amsgrad as u32;
            &ADAM
        }
        OptimStep::RmsProp {
            momentum, centered, ..
        } => {
            (w.b0, w.b1) = ((momentum > 0.0) as u32, centered as u32);
            &RMSPROP
        }
        OptimStep::Adagrad { .. } => &ADAGRAD,
        OptimStep::Adamax { .. } => &ADAMAX,
        OptimStep::NAdam { .. } => &NADAM,
        OptimStep::RAdam { .. } => {
            w.b1 = c.rectified as u32;
            &RADAM
        }
        OptimStep::Adadelta { .. } => &ADADELTA,
    };
    (entry, w)
}

/// One fused optimizer update of `p` (contiguous) with gradient `g` and its state buffers.
pub fn optim_step(
    step: &OptimStep,
    p: &mut GpuStorage,
    g: &GpuStorage,
    st: &mut [&mut GpuStorage],
) -> Result<()> {
    check_operands(p, g, st)?;
    let n = p.len;
    let (entry, mut w) = params(step);
    w.n = u32_of("optimizer step", n)?;
    let need = step.state_count();
    if st.len() < need {
        return Err(Error::Value(format!(
            "optimizer step: {} needs {need} state buffers, got {}",
            entry.name,
            st.len()
        )));
    }
    if n == 0 {
        return Ok(());
    }
    let ctx = p.ctx.clone();
    let slot = |i: usize| -> &wgpu::Buffer { st.get(i).map(|s| &s.buf).unwrap_or(&ctx.dummies[i]) };
    let mut bufs: Vec<&wgpu::Buffer> = vec![&g.buf, &p.buf];
    bufs.extend((0..entry.bindings.len() - 2).map(slot));
    ctx.dispatch(
        &Kernel::new(entry),
        &w,
        &bufs,
        grid_threads(&ctx, n, "optimizer step")?,
    )
}
