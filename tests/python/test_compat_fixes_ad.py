"""Fixes found running third-party libraries (stable-baselines3, pyro, opacus, higher) under
rustdl.torchcompat: references are PyTorch's documented behaviour, the standard pickle protocol,
numpy and closed forms."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import rustdl
from conftest import compat_report, run_compat


def test_pickles_of_dtypes_devices_sizes_and_the_tensor_class_name_torch(tmp_path):
    # a script's own pickle (a replay buffer holding its device) names torch.*, as PyTorch's does,
    # so PyTorch reads it; a Size stays a Size through pickle / copy / deepcopy
    proc = run_compat(
        tmp_path,
        """
        import copy, json, pickle, pickletools, torch
        obj = {"d": torch.device("cuda", 0), "c": torch.device("cpu"), "dt": torch.int64,
               "T": torch.Tensor, "s": torch.Size([2, 3])}
        data = pickle.dumps(obj, protocol=2)
        names = sorted({a for op, a, _ in pickletools.genops(data) if op.name == "GLOBAL"})
        back = pickle.loads(data)
        s = torch.Size([2, 3])
        print(json.dumps({"names": names, "dt": str(back["dt"]), "T": back["T"] is torch.Tensor,
                          "c": str(back["c"]), "size": [type(f(s)).__name__ for f in
                          (copy.copy, copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v)))],
                          "numel": copy.deepcopy(s).numel(), "module": torch.Tensor.__module__}))
        """,
    )
    r = compat_report(proc)
    assert r["names"] == ["torch Size", "torch Tensor", "torch device", "torch int64"]
    assert r["dt"] == "torch.int64" and r["T"] and r["c"] == "cpu"
    assert r["size"] == ["Size", "Size", "Size"] and r["numel"] == 6 and r["module"] == "torch"
    # outside the compat layer the classes are rustdl's again
    assert rustdl.Tensor.__module__ == "rustdl"
    assert pickle.loads(pickle.dumps(rustdl.float64)) is rustdl.float64


def test_modules_have_pytorchs_hook_tables_from_the_start():
    from collections import OrderedDict

    m = rustdl.nn.Linear(2, 2)
    for name in (
        "_forward_pre_hooks", "_forward_hooks", "_backward_hooks", "_backward_pre_hooks",
        "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
        "_load_state_dict_post_hooks", "_forward_hooks_with_kwargs",
        "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called",
    ):  # fmt: skip
        assert isinstance(getattr(m, name), OrderedDict) and not getattr(m, name), name
    assert m._is_full_backward_hook is None
    # a kwargs hook is recorded by id (as PyTorch's OrderedDict of id -> True) and removable
    seen = []
    h = m.register_forward_hook(lambda mod, args, kwargs, out: seen.append(sorted(kwargs)), with_kwargs=True)
    m(rustdl.ones(1, 2))
    assert seen == [[]] and list(m._forward_hooks_with_kwargs.values()) == [True]
    h.remove()
    assert not m._forward_hooks_with_kwargs and not m._forward_hooks


def test_named_members_takes_a_function_as_pytorchs():
    net = rustdl.nn.Sequential(rustdl.nn.Linear(2, 3), rustdl.nn.ReLU(), rustdl.nn.Linear(3, 1))
    got = [n for n, _ in net._named_members(lambda mod: mod._parameters.items())]
    assert got == [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in net._named_members(lambda mod: mod._parameters.items(), prefix="m")][
        0
    ] == "m.0.weight"


def test_normal_takes_zero_dim_tensors_with_a_size():
    rustdl.manual_seed(0)
    a = rustdl.normal(mean=0.0, std=rustdl.tensor(0.5), size=(2, 3))
    rustdl.manual_seed(0)
    b = rustdl.normal(0.0, 0.5, size=(2, 3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert tuple(rustdl.normal(rustdl.tensor(1.0), 2.0, size=(4,)).shape) == (4,)
    with pytest.raises(TypeError):  # a tensor of several means has its own shape: no size
        rustdl.normal(rustdl.zeros(2), 1.0, size=(2,))


def test_adagrad_starts_its_accumulator_in_the_constructor():
    p = rustdl.nn.Parameter(rustdl.ones(2))
    opt = rustdl.optim.Adagrad([p], lr=0.1, initial_accumulator_value=0.5)
    st = opt.state_dict()["state"][0]
    assert float(st["step"]) == 0.0 and st["sum"].tolist() == [0.5, 0.5]
    p.sum().backward()
    opt.step()
    # sum = 0.5 + g² = 1.5; p = 1 - lr · g / (√sum + eps)
    np.testing.assert_allclose(p.detach().numpy(), 1 - 0.1 / (np.sqrt(1.5) + 1e-10), rtol=1e-6)
    assert float(opt.state_dict()["state"][0]["step"]) == 1.0


def test_adamw_and_adagrad_live_in_their_own_modules():
    from rustdl.optim import adagrad, adamw

    assert adamw.AdamW is rustdl.optim.AdamW and adagrad.Adagrad is rustdl.optim.Adagrad
    assert rustdl.optim.AdamW.__module__ == "rustdl.optim.adamw"
    assert rustdl.optim.Adagrad.__module__ == "rustdl.optim.adagrad"
    assert pickle.loads(pickle.dumps(rustdl.optim.AdamW)) is rustdl.optim.AdamW


def test_functional_call_strict_counts_tied_names_as_given():
    from rustdl.func import functional_call

    class Tied(rustdl.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = rustdl.nn.Linear(3, 3, bias=False)
            self.b = rustdl.nn.Linear(3, 3, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    out = functional_call(Tied(), {"a.weight": rustdl.eye(3) * 2}, (rustdl.ones(1, 3),), strict=True)
    assert out.tolist() == [[4.0, 4.0, 4.0]]  # (2I)(2I)·1
    with pytest.raises(RuntimeError, match="b.weight"):
        functional_call(
            Tied(), {"a.weight": rustdl.eye(3)}, (rustdl.ones(1, 3),), strict=True, tie_weights=False
        )


@pytest.mark.parametrize("cls", ["GRU", "LSTM", "RNN"])
def test_assigned_flat_weights_drive_the_rnn(cls):
    rustdl.manual_seed(0)
    make = getattr(rustdl.nn, cls)
    m = make(2, 3, num_layers=2, bidirectional=True)
    x = rustdl.randn(4, 1, 2)
    new = [w.detach() * 2 for w in m._flat_weights]
    m._flat_weights = new
    ref = make(2, 3, num_layers=2, bidirectional=True)
    with rustdl.no_grad():
        for n, w in zip(ref._flat_weights_names, new):
            getattr(ref, n).copy_(w)
    np.testing.assert_allclose(m(x)[0].detach().numpy(), ref(x)[0].detach().numpy(), rtol=1e-6, atol=1e-7)
    # a weight assigned by name replaces its entry; _init_flat_weights goes back to the names
    zero = rustdl.nn.Parameter(rustdl.zeros(m.weight_ih_l0.shape))
    m.weight_ih_l0 = zero
    assert m._flat_weights[0] is zero and m._flat_weights[1] is new[1]
    m._init_flat_weights()
    assert m._flat_weights[1] is m.weight_hh_l0
    with pytest.raises(ValueError, match="expected"):
        m._flat_weights = new[:3]


def test_module_cpu_does_not_go_through_a_subclass_to():
    class N(rustdl.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = rustdl.nn.Linear(2, 2)

        def to(self, *args, **kwargs):
            return self.cpu()

    n = N()
    assert n.to("cpu") is n and n.lin.weight.device.type == "cpu"


def test_complex_in_place_products_keep_their_saved_operands():
    # ifft(fft(a) · fft(b)) is the circular convolution of a and b, whose sum is sum(a)·sum(b):
    # d/da = sum(b), d/db = sum(a) (and for the quotient, checked against its out-of-place form)
    rustdl.manual_seed(0)
    a = rustdl.randn(5, requires_grad=True)
    b = rustdl.randn(5, requires_grad=True)
    x = rustdl.fft.fft(a)
    x.mul_(rustdl.fft.fft(b))
    rustdl.fft.ifft(x).real.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.full(5, b.detach().numpy().sum()), rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), np.full(5, a.detach().numpy().sum()), rtol=1e-5)
    grads = []
    for in_place in (True, False):
        a.grad = b.grad = None
        x, y = rustdl.fft.fft(a), rustdl.fft.fft(b + 3.0)
        if in_place:
            x.div_(y)
        else:
            x = x / y
        rustdl.fft.ifft(x).real.pow(2).sum().backward()
        grads.append((a.grad.numpy().copy(), b.grad.numpy().copy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-6)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-6)


def test_sharding_modules_import_and_refuse_to_shard(tmp_path):
    proc = run_compat(
        tmp_path,
        """
        import json, torch
        from torch.distributed.tensor import DTensor, Shard
        from torch.distributed.fsdp import FSDPModule, FullyShardedDataParallel, ShardingStrategy
        from torch.distributed._composable.fsdp import FSDPModule as F2
        from torch.distributed._tensor.experimental import implicit_replication
        from torch.distributed.algorithms.join import Join, Joinable, JoinHook
        from torch.utils.data.dataloader import _collate_fn_t
        from torch.serialization import MAP_LOCATION
        out = {"isinstance": [isinstance(torch.ones(2), DTensor), isinstance(torch.nn.Linear(2, 2), FSDPModule)],
               "same": FSDPModule is F2, "shard": repr(Shard(0))}
        try:
            FullyShardedDataParallel(torch.nn.Linear(2, 2))
        except NotImplementedError as e:
            out["fsdp"] = "DistributedDataParallel" in str(e)
        with implicit_replication():
            out["replication"] = True
        class Hook(JoinHook):
            def post_hook(self, is_last_joiner):
                out["post"] = is_last_joiner
        class J(Joinable):
            def join_hook(self, **kw): return Hook()
            join_device = property(lambda self: torch.device("cpu"))
            join_process_group = property(lambda self: None)
        with Join([J()]):
            pass
        out["cdata"] = torch.ones(1)._cdata > 0
        print(json.dumps(out))
        """,
    )
    r = compat_report(proc)
    assert r == {"isinstance": [False, False], "same": True, "shard": "Shard(dim=0)", "fsdp": True,
                 "replication": True, "post": True, "cdata": True}  # fmt: skip


def test_sixteen_bit_dtypes_read_from_bytes_into_float32():
    f16, bf16 = rustdl.float16, rustdl.bfloat16
    halves = np.array([1.5, -2.25, 65504.0, 2.0**-14], dtype=np.float16)
    as_bytes = rustdl.from_numpy(halves.view(np.uint8).copy())
    got = as_bytes.view(f16)
    assert got.dtype == rustdl.float32 and got.tolist() == halves.astype(np.float32).tolist()
    assert (
        rustdl.frombuffer(bytearray(halves.tobytes()), dtype=f16).tolist()
        == halves.astype(np.float32).tolist()
    )
    # bfloat16: the top half of a float32
    f32 = np.array([1.5, -3.0, 2.0**100], dtype=np.float32)
    top = (f32.view(np.uint32) >> 16).astype(np.uint16)
    assert rustdl.frombuffer(bytearray(top.tobytes()), dtype=bf16).tolist() == f32.tolist()
    assert rustdl.from_numpy(top.view(np.uint8).copy()).view(bf16).tolist() == f32.tolist()
    # a float32 tensor made "in float16" views as itself
    assert rustdl.ones(2).to(f16).view(f16).tolist() == [1.0, 1.0]
    # PyTorch's limits and promotion rules for the 16-bit types
    assert rustdl.finfo(f16).max == 65504.0 and rustdl.finfo(f16).eps == 2.0**-10
    assert rustdl.finfo(bf16).eps == 2.0**-7
    assert rustdl.promote_types(f16, rustdl.float32) == rustdl.float32
    assert (
        rustdl.promote_types(f16, bf16) == rustdl.float32 and rustdl.promote_types(f16, rustdl.int64) == f16
    )
    assert pickle.loads(pickle.dumps(bf16)) is bf16


def test_untyped_storage_from_a_file_slices_and_reads_as_dtypes(tmp_path):
    from rustdl._storage import UntypedStorage

    raw = np.arange(3, dtype=np.float32).tobytes() + np.array([1.0, 2.0], dtype=np.float16).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(raw)
    st = UntypedStorage.from_file(str(path), shared=False, nbytes=len(raw))
    assert st.nbytes() == 16 and st[0] == raw[0] and st.untyped() is st
    floats = rustdl.asarray(st[0:12], dtype=rustdl.uint8).view(rustdl.float32)
    assert floats.tolist() == [0.0, 1.0, 2.0]
    assert rustdl.asarray(st[12:16], dtype=rustdl.uint8).view(rustdl.float16).tolist() == [1.0, 2.0]
    assert UntypedStorage.from_file(str(path), nbytes=4).nbytes() == 4
    with pytest.raises(RuntimeError, match="fewer"):
        UntypedStorage.from_file(str(path), nbytes=100)
    with pytest.raises(NotImplementedError, match="shared"):
        UntypedStorage.from_file(str(path), shared=True, nbytes=4)


def test_safetensors_files_keep_four_byte_floats_and_read_half_precision(tmp_path):
    # safetensors sizes each tensor by a dtype-keyed table: with float16 its own dtype, float32
    # tensors are written whole; a float16 file (written by numpy here) reads into float32
    from safetensors.numpy import save_file as np_save

    np_save({"h": np.array([1.5, -2.0, 0.25], dtype=np.float16)}, str(tmp_path / "half.safetensors"))
    proc = run_compat(
        tmp_path,
        """
        import json, os, torch
        from safetensors.torch import load_file, save_file, safe_open
        save_file({"w": torch.arange(6.0).reshape(2, 3), "i": torch.arange(3)}, "x.safetensors")
        back = load_file("x.safetensors")
        with safe_open("x.safetensors", framework="pt") as f:
            part = f.get_slice("w")[1:2].tolist()
        half = load_file("half.safetensors")["h"]
        print(json.dumps({"w": back["w"].tolist(), "i": back["i"].tolist(), "part": part,
                          "half": half.tolist(), "dtype": str(half.dtype)}))
        """,
    )
    r = compat_report(proc)
    assert r == {"w": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], "i": [0, 1, 2], "part": [[3.0, 4.0, 5.0]],
                 "half": [1.5, -2.0, 0.25], "dtype": "torch.float32"}  # fmt: skip
    # and the file itself is a valid safetensors file (read by numpy's loader)
    from safetensors.numpy import load_file as np_load

    np.testing.assert_array_equal(np_load(str(tmp_path / "x.safetensors"))["w"], np.arange(6.0).reshape(2, 3))


def test_topk_indices_and_as_strided_sizes_as_pytorch():
    rustdl.manual_seed(0)
    x = rustdl.rand(2, 100)
    values, idx = x.topk(4)
    assert idx.is_contiguous() and idx.view(-1).shape == (8,)
    ref = np.argsort(-x.numpy(), axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(idx.numpy(), ref)
    # 0-d integer tensors stand for ints in a size, as PyTorch's int lists take them
    got = rustdl.arange(12.0).as_strided([2, rustdl.tensor(2)], [1, rustdl.tensor(1)])
    assert got.tolist() == [[0.0, 1.0], [1.0, 2.0]]
    with pytest.raises(TypeError):
        rustdl.arange(4.0).as_strided([rustdl.tensor(1.5)], [1])


def test_one_element_size_lists_stand_for_every_dim():
    import rustdl.nn.functional as F

    x = rustdl.randn(1, 2, 6, 6)
    w = rustdl.randn(3, 2, 3, 3)
    ref = F.conv2d(x, w, stride=2, padding=1)
    np.testing.assert_allclose(F.conv2d(x, w, stride=[2], padding=(1,)).numpy(), ref.numpy(), rtol=1e-6)
    conv = rustdl.nn.Conv2d(2, 3, 3, stride=[2], padding=[1])
    assert conv.stride == (2, 2) and tuple(conv(x).shape) == (1, 3, 3, 3)
    np.testing.assert_array_equal(F.max_pool2d(x, [2]).numpy(), F.max_pool2d(x, 2).numpy())
    np.testing.assert_array_equal(F.avg_pool2d(x, [2], [1]).numpy(), F.avg_pool2d(x, 2, 1).numpy())
    v = rustdl.randn(1, 2, 4, 4, 4)
    np.testing.assert_allclose(
        F.conv3d(v, rustdl.ones(2, 2, 3, 3, 3), stride=[2]).numpy(),
        F.conv3d(v, rustdl.ones(2, 2, 3, 3, 3), stride=2).numpy(),
        rtol=1e-6,
    )
    with pytest.raises(rustdl.ArgumentError):  # three values for two dims
        F.conv2d(x, w, stride=[1, 1, 1])


def test_meta_device_block_leaves_the_random_stream_alone(tmp_path):
    proc = run_compat(
        tmp_path,
        """
        import json, torch
        torch.manual_seed(0)
        with torch.device("meta"):
            torch.nn.Linear(100, 100)
        a = torch.rand(2).tolist()
        torch.manual_seed(0)
        print(json.dumps({"after": a, "fresh": torch.rand(2).tolist()}))
        """,
    )
    r = compat_report(proc)
    assert r["after"] == r["fresh"]


def test_jit_trace_runs_the_function_as_pytorchs_tracer():
    calls = []

    def f(x):
        calls.append(1)
        return x + rustdl.randn(1)

    rustdl.manual_seed(0)
    draws = [rustdl.randn(1).item() for _ in range(5)]
    rustdl.manual_seed(0)
    rustdl.jit.trace(f, rustdl.zeros(1), check_trace=False)
    assert len(calls) == 1 and rustdl.randn(1).item() == draws[1]
    rustdl.manual_seed(0)
    calls.clear()
    rustdl.jit.trace(f, (rustdl.zeros(1),))  # the check reruns it: four draws in all
    assert len(calls) == 4 and rustdl.randn(1).item() == draws[4]


def test_compiler_and_backend_helpers_libraries_call(tmp_path):
    proc = run_compat(
        tmp_path,
        """
        import json, torch
        torch._dynamo.mark_static_address(torch.ones(2))
        before = torch.backends.cudnn.enabled
        with torch.backends.cudnn.flags(enabled=False, deterministic=True):
            inside = [torch.backends.cudnn.enabled, torch.backends.cudnn.deterministic]
        after = [torch.backends.cudnn.enabled, torch.backends.cudnn.deterministic]
        x = torch.randn(2, 3, requires_grad=True)
        y = x.softmax(-1)
        g = torch.randn(2, 3)
        (ref,) = torch.autograd.grad(y, x, g, retain_graph=True)
        got = torch._softmax_backward_data(g, y, -1, torch.float32)
        print(json.dumps({"before": before, "inside": inside, "after": after,
                          "types": [isinstance(torch._C.Graph, type), isinstance(torch._C.Value, type)],
                          "err": (got - ref).abs().max().item(), "grad": got.requires_grad}))
        """,
    )
    r = compat_report(proc)
    assert r["inside"] == [False, True] and r["after"] == [r["before"], False]
    assert r["types"] == [True, True] and r["err"] < 1e-6 and r["grad"]


def _flex_reference(q, k, v, score, mask):
    """Dense attention in numpy: scores (q·kᵀ/√E), the modifier, the mask, softmax, · v; a fully
    masked query gives 0."""
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    s = score(s)
    s = np.where(mask, s, -np.inf)
    top = np.max(s, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(s - top)
    tot = e.sum(-1, keepdims=True)
    return (e / np.where(tot > 0, tot, 1.0)) @ v, np.log(tot[..., 0]) + top[..., 0]


def test_flex_attention_matches_dense_attention_with_mods_and_masks():
    from rustdl.nn.attention.flex_attention import and_masks, create_block_mask, flex_attention, or_masks

    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 4, 12, 8)) for _ in range(3))
    k, v = k[:, :2], v[:, :2]  # grouped-query attention: 4 query heads over 2 key heads
    bias = rng.standard_normal((12, 12))
    qi, ki = np.arange(12)[:, None], np.arange(12)[None, :]
    hh = np.arange(4)[None, :, None, None]

    def causal(b, h, q_idx, kv_idx):
        return q_idx >= kv_idx

    def window(b, h, q_idx, kv_idx):
        return q_idx - kv_idx <= 3

    tb = rustdl.tensor(bias)

    def mod(score, b, h, q_idx, kv_idx):
        return score + tb[q_idx, kv_idx] + h * 0.25

    mask = create_block_mask(and_masks(causal, window), None, None, 12, 12, device="cpu", BLOCK_SIZE=4)
    T = [rustdl.tensor(a, requires_grad=True) for a in (q, k, v)]
    out, lse = flex_attention(*T, score_mod=mod, block_mask=mask, enable_gqa=True, return_lse=True)
    kk, vv = np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1)
    ref, ref_lse = _flex_reference(q, kk, vv, lambda s: s + bias + hh * 0.25, (qi >= ki) & (qi - ki <= 3))
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lse.detach().numpy(), ref_lse, rtol=1e-10)
    # the block view: a 4x4 block is on where any pair in it is allowed
    dense = mask.to_dense()[0, 0].tolist()
    assert dense == [[1, 0, 0], [1, 1, 0], [0, 1, 1]]
    # gradients against central differences of the reference (in the query)
    w = rng.standard_normal(out.shape)
    (out * rustdl.tensor(w)).sum().backward()
    eps, i = 1e-6, (1, 3, 5, 2)
    qp, qm = q.copy(), q.copy()
    qp[i] += eps
    qm[i] -= eps

    def f(qq):
        mask_ref = (qi >= ki) & (qi - ki <= 3)
        return (_flex_reference(qq, kk, vv, lambda s: s + bias + hh * 0.25, mask_ref)[0] * w).sum()

    assert abs(T[0].grad.numpy()[i] - (f(qp) - f(qm)) / (2 * eps)) < 1e-6
    # a query whose keys are all masked gets zeros
    none_then_first = or_masks(
        lambda b, h, q_idx, kv_idx: q_idx < 0, lambda b, h, q_idx, kv_idx: (q_idx > 3) & (kv_idx == 0)
    )
    m2 = create_block_mask(none_then_first, None, None, 12, 12, device="cpu")
    z = flex_attention(*(t.detach() for t in T), block_mask=m2, enable_gqa=True)
    assert np.all(z.numpy()[:, :, :4] == 0) and np.allclose(
        z.numpy()[:, :, 4:], np.repeat(v, 2, axis=1)[:, :, :1]
    )


def test_low_precision_dtype_names_exist_for_tables(tmp_path):
    proc = run_compat(
        tmp_path,
        """
        import json, torch
        from torch._dynamo._trace_wrapped_higher_order_op import TransformGetItemToIndex
        names = [torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz, torch.float8_e5m2fnuz]
        with TransformGetItemToIndex():
            pass
        try:
            torch.zeros(2, dtype=torch.float8_e4m3fn)
            refused = False
        except TypeError:
            refused = True
        print(json.dumps({"distinct": len(set(names)), "float": [d.is_floating_point for d in names],
                          "size": torch.float8_e5m2.itemsize, "repr": repr(torch.float8_e4m3fn), "refused": refused}))
        """,
    )
    r = compat_report(proc)
    assert r == {
        "distinct": 4,
        "float": [True] * 4,
        "size": 1,
        "repr": "torch.float8_e4m3fn",
        "refused": True,
    }


def test_random_like_of_a_non_dense_input_draws_as_a_fresh_tensor():
    # PyTorch's *_like give a contiguous result for an input whose elements do not tile their
    # memory (expanded, stepped), filled as randn(shape) is; a dense permuted one keeps its layout
    for make in (lambda: rustdl.zeros(1).expand(20), lambda: rustdl.zeros(20, 1).expand(20, 3),
                 lambda: rustdl.zeros(8, 10)[:, ::2]):  # fmt: skip
        src = make()
        rustdl.manual_seed(0)
        a = rustdl.randn_like(src)
        rustdl.manual_seed(0)
        b = rustdl.randn(*src.shape)
        assert a.is_contiguous() and a.tolist() == b.tolist()
        rustdl.manual_seed(0)
        a = rustdl.rand_like(src)
        rustdl.manual_seed(0)
        assert a.tolist() == rustdl.rand(*src.shape).tolist()
    t = rustdl.zeros(4, 5).t()
    assert rustdl.randn_like(t).stride() == t.stride()


@pytest.mark.parametrize(
    "cls,kw", [("LSTM", {}), ("GRU", {}), ("RNN", {}), ("LSTM", {"num_layers": 2, "bidirectional": True})]
)
def test_double_backward_through_recurrent_layers(cls, kw):
    # a gradient penalty ||d/dx Σ out²||² differentiated to the recurrent weights, against central
    # differences of the penalty computed with first-order gradients only (the fused kernel's)
    rustdl.manual_seed(0)
    m = getattr(rustdl.nn, cls)(3, 4, **kw).double()
    x = rustdl.randn(5, 2, 3, dtype=rustdl.float64, requires_grad=True)

    def penalty(create_graph):
        out = m(x)[0]
        (g,) = rustdl.autograd.grad(out.pow(2).sum(), x, create_graph=create_graph)
        return g.pow(2).sum()

    penalty(True).backward()
    w = m.weight_hh_l0
    analytic = float(w.grad[1, 2])
    eps = 1e-6
    with rustdl.no_grad():
        w[1, 2] += eps
    up = penalty(False).item()
    with rustdl.no_grad():
        w[1, 2] -= 2 * eps
    down = penalty(False).item()
    with rustdl.no_grad():
        w[1, 2] += eps
    assert abs(analytic - (up - down) / (2 * eps)) < 1e-6 * max(1.0, abs(analytic))
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_recurrent_backward_twice_through_a_retained_graph():
    rustdl.manual_seed(0)
    m = rustdl.nn.GRU(3, 4).double()
    x = rustdl.randn(5, 2, 3, dtype=rustdl.float64)
    loss = m(x)[0].pow(2).sum()
    loss.backward(retain_graph=True)
    once = m.weight_hh_l0.grad.clone()
    loss.backward()
    np.testing.assert_allclose(m.weight_hh_l0.grad.numpy(), 2 * once.numpy(), rtol=1e-12)


def test_per_sample_gradients_equal_one_backward_per_example():
    from rustdl.nn.utils._per_sample_grad import call_for_per_sample_grads

    rustdl.manual_seed(0)
    m = rustdl.nn.Sequential(rustdl.nn.Linear(4, 3), rustdl.nn.Tanh(), rustdl.nn.Linear(3, 2)).double()
    x = rustdl.randn(5, 4, dtype=rustdl.float64, requires_grad=True)
    call_for_per_sample_grads(m)(x).pow(2).sum().backward()
    samples = [p.grad_sample.numpy().copy() for p in m.parameters()]
    assert all(p.grad is None for p in m.parameters())
    input_grad = x.grad.numpy().copy()
    for i in range(5):  # the reference: one ordinary backward per example
        m.zero_grad()
        m(x[i : i + 1].detach()).pow(2).sum().backward()
        for s, p in zip(samples, m.parameters()):
            np.testing.assert_allclose(s[i], p.grad.numpy(), rtol=1e-12)
    x2 = x.detach().requires_grad_(True)
    m(x2).pow(2).sum().backward()
    np.testing.assert_allclose(input_grad, x2.grad.numpy(), rtol=1e-12)
    # a mean loss: each example's gradient scaled back by the batch size
    for p in m.parameters():
        del p.grad_sample
    call_for_per_sample_grads(m, loss_reduction="mean")(x.detach()).pow(2).mean(0).sum().backward()
    for s, p in zip(samples, m.parameters()):
        np.testing.assert_allclose(p.grad_sample.numpy(), s, rtol=1e-12)
    with pytest.raises(RuntimeError, match="loss_reduction"):
        call_for_per_sample_grads(m, loss_reduction="max")


@pytest.mark.parametrize("kind", ["plain", "causal", "mask"])
def test_double_backward_through_fused_attention(kind):
    # ||d/dq Σ out²||² differentiated to the keys, against central differences of the penalty
    # computed with first-order gradients only (the fused kernel's)
    import rustdl.nn.functional as F

    rustdl.manual_seed(0)
    q = rustdl.randn(2, 2, 5, 4, dtype=rustdl.float64, requires_grad=True)
    k = rustdl.randn(2, 2, 6, 4, dtype=rustdl.float64, requires_grad=True)
    v = rustdl.randn(2, 2, 6, 3, dtype=rustdl.float64, requires_grad=True)
    kw = {"causal": {"is_causal": True}, "mask": {"attn_mask": rustdl.rand(5, 6) > 0.3}, "plain": {}}[kind]

    def penalty(create_graph):
        out = F.scaled_dot_product_attention(q, k, v, **kw)
        (g,) = rustdl.autograd.grad(out.pow(2).sum(), q, create_graph=create_graph)
        return g.pow(2).sum()

    penalty(True).backward()
    analytic = float(k.grad[1, 0, 2, 3])
    eps = 1e-6
    with rustdl.no_grad():
        k[1, 0, 2, 3] += eps
    up = penalty(False).item()
    with rustdl.no_grad():
        k[1, 0, 2, 3] -= 2 * eps
    down = penalty(False).item()
    assert abs(analytic - (up - down) / (2 * eps)) < 1e-6 * max(1.0, abs(analytic))


def test_iterable_dataset_is_iterated_once_per_epoch():
    # an iterator whose __iter__ resets and returns itself: the loader must not call iter() again
    # for each batch (that restarted it forever)
    class Counting(rustdl.data.IterableDataset):
        def __init__(self):
            self.calls = 0

        def __iter__(self):
            self.i, self.calls = 0, self.calls + 1
            return self

        def __next__(self):
            if self.i >= 5:
                raise StopIteration
            self.i += 1
            return self.i

    for kw, want in [
        ({"batch_size": None}, [1, 2, 3, 4, 5]),
        ({"batch_size": 2}, [[1, 2], [3, 4], [5]]),
        ({"batch_size": 2, "drop_last": True}, [[1, 2], [3, 4]]),
        ({"batch_size": 2, "num_workers": 1}, [[1, 2], [3, 4], [5]]),
    ]:
        ds = Counting()
        got = [b if isinstance(b, int) else b.tolist() for b in rustdl.data.DataLoader(ds, **kw)]
        assert got == want, kw
        assert ds.calls == (0 if kw.get("num_workers") else 1), kw  # a worker iterates its own copy


def test_conversions_that_change_nothing_return_the_tensor_itself():
    p = rustdl.nn.Parameter(rustdl.ones(2))
    for convert in (lambda t: t.to("cpu"), lambda t: t.to(rustdl.float32), lambda t: t.cpu(),
                    lambda t: t.float(), lambda t: t.type(rustdl.float32), lambda t: t.to(rustdl.ones(1))):  # fmt: skip
        assert convert(p) is p
    assert p.to("cpu", copy=True) is not p and p.double() is not p and p.double().dtype == rustdl.float64
    lin = rustdl.nn.Linear(2, 2).to(rustdl.bfloat16)  # no 16-bit storage: float32, as .half()
    assert lin.weight.dtype == rustdl.float32
    ml = rustdl.nn.ModuleList([rustdl.nn.Identity(), rustdl.nn.Linear(1, 1)])
    assert ml[rustdl.tensor(1)] is ml[1] and ml[rustdl.tensor([1])] is ml[1] and ml[np.int64(-1)] is ml[1]
    with pytest.raises(TypeError, match="indices must be integers"):
        ml["a"]


def test_meta_device_tensors_are_cpu_tensors_under_the_compat_layer(tmp_path):
    proc = run_compat(
        tmp_path,
        """
        import json, torch
        a = torch.empty(3, device="meta")
        b = torch.zeros(2).to(torch.device("meta"))
        lin = torch.nn.Linear(2, 2, device="meta")
        with torch.device("meta"):
            m = torch.nn.Linear(3, 3)
        m.load_state_dict({"weight": torch.ones(3, 3), "bias": torch.zeros(3)}, assign=True)
        print(json.dumps({"shapes": [list(a.shape), list(b.shape), list(lin.weight.shape)],
                          "loaded": m.weight.sum().item(), "version": torch.__version__}))
        """,
    )
    r = compat_report(proc)
    assert r["shapes"] == [[3], [2], [2, 2]] and r["loaded"] == 9.0
    assert r["version"].startswith("2.6.0+rustdl")
    with pytest.raises(ValueError, match="meta"):  # outside it, rustdl has no meta device
        rustdl.empty(3, device="meta")


class Marker:
    """A class pickled as itself (module level, so pickle finds it)."""


def test_sixteen_bit_conversions_are_copies_and_allowed_classes_load():
    import io

    from rustdl import _torch_format, serialization

    x = rustdl.ones(3)
    x.half().mul_(5)  # a conversion to another dtype is a new tensor, as PyTorch's
    assert x.tolist() == [1.0, 1.0, 1.0]
    w = rustdl.ones(3, requires_grad=True)
    c = w.to(rustdl.bfloat16)
    assert not c.is_leaf and c.grad_fn is not None
    c.add_(1)
    p = rustdl.nn.Parameter(rustdl.ones(2))
    assert type(p.half()) is rustdl.Tensor and p.to(rustdl.float16) is not p and p.to("cpu") is p

    # a class the user allowed, pickled as itself (not an instance), loads with weights_only
    serialization.add_safe_globals([Marker])
    try:
        buf = io.BytesIO()
        _torch_format.save(({"a": rustdl.ones(2)}, Marker), buf)
        buf.seek(0)
        got = rustdl.load(buf, weights_only=True)
        assert got[1] is Marker and got[0]["a"].tolist() == [1.0, 1.0]
    finally:
        serialization.clear_safe_globals()
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError):  # not allowed: refused, as an UnpicklingError
        rustdl.load(buf, weights_only=True)
