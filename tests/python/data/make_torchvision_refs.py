"""Regenerates torchvision_models.json and torchvision_outputs.json (needs torch + torchvision;
never run by the tests). Used once with torchvision 0.29.2 / torch 2.15:

    python tests/python/data/make_torchvision_refs.py
"""

# ruff: noqa
import os

DATA = os.path.dirname(os.path.abspath(__file__))
import json
import torchvision.models as M

out = {"_source": "torchvision 0.29.2 (torch 2.15), state_dict key -> shape, extracted once"}
names = [
    "alexnet",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg11_bn",
    "vgg13_bn",
    "vgg16_bn",
    "googlenet",
    "resnet18",
    "resnet34",
    "resnet50",
]
for n in names:
    for nc in (1000, 10):
        kw = dict(num_classes=nc)
        if n == "googlenet":
            kw.update(aux_logits=False, init_weights=False)
        m = getattr(M, n)(**kw)
        sd = m.state_dict()
        nparams = sum(p.numel() for p in m.parameters())
        key = n if nc == 1000 else n + "_nc10"
        if nc == 1000:
            out[key] = {"params": nparams, "state_dict": [[k, list(v.shape)] for k, v in sd.items()]}
        else:
            out[key] = {"params": nparams}
        print(key, nparams, len(sd))
m = M.googlenet(aux_logits=True, init_weights=False)
out["googlenet_aux"] = {
    "params": sum(p.numel() for p in m.parameters()),
    "aux_keys": [[k, list(v.shape)] for k, v in m.state_dict().items() if k.startswith("aux")],
}
print(out["googlenet_aux"]["params"])
json.dump(out, open(DATA + "/torchvision_models.json", "w"), separators=(",", ":"))


import json, math, numpy as np, torch, torchvision.models as M
from torchvision.models.googlenet import Inception
from torchvision.models.resnet import BasicBlock, Bottleneck

torch.set_grad_enabled(False)


def det(shape, seed):
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.uint64)
    u = ((i * np.uint64(2654435761) + np.uint64(seed * 40503 + 1)) % np.uint64(2**32)).astype(
        np.float64
    ) / 2**32 - 0.5
    return u.reshape(shape)


def det_state(keys_shapes):
    out = {}
    for j, (k, shape) in enumerate(keys_shapes):
        u = det(shape, j)
        if k.endswith("num_batches_tracked"):
            out[k] = np.array(0, dtype=np.int64)
            continue
        if k.endswith("running_var"):
            v = 1.0 + np.abs(u)
        elif k.endswith("running_mean"):
            v = 0.2 * u
        elif len(shape) == 1 and ("bn" in k or k.endswith("weight")):
            v = 1.0 + 0.2 * u if k.endswith("weight") else 0.2 * u
        elif len(shape) == 1:
            v = 0.2 * u
        else:
            v = u * math.sqrt(12.0 / int(np.prod(shape[1:])))
        out[k] = v.astype(np.float32)
    return out


def run(m, x):
    sd = det_state([(k, list(v.shape)) for k, v in m.state_dict().items()])
    m.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    m.eval()
    ev = m(x)
    m.train()
    tr = m(x)
    return {
        "eval": [round(float(v), 7) for v in ev.flatten()],
        "train": [round(float(v), 7) for v in tr.flatten()],
        "shape": list(ev.shape),
    }


ref = {"_source": "torchvision 0.29.2: outputs with deterministic weights (see det_state in test_models.py)"}
x = torch.from_numpy(det((2, 8, 5, 5), 999).astype(np.float32))
ref["Inception"] = run(Inception(8, 4, 4, 6, 2, 4, 4), x)
down = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 1, 2, bias=False), torch.nn.BatchNorm2d(16))
ref["BasicBlock"] = run(BasicBlock(8, 16, 2, down), x)
down = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 1, bias=False), torch.nn.BatchNorm2d(16))
ref["Bottleneck"] = run(Bottleneck(8, 4, 1, down), x)
x = torch.from_numpy(det((2, 3, 64, 64), 998).astype(np.float32))
ref["resnet18"] = run(M.resnet18(num_classes=10), x)
ref["googlenet"] = run(
    M.googlenet(num_classes=10, aux_logits=False, init_weights=False, dropout=0.0),
    torch.from_numpy(det((2, 3, 96, 96), 996).astype(np.float32)),
)
x = torch.from_numpy(det((1, 3, 80, 80), 997).astype(np.float32))
ref["alexnet"] = run(M.alexnet(num_classes=10, dropout=0.0), x)
json.dump(ref, open(DATA + "/torchvision_outputs.json", "w"), separators=(",", ":"))
for k, v in ref.items():
    if k[0] != "_":
        print(k, v["shape"], np.abs(v["eval"]).max(), np.abs(v["train"]).max())
