//! Reverse-mode autograd: graph nodes and edges, grad mode, saved-tensor version checks, the
//! backward walk, `grad` (gradients returned instead of accumulated) and a gradient checker.
//!
//! A node's edges point at the *history* its inputs had when the op ran (the input's node, or the
//! leaf itself), not at the input tensors: an in-place op may later give a tensor a new node, and
//! the ops recorded before it must still send their gradients to the old one.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::ensure;
use crate::error::{Error, Result};
use crate::tensor::{Tensor, TensorImpl};

/// A derivative rule: output gradient in, one optional gradient per input out.
pub type BackwardFn = Box<dyn Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync>;

/// A storage's version counter, shared by a tensor, its views and `detach()`: every in-place
/// write bumps it, and the op that did is remembered for the error message.
pub struct Version {
    n: AtomicU64,
    last_op: Mutex<&'static str>,
}

impl Version {
    pub(crate) fn new() -> Arc<Version> {
        Arc::new(Version {
            n: AtomicU64::new(0),
            last_op: Mutex::new(""),
        })
    }
    pub fn get(&self) -> u64 {
        self.n.load(Ordering::Acquire)
    }
    pub(crate) fn bump(&self, op: &'static str) {
        self.n.fetch_add(1, Ordering::AcqRel);
        *self.last_op.lock().unwrap_or_else(|e| e.into_inner()) = op;
    }
    fn last_op(&self) -> &'static str {
        *self.last_op.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where a gradient goes: the node that produced an input, or a leaf that accumulates it.
#[derive(Clone)]
pub(crate) enum Edge {
    Node(Arc<Node>),
    Leaf(Tensor),
}

impl Edge {
    fn key(&self) -> Key {
        match self {
            Edge::Node(n) => Key::Node(Arc::as_ptr(n) as usize),
            Edge::Leaf(t) => Key::Leaf(t.id()),
        }
    }
    fn shape(&self) -> &[usize] {
        match self {
            Edge::Node(n) => &n.shape,
            Edge::Leaf(t) => t.shape(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Node(usize),
    Leaf(u64),
}

/// A tensor a rule reads in backward, with the version it had when it was saved.
struct Saved {
    version: Arc<Version>,
    at: u64,
    shape: Vec<usize>,
}

/// One recorded op: where its inputs' gradients go, what it saved, and the rule (freed after
/// backward).
/// A gradient hook: sees the gradient reaching a tensor and may replace it (`Some`).
pub type GradHook = Arc<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;

/// A hook run after a node's rule (`grad_fn.register_hook`): it sees the gradients for the
/// node's inputs and the gradient the node received, and may return replacements for the former.
pub type NodePostHook =
    Arc<dyn Fn(&[Option<Tensor>], &Tensor) -> Result<Option<Vec<Option<Tensor>>>> + Send + Sync>;

/// What packing a node's saved tensors gave (see [`SavedTensorHooks`]): an opaque value for
/// `unpack`, or the error `pack` raised (reported when backward reaches the node).
type Packed = std::result::Result<Box<PackedAny>, Error>;
/// The opaque value `SavedTensorHooks::pack` returns.
pub type PackedAny = dyn std::any::Any + Send + Sync;

/// `saved_tensors_hooks`, installed by the Python bindings: `pack` sees the tensors a node saves
/// when it is recorded (returning `None` when the recording thread has no hooks), `unpack` runs
/// before the node's rule and checks what the hooks give back against the saved shapes. The rule
/// itself reads the tensors it saved: PyTorch requires `unpack` to return their content.
pub struct SavedTensorHooks {
    pub pack: fn(&[&Tensor]) -> Option<Packed>,
    pub unpack: fn(&PackedAny, &[Vec<usize>], &str) -> Result<()>,
}

static SAVED_HOOKS: std::sync::OnceLock<SavedTensorHooks> = std::sync::OnceLock::new();
/// How many `saved_tensors_hooks` contexts are open (any thread): recording skips the hooks
/// entirely while this is 0.
static SAVED_HOOK_CONTEXTS: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

/// Installs the saved-tensor hooks (once per process).
#[cfg_attr(not(feature = "python"), allow(dead_code))] // used by the Python bindings
pub(crate) fn install_saved_tensor_hooks(hooks: SavedTensorHooks) {
    let _ = SAVED_HOOKS.set(hooks);
}

/// A `saved_tensors_hooks` context opened (`+1`) or closed (`-1`).
#[cfg_attr(not(feature = "python"), allow(dead_code))] // used by the Python bindings
pub(crate) fn saved_hook_contexts(delta: isize) {
    SAVED_HOOK_CONTEXTS.fetch_add(delta, std::sync::atomic::Ordering::SeqCst);
}

fn pack_saved(saved: &[&Tensor]) -> Option<Packed> {
    if saved.is_empty() || SAVED_HOOK_CONTEXTS.load(std::sync::atomic::Ordering::Relaxed) <= 0 {
        return None;
    }
    (SAVED_HOOKS.get()?.pack)(saved)
}

/// One id sequence for every hook kind, so a handle's id names one hook wherever it sits.
fn next_hook_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Hooks registered on one tensor, each under the id its handle removes.
#[derive(Default)]
pub(crate) struct Hooks(Mutex<Vec<(u64, GradHook)>>);

impl Hooks {
    pub(crate) fn add(&self, hook: GradHook) -> u64 {
        let id = next_hook_id();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, hook));
        id
    }

    /// Moves every hook of `other` (in order, keeping their ids) after this one's.
    #[cfg_attr(not(feature = "python"), allow(dead_code))] // used by the Python bindings
    pub(crate) fn take_from(&self, other: &Hooks) {
        if std::ptr::eq(self, other) {
            return;
        }
        let moved: Vec<(u64, GradHook)> = other
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(moved);
    }

    pub(crate) fn remove(&self, id: u64) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(i, _)| *i != id);
    }

    /// `g` passed through every hook in registration order (a hook's result replaces it).
    fn apply(&self, mut g: Tensor, what: &str) -> Result<Tensor> {
        let hooks: Vec<GradHook> = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        for h in hooks {
            if let Some(new) = h(&g)? {
                ensure!(
                    new.shape() == g.shape(),
                    Runtime,
                    "hook of {what}: returned a gradient of shape {:?} for a gradient of shape {:?}",
                    new.shape(),
                    g.shape()
                );
                ensure!(
                    new.dtype() == g.dtype(),
                    Runtime,
                    "hook of {what}: has changed the type of value: returned a gradient of dtype {} for a gradient of dtype {} (shape {:?})",
                    new.dtype(),
                    g.dtype(),
                    g.shape()
                );
                // a backward with create_graph runs with grad mode on: the hook's result keeps
                // its history there, so a second backward goes through the hook too
                g = if is_grad_enabled() { new } else { new.detach() };
            }
        }
        Ok(g)
    }

