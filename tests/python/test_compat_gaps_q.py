"""Names PyTorch programs import that rustdl lacked, found by a census of ~560 dotted names run
under PyTorch and under ``rustdl.torchcompat``: ``torch.signal.windows``, the safe-globals
allowlist of ``torch.serialization``, ``torch.hub``'s checkpoint cache, ``torch.overrides``,
``torch.fx.wrap``, ``torch.cpu``, the pooling base classes and private helpers model code
imports. References: SciPy's windows, pickled objects rebuilt by hand, and worked values."""

import argparse
import collections
import dataclasses
import hashlib
import math
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rustdl
import rustdl.hub
import rustdl.nn as nn
from rustdl import overrides, serialization
from rustdl.signal import windows
from scipy.signal import windows as sw
from test_torch_checkpoint import Build, Global, Storage, T, zip_checkpoint

# ------------------------------------------------------------------------------------------
# torch.signal.windows against SciPy
# ------------------------------------------------------------------------------------------

WINDOWS = [
    ("hann", {}, lambda M, sym: sw.hann(M, sym=sym)),
    ("hamming", {}, lambda M, sym: sw.hamming(M, sym=sym)),
    ("blackman", {}, lambda M, sym: sw.blackman(M, sym=sym)),
    ("bartlett", {}, lambda M, sym: sw.bartlett(M, sym=sym)),
    ("cosine", {}, lambda M, sym: sw.cosine(M, sym=sym)),
    ("nuttall", {}, lambda M, sym: sw.nuttall(M, sym=sym)),
    ("gaussian", {"std": 1.7}, lambda M, sym: sw.gaussian(M, 1.7, sym=sym)),
    ("kaiser", {"beta": 5.0}, lambda M, sym: sw.kaiser(M, 5.0, sym=sym)),
    ("exponential", {"tau": 2.0}, lambda M, sym: sw.exponential(M, tau=2.0, sym=sym)),
    ("general_hamming", {"alpha": 0.6}, lambda M, sym: sw.general_hamming(M, 0.6, sym=sym)),
    (
        "general_cosine",
        {"a": [0.46, 0.23, 0.31]},
        lambda M, sym: sw.general_cosine(M, [0.46, 0.23, 0.31], sym=sym),
    ),
]


@pytest.mark.parametrize("name,kwargs,ref", WINDOWS, ids=[w[0] for w in WINDOWS])
@pytest.mark.parametrize("M", [0, 1, 2, 5, 8])
@pytest.mark.parametrize("sym", [True, False])
def test_signal_windows_match_scipy(name, kwargs, ref, M, sym):
    out = getattr(windows, name)(M, sym=sym, dtype=rustdl.float64, **kwargs)
    assert out.dtype == rustdl.float64 and tuple(out.shape) == (M,)
    np.testing.assert_allclose(out.numpy(), ref(M, sym), rtol=1e-12, atol=1e-14)
    assert getattr(windows, name)(M, sym=sym, **kwargs).dtype == rustdl.float32


def test_signal_window_arguments_are_checked():
    with pytest.raises(ValueError, match="non-negative"):
        windows.hann(-1)
    with pytest.raises(ValueError, match="floating point"):
        windows.hann(4, dtype=rustdl.int64)
    with pytest.raises(ValueError, match="std"):
        windows.gaussian(4, std=0.0)
    with pytest.raises(ValueError, match="tau"):
        windows.exponential(4, tau=0.0)
    with pytest.raises(ValueError, match="center"):
        windows.exponential(4, center=1.0)
    with pytest.raises(TypeError):
        windows.hann(2.5)
    # the periodic window may be off-centre: exp(-|n - 1| / 2) for n = 0..3
    got = windows.exponential(4, center=1.0, tau=2.0, sym=False, dtype=rustdl.float64).numpy()
    np.testing.assert_allclose(got, np.exp(-np.abs(np.arange(4) - 1.0) / 2.0), rtol=1e-12)
    assert windows.hann(3, requires_grad=True).requires_grad


# ------------------------------------------------------------------------------------------
# safe globals: classes allowed in weights_only loads
# ------------------------------------------------------------------------------------------


@dataclasses.dataclass
class TrainConfig:
    lr: float
    layers: list


@pytest.fixture(autouse=False)
def clean_safe_globals():
    serialization.clear_safe_globals()
    yield
    serialization.clear_safe_globals()


def test_safe_globals_let_a_weights_only_load_rebuild_an_allowed_class(tmp_path, clean_safe_globals):
    w = rustdl.arange(6.0).reshape(2, 3)
    ck = {"model": {"w": w}, "cfg": TrainConfig(0.1, [4, 8]), "epoch": 3}
    path = tmp_path / "ck.safetensors"
    rustdl.save(ck, path)
    with pytest.raises(pickle.UnpicklingError, match="add_safe_globals"):
        rustdl.load(path)
    with serialization.safe_globals([TrainConfig]):
        assert serialization.get_safe_globals() == [TrainConfig]
        out = rustdl.load(path)
    assert serialization.get_safe_globals() == []
    assert out["cfg"] == TrainConfig(0.1, [4, 8]) and out["epoch"] == 3
    np.testing.assert_array_equal(out["model"]["w"].numpy(), w.numpy())
    # allowed once for good
    serialization.add_safe_globals([TrainConfig])
    assert rustdl.load(path, weights_only=True)["cfg"].layers == [4, 8]
    # a class not on the list is still refused, with its name and the way to allow it
    rustdl.save({"ns": argparse.Namespace(a=1)}, path)
    with pytest.raises(pickle.UnpicklingError, match=r"argparse\.Namespace.*add_safe_globals"):
        rustdl.load(path)
    assert rustdl.load(path, weights_only=False)["ns"].a == 1


def test_safe_globals_never_open_the_door_to_other_callables(tmp_path, clean_safe_globals):
    sentinel = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (subprocess.call, (["touch", str(sentinel)],))

    serialization.add_safe_globals([TrainConfig])
    path = tmp_path / "bad.safetensors"
    rustdl.save({"cfg": TrainConfig(1.0, []), "p": Payload()}, path)
    with pytest.raises(pickle.UnpicklingError, match="subprocess"):
        rustdl.load(path)
    assert not sentinel.exists()


