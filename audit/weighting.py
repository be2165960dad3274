"""Representativeness of the respondents and non-response weighting (METHODS §5, §9.1).

The auditor's questions answered here:

* do respondents look like the interactions the metric claims to describe? — absolute
  standardized mean differences (ASMD, §5.1) and the R-indicator with its partial indicators
  (§5.2);
* what would the metric be if they did? — post-stratification and raking weights (§5.4), the
  Kish design effect of those weights (§5.3) and the linearised standard error of the weighted
  mean;
* were invitations handed to a predictable subset of interactions? — AUC of the invitation
  scores (§9.1).

Everything is hand-written on numpy/pandas/statsmodels; Meta's ``balance`` package is used
only as the test oracle (its pins on numpy/scipy keep it out of the runtime requirements).
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import mannwhitneyu
from statsmodels.genmod.families import Binomial
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from audit.errors import InputError

ArrayLike = npt.ArrayLike

#: Level given to a missing categorical value (balance's ``add_na_indicator`` uses the same),
#: so that "unknown channel" is compared like any other level instead of vanishing.
MISSING_LEVEL = "_NA"
#: Name of the summary entry that closes every ASMD series (as in balance).
MEAN_ASMD = "mean(asmd)"


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _is_categorical(series: pd.Series) -> bool:
    """Object, string, category and bool columns are categorical; other numerics are not."""
    return bool(pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series))


def _sorted_levels(values: pd.Series) -> list:
    """Observed levels in the order pd.get_dummies would give (declared order for categoricals)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return list(values.cat.categories)
    observed = pd.unique(values.dropna())
    try:
        return sorted(observed)
    except TypeError:  # mixed types: sort on their text so the order is still reproducible
        return sorted(observed, key=str)


def _filled(values: pd.Series) -> pd.Series:
    """Categorical column with missing values replaced by the explicit ``MISSING_LEVEL``."""
    if not values.isna().any():
        return values
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.cat.add_categories([MISSING_LEVEL])
    return values.astype(object).where(values.notna(), MISSING_LEVEL)


def _levels_of(values: pd.Series) -> list:
    levels = _sorted_levels(values)
    if values.isna().any():
        levels.append(MISSING_LEVEL)
    return levels


def category_positions(values: pd.Series, categories: Sequence) -> np.ndarray:
    """Position of each row's value in ``categories``, −1 for a value not among them or missing.

    Question answered: which category is each row in? As
    ``pd.Index(categories).get_indexer(values)``, but each distinct value is looked up once
    (a million text values otherwise take seconds).
    """
    codes, distinct = pd.factorize(values)
    return np.append(pd.Index(list(categories)).get_indexer(distinct), -1)[codes]


