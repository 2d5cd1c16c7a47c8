//! Conversions between Python objects (lists, scalars, numpy arrays) and tensors.

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyTuple};

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::device::Device;
use crate::dtype::DType;
use crate::error::Error;
use crate::storage::CpuStorage;
use crate::tensor::Tensor;

use super::gil;
use super::pytensor::PyTensor;
use super::{PyDType, PyDevice};

/// Parses a dtype argument: a rustdl dtype, a name, a numpy dtype or the Python types float/int/bool.
pub fn parse_dtype(obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    if let Ok(d) = obj.extract::<PyRef<'_, PyDType>>() {
        return Ok(d.d);
    }
    // not numpy's reading of None (float64): a caller that takes None handles it before
    if obj.is_none() {
        return Err(PyTypeError::new_err("expected a dtype, got None"));
    }
    if let Ok(s) = obj.extract::<String>() {
        return DType::parse(&s)
            .ok_or_else(|| PyTypeError::new_err(format!("unknown dtype '{s}'")));
    }
    let py = obj.py();
    let builtins = py.import("builtins")?;
    if obj.is(&builtins.getattr("float")?) {
        return Ok(DType::F64); // Python's float is a double, as PyTorch reads `dtype=float`
    }
    if obj.is(&builtins.getattr("int")?) {
        return Ok(DType::I64);
    }
    if obj.is(&builtins.getattr("bool")?) {
        return Ok(DType::Bool);
    }
    // numpy dtypes and scalar types
    if let Ok(np) = py.import("numpy") {
        if let Ok(d) = np.call_method1("dtype", (obj,)) {
            let kind: String = d.getattr("kind")?.extract()?;
            let size: usize = d.getattr("itemsize")?.extract()?;
            return match (kind.as_str(), size) {
                ("f", 8) => Ok(DType::F64),
                ("f", _) => Ok(DType::F32),
                ("u", 1) => Ok(DType::U8),
                ("i", 1) => Ok(DType::I8),
                ("i", 2) => Ok(DType::I16),
                ("i", 4) => Ok(DType::I32),
                ("i", _) | ("u", _) => Ok(DType::I64),
                ("b", _) => Ok(DType::Bool),
                _ => Err(PyTypeError::new_err(format!("unsupported dtype {obj}"))),
            };
        }
    }
    Err(PyTypeError::new_err(format!(
        "expected a dtype, got {}",
        obj.repr()?
    )))
}

/// Parses a device argument: a rustdl device, a string like 'cpu' / 'gpu' / 'gpu:0', or None.
pub fn parse_device(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Device>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    if let Ok(d) = obj.extract::<PyRef<'_, PyDevice>>() {
        return Ok(Some(d.d));
    }
    if let Ok(s) = obj.extract::<String>() {
        return Ok(Some(Device::parse(&s)?));
    }
    // the compatibility layer's `torch.device("meta")` object
    if obj.get_type().name().is_ok_and(|n| n == "_MetaDevice") {
        return Ok(Some(Device::parse("meta")?));
    }
    // an int is an accelerator's index, as PyTorch reads `device=0` ("cuda:0")
    if !obj.is_instance_of::<pyo3::types::PyBool>() {
        if let Ok(i) = obj.extract::<i64>() {
            if i < 0 {
                return Err(crate::error::Error::Value(format!(
                    "device index must not be negative, got {i}"
                ))
                .into());
            }
            return Ok(Some(Device::parse(&format!("cuda:{i}"))?));
        }
    }
    Err(PyTypeError::new_err(format!(
        "expected a device, got {}",
        obj.repr()?
    )))
}

/// Flattens nested lists/tuples of numbers into values and a shape; ragged input is a ValueError.
/// Deepest nesting of sequences `tensor()` accepts (more dims than any real tensor has).
const MAX_NESTING: usize = 64;

/// A sequence other than a string, bytes or array-like (range, deque, user sequences).
fn is_plain_sequence(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    if obj.is_instance_of::<pyo3::types::PyString>()
        || obj.is_instance_of::<pyo3::types::PyBytes>()
        || obj.hasattr("__array__")?
    {
        return Ok(false);
    }
    Ok(obj.is_instance_of::<pyo3::types::PyRange>()
        || obj.cast::<pyo3::types::PySequence>().is_ok())
}

