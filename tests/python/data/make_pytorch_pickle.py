"""Writes pytorch_plain_pickle.pkl with real PyTorch (run by hand: ``python make_pytorch_pickle.py``):
PyTorch objects sent through plain ``pickle`` (not ``torch.save``), as joblib/skorch pickle them."""

import pickle

import torch

torch.manual_seed(0)
base = torch.arange(12.0).reshape(3, 4)
lin = torch.nn.Linear(2, 3)
obj = {
    "view": base[:, 1::2],  # a strided view
    "same_storage": (base, base[1]),  # two tensors over one storage
    "param": torch.nn.Parameter(torch.tensor([1.5, -2.0])),
    "ints": torch.tensor([[1, 2], [3, 4]]),
    "f64": torch.tensor([0.25, 1e-300], dtype=torch.float64),
    "linear": lin,
    "linear_out": lin(torch.tensor([[1.0, 2.0]])).detach(),
}
with open("pytorch_plain_pickle.pkl", "wb") as f:
    pickle.dump(obj, f)
