"""Does the data support the claim's comparison? (`claim_significance`)

- level: is the published figure compatible with the responses (two-sided test of
  H0: metric = published value)?
- benchmark: is the metric beyond the benchmark (one-sided, in the published direction)?
- change: did the metric move between the two periods (two-sided test, CI, power/MDE)?
- best_unit: is the unit better than the rest, after a Bonferroni correction over the K
  units that could have won (the winner was chosen because it is highest: METHODS §6 iii)?

A claim that asserts a difference (benchmark, change, best_unit) is `fail` when the data do
not show it at alpha 0.05: "not supported" is not "false", so the summary gives the
minimum detectable effect too (Cohen 1988).
"""
from __future__ import annotations

import pandas as pd

from audit.comparisons import (Comparison, bonferroni_winner_p, mean_vs_benchmark, nps_vs_benchmark,
                               proportion_vs_benchmark, two_means, two_nps, two_proportions)
from audit.data import AuditData
from audit.errors import InputError
from audit.headline import format_p, format_points, format_value
from audit.metrics import top_box_successes
from audit.results import CheckResult, not_applicable

ALPHA = 0.05
TITLE = "Significance of the claim"


def versus_value(scores: pd.Series, metric: str, scale: tuple[float, float], value: float,
                 alternative: str) -> Comparison:
    """Test the metric of `scores` against a fixed value (benchmark or published figure)."""
    if metric == "top2box":
        k, n = top_box_successes(scores, scale)
        return proportion_vs_benchmark(k, n, value, alternative=alternative)
    if metric == "nps":
        return nps_vs_benchmark(scores.to_numpy(), value, alternative=alternative)
    return mean_vs_benchmark(scores.to_numpy(), value, alternative=alternative)


def between_groups(first: pd.Series, second: pd.Series, metric: str, scale: tuple[float, float],
                   alternative: str) -> Comparison:
    """Test the metric of `first` against that of `second` (difference = first − second)."""
    if metric == "top2box":
        k1, n1 = top_box_successes(first, scale)
        k2, n2 = top_box_successes(second, scale)
        return two_proportions(k1, n1, k2, n2, alternative=alternative)
    if metric == "nps":
        return two_nps(first.to_numpy(), second.to_numpy(), alternative=alternative)
    return two_means(first.to_numpy(), second.to_numpy(), alternative=alternative)


def _details(c: Comparison, **extra) -> dict:
    return {"test": c.test, "p_value": c.p_value, "difference": c.difference, "ci_low": c.ci_low,
            "ci_high": c.ci_high, "alternative": c.alternative, "estimate": c.estimate,
            "reference": c.reference, "n": c.n, "n_reference": c.n_reference, "power": c.power,
            "minimum_detectable_effect": c.minimum_detectable_effect, "extra": dict(c.extra), **extra}


def _mde_text(c: Comparison, metric: str) -> str:
    if c.minimum_detectable_effect is None:
        return ""
    return (f" With these n, only a difference of {format_points(c.minimum_detectable_effect, metric)} or more "
            f"would be detected with 80 % power.")


def claim_significance(data: AuditData) -> CheckResult:
    """Does the data support the claim's comparison? (see the module docstring per claim type)"""
    try:
        return _claim_significance(data)
    except InputError as exc:
        # the claim was validated when it was read: what the test refuses is the responses
        # (too few in a group, or no variation at all)
        return not_applicable("claim_significance", TITLE,
                              f"The claim cannot be tested on these responses: {exc.message}"
                              + (f" ({exc.expected})." if exc.expected else "."))