fn walk(
    obj: &Bound<'_, PyAny>,
    depth: usize,
    shape: &mut Vec<usize>,
    out: &mut Vec<f64>,
    exact: &mut Vec<i64>,
    kind: &mut u8,
    dt: &mut Option<DType>,
) -> PyResult<()> {
    // the dtype of the data so far: each element's own, promoted (a numpy scalar or a tensor
    // counts with its dtype, as PyTorch infers: `tensor([np.float64(1.5)])` is float64)
    let mut meet = |d: DType| *dt = Some(dt.map_or(d, |p| DType::promote(p, d)));
    if depth > MAX_NESTING {
        return Err(crate::python::argument_error(format!(
            "tensor: the data is nested more than {MAX_NESTING} levels deep"
        )));
    }
    let seq: Option<Vec<Bound<'_, PyAny>>> = if let Ok(l) = obj.cast::<PyList>() {
        Some(l.iter().collect())
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        Some(t.iter().collect())
    } else if let Ok(t) = obj.extract::<PyRef<'_, PyTensor>>() {
        let t = t.tensor();
        let float = t.dtype().is_float();
        if depth > 0 || t.ndim() == 0 {
            // inside a list a tensor is one number, as PyTorch reads it (`item()`)
            if t.numel() != 1 {
                return Err(PyValueError::new_err(format!(
                    "only one element tensors can be converted to Python scalars (tensor: a \
                     tensor of shape {:?} inside the data; torch.stack joins tensors)",
                    t.shape()
                )));
            }
            *kind = (*kind).max(if float { 2 } else { 1 });
            meet(t.dtype());
            out.push(t.item()?);
            exact.push(if float { 0 } else { t.item_i64()? });
            return check_scalar_depth(depth, shape);
        }
        // a tensor as the whole data: its elements in order
        *kind = (*kind).max(if float { 2 } else { 1 });
        meet(t.dtype());
        shape.extend_from_slice(t.shape());
        out.extend(t.to_f64_vec()?);
        if float {
            exact.resize(out.len(), 0);
        } else {
            exact.extend(t.to_i64_vec()?);
        }
        return Ok(());
    } else if is_plain_sequence(obj)? {
        // range, deque and other sequences read like lists
        Some(obj.try_iter()?.collect::<PyResult<Vec<_>>>()?)
    } else {
        None
    };
    match seq {
        Some(items) => {
            if depth == shape.len() {
                if !out.is_empty() {
                    return Err(crate::python::argument_error(
                        "tensor: ragged nested sequence (mixed depths)",
                    ));
                }
                shape.push(items.len());
            } else if shape[depth] != items.len() {
                return Err(crate::python::argument_error(format!(
                    "tensor: ragged nested sequence: expected length {} at dim {depth}, got {}",
                    shape[depth],
                    items.len()
                )));
            }
            for it in items {
                walk(&it, depth + 1, shape, out, exact, kind, dt)?;
            }
            Ok(())
        }
        None => {
            if obj.is_instance_of::<PyBool>() {
                let b = obj.extract::<bool>()?;
                meet(DType::Bool);
                out.push(if b { 1.0 } else { 0.0 });
                exact.push(b as i64);
            } else if obj.is_instance_of::<PyInt>() {
                match obj.extract::<i64>() {
                    Ok(v) => {
                        *kind = (*kind).max(1);
                        meet(DType::I64);
                        out.push(v as f64);
                        exact.push(v);
                    }
                    Err(_) => {
                        // beyond int64: only a float dtype can hold it (kind 3 says so)
                        let v = obj.extract::<f64>().map_err(|_| {
                            crate::python::argument_error(format!(
                                "tensor: the integer {obj} does not fit an int64 or a float64 (overflow)"
                            ))
                        })?;
                        *kind = 3;
                        out.push(v);
                        exact.push(0);
                    }
                }
            } else if obj.is_exact_instance_of::<PyFloat>() {
                // (np.float64 subclasses float: it is read below, with its own dtype)
                *kind = 2;
                meet(DType::default_float());
                out.push(obj.extract::<f64>()?);
                exact.push(0);
            } else if let Ok(v) = obj.extract::<f64>() {
                // numpy scalars (their dtype's kind decides, as PyTorch: np.bool_ is a bool,
                // np.int32 an integer) and other number-likes
                let np_kind: Option<String> = obj
                    .getattr("dtype")
                    .and_then(|d| d.getattr("kind"))
                    .and_then(|k| k.extract())
                    .ok();
                let k = match np_kind.as_deref() {
                    Some("b") => 0,
                    Some("i") | Some("u") => 1,
                    Some(_) => 2,
                    None => {
                        let is_int =
                            obj.call_method0("is_integer").is_err() && obj.extract::<i64>().is_ok();
                        if is_int {
                            1
                        } else {
                            2
                        }
                    }
                };
                *kind = (*kind).max(k);
                // a numpy scalar's own dtype where rustdl has it (float16 and the wide
                // unsigned ones are not: they count as the default float / int64)
                let own = obj
                    .getattr("dtype")
                    .ok()
                    .filter(|_| np_kind.is_some())
                    .and_then(|d| parse_dtype(&d).ok())
                    .filter(|d| {
                        np_kind.as_deref() != Some("f") || matches!(d, DType::F32 | DType::F64)
                    });
                meet(own.unwrap_or(match k {
                    0 => DType::Bool,
                    1 => DType::I64,
                    _ => DType::default_float(),
                }));
                out.push(v);
                // integers exactly (above 2^53 an f64 rounds them)
                exact.push(if k < 2 {
                    obj.extract::<i64>().unwrap_or(v as i64)
                } else {
                    0
                });
            } else {
                return Err(PyTypeError::new_err(format!(
                    "tensor: could not convert element of type {} to a number",
                    obj.get_type().name()?
                )));
            }
            check_scalar_depth(depth, shape)
        }
    }
}

