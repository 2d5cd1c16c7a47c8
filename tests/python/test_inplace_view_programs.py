"""Random programs of views and in-place ops, run on rustdl tensors that require grad and on
numpy arrays (whose views and in-place ops have the same semantics). The forward values must
match numpy's, and the gradients must match central finite differences of the numpy program.

Each program starts from leaves ``L_i``, works on ``v_i = 1.5 L_i + 0.25``, then applies a few
steps: an in-place op on a chain of views of a variable (slices with steps, select, transpose,
unsqueeze, narrow, diagonal, movedim, split, permute), possibly with another variable as operand,
or a new variable computed from a view. The loss is ``Σ_v <v, W_v>`` with fixed random ``W_v``."""

import random

import numpy as np
import pytest
import rustdl

# ------------------------------------------------------------------------------------------
# the program: a list of steps, built from a seed
# ------------------------------------------------------------------------------------------


def _view_chain(r, shape):
    """Random view steps for a tensor of ``shape``; returns (steps, resulting shape)."""
    steps, shape = [], list(shape)
    for _ in range(r.randint(0, 3)):
        nd = len(shape)
        if nd == 0:
            break
        d = r.randrange(nd)
        kind = r.choice(
            ["slice", "select", "transpose", "unsqueeze", "narrow", "diagonal", "movedim", "split", "permute"]
        )
        if kind == "slice" and shape[d] > 1:
            a, st = r.randrange(shape[d] - 1), r.choice([1, 2, 3])
            steps.append(("slice", d, a, st))
            shape[d] = len(range(a, shape[d], st))
        elif kind == "select" and nd > 1:
            i = r.randrange(shape[d])
            steps.append(("select", d, i))
            shape.pop(d)
        elif kind == "transpose" and nd > 1:
            e = r.randrange(nd)
            steps.append(("transpose", d, e))
            shape[d], shape[e] = shape[e], shape[d]
        elif kind == "unsqueeze":
            steps.append(("unsqueeze", d))
            shape.insert(d, 1)
        elif kind == "narrow" and shape[d] > 1:
            n = r.randint(1, shape[d] - 1)
            steps.append(("narrow", d, 1, n))
            shape[d] = n
        elif kind == "diagonal" and nd >= 2:
            e, off = (d + 1) % nd, r.choice([0, 0, 1, -1])
            n = min(shape[d] - max(-off, 0), shape[e] - max(off, 0))
            if n > 0:
                steps.append(("diagonal", off, d, e))
                shape = [s for i, s in enumerate(shape) if i not in (d, e)] + [n]
        elif kind == "movedim" and nd > 1:
            e = r.randrange(nd)
            steps.append(("movedim", d, e))
            shape.insert(e, shape.pop(d))
        elif kind == "split" and shape[d] > 1:
            k = r.randint(1, shape[d] - 1)
            steps.append(("split", d, k))
            shape[d] = k
        elif kind == "permute" and nd > 1:
            p = list(range(nd))
            r.shuffle(p)
            steps.append(("permute", tuple(p)))
            shape = [shape[i] for i in p]
    return steps, tuple(shape)


INPLACE = ["add", "mul", "clamp", "sigmoid", "tanh", "square", "fill", "zero", "lerp_c", "masked_fill"]
WITH_OTHER = ["add_v", "mul_v", "copy_v", "addcmul_v", "lerp_v", "sub_v"]


def make_program(seed):
    r = random.Random(seed)
    leaves = [tuple(r.choice([2, 3, 4]) for _ in range(r.randint(1, 3))) for _ in range(r.randint(1, 3))]
    shapes = list(leaves)  # shapes of v_0, v_1, ...
    steps = []
    for _ in range(r.randint(2, 7)):
        target = r.randrange(len(shapes))
        chain, vshape = _view_chain(r, shapes[target])
        if r.random() < 0.2:
            steps.append(("new_from_view", target, chain, r.choice(["sin_times", "clone2"])))
            shapes.append(vshape)
            continue
        ops = list(INPLACE)
        partners = [i for i, s in enumerate(shapes) if s == vshape and i != target]
        if partners:
            ops += WITH_OTHER
        op = r.choice(ops)
        other = r.choice(partners) if op in WITH_OTHER else None
        steps.append(("inplace", target, chain, op, other))
        if r.random() < 0.25:
            src = r.randrange(len(shapes))
            steps.append(("new_from_view", src, [], "sin_times"))
            shapes.append(shapes[src])
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s) for s in shapes]
    leaf_values = [np.random.default_rng(seed * 7 + i).standard_normal(s) for i, s in enumerate(leaves)]
    return leaf_values, steps, weights


