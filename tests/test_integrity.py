"""Specification of the response-level integrity statistics (audit.integrity).

Reference values: METHODS.md §8 worked examples, brute-force computations written out in
the tests, and scipy (hypergeom, fisher_exact, ks_2samp).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats
from statsmodels.stats.multitest import multipletests

from audit import integrity
from audit.integrity import (
    bh_adjust,
    burst_test,
    clock_offset,
    excess_tests,
    holm_adjust,
    longstring,
    match_radius,
    max_percent_match,
    near_duplicate_clusters,
    repeat_raters,
    scan_statistic,
    speeders,
    straightlined,
    stratified_excess_tests,
    tarone_bonferroni,
)

# METHODS §8.2 example
METHODS_X = [[5, 4, 5, 5, 3, 4, 5, 2, 4, 5], [5, 4, 5, 5, 3, 4, 5, 2, 4, 4], [1, 2, 3, 4, 5, 1, 2, 3, 4, 5],
             [5, 5, 5, 5, 5, 5, 5, 5, 5, 5], [5, 5, 5, 5, 5, 5, 5, 5, 5, 5], [2, 3, 3, 4, 4, 1, 5, 2, 3, 3]]


def brute_force_mpm(x: np.ndarray) -> np.ndarray:
    """max_{j≠i} share of equal items, by comparing every pair (O(n²))."""
    x = np.asarray(x, dtype=float)
    equal = (x[:, None, :] == x[None, :, :]).sum(axis=2).astype(float)
    np.fill_diagonal(equal, -1)
    return equal.max(axis=1) / x.shape[1]


def skewed_items(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """CSAT-like items: a respondent's latent satisfaction plus item noise, cut on 1-5."""
    latent = rng.logistic(1.0, 1.0, size=(n, 1)) + rng.normal(0, 1.5, size=(n, k))
    return 1.0 + np.searchsorted(np.array([-1.5, -0.5, 0.5, 1.5]), latent).astype(float)


# ---------------------------------------------------------------------------------------
# maximum percent match
# ---------------------------------------------------------------------------------------
def test_max_percent_match_reproduces_the_methods_example():
    # METHODS §8.2: [0.9 0.9 0.3 1. 1. 0.3] (= brute force)
    np.testing.assert_array_equal(max_percent_match(METHODS_X), [0.9, 0.9, 0.3, 1.0, 1.0, 0.3])


def test_max_percent_match_flags_the_methods_rows_at_085():
    # METHODS §8.2: rows 0, 1, 3, 4 flagged at 0.85
    assert np.flatnonzero(max_percent_match(METHODS_X) >= 0.85).tolist() == [0, 1, 3, 4]


@pytest.mark.parametrize("n,k,levels", [
    (40, 10, 5),      # tiny: brute force over unique patterns
    (3000, 6, 2),     # few possible patterns: nearly all repeated
])
def test_max_percent_match_equals_brute_force_on_uniform_random_answers(n, k, levels):
    x = np.random.default_rng(n + k + levels).integers(1, levels + 1, size=(n, k)).astype(float)
    np.testing.assert_array_equal(max_percent_match(x), brute_force_mpm(x))


@pytest.mark.parametrize("n,k,levels", [
    (800, 10, 5),     # int64 codes, C(10, d) masks: masked hashing, then brute force on the rest
    (2000, 40, 2),    # 40 masks at level 1, but C(40, 2) = 780 masks: pigeonhole blocks at level 2
    (800, 70, 4),     # 4^70 patterns overflow an int64 code: pigeonhole blocks on block ids
    (800, 12, 3),
])
def test_max_percent_match_hashing_paths_equal_brute_force(monkeypatch, n, k, levels):
    # a tiny brute-force budget forces the block-hashing levels on small data
    monkeypatch.setattr(integrity, "_BRUTE_FORCE_PAIRS", 1_000)
    x = np.random.default_rng(n + k + levels).integers(1, levels + 1, size=(n, k)).astype(float)
    x[::7] = x[1::7][: len(x[::7])]                  # some repeated and some near patterns
    x[2::7, 0] = x[3::7, 0][: len(x[2::7])]
    np.testing.assert_array_equal(max_percent_match(x), brute_force_mpm(x))


def test_max_percent_match_equals_brute_force_on_skewed_csat_answers():
    x = skewed_items(np.random.default_rng(3), 3000, 10)
    np.testing.assert_array_equal(max_percent_match(x), brute_force_mpm(x))


def test_max_percent_match_hashing_equals_brute_force_on_skewed_csat_answers(monkeypatch):
    monkeypatch.setattr(integrity, "_BRUTE_FORCE_PAIRS", 1_000)
    x = skewed_items(np.random.default_rng(4), 2000, 10)
    np.testing.assert_array_equal(max_percent_match(x), brute_force_mpm(x))


def test_max_percent_match_compares_only_complete_rows():
    x = np.array(METHODS_X, dtype=float)
    x[2, 0] = np.nan
    mpm = max_percent_match(x)
    assert np.isnan(mpm[2])
    complete = np.delete(np.array(METHODS_X, dtype=float), 2, axis=0)
    np.testing.assert_array_equal(np.delete(mpm, 2), brute_force_mpm(complete))


