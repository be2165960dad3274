"""What share of invited interactions answered, and does that share differ by segment?

Checks `response_rate` (AAPOR 2023 RR1 with eligibility known, e = 1: the frame is the
list of in-scope interactions) and `response_rate_skew` (chi-square test of homogeneity
per segment column, Monte Carlo when sparse, Benjamini-Hochberg across the columns).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from audit.aggregates import Cells
from audit.contingency import adjust_pvalues, rate_homogeneity_test
from audit.data import AuditData
from audit.metrics import wilson_interval
from audit.results import CheckResult, not_applicable

LOW_RESPONSE_RATE = 0.10
MATERIAL_V = 0.10          # Cohen (1988) "small" effect for w / Cramér's V
MATERIAL_RATE_RATIO = 1.5  # METHODS §4.1
MIN_SEGMENT_INVITED = 30   # segments smaller than this do not enter the rate ratio
ALPHA = 0.05


def segment_counts(cells: Cells, column: str, success: str) -> pd.DataFrame:
    """Per level of `column`: trials (interactions) and successes (those with the 0/1 `success` flag)."""
    frame = pd.DataFrame({"trials": cells.n, "successes": cells.n * cells.flag(success)},
                         index=cells.keys[column].to_numpy())
    return frame.groupby(level=0).sum().sort_index()


def response_rate(data: AuditData) -> CheckResult:
    """RR1 = completes / invited interactions (AAPOR 2023, e = 1)."""
    title = "Response rate"
    if data.population is None:
        return not_applicable("response_rate", title,
                              "No interactions table was given, so the number of surveys offered is unknown.")
    cells = data.population.cells
    is_invited = cells.flag("invited")
    invited = int(cells.n[is_invited].sum())
    responded = int(cells.n[is_invited & cells.flag("responded")].sum())
    if invited == 0:
        return CheckResult("response_rate", "fail", title, "No interaction in the population was invited.",
                           details={"invited": 0, "responded": 0, "rate": None})
    iv = wilson_interval(responded, invited)
    coverage = invited / cells.total
    status = "warn" if iv.estimate < LOW_RESPONSE_RATE else "pass"
    summary = (f"{responded:,} of {invited:,} invited interactions answered: response rate "
               f"{100 * iv.estimate:.1f} % (95 % CI {100 * iv.ci_low:.1f}-{100 * iv.ci_high:.1f} %); "
               f"{100 * coverage:.1f} % of the {cells.total:,} interactions were invited.")
    if status == "warn":
        summary += (" A low rate does not prove bias (Groves & Peytcheva 2008), but it leaves room for it: "
                    "see representativeness.")
    return CheckResult("response_rate", status, title, summary, statistic=iv.estimate,
                       details={"invited": invited, "responded": responded, "rate": iv.estimate,
                                "ci_low": iv.ci_low, "ci_high": iv.ci_high, "population": cells.total,
                                "invitation_rate": coverage, "definition": "AAPOR RR1, e = 1"})


def _rate_ratio(counts: pd.DataFrame) -> float | None:
    big = counts[counts["trials"] >= MIN_SEGMENT_INVITED]
    if len(big) < 2:
        return None
    rates = big["successes"] / big["trials"]
    return float(rates.max() / rates.min()) if rates.min() > 0 else float("inf")


def response_rate_skew(data: AuditData, rng: np.random.Generator, *, n_simulations: int = 10_000) -> CheckResult:
    """Do response rates among invited interactions differ by segment beyond chance?"""
    title = "Response-rate skew by segment"
    if data.population is None:
        return not_applicable("response_rate_skew", title,
                              "No interactions table was given, so response rates by segment are unknown.")
    cells = data.population.cells
    invited = cells.subset(cells.flag("invited"))
    columns = [c for c in data.categorical if c in invited.keys.columns]
    tests, counts_by = {}, {}
    for column in columns:
        counts = segment_counts(invited, column, "responded")
        counts = counts[counts["trials"] > 0]
        if len(counts) < 2:
            continue
        tests[column] = rate_homogeneity_test(counts["successes"].to_numpy(), counts["trials"].to_numpy(),
                                              [str(i) for i in counts.index], rng=rng,
                                              n_simulations=n_simulations)
        counts_by[column] = counts
    if not tests:
        return not_applicable("response_rate_skew", title,
                              "The interactions table has no segment column (channel, agent, region, ...) "
                              "with at least two levels.")
    adjusted = adjust_pvalues([t.p_value for t in tests.values()], method="fdr_bh")
    details, material, significant = {}, [], []
    for (column, test), p_adj in zip(tests.items(), adjusted):
        ratio = _rate_ratio(counts_by[column])
        is_sig = p_adj < ALPHA
        is_material = is_sig and (test.cramers_v_corrected >= MATERIAL_V
                                  or (ratio is not None and ratio >= MATERIAL_RATE_RATIO))
        significant += [column] if is_sig else []
        material += [column] if is_material else []
        details[column] = {
            "chi2": test.chi2, "dof": test.dof, "p_value": test.p_value, "p_adjusted": float(p_adj),
            "p_adjustment": f"Benjamini-Hochberg over {len(tests)} columns", "method": test.method,
            "n_simulations": test.n_simulations, "cramers_v": test.cramers_v,
            "cramers_v_corrected": test.cramers_v_corrected, "rate_ratio": ratio,
            "rates": dict(zip(test.labels, test.rates)),
            "invited": dict(zip(test.labels, test.trials)), "responded": dict(zip(test.labels, test.successes)),
            "adjusted_residuals": dict(zip(test.labels, test.adjusted_residuals)),
            "material": is_material,
        }
    worst = min(details, key=lambda c: (details[c]["p_adjusted"], -details[c]["chi2"]))
    w = details[worst]
    if material:
        status = "fail"
        parts = []
        for column in material:
            rates = details[column]["rates"]
            hi, lo = max(rates, key=rates.get), min(rates, key=rates.get)
            parts.append(f"{column} ({hi}: {100 * rates[hi]:.0f} % vs {lo}: {100 * rates[lo]:.0f} %, "
                         f"V = {details[column]['cramers_v']:.2f})")
        summary = "Response rates differ materially by " + "; ".join(parts) + ", so those segments are over-represented."
    elif significant:
        status = "warn"
        summary = (f"Response rates differ by {', '.join(significant)} beyond chance, but the differences are "
                   f"small (Cramér's V < {MATERIAL_V}, rate ratio < {MATERIAL_RATE_RATIO}).")
    else:
        status = "pass"
        summary = (f"No segment's response rate differs beyond chance ({len(tests)} columns tested, "
                   f"smallest adjusted p = {w['p_adjusted']:.2f}).")
    return CheckResult("response_rate_skew", status, title, summary, statistic=w["chi2"],
                       p_value=w["p_adjusted"], effect_size=w["cramers_v"], details=details)
