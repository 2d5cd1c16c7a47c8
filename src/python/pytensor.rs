//! The Python `Tensor` class: a thin handle over the core tensor; every method is one Rust call.

use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::sync::{Arc, Mutex, RwLock};

use crate::backend::{BinaryOp, RandKind, UnaryOp};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::Result as CoreResult;
use crate::ops::promote::Operand;
use crate::tensor::Tensor;

use super::convert::{
    check_fits, parse_device, parse_dtype, shape_args, size_args, to_list, to_numpy, to_tensor,
};
use super::gil::{self, run};
use super::{index, opt_dtype, PyDType, PyDevice};

/// A multi-dimensional array with automatic differentiation.
/// `iter(t)`: the rows along the first dim, one view per step, so iterating a tensor with
/// many rows (or with 2^40 empty ones) does not first make them all.
#[pyclass(name = "_TensorIter", module = "rustdl._rustdl")]
pub struct TensorIter {
    t: Tensor,
    next: usize,
    len: usize,
}

#[pymethods]
impl TensorIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __next__(&mut self) -> PyResult<Option<PyTensor>> {
        if self.next >= self.len {
            return Ok(None);
        }
        let i = self.next;
        self.next += 1;
        Ok(Some(self.t.select(0, i as isize)?.into()))
    }
    fn __length_hint__(&self) -> usize {
        self.len - self.next
    }
}

#[pyclass(
    name = "Tensor",
    module = "rustdl",
    subclass,
    frozen,
    mapping,
    weakref,
    dict
)]
pub struct PyTensor {
    /// the tensor this Python object stands for; replaced (never mutated) by the in-place shape
    /// ops (`unsqueeze_`, `resize_`, `t.data = other`), which change what the object is, as in
    /// PyTorch, while the core tensor's layout stays immutable
    cell: RwLock<Tensor>,
    /// `hash(t)`: fixed when the object is made, so it survives the in-place shape ops above
    /// (a tensor is a dict key of optimizer state, hook tables, ...), as PyTorch's `id`-based hash
    hash: u64,
    /// the Python object `.grad` last returned (or was assigned), so that `t.grad is t.grad`
    /// and attributes set on it persist while the gradient stays the same tensor, as PyTorch's
    grad_obj: Mutex<Option<Py<PyAny>>>,
}

/// Whether the indexing and length slots hand their calls to the `__torch_function__` protocol
/// (see `TORCH_FUNCTION` in the bindings' module).
fn torch_function_on() -> bool {
    super::TORCH_FUNCTION.load(std::sync::atomic::Ordering::Relaxed)
}

/// `t[i]`, `t[i] = v` or `len(t)` through `rustdl._dispatch.dunder`, which gives the call to the
/// active mode or the overriding types among the arguments and finally runs `_getitem`,
/// `_setitem` or `_len`.
fn torch_function_dunder<'py>(
    slf: &Bound<'py, PyTensor>,
    name: &str,
    args: &[&Bound<'py, PyAny>],
) -> PyResult<Bound<'py, PyAny>> {
    static DUNDER: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    let py = slf.py();
    let dunder = DUNDER.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("rustdl._dispatch")?.getattr("dunder")?.unbind())
    })?;
    let mut all = vec![slf.clone().into_any()];
    all.extend(args.iter().map(|a| (*a).clone()));
    dunder.bind(py).call1((name, PyTuple::new(py, all)?))
}

/// A 0-d index or source beside a 1-d tensor as one element of one dim: PyTorch's gather and
/// scatter count a scalar as one dim there.
fn as_one_dim(t: &Tensor, x: &Tensor) -> CoreResult<Tensor> {
    if x.ndim() == 0 && t.ndim() == 1 {
        x.reshape(&[1])
    } else {
        Ok(x.clone())
    }
}

/// Copies the attributes set on tensor `src` (its `__dict__`) onto `dst`, deep-copied with
/// `memo` when given.
fn copy_attributes(
    src: &Bound<'_, PyAny>,
    dst: &Bound<'_, PyAny>,
    memo: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let attrs = src.getattr("__dict__")?;
    if attrs.len()? == 0 {
        return Ok(());
    }
    let attrs = match memo {
        Some(m) => src
            .py()
            .import("copy")?
            .call_method1("deepcopy", (attrs, m))?,
        None => attrs,
    };
    dst.getattr("__dict__")?.call_method1("update", (attrs,))?;
    Ok(())
}

impl From<Tensor> for PyTensor {
    fn from(t: Tensor) -> Self {
        PyTensor {
            hash: t.id(),
            cell: RwLock::new(t),
            grad_obj: Mutex::new(None),
        }
    }
}

impl PyTensor {
    /// The tensor this object stands for now (a cheap reference-counted handle).
    pub fn tensor(&self) -> Tensor {
        self.cell.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The repr of the tensor, named as an instance of `cls` (a subclass shows its own name, as
    /// PyTorch's) or as a plain tensor when None.
    fn repr_as(&self, py: Python<'_>, cls: Option<Bound<'_, PyAny>>) -> PyResult<String> {
        // the layout is PyTorch's, worked out in Python (`rustdl._tensor_str`) on a numpy copy
        let t = self.tensor();
        let arr = to_numpy(py, &t)?;
        let default_float = t.dtype() == DType::default_float();
        let dtype = super::PyDType::object(py, t.dtype())?.into_bound(py);
        // the device is shown when it is not the default one, by its name under the torch
        // compat layer (`cuda:0`)
        let device = if t.device() != super::default_device() {
            Some(super::PyDevice { d: t.device() }.__str__())
        } else {
            None
        };
        let grad = if let Some(n) = t.grad_fn() {
            Some(format!("grad_fn=<{}>", super::autograd_py::node_name(&n)))
        } else if t.requires_grad() {
            Some("requires_grad=True".to_string())
        } else {
            None
        };
        py.import("rustdl._tensor_str")?
            .getattr("tensor_repr")?
            .call1((arr, dtype.repr()?, default_float, device, grad, cls))?
            .extract()
    }

    /// Makes this object stand for `t` from now on (an in-place shape change).
    /// A leaf that required grad is marked superseded by `t`: a graph built from it before
    /// sends its gradient on to `t` (the object's `.grad`), as PyTorch's leaf keeps its identity.
    fn replace(&self, t: Tensor) {
        let old = std::mem::replace(
            &mut *self.cell.write().unwrap_or_else(|e| e.into_inner()),
            t.clone(),
        );
        if old.id() == t.id() {
            return;
        }
        // the object's hooks and retain_grad() stay with it, as in PyTorch
        t.adopt_hooks(&old);
        if old.is_leaf() && old.requires_grad() {
            old.mark_superseded(&t);
        }
    }
}

/// A Python number or tensor-like as the other side of an arithmetic op (the promotion rules
/// themselves live in the core, `ops::promote`).
/// `other · alpha` as an operand. PyTorch's deprecated overload `add_(Number alpha, Tensor
/// other)` (old optimizer code: `p.data.add_(-lr, grad)`) is taken with its two arguments in
/// that order.
/// A bool tensor is scaled in the dtype of `like` (the tensor it is added to): `int8 + alpha·mask`
/// stays int8, as PyTorch computes it in the promoted dtype, and `mask + alpha·mask` stays bool.
fn scaled_operand(
    other: &Bound<'_, PyAny>,
    alpha: Option<&Bound<'_, PyAny>>,
    like: &Tensor,
) -> PyResult<Operand> {
    let is_tensor = |o: &Bound<'_, PyAny>| o.extract::<PyRef<'_, PyTensor>>().is_ok();
    let number = |o: &Bound<'_, PyAny>| {
        o.extract::<f64>()
            .map_err(|_| PyTypeError::new_err("alpha must be a number"))
    };
    let (other, alpha_obj) = match alpha {
        None => return operand(other),
        Some(a) if is_tensor(a) && !is_tensor(other) => (a, other),
        Some(a) => (other, a),
    };
    let alpha = number(alpha_obj)?;
    let alpha_is_float = alpha_obj.is_instance_of::<pyo3::types::PyFloat>();
    let o = operand(other)?;
    // the dtype `like op other` computes in: `other · alpha` is formed in it (an integer
    // `other` is not scaled, and wrapped, in its own narrower dtype), and a float alpha is
    // refused where it is integral, as PyTorch
    let result = match &o {
        Operand::Tensor(t) => crate::ops::elementwise::pair_dtype(like, t),
        Operand::Scalar { is_int, .. } => {
            if like.dtype().is_float() || *is_int {
                like.dtype()
            } else {
                DType::default_float()
            }
        }
    };
    if alpha_is_float && !result.is_float() {
        return Err(PyRuntimeError::new_err(format!(
            "For integral input tensors, argument alpha must not be a floating point number \
             (alpha={alpha}, tensors of dtype {} and shape {:?})",
            result,
            like.shape()
        )));
    }
    Ok(match o {
        Operand::Tensor(t) if t.dtype() == DType::Bool && like.dtype() == DType::Bool => {
            Operand::Tensor(if alpha == 0.0 { t.zeros_like()? } else { t })
        }
        Operand::Tensor(t) if t.dtype() != result => {
            Operand::Tensor(t.to_dtype(result)?.mul_scalar(alpha)?)
        }
        Operand::Tensor(t) => Operand::Tensor(t.mul_scalar(alpha)?),
        Operand::Scalar { value, is_int } => Operand::Scalar {
            value: value * alpha,
            is_int: is_int && alpha.fract() == 0.0,
        },
    })
}

/// The sizes of a `*sizes` method, given by position or as PyTorch's keyword for the whole
/// sequence (`x.reshape(shape=(2, 3))`, `x.flip(dims=[0])`), as the positional tuple.
fn sizes_or_keyword<'py>(
    args: &Bound<'py, PyTuple>,
    kw: Option<&Bound<'py, PyAny>>,
    op: &str,
    name: &str,
) -> PyResult<Bound<'py, PyTuple>> {
    match kw {
        None => Ok(args.clone()),
        Some(_) if !args.is_empty() => Err(PyTypeError::new_err(format!(
            "{op}() got '{name}' both by position and by keyword"
        ))),
        Some(v) => PyTuple::new(args.py(), [v]),
    }
}

/// `rustdl._tensor_api.<helper>(tensor, arg)`: the memory-format rules live in Python (the format
/// objects are Python's), reached only when `memory_format=` (or another keyword) is given.
fn memory_format_call<'py>(
    t: &Bound<'py, PyTensor>,
    helper: &str,
    fmt: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    t.py()
        .import("rustdl._tensor_api")?
        .getattr(helper)?
        .call1((t, fmt))
}

/// `size(d)` / `stride(d)` of a 0-d tensor: PyTorch's IndexError (reductions accept dim 0 of a
/// scalar, these have nothing to report).
fn scalar_has_no_dims(t: &Tensor, d: isize) -> PyResult<()> {
    if t.ndim() == 0 {
        return Err(pyo3::exceptions::PyIndexError::new_err(format!(
            "Dimension specified as {d} but tensor has no dimensions"
        )));
    }
    Ok(())
}

/// A conversion method's `memory_format=` (`float`, `cpu`, `to`, ...), checked as PyTorch checks
/// it; the result keeps rustdl's one layout.
fn check_format(
    py: Python<'_>,
    t: &Tensor,
    op: &str,
    fmt: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    if let Some(fmt) = fmt {
        py.import("rustdl._tensor_api")?
            .getattr("_check_memory_format")?
            .call1((op, PyTensor::from(t.clone()), fmt))?;
    }
    Ok(())
}

/// A Python (or numpy) bool as a 0-d bool tensor on `device`: next to a bool tensor it keeps
/// the result bool (`mask * True`, `where(mask, other_mask, False)`), as PyTorch.
pub fn bool_scalar(obj: &Bound<'_, PyAny>, device: Device) -> PyResult<Option<Operand>> {
    let b = if obj.is_instance_of::<pyo3::types::PyBool>() {
        obj.extract::<bool>()?
    } else if obj.get_type().name()?.to_cow()? == "bool" && obj.hasattr("dtype")? {
        obj.call_method0("item")?.extract::<bool>()? // numpy.bool
    } else {
        return Ok(None);
    };
    let t = Tensor::full(&[], b as u8 as f64, DType::Bool, device)?;
    Ok(Some(Operand::Tensor(t)))
}

/// [`operand`], except that a Python bool beside a bool tensor stays bool.
fn operand_beside(obj: &Bound<'_, PyAny>, t: &Tensor) -> PyResult<Operand> {
    if t.dtype() == DType::Bool {
        if let Some(o) = bool_scalar(obj, t.device())? {
            return Ok(o);
        }
    }
    // an int in [2**63, 2**64) beside an integer tensor: PyTorch's uint64 scalar, cast to the
    // tensor's int64 (it wraps: 2**63 is -2**63), not saturated
    if !t.dtype().is_float()
        && obj.is_instance_of::<pyo3::types::PyInt>()
        && !obj.is_instance_of::<pyo3::types::PyBool>()
        && obj.extract::<i64>().is_err()
    {
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Operand::Tensor(Tensor::from_i64(vec![u as i64], &[])?));
        }
    }
    operand(obj)
}

/// Whether an operator (`t + o`, `t == o`, `t += o`) takes `o` as its operand, as PyTorch's
/// do: a tensor, a Python or numpy number, or a numpy array. For anything else (a sympy number,
/// a `Fraction`, a pandas object, a user's class) the operator steps aside (`NotImplemented`),
/// so Python asks the other object, even when it could be read as a float.
fn operator_operand(obj: &Bound<'_, PyAny>) -> bool {
    if obj.is_instance_of::<PyTensor>()
        || obj.is_instance_of::<pyo3::types::PyFloat>()
        || obj.is_instance_of::<pyo3::types::PyInt>()
        || obj.is_instance_of::<pyo3::types::PyComplex>()
        || obj.is_instance_of::<numpy::PyUntypedArray>()
    {
        return true;
    }
    obj.py()
        .import("numpy")
        .and_then(|np| np.getattr("generic"))
        .and_then(|generic| obj.is_instance(&generic))
        .unwrap_or(false)
}

/// The operand of an in-place operator (`t += o`): extraction fails for an operand PyTorch's
/// operators do not take (see [`operator_operand`]), so the method answers `NotImplemented` and
/// Python goes on to `t = t + o`, which asks `o`'s reflected operator.
pub struct InplaceOperand<'py>(Bound<'py, PyAny>);

impl<'a, 'py> pyo3::FromPyObject<'a, 'py> for InplaceOperand<'py> {
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let obj = obj.to_owned();
        if operator_operand(&obj) {
            Ok(InplaceOperand(obj))
        } else {
            Err(PyTypeError::new_err(format!(
                "in-place operator: unsupported operand type {}",
                obj.get_type().name()?
            )))
        }
    }
}

/// Whether `obj` cannot be a binary operator's operand: it is not a tensor or number and
/// converting it fails with a TypeError (a string, a dict, an arbitrary object).
fn unconvertible(obj: &Bound<'_, PyAny>) -> bool {
    if obj.is_instance_of::<PyTensor>()
        || obj.is_instance_of::<pyo3::types::PyFloat>()
        || obj.is_instance_of::<pyo3::types::PyInt>()
    {
        return false;
    }
    match operand(obj) {
        Ok(_) => false,
        Err(e) => e.is_instance_of::<PyTypeError>(obj.py()),
    }
}

pub fn operand(obj: &Bound<'_, PyAny>) -> PyResult<Operand> {
    if let Ok(t) = obj.extract::<PyRef<'_, PyTensor>>() {
        return Ok(Operand::Tensor(t.tensor()));
    }
    let scalar = |value: f64, is_int: bool| Ok(Operand::Scalar { value, is_int });
    if obj.is_instance_of::<pyo3::types::PyBool>() {
        return scalar(obj.extract::<bool>()? as u8 as f64, true);
    }
    if obj.is_instance_of::<pyo3::types::PyInt>() {
        return match obj.extract::<i64>() {
            // past 2^53 a float64 would round it: an exact int64 0-d tensor instead (combined
            // as a number is: a 0-d operand promotes as a scalar does)
            Ok(v) if v.unsigned_abs() > 1u64 << 53 => {
                Ok(Operand::Tensor(Tensor::from_i64(vec![v], &[])?))
            }
            Ok(v) => scalar(v as f64, true),
            // past int64 but within uint64 (2**63 into a float tensor): the nearest float, as
            // PyTorch's; past uint64 it cannot be a scalar at all
            Err(_) => match obj.extract::<u64>() {
                Ok(u) => scalar(u as f64, true),
                Err(_) => Err(pyo3::exceptions::PyOverflowError::new_err(format!(
                    "value {obj} cannot be converted to an int64 or uint64 scalar without overflow"
                ))),
            },
        };
    }
    if obj.is_instance_of::<pyo3::types::PyFloat>() {
        return scalar(obj.extract::<f64>()?, false);
    }
    // a numpy scalar (np.float32(1), np.int64(2), np.bool_) is a number, as in PyTorch: it must
    // not become a CPU tensor (which a GPU tensor could not combine with)
    let generic = obj.py().import("numpy")?.getattr("generic")?;
    if obj.is_instance(&generic)? {
        let item = obj.call_method0("item")?;
        if item.is_instance_of::<pyo3::types::PyBool>()
            || item.is_instance_of::<pyo3::types::PyInt>()
            || item.is_instance_of::<pyo3::types::PyFloat>()
        {
            return operand(&item);
        }
    }
    Ok(Operand::Tensor(to_tensor(obj, None)?))
}

