"""Shape ops, indexing (get/set) and gather/scatter_add/index_select/masked_fill against numpy."""

import numpy as np
import pytest
from fuzzlib import (
    CONFIG_IDS,
    CONFIGS,
    check_result,
    expect_error,
    farrays,
    iarrays,
    need,
    run,
    shapes,
    tols,
    views,
)
from hypothesis import assume, given
from hypothesis import strategies as st

SHAPE_CONFIGS = CONFIGS + [("cpu", "int64")]
SHAPE_IDS = CONFIG_IDS + ["cpu-int64"]


def _arr(data, dtype, shape, dev):
    if dtype == "int64":
        return data.draw(iarrays(shape))
    return data.draw(farrays(dtype, shape, dev=dev))


def _factor_shape(data, n, max_dims=4):
    """A random shape with `n` elements."""
    if n == 0:
        s = list(data.draw(shapes(min_dims=1, max_dims=max_dims, max_side=4)))
        s[data.draw(st.integers(0, len(s) - 1))] = 0
        return s
    primes, m, p = [], n, 2
    while m > 1:
        while m % p == 0:
            primes.append(p)
            m //= p
        p += 1
    nd = data.draw(st.integers(0 if n == 1 else 1, max_dims))
    if nd == 0:
        return []
    s = [1] * nd
    for q in primes:
        s[data.draw(st.integers(0, nd - 1))] *= q
    return s


@pytest.mark.parametrize("dev,dtype", SHAPE_CONFIGS, ids=SHAPE_IDS)
@pytest.mark.parametrize(
    "op",
    [
        "reshape",
        "view",
        "flatten",
        "permute",
        "transpose",
        "squeeze",
        "unsqueeze",
        "expand",
        "narrow",
        "flip",
        "select",
        "t",
    ],
)
@given(data=st.data())
def test_shape_op(op, dev, dtype, data):
    need(dev)
    a = _arr(data, dtype, data.draw(shapes(max_dims=4, max_side=4)), dev)
    nd = a.ndim
    view = "c" if op == "view" else data.draw(views(nd))
    X = f"T(a, {view!r})"
    if op in ("reshape", "view"):
        s = _factor_shape(data, a.size)
        if a.size and s and data.draw(st.booleans()):
            s[data.draw(st.integers(0, len(s) - 1))] = -1
        code, exp = f"out = {X}.{op}({tuple(s)!r})", a.reshape(s)
    elif op == "flatten":
        if nd == 0:
            code, exp = f"out = {X}.flatten()", a.reshape(1)
        else:
            s0 = data.draw(st.integers(-nd, nd - 1))
            e0 = data.draw(st.integers(-nd, nd - 1))
            assume(s0 % nd <= e0 % nd)
            i, j = s0 % nd, e0 % nd
            new = a.shape[:i] + (int(np.prod(a.shape[i : j + 1])),) + a.shape[j + 1 :]
            code, exp = f"out = {X}.flatten({s0}, {e0})", a.reshape(new)
    elif op == "permute":
        perm = data.draw(st.permutations(list(range(nd))))
        perm = [p - nd if data.draw(st.booleans()) else p for p in perm]
        code, exp = (
            f"out = {X}.permute({tuple(perm)!r})",
            np.transpose(a, [p % nd for p in perm]) if nd else a,
        )
    elif op == "transpose":
        assume(nd >= 1)
        d0, d1 = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
        code, exp = f"out = {X}.transpose({d0}, {d1})", np.swapaxes(a, d0, d1)
    elif op == "t":
        assume(nd <= 2)
        code, exp = f"out = {X}.t()", a.T
    elif op == "squeeze":
        if nd and data.draw(st.booleans()):
            d = data.draw(st.integers(-nd, nd - 1))
            code, exp = f"out = {X}.squeeze({d})", (np.squeeze(a, d) if a.shape[d] == 1 else a)
        else:
            code, exp = f"out = {X}.squeeze()", np.squeeze(a)
    elif op == "unsqueeze":
        d = data.draw(st.integers(-nd - 1, nd))
        code, exp = f"out = {X}.unsqueeze({d})", np.expand_dims(a, d)
    elif op == "expand":
        # make some dims singleton (a slice of the drawn array), then expand them (to 0 too)
        a = a[tuple(slice(0, 1) if data.draw(st.booleans()) else slice(None) for _ in a.shape)]
        lead = data.draw(st.lists(st.integers(0, 3), max_size=2))
        tgt = []
        for s in a.shape:
            tgt.append(
                data.draw(st.sampled_from([1, 2, 3, 0, -1]))
                if s == 1
                else data.draw(st.sampled_from([s, -1]))
            )
        full = list(lead) + tgt
        bad = None
        if data.draw(st.integers(0, 4)) == 0:  # PyTorch's refusals
            kinds = ["fewer_dims"] if nd else []
            kinds += ["lead_minus_one"] + (["wrong_size"] if any(s != 1 for s in a.shape) else [])
            bad = data.draw(st.sampled_from(kinds))
            if bad == "fewer_dims":  # fewer target sizes than dims
                full = tgt[1:]
            elif bad == "lead_minus_one":  # -1 in a new leading dim
                full = [-1] + tgt
            else:  # a non-singleton dim expanded to another size (smaller or bigger)
                i = data.draw(st.sampled_from([i for i, s in enumerate(a.shape) if s != 1]))
                tgt[i] = data.draw(st.sampled_from([v for v in (a.shape[i] - 1, a.shape[i] + 1) if v >= 0]))
                full = list(lead) + tgt
        code = f"out = T(a).expand({tuple(full)!r})"
        if bad is not None:
            case, res = run(code, {"a": a}, dev)
            expect_error(case, res)
            return
        real = [a.shape[i - len(lead)] if v == -1 else v for i, v in enumerate(full)]
        exp = np.broadcast_to(a, real)
    elif op == "narrow":
        assume(nd >= 1)
        d = data.draw(st.integers(-nd, nd - 1))
        size = a.shape[d]
        start = data.draw(st.integers(0, size))
        length = data.draw(st.integers(0, size - start))
        if start and data.draw(st.booleans()) and start < size:
            start_arg = start - size
        else:
            start_arg = start
        code, exp = (
            f"out = {X}.narrow({d}, {start_arg}, {length})",
            np.take(a, range(start, start + length), axis=d),
        )
    elif op == "flip":
        dims = data.draw(st.lists(st.integers(0, nd - 1), unique=True)) if nd else []
        code, exp = f"out = {X}.flip({tuple(dims)!r})", np.flip(a, dims) if dims else a
    else:  # select
        assume(nd >= 1 and 0 not in a.shape)
        d = data.draw(st.integers(-nd, nd - 1))
        i = data.draw(st.integers(-a.shape[d], a.shape[d] - 1))
        code, exp = f"out = {X}.select({d}, {i})", np.take(a, i, axis=d)
    case, res = run(code, {"a": a}, dev)
    check_result(case, res, np.array(exp, dtype=a.dtype))