    fn is_empty(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }

    /// Calls every hook with `t` in registration order, their results ignored (post-accumulate
    /// hooks: they see the tensor whose `.grad` was just updated).
    fn notify(&self, t: &Tensor) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let hooks: Vec<GradHook> = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        for h in hooks {
            h(t)?;
        }
        Ok(())
    }
}

pub struct Node {
    pub name: &'static str,
    /// shape of the op's output (the gradient this node receives)
    pub(crate) shape: Vec<usize>,
    pub(crate) edges: Vec<Option<Edge>>,
    saved: Vec<Saved>,
    rule: Mutex<Option<BackwardFn>>,
    /// non-leaf tensors whose `.grad` should receive this node's incoming gradient
    retained: Mutex<Vec<Weak<TensorImpl>>>,
    /// hooks registered on the tensors this node produced (`Tensor::register_hook`)
    pub(crate) hooks: Hooks,
    /// hooks run after the rule, on the gradients it gave (`grad_fn.register_hook`)
    post_hooks: Mutex<Vec<(u64, NodePostHook)>>,
    /// the saved tensors as `saved_tensors_hooks` packed them, if any hooks were active
    packed: Option<Packed>,
    /// what the bindings keep with the node (`grad_fn.metadata`'s dict), made on first use
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) extra: std::sync::OnceLock<Box<PackedAny>>,
    /// whether the rule's gradients can be differentiated again: 0 = as its name says (see
    /// `twice_differentiable`, looked up only when a backward runs with `create_graph`), 1 = yes,
    /// 2 = no (set for Python Functions)
    twice: std::sync::atomic::AtomicU8,
    /// the name PyTorch shows for this node when the op that made it was composed of smaller
    /// ones (`mean` as a sum and a division shows `MeanBackward0`); see `Tensor::label_grad_fn`
    label: Mutex<Option<&'static str>>,
    /// the rule a backward with `create_graph` runs instead of `rule`, where `rule` (a fused
    /// kernel's gradient pass) cannot itself be differentiated: it recomputes from
    /// differentiable ops, so the gradients it gives have a history (see `set_double_rule`)
    double: Mutex<Option<BackwardFn>>,
    /// one more than the largest `topo_nr` of the nodes it sends gradients to (1 when it sends
    /// only to leaves): a node can reach another only if its number is larger, so a pass that
    /// wants the gradient at some node need not walk the history under it (`autograd.grad`)
    topo_nr: u64,
    /// set for a Python Function that saved no tensor: its rule holds nothing a backward frees,
    /// so a second backward through it works, as PyTorch allows
    rerunnable: std::sync::atomic::AtomicBool,
    /// the order of creation (a process-wide count): of the nodes ready to run, backward runs
    /// the most recently created first, as PyTorch's engine orders its ready queue by sequence
    /// number (sibling branches, and so their hooks, run last-made first)
    seq: u64,
    /// for a node whose rule takes its outputs' gradients flattened and concatenated: the
    /// start of each output's part and whether a gradient reached it in this pass (set by the
    /// parts' nodes, read and cleared by the rule)
    pub(crate) parts: std::sync::OnceLock<Arc<[(usize, std::sync::atomic::AtomicBool)]>>,
}

/// The creation count behind `Node::seq`.
static NODE_SEQ: AtomicU64 = AtomicU64::new(0);

/// The `topo_nr` of a node with these edges.
fn topo_nr_of(edges: &[Option<Edge>]) -> u64 {
    edges
        .iter()
        .flatten()
        .map(|e| match e {
            Edge::Node(n) => n.topo_nr + 1,
            Edge::Leaf(_) => 1,
        })
        .max()
        .unwrap_or(1)
}

thread_local! {
    /// What dropping nodes released and is still to drop, and whether a drop loop runs: see
    /// `Drop for Node`.
    static DROPPING: std::cell::RefCell<(bool, Vec<Box<dyn std::any::Any>>)> =
        const { std::cell::RefCell::new((false, Vec::new())) };
}

/// A graph is dropped iteratively: a node hands its edges and rule (which hold the earlier nodes,
/// directly or through saved tensors) to a per-thread list that the outermost drop empties in a
/// loop, so a chain of 100,000 ops (an RNN unrolled over 10,000 steps) does not recurse 100,000
/// deep and overflow the stack.
impl Drop for Node {
    fn drop(&mut self) {
        let edges = std::mem::take(&mut self.edges);
        let rule = self.rule.get_mut().ok().and_then(Option::take);
        let double = self.double.get_mut().ok().and_then(Option::take);
        if edges.is_empty() && rule.is_none() && double.is_none() {
            return;
        }
        let parts: [Box<dyn std::any::Any>; 3] =
            [Box::new(edges), Box::new(rule), Box::new(double)];
        let queued = DROPPING.try_with(|d| {
            let mut d = d.borrow_mut();
            d.1.extend(parts);
            !std::mem::replace(&mut d.0, true)
        });
        let Ok(outermost) = queued else {
            return; // the thread is exiting: the parts were dropped here, recursively
        };
        if !outermost {
            return; // the loop below, further up this thread's stack, drops them
        }
        loop {
            let next = DROPPING.with(|d| d.borrow_mut().1.pop());
            match next {
                Some(part) => drop(part),
                None => break,
            }
        }
        DROPPING.with(|d| d.borrow_mut().0 = false);
    }
}