def test_max_percent_match_is_undefined_with_a_single_complete_row():
    assert np.isnan(max_percent_match([[1, 2, 3, 4, 5], [1, np.nan, 3, 4, 5]])).all()


def test_max_percent_match_treats_answers_as_labels_not_magnitudes():
    # 4.5 and 4.0 differ exactly like 5 and 1: a match is equality only
    x = [[4.5, 1, 2, 3, 4], [4.0, 1, 2, 3, 4], [2.5, 5, 5, 5, 5]]
    np.testing.assert_allclose(max_percent_match(x), [0.8, 0.8, 0.0])


def random_patterns(seed: int, n: int, k: int, levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique answer patterns (codes), their mixed-radix weights and codes, as the search uses them."""
    x = np.random.default_rng(seed).integers(1, levels + 1, size=(n, k)).astype(float)
    codes, column_levels = integrity._column_codes(x, np.arange(n))
    weights = integrity._radix_weights(column_levels)
    patterns, _, _, code = integrity._unique_patterns(codes, weights)
    return patterns, weights, code


def test_column_codes_are_each_columns_index_among_its_sorted_answers():
    x = np.random.default_rng(1).choice([4.5, 1.0, -0.0, 0.0, 7.0, np.inf], size=(60, 4))
    rows = np.arange(0, 60, 3)
    codes, levels = integrity._column_codes(x, rows)
    for j in range(4):
        values, inverse = np.unique(x[rows, j], return_inverse=True)      # numpy's sorted index
        assert codes[:, j].tolist() == inverse.tolist()
        assert levels[j] == values.size


@pytest.mark.parametrize("n_levels,dtype", [(2, np.int8), (126, np.int8), (127, np.int16), (40_000, np.int32)])
def test_column_codes_are_the_narrowest_integers_with_room_for_one_more_level(n_levels, dtype):
    x = np.arange(n_levels, dtype=float).reshape(-1, 1)
    codes, _ = integrity._column_codes(x, np.arange(n_levels))
    assert codes.dtype == dtype
    assert int(codes.max()) + 1 == n_levels          # the largest code + 1 does not wrap


def test_radix_codes_equal_the_int64_matrix_product():
    levels = np.full(39, 3)                           # 3^39 ≈ 2^61.8: place values near the int64 limit
    weights = integrity._radix_weights(levels)
    codes = np.random.default_rng(2).integers(0, 3, size=(200, 39)).astype(np.int8)
    np.testing.assert_array_equal(integrity._radix_codes(codes, weights), codes.astype(np.int64) @ weights)


@pytest.mark.parametrize("levels,dtype", [(5, np.int32), (20, np.int64)])   # codes below and above 2^31
def test_masked_keys_are_the_codes_less_the_subsets_digits(levels, dtype):
    patterns, weights, code = random_patterns(3, 500, 12, levels)
    code_of_items, digits = integrity._item_digits(patterns, weights, code)
    assert digits.dtype == dtype
    for subset in [(0,), (3, 7), (1, 5, 11)]:
        expected = code - (patterns.astype(np.int64) * weights)[:, subset].sum(axis=1)
        np.testing.assert_array_equal(integrity._masked_keys(code_of_items, digits, subset), expected)


@pytest.mark.parametrize("step", [2, 9])                     # many patterns asked / few
def test_shared_key_is_a_count_of_at_least_two_among_all_keys(step):
    keys = np.random.default_rng(4).integers(0, 40, size=300)
    query = np.arange(0, 300, step)
    counts = np.array([(keys == keys[i]).sum() for i in query])
    np.testing.assert_array_equal(integrity._shared_key(keys, query), counts >= 2)


def test_mismatches_are_the_hamming_distances_to_every_pattern():
    patterns, _, _ = random_patterns(5, 300, 10, 3)
    rows = np.array([0, 7, 7, 120])
    brute = (patterns[rows][:, None, :] != patterns[None, :, :]).sum(axis=2)
    np.testing.assert_array_equal(integrity._mismatches(np.ascontiguousarray(patterns.T), rows), brute)


def test_hamming_to_all_is_the_distance_to_the_nearest_other_pattern(monkeypatch):
    monkeypatch.setattr(integrity, "_PAIRS_PER_CHUNK", 1_000)          # several chunks of rows
    patterns, _, _ = random_patterns(6, 400, 10, 3)
    rows = np.arange(0, patterns.shape[0], 3)
    brute = (patterns[rows][:, None, :] != patterns[None, :, :]).sum(axis=2)
    brute[np.arange(rows.size), rows] = patterns.shape[1] + 1
    np.testing.assert_array_equal(integrity._hamming_to_all(rows, patterns), brute.min(axis=1))


@pytest.mark.parametrize("k,radius", [(10, 1), (7, 1), (13, 1), (20, 3)])
@pytest.mark.parametrize("brute_force_pairs", [1_000, 10 ** 9])       # masked hashing / brute force
def test_neighbour_pairs_are_every_ordered_pair_within_the_radius(monkeypatch, k, radius, brute_force_pairs):
    monkeypatch.setattr(integrity, "_BRUTE_FORCE_PAIRS", brute_force_pairs)
    patterns, weights, code = random_patterns(k + radius, 600, k, 2)
    u = patterns.shape[0]
    distance = (patterns[:, None, :] != patterns[None, :, :]).sum(axis=2)
    a, b = np.nonzero((distance <= radius) & ~np.eye(u, dtype=bool))
    np.testing.assert_array_equal(integrity._neighbour_pairs(patterns, weights, code, radius), a * u + b)


def test_ball_matrix_is_the_pairs_plus_the_identity_as_scipy_builds_it():
    patterns, weights, code = random_patterns(7, 600, 10, 2)
    u = patterns.shape[0]
    pairs = integrity._neighbour_pairs(patterns, weights, code, 2)
    ball = integrity._ball_matrix(pairs, u)
    expected = sparse.csr_matrix((np.ones(pairs.size), (pairs // u, pairs % u)), shape=(u, u)) + sparse.identity(
        u, format="csr")
    for field in ("indptr", "indices", "data"):
        assert getattr(ball, field).dtype == getattr(expected, field).dtype
        np.testing.assert_array_equal(getattr(ball, field), getattr(expected, field))


@pytest.mark.parametrize("k,radius", [(5, 0), (10, 1), (13, 1), (20, 3), (7, 1)])
def test_match_radius_is_the_most_mismatches_that_keep_85_percent(k, radius):
    assert match_radius(k) == radius
    assert (k - radius) / k >= 0.85 and (k - radius - 1) / k < 0.85


# ---------------------------------------------------------------------------------------
# near-duplicate clusters
# ---------------------------------------------------------------------------------------
def brute_force_ball_counts(x: np.ndarray, groups: np.ndarray, centre: np.ndarray, radius: int,
                            group: str) -> tuple[int, int]:
    dist = (x != centre).sum(axis=1)
    return int(((dist <= radius) & (groups == group)).sum()), int((dist <= radius).sum())


def planted_copies(seed: int = 11) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = skewed_items(rng, 1200, 10)
    x = x[~(x == x[:, :1]).all(axis=1)]
    groups = rng.choice([f"A{i:02d}" for i in range(20)], size=len(x))
    template = np.array([5, 4, 5, 3, 5, 4, 5, 5, 2, 4], dtype=float)
    copies = np.flatnonzero(groups == "A07")[:12]
    x[copies] = template
    x[copies[:3], 2] = 4.0            # three copies with one item changed
    return x, groups, template


def test_near_duplicate_clusters_find_the_planted_group():
    x, groups, _ = planted_copies()
    scan = near_duplicate_clusters(x, groups)
    assert [c.group for c in scan.clusters] == ["A07"]
    assert scan.clusters[0].size >= 12


def test_near_duplicate_cluster_p_value_is_the_hypergeometric_tail():
    x, groups, _ = planted_copies()
    top = near_duplicate_clusters(x, groups).clusters[0]
    centre = np.array(top.centre)
    inside, total = brute_force_ball_counts(x, groups, centre, 1, top.group)
    n, n_group = len(x), int((groups == top.group).sum())
    # exact label-permutation null: scipy hypergeom upper tail
    assert top.size == inside
    assert top.p_value == pytest.approx(stats.hypergeom.sf(inside - 1, n, total, n_group), rel=1e-8)
    assert top.expected == pytest.approx(n_group * total / n, rel=1e-12)


def test_near_duplicate_cluster_lists_every_row_near_the_centre():
    x, groups, _ = planted_copies()
    top = near_duplicate_clusters(x, groups).clusters[0]
    near = np.flatnonzero(((x != np.array(top.centre)).sum(axis=1) <= 1) & (groups == top.group))
    assert sorted(top.rows) == near.tolist()


def test_near_duplicate_clusters_adjust_by_the_tarone_factor():
    x, groups, _ = planted_copies()
    scan = near_duplicate_clusters(x, groups)
    top = scan.clusters[0]
    assert top.p_adjusted == pytest.approx(min(1.0, top.p_value * scan.tarone_k), rel=1e-12)
    assert 1 <= scan.tarone_k <= scan.hypotheses


def test_near_duplicate_clusters_are_the_same_with_hashed_neighbour_search(monkeypatch):
    x, groups, _ = planted_copies()
    by_brute_force = near_duplicate_clusters(x, groups)
    monkeypatch.setattr(integrity, "_BRUTE_FORCE_PAIRS", 1_000)   # masked hashing of pattern pairs
    assert near_duplicate_clusters(x, groups) == by_brute_force


@pytest.mark.parametrize("budget", [1, 40, 10 ** 9])        # one group a block ... the whole matrix at once
def test_ball_counts_at_centres_equal_the_whole_masked_product_in_its_order(monkeypatch, budget):
    rng = np.random.default_rng(12)
    x = rng.integers(1, 4, size=(400, 7)).astype(float)
    x[::4] = x[1::4][: len(x[::4])]                                   # repeated patterns: tied counts
    groups = rng.integers(0, 25, size=len(x))
    codes, levels = integrity._column_codes(x, np.arange(len(x)))
    weights = integrity._radix_weights(levels)
    patterns, inverse, _, code = integrity._unique_patterns(codes, weights)
    u = patterns.shape[0]
    count_gp = sparse.csr_matrix((np.ones(len(x)), (groups, inverse)), shape=(25, u))
    ball = integrity._ball_matrix(integrity._neighbour_pairs(patterns, weights, code, 1), u)
    present = count_gp.copy()
    present.data[:] = 1.0
    whole = (count_gp @ ball).multiply(present).tocoo()               # the straightforward product
    monkeypatch.setattr(integrity, "_PAIRS_PER_CHUNK", budget)
    rows, cols, values = integrity._ball_counts_at_centres(count_gp, ball)
    for got, expected in ((rows, whole.row), (cols, whole.col), (values, whole.data)):
        np.testing.assert_array_equal(got, expected)


def test_near_duplicate_clusters_are_silent_when_groups_are_random_labels():
    rng = np.random.default_rng(5)
    x = skewed_items(rng, 3000, 10)
    groups = rng.choice([f"A{i:02d}" for i in range(20)], size=len(x))
    assert near_duplicate_clusters(x, groups).clusters == ()


def test_near_duplicate_clusters_ignore_straight_lined_rows():
    # 15 all-5 grids in one group are straight-lining, not copying
    rng = np.random.default_rng(6)
    x = skewed_items(rng, 800, 10)
    groups = rng.choice(["A", "B", "C", "D"], size=len(x))
    x[np.flatnonzero(groups == "A")[:15]] = 5.0
    x[np.flatnonzero(groups == "A")[15:30]] = 3.0
    assert near_duplicate_clusters(x, groups).clusters == ()


def test_near_duplicate_clusters_use_exact_copies_only_below_seven_items():
    # K = 5: 4 of 5 items is 0.8 < 0.85, so only identical patterns cluster
    others = skewed_items(np.random.default_rng(1), 300, 5)
    x = np.vstack([[[1, 2, 3, 4, 5]] * 6 + [[1, 2, 3, 4, 4]] * 6, others])
    groups = np.array(["A"] * 12 + ["B"] * 300)
    scan = near_duplicate_clusters(x, groups)
    assert scan.radius == 0
    assert [(c.group, c.size) for c in scan.clusters] == [("A", 6), ("A", 6)]


# ---------------------------------------------------------------------------------------
# Tarone's discrete Bonferroni
# ---------------------------------------------------------------------------------------
def brute_force_tarone(min_p: np.ndarray, alpha: float) -> int:
    for k in itertools.count(1):
        if np.sum(min_p <= alpha / k) <= k:
            return k


@pytest.mark.parametrize("seed", range(5))
def test_tarone_factor_is_the_smallest_k_with_at_most_k_testable_hypotheses(seed):
    min_p = np.random.default_rng(seed).uniform(0, 0.02, size=300) ** 2
    k, _ = tarone_bonferroni([], min_p)
    assert k == brute_force_tarone(min_p, 0.05)


def test_tarone_reduces_to_bonferroni_when_every_hypothesis_is_testable():
    k, adjusted = tarone_bonferroni([0.001, 0.01], np.zeros(40))
    assert k == 40
    np.testing.assert_allclose(adjusted, [0.04, 0.4])


def test_tarone_multiplicity_counts_repeated_hypotheses():
    min_p = np.array([1e-6, 1e-6, 0.5])
    assert tarone_bonferroni([], [1e-6, 0.5], multiplicity=[2, 1])[0] == tarone_bonferroni([], min_p)[0]


# ---------------------------------------------------------------------------------------
# straight-lining, longstring, speeders
# ---------------------------------------------------------------------------------------
def test_straightlining_reproduces_the_methods_example():
    # METHODS §8.3: straight-liners rows 3, 4 -> share 0.3333
    flags = straightlined(METHODS_X)
    assert np.flatnonzero(flags).tolist() == [3, 4]
    assert flags.mean() == pytest.approx(1 / 3, rel=1e-12)


def test_longstring_reproduces_the_methods_example():
    # METHODS §8.3: longstring [2, 2, 1, 10, 10, 2]
    assert longstring(METHODS_X).tolist() == [2, 2, 1, 10, 10, 2]


def test_straightlining_needs_the_minimum_number_of_answered_items():
    x = [[3, 3, np.nan, np.nan], [3, 3, 3, np.nan], [2, 3, 3, np.nan]]
    assert straightlined(x, min_items=3).tolist() == [False, True, False]


def test_longstring_breaks_runs_at_missing_answers():
    assert longstring([[4, 4, np.nan, 4, 4, 4], [np.nan] * 6]).tolist() == [3, 0]


def test_speeders_reproduce_the_methods_example():
    # METHODS §8.4: median 90, threshold 27 s, speeders rows 5 and 10, share 0.1666666667
    flags, threshold = speeders([95, 110, 42, 130, 88, 20, 101, 76, 64, 150, 18, 92])
    assert threshold == pytest.approx(27.0, rel=1e-12)
    assert np.flatnonzero(flags).tolist() == [5, 10]
    assert flags.mean() == pytest.approx(0.1666666667, rel=1e-9)


def test_speeders_ignore_missing_and_non_positive_durations():
    flags, threshold = speeders([np.nan, 0, 100, 100, 10])
    assert threshold == pytest.approx(30.0)
    assert flags.tolist() == [False, True, False, False, True]


# ---------------------------------------------------------------------------------------
# per-unit excess
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("values", [
    np.array(["b", "a", "c", "a", "b"], dtype=object),                 # text: factorised as it is
    np.array([1, "1", 2.5, None, "a", np.nan, 1.0], dtype=object),      # anything else: as its str()
])
def test_label_codes_are_numpy_unique_of_the_values_as_text(values):
    labels, codes = integrity.label_codes(values)
    expected_labels, expected_codes = np.unique(np.array([str(v) for v in values]), return_inverse=True)
    assert labels.tolist() == expected_labels.tolist()
    assert codes.tolist() == expected_codes.tolist()


@pytest.mark.parametrize("storage", ["pyarrow", "python"])
def test_label_codes_of_a_text_column_equal_those_of_its_values(storage):
    text = pd.Series(["b", "é", "a", "Z", "b", "ab", "á"], dtype=pd.StringDtype(storage))
    labels, codes = integrity.label_codes(text)
    expected_labels, expected_codes = integrity.label_codes(text.to_numpy(dtype=object))
    assert labels.tolist() == expected_labels.tolist() and codes.tolist() == expected_codes.tolist()
    assert labels.dtype == object


def test_excess_tests_equal_one_sided_fisher_exact():
    x, n = np.array([9, 2, 3, 1]), np.array([20, 25, 30, 15])
    p = excess_tests(x, n)
    for i in range(x.size):
        table = [[x[i], n[i] - x[i]], [x.sum() - x[i], (n.sum() - n[i]) - (x.sum() - x[i])]]
        # scipy fisher_exact, alternative 'greater'
        assert p[i] == pytest.approx(stats.fisher_exact(table, alternative="greater")[1], rel=1e-8)


def test_stratified_excess_without_strata_is_fisher():
    flags = np.array([1] * 9 + [0] * 11 + [1] * 2 + [0] * 23, dtype=bool)
    units = np.array(["A"] * 20 + ["B"] * 25)
    test = stratified_excess_tests(flags, units)
    np.testing.assert_allclose(test.p_values, excess_tests([9, 2], [20, 25]), rtol=1e-10)


def test_stratified_excess_is_the_convolution_of_hypergeometric_strata():
    rng = np.random.default_rng(2)
    units = rng.choice(["A", "B", "C"], size=120)
    strata = rng.choice(["1", "2"], size=120)
    flags = rng.random(120) < np.where(strata == "2", 0.5, 0.1)
    test = stratified_excess_tests(flags, units, strata)
    for label, observed, p, expected in zip(test.labels, test.observed, test.p_values, test.expected):
        mean = 0.0
        pmfs = []
        for s in ("1", "2"):
            in_s = strata == s
            big_n, big_s, n_us = int(in_s.sum()), int(flags[in_s].sum()), int((in_s & (units == label)).sum())
            pmfs.append(stats.hypergeom(big_n, big_s, n_us).pmf(np.arange(121)))
            mean += n_us * big_s / big_n
        # brute force: sum of P(X1 = a)·P(X2 = b) over all a + b >= observed
        a, b = np.meshgrid(np.arange(121), np.arange(121), indexing="ij")
        tail = float(np.sum(np.outer(pmfs[0], pmfs[1])[a + b >= observed]))
        assert p == pytest.approx(tail, rel=1e-8)
        assert expected == pytest.approx(mean, rel=1e-12)


# ---------------------------------------------------------------------------------------
# repeat raters
# ---------------------------------------------------------------------------------------
def test_repeat_raters_flag_four_ratings_of_one_unit_within_thirty_days():
    day = np.datetime64("2026-07-01T10:00")
    times = [day + np.timedelta64(d, "D") for d in (0, 5, 10, 29, 0, 15, 30, 45)]
    customer = ["C1"] * 4 + ["C2"] * 4
    unit = ["A"] * 8
    # C1: 4 within 29 days; C2: 4 over 45 days, never 4 within 30
    assert repeat_raters(customer, unit, times).tolist() == [True] * 4 + [False] * 4


def test_repeat_raters_count_one_unit_at_a_time():
    assert not repeat_raters(["C1"] * 4, ["A", "A", "B", "B"]).any()


def test_repeat_raters_ignore_missing_customer_ids():
    assert not repeat_raters([None] * 5, ["A"] * 5).any()


def repeat_raters_group_by_group(customer, unit, times=None, *, min_responses: int = 4,
                                 window_days: float = 30.0) -> np.ndarray:
    """The straightforward rule: each customer-unit key's responses in time order, and every
    window of `window_days` from one of them that holds `min_responses` (a Python loop)."""
    cust = pd.Series(np.asarray(customer, dtype=object))
    un = pd.Series(np.asarray(unit, dtype=object))
    flags = np.zeros(cust.size, dtype=bool)
    ok = (cust.notna() & un.notna()).to_numpy().copy()
    if times is None:
        t, window = np.zeros(cust.size), np.inf
    else:
        ts = pd.to_datetime(pd.Series(np.asarray(times)), utc=True, errors="coerce")
        t = (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)
        ok &= np.isfinite(t)
        window = window_days * 86400.0
    frame = pd.DataFrame({"key": cust.astype(str) + "|" + un.astype(str), "t": t, "i": np.arange(cust.size)})[ok]
    for _, block in frame.sort_values(["key", "t"], kind="stable").groupby("key", sort=False):
        tt = block["t"].to_numpy()
        ends = np.searchsorted(tt, tt + window, side="right")
        for start in np.flatnonzero(ends - np.arange(tt.size) >= min_responses):
            flags[block["i"].to_numpy()[start:ends[start]]] = True
    return flags


def busy_raters(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Few customers and units, times on a coarse grid (ties), some ids and times missing."""
    rng = np.random.default_rng(seed)
    customer = rng.choice([f"C{i}" for i in range(150)], size=n).astype(object)
    unit = rng.choice(["A", "B", "C"], size=n).astype(object)
    times = np.asarray(pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 40, n) * 3, unit="D"),
                       dtype=object)
    customer[rng.random(n) < 0.03] = None
    unit[rng.random(n) < 0.03] = None
    times[rng.random(n) < 0.03] = None
    return customer, unit, times


