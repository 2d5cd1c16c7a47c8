//! Autograd from Python: `grad_fn` node objects, `autograd.grad`, and nodes whose rule is a
//! Python `autograd.Function.backward`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple, PyWeakrefMethods, PyWeakrefReference};

use crate::autograd::{self, Node};
use crate::error::{Error, Result as CoreResult};
use crate::tensor::Tensor;

use super::gil;
use super::pytensor::PyTensor;

/// PyTorch's name for a node: the one its op set, else one made from the op's name.
pub fn node_name(n: &Node) -> String {
    n.display_name()
}

/// A recorded op, as `tensor.grad_fn`.
#[pyclass(name = "Node", module = "rustdl.autograd", frozen, subclass, weakref)]
pub struct PyNode {
    pub node: Arc<Node>,
}

/// The node that accumulates into a leaf's `.grad` (in `next_functions`).
#[pyclass(name = "AccumulateGrad", module = "rustdl.autograd", frozen, weakref)]
pub struct PyAccumulateGrad {
    leaf: Tensor,
}

#[pymethods]
impl PyNode {
    fn name(&self) -> String {
        node_name(&self.node)
    }
    /// `((node, 0), ...)` for each input: its node, `AccumulateGrad` for a leaf, or `None`.
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items = self
            .node
            .next()
            .into_iter()
            .map(|e| -> PyResult<Bound<'py, PyAny>> {
                let f: Bound<'py, PyAny> = match e {
                    None => py.None().into_bound(py),
                    Some(Ok(n)) => node_object(py, n)?,
                    Some(Err(t)) => accumulator_object(py, t)?,
                };
                Ok(PyTuple::new(py, [f, 0usize.into_pyobject(py)?.into_any()])?.into_any())
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, items)
    }
    /// Registers `hook(grad_outputs)` run before this node's rule (it may return a replacement
    /// tuple); returns the id `_remove_hook` takes (`Node.register_prehook` wraps it in a handle).
    fn _register_prehook(&self, py: Python<'_>, hook: Py<PyAny>) -> PyResult<u64> {
        callable("register_prehook", py, &hook)?;
        let name = node_name(&self.node);
        let h: autograd::GradHook = Arc::new(move |g: &Tensor| {
            Python::attach(|py| -> CoreResult<Option<Tensor>> {
                let outs = PyTuple::new(py, [PyTensor::from(g.clone())])
                    .map_err(|e| super::python_error("node pre-hook", e))?;
                let out = hook
                    .bind(py)
                    .call1((outs,))
                    .map_err(|e| super::python_error("node pre-hook", e))?;
                let new = hook_tensors(&out, 1, &name, "pre-hook")?;
                Ok(new.and_then(|mut v| v.pop().flatten()))
            })
        });
        Ok(self.node.hooks.add(h))
    }
    /// Registers `hook(grad_inputs, grad_outputs)` run after this node's rule (it may return a
    /// replacement for `grad_inputs`); returns the id `_remove_hook` takes.
    fn _register_hook(&self, py: Python<'_>, hook: Py<PyAny>) -> PyResult<u64> {
        callable("register_hook", py, &hook)?;
        let name = node_name(&self.node);
        let h: autograd::NodePostHook = Arc::new(move |grads: &[Option<Tensor>], g: &Tensor| {
            Python::attach(|py| -> CoreResult<Option<Vec<Option<Tensor>>>> {
                let py_err = |e| super::python_error("node hook", e);
                let ins = PyTuple::new(py, grads.iter().map(|t| t.clone().map(PyTensor::from)))
                    .map_err(py_err)?;
                let outs = PyTuple::new(py, [PyTensor::from(g.clone())]).map_err(py_err)?;
                let out = hook.bind(py).call1((ins, outs)).map_err(py_err)?;
                hook_tensors(&out, grads.len(), &name, "hook")
            })
        });
        Ok(self.node.add_post_hook(h))
    }
    fn _remove_hook(&self, id: u64) {
        self.node.remove_hook(id)
    }
    /// A dict kept with the node for the user's own annotations (`grad_fn.metadata`).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        Ok(node_extra(py, &self.node).metadata.bind(py).clone())
    }
    /// A Python Function's node reads as its `ctx` (PyTorch's `grad_fn` of a custom Function
    /// is the ctx): `grad_fn.saved_tensors`, `grad_fn.needs_input_grad`, what forward set.
    fn __getattr__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        if let Some(ctx) = node_extra(py, &self.node).ctx.as_ref() {
            return ctx.bind(py).getattr(name);
        }
        Err(pyo3::exceptions::PyAttributeError::new_err(format!(
            "'{}' object has no attribute '{name}'",
            node_name(&self.node)
        )))
    }
    fn __repr__(&self) -> String {
        format!("<{} object>", node_name(&self.node))
    }
    fn __eq__(&self, other: PyRef<'_, PyNode>) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }
    fn __hash__(&self) -> u64 {
        Arc::as_ptr(&self.node) as usize as u64
    }
}