# ------------------------------------------------------------------------------------------
# one interpreter, two array libraries
# ------------------------------------------------------------------------------------------


def _np_view(x, step):
    kind = step[0]
    if kind == "slice":
        _, d, a, st = step
        return x[(slice(None),) * d + (slice(a, None, st),)]
    if kind == "select":
        return x[(slice(None),) * step[1] + (step[2],)]
    if kind == "transpose":
        return np.swapaxes(x, step[1], step[2])
    if kind == "unsqueeze":
        return np.expand_dims(x, step[1])
    if kind == "narrow":
        _, d, s, n = step
        return x[(slice(None),) * d + (slice(s, s + n),)]
    if kind == "diagonal":  # numpy's diagonal is read-only: the same walk as a writable view
        _, off, d, e = step
        n = min(x.shape[d] - max(-off, 0), x.shape[e] - max(off, 0))
        base = x[(slice(None),) * d + (slice(max(-off, 0), None),)]
        base = base[(slice(None),) * e + (slice(max(off, 0), None),)]
        rest = [i for i in range(x.ndim) if i not in (d, e)]
        shape = [x.shape[i] for i in rest] + [n]
        strides = [base.strides[i] for i in rest] + [base.strides[d] + base.strides[e]]
        return np.lib.stride_tricks.as_strided(base, shape, strides)
    if kind == "movedim":
        return np.moveaxis(x, step[1], step[2])
    if kind == "split":
        _, d, k = step
        return x[(slice(None),) * d + (slice(0, k),)]
    if kind == "permute":
        return np.transpose(x, step[1])
    raise AssertionError(kind)


def _rd_view(x, step):
    kind = step[0]
    if kind == "slice":
        _, d, a, st = step
        return x[(slice(None),) * d + (slice(a, None, st),)]
    if kind == "select":
        return x.select(step[1], step[2])
    if kind == "transpose":
        return x.transpose(step[1], step[2])
    if kind == "unsqueeze":
        return x.unsqueeze(step[1])
    if kind == "narrow":
        return x.narrow(step[1], step[2], step[3])
    if kind == "diagonal":
        return x.diagonal(step[1], step[2], step[3])
    if kind == "movedim":
        return x.movedim(step[1], step[2])
    if kind == "split":
        return x.split(step[2], step[1])[0]
    if kind == "permute":
        return x.permute(*step[1])
    raise AssertionError(kind)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _np_inplace(v, op, o):
    if op == "add":
        v += 0.5
    elif op == "mul":
        v *= -1.5
    elif op == "clamp":
        np.clip(v, -0.4, 0.9, out=v)
    elif op == "sigmoid":
        v[...] = _sigmoid(v)
    elif op == "tanh":
        v[...] = np.tanh(v)
    elif op == "square":
        v *= v.copy()
    elif op == "fill":
        v[...] = 0.7
    elif op == "zero":
        v[...] = 0.0
    elif op == "lerp_c":
        v += 0.3 * (0.2 - v)
    elif op == "masked_fill":
        v[(np.arange(v.size).reshape(v.shape) % 2) == 0] = -0.5
    elif op == "add_v":
        v += o
    elif op == "mul_v":
        v *= o
    elif op == "copy_v":
        v[...] = o
    elif op == "addcmul_v":
        v += 0.25 * o * o
    elif op == "lerp_v":
        v += 0.5 * (o - v)
    elif op == "sub_v":
        v -= 2 * o
    else:
        raise AssertionError(op)


def _rd_inplace(v, op, o):
    if op == "add":
        v.add_(0.5)
    elif op == "mul":
        v.mul_(-1.5)
    elif op == "clamp":
        v.clamp_(-0.4, 0.9)
    elif op == "sigmoid":
        v.sigmoid_()
    elif op == "tanh":
        v.tanh_()
    elif op == "square":
        v.square_()
    elif op == "fill":
        v.fill_(0.7)
    elif op == "zero":
        v.zero_()
    elif op == "lerp_c":
        v.lerp_(rustdl.full(tuple(v.shape), 0.2, dtype=v.dtype, device=v.device), 0.3)
    elif op == "masked_fill":
        v.masked_fill_(rustdl.arange(v.numel(), device=v.device).reshape(tuple(v.shape)) % 2 == 0, -0.5)
    elif op == "add_v":
        v.add_(o)
    elif op == "mul_v":
        v.mul_(o)
    elif op == "copy_v":
        v.copy_(o)
    elif op == "addcmul_v":
        v.addcmul_(o, o, value=0.25)
    elif op == "lerp_v":
        v.lerp_(o, 0.5)
    elif op == "sub_v":
        v.sub_(o, alpha=2)
    else:
        raise AssertionError(op)


