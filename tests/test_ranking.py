"""Specification of audit.ranking: rank confidence sets, empirical-Bayes shrinkage, P(best),
funnel limits and overdispersion (METHODS §7)."""
from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import integrate, optimize, stats
from statsmodels.stats.meta_analysis import combine_effects

from audit.ranking import (
    adjusted_funnel_limits,
    beta_binomial_neg_log_likelihood,
    beta_binomial_score,
    beta_posterior,
    binomial_rank_variances,
    estimated_ranks,
    exact_funnel_flags,
    fit_beta_binomial,
    fit_normal_prior,
    funnel_limits,
    holm_better,
    normal_posterior,
    overdispersion,
    pooled_unit_variances,
    probability_best,
    probability_best_beta,
    probability_best_normal,
    rank_confidence_sets,
    tau_best_set,
    winsorised_square_expectation,
)

# METHODS §7: 12 agents, top2box; A01 is the "Customer Service Champion".
AGENTS = [f"A{i:02d}" for i in range(1, 13)]
N = np.array([20, 150, 80, 200, 45, 120, 60, 90, 30, 175, 55, 110])
Y = np.array([19, 129, 66, 166, 40, 94, 45, 80, 22, 140, 50, 81])
P_HAT = Y / N
WALD_VAR = P_HAT * (1 - P_HAT) / N          # METHODS §7.3: Σ = diag(p̂(1−p̂)/n)
THETA0 = 932 / 1135                         # pooled = 0.8211453744493392
TOY = np.linspace(1, 3, 10)                 # METHODS §7.3 toy case


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- rank confidence sets

def test_estimated_ranks_count_units_with_a_higher_estimate():
    # METHODS §7.3 "agents, estimated ranks"
    assert estimated_ranks(P_HAT).tolist() == [1, 5, 7, 6, 3, 9, 10, 3, 12, 8, 2, 11]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_marginal_rank_sets_of_the_twelve_agents_reproduce_csranks(seed):
    # METHODS §7.3, R = 100 000, identical to R csranks(simul = FALSE); stable over seeds 1-3
    sets = rank_confidence_sets(P_HAT, WALD_VAR, rng=rng(seed), n_bootstrap=100_000)
    assert sets.lower.tolist() == [1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 4]
    assert sets.upper.tolist() == [9, 12, 12, 12, 12, 12, 12, 11, 12, 12, 11, 12]


@pytest.mark.parametrize("seed", [1, 2])
def test_simultaneous_rank_sets_of_the_twelve_agents_reproduce_csranks(seed):
    # METHODS §7.3, R = 100 000, identical to R csranks(simul = TRUE); stable over seeds 1-2
    sets = rank_confidence_sets(P_HAT, WALD_VAR, rng=rng(seed), n_bootstrap=100_000, simultaneous=True)
    assert sets.lower.tolist() == [1] * 11 + [2]
    assert sets.upper.tolist() == [11] + [12] * 11


def test_every_agent_but_a12_could_be_the_best():
    # METHODS §7.3: cstaubest(tau = 1)
    could = tau_best_set(P_HAT, WALD_VAR, rng=rng(1), tau=1, n_bootstrap=100_000)
    assert [a for a, c in zip(AGENTS, could) if not c] == ["A12"]


def test_holm_pairwise_rejections_equal_statsmodels_holm():
    # reference: statsmodels multipletests(method="holm") on the one-sided pairwise z-test p-values
    from statsmodels.stats.multitest import multipletests
    x = np.linspace(0.70, 0.95, 25)
    v = np.full(25, 0.02**2)
    z = (x[:, None] - x[None, :]) / np.sqrt(v[:, None] + v[None, :])
    off = ~np.eye(25, dtype=bool)
    reject = multipletests(stats.norm.sf(z[off]), alpha=0.05, method="holm")[0]
    assert holm_better(x, v)[off].tolist() == reject.tolist()
    assert reject.any() and not reject.all()


