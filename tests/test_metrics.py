"""Specification of audit.metrics: precision of the headline metric (METHODS §1, §2, §9.6)."""
from __future__ import annotations

import dataclasses
import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats
from statsmodels.stats.proportion import proportion_confint, samplesize_confint_proportion
from statsmodels.stats.weightstats import DescrStatsW

from audit.errors import InputError
from audit.metrics import (
    margin_of_error,
    mean_interval,
    nps_components,
    nps_interval,
    required_sample_size,
    stated_precision,
    top_box_successes,
    wilson_interval,
)

Z95 = 1.959963984540054  # METHODS §0: norm.ppf(0.975)

# METHODS §1.2: n = 20 ratings on 1-5
RATINGS = np.array([5, 5, 4, 5, 3, 5, 4, 5, 5, 2, 4, 5, 5, 1, 5, 4, 5, 5, 3, 5])

# METHODS §2: Q3 = 110 promoters, 50 passives, 40 detractors (n = 200)
NPS_Q3 = np.array([10] * 60 + [9] * 50 + [8] * 30 + [7] * 20 + [6] * 15 + [3] * 15 + [0] * 10)


# ---------------------------------------------------------------- top-box counting

def test_top2box_on_a_five_point_scale_counts_fours_and_fives():
    assert top_box_successes([1, 2, 3, 4, 5, 5, 4, 3], (1, 5)) == (4, 8)


def test_top_box_with_one_box_counts_only_the_top_point():
    assert top_box_successes([1, 2, 3, 4, 5, 5, 4, 3], (1, 5), boxes=1) == (2, 8)


def test_top2box_on_a_two_point_scale_means_the_top_point_only():
    # two boxes of a 2-point scale would be every answer; documented cap at points - 1
    assert top_box_successes([0, 1, 1, 0, 1], (0, 1)) == (3, 5)


def test_top2box_on_a_zero_to_ten_scale_counts_nines_and_tens():
    assert top_box_successes([10, 9, 8, 0, 7, 9], (0, 10)) == (3, 6)


def test_top_box_ignores_missing_scores_in_both_counts():
    assert top_box_successes([5, np.nan, 4, None, 2], (1, 5)) == (2, 3)


def test_top_box_rejects_scores_outside_the_scale_naming_the_column():
    with pytest.raises(InputError) as err:
        top_box_successes([1, 5, 6], (1, 5))
    assert err.value.column == "score"


# ---------------------------------------------------------------- Wilson interval

@pytest.mark.parametrize("k, n, low, high", [
    (47, 50, 0.8378290831116182, 0.979385029651026),   # METHODS §1.1 (scipy, = statsmodels)
    (412, 480, 0.8242871445, 0.8866895478),             # METHODS §1.1 table
])
def test_wilson_interval_reproduces_methods_numbers(k, n, low, high):
    ci = wilson_interval(k, n)
    assert ci.ci_low == pytest.approx(low, rel=1e-9)
    assert ci.ci_high == pytest.approx(high, rel=1e-9)


@pytest.mark.parametrize("k, n", [(47, 50), (412, 480)])
def test_wilson_interval_matches_statsmodels_and_scipy(k, n):
    ci = wilson_interval(k, n)
    sm = proportion_confint(k, n, alpha=0.05, method="wilson")
    sp = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (ci.ci_low, ci.ci_high) == pytest.approx(sm, rel=1e-12)
    assert (ci.ci_low, ci.ci_high) == pytest.approx((sp.low, sp.high), rel=1e-12)


def test_wilson_reports_the_sample_proportion_and_its_binomial_se():
    ci = wilson_interval(47, 50)
    assert ci.estimate == 0.94
    assert ci.se == pytest.approx(math.sqrt(0.94 * 0.06 / 50), rel=1e-14)
    assert (ci.n, ci.method, ci.confidence) == (50, "wilson", 0.95)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 5000), frac=st.floats(0, 1), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_matches_statsmodels_for_any_count_and_level(n, frac, confidence):
    k = int(round(frac * n))
    ci = wilson_interval(k, n, confidence=confidence)
    low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert ci.ci_low == pytest.approx(low, rel=1e-9, abs=1e-12)
    assert ci.ci_high == pytest.approx(high, rel=1e-9, abs=1e-12)


