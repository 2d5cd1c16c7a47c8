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

/// Contiguous copy converted to `dtype`.
pub fn cast(x: &CpuStorage, l: &Layout, dtype: DType) -> CpuStorage {
    macro_rules! conv {
        ($v:expr, $f:expr) => {
            match dtype.storage() {
                DType::F32 => CpuStorage::F32(map1($v, l, |x| $f(x) as f32)),
                DType::F64 => CpuStorage::F64(map1($v, l, |x| $f(x))),
                DType::I64 => CpuStorage::I64(map1($v, l, |x| $f(x) as i64)),
                DType::Bool => CpuStorage::Bool(map1($v, l, |x| $f(x) != 0.0)),
                _ => CpuStorage::I64(map1($v, l, |x| $f(x) as i64)),
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
        CpuStorage::Bool(v) => conv!(v, |x: bool| x as u8 as f64),
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