def test_holm_marginal_rank_set_counts_holm_rejections_among_the_units_own_pairs():
    # reference: statsmodels multipletests(method="holm") over the 2(p − 1) ordered pairs of A01
    from statsmodels.stats.multitest import multipletests
    x = np.linspace(0.70, 0.95, 25)
    v = np.full(25, 0.02**2)
    j, others = 24, np.arange(24)
    p_better = stats.norm.sf((x[others] - x[j]) / np.sqrt(v[others] + v[j]))     # k better than j
    p_worse = stats.norm.sf((x[j] - x[others]) / np.sqrt(v[others] + v[j]))      # j better than k
    reject = multipletests(np.concatenate([p_better, p_worse]), alpha=0.05, method="holm")[0]
    sets = rank_confidence_sets(x, v, rng=rng(1), indices=[j], method="holm")
    assert sets.lower.tolist() == [1 + int(reject[:24].sum())]
    assert sets.upper.tolist() == [25 - int(reject[24:].sum())]
    assert 1 < sets.upper[0] < 25


def test_holm_rank_sets_are_never_narrower_than_the_bootstrap_sets():
    # Holm ignores the positive dependence of pairs sharing a unit, so it rejects fewer pairs
    holm = rank_confidence_sets(P_HAT, WALD_VAR, rng=rng(1), method="holm")
    boot = rank_confidence_sets(P_HAT, WALD_VAR, rng=rng(1), n_bootstrap=100_000)
    assert (holm.lower <= boot.lower).all() and (holm.upper >= boot.upper).all()


def test_holm_tau_best_set_keeps_the_twelve_agents_but_a12_or_more():
    # Holm is more conservative than the bootstrap max-t (METHODS §7.3 excludes only A12):
    # it can only keep more agents in the could-be-best set, never fewer
    holm = tau_best_set(P_HAT, WALD_VAR, rng=rng(1), tau=1, method="holm")
    boot = tau_best_set(P_HAT, WALD_VAR, rng=rng(1), tau=1, n_bootstrap=100_000)
    assert (holm >= boot).all() and holm[0]


def test_holm_tau_best_set_covers_the_true_best_unit_in_simulations():
    # known truth: 300 units, unit 0 truly best by 0.02; coverage must be >= 95 %
    generator = rng(11)
    theta = np.concatenate([[0.87], np.linspace(0.60, 0.85, 299)])
    covered = 0
    for _ in range(100):
        n = generator.integers(50, 400, size=300)
        est = generator.binomial(n, theta) / n
        covered += tau_best_set(est, binomial_rank_variances(est * n, n), rng=generator, method="holm")[0]
    assert covered >= 95


def test_all_twelve_agents_could_be_among_the_best_three():
    # METHODS §7.3: cstaubest(tau = 3) contains all 12
    assert tau_best_set(P_HAT, WALD_VAR, rng=rng(1), tau=3, n_bootstrap=100_000).all()


@pytest.mark.parametrize("variance,simultaneous,lower,upper", [
    (0.01, False, [9, 8, 7, 6, 5, 4, 3, 2, 1, 1], [10, 10, 9, 8, 7, 6, 5, 4, 3, 2]),
    (0.01, True, [9, 8, 7, 6, 5, 4, 3, 2, 1, 1], [10, 10, 9, 8, 7, 6, 5, 4, 3, 2]),
    (0.0144, False, [9, 8, 7, 6, 5, 4, 3, 2, 1, 1], [10, 10, 9, 8, 7, 6, 5, 4, 3, 2]),
    (0.0144, True, [8, 7, 6, 5, 4, 3, 2, 1, 1, 1], [10, 10, 10, 9, 8, 7, 6, 5, 4, 3]),
    (0.0225, False, [8, 7, 6, 5, 4, 3, 2, 1, 1, 1], [10, 10, 10, 9, 8, 7, 6, 5, 4, 3]),
    (0.0225, True, [8, 7, 6, 5, 4, 3, 2, 1, 1, 1], [10, 10, 10, 9, 8, 7, 6, 5, 4, 3]),
])
def test_toy_linspace_rank_sets_reproduce_csranks(variance, simultaneous, lower, upper):
    # METHODS §7.3: x = linspace(1, 3, 10), Sigma = v·I, R = 100 000, seed 1
    sets = rank_confidence_sets(TOY, np.full(10, variance), rng=rng(1), n_bootstrap=100_000,
                                simultaneous=simultaneous)
    assert sets.lower.tolist() == lower and sets.upper.tolist() == upper


