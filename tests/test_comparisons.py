"""Specification of audit.comparisons: the significance of a published comparison.

Reference values are the worked numbers of METHODS §6 and §2 (printed there by scipy /
statsmodels calls) or the library call itself, made inside the test. Numbers copied from
METHODS with 10 significant digits are compared with abs=1e-10 (or 5e-11 where printed to
10 decimals); library calls made here are compared with rel=1e-12.
"""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower, TTestIndPower, TTestPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    power_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
    test_proportions_2indep as score_test_2indep,
)
from statsmodels.stats.weightstats import DescrStatsW, ttest_ind as sm_ttest_ind

from audit.comparisons import (
    Comparison,
    bonferroni_winner_p,
    mean_vs_benchmark,
    nps_vs_benchmark,
    proportion_vs_benchmark,
    two_means,
    two_nps,
    two_proportions,
)
from audit.errors import InputError

approx = pytest.approx

# METHODS §6 ordinal example: counts of ratings 1..5 after and before (n = 100 each).
AFTER = np.repeat([1, 2, 3, 4, 5], [3, 4, 10, 38, 45])
BEFORE = np.repeat([1, 2, 3, 4, 5], [6, 7, 14, 35, 38])
# METHODS §2: Q3 110 promoters / 50 passives / 40 detractors; Q2 90 / 45 / 45.
NPS_Q3 = np.repeat([10, 8, 3], [110, 50, 40])
NPS_Q2 = np.repeat([9, 7, 0], [90, 45, 45])
# METHODS §1.2: twenty 1-5 ratings.
RATINGS_20 = np.array([5, 5, 4, 5, 3, 5, 4, 5, 5, 2, 4, 5, 5, 1, 5, 4, 5, 5, 3, 5])


# --- the result object -------------------------------------------------------------------

def test_comparison_is_frozen():
    result = two_proportions(425, 500, 410, 500)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.p_value = 0.0  # type: ignore[misc]


def test_comparison_to_dict_is_plain_json_with_nan_as_null():
    # both groups all successes: the odds ratio is 0/0 and must not leak NaN into JSON
    result = two_proportions(20, 20, 100, 100)
    as_dict = result.to_dict()
    assert json.loads(json.dumps(as_dict, allow_nan=False)) == as_dict
    assert as_dict["extra"]["fisher_odds_ratio"] is None
    assert set(as_dict) == {f.name for f in dataclasses.fields(Comparison)}


# --- one proportion vs benchmark (METHODS §6 "47/50 vs industry 85 %") -------------------

def test_proportion_vs_benchmark_one_sided_exact_binomial_p():
    # METHODS §6: binomtest(47, 50, 0.85, alternative="greater").pvalue
    result = proportion_vs_benchmark(47, 50, 0.85)
    assert result.test == "exact binomial"
    assert result.alternative == "greater"
    assert result.p_value == approx(0.04604657889230184, rel=1e-12)


def test_proportion_vs_benchmark_two_sided_exact_binomial_p():
    # METHODS §6: two-sided binomtest p
    result = proportion_vs_benchmark(47, 50, 0.85, alternative="two-sided")
    assert result.p_value == approx(0.07610710711749112, rel=1e-12)


def test_proportion_vs_benchmark_less_matches_scipy():
    # scipy binomtest, the lower tail
    result = proportion_vs_benchmark(38, 50, 0.85, alternative="less")
    assert result.p_value == approx(stats.binomtest(38, 50, 0.85, alternative="less").pvalue, rel=1e-12)


def test_proportion_vs_benchmark_reports_share_benchmark_and_difference():
    result = proportion_vs_benchmark(47, 50, 0.85)
    assert (result.estimate, result.reference) == (0.94, 0.85)
    assert result.difference == approx(0.09, rel=1e-12)
    assert (result.n, result.n_reference, result.statistic) == (50, None, None)


def test_proportion_vs_benchmark_ci_is_wilson_interval_minus_benchmark():
    # METHODS §1.1: Wilson 47/50 = (0.8378290831116182, 0.979385029651026), two-sided even
    # though the test is one-sided
    result = proportion_vs_benchmark(47, 50, 0.85)
    assert result.ci_low == approx(0.8378290831116182 - 0.85, rel=1e-12)
    assert result.ci_high == approx(0.979385029651026 - 0.85, rel=1e-12)


