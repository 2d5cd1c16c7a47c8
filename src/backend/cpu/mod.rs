//! CPU kernels: strided elementwise maps, reductions, softmax, random fills and in-place writes.
//!
//! Work is split over the threads of [`pool`] only above [`PAR_MIN`] elements, so small tensors pay no
//! threading cost. Contiguous inputs take slice fast paths the compiler vectorises.

pub mod conv;
mod device;
pub mod index;
pub mod matmul;
pub mod optim;
pub mod pool;
pub mod scan;

pub use device::Cpu;
pub(crate) mod simd;

use super::{BinaryOp, RandKind, ReduceOp, UnaryOp};
use crate::dtype::{DType, Float};
use crate::error::{Error, Result};
use crate::shape::{for_each_row, Layout};
use crate::storage::CpuStorage;

/// Element count above which kernels use several threads.
pub const PAR_MIN: usize = 1 << 15;

/// Elements per parallel task of the dense elementwise loops.
const PAR_CHUNK: usize = 1 << 14;

/// Applies `$body` with `$v` bound to the typed vector of a storage.
#[macro_export]
macro_rules! with_cpu {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            $crate::storage::CpuStorage::F32($v) => $body,
            $crate::storage::CpuStorage::F64($v) => $body,
            $crate::storage::CpuStorage::I64($v) => $body,
            $crate::storage::CpuStorage::Bool($v) => $body,
        }
    };
}

/// Wraps a typed vector back into a storage.
pub trait IntoStorage: Sized {
    fn into_storage(v: Vec<Self>) -> CpuStorage;
}
impl IntoStorage for f32 {
    fn into_storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F32(v)
    }
}
impl IntoStorage for f64 {
    fn into_storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F64(v)
    }
}
impl IntoStorage for i64 {
    fn into_storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::I64(v)
    }
}
impl IntoStorage for bool {
    fn into_storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::Bool(v)
    }
}

/// The contiguous slice of a view when it is dense, else None.
pub fn dense<'a, T>(v: &'a [T], l: &Layout) -> Option<&'a [T]> {
    if l.is_contiguous() {
        Some(&v[l.offset..l.offset + l.numel()])
    } else {
        None
    }
}

/// The elements of a view in row-major order: borrowed when the view is one dense block, else
/// gathered into a new vector.
pub fn view_slice<'a, T: Copy + Send + Sync + Default>(
    v: &'a [T],
    l: &Layout,
) -> std::borrow::Cow<'a, [T]> {
    match dense(v, l) {
        Some(d) => std::borrow::Cow::Borrowed(d),
        None => std::borrow::Cow::Owned(gather_view(v, l)),
    }
}

/// Gathers a strided view into a new contiguous vector.
pub fn gather_view<T: Copy + Send + Sync + Default>(v: &[T], l: &Layout) -> Vec<T> {
    if let Some(d) = dense(v, l) {
        return d.to_vec();
    }
    map1(v, l, |x| x)
}

/// `f` over every element of a strided view, into a contiguous vector.
pub fn map1<A: Copy + Send + Sync, O: Copy + Send + Sync + Default>(
    a: &[A],
    la: &Layout,
    f: impl Fn(A) -> O + Sync + Send,
) -> Vec<O> {
    let n = la.numel();
    if let Some(d) = dense(a, la) {
        let mut out: Vec<O> = Vec::with_capacity(n);
        let buf = &mut out.spare_capacity_mut()[..n];
        if n >= PAR_MIN {
            pool::chunks_mut(buf, PAR_CHUNK, |ci, o| {
                let i0 = ci * PAR_CHUNK;
                simd::map1(o, &d[i0..i0 + o.len()], &f)
            });
        } else {
            simd::map1(buf, d, &f);
        }
        // SAFETY: `simd::map1` wrote all `n` elements (the chunks cover `buf`)
        unsafe { out.set_len(n) };
        return out;
    }
    let mut out = vec![O::default(); n];
    let inner = *la.shape.last().unwrap_or(&1);
    let is = *la.strides.last().unwrap_or(&0);
    let rows = n.checked_div(inner).unwrap_or(0);
    let work = |r0: usize, r1: usize, out: &mut [O]| {
        for_each_row(&la.shape, [&la.strides], [la.offset], r0, r1, |r, [oa]| {
            let o = &mut out[(r - r0) * inner..(r - r0 + 1) * inner];
            for (j, slot) in o.iter_mut().enumerate() {
                *slot = f(a[oa + j * is]);
            }
        })
    };
    par_rows(&mut out, rows, inner, work);
    out
}