def test_simultaneous_sets_contain_the_marginal_sets():
    # Mogstad et al. (2024): joint coverage needs a larger critical value
    marginal = rank_confidence_sets(P_HAT, WALD_VAR, rng=rng(5), n_bootstrap=20_000)
    joint = rank_confidence_sets(P_HAT, WALD_VAR, rng=rng(5), n_bootstrap=20_000, simultaneous=True)
    assert np.all(joint.lower <= marginal.lower) and np.all(joint.upper >= marginal.upper)


def test_stepdown_sets_are_never_wider_than_single_step_sets():
    single = rank_confidence_sets(TOY, np.full(10, 0.0144), rng=rng(1), n_bootstrap=20_000, stepdown=False)
    stepped = rank_confidence_sets(TOY, np.full(10, 0.0144), rng=rng(1), n_bootstrap=20_000)
    assert np.all(stepped.lower >= single.lower) and np.all(stepped.upper <= single.upper)


def test_rank_sets_for_chosen_indices_match_the_full_computation():
    full = rank_confidence_sets(TOY, np.full(10, 0.0144), rng=rng(1), n_bootstrap=100_000)
    some = rank_confidence_sets(TOY, np.full(10, 0.0144), rng=rng(2), n_bootstrap=100_000, indices=[0, 9])
    assert some.lower.tolist() == full.lower[[0, 9]].tolist() and some.upper.tolist() == full.upper[[0, 9]].tolist()


def test_a_diagonal_covariance_matrix_equals_the_variance_vector():
    from_vector = rank_confidence_sets(P_HAT, WALD_VAR, rng=rng(3), n_bootstrap=5000)
    from_matrix = rank_confidence_sets(P_HAT, np.diag(WALD_VAR), rng=rng(3), n_bootstrap=5000)
    assert from_vector.lower.tolist() == from_matrix.lower.tolist()
    assert from_vector.upper.tolist() == from_matrix.upper.tolist()


def test_positive_correlation_narrows_the_rank_sets():
    # Var(x_j − x_k) = 2v(1 − ρ): correlated estimates are easier to order
    v = 0.0225
    correlated = v * (0.2 * np.eye(10) + 0.8)
    independent = rank_confidence_sets(TOY, np.full(10, v), rng=rng(1), n_bootstrap=20_000)
    dependent = rank_confidence_sets(TOY, correlated, rng=rng(1), n_bootstrap=20_000)
    assert np.all(dependent.upper - dependent.lower <= independent.upper - independent.lower)
    assert np.sum(dependent.upper - dependent.lower) < np.sum(independent.upper - independent.lower)


def test_zero_variance_is_refused():
    with pytest.raises(ValueError, match="positive"):
        rank_confidence_sets(P_HAT, np.zeros(12), rng=rng(1))


def test_well_separated_units_get_their_exact_rank():
    x = np.arange(6, dtype=float) * 10.0
    sets = rank_confidence_sets(x, np.ones(6), rng=rng(1), n_bootstrap=2000, simultaneous=True)
    assert sets.lower.tolist() == sets.upper.tolist() == [6, 5, 4, 3, 2, 1]


def simultaneous_coverage(theta: np.ndarray, seed: int, runs: int = 200) -> float:
    """Share of seeded runs (unit-variance normal estimates) whose simultaneous rank sets
    contain every unit's true rank."""
    true_rank = estimated_ranks(theta)
    generator = rng(seed)
    covered = 0
    for _ in range(runs):
        x = theta + generator.standard_normal(theta.size)
        sets = rank_confidence_sets(x, np.ones(theta.size), rng=generator, n_bootstrap=1000, simultaneous=True)
        covered += bool(np.all((sets.lower <= true_rank) & (true_rank <= sets.upper)))
    return covered / runs


def test_simultaneous_sets_cover_all_true_ranks_in_at_least_95_percent_of_runs():
    # Distinct but close true values (spacing 0.25 SD): true ranks 8..1 are well defined.
    assert simultaneous_coverage(0.25 * np.arange(8), seed=20240601) >= 0.95


