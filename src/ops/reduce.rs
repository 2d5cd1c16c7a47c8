//! Reductions (sum, mean, var, std, max, min, argmax, argmin) and softmax / log-softmax.

use crate::backend::{self, ReduceOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{norm_dim, norm_dims};
use crate::tensor::Tensor;

use super::check_float;

/// The shape after reducing `dims` (sorted), with or without kept unit dims.
fn reduced_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, &s)| {
            if dims.contains(&i) {
                if keepdim {
                    Some(1)
                } else {
                    None
                }
            } else {
                Some(s)
            }
        })
        .collect()
}

impl Tensor {
    /// Sum over `dims` (all when empty).
    pub fn sum(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        let out = {
            let d = norm_dims(dims, self.ndim(), "sum")?;
            let x = if self.dtype() == DType::Bool {
                self.to_dtype(DType::I64)?
            } else {
                self.clone()
            };
            let s = backend::reduce(ReduceOp::Sum, &x.storage(), x.layout(), &d)?;
            let out_shape = reduced_shape(x.shape(), &d, keepdim);
            let keep_shape = reduced_shape(x.shape(), &d, true);
            let in_shape = x.shape().to_vec();
            Ok(Tensor::from_op(
                s,
                &out_shape,
                "sum",
                &[&x],
                &[],
                move |g| {
                    Ok(vec![Some(
                        g.reshape(&keep_shape)?.expand(&in_shape)?.contiguous()?,
                    )])
                },
            ))
        }?;
        Ok(out.label_grad_fn(
            if dims.is_empty() {
                "SumBackward0"
            } else {
                "SumBackward1"
            },
            &[self],
        ))
    }

    /// Sum of every element (0-d).
    pub fn sum_all(&self) -> Result<Tensor> {
        self.sum(&[], false)
    }

    /// Mean over `dims` (all when empty).
    /// One graph node (`MeanBackward0/1`, whose gradient is `g / n` spread over the input), as
    /// PyTorch records it: node hooks and `next_functions` see the input, not an inner sum.
    pub fn mean(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        check_float("mean", self)?;
        let d = norm_dims(dims, self.ndim(), "mean")?;
        let n: usize = d.iter().map(|&i| self.shape()[i]).product();
        let value = {
            let _no_grad = crate::autograd::NoGradGuard::new();
            self.sum(dims, keepdim)?.div_scalar(n as f64)?
        };
        let keep_shape = reduced_shape(self.shape(), &d, true);
        let in_shape = self.shape().to_vec();
        let out = value.with_rule("mean", &[self], &[], move |g| {
            Ok(vec![Some(
                g.reshape(&keep_shape)?
                    .expand(&in_shape)?
                    .div_scalar(n as f64)?
                    .contiguous()?,
            )])
        });
        Ok(out.label_grad_fn(
            if dims.is_empty() {
                "MeanBackward0"
            } else {
                "MeanBackward1"
            },
            &[self],
        ))
    }

    /// Variance over `dims` with Bessel's `correction` (1 = unbiased, as PyTorch's default).
    pub fn var(&self, dims: &[isize], correction: f64, keepdim: bool) -> Result<Tensor> {
        let out = {
            check_float("var", self)?;
            let d = norm_dims(dims, self.ndim(), "var")?;
            let n: usize = d.iter().map(|&i| self.shape()[i]).product();
            let mu = self.mean(dims, true)?;
            let dev = self.sub(&mu)?;
            let ss = dev.mul(&dev)?.sum(dims, keepdim)?;
            // no element: NaN whatever the correction, as PyTorch
            let divisor = if n == 0 {
                0.0
            } else {
                (n as f64 - correction).max(0.0)
            };
            ss.div_scalar(divisor)
        }?;
        Ok(out.label_grad_fn("VarBackward0", &[self]))
    }

    /// Standard deviation over `dims` (see [`Tensor::var`]).
    /// Where the deviation is zero the gradient is zero, as PyTorch's (not 1/0).
    pub fn std(&self, dims: &[isize], correction: f64, keepdim: bool) -> Result<Tensor> {
        let out = {
            // a float32 deviation past 1.8e19 squares to inf while its std is finite: on the CPU
            // the variance is taken in float64 (PyTorch accumulates in double there too)
            let wide = self.dtype() == DType::F32 && !self.device().is_gpu();
            let v = if wide {
                self.to_dtype(DType::F64)?.var(dims, correction, keepdim)?
            } else {
                self.var(dims, correction, keepdim)?
            };
            let y = {
                let _g = crate::autograd::NoGradGuard::new();
                v.sqrt()?
            };
            let yd = y.saved_output();
            Ok(y.with_rule("std", &[&v], &[&yd.clone()], move |g| {
                let zero = yd.eq_scalar(0.0)?;
                let safe = Tensor::where_cond(&zero, &yd.ones_like()?, &yd)?;
                let d = g.div(&safe.mul_scalar(2.0)?)?;
                Ok(vec![Some(Tensor::where_cond(&zero, &d.zeros_like()?, &d)?)])
            }))
            .and_then(|y| if wide { y.to_dtype(DType::F32) } else { Ok(y) })
        }?;
        Ok(out.label_grad_fn("StdBackward0", &[self]))
    }

