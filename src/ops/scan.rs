//! Scans and orderings: cumsum, cumprod, prod, sort, argsort, topk.
//!
//! cumsum and cumprod are one differentiable primitive, the linear recurrence
//! `y_k = a_k * y_(k-1) + b_k` (cumsum: `a = 1`; cumprod: `b = 0`, `y_(-1) = 1`), whose gradient
//! is the same recurrence run backwards — exact with zeros in the input, unlike `y / x`.

use crate::backend;
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::norm_dim;
use crate::tensor::Tensor;

use super::check_device;

/// `t` shifted by one along `d`: `out_k = t_(k+1)` (`towards_start`) or `t_(k-1)`, the vacated
/// end filled with `fill`.
fn shift(t: &Tensor, d: usize, towards_start: bool, fill: f64) -> Result<Tensor> {
    let n = t.shape()[d];
    let mut pad_shape = t.shape().to_vec();
    pad_shape[d] = 1;
    let pad = Tensor::full(&pad_shape, fill, t.dtype(), t.device())?;
    if n <= 1 {
        return pad.expand(t.shape())?.contiguous();
    }
    let di = d as isize;
    if towards_start {
        Tensor::cat(&[t.narrow(di, 1, n - 1)?, pad], di)
    } else {
        Tensor::cat(&[pad, t.narrow(di, 0, n - 1)?], di)
    }
}

impl Tensor {
    /// The recurrence `y_k = a_k * y_(k-1) + b_k` along `dim` from `y_(-1) = init` (from the last
    /// element when `reverse`); `a` and `b` have one shape, dtype and device. Differentiable in
    /// both operands.
    pub fn linear_scan(
        a: &Tensor,
        b: &Tensor,
        dim: isize,
        reverse: bool,
        init: f64,
    ) -> Result<Tensor> {
        check_device("scan", a, b)?;
        if a.shape() != b.shape() || a.dtype() != b.dtype() {
            return Err(Error::Shape(format!(
                "scan: operands must have one shape and dtype, got {:?} ({}) and {:?} ({})",
                a.shape(),
                a.dtype(),
                b.shape(),
                b.dtype()
            )));
        }
        if a.ndim() == 0 {
            return Tensor::linear_scan(&a.reshape(&[1])?, &b.reshape(&[1])?, 0, reverse, init)?
                .reshape(&[]);
        }
        let d = norm_dim(dim, a.ndim(), "scan")?;
        if a.device().is_gpu() && !a.dtype().is_float() {
            // the GPU holds int64 as 32 bits and its scan would wrap past them: integer
            // cumulative sums and products run on the host, exactly, and the result goes back
            // through the upload's range check (an out-of-range value raises there)
            let (ha, hb) = (a.to_device(Device::Cpu)?, b.to_device(Device::Cpu)?);
            return Tensor::linear_scan(&ha, &hb, d as isize, reverse, init)?.to_device(a.device());
        }
        let s = backend::linear_scan(
            &a.storage(),
            a.layout(),
            &b.storage(),
            b.layout(),
            d,
            reverse,
            init,
        )?;
        let out = Tensor::from_contiguous(s, a.shape());
        if !out.dtype().is_float() {
            return Ok(out);
        }
        let (need_a, need_b) = (a.requires_grad(), b.requires_grad());
        // the output is read only for `a`'s gradient (cumprod), so a cumsum's output can be
        // modified in place before the backward, as in PyTorch
        let xa = a.saved();
        let y = need_a.then(|| out.saved_output());
        let saved: Vec<Tensor> = std::iter::once(a.clone()).chain(y.clone()).collect();
        let saved: Vec<&Tensor> = saved.iter().collect();
        Ok(out.with_rule("scan", &[a, b], &saved, move |g| {
            if g.numel() == 0 {
                return Ok(vec![Some(g.zeros_like()?), Some(g.zeros_like()?)]);
            }
            // S_k = g_k + a_(k+1) S_(k+1), run from the other end
            let a_next = shift(&xa, d, !reverse, 0.0)?;
            let s = Tensor::linear_scan(&a_next, &g.contiguous()?, d as isize, !reverse, 0.0)?;
            let ga = match &y {
                Some(y) => Some(s.mul(&shift(y, d, reverse, init)?)?),
                None => None,
            };
            Ok(vec![ga, if need_b { Some(s) } else { None }])
        }))
    }

    /// Integer and bool inputs of a cumulative op become int64, as in PyTorch.
    fn scan_input(&self, dtype: Option<DType>) -> Result<Tensor> {
        match dtype {
            Some(dt) => self.to_dtype(dt),
            None if !self.dtype().is_float() => self.to_dtype(DType::I64),
            None => Ok(self.clone()),
        }
    }

