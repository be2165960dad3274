"""Do rates (response rates, top-box shares) differ across segments beyond chance?

Tests of homogeneity of K binomial rates on the 2×K table [successes; failures]:
Pearson's X² with the asymptotic χ² reference when Cochran's rule allows it, else a
Monte Carlo p-value conditional on both margins (Patefield 1981); effect size as
Cramér's V with Bergsma's (2013) bias correction; per-segment adjusted residuals and
one-vs-rest tests, with Holm / Benjamini-Hochberg control across segments.

Reference: METHODS.md §4.1-§4.3.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

__all__ = [
    "HomogeneityTest",
    "adjust_pvalues",
    "chi2_monte_carlo_pvalue",
    "cramers_v",
    "rate_homogeneity_test",
]

# R's chisq.test compares simulated statistics with a relative tolerance so that
# tables whose X² equals the observed one analytically are counted despite rounding.
_TIE_TOLERANCE = 1.0 - 64.0 * np.finfo(float).eps
# R's fisher.test treats probabilities within this relative error as ties.
_FISHER_RELATIVE_ERROR = 1.0 + 1e-7
# Cells simulated per batch: bounds memory (~32 MB of int64) whatever the table size.
_CELLS_PER_BATCH = 1 << 22


@dataclass(frozen=True)
class HomogeneityTest:
    """Pearson's test that K segments share one rate, with effect sizes and per-segment
    diagnostics. Segments with zero trials are left out of every field.

    - ``method``: ``asymptotic`` (χ² with K-1 df), ``monte_carlo`` (conditional on both
      margins, ``n_simulations`` tables) or ``exact`` (no successes or no failures at
      all: the observed table is the only one with its margins, so X² = 0 and p = 1).
    - ``min_expected``, ``share_expected_below_5``: Cochran's (1954) rule inputs over
      the 2K expected counts.
    - ``adjusted_residuals``: (O - E)/sqrt(E(1 - row/n)(1 - col/n)) of the success row,
      i.e. each segment's one-vs-rest z statistic.
    - ``one_vs_rest_p``: two-sided p of each segment against all others pooled (2×2):
      Fisher's exact test when a cell's expected count is below 5, else X² without
      Yates' correction. Not adjusted for multiplicity (see ``adjust_pvalues``).
    """

    chi2: float
    dof: int
    p_value: float
    method: str
    n_simulations: int | None
    cramers_v: float
    cramers_v_corrected: float
    min_expected: float
    share_expected_below_5: float
    labels: tuple[str, ...]
    successes: tuple[int, ...]
    trials: tuple[int, ...]
    rates: tuple[float, ...]
    adjusted_residuals: tuple[float, ...]
    one_vs_rest_p: tuple[float, ...]


def cramers_v(chi2: float, n: int, n_rows: int, n_cols: int, *, bias_corrected: bool = False) -> float:
    """Cramér's V: how strong is the association in an r×k table, on 0..1?

    V = sqrt(X²/(n·(min(r, k) - 1))). With ``bias_corrected`` (Bergsma 2013):
    φ̃² = max(0, X²/n - (k-1)(r-1)/(n-1)), k̃ = k - (k-1)²/(n-1), r̃ = r - (r-1)²/(n-1),
    Ṽ = sqrt(φ̃²/min(k̃-1, r̃-1)). Plain V is biased upwards in sparse tables (many agents,
    few responses each); Ṽ removes most of that bias. Cohen (1988) reads 0.1 / 0.3 / 0.5
    as small / medium / large when min(r, k) = 2.
    """
    if n_rows < 2 or n_cols < 2:
        raise ValueError(f"Cramér's V needs at least a 2×2 table, got {n_rows}×{n_cols}")
    if n < 2:
        raise ValueError(f"Cramér's V needs n >= 2, got {n!r}")
    if chi2 < 0 or not math.isfinite(chi2):
        raise ValueError(f"chi2 must be finite and non-negative, got {chi2!r}")
    if not bias_corrected:
        return math.sqrt(chi2 / (n * (min(n_rows, n_cols) - 1)))
    phi2 = max(0.0, chi2 / n - (n_cols - 1) * (n_rows - 1) / (n - 1))
    if phi2 == 0.0:
        return 0.0
    cols_tilde = n_cols - (n_cols - 1) ** 2 / (n - 1)
    rows_tilde = n_rows - (n_rows - 1) ** 2 / (n - 1)
    denom = min(cols_tilde - 1.0, rows_tilde - 1.0)
    if denom <= 0.0:
        return math.nan  # n too small for the correction to be defined
    return math.sqrt(phi2 / denom)


def adjust_pvalues(p_values: Sequence[float], method: Literal["fdr_bh", "holm"] = "fdr_bh") -> np.ndarray:
    """Multiplicity-adjusted p-values across segments.

    ``fdr_bh``: Benjamini & Hochberg (1995), controls the false discovery rate (screening
    many segments). ``holm``: Holm (1979) step-down, controls the family-wise error (use
    when one false accusation of an agent is costly). Computed by statsmodels
    ``multipletests`` with the method passed explicitly (its default is Holm-Šidák).
    """
    if method not in ("fdr_bh", "holm"):
        raise ValueError(f"method must be 'fdr_bh' or 'holm', got {method!r}")
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p.copy()
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    return multipletests(p, alpha=0.05, method=method)[1]


def holm_rejections(p_values: Sequence[float] | np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Which hypotheses does Holm's (1979) step-down reject at family-wise level ``alpha``?

    p_(1) ≤ … ≤ p_(m) are rejected while p_(i) ≤ α/(m − i + 1): the decisions of statsmodels
    ``multipletests(method="holm")[0]``, with the same comparisons. Only p-values ≤ α can be
    rejected and they are the first in the full order, so only they are sorted (millions of
    pairwise tests, most of them far from significant).
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    candidates = np.sort(p[p <= alpha])
    passes = candidates <= alpha / (m - np.arange(candidates.size))
    stop = candidates.size if passes.all() else int(np.argmin(passes))
    return p <= candidates[stop - 1] if stop else np.zeros(m, dtype=bool)


def _check_table(table: np.ndarray) -> np.ndarray:
    arr = np.asarray(table)
    if arr.ndim != 2:
        raise ValueError(f"a contingency table must be 2-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise ValueError("a contingency table holds non-negative whole counts")
    return arr.astype(np.int64)


def _pearson_x2(tables: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Pearson's X² of each table in a stack (..., r, c) against fixed expected counts."""
    if expected.shape[0] == 2:
        # with two rows the deviations of row 2 are minus those of row 1, so
        # X² = Σ_j (O_1j - E_1j)²·(1/E_1j + 1/E_2j): half the work on long tables
        weight = 1.0 / expected[0] + 1.0 / expected[1]
        return np.sum((tables[..., 0, :] - expected[0]) ** 2 * weight, axis=-1)
    return np.sum((tables - expected) ** 2 / expected, axis=(-2, -1))


