//! Indexing semantics: `tensor[key]` and `tensor[key] = value` over already converted index
//! items (ints, slices with steps, negative indices, `...`, `None`, int64 index tensors and bool
//! masks), with numpy's placement rules; bounds are checked and errors name the dim and size.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// One element of an index key.
pub enum IndexItem {
    Int(isize),
    /// `start:stop:step`, each optional
    Slice(Option<isize>, Option<isize>, Option<isize>),
    NewAxis,
    Ellipsis,
    /// an int64 index tensor or a bool mask
    Tensor(Tensor),
}

use IndexItem as Item;

fn consumed(item: &Item) -> usize {
    match item {
        Item::Int(_) | Item::Slice(..) => 1,
        // a mask (bool, or uint8: PyTorch's older spelling) consumes its dims; a 0-d one
        // consumes none: it adds one of size 1 (True) or 0 (False)
        Item::Tensor(t) if matches!(t.dtype(), DType::Bool | DType::U8) => t.ndim(),
        Item::Tensor(_) => 1,
        Item::NewAxis | Item::Ellipsis => 0,
    }
}

/// Applies basic items as views; collects advanced (tensor) indices with the dim they apply to.
fn apply(t: &Tensor, items: Vec<Item>) -> Result<(Tensor, Vec<(usize, Tensor)>)> {
    let used: usize = items.iter().map(consumed).sum();
    if used > t.ndim() {
        return Err(Error::Index(format!(
            "too many indices for tensor of dimension {} (shape {:?})",
            t.ndim(),
            t.shape()
        )));
    }
    if items.iter().filter(|i| matches!(i, Item::Ellipsis)).count() > 1 {
        return Err(Error::Index(
            "an index can only have a single ellipsis ('...')".into(),
        ));
    }
    let mut x = t.clone();
    let mut d = 0usize;
    let mut adv: Vec<(usize, Tensor)> = Vec::new();
    for item in items {
        match item {
            Item::Ellipsis => d += t.ndim() - used,
            Item::NewAxis => {
                x = x.unsqueeze(d as isize)?;
                d += 1;
            }
            Item::Int(i) => {
                let size = x.shape()[d] as isize;
                if i < -size || i >= size {
                    return Err(Error::Index(format!(
                        "index {i} is out of bounds for dimension {d} with size {size}"
                    )));
                }
                x = x.select(d as isize, i)?;
            }
            Item::Slice(start, stop, step) => {
                let size = x.shape()[d] as isize;
                let step = step.unwrap_or(1);
                if step <= 0 {
                    return Err(Error::Value("slice: step must be greater than zero".into()));
                }
                let clampi = |v: isize| -> usize {
                    let v = if v < 0 { v + size } else { v };
                    v.clamp(0, size) as usize
                };
                let s = start.map(clampi).unwrap_or(0);
                let e = stop.map(clampi).unwrap_or(size as usize);
                x = x.slice(d as isize, s, e.max(s), step as usize)?;
                d += 1;
            }
            Item::Tensor(idx) => {
                // index tensors may live on the host (lists, numpy), as PyTorch allows; a GPU
                // index for a CPU tensor is an error, as in PyTorch
                if idx.device().is_gpu() && !x.device().is_gpu() {
                    return Err(Error::Device(format!(
                        "indices should be either on cpu or on the same device as the indexed tensor ({}), got {}",
                        x.device(),
                        idx.device()
                    )));
                }
                let idx = idx.to_device(x.device())?;
                // a uint8 index is a mask, as in PyTorch (its older spelling of bool masks)
                let idx = if idx.dtype() == DType::U8 {
                    idx.ne_scalar(0.0)?
                } else {
                    idx
                };
                if idx.dtype() == DType::Bool && idx.ndim() == 0 {
                    // `x[True]` is `x[None]`, `x[False]` an empty selection of it (both
                    // advanced indices, so assignment through them writes through)
                    x = x.unsqueeze(d as isize)?;
                    let keep = idx.to_f64_vec()?.first().is_some_and(|&v| v != 0.0);
                    let pick = Tensor::zeros(&[usize::from(keep)], DType::I64, x.device())?;
                    adv.push((d, pick));
                } else if idx.dtype() == DType::Bool {
                    let k = idx.ndim();
                    let dims = &x.shape()[d..d + k];
                    if idx.ndim() > 0 && idx.shape() != dims {
                        return Err(Error::Index(format!(
                            "the shape of the mask {:?} does not match the shape of the indexed tensor {:?} at dim {d}",
                            idx.shape(),
                            x.shape()
                        )));
                    }
                    if k > 1 {
                        x = x.flatten(d as isize, (d + k - 1) as isize)?;
                    }
                    let flat = idx.reshape(&[idx.numel()])?;
                    let nz = flat.nonzero()?;
                    let n = nz.shape()[0];
                    adv.push((d, nz.reshape(&[n])?));
                } else if matches!(idx.dtype(), DType::I64 | DType::I32) {
                    let size = x.shape()[d] as f64;
                    let neg = idx.binary(&idx.scalar_like(0.0)?, crate::backend::BinaryOp::Lt)?;
                    let wrapped = Tensor::where_cond(&neg, &idx.add_scalar(size)?, &idx)?;
                    adv.push((d, wrapped));
                } else {
                    return Err(Error::Index(format!(
                        "tensors used as indices must be long, int, byte or bool tensors, got {}",
                        idx.dtype()
                    )));
                }
                d += 1;
            }
        }
    }
    Ok((x, adv))
}