def run_numpy(leaf_values, steps, weights):
    vs = [1.5 * x + 0.25 for x in leaf_values]
    for st in steps:
        if st[0] == "new_from_view":
            _, src, chain, how = st
            x = vs[src]
            for s in chain:
                x = _np_view(x, s)
            vs.append(np.sin(x) * x if how == "sin_times" else x.copy() * 2)
        else:
            _, target, chain, op, other = st
            x = vs[target]
            for s in chain:
                x = _np_view(x, s)
            _np_inplace(x, op, None if other is None else vs[other].copy())
    return vs, sum(float((v * w).sum()) for v, w in zip(vs, weights))


def run_rustdl(leaf_values, steps, weights, device="cpu", dtype=rustdl.float64):
    """The program on rustdl tensors, then ``loss.backward()``; ``None`` for the gradients when
    backward refuses because a tensor it needs was modified in place (as PyTorch refuses)."""
    leaves = [rustdl.tensor(x, dtype=dtype, device=device, requires_grad=True) for x in leaf_values]
    vs = [x * 1.5 + 0.25 for x in leaves]
    for st in steps:
        if st[0] == "new_from_view":
            _, src, chain, how = st
            x = vs[src]
            for s in chain:
                x = _rd_view(x, s)
            vs.append(x.sin() * x if how == "sin_times" else x.clone() * 2)
        else:
            _, target, chain, op, other = st
            x = vs[target]
            for s in chain:
                x = _rd_view(x, s)
            _rd_inplace(x, op, None if other is None else vs[other])
    loss = sum((v * rustdl.tensor(w, dtype=dtype, device=device)).sum() for v, w in zip(vs, weights))
    try:
        loss.backward()
    except RuntimeError as e:
        if "modified by an in-place operation" not in str(e):
            raise
        return vs, loss, None
    return vs, loss, leaves


def numeric_grads(leaf_values, steps, weights, eps=1e-6):
    grads = []
    for i, x in enumerate(leaf_values):
        g = np.zeros(x.size)
        for j in range(x.size):
            vals = []
            for delta in (eps, -eps):
                pert = [a.copy() for a in leaf_values]
                pert[i].reshape(-1)[j] += delta
                vals.append(run_numpy(pert, steps, weights)[1])
            g[j] = (vals[0] - vals[1]) / (2 * eps)
        grads.append(g.reshape(x.shape))
    return grads


# ------------------------------------------------------------------------------------------
# the tests
# ------------------------------------------------------------------------------------------

SEEDS = range(640)


@pytest.mark.parametrize("block", range(8))
def test_random_view_inplace_programs_match_numpy_and_finite_differences(block):
    checked = refused = 0
    for seed in SEEDS[block::8]:
        leaf_values, steps, weights = make_program(seed)
        vs_np, loss_np = run_numpy([x.copy() for x in leaf_values], steps, weights)
        if not np.isfinite(loss_np) or abs(loss_np) > 1e4:
            continue  # finite differences lose their digits
        vs, loss, leaves = run_rustdl(leaf_values, steps, weights)
        for k, (a, b) in enumerate(zip(vs, vs_np)):
            np.testing.assert_allclose(
                a.detach().numpy(), b, rtol=1e-10, atol=1e-12, err_msg=f"seed {seed}: v{k}: {steps}"
            )
        if leaves is None:
            refused += 1
            continue
        num = numeric_grads(leaf_values, steps, weights)
        for i, (leaf, g) in enumerate(zip(leaves, num)):
            got = np.zeros(g.shape) if leaf.grad is None else leaf.grad.numpy()
            np.testing.assert_allclose(
                got, g, rtol=1e-5, atol=1e-5, err_msg=f"seed {seed}: dL/dL{i}: {steps}"
            )
        checked += 1
    assert checked >= 40 and refused <= checked


