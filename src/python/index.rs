//! `tensor[key]` and `tensor[key] = value`: ints, slices with steps, negative indices, `...`,
//! `None`, int64 index tensors (or lists) and bool masks, with numpy's placement rules.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyEllipsis, PyList, PySlice, PyTuple};

use crate::dtype::DType;
use crate::error::{Error, Result as CoreResult};
use crate::tensor::Tensor;

use super::convert::to_tensor;
use super::pytensor::PyTensor;

enum Item {
    Int(isize),
    Slice(Option<isize>, Option<isize>, Option<isize>),
    NewAxis,
    Ellipsis,
    Index(Tensor),
}

fn parse_items(key: &Bound<'_, PyAny>) -> PyResult<Vec<Item>> {
    let parts: Vec<Bound<'_, PyAny>> = match key.cast::<PyTuple>() {
        Ok(t) => t.iter().collect(),
        Err(_) => vec![key.clone()],
    };
    parts
        .iter()
        .map(|p| {
            if p.is_none() {
                Ok(Item::NewAxis)
            } else if p.is_instance_of::<PyEllipsis>() {
                Ok(Item::Ellipsis)
            } else if let Ok(s) = p.cast::<PySlice>() {
                let get = |n: &str| -> PyResult<Option<isize>> {
                    let v = s.getattr(n)?;
                    if v.is_none() {
                        Ok(None)
                    } else {
                        Ok(Some(v.extract::<isize>().map_err(|_| PyTypeError::new_err("slice indices must be integers"))?))
                    }
                };
                Ok(Item::Slice(get("start")?, get("stop")?, get("step")?))
            } else if let Ok(t) = p.extract::<PyRef<'_, PyTensor>>() {
                Ok(Item::Index(t.t.clone()))
            } else if p.is_instance_of::<pyo3::types::PyBool>() {
                Err(PyTypeError::new_err("indexing with a Python bool is not supported"))
            } else if let Ok(i) = p.extract::<isize>() {
                Ok(Item::Int(i))
            } else if p.is_instance_of::<PyList>()
                || p.is_instance_of::<PyTuple>()
                || p.is_instance_of::<pyo3::types::PyRange>()
                || p.hasattr("__array__")?
            {
                // a list, a tuple in a position or a range indexes like an int64 tensor
                let t = to_tensor(p, None)?;
                let t = if t.numel() == 0 && !p.hasattr("__array__")? {
                    t.to_dtype(DType::I64)?
                } else {
                    t
                };
                Ok(Item::Index(t))
            } else {
                Err(PyTypeError::new_err(format!(
                    "only integers, slices, None, ..., and integer or boolean tensors are valid indices (got {})",
                    p.get_type().name()?
                )))
            }
        })
        .collect()
}

fn consumed(item: &Item) -> usize {
    match item {
        Item::Int(_) | Item::Slice(..) => 1,
        Item::Index(t) if t.dtype() == DType::Bool => t.ndim().max(1),
        Item::Index(_) => 1,
        Item::NewAxis | Item::Ellipsis => 0,
    }
}

/// Applies basic items as views; collects advanced (tensor) indices with the dim they apply to.
fn apply(t: &Tensor, items: Vec<Item>) -> CoreResult<(Tensor, Vec<(usize, Tensor)>)> {
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
            Item::Index(idx) => {
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
                if idx.dtype() == DType::Bool {
                    let k = idx.ndim().max(1);
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
                } else if idx.dtype() == DType::I64 {
                    let size = x.shape()[d] as f64;
                    let neg = idx.binary(&idx.scalar_like(0.0)?, crate::backend::BinaryOp::Lt)?;
                    let wrapped = Tensor::where_cond(&neg, &idx.add_scalar(size)?, &idx)?;
                    adv.push((d, wrapped));
                } else {
                    return Err(Error::Index(format!(
                        "tensors used as indices must be int64 or bool, got {}",
                        idx.dtype()
                    )));
                }
                d += 1;
            }
        }
    }
    Ok((x, adv))
}

/// `t[key]`.
pub fn getitem(t: &Tensor, key: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    let items = parse_items(key)?;
    let (x, adv) = apply(t, items)?;
    Ok(advanced(x, adv)?)
}

fn advanced(x: Tensor, adv: Vec<(usize, Tensor)>) -> CoreResult<Tensor> {
    if adv.is_empty() {
        return Ok(x);
    }
    let d0 = adv[0].0;
    if adv.iter().enumerate().any(|(k, (d, _))| *d != d0 + k) {
        return Err(Error::Index(
            "non-adjacent advanced (tensor) indices are not supported".into(),
        ));
    }
    let m = adv.len();
    let mut shape = adv[0].1.shape().to_vec();
    for (_, t) in &adv[1..] {
        shape = crate::shape::broadcast_shapes(&shape, t.shape(), "index")?;
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
                d0 + k,
                sizes[k]
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

/// The value of an assignment as a tensor of `t`'s dtype, keeping its autograd history.
fn assigned_value(t: &Tensor, value: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    if let Ok(v) = value.extract::<PyRef<'_, PyTensor>>() {
        let v = v.t.clone();
        if v.device() != t.device() {
            if v.ndim() > 0 {
                return Err(crate::error::Error::Device(format!(
                    "setitem: value on {} assigned into a tensor on {}",
                    v.device(),
                    t.device()
                ))
                .into());
            }
            return Ok(v.to_device(t.device())?.to_dtype(t.dtype())?);
        }
        return Ok(v.to_dtype(t.dtype())?);
    }
    match value.extract::<f64>() {
        Ok(s) => Ok(Tensor::full(&[], s, t.dtype(), t.device())?),
        Err(_) => Ok(to_tensor(value, Some(t.dtype()))?.to_device(t.device())?),
    }
}

/// Drops leading size-1 dims of `v` beyond `ndim`, as PyTorch does when assigning.
fn strip_leading_ones(v: Tensor, ndim: usize) -> CoreResult<Tensor> {
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

/// `t[key] = value` (or `+=` with `accumulate`), in place and recorded by autograd: basic
/// indices write through a view, tensor indices through a flat `index_put`.
pub fn setitem_impl(
    t: &Tensor,
    key: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
    accumulate: bool,
    op: &'static str,
) -> PyResult<()> {
    let v = assigned_value(t, value)?;
    let items = parse_items(key)?;
    let advanced_key = items.iter().any(|i| matches!(i, Item::Index(_)));
    if !advanced_key && !accumulate {
        let (view, _) = apply(t, items)?;
        let v = strip_leading_ones(v, view.ndim())?;
        if v.ndim() > view.ndim()
            || crate::shape::broadcast_shapes(view.shape(), v.shape(), "setitem")? != view.shape()
        {
            return Err(crate::error::Error::Shape(format!(
                "setitem: shape mismatch: value tensor of shape {:?} cannot be broadcast to indexing result of shape {:?}",
                v.shape(),
                view.shape()
            ))
            .into());
        }
        return Ok(view.copy_named(&v, op)?);
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
        crate::error::Error::Shape(format!(
            "setitem: shape mismatch: value tensor of shape {:?} cannot be broadcast to indexing result of shape {:?}",
            v.shape(),
            pos.shape()
        ))
    })?;
    let n = pos.numel();
    let flat_pos = pos.reshape(&[n])?.to_i64_vec()?;
    let vals = vals.reshape(&[n])?;
    Ok(t.inplace(op, |x| x.index_put_flat(&flat_pos, &vals, accumulate))?)
}
