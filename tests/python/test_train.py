"""rustdl.train: fit, evaluate, EarlyStopping, ModelCheckpoint and plot_history on small synthetic data."""

import importlib.util
import math
import os

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from rustdl import nn, optim
from rustdl.data import DataLoader, TensorDataset
from rustdl.train import EarlyStopping, ModelCheckpoint, evaluate, fit, plot_history


def _blobs(n, d=8, classes=3, seed=0, noise=0.3):
    centers = np.random.default_rng(100).normal(size=(classes, d)) * 2
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = (centers[y] + noise * rng.normal(size=(n, d))).astype(np.float32)
    return x, y


def _loaders(x, y, xv, yv, batch=32):
    return DataLoader(TensorDataset(x, y), batch, shuffle=True), DataLoader(TensorDataset(xv, yv), 64)


def _mlp(d=8, classes=3, hidden=32):
    return nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def _fit_sgd(model, x, y, epochs, batch_size=32, **kw):
    """fit() with cross-entropy and SGD (lr 0.1) on the batches of (x, y)."""
    loader = DataLoader(TensorDataset(x, y), batch_size)
    return fit(model, loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs, **kw)


def test_fit_learns_and_records_history():
    x, y = _blobs(600)
    xv, yv = _blobs(200, seed=1)
    train, val = _loaders(x, y, xv, yv)
    model = _mlp()
    hist = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=1e-2),
        8,
        val_loader=val,
        progress=False,
    )
    assert set(hist) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}
    assert all(len(v) == 8 for v in hist.values())
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert hist["val_accuracy"][-1] > 0.9
    assert hist["lr"] == [1e-2] * 8


def test_evaluate_matches_numpy_reference():
    x, y = _blobs(70)
    model = nn.Linear(8, 3)
    w, b = model.weight.detach().numpy().astype(np.float64), model.bias.detach().numpy().astype(np.float64)
    logits = x.astype(np.float64) @ w.T + b
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    ref_loss = -logp[np.arange(70), y].mean()
    ref_acc = (logits.argmax(1) == y).mean()
    model.train()
    out = evaluate(model, DataLoader(TensorDataset(x, y), 16), nn.CrossEntropyLoss())  # uneven last batch
    assert_close(out["loss"], ref_loss, rtol=1e-5)
    assert out["accuracy"] == pytest.approx(ref_acc)
    assert model.training  # the mode is restored
    assert set(evaluate(model, DataLoader(TensorDataset(x, y), 16))) == {"accuracy"}


def test_custom_metric_and_unknown_metric():
    x, y = _blobs(64)
    model = _mlp()

    def top2(output, target):
        return float(np.mean([t in np.argsort(o)[-2:] for o, t in zip(output.numpy(), target.numpy())]))

    out = evaluate(model, DataLoader(TensorDataset(x, y), 16), metrics=["accuracy", top2])
    assert set(out) == {"accuracy", "top2"} and out["top2"] >= out["accuracy"]
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate(model, DataLoader(TensorDataset(x, y), 16), metrics=["f7"])


def test_early_stopping_on_random_labels_and_checkpoint_reproduces_best(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(256, 16)).astype(np.float32), rng.integers(0, 4, 256)
    xv, yv = rng.normal(size=(128, 16)).astype(np.float32), rng.integers(0, 4, 128)
    train, val = _loaders(x, y, xv, yv)
    model = nn.Sequential(nn.Linear(16, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 4))
    stop = EarlyStopping(monitor="val_loss", patience=3)
    ckpt = ModelCheckpoint(tmp_path / "best.safetensors", monitor="val_loss")
    hist = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=1e-2),
        60,
        val_loader=val,
        callbacks=[stop, ckpt],
        progress=False,
    )
    n = len(hist["val_loss"])
    assert n < 20, f"early stopping should stop well before 60 epochs on random labels, ran {n}"
    best = int(np.argmin(hist["val_loss"]))
    assert stop.best_epoch == best == ckpt.best_epoch and stop.stopped_epoch == n - 1 == best + 3
    # a fresh model loaded from the checkpoint file reproduces the best epoch's val_loss
    fresh = nn.Sequential(nn.Linear(16, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 4))
    fresh.load_state_dict(rustdl.load(ckpt.best_path))
    again = evaluate(fresh, val, nn.CrossEntropyLoss())
    assert_close(again["loss"], hist["val_loss"][best], rtol=1e-6)
    assert again["accuracy"] == pytest.approx(hist["val_accuracy"][best])


def test_checkpoint_file_is_plain_safetensors(tmp_path):
    safetensors = pytest.importorskip("safetensors.numpy")
    x, y = _blobs(64)
    model = _mlp()
    ckpt = ModelCheckpoint(tmp_path / "m.safetensors", monitor="loss")
    _fit_sgd(model, x, y, 2, callbacks=[ckpt], progress=False)
    tensors = safetensors.load_file(ckpt.best_path)
    assert set(tensors) == set(model.state_dict())
    np.testing.assert_array_equal(tensors["0.weight"], model.state_dict()["0.weight"].numpy())


def test_restore_best_weights():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(128, 8)).astype(np.float32), rng.integers(0, 3, 128)
    xv, yv = rng.normal(size=(64, 8)).astype(np.float32), rng.integers(0, 3, 64)
    train, val = _loaders(x, y, xv, yv)
    model = _mlp()
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    hist = fit(
        model,
        train,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=3e-2),
        40,
        val_loader=val,
        callbacks=[stop],
        progress=False,
    )
    assert stop.stopped_epoch is not None and stop.best_epoch < len(hist["loss"]) - 1
    assert_close(evaluate(model, val, nn.CrossEntropyLoss())["loss"], min(hist["val_loss"]), rtol=1e-6)