def test_proportion_vs_benchmark_power_is_one_sample_cohens_h_normal_power():
    # statsmodels NormalIndPower with ratio=0 is the one-sample case
    result = proportion_vs_benchmark(47, 50, 0.85)
    h = proportion_effectsize(0.94, 0.85)
    expected = NormalIndPower().power(h, nobs1=50, alpha=0.05, ratio=0, alternative="larger")
    assert result.extra["cohens_h"] == approx(h, rel=1e-12)
    assert result.power == approx(expected, rel=1e-12)


def test_proportion_vs_benchmark_mde_reaches_80_percent_two_sided_power():
    # round trip through statsmodels: the share benchmark + MDE has power 0.80 for n = 50
    result = proportion_vs_benchmark(47, 50, 0.85)
    h = proportion_effectsize(0.85 + result.minimum_detectable_effect, 0.85)
    assert NormalIndPower().power(h, nobs1=50, alpha=0.05, ratio=0) == approx(0.8, abs=1e-10)
    # statsmodels' own root (tolerance ~1e-6) agrees
    h_star = NormalIndPower().solve_power(nobs1=50, ratio=0, power=0.8, alpha=0.05)
    assert h == approx(h_star, rel=1e-5)


def test_proportion_vs_benchmark_mde_for_a_decline_is_measured_downwards():
    result = proportion_vs_benchmark(38, 50, 0.85, alternative="less")
    h = proportion_effectsize(0.85 - result.minimum_detectable_effect, 0.85)
    assert h < 0
    assert NormalIndPower().power(h, nobs1=50, alpha=0.05, ratio=0) == approx(0.8, abs=1e-10)


def test_proportion_vs_benchmark_mde_is_none_when_no_share_can_reach_80_percent_power():
    # 10 responses against a 99 % benchmark: even 100 % is not detectable
    assert proportion_vs_benchmark(10, 10, 0.99).minimum_detectable_effect is None


@pytest.mark.parametrize("successes, n", [(51, 50), (-1, 50), (4.5, 50), (0, 0), (True, 5)])
def test_proportion_vs_benchmark_rejects_impossible_counts(successes, n):
    with pytest.raises(InputError):
        proportion_vs_benchmark(successes, n, 0.85)


def test_proportion_vs_benchmark_rejects_benchmark_outside_unit_interval():
    with pytest.raises(InputError, match="benchmark"):
        proportion_vs_benchmark(47, 50, 85)


def test_unknown_alternative_is_a_programming_error():
    with pytest.raises(ValueError, match="alternative"):
        proportion_vs_benchmark(47, 50, 0.85, alternative="larger")


# --- two proportions (METHODS §6 "CSAT improved from 82 % to 85 %": 425/500 vs 410/500) --

def test_two_proportions_score_z_and_p():
    # METHODS §6: test_proportions_2indep(425,500,410,500, method="score") z 1.2772878861, p 0.2015006288
    result = two_proportions(425, 500, 410, 500)
    assert result.test == "two-proportion score z (Newcombe CI)"
    assert result.statistic == approx(1.2772878861, abs=1e-10)
    assert result.p_value == approx(0.2015006288, abs=1e-10)


def test_two_proportions_score_z_is_pooled_z_shrunk_by_miettinen_nurminen_factor():
    # the score variance carries N/(N-1): z_score = z_pooled·sqrt((N-1)/N), and z_pooled² is
    # the uncorrected chi-square (METHODS §6: chi2 1.633097441480675, pooled z 1.2779270094495527)
    chi2 = stats.chi2_contingency([[425, 75], [410, 90]], correction=False)[0]
    z_pooled, _ = proportions_ztest([425, 410], [500, 500])
    assert chi2 == approx(1.633097441480675, rel=1e-12)
    assert z_pooled ** 2 == approx(chi2, rel=1e-12)
    result = two_proportions(425, 500, 410, 500)
    assert result.statistic == approx(z_pooled * math.sqrt(999 / 1000), rel=1e-12)


