"""Calibration and power table of the engine's checks on seeded simulated audits.

    python benchmarks/calibration.py [--runs 200] [--interactions 3000]

For the clean process and each planted flaw, prints how often each check says fail and
how often it flags (warn or fail). Run by hand; `tests/test_calibration.py` asserts the limits.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit import run_audit  # noqa: E402
from audit.simulation import simulate_contact_center  # noqa: E402

CHECKS = ("data_quality", "sample_size", "response_rate", "response_rate_skew", "invitation_selectivity",
          "representativeness", "nonresponse_adjustment", "claim_significance")
SCENARIOS = {"clean": (), "selective_invitation": ("selective_invitation",),
             "channel_skew": ("channel_skew",), "happy_respond_more": ("happy_respond_more",)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--interactions", type=int, default=3000)
    args = parser.parse_args()
    print(f"{args.runs} seeded audits per scenario, {args.interactions} interactions each")
    print("cells: fail % / flagged (warn or fail) %")
    print("scenario".ljust(22) + "".join(c[:14].rjust(16) for c in CHECKS))
    for offset, (name, flaws) in enumerate(SCENARIOS.items()):
        counts = {c: Counter() for c in CHECKS}
        start = time.perf_counter()
        for i in range(args.runs):
            seed = 10_000 * (offset + 1) + i
            sim = simulate_contact_center(np.random.default_rng(seed), n_interactions=args.interactions, flaws=flaws)
            report = run_audit(sim.responses, sim.population, sim.claim, seed=seed, n_simulations=2000)
            for check in report.checks:
                if check.id in counts:
                    counts[check.id][check.status] += 1
        cells = "".join(f"{100 * counts[c]['fail'] / args.runs:5.1f} /{100 * (counts[c]['fail'] + counts[c]['warn']) / args.runs:5.1f}".rjust(16)
                        for c in CHECKS)
        print(name.ljust(22) + cells + f"   ({(time.perf_counter() - start) / args.runs:.2f} s/audit)")


if __name__ == "__main__":
    main()