fn check_scalar_depth(depth: usize, shape: &[usize]) -> PyResult<()> {
    if depth != shape.len() {
        return Err(crate::python::argument_error(
            "tensor: ragged nested sequence (a number where a list was expected)",
        ));
    }
    Ok(())
}

/// The elements of a C-contiguous numpy array of `T`, copied once into a Vec.
fn host_vec<T: numpy::Element + Clone>(a: &Bound<'_, PyAny>) -> PyResult<Vec<T>> {
    let a = a.cast::<PyArrayDyn<T>>()?.readonly();
    Ok(a.as_slice()
        .map_err(|e| crate::python::argument_error(e.to_string()))?
        .to_vec())
}

/// A tensor from a numpy array (one copy), keeping its dtype family.
/// A tensor of the array's values: over the array's own memory when `share` allows it and the
/// array can be adopted (`rustdl.from_numpy`), else a copy (`rustdl.tensor`).
pub fn from_numpy(arr: &Bound<'_, PyUntypedArray>, share: bool) -> PyResult<Tensor> {
    let shape = arr.shape().to_vec();
    let dt = arr.dtype();
    let np = arr.py().import("numpy")?;
    let kind: String = dt.getattr("kind")?.extract()?;
    let size: usize = dt.getattr("itemsize")?.extract()?;
    // a numpy bool is any byte (PIL's 1-bit images hold 255): one that is neither 0 nor 1 is
    // not a Rust bool, so such an array is read as `byte != 0` (a copy, as it cannot be shared)
    let arr = &if kind == "b" && arr.len() > 0 && !bool_bytes_ok(arr)? {
        // (asarray: of a 0-d array numpy's comparison gives a scalar)
        let ne = np.call_method1("not_equal", (arr.call_method1("view", ("u1",))?, 0))?;
        np.call_method1("asarray", (ne,))?
            .cast_into::<PyUntypedArray>()?
    } else {
        arr.clone()
    };
    if share {
        if let Some((storage, strides)) = adopt_numpy(arr, &kind, size)? {
            let layout = crate::shape::Layout {
                shape,
                strides,
                offset: 0,
            };
            return Ok(Tensor::from_storage(
                crate::storage::Storage::Cpu(storage),
                layout,
            ));
        }
    }
    // C-contiguous and aligned (a view at an odd byte offset is copied, not refused)
    let contig = |target: &str| -> PyResult<Bound<'_, PyAny>> {
        np.call_method1("require", (arr, target, "CA"))
    };
    let storage = match (kind.as_str(), size) {
        ("f", 8) => CpuStorage::F64(host_vec::<f64>(&contig("float64")?)?),
        ("f", _) => CpuStorage::F32(host_vec::<f32>(&contig("float32")?)?),
        ("u", 8) => {
            // uint64 above int64's range would wrap negative: refuse it rather than corrupt it
            let big: bool = arr
                .call_method1("__gt__", (i64::MAX as u64,))?
                .call_method0("any")?
                .extract()?;
            if big {
                return Err(PyTypeError::new_err(format!(
                    "from_numpy: uint64 values above {} do not fit rustdl's int64 (array of shape {shape:?})",
                    i64::MAX
                )));
            }
            CpuStorage::I64(host_vec::<i64>(&contig("int64")?)?)
        }
        ("i", _) | ("u", _) => CpuStorage::I64(host_vec::<i64>(&contig("int64")?)?),
        ("b", _) => CpuStorage::Bool(host_vec::<bool>(&contig("bool")?)?),
        _ => {
            return Err(PyTypeError::new_err(format!(
                "from_numpy: unsupported numpy dtype {dt}"
            )))
        }
    };
    // the narrow integers keep their dtype (stored as int64); wider unsigned ones are int64
    let narrow = match (kind.as_str(), size) {
        ("u", 1) => DType::U8,
        ("i", 1) => DType::I8,
        ("i", 2) => DType::I16,
        ("i", 4) => DType::I32,
        _ => DType::I64,
    };
    Ok(Tensor::from_cpu(storage, &shape)?.tagged(narrow))
}

