//! Optimizer family (`shaders/optim.wgsl`): one fused update per parameter and step.

use super::codes::OptimCode;
use std::sync::Arc;

use super::context::Patch;
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
    /// (documented per optimizer in `optim.wgsl`) and the step's [`OptimCoefficients`] as f32.
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

/// `optim_step`: the optimizer `OPTIMIZER` (an [`OptimCode`]) over gradient, parameter and
/// three state slots (unused ones bound to the context's dummy buffers).
pub static OPTIM_STEP: Entry = Entry::threads::<OptimParams>(
    Shader::Optim,
    "optim_step",
    &["OPTIMIZER"],
    &[
        (1, Access::Read),
        (2, Access::ReadWrite),
        (3, Access::ReadWrite),
        (4, Access::ReadWrite),
        (5, Access::ReadWrite),
    ],
);

/// Every optimizer entry point.
pub(crate) static ENTRIES: [&Entry; 1] = [&OPTIM_STEP];

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

/// The optimizer of `step` and its parameter block (without `n`).
fn params(step: &OptimStep) -> (OptimCode, OptimParams) {
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
    let code = match *step {
        OptimStep::Sgd {
            momentum,
            nesterov,
            first,
            ..
        } => {
            (w.b0, w.b1, w.b2) = ((momentum != 0.0) as u32, nesterov as u32, first as u32);
            OptimCode::Sgd
        }
        OptimStep::Adam { amsgrad, .. } => {
            w.b1 = amsgrad as u32;
            OptimCode::Adam
        }
        OptimStep::RmsProp {
            momentum, centered, ..
        } => {
            (w.b0, w.b1) = ((momentum > 0.0) as u32, centered as u32);
            OptimCode::RmsProp
        }
        OptimStep::Adagrad { .. } => OptimCode::Adagrad,
        OptimStep::Adamax { .. } => OptimCode::Adamax,
        OptimStep::NAdam { .. } => OptimCode::NAdam,
        OptimStep::RAdam { .. } => {
            w.b1 = c.rectified as u32;
            OptimCode::RAdam
        }
        OptimStep::Adadelta { .. } => OptimCode::Adadelta,
    };
    (code, w)
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
    let (code, mut w) = params(step);
    w.n = u32_of("optimizer step", n)?;
    let need = step.state_count();
    if st.len() < need {
        return Err(Error::Value(format!(
            "optimizer step: {code:?} needs {need} state buffers, got {}",
            st.len()
        )));
    }
    if n == 0 {
        return Ok(());
    }
    let ctx = p.ctx.clone();
    let slot = |i: usize| -> &wgpu::Buffer { st.get(i).map(|s| &s.buf).unwrap_or(&ctx.dummies[i]) };
    let bufs = [&g.buf, &p.buf, slot(0), slot(1), slot(2)];
    let k = Kernel::new(&OPTIM_STEP).with("OPTIMIZER", code.code());
    // a captured step replays the update with its step count advanced
    let patch: Option<Patch> = ctx.capturing().then(|| {
        let step0 = *step;
        let patch: Patch = Arc::new(move |k: u64, lr: Option<f64>| {
            let base = lr.map_or(step0, |lr| step0.with_lr(lr));
            let later = base.advanced(k).ok_or_else(|| {
                Error::Value(
                    "graph replay: this optimizer's schedule is host state and cannot be \
                     replayed; step it outside the captured code"
                        .into(),
                )
            })?;
            let (_, mut p) = params(&later);
            p.n = w.n;
            Ok(bytemuck::bytes_of(&p).to_vec())
        });
        patch
    });
    if patch.is_some() && step.advanced(1).is_none() {
        return Err(Error::Value(
            "optimizer step: NAdam's momentum schedule is host state, so its step cannot be \
             captured into a GPU graph"
                .into(),
        ));
    }
    let grid = grid_threads(&ctx, n, "optimizer step")?;
    ctx.dispatch_patched(&k, &w, &bufs, grid, patch)
}
