"""Response-level integrity statistics: copied answer patterns, straight-lining, speeding,
repeated raters, responses before their interaction and bursts in time.

Pure functions over numpy arrays; the checks in `audit.checks.fraud` turn them into
findings. Reference: METHODS.md §8 (and §9.3 for response lags).

* `max_percent_match` — Kuriakose & Robbins (2016) maximum percent match, exact and
  sub-quadratic: unique answer patterns, then nearest-neighbour search by Hamming
  distance with block hashing (two vectors with at most d mismatches agree exactly on the
  K − d positions outside some d-subset, and on one of d + 1 contiguous blocks).
* `near_duplicate_clusters` — the same (near-)pattern repeated within one unit beyond what
  that pattern's frequency among all respondents explains (hypergeometric tail, i.e. the
  exact unit-label permutation null), with Tarone's (1990) Bonferroni for discrete tests.
* `straightlined`, `longstring` — zero variance over a grid and the longest run of
  identical answers (Johnson 2005; Meade & Craig 2012).
* `speeders` — completion faster than a fraction of the median (METHODS §8.4).
* `excess_tests` — one-sided Fisher exact test of each unit's rate against all other units.
* `repeat_raters` — one customer rating one unit again and again within a window.
* `clock_offset` — is a set of "before the interaction" lags explained by a constant
  clock/time-zone offset (METHODS §8.5)?
* `scan_statistic`, `burst_test` — the largest number of responses in a window of fixed
  length (Naus 1965) and its Monte Carlo p-value under a null that keeps the unit's own
  interaction times and response lags (Glaz, Naus & Wallenstein 2001), with Besag &
  Clifford's (1991) sequential stopping.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
from scipy import sparse, special, stats

from audit.limits import return_freed_memory

__all__ = [
    "BurstTest",
    "ClockOffset",
    "ExcessTest",
    "NearDuplicateCluster",
    "NearDuplicateScan",
    "ScanWindow",
    "bh_adjust",
    "burst_test",
    "clock_offset",
    "excess_tests",
    "holm_adjust",
    "longstring",
    "match_radius",
    "max_percent_match",
    "near_duplicate_clusters",
    "repeat_raters",
    "scan_statistic",
    "speeders",
    "stratified_excess_tests",
    "straightlined",
    "tarone_bonferroni",
]

MPM_THRESHOLD = 0.85            # Kuriakose & Robbins (2016)
# Nearest-neighbour search: brute force over unique patterns when it costs fewer than this
# many pattern comparisons; masked hashing while a level needs at most this many masks.
_BRUTE_FORCE_PAIRS = 20_000_000
_MAX_MASKS = 256
_PAIRS_PER_CHUNK = 2_000_000
_WINDOW_STEPS = 16              # see _window_counts
_GRID_CELLS_PER_BLOCK = 2**18      # (total, group size) pairs whose smallest p-value is computed at once


# --------------------------------------------------------------------------------------
# answer patterns
# --------------------------------------------------------------------------------------
def _as_items(items: np.ndarray | Sequence[Sequence[float]] | pd.DataFrame) -> np.ndarray:
    # float32 answers (whole numbers, as the loader keeps them) are compared as they are:
    # only equality of answers matters, and float64 doubles the copy
    x = np.asarray(items)
    if x.dtype != np.float32:
        x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"items must be a 2-D array (respondents × items), got shape {x.shape}")
    return x


def label_codes(values: Sequence[Any] | np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values as text and each value's index among them: `np.unique(...,
    return_inverse=True)` of the values as text, without numpy's fixed-width string copy (one
    100,000-character unit name would make that n × 400 kB)."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype) and not values.hasnans:
        # text column without gaps: hashed where it lies (pyarrow), not as a million Python
        # strings; its sort is by code point, as Python's
        codes, labels = pd.factorize(values, sort=True)
        return np.asarray(labels, dtype=object), codes.astype(np.int64)
    raw = np.asarray(values, dtype=object)
    # values that are all text already (unit labels, strata) need no str() of each of a
    # million of them: one C-level type scan says so
    text = raw if pd.api.types.infer_dtype(raw, skipna=False) == "string" else np.array(
        [str(v) for v in raw], dtype=object)
    codes, labels = pd.factorize(text, sort=True)
    return labels, codes.astype(np.int64)


def _column_factors(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each column's answers on `rows` (complete rows) as small integer codes 0..L_j-1, in
    the order of the answers, and each column's sorted distinct answers.

    Codes are `np.unique(..., return_inverse=True)` of each column, by hashing instead of
    sorting a million answers, kept in the narrowest integer type that leaves room for
    L_j + 1 (10 bytes a respondent for 10 items instead of 80)."""
    columns, answers = [], []
    for j in range(x.shape[1]):
        inverse, values = pd.factorize(x[rows, j], sort=True)
        answers.append(values)
        columns.append(inverse.astype(next(t for t in (np.int8, np.int16, np.int32, np.int64)
                                           if max(1, values.size) < np.iinfo(t).max)))
    return np.column_stack(columns), answers


def _level_counts(answers: Sequence[np.ndarray]) -> np.ndarray:
    """Each column's number of levels L_j (at least 1) from its distinct answers."""
    return np.array([max(1, a.size) for a in answers], dtype=np.int64)


