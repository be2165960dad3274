"""Precision of the headline metric: confidence intervals, margin of error, sample size
and whether a published figure claims more precision than its data carry.

Units: proportions (top-box share) are on the 0-1 scale; NPS is in points (-100..100);
the mean is on the rating scale. ``population_size`` is the number N of interactions the
metric describes (the frame the respondents were drawn from); when it is given, the
finite-population correction of Cochran (1977) shrinks the standard error.

Reference: METHODS.md §1 (intervals, MOE, sample size), §2 (NPS), §9.6 (GRIM).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from audit.errors import InputError

__all__ = [
    "Interval",
    "StatedPrecision",
    "margin_of_error",
    "mean_interval",
    "nps_components",
    "nps_interval",
    "required_sample_size",
    "stated_precision",
    "top_box_successes",
    "wilson_interval",
]

# Reichheld (2003): 9-10 promoters, 7-8 passives, 0-6 detractors.
NPS_PROMOTER_MIN = 9
NPS_DETRACTOR_MAX = 6
NPS_SCALE = (0, 10)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided confidence interval.

    ``se`` is the standard error behind the interval (after the finite-population
    correction when one was applied), in the units of ``estimate``. ``n`` is the
    number of non-missing observations. ``method`` names the interval: ``wilson``,
    ``wilson_fpc``, ``t``, ``t_fpc``, ``wald``, ``adjusted_wald`` (``_fpc`` appended
    when the finite-population correction was applied).
    """

    estimate: float
    ci_low: float
    ci_high: float
    se: float
    n: int
    method: str
    confidence: float = 0.95


def _z(confidence: float) -> float:
    _check_confidence(confidence)
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def _check_confidence(confidence: float) -> None:
    if not (0.0 < confidence < 1.0):
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def _fpc_proportion(n: int, population_size: int | None) -> float:
    """Variance factor (N - n)/(N - 1) of a proportion under simple random sampling
    without replacement (Cochran 1977, eq. 3.4); 1 without a population size."""
    if population_size is None:
        return 1.0
    _check_population(n, population_size)
    if population_size == 1:
        return 0.0  # n = N = 1: a census of one, no sampling error
    return (population_size - n) / (population_size - 1)


def _check_population(n: int, population_size: int) -> None:
    if population_size < n:
        raise ValueError(
            f"population_size ({population_size}) is smaller than the sample size ({n}); "
            "the respondents cannot outnumber the interactions they come from")


