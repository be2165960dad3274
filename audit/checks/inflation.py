"""Is a unit gaming its survey? Check `score_inflation` (METHODS.md §8.7).

Survey begging ("please give me a 5"), offering the survey only after good calls and
padding the ratings leave footprints that genuine excellence does not leave all at once.
Each footprint is a *signal*, tested for every unit against its peers:

=====================  ==================================================================
signal                 test (one-sided, per unit; p-values Holm-adjusted across units)
=====================  ==================================================================
``top_box``            top-box share above the pooled share, allowing for genuine
                       between-unit spread: exact binomial tail when the units are not
                       overdispersed, else z = (p̂ − θ₀)/√(θ₀(1−θ₀)/n + τ²) with τ² the
                       funnel's additive random-effects variance (Spiegelhalter 2005).
``maximum_scores``     share of the scale's maximum among top-box answers (5s among 4-5,
                       10s among 9-10) above the peers' pooled share: binomial tail
                       (`scipy.stats.binomtest`, METHODS §8.7 item 2), overdispersion as above.
``selective_offers``   invited interactions "too good": the unit's difference in predicted
                       satisfaction between invited and not-invited interactions exceeds
                       the peers' difference (two-sample z). Predicted satisfaction is a
                       linear-probability model of the top box on the interaction covariates,
                       fitted on the respondents, so only outcome-related covariates count.
``response_rate``      the unit's response rate among its invited interactions above its
                       peers': hypergeometric (one-sided Fisher exact) tail, or, when units
                       differ beyond chance (case mix, keen customers), the random-effects z
                       as for ``top_box``.
``repeat_ratings``     from `duplicate_responses`: repeat-rater excess (Holm p < 0.05) or a
                       survey link of the unit answered ≥ 3 times.
``burst``              from `timing_anomalies`: a material burst of the unit's responses.
``copied_answers``     from `near_duplicates`: a material cluster of copied answer grids in
                       the unit.
=====================  ==================================================================

A statistical signal (the first four) *fires* when its Holm-adjusted p-value is below
0.05: across units, each family has a family-wise error of at most 5 %. The last three
fire when their own check found material evidence for the unit. How they are combined
(never accuse on one weak signal): each signal reads one source of data — scores
(``top_box``, ``maximum_scores``), invitations, responses, ids, times, answer grids — and a
unit is named a *suspect* (the check fails) only when signals from at least two different
sources fire. Under no gaming different sources are independent, so the chance that one
unit fires two of them is of the order of 0.05²/I per pair; two signals from the scores
alone (a genuinely good unit has both) never suffice. A unit with one source is listed for
follow-up ("watch list") and warns only when it is the claimed winner.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from audit.checks.bias import covariate_frame
from audit.data import AuditData, interaction_positions
from audit.headline import metric_variable
from audit.integrity import excess_tests, holm_adjust
from audit.ranking import overdispersion
from audit.results import CheckResult, not_applicable
from audit.weighting import category_positions

TITLE = "Score inflation"
ALPHA = 0.05                      # Holm family-wise level per signal
MIN_SOURCES = 2                   # a suspect needs signals from this many different sources of data
MIN_RESPONSES = 5                 # a unit with fewer responses is not tested on its scores
MIN_GROUP = 2                     # invited and not-invited interactions needed per unit
WINSOR = 0.10
FIT_BLOCK_ROWS = 131_072           # rows of the satisfaction model's design built at a time
COUNT_COLUMNS = {"responses", "top_box", "maximum", "interactions", "invited", "responded"}
STATISTICAL = ("top_box", "maximum_scores", "selective_offers", "response_rate")
FROM_CHECKS = ("repeat_ratings", "burst", "copied_answers")
# the data each signal reads: two signals from one source (a genuinely good unit has both a
# high top-box share and many maximum scores) count once
SOURCE = {"top_box": "scores", "maximum_scores": "scores", "selective_offers": "invitations",
          "response_rate": "responses", "repeat_ratings": "ids", "burst": "times", "copied_answers": "answer grids"}
SIGNAL_TEXT = {
    "top_box": "top-box share above its peers beyond their genuine spread",
    "maximum_scores": "an excess of maximum scores among its top-box answers",
    "selective_offers": "surveys offered after better-than-usual interactions",
    "response_rate": "a response rate above its peers'",
    "repeat_ratings": "repeat raters or a re-used survey link",
    "burst": "a burst of responses within minutes",
    "copied_answers": "copied answer patterns",
}


def excess_p_values(successes: np.ndarray, trials: np.ndarray, target: np.ndarray | float,
                    tau2: float = 0.0) -> np.ndarray:
    """One-sided p-values that each unit's share exceeds ``target``.

    tau2 = 0: exact binomial upper tail P(X ≥ x | n, θ₀) (as
    `scipy.stats.binomtest(x, n, θ₀, alternative="greater")`); tau2 > 0: normal tail of
    z = (x/n − θ₀)/√(θ₀(1−θ₀)/n + τ²), the additive random-effects allowance for genuine
    between-unit differences (Spiegelhalter 2005 §5.2).
    """
    x, n = np.asarray(successes, dtype=float), np.asarray(trials, dtype=float)
    theta = np.broadcast_to(np.asarray(target, dtype=float), x.shape)
    if tau2 <= 0:
        return stats.binom.sf(x - 1, n, theta)
    z = (x / n - theta) / np.sqrt(theta * (1 - theta) / n + tau2)
    return stats.norm.sf(z)


def _between_unit_variance(successes: np.ndarray, trials: np.ndarray, target: float) -> float:
    """τ² of the funnel's random-effects limits (0 when the units are not overdispersed)."""
    if successes.size < 3 or not 0 < target < 1:
        return 0.0
    disp = overdispersion(successes / trials, trials, target, winsor=WINSOR, normal_consistent=True)
    return disp.tau2 if disp.phi > 1 else 0.0


