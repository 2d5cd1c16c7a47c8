//! Everyday tensor ops composed from differentiable primitives: triangular masks, dot / outer,
//! NaN tests, roll, diag, repeat_interleave, movedim, amax / amin, multinomial, and the
//! rounding and special functions.

use crate::backend::{self, BinaryOp, ReduceOp, UnaryOp};
use crate::device::Device;
use crate::dtype::DType;
use crate::ensure;
use crate::error::{Error, Result};
use crate::shape::{norm_dim, norm_dims};
use crate::tensor::Tensor;

use super::check_device;

impl Tensor {
    /// The mask `col - row <= k` (lower) or `>= k` (upper) over the last two dims.
    fn tri_mask(&self, k: i64, lower: bool, op: &str) -> Result<Tensor> {
        if self.ndim() < 2 {
            return Err(Error::Shape(format!(
                "{op}: input tensor must have at least 2 dimensions, got shape {:?}",
                self.shape()
            )));
        }
        let (r, c) = (self.shape()[self.ndim() - 2], self.shape()[self.ndim() - 1]);
        let dev = self.device();
        let rows = Tensor::arange(0.0, r as f64, 1.0, DType::I64, dev)?.reshape(&[r, 1])?;
        let cols = Tensor::arange(0.0, c as f64, 1.0, DType::I64, dev)?.reshape(&[1, c])?;
        let diff = cols.sub(&rows)?;
        let kt = Tensor::full(&[], k as f64, DType::I64, dev)?;
        diff.binary(&kt, if lower { BinaryOp::Le } else { BinaryOp::Ge })
    }

    /// Lower triangle of the last two dims (`diagonal` shifts it up), zeros elsewhere.
    pub fn tril(&self, diagonal: i64) -> Result<Tensor> {
        let m = self.tri_mask(diagonal, true, "tril")?;
        Ok(Tensor::where_cond(&m, self, &self.scalar_like(0.0)?)?
            .label_grad_fn("TrilBackward0", &[self]))
    }

    /// Upper triangle of the last two dims (`diagonal` shifts it up), zeros elsewhere.
    pub fn triu(&self, diagonal: i64) -> Result<Tensor> {
        let m = self.tri_mask(diagonal, false, "triu")?;
        Ok(Tensor::where_cond(&m, self, &self.scalar_like(0.0)?)?
            .label_grad_fn("TriuBackward0", &[self]))
    }

    /// Inner product of two 1-D tensors of one length and dtype.
    pub fn dot(&self, other: &Tensor) -> Result<Tensor> {
        check_device("dot", self, other)?;
        if self.ndim() != 1 || other.ndim() != 1 {
            return Err(Error::Shape(format!(
                "dot: 1D tensors expected, but got {}D and {}D tensors (shapes {:?} and {:?})",
                self.ndim(),
                other.ndim(),
                self.shape(),
                other.shape()
            )));
        }
        ensure!(
            self.shape() == other.shape(),
            Shape,
            "dot: inconsistent tensor size, expected tensors of shapes {:?} and {:?} to have the same number of elements",
            self.shape(),
            other.shape()
        );
        ensure!(
            self.dtype() == other.dtype(),
            DType,
            "dot: expected both vectors to have same dtype, but found {} and {}",
            self.dtype(),
            other.dtype()
        );
        // a narrow integer product wraps to its dtype, as PyTorch's (sum alone would be int64)
        self.mul(other)?.sum_all()?.narrow_to(Some(self.dtype()))
    }

    /// Outer product of two 1-D tensors.
    pub fn outer(&self, other: &Tensor) -> Result<Tensor> {
        if self.ndim() != 1 || other.ndim() != 1 {
            return Err(Error::Shape(format!(
                "outer: expected 1-D tensors, got shapes {:?} and {:?}",
                self.shape(),
                other.shape()
            )));
        }
        self.reshape(&[self.numel(), 1])?
            .mul(&other.reshape(&[1, other.numel()])?)
    }