fn advanced(x: Tensor, adv: Vec<(usize, Tensor)>) -> Result<Tensor> {
    if adv.is_empty() {
        return Ok(x);
    }
    let mut d0 = adv[0].0;
    let orig_dims: Vec<usize> = adv.iter().map(|(d, _)| *d).collect();
    let mut x = x;
    let mut adv = adv;
    if adv.iter().enumerate().any(|(k, (d, _))| *d != d0 + k) {
        // indices separated by a slice, `None` or `...`: as in PyTorch and numpy, the
        // broadcast index dims come first, then the remaining dims in order
        let mut perm: Vec<isize> = adv.iter().map(|(d, _)| *d as isize).collect();
        perm.extend((0..x.ndim() as isize).filter(|d| !adv.iter().any(|(a, _)| *a as isize == *d)));
        x = x.permute(&perm)?;
        for (k, entry) in adv.iter_mut().enumerate() {
            entry.0 = k;
        }
        d0 = 0;
    }
    let m = adv.len();
    let mut shape = adv[0].1.shape().to_vec();
    for (_, t) in &adv[1..] {
        shape = crate::shape::broadcast_shapes(&shape, t.shape(), "index").map_err(|_| {
            let shapes: Vec<String> = adv
                .iter()
                .map(|(_, t)| format!("{:?}", t.shape()))
                .collect();
            Error::Index(format!(
                "shape mismatch: indexing tensors could not be broadcast together with shapes {}",
                shapes.join(", ")
            ))
        })?;
    }
    let sizes: Vec<usize> = x.shape()[d0..d0 + m].to_vec();
    // flat index into the merged dims d0..d0+m
    let mut flat: Option<Tensor> = None;
    for (k, (_, t)) in adv.iter().enumerate() {
        let size = sizes[k] as f64;
        let hi = t.binary(&t.scalar_like(size)?, crate::backend::BinaryOp::Ge)?;
        let lo = t.binary(&t.scalar_like(0.0)?, crate::backend::BinaryOp::Lt)?;
        if t.numel() > 0
            && (hi.to_i64_vec()?.iter().any(|&v| v != 0)
                || lo.to_i64_vec()?.iter().any(|&v| v != 0))
        {
            // name the first offending index as the user wrote it (before wrapping negatives)
            let vals = t.to_i64_vec()?;
            let size = sizes[k] as i64;
            let bad = vals
                .iter()
                .find(|&&v| v < 0 || v >= size)
                .map(|&v| if v < 0 { v - size } else { v })
                .unwrap_or(0);
            return Err(Error::Index(format!(
                "index {bad} is out of bounds for dimension {} with size {}",
                orig_dims[k], sizes[k]
            )));
        }
        let stride: usize = sizes[k + 1..].iter().product();
        let term = t.expand(&shape)?.mul_scalar(stride as f64)?;
        flat = Some(match flat {
            None => term,
            Some(f) => f.add(&term)?,
        });
    }
    let flat = flat.ok_or_else(|| Error::Index("empty advanced index".into()))?;
    let merged = if m > 1 {
        x.flatten(d0 as isize, (d0 + m - 1) as isize)?
    } else {
        x
    };
    let picked = merged.index_select(d0 as isize, &flat.reshape(&[flat.numel()])?)?;
    let mut out_shape: Vec<usize> = merged.shape()[..d0].to_vec();
    out_shape.extend_from_slice(&shape);
    out_shape.extend_from_slice(&merged.shape()[d0 + 1..]);
    picked.reshape(&out_shape)
}

/// Drops leading size-1 dims of `v` beyond `ndim`, as PyTorch does when assigning.
fn strip_leading_ones(v: Tensor, ndim: usize) -> Result<Tensor> {
    let mut shape = v.shape().to_vec();
    while shape.len() > ndim && shape[0] == 1 {
        shape.remove(0);
    }
    if shape.len() == v.ndim() {
        Ok(v)
    } else {
        v.reshape(&shape)
    }
}

impl Tensor {
    /// `self[items]`: basic items as views, tensor items gathered (a copy).
    pub fn index(&self, items: Vec<IndexItem>) -> Result<Tensor> {
        let (x, adv) = apply(self, items)?;
        if adv.is_empty() {
            return Ok(x);
        }
        Ok(advanced(x, adv)?.label_grad_fn("IndexBackward0", &[self]))
    }