def test_with_equal_true_skill_simultaneous_sets_cover_the_tied_ranks_in_95_percent_of_runs():
    # Ten units of identical true skill: every true rank is 1 (ties share the best rank),
    # so coverage means no unit is declared worse than another. Seeded: 97 % of 200 runs.
    assert simultaneous_coverage(np.zeros(10), seed=11) >= 0.95


def test_marginal_set_covers_one_units_true_rank_in_at_least_95_percent_of_runs():
    theta = 0.5 * np.arange(8)
    generator = rng(7)
    covered = 0
    for _ in range(200):
        x = theta + generator.standard_normal(8)
        sets = rank_confidence_sets(x, np.ones(8), rng=generator, n_bootstrap=1000, indices=[4])
        covered += bool(sets.lower[0] <= 4 <= sets.upper[0])     # unit 4 has true rank 4
    assert covered >= 0.95 * 200


# ---------------------------------------------------------------- variance floors

def test_binomial_variance_floor_applies_at_a_perfect_score():
    # METHODS §7.3: (y+2)/(n+4) instead of p̂ = 1, whose Wald variance is 0
    assert binomial_rank_variances([5], [5])[0] == pytest.approx((7 / 9) * (2 / 9) / 9, rel=1e-12)


def test_binomial_variance_is_the_wald_variance_when_that_is_larger():
    assert binomial_rank_variances([50], [100])[0] == pytest.approx(0.25 / 100, rel=1e-12)


def test_unit_variances_are_shrunk_with_four_pseudo_responses():
    got = pooled_unit_variances([0.0, 2.0, np.nan], [5, 11, 1], 1.0)
    assert got.tolist() == pytest.approx([4 / 8, (10 * 2 + 4) / 14, 1.0], rel=1e-12)


# ---------------------------------------------------------------- empirical Bayes

@pytest.fixture(scope="module")
def prior():
    return fit_beta_binomial(Y, N)


def test_beta_binomial_prior_reproduces_methods(prior):
    # METHODS §7.4: root of the score equations, tol 1e-14
    assert prior.a == pytest.approx(98.18304741055, rel=1e-9)
    assert prior.b == pytest.approx(21.11458275800, rel=1e-9)
    assert prior.mean == pytest.approx(0.8230092020, rel=1e-9)
    assert prior.strength == pytest.approx(119.2976301686, rel=1e-9)
    assert not prior.complete_pooling


def test_beta_binomial_prior_keeps_a_root_that_hybr_reports_as_slow_progress(monkeypatch):
    # hybr can stop at the root itself with success=False ("not making good progress"), as on
    # AVX-512 machines; reference: METHODS §7.4's root, as in the test above
    solve = optimize.root

    def slow(*args, **kwargs):
        found = solve(*args, **kwargs)
        found.success = False
        return found

    monkeypatch.setattr(optimize, "root", slow)
    fit = fit_beta_binomial(Y, N)
    assert fit.a == pytest.approx(98.18304741055, rel=1e-9)
    assert fit.b == pytest.approx(21.11458275800, rel=1e-9)


def test_beta_binomial_prior_rejects_a_point_where_the_score_does_not_vanish(monkeypatch):
    # a solver that stops short (success=False, score far from 0) leaves the bounded maximisation's
    # point: reference, that point is not METHODS §7.4's root (relative gap ~5e-6)
    solve = optimize.root

    def stopped_short(*args, **kwargs):
        found = solve(*args, **kwargs)
        found.success, found.fun = False, np.array([1e-3, -1e-3])
        return found

    monkeypatch.setattr(optimize, "root", stopped_short)
    fit = fit_beta_binomial(Y, N)
    assert fit.a != pytest.approx(98.18304741055, rel=1e-9)


def test_beta_binomial_prior_solves_the_score_equations(prior):
    assert np.max(np.abs(beta_binomial_score(Y, N, prior.a, prior.b))) < 1e-9