/// A `dim` argument that may be an int or a tuple/list of ints: `None` when absent.
fn dim_list(dim: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<isize>>> {
    match dim {
        None => Ok(None),
        Some(d) if d.is_none() => Ok(None),
        Some(d) => dims_arg(Some(d)).map(Some),
    }
}

/// `reduce_one(x, d)` (which keeps dim `d` with size 1) over each of `dims` (all of them when
/// empty), then those dims dropped unless `keepdim`; a dim named twice is an error.
/// A full reduction's 0-d result with `keepdim`: one size-1 dim per dim of `t`.
fn keep_all_dims(r: Tensor, t: &Tensor, keepdim: bool) -> CoreResult<Tensor> {
    if keepdim {
        r.reshape(&vec![1; t.ndim()])
    } else {
        Ok(r)
    }
}

fn over_dims(
    t: &Tensor,
    dims: &[isize],
    keepdim: bool,
    op: &str,
    reduce_one: impl Fn(&Tensor, isize) -> CoreResult<Tensor>,
) -> CoreResult<Tensor> {
    let n = t.ndim();
    let mut ds: Vec<usize> = if dims.is_empty() {
        (0..n).collect()
    } else {
        dims.iter()
            .map(|&d| crate::shape::norm_dim(d, n.max(1), op))
            .collect::<CoreResult<_>>()?
    };
    ds.sort_unstable();
    if ds.windows(2).any(|w| w[0] == w[1]) {
        return Err(crate::error::Error::Value(format!(
            "{op}: a dim appears more than once in {dims:?}"
        )));
    }
    if n == 0 {
        return reduce_one(&t.reshape(&[1])?, 0)?.reshape(&[]);
    }
    let mut x = t.clone();
    for &d in ds.iter().rev() {
        x = reduce_one(&x, d as isize)?;
    }
    if !keepdim {
        for &d in ds.iter().rev() {
            x = x.squeeze_dim(d as isize)?;
        }
    }
    Ok(x)
}

fn dims_arg(dim: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<isize>> {
    match dim {
        None => Ok(vec![]),
        Some(d) if d.is_none() => Ok(vec![]),
        Some(d) => {
            if let Ok(i) = d.extract::<isize>() {
                Ok(vec![i])
            } else {
                super::convert::extract_items::<isize>(d)
                    .map_err(|_| PyTypeError::new_err("dim must be an int or a tuple of ints"))
            }
        }
    }
}

/// `all`/`any` of a uint8 tensor give uint8, PyTorch's legacy rule (bool for the rest).
fn u8_like(t: &Tensor, r: Tensor) -> crate::error::Result<Tensor> {
    match t.dtype() {
        crate::dtype::DType::U8 => r.to_dtype(crate::dtype::DType::U8),
        _ => Ok(r),
    }
}

/// A Python number (or one-element tensor) as a fill value.
/// A `masked_fill` value that must take part in autograd: a one-element tensor that requires
/// grad (with grad mode on), as a 0-d tensor of `like`'s dtype and device. Filling with it is a
/// selection, so the gradient of the filled positions reaches it, as in PyTorch.
fn grad_fill_value(value: &Bound<'_, PyAny>, like: &Tensor) -> PyResult<Option<Tensor>> {
    let Ok(vt) = value.extract::<PyRef<'_, PyTensor>>() else {
        return Ok(None);
    };
    let vt = vt.tensor();
    // as PyTorch: a value tensor must be 0-d (a 1-element 1-d one is refused too)
    if vt.ndim() != 0 {
        return Err(PyRuntimeError::new_err(format!(
            "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {} dimension(s) (shape {:?})",
            vt.ndim(),
            vt.shape()
        )));
    }
    if !(vt.requires_grad() && vt.numel() == 1 && crate::autograd::is_grad_enabled()) {
        return Ok(None);
    }
    Ok(Some(
        vt.reshape(&[])?
            .to_dtype(like.dtype())?
            .to_device(like.device())?,
    ))
}

fn scalar_value(v: &Bound<'_, PyAny>, op: &str) -> PyResult<f64> {
    if let Ok(t) = v.extract::<PyRef<'_, PyTensor>>() {
        if t.tensor().numel() == 1 {
            return Ok(t.tensor().item()?);
        }
        return Err(crate::python::argument_error(format!(
            "{op}: only supports a 0-dimensional value tensor, got shape {:?}",
            t.tensor().shape()
        )));
    }
    v.extract::<f64>()
        .map_err(|_| PyTypeError::new_err(format!("{op}: value must be a number")))
}

/// A `'static` copy of an op name given from Python (each distinct name is kept once).
fn intern_op_name(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.push(n);
    n
}

/// The tensor of an operand, for the work estimate.
fn operand_tensor(o: &Operand) -> Option<&Tensor> {
    match o {
        Operand::Tensor(t) => Some(t),
        Operand::Scalar { .. } => None,
    }
}

impl PyTensor {
    /// `f(self)` under the GIL policy (`gil::nogil`), the work counted from `self` and `others`.
    fn compute<R: Send>(
        &self,
        others: &[&Tensor],
        f: impl FnOnce(&Tensor) -> CoreResult<R> + Send,
    ) -> PyResult<R> {
        Python::attach(|py| gil::on(py, &self.tensor(), others, f))
    }

    /// `f(self)` as a new Python tensor, under the GIL policy.
    fn op(&self, f: impl FnOnce(&Tensor) -> CoreResult<Tensor> + Send) -> PyResult<PyTensor> {
        Ok(self.compute(&[], f)?.into())
    }

    /// `self` in place: `f` computes the new value, the core writes it and rebases the history.
    fn inplace_(
        &self,
        name: &'static str,
        f: impl Fn(&Tensor) -> CoreResult<Tensor> + Send,
    ) -> PyResult<()> {
        self.compute(&[], |x| x.inplace(name, f))
    }

    fn arith(&self, other: &Bound<'_, PyAny>, op: BinaryOp, reflected: bool) -> PyResult<PyTensor> {
        let o = operand_beside(other, &self.tensor())?;
        let others: Vec<&Tensor> = operand_tensor(&o).into_iter().collect();
        Ok(self
            .compute(&others, |x| x.arith(&o, op, reflected))?
            .into())
    }

    /// A binary operator: `NotImplemented` for an operand type that asks to handle the
    /// operation itself (a Python class with `__rustdl_defer__`, such as complex tensors), so
    /// Python calls its reflected method.
    fn binary_dunder(
        &self,
        o: &Bound<'_, PyAny>,
        op: BinaryOp,
        reflected: bool,
    ) -> PyResult<Py<PyAny>> {
        let py = o.py();
        if !o.is_instance_of::<PyTensor>()
            && !o.is_instance_of::<pyo3::types::PyFloat>()
            && !o.is_instance_of::<pyo3::types::PyInt>()
        {
            if o.is_instance_of::<pyo3::types::PyComplex>() {
                // a Python complex number makes the result a complex tensor
                let me = Py::new(py, PyTensor::from(self.tensor()))?;
                let f = py
                    .import(pyo3::intern!(py, "rustdl._complex"))?
                    .getattr(pyo3::intern!(py, "_tensor_op_complex"))?;
                return Ok(f.call1((me, o, op.name(), reflected))?.unbind());
            }
            if o.hasattr(pyo3::intern!(py, "__rustdl_defer__"))
                .unwrap_or(false)
            {
                return Ok(py.NotImplemented());
            }
        }
        self.or_not_implemented(o, |me| me.arith(o, op, reflected))
    }

    /// Runs a binary operator; for an operand an operator does not take (see
    /// [`operator_operand`]), or when it fails with a TypeError because `o` is no tensor, number
    /// or array at all, returns `NotImplemented` instead, so Python tries `o`'s reflected
    /// operator (a user's class with `__radd__` or `__gt__`, a sympy number), as PyTorch's
    /// operators do. A list or tuple operand is never taken as a tensor by an operator (PyTorch's
    /// are not either): so `[0] * t` repeats the list, and `t + [1, 2]` raises TypeError.
    fn or_not_implemented(
        &self,
        o: &Bound<'_, PyAny>,
        f: impl FnOnce(&Self) -> PyResult<PyTensor>,
    ) -> PyResult<Py<PyAny>> {
        let py = o.py();
        if !operator_operand(o) {
            return Ok(py.NotImplemented());
        }
        match f(self) {
            Ok(t) => Ok(Py::new(py, t)?.into_any()),
            Err(e) if e.is_instance_of::<PyTypeError>(py) && unconvertible(o) => {
                Ok(py.NotImplemented())
            }
            Err(e) => Err(e),
        }
    }

    fn compare(&self, other: &Bound<'_, PyAny>, op: BinaryOp) -> PyResult<PyTensor> {
        let o = operand(other)?;
        let others: Vec<&Tensor> = operand_tensor(&o).into_iter().collect();
        Ok(self.compute(&others, |x| x.compare(&o, op))?.into())
    }

    /// `self op other · alpha` (add/sub with PyTorch's `alpha`).
    fn arith_alpha(
        &self,
        other: &Bound<'_, PyAny>,
        op: BinaryOp,
        alpha: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        // without alpha the operand is read as `self + other` reads it (a bool stays bool)
        let o = match alpha {
            None => operand_beside(other, &self.tensor())?,
            Some(_) => scaled_operand(other, alpha, &self.tensor())?,
        };
        let others: Vec<&Tensor> = operand_tensor(&o).into_iter().collect();
        Ok(self.compute(&others, |x| x.arith(&o, op, false))?.into())
    }

    /// `self op= other` (with `other · alpha` for add/sub), in place with autograd.
    fn inplace_arith(
        &self,
        other: &Bound<'_, PyAny>,
        op: BinaryOp,
        alpha: Option<&Bound<'_, PyAny>>,
        name: &'static str,
    ) -> PyResult<()> {
        let o = match alpha {
            None => operand_beside(other, &self.tensor())?,
            Some(_) => scaled_operand(other, alpha, &self.tensor())?,
        };
        if let Operand::Tensor(t) = &o {
            if t.device() != self.tensor().device() && t.ndim() > 0 {
                crate::ops::check_device(name, &self.tensor(), t)?;
            }
        }
        self.inplace_(name, |t| t.arith(&o, op, false))
    }

    fn unary_(&self, op: UnaryOp, name: &'static str) -> PyResult<()> {
        self.inplace_(name, |t| t.unary(op))
    }
}

