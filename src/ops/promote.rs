//! Type promotion for a tensor with a Python-style scalar, and the everyday reductions and
//! activations the bindings used to compose themselves (`all`, `any`, `softplus`).
//!
//! The rules follow PyTorch: a scalar never widens a float tensor; an int (or bool) tensor with
//! a float scalar becomes float32; a bool tensor with an int scalar becomes int64 (except for the
//! bool-valued scalars 0 and 1 in comparisons); true division always gives a float.

use crate::backend::{BinaryOp, UnaryOp};
use crate::dtype::DType;
use crate::ensure;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The other side of an arithmetic op: a tensor, or a Python number.
#[derive(Clone)]
pub enum Operand {
    Tensor(Tensor),
    /// a number; `is_int` when it was an int (or bool) in Python
    Scalar {
        value: f64,
        is_int: bool,
    },
}

/// True when `1/v` is exactly representable and finite (`v` a normal power of two).
fn exact_reciprocal(v: f64) -> bool {
    v.is_normal() && (1.0 / v).is_normal() && v.abs().log2().fract() == 0.0
}

impl Tensor {
    /// A scalar as a 0-d tensor that takes part in an op with `self`: the tensor's dtype, except
    /// float32 for a float scalar with an integral tensor and int64 for an int other than 0/1
    /// with a bool tensor.
    pub fn scalar_operand(&self, v: f64, is_int: bool) -> Result<Tensor> {
        let dt = if self.dtype().is_float() {
            self.dtype()
        } else if is_int {
            if self.dtype() == DType::Bool && v != 0.0 && v != 1.0 {
                DType::I64
            } else {
                self.dtype()
            }
        } else {
            DType::default_float()
        };
        Tensor::full(&[], v, dt, self.device())
    }

    /// `self` promoted for an op with a scalar: an integral tensor with a float scalar goes to
    /// float32, a bool tensor to int64.
    pub fn promoted_for_scalar(&self, is_int: bool) -> Result<Tensor> {
        if !is_int && !self.dtype().is_float() {
            self.to_dtype(DType::default_float())
        } else if self.dtype() == DType::Bool {
            self.to_dtype(DType::I64)
        } else {
            Ok(self.clone())
        }
    }

