"""Fixes found by the 2026-12-07 (fourth) rounds: torch.utils.data semantics, spiking-network,
adversarial, KAN/CDE and force-field libraries, classic training scripts."""

from __future__ import annotations

import warnings
from collections import defaultdict, deque
from collections.abc import Sequence

import numpy as np
import pytest
import rustdl
from conftest import compat_report, run_compat
from rustdl.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
)
from rustdl.data import dataloader as dataloader_module


def _batches(loader):
    return [[t.tolist() for t in b] if isinstance(b, list) else b for b in loader]


class _Doubling(TensorDataset):
    """A subclass that keeps a ``transform`` attribute of its own and applies it itself."""

    def __init__(self, x, transform=None):
        super().__init__(x)
        self.transform = transform

    def __getitem__(self, i):
        (x,) = super().__getitem__(i)
        return (self.transform(x) if self.transform else x,)


def test_a_subclass_transform_attribute_is_applied_once():
    ds = _Doubling(rustdl.zeros(4), transform=lambda x: x + 1)
    assert ds[0][0].item() == 1.0
    assert _batches(DataLoader(ds, batch_size=2)) == [[[1.0, 1.0]], [[1.0, 1.0]]]


def test_a_subclass_attribute_set_before_init_is_kept_and_not_called():
    class Named(TensorDataset):
        def __init__(self, x):
            self.target_transform = "labels"  # not callable: only the subclass reads it
            super().__init__(x, x)

    ds = Named(rustdl.arange(3))
    assert ds.target_transform == "labels"
    assert [v.item() for v in ds[2]] == [2, 2]


def test_rustdl_transforms_still_apply_to_samples_and_batches():
    ds = TensorDataset(rustdl.arange(4.0), rustdl.arange(4), transform=lambda x: x * 10)
    assert ds[1][0].item() == 10.0
    assert _batches(DataLoader(ds, batch_size=4)) == [[[0.0, 10.0, 20.0, 30.0], [0, 1, 2, 3]]]
    ds.target_transform = lambda y: y + 1  # set later on rustdl's own class: applied
    assert ds.get_batch([3])[1].tolist() == [4]


def test_a_subclass_reading_samples_its_own_way_is_loaded_through_it():
    calls = []

    class Neg(TensorDataset):
        def __getitem__(self, i):
            calls.append(i)
            return (-self.tensors[0][i],)

    ds = Neg(rustdl.arange(1, 5))
    assert _batches(DataLoader(ds, batch_size=2)) == [[[-1, -2]], [[-3, -4]]]
    assert len(calls) == 4
    assert _batches(DataLoader(Subset(ds, [0, 2]), batch_size=2)) == [[[-1, -3]]]


def test_a_subclass_getitems_is_used():
    class Batched(TensorDataset):
        def __getitems__(self, idx):
            return [(rustdl.tensor(-1),) for _ in idx]

    assert _batches(DataLoader(Batched(rustdl.arange(2)), batch_size=2)) == [[[-1, -1]]]


def test_a_subset_subclass_overriding_getitem_is_loaded_through_it():
    class Plus(Subset):
        def __getitem__(self, i):
            return super().__getitem__(i) + 100

    ds = Plus(list(range(10)), [3, 5])
    assert [b.tolist() for b in DataLoader(ds, batch_size=2)] == [[103, 105]]


def test_a_dataset_method_named_get_batch_is_not_a_batching_protocol():
    class D(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return i

        def get_batch(self, n):
            return "mine"

    assert [b.tolist() for b in DataLoader(D(), batch_size=2)] == [[0, 1]]


def test_loader_private_api_libraries_read():
    class Custom(DataLoader):
        def _get_iterator(self):
            return iter(["custom"])

    assert list(Custom(range(2))) == ["custom"]

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(5))

    loader = DataLoader(Stream(), batch_size=2)
    assert loader._dataset_kind == dataloader_module._DatasetKind.Iterable
    assert isinstance(loader.sampler, dataloader_module._InfiniteConstantSampler)
    assert loader._index_sampler is loader.batch_sampler
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4]]
    loader = DataLoader(Stream(), batch_size=2, drop_last=True)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3]]
    assert list(DataLoader(Stream(), batch_size=None)) == [0, 1, 2, 3, 4]
    mapped = DataLoader(TensorDataset(rustdl.arange(5)), batch_size=None)
    assert mapped._dataset_kind == dataloader_module._DatasetKind.Map
    assert mapped._index_sampler is mapped.sampler and mapped._iterator is None
    assert dataloader_module._utils.collate.default_collate is default_collate
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DataLoader(range(3), num_workers=10_000)
    assert any("worker" in str(w.message) for w in caught)