/// The Python object of `node`: the same one while it is alive (`t.grad_fn is t.grad_fn`, a
/// node reached through two paths of `next_functions` is one object), as PyTorch's.
pub fn node_object(py: Python<'_>, node: Arc<Node>) -> PyResult<Bound<'_, PyAny>> {
    let extra = node_extra(py, &node);
    let mut slot = extra.object.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(obj) = slot.as_ref().and_then(|w| w.bind(py).upgrade()) {
        return Ok(obj);
    }
    let obj = Bound::new(py, PyNode { node: node.clone() })?.into_any();
    *slot = Some(PyWeakrefReference::new(&obj)?.unbind());
    Ok(obj)
}

/// The Python objects of leaves that require grad, by tensor id (weakly): what
/// `AccumulateGrad.variable` hands back, so that it is the user's own tensor (`acc.variable is
/// w`, attributes set through it reach `w`), as PyTorch's.
static LEAF_OBJECTS: OnceLock<Mutex<LeafObjects>> = OnceLock::new();

#[derive(Default)]
struct LeafObjects {
    by_id: HashMap<u64, Py<PyWeakrefReference>>,
    /// the map's size after the last sweep of dead entries (the next one runs at twice that)
    swept_at: usize,
}

impl LeafObjects {
    /// Keeps `obj` (weakly) for tensor `id`; dead entries are swept as the map doubles.
    fn keep(&mut self, id: u64, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        self.by_id
            .insert(id, PyWeakrefReference::new(obj)?.unbind());
        if self.by_id.len() >= 2 * self.swept_at.max(512) {
            let py = obj.py();
            self.by_id.retain(|_, w| w.bind(py).upgrade().is_some());
            self.swept_at = self.by_id.len();
        }
        Ok(())
    }
}

fn leaf_objects() -> std::sync::MutexGuard<'static, LeafObjects> {
    LEAF_OBJECTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The Python objects of leaves' gradient accumulators, by tensor id (weakly): one object per
/// leaf while alive (`n1 is n2` for two paths to one leaf), as PyTorch's.
static ACCUMULATORS: OnceLock<Mutex<LeafObjects>> = OnceLock::new();

fn accumulator_object(py: Python<'_>, leaf: Tensor) -> PyResult<Bound<'_, PyAny>> {
    let mut map = ACCUMULATORS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(obj) = map.by_id.get(&leaf.id()).and_then(|w| w.bind(py).upgrade()) {
        return Ok(obj);
    }
    let id = leaf.id();
    let obj = Bound::new(py, PyAccumulateGrad { leaf })?.into_any();
    map.keep(id, &obj)?;
    Ok(obj)
}

/// Remembers `obj` as the Python object of its tensor when that is a leaf requiring grad and
/// no live object is remembered for it yet.
pub fn remember_leaf_object(obj: &Bound<'_, PyTensor>) -> PyResult<()> {
    let t = obj.get().tensor();
    if !t.requires_grad() || !t.is_leaf() {
        return Ok(());
    }
    let py = obj.py();
    let mut map = leaf_objects();
    if let Some(w) = map.by_id.get(&t.id()) {
        if w.bind(py).upgrade().is_some() {
            return Ok(());
        }
    }
    map.keep(t.id(), obj.as_any())
}

/// `rustdl._rustdl._remember_leaf(t)`: see [`remember_leaf_object`] (factories called with
/// `requires_grad=True`).
#[pyfunction]
fn _remember_leaf(obj: &Bound<'_, PyTensor>) -> PyResult<()> {
    remember_leaf_object(obj)
}

/// What the bindings keep with a node: `grad_fn.metadata`'s dict and, for a Python Function's
/// node, its ctx.
struct NodeExtra {
    metadata: Py<pyo3::types::PyDict>,
    ctx: Option<Py<PyAny>>,
    /// the node's live Python object, weakly (see [`node_object`])
    object: Mutex<Option<Py<PyWeakrefReference>>>,
}

fn node_extra<'a>(py: Python<'_>, node: &'a Node) -> &'a NodeExtra {
    let kept = node.extra.get_or_init(|| {
        Box::new(NodeExtra {
            metadata: pyo3::types::PyDict::new(py).unbind(),
            ctx: None,
            object: Mutex::new(None),
        }) as Box<autograd::PackedAny>
    });
    // only this module sets a node's extra, always to a NodeExtra
    #[allow(clippy::expect_used)]
    kept.downcast_ref::<NodeExtra>()
        .expect("a node's extra is always a NodeExtra")
}

/// Keeps `ctx` with a Python Function's fresh node (nothing read its extra yet).
fn keep_ctx(py: Python<'_>, node: &Node, ctx: &Option<Py<PyAny>>) {
    if let Some(c) = ctx {
        let _ = node.extra.set(Box::new(NodeExtra {
            metadata: pyo3::types::PyDict::new(py).unbind(),
            ctx: Some(c.clone_ref(py)),
            object: Mutex::new(None),
        }));
    }
}

fn callable(op: &str, py: Python<'_>, hook: &Py<PyAny>) -> PyResult<()> {
    if hook.bind(py).is_callable() {
        Ok(())
    } else {
        Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{op}: the hook must be callable"
        )))
    }
}

