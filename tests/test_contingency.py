"""Specification of audit.contingency: homogeneity of rates across segments (METHODS §4)."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.stats.contingency import association
from statsmodels.stats.contingency_tables import Table

from audit.contingency import (
    adjust_pvalues,
    holm_rejections,
    chi2_monte_carlo_pvalue,
    cramers_v,
    rate_homogeneity_test,
)

# METHODS §4.1: response rates by channel (phone, chat, email, sms)
CHANNEL_INVITED = np.array([2000, 1500, 1000, 500])
CHANNEL_RESPONDED = np.array([300, 270, 100, 30])
CHANNELS = ["phone", "chat", "email", "sms"]

# METHODS §4.2: twelve small agents
AGENT_INVITED = np.array([12, 15, 9, 20, 11, 8, 14, 10, 13, 7, 16, 9])
AGENT_RESPONDED = np.array([2, 3, 1, 4, 7, 1, 2, 2, 3, 0, 4, 5])
AGENTS = [f"seg{i}" for i in range(1, 13)]


def _table(responded, invited):
    return np.vstack([responded, np.asarray(invited) - np.asarray(responded)])


def _channel_test():
    return rate_homogeneity_test(CHANNEL_RESPONDED, CHANNEL_INVITED, CHANNELS, rng=np.random.default_rng(0))


def _reference_mc_pvalue(table, seed, n_simulations):
    """The reference of METHODS §4.2, written out: Patefield tables from scipy, Pearson X²
    over the full table, R's 1 - 64·eps tolerance, p = (1 + #)/(B + 1)."""
    row, col = table.sum(axis=1), table.sum(axis=0)
    expected = np.outer(row, col) / table.sum()
    observed = ((table - expected) ** 2 / expected).sum()
    sims = stats.random_table(row, col, seed=seed).rvs(n_simulations, method="patefield")
    x2 = ((sims - expected) ** 2 / expected).sum(axis=(1, 2))
    return (1 + np.sum(x2 >= observed * (1 - 64 * np.finfo(float).eps))) / (n_simulations + 1)


# ---------------------------------------------------------------- §4.1 asymptotic test

def test_channel_skew_reproduces_chi2_contingency_without_yates():
    # METHODS §4.1: X² = 61.46179401993355, p = 2.8634188585726e-13, df = 3, min E = 70
    result = _channel_test()
    table = _table(CHANNEL_RESPONDED, CHANNEL_INVITED)
    chi2, p, dof, expected = stats.chi2_contingency(table, correction=False)
    assert result.method == "asymptotic" and result.n_simulations is None
    assert result.chi2 == pytest.approx(chi2, rel=1e-12)
    assert result.chi2 == pytest.approx(61.46179401993355, rel=1e-12)
    assert result.p_value == pytest.approx(p, rel=1e-10)
    assert result.p_value == pytest.approx(2.8634188585726e-13, rel=1e-10)
    assert result.dof == dof == 3
    assert result.min_expected == pytest.approx(expected.min(), rel=1e-12) and result.min_expected == 70.0
    assert result.share_expected_below_5 == 0.0


def test_channel_skew_reports_rates_and_segments_in_input_order():
    result = _channel_test()
    assert result.labels == tuple(CHANNELS)
    assert result.successes == (300, 270, 100, 30)
    assert result.trials == (2000, 1500, 1000, 500)
    assert result.rates == pytest.approx((0.15, 0.18, 0.10, 0.06), rel=1e-15)


def test_cramers_v_matches_scipy_association():
    # METHODS §4.1: V = 0.1108709105400813
    table = _table(CHANNEL_RESPONDED, CHANNEL_INVITED)
    result = _channel_test()
    assert result.cramers_v == pytest.approx(association(table, method="cramer", correction=False), rel=1e-12)
    assert result.cramers_v == pytest.approx(0.1108709105400813, rel=1e-12)


def test_bergsma_corrected_v_reproduces_methods_number():
    # METHODS §4.1: Bergsma (2013) corrected V = 0.1081414729
    assert _channel_test().cramers_v_corrected == pytest.approx(0.1081414729, rel=1e-9)


