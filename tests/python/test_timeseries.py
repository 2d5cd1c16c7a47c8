"""The CO2 forecasting example: monthly averaging and windows against hand-made series, the
loader, and a short training run that must beat the seasonal-naive forecast."""

import numpy as np
import pytest
from rustdl import datasets
from rustdl.examples import timeseries as ts


def test_monthly_means_and_interpolated_gaps():
    dates = np.array(
        ["2000-01-03", "2000-01-20", "2000-03-05", "2000-03-25", "2000-04-02"], dtype="datetime64[D]"
    )
    values = np.array([1.0, 3.0, 10.0, np.nan, 14.0])
    # January 2.0, February missing → halfway to March's 10.0, April 14.0
    np.testing.assert_allclose(ts.monthly(dates, values), [2.0, 6.0, 10.0, 14.0])


def test_windows_hold_the_changes_before_each_target():
    series = np.array([0.0, 1.0, 3.0, 6.0, 10.0, 15.0])
    x, y = ts.windows(series, 2)
    np.testing.assert_array_equal(x, [[1, 2], [2, 3], [3, 4]])
    np.testing.assert_array_equal(y, [3, 4, 5])


def test_co2_loader_reads_the_shipped_csv():
    try:
        dates, ppm = datasets.co2()
    except datasets.DatasetNotFoundError as e:
        assert "pip install --no-deps statsmodels" in str(e)
        pytest.skip("statsmodels is not installed")
    assert len(ppm) == 2284 and np.isnan(ppm).sum() == 59
    assert str(dates[0]) == "1958-03-29" and str(dates[-1]) == "2001-12-29"
    assert 310 < np.nanmin(ppm) < 320 and 370 < np.nanmax(ppm) < 375


def test_lstm_beats_the_seasonal_naive_forecast():
    try:
        datasets.co2()
    except datasets.DatasetNotFoundError:
        pytest.skip("statsmodels is not installed")
    r = ts.main(["--epochs", "15"])
    assert r["test_months"] > 90
    assert r["lstm_rmse"] < 0.5 * r["seasonal_naive_rmse"], r
    assert r["lstm_rmse"] < r["last_value_rmse"], r