/// What a node hook returned: `None` (keep the gradients) or a tuple/list of `n` entries, each
/// a tensor or `None`.
fn hook_tensors(
    out: &Bound<'_, PyAny>,
    n: usize,
    node: &str,
    kind: &str,
) -> CoreResult<Option<Vec<Option<Tensor>>>> {
    if out.is_none() {
        return Ok(None);
    }
    let bad = || {
        Error::Runtime(format!(
            "{kind} of {node}: expected None or a tuple of {n} tensors (or None), got {}",
            out.get_type()
                .name()
                .map(|s| s.to_string())
                .unwrap_or_default()
        ))
    };
    let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = out.cast::<PyTuple>() {
        t.iter().collect()
    } else if let Ok(l) = out.cast::<PyList>() {
        l.iter().collect()
    } else {
        return Err(bad());
    };
    if items.len() != n {
        return Err(Error::Runtime(format!(
            "{kind} of {node}: returned {} gradients, expected {n}",
            items.len()
        )));
    }
    items
        .iter()
        .map(|x| {
            if x.is_none() {
                Ok(None)
            } else {
                x.extract::<PyRef<'_, PyTensor>>()
                    .map(|t| Some(t.tensor()))
                    .map_err(|_| bad())
            }
        })
        .collect::<CoreResult<Vec<_>>>()
        .map(Some)
}

#[pymethods]
impl PyAccumulateGrad {
    fn name(&self) -> &'static str {
        "torch::autograd::AccumulateGrad"
    }
    /// The leaf: the user's own Python object where one is alive (see [`LEAF_OBJECTS`]).
    #[getter]
    fn variable<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let known = leaf_objects()
            .by_id
            .get(&self.leaf.id())
            .and_then(|w| w.bind(py).upgrade());
        if let Some(obj) = known {
            return Ok(obj);
        }
        let obj = Bound::new(py, PyTensor::from(self.leaf.clone()))?;
        remember_leaf_object(&obj)?;
        Ok(obj.into_any())
    }
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> Bound<'py, PyTuple> {
        PyTuple::empty(py)
    }
    fn __repr__(&self) -> &'static str {
        "<AccumulateGrad object>"
    }
    // one leaf's accumulators are one node, however reached
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyAccumulateGrad>()
            .is_ok_and(|o| o.get().leaf.id() == self.leaf.id())
    }
    fn __hash__(&self) -> u64 {
        self.leaf.id()
    }
}