def test_adjusted_residuals_match_statsmodels_standardized_residuals():
    # METHODS §4.1: Table(tab).standardized_resids[0] = [1.663896 5.336338 -4.075696 -5.434261]
    table = _table(CHANNEL_RESPONDED, CHANNEL_INVITED)
    reference = Table(table, shift_zeros=False).standardized_resids[0]
    result = _channel_test()
    assert result.adjusted_residuals == pytest.approx(tuple(reference), rel=1e-12)
    assert result.adjusted_residuals == pytest.approx((1.663896, 5.336338, -4.075696, -5.434261), abs=5e-7)


def test_one_vs_rest_p_of_large_segments_is_the_chi2_test_without_yates():
    # METHODS §4.3: [9.61332517e-02 9.48423533e-08 4.58769747e-05 5.50240007e-08]
    result = _channel_test()
    for j, p in enumerate(result.one_vs_rest_p):
        s, t = CHANNEL_RESPONDED[j], CHANNEL_INVITED[j]
        rest_s, rest_f = CHANNEL_RESPONDED.sum() - s, (CHANNEL_INVITED - CHANNEL_RESPONDED).sum() - (t - s)
        two_by_two = [[s, rest_s], [t - s, rest_f]]
        assert p == pytest.approx(stats.chi2_contingency(two_by_two, correction=False)[1], rel=1e-10)
    assert result.one_vs_rest_p == pytest.approx(
        (9.61332517e-02, 9.48423533e-08, 4.58769747e-05, 5.50240007e-08), rel=1e-8)


# ---------------------------------------------------------------- §4.2 Monte Carlo test

def test_sparse_agents_fail_cochrans_rule_and_use_monte_carlo():
    # METHODS §4.2: X² = 19.693721465700076, 50 % of E < 5, min E 1.6528, V 0.3698134051
    result = rate_homogeneity_test(AGENT_RESPONDED, AGENT_INVITED, AGENTS,
                                   rng=np.random.default_rng(20240601), n_simulations=2000)
    assert result.method == "monte_carlo" and result.n_simulations == 2000
    assert result.chi2 == pytest.approx(19.693721465700076, rel=1e-12)
    assert result.dof == 11
    assert result.share_expected_below_5 == 0.5
    assert result.min_expected == pytest.approx(1.6527777777777777, rel=1e-12)  # 7·17/72
    assert result.cramers_v == pytest.approx(0.3698134051, rel=1e-9)


def test_monte_carlo_draws_are_patefield_tables_scored_as_in_methods():
    # The written-out reference reproduces METHODS §4.2 exactly when seeded as METHODS did
    # (legacy integer seed) ...
    table = _table(AGENT_RESPONDED, AGENT_INVITED)
    assert _reference_mc_pvalue(table, 20240601, 100_000) == 0.04458955410445896
    assert _reference_mc_pvalue(table, 1, 100_000) == 0.04434955650443496
    # ... and our implementation, fed a Generator, equals that reference to the last bit.
    for seed in (20240601, 1):
        ours = chi2_monte_carlo_pvalue(table, rng=np.random.default_rng(seed), n_simulations=100_000)
        assert ours == _reference_mc_pvalue(table, np.random.default_rng(seed), 100_000)


def test_monte_carlo_p_agrees_with_the_permutation_reference_within_its_standard_error():
    # METHODS §4.2: scipy 1.17 PermutationMethod(n_resamples=99999) -> 0.04426. Two independent
    # MC estimates differ by SE = sqrt(p(1-p)(1/B1 + 1/B2)) ≈ 0.00092; allow 4 SE.
    p = chi2_monte_carlo_pvalue(_table(AGENT_RESPONDED, AGENT_INVITED),
                                rng=np.random.default_rng(20240601), n_simulations=100_000)
    se = math.sqrt(0.04426 * (1 - 0.04426) * (1 / 100_000 + 1 / 99_999))
    assert abs(p - 0.04426) < 4 * se


def test_monte_carlo_p_is_reproducible_for_a_seed():
    table = _table(AGENT_RESPONDED, AGENT_INVITED)
    first = chi2_monte_carlo_pvalue(table, rng=np.random.default_rng(7), n_simulations=5000)
    again = chi2_monte_carlo_pvalue(table, rng=np.random.default_rng(7), n_simulations=5000)
    assert first == again
    assert (first * 5001) == pytest.approx(round(first * 5001), abs=1e-9)  # (1 + count)/(B + 1)


