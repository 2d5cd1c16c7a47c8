//! The `rustdl._rustdl` extension module: the only code that knows PyO3.
//!
//! Conversions live in `convert`, the `Tensor` class in `tensor`, indexing in `index`, GPU
//! queries in `gpu`; this file maps errors and exposes creation functions, the functional ops,
//! the fused optimizer step and checkpoint I/O.

mod autograd_py;
mod convert;
mod dist;
mod functional;
mod gil;
mod gpu;
mod index;
mod pytensor;

use std::collections::HashMap;

use pyo3::create_exception;
use pyo3::exceptions::{PyIndexError, PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::autograd;
use crate::backend::{OptimStep, RandKind};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::Error;
use crate::tensor::Tensor;

use convert::{parse_device, parse_dtype, size_args, to_tensor};
use pytensor::PyTensor;

create_exception!(
    _rustdl,
    GpuError,
    PyRuntimeError,
    "A failure inside the GPU backend."
);

/// Maps a core error to its Python exception.
pub fn map_error(e: Error) -> PyErr {
    if let Error::Runtime(m) = &e {
        if let Some(err) = take_python_error(m) {
            return err;
        }
    }
    match e {
        Error::Shape(m) => core_error(CoreError::Shape, m),
        Error::Value(m) => core_error(CoreError::Argument, m),
        Error::DType(m) => core_error(CoreError::DType, m),
        Error::Device(m) | Error::Runtime(m) => PyRuntimeError::new_err(m),
        Error::Index(m) => core_error(CoreError::Index, m),
        Error::Io(m) => PyOSError::new_err(m),
        Error::Gpu(m) => GpuError::new_err(m),
        // PyTorch's allocator failures are RuntimeErrors whose message says "out of memory"
        // (code that halves its batch on `except RuntimeError` finds it), and a MemoryError
        Error::Memory(m) if m.contains("out of memory") => core_error(CoreError::Memory, m),
        Error::Memory(m) => core_error(CoreError::Memory, format!("{m} (out of memory)")),
    }
}

/// The core's argument errors as Python classes that are both the builtin a Python user expects
/// (`ValueError`, `TypeError`) and `RuntimeError`, which PyTorch raises for the same mistakes
/// (mismatched shapes, a kernel larger than its input, a multi-element `item()`, mixed dtypes):
/// `except RuntimeError` written for PyTorch catches them, and so does `except ValueError`.
#[derive(Clone, Copy)]
enum CoreError {
    Shape,
    Argument,
    DType,
    ZeroDivision,
    Index,
    Memory,
}

impl CoreError {
    const ALL: [CoreError; 6] = [
        CoreError::Shape,
        CoreError::Argument,
        CoreError::DType,
        CoreError::ZeroDivision,
        CoreError::Index,
        CoreError::Memory,
    ];

    fn name(self) -> &'static str {
        match self {
            CoreError::Shape => "ShapeError",
            CoreError::Argument => "ArgumentError",
            CoreError::DType => "DTypeError",
            CoreError::ZeroDivision => "DivisionByZeroError",
            CoreError::Index => "OutOfRangeError",
            CoreError::Memory => "OutOfMemoryError",
        }
    }

    /// The class, made once per process: `class ShapeError(ValueError, RuntimeError)` etc.
    fn class(self, py: Python<'_>) -> PyResult<&Bound<'_, pyo3::types::PyType>> {
        type Cell = pyo3::sync::PyOnceLock<Py<pyo3::types::PyType>>;
        static CLASSES: [Cell; 6] = [
            Cell::new(),
            Cell::new(),
            Cell::new(),
            Cell::new(),
            Cell::new(),
            Cell::new(),
        ];
        CLASSES[self as usize]
            .get_or_try_init(py, || {
                let builtin = match self {
                    CoreError::DType => py.get_type::<PyTypeError>(),
                    CoreError::ZeroDivision => {
                        py.get_type::<pyo3::exceptions::PyZeroDivisionError>()
                    }
                    CoreError::Index => py.get_type::<PyIndexError>(),
                    CoreError::Memory => py.get_type::<pyo3::exceptions::PyMemoryError>(),
                    _ => py.get_type::<PyValueError>(),
                };
                let attrs = pyo3::types::PyDict::new(py);
                attrs.set_item("__module__", "rustdl")?;
                attrs.set_item(
                    "__doc__",
                    format!(
                        "{} in a rustdl op: a {} and a {} (as PyTorch raises).",
                        match self {
                            CoreError::Shape => "An invalid shape",
                            CoreError::Argument => "An invalid argument",
                            CoreError::DType => "An invalid dtype",
                            CoreError::ZeroDivision => "An integer division by zero",
                            CoreError::Index => "An index out of range",
                            CoreError::Memory => "An allocation that does not fit",
                        },
                        builtin.name()?,
                        match self {
                            CoreError::DType => "NotImplementedError (a RuntimeError)",
                            _ => "RuntimeError",
                        }
                    ),
                )?;
                // a dtype a kernel lacks is PyTorch's NotImplementedError (a RuntimeError)
                let runtime = match self {
                    CoreError::DType => py.get_type::<pyo3::exceptions::PyNotImplementedError>(),
                    _ => py.get_type::<PyRuntimeError>(),
                };
                py.get_type::<pyo3::types::PyType>()
                    .call1((self.name(), (builtin, runtime), attrs))?
                    .cast_into::<pyo3::types::PyType>()
                    .map(|t| t.unbind())
                    .map_err(PyErr::from)
            })
            .map(|t| t.bind(py))
    }
}

/// A bad argument (a negative size, an unknown option) as `rustdl.ArgumentError`: a `ValueError`
/// that is also the `RuntimeError` PyTorch raises for it.
pub(crate) fn argument_error(m: impl Into<String>) -> PyErr {
    core_error(CoreError::Argument, m.into())
}

/// An integer division by zero as `rustdl.DivisionByZeroError`: a `ZeroDivisionError` that is
/// also the `RuntimeError` PyTorch raises for it.
pub(crate) fn zero_division_error(m: impl Into<String>) -> PyErr {
    core_error(CoreError::ZeroDivision, m.into())
}

/// A core argument error of `kind` with message `m` (the plain builtin if the class could not
/// be made).
fn core_error(kind: CoreError, m: String) -> PyErr {
    Python::attach(|py| match kind.class(py) {
        Ok(t) => PyErr::from_type(t.clone(), m),
        Err(_) => match kind {
            CoreError::DType => PyTypeError::new_err(m),
            CoreError::ZeroDivision => pyo3::exceptions::PyZeroDivisionError::new_err(m),
            CoreError::Index => PyIndexError::new_err(m),
            CoreError::Memory => pyo3::exceptions::PyMemoryError::new_err(m),
            _ => PyValueError::new_err(m),
        },
    })
}

/// Python exceptions raised inside the core (a gradient hook, a custom `backward`), kept until
/// the core's error reaches the Python boundary, where [`map_error`] re-raises the original
/// exception (its type, message and traceback), as PyTorch does. At most a few are kept: an error
/// the core swallowed leaves its entry behind until newer ones push it out.
static RAISED: std::sync::Mutex<Vec<(u64, PyErr)>> = std::sync::Mutex::new(Vec::new());
static NEXT_RAISED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
const RAISED_TAG: &str = "[python exception #";

/// The core error for Python exception `e` raised in `context` (e.g. "tensor hook"); the
/// boundary turns it back into `e`.
pub fn python_error(context: &str, e: PyErr) -> Error {
    let id = NEXT_RAISED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let msg = format!("{context} raised {e} {RAISED_TAG}{id}]");
    let mut kept = RAISED.lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() >= 16 {
        kept.remove(0);
    }
    kept.push((id, e));
    Error::Runtime(msg)
}

/// The kept exception a core error message names, if any.
fn take_python_error(msg: &str) -> Option<PyErr> {
    let start = msg.rfind(RAISED_TAG)? + RAISED_TAG.len();
    let id: u64 = msg[start..].split(']').next()?.parse().ok()?;
    let mut kept = RAISED.lock().unwrap_or_else(|p| p.into_inner());
    let at = kept.iter().position(|(k, _)| *k == id)?;
    Some(kept.remove(at).1)
}

/// An element type (`rustdl.float32`, ...).
#[pyclass(name = "dtype", module = "rustdl", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyDType {
    pub d: DType,
    /// `Some("float16")` / `Some("bfloat16")`: a 16-bit float dtype, which rustdl has no storage
    /// for. It is its own object — it compares unequal to float32, hashes apart from it and
    /// reports PyTorch's name and item size, so dtype-keyed tables (a serializer's bytes per
    /// element) keep their entries — while every op reads it as `d` (float32): a tensor asked
    /// for in float16 is a float32 tensor.
    pub alias: Option<&'static str>,
}

