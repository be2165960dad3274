"""Are the answers real? Response-level integrity checks.

Checks `duplicate_responses`, `near_duplicates`, `timing_anomalies`, `straightlining` and
`speeding` (SPEC ids; METHODS.md §8 and §9.3). Statistics live in `audit.integrity`.

Calibration principle: genuine CSAT data contain many "suspicious-looking" rows (all-top
answer grids, respondents matching another on ≥ 85 % of items, customers who answer
several surveys, busy hours). A check therefore fails only on strong, specific evidence:
a unit whose excess over its peers survives a family-wise (Holm / Tarone) correction and
is material, or rows that cannot be genuine (submitted days before the interaction, one
survey link answered again and again). Weaker evidence warns. The seeded calibration
tests (tests/test_fraud.py) check that clean simulated audits fail each check in ≤ 5 % of
runs and that each planted flaw is flagged in ≥ 90 %.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.contingency import rate_homogeneity_test
from audit.data import AuditData, claim_responses, has_interaction_times
from audit.headline import format_points, format_value, metric_range, metric_variable
from audit.integrity import (
    MPM_THRESHOLD,
    bh_adjust,
    burst_test,
    clock_offset,
    holm_adjust,
    label_codes,
    longstring,
    max_percent_match,
    near_duplicate_clusters,
    repeat_raters,
    speeders,
    straightlined,
    stratified_excess_tests,
)
from audit.metrics import wilson_interval
from audit.results import CheckResult, not_applicable

ALPHA = 0.05
UNIT_FAIL_ALPHA = 0.01            # naming a unit is an accusation: Holm family-wise error 1 %
MAX_ROWS_LISTED = 20              # source rows listed per finding
HOMOGENEITY_SIMULATIONS = 2_000   # Monte Carlo tables for the per-unit homogeneity test
MISSING_UNIT = "(missing)"

# duplicate_responses
REPEAT_MIN_RESPONSES = 4          # one customer rating one unit this often ...
REPEAT_WINDOW_DAYS = 30.0         # ... within this many days is a repeat rater
LINK_REUSE_FAIL = 3               # one interaction answered this often: a re-used survey link
METRIC_CHANGE_FAIL = 0.02         # share of the metric's range (2 points of a share)

# near_duplicates
MIN_ITEMS_NEAR_DUPLICATES = 5     # Simmons et al. (2016): with fewer items matches are common by chance
MIN_CLUSTER_SIZE = 5
MIN_CLUSTER_RATIO = 3.0           # observed / expected rows near the pattern

# timing_anomalies
CLOCK_SKEW_TOLERANCE_S = 120.0
BEFORE_FAIL_MIN_ROWS = 3
BEFORE_FAIL_MIN_SHARE = 0.001
BURST_WINDOW_S = 600.0
BURST_MIN_SIZE = 5                # fail needs at least this many responses in the window
BURST_MIN_WARN_SIZE = 3           # two responses close together are never a burst
BURST_MIN_RATIO = 2.0             # observed count / null 99th percentile
SHORT_LAG_S = 60.0
LONG_LAG_S = 30 * 86400.0

# straightlining / speeding
MIN_ITEMS_STRAIGHTLINING = 3
MIN_ITEMS_MIDSCALE_RULE = 5
MIDSCALE_WARN_SHARE = 0.01
MIDSCALE_FAIL_LOWER_BOUND = 0.02
SPEED_FRACTION = 0.3              # threshold = 0.3 × median duration (METHODS §8.4, strict rule)
SPEEDING_WARN_SHARE = 0.02
SPEEDING_FAIL_LOWER_BOUND = 0.05
MIN_FLAGGED_IN_UNIT = 5
MIN_UNIT_RATE_RATIO = 2.0


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _item_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).startswith("q_") and pd.api.types.is_numeric_dtype(frame[c])]


def _unit_labels(data: AuditData, frame: pd.DataFrame) -> pd.Series | None:
    if data.unit_column is None or data.unit_column not in frame.columns:
        return None
    return frame[data.unit_column].astype("string").fillna(MISSING_UNIT).astype(str)


def _label_array(labels: pd.Series) -> np.ndarray:
    """`labels.to_numpy()` (no missing values) with each distinct label one shared Python string:
    the plain conversion makes a string per row (~70 MB for a million unit labels)."""
    codes, distinct = pd.factorize(labels)
    return np.asarray(distinct, dtype=object)[codes]


def _seconds(series: pd.Series) -> np.ndarray:
    """UTC datetimes as float seconds since 1970 (NaN for missing)."""
    ts = pd.to_datetime(series, utc=True, errors="coerce")
    return (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)


def _rows(frame: pd.DataFrame, mask: np.ndarray | pd.Series) -> list[int]:
    return [int(r) for r in frame.loc[np.asarray(mask, dtype=bool), "_source_row"].head(MAX_ROWS_LISTED)]


def _metric(frame: pd.DataFrame, data: AuditData) -> float:
    scores = frame["score"].dropna().to_numpy(dtype=float)
    if scores.size == 0:
        return float("nan")
    return float(np.mean(metric_variable(scores, data.claim.metric, data.scale)))


def _metric_without(data: AuditData, excluded: pd.Index) -> dict[str, Any]:
    """The claimed metric on the claim's responses, with and without the excluded rows."""
    claimed = claim_responses(data)[["score"]]          # dropping rows copies every column kept
    kept = claimed.drop(index=claimed.index.intersection(excluded))
    with_rows, without_rows = _metric(claimed, data), _metric(kept, data)
    change = without_rows - with_rows
    return {"metric": data.claim.metric, "with": with_rows, "without": without_rows, "change": change,
            "relative_to_range": abs(change) / metric_range(data.claim.metric, data.scale)
            if np.isfinite(change) else None,
            "responses_removed": int(len(claimed) - len(kept))}