    /// Cumulative sum along `dim`.
    pub fn cumsum(&self, dim: isize, dtype: Option<DType>) -> Result<Tensor> {
        let out = {
            norm_dim(dim, self.ndim(), "cumsum")?;
            let x = self.scan_input(dtype)?;
            let ones = Tensor::ones(&[], x.dtype(), x.device())?.expand(x.shape())?;
            Tensor::linear_scan(&ones, &x, dim, false, 0.0)?.narrow_to(dtype)
        }?;
        Ok(out.label_grad_fn("CumsumBackward0", &[self]))
    }

    /// Cumulative product along `dim`.
    pub fn cumprod(&self, dim: isize, dtype: Option<DType>) -> Result<Tensor> {
        norm_dim(dim, self.ndim(), "cumprod")?;
        let x = self.scan_input(dtype)?;
        let zeros = Tensor::zeros(&[], x.dtype(), x.device())?.expand(x.shape())?;
        Tensor::linear_scan(&x, &zeros, dim, false, 1.0)?.narrow_to(dtype)
    }

    /// Product along `dim` (of every element when None); 1 over an empty dim.
    pub fn prod(&self, dim: Option<isize>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
        let out = {
            let Some(dim) = dim else {
                let flat = self.reshape(&[self.numel()])?;
                return flat.prod(Some(0), false, dtype);
            };
            let d = norm_dim(dim, self.ndim(), "prod")?;
            let x = self.scan_input(dtype)?;
            if x.ndim() == 0 {
                return Ok(x);
            }
            let n = x.shape()[d];
            let di = d as isize;
            let r = if n == 0 {
                // ones, but still a function of x (a zero gradient), as PyTorch's
                x.sum(&[di], true)?.add_scalar(1.0)?
            } else {
                x.cumprod(di, None)?.narrow(di, n - 1, 1)?
            };
            if keepdim {
                r.narrow_to(dtype)
            } else {
                r.squeeze_dim(di)?.narrow_to(dtype)
            }
        }?;
        Ok(out.label_grad_fn(
            if dim.is_none() {
                "ProdBackward0"
            } else {
                "ProdBackward1"
            },
            &[self],
        ))
    }

    /// Stable argsort along `dim` (int64); NaN sorts above every number.
    pub fn argsort(&self, dim: isize, descending: bool) -> Result<Tensor> {
        if self.ndim() == 0 {
            norm_dim(dim, 0, "argsort")?;
            return Tensor::zeros(&[], DType::I64, self.device());
        }
        let d = norm_dim(dim, self.ndim(), "argsort")?;
        if self.numel() == 0 {
            // nothing to order (the backend would size its scratch by the sorted dim alone)
            return Tensor::zeros(self.shape(), DType::I64, self.device());
        }
        let last = self.ndim() - 1;
        let x = self.detach();
        let x = if d == last {
            x
        } else {
            x.transpose(d as isize, last as isize)?
        };
        let s = backend::argsort(&x.storage(), x.layout(), descending)?;
        let idx = Tensor::from_contiguous(s, x.shape());
        if d == last {
            Ok(idx)
        } else {
            idx.transpose(d as isize, last as isize)?.contiguous()
        }
    }

    /// Sorted values (differentiable) and their indices along `dim`; stable.
    pub fn sort(&self, dim: isize, descending: bool) -> Result<(Tensor, Tensor)> {
        let idx = self.argsort(dim, descending)?;
        if self.ndim() == 0 {
            return Ok((self.clone(), idx));
        }
        Ok((self.gather(dim, &idx)?, idx))
    }

    /// The `k` largest (or smallest) values along `dim` and their indices.
    pub fn topk(
        &self,
        k: usize,
        dim: isize,
        largest: bool,
        _sorted: bool,
    ) -> Result<(Tensor, Tensor)> {
        let d = norm_dim(dim, self.ndim(), "topk")?;
        let n = if self.ndim() == 0 { 1 } else { self.shape()[d] };
        if k > n {
            return Err(Error::Index(format!(
                "topk: k ({k}) is out of range for dimension {d} of size {n} (shape {:?})",
                self.shape()
            )));
        }
        if self.ndim() == 0 {
            return Ok((self.clone(), Tensor::zeros(&[], DType::I64, self.device())?));
        }
        // the indices in memory of their own, as PyTorch returns them (a view of the full sort
        // could not be `view`ed flat)
        let idx = self
            .argsort(dim, largest)?
            .narrow(d as isize, 0, k)?
            .contiguous()?;
        Ok((self.gather(dim, &idx)?, idx))
    }
}