@pytest.mark.parametrize("dev,dtype", SHAPE_CONFIGS, ids=SHAPE_IDS)
@pytest.mark.parametrize("op", ["cat", "stack", "split", "split_list", "chunk"])
@given(data=st.data())
def test_join_split(op, dev, dtype, data):
    need(dev)
    base = data.draw(shapes(min_dims=1, max_dims=3, max_side=4))
    nd = len(base)
    d = data.draw(st.integers(-nd, nd - 1))
    if op in ("cat", "stack"):
        k = data.draw(st.integers(1, 4))
        arrs = []
        for _ in range(k):
            s = list(base)
            if op == "cat":
                s[d] = data.draw(st.integers(0, 3))
            arrs.append(_arr(data, dtype, tuple(s), dev))
        inputs = {f"a{i}": x for i, x in enumerate(arrs)}
        vs = [data.draw(views(nd)) for _ in arrs]
        lst = ", ".join(f"T(a{i}, {v!r})" for i, v in enumerate(vs))
        sd = data.draw(st.integers(-nd - 1, nd)) if op == "stack" else d
        code = f"out = rd.{op}([{lst}], {sd})"
        exp = np.concatenate(arrs, d) if op == "cat" else np.stack(arrs, sd)
        case, res = run(code, inputs, dev)
        check_result(case, res, exp.astype(dtype))
        return
    a = _arr(data, dtype, base, dev)
    size = a.shape[d]
    view = data.draw(views(nd))
    if op == "split":
        s = data.draw(st.integers(1, 5))
        code = f"out = T(a, {view!r}).split({s}, {d})"
        bounds = list(range(0, size, s))[1:] if size else []
    elif op == "split_list":
        parts = []
        left = size
        while left > 0:
            p = data.draw(st.integers(0, left))
            parts.append(p)
            left -= p
        if not parts:
            parts = [0]
        code = f"out = T(a, {view!r}).split({parts!r}, {d})"
        bounds = list(np.cumsum(parts)[:-1])
    else:
        c = data.draw(st.integers(1, 5))
        code = f"out = T(a, {view!r}).chunk({c}, {d})"
        cs = -(-size // c) if size else 0
        bounds = list(range(0, size, cs))[1:] if cs else []
    exp = np.split(a, bounds, axis=d) if size or op == "split_list" else [a]
    if op == "chunk" and not size:
        exp = [a] * c  # PyTorch gives `chunks` empty pieces of an empty dim
    case, res = run(code, {"a": a}, dev)
    check_result(case, res, [e.astype(dtype) for e in exp])


@st.composite
def index_tuples(draw, shape, allow_adv=True, unique=False):
    """A random PyTorch/numpy index: ints, slices with steps, None, Ellipsis, and at most one int/bool tensor."""
    items, np_items, inputs = [], [], {}
    dim = 0
    nd = len(shape)
    used_ellipsis = False
    used_adv = False
    n = draw(st.integers(0, nd + 2))
    for _ in range(n):
        kinds = (
            ["int", "slice", "none"]
            + (["ellipsis"] if not used_ellipsis else [])
            + (["itensor", "btensor"] if allow_adv and not used_adv else [])
        )
        kind = draw(st.sampled_from(kinds))
        if kind in ("int", "slice", "itensor", "btensor") and dim >= nd:
            kind = "none"
        if kind == "int":
            s = shape[dim]
            if s == 0:
                kind = "slice"
            else:
                i = draw(st.integers(-s, s - 1))
                items.append(repr(i))
                np_items.append(i)
                dim += 1
                continue
        if kind == "slice":
            s = shape[dim]
            start = draw(st.none() | st.integers(-s - 2, s + 2))
            stop = draw(st.none() | st.integers(-s - 2, s + 2))
            step = draw(st.none() | st.integers(1, 3))
            txt = (
                ("" if start is None else str(start))
                + ":"
                + ("" if stop is None else str(stop))
                + ("" if step is None else f":{step}")
            )
            items.append(txt)
            np_items.append(slice(start, stop, step))
            dim += 1
        elif kind == "none":
            items.append("None")
            np_items.append(None)
        elif kind == "ellipsis":
            used_ellipsis = True
            items.append("...")
            np_items.append(Ellipsis)
            # the ellipsis swallows whatever dims the remaining items do not use: count them later
            rest = draw(st.integers(0, nd - dim))
            dim = nd - rest
        elif kind == "itensor":
            used_adv = True
            s = shape[dim]
            if s == 0:
                idx = np.zeros((0,), np.int64)
            elif unique:
                idx = np.array(draw(st.lists(st.integers(0, s - 1), unique=True, max_size=s)), np.int64)
                idx = (
                    np.where([draw(st.booleans()) for _ in idx], idx - s, idx).astype(np.int64)
                    if idx.size
                    else idx
                )
            else:
                idx = draw(iarrays(draw(shapes(min_dims=1, max_dims=2, max_side=3, min_side=0)), -s, s - 1))
            name = f"i{len(inputs)}"
            inputs[name] = idx
            items.append(f"T({name})")
            np_items.append(idx)
            dim += 1
        else:
            used_adv = True
            k = draw(st.integers(1, max(1, min(2, nd - dim))))
            m = draw(iarrays(tuple(shape[dim : dim + k]), 0, 1)).astype(bool)
            name = f"m{len(inputs)}"
            inputs[name] = m
            items.append(f"T({name})")
            np_items.append(m)
            dim += k
    return items, tuple(np_items), inputs


def _torch_split_index(a, np_idx):
    """PyTorch applies integer indices as plain selects before the (single) tensor index, so an int never
    counts as an advanced index: x[None, mask, None, 0] keeps the mask's dim in place (numpy would treat
    the int as advanced too and move the result dims to the front). Returns (a basic view of `a` with the
    ints applied, the rest of the index without ints) so that view[rest] follows PyTorch's layout."""
    if np_idx is Ellipsis:
        return a, Ellipsis
    first, rest = [], []
    for it in np_idx:
        if isinstance(it, (int, np.integer)) and not isinstance(it, bool):
            first.append(it)
        elif it is None:
            rest.append(it)
        elif it is Ellipsis:
            first.append(it)
            rest.append(it)
        else:
            k = it.ndim if isinstance(it, np.ndarray) and it.dtype == bool else 1
            first.extend([slice(None)] * k)
            rest.append(it)
    if Ellipsis not in first:
        first.append(Ellipsis)  # with an Ellipsis numpy returns a (0-d) view, never a scalar copy
    return a[tuple(first)], tuple(rest)


@pytest.mark.parametrize("dev,dtype", SHAPE_CONFIGS, ids=SHAPE_IDS)
@given(data=st.data())
def test_getitem(dev, dtype, data):
    need(dev)
    a = _arr(data, dtype, data.draw(shapes(max_dims=4, max_side=4)), dev)
    items, np_idx, inputs = data.draw(index_tuples(a.shape))
    view = data.draw(views(a.ndim))
    idx_txt = ", ".join(items) + ("," if len(items) == 1 else "")
    if not items:
        idx_txt = "..."
        np_idx = Ellipsis
    code = f"out = T(a, {view!r})[{idx_txt}]"
    try:
        base, rest = _torch_split_index(a, np_idx)
        exp = base[rest]
    except IndexError:
        assume(False)
    case, res = run(code, {"a": a, **inputs}, dev)
    check_result(case, res, np.array(exp, dtype=a.dtype))


@pytest.mark.parametrize("dev,dtype", SHAPE_CONFIGS, ids=SHAPE_IDS)
@given(data=st.data())
def test_setitem(dev, dtype, data):
    need(dev)
    a = _arr(data, dtype, data.draw(shapes(max_dims=4, max_side=4)), dev)
    items, np_idx, inputs = data.draw(index_tuples(a.shape, unique=True))
    if not items:
        items, np_idx = ["..."], Ellipsis
    try:
        base, rest = _torch_split_index(a, np_idx)
        tgt_shape = base[rest].shape
    except IndexError:
        assume(False)
    idx_txt = ", ".join(items) + ("," if len(items) == 1 else "")
    if data.draw(st.booleans()):
        v = 7 if dtype == "int64" else 2.5
        rhs, vref = repr(v), v
    else:
        vs = tuple(1 if data.draw(st.booleans()) else s for s in tgt_shape)
        vs = vs[data.draw(st.integers(0, len(vs))) :]
        vref = _arr(data, dtype, vs, dev)
        inputs["v"] = vref
        rhs = "T(v)"
    view = data.draw(views(a.ndim))
    code = f"x = T(a, {view!r})\nx[{idx_txt}] = {rhs}\nout = x"
    exp = a.copy()
    base, rest = _torch_split_index(exp, np_idx)  # base: a view into exp
    base[rest] = vref
    case, res = run(code, {"a": a, **inputs}, dev)
    check_result(case, res, exp)


@pytest.mark.parametrize("dev,dtype", SHAPE_CONFIGS, ids=SHAPE_IDS)
@pytest.mark.parametrize("op", ["gather", "scatter_add", "index_select", "masked_fill"])
@given(data=st.data())
def test_gather_scatter(op, dev, dtype, data):
    need(dev)
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=4))
    a = _arr(data, dtype, shape, dev)
    nd = a.ndim
    d = data.draw(st.integers(-nd, nd - 1))
    D = d % nd
    view = data.draw(views(nd))
    if op in ("gather", "scatter_add"):
        assume(a.shape[D] > 0)
        ishape = tuple(
            data.draw(st.integers(0, 4)) if i == D else data.draw(st.integers(0, a.shape[i]))
            for i in range(nd)
        )
        idx = data.draw(iarrays(ishape, 0, a.shape[D] - 1))
        if op == "gather":
            sub = a[tuple(slice(None) if i == D else slice(0, ishape[i]) for i in range(nd))]
            exp = np.take_along_axis(sub, idx, axis=D)
            code = f"out = T(a, {view!r}).gather({d}, T(idx))"
            inputs = {"a": a, "idx": idx}
        else:
            src = _arr(data, dtype, tuple(s + data.draw(st.integers(0, 1)) for s in ishape), dev)
            exp = a.astype(np.float64).copy()
            for pos in np.ndindex(*ishape):
                tgt = list(pos)
                tgt[D] = idx[pos]
                exp[tuple(tgt)] += src[pos]
            exp = exp.astype(dtype)
            code = f"out = T(a, {view!r}).scatter_add({d}, T(idx), T(src))"
            inputs = {"a": a, "idx": idx, "src": src}
    elif op == "index_select":
        assume(a.shape[D] > 0 or True)
        n = data.draw(st.integers(0, 5))
        idx = data.draw(iarrays((n,), 0, a.shape[D] - 1)) if a.shape[D] else np.zeros((0,), np.int64)
        exp = np.take(a, idx, axis=D)
        code = f"out = T(a, {view!r}).index_select({d}, T(idx))"
        inputs = {"a": a, "idx": idx}
    else:
        mshape = tuple(1 if data.draw(st.booleans()) else s for s in shape)[data.draw(st.integers(0, nd)) :]
        m = data.draw(iarrays(mshape, 0, 1)).astype(bool)
        v = 3 if dtype == "int64" else data.draw(st.sampled_from([1.5, -0.0, float("inf"), float("nan")]))
        exp = np.where(m, np.array(v, dtype=dtype), a).astype(dtype)
        vtxt = repr(v).replace("nan", "float('nan')").replace("inf", "float('inf')")
        code = f"out = T(a, {view!r}).masked_fill(T(m), {vtxt})"
        inputs = {"a": a, "m": m}
    case, res = run(code, inputs, dev)
    check_result(case, res, exp, *tols(dev, dtype, 10.0) if dtype != "int64" else (0, 0))