def _unit_excess(flags: np.ndarray, units: pd.Series, rng: np.random.Generator,
                 strata: pd.Series | None = None) -> dict[str, Any]:
    """Per unit: flagged/rows, exact one-sided test of excess over all other units (within
    `strata` when given), Holm and BH across units.

    Units whose excess survives Holm at UNIT_FAIL_ALPHA and is material (≥ MIN_FLAGGED_IN_UNIT
    rows and observed ≥ MIN_UNIT_RATE_RATIO × expected) are `strong`; BH-significant (0.05)
    ones `weak`. Genuine units differ a little (agents' customers are not equally happy),
    hence the stricter level for naming one.
    """
    test = stratified_excess_tests(flags, units, strata)
    x, n = np.array(test.observed), np.array(test.trials)
    out: dict[str, Any] = {"per_unit": {}, "strong": [], "weak": [], "homogeneity": None,
                           "stratified_by": None if strata is None else strata.name}
    if len(test.labels) < 2:
        for label, xi, ni in zip(test.labels, x, n):
            out["per_unit"][label] = {"flagged": int(xi), "responses": int(ni), "share": float(xi / ni)}
        return out
    homogeneity = rate_homogeneity_test(x, n, test.labels, rng=rng, n_simulations=HOMOGENEITY_SIMULATIONS)
    out["homogeneity"] = {"chi2": homogeneity.chi2, "dof": homogeneity.dof, "p_value": homogeneity.p_value,
                          "method": homogeneity.method, "cramers_v": homogeneity.cramers_v}
    p = np.array(test.p_values)
    holm, bh = holm_adjust(p), bh_adjust(p)
    for i, label in enumerate(test.labels):
        expected = test.expected[i]
        ratio = x[i] / expected if expected > 0 else (float("inf") if x[i] > 0 else float("nan"))
        material = x[i] >= MIN_FLAGGED_IN_UNIT and ratio >= MIN_UNIT_RATE_RATIO
        out["per_unit"][label] = {"flagged": int(x[i]), "responses": int(n[i]), "share": float(x[i] / n[i]),
                                  "expected": float(expected), "ratio_to_expected": float(ratio),
                                  "p_excess": float(p[i]), "p_holm": float(holm[i]), "p_bh": float(bh[i])}
        if holm[i] < UNIT_FAIL_ALPHA and material:
            out["strong"].append(label)
        elif bh[i] < ALPHA:
            out["weak"].append(label)
    return out


def _score_strata(resp: pd.DataFrame) -> pd.Series:
    """Each response's score as text (missing: MISSING_UNIT), the strata of the within-score
    unit tests: `score.astype("string")` of one response per distinct score (told apart by
    their bits, as their text tells 0.0 from -0.0), not of a million floats."""
    score = resp["score"]
    distinct = pd.factorize(score.to_numpy(dtype=float).view(np.int64))[0]
    example = np.empty(distinct.max(initial=-1) + 1, dtype=np.int64)
    example[distinct] = np.arange(distinct.size)        # any response with that score
    text = score.iloc[example].astype("string").fillna(MISSING_UNIT).to_numpy(dtype=object)
    return pd.Series(text[distinct], index=resp.index, name="score")


def _unit_excess_within_score(data: AuditData, flags: np.ndarray, rows: np.ndarray,
                              rng: np.random.Generator) -> dict[str, Any] | None:
    """`_unit_excess` of the flagged responses among `rows`, each unit compared with its peers
    at the same score (genuine delighted respondents straight-line and rush more); None
    without a unit column."""
    resp = data.responses
    units = _unit_labels(data, resp)
    if units is None:
        return None
    return _unit_excess(flags[rows], units[rows], rng, _score_strata(resp)[rows])


def _status(strong: bool, weak: bool) -> str:
    return "fail" if strong else ("warn" if weak else "pass")