def test_beta_binomial_likelihood_matches_scipy(prior):
    # scipy.stats.betabinom is the reference likelihood; METHODS §7.4: 35.38207742472
    reference = -stats.betabinom(N, prior.a, prior.b).logpmf(Y).sum()
    assert beta_binomial_neg_log_likelihood(Y, N, prior.a, prior.b) == pytest.approx(reference, rel=1e-12)
    assert prior.neg_log_likelihood == pytest.approx(35.38207742472, rel=1e-11)


def test_beta_binomial_fit_beats_a_general_purpose_optimiser(prior):
    # Likelihood written out with log-gamma functions, minimised by Nelder-Mead
    from scipy.special import betaln, gammaln

    def nll(v):
        a, b = np.exp(v)
        return -np.sum(gammaln(N + 1) - gammaln(Y + 1) - gammaln(N - Y + 1) + betaln(Y + a, N - Y + b) - betaln(a, b))

    nm = optimize.minimize(nll, np.log([50.0, 10.0]), method="Nelder-Mead",
                           options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 5000})
    assert prior.neg_log_likelihood <= nm.fun + 1e-10
    assert prior.a == pytest.approx(np.exp(nm.x[0]), rel=1e-3)


def test_homogeneous_units_give_complete_pooling():
    fit = fit_beta_binomial([80, 160, 40, 240], [100, 200, 50, 300])
    assert fit.complete_pooling and fit.mean == pytest.approx(0.8, rel=1e-6)


def test_posterior_means_reproduce_methods(prior):
    # METHODS §7.4 (8 decimals)
    expected = [0.84124222, 0.84361324, 0.82380833, 0.82738806, 0.84105320, 0.80311304,
                0.79857747, 0.85133810, 0.80498965, 0.80932710, 0.85017247, 0.78144308]
    post = beta_posterior(Y, N, prior.a, prior.b)
    assert post.mean == pytest.approx(expected, abs=6e-9)


def test_credible_intervals_reproduce_methods_and_scipy(prior):
    # METHODS §7.4: A01 [0.776360, 0.896857], A08 [0.800206, 0.896117], A11 [0.793704, 0.899040]
    post = beta_posterior(Y, N, prior.a, prior.b)
    idx = [0, 7, 10]
    assert post.lower[idx] == pytest.approx([0.776360, 0.800206, 0.793704], abs=6e-7)
    assert post.upper[idx] == pytest.approx([0.896857, 0.896117, 0.899040], abs=6e-7)
    lo, hi = stats.beta.interval(0.95, Y + prior.a, N - Y + prior.b)
    assert post.lower == pytest.approx(lo, rel=1e-12) and post.upper == pytest.approx(hi, rel=1e-12)


def test_shrinkage_drops_the_champion_to_fourth(prior):
    # METHODS §7.4 EB order: A08, A11, A02, A01, ...
    order = np.argsort(-beta_posterior(Y, N, prior.a, prior.b).mean, kind="stable")
    assert [AGENTS[i] for i in order] == ["A08", "A11", "A02", "A01", "A05", "A04", "A03", "A10",
                                         "A09", "A06", "A07", "A12"]


def test_probability_best_under_the_eb_prior_reproduces_methods(prior):
    # METHODS §7.5 (quadrature)
    expected = [0.170214, 0.118726, 0.038485, 0.024818, 0.148602, 0.004131,
                0.006151, 0.230702, 0.016328, 0.004494, 0.236916, 0.000433]
    got = probability_best(Y, N, prior.a, prior.b)
    assert got == pytest.approx(expected, abs=6e-7)
    assert got.sum() == pytest.approx(1.0, abs=1e-9)


def test_probability_best_under_a_flat_prior_reproduces_methods():
    # METHODS §7.5: A01 0.508666 A05 0.125386 A08 0.103788 A11 0.239553 A02 0.015895
    got = probability_best(Y, N, 1.0, 1.0)
    assert got[[0, 4, 7, 10, 1]] == pytest.approx([0.508666, 0.125386, 0.103788, 0.239553, 0.015895], abs=6e-7)
    assert got.sum() == pytest.approx(1.0, abs=1e-9)


