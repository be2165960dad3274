"""Time the maximum-percent-match computation on a large survey export.

    python benchmarks/near_duplicates.py [--rows 1000000] [--items 10] [--agents 500]
                                         [--seed 20240601] [--check-rows 200]

Answers come from the sample simulator's item model (audit.simulation: cumulative-logit
latent satisfaction, skewed 1-5 answers, every respondent answering every item), so the
share of repeated and near-repeated patterns is what a real CSAT export of that size
shows. Prints the wall time and the peak memory of `max_percent_match` and of
`near_duplicate_clusters` (the per-agent cluster test of the `near_duplicates` check,
with one planted block of 15 copies), and spot-checks exactness against brute force on a sample of rows. Run by hand; it is
not part of the test suite.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.integrity import max_percent_match, near_duplicate_clusters  # noqa: E402
from audit.simulation import simulate_contact_center  # noqa: E402


def realistic_items(rows: int, items: int, agents: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`rows` complete responses from the simulator (everyone invited and answering)."""
    sim = simulate_contact_center(np.random.default_rng(seed), n_interactions=rows, n_agents=agents,
                                  n_items=items, invite_rate=1.0, response_rate=1.0)
    x = sim.responses[[f"q_{j}" for j in range(1, items + 1)]].to_numpy(dtype=float, copy=True)
    return x, sim.responses["agent_id"].to_numpy()


def timed(label: str, func, *args, **kwargs):
    tracemalloc.start()
    start = time.perf_counter()
    result = func(*args, **kwargs)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label}: {elapsed:.2f} s, peak traced memory {peak / 2**20:.0f} MiB")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--check-rows", type=int, default=200, help="rows spot-checked against brute force")
    args = parser.parse_args()

    start = time.perf_counter()
    x, agents = realistic_items(args.rows, args.items, args.agents, args.seed)
    print(f"simulated {len(x):,} responses x {args.items} items in {time.perf_counter() - start:.1f} s")
    # plant one copied block (as the simulator's copied_answers flaw does) so that the
    # cluster test has something to find at this scale
    first_agent = np.flatnonzero(agents == agents[0])[:15]
    x[first_agent] = [5, 4, 5, 3, 5, 4, 5, 5, 2, 4][: x.shape[1]] + [4] * max(0, x.shape[1] - 10)
    print(f"planted 15 copies of one pattern for agent {agents[0]}")

    mpm = timed("max_percent_match", max_percent_match, x)
    values, counts = np.unique(mpm, return_counts=True)
    print("MPM distribution:", {f"{v:.2f}": int(c) for v, c in zip(values, counts)})
    print(f"share >= 0.85: {np.mean(mpm >= 0.85):.3f}; exact duplicates: {np.mean(mpm == 1.0):.3f}")

    scan = timed("near_duplicate_clusters (per agent)", near_duplicate_clusters, x, agents)
    print(f"clusters: {[(c.group, c.size, round(c.expected, 2), c.p_adjusted) for c in scan.clusters]}; "
          f"hypotheses {scan.hypotheses:,}, Tarone factor {scan.tarone_k:,}")

    rng = np.random.default_rng(args.seed)
    sample = np.concatenate([rng.choice(len(x), size=args.check_rows, replace=False),
                             np.argsort(mpm, kind="stable")[: args.check_rows // 4]])
    for i in sample:
        equal = (x == x[i]).sum(axis=1)
        equal[i] = -1
        if equal.max() / x.shape[1] != mpm[i]:
            raise SystemExit(f"row {i}: brute force {equal.max() / x.shape[1]} != {mpm[i]}")
    print(f"brute-force spot check of {sample.size} rows (incl. the least matched): equal")
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
