//! Host buffers for `rustdl.distributed`: a contiguous CPU tensor's own memory lent to MPI as a
//! numpy array (no copy), one-pass staging copies for the other tensors, and the gradient
//! buckets of `DistributedDataParallel` packed and unpacked in one pass per gradient.

use numpy::ndarray::{ArrayViewD, IxDyn};
use numpy::{Element, PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArray};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::dtype::DType;
use crate::host::{self, HostElem, StoragePin};
use crate::tensor::Tensor;

use super::gil;
use super::pytensor::PyTensor;

/// The base of a numpy array over a tensor's storage: while numpy holds it (the array, and
/// every view numpy derives from it, keeps it alive) the storage stays pinned in place.
#[pyclass(frozen, name = "_StorageLease", module = "rustdl._rustdl")]
struct StorageLease {
    _pin: StoragePin,
}

pub(crate) fn lend<'py, T: HostElem + Element>(
    py: Python<'py>,
    t: &Tensor,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Some((pin, ptr)) = t.lend_host::<T>() else {
        return Ok(None);
    };
    // SAFETY: `ptr` points at `numel()` initialized elements of `T`, dense and row-major, which
    // stay allocated and in place while `pin` lives; the pin moves into the array's base object,
    // which numpy keeps alive as long as any array over this memory exists.
    let view = unsafe { ArrayViewD::from_shape_ptr(IxDyn(t.shape()), ptr.as_ptr().cast_const()) };
    let owner = Bound::new(py, StorageLease { _pin: pin })?;
    let arr = unsafe { PyArrayDyn::<T>::borrow_from_array(&view, owner.into_any()) };
    Ok(Some(arr.into_any()))
}

/// A numpy array over a CPU tensor's own memory with its strides (no copy; `.numpy()`, as
/// PyTorch's: writes through either side show in both), for float32, float64, int64 and bool
/// tensors of any layout; None for any other tensor.
pub(crate) fn lend_strided<'py>(
    py: Python<'py>,
    t: &Tensor,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    fn go<'py, T: HostElem + Element>(
        py: Python<'py>,
        t: &Tensor,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some((pin, ptr, strides)) = t.lend_host_strided::<T>() else {
            return Ok(None);
        };
        use numpy::ndarray::ShapeBuilder;
        let dims = IxDyn(t.shape()).strides(IxDyn(&strides));
        // SAFETY: every element the shape and strides reach from `ptr` lies in the storage
        // (`lend_host_strided` checked the layout's span), which stays allocated and in place
        // while `pin` lives in the array's base object
        let view = unsafe { ArrayViewD::from_shape_ptr(dims, ptr.as_ptr().cast_const()) };
        let owner = Bound::new(py, StorageLease { _pin: pin })?;
        let arr = unsafe { PyArrayDyn::<T>::borrow_from_array(&view, owner.into_any()) };
        Ok(Some(arr.into_any()))
    }
    match t.dtype() {
        DType::F32 => go::<f32>(py, t),
        DType::F64 => go::<f64>(py, t),
        DType::I64 => go::<i64>(py, t),
        DType::Bool => go::<bool>(py, t),
        _ => Ok(None),
    }
}

/// A writable numpy array that IS the tensor's memory (no copy), for a CPU tensor of float32,
/// float64 or int64 whose elements are one dense row-major run; None for any other tensor
/// (a view with gaps, a GPU tensor, a bool or empty one). After writing through it, call
/// `_mark_written(tensor)`. While the array lives, `tensor.data = ...` is refused.
#[pyfunction]
fn _host_view<'py>(
    py: Python<'py>,
    tensor: PyRef<'py, PyTensor>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    host_view(py, &tensor.tensor())
}

/// `_host_view` for a core tensor: the numpy array over its own memory, or None.
pub(crate) fn host_view<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Option<Bound<'py, PyAny>>> {
    match t.dtype() {
        DType::F32 => lend::<f32>(py, t),
        DType::F64 => lend::<f64>(py, t),
        DType::I64 => lend::<i64>(py, t),
        _ => Ok(None),
    }
}

/// Records a write made through `_host_view`'s array: the version counter is bumped, as by any
/// in-place op, so a graph that saved the old values refuses to run backward.
#[pyfunction]
fn _mark_written(tensor: PyRef<'_, PyTensor>) {
    tensor
        .tensor()
        .mark_written("a rustdl.distributed collective");
}

fn write<T: HostElem + Element>(
    py: Python<'_>,
    t: &Tensor,
    a: &Bound<'_, PyUntypedArray>,
) -> PyResult<()> {
    let a = a.cast::<PyArrayDyn<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "_copy_from_host: a numpy array of another dtype for a {} tensor of shape {:?}",
            t.dtype(),
            t.shape()
        ))
    })?;
    let ro = a.try_readonly().map_err(|e| {
        crate::python::argument_error(format!("_copy_from_host: the numpy array is in use ({e})"))
    })?;
    let src = ro.as_slice().map_err(|_| {
        crate::python::argument_error(format!(
            "_copy_from_host: the numpy array for a tensor of shape {:?} is not C-contiguous",
            t.shape()
        ))
    })?;
    gil::run(py, gil::work(&[t]), || {
        t.write_host(src, "a rustdl.distributed collective")
    })
}