def test_monte_carlo_p_of_a_general_table_agrees_with_the_asymptotic_p():
    # large expected counts: the χ² approximation is accurate, so the MC p must lie within
    # 4 MC standard errors sqrt(p(1-p)/B) of the asymptotic p
    table = np.array([[40, 55, 30], [52, 40, 45], [38, 60, 41]])
    asymptotic = stats.chi2_contingency(table, correction=False)[1]
    p = chi2_monte_carlo_pvalue(table, rng=np.random.default_rng(3), n_simulations=20_000)
    assert abs(p - asymptotic) < 4 * math.sqrt(asymptotic * (1 - asymptotic) / 20_000)


def test_monte_carlo_ignores_empty_rows_and_columns():
    table = np.array([[3, 0, 5, 1], [0, 0, 0, 0], [7, 0, 2, 6]])
    trimmed = table[[0, 2]][:, [0, 2, 3]]
    with_empty = chi2_monte_carlo_pvalue(table, rng=np.random.default_rng(11), n_simulations=3000)
    without = chi2_monte_carlo_pvalue(trimmed, rng=np.random.default_rng(11), n_simulations=3000)
    assert with_empty == without


def test_monte_carlo_of_a_table_with_one_possible_arrangement_is_one():
    assert chi2_monte_carlo_pvalue(np.array([[0, 0, 0], [4, 5, 6]]), rng=np.random.default_rng(0)) == 1.0


def test_two_thousand_agents_with_ten_thousand_simulations_run_in_seconds():
    # SPEC scale: vectorised Patefield draws, not a Python loop per table (≈1-2 s on a
    # laptop; the bound leaves room for slow CI machines)
    rng = np.random.default_rng(42)
    trials = rng.integers(5, 100, 2000)
    successes = rng.binomial(trials, 0.15)
    start = time.perf_counter()
    result = rate_homogeneity_test(successes, trials, [f"a{i}" for i in range(2000)], rng=rng)
    elapsed = time.perf_counter() - start
    assert result.method == "monte_carlo" and result.n_simulations == 10_000
    assert elapsed < 15.0


# ---------------------------------------------------------------- Cochran's rule

def test_cochrans_rule_allows_twenty_percent_of_small_expected_counts():
    # 5 segments → 10 expected counts; segment 1 has E = 4 in both rows (8 trials): 2/10 = 20 %
    result = rate_homogeneity_test([4, 50, 50, 50, 50], [8, 100, 100, 100, 100], list("abcde"),
                                   rng=np.random.default_rng(0))
    assert result.share_expected_below_5 == pytest.approx(0.2, rel=1e-15)
    assert result.method == "asymptotic"


def test_cochrans_rule_sends_more_than_twenty_percent_small_counts_to_monte_carlo():
    result = rate_homogeneity_test([4, 4, 50, 50, 50], [8, 8, 100, 100, 100], list("abcde"),
                                   rng=np.random.default_rng(0), n_simulations=500)
    assert result.share_expected_below_5 == pytest.approx(0.4, rel=1e-15)
    assert result.method == "monte_carlo"


def test_cochrans_rule_sends_an_expected_count_below_one_to_monte_carlo():
    # one single-trial segment among large ones: 2 of 20 expected counts are below 5
    # (10 %), but they are 0.5 each (overall rate 901/1802 = 1/2)
    trials = [1, 201] + [200] * 8
    successes = [0, 101] + [100] * 8
    result = rate_homogeneity_test(successes, trials, [str(i) for i in range(10)],
                                   rng=np.random.default_rng(0), n_simulations=500)
    assert result.min_expected == 0.5 and result.share_expected_below_5 == 0.1
    assert result.method == "monte_carlo"


# ---------------------------------------------------------------- one-vs-rest and multiplicity

def test_one_vs_rest_p_of_small_segments_is_fishers_exact_test():
    # METHODS §4.3: seg 5 0.003776, seg 12 0.033967, others ≥ 0.198705
    result = rate_homogeneity_test(AGENT_RESPONDED, AGENT_INVITED, AGENTS,
                                   rng=np.random.default_rng(0), n_simulations=200)
    total_s, total_f = AGENT_RESPONDED.sum(), (AGENT_INVITED - AGENT_RESPONDED).sum()
    for j, p in enumerate(result.one_vs_rest_p):
        s, f = AGENT_RESPONDED[j], AGENT_INVITED[j] - AGENT_RESPONDED[j]
        reference = stats.fisher_exact([[s, total_s - s], [f, total_f - f]])[1]
        assert p == pytest.approx(reference, rel=1e-9)
    p = np.array(result.one_vs_rest_p)
    assert p[4] == pytest.approx(0.003776, abs=5e-7)
    assert p[11] == pytest.approx(0.033967, abs=5e-7)
    assert np.delete(p, [4, 11]).min() == pytest.approx(0.198705, abs=5e-7)


