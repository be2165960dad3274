"""Analysis data set: linking responses to interactions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.data import _in_population


@pytest.mark.parametrize("dtype", ["str", object])
def test_linking_by_id_is_series_isin(dtype) -> None:
    # reference: pandas' Series.isin, missing ids matching missing ones
    rng = np.random.default_rng(3)
    ids = pd.Series([f"I{i}" if i % 7 else None for i in rng.integers(0, 400, 1_000)], dtype=dtype)
    population = pd.Series([f"I{i}" for i in range(0, 400, 3)] + [None], dtype=dtype)
    expected = ids.isin(population.to_numpy()).to_numpy()
    assert expected.sum() > 0 and not expected.all()
    assert np.array_equal(_in_population(ids, population), expected)
    assert np.array_equal(_in_population(ids, population.dropna()), ids.isin(population.dropna().to_numpy()))
