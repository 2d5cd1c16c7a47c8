"""Fixes found running third-party libraries (stable-baselines3, pyro, opacus, higher) under
rustdl.torchcompat: references are PyTorch's documented behaviour, the standard pickle protocol,
numpy and closed forms."""

from __future__ import annotations

import pickle

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
