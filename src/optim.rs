//! Fused optimizer updates on tensors: one kernel per parameter, in place, with its state.

use crate::backend::{self, OptimStep};
use crate::ensure;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::Storage;
use crate::tensor::Tensor;

/// Applies `step` to `param` in place with gradient `grad` and the state tensors `state`
/// (created by the caller, shaped like the parameter; order as in `backend::cpu::optim`).
pub fn step(param: &Tensor, grad: &Tensor, state: &[Tensor], step: &OptimStep) -> Result<()> {
    if !param.is_contiguous()
        || param.layout().offset != 0
        || param.storage().len() != param.numel()
    {
        // a parameter that became a view (`t_()`, `set_(src, offset, size)`, `as_strided_`):
        // the step runs on a contiguous copy, written back into the view's elements
        let l = param.layout();
        if l.shape
            .iter()
            .zip(&l.strides)
            .any(|(&n, &st)| n > 1 && st == 0)
        {
            return Err(Error::Runtime(format!(
                "optimizer step: several elements of the parameter (shape {:?}, strides {:?}) share one memory location",
                param.shape(),
                param.strides()
            )));
        }
        if state.iter().any(|s| s.shares_storage(param)) {
            return Err(Error::Runtime(format!(
                "optimizer step: state tensors must be separate contiguous buffers shaped like the parameter {:?}",
                param.shape()
            )));
        }
        let tmp = {
            let _g = crate::autograd::NoGradGuard::new();
            param.deep_clone()?.detach()
        };
        self::step(&tmp, grad, state, step)?;
        return param.write_from(&tmp, "optimizer step");
    }
    ensure!(
        grad.shape() == param.shape(),
        Shape,
        "optimizer step: grad of shape {:?} for a parameter of shape {:?}",
        grad.shape(),
        param.shape()
    );
    for s in state {
        if s.shares_storage(param) || s.numel() != param.numel() || !s.is_contiguous() {
            return Err(Error::Runtime(format!(
                "optimizer step: state tensors must be separate contiguous buffers shaped like the parameter {:?}",
                param.shape()
            )));
        }
    }
    // a gradient aliasing the parameter is copied first, so the update reads a stable value
    let grad = if grad.shares_storage(param) {
        grad.deep_clone()?.detach()
    } else {
        grad.clone()
    };
    let g = grad.storage();
    let mut guards: Vec<_> = state.iter().map(|s| s.storage_mut()).collect();
    let mut refs: Vec<&mut Storage> = guards.iter_mut().map(|g| &mut **g).collect();
    let lg: &Layout = grad.layout();
    backend::optim_step(step, &mut param.storage_mut(), &g, lg, &mut refs)?;
    // as any in-place write: a graph that saved this parameter can no longer be differentiated
    param.version().bump("optimizer step");
    for s in state {
        s.version().bump("optimizer step");
    }
    Ok(())
}
