//! Matrix products: `matmul` with PyTorch's 1-D / 2-D / batched broadcast rules, and `linear`.

use crate::backend::{self, BinaryOp};
use crate::dtype::DType;
use crate::ensure;
use crate::error::{Error, Result};
use crate::shape::{broadcast_shapes, Layout};
use crate::tensor::Tensor;

use super::check_device;

impl Tensor {
    /// Matrix product with PyTorch's rules: 1-D operands are promoted and squeezed back,
    /// batch dims broadcast.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let out = {
            check_device("matmul", self, other)?;
            super::check_same_float("matmul", self, other)?;
            if self.ndim() == 0 || other.ndim() == 0 {
                return Err(Error::Shape(format!(
                    "matmul: both arguments need at least 1 dim, got shapes {:?} and {:?}",
                    self.shape(),
                    other.shape()
                )));
            }
            let dt = DType::promote(self.dtype(), other.dtype());
            let (a, b) = (self.to_dtype(dt)?, other.to_dtype(dt)?);
            // a vector is a one-row (left) or one-column (right) matrix
            let as_matrix = |t: &Tensor, dim| match t.ndim() {
                1 => t.unsqueeze(dim),
                _ => Ok(t.clone()),
            };
            let (a2, b2) = (as_matrix(&a, 0)?, as_matrix(&b, 1)?);
            let (an, bn) = (a2.ndim(), b2.ndim());
            let (m, k) = (a2.shape()[an - 2], a2.shape()[an - 1]);
            let (k2, n) = (b2.shape()[bn - 2], b2.shape()[bn - 1]);
            ensure!(
                k == k2,
                Shape,
                "matmul: shapes {:?} and {:?} cannot be multiplied ({}x{} and {}x{})",
                self.shape(),
                other.shape(),
                m,
                k,
                k2,
                n
            );
            let batch = broadcast_shapes(&a2.shape()[..an - 2], &b2.shape()[..bn - 2], "matmul")?;
            // integer products wrap in a narrow dtype, as PyTorch's
            let out = a2.bmm_broadcast(&b2, &batch)?.into_dtype(dt)?;
            let mut shape = out.shape().to_vec();
            match (self.ndim(), other.ndim()) {
                (1, 1) => shape.clear(),
                (1, _) => drop(shape.remove(shape.len() - 2)),
                (_, 1) => drop(shape.pop()),
                _ => {}
            }
            Ok::<_, Error>(squeezed_product(out, &shape))
        }?;
        Ok(out.label_grad_fn(matmul_label(self.ndim(), other.ndim()), &[self, other]))
    }

    /// `[B.., m, k] @ [B.., k, n]` with the batch dims broadcast to `batch`.
    fn bmm_broadcast(&self, other: &Tensor, batch: &[usize]) -> Result<Tensor> {
        let (an, bn) = (self.ndim(), other.ndim());
        let mut sa = batch.to_vec();
        sa.extend_from_slice(&self.shape()[an - 2..]);
        let mut sb = batch.to_vec();
        sb.extend_from_slice(&other.shape()[bn - 2..]);
        let la = self.layout().broadcast_to(&sa, "matmul")?;
        let lb = other.layout().broadcast_to(&sb, "matmul")?;
        let s = backend::matmul(&self.storage(), &la, &other.storage(), &lb)?;
        let mut so = batch.to_vec();
        so.extend_from_slice(&[sa[sa.len() - 2], sb[sb.len() - 1]]);
        if !crate::autograd::needs_grad(&[self, other]) {
            // no node: nothing to save (the products of a backward take this path)
            return Ok(Tensor::from_contiguous(s, &so));
        }
        let (xa, xb) = (self.saved(), other.saved());
        let (sha, shb) = (self.shape().to_vec(), other.shape().to_vec());
        // gradients only for the operands that need them (an input batch needs none)
        let (need_a, need_b) = (self.requires_grad(), other.requires_grad());
        let mut mm_saved = Vec::new();
        if need_b {
            mm_saved.push(self);
        }
        if need_a {
            mm_saved.push(other);
        }
        Ok(Tensor::from_op(
            s,
            &so,
            "matmul",
            &[self, other],
            &mm_saved,
            move |g| {
                let ga = if need_a {
                    Some(g.matmul(&xb.transpose(-1, -2)?)?.sum_to(&sha)?)
                } else {
                    None
                };
                let gb = if need_b {
                    Some(xa.transpose(-1, -2)?.matmul(g)?.sum_to(&shb)?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            },
        ))
    }

    /// `x @ wᵀ + b` with `w` of shape `(out, in)`, as `torch.nn.functional.linear`.
    pub fn linear(&self, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        let out = {
            if w.ndim() != 2 || self.ndim() == 0 || self.shape()[self.ndim() - 1] != w.shape()[1] {
                return Err(Error::Shape(format!(
                "linear: input of shape {:?} does not match weight of shape {:?} (expected input [..., {}])",
                self.shape(),
                w.shape(),
                w.shape().get(1).copied().unwrap_or(0)
            )));
            }
            check_device("linear", self, w)?;
            super::check_same_float("linear", self, w)?;
            if let Some(b) = b {
                check_device("linear", self, b)?;
                ensure!(
                    b.shape() == [w.shape()[0]],
                    Shape,
                    "linear: bias of shape {:?} does not match weight of shape {:?}",
                    b.shape(),
                    w.shape()
                );
            }
            let same = |t: &Tensor| t.dtype() == self.dtype();
            if !self.dtype().is_float() || !same(w) || !b.is_none_or(same) {
                // mixed or integer dtypes: the general path promotes like matmul
                let y = self.matmul(&w.t()?)?;
                return match b {
                    Some(b) => y.add(b),
                    None => Ok(y),
                };
            }
            // one node for x @ wᵀ + b: the weight gradient is computed as gᵀ @ x, already in the
            // weight's (out, in) layout, with no transposed copy
            let (fin, fout) = (w.shape()[1], w.shape()[0]);
            let lead = &self.shape()[..self.ndim() - 1];
            let rows: usize = lead.iter().product();
            let x2 = self.detach().reshape(&[rows, fin])?;
            let wt = w.layout().permute(&[1, 0]);
            let y = match b {
                // the bias in the product's epilogue where the backend has one
                Some(b) if b.is_contiguous() && b.layout().offset == 0 => backend::matmul_bias(
                    &x2.storage(),
                    x2.layout(),
                    &w.storage(),
                    &wt,
                    Some(&*b.storage()),
                )?,
                Some(b) => {
                    let y = backend::matmul(&x2.storage(), x2.layout(), &w.storage(), &wt)?;
                    let ly = crate::shape::Layout::contiguous(&[rows, fout]);
                    let lb = b.layout().broadcast_to(&[rows, fout], "linear")?;
                    backend::binary(BinaryOp::Add, &y, &ly, &b.storage(), &lb)?
                }
                None => backend::matmul(&x2.storage(), x2.layout(), &w.storage(), &wt)?,
            };
            let mut out_shape = lead.to_vec();
            out_shape.push(fout);
            let mut inputs = vec![self, w];
            inputs.extend(b);
            if !crate::autograd::needs_grad(&inputs) {
                return Ok(Tensor::from_contiguous(y, &out_shape));
            }
            let xs = self.saved();
            let (wd, need) = (w.saved(), [self.requires_grad(), w.requires_grad()]);
            let need_b = b.is_some_and(|b| b.requires_grad());
            let xshape = self.shape().to_vec();
            let mut lin_saved = Vec::new();
            if need[1] {
                lin_saved.push(self);
            }
            if need[0] {
                lin_saved.push(w);
            }
            Ok(Tensor::from_op(
                y,
                &out_shape,
                "linear",
                &inputs,
                &lin_saved,
                move |g| {
                    let g2 = g.reshape(&[rows, fout])?;
                    let gx = if need[0] {
                        Some(g2.matmul(&wd)?.reshape(&xshape)?)
                    } else {
                        None
                    };
                    let gw = if need[1] {
                        Some(g2.t()?.matmul(&xs.reshape(&[rows, fin])?)?)
                    } else {
                        None
                    };
                    let gb = if need_b {
                        Some(g2.sum(&[0], false)?)
                    } else {
                        None
                    };
                    Ok(vec![gx, gw, gb])
                },
            ))
        }?;
        let label = match (self.ndim(), b.is_some()) {
            (2, true) => "AddmmBackward0",
            (2, false) => "MmBackward0",
            (1, false) => "SqueezeBackward4",
            _ => "UnsafeViewBackward0",
        };
        Ok(out.label_grad_fn(label, &[self, w]))
    }
}

/// PyTorch's node name for `matmul` of operands with these ranks.
/// A product computed with a vector operand as a matrix, given its squeezed shape: a new tensor
/// (not a view of the matrix result, as PyTorch's `mv`/`dot` results are not views).
fn squeezed_product(out: Tensor, shape: &[usize]) -> Tensor {
    if shape.len() == out.ndim() {
        return out;
    }
    let full = out.shape().to_vec();
    out.with_layout(Layout::contiguous(shape))
        .with_rule("matmul", &[&out], &[], move |g| {
            Ok(vec![Some(g.reshape(&full)?)])
        })
}

fn matmul_label(a: usize, b: usize) -> &'static str {
    match (a, b) {
        (1, 1) => "DotBackward0",
        (2, 1) => "MvBackward0",
        (1, 2) => "SqueezeBackward4",
        (2, 2) => "MmBackward0",
        _ => "UnsafeViewBackward0",
    }
}
