//! Elementwise CPU kernels: unary maps, binary ops over broadcast views, and `where`.
//!
//! Each op is picked once outside its element loop, so every loop is one tight map that
//! [`super::map1`] / [`super::map2`] vectorise and split over threads above `PAR_MIN` elements.

use super::{map1, map2, IntoStorage};
use crate::backend::{BinaryOp, UnaryOp};
use crate::dtype::Float;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::CpuStorage;

/// Error function, correctly rounded to within an ulp in float64 (the `libm` crate).
#[inline]
pub fn erf(x: f64) -> f64 {
    libm::erf(x)
}

/// Inverse error function to float64 accuracy: a closed-form start (Winitzki's approximation,
/// within about 0.2% everywhere) refined by Halley steps on `erf(x) = y`, written near ±1 as
/// `erfc(x) = 1 - |y|` so the tails keep their relative accuracy.
/// Giles' single-precision approximation of erfinv ("Approximating the erfinv function",
/// GPU Computing Gems, 2011): at most ~2 ulp in float32 while `w = -ln((1-a)(1+a)) < 16`,
/// i.e. for every float32 input. Returns `None` outside that range.
#[inline]
fn erfinv_giles(a: f64) -> Option<f64> {
    let w = -((1.0 - a) * (1.0 + a)).ln();
    if w.is_nan() || w >= 16.0 {
        return None;
    }
    let p = if w < 5.0 {
        let w = w - 2.5;
        let mut p = 2.810_226_36e-08;
        for c in [
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ] {
            p = c + p * w;
        }
        p
    } else {
        let w = w.sqrt() - 3.0;
        let mut p = -0.000_200_214_257;
        for c in [
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ] {
            p = c + p * w;
        }
        p
    };
    Some(p * a)
}

/// One Halley step on erf(x) = a (on erfc(x) = 1 - a past 0.5, so the tail keeps its relative
/// accuracy); `None` when the derivative underflows.
#[inline]
fn erfinv_halley(x: f64, a: f64) -> Option<f64> {
    let f = if a < 0.5 {
        libm::erf(x) - a
    } else {
        (1.0 - a) - libm::erfc(x)
    };
    let d = std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp();
    if d == 0.0 {
        return None;
    }
    let r = f / d;
    Some(x - r / (1.0 + x * r))
}

/// Inverse error function in float64: Giles' start refined by one Halley step (< 1e-15
/// relative) while `1 - |y| > 1e-7`; past that, Winitzki's closed-form start and three steps.
pub fn erfinv(y: f64) -> f64 {
    let a = y.abs();
    if a.is_nan() || a > 1.0 {
        return f64::NAN;
    }
    if a == 1.0 || a == 0.0 {
        return y / (1.0 - a); // ±inf at ±1, ±0 at ±0
    }
    if let Some(x0) = erfinv_giles(a) {
        return erfinv_halley(x0, a).unwrap_or(x0).copysign(y);
    }
    const K: f64 = 0.147;
    let ln = ((1.0 - a) * (1.0 + a)).ln();
    let b = 2.0 / (std::f64::consts::PI * K) + 0.5 * ln;
    let mut x = ((b * b - ln / K).sqrt() - b).sqrt();
    for _ in 0..3 {
        match erfinv_halley(x, a) {
            Some(v) => x = v,
            None => break,
        }
    }
    x.copysign(y)
}

/// Inverse error function for float32 results: Giles' approximation alone (~2 ulp), which
/// covers every float32 input; the float64 path otherwise.
pub fn erfinv_f32(y: f64) -> f64 {
    let a = y.abs();
    if a.is_nan() || a >= 1.0 || a == 0.0 {
        return erfinv(y);
    }
    match erfinv_giles(a) {
        Some(x) => x.copysign(y),
        None => erfinv(y),
    }
}

