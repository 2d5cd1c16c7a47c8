//! Element types: the `DType` enum and the numeric traits the CPU kernels are generic over.

/// The element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float, the default for floating data, on every device.
    F32,
    /// 64-bit float, on the CPU (gradient checks and users who ask).
    F64,
    /// 64-bit signed integer: labels and indices. On the GPU stored as 32-bit (see `backend::wgpu`).
    I64,
    /// Boolean masks.
    Bool,
    /// Narrow integers (`uint8`, `int8`, `int16`, `int32`): stored as int64 (see
    /// [`DType::storage`]), reported under their own name, and wrapped to their range by every
    /// op that makes them (`x.byte() + 250` wraps as PyTorch's does).
    U8,
    I8,
    I16,
    I32,
}

/// The default float dtype's code (`set_default_dtype`): what creation functions make from
/// Python floats when no dtype is given, and what integers promote to.
static DEFAULT_FLOAT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

impl DType {
    /// The default float dtype (float32 unless [`DType::set_default_float`] changed it).
    pub fn default_float() -> DType {
        match DEFAULT_FLOAT.load(std::sync::atomic::Ordering::Relaxed) {
            1 => DType::F64,
            _ => DType::F32,
        }
    }

    /// Makes `d` (float32 or float64) the default float dtype; false for another dtype.
    pub fn set_default_float(d: DType) -> bool {
        if !d.is_float() {
            return false;
        }
        DEFAULT_FLOAT.store(d.code(), std::sync::atomic::Ordering::Relaxed);
        true
    }

    /// Every dtype, in the order of [`DType::code`].
    pub const ALL: [DType; 8] = [
        DType::F32,
        DType::F64,
        DType::I64,
        DType::Bool,
        DType::U8,
        DType::I8,
        DType::I16,
        DType::I32,
    ];

    /// A small number naming this dtype (its position in [`DType::ALL`]), for compact storage
    /// such as the tensor's atomic dtype field.
    pub fn code(self) -> u8 {
        match self {
            DType::F32 => 0,
            DType::F64 => 1,
            DType::I64 => 2,
            DType::Bool => 3,
            DType::U8 => 4,
            DType::I8 => 5,
            DType::I16 => 6,
            DType::I32 => 7,
        }
    }

    /// The dtype of a [`DType::code`]; `None` for a number no dtype has.
    pub fn from_code(code: u8) -> Option<DType> {
        DType::ALL.get(code as usize).copied()
    }