def chi2_monte_carlo_pvalue(table: np.ndarray, *, rng: np.random.Generator,
                            n_simulations: int = 10_000) -> float:
    """How often does a table with the observed margins show an X² at least as large as
    the observed one? Monte Carlo p-value of Pearson's X², conditional on both margins.

    Draws B tables with the observed row and column totals (Patefield 1981, algorithm
    AS 159, via ``scipy.stats.random_table``; the method of R's
    ``chisq.test(simulate.p.value = TRUE)``) and returns
    p = (1 + #{X²_sim >= X²_obs·(1 - 64·eps)}) / (B + 1), which is a valid p-value for
    any B; its Monte Carlo standard error is about sqrt(p(1-p)/B).
    Rows and columns with a zero total carry no information and are dropped; if fewer
    than two rows or columns remain, the table is the only one with its margins: p = 1.
    """
    if n_simulations < 1:
        raise ValueError(f"n_simulations must be positive, got {n_simulations!r}")
    observed = _check_table(table)
    observed = observed[observed.sum(axis=1) > 0][:, observed.sum(axis=0) > 0]
    if observed.shape[0] < 2 or observed.shape[1] < 2:
        return 1.0
    row, col = observed.sum(axis=1), observed.sum(axis=0)
    expected = np.outer(row, col) / observed.sum()
    # the observed X² is computed by the same code as the simulated ones so that
    # tables equal to the observed one compare equal
    x2_obs = float(_pearson_x2(observed, expected))
    sampler = stats.random_table(row, col, seed=rng)
    batch = max(1, _CELLS_PER_BATCH // observed.size)
    exceed = 0
    remaining = n_simulations
    while remaining > 0:
        size = min(batch, remaining)
        sims = sampler.rvs(size, method="patefield")
        exceed += int(np.count_nonzero(_pearson_x2(sims, expected) >= x2_obs * _TIE_TOLERANCE))
        remaining -= size
    return (1.0 + exceed) / (n_simulations + 1.0)


def _fisher_two_sided(x: np.ndarray, total: int, successes: int, draws: np.ndarray) -> np.ndarray:
    """Two-sided Fisher exact p of many 2×2 one-vs-rest tables at once.

    Segment j has ``x[j]`` successes out of ``draws[j]`` trials; under the null its
    count is hypergeometric(total, successes, draws[j]). p = sum of the probabilities
    of every count no more probable than the observed one (Fisher's two-sided rule,
    ties within a relative 1e-7 as in R's fisher.test). Equals scipy ``fisher_exact``
    but evaluates all segments in one vectorised pass (scipy's takes ~3 ms per call).
    """
    failures = total - successes
    low = np.maximum(0, draws - failures)
    high = np.minimum(draws, successes)
    lengths = high - low + 1
    owner = np.repeat(np.arange(x.size), lengths)
    starts = np.cumsum(lengths) - lengths
    support = low[owner] + np.arange(owner.size) - starts[owner]
    log_pmf = stats.hypergeom.logpmf(support, total, successes, draws[owner])
    log_obs = stats.hypergeom.logpmf(x, total, successes, draws)
    as_extreme = log_pmf <= log_obs[owner] + math.log(_FISHER_RELATIVE_ERROR)
    p = np.bincount(owner, weights=np.where(as_extreme, np.exp(log_pmf), 0.0), minlength=x.size)
    return np.minimum(p, 1.0)


def _one_vs_rest_p(successes: np.ndarray, trials: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Per-segment two-sided p of segment vs the rest (see ``HomogeneityTest``)."""
    n = int(trials.sum())
    total_successes = int(successes.sum())
    total_failures = n - total_successes
    # smallest expected count of each one-vs-rest 2×2 table
    smaller_row = min(total_successes, total_failures)
    smaller_col = np.minimum(trials, n - trials)
    min_expected = smaller_row * smaller_col / n
    p = stats.chi2.sf(z * z, 1)  # X² without Yates of a 2×2 table = adjusted residual²
    exact = min_expected < 5
    if np.any(exact):
        p[exact] = _fisher_two_sided(successes[exact], n, total_successes, trials[exact])
    return p


def rate_homogeneity_test(successes: Sequence[int], trials: Sequence[int], labels: Sequence[str], *,
                          rng: np.random.Generator, n_simulations: int = 10_000) -> HomogeneityTest:
    """Do the K segments' rates successes/trials differ beyond chance?

    Pearson's X² = Σ (O - E)²/E on the 2×K table [successes; trials - successes],
    E = row·col/n, df = K - 1, no Yates correction. Cochran's (1954) rule decides the
    reference distribution: when no expected count is below 1 and at most 20 % are below
    5, the asymptotic χ² (scipy ``chi2_contingency``); otherwise the Monte Carlo p
    conditional on both margins (``chi2_monte_carlo_pvalue``, ``n_simulations`` tables
    drawn with ``rng``). Effect size: Cramér's V and Bergsma's (2013) corrected Ṽ.

    Segments with zero trials have no rate; they are dropped from the test and from
    every field of the result (``labels`` included). Raises ``ValueError`` unless at
    least two segments have trials.
    """
    s_all = np.asarray(successes)
    t_all = np.asarray(trials)
    names = [str(label) for label in labels]
    if not (s_all.ndim == t_all.ndim == 1 and s_all.size == t_all.size == len(names)):
        raise ValueError("successes, trials and labels must be 1-D and of equal length")
    for name, arr in (("successes", s_all), ("trials", t_all)):
        if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
            raise ValueError(f"{name} must be whole numbers")
    s_all = s_all.astype(np.int64)
    t_all = t_all.astype(np.int64)
    if np.any(s_all < 0) or np.any(s_all > t_all):
        raise ValueError("each segment needs 0 <= successes <= trials")
    keep = t_all > 0
    if int(keep.sum()) < 2:
        raise ValueError("a homogeneity test needs at least two segments with trials > 0")
    s, t = s_all[keep], t_all[keep]
    kept_labels = tuple(name for name, k in zip(names, keep) if k)
    k = int(s.size)
    n = int(t.sum())
    table = np.vstack([s, t - s])
    row = table.sum(axis=1)
    expected = np.outer(row, t) / n
    min_expected = float(expected.min())
    share_below_5 = float(np.mean(expected < 5))

    degenerate = bool(np.any(row == 0))
    if degenerate:
        chi2, p_value, method, n_sims = 0.0, 1.0, "exact", None
    else:
        chi2 = float(stats.chi2_contingency(table, correction=False)[0])
        if min_expected >= 1 and share_below_5 <= 0.2:
            p_value, method, n_sims = float(stats.chi2.sf(chi2, k - 1)), "asymptotic", None
        else:
            p_value = chi2_monte_carlo_pvalue(table, rng=rng, n_simulations=n_simulations)
            method, n_sims = "monte_carlo", n_simulations

    with np.errstate(divide="ignore", invalid="ignore"):
        residual_sd = np.sqrt(expected[0] * (1 - row[0] / n) * (1 - t / n))
        adjusted = np.where(residual_sd > 0, (s - expected[0]) / residual_sd, 0.0)
    one_vs_rest = _one_vs_rest_p(s, t, adjusted)

    return HomogeneityTest(
        chi2=chi2, dof=k - 1, p_value=p_value, method=method, n_simulations=n_sims,
        cramers_v=cramers_v(chi2, n, 2, k),
        cramers_v_corrected=cramers_v(chi2, n, 2, k, bias_corrected=True),
        min_expected=min_expected, share_expected_below_5=share_below_5,
        labels=kept_labels,
        successes=tuple(int(v) for v in s), trials=tuple(int(v) for v in t),
        rates=tuple(float(v) for v in s / t),
        adjusted_residuals=tuple(float(v) for v in adjusted),
        one_vs_rest_p=tuple(float(v) for v in one_vs_rest),
    )