/// Anomaly mode with its NaN check (`torch.autograd.detect_anomaly()`): every gradient a
/// backward rule returns is checked for NaN, and the first one found raises, naming the rule.
static ANOMALY_NAN_CHECK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Switches the anomaly-mode NaN check of every backward on or off (process-wide, as PyTorch's
/// anomaly mode).
pub fn set_anomaly_nan_check(on: bool) {
    ANOMALY_NAN_CHECK.store(on, Ordering::Relaxed);
}

/// With the anomaly NaN check on, an error when a gradient `node`'s rule returned has a NaN.
fn check_nan_grads(node: &Node, grads: &[Option<Tensor>]) -> Result<()> {
    for (i, g) in grads.iter().enumerate() {
        let Some(g) = g else { continue };
        if !g.dtype().is_float() || g.numel() == 0 {
            continue;
        }
        let nan = g
            .detach()
            .float_test(crate::backend::UnaryOp::IsNan)?
            .any(None)?
            .to_f64_vec()?;
        if nan.first().is_some_and(|&v| v != 0.0) {
            return Err(Error::Runtime(format!(
                "Function '{}' returned nan values in its {i}th output.",
                node.display_name()
            )));
        }
    }
    Ok(())
}

/// PyTorch's name for a backward node from an op's name: `linear` → `LinearBackward0`.
pub fn torch_name(name: &str) -> String {
    let camel: String = name
        .split(['_', ' '])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect();
    if name == "copy_slices" {
        camel
    } else if name == "copy_" {
        "CopyBackwards".to_string()
    } else {
        format!("{camel}Backward0")
    }
}

impl Node {
    /// The name PyTorch shows for this node (`grad_fn.name()`): the label an op set, or one
    /// made from the op's name.
    pub fn display_name(&self) -> String {
        self.label()
            .map(str::to_string)
            .unwrap_or_else(|| torch_name(self.name))
    }
    /// PyTorch's name for this node, when an op set one (`Tensor::label_grad_fn`).
    pub fn label(&self) -> Option<&'static str> {
        *self.label.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Sets PyTorch's name for this node (an op composed of others names its result last, so
    /// the outermost op's name stands).
    pub(crate) fn set_label(&self, label: &'static str) {
        *self.label.lock().unwrap_or_else(|e| e.into_inner()) = Some(label);
    }
    /// Records `rule` for an output of `shape` computed from `inputs` (each may not need a
    /// gradient), reading `saved` in backward. `None` when nothing needs a gradient.
    pub(crate) fn record(
        name: &'static str,
        shape: &[usize],
        inputs: &[&Tensor],
        saved: &[&Tensor],
        rule: BackwardFn,
    ) -> Option<Arc<Node>> {
        if !needs_grad(inputs) {
            return None;
        }
        let edges: Vec<Option<Edge>> = inputs.iter().map(|t| t.edge()).collect();
        if edges.iter().all(Option::is_none) {
            return None;
        }
        Some(Arc::new(Node {
            name,
            shape: shape.to_vec(),
            topo_nr: topo_nr_of(&edges),
            seq: NODE_SEQ.fetch_add(1, Ordering::Relaxed),
            rerunnable: std::sync::atomic::AtomicBool::new(false),
            parts: std::sync::OnceLock::new(),
            edges,
            saved: saved
                .iter()
                .map(|t| Saved {
                    version: t.version().clone(),
                    at: t.version().get(),
                    shape: t.shape().to_vec(),
                })
                .collect(),
            rule: Mutex::new(Some(rule)),
            retained: Mutex::new(Vec::new()),
            hooks: Hooks::default(),
            post_hooks: Mutex::new(Vec::new()),
            packed: pack_saved(saved),
            extra: std::sync::OnceLock::new(),
            twice: std::sync::atomic::AtomicU8::new(0),
            label: Mutex::new(None),
            double: Mutex::new(None),
        }))
    }

    /// A node with explicit edges (a rule fed by other nodes rather than by tensors; used by
    /// Python-defined Functions with several outputs).
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) fn record_edges(
        name: &'static str,
        shape: &[usize],
        edges: Vec<Option<Edge>>,
        rule: BackwardFn,
    ) -> Arc<Node> {
        Arc::new(Node {
            name,
            shape: shape.to_vec(),
            topo_nr: topo_nr_of(&edges),
            seq: NODE_SEQ.fetch_add(1, Ordering::Relaxed),
            rerunnable: std::sync::atomic::AtomicBool::new(false),
            parts: std::sync::OnceLock::new(),
            edges,
            saved: Vec::new(),
            rule: Mutex::new(Some(rule)),
            retained: Mutex::new(Vec::new()),
            hooks: Hooks::default(),
            post_hooks: Mutex::new(Vec::new()),
            packed: None,
            extra: std::sync::OnceLock::new(),
            twice: std::sync::atomic::AtomicU8::new(0),
            label: Mutex::new(None),
            double: Mutex::new(None),
        })
    }

    /// Declares whether the rule's gradients can be differentiated again (a Python Function's
    /// backward: made of differentiable ops on tensors that carry their history, or not).
    pub(crate) fn set_twice_differentiable(&self, on: bool) {
        self.twice.store(if on { 1 } else { 2 }, Ordering::Relaxed);
    }

    /// Keeps the rule after a backward (a Python Function that saved no tensor: see
    /// `reads_no_tensor`).
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) fn set_rerunnable(&self) {
        self.rerunnable.store(true, Ordering::Relaxed);
    }

    /// Gives this node `rule` for a backward with `create_graph` (the node's own rule still runs
    /// in every other backward): its gradients are differentiated again, so it must compute
    /// them from differentiable ops on tensors that keep their history.
    #[cfg_attr(not(feature = "python"), allow(dead_code))] // set by the Python bindings
    pub(crate) fn set_double_rule(&self, rule: BackwardFn) {
        *self.double.lock().unwrap_or_else(|e| e.into_inner()) = Some(rule);
    }

    fn has_double_rule(&self) -> bool {
        self.double
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// True when the rule's gradients can be differentiated again.
    fn is_twice_differentiable(&self) -> bool {
        match self.twice.load(Ordering::Relaxed) {
            0 => twice_differentiable(self.name),
            t => t == 1,
        }
    }

    /// True when this node's rule reads a tensor with version counter `v`.
    pub(crate) fn saves(&self, v: &Arc<Version>) -> bool {
        self.saved.iter().any(|s| Arc::ptr_eq(&s.version, v))
    }

    pub(crate) fn retain(&self, t: &Tensor) {
        self.retained
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&t.0));
    }

    /// The nodes this one sends gradients to (for `grad_fn.next_functions`).
    pub fn next(&self) -> Vec<Option<std::result::Result<Arc<Node>, Tensor>>> {
        self.edges
            .iter()
            .map(|e| {
                e.as_ref().map(|e| match e {
                    Edge::Node(n) => Ok(n.clone()),
                    Edge::Leaf(t) => Err(t.clone()),
                })
            })
            .collect()
    }

    /// Registers a hook run after this node's rule (see [`NodePostHook`]); returns its id.
    #[cfg_attr(not(feature = "python"), allow(dead_code))] // used by the Python bindings
    pub(crate) fn add_post_hook(&self, hook: NodePostHook) -> u64 {
        let id = next_hook_id();
        self.post_hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, hook));
        id
    }

    /// Removes the pre- or post-hook with this id from the node (a no-op if it is gone).
    #[cfg_attr(not(feature = "python"), allow(dead_code))] // used by the Python bindings
    pub(crate) fn remove_hook(&self, id: u64) {
        self.hooks.remove(id);
        self.post_hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(i, _)| *i != id);
    }

    /// `grads` (one per input) passed through every post-hook in registration order.
    fn apply_post_hooks(
        &self,
        mut grads: Vec<Option<Tensor>>,
        g: &Tensor,
    ) -> Result<Vec<Option<Tensor>>> {
        let hooks: Vec<NodePostHook> = self
            .post_hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        if hooks.is_empty() {
            return Ok(grads);
        }
        grads.truncate(self.edges.len());
        for h in hooks {
            if let Some(new) = h(&grads, g)? {
                ensure!(
                    new.len() == grads.len(),
                    Runtime,
                    "hook of {}: returned {} gradients for {} inputs",
                    self.name,
                    new.len(),
                    grads.len()
                );
                grads = new.into_iter().map(|t| t.map(|t| t.detach())).collect();
            }
        }
        Ok(grads)
    }

    /// A rule that reads no tensor (a view, a sum or mean, a concatenation, a clone, an add or
    /// subtract, a negation: it keeps only shapes) is kept after backward, so a second backward
    /// through it works where PyTorch's node saved no tensor either (a product with a number
    /// saves the number as a tensor there, so it is freed here too); it holds no memory.
    fn reads_no_tensor(&self) -> bool {
        if self.rerunnable.load(Ordering::Relaxed) {
            return true;
        }
        // composed ops whose PyTorch node saves no tensor: what this node holds (a constant
        // index or mask, a scan's ones) stays valid for another backward
        let label = *self.label.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(
            label,
            Some("CumsumBackward0" | "TrilBackward0" | "TriuBackward0" | "FlipBackward0")
        ) {
            return true;
        }
        self.saved.is_empty()
            && matches!(
                self.name,
                "view"
                    | "permute"
                    | "expand"
                    | "slice"
                    | "sum"
                    | "mean"
                    | "cat"
                    | "Clone"
                    | "add"
                    | "sub"
                    | "neg"
                    | "ToCopy"
                    | "ToDevice"
                    | "as_strided"
                    // an in-place overwrite (its gradient is zero for the old value)
                    | "zero_"
                    | "fill_"
                    | "copy_"
            )
    }

    /// Runs `saved_tensors_hooks`' unpack on what was packed when this node was recorded.
    fn unpack_saved(&self) -> Result<()> {
        match &self.packed {
            None => Ok(()),
            Some(Err(e)) => Err(e.clone()),
            Some(Ok(p)) => match SAVED_HOOKS.get() {
                Some(h) => {
                    let shapes: Vec<Vec<usize>> =
                        self.saved.iter().map(|s| s.shape.clone()).collect();
                    (h.unpack)(p.as_ref(), &shapes, self.name)
                }
                None => Ok(()),
            },
        }
    }

    fn check_saved(&self) -> Result<()> {
        for s in &self.saved {
            let now = s.version.get();
            if now != s.at {
                let by = s.version.last_op();
                return Err(Error::Runtime(format!(
                    "backward: one of the tensors needed for gradient computation has been modified by an in-place operation{}: \
                     a tensor of shape {:?} saved by {} is at version {now}; expected version {} instead. \
                     Use an out-of-place op (x = x + y) or clone() the tensor before modifying it",
                    if by.is_empty() { String::new() } else { format!(" ({by})") },
                    s.shape,
                    self.name,
                    s.at
                )));
            }
        }
        Ok(())
    }

    /// The gradients of a backward with `create_graph`: from the double rule when the node has
    /// one (`set_double_rule`), else from its rule.
    fn run_creating(&self, g: &Tensor, retain_graph: bool) -> Result<Vec<Option<Tensor>>> {
        let double = self.double.lock().unwrap_or_else(|e| e.into_inner());
        let Some(rule) = double.as_ref() else {
            drop(double);
            return self.run(g, retain_graph);
        };
        let mut slot = self.rule.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            return Err(Error::Runtime(format!(
                "backward: trying to backward through the graph a second time (through {}); \
                 pass retain_graph=True the first time",
                self.name
            )));
        }
        // the double rule reads the inputs themselves: an in-place change since the forward
        // is refused as for the saved copies
        self.check_saved()?;
        let out = rule(g)?;
        if !retain_graph {
            *slot = None;
        }
        self.check_count(&out)?;
        Ok(out)
    }

    fn check_count(&self, out: &[Option<Tensor>]) -> Result<()> {
        // a rule may list a trailing `None` for an optional input that was absent
        if out.len() < self.edges.len() || out[self.edges.len()..].iter().any(Option::is_some) {
            return Err(Error::Runtime(format!(
                "backward: rule of {} gave {} gradients for {} inputs",
                self.name,
                out.len(),
                self.edges.len()
            )));
        }
        Ok(())
    }

    fn run(&self, g: &Tensor, retain_graph: bool) -> Result<Vec<Option<Tensor>>> {
        let mut slot = self.rule.lock().unwrap_or_else(|e| e.into_inner());
        let rule = match slot.as_ref() {
            Some(r) => r,
            None => {
                return Err(Error::Runtime(format!(
                    "backward: trying to backward through the graph a second time (through {}); \
                     pass retain_graph=True the first time",
                    self.name
                )))
            }
        };
        self.check_saved()?;
        self.unpack_saved()?;
        let out = rule(g)?;
        if !retain_graph && !self.reads_no_tensor() {
            *slot = None;
        }
        self.check_count(&out)?;
        Ok(out)
    }
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    /// set while a backward with `create_graph` runs its rules
    static CREATE_GRAPH: Cell<bool> = const { Cell::new(false) };
    /// the node whose rule is running (with `create_graph`)
    static RUNNING: std::cell::RefCell<Option<Arc<Node>>> = const { std::cell::RefCell::new(None) };
}