class _Scripted:
    """Stands in for a model: EarlyStopping only needs state_dict for restoring."""

    def state_dict(self):
        return {}


def _run_monitor(cb, values, key="val_loss"):
    cb.set_model(_Scripted())
    cb.on_train_begin({})
    for epoch, v in enumerate(values):
        cb.on_epoch_end(epoch, {key: v})
        if cb.stop_training:
            return epoch
    return None


def test_early_stopping_rules():
    # improvements of less than min_delta do not count
    assert _run_monitor(EarlyStopping(patience=2, min_delta=0.1), [1.0, 0.95, 0.92, 0.5]) == 2
    assert _run_monitor(EarlyStopping(patience=2), [1.0, 0.95, 0.92, 0.91, 0.9]) is None
    assert _run_monitor(EarlyStopping(patience=1), [1.0, 1.0]) == 1  # equal is not better
    up = EarlyStopping(monitor="val_accuracy", patience=2, mode="max")
    assert _run_monitor(up, [0.5, 0.6, 0.55, 0.59], key="val_accuracy") == 3 and up.best == 0.6
    assert (
        _run_monitor(
            EarlyStopping(monitor="val_accuracy", mode="auto", patience=1), [0.5, 0.7], "val_accuracy"
        )
        is None
    )
    nan = EarlyStopping(patience=2)
    assert _run_monitor(nan, [math.nan, 1.0, math.nan, math.nan]) == 3 and nan.best_epoch == 1
    with pytest.raises(KeyError, match="val_loader"):
        _run_monitor(EarlyStopping(), [1.0], key="loss")
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_checkpoint_every_epoch_with_pattern(tmp_path):
    x, y = _blobs(64)
    model = _mlp()
    ckpt = ModelCheckpoint(tmp_path / "ck" / "e{epoch:02d}.safetensors", monitor="loss", save_best_only=False)
    _fit_sgd(model, x, y, 3, callbacks=[ckpt], progress=False)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [
        "e01.safetensors",
        "e02.safetensors",
        "e03.safetensors",
    ]


def test_schedulers_epoch_and_batch():
    x, y = _blobs(64)
    loader = DataLoader(TensorDataset(x, y), 16)
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    hist = fit(
        model,
        loader,
        nn.CrossEntropyLoss(),
        opt,
        3,
        scheduler=optim.lr_scheduler.StepLR(opt, 1, gamma=0.5),
        progress=False,
    )
    np.testing.assert_allclose(hist["lr"], [0.1, 0.05, 0.025])
    # a one-cycle schedule steps after every batch: epoch 2 starts at the lr after len(loader) steps
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=2, steps_per_epoch=len(loader))
    hist = fit(model, loader, nn.CrossEntropyLoss(), opt, 2, scheduler=sched, progress=False)
    ref_opt = optim.SGD(_mlp().parameters(), lr=0.1, momentum=0.9)
    ref = optim.lr_scheduler.OneCycleLR(ref_opt, max_lr=0.1, epochs=2, steps_per_epoch=len(loader))
    expected = [ref_opt.param_groups[0]["lr"]]
    for _ in range(len(loader)):
        ref.step()
    expected.append(ref_opt.param_groups[0]["lr"])
    np.testing.assert_allclose(hist["lr"], expected)
    assert expected[0] == pytest.approx(0.1 / 25)


def test_progress_bar_shows_loss_and_accuracy(capsys):
    pytest.importorskip("tqdm")
    x, y = _blobs(64)
    model = _mlp()
    _fit_sgd(model, x, y, 1, batch_size=16)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "loss=" in err and "accuracy=" in err


def test_fit_argument_errors():
    model = _mlp()
    loader = DataLoader(TensorDataset(*_blobs(8)), 4)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), -1)
    with pytest.raises(ValueError, match=r"\(inputs, target\)"):
        fit(
            model,
            DataLoader(TensorDataset(_blobs(8)[0]), 4),
            nn.CrossEntropyLoss(),
            optim.SGD(model.parameters(), lr=0.1),
            1,
            progress=False,
        )


def test_plot_history_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    hist = {
        "loss": [1.0, 0.5, 0.4],
        "accuracy": [0.5, 0.7, 0.8],
        "val_loss": [1.1, 0.6, 0.55],
        "val_accuracy": [0.45, 0.65, 0.7],
        "lr": [0.1, 0.05, 0.01],
        "time": [1.0, 1.0, 1.0],
    }
    path = plot_history(hist, tmp_path / "out" / "curves.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="loss"):
        plot_history({}, tmp_path / "x.png")


def test_fit_on_device(device):
    x, y = _blobs(128)
    model = _mlp()  # built on the CPU; the optimizer is created before fit moves the model
    hist = fit(
        model,
        DataLoader(TensorDataset(x, y), 32, shuffle=True),
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=1e-2),
        3,
        device=device,
        progress=False,
    )
    assert next(model.parameters()).device == rustdl.device(device)
    assert hist["loss"][-1] < hist["loss"][0]


@pytest.mark.skipif(
    os.environ.get("CI") != "true" and not os.path.isdir("/usr/share/datasets/fashion-mnist"),
    reason="dataset-fashion-mnist not installed",
)
def test_fashion_mnist_demo_runs_end_to_end(tmp_path, capsys):
    from rustdl.examples import fashion_mnist

    acc = fashion_mnist.main(
        ["--epochs", "2", "--train-size", "2000", "--out", str(tmp_path), "--no-progress"]
    )
    out = capsys.readouterr().out
    assert f"test accuracy: {acc:.4f}" in out and "wall time:" in out
    assert acc > 0.6  # 2 epochs on 1800 images; chance is 0.1
    assert (tmp_path / "best.safetensors").is_file()
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
