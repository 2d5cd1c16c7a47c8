"""The small-stem ResNet example on Fashion-MNIST: the architectures keep 28×28 through the stem
(no max-pool) and have the expected sizes, and a seeded few-second run of a width-4 ResNet-20 on a
slice of the data lowers its training loss and beats chance on held-out test images."""

import importlib.util
import os

import pytest
import rustdl
from rustdl import datasets, models
from rustdl.examples import resnet_fashion as rf

# CI installs every dataset package, so there a missing one fails the tests instead of skipping them
HAVE_FASHION = os.environ.get("CI") == "true" or os.path.isdir(datasets.FASHION_MNIST_DIR)


def test_resnet20_is_the_cifar_layout():
    net = rf.build_model("resnet20")
    assert isinstance(net, rf.SmallResNet)
    # He et al.'s ResNet-20: 0.27 M parameters (one input channel here instead of three)
    assert sum(p.numel() for p in net.parameters()) == 272_186
    assert [len(stage) for stage in net.layers] == [3, 3, 3]
    assert [stage[0].conv1.out_channels for stage in net.layers] == [16, 32, 64]
    x = rustdl.randn(2, 1, 28, 28)
    stem = net.relu(net.bn1(net.conv1(x)))
    assert stem.shape == (2, 16, 28, 28)  # 3×3 stride-1 stem, no max-pool
    assert net.layers(stem).shape == (2, 64, 7, 7)
    assert net(x).shape == (2, 10)


def test_resnet18_is_the_models_one_with_the_small_stem():
    net = rf.build_model("resnet18")
    assert isinstance(net, models.ResNet)
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1) and net.conv1.in_channels == 1
    assert type(net.maxpool).__name__ == "Identity"
    narrow = rf.build_model("resnet18", width=8)
    assert [len(stage) for stage in narrow.layers] == [2, 2, 2, 2]
    assert narrow(rustdl.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.skipif(not HAVE_FASHION, reason="Debian package dataset-fashion-mnist not installed")
def test_short_run_learns(tmp_path, capsys):
    # a width-4 ResNet-20 (17 K parameters), 4 epochs of 36 steps of 64 augmented images: ~7 s on one thread
    r = rf.main(
        [
            "--width", "4", "--train-size", "2560", "--test-size", "1000", "--epochs", "4",
            "--batch-size", "64", "--label-smoothing", "0", "--out", str(tmp_path), "--no-progress",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert f"test accuracy: {r['test_accuracy']:.4f}" in out and "epoch times (s):" in out
    loss = r["history"]["loss"]
    # measured with seeds 0 and 1: 2.10 → 0.77 and 2.14 → 0.79 (chance is ln 10 = 2.30)
    assert loss[-1] < loss[0] / 2, loss
    # measured: 0.728 and 0.680 on the 1,000 test images; chance is 0.1
    assert r["test_accuracy"] > 0.5, r["test_accuracy"]
    assert len(r["epoch_times"]) == 4
    assert (tmp_path / "best.safetensors").is_file()
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