def test_two_proportions_estimates_and_difference():
    result = two_proportions(425, 500, 410, 500)
    assert (result.estimate, result.reference) == (0.85, 0.82)
    assert result.difference == approx(0.03, rel=1e-12)
    assert (result.n, result.n_reference) == (500, 500)


def test_two_proportions_ci_is_newcombe_hybrid_score():
    # METHODS §6: confint_proportions_2indep(..., method="newcomb") (-0.0161138674, 0.0760512498)
    result = two_proportions(425, 500, 410, 500)
    assert result.ci_low == approx(-0.0161138674, abs=1e-10)
    assert result.ci_high == approx(0.0760512498, abs=1e-10)


def test_two_proportions_extra_fisher_exact_two_sided():
    # METHODS §6: fisher_exact([[425,75],[410,90]]) OR 1.2439024390, p 0.2329058803
    result = two_proportions(425, 500, 410, 500)
    assert result.extra["fisher_p_value"] == approx(0.2329058803, abs=1e-10)
    assert result.extra["fisher_odds_ratio"] == approx(1.2439024390, abs=1e-10)


def test_two_proportions_extra_cohens_h():
    # METHODS §6: proportion_effectsize(0.85, 0.82) = 0.0808992309841976
    assert two_proportions(425, 500, 410, 500).extra["cohens_h"] == approx(0.0808992309841976, rel=1e-12)


def test_two_proportions_power_for_the_claimed_three_points():
    # METHODS §6: power_proportions_2indep(0.03, 0.82, 500).power = 0.24802805323697175
    # (Cohen's-h normal power would give 0.2486: only a quarter of such samples would show it)
    assert two_proportions(425, 500, 410, 500).power == approx(0.24802805323697175, rel=1e-12)


def test_two_proportions_mde_is_six_point_three_points_at_500_per_arm():
    # METHODS §6: NormalIndPower().solve_power(nobs1=500, power=0.8) -> h 0.17718769489108327
    # -> p 0.8827075012 (+6.27 points). statsmodels stops its root search when power is within
    # ~5e-7 of 0.8, so its h is good to ~6e-7 relative; our root is exact to ~1e-14 in power.
    result = two_proportions(425, 500, 410, 500)
    assert result.minimum_detectable_effect == approx(0.8827075012 - 0.82, rel=1e-6)
    h = proportion_effectsize(0.82 + result.minimum_detectable_effect, 0.82)
    assert h == approx(0.17718769489108327, rel=1e-6)
    assert NormalIndPower().power(h, nobs1=500, alpha=0.05) == approx(0.8, abs=1e-12)


def test_two_proportions_mde_uses_the_unequal_group_sizes():
    # winner 20 responses vs rest 1115: NormalIndPower with ratio n2/n1, round trip to 0.80
    result = two_proportions(19, 20, 913, 1115)
    p2 = 913 / 1115
    h = proportion_effectsize(p2 + result.minimum_detectable_effect, p2)
    assert NormalIndPower().power(h, nobs1=20, ratio=1115 / 20, alpha=0.05) == approx(0.8, abs=1e-10)


def test_two_proportions_two_sided_mde_follows_the_sign_of_the_observed_difference():
    # "CSAT fell from 85 % to 82 %": the MDE is measured downwards from the reference 0.85
    result = two_proportions(410, 500, 425, 500)
    h = proportion_effectsize(0.85 - result.minimum_detectable_effect, 0.85)
    assert h < 0
    assert NormalIndPower().power(h, nobs1=500, alpha=0.05) == approx(0.8, abs=1e-12)


def test_two_proportions_winner_vs_rest_score_test_and_newcombe_ci():
    # METHODS §6: A01 19/20 vs rest 913/1115: score z 1.5164356685, p 0.1294092256,
    # Newcombe (-0.0562029144, 0.1786204431)
    result = two_proportions(19, 20, 913, 1115)
    assert result.statistic == approx(1.5164356685, abs=1e-10)
    assert result.p_value == approx(0.1294092256, abs=1e-10)
    assert result.ci_low == approx(-0.0562029144, abs=1e-10)
    assert result.ci_high == approx(0.1786204431, abs=1e-10)


