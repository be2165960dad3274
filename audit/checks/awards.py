"""Is the award winner really the best, and which units stand out from the rest by more than chance?

Checks `rank_uncertainty` (confidence sets for ranks, Mogstad, Romano, Shaikh & Wilhelm
2024; empirical-Bayes shrinkage and the probability of being the best) and
`funnel_outliers` (funnel-plot control limits with the overdispersion adjustment,
Spiegelhalter 2005). The statistics live in `audit.ranking`; METHODS.md §7.

Units are the values of the audit's unit column (agent, team, site) among the responses;
the metric is the claim's (top2box: a binomial share per unit; mean and NPS: the unit's
mean of the per-response variable, with a normal model).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from audit.data import AuditData
from audit.headline import format_p, format_points, format_value, metric_variable, ordinal
from audit.ranking import (
    ALARM_PROBABILITIES,
    ALERT_PROBABILITIES,
    adjusted_funnel_limits,
    beta_posterior,
    binomial_rank_variances,
    estimated_ranks,
    exact_funnel_flags,
    fit_beta_binomial,
    fit_normal_prior,
    funnel_limits,
    normal_posterior,
    overdispersion,
    pooled_unit_variances,
    probability_best,
    probability_best_normal,
    rank_confidence_sets,
    tau_best_set,
    winsorised_square_expectation,
)
from audit.results import CheckResult, not_applicable

RANK_TITLE = "Rank uncertainty"
FUNNEL_TITLE = "Funnel-plot outliers"
COVERAGE = 0.95
N_BOOTSTRAP = 2000                 # csranks' default is 1000; 2000 halves the Monte Carlo noise of c
# METHODS §7.5 rubric (ours, not from the literature).
SUPPORTED_P_BEST = 0.90
WEAK_P_BEST = 0.50
MAX_CONTENDERS = 2                 # a τ-best set larger than this: "the winner could be anyone's"
MIN_FUNNEL_UNITS = 3
ALPHA = 0.05
WINSOR = 0.10
ALERT_LEVEL, ALARM_LEVEL = 0.95, 0.998
GRID_POINTS = 60
FULL_RANKING_UNITS = 200           # above this many units, rank sets only for the top and the claimed unit
LISTED_RANK_SETS = 20


@dataclass(frozen=True)
class UnitSummary:
    """Per-unit counts and moments of the claim's metric variable (units sorted by name)."""

    units: np.ndarray
    n: np.ndarray
    estimate: np.ndarray            # share (top2box) or mean of y (mean, NPS points)
    successes: np.ndarray           # top-box count (top2box only; else the sum of y)
    variance: np.ndarray            # per-response sample variance of y (ddof 1; NaN for n = 1)
    all_values: np.ndarray          # y of every response that has a unit


def unit_summary(data: AuditData) -> UnitSummary | None:
    """The claim's metric per unit, or None when the responses carry no unit column."""
    column = data.unit_column
    if column is None or column not in data.responses.columns:
        return None
    y = metric_variable(data.responses["score"], data.claim.metric, data.scale)
    frame = pd.DataFrame({"unit": data.responses[column].astype("string"), "y": y}).dropna()
    grouped = frame.groupby("unit", sort=True)["y"]
    return UnitSummary(units=np.asarray(grouped.size().index, dtype=object).astype(str),
                       n=grouped.size().to_numpy(dtype=int), estimate=grouped.mean().to_numpy(dtype=float),
                       successes=grouped.sum().to_numpy(dtype=float),
                       variance=grouped.var(ddof=1).to_numpy(dtype=float),
                       all_values=frame["y"].to_numpy(dtype=float))


def _percent(p: float) -> str:
    return "< 1 %" if p < 0.005 else "> 99 %" if p > 0.995 else f"{100 * p:.0f} %"


def _claimed_index(summary: UnitSummary, data: AuditData) -> tuple[int, bool]:
    """The unit named by a best_unit claim, else the one a league table would crown
    (highest raw metric; ties to the larger n, then the name)."""
    if data.claim.type == "best_unit":
        return int(np.flatnonzero(summary.units == str(data.claim.unit))[0]), True
    order = sorted(range(summary.units.size),
                   key=lambda i: (-summary.estimate[i], -summary.n[i], summary.units[i]))
    return order[0], False