/// `rustdl.autograd.grad`: gradients of `outputs` w.r.tensor(). `inputs`, returned, not accumulated.
#[pyfunction]
#[pyo3(signature = (outputs, inputs, grad_outputs, retain_graph=false, allow_unused=false, create_graph=false))]
fn grad(
    py: Python<'_>,
    outputs: Vec<PyRef<'_, PyTensor>>,
    inputs: Vec<PyRef<'_, PyTensor>>,
    grad_outputs: Vec<Option<PyRef<'_, PyTensor>>>,
    retain_graph: bool,
    allow_unused: bool,
    create_graph: bool,
) -> PyResult<Vec<Option<PyTensor>>> {
    let outs: Vec<Tensor> = outputs.iter().map(|t| t.tensor()).collect();
    let ins: Vec<Tensor> = inputs.iter().map(|t| t.tensor()).collect();
    let gos: Vec<Option<Tensor>> = grad_outputs
        .iter()
        .map(|g| g.as_ref().map(|g| g.tensor()))
        .collect();
    let r = gil::nogil(py, gil::ALWAYS, move || {
        autograd::grad(&outs, &ins, gos, retain_graph, allow_unused, create_graph)
    });
    super::pytensor::forget_hook_grad();
    let r = r?;
    Ok(r.into_iter().map(|g| g.map(Into::into)).collect())
}

/// Switches the anomaly mode's NaN check of every backward on or off
/// (`rustdl.autograd.detect_anomaly`).
#[pyfunction]
fn _set_anomaly_nan_check(on: bool) {
    autograd::set_anomaly_nan_check(on);
}

/// Interned node names for Python functions (node names are `&'static str`).
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut m = NAMES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(s) = m.get(name) {
        return s;
    }
    let s: &'static str = Box::leak(name.to_owned().into_boxed_str());
    m.insert(name.to_owned(), s);
    s
}

/// Calls a Python `backward(*grads)`; its result gives one optional gradient per input.
/// Gives the node that made `t` (if any) a rule for backwards with `create_graph`:
/// `f(grad_output)` returns one gradient (or None) per input of the node, computed from
/// differentiable ops (see `Node::set_double_rule`). A fused kernel's bindings take it so the
/// kernel's own gradient pass serves every other backward.
pub(crate) fn set_double_backward(t: &Tensor, name: &'static str, f: Py<PyAny>) {
    if let Some(node) = t.grad_fn() {
        let n_in = node.edges.len();
        node.set_double_rule(Box::new(move |g| {
            call_backward(name, &f, vec![Some(g.clone())], n_in)
        }));
    }
}

fn call_backward(
    name: &str,
    backward: &Py<PyAny>,
    grads: Vec<Option<Tensor>>,
    n_inputs: usize,
) -> CoreResult<Vec<Option<Tensor>>> {
    Python::attach(|py| -> CoreResult<Vec<Option<Tensor>>> {
        let wrap = |e: PyErr| super::python_error(&format!("{name}.backward"), e);
        let args: Vec<Option<PyTensor>> = grads.into_iter().map(|g| g.map(Into::into)).collect();
        let args = PyTuple::new(py, args).map_err(wrap)?;
        let out = backward.bind(py).call1(args).map_err(wrap)?;
        let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = out.cast::<PyTuple>() {
            t.iter().collect()
        } else if let Ok(l) = out.cast::<PyList>() {
            l.iter().collect()
        } else {
            vec![out]
        };
        if items.len() != n_inputs {
            return Err(Error::Runtime(format!(
                "{name}.backward returned an incorrect number of gradients (expected {n_inputs}, got {})",
                items.len()
            )));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, g)| {
                if g.is_none() {
                    return Ok(None);
                }
                g.extract::<PyRef<'_, PyTensor>>()
                    .map(|t| Some(t.tensor()))
                    .map_err(|_| {
                        Error::Runtime(format!(
                            "{name}.backward: gradient {i} is a {}, not a tensor or None",
                            g.get_type()
                                .name()
                                .map(|n| n.to_string())
                                .unwrap_or_default()
                        ))
                    })
            })
            .collect()
    })
}