#[inline(always)]
fn unary_f<T: Float>(op: UnaryOp, x: T) -> T {
    let f = T::from_f64;
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Rsqrt => T::ONE / x.sqrt(),
        UnaryOp::Sin => x.sin(),
        UnaryOp::Cos => x.cos(),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Sigmoid => T::ONE / (T::ONE + (-x).exp()),
        // NaN propagates, as PyTorch's relu (a diverging model must not be hidden)
        UnaryOp::Relu => {
            if x > T::ZERO || x.is_nan_() {
                x
            } else {
                T::ZERO
            }
        }
        UnaryOp::Gelu => {
            let v = x.to_f64();
            f(0.5 * v * (1.0 + erf(v * std::f64::consts::FRAC_1_SQRT_2)))
        }
        UnaryOp::GeluGrad => {
            let v = x.to_f64();
            let cdf = 0.5 * (1.0 + erf(v * std::f64::consts::FRAC_1_SQRT_2));
            let pdf = (-0.5 * v * v).exp() * 0.3989422804014327;
            f(cdf + v * pdf)
        }
        UnaryOp::Sign => {
            if x > T::ZERO {
                T::ONE
            } else if x < T::ZERO {
                -T::ONE
            } else {
                T::ZERO
            }
        }
        UnaryOp::Recip => T::ONE / x,
        UnaryOp::Square => x * x,
        UnaryOp::Floor => f(x.to_f64().floor()),
        UnaryOp::Step => {
            if x > T::ZERO {
                T::ONE
            } else {
                T::ZERO
            }
        }
        UnaryOp::AddScalar(c) => x + f(c),
        UnaryOp::MulScalar(c) => x * f(c),
        UnaryOp::RSubScalar(c) => f(c) - x,
        UnaryOp::RDivScalar(c) => f(c) / x,
        UnaryOp::PowScalar(p) => {
            if p == 2.0 {
                x * x
            } else if p == 1.0 {
                x
            } else if p == 0.5 {
                x.sqrt()
            } else if f(p).to_f64() != p {
                // an exponent the element type cannot hold exactly (1e-300 or 1.9999999999999991
                // in float32) is applied in float64, as PyTorch keeps a scalar exponent in double
                f(x.to_f64().powf(p))
            } else {
                x.powf(f(p))
            }
        }
        UnaryOp::RPowScalar(c) => f(c).powf(x),
        UnaryOp::Clamp(lo, hi) => x.max_(f(lo)).min_(f(hi)),
        // strictly inside: PyTorch's clamp passes no gradient at a bound itself
        UnaryOp::ClampMask(lo, hi) => {
            if x > f(lo) && x < f(hi) {
                T::ONE
            } else {
                T::ZERO
            }
        }
        UnaryOp::LeakyRelu(s) => {
            if x > T::ZERO {
                x
            } else {
                x * f(s)
            }
        }
        UnaryOp::LeakyReluGrad(s) => {
            if x > T::ZERO {
                T::ONE
            } else {
                f(s)
            }
        }
        // expm1, not exp − 1: exact near 0, where exp − 1 cancels (elu(-1e-8) is -1e-8, not 0)
        UnaryOp::Elu(a) => {
            if x > T::ZERO {
                x
            } else {
                f(a) * f(x.to_f64().exp_m1())
            }
        }
        // NaN takes the x > 0 branch (a gradient of 1), as PyTorch's `x <= 0 ? ... : 1`
        UnaryOp::EluGrad(a) => {
            if x <= T::ZERO {
                f(a) * x.exp()
            } else {
                T::ONE
            }
        }
        UnaryOp::Silu => x / (T::ONE + (-x).exp()),
        UnaryOp::SiluGrad => {
            let s = T::ONE / (T::ONE + (-x).exp());
            s * (T::ONE + x * (T::ONE - s))
        }
        UnaryOp::Log1p => f(x.to_f64().ln_1p()),
        UnaryOp::Round => f(x.to_f64().round_ties_even()),
        UnaryOp::Ceil => f(x.to_f64().ceil()),
        UnaryOp::Trunc => f(x.to_f64().trunc()),
        UnaryOp::Erf => f(erf(x.to_f64())),
        UnaryOp::Erfinv => f(if std::mem::size_of::<T>() <= 4 {
            erfinv_f32(x.to_f64())
        } else {
            erfinv(x.to_f64())
        }),
        UnaryOp::Expm1 => f(x.to_f64().exp_m1()),
        UnaryOp::IsNan => f(if x.to_f64().is_nan() { 1.0 } else { 0.0 }),
        UnaryOp::IsInf => f(if x.to_f64().is_infinite() { 1.0 } else { 0.0 }),
        UnaryOp::IsFinite => f(if x.to_f64().is_finite() { 1.0 } else { 0.0 }),
        UnaryOp::Not => {
            if x == T::ZERO {
                T::ONE
            } else {
                T::ZERO
            }
        }
    }
}