# --------------------------------------------------------------------------------------
# duplicate_responses
# --------------------------------------------------------------------------------------
def duplicate_responses(data: AuditData, rng: np.random.Generator) -> CheckResult:
    """Is the same response, interaction or customer counted more than once?

    (a) a response_id seen before; (b) an interaction answered more than once (a re-used
    survey link); (c) ballot stuffing: one customer rating one unit repeatedly. For (c),
    when the interactions table carries customer_id, a customer's responses about a unit
    beyond their interactions with it (or answering another customer's interaction) are
    the excess; otherwise the rule is ≥ REPEAT_MIN_RESPONSES responses for one unit within
    REPEAT_WINDOW_DAYS days (a genuine customer with several contacts with one agent
    rarely answers that many surveys). Each unit's share of such responses is tested
    against its peers (one-sided Fisher exact; Holm at 1 % fails, BH at 5 % warns).
    (d) rows identical in every column but the response id. METHODS §8.1. The kinds may
    overlap; the metric is recomputed with each duplicate removed once, keeping the first
    response by submitted_at (and each repeat rater's first rating of the unit).
    Fail: a unit's repeat-rater excess (Holm 1 %, ≥ 5 rows, ≥ 2× expected), an interaction
    answered ≥ 3 times, or duplicates moving the metric by > 2 % of its range; any other
    duplicate warns.
    """
    check_id, title = "duplicate_responses", "Duplicate responses"
    resp = data.responses
    present = [c for c in ("response_id", "interaction_id", "customer_id") if c in resp.columns]
    if not present:
        return not_applicable(check_id, title, "Needs a response_id, interaction_id or customer_id column "
                                               "to find responses counted more than once.")
    sort_keys = [c for c in ("submitted_at", "_source_row") if c in resp.columns]
    order = _sorted_positions(resp, sort_keys)
    ordered = resp[["_source_row"]].iloc[order]
    duplicates: dict[str, int] = {}
    examples: dict[str, list[int]] = {}
    removed = pd.Index([])
    masks: dict[str, np.ndarray] = {}
    id_codes: dict[str, np.ndarray] = {}
    for column, kind in (("response_id", "response_id"), ("interaction_id", "interaction_id")):
        if column not in resp.columns:
            continue
        id_codes[column] = pd.factorize(resp[column])[0]
        later, shared = _repeats(id_codes[column][order])
        masks[kind] = np.zeros(len(resp), dtype=bool)
        masks[kind][order] = later
        duplicates[kind] = int(later.sum())
        examples[kind] = _rows(ordered, shared)
        removed = removed.union(ordered.index[later])
    reuse = {}
    if "interaction_id" in resp.columns:
        answered = id_codes["interaction_id"]
        if (np.bincount(answered[answered >= 0]) >= LINK_REUSE_FAIL).any():
            # counted again by value only when some link is re-used: value_counts' order
            # (count, then its sort's own tie order) picks the interactions listed
            per_interaction = resp["interaction_id"].dropna().value_counts()
            reused = per_interaction[per_interaction >= LINK_REUSE_FAIL]
            reuse = {str(k): int(v) for k, v in reused.head(MAX_ROWS_LISTED).items()}
    # the same row exported twice under a new response id; without a timestamp or an
    # interaction id, identical rows (same agent, same score) are ordinary, not copies
    identity_cols = [c for c in resp.columns if c not in ("_source_row", "response_id")]
    if any(c in resp.columns for c in ("submitted_at", "interaction_id")):
        same, shared = _repeats(_row_ids(resp[identity_cols])[order])
        duplicates["identical_rows"] = int(same.sum())
        examples["identical_rows"] = _rows(ordered, shared)
        removed = removed.union(ordered.index[same])

    units = _unit_labels(data, resp)
    details: dict[str, Any] = {}
    customers_multiple = None
    repeat_strong, repeat_weak, per_unit = [], [], {}
    if "customer_id" in resp.columns:
        cust = resp["customer_id"]
        cust_code = pd.factorize(cust)[0]
        per_customer = np.bincount(cust_code[cust_code >= 0])
        customers_multiple = int((per_customer >= 2).sum())
        details["responses_per_customer_max"] = int(per_customer.max()) if len(per_customer) else 0
        # without a unit column the whole file is one unit: repeat raters still warn,
        # but there are no peers to test them against
        rater_units = units if units is not None else pd.Series("(all)", index=resp.index)
        known = cust_code >= 0
        unit_code = pd.factorize(rater_units)[0]
        pair = pd.factorize(cust_code[known] * (int(unit_code.max(initial=0)) + 1) + unit_code[known])[0]
        details["customers_with_multiple_same_unit"] = int(
            np.unique(cust_code[known][np.bincount(pair)[pair] >= 2]).size)
        flags, rule = _stuffing_flags(data, resp, rater_units)
        details["repeat_rater_responses"] = int(flags.sum())
        flagged_pairs = pd.DataFrame({"c": cust[flags], "u": rater_units[flags]}).value_counts()
        details["repeat_raters"] = [{"customer_id": str(c), "unit": str(u), "responses": int(k)}
                                    for (c, u), k in flagged_pairs.head(MAX_ROWS_LISTED).items()]
        details["repeat_rule"] = rule
        examples["repeat_rater"] = _rows(resp, flags)
        if units is not None:
            excess = _unit_excess(flags, units, rng)
            repeat_strong, repeat_weak, per_unit = excess["strong"], excess["weak"], excess["per_unit"]
            details["unit_homogeneity"] = excess["homogeneity"]
        # keep each repeat rater's first response to the unit
        flagged = resp[flags].assign(_u=rater_units[flags]).sort_values(sort_keys, kind="stable",
                                                                         na_position="last")
        later = flagged.duplicated(subset=["customer_id", "_u"], keep="first")
        duplicates["repeat_rater"] = int(later.sum())
        removed = removed.union(flagged.index[later.to_numpy()])
    if units is not None:
        for kind, mask in masks.items():
            by_unit = pd.Series(mask, index=resp.index).groupby(units).sum()
            for label, count in by_unit.items():
                per_unit.setdefault(str(label), {})[f"duplicate_{kind}"] = int(count)
    metric = _metric_without(data, removed)
    material_change = metric["relative_to_range"] is not None and metric["relative_to_range"] > METRIC_CHANGE_FAIL
    strong = bool(repeat_strong) or bool(reuse) or material_change
    weak = bool(repeat_weak) or any(v > 0 for v in duplicates.values())
    status = _status(strong, weak)
    parts = [f"{v:,} {k.replace('_', ' ')} duplicate(s)" for k, v in duplicates.items() if v]
    if status == "pass":
        summary = f"No response, interaction or repeat rater is counted more than once ({len(resp):,} responses)."
    else:
        summary = "Found " + ", ".join(parts) + "."
        if reuse:
            top = max(reuse, key=reuse.get)
            summary += f" Interaction {top} was answered {reuse[top]} times (a re-used survey link)."
        if repeat_strong:
            summary += (" Repeat ratings concentrate on " + ", ".join(repeat_strong)
                        + " beyond what their peers show (Holm-adjusted p < 0.01): possible ballot stuffing.")
        if metric["responses_removed"] and (format_value(metric["without"], data.claim.metric)
                                            != format_value(metric["with"], data.claim.metric)):
            summary += (f" Without duplicates the metric is {format_value(metric['without'], data.claim.metric)}"
                        f" instead of {format_value(metric['with'], data.claim.metric)}"
                        f" ({format_points(metric['change'], data.claim.metric)}).")
    details.update({
        "duplicates": duplicates, "customers_with_multiple": customers_multiple,
        "reused_interactions": reuse, "per_unit": per_unit, "suspect_units": repeat_strong + repeat_weak,
        "examples": examples, "metric_without_duplicates": metric,
        "thresholds": {"repeat_min_responses": REPEAT_MIN_RESPONSES, "repeat_window_days": REPEAT_WINDOW_DAYS,
                       "link_reuse_fail": LINK_REUSE_FAIL, "metric_change_fail": METRIC_CHANGE_FAIL,
                       "unit_test": "one-sided Fisher exact vs other units, Holm (fail) / BH (warn)"}})
    effect = metric["change"] if np.isfinite(metric["change"]) else None
    return CheckResult(check_id, status, title, summary, statistic=float(sum(duplicates.values())),
                       p_value=min((per_unit[u]["p_holm"] for u in per_unit if "p_holm" in per_unit[u]),
                                   default=None),
                       effect_size=effect, details=details)