#[pymethods]
impl PyTensor {
    /// `Tensor(data)`: shares storage with a tensor, else builds one from data.
    /// `Tensor()`, `Tensor(data)` or the legacy `Tensor(*sizes)`, as `torch.Tensor`: a float32
    /// tensor (the default float type) — from data (another tensor's values are shared, its
    /// dtype kept), or zeros of the given sizes (`Tensor(3)` is 3 zeros, not the number 3).
    #[new]
    #[pyo3(signature = (*args))]
    fn py_new(args: &Bound<'_, PyTuple>) -> PyResult<Self> {
        let is_size = |a: &Bound<'_, PyAny>| {
            a.is_instance_of::<pyo3::types::PyInt>() && !a.is_instance_of::<pyo3::types::PyBool>()
        };
        match args.len() {
            0 => Ok(Tensor::zeros(&[0], DType::default_float(), Device::Cpu)?.into()),
            // `Tensor(torch.Size([2, 3]))`: a shape, as PyTorch (a plain list or tuple is data)
            1 if args.get_item(0)?.is_instance_of::<PyTuple>()
                && args
                    .get_item(0)?
                    .get_type()
                    .name()
                    .is_ok_and(|n| n == "Size") =>
            {
                let d = args.get_item(0)?;
                Self::py_new(d.cast::<PyTuple>()?)
            }
            1 if !is_size(&args.get_item(0)?) => {
                let d = args.get_item(0)?;
                if let Ok(t) = d.extract::<PyRef<'_, PyTensor>>() {
                    return Ok(t.tensor().detach().into());
                }
                Ok(to_tensor(&d, Some(DType::default_float()))?.into())
            }
            _ => {
                if !args.iter().all(|a| is_size(&a)) {
                    return Err(PyTypeError::new_err(
                        "Tensor(): expected data (a sequence, array or tensor) or sizes (ints)",
                    ));
                }
                let shape = args
                    .iter()
                    .map(|a| {
                        let v: i64 = a.extract()?;
                        usize::try_from(v).map_err(|_| {
                            crate::python::argument_error(format!(
                                "Tensor(): negative dimension {v}"
                            ))
                        })
                    })
                    .collect::<PyResult<Vec<usize>>>()?;
                Ok(Tensor::zeros(&shape, DType::default_float(), Device::Cpu)?.into())
            }
        }
    }

    // ---------- metadata ----------

    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.tensor().shape())
    }

    #[pyo3(signature = (dim=None))]
    fn size<'py>(&self, py: Python<'py>, dim: Option<isize>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => Ok(PyTuple::new(py, self.tensor().shape())?.into_any()),
            Some(d) => {
                scalar_has_no_dims(&self.tensor(), d)?;
                let d = crate::shape::norm_dim(d, self.tensor().ndim(), "size")?;
                Ok(self.tensor().shape()[d].into_pyobject(py)?.into_any())
            }
        }
    }

    /// The address of the storage's first element: the host buffer's on the CPU; on the GPU,
    /// where no host address exists, a stable number unique to the storage object (`data_ptr`).
    fn _storage_address(&self) -> usize {
        let t = self.tensor();
        let owner = t.storage_arc();
        let storage = owner.read().unwrap_or_else(|e| e.into_inner());
        match &*storage {
            crate::storage::Storage::Cpu(c) => match c {
                crate::storage::CpuStorage::F32(v) => v.as_ptr() as usize,
                crate::storage::CpuStorage::F64(v) => v.as_ptr() as usize,
                crate::storage::CpuStorage::I64(v) => v.as_ptr() as usize,
                crate::storage::CpuStorage::Bool(v) => v.as_ptr() as usize,
            },
            crate::storage::Storage::Gpu(_) => std::sync::Arc::as_ptr(&owner) as usize,
        }
    }
    /// Where this tensor's first element sits in its storage, in elements (`storage_offset()`).
    fn _layout_offset(&self) -> usize {
        self.tensor().layout().offset
    }
    /// A strided view of the storage from this tensor's first element on (`as_strided`,
    /// `unfold`; see `Tensor::as_strided`).
    fn _as_strided_view(
        &self,
        size: super::convert::Items<usize>,
        stride: super::convert::Items<usize>,
        offset: usize,
    ) -> PyResult<PyTensor> {
        self.op(|t| t.as_strided(&size.0, &stride.0, offset))
    }
    /// `_as_strided_view` whose gradient goes to this tensor's elements at the row-major
    /// positions `index` (an overlapping tensor's `diagonal`/`unfold`).
    fn _as_strided_view_indexed(
        &self,
        size: super::convert::Items<usize>,
        stride: super::convert::Items<usize>,
        offset: usize,
        index: PyRef<'_, PyTensor>,
    ) -> PyResult<PyTensor> {
        let index = index.tensor();
        self.op(|t| t.as_strided_indexed(&size.0, &stride.0, offset, &index))
    }
    /// This tensor's storage and version counter under `other`'s layout (a view of this
    /// tensor's storage), as a plain tensor: no history and no view tracking. A leaf's in-place
    /// shape change (`t_`, `squeeze_`, ...) becomes this, so the leaf stays a leaf.
    fn _relaid_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let (t, o) = (self.tensor(), other.tensor());
        if !Arc::ptr_eq(&t.storage_arc(), &o.storage_arc()) {
            return Err(PyRuntimeError::new_err(
                "_relaid_as: the tensors do not share a storage",
            ));
        }
        Ok(t.with_layout(o.layout().clone()).into())
    }
    /// This tensor as one of its own (no `_base`), sharing its storage, layout and version
    /// counter, its gradient flowing on to this one: what an in-place shape op (`t_`,
    /// `unsqueeze_`) leaves of a tensor that is not a view, as PyTorch changes that tensor's
    /// sizes rather than viewing it.
    fn _unviewed(&self) -> PyTensor {
        let t = self.tensor();
        let out = t.with_layout(t.layout().clone());
        out.with_rule("view", &[&t], &[], |g| Ok(vec![Some(g.clone())]))
            .into()
    }
    /// The whole storage as a 1-D tensor sharing it, without history (`resize_`, `as_strided`).
    fn _storage_view(&self) -> PyTensor {
        self.tensor().storage_view().into()
    }
    #[pyo3(signature = (dim=None))]
    fn stride<'py>(&self, py: Python<'py>, dim: Option<isize>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => Ok(PyTuple::new(py, self.tensor().strides())?.into_any()),
            Some(d) => {
                scalar_has_no_dims(&self.tensor(), d)?;
                let d = crate::shape::norm_dim(d, self.tensor().ndim(), "stride")?;
                Ok(self.tensor().strides()[d].into_pyobject(py)?.into_any())
            }
        }
    }

    #[getter]
    fn ndim(&self) -> usize {
        self.tensor().ndim()
    }
    fn dim(&self) -> usize {
        self.tensor().ndim()
    }
    fn numel(&self) -> usize {
        self.tensor().numel()
    }
    fn nelement(&self) -> usize {
        self.tensor().numel()
    }
    fn element_size(&self) -> usize {
        self.tensor().dtype().itemsize()
    }
    /// Marks this tensor (made by `view(dtype)`) as a copy of its source: in-place writes to it,
    /// which would not reach the source, raise.
    fn _mark_dtype_view_copy(&self) {
        self.tensor().mark_dtype_view_copy();
    }
    /// Whether this tensor is a view of another's memory (as `torch.Tensor._is_view`).
    fn _is_view(&self) -> bool {
        self.tensor().view_base().is_some()
    }
    /// The tensor whose memory this view shares (`torch.Tensor._base`), None for a non-view.
    #[getter]
    fn _base(&self) -> Option<PyTensor> {
        self.tensor().view_base().cloned().map(PyTensor::from)
    }
    /// With a channels-last `memory_format`, whether the strides are in that order instead.
    #[pyo3(signature = (*, memory_format=None))]
    fn is_contiguous(
        slf: &Bound<'_, Self>,
        memory_format: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        match memory_format {
            None => Ok(slf.get().tensor().is_contiguous()),
            Some(fmt) => memory_format_call(slf, "_is_contiguous_in", fmt)?.extract(),
        }
    }
    fn is_floating_point(&self) -> bool {
        self.tensor().dtype().is_float()
    }
    #[getter]
    fn dtype(&self, py: Python<'_>) -> PyResult<Py<PyDType>> {
        PyDType::object(py, self.tensor().dtype())
    }
    #[getter]
    fn device(&self) -> PyDevice {
        PyDevice {
            d: self.tensor().device(),
        }
    }
    /// The storage's version counter: how many in-place writes it has seen (shared with views
    /// and `detach()`), as PyTorch's `_version`.
    #[getter]
    fn _version(&self) -> u64 {
        self.tensor().version().get()
    }
    #[getter]
    fn is_cuda(&self) -> bool {
        self.tensor().device().is_gpu()
    }
    #[getter]
    fn is_gpu(&self) -> bool {
        self.tensor().device().is_gpu()
    }

    // ---------- autograd ----------

    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.tensor().requires_grad()
    }
    #[setter]
    fn set_requires_grad(slf: &Bound<'_, Self>, v: bool) -> PyResult<()> {
        slf.get().tensor().set_requires_grad(v)?;
        super::autograd_py::remember_leaf_object(slf)
    }
    #[pyo3(signature = (requires_grad=true))]
    fn requires_grad_(slf: Bound<'_, Self>, requires_grad: bool) -> PyResult<Bound<'_, Self>> {
        slf.get().tensor().set_requires_grad(requires_grad)?;
        super::autograd_py::remember_leaf_object(&slf)?;
        Ok(slf)
    }
    #[getter]
    fn is_leaf(&self) -> bool {
        self.tensor().is_leaf()
    }
    #[getter]
    fn grad_fn<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.tensor()
            .grad_fn()
            .map(|node| super::autograd_py::node_object(py, node))
            .transpose()
    }
    #[getter]
    fn get_grad(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let Some(g) = self.tensor().grad() else {
            *self.grad_obj.lock().unwrap_or_else(|e| e.into_inner()) = None;
            return Ok(None);
        };
        let mut cache = self.grad_obj.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(obj) = cache.as_ref() {
            if let Ok(t) = obj.bind(py).cast::<PyTensor>() {
                if t.get().tensor().id() == g.id() {
                    return Ok(Some(obj.clone_ref(py)));
                }
            }
        }
        let obj = Bound::new(py, PyTensor::from(g))?.into_any().unbind();
        *cache = Some(obj.clone_ref(py));
        Ok(Some(obj))
    }
    #[setter]
    fn set_grad(&self, g: Option<Bound<'_, PyTensor>>) -> PyResult<()> {
        let obj = g.as_ref().map(|g| g.clone().into_any().unbind());
        let g = g.map(|g| g.get().tensor());
        if let Some(g) = &g {
            if g.id() == self.tensor().id() {
                // accumulating into itself would double the tensor's own values, as PyTorch refuses
                return Err(PyRuntimeError::new_err(
                    "can't assign Variable as its own grad",
                ));
            }
            let (have, want) = (g.dtype(), self.tensor().dtype());
            if have != want {
                return Err(super::map_error(crate::error::Error::DType(format!(
                    "assigned grad has dtype {} but the tensor has dtype {}",
                    have.name(),
                    want.name()
                ))));
            }
        }
        self.tensor().set_grad(g)?;
        *self.grad_obj.lock().unwrap_or_else(|e| e.into_inner()) = obj;
        Ok(())
    }
    fn retain_grad(&self) -> PyResult<()> {
        let t = self.tensor();
        if !t.requires_grad() {
            return Err(PyRuntimeError::new_err(format!(
                "can't retain_grad on Tensor that has requires_grad=False (shape {:?})",
                t.shape()
            )));
        }
        t.retain_grad();
        Ok(())
    }
    /// True after `retain_grad()` on a non-leaf tensor.
    #[getter]
    fn retains_grad(&self) -> bool {
        self.tensor().retains_grad()
    }
    /// Registers `hook(grad)` on the gradient reaching this tensor (it may return a replacement
    /// tensor); returns the id `_remove_hook` takes (`Tensor.register_hook` wraps it in a handle).
    fn _register_hook(&self, py: Python<'_>, hook: Py<PyAny>) -> PyResult<u64> {
        if !hook.bind(py).is_callable() {
            return Err(PyTypeError::new_err(
                "register_hook: the hook must be callable",
            ));
        }
        let h: crate::autograd::GradHook = std::sync::Arc::new(move |g: &Tensor| {
            Python::attach(|py| -> CoreResult<Option<Tensor>> {
                // the hooks of one gradient see one Python object (an attribute a hook sets on
                // it is there for the next hook, as in PyTorch)
                let arg = hook_grad_object(py, g)?;
                let out = hook
                    .bind(py)
                    .call1((arg,))
                    .map_err(|e| super::python_error("tensor hook", e))?;
                if out.is_none() {
                    return Ok(None);
                }
                let t = out
                    .extract::<PyRef<'_, PyTensor>>()
                    .map(|t| t.tensor())
                    .map_err(|_| {
                        crate::error::Error::Runtime(
                            "tensor hook: must return a tensor or None".into(),
                        )
                    })?;
                remember_hook_grad(&t, out.unbind());
                Ok(Some(t))
            })
        });
        Ok(self.tensor().register_hook(h)?)
    }
    /// Registers `hook(tensor)`, called after backward accumulated this leaf's `.grad`; returns
    /// the id `_remove_hook` takes.
    fn _register_post_accumulate_grad_hook(
        &self,
        py: Python<'_>,
        hook: Py<PyAny>,
    ) -> PyResult<u64> {
        if !hook.bind(py).is_callable() {
            return Err(PyTypeError::new_err(
                "register_post_accumulate_grad_hook: the hook must be callable",
            ));
        }
        let h: crate::autograd::GradHook = std::sync::Arc::new(move |t: &Tensor| {
            Python::attach(|py| -> CoreResult<Option<Tensor>> {
                let out = hook
                    .bind(py)
                    .call1((PyTensor::from(t.clone()),))
                    .map_err(|e| super::python_error("post accumulate grad hook", e))?;
                if !out.is_none() {
                    return Err(crate::error::Error::Runtime(
                        "post accumulate grad hook: the hook should return None".into(),
                    ));
                }
                Ok(None)
            })
        });
        Ok(self.tensor().register_post_accumulate_grad_hook(h)?)
    }
    fn _remove_hook(&self, id: u64) {
        self.tensor().remove_hook(id)
    }
    fn detach(&self) -> PyTensor {
        self.tensor().detach().into()
    }
    /// Tensor sharing storage, without history and with a version counter of its own (`.data`):
    /// as in PyTorch, writes through it are not seen by autograd's saved-tensor checks (a
    /// backward then reads the new values), unlike writes through `detach()`.
    #[getter]
    fn get_data(&self) -> PyTensor {
        self.tensor().data_alias().into()
    }
    /// `t.data = other`, as PyTorch: this tensor uses `other`'s storage from now on (writes
    /// through either show in both), the object, its autograd identity, hooks, `.grad` and
    /// version counter staying, so a graph already built still reaches it; views and `.data`
    /// aliases taken before keep the old storage. Where the layouts differ, a source no one
    /// else can reach (`p.data = p.data.t().contiguous().t()`) of the same shape is copied in
    /// (nothing can tell the two apart); otherwise the object takes `other`'s data, shared, as a
    /// new tensor, keeping whether it requires grad and a `.grad` that still fits.
    #[setter]
    fn set_data(&self, v: &Bound<'_, PyTensor>) -> PyResult<()> {
        let (me, src) = (self.tensor(), v.borrow().tensor());
        if me.requires_grad() && !src.dtype().is_float() {
            return Err(PyRuntimeError::new_err(format!(
                "data set to a tensor that requires gradients must be floating point, got {} of shape {:?}",
                src.dtype().name(),
                src.shape()
            )));
        }
        if src.layout() == me.layout() {
            return Ok(me.share_storage_of(&src)?);
        }
        // memory lent to numpy stays with the arrays over it: the tensor takes a new storage
        let lent = crate::host::is_pinned(&me.storage_arc());
        // SAFETY: a reference count read from a live object the GIL holder borrows
        let refs = unsafe { pyo3::ffi::Py_REFCNT(v.as_ptr()) };
        // the temporary's own reference and the setter's argument are all there are
        let unreachable = refs <= 2 && !src.storage_is_shared() && !me.storage_is_shared();
        if src.shape() == me.shape() && me.owns_whole_storage() && !lent && unreachable {
            return Ok(me.set_data(&src)?);
        }
        let fresh = src.detach();
        if me.is_leaf() && me.requires_grad() {
            fresh.set_requires_grad(true)?;
            if let Some(g) = me.grad() {
                if g.shape() == fresh.shape() && g.dtype() == fresh.dtype() {
                    fresh.set_grad(Some(g))?;
                }
            }
        } else if let Some(node) = me.grad_fn() {
            // a non-leaf (a view too) keeps its history: PyTorch swaps the data under the same
            // autograd identity, so gradients still flow through it
            fresh.set_history(Some(node));
            if me.retains_grad() {
                fresh.retain_grad();
            }
        }
        self.replace(fresh);
        Ok(())
    }
    /// Makes this Python object stand for `other`'s tensor from now on: the in-place shape ops
    /// (`unsqueeze_`, `resize_`, ...) are built on it, with PyTorch's rules checked in Python.
    fn _replace_with(&self, other: PyRef<'_, PyTensor>) {
        self.replace(other.tensor());
    }
    /// True for a view of a leaf that requires grad (in-place changes to it are refused while
    /// grad mode is on, as PyTorch).
    fn _is_view_of_grad_leaf(&self) -> bool {
        self.tensor().is_view_of_grad_leaf()
    }
    /// `inputs`: accumulate only into these tensors' `.grad` (leaves or not), as PyTorch's
    /// `backward(inputs=...)`; the rest of the graph's leaves are left as they are.
    #[pyo3(signature = (gradient=None, retain_graph=None, create_graph=false, inputs=None))]
    fn backward(
        &self,
        py: Python<'_>,
        gradient: Option<PyRef<'_, PyTensor>>,
        retain_graph: Option<bool>,
        create_graph: bool,
        inputs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let g = gradient.map(|g| g.tensor());
        let t = self.tensor();
        // as PyTorch: retain_graph defaults to create_graph
        let retain = retain_graph.unwrap_or(create_graph);
        let Some(inputs) = inputs else {
            let r = gil::nogil(py, gil::ALWAYS, || {
                crate::autograd::backward_graph(&t, g, retain, create_graph)
            });
            forget_hook_grad();
            r?;
            return Ok(());
        };
        // a tensor or a sequence of tensors
        let targets: Vec<Tensor> = match inputs.extract::<PyRef<'_, PyTensor>>() {
            Ok(one) => vec![one.tensor()],
            Err(_) => inputs
                .try_iter()
                .map_err(|_| {
                    PyTypeError::new_err(
                        "backward: inputs must be a tensor or a sequence of tensors",
                    )
                })?
                .map(|x| {
                    let bad = || {
                        PyTypeError::new_err(
                            "backward: inputs must be a tensor or a sequence of tensors",
                        )
                    };
                    let x = x.map_err(|_| bad())?;
                    let r = x.extract::<PyRef<'_, PyTensor>>().map_err(|_| bad())?;
                    Ok(r.tensor())
                })
                .collect::<PyResult<_>>()?,
        };
        if targets.is_empty() {
            return Err(PyRuntimeError::new_err(
                "backward: the 'inputs' argument cannot be empty",
            ));
        }
        let r = gil::nogil(py, gil::ALWAYS, || {
            let grads = crate::autograd::grad(&[t], &targets, vec![g], retain, true, create_graph)?;
            for (x, gx) in targets.iter().zip(grads) {
                if let Some(gx) = gx {
                    if create_graph {
                        crate::autograd::accumulate_graph(x, gx)?;
                    } else {
                        crate::autograd::accumulate(x, gx)?;
                    }
                }
            }
            Ok::<(), crate::error::Error>(())
        });
        forget_hook_grad();
        r?;
        Ok(())
    }

    // ---------- conversion ----------

    /// The tensor as a numpy array. A dense CPU tensor of float32, float64 or int64 shares its
    /// memory with the array, as PyTorch's (writes through either show in both); other tensors
    /// (GPU, bool, views with gaps) are copied. `force=True` also takes a tensor that requires
    /// grad (its data, detached).
    #[pyo3(signature = (*, force=false))]
    fn numpy<'py>(&self, py: Python<'py>, force: bool) -> PyResult<Bound<'py, PyAny>> {
        let t = self.tensor();
        // as PyTorch, only while grad mode is on (under no_grad the data is read as it is)
        if t.requires_grad() && !force && crate::autograd::is_grad_enabled() {
            return Err(PyRuntimeError::new_err(
                "numpy: can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()",
            ));
        }
        if let Some(arr) = super::dist::lend_strided(py, &t)? {
            return Ok(arr);
        }
        to_numpy(py, &t)
    }
    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__<'py>(
        &self,
        py: Python<'py>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = copy;
        let a = to_numpy(py, &self.tensor())?;
        match dtype {
            Some(d) if !d.is_none() => a.call_method1("astype", (d,)),
            _ => Ok(a),
        }
    }
    fn tolist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_list(py, &self.tensor())
    }
    fn item<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.tensor().dtype().is_int() {
            let v = self.compute(&[], |t| t.item_i64())?;
            return Ok(v.into_pyobject(py)?.into_any());
        }
        let v = self.compute(&[], |t| t.item())?;
        Ok(match self.tensor().dtype() {
            DType::Bool => pyo3::types::PyBool::new(py, v != 0.0).to_owned().into_any(),
            _ => v.into_pyobject(py)?.into_any(),
        })
    }
    fn __float__(&self) -> PyResult<f64> {
        self.compute(&[], |t| t.item())
    }
    fn __int__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.tensor().dtype().is_int() {
            return Ok(self
                .compute(&[], |t| t.item_i64())?
                .into_pyobject(py)?
                .into_any());
        }
        let v = self.compute(&[], |t| t.item())?;
        if v.is_nan() {
            return Err(crate::python::argument_error(
                "cannot convert float NaN to integer",
            ));
        }
        if v.is_infinite() {
            return Err(pyo3::exceptions::PyOverflowError::new_err(
                "cannot convert float infinity to integer",
            ));
        }
        // Python's int of the float: exact beyond int64 (1e20 is 100000002004087734272)
        pyo3::types::PyFloat::new(py, v).call_method0(pyo3::intern!(py, "__int__"))
    }
    fn __index__(&self) -> PyResult<i64> {
        let dtype = self.tensor().dtype();
        if !(dtype.is_int() || dtype == DType::Bool) || self.tensor().numel() != 1 {
            return Err(PyTypeError::new_err(
                "only integer tensors of a single element can be converted to an index",
            ));
        }
        self.compute(&[], |t| t.item_i64())
    }
    /// numpy defers its binary operators to the tensor, so `np.float32(2) * t` and
    /// `np.ones(3) + t` give tensors (keeping autograd), as in PyTorch.
    #[classattr]
    fn __array_priority__() -> f64 {
        1000.0
    }
    fn __bool__(&self) -> PyResult<bool> {
        if self.tensor().numel() != 1 {
            let what = if self.tensor().numel() == 0 {
                "no values"
            } else {
                "more than one value"
            };
            return Err(PyRuntimeError::new_err(format!(
                "Boolean value of Tensor with {what} is ambiguous (shape {:?})",
                self.tensor().shape()
            )));
        }
        Ok(self.compute(&[], |t| t.item())? != 0.0)
    }
    fn __format__(&self, py: Python<'_>, spec: &str) -> PyResult<String> {
        if self.tensor().numel() == 1 && !spec.is_empty() {
            let v = self.item(py)?;
            return v.call_method1("__format__", (spec,))?.extract();
        }
        self.repr_as(py, None)
    }
    fn __len__(slf: &Bound<'_, Self>) -> PyResult<usize> {
        if torch_function_on() {
            return torch_function_dunder(slf, "__len__", &[])?.extract();
        }
        slf.get()._len()
    }
    /// `len(t)` without the `__torch_function__` protocol (what the protocol finally runs).
    fn _len(&self) -> PyResult<usize> {
        self.tensor()
            .shape()
            .first()
            .copied()
            .ok_or_else(|| PyTypeError::new_err("len() of a 0-d tensor"))
    }
    fn __iter__(&self) -> PyResult<TensorIter> {
        let len = self._len()?;
        Ok(TensorIter {
            t: self.tensor(),
            next: 0,
            len,
        })
    }
    fn __hash__(&self) -> u64 {
        self.hash
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        slf.get().repr_as(slf.py(), Some(slf.get_type().into_any()))
    }

    /// `to(device)`, `to(dtype)`, `to(device, dtype)`, `to(other)`, or keywords.
    #[pyo3(signature = (*args, **kwargs))]
    fn to(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyTensor> {
        let mut device = None;
        let mut dtype = None;
        // PyTorch's positional `to(dtype, non_blocking, copy)`: the second bool is `copy`
        let mut bools = 0;
        let mut copy = false;
        for a in args.iter() {
            if a.is_instance_of::<pyo3::types::PyBool>() {
                bools += 1;
                if bools == 2 {
                    copy = a.extract()?;
                }
            } else if let Ok(o) = a.extract::<PyRef<'_, PyTensor>>() {
                device = Some(o.tensor().device());
                dtype = Some(o.tensor().dtype());
            } else if let Ok(d) = parse_device(Some(&a)) {
                device = d;
            } else {
                dtype = Some(parse_dtype(&a).map_err(|e| {
                    if a.is_instance_of::<pyo3::types::PyString>() {
                        crate::python::argument_error(format!(
                            "to: {a} is neither a device ('cpu', 'gpu', 'gpu:N', 'cuda') nor a dtype"
                        ))
                    } else {
                        e
                    }
                })?);
            }
        }
        if let Some(kw) = kwargs {
            if let Some(d) = kw.get_item("device")? {
                device = parse_device(Some(&d))?;
            }
            // `dtype=None` leaves the dtype as it is, as PyTorch
            if let Some(d) = kw.get_item("dtype")?.filter(|d| !d.is_none()) {
                dtype = Some(parse_dtype(&d)?);
            }
            if let Some(c) = kw.get_item("copy")? {
                copy = c.is_truthy()?;
            }
            check_format(
                py,
                &self.tensor(),
                "to",
                kw.get_item("memory_format")?.as_ref(),
            )?;
        }
        let t = self.tensor();
        let w = match device {
            Some(d) if d.is_gpu() => usize::MAX,
            _ => gil::work(&[&t]),
        };
        // `copy=True`: a new tensor even when dtype and device already match
        let same = dtype.is_none_or(|d| d == t.dtype()) && device.is_none_or(|d| d == t.device());
        let out = run(py, w, move || {
            let t = match dtype {
                Some(d) => t.to_dtype(d)?,
                None => t,
            };
            let t = match device {
                Some(dev) => t.to_device(dev)?,
                None => t,
            };
            if copy && same {
                t.deep_clone()
            } else {
                Ok(t)
            }
        })?;
        Ok(out.into())
    }
    #[pyo3(signature = (memory_format=None))]
    fn cpu(&self, py: Python<'_>, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let t = self.tensor();
        check_format(py, &t, "cpu", memory_format)?;
        Ok(run(py, gil::work(&[&t]), move || t.to_device(Device::Cpu))?.into())
    }
    #[pyo3(signature = (index=0))]
    fn gpu(&self, py: Python<'_>, index: usize) -> PyResult<PyTensor> {
        let t = self.tensor();
        Ok(run(py, usize::MAX, move || t.to_device(Device::Gpu(index)))?.into())
    }
    #[pyo3(signature = (memory_format=None))]
    fn float(
        &self,
        py: Python<'_>,
        memory_format: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        check_format(py, &self.tensor(), "float", memory_format)?;
        self.op(|t| t.to_dtype(DType::F32))
    }
    #[pyo3(signature = (memory_format=None))]
    fn double(
        &self,
        py: Python<'_>,
        memory_format: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        check_format(py, &self.tensor(), "double", memory_format)?;
        self.op(|t| t.to_dtype(DType::F64))
    }
    #[pyo3(signature = (memory_format=None))]
    fn long(&self, py: Python<'_>, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        check_format(py, &self.tensor(), "long", memory_format)?;
        self.op(|t| t.to_dtype(DType::I64))
    }
    #[pyo3(signature = (memory_format=None))]
    fn int(&self, py: Python<'_>, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        check_format(py, &self.tensor(), "int", memory_format)?;
        self.op(|t| t.to_dtype(DType::I32))
    }
    #[pyo3(signature = (memory_format=None))]
    fn short(
        &self,
        py: Python<'_>,
        memory_format: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        check_format(py, &self.tensor(), "short", memory_format)?;
        self.op(|t| t.to_dtype(DType::I16))
    }
    #[pyo3(signature = (memory_format=None))]
    fn byte(&self, py: Python<'_>, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        check_format(py, &self.tensor(), "byte", memory_format)?;
        self.op(|t| t.to_dtype(DType::U8))
    }
    #[pyo3(signature = (memory_format=None))]
    fn char(&self, py: Python<'_>, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        check_format(py, &self.tensor(), "char", memory_format)?;
        self.op(|t| t.to_dtype(DType::I8))
    }
    #[pyo3(signature = (memory_format=None))]
    fn bool(&self, py: Python<'_>, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        check_format(py, &self.tensor(), "bool", memory_format)?;
        self.op(|t| t.to_dtype(DType::Bool))
    }
    /// `other`'s dtype and device, as PyTorch's `self.type(other.type())` (a GPU `other` moves
    /// the tensor there, a CPU one brings it back).
    fn type_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let other = other.tensor();
        self.op(|t| t.to_dtype(other.dtype())?.to_device(other.device()))
    }
    /// `copy.deepcopy`: a new leaf with its own storage, same `requires_grad`, a copy of the
    /// gradient a leaf holds, and deep copies of attributes set on the tensor (as PyTorch).
    fn __deepcopy__<'py>(
        slf: &Bound<'py, Self>,
        memo: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let me = slf.get();
        let t = me.compute(&[], |t| t.detach().deep_clone())?;
        let src = me.tensor();
        if src.is_leaf() && src.requires_grad() {
            t.set_requires_grad(true)?;
            if let Some(g) = src.grad() {
                t.set_grad(Some(g.detach().deep_clone()?))?;
            }
        }
        let out = Bound::new(slf.py(), PyTensor::from(t))?.into_any();
        copy_attributes(slf.as_any(), &out, Some(memo))?;
        Ok(out)
    }
    /// Pickling (and `multiprocessing`): the data as a numpy array with dtype, device and
    /// `requires_grad`; the history is not kept, as for a PyTorch tensor saved by value.
    fn __reduce__<'py>(slf: &Bound<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let this = slf.get();
        let rebuild = py.import("rustdl")?.getattr("_rebuild_tensor")?;
        let arr = to_numpy(py, &this.tensor())?;
        let args = PyTuple::new(
            py,
            [
                arr,
                this.tensor().dtype().name().into_pyobject(py)?.into_any(),
                this.tensor()
                    .device()
                    .to_string()
                    .into_pyobject(py)?
                    .into_any(),
                // a non-leaf is saved by value as a leaf that requires grad, as PyTorch's
                pyo3::types::PyBool::new(py, this.tensor().requires_grad())
                    .to_owned()
                    .into_any(),
            ],
        )?;
        // attributes set on the tensor travel as its state (pickle restores them), as PyTorch's
        let attrs = slf.as_any().getattr("__dict__")?;
        if attrs.len()? > 0 {
            return PyTuple::new(py, [rebuild, args.into_any(), attrs]);
        }
        PyTuple::new(py, [rebuild, args.into_any()])
    }
    /// `copy.copy`: a new leaf sharing the storage, requiring grad as the tensor does, as
    /// PyTorch's (its own tensor for autograd: its gradient is its own).
    fn __copy__(&self) -> PyResult<PyTensor> {
        let t = self.tensor();
        let out = t.detach();
        if t.requires_grad() {
            out.set_requires_grad(true)?;
        }
        Ok(out.into())
    }
    /// `memory_format=` is checked as PyTorch does; the result has rustdl's one layout.
    #[pyo3(signature = (**kwargs))]
    fn clone(slf: &Bound<'_, Self>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<PyTensor> {
        if let Some(kw) = kwargs {
            memory_format_call(slf, "_check_clone_format", kw.as_any())?;
        }
        slf.get().op(|t| t.deep_clone())
    }
    /// `memory_format=` is checked as PyTorch does; the result has rustdl's one layout.
    #[pyo3(signature = (**kwargs))]
    fn contiguous<'py>(
        slf: &Bound<'py, Self>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(kw) = kwargs {
            memory_format_call(slf, "_check_contiguous_format", kw.as_any())?;
        }
        // already row-major (at any offset): the tensor itself, as PyTorch's, so writes to
        // the result reach the base (`a[1:3].contiguous().fill_(0)` changes `a`)
        if slf.get().tensor().is_contiguous() {
            return Ok(slf.clone().into_any());
        }
        Ok(Bound::new(slf.py(), slf.get().op(|t| t.contiguous())?)?.into_any())
    }

    // ---------- in-place ----------
    // Each computes the new value out of place from the tensor it is given and lets the core
    // write it and rebase the autograd history (see `ops::inplace`).

    /// `self` in place with the value `fn(self, *args, **kwargs)`: the in-place form of an
    /// out-of-place op written in Python (`log1p_` from `log1p`). The core writes the value and
    /// rebases the history, recomputing from a copy of the old value when the op's rule reads
    /// it, so gradients and version checks are those of a built-in in-place op. `name` names
    /// the op in errors.
    #[pyo3(signature = (name, func, *args, **kwargs))]
    fn _inplace_apply<'py>(
        slf: PyRef<'py, Self>,
        name: &str,
        func: Py<PyAny>,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<PyRef<'py, Self>> {
        let name = intern_op_name(name);
        let py = slf.py();
        // the composed op's rules may read the old value anywhere in their graph (not only the
        // last node, which is all the core checks): with gradients in play it reads a copy
        let tracked = crate::autograd::is_grad_enabled()
            && (slf.tensor().requires_grad()
                || args.bind(py).iter().any(|a| {
                    a.extract::<PyRef<'_, PyTensor>>()
                        .is_ok_and(|t| t.tensor().requires_grad())
                }));
        slf.inplace_(name, move |t| {
            let t = if tracked { t.deep_clone()? } else { t.clone() };
            Python::attach(|py| {
                let mut all = vec![Py::new(py, PyTensor::from(t.clone()))?.into_any()];
                all.extend(args.bind(py).iter().map(|a| a.unbind()));
                let r = func.call(
                    py,
                    PyTuple::new(py, all)?,
                    kwargs.as_ref().map(|k| k.bind(py)),
                )?;
                Ok::<Tensor, PyErr>(r.bind(py).extract::<PyRef<'_, PyTensor>>()?.tensor())
            })
            .map_err(|e| super::python_error(name, e))
        })?;
        Ok(slf)
    }

    /// `non_blocking` is accepted as PyTorch's is: every copy here completes before it returns.
    #[pyo3(signature = (src, non_blocking = false))]
    fn copy_<'py>(
        slf: PyRef<'py, Self>,
        src: &Bound<'py, PyAny>,
        non_blocking: bool,
    ) -> PyResult<PyRef<'py, Self>> {
        let _ = non_blocking;
        let s = operand(src)?;
        let others: Vec<&Tensor> = operand_tensor(&s).into_iter().collect();
        slf.compute(&others, |x| {
            let s = match &s {
                Operand::Tensor(t) => t.to_device(x.device())?,
                &Operand::Scalar { value, .. } => Tensor::full(&[], value, x.dtype(), x.device())?,
            };
            x.copy_(&s)
        })?;
        Ok(slf)
    }
    fn zero_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.compute(&[], |x| {
            x.copy_named(&Tensor::zeros(&[], x.dtype(), x.device())?, "zero_")
        })?;
        Ok(slf)
    }
    fn fill_<'py>(slf: PyRef<'py, Self>, value: &Bound<'py, PyAny>) -> PyResult<PyRef<'py, Self>> {
        check_fits(value, slf.tensor().dtype(), "fill_")?;
        match operand(value)? {
            Operand::Scalar { value: v, .. } => slf.compute(&[], |x| x.fill_(v))?,
            Operand::Tensor(t) => {
                if t.numel() != 1 || t.ndim() != 0 {
                    return Err(PyRuntimeError::new_err(format!(
                        "fill_ only supports 0-dimension value tensor but got tensor with {} dimensions",
                        t.ndim()
                    )));
                }
                slf.compute(&[], |x| x.copy_(&t.to_device(x.device())?))?
            }
        }
        Ok(slf)
    }
    #[pyo3(signature = (mean=0.0, std=1.0, *, generator=None))]
    fn normal_<'py>(
        slf: PyRef<'py, Self>,
        mean: f64,
        std: f64,
        generator: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyRef<'py, Self>> {
        // finite and non-negative (NaN fails the finiteness test)
        if std < 0.0 || !mean.is_finite() || !std.is_finite() {
            return Err(crate::python::argument_error(format!(
                "normal_: expects a finite mean and std >= 0.0, got mean={mean}, std={std}"
            )));
        }
        super::with_generator(generator, || {
            slf.inplace_("normal_", |t| {
                t.fill_in_memory_order(|shape| {
                    Tensor::rand_kind_laid(
                        shape,
                        RandKind::Normal(mean, std),
                        t.dtype(),
                        t.device(),
                        t.is_contiguous(),
                    )
                })
            })
        })?;
        Ok(slf)
    }
    #[pyo3(signature = (a=0.0, b=1.0, *, generator=None))]
    fn uniform_<'py>(
        slf: PyRef<'py, Self>,
        a: f64,
        b: f64,
        generator: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyRef<'py, Self>> {
        if a > b || !a.is_finite() || !b.is_finite() {
            return Err(crate::python::argument_error(format!(
                "uniform_: expects to return a [from, to) range, but found from={a} > to={b} (or a non-finite bound)"
            )));
        }
        super::with_generator(generator, || {
            slf.inplace_("uniform_", |t| {
                t.fill_in_memory_order(|shape| {
                    Tensor::rand_kind(shape, RandKind::Uniform(a, b), t.dtype(), t.device())
                })
            })
        })?;
        Ok(slf)
    }
    #[pyo3(signature = (p=0.5, *, generator=None))]
    fn bernoulli_<'py>(
        slf: PyRef<'py, Self>,
        p: f64,
        generator: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyRef<'py, Self>> {
        if !(0.0..=1.0).contains(&p) {
            return Err(crate::python::argument_error(format!(
                "bernoulli_: expected 0 <= p <= 1, got {p}"
            )));
        }
        super::with_generator(generator, || {
            slf.inplace_("bernoulli_", |t| {
                t.fill_in_memory_order(|shape| {
                    Tensor::bernoulli_scalar(shape, p, t.dtype(), t.device())
                })
            })
        })?;
        Ok(slf)
    }
    #[pyo3(signature = (other, alpha=None))]
    fn add_<'py>(
        slf: PyRef<'py, Self>,
        other: &Bound<'py, PyAny>,
        alpha: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyRef<'py, Self>> {
        slf.inplace_arith(other, BinaryOp::Add, alpha, "add_")?;
        Ok(slf)
    }
    #[pyo3(signature = (other, alpha=None))]
    fn sub_<'py>(
        slf: PyRef<'py, Self>,
        other: &Bound<'py, PyAny>,
        alpha: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyRef<'py, Self>> {
        slf.inplace_arith(other, BinaryOp::Sub, alpha, "sub_")?;
        Ok(slf)
    }
    fn mul_<'py>(slf: PyRef<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<PyRef<'py, Self>> {
        slf.inplace_arith(other, BinaryOp::Mul, None, "mul_")?;
        Ok(slf)
    }
    fn div_<'py>(slf: PyRef<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<PyRef<'py, Self>> {
        slf.inplace_arith(other, BinaryOp::Div, None, "div_")?;
        Ok(slf)
    }
    fn pow_<'py>(
        slf: PyRef<'py, Self>,
        exponent: &Bound<'py, PyAny>,
    ) -> PyResult<PyRef<'py, Self>> {
        slf.inplace_arith(exponent, BinaryOp::Pow, None, "pow_")?;
        Ok(slf)
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clamp_<'py>(
        slf: PyRef<'py, Self>,
        min: Option<&Bound<'py, PyAny>>,
        max: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyRef<'py, Self>> {
        slf.clamp_inplace("clamp_", ClampBound::of(min)?, ClampBound::of(max)?)?;
        Ok(slf)
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clip_<'py>(
        slf: PyRef<'py, Self>,
        min: Option<&Bound<'py, PyAny>>,
        max: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyRef<'py, Self>> {
        slf.clamp_inplace("clip_", ClampBound::of(min)?, ClampBound::of(max)?)?;
        Ok(slf)
    }
    fn clamp_min_<'py>(
        slf: PyRef<'py, Self>,
        min: &Bound<'py, PyAny>,
    ) -> PyResult<PyRef<'py, Self>> {
        slf.clamp_inplace("clamp_min_", ClampBound::of(Some(min))?, None)?;
        Ok(slf)
    }
    fn clamp_max_<'py>(
        slf: PyRef<'py, Self>,
        max: &Bound<'py, PyAny>,
    ) -> PyResult<PyRef<'py, Self>> {
        slf.clamp_inplace("clamp_max_", None, ClampBound::of(Some(max))?)?;
        Ok(slf)
    }
    fn neg_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Neg, "neg_")?;
        Ok(slf)
    }
    fn abs_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Abs, "abs_")?;
        Ok(slf)
    }
    fn exp_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Exp, "exp_")?;
        Ok(slf)
    }
    fn log_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Log, "log_")?;
        Ok(slf)
    }
    fn sqrt_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Sqrt, "sqrt_")?;
        Ok(slf)
    }
    fn rsqrt_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Rsqrt, "rsqrt_")?;
        Ok(slf)
    }
    fn square_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Square, "square_")?;
        Ok(slf)
    }
    fn reciprocal_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Recip, "reciprocal_")?;
        Ok(slf)
    }
    fn sin_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Sin, "sin_")?;
        Ok(slf)
    }
    fn cos_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Cos, "cos_")?;
        Ok(slf)
    }
    fn tanh_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Tanh, "tanh_")?;
        Ok(slf)
    }
    fn sigmoid_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Sigmoid, "sigmoid_")?;
        Ok(slf)
    }
    fn relu_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Relu, "relu_")?;
        Ok(slf)
    }
    fn floor_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.inplace_("floor_", |t| t.rounding(UnaryOp::Floor))?;
        Ok(slf)
    }
    fn sign_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::Sign, "sign_")?;
        Ok(slf)
    }
    #[pyo3(signature = (negative_slope=0.01))]
    fn leaky_relu_(slf: PyRef<'_, Self>, negative_slope: f64) -> PyResult<PyRef<'_, Self>> {
        slf.unary_(UnaryOp::LeakyRelu(negative_slope), "leaky_relu_")?;
        Ok(slf)
    }
    /// `self += value · t1 · t2`.
    #[pyo3(signature = (tensor1, tensor2, value=1.0))]
    fn addcmul_<'py>(
        slf: PyRef<'py, Self>,
        tensor1: PyRef<'py, PyTensor>,
        tensor2: PyRef<'py, PyTensor>,
        value: f64,
    ) -> PyResult<PyRef<'py, Self>> {
        let (a, b) = (tensor1.tensor(), tensor2.tensor());
        slf.inplace_("addcmul_", |t| t.add(&a.mul(&b)?.mul_scalar(value)?))?;
        Ok(slf)
    }
    /// `self += value · t1 / t2`.
    #[pyo3(signature = (tensor1, tensor2, value=1.0))]
    fn addcdiv_<'py>(
        slf: PyRef<'py, Self>,
        tensor1: PyRef<'py, PyTensor>,
        tensor2: PyRef<'py, PyTensor>,
        value: f64,
    ) -> PyResult<PyRef<'py, Self>> {
        let (a, b) = (tensor1.tensor(), tensor2.tensor());
        slf.inplace_("addcdiv_", |t| t.add(&a.div(&b)?.mul_scalar(value)?))?;
        Ok(slf)
    }
    /// `self += weight · (end − self)`.
    fn lerp_<'py>(
        slf: PyRef<'py, Self>,
        end: PyRef<'py, PyTensor>,
        weight: &Bound<'py, PyAny>,
    ) -> PyResult<PyRef<'py, Self>> {
        let e = end.tensor();
        let w = operand(weight)?;
        slf.inplace_("lerp_", |t| {
            let d = e.sub(t)?;
            let step = match &w {
                Operand::Scalar { value: v, .. } => d.mul_scalar(*v)?,
                Operand::Tensor(wt) => d.mul(wt)?,
            };
            t.add(&step)
        })?;
        Ok(slf)
    }
    fn masked_fill_<'py>(
        slf: PyRef<'py, Self>,
        mask: PyRef<'py, PyTensor>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<PyRef<'py, Self>> {
        let m = mask.tensor();
        let shape = slf.tensor().shape().to_vec();
        if m.layout().broadcast_to(&shape, "masked_fill_").is_err() {
            return Err(crate::error::Error::Shape(format!(
                "masked_fill_: mask of shape {:?} does not broadcast to the tensor's shape {:?}",
                m.shape(),
                shape
            ))
            .into());
        }
        if let Some(v) = grad_fill_value(value, &slf.tensor())? {
            slf.inplace_("masked_fill_", |t| Tensor::where_cond(&m, &v, t))?;
            return Ok(slf);
        }
        check_fits(value, slf.tensor().dtype(), "masked_fill_")?;
        let v = scalar_value(value, "masked_fill_")?;
        slf.inplace_("masked_fill_", |t| t.masked_fill(&m, v))?;
        Ok(slf)
    }
    fn index_add_<'py>(
        slf: PyRef<'py, Self>,
        dim: isize,
        index: PyRef<'py, PyTensor>,
        source: PyRef<'py, PyTensor>,
    ) -> PyResult<PyRef<'py, Self>> {
        let (i, s) = (index.tensor(), source.tensor());
        slf.inplace_("index_add_", |t| t.index_add(dim, &i, &s))?;
        Ok(slf)
    }
    fn scatter_add_<'py>(
        slf: PyRef<'py, Self>,
        dim: isize,
        index: PyRef<'py, PyTensor>,
        src: PyRef<'py, PyTensor>,
    ) -> PyResult<PyRef<'py, Self>> {
        let (i, s) = (index.tensor(), src.tensor());
        same_dtype("scatter_add_", &slf.tensor(), &s, "src")?;
        slf.inplace_("scatter_add_", |t| {
            let (i, s) = (as_one_dim(t, &i)?, as_one_dim(t, &s)?);
            t.scatter_add(dim, &i, &s)
        })?;
        Ok(slf)
    }
    /// `self[indices] = values` (or `+=` with `accumulate`), as PyTorch's `index_put_`.
    #[pyo3(signature = (indices, values, accumulate=false))]
    fn index_put_<'py>(
        slf: PyRef<'py, Self>,
        indices: &Bound<'py, PyAny>,
        values: &Bound<'py, PyAny>,
        accumulate: bool,
    ) -> PyResult<PyRef<'py, Self>> {
        // (the dtype rule, with its one-value mask exception, is setitem's)
        let key = PyTuple::new(
            indices.py(),
            indices.try_iter()?.collect::<PyResult<Vec<_>>>()?,
        )?;
        index::setitem_impl(
            &slf.tensor(),
            key.as_any(),
            values,
            accumulate,
            "index_put_",
        )?;
        Ok(slf)
    }
    /// Moves this CPU tensor's storage into shared memory, in place (`torch.multiprocessing`):
    /// processes forked afterwards, and processes it is sent to, write the same memory. A no-op
    /// on the GPU, as PyTorch's for CUDA tensors.
    fn share_memory_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.tensor().share_memory()?;
        Ok(slf)
    }
    /// Whether this tensor's storage is in shared memory (GPU tensors: False).
    fn is_shared(&self) -> bool {
        self.tensor().shared_handle().is_some()
    }
    /// `(pid, fd, storage elements, storage offset)` of a shared CPU tensor, or None.
    fn _shared_handle(&self) -> Option<(i32, i32, usize, usize)> {
        let t = self.tensor();
        t.shared_handle()
            .map(|(pid, fd, len)| (pid, fd, len, t.layout().offset))
    }
    /// Makes this tensor a leaf that needs no gradient, in place.
    fn detach_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.tensor().detach_in_place()?;
        Ok(slf)
    }
    fn __iadd__(&self, other: InplaceOperand<'_>) -> PyResult<()> {
        self.inplace_arith(&other.0, BinaryOp::Add, None, "add_ (+=)")
    }
    fn __isub__(&self, other: InplaceOperand<'_>) -> PyResult<()> {
        self.inplace_arith(&other.0, BinaryOp::Sub, None, "sub_ (-=)")
    }
    fn __imul__(&self, other: InplaceOperand<'_>) -> PyResult<()> {
        self.inplace_arith(&other.0, BinaryOp::Mul, None, "mul_ (*=)")
    }
    fn __itruediv__(&self, other: InplaceOperand<'_>) -> PyResult<()> {
        self.inplace_arith(&other.0, BinaryOp::Div, None, "div_ (/=)")
    }
    fn __ipow__(&self, other: InplaceOperand<'_>, _m: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.inplace_arith(&other.0, BinaryOp::Pow, None, "pow_ (**=)")
    }

    // ---------- arithmetic ----------

    fn __add__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary_dunder(o, BinaryOp::Add, false)
    }
    fn __radd__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary_dunder(o, BinaryOp::Add, true)
    }
    fn __sub__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary_dunder(o, BinaryOp::Sub, false)
    }
    fn __rsub__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary_dunder(o, BinaryOp::Sub, true)
    }
    fn __mul__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary_dunder(o, BinaryOp::Mul, false)
    }
    fn __rmul__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary_dunder(o, BinaryOp::Mul, true)
    }
    fn __truediv__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary_dunder(o, BinaryOp::Div, false)
    }
    fn __rtruediv__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary_dunder(o, BinaryOp::Div, true)
    }
    fn __pow__(&self, o: &Bound<'_, PyAny>, _m: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        self.or_not_implemented(o, |me| me.arith(o, BinaryOp::Pow, false))
    }
    fn __rpow__(&self, o: &Bound<'_, PyAny>, _m: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        self.or_not_implemented(o, |me| me.arith(o, BinaryOp::Pow, true))
    }
    fn __matmul__(&self, py: Python<'_>, o: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        self.matmul(py, o)
    }
    fn __rmatmul__(&self, py: Python<'_>, o: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let (a, b) = (o.tensor(), self.tensor());
        Ok(run(py, gil::work(&[&a, &b]).saturating_mul(16), move || {
            a.matmul(&b)
        })?
        .into())
    }
    fn __neg__(&self) -> PyResult<PyTensor> {
        self.op(|t| t.neg())
    }
    /// `+t` (`positive`): the tensor itself, as PyTorch's; refused for bool, as there.
    fn __pos__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        if slf.get().tensor().dtype() == DType::Bool {
            return Err(pyo3::exceptions::PyNotImplementedError::new_err(
                "The `+` operator, on a bool tensor is not supported.",
            ));
        }
        Ok(slf.clone())
    }
    fn __abs__(&self) -> PyResult<PyTensor> {
        self.op(|t| t.abs())
    }
    fn __invert__(&self) -> PyResult<PyTensor> {
        if self.tensor().dtype() != DType::Bool {
            return Err(PyTypeError::new_err(
                "~ (bitwise not) is only supported for bool tensors",
            ));
        }
        self.op(|t| t.unary(UnaryOp::Not))
    }
    fn __and__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.or_not_implemented(o, |me| me.compare(o, BinaryOp::And))
    }
    fn __or__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.or_not_implemented(o, |me| me.compare(o, BinaryOp::Or))
    }
    fn __richcmp__(&self, o: &Bound<'_, PyAny>, op: pyo3::basic::CompareOp) -> PyResult<Py<PyAny>> {
        use pyo3::basic::CompareOp::*;
        let py = o.py();
        // `t == None` is False and `t != None` True (no elementwise comparison), as PyTorch
        if o.is_none() && matches!(op, Eq | Ne) {
            return Ok(pyo3::types::PyBool::new(py, matches!(op, Ne))
                .to_owned()
                .into_any()
                .unbind());
        }
        // `t == [1, 2]` / `t == (1, 2)` is not elementwise either: False, as PyTorch
        if matches!(op, Eq | Ne)
            && (o.is_instance_of::<pyo3::types::PyList>()
                || o.is_instance_of::<pyo3::types::PyTuple>())
        {
            return Ok(py.NotImplemented());
        }
        let b = match op {
            Lt => BinaryOp::Lt,
            Le => BinaryOp::Le,
            Eq => BinaryOp::Eq,
            Ne => BinaryOp::Ne,
            Gt => BinaryOp::Gt,
            Ge => BinaryOp::Ge,
        };
        self.or_not_implemented(o, |me| me.compare(o, b))
    }

    /// `self + alpha · other` (also PyTorch's deprecated `add(alpha, other)` order).
    #[pyo3(signature = (other, alpha=None))]
    fn add(
        &self,
        other: &Bound<'_, PyAny>,
        alpha: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        self.arith_alpha(other, BinaryOp::Add, alpha)
    }
    /// `self − alpha · other` (also PyTorch's deprecated `sub(alpha, other)` order).
    #[pyo3(signature = (other, alpha=None))]
    fn sub(
        &self,
        other: &Bound<'_, PyAny>,
        alpha: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        self.arith_alpha(other, BinaryOp::Sub, alpha)
    }
    fn mul(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let o = other;
        self.arith(o, BinaryOp::Mul, false)
    }
    fn div(&self, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.arith(o, BinaryOp::Div, false)
    }
    fn pow(&self, exponent: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.arith(exponent, BinaryOp::Pow, false)
    }
    fn eq(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let o = other;
        self.compare(o, BinaryOp::Eq)
    }
    fn ne(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let o = other;
        self.compare(o, BinaryOp::Ne)
    }
    fn lt(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let o = other;
        self.compare(o, BinaryOp::Lt)
    }
    fn le(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let o = other;
        self.compare(o, BinaryOp::Le)
    }
    fn gt(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let o = other;
        self.compare(o, BinaryOp::Gt)
    }
    fn ge(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let o = other;
        self.compare(o, BinaryOp::Ge)
    }
    fn logical_and(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let o = other;
        self.compare(o, BinaryOp::And)
    }
    fn logical_or(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let o = other;
        self.compare(o, BinaryOp::Or)
    }
    fn logical_not(&self) -> PyResult<PyTensor> {
        self.op(|t| t.unary(UnaryOp::Not))
    }
    fn maximum(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let o = other;
        let o = o.tensor();
        Ok(self.compute(&[&o], |t| t.maximum(&o))?.into())
    }
    fn minimum(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let o = other;
        let o = o.tensor();
        Ok(self.compute(&[&o], |t| t.minimum(&o))?.into())
    }

    // ---------- unary ----------

    fn neg(&self) -> PyResult<PyTensor> {
        self.op(|t| t.neg())
    }
    fn abs(&self) -> PyResult<PyTensor> {
        self.op(|t| t.abs())
    }
    fn exp(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Exp)
    }
    fn log(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Log)
    }
    fn log1p(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Log1p)
    }
    fn sqrt(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Sqrt)
    }
    fn rsqrt(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Rsqrt)
    }
    fn sin(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Sin)
    }
    fn cos(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Cos)
    }
    fn tanh(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Tanh)
    }
    fn sigmoid(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Sigmoid)
    }
    fn relu(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Relu)
    }
    fn square(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Square)
    }
    fn sign(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Sign)
    }
    fn floor(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Floor)
    }
    fn reciprocal(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Recip)
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clamp(
        &self,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        self.clamp_op(ClampBound::of(min)?, ClampBound::of(max)?)
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clip(
        &self,
        min: Option<&Bound<'_, PyAny>>,
        max: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        self.clamp_op(ClampBound::of(min)?, ClampBound::of(max)?)
    }
    fn clamp_min(&self, min: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.clamp_op(ClampBound::of(Some(min))?, None)
    }
    fn clamp_max(&self, max: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        self.clamp_op(None, ClampBound::of(Some(max))?)
    }

    // ---------- reductions ----------

    #[pyo3(signature = (dim=None, keepdim=false, dtype=None))]
    fn sum(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dims = dims_arg(dim)?;
        let dt = opt_dtype(dtype)?;
        self.op(|t| t.cast_opt(dt)?.sum(&dims, keepdim)?.narrow_to(dt))
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn mean(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        let dims = dims_arg(dim)?;
        self.op(|t| t.mean(&dims, keepdim))
    }
    #[pyo3(signature = (dim=None, unbiased=None, keepdim=false, correction=None))]
    fn var(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<bool>,
        keepdim: bool,
        correction: Option<f64>,
    ) -> PyResult<PyTensor> {
        let c = correction.unwrap_or(if unbiased.unwrap_or(true) { 1.0 } else { 0.0 });
        let dims = dims_arg(dim)?;
        self.op(|t| t.var(&dims, c, keepdim))
    }
    #[pyo3(signature = (dim=None, unbiased=None, keepdim=false, correction=None))]
    fn std(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<bool>,
        keepdim: bool,
        correction: Option<f64>,
    ) -> PyResult<PyTensor> {
        let c = correction.unwrap_or(if unbiased.unwrap_or(true) { 1.0 } else { 0.0 });
        let dims = dims_arg(dim)?;
        self.op(|t| t.std(&dims, c, keepdim))
    }
    #[pyo3(signature = (p=None, dim=None, keepdim=false, dtype=None))]
    fn norm(
        &self,
        p: Option<&Bound<'_, PyAny>>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dims = dims_arg(dim)?;
        let order = match p {
            None => 2.0,
            Some(p) if p.is_none() => 2.0,
            Some(p) => match p.extract::<String>() {
                Ok(s) if s == "fro" => 2.0,
                Ok(s) => {
                    return Err(crate::python::argument_error(format!(
                        "norm: order '{s}' is not supported (use a number or 'fro')"
                    )))
                }
                Err(_) => p.extract::<f64>()?,
            },
        };
        let dt = opt_dtype(dtype)?;
        self.op(|t| t.cast_opt(dt)?.norm(order, &dims, keepdim))
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn max<'py>(
        &self,
        py: Python<'py>,
        dim: Option<&Bound<'py, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.maxmin(py, dim, keepdim, true)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn min<'py>(
        &self,
        py: Python<'py>,
        dim: Option<&Bound<'py, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.maxmin(py, dim, keepdim, false)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmax(&self, dim: Option<isize>, keepdim: bool) -> PyResult<PyTensor> {
        self.op(|t| t.argmax_min(dim, keepdim, true))
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmin(&self, dim: Option<isize>, keepdim: bool) -> PyResult<PyTensor> {
        self.op(|t| t.argmax_min(dim, keepdim, false))
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn all(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        let dims = dim_list(dim)?;
        self.op(|t| {
            u8_like(
                t,
                match dims {
                    None => keep_all_dims(t.all(None)?, t, keepdim),
                    // an empty dim list reduces nothing, as PyTorch's all
                    Some(dims) if dims.is_empty() => t.to_dtype(crate::dtype::DType::Bool),
                    Some(dims) => over_dims(t, &dims, keepdim, "all", |x, d| {
                        x.all(Some(d))?.unsqueeze(d)
                    }),
                }?,
            )
        })
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn any(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        let dims = dim_list(dim)?;
        self.op(|t| {
            u8_like(
                t,
                match dims {
                    None => keep_all_dims(t.any(None)?, t, keepdim),
                    // an empty dim list reduces nothing, as PyTorch's any
                    Some(dims) if dims.is_empty() => t.to_dtype(crate::dtype::DType::Bool),
                    Some(dims) => over_dims(t, &dims, keepdim, "any", |x, d| {
                        x.any(Some(d))?.unsqueeze(d)
                    }),
                }?,
            )
        })
    }
    #[pyo3(signature = (dim=-1))]
    fn softmax(&self, py: Python<'_>, dim: isize) -> PyResult<PyTensor> {
        let x = self.tensor();
        Ok(run(py, gil::work(&[&x]), move || x.softmax_dim(dim, false))?.into())
    }
    #[pyo3(signature = (dim=-1))]
    fn log_softmax(&self, py: Python<'_>, dim: isize) -> PyResult<PyTensor> {
        let x = self.tensor();
        Ok(run(py, gil::work(&[&x]), move || x.softmax_dim(dim, true))?.into())
    }
    #[pyo3(signature = (dim, keepdim=false))]
    fn logsumexp(&self, dim: &Bound<'_, PyAny>, keepdim: bool) -> PyResult<PyTensor> {
        let dims = dim_list(Some(dim))?;
        self.op(|t| match dims {
            Some(dims) if dims.len() == 1 => t.logsumexp(dims[0], keepdim),
            // over several dims one at a time (log-sum-exp nests): the whole tensor for ()
            Some(dims) => over_dims(t, &dims, keepdim, "logsumexp", |x, d| x.logsumexp(d, true)),
            None => t.logsumexp(0, keepdim),
        })
    }

    // ---------- linear algebra ----------

    fn matmul(&self, py: Python<'_>, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let o = other;
        let (a, b) = (self.tensor(), o.tensor());
        let work = gil::work(&[&a, &b]).saturating_mul(16);
        Ok(run(py, work, move || a.matmul(&b))?.into())
    }
    fn mm(&self, py: Python<'_>, mat2: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let o = mat2;
        if self.tensor().ndim() != 2 || o.tensor().ndim() != 2 {
            return Err(crate::python::argument_error(format!(
                "mm: expected 2-D tensors, got shapes {:?} and {:?}",
                self.tensor().shape(),
                o.tensor().shape()
            )));
        }
        let (a, b) = (self.tensor(), o.tensor());
        let work = gil::work(&[&a, &b]).saturating_mul(16);
        Ok(run(py, work, move || {
            a.matmul(&b).map_err(|e| e.renamed("matmul", "mm"))
        })?
        .into())
    }
    fn bmm(&self, py: Python<'_>, mat2: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let o = mat2;
        if self.tensor().ndim() != 3
            || o.tensor().ndim() != 3
            || self.tensor().shape()[0] != o.tensor().shape()[0]
        {
            return Err(crate::python::argument_error(format!(
                "bmm: expected 3-D tensors with equal batch, got shapes {:?} and {:?}",
                self.tensor().shape(),
                o.tensor().shape()
            )));
        }
        let (a, b) = (self.tensor(), o.tensor());
        Ok(self
            .matmul(py, o)?
            .tensor()
            .label_grad_fn("BmmBackward0", &[&a, &b])
            .into())
    }

    // ---------- shape ----------

    #[pyo3(signature = (*args, shape=None))]
    fn reshape(
        &self,
        args: &Bound<'_, PyTuple>,
        shape: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let shape = sizes_or_keyword(args, shape, "reshape", "shape")?;
        let s = self.tensor().infer_shape(&shape_args(&shape)?, "reshape")?;
        self.op(|t| own_view(t, t.reshape(&s)?, "ViewBackward0"))
    }
    /// `view(2, 3)`, `view((2, 3))` or PyTorch's keyword form `view(size=(2, 3))`; `view(dtype)`
    /// reinterprets the elements' bytes as another dtype (see `rustdl._dtype_view`).
    #[pyo3(signature = (*shape, size=None, dtype=None))]
    fn view(
        slf: &Bound<'_, Self>,
        shape: &Bound<'_, PyTuple>,
        size: Option<&Bound<'_, PyAny>>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let py = slf.py();
        let as_dtype = match (dtype, shape.len()) {
            (Some(d), 0) if size.is_none() => Some(d.clone()),
            (None, 1) if size.is_none() => {
                let a = shape.get_item(0)?;
                a.is_instance_of::<PyDType>().then_some(a)
            }
            _ => None,
        };
        if let Some(d) = as_dtype {
            let out = py
                .import("rustdl._dtype_view")?
                .getattr("view_dtype")?
                .call1((slf, d))?;
            let t = out.extract::<PyRef<'_, PyTensor>>()?.tensor();
            return Ok(PyTensor::from(t));
        }
        let this = slf.borrow();
        let shape = keyword_sizes(shape, size, "view", "size")?;
        let s = this.tensor().infer_shape(&shape_args(&shape)?, "view")?;
        this.op(|t| t.view(&s))
    }
    fn view_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let o = other;
        let o = o.tensor();
        Ok(self.compute(&[&o], |t| t.view(o.shape()))?.into())
    }
    fn reshape_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let o = other;
        let o = o.tensor();
        Ok(self
            .compute(&[&o], |t| {
                own_view(t, t.reshape(o.shape())?, "ViewBackward0")
            })?
            .into())
    }
    #[pyo3(signature = (*args, dims=None))]
    fn permute(
        &self,
        args: &Bound<'_, PyTuple>,
        dims: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dims = sizes_or_keyword(args, dims, "permute", "dims")?;
        if dims.is_empty() {
            // `permute()` names no order (a 0-d tensor's empty order is `permute(())`)
            return Err(PyTypeError::new_err(
                "permute() missing 1 required positional argument: 'dims'",
            ));
        }
        Ok(self.tensor().permute(&shape_args(&dims)?)?.into())
    }
    fn transpose(&self, dim0: isize, dim1: isize) -> PyResult<PyTensor> {
        self.op(|t| t.transpose(dim0, dim1))
    }
    fn t(&self) -> PyResult<PyTensor> {
        self.op(|t| t.t())
    }
    #[getter(T)]
    fn get_t(&self) -> PyResult<PyTensor> {
        let n = self.tensor().ndim() as isize;
        let rev: Vec<isize> = (0..n).rev().collect();
        self.op(|t| t.permute(&rev))
    }
    #[pyo3(signature = (start_dim=0, end_dim=-1))]
    fn flatten<'py>(
        slf: &Bound<'py, Self>,
        start_dim: isize,
        end_dim: isize,
    ) -> PyResult<Bound<'py, PyAny>> {
        // flattening one dim into itself (a 1-D tensor, flatten(1, 1)) gives the tensor itself,
        // as PyTorch's (an in-place change of the result is a change of the input)
        let n = slf.get().tensor().ndim() as isize;
        let at = |d: isize| if d < 0 { d + n } else { d };
        if n > 0 && at(start_dim) == at(end_dim) && (0..n).contains(&at(start_dim)) {
            return Ok(slf.clone().into_any());
        }
        Ok(Bound::new(slf.py(), slf.get().op(|t| t.flatten(start_dim, end_dim))?)?.into_any())
    }
    #[pyo3(signature = (dim=None))]
    fn squeeze(&self, dim: Option<isize>) -> PyResult<PyTensor> {
        let t = self.tensor();
        Ok(match dim {
            None => own_view(&t, t.squeeze_all()?, "SqueezeBackward0")?,
            Some(d) => own_view(&t, t.squeeze_dim(d)?, "SqueezeBackward1")?,
        }
        .into())
    }
    fn unsqueeze(&self, dim: isize) -> PyResult<PyTensor> {
        self.op(|t| t.unsqueeze(dim))
    }
    #[pyo3(signature = (*args, size=None))]
    fn expand(
        &self,
        args: &Bound<'_, PyTuple>,
        size: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let req = shape_args(&sizes_or_keyword(args, size, "expand", "size")?)?;
        self.op(|t| own_view(t, t.expand_signed(&req)?, "ExpandBackward0"))
    }
    fn expand_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let o = other;
        let o = o.tensor();
        Ok(self
            .compute(&[&o], |t| {
                own_view(t, t.expand(o.shape())?, "ExpandBackward0")
            })?
            .into())
    }
    /// `repeat(2, 3)`, `repeat((2, 3))` or the keyword form `repeat(repeats=(2, 3))`.
    #[pyo3(signature = (*reps, repeats=None))]
    fn repeat(
        &self,
        reps: &Bound<'_, PyTuple>,
        repeats: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let reps = keyword_sizes(reps, repeats, "repeat", "repeats")?;
        let reps = size_args(&reps, "repeat")?;
        self.op(|t| t.repeat(&reps))
    }
    fn narrow(&self, dim: isize, start: isize, length: isize) -> PyResult<PyTensor> {
        self.op(|t| t.narrow_signed(dim, start, length))
    }
    fn select(&self, dim: isize, index: isize) -> PyResult<PyTensor> {
        self.op(|t| t.select(dim, index))
    }
    #[pyo3(signature = (split_size_or_sections, dim=0))]
    fn split<'py>(
        &self,
        py: Python<'py>,
        split_size_or_sections: &Bound<'_, PyAny>,
        dim: isize,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let parts = if let Ok(n) = split_size_or_sections.extract::<isize>() {
            let t = self.tensor();
            if n == 0 {
                // split_size 0 is allowed only for an empty dimension: one empty piece
                let d = crate::shape::norm_dim(dim, t.ndim(), "split")?;
                if t.shape().get(d).copied().unwrap_or(1) != 0 {
                    return Err(crate::python::argument_error(format!(
                        "split: split_size can only be 0 if dimension {dim} has size 0, shape {:?}",
                        t.shape()
                    )));
                }
                t.split_sizes(&[0], dim)?
            } else if n < 0 {
                return Err(crate::python::argument_error(format!(
                    "split: split_size must be a positive integer, got {n}"
                )));
            } else {
                t.split(n as usize, dim)?
            }
        } else {
            let sizes =
                super::convert::extract_items::<isize>(split_size_or_sections).map_err(|_| {
                    PyTypeError::new_err(
                        "split: split_size_or_sections must be an int or a list of ints",
                    )
                })?;
            if let Some(bad) = sizes.iter().find(|&&s| s < 0) {
                return Err(crate::python::argument_error(format!(
                    "split: split sizes must be non-negative, got {bad} in {sizes:?}"
                )));
            }
            let sizes: Vec<usize> = sizes.into_iter().map(|s| s as usize).collect();
            self.tensor().split_sizes(&sizes, dim)?
        };
        // a tuple, as PyTorch's (`x.split(n) + (y,)` concatenates)
        PyTuple::new(py, parts.into_iter().map(PyTensor::from))
    }
    #[pyo3(signature = (chunks, dim=0))]
    fn chunk<'py>(
        &self,
        py: Python<'py>,
        chunks: isize,
        dim: isize,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if chunks <= 0 {
            return Err(crate::python::argument_error(format!(
                "chunk: number of chunks must be positive, got {chunks}"
            )));
        }
        let parts = self.tensor().chunk(chunks as usize, dim)?;
        PyTuple::new(py, parts.into_iter().map(PyTensor::from))
    }
    #[pyo3(signature = (*args, dims=None))]
    fn flip(
        &self,
        args: &Bound<'_, PyTuple>,
        dims: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dims = shape_args(&sizes_or_keyword(args, dims, "flip", "dims")?)?;
        self.op(|t| t.flip(&dims))
    }

    // ---------- indexing ----------

    fn index_select(&self, dim: isize, index: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let index = index.tensor();
        Ok(self
            .compute(&[&index], |t| t.index_select(dim, &index))?
            .into())
    }
    /// `gather(dim, index, *, sparse_grad=False)`: the gradient is always dense (the values
    /// are those of PyTorch's sparse one).
    #[pyo3(signature = (dim, index, *, sparse_grad=false))]
    fn gather(
        &self,
        dim: isize,
        index: PyRef<'_, PyTensor>,
        sparse_grad: bool,
    ) -> PyResult<PyTensor> {
        let _ = sparse_grad;
        let index = index.tensor();
        Ok(self
            .compute(&[&index], |t| {
                let out = t.gather(dim, &as_one_dim(t, &index)?)?;
                // a scalar index gathers a scalar
                if index.ndim() == 0 {
                    out.reshape(&[])
                } else {
                    Ok(out)
                }
            })?
            .into())
    }
    fn scatter_add(
        &self,
        dim: isize,
        index: PyRef<'_, PyTensor>,
        src: PyRef<'_, PyTensor>,
    ) -> PyResult<PyTensor> {
        let index = index.tensor();
        let src = src.tensor();
        Ok(self
            .compute(&[&index, &src], |t| {
                t.scatter_add(dim, &as_one_dim(t, &index)?, &as_one_dim(t, &src)?)
            })?
            .into())
    }
    fn masked_fill(
        &self,
        mask: PyRef<'_, PyTensor>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        let mask = mask.tensor();
        if let Some(v) = grad_fill_value(value, &self.tensor())? {
            return Ok(self
                .compute(&[&mask, &v], |t| Tensor::where_cond(&mask, &v, t))?
                .into());
        }
        check_fits(value, self.tensor().dtype(), "masked_fill")?;
        let v = scalar_value(value, "masked_fill")?;
        Ok(self.compute(&[&mask], |t| t.masked_fill(&mask, v))?.into())
    }
    fn masked_select(&self, mask: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let mask = mask.tensor();
        Ok(self.compute(&[&mask], |t| t.masked_select(&mask))?.into())
    }
    fn nonzero(&self) -> PyResult<PyTensor> {
        self.op(|t| t.nonzero())
    }
    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if torch_function_on() {
            return torch_function_dunder(slf, "__getitem__", &[key]);
        }
        Ok(Bound::new(slf.py(), slf.get()._getitem(key)?)?.into_any())
    }
    /// `t[key]` without the `__torch_function__` protocol (what the protocol finally runs).
    fn _getitem(&self, key: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let t = self.tensor();
        Ok(own_view(&t, index::getitem(key.py(), &t, key)?, "AliasBackward0")?.into())
    }
    fn __setitem__(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        if torch_function_on() {
            torch_function_dunder(slf, "__setitem__", &[key, value])?;
            return Ok(());
        }
        slf.get()._setitem(key, value)
    }
    /// `t[key] = value` without the `__torch_function__` protocol.
    fn _setitem(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        index::setitem_impl(&self.tensor(), key, value, false, "setitem")
    }

    // ---------- new tensors like this one ----------

    #[pyo3(signature = (*args, size=None, dtype=None, device=None, requires_grad=false))]
    fn new_zeros(
        &self,
        args: &Bound<'_, PyTuple>,
        size: Option<&Bound<'_, PyAny>>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        self.new_filled("new_zeros", args, size, 0.0, dtype, device, requires_grad)
    }
    #[pyo3(signature = (*args, size=None, dtype=None, device=None, requires_grad=false))]
    fn new_ones(
        &self,
        args: &Bound<'_, PyTuple>,
        size: Option<&Bound<'_, PyAny>>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        self.new_filled("new_ones", args, size, 1.0, dtype, device, requires_grad)
    }
    #[pyo3(signature = (size, fill_value, *, dtype=None, device=None, requires_grad=false))]
    fn new_full(
        &self,
        size: &Bound<'_, PyAny>,
        fill_value: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        let (dt, _) = self.new_placement(dtype, None)?;
        check_fits(fill_value, dt, "new_full")?;
        let v: f64 = fill_value.extract()?;
        let empty = PyTuple::empty(size.py());
        self.new_filled(
            "new_full",
            &empty,
            Some(size),
            v,
            dtype,
            device,
            requires_grad,
        )
    }
    #[pyo3(signature = (data, *, dtype=None, device=None, requires_grad=false))]
    fn new_tensor(
        &self,
        data: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        let (dt, dev) = self.new_placement(dtype, device)?;
        let t = to_tensor(data, Some(dt))?.to_device(dev)?;
        // a copy with no history, as PyTorch's new_tensor (even of a tensor)
        let t = if data.is_instance_of::<PyTensor>() {
            t.detach().deep_clone()?
        } else {
            t
        };
        if requires_grad {
            t.set_requires_grad(true)?;
        }
        Ok(t.into())
    }

    // ---- the everyday API (issue 14) ----

    /// `type()`: the type name ('torch.FloatTensor', 'torch.cuda.FloatTensor', ...);
    /// `type(dtype_or_name)`: a converted copy (itself when the type already matches).
    #[pyo3(signature = (dtype=None, non_blocking=false))]
    fn r#type<'py>(
        &self,
        py: Python<'py>,
        dtype: Option<&Bound<'py, PyAny>>,
        non_blocking: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = non_blocking;
        let Some(d) = dtype.filter(|d| !d.is_none()) else {
            let base = match self.tensor().dtype() {
                DType::F32 => "FloatTensor",
                DType::F64 => "DoubleTensor",
                DType::I64 => "LongTensor",
                DType::Bool => "BoolTensor",
                DType::U8 => "ByteTensor",
                DType::I8 => "CharTensor",
                DType::I16 => "ShortTensor",
                DType::I32 => "IntTensor",
            };
            let prefix = if self.tensor().device().is_gpu() {
                "torch.cuda."
            } else {
                "torch."
            };
            return Ok(pyo3::types::PyString::new(py, &format!("{prefix}{base}")).into_any());
        };
        let (dt, dev) = match d.extract::<String>() {
            Ok(s) if s.ends_with("Tensor") => {
                let name = s.rsplit('.').next().unwrap_or("");
                let dt = match name {
                    "FloatTensor" => DType::F32,
                    "DoubleTensor" => DType::F64,
                    "LongTensor" => DType::I64,
                    "IntTensor" => DType::I32,
                    "ShortTensor" => DType::I16,
                    "ByteTensor" => DType::U8,
                    "CharTensor" => DType::I8,
                    "BoolTensor" => DType::Bool,
                    _ => {
                        return Err(PyTypeError::new_err(format!(
                            "type: invalid type '{s}' (supported: Float, Double, Long, Int, Short, Byte, Char, Bool tensors)"
                        )))
                    }
                };
                let dev = if s.contains(".cuda.") || s.contains(".gpu.") {
                    Some(match self.tensor().device() {
                        Device::Gpu(i) => Device::Gpu(i),
                        Device::Cpu => Device::Gpu(0),
                    })
                } else {
                    Some(Device::Cpu)
                };
                (dt, dev)
            }
            _ => (parse_dtype(d)?, None),
        };
        let mut t = self.compute(&[], |t| t.to_dtype(dt))?;
        if let Some(dev) = dev {
            t = t.to_device(dev)?;
        }
        Ok(Bound::new(py, PyTensor::from(t))?.into_any())
    }
    #[pyo3(signature = (k, dim=-1, largest=true, sorted=true))]
    fn topk<'py>(
        &self,
        py: Python<'py>,
        k: i64,
        dim: isize,
        largest: bool,
        sorted: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = usize::try_from(k).map_err(|_| {
            pyo3::exceptions::PyRuntimeError::new_err(format!(
                "topk: k ({k}) must be non-negative (input shape {:?})",
                self.tensor().shape()
            ))
        })?;
        let (values, indices) = self.compute(&[], |t| t.topk(k, dim, largest, sorted))?;
        values_indices(py, "topk", values, indices)
    }
    #[pyo3(signature = (dim=-1, descending=false, stable=None))]
    fn sort<'py>(
        &self,
        py: Python<'py>,
        dim: isize,
        descending: bool,
        stable: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = stable;
        let (values, indices) = self.compute(&[], |t| t.sort(dim, descending))?;
        values_indices(py, "sort", values, indices)
    }
    #[pyo3(signature = (dim=-1, descending=false, stable=None))]
    fn argsort(&self, dim: isize, descending: bool, stable: Option<bool>) -> PyResult<PyTensor> {
        let _ = stable;
        self.op(|t| t.argsort(dim, descending))
    }
    #[pyo3(signature = (dim, dtype=None))]
    fn cumsum(&self, dim: isize, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let dt = dtype
            .filter(|d| !d.is_none())
            .map(parse_dtype)
            .transpose()?;
        self.op(|t| t.cumsum(dim, dt))
    }
    #[pyo3(signature = (dim, dtype=None))]
    fn cumprod(&self, dim: isize, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let dt = dtype
            .filter(|d| !d.is_none())
            .map(parse_dtype)
            .transpose()?;
        self.op(|t| t.cumprod(dim, dt))
    }
    #[pyo3(signature = (dim=None, keepdim=false, dtype=None))]
    fn prod(
        &self,
        dim: Option<isize>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let dt = dtype
            .filter(|d| !d.is_none())
            .map(parse_dtype)
            .transpose()?;
        self.op(|t| t.prod(dim, keepdim, dt))
    }
    #[pyo3(signature = (diagonal=0))]
    fn tril(&self, diagonal: i64) -> PyResult<PyTensor> {
        self.op(|t| t.tril(diagonal))
    }
    #[pyo3(signature = (diagonal=0))]
    fn triu(&self, diagonal: i64) -> PyResult<PyTensor> {
        self.op(|t| t.triu(diagonal))
    }
    #[pyo3(signature = (diagonal=0))]
    fn tril_(slf: PyRef<'_, Self>, diagonal: i64) -> PyResult<PyRef<'_, Self>> {
        slf.inplace_("tril_", |t| t.tril(diagonal))?;
        Ok(slf)
    }
    #[pyo3(signature = (diagonal=0))]
    fn triu_(slf: PyRef<'_, Self>, diagonal: i64) -> PyResult<PyRef<'_, Self>> {
        slf.inplace_("triu_", |t| t.triu(diagonal))?;
        Ok(slf)
    }
    #[pyo3(signature = (num_samples, replacement=false, *, generator=None))]
    fn multinomial(
        &self,
        num_samples: i64,
        replacement: bool,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let num_samples = usize::try_from(num_samples)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "multinomial: cannot sample n_sample <= 0 samples (got {num_samples})"
                ))
            })?;
        super::with_generator(generator, || {
            self.op(|t| t.multinomial(num_samples, replacement))
        })
    }
    fn dot(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let other = other.tensor();
        Ok(self.compute(&[&other], |t| t.dot(&other))?.into())
    }
    fn inner(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let other = other.tensor();
        Ok(self.compute(&[&other], |t| t.dot(&other))?.into())
    }
    fn outer(&self, vec2: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let other = vec2.tensor();
        Ok(self.compute(&[&other], |t| t.outer(&other))?.into())
    }
    fn ger(&self, vec2: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let other = vec2;
        let other = other.tensor();
        Ok(self.compute(&[&other], |t| t.outer(&other))?.into())
    }
    #[pyo3(signature = (decimals=0))]
    fn round(&self, decimals: i64) -> PyResult<PyTensor> {
        self.op(|t| t.round_decimals(decimals))
    }
    fn ceil(&self) -> PyResult<PyTensor> {
        self.op(|t| t.rounding(UnaryOp::Ceil))
    }
    fn trunc(&self) -> PyResult<PyTensor> {
        self.op(|t| t.rounding(UnaryOp::Trunc))
    }
    fn fix(&self) -> PyResult<PyTensor> {
        self.op(|t| t.rounding(UnaryOp::Trunc))
    }
    #[pyo3(signature = (decimals=0))]
    fn round_(slf: PyRef<'_, Self>, decimals: i64) -> PyResult<PyRef<'_, Self>> {
        slf.inplace_("round_", |t| t.round_decimals(decimals))?;
        Ok(slf)
    }
    fn ceil_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.inplace_("ceil_", |t| t.rounding(UnaryOp::Ceil))?;
        Ok(slf)
    }
    fn trunc_(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.inplace_("trunc_", |t| t.rounding(UnaryOp::Trunc))?;
        Ok(slf)
    }
    fn erf(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Erf)
    }
    fn erfinv(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Erfinv)
    }
    fn expm1(&self, py: Python<'_>) -> PyResult<PyTensor> {
        self.un(py, UnaryOp::Expm1)
    }
    fn log2(&self) -> PyResult<PyTensor> {
        self.op(|t| t.log_base(2.0))
    }
    fn log10(&self) -> PyResult<PyTensor> {
        self.op(|t| t.log_base(10.0))
    }
    fn remainder(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let o = other;
        self.checked_int_div(o, BinaryOp::Remainder, false)
    }
    fn fmod(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let o = other;
        self.checked_int_div(o, BinaryOp::Fmod, false)
    }
    fn floor_divide(&self, other: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let o = other;
        self.checked_int_div(o, BinaryOp::FloorDiv, false)
    }
    fn __mod__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.or_not_implemented(o, |me| me.checked_int_div(o, BinaryOp::Remainder, false))
    }
    fn __rmod__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.or_not_implemented(o, |me| me.checked_int_div(o, BinaryOp::Remainder, true))
    }
    fn __floordiv__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.or_not_implemented(o, |me| me.checked_int_div(o, BinaryOp::FloorDiv, false))
    }
    fn __rfloordiv__(&self, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.or_not_implemented(o, |me| me.checked_int_div(o, BinaryOp::FloorDiv, true))
    }
    fn isnan(&self) -> PyResult<PyTensor> {
        self.op(|t| t.float_test(UnaryOp::IsNan))
    }
    fn isinf(&self) -> PyResult<PyTensor> {
        self.op(|t| t.float_test(UnaryOp::IsInf))
    }
    fn isfinite(&self) -> PyResult<PyTensor> {
        self.op(|t| t.float_test(UnaryOp::IsFinite))
    }
    #[pyo3(signature = (nan=0.0, posinf=None, neginf=None))]
    fn nan_to_num(&self, nan: f64, posinf: Option<f64>, neginf: Option<f64>) -> PyResult<PyTensor> {
        self.op(|t| t.nan_to_num(nan, posinf, neginf))
    }
    #[pyo3(signature = (dim=0))]
    fn unbind<'py>(&self, py: Python<'py>, dim: isize) -> PyResult<Bound<'py, PyTuple>> {
        let d = crate::shape::norm_dim(dim, self.tensor().ndim(), "unbind")?;
        if self.tensor().ndim() == 0 {
            return Err(PyIndexError::new_err(
                "unbind: dimension specified as 0 but tensor has no dimensions",
            ));
        }
        crate::ops::shape::pieces_fit(self.tensor().shape()[d], "unbind", self.tensor().shape())?;
        let parts = (0..self.tensor().shape()[d])
            .map(|i| {
                Ok(PyTensor::from(
                    self.tensor().select(d as isize, i as isize)?,
                ))
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, parts)
    }
    #[pyo3(signature = (shifts, dims=None))]
    fn roll(
        &self,
        shifts: &Bound<'_, PyAny>,
        dims: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let shifts: Vec<i64> = match shifts.extract::<i64>() {
            Ok(s) => vec![s],
            Err(_) => shifts.extract()?,
        };
        let dims = dims_arg(dims)?;
        self.op(|t| t.roll(&shifts, &dims))
    }
    #[pyo3(signature = (diagonal=0))]
    fn diag(&self, diagonal: i64) -> PyResult<PyTensor> {
        self.op(|t| t.diag(diagonal))
    }
    #[pyo3(signature = (repeats, dim=None, *, output_size=None))]
    fn repeat_interleave(
        &self,
        repeats: &Bound<'_, PyAny>,
        dim: Option<isize>,
        output_size: Option<usize>,
    ) -> PyResult<PyTensor> {
        let reps: Vec<i64> = if let Ok(t) = repeats.extract::<PyRef<'_, PyTensor>>() {
            if t.tensor().dtype().is_float() || t.tensor().ndim() > 1 {
                return Err(PyTypeError::new_err(format!(
                    "repeat_interleave: repeats must be an int or a 0-d/1-d integer tensor, got {} of shape {:?}",
                    t.tensor().dtype(),
                    t.tensor().shape()
                )));
            }
            t.tensor().to_i64_vec()?
        } else {
            vec![repeats.extract::<i64>().map_err(|_| {
                PyTypeError::new_err("repeat_interleave: repeats must be an int or a tensor")
            })?]
        };
        let out = self.compute(&[], |t| t.repeat_interleave(&reps, dim))?;
        if let Some(n) = output_size {
            let d = match dim {
                Some(d) => crate::shape::norm_dim(d, out.ndim(), "repeat_interleave")?,
                None => 0,
            };
            if out.shape()[d] != n {
                return Err(crate::python::argument_error(format!(
                    "repeat_interleave: output_size {n} does not match the result's {} along dim {d}",
                    out.shape()[d]
                )));
            }
        }
        Ok(out.into())
    }
    #[pyo3(signature = (*size))]
    fn broadcast_to(&self, size: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        let want = shape_args(size)?;
        self.op(|t| own_view(t, t.broadcast_to_signed(&want)?, "ExpandBackward0"))
    }
    fn movedim(
        &self,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        let s = dims_arg(Some(source))?;
        let d = dims_arg(Some(destination))?;
        self.op(|t| t.movedim(&s, &d))
    }
    fn moveaxis(
        &self,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        self.movedim(source, destination)
    }
    fn swapaxes(&self, axis0: isize, axis1: isize) -> PyResult<PyTensor> {
        self.op(|t| t.transpose(axis0, axis1))
    }
    fn swapdims(&self, dim0: isize, dim1: isize) -> PyResult<PyTensor> {
        self.op(|t| t.transpose(dim0, dim1))
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amax(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        let dims = dims_arg(dim)?;
        self.op(|t| t.amax_amin(&dims, keepdim, true))
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amin(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        let dims = dims_arg(dim)?;
        self.op(|t| t.amax_amin(&dims, keepdim, false))
    }
    /// To the GPU (`device`: an index, 'cuda', 'cuda:N' or a device), as PyTorch's `cuda()`.
    #[pyo3(signature = (device=None, non_blocking=false))]
    fn cuda(
        &self,
        py: Python<'_>,
        device: Option<&Bound<'_, PyAny>>,
        non_blocking: bool,
    ) -> PyResult<PyTensor> {
        let _ = non_blocking;
        let dev = match device.filter(|d| !d.is_none()) {
            None => Device::Gpu(0),
            Some(d) => match d.extract::<usize>() {
                Ok(i) => Device::Gpu(i),
                Err(_) => match parse_device(Some(d))? {
                    Some(Device::Gpu(i)) => Device::Gpu(i),
                    _ => {
                        return Err(crate::python::argument_error(
                            "cuda: expected a GPU device (an index, 'cuda:N' or 'gpu:N')",
                        ))
                    }
                },
            },
        };
        let t = self.tensor();
        Ok(run(py, usize::MAX, move || t.to_device(dev))?.into())
    }
    #[getter]
    fn is_mps(&self) -> bool {
        false
    }
    #[getter]
    fn is_xpu(&self) -> bool {
        false
    }
    #[getter]
    fn is_meta(&self) -> bool {
        false
    }
    #[pyo3(signature = (*args, size=None, dtype=None, device=None, requires_grad=false))]
    fn new_empty(
        &self,
        args: &Bound<'_, PyTuple>,
        size: Option<&Bound<'_, PyAny>>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        self.new_filled("new_empty", args, size, 0.0, dtype, device, requires_grad)
    }
}

impl PyTensor {
    /// The dtype and device of a `new_*` tensor: this one's unless given.
    fn new_placement(
        &self,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(crate::dtype::DType, crate::device::Device)> {
        let dt = match dtype.filter(|d| !d.is_none()) {
            Some(d) => parse_dtype(d)?,
            None => self.tensor().dtype(),
        };
        let dev = parse_device(device)?.unwrap_or(self.tensor().device());
        Ok((dt, dev))
    }

    /// `new_zeros/new_ones/new_empty/new_full`: the size as `*args` or `size=`, filled with
    /// `value`, of this tensor's dtype and device unless given (PyTorch's keywords).
    #[allow(clippy::too_many_arguments)]
    fn new_filled(
        &self,
        op: &str,
        args: &Bound<'_, PyTuple>,
        size: Option<&Bound<'_, PyAny>>,
        value: f64,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        // the size as the creation functions read it (`*args` or `size=`, not both)
        let shape = super::shape_arg(args, size, op)?;
        let (dt, dev) = self.new_placement(dtype, device)?;
        super::finish(Tensor::full(&shape, value, dt, dev)?, requires_grad)
    }

    fn un(&self, py: Python<'_>, op: UnaryOp) -> PyResult<PyTensor> {
        let x = self.tensor();
        Ok(run(py, gil::work(&[&x]), move || x.unary(op))?.into())
    }

    fn maxmin<'py>(
        &self,
        py: Python<'py>,
        dim: Option<&Bound<'py, PyAny>>,
        keepdim: bool,
        is_max: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => {
                let r = self.compute(&[], |t| t.max_min_all(is_max))?;
                Ok(Bound::new(py, PyTensor::from(r))?.into_any())
            }
            Some(d) => {
                if let Ok(o) = d.extract::<PyRef<'_, PyTensor>>() {
                    let o = o.tensor();
                    let r =
                        self.compute(
                            &[&o],
                            |t| {
                                if is_max {
                                    t.maximum(&o)
                                } else {
                                    t.minimum(&o)
                                }
                            },
                        )?;
                    return Ok(Bound::new(py, PyTensor::from(r))?.into_any());
                }
                let d: isize = d
                    .extract()
                    .map_err(|_| PyTypeError::new_err("max/min: dim must be an int"))?;
                let (v, i) = self.compute(&[], |t| t.max_min_dim(d, keepdim, is_max))?;
                values_indices(py, if is_max { "max" } else { "min" }, v, i)
            }
        }
    }
}

