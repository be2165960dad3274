"""The credibility score: a documented, deterministic function of the check results.

Rubric (also in METHODOLOGY.md):
1. Start at 100. Each check deducts its weight for `fail`, a smaller one for `warn`;
   `pass` and `not_applicable` deduct nothing (WEIGHTS below).
2. Caps: a claim the data do not support (`claim_significance` fail) scores at most 49;
   a failed data-quality, invitation-selectivity or non-response-adjustment check caps
   the score at 69; without an interactions table (bias cannot be checked) the score is
   at most 79: such an audit cannot earn an A. An award whose winner is not clearly first
   (`rank_uncertainty` warn/fail: its rank confidence set spans other units) or whose
   ratings show a sign of padding or begging (any `score_inflation` signal on the claimed
   unit, including repeat raters, bursts and copied answers) scores at most 84: no A.
3. Grade: A ≥ 85, B ≥ 70, C ≥ 55, D ≥ 40, F below.
Every deduction is non-negative and every cap only lowers the score, so a worse finding
never raises it (tested exhaustively over the status space).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from audit.claim import METRIC_LABELS, Claim
from audit.headline import MetricResult, format_points, format_value
from audit.results import CheckResult

# (fail, warn) deductions per check id.
WEIGHTS: dict[str, tuple[int, int]] = {
    "data_quality": (20, 5),
    "sample_size": (25, 8),
    "response_rate": (10, 3),
    "response_rate_skew": (12, 4),
    "invitation_selectivity": (20, 6),
    "representativeness": (15, 5),
    "nonresponse_adjustment": (20, 6),
    "claim_significance": (30, 10),
    "rank_uncertainty": (20, 6),
    "funnel_outliers": (8, 3),
    "duplicate_responses": (12, 4),
    "near_duplicates": (10, 3),
    "timing_anomalies": (10, 3),
    "straightlining": (5, 2),
    "speeding": (5, 2),
    "score_inflation": (20, 6),
}
CAP_UNSUPPORTED_CLAIM = 49
CAP_BIASED = 69
BIAS_CAP_CHECKS = ("data_quality", "invitation_selectivity", "nonresponse_adjustment")
CAP_NO_POPULATION = 79
CAP_DOUBTFUL_WINNER = 84
GRADES = ((85, "A"), (70, "B"), (55, "C"), (40, "D"), (0, "F"))
# the same grades as (low, high, letter) bands from F to A, for drawing
GRADE_BANDS = tuple((low, high, letter) for (low, letter), high
                    in zip(reversed(GRADES), [floor for floor, _ in reversed(GRADES)][1:] + [100]))
SEVERITY = {"fail": 2, "warn": 1, "pass": 0, "not_applicable": 0}


@dataclass(frozen=True)
class Credibility:
    score: int
    grade: str
    verdict: str
    deductions: dict[str, int]
    caps: tuple[str, ...]
    key_findings: tuple[str, ...]          # check ids, most important first

    def to_dict(self) -> dict:
        return {"score": self.score, "grade": self.grade, "verdict": self.verdict,
                "deductions": self.deductions, "caps": list(self.caps),
                "key_findings": list(self.key_findings)}


def grade_for(score: int) -> str:
    return next(letter for floor, letter in GRADES if score >= floor)


def deduction(check: CheckResult) -> int:
    fail, warn = WEIGHTS.get(check.id, (10, 3))
    return {"fail": fail, "warn": warn}.get(check.status, 0)


def credibility_score(checks: Sequence[CheckResult]) -> tuple[int, dict[str, int], tuple[str, ...]]:
    """Score 0-100, the deduction of each check, and the caps that lowered the score."""
    by_id = {c.id: c for c in checks}
    deductions = {c.id: deduction(c) for c in checks if deduction(c)}
    score = 100 - sum(deductions.values())
    rules = (
        (CAP_UNSUPPORTED_CLAIM, "claim not supported by the data",
         by_id.get("claim_significance") is not None and by_id["claim_significance"].status == "fail"),
        (CAP_BIASED, "data unusable or biased",
         any(by_id.get(i) is not None and by_id[i].status == "fail" for i in BIAS_CAP_CHECKS)),
        (CAP_NO_POPULATION, "no interactions table: bias not checked",
         by_id.get("response_rate") is not None and by_id["response_rate"].status == "not_applicable"),
        (CAP_DOUBTFUL_WINNER, "the award winner is not clearly first or its ratings look padded",
         doubtful_winner(by_id)),
    )
    caps = []
    for cap, reason, applies in rules:
        if applies and score > cap:
            score, caps = cap, caps + [reason]
    return max(0, score), deductions, tuple(caps)


def doubtful_winner(by_id: dict[str, CheckResult]) -> bool:
    """Is a claimed winner's rank uncertain, or does it carry any sign of inflated ratings?"""
    rank, inflation = by_id.get("rank_uncertainty"), by_id.get("score_inflation")
    uncertain = (rank is not None and rank.details.get("award_claimed")
                 and rank.status in ("warn", "fail"))
    claimed = (inflation.details.get("claimed_unit") or {}) if inflation is not None else {}
    return bool(uncertain or claimed.get("signals"))