/// Gives `outputs` (fresh tensors made by a Function's forward) a history whose rule calls
/// `backward(*grad_outputs)` and routes its results to `inputs`. `twice_differentiable`: the
/// backward's own result may be differentiated (create_graph) — false when it is marked
/// once-differentiable. `saved_outputs[i]`: the position in `outputs` of saved tensor `i`, if it
/// is one. Returns, for each saved tensor that is an output, the tensor `backward` should read
/// instead (None for the others): it has no history of its own, but in a backward with
/// `create_graph` it stands for that output, so the backward's gradient flows on through the
/// Function's node (as PyTorch unpacks a saved output).
#[pyfunction]
///
/// `attr_outputs`: positions in `outputs` of tensors the Function keeps on `ctx` as plain
/// attributes (`ctx.y = y`); for each, one more tensor is appended to the result, standing for
/// that output as a saved output does (PyTorch's attribute is the output itself, so its
/// gradient flows on through the Function's node under `create_graph`; this one does so
/// without holding the node, so the graph and `ctx` do not keep each other alive).
#[pyo3(signature = (name, outputs, inputs, saved, backward, twice_differentiable=true, saved_outputs=None, dirty=None, ctx=None, none_for_unreached=false, attr_outputs=None))]
#[allow(clippy::too_many_arguments)]
fn _attach_function(
    py: Python<'_>,
    name: String,
    outputs: Vec<PyRef<'_, PyTensor>>,
    inputs: Vec<PyRef<'_, PyTensor>>,
    saved: Vec<PyRef<'_, PyTensor>>,
    backward: Py<PyAny>,
    twice_differentiable: bool,
    saved_outputs: Option<Vec<Option<usize>>>,
    dirty: Option<Vec<bool>>,
    ctx: Option<Py<PyAny>>,
    none_for_unreached: bool,
    attr_outputs: Option<Vec<usize>>,
) -> PyResult<Vec<Option<PyTensor>>> {
    let name = intern(&name);
    let ins: Vec<Tensor> = inputs.iter().map(|t| t.tensor()).collect();
    let in_refs: Vec<&Tensor> = ins.iter().collect();
    let sv: Vec<Tensor> = saved.iter().map(|t| t.tensor()).collect();
    let sv_refs: Vec<&Tensor> = sv.iter().collect();
    let outs: Vec<Tensor> = outputs.iter().map(|t| t.tensor()).collect();
    let n_in = ins.len();
    if outs.iter().any(|o| !o.dtype().is_float()) {
        return Err(crate::python::argument_error(format!(
            "{name}: only floating-point outputs can be differentiable; mark the others with ctx.mark_non_differentiable"
        )));
    }
    // an output that is an input modified in place (ctx.mark_dirty) takes the node as an
    // in-place op's result does: rebased, so views of it see the new history
    let dirty = dirty.unwrap_or_else(|| vec![false; outs.len()]);
    if dirty.len() != outs.len() {
        return Err(crate::python::argument_error(format!(
            "{name}: dirty must give one flag per output ({} outputs, {} flags)",
            outs.len(),
            dirty.len()
        )));
    }
    let set = |o: &Tensor, node: Option<Arc<Node>>, d: bool| {
        if d {
            o.rebase(node);
        } else {
            o.set_history(node);
        }
    };
    let saved_outputs = saved_outputs.unwrap_or_else(|| vec![None; sv.len()]);
    let attr_outputs = attr_outputs.unwrap_or_default();
    if attr_outputs.iter().any(|&k| k >= outs.len()) {
        return Err(crate::python::argument_error(format!(
            "{name}: attr_outputs must give output positions below {}",
            outs.len()
        )));
    }
    if saved_outputs.len() != sv.len() || saved_outputs.iter().flatten().any(|&k| k >= outs.len()) {
        return Err(crate::python::argument_error(format!(
            "{name}: saved_outputs must give, for each of the {} saved tensors, None or an output position below {}",
            sv.len(),
            outs.len()
        )));
    }
    // output k's place in the hub's flattened gradient (several outputs)
    let sizes: Vec<(usize, Vec<usize>)> = outs
        .iter()
        .map(|o| (o.numel(), o.shape().to_vec()))
        .collect();
    let starts: Vec<usize> = sizes
        .iter()
        .scan(0, |at, (n, _)| {
            let s = *at;
            *at += n;
            Some(s)
        })
        .collect();
    let total: usize = sizes.iter().map(|s| s.0).sum();
    let single = outs.len() == 1;
    let stand_in = |t: &Tensor, k: usize| -> PyTensor {
        if single {
            t.saved_output().into()
        } else {
            t.saved_output_part(starts[k], sizes[k].0, total).into()
        }
    };
    let mut replaced: Vec<Option<PyTensor>> = saved_outputs
        .iter()
        .zip(&sv)
        .map(|(k, t)| k.map(|k| stand_in(t, k)))
        .collect();
    replaced.extend(attr_outputs.iter().map(|&k| Some(stand_in(&outs[k], k))));
    if let [out] = outs.as_slice() {
        let node = Node::record(
            name,
            out.shape(),
            &in_refs,
            &sv_refs,
            Box::new(move |g| call_backward(name, &backward, vec![Some(g.clone())], n_in)),
        );
        // the Function's backward runs Python ops in grad mode under create_graph: as
        // differentiable as the ops it uses (each refuses on its own if it cannot be)
        if let Some(n) = &node {
            n.set_twice_differentiable(twice_differentiable);
            if sv_refs.is_empty() {
                n.set_rerunnable();
            }
            n.set_label(intern(&format!("{name}Backward")));
            keep_ctx(py, n, &ctx);
        }
        set(out, node, dirty[0]);
        return Ok(replaced);
    }
    // several outputs: one hub node over their concatenated (flattened) gradients; an output
    // no gradient reached is handed to backward as None (the Function materialises zeros
    // unless ctx.set_materialize_grads(False))
    let split = sizes.clone();
    let parts: Arc<[(usize, AtomicBool)]> = starts
        .iter()
        .map(|&s| (s, AtomicBool::new(false)))
        .collect();
    let flags = parts.clone();
    let Some(hub) = Node::record(
        name,
        &[total],
        &in_refs,
        &sv_refs,
        Box::new(move |g| {
            // every part's node marks its flag, those of saved outputs read back under
            // create_graph too; without ctx.set_materialize_grads(False) every output gets
            // its part (zeros where no gradient came)
            let got: Vec<bool> = flags
                .iter()
                .map(|(_, f)| f.swap(false, Ordering::AcqRel))
                .collect();
            let mut at = 0;
            let mut grads = Vec::with_capacity(split.len());
            for ((n, shape), &got) in split.iter().zip(&got) {
                grads.push(if got || !none_for_unreached {
                    Some(g.narrow(0, at, *n)?.reshape(shape)?.contiguous()?)
                } else {
                    None
                });
                at += n;
            }
            call_backward(name, &backward, grads, n_in)
        }),
    ) else {
        return Ok(replaced);
    };
    let _ = hub.parts.set(parts);
    hub.set_twice_differentiable(twice_differentiable);
    if sv_refs.is_empty() {
        hub.set_rerunnable();
    }
    hub.set_label(intern(&format!("{name}Backward")));
    keep_ctx(py, &hub, &ctx);
    for (((o, (n, _)), &start), &d) in outs.iter().zip(&sizes).zip(&starts).zip(&dirty) {
        let node = autograd::output_part(hub.clone(), start, *n, total, o.shape());
        keep_ctx(py, &node, &ctx);
        set(o, Some(node), d);
    }
    Ok(replaced)
}

