//! Shapes, strides and layouts: broadcasting, dimension normalisation and strided walks.

use crate::error::{Error, Result};

/// How a tensor's elements sit in its storage: shape, strides (in elements) and offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
    pub offset: usize,
}

/// Row-major strides of a shape.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc *= shape[i].max(1);
    }
    strides
}

/// Number of elements of a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Largest element count of a tensor: its bytes (8 per element at most) must fit an `isize`.
pub const MAX_NUMEL: usize = (isize::MAX as usize) / 8;

/// Number of elements of a shape, or a `ValueError` naming `op` when it overflows.
pub fn checked_numel(shape: &[usize], op: &str) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &s| acc.checked_mul(s))
        .filter(|&n| n <= MAX_NUMEL)
        .ok_or_else(|| {
            Error::Value(format!(
                "{op}: shape {shape:?} has too many elements (the element count overflows)"
            ))
        })
}

impl Layout {
    /// A row-major layout at offset 0.
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// True when the elements are row-major and dense (offset may be non-zero).
    pub fn is_contiguous(&self) -> bool {
        // an empty tensor has no element out of place (and strides of its own making)
        if self.numel() == 0 {
            return true;
        }
        let mut acc = 1;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] != 1 && self.strides[i] != acc {
                return false;
            }
            acc *= self.shape[i];
        }
        true
    }

    /// The storage range of a contiguous view's elements: `offset..offset + numel`, and `0..0`
    /// when empty (an empty view's offset may lie past the end of its storage).
    pub fn dense_range(&self) -> std::ops::Range<usize> {
        match self.numel() {
            0 => 0..0,
            n => self.offset..self.offset + n,
        }
    }

    /// The storage offset of the last element plus one (0 when empty): how much storage it needs.
    pub fn span(&self) -> usize {
        if self.numel() == 0 {
            return 0;
        }
        self.offset
            + self
                .shape
                .iter()
                .zip(&self.strides)
                .map(|(&s, &st)| (s - 1) * st)
                .sum::<usize>()
            + 1
    }

    /// This layout broadcast to `shape` (stride 0 on expanded dims).
    pub fn broadcast_to(&self, shape: &[usize], op: &str) -> Result<Layout> {
        if shape.len() < self.shape.len() {
            return Err(Error::Shape(format!(
                "{op}: cannot broadcast shape {:?} to {:?}",
                self.shape, shape
            )));
        }
        let lead = shape.len() - self.shape.len();
        let mut strides = vec![0; shape.len()];
        for i in 0..self.shape.len() {
            let (s, t) = (self.shape[i], shape[lead + i]);
            if s == t {
                strides[lead + i] = self.strides[i];
            } else if s == 1 {
                strides[lead + i] = 0;
            } else {
                return Err(Error::Shape(format!(
                    "{op}: cannot broadcast shape {:?} to {:?}",
                    self.shape, shape
                )));
            }
        }
        Ok(Layout {
            shape: shape.to_vec(),
            strides,
            offset: self.offset,
        })
    }

    /// Permutes the dimensions (a view).
    pub fn permute(&self, perm: &[usize]) -> Layout {
        Layout {
            shape: perm.iter().map(|&p| self.shape[p]).collect(),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        }
    }

    /// Tries to express a reshape of this layout as a view (no copy), as PyTorch's `view` does.
    pub fn reshape_view(&self, new_shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() {
            return Some(Layout {
                shape: new_shape.to_vec(),
                strides: contiguous_strides(new_shape),
                offset: self.offset,
            });
        }
        // Group old dims into runs that are contiguous among themselves, then split each run.
        let old: Vec<(usize, usize)> = self
            .shape
            .iter()
            .zip(&self.strides)
            .filter(|(&s, _)| s != 1)
            .map(|(&s, &st)| (s, st))
            .collect();
        let mut new_strides = vec![0; new_shape.len()];
        let mut oi = 0;
        let mut ni = 0;
        while ni < new_shape.len() {
            if new_shape[ni] == 1 {
                new_strides[ni] = 1;
                ni += 1;
                continue;
            }
            if oi >= old.len() {
                return None;
            }
            // take a run of old dims [oi, oj) that are mutually contiguous
            let mut oj = oi + 1;
            while oj < old.len() && old[oj - 1].1 == old[oj].0 * old[oj].1 {
                oj += 1;
            }
            let run_size: usize = old[oi..oj].iter().map(|x| x.0).product();
            let run_stride = old[oj - 1].1;
            // consume new dims whose product is run_size
            let mut prod = 1;
            let start = ni;
            while ni < new_shape.len() && prod < run_size {
                prod *= new_shape[ni];
                ni += 1;
            }
            if prod != run_size {
                return None;
            }
            let mut acc = run_stride;
            for k in (start..ni).rev() {
                new_strides[k] = acc;
                acc *= new_shape[k];
            }
            oi = oj;
        }
        if oi != old.len() {
            return None;
        }
        Some(Layout {
            shape: new_shape.to_vec(),
            strides: new_strides,
            offset: self.offset,
        })
    }
}