@pytest.mark.parametrize("seed", range(3))
def test_repeat_raters_equal_the_window_by_window_rule(seed):
    customer, unit, times = busy_raters(seed)
    flags = repeat_raters(customer, unit, times)
    assert 0 < flags.sum() < flags.size
    np.testing.assert_array_equal(flags, repeat_raters_group_by_group(customer, unit, times))


def test_repeat_raters_without_times_equal_the_rule_over_the_whole_file():
    customer, unit, _ = busy_raters(4, n=600)
    np.testing.assert_array_equal(repeat_raters(customer, unit, min_responses=6),
                                  repeat_raters_group_by_group(customer, unit, min_responses=6))


def test_repeat_raters_read_series_by_position():
    customer, unit, times = busy_raters(5)
    index = pd.Index(np.arange(customer.size)[::-1] * 10)               # not positions
    series = [pd.Series(v, index=index) for v in (customer, unit)]
    np.testing.assert_array_equal(repeat_raters(*series, pd.Series(times, index=index)),
                                  repeat_raters(customer, unit, times))


def test_positional_keeps_a_series_dtype_and_reads_the_rest_through_numpy():
    text = pd.Series(["b", "a"], index=[7, 3], dtype="string")
    as_read = integrity._positional(text, object)
    assert as_read.index.tolist() == [0, 1] and as_read.dtype == text.dtype
    assert integrity._positional([1, "1"], object).tolist() == [1, "1"]