    /// A float test (`IsNan`, `IsInf`, `IsFinite`) as a bool tensor; integers are never NaN/inf.
    pub fn float_test(&self, op: UnaryOp) -> Result<Tensor> {
        if !self.dtype().is_float() {
            let v = if op == UnaryOp::IsFinite { 1.0 } else { 0.0 };
            return Tensor::full(self.shape(), v, DType::Bool, self.device());
        }
        let s = backend::unary(op, &self.storage(), self.layout())?;
        Tensor::from_contiguous(s, self.shape()).ne_scalar(0.0)
    }

    /// NaN, +inf and -inf replaced by `nan`, `posinf` and `neginf` (default: 0 and the dtype's
    /// largest and lowest finite values).
    pub fn nan_to_num(&self, nan: f64, posinf: Option<f64>, neginf: Option<f64>) -> Result<Tensor> {
        if !self.dtype().is_float() {
            return Ok(self.clone());
        }
        let big = if self.dtype() == DType::F64 {
            f64::MAX
        } else {
            f32::MAX as f64
        };
        let pos = posinf.unwrap_or(big);
        let neg = neginf.unwrap_or(-big);
        let is_nan = self.float_test(UnaryOp::IsNan)?;
        let is_inf = self.float_test(UnaryOp::IsInf)?;
        let positive = self.binary(&self.scalar_like(0.0)?, BinaryOp::Gt)?;
        let is_pos = is_inf.binary(&positive, BinaryOp::And)?;
        let is_neg = is_inf.binary(&is_pos.unary(UnaryOp::Not)?, BinaryOp::And)?;
        let r = Tensor::where_cond(&is_nan, &self.scalar_like(nan)?, self)?;
        let r = Tensor::where_cond(&is_pos, &self.scalar_like(pos)?, &r)?;
        Tensor::where_cond(&is_neg, &self.scalar_like(neg)?, &r)
    }

    /// Rolls elements along `dims` by `shifts` (the flattened tensor when `dims` is empty).
    pub fn roll(&self, shifts: &[i64], dims: &[isize]) -> Result<Tensor> {
        if dims.is_empty() {
            ensure!(
                shifts.len() == 1,
                Shape,
                "roll: expected one shift without dims, got {shifts:?}"
            );
            let flat = self.reshape(&[self.numel()])?;
            return flat.roll(shifts, &[0])?.reshape(self.shape());
        }
        ensure!(
            shifts.len() == dims.len(),
            Shape,
            "roll: shifts and dimensions must align, got shifts={shifts:?} and dims={dims:?}"
        );
        let mut out = self.clone();
        let mut moved = false;
        ensure!(
            self.ndim() > 0,
            Index,
            "roll: dimension {} specified, but the tensor has no dimensions",
            dims[0]
        );
        for (&s, &dim) in shifts.iter().zip(dims) {
            let d = norm_dim(dim, self.ndim(), "roll")?;
            let n = self.shape()[d];
            if n == 0 {
                continue;
            }
            let s = s.rem_euclid(n as i64) as usize;
            if s == 0 {
                continue;
            }
            let di = d as isize;
            out = Tensor::cat(&[out.narrow(di, n - s, s)?, out.narrow(di, 0, n - s)?], di)?;
            moved = true;
        }
        // a copy even when nothing moved, as PyTorch's roll
        if moved {
            Ok(out)
        } else {
            self.deep_clone()
        }
    }

