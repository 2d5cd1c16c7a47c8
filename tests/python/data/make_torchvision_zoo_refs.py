"""Regenerates torchvision_zoo.json: state-dict keys/shapes and parameter counts of every
torchvision classification model rustdl.models builds beyond those in torchvision_models.json,
and outputs of the smallest variant of each family under deterministic weights (the det_state
rule of test_models.py). Needs torch + torchvision; never run by the tests. Used once with
torchvision 0.29.2 / torch 2.15:

    python tests/python/data/make_torchvision_zoo_refs.py
"""

# ruff: noqa
import hashlib, json, math, os
import numpy as np, torch, torchvision.models as M

DATA = os.path.dirname(os.path.abspath(__file__))
torch.set_grad_enabled(False)

KEYS = """resnet101 resnet152 resnext50_32x4d resnext101_32x8d resnext101_64x4d wide_resnet50_2
wide_resnet101_2 vgg19 vgg19_bn mobilenet_v2 mobilenet_v3_large mobilenet_v3_small mnasnet0_5
mnasnet0_75 mnasnet1_0 mnasnet1_3 shufflenet_v2_x0_5 shufflenet_v2_x1_0 shufflenet_v2_x1_5
shufflenet_v2_x2_0 squeezenet1_0 squeezenet1_1 efficientnet_b0 efficientnet_b1 efficientnet_b2
efficientnet_b3 efficientnet_b4 efficientnet_b5 efficientnet_b6 efficientnet_b7 efficientnet_v2_s
efficientnet_v2_m efficientnet_v2_l convnext_tiny convnext_small convnext_base convnext_large
densenet121 densenet161 densenet169 densenet201 inception_v3 vit_b_16 vit_b_32 vit_l_16 vit_l_32
vit_h_14 regnet_y_400mf regnet_y_800mf regnet_y_1_6gf regnet_y_3_2gf regnet_y_8gf regnet_y_16gf
regnet_y_32gf regnet_y_128gf regnet_x_400mf regnet_x_800mf regnet_x_1_6gf regnet_x_3_2gf
regnet_x_8gf regnet_x_16gf regnet_x_32gf""".split()


def digest(keys_shapes):
    """sha256 of the key/shape list written as "key:d0,d1,...;" in state-dict order."""
    text = "".join(f"{k}:{','.join(map(str, shape))};" for k, shape in keys_shapes)
    return hashlib.sha256(text.encode()).hexdigest()


out = {
    "_source": "torchvision 0.29.2 (torch 2.15): parameter counts and state-dict digests (1000 classes); outputs and key lists (10 classes) of one model per family; extracted once"
}
for n in KEYS:
    kw = {"init_weights": False} if n == "inception_v3" else {}
    # regnet computes its widths with tensors, which the meta device cannot read back
    with torch.device("cpu" if n.startswith("regnet") else "meta"):
        m = getattr(M, n)(**kw)
    ks = [[k, list(v.shape)] for k, v in m.state_dict().items()]
    out[n] = {"params": sum(p.numel() for p in m.parameters()), "n_keys": len(ks), "sha256": digest(ks)}
    print(n, out[n]["params"], len(ks))


def det(shape, seed):
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.uint64)
    h = (i * np.uint64(2654435761) + np.uint64(seed * 40503 + 1)) % np.uint64(2**32)
    return (h.astype(np.float64) / 2**32 - 0.5).reshape(shape)


def det_state(m):
    sd = {}
    for j, (k, v) in enumerate(m.state_dict().items()):
        shape = list(v.shape)
        u = det(shape, j)
        if k.endswith("num_batches_tracked"):
            sd[k] = torch.tensor(0)
            continue
        if k.endswith("running_var"):
            a = 1.0 + np.abs(u)
        elif k.endswith("running_mean"):
            a = 0.2 * u
        elif len(shape) == 1 and ("bn" in k or k.endswith("weight")):
            a = 1.0 + 0.2 * u if k.endswith("weight") else 0.2 * u
        elif len(shape) == 1:
            a = 0.2 * u
        else:
            a = u * math.sqrt(12.0 / int(np.prod(shape[1:])))
        sd[k] = torch.from_numpy(a.astype(np.float32))
    return sd


# name -> (constructor kwargs, input shape, input seed)
OUTPUTS = {
    "mobilenet_v2": ({"dropout": 0.0}, (2, 3, 64, 64)),
    "mobilenet_v3_small": ({"dropout": 0.0}, (2, 3, 64, 64)),
    "mobilenet_v3_large": ({"dropout": 0.0}, (2, 3, 64, 64)),
    "mnasnet0_5": ({"dropout": 0.0}, (2, 3, 64, 64)),
    "shufflenet_v2_x0_5": ({}, (2, 3, 64, 64)),
    "squeezenet1_0": ({"dropout": 0.0}, (2, 3, 64, 64)),
    "squeezenet1_1": ({"dropout": 0.0}, (2, 3, 64, 64)),
    "efficientnet_b0": ({"dropout": 0.0, "stochastic_depth_prob": 0.0}, (2, 3, 64, 64)),
    "efficientnet_v2_s": ({"dropout": 0.0, "stochastic_depth_prob": 0.0}, (2, 3, 64, 64)),
    "convnext_tiny": ({"stochastic_depth_prob": 0.0}, (2, 3, 64, 64)),
    "densenet121": ({}, (2, 3, 64, 64)),
    "inception_v3": ({"aux_logits": False, "init_weights": False, "dropout": 0.0}, (2, 3, 75, 75)),
    "vit_b_32": ({"image_size": 64}, (2, 3, 64, 64)),
    "regnet_y_400mf": ({}, (2, 3, 64, 64)),
    "regnet_x_400mf": ({}, (2, 3, 64, 64)),
    "resnext50_32x4d": ({}, (2, 3, 64, 64)),
}
outputs = {}
for seed, (n, (kw, shape)) in enumerate(OUTPUTS.items()):
    m = getattr(M, n)(num_classes=10, **kw)
    for k, v in det_state(m).items():
        m.state_dict()[k].copy_(v)  # in place: keeps the state dict's metadata (mnasnet checks it)
    x = torch.from_numpy(det(shape, 900 + seed).astype(np.float32))
    m.eval()
    ev = m(x)
    m.train()
    tr = m(x)
    outputs[n] = {
        "state_dict": [[k, list(v.shape)] for k, v in m.state_dict().items()],
        "kwargs": kw,
        "input": [list(shape), 900 + seed],
        "eval": [round(float(v), 7) for v in ev.flatten()],
        "train": [round(float(v), 7) for v in tr.flatten()],
    }
    print(n, float(ev.abs().max()), float(tr.abs().max()))
out["_outputs"] = outputs
json.dump(out, open(DATA + "/torchvision_zoo.json", "w"), separators=(",", ":"))