/// The sizes of a method taking `*sizes` or one keyword (`view(size=...)`): the positional
/// tuple, or the keyword's value as a one-element tuple (read as the whole shape); both is an error.
fn keyword_sizes<'py>(
    positional: &Bound<'py, PyTuple>,
    keyword: Option<&Bound<'py, PyAny>>,
    op: &str,
    name: &str,
) -> PyResult<Bound<'py, PyTuple>> {
    match keyword {
        None => Ok(positional.clone()),
        Some(k) if positional.is_empty() => PyTuple::new(positional.py(), [k]),
        Some(_) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{op}() got sizes both positionally and as '{name}='"
        ))),
    }
}

impl PyTensor {
    /// `%`, `//`, remainder, fmod, floor_divide: an integer division by zero raises
    /// ZeroDivisionError as in PyTorch (checked on the CPU, where it costs no transfer).
    fn checked_int_div(
        &self,
        other: &Bound<'_, PyAny>,
        op: BinaryOp,
        reflected: bool,
    ) -> PyResult<PyTensor> {
        let out = self.arith(other, op, reflected)?;
        // an empty result divides nothing, so a zero divisor is no error (as PyTorch)
        if !out.tensor().dtype().is_float()
            && out.tensor().numel() > 0
            && out.tensor().device() == Device::Cpu
        {
            let divisor = if reflected {
                self.tensor()
            } else {
                match operand(other)? {
                    Operand::Tensor(t) => t,
                    Operand::Scalar { value: v, .. } => {
                        Tensor::full(&[], v, DType::I64, Device::Cpu)?
                    }
                }
            };
            if divisor.numel() > 0 && divisor.device() == Device::Cpu {
                let zeros = divisor
                    .eq_scalar(0.0)?
                    .to_dtype(DType::I64)?
                    .sum_all()?
                    .item()?;
                if zeros > 0.0 {
                    return Err(super::zero_division_error(format!(
                        "{}: integer division by zero",
                        op.name()
                    )));
                }
            }
        }
        Ok(out)
    }
}