def _clean(values: ArrayLike) -> np.ndarray:
    """Numeric 1-D array without missing values (NaN/None)."""
    arr = np.asarray(values, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def top_box_successes(scores: ArrayLike, scale: tuple[float, float], boxes: int = 2) -> tuple[int, int]:
    """How many non-missing scores fall in the top ``boxes`` points of the scale?

    Returns ``(successes, n)``: successes are scores >= ``scale[1] - (boxes - 1)``
    (scale points are one unit apart) and n counts non-missing scores.

    On a scale with ``boxes`` or fewer points "top-``boxes``" would count every answer,
    so the number of boxes is capped at (number of points - 1): on a 2-point scale such
    as (0, 1) "top2box" means the top point only, on a 3-point scale the top two.

    Raises ``InputError`` when a score lies outside the scale (the data-quality step is
    meant to drop those before the metric is computed).
    """
    low, high = float(scale[0]), float(scale[1])
    if not high > low:
        raise ValueError(f"scale must be (low, high) with high > low, got {scale!r}")
    if boxes < 1:
        raise ValueError(f"boxes must be at least 1, got {boxes!r}")
    x = _clean(scores)
    outside = (x < low) | (x > high)
    if outside.any():
        raise InputError(
            f"{int(outside.sum())} score(s) outside the declared scale, e.g. {x[outside][0]:g}",
            column="score", expected=f"scores from {low:g} to {high:g}")
    n_points = int(math.floor(high - low)) + 1
    effective_boxes = min(boxes, max(n_points - 1, 1))
    threshold = high - (effective_boxes - 1)
    return int(np.count_nonzero(x >= threshold)), int(x.size)


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95,
                    population_size: int | None = None) -> Interval:
    """Wilson (1927) score interval for a proportion k/n (0-1 scale).

    Interval: [p + z²/(2n) ± z·sqrt(p(1-p)/n + z²/(4n²))] / (1 + z²/n), p = k/n.
    The estimate is p itself (not the interval's centre); ``se`` = sqrt(p(1-p)/n).

    Finite population (``population_size`` N): the score interval inverts
    |p - π| <= z·sqrt(π(1-π)/n · f) with f = (N-n)/(N-1), the variance of a proportion
    under sampling without replacement (Cochran 1977, eq. 3.4). That is Wilson's formula
    with n replaced by the effective size n/f, so the interval narrows towards p as n
    approaches N and collapses to p for a census. ``se`` is then sqrt(p(1-p)/n · f)
    and ``method`` is ``wilson_fpc``.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n!r}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in 0..n ({n}), got {successes!r}")
    z = _z(confidence)
    fpc = _fpc_proportion(n, population_size)
    p = successes / n
    se = math.sqrt(p * (1.0 - p) / n * fpc)
    method = "wilson" if population_size is None else "wilson_fpc"
    if fpc == 0.0:
        return Interval(p, p, p, 0.0, n, method, confidence)
    n_eff = n / fpc
    denom = 1.0 + z * z / n_eff
    centre = (p + z * z / (2.0 * n_eff)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n_eff + z * z / (4.0 * n_eff * n_eff)) / denom
    # at k = 0 (k = n) the lower (upper) bound is exactly 0 (1) analytically, with or
    # without the correction; set it rather than keep the rounding noise
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(p, low, high, se, n, method, confidence)


def mean_interval(values: ArrayLike, *, confidence: float = 0.95,
                  population_size: int | None = None) -> Interval:
    """Student-t interval for the mean rating, in scale units.

    ȳ ± t(n-1, 1-α/2)·SE with SE = s/sqrt(n), s using divisor n-1. With a finite
    population of N interactions SE = sqrt((1 - n/N)·s²/n) (Cochran 1977, ch. 2) and
    ``method`` is ``t_fpc``. Missing values are ignored; needs n >= 2.
    """
    _check_confidence(confidence)
    x = _clean(values)
    n = int(x.size)
    if n < 2:
        raise ValueError(f"a mean interval needs at least 2 non-missing values, got {n}")
    mean = float(np.mean(x))
    s = float(np.std(x, ddof=1))
    factor = 1.0
    if population_size is not None:
        _check_population(n, population_size)
        factor = 1.0 - n / population_size
    se = math.sqrt(factor * s * s / n)
    t = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1))
    method = "t" if population_size is None else "t_fpc"
    return Interval(mean, mean - t * se, mean + t * se, se, n, method, confidence)


def nps_components(scores: ArrayLike) -> tuple[int, int, int]:
    """How many promoters (9-10), passives (7-8) and detractors (0-6) are there?

    Missing scores are ignored; a score outside 0-10 raises ``InputError``.
    Reference: Reichheld (2003).
    """
    x = _clean(scores)
    outside = (x < NPS_SCALE[0]) | (x > NPS_SCALE[1])
    if outside.any():
        raise InputError(
            f"{int(outside.sum())} score(s) outside the NPS scale, e.g. {x[outside][0]:g}",
            column="score", expected="likelihood-to-recommend scores from 0 to 10")
    promoters = int(np.count_nonzero(x >= NPS_PROMOTER_MIN))
    detractors = int(np.count_nonzero(x <= NPS_DETRACTOR_MAX))
    return promoters, int(x.size) - promoters - detractors, detractors


def nps_interval(scores: ArrayLike, *, confidence: float = 0.95, population_size: int | None = None,
                 method: Literal["wald", "adjusted_wald"] = "adjusted_wald") -> Interval:
    """Net Promoter Score with its confidence interval, both in NPS points (-100..100).

    NPS = 100·(p_P - p_D). Coding answers +1/0/-1 makes NPS a mean, whose variance is
    the trinomial Var = [p_P + p_D - (p_P - p_D)²]/n.

    - ``wald``: NPS ± z·sqrt(Var).
    - ``adjusted_wald`` (Rocks 2016; Lewis & Sauro 2021): add 3/4 to promoters and to
      detractors and 3 to n, recompute NPS' and Var' with n' = n + 3, CI = NPS' ± z·SE'.
      Rocks found it covers far better than Wald at small n.

    ``estimate`` is always the plain NPS; the interval and ``se`` are the method's
    (for adjusted Wald, SE' of the adjusted proportions). With ``population_size`` N
    the variance is multiplied by (N - n)/(N - 1), the same finite-population factor as
    for a proportion (the variance above is the plug-in, divisor-n form), and
    ``_fpc`` is appended to ``method``. Bounds are clipped to [-100, 100].
    """
    if method not in ("wald", "adjusted_wald"):
        raise ValueError(f"method must be 'wald' or 'adjusted_wald', got {method!r}")
    z = _z(confidence)
    promoters, passives, detractors = nps_components(scores)
    n = promoters + passives + detractors
    if n == 0:
        raise ValueError("no non-missing scores: the NPS is undefined")
    fpc = _fpc_proportion(n, population_size)
    nps = (promoters - detractors) / n
    if method == "wald":
        p_p, p_d, n_used = promoters / n, detractors / n, float(n)
    else:
        n_used = n + 3.0
        p_p, p_d = (promoters + 0.75) / n_used, (detractors + 0.75) / n_used
    centre = p_p - p_d
    se = math.sqrt(max(p_p + p_d - centre * centre, 0.0) / n_used * fpc)
    low = max(-1.0, centre - z * se)
    high = min(1.0, centre + z * se)
    name = method if population_size is None else f"{method}_fpc"
    return Interval(100.0 * nps, 100.0 * low, 100.0 * high, 100.0 * se, n, name, confidence)


def margin_of_error(p: float, n: int, *, population_size: int | None = None,
                    confidence: float = 0.95) -> float:
    """Half-width of the normal-approximation interval of a proportion (0-1 scale).

    MOE = z·sqrt(p(1-p)/n)·sqrt((N-n)/(N-1)), the last factor only when the
    population size N is given (Cochran 1977, ch. 3). Use p = p̂ for the claim and
    p = 0.5 for the worst case.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p!r}")
    z = _z(confidence)
    return z * math.sqrt(p * (1.0 - p) / n * _fpc_proportion(n, population_size))


