"""The population's sufficient statistics (audit.aggregates) give the row-level figures.

Reference for every test: the same quantity computed on the interactions' rows with
pandas / numpy / statsmodels / scipy (the row-level path the engine used before the
population was aggregated in DuckDB).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import mannwhitneyu

from audit.aggregates import bin_index, category_text, offer_model_categories
from audit.checks.bias import covariate_frame, propensity_test, usable_covariates
from audit.checks.inflation import satisfaction_model, satisfaction_moments
from audit.claim import parse_claim
from audit.data import prepare
from audit.loading import load_population, load_responses
from audit.simulation import simulate_contact_center
from audit.weighting import (asmd_from_moments, asmd_summary, invitation_auc, representativeness_indicators,
                             weighted_moments)


@pytest.fixture(scope="module")
def audit_pair():
    """A simulated audit (4,000 interactions, 12 agents), its loaded population rows and the prepared data."""
    sim = simulate_contact_center(np.random.default_rng(11), n_interactions=4000, n_agents=12,
                                  flaws=("selective_invitation", "channel_skew"))
    population = load_population(sim.population)
    data = prepare(load_responses(sim.responses), population, parse_claim(None))
    rows = population.frame.copy()
    for c in data.categorical:
        rows[c] = category_text(rows[c])
    return data, rows


def test_cells_count_every_interaction_once(audit_pair) -> None:
    data, rows = audit_pair
    assert data.population.cells.total == len(rows) == data.population.rows


def test_level_counts_equal_value_counts(audit_pair) -> None:
    data, rows = audit_pair
    for c in data.categorical:
        expected = rows[c].value_counts().sort_index()
        got = data.population.cells.level_counts(c)
        pd.testing.assert_series_equal(got, expected, check_names=False, check_index_type=False)


def test_numeric_moments_equal_pandas_mean_and_variance(audit_pair) -> None:
    data, rows = audit_pair
    for c in data.numeric:
        n, mean, var = data.population.cells.moments(c)
        assert n == rows[c].notna().sum()
        assert mean == pytest.approx(rows[c].mean(), rel=1e-12)
        assert var == pytest.approx(rows[c].var(ddof=1), rel=1e-10)


def test_quintile_edges_are_numpys_linear_quantiles(audit_pair) -> None:
    data, rows = audit_pair
    for c, edges in data.population.cells.edges.items():
        expected = np.unique(np.quantile(rows[c].dropna(), np.linspace(0, 1, 6)))[1:-1]
        np.testing.assert_allclose(edges[1:-1], expected, rtol=1e-12)


def test_bins_match_pandas_cut_right_closed_intervals(audit_pair) -> None:
    data, rows = audit_pair
    cells = data.population.cells
    for c, edges in cells.edges.items():
        expected = pd.cut(rows[c], edges, labels=False, include_lowest=True).value_counts().sort_index()
        got = pd.Series(cells.n, index=cells.bins[c].to_numpy()).groupby(level=0).sum()
        np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
        np.testing.assert_array_equal(bin_index(rows[c], edges), pd.cut(rows[c], edges, labels=False,
                                                                          include_lowest=True).to_numpy())


def test_invited_and_responded_counts_equal_row_sums(audit_pair) -> None:
    data, rows = audit_pair
    cells = data.population.cells
    for flag in ("invited", "responded"):
        assert int(cells.n[cells.flag(flag)].sum()) == int(rows[flag].sum())


def test_asmd_from_cell_moments_equals_row_level_asmd(audit_pair) -> None:
    # reference: weighting.asmd_summary on rows, itself checked against Meta's balance
    data, rows = audit_pair
    cells = data.population.cells
    cats, nums = usable_covariates(cells, data)
    covs = covariate_frame(rows, cats, nums)
    invited = rows["invited"].to_numpy() == 1
    ref_levels, ref_by = asmd_summary(covs[invited], covs[~invited])
    inv = cells.flag("invited")
    levels, by = asmd_from_moments(cells.subset(inv).covariate_moments(cats, nums),
                                   cells.subset(~inv).covariate_moments(cats, nums))
    pd.testing.assert_series_equal(levels, ref_levels, rtol=1e-10, check_names=False)
    pd.testing.assert_series_equal(by, ref_by, rtol=1e-10, check_names=False)


def test_weighted_moments_asmd_equals_asmd_summary_with_sample_weights(audit_pair) -> None:
    data, rows = audit_pair
    cats, nums = usable_covariates(data.population.cells, data)
    covs = covariate_frame(rows, cats, nums)
    w = np.random.default_rng(3).uniform(0.5, 2.0, size=len(rows))
    responded = rows["responded"].to_numpy() == 1
    _, ref = asmd_summary(covs[responded], covs, sample_weights=w[responded])
    _, got = asmd_from_moments(weighted_moments(covs[responded], cats, nums, weights=w[responded]),
                               data.population.cells.covariate_moments(cats, nums))
    pd.testing.assert_series_equal(got, ref, rtol=1e-10, check_names=False)


def test_weighted_auc_equals_mann_whitney_on_expanded_rows() -> None:
    g = np.random.default_rng(5)
    s1, s0 = g.integers(0, 6, 40) / 5, g.integers(0, 6, 30) / 5   # ties on purpose
    w1, w0 = g.integers(1, 9, 40), g.integers(1, 9, 30)
    u = mannwhitneyu(np.repeat(s1, w1), np.repeat(s0, w0), method="asymptotic").statistic
    expected = u / (w1.sum() * w0.sum())
    assert invitation_auc(s1, s0, weights_invited=w1, weights_not_invited=w0) == pytest.approx(expected, abs=1e-14)


def test_grouped_binomial_fit_on_cells_equals_row_level_glm(audit_pair) -> None:
    # statsmodels' row-level logistic GLM with every numeric covariate replaced by its quintile mean:
    # the model the cells fit, so propensities, LR statistic and R-indicator must agree
    data, rows = audit_pair
    cells = data.population.cells
    cats, nums = usable_covariates(cells, data)
    covs = covariate_frame(rows, cats, nums)
    for c in nums:
        covs[c] = covs[c].groupby(bin_index(rows[c], cells.edges[c])).transform("mean")
    y = rows["responded"].to_numpy(int)
    design = pd.get_dummies(covs, columns=cats, drop_first=True, dtype=float)
    row_fit = sm.GLM(y, sm.add_constant(design.to_numpy()), family=sm.families.Binomial()).fit()
    ref_ind = representativeness_indicators(covs.assign(_r=y), "_r", cats + nums, categorical=cats)
    model = cells.model_frame(cats, nums)
    r = cells.flag("responded").astype(int)
    ind = representativeness_indicators(model.assign(_r=r), "_r", cats + nums, categorical=cats,
                                        freq_weights=cells.n)
    _, lr, dof, _ = propensity_test(model, r, cats, nums, rho=ind.propensities, weights=cells.n)
    assert lr == pytest.approx(2 * (row_fit.llf - row_fit.llnull), rel=1e-7)
    assert dof == design.shape[1]
    assert ind.r_indicator == pytest.approx(ref_ind.r_indicator, abs=1e-9)
    assert ind.partial_unconditional == pytest.approx(ref_ind.partial_unconditional, abs=1e-9)


def test_selective_offer_moments_equal_row_level_predictions(audit_pair) -> None:
    data, rows = audit_pair
    pop = data.population
    cats = [c for c in pop.offer_cells.columns if c in data.categorical]
    nums = list(pop.offer_numeric)
    terms = satisfaction_model(data, cats, nums)
    covs = covariate_frame(rows, cats, nums)
    s = np.full(len(rows), terms["intercept"])
    for c in cats:
        s += covs[c].map(terms["levels"][c]).to_numpy(float)
    for c in nums:
        s += terms["slopes"][c] * covs[c].to_numpy(float)
    frame = pd.DataFrame({"unit": rows["agent_id"].astype(str), "inv": rows["invited"] == 1, "s": s})
    expected = frame.groupby(["unit", "inv"])["s"].agg(["size", "sum", "var"])
    got = satisfaction_moments(data, terms)
    np.testing.assert_allclose(got["size"].to_numpy(), expected["size"].to_numpy())
    np.testing.assert_allclose(got["sum"].to_numpy(), expected["sum"].to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(got["var"].to_numpy(), expected["var"].to_numpy(), rtol=1e-8)


def test_unit_counts_equal_groupby(audit_pair) -> None:
    data, rows = audit_pair
    g = rows.groupby(rows["agent_id"].astype(str))
    expected = pd.DataFrame({"interactions": g.size(), "invited": g["invited"].sum(),
                             "responded": g.apply(lambda f: int(((f["invited"] == 1) & (f["responded"] == 1)).sum()))})
    got = data.population.units
    np.testing.assert_array_equal(got.index.to_numpy(dtype=str), expected.index.to_numpy(dtype=str))
    np.testing.assert_array_equal(got[expected.columns].to_numpy(), expected.to_numpy())


def test_linked_rows_are_the_interactions_with_a_response(audit_pair) -> None:
    data, rows = audit_pair
    linked = data.population.linked
    expected = rows.loc[rows["interaction_id"].isin(data.responses["interaction_id"]), "interaction_id"]
    assert sorted(linked["interaction_id"]) == sorted(expected)


def test_linked_covariates_with_few_levels_are_categoricals_of_the_same_values(audit_pair) -> None:
    data, rows = audit_pair
    linked = data.population.linked.set_index("interaction_id")
    # the unit stays text: it is carried over to responses that lack it
    texts = [c for c in data.categorical if c != data.unit_column and pd.api.types.is_string_dtype(rows[c])
             and not pd.api.types.is_numeric_dtype(data.population.linked[c])]
    assert texts
    expected = rows.set_index("interaction_id").loc[linked.index]
    for c in texts:
        assert isinstance(linked[c].dtype, pd.CategoricalDtype)
        assert (category_text(linked[c]).to_numpy() == expected[c].to_numpy()).all()


def test_checks_on_categorical_linked_covariates_equal_those_on_text(audit_pair) -> None:
    # reference: the same checks with the linked covariates as plain text columns
    from dataclasses import replace
    from audit.checks.bias import nonresponse_adjustment
    from audit.checks.inflation import score_inflation

    data, _ = audit_pair
    linked = data.population.linked
    text = linked.astype({c: "str" for c in linked.columns if isinstance(linked[c].dtype, pd.CategoricalDtype)})
    plain = replace(data, population=replace(data.population, linked=text))
    assert nonresponse_adjustment(data) == nonresponse_adjustment(plain)
    assert satisfaction_model(data, ["channel"], []) == satisfaction_model(plain, ["channel"], [])
    assert score_inflation(data, {}) == score_inflation(plain, {})


def test_scope_of_a_unit_claim_is_that_units_interactions() -> None:
    sim = simulate_contact_center(np.random.default_rng(12), n_interactions=2000, n_agents=6)
    unit = sim.responses["agent_id"].value_counts().index[0]
    claim = parse_claim({"type": "best_unit", "unit_column": "agent_id", "unit": unit, "metric": "top2box"})
    data = prepare(load_responses(sim.responses), load_population(sim.population), claim)
    assert data.population.scope.total == int((sim.population["agent_id"] == unit).sum())
    assert data.population.linked["_in_scope"].sum() == int(
        sim.population.loc[sim.population["interaction_id"].isin(sim.responses["interaction_id"]),
                           "agent_id"].eq(unit).sum())


def test_offer_model_takes_covariates_with_fewest_levels_first_within_the_cell_bound() -> None:
    # 10 units × 2 × (2 · 3 · 4) = 480 cells fit under 500; region's 5 levels would make 2,400
    levels = {"region": 5, "channel": 4, "resolved": 2, "month": 3}
    chosen, left_out = offer_model_categories(levels, units=10, max_cells=500)
    assert chosen == ["channel", "resolved", "month"]
    assert left_out == ["region"]


def test_offer_model_keeps_every_covariate_when_the_cells_are_few() -> None:
    chosen, left_out = offer_model_categories({"a": 3, "b": 2}, units=40)
    assert (chosen, left_out) == (["a", "b"], [])
