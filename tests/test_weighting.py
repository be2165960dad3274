"""Specification of audit.weighting: representativeness (ASMD, R-indicators) and weighting.

Reference values come from METHODS.md §5 / §9.1 (printed numbers) and from live calls to
independent implementations: Meta's ``balance`` 0.23.0 (ASMD, R-indicator, rake,
poststratify, Kish statistics), statsmodels (logistic GLM via formula, WLS sandwich SE),
scipy and scikit-learn (AUC).
"""
from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from audit.aggregates import Cells, bin_index, category_text
from audit.checks.bias import MIN_CELL, covariate_frame, raking_categories
from audit.errors import InputError
from audit.weighting import (
    RIndicator, Weights, _category_index, _filled, _logit_design, _sorted_levels, _weighted_mean_sd, asmd,
    distinct_rows, text_codes,
    asmd_by_covariate, category_positions, effective_sample_size, invitation_auc, kish_design_effect, one_hot,
    poststratify, r_indicator, rake, representativeness_indicators, response_propensities, weighted_mean_se,
    weighted_moments,
)

logging.getLogger("balance").setLevel(logging.ERROR)
from balance.stats_and_plots import weighted_comparisons_stats as bal_cmp  # noqa: E402
from balance.stats_and_plots import weights_stats as bal_w  # noqa: E402
from balance.weighting_methods.poststratify import poststratify as bal_poststratify  # noqa: E402
from balance.weighting_methods.rake import rake as bal_rake  # noqa: E402

# METHODS §5 worked data set: (channel, resolved, N, responded, top2 among responders)
TABLE = [("phone", "yes", 400, 80, 72), ("phone", "no", 100, 10, 4),
         ("chat", "yes", 200, 50, 44), ("chat", "no", 100, 10, 3),
         ("email", "yes", 100, 20, 16), ("email", "no", 100, 10, 2)]
CHANNEL_MARGIN = {"phone": 500, "chat": 300, "email": 200}
RESOLVED_MARGIN = {"yes": 700, "no": 300}
COVARIATES = ["channel", "resolved"]


def _population() -> pd.DataFrame:
    """Rows in table order, respondents first in each cell, top2 respondents first.

    This row order reproduces METHODS' handle_time ASMD 0.25615888263634384 (checked against
    balance: other orders give e.g. 0.147 or 0.253).
    """
    rows = []
    for channel, resolved, n, responded, top2 in TABLE:
        for i in range(n):
            rows.append((channel, resolved, int(i < responded),
                         float(i < top2) if i < responded else np.nan))
    pop = pd.DataFrame(rows, columns=["channel", "resolved", "responded", "top2"])
    pop["handle_time"] = 300 + 10 * (np.arange(len(pop)) % 30) + 120 * (pop["resolved"] == "no")
    return pop


@pytest.fixture(scope="module")
def pop() -> pd.DataFrame:
    return _population()


@pytest.fixture(scope="module")
def resp(pop: pd.DataFrame) -> pd.DataFrame:
    return pop[pop["responded"] == 1].reset_index(drop=True)


def _dummies(frame: pd.DataFrame) -> pd.DataFrame:
    """METHODS §5.1's X(): pd.get_dummies with balance-style "col[level]" names."""
    return (pd.get_dummies(frame[COVARIATES], prefix_sep="[", dtype=float)
            .rename(columns=lambda c: c + "]"))


def _ones(n: int) -> pd.Series:
    return pd.Series(np.ones(n))


def printed(value: str):
    """Equality with a number as METHODS prints it: within half a unit of its last digit."""
    decimals = len(value.split(".")[1]) if "." in value else 0
    return pytest.approx(float(value), rel=0, abs=0.5 * 10.0 ** -decimals * (1 + 1e-9))


# ---------------------------------------------------------------------------------- one_hot

def test_one_hot_names_dummies_col_level_and_passes_numeric_through(pop: pd.DataFrame) -> None:
    frame = one_hot(pop, ["channel", "handle_time", "resolved"])
    assert list(frame.columns) == ["channel[chat]", "channel[email]", "channel[phone]",
                                   "handle_time", "resolved[no]", "resolved[yes]"]
    # same dummies as pd.get_dummies (METHODS §5.1 X())
    pd.testing.assert_frame_equal(frame.drop(columns="handle_time"), _dummies(pop))
    np.testing.assert_array_equal(frame["handle_time"], pop["handle_time"].astype(float))


def test_one_hot_on_given_levels_keeps_levels_absent_from_the_frame() -> None:
    frame = one_hot(pd.DataFrame({"ch": ["a", "b", "a"]}), ["ch"], levels={"ch": ["a", "b", "c"]})
    assert list(frame.columns) == ["ch[a]", "ch[b]", "ch[c]"]
    np.testing.assert_array_equal(frame["ch[c]"], [0.0, 0.0, 0.0])


def test_one_hot_rejects_a_value_outside_the_given_levels() -> None:
    with pytest.raises(InputError, match="not among the levels"):
        one_hot(pd.DataFrame({"ch": ["a", "z"]}), ["ch"], levels={"ch": ["a", "b"]})


def test_one_hot_gives_missing_categories_their_own_level() -> None:
    frame = one_hot(pd.DataFrame({"ch": ["a", None, "b"]}), ["ch"])
    assert list(frame.columns) == ["ch[a]", "ch[b]", "ch[_NA]"]
    np.testing.assert_array_equal(frame["ch[_NA]"], [0.0, 1.0, 0.0])


# ------------------------------------------------------------------------------------- ASMD

def test_asmd_equals_balance_asmd_on_union_dummies(pop, resp) -> None:
    ours = asmd(resp[COVARIATES], pop[COVARIATES])
    # METHODS §5.1 path 1: balance asmd on pd.get_dummies frames
    reference = bal_cmp.asmd(_dummies(resp), _dummies(pop))
    pd.testing.assert_series_equal(ours, reference.astype(float), check_exact=False, rtol=1e-12)