def _holm(p: pd.Series) -> pd.Series:
    tested = p.dropna()
    return pd.Series(holm_adjust(tested.to_numpy()) if len(tested) else [], index=tested.index).reindex(p.index)


def score_signals(units: pd.Series, scores: pd.Series, scale: tuple[float, float]) -> pd.DataFrame:
    """Per unit: the `top_box` and `maximum_scores` signals (counts, raw and Holm p-values)."""
    top = pd.Series(metric_variable(scores, "top2box", scale), index=scores.index)
    frame = pd.DataFrame({"unit": units, "top": top, "max": (scores >= scale[1]).astype(float)}).dropna()
    g = frame.groupby("unit", sort=True)
    out = pd.DataFrame({"responses": g.size(), "top_box": g["top"].sum()})
    out = out[out["responses"] >= MIN_RESPONSES]
    if len(out) < 2:
        return out.assign(p_top_box=np.nan, p_maximum_scores=np.nan)
    theta = out["top_box"].sum() / out["responses"].sum()
    tau2 = _between_unit_variance(out["top_box"].to_numpy(), out["responses"].to_numpy(float), theta)
    out["top_box_share"] = out["top_box"] / out["responses"]
    out["p_top_box"] = (excess_p_values(out["top_box"].to_numpy(), out["responses"].to_numpy(), theta, tau2)
                        if 0 < theta < 1 else np.nan)
    # maximum scores among the top box: meaningless when the top box is one scale point
    out["maximum"] = frame[frame["top"] == 1].groupby("unit")["max"].sum().reindex(out.index).fillna(0)
    k, n = out["maximum"].to_numpy(), out["top_box"].to_numpy(float)
    ok = n > 0
    if scale[1] - scale[0] > 1 and ok.sum() >= 2:
        peers = (k[ok].sum() - k) / (n[ok].sum() - n)
        pooled = k[ok].sum() / n[ok].sum()
        tau2_max = _between_unit_variance(k[ok], n[ok], pooled)
        valid = ok & (peers > 0) & (peers < 1)
        p = np.full(k.size, np.nan)
        p[valid] = excess_p_values(k[valid], n[valid], peers[valid], tau2_max)
        out["p_maximum_scores"] = p
        out["maximum_share"] = np.where(ok, k / np.maximum(n, 1), np.nan)
    else:
        out["p_maximum_scores"] = np.nan
    return out


