//! Optimizer family (`shaders/optim.wgsl`): one fused update per parameter and step.

use super::codes::WG;
use super::launch::grid_threads;
use super::params::{param_block, u32_of};
use super::pipelines::{Access, Entry, Kernel, Shader};
use super::GpuStorage;
use crate::backend::OptimStep;
use crate::dtype::DType;
use crate::error::{Error, Result};

param_block! {
    /// Parameters of the optimizer kernels: `n` elements, `maximize`, boolean options
    /// `b0..b2` and float scalars `f0..f7` whose meaning each entry point of `optim.wgsl`
    /// documents.
    pub struct OptimParams {
        pub n: u32,
        pub maximize: u32,
        pub b0: u32,
        pub b1: u32,
        pub b2: u32,
        pub pad0: u32,
        pub pad1: u32,
        pub pad2: u32,
        pub f0: f32,
        pub f1: f32,
        pub f2: f32,
        pub f3: f32,
        pub f4: f32,
        pub f5: f32,
        pub f6: f32,
        pub f7: f32,
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
    let mut w: OptimParams = bytemuck::Zeroable::zeroed();
    let f = |v: f64| v as f32;
    let entry = match *step {
        OptimStep::Sgd {
            lr,
            momentum,
            dampening,
            nesterov,
            weight_decay,
            first,
            maximize,
        } => {
            w.f0 = f(lr);
            w.f1 = f(weight_decay);
            w.f2 = f(momentum);
            w.f3 = f(1.0 - dampening);
            w.b0 = (momentum != 0.0) as u32;
            w.b1 = nesterov as u32;
            w.b2 = first as u32;
            w.maximize = maximize as u32;
            &SGD
        }
        OptimStep::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            amsgrad,
            t,
            maximize,
        } => {
            let bc1 = 1.0 - beta1.powi(t as i32);
            let bc2_sqrt = (1.0 - beta2.powi(t as i32)).sqrt();
            w.f0 = f(lr / bc1);
            w.f1 = f(weight_decay);
            w.f2 = f(beta1);
            w.f3 = f(beta2);
            w.f4 = f(bc2_sqrt);
            w.f5 = f(eps);
            w.f6 = f(1.0 - lr * weight_decay);
            w.b0 = decoupled as u32;
            w.b1 = amsgrad as u32;
            w.maximize = maximize as u32;
            &ADAM
        }
        OptimStep::RmsProp {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
            maximize,
        } => {
            w.f0 = f(lr);
            w.f1 = f(weight_decay);
            w.f2 = f(alpha);
            w.f3 = f(eps);
            w.f4 = f(momentum);
            w.b0 = (momentum > 0.0) as u32;
            w.b1 = centered as u32;
            w.maximize = maximize as u32;
            &RMSPROP
        }
        OptimStep::Adagrad {
            lr,
            lr_decay,
            weight_decay,
            eps,
            t,
            maximize,
        } => {
            w.f0 = f(lr / (1.0 + (t as f64 - 1.0) * lr_decay));
            w.f1 = f(weight_decay);
            w.f2 = f(eps);
            w.maximize = maximize as u32;
            &ADAGRAD
        }
        OptimStep::Adamax {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            t,
            maximize,
        } => {
            w.f0 = f(lr / (1.0 - beta1.powf(t as f64)));
            w.f1 = f(weight_decay);
            w.f2 = f(beta1);
            w.f3 = f(beta2);
            w.f4 = f(eps);
            w.maximize = maximize as u32;
            &ADAMAX
        }
        OptimStep::NAdam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            maximize,
            ..
        } => {
            let (cg, cm, inv_bc2) = step.nadam_coefficients().unwrap_or((0.0, 0.0, 1.0));
            w.f0 = f(cg);
            w.f1 = f(weight_decay);
            w.f2 = f(beta1);
            w.f3 = f(beta2);
            w.f4 = f(inv_bc2);
            w.f5 = f(eps);
            w.f6 = f(1.0 - lr * weight_decay);
            w.f7 = f(cm);
            w.b0 = decoupled as u32;
            w.maximize = maximize as u32;
            &NADAM
        }
        OptimStep::RAdam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            maximize,
            ..
        } => {
            let (step_size, adaptive) = step.radam_coefficients().unwrap_or((0.0, false));
            w.f0 = f(step_size);
            w.f1 = f(weight_decay);
            w.f2 = f(beta1);
            w.f3 = f(beta2);
            w.f4 = f(eps);
            w.f6 = f(1.0 - lr * weight_decay);
            w.b0 = decoupled as u32;
            w.b1 = adaptive as u32;
            w.maximize = maximize as u32;
            &RADAM
        }
        OptimStep::Adadelta {
            lr,
            rho,
            eps,
            weight_decay,
            maximize,
        } => {
            w.f0 = f(lr);
            w.f1 = f(weight_decay);
            w.f2 = f(rho);
            w.f3 = f(eps);
            w.maximize = maximize as u32;
            &ADADELTA
        }
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
