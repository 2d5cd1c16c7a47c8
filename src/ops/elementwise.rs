//! Elementwise ops with numpy broadcasting: arithmetic, comparisons, activations, where.

use crate::backend::{self, BinaryOp, UnaryOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::broadcast_shapes;
use crate::tensor::Tensor;

use super::check_device;

/// The dtype of an elementwise op on `a` and `b` under PyTorch's rule: the promotion of the two,
/// except that a 0-d tensor does not widen a dimensioned one of its category (float32 [n] with
/// float64 0-d stays float32, uint8 [n] with int64 0-d stays uint8).
pub(crate) fn pair_dtype(a: &Tensor, b: &Tensor) -> DType {
    let (da, db) = (a.dtype(), b.dtype());
    let same_kind = (da.is_float() && db.is_float()) || (da.is_int() && db.is_int());
    if same_kind && (a.ndim() == 0) != (b.ndim() == 0) {
        if a.ndim() == 0 {
            db
        } else {
            da
        }
    } else {
        DType::promote(da, db)
    }
}

/// The gradient rule of a unary op that only shifts or scales (`-x`, `x + c`, `c * x`, `c - x`),
/// which reads no tensor; `None` for every other op.
type LinearRule = Box<dyn Fn(&Tensor) -> Result<Tensor> + Send + Sync>;

fn shift_or_scale_rule(op: UnaryOp) -> Option<LinearRule> {
    match op {
        UnaryOp::Neg | UnaryOp::RSubScalar(_) => Some(Box::new(|g: &Tensor| g.neg())),
        UnaryOp::AddScalar(_) => Some(Box::new(|g: &Tensor| Ok(g.clone()))),
        UnaryOp::MulScalar(c) => Some(Box::new(move |g: &Tensor| g.mul_scalar(c))),
        _ => None,
    }
}

impl Tensor {
    /// Applies a unary op; integer inputs of float-only ops are promoted to float32.
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        if op == UnaryOp::Not {
            let x = if self.dtype() == DType::Bool {
                self.clone()
            } else {
                self.ne_scalar(0.0)?
            };
            let s = backend::unary(op, &x.storage(), x.layout())?;
            return Ok(Tensor::from_contiguous(s, x.shape()));
        }
        if self.dtype() == DType::Bool && op == UnaryOp::Neg {
            return Err(Error::DType(format!(
                "neg: negation (the - operator) of a bool tensor (shape {:?}) is not supported; use ~ or logical_not() to invert a mask",
                self.shape()
            )));
        }
        if !self.dtype().is_float() && !op.is_integral_ok() {
            return self.to_dtype(DType::default_float())?.unary(op);
        }
        if self.dtype() == DType::Bool {
            // as PyTorch: the sign of a mask is the mask (a bool copy), and abs has no bool kernel
            match op {
                UnaryOp::Sign => return self.deep_clone(),
                UnaryOp::Abs => {
                    return Err(Error::DType(format!(
                        "abs: not supported for bool tensors (shape {:?})",
                        self.shape()
                    )))
                }
                _ => return self.to_dtype(DType::I64)?.unary(op),
            }
        }
        let s = backend::unary(op, &self.storage(), self.layout())?;
        if !self.dtype().is_float() || !crate::autograd::needs_grad(&[self]) {
            return Tensor::from_contiguous(s, self.shape()).into_dtype(self.dtype());
        }
        if let Some(linear) = shift_or_scale_rule(op) {
            // the rule reads no tensor: nothing is kept alive for it
            let out = Tensor::from_contiguous(s, self.shape());
            return Ok(out.with_rule(op_name(op), &[self], &[], move |g| {
                Ok(vec![Some(linear(g)?)])
            }));
        }
        let x = self.saved();
        // rules that read the output instead of the input (ReLU too, as y > 0 ⇔ x > 0), so an
        // in-place version may overwrite the input
        let needs_out = matches!(
            op,
            UnaryOp::Exp
                | UnaryOp::Sqrt
                | UnaryOp::Tanh
                | UnaryOp::Sigmoid
                | UnaryOp::Rsqrt
                | UnaryOp::RPowScalar(_)
                | UnaryOp::Relu
                | UnaryOp::Expm1
                | UnaryOp::Erfinv
                | UnaryOp::Recip
        );
        let needs_in = !needs_out
            && !matches!(
                op,
                UnaryOp::Neg
                    | UnaryOp::AddScalar(_)
                    | UnaryOp::MulScalar(_)
                    | UnaryOp::RSubScalar(_)
            )
            && !op.is_piecewise_constant();
        let out = Tensor::from_contiguous(s, self.shape());
        let y = if needs_out {
            Some(out.saved_output())
        } else {
            None
        };
        let mut saved: Vec<&Tensor> = Vec::new();
        if needs_in {
            saved.push(self);
        }
        if let Some(y) = &y {
            saved.push(y);
        }
        let saved: Vec<Tensor> = saved.into_iter().cloned().collect();
        let rule = move |g: &Tensor| -> Result<Vec<Option<Tensor>>> {
            let y = || {
                y.as_ref()
                    .ok_or_else(|| Error::Runtime("missing saved output".into()))
            };
            let d = match op {
                UnaryOp::Neg => g.neg()?,
                UnaryOp::Abs => g.mul(&x.unary(UnaryOp::Sign)?)?,
                UnaryOp::Exp => g.mul(y()?)?,
                UnaryOp::Log => g.div(&x)?,
                UnaryOp::Sqrt => g.div(&y()?.mul_scalar(2.0)?)?,
                UnaryOp::Rsqrt => g.mul(&y()?.pow_scalar(3.0)?.mul_scalar(-0.5)?)?,
                UnaryOp::Sin => g.mul(&x.unary(UnaryOp::Cos)?)?,
                UnaryOp::Cos => g.mul(&x.unary(UnaryOp::Sin)?.neg()?)?,
                UnaryOp::Tanh => g.binary(y()?, BinaryOp::TanhGrad)?,
                UnaryOp::Sigmoid => g.binary(y()?, BinaryOp::SigmoidGrad)?,
                UnaryOp::Relu => g.binary(y()?, BinaryOp::ReluGrad)?,
                UnaryOp::Gelu => g.mul(&x.unary(UnaryOp::GeluGrad)?)?,
                // −g·y², from the output as PyTorch (the input may be changed in place since)
                UnaryOp::Recip => g.neg()?.mul(&y()?.unary(UnaryOp::Square)?)?,
                UnaryOp::Square => g.mul(&x.mul_scalar(2.0)?)?,
                UnaryOp::AddScalar(_) => g.clone(),
                UnaryOp::MulScalar(c) => g.mul_scalar(c)?,
                UnaryOp::RSubScalar(_) => g.neg()?,
                UnaryOp::RDivScalar(c) => {
                    g.mul(&x.unary(UnaryOp::Square)?.unary(UnaryOp::RDivScalar(-c))?)?
                }
                // x^0 is constant: a zero derivative also at x == 0 (not 0 · inf)
                UnaryOp::PowScalar(0.0) => g.zeros_like()?,
                UnaryOp::PowScalar(p) => g.mul(&x.pow_scalar(p - 1.0)?.mul_scalar(p)?)?,
                // 0^x: a zero derivative where x >= 0 (PyTorch masks 0 · log 0 there), -inf below
                UnaryOp::RPowScalar(0.0) => {
                    let neg = x.binary(&x.scalar_like(0.0)?, crate::backend::BinaryOp::Lt)?;
                    let zero = x.zeros_like()?;
                    g.mul(&Tensor::where_cond(
                        &neg,
                        &zero.add_scalar(f64::NEG_INFINITY)?,
                        &zero,
                    )?)?
                }
                UnaryOp::RPowScalar(c) => g.mul(&y()?.mul_scalar(c.ln())?)?,
                // selected, not multiplied by the mask: an infinite incoming gradient where
                // the value was clamped gives 0 (as PyTorch), not inf · 0 = NaN
                // A bound that is absent (infinite) is not checked, so x = ±inf passes where
                // only the other bound is given, as PyTorch's clamp_min / clamp_max backward.
                UnaryOp::Clamp(lo, hi) => {
                    let keep = match (lo == f64::NEG_INFINITY, hi == f64::INFINITY) {
                        (true, true) => x.binary(&x, BinaryOp::Eq)?,
                        (true, false) => x.binary(&x.scalar_like(hi)?, BinaryOp::Lt)?,
                        (false, true) => x.binary(&x.scalar_like(lo)?, BinaryOp::Gt)?,
                        (false, false) => x.unary(UnaryOp::ClampMask(lo, hi))?.ne_scalar(0.0)?,
                    };
                    Tensor::where_cond(&keep, g, &g.zeros_like()?)?
                }
                UnaryOp::LeakyRelu(s) => g.mul(&x.unary(UnaryOp::LeakyReluGrad(s))?)?,
                UnaryOp::Elu(a) => g.mul(&x.unary(UnaryOp::EluGrad(a))?)?,
                UnaryOp::Silu => g.mul(&x.unary(UnaryOp::SiluGrad)?)?,
                UnaryOp::Log1p => g.div(&x.add_scalar(1.0)?)?,
                // d/dx erf = 2/sqrt(pi) exp(-x^2)
                UnaryOp::Erf => g.mul(
                    &x.unary(UnaryOp::Square)?
                        .neg()?
                        .exp()?
                        .mul_scalar(std::f64::consts::FRAC_2_SQRT_PI)?,
                )?,
                UnaryOp::Expm1 => g.mul(&y()?.add_scalar(1.0)?)?,
                // d/dy erfinv = sqrt(pi)/2 exp(erfinv(y)^2)
                UnaryOp::Erfinv => g.mul(
                    &y()?
                        .unary(UnaryOp::Square)?
                        .exp()?
                        .mul_scalar(0.5 * std::f64::consts::PI.sqrt())?,
                )?,
                // the derivative helpers' own derivatives (for higher-order gradients):
                // gelu'' = φ(x)(2 − x²)
                UnaryOp::GeluGrad => g.mul(
                    &x.unary(UnaryOp::Square)?
                        .mul_scalar(-0.5)?
                        .exp()?
                        .mul_scalar(
                            0.5 * std::f64::consts::FRAC_2_SQRT_PI
                                * std::f64::consts::FRAC_1_SQRT_2,
                        )?
                        .mul(&x.unary(UnaryOp::Square)?.unary(UnaryOp::RSubScalar(2.0))?)?,
                )?,
                // silu'' = σ(1 − σ)(2 + x(1 − 2σ))
                UnaryOp::SiluGrad => {
                    let sg = x.sigmoid()?;
                    let ds = sg.mul(&sg.unary(UnaryOp::RSubScalar(1.0))?)?;
                    let inner = x
                        .mul(&sg.mul_scalar(-2.0)?.add_scalar(1.0)?)?
                        .add_scalar(2.0)?;
                    g.mul(&ds.mul(&inner)?)?
                }
                // elu'' = a·eˣ for x < 0, 0 from 0 on (and at NaN), as PyTorch's double backward
                UnaryOp::EluGrad(a) => {
                    let below = x.binary(&x.scalar_like(0.0)?, BinaryOp::Lt)?;
                    let curve = x.exp()?.mul_scalar(a)?;
                    g.mul(&Tensor::where_cond(&below, &curve, &curve.zeros_like()?)?)?
                }
                // piecewise-constant functions and derivative helpers
                op if op.is_piecewise_constant() => g.zeros_like()?,
                _ => return Err(Error::Runtime(format!("{}: no derivative", op_name(op)))),
            };
            Ok(vec![Some(d)])
        };
        let saved: Vec<&Tensor> = saved.iter().collect();
        Ok(out.with_rule(op_name(op), &[self], &saved, rule))
    }

    pub fn neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg)
    }
    pub fn abs(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Abs)
    }
    pub fn exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp)
    }
    pub fn log(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Log)
    }
    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt)
    }
    pub fn sin(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sin)
    }
    pub fn cos(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Cos)
    }
    pub fn tanh(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Tanh)
    }
    pub fn sigmoid(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sigmoid)
    }
    pub fn relu(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Relu)
    }
    pub fn gelu(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Gelu)
    }
    pub fn add_scalar(&self, c: f64) -> Result<Tensor> {
        self.unary(UnaryOp::AddScalar(c))
    }
    pub fn mul_scalar(&self, c: f64) -> Result<Tensor> {
        self.unary(UnaryOp::MulScalar(c))
    }
    /// `self / d` by a true division (a multiplication by `1/d` only where that reciprocal is
    /// exact, a power of two), so means of equal values come out equal to them.
    pub fn div_scalar(&self, d: f64) -> Result<Tensor> {
        if d.is_normal() && (1.0 / d).is_normal() && d.abs().log2().fract() == 0.0 {
            return self.mul_scalar(1.0 / d);
        }
        self.div(&self.scalar_like(d)?)
    }
    pub fn pow_scalar(&self, p: f64) -> Result<Tensor> {
        self.unary(UnaryOp::PowScalar(p))
    }
    /// Clamps into `[min, max]` (either bound may be absent).
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        let (lo, hi) = (
            min.unwrap_or(f64::NEG_INFINITY),
            max.unwrap_or(f64::INFINITY),
        );
        let out = self.unary(UnaryOp::Clamp(lo, hi))?;
        Ok(out.label_grad_fn("ClampBackward1", &[self]))
    }

    /// Promotes both operands to a common dtype (true division gives float).
    fn promote_pair(&self, other: &Tensor, op: BinaryOp) -> Result<(Tensor, Tensor)> {
        let mut dt = pair_dtype(self, other);
        if op == BinaryOp::Div && !dt.is_float() {
            dt = DType::default_float();
        }
        if matches!(
            op,
            BinaryOp::FloorDiv | BinaryOp::Remainder | BinaryOp::Fmod
        ) && dt == DType::Bool
        {
            dt = DType::I64;
        }
        if op == BinaryOp::Sub && (self.dtype() == DType::Bool || other.dtype() == DType::Bool) {
            return Err(bool_subtraction(self.shape(), other.shape()));
        }
        if op == BinaryOp::Pow && dt == DType::Bool {
            return Err(Error::DType(format!(
                "{}: not supported for bool tensors (shapes {:?} and {:?})",
                op.name(),
                self.shape(),
                other.shape()
            )));
        }
        Ok((self.to_dtype(dt)?, other.to_dtype(dt)?))
    }

    /// A binary op between tensors on two devices: allowed, as in PyTorch, only when one is a
    /// 0-dim CPU tensor (a scalar), which is then promoted and copied to the other's device
    /// (differentiably); any other mix is a device error.
    fn binary_with_cpu_scalar(&self, other: &Tensor, op: BinaryOp) -> Result<Tensor> {
        let cpu_scalar = |t: &Tensor| t.ndim() == 0 && !t.device().is_gpu();
        if !cpu_scalar(self) && !cpu_scalar(other) {
            check_device(op.name(), self, other)?;
        }
        // PyTorch's rule for a 0-dim operand: it keeps the other tensor's dtype unless it is of
        // a higher kind (bool < integer < float), and a float one then counts as float32.
        let kind = |d: DType| match d {
            DType::Bool => 0,
            DType::F32 | DType::F64 => 2,
            _ => 1,
        };
        let (scalar, t) = if cpu_scalar(self) {
            (self, other)
        } else {
            (other, self)
        };
        let dt = if kind(scalar.dtype()) <= kind(t.dtype()) {
            t.dtype()
        } else if scalar.dtype().is_float() {
            DType::default_float()
        } else {
            scalar.dtype()
        };
        let moved = scalar.to_dtype(dt)?.to_device(t.device())?;
        if cpu_scalar(self) {
            moved.binary(other, op)
        } else {
            self.binary(&moved, op)
        }
    }

    /// A binary op with broadcasting and promotion; comparisons give bool tensors.
    pub fn binary(&self, other: &Tensor, op: BinaryOp) -> Result<Tensor> {
        if self.device() != other.device() {
            return self.binary_with_cpu_scalar(other, op);
        }
        if op == BinaryOp::Pow && self.dtype() == DType::Bool && other.dtype() == DType::Bool {
            // bool ** bool stays bool, as PyTorch's: a ** b is a or not b
            return self.binary(&other.unary(UnaryOp::Not)?, BinaryOp::Or);
        }
        let (a, b) = self.promote_pair(other, op)?;
        let shape = broadcast_shapes(a.shape(), b.shape(), op.name())?;
        let la = a.layout().broadcast_to(&shape, op.name())?;
        let lb = b.layout().broadcast_to(&shape, op.name())?;
        let s = backend::binary(op, &a.storage(), &la, &b.storage(), &lb)?;
        // a narrow integer result wraps into its range (uint8 250 + 10 is 4)
        let out = Tensor::from_contiguous(s, &shape).into_dtype(a.dtype())?;
        if op.is_comparison()
            || matches!(op, BinaryOp::And | BinaryOp::Or)
            || !out.dtype().is_float()
            || !crate::autograd::needs_grad(&[&a, &b])
        {
            return Ok(out);
        }
        let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
        if matches!(op, BinaryOp::Add | BinaryOp::Sub) {
            // the rule reads no tensor, only the shapes to sum the gradient back to
            return Ok(out.with_rule(op.name(), &[&a, &b], &[], move |g| {
                let gb = if op == BinaryOp::Sub {
                    g.neg()?
                } else {
                    g.clone()
                };
                Ok(vec![Some(g.sum_to(&sa)?), Some(gb.sum_to(&sb)?)])
            }));
        }
        let (xa, xb) = (a.saved(), b.saved());
        let y = if op == BinaryOp::Pow {
            Some(out.saved_output())
        } else {
            None
        };
        let y_saved = y.clone();
        let (need_a, need_b) = (a.requires_grad(), b.requires_grad());
        let saved: Vec<&Tensor> = match op {
            BinaryOp::Add | BinaryOp::Sub => vec![],
            BinaryOp::Mul => [(need_a, &b), (need_b, &a)]
                .into_iter()
                .filter_map(|(n, t)| n.then_some(t))
                .collect(),
            BinaryOp::Div if !need_b => vec![&b],
            _ => vec![&a, &b],
        };
        let saved: Vec<Tensor> = saved.into_iter().cloned().collect();
        let rule = move |g: &Tensor| -> Result<Vec<Option<Tensor>>> {
            // only the products that feed an input needing a gradient
            if op == BinaryOp::Mul {
                let ga = if need_a {
                    Some(g.mul(&xb)?.sum_to(&sa)?)
                } else {
                    None
                };
                let gb = if need_b {
                    Some(g.mul(&xa)?.sum_to(&sb)?)
                } else {
                    None
                };
                return Ok(vec![ga, gb]);
            }
            let (ga, gb) = match op {
                BinaryOp::Add => (g.clone(), g.clone()),
                BinaryOp::Sub => (g.clone(), g.neg()?),
                BinaryOp::Mul => (g.mul(&xb)?, g.mul(&xa)?),
                // −g·((a / b) / b), as PyTorch: −g·a / b² overflows or underflows b² in float32
                // for |b| past 1e19 or under 1e-19 (a gradient of 0 or inf for a finite one)
                BinaryOp::Div => (g.div(&xb)?, g.neg()?.mul(&xa.div(&xb)?.div(&xb)?)?),
                BinaryOp::Pow => {
                    let y = y
                        .as_ref()
                        .ok_or_else(|| Error::Runtime("pow: missing saved output".into()))?;
                    let ga = g.mul(&xb)?.mul(&xa.pow(&xb.add_scalar(-1.0)?)?)?;
                    // a zero exponent has a zero derivative, also at a == 0 (not 0 · inf)
                    let ga = Tensor::where_cond(&xb.eq_scalar(0.0)?, &ga.zeros_like()?, &ga)?;
                    // d/db a^b = a^b ln a; zero where a == 0 and b >= 0 (the limit PyTorch also
                    // takes), -inf·sign where a == 0 and b < 0 (inf · ln 0, as PyTorch's)
                    let ln = xa.log()?;
                    let b_nonneg = xb.binary(&xb.scalar_like(0.0)?, BinaryOp::Ge)?;
                    let zero_base = xa.eq_scalar(0.0)?.binary(&b_nonneg, BinaryOp::And)?;
                    let safe = Tensor::where_cond(&zero_base, &xa.zeros_like()?, &ln)?;
                    (ga, g.mul(y)?.mul(&safe)?)
                }
                BinaryOp::Maximum | BinaryOp::Minimum => {
                    // PyTorch's rule: a tie splits the gradient evenly; a side gets nothing only
                    // where it strictly loses, so a NaN (which compares false) passes the full
                    // gradient to both sides
                    let (a_loses, b_loses) = if op == BinaryOp::Maximum {
                        (BinaryOp::Lt, BinaryOp::Gt)
                    } else {
                        (BinaryOp::Gt, BinaryOp::Lt)
                    };
                    let tie = xa.binary(&xb, BinaryOp::Eq)?;
                    let shared = Tensor::where_cond(&tie, &g.mul_scalar(0.5)?, g)?;
                    let z = g.zeros_like()?;
                    (
                        Tensor::where_cond(&xa.binary(&xb, a_loses)?, &z, &shared)?,
                        Tensor::where_cond(&xa.binary(&xb, b_loses)?, &z, &shared)?,
                    )
                }
                // a - b * floor(a / b) (or trunc): the quotient is piecewise constant
                BinaryOp::Remainder | BinaryOp::Fmod => {
                    let q = xa.div(&xb)?;
                    let q = if op == BinaryOp::Remainder {
                        q.unary(UnaryOp::Floor)?
                    } else {
                        q.unary(UnaryOp::Trunc)?
                    };
                    (g.clone(), g.neg()?.mul(&q)?)
                }
                BinaryOp::FloorDiv => (g.zeros_like()?, g.zeros_like()?),
                // the backward helpers' derivatives (higher-order gradients): a = incoming
                // gradient, b = the saved output y
                BinaryOp::TanhGrad => (
                    g.binary(&xb, BinaryOp::TanhGrad)?,
                    g.mul(&xa)?.mul(&xb)?.mul_scalar(-2.0)?,
                ),
                BinaryOp::SigmoidGrad => (
                    g.binary(&xb, BinaryOp::SigmoidGrad)?,
                    g.mul(&xa)?.mul(&xb.mul_scalar(-2.0)?.add_scalar(1.0)?)?,
                ),
                BinaryOp::ReluGrad => (g.binary(&xb, BinaryOp::ReluGrad)?, g.zeros_like()?),
                _ => return Err(Error::Runtime(format!("{}: no derivative", op.name()))),
            };
            Ok(vec![Some(ga.sum_to(&sa)?), Some(gb.sum_to(&sb)?)])
        };
        let mut saved: Vec<&Tensor> = saved.iter().collect();
        if let Some(y) = &y_saved {
            saved.push(y);
        }
        Ok(out.with_rule(op.name(), &[&a, &b], &saved, rule))
    }

    pub fn add(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, BinaryOp::Add)
    }
    pub fn sub(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, BinaryOp::Sub)
    }
    pub fn mul(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, BinaryOp::Mul)
    }
    pub fn div(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, BinaryOp::Div)
    }
    pub fn pow(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, BinaryOp::Pow)
    }
    pub fn maximum(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, BinaryOp::Maximum)
    }
    pub fn minimum(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(o, BinaryOp::Minimum)
    }

    /// A scalar as a 0-d tensor of this tensor's dtype and device.
    pub fn scalar_like(&self, v: f64) -> Result<Tensor> {
        Tensor::full(&[], v, self.dtype(), self.device())
    }

    pub fn eq_scalar(&self, v: f64) -> Result<Tensor> {
        self.binary(&self.scalar_like(v)?, BinaryOp::Eq)
    }
    pub fn ne_scalar(&self, v: f64) -> Result<Tensor> {
        self.binary(&self.scalar_like(v)?, BinaryOp::Ne)
    }

    /// Sums a broadcast gradient back to `shape` (the adjoint of broadcasting).
    pub fn sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let lead = self.ndim() - shape.len();
        let mut dims: Vec<isize> = (0..lead as isize).collect();
        for (i, &s) in shape.iter().enumerate() {
            if s == 1 && self.shape()[lead + i] != 1 {
                dims.push((lead + i) as isize);
            }
        }
        let summed = if dims.is_empty() {
            self.clone()
        } else {
            self.sum(&dims, true)?
        };
        summed.reshape(shape)
    }

    /// `cond ? a : b` with broadcasting over all three.
    pub fn where_cond(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        check_device("where", cond, a)?;
        check_device("where", a, b)?;
        let cond = if cond.dtype() == DType::Bool {
            cond.clone()
        } else {
            cond.ne_scalar(0.0)?
        };
        let dt = pair_dtype(a, b);
        let (a, b) = (a.to_dtype(dt)?, b.to_dtype(dt)?);
        let shape = broadcast_shapes(
            &broadcast_shapes(cond.shape(), a.shape(), "where")?,
            b.shape(),
            "where",
        )?;
        let lc = cond.layout().broadcast_to(&shape, "where")?;
        let la = a.layout().broadcast_to(&shape, "where")?;
        let lb = b.layout().broadcast_to(&shape, "where")?;
        let s = backend::where_(&cond.storage(), &lc, &a.storage(), &la, &b.storage(), &lb)?;
        let out = Tensor::from_contiguous(s, &shape).tagged(dt);
        if !crate::autograd::needs_grad(&[&a, &b]) {
            return Ok(out);
        }
        let (sa, sb, c) = (a.shape().to_vec(), b.shape().to_vec(), cond.detach());
        Ok(out.with_rule("where", &[&a, &b], &[&cond], move |g| {
            let z = g.zeros_like()?;
            Ok(vec![
                Some(Tensor::where_cond(&c, g, &z)?.sum_to(&sa)?),
                Some(Tensor::where_cond(&c, &z, g)?.sum_to(&sb)?),
            ])
        }))
    }
}