def required_sample_size(p: float, half_width: float, *, population_size: int | None = None,
                         confidence: float = 0.95) -> int:
    """How many responses give a proportion a 95 % half-width of ``half_width``?

    Cochran (1977, ch. 4): n0 = z²·p(1-p)/e²; with a population of N,
    n = n0 / (1 + (n0 - 1)/N); rounded up to a whole response.
    """
    if not 0.0 < half_width < 1.0:
        raise ValueError(f"half_width must lie in (0, 1), got {half_width!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p!r}")
    z = _z(confidence)
    n = z * z * p * (1.0 - p) / (half_width * half_width)
    if population_size is not None:
        if population_size < 1:
            raise ValueError(f"population_size must be positive, got {population_size!r}")
        n = n / (1.0 + (n - 1.0) / population_size)
    return max(1, math.ceil(n))


# ---------------------------------------------------------------------------------------
# Stated precision and granularity (GRIM)
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StatedPrecision:
    """Does the published figure carry more digits than its margin of error supports,
    and could it have come from n responses at all?

    - ``decimals``: decimals as the figure is shown (of the percentage for a
      proportion: 0.924 is shown as 92.4 %, 1 decimal).
    - ``resolution``: one unit of the last shown digit, in the units of ``published``
      (0.001 for 92.4 %).
    - ``margin_of_error``: the MOE it is judged against, units of ``published``.
    - ``excess_digits``: shown digits finer than the MOE supports (0 = fine).
    - ``supported``: ``excess_digits == 0``.
    - ``grim_consistent``: Brown & Heathers (2017) GRIM: True when some whole number k
      of n gives round_half_up(100k/n, decimals) == the published percentage;
      ``None`` when the figure is not a proportion.
    - ``smallest_n``: the smallest number of responses that can produce the published
      percentage (``None`` when not a proportion).
    """

    published: float
    decimals: int
    resolution: float
    margin_of_error: float
    supported: bool
    excess_digits: int
    grim_consistent: bool | None
    smallest_n: int | None


def _supported_place(moe: float) -> int | None:
    """Decimal exponent of the finest digit that a result with uncertainty ``moe``
    should be shown to, by the Particle Data Group rounding rule (Workman et al. 2022,
    Review of Particle Physics, Introduction §5.3): take the three leading digits of the
    uncertainty; 100-354 -> keep two significant digits, 355-949 -> one, 950-999 ->
    round up to 1000 and keep two; the result is shown to the same decimal place.
    ``None`` when there is no uncertainty (a census).
    """
    if moe == 0.0:
        return None
    exponent = Decimal(repr(moe)).adjusted()  # exact floor(log10(moe))
    leading = int(Decimal(repr(moe)).scaleb(2 - exponent))  # 100..999, truncated
    if leading <= 354:
        return exponent - 1
    return exponent  # 355-949 keep one digit; 950-999 round up to 10^(e+1), two digits


def _shown_decimals(published: float, proportion: bool) -> int:
    """Decimals of the figure as shown: repr gives the shortest decimal that reads back
    to the same float, i.e. the digits that were typed (0.924, not 0.92400000000000004)."""
    exponent = Decimal(repr(float(published))).normalize().as_tuple().exponent
    decimals = -int(exponent)
    if proportion:
        decimals -= 2  # shown as a percentage
    return max(decimals, 0)