# ---------------------------------------------------------------------------------------
# clock offsets
# ---------------------------------------------------------------------------------------
def genuine_lags(rng: np.random.Generator, n: int) -> np.ndarray:
    return 60 + rng.lognormal(np.log(1800), 1.0, size=n)


def test_a_one_hour_clock_shift_explains_the_early_responses():
    rng = np.random.default_rng(4)
    lag = genuine_lags(rng, 2000)
    shifted = rng.random(lag.size) < 0.3
    lag[shifted] -= 3600.0                   # one system writes local time (UTC+1) as UTC
    result = clock_offset(lag)
    assert result.early == int((lag < -120).sum()) > 0
    assert result.explained and result.offset_s == 3600.0


def test_responses_up_to_two_days_early_are_not_a_clock_offset():
    rng = np.random.default_rng(4)
    lag = np.concatenate([genuine_lags(rng, 2000), -rng.uniform(600, 48 * 3600, size=20)])
    assert not clock_offset(lag).explained


def test_early_lags_spread_evenly_over_hours_are_not_a_clock_offset():
    rng = np.random.default_rng(8)
    lag = np.concatenate([genuine_lags(rng, 2000), -rng.uniform(600, 5 * 3600, size=40)])
    result = clock_offset(lag)
    # the KS comparison with the head of the genuine lags (scipy ks_2samp) rejects
    reference = lag[(lag >= -120) & (lag <= result.offset_s + 120)]
    expected_p = stats.ks_2samp(lag[lag < -120] + result.offset_s, reference).pvalue
    assert result.ks_p_value == pytest.approx(expected_p, rel=1e-12)
    assert not result.explained