def test_holm_and_bh_adjust_the_agent_fisher_p_values_as_in_methods():
    # METHODS §4.3: BH seg 5 0.045316, seg 12 0.2038; Holm seg 5 0.045316, seg 12 0.373634
    p = rate_homogeneity_test(AGENT_RESPONDED, AGENT_INVITED, AGENTS,
                              rng=np.random.default_rng(0), n_simulations=200).one_vs_rest_p
    bh, holm = adjust_pvalues(p, "fdr_bh"), adjust_pvalues(p, "holm")
    assert (bh[4], bh[11]) == pytest.approx((0.045316, 0.2038), abs=5e-7)
    assert (holm[4], holm[11]) == pytest.approx((0.045316, 0.373634), abs=5e-7)


CHANNEL_ONE_VS_REST = [9.61332517e-02, 9.48423533e-08, 4.58769747e-05, 5.50240007e-08]


def test_holm_adjustment_reproduces_methods_channel_numbers():
    # METHODS §4.3: multipletests(p, method="holm")[1]
    assert adjust_pvalues(CHANNEL_ONE_VS_REST, "holm") == pytest.approx(
        [9.61332517e-02, 2.84527060e-07, 9.17539494e-05, 2.20096003e-07], rel=1e-8)


def test_bh_adjustment_reproduces_methods_and_scipy():
    # METHODS §4.3: multipletests(p, method="fdr_bh")[1]; scipy false_discovery_control is independent
    adjusted = adjust_pvalues(CHANNEL_ONE_VS_REST)
    assert adjusted == pytest.approx(
        [9.61332517e-02, 1.89684707e-07, 6.11692996e-05, 1.89684707e-07], rel=1e-8)
    assert adjusted == pytest.approx(
        stats.false_discovery_control(CHANNEL_ONE_VS_REST, method="bh"), rel=1e-12)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from([0.0, 1e-9, 1e-6, 1e-4, 0.001, 0.004, 0.01, 0.02, 0.05, 0.2, 1.0])
                | st.floats(0.0, 1.0), min_size=1, max_size=60))
def test_holm_rejections_equal_statsmodels_holm_decisions(p_values):
    # reference: statsmodels multipletests(method="holm")[0]; ties and exact thresholds included
    from statsmodels.stats.multitest import multipletests
    expected = multipletests(p_values, alpha=0.05, method="holm")[0]
    assert holm_rejections(p_values, 0.05).tolist() == expected.tolist()


def test_adjust_pvalues_does_not_fall_back_to_holm_sidak():
    # statsmodels' default 'hs' gives 1-(1-p)^k style values; ours must be Holm's k·p
    assert adjust_pvalues([0.01, 0.04, 0.03], "holm") == pytest.approx([0.03, 0.06, 0.06], rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(a=st.integers(0, 30), b=st.integers(0, 30), c=st.integers(0, 30), d=st.integers(0, 30))
def test_two_segment_one_vs_rest_p_equals_scipy_on_any_2x2_table(a, b, c, d):
    # with two segments, "one vs rest" is the 2×2 table itself
    if a + b == 0 or c + d == 0:
        return
    result = rate_homogeneity_test([a, c], [a + b, c + d], ["x", "y"], rng=np.random.default_rng(0),
                                   n_simulations=50)
    table = [[a, c], [b, d]]
    expected_small = stats.contingency.expected_freq(table).min() < 5 if (a + c) * (b + d) else True
    reference = (stats.fisher_exact(table)[1] if expected_small
                 else stats.chi2_contingency(table, correction=False)[1])
    assert result.one_vs_rest_p[0] == pytest.approx(reference, rel=1e-9, abs=1e-15)
    assert result.one_vs_rest_p[1] == pytest.approx(reference, rel=1e-9, abs=1e-15)


# ---------------------------------------------------------------- input handling

def test_segments_without_trials_are_left_out_of_the_test_and_the_result():
    with_empty = rate_homogeneity_test([300, 0, 270, 100, 30], [2000, 0, 1500, 1000, 500],
                                       ["phone", "fax", "chat", "email", "sms"], rng=np.random.default_rng(0))
    assert with_empty == _channel_test()


def test_fewer_than_two_segments_with_trials_is_an_error():
    with pytest.raises(ValueError):
        rate_homogeneity_test([3, 0], [10, 0], ["a", "b"], rng=np.random.default_rng(0))


@pytest.mark.parametrize("successes, trials", [([5, 3], [4, 10]), ([-1, 3], [4, 10]), ([1.5, 3], [4, 10])])
def test_impossible_counts_are_an_error(successes, trials):
    with pytest.raises(ValueError):
        rate_homogeneity_test(successes, trials, ["a", "b"], rng=np.random.default_rng(0))


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError):
        rate_homogeneity_test([1, 2], [3, 4], ["a"], rng=np.random.default_rng(0))


