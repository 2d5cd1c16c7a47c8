//! Fused optimizer updates on tensors, in place, with their state: one kernel per parameter, or
//! one for several (the GPU's multi-parameter kernel) through [`step_many`].

use crate::backend::{self, OptimStep};
use crate::ensure;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::Storage;
use crate::tensor::Tensor;

/// Applies `step` to `param` in place with gradient `grad` and the state tensors `state`
/// (created by the caller, shaped like the parameter; order as in `backend::cpu::optim`).
pub fn step(param: &Tensor, grad: &Tensor, state: &[Tensor], step: &OptimStep) -> Result<()> {
    if !param.owns_whole_storage() {
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
        // a state made for another shape (the parameter was reshaped in place since: t_(),
        // .data = ...) would be read element by element in the wrong places: refused, as
        // PyTorch's update fails on the size mismatch
        if s.numel() == param.numel() && s.shape() != param.shape() && !s.shares_storage(param) {
            return Err(Error::Runtime(format!(
                "optimizer step: the optimizer state of a parameter has shape {:?} but the \
                 parameter now has shape {:?} (changed in place since the state was made); \
                 make a new optimizer for it",
                s.shape(),
                param.shape()
            )));
        }
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

/// One optimizer update: parameter, gradient, state tensors and hyper-parameters.
pub type Update = (Tensor, Tensor, Vec<Tensor>, OptimStep);

/// Whether `u` can join a multi-parameter update: a dense parameter, a gradient of its shape
/// in another storage, dense state buffers of its size in storages of their own.
fn dense_update(u: &Update) -> bool {
    let (p, g, st, _) = u;
    p.owns_whole_storage()
        && g.shape() == p.shape()
        && !g.shares_storage(p)
        && st
            .iter()
            .all(|s| s.owns_whole_storage() && s.shape() == p.shape() && !s.shares_storage(p))
}

/// Applies every update of `updates`, in order; runs of dense updates with the same
/// hyper-parameters on one device go to the backend together (the GPU updates several
/// parameters per dispatch), the others one by one as [`step`].
pub fn step_many(updates: &[Update]) -> Result<()> {
    const RUN: usize = 32;
    // storages are told apart by identity: each one a run writes is locked once, and no
    // gradient of the run is one of them
    let id = |t: &Tensor| std::sync::Arc::as_ptr(&t.storage_arc()) as usize;
    let mut i = 0;
    while i < updates.len() {
        let (mut written, mut read) = (Vec::new(), Vec::new());
        let mut j = i;
        while j < updates.len() && j - i < RUN {
            let u = &updates[j];
            let mine: Vec<usize> = std::iter::once(&u.0).chain(&u.2).map(id).collect();
            let g = id(&u.1);
            let joins = dense_update(u)
                && u.3 == updates[i].3
                && u.0.device() == updates[i].0.device()
                && u.1.device() == updates[i].0.device()
                && mine.iter().enumerate().all(|(k, m)| {
                    !mine[k + 1..].contains(m) && !written.contains(m) && !read.contains(m)
                })
                && !written.contains(&g)
                && !mine.contains(&g);
            if !joins {
                break;
            }
            written.extend(mine);
            read.push(g);
            j += 1;
        }
        if j - i < 2 {
            let (p, g, st, s) = &updates[i];
            step(p, g, st, s)?;
            i += 1;
            continue;
        }
        let run = &updates[i..j];
        {
            let grads: Vec<_> = run.iter().map(|u| u.1.storage()).collect();
            let lgs: Vec<&Layout> = run.iter().map(|u| u.1.layout()).collect();
            let mut pguards: Vec<_> = run.iter().map(|u| u.0.storage_mut()).collect();
            let mut sguards: Vec<Vec<_>> = run
                .iter()
                .map(|u| u.2.iter().map(|s| s.storage_mut()).collect())
                .collect();
            let mut ps: Vec<&mut Storage> = pguards.iter_mut().map(|g| &mut **g).collect();
            let gs: Vec<(&Storage, &Layout)> =
                grads.iter().zip(&lgs).map(|(g, l)| (&**g, *l)).collect();
            let mut sts: Vec<Vec<&mut Storage>> = sguards
                .iter_mut()
                .map(|v| v.iter_mut().map(|g| &mut **g).collect())
                .collect();
            backend::optim_step_many(&run[0].3, &mut ps, &gs, &mut sts)?;
        }
        for (p, _, st, _) in run {
            p.version().bump("optimizer step");
            for s in st {
                s.version().bump("optimizer step");
            }
        }
        i = j;
    }
    Ok(())
}