/// What `saved_tensors_hooks`' pack gave for one node: the unpack function and one packed
/// object per saved tensor.
struct PackedPy {
    unpack: Py<PyAny>,
    items: Vec<Py<PyAny>>,
}

/// The hooks of the innermost open `saved_tensors_hooks` on this thread, from
/// `rustdl.autograd._saved_hooks_top()` (`None` when there are none, or inside a hook).
fn saved_hooks_top(py: Python<'_>) -> PyResult<Option<(Py<PyAny>, Py<PyAny>)>> {
    let top = py
        .import("rustdl.autograd")?
        .call_method0("_saved_hooks_top")?;
    if top.is_none() {
        return Ok(None);
    }
    let (pack, unpack): (Py<PyAny>, Py<PyAny>) = top.extract()?;
    Ok(Some((pack, unpack)))
}

fn hooks_guard(py: Python<'_>, on: bool) -> PyResult<()> {
    py.import("rustdl.autograd")?
        .call_method1("_saved_hooks_running", (on,))
        .map(|_| ())
}

fn pack_saved(
    saved: &[&Tensor],
) -> Option<std::result::Result<Box<dyn std::any::Any + Send + Sync>, Error>> {
    Python::attach(|py| {
        let top = match saved_hooks_top(py) {
            Ok(top) => top?,
            Err(e) => return Some(Err(super::python_error("saved_tensors_hooks", e))),
        };
        let (pack, unpack) = top;
        let packed = (|| -> PyResult<Vec<Py<PyAny>>> {
            hooks_guard(py, true)?;
            let out = saved
                .iter()
                .map(|t| {
                    pack.bind(py)
                        .call1((PyTensor::from((*t).clone()),))
                        .map(Bound::unbind)
                })
                .collect::<PyResult<Vec<_>>>();
            hooks_guard(py, false)?;
            out
        })();
        Some(match packed {
            Ok(items) => {
                Ok(Box::new(PackedPy { unpack, items }) as Box<dyn std::any::Any + Send + Sync>)
            }
            Err(e) => Err(super::python_error("saved_tensors_hooks pack_hook", e)),
        })
    })
}

