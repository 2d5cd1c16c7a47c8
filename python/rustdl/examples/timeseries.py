"""LSTM forecasting of the Mauna Loa CO2 series, against the seasonal-naive baseline.

The weekly series is averaged into months (a month without data is filled by interpolation).
An LSTM reads the month-to-month changes of the last ``--window`` months and predicts the next
change; the forecast is the last value plus that change. Trained on the first 80 % of the months
and tested, one step ahead, on the last 20 %, it reports the test RMSE in ppm next to the
seasonal-naive forecast (the value twelve months earlier) and the last-value forecast.

Run it with::

    python -m rustdl.examples.timeseries [--epochs N] [--device gpu]

The data is the CSV shipped in the ``statsmodels`` wheel (``pip install --no-deps statsmodels``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import rustdl
from rustdl import datasets, nn, optim
from rustdl.data import DataLoader, TensorDataset


def monthly(dates: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of each calendar month from the first to the last, gaps linearly interpolated."""
    months = dates.astype("datetime64[M]")
    first, last = months.min(), months.max()
    idx = (months - first).astype(np.int64)
    ok = ~np.isnan(values)
    n = int((last - first).astype(np.int64)) + 1
    total = np.bincount(idx[ok], weights=values[ok], minlength=n)
    count = np.bincount(idx[ok], minlength=n)
    out = np.full(n, np.nan)
    out[count > 0] = total[count > 0] / count[count > 0]
    have = ~np.isnan(out)
    out[~have] = np.interp(np.flatnonzero(~have), np.flatnonzero(have), out[have])
    return out


def windows(series: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """For every t >= window + 1: the `window` changes before t, and the change at t."""
    d = np.diff(series)
    x = np.stack([d[i : i + window] for i in range(len(d) - window)])
    y = d[window:]
    return x, y


class Forecaster(nn.Module):
    """An LSTM over the changes, then a linear read-out of the last state.

    Shape:
        ``(N, window, 1)`` → ``(N)``.
    """

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1]).squeeze(-1)


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="LSTM forecasting of Mauna Loa CO2 with rustdl.")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--window", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    rustdl.manual_seed(args.seed)
    series = monthly(*datasets.co2())
    x, y = windows(series, args.window)
    # target index t (in `series`) of each window: the change d[t-1] = series[t] - series[t-1]
    target = np.arange(args.window + 1, len(series))
    split = int(0.8 * len(y))
    scale = float(np.std(y[:split]))
    xs = (x / scale)[..., None].astype(np.float32)
    ys = (y / scale).astype(np.float32)
    train = TensorDataset(rustdl.tensor(xs[:split]), rustdl.tensor(ys[:split]))
    loader = DataLoader(train, batch_size=32, shuffle=True, seed=args.seed)
    model = Forecaster(args.hidden).to(args.device)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        total = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(args.device), yb.to(args.device)
            opt.zero_grad()
            loss = ((model(xb) - yb) ** 2).mean()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        if (epoch + 1) % 10 == 0 or epoch == 0:
            print(f"epoch {epoch + 1}: train MSE {total / split:.4f} (scaled)")
    model.eval()
    with rustdl.no_grad():
        change = model(rustdl.tensor(xs[split:], device=args.device)).cpu().numpy() * scale
    t = target[split:]
    truth = series[t]
    result = {
        "lstm_rmse": rmse(series[t - 1] + change, truth),
        "seasonal_naive_rmse": rmse(series[t - 12], truth),
        "last_value_rmse": rmse(series[t - 1], truth),
        "test_months": len(t),
    }
    print(
        f"test RMSE over {len(t)} months (ppm): LSTM {result['lstm_rmse']:.3f}, "
        f"seasonal naive {result['seasonal_naive_rmse']:.3f}, last value {result['last_value_rmse']:.3f}"
    )
    print(f"wall time: {time.perf_counter() - start:.1f} s")
    return result


if __name__ == "__main__":
    main()