def test_lags_within_the_skew_tolerance_are_not_early():
    assert clock_offset([-119.0, 30.0, 600.0]).early == 0


# ---------------------------------------------------------------------------------------
# scan statistic and bursts
# ---------------------------------------------------------------------------------------
def methods_burst_times() -> np.ndarray:
    # METHODS §8.6: 60 uniform + 25 within 8 min, rng = default_rng(7), 720 min
    # (draw order reconstructed: burst start, then the 60 uniform times, then the burst)
    rng = np.random.default_rng(7)
    start = rng.uniform(0, 712)
    return np.concatenate([rng.uniform(0, 720, 60), start + rng.uniform(0, 8, 25)])


def test_scan_statistic_reproduces_the_methods_burst():
    # METHODS §8.6: N 85, observed max 27 (w = 10 min)
    times = methods_burst_times()
    window = scan_statistic(times, 10.0)
    assert times.size == 85 and window.count == 27
    assert window.end - window.start <= 10.0


def test_scan_statistic_null_percentiles_and_monte_carlo_p_match_methods():
    # METHODS §8.6: MC p (10 000 sims, seeds 1000..10999) = 9.999000099990002e-05, null 95th/99th pct 7, 8
    sims = np.array([scan_statistic(np.random.default_rng(s).uniform(0, 720, 85), 10.0).count
                     for s in range(1000, 11000)])
    assert np.percentile(sims, [95, 99]).tolist() == [7.0, 8.0]
    p = (1 + np.sum(sims >= 27)) / (sims.size + 1)
    assert p == pytest.approx(9.999000099990002e-05, rel=1e-12)


