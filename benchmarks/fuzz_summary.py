"""How many fuzz examples does CI run, and how does each end? (issue 6)

Runs the fuzz tests of tests/test_fuzz.py exactly as CI does (same derandomised examples),
counting the outcome of every example: a valid report ("report"), a balanced loader ledger
("loaded"), or a clear InputError by kind ("error: <message with particulars blanked>").
Any other end fails the test, and this script with it.

    python benchmarks/fuzz_summary.py            # from the repository root
"""
from __future__ import annotations

import sys
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import test_fuzz as fuzz  # noqa: E402  (the tests live outside the package)


def main() -> int:
    warnings.simplefilter("ignore")         # statsmodels' notes on degenerate fits are not outcomes
    tallies: dict[str, Counter] = {}
    timings: dict[str, float] = {}
    current: Counter = Counter()

    def record(value: str, payload: str = "") -> None:
        current[value] += 1

    fuzz.event = record
    tests = sorted(name for name in dir(fuzz) if name.startswith("test_")
                   and hasattr(getattr(fuzz, name), "hypothesis"))
    for name in tests:
        current.clear()
        start = time.perf_counter()
        getattr(fuzz, name)()
        timings[name], tallies[name] = time.perf_counter() - start, Counter(current)
    current.clear()
    start = time.perf_counter()
    for case in fuzz.corpus().values():
        record(fuzz.audit_outcome(case.responses, case.population, case.claim))
    timings["hostile-file corpus"], tallies["hostile-file corpus"] = time.perf_counter() - start, Counter(current)

    total = Counter()
    for name, tally in tallies.items():
        print(f"{name}: {sum(tally.values())} examples, {timings[name]:.1f} s")
        for outcome, count in tally.most_common():
            print(f"    {count:5d}  {outcome}")
        # anything but an InputError is a success: a report, a balanced load, a date read right
        total.update("clear error" if k.startswith("error") or ": error" in k else "report"
                     for k in tally.elements())
    print(f"all: {sum(total.values())} examples: {total['report']} valid report/balanced load/date read, "
          f"{total['clear error']} clear InputError, 0 tracebacks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