def test_safe_globals_in_a_pytorch_checkpoint(tmp_path, clean_safe_globals):
    tensor = T(Storage("0", np.arange(4, dtype=np.float32)), (2, 2))
    obj = {"w": tensor, "args": Build(Global("argparse", "Namespace")(), {"lr": 0.5, "name": "run1"})}
    path = tmp_path / "ck.pt"
    path.write_bytes(zip_checkpoint(obj))
    with pytest.raises(pickle.UnpicklingError, match=r"argparse\.Namespace"):
        rustdl.load(path)
    serialization.add_safe_globals([argparse.Namespace])
    out = rustdl.load(path)
    assert out["args"].lr == 0.5 and out["args"].name == "run1"
    np.testing.assert_array_equal(out["w"].numpy(), [[0.0, 1.0], [2.0, 3.0]])
    # an object pickled under another name, allowed by an (obj, "module.name") pair
    serialization.clear_safe_globals()
    path.write_bytes(zip_checkpoint({"c": Global("oldpkg.cfg", "Cfg")()}))
    serialization.add_safe_globals([(collections.OrderedDict, "oldpkg.cfg.Cfg")])
    assert rustdl.load(path)["c"] == collections.OrderedDict()
    with pytest.raises(TypeError):
        serialization.add_safe_globals([3])
    with pytest.raises(TypeError):
        serialization.add_safe_globals(TrainConfig)


# ------------------------------------------------------------------------------------------
# torch.hub: the checkpoint cache, file:// downloads with a hash check, local hubconf
# ------------------------------------------------------------------------------------------


@pytest.fixture
def hub_dir(tmp_path):
    old = rustdl.hub._hub_dir
    rustdl.hub.set_dir(tmp_path / "hub")
    yield tmp_path / "hub"
    rustdl.hub._hub_dir = old


def test_hub_dir_follows_torch_home(monkeypatch, tmp_path):
    old = rustdl.hub._hub_dir
    rustdl.hub._hub_dir = None
    try:
        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
        assert rustdl.hub.get_dir() == str(tmp_path / "th" / "hub")
        monkeypatch.delenv("TORCH_HOME")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert rustdl.hub.get_dir() == str(tmp_path / "xdg" / "torch" / "hub")
    finally:
        rustdl.hub._hub_dir = old


def test_load_state_dict_from_url_downloads_once_and_checks_the_hash(hub_dir, tmp_path):
    src = tmp_path / "src.safetensors"
    rustdl.save({"w": rustdl.ones(3)}, src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    named = tmp_path / f"model-{digest[:8]}.safetensors"
    named.write_bytes(src.read_bytes())
    sd = rustdl.hub.load_state_dict_from_url(named.as_uri(), check_hash=True)
    np.testing.assert_array_equal(sd["w"].numpy(), np.ones(3))
    cached = hub_dir / "checkpoints" / named.name
    assert cached.read_bytes() == src.read_bytes()
    named.unlink()  # the cache answers now, with no source
    assert rustdl.hub.load_state_dict_from_url(named.as_uri())["w"].shape == (3,)
    # a wrong hash prefix keeps nothing
    bad = tmp_path / "other-0000abcd.safetensors"
    bad.write_bytes(src.read_bytes())
    with pytest.raises(RuntimeError, match="invalid hash"):
        rustdl.hub.load_state_dict_from_url(bad.as_uri(), check_hash=True)
    assert not (hub_dir / "checkpoints" / bad.name).exists()
    assert not list((hub_dir / "checkpoints").glob(".partial-*"))
    with pytest.raises(RuntimeError, match="cannot download"):
        rustdl.hub.load_state_dict_from_url((tmp_path / "missing.pth").as_uri())


def test_hub_load_runs_a_local_hubconf_entry(hub_dir, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "hubconf.py").write_text(
        textwrap.dedent(
            '''
            import rustdl
            def tiny(width=4):
                """A tiny linear model."""
                return rustdl.nn.Linear(2, width)
            def _private():
                pass
            '''
        )
    )
    m = rustdl.hub.load(str(repo), "tiny", source="local", width=5)
    assert isinstance(m, nn.Linear) and m.out_features == 5
    assert rustdl.hub.list(str(repo), source="local") == ["tiny"]
    assert "tiny linear" in rustdl.hub.help(str(repo), "tiny", source="local")
    with pytest.raises(RuntimeError, match="_private"):
        rustdl.hub.load(str(repo), "_private", source="local")
    with pytest.raises(RuntimeError, match="hub cache"):
        rustdl.hub.load("someone/somerepo", "tiny")
    with pytest.raises(ValueError, match="source"):
        rustdl.hub.load(str(repo), "tiny", source="ftp")


# ------------------------------------------------------------------------------------------
# torch.overrides: __torch_function__ probes
# ------------------------------------------------------------------------------------------


class Wrapped:
    calls = []

    def __init__(self, v):
        self.v = v

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.calls.append((func.__name__, [t.__name__ for t in types]))
        return ("handled", func(*[a.v if isinstance(a, Wrapped) else a for a in args]))


class SubWrapped(Wrapped):
    pass


def test_overrides_find_and_dispatch_torch_function():
    t = rustdl.ones(2)
    assert not overrides.has_torch_function((t, 1.0))
    assert overrides.has_torch_function((t, Wrapped(t)))
    assert overrides.has_torch_function_unary(Wrapped(t)) and overrides.has_torch_function_variadic(
        t, Wrapped(t)
    )
    assert (
        overrides.is_tensor_like(t)
        and overrides.is_tensor_like(Wrapped(t))
        and not overrides.is_tensor_like(3)
    )

    def double(x):
        return x * 2

    Wrapped.calls.clear()
    tag, out = overrides.handle_torch_function(double, (Wrapped(t), SubWrapped(t)), Wrapped(t))
    assert tag == "handled" and out.tolist() == [2.0, 2.0]
    assert Wrapped.calls == [("double", ["SubWrapped", "Wrapped"])]  # subclasses first

    class Refuses:
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return NotImplemented

    with pytest.raises(TypeError, match="no implementation found for 'double'"):
        overrides.handle_torch_function(double, (Refuses(),), Refuses())


# ------------------------------------------------------------------------------------------
# small names: pooling bases, init helpers, jit/fx probes, torch.cpu, record_stream, _assert
# ------------------------------------------------------------------------------------------


def test_pooling_modules_share_their_bases_and_still_pool():
    from rustdl.nn.modules import pooling as P

    for cls, base in [
        (nn.MaxPool1d, P._MaxPoolNd), (nn.MaxPool2d, P._MaxPoolNd), (nn.MaxPool3d, P._MaxPoolNd),
        (nn.AvgPool1d, P._AvgPoolNd), (nn.AvgPool2d, P._AvgPoolNd), (nn.AvgPool3d, P._AvgPoolNd),
        (nn.AdaptiveAvgPool1d, P._AdaptiveAvgPoolNd), (nn.AdaptiveAvgPool3d, P._AdaptiveAvgPoolNd),
        (nn.AdaptiveMaxPool2d, P._AdaptiveMaxPoolNd), (nn.AdaptiveMaxPool3d, P._AdaptiveMaxPoolNd),
    ]:  # fmt: skip
        assert issubclass(cls, base), cls
    x = rustdl.tensor([[[1.0, 5.0, 2.0, 4.0, 3.0]]])
    assert nn.MaxPool1d(2)(x).tolist() == [[[5.0, 4.0]]]
    out, idx = nn.MaxPool1d(2, return_indices=True)(x)
    assert idx.tolist() == [[[1, 3]]]
    assert nn.AvgPool1d(2, stride=1)(x).tolist() == [[[3.0, 3.5, 3.0, 3.5]]]
    x2 = rustdl.arange(16.0).reshape(1, 1, 4, 4)
    assert nn.AvgPool2d(2, divisor_override=1)(x2).tolist() == [[[[10.0, 18.0], [42.0, 50.0]]]]
    assert nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)(x2)[0, 0, 0, 0].item() == 2.5
    assert nn.AdaptiveMaxPool1d(1)(x).tolist() == [[[5.0]]]
    assert repr(nn.AvgPool1d(2)) == "AvgPool1d(kernel_size=2, stride=2, padding=0)"
    with pytest.raises(TypeError):
        nn.AvgPool1d(2, 2, 0, False, True, 3)  # no divisor_override in 1-D, as PyTorch