    /// `self[items] = v` (or `+=` with `accumulate`), in place and recorded by autograd: basic
    /// indices write through a view, tensor indices through a flat `index_put`. `v` already has
    /// this tensor's dtype and device.
    pub fn index_assign(
        &self,
        items: Vec<IndexItem>,
        v: Tensor,
        accumulate: bool,
        op: &'static str,
    ) -> Result<()> {
        let t = self;
        let advanced_key = items.iter().any(|i| matches!(i, Item::Tensor(_)));
        if !advanced_key && !accumulate {
            let (view, _) = apply(t, items)?;
            let v = strip_leading_ones(v, view.ndim())?;
            if v.ndim() > view.ndim()
                || crate::shape::broadcast_shapes(view.shape(), v.shape(), "setitem")?
                    != view.shape()
            {
                return Err(Error::Shape(format!(
                    "setitem: shape mismatch: value tensor of shape {:?} cannot be broadcast to indexing result of shape {:?}",
                    v.shape(),
                    view.shape()
                ))
                );
            }
            return view.copy_named(&v, op);
        }
        // positions (row-major in `t`) of the selected elements, computed on the host
        let pos = {
            let _g = crate::autograd::NoGradGuard::new();
            let ids = Tensor::arange(0.0, t.numel() as f64, 1.0, DType::I64, t.device())?
                .reshape(t.shape())?;
            let (iv, iadv) = apply(&ids, items)?;
            advanced(iv, iadv)?
        };
        let v = strip_leading_ones(v, pos.ndim())?;
        let vals = v.expand(pos.shape()).map_err(|_| {
            Error::Shape(format!(
                "setitem: shape mismatch: value tensor of shape {:?} cannot be broadcast to indexing result of shape {:?}",
                v.shape(),
                pos.shape()
            ))
        })?;
        let n = pos.numel();
        let flat_pos = pos.reshape(&[n])?.to_i64_vec()?;
        let constant = !accumulate && v.numel() == 1;
        let vals = vals.reshape(&[n])?;
        // one value written into an expanded tensor (`expanded[mask] = -1.0`) is a constant fill,
        // well defined however the elements share memory, as PyTorch allows it
        let overlapping = t
            .strides()
            .iter()
            .zip(t.shape())
            .any(|(&st, &sz)| st == 0 && sz > 1);
        let op = if constant && overlapping {
            "index_fill_"
        } else {
            op
        };
        t.inplace(op, |x| x.index_put_flat(&flat_pos, &vals, accumulate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Tensor {
        Tensor::from_f32((0..12).map(|v| v as f32).collect(), &[3, 4]).unwrap()
    }

    #[test]
    fn basic_items_are_views_with_negative_indices() -> Result<()> {
        let t = grid();
        let row = t.index(vec![IndexItem::Int(-1)])?;
        assert_eq!(row.to_f64_vec()?, vec![8.0, 9.0, 10.0, 11.0]);
        let col = t.index(vec![
            IndexItem::Ellipsis,
            IndexItem::Slice(None, None, Some(2)),
        ])?;
        assert_eq!(col.shape(), &[3, 2]);
        let e = t.index(vec![IndexItem::Int(3)]);
        assert!(
            matches!(e, Err(Error::Index(m)) if m.contains("out of bounds for dimension 0 with size 3"))
        );
        Ok(())
    }

    #[test]
    fn tensor_indices_and_masks() -> Result<()> {
        let t = grid();
        let idx = Tensor::from_f32(vec![2.0, -3.0], &[2])?.to_dtype(DType::I64)?;
        let rows = t.index(vec![IndexItem::Tensor(idx)])?;
        assert_eq!(rows.shape(), &[2, 4]);
        assert_eq!(rows.to_f64_vec()?[..4], [8.0, 9.0, 10.0, 11.0]);
        let mask = t.binary(&t.scalar_like(6.0)?, crate::backend::BinaryOp::Lt)?;
        let picked = t.index(vec![IndexItem::Tensor(mask)])?;
        assert_eq!(picked.numel(), 6);
        let bad = Tensor::from_f32(vec![7.0], &[1])?.to_dtype(DType::I64)?;
        let e = t.index(vec![IndexItem::Tensor(bad)]);
        assert!(matches!(e, Err(Error::Index(m)) if m.contains("index 7 is out of bounds")));
        Ok(())
    }

    #[test]
    fn assignment_through_views_and_tensor_indices() -> Result<()> {
        let t = grid();
        t.index_assign(
            vec![IndexItem::Int(0)],
            t.scalar_like(-1.0)?,
            false,
            "setitem",
        )?;
        assert_eq!(t.to_f64_vec()?[..5], [-1.0, -1.0, -1.0, -1.0, 4.0]);
        let idx = Tensor::from_f32(vec![1.0, 1.0], &[2])?.to_dtype(DType::I64)?;
        let ones = Tensor::ones(&[2, 4], DType::F32, t.device())?;
        t.index_assign(vec![IndexItem::Tensor(idx)], ones, true, "index_put_")?;
        assert_eq!(t.to_f64_vec()?[4..8], [6.0, 7.0, 8.0, 9.0]);
        Ok(())
    }
}