def test_default_convert_keeps_the_container_types():
    out = default_convert(deque([np.zeros(1)]))
    assert isinstance(out, deque) and isinstance(out[0], rustdl.Tensor)

    class Seq(Sequence):
        def __init__(self, d):
            self.d = list(d)

        def __getitem__(self, i):
            return self.d[i]

        def __len__(self):
            return len(self.d)

    out = default_convert(Seq([np.ones(2), 3]))
    assert isinstance(out, Seq) and isinstance(out[0], rustdl.Tensor) and out[1] == 3
    d = defaultdict(list)
    d["a"] = np.ones(2)
    out = default_convert(d)
    assert (
        isinstance(out, defaultdict) and out.default_factory is list and isinstance(out["a"], rustdl.Tensor)
    )
    assert default_convert(range(2)) == [0, 1]
    assert default_convert("abc") == "abc"


def test_numpy_strings_collate_as_they_are():
    out = default_collate([np.str_("a"), np.str_("b")])
    assert out == ["a", "b"] and all(type(v) is np.str_ for v in out)


def test_weighted_sampler_weights_are_a_float64_tensor_and_can_be_reassigned():
    s = WeightedRandomSampler([0.1, 0.9], 50, generator=0)
    assert isinstance(s.weights, rustdl.Tensor) and s.weights.dtype == rustdl.float64
    np.testing.assert_allclose(s.weights.numpy(), [0.1, 0.9])
    s.weights = rustdl.tensor([1.0, 0.0])
    assert set(s) == {0}


def test_data_errors_have_pytorch_types():
    with pytest.raises(TypeError):
        default_collate([rustdl.tensor(1), 2])
    with pytest.raises(IndexError):
        TensorDataset(rustdl.tensor(1.0))

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(3))

    with pytest.raises(NotImplementedError):
        Stream()[0]


def test_lbfgs_state_keeps_its_alphas_and_plateau_min_lr_stays_as_given():
    x = rustdl.tensor([1.5, -0.5], dtype=rustdl.float64, requires_grad=True)
    opt = rustdl.optim.LBFGS([x], history_size=3, max_iter=5)

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    state = opt.state_dict()["state"][0]
    assert len(state["al"]) == 3 and all(a is not None for a in state["al"])
    # the last two-loop's alphas: alpha_i = rho_i * s_i . q_i, q running from the newest pair down
    q = -state["prev_flat_grad"].numpy()
    for i in range(2, -1, -1):
        s, y, rho = state["old_stps"][i].numpy(), state["old_dirs"][i].numpy(), float(state["ro"][i])
        alpha = rho * float(s @ q)
        assert float(state["al"][i]) == pytest.approx(alpha, rel=1e-9)
        q = q - alpha * y
    sched = rustdl.optim.lr_scheduler.ReduceLROnPlateau(opt)
    assert sched.state_dict()["min_lrs"] == [0] and type(sched.state_dict()["default_min_lr"]) is int


# ---- autograd: outputs kept on ctx, product scatters, segment_reduce ---------------------------


class _ExpKeepsOutput(rustdl.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.y = y  # the output itself, not save_for_backward
        return y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.y


class _SinCosInTuple(rustdl.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        a, b = x.sin(), x.cos()
        ctx.outs = (a, b)
        return a, b

    @staticmethod
    def backward(ctx, ga, gb):
        a, b = ctx.outs
        return ga * b - gb * a


def test_an_output_kept_on_ctx_is_differentiated_through_twice():
    xs = np.array([0.5, 1.0])
    x = rustdl.tensor(xs, dtype=rustdl.float64, requires_grad=True)
    (g,) = rustdl.autograd.grad((_ExpKeepsOutput.apply(x) * x).sum(), x, create_graph=True)
    (h,) = rustdl.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), np.exp(xs) * (2 + xs), rtol=1e-12)  # d²(x eˣ)/dx²
    (g,) = rustdl.autograd.grad(_ExpKeepsOutput.apply(x).sum(), x, create_graph=True)
    assert g.requires_grad
    a, b = _SinCosInTuple.apply(x)
    (g,) = rustdl.autograd.grad((a * a + b).sum(), x, create_graph=True)
    (h,) = rustdl.autograd.grad(g.sum(), x)
    # f = sin² + cos: f' = sin 2x - sin x, f'' = 2 cos 2x - cos x
    np.testing.assert_allclose(g.detach().numpy(), np.sin(2 * xs) - np.sin(xs), rtol=1e-12)
    np.testing.assert_allclose(h.numpy(), 2 * np.cos(2 * xs) - np.cos(xs), rtol=1e-12)


