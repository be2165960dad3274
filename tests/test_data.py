"""Analysis data set: linking responses to interactions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.data import interaction_positions


@pytest.mark.parametrize("dtype", ["str", object])
def test_responses_find_their_interactions_row(dtype) -> None:
    # reference: pandas' Index.get_indexer (and Series.isin, missing ids matching missing ones)
    rng = np.random.default_rng(3)
    ids = pd.Series([f"I{i}" if i % 7 else None for i in rng.integers(0, 400, 1_000)], dtype=dtype)
    population = pd.Series([None] + [f"I{i}" for i in rng.permutation(np.arange(0, 400, 3))], dtype=dtype)
    positions = interaction_positions(ids, population)
    assert np.array_equal(positions, pd.Index(population.to_numpy()).get_indexer(ids.to_numpy()))
    assert np.array_equal(positions >= 0, ids.isin(population.to_numpy()).to_numpy())
    assert 0 < (positions >= 0).sum() < len(ids)


@pytest.mark.parametrize("dtype", ["str", object])
def test_a_missing_id_finds_no_row_when_the_interactions_have_none(dtype) -> None:
    ids = pd.Series(["I1", None, "I9"], dtype=dtype)
    population = pd.Series(["I9", "I1"], dtype=dtype)
    assert interaction_positions(ids, population).tolist() == [1, -1, 0]