    /// 1-D input: a square matrix with it on diagonal `k`; 2-D input: diagonal `k` as 1-D.
    pub fn diag(&self, k: i64) -> Result<Tensor> {
        let dev = self.device();
        match self.ndim() {
            1 => {
                let n = self.numel();
                let a = k.unsigned_abs() as usize;
                // the (n + |k|)² output is checked before any intermediate is made
                let m = n.checked_add(a).ok_or_else(|| {
                    Error::Memory(format!("diag: offset {k} makes the output size overflow"))
                })?;
                backend::reserve(
                    backend::checked_count(&[m, m], "diag")?,
                    self.dtype(),
                    dev,
                    "diag",
                )?;
                let pad = Tensor::zeros(&[a], self.dtype(), dev)?;
                let v = Tensor::cat(&[self.clone(), pad], 0)?;
                // k >= 0: out[i][i+k] = v[i] (by row); k < 0: out[j-k][j] = v[j] (by column)
                let v = if k >= 0 {
                    v.reshape(&[m, 1])?
                } else {
                    v.reshape(&[1, m])?
                };
                let z = Tensor::zeros(&[m, m], self.dtype(), dev)?;
                let mask = z
                    .tri_mask(k, true, "diag")?
                    .binary(&z.tri_mask(k, false, "diag")?, BinaryOp::And)?;
                Tensor::where_cond(&mask, &v, &z)
            }
            2 => {
                let (r, c) = (self.shape()[0] as i64, self.shape()[1] as i64);
                let (r0, c0) = if k >= 0 { (0, k) } else { (-k, 0) };
                let len = (r - r0).min(c - c0).max(0) as usize;
                let flat: Vec<i64> = (0..len as i64).map(|i| (r0 + i) * c + c0 + i).collect();
                let idx = Tensor::from_i64(flat, &[len])?.to_device(dev)?;
                self.reshape(&[self.numel()])?.index_select(0, &idx)
            }
            _ => Err(Error::Shape(format!(
                "diag: expected a 1-D or 2-D tensor, got shape {:?}",
                self.shape()
            ))),
        }
    }

    /// Each element repeated `repeats` times along `dim` (of the flattened tensor when None).
    pub fn repeat_interleave(&self, repeats: &[i64], dim: Option<isize>) -> Result<Tensor> {
        let (x, d) = match dim {
            Some(dim) => {
                let x = if self.ndim() == 0 {
                    self.reshape(&[1])?
                } else {
                    self.clone()
                };
                let d = norm_dim(dim, x.ndim(), "repeat_interleave")?;
                (x, d)
            }
            None => (self.reshape(&[self.numel()])?, 0),
        };
        let n = x.shape()[d];
        if repeats.iter().any(|&r| r < 0) {
            return Err(Error::Value(format!(
                "repeat_interleave: repeats can not be negative, got {repeats:?}"
            )));
        }
        // the per-element count list is n long: checked first, as the output is below
        backend::reserve(
            n,
            DType::I64,
            crate::device::Device::Cpu,
            "repeat_interleave",
        )?;
        let counts: Vec<i64> = if repeats.len() == 1 {
            vec![repeats[0]; n]
        } else if repeats.len() == n {
            repeats.to_vec()
        } else {
            return Err(Error::Shape(format!(
                "repeat_interleave: repeats must have the same size as input along dim {d}: {} vs {n}",
                repeats.len()
            )));
        };
        // the output length, checked before any index list is built (a huge repeat is a
        // MemoryError, not an abort)
        let total = counts
            .iter()
            .try_fold(0usize, |a, &c| a.checked_add(c as usize))
            .ok_or_else(|| Error::Memory("repeat_interleave: the output size overflows".into()))?;
        backend::reserve(
            total,
            DType::I64,
            crate::device::Device::Cpu,
            "repeat_interleave",
        )?;
        let rest = x.numel().checked_div(n).unwrap_or(0);
        backend::reserve(
            total.saturating_mul(rest),
            x.dtype(),
            x.device(),
            "repeat_interleave",
        )?;
        let idx: Vec<i64> = counts
            .iter()
            .enumerate()
            .flat_map(|(i, &c)| std::iter::repeat_n(i as i64, c as usize))
            .collect();
        let len = idx.len();
        let it = Tensor::from_i64(idx, &[len])?.to_device(x.device())?;
        x.index_select(d as isize, &it)
    }