impl PyDType {
    /// The one Python object of dtype `d`: every `t.dtype`, `rustdl.float32` and alias (`float`)
    /// is the same object, so `t.dtype is rustdl.float32` holds, as in PyTorch.
    pub fn object(py: Python<'_>, d: DType) -> PyResult<Py<PyDType>> {
        static OBJECTS: [pyo3::sync::PyOnceLock<Py<PyDType>>; DType::ALL.len()] =
            [const { pyo3::sync::PyOnceLock::new() }; DType::ALL.len()];
        OBJECTS
            .get(d.code() as usize)
            .ok_or_else(|| PyRuntimeError::new_err(format!("dtype code {} unknown", d.code())))?
            .get_or_try_init(py, || Py::new(py, PyDType { d, alias: None }))
            .map(|o| o.clone_ref(py))
    }

    /// The one object of the 16-bit float dtype `name` (`float16` or `bfloat16`), read as
    /// float32 by every op (see [`PyDType::alias`]).
    pub fn half_object(py: Python<'_>, name: &str) -> PyResult<Py<PyDType>> {
        static HALF: pyo3::sync::PyOnceLock<Py<PyDType>> = pyo3::sync::PyOnceLock::new();
        static BF16: pyo3::sync::PyOnceLock<Py<PyDType>> = pyo3::sync::PyOnceLock::new();
        let (cell, alias) = match name {
            "float16" | "half" => (&HALF, "float16"),
            "bfloat16" => (&BF16, "bfloat16"),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "no 16-bit float dtype '{name}'"
                )))
            }
        };
        cell.get_or_try_init(py, || {
            Py::new(
                py,
                PyDType {
                    d: DType::F32,
                    alias: Some(alias),
                },
            )
        })
        .map(|o| o.clone_ref(py))
    }
}

#[pymethods]
impl PyDType {
    fn __repr__(&self) -> String {
        format!("rustdl.{}", self.name())
    }
    #[getter]
    fn is_floating_point(&self) -> bool {
        self.d.is_float()
    }
    #[getter]
    fn itemsize(&self) -> usize {
        if self.alias.is_some() {
            2
        } else {
            self.d.itemsize()
        }
    }
    /// The dtype tensors asked for in this one get: float32 for float16/bfloat16, else itself.
    #[getter]
    fn _storage_dtype(&self, py: Python<'_>) -> PyResult<Py<PyDType>> {
        PyDType::object(py, self.d)
    }
    /// False: a real dtype (the complex ones are `rustdl.complex64`/`complex128`).
    #[getter]
    fn is_complex(&self) -> bool {
        false
    }
    #[getter]
    fn is_signed(&self) -> bool {
        !matches!(self.d, DType::U8 | DType::Bool)
    }
    #[getter]
    fn name(&self) -> &'static str {
        self.alias.unwrap_or(self.d.name())
    }
    /// Pickling (`torch.save` of a dict holding a dtype, processes): rebuilt by name.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let rebuild = py.import("rustdl")?.getattr("_rebuild_dtype")?;
        PyTuple::new(py, [rebuild, PyTuple::new(py, [self.name()])?.into_any()])
    }
}

/// Whether the GPU device calls itself `cuda` (type, str, repr): set while `import torch`
/// resolves to rustdl (`rustdl.torchcompat`), so scripts testing `device.type == "cuda"` take
/// their GPU branch. `cuda` is accepted as a spelling of the GPU either way.
static GPU_NAMED_CUDA: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes rustdl's GPU device call itself `cuda` (`on`) or `gpu` (see [`GPU_NAMED_CUDA`]).
#[pyfunction]
fn _name_gpu_cuda(on: bool) {
    GPU_NAMED_CUDA.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Makes the spelling `cuda` mean the CPU (`on`) or the GPU: set by `rustdl.torchcompat` where
/// scripts' "cuda" requests must land on the CPU (see `rustdl.cuda`).
#[pyfunction]
fn _cuda_on_cpu(on: bool) {
    crate::device::set_cuda_on_cpu(on);
}

/// True once `rustdl._dispatch` has installed the `__torch_function__` protocol: the indexing and
/// length slots (`t[i]`, `t[i] = v`, `len(t)`), which stay native so that a tensor never counts as
/// a Python sequence, then hand their calls to it (see `pytensor::torch_function_dunder`).
pub(crate) static TORCH_FUNCTION: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Turns the hand-over of the indexing and length slots to `rustdl._dispatch` on (see
/// [`TORCH_FUNCTION`]).
#[pyfunction]
fn _torch_function_dunders(on: bool) {
    TORCH_FUNCTION.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Makes the spelling `meta` mean the CPU (`on`) or be refused: set by `rustdl.torchcompat`
/// (see `device::set_meta_on_cpu`).
#[pyfunction]
fn _meta_on_cpu(on: bool) {
    crate::device::set_meta_on_cpu(on);
}

/// Checks that `n` float64 elements can be allocated on the host (as a tensor's allocation
/// is): a `MemoryError` naming `op` otherwise. For Python code that builds a large array with
/// numpy before it becomes a tensor (window functions, histograms).
#[pyfunction]
fn _reserve_host(n: usize, op: &str) -> PyResult<()> {
    crate::backend::reserve(n, DType::F64, Device::Cpu, op)?;
    Ok(())
}

fn gpu_name() -> &'static str {
    if GPU_NAMED_CUDA.load(std::sync::atomic::Ordering::Relaxed) {
        "cuda"
    } else {
        "gpu"
    }
}

/// A device (`cpu` or `gpu:N`); compares equal to its string.
#[pyclass(name = "device", module = "rustdl", frozen)]
#[derive(Clone)]
pub struct PyDevice {
    pub d: Device,
}

#[pymethods]
impl PyDevice {
    #[new]
    fn py_new(spec: &str) -> PyResult<Self> {
        Ok(PyDevice {
            d: Device::parse(spec)?,
        })
    }
    #[getter]
    fn r#type(&self) -> &'static str {
        match self.d {
            Device::Cpu => "cpu",
            Device::Gpu(_) => gpu_name(),
        }
    }
    #[getter]
    fn index(&self) -> Option<usize> {
        match self.d {
            Device::Cpu => None,
            Device::Gpu(i) => Some(i),
        }
    }
    fn __str__(&self) -> String {
        match self.d {
            Device::Cpu => "cpu".into(),
            Device::Gpu(i) => format!("{}:{i}", gpu_name()),
        }
    }
    /// Pickling: rebuilt from its spec (`cpu`, `gpu:N`).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let spec = match slf.get().d {
            Device::Cpu => "cpu".to_string(),
            Device::Gpu(i) => format!("gpu:{i}"),
        };
        PyTuple::new(
            py,
            [
                slf.get_type().into_any(),
                PyTuple::new(py, [spec])?.into_any(),
            ],
        )
    }
    fn __repr__(&self) -> String {
        match self.d {
            Device::Cpu => "device(type='cpu')".into(),
            Device::Gpu(i) => format!("device(type='{}', index={i})", gpu_name()),
        }
    }
    /// Equal to a device of the same type and index only: as PyTorch's, a device never equals
    /// a string or an int (`device("cpu") == "cpu"` is False).
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyDevice>().is_ok_and(|o| o.get().d == self.d)
    }
    fn __hash__(&self) -> u64 {
        device_code(self.d)
    }
    /// `with rustdl.device("gpu"):` makes this the default device of the creation functions
    /// inside the block (`torch.device` as a context manager); the previous one comes back after.
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        let prev = DEFAULT_DEVICE.swap(device_code(slf.get().d), Ordering::Relaxed);
        lock_devices().push(prev);
        slf
    }
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> bool {
        if let Some(prev) = lock_devices().pop() {
            DEFAULT_DEVICE.store(prev, Ordering::Relaxed);
        }
        false
    }
}