def rank_status(p_best: float, rank_ci: tuple[int, int], contenders: int) -> str:
    """METHODS §7.5 rubric: pass if P(best) ≥ 0.90 and the marginal rank set is [1, 1];
    fail if P(best) < 0.5 or more than two units could be the best; warn otherwise."""
    if p_best >= SUPPORTED_P_BEST and tuple(rank_ci) == (1, 1):
        return "pass"
    if p_best < WEAK_P_BEST or contenders > MAX_CONTENDERS:
        return "fail"
    return "warn"


def rank_uncertainty(data: AuditData, rng: np.random.Generator, *, n_bootstrap: int = N_BOOTSTRAP) -> CheckResult:
    """How sure is the claimed unit's rank, and could another unit be the real best?

    Marginal and simultaneous 95 % confidence sets for every unit's rank (Mogstad et al.
    2024, parametric bootstrap, step-down), the 95 % set of units that could be the best
    (τ-best, τ = 1), empirical-Bayes shrunken scores (beta-binomial for top2box,
    normal-normal for mean/NPS) and the posterior probability that each unit is truly the
    best, under the fitted prior (EB) and a flat one. Variances are floored so that a
    5/5 unit is not "certain": (y+2)/(n+4) for shares, four pseudo-responses at the pooled
    within-unit variance for means. For claims that name no unit the check describes the
    unit a league table would crown and passes: no award is at stake (``rubric_status``
    says what the rubric would give it). Status: `rank_status`. ``statistic`` = number of
    ranks in the claimed unit's marginal set; ``effect_size`` = its EB P(best).
    """
    summary = unit_summary(data)
    if summary is None:
        return not_applicable("rank_uncertainty", RANK_TITLE,
                              "The responses have no unit column (agent, team, site), so there is nothing to rank.")
    p = summary.units.size
    if p < 2:
        return not_applicable("rank_uncertainty", RANK_TITLE,
                              f"Only {p} unit has responses; ranking needs at least two.", units=summary.units.tolist())
    if np.ptp(summary.all_values) == 0:
        return not_applicable("rank_uncertainty", RANK_TITLE,
                              "Every response has the same value of the metric, so no unit can rank above another.")
    metric = data.claim.metric
    n = summary.n
    if metric == "top2box":
        successes = np.round(summary.successes)
        x = successes / n
        variances = binomial_rank_variances(successes, n)
        prior = fit_beta_binomial(successes, n)
        posterior = beta_posterior(successes, n, prior.a, prior.b, level=COVERAGE)
        p_best = probability_best(successes, n, prior.a, prior.b)
        p_best_flat = probability_best(successes, n, 1.0, 1.0)
        prior_details: dict[str, Any] = {
            "model": "beta-binomial", "a": prior.a, "b": prior.b, "prior_mean": prior.mean,
            "prior_strength": prior.strength, "complete_pooling": prior.complete_pooling}
        variance_floor = "max(p(1-p)/n, p~(1-p~)/(n+4)), p~ = (y+2)/(n+4) (Agresti & Coull 1998)"
    else:
        x = summary.estimate
        dof = np.clip(n - 1, 0, None)
        within = np.nan_to_num(summary.variance, nan=0.0)
        pooled = float(np.sum(dof * within) / dof.sum()) if dof.sum() > 0 else float(np.var(summary.all_values, ddof=1))
        if pooled <= 0:
            pooled = float(np.var(summary.all_values, ddof=1))
        variances = pooled_unit_variances(within, n, pooled) / n
        prior_n = fit_normal_prior(x, variances)
        posterior, post_sd = normal_posterior(x, variances, prior_n, level=COVERAGE)
        p_best = probability_best_normal(posterior.mean, post_sd)
        p_best_flat = probability_best_normal(x, np.sqrt(variances))
        prior_details = {"model": "normal-normal", "prior_mean": prior_n.mean, "tau2": prior_n.tau2,
                         "tau": float(np.sqrt(prior_n.tau2)), "at_boundary": prior_n.at_boundary}
        variance_floor = "unit variance shrunk to the pooled within-unit variance with 4 pseudo-responses"
    j, award = _claimed_index(summary, data)
    # Beyond FULL_RANKING_UNITS units the bootstrap over every pair of units is O(B·p²)
    # per unit: sets are computed for the claimed unit and the top of the table, and every
    # set uses Holm's step-down over its pairs instead of bootstrap critical values.
    full = p <= FULL_RANKING_UNITS
    ranked = np.arange(p) if full else np.union1d(np.argsort(-x, kind="stable")[:LISTED_RANK_SETS], [j])
    method = "bootstrap" if full else "holm"
    marginal = rank_confidence_sets(x, variances, rng=rng, coverage=COVERAGE, n_bootstrap=n_bootstrap,
                                    indices=ranked, method=method)
    joint = rank_confidence_sets(x, variances, rng=rng, coverage=COVERAGE, n_bootstrap=n_bootstrap,
                                 simultaneous=True, indices=ranked, method=method)
    could_be_best = tau_best_set(x, variances, rng=rng, tau=1, coverage=COVERAGE, n_bootstrap=n_bootstrap,
                                 method=method)
    shrunken_rank = estimated_ranks(posterior.mean)
    raw_rank = estimated_ranks(x)
    position = {int(i): pos for pos, i in enumerate(ranked)}

    def sets_of(i: int) -> tuple[list[int] | None, list[int] | None]:
        if i not in position:
            return None, None
        k = position[i]
        return [int(marginal.lower[k]), int(marginal.upper[k])], [int(joint.lower[k]), int(joint.upper[k])]

    sets = [sets_of(i) for i in range(p)]
    unit = str(summary.units[j])
    claimed_marginal, claimed_joint = sets[j]
    rank_ci = tuple(claimed_marginal)
    contenders = [str(u) for u in summary.units[could_be_best]]
    rubric = rank_status(float(p_best[j]), rank_ci, len(contenders))
    others = [u for u in contenders if u != unit]

    table = [{"unit": str(summary.units[i]), "n": int(n[i]), "raw": float(x[i]), "rank": int(raw_rank[i]),
              "shrunken": float(posterior.mean[i]), "shrunken_low": float(posterior.lower[i]),
              "shrunken_high": float(posterior.upper[i]), "shrunken_rank": int(shrunken_rank[i]),
              "rank_ci": sets[i][0], "rank_ci_simultaneous": sets[i][1],
              "p_best": float(p_best[i]), "p_best_flat": float(p_best_flat[i]),
              "could_be_best": bool(could_be_best[i])} for i in range(p)]
    table.sort(key=lambda row: (row["rank"], row["unit"]))

    low, high = rank_ci
    where = f"{ordinal(low)}" if low == high else f"anywhere from {ordinal(low)} to {ordinal(high)}"
    facts = (f"{unit} ({format_value(float(x[j]), metric)}, n = {int(n[j]):,}) ranks {where} of {p} "
             f"(95 % confidence set); probability it is truly best {_percent(float(p_best[j]))} "
             f"({_percent(float(p_best_flat[j]))} without shrinkage); ")
    if unit in contenders:
        facts += (f"{len(others)} other unit{'s are' if len(others) != 1 else ' is'} statistically "
                  f"indistinguishable from the top" if others else "no other unit could be the best")
    else:
        facts += f"it is significantly behind at least one unit; {len(contenders)} units could be the best"
    facts += f"; shrunken for sample size, it ranks {ordinal(int(shrunken_rank[j]))}."
    if award:
        status = rubric
        verdict = {"pass": " The award is supported by the data.",
                   "warn": " The lead is likely but not certain.",
                   "fail": " The data do not single out this winner."}[status]
        summary_text = facts + verdict
    else:
        status = "pass"
        summary_text = ("The claim names no winning unit, so no award is at stake. For reference, the top unit "
                        "of the league table: " + facts)
    details = {
        "unit_column": data.unit_column, "claimed_unit": unit, "award_claimed": award,
        "rank_ci": list(rank_ci), "rank_ci_simultaneous": claimed_joint,
        "rank": int(raw_rank[j]), "shrunken_rank": int(shrunken_rank[j]),
        "p_best": float(p_best[j]), "p_best_flat": float(p_best_flat[j]),
        "indistinguishable_units": contenders, "units_count": p, "rubric_status": rubric,
        "units": table, "prior": prior_details, "coverage": COVERAGE, "n_bootstrap": int(n_bootstrap),
        "variance_floor": variance_floor,
        "rank_sets_for": "every unit" if full else (f"the claimed unit and the top {LISTED_RANK_SETS} units "
                                                    f"(simultaneous over them); more than {FULL_RANKING_UNITS} units"),
        "method": ("Mogstad, Romano, Shaikh & Wilhelm (2024) rank confidence sets"
                   + (" (parametric bootstrap, step-down)" if full else
                      ", pairs established by Holm's step-down over each set's ordered pairs")
                   + "; tau-best set with tau = 1; P(best) by quadrature over the posteriors"),
    }
    return CheckResult("rank_uncertainty", status, RANK_TITLE, summary_text, statistic=float(high - low + 1),
                       p_value=None, effect_size=float(p_best[j]), details=details)