def test_private_init_helpers_third_party_code_imports():
    from rustdl.nn import init

    w = rustdl.empty(8, 3, 5)
    assert init._calculate_correct_fan(w, "fan_in") == 15 and init._calculate_correct_fan(w, "fan_out") == 40
    with pytest.raises(ValueError):
        init._calculate_correct_fan(w, "fan_avg")
    t = rustdl.empty(20000)
    init._no_grad_trunc_normal_(t, 1.0, 2.0, -1.0, 2.5)
    v = t.numpy()
    assert v.min() >= -1.0 and v.max() <= 2.5
    # mean of N(1, 2²) truncated to [-1, 2.5]: mu + s (phi(a) - phi(b)) / (Phi(b) - Phi(a))
    a, b = (-1.0 - 1.0) / 2.0, (2.5 - 1.0) / 2.0
    phi = [math.exp(-z * z / 2) / math.sqrt(2 * math.pi) for z in (a, b)]
    cdf = [0.5 * (1 + math.erf(z / math.sqrt(2))) for z in (a, b)]
    assert abs(v.mean() - (1.0 + 2.0 * (phi[0] - phi[1]) / (cdf[1] - cdf[0]))) < 0.03


def test_small_probes():
    assert rustdl.jit.is_tracing() is False and rustdl.jit.is_scripting() is False

    class M(nn.Module):
        k: rustdl.jit.Final[int] = 3

    assert M.k == 3
    with pytest.raises(NotImplementedError, match="top level of a module"):
        rustdl.fx.wrap("len")  # wrap marks module globals: only at module scope
    lin = nn.Linear(1, 1)
    gm = rustdl.fx.symbolic_trace(lin)  # the root's own forward is traced
    assert [n.op for n in gm.graph.nodes] == [
        "placeholder",
        "get_attr",
        "get_attr",
        "call_function",
        "output",
    ]
    assert gm(rustdl.ones(2, 1)).tolist() == lin(rustdl.ones(2, 1)).tolist()
    assert rustdl.cpu.is_available() and rustdl.cpu.device_count() == 1 and rustdl.cpu.synchronize() is None
    assert rustdl.backends.openmp.is_available() is False and rustdl.backends.mkldnn.is_available() is False
    t = rustdl.ones(2)
    assert t.record_stream(None) is None
    rustdl._assert(rustdl.tensor(True), "never")
    with pytest.raises(AssertionError, match="shape mismatch"):
        rustdl._assert(t.shape[0] == 3, "shape mismatch")
    from rustdl.nn.utils.convert_parameters import parameters_to_vector

    assert parameters_to_vector(nn.Linear(2, 3).parameters()).shape == (9,)