use std::sync::atomic::Ordering;

/// The default device of the creation functions (`zeros`, `tensor`, `randn`, ... called without
/// `device=`): 0 the CPU, 1 + i GPU i. Set by `set_default_device` and `with device:` blocks.
static DEFAULT_DEVICE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// The defaults `with device:` blocks replaced, innermost last.
static DEVICE_STACK: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

fn lock_devices() -> std::sync::MutexGuard<'static, Vec<u64>> {
    DEVICE_STACK.lock().unwrap_or_else(|p| p.into_inner())
}

fn device_code(d: Device) -> u64 {
    match d {
        Device::Cpu => 0,
        Device::Gpu(i) => 1 + i as u64,
    }
}

pub(crate) fn default_device() -> Device {
    match DEFAULT_DEVICE.load(Ordering::Relaxed) {
        0 => Device::Cpu,
        i => Device::Gpu(i as usize - 1),
    }
}

/// Sets the default device of the creation functions (`None`: the CPU again).
#[pyfunction]
#[pyo3(signature = (device=None))]
fn _set_default_device(device: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    let d = parse_device(device)?.unwrap_or(Device::Cpu);
    DEFAULT_DEVICE.store(device_code(d), Ordering::Relaxed);
    Ok(())
}

/// The default device of the creation functions.
#[pyfunction]
fn _get_default_device() -> PyDevice {
    PyDevice {
        d: default_device(),
    }
}

fn opt_dtype(d: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DType>> {
    match d {
        Some(d) if !d.is_none() => Ok(Some(parse_dtype(d)?)),
        _ => Ok(None),
    }
}

fn dev(d: Option<&Bound<'_, PyAny>>) -> PyResult<Device> {
    Ok(parse_device(d)?.unwrap_or_else(default_device))
}

/// A creation kernel `f` for a tensor of `shape` on `device`, under the GIL policy.
fn create(
    py: Python<'_>,
    shape: &[usize],
    device: Device,
    f: impl FnOnce() -> crate::error::Result<Tensor> + Send,
) -> PyResult<Tensor> {
    let work = if device.is_gpu() {
        gil::ALWAYS
    } else {
        shape.iter().fold(1usize, |a, &b| a.saturating_mul(b))
    };
    gil::run(py, work, f)
}

pub(crate) fn finish(t: Tensor, requires_grad: bool) -> PyResult<PyTensor> {
    if requires_grad {
        t.set_requires_grad(true)?;
    }
    Ok(t.into())
}

#[pyfunction]
#[pyo3(signature = (data, dtype=None, device=None, requires_grad=false))]
fn tensor(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let dt = opt_dtype(dtype)?;
    // a tensor's copy stays on its device unless one is asked for (as PyTorch's)
    let dv = match (device, data.extract::<PyRef<'_, PyTensor>>()) {
        (None, Ok(src)) => src.tensor().device(),
        _ => dev(device)?,
    };
    let t = to_tensor(data, dt)?;
    // float64 data (numpy's default) becomes float32 on the GPU unless float64 was asked for
    let t = if dt.is_none() && dv.is_gpu() && t.dtype() == DType::F64 {
        t.to_dtype(DType::F32)?
    } else {
        t
    };
    let shape = t.shape().to_vec();
    finish(create(py, &shape, dv, || t.to_device(dv))?, requires_grad)
}

/// Makes `dtype` (float32 or float64) the default float dtype (`set_default_dtype`); False for
/// another dtype.
#[pyfunction]
fn _set_default_float(dtype: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(DType::set_default_float(parse_dtype(dtype)?))
}

/// The default float dtype (`get_default_dtype`).
#[pyfunction]
fn _default_float(py: Python<'_>) -> PyResult<Py<PyDType>> {
    PyDType::object(py, DType::default_float())
}

/// A tensor over another process's shared storage (`Tensor._shared_handle`), viewed with the
/// given shape, strides and storage offset: what `rustdl.multiprocessing` rebuilds a shared
/// tensor from.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _from_shared(
    pid: i32,
    fd: i32,
    dtype: &Bound<'_, PyAny>,
    len: usize,
    shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
) -> PyResult<PyTensor> {
    if shape.len() != strides.len() {
        return Err(argument_error(format!(
            "_from_shared: shape {shape:?} and strides {strides:?} differ in length"
        )));
    }
    let dtype = parse_dtype(dtype)?;
    let layout = crate::shape::Layout {
        shape,
        strides,
        offset,
    };
    Ok(Tensor::from_shared(pid, fd, dtype, len, layout)?.into())
}

#[pyfunction]
fn from_numpy(arr: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    let a = arr
        .cast::<numpy::PyUntypedArray>()
        .map_err(|_| PyTypeError::new_err("from_numpy: expected a numpy.ndarray"))?;
    Ok(convert::from_numpy(a, true)?.into())
}

/// The shape of a creation call: sizes as positional arguments (`zeros(2, 3)`, `zeros((2, 3))`)
/// or as the `size=` keyword (`zeros(size=(2, 3))`), not both.
pub(crate) fn shape_arg(
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    name: &str,
) -> PyResult<Vec<usize>> {
    match size.filter(|s| !s.is_none()) {
        None => size_args(args, name),
        Some(s) => {
            if !args.is_empty() {
                return Err(PyTypeError::new_err(format!(
                    "{name}: give the size positionally or as size=, not both"
                )));
            }
            let t = match s.cast::<PyTuple>() {
                Ok(t) => t.clone(),
                Err(_) => match convert::items(s) {
                    Ok(items) => PyTuple::new(s.py(), items)?,
                    Err(_) => PyTuple::new(s.py(), [s])?,
                },
            };
            size_args(&t, name)
        }
    }
}

/// A creation call's tensor: the shape from `args`/`size=`, float32 on the CPU unless asked
/// otherwise, drawn from `generator` when given (random kernels).
#[allow(clippy::too_many_arguments)]
fn make_sized(
    py: Python<'_>,
    name: &str,
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    make: fn(&[usize], DType, Device) -> crate::error::Result<Tensor>,
) -> PyResult<PyTensor> {
    let shape = shape_arg(args, size, name)?;
    let (dt, dv) = (
        opt_dtype(dtype)?.unwrap_or(DType::default_float()),
        dev(device)?,
    );
    let t = with_generator(generator, || {
        create(py, &shape, dv, || make(&shape, dt, dv))
    })?;
    finish(t, requires_grad)
}

/// `name(*size, dtype=None, device=None, requires_grad=False)`: a new tensor from a creation
/// kernel `make(shape, dtype, device)`.
macro_rules! sized {
    ($name:ident, $make:expr) => {
        #[pyfunction]
        #[pyo3(signature = (*args, size=None, dtype=None, device=None, requires_grad=false))]
        fn $name(
            py: Python<'_>,
            args: &Bound<'_, PyTuple>,
            size: Option<&Bound<'_, PyAny>>,
            dtype: Option<&Bound<'_, PyAny>>,
            device: Option<&Bound<'_, PyAny>>,
            requires_grad: bool,
        ) -> PyResult<PyTensor> {
            let name = stringify!($name);
            make_sized(
                py,
                name,
                args,
                size,
                None,
                dtype,
                device,
                requires_grad,
                $make,
            )
        }
    };
}
sized!(zeros, |s, d, v| Tensor::full(s, 0.0, d, v)
    .map_err(|e| e.renamed("full", "zeros")));