    /// Moves dims `src` to positions `dst` (the others keep their order).
    pub fn movedim(&self, src: &[isize], dst: &[isize]) -> Result<Tensor> {
        ensure!(
            src.len() == dst.len(),
            Shape,
            "movedim: invalid source or destination dims: source ({src:?}) and destination ({dst:?}) must have the same number of elements"
        );
        let nd = self.ndim();
        let s: Vec<usize> = src
            .iter()
            .map(|&d| norm_dim(d, nd, "movedim"))
            .collect::<Result<_>>()?;
        let t: Vec<usize> = dst
            .iter()
            .map(|&d| norm_dim(d, nd, "movedim"))
            .collect::<Result<_>>()?;
        let uniq = |v: &[usize]| {
            let mut w = v.to_vec();
            w.sort_unstable();
            w.dedup();
            w.len() == v.len()
        };
        if !uniq(&s) || !uniq(&t) {
            return Err(Error::Value(format!(
                "movedim: repeated dim in source ({src:?}) or destination ({dst:?})"
            )));
        }
        if nd == 0 {
            // a 0-d tensor's identity view, with a node of its own
            return self.permute(&[]);
        }
        let mut perm: Vec<Option<usize>> = vec![None; nd];
        for (&a, &b) in s.iter().zip(&t) {
            perm[b] = Some(a);
        }
        let mut rest = (0..nd).filter(|d| !s.contains(d));
        let perm: Vec<isize> = perm
            .into_iter()
            .map(|p| p.or_else(|| rest.next()).unwrap_or(0) as isize)
            .collect();
        self.permute(&perm)
    }

    /// Max (or min) over `dims` (all when empty); the gradient is shared evenly among ties.
    pub fn amax_amin(&self, dims: &[isize], keepdim: bool, is_max: bool) -> Result<Tensor> {
        let op = if is_max { "amax" } else { "amin" };
        let d = norm_dims(dims, self.ndim(), op)?;
        if d.iter().any(|&i| self.shape()[i] == 0) {
            return Err(Error::Index(format!(
                "{op}: expected reduction dims {d:?} to be non-empty in shape {:?}",
                self.shape()
            )));
        }
        let x = if self.dtype() == DType::Bool {
            self.to_dtype(DType::I64)?
        } else {
            self.clone()
        };
        let rop = if is_max { ReduceOp::Max } else { ReduceOp::Min };
        let keep: Vec<usize> = x
            .shape()
            .iter()
            .enumerate()
            .map(|(i, &s)| if d.contains(&i) { 1 } else { s })
            .collect();
        let out_shape: Vec<usize> = x
            .shape()
            .iter()
            .enumerate()
            .filter(|(i, _)| keepdim || !d.contains(i))
            .map(|(i, &s)| if d.contains(&i) { 1 } else { s })
            .collect();
        let s = if d.is_empty() {
            backend::copy(&x.storage(), x.layout())?
        } else {
            backend::reduce(rop, &x.storage(), x.layout(), &d)?
        };
        let out = Tensor::from_contiguous(s, &out_shape).tagged(self.dtype());
        let out = if self.dtype() == DType::Bool {
            out.to_dtype(DType::Bool)?
        } else {
            out
        };
        if !out.dtype().is_float() {
            return Ok(out);
        }
        let (xd, y) = (x.detach(), out.detach());
        let dims_i: Vec<isize> = d.iter().map(|&i| i as isize).collect();
        Ok(out.with_rule(op, &[&x], &[&x, &y.clone()], move |g| {
            let yk = y.reshape(&keep)?;
            let mask = xd.binary(&yk, BinaryOp::Eq)?.to_dtype(xd.dtype())?;
            let count = mask.sum(&dims_i, true)?;
            Ok(vec![Some(mask.mul(&g.reshape(&keep)?.div(&count)?)?)])
        }))
    }

    /// `log(x) / ln(base)`.
    pub fn log_base(&self, base: f64) -> Result<Tensor> {
        self.log()?.mul_scalar(1.0 / base.ln())
    }

    /// Rounding (round half to even, ceil, trunc); integer tensors are returned as they are.
    pub fn rounding(&self, op: UnaryOp) -> Result<Tensor> {
        if !self.dtype().is_float() {
            return Ok(self.clone());
        }
        self.unary(op)
    }

