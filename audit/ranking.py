"""Statistics of league tables: is the award winner really the best, and which units differ
from the common standard by more than chance?

Three families (METHODS.md §7):

* Confidence sets for ranks (Mogstad, Romano, Shaikh & Wilhelm 2024, *Review of Economic
  Studies*; R package ``csranks``): which ranks are compatible with the data, for one unit
  (marginal) or for all units jointly (simultaneous), and which units could be the best
  (the τ-best set).
* Empirical-Bayes shrinkage: beta-binomial for shares (Kleinman 1973; Efron & Morris 1975;
  Laird & Louis 1989) and normal-normal for means and NPS, with the posterior probability
  that each unit is truly the best (a one-dimensional integral, by quadrature).
* Funnel plots (Spiegelhalter 2005, *Statistics in Medicine*): control limits around a
  target θ₀ as a function of n — exact binomial with interpolation, or normal — and the
  overdispersion adjustments (multiplicative φ from winsorised z-scores, additive τ² of
  DerSimonian & Laird 1986).

Units: shares on the 0-1 scale; means in scale points; NPS in points. Ranks count from 1 =
best (highest value). All functions are pure; randomness only through the ``rng`` passed in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate, optimize, special, stats

from audit.contingency import holm_rejections

__all__ = [
    "ALARM_PROBABILITIES",
    "ALERT_PROBABILITIES",
    "FUNNEL_PROBABILITIES",
    "BetaBinomialFit",
    "NormalPrior",
    "Overdispersion",
    "Posterior",
    "RankSets",
    "adjusted_funnel_limits",
    "beta_binomial_neg_log_likelihood",
    "beta_binomial_score",
    "beta_posterior",
    "binomial_rank_variances",
    "estimated_ranks",
    "exact_funnel_flags",
    "fit_beta_binomial",
    "fit_normal_prior",
    "funnel_limits",
    "normal_posterior",
    "overdispersion",
    "pooled_unit_variances",
    "probability_best",
    "probability_best_beta",
    "probability_best_normal",
    "rank_confidence_sets",
    "tau_best_set",
    "winsorised_square_expectation",
]

ALERT_PROBABILITIES = (0.025, 0.975)      # "95 %" limits, ≈ 2 SD (Spiegelhalter 2005)
ALARM_PROBABILITIES = (0.001, 0.999)      # "99.8 %" limits, ≈ 3 SD
FUNNEL_PROBABILITIES = ALERT_PROBABILITIES + ALARM_PROBABILITIES

# Bootstrap draws are processed in blocks so that draws × pairs stays below this many
# floats (about 32 MB), whatever the number of units.
_BLOCK_ELEMENTS = 4_000_000
MAX_BREAKPOINTS = 256         # second try of the P(best) quadrature: quantiles of the units' quartiles
# Beta-binomial prior strength a + b at which the fit is declared "complete pooling":
# beyond it the likelihood is flat to machine precision for any realistic n.
MAX_PRIOR_STRENGTH = 1e6
ROOT_SCORE_TOL = 1e-8         # |∂ℓ/∂log a|, |∂ℓ/∂log b| at which the score equations count as solved
# Normal prior: tau² is kept at least this fraction of the median sampling variance so that
# the posteriors stay proper when the ML estimate is 0 (P(best) then tends to 1/I).
MIN_TAU2_FRACTION = 1e-6


# ---------------------------------------------------------------------------- ranks

@dataclass(frozen=True)
class RankSets:
    """Confidence sets [lower, upper] for the ranks of the units (1 = best).

    ``simultaneous`` sets cover all true ranks jointly with probability ≈ ``coverage``;
    marginal sets cover each unit's own rank with that probability.
    """

    lower: np.ndarray
    upper: np.ndarray
    ranks: np.ndarray               # estimated ranks, 1 + #{k: x_k > x_j}
    coverage: float
    simultaneous: bool
    n_bootstrap: int


def estimated_ranks(estimates: ArrayLike) -> np.ndarray:
    """Rank of each unit by its estimate, r_j = 1 + #{k: x_k > x_j} (1 = best; ties share the best rank)."""
    x = np.asarray(estimates, dtype=float)
    return 1 + (x[None, :] > x[:, None]).sum(axis=1)


def binomial_rank_variances(successes: ArrayLike, trials: ArrayLike) -> np.ndarray:
    """Sampling variance of each unit's share p̂ = y/n, floored so that no unit is "certain".

    Var = max(p̂(1−p̂)/n, p̃(1−p̃)/(n+4)) with p̃ = (y+2)/(n+4) (Agresti & Coull 1998). The
    Wald variance is 0 at p̂ = 0 or 1, which would make a 5/5 unit infinitely precise in
    the rank sets (METHODS §7.3); the floor keeps 5/5 at (7/9)(2/9)/9 ≈ 0.019.
    Units: share², per unit.
    """
    y = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    p_hat = y / n
    p_tilde = (y + 2.0) / (n + 4.0)
    return np.maximum(p_hat * (1.0 - p_hat) / n, p_tilde * (1.0 - p_tilde) / (n + 4.0))