sized!(ones, |s, d, v| Tensor::full(s, 1.0, d, v)
    .map_err(|e| e.renamed("full", "ones")));
sized!(empty, |s, d, v| Tensor::full(s, 0.0, d, v)
    .map_err(|e| e.renamed("full", "empty")));
/// `name(*size, generator=None, dtype=None, device=None, requires_grad=False)`: a random tensor
/// from `make(shape, dtype, device)`, drawn from `generator` when given.
macro_rules! random_sized {
    ($name:ident, $make:expr) => {
        #[pyfunction]
        #[pyo3(signature = (*args, size=None, generator=None, dtype=None, device=None, requires_grad=false))]
        #[allow(clippy::too_many_arguments)]
        fn $name(
            py: Python<'_>,
            args: &Bound<'_, PyTuple>,
            size: Option<&Bound<'_, PyAny>>,
            generator: Option<&Bound<'_, PyAny>>,
            dtype: Option<&Bound<'_, PyAny>>,
            device: Option<&Bound<'_, PyAny>>,
            requires_grad: bool,
        ) -> PyResult<PyTensor> {
            let name = stringify!($name);
            make_sized(py, name, args, size, generator, dtype, device, requires_grad, $make)
        }
    };
}
random_sized!(rand, Tensor::rand);
random_sized!(randn, Tensor::randn);

#[pyfunction]
#[pyo3(signature = (size, fill_value, dtype=None, device=None, requires_grad=false))]
fn full(
    py: Python<'_>,
    size: &Bound<'_, PyAny>,
    fill_value: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let size = match size.cast::<PyTuple>() {
        Ok(t) => t.clone(),
        Err(_) => PyTuple::new(size.py(), [size])?,
    };
    let size = size_args(&size, "full")?;
    let v: f64 = fill_value.extract()?;
    // a numpy scalar counts as the Python number of its kind (np.int64(2) fills int64)
    let np_kind: Option<String> = if fill_value.is_instance_of::<pyo3::types::PyInt>()
        || fill_value.is_instance_of::<pyo3::types::PyFloat>()
    {
        None
    } else if let Ok(t) = fill_value.extract::<PyRef<'_, PyTensor>>() {
        // a one-element tensor counts as the number it holds, as PyTorch's Scalar of it
        let dt = t.tensor().dtype();
        Some(
            if dt == DType::Bool {
                "b"
            } else if dt.is_int() {
                "i"
            } else {
                "f"
            }
            .to_string(),
        )
    } else {
        fill_value
            .getattr("dtype")
            .and_then(|d| d.getattr("kind"))
            .and_then(|k| k.extract())
            .ok()
    };
    let inferred =
        if fill_value.is_instance_of::<pyo3::types::PyBool>() || np_kind.as_deref() == Some("b") {
            DType::Bool
        } else if fill_value.is_instance_of::<pyo3::types::PyInt>()
            || matches!(np_kind.as_deref(), Some("i" | "u"))
        {
            DType::I64
        } else {
            DType::default_float()
        };
    let (dt, dv) = (opt_dtype(dtype)?.unwrap_or(inferred), dev(device)?);
    convert::check_fits(fill_value, dt, "full")?;
    // an int64 fill past 2^53, which a float64 would round: expanded from the exact value
    if let (DType::I64, Ok(iv)) = (dt, fill_value.extract::<i64>()) {
        if iv.unsigned_abs() > 1u64 << 53 && !fill_value.is_instance_of::<pyo3::types::PyBool>() {
            let t = create(py, &size, dv, || {
                Tensor::from_i64(vec![iv], &[])?
                    .to_device(dv)?
                    .expand(&size)?
                    .contiguous()
            })?;
            return finish(t, requires_grad);
        }
    }
    let t = create(py, &size, dv, || Tensor::full(&size, v, dt, dv))?;
    finish(t, requires_grad)
}

macro_rules! like {
    ($name:ident, $body:expr) => {
        #[pyfunction]
        #[pyo3(signature = (input, dtype=None, device=None, requires_grad=false))]
        fn $name(
            py: Python<'_>,
            input: PyRef<'_, PyTensor>,
            dtype: Option<&Bound<'_, PyAny>>,
            device: Option<&Bound<'_, PyAny>>,
            requires_grad: bool,
        ) -> PyResult<PyTensor> {
            let dt = opt_dtype(dtype)?.unwrap_or(input.tensor().dtype());
            let dv = parse_device(device)?.unwrap_or(input.tensor().device());
            let f: fn(&Tensor, DType, Device) -> crate::error::Result<Tensor> = $body;
            let src = input.tensor().clone();
            let shape = src.shape().to_vec();
            finish(create(py, &shape, dv, || f(&src, dt, dv))?, requires_grad)
        }
    };
}

/// Random values shaped as `src`, drawn in its memory order with its strides, as PyTorch's
/// `*_like` keep a permuted input's layout (so seeded draws match; a non-contiguous one takes
/// the one-at-a-time draws, as PyTorch's fill of it). An input whose elements do not tile its
/// memory (expanded, sliced with a step) gives a contiguous result, as PyTorch's `empty_like`,
/// filled by the bulk draws.
fn random_like(
    src: &Tensor,
    kind: RandKind,
    dt: DType,
    dv: Device,
) -> crate::error::Result<Tensor> {
    if !non_overlapping_and_dense(src.shape(), src.strides()) {
        return Tensor::rand_kind_laid(src.shape(), kind, dt, dv, true);
    }
    let contiguous = src.is_contiguous();
    src.fill_in_memory_order(|s| Tensor::rand_kind_laid(s, kind, dt, dv, contiguous))
}

/// Whether a layout's elements tile a block of memory exactly, in some order of the dims (size-1
/// dims aside), as PyTorch's `is_non_overlapping_and_dense`.
fn non_overlapping_and_dense(shape: &[usize], strides: &[usize]) -> bool {
    let mut dims: Vec<usize> = (0..shape.len()).filter(|&d| shape[d] != 1).collect();
    dims.sort_by_key(|&d| strides[d]);
    let mut expected = 1usize;
    for d in dims {
        if strides[d] != expected {
            return false;
        }
        expected *= shape[d];
    }
    true
}

like!(zeros_like, |x, d, v| Tensor::zeros(x.shape(), d, v));
like!(ones_like, |x, d, v| Tensor::ones(x.shape(), d, v));
like!(empty_like, |x, d, v| Tensor::zeros(x.shape(), d, v));
like!(rand_like, |x, d, v| random_like(
    x,
    RandKind::Uniform(0.0, 1.0),
    d,
    v
));
like!(randn_like, |x, d, v| random_like(
    x,
    RandKind::Normal(0.0, 1.0),
    d,
    v
));

#[pyfunction]
#[pyo3(signature = (input, fill_value, dtype=None, device=None, requires_grad=false))]
fn full_like(
    py: Python<'_>,
    input: PyRef<'_, PyTensor>,
    fill_value: f64,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let dt = opt_dtype(dtype)?.unwrap_or(input.tensor().dtype());
    let dv = parse_device(device)?.unwrap_or(input.tensor().device());
    let shape = input.tensor().shape().to_vec();
    finish(
        create(py, &shape, dv, || Tensor::full(&shape, fill_value, dt, dv))?,
        requires_grad,
    )
}

#[pyfunction]
#[pyo3(signature = (start, end=None, step=None, dtype=None, device=None, requires_grad=false))]
fn arange(
    py: Python<'_>,
    start: &Bound<'_, PyAny>,
    end: Option<&Bound<'_, PyAny>>,
    step: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    // an int, or what stands for one (a numpy integer, a 0-d integer tensor): `__index__` works
    let is_int = |o: &Bound<'_, PyAny>| {
        o.is_instance_of::<pyo3::types::PyInt>()
            || (!o.is_instance_of::<pyo3::types::PyFloat>() && o.call_method0("__index__").is_ok())
    };
    let all_int = is_int(start) && end.is_none_or(&is_int) && step.is_none_or(&is_int);
    let (s, e) = match end {
        Some(e) => (start.extract::<f64>()?, e.extract::<f64>()?),
        None => (0.0, start.extract::<f64>()?),
    };
    let st = match step {
        Some(s) => s.extract::<f64>()?,
        None => 1.0,
    };
    let dt = opt_dtype(dtype)?.unwrap_or(if all_int {
        DType::I64
    } else {
        DType::default_float()
    });
    let dv = dev(device)?;
    // the element count, for the GIL policy only (a NaN or infinite count saturates)
    let n = ((e - s) / st).abs().ceil() as usize;
    let t = create(py, &[n], dv, || Tensor::arange(s, e, st, dt, dv))?;
    finish(t, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (start, end, steps, dtype=None, device=None, requires_grad=false))]