def _claim_significance(data: AuditData) -> CheckResult:
    claim, metric, scale = data.claim, data.claim.metric, data.scale
    scores = data.responses["score"]
    if claim.type == "level":
        if claim.value is None:
            return not_applicable("claim_significance", TITLE,
                                  "The claim publishes no value and makes no comparison, so there is nothing to test; "
                                  "the metric block gives the data's own estimate.")
        c = versus_value(scores, metric, scale, claim.value, "two-sided")
        status = "fail" if c.p_value < ALPHA else "pass"
        verb = "is not" if status == "fail" else "is"
        summary = (f"The published {format_value(claim.value, metric)} {verb} compatible with the responses "
                   f"({format_value(c.estimate, metric)}, n = {c.n:,}; {format_p(c.p_value)}).")
        return CheckResult("claim_significance", status, TITLE, summary, statistic=c.statistic,
                           p_value=c.p_value, effect_size=c.difference, details=_details(c, published=claim.value))
    if claim.type == "benchmark":
        direction = "less" if claim.value is not None and claim.value < claim.benchmark else "greater"
        c = versus_value(scores, metric, scale, claim.benchmark, direction)
        word = "above" if direction == "greater" else "below"
        if c.p_value < ALPHA:
            status, how = "pass", "significantly"
        else:
            status, how = "fail", "not significantly"
        summary = (f"{format_value(c.estimate, metric)} (n = {c.n:,}) is {how} {word} the benchmark "
                   f"{format_value(claim.benchmark, metric)} (one-sided {format_p(c.p_value)}).")
        if status == "fail":
            summary += _mde_text(c, metric)
        return CheckResult("claim_significance", status, TITLE, summary, statistic=c.statistic,
                           p_value=c.p_value, effect_size=c.difference,
                           details=_details(c, benchmark=claim.benchmark))
    if claim.type == "change":
        period = data.responses[claim.period_column].astype(str)
        after, before = scores[period == claim.after], scores[period == claim.before]
        # a published change has a direction: test it one-sided, so that a significant move
        # the other way can never "support" it
        direction = "two-sided" if claim.value is None else ("greater" if claim.value > 0 else "less")
        c = between_groups(after, before, metric, scale, direction)
        moved = "rose" if c.difference > 0 else "fell"
        if c.p_value < ALPHA:
            status = "pass"
            summary = (f"The metric {moved} from {format_value(c.reference, metric)} ({claim.before}) to "
                       f"{format_value(c.estimate, metric)} ({claim.after}), a change of "
                       f"{format_points(c.difference, metric)} beyond chance ({format_p(c.p_value)}).")
        else:
            status = "fail"
            summary = (f"The change from {format_value(c.reference, metric)} ({claim.before}) to "
                       f"{format_value(c.estimate, metric)} ({claim.after}) is within noise "
                       f"({format_p(c.p_value)}; 95 % CI of the change {format_points(c.ci_low, metric)} to "
                       f"{format_points(c.ci_high, metric)}).") + _mde_text(c, metric)
        return CheckResult("claim_significance", status, TITLE, summary, statistic=c.statistic,
                           p_value=c.p_value, effect_size=c.difference,
                           details=_details(c, before=claim.before, after=claim.after, published=claim.value))
    # best_unit
    unit = data.responses[data.unit_column]
    mine, rest = scores[unit.astype(str) == claim.unit], scores[unit.notna() & (unit.astype(str) != claim.unit)]
    if rest.empty:
        return not_applicable("claim_significance", TITLE,
                              f"No other unit in '{data.unit_column}' has responses, so {claim.unit} cannot be "
                              f"compared with anyone: an award among one unit cannot be tested.")
    c = between_groups(mine, rest, metric, scale, "greater")
    k = int(unit.dropna().nunique())
    p_adj = bonferroni_winner_p(c.p_value, k)
    if p_adj < ALPHA:
        status = "pass"
        summary = (f"{claim.unit} ({format_value(c.estimate, metric)}, n = {c.n:,}) beats the rest "
                   f"({format_value(c.reference, metric)}) beyond chance even after allowing for {k} units that "
                   f"could have won ({format_p(p_adj)}).")
    else:
        status = "warn" if c.p_value < ALPHA else "fail"
        summary = (f"{claim.unit}'s lead ({format_value(c.estimate, metric)}, n = {c.n:,}, vs "
                   f"{format_value(c.reference, metric)} for the rest) is not beyond chance once the "
                   f"selection of the highest of {k} units is allowed for ({format_p(p_adj)}).") + _mde_text(c, metric)
    return CheckResult("claim_significance", status, TITLE, summary, statistic=c.statistic, p_value=p_adj,
                       effect_size=c.difference,
                       details=_details(c, p_value_unadjusted=c.p_value, p_value=p_adj, units=k,
                                        p_adjustment=f"Bonferroni over {k} units"))
