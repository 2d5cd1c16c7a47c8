//! Loss functions with PyTorch's signatures and reductions.

use crate::backend::{
    class_loss_backward, class_loss_forward, ClassLossSpec, LossReduction, UnaryOp,
};
use crate::dtype::DType;
use crate::ensure;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

use super::{check_device, check_float};

/// How a loss reduces its elementwise values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    None,
    Mean,
    Sum,
    /// sum divided by the batch size (KL divergence)
    BatchMean,
}

impl Reduction {
    pub fn parse(s: &str) -> Result<Reduction> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            "batchmean" => Ok(Reduction::BatchMean),
            _ => Err(Error::Value(format!(
                "{s} is not a valid value for reduction (none, mean, sum)"
            ))),
        }
    }

    fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Reduction::None => Ok(x.clone()),
            Reduction::Mean => x.mean(&[], false),
            Reduction::Sum => x.sum_all(),
            Reduction::BatchMean => {
                // an empty batch gives 0 / 0 = NaN, as the mean of nothing does
                let n = x.shape().first().copied().unwrap_or(1);
                x.sum_all()?.div_scalar(n as f64)
            }
        }
    }

    /// The per-element loss `l`, times `weight` when given, reduced.
    fn apply_weighted(self, l: Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
        match weight {
            Some(w) => self.apply(&l.mul(w)?),
            None => self.apply(&l),
        }
    }
}

fn same_shape(op: &str, a: &Tensor, b: &Tensor) -> Result<()> {
    check_device(op, a, b)?;
    ensure!(
        a.shape() == b.shape(),
        Shape,
        "{op}: input of shape {:?} and target of shape {:?} must have the same shape",
        a.shape(),
        b.shape()
    );
    Ok(())
}

impl Tensor {
    /// Negative log-likelihood of log-probabilities `(N, C, ...)` at int64 class targets `(N, ...)`.
    pub fn nll_loss(
        &self,
        target: &Tensor,
        weight: Option<&Tensor>,
        ignore_index: i64,
        reduction: Reduction,
    ) -> Result<Tensor> {
        let out = self.class_loss(
            "nll_loss",
            target,
            weight,
            ignore_index,
            reduction,
            0.0,
            false,
        )?;
        Ok(out.label_grad_fn("NllLossBackward0", &[self]))
    }

    /// Cross entropy of logits `(N, C, ...)` with int64 class targets `(N, ...)` or class
    /// probabilities of the input's shape; `label_smoothing` as PyTorch.
    pub fn cross_entropy(
        &self,
        target: &Tensor,
        weight: Option<&Tensor>,
        ignore_index: i64,
        reduction: Reduction,
        label_smoothing: f64,
    ) -> Result<Tensor> {
        let out = {
            if !(0.0..=1.0).contains(&label_smoothing) {
                return Err(Error::Value(format!(
                    "cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}"
                )));
            }
            if target.dtype().is_float() {
                same_shape("cross_entropy", self, target)?;
                check_float("cross_entropy", self)?;
                let logp = self.softmax_dim(1, true)?;
                let c = self.shape()[1] as f64;
                let t = if label_smoothing > 0.0 {
                    target
                        .mul_scalar(1.0 - label_smoothing)?
                        .add_scalar(label_smoothing / c)?
                } else {
                    target.clone()
                };
                let mut prod = logp.mul(&t)?;
                if let Some(w) = weight {
                    let mut ws = vec![1usize; self.ndim()];
                    ws[1] = self.shape()[1];
                    prod = prod.mul(&w.reshape(&ws)?)?;
                }
                let per = prod.sum(&[1], false)?.neg()?;
                return reduction.apply(&per);
            }
            self.class_loss(
                "cross_entropy",
                target,
                weight,
                ignore_index,
                reduction,
                label_smoothing,
                true,
            )
        }?;
        Ok(out.label_grad_fn("NllLossBackward0", &[self]))
    }