def _percent_bounds(published: float, decimals: int) -> tuple[int, int]:
    """The published percentage as an integer P in units of 10^-decimals percent,
    and the scale S = 100·10^decimals, so that the percentage is 100·P/S."""
    scale = 100 * 10 ** decimals
    shown = (Decimal(repr(float(published))) * scale).to_integral_value()
    return int(shown), scale


def _grim_consistent(units: int, scale: int, n: int) -> bool:
    """Is there a k in 0..n with round_half_up(k/n · scale) == units?

    Round-half-up of x equals u exactly when u - 1/2 <= x < u + 1/2; with x = k·scale/n
    that is (2u - 1)·n <= 2·scale·k < (2u + 1)·n, all integers, so no floating point.
    """
    k = max(0, -((-(2 * units - 1) * n) // (2 * scale)))  # ceil((2u-1)n / 2S)
    return k <= n and 2 * scale * k < (2 * units + 1) * n


def _simplest_in_open(low: Fraction, high: Fraction) -> Fraction:
    """The fraction with the smallest denominator strictly between low and high
    (0 <= low < high), by continued-fraction descent of the Stern-Brocot tree."""
    whole = math.floor(low)
    if whole + 1 < high:
        return Fraction(whole + 1)
    low_frac, high_frac = low - whole, high - whole  # 0 <= low_frac < high_frac <= 1
    if low_frac == 0:
        return whole + Fraction(1, math.floor(1 / high_frac) + 1)
    return whole + 1 / _simplest_in_open(1 / high_frac, 1 / low_frac)


def _smallest_n(units: int, scale: int) -> int:
    """Smallest n for which some k/n rounds (half up) to the published percentage:
    the smallest denominator of a fraction in [ (2u-1)/2S, (2u+1)/2S ) ∩ [0, 1]."""
    low = max(Fraction(2 * units - 1, 2 * scale), Fraction(0))
    high = Fraction(2 * units + 1, 2 * scale)
    candidates = [low.denominator]  # low itself is in the half-open interval
    if low < min(high, Fraction(1)):
        inner = _simplest_in_open(low, high)
        if inner <= 1:
            candidates.append(inner.denominator)
    return min(candidates)


def stated_precision(published: float, n: int, *, moe: float, proportion: bool = True) -> StatedPrecision:
    """Is the published figure shown with more precision than its data support, and
    is it arithmetically possible from n responses?

    ``published`` is the value as given in claim.json: a proportion on the 0-1 scale
    (0.924 means "92.4 %") when ``proportion`` is true, else a figure in its own units
    (a mean, NPS points). Its shown decimals are read from its shortest repr, so 0.924
    has 1 decimal as a percentage. ``moe`` is the 95 % margin of error in the units of
    ``published``.

    Precision rule (documented design): the figure may be shown to the decimal place
    that its uncertainty is rounded to by the Particle Data Group rule (see
    ``_supported_place``); every shown digit beyond that place is noise and counted in
    ``excess_digits``. E.g. 92.4 % from n = 50 (MOE 6.6 points) supports "92 %": one
    excess digit; with MOE 1.2 points "92.4 %" is supported.

    Granularity (Brown & Heathers 2017, GRIM; METHODS §9.6): "94.3 %" cannot come from
    n = 50 (only 94.0 or 96.0), from n = 53 it needs k = 50, and the smallest n that
    gives it is 35. Rounding is half-up on exact rationals, never on floats.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n!r}")
    if not (math.isfinite(moe) and moe >= 0.0):
        raise ValueError(f"moe must be a finite non-negative number, got {moe!r}")
    if not math.isfinite(published):
        raise ValueError(f"published must be finite, got {published!r}")
    if proportion and not 0.0 <= published <= 1.0:
        raise ValueError(f"a published proportion must lie in [0, 1] (0.924 = 92.4 %), got {published!r}")
    decimals = _shown_decimals(published, proportion)
    resolution_exponent = -(decimals + 2) if proportion else -decimals
    place = _supported_place(float(moe))
    excess = 0 if place is None else max(0, place - resolution_exponent)
    grim: bool | None = None
    smallest: int | None = None
    if proportion:
        units, scale = _percent_bounds(published, decimals)
        grim = _grim_consistent(units, scale, n)
        smallest = _smallest_n(units, scale)
    return StatedPrecision(
        published=float(published), decimals=decimals, resolution=10.0 ** resolution_exponent,
        margin_of_error=float(moe), supported=excess == 0, excess_digits=excess,
        grim_consistent=grim, smallest_n=smallest)