/// Writes a C-contiguous host array (the tensor's dtype, its element count) into `tensor` in
/// place, in one pass (one upload for a GPU tensor); views of it see the change and its version
/// counter is bumped.
#[pyfunction]
fn _copy_from_host(
    py: Python<'_>,
    tensor: PyRef<'_, PyTensor>,
    array: &Bound<'_, PyUntypedArray>,
) -> PyResult<()> {
    match tensor.tensor().dtype() {
        DType::F32 => write::<f32>(py, &tensor.tensor(), array),
        DType::F64 => write::<f64>(py, &tensor.tensor(), array),
        DType::I64 => write::<i64>(py, &tensor.tensor(), array),
        d => Err(PyTypeError::new_err(format!(
            "_copy_from_host: {d} tensors are not supported (shape {:?})",
            tensor.tensor().shape()
        ))),
    }
}

/// The work of a bucket call over `ts`, for the GIL policy.
fn bucket_work(ts: &[Tensor]) -> usize {
    let refs: Vec<&Tensor> = ts.iter().collect();
    gil::work(&refs)
}

fn tensors(params: &[PyRef<'_, PyTensor>]) -> Vec<Tensor> {
    params.iter().map(|p| p.tensor()).collect()
}

fn bucket_slice<'a, T: Element>(
    a: &'a mut numpy::PyReadwriteArray1<'_, T>,
    op: &str,
) -> PyResult<&'a mut [T]> {
    a.as_slice_mut().map_err(|_| {
        crate::python::argument_error(format!("{op}: the bucket array is not contiguous"))
    })
}

fn pack<T: HostElem + Element>(
    py: Python<'_>,
    ts: &[Tensor],
    a: &Bound<'_, PyArray1<T>>,
) -> PyResult<()> {
    const OP: &str = "DistributedDataParallel bucket pack";
    let mut rw = a.try_readwrite().map_err(|e| {
        crate::python::argument_error(format!("{OP}: the bucket array is in use ({e})"))
    })?;
    let dst = bucket_slice(&mut rw, OP)?;
    gil::run(py, bucket_work(ts), || host::pack_grads(ts, dst, OP))
}

/// Packs the `.grad` of each parameter of `params`, in order, into the 1-D array `out` (their
/// dtype, exactly their total element count): one copy per gradient, zeros for a parameter
/// without one; a GPU gradient is read back, then copied into its slice.
#[pyfunction]
fn _pack_grads(
    py: Python<'_>,
    params: Vec<PyRef<'_, PyTensor>>,
    out: &Bound<'_, PyUntypedArray>,
) -> PyResult<()> {
    let ts = tensors(&params);
    if let Ok(a) = out.cast::<PyArray1<f32>>() {
        pack::<f32>(py, &ts, a)
    } else if let Ok(a) = out.cast::<PyArray1<f64>>() {
        pack::<f64>(py, &ts, a)
    } else {
        Err(PyTypeError::new_err(
            "_pack_grads: the bucket must be a 1-D float32 or float64 numpy array",
        ))
    }
}

fn unpack<T: HostElem + Element>(
    py: Python<'_>,
    ts: &[Tensor],
    a: &Bound<'_, PyArray1<T>>,
    divisor: usize,
    used: &[bool],
) -> PyResult<()> {
    const OP: &str = "DistributedDataParallel bucket unpack";
    let ro = a.try_readonly().map_err(|e| {
        crate::python::argument_error(format!("{OP}: the bucket array is in use ({e})"))
    })?;
    let src = ro.as_slice().map_err(|_| {
        crate::python::argument_error(format!("{OP}: the bucket array is not contiguous"))
    })?;
    gil::run(py, bucket_work(ts), || {
        host::unpack_grads(ts, src, divisor, used, OP)
    })
}

/// Gives each parameter of `params` whose `used` flag is set a new `.grad`: its slice of the
/// 1-D array `flat` (packed as `_pack_grads` does) divided by `divisor`, on the parameter's
/// device, in one copy (one upload for a GPU parameter).
#[pyfunction]
fn _unpack_grads(
    py: Python<'_>,
    params: Vec<PyRef<'_, PyTensor>>,
    flat: &Bound<'_, PyUntypedArray>,
    divisor: usize,
    used: Vec<bool>,
) -> PyResult<()> {
    let ts = tensors(&params);
    if let Ok(a) = flat.cast::<PyArray1<f32>>() {
        unpack::<f32>(py, &ts, a, divisor, &used)
    } else if let Ok(a) = flat.cast::<PyArray1<f64>>() {
        unpack::<f64>(py, &ts, a, divisor, &used)
    } else {
        Err(PyTypeError::new_err(
            "_unpack_grads: the bucket must be a 1-D float32 or float64 numpy array",
        ))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_host_view, m)?)?;
    m.add_function(wrap_pyfunction!(_mark_written, m)?)?;
    m.add_function(wrap_pyfunction!(_copy_from_host, m)?)?;
    m.add_function(wrap_pyfunction!(_pack_grads, m)?)?;
    m.add_function(wrap_pyfunction!(_unpack_grads, m)?)?;
    Ok(())
}