/// The `(values, indices)` named tuple that `max(dim)`, `min(dim)`, `sort` and `topk` return
/// (PyTorch's `torch.return_types`): a real tuple subclass, so `isinstance(r, tuple)`, `r[0]`,
/// unpacking and `r.values` all work.
pub fn values_indices_type(py: Python<'_>) -> PyResult<&Bound<'_, pyo3::types::PyType>> {
    static TYPE: pyo3::sync::PyOnceLock<Py<pyo3::types::PyType>> = pyo3::sync::PyOnceLock::new();
    TYPE.get_or_try_init(py, || {
        let kw = pyo3::types::PyDict::new(py);
        kw.set_item("module", "rustdl")?;
        py.import("collections")?
            .getattr("namedtuple")?
            .call(("ValuesIndices", ("values", "indices")), Some(&kw))?
            .cast_into::<pyo3::types::PyType>()
            .map(|t| t.unbind())
            .map_err(PyErr::from)
    })
    .map(|t| t.bind(py))
}

/// The `(values, indices)` named tuple of op `name` (`rustdl.return_types.<name>`, a
/// subclass of `ValuesIndices` that prints as PyTorch's `torch.return_types.<name>`).
pub fn values_indices<'py>(
    py: Python<'py>,
    name: &str,
    values: Tensor,
    indices: Tensor,
) -> PyResult<Bound<'py, PyAny>> {
    py.import("rustdl.return_types")?
        .getattr(name)?
        .call1((PyTensor::from(values), PyTensor::from(indices)))
}