/// Whether every byte of a numpy bool array is 0 or 1 (a valid Rust bool).
fn bool_bytes_ok(arr: &Bound<'_, PyUntypedArray>) -> PyResult<bool> {
    let top: u8 = arr
        .call_method1("view", ("u1",))?
        .call_method0("max")?
        .extract()?;
    Ok(top <= 1)
}

/// The numpy arrays whose memory CPU storages use (`from_numpy`), by data address: each adopted
/// `Vec` keeps one of them alive until the allocator's release hook gives it back.
static OWNERS: Mutex<Option<HashMap<usize, Vec<Py<PyAny>>>>> = Mutex::new(None);

fn owners() -> MutexGuard<'static, Option<HashMap<usize, Vec<Py<PyAny>>>>> {
    OWNERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The allocator's release hook: drops one owner of the memory at `ptr` (without the GIL the
/// decref waits in PyO3's pool until some thread holds it).
fn release_owner(ptr: usize) {
    let owner = {
        let mut guard = owners();
        let map = guard.get_or_insert_with(HashMap::new);
        let owner = map.get_mut(&ptr).and_then(Vec::pop);
        if map.get(&ptr).is_some_and(Vec::is_empty) {
            map.remove(&ptr);
        }
        owner
    };
    drop(owner);
}