def test_svd_second_derivatives_through_the_vectors():
    a_np = np.array([[2.0, 0.3, -0.5], [0.1, 1.2, 0.4], [-0.3, 0.2, 0.7]])
    u = np.cos(np.arange(9.0)).reshape(3, 3)
    A = rustdl.tensor(a_np, requires_grad=True)
    U, S, Vh = rustdl.linalg.svd(A)
    # ((U S) Vh)³ summed is A³ summed: its Hessian-vector product with u is 6·A·u
    (g,) = rustdl.autograd.grad(((U * S) @ Vh).pow(3).sum(), A, create_graph=True)
    (hvp,) = rustdl.autograd.grad((g * rustdl.tensor(u)).sum(), A)
    np.testing.assert_allclose(hvp.numpy(), 6 * a_np * u, rtol=1e-9, atol=1e-9)


def _fd_hessian_vector(f, x0, v, eps=1e-5):
    """Central differences of the gradient of ``f`` (numpy in, numpy gradient out) along ``v``."""
    return (f(x0 + eps * v) - f(x0 - eps * v)) / (2 * eps)


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_prod_second_derivatives_match_finite_differences(include_self):
    idx = rustdl.tensor([0, 0, 2, 3, 3, 3])
    x0 = np.sin(np.arange(1.0, 5.0)) + 1.2
    s0 = np.cos(np.arange(1.0, 7.0) * 0.7)
    s0[3] = 0.0  # one zero factor at position 3

    def grads(xs, ss, create_graph=False):
        x = rustdl.tensor(xs, dtype=rustdl.float64, requires_grad=True)
        s = rustdl.tensor(ss, dtype=rustdl.float64, requires_grad=True)
        y = rustdl.scatter_reduce(x, 0, idx, s, "prod", include_self=include_self)
        return x, s, rustdl.autograd.grad((y**2).sum() + y.sum(), (x, s), create_graph=create_graph)

    x, s, (gx, gs) = grads(x0, s0, create_graph=True)
    vx, vs = np.linspace(-1, 1, 4), np.linspace(0.5, -0.5, 6)
    hx, hs = rustdl.autograd.grad((gx * rustdl.tensor(vx)).sum() + (gs * rustdl.tensor(vs)).sum(), (x, s))

    def joint(z):
        _, _, (a, b) = grads(z[:4], z[4:])
        return np.concatenate([a.numpy(), b.numpy()])

    want = _fd_hessian_vector(joint, np.concatenate([x0, s0]), np.concatenate([vx, vs]))
    np.testing.assert_allclose(np.concatenate([hx.numpy(), hs.numpy()]), want, rtol=1e-6, atol=1e-7)


def test_index_reduce_prod_gradient_is_differentiable():
    x = rustdl.tensor([[1.5, 0.8], [1.2, 0.3], [0.7, 2.0]], dtype=rustdl.float64, requires_grad=True)
    s = rustdl.tensor([[0.6, -1.3], [0.4, 0.9]], dtype=rustdl.float64, requires_grad=True)
    y = x.index_reduce(0, rustdl.tensor([0, 0]), s, "prod")
    (g,) = rustdl.autograd.grad((y**2).sum(), x, create_graph=True)
    (h,) = rustdl.autograd.grad(g.sum(), s)
    # y[0] = x0·s0·s1 (rows), d(y0²)/dx0 = 2 x0 (s0 s1)², d/ds0 of that = 4 x0 s0 s1²
    x0, s0, s1 = x.detach().numpy()[0], s.detach().numpy()[0], s.detach().numpy()[1]
    np.testing.assert_allclose(h.numpy(), np.stack([4 * x0 * s0 * s1**2, 4 * x0 * s0**2 * s1]), rtol=1e-12)