def test_probability_best_agrees_with_posterior_simulation(prior):
    # METHODS §7.5 Monte Carlo: default_rng(20240601), 200 000 draws: A01 0.1708, A08 0.2318, A11 0.2360
    draws = rng(20240601).beta(Y + prior.a, N - Y + prior.b, size=(200_000, 12))
    mc = np.bincount(draws.argmax(axis=1), minlength=12) / 200_000
    assert mc[[0, 7, 10]] == pytest.approx([0.1708, 0.2318, 0.2360], abs=5e-4)
    se = np.sqrt(mc * (1 - mc) / 200_000)
    assert np.all(np.abs(probability_best(Y, N, prior.a, prior.b) - mc) <= 4 * se + 1e-6)


@pytest.mark.parametrize("alpha,beta", [
    # the posteriors of tests/test_fuzz.py's "mixed types in the score column": units without a
    # failure under an EB prior with b < 1 (this took 33 s before the change of variable)
    ([11.3116772, 6.3116772, 11.3116772, 6.3116772], [0.36112766, 5.36112766, 0.36112766, 5.36112766]),
    ([0.4, 3.0, 2.0], [2.0, 0.7, 3.0]),             # a shape below 1 at each end
])
def test_probability_best_with_a_shape_below_one_is_quick_and_exact(alpha, beta):
    # reference: QUADPACK's qags on the t scale, which extrapolates endpoint singularities
    def integrand(t, i):
        others = [stats.beta.cdf(t, alpha[k], beta[k]) for k in range(len(alpha)) if k != i]
        return stats.beta.pdf(t, alpha[i], beta[i]) * np.prod(others)
    expected = [integrate.quad(integrand, 0, 1, args=(i,), epsabs=1e-13, limit=200)[0] for i in range(len(alpha))]
    start = time.perf_counter()
    got = probability_best_beta(alpha, beta)
    assert time.perf_counter() - start < 5
    assert got == pytest.approx(expected, abs=1e-9)
    assert got.sum() == pytest.approx(1.0, abs=1e-9)


def test_normal_probability_best_agrees_with_simulation():
    means, sds = np.array([0.0, 0.3, 0.5, 0.1]), np.array([0.2, 0.4, 0.3, 0.1])
    draws = rng(11).normal(means, sds, size=(400_000, 4))
    mc = np.bincount(draws.argmax(axis=1), minlength=4) / 400_000
    got = probability_best_normal(means, sds)
    assert np.all(np.abs(got - mc) <= 4 * np.sqrt(mc * (1 - mc) / 400_000))
    assert got.sum() == pytest.approx(1.0, abs=1e-9)


def test_normal_probability_best_of_identical_units_is_one_over_i():
    assert probability_best_normal(np.zeros(5), np.ones(5)) == pytest.approx(np.full(5, 0.2), abs=1e-9)


def test_normal_prior_is_the_maximum_likelihood_fit():
    x = np.array([4.1, 4.5, 3.9, 4.8, 4.2, 3.6, 4.4])
    v = np.array([0.02, 0.05, 0.01, 0.08, 0.03, 0.04, 0.02])

    def nll(par):
        t2 = np.exp(par[1])
        return 0.5 * np.sum(np.log(v + t2) + (x - par[0]) ** 2 / (v + t2))

    ref = optimize.minimize(nll, [4.2, np.log(0.1)], method="Nelder-Mead",
                            options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 20_000})
    fit = fit_normal_prior(x, v)
    assert fit.mean == pytest.approx(ref.x[0], rel=1e-6)
    assert fit.tau2 == pytest.approx(np.exp(ref.x[1]), rel=1e-5)
    assert not fit.at_boundary


def test_normal_prior_without_between_unit_spread_is_at_the_boundary():
    fit = fit_normal_prior([4.0, 4.01, 3.99, 4.0], [0.05, 0.05, 0.05, 0.05])
    assert fit.at_boundary and fit.tau2 < 1e-6


def test_normal_posterior_shrinks_by_tau2_over_tau2_plus_v():
    x, v = np.array([5.0, 3.0]), np.array([1.0, 0.25])
    prior = fit_normal_prior([4.1, 4.5, 3.9, 4.8], [0.02, 0.05, 0.01, 0.08])
    post, sd = normal_posterior(x, v, prior)
    b = prior.tau2 / (prior.tau2 + v)
    assert post.mean == pytest.approx(prior.mean + b * (x - prior.mean), rel=1e-12)
    assert sd == pytest.approx(np.sqrt(b * v), rel=1e-12)