/// True while a backward with `create_graph` runs its rules: the tensors the rules saved then
/// carry the history of what they were saved from (see `Tensor::saved`).
pub(crate) fn is_creating_graph() -> bool {
    CREATE_GRAPH.with(|c| c.get())
}

/// The node whose rule is running in a backward with `create_graph`.
pub(crate) fn running_node() -> Option<Arc<Node>> {
    RUNNING.with(|r| r.borrow().clone())
}

/// Grad mode on and `create_graph` set for a backward's rules; restores both when dropped.
struct CreateGraphGuard(bool, bool);

impl CreateGraphGuard {
    fn new() -> CreateGraphGuard {
        CreateGraphGuard(
            set_grad_enabled(true),
            CREATE_GRAPH.with(|c| c.replace(true)),
        )
    }
}

impl Drop for CreateGraphGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.0);
        CREATE_GRAPH.with(|c| c.set(self.1));
    }
}

/// Sets the running node; restores the previous one when dropped.
struct RunningGuard(Option<Arc<Node>>);

impl RunningGuard {
    fn new(node: &Arc<Node>) -> RunningGuard {
        RunningGuard(RUNNING.with(|r| r.replace(Some(node.clone()))))
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let prev = self.0.take();
        RUNNING.with(|r| *r.borrow_mut() = prev);
    }
}

