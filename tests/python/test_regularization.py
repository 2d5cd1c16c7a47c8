"""The regularisation example: the model's shapes, and a tiny run on Fashion-MNIST in which the
unregularised MLP overfits and early stopping hands back the best-validation weights."""

import os

import pytest
import rustdl
from rustdl import datasets
from rustdl.examples import regularization as reg

HAVE_FASHION = os.environ.get("CI") == "true" or os.path.isdir(datasets.FASHION_MNIST_DIR)


def test_mlp_shapes_and_dropout_layers():
    x = rustdl.rand(4, 1, 28, 28)
    assert tuple(reg.build_mlp(64)(x).shape) == (4, 10)
    model = reg.build_mlp(64, dropout=0.5)
    assert sum(type(m).__name__ == "Dropout" for m in model.modules()) == 2


@pytest.mark.skipif(not HAVE_FASHION, reason="Debian package dataset-fashion-mnist not installed")
def test_tiny_run_overfits_and_early_stopping_restores_the_best_epoch(tmp_path):
    r = reg.main(
        [
            "--train-size",
            "200",
            "--val-size",
            "1000",
            "--test-size",
            "500",
            "--epochs",
            "15",
            "--hidden",
            "256",
        ]
        + ["--patience", "3", "--variants", "none,early_stopping", "--out", str(tmp_path)]
    )
    plain, stopped = r["none"], r["early_stopping"]
    # 200 images are memorised (train ~1.0) while validation stays near 0.7
    assert plain["train_accuracy"] > 0.95 and plain["gap"] > 0.15, plain
    history = stopped["history"]["val_accuracy"]
    best = max(history)
    assert stopped["epochs_run"] <= 15 and history[stopped["best_epoch"]] == best
    # the restored weights are those of the best validation epoch, not of the last one
    assert abs(stopped["val_accuracy"] - best) < 1e-9, (stopped["val_accuracy"], history)
    for variant in ("none", "early_stopping"):
        assert os.path.getsize(tmp_path / f"{variant}.png") > 1000