fn linspace(
    py: Python<'_>,
    start: f64,
    end: f64,
    steps: isize,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let steps = usize::try_from(steps).map_err(|_| {
        argument_error(format!(
            "linspace: number of steps must be non-negative, got {steps}"
        ))
    })?;
    crate::shape::checked_numel(&[steps], "linspace")?;
    let (dt, dv) = (
        opt_dtype(dtype)?.unwrap_or(DType::default_float()),
        dev(device)?,
    );
    let t = create(py, &[steps], dv, || {
        Tensor::linspace(start, end, steps, dt, dv)
    })?;
    finish(t, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (n, m=None, dtype=None, device=None, requires_grad=false))]
fn eye(
    py: Python<'_>,
    n: isize,
    m: Option<isize>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let size = |v: isize| {
        usize::try_from(v)
            .map_err(|_| argument_error(format!("eye: n and m must be non-negative, got {v}")))
    };
    let (n, m) = (size(n)?, m.map(size).transpose()?);
    crate::shape::checked_numel(&[n, m.unwrap_or(n)], "eye")?;
    let (m, dt, dv) = (
        m.unwrap_or(n),
        opt_dtype(dtype)?.unwrap_or(DType::default_float()),
        dev(device)?,
    );
    finish(
        create(py, &[n, m], dv, || Tensor::eye(n, m, dt, dv))?,
        requires_grad,
    )
}

/// `randint(high, size)` or `randint(low, high, size)`, with `low`, `high` and `size` also as
/// keywords (as PyTorch); int64 unless `dtype` says otherwise.
#[pyfunction]
#[pyo3(signature = (*args, low=None, high=None, size=None, generator=None, dtype=None, device=None, requires_grad=false))]
#[allow(clippy::too_many_arguments)]
fn randint(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    low: Option<i64>,
    high: Option<i64>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let mut pos: Vec<Bound<'_, PyAny>> = args.iter().collect();
    // the size is the last positional argument unless given as a keyword
    let size_obj = match size {
        Some(s) => s.clone(),
        None => match pos.pop() {
            Some(s) => s,
            None => {
                return Err(PyTypeError::new_err(
                    "randint(low=0, high, size): missing the size argument",
                ))
            }
        },
    };
    if size_obj.is_instance_of::<PyTensor>() {
        return Err(PyTypeError::new_err(
            "randint: size must be a tuple of non-negative ints, not a Tensor",
        ));
    }
    let size: Vec<usize> = match size_obj.extract::<usize>() {
        Ok(n) => vec![n],
        Err(_) => size_obj.extract().map_err(|_| {
            PyTypeError::new_err("randint: size must be a tuple of non-negative ints")
        })?,
    };
    let ints = pos
        .iter()
        .map(|a| a.extract::<i64>())
        .collect::<PyResult<Vec<i64>>>()
        .map_err(|_| PyTypeError::new_err("randint: low and high must be ints"))?;
    let (lo, hi) = match (ints.as_slice(), low, high) {
        ([], l, Some(h)) => (l.unwrap_or(0), h),
        ([h], None, None) => (0, *h),
        ([l], None, Some(h)) => (*l, h),
        ([l, h], None, None) => (*l, *h),
        _ => {
            return Err(PyTypeError::new_err(
                "randint(low=0, high, size): expected high (and optionally low) and a size",
            ))
        }
    };
    let dv = dev(device)?;
    if let Some(d) = opt_dtype(dtype)? {
        check_random_bounds("randint", lo, hi, d)?;
    }
    let t = with_generator(generator, || {
        create(py, &size, dv, || Tensor::randint(lo, hi, &size, dv))
    })?;
    let t = match opt_dtype(dtype)? {
        Some(d) => t.to_dtype(d)?,
        None => t,
    };
    finish(t, requires_grad)
}

/// PyTorch's check of `[lo, hi)` against an integer `dtype` (a value that does not fit would
/// wrap around): `from` and `to - 1` must be values of the dtype, named as PyTorch names them.
fn check_random_bounds(op: &str, lo: i64, hi: i64, dtype: DType) -> PyResult<()> {
    let (min, max, name): (i128, i128, &str) = match dtype {
        DType::Bool => (0, 1, "bool"),
        DType::U8 => (0, u8::MAX.into(), "unsigned char"),
        DType::I8 => (i8::MIN.into(), i8::MAX.into(), "signed char"),
        DType::I16 => (i16::MIN.into(), i16::MAX.into(), "short"),
        DType::I32 => (i32::MIN.into(), i32::MAX.into(), "int"),
        _ => return Ok(()),
    };
    if !(min..=max).contains(&i128::from(lo)) {
        return Err(PyRuntimeError::new_err(format!(
            "{op}: from is out of bounds for {name} (from={lo})"
        )));
    }
    let top = i128::from(hi) - 1;
    if !(min..=max).contains(&top) {
        return Err(PyRuntimeError::new_err(format!(
            "{op}: to - 1 is out of bounds for {name} (to={hi})"
        )));
    }
    Ok(())
}

/// Sets the number of CPU threads the kernels use (the calling thread included), like
/// `torch.set_num_threads`. The default comes from `RUSTDL_NUM_THREADS`, `OMP_NUM_THREADS` or
/// the number of cores.
#[pyfunction]
fn set_num_threads(n: usize) -> PyResult<()> {
    if n == 0 {
        return Err(argument_error(
            "set_num_threads: the number of threads must be at least 1, got 0",
        ));
    }
    crate::backend::cpu::pool::set_threads(n);
    Ok(())
}

/// The number of CPU threads the kernels use.
#[pyfunction]
fn get_num_threads() -> usize {
    crate::backend::cpu::pool::threads()
}

#[pyfunction]
fn manual_seed(seed: u64) {
    crate::random::manual_seed(seed)
}

#[pyfunction]
fn initial_seed() -> u64 {
    crate::random::initial_seed()
}

/// The global generator's (seed, offset).
#[pyfunction]
fn _rng_state() -> (u64, u64) {
    crate::random::state()
}

/// Sets the global generator's (seed, offset).
#[pyfunction]
fn _rng_set_state(seed: u64, offset: u64) {
    crate::random::swap_state((seed, offset));
}

/// The CPU stream of a `rustdl.Generator` (its `_cpu`): a Mersenne Twister that draws as
/// PyTorch's CPU generator does.
#[pyclass(name = "_CpuGen", module = "rustdl._rustdl")]
pub(crate) struct PyCpuGen {
    inner: std::sync::Mutex<crate::random::CpuGen>,
}

impl PyCpuGen {
    fn lock(&self) -> std::sync::MutexGuard<'_, crate::random::CpuGen> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PyCpuGen {
    #[new]
    fn new(seed: u64) -> Self {
        PyCpuGen {
            inner: std::sync::Mutex::new(crate::random::CpuGen::new(seed)),
        }
    }
    #[getter]
    fn seed(&self) -> u64 {
        self.lock().seed
    }
    /// The state as bytes (seed, position, the 624 words, a cached normal).
    fn get_state<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, &self.lock().to_bytes())
    }
    fn set_state(&self, state: &[u8]) -> PyResult<()> {
        *self.lock() = cpu_gen_from(state)?;
        Ok(())
    }
    fn clone(&self) -> Self {
        PyCpuGen {
            inner: std::sync::Mutex::new(self.lock().clone()),
        }
    }
}