/// The node of one output (of shape `shape`) of `hub`, a node whose rule takes the gradients of
/// its outputs flattened and concatenated: it places its gradient at `len` elements from `start`
/// of `total` (zeros elsewhere), differentiably.
pub(crate) fn output_part(
    hub: Arc<Node>,
    start: usize,
    len: usize,
    total: usize,
    shape: &[usize],
) -> Arc<Node> {
    let parts = hub.parts.get().cloned();
    let rerun = hub.rerunnable.load(Ordering::Relaxed);
    let node = Node::record_edges(
        "function_output",
        shape,
        vec![Some(Edge::Node(hub))],
        Box::new(move |g| {
            // the hub learns which of its outputs a gradient reached
            for (at, reached) in parts.iter().flat_map(|p| p.iter()) {
                if *at == start {
                    reached.store(true, Ordering::Release);
                }
            }
            let flat = g.reshape(&[len])?;
            let (dt, dev) = (g.dtype(), g.device());
            let mut parts = Vec::with_capacity(3);
            if start > 0 {
                parts.push(Tensor::zeros(&[start], dt, dev)?);
            }
            parts.push(flat);
            if start + len < total {
                parts.push(Tensor::zeros(&[total - start - len], dt, dev)?);
            }
            Ok(vec![Some(if parts.len() == 1 {
                parts.pop().expect("one part")
            } else {
                Tensor::cat(&parts, 0)?
            })])
        }),
    );
    node.set_twice_differentiable(true);
    if rerun {
        node.set_rerunnable();
    }
    node
}

/// The ops whose rules compute their gradients with differentiable ops from tensors saved with
/// [`Tensor::saved`](crate::tensor::Tensor::saved), so a backward with `create_graph` gives
/// gradients that can be differentiated again. Every other node's gradients get a node that
/// refuses a second differentiation (an error, never a silently wrong higher-order gradient).
fn twice_differentiable(name: &str) -> bool {
    #[rustfmt::skip]
    const OPS: &[&str] = &[
        // elementwise: unary ops (by `op_name`; "elementwise" is every other unary op) and
        // binary ops (by `BinaryOp::name`), whose rules save with `Tensor::saved`
        "neg", "abs", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu",
        "gelu", "clamp", "leaky_relu", "elu", "silu", "pow", "add", "sub", "mul", "div", "round",
        "ceil", "trunc", "erf", "erfinv", "expm1", "elementwise", "maximum", "minimum",
        "remainder", "fmod", "floor_divide", "tanh_backward", "sigmoid_backward",
        "relu_backward", "where",
        // products, reductions, softmax, shapes, copies, indexing: rules made of
        // differentiable ops (linear in the gradient, or reading saved tensors)
        "matmul", "linear", "sum", "mean", "std", "norm", "softmax", "log_softmax", "softplus", "amax",
        "amin", "max", "min", "scan", "view", "permute", "expand", "slice", "cat", "ToCopy", "as_strided",
        "copy_slices",
        "ToDevice", "Clone", "index_select", "gather", "scatter_add", "index_add", "im2col",
        "col2im", "binary_cross_entropy", "cross_entropy", "index_put",
        // composed of differentiable ops when a backward runs with create_graph
        "conv2d", "conv_transpose2d", "max_pool2d", "batch_norm",
    ];
    OPS.contains(&name)
}

/// True when grad mode is on and one of `inputs` requires grad: an op needs to record a node.
pub fn needs_grad(inputs: &[&Tensor]) -> bool {
    is_grad_enabled() && inputs.iter().any(|t| t.requires_grad())
}

/// True unless inside `no_grad`.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Sets grad mode; returns the previous mode.
pub fn set_grad_enabled(on: bool) -> bool {
    GRAD_ENABLED.with(|g| g.replace(on))
}

/// Restores the previous grad mode when dropped.
pub struct NoGradGuard(bool);

impl NoGradGuard {
    pub fn new() -> NoGradGuard {
        NoGradGuard(set_grad_enabled(false))
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.0);
    }
}

/// Nodes reachable from `roots`, each after every node that sends it a gradient; the history
/// under nodes numbered below `min_topo` is not walked (none of them reaches a wanted node).
/// Of the nodes whose senders all ran, the most recently created runs first (PyTorch's order).
fn topo_order(roots: &[Arc<Node>], min_topo: u64) -> Vec<Arc<Node>> {
    let key = |n: &Arc<Node>| Arc::as_ptr(n) as usize;
    // how many edges from the reachable nodes lead into each node
    let mut deps: HashMap<usize, usize> = HashMap::default();
    let mut seen: HashSet<usize> = HashSet::default();
    let mut stack: Vec<Arc<Node>> = Vec::new();
    for r in roots {
        if seen.insert(key(r)) {
            stack.push(r.clone());
        }
    }
    let starts: Vec<Arc<Node>> = stack.clone();
    while let Some(n) = stack.pop() {
        for e in n.edges.iter().flatten() {
            if let Edge::Node(c) = e {
                if c.topo_nr >= min_topo {
                    *deps.entry(key(c)).or_insert(0) += 1;
                    if seen.insert(key(c)) {
                        stack.push(c.clone());
                    }
                }
            }
        }
    }
    let mut ready: std::collections::BinaryHeap<(u64, usize)> = std::collections::BinaryHeap::new();
    let mut by_key: HashMap<usize, Arc<Node>> = HashMap::default();
    for r in starts {
        if deps.get(&key(&r)).copied().unwrap_or(0) == 0 {
            ready.push((r.seq, key(&r)));
            by_key.insert(key(&r), r);
        }
    }
    let mut order = Vec::with_capacity(seen.len());
    while let Some((_, k)) = ready.pop() {
        let Some(n) = by_key.remove(&k) else { continue };
        for e in n.edges.iter().flatten() {
            if let Edge::Node(c) = e {
                if c.topo_nr >= min_topo {
                    let left = deps.get_mut(&key(c)).expect("a counted edge");
                    *left -= 1;
                    if *left == 0 {
                        ready.push((c.seq, key(c)));
                        by_key.insert(key(c), c.clone());
                    }
                }
            }
        }
        order.push(n);
    }
    order
}