    /// `self op o` (or `o op self` when `reflected`) with the scalar promotion rules; a scalar
    /// goes through a fused scalar kernel where one exists.
    pub fn arith(&self, o: &Operand, op: BinaryOp, reflected: bool) -> Result<Tensor> {
        let (v, is_int) = match o {
            Operand::Tensor(b) if reflected => return b.binary(self, op),
            Operand::Tensor(b) => return self.binary(b, op),
            &Operand::Scalar { value, is_int } => (value, is_int),
        };
        if op == BinaryOp::Sub && self.dtype() == DType::Bool {
            return Err(crate::ops::elementwise::bool_subtraction(self.shape(), &[]));
        }
        // as PyTorch: an integer (or bool) tensor to a negative Python int power has no integer
        // result (it was silently truncated to 0)
        if op == BinaryOp::Pow && !reflected && is_int && v < 0.0 && !self.dtype().is_float() {
            return Err(Error::Runtime(format!(
                "pow: Integers to negative integer powers are not allowed ({} tensor of shape {:?} to the power {v})",
                self.dtype(),
                self.shape()
            )));
        }
        let unary = match (op, reflected) {
            (BinaryOp::Add, _) => Some(UnaryOp::AddScalar(v)),
            (BinaryOp::Mul, _) => Some(UnaryOp::MulScalar(v)),
            (BinaryOp::Sub, false) => Some(UnaryOp::AddScalar(-v)),
            (BinaryOp::Sub, true) => Some(UnaryOp::RSubScalar(v)),
            // x / v as x · (1/v) only where 1/v is exact (a power of two): otherwise the
            // rounding, and NaN/inf results for tiny or infinite v, would differ from a division
            (BinaryOp::Div, false) if exact_reciprocal(v) => Some(UnaryOp::MulScalar(1.0 / v)),
            (BinaryOp::Div, true) => Some(UnaryOp::RDivScalar(v)),
            (BinaryOp::Pow, false) => Some(UnaryOp::PowScalar(v)),
            (BinaryOp::Pow, true) => Some(UnaryOp::RPowScalar(v)),
            _ => None,
        };
        let xs = self.promoted_for_scalar(is_int && op != BinaryOp::Div)?;
        let out = match unary {
            Some(u) if xs.dtype().is_float() || u.is_integral_ok() => xs.unary(u)?,
            _ if op == BinaryOp::Pow && is_int && self.dtype() == DType::Bool => {
                // a bool tensor to an int power (0 and 1 too) is int64, as PyTorch's
                let s = Tensor::full(&[], v, DType::I64, self.device())?;
                if reflected {
                    s.binary(&xs, op)?
                } else {
                    xs.binary(&s, op)?
                }
            }
            _ => {
                // true division is in floats: the int is not cast to a narrow dtype first
                let s = self.scalar_operand(v, is_int && op != BinaryOp::Div)?;
                if reflected {
                    s.binary(self, op)?
                } else {
                    self.binary(&s, op)?
                }
            }
        };
        // PyTorch's node names for a tensor with a Python number
        let label = match (op, reflected) {
            (BinaryOp::Sub, false) => "SubBackward0",
            (BinaryOp::Sub, true) => "RsubBackward1",
            (BinaryOp::Div, false) => "DivBackward0",
            (BinaryOp::Div, true) => "MulBackward0",
            (BinaryOp::Mul, _) => "MulBackward0",
            (BinaryOp::Add, _) => "AddBackward0",
            (BinaryOp::Pow, false) => "PowBackward0",
            (BinaryOp::Pow, true) => "PowBackward2",
            _ => return Ok(out),
        };
        Ok(out.label_grad_fn(label, &[self]))
    }

    /// A comparison or logical op with a tensor or scalar (the scalar takes `self`'s dtype).
    pub fn compare(&self, o: &Operand, op: BinaryOp) -> Result<Tensor> {
        match o {
            Operand::Tensor(b) => self.binary(b, op),
            &Operand::Scalar { value, is_int } => {
                self.binary(&self.scalar_operand(value, is_int)?, op)
            }
        }
    }

    /// Whether every element is non-zero, over all elements or along `dim` (a bool tensor).
    pub fn all(&self, dim: Option<isize>) -> Result<Tensor> {
        self.all_any(dim, false)
    }

    /// Whether any element is non-zero, over all elements or along `dim` (a bool tensor).
    pub fn any(&self, dim: Option<isize>) -> Result<Tensor> {
        self.all_any(dim, true)
    }

    fn all_any(&self, dim: Option<isize>, any: bool) -> Result<Tensor> {
        // over no elements: all() is true and any() is false (the identities), as PyTorch
        let empty_shape = match dim {
            None if self.numel() == 0 => Some(vec![]),
            Some(d) => {
                let dd = crate::shape::norm_dim(d, self.ndim(), if any { "any" } else { "all" })?;
                (self.shape().get(dd) == Some(&0)).then(|| {
                    let mut s = self.shape().to_vec();
                    s.remove(dd);
                    s
                })
            }
            None => None,
        };
        if let Some(shape) = empty_shape {
            let v = if any { 0.0 } else { 1.0 };
            return Tensor::full(&shape, v, DType::Bool, self.device());
        }
        let nz = self.ne_scalar(0.0)?.to_dtype(DType::I64)?;
        let r = match dim {
            None => nz.max_min_all(any)?,
            Some(d) => nz.max_min_dim(d, false, any)?.0,
        };
        r.to_dtype(DType::Bool)
    }