/// Picks the op once, outside the element loop, so each loop is a tight vectorisable map.
fn unary_typed<T: Float + Default>(op: UnaryOp, v: &[T], l: &Layout) -> Vec<T> {
    match op {
        UnaryOp::Relu => map1(v, l, |x| unary_f(UnaryOp::Relu, x)),
        UnaryOp::Neg => map1(v, l, |x| -x),
        UnaryOp::Exp => map1(v, l, |x| x.exp_fast()),
        UnaryOp::Tanh => map1(v, l, |x| x.tanh()),
        UnaryOp::Sigmoid => map1(v, l, |x| T::ONE / (T::ONE + (-x).exp_fast())),
        UnaryOp::Step => map1(v, l, |x| unary_f(UnaryOp::Step, x)),
        UnaryOp::Square => map1(v, l, |x| x * x),
        UnaryOp::Sqrt => map1(v, l, |x| x.sqrt()),
        UnaryOp::Rsqrt => map1(v, l, |x| T::ONE / x.sqrt()),
        UnaryOp::AddScalar(c) => {
            let c = T::from_f64(c);
            map1(v, l, move |x| x + c)
        }
        UnaryOp::MulScalar(c) => {
            let c = T::from_f64(c);
            map1(v, l, move |x| x * c)
        }
        UnaryOp::Abs => map1(v, l, |x| x.abs()),
        UnaryOp::LeakyRelu(s) => {
            let s = T::from_f64(s);
            map1(v, l, move |x| if x > T::ZERO { x } else { x * s })
        }
        UnaryOp::LeakyReluGrad(s) => {
            let s = T::from_f64(s);
            map1(v, l, move |x| if x > T::ZERO { T::ONE } else { s })
        }
        // float32: the normal cdf from a polynomial erfc (vectorises; within 1e-7 of the exact
        // cdf), float64 keeps libm's erf
        UnaryOp::Gelu if std::mem::size_of::<T>() == 4 => map1(v, l, |x| {
            let (cdf, _) = normal_cdf_pdf(x);
            x * cdf
        }),
        UnaryOp::GeluGrad if std::mem::size_of::<T>() == 4 => map1(v, l, |x| {
            let (cdf, pdf) = normal_cdf_pdf(x);
            cdf + x * pdf
        }),
        other => map1(v, l, move |x| unary_f(other, x)),
    }
}

/// The standard normal cdf Φ(x) and density φ(x), branch-free: `erfc` of `|x|/√2` from the
/// Abramowitz–Stegun 7.1.26 polynomial (absolute error below 1.5e-7), so each tail is
/// computed without cancellation. Accurate to float32, not float64.
#[inline(always)]
fn normal_cdf_pdf<T: Float>(x: T) -> (T, T) {
    let f = T::from_f64;
    let a = x.abs() * f(std::f64::consts::FRAC_1_SQRT_2);
    let t = T::ONE / (T::ONE + f(0.327_591_1) * a);
    let mut p = f(1.061_405_429);
    p = p * t + f(-1.453_152_027);
    p = p * t + f(1.421_413_741);
    p = p * t + f(-0.284_496_736);
    p = p * t + f(0.254_829_592);
    let e = (-(a * a)).exp_fast();
    let tail = f(0.5) * p * t * e; // Φ(-|x|)
    let cdf = if x < T::ZERO { tail } else { T::ONE - tail };
    let pdf = e * f(0.398_942_280_401_432_7);
    // NaN in, NaN out (the selects above would give 1 - NaN = NaN already; kept explicit)
    (if x.is_nan_() { x } else { cdf }, pdf)
}

fn unary_i(op: UnaryOp, x: i64) -> i64 {
    match op {
        UnaryOp::Neg => x.wrapping_neg(),
        UnaryOp::Abs => x.wrapping_abs(),
        UnaryOp::Sign => x.signum(),
        UnaryOp::Square => x.wrapping_mul(x),
        UnaryOp::Relu => x.max(0),
        UnaryOp::Clamp(lo, hi) => x.max(lo.ceil() as i64).min(hi.floor() as i64),
        UnaryOp::AddScalar(c) => x.wrapping_add(c as i64),
        UnaryOp::MulScalar(c) => x.wrapping_mul(c as i64),
        UnaryOp::RSubScalar(c) => (c as i64).wrapping_sub(x),
        _ => x,
    }
}