def key_findings(checks: Sequence[CheckResult], k: int = 3) -> tuple[str, ...]:
    """The k checks that matter most: failures before warnings, heavier weights first."""
    ranked = sorted((c for c in checks if SEVERITY[c.status] > 0),
                    key=lambda c: (-SEVERITY[c.status], -deduction(c)))
    return tuple(c.id for c in ranked[:k])


def finding_phrase(check: CheckResult, metric: str) -> str:
    """A short clause for the verdict sentence."""
    d = check.details
    if check.id == "invitation_selectivity":
        covariates = [k for k, v in d.items() if k != "model" and isinstance(v, dict)]
        if not covariates:
            return "no interaction was offered the survey" if d.get("invited") == 0 else "surveys were offered selectively"
        top = max(covariates, key=lambda k: d[k].get("asmd") or 0)
        return f"surveys were offered selectively (invited interactions differ on {top})"
    if check.id == "representativeness":
        asmd = d.get("asmd", {})
        top = max(asmd, key=asmd.get) if asmd else "its covariates"
        return f"respondents do not look like the population (they differ on {top})"
    if check.id == "response_rate_skew":
        cols = [c for c, v in d.items() if isinstance(v, dict) and v.get("material")]
        return f"response rates differ by {', '.join(cols) or 'segment'}"
    if check.id == "nonresponse_adjustment" and d.get("adjusted") is not None:
        half = (d["ci_high"] - d["ci_low"]) / 2
        return (f"the population-weighted figure is {format_value(d['adjusted'], metric)} "
                f"± {format_points(half, metric)}")
    if check.id == "sample_size":
        moe = d.get("margin_of_error")
        return (f"n = {d.get('n')} gives a margin of error of ±{format_points(moe, metric)}"
                if moe is not None else "too few responses")
    if check.id == "data_quality":
        return f"{d.get('rows_dropped', 0):,} of {d.get('rows_read', 0):,} rows were unusable or problematic"
    if check.id == "response_rate":
        return (f"only {100 * d['rate']:.1f} % of invited customers answered" if d.get("rate") is not None
                else "no interaction was invited")
    first = check.summary.split(". ")[0].rstrip(".")
    # lower-case an ordinary first word ("Response rates"), not a name ("A07's lead")
    return first[:1].lower() + first[1:] if first[1:2].islower() else first


def claim_label(claim: Claim, metric_result: MetricResult) -> str:
    if claim.type == "best_unit":
        published = f" (published {format_value(claim.value, claim.metric)})" if claim.value is not None else ""
        return f"the award to {claim.unit}{published}"
    if claim.type == "change":
        change = f" of {format_points(claim.value, claim.metric)}" if claim.value is not None else ""
        return f"the published change{change} from {claim.before} to {claim.after}"
    if claim.value is not None:
        return f"the published {format_value(claim.value, claim.metric)} {METRIC_LABELS[claim.metric]}"
    return f"the {format_value(metric_result.estimate, claim.metric)} {METRIC_LABELS[claim.metric]}"


def verdict(grade: str, checks: Sequence[CheckResult], claim: Claim, metric_result: MetricResult) -> str:
    """One plain sentence an executive can read: can we stand behind the number?"""
    label = claim_label(claim, metric_result)
    by_id = {c.id: c for c in checks}
    findings = [by_id[i] for i in key_findings(checks, 2)]
    reasons = [finding_phrase(c, claim.metric) for c in findings]
    adj = by_id.get("nonresponse_adjustment")
    if adj is not None and adj.status == "fail" and adj not in findings:
        reasons.append(finding_phrase(adj, claim.metric))
    text = "; ".join(reasons)
    if grade in ("A", "B"):
        if any(c.status == "fail" for c in findings):
            return f"We can largely stand behind {label}, with reservations: {text}."
        tail = f" (minor: {text})" if text else ""
        return f"We can stand behind {label}: no material problem was found{tail}."
    if grade == "C":
        return f"Use {label} with caution: {text}."
    significance = by_id.get("claim_significance")
    judged = "is not supported" if significance is not None and significance.status == "fail" else "cannot be relied on"
    return f"{label[0].upper()}{label[1:]} {judged}: {text}."


def assess(checks: Sequence[CheckResult], claim: Claim, metric_result: MetricResult) -> Credibility:
    score, deductions, caps = credibility_score(checks)
    grade = grade_for(score)
    return Credibility(score=score, grade=grade, verdict=verdict(grade, checks, claim, metric_result),
                       deductions=deductions, caps=caps, key_findings=key_findings(checks))