def _stuffing_flags(data: AuditData, resp: pd.DataFrame, units: pd.Series) -> tuple[np.ndarray, str]:
    """Responses that are part of a customer's repeated ratings of one unit."""
    pop = data.population
    if pop is not None and pop.customer_unit is not None and "interaction_id" in resp.columns:
        # the interactions table knows who had which contact: responses beyond a customer's
        # interactions with the unit, or about someone else's interaction, are the excess
        owner = pop.linked.set_index("interaction_id")["customer_id"]
        linked_owner = resp["interaction_id"].map(owner)
        foreign = (linked_owner.notna() & resp["customer_id"].notna()
                   & (linked_owner.astype(str) != resp["customer_id"].astype(str))).to_numpy()
        contacts = pop.customer_unit
        key = pd.MultiIndex.from_arrays([resp["customer_id"], units])
        answered = pd.Series(1, index=key).groupby(level=[0, 1]).transform("size").to_numpy()
        had = contacts.reindex(key).fillna(0).to_numpy()
        rule = "responses beyond the customer's interactions with the unit (interactions table)"
        return foreign | (answered > had), rule
    times = resp["submitted_at"] if "submitted_at" in resp.columns else None
    flags = repeat_raters(resp["customer_id"], units, times,
                          min_responses=REPEAT_MIN_RESPONSES, window_days=REPEAT_WINDOW_DAYS)
    window = f"within {REPEAT_WINDOW_DAYS:g} days" if times is not None else "in the file"
    return flags, f">= {REPEAT_MIN_RESPONSES} responses by one customer for one unit {window}"