def test_segment_reduce_public_with_per_row_lengths_and_initial_ties():
    d = rustdl.arange(12.0, dtype=rustdl.float64).reshape(2, 6)
    out = rustdl.segment_reduce(d, "sum", lengths=rustdl.tensor([[1, 5], [3, 3]]), axis=1)
    assert out.tolist() == [[0.0, 15.0], [21.0, 30.0]]
    out = rustdl.segment_reduce(d, "max", offsets=rustdl.tensor([[0, 1, 6], [0, 3, 6]]), axis=1)
    assert out.tolist() == [[0.0, 5.0], [8.0, 11.0]]
    x = rustdl.tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True)
    y = rustdl.segment_reduce(x, "max", lengths=rustdl.tensor([2, 0, 3]), initial=2.0)
    assert y.tolist() == [2.0, 2.0, 5.0]
    y.backward(rustdl.tensor([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 0.0, 3.0]  # the element tying with initial takes it all
    y = rustdl.segment_reduce(
        rustdl.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), "mean", lengths=rustdl.tensor([2, 0, 3]), initial=2.0
    )
    np.testing.assert_allclose(y.numpy(), [2.5, 2.0, 14 / 3])  # (initial + sum) / length
    with pytest.raises(RuntimeError, match="sum to"):
        rustdl.segment_reduce(x, "sum", lengths=rustdl.tensor([2, 2]))
    with pytest.raises(RuntimeError, match="sum to"):
        rustdl.segment_reduce(x, "sum", lengths=rustdl.tensor([], dtype=rustdl.int64))
    with pytest.raises(RuntimeError, match="axis"):
        rustdl.segment_reduce(rustdl.ones(2, 3), "sum", lengths=rustdl.tensor([3]), axis=1)


# ---- modules, sampling, operators -------------------------------------------------------------


def test_a_parameter_may_replace_a_property_whose_getter_fails():
    class M(rustdl.nn.Module):
        def __init__(self):
            super().__init__()
            self.beta = rustdl.nn.Parameter(rustdl.ones(1))  # the getter needs tau: no attribute yet
            self.tau = rustdl.full((1,), 2.0)

        @property
        def beta(self):
            return (self.tau - 1) / self.tau

    m = M()
    assert [n for n, _ in m.named_parameters()] == ["beta"]
    assert m.beta.tolist() == [0.5]  # the property still wins on reads, as in PyTorch


def test_registering_over_an_existing_attribute_is_refused_and_assignment_replaces():
    m = rustdl.nn.Module()
    m.x = 5
    with pytest.raises(KeyError, match="already exists"):
        m.register_parameter("x", rustdl.nn.Parameter(rustdl.ones(1)))
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("x", rustdl.ones(1))
    m.register_buffer("b", rustdl.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_parameter("b", rustdl.nn.Parameter(rustdl.ones(1)))
    m.x = rustdl.nn.Parameter(rustdl.ones(1))  # assignment clears the old attribute first
    m.b = rustdl.nn.Parameter(rustdl.ones(2))
    assert sorted(m._parameters) == ["b", "x"] and not m._buffers and "x" not in m.__dict__


def test_bernoulli_in_place_takes_a_tensor_of_probabilities():
    assert rustdl.empty(4).bernoulli_(rustdl.tensor([0.0, 1.0, 0.0, 1.0])).tolist() == [0.0, 1.0, 0.0, 1.0]
    out = rustdl.empty(2, 3).bernoulli_(rustdl.tensor([0.0, 1.0, 0.0]))
    assert out.tolist() == [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    out = rustdl.empty(3, dtype=rustdl.int64).bernoulli_(rustdl.tensor([0.0, 1.0, 1.0]))
    assert out.dtype == rustdl.int64 and out.tolist() == [0, 1, 1]
    rustdl.manual_seed(0)
    draws = rustdl.empty(40_000).bernoulli_(rustdl.full((40_000,), 0.3)).numpy()
    assert abs(draws.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 40_000)
    with pytest.raises(RuntimeError):
        rustdl.empty(2, 3).bernoulli_(rustdl.ones(2))


def test_operators_step_aside_for_operands_pytorch_does_not_take():
    import fractions

    class Other:
        def __radd__(self, o):
            return "radd"

        def __rmul__(self, o):
            return "rmul"

    y = rustdl.tensor(0.5)
    y += Other()
    assert y == "radd"
    y = rustdl.tensor(0.5)
    y *= Other()
    assert y == "rmul"
    t = rustdl.tensor(2.0)
    with pytest.raises(TypeError):
        t * fractions.Fraction(1, 2)  # (a Fraction has __float__, but is no operand)
    with pytest.raises(TypeError):
        t += fractions.Fraction(1, 2)
    assert (t == fractions.Fraction(2)) is False
    z = rustdl.tensor([1.0, 2.0])
    z += np.float64(1)
    z *= np.array([2.0, 3.0])
    z **= 2
    assert z.tolist() == [16.0, 81.0]


def test_torch_version_module_under_compat(tmp_path):
    proc = run_compat(
        tmp_path,
        """
        import json, torch, torch.torch_version
        from torch.torch_version import TorchVersion
        print(json.dumps([torch.__version__ >= TorchVersion("2.0.0"), TorchVersion("2.1.0") > "2.0"]))
        """,
    )
    assert compat_report(proc) == [True, True]


# ---- norms ----------------------------------------------------------------------------------


def _renorm_reference(x, p, dim, maxnorm):
    """numpy renorm: each slice along ``dim`` with p-norm above maxnorm scaled to maxnorm."""
    moved = np.moveaxis(x, dim, 0)
    flat = np.abs(moved.reshape(moved.shape[0], -1))
    norms = flat.max(1) if np.isinf(p) else (flat**p).sum(1) ** (1 / p)
    scale = np.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return np.moveaxis(moved * scale.reshape(-1, *([1] * (moved.ndim - 1))), 0, dim)


@pytest.mark.parametrize("p", [float("inf"), 0.5, 1.0, 2.0, 3.0])
def test_renorm_values_and_finite_gradients(p):
    x_np = np.array([[-1.0, 2.0, 0.5], [0.1, -0.2, 0.05], [0.0, 1.0, 2.0]])
    x = rustdl.tensor(x_np, requires_grad=True)
    y = rustdl.renorm(x, p, 0, 0.5)
    np.testing.assert_allclose(y.detach().numpy(), _renorm_reference(x_np, p, 0, 0.5), rtol=1e-12)
    w = np.arange(9.0).reshape(3, 3)
    (y * rustdl.tensor(w)).sum().backward()
    g = x.grad.numpy()
    assert np.isfinite(g).all()
    # central differences (away from the inf norm's kinks: every row's max is unique)
    eps = 1e-6
    for i, j in [(0, 0), (0, 1), (2, 0), (2, 2)]:
        d = np.zeros_like(x_np)
        d[i, j] = eps
        fd = ((_renorm_reference(x_np + d, p, 0, 0.5) - _renorm_reference(x_np - d, p, 0, 0.5)) * w).sum() / (
            2 * eps
        )
        if x_np[i, j] == 0 and p < 1:
            continue  # the p < 1 norm has no derivative at 0 (PyTorch's rule gives the scale alone)
        assert g[i, j] == pytest.approx(fd, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("order", [-1.0, -2.0, -0.5])
def test_negative_order_norms_of_slices_with_a_zero_have_zero_gradient(order):
    v = rustdl.tensor([[0.0, 1.0, 2.0], [3.0, 0.5, -4.0]], dtype=rustdl.float64, requires_grad=True)
    n = rustdl.linalg.vector_norm(v, ord=order, dim=1)
    a = np.abs(v.detach().numpy()[1])
    np.testing.assert_allclose(n.detach().numpy(), [0.0, (a**order).sum() ** (1 / order)], rtol=1e-12)
    n.sum().backward()
    assert v.grad.numpy()[0].tolist() == [0.0, 0.0, 0.0]
    # the other row: d/dx (Σ|x|^p)^(1/p) = |x|^(p-1) sign(x) (Σ|x|^p)^(1/p - 1)
    row = v.detach().numpy()[1]
    want = np.abs(row) ** (order - 1) * np.sign(row) * (a**order).sum() ** (1 / order - 1)
    np.testing.assert_allclose(v.grad.numpy()[1], want, rtol=1e-10)
    kept = rustdl.linalg.vector_norm(v.detach(), ord=order, dim=1, keepdim=True)
    assert tuple(kept.shape) == (2, 1)


@pytest.mark.parametrize("norm_type", [float("-inf"), float("inf"), 1.0, 2.0, -1.0])
def test_embedding_max_norm_uses_the_norm_type_given(norm_type):
    w_np = np.array([[0.0, 3.0, 4.0], [0.5, 0.5, 0.5], [1.0, 2.0, 2.0]])
    w = rustdl.tensor(w_np)
    out = rustdl.nn.functional.embedding(rustdl.tensor([0, 1, 2]), w, max_norm=1.0, norm_type=norm_type)
    a = np.abs(w_np)
    if np.isinf(norm_type):
        norms = a.max(1) if norm_type > 0 else a.min(1)
    elif norm_type < 0:
        norms = np.where(
            (a == 0).any(1), 0.0, (np.where(a == 0, 1, a) ** norm_type).sum(1) ** (1 / norm_type)
        )
    else:
        norms = (a**norm_type).sum(1) ** (1 / norm_type)
    want = w_np * np.where(norms > 1.0, 1.0 / (norms + 1e-7), 1.0)[:, None]
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12)


def test_xlogy_gradients_are_log_y_and_x_over_y():
    pairs = [(0.0, 2.0), (0.0, 0.0), (0.0, -1.0), (1.0, 0.0), (2.0, 3.0)]
    x = rustdl.tensor([p[0] for p in pairs], dtype=rustdl.float64, requires_grad=True)
    y = rustdl.tensor([p[1] for p in pairs], dtype=rustdl.float64, requires_grad=True)
    out = rustdl.xlogy(x, y)
    np.testing.assert_array_equal(out.detach().numpy(), [0.0, 0.0, 0.0, -np.inf, 2 * np.log(3)])
    assert not np.signbit(out.detach().numpy()[0])  # +0 where x is 0
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [np.log(2), 0.0, 0.0, -np.inf, np.log(3)])
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(y.grad.numpy(), np.array([0.0, np.nan, -0.0, np.inf, 2 / 3]))
    # second derivatives: d²/dy² = -x / y², d²/dxdy = 1 / y
    x = rustdl.tensor([1.0, 2.0], dtype=rustdl.float64, requires_grad=True)
    y = rustdl.tensor([0.5, 4.0], dtype=rustdl.float64, requires_grad=True)
    gx, gy = rustdl.autograd.grad(rustdl.xlogy(x, y).sum(), (x, y), create_graph=True)
    hx, hy = rustdl.autograd.grad(gy.sum(), (x, y))
    np.testing.assert_allclose(hx.numpy(), [2.0, 0.25])
    np.testing.assert_allclose(hy.numpy(), [-4.0, -0.125])


# indices PyTorch 2.15's CPU kthvalue gives among ties (recorded from it: its quickselect's
# choice, neither the first nor the last occurrence in general)
_KTH_RECORDED = [
    ([3.0, 1.0, 1.0, 2.0], [2, 1, 3, 0]),
    ([1.0, 1.0, 1.0], [1, 0, 2]),
    ([2.0, 2.0, 1.0, 2.0, 2.0], [2, 3, 0, 1, 4]),
    ([5.0, 4.0, 4.0, 4.0, 3.0, 4.0], [4, 2, 5, 3, 1, 0]),
    ([1.0, 2.0, 1.0, 2.0, 1.0, 2.0], [4, 2, 0, 1, 3, 5]),
]


@pytest.mark.parametrize("row,want", _KTH_RECORDED)
def test_kthvalue_picks_pytorchs_index_among_ties(row, want):
    t = rustdl.tensor(row)
    for k, index in enumerate(want, start=1):
        r = t.kthvalue(k)
        assert r.values.item() == sorted(row)[k - 1] and r.indices.item() == index


def test_kthvalue_ties_along_a_dim_with_nan_and_keepdim():
    nan = float("nan")
    t = rustdl.tensor([[1.0, nan, 1.0, 0.0, nan], [2.0, 2.0, 2.0, 1.0, 1.0], [0.0, 1.0, 2.0, 3.0, 4.0]])
    got = [t.kthvalue(k, 1).indices.tolist() for k in range(1, 6)]
    assert got == [[3, 3, 0], [2, 4, 1], [0, 0, 2], [1, 1, 3], [4, 2, 4]]
    assert t.T.kthvalue(4, 0, keepdim=True).indices.tolist() == [[1, 1, 3]]
    assert rustdl.tensor([[4, 4, 1], [4, 1, 1]]).kthvalue(2).indices.tolist() == [0, 2]
    # the gradient goes to the element picked
    x = rustdl.tensor([3.0, 1.0, 1.0, 2.0], requires_grad=True)
    x.kthvalue(2).values.backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 0.0]


def test_in_place_operators_on_parameters_and_subclasses_step_aside_or_raise():
    class R:
        def __radd__(self, o):
            return "radd"

        def __rfloordiv__(self, o):
            return "rfloordiv"

        def __gt__(self, o):
            return "gt"

        def __rmatmul__(self, o):
            return "rmatmul"

    for bad in ([1.0, 2.0], None, "abc"):
        p = rustdl.nn.Parameter(rustdl.tensor([1.0, 2.0]))
        with pytest.raises(TypeError):
            p += bad  # (was NotImplemented, silently bound to p)
    x = rustdl.tensor([1, 2])
    x //= R()
    assert x == "rfloordiv"

    class Sub(rustdl.Tensor):
        pass

    s = rustdl.tensor([1, 2]).as_subclass(Sub)
    assert (s + R(), s < R(), s @ R()) == ("radd", "gt", "rmatmul")
    m = rustdl.tensor([3, 4])
    m //= 2
    m %= 2
    m |= 2
    m <<= 1
    assert m.tolist() == [6, 4]


def test_python_ints_past_int64_wrap_or_overflow_as_pytorchs():
    assert (rustdl.tensor([1, 2, 3]) * 2**63).tolist() == [-(2**63), 0, -(2**63)]
    assert (rustdl.tensor([1.0]) + 2**63).item() == float(2**63)
    with pytest.raises(OverflowError):
        rustdl.tensor([1, 2]) + 2**64
    with pytest.raises(OverflowError):
        rustdl.tensor([1.0]) - (-(2**64))


# ---- optimizers and module state (pytorch_optimizer, module fuzz rounds) ----------------------


def test_optimizer_state_keeps_non_parameter_entries_through_save_and_load():
    class Counting(rustdl.optim.Optimizer):
        """A third-party style optimizer keeping a global step under a non-parameter key."""

        def __init__(self, params, lr=0.1):
            super().__init__(params, {"lr": lr})

        def step(self, closure=None):
            k = self.state.setdefault("k", 0)
            for g in self.param_groups:
                for p in g["params"]:
                    p.data.add_(p.grad, alpha=-g["lr"] / (k + 1))
                    self.state[p]  # an empty entry, as some optimizers leave
            self.state["k"] = k + 1

    p = rustdl.nn.Parameter(rustdl.ones(2))
    opt = Counting([p])
    for _ in range(2):
        p.grad = rustdl.ones(2)
        opt.step()
    sd = opt.state_dict()
    assert sd["state"] == {"k": 2, 0: {}}
    q = rustdl.nn.Parameter(p.detach().clone())
    resumed = Counting([q])
    resumed.load_state_dict(sd)
    p.grad = q.grad = rustdl.ones(2)
    opt.step()
    resumed.step()
    np.testing.assert_array_equal(q.detach().numpy(), p.detach().numpy())  # 1 - 0.1(1 + 1/2 + 1/3)
    np.testing.assert_allclose(p.detach().numpy(), 1 - 0.1 * (1 + 1 / 2 + 1 / 3))


class _SetstateSGD(rustdl.optim.SGD):
    def __setstate__(self, state):
        super().__setstate__(state)
        for g in self.param_groups:
            g.setdefault("amsgrad", False)


def test_optimizer_wrappers_and_setstate_as_third_party_code_uses_them():
    import copy
    import pickle
    from collections import OrderedDict

    class Wrapper(rustdl.optim.Optimizer):
        def __init__(self, opt):  # no Optimizer.__init__, as Lookahead-style wrappers
            self.optimizer = opt
            self._optimizer_step_pre_hooks = OrderedDict()
            self._optimizer_step_post_hooks = OrderedDict()
            self._patch_step_function()

        @property
        def param_groups(self):
            return self.optimizer.param_groups

        def step(self, closure=None):
            return self.optimizer.step(closure)

    p = rustdl.nn.Parameter(rustdl.ones(2))
    w = Wrapper(rustdl.optim.SGD([p], lr=0.1))
    seen = []
    w.register_step_post_hook(lambda *a: seen.append(1))
    p.grad = rustdl.ones(2)
    w.step()
    assert p.detach().tolist() == pytest.approx([0.9, 0.9]) and seen == [1]

    o = _SetstateSGD([p], lr=0.1, momentum=0.9)
    o.step()
    assert copy.deepcopy(o).param_groups[0]["amsgrad"] is False
    again = pickle.loads(pickle.dumps(o))
    assert sorted(again.state_dict()["state"][0]) == ["momentum_buffer"]


def test_cosine_embedding_loss_broadcasts_a_one_element_target():
    a = np.sin(np.arange(24.0)).reshape(6, 4)
    b = np.cos(np.arange(24.0)).reshape(6, 4)
    out = rustdl.nn.functional.cosine_embedding_loss(
        rustdl.tensor(a), rustdl.tensor(b), rustdl.tensor([1]), reduction="none"
    )
    cos = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))
    np.testing.assert_allclose(out.numpy(), 1 - cos, rtol=1e-6)