def pooled_unit_variances(unit_variances: ArrayLike, trials: ArrayLike, pooled_variance: float,
                          *, prior_df: float = 4.0) -> np.ndarray:
    """Per-response variance of each unit, shrunk towards the pooled within-unit variance.

    s̃²_j = ((n_j − 1)·s²_j + d·s²_pooled) / (n_j − 1 + d), d = ``prior_df`` pseudo-responses
    (4, the analogue of the (y+2)/(n+4) floor for shares). A unit with one response or with
    identical responses has s² = 0, which would make its mean "certain" in the rank sets.
    Divide by n_j for the variance of the unit's mean. Units: (metric units)².
    """
    s2 = np.nan_to_num(np.asarray(unit_variances, dtype=float), nan=0.0)
    n = np.asarray(trials, dtype=float)
    return ((n - 1.0) * s2 + prior_df * pooled_variance) / (n - 1.0 + prior_df)


def _covariance(variances: ArrayLike, p: int) -> np.ndarray:
    cov = np.asarray(variances, dtype=float)
    if cov.ndim == 1:
        cov = np.diag(cov)
    if cov.shape != (p, p):
        raise ValueError(f"variances must have {p} entries or be a {p}×{p} covariance matrix")
    if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) <= 0):
        raise ValueError("every variance must be positive and finite (floor them, e.g. binomial_rank_variances)")
    return cov


def _draw_errors(cov: np.ndarray, size: int, rng: np.random.Generator, diagonal: bool) -> np.ndarray:
    if diagonal:
        return rng.standard_normal((size, cov.shape[0])) * np.sqrt(np.diag(cov))
    return rng.multivariate_normal(np.zeros(cov.shape[0]), cov, size=size, method="eigh")


def _is_diagonal(cov: np.ndarray) -> bool:
    return not np.any(cov[~np.eye(cov.shape[0], dtype=bool)])