fn op_name(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "neg",
        UnaryOp::Abs => "abs",
        UnaryOp::Exp => "exp",
        UnaryOp::Log => "log",
        UnaryOp::Sqrt => "sqrt",
        UnaryOp::Rsqrt => "rsqrt",
        UnaryOp::Sin => "sin",
        UnaryOp::Cos => "cos",
        UnaryOp::Tanh => "tanh",
        UnaryOp::Sigmoid => "sigmoid",
        UnaryOp::Relu => "relu",
        UnaryOp::Gelu => "gelu",
        UnaryOp::Clamp(..) => "clamp",
        UnaryOp::LeakyRelu(_) => "leaky_relu",
        UnaryOp::Elu(_) => "elu",
        UnaryOp::Silu => "silu",
        UnaryOp::PowScalar(_) | UnaryOp::RPowScalar(_) => "pow",
        UnaryOp::AddScalar(_) => "add",
        UnaryOp::MulScalar(_) => "mul",
        UnaryOp::RSubScalar(_) => "sub",
        UnaryOp::RDivScalar(_) => "div",
        UnaryOp::Round => "round",
        UnaryOp::Ceil => "ceil",
        UnaryOp::Trunc => "trunc",
        UnaryOp::Erf => "erf",
        UnaryOp::Erfinv => "erfinv",
        UnaryOp::Expm1 => "expm1",
        _ => "elementwise",
    }
}

/// PyTorch refuses `-` with a bool tensor on either side (a mask is inverted with `~`).
pub(crate) fn bool_subtraction(a: &[usize], b: &[usize]) -> Error {
    Error::DType(format!(
        "sub: subtraction (the - operator) with a bool tensor is not supported (shapes {a:?} and {b:?}); to invert a mask use ~ or logical_not()"
    ))
}
