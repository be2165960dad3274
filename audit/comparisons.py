"""Significance of published comparisons: level vs benchmark, before vs after, winner vs rest.

Question answered (SPEC check ``claim_significance``, METHODS §6 and §2): does the survey
data support the comparison a claim makes, how large is the difference with its 95 %
confidence interval, and was the sample ever big enough to show a difference of the claimed
size (power) or of any size worth talking about (minimum detectable effect)?

Conventions (Cohen 1988; METHODS §6):

* alpha = 0.05; power targets 0.80.
* ``alternative`` is the direction of the claim, always read as "claimed group versus
  reference": ``"greater"`` means the claimed group is higher. It sets the p-value and the
  power. The confidence interval is always the two-sided 95 % interval, and the minimum
  detectable effect is always for a two-sided test, so that both read the same whatever
  direction the claim takes. (A one-sided 5 % test can therefore reject while the 95 % CI
  just touches 0.)
* ``difference`` = ``estimate - reference``, in the units of the metric: a proportion on the
  0-1 scale, a mean in scale points, NPS in points (-100..100).
* ``power`` is the power of the test that was run to detect a true difference equal to the
  observed one, i.e. the difference the claim publishes (Cohen 1988). A low value means that
  the claim was never measurable with this n; it is not evidence about the truth of the claim
  (Hoenig & Heisey 2001).
* ``minimum_detectable_effect`` is a positive magnitude: the smallest true difference that a
  two-sided 5 % test detects with 80 % power, measured from the reference value in the
  direction of the claim (the alternative, or the sign of the observed difference when
  two-sided). It is ``None`` when no true value inside the scale reaches 80 % power.
* A winner chosen because it scored highest makes its winner-vs-rest p-value too small
  (selection, "winner's curse"); :func:`bonferroni_winner_p` gives the minimal correction.

All functions are pure and deterministic. Unusable data raise
:class:`audit.errors.InputError`; an unknown ``alternative`` is a programming error and raises
``ValueError``.
"""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special, stats
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    power_proportions_2indep,
    proportion_confint,
    test_proportions_2indep,
)

from audit.errors import InputError
from audit.results import jsonable

ALPHA = 0.05
TARGET_POWER = 0.80
CONFIDENCE = 0.95
ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")

# statsmodels spells the one-sided alternatives differently from scipy.
_STATSMODELS_ALTERNATIVE = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}

# NPS categories on the 0-10 "likelihood to recommend" scale (Reichheld 2003).
_PROMOTER_MIN = 9
_DETRACTOR_MAX = 6