/// A bound of `clamp`: a number, or a tensor broadcast against the input (PyTorch >= 1.9).
/// PyTorch's check of in-place ops that write `other`'s values into `t`: one dtype for both.
fn same_dtype(op: &str, t: &Tensor, other: &Tensor, what: &str) -> PyResult<()> {
    if t.dtype() != other.dtype() {
        return Err(crate::error::Error::DType(format!(
            "{op}: self ({}) and {what} ({}) must have the same dtype (shapes {:?} and {:?})",
            t.dtype(),
            other.dtype(),
            t.shape(),
            other.shape()
        ))
        .into());
    }
    Ok(())
}

/// The Python object last handed to (or returned by) a tensor hook, with the tensor it wraps:
/// the next hook on the same gradient gets that object again. Hooks run holding the GIL; the
/// entry points of backward forget it when they return ([`forget_hook_grad`]).
static HOOK_GRAD: Mutex<Option<(Tensor, Py<PyAny>)>> = Mutex::new(None);

fn hook_grad_object(py: Python<'_>, g: &Tensor) -> CoreResult<Py<PyAny>> {
    let known = HOOK_GRAD
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .filter(|(t, _)| Arc::ptr_eq(&t.0, &g.0))
        .map(|(_, o)| o.clone_ref(py));
    if let Some(o) = known {
        return Ok(o);
    }
    let o: Py<PyAny> = Py::new(py, PyTensor::from(g.clone()))
        .map_err(|e| super::python_error("tensor hook", e))?
        .into_any();
    remember_hook_grad(g, o.clone_ref(py));
    Ok(o)
}