/// A storage over the numpy array's own memory, as PyTorch's `from_numpy` (writes through
/// either side show in both), with the array's strides in elements, for a writable, aligned,
/// non-empty array of float32, float64, int64 or bool whose strides are whole elements and not
/// negative (a transposed or sliced array is shared too); None for any other array (it is copied).
fn adopt_numpy(
    arr: &Bound<'_, PyUntypedArray>,
    kind: &str,
    size: usize,
) -> PyResult<Option<(CpuStorage, Vec<usize>)>> {
    let n = arr.len();
    if n == 0 || !matches!((kind, size), ("f", 4) | ("f", 8) | ("i", 8) | ("b", 1)) {
        return Ok(None);
    }
    // another byte order is copied (numpy swaps the bytes), never read as native words
    if !arr.dtype().getattr("isnative")?.extract::<bool>()? {
        return Ok(None);
    }
    let flags = arr.getattr("flags")?;
    for flag in ["aligned", "writeable"] {
        if !flags.getattr(flag)?.extract::<bool>()? {
            return Ok(None);
        }
    }
    let mut strides = Vec::with_capacity(arr.ndim());
    for &st in arr.strides() {
        if st < 0 || !(st as usize).is_multiple_of(size) {
            return Ok(None);
        }
        strides.push(st as usize / size);
    }
    // the elements from the first to the last one the strides reach
    let span = 1 + arr
        .shape()
        .iter()
        .zip(&strides)
        .map(|(&d, &st)| (d - 1) * st)
        .sum::<usize>();
    let data: usize = arr
        .getattr("__array_interface__")?
        .get_item("data")?
        .get_item(0)?
        .extract()?;
    crate::shm::set_release_hook(release_owner);
    owners()
        .get_or_insert_with(HashMap::new)
        .entry(data)
        .or_default()
        .push(arr.clone().into_any().unbind());
    // SAFETY: the array's elements of this type lie within the `span` elements from `data`
    // (strides whole, non-negative elements; aligned, writable), memory the owner just
    // recorded keeps alive until the release hook runs
    let storage = unsafe {
        match (kind, size) {
            ("f", 4) => crate::shm::adopt_vec(data as *mut f32, span).map(CpuStorage::F32),
            ("f", 8) => crate::shm::adopt_vec(data as *mut f64, span).map(CpuStorage::F64),
            ("i", 8) => crate::shm::adopt_vec(data as *mut i64, span).map(CpuStorage::I64),
            _ => crate::shm::adopt_vec(data as *mut bool, span).map(CpuStorage::Bool),
        }
    };
    if storage.is_none() {
        release_owner(data);
    }
    Ok(storage.map(|s| (s, strides)))
}

/// The error PyTorch raises for a value an integer dtype cannot hold.
fn overflow(value: &str, dtype: DType, op: &str) -> PyErr {
    PyRuntimeError::new_err(format!(
        "{op}: value {value} cannot be converted to type {} without overflow",
        dtype.name()
    ))
}

/// PyTorch's overflow check for a Python number written into a tensor of `dtype` (`full`,
/// `fill_`, `masked_fill`, `t[i] = v`, `new_full`): a RuntimeError when an integer dtype cannot
/// hold it (see `DType::int_bounds` and `DType::holds_float`). Tensors, bools and values of
/// float dtypes pass; so does anything that is not a number (the op reports it).
pub fn check_fits(value: &Bound<'_, PyAny>, dtype: DType, op: &str) -> PyResult<()> {
    let Some((lo, hi)) = dtype.int_bounds() else {
        return Ok(());
    };
    if value.is_instance_of::<PyBool>() || value.extract::<PyRef<'_, PyTensor>>().is_ok() {
        return Ok(());
    }
    let fits = if let Ok(i) = value.extract::<i128>() {
        (lo..=hi).contains(&i)
    } else if let Ok(f) = value.extract::<f64>() {
        dtype.holds_float(f)
    } else {
        true
    };
    if fits {
        Ok(())
    } else {
        Err(overflow(&value.str()?.to_string(), dtype, op))
    }
}