def test_modules_in_parameter_containers_are_registered():
    pl = rustdl.nn.ParameterList([rustdl.nn.Linear(1, 1), rustdl.nn.Parameter(rustdl.ones(2))])
    assert len(list(pl.parameters())) == 3
    assert sorted(pl.state_dict()) == ["0.bias", "0.weight", "1"]
    pd = rustdl.nn.ParameterDict({"m": rustdl.nn.Linear(1, 1), "p": rustdl.nn.Parameter(rustdl.ones(1))})
    assert sorted(pd.state_dict()) == ["m.bias", "m.weight", "p"]
    del pd["m"]
    assert list(pd.state_dict()) == ["p"] and list(pd.keys()) == ["p"]
    pd["x"] = 5
    pd["x"] = rustdl.nn.Parameter(rustdl.ones(2))  # a plain entry replaced by a parameter
    assert sorted(pd.state_dict()) == ["p", "x"]


def test_load_state_dict_assign_keeps_frozen_layers_frozen_and_reports_every_unexpected_key():
    frozen = rustdl.nn.Linear(1, 1)
    frozen.requires_grad_(False)
    frozen.load_state_dict(rustdl.nn.Linear(1, 1).state_dict(keep_vars=True), assign=True)
    assert not frozen.weight.requires_grad and not frozen.bias.requires_grad
    m = rustdl.nn.Sequential(rustdl.nn.Linear(1, 1))
    for extra in ("0", "0.weight.foo", "_extra_state", "0._extra_state"):
        got = m.load_state_dict({**m.state_dict(), extra: rustdl.ones(1)}, strict=False)
        assert got.unexpected_keys == [extra]
        with pytest.raises(RuntimeError, match="Unexpected key"):
            m.load_state_dict({**m.state_dict(), extra: rustdl.ones(1)})


