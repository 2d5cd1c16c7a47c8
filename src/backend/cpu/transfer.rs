//! Copies, dtype casts and in-place writes of views on the CPU (the kernels behind
//! `contiguous()`, `.to(dtype)` and item assignment).

use super::{gather_view, map1, IntoStorage};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{for_each_row, Layout};
use crate::storage::CpuStorage;

/// Contiguous copy of a view.
pub fn copy(x: &CpuStorage, l: &Layout) -> CpuStorage {
    crate::with_cpu!(x, v => IntoStorage::into_storage(gather_view(v, l)))
}

/// A float's integer part as int64 the way x86-64's truncating conversion gives it, which is
/// what PyTorch's CPU casts return: NaN and values outside the int64 range become `i64::MIN`.
fn float_to_i64(x: f64) -> i64 {
    // ±2^63: the int64 range's ends, exact in f64
    const END: f64 = 9_223_372_036_854_775_808.0;
    if (-END..END).contains(&x) {
        x as i64
    } else {
        i64::MIN
    }
}

/// A float's integer part for an integer narrower than int64, as PyTorch's CPU casts give it:
/// a 32-bit truncating conversion (NaN and values outside the int32 range become `i32::MIN`)
/// whose low bits the narrow type keeps (the caller wraps them).
fn float_to_i32(x: f64) -> i64 {
    if x > -2_147_483_649.0 && x < 2_147_483_648.0 {
        x as i32 as i64
    } else {
        i32::MIN as i64
    }
}

/// Contiguous copy converted to `dtype` (a narrow integer dtype gives int64 storage whose
/// values the caller wraps into its range).
pub fn cast(x: &CpuStorage, l: &Layout, dtype: DType) -> CpuStorage {
    macro_rules! conv {
        ($v:expr, $f:expr) => {
            match dtype {
                DType::F32 => CpuStorage::F32(map1($v, l, |x| $f(x) as f32)),
                DType::F64 => CpuStorage::F64(map1($v, l, |x| $f(x))),
                DType::I64 => CpuStorage::I64(map1($v, l, |x| float_to_i64($f(x)))),
                DType::Bool => CpuStorage::Bool(map1($v, l, |x| $f(x) != 0.0)),
                _ => CpuStorage::I64(map1($v, l, |x| float_to_i32($f(x)))),
            }
        };
    }
    match x {
        CpuStorage::F32(v) => conv!(v, |x: f32| x as f64),
        CpuStorage::F64(v) => conv!(v, |x: f64| x),
        CpuStorage::I64(v) => match dtype.storage() {
            DType::I64 => CpuStorage::I64(gather_view(v, l)),
            _ => conv!(v, |x: i64| x as f64),
        },
        CpuStorage::Bool(v) => match dtype.storage() {
            DType::I64 => CpuStorage::I64(map1(v, l, |x: bool| x as i64)),
            _ => conv!(v, |x: bool| x as u8 as f64),
        },
    }
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
        (d, s) => {
            return Err(Error::DType(format!(
                "assign: cannot write {} into {}",
                s.dtype(),
                d.dtype()
            )))
        }
    }
    Ok(())
}