def test_wilson_bounds_are_exactly_zero_and_one_at_the_extremes():
    assert wilson_interval(0, 30).ci_low == 0.0
    assert wilson_interval(30, 30).ci_high == 1.0
    assert wilson_interval(30, 30, population_size=100).ci_high == 1.0


def test_wilson_with_fpc_inverts_the_without_replacement_score_test():
    # Independent reference: the bounds are the roots π of (p - π)² = z²·π(1-π)/n·(N-n)/(N-1)
    # (Cochran 1977 eq. 3.4 variance), found numerically.
    k, n, N = 47, 50, 200
    p, f = k / n, (N - n) / (N - 1)
    score = lambda pi: (p - pi) ** 2 - Z95 ** 2 * pi * (1 - pi) / n * f  # noqa: E731
    ci = wilson_interval(k, n, population_size=N)
    assert ci.ci_low == pytest.approx(optimize.brentq(score, 1e-9, p), rel=1e-10)
    assert ci.ci_high == pytest.approx(optimize.brentq(score, p, 1 - 1e-12), rel=1e-10)
    assert ci.se == pytest.approx(math.sqrt(p * (1 - p) / n * f), rel=1e-14)
    assert ci.method == "wilson_fpc"


def test_wilson_with_fpc_is_narrower_than_without():
    plain, corrected = wilson_interval(47, 50), wilson_interval(47, 50, population_size=200)
    assert plain.ci_low < corrected.ci_low < corrected.estimate < corrected.ci_high < plain.ci_high


def test_wilson_of_a_census_collapses_to_the_proportion():
    ci = wilson_interval(47, 50, population_size=50)
    assert (ci.ci_low, ci.ci_high, ci.se) == (0.94, 0.94, 0.0)


def test_wilson_rejects_a_population_smaller_than_the_sample():
    with pytest.raises(ValueError):
        wilson_interval(47, 50, population_size=49)


@pytest.mark.parametrize("k, n", [(-1, 10), (11, 10), (0, 0)])
def test_wilson_rejects_impossible_counts(k, n):
    with pytest.raises(ValueError):
        wilson_interval(k, n)


def test_interval_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        wilson_interval(47, 50).estimate = 0.5  # type: ignore[misc]


# ---------------------------------------------------------------- mean interval

def test_mean_interval_matches_descrstatsw_t_interval():
    # METHODS §1.2: DescrStatsW(x).tconfint_mean() = (3.7051574235627, 4.7948425764373)
    ci = mean_interval(RATINGS)
    ref = DescrStatsW(RATINGS).tconfint_mean(alpha=0.05)
    assert (ci.ci_low, ci.ci_high) == pytest.approx(ref, rel=1e-12)
    assert (ci.ci_low, ci.ci_high) == pytest.approx((3.7051574235627, 4.7948425764373), rel=1e-12)
    assert ci.estimate == pytest.approx(4.25, rel=1e-15)
    assert ci.se == pytest.approx(0.2603135760861059, rel=1e-12)
    assert ci.method == "t"


def test_mean_interval_with_fpc_reproduces_methods_and_samplics_numbers():
    # METHODS §1.2: N = 60, SE 0.2125451448, CI (3.8051378992, 4.6948621008)
    ci = mean_interval(RATINGS, population_size=60)
    assert ci.se == pytest.approx(0.21254514484, rel=1e-10)
    assert (ci.ci_low, ci.ci_high) == pytest.approx((3.8051378992, 4.6948621008), rel=1e-10)
    assert ci.method == "t_fpc"


def test_mean_interval_ignores_missing_values():
    with_gaps = np.concatenate([RATINGS, [np.nan, np.nan]])
    assert mean_interval(with_gaps) == mean_interval(RATINGS)


def test_mean_interval_needs_two_values():
    with pytest.raises(ValueError):
        mean_interval([4.0, np.nan])


# ---------------------------------------------------------------- NPS