def test_asmd_reproduces_the_methods_numbers(pop, resp) -> None:
    ours = asmd(resp[COVARIATES], pop[COVARIATES])
    # METHODS §5.1 printed values
    expected = {"channel[chat]": "0.072702918", "channel[email]": "0.0832916562", "channel[phone]": "0.0",
                "resolved[no]": "0.290811672", "resolved[yes]": "0.290811672", "mean(asmd)": "0.1714049317"}
    assert list(ours.index) == list(expected)
    for name, value in expected.items():
        assert ours[name] == printed(value)


def test_asmd_of_resolved_is_the_hand_computed_share_difference(pop, resp) -> None:
    # METHODS §5.1 hand check: p_s = 150/180, p_t = 0.7, sd_t = sqrt(.7·.3·1000/999)
    hand = abs(150 / 180 - 0.7) / np.sqrt(0.7 * 0.3 * 1000 / 999)
    assert asmd(resp[COVARIATES], pop[COVARIATES])["resolved[yes]"] == pytest.approx(hand, rel=1e-12)


def test_asmd_by_covariate_equals_balance_aggregate_by_main_covar(pop, resp) -> None:
    ours = asmd_by_covariate(resp[COVARIATES], pop[COVARIATES])
    reference = bal_cmp.asmd(_dummies(resp), _dummies(pop), aggregate_by_main_covar=True)
    assert list(ours.index) == ["channel", "resolved", "mean(asmd)"]
    pd.testing.assert_series_equal(ours, reference.reindex(ours.index).astype(float),
                                   check_exact=False, rtol=1e-12)
    # METHODS §5.1: channel 0.0519981914, resolved 0.290811672, mean 0.1714049317
    assert ours["channel"] == printed("0.0519981914")
    assert ours["mean(asmd)"] == printed("0.1714049317")


def test_asmd_of_a_numeric_covariate_uses_its_values(pop, resp) -> None:
    cols = COVARIATES + ["handle_time"]
    ours = asmd(resp[cols], pop[cols])
    reference = bal_cmp.asmd(pd.concat([_dummies(resp), resp[["handle_time"]]], axis=1),
                             pd.concat([_dummies(pop), pop[["handle_time"]]], axis=1))
    pd.testing.assert_series_equal(ours, reference.astype(float), check_exact=False, rtol=1e-12)
    # METHODS §5.1: handle_time 0.25615888263634384, mean over 3 covariates 0.19965624868375342
    assert ours["handle_time"] == pytest.approx(0.25615888263634384, rel=1e-12)
    assert ours["mean(asmd)"] == pytest.approx(0.19965624868375342, rel=1e-12)


def test_asmd_pooled_std_averages_sample_and_target_variances(pop, resp) -> None:
    cols = COVARIATES + ["handle_time"]
    ours = asmd(resp[cols], pop[cols], std_type="pooled")
    reference = bal_cmp.asmd(pd.concat([_dummies(resp), resp[["handle_time"]]], axis=1),
                             pd.concat([_dummies(pop), pop[["handle_time"]]], axis=1), std_type="pooled")
    pd.testing.assert_series_equal(ours, reference.astype(float), check_exact=False, rtol=1e-12)
    assert ours["handle_time"] == printed("0.2684808282")  # METHODS §5.1


def test_asmd_sample_std_uses_the_sample_sd(pop, resp) -> None:
    ours = asmd(resp[COVARIATES], pop[COVARIATES], std_type="sample")
    reference = bal_cmp.asmd(_dummies(resp), _dummies(pop), std_type="sample")
    pd.testing.assert_series_equal(ours, reference.astype(float), check_exact=False, rtol=1e-12)


def test_weighted_asmd_equals_balance_with_weights(pop, resp) -> None:
    rng = np.random.default_rng(11)
    ws, wt = rng.uniform(0.5, 3, len(resp)), rng.uniform(0.2, 2, len(pop))
    cols = COVARIATES + ["handle_time"]
    ours = asmd(resp[cols], pop[cols], sample_weights=ws, target_weights=wt)
    reference = bal_cmp.asmd(pd.concat([_dummies(resp), resp[["handle_time"]]], axis=1),
                             pd.concat([_dummies(pop), pop[["handle_time"]]], axis=1),
                             sample_weights=pd.Series(ws), target_weights=pd.Series(wt))
    pd.testing.assert_series_equal(ours, reference.astype(float), check_exact=False, rtol=1e-12)