def test_scan_statistic_counts_a_closed_window_by_brute_force():
    times = np.random.default_rng(9).uniform(0, 100, 60).round()
    best = max(int(np.sum((times >= t) & (times <= t + 5))) for t in times)
    assert scan_statistic(times, 5.0).count == best


def test_burst_test_finds_a_planted_burst_under_its_own_lag_null():
    rng = np.random.default_rng(10)
    interaction = np.sort(rng.uniform(0, 30 * 86400, 80))
    submitted = interaction + rng.lognormal(np.log(3600), 1.0, 80)
    submitted[-20:] = 25 * 86400 + rng.uniform(0, 480, 20)   # 20 responses within 8 minutes
    result = burst_test(submitted, 600.0, np.random.default_rng(1), interaction_s=interaction,
                        max_simulations=999)
    assert result.window.count >= 20
    assert result.p_value == pytest.approx(1 / 1000)


def test_burst_test_p_values_are_valid_under_the_null():
    # data drawn from the null: a calibrated test rejects about 5 % of the time
    rng = np.random.default_rng(12)
    rejections = 0
    for _ in range(200):
        interaction = np.sort(rng.uniform(0, 5 * 86400, 40))
        submitted = interaction + rng.lognormal(np.log(900), 1.0, 40)
        rejections += burst_test(submitted, 600.0, rng, interaction_s=interaction,
                                 max_simulations=999).p_value <= 0.05
    assert rejections <= 0.05 * 200 + 2 * math.sqrt(200 * 0.05 * 0.95)