# ---------------------------------------------------------------- funnel limits

# METHODS §7.1 table: agent index, exact 95 % lo/hi, exact 99.8 % lo/hi, normal 95 % hi, normal 99.8 % hi
FUNNEL_TABLE = [
    (0, 0.611331, 0.946707, 0.496205, 0.997426, 0.989100, 1.085957),
    (4, 0.691439, 0.915198, 0.614839, 0.963954, 0.933115, 0.997686),
    (7, 0.733392, 0.891478, 0.681082, 0.929715, 0.900320, 0.945979),
    (10, 0.705125, 0.907482, 0.637841, 0.953845, 0.922426, 0.980832),
    (11, 0.742027, 0.885697, 0.695678, 0.920489, 0.892762, 0.934061),
]


@pytest.mark.parametrize("row", FUNNEL_TABLE, ids=lambda r: AGENTS[r[0]])
def test_exact_funnel_limits_reproduce_methods(row):
    i, *expected = row
    got = funnel_limits([N[i]], THETA0)[0]
    assert got == pytest.approx(expected[:4], abs=6e-7)


@pytest.mark.parametrize("row", FUNNEL_TABLE, ids=lambda r: AGENTS[r[0]])
def test_normal_funnel_limits_reproduce_methods(row):
    i, *expected = row
    got = funnel_limits([N[i]], THETA0, method="normal", bounds=None)[0]
    assert got[[1, 3]] == pytest.approx(expected[4:], abs=6e-7)


def test_normal_limits_are_truncated_to_the_unit_interval():
    # METHODS §7.1: A01 normal 99.8 % upper 1.085957 -> 1
    assert funnel_limits([20], THETA0, method="normal")[0, 3] == 1.0


def test_a02_exact_95_percent_limits():
    # METHODS §7.1: A02 exact 95 % = [0.754439, 0.877275]
    assert funnel_limits([150], THETA0)[0, :2] == pytest.approx([0.754439, 0.877275], abs=6e-7)


@pytest.mark.parametrize("n", [5, 20, 57, 200, 1000])
def test_exact_limit_is_where_the_interpolated_binomial_cdf_crosses_p(n):
    # Spiegelhalter (2005) appendix, checked against scipy binom.cdf/ppf independently
    probs = np.array([0.025, 0.975, 0.001, 0.999])
    counts = np.arange(-1, n + 1)
    cdf = stats.binom.cdf(counts, n, THETA0)
    limits = funnel_limits([n], THETA0, probabilities=probs)[0]
    assert np.interp(n * limits, counts, cdf) == pytest.approx(probs, abs=1e-12)
    rp = stats.binom.ppf(probs, n, THETA0)
    assert np.all((rp - 1 < n * limits) & (n * limits <= rp))


def test_exact_limits_approach_the_normal_limits_for_large_n():
    exact = funnel_limits([1_000_000], THETA0)[0]
    normal = funnel_limits([1_000_000], THETA0, method="normal")[0]
    assert exact == pytest.approx(normal, abs=2e-5)


def test_exact_flags_are_the_exact_one_sided_tests():
    # high iff P(Y >= y) <= 0.001, low iff P(Y <= y) < 0.001 (scipy binom.sf / cdf)
    n = 60
    y = np.arange(n + 1)
    low, high = exact_funnel_flags(y, np.full(n + 1, n), THETA0, probability_low=0.001, probability_high=0.999)
    assert high.tolist() == (stats.binom.sf(y - 1, n, THETA0) <= 0.001).tolist()
    assert low.tolist() == (stats.binom.cdf(y, n, THETA0) < 0.001).tolist()


def test_perfect_score_above_the_interpolated_curve_is_not_flagged():
    # 20/20 lies above the 99.8 % curve (0.997426, METHODS §7.1), but P(Y = 20) = 1.9 %
    assert funnel_limits([20], THETA0)[0, 3] < 1.0
    low, high = exact_funnel_flags([20], [20], THETA0, probability_low=0.001, probability_high=0.999)
    assert not high[0] and stats.binom.pmf(20, 20, THETA0) > 0.001