def _satisfaction_design(covs: pd.DataFrame, categorical: list[str], numeric: list[str],
                         levels: dict[str, list], width: int) -> np.ndarray:
    """Intercept, treatment-coded levels (first level the reference) and numeric covariates."""
    x = np.empty((len(covs), width))
    x[:, 0] = 1.0
    j = 1
    for c in categorical:
        position = category_positions(covs[c], levels[c])   # −1: a level the cells lack
        for k in range(1, len(levels[c])):
            x[:, j] = position == k
            j += 1
    for c in numeric:
        x[:, j] = covs[c].to_numpy(float)
        j += 1
    return x


def satisfaction_model(data: AuditData, categorical: list[str], numeric: list[str]) -> dict | None:
    """How good was an interaction, judging by its covariates? Returns the fitted terms,
    {"intercept": β0, "levels": {covariate: {level: β}}, "slopes": {covariate: β}} (top-box probability units).

    Linear probability model of the top-box indicator, fitted by least squares on the
    interactions that have a response (score linked by interaction_id; categorical
    covariates treatment-coded on the population's levels). Used only to order interactions
    by how good they were, so the identity link's known flaws (predictions outside [0, 1])
    do not matter; it has no convergence failures and one fit serves all units.
    """
    pop, resp = data.population, data.responses
    if "interaction_id" not in resp.columns or not (categorical or numeric):
        return None
    # the two columns only: dropping rows from the whole responses table copies all of it
    score = (resp[["interaction_id", "score"]].dropna(subset=["interaction_id"]).drop_duplicates("interaction_id")
             .set_index("interaction_id")["score"])
    rows = pop.linked
    at = interaction_positions(rows["interaction_id"], score.index.to_series())
    fit_rows = np.flatnonzero(at >= 0)
    levels = {c: sorted(pop.cells.keys[c].unique()) for c in categorical}
    width = 1 + sum(len(levels[c]) - 1 for c in categorical) + len(numeric)
    if fit_rows.size <= width:
        return None
    y = metric_variable(score.to_numpy()[at[fit_rows]], "top2box", data.scale)
    # least squares through the R of a QR factorisation of [X | y], grown block by block
    # (Golub & Van Loan 2013, §5.3): the whole design of a million rows held 0.2 GB, and its
    # covariates as text as much again; R holds what least squares needs of them
    r = np.zeros((0, width + 1))
    for lo in range(0, fit_rows.size, FIT_BLOCK_ROWS):
        take = slice(lo, lo + FIT_BLOCK_ROWS)
        covs = covariate_frame(rows.iloc[fit_rows[take]], categorical, numeric)
        block = np.column_stack([_satisfaction_design(covs, categorical, numeric, levels, width), y[take]])
        r = np.linalg.qr(np.vstack([r, block]), mode="r")
    # ‖Xβ − y‖² = ‖R₁β − z‖² + const: the same minimisers (and minimum-norm one) as on X; the
    # cut-off for small singular values is lstsq's own on X (ε·max(rows, columns))
    beta, *_ = np.linalg.lstsq(r[:width, :width], r[:width, width],
                               rcond=np.finfo(float).eps * max(fit_rows.size, width))
    terms, j = {"intercept": float(beta[0]), "levels": {}, "slopes": {}}, 1
    for c in categorical:
        terms["levels"][c] = {levels[c][0]: 0.0}
        for level in levels[c][1:]:
            terms["levels"][c][level], j = float(beta[j]), j + 1
    for c in numeric:
        terms["slopes"][c], j = float(beta[j]), j + 1
    return terms