/// Builds a tensor from any Python data: a tensor, a numpy array, nested sequences or a scalar.
pub fn to_tensor(obj: &Bound<'_, PyAny>, dtype: Option<DType>) -> PyResult<Tensor> {
    if let Ok(t) = obj.extract::<PyRef<'_, PyTensor>>() {
        let t = t.tensor().detach().deep_clone()?;
        return Ok(match dtype {
            Some(d) => t.to_dtype(d)?,
            None => t,
        });
    }
    if let Ok(a) = obj.cast::<PyUntypedArray>() {
        let t = from_numpy(a, false)?;
        return Ok(match dtype {
            Some(d) => t.to_dtype(d)?,
            None => t,
        });
    }
    // numpy scalars become 0-d arrays
    if obj.hasattr("__array__")?
        && !obj.is_instance_of::<PyList>()
        && !obj.is_instance_of::<PyTuple>()
    {
        let np = obj.py().import("numpy")?;
        let a = np.call_method1("asarray", (obj,))?;
        return to_tensor(&a, dtype);
    }
    // A list of numpy arrays (`tensor([a, b])`) is stacked by numpy, keeping the arrays' dtype.
    let first = if let Ok(l) = obj.cast::<PyList>() {
        l.iter().next()
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        t.iter().next()
    } else {
        None
    };
    if first.is_some_and(|f| f.cast::<PyUntypedArray>().is_ok()) {
        let np = obj.py().import("numpy")?;
        let a = np.call_method1("asarray", (obj,))?;
        return to_tensor(&a, dtype);
    }
    let mut shape = Vec::new();
    let mut vals = Vec::new();
    let mut exact = Vec::new();
    let mut kind = 0u8;
    let mut elem_dtype = None;
    walk(
        obj,
        0,
        &mut shape,
        &mut vals,
        &mut exact,
        &mut kind,
        &mut elem_dtype,
    )?;
    if kind == 3 {
        // an int beyond int64 fits a float dtype asked for, and nothing else (as PyTorch)
        return match dtype {
            Some(d) if d.is_float() => Ok(Tensor::from_f64(vals, &shape)?.to_dtype(d)?),
            _ => Err(crate::python::argument_error(
                "tensor: an integer does not fit an int64 (overflow)",
            )),
        };
    }
    let inferred = match kind {
        // no element at all (`tensor([])`): the default float dtype, as in PyTorch
        0 if vals.is_empty() => DType::default_float(),
        _ => elem_dtype.unwrap_or(match kind {
            0 => DType::Bool,
            1 => DType::I64,
            _ => DType::default_float(),
        }),
    };
    let target = dtype.unwrap_or(inferred);
    if let Some((lo, hi)) = target.int_bounds() {
        // PyTorch refuses a value the integer dtype cannot hold (`tensor([300], dtype=uint8)`)
        let bad = if kind <= 1 {
            let b = exact.iter().find(|&&v| !(lo..=hi).contains(&(v as i128)));
            b.map(|v| v.to_string())
        } else {
            let b = vals.iter().find(|&&v| !target.holds_float(v));
            b.map(|v| v.to_string())
        };
        if let Some(v) = bad {
            return Err(overflow(&v, target, "tensor"));
        }
    }
    if target.is_int() && kind <= 1 {
        return Ok(Tensor::from_i64(exact, &shape)?.into_dtype(target)?);
    }
    let t = Tensor::from_f64(vals, &shape)?;
    Ok(t.to_dtype(target)?)
}

/// A numpy array holding a copy of the tensor's elements.
pub fn to_numpy<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    let shape = t.shape().to_vec();
    let c = gil::nogil(py, gil::ALWAYS, || t.to_cpu_storage())?;
    // narrow integers leave as their own numpy dtype (the values are in range)
    macro_rules! narrow {
        ($v:expr, $t:ty) => {
            PyArray1::from_vec(py, $v.into_iter().map(|x| x as $t).collect::<Vec<$t>>())
                .reshape(shape)?
                .into_any()
        };
    }
    let arr = match c {
        CpuStorage::F32(v) => PyArray1::from_vec(py, v).reshape(shape)?.into_any(),
        CpuStorage::F64(v) => PyArray1::from_vec(py, v).reshape(shape)?.into_any(),
        CpuStorage::I64(v) => match t.dtype() {
            DType::U8 => narrow!(v, u8),
            DType::I8 => narrow!(v, i8),
            DType::I16 => narrow!(v, i16),
            DType::I32 => narrow!(v, i32),
            _ => PyArray1::from_vec(py, v).reshape(shape)?.into_any(),
        },
        CpuStorage::Bool(v) => PyArray1::from_vec(py, v).reshape(shape)?.into_any(),
    };
    Ok(arr)
}

/// Nested Python lists of the tensor's elements.
pub fn to_list<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    let arr = to_numpy(py, t)?;
    arr.call_method0("tolist")
}

