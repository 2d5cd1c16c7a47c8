//! The elementwise op vocabulary of the backend contract: which unary and binary maps a
//! backend computes, and their classification (piecewise constant, integer-safe, comparison).

/// Elementwise functions of one tensor (floating, except where noted).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UnaryOp {
    Neg,
    Abs,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Relu,
    /// exact (erf) GELU
    Gelu,
    /// derivative of exact GELU
    GeluGrad,
    Sign,
    Recip,
    Square,
    Floor,
    /// x > 0 ? 1 : 0
    Step,
    AddScalar(f64),
    MulScalar(f64),
    /// c - x
    RSubScalar(f64),
    /// c / x
    RDivScalar(f64),
    /// x ^ p
    PowScalar(f64),
    /// c ^ x
    RPowScalar(f64),
    Clamp(f64, f64),
    /// 1 where min <= x <= max else 0
    ClampMask(f64, f64),
    LeakyRelu(f64),
    /// 1 where x > 0 else slope
    LeakyReluGrad(f64),
    Elu(f64),
    /// derivative of ELU: 1 where x > 0 else alpha * exp(x)
    EluGrad(f64),
    Silu,
    SiluGrad,
    Log1p,
    /// logical not, bool in bool out
    Not,
    /// round half to even
    Round,
    Ceil,
    Trunc,
    Erf,
    /// inverse of erf on (-1, 1); ±inf at ±1, NaN outside
    Erfinv,
    /// exp(x) - 1, accurate near 0
    Expm1,
    /// 1 where x is NaN else 0 (float in, float out)
    IsNan,
    /// 1 where x is ±inf else 0
    IsInf,
    /// 1 where x is neither NaN nor ±inf else 0
    IsFinite,
}

impl UnaryOp {
    /// Piecewise-constant ops and derivative helpers: their gradient is zero almost everywhere.
    pub fn is_piecewise_constant(self) -> bool {
        matches!(
            self,
            UnaryOp::Sign
                | UnaryOp::Floor
                | UnaryOp::Step
                | UnaryOp::ClampMask(..)
                | UnaryOp::LeakyReluGrad(_)
                | UnaryOp::Not
                | UnaryOp::Round
                | UnaryOp::Ceil
                | UnaryOp::Trunc
                | UnaryOp::IsNan
                | UnaryOp::IsInf
                | UnaryOp::IsFinite
        )
    }

    /// Ops that also make sense on integer tensors, computed in integers.
    pub fn is_integral_ok(self) -> bool {
        matches!(
            self,
            UnaryOp::Neg
                | UnaryOp::Abs
                | UnaryOp::Sign
                | UnaryOp::Square
                | UnaryOp::Relu
                | UnaryOp::Clamp(..)
                | UnaryOp::AddScalar(_)
                | UnaryOp::MulScalar(_)
                | UnaryOp::RSubScalar(_)
        )
    }
}

/// Elementwise functions of two tensors of one dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    /// `a` where `b > 0`, else 0 (and `a` where `b` is NaN): ReLU's backward, `a` the output
    /// gradient and `b` the input, in one pass.
    ReluGrad,
    /// `a · (1 − b²)`: tanh's backward from the output gradient `a` and the output `b`.
    TanhGrad,
    /// `a · b · (1 − b)`: sigmoid's backward from the output gradient `a` and the output `b`.
    SigmoidGrad,
    /// floor(a / b) (Python's `//`); 0 for an integer division by zero
    FloorDiv,
    /// a - b * floor(a / b), the sign of `b` (Python's `%`)
    Remainder,
    /// a - b * trunc(a / b), the sign of `a` (C's fmod)
    Fmod,
}

impl BinaryOp {
    /// True for the ops whose result is a bool tensor.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
            BinaryOp::Eq => "eq",
            BinaryOp::Ne => "ne",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
            BinaryOp::And => "logical_and",
            BinaryOp::Or => "logical_or",
            BinaryOp::ReluGrad => "relu_backward",
            BinaryOp::TanhGrad => "tanh_backward",
            BinaryOp::SigmoidGrad => "sigmoid_backward",
            BinaryOp::FloorDiv => "floor_divide",
            BinaryOp::Remainder => "remainder",
            BinaryOp::Fmod => "fmod",
        }
    }
}