def _critical_value(cov: np.ndarray, rows: np.ndarray, cols: np.ndarray, sd_diff: np.ndarray,
                    coverage: float, rng: np.random.Generator, n_bootstrap: int, diagonal: bool) -> float:
    """Coverage-quantile (R type 7) of max over the pairs of (Z_j − Z_k)/σ_jk, Z ~ N(0, Σ)."""
    block = max(1, _BLOCK_ELEMENTS // max(1, rows.size))
    maxima = np.empty(n_bootstrap)
    inverse_sd = 1.0 / sd_diff
    for start in range(0, n_bootstrap, block):
        stop = min(n_bootstrap, start + block)
        z = _draw_errors(cov, stop - start, rng, diagonal)
        studentised = np.take(z, rows, axis=1)
        studentised -= np.take(z, cols, axis=1)
        studentised *= inverse_sd
        maxima[start:stop] = studentised.max(axis=1)
    return float(np.quantile(maxima, coverage, method="linear"))


def _significantly_better(estimates: np.ndarray, cov: np.ndarray, tested: np.ndarray, *, coverage: float,
                          rng: np.random.Generator, n_bootstrap: int, stepdown: bool,
                          method: Literal["bootstrap", "holm"] = "bootstrap") -> np.ndarray:
    """better[j, k]: θ_j > θ_k is established by the simultaneous one-sided lower bounds
    d_jk − c·σ_jk > 0 over the tested ordered pairs, with Romano-Wolf step-down (csranks);
    ``method="holm"``: by `holm_better` over the same pairs (independent units)."""
    if method == "holm":
        return holm_better(estimates, np.diag(cov), coverage=coverage, tested=tested)
    diff = estimates[:, None] - estimates[None, :]
    var = np.diag(cov)
    sd_diff = np.sqrt(np.maximum(var[:, None] + var[None, :] - 2.0 * cov, 0.0))
    diagonal = _is_diagonal(cov)
    active = tested.copy()
    np.fill_diagonal(active, False)
    better = np.zeros_like(active)
    while active.any():
        rows, cols = np.nonzero(active)
        c = _critical_value(cov, rows, cols, sd_diff[rows, cols], coverage, rng, n_bootstrap, diagonal)
        rejected = diff[rows, cols] - c * sd_diff[rows, cols] > 0
        if not rejected.any():
            break
        better[rows[rejected], cols[rejected]] = True
        active[rows[rejected], cols[rejected]] = False
        if not stepdown:
            break
    return better


def rank_confidence_sets(estimates: ArrayLike, variances: ArrayLike, *, rng: np.random.Generator,
                         coverage: float = 0.95, simultaneous: bool = False, n_bootstrap: int = 1000,
                         stepdown: bool = True, indices: ArrayLike | None = None,
                         method: Literal["bootstrap", "holm"] = "bootstrap") -> RankSets:
    """Two-sided confidence sets for the ranks of the units (1 = best).

    Question: which ranks are compatible with the data — for each unit separately
    (marginal) or for all units at once (simultaneous)?

    Mogstad, Romano, Shaikh & Wilhelm (2024), as implemented in R ``csranks`` (METHODS §7.3):
    θ̂ ≈ N(θ, Σ); for the pair set I (marginal, unit j: every ordered pair containing j;
    simultaneous: every ordered pair containing a unit of ``indices``) the critical value c
    is the ``coverage``-quantile (R type 7) of max_{(j,k)∈I} (Z_j − Z_k)/σ_jk over
    ``n_bootstrap`` parametric-bootstrap draws Z ~ N(0, Σ), σ²_jk = Σ_jj + Σ_kk − 2Σ_jk;
    j is significantly better than k when θ̂_j − θ̂_k − c·σ_jk > 0. Step-down: rejected
    pairs leave I and c is recomputed (with fresh draws) until nothing new is rejected.
    CS_j = [1 + #{k better than j}, p − #{k worse than j}].

    ``variances``: a vector (independent units) or the full covariance matrix of the
    estimates (units²); every variance must be positive — floor them for shares near 0/1
    (`binomial_rank_variances`). ``indices``: the units whose sets are wanted (default all);
    the result is aligned with them. ``method="holm"`` establishes the pairs of I by
    `holm_better` instead of bootstrap critical values (independent units; for thousands of
    units, where each set costs B·p draws).
    """
    x = np.asarray(estimates, dtype=float)
    p = x.size
    if p < 2:
        raise ValueError("ranking needs at least two units")
    if not 0.0 < coverage < 1.0:
        raise ValueError("coverage must lie in (0, 1)")
    cov = _covariance(variances, p)
    wanted = np.arange(p) if indices is None else np.asarray(indices, dtype=int)
    options = dict(coverage=coverage, rng=rng, n_bootstrap=int(n_bootstrap), stepdown=stepdown, method=method)
    if simultaneous:
        in_set = np.zeros(p, dtype=bool)
        in_set[wanted] = True
        better = _significantly_better(x, cov, in_set[:, None] | in_set[None, :], **options)
        lower = 1 + better[:, wanted].sum(axis=0)
        upper = p - better[wanted, :].sum(axis=1)
    else:
        lower, upper = np.empty(wanted.size, dtype=int), np.empty(wanted.size, dtype=int)
        variances_diag = np.diag(cov)
        for pos, j in enumerate(wanted):
            if method == "holm":
                # unit j's 2(p − 1) pairs directly: a p × p mask per unit costs more than the test
                others = np.delete(np.arange(p), j)
                mine = np.full(p - 1, j)
                rejected = holm_pair_rejections(x, variances_diag, np.concatenate([others, mine]),
                                                np.concatenate([mine, others]), coverage=coverage)
                lower[pos] = 1 + rejected[:p - 1].sum()
                upper[pos] = p - rejected[p - 1:].sum()
                continue
            tested = np.zeros((p, p), dtype=bool)
            tested[j, :] = tested[:, j] = True
            better = _significantly_better(x, cov, tested, **options)
            lower[pos] = 1 + better[:, j].sum()
            upper[pos] = p - better[j, :].sum()
    return RankSets(lower=np.asarray(lower, dtype=int), upper=np.asarray(upper, dtype=int),
                    ranks=estimated_ranks(x)[wanted], coverage=coverage, simultaneous=simultaneous,
                    n_bootstrap=int(n_bootstrap))


def holm_better(estimates: ArrayLike, variances: ArrayLike, *, coverage: float = 0.95,
                tested: np.ndarray | None = None) -> np.ndarray:
    """better[j, k]: θ_j > θ_k established by Holm's (1979) step-down over the ordered pairs
    marked in ``tested`` (p × p booleans; default every pair).

    One-sided z-tests z_jk = (θ̂_j − θ̂_k)/sqrt(v_j + v_k) of independent units, p_jk =
    1 − Φ(z_jk), Holm at α = 1 − ``coverage`` over the m tested ordered pairs. It
    controls the same family-wise error as the bootstrap max-t step-down of
    `_significantly_better` without its O(B·p²) cost, at the price of some conservatism
    (Bonferroni ignores the positive dependence between pairs sharing a unit).
    ``variances``: a vector of positive variances (units assumed independent).
    """
    x = np.asarray(estimates, dtype=float)
    v = np.asarray(variances, dtype=float)
    if v.ndim != 1 or v.shape != x.shape or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError("holm_better needs one positive, finite variance per unit (independent units)")
    p = x.size
    pairs = np.ones((p, p), dtype=bool) if tested is None else np.asarray(tested, dtype=bool).copy()
    np.fill_diagonal(pairs, False)
    rows, cols = np.nonzero(pairs)
    better = np.zeros((p, p), dtype=bool)
    better[rows, cols] = holm_pair_rejections(x, v, rows, cols, coverage=coverage)
    return better


def holm_pair_rejections(estimates: np.ndarray, variances: np.ndarray, rows: np.ndarray, cols: np.ndarray, *,
                         coverage: float = 0.95) -> np.ndarray:
    """rejected[i]: θ_rows[i] > θ_cols[i] established by Holm's step-down over these ordered
    pairs (the test of `holm_better`, for a list of pairs instead of a p × p mask)."""
    z = (estimates[rows] - estimates[cols]) / np.sqrt(variances[rows] + variances[cols])
    p_values = np.ones(z.size)
    ahead = z > 0           # a pair whose difference points the wrong way is never significant
    p_values[ahead] = stats.norm.sf(z[ahead])
    return holm_rejections(p_values, 1.0 - coverage)


def tau_best_set(estimates: ArrayLike, variances: ArrayLike, *, rng: np.random.Generator, tau: int = 1,
                 coverage: float = 0.95, n_bootstrap: int = 1000, stepdown: bool = True,
                 method: Literal["bootstrap", "holm"] = "bootstrap") -> np.ndarray:
    """Which units could be among the τ best? (boolean per unit)

    Mogstad et al. (2024) projection confidence set for the τ-best (R ``cstaubest``):
    simultaneous one-sided lower bounds over all ordered pairs (step-down); unit j is in the
    set iff 1 + #{k significantly better than j} ≤ τ. With probability ≈ ``coverage`` the
    set contains every unit whose true rank is ≤ τ; τ = 1: the units that could be the best.
    ``method="holm"`` replaces the bootstrap critical values by `holm_better` (for hundreds
    of units, where the bootstrap over all p(p − 1) pairs costs minutes).
    """
    x = np.asarray(estimates, dtype=float)
    p = x.size
    if p < 2:
        raise ValueError("ranking needs at least two units")
    if not 1 <= tau <= p:
        raise ValueError(f"tau must lie in 1..{p}")
    if method == "holm":
        better = holm_better(x, variances, coverage=coverage)
    else:
        cov = _covariance(variances, p)
        better = _significantly_better(x, cov, np.ones((p, p), dtype=bool), coverage=coverage, rng=rng,
                                       n_bootstrap=int(n_bootstrap), stepdown=stepdown)
    return 1 + better.sum(axis=0) <= tau


# -------------------------------------------------------------- empirical Bayes: shares

@dataclass(frozen=True)
class BetaBinomialFit:
    """Beta(a, b) prior of the units' true shares, fitted by marginal maximum likelihood."""

    a: float
    b: float
    neg_log_likelihood: float
    complete_pooling: bool          # ML at a + b = ∞ (no between-unit spread): a + b capped

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)

    @property
    def strength(self) -> float:
        """a + b: the prior is worth this many responses."""
        return self.a + self.b