def test_torch_names_resolve_under_torchcompat(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import json
            import torch
            import torch._C
            import torch.fx
            import torch.signal
            from torch.utils.data._utils.collate import default_collate
            from torch.nn.modules.pooling import _AvgPoolNd, _MaxPoolNd
            from torch.nn.init import _calculate_correct_fan, _no_grad_trunc_normal_
            from torch.serialization import add_safe_globals, safe_globals
            from torch.utils.model_zoo import load_url
            from torch.hub import load_state_dict_from_url
            torch.fx.wrap("len")
            from torch.fx.node import Node
            from torch.fx.proxy import GraphAppendingTracer
            from torch.fx.passes.shape_prop import ShapeProp
            g = torch.fx.Graph()
            px = torch.fx.Proxy(g.placeholder("x"), GraphAppendingTracer(g))
            g.output(torch.relu(px * 2).node)
            fx_gm = torch.fx.GraphModule(torch.nn.Module(), g)
            torch._assert(True, "x")
            with torch.cpu.amp.autocast():
                y = torch.ones(2) * 2
            print(json.dumps({
                "tracing": torch._C._get_tracing_state() is None and not torch.jit.is_tracing(),
                "collate": default_collate([torch.ones(2), torch.zeros(2)]).shape[0],
                "pool": isinstance(torch.nn.AvgPool2d(2), _AvgPoolNd) and isinstance(torch.nn.MaxPool1d(2), _MaxPoolNd),
                "win": torch.signal.windows.hann(4).tolist(),
                "omp": torch.backends.openmp.is_available(),
                "fn": torch.overrides.has_torch_function((torch.ones(1),)),
                "zoo": load_url is load_state_dict_from_url,
                "y": y.tolist(),
                "fx": fx_gm(torch.tensor([-1.0, 2.0])).tolist(),
                "fx_node": isinstance(list(g.nodes)[-1], Node),
            }))
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "rustdl.torchcompat", str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["tracing"] and out["collate"] == 2 and out["pool"] and out["zoo"]
    np.testing.assert_allclose(out["win"], [0.0, 0.75, 0.75, 0.0], atol=1e-7)
    assert out["omp"] is False and out["fn"] is False and out["y"] == [2.0, 2.0]
    assert out["fx"] == [0.0, 4.0] and out["fx_node"]


# ------------------------------------------------------------------------------------------
# inputs PyTorch refuses, which rustdl used to answer with a value (found by a differential
# sweep of ~90 degenerate calls); the refusals are typed and name the op
# ------------------------------------------------------------------------------------------


def test_0d_flatten_and_roll_check_their_dims():
    s = rustdl.tensor(2.5)
    for args in [(), (0,), (-1,), (0, -1), (-1, 0)]:
        assert s.flatten(*args).tolist() == [2.5]
    for args in [(1,), (0, 1), (-2,)]:
        with pytest.raises(IndexError, match="flatten"):
            s.flatten(*args)
    assert s.roll(1).item() == 2.5  # no dims: the flattened tensor
    for dim in (0, -1):
        with pytest.raises(IndexError, match="roll"):
            s.roll(1, dim)
    x = rustdl.arange(4.0)
    assert x.roll(1, 0).tolist() == [3.0, 0.0, 1.0, 2.0]


def test_permute_needs_dims():
    with pytest.raises(TypeError, match="dims"):
        rustdl.ones(2, 3).permute()
    assert rustdl.tensor(1.0).permute(()).item() == 1.0
    assert tuple(rustdl.ones(2, 3).permute(1, 0).shape) == (3, 2)
    assert tuple(rustdl.ones(2, 3).permute(dims=(1, 0)).shape) == (3, 2)


def test_subtraction_with_a_bool_tensor_is_refused():
    b = rustdl.tensor([True, False])
    f, i = rustdl.ones(2), rustdl.tensor([1, 2])
    for fn in [lambda: 1 - b, lambda: b - 1, lambda: b - 1.5, lambda: 1.5 - b, lambda: f - b, lambda: b - f,
               lambda: i - b, lambda: b - b, lambda: rustdl.sub(f, b), lambda: f.clone().sub_(b)]:  # fmt: skip
        with pytest.raises(rustdl.DTypeError, match="bool"):
            fn()
    # the ways to invert or combine masks still work
    assert (~b).tolist() == [False, True] and b.logical_not().tolist() == [False, True]
    assert (1 - b.long()).tolist() == [0, 1] and (f - b.float()).tolist() == [0.0, 1.0]
    assert (b + b).tolist() == [True, False] and (b * 2).tolist() == [2, 0]


def test_sign_of_a_mask_is_the_mask_and_abs_has_no_bool_form():
    b = rustdl.tensor([True, False])
    s = b.sign()
    assert s.dtype == rustdl.bool and s.tolist() == [True, False]
    s[0] = False
    assert b.tolist() == [True, False]  # a copy
    with pytest.raises(rustdl.DTypeError, match="abs"):
        b.abs()
    assert rustdl.tensor([-2, 3]).sign().tolist() == [-1, 1]
    assert rustdl.tensor([-2, 3]).abs().tolist() == [2, 3]


def test_float_only_ops_refuse_integer_inputs():
    i = rustdl.tensor([3, 4])
    for fn in [lambda: rustdl.hypot(i, i), lambda: rustdl.logaddexp(i, i), lambda: rustdl.logaddexp2(i, i),
               lambda: i.logaddexp(i), lambda: rustdl.lerp(i, i, 0.5)]:  # fmt: skip
        with pytest.raises(rustdl.DTypeError):
            fn()
    # one floating side is enough, as PyTorch promotes
    f = rustdl.tensor([0.0, 0.0])
    np.testing.assert_allclose(rustdl.hypot(i, f).numpy(), [3.0, 4.0])
    np.testing.assert_allclose(rustdl.hypot(rustdl.tensor([3.0]), rustdl.tensor([4])).numpy(), [5.0])
    np.testing.assert_allclose(
        rustdl.logaddexp(f, i).numpy(), np.logaddexp([0.0, 0.0], [3.0, 4.0]), rtol=1e-6
    )
    np.testing.assert_allclose(
        rustdl.logaddexp2(f, i).numpy(), np.logaddexp2([0.0, 0.0], [3.0, 4.0]), rtol=1e-6
    )


def test_pooling_refuses_empty_non_batch_dims_but_keeps_empty_batches():
    import rustdl.nn.functional as F

    bad = [
        lambda: F.max_pool1d(rustdl.zeros(2, 0, 5), 2), lambda: F.avg_pool1d(rustdl.zeros(2, 0, 5), 2),
        lambda: F.max_pool1d(rustdl.zeros(0, 5), 2), lambda: F.max_pool2d(rustdl.zeros(2, 0, 4, 4), 2),
        lambda: F.avg_pool2d(rustdl.zeros(2, 3, 0, 4), 2), lambda: F.max_pool2d(rustdl.zeros(0, 4, 4), 2),
        lambda: F.lp_pool2d(rustdl.zeros(2, 0, 4, 4), 2, 2), lambda: F.max_pool3d(rustdl.zeros(2, 0, 4, 4, 4), 2),
        lambda: F.avg_pool3d(rustdl.zeros(1, 2, 4, 0, 4), 2), lambda: nn.MaxPool2d(2)(rustdl.zeros(1, 0, 4, 4)),
    ]  # fmt: skip
    for fn in bad:
        with pytest.raises(rustdl.ShapeError, match="non-batch"):
            fn()
    assert tuple(F.max_pool2d(rustdl.zeros(0, 2, 4, 4), 2).shape) == (0, 2, 2, 2)
    assert tuple(F.avg_pool1d(rustdl.zeros(0, 2, 4), 2).shape) == (0, 2, 2)
    assert tuple(F.max_pool3d(rustdl.zeros(0, 2, 4, 4, 4), 2).shape) == (0, 2, 2, 2, 2)
    # adaptive pooling allows empty channels, as PyTorch
    assert tuple(F.adaptive_avg_pool2d(rustdl.zeros(2, 0, 4, 4), 2).shape) == (2, 0, 2, 2)


# ------------------------------------------------------------------------------------------
# ctx.mark_dirty: the input a Function modified in place carries the Function's history
# (before, the input kept its old history and the custom backward was silently skipped)
# ------------------------------------------------------------------------------------------


class _Double(rustdl.autograd.Function):
    """Doubles its input in place; the backward is deliberately 5·g (not 2·g), so a gradient
    that went around it would show."""

    @staticmethod
    def forward(ctx, x):
        x.mul_(2)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g * 5


class _ScaleSaved(rustdl.autograd.Function):
    """x *= w in place, saving the result and w: d/dx = w, d/dw = y / w (= x)."""

    @staticmethod
    def forward(ctx, x, w):
        x.mul_(w)
        ctx.mark_dirty(x)
        ctx.save_for_backward(x, w)
        return x

    @staticmethod
    def backward(ctx, g):
        y, w = ctx.saved_tensors
        return g * w, g * y / w


def test_mark_dirty_input_is_the_output_with_the_functions_history():
    a = rustdl.ones(3, requires_grad=True)
    b = a * 1
    c = _Double.apply(b)
    assert c is b and b.tolist() == [2.0, 2.0, 2.0]
    assert b.grad_fn.name() == "_DoubleBackward"
    (b * 3).sum().backward()  # through b, not c: 3 · 5
    assert a.grad.tolist() == [15.0, 15.0, 15.0]
    # twice in a row, and the intermediate's retained gradient
    a = rustdl.ones(3, requires_grad=True)
    b = a * 1
    b.retain_grad()
    d = _Double.apply(_Double.apply(b))
    (d * 2).sum().backward()
    assert a.grad.tolist() == [50.0] * 3 and b.grad.tolist() == [2.0] * 3 and b.tolist() == [4.0] * 3


def test_mark_dirty_with_the_result_saved_and_on_a_view():
    a = rustdl.ones(3, requires_grad=True)
    w = rustdl.full((3,), 3.0, requires_grad=True)
    b = a * 1
    _ScaleSaved.apply(b, w).sum().backward()
    assert a.grad.tolist() == [3.0] * 3 and w.grad.tolist() == [1.0] * 3
    # a view made dirty: the base's history passes through the Function for that row only,
    # and a view taken before the call reads the new history
    a = rustdl.ones(2, 3, requires_grad=True)
    b = a * 1
    _Double.apply(b[0])
    assert b.tolist() == [[2.0] * 3, [1.0] * 3]
    b.sum().backward()
    assert a.grad.tolist() == [[5.0] * 3, [1.0] * 3]
    a = rustdl.ones(2, 3, requires_grad=True)
    b = a * 1
    early = b[1]
    _Double.apply(b)
    (early * 7).sum().backward()
    assert a.grad.tolist() == [[0.0] * 3, [35.0] * 3] and early.tolist() == [2.0] * 3


def test_mark_dirty_edge_cases():
    with pytest.raises(RuntimeError, match="leaf"):
        _Double.apply(rustdl.ones(3, requires_grad=True))
    # an input that did not require grad joins the graph through the other input

    class AddInto(rustdl.autograd.Function):
        @staticmethod
        def forward(ctx, buf, x):
            buf.add_(x)
            ctx.mark_dirty(buf)
            return buf

        @staticmethod
        def backward(ctx, g):
            return g, g * 4

    x = rustdl.ones(3, requires_grad=True)
    buf = rustdl.zeros(3)
    out = AddInto.apply(buf, x)
    assert out is buf and buf.requires_grad
    buf.sum().backward()
    assert x.grad.tolist() == [4.0] * 3
    # no grad anywhere: the values change and nothing is recorded
    with rustdl.no_grad():
        b = rustdl.ones(3)
        assert _Double.apply(b) is b and b.tolist() == [2.0] * 3 and not b.requires_grad


# ------------------------------------------------------------------------------------------
# atan2's gradient on the axis x = 0 (it was 0 for x there, and 1 for y at the origin)
# ------------------------------------------------------------------------------------------


def test_atan2_gradient_everywhere_including_x_zero():
    pts = [(1.0, 0.0), (-2.0, 0.0), (0.0, -1.0), (0.0, 2.0), (1.0, -1.0), (3.0, 4.0), (-0.5, -2.0)]
    for yv, xv in pts:
        y = rustdl.tensor(yv, dtype=rustdl.float64, requires_grad=True)
        x = rustdl.tensor(xv, dtype=rustdl.float64, requires_grad=True)
        out = rustdl.atan2(y, x)
        assert abs(out.item() - math.atan2(yv, xv)) < 1e-12
        out.backward()
        r2 = xv * xv + yv * yv
        assert abs(y.grad.item() - xv / r2) < 1e-12 and abs(x.grad.item() + yv / r2) < 1e-12, (yv, xv)
    y = rustdl.zeros(1, requires_grad=True)
    x = rustdl.zeros(1, requires_grad=True)
    rustdl.atan2(y, x).sum().backward()
    assert y.grad.tolist() == [0.0] and x.grad.tolist() == [0.0]  # PyTorch's choice at the origin
    # broadcasting, a number as the other side, and second derivatives by finite differences
    y = rustdl.tensor([[1.0], [2.0]], dtype=rustdl.float64, requires_grad=True)
    x = rustdl.tensor([0.0, -1.0, 3.0], dtype=rustdl.float64, requires_grad=True)
    rustdl.atan2(y, x).sum().backward()
    Y, X = np.array([[1.0], [2.0]]), np.array([0.0, -1.0, 3.0])
    np.testing.assert_allclose(y.grad.numpy(), (X / (X * X + Y * Y)).sum(1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), (-Y / (X * X + Y * Y)).sum(0), rtol=1e-12)
    assert rustdl.atan2(rustdl.tensor([1.0]), rustdl.tensor(0.0)).tolist() == [pytest.approx(math.pi / 2)]

    def f(a):
        return rustdl.atan2(a[0], a[1])

    a = rustdl.tensor([0.7, -0.3], dtype=rustdl.float64, requires_grad=True)
    (g,) = rustdl.autograd.grad(f(a), a, create_graph=True)
    h = np.stack([rustdl.autograd.grad(g[i], a, retain_graph=True)[0].numpy() for i in range(2)])
    eps = 1e-6

    def grad_at(v):
        t = rustdl.tensor(v, dtype=rustdl.float64, requires_grad=True)
        return rustdl.autograd.grad(f(t), t)[0].numpy()

    fd = np.stack([(grad_at([0.7 + eps * (i == 0), -0.3 + eps * (i == 1)]) - grad_at([0.7 - eps * (i == 0), -0.3 - eps * (i == 1)])) / (2 * eps) for i in range(2)])  # fmt: skip
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------------------------------
# .grad accumulates in place, as PyTorch: a reference taken earlier sees the sum
# ------------------------------------------------------------------------------------------


def test_grad_accumulates_in_place_without_touching_shared_gradients():
    w = rustdl.ones(3, requires_grad=True)
    b = rustdl.ones(3, requires_grad=True)
    (w + b).sum().backward()  # one gradient tensor reaches both leaves
    gw, gb = w.grad, b.grad
    (w * 2).sum().backward()
    assert gw.tolist() == [3.0] * 3 and w.grad.tolist() == [3.0] * 3
    assert gb.tolist() == [1.0] * 3 and b.grad.tolist() == [1.0] * 3  # b's own sum, untouched
    # an assigned .grad is added into, as PyTorch
    z = rustdl.zeros(3)
    w.grad = z
    (w * 3).sum().backward()
    assert z.tolist() == [3.0] * 3
    # a module's gradient held across two backward passes
    m = nn.Linear(2, 2)
    x = rustdl.ones(4, 2)
    m(x).sum().backward()
    g0 = m.weight.grad
    m(x).sum().backward()
    assert g0.tolist() == [[8.0, 8.0], [8.0, 8.0]] and m.bias.grad.tolist() == [8.0, 8.0]
    # with create_graph the sum is a new tensor (it carries history); the old one is kept
    v = rustdl.ones(2, requires_grad=True)
    (v * v).sum().backward(create_graph=True)
    g1 = v.grad
    (v * v).sum().backward(create_graph=True)
    assert g1.tolist() == [2.0, 2.0] and v.grad.tolist() == [4.0, 4.0] and v.grad.requires_grad


# ------------------------------------------------------------------------------------------
# torch._foreach_*: list versions of ops (EMA helpers, hand-written optimizers)
# ------------------------------------------------------------------------------------------


def _tl(seed, n=3):
    r = np.random.default_rng(seed)
    return [rustdl.tensor(r.standard_normal((2, 3)).astype(np.float32)) for _ in range(n)]


@pytest.mark.parametrize("name,ref", [("exp", np.exp), ("abs", np.abs), ("sigmoid", lambda a: 1 / (1 + np.exp(-a))),
                                      ("neg", np.negative), ("trunc", np.trunc), ("sign", np.sign)])  # fmt: skip
def test_foreach_unary_matches_numpy_per_tensor(name, ref):
    ts = _tl(1)
    arrays = [t.numpy().copy() for t in ts]
    out = getattr(rustdl, f"_foreach_{name}")(ts)
    for o, a in zip(out, arrays):
        np.testing.assert_allclose(o.numpy(), ref(a), rtol=1e-6)
    back = getattr(rustdl, f"_foreach_{name}_")(ts)
    assert back is ts
    for t, a in zip(ts, arrays):
        np.testing.assert_allclose(t.numpy(), ref(a), rtol=1e-6)


def test_foreach_binary_operands_and_errors():
    ts, others = _tl(1), _tl(2)
    a, b = [t.numpy().copy() for t in ts], [t.numpy() for t in others]
    for o, x in zip(rustdl._foreach_add(ts, 0.5), a):
        np.testing.assert_allclose(o.numpy(), x + 0.5, rtol=1e-6)
    for o, x, s in zip(rustdl._foreach_mul(ts, [0.5, 2.0, -1.0]), a, [0.5, 2.0, -1.0]):
        np.testing.assert_allclose(o.numpy(), x * s, rtol=1e-6)
    for o, x, y in zip(rustdl._foreach_sub(ts, others, alpha=2.0), a, b):
        np.testing.assert_allclose(o.numpy(), x - 2 * y, rtol=1e-6)
    for o, x in zip(rustdl._foreach_div(ts, rustdl.tensor(4.0)), a):
        np.testing.assert_allclose(o.numpy(), x / 4, rtol=1e-6)
    for o, x in zip(rustdl._foreach_maximum(ts, 0.25), a):
        np.testing.assert_allclose(o.numpy(), np.maximum(x, 0.25))
    for o, x in zip(rustdl._foreach_pow(2.0, ts), a):
        np.testing.assert_allclose(o.numpy(), 2.0**x, rtol=1e-6)
    rustdl._foreach_clamp_min_(ts, 0.0)
    for t, x in zip(ts, a):
        np.testing.assert_allclose(t.numpy(), np.maximum(x, 0.0))
    with pytest.raises(RuntimeError, match="at least one"):
        rustdl._foreach_add([], 1.0)
    with pytest.raises(RuntimeError, match="entries"):
        rustdl._foreach_add(ts, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="0-dim"):
        rustdl._foreach_add(ts, rustdl.ones(2, 3))
    with pytest.raises(TypeError):
        rustdl._foreach_add(rustdl.ones(2), 1.0)
    with pytest.raises(TypeError, match="alpha"):
        rustdl._foreach_mul(ts, 2.0, alpha=3)


def test_foreach_ema_lerp_addcmul_norm_and_gradients():
    ema, params = _tl(1), _tl(2)
    e0, p0 = [t.numpy().copy() for t in ema], [t.numpy() for t in params]
    rustdl._foreach_lerp_(ema, params, 0.1)  # ema += 0.1 (p - ema)
    for t, e, p in zip(ema, e0, p0):
        np.testing.assert_allclose(t.numpy(), e + 0.1 * (p - e), rtol=1e-6)
    acc, g = _tl(3), _tl(4)
    a0, g0 = [t.numpy().copy() for t in acc], [t.numpy() for t in g]
    rustdl._foreach_addcmul_(acc, g, g, value=0.5)
    for t, x, y in zip(acc, a0, g0):
        np.testing.assert_allclose(t.numpy(), x + 0.5 * y * y, rtol=1e-6)
    norms = rustdl._foreach_norm(g)
    np.testing.assert_allclose([n.item() for n in norms], [np.linalg.norm(y) for y in g0], rtol=1e-6)
    np.testing.assert_allclose(
        [n.item() for n in rustdl._foreach_norm(g, float("inf"))], [np.abs(y).max() for y in g0], rtol=1e-6
    )
    rustdl._foreach_zero_(acc)
    assert all(t.abs().sum().item() == 0 for t in acc)
    # out-of-place forms are differentiable
    ps = [rustdl.tensor([0.5, -1.0], requires_grad=True), rustdl.tensor([2.0], requires_grad=True)]
    outs = rustdl._foreach_exp(rustdl._foreach_mul(ps, [2.0, 3.0]))
    sum(o.sum() for o in outs).backward()
    np.testing.assert_allclose(ps[0].grad.numpy(), 2 * np.exp(2 * np.array([0.5, -1.0])), rtol=1e-6)
    np.testing.assert_allclose(ps[1].grad.numpy(), 3 * np.exp([6.0]), rtol=1e-6)


# ------------------------------------------------------------------------------------------
# with a GPU default device, ops on CPU tensors keep their helpers and results on the CPU
# (internal tensors made from numpy used to land on the default device)
# ------------------------------------------------------------------------------------------


def test_cpu_ops_under_a_gpu_default_device(gpu):
    import rustdl.nn.functional as F

    x = rustdl.from_numpy(np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0], [2.0, 1.0, 4.0]], dtype=np.float32))
    ref = x.numpy().copy()
    old = rustdl.get_default_device()
    rustdl.set_default_device("gpu")
    try:
        cases = {
            "fill_diagonal_": lambda: x.clone().fill_diagonal_(2.0),
            "pow_scalar_base": lambda: rustdl.pow(2.0, x),
            "atan2": lambda: rustdl.atan2(x, x + 1),
            "signbit": lambda: rustdl.signbit(x),
            "cummax": lambda: x.cummax(0)[0],
            "unique": lambda: x.unique(),
            "logcumsumexp": lambda: x.logcumsumexp(0),
            "inv": lambda: rustdl.linalg.inv(x),
            "pinv": lambda: rustdl.linalg.pinv(x),
            "histc": lambda: x.histc(4),
            "bincount": lambda: rustdl.tensor([0, 1, 1], device="cpu").bincount(),
            "scatter_value": lambda: x.scatter(0, rustdl.zeros(1, 3, dtype=rustdl.int64, device="cpu"), 1.0),
            "ldexp": lambda: rustdl.ldexp(x, 2),
            "conv": lambda: F.conv2d(x[None, None], x[None, None]),
        }
        for name, fn in cases.items():
            out = fn()
            assert out.device.type == "cpu", name
        np.testing.assert_allclose(rustdl.pow(2.0, x).numpy(), 2.0**ref, rtol=1e-6)
        np.testing.assert_allclose(x.clone().fill_diagonal_(9.0).numpy().diagonal(), [9.0] * 3)
        np.testing.assert_allclose(rustdl.linalg.inv(x).numpy(), np.linalg.inv(ref), rtol=1e-4, atol=1e-5)
        assert x.histc(4).tolist() == np.histogram(ref, 4, (ref.min(), ref.max()))[0].tolist()
        # float64 on the CPU works whatever the default device (the GPU has no float64)
        x64 = rustdl.from_numpy(ref.astype(np.float64))
        t3 = rustdl.special.chebyshev_polynomial_t(x64, 3)  # T3(x) = 4x³ - 3x
        assert t3.dtype == rustdl.float64 and t3.device.type == "cpu"
        np.testing.assert_allclose(t3.numpy(), 4 * ref.astype(np.float64) ** 3 - 3 * ref, rtol=1e-12)
        w = rustdl.empty(4, 4, dtype=rustdl.float64, device="cpu")
        nn.init.orthogonal_(w)
        np.testing.assert_allclose(w.numpy() @ w.numpy().T, np.eye(4), atol=1e-12)
    finally:
        rustdl.set_default_device(old)