    /// Max (or min) along one dim: `(values, indices)`.
    pub fn max_min_dim(&self, dim: isize, keepdim: bool, is_max: bool) -> Result<(Tensor, Tensor)> {
        let (out, extra) = {
            let op = if is_max { "max" } else { "min" };
            let d = norm_dim(dim, self.ndim(), op)?;
            if self.ndim() == 0 {
                return Ok((self.clone(), Tensor::zeros(&[], DType::I64, self.device())?));
            }
            if self.shape()[d] == 0 {
                return Err(Error::Index(format!(
                    "{op}: expected reduction dim {d} to have non-zero size (shape {:?})",
                    self.shape()
                )));
            }
            let arg = if is_max {
                ReduceOp::ArgMax
            } else {
                ReduceOp::ArgMin
            };
            let idx_s = backend::reduce(arg, &self.storage(), self.layout(), &[d])?;
            let keep = reduced_shape(self.shape(), &[d], true);
            let idx_keep = Tensor::from_contiguous(idx_s, &keep);
            let values = self.gather(d as isize, &idx_keep)?;
            if keepdim {
                Ok((values, idx_keep))
            } else {
                Ok((
                    values.squeeze_dim(d as isize)?,
                    idx_keep.squeeze_dim(d as isize)?,
                ))
            }
        }?;
        Ok((
            out.label_grad_fn(
                if is_max {
                    "MaxBackward0"
                } else {
                    "MinBackward0"
                },
                &[self],
            ),
            extra,
        ))
    }

    /// Max (or min) of all elements; the gradient is shared among ties, as in PyTorch.
    pub fn max_min_all(&self, is_max: bool) -> Result<Tensor> {
        let out = {
            let op = if is_max { ReduceOp::Max } else { ReduceOp::Min };
            let all: Vec<usize> = (0..self.ndim()).collect();
            if self.numel() == 0 {
                return Err(Error::Shape(format!(
                    "{}: cannot reduce an empty tensor of shape {:?}",
                    if is_max { "max" } else { "min" },
                    self.shape()
                )));
            }
            let s = backend::reduce(op, &self.storage(), self.layout(), &all)?;
            let out = Tensor::from_contiguous(s, &[]).tagged(self.dtype());
            if !self.dtype().is_float() {
                return Ok(out);
            }
            let (x, y) = (self.detach(), out.detach());
            // the mask is piecewise constant: the rule is linear in g, differentiable again as is
            Ok(out.with_rule(
                if is_max { "max" } else { "min" },
                &[self],
                &[self, &y.clone()],
                move |g| {
                    use crate::backend::{BinaryOp, UnaryOp};
                    // the winners: equal to the result, or NaN where the result is NaN (NaN
                    // propagates, so PyTorch gives the NaN entries the gradient)
                    let both_nan = x
                        .float_test(UnaryOp::IsNan)?
                        .binary(&y.float_test(UnaryOp::IsNan)?, BinaryOp::And)?;
                    let mask = x
                        .binary(&y, BinaryOp::Eq)?
                        .binary(&both_nan, BinaryOp::Or)?
                        .to_dtype(x.dtype())?;
                    let count = mask.sum_all()?;
                    Ok(vec![Some(mask.mul(&g.div(&count)?)?)])
                },
            ))
        }?;
        Ok(out.label_grad_fn(
            if is_max {
                "MaxBackward1"
            } else {
                "MinBackward1"
            },
            &[self],
        ))
    }

    /// Index of the max (or min) along `dim`, or of the flattened tensor when `dim` is None.
    pub fn argmax_min(&self, dim: Option<isize>, keepdim: bool, is_max: bool) -> Result<Tensor> {
        match dim {
            Some(d) => Ok(self.max_min_dim(d, keepdim, is_max)?.1),
            None => {
                let flat = self.reshape(&[self.numel()])?;
                let op = if is_max {
                    ReduceOp::ArgMax
                } else {
                    ReduceOp::ArgMin
                };
                if flat.numel() == 0 {
                    // PyTorch's IndexError
                    let name = if is_max { "argmax" } else { "argmin" };
                    return Err(Error::Index(format!(
                        "{name}(): Expected reduction dim to be specified for input.numel() == 0 \
                         (shape {:?})",
                        self.shape()
                    )));
                }
                let s = backend::reduce(op, &flat.storage(), flat.layout(), &[0])?;
                let out = Tensor::from_contiguous(s, &[]);
                if keepdim {
                    out.reshape(&vec![1; self.ndim()])
                } else {
                    Ok(out)
                }
            }
        }
    }