def test_equal_rates_of_zero_everywhere_are_perfectly_homogeneous():
    result = rate_homogeneity_test([0, 0, 0], [10, 20, 5], list("abc"), rng=np.random.default_rng(0))
    assert (result.chi2, result.p_value, result.method) == (0.0, 1.0, "exact")
    assert (result.cramers_v, result.cramers_v_corrected) == (0.0, 0.0)
    assert result.adjusted_residuals == (0.0, 0.0, 0.0)
    assert result.one_vs_rest_p == (1.0, 1.0, 1.0)


# ---------------------------------------------------------------- Cramér's V

def test_cramers_v_of_a_larger_table_matches_scipy():
    table = np.array([[20, 35, 15, 30], [25, 20, 30, 10], [15, 25, 20, 40]])
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    assert cramers_v(chi2, int(table.sum()), 3, 4) == pytest.approx(
        association(table, method="cramer", correction=False), rel=1e-12)


def test_bergsma_correction_of_an_r_by_k_table_follows_its_formula():
    # Bergsma (2013), METHODS §4.1, written out for r = 3, k = 4, n = 100, X² = 20
    phi2 = max(0.0, 20 / 100 - 3 * 2 / 99)
    k_tilde, r_tilde = 4 - 9 / 99, 3 - 4 / 99
    expected = math.sqrt(phi2 / min(k_tilde - 1, r_tilde - 1))
    assert cramers_v(20.0, 100, 3, 4, bias_corrected=True) == pytest.approx(expected, rel=1e-14)


def test_bergsma_correction_is_zero_when_x2_is_below_its_null_expectation():
    # E[X²] under independence ≈ (r-1)(k-1)·n/(n-1): X² = 2 on a 2×4 table is pure noise
    assert cramers_v(2.0, 200, 2, 4, bias_corrected=True) == 0.0
    assert cramers_v(2.0, 200, 2, 4) > 0.0


# ---------------------------------------------------------------- calibration under the null

def _binomial_99_band(trials: int, level: float) -> tuple[int, int]:
    return int(stats.binom.ppf(0.005, trials, level)), int(stats.binom.ppf(0.995, trials, level))


def test_asymptotic_path_rejects_about_five_percent_under_equal_rates():
    # 400 seeded tables, 4 segments with a common rate of 0.3: the rejection count at
    # α = 0.05 must fall in the binomial(400, 0.05) 99 % band
    rng = np.random.default_rng(20240601)
    trials = np.array([300, 250, 200, 150])
    rejections = 0
    for _ in range(400):
        result = rate_homogeneity_test(rng.binomial(trials, 0.3), trials, list("abcd"), rng=rng)
        assert result.method == "asymptotic"
        rejections += result.p_value < 0.05
    low, high = _binomial_99_band(400, 0.05)
    assert low <= rejections <= high


def test_monte_carlo_path_rejects_about_five_percent_under_equal_rates():
    # sparse agents (METHODS §4.2 sizes) with a common rate of 0.25: every table goes to the
    # Monte Carlo path; B = 999 keeps the test exact-level ((B+1)·α is an integer)
    rng = np.random.default_rng(1)
    rejections = 0
    for _ in range(400):
        result = rate_homogeneity_test(rng.binomial(AGENT_INVITED, 0.25), AGENT_INVITED, AGENTS,
                                       rng=rng, n_simulations=999)
        assert result.method == "monte_carlo"
        rejections += result.p_value < 0.05
    low, high = _binomial_99_band(400, 0.05)
    assert low <= rejections <= high