def test_random_view_inplace_programs_on_the_gpu(gpu):
    for seed in range(0, 640, 4):
        leaf_values, steps, weights = make_program(seed)
        vs_np, loss_np = run_numpy([x.copy() for x in leaf_values], steps, weights)
        if not np.isfinite(loss_np) or abs(loss_np) > 1e3:
            continue
        vs, loss, leaves = run_rustdl(leaf_values, steps, weights, device=gpu, dtype=rustdl.float32)
        for k, (a, b) in enumerate(zip(vs, vs_np)):
            np.testing.assert_allclose(
                a.detach().cpu().numpy(), b, rtol=1e-4, atol=1e-4, err_msg=f"seed {seed}: v{k}"
            )
        ref, _, ref_leaves = run_rustdl(leaf_values, steps, weights)  # the CPU float64 gradients
        assert (leaves is None) == (ref_leaves is None), f"seed {seed}"
        if leaves is None:
            continue
        for leaf, rl in zip(leaves, ref_leaves):
            if rl.grad is None:
                assert leaf.grad is None or not leaf.grad.cpu().numpy().any()
                continue
            np.testing.assert_allclose(
                leaf.grad.cpu().numpy(), rl.grad.numpy(), rtol=2e-3, atol=2e-3, err_msg=f"seed {seed}"
            )


# ------------------------------------------------------------------------------------------
# indexing: random keys (ints, slices with steps, None, Ellipsis, lists, integer and bool
# arrays) read and assigned, against numpy's indexing and finite differences
# ------------------------------------------------------------------------------------------


def make_key(r, shape):
    parts, used, ellipsis = [], 0, False
    while used < len(shape) and len(parts) <= len(shape):
        n = shape[used]
        kind = r.choice(["int", "slice", "slice", "none", "ints", "ints", "list", "bool", "ellipsis"])
        if kind == "int":
            parts.append(r.randrange(-n, n))
        elif kind == "slice":
            a = r.choice([None, r.randrange(-n, n)])
            b = r.choice([None, r.randrange(-n, n + 1)])
            parts.append(slice(a, b, r.choice([None, 1, 2, 3])))
        elif kind == "none":
            parts.append(None)
            continue
        elif kind == "ints":
            vals = [r.randrange(-n, n) for _ in range(r.randint(1, 3))]
            parts.append(np.array([vals, vals]) if r.random() < 0.3 else np.array(vals))
        elif kind == "list":
            parts.append([r.randrange(-n, n) for _ in range(r.randint(1, 3))])
        elif kind == "bool":
            parts.append(np.array([r.random() < 0.5 for _ in range(n)]))
        elif kind == "ellipsis" and not ellipsis:
            parts.append(Ellipsis)
            ellipsis = True
            used = len(shape)
            continue
        else:
            continue
        used += 1
    return tuple(parts)


def _rd_key(key):
    return tuple(rustdl.tensor(k) if isinstance(k, np.ndarray) else k for k in key)


def _np_index(b, key):
    """``b[key]`` with PyTorch's rule, as a pair (view, key) to read or assign through: integers
    (with None, Ellipsis) select first, as basic indexing, then the slices and index arrays
    apply to that view (numpy instead counts an integer beside an index array as an index
    array, which moves the result's dims elsewhere). A list is an integer array."""
    first = tuple(k if k is None or k is Ellipsis or isinstance(k, int) else slice(None) for k in key)
    then = tuple(
        slice(None) if k is None else np.array(k) if isinstance(k, list) else k
        for k in key
        if not isinstance(k, int)
    )
    if not any(k is Ellipsis for k in first):
        first += (Ellipsis,)  # a 0-d view rather than a number when every dim is selected
    return b[first], then


def index_program(seed):
    r = random.Random(seed)
    shape = tuple(r.choice([2, 3, 4]) for _ in range(r.randint(1, 4)))
    key = make_key(r, shape)
    mode = r.choice(["get", "set_const", "set_scalar_var", "set_shaped_var"])
    x = np.random.default_rng(seed).standard_normal(shape)
    v = np.random.default_rng(seed + 1).standard_normal(())
    return x, v, key, mode


def run_index_numpy(x, v, key, mode):
    b = x * 1.0
    view, k = _np_index(b, key)
    if mode == "get":
        y = view[k]
    else:
        region = view[k]
        if mode == "set_const":
            view[k] = 0.5
        elif mode == "set_scalar_var":
            view[k] = v * 3
        else:
            view[k] = np.arange(1.0, 1.0 + region.size).reshape(region.shape) * v
        y = b
    w = np.arange(1.0, 1.0 + y.size).reshape(y.shape)
    return y, float((y * w).sum())