    /// Rounds to `decimals` decimal places (half to even).
    pub fn round_decimals(&self, decimals: i64) -> Result<Tensor> {
        if decimals == 0 || !self.dtype().is_float() {
            return self.rounding(UnaryOp::Round);
        }
        // as PyTorch: scaled by 10^|decimals| and back by the inverse operation (dividing by
        // 1e5 is exact where multiplying by the rounded 1e-5 is not)
        let s = 10f64.powi(decimals.unsigned_abs().min(400) as i32);
        if decimals > 0 {
            self.mul_scalar(s)?.unary(UnaryOp::Round)?.div_scalar(s)
        } else {
            self.div_scalar(s)?.unary(UnaryOp::Round)?.mul_scalar(s)
        }
    }

    /// `num_samples` category indices per row of the (unnormalised) probabilities, from the
    /// seeded generator; without replacement by the exponential race (PyTorch's algorithm).
    pub fn multinomial(&self, num_samples: usize, replacement: bool) -> Result<Tensor> {
        let op = "multinomial";
        if self.ndim() == 0 || self.ndim() > 2 {
            return Err(Error::Shape(format!(
                "{op}: prob_dist must be 1 or 2 dim, got shape {:?}",
                self.shape()
            )));
        }
        if !self.dtype().is_float() {
            return Err(Error::DType(format!(
                "{op}: only floating point probabilities are supported, got {}",
                self.dtype()
            )));
        }
        let p = if self.ndim() == 1 {
            self.reshape(&[1, self.numel()])?
        } else {
            self.detach()
        };
        let (rows, n) = (p.shape()[0], p.shape()[1]);
        if n == 0 {
            return Err(Error::Value(format!(
                "{op}: number of categories cannot be zero (shape {:?})",
                self.shape()
            )));
        }
        if !replacement && num_samples > n {
            return Err(Error::Value(format!(
                "{op}: cannot sample n_sample > prob_dist.size(-1) samples without replacement ({num_samples} > {n})"
            )));
        }
        let dev = p.device();
        // one host read validates every row: no negative, NaN or inf entry, positive sums
        if rows > 0 {
            let bad = p
                .binary(&p.scalar_like(0.0)?, BinaryOp::Lt)?
                .binary(
                    &p.float_test(UnaryOp::IsFinite)?.unary(UnaryOp::Not)?,
                    BinaryOp::Or,
                )?
                .to_dtype(DType::I64)?
                .sum_all()?
                .item()?;
            if bad > 0.0 {
                return Err(Error::Value(format!(
                    "{op}: probability tensor contains either inf, nan or element < 0 (shape {:?})",
                    self.shape()
                )));
            }
            let nonzero = p
                .binary(&p.scalar_like(0.0)?, BinaryOp::Gt)?
                .to_dtype(DType::I64)?
                .sum(&[1], false)?;
            let least = nonzero.max_min_all(false)?.item()?;
            if least == 0.0 {
                return Err(Error::Value(format!(
                    "{op}: invalid multinomial distribution (sum of probabilities <= 0), shape {:?}",
                    self.shape()
                )));
            }
        }
        if dev == Device::Cpu {
            let out = multinomial_cpu(&p, num_samples, replacement)?;
            return if self.ndim() == 1 {
                out.reshape(&[num_samples])
            } else {
                Ok(out)
            };
        }
        let pf = p.to_dtype(DType::F32)?;
        let out = if replacement {
            // inverse CDF: the index is the number of cumulative sums at or below u * total
            let cdf = pf.cumsum(1, None)?;
            let total = cdf.narrow(1, n - 1, 1)?;
            let u = Tensor::rand(&[rows, num_samples, 1], DType::F32, dev)?
                .mul(&total.reshape(&[rows, 1, 1])?)?;
            let le = cdf
                .reshape(&[rows, 1, n])?
                .binary(&u, BinaryOp::Le)?
                .to_dtype(DType::I64)?
                .sum(&[2], false)?;
            le.clamp(None, Some((n - 1) as f64))?
        } else {
            // exponential race: the k smallest of E_i / p_i. Zero-probability categories get an
            // infinite key (never 0/0), so they come only after every positive one, in index
            // order (the sort is stable): asked for more samples than a row has positive
            // categories, the rest are its zero-probability ones, as PyTorch since 2.x
            let e = Tensor::rand(&[rows, n], DType::F32, dev)?
                .unary(UnaryOp::RSubScalar(1.0))?
                .log()?
                .neg()?;
            let zero = pf.binary(&pf.scalar_like(0.0)?, BinaryOp::Le)?;
            let keys = Tensor::where_cond(
                &zero,
                &pf.scalar_like(f64::INFINITY)?.expand(&[rows, n])?,
                &e.div(&pf)?,
            )?;
            keys.argsort(1, false)?.narrow(1, 0, num_samples)?
        };
        if self.ndim() == 1 {
            out.reshape(&[num_samples])
        } else {
            out.contiguous()
        }
    }