    #[allow(clippy::too_many_arguments)]
    fn class_loss(
        &self,
        op: &str,
        target: &Tensor,
        weight: Option<&Tensor>,
        ignore_index: i64,
        reduction: Reduction,
        smoothing: f64,
        logits: bool,
    ) -> Result<Tensor> {
        check_float(op, self)?;
        check_device(op, self, target)?;
        ensure!(
            self.ndim() >= 1,
            Shape,
            "{op}: expected an input of at least 1 dimension (classes), got a 0-d tensor"
        );
        ensure!(
            matches!(target.dtype(), DType::I64 | DType::U8),
            DType,
            "{op}: expected int64 (or uint8) class targets, got {} of shape {:?}",
            target.dtype(),
            target.shape()
        );
        // one unbatched sample: a batch of one (its target 0-d, or one class of shape (1,))
        let (x, t) = if self.ndim() == 1 {
            let t = if target.shape() == [1] {
                target.clone()
            } else {
                target.unsqueeze(0)?
            };
            (self.unsqueeze(0)?, t)
        } else {
            (self.clone(), target.clone())
        };
        let mut expect: Vec<usize> = vec![x.shape()[0]];
        expect.extend_from_slice(&x.shape()[2..]);
        ensure!(
            t.shape() == expect.as_slice(),
            Shape,
            "{op}: input of shape {:?} expects target of shape {:?}, got {:?}",
            self.shape(),
            if self.ndim() == 1 {
                &[][..]
            } else {
                &expect[..]
            },
            target.shape()
        );
        let c = x.shape()[1];
        if let Some(w) = weight {
            ensure!(
                w.shape() == [c],
                Shape,
                "{op}: weight of shape {:?} for {c} classes",
                w.shape()
            );
        }
        // classes last, flattened: (M, C) and (M,)
        let nd = x.ndim();
        let xm = if nd > 2 {
            let mut perm: Vec<isize> = vec![0];
            perm.extend(2..nd as isize);
            perm.push(1);
            x.permute(&perm)?.reshape(&[x.numel() / c, c])?
        } else {
            x
        };
        let m = xm.shape()[0];
        let tm = t.reshape(&[m])?;
        // the GPU computes the whole loss in two fused kernels and its gradient in one
        let fused = xm.device().is_gpu()
            && c > 0
            && xm.dtype() == DType::F32
            && weight.is_none_or(|w| !w.requires_grad());
        if fused {
            let spec = ClassLossSpec {
                rows: m,
                classes: c,
                ignore: ignore_index,
                smoothing,
                logits,
                reduction: match reduction {
                    Reduction::None => LossReduction::None,
                    Reduction::Sum => LossReduction::Sum,
                    Reduction::Mean | Reduction::BatchMean => LossReduction::Mean,
                },
            };
            let loss = class_loss_fused(&xm, &tm, weight, spec)?;
            return match reduction {
                Reduction::None if self.ndim() == 1 => loss.reshape(&[]),
                Reduction::None => loss.reshape(target.shape()),
                _ => Ok(loss),
            };
        }
        let logp = if logits { xm.softmax_dim(1, true)? } else { xm };
        let valid = tm.ne_scalar(ignore_index as f64)?;
        let safe = Tensor::where_cond(&valid, &tm, &tm.zeros_like()?)?;
        let picked = logp
            .gather(1, &safe.reshape(&[m, 1])?)
            .map_err(|e| match e {
                Error::Index(msg) => Error::Index(format!(
                    "{op}: a target is out of range for {c} classes (expected values in [0, {c}) or ignore_index={ignore_index}): {msg}"
                )),
                other => other,
            })?
            .reshape(&[m])?;
        let validf = valid.to_dtype(logp.dtype())?;
        let wi = match weight {
            Some(w) => w
                .to_dtype(logp.dtype())?
                .index_select(0, &safe)?
                .mul(&validf)?,
            None => validf.clone(),
        };
        // ignored rows are masked out, not multiplied by 0: their log-probabilities may be NaN
        // (a row of -inf logits), which must not reach the loss (PyTorch skips them)
        let nothing = picked.zeros_like()?;
        let mut per = Tensor::where_cond(&valid, &picked.mul(&wi)?.neg()?, &nothing)?;
        if smoothing > 0.0 {
            let sm = match weight {
                Some(w) => logp.mul(&w.to_dtype(logp.dtype())?)?.sum(&[1], false)?,
                None => logp.sum(&[1], false)?,
            };
            let smooth = Tensor::where_cond(&valid, &sm, &nothing)?.mul_scalar(-1.0 / c as f64)?;
            per = per
                .mul_scalar(1.0 - smoothing)?
                .add(&smooth.mul_scalar(smoothing)?)?;
        }
        match reduction {
            Reduction::None => {
                let mut shape = vec![target.shape().first().copied().unwrap_or(1)];
                shape.extend_from_slice(target.shape().get(1..).unwrap_or(&[]));
                if self.ndim() == 1 {
                    per.reshape(&[])
                } else {
                    per.reshape(&shape)
                }
            }
            Reduction::Sum => per.sum_all(),
            Reduction::Mean | Reduction::BatchMean => {
                // every target ignored: PyTorch's NaN mean, with a zero gradient (0/0 in the
                // backward would make it NaN)
                let total = wi.sum_all()?;
                let none = total.eq_scalar(0.0)?;
                let one = total.ones_like()?;
                let denom = Tensor::where_cond(&none, &one, &total)?;
                let nan =
                    Tensor::where_cond(&none, &one.mul_scalar(f64::NAN)?, &one.zeros_like()?)?;
                per.sum_all()?.div(&denom)?.add(&nan)
            }
        }
    }