/// The seed gradient of `root`: `gradient` (keeping its history with `create_graph`), or ones
/// for a one-element output.
fn seed(root: &Tensor, gradient: Option<Tensor>, what: &str, create_graph: bool) -> Result<Tensor> {
    match gradient {
        Some(g) => {
            root.check_grad_fits(&g, &format!("{what}: gradient"), "the output")?;
            let g = if create_graph { g } else { g.detach() };
            // the gradient takes the output's dtype, as PyTorch's engine casts it on entry
            if g.dtype() != root.dtype() && root.dtype().is_float() {
                g.to_dtype(root.dtype())
            } else {
                Ok(g)
            }
        }
        None => {
            ensure!(
                root.numel() == 1,
                Runtime,
                "{what}: grad can be implicitly created only for scalar outputs, got shape {:?}; pass a gradient",
                root.shape()
            );
            Tensor::ones(root.shape(), root.dtype(), root.device())
        }
    }
}

/// Runs the graph from `roots` (edge, gradient). Leaves' gradients are handed to `leaf`; when
/// `capture` is given, the gradient reaching each of those keys is recorded there instead of
/// flowing on past it being required. With `create_graph` the rules run in grad mode with their
/// saved tensors carrying history, so the gradients are themselves differentiable.
fn run_graph(
    roots: Vec<(Edge, Tensor)>,
    retain_graph: bool,
    mut leaf: impl FnMut(&Tensor, Tensor) -> Result<()>,
    capture: Option<&mut HashMap<Key, Option<Tensor>>>,
    create_graph: bool,
    min_topo: u64,
) -> Result<()> {
    let _guard = (!create_graph).then(NoGradGuard::new);
    let _creating = create_graph.then(CreateGraphGuard::new);
    let mut grads: HashMap<Key, Tensor> = HashMap::default();
    let mut leaves: Vec<Tensor> = Vec::new();
    let mut root_nodes = Vec::new();
    let add = |grads: &mut HashMap<Key, Tensor>, k: Key, g: Tensor| -> Result<()> {
        let merged = match grads.remove(&k) {
            Some(prev) => prev.add(&g)?,
            None => g,
        };
        grads.insert(k, merged);
        Ok(())
    };
    for (e, g) in roots {
        match &e {
            Edge::Node(n) => root_nodes.push(n.clone()),
            Edge::Leaf(t) => leaves.push(t.clone()),
        }
        add(&mut grads, e.key(), g)?;
    }
    let order = topo_order(&root_nodes, min_topo);
    // how many nodes still to run send each leaf a gradient: a leaf is handed over (its hooks
    // run, its `.grad` accumulated, its post-accumulate hooks called) as soon as the last of them
    // ran, while the rest of the graph still runs — as PyTorch's engine does, which is what lets
    // a data-parallel wrapper start reducing the gradients that are ready
    let mut senders: HashMap<u64, usize> = HashMap::default();
    if capture.is_none() {
        for node in &order {
            for e in node.edges.iter().flatten() {
                if let Edge::Leaf(t) = e {
                    *senders.entry(t.id()).or_insert(0) += 1;
                }
            }
        }
    }
    // the leaves `node` sends to whose last sender it was, handed over
    let mut release = |node: &Arc<Node>,
                       grads: &mut HashMap<Key, Tensor>,
                       leaf: &mut dyn FnMut(&Tensor, Tensor) -> Result<()>|
     -> Result<()> {
        for e in node.edges.iter().flatten() {
            let Edge::Leaf(t) = e else { continue };
            let Some(left) = senders.get_mut(&t.id()) else {
                continue;
            };
            *left -= 1;
            if *left == 0 {
                if let Some(g) = grads.remove(&Key::Leaf(t.id())) {
                    hand_over(t, g, leaf)?;
                }
            }
        }
        Ok(())
    };
    // with targets, only the nodes from which a target can be reached below them need to run:
    // a target's own node hands its gradient over without running (its saved tensors and the
    // graph under it stay for later use, as PyTorch's engine leaves them) unless another
    // target lies below it
    let needed: Option<HashSet<usize>> = capture.as_ref().map(|cap| {
        let mut need = HashSet::default();
        for n in order.iter().rev() {
            let p = Arc::as_ptr(n) as usize;
            let reaches = n.edges.iter().flatten().any(|e| match e {
                Edge::Node(c) => {
                    let cp = Arc::as_ptr(c) as usize;
                    need.contains(&cp) || cap.contains_key(&Key::Node(cp))
                }
                Edge::Leaf(t) => cap.contains_key(&Key::Leaf(t.id())),
            });
            if reaches {
                need.insert(p);
            }
        }
        need
    });
    let mut capture = capture;
    for node in &order {
        let key = Key::Node(Arc::as_ptr(node) as usize);
        let Some(g) = grads.remove(&key) else {
            release(node, &mut grads, &mut leaf)?;
            continue;
        };
        let g = if node.hooks.is_empty() {
            g
        } else {
            node.hooks.apply(g, node.name)?
        };
        if let Some(cap) = capture.as_deref_mut() {
            if let Some(slot) = cap.get_mut(&key) {
                *slot = Some(g.clone());
            }
        }
        // a tensor that retains its gradient gets it whenever it arrives here, in
        // `autograd.grad` too and also where the node itself need not run, as PyTorch's (a
        // node whose gradient is captured, `backward(inputs=[h])`, hands it over that way)
        let captured = capture.as_deref().is_some_and(|cap| cap.contains_key(&key));
        let retained: Vec<Tensor> = node
            .retained
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|w| w.upgrade().map(Tensor))
            .filter(|t| t.grad_fn().is_some_and(|n| Arc::ptr_eq(&n, node)))
            .collect();
        if !captured {
            for t in &retained {
                // under create_graph the retained gradient keeps its history, as a leaf's
                if create_graph {
                    accumulate_graph(t, g.clone())?;
                } else {
                    accumulate(t, g.clone())?;
                }
            }
        }
        if let Some(need) = &needed {
            if !need.contains(&(Arc::as_ptr(node) as usize)) {
                continue;
            }
        }
        let input_grads = if create_graph {
            let _running = RunningGuard::new(node);
            let out = node.run_creating(&g, retain_graph)?;
            if node.has_double_rule() || node.is_twice_differentiable() {
                out
            } else {
                out.into_iter()
                    .map(|gi| gi.map(|gi| refusing_second_backward(gi, node, &g)))
                    .collect()
            }
        } else {
            node.run(&g, retain_graph)?
        };
        if ANOMALY_NAN_CHECK.load(Ordering::Relaxed) {
            check_nan_grads(node, &input_grads)?;
        }
        let input_grads = node.apply_post_hooks(input_grads, &g)?;
        for (edge, gi) in node.edges.iter().zip(input_grads) {
            let (Some(edge), Some(gi)) = (edge, gi) else {
                continue;
            };
            ensure!(
                gi.shape() == edge.shape(),
                Runtime,
                "backward: rule of {} gave a gradient of shape {:?} for an input of shape {:?}",
                node.name,
                gi.shape(),
                edge.shape()
            );
            if let Edge::Leaf(t) = edge {
                if !grads.contains_key(&edge.key()) {
                    leaves.push(t.clone());
                }
            }
            add(&mut grads, edge.key(), gi)?;
        }
        if capture.is_none() {
            release(node, &mut grads, &mut leaf)?;
        }
    }
    // the roots that are leaves themselves, and (with `capture`) every leaf
    for t in leaves {
        if let Some(g) = grads.remove(&Key::Leaf(t.id())) {
            match capture.as_deref_mut() {
                Some(cap) => {
                    let g = if t.0.hooks.is_empty() {
                        g
                    } else {
                        t.0.hooks.apply(g, "a leaf tensor")?
                    };
                    if let Some(slot) = cap.get_mut(&Key::Leaf(t.id())) {
                        *slot = Some(g);
                    }
                }
                None => hand_over(&t, g, &mut leaf)?,
            }
        }
    }
    Ok(())
}