fn cpu_gen_from(state: &[u8]) -> PyResult<crate::random::CpuGen> {
    crate::random::CpuGen::from_bytes(state).ok_or_else(|| {
        PyValueError::new_err(format!(
            "set_state: expected the {}-byte CPU generator state get_state returns, got {} bytes",
            crate::random::CpuGen::BYTES,
            state.len()
        ))
    })
}

/// Gives the calling thread a CPU generator of its own seeded with `seed` (a data-loading
/// worker's, as PyTorch seeds each worker process with `base_seed + worker_id`); None: the
/// thread goes back to the global generator.
#[pyfunction]
#[pyo3(signature = (seed=None))]
fn _set_thread_generator(seed: Option<u64>) {
    crate::random::set_thread_generator(seed)
}

/// The global CPU generator's state as bytes.
#[pyfunction]
fn _cpu_rng_state<'py>(py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
    pyo3::types::PyBytes::new(py, &crate::random::with_cpu(|g| g.to_bytes()))
}

/// Restores the global CPU generator from `_cpu_rng_state`'s bytes.
#[pyfunction]
fn _cpu_rng_set_state(state: &[u8]) -> PyResult<()> {
    let g = cpu_gen_from(state)?;
    crate::random::with_cpu(|c| *c = g);
    Ok(())
}

/// A random permutation of `0..n` from the CPU stream (int64, on the CPU), as PyTorch's.
#[pyfunction]
#[pyo3(signature = (n, generator=None))]
fn _randperm_cpu(n: usize, generator: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
    crate::backend::reserve(n, DType::I64, Device::Cpu, "randperm")?;
    let v = with_generator(generator, || Ok(crate::random::randperm(n)))?;
    Ok(Tensor::from_i64(v, &[n])?.into())
}

/// `n` CPU draws of a distribution PyTorch samples one float64 uniform (or normal) at a time:
/// `exponential` (rate a), `cauchy` (median a, scale b), `geometric` (p = a), `log_normal`
/// (mean a, std b), `uniform64` (float64 uniforms in [a, b)), `normal64` (scalar float64
/// normals, mean a, std b) as a float64 tensor; `below` (`random_()`: [0, modulus) from 64-bit
/// draws when `wide`, else 32-bit ones) as int64.
#[pyfunction]
#[pyo3(signature = (kind, n, a=0.0, b=0.0, modulus=1, wide=false, generator=None))]
#[allow(clippy::too_many_arguments)]
fn _cpu_draw(
    kind: &str,
    n: usize,
    a: f64,
    b: f64,
    modulus: u64,
    wide: bool,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    use crate::random as r;
    crate::backend::reserve(n, DType::F64, Device::Cpu, kind)?;
    let t = with_generator(generator, || {
        Ok(match kind {
            "exponential" => {
                Tensor::from_f64(r::from_uniform_f64(n, |u| -1.0 / a * (1.0 - u).ln()), &[n])
            }
            "cauchy" => Tensor::from_f64(
                r::from_uniform_f64(n, |u| a + b * (std::f64::consts::PI * (u - 0.5)).tan()),
                &[n],
            ),
            "geometric" => Tensor::from_f64(
                r::from_uniform_f64(n, |u| (u.ln() / (1.0 - a).ln()).ceil()),
                &[n],
            ),
            "log_normal" => Tensor::from_f64(
                r::normal_serial(n, a, b)
                    .into_iter()
                    .map(f64::exp)
                    .collect(),
                &[n],
            ),
            "uniform64" => Tensor::from_f64(r::uniform_f64(n, a, b), &[n]),
            "normal64" => Tensor::from_f64(r::normal_serial(n, a, b), &[n]),
            "below" => Tensor::from_i64(r::random_below(n, modulus.max(1), wide), &[n]),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "_cpu_draw: unknown distribution {kind:?}"
                )))
            }
        })
    })?;
    Ok(t?.into())
}

/// One CPU draw per parameter value, in order: `gamma` (Gamma(alpha, 1), `single` for a
/// float32 tensor's arithmetic, at least the smallest normal number of its dtype), `poisson`
/// (rate) or `binomial` (`params` holding (count, prob) pairs), as a float64 tensor of one value
/// per draw.
#[pyfunction]
#[pyo3(signature = (kind, params, single=false, generator=None))]
fn _cpu_draw_each(
    kind: &str,
    params: Vec<f64>,
    single: bool,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    use crate::random as r;
    let tiny = if single {
        f64::from(f32::MIN_POSITIVE)
    } else {
        f64::MIN_POSITIVE
    };
    let v: Vec<f64> = with_generator(generator, || {
        Ok(r::with_cpu(|g| match kind {
            "gamma" => Ok(params
                .iter()
                .map(|&a| {
                    let x = r::sample_gamma(g, a, single);
                    let x = if single { f64::from(x as f32) } else { x };
                    x.max(tiny)
                })
                .collect()),
            "poisson" => Ok(params.iter().map(|&l| r::sample_poisson(g, l)).collect()),
            // (count, prob) pairs
            "binomial" => Ok(params
                .chunks_exact(2)
                .map(|cp| r::sample_binomial(g, cp[0], cp[1], single))
                .collect()),
            _ => Err(PyValueError::new_err(format!(
                "_cpu_draw_each: unknown distribution {kind:?}"
            ))),
        }))
    })??;
    let n = v.len();
    Ok(Tensor::from_f64(v, &[n])?.into())
}

/// Runs `f` drawing from `generator` (a `rustdl.Generator`: its `_state` is the GPU stream's
/// (seed, offset) pair, its `_cpu` the CPU stream) instead of the global streams, and stores the
/// advanced states back; without one, `f` draws from the global streams.
pub(crate) fn with_generator<R>(
    generator: Option<&Bound<'_, PyAny>>,
    f: impl FnOnce() -> PyResult<R>,
) -> PyResult<R> {
    let Some(g) = generator.filter(|g| !g.is_none()) else {
        return f();
    };
    // the default generator is the global streams themselves (its `_cpu` is None)
    let cpu = g.getattr("_cpu").ok();
    let cpu = match &cpu {
        Some(c) if !c.is_none() => Some(c.cast::<PyCpuGen>().map_err(|_| {
            PyTypeError::new_err("generator._cpu must be the generator's own CPU stream")
        })?),
        _ => None,
    };
    if let Some(c) = cpu {
        crate::random::swap_cpu(&mut c.borrow().lock());
    }
    let out = with_counter_state(g, f);
    if let Some(c) = cpu {
        crate::random::swap_cpu(&mut c.borrow().lock());
    }
    out
}

fn with_counter_state<R>(g: &Bound<'_, PyAny>, f: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    let state: (u64, u64) = g.getattr("_state").and_then(|s| s.extract()).map_err(|_| {
        PyTypeError::new_err(format!(
            "generator must be a rustdl.Generator, got {}",
            g.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "?".into())
        ))
    })?;
    let previous = crate::random::swap_state(state);
    let out = f();
    let advanced = crate::random::swap_state(previous);
    g.setattr("_state", advanced)?;
    out
}

fn tensors_of(seq: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    // a tensor is a sequence of its rows, but PyTorch takes only a tuple or list here (and
    // iterating 2^40 empty rows would never end)
    if seq.is_instance_of::<PyTensor>() {
        return Err(PyTypeError::new_err(
            "expected a tuple or list of Tensors for 'tensors', got a Tensor",
        ));
    }
    seq.try_iter()?
        .map(|x| {
            let x = x?;
            match x.extract::<PyRef<'_, PyTensor>>() {
                Ok(t) => Ok(t.tensor()),
                Err(_) => Ok(to_tensor(&x, None)?),
            }
        })
        .collect()
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=0))]
fn cat(py: Python<'_>, tensors: &Bound<'_, PyAny>, dim: isize) -> PyResult<PyTensor> {
    let ts = tensors_of(tensors)?;
    let work = gil::work(&ts.iter().collect::<Vec<_>>());
    Ok(gil::run(py, work, move || Tensor::cat(&ts, dim))?.into())
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=0))]
fn stack(py: Python<'_>, tensors: &Bound<'_, PyAny>, dim: isize) -> PyResult<PyTensor> {
    let ts = tensors_of(tensors)?;
    let work = gil::work(&ts.iter().collect::<Vec<_>>());
    Ok(gil::run(py, work, move || Tensor::stack(&ts, dim))?.into())
}