fn unpack_saved(
    packed: &(dyn std::any::Any + Send + Sync),
    shapes: &[Vec<usize>],
    node: &str,
) -> CoreResult<()> {
    let Some(p) = packed.downcast_ref::<PackedPy>() else {
        return Ok(());
    };
    Python::attach(|py| {
        for (item, shape) in p.items.iter().zip(shapes) {
            let _ = hooks_guard(py, true);
            let out = p.unpack.bind(py).call1((item.bind(py),));
            let _ = hooks_guard(py, false);
            let out = out.map_err(|e| super::python_error("saved_tensors_hooks unpack_hook", e))?;
            let t = out.extract::<PyRef<'_, PyTensor>>().map_err(|_| {
                Error::Runtime(format!(
                    "saved_tensors_hooks: unpack_hook must return a Tensor (for a tensor saved by {node}), got {}",
                    out.get_type().name().map(|s| s.to_string()).unwrap_or_default()
                ))
            })?;
            let got = t.tensor().shape().to_vec();
            if got != *shape {
                return Err(Error::Runtime(format!(
                    "saved_tensors_hooks: unpack_hook returned a tensor of shape {got:?} for a tensor of shape {shape:?} saved by {node}"
                )));
            }
        }
        Ok(())
    })
}

/// Opens (`+1`) or closes (`-1`) a `saved_tensors_hooks` context.
#[pyfunction]
fn _saved_hook_contexts(delta: isize) {
    autograd::saved_hook_contexts(delta)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNode>()?;
    m.add_class::<PyAccumulateGrad>()?;
    m.add_function(wrap_pyfunction!(grad, m)?)?;
    m.add_function(wrap_pyfunction!(_remember_leaf, m)?)?;
    m.add_function(wrap_pyfunction!(_set_anomaly_nan_check, m)?)?;
    m.add_function(wrap_pyfunction!(_attach_function, m)?)?;
    m.add_function(wrap_pyfunction!(_saved_hook_contexts, m)?)?;
    autograd::install_saved_tensor_hooks(autograd::SavedTensorHooks {
        pack: pack_saved,
        unpack: unpack_saved,
    });
    Ok(())
}