    /// The name PyTorch users know (`float32`, `int64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::I64 => "int64",
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
        }
    }

    /// Parses a dtype name (`float32`, `float`, `float64`, `double`, `int64`, `long`, `bool`).
    pub fn parse(s: &str) -> Option<DType> {
        match s {
            // the 16-bit floats are stored as float32 (see `PyDType::alias`)
            "float32" | "float" | "f32" | "float16" | "half" | "bfloat16" => Some(DType::F32),
            "float64" | "double" | "f64" => Some(DType::F64),
            "int64" | "long" | "i64" => Some(DType::I64),
            "bool" => Some(DType::Bool),
            "uint8" | "u8" => Some(DType::U8),
            "int8" | "i8" => Some(DType::I8),
            "int16" | "short" | "i16" => Some(DType::I16),
            "int32" | "int" | "i32" => Some(DType::I32),
            _ => None,
        }
    }

    /// True for the floating dtypes.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// True for the integer dtypes (not bool).
    pub fn is_int(self) -> bool {
        matches!(
            self,
            DType::I64 | DType::U8 | DType::I8 | DType::I16 | DType::I32
        )
    }

    /// True for the narrow integers stored as int64.
    pub fn is_narrow(self) -> bool {
        matches!(self, DType::U8 | DType::I8 | DType::I16 | DType::I32)
    }

    /// The dtype the elements are stored in: int64 for the narrow integers, else itself.
    pub fn storage(self) -> DType {
        if self.is_narrow() {
            DType::I64
        } else {
            self
        }
    }

    /// `(bits, signed)` of an integer dtype's range; `None` for the others.
    pub fn int_range(self) -> Option<(u32, bool)> {
        match self {
            DType::U8 => Some((8, false)),
            DType::I8 => Some((8, true)),
            DType::I16 => Some((16, true)),
            DType::I32 => Some((32, true)),
            DType::I64 => Some((64, true)),
            _ => None,
        }
    }

    /// The Python ints PyTorch writes into an integer dtype without an overflow error, as
    /// `(lo, hi)` inclusive: the type's own range, and for an unsigned type also the negatives
    /// down to −max (read modulo 2^bits, so `-1` is 255 in uint8). `None` for the other dtypes.
    pub fn int_bounds(self) -> Option<(i128, i128)> {
        let (bits, signed) = self.int_range()?;
        Some(if signed {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            let max = (1i128 << bits) - 1;
            (-max, max)
        })
    }

    /// Whether a Python float converts into this integer dtype without overflow, as PyTorch
    /// checks it: its integer part in the type's range (NaN and infinities never are); true
    /// for the non-integer dtypes.
    pub fn holds_float(self, v: f64) -> bool {
        match self.int_range() {
            None => true,
            Some((bits, signed)) => {
                let (lo, end) = if signed {
                    (-(2f64.powi(bits as i32 - 1)), 2f64.powi(bits as i32 - 1))
                } else {
                    (0.0, 2f64.powi(bits as i32))
                };
                v >= lo && v < end
            }
        }
    }

    /// `v` wrapped into a narrow integer's range (two's complement, as a C cast); other
    /// dtypes return it unchanged.
    pub fn wrap_int(self, v: i64) -> i64 {
        match self {
            DType::U8 => v as u8 as i64,
            DType::I8 => v as i8 as i64,
            DType::I16 => v as i16 as i64,
            DType::I32 => v as i32 as i64,
            _ => v,
        }
    }

    /// Bytes per element in host memory (the storage's: a narrow integer takes 8).
    pub fn size(self) -> usize {
        match self.storage() {
            DType::F32 => 4,
            DType::Bool => 1,
            _ => 8,
        }
    }

    /// Bytes per element as PyTorch reports them (`element_size`, `itemsize`, `nbytes`).
    pub fn itemsize(self) -> usize {
        match self {
            DType::U8 | DType::I8 | DType::Bool => 1,
            DType::I16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }

    /// The dtype of `a op b` under PyTorch's promotion (float beats int beats bool; f64 beats f32).
    /// Between integers: the smallest integer holding both ranges (uint8 with int8 is int16).
    pub fn promote(a: DType, b: DType) -> DType {
        fn rank(d: DType) -> u8 {
            match d {
                DType::Bool => 0,
                DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => 1,
                DType::F32 => 2,
                DType::F64 => 3,
            }
        }
        if let (Some((ba, sa)), Some((bb, sb))) = (a.int_range(), b.int_range()) {
            if a == b {
                return a;
            }
            // signed bits needed: an unsigned type needs one more
            let need = |bits: u32, signed: bool| if signed { bits } else { bits * 2 };
            let bits = need(ba, sa).max(need(bb, sb));
            return match bits {
                0..=8 => DType::I8,
                9..=16 => DType::I16,
                17..=32 => DType::I32,
                _ => DType::I64,
            };
        }
        if rank(a) >= rank(b) {
            a
        } else {
            b
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rustdl.{}", self.name())
    }
}

/// A floating element type the CPU kernels compute in.
pub trait Float:
    Copy
    + Send
    + Sync
    + PartialOrd
    + PartialEq
    + std::fmt::Debug
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + std::ops::AddAssign
    + std::iter::Sum
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    const NEG_INF: Self;
    const INF: Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    /// `exp` written so that loops over slices vectorise (f32: a Cephes-style polynomial,
    /// within 2 ulp of libm; f64: libm).
    fn exp_fast(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn tanh(self) -> Self;
    fn abs(self) -> Self;
    fn powf(self, p: Self) -> Self;
    fn max_(self, o: Self) -> Self;
    fn min_(self, o: Self) -> Self;
    fn is_nan_(self) -> bool;
    /// `self·a + b` rounded once (one instruction where FMA is enabled, as in `simd::wide`)
    fn mul_add_(self, a: Self, b: Self) -> Self;
}

/// `Float` methods that are the std method of the same name, inlined.
macro_rules! forward_std_math {
    ($t:ty; $($m:ident),*) => {
        $(
            #[inline(always)]
            fn $m(self) -> Self {
                <$t>::$m(self)
            }
        )*
    };
}

macro_rules! impl_float {
    ($t:ty) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INF: Self = <$t>::NEG_INFINITY;
            const INF: Self = <$t>::INFINITY;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            forward_std_math!($t; exp, ln, sqrt, sin, cos, tanh, abs);
            #[inline(always)]
            fn exp_fast(self) -> Self {
                exp_fast_impl(self)
            }
            #[inline(always)]
            fn powf(self, p: Self) -> Self {
                <$t>::powf(self, p)
            }
            #[inline(always)]
            fn max_(self, o: Self) -> Self {
                if self.is_nan() || self >= o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn min_(self, o: Self) -> Self {
                if self.is_nan() || self <= o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn is_nan_(self) -> bool {
                self.is_nan()
            }
            #[inline(always)]
            fn mul_add_(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
        }
    };
}
impl_float!(f32);
impl_float!(f64);

trait ExpFast {
    fn exp_fast_impl(self) -> Self;
}

#[inline(always)]
fn exp_fast_impl<T: ExpFast>(x: T) -> T {
    x.exp_fast_impl()
}

impl ExpFast for f64 {
    #[inline(always)]
    fn exp_fast_impl(self) -> f64 {
        self.exp()
    }
}

impl ExpFast for f32 {
    /// Range reduction `x = n·ln2 + r` (n rounded with the 1.5·2^23 trick, so no float→int
    /// conversion), a degree-6 polynomial for `e^r`, and `2^n` from exponent bits in two halves
    /// (so n = 128 does not overflow); branch-free, so loops of it vectorise even on SSE2.
    #[inline(always)]
    fn exp_fast_impl(self) -> f32 {
        const LOG2E: f32 = std::f32::consts::LOG2_E;
        const C1: f32 = 0.693_359_4;
        const C2: f32 = -2.121_944_4e-4;
        const MAGIC: f32 = 12_582_912.0;
        // down to ln of half the least subnormal: results below 2^-126 are subnormal, formed
        // by the two-half scaling below with one rounding, as libm's (not flushed to 0)
        let x = self.clamp(-103.972_08, 88.722_83);
        let shifted = x * LOG2E + MAGIC;
        let n = shifted - MAGIC;
        let ni = shifted.to_bits() as i32 - MAGIC.to_bits() as i32;
        let r = x - n * C1 - n * C2;
        let mut p = 1.987_569_1e-4_f32;
        p = p * r + 1.398_199_9e-3;
        p = p * r + 8.333_452e-3;
        p = p * r + 4.166_579_6e-2;
        p = p * r + 1.666_666_5e-1;
        p = p * r + 0.5;
        let y = p * r * r + r + 1.0;
        let n1 = ni >> 1;
        let n2 = ni - n1;
        let s1 = f32::from_bits(((n1 + 127) as u32) << 23);
        let s2 = f32::from_bits(((n2 + 127) as u32) << 23);
        let out = y * s1 * s2;
        let out = if self < -103.972_08 { 0.0 } else { out };
        let out = if self > 88.722_83 { f32::INFINITY } else { out };
        if self.is_nan() {
            self
        } else {
            out
        }
    }
}

/// A Python number written into a tensor of `dtype`: NaN, an infinity or a magnitude past 2^63
/// cannot become an int64 (PyTorch raises rather than saturate).
pub fn check_fits(op: &str, value: f64, dtype: DType) -> crate::error::Result<()> {
    if dtype.is_int() && !(value.is_finite() && value.abs() <= 2f64.powi(63)) {
        return Err(crate::error::Error::Runtime(format!(
            "{op}: value {value} cannot be converted to type int64 without overflow"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::DType;

    #[test]
    fn every_dtype_round_trips_through_its_code() {
        for (i, d) in DType::ALL.iter().enumerate() {
            assert_eq!(d.code() as usize, i, "{d:?} sits at its code in ALL");
            assert_eq!(DType::from_code(d.code()), Some(*d));
        }
        assert_eq!(DType::from_code(DType::ALL.len() as u8), None);
    }

    #[test]
    fn integers_promote_to_the_smallest_type_holding_both() {
        use DType::*;
        // numpy's table for the same pairs
        let table = [
            (U8, U8, U8),
            (U8, I8, I16),
            (U8, I16, I16),
            (U8, I32, I32),
            (U8, I64, I64),
            (I8, I16, I16),
            (I16, I32, I32),
            (I32, I64, I64),
            (I8, Bool, I8),
            (U8, F32, F32),
            (I32, F64, F64),
        ];
        for (a, b, want) in table {
            assert_eq!(DType::promote(a, b), want, "{a:?} with {b:?}");
            assert_eq!(DType::promote(b, a), want, "{b:?} with {a:?}");
        }
    }

    #[test]
    fn narrow_integers_wrap_as_a_cast_does() {
        assert_eq!(DType::U8.wrap_int(300), 44);
        assert_eq!(DType::U8.wrap_int(-1), 255);
        assert_eq!(DType::I8.wrap_int(200), -56);
        assert_eq!(DType::I16.wrap_int(70000), 4464);
        assert_eq!(DType::I32.wrap_int((1 << 31) + 5), -(1 << 31) + 5);
        assert_eq!(DType::I64.wrap_int(1 << 40), 1 << 40);
        for d in [DType::U8, DType::I8, DType::I16, DType::I32] {
            assert_eq!(d.storage(), DType::I64);
            assert!(d.is_int() && d.is_narrow() && !d.is_float());
            assert_eq!(DType::parse(d.name()), Some(d));
        }
    }
}
