"""Are the files usable, and is n large enough for the precision the claim implies?

Checks `data_quality` and `sample_size`.
"""
from __future__ import annotations


from audit.data import AuditData, claim_population_size, claim_responses
from audit.headline import format_points, format_value, metric_interval, metric_range
from audit.metrics import required_sample_size, stated_precision
from audit.results import CheckResult

# Shares of rows lost beyond which the audited figure may not be the published one.
DROP_WARN, DROP_FAIL = 0.01, 0.05
# Precision thresholds, as a share of the metric's range (1 for a share: 5 and 10 points).
MOE_WARN, MOE_FAIL = 0.05, 0.10
MIN_N = 30


def data_quality(data: AuditData) -> CheckResult:
    """Row ledger of both files: rows read = rows used + rows dropped, each drop with its reason."""
    reasons: dict[str, int] = {}
    examples: dict[str, list[int]] = {}
    flagged: dict[str, int] = {}
    read = used = 0
    for label, table in (("responses", data.responses_table), ("population", data.population_table)):
        if table is None:
            continue
        read += table.rows_read
        used += table.rows_used
        for note in table.dropped:
            key = f"{label}: {note.reason}"
            reasons[key] = reasons.get(key, 0) + note.count
            examples[key] = list(note.rows)
        for note in table.flagged:
            key = f"{label}: {note.reason}"
            flagged[key] = flagged.get(key, 0) + note.count
            examples[key] = list(note.rows)
    link = data.linkage
    if link.orphan_responses:
        key = "responses: interaction_id not in the interactions table"
        flagged[key] = link.orphan_responses
        examples[key] = list(link.orphan_rows)
    if link.responses_without_interaction_id and data.has_population:
        flagged["responses: no interaction_id (cannot be linked)"] = link.responses_without_interaction_id
    if link.responded_flag_mismatch:
        flagged["population: 'responded' flag disagrees with the responses file"] = link.responded_flag_mismatch
    if link.responded_not_invited:
        flagged["population: responded although not invited"] = link.responded_not_invited
    dropped = sum(reasons.values())
    resp_read = data.responses_table.rows_read
    drop_share = dropped / read if read else 0.0
    orphan_share = link.orphan_responses / resp_read if resp_read else 0.0
    if drop_share > DROP_FAIL or orphan_share > DROP_FAIL:
        status = "fail"
    elif drop_share > DROP_WARN or orphan_share > DROP_WARN or flagged:
        status = "warn"
    else:
        status = "pass"
    parts = [f"{read:,} rows read, {used:,} used, {dropped:,} dropped"]
    if reasons:
        top = max(reasons, key=reasons.get)
        parts.append(f"most common reason: {top} ({reasons[top]:,})")
    if flagged:
        parts.append(f"{sum(flagged.values()):,} rows kept with a problem ({len(flagged)} kinds)")
    return CheckResult(
        "data_quality", status, "Data quality", "; ".join(parts) + ".",
        statistic=drop_share, effect_size=orphan_share,
        details={"rows_read": read, "rows_used": used, "rows_dropped": dropped, "reasons": reasons,
                 "flagged": flagged, "example_rows": examples,
                 "orphan_responses": link.orphan_responses,
                 "responses": {"rows_read": resp_read, "rows_used": data.responses_table.rows_used,
                               "format": data.responses_table.export_format,
                               "mapping": dict(data.responses_table.mapping),
                               "notes": list(data.responses_table.notes)},
                 "population": None if data.population_table is None else {
                     "rows_read": data.population_table.rows_read,
                     "rows_used": data.population_table.rows_used,
                     "mapping": dict(data.population_table.mapping),
                     "notes": list(data.population_table.notes)}},
    )


def sample_size(data: AuditData) -> CheckResult:
    """95 % margin of error of the claimed metric (finite-population corrected when the
    population is known, Cochran 1977) and whether the published figure's precision and
    arithmetic (GRIM, Brown & Heathers 2017) are supported by n."""
    claim, metric = data.claim, data.claim.metric
    scores = claim_responses(data)["score"]
    population_size = claim_population_size(data, len(scores))
    n = int(scores.notna().sum())
    if n < 2:
        return CheckResult("sample_size", "fail", "Sample size",
                           f"Only {n} response(s) behind the claim: no precision can be stated.",
                           statistic=float(n), details={"n": n, "margin_of_error": None,
                                                        "population_size": population_size})
    iv = metric_interval(scores, metric, data.scale, population_size=population_size)
    moe = (iv.ci_high - iv.ci_low) / 2
    rel = moe / metric_range(metric, data.scale)
    details = {"n": n, "margin_of_error": moe, "margin_of_error_relative": rel,
               "population_size": population_size, "finite_population_correction": population_size is not None,
               "ci_method": iv.method}
    problems = []
    if metric == "top2box":
        worst = required_sample_size(0.5, MOE_WARN, population_size=population_size)
        details["n_needed_for_5_points"] = required_sample_size(
            min(max(iv.estimate, 0.01), 0.99), MOE_WARN, population_size=population_size)
        details["n_needed_for_5_points_worst_case"] = worst
    if claim.value is not None and claim.type != "change":   # a change claim publishes a difference
        prec = stated_precision(claim.value, n, moe=moe, proportion=metric == "top2box")
        details["stated_precision"] = {k: getattr(prec, k) for k in prec.__dataclass_fields__}
        if prec.grim_consistent is False:
            problems.append(f"the published {format_value(claim.value, metric, digits=prec.decimals)} cannot "
                            f"arise from {n} responses (GRIM)")
        if not prec.supported:
            problems.append(f"it is published with more precision than ±{format_points(moe, metric)} supports")
    if n < MIN_N or rel > MOE_FAIL:
        status = "fail"
    elif rel > MOE_WARN or problems:
        status = "warn"
    else:
        status = "pass"
    summary = (f"n = {n:,}: the 95 % margin of error is ±{format_points(moe, metric)}"
               + (" (finite-population corrected)" if population_size else "") + ".")
    if problems:
        summary += " Note: " + "; ".join(problems) + "."
    return CheckResult("sample_size", status, "Sample size and precision", summary,
                       statistic=float(n), effect_size=moe, details=details)