def run_index_rustdl(x, v, key, mode):
    xl = rustdl.tensor(x, requires_grad=True)
    vl = rustdl.tensor(v, requires_grad=True)
    b = xl * 1.0
    k = _rd_key(key)
    if mode == "get":
        y = b[k]
    else:
        region_shape = tuple(b[k].shape)
        if mode == "set_const":
            b[k] = 0.5
        elif mode == "set_scalar_var":
            b[k] = vl * 3
        else:
            n = int(np.prod(region_shape))
            b[k] = rustdl.arange(1.0, 1.0 + n, dtype=rustdl.float64).reshape(region_shape) * vl
        y = b
    w = rustdl.arange(1.0, 1.0 + y.numel(), dtype=rustdl.float64).reshape(tuple(y.shape))
    (y * w).sum().backward()
    return y, xl.grad, vl.grad


@pytest.mark.parametrize("block", range(4))
def test_random_indexing_matches_numpy_and_finite_differences(block):
    checked = 0
    for seed in range(block, 800, 4):
        x, v, key, mode = index_program(seed)
        try:
            y_np, _ = run_index_numpy(x.copy(), v, key, mode)
        except IndexError:
            with pytest.raises((IndexError, ValueError, RuntimeError)):
                run_index_rustdl(x, v, key, mode)
            continue
        y, gx, gv = run_index_rustdl(x, v, key, mode)
        np.testing.assert_allclose(y.detach().numpy(), y_np, rtol=1e-12, err_msg=f"seed {seed}: {key} {mode}")
        eps = 1e-6
        num_x = np.zeros(x.size)
        for j in range(x.size):
            hi, lo = x.copy(), x.copy()
            hi.reshape(-1)[j] += eps
            lo.reshape(-1)[j] -= eps
            num_x[j] = (run_index_numpy(hi, v, key, mode)[1] - run_index_numpy(lo, v, key, mode)[1]) / (
                2 * eps
            )
        got_x = np.zeros(x.size) if gx is None else gx.numpy().reshape(-1)
        np.testing.assert_allclose(got_x, num_x, rtol=1e-6, atol=1e-6, err_msg=f"seed {seed}: {key} {mode}")
        num_v = (run_index_numpy(x, v + eps, key, mode)[1] - run_index_numpy(x, v - eps, key, mode)[1]) / (
            2 * eps
        )
        if mode in ("set_scalar_var", "set_shaped_var"):
            # PyTorch's index_put backward: every write gets the gradient at the position it wrote
            # to, a write a later one overwrote included (with no repeated position this is the
            # finite difference); the weight of position q in the loss is q + 1
            ids = np.arange(x.size, dtype=np.float64).reshape(x.shape)
            view, k = _np_index(ids, key)
            at = view[k] + 1.0
            per_write = 3.0 if mode == "set_scalar_var" else np.arange(1.0, 1.0 + at.size).reshape(at.shape)
            want_v = float((per_write * at).sum())
            if np.unique(view[k]).size == view[k].size:
                assert abs(want_v - num_v) <= 1e-6 * max(1.0, abs(num_v)), f"seed {seed}: reference"
        else:
            want_v = num_v
        np.testing.assert_allclose(
            0.0 if gv is None else gv.item(), want_v, rtol=1e-6, atol=1e-6, err_msg=f"seed {seed}"
        )
        checked += 1
    assert checked >= 100


def test_assigning_over_a_whole_tensor_gives_its_history_a_zero_gradient():
    # PyTorch's copy node keeps an edge to the overwritten value: its gradient is zeros, not None
    for assign in (
        lambda b, v: b.__setitem__(Ellipsis, v * 3),
        lambda b, v: b.__setitem__(slice(None), v * 3),
        lambda b, v: b.copy_((v * 3).expand(3, 4)),
        lambda b, v: b.fill_(v),
    ):
        x = rustdl.randn(3, 4, requires_grad=True)
        v = rustdl.tensor(0.5, requires_grad=True)
        b = x * 1.0
        assign(b, v)
        (b * 2).sum().backward()
        assert x.grad is not None and not x.grad.numpy().any()
        assert v.grad.item() in (24.0, 72.0)