    /// `softplus(x) = log(1 + exp(beta x)) / beta`, and `x` itself where `beta x > threshold`
    /// (PyTorch's linear cut-off), with the exact derivative `sigmoid(beta x)`.
    /// The gradient is that formula itself (1 past the cut-off), so `beta = 0` gives PyTorch's
    /// finite gradient rather than `0 · ∞`.
    pub fn softplus(&self, beta: f64, threshold: f64) -> Result<Tensor> {
        let linear = move |x: &Tensor| -> Result<(Tensor, Tensor)> {
            let bx = x.mul_scalar(beta)?;
            let big = bx.binary(&bx.scalar_like(threshold)?, BinaryOp::Gt)?;
            Ok((bx, big))
        };
        let x = self.detach();
        let (bx, big) = linear(&x)?;
        let soft = bx.softplus_exact()?.mul_scalar(1.0 / beta)?;
        let out = Tensor::where_cond(&big, &x, &soft)?;
        let xs = self.saved();
        let out = out.with_rule("softplus", &[self], &[self], move |g| {
            let (bx, big) = linear(&xs)?;
            Ok(vec![Some(Tensor::where_cond(
                &big,
                g,
                &g.mul(&bx.sigmoid()?)?,
            )?)])
        });
        Ok(out.label_grad_fn("SoftplusBackward0", &[self]))
    }
}

impl Tensor {
    /// `self` converted to `dtype` when one is given (a reduction's `dtype=` argument).
    pub fn cast_opt(&self, dtype: Option<DType>) -> Result<Tensor> {
        match dtype {
            Some(d) => self.to_dtype(d),
            None => Ok(self.clone()),
        }
    }

    /// A reduction's or scan's result in its `dtype=` argument when that is a narrow integer
    /// or bool (the integer kernels give int64), as PyTorch's `sum(dtype=torch.int32)` is int32
    /// and `sum(dtype=torch.bool)` a logical or.
    pub fn narrow_to(&self, dtype: Option<DType>) -> Result<Tensor> {
        match dtype {
            Some(d) if (d.is_narrow() || d == DType::Bool) && self.dtype() != d => self.to_dtype(d),
            _ => Ok(self.clone()),
        }
    }
}