#[pyfunction]
#[pyo3(name = "where")]
fn where_(
    py: Python<'_>,
    condition: PyRef<'_, PyTensor>,
    input: &Bound<'_, PyAny>,
    other: &Bound<'_, PyAny>,
) -> PyResult<PyTensor> {
    let c = condition.tensor();
    // Python bools stay bool (`where(mask, other_mask, False)` is a bool mask, as PyTorch)
    let side = |o: &Bound<'_, PyAny>| -> PyResult<crate::ops::promote::Operand> {
        match pytensor::bool_scalar(o, c.device())? {
            Some(b) => Ok(b),
            None => pytensor::operand(o),
        }
    };
    // a Python int beside an integer tensor takes the tensor's dtype, and must fit it
    for (t, s) in [(input, other), (other, input)] {
        if let Ok(pt) = t.extract::<PyRef<'_, PyTensor>>() {
            if s.is_instance_of::<pyo3::types::PyInt>() {
                convert::check_fits(s, pt.tensor().dtype(), "where")?;
            }
        }
    }
    let (a, b) = (side(input)?, side(other)?);
    Ok(gil::run(py, gil::work(&[&c]), move || {
        Tensor::where_operands(&c, &a, &b)
    })?
    .into())
}

#[pyfunction]
fn is_grad_enabled() -> bool {
    autograd::is_grad_enabled()
}

#[pyfunction]
fn set_grad_enabled(mode: bool) -> bool {
    autograd::set_grad_enabled(mode)
}

/// One fused optimizer update over a parameter group.
///
/// `kind` is `sgd`, `adam`, `adamw`, `rmsprop`, `adagrad`, `adamax`, `nadam`, `radam` or
/// `adadelta`; `hyper` holds the group's hyper-parameters;
/// `states` holds, per parameter, the list of its state tensors (created by the caller).
#[pyfunction]
fn optim_step(
    py: Python<'_>,
    kind: &str,
    params: &Bound<'_, PyList>,
    states: &Bound<'_, PyList>,
    hyper: &Bound<'_, PyDict>,
) -> PyResult<()> {
    let get = |k: &str, default: f64| -> PyResult<f64> {
        match hyper.get_item(k)? {
            Some(v) if !v.is_none() => v.extract::<f64>(),
            _ => Ok(default),
        }
    };
    let flag = |k: &str| -> PyResult<bool> {
        match hyper.get_item(k)? {
            Some(v) if !v.is_none() => v.extract::<bool>(),
            _ => Ok(false),
        }
    };
    // one set of hyper-parameters for the whole group
    let step = match kind {
        "sgd" => OptimStep::Sgd {
            lr: get("lr", 0.01)?,
            momentum: get("momentum", 0.0)?,
            dampening: get("dampening", 0.0)?,
            nesterov: flag("nesterov")?,
            weight_decay: get("weight_decay", 0.0)?,
            first: flag("first")?,
            maximize: flag("maximize")?,
        },
        "adam" | "adamw" => OptimStep::Adam {
            lr: get("lr", 1e-3)?,
            beta1: get("beta1", 0.9)?,
            beta2: get("beta2", 0.999)?,
            eps: get("eps", 1e-8)?,
            weight_decay: get("weight_decay", 0.0)?,
            decoupled: kind == "adamw",
            amsgrad: flag("amsgrad")?,
            t: get("step", 1.0)? as u64,
            maximize: flag("maximize")?,
        },
        "rmsprop" => OptimStep::RmsProp {
            lr: get("lr", 1e-2)?,
            alpha: get("alpha", 0.99)?,
            eps: get("eps", 1e-8)?,
            weight_decay: get("weight_decay", 0.0)?,
            momentum: get("momentum", 0.0)?,
            centered: flag("centered")?,
            maximize: flag("maximize")?,
        },
        "adagrad" => OptimStep::Adagrad {
            lr: get("lr", 1e-2)?,
            lr_decay: get("lr_decay", 0.0)?,
            weight_decay: get("weight_decay", 0.0)?,
            eps: get("eps", 1e-10)?,
            t: get("step", 1.0)? as u64,
            maximize: flag("maximize")?,
        },
        "adamax" => OptimStep::Adamax {
            lr: get("lr", 2e-3)?,
            beta1: get("beta1", 0.9)?,
            beta2: get("beta2", 0.999)?,
            eps: get("eps", 1e-8)?,
            weight_decay: get("weight_decay", 0.0)?,
            t: get("step", 1.0)? as u64,
            maximize: flag("maximize")?,
        },
        "nadam" => OptimStep::NAdam {
            lr: get("lr", 2e-3)?,
            beta1: get("beta1", 0.9)?,
            beta2: get("beta2", 0.999)?,
            eps: get("eps", 1e-8)?,
            weight_decay: get("weight_decay", 0.0)?,
            decoupled: flag("decoupled_weight_decay")?,
            mu: get("mu", 0.0)?,
            mu_next: get("mu_next", 0.0)?,
            mu_product: get("mu_product", 0.0)?,
            t: get("step", 1.0)? as u64,
            maximize: flag("maximize")?,
        },
        "radam" => OptimStep::RAdam {
            lr: get("lr", 1e-3)?,
            beta1: get("beta1", 0.9)?,
            beta2: get("beta2", 0.999)?,
            eps: get("eps", 1e-8)?,
            weight_decay: get("weight_decay", 0.0)?,
            decoupled: flag("decoupled_weight_decay")?,
            t: get("step", 1.0)? as u64,
            maximize: flag("maximize")?,
        },
        "adadelta" => OptimStep::Adadelta {
            lr: get("lr", 1.0)?,
            rho: get("rho", 0.9)?,
            eps: get("eps", 1e-6)?,
            weight_decay: get("weight_decay", 0.0)?,
            maximize: flag("maximize")?,
        },
        other => {
            return Err(argument_error(format!(
                "optim_step: unknown optimizer kind '{other}'"
            )))
        }
    };
    let mut work: Vec<(Tensor, Tensor, Vec<Tensor>, OptimStep)> = Vec::with_capacity(params.len());
    for (p, st) in params.iter().zip(states.iter()) {
        let p = p.extract::<PyRef<'_, PyTensor>>()?.tensor();
        let Some(g) = p.grad() else { continue };
        let st_list = st.cast::<PyList>()?;
        let st_tensors: Vec<Tensor> = st_list
            .iter()
            .map(|s| Ok(s.extract::<PyRef<'_, PyTensor>>()?.tensor()))
            .collect::<PyResult<_>>()?;
        work.push((p, g, st_tensors, step));
    }
    gil::nogil(py, gil::ALWAYS, move || crate::optim::step_many(&work))?;
    Ok(())
}

/// Saves a dict of tensors (and string metadata) as safetensors, atomically.
#[pyfunction]
#[pyo3(signature = (tensors, path, metadata=None))]
fn save_file(
    py: Python<'_>,
    tensors: &Bound<'_, PyDict>,
    path: std::path::PathBuf,
    metadata: Option<HashMap<String, String>>,
) -> PyResult<()> {
    let items = checkpoint_items(tensors)?;
    let meta = metadata.unwrap_or_default();
    gil::nogil(py, gil::ALWAYS, move || {
        crate::io::save(&path, &items, meta)
    })?;
    Ok(())
}

/// Writes `data` to `path` as rustdl's own saves do: a temp file beside it, fsynced, then renamed
/// over it (through a symlink to its target, keeping an existing file's mode).
#[pyfunction]
fn _write_file_atomic(py: Python<'_>, path: std::path::PathBuf, data: Vec<u8>) -> PyResult<()> {
    gil::nogil(py, gil::ALWAYS, move || {
        crate::io::write_atomic(&path, &data)
    })?;
    Ok(())
}

/// Loads a safetensors file: `(dict of tensors, metadata dict)`.
#[pyfunction]
#[pyo3(signature = (path, device=None))]
fn load_file<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    device: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
    let dv = dev(device)?;
    checkpoint_dicts(py, move || on_device(crate::io::load(&path)?, dv))
}

// ---- checkpoint bytes: save/load through memory, for file objects (no temp file) ----

/// A loaded checkpoint's tensors moved to `dv`.
fn on_device(
    (tensors, meta): crate::io::NamedTensors,
    dv: Device,
) -> crate::error::Result<crate::io::NamedTensors> {
    let tensors = tensors
        .into_iter()
        .map(|(k, t)| Ok((k, t.to_device(dv)?)))
        .collect::<crate::error::Result<_>>()?;
    Ok((tensors, meta))
}

/// Runs a checkpoint reader without the GIL and returns its `(tensors, metadata)` as dicts.
fn checkpoint_dicts<'py>(
    py: Python<'py>,
    read: impl FnOnce() -> crate::error::Result<crate::io::NamedTensors> + Send,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
    let (tensors, meta) = gil::run(py, gil::ALWAYS, read)?;
    let d = PyDict::new(py);
    for (k, t) in tensors {
        d.set_item(k, PyTensor::from(t))?;
    }
    let m = PyDict::new(py);
    for (k, v) in meta {
        m.set_item(k, v)?;
    }
    Ok((d, m))
}