def satisfaction_moments(data: AuditData, terms: dict) -> pd.DataFrame:
    """Per unit × invited: interactions, Σs and the sample variance of the predicted satisfaction
    s = β0 + Σ β_level + Σ β_x·x, from the population's per-cell moments (no row needed):
    with d = x − shift, Σs = n·a + b·Σd and Σs² = n·a² + 2a·b·Σd + bᵀ(Σdd')b."""
    pop = data.population
    cells, numeric = pop.offer_cells, list(pop.offer_numeric)
    shift = pop.cells.shift
    b = np.array([terms["slopes"][c] for c in numeric])
    a = np.full(len(cells), terms["intercept"] + float(np.dot(b, [shift[c] for c in numeric])) if numeric else
                terms["intercept"])
    for c, coefs in terms["levels"].items():
        a = a + cells[c].map(coefs).to_numpy(float)
    n = cells["n"].to_numpy(float)
    total, square = n * a, n * a * a
    for i in range(len(numeric)):
        d_i = cells[f"s{i}"].to_numpy(float)
        total = total + b[i] * d_i
        square = square + 2 * a * b[i] * d_i
        for j in range(i, len(numeric)):
            m = cells[f"x{i}_{j}"].to_numpy(float)
            square = square + (1 if i == j else 2) * b[i] * b[j] * m
    frame = pd.DataFrame({"unit": cells["unit"], "inv": cells["invited"].to_numpy() == 1,
                          "size": n, "sum": total, "sumsq": square})
    out = frame.groupby(["unit", "inv"]).sum()
    out["var"] = (out["sumsq"] - out["sum"] ** 2 / out["size"]) / (out["size"] - 1)
    return out


def offer_signals(data: AuditData) -> pd.DataFrame | None:
    """Per unit: `selective_offers` and `response_rate` signals, or None without an
    interactions table carrying the unit and the invitations."""
    pop = data.population
    if pop is None or pop.units is None:
        return None
    out = pop.units[["interactions", "invited", "responded"]].copy()
    out["invitation_rate"] = out["invited"] / out["interactions"]
    out["response_rate"] = out["responded"] / out["invited"].where(out["invited"] > 0)
    # response rate vs peers: when units differ beyond chance (case mix, keen customers), the
    # random-effects z; otherwise the hypergeometric tail (one-sided Fisher exact)
    testable = out["invited"] > 0
    total_inv, total_resp = int(out["invited"].sum()), int(out["responded"].sum())
    pooled = total_resp / total_inv if total_inv else 0.0
    tau2 = _between_unit_variance(out.loc[testable, "responded"].to_numpy(float),
                                  out.loc[testable, "invited"].to_numpy(float), pooled)
    if tau2 > 0:
        p = excess_p_values(out["responded"].to_numpy(float), out["invited"].clip(lower=1).to_numpy(float),
                            pooled, tau2)
    else:
        p = excess_tests(out["responded"].to_numpy(), out["invited"].to_numpy())
    out["p_response_rate"] = np.where(testable, p, np.nan)
    out.attrs["response_rate_tau2"] = tau2

    out["p_selective_offers"] = np.nan
    model = None
    if pop.offer_cells is not None:
        cats = [c for c in pop.offer_cells.columns if c in data.categorical]
        model = satisfaction_model(data, cats, list(pop.offer_numeric))
    if model is None or total_inv in (0, int(out["interactions"].sum())):
        return out
    stats_by = satisfaction_moments(data, model).unstack("inv")
    n1, n0 = stats_by[("size", True)].fillna(0), stats_by[("size", False)].fillna(0)
    sum1, sum0 = stats_by[("sum", True)].fillna(0), stats_by[("sum", False)].fillna(0)
    ok = (n1 >= MIN_GROUP) & (n0 >= MIN_GROUP)
    d_unit = sum1 / n1 - sum0 / n0
    # peers: every other unit pooled (means and variances from totals)
    sq1, sq0 = stats_by[("sumsq", True)].fillna(0), stats_by[("sumsq", False)].fillna(0)
    p_n1, p_n0 = n1.sum() - n1, n0.sum() - n0
    p_s1, p_s0 = sum1.sum() - sum1, sum0.sum() - sum0
    p_q1, p_q0 = sq1.sum() - sq1, sq0.sum() - sq0
    ok &= (p_n1 >= MIN_GROUP) & (p_n0 >= MIN_GROUP)
    peer_var1 = (p_q1 - p_s1**2 / p_n1) / (p_n1 - 1)
    peer_var0 = (p_q0 - p_s0**2 / p_n0) / (p_n0 - 1)
    d_peers = p_s1 / p_n1 - p_s0 / p_n0
    se = np.sqrt(stats_by[("var", True)] / n1 + stats_by[("var", False)] / n0 + peer_var1 / p_n1 + peer_var0 / p_n0)
    z = (d_unit - d_peers) / se
    out["satisfaction_gap"] = d_unit.reindex(out.index)
    out["peer_satisfaction_gap"] = d_peers.reindex(out.index)
    out["p_selective_offers"] = pd.Series(np.where(ok & (se > 0), stats.norm.sf(z), np.nan),
                                          index=z.index).reindex(out.index)
    return out