/// Unary elementwise op into a contiguous result.
pub fn unary(op: UnaryOp, x: &CpuStorage, l: &Layout) -> Result<CpuStorage> {
    Ok(match x {
        CpuStorage::F32(v) => CpuStorage::F32(unary_typed(op, v, l)),
        CpuStorage::F64(v) => CpuStorage::F64(unary_typed(op, v, l)),
        CpuStorage::I64(v) if op.is_integral_ok() => {
            CpuStorage::I64(map1(v, l, |x| unary_i(op, x)))
        }
        CpuStorage::Bool(v) if op == UnaryOp::Not => CpuStorage::Bool(map1(v, l, |x| !x)),
        other => {
            return Err(Error::DType(format!(
                "{op:?}: not supported for dtype {}",
                other.dtype()
            )));
        }
    })
}

macro_rules! float_binary {
    ($op:expr, $a:expr, $la:expr, $b:expr, $lb:expr, $T:ty) => {{
        let (a, la, b, lb) = ($a, $la, $b, $lb);
        match $op {
            BinaryOp::Add => IntoStorage::into_storage(map2(a, la, b, lb, |x: $T, y: $T| x + y)),
            BinaryOp::Sub => IntoStorage::into_storage(map2(a, la, b, lb, |x: $T, y: $T| x - y)),
            BinaryOp::Mul => IntoStorage::into_storage(map2(a, la, b, lb, |x: $T, y: $T| x * y)),
            BinaryOp::Div => IntoStorage::into_storage(map2(a, la, b, lb, |x: $T, y: $T| x / y)),
            BinaryOp::Pow => {
                IntoStorage::into_storage(map2(a, la, b, lb, |x: $T, y: $T| x.powf(y)))
            }
            BinaryOp::Maximum => {
                IntoStorage::into_storage(map2(a, la, b, lb, |x: $T, y: $T| Float::max_(x, y)))
            }
            BinaryOp::Minimum => {
                IntoStorage::into_storage(map2(a, la, b, lb, |x: $T, y: $T| Float::min_(x, y)))
            }
            BinaryOp::Eq => CpuStorage::Bool(map2(a, la, b, lb, |x: $T, y: $T| x == y)),
            BinaryOp::Ne => CpuStorage::Bool(map2(a, la, b, lb, |x: $T, y: $T| x != y)),
            BinaryOp::Lt => CpuStorage::Bool(map2(a, la, b, lb, |x: $T, y: $T| x < y)),
            BinaryOp::Le => CpuStorage::Bool(map2(a, la, b, lb, |x: $T, y: $T| x <= y)),
            BinaryOp::Gt => CpuStorage::Bool(map2(a, la, b, lb, |x: $T, y: $T| x > y)),
            BinaryOp::Ge => CpuStorage::Bool(map2(a, la, b, lb, |x: $T, y: $T| x >= y)),
            BinaryOp::And => {
                CpuStorage::Bool(map2(a, la, b, lb, |x: $T, y: $T| x != 0.0 && y != 0.0))
            }
            BinaryOp::Or => {
                CpuStorage::Bool(map2(a, la, b, lb, |x: $T, y: $T| x != 0.0 || y != 0.0))
            }
            BinaryOp::FloorDiv => {
                IntoStorage::into_storage(map2(a, la, b, lb, |x: $T, y: $T| floor_div_f(x, y)))
            }
            BinaryOp::Remainder => IntoStorage::into_storage(map2(a, la, b, lb, |x: $T, y: $T| {
                let m = x % y;
                if m != 0.0 && ((y < 0.0) != (m < 0.0)) {
                    m + y
                } else {
                    m
                }
            })),
            BinaryOp::Fmod => IntoStorage::into_storage(map2(a, la, b, lb, |x: $T, y: $T| x % y)),
            // 1 − y² rounded once, as PyTorch's fused kernel (float32: the square is exact in
            // float64; 1 − y·y in float32 loses digits where tanh saturates)
            BinaryOp::TanhGrad => IntoStorage::into_storage(map2(a, la, b, lb, |g: $T, y: $T| {
                let y = y as f64;
                let d = if std::mem::size_of::<$T>() == 4 {
                    1.0 - y * y
                } else {
                    (-y).mul_add(y, 1.0)
                };
                g * d as $T
            })),
            BinaryOp::SigmoidGrad => {
                IntoStorage::into_storage(map2(a, la, b, lb, |g: $T, y: $T| g * y * (1.0 - y)))
            }
            BinaryOp::ReluGrad => {
                IntoStorage::into_storage(map2(
                    a,
                    la,
                    b,
                    lb,
                    |g: $T, x: $T| {
                        if x <= 0.0 {
                            0.0
                        } else {
                            g
                        }
                    },
                ))
            }
        }
    }};
}