def _check_counts(successes: ArrayLike, trials: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if y.shape != n.shape or y.ndim != 1 or y.size == 0:
        raise ValueError("successes and trials must be non-empty vectors of the same length")
    if np.any(n <= 0) or np.any(y < 0) or np.any(y > n):
        raise ValueError("need trials > 0 and 0 <= successes <= trials")
    return y, n


def beta_binomial_neg_log_likelihood(successes: ArrayLike, trials: ArrayLike, a: float, b: float) -> float:
    """−Σ log BetaBinomial(y_i; n_i, a, b) (nats)."""
    y, n = _check_counts(successes, trials)
    log_choose = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
    return float(-np.sum(log_choose + special.betaln(y + a, n - y + b) - special.betaln(a, b)))


def beta_binomial_score(successes: ArrayLike, trials: ArrayLike, a: float, b: float) -> np.ndarray:
    """Gradient (∂/∂a, ∂/∂b) of the beta-binomial log-likelihood (digamma form, METHODS §7.4)."""
    y, n = _check_counts(successes, trials)
    psi = special.digamma
    common = psi(a + b) - psi(n + a + b)
    return np.array([np.sum(psi(y + a) - psi(a) + common), np.sum(psi(n - y + b) - psi(b) + common)])


def fit_beta_binomial(successes: ArrayLike, trials: ArrayLike) -> BetaBinomialFit:
    """Fit y_i ~ Binomial(n_i, θ_i), θ_i ~ Beta(a, b) by marginal maximum likelihood.

    Question: how much do the units' true shares vary, once sampling noise is removed?

    Solves the score equations (METHODS §7.4) in (log a, log b) with Powell's hybrid method
    (``scipy.optimize.root``, tol 1e-14), started from a bounded quasi-Newton maximisation
    in (logit mean, log(a+b)) that itself starts at the method of moments (Kleinman 1973).
    The likelihood is flat in a + b, so a general-purpose optimiser alone stops early. When
    the units vary no more than binomially the ML estimate is a + b = ∞ (complete pooling);
    a + b is then capped at ``MAX_PRIOR_STRENGTH`` and ``complete_pooling`` is set.
    """
    y, n = _check_counts(successes, trials)
    pooled = float(np.clip(y.sum() / n.sum(), 1e-6, 1 - 1e-6))
    p_hat = y / n
    between = np.var(p_hat, ddof=1) - np.mean(pooled * (1 - pooled) / n) if y.size > 1 else 0.0
    strength0 = pooled * (1 - pooled) / between - 1.0 if between > 0 else MAX_PRIOR_STRENGTH / 10
    strength0 = float(np.clip(strength0, 1.0, MAX_PRIOR_STRENGTH / 10))

    def nll_mean_strength(v: np.ndarray) -> float:
        mean, strength = special.expit(v[0]), np.exp(v[1])
        return beta_binomial_neg_log_likelihood(y, n, mean * strength, (1 - mean) * strength)

    start = np.array([special.logit(pooled), np.log(strength0)])
    bounds = [(-25.0, 25.0), (np.log(1e-3), np.log(MAX_PRIOR_STRENGTH))]
    coarse = optimize.minimize(nll_mean_strength, start, method="L-BFGS-B", bounds=bounds)
    mean, strength = special.expit(coarse.x[0]), float(np.exp(coarse.x[1]))
    a, b = mean * strength, (1 - mean) * strength
    pooling = strength >= 0.5 * MAX_PRIOR_STRENGTH
    if not pooling:
        def score_log(v: np.ndarray) -> np.ndarray:
            ea, eb = np.exp(v)
            return beta_binomial_score(y, n, ea, eb) * np.array([ea, eb])

        root = optimize.root(score_log, np.log([a, b]), method="hybr", tol=1e-14)
        ra, rb = np.exp(root.x)
        # at tol 1e-14 hybr can report "not making good progress" at the root itself (seen on
        # AVX-512 machines, |score| ~1e-13 there): a vanishing score is a root all the same
        solved = root.success or bool(np.max(np.abs(root.fun)) <= ROOT_SCORE_TOL)
        if (solved and np.all(np.isfinite(root.x)) and ra + rb < MAX_PRIOR_STRENGTH
                and beta_binomial_neg_log_likelihood(y, n, ra, rb) <= coarse.fun + 1e-9):
            a, b = float(ra), float(rb)
    nll = beta_binomial_neg_log_likelihood(y, n, a, b)
    # Far out on the flat ridge the score vanishes numerically before a + b reaches ∞: a fit
    # no better than complete pooling (a + b = cap at the pooled share) is complete pooling.
    capped = (pooled * MAX_PRIOR_STRENGTH, (1 - pooled) * MAX_PRIOR_STRENGTH)
    nll_capped = beta_binomial_neg_log_likelihood(y, n, *capped)
    if pooling or nll >= nll_capped - 1e-9:
        (a, b), nll, pooling = capped, nll_capped, True
    return BetaBinomialFit(a=float(a), b=float(b), neg_log_likelihood=nll, complete_pooling=bool(pooling))


@dataclass(frozen=True)
class Posterior:
    """Per-unit posterior mean and equal-tailed credible interval (metric units)."""

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float


def beta_posterior(successes: ArrayLike, trials: ArrayLike, a: float, b: float, *, level: float = 0.95) -> Posterior:
    """Posterior θ_i | y ~ Beta(y_i + a, n_i − y_i + b): shrunken share (y+a)/(n+a+b) and its
    equal-tailed credible interval (``scipy.stats.beta.ppf``). Units: share (0-1)."""
    y, n = _check_counts(successes, trials)
    alpha, beta_ = y + a, n - y + b
    tail = (1.0 - level) / 2.0
    return Posterior(mean=alpha / (alpha + beta_), lower=stats.beta.ppf(tail, alpha, beta_),
                     upper=stats.beta.ppf(1.0 - tail, alpha, beta_), level=level)


def _probability_best(log_pdf, log_cdf, lower: float, upper: float, points: list[float]) -> np.ndarray:
    """P_i = ∫ f_i(t) Π_{k≠i} F_k(t) dt for independent posteriors, all i at once.

    Integrand i = exp(log f_i − log F_i + Σ_k log F_k): one evaluation of every CDF serves
    every unit (``scipy.integrate.quad_vec``, adaptive Gauss-Kronrod, max-norm error 1e-13).
    Where F_i underflows to 0, f_i is negligible too and the integrand is set to 0.
    Breakpoints: 32 quantiles of ``points`` first; if the probabilities do not sum to 1
    within 1e-9 (×p/100 beyond 100 units; a narrow posterior slipped between them) again with up to MAX_BREAKPOINTS.
    """
    def integrand(t: float) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
            log_f, log_cdfs = log_pdf(t), log_cdf(t)
            value = np.exp(log_f - log_cdfs + log_cdfs.sum())
        return np.where(np.isfinite(log_cdfs) & np.isfinite(value), value, 0.0)

    inner = np.unique([q for q in points if lower < q < upper])

    def thinned(k: int) -> np.ndarray:
        return np.unique(np.quantile(inner, np.linspace(0.0, 1.0, k))) if inner.size > k else inner

    for breaks in (thinned(32), thinned(MAX_BREAKPOINTS)):
        result = integrate.quad_vec(integrand, lower, upper, epsabs=1e-13, epsrel=1e-10, norm="max",
                                    points=breaks.tolist() or None)
        probabilities = np.asarray(result[0], dtype=float)
        # rounding in the product of p CDFs grows with p: 1e-9 up to 100 units
        if abs(probabilities.sum() - 1.0) < 1e-9 * max(1.0, probabilities.size / 100):
            break
    return probabilities


def _contenders(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Units that could be the best, and the range to integrate over.

    ``low``/``high`` bound all but 1e-15 of each posterior. Below the largest ``low`` every
    integrand carries a CDF < 1e-15 (or, for that unit, its own density has < 1e-15 mass
    there); a unit whose ``high`` lies below it has P(best) < 1e-15 and a CDF of 1 over
    the rest of the range. Dropping them keeps P(best) of hundreds of units affordable.
    """
    lower = float(low.max())
    keep = high > lower
    return keep, lower, float(high[keep].max())


def probability_best_beta(alpha: ArrayLike, beta: ArrayLike) -> np.ndarray:
    """P(θ_i > θ_k for all k ≠ i) for independent θ_i ~ Beta(alpha_i, beta_i) (METHODS §7.5).

    ∫ f_i(t) Π_{k≠i} F_k(t) dt, deterministic (``scipy.integrate.quad_vec``) over the
    range holding all but 1e-15 of every posterior, with breakpoints at their quartiles and
    tails; absolute error ≲ 1e-12.
    """
    al_all = np.asarray(alpha, dtype=float)
    be_all = np.asarray(beta, dtype=float)
    qs = np.array([1e-15, 0.001, 0.25, 0.5, 0.75, 0.999, 1 - 1e-15])
    q = special.betaincinv(al_all[:, None], be_all[:, None], qs[None, :])
    keep, lower, upper = _contenders(q[:, 0], q[:, -1])
    al, be = al_all[keep], be_all[keep]
    log_norm = special.betaln(al, be)
    # A shape below 1 (a unit with no failures under an EB prior with b < 1) puts an
    # integrable singularity at 0 or 1, where adaptive quadrature bisects for minutes. In
    # s with t = 1 − (1 − s^p)^r (p = 1/min α, r = 1/min β when below 1, else 1: t = s)
    # every density times dt/ds stays bounded.
    p, r = 1.0 / min(1.0, float(al.min())), 1.0 / min(1.0, float(be.min()))

    def to_s(t: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            u = t if r == 1 else -np.expm1(np.log1p(-np.asarray(t, dtype=float)) / r)
        return u ** (1.0 / p)

    def t_of(s: float) -> float:
        return s ** p if r == 1 else -np.expm1(r * np.log1p(-s ** p))

    def log_pdf(s: float) -> np.ndarray:
        log_1mt = r * np.log1p(-s ** p)                           # log(1 − t), exact near t = 1
        log_t = p * np.log(s) if r == 1 else np.log(t_of(s))
        log_jacobian = (np.log(p * r) + ((p - 1) * np.log(s) if p != 1 else 0.0)
                        + ((r - 1) * np.log1p(-s ** p) if r != 1 else 0.0))
        return (al - 1) * log_t + (be - 1) * log_1mt - log_norm + log_jacobian

    def log_cdf(s: float) -> np.ndarray:
        return np.log(special.betainc(al, be, t_of(s)))

    out = np.zeros(al_all.size)
    out[keep] = _probability_best(log_pdf, log_cdf, float(to_s(lower)), float(to_s(upper)),
                                  [float(v) for v in to_s(q[keep, 1:-1]).ravel()])
    return out


def probability_best(successes: ArrayLike, trials: ArrayLike, a: float, b: float) -> np.ndarray:
    """Posterior probability that each unit has the highest true share, under a Beta(a, b)
    prior (a = b = 1: flat prior; the fitted EB prior: shrinkage for small n). Sums to 1."""
    y, n = _check_counts(successes, trials)
    return probability_best_beta(y + a, n - y + b)


def probability_best_normal(means: ArrayLike, sds: ArrayLike) -> np.ndarray:
    """P(θ_i > θ_k for all k ≠ i) for independent θ_i ~ N(mean_i, sd_i²), by quadrature
    over [max(mean − 9 sd), max(mean + 9 sd)] (tail mass < 1e-18 per unit; see `_contenders`)."""
    m_all = np.asarray(means, dtype=float)
    s_all = np.asarray(sds, dtype=float)
    if np.any(s_all <= 0):
        raise ValueError("posterior standard deviations must be positive")
    keep, lower, upper = _contenders(m_all - 9 * s_all, m_all + 9 * s_all)
    m, s = m_all[keep], s_all[keep]
    log_norm = np.log(s) + 0.5 * np.log(2.0 * np.pi)

    def log_pdf(t: float) -> np.ndarray:
        return -0.5 * ((t - m) / s) ** 2 - log_norm

    def log_cdf(t: float) -> np.ndarray:
        return special.log_ndtr((t - m) / s)

    points = np.concatenate([m - 3 * s, m - s, m, m + s, m + 3 * s])
    out = np.zeros(m_all.size)
    out[keep] = _probability_best(log_pdf, log_cdf, lower, upper, [float(v) for v in points])
    return out


# -------------------------------------------------------------- empirical Bayes: means

@dataclass(frozen=True)
class NormalPrior:
    """θ_i ~ N(mean, tau2): the units' true means (metric units; tau2 in units²)."""

    mean: float
    tau2: float
    at_boundary: bool               # ML tau² = 0: floored at MIN_TAU2_FRACTION × median variance


def fit_normal_prior(estimates: ArrayLike, variances: ArrayLike) -> NormalPrior:
    """Fit x_i ~ N(μ, τ² + v_i) by maximum likelihood (normal-normal empirical Bayes).

    Question: how much do the units' true means vary beyond sampling noise v_i?
    Profile likelihood in τ²: μ̂(τ²) = Σw x / Σw, w = 1/(v + τ²); the score
    −½ Σ [w_i − w_i² (x_i − μ̂)²] is solved by Brent's method; τ̂² = 0 when the score is
    negative at 0 (then floored at ``MIN_TAU2_FRACTION`` × median v so the posteriors stay proper).
    """
    x = np.asarray(estimates, dtype=float)
    v = np.asarray(variances, dtype=float)
    if x.size < 2 or np.any(v <= 0):
        raise ValueError("need at least two units with positive variances")

    def mu_hat(t2: float) -> float:
        w = 1.0 / (v + t2)
        return float(np.sum(w * x) / np.sum(w))

    def score(t2: float) -> float:
        w = 1.0 / (v + t2)
        return float(-0.5 * np.sum(w - w**2 * (x - mu_hat(t2)) ** 2))

    floor = MIN_TAU2_FRACTION * float(np.median(v))
    if score(0.0) <= 0:
        return NormalPrior(mean=mu_hat(floor), tau2=floor, at_boundary=True)
    high = float(np.var(x) + np.max(v)) + floor
    while score(high) > 0:
        high *= 2.0
    tau2 = optimize.brentq(score, 0.0, high, xtol=1e-15, rtol=1e-14)
    at_boundary = tau2 < floor
    tau2 = max(tau2, floor)
    return NormalPrior(mean=mu_hat(tau2), tau2=float(tau2), at_boundary=bool(at_boundary))


def normal_posterior(estimates: ArrayLike, variances: ArrayLike, prior: NormalPrior, *,
                     level: float = 0.95) -> tuple[Posterior, np.ndarray]:
    """Posterior θ_i | x_i ~ N(μ + B_i(x_i − μ), B_i v_i), B_i = τ²/(τ² + v_i): shrunken means,
    credible intervals, and the posterior standard deviations (metric units)."""
    x = np.asarray(estimates, dtype=float)
    v = np.asarray(variances, dtype=float)
    shrink = prior.tau2 / (prior.tau2 + v)
    mean = prior.mean + shrink * (x - prior.mean)
    sd = np.sqrt(shrink * v)
    z = stats.norm.ppf(0.5 + level / 2.0)
    return Posterior(mean=mean, lower=mean - z * sd, upper=mean + z * sd, level=level), sd


# ------------------------------------------------------------------------- funnels

def _binomial_sd(target: float, sd: float | None) -> float:
    return float(np.sqrt(target * (1.0 - target))) if sd is None else float(sd)


def _clip(values: np.ndarray, bounds: tuple[float, float] | None) -> np.ndarray:
    return values if bounds is None else np.clip(values, bounds[0], bounds[1])


def funnel_limits(n: ArrayLike, target: float, *, probabilities: ArrayLike = FUNNEL_PROBABILITIES,
                  method: Literal["exact", "normal"] = "exact", sd: float | None = None,
                  bounds: tuple[float, float] | None = (0.0, 1.0)) -> np.ndarray:
    """Funnel-plot control limits around ``target`` for units of size ``n``.

    Question: which values can a unit of size n show by chance alone when its true value
    is the standard θ₀? Rows follow ``n``, columns follow ``probabilities``.

    * ``exact`` (shares; Spiegelhalter 2005, appendix A.1.1): r_p = smallest r with
      F(r) = P(Y ≤ r | n, θ₀) ≥ p (``binom.ppf``); α = (F(r_p) − p)/(F(r_p) − F(r_p − 1));
      limit = (r_p − α)/n — the linearly interpolated binomial CDF crosses p there.
    * ``normal``: θ₀ + z_p·sd/√n, sd = √(θ₀(1−θ₀)) for shares or the per-response SD of the
      metric (means, NPS), truncated to ``bounds`` (None: not truncated).
    Units: those of the metric (share 0-1 for proportions).
    """
    sizes = np.asarray(n, dtype=float).reshape(-1)
    probs = np.asarray(probabilities, dtype=float).reshape(-1)
    if np.any(sizes <= 0) or np.any((probs <= 0) | (probs >= 1)):
        raise ValueError("need n > 0 and probabilities in (0, 1)")
    if method == "exact":
        if sd is not None:
            raise ValueError("exact limits are binomial: do not pass sd")
        if np.any(sizes != np.round(sizes)):
            raise ValueError("exact binomial limits need whole-number n")
        nn, pp = sizes[:, None], probs[None, :]
        r = stats.binom.ppf(pp, nn, target)
        f_r = stats.binom.cdf(r, nn, target)
        f_below = stats.binom.cdf(r - 1, nn, target)
        step = f_r - f_below
        alpha = np.divide(f_r - pp, step, out=np.zeros_like(step), where=step > 0)
        return (r - alpha) / nn
    if method != "normal":
        raise ValueError("method must be 'exact' or 'normal'")
    spread = _binomial_sd(target, sd)
    limits = target + stats.norm.ppf(probs)[None, :] * spread / np.sqrt(sizes)[:, None]
    return _clip(limits, bounds)


def exact_funnel_flags(successes: ArrayLike, trials: ArrayLike, target: float, *,
                       probability_low: float, probability_high: float) -> tuple[np.ndarray, np.ndarray]:
    """Is each unit's count outside the exact binomial limits, without randomisation?

    high: y > r_p(probability_high), i.e. P(Y ≥ y | n, θ₀) ≤ 1 − p_high; low: y <
    r_p(probability_low), i.e. P(Y ≤ y) < p_low. Spiegelhalter's interpolated limit puts the
    boundary count r_p itself just above the upper curve: that count rejects only in the
    randomised test (with probability α), so it is not flagged — flagging it would make the
    upper limit anti-conservative (a 20/20 unit at θ₀ = 0.82 has P(Y = 20) = 1.9 %, yet lies
    above the 99.8 % curve).
    """
    y, n = _check_counts(successes, trials)
    high = y > stats.binom.ppf(probability_high, n, target)
    low = y < stats.binom.ppf(probability_low, n, target)
    return low, high


@dataclass(frozen=True)
class Overdispersion:
    """Spread of the units around θ₀ beyond sampling noise (Spiegelhalter 2005 §5)."""

    z: np.ndarray                   # (x_i − θ₀)/s_i
    z_winsorised: np.ndarray
    winsor_bounds: tuple[float, float]
    phi: float                      # mean of the winsorised z²; 1 = no overdispersion
    chi2: float                     # I·φ, referred to χ²_{I−1}
    dof: int
    p_value: float
    tau2: float                     # additive between-unit variance (units²), DerSimonian-Laird form
    standard_errors: np.ndarray     # s_i


def winsorised_square_expectation(winsor: float) -> float:
    """κ = E[min(Z², c²)], Z ~ N(0, 1), c = Φ⁻¹(1 − winsor): the mean of a winsorised z² when
    there is no overdispersion (κ = 1 − 2(c·φ(c) + w) + 2w·c²; 0.6787 at w = 0.10)."""
    if winsor == 0:
        return 1.0
    c = stats.norm.isf(winsor)
    return float(1.0 - 2.0 * (c * stats.norm.pdf(c) + winsor) + 2.0 * winsor * c**2)


def overdispersion(estimates: ArrayLike, n: ArrayLike, target: float, *, sd: float | None = None,
                   winsor: float = 0.10, normal_consistent: bool = False) -> Overdispersion:
    """Multiplicative φ and additive τ² of the units around ``target`` (METHODS §7.2).

    z_i = (x_i − θ₀)/s_i, s_i = sd/√n_i (sd = √(θ₀(1−θ₀)) for shares); z is winsorised at
    its ``winsor`` and 1 − ``winsor`` quantiles (R type 7); φ̂ = mean(z_w²); test I·φ̂ vs
    χ²_{I−1}; τ̂² = max(0, (I·φ̂ − (I − 1)) / (Σw − Σw²/Σw)), w = 1/s_i² (DerSimonian &
    Laird 1986 with Q = I·φ̂). ``winsor = 0`` gives the unwinsorised statistics, whose τ̂²
    equals DerSimonian-Laird with the inverse-variance mean θ₀.

    ``normal_consistent``: divide φ̂ by κ = `winsorised_square_expectation` (the usual
    consistency factor of a winsorised variance). Spiegelhalter's φ̂ averages κ ≈ 0.68,
    not 1, when units do not differ at all (10 % winsorising), so without the factor the
    χ² test is very conservative and τ̂² misses genuine, normally distributed unit effects.
    """
    x = np.asarray(estimates, dtype=float)
    sizes = np.asarray(n, dtype=float)
    if x.size < 2 or x.shape != sizes.shape:
        raise ValueError("need at least two units, with one n per estimate")
    if not 0.0 <= winsor < 0.5:
        raise ValueError("winsor must lie in [0, 0.5)")
    s = _binomial_sd(target, sd) / np.sqrt(sizes)
    if np.any(s <= 0):
        raise ValueError("the standard errors are zero: no variation around the target")
    z = (x - target) / s
    lo, hi = np.quantile(z, [winsor, 1.0 - winsor], method="linear")
    zw = np.clip(z, lo, hi)
    units = x.size
    phi = float(np.mean(zw**2)) / (winsorised_square_expectation(winsor) if normal_consistent else 1.0)
    chi2 = units * phi
    w = 1.0 / s**2
    tau2 = max(0.0, (chi2 - (units - 1)) / (w.sum() - np.sum(w**2) / w.sum()))
    return Overdispersion(z=z, z_winsorised=zw, winsor_bounds=(float(lo), float(hi)), phi=phi, chi2=float(chi2),
                          dof=units - 1, p_value=float(stats.chi2.sf(chi2, units - 1)), tau2=float(tau2),
                          standard_errors=s)


def adjusted_funnel_limits(n: ArrayLike, target: float, dispersion: Overdispersion, *,
                           probabilities: ArrayLike = FUNNEL_PROBABILITIES,
                           method: Literal["additive", "multiplicative"] = "additive", sd: float | None = None,
                           bounds: tuple[float, float] | None = (0.0, 1.0)) -> np.ndarray:
    """Overdispersion-adjusted funnel limits (normal), rows = n, columns = probabilities.

    additive (random effects): θ₀ + z_p·√(s² + τ̂²) — a constant extra width, preferred
    for large n where φ would make the limits absurdly wide (Spiegelhalter 2005 §5.2);
    multiplicative: θ₀ + z_p·√φ̂·s. s = sd/√n as in `overdispersion`; truncated to ``bounds``.
    """
    sizes = np.asarray(n, dtype=float).reshape(-1)
    z = stats.norm.ppf(np.asarray(probabilities, dtype=float).reshape(-1))[None, :]
    s = (_binomial_sd(target, sd) / np.sqrt(sizes))[:, None]
    if method == "additive":
        limits = target + z * np.sqrt(s**2 + dispersion.tau2)
    elif method == "multiplicative":
        limits = target + z * np.sqrt(dispersion.phi) * s
    else:
        raise ValueError("method must be 'additive' or 'multiplicative'")
    return _clip(limits, bounds)
