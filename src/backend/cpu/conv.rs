//! im2col / col2im on the CPU: convolution and pooling become matrix products and reductions.

use rayon::prelude::*;

use super::{gather_view, PAR_MIN};
use crate::backend::Conv2dGeom;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::CpuStorage;

fn im2col_t<T: Copy + Send + Sync + Default>(x: &[T], g: &Conv2dGeom, pad: T) -> Vec<T> {
    let (rows, cols) = (g.col_rows(), g.col_cols());
    let plane = g.h * g.w;
    let mut out = vec![T::default(); g.n * rows * cols];
    let fill = |(r, dst): (usize, &mut [T])| {
        // r indexes (n, c, ki, kj); dst is one row of `cols` entries
        let kj = r % g.kw;
        let ki = (r / g.kw) % g.kh;
        let nc = r / (g.kw * g.kh);
        let src = &x[nc * plane..(nc + 1) * plane];
        for oy in 0..g.oh {
            let iy = (oy * g.sh + ki * g.dh) as isize - g.ph as isize;
            let drow = &mut dst[oy * g.ow..(oy + 1) * g.ow];
            if iy < 0 || iy >= g.h as isize {
                drow.iter_mut().for_each(|v| *v = pad);
                continue;
            }
            let srow = &src[iy as usize * g.w..(iy as usize + 1) * g.w];
            for (ox, d) in drow.iter_mut().enumerate() {
                let ix = (ox * g.sw + kj * g.dw) as isize - g.pw as isize;
                *d = if ix < 0 || ix >= g.w as isize { pad } else { srow[ix as usize] };
            }
        }
    };
    if out.len() >= PAR_MIN {
        out.par_chunks_mut(cols.max(1)).enumerate().for_each(fill);
    } else {
        out.chunks_mut(cols.max(1)).enumerate().for_each(fill);
    }
    out
}

fn col2im_t<T: Copy + Send + Sync + Default + std::ops::AddAssign>(cols_data: &[T], g: &Conv2dGeom) -> Vec<T> {
    let (rows, cols) = (g.col_rows(), g.col_cols());
    let plane = g.h * g.w;
    let mut out = vec![T::default(); g.n * g.c * plane];
    let fold = |(nc, dst): (usize, &mut [T])| {
        let (n, c) = (nc / g.c, nc % g.c);
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let r = (c * g.kh + ki) * g.kw + kj;
                let src = &cols_data[(n * rows + r) * cols..(n * rows + r + 1) * cols];
                for oy in 0..g.oh {
                    let iy = (oy * g.sh + ki * g.dh) as isize - g.ph as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    for ox in 0..g.ow {
                        let ix = (ox * g.sw + kj * g.dw) as isize - g.pw as isize;
                        if ix >= 0 && ix < g.w as isize {
                            dst[iy as usize * g.w + ix as usize] += src[oy * g.ow + ox];
                        }
                    }
                }
            }
        }
    };
    if out.len() >= PAR_MIN {
        out.par_chunks_mut(plane.max(1)).enumerate().for_each(fold);
    } else {
        out.chunks_mut(plane.max(1)).enumerate().for_each(fold);
    }
    out
}

/// `(N,C,H,W)` → `(N, C·kh·kw, oh·ow)` columns, `pad_value` outside the image.
pub fn im2col(x: &CpuStorage, l: &Layout, g: &Conv2dGeom, pad_value: f64) -> Result<CpuStorage> {
    Ok(match x {
        CpuStorage::F32(v) => CpuStorage::F32(im2col_t(&gather_view(v, l), g, pad_value as f32)),
        CpuStorage::F64(v) => CpuStorage::F64(im2col_t(&gather_view(v, l), g, pad_value)),
        other => return Err(Error::DType(format!("im2col: expected a floating tensor, got {}", other.dtype()))),
    })
}

/// `(N, C·kh·kw, oh·ow)` columns → `(N,C,H,W)`, overlapping patches summed.
pub fn col2im(x: &CpuStorage, l: &Layout, g: &Conv2dGeom) -> Result<CpuStorage> {
    Ok(match x {
        CpuStorage::F32(v) => CpuStorage::F32(col2im_t(&gather_view(v, l), g)),
        CpuStorage::F64(v) => CpuStorage::F64(col2im_t(&gather_view(v, l), g)),
        other => return Err(Error::DType(format!("col2im: expected a floating tensor, got {}", other.dtype()))),
    })
}