def text_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Each row's level as read in text, and the levels: `pd.factorize(values.astype(str),
    sort=True)` (missing: code −1).

    A categorical's text is that of its categories, so only they are converted and sorted,
    not a million rows (0.6 s for the segments of 1M linked interactions)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return pd.factorize(values.astype(str), sort=True)
    codes = values.cat.codes.to_numpy()
    used = np.flatnonzero(np.bincount(codes + 1, minlength=len(values.cat.categories) + 1)[1:])
    level_codes, levels = pd.factorize(values.cat.categories[used].astype(str), sort=True)
    # row code → its category's level; −1 (missing) reads the last slot
    lookup = np.full(len(values.cat.categories) + 1, -1, dtype=np.intp)
    lookup[used] = level_codes
    return lookup[codes], levels


def _weights_array(weights: ArrayLike | None, n: int, what: str) -> np.ndarray:
    """Validated non-negative finite weights of length n (ones when None); positional, no index alignment."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float).reshape(-1)
    if w.shape[0] != n:
        raise InputError(f"{what} has {w.shape[0]} values for {n} rows", expected=f"{n} weights")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError(f"{what} contains negative, missing or infinite values",
                         expected="finite non-negative weights")
    if w.sum() <= 0:
        raise InputError(f"{what} sum to zero", expected="at least one positive weight")
    return w


def _weighted_mean_sd(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and SD with reliability weights, V1/(V1²−V2)·Σw(x−x̄)² (balance's weighted_var).

    Missing x are dropped together with their weights, column by column.
    """
    keep = ~np.isnan(x)
    x, w = x[keep], w[keep]
    v1 = w.sum()
    if v1 <= 0:
        return np.nan, np.nan
    mean = float(np.dot(w, x) / v1)
    denominator = v1 ** 2 - np.dot(w, w)
    if denominator <= 0:  # a single unit: the SD is undefined
        return mean, np.nan
    var = v1 / denominator * float(np.dot(w, (x - mean) ** 2))
    return mean, float(np.sqrt(max(var, 0.0)))


# --------------------------------------------------------------------------------------------
# §5.1 ASMD
# --------------------------------------------------------------------------------------------

def one_hot(frame: pd.DataFrame, columns: Sequence[str], *,
            levels: Mapping[str, Sequence] | None = None) -> pd.DataFrame:
    """Design frame for balance comparisons: one 0/1 dummy per level, named ``"col[level]"``.

    Question answered: which share of the rows falls in each level of each categorical
    covariate, on a level set that is the same for every frame compared?

    Categorical columns (object, string, category, bool) become one float dummy per level;
    numeric columns are passed through as float, missing values kept as NaN. ``levels`` fixes
    the level set (and order) of a column — pass the **union** of the levels of the frames to be
    compared, otherwise a level absent from one frame silently drops out of the comparison
    (METHODS §5.1 trap 3). Without ``levels`` the observed levels are used, sorted as
    ``pd.get_dummies`` sorts them (declared order for pandas categoricals). A missing
    categorical value is its own level ``"_NA"`` (as in balance, Sarig, Galili & Eilat 2023).

    Raises InputError when a column is absent or holds a value outside the given ``levels``.
    """
    levels = dict(levels or {})
    parts: dict[str, pd.Series] = {}
    for column in columns:
        if column not in frame.columns:
            raise InputError("column not found", column=column,
                             expected=f"one of {list(map(str, frame.columns))}")
        values = frame[column]
        if column not in levels and not _is_categorical(values):
            parts[str(column)] = values.astype(float)
            continue
        filled = _filled(values)
        column_levels = list(levels[column]) if column in levels else _levels_of(values)
        unknown = set(pd.unique(filled)) - set(column_levels)
        if unknown:
            raise InputError(f"values {sorted(map(str, unknown))} are not among the levels given",
                             column=str(column), expected=f"one of {list(map(str, column_levels))}")
        for level in column_levels:
            parts[f"{column}[{level}]"] = (filled == level).astype(float)
    return pd.DataFrame(parts, index=frame.index)


def _union_levels(sample: pd.DataFrame, target: pd.DataFrame,
                  categorical: Sequence[str]) -> dict[str, list]:
    """Levels of each categorical column over both frames, ordered as pd.get_dummies orders them."""
    union: dict[str, list] = {}
    for column in sample.columns:
        a, b = sample[column], target[column]
        if not (column in categorical or _is_categorical(a) or _is_categorical(b)):
            continue
        merged = [lv for lv in _levels_of(a) if lv != MISSING_LEVEL]
        merged += [lv for lv in _levels_of(b) if lv != MISSING_LEVEL and lv not in merged]
        if not (isinstance(a.dtype, pd.CategoricalDtype) or isinstance(b.dtype, pd.CategoricalDtype)):
            try:
                merged = sorted(merged)
            except TypeError:
                merged = sorted(merged, key=str)
        if a.isna().any() or b.isna().any():
            merged.append(MISSING_LEVEL)
        union[column] = merged
    return union


def _asmd_table(sample: pd.DataFrame, target: pd.DataFrame, sample_weights: ArrayLike | None,
                target_weights: ArrayLike | None, std_type: str,
                categorical: Sequence[str]) -> tuple[pd.Series, dict[str, str]]:
    """Per-dummy ASMD (no summary row) and the map dummy → original covariate."""
    if std_type not in ("target", "pooled", "sample"):
        raise ValueError(f"std_type must be 'target', 'pooled' or 'sample', not {std_type!r}")
    if set(sample.columns) != set(target.columns):
        raise InputError("sample and target must have the same covariates",
                         expected=f"sample columns {list(sample.columns)} = target columns {list(target.columns)}")
    columns = list(sample.columns)
    union = _union_levels(sample, target[columns], categorical)
    xs = one_hot(sample, columns, levels=union)
    xt = one_hot(target[columns], columns, levels=union)
    ws = _weights_array(sample_weights, len(sample), "sample_weights")
    wt = _weights_array(target_weights, len(target), "target_weights")
    owner = {}
    for column in columns:
        if column in union:
            owner.update({f"{column}[{level}]": str(column) for level in union[column]})
        else:
            owner[str(column)] = str(column)
    values = {}
    for name in xs.columns:
        mean_s, sd_s = _weighted_mean_sd(xs[name].to_numpy(float), ws)
        mean_t, sd_t = _weighted_mean_sd(xt[name].to_numpy(float), wt)
        if std_type == "target":
            sd = sd_t
        elif std_type == "sample":
            sd = sd_s
        else:  # unweighted average of the two variances, whatever the group sizes (balance)
            sd = float(np.sqrt((sd_s ** 2 + sd_t ** 2) / 2))
        # a zero SD (level absent from the reference frame, constant column) leaves the ASMD
        # undefined; balance turns ±inf into NaN and we keep its convention
        values[name] = abs(mean_s - mean_t) / sd if sd > 0 else np.nan
    return pd.Series(values, dtype=float), owner


def _covariate_means(table: pd.Series, owner: Mapping[str, str]) -> pd.Series:
    """Mean ASMD of each covariate's dummies, NaN counting as 0 (balance's aggregation)."""
    groups: dict[str, list[float]] = {}
    for name, value in table.items():
        groups.setdefault(owner[name], []).append(0.0 if np.isnan(value) else float(value))
    return pd.Series({k: float(np.mean(v)) for k, v in groups.items()}, dtype=float)


def _with_means(table: pd.Series, owner: Mapping[str, str]) -> tuple[pd.Series, pd.Series]:
    """Per-entry and per-covariate ASMD series, each closed by "mean(asmd)" (every covariate counting once)."""
    per_covariate = _covariate_means(table, owner)
    overall = float(per_covariate.mean()) if len(per_covariate) else np.nan
    levels, by_covariate = table.copy(), per_covariate.copy()
    levels[MEAN_ASMD] = overall
    by_covariate[MEAN_ASMD] = overall
    return levels, by_covariate


def asmd(sample: pd.DataFrame, target: pd.DataFrame, *, sample_weights: ArrayLike | None = None,
         target_weights: ArrayLike | None = None,
         std_type: Literal["target", "pooled", "sample"] = "target",
         categorical: Sequence[str] = ()) -> pd.Series:
    """Absolute standardized mean difference of every covariate dummy, sample vs target.

    Question answered: by how many standard deviations does the (weighted) sample mean of each
    covariate, or the sample share of each categorical level, differ from the target's?

        ASMD_j = |x̄_j(sample) − x̄_j(target)| / sd_j

    with weighted means, and sd_j the target's weighted SD with reliability weights,
    sqrt(V1/(V1² − V2)·Σ w(x − x̄)²), V1 = Σw, V2 = Σw² (the n − 1 SD for unit weights);
    ``std_type='sample'`` uses the sample's SD, ``'pooled'`` sqrt((sd_s² + sd_t²)/2).
    This is balance's ``asmd`` (Sarig, Galili & Eilat 2023) applied to a one-hot frame with
    **all levels of the union** of both frames (METHODS §5.1 path 1): categorical columns
    (object/string/category/bool, or listed in ``categorical``) are one-hot encoded, numeric
    columns kept. The last entry, ``"mean(asmd)"``, averages the entries giving each dummy the
    weight 1/(number of levels of its covariate), so that every covariate counts once; an
    undefined ASMD (zero SD: a level absent from the reference frame, a constant column) is NaN
    and counts as 0 in that mean, as in balance. Unitless (standard deviations).
    Thresholds: < 0.1 negligible (Normand et al. 2001; Austin 2009), > 0.25 large (Stuart 2010).

    Deliberate difference from balance: missing numeric values are dropped column by column
    (balance fills them with 0); complete data give balance's numbers to the last digit.
    Weights are taken positionally (no index alignment).
    """
    return asmd_summary(sample, target, sample_weights=sample_weights, target_weights=target_weights,
                        std_type=std_type, categorical=categorical)[0]


def asmd_summary(sample: pd.DataFrame, target: pd.DataFrame, *,
                 sample_weights: ArrayLike | None = None, target_weights: ArrayLike | None = None,
                 std_type: Literal["target", "pooled", "sample"] = "target",
                 categorical: Sequence[str] = ()) -> tuple[pd.Series, pd.Series]:
    """Both :func:`asmd` and :func:`asmd_by_covariate` from one pass over the data."""
    return _with_means(*_asmd_table(sample, target, sample_weights, target_weights, std_type, categorical))


def asmd_by_covariate(sample: pd.DataFrame, target: pd.DataFrame, *,
                      sample_weights: ArrayLike | None = None, target_weights: ArrayLike | None = None,
                      std_type: Literal["target", "pooled", "sample"] = "target",
                      categorical: Sequence[str] = ()) -> pd.Series:
    """ASMD aggregated to one value per original covariate, then ``"mean(asmd)"``.

    Question answered: how imbalanced is each covariate as a whole? A categorical covariate's
    value is the mean of its level ASMDs (NaN counting as 0) — balance's
    ``aggregate_by_main_covar=True`` (Sarig, Galili & Eilat 2023). Same arguments and units as
    :func:`asmd`; covariates in the sample's column order.
    """
    return asmd_summary(sample, target, sample_weights=sample_weights, target_weights=target_weights,
                        std_type=std_type, categorical=categorical)[1]


@dataclass(frozen=True)
class CovariateMoments:
    """Mean and SD of every covariate entry: one per categorical level ("col[level]", a share)
    and one per numeric covariate ("col"), plus the map entry → covariate. SDs use n − 1
    (frequency weights) so that grouped data give the row-level figures."""

    mean: pd.Series
    sd: pd.Series
    owner: dict[str, str]
    covariates: tuple[str, ...]


def level_entry(column: str, level: object) -> str:
    return f"{column}[{level}]"


def weighted_moments(frame: pd.DataFrame, categorical: Sequence[str], numeric: Sequence[str], *,
                     weights: ArrayLike | None = None) -> CovariateMoments:
    """Weighted mean (and reliability-weighted SD, as balance) of each level share and numeric covariate."""
    w = _weights_array(weights, len(frame), "weights")
    mean, sd, owner = {}, {}, {}
    for column in categorical:
        # levels as integer codes: comparing a million strings once per level is the slow part
        codes, levels = text_codes(frame[column])
        for j, level in enumerate(levels):
            name = level_entry(column, level)
            mean[name], sd[name] = _weighted_mean_sd((codes == j).astype(float), w)
            owner[name] = column
    for column in numeric:
        mean[column], sd[column] = _weighted_mean_sd(frame[column].to_numpy(float), w)
        owner[column] = column
    return CovariateMoments(pd.Series(mean, dtype=float), pd.Series(sd, dtype=float), owner,
                            tuple(categorical) + tuple(numeric))


def asmd_from_moments(sample: CovariateMoments, target: CovariateMoments, *,
                      fallback: CovariateMoments | None = None) -> tuple[pd.Series, pd.Series]:
    """`asmd_summary` (target SD) from the moments of the two groups: per entry and per covariate,
    each closed by "mean(asmd)".

    A level present in one group only has share 0 in the other; a zero target SD leaves the
    entry undefined (NaN, counting as 0 in the means), as in balance, unless `fallback` (e.g.
    both groups together) has a positive SD for it, which then stands in. Entries are ordered
    by covariate (the sample's order), levels sorted as text.
    """
    values, owner = {}, {}
    for column in sample.covariates:
        names = sorted({n for m in (sample, target) for n, o in m.owner.items() if o == column},
                       key=lambda n: (n != column, n))
        for name in names:
            sd = float(target.sd.get(name, 0.0))
            if not sd > 0 and fallback is not None:
                sd = float(fallback.sd.get(name, 0.0))
            diff = float(sample.mean.get(name, 0.0)) - float(target.mean.get(name, 0.0))
            values[name] = abs(diff) / sd if sd > 0 else np.nan
            owner[name] = column
    return _with_means(pd.Series(values, dtype=float), owner)


# --------------------------------------------------------------------------------------------
# §5.2 response propensities and R-indicators
# --------------------------------------------------------------------------------------------

def _categorical_set(frame: pd.DataFrame, covariates: Sequence[str],
                     categorical: Sequence[str] | None) -> list[str]:
    listed = set(categorical or ())
    stray = listed - set(covariates)
    if stray:
        raise InputError(f"categorical covariates {sorted(stray)} are not among the covariates",
                         expected=f"a subset of {list(covariates)}")
    return [c for c in covariates if c in listed or _is_categorical(frame[c])]


def _response_vector(frame: pd.DataFrame, response: str) -> np.ndarray:
    if response not in frame.columns:
        raise InputError("response column not found", column=response)
    values = frame[response]
    if values.isna().any():
        raise InputError("response indicator has missing values", column=response, expected="0/1")
    if not (pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values)):
        raise InputError("response indicator must be 0/1", column=response, expected="0/1 or True/False")
    y = values.to_numpy(float)
    if not np.isin(y, (0.0, 1.0)).all():
        raise InputError("response indicator must be 0/1", column=response, expected="0/1 or True/False")
    return y


def _logit_design(frame: pd.DataFrame, covariates: Sequence[str], categorical: Sequence[str]) -> np.ndarray:
    """Intercept, treatment-coded dummies (first level dropped) and numeric covariates.

    Constant columns are dropped: they are collinear with the intercept, so the fitted
    propensities are the same with or without them.
    """
    columns = [np.ones(len(frame))]
    for column in covariates:
        values = frame[column]
        if column in categorical:
            filled = _filled(values).astype(object)
            # observed levels only: an unused declared category would leave no reference level
            levels = _sorted_levels(filled)
            position = category_positions(filled, levels)
            columns += [(position == k).astype(float) for k in range(1, len(levels))]
        else:
            if values.isna().any():
                raise InputError("numeric covariate has missing values", column=column,
                                 expected="a value in every row (or declare it categorical)")
            columns.append(values.to_numpy(float))
    design = np.column_stack(columns)
    keep = [0] + [j for j in range(1, design.shape[1]) if np.ptp(design[:, j]) > 0]
    return design[:, keep]


def distinct_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a float matrix in lexicographic order, and each row's position
    among them: `np.unique(matrix, axis=0, return_inverse=True)`, ten times faster.

    The rows are told apart by hashing their bytes (−0.0 made 0.0 first, as np.unique
    compares it equal), and only the distinct ones are sorted (0.6 -> 0.07 s for 128k rows
    × 21 columns, of which 51k distinct)."""
    rows = np.ascontiguousarray(matrix, dtype=float) + 0.0
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).reshape(-1)
    codes, uniques = pd.factorize(keys)
    # one row of each kind (the rows of a kind are byte-identical, so any one)
    member = np.empty(len(uniques), dtype=np.int64)
    member[codes] = np.arange(codes.size)
    order = np.lexsort(rows[member].T[::-1])
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rows[member[order]], rank[codes]


def response_propensities(frame: pd.DataFrame, response: str, covariates: Sequence[str], *,
                          categorical: Sequence[str] | None = None,
                          freq_weights: ArrayLike | None = None) -> np.ndarray:
    """Estimated response propensities ρ_i = P(respond | x_i) of every invited unit.

    Question answered: how likely was each invited unit to respond, given the auxiliaries
    known for everyone? Main-effects logistic regression (statsmodels GLM, Binomial family,
    logit link) of the 0/1 ``response`` on the ``covariates``: categorical ones (listed in
    ``categorical``, or non-numeric) enter as treatment-coded factors (the C() of a formula;
    a missing value is its own level), numeric ones linearly. ``freq_weights`` lets one row
    stand for several units (grouped data); the fit equals the unit-level fit. Reference:
    Schouten, Cobben & Bethlehem (2009), §5.2 of METHODS. Units: probabilities in [0, 1].

    Robustness: constant covariates are dropped (the fit is unchanged); under (quasi-)perfect
    separation the fitted values are the limit of the likelihood maximisation (0 or 1 up to
    ~1e-10 in the separated cells), which is the cell response rate, so no warning is raised.
    If everybody (nobody) responded, every ρ_i is 1 (0).
    """
    y = _response_vector(frame, response)
    for column in covariates:
        if column not in frame.columns:
            raise InputError("covariate not found", column=column)
    weights = _weights_array(freq_weights, len(frame), "freq_weights")
    if np.ptp(y[weights > 0]) == 0:
        return np.full(len(frame), float(y[weights > 0][0]))
    design = _logit_design(frame, covariates, _categorical_set(frame, covariates, categorical))
    # rows with the same covariates fitted as one: the binomial likelihood, and so each IRLS
    # step, is the same with their weights summed and y their weighted mean (grouped data),
    # and statsmodels' working copies are of the distinct rows only (51k of 128k cells,
    # 0.3 -> 0.1 GB at a million responses)
    distinct, row = distinct_rows(design)
    total = np.bincount(row, weights=weights)
    share = np.divide(np.bincount(row, weights=weights * y), total, out=np.zeros_like(total), where=total > 0)
    del design
    # a saturated model (as many distinct rows as parameters) leaves the working regression
    # no residual degrees of freedom: its scale, unused by the binomial family, divides by 0
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        # separation drives the separated cells' fitted values to 0/1, the correct limit here
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = GLM(share, distinct, family=Binomial(), freq_weights=total).fit()
    return np.asarray(fit.predict(distinct), dtype=float)[row]


def _propensity_spread(rho: np.ndarray, d: np.ndarray) -> tuple[float, float]:
    """Design-weighted mean and SD of the propensities, S² = Σd(ρ−ρ̄)²/(Σd − 1)."""
    total = d.sum()
    if total <= 1:
        raise InputError("the R-indicator needs more than one unit", expected="Σ weights > 1")
    mean = float(np.dot(d, rho) / total)
    return mean, float(np.sqrt(np.dot(d, (rho - mean) ** 2) / (total - 1)))


def r_indicator(propensities: ArrayLike, *, weights: ArrayLike | None = None) -> float:
    """R-indicator R(ρ) = 1 − 2·S(ρ) of the response propensities.

    Question answered: how far is the response from representative of the auxiliaries (1 =
    response unrelated to them)? S²(ρ) = Σ d_i(ρ_i − ρ̄)²/(Σ d_i − 1), ρ̄ = Σ d_iρ_i/Σ d_i, with
    design (or frequency) ``weights`` d_i, 1 by default (Schouten, Cobben & Bethlehem 2009).
    Clipped to [0, 1] as balance's ``r_indicator`` does; unweighted it equals balance's
    ``r_indicator(ρ_respondents, ρ_nonrespondents)``. Unitless.
    """
    rho = np.asarray(propensities, dtype=float).reshape(-1)
    if not np.all(np.isfinite(rho)) or np.any((rho < 0) | (rho > 1)):
        raise InputError("propensities must be finite probabilities", expected="values in [0, 1]")
    d = _weights_array(weights, rho.size, "weights")
    _, s = _propensity_spread(rho, d)
    return float(np.clip(1 - 2 * s, 0.0, 1.0))


@dataclass(frozen=True)
class RIndicator:
    """R-indicator, its ingredients and the partial indicators of the categorical covariates.

    ``max_bias_bound`` is in the units of y (CV·S(y)); the partial indicators are in
    propensity units (probability); ``partial_unconditional_by_category`` is signed
    (positive: the category over-responds).
    """

    r_indicator: float
    s_rho: float
    mean_propensity: float
    cv: float
    max_bias_bound: float | None
    partial_unconditional: dict[str, float]
    partial_unconditional_by_category: dict[str, dict[str, float]]
    partial_conditional: dict[str, float]
    partial_conditional_by_category: dict[str, dict[str, float]]
    propensities: np.ndarray = field(default=None, repr=False, compare=False)   # fitted ρ_i, row order of the frame


def representativeness_indicators(frame: pd.DataFrame, response: str, covariates: Sequence[str], *,
                                  categorical: Sequence[str], y_sd: float | None = None,
                                  freq_weights: ArrayLike | None = None) -> RIndicator:
    """R-indicator, CV, maximal-bias bound and partial R-indicators of a response process.

    Question answered: is the response representative of the auxiliaries, how much bias could
    that cause in a respondent mean, and which covariate (and category) drives it?

    ``frame`` holds every invited unit (respondents and non-respondents) with the 0/1
    ``response`` column. Propensities come from :func:`response_propensities` (categorical
    covariates = ``categorical`` plus any non-numeric ones); with d_i = ``freq_weights`` (1
    by default), N = Σd:

        R = 1 − 2S(ρ),  CV = S(ρ)/ρ̄,  |bias(ȳ_resp)| ≤ CV·S(y)   (Schouten, Cobben & Bethlehem 2009)
        P_u(Z) = sqrt(Σ_k N_k(ρ̄_k − ρ̄)²/N),  P_u(Z,k) = sqrt(N_k/N)(ρ̄_k − ρ̄)   (signed)
        P_c(Z) = sqrt(Σ_i (d_i/N)(ρ_i − ρ̄_l(i))²), l = cells of the other covariates;
        P_c(Z,k) = the same sum restricted to category k
    (Schouten, Shlomo & Skinner 2011; the unadjusted versions coded in RISQ). Partial
    indicators are given for every categorical covariate; P_c needs the other covariates to be
    categorical too and is NaN otherwise. ``max_bias_bound`` is None unless ``y_sd`` (the SD of
    the survey variable, e.g. sqrt(p(1 − p)) for a proportion) is given; it is then in y's units.
    """
    cats = _categorical_set(frame, covariates, categorical)
    d = _weights_array(freq_weights, len(frame), "freq_weights")
    rho = response_propensities(frame, response, covariates, categorical=cats, freq_weights=d)
    mean, s = _propensity_spread(rho, d)
    total = d.sum()
    cv = s / mean if mean > 0 else np.nan
    # integer codes per categorical covariate, positional so that the frame's index is irrelevant
    codes: dict[str, np.ndarray] = {}
    names: dict[str, list[str]] = {}
    for column in cats:
        filled = _filled(frame[column]).astype(object)
        levels = _sorted_levels(filled)
        codes[column] = category_positions(filled, levels)
        names[column] = [str(lv) for lv in levels]

    p_u: dict[str, float] = {}
    p_u_k: dict[str, dict[str, float]] = {}
    p_c: dict[str, float] = {}
    p_c_k: dict[str, dict[str, float]] = {}
    for column in cats:
        k = codes[column]
        n_k = np.bincount(k, weights=d, minlength=len(names[column]))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_k = np.where(n_k > 0, np.bincount(k, weights=d * rho, minlength=n_k.size) / n_k, mean)
        signed = np.sqrt(n_k / total) * (mean_k - mean)
        p_u_k[column] = dict(zip(names[column], map(float, signed)))
        p_u[column] = float(np.sqrt(np.sum(signed ** 2)))

        others = [c for c in covariates if c != column]
        if any(c not in cats for c in others):  # a numeric covariate has no cells
            p_c[column] = np.nan
            p_c_k[column] = dict.fromkeys(names[column], np.nan)
            continue
        # cells l of the other covariates: one integer per combination of their codes
        if others:
            _, cell_id = np.unique(np.column_stack([codes[c] for c in others]), axis=0,
                                   return_inverse=True)
            cell_id = cell_id.reshape(-1)
        else:
            cell_id = np.zeros(len(frame), dtype=int)
        cell_d = np.bincount(cell_id, weights=d)
        with np.errstate(invalid="ignore", divide="ignore"):
            cell_mean = np.bincount(cell_id, weights=d * rho) / cell_d
        contribution = d / total * (rho - cell_mean[cell_id]) ** 2
        p_c[column] = float(np.sqrt(contribution.sum()))
        p_c_k[column] = dict(zip(names[column], map(float, np.sqrt(
            np.bincount(k, weights=contribution, minlength=len(names[column]))))))

    return RIndicator(
        r_indicator=float(np.clip(1 - 2 * s, 0.0, 1.0)), s_rho=s, mean_propensity=mean, cv=float(cv),
        max_bias_bound=None if y_sd is None else float(cv * y_sd),
        partial_unconditional=p_u, partial_unconditional_by_category=p_u_k,
        partial_conditional=p_c, partial_conditional_by_category=p_c_k, propensities=rho)


# --------------------------------------------------------------------------------------------
# §5.3 weights diagnostics, §5.4 weighting
# --------------------------------------------------------------------------------------------

def kish_design_effect(weights: ArrayLike) -> float:
    """Kish's design effect of unequal weights, deff_w = n·Σw²/(Σw)² = 1 + CV²(w) (Kish 1965, 1992).

    Question answered: by what factor does weighting inflate the variance of a mean
    (weighting-only approximation)? Unitless, ≥ 1; n counts every row, zero weights included.
    """
    w = _weights_array(weights, np.size(weights), "weights")
    return float(w.size * np.dot(w, w) / w.sum() ** 2)


def effective_sample_size(weights: ArrayLike) -> float:
    """Kish's effective sample size n_eff = (Σw)²/Σw² = n/deff_w (Kish 1965). Units: respondents."""
    w = _weights_array(weights, np.size(weights), "weights")
    return float(w.sum() ** 2 / np.dot(w, w))


@dataclass(frozen=True)
class Weights:
    """Adjustment weights (one per sample row, summing to the population total) and their cost.

    ``iterations`` counts raking sweeps (0 for closed-form post-stratification);
    ``max_ratio`` = max w / mean w (fragile when above ~5–10, METHODS §5.3).
    """

    weights: np.ndarray
    method: str
    converged: bool
    iterations: int
    design_effect: float
    effective_n: float
    max_ratio: float


def _weights_result(w: np.ndarray, method: str, converged: bool, iterations: int) -> Weights:
    w = np.asarray(w, dtype=float)
    w.setflags(write=False)
    return Weights(weights=w, method=method, converged=converged, iterations=iterations,
                   design_effect=kish_design_effect(w), effective_n=effective_sample_size(w),
                   max_ratio=float(w.max() / w.mean()))


def _category_index(values: pd.Series, categories: Sequence, column: str) -> np.ndarray:
    """Position of each row's category in ``categories``; raises on missing or unknown values."""
    if values.isna().any():
        raise ValueError(f"column '{column}' has missing values; give them a category before weighting")
    position = category_positions(values, categories)
    if (position < 0).any():
        unknown = sorted(map(str, pd.unique(values[position < 0])))
        raise ValueError(f"column '{column}': sample values {unknown} have no population total")
    return position


def rake(sample: pd.DataFrame, margins: Mapping[str, Mapping[object, float]], *,
         base_weights: ArrayLike | None = None, max_iterations: int = 1000,
         tolerance: float = 1e-10) -> Weights:
    """Raking (iterative proportional fitting) of the sample rows to population margin totals.

    Question answered: what weights make the respondents reproduce every known population
    margin at once (when only the margins, not the joint cells, are known)? Each sweep sets,
    for every variable v and category c in turn, w_i ← w_i·T_c/Σ_{j∈c} w_j (Deming & Stephan
    1940). Stops once every margin is matched to a relative error ≤ ``tolerance`` (checked
    after each sweep) or after ``max_iterations`` sweeps (``converged=False``). Weights sum to
    the population total T (same units as the margins, e.g. interactions).

    Raises ValueError, naming the category, when: a margin category with a positive total has
    no sample rows (or only zero-weight rows) — it cannot be matched, collapse it first; a
    sample value has no margin entry; a raking variable has missing values; the margins of
    different variables do not sum to the same total. Categories with total 0 get weight 0.
    """
    if not margins:
        raise ValueError("rake needs at least one margin")
    w = _weights_array(base_weights, len(sample), "base_weights").copy()
    plan = []
    totals = {}
    for column, targets in margins.items():
        if column not in sample.columns:
            raise ValueError(f"margin variable '{column}' is not a sample column")
        categories = list(targets)
        target = np.array([float(targets[c]) for c in categories])
        if not np.all(np.isfinite(target)) or np.any(target < 0):
            raise ValueError(f"margin '{column}' has negative or non-finite totals")
        codes = _category_index(sample[column], categories, column)
        counts = np.bincount(codes, weights=w, minlength=len(categories))
        empty = [str(c) for c, n, t in zip(categories, counts, target) if t > 0 and n <= 0]
        if empty:
            raise ValueError(f"margin '{column}': categories {empty} have population totals but no "
                             "sample rows (collapse them with a neighbouring category)")
        plan.append((column, codes, target, categories))
        totals[column] = target.sum()
    grand = next(iter(totals.values()))
    if any(not np.isclose(t, grand, rtol=1e-9, atol=0) for t in totals.values()):
        raise ValueError(f"margins sum to different totals {totals}; raking cannot match them all")

    def worst_error() -> float:
        error = 0.0
        for _, codes, target, _ in plan:
            achieved = np.bincount(codes, weights=w, minlength=target.size)
            positive = target > 0
            error = max(error, float(np.max(np.abs(achieved[positive] - target[positive]) / target[positive])))
        return error

    converged, sweeps = False, 0
    while sweeps < max_iterations:
        sweeps += 1
        for column, codes, target, categories in plan:
            achieved = np.bincount(codes, weights=w, minlength=target.size)
            lost = [str(c) for c, a, t in zip(categories, achieved, target) if t > 0 and a <= 0]
            if lost:  # rows of these categories were all zeroed by another margin
                raise ValueError(f"margin '{column}': categories {lost} lost all their weight "
                                 "to zero totals of another margin")
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = np.where(achieved > 0, target / achieved, 0.0)
            w *= factor[codes]
        if worst_error() <= tolerance:
            converged = True
            break
    return _weights_result(w, "rake", converged, sweeps)


def poststratify(sample: pd.DataFrame, cells: Sequence[str], population_counts: pd.Series) -> Weights:
    """Post-stratification weights w_i = N_h/n_h over the cells h of ``cells`` (fully crossed).

    Question answered: what weights make every cell's respondents stand for that cell's
    population count? The weighted mean is Σ_h (N_h/N)·ȳ_h (Holt & Smith 1979; Kish 1965).
    ``population_counts`` is indexed by the cell value (one cell column) or by tuples in the
    order of ``cells`` (a MultiIndex); weights sum to N = Σ N_h, in population units.

    Raises ValueError naming the cells when a populated cell has no respondents (collapse
    cells first) or a sample cell has no population count.
    """
    cells = list(cells)
    for column in cells:
        if column not in sample.columns:
            raise ValueError(f"cell variable '{column}' is not a sample column")
        if sample[column].isna().any():
            raise ValueError(f"cell variable '{column}' has missing values; give them a category first")
    keys = (pd.Series(list(zip(*(sample[c] for c in cells))), index=sample.index)
            if len(cells) > 1 else sample[cells[0]])
    counts = {(tuple(k) if len(cells) > 1 else k): float(v) for k, v in population_counts.items()}
    if any(not np.isfinite(v) or v < 0 for v in counts.values()):
        raise ValueError("population counts must be finite and non-negative")
    n_h = keys.value_counts(sort=False)
    unknown = [str(k) for k in n_h.index if k not in counts]
    if unknown:
        raise ValueError(f"sample cells {unknown} have no population count")
    empty = [str(k) for k, v in counts.items() if v > 0 and k not in n_h.index]
    if empty:
        raise ValueError(f"population cells {empty} have no sample rows (collapse them first)")
    w = keys.map(lambda k: counts[k] / n_h[k]).to_numpy(float)
    if w.sum() <= 0:
        raise ValueError("all sample cells have population count 0")
    return _weights_result(w, "poststratify", True, 0)


def weighted_mean_se(y: ArrayLike, weights: ArrayLike) -> float:
    """Taylor-linearised standard error of the weighted (Hájek) mean ȳ_w = Σw y/Σw.

    Question answered: how precise is the adjusted metric? With the weights treated as fixed
    and each respondent as its own with-replacement PSU (Woodruff 1971; Wolter 2007 §6):

        z_i = w_i(y_i − ȳ_w)/Σw,   SE² = n/(n − 1)·Σ z_i²

    — samplics' ``TaylorEstimator(PopParam.mean)`` without strata/PSU, and statsmodels' WLS
    intercept SE with HC1 sandwich covariance. Ignores the randomness of calibration weights
    (conservative for post-stratification, METHODS §5.4); n counts every row passed, zero
    weights included. Units of y.
    """
    values = np.asarray(y, dtype=float).reshape(-1)
    w = _weights_array(weights, values.size, "weights")
    if not np.all(np.isfinite(values)):
        raise InputError("y has missing or infinite values", expected="a finite value per respondent")
    n = values.size
    if n < 2:
        raise InputError("the SE of a mean needs at least two respondents", expected="n ≥ 2")
    mean = np.dot(w, values) / w.sum()
    z = w * (values - mean) / w.sum()
    return float(np.sqrt(n / (n - 1) * np.dot(z, z)))


# --------------------------------------------------------------------------------------------
# §9.1 invitation selectivity
# --------------------------------------------------------------------------------------------

def invitation_auc(scores_invited: ArrayLike, scores_not_invited: ArrayLike, *,
                   weights_invited: ArrayLike | None = None, weights_not_invited: ArrayLike | None = None) -> float:
    """AUC of a score separating invited from not-invited interactions, U/(n₁n₀).

    Question answered: how predictable is who got a survey? AUC = P(score of a random invited
    unit > score of a random non-invited one), ties counting ½ — the Mann–Whitney U of the
    invited scores over n₁n₀ (Hanley & McNeil 1982; scipy ``mannwhitneyu``). 0.5 = random
    selection; 0.7–0.8 acceptable, 0.8–0.9 excellent discrimination (Hosmer, Lemeshow &
    Sturdivant 2013), here meaning strongly predictable selection. Unitless, in [0, 1].
    With frequency weights (grouped data) each score counts its weight's times.
    """
    invited = np.asarray(scores_invited, dtype=float).reshape(-1)
    others = np.asarray(scores_not_invited, dtype=float).reshape(-1)
    if invited.size == 0 or others.size == 0:
        raise InputError("the AUC needs both invited and non-invited units", expected="two non-empty groups")
    if not (np.all(np.isfinite(invited)) and np.all(np.isfinite(others))):
        raise InputError("scores have missing or infinite values", expected="finite scores")
    if weights_invited is None and weights_not_invited is None:
        u = mannwhitneyu(invited, others, alternative="two-sided", method="asymptotic").statistic
        return float(u / (invited.size * others.size))
    w1 = _weights_array(weights_invited, invited.size, "weights_invited")
    w0 = _weights_array(weights_not_invited, others.size, "weights_not_invited")
    order = np.argsort(others, kind="stable")
    sorted0, cum0 = others[order], np.concatenate([[0.0], np.cumsum(w0[order])])
    below = cum0[np.searchsorted(sorted0, invited, side="left")]
    tied = cum0[np.searchsorted(sorted0, invited, side="right")] - below
    return float(np.dot(w1, below + 0.5 * tied) / (w1.sum() * w0.sum()))