def test_burst_test_with_a_pool_draws_from_the_peers_arrivals():
    rng = np.random.default_rng(13)
    pool = rng.uniform(0, 86400, 2000)
    clustered = 40000 + rng.uniform(0, 300, 12)
    result = burst_test(clustered, 600.0, np.random.default_rng(2), pool_s=pool, max_simulations=499)
    assert result.window.count == 12 and result.p_value == pytest.approx(1 / 500)
    assert result.null == "peers' submission times"


def test_burst_test_needs_a_null():
    with pytest.raises(ValueError):
        burst_test([1.0, 2.0, 3.0], 600.0, np.random.default_rng(0))


def one_array_batch_scan(sims: np.ndarray, window: float) -> np.ndarray:
    # the scan of a whole batch at once (integrity._batch_scan before it scanned block by block)
    sims = np.sort(sims, axis=1)
    b, n = sims.shape
    span = float(sims.max() - sims.min()) + 2.0 * window + 1.0
    flat = (sims - sims.min() + span * np.arange(b)[:, None]).reshape(-1)
    ends = np.searchsorted(flat, flat + window, side="right").reshape(b, n)
    return (ends - np.arange(b * n).reshape(b, n)).max(axis=1)


def test_batch_scan_is_the_scan_statistic_of_each_row():
    sims = np.random.default_rng(14).integers(0, 7200, (9, 40)).astype(float)
    expected = [scan_statistic(row, 600.0).count for row in sims]
    assert np.concatenate(list(integrity._batch_scan(sims, 600.0, 4))).tolist() == expected


@pytest.mark.parametrize("rows", [1, 3, 7, 20])
def test_batch_scan_block_by_block_equals_the_whole_batch_to_the_last_bit(rows):
    # fractional times far from zero: the shifted times round, and must round alike in every block
    sims = 1.7e9 + np.random.default_rng(15).uniform(0, 3 * 86400, (7, 300))
    blocks = list(integrity._batch_scan(sims, 600.0, rows))
    assert [len(b) for b in blocks[:-1]] == [rows] * (len(blocks) - 1) and sum(map(len, blocks)) == 7
    np.testing.assert_array_equal(np.concatenate(blocks), one_array_batch_scan(sims, 600.0))


@pytest.mark.parametrize("spread", [20.0, 3_000.0, 86_400.0])
def test_window_counts_are_the_binary_search_counts(spread):
    # reference: numpy's searchsorted, the scan's definition; a crowded spread (600 s windows over
    # 20 s) grows windows past _WINDOW_STEPS, a sparse one stops after a step; whole seconds tie
    flat = np.sort(np.random.default_rng(17).integers(0, spread, 2_000).astype(float))
    expected = np.searchsorted(flat, flat + 600.0, side="right") - np.arange(flat.size)
    if spread == 20.0:
        assert expected.max() > integrity._WINDOW_STEPS
    np.testing.assert_array_equal(integrity._window_counts(flat, 600.0), expected)