fn remember_hook_grad(t: &Tensor, o: Py<PyAny>) {
    *HOOK_GRAD.lock().unwrap_or_else(|e| e.into_inner()) = Some((t.clone(), o));
}

/// Drops the remembered hook gradient (called with the GIL held once a backward is over), so
/// it does not keep a gradient's memory alive.
pub(crate) fn forget_hook_grad() {
    let old = HOOK_GRAD.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(old);
}

pub(crate) enum ClampBound {
    Num(f64),
    Tensor(Tensor),
}

impl ClampBound {
    fn of(b: Option<&Bound<'_, PyAny>>) -> PyResult<Option<ClampBound>> {
        let Some(b) = b.filter(|b| !b.is_none()) else {
            return Ok(None);
        };
        if let Ok(t) = b.extract::<PyRef<'_, PyTensor>>() {
            return Ok(Some(ClampBound::Tensor(t.tensor())));
        }
        b.extract::<f64>()
            .map(|v| Some(ClampBound::Num(v)))
            .map_err(|_| {
                PyTypeError::new_err(format!(
                    "clamp: min and max must be numbers or tensors, got {}",
                    b.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_else(|_| "?".into())
                ))
            })
    }

    fn tensor(b: &Option<ClampBound>) -> Option<&Tensor> {
        match b {
            Some(ClampBound::Tensor(t)) => Some(t),
            _ => None,
        }
    }
}