def test_nps_components_count_promoters_passives_detractors():
    assert nps_components(NPS_Q3) == (110, 50, 40)
    assert nps_components([9, 8, 7, 6, np.nan]) == (1, 2, 1)


def test_nps_rejects_scores_outside_zero_to_ten():
    with pytest.raises(InputError):
        nps_components([10, 11])


def test_nps_wald_interval_reproduces_methods_numbers_in_points():
    # METHODS §2: NPS 0.35, SE 0.056013391256020, Wald CI (0.2402157705, 0.4597842295)
    ci = nps_interval(NPS_Q3, method="wald")
    assert ci.estimate == pytest.approx(35.0, rel=1e-14)
    assert ci.se == pytest.approx(5.6013391256020, rel=1e-12)
    assert (ci.ci_low, ci.ci_high) == pytest.approx((24.02157705, 45.97842295), rel=1e-9)
    assert (ci.n, ci.method) == (200, "wald")


def test_nps_wald_se_equals_the_multinomial_variance_of_a_difference():
    # Var(p̂P - p̂D) = [pP(1-pP) + pD(1-pD) + 2·pP·pD]/n, the multinomial covariance form
    p_p, p_d, n = 110 / 200, 40 / 200, 200
    var = (p_p * (1 - p_p) + p_d * (1 - p_d) + 2 * p_p * p_d) / n
    assert nps_interval(NPS_Q3, method="wald").se == pytest.approx(100 * math.sqrt(var), rel=1e-12)


def test_nps_wald_se_matches_descrstatsw_on_coded_answers_up_to_its_n_minus_1():
    # METHODS §2: DescrStatsW(coded).std_mean = 0.0561539521 uses divisor n-1
    coded = np.where(NPS_Q3 >= 9, 1.0, np.where(NPS_Q3 <= 6, -1.0, 0.0))
    n = coded.size
    reference = DescrStatsW(coded).std_mean * math.sqrt((n - 1) / n)
    assert DescrStatsW(coded).std_mean == pytest.approx(0.0561539521, rel=1e-9)
    assert nps_interval(NPS_Q3, method="wald").se == pytest.approx(100 * reference, rel=1e-12)


def test_nps_adjusted_wald_reproduces_methods_numbers_with_the_plain_estimate():
    # METHODS §2 (Rocks 2016): NPS' = 70/203, SE' 0.0555934997, CI (0.2358663289, 0.4537888435)
    ci = nps_interval(NPS_Q3)
    assert ci.method == "adjusted_wald"
    assert ci.estimate == pytest.approx(35.0, rel=1e-14)   # the plain NPS, not 100·70/203
    assert ci.se == pytest.approx(5.55934997, rel=1e-9)
    assert (ci.ci_low, ci.ci_high) == pytest.approx((23.58663289, 45.37888435), rel=1e-9)
    assert (ci.ci_low + ci.ci_high) / 2 == pytest.approx(100 * 70 / 203, rel=1e-12)


def test_nps_with_fpc_scales_the_se_by_the_proportion_correction():
    N, n = 1000, 200
    plain = nps_interval(NPS_Q3, method="wald")
    corrected = nps_interval(NPS_Q3, method="wald", population_size=N)
    assert corrected.se == pytest.approx(plain.se * math.sqrt((N - n) / (N - 1)), rel=1e-12)
    assert corrected.ci_high - 35.0 == pytest.approx(Z95 * corrected.se, rel=1e-12)
    assert corrected.method == "wald_fpc"


def test_nps_interval_is_clipped_to_the_nps_range():
    ci = nps_interval([10, 10, 10, 9], method="wald")   # p_P = 1: SE 0
    assert (ci.estimate, ci.ci_low, ci.ci_high) == (100.0, 100.0, 100.0)
    assert nps_interval([10, 10, 10, 6]).ci_high <= 100.0


# ---------------------------------------------------------------- MOE and sample size

@pytest.mark.parametrize("p, n, N, expected", [
    (0.5, 400, None, 0.0489990996),   # METHODS §1.3
    (0.5, 400, 5000, 0.0470029858),
    (0.94, 50, None, 0.0658267844),
    (0.94, 50, 200, 0.0571507234),
])
def test_margin_of_error_reproduces_methods_numbers(p, n, N, expected):
    assert margin_of_error(p, n, population_size=N) == pytest.approx(expected, rel=1e-9)