def test_function_returning_its_input_gives_a_new_tensor_even_without_a_graph():
    class Ident(rustdl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = rustdl.ones(3, requires_grad=True)
    with rustdl.no_grad():
        y = Ident.apply(x)
    assert y is not x and not y.requires_grad
    y[0] = 5.0  # the same memory, as PyTorch
    assert x.tolist() == [5.0, 1.0, 1.0]
    z = rustdl.ones(2)
    w = Ident.apply(z)
    assert w is not z and not w.requires_grad
    x = rustdl.ones(3, requires_grad=True)
    out = Ident.apply(x)
    assert out is not x
    (out * 2).sum().backward()
    assert x.grad.tolist() == [6.0] * 3


# ------------------------------------------------------------------------------------------
# unfold and as_strided are views, as PyTorch's: writes through them reach the tensor (they
# were copies, so `x.unfold(...)[...] *= 2` silently left x unchanged)
# ------------------------------------------------------------------------------------------


def test_unfold_and_as_strided_write_through_and_differentiate(device):
    z = rustdl.zeros(6, device=device)
    z.unfold(0, 2, 2)[:, 1].fill_(5.0)
    assert z.tolist() == [0.0, 5.0, 0.0, 5.0, 0.0, 5.0]
    a = rustdl.arange(10.0, device=device)
    a[2:].as_strided((2, 2), (1, 3), 3).mul_(10)
    assert a.tolist() == [0.0, 1.0, 2.0, 30.0, 40.0, 5.0, 60.0, 70.0, 8.0, 9.0]
    # overlapping windows: each element's gradient sums the weights of the windows reading it
    x = rustdl.arange(12.0, device=device).reshape(4, 3).requires_grad_()
    u = (x * 1).unfold(0, 2, 1)
    assert tuple(u.shape) == (3, 3, 2) and u.stride() == (3, 1, 3)
    w = np.arange(18.0).reshape(3, 3, 2)
    (u * rustdl.tensor(w, dtype=rustdl.float32, device=device)).sum().backward()
    ref = np.zeros((4, 3))
    for i in range(3):
        for k in range(2):
            ref[i + k] += w[i, :, k]
    np.testing.assert_allclose(x.grad.cpu().numpy(), ref)
    # a write through the view of a non-leaf is seen by autograd (the view's region routes to the
    # written value)
    x = rustdl.ones(6, device=device, requires_grad=True)
    y = x * 1
    y.unfold(0, 3, 3)[1].mul_(4)
    (y * rustdl.arange(6.0, device=device)).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 2.0, 12.0, 16.0, 20.0]
    # an expanded input (elements sharing memory) still gets one gradient per read
    e = rustdl.arange(3.0, device=device, requires_grad=True)
    e.expand(4, 3).unfold(1, 2, 1).sum().backward()
    assert e.grad.tolist() == [4.0, 8.0, 4.0]