def whole_batch_burst_test(submitted: np.ndarray, interaction: np.ndarray, window: float,
                           rng: np.random.Generator, max_simulations: int, stop_after: int = 20,
                           batch: int = 500) -> tuple[float, int, float, float]:
    # burst_test's sequential Monte Carlo scanning every drawn batch whole: (p, B, null mean, null q99)
    lags = submitted - interaction
    observed = scan_statistic(submitted, window).count
    done = exceed = 0
    values, size = [], 4 * stop_after
    while done < max_simulations:
        size = min(size, batch, max_simulations - done)
        sims = one_array_batch_scan(interaction[None, :] + rng.permuted(np.broadcast_to(lags, (size, lags.size)),
                                                                         axis=1), window)
        hits = np.flatnonzero(sims >= observed)
        if exceed + hits.size >= stop_after:
            done += int(hits[stop_after - exceed - 1]) + 1
            kept = np.concatenate(values + [sims])[:done]
            return stop_after / done, done, kept.mean(), np.quantile(kept, 0.99)
        exceed, done, size = exceed + hits.size, done + size, 2 * size
        values.append(sims)
    kept = np.concatenate(values)
    return (1 + exceed) / (done + 1), done, kept.mean(), np.quantile(kept, 0.99)


@pytest.mark.parametrize("burst", [0, 12])
def test_burst_test_scanning_only_what_it_reads_draws_and_finds_what_a_whole_batch_scan_does(burst):
    # an ordinary unit stops inside the first batch; a bursty one runs every batch to the end
    g = np.random.default_rng(16)
    interaction = np.sort(g.uniform(0, 20 * 86400, 150))
    submitted = interaction + g.lognormal(np.log(1800), 1.0, 150)
    submitted[:burst] = 10 * 86400 + g.uniform(0, 300, burst)
    mine, theirs = np.random.default_rng(17), np.random.default_rng(17)
    result = burst_test(submitted, 600.0, mine, interaction_s=interaction, max_simulations=1999)
    p, b, mean, q99 = whole_batch_burst_test(submitted, interaction, 600.0, theirs, 1999)
    assert (result.p_value, result.n_simulations, result.null_mean, result.null_q99) == (p, b, mean, q99)
    assert (result.n_simulations < 80) == (burst == 0)
    assert mine.random() == theirs.random()


# ---------------------------------------------------------------------------------------
# multiplicity
# ---------------------------------------------------------------------------------------
METHODS_CHANNEL_P = [9.61332517e-02, 9.48423533e-08, 4.58769747e-05, 5.50240007e-08]


def test_holm_adjustment_reproduces_the_methods_example():
    # METHODS §4.3: multipletests(p, method="holm")[1]
    np.testing.assert_allclose(holm_adjust(METHODS_CHANNEL_P),
                               [9.61332517e-02, 2.84527060e-07, 9.17539494e-05, 2.20096003e-07], rtol=1e-8)


def test_bh_adjustment_reproduces_the_methods_example():
    # METHODS §4.3: multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(bh_adjust(METHODS_CHANNEL_P),
                               [9.61332517e-02, 1.89684707e-07, 6.11692996e-05, 1.89684707e-07], rtol=1e-8)


@pytest.mark.parametrize("seed", range(3))
def test_holm_and_bh_equal_statsmodels_with_ties(seed):
    p = np.random.default_rng(seed).choice([0.001, 0.01, 0.02, 0.3, 0.8, 1.0], size=25)
    np.testing.assert_allclose(holm_adjust(p), multipletests(p, method="holm")[1], rtol=1e-12)
    np.testing.assert_allclose(bh_adjust(p), multipletests(p, method="fdr_bh")[1], rtol=1e-12)


def test_smallest_attainable_p_values_in_blocks_equal_the_whole_grid(monkeypatch):
    # reference: the grid's P(X = min(T, n_g)) computed at once, as before it was blocked;
    # 7 totals per block of 50 cells over 12 group sizes: 20 blocks, the last one short
    monkeypatch.setattr(integrity, "_GRID_CELLS_PER_BLOCK", 90)
    totals = np.unique(np.random.default_rng(4).integers(1, 90_000, 137))
    sizes = np.unique(np.random.default_rng(5).integers(1, 400, 12))
    tt, gg = np.meshgrid(totals, sizes, indexing="ij")
    whole = np.exp(integrity.hypergeom_log_pmf(np.minimum(tt, gg), 100_000, tt, gg)).reshape(-1)
    assert np.array_equal(integrity._min_attainable_grid(100_000, totals, sizes), whole)
    np.testing.assert_allclose(whole[:12], stats.hypergeom.pmf(np.minimum(totals[0], sizes), 100_000, totals[0],
                                                                 sizes), rtol=1e-9)


def test_hypergeometric_log_pmf_matches_scipy_over_a_wide_grid():
    # reference: scipy.stats.hypergeom.logpmf, N up to 10 million
    big_n = np.array([50, 10_000, 1_000_000, 10_000_000])[:, None]
    big_s = np.array([20, 300, 2_500, 900_000])[:, None]
    draws = np.array([10, 700, 40_000, 3_000_000])[:, None]
    k = np.minimum(big_s, draws) * np.array([0.0, 0.1, 0.5, 0.9, 1.0])[None, :]
    k = np.maximum(np.floor(k), np.maximum(0, draws - (big_n - big_s)))
    ours = integrity.hypergeom_log_pmf(k, big_n, big_s, draws)
    np.testing.assert_allclose(ours, stats.hypergeom.logpmf(k, big_n, big_s, draws), rtol=1e-9)
