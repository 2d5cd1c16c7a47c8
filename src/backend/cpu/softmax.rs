//! Softmax and log-softmax over the last dim on the CPU: one row at a time (see
//! `simd::softmax_row`), rows split over threads above `PAR_MIN` elements.

use super::{gather_view, pool, simd, PAR_CHUNK, PAR_MIN};
use crate::dtype::Float;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::CpuStorage;

/// Softmax of each row of `len` elements of a contiguous copy of the view.
fn softmax_t<T: Float + Default>(v: &[T], l: &Layout, len: usize, log: bool) -> Vec<T> {
    let mut data = gather_view(v, l);
    if len == 0 {
        return data;
    }
    let f = |r: &mut [T]| simd::softmax_row(r, log);
    if data.len() >= PAR_MIN && data.len() / len > 1 {
        let rows_per_task = (PAR_CHUNK / len).max(1);
        pool::chunks_mut(&mut data, rows_per_task * len, |_, rows| {
            rows.chunks_mut(len).for_each(f)
        });
    } else {
        data.chunks_mut(len).for_each(f);
    }
    data
}

/// Softmax or log-softmax over the last dim.
pub fn softmax(x: &CpuStorage, l: &Layout, log: bool) -> Result<CpuStorage> {
    let len = *l.shape.last().unwrap_or(&1);
    Ok(match x {
        CpuStorage::F32(v) => CpuStorage::F32(softmax_t(v, l, len, log)),
        CpuStorage::F64(v) => CpuStorage::F64(softmax_t(v, l, len, log)),
        other => {
            return Err(Error::DType(format!(
                "softmax: expected a floating tensor, got {}",
                other.dtype()
            )))
        }
    })
}