    /// `log(1 + exp(x))` computed stably, with the exact derivative `sigmoid(x)` everywhere
    /// (a composition of abs and relu would give a wrong gradient at 0).
    pub fn softplus_exact(&self) -> Result<Tensor> {
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.to_dtype(DType::F32)?
        };
        let value = {
            let _g = crate::autograd::NoGradGuard::new();
            x.abs()?
                .neg()?
                .exp()?
                .unary(UnaryOp::Log1p)?
                .add(&x.relu()?)?
        };
        let out = value.detach();
        let xd = x.saved();
        Ok(out.with_rule("softplus", &[&x], &[&x], move |g| {
            Ok(vec![Some(g.mul(&xd.sigmoid()?)?)])
        }))
    }
}

/// PyTorch's CPU multinomial draw for draw, on validated `(rows, n)` probabilities: without
/// replacement (or for one sample) the exponential race `argmax`/`topk(p / q)` with `q ~ Exp(1)`
/// drawn in the probabilities' dtype; with replacement, per row its cumulative distribution
/// (in the probabilities' dtype, normalised, the last bucket set to 1) searched for one float64
/// uniform per sample.
fn multinomial_cpu(p: &Tensor, num_samples: usize, replacement: bool) -> Result<Tensor> {
    let (rows, n) = (p.shape()[0], p.shape()[1]);
    let total = rows.checked_mul(num_samples).ok_or_else(|| {
        Error::Memory(format!(
            "multinomial: {rows} rows of {num_samples} samples overflow the output size"
        ))
    })?;
    crate::backend::reserve(total, DType::I64, crate::device::Device::Cpu, "multinomial")?;
    let wide = p.dtype() == DType::F64;
    let round = |v: f64| if wide { v } else { v as f32 as f64 };
    let probs = p.to_f64_vec()?;
    if !replacement || num_samples == 1 {
        let q: Vec<f64> = crate::random::from_uniform_f64(rows * n, |u| -(1.0 - u).ln());
        let keys: Vec<f64> = probs
            .iter()
            .zip(&q)
            .map(|(&pv, &qv)| round(round(pv) / round(qv)))
            .collect();
        let mut out = Vec::with_capacity(rows * num_samples);
        for r in 0..rows {
            let row = &keys[r * n..(r + 1) * n];
            let mut idx: Vec<usize> = (0..n).collect();
            // largest first; NaN keys (0/0 cannot arise: q > 0) would sort last
            idx.sort_by(|&a, &b| {
                row[b]
                    .partial_cmp(&row[a])
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            out.extend(idx[..num_samples].iter().map(|&i| i as i64));
        }
        return Tensor::from_i64(out, &[rows, num_samples]);
    }
    let mut out = Vec::with_capacity(rows * num_samples);
    crate::random::with_cpu(|g| {
        let mut cum = vec![0f64; n];
        for r in 0..rows {
            let mut sum = 0f64;
            for j in 0..n {
                sum = round(sum + probs[r * n + j]);
                cum[j] = sum;
            }
            for c in cum.iter_mut() {
                *c = round(*c / sum);
            }
            cum[n - 1] = 1.0;
            for _ in 0..num_samples {
                let u = g.uniform_f64();
                let (mut lo, mut hi) = (0usize, n);
                while hi > lo {
                    let mid = lo + (hi - lo) / 2;
                    if cum[mid] < u {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                out.push(lo as i64);
            }
        }
    });
    Tensor::from_i64(out, &[rows, num_samples])
}