def test_module_traversal_hooks_and_container_details():
    nn = rustdl.nn
    s = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    assert [n for n, _ in s.named_modules(memo={s[0]})] == ["", "1"]  # a memo of modules to skip
    assert "0" not in dir(s) and "forward" in dir(s)
    assert nn.Module.dump_patches is False and nn.Module.call_super_init is False
    with pytest.raises(KeyError):
        s.register_parameter("T_destination", None)
    lin = nn.Linear(1, 1)
    lin.register_parameter("b2", None)
    with pytest.raises(AttributeError):
        lin.get_parameter("b2")
    handle = lin.register_state_dict_post_hook(lambda m, sd, p, meta: {"x": 1})
    with pytest.raises(RuntimeError, match="must return None"):
        lin.state_dict()
    handle.remove()
    handle = lin._register_state_dict_hook(lambda m, sd, p, meta: {"x": 1})  # the private form replaces
    assert lin.state_dict() == {"x": 1}
    handle.remove()
    pd = nn.ParameterDict({"a": nn.Parameter(rustdl.ones(1)), "b": nn.Parameter(rustdl.ones(2))})
    assert list(reversed(pd)) == ["b", "a"]
    same = pd
    pd |= {"c": rustdl.zeros(1)}
    assert same is pd and list(pd.keys()) == ["a", "b", "c"]
    merged = {"z": rustdl.ones(3)} | pd
    assert type(merged) is dict and list(merged) == ["z", "a", "b", "c"]