def test_union_levels_keep_a_level_missing_from_the_sample() -> None:
    target = pd.DataFrame({"ch": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    sample = pd.DataFrame({"ch": ["a"] * 10 + ["b"] * 10})
    ours = asmd(sample, target)
    # METHODS §5.1 trap 3, union dummies: a 0.0, b 0.4342481187, c 0.4974937186, mean 0.3105806124
    assert ours["ch[a]"] == pytest.approx(0.0, abs=1e-15)
    assert ours["ch[b]"] == printed("0.4342481187")
    assert ours["ch[c]"] == printed("0.4974937186")
    assert ours["mean(asmd)"] == printed("0.3105806124")
    # balance on dummies built per frame loses level c (NaN counted as 0): mean 0.1447493729
    separate = bal_cmp.asmd(one_hot(sample, ["ch"]), one_hot(target, ["ch"]))
    assert separate["mean(asmd)"] == printed("0.1447493729")
    assert ours["mean(asmd)"] > 2 * separate["mean(asmd)"]


def test_asmd_of_a_level_absent_from_the_target_is_nan_counted_as_zero() -> None:
    # balance convention: zero target SD gives NaN, which counts as 0 in mean(asmd)
    target = pd.DataFrame({"ch": ["a"] * 6 + ["b"] * 4})
    sample = pd.DataFrame({"ch": ["a", "b", "c", "c"]})
    ours = asmd(sample, target)
    reference = bal_cmp.asmd(one_hot(sample, ["ch"], levels={"ch": "abc"}),
                             one_hot(target, ["ch"], levels={"ch": "abc"}))
    assert np.isnan(ours["ch[c]"]) and np.isnan(reference["ch[c]"])
    assert ours["mean(asmd)"] == pytest.approx(float(reference["mean(asmd)"]), rel=1e-12)


def test_asmd_counts_missing_categories_as_their_own_level() -> None:
    target = pd.DataFrame({"ch": ["a"] * 5 + ["b"] * 5})
    sample = pd.DataFrame({"ch": ["a", "a", None, None]})
    ours = asmd(sample, target)
    filled = pd.DataFrame({"ch": ["a", "a", "_NA", "_NA"]})
    reference = bal_cmp.asmd(one_hot(filled, ["ch"], levels={"ch": ["a", "b", "_NA"]}),
                             one_hot(target, ["ch"], levels={"ch": ["a", "b", "_NA"]}))
    pd.testing.assert_series_equal(ours, reference.astype(float), check_exact=False, rtol=1e-12)


def test_asmd_encodes_integer_codes_listed_as_categorical() -> None:
    target = pd.DataFrame({"agent": [1, 1, 2, 3, 3, 3]})
    sample = pd.DataFrame({"agent": [1, 3, 3]})
    ours = asmd(sample, target, categorical=["agent"])
    assert list(ours.index) == ["agent[1]", "agent[2]", "agent[3]", "mean(asmd)"]
    reference = bal_cmp.asmd(one_hot(sample.astype(str), ["agent"], levels={"agent": "123"}),
                             one_hot(target.astype(str), ["agent"], levels={"agent": "123"}))
    np.testing.assert_allclose(ours.to_numpy(), reference.to_numpy(float), rtol=1e-12)


def test_asmd_rejects_frames_with_different_covariates(pop, resp) -> None:
    with pytest.raises(InputError, match="same covariates"):
        asmd(resp[["channel"]], pop[COVARIATES])


# ------------------------------------------------------------------------- propensities, R

@pytest.mark.parametrize("values", [
    pd.Series(pd.Categorical(["b", "a", None, "b"], categories=["z", "b", "a"])),   # unused, missing
    pd.Series(pd.Categorical([1.0, 2.5, None, 1.0, 10.0])),                        # text sorts "10.0" < "2.5"
    pd.Series(pd.Categorical([None, None], categories=["a"])),                      # nothing present
    pd.Series(["x", None, "a"], dtype="string"),
])
def test_text_codes_are_the_factorized_text_of_the_values(values) -> None:
    # reference: pandas' own factorize of the column as text, the form weighted_moments used
    codes, levels = text_codes(values)
    expected_codes, expected_levels = pd.factorize(values.astype(str), sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert list(levels) == list(expected_levels)


def test_distinct_rows_are_numpys_unique_rows_with_their_inverse() -> None:
    # reference: np.unique(axis=0, return_inverse=True); -0.0 equals 0.0 there, halves and
    # negative values sort as numbers, not as bytes
    rng = np.random.default_rng(0)
    m = rng.integers(-2, 3, (5000, 4)).astype(float)
    m[::7, 1] = -0.0
    m[:, 3] *= 0.5
    distinct, row = distinct_rows(m)
    expected, inverse = np.unique(m, axis=0, return_inverse=True)
    np.testing.assert_array_equal(distinct, expected)
    np.testing.assert_array_equal(row, inverse.reshape(-1))
    np.testing.assert_array_equal(distinct[row], m)


def test_response_propensities_equal_the_statsmodels_formula_glm(pop) -> None:
    rho = response_propensities(pop, "responded", COVARIATES)
    # METHODS §5.2: smf.glm("responded ~ C(channel) + C(resolved)", Binomial)
    fit = smf.glm("responded ~ C(channel) + C(resolved)", data=pop, family=sm.families.Binomial()).fit()
    np.testing.assert_allclose(rho, fit.predict(pop), rtol=1e-10)
    assert rho.mean() == pytest.approx(0.18, rel=1e-10)


def test_response_propensities_with_a_numeric_covariate_equal_the_formula_glm(pop) -> None:
    rho = response_propensities(pop, "responded", ["channel", "handle_time"])
    fit = smf.glm("responded ~ C(channel) + handle_time", data=pop, family=sm.families.Binomial()).fit()
    np.testing.assert_allclose(rho, fit.predict(pop), rtol=1e-8)


def mixed_covariates() -> pd.DataFrame:
    return pd.DataFrame({
        "channel": pd.array(["chat", "phone", None, "chat", "email", "phone"], dtype="str"),
        "segment": pd.Categorical(["b", "a", "b", None, "a", "b"], categories=["c", "b", "a"]),
        "resolved": [True, False, True, True, False, True], "code": [3, 1, 2, 3, 3, 1],
        "handle": [1.5, 2.0, 3.5, 1.0, 2.5, 4.0]})


def test_logit_design_dummies_equal_comparing_every_row_with_every_level() -> None:
    frame = mixed_covariates()
    cats = ["channel", "segment", "resolved", "code"]
    columns = [np.ones(len(frame))]
    for column in cats:
        filled = _filled(frame[column]).astype(object)
        columns += [(filled == level).to_numpy(float) for level in _sorted_levels(filled)[1:]]
    expected = np.column_stack(columns + [frame["handle"].to_numpy(float)])
    np.testing.assert_array_equal(_logit_design(frame, cats + ["handle"], cats), expected)


def test_frequency_weights_on_grouped_data_give_the_unit_level_fit(pop) -> None:
    grouped = pop.groupby(COVARIATES + ["responded"], as_index=False).size()
    rho_grouped = response_propensities(grouped, "responded", COVARIATES, freq_weights=grouped["size"])
    rho_units = response_propensities(pop, "responded", COVARIATES)
    merged = pop[COVARIATES + ["responded"]].merge(
        grouped.assign(rho=rho_grouped), on=COVARIATES + ["responded"], how="left")
    np.testing.assert_allclose(merged["rho"], rho_units, rtol=1e-10)


def test_perfect_separation_gives_the_cell_response_rates_silently() -> None:
    frame = pd.DataFrame({"ch": ["a"] * 40 + ["b"] * 40 + ["c"] * 20,
                          "responded": [1] * 10 + [0] * 30 + [0] * 40 + [1] * 5 + [0] * 15})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rho = response_propensities(frame, "responded", ["ch"])
    # saturated model: fitted values = cell rates (b has no respondents)
    rates = frame.groupby("ch")["responded"].transform("mean")
    np.testing.assert_allclose(rho, rates, atol=1e-8)


def test_a_constant_covariate_does_not_change_the_propensities(pop) -> None:
    with_constant = pop.assign(site="HQ", one=1.0)
    np.testing.assert_allclose(
        response_propensities(with_constant, "responded", COVARIATES + ["site", "one"]),
        response_propensities(pop, "responded", COVARIATES), rtol=1e-10)


def test_response_propensities_reject_a_non_binary_response(pop) -> None:
    with pytest.raises(InputError, match="0/1"):
        response_propensities(pop.assign(responded=pop["responded"] * 2), "responded", COVARIATES)


def test_r_indicator_equals_balance_on_respondents_and_nonrespondents(pop) -> None:
    rho = response_propensities(pop, "responded", COVARIATES)
    responded = pop["responded"].to_numpy() == 1
    # METHODS §5.2: R = 0.8903110044 == balance r_indicator(rho[resp], rho[nonresp])
    assert r_indicator(rho) == pytest.approx(0.8903110043744847, rel=1e-12)
    assert r_indicator(rho) == pytest.approx(float(bal_cmp.r_indicator(rho[responded], rho[~responded])),
                                             rel=1e-12)


def test_weighted_r_indicator_equals_the_expanded_unweighted_one() -> None:
    rho = np.array([0.1, 0.3, 0.25, 0.6])
    counts = np.array([3, 1, 5, 2])
    assert r_indicator(rho, weights=counts) == pytest.approx(r_indicator(np.repeat(rho, counts)), rel=1e-12)
    # and the unweighted formula by hand: 1 - 2·sd(ddof=1)
    expanded = np.repeat(rho, counts)
    assert r_indicator(expanded) == pytest.approx(1 - 2 * expanded.std(ddof=1), rel=1e-12)


def test_r_indicator_rejects_values_outside_zero_one() -> None:
    with pytest.raises(InputError, match="probabilities"):
        r_indicator([0.2, 1.3])


@pytest.fixture(scope="module")
def indicators(pop) -> RIndicator:
    return representativeness_indicators(pop, "responded", COVARIATES, categorical=COVARIATES,
                                         y_sd=np.sqrt(141 / 180 * (1 - 141 / 180)))


def test_representativeness_reports_r_s_mean_and_cv(indicators) -> None:
    # METHODS §5.2
    assert indicators.r_indicator == pytest.approx(0.8903110043744847, rel=1e-12)
    assert indicators.s_rho == pytest.approx(0.05484449781275761, rel=1e-12)
    assert indicators.mean_propensity == pytest.approx(0.18, rel=1e-12)
    assert indicators.cv == pytest.approx(0.30469165451532, rel=1e-12)


def test_max_bias_bound_is_cv_times_sd_of_y(indicators) -> None:
    # METHODS §5.2: S·sqrt(p(1-p))/rho_bar with p = 141/180 -> 0.1255249086
    assert indicators.max_bias_bound == printed("0.1255249086")


def test_max_bias_bound_is_absent_without_the_sd_of_y(pop) -> None:
    result = representativeness_indicators(pop, "responded", COVARIATES, categorical=COVARIATES)
    assert result.max_bias_bound is None


def test_unconditional_partial_indicators_match_methods(indicators) -> None:
    # METHODS §5.2: P_u(channel) 0.0173205081 {chat +0.0109544512, email -0.0134164079, phone 0};
    # P_u(resolved) 0.0523722937 {no -0.0438178046, yes +0.0286854866}
    assert indicators.partial_unconditional["channel"] == printed("0.0173205081")
    assert indicators.partial_unconditional["resolved"] == printed("0.0523722937")
    by_k = indicators.partial_unconditional_by_category
    assert by_k["channel"]["chat"] == printed("0.0109544512")
    assert by_k["channel"]["email"] == printed("-0.0134164079")
    assert by_k["channel"]["phone"] == pytest.approx(0.0, abs=1e-12)
    assert by_k["resolved"]["no"] == printed("-0.0438178046")
    assert by_k["resolved"]["yes"] == printed("0.0286854866")


def test_unconditional_partial_equals_category_response_rate_spread(pop, indicators) -> None:
    # main-effects logit reproduces each level's response rate, so P_u(Z)² is the
    # N-weighted variance of the observed category rates (independent hand formula)
    for column in COVARIATES:
        rates = pop.groupby(column)["responded"].agg(["mean", "size"])
        hand = np.sqrt(np.sum(rates["size"] * (rates["mean"] - 0.18) ** 2) / len(pop))
        assert indicators.partial_unconditional[column] == pytest.approx(hand, rel=1e-9)


def test_conditional_partial_indicators_match_methods(indicators) -> None:
    # METHODS §5.2: P_c(channel) 0.0161880783 {chat 0.0135927676, email 0.0032399182,
    # phone 0.0081727277}; P_c(resolved) 0.0520087591 {no 0.0427550917, yes 0.0296127195}
    assert indicators.partial_conditional["channel"] == printed("0.0161880783")
    assert indicators.partial_conditional["resolved"] == printed("0.0520087591")
    by_k = indicators.partial_conditional_by_category
    for level, value in {"chat": "0.0135927676", "email": "0.0032399182", "phone": "0.0081727277"}.items():
        assert by_k["channel"][level] == printed(value)
    for level, value in {"no": "0.0427550917", "yes": "0.0296127195"}.items():
        assert by_k["resolved"][level] == printed(value)


def test_conditional_partial_is_nan_when_another_covariate_is_numeric(pop) -> None:
    result = representativeness_indicators(pop, "responded", ["channel", "handle_time"],
                                           categorical=["channel"])
    assert np.isnan(result.partial_conditional["channel"])
    assert "handle_time" not in result.partial_unconditional


def test_saturated_model_r_indicator_matches_methods(pop) -> None:
    cells = pop.assign(cell=pop["channel"] + "/" + pop["resolved"])
    result = representativeness_indicators(cells, "responded", ["cell"], categorical=["cell"])
    # METHODS §5.2: saturated (cell-rate) propensities R = 0.8885889933, S = 0.0557055033
    assert result.r_indicator == printed("0.8885889933")
    assert result.s_rho == printed("0.0557055033")
    rates = cells.groupby("cell")["responded"].transform("mean").to_numpy()
    responded = cells["responded"].to_numpy() == 1
    assert result.r_indicator == pytest.approx(
        float(bal_cmp.r_indicator(rates[responded], rates[~responded])), rel=1e-10)


def test_grouped_data_with_frequency_weights_give_the_unit_level_indicators(pop, indicators) -> None:
    grouped = pop.groupby(COVARIATES + ["responded"], as_index=False).size()
    result = representativeness_indicators(grouped, "responded", COVARIATES, categorical=COVARIATES,
                                           freq_weights=grouped["size"],
                                           y_sd=np.sqrt(141 / 180 * (1 - 141 / 180)))
    assert result.r_indicator == pytest.approx(indicators.r_indicator, rel=1e-10)
    assert result.max_bias_bound == pytest.approx(indicators.max_bias_bound, rel=1e-9)
    for column in COVARIATES:
        assert result.partial_conditional[column] == pytest.approx(
            indicators.partial_conditional[column], rel=1e-9)
        assert result.partial_unconditional[column] == pytest.approx(
            indicators.partial_unconditional[column], rel=1e-9)


# ------------------------------------------------------------------------- Kish statistics

def test_kish_design_effect_and_effective_n_equal_balance() -> None:
    w = np.random.default_rng(3).lognormal(0, 0.7, 250)
    assert kish_design_effect(w) == pytest.approx(float(bal_w.design_effect(pd.Series(w))), rel=1e-12)
    assert effective_sample_size(w) == pytest.approx(float(bal_w.kish_ess(pd.Series(w))), rel=1e-12)
    assert effective_sample_size(w) == pytest.approx(len(w) / kish_design_effect(w), rel=1e-12)


def test_equal_weights_have_no_design_effect() -> None:
    assert kish_design_effect(np.full(40, 2.5)) == pytest.approx(1.0, rel=1e-15)
    assert effective_sample_size(np.full(40, 2.5)) == pytest.approx(40.0, rel=1e-15)


# ------------------------------------------------------------------------ post-stratification

def test_poststratification_matches_methods_and_balance(pop, resp) -> None:
    result = poststratify(resp, COVARIATES, pop.groupby(COVARIATES).size())
    assert isinstance(result, Weights) and result.method == "poststratify" and result.converged
    # METHODS §5.4: adjusted top2box 0.706 ; deff 1.134 ; n_eff 158.730159 ; sum w 1000
    assert np.dot(result.weights, resp["top2"]) / result.weights.sum() == pytest.approx(0.706, rel=1e-12)
    assert result.design_effect == pytest.approx(1.134, rel=1e-12)
    assert result.effective_n == printed("158.730159")
    assert result.weights.sum() == pytest.approx(1000, rel=1e-12)
    reference = bal_poststratify(resp[COVARIATES], _ones(len(resp)), pop[COVARIATES], _ones(len(pop)),
                                 transformations=None)["weight"]
    np.testing.assert_allclose(result.weights, reference, rtol=1e-12)
    assert result.max_ratio == pytest.approx(reference.max() / reference.mean(), rel=1e-12)


def test_poststratification_on_one_cell_variable_uses_a_plain_index(pop, resp) -> None:
    result = poststratify(resp, ["channel"], pop["channel"].value_counts())
    n_h = resp["channel"].map(resp["channel"].value_counts())
    np.testing.assert_allclose(result.weights, resp["channel"].map(pop["channel"].value_counts()) / n_h,
                               rtol=1e-15)


def test_poststratification_names_a_populated_cell_without_respondents(pop, resp) -> None:
    sample = resp[~((resp["channel"] == "email") & (resp["resolved"] == "no"))]
    with pytest.raises(ValueError, match=r"email.*no"):
        poststratify(sample, COVARIATES, pop.groupby(COVARIATES).size())


# ------------------------------------------------------------------------------------ raking

RAKE_MARGINS = {"channel": CHANNEL_MARGIN, "resolved": RESOLVED_MARGIN}


def test_raking_matches_the_hand_ipf_numbers(resp) -> None:
    result = rake(resp, RAKE_MARGINS)
    assert result.method == "rake" and result.converged and 1 < result.iterations < 100
    # METHODS §5.4: hand IPF (1000 sweeps) / weightipy 0.7064082616885258 ; deff 1.1336413942
    estimate = np.dot(result.weights, resp["top2"]) / result.weights.sum()
    assert estimate == pytest.approx(0.7064082616885258, rel=1e-9)
    assert result.design_effect == printed("1.1336413942")


def test_raking_matches_balance_rake_at_tight_convergence(pop, resp) -> None:
    result = rake(resp, RAKE_MARGINS)
    reference = bal_rake(resp[COVARIATES], _ones(len(resp)), pop[COVARIATES], _ones(len(pop)),
                         transformations=None, convergence_rate=1e-10)["weight"]
    np.testing.assert_allclose(result.weights, reference, rtol=1e-8)
    # METHODS §5.4: balance rake, convergence_rate=1e-10 -> 0.7064082616718989
    estimate = np.dot(result.weights, resp["top2"]) / result.weights.sum()
    assert estimate == pytest.approx(0.7064082616718989, rel=1e-9)


def test_raked_weights_reproduce_every_margin(resp) -> None:
    w = rake(resp, RAKE_MARGINS).weights
    for column, margin in RAKE_MARGINS.items():
        achieved = pd.Series(w).groupby(resp[column].to_numpy()).sum()
        for category, total in margin.items():
            assert achieved[category] == pytest.approx(total, rel=1e-10)


def test_raked_weights_remove_the_asmd_of_the_raking_variables(pop, resp) -> None:
    w = rake(resp, RAKE_MARGINS).weights
    ours = asmd(resp[COVARIATES], pop[COVARIATES], sample_weights=w)
    assert ours["mean(asmd)"] < 1e-9
    reference = bal_cmp.asmd(_dummies(resp), _dummies(pop), sample_weights=pd.Series(w))
    assert ours["mean(asmd)"] == pytest.approx(float(reference["mean(asmd)"]), abs=1e-12)


def test_raking_one_variable_is_poststratification_on_it(pop, resp) -> None:
    raked = rake(resp, {"channel": CHANNEL_MARGIN})
    np.testing.assert_allclose(raked.weights,
                               poststratify(resp, ["channel"], pd.Series(CHANNEL_MARGIN)).weights,
                               rtol=1e-14)
    assert raked.iterations == 1


def test_raking_starts_from_base_weights() -> None:
    sample = pd.DataFrame({"g": ["a", "a", "b", "b"], "h": ["x", "y", "x", "y"]})
    base = np.array([1.0, 3.0, 2.0, 2.0])
    w = rake(sample, {"g": {"a": 10, "b": 10}}, base_weights=base).weights
    # within g = a, the 1:3 base ratio is kept (only the cell total is scaled)
    np.testing.assert_allclose(w, [2.5, 7.5, 5.0, 5.0], rtol=1e-15)


def test_raking_reports_non_convergence_when_sweeps_run_out(resp) -> None:
    result = rake(resp, RAKE_MARGINS, max_iterations=1)
    assert not result.converged and result.iterations == 1


def test_raking_names_a_margin_category_without_sample_rows(resp) -> None:
    with pytest.raises(ValueError, match="sms"):
        rake(resp, {"channel": {**CHANNEL_MARGIN, "phone": 450, "sms": 50}, "resolved": RESOLVED_MARGIN})


def test_raking_rejects_margins_with_different_totals(resp) -> None:
    with pytest.raises(ValueError, match="different totals"):
        rake(resp, {"channel": CHANNEL_MARGIN, "resolved": {"yes": 700, "no": 400}})


def test_raking_names_a_sample_value_without_a_margin(resp) -> None:
    with pytest.raises(ValueError, match="email"):
        rake(resp, {"channel": {"phone": 600, "chat": 400}})


def test_raking_categorical_columns_gives_the_weights_of_text_columns(resp) -> None:
    as_categories = resp.astype({"channel": "category", "resolved": "category"})
    np.testing.assert_array_equal(rake(as_categories, RAKE_MARGINS).weights, rake(resp, RAKE_MARGINS).weights)


@pytest.mark.parametrize("values", [
    pd.Series(["b", "a", "c", "a", "b"], dtype="str"),
    pd.Series(np.array(["b", 1, 1.0, True, "a"], dtype=object)),
    pd.Series(pd.Categorical(["u", "v", "u", "w", "u"], categories=["w", "v", "u", "x"])),
    pd.Series([3, 1, 2, 3, 3])])
def test_category_positions_equal_a_row_by_row_lookup(values) -> None:
    categories = list(pd.unique(values))[::-1]
    expected = values.map({c: j for j, c in enumerate(categories)}).to_numpy(int)
    np.testing.assert_array_equal(_category_index(values, categories, "x"), expected)


def test_category_positions_are_the_index_positions_with_minus_one_for_unknown_and_missing() -> None:
    values = pd.Series(["b", None, "zz", "a", "b", "a"], dtype="str")
    expected = pd.Index(["a", "b", "c"]).get_indexer(values)
    np.testing.assert_array_equal(category_positions(values, ["a", "b", "c"]), expected)
    assert expected.tolist() == [1, -1, -1, 0, 1, 0]


def test_category_positions_name_every_unknown_value_once() -> None:
    values = pd.Series(["b", "zz", "a", "zz", "y"], dtype="str")
    with pytest.raises(ValueError, match=r"\['y', 'zz'\] have no population total"):
        _category_index(values, ["a", "b"], "x")


def rowwise_level_moments(frame: pd.DataFrame, column: str, w: np.ndarray) -> dict[str, tuple[float, float]]:
    # each level's weighted share and SD from a text comparison of every row (the reference)
    values = frame[column].astype(str).to_numpy()
    return {level: _weighted_mean_sd((values == level).astype(float), w) for level in sorted(set(values))}


def test_weighted_moments_of_levels_equal_row_by_row_text_comparisons() -> None:
    g = np.random.default_rng(21)
    frame = pd.DataFrame({"channel": pd.Series(g.choice(["chat", "phone", "Email", "émail", "(missing)"], 500),
                                               dtype="str"),
                          "resolved": g.choice([0, 1], 500), "handle": g.gamma(2.0, 300.0, 500)})
    w = g.uniform(0.5, 3.0, 500)
    got = weighted_moments(frame, ["channel", "resolved"], ["handle"], weights=w)
    for column in ("channel", "resolved"):
        for level, (mean, sd) in rowwise_level_moments(frame, column, w).items():
            assert (got.mean[f"{column}[{level}]"], got.sd[f"{column}[{level}]"]) == (mean, sd)
    assert list(got.mean.index[:5]) == [f"channel[{v}]" for v in sorted(set(frame["channel"]))]


# ------------------------------------------------- raking inputs of nonresponse_adjustment (bias)

def rowwise_covariate_frame(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    # every row's value written as text (the reference)
    return pd.DataFrame({c: category_text(frame[c]).to_numpy() for c in categorical}, index=frame.index)


def test_covariate_frame_writes_each_value_as_every_row_would_be_written() -> None:
    frame = pd.DataFrame({
        "text": pd.array(["b", None, "a", "b", "1"], dtype="str"),
        "mixed": np.array(["x", 1, None, 1.0, True], dtype=object),
        "flag": [1.0, np.nan, 0.0, 1.0, -0.0], "half": [1.5, np.nan, -0.0, 0.0, 1.5],
        "count": pd.array([1, None, 2, 1, 0], dtype="Int64"), "code": [3, 1, 2, 3, 3],
        "bool": [True, False, True, True, False], "segment": pd.Categorical(["u", "v", None, "u", "u"]),
        "coded": pd.Categorical([2.0, 1.0, None, 2.0, 1.0]),
        "empty": [np.nan] * 5}, index=[5, 3, 9, 1, 7])
    columns = list(frame.columns)
    ours = covariate_frame(frame, columns, [])
    # a categorical stays one, of the texts its rows would be written as
    for c in ("segment", "coded"):
        assert isinstance(ours[c].dtype, pd.CategoricalDtype)
        ours[c] = ours[c].to_numpy()
    pd.testing.assert_frame_equal(ours, rowwise_covariate_frame(frame, columns), check_exact=True)


def test_covariate_frame_writes_a_categorical_whose_texts_collide_row_by_row() -> None:
    # categories 1 and "1" both print as '1', and one category is the missing label itself:
    # the categorical cannot keep one category per text, so every row is written as text
    for values in (pd.Categorical([1, "1", None], categories=[1, "1"]),
                   pd.Categorical(["(missing)", None, "a"])):
        frame = pd.DataFrame({"segment": values})
        pd.testing.assert_frame_equal(covariate_frame(frame, ["segment"], []),
                                      rowwise_covariate_frame(frame, ["segment"]), check_exact=True)


def rowwise_raking_categories(scope: Cells, linked: pd.DataFrame, column: str,
                              numeric: bool) -> tuple[dict[str, int], np.ndarray]:
    # bias.raking_categories on every respondent's label as text (the reference)
    if numeric:
        p_counts = pd.Series(scope.n, index=scope.bins[column].astype(str).to_numpy()).groupby(level=0).sum()
        r_cat = pd.Series(bin_index(linked[column], scope.edges[column]).astype(str))
    else:
        p_counts = scope.level_counts(column)
        r_cat = pd.Series(linked[column].to_numpy())
    counts = r_cat.value_counts()
    small = [k for k in p_counts.index if counts.get(k, 0) < MIN_CELL]
    if small:
        rename = dict.fromkeys(small, "(other)")
        if counts[counts.index.isin(small)].sum() < MIN_CELL:
            kept = counts[~counts.index.isin(small)]
            rename = dict.fromkeys(small, kept.idxmax() if len(kept) else "(other)")
        p_counts = p_counts.rename(index=rename).groupby(level=0).sum()
        r_cat = r_cat.replace(rename)
    return {k: int(v) for k, v in p_counts.items()}, r_cat.to_numpy()


def raking_scope(levels: list[str], n: list[int], edges: np.ndarray) -> Cells:
    # cells of one categorical covariate "channel" and one numeric "handle" (bin per cell, -1 missing)
    bins = pd.DataFrame({"handle": np.arange(len(levels)) % (len(edges) - 1) - (np.arange(len(levels)) == 0)})
    empty = pd.DataFrame({"handle": np.zeros(len(levels))})
    return Cells(pd.DataFrame({"channel": levels}), np.array(n), empty, empty, empty.astype(int), bins,
                 {"handle": 0.0}, {"handle": edges})


@pytest.mark.parametrize("respondents", [
    {"chat": 40, "phone": 30, "email": 3, "sms": 2, "fax": 1},      # small ones pooled into "(other)"
    {"chat": 30, "phone": 30, "email": 2, "sms": 1},                # too few to pool: they join the largest (a tie)
    {"phone": 30, "chat": 30, "email": 2, "sms": 1},                # ... the one seen first
    {"chat": 70, "phone": 5, "email": 5, "sms": 5, "fax": 5}])      # nothing to pool
def test_raking_categories_equal_those_of_every_respondents_label(respondents) -> None:
    g = np.random.default_rng(22)
    labels = np.concatenate([[k] * v for k, v in respondents.items()])
    order = g.permutation(labels.size) if "fax" in respondents else np.arange(labels.size)
    linked = pd.DataFrame({"channel": pd.array(labels[order], dtype="str"),
                           "handle": np.where(g.random(labels.size) < 0.1, np.nan, g.gamma(2.0, 300.0, labels.size))})
    scope = raking_scope(["chat", "email", "fax", "phone", "sms"], [400, 60, 20, 300, 40],
                         np.array([-np.inf, 300.0, 500.0, 800.0, np.inf]))
    for column, numeric in (("channel", False), ("handle", True)):
        counts, categories = raking_categories(scope, linked, column, numeric)
        expected_counts, expected = rowwise_raking_categories(scope, linked, column, numeric)
        assert counts == expected_counts and list(counts) == list(expected_counts)
        np.testing.assert_array_equal(np.asarray(categories, dtype=object), expected)


# ---------------------------------------------------------------------- SE of weighted mean

def test_weighted_mean_se_of_the_poststratified_estimate_matches_methods(pop, resp) -> None:
    w = poststratify(resp, COVARIATES, pop.groupby(COVARIATES).size()).weights
    # METHODS §5.4: samplics TaylorEstimator -> SE 0.0397704154
    assert weighted_mean_se(resp["top2"], w) == printed("0.0397704154")


def test_weighted_mean_se_equals_the_wls_hc1_sandwich(resp) -> None:
    w = rake(resp, RAKE_MARGINS).weights
    # intercept-only WLS: estimate = Hájek mean, HC1 variance = n/(n-1)·Σw²e²/(Σw)²
    fit = sm.WLS(resp["top2"].to_numpy(), np.ones(len(resp)), weights=w).fit(cov_type="HC1")
    assert weighted_mean_se(resp["top2"], w) == pytest.approx(float(fit.bse[0]), rel=1e-10)


def test_weighted_mean_se_with_equal_weights_is_s_over_root_n(resp) -> None:
    y = resp["top2"].to_numpy()
    # METHODS §5.4 unweighted: SE 0.0307923503
    assert weighted_mean_se(y, np.ones(y.size)) == pytest.approx(y.std(ddof=1) / np.sqrt(y.size), rel=1e-12)
    assert weighted_mean_se(y, np.ones(y.size)) == printed("0.0307923503")


# ------------------------------------------------------------------------------ invitation AUC

def test_invitation_auc_is_the_share_of_correctly_ordered_pairs() -> None:
    invited = [0.9, 0.8, 0.7, 0.6, 0.45]
    not_invited = [0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01]
    # one of 5·7 pairs misordered: 34/35 = 0.9714285714 (the size of METHODS §9.1's toy value)
    assert invitation_auc(invited, not_invited) == pytest.approx(34 / 35, rel=1e-15)


def test_invitation_auc_equals_roc_auc_with_ties() -> None:
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(5)
    invited, others = rng.integers(0, 6, 60).astype(float), rng.integers(0, 5, 90).astype(float)
    labels = np.r_[np.ones(invited.size), np.zeros(others.size)]
    reference = roc_auc_score(labels, np.r_[invited, others])
    assert invitation_auc(invited, others) == pytest.approx(reference, rel=1e-12)


# --------------------------------------------------------------------- simulations, known truth

def _simulated_population(rng: np.random.Generator, response_rate_by_group: dict[str, float]) -> pd.DataFrame:
    n = 20_000
    group = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    shift = rng.choice(["day", "night"], size=n, p=[0.7, 0.3])
    satisfied = rng.random(n) < pd.Series(group).map({"a": 0.9, "b": 0.7, "c": 0.4}).to_numpy()
    responded = rng.random(n) < pd.Series(group).map(response_rate_by_group).to_numpy()
    return pd.DataFrame({"group": group, "shift": shift, "satisfied": satisfied.astype(float),
                         "responded": responded.astype(int)})


def test_mcar_response_is_balanced_and_representative() -> None:
    frame = _simulated_population(np.random.default_rng(20240601), {"a": 0.2, "b": 0.2, "c": 0.2})
    sample = frame[frame["responded"] == 1]
    assert asmd(sample[["group", "shift"]], frame[["group", "shift"]])["mean(asmd)"] < 0.05
    result = representativeness_indicators(frame, "responded", ["group", "shift"],
                                           categorical=["group", "shift"])
    assert result.r_indicator > 0.97


def test_covariate_driven_response_is_flagged_unbalanced_and_unrepresentative() -> None:
    frame = _simulated_population(np.random.default_rng(20240601), {"a": 0.3, "b": 0.15, "c": 0.05})
    sample = frame[frame["responded"] == 1]
    assert asmd_by_covariate(sample[["group", "shift"]], frame[["group", "shift"]])["group"] > 0.25
    result = representativeness_indicators(frame, "responded", ["group", "shift"],
                                           categorical=["group", "shift"])
    assert result.r_indicator < 0.85
    assert result.partial_unconditional["group"] > 10 * result.partial_unconditional["shift"]


def test_raking_recovers_the_population_value_under_covariate_driven_response() -> None:
    frame = _simulated_population(np.random.default_rng(7), {"a": 0.3, "b": 0.15, "c": 0.05})
    sample = frame[frame["responded"] == 1].reset_index(drop=True)
    truth = frame["satisfied"].mean()
    margins = {c: frame[c].value_counts().to_dict() for c in ("group", "shift")}
    w = rake(sample, margins).weights
    adjusted = np.dot(w, sample["satisfied"]) / w.sum()
    se = weighted_mean_se(sample["satisfied"], w)
    assert abs(adjusted - truth) < 3 * se
    # the unweighted respondent mean misses by far more than its own SE
    naive_se = sample["satisfied"].std(ddof=1) / np.sqrt(len(sample))
    assert abs(sample["satisfied"].mean() - truth) > 5 * naive_se