# ---------------------------------------------------------------- overdispersion

@pytest.fixture(scope="module")
def dispersion():
    return overdispersion(P_HAT, N, THETA0)


def test_z_scores_reproduce_methods(dispersion):
    expected = [1.503678, 1.241733, 0.089964, 0.326757, 1.185807, -1.080838, -1.438011,
                1.676984, -1.255031, -0.729918, 1.701904, -2.32027]
    assert dispersion.z == pytest.approx(expected, abs=6e-7)


def test_winsor_bounds_are_the_10_and_90_percent_quantiles(dispersion):
    # METHODS §7.2 (R type 7 quantiles)
    assert dispersion.winsor_bounds == pytest.approx((-1.4197129575045746, 1.6596532287054822), rel=1e-12)


def test_phi_and_its_chi_square_test_reproduce_methods(dispersion):
    assert dispersion.phi == pytest.approx(1.5116760846233648, rel=1e-12)
    assert dispersion.chi2 == pytest.approx(18.140113015480377, rel=1e-12)
    assert dispersion.p_value == pytest.approx(0.07838592091607902, rel=1e-10)
    assert dispersion.p_value == pytest.approx(stats.chi2.sf(dispersion.chi2, 11), rel=1e-12)


def test_tau2_from_winsorised_phi_reproduces_methods(dispersion):
    assert dispersion.tau2 == pytest.approx(0.001040251162407524, rel=1e-12)


def test_unwinsorised_tau2_is_dersimonian_laird_from_statsmodels():
    # METHODS §7.2: combine_effects(p, θ0(1−θ0)/n, method_re="chi2").tau2 = 0.0015676840555766264
    raw = overdispersion(P_HAT, N, THETA0, winsor=0.0)
    reference = combine_effects(P_HAT, THETA0 * (1 - THETA0) / N, method_re="chi2")
    assert raw.phi == pytest.approx(1.8133604759673088, rel=1e-12)
    assert raw.tau2 == pytest.approx(reference.tau2, rel=1e-10)
    assert raw.chi2 == pytest.approx(reference.q, rel=1e-10)


def test_additive_limits_reproduce_methods(dispersion):
    # METHODS §7.2: additive 95 % upper A01 1.000603, A11 0.940535; 99.8 % upper A01 1.104092
    got = adjusted_funnel_limits([20, 55], THETA0, dispersion, bounds=None)
    assert got[:, 1] == pytest.approx([1.000603, 0.940535], abs=6e-7)
    assert got[0, 3] == pytest.approx(1.104092, abs=6e-7)


def test_multiplicative_limits_reproduce_methods(dispersion):
    # METHODS §7.2: multiplicative 99.8 % upper A01 1.146731, A11 1.017481
    got = adjusted_funnel_limits([20, 55], THETA0, dispersion, method="multiplicative", bounds=None)
    assert got[:, 3] == pytest.approx([1.146731, 1.017481], abs=6e-7)


def test_winsorised_square_expectation_matches_numerical_integration():
    c = stats.norm.isf(0.10)
    reference = integrate.quad(lambda z: min(z * z, c * c) * stats.norm.pdf(z), -np.inf, np.inf,
                               epsabs=1e-13)[0]
    assert winsorised_square_expectation(0.10) == pytest.approx(reference, rel=1e-9)


def test_consistent_phi_averages_one_when_units_do_not_differ():
    # 800 sets of 20 standard-normal z-scores: Spiegelhalter's φ averages ≈ 0.68, the
    # consistency-corrected φ ≈ 1.
    generator = rng(3)
    plain, consistent = [], []
    for _ in range(800):
        x = THETA0 + generator.standard_normal(20) * np.sqrt(THETA0 * (1 - THETA0) / 100)
        plain.append(overdispersion(x, np.full(20, 100), THETA0).phi)
        consistent.append(overdispersion(x, np.full(20, 100), THETA0, normal_consistent=True).phi)
    assert np.mean(plain) == pytest.approx(0.68, abs=0.04)
    assert np.mean(consistent) == pytest.approx(1.0, abs=0.05)