def _column_codes(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_column_factors`' codes and each column's number of levels L_j."""
    codes, answers = _column_factors(x, rows)
    return codes, _level_counts(answers)


def _radix_weights(levels: np.ndarray) -> np.ndarray | None:
    """Mixed-radix place values if every pattern fits an int64 code, else None."""
    if float(np.sum(np.log2(levels.astype(float)))) >= 62:
        return None
    weights = np.ones(levels.size, dtype=np.int64)
    for j in range(1, levels.size):
        weights[j] = weights[j - 1] * levels[j - 1]
    return weights


def _radix_codes(codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each row's mixed-radix code Σ_j codes[:, j]·weights[j] (int64), a column at a time:
    `codes @ weights` would first copy narrow codes to an n × k int64 matrix."""
    out = np.zeros(codes.shape[0], dtype=np.int64)
    for j in range(codes.shape[1]):
        out += np.multiply(codes[:, j], weights[j], dtype=np.int64)
    return out


def _group_ids(codes: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """An int64 id per row such that equal ids <=> equal rows (codes: n × k)."""
    if codes.shape[1] == 0:
        return np.zeros(codes.shape[0], dtype=np.int64)
    if weights is not None:
        return _radix_codes(codes, weights)
    view = np.ascontiguousarray(codes).view(np.dtype((np.void, codes.dtype.itemsize * codes.shape[1])))
    return np.unique(view.reshape(-1), return_inverse=True)[1].reshape(-1).astype(np.int64)


def _unique_patterns(codes: np.ndarray, weights: np.ndarray | None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Unique rows P (U × K), row -> pattern index, counts, and the patterns' int64 codes."""
    if weights is not None:
        row_code = _radix_codes(codes, weights)
        code, first, inverse, counts = np.unique(row_code, return_index=True, return_inverse=True,
                                                 return_counts=True)
        return codes[first], inverse.reshape(-1), counts, code
    patterns, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    return patterns, inverse.reshape(-1), counts, None


def _mismatches(columns: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Hamming distance from each pattern in `rows` to every pattern (rows.size × U), where
    `columns` holds the patterns' codes item by item (K × U, each row contiguous): K
    comparisons of narrow codes a pair, without a U × Σ L_j one-hot matrix of all patterns."""
    k = columns.shape[0]
    out = np.zeros((rows.size, columns.shape[1]), dtype=np.min_scalar_type(k + 1))
    for column in columns:
        out += column[rows][:, None] != column
    return out


def _hamming_to_all(rows: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """Smallest Hamming distance from each pattern in `rows` (indices) to any other pattern."""
    u, k = patterns.shape
    columns = np.ascontiguousarray(patterns.T)
    best = np.empty(rows.size, dtype=np.int64)
    chunk = max(1, _PAIRS_PER_CHUNK // max(1, u))
    for start in range(0, rows.size, chunk):
        idx = rows[start:start + chunk]
        distance = _mismatches(columns, idx)
        distance[np.arange(idx.size), idx] = k + 1      # a pattern is not its own neighbour
        best[start:start + chunk] = distance.min(axis=1)
    return best


def _item_digits(patterns: np.ndarray, weights: np.ndarray, code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The patterns' mixed-radix codes and each item's digit of them (K × U, one contiguous
    row per item), in int32 when every code fits: the masked keys below are then hashed
    and sorted at half the memory traffic of int64."""
    dtype = np.int32 if code.size == 0 or int(code.max()) <= np.iinfo(np.int32).max else np.int64
    digits = np.empty((patterns.shape[1], patterns.shape[0]), dtype=dtype)
    for j in range(patterns.shape[1]):
        digits[j] = np.multiply(patterns[:, j], weights[j], dtype=np.int64)
    return code.astype(dtype), digits


def _masked_keys(code: np.ndarray, digits: np.ndarray, subset: Sequence[int]) -> np.ndarray:
    """The codes with the digits of the items in `subset` zeroed (`_item_digits`): equal for
    two patterns iff they agree on every item outside the subset."""
    keys = code - digits[subset[0]]
    for j in subset[1:]:
        keys -= digits[j]
    return keys


def _shared_key(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """For each query index: does another pattern carry the same key?

    By hashing, not sorting all the keys per mask: when a quarter of the patterns or more
    are asked, every repeated key is marked in one pass; otherwise the queried keys (few
    once most patterns have a neighbour) are hashed and every key is looked up in them."""
    if 4 * query.size >= keys.size:
        return pd.Series(keys).duplicated(keep=False).to_numpy()[query]
    values, where = np.unique(keys[query], return_inverse=True)
    slot = pd.Index(values).get_indexer(keys)
    return np.bincount(slot[slot >= 0], minlength=values.size)[where] >= 2


def _pigeonhole_level(patterns: np.ndarray, open_rows: np.ndarray, d: int, best: np.ndarray) -> bool:
    """Lower `best` of the open patterns to their distance to every pattern sharing one of
    d + 1 contiguous blocks exactly (all neighbours within d are among them); returns False
    without doing so when that would cost more candidate pairs than brute force."""
    k = patterns.shape[1]
    bounds = np.linspace(0, k, d + 2).round().astype(int)
    blocks = [(bounds[b], bounds[b + 1]) for b in range(d + 1)]
    keyed = []
    total = 0
    for lo, hi in blocks:
        block = patterns[:, lo:hi]
        keys = _group_ids(block, _radix_weights(block.max(axis=0) + 1))
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        left = np.searchsorted(sorted_keys, keys[open_rows], side="left")
        right = np.searchsorted(sorted_keys, keys[open_rows], side="right")
        total += int((right - left).sum())
        keyed.append((order, left, right))
    if total > open_rows.size * patterns.shape[0]:
        return False
    for order, left, right in keyed:
        sizes = right - left
        done = 0
        while done < open_rows.size:
            # take as many open rows as fit one chunk of candidate pairs
            stop = done + max(1, int(np.searchsorted(np.cumsum(sizes[done:]), _PAIRS_PER_CHUNK)))
            stop = min(stop, open_rows.size)
            chunk_sizes = sizes[done:stop]
            owner = np.repeat(np.arange(done, stop), chunk_sizes)
            offsets = np.arange(owner.size) - np.repeat(np.cumsum(chunk_sizes) - chunk_sizes, chunk_sizes)
            partner = order[left[owner] + offsets]
            me = open_rows[owner]
            dist = (patterns[me] != patterns[partner]).sum(axis=1)
            dist[partner == me] = k + 1
            np.minimum.at(best, me, dist)
            done = stop
    return True


def _nearest_mismatches(patterns: np.ndarray, counts: np.ndarray, weights: np.ndarray | None,
                        code: np.ndarray | None) -> np.ndarray:
    """Exact Hamming distance from each unique pattern to the nearest other respondent.

    Iterative deepening over d = 1, 2, ...: at level d every still-open pattern (no
    neighbour closer than d) is tested for a neighbour at distance exactly d by
    - masked hashing when C(K, d) is small: two patterns differ only inside some d-subset S
      of the items iff they agree on the rest, i.e. share the code with S's digits zeroed;
    - pigeonhole blocking otherwise: with ≤ d mismatches two vectors agree exactly on at
      least one of d + 1 contiguous blocks, so candidates share a block key;
    and by brute force over all unique patterns once few patterns remain open.
    """
    u, k = patterns.shape
    best = np.where(counts >= 2, 0, k).astype(np.int64)
    if u == 1:
        return best
    for d in range(1, k + 1):
        open_rows = np.flatnonzero(best >= d)
        if open_rows.size == 0:
            break
        n_masks = math.comb(k, d)
        if open_rows.size * u <= _BRUTE_FORCE_PAIRS or open_rows.size <= n_masks:
            best[open_rows] = _hamming_to_all(open_rows, patterns)
            break
        if code is not None and n_masks <= _MAX_MASKS:
            item_code, digits = _item_digits(patterns, weights, code)
            found = np.zeros(open_rows.size, dtype=bool)
            for subset in combinations(range(k), d):
                found |= _shared_key(_masked_keys(item_code, digits, subset), open_rows)
            best[open_rows[found]] = d
            continue
        if not _pigeonhole_level(patterns, open_rows, d, best):
            best[open_rows] = _hamming_to_all(open_rows, patterns)
            break
    return best


def max_percent_match(items: np.ndarray | Sequence[Sequence[float]] | pd.DataFrame) -> np.ndarray:
    """For each respondent, the largest share of items on which they give exactly the same
    answer as some other respondent: MPM_i = max_{j≠i} (1/K)·Σ_k 1[x_ik = x_jk].

    Kuriakose & Robbins (2016), "Don't get duped" (Stata ``percentmatch``); flag MPM ≥ 0.85.
    Units: share of the K items, 0..1. Only complete rows are compared: a row with a
    missing item gets NaN (a skipped item is neither a match nor a mismatch that could be
    scored fairly), as does every row when fewer than two rows are complete.

    Exact and sub-quadratic in the number of respondents: rows collapse to unique
    patterns (a repeated pattern has MPM 1), then each remaining pattern's nearest
    neighbour is found by block hashing (see ``_nearest_mismatches``).
    """
    x = _as_items(items)
    n, k = x.shape
    out = np.full(n, np.nan)
    complete = ~np.isnan(x).any(axis=1)
    if k == 0 or complete.sum() < 2:
        return out
    codes, levels = _column_codes(x, np.flatnonzero(complete))
    weights = _radix_weights(levels)
    patterns, inverse, counts, code = _unique_patterns(codes, weights)
    nearest = _nearest_mismatches(patterns, counts, weights, code)
    out[complete] = (k - nearest[inverse]) / k
    return out


def match_radius(n_items: int, threshold: float = MPM_THRESHOLD) -> int:
    """Most mismatches a pair may have and still match on ≥ `threshold` of `n_items` items."""
    return int(math.floor(n_items * (1.0 - threshold) + 1e-9))


def _neighbour_pairs(patterns: np.ndarray, weights: np.ndarray | None, code: np.ndarray | None,
                     radius: int) -> np.ndarray:
    """All ordered pairs (a, b) of unique patterns within Hamming distance ≤ radius, a ≠ b,
    as sorted codes a·U + b (one int64 array: millions of pairs at a million responses)."""
    u, k = patterns.shape
    if radius <= 0 or u < 2:
        return np.zeros(0, dtype=np.int64)
    found = []
    if code is not None and math.comb(k, radius) <= _MAX_MASKS and u * u > _BRUTE_FORCE_PAIRS:
        item_code, digits = _item_digits(patterns, weights, code)
        for subset in combinations(range(k), radius):
            keys = _masked_keys(item_code, digits, subset)
            order = np.argsort(keys, kind="stable")
            sk = keys[order]
            start = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
            sizes = np.diff(np.r_[start, sk.size])
            big = sizes >= 2
            start, sizes = start[big], sizes[big]
            # every ordered pair inside each group of equal keys, without a Python loop
            squares = sizes * sizes
            group = np.repeat(np.arange(sizes.size), squares)
            local = np.arange(int(squares.sum())) - np.repeat(np.cumsum(squares) - squares, squares)
            a = order[start[group] + local // sizes[group]]
            b = order[start[group] + local % sizes[group]]
            keep = a != b
            found.append(a[keep] * u + b[keep])
        pair = np.concatenate(found)
        found.clear()                   # the pieces go before the sort, not after
        pair.sort()
        return pair[np.r_[True, pair[1:] != pair[:-1]]]
    columns = np.ascontiguousarray(patterns.T)
    chunk = max(1, _PAIRS_PER_CHUNK // u)
    for start in range(0, u, chunk):
        idx = np.arange(start, min(u, start + chunk))
        a, b = np.nonzero(_mismatches(columns, idx) <= radius)
        keep = idx[a] != b
        found.append(idx[a][keep] * u + b[keep])
    return np.concatenate(found)


def _ball_matrix(pairs: np.ndarray, u: int) -> sparse.csr_matrix:
    """The U × U 0/1 matrix of patterns within the radius of each other, each pattern with
    itself included: `csr_matrix((1, (a, b))) + identity` of the sorted pair codes a·U + b,
    built directly (each row's own entry slotted into place) without the copies of every
    pair that the COO route and the sum make."""
    own = np.arange(u + 1, dtype=np.int64)
    indptr = np.searchsorted(pairs, own * u) + own
    slots = np.searchsorted(pairs, own[:-1] * (u + 1))
    # in scipy's own index type from the start, and the pair codes let go before the
    # values are made: four million pairs at a million responses, 30 MB in each copy
    index = np.int32 if max(u, int(indptr[-1])) <= np.iinfo(np.int32).max else np.int64
    indices = np.insert((pairs % u).astype(index), slots, own[:-1].astype(index))
    del pairs, slots
    return sparse.csr_matrix((np.ones(indices.size), indices, indptr.astype(index)), shape=(u, u))


# --------------------------------------------------------------------------------------
# clusters of near-identical patterns within units
# --------------------------------------------------------------------------------------
def tarone_bonferroni(p_values: np.ndarray | Sequence[float], min_attainable: np.ndarray | Sequence[float], *,
                      alpha: float = 0.05, multiplicity: np.ndarray | Sequence[float] | None = None
                      ) -> tuple[int, np.ndarray]:
    """Bonferroni correction for discrete tests (Tarone 1990, Biometrics 46:515-522).

    A hypothesis whose smallest attainable p-value exceeds α/k can never be rejected at
    level α/k and does not count. The correction factor is the smallest k ≥ 1 with
    m(k) = #{i: min_attainable_i ≤ α/k} ≤ k; rejecting p_i ≤ α/k keeps the family-wise
    error ≤ α. ``multiplicity`` lets one entry of ``min_attainable`` stand for that many
    hypotheses. Returns (k, min(1, k·p) for ``p_values``).
    """
    m = np.asarray(min_attainable, dtype=float)
    w = np.ones(m.size) if multiplicity is None else np.asarray(multiplicity, dtype=float)
    order = np.argsort(m)
    m_sorted = m[order]
    # cum[i]: hypotheses among the i smallest; summed in place (millions of grid entries)
    cum = np.zeros(m.size + 1)
    np.cumsum(w[order], out=cum[1:])
    del order

    def testable(k: int) -> float:
        return float(cum[np.searchsorted(m_sorted, alpha / k, side="right")])

    # m(k) - k decreases strictly in k: bisect for the first k with m(k) <= k
    low, high = 1, max(1, int(math.ceil(cum[-1])))
    while low < high:
        mid = (low + high) // 2
        if testable(mid) <= mid:
            high = mid
        else:
            low = mid + 1
    p = np.asarray(p_values, dtype=float)
    return low, np.minimum(1.0, p * low)


@dataclass(frozen=True)
class NearDuplicateCluster:
    """Rows of one group whose answers match one centre pattern on ≥ threshold of items."""

    group: str
    centre: tuple[float, ...]        # the centre pattern's answers
    size: int                        # rows of the group within the radius of the centre
    group_size: int                  # complete rows in the group
    expected: float                  # size expected from the pattern's frequency among all rows
    p_value: float                   # hypergeometric upper tail (exact label-permutation null)
    p_adjusted: float                # Tarone-Bonferroni
    rows: tuple[int, ...]            # positional indices into the items array


@dataclass(frozen=True)
class NearDuplicateScan:
    """All groups' near-duplicate clusters and the family they were tested in."""

    clusters: tuple[NearDuplicateCluster, ...]   # significant ones, strongest first, overlaps merged
    radius: int                                  # mismatches allowed within a cluster
    hypotheses: int                              # (group, pattern) pairs in the family
    tarone_k: int                                # Tarone's correction factor
    tested: int                                  # (group, pattern) pairs with ≥ 2 rows in the ball


def _ball_counts_at_centres(count_gp: sparse.csr_matrix, ball: sparse.csr_matrix
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x_gp = Σ_{q in ball(p)} count_gp[g, q] wherever centre pattern p itself occurs in group
    g, as (g, p, x_gp) in the order of `(count_gp @ ball).multiply(count_gp != 0).tocoo()`.

    The whole product holds every group × pattern within reach of any of the group's rows
    (15 million entries and 0.5 GB with scipy's size bound at a million responses), so it is
    formed a block of groups at a time, each block at most _PAIRS_PER_CHUNK product terms
    (or one group). scipy forms each row of a product on its own, so the blocks give the
    same entries in the same order. The mask (elementwise product, not fancy indexing)
    lists a row in reverse product order unless the matrix is sorted; a sorted row holds
    at most one centre, so blocks and whole matrix agree on that too.
    """
    present = count_gp.copy()
    present.data[:] = 1.0
    # product terms before each group: the ball sizes of the patterns of the groups before it
    terms = np.concatenate([[0], np.cumsum(np.diff(ball.indptr)[count_gp.indices])])[count_gp.indptr]
    groups, centres, values = [], [], []
    lo = 0
    while lo < count_gp.shape[0]:
        hi = max(lo + 1, int(np.searchsorted(terms, terms[lo] + _PAIRS_PER_CHUNK, side="right")) - 1)
        block = (count_gp[lo:hi] @ ball).multiply(present[lo:hi]).tocoo()
        groups.append(block.row + lo)
        centres.append(block.col)
        values.append(block.data)
        lo = hi
    return np.concatenate(groups), np.concatenate(centres), np.concatenate(values)


def _min_attainable_grid(n: int, totals: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Smallest attainable p-value, P(X = min(T, n_g)), of every (T, n_g) pair, flattened row
    by row: Hypergeometric(n, T, n_g) puts its least tail mass at the top of its support.

    In blocks of rows: the log-gamma terms of a whole grid (2,705 × 723 at 1.06M responses)
    held ~0.2 GB of temporaries at once."""
    out = np.empty((totals.size, sizes.size))
    rows = max(1, _GRID_CELLS_PER_BLOCK // max(1, sizes.size))
    for lo in range(0, totals.size, rows):
        tt, gg = np.meshgrid(totals[lo:lo + rows], sizes, indexing="ij")
        out[lo:lo + rows] = np.exp(hypergeom_log_pmf(np.minimum(tt, gg), n, tt, gg))
    return out.reshape(-1)


def near_duplicate_clusters(items: np.ndarray | Sequence[Sequence[float]] | pd.DataFrame,
                            groups: Sequence[str] | np.ndarray, *, threshold: float = MPM_THRESHOLD,
                            alpha: float = 0.05, exclude_uniform: bool = True) -> NearDuplicateScan:
    """Is some answer pattern repeated (exactly or within the match threshold) in one group
    far more often than its frequency among all respondents explains?

    For each group g (agent, site, week) and each pattern p answered in g, x_gp = rows of g
    within Hamming distance r = ⌊K(1 − threshold)⌋ of p, T_p = such rows overall, n_g the
    group's rows, n all rows. If group labels carry no information about answers (labels
    exchangeable), x_gp ~ Hypergeometric(n, T_p, n_g) exactly, so
    p = P(X ≥ x_gp) = ``hypergeom.sf(x - 1, n, T_p, n_g)``. This is the peer baseline that
    genuine CSAT data need (Simmons et al. 2016): popular patterns (near all-top answers)
    are expected to repeat, so only repetition beyond their popularity counts.
    Multiplicity over every (group, pattern) pair by Tarone's (1990) discrete Bonferroni.
    Rows with all items equal are straight-lining, not copying, and are left out
    (``exclude_uniform``), as are incomplete rows. Clusters sharing most rows are
    merged into the most significant one.
    """
    x = _as_items(items)
    labels = np.asarray(groups, dtype=object)
    if labels.size != x.shape[0]:
        raise ValueError("groups must have one label per row of items")
    k = x.shape[1]
    radius = match_radius(k, threshold)
    usable = ~np.isnan(x).any(axis=1)
    if exclude_uniform and k:
        usable &= ~(x == x[:, :1]).all(axis=1)
    complete = np.flatnonzero(usable)
    empty = NearDuplicateScan((), radius, 0, 1, 0)
    if complete.size < 2 or k == 0:
        return empty
    codes, column_values = _column_factors(x, complete)
    levels = _level_counts(column_values)
    # from here on the answers are their codes: the answers themselves (80 MB at a million
    # responses by 10 items) go, unless the caller holds them
    del x
    weights = _radix_weights(levels)
    patterns, inverse, counts, code = _unique_patterns(codes, weights)
    del codes
    u = patterns.shape[0]
    group_names, group_of = label_codes(labels[complete])
    n, g = complete.size, group_names.size
    count_gp = sparse.csr_matrix((np.ones(n), (group_of, inverse)), shape=(g, u))
    ball = _ball_matrix(_neighbour_pairs(patterns, weights, code, radius), u)
    del code
    total = np.asarray(ball @ counts.astype(float)).reshape(-1)    # T_p: all rows within the radius
    n_g = np.bincount(group_of, minlength=g)
    cg, cp, x_at = _ball_counts_at_centres(count_gp, ball)
    xs = np.rint(x_at).astype(np.int64)
    # of the working matrices, the ball's members are all a cluster needs: the counts and
    # the ball's 1.0 entries (~50 MB at a million responses) go before the family is counted
    ball_start, ball_members = ball.indptr, ball.indices
    del x_at, count_gp, ball
    # handed back, not only freed: the C library keeps freed pages for reuse, and the family's
    # arrays below would sit on top of them (the audit's peak, 0.05-0.1 GB higher, was here)
    return_freed_memory()

    # the family: every group × every centre pattern; the smallest attainable p depends
    # only on (n_g, T_p), so hypotheses are counted by those pairs
    centre_total = total.astype(np.int64)
    t_values, t_mult = np.unique(centre_total, return_counts=True)
    g_values, g_mult = np.unique(n_g, return_counts=True)
    min_p = _min_attainable_grid(n, t_values, g_values)
    mult = np.outer(t_mult, g_mult).reshape(-1)

    keep = xs >= 2
    cg, cp, xs = cg[keep], cp[keep], xs[keep]
    k_factor, _ = tarone_bonferroni(np.zeros(0), min_p, alpha=alpha, multiplicity=mult)
    hypotheses = int(mult.sum())
    # P(X ≥ x) ≥ P(X = x): the tail is summed only where the point mass leaves it a chance
    # to be significant; elsewhere p stays an unreported lower bound above alpha / K
    p = np.exp(hypergeom_log_pmf(xs, n, total[cp], n_g[cg]))
    candidate = p * k_factor < alpha
    p[candidate] = stats.hypergeom.sf(xs[candidate] - 1, n, total[cp][candidate].astype(np.int64),
                                      n_g[cg][candidate])
    p_adj = np.minimum(1.0, p * k_factor)
    significant = np.flatnonzero(p_adj < alpha)
    significant = significant[np.lexsort((-xs[significant], p[significant]))]

    clusters: list[NearDuplicateCluster] = []
    claimed: dict[int, set[int]] = {}
    for s in significant:
        grp, pat = int(cg[s]), int(cp[s])
        members = ball_members[ball_start[pat]:ball_start[pat + 1]]
        in_group = np.flatnonzero(group_of == grp)
        rows_in = in_group[np.isin(inverse[in_group], members)]
        taken = claimed.setdefault(grp, set())
        if len(taken.intersection(rows_in.tolist())) > rows_in.size / 2:
            continue
        taken.update(rows_in.tolist())
        centre_values = tuple(float(column_values[j][patterns[pat, j]]) for j in range(k))
        clusters.append(NearDuplicateCluster(
            group=str(group_names[grp]), centre=centre_values, size=int(xs[s]), group_size=int(n_g[grp]),
            expected=float(n_g[grp] * total[pat] / n), p_value=float(p[s]), p_adjusted=float(p_adj[s]),
            rows=tuple(int(complete[r]) for r in rows_in)))
    return NearDuplicateScan(tuple(clusters), radius, hypotheses, int(k_factor), int(xs.size))


# --------------------------------------------------------------------------------------
# straight-lining, speeding, per-unit excess
# --------------------------------------------------------------------------------------
def straightlined(items: np.ndarray | Sequence[Sequence[float]] | pd.DataFrame, *,
                  min_items: int = 3) -> np.ndarray:
    """Does the respondent give the same answer to every item answered (zero variance),
    with at least `min_items` items answered? (METHODS §8.3; Meade & Craig 2012)."""
    x = _as_items(items)
    answered = (~np.isnan(x)).sum(axis=1)
    if not x.shape[1]:
        return answered >= max(min_items, 1)
    # largest and smallest answer of each row, missing ones skipped (fmax/fmin), without a
    # filled copy of the whole grid (80 MB at a million respondents × 10 items)
    return (answered >= min_items) & (np.fmax.reduce(x, axis=1) == np.fmin.reduce(x, axis=1))


def longstring(items: np.ndarray | Sequence[Sequence[float]] | pd.DataFrame) -> np.ndarray:
    """Longest run of identical consecutive answers per respondent (Johnson 2005), items in
    column order; a missing answer ends a run and counts as no run."""
    x = _as_items(items)
    n, k = x.shape
    best = np.zeros(n, dtype=np.int64)
    run = np.zeros(n, dtype=np.int64)
    for j in range(k):
        answered = ~np.isnan(x[:, j])
        same = answered & (x[:, j] == x[:, j - 1]) if j else np.zeros(n, bool)
        run = np.where(answered, np.where(same, run + 1, 1), 0)
        best = np.maximum(best, run)
    return best


def speeders(durations: np.ndarray | Sequence[float], *, fraction: float = 0.3) -> tuple[np.ndarray, float]:
    """Which completions took less than `fraction` × the median completion time?

    Threshold (seconds) = fraction · median of the finite, positive durations (METHODS §8.4:
    0.3 is the strict panel-vendor rule, 0.5 the lenient one). Missing durations are not
    speeders. Returns (flags, threshold_s); threshold NaN when no duration is usable.
    """
    d = np.asarray(durations, dtype=float)
    usable = np.isfinite(d) & (d > 0)
    if not usable.any():
        return np.zeros(d.size, dtype=bool), float("nan")
    threshold = float(fraction * np.median(d[usable]))
    return np.isfinite(d) & (d < threshold), threshold


def excess_tests(successes: np.ndarray | Sequence[int], trials: np.ndarray | Sequence[int]) -> np.ndarray:
    """One-sided p that each unit's rate exceeds the rate of all other units pooled.

    Fisher's exact test of the 2×2 table [x, n − x; S − x, N − n − S + x] with
    alternative 'greater': p = P(X ≥ x), X ~ Hypergeometric(N, S, n). Units: probability.
    """
    s = np.asarray(successes, dtype=np.int64)
    t = np.asarray(trials, dtype=np.int64)
    total_n, total_s = int(t.sum()), int(s.sum())
    return np.minimum(1.0, stats.hypergeom.sf(s - 1, total_n, total_s, t))


def holm_adjust(p_values: np.ndarray | Sequence[float]) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (family-wise error): the i-th smallest p is
    multiplied by (m − i + 1), then made monotone and capped at 1. Same numbers as
    statsmodels ``multipletests(method='holm')``, without its per-call garbage collection."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1)))
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


def bh_adjust(p_values: np.ndarray | Sequence[float]) -> np.ndarray:
    """Benjamini & Hochberg (1995) adjusted p-values (false discovery rate), by scipy
    ``false_discovery_control(method='bh')``."""
    p = np.asarray(p_values, dtype=float)
    return p.copy() if p.size == 0 else stats.false_discovery_control(p, method="bh")


@dataclass(frozen=True)
class ExcessTest:
    """Per unit: flagged rows observed and expected from the strata, and the one-sided p."""

    labels: tuple[str, ...]
    observed: tuple[int, ...]
    trials: tuple[int, ...]
    expected: tuple[float, ...]
    p_values: tuple[float, ...]


def hypergeom_log_pmf(k: np.ndarray, total: np.ndarray | int, successes: np.ndarray | int,
                      draws: np.ndarray | int) -> np.ndarray:
    """ln P(X = k) for X ~ Hypergeometric(N = total, S = successes, n = draws), elementwise,
    from log binomial coefficients: ln C(S, k) + ln C(N − S, n − k) − ln C(N, n) (gammaln).

    scipy's ``hypergeom.pmf`` evaluates the same with a per-element beta-function path that
    took 20 s on a 4,000 × 2,000 grid; this is one vectorised pass, relative error ~1e-12
    for N up to millions. `k` must lie in the support.
    """
    def log_choose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return special.gammaln(a + 1.0) - special.gammaln(b + 1.0) - special.gammaln(a - b + 1.0)

    k, big_n, big_s, n = (np.asarray(v, dtype=float) for v in (k, total, successes, draws))
    return log_choose(big_s, k) + log_choose(big_n - big_s, n - k) - log_choose(big_n, n)


def _hypergeom_pmf_rows(total: int, successes: int, draws: np.ndarray) -> list[np.ndarray]:
    """P(X = k), k = 0..min(n, S), of Hypergeometric(N, S, n) for every n in `draws`.

    From log binomial coefficients, ln C(S, k) + ln C(N − S, n − k) − ln C(N, n) (gammaln),
    on one flat array over every unit's own support: thousands of units cost one numpy pass
    instead of a units × largest-support grid of scipy calls. Relative error ~1e-12 for N up
    to millions (the cancellation in the log-gamma sums); 0 outside the support.
    """
    draws = np.asarray(draws, dtype=np.int64)
    sizes = np.minimum(draws, successes) + 1
    owner = np.repeat(np.arange(draws.size), sizes)
    k = np.arange(owner.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    n = draws[owner]
    ok = (n - k) <= (total - successes)
    with np.errstate(invalid="ignore"):
        log_pmf = hypergeom_log_pmf(k, total, successes, np.where(ok, n, k))
    pmf = np.where(ok, np.exp(log_pmf), 0.0)
    return np.split(pmf, np.cumsum(sizes)[:-1])


def stratified_excess_tests(flags: np.ndarray | Sequence[bool], units: Sequence[str] | np.ndarray | pd.Series,
                            strata: Sequence[str] | np.ndarray | pd.Series | None = None) -> ExcessTest:
    """Does each unit have more flagged rows than the other units, within strata?

    Exact conditional test of each unit against all other units pooled, stratified by
    `strata` (e.g. the score: a happier agent's customers answer all-top more often, which
    is not a flaw). Within stratum s the unit's flagged count is Hypergeometric(N_s, S_s,
    n_us) given the margins; strata are independent, so the unit's total X = Σ_s X_s has
    the convolution of those distributions and p = P(X ≥ x) (the exact one-sided
    stratified test behind the Mantel-Haenszel statistic; Mantel & Haenszel 1959).
    expected = Σ_s n_us·S_s/N_s. Without strata it is one-sided Fisher (`excess_tests`).
    """
    f = np.asarray(flags, dtype=bool)
    st = np.zeros(f.size, dtype=np.int64) if strata is None else label_codes(strata)[1]
    labels, unit_of = label_codes(units)
    n_strata = int(st.max()) + 1 if st.size else 0
    # rows and flagged rows per unit × stratum cell, counted by bincount (np.add.at is slow)
    cell = unit_of * n_strata + st
    n_us = np.bincount(cell, minlength=labels.size * n_strata).reshape(labels.size, n_strata)
    x_us = np.bincount(cell[f], minlength=labels.size * n_strata).reshape(labels.size, n_strata)
    big_n, big_s = n_us.sum(axis=0), x_us.sum(axis=0)
    pmfs = [_hypergeom_pmf_rows(int(big_n[s]), int(big_s[s]), n_us[:, s]) for s in range(n_strata)]
    observed, expected, p = [], [], []
    for i in range(labels.size):
        dist = np.ones(1)
        for s in range(n_strata):
            if n_us[i, s] == 0 or big_s[s] == 0:
                continue
            dist = np.convolve(dist, pmfs[s][i])
        x = int(x_us[i].sum())
        observed.append(x)
        expected.append(float(np.sum(n_us[i] * np.divide(big_s, big_n, out=np.zeros(n_strata), where=big_n > 0))))
        p.append(float(min(1.0, dist[x:].sum())))
    return ExcessTest(tuple(str(v) for v in labels), tuple(observed), tuple(int(v) for v in n_us.sum(axis=1)),
                      tuple(expected), tuple(p))


def repeat_raters(customer: Sequence[str] | np.ndarray | pd.Series, unit: Sequence[str] | np.ndarray | pd.Series,
                  times: Sequence | np.ndarray | pd.Series | None = None, *, min_responses: int = 4,
                  window_days: float = 30.0) -> np.ndarray:
    """Which responses belong to a customer who rated the same unit at least `min_responses`
    times within `window_days` (any window; without times, in the whole file)?

    A rule for ballot stuffing when the interactions table cannot say how many contacts
    the customer really had with that unit (METHODS §8.1 (c)). Customer and unit ids are
    compared as text; missing ones never match.
    """
    cust, un = _positional(customer, object), _positional(unit, object)
    n = cust.size
    flags = np.zeros(n, dtype=bool)
    ok = (cust.notna() & un.notna()).to_numpy().copy()
    if times is None:
        t = np.zeros(n)
        window = np.inf
    else:
        ts = pd.to_datetime(_positional(times), utc=True, errors="coerce")
        t = (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)
        ok &= np.isfinite(t)
        window = window_days * 86400.0
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return flags
    # one integer per (customer, unit) pair: hashing two columns, not a million joined strings
    cust_code = pd.factorize(cust.iloc[rows].astype(str))[0]
    unit_code = pd.factorize(un.iloc[rows].astype(str))[0]
    pair = pd.factorize(cust_code * (int(unit_code.max()) + 1) + unit_code)[0]
    busy = np.bincount(pair)[pair] >= min_responses
    rows, pair, t = rows[busy], pair[busy], t[rows[busy]]
    order = np.lexsort((t, pair))
    rows, pair, t = rows[order], pair[order], t[order]
    # the end of each response's window within its pair, by one search over (pair, time):
    # times become ranks among the distinct times, so the pair can be the high digit
    values = np.unique(t)
    span = values.size + 1
    starts_key = pair * span + np.searchsorted(values, t)
    reach_key = pair * span + np.searchsorted(values, t + window, side="right") - 1
    ends = np.searchsorted(starts_key, reach_key, side="right")
    first = np.flatnonzero(ends - np.arange(rows.size) >= min_responses)
    # every response inside a window that holds min_responses of them
    depth = np.cumsum(np.bincount(first, minlength=rows.size + 1)
                      - np.bincount(ends[first], minlength=rows.size + 1))
    flags[rows[depth[:-1] > 0]] = True
    return flags


def _positional(values: Sequence | np.ndarray | pd.Series, dtype: type | None = None) -> pd.Series:
    """`values` as a Series on positions 0..n-1: a Series as it is (a million text ids are
    not copied to Python objects), anything else through `np.asarray(values, dtype)`."""
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    return pd.Series(np.asarray(values, dtype=dtype))


# --------------------------------------------------------------------------------------
# timing: clock offsets and bursts
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClockOffset:
    """Could a constant clock offset (time zone, DST) explain the early responses?"""

    explained: bool
    offset_s: float | None          # the quarter-hour offset tried (seconds), None if none fits
    ks_p_value: float | None        # shifted early lags vs genuine short lags (two-sample KS)
    early: int


def clock_offset(lags_s: np.ndarray | Sequence[float], *, tolerance_s: float = 120.0,
                 max_offset_s: float = 14 * 3600.0, alpha: float = 0.01) -> ClockOffset:
    """Are the responses "submitted before the interaction" explained by a constant offset
    between the two clocks (METHODS §8.5)?

    If one system records times h too late (a time zone written as UTC, a DST hour), every
    affected lag is true lag − h: the early lags lie in [−h, 0) and, shifted by +h, look
    like the head of the genuine lag distribution. Test: h = the smallest multiple of 15
    minutes (≤ 14 h, the largest UTC offset) with all early lags ≥ −h − tolerance; then a
    two-sample Kolmogorov-Smirnov test of (early lags + h) against the non-early lags below
    h + tolerance. Explained when such an h exists and KS p ≥ alpha (1 %: rows are called
    impossible only when the offset story is clearly rejected; the reference mixes all
    channels' lags, so a shift confined to one channel fits it only roughly). Units: seconds.
    """
    lag = np.asarray(lags_s, dtype=float)
    lag = lag[np.isfinite(lag)]
    early = lag[lag < -tolerance_s]
    if early.size == 0:
        return ClockOffset(True, None, None, 0)
    quarter = 900.0
    h = quarter * math.ceil(max(quarter, -early.min() - tolerance_s) / quarter)
    if h > max_offset_s:
        return ClockOffset(False, None, None, int(early.size))
    reference = lag[(lag >= -tolerance_s) & (lag <= h + tolerance_s)]
    if reference.size < 5 or early.size < 3:
        return ClockOffset(False, h, None, int(early.size))
    p = float(stats.ks_2samp(early + h, reference).pvalue)
    return ClockOffset(p >= alpha, h, p, int(early.size))


@dataclass(frozen=True)
class ScanWindow:
    """The most crowded window: count and the positions (in sorted order) it spans."""

    count: int
    start: float
    end: float
    first: int                       # index into the sorted times


def scan_statistic(times: np.ndarray | Sequence[float], window: float) -> ScanWindow:
    """Scan statistic S_w: the largest number of events in any closed window [t, t + w]
    (Naus 1965). Windows start at an event, which is where the maximum is attained.
    Units: those of `times` and `window`."""
    t = np.sort(np.asarray(times, dtype=float))
    if t.size == 0:
        return ScanWindow(0, float("nan"), float("nan"), 0)
    counts = np.searchsorted(t, t + window, side="right") - np.arange(t.size)
    i = int(np.argmax(counts))
    return ScanWindow(int(counts[i]), float(t[i]), float(t[i + counts[i] - 1]), i)


def _batch_scan(sims: np.ndarray, window: float, rows: int) -> Iterator[np.ndarray]:
    """Scan statistic of each row of a (B × n) array of event times, `rows` rows at a time:
    sorting is most of the cost, and a sequential test may stop after the first rows."""
    lowest = sims.min()
    span = float(sims.max() - lowest) + 2.0 * window + 1.0
    for start in range(0, sims.shape[0], rows):
        stop = min(start + rows, sims.shape[0])
        # the rows end to end in one sorted array, row r shifted by r·span so that no window
        # reaches into the next row; r counts over the whole batch, so the shifted times (and
        # their rounding) do not depend on `rows`
        block = sims[start:stop] - lowest + span * np.arange(start, stop)[:, None]
        block.sort(axis=1)
        yield _window_counts(block.reshape(-1), window).reshape(block.shape).max(axis=1)


def _window_counts(flat: np.ndarray, window: float) -> np.ndarray:
    """Events in the closed window [t_i, t_i + window] from each event i of the sorted
    times `flat`: exactly `searchsorted(flat, flat + window, "right") − i`.

    Counted by stepping forward while the next event is still inside, each step touching
    only the windows still growing: simulated days are sparse (most windows hold one or
    two responses), so a few passes replace a binary search per event (over 2,000 units
    at 1M responses, 0.9 s of searching → 0.4 s). Windows still growing after
    `_WINDOW_STEPS` steps get the binary search, so a crowded day costs no more than before."""
    reach = flat + window
    counts = np.ones(flat.size, dtype=np.int64)
    # the first step over every window at once: nine in ten stop there
    growing = np.flatnonzero(flat[1:] <= reach[:-1])
    for step in range(2, _WINDOW_STEPS + 1):
        counts[growing] += 1
        growing = growing[growing + step < flat.size]
        growing = growing[flat[growing + step] <= reach[growing]]
        if growing.size == 0:
            return counts
    counts[growing] = np.searchsorted(flat, reach[growing], side="right") - growing
    return counts


@dataclass(frozen=True)
class BurstTest:
    """Scan-statistic test of one set of arrival times."""

    window: ScanWindow
    p_value: float
    n_simulations: int
    null_mean: float
    null_q99: float
    null: str


def burst_test(submitted_s: np.ndarray | Sequence[float], window_s: float, rng: np.random.Generator, *,
               interaction_s: np.ndarray | Sequence[float] | None = None,
               pool_s: np.ndarray | Sequence[float] | None = None,
               max_simulations: int = 9_999, stop_after: int = 20, batch: int = 500) -> BurstTest:
    """Are more responses packed into one window of `window_s` seconds than the unit's own
    survey process explains?

    Statistic: the scan statistic S_w of the submission times (Naus 1965). Null (Monte
    Carlo; Glaz, Naus & Wallenstein 2001), never uniform time, because responses follow
    interaction volume (weekdays, business hours):
    * with ``interaction_s``: submission = interaction time + lag, with the unit's own lags
      randomly re-paired with its own interaction times (a permutation test of "lags do not
      depend on when the interaction happened"; keeps the unit's volume pattern and lag
      distribution, destroys co-ordinated submission);
    * else with ``pool_s``: the unit's n times drawn from the pool
      (with replacement; e.g. all units' submission times: the peers' arrival pattern).
    p = (1 + #{S_sim ≥ S_obs})/(B + 1), with Besag & Clifford's (1991) sequential stop: once
    `stop_after` simulations reach S_obs after l of them, p = stop_after / l (valid, and cheap
    for ordinary units). Units: seconds.
    """
    t = np.asarray(submitted_s, dtype=float)
    observed = scan_statistic(t, window_s)
    n = t.size
    if interaction_s is not None:
        base = np.asarray(interaction_s, dtype=float)
        lags = t - base
        null = "interaction times + own lags, re-paired"

        def draw(size: int) -> np.ndarray:
            return base[None, :] + rng.permuted(np.broadcast_to(lags, (size, n)), axis=1)
    elif pool_s is not None:
        pool = np.asarray(pool_s, dtype=float)
        null = "peers' submission times"
        if pool.size == 0:
            raise ValueError("the pool of null arrival times is empty")

        def draw(size: int) -> np.ndarray:
            return rng.choice(pool, size=(size, n), replace=True)
    else:
        raise ValueError("burst_test needs interaction_s (preferred) or pool_s for its null")
    if n < 2:
        return BurstTest(observed, 1.0, 0, float(n), float(n), null)
    done = exceed = 0
    scanned = []
    # an ordinary unit reaches `stop_after` exceedances within a few dozen simulations:
    # batches start small and double, so thousands of units do not each simulate `batch`
    size = 4 * stop_after
    while done < max_simulations:
        size = min(size, batch, max_simulations - done)
        # the whole batch is drawn, so that the random stream does not depend on where the test
        # stops, but scanned `stop_after` rows at a time: an ordinary unit stops after the first
        for sims in _batch_scan(draw(size), window_s, stop_after):
            hits = np.flatnonzero(sims >= observed.count)
            if exceed + hits.size >= stop_after:
                scanned.append(sims[:int(hits[stop_after - exceed - 1]) + 1])
                values = np.concatenate(scanned)
                return BurstTest(observed, stop_after / values.size, values.size, float(values.mean()),
                                 float(np.quantile(values, 0.99)), null)
            exceed += hits.size
            scanned.append(sims)
        done += size
        size *= 2
    values = np.concatenate(scanned)
    return BurstTest(observed, (1.0 + exceed) / (done + 1.0), done, float(values.mean()),
                     float(np.quantile(values, 0.99)), null)