/// `f` over paired elements of two strided views of one shape, into a contiguous vector.
pub fn map2<A: Copy + Send + Sync, B: Copy + Send + Sync, O: Copy + Send + Sync + Default>(
    a: &[A],
    la: &Layout,
    b: &[B],
    lb: &Layout,
    f: impl Fn(A, B) -> O + Sync + Send,
) -> Vec<O> {
    let n = la.numel();
    if let (Some(da), Some(db)) = (dense(a, la), dense(b, lb)) {
        let mut out: Vec<O> = Vec::with_capacity(n);
        let buf = &mut out.spare_capacity_mut()[..n];
        if n >= PAR_MIN {
            pool::chunks_mut(buf, PAR_CHUNK, |ci, o| {
                let i0 = ci * PAR_CHUNK;
                let i1 = i0 + o.len();
                simd::map2(o, &da[i0..i1], &db[i0..i1], &f)
            });
        } else {
            simd::map2(buf, da, db, &f);
        }
        // SAFETY: `simd::map2` wrote all `n` elements (the chunks cover `buf`)
        unsafe { out.set_len(n) };
        return out;
    }
    let mut out = vec![O::default(); n];
    let inner = *la.shape.last().unwrap_or(&1);
    let (ia, ib) = (
        *la.strides.last().unwrap_or(&0),
        *lb.strides.last().unwrap_or(&0),
    );
    let rows = n.checked_div(inner).unwrap_or(0);
    let work = |r0: usize, r1: usize, out: &mut [O]| {
        for_each_row(
            &la.shape,
            [&la.strides, &lb.strides],
            [la.offset, lb.offset],
            r0,
            r1,
            |r, [oa, ob]| {
                let o = &mut out[(r - r0) * inner..(r - r0 + 1) * inner];
                if ib == 0 {
                    let y = b[ob];
                    for (j, slot) in o.iter_mut().enumerate() {
                        *slot = f(a[oa + j * ia], y);
                    }
                } else if ia == 1 && ib == 1 {
                    for (j, slot) in o.iter_mut().enumerate() {
                        *slot = f(a[oa + j], b[ob + j]);
                    }
                } else {
                    for (j, slot) in o.iter_mut().enumerate() {
                        *slot = f(a[oa + j * ia], b[ob + j * ib]);
                    }
                }
            },
        )
    };
    par_rows(&mut out, rows, inner, work);
    out
}

/// Runs `work(r0, r1, out_rows)` over row ranges, in parallel when the output is large.
fn par_rows<O: Send>(
    out: &mut [O],
    rows: usize,
    inner: usize,
    work: impl Fn(usize, usize, &mut [O]) + Sync,
) {
    if rows == 0 {
        return;
    }
    if rows * inner < PAR_MIN || rows < 2 {
        work(0, rows, out);
        return;
    }
    let chunk_rows = (rows / (pool::threads() * 4))
        .max(1)
        .max(PAR_MIN / 4 / inner.max(1));
    pool::chunks_mut(out, chunk_rows * inner, |ci, o| {
        let r0 = ci * chunk_rows;
        let r1 = (r0 + chunk_rows).min(rows);
        work(r0, r1, o);
    });
}

/// Contiguous copy of a view.
pub fn copy(x: &CpuStorage, l: &Layout) -> CpuStorage {
    with_cpu!(x, v => IntoStorage::into_storage(gather_view(v, l)))
}

