"""PyTorch-compatibility gaps (round J), found by running unchanged PyTorch-style programs:
which element a tie in a max-type pooling sends its gradient to, the gradient of a
full-reduction median, ``Subset.indices`` / ``random_split`` / ``ConcatDataset.cumulative_sizes``
as plain Python values.

Expected values come from numpy, closed-form math or hand computation, never from rustdl.
"""

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from rustdl import nn
from rustdl.data import ConcatDataset, Subset, TensorDataset, random_split


def t(a, **kw):
    a = np.asarray(a)
    return rustdl.tensor(a.astype(np.float32) if a.dtype == np.float64 else a, **kw)


def grad_of(fn, x, device):
    """The gradient of ``fn(x).sum()`` with respect to ``x`` (a numpy array), as numpy."""
    xt = t(x, device=device).requires_grad_()
    fn(xt).sum().backward()
    return xt.grad.cpu().numpy()


def first_max_pool_grad(x, windows):
    """Reference: each window sends a gradient of 1 to its first maximum (flat C order), summed."""
    g = np.zeros_like(x, dtype=np.float64)
    for win in windows:
        vals = x[win]
        k = np.unravel_index(int(np.argmax(vals)), vals.shape)
        idx = tuple(np.arange(x.shape[d])[sl][k[d]] for d, sl in enumerate(win))
        g[idx] += 1.0
    return g


# ---------------------------------------------------------------- 1. ties in max pooling