def _inplace_shape_step(a, op, args):
    """The numpy mirror of one in-place shape op: (new array, whether PyTorch refuses it)."""
    nd = a.ndim
    if op == "unsqueeze_":
        (d,) = args
        return (a, True) if not -nd - 1 <= d <= nd else (np.expand_dims(a, d), False)
    lo, hi = (-1, 0) if nd == 0 else (-nd, nd - 1)  # a 0-d tensor takes dims -1 and 0
    if op == "squeeze_":
        if not args:
            return np.squeeze(a), False
        (d,) = args
        if not lo <= d <= hi:
            return a, True
        return (np.squeeze(a, d) if nd and a.shape[d] == 1 else a), False
    if op == "t_":
        return (a, True) if nd > 2 else (a.T, False)
    d0, d1 = args  # transpose_ / swapdims_ / swapaxes_
    if not (lo <= d0 <= hi and lo <= d1 <= hi):
        return a, True
    return (np.swapaxes(a, d0, d1) if nd else a), False


@pytest.mark.parametrize("dev,dtype", CONFIGS, ids=CONFIG_IDS)
@given(data=st.data())
def test_inplace_shape_sequence(dev, dtype, data):
    """A chain of in-place shape ops on one tensor object (a leaf, a non-leaf or a view): each
    result against numpy; a refused op raises a typed error and leaves the tensor as it
    was (ValueError is rustdl's shape error); the object stays the same and a backward through the final shape reaches the leaf."""
    need(dev)
    a = data.draw(farrays(dtype, data.draw(shapes(max_dims=3, max_side=3)), specials=False, dev=dev))
    view = data.draw(views(a.ndim))
    kind = data.draw(st.sampled_from(["plain", "nonleaf", "nograd_leaf"]))
    steps, exp = [], []
    cur = a
    for _ in range(data.draw(st.integers(1, 4))):
        nd = cur.ndim
        op = data.draw(
            st.sampled_from(["unsqueeze_", "squeeze_", "t_", "transpose_", "swapdims_", "swapaxes_"])
        )
        if op == "unsqueeze_":
            args = (data.draw(st.integers(-nd - 3, nd + 2)),)
        elif op == "squeeze_":
            args = () if data.draw(st.booleans()) else (data.draw(st.integers(-nd - 2, nd + 1)),)
        elif op == "t_":
            args = ()
        else:
            args = (data.draw(st.integers(-nd - 2, nd + 1)), data.draw(st.integers(-nd - 2, nd + 1)))
        cur, refused = _inplace_shape_step(cur, op, args)
        steps.append((op, args))
        exp += [cur.copy(), np.array(refused)]
    code = [f"x0 = T(a, {view!r}, rg={kind != 'plain'})"]
    code.append({"plain": "x = x0", "nonleaf": "x = x0 * 1.0", "nograd_leaf": "x = x0"}[kind])
    code.append("obj, outs = x, []")
    for op, args in steps:
        call = f"x.{op}({', '.join(map(str, args))})"
        if kind == "nograd_leaf":
            call = f"with rd.no_grad():\n        {call}"
        code.append(
            f"try:\n    {call}\n    outs += [x.detach().clone(), rd.tensor(False, device=dev)]\n"
            f"except (IndexError, RuntimeError, ValueError):\n    outs += [x.detach().clone(), rd.tensor(True, device=dev)]"
        )
    code.append("assert x is obj")
    if kind != "plain":
        # the gradient of sum(x * w) reaches the leaf through the chain, in the leaf's shape
        code.append("w = rd.ones_like(x).detach() * 2.0\n(x * w).sum().backward()\nouts.append(x0.grad)")
        # a leaf changed in place under no_grad is the final tensor itself
        exp.append(np.full(cur.shape if kind == "nograd_leaf" else a.shape, 2.0, a.dtype))
    code.append("out = outs")
    case, res = run("\n".join(code), {"a": a}, dev)
    check_result(case, res, exp, *tols(dev, dtype))