/// Contiguous copy converted to `dtype`.
pub fn cast(x: &CpuStorage, l: &Layout, dtype: DType) -> CpuStorage {
    macro_rules! conv {
        ($v:expr, $f:expr) => {
            match dtype {
                DType::F32 => CpuStorage::F32(map1($v, l, |x| $f(x) as f32)),
                DType::F64 => CpuStorage::F64(map1($v, l, |x| $f(x))),
                DType::I64 => CpuStorage::I64(map1($v, l, |x| $f(x) as i64)),
                DType::Bool => CpuStorage::Bool(map1($v, l, |x| $f(x) != 0.0)),
            }
        };
    }
    match x {
        CpuStorage::F32(v) => conv!(v, |x: f32| x as f64),
        CpuStorage::F64(v) => conv!(v, |x: f64| x),
        CpuStorage::I64(v) => match dtype {
            DType::I64 => CpuStorage::I64(gather_view(v, l)),
            _ => conv!(v, |x: i64| x as f64),
        },
        CpuStorage::Bool(v) => conv!(v, |x: bool| x as u8 as f64),
    }
}

/// Error function (fractional error below 1.2e-7, smooth, so its derivative checks cleanly).
#[inline]
pub fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 {
        1.0 - ans
    } else {
        ans - 1.0
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
        UnaryOp::ClampMask(lo, hi) => {
            if x >= f(lo) && x <= f(hi) {
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
        UnaryOp::Elu(a) => {
            if x > T::ZERO {
                x
            } else {
                f(a) * (x.exp() - T::ONE)
            }
        }
        UnaryOp::EluGrad(a) => {
            if x > T::ZERO {
                T::ONE
            } else {
                f(a) * x.exp()
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
        other => map1(v, l, move |x| unary_f(other, x)),
    }
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
                x.wrapping_pow(y.clamp(0, u32::MAX as i64) as u32)
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

/// Moves the reduced dims last and returns (outer count, reduced length, contiguous data layout).
fn reduce_layout(l: &Layout, dims: &[usize]) -> (Layout, usize, usize) {
    let keep: Vec<usize> = (0..l.ndim()).filter(|d| !dims.contains(d)).collect();
    let perm: Vec<usize> = keep.iter().chain(dims.iter()).copied().collect();
    let pl = l.permute(&perm);
    let red: usize = dims.iter().map(|&d| l.shape[d]).product();
    let outer: usize = keep.iter().map(|&d| l.shape[d]).product();
    (pl, outer, red)
}

trait ReduceElem: Copy + Send + Sync + PartialOrd + Default {
    fn acc(x: Self) -> f64;
    fn from_acc(v: f64) -> Self;
    fn is_nan(self) -> bool;
}
impl ReduceElem for f32 {
    fn acc(x: Self) -> f64 {
        x as f64
    }
    fn from_acc(v: f64) -> Self {
        v as f32
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}
impl ReduceElem for f64 {
    fn acc(x: Self) -> f64 {
        x
    }
    fn from_acc(v: f64) -> Self {
        v
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}
impl ReduceElem for i64 {
    fn acc(x: Self) -> f64 {
        x as f64
    }
    fn from_acc(v: f64) -> Self {
        v as i64
    }
    fn is_nan(self) -> bool {
        false
    }
}
impl ReduceElem for bool {
    fn acc(x: Self) -> f64 {
        x as u8 as f64
    }
    fn from_acc(v: f64) -> Self {
        v != 0.0
    }
    fn is_nan(self) -> bool {
        false
    }
}

fn reduce_rows<T: ReduceElem + IntoStorage + 'static>(
    op: ReduceOp,
    data: &[T],
    outer: usize,
    red: usize,
) -> CpuStorage {
    fn pick<T: ReduceElem>(row: &[T], better: impl Fn(T, T) -> bool) -> (T, i64) {
        let mut best = row[0];
        let mut bi = 0;
        for (i, &x) in row.iter().enumerate().skip(1) {
            if best.is_nan() {
                break;
            }
            if x.is_nan() || better(x, best) {
                best = x;
                bi = i;
            }
        }
        (best, bi as i64)
    }
    let rows = |f: &(dyn Fn(&[T]) -> T + Sync)| -> Vec<T> {
        if outer * red >= PAR_MIN && outer > 1 {
            let rows_per_task = (PAR_CHUNK / red.max(1)).max(1);
            pool::map_collect(outer, rows_per_task, |r| f(&data[r * red..(r + 1) * red]))
        } else {
            data.chunks(red).map(f).collect()
        }
    };
    let idx = |f: &(dyn Fn(&[T]) -> i64 + Sync)| -> Vec<i64> { data.chunks(red).map(f).collect() };
    match op {
        ReduceOp::Sum => {
            if red == 0 {
                return T::into_storage(vec![T::from_acc(0.0); outer]);
            }
            if std::any::TypeId::of::<T>() == std::any::TypeId::of::<bool>() {
                // sum of bools counts them, as int64
                return CpuStorage::I64(
                    data.chunks(red)
                        .map(|r| r.iter().map(|&x| T::acc(x) as i64).sum())
                        .collect(),
                );
            }
            T::into_storage(rows(&|r: &[T]| {
                // four partial sums keep f32 error small and let the loop vectorise
                let mut s = [0f64; 4];
                let mut ch = r.chunks_exact(4);
                for c in &mut ch {
                    s[0] += T::acc(c[0]);
                    s[1] += T::acc(c[1]);
                    s[2] += T::acc(c[2]);
                    s[3] += T::acc(c[3]);
                }
                let mut t = s[0] + s[1] + s[2] + s[3];
                for &x in ch.remainder() {
                    t += T::acc(x);
                }
                T::from_acc(t)
            }))
        }
        ReduceOp::Max => T::into_storage(rows(&|r: &[T]| pick(r, |x, b| x > b).0)),
        ReduceOp::Min => T::into_storage(rows(&|r: &[T]| pick(r, |x, b| x < b).0)),
        ReduceOp::ArgMax => CpuStorage::I64(idx(&|r: &[T]| pick(r, |x, b| x > b).1)),
        ReduceOp::ArgMin => CpuStorage::I64(idx(&|r: &[T]| pick(r, |x, b| x < b).1)),
    }
}

/// Reduction over sorted unique `dims`; result shape is `l.shape` without them.
pub fn reduce(op: ReduceOp, x: &CpuStorage, l: &Layout, dims: &[usize]) -> Result<CpuStorage> {
    let (pl, outer, red) = reduce_layout(l, dims);
    if red == 0 && op != ReduceOp::Sum {
        return Err(Error::Shape(format!(
            "{op:?}: cannot reduce over an empty dimension (shape {:?}, dims {dims:?})",
            l.shape
        )));
    }
    if op == ReduceOp::Sum && red > 0 {
        match x {
            CpuStorage::F32(v) => return Ok(CpuStorage::F32(sum_in_place(v, l, dims))),
            CpuStorage::F64(v) => return Ok(CpuStorage::F64(sum_in_place(v, l, dims))),
            _ => {}
        }
    }
    Ok(with_cpu!(x, v => {
        let data = gather_view(v, &pl);
        reduce_rows(op, &data, outer, red)
    }))
}

/// Sum over `dims` in one pass over the input in its own order (no transposing copy): each
/// innermost run is either summed into one output (last dim reduced) or added elementwise into
/// a row of outputs (last dim kept). Accumulates in f64.
fn sum_in_place<T: Float + Default + Send + Sync>(v: &[T], l: &Layout, dims: &[usize]) -> Vec<T> {
    if let Some(out) = sum_dense_edge(v, l, dims) {
        return out;
    }
    let nd = l.ndim();
    let kept: Vec<usize> = (0..nd).filter(|d| !dims.contains(d)).collect();
    let out_strides = {
        let mut st = vec![0usize; nd];
        let mut acc = 1;
        for &d in kept.iter().rev() {
            st[d] = acc;
            acc *= l.shape[d];
        }
        st
    };
    let out_len: usize = kept.iter().map(|&d| l.shape[d]).product();
    let mut acc = vec![0f64; out_len];
    let n = l.numel();
    if n > 0 {
        let inner = *l.shape.last().unwrap_or(&1);
        let (is, os) = (
            *l.strides.last().unwrap_or(&0),
            *out_strides.last().unwrap_or(&0),
        );
        let rows = n / inner;
        for_each_row(
            &l.shape,
            [&l.strides, &out_strides],
            [l.offset, 0],
            0,
            rows,
            |_, [xo, oo]| {
                if os == 0 {
                    // last dim reduced: sum the run with independent lanes, then accumulate
                    let mut lanes = [0f64; 8];
                    if is == 1 {
                        lane_sum(&v[xo..xo + inner], &mut lanes);
                    } else {
                        for j in 0..inner {
                            lanes[j % 8] += v[xo + j * is].to_f64();
                        }
                    }
                    acc[oo] += lanes.iter().sum::<f64>();
                } else {
                    let dst = &mut acc[oo..oo + inner];
                    if is == 1 {
                        for (a, &x) in dst.iter_mut().zip(&v[xo..xo + inner]) {
                            *a += x.to_f64();
                        }
                    } else {
                        for (j, a) in dst.iter_mut().enumerate() {
                            *a += v[xo + j * is].to_f64();
                        }
                    }
                }
            },
        );
    }
    acc.into_iter().map(T::from_f64).collect()
}

/// Sum of a dense tensor over leading dims (column sums of an `[R, C]` view, as for bias
/// gradients) or trailing dims (row sums), split over threads; `None` for other cases.
fn sum_dense_edge<T: Float + Default + Send + Sync>(
    v: &[T],
    l: &Layout,
    dims: &[usize],
) -> Option<Vec<T>> {
    let d = dense(v, l)?;
    let (nd, p) = (l.ndim(), dims.len());
    let mut sorted = dims.to_vec();
    sorted.sort_unstable();
    let n = d.len();
    if n == 0 || p == 0 {
        return None;
    }
    if sorted.iter().copied().eq(0..p) {
        // column sums: rows are taken `k` at a time as one wide row of `w = k·c` lanes (so
        // narrow rows still vectorise), each task summing a block into its own f64 partial
        let c: usize = l.shape[p..].iter().product();
        let r = n / c;
        let k = (64 / c).max(1);
        let w = k * c;
        let wide_rows = r / k;
        let per = if n >= PAR_MIN {
            wide_rows
                .div_ceil(pool::threads() * 2)
                .max(PAR_CHUNK.div_ceil(w))
        } else {
            wide_rows.max(1)
        };
        let tasks = wide_rows.div_ceil(per);
        let mut part = vec![0f64; tasks * w];
        pool::chunks_mut(&mut part, w, |t, acc| {
            simd::wide(|| {
                let rows = &d[t * per * w..((t + 1) * per).min(wide_rows) * w];
                for row in rows.chunks_exact(w) {
                    for (a, &x) in acc.iter_mut().zip(row) {
                        *a += x.to_f64();
                    }
                }
            })
        });
        let mut out = vec![0f64; c];
        for pc in part.chunks_exact(c) {
            for (o, &x) in out.iter_mut().zip(pc) {
                *o += x;
            }
        }
        for row in d[wide_rows * w..].chunks_exact(c) {
            for (o, &x) in out.iter_mut().zip(row) {
                *o += x.to_f64();
            }
        }
        return Some(out.into_iter().map(T::from_f64).collect());
    }
    // kept dims one block in the middle, `[A, C, B]` summed over A and B (per-channel sums
    // of NCHW, as batch-norm statistics and bias gradients): one task per kept index
    let kept: Vec<usize> = (0..nd).filter(|x| !sorted.contains(x)).collect();
    if n >= PAR_MIN && !kept.is_empty() && kept.windows(2).all(|w| w[1] == w[0] + 1) {
        let (k0, k1) = (kept[0], kept[kept.len() - 1] + 1);
        let a: usize = l.shape[..k0].iter().product();
        let c: usize = l.shape[k0..k1].iter().product();
        let b: usize = l.shape[k1..].iter().product();
        if b >= 16 && a > 1 {
            let chan = |ci: usize| -> T {
                let mut lanes = [0f64; 8];
                for ai in 0..a {
                    lane_sum(&d[(ai * c + ci) * b..(ai * c + ci + 1) * b], &mut lanes);
                }
                T::from_f64(lanes.iter().sum::<f64>())
            };
            let mut out = vec![T::ZERO; c];
            pool::chunks_mut(&mut out, 1, |ci, o| o[0] = simd::wide(|| chan(ci)));
            return Some(out);
        }
    }
    if sorted.iter().copied().eq(nd - p..nd) && n >= PAR_MIN {
        // row sums, split over threads (small ones take the serial loop below)
        let c: usize = l.shape[nd - p..].iter().product();
        let r = n / c;
        if r > 1 {
            let per = PAR_CHUNK.div_ceil(c).max(1);
            let mut out = vec![T::ZERO; r];
            pool::chunks_mut(&mut out, per, |t, o| {
                simd::wide(|| row_sums(&d[t * per * c..(t * per + o.len()) * c], c, o))
            });
            return Some(out);
        }
    }
    None
}

/// Adds a run into eight f64 lanes.
#[inline(always)]
fn lane_sum<T: Float>(run: &[T], lanes: &mut [f64; 8]) {
    let mut ch = run.chunks_exact(8);
    for q in &mut ch {
        for k in 0..8 {
            lanes[k] += q[k].to_f64();
        }
    }
    for &x in ch.remainder() {
        lanes[0] += x.to_f64();
    }
}

/// `out[i] = Σ rows[i·c .. (i+1)·c]` with eight f64 lanes per row.
#[inline(always)]
fn row_sums<T: Float>(rows: &[T], c: usize, out: &mut [T]) {
    for (o, run) in out.iter_mut().zip(rows.chunks_exact(c)) {
        let mut lanes = [0f64; 8];
        lane_sum(run, &mut lanes);
        *o = T::from_f64(lanes.iter().sum::<f64>());
    }
}

fn softmax_rows<T: Float>(data: &mut [T], len: usize, log: bool) {
    let f = |r: &mut [T]| simd::softmax_row(r, log);
    if data.len() >= PAR_MIN && data.len() / len.max(1) > 1 {
        let rows_per_task = (PAR_CHUNK / len.max(1)).max(1);
        pool::chunks_mut(data, rows_per_task * len, |_, rows| {
            rows.chunks_mut(len).for_each(f)
        });
    } else {
        data.chunks_mut(len).for_each(f);
    }
}

/// Softmax or log-softmax over the last dim.
pub fn softmax(x: &CpuStorage, l: &Layout, log: bool) -> Result<CpuStorage> {
    let len = *l.shape.last().unwrap_or(&1);
    Ok(match x {
        CpuStorage::F32(v) => {
            let mut d = gather_view(v, l);
            if len > 0 {
                softmax_rows(&mut d, len, log);
            }
            CpuStorage::F32(d)
        }
        CpuStorage::F64(v) => {
            let mut d = gather_view(v, l);
            if len > 0 {
                softmax_rows(&mut d, len, log);
            }
            CpuStorage::F64(d)
        }
        other => {
            return Err(Error::DType(format!(
                "softmax: expected a floating tensor, got {}",
                other.dtype()
            )))
        }
    })
}

/// The 32-bit mixing function of the counter-based generator (shared with the WGSL kernel).
#[inline(always)]
pub fn hash32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The per-seed key of the counter-based generator (computed once per fill).
#[inline(always)]
pub fn stream_key(seed: u64) -> u32 {
    hash32((seed as u32) ^ hash32((seed >> 32) as u32 ^ 0x9e37_79b9))
}

/// Uniform in [0, 1) for counter `offset + i` of the stream with key `k`: 24 random bits.
#[inline(always)]
pub fn uniform01(k: u32, offset: u64, i: u64) -> f64 {
    let c = offset.wrapping_add(i);
    let h = hash32(hash32(c as u32 ^ k) ^ ((c >> 32) as u32).wrapping_add(k.rotate_left(7)));
    (h >> 8) as f64 * (1.0 / 16_777_216.0)
}

/// Random fill from the counter-based generator; normals by Box–Muller on counters 2i, 2i+1.
pub fn rand(kind: RandKind, n: usize, seed: u64, offset: u64, dtype: DType) -> Result<CpuStorage> {
    let k = stream_key(seed);
    let gen = |i: usize| -> f64 {
        match kind {
            RandKind::Uniform(lo, hi) => lo + (hi - lo) * uniform01(k, offset, i as u64),
            RandKind::Normal(mean, std) => {
                let u1 = 1.0 - uniform01(k, offset, 2 * i as u64);
                let u2 = uniform01(k, offset, 2 * i as u64 + 1);
                mean + std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            }
        }
    };
    Ok(match dtype {
        DType::F32 => {
            let f = |i| gen(i) as f32;
            CpuStorage::F32(if n >= PAR_MIN {
                pool::map_collect(n, PAR_CHUNK, f)
            } else {
                (0..n).map(f).collect()
            })
        }
        DType::F64 => CpuStorage::F64(if n >= PAR_MIN {
            pool::map_collect(n, PAR_CHUNK, gen)
        } else {
            (0..n).map(gen).collect()
        }),
        d => {
            return Err(Error::DType(format!(
                "rand: expected a floating dtype, got {d}"
            )))
        }
    })
}

/// Writes `src` (broadcast to `ld.shape`) into the view `ld` of `dst`.
pub fn assign(dst: &mut CpuStorage, ld: &Layout, src: &CpuStorage, ls: &Layout) -> Result<()> {
    let src = if src.dtype() == dst.dtype() {
        copy(src, ls)
    } else {
        cast(src, ls, dst.dtype())
    };
    let n = ld.numel();
    if n == 0 {
        return Ok(());
    }
    let inner = *ld.shape.last().unwrap_or(&1);
    let is = *ld.strides.last().unwrap_or(&0);
    let rows = n / inner;
    macro_rules! put {
        ($d:expr, $s:expr) => {{
            if ld.is_contiguous() {
                $d[ld.offset..ld.offset + n].copy_from_slice(&$s[..n]);
            } else {
                for_each_row(&ld.shape, [&ld.strides], [ld.offset], 0, rows, |r, [o]| {
                    for j in 0..inner {
                        $d[o + j * is] = $s[r * inner + j];
                    }
                });
            }
        }};
    }
    match (dst, &src) {
        (CpuStorage::F32(d), CpuStorage::F32(s)) => put!(d, s),
        (CpuStorage::F64(d), CpuStorage::F64(s)) => put!(d, s),
        (CpuStorage::I64(d), CpuStorage::I64(s)) => put!(d, s),
        (CpuStorage::Bool(d), CpuStorage::Bool(s)) => put!(d, s),
        _ => unreachable!("cast above matches dtypes"),
    }
    Ok(())
}

/// Keeps freed tensor buffers in the process heap for reuse instead of returning them to the
/// OS, so a training step does not page-fault freshly mapped memory for every activation.
/// Called once when the Python module loads (and by the benchmarks).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets glibc allocator parameters; the values are valid for each option
    // and no allocation is in progress on another thread at module load.
    unsafe {
        // buffers up to 512 MiB come from the heap, and the heap is trimmed only past 1 GiB free
        libc::mallopt(libc::M_MMAP_THRESHOLD, 512 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