def _sorted_positions(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Positions of the rows in `frame.sort_values(keys, kind="stable", na_position="last")`
    order, without reordering every column: one stable sort per key, the last key first (a
    stable sort keeps the order the keys after it left), cheaper than pandas' lexsort over
    factorised keys."""
    order = np.arange(len(frame))
    for key in reversed(keys):
        column = frame[key].iloc[order].reset_index(drop=True)
        order = order[column.sort_values(kind="stable", na_position="last").index.to_numpy()]
    return order


def _repeats(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which entries repeat an earlier entry's id, and which share their id with any other?

    `Series.duplicated(keep="first")` and `keep=False` of non-negative integer ids, where
    -1 (missing) is never a repeat; the first-seen test runs only on the shared ids, which
    are few."""
    present = ids >= 0
    shared = np.zeros(ids.size, dtype=bool)
    shared[present] = np.bincount(ids[present])[ids[present]] >= 2
    later = np.zeros(ids.size, dtype=bool)
    candidates = np.flatnonzero(shared)
    later[candidates] = pd.Series(ids[candidates]).duplicated(keep="first").to_numpy()
    return later, shared


def _row_ids(frame: pd.DataFrame) -> np.ndarray:
    """Which rows are identical in every column (missing equal to missing, as
    `DataFrame.duplicated` compares them)? An id per row, equal iff the rows are.

    Columns are compared one at a time, each only among the rows still tied on the columns
    before, numbers and times first: after a timestamp few rows are tied, so text columns
    of a million ids are hashed for a handful of rows."""
    n = len(frame)
    ids = np.arange(n, dtype=np.int64)          # a row tied with no other keeps its position
    rows, group = ids.copy(), np.zeros(n, dtype=np.int64)
    columns = sorted(frame.columns, key=lambda c: not (pd.api.types.is_numeric_dtype(frame[c])
                                                       or pd.api.types.is_datetime64_any_dtype(frame[c])))
    for column in columns:
        if rows.size == 0:
            break
        codes = pd.factorize(frame[column].iloc[rows])[0] + 1          # 0: missing
        group = pd.factorize(group * (int(codes.max()) + 1) + codes)[0]
        tied = np.bincount(group)[group] >= 2
        rows, group = rows[tied], group[tied]
    ids[rows] = n + group                       # rows tied in every column share an id
    return ids


# --------------------------------------------------------------------------------------
# near_duplicates
# --------------------------------------------------------------------------------------
def near_duplicates(data: AuditData, rng: np.random.Generator) -> CheckResult:
    """Were answer patterns copied between respondents?

    Maximum percent match per respondent over the q_* items (Kuriakose & Robbins 2016;
    flag ≥ 0.85), computed exactly without an O(n²) scan (`audit.integrity`). Genuine CSAT
    answers match a lot (few skewed items: Simmons et al. 2016), so the share of high
    matches is reported, never judged on its own; the signal is a cluster: one pattern
    (± the allowed mismatches) repeated within one unit (or, without units, one ISO week)
    far beyond that pattern's frequency among all respondents (hypergeometric tail = exact
    label-permutation null, Tarone-Bonferroni over all unit × pattern pairs). All-equal
    grids belong to `straightlining` and are not cluster centres.
    """
    check_id, title = "near_duplicates", "Near-duplicate answer patterns"
    resp = data.responses
    items = _item_columns(resp)
    if len(items) < MIN_ITEMS_NEAR_DUPLICATES:
        return not_applicable(check_id, title,
                              f"Needs at least {MIN_ITEMS_NEAR_DUPLICATES} item columns (q_*) to compare answer "
                              f"patterns; found {len(items)}. With fewer items genuine respondents match by "
                              "chance (Simmons et al. 2016).", items=len(items))
    answers = resp[items]
    # float32 when the loader kept the answers so (whole numbers, exact): half the copy
    x = answers.to_numpy(dtype=np.result_type(np.float32, *answers.dtypes))
    mpm = max_percent_match(x)
    usable = np.isfinite(mpm)
    if usable.sum() < 2:
        return not_applicable(check_id, title, "Fewer than two responses answer every q_* item.", items=len(items))
    values = mpm[usable]
    high = mpm >= MPM_THRESHOLD
    uniform = straightlined(x, min_items=len(items))
    # the answers are not needed again: their complete rows are shuffled where they are copied
    # to, and the scan below reads the answers afresh, keeping only their codes
    complete = x[usable]
    del x
    null_share = float(np.mean(max_percent_match(_shuffled_columns(complete, rng)) >= MPM_THRESHOLD))
    del complete
    units = _unit_labels(data, resp)
    if units is not None:
        groups, grouping = _label_array(units), data.unit_column
    elif "submitted_at" in resp.columns and resp["submitted_at"].notna().any():
        week = pd.to_datetime(resp["submitted_at"], utc=True).dt.strftime("%G-W%V")
        groups, grouping = _label_array(week.fillna(MISSING_UNIT)), "ISO week of submitted_at"
    else:
        groups, grouping = np.full(len(resp), "(all)"), None
    scan = near_duplicate_clusters(answers, groups, threshold=MPM_THRESHOLD, alpha=ALPHA)
    flagged, strong, weak = [], False, False
    for c in scan.clusters:
        material = c.size >= MIN_CLUSTER_SIZE and c.size >= MIN_CLUSTER_RATIO * c.expected
        strong |= material
        weak |= not material
        flagged.append({"group": c.group, "size": c.size, "group_responses": c.group_size,
                        "expected": c.expected, "p_value": c.p_value, "p_adjusted": c.p_adjusted,
                        "centre": list(c.centre), "material": material,
                        "rows": [int(r) for r in resp["_source_row"].to_numpy()[list(c.rows)][:MAX_ROWS_LISTED]]})
    status = _status(strong, weak)
    hist_values, hist_counts = np.unique(np.round(values, 6), return_counts=True)
    per_group = {}
    if grouping is not None:
        names, group_of = label_codes(groups[usable])
        size = np.bincount(group_of, minlength=names.size)
        with_high = np.bincount(group_of, weights=high[usable], minlength=names.size)
        per_group = {str(g): {"responses": int(m), "share_high_match": float(h / m)}
                     for g, m, h in zip(names, size, with_high)}
    share_high = float(high[usable].mean())
    distribution = {
        "threshold": MPM_THRESHOLD, "items": len(items), "responses_compared": int(usable.sum()),
        "quantiles": {q: float(np.quantile(values, float(q))) for q in ("0.05", "0.25", "0.5", "0.75", "0.95")},
        "histogram": {f"{v:.4g}": int(k) for v, k in zip(hist_values, hist_counts)},
        "share_at_or_above_threshold": share_high,
        "share_exact_duplicate": float(np.mean(values == 1.0)),
        "share_at_or_above_threshold_excluding_straightliners": float(high[usable & ~uniform].mean())
        if (usable & ~uniform).any() else None,
        "column_permutation_null_share": null_share,
    }
    if strong or weak:
        top = scan.clusters[0]
        where = f"{grouping} {top.group}" if grouping else "the file"
        summary = (f"{len(scan.clusters)} cluster(s) of near-identical answer patterns: in {where}, "
                   f"{top.size} of {top.group_size} responses match one pattern on ≥ {MPM_THRESHOLD:.0%} of "
                   f"{len(items)} items (expected {top.expected:.1f} from its overall frequency; "
                   f"adjusted p = {top.p_adjusted:.2g}).")
    else:
        summary = (f"{100 * share_high:.1f} % of respondents match another on ≥ {MPM_THRESHOLD:.0%} of the "
                   f"{len(items)} items, as skewed CSAT answers do; no pattern repeats within one "
                   f"{grouping or 'group'} beyond its overall frequency.")
        if grouping is None:
            summary = (f"{100 * share_high:.1f} % of respondents match another on ≥ {MPM_THRESHOLD:.0%} of the "
                       f"items. Without a unit column or submission times clusters cannot be localised.")
    details = {"max_percent_match": distribution, "flagged": flagged,
               "flagged_rows": int(sum(c["size"] for c in flagged)), "grouping": grouping,
               "per_group": per_group, "radius_mismatches": scan.radius,
               "hypotheses": scan.hypotheses, "tarone_factor": scan.tarone_k,
               "method": "hypergeometric excess per group × pattern, Tarone (1990) Bonferroni"}
    return CheckResult(check_id, status, title, summary, statistic=share_high,
                       p_value=scan.clusters[0].p_adjusted if scan.clusters else None,
                       effect_size=(scan.clusters[0].size / max(scan.clusters[0].expected, 1e-12))
                       if scan.clusters else None, details=details)


def _shuffled_columns(answers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`answers` with each item's column shuffled on its own (one permutation per column, in
    column order), in place: respondents then match only as often as the items' answer
    distributions make them, the null share of high matches. The caller's copy of the
    complete rows is the only one (a million × 10 floats)."""
    for j in range(answers.shape[1]):
        answers[:, j] = rng.permutation(answers[:, j])
    return answers


# --------------------------------------------------------------------------------------
# timing_anomalies
# --------------------------------------------------------------------------------------
def _interaction_seconds(data: AuditData) -> np.ndarray | None:
    resp = data.responses
    if has_interaction_times(resp):
        return _seconds(resp["interaction_at"])
    pop = data.population
    if pop is not None and "interaction_at" in pop.linked.columns and "interaction_id" in resp.columns:
        raw = pop.linked.set_index("interaction_id")["interaction_at"]
        parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")
        linked = resp["interaction_id"].map(parsed)
        if linked.notna().any():
            return _seconds(linked)
    return None


def _lag_summary(lag: np.ndarray, units: pd.Series | None) -> dict[str, Any]:
    ok = np.isfinite(lag)
    values = lag[ok]
    out: dict[str, Any] = {"unit": "seconds", "n": int(values.size)}
    if values.size == 0:
        return out
    out["quantiles"] = {q: float(np.quantile(values, float(q)))
                        for q in ("0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99")}
    out["short"] = {"threshold_s": SHORT_LAG_S, "count": int(((values >= 0) & (values < SHORT_LAG_S)).sum())}
    out["long"] = {"threshold_s": LONG_LAG_S, "count": int((values > LONG_LAG_S).sum())}
    if units is not None:
        by_unit = pd.Series(values).groupby(units.array[ok], sort=True)
        quartiles = by_unit.quantile([0.25, 0.5, 0.75]).unstack()     # linear, as numpy's default
        table = quartiles[[0.25, 0.5, 0.75]].assign(n=by_unit.size())
        # one pass over the table's rows: a lookup per unit and column costs more than the quantiles
        entries = {u: {"median": float(q50), "q25": float(q25), "q75": float(q75), "n": int(n)}
                   for u, (q25, q50, q75, n) in zip(table.index, table.to_numpy())}
        out["per_unit"] = {str(u): entries[u] for u in sorted(entries, key=str)}
    return out


def timing_anomalies(data: AuditData, rng: np.random.Generator) -> CheckResult:
    """Were responses submitted before their interaction, or packed into bursts?

    Before the interaction (METHODS §8.5): lag = submitted_at − interaction_at < −2 min
    (clock-skew tolerance); a constant offset between the clocks (time zone, DST) is tested
    before anything is called impossible (`audit.integrity.clock_offset`). Bursts (§8.6):
    per unit, the scan statistic over a 10-minute window with a Monte Carlo p-value under
    the unit's own interaction times re-paired with its own lags (or, without interaction
    times, the peers' submission times) — never uniform time, since responses follow
    interaction volume; Holm (fail) and Benjamini-Hochberg (warn) across units. Lags
    (§9.3): quantiles, very short and very long lags, median and IQR per unit (reported).
    """
    check_id, title = "timing_anomalies", "Timing anomalies"
    resp = data.responses
    if "submitted_at" not in resp.columns or resp["submitted_at"].isna().all():
        return not_applicable(check_id, title, "Needs the submitted_at column (when each response came in).")
    submitted = _seconds(resp["submitted_at"])
    interaction = _interaction_seconds(data)
    units = _unit_labels(data, resp)
    details: dict[str, Any] = {}
    strong = weak = False
    findings = []

    # ---- before the interaction ------------------------------------------------------------
    if interaction is not None:
        lag = submitted - interaction
        early = np.isfinite(lag) & (lag < -CLOCK_SKEW_TOLERANCE_S)
        offset = clock_offset(lag, tolerance_s=CLOCK_SKEW_TOLERANCE_S)
        n_early, n_lag = int(early.sum()), int(np.isfinite(lag).sum())
        impossible = n_early and not offset.explained and n_early >= max(BEFORE_FAIL_MIN_ROWS,
                                                                         BEFORE_FAIL_MIN_SHARE * n_lag)
        strong |= bool(impossible)
        weak |= n_early > 0
        by_unit = ({str(u): int(c) for u, c in pd.Series(early).groupby(units.array).sum().items() if c}
                   if units is not None else {})
        details["before_interaction"] = {
            "count": n_early, "share": n_early / n_lag if n_lag else None, "tolerance_s": CLOCK_SKEW_TOLERANCE_S,
            "rows": _rows(resp, early), "largest_lead_s": float(-lag[early].min()) if n_early else None,
            "per_unit": by_unit,
            "clock_offset": {"explained": offset.explained if n_early else None, "offset_s": offset.offset_s,
                             "ks_p_value": offset.ks_p_value}}
        if n_early:
            lead_h = -lag[early].min() / 3600
            if offset.explained:
                findings.append(f"{n_early} response(s) precede their interaction, consistent with a clock offset "
                                f"of {offset.offset_s / 3600:g} h (time zone/DST), not fabrication")
            else:
                findings.append(f"{n_early} response(s) were submitted before their interaction "
                                f"(up to {lead_h:.1f} h before; no time-zone offset explains them)")
        details["lags"] = _lag_summary(lag, units)
    else:
        details["before_interaction"] = {"count": None, "reason": "no interaction_at (responses or interactions table)"}

    # ---- bursts ------------------------------------------------------------------------------
    group_labels = _label_array(units) if units is not None else np.full(len(resp), "(all)")
    ok_time = np.isfinite(submitted)
    timed = np.flatnonzero(ok_time)
    names, code = label_codes(group_labels[timed])
    # each unit's timed rows from one sort, not a scan of every row per unit
    rows_of = np.split(timed[np.argsort(code, kind="stable")], np.cumsum(np.bincount(code))[:-1])
    pool = submitted[timed]
    # enough simulations for the smallest Monte Carlo p to survive Holm at UNIT_FAIL_ALPHA
    max_sims = int(min(99_999, max(1_999, 4 * len(names) / UNIT_FAIL_ALPHA)))
    tests = {}
    for i, (name, mine) in enumerate(zip(names.tolist(), rows_of)):
        if mine.size < 3:
            continue
        if interaction is not None and np.isfinite(interaction[mine]).all():
            test = burst_test(submitted[mine], BURST_WINDOW_S, rng, interaction_s=interaction[mine],
                              max_simulations=max_sims)
        elif units is not None:
            test = burst_test(submitted[mine], BURST_WINDOW_S, rng, pool_s=pool[code != i]
                              if names.size > 1 else pool, max_simulations=max_sims)
        else:
            continue
        tests[name] = (test, mine)
    bursts: list[dict[str, Any]] = []
    per_unit: dict[str, Any] = {}
    if tests:
        p = np.array([t.p_value for t, _ in tests.values()])
        holm, bh = holm_adjust(p), bh_adjust(p)
        for (name, (test, mine)), ph, pb in zip(tests.items(), holm, bh):
            w = test.window
            material = (w.count >= BURST_MIN_SIZE and w.count >= BURST_MIN_RATIO * test.null_q99
                        and ph < UNIT_FAIL_ALPHA)
            entry = {"count": w.count, "p_value": test.p_value, "p_holm": float(ph), "p_bh": float(pb),
                     "null_mean": test.null_mean, "null_q99": test.null_q99, "n_simulations": test.n_simulations,
                     "responses": int(mine.size)}
            per_unit[name] = entry
            if pb < ALPHA and w.count >= BURST_MIN_WARN_SIZE:
                in_window = np.zeros(len(resp), dtype=bool)
                in_window[mine] = (submitted[mine] >= w.start) & (submitted[mine] <= w.end)
                customers = (int(resp.loc[in_window, "customer_id"].nunique())
                             if "customer_id" in resp.columns else None)
                bursts.append({**entry, "unit": name, "material": bool(material),
                               "start": pd.Timestamp(w.start, unit="s", tz="UTC").isoformat(),
                               "end": pd.Timestamp(w.end, unit="s", tz="UTC").isoformat(),
                               "distinct_customers": customers, "rows": _rows(resp, in_window)})
                strong |= bool(material)
                weak = True
        null = next(iter(tests.values()))[0].null
    else:
        null = None
    bursts.sort(key=lambda b: (b["p_holm"], -b["count"]))
    for b in bursts[:3]:
        findings.append(f"{b['count']} responses for {b['unit']} within {BURST_WINDOW_S / 60:g} min from "
                        f"{b['start'][:16]} (at most {b['null_q99']:.0f} in 99 % of simulated arrivals; "
                        f"Holm-adjusted p = {b['p_holm']:.2g})")
    details["bursts"] = bursts
    details["burst_test"] = {"window_s": BURST_WINDOW_S, "null": null, "units_tested": len(tests),
                             "per_unit": per_unit, "adjustment": "Holm (fail), Benjamini-Hochberg (warn)",
                             "min_size": BURST_MIN_SIZE, "min_ratio_to_null_q99": BURST_MIN_RATIO}
    status = _status(strong, weak)
    if findings:
        summary = "; ".join(findings) + "."
    else:
        summary = ("No response precedes its interaction and no unit's responses cluster in time beyond what "
                   "its interaction times and response lags explain.")
        if not tests:
            summary = ("No response precedes its interaction; bursts were not tested (they need interaction "
                       "times or a unit column for a null that follows interaction volume)."
                       if interaction is not None else
                       "Neither responses before their interaction nor bursts could be tested: they need "
                       "interaction_at or a unit column.")
        elif interaction is None:
            summary = ("No unit's responses cluster in time beyond the peers' arrival pattern "
                       "(interaction times unknown).")
    n_before = details["before_interaction"].get("count")
    return CheckResult(check_id, status, title, summary,
                       statistic=float(n_before) if n_before is not None else None,
                       p_value=min((b["p_holm"] for b in bursts), default=None),
                       effect_size=None, details=details)


# --------------------------------------------------------------------------------------
# straightlining and speeding
# --------------------------------------------------------------------------------------
def straightlining(data: AuditData, rng: np.random.Generator) -> CheckResult:
    """Do respondents give the same answer to every item?

    Zero variance over ≥ 3 answered q_* items; longstring = longest run of identical
    consecutive answers (Johnson 2005; Meade & Craig 2012). An all-top (or all-bottom) grid
    is often a consistent genuine attitude in CSAT (Reuning & Plutzer 2020), so two
    signals count (METHODS §8.3): a unit whose share exceeds its peers' among respondents
    with the same score (exact stratified one-sided test; Holm at 1 % fails if material,
    ≥ 5 rows and ≥ 2× expected; BH at 5 % warns), and, with ≥ 5 items, the same middle
    answer (neither end of the scale) to every item, which genuine respondents rarely
    give: warn above 1 % of respondents (≥ 3 rows), fail when its Wilson 95 % lower bound
    exceeds 2 % (≥ 5 rows).
    """
    check_id, title = "straightlining", "Straight-lining"
    resp = data.responses
    items = _item_columns(resp)
    if len(items) < MIN_ITEMS_STRAIGHTLINING:
        return not_applicable(check_id, title, f"Needs at least {MIN_ITEMS_STRAIGHTLINING} item columns (q_*); "
                                               f"found {len(items)}.", items=len(items))
    x = resp[items].to_numpy(dtype=float)
    answered = (~np.isnan(x)).sum(axis=1) >= MIN_ITEMS_STRAIGHTLINING
    if not answered.any():
        return not_applicable(check_id, title, f"No response answers {MIN_ITEMS_STRAIGHTLINING} or more items.")
    flags = straightlined(x, min_items=MIN_ITEMS_STRAIGHTLINING)
    n = int(answered.sum())
    share = float(flags.sum() / n)
    lo, hi = np.nanmin(x), np.nanmax(x)
    # the one answer of each straight-liner (a copy of their rows only, not of the whole grid)
    value = np.full(len(x), np.nan)
    value[flags] = np.nanmax(x[flags], axis=1)
    midscale = flags & (value > lo) & (value < hi)
    runs = longstring(x)[answered]
    mid_iv = wilson_interval(int(midscale.sum()), n)
    strong = weak = False
    if len(items) >= MIN_ITEMS_MIDSCALE_RULE:
        strong |= mid_iv.ci_low > MIDSCALE_FAIL_LOWER_BOUND and midscale.sum() >= MIN_FLAGGED_IN_UNIT
        weak |= mid_iv.estimate > MIDSCALE_WARN_SHARE and midscale.sum() >= 3
    excess = _unit_excess_within_score(data, flags, answered, rng)
    if excess:
        strong |= bool(excess["strong"])
        weak |= bool(excess["weak"])
    status = _status(strong, weak)
    speed_mix = None
    if "duration_s" in resp.columns:
        fast, _ = speeders(resp["duration_s"].to_numpy(dtype=float), fraction=SPEED_FRACTION)
        if fast[answered].any():
            speed_mix = {"share_among_speeders": float(flags[answered & fast].mean()),
                         "share_among_others": float(flags[answered & ~fast].mean())
                         if (answered & ~fast).any() else None}
    findings = []
    if excess and (excess["strong"] or excess["weak"]):
        suspects = excess["strong"] or excess["weak"]
        findings.append("straight-lining concentrates on " + ", ".join(suspects) + " beyond its peers")
    if len(items) >= MIN_ITEMS_MIDSCALE_RULE and midscale.any():
        findings.append(f"{int(midscale.sum())} respondents ({100 * mid_iv.estimate:.1f} %, 95 % CI "
                        f"{100 * mid_iv.ci_low:.1f}-{100 * mid_iv.ci_high:.1f} %) give the same middle answer "
                        f"to all items")
    summary = (f"{100 * share:.1f} % of {n:,} respondents give the same answer to every item"
               + ("; " + "; ".join(findings) if findings else ", mostly all-top grids as genuine CSAT does") + ".")
    details = {"share": share, "count": int(flags.sum()), "responses": n, "items": len(items),
               "share_top": float((flags & (value == hi)).sum() / n),
               "share_bottom": float((flags & (value == lo)).sum() / n),
               "midscale": {"share": mid_iv.estimate, "count": int(midscale.sum()), "ci_low": mid_iv.ci_low,
                            "ci_high": mid_iv.ci_high, "warn_share": MIDSCALE_WARN_SHARE,
                            "fail_lower_bound": MIDSCALE_FAIL_LOWER_BOUND,
                            "applies": len(items) >= MIN_ITEMS_MIDSCALE_RULE},
               "longstring": {"mean": float(runs.mean()), "max_possible": len(items),
                              "histogram": {int(k): int(v) for k, v in zip(*np.unique(runs, return_counts=True))}},
               "per_unit": excess["per_unit"] if excess else {},
               "unit_homogeneity": excess["homogeneity"] if excess else None,
               "suspect_units": (excess["strong"] + excess["weak"]) if excess else [],
               "with_speeding": speed_mix, "rows": _rows(resp, midscale if midscale.any() else flags),
               "metric_without_straightliners": _metric_without(data, resp.index[flags])}
    return CheckResult(check_id, status, title, summary, statistic=share,
                       p_value=min((v["p_holm"] for v in details["per_unit"].values() if "p_holm" in v),
                                   default=None),
                       effect_size=mid_iv.estimate, details=details)


def speeding(data: AuditData, rng: np.random.Generator, *, fraction: float = SPEED_FRACTION) -> CheckResult:
    """Were surveys completed implausibly fast?

    Speeder: duration_s < fraction × median duration (default 0.3, the strict practice rule;
    METHODS §8.4). Reported with the metric with and without speeders (Greszki, Meyer &
    Schoen 2015: flag and compare, do not silently drop). Warn when more than 2 % of
    respondents speed (≥ 3 rows); fail when the Wilson 95 % lower bound of that share
    exceeds 5 % (≥ 5 rows), or when a unit's share exceeds its peers' among respondents
    with the same score (exact stratified one-sided test, Holm at 1 %; ≥ 5 speeders and
    ≥ 2× expected). A BH-significant unit excess warns.
    """
    check_id, title = "speeding", "Speeding"
    resp = data.responses
    if "duration_s" not in resp.columns or not (resp["duration_s"] > 0).any():
        return not_applicable(check_id, title, "Needs the duration_s column (seconds spent answering).")
    duration = resp["duration_s"].to_numpy(dtype=float)
    usable = np.isfinite(duration) & (duration > 0)
    flags, threshold = speeders(duration, fraction=fraction)
    n, k = int(usable.sum()), int(flags[usable].sum())
    iv = wilson_interval(k, n)
    strong = iv.ci_low > SPEEDING_FAIL_LOWER_BOUND and k >= MIN_FLAGGED_IN_UNIT
    weak = iv.estimate > SPEEDING_WARN_SHARE and k >= 3
    excess = _unit_excess_within_score(data, flags, usable, rng)
    if excess:
        strong |= bool(excess["strong"])
        weak |= bool(excess["weak"])
    status = _status(strong, weak)
    metric = _metric_without(data, resp.index[flags])
    median = float(np.median(duration[usable]))
    summary = (f"{k:,} of {n:,} respondents ({100 * iv.estimate:.1f} %, 95 % CI {100 * iv.ci_low:.1f}-"
               f"{100 * iv.ci_high:.1f} %) finished in under {threshold:.0f} s ({fraction:g} × the median "
               f"{median:.0f} s).")
    if excess and (excess["strong"] or excess["weak"]):
        summary += " Speeders concentrate on " + ", ".join(excess["strong"] or excess["weak"]) + "."
    if k:
        summary += (f" Without them the metric is {format_value(metric['without'], data.claim.metric)} "
                    f"(with: {format_value(metric['with'], data.claim.metric)}).")
    details = {"share": iv.estimate, "count": k, "responses": n, "threshold_s": threshold,
               "fraction_of_median": fraction, "median_s": median, "ci_low": iv.ci_low, "ci_high": iv.ci_high,
               "warn_share": SPEEDING_WARN_SHARE, "fail_lower_bound": SPEEDING_FAIL_LOWER_BOUND,
               "per_unit": excess["per_unit"] if excess else {},
               "unit_homogeneity": excess["homogeneity"] if excess else None,
               "suspect_units": (excess["strong"] + excess["weak"]) if excess else [],
               "rows": _rows(resp, flags), "metric_without_speeders": metric}
    return CheckResult(check_id, status, title, summary, statistic=iv.estimate,
                       p_value=min((v["p_holm"] for v in details["per_unit"].values() if "p_holm" in v),
                                   default=None),
                       effect_size=metric["change"] if np.isfinite(metric["change"]) else None, details=details)