/// `gi`, a gradient `node`'s rule computed in a backward with `create_graph` that cannot be
/// differentiated again, as a tensor whose history raises when a later backward reaches it
/// (from the incoming gradient `g` or the node's inputs) instead of dropping those terms.
fn refusing_second_backward(gi: Tensor, node: &Arc<Node>, g: &Tensor) -> Tensor {
    let mut edges = vec![g.edge()];
    edges.extend(node.edges.iter().cloned());
    let gi = gi.detach();
    if edges.iter().all(Option::is_none) {
        return gi;
    }
    let name = node.name;
    let refuse = Node::record_edges(
        "NotImplemented",
        gi.shape(),
        edges,
        Box::new(move |_| {
            Err(Error::Runtime(format!(
                "backward: the gradient of {name} was computed with create_graph=True, but \
                 differentiating it again (double backward through {name}) is not supported yet"
            )))
        }),
    );
    gi.set_history(Some(refuse));
    gi
}

/// A leaf's summed gradient through its hooks to `leaf` (which accumulates it into `.grad`),
/// then the leaf's post-accumulate hooks.
fn hand_over(
    t: &Tensor,
    g: Tensor,
    leaf: &mut dyn FnMut(&Tensor, Tensor) -> Result<()>,
) -> Result<()> {
    let g = if t.0.hooks.is_empty() {
        g
    } else {
        t.0.hooks.apply(g, "a leaf tensor")?
    };
    leaf(t, g)?;
    t.0.post_hooks.notify(t)
}

/// Backpropagates from `root`: fills `.grad` of the leaves that require it (accumulating).
///
/// `gradient` may be omitted only for a one-element root. Without `retain_graph` the rules are
/// freed as they run, so the graph's memory goes at once and a second backward is an error.
pub fn backward(root: &Tensor, gradient: Option<Tensor>, retain_graph: bool) -> Result<()> {
    backward_graph(root, gradient, retain_graph, false)
}

/// [`backward`], and with `create_graph` the gradients accumulated into `.grad` keep a history
/// (higher-order gradients; implies nothing about `retain_graph`, which the caller sets).
pub fn backward_graph(
    root: &Tensor,
    gradient: Option<Tensor>,
    retain_graph: bool,
    create_graph: bool,
) -> Result<()> {
    let Some(edge) = root.edge() else {
        return Err(Error::Runtime(
            "backward: element 0 of tensors does not require grad and does not have a grad_fn"
                .into(),
        ));
    };
    let g = seed(root, gradient, "backward", create_graph)?;
    if create_graph {
        run_graph(
            vec![(edge, g)],
            retain_graph,
            accumulate_graph,
            None,
            true,
            0,
        )
    } else {
        run_graph(vec![(edge, g)], retain_graph, accumulate, None, false, 0)
    }
}

/// Gradients of `outputs` (weighted by `grad_outputs`) with respect to `inputs`, returned
/// instead of accumulated into `.grad`. An input the outputs do not depend on gives `None`
/// (an error unless `allow_unused`).
/// With `create_graph` the returned gradients have a history (differentiable again).
pub fn grad(
    outputs: &[Tensor],
    inputs: &[Tensor],
    grad_outputs: Vec<Option<Tensor>>,
    retain_graph: bool,
    allow_unused: bool,
    create_graph: bool,
) -> Result<Vec<Option<Tensor>>> {
    ensure!(
        grad_outputs.len() == outputs.len(),
        Value,
        "grad: got {} grad_outputs for {} outputs",
        grad_outputs.len(),
        outputs.len()
    );
    let mut roots = Vec::new();
    for (i, (o, g)) in outputs.iter().zip(grad_outputs).enumerate() {
        let Some(edge) = o.edge() else {
            return Err(Error::Runtime(format!(
                "grad: element {i} of outputs does not require grad and does not have a grad_fn"
            )));
        };
        roots.push((edge, seed(o, g, "grad", create_graph)?));
    }
    let mut keys = Vec::new();
    let mut capture = HashMap::default();
    // the graph under the lowest wanted node need not be walked (a leaf wanted: all of it)
    let mut min_topo = u64::MAX;
    for (i, x) in inputs.iter().enumerate() {
        let Some(edge) = x.edge() else {
            return Err(Error::Runtime(format!(
                "grad: element {i} of inputs does not require grad"
            )));
        };
        min_topo = min_topo.min(match &edge {
            Edge::Node(n) => n.topo_nr,
            Edge::Leaf(_) => 0,
        });
        let k = edge.key();
        keys.push(k);
        capture.insert(k, None);
        // a leaf given a new shape in place since the graph was built: the graph reaches it
        // under the ids it had before
        for id in x.predecessors() {
            capture.insert(Key::Leaf(id), None);
            min_topo = 0;
        }
    }
    run_graph(
        roots,
        retain_graph,
        |_, _| Ok(()),
        Some(&mut capture),
        create_graph,
        if inputs.is_empty() { 0 } else { min_topo },
    )?;
    let mut out = Vec::with_capacity(inputs.len());
    for (i, (k, x)) in keys.iter().zip(inputs).enumerate() {
        let mut got = capture.get(k).cloned().flatten();
        for id in x.predecessors() {
            if let Some(g) = capture.get(&Key::Leaf(id)).cloned().flatten() {
                let g = if g.shape() != x.shape() && same_but_ones(g.shape(), x.shape()) {
                    g.reshape(x.shape())?
                } else {
                    g
                };
                x.check_grad_fits(&g, "the gradient", "the input")?;
                got = Some(match got {
                    Some(sum) => sum.add(&g)?,
                    None => g,
                });
            }
        }
        match got {
            Some(g) => out.push(Some(g)),
            None if allow_unused => out.push(None),
            _ => {
                return Err(Error::Runtime(format!(
                    "grad: one of the differentiated tensors (input {i}, shape {:?}) appears to not have been used in the graph; \
                     pass allow_unused=True if this is the desired behavior",
                    x.shape()
                )))
            }
        }
    }
    Ok(out)
}