def evidence_from_checks(checks: Mapping[str, CheckResult], data: AuditData) -> dict[str, set[str]]:
    """Units with material evidence in the response-level checks, by signal."""
    found: dict[str, set[str]] = {s: set() for s in FROM_CHECKS}
    dup = checks.get("duplicate_responses")
    if dup is not None and dup.status != "not_applicable":
        for u, entry in dup.details.get("per_unit", {}).items():
            if entry.get("p_holm", 1.0) < ALPHA:
                found["repeat_ratings"].add(str(u))
        reused = dup.details.get("reused_interactions", {})
        if reused and data.unit_column in data.responses.columns:
            resp = data.responses
            owners = resp.loc[resp["interaction_id"].isin(list(reused)), data.unit_column].dropna()
            found["repeat_ratings"].update(owners.astype(str))
    timing = checks.get("timing_anomalies")
    if timing is not None:
        found["burst"].update(str(b["unit"]) for b in timing.details.get("bursts", [])
                              if b.get("material") and b.get("unit") is not None)
    near = checks.get("near_duplicates")
    if near is not None and near.details.get("grouping") == data.unit_column:
        found["copied_answers"].update(str(c["group"]) for c in near.details.get("flagged", []) if c.get("material"))
    return found


def score_inflation(data: AuditData, checks: Mapping[str, CheckResult]) -> CheckResult:
    """Which units show signs of survey begging or gaming, from at least two independent sources?

    ``checks``: the results of `duplicate_responses`, `timing_anomalies` and
    `near_duplicates` on the same data (their unit-level findings are signals here).
    ``statistic`` = number of suspect units; ``p_value`` = the smallest Holm-adjusted
    p-value among the suspects' statistical signals; ``effect_size`` = the largest number
    of signals on one unit.
    """
    unit = data.unit_column
    if unit is None or unit not in data.responses.columns:
        return not_applicable("score_inflation", TITLE,
                              "The responses have no unit column (agent, team, site), so no unit can be compared "
                              "with its peers.")
    resp = data.responses
    units = resp[unit].astype("string")
    table = score_signals(units, resp["score"], data.scale)
    offers = offer_signals(data)
    response_tau2 = None
    if offers is not None:
        response_tau2 = offers.attrs.get("response_rate_tau2")
        table = table.join(offers, how="outer")
    if len(table) < 2:
        return not_applicable("score_inflation", TITLE,
                              f"Only {len(table)} unit(s) have at least {MIN_RESPONSES} responses; begging shows "
                              "only against peers.")
    tested = [s for s in STATISTICAL if f"p_{s}" in table.columns and table[f"p_{s}"].notna().any()]
    for s in tested:
        table[f"p_holm_{s}"] = _holm(table[f"p_{s}"])
    evidence = evidence_from_checks(checks, data)
    # the table's rows as plain dicts, read once: a lookup per unit and column costs seconds
    rows = dict(zip(table.index.astype(str), table.to_dict("records")))
    fired: dict[str, list[str]] = {}
    for u, row in rows.items():
        signals = [s for s in tested if row[f"p_holm_{s}"] < ALPHA]
        signals += [s for s in FROM_CHECKS if u in evidence[s]]
        if signals:
            fired[u] = signals

    def entry(u: str) -> dict[str, Any]:
        values = {str(k): int(v) if k in COUNT_COLUMNS else float(v) for k, v in rows[u].items() if pd.notna(v)}
        signals = fired.get(u, [])
        return {"unit": u, "signals": signals, "evidence": "; ".join(SIGNAL_TEXT[s] for s in signals), **values}

    def sources(u: str) -> int:
        return len({SOURCE[s] for s in fired[u]})

    suspects = sorted((u for u in fired if sources(u) >= MIN_SOURCES), key=lambda u: (-len(fired[u]), u))
    watch = sorted((u for u in fired if sources(u) < MIN_SOURCES), key=str)
    claimed = str(data.claim.unit) if data.claim.type == "best_unit" else None
    claimed_signals = fired.get(claimed, []) if claimed else []
    if suspects:
        status = "fail"
    elif claimed_signals:
        status = "warn"
    else:
        status = "pass"
    per_unit = {str(u): entry(str(u)) for u in table.index}
    suspect_entries = [per_unit[u] for u in suspects]
    if suspects:
        text = "; ".join(f"{e['unit']} ({e['evidence']})" for e in suspect_entries[:5])
        summary = (f"{len(suspects)} unit(s) show independent signs of survey begging or "
                   f"gaming: {text}.")
        if len(suspects) > 5:
            summary += f" And {len(suspects) - 5} more."
    elif claimed_signals:
        summary = (f"The claimed winner {claimed} shows one sign of gaming ({per_unit[claimed]['evidence']}); one signal "
                   "alone is not evidence of begging, but it is worth a look.")
    else:
        summary = (f"No unit shows signs of survey begging or gaming from two independent sources among {len(table)} units "
                   f"(signals tested: {', '.join(tested + list(FROM_CHECKS)) or 'none'}).")
    if watch and status != "warn":
        summary += f" {len(watch)} unit(s) show signals from one source only (watch list, not an accusation)."
    untested = [s for s in STATISTICAL if s not in tested]
    p_sus = [table.at[u, f"p_holm_{s}"] for u in suspects for s in tested if s in fired[u]]
    details = {
        "suspect_units": suspect_entries,
        "watch_list": [per_unit[u] for u in watch],
        "claimed_unit": None if claimed is None else {"unit": claimed, "signals": claimed_signals},
        "signals_tested": tested + list(FROM_CHECKS),
        "signals_not_testable": untested,
        "units": int(len(table)),
        "response_rate_between_unit_variance": response_tau2,
        "rule": (f"a unit is a suspect when signals from at least {MIN_SOURCES} different sources of data fire "
                 f"({', '.join(sorted(set(SOURCE.values())))}); statistical signals fire at "
                 f"Holm-adjusted p < {ALPHA} across units, the others when their own check found material "
                 "evidence for the unit; fail: any suspect; warn: the claimed winner has one signal"),
        "per_unit": per_unit,
    }
    if data.population is not None and data.population.offer_left_out:
        details["selective_offers_covariates_left_out"] = list(data.population.offer_left_out)
    return CheckResult("score_inflation", status, TITLE, summary, statistic=float(len(suspects)),
                       p_value=float(min(p_sus)) if p_sus else None,
                       effect_size=float(max((len(s) for s in fired.values()), default=0)), details=details)