# ------------------------------------------------------------------------- funnel

def _grid(n: np.ndarray) -> np.ndarray:
    lo, hi = max(1.0, 0.8 * n.min()), max(2.0, 1.2 * n.max())
    return np.unique(np.round(np.geomspace(lo, hi, GRID_POINTS))).astype(int)


def _curves(grid: np.ndarray, limits: np.ndarray) -> dict[str, list[float]]:
    return {"n": grid.tolist(), "lower_95": limits[:, 0].tolist(), "upper_95": limits[:, 1].tolist(),
            "lower_998": limits[:, 2].tolist(), "upper_998": limits[:, 3].tolist()}


def chance_exceedance(count: int, units: int, rate: float) -> float:
    """P(at least ``count`` of ``units`` fall outside limits that each exclude ``rate`` by chance)."""
    return float(stats.binom.sf(count - 1, units, rate)) if count > 0 else 1.0


def funnel_status(alarms: int, alerts: int, units: int) -> str:
    """Multiplicity-aware rule (ours): under no real differences each unit falls outside the
    99.8 % limits with probability ≤ 0.002 and outside the 95 % limits with ≤ 0.05.
    fail: at least one alarm (99.8 %) outlier and P(Bin(I, 0.002) ≥ alarms) < 0.05;
    warn: any alarm outlier, or P(Bin(I, 0.05) ≥ alerts) < 0.05 (alerts include alarms);
    pass otherwise. Limits are the overdispersion-adjusted ones when φ is significant."""
    if alarms and chance_exceedance(alarms, units, 1 - ALARM_LEVEL) < ALPHA:
        return "fail"
    if alarms or (alerts and chance_exceedance(alerts, units, 1 - ALERT_LEVEL) < ALPHA):
        return "warn"
    return "pass"