def test_pow_exponent_gradient_at_a_zero_base():
    # d/dx 0^x = 0^x ln 0: 0 for x > 0, and inf · (-inf) = -inf for x < 0 (PyTorch's limits)
    x = rustdl.tensor([-1.0, 0.0, 2.0, -2.5], dtype=rustdl.float64, requires_grad=True)
    b = rustdl.zeros(4, dtype=rustdl.float64, requires_grad=True)
    (b**x).sum().backward()
    assert x.grad.tolist() == [-np.inf, 0.0, 0.0, -np.inf]
    x = rustdl.tensor([-1.0, 2.0], dtype=rustdl.float64, requires_grad=True)
    (rustdl.tensor([0.0, 2.0], dtype=rustdl.float64) ** x).sum().backward()
    assert x.grad.tolist() == [-np.inf, pytest.approx(4 * np.log(2))]


def test_bool_tensor_to_a_bool_power_stays_bool():
    a = rustdl.tensor([True, False])
    assert (a**True).tolist() == [True, False] and (a**True).dtype == rustdl.bool
    assert a.pow(False).tolist() == [True, True]  # x ** 0 is 1


def test_a_buffer_keeps_its_tensors_requires_grad():
    b = rustdl.nn.Buffer(rustdl.ones(2).requires_grad_())
    assert b.requires_grad and b.is_leaf
    assert not rustdl.nn.Buffer(rustdl.ones(2)).requires_grad


def test_bitwise_ops_on_floats_raise_what_pytorch_raises():
    t = rustdl.tensor([1.0])
    for f in (lambda: t & 1, lambda: t | t, lambda: rustdl.tensor([1, 2]) & 1.5, lambda: ~t):
        with pytest.raises(RuntimeError):  # PyTorch's NotImplementedError (still a TypeError here)
            f()
        with pytest.raises(TypeError):
            f()


def test_full_backward_hooks_see_none_for_outputs_no_gradient_reached():
    class Two(rustdl.nn.Module):
        def forward(self, x):
            return x * 2, x * 3

    m, seen = Two(), []
    m.register_full_backward_pre_hook(
        lambda mod, go: seen.append([None if g is None else g.tolist() for g in go])
    )
    m.register_full_backward_hook(lambda mod, gi, go: seen.append([g.tolist() for g in gi]))
    x = rustdl.ones(2, requires_grad=True)
    a, _ = m(x)
    a.sum().backward()
    assert seen == [[[1.0, 1.0], None], [[2.0, 2.0]]]
    assert x.grad.tolist() == [2.0, 2.0]