    /// Mean squared error.
    pub fn mse_loss(&self, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
        let out = {
            same_shape("mse_loss", self, target)?;
            reduction.apply(&self.sub(target)?.unary(UnaryOp::Square)?)
        }?;
        Ok(out.label_grad_fn("MseLossBackward0", &[self]))
    }

    /// Mean absolute error.
    pub fn l1_loss(&self, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
        // the mean, sum or abs node names it as PyTorch does
        same_shape("l1_loss", self, target)?;
        reduction.apply(&self.sub(target)?.abs()?)
    }

    /// Smooth L1: `0.5 d²/β` below β, `|d| - β/2` above.
    pub fn smooth_l1_loss(
        &self,
        target: &Tensor,
        reduction: Reduction,
        beta: f64,
    ) -> Result<Tensor> {
        let out = {
            same_shape("smooth_l1_loss", self, target)?;
            let d = self.sub(target)?;
            if beta == 0.0 {
                return reduction.apply(&d.abs()?);
            }
            let a = d.abs()?;
            let quad = d.unary(UnaryOp::Square)?.mul_scalar(0.5 / beta)?;
            let lin = a.add_scalar(-0.5 * beta)?;
            let small = a.binary(&a.scalar_like(beta)?, crate::backend::BinaryOp::Lt)?;
            reduction.apply(&Tensor::where_cond(&small, &quad, &lin)?)
        }?;
        Ok(out.label_grad_fn("SmoothL1LossBackward0", &[self]))
    }

    /// Huber: `0.5 d²` below δ, `δ(|d| - δ/2)` above.
    pub fn huber_loss(&self, target: &Tensor, reduction: Reduction, delta: f64) -> Result<Tensor> {
        let out = {
            same_shape("huber_loss", self, target)?;
            let d = self.sub(target)?;
            let a = d.abs()?;
            let quad = d.unary(UnaryOp::Square)?.mul_scalar(0.5)?;
            let lin = a.add_scalar(-0.5 * delta)?.mul_scalar(delta)?;
            let small = a.binary(&a.scalar_like(delta)?, crate::backend::BinaryOp::Lt)?;
            reduction.apply(&Tensor::where_cond(&small, &quad, &lin)?)
        }?;
        Ok(out.label_grad_fn("HuberLossBackward0", &[self]))
    }