def test_two_proportions_one_sided_winner_claim_uses_upper_tail_and_fisher_greater():
    # METHODS §6: fisher_exact([[19,1],[913,202]], alternative="greater") p 0.1019787063;
    # the one-sided score p is the upper tail of the same z (statsmodels alternative="larger")
    result = two_proportions(19, 20, 913, 1115, alternative="greater")
    reference = score_test_2indep(19, 20, 913, 1115, method="score", alternative="larger")
    assert result.p_value == approx(reference.pvalue, rel=1e-12)
    assert result.p_value == approx(0.1294092256 / 2, abs=1e-10)
    assert result.extra["fisher_p_value"] == approx(0.1019787063, abs=1e-10)
    assert result.power == approx(power_proportions_2indep(
        0.95 - 913 / 1115, 913 / 1115, 20, ratio=1115 / 20, alternative="larger").power, rel=1e-12)


def test_two_proportions_ci_is_two_sided_whatever_the_alternative():
    two_sided = two_proportions(19, 20, 913, 1115)
    one_sided = two_proportions(19, 20, 913, 1115, alternative="greater")
    assert (one_sided.ci_low, one_sided.ci_high) == (two_sided.ci_low, two_sided.ci_high)


def test_two_proportions_swapping_groups_mirrors_the_result():
    forward = two_proportions(425, 500, 410, 500, alternative="greater")
    backward = two_proportions(410, 500, 425, 500, alternative="less")
    assert backward.difference == approx(-forward.difference, rel=1e-12)
    assert backward.statistic == approx(-forward.statistic, rel=1e-12)
    assert backward.p_value == approx(forward.p_value, rel=1e-12)
    assert backward.ci_low == approx(-forward.ci_high, rel=1e-12)
    assert backward.ci_high == approx(-forward.ci_low, rel=1e-12)


def test_two_proportions_without_any_variation_falls_back_to_fisher():
    # every response a success in both groups: the score z is 0/0; Fisher's p is 1
    result = two_proportions(20, 20, 100, 100)
    assert result.statistic is None
    assert result.p_value == 1.0
    assert result.power is None
    expected = confint_proportions_2indep(20, 20, 100, 100, method="newcomb")
    assert (result.ci_low, result.ci_high) == approx(expected, rel=1e-12)


def test_two_proportions_rejects_counts_above_n():
    with pytest.raises(InputError, match="successes2"):
        two_proportions(10, 20, 30, 25)


def test_two_proportions_rejects_about_five_percent_under_the_null():
    # seeded simulation, equal true shares 0.8, 150 per group, 800 replicates:
    # the rejection rate must be 0.05 within 3 binomial SE (±0.023)
    rng = np.random.default_rng(20240601)
    replicates = 800
    k1 = rng.binomial(150, 0.8, replicates)
    k2 = rng.binomial(150, 0.8, replicates)
    rejections = sum(two_proportions(int(a), 150, int(b), 150).p_value < 0.05 for a, b in zip(k1, k2))
    assert abs(rejections / replicates - 0.05) < 3 * math.sqrt(0.05 * 0.95 / replicates)


# --- two means (METHODS §6 ordinal 1-5 example) -----------------------------------------

def test_two_means_welch_t_p_and_df():
    # METHODS §6: ttest_ind(a, b, equal_var=False) t 1.7128102917, p 0.0883576467, df 192.4887
    result = two_means(AFTER, BEFORE)
    assert result.test == "Welch t"
    assert result.statistic == approx(1.7128102917, abs=1e-10)
    assert result.p_value == approx(0.0883576467, abs=1e-10)
    assert result.extra["df"] == approx(192.4887, abs=1e-4)
    reference = stats.ttest_ind(AFTER, BEFORE, equal_var=False)
    assert result.statistic == approx(reference.statistic, rel=1e-12)
    assert result.extra["df"] == approx(reference.df, rel=1e-12)


def test_two_means_estimates_are_the_group_means():
    # METHODS §6: means 4.18 vs 3.92
    result = two_means(AFTER, BEFORE)
    assert (result.estimate, result.reference) == approx((4.18, 3.92), rel=1e-12)
    assert result.difference == approx(0.26, rel=1e-12)
    assert (result.n, result.n_reference) == (100, 100)


def test_two_means_reports_each_group_size():
    result = two_means(AFTER, BEFORE[:60])
    assert (result.n, result.n_reference) == (100, 60)