/// Accumulates `g` into `.grad` keeping its history (a backward with `create_graph`): the sum is
/// a new tensor, never an alias of a gradient that flows elsewhere.
pub(crate) fn accumulate_graph(t: &Tensor, g: Tensor) -> Result<()> {
    accumulate_into(t, g, true)
}

pub(crate) fn accumulate(t: &Tensor, g: Tensor) -> Result<()> {
    accumulate_into(t, g, false)
}

/// True when two shapes differ only by dims of size 1.
fn same_but_ones(a: &[usize], b: &[usize]) -> bool {
    a.iter()
        .filter(|&&d| d != 1)
        .eq(b.iter().filter(|&&d| d != 1))
}

fn accumulate_into(t: &Tensor, g: Tensor, keep_history: bool) -> Result<()> {
    if let Some(mut next) = t.successor() {
        // the leaf's Python object now stands for another tensor (an in-place shape change,
        // maybe several): its `.grad` is the last one's, which must fit the gradient (as
        // PyTorch's leaf)
        while let Some(later) = next.successor() {
            next = later;
        }
        // a shape that only gained or lost dims of size 1 (unsqueeze_/squeeze_) takes the
        // gradient reshaped, as PyTorch's leaf does
        let g = if g.shape() != next.shape() && same_but_ones(g.shape(), next.shape()) {
            g.reshape(next.shape())?
        } else {
            g
        };
        next.check_grad_fits(&g, "the gradient", "the tensor")
            .map_err(|_| {
                Error::Runtime(format!(
                    "backward: the gradient of a leaf has shape {:?} but the leaf now has shape \
                     {:?} (changed in place since the graph was built: unsqueeze_/t_/resize_/set_)",
                    g.shape(),
                    next.shape()
                ))
            })?;
        return accumulate_into(&next, g, keep_history);
    }
    if !t.0.requires_grad.load(Ordering::Acquire) {
        // the leaf stopped requiring grad after the graph was built: nothing is accumulated,
        // as PyTorch's AccumulateGrad skips it
        return Ok(());
    }
    let g = if g.dtype() != t.dtype() {
        g.to_dtype(t.dtype())?
    } else {
        g
    };
    t.check_grad_fits(&g, "the gradient", "the tensor")?;
    // read, add and store under the gradient's lock: backward passes running at once on other
    // threads add to the same `.grad` without losing each other's sums
    let mut slot = t.0.grad.lock().unwrap_or_else(|e| e.into_inner());
    // as PyTorch, a plain backward adds into the existing `.grad` in place, so a reference to
    // it taken earlier (`g = w.grad`) sees the sum; only when nothing else shares its memory
    // (a gradient first stored may alias one that another leaf holds too)
    if let Some(prev) = slot.as_ref().filter(|p| {
        !keep_history
            && p.storage_counts() == (1, 0)
            && !p.requires_grad()
            && p.dtype() == g.dtype()
            && p.owns_whole_storage()
    }) {
        let sum = prev.add(&g)?;
        if !prev.move_from(&sum, "AccumulateGrad") {
            prev.write_from(&sum, "AccumulateGrad")?;
        }
        return Ok(());
    }
    let new = match slot.as_ref() {
        Some(prev) => prev.add(&g)?,
        None if keep_history => g.deep_clone()?,
        None => {
            // stored as it is when no other tensor shares its memory (later sums go into it in
            // place); a gradient shared with another leaf or a view of a larger buffer is copied,
            // as is one the engine still holds for other nodes (`a + b` hands both the same
            // tensor): an in-place change to `.grad` (a post-accumulate hook) must not reach them
            let c = g.contiguous()?;
            drop(g);
            if Arc::strong_count(&c.0) > 1 || c.storage_counts().0 > 1 || !c.owns_whole_storage() {
                c.deep_clone()?
            } else {
                c
            }
        }
    };
    *slot = Some(if keep_history { new } else { new.detach() });
    Ok(())
}

/// Compares analytic gradients of `f` (summed output) with central finite differences.
///
/// Inputs should be float64 leaves that require grad. Returns the largest absolute error, or an
/// error describing the first mismatch beyond `atol + rtol·|numeric|`.
pub fn gradcheck(
    f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Tensor],
    eps: f64,
    atol: f64,
    rtol: f64,
) -> Result<f64> {
    for x in inputs {
        x.set_grad(None)?;
    }
    let out = f(inputs)?;
    // weight the outputs with fixed pseudo-random numbers so every output element matters
    let w: Vec<f64> = (0..out.numel())
        .map(|i| 0.5 + ((i * 7919 % 97) as f64) / 97.0)
        .collect();
    let wt = Tensor::from_f64(w.clone(), out.shape())?
        .to_dtype(out.dtype())?
        .to_device(out.device())?;
    out.mul(&wt)?.sum_all()?.backward(None, false)?;
    let mut worst: f64 = 0.0;
    for (xi, x) in inputs.iter().enumerate() {
        if !x.requires_grad() {
            continue;
        }
        let analytic = match x.grad() {
            Some(g) => g.to_f64_vec()?,
            None => vec![0.0; x.numel()],
        };
        let base = x.to_f64_vec()?;
        for k in 0..base.len() {
            let eval = |delta: f64| -> Result<f64> {
                let mut v = base.clone();
                v[k] += delta;
                let xs: Vec<Tensor> = inputs
                    .iter()
                    .enumerate()
                    .map(|(j, t)| {
                        if j == xi {
                            Tensor::from_f64(v.clone(), x.shape())?
                                .to_dtype(x.dtype())?
                                .to_device(x.device())
                        } else {
                            Ok(t.detach())
                        }
                    })
                    .collect::<Result<_>>()?;
                let _g = NoGradGuard::new();
                let o = f(&xs)?.to_f64_vec()?;
                Ok(o.iter().zip(&w).map(|(a, b)| a * b).sum())
            };
            let numeric = (eval(eps)? - eval(-eps)?) / (2.0 * eps);
            let err = (numeric - analytic[k]).abs();
            worst = worst.max(err);
            if err > atol + rtol * numeric.abs() || !analytic[k].is_finite() {
                return Err(Error::Value(format!(
                    "gradcheck: input {xi}, element {k}: analytic {} vs numeric {numeric}",
                    analytic[k]
                )));
            }
        }
    }
    Ok(worst)
}