    /// Binary cross entropy of probabilities; logs clamped at -100 as PyTorch.
    pub fn binary_cross_entropy(
        &self,
        target: &Tensor,
        weight: Option<&Tensor>,
        reduction: Reduction,
    ) -> Result<Tensor> {
        let out = {
            same_shape("binary_cross_entropy", self, target)?;
            check_float("binary_cross_entropy", self)?;
            let t = target.to_dtype(self.dtype())?;
            // as PyTorch on the CPU: probabilities outside [0, 1] (or NaN) are an error, not a NaN
            // loss; a GPU tensor is not read back for the check (that would stall every step)
            if self.device() == crate::device::Device::Cpu && self.numel() > 0 {
                let _g = crate::autograd::NoGradGuard::new();
                for (what, v) in [("input", self), ("target", &t)] {
                    let (lo, hi) = (v.max_min_all(false)?.item()?, v.max_min_all(true)?.item()?);
                    if !(lo >= 0.0 && hi <= 1.0) {
                        return Err(Error::Runtime(format!(
                        "binary_cross_entropy: all elements of {what} should be between 0 and 1 \
                         (found values in [{lo}, {hi}], shape {:?})",
                        v.shape()
                    )));
                    }
                }
            }
            // PyTorch's definition: logs clamped at -100, and a gradient (p - t) / max(p(1-p), 1e-12)
            // that stays finite at p = 0 or 1 (the clamp's own derivative would give 0/0 there)
            let (lp, lq, l) = {
                let _g = crate::autograd::NoGradGuard::new();
                let lp = self.log()?.clamp(Some(-100.0), None)?;
                let lq = self
                    .unary(UnaryOp::RSubScalar(1.0))?
                    .log()?
                    .clamp(Some(-100.0), None)?;
                let l = t
                    .mul(&lp)?
                    .add(&t.unary(UnaryOp::RSubScalar(1.0))?.mul(&lq)?)?
                    .neg()?;
                (lp, lq, l)
            };
            let (p, td) = (self.saved(), t.saved());
            let need_t = t.requires_grad();
            let l = l.with_rule("binary_cross_entropy", &[self, &t], &[self, &t], move |g| {
                let denom = p
                    .mul(&p.unary(UnaryOp::RSubScalar(1.0))?)?
                    .clamp(Some(1e-12), None)?;
                let gp = g.mul(&p.sub(&td)?.div(&denom)?)?;
                let gt = if need_t && crate::autograd::is_creating_graph() {
                    // the logs again, from the saved input (differentiable in it)
                    let lp = p.log()?.clamp(Some(-100.0), None)?;
                    let lq = p
                        .unary(UnaryOp::RSubScalar(1.0))?
                        .log()?
                        .clamp(Some(-100.0), None)?;
                    Some(g.mul(&lq.sub(&lp)?)?)
                } else if need_t {
                    Some(g.mul(&lq.sub(&lp)?)?)
                } else {
                    None
                };
                Ok(vec![Some(gp), gt])
            });
            reduction.apply_weighted(l, weight)
        }?;
        Ok(out.label_grad_fn("BinaryCrossEntropyBackward0", &[self]))
    }

    /// Binary cross entropy on logits, computed stably; `pos_weight` weighs positives.
    pub fn binary_cross_entropy_with_logits(
        &self,
        target: &Tensor,
        weight: Option<&Tensor>,
        pos_weight: Option<&Tensor>,
        reduction: Reduction,
    ) -> Result<Tensor> {
        let out = {
            same_shape("binary_cross_entropy_with_logits", self, target)?;
            check_float("binary_cross_entropy_with_logits", self)?;
            let t = target.to_dtype(self.dtype())?;
            // log(1 + exp(-|x|)) + max(-x, 0) = -log sigmoid(x)
            // (its rule: d/dx = -sigmoid(-x), exact at x = 0 too)
            let softplus_neg = self.neg()?.softplus_exact()?;
            let l = match pos_weight {
                Some(pw) => {
                    let lw = pw.add_scalar(-1.0)?.mul(&t)?.add_scalar(1.0)?;
                    t.unary(UnaryOp::RSubScalar(1.0))?
                        .mul(self)?
                        .add(&lw.mul(&softplus_neg)?)?
                }
                None => t
                    .unary(UnaryOp::RSubScalar(1.0))?
                    .mul(self)?
                    .add(&softplus_neg)?,
            };
            // the gradient PyTorch takes, lw·σ(x) − pw·t (σ(x) − t without pos_weight), not the
            // value's (1 − t) − lw·σ(−x), which cancels to nothing where σ(−x) ≈ 1: the same
            // value, its gradient from `lw·softplus(x) − pw·t·x`
            let l = if crate::autograd::needs_grad(&[self]) {
                let sp = self.softplus_exact()?;
                let g = match pos_weight {
                    Some(pw) => {
                        let lw = pw.add_scalar(-1.0)?.mul(&t)?.add_scalar(1.0)?;
                        lw.mul(&sp)?.sub(&pw.mul(&t)?.mul(self)?)?
                    }
                    None => sp.sub(&t.mul(self)?)?,
                };
                // g − g is 0 where g is finite; an infinite logit keeps the value's own rule
                // (exact there: 1 − t or −pw·t), so no inf − inf reaches the value
                let gd = g.detach();
                let finite = gd.abs()?.binary(
                    &gd.scalar_like(f64::INFINITY)?,
                    crate::backend::BinaryOp::Lt,
                )?;
                Tensor::where_cond(&finite, &l.detach().add(&g.sub(&gd)?)?, &l)?
            } else {
                l
            };
            reduction.apply_weighted(l, weight)
        }?;
        Ok(out.label_grad_fn("BinaryCrossEntropyWithLogitsBackward0", &[self]))
    }