def test_margin_of_error_equals_the_wald_half_width_of_statsmodels():
    low, high = proportion_confint(412, 480, alpha=0.10, method="normal")
    assert margin_of_error(412 / 480, 480, confidence=0.90) == pytest.approx((high - low) / 2, rel=1e-12)


def test_margin_of_error_of_a_census_is_zero():
    assert margin_of_error(0.94, 50, population_size=50) == 0.0


@pytest.mark.parametrize("p, e, N, expected", [
    (0.5, 0.05, None, 385),    # METHODS §1.4: 384.14588206941266 -> 385
    (0.85, 0.03, None, 545),   # 544.2066662650013 -> 545
    (0.9, 0.03, None, 385),    # the 0.09/0.0009 = 0.25/0.0025 curiosity
    (0.5, 0.05, 2000, 323),    # (n0-1)/N form: 322.385537
    (0.5, 0.05, 500, 218),     # 217.487218
])
def test_required_sample_size_reproduces_methods_numbers(p, e, N, expected):
    assert required_sample_size(p, e, population_size=N) == expected


@settings(max_examples=100, deadline=None)
@given(p=st.floats(0.01, 0.99), e=st.floats(0.005, 0.2))
def test_required_sample_size_is_the_ceiling_of_statsmodels_n0(p, e):
    assert required_sample_size(p, e) == max(1, math.ceil(samplesize_confint_proportion(p, e)))


@settings(max_examples=100, deadline=None)
@given(p=st.floats(0.05, 0.95), e=st.floats(0.01, 0.1), N=st.integers(50, 100_000))
def test_required_sample_size_is_the_smallest_n_whose_moe_meets_the_target(p, e, N):
    n = required_sample_size(p, e, population_size=N)
    assert n <= N
    assert margin_of_error(p, n, population_size=N) <= e * (1 + 1e-12)
    if n > 1:
        assert margin_of_error(p, n - 1, population_size=N) > e


# ---------------------------------------------------------------- stated precision, GRIM

def _grim_reference(percent: str, n: int) -> list[int]:
    """Every k in 0..n with Decimal(100k/n) rounded half-up to the shown decimals == percent
    (METHODS §9.6, Brown & Heathers 2017)."""
    target = Decimal(percent)
    return [k for k in range(n + 1)
            if (Decimal(100 * k) / Decimal(n)).quantize(target, rounding=ROUND_HALF_UP) == target]


def test_grim_94_3_percent_cannot_come_from_50_responses():
    # METHODS §9.6: from n = 50 only 94.0 and 96.0 are possible
    assert _grim_reference("94.3", 50) == []
    assert stated_precision(0.943, 50, moe=0.064).grim_consistent is False


def test_grim_94_3_percent_from_53_responses_needs_50_of_them():
    assert _grim_reference("94.3", 53) == [50]
    assert stated_precision(0.943, 53, moe=0.062).grim_consistent is True


def test_smallest_n_that_gives_94_3_percent_is_35():
    assert stated_precision(0.943, 53, moe=0.062).smallest_n == 35
    assert _grim_reference("94.3", 35) == [33] and all(not _grim_reference("94.3", m) for m in range(1, 35))


def test_grim_rounds_exact_halves_up():
    # 1/8 = 12.5 % shown without decimals rounds half-up to 13 %, never to 12 %
    assert stated_precision(0.13, 8, moe=0.2).grim_consistent is True
    assert stated_precision(0.12, 8, moe=0.2).grim_consistent is False


@pytest.mark.parametrize("n", [7, 13, 35, 50, 53, 97, 240])
def test_grim_agrees_with_decimal_brute_force_for_every_one_decimal_percentage(n):
    for tenths in range(0, 1001, 7):
        percent = f"{tenths / 10:.1f}"
        published = tenths / 1000
        if tenths % 10 == 0:
            continue  # whole percentages are shown without decimals; covered below
        expected = bool(_grim_reference(percent, n))
        assert stated_precision(published, n, moe=0.05).grim_consistent is expected, percent