@dataclass(frozen=True)
class Comparison:
    """The test of one published comparison, with its effect, interval, power and MDE.

    ``estimate`` is the claimed group's metric, ``reference`` the benchmark or the comparison
    group's metric, ``difference`` = estimate - reference, and ``ci_low``/``ci_high`` the
    two-sided 95 % CI of that difference, all in the metric's units (proportion 0-1, scale
    points for means, NPS points). ``n_reference`` is ``None`` for a fixed benchmark.
    ``extra`` holds complementary statistics (e.g. Fisher exact p, Mann-Whitney AUC).
    """

    test: str
    statistic: float | None
    p_value: float
    alternative: str
    estimate: float
    reference: float
    difference: float
    ci_low: float
    ci_high: float
    n: int
    n_reference: int | None
    power: float | None
    minimum_detectable_effect: float | None
    extra: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (NaN becomes ``None``), for ``details`` of a check result."""
        return jsonable({
            "test": self.test, "statistic": self.statistic, "p_value": self.p_value,
            "alternative": self.alternative, "estimate": self.estimate,
            "reference": self.reference, "difference": self.difference,
            "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n,
            "n_reference": self.n_reference, "power": self.power,
            "minimum_detectable_effect": self.minimum_detectable_effect,
            "extra": dict(self.extra),
        })


# ---------------------------------------------------------------------------------------
# Proportions (top-box share)
# ---------------------------------------------------------------------------------------

def proportion_vs_benchmark(
    successes: int, n: int, benchmark: float, *, alternative: str = "greater",
) -> Comparison:
    """Is the share k/n different from (by default: above) a fixed benchmark π₀?

    Test: exact binomial test of H0: p = π₀ (``scipy.stats.binomtest``; the two-sided
    p-value sums the probabilities of all outcomes no more likely than k under π₀).
    CI: Wilson (1927) score interval of p, minus π₀ (METHODS §1.1 recommends Wilson).
    Power and MDE use the normal approximation on Cohen's (1988) arcsine scale,
    h = 2·asin√p − 2·asin√π₀, one sample (statsmodels ``NormalIndPower`` with ``ratio=0``):
    power = Φ(h·√n − z₁₋α/₂) + Φ(−h·√n − z₁₋α/₂) (two-sided; one tail with z₁₋α when
    one-sided), and the MDE solves that for power 0.80, two-sided, giving h*, then
    p* = sin²(asin√π₀ ± h*/2) and MDE = |p* − π₀|. Units: proportion (0-1).
    """
    _check_alternative(alternative)
    k, n = _check_count(successes, n, "successes", "n")
    if not 0.0 <= float(benchmark) <= 1.0:
        raise InputError(f"benchmark proportion {benchmark!r} is outside [0, 1]",
                         expected="a share between 0 and 1")
    benchmark = float(benchmark)

    p_hat = k / n
    p_value = float(stats.binomtest(k, n, benchmark, alternative=alternative).pvalue)
    wilson_low, wilson_high = proportion_confint(k, n, alpha=1 - CONFIDENCE, method="wilson")
    difference = p_hat - benchmark

    h = _cohens_h(p_hat, benchmark)
    power = _normal_power(h * math.sqrt(n), alternative)
    h_star = _detectable_normal_noncentrality() / math.sqrt(n)
    mde = _arcsine_mde(benchmark, h_star, _claim_direction(alternative, difference))

    return Comparison(
        test="exact binomial", statistic=None, p_value=p_value, alternative=alternative,
        estimate=p_hat, reference=benchmark, difference=difference,
        ci_low=float(wilson_low) - benchmark, ci_high=float(wilson_high) - benchmark,
        n=n, n_reference=None, power=power, minimum_detectable_effect=mde,
        extra={"cohens_h": h},
    )


def two_proportions(
    successes1: int, n1: int, successes2: int, n2: int, *, alternative: str = "two-sided",
) -> Comparison:
    """Do two independent shares differ (group 1 = the claimed group, e.g. "after" or the winner)?

    Test: score z test for p₁ − p₂ = 0 (Miettinen & Nurminen 1985 variance, statsmodels
    ``test_proportions_2indep(method="score")``; without the n/(n−1) factor it is the pooled
    z, whose square is the uncorrected 2×2 χ²). CI: Newcombe (1998) hybrid score interval
    (``confint_proportions_2indep(method="newcomb")``). ``extra`` adds Fisher's exact test
    (same alternative; its odds ratio is the sample one) and Cohen's h = 2·asin√p₁ − 2·asin√p₂.

    Power: ``power_proportions_2indep`` for a true difference equal to the observed one, with
    group 2's share as the baseline and the test's alternative. MDE (two-sided, 80 %): the
    normal power equation on the arcsine scale gives h* = c/√(n₁n₂/(n₁+n₂)), c solving
    Φ(c − z₁₋α/₂) + Φ(−c − z₁₋α/₂) = 0.80 (= ``NormalIndPower().solve_power(nobs1=n1,
    ratio=n2/n1, power=0.8)``), inverted to the p scale from p₂: p* = sin²(asin√p₂ ± h*/2),
    MDE = |p* − p₂| (METHODS §6: 500 per arm at 82 % → h* 0.1772 → 6.27 points).

    When both groups are all successes (or all failures) the score statistic is 0/0: the result
    then has ``statistic=None``, Fisher's p (= 1) as ``p_value`` and ``power=None``.
    Units: proportion (0-1).
    """
    _check_alternative(alternative)
    k1, n1 = _check_count(successes1, n1, "successes1", "n1")
    k2, n2 = _check_count(successes2, n2, "successes2", "n2")
    p1, p2 = k1 / n1, k2 / n2
    difference = p1 - p2
    sm_alternative = _STATSMODELS_ALTERNATIVE[alternative]

    _, fisher_p = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative=alternative)
    odds_ratio = _odds_ratio(k1, n1, k2, n2)
    ci_low, ci_high = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb",
                                                 alpha=1 - CONFIDENCE)
    no_variation = k1 + k2 in (0, n1 + n2)
    if no_variation:
        statistic, p_value, power = None, float(fisher_p), None
    else:
        with np.errstate(divide="ignore"):   # statsmodels' odds-ratio side output divides by 1 − p̂ = 0
            score = test_proportions_2indep(k1, n1, k2, n2, method="score",
                                            alternative=sm_alternative)
        statistic, p_value = float(score.statistic), float(score.pvalue)
        power = _finite_or_none(power_proportions_2indep(
            difference, p2, n1, ratio=n2 / n1, alpha=ALPHA,
            alternative=sm_alternative).power)

    effective_n = n1 * n2 / (n1 + n2)
    h_star = _detectable_normal_noncentrality() / math.sqrt(effective_n)
    mde = _arcsine_mde(p2, h_star, _claim_direction(alternative, difference))

    return Comparison(
        test="two-proportion score z (Newcombe CI)", statistic=statistic, p_value=p_value,
        alternative=alternative, estimate=p1, reference=p2, difference=difference,
        ci_low=float(ci_low), ci_high=float(ci_high), n=n1, n_reference=n2,
        power=power, minimum_detectable_effect=mde,
        extra={"fisher_p_value": float(fisher_p), "fisher_odds_ratio": odds_ratio,
               "cohens_h": _cohens_h(p1, p2)},
    )


# ---------------------------------------------------------------------------------------
# Means (ordinal ratings treated as scores)
# ---------------------------------------------------------------------------------------

def two_means(x1: ArrayLike, x2: ArrayLike, *, alternative: str = "two-sided") -> Comparison:
    """Do two independent groups' mean ratings differ (group 1 = the claimed group)?

    Test: Welch (1947) t = (x̄₁ − x̄₂)/SE, SE = √(s₁²/n₁ + s₂²/n₂), Welch–Satterthwaite df
    = SE⁴ / [(s₁²/n₁)²/(n₁−1) + (s₂²/n₂)²/(n₂−1)] (same as ``scipy.stats.ttest_ind(
    equal_var=False)``); CI: difference ± t_{df, 0.975}·SE. Ratings are ordinal, so ``extra``
    adds the rank tests of METHODS §6 with the same alternative: Mann–Whitney U of group 1
    (``scipy.stats.mannwhitneyu``, continuity-corrected, exact for small tie-free samples),
    its AUC = U/(n₁n₂) = P(X₁ > X₂) + ½P(X₁ = X₂), and Brunner & Munzel (2000), valid when
    spreads differ (NaN when the groups do not overlap at all: its variance is then 0).

    Power: noncentral t with noncentrality Δ/SE and the Welch df, both tails when two-sided
    (the ``TTestIndPower`` formula; identical to it when n₁ = n₂ and s₁ = s₂). MDE: the Δ
    reaching 80 % two-sided power, holding the observed SE and df fixed.
    Units: scale points of the rating.
    """
    _check_alternative(alternative)
    a = _as_sample(x1, "the claimed group", minimum=2)
    b = _as_sample(x2, "the reference group", minimum=2)
    n1, n2 = a.size, b.size
    var1, var2 = a.var(ddof=1) / n1, b.var(ddof=1) / n2
    if var1 + var2 == 0.0:
        raise InputError("both groups give every respondent the same rating; the t test is undefined",
                         expected="some variation in at least one group")
    se = math.sqrt(var1 + var2)
    df = (var1 + var2) ** 2 / (var1 ** 2 / (n1 - 1) + var2 ** 2 / (n2 - 1))
    difference = float(a.mean() - b.mean())
    t_statistic, p_value, ci_low, ci_high = _t_test(difference, se, df, alternative)

    u = stats.mannwhitneyu(a, b, alternative=alternative)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        bm = stats.brunnermunzel(a, b, alternative=alternative)

    return Comparison(
        test="Welch t", statistic=t_statistic, p_value=p_value, alternative=alternative,
        estimate=float(a.mean()), reference=float(b.mean()), difference=difference,
        ci_low=ci_low, ci_high=ci_high, n=n1, n_reference=n2,
        power=_t_power(difference / se, df, alternative),
        minimum_detectable_effect=_detectable_t_noncentrality(df) * se,
        extra={"df": df, "standard_error": se,
               "mann_whitney_u": float(u.statistic), "mann_whitney_p_value": float(u.pvalue),
               "auc": float(u.statistic) / (n1 * n2),
               "brunner_munzel_statistic": float(bm.statistic),
               "brunner_munzel_p_value": float(bm.pvalue)},
    )


def mean_vs_benchmark(x: ArrayLike, benchmark: float, *, alternative: str = "greater") -> Comparison:
    """Is the mean rating different from (by default: above) a fixed benchmark μ₀?

    Test: one-sample t = (x̄ − μ₀)/(s/√n), df = n − 1 (Student 1908; same as
    ``scipy.stats.ttest_1samp``); CI: (x̄ − μ₀) ± t_{n−1, 0.975}·s/√n. Power: noncentral t
    with noncentrality (x̄ − μ₀)√n/s (the ``TTestPower`` formula, Cohen's d = (x̄ − μ₀)/s).
    MDE: the difference reaching 80 % two-sided power with the observed s.
    Units: scale points of the rating.
    """
    _check_alternative(alternative)
    a = _as_sample(x, "the sample", minimum=2)
    if not math.isfinite(float(benchmark)):
        raise InputError(f"benchmark mean {benchmark!r} is not a finite number",
                         expected="a finite benchmark on the rating scale")
    n = a.size
    sd = float(a.std(ddof=1))
    if sd == 0.0:
        raise InputError("every respondent gave the same rating; the t test is undefined",
                         expected="some variation in the ratings")
    se = sd / math.sqrt(n)
    df = float(n - 1)
    difference = float(a.mean()) - float(benchmark)
    t_statistic, p_value, ci_low, ci_high = _t_test(difference, se, df, alternative)

    return Comparison(
        test="one-sample t", statistic=t_statistic, p_value=p_value, alternative=alternative,
        estimate=float(a.mean()), reference=float(benchmark), difference=difference,
        ci_low=ci_low, ci_high=ci_high, n=n, n_reference=None,
        power=_t_power(difference / se, df, alternative),
        minimum_detectable_effect=_detectable_t_noncentrality(df) * se,
        extra={"df": df, "standard_error": se},
    )


# ---------------------------------------------------------------------------------------
# Net Promoter Score
# ---------------------------------------------------------------------------------------

def two_nps(scores1: ArrayLike, scores2: ArrayLike, *, alternative: str = "two-sided") -> Comparison:
    """Do two independent groups' Net Promoter Scores differ ("NPS up 10 points")?

    NPS = p_P − p_D (promoters 9-10, detractors 0-6; Reichheld 2003) with the multinomial
    variance Var = [p_P + p_D − NPS²]/n (METHODS §2; Rocks 2016). Test: z = Δ/√(Var₁ + Var₂),
    normal p-value; CI: Δ ± z₀.₉₇₅·√(Var₁ + Var₂) (Wald). Power and MDE: normal, holding
    that SE fixed. ``extra`` adds Welch's t on the respondents coded +1/0/−1, the usual
    cross-check (its SE uses n − 1, so it is slightly larger). Units: NPS points (×100).
    """
    _check_alternative(alternative)
    nps1, var1, n1 = _nps_and_variance(scores1, "the claimed group")
    nps2, var2, n2 = _nps_and_variance(scores2, "the reference group")
    se = math.sqrt(var1 + var2)
    if se == 0.0:
        raise InputError("both groups fall entirely in one NPS category; the z test is undefined",
                         expected="some variation in at least one group")
    difference = nps1 - nps2
    z, p_value, ci_low, ci_high = _z_test(difference, se, alternative)

    coded1, coded2 = _nps_coded(scores1), _nps_coded(scores2)
    welch = _welch_or_nan(coded1, coded2, alternative)

    return Comparison(
        test="NPS z (multinomial variance)", statistic=z, p_value=p_value,
        alternative=alternative, estimate=100 * nps1, reference=100 * nps2,
        difference=100 * difference, ci_low=100 * ci_low, ci_high=100 * ci_high,
        n=n1, n_reference=n2, power=_normal_power(difference / se, alternative),
        minimum_detectable_effect=100 * _detectable_normal_noncentrality() * se,
        extra={"standard_error": 100 * se, **welch},
    )


def nps_vs_benchmark(
    scores: ArrayLike, benchmark_points: float, *, alternative: str = "greater",
) -> Comparison:
    """Is the NPS different from (by default: above) a fixed benchmark, given in points?

    z = (NPS − b/100)/SE with the multinomial SE = √([p_P + p_D − NPS²]/n) (METHODS §2);
    CI: (NPS − b/100) ± z₀.₉₇₅·SE, i.e. the Wald interval of NPS minus the benchmark. Power and
    MDE: normal, holding that SE fixed. Units: NPS points (×100).
    """
    _check_alternative(alternative)
    benchmark_points = float(benchmark_points)
    if not -100.0 <= benchmark_points <= 100.0:
        raise InputError(f"benchmark NPS {benchmark_points!r} is outside [-100, 100]",
                         expected="NPS points between -100 and 100")
    nps, variance, n = _nps_and_variance(scores, "the sample")
    se = math.sqrt(variance)
    if se == 0.0:
        raise InputError("every respondent falls in one NPS category; the z test is undefined",
                         expected="some variation in the scores")
    difference = nps - benchmark_points / 100
    z, p_value, ci_low, ci_high = _z_test(difference, se, alternative)

    return Comparison(
        test="NPS z (multinomial variance)", statistic=z, p_value=p_value,
        alternative=alternative, estimate=100 * nps, reference=benchmark_points,
        difference=100 * difference, ci_low=100 * ci_low, ci_high=100 * ci_high,
        n=n, n_reference=None, power=_normal_power(difference / se, alternative),
        minimum_detectable_effect=100 * _detectable_normal_noncentrality() * se,
        extra={"standard_error": 100 * se},
    )


# ---------------------------------------------------------------------------------------
# Selection of the winner
# ---------------------------------------------------------------------------------------

def bonferroni_winner_p(p_value: float, n_candidates: int) -> float:
    """Winner-vs-rest p-value corrected for having picked the best of K candidates.

    A unit chosen *because* it scored highest is compared with the rest after the fact, so its
    nominal p-value ignores the K − 1 other chances to win (METHODS §6 (iii), "winner's
    curse"). The Bonferroni bound min(1, K·p) (Dunn 1961) is a conservative minimum; rank
    confidence sets (METHODS §7.3) answer the question properly. Unitless probability.
    """
    p = float(p_value)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p_value must lie in [0, 1], got {p_value!r}")
    if isinstance(n_candidates, bool) or int(n_candidates) != n_candidates or n_candidates < 1:
        raise ValueError(f"n_candidates must be a whole number >= 1, got {n_candidates!r}")
    return min(1.0, p * int(n_candidates))


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")


def _check_count(successes: Any, n: Any, successes_name: str, n_name: str) -> tuple[int, int]:
    for value, name in ((successes, successes_name), (n, n_name)):
        if isinstance(value, bool) or not _is_whole(value):
            raise InputError(f"{name} = {value!r} is not a whole number", expected="a count")
    k, total = int(successes), int(n)
    if total < 1:
        raise InputError(f"{n_name} = {total} leaves nothing to test", expected="at least one response")
    if not 0 <= k <= total:
        raise InputError(f"{successes_name} = {k} is not between 0 and {n_name} = {total}",
                         expected=f"0 <= {successes_name} <= {n_name}")
    return k, total


def _is_whole(value: Any) -> bool:
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(as_float) and as_float == int(as_float)


def _as_sample(values: ArrayLike, name: str, *, minimum: int) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} holds values that are not numbers", expected="numeric ratings") from exc
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} holds missing or infinite values",
                         expected="finite ratings (drop missing responses first)")
    if a.size < minimum:
        raise InputError(f"{name} has {a.size} response(s)", expected=f"at least {minimum}")
    return a


def _nps_scores(scores: ArrayLike, name: str) -> np.ndarray:
    a = _as_sample(scores, name, minimum=1)
    if np.any((a < 0) | (a > 10) | (a != np.round(a))):
        raise InputError(f"{name} holds values outside the 0-10 likelihood-to-recommend scale",
                         expected="whole numbers 0-10")
    return a


def _nps_coded(scores: ArrayLike) -> np.ndarray:
    a = np.asarray(scores, dtype=float).ravel()
    return (a >= _PROMOTER_MIN).astype(float) - (a <= _DETRACTOR_MAX).astype(float)


def _nps_and_variance(scores: ArrayLike, name: str) -> tuple[float, float, int]:
    """NPS on the 0-1 scale, its multinomial variance [p_P + p_D − NPS²]/n, and n."""
    a = _nps_scores(scores, name)
    n = a.size
    promoters = float(np.mean(a >= _PROMOTER_MIN))
    detractors = float(np.mean(a <= _DETRACTOR_MAX))
    nps = promoters - detractors
    # max(0, .) guards the last-bit negative that rounding can give when all are one category.
    return nps, max(0.0, promoters + detractors - nps ** 2) / n, n


def _welch_or_nan(a: np.ndarray, b: np.ndarray, alternative: str) -> dict[str, float]:
    nan = float("nan")
    var1 = a.var(ddof=1) / a.size if a.size > 1 else nan
    var2 = b.var(ddof=1) / b.size if b.size > 1 else nan
    if not (math.isfinite(var1) and math.isfinite(var2)) or var1 + var2 == 0.0:
        return {"welch_t": nan, "welch_p_value": nan, "welch_df": nan}
    se = math.sqrt(var1 + var2)
    df = (var1 + var2) ** 2 / (var1 ** 2 / (a.size - 1) + var2 ** 2 / (b.size - 1))
    t_statistic, p_value, _, _ = _t_test(float(a.mean() - b.mean()), se, df, alternative)
    return {"welch_t": t_statistic, "welch_p_value": p_value, "welch_df": df}


def _odds_ratio(k1: int, n1: int, k2: int, n2: int) -> float:
    """Sample odds ratio (k₁(n₂−k₂))/((n₁−k₁)k₂); inf or NaN when a cell is empty."""
    numerator, denominator = k1 * (n2 - k2), (n1 - k1) * k2
    if denominator == 0:
        return float("nan") if numerator == 0 else float("inf")
    return numerator / denominator


def _cohens_h(p1: float, p2: float) -> float:
    """Cohen's (1988) arcsine effect size h = 2·asin√p₁ − 2·asin√p₂."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))


def _claim_direction(alternative: str, difference: float) -> int:
    if alternative == "greater":
        return 1
    if alternative == "less":
        return -1
    return -1 if difference < 0 else 1


def _arcsine_mde(baseline: float, h_star: float, direction: int) -> float | None:
    """|p* − p₀| with p* = sin²(asin√p₀ ± h*/2); None when p* would leave [0, 1]."""
    angle = math.asin(math.sqrt(baseline)) + direction * h_star / 2
    if not 0.0 <= angle <= math.pi / 2:
        return None
    return abs(math.sin(angle) ** 2 - baseline)


def _z_test(difference: float, se: float, alternative: str) -> tuple[float, float, float, float]:
    z = difference / se
    if alternative == "two-sided":
        p_value = 2 * stats.norm.sf(abs(z))
    elif alternative == "greater":
        p_value = stats.norm.sf(z)
    else:
        p_value = stats.norm.cdf(z)
    half_width = stats.norm.ppf(1 - (1 - CONFIDENCE) / 2) * se
    return z, float(p_value), difference - half_width, difference + half_width


def _t_test(
    difference: float, se: float, df: float, alternative: str,
) -> tuple[float, float, float, float]:
    t_statistic = difference / se
    if alternative == "two-sided":
        p_value = 2 * stats.t.sf(abs(t_statistic), df)
    elif alternative == "greater":
        p_value = stats.t.sf(t_statistic, df)
    else:
        p_value = stats.t.cdf(t_statistic, df)
    half_width = stats.t.ppf(1 - (1 - CONFIDENCE) / 2, df) * se
    return t_statistic, float(p_value), difference - half_width, difference + half_width


def _normal_power(noncentrality: float, alternative: str, alpha: float = ALPHA) -> float:
    """Power of a z test whose statistic is N(noncentrality, 1) under the alternative.

    Two-sided: Φ(δ − z₁₋α/₂) + Φ(−δ − z₁₋α/₂), the far tail included as statsmodels'
    ``NormalIndPower`` does; one-sided: the one tail with z₁₋α.
    """
    if alternative == "two-sided":
        critical = float(special.ndtri(1 - alpha / 2))
        return float(special.ndtr(noncentrality - critical) + special.ndtr(-critical - noncentrality))
    critical = float(special.ndtri(1 - alpha))
    if alternative == "greater":
        return float(special.ndtr(noncentrality - critical))
    return float(special.ndtr(-critical - noncentrality))


def _t_power(noncentrality: float, df: float, alternative: str, alpha: float = ALPHA) -> float:
    """Power of a t test with df degrees of freedom: noncentral t (``TTestPower`` formula).

    ``scipy.special.nctdtr`` (noncentral t CDF) is used rather than ``stats.nct`` because it
    is ~50 times faster inside the MDE root search; it agrees with ``stats.nct`` to ~1e-8.
    """
    if alternative == "two-sided":
        critical = float(special.stdtrit(df, 1 - alpha / 2))
        return float(1 - special.nctdtr(df, noncentrality, critical)
                     + special.nctdtr(df, noncentrality, -critical))
    critical = float(special.stdtrit(df, 1 - alpha))
    if alternative == "greater":
        return float(1 - special.nctdtr(df, noncentrality, critical))
    return float(special.nctdtr(df, noncentrality, -critical))


@functools.lru_cache(maxsize=None)
def _detectable_normal_noncentrality() -> float:
    """δ* with two-sided 5 % z-test power 0.80 (≈ z₀.₉₇₅ + z₀.₈₀ = 2.8016); a constant."""
    return _solve_for_power(lambda delta: _normal_power(delta, "two-sided"))


def _detectable_t_noncentrality(df: float) -> float:
    """δ* with two-sided 5 % t-test power 0.80 at df degrees of freedom."""
    return _solve_for_power(lambda delta: _t_power(delta, df, "two-sided"))


def _solve_for_power(power_at: Callable[[float], float]) -> float:
    # Power rises monotonically in the noncentrality; widen the bracket until it reaches 0.80.
    upper = 4.0
    while power_at(upper) < TARGET_POWER:
        upper *= 2
    return float(optimize.brentq(lambda delta: power_at(delta) - TARGET_POWER, 0.0, upper,
                                 xtol=1e-12))


def _finite_or_none(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
