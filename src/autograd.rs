//! Reverse-mode autograd: graph nodes, grad mode, the backward walk and a gradient checker.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A derivative rule: output gradient in, one optional gradient per input out.
pub type BackwardFn = Box<dyn Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync>;

/// One recorded op: its inputs that need gradients and the rule (freed after backward).
pub struct Node {
    pub name: &'static str,
    pub inputs: Vec<Option<Tensor>>,
    rule: Mutex<Option<BackwardFn>>,
}

impl Node {
    pub(crate) fn new(name: &'static str, inputs: Vec<Option<Tensor>>, rule: BackwardFn) -> Node {
        Node {
            name,
            inputs,
            rule: Mutex::new(Some(rule)),
        }
    }
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless inside `no_grad`.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Sets grad mode; returns the previous mode.
pub fn set_grad_enabled(on: bool) -> bool {
    GRAD_ENABLED.with(|g| g.replace(on))
}

/// Restores the previous grad mode when dropped.
pub struct NoGradGuard(bool);

impl NoGradGuard {
    pub fn new() -> NoGradGuard {
        NoGradGuard(set_grad_enabled(false))
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.0);
    }
}

/// Tensors reachable from `root` through graph nodes, inputs after the tensors that use them.
fn topo_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    // iterative post-order DFS: (tensor, children pushed?)
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !seen.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(node) = t.grad_fn() {
            for inp in node.inputs.iter().flatten() {
                if !seen.contains(&inp.id()) {
                    stack.push((inp.clone(), false));
                }
            }
        }
    }
    order.reverse();
    order
}

/// Backpropagates from `root`: fills `.grad` of the leaves that require it (accumulating).
///
/// `gradient` may be omitted only for a one-element root. Without `retain_graph` the rules are
/// freed as they run, so the graph's memory goes at once and a second backward is an error.
pub fn backward(root: &Tensor, gradient: Option<Tensor>, retain_graph: bool) -> Result<()> {
    if !root.requires_grad() {
        return Err(Error::Runtime(
            "backward: element 0 of tensors does not require grad and does not have a grad_fn"
                .into(),
        ));
    }
    let seed = match gradient {
        Some(g) => {
            if g.shape() != root.shape() {
                return Err(Error::Shape(format!(
                    "backward: gradient has shape {:?} but the output has shape {:?}",
                    g.shape(),
                    root.shape()
                )));
            }
            g.detach()
        }
        None => {
            if root.numel() != 1 {
                return Err(Error::Runtime(format!(
                    "backward: grad can be implicitly created only for scalar outputs, got shape {:?}; pass gradient=",
                    root.shape()
                )));
            }
            Tensor::ones(root.shape(), root.dtype(), root.device())?
        }
    };
    let _guard = NoGradGuard::new();
    let order = topo_order(root);
    let mut grads: HashMap<u64, Tensor> = HashMap::new();
    grads.insert(root.id(), seed);
    for t in &order {
        let Some(g) = grads.remove(&t.id()) else {
            continue;
        };
        match t.grad_fn() {
            None => {
                if t.requires_grad() {
                    accumulate(t, g)?;
                }
            }
            Some(node) => {
                if t.retains_grad() {
                    accumulate(t, g.clone())?;
                }
                let input_grads = {
                    let mut slot = node.rule.lock().unwrap_or_else(|e| e.into_inner());
                    let rule = match slot.as_ref() {
                        Some(r) => r,
                        None => {
                            return Err(Error::Runtime(format!(
                                "backward: trying to backward through the graph a second time (through {}); \
                                 pass retain_graph=True the first time",
                                node.name
                            )))
                        }
                    };
                    let out = rule(&g)?;
                    if !retain_graph {
                        *slot = None;
                    }
                    out
                };
                for (inp, gi) in node.inputs.iter().zip(input_grads) {
                    let (Some(inp), Some(gi)) = (inp, gi) else {
                        continue;
                    };
                    if gi.shape() != inp.shape() {
                        return Err(Error::Runtime(format!(
                            "backward: rule of {} gave a gradient of shape {:?} for an input of shape {:?}",
                            node.name,
                            gi.shape(),
                            inp.shape()
                        )));
                    }
                    let merged = match grads.remove(&inp.id()) {
                        Some(prev) => prev.add(&gi)?,
                        None => gi,
                    };
                    grads.insert(inp.id(), merged);
                }
            }
        }
    }
    Ok(())
}

fn accumulate(t: &Tensor, g: Tensor) -> Result<()> {
    let g = if g.dtype() != t.dtype() {
        g.to_dtype(t.dtype())?
    } else {
        g
    };
    let new = match t.grad() {
        Some(prev) => prev.add(&g)?,
        None => g.contiguous()?.detach(),
    };
    t.set_grad(Some(new.detach()))
}

/// Compares analytic gradients of `f` (summed output) with central finite differences.
///
/// Inputs should be float64 leaves that require grad. Returns the largest absolute error, or an
/// error describing the first mismatch beyond `atol + rtol·|numeric|`.
pub fn gradcheck(
    f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Tensor],
    eps: f64,
    atol: f64,
    rtol: f64,
) -> Result<f64> {
    for x in inputs {
        x.set_grad(None)?;
    }
    let out = f(inputs)?;
    // weight the outputs with fixed pseudo-random numbers so every output element matters
    let w: Vec<f64> = (0..out.numel())
        .map(|i| 0.5 + ((i * 7919 % 97) as f64) / 97.0)
        .collect();
    let wt = Tensor::from_f64(w.clone(), out.shape())?
        .to_dtype(out.dtype())?
        .to_device(out.device())?;
    out.mul(&wt)?.sum_all()?.backward(None, false)?;
    let mut worst: f64 = 0.0;
    for (xi, x) in inputs.iter().enumerate() {
        if !x.requires_grad() {
            continue;
        }
        let analytic = match x.grad() {
            Some(g) => g.to_f64_vec()?,
            None => vec![0.0; x.numel()],
        };
        let base = x.to_f64_vec()?;
        for k in 0..base.len() {
            let eval = |delta: f64| -> Result<f64> {
                let mut v = base.clone();
                v[k] += delta;
                let xs: Vec<Tensor> = inputs
                    .iter()
                    .enumerate()
                    .map(|(j, t)| {
                        if j == xi {
                            Tensor::from_f64(v.clone(), x.shape())?
                                .to_dtype(x.dtype())?
                                .to_device(x.device())
                        } else {
                            Ok(t.detach())
                        }
                    })
                    .collect::<Result<_>>()?;
                let _g = NoGradGuard::new();
                let o = f(&xs)?.to_f64_vec()?;
                Ok(o.iter().zip(&w).map(|(a, b)| a * b).sum())
            };
            let numeric = (eval(eps)? - eval(-eps)?) / (2.0 * eps);
            let err = (numeric - analytic[k]).abs();
            worst = worst.max(err);
            if err > atol + rtol * numeric.abs() || !analytic[k].is_finite() {
                return Err(Error::Value(format!(
                    "gradcheck: input {xi}, element {k}: analytic {} vs numeric {numeric}",
                    analytic[k]
                )));
            }
        }
    }
    Ok(worst)
}