/// Python's float floor division: `(x - fmod(x, y)) / y` corrected to the floor, so that
/// `x == y * (x // y) + x % y` holds as closely as rounding allows.
fn floor_div_f<T: Float>(x: T, y: T) -> T {
    let (xf, yf) = (x.to_f64(), y.to_f64());
    if yf == 0.0 {
        return T::from_f64(xf / yf);
    }
    let m = xf % yf;
    let mut div = (xf - m) / yf;
    if m != 0.0 && ((yf < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div == 0.0 {
        return T::from_f64(0.0f64.copysign(xf / yf));
    }
    let mut fl = div.floor();
    if div - fl > 0.5 {
        fl += 1.0;
    }
    T::from_f64(fl)
}

/// Binary elementwise op over two broadcast views of one dtype.
pub fn binary(
    op: BinaryOp,
    a: &CpuStorage,
    la: &Layout,
    b: &CpuStorage,
    lb: &Layout,
) -> Result<CpuStorage> {
    Ok(match (a, b) {
        (CpuStorage::F32(a), CpuStorage::F32(b)) => float_binary!(op, a, la, b, lb, f32),
        (CpuStorage::F64(a), CpuStorage::F64(b)) => float_binary!(op, a, la, b, lb, f64),
        (CpuStorage::I64(a), CpuStorage::I64(b)) => match op {
            BinaryOp::Add => {
                CpuStorage::I64(map2(a, la, b, lb, |x: i64, y: i64| x.wrapping_add(y)))
            }
            BinaryOp::Sub => {
                CpuStorage::I64(map2(a, la, b, lb, |x: i64, y: i64| x.wrapping_sub(y)))
            }
            BinaryOp::Mul => {
                CpuStorage::I64(map2(a, la, b, lb, |x: i64, y: i64| x.wrapping_mul(y)))
            }
            BinaryOp::Div => {
                CpuStorage::I64(map2(
                    a,
                    la,
                    b,
                    lb,
                    |x: i64, y: i64| if y == 0 { 0 } else { x.div_euclid(y) },
                ))
            }
            BinaryOp::Pow => CpuStorage::I64(map2(a, la, b, lb, |x: i64, y: i64| {
                if y < 0 {
                    // an integer power with a negative exponent truncates, as PyTorch: 1 and
                    // -1 keep a unit value, every other base gives 0
                    match x {
                        1 => 1,
                        -1 => {
                            if y % 2 == 0 {
                                1
                            } else {
                                -1
                            }
                        }
                        _ => 0,
                    }
                } else {
                    wrapping_pow64(x, y as u64)
                }
            })),
            BinaryOp::Maximum => CpuStorage::I64(map2(a, la, b, lb, |x: i64, y: i64| x.max(y))),
            BinaryOp::Minimum => CpuStorage::I64(map2(a, la, b, lb, |x: i64, y: i64| x.min(y))),
            BinaryOp::Eq => CpuStorage::Bool(map2(a, la, b, lb, |x: i64, y: i64| x == y)),
            BinaryOp::Ne => CpuStorage::Bool(map2(a, la, b, lb, |x: i64, y: i64| x != y)),
            BinaryOp::Lt => CpuStorage::Bool(map2(a, la, b, lb, |x: i64, y: i64| x < y)),
            BinaryOp::Le => CpuStorage::Bool(map2(a, la, b, lb, |x: i64, y: i64| x <= y)),
            BinaryOp::Gt => CpuStorage::Bool(map2(a, la, b, lb, |x: i64, y: i64| x > y)),
            BinaryOp::Ge => CpuStorage::Bool(map2(a, la, b, lb, |x: i64, y: i64| x >= y)),
            BinaryOp::And => {
                CpuStorage::Bool(map2(a, la, b, lb, |x: i64, y: i64| x != 0 && y != 0))
            }
            BinaryOp::Or => CpuStorage::Bool(map2(a, la, b, lb, |x: i64, y: i64| x != 0 || y != 0)),
            BinaryOp::TanhGrad | BinaryOp::SigmoidGrad => {
                return Err(Error::DType(format!(
                    "{}: expected floating tensors",
                    op.name()
                )))
            }
            BinaryOp::ReluGrad => CpuStorage::I64(map2(
                a,
                la,
                b,
                lb,
                |g: i64, x: i64| if x <= 0 { 0 } else { g },
            )),
            BinaryOp::FloorDiv => CpuStorage::I64(map2(a, la, b, lb, |x: i64, y: i64| {
                if y == 0 {
                    return 0;
                }
                let q = x.wrapping_div(y);
                if x.wrapping_rem(y) != 0 && ((x < 0) != (y < 0)) {
                    q - 1
                } else {
                    q
                }
            })),
            BinaryOp::Remainder => CpuStorage::I64(map2(a, la, b, lb, |x: i64, y: i64| {
                if y == 0 {
                    return 0;
                }
                let r = x.wrapping_rem(y);
                if r != 0 && ((r < 0) != (y < 0)) {
                    r + y
                } else {
                    r
                }
            })),
            BinaryOp::Fmod => CpuStorage::I64(map2(a, la, b, lb, |x: i64, y: i64| {
                if y == 0 {
                    0
                } else {
                    x.wrapping_rem(y)
                }
            })),
        },
        (CpuStorage::Bool(a), CpuStorage::Bool(b)) => match op {
            BinaryOp::And | BinaryOp::Mul | BinaryOp::Minimum => {
                CpuStorage::Bool(map2(a, la, b, lb, |x, y| x && y))
            }
            BinaryOp::Or | BinaryOp::Add | BinaryOp::Maximum => {
                CpuStorage::Bool(map2(a, la, b, lb, |x, y| x || y))
            }
            BinaryOp::Eq => CpuStorage::Bool(map2(a, la, b, lb, |x, y| x == y)),
            BinaryOp::Ne => CpuStorage::Bool(map2(a, la, b, lb, |x, y| x != y)),
            BinaryOp::Lt => CpuStorage::Bool(map2(a, la, b, lb, |x, y| !x & y)),
            BinaryOp::Le => CpuStorage::Bool(map2(a, la, b, lb, |x, y| x <= y)),
            BinaryOp::Gt => CpuStorage::Bool(map2(a, la, b, lb, |x, y| x & !y)),
            BinaryOp::Ge => CpuStorage::Bool(map2(a, la, b, lb, |x, y| x >= y)),
            BinaryOp::Sub
            | BinaryOp::Div
            | BinaryOp::Pow
            | BinaryOp::ReluGrad
            | BinaryOp::TanhGrad
            | BinaryOp::SigmoidGrad
            | BinaryOp::FloorDiv
            | BinaryOp::Remainder
            | BinaryOp::Fmod => {
                return Err(Error::DType(format!(
                    "{}: not supported for bool tensors",
                    op.name()
                )))
            }
        },
        (a, b) => {
            return Err(Error::DType(format!(
                "{}: dtypes {} and {} differ (internal promotion missing)",
                op.name(),
                a.dtype(),
                b.dtype()
            )))
        }
    })
}

/// `c ? a : b` over three broadcast views.
pub fn where_(
    c: &CpuStorage,
    lc: &Layout,
    a: &CpuStorage,
    la: &Layout,
    b: &CpuStorage,
    lb: &Layout,
) -> Result<CpuStorage> {
    let CpuStorage::Bool(cv) = c else {
        return Err(Error::DType(format!(
            "where: condition must be bool, got {}",
            c.dtype()
        )));
    };
    let cond = map1(cv, lc, |x| x);
    let lcond = Layout::contiguous(&lc.shape);
    macro_rules! sel {
        ($a:expr, $b:expr, $T:ty) => {{
            let picked_a: Vec<($T, bool)> = map2($a, la, &cond, &lcond, |x, c| (x, c));
            let pl = Layout::contiguous(&la.shape);
            IntoStorage::into_storage(map2(
                &picked_a,
                &pl,
                $b,
                lb,
                |(x, c), y| if c { x } else { y },
            ))
        }};
    }
    Ok(match (a, b) {
        (CpuStorage::F32(a), CpuStorage::F32(b)) => sel!(a, b, f32),
        (CpuStorage::F64(a), CpuStorage::F64(b)) => sel!(a, b, f64),
        (CpuStorage::I64(a), CpuStorage::I64(b)) => sel!(a, b, i64),
        (CpuStorage::Bool(a), CpuStorage::Bool(b)) => sel!(a, b, bool),
        (a, b) => {
            return Err(Error::DType(format!(
                "where: dtypes {} and {} differ",
                a.dtype(),
                b.dtype()
            )))
        }
    })
}

/// `x` to the power `y` modulo 2^64 (what the integer power wraps to), for any 64-bit exponent:
/// squaring and multiplying over the exponent's bits.
fn wrapping_pow64(x: i64, mut y: u64) -> i64 {
    let (mut base, mut acc) = (x, 1i64);
    while y > 0 {
        if y & 1 == 1 {
            acc = acc.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        y >>= 1;
    }
    acc
}