def test_adaptive_max_pool2d_tie_goes_to_the_first_element_of_each_window(device):
    # 3 -> 2 windows overlap ([0, 2) and [1, 3)); every element ties
    x = np.ones((1, 1, 3, 3), np.float32)
    g = grad_of(lambda v: F.adaptive_max_pool2d(v, 2), x, device)
    np.testing.assert_array_equal(g.reshape(3, 3), [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    # a tie between (row 0, col 1) and (row 1, col 0): row-major order picks (0, 1)
    x = np.array([[0.0, 5.0, 0.0], [5.0, 0.0, 0.0], [0.0, 0.0, 0.0]], np.float32)[None, None]
    g = grad_of(lambda v: F.adaptive_max_pool2d(v, (2, 2)), x, device)
    rows = [slice(0, 2), slice(1, 3)]
    wins = [(slice(None), slice(None), r, c) for r in rows for c in rows]
    np.testing.assert_array_equal(g, first_max_pool_grad(x, wins))


def test_adaptive_max_pool_ties_on_random_small_integers(device):
    rng = np.random.RandomState(0)
    x = rng.randint(0, 3, size=(2, 3, 7, 5)).astype(np.float32)  # many ties
    oh, ow = 3, 4
    rows = [slice((i * 7) // oh, -(-((i + 1) * 7) // oh)) for i in range(oh)]
    cols = [slice((j * 5) // ow, -(-((j + 1) * 5) // ow)) for j in range(ow)]
    wins = [(n, c, r, q) for n in range(2) for c in range(3) for r in rows for q in cols]
    ref_out = np.array([x[w].max() for w in wins]).reshape(2, 3, oh, ow)
    xt = t(x, device=device)
    np.testing.assert_array_equal(F.adaptive_max_pool2d(xt, (oh, ow)).cpu().numpy(), ref_out)
    # the (n, c) ints select a plane; the reference works on the slices that remain
    g = np.zeros_like(x, dtype=np.float64)
    for n, c, r, q in wins:
        g[n, c] += first_max_pool_grad(x[n, c], [(r, q)])
    np.testing.assert_array_equal(grad_of(lambda v: F.adaptive_max_pool2d(v, (oh, ow)), x, device), g)
    # 1-D: 5 -> 2 windows [0, 3) and [2, 5)
    x1 = np.array([[[1.0, 1.0, 1.0, 2.0, 2.0]]], np.float32)
    np.testing.assert_array_equal(
        grad_of(lambda v: F.adaptive_max_pool1d(v, 2), x1, device).ravel(), [1, 0, 0, 1, 0]
    )
    assert F.adaptive_max_pool2d(t([[[[1.0, np.nan], [0.0, 2.0]]]]), (1, 1)).isnan().all()


def test_max_pool3d_tie_across_depth_goes_to_the_first_depth(device):
    x = np.ones((1, 1, 2, 2, 2), np.float32)
    g = grad_of(lambda v: F.max_pool3d(v, 2), x, device)
    expected = np.zeros(8)
    expected[0] = 1.0
    np.testing.assert_array_equal(g.ravel(), expected)
    # overlapping depth windows (stride 1): the first window picks depth 0, the second depth 1
    x = np.ones((1, 1, 3, 2, 2), np.float32)
    g = grad_of(lambda v: nn.MaxPool3d(2, stride=1)(v), x, device)
    expected = np.zeros(12)
    expected[[0, 4]] = 1.0
    np.testing.assert_array_equal(g.ravel(), expected)
    # no tie: a plain max, NaN still wins
    rng = np.random.RandomState(1)
    x = rng.standard_normal((2, 2, 4, 4, 4)).astype(np.float32)
    ref = x.reshape(2, 2, 2, 2, 2, 2, 2, 2).max(axis=(3, 5, 7))
    np.testing.assert_allclose(F.max_pool3d(t(x, device=device), 2).cpu().numpy(), ref)
    x[0, 0, 0, 0, 1] = np.nan
    assert np.isnan(F.max_pool3d(t(x, device=device), 2).cpu().numpy()[0, 0, 0, 0, 0])


def test_embedding_bag_max_tie_goes_to_the_first_member(device):
    w = t([[1.0, 2.0], [1.0, 2.0], [0.0, 3.0]], device=device).requires_grad_()
    ids = rustdl.tensor(np.array([0, 1, 2]), device=device)
    out = F.embedding_bag(ids, w, rustdl.tensor(np.array([0]), device=device), mode="max")
    np.testing.assert_array_equal(out.detach().cpu().numpy(), [[1.0, 3.0]])
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.cpu().numpy(), [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])


# ---------------------------------------------------------------- 2. median over all elements


def test_median_without_dim_shares_its_gradient_among_ties(device):
    x = t([3.0, 1.0, 3.0, 5.0, 3.0], device=device).requires_grad_()
    m = rustdl.median(x)
    assert m.item() == 3.0
    m.backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [1 / 3, 0, 1 / 3, 0, 1 / 3], rtol=1e-6)
    x = t([[3.0, 1.0], [3.0, 5.0]], device=device).requires_grad_()
    x.median().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [[0.5, 0.0], [0.5, 0.0]])
    # NaN: the median is NaN and the NaN elements share the gradient
    x = t([3.0, np.nan, 3.0, np.nan], device=device).requires_grad_()
    m = x.median()
    assert np.isnan(m.item())
    m.backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [0.0, 0.5, 0.0, 0.5])
    # nanmedian skips NaN and shares among ties
    x = t([3.0, 1.0, 3.0, np.nan, 3.0], device=device).requires_grad_()
    m = rustdl.nanmedian(x)
    assert m.item() == 3.0
    m.backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [1 / 3, 0, 1 / 3, 0, 1 / 3], rtol=1e-6)


def test_median_without_dim_value_is_exact_and_differentiable_twice():
    vals = np.array([0.1, 0.7, 0.1, 0.1, 0.9], np.float64)
    x = rustdl.tensor(vals, requires_grad=True)
    m = x.median()
    assert m.item() == 0.1  # the element itself, not a sum of ties divided by their count
    (g,) = rustdl.autograd.grad(m * m, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [0.2 / 3, 0, 0.2 / 3, 0.2 / 3, 0], rtol=1e-12)
    assert rustdl.median(t([2.0, 1.0])).item() == 1.0  # no grad: the lower middle value


# ---------------------------------------------------------------- 3. datasets as plain Python values


def test_random_split_subsets_hold_lists_of_ints():
    ds = TensorDataset(rustdl.arange(10))
    a, b = random_split(ds, [7, 3], generator=rustdl.Generator().manual_seed(42))
    assert isinstance(a.indices, list) and all(type(i) is int for i in a.indices)
    both = a.indices + b.indices  # concatenates, as PyTorch's lists
    assert sorted(both) == list(range(10))
    assert [int(a[i][0]) for i in range(len(a))] == a.indices
    a, b, c = random_split(ds, [0.5, 0.3, 0.2])
    assert (len(a), len(b), len(c)) == (5, 3, 2)


def test_subset_keeps_the_indices_it_was_given():
    ds = TensorDataset(rustdl.arange(10) * 10)
    r = range(2, 6)
    s = Subset(ds, r)
    assert s.indices is r
    assert len(s) == 4 and int(s[1][0]) == 30
    s = Subset(ds, [1, 3])
    s.indices.append(5)  # grown in place: lookups and batches see it
    assert len(s) == 3 and int(s[2][0]) == 50
    np.testing.assert_array_equal(s.get_batch([0, 2])[0].numpy(), [10, 50])
    s.indices = [9]
    assert int(s[0][0]) == 90 and s.get_batch([0])[0].numpy().tolist() == [90]
    with pytest.raises(ValueError):
        Subset(ds, [[1, 2]])


def test_concat_dataset_cumulative_sizes_are_python_ints():
    ds = TensorDataset(rustdl.arange(10))
    cat = ConcatDataset([Subset(ds, [1, 3, 5]), ds])
    assert cat.cumulative_sizes == [3, 13]
    assert all(type(c) is int for c in cat.cumulative_sizes)
    assert repr(cat.cumulative_sizes) == "[3, 13]"
    assert len(cat) == 13 and int(cat[2][0]) == 5 and int(cat[3][0]) == 0


# ---------------------------------------------------------------- 4. sparse embeddings, SparseAdam


def test_embedding_sparse_is_accepted_and_gives_a_dense_row_gradient(device):
    w0 = np.arange(12, dtype=np.float32).reshape(6, 2) / 10
    emb = nn.Embedding(6, 2, sparse=True, _weight=t(w0)).to(device)
    assert emb.sparse and "sparse=True" in repr(emb)
    ids = rustdl.tensor(np.array([[1, 2, 1], [3, 1, 5]]), device=device)
    g = np.arange(12, dtype=np.float32).reshape(2, 3, 2) + 1
    emb(ids).backward(t(g, device=device))
    ref = np.zeros((6, 2), np.float32)
    np.add.at(ref, np.array([[1, 2, 1], [3, 1, 5]]), g)
    np.testing.assert_array_equal(emb.weight.grad.cpu().numpy(), ref)
    bag = nn.EmbeddingBag(6, 2, mode="sum", sparse=True, _weight=t(w0)).to(device)
    bag(ids).sum().backward()
    np.testing.assert_array_equal(bag.weight.grad.cpu().numpy()[:, 0], [0, 3, 1, 1, 0, 1])


def test_embedding_scale_grad_by_freq_divides_by_the_count_in_the_batch(device):
    w = t(np.zeros((6, 2)), device=device).requires_grad_()
    ids = np.array([[1, 2, 1], [3, 1, 0]])
    g = np.arange(12, dtype=np.float32).reshape(2, 3, 2) + 1
    out = F.embedding(rustdl.tensor(ids, device=device), w, padding_idx=0, scale_grad_by_freq=True)
    out.backward(t(g, device=device))
    ref = np.zeros((6, 2))
    counts = np.bincount(ids.ravel(), minlength=6)
    for pos, i in np.ndenumerate(ids):
        if i != 0:  # the padding row gets no gradient
            ref[i] += g[pos] / counts[i]
    np.testing.assert_allclose(w.grad.cpu().numpy(), ref, rtol=1e-6)
    assert "scale_grad_by_freq=True" in repr(nn.Embedding(3, 2, scale_grad_by_freq=True))
    # no gradient wanted: nothing is hooked, the values are the rows
    with rustdl.no_grad():
        np.testing.assert_array_equal(
            F.embedding(rustdl.tensor(ids, device=device), w, scale_grad_by_freq=True).cpu().numpy(), 0.0
        )


def _sparse_adam_reference(p, grads, lr, b1, b2, eps):
    """Lazy Adam by hand: each step touches only the rows with a non-zero gradient."""
    p = p.astype(np.float64).copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    for step, g in enumerate(grads, start=1):
        rows = np.flatnonzero(np.abs(g).sum(1) != 0)
        m[rows] = b1 * m[rows] + (1 - b1) * g[rows]
        v[rows] = b2 * v[rows] + (1 - b2) * g[rows] ** 2
        size = lr * np.sqrt(1 - b2**step) / (1 - b1**step)
        p[rows] -= size * m[rows] / (np.sqrt(v[rows]) + eps)
    return p, m, v


def test_sparse_adam_moves_only_the_rows_with_a_gradient(device):
    rng = np.random.RandomState(0)
    p0 = rng.standard_normal((5, 3))
    grads = []
    for rows in ([0, 2], [2, 4], [1]):
        g = np.zeros((5, 3))
        g[rows] = rng.standard_normal((len(rows), 3))
        grads.append(g)
    p = rustdl.tensor(p0, dtype=rustdl.float64).to(device) if device == "cpu" else t(p0, device=device)
    p = nn.Parameter(p)
    opt = rustdl.optim.SparseAdam([p], lr=0.1, betas=(0.8, 0.9), eps=1e-6)
    for g in grads:
        p.grad = rustdl.tensor(g, dtype=p.dtype, device=device)
        opt.step()
    ref_p, ref_m, ref_v = _sparse_adam_reference(p0, grads, 0.1, 0.8, 0.9, 1e-6)
    tol = 1e-12 if device == "cpu" else 1e-5
    np.testing.assert_allclose(p.detach().cpu().numpy(), ref_p, rtol=tol, atol=tol)
    st = opt.state[p]
    assert st["step"] == 3
    np.testing.assert_allclose(st["exp_avg"].cpu().numpy(), ref_m, rtol=tol, atol=tol)
    np.testing.assert_allclose(st["exp_avg_sq"].cpu().numpy(), ref_v, rtol=tol, atol=tol)
    # row 3 never had a gradient: untouched bit for bit
    np.testing.assert_array_equal(p.detach().cpu().numpy()[3], p0[3].astype(p.detach().cpu().numpy().dtype))


def test_sparse_adam_maximize_state_dict_and_argument_checks():
    p = nn.Parameter(t([[1.0, 2.0], [3.0, 4.0]]))
    opt = rustdl.optim.SparseAdam([p], lr=0.5, maximize=True)
    p.grad = t([[1.0, -1.0], [0.0, 0.0]])
    opt.step()
    # first Adam step: m/(sqrt(v)+eps) = sign(g) (eps aside), size lr·√(1−β₂)/(1−β₁)·... = lr
    np.testing.assert_allclose(p.detach().numpy(), [[1.5, 1.5], [3.0, 4.0]], rtol=1e-6)
    sd = opt.state_dict()
    assert sorted(sd["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999) and sd["param_groups"][0]["maximize"]
    with pytest.raises(ValueError, match="learning rate"):
        rustdl.optim.SparseAdam([p], lr=0.0)
    with pytest.raises(ValueError, match="epsilon"):
        rustdl.optim.SparseAdam([p], eps=0.0)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        rustdl.optim.SparseAdam([p], betas=(0.9, 1.0))


# ---------------------------------------------------------------- 5. MultiStepLR milestones as a Counter


def _multistep(milestones, lr=0.1, gamma=0.3):
    p = nn.Parameter(t([1.0]))
    opt = rustdl.optim.SGD([p], lr=lr)
    return opt, rustdl.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma=gamma)


def test_multistep_milestones_are_a_counter_and_repeat_counts():
    import collections

    opt, sched = _multistep([4, 2, 4])
    assert isinstance(sched.milestones, collections.Counter)
    assert sched.milestones == {2: 1, 4: 2}
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # by hand: epochs 0-1 at 0.1, 2-3 at 0.1·0.3, from 4 on at 0.1·0.3·0.3·0.3
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.03, 0.03, 0.0027, 0.0027], rtol=1e-12)
    assert isinstance(sched.state_dict()["milestones"], collections.Counter)