def test_storage_handles_identify_shared_memory(device):
    base = rustdl.arange(10.0, device=device)
    x = base[2:6]
    s = x.untyped_storage()
    assert (
        isinstance(s, rustdl.UntypedStorage) and s.nbytes() == 40 and len(s) == 40 and s.element_size() == 1
    )
    t = x.storage()
    assert isinstance(t, rustdl.TypedStorage) and t.size() == 10 and t.dtype == rustdl.float32
    assert t.tolist() == [float(i) for i in range(10)] and t[3] == 3.0 and t.nbytes() == 40
    assert s.data_ptr() == t.data_ptr() == base.untyped_storage().data_ptr()
    if device == "cpu":  # a view's first element is its offset into the storage's bytes
        assert x.data_ptr() - s.data_ptr() == 2 * 4
    # views, detach() and tied weights share; a clone or another parameter does not
    assert base.view(2, 5).t().untyped_storage().data_ptr() == s.data_ptr()
    assert base.detach().untyped_storage().data_ptr() == s.data_ptr()
    assert base.clone().untyped_storage().data_ptr() != s.data_ptr()
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.weight = a.weight
    assert a.weight.untyped_storage().data_ptr() == b.weight.untyped_storage().data_ptr()
    assert a.bias.untyped_storage().data_ptr() != b.bias.untyped_storage().data_ptr()
    assert rustdl.zeros(0).untyped_storage().nbytes() == 0
    assert t.untyped().nbytes() == 40