def test_smallest_n_agrees_with_decimal_brute_force():
    for tenths in list(range(1, 1000, 13)) + [1, 5, 995, 999]:
        if tenths % 10 == 0:
            continue
        percent = f"{tenths / 10:.1f}"
        brute = next(m for m in range(1, 1001) if _grim_reference(percent, m))
        assert stated_precision(tenths / 1000, 1000, moe=0.01).smallest_n == brute, percent


def _possible_near(percent: str, n: int) -> bool:
    """Decimal GRIM check of the only candidates k near n·percent/100 (fast for large n)."""
    target = Decimal(percent)
    centre = int(target * n / 100)
    return any((Decimal(100 * k) / Decimal(n)).quantize(target, rounding=ROUND_HALF_UP) == target
               for k in range(max(0, centre - 1), min(n, centre + 2) + 1))


@pytest.mark.parametrize("percent", ["94.32", "33.33", "0.01", "99.99", "12.34", "50.05", "66.67"])
def test_smallest_n_of_two_decimal_percentages_agrees_with_decimal_brute_force(percent):
    brute = next(m for m in range(1, 10_001) if _possible_near(percent, m))
    published = float(Decimal(percent) / 100)
    assert stated_precision(published, 10_000, moe=0.001).smallest_n == brute


def test_whole_percentages_have_zero_decimals_and_their_own_smallest_n():
    result = stated_precision(0.95, 50, moe=0.066)
    assert (result.decimals, result.resolution) == (0, 0.01)
    brute = next(m for m in range(1, 101) if _grim_reference("95", m))
    assert result.smallest_n == brute
    assert stated_precision(1.0, 50, moe=0.0).smallest_n == 1
    assert stated_precision(0.0, 50, moe=0.0).smallest_n == 1


@pytest.mark.parametrize("published, decimals", [
    (0.924, 1),     # 92.4 %; repr avoids 0.92400000000000004
    (0.943, 1),
    (0.95, 0),
    (0.9, 0),       # 90 %
    (0.9245, 2),
    (0.1, 0),
])
def test_decimals_are_those_of_the_shown_percentage(published, decimals):
    assert stated_precision(published, 100, moe=0.05).decimals == decimals


def test_decimals_of_a_non_proportion_are_its_own_and_grim_does_not_apply():
    result = stated_precision(4.25, 80, moe=0.51, proportion=False)
    assert (result.decimals, result.resolution) == (2, 0.01)
    assert result.grim_consistent is None and result.smallest_n is None


@pytest.mark.parametrize("published, moe, proportion, excess", [
    (0.924, 0.0658267844, True, 1),   # 92.4 % ± 6.6 points: the .4 is noise (MOE of 47/50)
    (0.92, 0.0658267844, True, 0),    # 92 % ± 6.6: fine
    (0.9243, 0.0658267844, True, 2),  # 92.43 %: two noise digits
    (0.924, 0.012, True, 0),          # ± 1.2 points: PDG keeps two digits, 92.4 % fine
    (0.924, 0.0354, True, 0),         # PDG boundary: 354 -> two significant digits
    (0.924, 0.0355, True, 1),         # 355 -> one significant digit
    (0.924, 0.0951, True, 1),         # 951 rounds up to 0.10, two digits: place 0.01
    (0.92, 0.0951, True, 0),
    (4.25, 0.51, False, 1),           # mean 4.25 ± 0.51: show 4.3
    (35.0, 11.0, False, 0),           # NPS 35 ± 11 points
    (35.4, 11.0, False, 1),
    (0.924, 0.0, True, 0),            # census: every digit is real
])
def test_excess_digits_follow_the_pdg_rounding_of_the_moe(published, moe, proportion, excess):
    result = stated_precision(published, 50, moe=moe, proportion=proportion)
    assert result.excess_digits == excess
    assert result.supported is (excess == 0)
    assert result.margin_of_error == moe


def test_stated_precision_rejects_a_percentage_passed_as_a_proportion():
    with pytest.raises(ValueError):
        stated_precision(92.4, 50, moe=0.06)