impl Tensor {
    /// `where(cond, a, b)` where either side may be a Python number: an int becomes int64, a
    /// float float32, and a 0-d side takes the other side's floating dtype (as PyTorch).
    pub fn where_operands(cond: &Tensor, a: &Operand, b: &Operand) -> Result<Tensor> {
        ensure!(
            cond.dtype() == DType::Bool,
            DType,
            "where: expected a bool condition, got {} of shape {:?}",
            cond.dtype(),
            cond.shape()
        );
        // a Python float takes the other operand's float dtype directly (0.01 next to a float64
        // tensor is the float64 0.01, not a float32 one widened), as PyTorch
        let float_of = |o: &Operand| match o {
            Operand::Tensor(t) if t.dtype().is_float() => Some(t.dtype()),
            _ => None,
        };
        let like = |o: &Operand, other: &Operand| match o {
            Operand::Tensor(t) => Ok(t.clone()),
            &Operand::Scalar { value, is_int } => {
                let dt = if is_int {
                    DType::I64
                } else {
                    float_of(other).unwrap_or(DType::default_float())
                };
                Tensor::full(&[], value, dt, cond.device())
            }
        };
        let (ta, tb) = (like(a, b)?, like(b, a)?);
        // a 0-d CPU tensor next to tensors on another device acts as a scalar there (copied,
        // differentiably), as in PyTorch; any other mix of devices stays an error
        let home = [cond, &ta, &tb]
            .into_iter()
            .find(|t| t.ndim() > 0 || t.device().is_gpu())
            .map(|t| t.device());
        let near = |t: Tensor| -> Result<Tensor> {
            match home {
                Some(d) if t.ndim() == 0 && !t.device().is_gpu() && d.is_gpu() => t.to_device(d),
                _ => Ok(t),
            }
        };
        let (cond, ta, tb) = (&near(cond.clone())?, near(ta)?, near(tb)?);
        let ta = if ta.ndim() == 0 && tb.ndim() > 0 && tb.dtype().is_float() {
            ta.to_dtype(tb.dtype())?
        } else {
            ta
        };
        let tb = if tb.ndim() == 0 && ta.ndim() > 0 && ta.dtype().is_float() {
            tb.to_dtype(ta.dtype())?
        } else {
            tb
        };
        Tensor::where_cond(cond, &ta, &tb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;

    fn ints(v: &[i64]) -> Tensor {
        Tensor::from_f32(v.iter().map(|&x| x as f32).collect(), &[v.len()])
            .and_then(|t| t.to_dtype(DType::I64))
            .unwrap()
    }

    fn scalar(value: f64, is_int: bool) -> Operand {
        Operand::Scalar { value, is_int }
    }

    #[test]
    fn scalar_promotion_follows_pytorch() -> Result<()> {
        let i = ints(&[1, 2, 3]);
        // int tensor with an int scalar stays int64, with a float scalar becomes float32
        assert_eq!(
            i.arith(&scalar(2.0, true), BinaryOp::Add, false)?.dtype(),
            DType::I64
        );
        assert_eq!(
            i.arith(&scalar(0.5, false), BinaryOp::Mul, false)?.dtype(),
            DType::F32
        );
        // true division always gives a float
        let q = i.arith(&scalar(2.0, true), BinaryOp::Div, false)?;
        assert_eq!(q.dtype(), DType::F32);
        assert_eq!(q.to_f64_vec()?, vec![0.5, 1.0, 1.5]);
        // a reflected op puts the scalar on the left
        assert_eq!(
            i.arith(&scalar(10.0, true), BinaryOp::Sub, true)?
                .to_i64_vec()?,
            vec![9, 8, 7]
        );
        // a bool tensor with an int other than 0/1 compares as int64
        let b = i.compare(&scalar(2.0, true), BinaryOp::Eq)?;
        assert_eq!(b.dtype(), DType::Bool);
        assert_eq!(b.scalar_operand(5.0, true)?.dtype(), DType::I64);
        assert_eq!(b.scalar_operand(1.0, true)?.dtype(), DType::Bool);
        Ok(())
    }

    #[test]
    fn division_by_a_non_power_of_two_is_a_real_division() -> Result<()> {
        let x = Tensor::from_f32(vec![1.0, 2.0], &[2])?;
        let q = x.arith(&scalar(3.0, false), BinaryOp::Div, false)?;
        assert_eq!(
            q.to_f64_vec()?,
            vec![(1.0f32 / 3.0) as f64, (2.0f32 / 3.0) as f64]
        );
        Ok(())
    }

    #[test]
    fn all_any_and_where_operands() -> Result<()> {
        let m = Tensor::from_f32(vec![1.0, 0.0, 2.0, 3.0], &[2, 2])?;
        assert_eq!(m.all(None)?.item()?, 0.0);
        assert_eq!(m.any(None)?.item()?, 1.0);
        assert_eq!(m.all(Some(1))?.to_f64_vec()?, vec![0.0, 1.0]);
        let cond = m.ne_scalar(0.0)?;
        let w = Tensor::where_operands(&cond, &Operand::Tensor(m.clone()), &scalar(-1.0, true))?;
        assert_eq!(w.dtype(), DType::F32);
        assert_eq!(w.to_f64_vec()?, vec![1.0, -1.0, 2.0, 3.0]);
        let e = Tensor::where_operands(&m, &scalar(1.0, true), &scalar(0.0, true));
        assert!(matches!(e, Err(crate::error::Error::DType(_))));
        Ok(())
    }

    #[test]
    fn softplus_is_linear_past_the_threshold() -> Result<()> {
        let x = Tensor::from_f32(vec![0.0, 30.0], &[2])?;
        let y = x.softplus(1.0, 20.0)?.to_f64_vec()?;
        assert!((y[0] - std::f64::consts::LN_2).abs() < 1e-6);
        assert_eq!(y[1], 30.0);
        let z = Tensor::zeros(&[0], DType::F32, Device::Cpu)?.softplus(2.0, 20.0)?;
        assert_eq!(z.shape(), &[0]);
        Ok(())
    }
}