def test_multistep_state_from_a_pytorch_checkpoint_resumes(tmp_path):
    import collections

    from test_torch_checkpoint import Global, write, zip_checkpoint

    # what PyTorch's MultiStepLR(opt, [2, 4], gamma=0.3).state_dict() holds after 3 epochs
    state = {
        "milestones": Global("collections", "Counter")({2: 1, 4: 1}),
        "gamma": 0.3,
        "base_lrs": [0.1],
        "last_epoch": 3,
        "_step_count": 4,
        "_get_lr_called_within_step": False,
        "_last_lr": [0.03],
        "_is_initial": False,
    }
    loaded = rustdl.load(write(tmp_path, zip_checkpoint({"sched": state})))["sched"]
    assert isinstance(loaded["milestones"], collections.Counter) and loaded["milestones"] == {2: 1, 4: 1}
    opt, sched = _multistep([100])
    opt.param_groups[0]["lr"] = 0.03
    sched.load_state_dict(loaded)
    assert sched.milestones == {2: 1, 4: 1} and sched.last_epoch == 3
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.009, rel=1e-12)
    # a rustdl checkpoint round-trips the Counter too, and a plain list is accepted
    rustdl.save(sched.state_dict(), tmp_path / "s.pt")
    opt2, sched2 = _multistep([100])
    sched2.load_state_dict(rustdl.load(tmp_path / "s.pt"))
    assert sched2.milestones == {2: 1, 4: 1} and sched2.get_last_lr() == sched.get_last_lr()
    sched2.load_state_dict({"milestones": [7, 7]})
    assert sched2.milestones == {7: 2}


def test_a_counter_in_a_checkpoint_rebuilds_only_a_dict_of_counts(tmp_path):
    import pickle

    from test_torch_checkpoint import Global, write, zip_checkpoint

    bad = {"m": Global("collections", "Counter")("abc", 1)}
    with pytest.raises(pickle.UnpicklingError):
        rustdl.load(write(tmp_path, zip_checkpoint(bad)))
    bad = {"m": Global("collections", "Counter")({1: "x"})}
    with pytest.raises(pickle.UnpicklingError):
        rustdl.load(write(tmp_path, zip_checkpoint(bad), name="b.pt"))
