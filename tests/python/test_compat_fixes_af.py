"""PyTorch names libraries import that rustdl now serves: pytree key paths, ``torch._utils``,
``torch.utils.weak``, ``torch.utils._contextlib``; module dunders listed by ``dir()``."""

from __future__ import annotations

import collections
import gc

import pytest
import rustdl
import rustdl.utils._pytree as pt
from rustdl.torchcompat import _torch_private_utils as U
from rustdl.torchcompat import _torch_utils_contextlib as C
from rustdl.torchcompat import _torch_utils_weak as W

P = collections.namedtuple("P", "x y")


def test_pytree_key_paths_name_every_leaf():
    tree = {"a": [1, (2, 3)], "b": P(4, [5]), "c": collections.OrderedDict(z=6)}
    pairs, spec = pt.tree_flatten_with_path(tree)
    assert [(pt.keystr(k), v) for k, v in pairs] == [
        ("['a'][0]", 1), ("['a'][1][0]", 2), ("['a'][1][1]", 3), ("['b'].x", 4), ("['b'].y[0]", 5),
        ("['c']['z']", 6),
    ]  # fmt: skip
    assert spec == pt.tree_structure(tree)
    assert all(pt.key_get(tree, k) == v for k, v in pairs)
    mapped = pt.tree_map_with_path(
        lambda kp, v, w: f"{pt.keystr(kp)}={v + w}", [1, {"q": 2}], [10, {"q": 20}]
    )
    assert mapped == ["[0]=11", {"q": "[1]['q']=22"}]

    class Box:
        def __init__(self, v):
            self.v = v

    pt.register_pytree_node(Box, lambda b: ([b.v], None), lambda vs, _: Box(vs[0]))
    with pytest.raises(ValueError, match="flatten_with_keys_fn"):
        pt.tree_flatten_with_path([Box(1)])


def test_pytree_tells_named_tuples_from_result_structseqs():
    r = rustdl.ones(2, 2).max(0)
    assert pt.is_structseq_instance(r) and not pt.is_namedtuple_instance(r)
    assert pt.is_namedtuple(P) and pt.is_namedtuple_instance(P(1, 2)) and not pt.is_structseq(P)


def test_flattening_tensors_into_one_buffer_and_back():
    ts = [rustdl.arange(3.0), rustdl.ones(2, 2)]
    flat = U._flatten_dense_tensors(ts)
    assert flat.tolist() == [0.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0]
    back = U._unflatten_dense_tensors(flat, ts)
    assert [b.tolist() for b in back] == [t.tolist() for t in ts]
    back[0].fill_(7.0)  # views of the buffer
    assert flat[:3].tolist() == [7.0, 7.0, 7.0]
    assert list(U._accumulate([1, 2, 3])) == [1, 3, 6]
    assert U._get_device_index("cuda:1") == 1 and U._get_device_index("cpu", allow_cpu=True) == -1
    with pytest.raises(ValueError):
        U._get_device_index(None)


def test_weak_id_dictionary_holds_keys_by_identity_without_keeping_them():
    d = W.WeakIdKeyDictionary()
    a, b = rustdl.ones(2), rustdl.ones(2)
    d[a], d[b] = "a", "b"
    assert len(d) == 2 and d[a] == "a" and d[b] == "b" and rustdl.ones(2) not in d
    del b
    gc.collect()
    assert len(d) == 1 and list(d) == [a]
    assert W.TensorWeakRef(a)() is a


def test_decorator_context_managers_wrap_functions_and_generators():
    class Depth(C._DecoratorContextManager):
        level = 0

        def __enter__(self):
            Depth.level += 1

        def __exit__(self, *exc):
            Depth.level -= 1

    @Depth()
    def f():
        return Depth.level

    @Depth()
    def g():
        yield Depth.level
        yield Depth.level

    assert f() == 1 and list(g()) == [1, 1] and Depth.level == 0

    class Bare(C._NoParamDecoratorContextManager, Depth):
        pass

    @Bare
    def h():
        return Depth.level

    assert h() == 1


def test_facades_answer_the_module_dunders_dir_lists():
    from rustdl import torchcompat

    torchcompat.install()
    try:
        import torch
        import torch.distributions as D

        for mod in (D, torch.nn, torch.linalg):
            assert [n for n in dir(mod) if not hasattr(mod, n)] == []
        dunders = [n for n in dir(torch) if n.startswith("__") and n.endswith("__")]
        assert "__builtins__" in dunders and [n for n in dunders if not hasattr(torch, n)] == []
    finally:
        torchcompat.uninstall()


def test_dispatch_modes_import_and_refuse_to_run():
    from rustdl.torchcompat import _torch_python_dispatch as D

    class Counting(D.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    with pytest.raises(NotImplementedError, match="ATen"):
        with Counting():
            pass
    assert D._get_current_dispatch_mode() is None and not D.is_traceable_wrapper_subclass(rustdl.ones(1))
    with D._disable_current_modes():
        pass


def test_a_tensor_cannot_be_its_own_gradient():
    w = rustdl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="its own grad"):
        w.grad = w
    assert w.grad is None
    w.grad = rustdl.zeros(2)
    (w * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


def _hook(*args):
    return None


def test_library_fixes_found_with_gpytorch_and_botorch():
    import pickle

    import rustdl.nn as nn
    from rustdl.testing import assert_close

    # a module that registered an older-form load_state_dict pre-hook still pickles
    m = nn.Linear(2, 2)
    m._register_load_state_dict_pre_hook(_hook)
    back = pickle.loads(pickle.dumps(m))
    assert back.weight.tolist() == m.weight.tolist()

    # a 0-d parameter loads a one-element value (older checkpoints), as PyTorch's
    class Scalar(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = nn.Parameter(rustdl.tensor(0.0))

    s = Scalar()
    s.load_state_dict({"p": rustdl.tensor([1.5])})
    assert s.p.shape == () and s.p.item() == 1.5
    with pytest.raises(RuntimeError, match="size mismatch"):
        s.load_state_dict({"p": rustdl.tensor([1.5, 2.0])})

    # tolerances as 0-d tensors
    x = rustdl.ones(3)
    assert_close(x, x + 0.01, rtol=0, atol=rustdl.tensor(0.1))
    with pytest.raises(AssertionError):
        assert_close(x, x + 0.5, rtol=0, atol=rustdl.tensor(0.1))

    # one value written through a mask into an expanded tensor (a constant fill)
    e = rustdl.zeros(1, 3).expand(4, 3)
    e[rustdl.tensor([[True, False, False]] * 4)] = -1.0
    assert e.tolist() == [[-1.0, 0.0, 0.0]] * 4
    with pytest.raises(RuntimeError, match="single memory location"):
        e[rustdl.tensor([[True, False, False]] * 4)] = rustdl.tensor([1.0, 2.0, 3.0, 4.0])