def funnel_outliers(data: AuditData) -> CheckResult:
    """Which units differ from the pooled standard by more than chance, given their n?

    Funnel plot (Spiegelhalter 2005): target θ₀ = the pooled metric of all responses with a
    unit; limits at 95 % (alert) and 99.8 % (alarm): exact binomial with interpolation for
    top2box, normal on the mean (SD of all responses) for mean and NPS.

    Overdispersion (METHODS §7.2): φ from z-scores winsorised at 10 %/90 %, divided by its
    no-overdispersion expectation κ = 0.679 (`winsorised_square_expectation`; without it φ
    averages 0.68 on homogeneous units and real unit effects go unnoticed), tested as
    I·φ ~ χ²_{I−1}. When φ > 1 the limits become the additive random-effects ones
    θ₀ ± z·√(s² + τ²) (preferred to multiplicative limits for large n, METHODS §7.2), τ² in
    the DerSimonian-Laird form from the winsorised φ — so one extreme unit cannot widen
    the limits enough to hide itself. Unadjusted exact limits flag a unit only when its exact
    tail probability is below the level (`exact_funnel_flags`). Status: `funnel_status`.
    Seeded clean simulations (20 agents): fail in ~1-2 % of audits at 3 000 interactions,
    ~3-6 % at 20 000. ``statistic`` = number of alarm-level outliers, ``p_value`` = the
    chance of that many among I units, ``effect_size`` = φ.
    """
    summary = unit_summary(data)
    if summary is None:
        return not_applicable("funnel_outliers", FUNNEL_TITLE,
                              "The responses have no unit column (agent, team, site), so there is no funnel to draw.")
    units = summary.units.size
    if units < MIN_FUNNEL_UNITS:
        return not_applicable("funnel_outliers", FUNNEL_TITLE,
                              f"Only {units} unit(s) have responses; a funnel plot needs at least {MIN_FUNNEL_UNITS}.")
    metric = data.claim.metric
    n = summary.n
    values = summary.all_values
    target = float(values.mean())
    binomial = metric == "top2box"
    sd = None if binomial else float(np.std(values, ddof=1))
    bounds = (0.0, 1.0) if binomial else ((-100.0, 100.0) if metric == "nps" else tuple(map(float, data.scale)))
    x = summary.estimate
    if (binomial and target in (0.0, 1.0)) or (not binomial and not sd):
        return CheckResult("funnel_outliers", "pass", FUNNEL_TITLE,
                           f"Every response has the same value ({format_value(target, metric)}), so no unit can differ.",
                           details={"limits": {}, "outliers": [], "target": target, "units": []})
    spiegelhalter = overdispersion(x, n, target, sd=sd, winsor=WINSOR)
    disp = overdispersion(x, n, target, sd=sd, winsor=WINSOR, normal_consistent=True)
    raw = overdispersion(x, n, target, sd=sd, winsor=0.0)
    adjusted = disp.phi > 1 and disp.tau2 > 0
    method = "exact" if binomial else "normal"
    grid = _grid(n)
    base_grid = funnel_limits(grid, target, method=method, sd=sd, bounds=bounds)
    base_units = funnel_limits(n, target, method=method, sd=sd, bounds=bounds)
    if adjusted:
        used_units = adjusted_funnel_limits(n, target, disp, sd=sd, bounds=bounds)
        used_grid = adjusted_funnel_limits(grid, target, disp, sd=sd, bounds=bounds)
        low95, high95 = x < used_units[:, 0], x > used_units[:, 1]
        low998, high998 = x < used_units[:, 2], x > used_units[:, 3]
    else:
        used_units, used_grid = base_units, base_grid
        if binomial:
            y = np.round(summary.successes)
            low95, high95 = exact_funnel_flags(y, n, target, probability_low=ALERT_PROBABILITIES[0],
                                               probability_high=ALERT_PROBABILITIES[1])
            low998, high998 = exact_funnel_flags(y, n, target, probability_low=ALARM_PROBABILITIES[0],
                                                 probability_high=ALARM_PROBABILITIES[1])
        else:
            low95, high95 = x < used_units[:, 0], x > used_units[:, 1]
            low998, high998 = x < used_units[:, 2], x > used_units[:, 3]
    # Alarm-level units are alert-level too, whatever the rounding of the limits.
    low95, high95 = low95 | low998, high95 | high998

    per_unit, outliers = [], []
    for i in range(units):
        side = "high" if high95[i] else "low" if low95[i] else None
        level = ALARM_LEVEL if (high998[i] or low998[i]) else ALERT_LEVEL if side else None
        row = {"unit": str(summary.units[i]), "n": int(n[i]), "rate": float(x[i]), "z": float(disp.z[i]),
               "lower_95": float(used_units[i, 0]), "upper_95": float(used_units[i, 1]),
               "lower_998": float(used_units[i, 2]), "upper_998": float(used_units[i, 3]),
               "side": side, "level": level}
        per_unit.append(row)
        if side:
            outliers.append({k: row[k] for k in ("unit", "n", "rate", "side", "level", "z")})
    outliers.sort(key=lambda o: (-o["level"], -abs(o["z"])))
    alarms = sum(o["level"] == ALARM_LEVEL for o in outliers)
    alerts = len(outliers)
    status = funnel_status(alarms, alerts, units)
    p_alarms = chance_exceedance(alarms, units, 1 - ALARM_LEVEL)
    p_alerts = chance_exceedance(alerts, units, 1 - ALERT_LEVEL)

    limit_name = ("exact binomial (Spiegelhalter 2005, interpolated)" if binomial
                  else "normal, SD of all responses")
    adjustment = ("additive random effects: theta0 ± z·sqrt(s² + tau²), tau² from winsorised z (DerSimonian-Laird form)"
                  if adjusted else "none (overdispersion not significant)")
    limits: dict[str, Any] = {"target": target, "method": limit_name, "adjustment": adjustment,
                              "grid": _curves(grid, used_grid), "units": per_unit}
    if adjusted:
        limits["grid_unadjusted"] = _curves(grid, base_grid)

    named = [f"{o['unit']} {o['side']}" for o in outliers if o["level"] == ALARM_LEVEL][:6]
    alerted = [f"{o['unit']} {o['side']}" for o in outliers if o["level"] == ALERT_LEVEL][:6]
    standard = f"the pooled {format_value(target, metric)}"
    spread = (f" The units spread more than sampling noise alone (φ = {disp.phi:.2f}, {format_p(disp.p_value)}), "
              f"so the limits allow for a between-unit SD of τ = {format_points(float(np.sqrt(disp.tau2)), metric)}."
              if adjusted else
              f" Their spread is compatible with sampling noise (φ = {disp.phi:.2f}, {format_p(disp.p_value)}).")
    if status == "fail":
        text = (f"{alarms} of {units} units are outside the 99.8 % control limits around {standard} "
                f"({', '.join(named)}): more than chance allows among {units} units "
                f"({format_p(p_alarms)}).")
    elif alarms:
        text = (f"{', '.join(named)} {'is' if alarms == 1 else 'are'} outside the 99.8 % limits around {standard}; "
                f"among {units} units that many can happen by chance ({format_p(p_alarms)}), so treat it as an alert.")
    elif alerts:
        verdict = ("more than the" if p_alerts < ALPHA else "in line with the")
        text = (f"No unit is outside the 99.8 % limits around {standard}; {alerts} of {units} "
                f"({', '.join(alerted)}) {'is' if alerts == 1 else 'are'} outside the 95 % limits, {verdict} "
                f"{0.05 * units:.1f} expected by chance.")
    else:
        text = f"All {units} units are inside the 95 % funnel limits around {standard}."
    text += spread
    claimed = None
    if data.claim.type == "best_unit":
        row = next(r for r in per_unit if r["unit"] == str(data.claim.unit))
        claimed = {"unit": row["unit"], "side": row["side"], "level": row["level"]}
        position = (f"above the {100 * row['level']:g} % limit" if row["side"] == "high" else
                    f"below the {100 * row['level']:g} % limit" if row["side"] == "low" else "inside the 95 % limits")
        text += f" The claimed winner {row['unit']} is {position}."
        if row["side"] == "high":
            text += " Exceptional performance and inflated ratings look alike here: see score_inflation."
    details = {
        "limits": limits, "outliers": outliers, "target": target, "metric": metric,
        "phi": disp.phi, "phi_chi2": disp.chi2, "phi_dof": disp.dof, "phi_p_value": disp.p_value,
        "tau2": disp.tau2, "tau": float(np.sqrt(disp.tau2)), "winsor": WINSOR,
        "winsor_bounds": list(disp.winsor_bounds), "overdispersed": bool(adjusted),
        "phi_unwinsorised": raw.phi, "tau2_unwinsorised": raw.tau2,
        "phi_spiegelhalter": spiegelhalter.phi, "tau2_spiegelhalter": spiegelhalter.tau2,
        "phi_consistency_factor": winsorised_square_expectation(WINSOR),
        "alarms": alarms, "alerts": alerts, "units_count": units,
        "p_alarms_by_chance": p_alarms, "p_alerts_by_chance": p_alerts,
        "claimed_unit": claimed,
        "rule": ("fail: alarm (99.8 %) outliers with P(Bin(I, 0.002) >= count) < 0.05; warn: any alarm, or alert "
                 "(95 %) outliers with P(Bin(I, 0.05) >= count) < 0.05"),
    }
    return CheckResult("funnel_outliers", status, FUNNEL_TITLE, text, statistic=float(alarms), p_value=p_alarms,
                       effect_size=disp.phi, details=details)