/// The broadcast shape of two shapes, numpy rules; the error names `op` and both shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize], op: &str) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db {
            da
        } else if da == 1 {
            db
        } else if db == 1 {
            da
        } else {
            return Err(Error::Shape(format!(
                "{op}: shapes {a:?} and {b:?} cannot be broadcast together"
            )));
        };
    }
    Ok(out)
}

/// Normalises a possibly negative dim against `ndim`; the error names the op.
pub fn norm_dim(dim: isize, ndim: usize, op: &str) -> Result<usize> {
    let n = ndim.max(1) as isize;
    let d = if dim < 0 { dim + n } else { dim };
    if d < 0 || d >= n {
        return Err(Error::Index(format!(
            "{op}: dimension {dim} out of range for a tensor of {ndim} dims (expected in [{}, {}])",
            -n,
            n - 1
        )));
    }
    Ok(d as usize)
}

/// Normalises a list of dims (sorted, deduplicated); an empty list means all dims.
pub fn norm_dims(dims: &[isize], ndim: usize, op: &str) -> Result<Vec<usize>> {
    if dims.is_empty() {
        return Ok((0..ndim).collect());
    }
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let d = norm_dim(d, ndim, op)?;
        if ndim == 0 {
            // a 0-d tensor accepts dim 0 / -1 and has nothing to reduce over
            continue;
        }
        if out.contains(&d) {
            return Err(Error::Value(format!(
                "{op}: dim {d} appears more than once"
            )));
        }
        out.push(d);
    }
    out.sort_unstable();
    Ok(out)
}

/// Calls `f(row, offsets)` for every innermost row of `shape` walked with `K` stride sets.
///
/// `row` is the row's index in row-major order over `shape[..n-1]`; `offsets` are the storage
/// offsets of the row's first element for each stride set. Rows `r0..r1` only.
#[inline]
pub fn for_each_row<const K: usize>(
    shape: &[usize],
    strides: [&[usize]; K],
    base: [usize; K],
    r0: usize,
    r1: usize,
    mut f: impl FnMut(usize, [usize; K]),
) {
    let nd = shape.len();
    if nd <= 1 {
        if r0 == 0 && r1 >= 1 {
            f(0, base);
        }
        return;
    }
    let outer = &shape[..nd - 1];
    // unravel r0
    let mut idx = vec![0usize; nd - 1];
    let mut rem = r0;
    for d in (0..nd - 1).rev() {
        idx[d] = rem % outer[d].max(1);
        rem /= outer[d].max(1);
    }
    let mut offs = base;
    for k in 0..K {
        for d in 0..nd - 1 {
            offs[k] += idx[d] * strides[k][d];
        }
    }
    for r in r0..r1 {
        f(r, offs);
        // increment idx
        let mut d = nd - 1;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            for k in 0..K {
                offs[k] += strides[k][d];
            }
            if idx[d] < outer[d] {
                break;
            }
            for k in 0..K {
                offs[k] -= strides[k][d] * outer[d];
            }
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4], "add").unwrap(), vec![3, 4]);
        assert!(broadcast_shapes(&[3, 2], &[4], "add").is_err());
    }

    #[test]
    fn reshape_view_of_transpose_fails_and_of_contiguous_works() {
        let l = Layout::contiguous(&[2, 3]);
        assert!(l.reshape_view(&[3, 2]).is_some());
        let t = l.permute(&[1, 0]);
        assert!(t.reshape_view(&[6]).is_none());
        // splitting a dim of a transposed layout is a view
        let v = t.reshape_view(&[3, 2, 1]).unwrap();
        assert_eq!(v.strides[..2], [1, 3]);
    }

    #[test]
    fn rows_walk_strided() {
        let l = Layout::contiguous(&[2, 3, 4]).permute(&[1, 0, 2]);
        let mut seen = vec![];
        for_each_row(&l.shape, [&l.strides], [0], 0, 6, |r, [o]| {
            seen.push((r, o))
        });
        assert_eq!(
            seen,
            vec![(0, 0), (1, 12), (2, 4), (3, 16), (4, 8), (5, 20)]
        );
    }
}
