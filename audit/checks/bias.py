"""Were surveys offered to a biased subset, do respondents look like the population, and
what does the metric become once they are weighted back to it?

Checks `invitation_selectivity` (invited vs not-invited interactions), `representativeness`
(respondents vs all interactions in scope: ASMD as Meta's `balance` computes it, and the
R-indicator of Schouten, Cobben & Bethlehem 2009) and `nonresponse_adjustment` (raking,
Deming & Stephan 1940, of respondents to the population margins; Kish design effect).

Imbalance is called only when it is both material (ASMD thresholds of Austin 2009 and
Stuart 2010: 0.1 and 0.25) and beyond chance (likelihood-ratio test of the logistic
propensity model against the intercept-only model, alpha 0.05): with 20,000 interactions
every difference is "significant", with 200 every ASMD is noisy.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from audit.aggregates import MISSING, Cells, bin_index, category_text, integral_as_int
from audit.aggregates import usable_covariates as cell_covariates
from audit.data import AuditData, claim_responses, interaction_positions
from audit.headline import format_p, format_points, format_value, level_label, metric_range, metric_variable
from audit.results import CheckResult, not_applicable
from audit.weighting import (asmd_from_moments, invitation_auc, level_entry, rake, representativeness_indicators,
                             response_propensities, weighted_mean_se, weighted_moments)

ASMD_WARN, ASMD_FAIL = 0.10, 0.25
ALPHA = 0.05
# the interactions are aggregated into cells (audit.aggregates); a numeric covariate enters
# the propensity models at the mean of its quintile
NUMERIC_IN_MODEL = "linear, at the mean of its quintile (grouped binomial fit)"
MIN_CELL = 5               # raking categories with fewer respondents are pooled
MATERIALITY = 0.02         # share of the metric's range: 2 points of a top-box share
FRAGILE_DEFF = 2.0         # Kish deff above which weights are fragile (n_eff < n/2)
Z95 = stats.norm.ppf(0.975)


def usable_covariates(cells: Cells, data: AuditData) -> tuple[list[str], list[str]]:
    """The categorical and numeric covariates that vary among the interactions in `cells`."""
    return cell_covariates(cells, data.categorical, data.numeric)


def covariate_frame(frame: pd.DataFrame, categorical: list[str], numeric: list[str]) -> pd.DataFrame:
    """Covariates of rows as the cells hold them: categorical values as text (missing as its
    own level, whole-number floats without '.0'; a pandas categorical stays one, of those
    texts), numeric ones as floats."""
    out = pd.DataFrame(index=frame.index)
    for c in categorical:
        values = integral_as_int(frame[c])
        if isinstance(values.dtype, pd.CategoricalDtype):
            # written as text once per category, and kept a categorical: a million rows' text
            # is ~13 MB a covariate, their codes 1 MB
            labels = category_text(pd.Series(values.cat.categories, dtype=values.dtype)).tolist()
            if len(set(labels)) == len(labels) and MISSING not in labels:
                codes = values.cat.codes.to_numpy()
                out[c] = pd.Categorical.from_codes(np.where(codes < 0, len(labels), codes), labels + [MISSING])
                continue
        if pd.api.types.is_integer_dtype(values):
            # written as text once per distinct number: formatting a million numbers takes seconds
            codes, distinct = pd.factorize(values, use_na_sentinel=False)
            out[c] = category_text(pd.Series(distinct)).array.take(codes)
        else:
            out[c] = category_text(values).array
    for c in numeric:
        out[c] = frame[c].astype(float)
    return out


def propensity_test(covs: pd.DataFrame, y: np.ndarray, categorical: list[str], numeric: list[str],
                    rho: np.ndarray | None = None, weights: np.ndarray | None = None
                    ) -> tuple[np.ndarray, float, int, float]:
    """Fit P(y = 1 | covariates) (unless the fitted `rho` is given) and test the model
    against the intercept-only one; `weights`: interactions per row (grouped binomial).

    Returns (propensities, likelihood-ratio chi2, dof, p). Wilks (1938): 2(ℓ1 − ℓ0) ~ χ²_df.
    """
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    if rho is None:
        rho = response_propensities(covs.assign(_y=y), "_y", categorical + numeric, categorical=categorical,
                                    freq_weights=w)
    rho = np.clip(rho, 1e-12, 1 - 1e-12)
    ybar = np.dot(w, y) / w.sum()
    ll1 = np.dot(w, y * np.log(rho) + (1 - y) * np.log(1 - rho))
    ll0 = np.dot(w, y * np.log(ybar) + (1 - y) * np.log(1 - ybar))
    dof = sum(covs[c].nunique() - 1 for c in categorical) + len(numeric)
    lr = max(0.0, 2 * (ll1 - ll0))
    return rho, float(lr), int(dof), float(stats.chi2.sf(lr, dof)) if dof > 0 else 1.0


def imbalance_status(max_asmd: float, p_value: float) -> str:
    if p_value >= ALPHA or max_asmd < ASMD_WARN:
        return "pass"
    return "fail" if max_asmd >= ASMD_FAIL else "warn"


def _group_summary(invited: Cells, others: Cells, column: str, is_cat: bool) -> dict:
    if is_cat:
        # plain dicts: a lookup in a Series of text labels costs a millisecond
        a = (invited.level_counts(column) / invited.total).to_dict()
        b = (others.level_counts(column) / others.total).to_dict()
        levels = sorted(set(a) | set(b), key=str)
        return {str(k): {"invited": float(a.get(k, 0.0)), "not_invited": float(b.get(k, 0.0)),
                         "difference": float(a.get(k, 0.0) - b.get(k, 0.0))} for k in levels}
    x, y = invited.moments(column)[1], others.moments(column)[1]
    return {"invited": float(x), "not_invited": float(y), "difference": float(x - y)}


def invitation_selectivity(data: AuditData) -> CheckResult:
    """Were surveys offered to a biased subset of interactions? (invited vs not invited)"""
    title = "Invitation selectivity"
    pop = data.population
    if pop is None:
        return not_applicable("invitation_selectivity", title,
                              "No interactions table was given: which interactions were offered a survey is unknown.")
    if not pop.has_invited:
        return not_applicable("invitation_selectivity", title,
                              "The interactions table has no 'invited' column, so it cannot show whether surveys "
                              "were offered to a subset; SPEC treats every interaction as invited.")
    cells = pop.cells
    invited = cells.flag("invited")
    n_inv, n_not = int(cells.n[invited].sum()), int(cells.n[~invited].sum())
    if n_not == 0:
        return CheckResult("invitation_selectivity", "pass", title,
                           "Every interaction in scope was offered the survey: there was no selection.",
                           details={"invited": n_inv, "not_invited": 0})
    if n_inv == 0:
        return CheckResult("invitation_selectivity", "fail", title, "No interaction was offered the survey.",
                           details={"invited": 0, "not_invited": n_not})
    cats, nums = usable_covariates(cells, data)
    if not cats and not nums:
        return not_applicable("invitation_selectivity", title,
                              "The interactions table has no covariate (channel, resolved, handle time, ...) "
                              "to compare invited and not-invited interactions on.")
    inv_cells, not_cells = cells.subset(invited), cells.subset(~invited)
    # where the not-invited interactions do not vary (one of them, or all on one channel) their
    # SD is zero: the SD of all interactions (METHODS §9.1's other target) keeps the gap visible
    levels, by_cov = asmd_from_moments(inv_cells.covariate_moments(cats, nums),
                                       not_cells.covariate_moments(cats, nums),
                                       fallback=cells.covariate_moments(cats, nums))
    rho, lr, dof, p = propensity_test(cells.model_frame(cats, nums), invited.astype(int), cats, nums,
                                      weights=cells.n)
    auc = invitation_auc(rho[invited], rho[~invited], weights_invited=cells.n[invited],
                         weights_not_invited=cells.n[~invited])
    max_level = levels.drop("mean(asmd)")
    top = level_label(max_level.idxmax())
    details = {}
    level_asmd = levels.to_dict()
    for c in cats + nums:
        entry = {"asmd": float(by_cov[c])}
        summary = _group_summary(inv_cells, not_cells, c, c in cats)
        if c in cats:
            for k, v in summary.items():
                v["asmd"] = float(level_asmd.get(level_entry(c, k), np.nan))
            entry["levels"] = summary
        else:
            entry.update(summary)
        details[c] = entry
    status = imbalance_status(float(max_level.max()), p)
    head = (f"{n_inv:,} of {cells.total:,} interactions were offered the survey. ")
    if status == "pass":
        summary = head + (f"Invited and not-invited interactions look alike (largest ASMD {max_level.max():.2f} "
                          f"on {top}; model test {format_p(p)}, AUC {auc:.2f}).")
    else:
        summary = head + (f"Invitations were selective: invited interactions differ on {top} "
                          f"(ASMD {max_level.max():.2f}); a model predicts who was invited with AUC {auc:.2f} "
                          f"(0.5 = random; likelihood-ratio {format_p(p)}).")
    return CheckResult("invitation_selectivity", status, title, summary, statistic=lr, p_value=p,
                       effect_size=float(max_level.max()),
                       details={**details, "model": {"test": "likelihood ratio vs intercept-only logistic model",
                                                     "chi2": lr, "dof": dof, "p_value": p, "auc": auc,
                                                     "invited": n_inv, "not_invited": n_not,
                                                     "numeric_covariates": NUMERIC_IN_MODEL}})


def representativeness(data: AuditData) -> CheckResult:
    """Do respondents look like the interactions the claim describes?"""
    title = "Representativeness of respondents"
    scope = data.population.scope if data.population is not None else None
    if scope is None:
        return not_applicable("representativeness", title,
                              "No interactions table was given, so respondents cannot be compared with the population.")
    responded = scope.flag("responded")
    if scope.n[responded].sum() < 2 or scope.n[~responded].sum() < 2:
        return not_applicable("representativeness", title,
                              "Fewer than two respondents or two non-respondents among the interactions in scope.")
    cats, nums = usable_covariates(scope, data)
    if not cats and not nums:
        return not_applicable("representativeness", title,
                              "The interactions table has no covariate to compare respondents with the population on.")
    covs = scope.model_frame(cats, nums)
    levels, by_cov = asmd_from_moments(scope.subset(responded).covariate_moments(cats, nums),
                                       scope.covariate_moments(cats, nums))
    y = metric_variable(claim_responses(data)["score"], data.claim.metric, data.scale)
    ind = representativeness_indicators(covs.assign(_responded=responded.astype(int)), "_responded",
                                        cats + nums, categorical=cats, freq_weights=scope.n,
                                        y_sd=float(np.std(y, ddof=1)) if len(y) > 1 else None)
    _, lr, dof, p = propensity_test(covs, responded.astype(int), cats, nums, rho=ind.propensities,
                                    weights=scope.n)
    max_level = levels.drop("mean(asmd)")
    top = level_label(max_level.idxmax())
    status = imbalance_status(float(max_level.max()), p)
    if status == "pass":
        summary = (f"Respondents look like the {scope.total:,} interactions in scope (largest ASMD "
                   f"{max_level.max():.2f}; R-indicator {ind.r_indicator:.2f}).")
    else:
        summary = (f"Respondents differ from the population on {top} (ASMD {max_level.max():.2f}); "
                   f"R-indicator {ind.r_indicator:.2f} (1 = fully representative).")
        if ind.max_bias_bound is not None:
            summary += (f" Non-response could bias the metric by up to "
                        f"{format_points(ind.max_bias_bound, data.claim.metric)}.")
    return CheckResult("representativeness", status, title, summary, statistic=lr, p_value=p,
                       effect_size=float(max_level.max()),
                       details={"asmd": {c: float(by_cov[c]) for c in cats + nums},
                                "asmd_levels": {k: float(v) for k, v in max_level.items()},
                                "mean_asmd": float(levels["mean(asmd)"]),
                                "r_indicator": ind.r_indicator, "s_rho": ind.s_rho,
                                "mean_propensity": ind.mean_propensity, "cv": ind.cv,
                                "max_bias_bound": ind.max_bias_bound,
                                "partial_r_unconditional": ind.partial_unconditional,
                                "partial_r_conditional": ind.partial_conditional,
                                "partial_r_by_category": ind.partial_unconditional_by_category,
                                "model": {"chi2": lr, "dof": dof, "p_value": p,
                                          "propensity": "logistic GLM of responded on the covariates",
                                          "numeric_covariates": NUMERIC_IN_MODEL}})


def raking_categories(scope: Cells, linked: pd.DataFrame, column: str,
                      numeric: bool) -> tuple[dict[str, int], pd.Categorical]:
    """Raking categories of one covariate: the population's counts and each respondent's category.

    Numeric covariates are cut at population quintiles. Categories with fewer than
    MIN_CELL respondents are pooled into '(other)', which joins the largest category if it
    is still too small: a population category without respondents cannot be weighted to.
    """
    if numeric:
        p_counts = pd.Series(scope.n, index=scope.bins[column].astype(str).to_numpy()).groupby(level=0).sum()
        codes, values = pd.factorize(bin_index(linked[column], scope.edges[column]))
    else:
        p_counts = scope.level_counts(column)
        codes, values = pd.factorize(linked[column])
    labels = [str(v) for v in values]
    # respondents per category as value_counts orders them: most first, ties by first appearance
    counts = pd.Series(np.bincount(codes, minlength=len(labels)), index=labels).sort_values(ascending=False,
                                                                                         kind="stable")
    small = [k for k in p_counts.index if counts.get(k, 0) < MIN_CELL]
    if small:
        rename = dict.fromkeys(small, "(other)")
        if counts[counts.index.isin(small)].sum() < MIN_CELL:
            kept = counts[~counts.index.isin(small)]
            largest = kept.idxmax() if len(kept) else "(other)"
            rename = dict.fromkeys(small, largest)
        p_counts = p_counts.rename(index=rename).groupby(level=0).sum()
        labels = [rename.get(k, k) for k in labels]
    # the respondents' categories as codes into the (few) labels, never a million strings
    merged, categories = pd.factorize(np.array(labels, dtype=object))
    return {k: int(v) for k, v in p_counts.items()}, pd.Categorical.from_codes(merged[codes], categories)


def nonresponse_adjustment(data: AuditData) -> CheckResult:
    """Claimed (unweighted) vs population-weighted metric: raking of respondents to the
    population margins of every covariate; SE by Taylor linearisation (weights fixed)."""
    title = "Non-response adjustment"
    scope = data.population.scope if data.population is not None else None
    metric = data.claim.metric
    if scope is None:
        return not_applicable("nonresponse_adjustment", title,
                              "No interactions table was given, so there are no population margins to weight to.")
    resp = claim_responses(data)
    cats, nums = usable_covariates(scope, data)
    rows = data.population.linked
    rows = rows.loc[rows["_in_scope"], ["interaction_id"] + cats + nums]
    # each response beside its interaction's covariates (an inner join on the id, in the
    # responses' order; the interactions' ids are unique)
    at = interaction_positions(resp["interaction_id"], rows["interaction_id"])
    found = at >= 0
    linked = pd.concat([resp.loc[found, ["interaction_id", "score"]].reset_index(drop=True),
                        covariate_frame(rows, cats, nums).iloc[at[found]].reset_index(drop=True)], axis=1)
    if len(linked) < MIN_CELL or not (cats or nums):
        return not_applicable("nonresponse_adjustment", title,
                              "Too few responses link to the interactions table, or it has no covariates, "
                              "to weight respondents back to the population.")
    margins, sample_cols = {}, {}
    for c in cats + nums:
        counts, r_cat = raking_categories(scope, linked, c, c in nums)
        if len(counts) < 2:
            continue
        margins[c] = counts
        sample_cols[c] = r_cat
    y = metric_variable(linked["score"], metric, data.scale)
    # the claimed figure on the same (linked) responses, so that unlinked rows are not
    # mistaken for a non-response shift; the figure over all responses is reported beside it
    claimed = float(np.mean(y))
    claimed_all = float(np.mean(metric_variable(resp["score"], metric, data.scale)))
    if not margins:
        return not_applicable("nonresponse_adjustment", title,
                              "No covariate varies among the interactions in scope; nothing to weight on.")
    fit = rake(pd.DataFrame(sample_cols, index=linked.index), margins)
    w = fit.weights
    # balance after weighting: the raked respondents vs the population on the same ASMD as
    # `representativeness` (balance's definition, target SD, union levels), so that the two
    # can be read side by side; covariates raked on quintiles are compared on their values
    _, by_cov_after = asmd_from_moments(weighted_moments(linked, cats, nums, weights=w),
                                        scope.covariate_moments(cats, nums))
    asmd_after = {c: float(by_cov_after[c]) for c in cats + nums}
    adjusted = float(np.sum(w * y) / np.sum(w))
    se = weighted_mean_se(y, w)
    low, high = adjusted - Z95 * se, adjusted + Z95 * se
    if metric == "top2box":
        low, high = max(0.0, low), min(1.0, high)
    diff = claimed - adjusted
    material = MATERIALITY * metric_range(metric, data.scale)
    half = Z95 * se
    if abs(diff) > max(half, material):
        status = "fail"
    elif abs(diff) > material or fit.design_effect > FRAGILE_DEFF or not fit.converged:
        status = "warn"
    else:
        status = "pass"
    summary = (f"Claimed {format_value(claimed, metric)} (n = {len(resp):,}) → population-weighted "
               f"{format_value(adjusted, metric)} (95 % CI {format_value(low, metric)}–{format_value(high, metric)}), "
               f"a shift of {format_points(-diff, metric)}; design effect {fit.design_effect:.2f}, "
               f"effective n {fit.effective_n:,.0f}.")
    if status == "fail":
        summary += " The shift is larger than the weighted estimate's own margin of error."
    summary += " Weighting removes only the bias its covariates explain."
    return CheckResult("nonresponse_adjustment", status, title, summary, statistic=diff,
                       effect_size=diff / material if material else None,
                       details={"claimed": claimed, "claimed_all_responses": claimed_all,
                                "published": data.claim.value, "adjusted": adjusted,
                                "se": se, "ci_low": low, "ci_high": high, "difference": diff,
                                "design_effect": fit.design_effect, "effective_n": fit.effective_n,
                                "max_weight_ratio": fit.max_ratio, "method": "raking (IPF)",
                                "variables": sorted(margins), "converged": fit.converged,
                                "iterations": fit.iterations, "linked_responses": len(linked),
                                "materiality": material, "asmd_after": asmd_after})