def test_two_means_ci_is_welch_interval():
    # scipy TtestResult.confidence_interval() for the Welch test
    result = two_means(AFTER, BEFORE)
    expected = stats.ttest_ind(AFTER, BEFORE, equal_var=False).confidence_interval(0.95)
    assert result.ci_low == approx(expected.low, rel=1e-12)
    assert result.ci_high == approx(expected.high, rel=1e-12)


def test_two_means_extra_mann_whitney_u_and_auc():
    # METHODS §6: mannwhitneyu(a, b) U 5583.0, p 0.1287630822868849, AUC 0.5583
    extra = two_means(AFTER, BEFORE).extra
    assert extra["mann_whitney_u"] == 5583.0
    assert extra["mann_whitney_p_value"] == approx(0.1287630822868849, rel=1e-12)
    assert extra["auc"] == approx(0.5583, rel=1e-12)


def test_two_means_extra_brunner_munzel():
    # METHODS §6: brunnermunzel(a, b) W -1.5292405158, p 0.1278244734 (negative: first larger)
    extra = two_means(AFTER, BEFORE).extra
    assert extra["brunner_munzel_statistic"] == approx(-1.5292405158, abs=1e-10)
    assert extra["brunner_munzel_p_value"] == approx(0.1278244734, abs=1e-10)


def test_two_means_one_sided_claim_applies_to_every_test():
    # "after is higher": scipy with alternative="greater" for Welch, Mann-Whitney and
    # Brunner-Munzel (whose "greater" also means the first sample is larger)
    result = two_means(AFTER, BEFORE, alternative="greater")
    assert result.p_value == approx(
        stats.ttest_ind(AFTER, BEFORE, equal_var=False, alternative="greater").pvalue, rel=1e-12)
    assert result.extra["mann_whitney_p_value"] == approx(
        stats.mannwhitneyu(AFTER, BEFORE, alternative="greater").pvalue, rel=1e-12)
    assert result.extra["brunner_munzel_p_value"] == approx(
        stats.brunnermunzel(AFTER, BEFORE, alternative="greater").pvalue, rel=1e-12)
    assert result.extra["brunner_munzel_p_value"] < 0.1


def test_two_means_power_and_mde_match_ttestindpower_for_equal_spreads_and_sizes():
    # with s1 = s2 and n1 = n2 the Welch SE and df equal the pooled ones, so the
    # noncentral-t power is statsmodels TTestIndPower's with d = difference / s
    base = np.random.default_rng(5).normal(4.0, 1.0, 30)
    s = base.std(ddof=1)
    result = two_means(base + 0.4, base)
    assert result.extra["df"] == approx(58.0, rel=1e-12)
    assert result.power == approx(TTestIndPower().power(0.4 / s, nobs1=30, alpha=0.05), rel=1e-7)
    mde_d = result.minimum_detectable_effect / s
    assert TTestIndPower().power(mde_d, nobs1=30, alpha=0.05) == approx(0.8, abs=1e-7)
    assert mde_d == approx(TTestIndPower().solve_power(nobs1=30, power=0.8, alpha=0.05), rel=1e-5)


def test_two_means_welch_ci_covers_the_true_difference_95_percent():
    # seeded simulation, the small group the more spread out: there a pooled-variance t
    # covers ~77 % and a normal (z) interval on the Welch SE ~93 %. 800 replicates,
    # coverage 0.95 within 3 binomial SE (±0.023)
    rng = np.random.default_rng(20240601)
    replicates, covered = 800, 0
    for _ in range(replicates):
        result = two_means(rng.normal(0.3, 3.0, 12), rng.normal(0.0, 1.0, 40))
        covered += result.ci_low <= 0.3 <= result.ci_high
    assert abs(covered / replicates - 0.95) < 3 * math.sqrt(0.95 * 0.05 / replicates)


def test_two_means_rejects_groups_without_any_variation():
    with pytest.raises(InputError, match="same rating"):
        two_means([5, 5, 5], [4, 4, 4, 4])


@pytest.mark.parametrize("x1", [[5.0], [5.0, np.nan, 4.0], ["a", "b"]])
def test_two_means_rejects_unusable_samples(x1):
    with pytest.raises(InputError):
        two_means(x1, BEFORE)