    /// KL divergence with `self` as log-probabilities, as `torch.nn.functional.kl_div`.
    pub fn kl_div(
        &self,
        target: &Tensor,
        reduction: Reduction,
        log_target: bool,
    ) -> Result<Tensor> {
        same_shape("kl_div", self, target)?;
        let l = if log_target {
            target.exp()?.mul(&target.sub(self)?)?
        } else {
            // PyTorch's xlogy(t, t) − t·input: a zero target contributes 0·log 0 = 0 but still
            // 0·input (NaN for an infinite input), a negative one NaN
            let zero = target.binary(&target.scalar_like(0.0)?, crate::backend::BinaryOp::Eq)?;
            let safe_t = Tensor::where_cond(&zero, &target.ones_like()?, target)?;
            target.mul(&safe_t.log()?)?.sub(&target.mul(self)?)?
        };
        reduction.apply(&l)
    }
}

/// The classification loss of dense `(rows, classes)` scores through the backend's fused
/// kernels (see [`ClassLossSpec`]): a `(rows)` result for no reduction, else a scalar. With
/// `create_graph` the gradient is composed of differentiable ops over the saved scores.
fn class_loss_fused(
    xm: &Tensor,
    tm: &Tensor,
    weight: Option<&Tensor>,
    spec: ClassLossSpec,
) -> Result<Tensor> {
    let x = xm.contiguous()?;
    let t = tm.detach().contiguous()?;
    let w = weight
        .map(|w| w.detach().to_dtype(x.dtype())?.contiguous())
        .transpose()?;
    let (out, aux) = {
        let (xs, ts) = (x.storage(), t.storage());
        let ws = w.as_ref().map(|w| w.storage());
        class_loss_forward(&xs, &ts, ws.as_deref(), &spec)?
    };
    let (m, c) = (spec.rows, spec.classes);
    let shape: &[usize] = if spec.reduction == LossReduction::None {
        &[m]
    } else {
        &[]
    };
    let aux = Tensor::from_contiguous(aux, &[m + 2]);
    let (x2, xsaved) = (x.detach(), x.saved());
    Ok(Tensor::from_op(
        out,
        shape,
        "cross_entropy",
        &[&x],
        &[&x],
        move |g| {
            let g = g.contiguous()?;
            let backward = |g: &Tensor, spec: &ClassLossSpec| -> Result<Tensor> {
                let (xs, ts, ax, gs) = (x2.storage(), t.storage(), aux.storage(), g.storage());
                let ws = w.as_ref().map(|w| w.storage());
                let gx = class_loss_backward(&xs, &ts, ws.as_deref(), &ax, &gs, spec)?;
                Ok(Tensor::from_contiguous(gx, &[m, c]))
            };
            if !crate::autograd::is_creating_graph() {
                return Ok(vec![Some(backward(&g, &spec)?)]);
            }
            // d loss / d log-probabilities per unit of output gradient: constant in the scores
            let unit = backward(
                &g.detach().ones_like()?,
                &ClassLossSpec {
                    logits: false,
                    ..spec
                },
            )?;
            let gx = if spec.logits {
                let p = xsaved.softmax_dim(1, false)?;
                unit.sub(&p.mul(&unit.sum(&[1], true)?)?)?
            } else {
                unit
            };
            let gcol = if spec.reduction == LossReduction::None {
                g.reshape(&[m, 1])?
            } else {
                g.reshape(&[1, 1])?
            };
            Ok(vec![Some(gx.mul(&gcol)?)])
        },
    ))
}