/// PyTorch refuses a clamp with neither bound (it would silently be a copy).
fn check_some_bound(name: &str, lo: &Option<ClampBound>, hi: &Option<ClampBound>) -> PyResult<()> {
    if lo.is_none() && hi.is_none() {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "{name}: at least one of 'min' or 'max' must not be None"
        )));
    }
    Ok(())
}

/// `out` itself, or where a shape op changed nothing and gave back `src`, a new view of it: as
/// PyTorch's, the result is another tensor with an autograd identity of its own (a hook, a
/// `retain_grad`, `.grad` or `requires_grad_` on it is not the source's).
fn own_view(src: &Tensor, out: Tensor, label: &'static str) -> CoreResult<Tensor> {
    if out.id() != src.id() {
        return Ok(out);
    }
    Ok(src
        .view_op(src.layout().clone(), "view", |g| Ok(vec![Some(g.clone())]))
        .label_grad_fn(label, &[src]))
}

/// `min(max(t, lo), hi)`, as PyTorch's clamp (the upper bound wins where `lo > hi`).
fn clamp_bounds(
    t: &Tensor,
    lo: &Option<ClampBound>,
    hi: &Option<ClampBound>,
) -> CoreResult<Tensor> {
    use ClampBound::{Num, Tensor as T};
    if !matches!((lo, hi), (Some(T(_)), _) | (_, Some(T(_)))) {
        let num = |b: &Option<ClampBound>| match b {
            Some(Num(v)) => Some(*v),
            _ => None,
        };
        return t.clamp(num(lo), num(hi));
    }
    // the value from selections over detached inputs, the gradient from `clamp_rule`
    let pick = |bound: &Tensor, from: &Tensor, op: BinaryOp| -> CoreResult<Tensor> {
        // a NaN bound gives NaN
        let nan = bound.binary(bound, BinaryOp::Ne)?;
        let take = from.binary(bound, op)?.binary(&nan, BinaryOp::Or)?;
        Tensor::where_cond(&take, bound, from)
    };
    let lower = match lo {
        Some(Num(v)) => t.detach().clamp(Some(*v), None)?,
        Some(T(m)) => pick(&m.detach(), &t.detach(), BinaryOp::Lt)?,
        None => t.detach(),
    };
    let out = match hi {
        Some(Num(v)) => lower.clamp(None, Some(*v))?,
        Some(T(m)) => pick(&m.detach(), &lower, BinaryOp::Gt)?,
        None => lower,
    };
    if !out.dtype().is_float() {
        return Ok(out);
    }
    // a number beside a tensor bound takes part as a constant tensor
    let as_tensor = |b: &Option<ClampBound>| -> CoreResult<Option<Tensor>> {
        Ok(match b {
            Some(T(m)) => Some(m.clone()),
            Some(Num(v)) => Some(t.scalar_like(*v)?),
            None => None,
        })
    };
    let (l, h) = (as_tensor(lo)?, as_tensor(hi)?);
    let inputs: Vec<&Tensor> = [Some(t), l.as_ref(), h.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    let saved: Vec<Tensor> = inputs.iter().map(|x| x.saved()).collect();
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|x| x.shape().to_vec()).collect();
    let (has_lo, has_hi) = (l.is_some(), h.is_some());
    let rule = move |g: &Tensor| -> CoreResult<Vec<Option<Tensor>>> {
        let x = &saved[0];
        let l = has_lo.then(|| &saved[1]);
        let h = has_hi.then(|| &saved[saved.len() - 1]);
        let grads = clamp_rule(g, x, l, h)?;
        grads
            .into_iter()
            .zip(&shapes)
            .map(|(gi, s)| gi.map(|gi| gi.sum_to(s)).transpose())
            .collect()
    };
    let saved_refs: Vec<Tensor> = inputs.iter().map(|x| (*x).clone()).collect();
    let saved_refs: Vec<&Tensor> = saved_refs.iter().collect();
    Ok(out.with_rule("clamp", &inputs, &saved_refs, rule))
}

/// The gradients of clamp with tensor bounds for the input and each bound present, as PyTorch's:
/// one bound is `maximum`/`minimum` (a tie splits the gradient, a NaN passes it to both); with
/// both, a tie with one bound splits between the input and that bound, the input keeps it all
/// where `lo == hi` equals it, the upper bound takes it all where `lo > hi`, and a NaN bound
/// passes it to the input on the side it does not decide.
fn clamp_rule(
    g: &Tensor,
    x: &Tensor,
    l: Option<&Tensor>,
    h: Option<&Tensor>,
) -> CoreResult<Vec<Option<Tensor>>> {
    let z = g.zeros_like()?;
    let half = g.mul_scalar(0.5)?;
    let cmp = |a: &Tensor, b: &Tensor, op: BinaryOp| a.binary(b, op);
    let or = |a: &Tensor, b: &Tensor| a.binary(b, BinaryOp::Or);
    let sel = |c: &Tensor, a: &Tensor, b: &Tensor| Tensor::where_cond(c, a, b);
    match (l, h) {
        (Some(l), Some(h)) => {
            let (xn, ln, hn) = (
                cmp(x, x, BinaryOp::Ne)?,
                cmp(l, l, BinaryOp::Ne)?,
                cmp(h, h, BinaryOp::Ne)?,
            );
            let inv = cmp(l, h, BinaryOp::Gt)?;
            let eqlh = cmp(l, h, BinaryOp::Eq)?;
            let (xlt, xgt) = (cmp(x, l, BinaryOp::Lt)?, cmp(x, h, BinaryOp::Gt)?);
            let (xel, xeh) = (cmp(x, l, BinaryOp::Eq)?, cmp(x, h, BinaryOp::Eq)?);
            let bound_nan = or(&ln, &hn)?;
            let any_nan = or(&xn, &bound_nan)?;
            let gx = sel(
                &xn,
                g,
                &sel(
                    &or(&inv, &or(&xlt, &xgt)?)?,
                    &z,
                    &sel(
                        &or(&eqlh, &bound_nan)?,
                        g,
                        &sel(&or(&xel, &xeh)?, &half, g)?,
                    )?,
                )?,
            )?;
            let tie = |eq: &Tensor| sel(&eqlh, &z, &sel(eq, &half, &z)?);
            let gl = sel(&or(&any_nan, &inv)?, &z, &sel(&xlt, g, &tie(&xel)?)?)?;
            let gh = sel(&inv, g, &sel(&any_nan, &z, &sel(&xgt, g, &tie(&xeh)?)?)?)?;
            Ok(vec![Some(gx), Some(gl), Some(gh)])
        }
        (Some(b), None) | (None, Some(b)) => {
            // maximum(x, lo) / minimum(x, hi)
            let (x_loses, b_loses) = if l.is_some() {
                (BinaryOp::Lt, BinaryOp::Gt)
            } else {
                (BinaryOp::Gt, BinaryOp::Lt)
            };
            let shared = sel(&cmp(x, b, BinaryOp::Eq)?, &half, g)?;
            let gx = sel(&cmp(x, b, x_loses)?, &z, &shared)?;
            let gb = sel(&cmp(x, b, b_loses)?, &z, &shared)?;
            Ok(vec![Some(gx), Some(gb)])
        }
        (None, None) => Ok(vec![Some(g.clone())]),
    }
}

impl PyTensor {
    fn clamp_inplace(
        &self,
        name: &'static str,
        lo: Option<ClampBound>,
        hi: Option<ClampBound>,
    ) -> PyResult<()> {
        check_some_bound(name, &lo, &hi)?;
        let dt = self.tensor().dtype();
        if !dt.is_float() {
            // a fractional bound makes a floating result, which an integer tensor cannot hold
            let fractional = |b: &Option<ClampBound>| match b {
                Some(ClampBound::Num(v)) => v.fract() != 0.0 || !v.is_finite(),
                Some(ClampBound::Tensor(t)) => t.dtype().is_float(),
                None => false,
            };
            if fractional(&lo) || fractional(&hi) {
                return Err(crate::error::Error::DType(format!(
                    "{name}: result type Float can't be cast to the desired output type {dt} (shape {:?})",
                    self.tensor().shape()
                ))
                .into());
            }
        }
        let tensor_bound = ClampBound::tensor(&lo).is_some() || ClampBound::tensor(&hi).is_some();
        self.inplace_(name, |t| {
            if tensor_bound {
                // maximum/minimum save their input for backward: give them a copy, so the
                // in-place write does not overwrite what they saved
                clamp_bounds(&t.deep_clone()?, &lo, &hi)
            } else {
                clamp_bounds(t, &lo, &hi)
            }
        })
    }

    fn clamp_op(&self, lo: Option<ClampBound>, hi: Option<ClampBound>) -> PyResult<PyTensor> {
        check_some_bound("clamp", &lo, &hi)?;
        // a 0-d CPU tensor bound is a scalar: it goes to a GPU input's device, as PyTorch's
        let device = self.tensor().device();
        let to_device = |b: Option<ClampBound>| -> PyResult<Option<ClampBound>> {
            Ok(match b {
                Some(ClampBound::Tensor(t))
                    if t.ndim() == 0 && t.device() != device && !t.device().is_gpu() =>
                {
                    Some(ClampBound::Tensor(t.to_device(device)?))
                }
                other => other,
            })
        };
        let (lo, hi) = (to_device(lo)?, to_device(hi)?);
        let others: Vec<&Tensor> = [ClampBound::tensor(&lo), ClampBound::tensor(&hi)]
            .into_iter()
            .flatten()
            .collect();
        Ok(self.compute(&others, |t| clamp_bounds(t, &lo, &hi))?.into())
    }
}