/// The `(name, tensor)` pairs of a dict of tensors, for the checkpoint writers.
fn checkpoint_items(tensors: &Bound<'_, PyDict>) -> PyResult<Vec<(String, Tensor)>> {
    let mut items = Vec::with_capacity(tensors.len());
    for (k, v) in tensors.iter() {
        let name: String = k.extract()?;
        let t = v
            .extract::<PyRef<'_, PyTensor>>()
            .map_err(|_| PyTypeError::new_err(format!("save: value for '{name}' is not a Tensor")))?
            .tensor()
            .clone();
        items.push((name, t));
    }
    Ok(items)
}

/// Serialises a dict of tensors (and string metadata) to safetensors `bytes`.
#[pyfunction]
#[pyo3(signature = (tensors, metadata=None))]
fn save_bytes<'py>(
    py: Python<'py>,
    tensors: &Bound<'py, PyDict>,
    metadata: Option<HashMap<String, String>>,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    let items = checkpoint_items(tensors)?;
    let meta = metadata.unwrap_or_default();
    let bytes = gil::nogil(py, gil::ALWAYS, move || crate::io::to_bytes(&items, meta))?;
    Ok(pyo3::types::PyBytes::new(py, &bytes))
}

/// Parses safetensors `bytes`: `(dict of tensors, metadata dict)`, as `load_file` does.
#[pyfunction]
#[pyo3(signature = (data, device=None))]
fn load_bytes<'py>(
    py: Python<'py>,
    data: &Bound<'py, pyo3::types::PyBytes>,
    device: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
    let dv = dev(device)?;
    // `bytes` is immutable and `data` keeps it alive, so the slice stays valid without the GIL.
    let raw: &[u8] = data.as_bytes();
    checkpoint_dicts(py, || on_device(crate::io::from_bytes(raw)?, dv))
}

// ---- end of checkpoint bytes ----

#[pymodule]
fn _rustdl(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTensor>()?;
    m.add_class::<PyDType>()?;
    m.add_class::<PyDevice>()?;
    m.add("ValuesIndices", pytensor::values_indices_type(m.py())?)?;
    m.add("GpuError", m.py().get_type::<GpuError>())?;
    for kind in CoreError::ALL {
        m.add(kind.name(), kind.class(m.py())?)?;
    }
    for (name, d) in [
        ("float32", DType::F32),
        ("float", DType::F32),
        ("float64", DType::F64),
        ("double", DType::F64),
        ("int64", DType::I64),
        ("long", DType::I64),
        ("bool", DType::Bool),
        ("uint8", DType::U8),
        ("int8", DType::I8),
        ("int16", DType::I16),
        ("short", DType::I16),
        ("int32", DType::I32),
        ("int", DType::I32),
    ] {
        m.add(name, PyDType::object(m.py(), d)?)?;
    }
    for name in ["float16", "half", "bfloat16"] {
        m.add(name, PyDType::half_object(m.py(), name)?)?;
    }
    m.add_function(wrap_pyfunction!(tensor, m)?)?;
    m.add_function(wrap_pyfunction!(_name_gpu_cuda, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_on_cpu, m)?)?;
    m.add_function(wrap_pyfunction!(_meta_on_cpu, m)?)?;
    m.add_function(wrap_pyfunction!(_torch_function_dunders, m)?)?;
    m.add_function(wrap_pyfunction!(_reserve_host, m)?)?;
    m.add_function(wrap_pyfunction!(_set_default_device, m)?)?;
    m.add_function(wrap_pyfunction!(_get_default_device, m)?)?;
    m.add_function(wrap_pyfunction!(from_numpy, m)?)?;
    m.add_function(wrap_pyfunction!(_from_shared, m)?)?;
    m.add_function(wrap_pyfunction!(_set_default_float, m)?)?;
    m.add_function(wrap_pyfunction!(_default_float, m)?)?;
    m.add_function(wrap_pyfunction!(zeros, m)?)?;
    m.add_function(wrap_pyfunction!(ones, m)?)?;
    m.add_function(wrap_pyfunction!(empty, m)?)?;
    m.add_function(wrap_pyfunction!(full, m)?)?;
    m.add_function(wrap_pyfunction!(zeros_like, m)?)?;
    m.add_function(wrap_pyfunction!(ones_like, m)?)?;
    m.add_function(wrap_pyfunction!(empty_like, m)?)?;
    m.add_function(wrap_pyfunction!(rand_like, m)?)?;
    m.add_function(wrap_pyfunction!(randn_like, m)?)?;
    m.add_function(wrap_pyfunction!(full_like, m)?)?;
    m.add_function(wrap_pyfunction!(arange, m)?)?;
    m.add_function(wrap_pyfunction!(linspace, m)?)?;
    m.add_function(wrap_pyfunction!(eye, m)?)?;
    m.add_function(wrap_pyfunction!(rand, m)?)?;
    m.add_function(wrap_pyfunction!(randn, m)?)?;
    m.add_function(wrap_pyfunction!(randint, m)?)?;
    m.add_function(wrap_pyfunction!(manual_seed, m)?)?;
    m.add_class::<PyCpuGen>()?;
    m.add_function(wrap_pyfunction!(_cpu_rng_state, m)?)?;
    m.add_function(wrap_pyfunction!(_set_thread_generator, m)?)?;
    m.add_function(wrap_pyfunction!(_cpu_rng_set_state, m)?)?;
    m.add_function(wrap_pyfunction!(_randperm_cpu, m)?)?;
    m.add_function(wrap_pyfunction!(_cpu_draw, m)?)?;
    m.add_function(wrap_pyfunction!(_cpu_draw_each, m)?)?;
    m.add_function(wrap_pyfunction!(_rng_state, m)?)?;
    m.add_function(wrap_pyfunction!(_rng_set_state, m)?)?;
    m.add_function(wrap_pyfunction!(initial_seed, m)?)?;
    m.add_function(wrap_pyfunction!(cat, m)?)?;
    m.add_function(wrap_pyfunction!(stack, m)?)?;
    m.add_function(wrap_pyfunction!(where_, m)?)?;
    m.add_function(wrap_pyfunction!(is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(optim_step, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(save_file, m)?)?;
    m.add_function(wrap_pyfunction!(_write_file_atomic, m)?)?;
    m.add_function(wrap_pyfunction!(load_file, m)?)?;
    m.add_function(wrap_pyfunction!(save_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(load_bytes, m)?)?;
    functional::register(m)?;
    autograd_py::register(m)?;
    gpu::register(m)?;
    dist::register(m)?;
    Ok(())
}
