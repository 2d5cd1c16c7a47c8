//! `tensor[key]` and `tensor[key] = value`: converts a Python key (ints, slices, `...`, `None`,
//! tensors, lists, arrays) to core index items; the semantics live in `ops::indexing`.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyEllipsis, PyList, PySlice, PyTuple};

use crate::dtype::DType;
use crate::ops::indexing::IndexItem as Item;
use crate::tensor::Tensor;

use super::convert::to_tensor;
use super::gil;
use super::pytensor::PyTensor;

/// PyTorch's legacy rule (still in force, with a warning): a list of fewer than 32 items that
/// holds a list, tuple, tensor, slice, `None` or `...` indexes as if it were a tuple
/// (`x[[[0, 1], [1, 2]]]` is `x[[0, 1], [1, 2]]`).
fn list_as_tuple(key: &Bound<'_, PyAny>) -> PyResult<bool> {
    let Ok(list) = key.cast::<PyList>() else {
        return Ok(false);
    };
    if list.len() >= 32 {
        return Ok(false);
    }
    for item in list.iter() {
        if item.is_none()
            || item.is_instance_of::<PyEllipsis>()
            || item.is_instance_of::<PySlice>()
            || item.is_instance_of::<PyList>()
            || item.is_instance_of::<PyTuple>()
            || item.is_instance_of::<PyTensor>()
        {
            let warnings = key.py().import("warnings")?;
            warnings.call_method1(
                "warn",
                (
                    "Using a non-tuple sequence for multidimensional indexing is deprecated; use x[tuple(seq)] instead of x[seq]",
                    key.py().get_type::<pyo3::exceptions::PyUserWarning>(),
                ),
            )?;
            return Ok(true);
        }
    }
    Ok(false)
}

fn parse_items(key: &Bound<'_, PyAny>) -> PyResult<Vec<Item>> {
    let parts: Vec<Bound<'_, PyAny>> = match key.cast::<PyTuple>() {
        Ok(t) => t.iter().collect(),
        Err(_) if list_as_tuple(key)? => key.try_iter()?.collect::<PyResult<_>>()?,
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
                        match v.extract::<isize>() {
                            Ok(i) => Ok(Some(i)),
                            // an int past the machine range clamps, as a slice bound does
                            Err(_) if v.is_instance_of::<pyo3::types::PyInt>() => {
                                Ok(Some(if v.lt(0)? { isize::MIN } else { isize::MAX }))
                            }
                            Err(_) => Err(PyTypeError::new_err("slice indices must be integers")),
                        }
                    }
                };
                Ok(Item::Slice(get("start")?, get("stop")?, get("step")?))
            } else if let Ok(t) = p.extract::<PyRef<'_, PyTensor>>() {
                Ok(Item::Tensor(t.tensor()))
            } else if p.is_instance_of::<pyo3::types::PyBool>() {
                // as a 0-d bool mask: `x[True]` adds a dim of size 1, `x[False]` of size 0
                let v = if p.is_truthy()? { 1.0 } else { 0.0 };
                Ok(Item::Tensor(Tensor::full(&[], v, DType::Bool, crate::device::Device::Cpu)?))
            } else if let Ok(i) = p.extract::<isize>() {
                Ok(Item::Int(i))
            } else if p.is_instance_of::<PyList>()
                || p.is_instance_of::<PyTuple>()
                || p.is_instance_of::<pyo3::types::PyRange>()
                || p.hasattr("__array__")?
            {
                // a list, a tuple in a position, a range or an array indexes like an int64
                // tensor; floats in it are truncated to int64 (an empty numpy array is float64),
                // as PyTorch's indexing tensor from data
                let t = to_tensor(p, None)?;
                let t = if t.dtype().is_float() || (t.numel() == 0 && !p.hasattr("__array__")?) {
                    t.to_dtype(DType::I64)?
                } else {
                    t
                };
                Ok(Item::Tensor(t))
            } else {
                Err(PyTypeError::new_err(format!(
                    "only integers, slices, None, ..., and integer or boolean tensors are valid indices (got {})",
                    p.get_type().name()?
                )))
            }
        })
        .collect::<PyResult<Vec<Item>>>()
        .and_then(scalar_tensors_as_ints)
}

/// A 0-d integer tensor in a key indexes as the integer it holds, as PyTorch selects with it:
/// it does not join the other tensor indices of advanced indexing (`x[t0, 1:, idx]` keeps the
/// slice's dim first). uint8 stays a mask. A GPU scalar is read back only where that changes the
/// result (another tensor index in the key), so a lone one stays on the device.
fn scalar_tensors_as_ints(items: Vec<Item>) -> PyResult<Vec<Item>> {
    let scalar = |t: &Tensor| t.ndim() == 0 && t.dtype().is_int() && t.dtype() != DType::U8;
    let tensors = items
        .iter()
        .filter(|i| matches!(i, Item::Tensor(_)))
        .count();
    items
        .into_iter()
        .map(|item| match item {
            Item::Tensor(t)
                if scalar(&t) && (t.device() == crate::device::Device::Cpu || tensors > 1) =>
            {
                let v = t.to_i64_vec()?;
                Ok(v.first()
                    .map_or(Item::Tensor(t.clone()), |&i| Item::Int(i as isize)))
            }
            other => Ok(other),
        })
        .collect()
}