/// Reads a shape from `*args` (ints, or one tuple/list), allowing -1.
pub fn shape_args(args: &Bound<'_, PyTuple>) -> PyResult<Vec<isize>> {
    let items: Vec<Bound<'_, PyAny>> = match args.len() {
        1 if !args.get_item(0)?.is_instance_of::<pyo3::types::PyInt>() => {
            let a = args.get_item(0)?;
            if let Ok(t) = a.extract::<PyRef<'_, super::PyTensor>>() {
                // a 0-d integer tensor is one size; a tensor of sizes is refused, as PyTorch's
                // `tuple of ints, not Tensor` (and iterating a huge one would not end)
                if t.tensor().ndim() > 0 {
                    return Err(PyTypeError::new_err(format!(
                        "expected a shape: ints or one tuple of ints, got a Tensor of shape {:?}",
                        t.tensor().shape()
                    )));
                }
            }
            match a.try_iter() {
                Ok(_) => items(&a)?,
                Err(_) => vec![a],
            }
        }
        _ => args.iter().collect(),
    };
    items
        .iter()
        .map(|a| {
            if a.is_instance_of::<pyo3::types::PyBool>() {
                return Err(PyTypeError::new_err(
                    "expected a shape: ints or one tuple of ints, got a bool",
                ));
            }
            match a.extract::<isize>() {
                Ok(v) => Ok(v),
                Err(_) if a.is_instance_of::<pyo3::types::PyInt>() => {
                    Err(crate::python::argument_error(format!(
                        "size: dimension {a} is too large (the element count overflows)"
                    )))
                }
                Err(_) => Err(PyTypeError::new_err(format!(
                    "expected a shape: ints or one tuple of ints, got {}",
                    a.get_type().name()?
                ))),
            }
        })
        .collect()
}

/// Reads a shape from `*args` with no -1 allowed.
pub fn size_args(args: &Bound<'_, PyTuple>, op: &str) -> PyResult<Vec<usize>> {
    let shape: Vec<usize> = shape_args(args)?
        .into_iter()
        .map(|s| {
            usize::try_from(s).map_err(|_| {
                crate::python::argument_error(format!("{op}: negative dimension {s} in size"))
            })
        })
        .collect::<PyResult<_>>()?;
    crate::shape::checked_numel(&shape, op)?;
    Ok(shape)
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        super::map_error(e)
    }
}

/// The most items read from an iterable that is not a tuple or list (a shape, dims, sizes): an
/// endless iterator is refused rather than exhausting memory.
const MAX_ITERABLE_ITEMS: usize = 1 << 20;

/// The items of a sequence argument (shapes, dims, sizes, lengths), read one by one: a tuple or
/// list by its real items (a hostile `__len__` or `__iter__` cannot make it reserve or loop
/// without end, as PyO3's `Vec` extraction would), any other iterable up to
/// [`MAX_ITERABLE_ITEMS`]. A string or a tensor is not such a sequence (a tensor of ints is
/// refused as PyTorch's `tuple of ints, not Tensor`).
pub fn items<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    if let Ok(t) = obj.cast::<PyTuple>() {
        return Ok(t.iter().collect());
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return Ok(l.iter().collect());
    }
    if obj.is_instance_of::<pyo3::types::PyString>()
        || obj.is_instance_of::<pyo3::types::PyBytes>()
        || obj.is_instance_of::<super::PyTensor>()
    {
        return Err(PyTypeError::new_err(format!(
            "expected a sequence of ints, got {}",
            obj.get_type().name()?
        )));
    }
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        if out.len() == MAX_ITERABLE_ITEMS {
            return Err(PyTypeError::new_err(format!(
                "expected a sequence of ints, got an iterable of more than {MAX_ITERABLE_ITEMS} items"
            )));
        }
        out.push(item?);
    }
    Ok(out)
}

/// A `Vec<T>` argument read through [`items`] (see there), for `#[pyfunction]` signatures.
pub struct Items<T>(pub Vec<T>);

impl<'a, 'py, T: pyo3::conversion::FromPyObjectOwned<'py>> pyo3::FromPyObject<'a, 'py>
    for Items<T>
{
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let v = items(&obj.to_owned())?
            .iter()
            .map(|i| i.extract::<T>().map_err(Into::into))
            .collect::<PyResult<Vec<T>>>()?;
        Ok(Items(v))
    }
}

/// `Vec<T>` read through [`items`].
pub fn extract_items<'py, T: pyo3::conversion::FromPyObjectOwned<'py>>(
    obj: &Bound<'py, PyAny>,
) -> PyResult<Vec<T>> {
    Ok(obj.extract::<Items<T>>()?.0)
}