    /// Softmax (or log-softmax) along `dim`.
    pub fn softmax_dim(&self, dim: isize, log: bool) -> Result<Tensor> {
        let name = if log { "log_softmax" } else { "softmax" };
        check_float(name, self)?;
        let x = self.clone();
        let d = norm_dim(dim, x.ndim(), name)?;
        if x.ndim() == 0 {
            return x.reshape(&[1])?.softmax_dim(0, log)?.reshape(&[]);
        }
        if x.numel() == 0 {
            return x.mul_scalar(1.0);
        }
        let last = x.ndim() - 1;
        if d != last {
            // the kernel works on the last dim; the result is laid out as the input (a
            // contiguous tensor, not a transposed view: `.view(-1)` and `detach_()` work on it,
            // as on PyTorch's)
            return x
                .transpose(d as isize, last as isize)?
                .softmax_dim(-1, log)?
                .transpose(d as isize, last as isize)?
                .contiguous();
        }
        let s = backend::softmax(&x.storage(), x.layout(), log)?;
        let out = Tensor::from_contiguous(s, x.shape());
        let y = out.saved_output();
        Ok(out.with_rule(name, &[&x], &[&y.clone()], move |g| {
            let gi = if log {
                g.sub(&y.exp()?.mul(&g.sum(&[-1], true)?)?)?
            } else {
                y.mul(&g.sub(&g.mul(&y)?.sum(&[-1], true)?)?)?
            };
            Ok(vec![Some(gi)])
        }))
    }

    /// The `p`-norm over `dims` (all when empty), as `torch.linalg.vector_norm`: `p = ∞` the
    /// largest magnitude, `-∞` the smallest, `0` the count of non-zeros. The 2-norm's gradient
    /// at a zero vector is zero (a subgradient), as PyTorch's.
    pub fn norm(&self, p: f64, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        let out = {
            check_float("norm", self)?;
            if p.is_nan() {
                return Err(Error::Value("norm: the order p must not be NaN".into()));
            }
            let a = self.abs()?;
            if p.is_infinite() {
                return a.amax_amin(dims, keepdim, p > 0.0);
            }
            if p == 0.0 {
                return a.ne_scalar(0.0)?.to_dtype(self.dtype())?.sum(dims, keepdim);
            }
            if p == 1.0 {
                return a.sum(dims, keepdim);
            }
            if p == 2.0 {
                let d = norm_dims(dims, self.ndim(), "norm")?;
                let keep = reduced_shape(self.shape(), &d, true);
                let y = {
                    let _g = crate::autograd::NoGradGuard::new();
                    self.mul(self)?.sum(dims, keepdim)?.sqrt()?
                };
                let (x, yd, in_shape) = (self.saved(), y.saved_output(), self.shape().to_vec());
                return Ok(
                    y.with_rule("norm", &[self], &[self, &yd.clone()], move |g| {
                        let yk = yd.reshape(&keep)?;
                        let gk = g.reshape(&keep)?;
                        let safe = Tensor::where_cond(&yk.eq_scalar(0.0)?, &yk.ones_like()?, &yk)?;
                        let scale = Tensor::where_cond(
                            &yk.eq_scalar(0.0)?,
                            &yk.zeros_like()?,
                            &gk.div(&safe)?,
                        )?;
                        Ok(vec![Some(x.mul(&scale.expand(&in_shape)?)?)])
                    }),
                );
            }
            a.pow_scalar(p)?.sum(dims, keepdim)?.pow_scalar(1.0 / p)
        }?;
        Ok(out.label_grad_fn("LinalgVectorNormBackward0", &[self]))
    }

    /// `log(sum(exp(x)))` along `dim`, computed stably; ±∞ give PyTorch's results (∞ when any
    /// element is ∞, −∞ when all are −∞).
    pub fn logsumexp(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        let out = {
            if self.ndim() > 0 && self.shape()[norm_dim(dim, self.ndim(), "logsumexp")?] == 0 {
                // the log of an empty sum
                let e = self.sum(&[dim], keepdim)?;
                return e.add(&e.scalar_like(f64::NEG_INFINITY)?);
            }
            let m = self.max_min_dim(dim, true, true)?.0.detach();
            // an infinite maximum is not subtracted (∞ − ∞ would be NaN)
            let m = Tensor::where_cond(
                &m.unary(crate::backend::UnaryOp::Abs)?
                    .eq_scalar(f64::INFINITY)?,
                &m.zeros_like()?,
                &m,
            )?;
            let r = self.sub(&m)?.exp()?.sum(&[dim], true)?.log()?.add(&m)?;
            if keepdim {
                Ok(r)
            } else {
                r.squeeze_dim(dim)
            }
        }?;
        Ok(out.label_grad_fn("LogsumexpBackward0", &[self]))
    }
}