# --- one mean vs benchmark --------------------------------------------------------------

def test_mean_vs_benchmark_ci_is_t_interval_minus_benchmark():
    # METHODS §1.2: DescrStatsW(x).tconfint_mean() = (3.7051574235627, 4.7948425764373)
    result = mean_vs_benchmark(RATINGS_20, 4.0)
    assert result.ci_low == approx(3.7051574235627 - 4.0, rel=1e-12)
    assert result.ci_high == approx(4.7948425764373 - 4.0, rel=1e-12)
    assert result.extra["standard_error"] == approx(0.2603135760861059, rel=1e-12)


def test_mean_vs_benchmark_one_sided_t_matches_scipy():
    # scipy ttest_1samp(x, 4.0, alternative="greater")
    result = mean_vs_benchmark(RATINGS_20, 4.0)
    reference = stats.ttest_1samp(RATINGS_20, 4.0, alternative="greater")
    assert result.test == "one-sample t"
    assert result.statistic == approx(reference.statistic, rel=1e-12)
    assert result.p_value == approx(reference.pvalue, rel=1e-12)
    assert (result.estimate, result.reference, result.n, result.n_reference) == (4.25, 4.0, 20, None)
    assert result.difference == approx(0.25, rel=1e-12)


def test_mean_vs_benchmark_power_and_mde_match_ttestpower():
    # statsmodels TTestPower with Cohen's d = (mean - benchmark) / s
    result = mean_vs_benchmark(RATINGS_20, 4.0)
    s = 1.164157703189193  # METHODS §1.2
    assert result.power == approx(
        TTestPower().power(0.25 / s, nobs=20, alpha=0.05, alternative="larger"), rel=1e-7)
    mde_d = result.minimum_detectable_effect / s
    assert TTestPower().power(mde_d, nobs=20, alpha=0.05) == approx(0.8, abs=1e-7)
    assert mde_d == approx(TTestPower().solve_power(nobs=20, power=0.8, alpha=0.05), rel=1e-5)


def test_mean_vs_benchmark_rejects_constant_ratings():
    with pytest.raises(InputError):
        mean_vs_benchmark([5, 5, 5, 5], 4.0)


# --- NPS (METHODS §2: Q3 vs Q2) ----------------------------------------------------------

def test_two_nps_difference_z_and_p_in_points():
    # METHODS §2: Δ 0.10, SE(Δ) 0.0834082996, z 1.1989214558, p 0.2305584880
    result = two_nps(NPS_Q3, NPS_Q2)
    assert result.test == "NPS z (multinomial variance)"
    assert (result.estimate, result.reference) == approx((35.0, 25.0), rel=1e-12)
    assert result.difference == approx(10.0, rel=1e-12)
    assert result.statistic == approx(1.1989214558, abs=1e-10)
    assert result.p_value == approx(0.2305584880, abs=1e-10)
    assert result.extra["standard_error"] == approx(8.34082996, abs=1e-8)
    assert (result.n, result.n_reference) == (200, 180)


def test_two_nps_ci_in_points():
    # METHODS §2: CI(Δ) = (-0.0634772633, 0.2634772633) ×100
    result = two_nps(NPS_Q3, NPS_Q2)
    assert result.ci_low == approx(-6.34772633, abs=1e-8)
    assert result.ci_high == approx(26.34772633, abs=1e-8)


def test_two_nps_extra_welch_t_on_coded_values():
    # METHODS §2: Welch t on +1/0/-1 codes t 1.1957370377, p 0.2325659307, df 369.53;
    # statsmodels weightstats.ttest_ind(usevar="unequal") as the independent call
    coded_q3 = np.repeat([1, 0, -1], [110, 50, 40])
    coded_q2 = np.repeat([1, 0, -1], [90, 45, 45])
    t, p, df = sm_ttest_ind(coded_q3, coded_q2, usevar="unequal")
    extra = two_nps(NPS_Q3, NPS_Q2).extra
    assert extra["welch_t"] == approx(1.1957370377, abs=1e-10)
    assert extra["welch_p_value"] == approx(0.2325659307, abs=1e-10)
    assert (extra["welch_t"], extra["welch_p_value"], extra["welch_df"]) == approx((t, p, df), rel=1e-12)


