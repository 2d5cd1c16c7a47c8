"""Training utilities: ``fit``, ``evaluate``, callbacks and ``plot_history``.

Example:
    >>> from rustdl.train import fit, evaluate, EarlyStopping, ModelCheckpoint, plot_history
    >>> history = fit(model, train_loader, nn.CrossEntropyLoss(), optim.Adam(model.parameters()), epochs=30,
    ...               val_loader=val_loader, callbacks=[EarlyStopping(patience=3), ModelCheckpoint("best.safetensors")])
    >>> plot_history(history, "curves.png")
"""

from __future__ import annotations

from .callbacks import Callback, EarlyStopping, ModelCheckpoint
from .loop import accuracy, evaluate, fit
from .plot import plot_history

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "accuracy", "evaluate", "fit", "plot_history"]