def test_global_module_hooks_run_before_each_modules_own():
    from rustdl.nn.modules import module as M

    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    calls = []
    handles = [
        M.register_module_forward_pre_hook(lambda mod, args: calls.append(("pre", type(mod).__name__))),
        M.register_module_forward_hook(lambda mod, args, out: calls.append(("fwd", type(mod).__name__))),
        m[0].register_forward_hook(lambda mod, a, o: calls.append(("own", type(mod).__name__))),
        M.register_module_full_backward_hook(lambda mod, gi, go: calls.append(("bwd", type(mod).__name__))),
    ]
    x = rustdl.randn(5, 3, requires_grad=True)
    m(x).sum().backward()
    fwd = [c for c in calls if c[0] != "bwd"]
    assert fwd == [
        ("pre", "Sequential"), ("pre", "Linear"), ("fwd", "Linear"), ("own", "Linear"),
        ("pre", "ReLU"), ("fwd", "ReLU"), ("pre", "Linear"), ("fwd", "Linear"), ("fwd", "Sequential"),
    ]  # fmt: skip
    # gradients flow from the output inwards: the last layer's hook first, the container's last
    assert [c for c in calls if c[0] == "bwd"] == [
        ("bwd", "Linear"),
        ("bwd", "ReLU"),
        ("bwd", "Linear"),
        ("bwd", "Sequential"),
    ]
    for h in handles:
        h.remove()
    plain = m(x).detach().numpy()
    # a global forward hook with kwargs may replace outputs: each Linear's output doubled
    doubled = M.register_module_forward_hook(
        lambda mod, args, kw, out: out * 2 if isinstance(mod, nn.Linear) else None, with_kwargs=True
    )
    got = m(x).detach().numpy()
    doubled.remove()
    w0, b0, w2, b2 = (t.detach().numpy() for t in (m[0].weight, m[0].bias, m[2].weight, m[2].bias))
    h = np.maximum(2 * (x.detach().numpy() @ w0.T + b0), 0)
    np.testing.assert_allclose(got, 2 * (h @ w2.T + b2), rtol=1e-5, atol=1e-6)
    calls.clear()
    np.testing.assert_allclose(m(x).detach().numpy(), plain, rtol=1e-6)
    assert calls == []
