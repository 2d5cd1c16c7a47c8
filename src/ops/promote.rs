//! Type promotion for a tensor with a Python-style scalar, and the everyday reductions and
//! activations the bindings used to compose themselves (`all`, `any`, `softplus`).
//!
//! The rules follow PyTorch: a scalar never widens a float tensor; an int (or bool) tensor with
//! a float scalar becomes float32; a bool tensor with an int scalar becomes int64 (except for the
//! bool-valued scalars 0 and 1 in comparisons); true division always gives a float.

use crate::backend::{BinaryOp, UnaryOp};
use crate::dtype::DType;
use crate::error::Result;
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
            DType::F32
        };
        Tensor::full(&[], v, dt, self.device())
    }

    /// `self` promoted for an op with a scalar: an integral tensor with a float scalar goes to
    /// float32, a bool tensor to int64.
    pub fn promoted_for_scalar(&self, is_int: bool) -> Result<Tensor> {
        if !is_int && !self.dtype().is_float() {
            self.to_dtype(DType::F32)
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
        match unary {
            Some(u) if xs.dtype().is_float() || u.is_integral_ok() => xs.unary(u),
            _ => {
                let s = self.scalar_operand(v, is_int)?;
                if reflected {
                    s.binary(self, op)
                } else {
                    self.binary(&s, op)
                }
            }
        }
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
        let nz = self.ne_scalar(0.0)?.to_dtype(DType::I64)?;
        let r = match dim {
            None => nz.max_min_all(any)?,
            Some(d) => nz.max_min_dim(d, false, any)?.0,
        };
        r.to_dtype(DType::Bool)
    }

    /// `softplus(x) = log(1 + exp(beta x)) / beta`, and `x` itself where `beta x > threshold`
    /// (PyTorch's linear cut-off), with the exact derivative `sigmoid(beta x)`.
    pub fn softplus(&self, beta: f64, threshold: f64) -> Result<Tensor> {
        let bx = self.mul_scalar(beta)?;
        let soft = bx.softplus_exact()?.mul_scalar(1.0 / beta)?;
        let big = bx.binary(&bx.scalar_like(threshold)?, BinaryOp::Gt)?;
        Tensor::where_cond(&big, self, &soft)
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
}

impl Tensor {
    /// `where(cond, a, b)` where either side may be a Python number: an int becomes int64, a
    /// float float32, and a 0-d side takes the other side's floating dtype (as PyTorch).
    pub fn where_operands(cond: &Tensor, a: &Operand, b: &Operand) -> Result<Tensor> {
        if cond.dtype() != DType::Bool {
            return Err(crate::error::Error::DType(format!(
                "where: expected a bool condition, got {} of shape {:?}",
                cond.dtype(),
                cond.shape()
            )));
        }
        let like = |o: &Operand| match o {
            Operand::Tensor(t) => Ok(t.clone()),
            &Operand::Scalar { value, is_int } => {
                let dt = if is_int { DType::I64 } else { DType::F32 };
                Tensor::full(&[], value, dt, cond.device())
            }
        };
        let (ta, tb) = (like(a)?, like(b)?);
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