def test_two_nps_power_and_mde_hold_the_observed_se():
    # normal power of a z test = NormalIndPower with effect Δ/SE, nobs1=1, ratio=0
    result = two_nps(NPS_Q3, NPS_Q2)
    se = result.extra["standard_error"]
    assert result.power == approx(NormalIndPower().power(10.0 / se, nobs1=1, alpha=0.05, ratio=0), rel=1e-12)
    detectable = result.minimum_detectable_effect / se
    assert NormalIndPower().power(detectable, nobs1=1, alpha=0.05, ratio=0) == approx(0.8, abs=1e-12)


def test_two_nps_depends_only_on_the_category_of_each_score():
    # 9 and 10 are both promoters, 0-6 all detractors
    relabelled = two_nps(np.repeat([9, 7, 6], [110, 50, 40]), np.repeat([10, 8, 1], [90, 45, 45]))
    assert relabelled.statistic == approx(two_nps(NPS_Q3, NPS_Q2).statistic, rel=1e-12)


def test_two_nps_rejects_scores_off_the_0_to_10_scale():
    with pytest.raises(InputError, match="0-10"):
        two_nps([9, 10, 11], NPS_Q2)
    with pytest.raises(InputError, match="0-10"):
        two_nps([9, 8.5, 3], NPS_Q2)


def test_nps_vs_benchmark_ci_is_wald_interval_minus_benchmark():
    # METHODS §2: Q3 Wald CI (0.2402157705, 0.4597842295), SE 0.056013391256020
    result = nps_vs_benchmark(NPS_Q3, 20.0)
    assert result.ci_low == approx(24.02157705 - 20.0, abs=1e-8)
    assert result.ci_high == approx(45.97842295 - 20.0, abs=1e-8)
    assert result.extra["standard_error"] == approx(5.6013391256020, rel=1e-12)


def test_nps_vs_benchmark_one_sided_z():
    # z = (0.35 - 0.20) / 0.056013391256020 (METHODS §2 SE), upper normal tail
    result = nps_vs_benchmark(NPS_Q3, 20.0)
    z = 0.15 / 0.056013391256020
    assert result.statistic == approx(z, rel=1e-12)
    assert result.p_value == approx(stats.norm.sf(z), rel=1e-10)
    assert (result.estimate, result.reference, result.n_reference) == (approx(35.0), 20.0, None)
    assert result.difference == approx(15.0, rel=1e-12)


def test_nps_vs_benchmark_z_matches_descrstatsw_up_to_the_n_minus_1_factor():
    # DescrStatsW uses n-1: its SE is sqrt(n/(n-1)) times the multinomial one (METHODS §2)
    coded = np.repeat([1, 0, -1], [110, 50, 40])
    result = nps_vs_benchmark(NPS_Q3, 0.0)
    assert result.extra["standard_error"] / 100 == approx(
        DescrStatsW(coded).std_mean * math.sqrt(199 / 200), rel=1e-12)


def test_nps_vs_benchmark_rejects_benchmark_outside_the_nps_range():
    with pytest.raises(InputError, match="benchmark"):
        nps_vs_benchmark(NPS_Q3, 0.35 * 1000)


def test_nps_vs_benchmark_rejects_a_single_category():
    with pytest.raises(InputError, match="one NPS category"):
        nps_vs_benchmark([10, 9, 10, 10], 50.0)


# --- winner's curse -------------------------------------------------------------------------

def test_bonferroni_winner_p_multiplies_by_the_number_of_candidates():
    # METHODS §6 (iii): min(1, p·K); A01's one-sided Fisher p among 12 agents
    assert bonferroni_winner_p(0.1019787063, 12) == 1.0
    assert bonferroni_winner_p(0.004, 12) == approx(0.048, rel=1e-12)


def test_bonferroni_winner_p_with_one_candidate_is_unchanged():
    assert bonferroni_winner_p(0.03, 1) == 0.03


@pytest.mark.parametrize("p, k", [(1.2, 5), (-0.1, 5), (0.1, 0), (0.1, 2.5)])
def test_bonferroni_winner_p_rejects_invalid_arguments(p, k):
    with pytest.raises(ValueError):
        bonferroni_winner_p(p, k)