/// `t[key]`.
pub fn getitem(py: Python<'_>, t: &Tensor, key: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    let items = parse_items(key)?;
    gil::run(py, gil::work(&[t]), || t.index(items))
}

/// The value of an assignment as a tensor of `t`'s dtype, keeping its autograd history.
///
/// A value on another device is copied over when it is a scalar, or when `copy_across` says
/// the assignment is a plain copy into a view (`t[0] = v`, PyTorch's `t[0].copy_(v)`).
fn assigned_value(t: &Tensor, value: &Bound<'_, PyAny>, copy_across: bool) -> PyResult<Tensor> {
    if let Ok(v) = value.extract::<PyRef<'_, PyTensor>>() {
        let v = v.tensor();
        if v.device() != t.device() {
            if v.ndim() > 0 && !copy_across {
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
    super::convert::check_fits(value, t.dtype(), "setitem")?;
    // an int past 2^53 into an int64 tensor: exact (a float64 would round it)
    if t.dtype() == DType::I64 && value.is_instance_of::<pyo3::types::PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            if i.unsigned_abs() > 1u64 << 53 {
                return Ok(Tensor::from_i64(vec![i], &[])?.to_device(t.device())?);
            }
        }
    }
    match value.extract::<f64>() {
        Ok(s) => Ok(Tensor::full(&[], s, t.dtype(), t.device())?),
        Err(_) => Ok(to_tensor(value, Some(t.dtype()))?.to_device(t.device())?),
    }
}

/// PyTorch's rule for assigning through tensor indices (`index_put_`): a tensor value must have
/// the destination's dtype (no silent rounding), except one value written through a single mask
/// (the only tensor index, beside ints, slices, `None` and `...`): that is a fill with the value
/// as a number, which must fit the destination's type.
fn check_put_dtype(
    t: &Tensor,
    items: &[Item],
    value: &Bound<'_, PyAny>,
    accumulate: bool,
) -> PyResult<()> {
    let Ok(v) = value.extract::<PyRef<'_, PyTensor>>() else {
        return Ok(());
    };
    let v = v.tensor();
    let mut tensors = items.iter().filter_map(|i| match i {
        Item::Tensor(x) => Some(x),
        _ => None,
    });
    let mask_fill = !accumulate
        && v.shape().iter().product::<usize>() == 1
        && matches!((tensors.next(), tensors.next()),
            (Some(m), None) if matches!(m.dtype(), DType::Bool | DType::U8));
    if mask_fill {
        if t.dtype().is_float() || t.dtype() == DType::Bool {
            return Ok(());
        }
        let x = v.to_f64_vec()?[0];
        let (lo, hi) = match t.dtype() {
            DType::U8 => (0.0, 255.0),
            DType::I8 => (-128.0, 127.0),
            DType::I16 => (-32768.0, 32767.0),
            DType::I32 => (-2147483648.0, 2147483647.0),
            _ => (-9.223372036854776e18, 9.223372036854776e18),
        };
        // an int64 value past 2^53 is read through f64: compare it exactly
        let exact_i64 = v.dtype() == DType::I64 && t.dtype() != DType::I64;
        let fits = if exact_i64 {
            let i = v.to_i64_vec()?[0];
            i >= lo as i64 && i <= hi as i64
        } else {
            x >= lo && x <= hi // NaN fits no integer type
        };
        if !fits {
            return Err(crate::error::Error::Value(format!(
                "setitem: value cannot be converted to type {} without overflow",
                t.dtype()
            ))
            .into());
        }
        return Ok(());
    }
    if v.dtype() == t.dtype() {
        return Ok(());
    }
    Err(crate::error::Error::DType(format!(
        "setitem: index put requires the source and destination dtypes match, got {} for the \
         destination and {} for the source (shapes {:?} and {:?})",
        t.dtype(),
        v.dtype(),
        t.shape(),
        v.shape()
    ))
    .into())
}

/// `t[key] = value` (or `+=` with `accumulate`), through `Tensor::index_assign`.
pub fn setitem_impl(
    t: &Tensor,
    key: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
    accumulate: bool,
    op: &'static str,
) -> PyResult<()> {
    let items = parse_items(key)?;
    // Basic indexing selects a view, and assigning into it is a copy, which PyTorch allows
    // across devices; indexing with tensors (index_put_) and `+=` keep the same-device rule.
    let basic = !accumulate && items.iter().all(|i| !matches!(i, Item::Tensor(_)));
    // `t[True] = v` / `t[False] = v` are a copy into `t[None]` and nothing, as PyTorch's
    if (!basic || op == "index_put_") && !key.is_instance_of::<pyo3::types::PyBool>() {
        check_put_dtype(t, &items, value, accumulate)?;
    }
    let v = assigned_value(t, value, basic)?;
    gil::run(key.py(), gil::work(&[t, &v]), || {
        t.index_assign(items, v, accumulate, op)
    })
}
